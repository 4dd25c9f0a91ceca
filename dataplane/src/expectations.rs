//! ALG expectations: the child flows a worker has been told to expect (ARCHITECTURE.md "ALGs",
//! REFERENCE.md "ALG reference").
//!
//! An expectation is created from what an ALG parser returned (an FTP `PORT`, a `227` reply, a
//! TFTP `RRQ`) and lives on the worker that owns the master session. Two shapes:
//!
//! * **inbound**: the outside party opens the child (FTP active mode, a TFTP server's reply
//!   from its new port, the H.323 peer's H.245 connection or RTP to an announced address). Keyed by (protocol, public address, public port) with a wildcard
//!   remote port; it admits only the master's own remote address, never a third host.
//! * **outbound**: the subscriber opens the child (FTP passive mode). Keyed by (protocol,
//!   remote address, remote port) and the subscriber's address; nothing needs admitting, it
//!   only relates the new connection to its master (counted as used).
//!
//! Storage: a preallocated slab, a fixed-capacity [`Index`] and one [`Lru`] list in creation
//! order (the head is the oldest: evicted first when the table is full, expired first). No
//! allocation after construction.

use crate::index::{hash64, Index};
use crate::lru::Lru;

/// Which ALG created an expectation (selects its counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgKind {
    /// FTP (`PORT`, `EPRT`, `LPRT`, `227`, `228`, `229`).
    Ftp,
    /// TFTP (`RRQ`, `WRQ`).
    Tftp,
    /// H.323 (`h245Address`, H.245 `mediaChannel`/`mediaControlChannel`, RAS addresses); the
    /// child TCP connection gets this ALG channel when it arrives (`None`: a UDP child, or
    /// no inspection).
    H323(Option<alg::h323::H323Channel>),
    /// RTSP (`SETUP` and its 2xx reply: RTP and RTCP from the server).
    Rtsp,
    /// SIP: media of an SDP offer/answer, or (`register`) the registrar reaching the
    /// subscriber's registered Contact, which stays until the registration expires.
    Sip {
        /// The registration's expectation (not consumed by use).
        register: bool,
    },
}

/// No master (TFTP: the master is the request's own binding) / no reservation.
pub const NONE: u32 = u32::MAX;

/// One expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The ALG that created it.
    pub alg: AlgKind,
    /// IP protocol of the child.
    pub proto: u8,
    /// Opened by the outside party (`true`) or by the subscriber.
    pub inbound: bool,
    /// The outside party (always the master's remote address).
    pub remote_ip: u32,
    /// Its port; 0 = any (inbound expectations always have a wildcard remote port).
    pub remote_port: u16,
    /// Public address the outside party targets (inbound only).
    pub pub_ip: u32,
    /// Public port the outside party targets (inbound only).
    pub pub_port: u16,
    /// The subscriber's address.
    pub sub_ip: u32,
    /// The subscriber's port (inbound only; outbound children come from any port).
    pub in_port: u16,
    /// Local port block of a public port reserved for this expectation (no binding exists
    /// yet), or [`NONE`].
    pub reserved: u32,
    /// ALG session slot of the master, or [`NONE`].
    pub master: u32,
    /// Generation of that slot when the expectation was made.
    pub master_gen: u32,
    /// Expires at this second.
    pub expires_s: u32,
}

impl Expect {
    fn hash(&self) -> u64 {
        if self.inbound {
            ikey(self.proto, self.pub_ip, self.pub_port)
        } else {
            okey(self.proto, self.remote_ip, self.remote_port)
        }
    }
}

#[inline]
fn ikey(proto: u8, pub_ip: u32, pub_port: u16) -> u64 {
    hash64((1 << 56) | (u64::from(proto) << 48) | (u64::from(pub_ip) << 16) | u64::from(pub_port))
}

#[inline]
fn okey(proto: u8, remote_ip: u32, remote_port: u16) -> u64 {
    hash64(
        (2 << 56)
            | (u64::from(proto) << 48)
            | (u64::from(remote_ip) << 16)
            | u64::from(remote_port),
    )
}

