//! The binding table: endpoint-independent mappings (RFC 4787 REQ-1, RFC 5382 REQ-1)
//! `(protocol, subscriber address, inside port) <-> (public address, public port)`.
//!
//! Records live in a preallocated slab and are indexed twice (inside key and outside key) by
//! fixed-capacity [`Index`]es (8 bytes a slot, no tombstones), so neither inserting nor
//! deleting ever allocates. Expiry uses one intrusive
//! LRU list per timeout class (ARCHITECTURE.md "Expiry"): a packet moves its binding to the
//! tail at most once per second, and each poll reclaims a bounded number of expired heads —
//! no table walks.

use crate::index::{hash64, Index};

/// Sentinel index.
pub const NIL: u32 = u32::MAX;

/// Timeout classes, one LRU list each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TimeoutClass {
    /// UDP mapping.
    Udp = 0,
    /// TCP, established (no FIN/RST seen).
    TcpEstablished = 1,
    /// TCP after FIN or RST.
    TcpTransitory = 2,
    /// ICMP query.
    Icmp = 3,
}

/// Number of timeout classes.
pub const CLASSES: usize = 4;

/// Packs a lookup key: protocol, address, port.
#[inline]
pub fn key(proto: u8, addr: u32, port: u16) -> u64 {
    (u64::from(proto) << 48) | (u64::from(addr) << 16) | u64::from(port)
}

/// One binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// Subscriber (inside) address.
    pub sub_ip: u32,
    /// Public address.
    pub pub_ip: u32,
    /// Inside port / ICMP identifier.
    pub in_port: u16,
    /// Public port / identifier.
    pub pub_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Timeout class (index of its LRU list).
    pub class: u8,
    /// Subscriber index.
    pub subscriber: u32,
    /// Local port block the public port came from.
    pub block: u32,
    /// Last refresh, seconds on the worker clock.
    pub last_seen: u32,
    prev: u32,
    next: u32,
}

impl Binding {
    /// A new binding (not yet linked into any list).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sub_ip: u32,
        in_port: u16,
        pub_ip: u32,
        pub_port: u16,
        proto: u8,
        subscriber: u32,
        block: u32,
        now_s: u32,
    ) -> Self {
        Self {
            sub_ip,
            pub_ip,
            in_port,
            pub_port,
            proto,
            class: 0,
            subscriber,
            block,
            last_seen: now_s,
            prev: NIL,
            next: NIL,
        }
    }
}

/// The table.
#[derive(Debug)]
pub struct BindingTable {
    slab: Vec<Binding>,
    free_head: u32,
    by_inside: Index,
    by_outside: Index,
    heads: [u32; CLASSES],
    tails: [u32; CLASSES],
    len: u32,
    cap: u32,
}

impl BindingTable {
    /// A table for at most `cap` bindings; all memory is allocated here.
    pub fn with_capacity(cap: u32) -> Self {
        let n = cap as usize;
        let mut slab = Vec::with_capacity(n);
        for i in 0..cap {
            let mut b = Binding::new(0, 0, 0, 0, 0, 0, 0, 0);
            b.next = if i + 1 < cap { i + 1 } else { NIL };
            slab.push(b);
        }
        Self {
            slab,
            free_head: if cap > 0 { 0 } else { NIL },
            by_inside: Index::with_capacity(cap),
            by_outside: Index::with_capacity(cap),
            heads: [NIL; CLASSES],
            tails: [NIL; CLASSES],
            len: 0,
            cap,
        }
    }

    /// Number of bindings.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the table is full.
    pub fn is_full(&self) -> bool {
        self.len >= self.cap
    }

    /// Looks up by inside key.
    #[inline]
    pub fn find_inside(&self, k: u64) -> Option<u32> {
        self.by_inside.find(hash64(k), |i| {
            let b = &self.slab[i as usize];
            key(b.proto, b.sub_ip, b.in_port) == k
        })
    }

    /// Looks up by outside key.
    #[inline]
    pub fn find_outside(&self, k: u64) -> Option<u32> {
        self.by_outside.find(hash64(k), |i| {
            let b = &self.slab[i as usize];
            key(b.proto, b.pub_ip, b.pub_port) == k
        })
    }

