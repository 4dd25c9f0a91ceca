//! The binding table: endpoint-independent mappings (RFC 4787 REQ-1, RFC 5382 REQ-1)
//! `(protocol, subscriber address, inside port) <-> (public address, public port)`.
//!
//! Records live in a preallocated slab and are indexed twice (inside key and outside key) by
//! fixed-capacity [`Index`]es (8 bytes a slot, no tombstones), so neither inserting nor
//! deleting ever allocates. Expiry uses the per-class [`Lru`] lists (ARCHITECTURE.md
//! "Expiry"): no table walks.

use crate::index::{hash64, Index};
use crate::lru::Lru;

/// Packs a lookup key: protocol, address, port.
#[inline]
pub fn key(proto: u8, addr: u32, port: u16) -> u64 {
    (u64::from(proto) << 48) | (u64::from(addr) << 16) | u64::from(port)
}

/// One binding (36 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// Subscriber index.
    pub subscriber: u32,
    /// Local port block the public port came from.
    pub block: u32,
    /// Sessions under this binding (it is not expired while any exist).
    pub sessions: u32,
    /// Last refresh, seconds (mirrors the LRU stamp so the per-packet "already refreshed this
    /// second?" check reads the record the lookup already brought into cache).
    pub stamp: u32,
    /// Timeout class (mirrors the LRU list it is on).
    pub class: u8,
}

impl Binding {
    /// A new binding.
    pub fn new(
        sub_ip: u32,
        in_port: u16,
        pub_ip: u32,
        pub_port: u16,
        proto: u8,
        subscriber: u32,
        block: u32,
    ) -> Self {
        Self {
            sub_ip,
            pub_ip,
            in_port,
            pub_port,
            proto,
            subscriber,
            block,
            sessions: 0,
            stamp: 0,
            class: 0,
        }
    }
}

/// The table.
#[derive(Debug)]
pub struct BindingTable {
    slab: Vec<Binding>,
    free: Vec<u32>,
    by_inside: Index,
    by_outside: Index,
    lru: Lru,
    cap: u32,
}

impl BindingTable {
    /// A table for at most `cap` bindings; all memory is allocated here.
    pub fn with_capacity(cap: u32) -> Self {
        Self {
            slab: vec![Binding::default(); cap as usize],
            free: (0..cap).rev().collect(),
            by_inside: Index::with_capacity(cap),
            by_outside: Index::with_capacity(cap),
            lru: Lru::new(cap),
            cap,
        }
    }

    /// Number of bindings.
    pub fn len(&self) -> u32 {
        self.by_inside.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the table is full.
    pub fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// Capacity.
    pub fn capacity(&self) -> u32 {
        self.cap
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

    /// Bytes held by the slab, the free list, both indexes and the LRU links.
    pub fn memory(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Binding>()
            + self.free.capacity() * 4
            + self.by_inside.memory()
            + self.by_outside.memory()
            + self.lru.memory()
    }

    /// The binding at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &Binding {
        &self.slab[idx as usize]
    }

    /// The binding at `idx`, mutable (keys must not be changed).
    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> &mut Binding {
        &mut self.slab[idx as usize]
    }

    /// Inserts `b` on the list of `class`; `None` if the table is full.
    pub fn insert(&mut self, b: Binding, class: u8, now_s: u32) -> Option<u32> {
        let idx = self.free.pop()?;
        self.slab[idx as usize] = Binding {
            stamp: now_s,
            class,
            ..b
        };
        self.by_inside
            .insert(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .insert(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        self.lru.push(idx, class, now_s);
        Some(idx)
    }

    /// Removes the binding at `idx` and returns it.
    pub fn remove(&mut self, idx: u32) -> Binding {
        self.lru.unlink(idx);
        let b = self.slab[idx as usize];
        self.by_inside
            .remove(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .remove(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        self.free.push(idx);
        b
    }

    /// Refreshes a binding in `class`.
    #[inline]
    pub fn touch(&mut self, idx: u32, class: u8, now_s: u32) {
        let b = &mut self.slab[idx as usize];
        if b.stamp == now_s && b.class == class {
            return;
        }
        b.stamp = now_s;
        b.class = class;
        self.lru.touch(idx, class, now_s);
    }

    /// Loads the index slot (and, when its tag matches, the record) a later
    /// [`find_inside`](Self::find_inside) of `k` will read, so that a burst's cache misses
    /// overlap instead of happening one after another. Returns a value to feed to
    /// `std::hint::black_box` so the loads are not optimised away.
    #[inline]
    pub fn warm_inside(&self, k: u64) -> u32 {
        self.warm(&self.by_inside, k)
    }

    /// As [`warm_inside`](Self::warm_inside) for [`find_outside`](Self::find_outside).
    #[inline]
    pub fn warm_outside(&self, k: u64) -> u32 {
        self.warm(&self.by_outside, k)
    }

    #[inline]
    fn warm(&self, index: &Index, k: u64) -> u32 {
        match index.home_slot(hash64(k)) {
            Some(i) => self.slab.get(i as usize).map_or(0, |b| b.sub_ip ^ b.stamp),
            None => 0,
        }
    }

    /// The oldest binding of a class and its last refresh.
    pub fn oldest(&self, class: u8) -> Option<(u32, u32)> {
        self.lru.oldest(class)
    }

    /// Class of a binding.
    pub fn class(&self, idx: u32) -> u8 {
        self.slab[idx as usize].class
    }

    /// Last refresh of a binding, seconds.
    pub fn last_seen(&self, idx: u32) -> u32 {
        self.lru.stamp(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(port: u16) -> Binding {
        Binding::new(0x6440_0002, port, 0xcb00_7101, port + 1000, 17, 0, 0)
    }

    #[test]
    fn insert_find_remove_reuse() {
        let mut t = BindingTable::with_capacity(2);
        let a = t.insert(b(1), 0, 0).unwrap();
        let c = t.insert(b(2), 0, 0).unwrap();
        assert!(t.insert(b(3), 0, 0).is_none());
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), Some(a));
        assert_eq!(t.find_outside(key(17, 0xcb00_7101, 1002)), Some(c));
        t.remove(a);
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), None);
        assert!(t.insert(b(3), 0, 0).is_some());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn lru_order_follows_touches() {
        let mut t = BindingTable::with_capacity(8);
        let x = t.insert(b(1), 0, 0).unwrap();
        let y = t.insert(b(2), 0, 0).unwrap();
        assert_eq!(t.oldest(0), Some((x, 0)));
        t.touch(x, 0, 5);
        assert_eq!(t.oldest(0), Some((y, 0)));
        t.touch(y, 3, 6);
        assert_eq!(t.oldest(0), Some((x, 5)));
        assert_eq!(t.oldest(3), Some((y, 6)));
        t.remove(x);
        assert_eq!(t.oldest(0), None);
    }
}