/// Key of an inbound expectation by the subscriber's endpoint it admits to.
#[inline]
fn xkey(proto: u8, sub_ip: u32, in_port: u16) -> u64 {
    hash64((3 << 56) | (u64::from(proto) << 48) | (u64::from(sub_ip) << 16) | u64::from(in_port))
}

/// The table of one worker.
#[derive(Debug)]
pub struct ExpectTable {
    slots: Vec<Option<Expect>>,
    free: Vec<u32>,
    index: Index,
    /// Inbound expectations by the subscriber's endpoint (`xkey`): the subscriber's own first
    /// packet from that endpoint takes the reserved public port (see [`ExpectTable::find_reserved`]).
    by_inside: Index,
    lru: Lru,
    inbound: u32,
    outbound: u32,
}

impl ExpectTable {
    /// A table for at most `cap` expectations; all memory is allocated here.
    pub fn with_capacity(cap: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            free: (0..cap).rev().collect(),
            index: Index::with_capacity(cap),
            by_inside: Index::with_capacity(cap),
            lru: Lru::new(cap),
            inbound: 0,
            outbound: 0,
        }
    }

    /// Expectations held.
    pub fn len(&self) -> u32 {
        self.inbound + self.outbound
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inbound expectations held.
    #[inline]
    pub fn inbound_len(&self) -> u32 {
        self.inbound
    }

    /// Outbound expectations held.
    #[inline]
    pub fn outbound_len(&self) -> u32 {
        self.outbound
    }

    /// Whether no slot is free.
    pub fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// The expectation at `i`.
    pub fn get(&self, i: u32) -> Option<&Expect> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    /// The expectation at `i`, mutable (key fields must not change).
    pub fn get_mut(&mut self, i: u32) -> Option<&mut Expect> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// The oldest expectation.
    pub fn oldest(&self) -> Option<u32> {
        self.lru.oldest(0)
    }

    /// Stores `x`; `None` when the table is full (the caller evicts first).
    pub fn insert(&mut self, x: Expect) -> Option<u32> {
        let i = self.free.pop()?;
        self.index.insert(x.hash(), i);
        self.lru.push(i, 0);
        if x.inbound {
            self.by_inside.insert(xkey(x.proto, x.sub_ip, x.in_port), i);
            self.inbound += 1;
        } else {
            self.outbound += 1;
        }
        self.slots[i as usize] = Some(x);
        Some(i)
    }

    /// Moves `i` to the young end (it was refreshed).
    pub fn refresh(&mut self, i: u32, expires_s: u32) {
        if let Some(x) = self.get_mut(i) {
            x.expires_s = expires_s;
            self.lru.move_to_tail(i, 0, 0);
        }
    }

    /// Removes and returns the expectation at `i`.
    pub fn remove(&mut self, i: u32) -> Option<Expect> {
        let x = self.slots.get_mut(i as usize)?.take()?;
        self.index.remove(x.hash(), i);
        self.lru.unlink(i, 0);
        if x.inbound {
            self.by_inside.remove(xkey(x.proto, x.sub_ip, x.in_port), i);
            self.inbound -= 1;
        } else {
            self.outbound -= 1;
        }
        self.free.push(i);
        Some(x)
    }

    /// An identical expectation (same key, remote and subscriber endpoint), for refreshing
    /// instead of duplicating (a retransmitted `PORT` or `RRQ`).
    pub fn find_same(&self, x: &Expect) -> Option<u32> {
        self.index.find(x.hash(), |i| {
            self.get(i).is_some_and(|y| {
                y.inbound == x.inbound
                    && y.proto == x.proto
                    && y.remote_ip == x.remote_ip
                    && y.remote_port == x.remote_port
                    && y.pub_ip == x.pub_ip
                    && y.pub_port == x.pub_port
                    && y.sub_ip == x.sub_ip
                    && y.in_port == x.in_port
            })
        })
    }

    /// The inbound expectation a first packet from `src` to `pub_ip:pub_port` matches, and
    /// otherwise one for that public endpoint that names another remote (the packet is
    /// refused: never a third host).
    pub fn find_inbound(
        &self,
        proto: u8,
        pub_ip: u32,
        pub_port: u16,
        src: u32,
    ) -> (Option<u32>, Option<u32>) {
        let h = ikey(proto, pub_ip, pub_port);
        let endpoint = |y: &Expect| {
            y.inbound && y.proto == proto && y.pub_ip == pub_ip && y.pub_port == pub_port
        };
        let hit = self.index.find(h, |i| {
            self.get(i)
                .is_some_and(|y| endpoint(y) && y.remote_ip == src)
        });
        if hit.is_some() {
            return (hit, None);
        }
        (
            None,
            self.index.find(h, |i| self.get(i).is_some_and(endpoint)),
        )
    }

    /// The inbound expectation still holding a reserved public port for the subscriber
    /// endpoint `sub_ip:in_port`: when the subscriber sends from that endpoint first (an RTSP
    /// client punching its RTP port, a SIP phone sending RTP before the far end), its binding
    /// is made on that port, so the public endpoint the ALG announced is the one it uses.
    pub fn find_reserved(&self, proto: u8, sub_ip: u32, in_port: u16) -> Option<u32> {
        self.by_inside.find(xkey(proto, sub_ip, in_port), |i| {
            self.get(i).is_some_and(|y| {
                y.inbound
                    && y.proto == proto
                    && y.sub_ip == sub_ip
                    && y.in_port == in_port
                    && y.reserved != NONE
            })
        })
    }

    /// The outbound expectation a new connection from subscriber `src` to `dst:dport` matches.
    pub fn find_outbound(&self, proto: u8, dst: u32, dport: u16, src: u32) -> Option<u32> {
        self.index.find(okey(proto, dst, dport), |i| {
            self.get(i).is_some_and(|y| {
                !y.inbound
                    && y.proto == proto
                    && y.remote_ip == dst
                    && y.remote_port == dport
                    && y.sub_ip == src
            })
        })
    }

    /// Bytes of preallocated memory.
    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Expect>>()
            + self.free.capacity() * 4
            + self.index.memory()
            + self.by_inside.memory()
            + self.lru.memory()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn x(pub_port: u16, remote: u32) -> Expect {
        Expect {
            alg: AlgKind::Ftp,
            proto: 6,
            inbound: true,
            remote_ip: remote,
            remote_port: 0,
            pub_ip: 0xcb00_7101,
            pub_port,
            sub_ip: 0x6440_0002,
            in_port: 5000,
            reserved: NONE,
            master: NONE,
            master_gen: 0,
            expires_s: 100,
        }
    }

    #[test]
    fn inbound_match_refuses_other_hosts_and_keeps_creation_order() {
        let mut t = ExpectTable::with_capacity(2);
        let a = t.insert(x(40000, 7)).unwrap();
        let b = t.insert(x(40001, 7)).unwrap();
        assert!(t.insert(x(40002, 7)).is_none(), "full");
        assert_eq!(t.find_inbound(6, 0xcb00_7101, 40000, 7), (Some(a), None));
        assert_eq!(t.find_inbound(6, 0xcb00_7101, 40000, 8), (None, Some(a)));
        assert_eq!(t.find_inbound(17, 0xcb00_7101, 40000, 7), (None, None));
        assert_eq!(t.oldest(), Some(a));
        t.refresh(a, 200);
        assert_eq!(t.oldest(), Some(b));
        assert_eq!(t.find_same(&x(40001, 7)), Some(b));
        assert_eq!(t.remove(b).unwrap().pub_port, 40001);
        assert_eq!(t.len(), 1);
        assert_eq!(t.find_inbound(6, 0xcb00_7101, 40001, 7), (None, None));
    }
}