    /// Bytes held by the slab and both indexes.
    pub fn memory(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Binding>()
            + self.by_inside.memory()
            + self.by_outside.memory()
    }

    /// The binding at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &Binding {
        &self.slab[idx as usize]
    }

    /// Inserts `b` in class `class`; `None` if the table is full.
    pub fn insert(&mut self, mut b: Binding, class: TimeoutClass) -> Option<u32> {
        if self.free_head == NIL {
            return None;
        }
        let idx = self.free_head;
        self.free_head = self.slab[idx as usize].next;
        b.class = class as u8;
        b.prev = NIL;
        b.next = NIL;
        self.by_inside
            .insert(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .insert(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        self.slab[idx as usize] = b;
        self.link_tail(idx);
        self.len += 1;
        Some(idx)
    }

    /// Removes the binding at `idx` and returns it.
    pub fn remove(&mut self, idx: u32) -> Binding {
        self.unlink(idx);
        let b = self.slab[idx as usize];
        self.by_inside
            .remove(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .remove(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        self.slab[idx as usize].next = self.free_head;
        self.free_head = idx;
        self.len -= 1;
        b
    }

    /// Refreshes a binding: moves it to its class's tail (at most once per second) and
    /// changes class if asked.
    #[inline]
    pub fn touch(&mut self, idx: u32, now_s: u32, class: TimeoutClass) {
        let b = &self.slab[idx as usize];
        if b.last_seen == now_s && b.class == class as u8 {
            return;
        }
        self.unlink(idx);
        let b = &mut self.slab[idx as usize];
        b.last_seen = now_s;
        b.class = class as u8;
        self.link_tail(idx);
    }

    /// The oldest binding of a class, if any.
    pub fn oldest(&self, class: TimeoutClass) -> Option<u32> {
        let h = self.heads[class as usize];
        (h != NIL).then_some(h)
    }

    fn link_tail(&mut self, idx: u32) {
        let c = self.slab[idx as usize].class as usize;
        let t = self.tails[c];
        self.slab[idx as usize].prev = t;
        self.slab[idx as usize].next = NIL;
        if t == NIL {
            self.heads[c] = idx;
        } else {
            self.slab[t as usize].next = idx;
        }
        self.tails[c] = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let b = self.slab[idx as usize];
        let c = b.class as usize;
        if b.prev == NIL {
            self.heads[c] = b.next;
        } else {
            self.slab[b.prev as usize].next = b.next;
        }
        if b.next == NIL {
            self.tails[c] = b.prev;
        } else {
            self.slab[b.next as usize].prev = b.prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(port: u16, now: u32) -> Binding {
        Binding::new(0x6440_0002, port, 0xcb00_7101, port + 1000, 17, 0, 0, now)
    }

    #[test]
    fn insert_find_remove_reuse() {
        let mut t = BindingTable::with_capacity(2);
        let a = t.insert(b(1, 0), TimeoutClass::Udp).unwrap();
        let c = t.insert(b(2, 0), TimeoutClass::Udp).unwrap();
        assert!(t.insert(b(3, 0), TimeoutClass::Udp).is_none());
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), Some(a));
        assert_eq!(t.find_outside(key(17, 0xcb00_7101, 1002)), Some(c));
        t.remove(a);
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), None);
        assert!(t.insert(b(3, 0), TimeoutClass::Udp).is_some());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn lru_order_follows_touches() {
        let mut t = BindingTable::with_capacity(8);
        let x = t.insert(b(1, 0), TimeoutClass::Udp).unwrap();
        let y = t.insert(b(2, 0), TimeoutClass::Udp).unwrap();
        assert_eq!(t.oldest(TimeoutClass::Udp), Some(x));
        t.touch(x, 5, TimeoutClass::Udp);
        assert_eq!(t.oldest(TimeoutClass::Udp), Some(y));
        t.touch(y, 6, TimeoutClass::Icmp);
        assert_eq!(t.oldest(TimeoutClass::Udp), Some(x));
        assert_eq!(t.oldest(TimeoutClass::Icmp), Some(y));
        t.remove(x);
        assert_eq!(t.oldest(TimeoutClass::Udp), None);
    }
}
