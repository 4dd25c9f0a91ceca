//! Unsolicited inbound TCP SYNs waiting out RFC 5382 REQ-4:
//!
//! > A NAT MUST NOT respond to an unsolicited inbound SYN packet for at least 6 seconds after
//! > the packet is received. If during this interval the NAT receives and translates an
//! > outbound SYN for the connection the NAT MUST silently drop the original unsolicited
//! > inbound SYN packet. Otherwise, the NAT SHOULD send an ICMP Port Unreachable error
//! > (Type 3, Code 3) for the original SYN.
//!
//! Each held SYN keeps only what the ICMP error quotes (its IP header and first 8 payload
//! bytes), not the buffer. Entries all share one timeout, so a FIFO is their LRU order; an entry
//! superseded by an outbound SYN is marked dead and its slot is reused when the FIFO reaches it.
//! Storage is fixed at start-up; a full table is a counted drop.

use crate::index::{hash64, Index};
use std::collections::VecDeque;

/// Bytes of the original SYN kept for the ICMP error (60-byte header max + 8).
pub const QUOTE_MAX: usize = 68;

/// The connection a held SYN belongs to, seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynKey {
    /// Public address (the SYN's destination).
    pub pub_ip: u32,
    /// Public port.
    pub pub_port: u16,
    /// Remote address (the SYN's source).
    pub remote_ip: u32,
    /// Remote port.
    pub remote_port: u16,
}

impl SynKey {
    fn hash(&self) -> u64 {
        hash64(
            (u64::from(self.pub_ip) << 32 | u64::from(self.remote_ip))
                ^ (u64::from(self.pub_port) << 16 | u64::from(self.remote_port))
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Held {
    key: SynKey,
    since_s: u32,
    live: bool,
    quote_len: u8,
    quote: [u8; QUOTE_MAX],
}

/// A held SYN whose time is up: send ICMP 3/3 quoting `quote`.
#[derive(Debug, Clone, Copy)]
pub struct Expired {
    /// The connection.
    pub key: SynKey,
    quote_len: u8,
    quote: [u8; QUOTE_MAX],
}

impl Expired {
    /// The original SYN's IP header and first 8 payload bytes.
    pub fn quote(&self) -> &[u8] {
        &self.quote[..usize::from(self.quote_len)]
    }
}

/// The table.
#[derive(Debug)]
pub struct SynHold {
    slab: Vec<Held>,
    free: Vec<u32>,
    index: Index,
    fifo: VecDeque<u32>,
}

impl SynHold {
    /// A table for `cap` held SYNs.
    pub fn new(cap: u32) -> Self {
        let empty = Held {
            key: SynKey::default(),
            since_s: 0,
            live: false,
            quote_len: 0,
            quote: [0; QUOTE_MAX],
        };
        Self {
            slab: vec![empty; cap as usize],
            free: (0..cap).rev().collect(),
            index: Index::with_capacity(cap),
            fifo: VecDeque::with_capacity(cap as usize),
        }
    }

    /// SYNs currently held.
    pub fn len(&self) -> u32 {
        self.index.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn find(&self, k: &SynKey) -> Option<u32> {
        self.index.find(k.hash(), |i| {
            let h = &self.slab[i as usize];
            h.live && h.key == *k
        })
    }

    /// Holds a SYN (`ip`: its IP datagram). `false` if the table is full. A SYN for a
    /// connection already held (a retransmission) refreshes nothing and reports `true`.
    pub fn hold(&mut self, k: SynKey, ip: &[u8], now_s: u32) -> bool {
        if self.find(&k).is_some() {
            return true;
        }
        let Some(i) = self.free.pop() else {
            return false;
        };
        let ihl = ip.first().map_or(20, |b| usize::from(b & 0x0f) * 4);
        let n = ip.len().min(ihl + 8).min(QUOTE_MAX);
        let h = &mut self.slab[i as usize];
        h.key = k;
        h.since_s = now_s;
        h.live = true;
        h.quote_len = u8::try_from(n).unwrap_or(0);
        h.quote[..n].copy_from_slice(&ip[..n]);
        self.index.insert(k.hash(), i);
        self.fifo.push_back(i);
        true
    }

    /// An outbound SYN for `k` was translated: drop the held inbound SYN silently. Returns
    /// whether one was held.
    pub fn supersede(&mut self, k: &SynKey) -> bool {
        let Some(i) = self.find(k) else { return false };
        self.index.remove(k.hash(), i);
        self.slab[i as usize].live = false;
        true
    }

    /// Pops at most `budget` entries held more than `hold_s` whole seconds (so at least
    /// `hold_s` real seconds: RFC 5382 REQ-4's "at least 6 seconds"); live ones are reported to
    /// `expired`.
    pub fn expire(
        &mut self,
        now_s: u32,
        hold_s: u32,
        budget: usize,
        mut expired: impl FnMut(Expired),
    ) {
        for _ in 0..budget {
            let Some(&i) = self.fifo.front() else { break };
            let h = self.slab[i as usize];
            if h.live && now_s.saturating_sub(h.since_s) <= hold_s {
                break;
            }
            self.fifo.pop_front();
            if h.live {
                self.index.remove(h.key.hash(), i);
                expired(Expired {
                    key: h.key,
                    quote_len: h.quote_len,
                    quote: h.quote,
                });
            }
            self.slab[i as usize].live = false;
            self.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(p: u16) -> SynKey {
        SynKey {
            pub_ip: 1,
            pub_port: p,
            remote_ip: 2,
            remote_port: 3,
        }
    }

    #[test]
    fn hold_expire_supersede() {
        let mut t = SynHold::new(2);
        let ip = [0x45u8; 40];
        assert!(t.hold(k(1), &ip, 10));
        assert!(t.hold(k(1), &ip, 11), "retransmission");
        assert!(t.hold(k(2), &ip, 11));
        assert!(!t.hold(k(3), &ip, 11), "full");
        assert!(t.supersede(&k(2)));
        let mut out = vec![];
        t.expire(16, 6, 10, |e| out.push(e.key));
        assert!(out.is_empty(), "not yet 6 s");
        t.expire(17, 6, 10, |e| out.push(e.key));
        assert_eq!(out, vec![k(1)]);
        assert_eq!(t.len(), 0);
        assert!(t.hold(k(3), &ip, 17));
        assert!(t.hold(k(4), &ip, 17), "superseded slot recycled");
    }
}
