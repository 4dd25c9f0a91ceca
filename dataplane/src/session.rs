//! Sessions: per-remote-endpoint state under a binding (ARCHITECTURE.md "Session model").
//!
//! A session exists where the translator needs to know the remote end: every TCP connection
//! (state tracking, RFC 5382 REQ-2/REQ-5), and UDP/ICMP flows when filtering is not
//! endpoint-independent (RFC 4787 REQ-8). Under endpoint-independent filtering, UDP and ICMP
//! need no sessions — the binding alone carries the timer — which keeps the common case at one
//! record per flow. Address-dependent filtering keys sessions by remote address only (remote
//! port 0); TCP additionally keeps an address "permit" (port 0) next to its full-tuple session
//! so a new inbound connection from a contacted host can be recognised.
//!
//! Storage mirrors the binding table: a preallocated slab, a tombstone-free [`Index`], per-class
//! [`Lru`] lists.

use crate::index::{hash64, Index};
use crate::lru::{Lru, NIL};

/// TCP flags seen on a session.
pub mod tcp {
    /// SYN seen outbound.
    pub const SYN_OUT: u8 = 0x01;
    /// SYN seen inbound.
    pub const SYN_IN: u8 = 0x02;
    /// FIN seen outbound.
    pub const FIN_OUT: u8 = 0x04;
    /// FIN seen inbound.
    pub const FIN_IN: u8 = 0x08;
    /// RST seen.
    pub const RST: u8 = 0x10;
    /// This entry is an address permit (address-dependent filtering), not a connection.
    pub const PERMIT: u8 = 0x80;

    /// Whether a connection with these flags is established (both SYNs, no FIN or RST).
    pub fn established(f: u8) -> bool {
        f & (SYN_OUT | SYN_IN) == (SYN_OUT | SYN_IN) && f & (FIN_OUT | FIN_IN | RST) == 0
    }
}

/// One session (20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Session {
    /// The binding it belongs to (the next free slot while the slot is free).
    pub binding: u32,
    /// Remote address.
    pub remote_ip: u32,
    /// Remote port (0 for ICMP, address-dependent entries and permits).
    pub remote_port: u16,
    /// TCP flags seen ([`tcp`]).
    pub tcp: u8,
    /// Timeout class (the LRU list it is on).
    pub class: u8,
    /// Last refresh, seconds.
    pub stamp: u32,
}

#[inline]
fn skey(binding: u32, remote_ip: u32, remote_port: u16) -> u64 {
    hash64(
        (u64::from(remote_ip) << 16 | u64::from(remote_port))
            ^ u64::from(binding).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    )
}

/// The table.
#[derive(Debug)]
pub struct SessionTable {
    slab: Vec<Session>,
    free_head: u32,
    index: Index,
    lru: Lru,
}

impl SessionTable {
    /// A table for at most `cap` sessions.
    pub fn with_capacity(cap: u32) -> Self {
        let mut slab = vec![Session::default(); cap as usize];
        for (i, s) in slab.iter_mut().enumerate() {
            s.binding = u32::try_from(i + 1)
                .ok()
                .filter(|&n| n < cap)
                .unwrap_or(NIL);
        }
        Self {
            slab,
            free_head: if cap > 0 { 0 } else { NIL },
            index: Index::with_capacity(cap),
            lru: Lru::new(cap),
        }
    }

    /// Sessions.
    pub fn len(&self) -> u32 {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots (the most sessions the table holds).
    pub fn capacity(&self) -> u32 {
        u32::try_from(self.slab.len()).unwrap_or(u32::MAX)
    }

    /// Whether the table is full.
    pub fn is_full(&self) -> bool {
        self.free_head == NIL
    }

    /// Bytes held.
    pub fn memory(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Session>()
            + self.index.memory()
            + self.lru.memory()
    }

    /// Finds a session.
    #[inline]
    pub fn find(&self, binding: u32, remote_ip: u32, remote_port: u16) -> Option<u32> {
        self.index.find(skey(binding, remote_ip, remote_port), |i| {
            let s = &self.slab[i as usize];
            s.binding == binding && s.remote_ip == remote_ip && s.remote_port == remote_port
        })
    }

    /// The session at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &Session {
        &self.slab[idx as usize]
    }

    /// The session at `idx`, mutable (key fields, class and stamp must not change).
    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> &mut Session {
        &mut self.slab[idx as usize]
    }

    /// Inserts a session (not already present) in `class`.
    pub fn insert(&mut self, s: Session, class: u8, now_s: u32) -> Option<u32> {
        if self.free_head == NIL {
            return None;
        }
        let idx = self.free_head;
        self.free_head = self.slab[idx as usize].binding;
        self.slab[idx as usize] = Session {
            class,
            stamp: now_s,
            ..s
        };
        self.index
            .insert(skey(s.binding, s.remote_ip, s.remote_port), idx);
        self.lru.push(idx, class);
        Some(idx)
    }

    /// Removes a session.
    pub fn remove(&mut self, idx: u32) -> Session {
        let s = self.slab[idx as usize];
        self.lru.unlink(idx, s.class);
        self.index
            .remove(skey(s.binding, s.remote_ip, s.remote_port), idx);
        self.slab[idx as usize].binding = self.free_head;
        self.free_head = idx;
        s
    }

    /// Refreshes a session in `class` (at most one list move per second).
    #[inline]
    pub fn touch(&mut self, idx: u32, class: u8, now_s: u32) {
        let s = &mut self.slab[idx as usize];
        if s.stamp == now_s && s.class == class {
            return;
        }
        let old = s.class;
        s.stamp = now_s;
        s.class = class;
        self.lru.move_to_tail(idx, old, class);
    }

    /// The oldest session of a class and its last refresh.
    pub fn oldest(&self, class: u8) -> Option<(u32, u32)> {
        self.lru
            .oldest(class)
            .map(|i| (i, self.slab[i as usize].stamp))
    }

    /// Class of a session.
    pub fn class(&self, idx: u32) -> u8 {
        self.slab[idx as usize].class
    }
}
