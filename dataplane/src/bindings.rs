//! The binding table: endpoint-independent mappings (RFC 4787 REQ-1, RFC 5382 REQ-1)
//! `(protocol, subscriber address, inside port) <-> (public address, public port)`.
//!
//! Records live in a preallocated slab and are indexed twice (inside key and outside key) by
//! fixed-capacity [`Index`]es (8-byte slots, no tombstones), so neither inserting nor deleting
//! ever allocates. Expiry uses the per-class [`Lru`] lists (ARCHITECTURE.md "Expiry"): no
//! table walks. Free slots are chained through the records themselves.
//!
//! A removed binding can stay in its slot as a *cooling* record: out of both indexes (nothing
//! finds it), on the hold-down list, still owning its public port. That is how a freed port is
//! kept out of use for the hold-down (RFC 6888 REQ-8) without any other storage: the port is
//! released when the record leaves the hold-down list. Cooling records count against the
//! table's capacity.

use crate::index::{hash64, Index};
use crate::lru::{Lru, NIL};

/// The class of cooling (removed, port on hold-down) records.
pub const COOLING: u8 = 15;

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
    /// Timeout class (the LRU list it is on).
    pub class: u8,
    /// Subscriber index (the next free slot while the slot is free).
    pub subscriber: u32,
    /// Local port block the public port came from.
    pub block: u32,
    /// Sessions under this binding (it is not expired while any exist).
    pub sessions: u32,
    /// Last refresh, seconds.
    pub stamp: u32,
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
            class: 0,
            subscriber,
            block,
            sessions: 0,
            stamp: 0,
        }
    }
}

/// The table.
#[derive(Debug)]
pub struct BindingTable {
    slab: Vec<Binding>,
    free_head: u32,
    free: u32,
    by_inside: Index,
    by_outside: Index,
    lru: Lru,
    cap: u32,
    cooling: u32,
}

impl BindingTable {
    /// A table for at most `cap` bindings (cooling records included); all memory is allocated
    /// here.
    pub fn with_capacity(cap: u32) -> Self {
        let mut slab = vec![Binding::default(); cap as usize];
        for (i, b) in slab.iter_mut().enumerate() {
            b.subscriber = u32::try_from(i + 1)
                .ok()
                .filter(|&n| n < cap)
                .unwrap_or(NIL);
        }
        Self {
            slab,
            free_head: if cap > 0 { 0 } else { NIL },
            free: cap,
            by_inside: Index::with_capacity(cap),
            by_outside: Index::with_capacity(cap),
            lru: Lru::new(cap),
            cap,
            cooling: 0,
        }
    }

    /// Number of live bindings (cooling records excluded).
    pub fn len(&self) -> u32 {
        self.by_inside.len()
    }

    /// Whether there are no live bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records whose port is on hold-down.
    pub fn cooling(&self) -> u32 {
        self.cooling
    }

    /// Whether no slot is free.
    pub fn is_full(&self) -> bool {
        self.free_head == NIL
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

    /// Bytes held by the slab, both indexes and the LRU links.
    pub fn memory(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Binding>()
            + self.by_inside.memory()
            + self.by_outside.memory()
            + self.lru.memory()
    }

    /// The binding at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &Binding {
        &self.slab[idx as usize]
    }

    /// The binding at `idx`, mutable (keys, class and stamp must not be changed).
    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> &mut Binding {
        &mut self.slab[idx as usize]
    }

    /// Inserts `b` on the list of `class`; `None` if no slot is free.
    pub fn insert(&mut self, b: Binding, class: u8, now_s: u32) -> Option<u32> {
        if self.free_head == NIL {
            return None;
        }
        let idx = self.free_head;
        self.free_head = self.slab[idx as usize].subscriber;
        self.free -= 1;
        self.slab[idx as usize] = Binding {
            stamp: now_s,
            class,
            ..b
        };
        self.by_inside
            .insert(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .insert(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        self.lru.push(idx, class);
        Some(idx)
    }

    /// Removes the binding at `idx` from both indexes. With `cool`, the record stays as a
    /// cooling record on the hold-down list (stamp `now_s`); otherwise its slot is freed.
    /// Returns the binding.
    pub fn remove(&mut self, idx: u32, cool: bool, now_s: u32) -> Binding {
        let b = self.slab[idx as usize];
        self.by_inside
            .remove(hash64(key(b.proto, b.sub_ip, b.in_port)), idx);
        self.by_outside
            .remove(hash64(key(b.proto, b.pub_ip, b.pub_port)), idx);
        if cool {
            self.lru.move_to_tail(idx, b.class, COOLING);
            let r = &mut self.slab[idx as usize];
            r.class = COOLING;
            r.stamp = now_s;
            self.cooling += 1;
        } else {
            self.lru.unlink(idx, b.class);
            self.free_slot(idx);
        }
        b
    }

    /// Frees the slot of a cooling record and returns the record (its port can be released).
    pub fn release_cooling(&mut self, idx: u32) -> Binding {
        let b = self.slab[idx as usize];
        self.lru.unlink(idx, COOLING);
        self.cooling = self.cooling.saturating_sub(1);
        self.free_slot(idx);
        b
    }

    fn free_slot(&mut self, idx: u32) {
        let r = &mut self.slab[idx as usize];
        r.subscriber = self.free_head;
        r.class = 0;
        self.free_head = idx;
        self.free += 1;
    }

    /// Refreshes a binding in `class` (at most one list move per second).
    #[inline]
    pub fn touch(&mut self, idx: u32, class: u8, now_s: u32) {
        let b = &mut self.slab[idx as usize];
        if b.stamp == now_s && b.class == class {
            return;
        }
        let old = b.class;
        b.stamp = now_s;
        b.class = class;
        self.lru.move_to_tail(idx, old, class);
    }

    /// The oldest record of a class and its last refresh.
    pub fn oldest(&self, class: u8) -> Option<(u32, u32)> {
        self.lru
            .oldest(class)
            .map(|i| (i, self.slab[i as usize].stamp))
    }

    /// Class of a binding.
    pub fn class(&self, idx: u32) -> u8 {
        self.slab[idx as usize].class
    }

    /// Last refresh of a binding, seconds.
    pub fn last_seen(&self, idx: u32) -> u32 {
        self.slab[idx as usize].stamp
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
        t.remove(a, false, 0);
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), None);
        assert!(t.insert(b(3), 0, 0).is_some());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn cooling_records_hold_their_slot() {
        let mut t = BindingTable::with_capacity(2);
        let a = t.insert(b(1), 0, 5).unwrap();
        t.insert(b(2), 0, 5).unwrap();
        t.remove(a, true, 7);
        assert_eq!(t.len(), 1);
        assert_eq!(t.cooling(), 1);
        assert_eq!(t.find_inside(key(17, 0x6440_0002, 1)), None);
        assert!(
            t.insert(b(3), 0, 8).is_none(),
            "the cooling record keeps its slot"
        );
        assert_eq!(t.oldest(COOLING), Some((a, 7)));
        assert_eq!(t.release_cooling(a).pub_port, 1001);
        assert!(t.insert(b(3), 0, 8).is_some());
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
        t.remove(x, false, 6);
        assert_eq!(t.oldest(0), None);
    }
}
