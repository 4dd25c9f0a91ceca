//! A fixed-capacity hash index from a 64-bit key to a slab index, with no allocation after
//! construction and no tombstones.
//!
//! Why not `hashbrown::HashMap`: its deletions leave tombstones, and once the table is more than
//! half full, clearing them makes it *grow* (allocate) on the packet path; sizing it at twice
//! the capacity to avoid that costs 2 × 16 bytes per entry. This index is open addressing with
//! linear probing and backward-shift deletion (Knuth 6.4, Algorithm R), so deletes leave no
//! tombstones and the table never rehashes. A slot is 8 bytes: 32 bits of the key's hash (the
//! tag, with 0 meaning empty) and the 32-bit slab index; the full key is compared by the caller
//! through the slab. The table has at least 4/3 as many slots as entries (load at most 0.75,
//! typically about 0.5 after power-of-two rounding), so probes stay short.

/// Mixes a key into a well-distributed 64-bit hash (the murmur3 finaliser).
#[inline]
pub fn hash64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    tag: u32,
    idx: u32,
}

/// The index.
#[derive(Debug)]
pub struct Index {
    slots: Vec<Slot>,
    mask: usize,
    len: u32,
    cap: u32,
}

/// The 32 hash bits an entry keeps: they pick its home slot and filter key comparisons.
/// 0 marks an empty slot, so a zero hash is stored as 1 (its home slot follows the tag).
#[inline]
fn tag_of(h: u64) -> u32 {
    let [a, b, c, d, ..] = h.to_be_bytes();
    u32::from_be_bytes([a, b, c, d]).max(1)
}

impl Index {
    /// An index for at most `cap` entries: at least 4/3 as many slots (load ≤ 0.75; with
    /// power-of-two rounding usually 0.375..0.75).
    pub fn with_capacity(cap: u32) -> Self {
        let n = (cap as usize)
            .saturating_mul(4)
            .div_ceil(3)
            .max(8)
            .next_power_of_two();
        Self {
            slots: vec![Slot::default(); n],
            mask: n - 1,
            len: 0,
            cap,
        }
    }

    /// Entries.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory held.
    pub fn memory(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// The slab index stored in the home slot of hash `h` when its tag matches (a cheap,
    /// possibly wrong guess used only to warm caches before the real lookup).
    #[inline]
    pub fn home_slot(&self, h: u64) -> Option<u32> {
        let tag = tag_of(h);
        let s = self.slots[self.home(tag)];
        (s.tag == tag).then_some(s.idx)
    }

    /// The slab index of the entry with hash `h` for which `eq(idx)` holds.
    #[inline]
    pub fn find(&self, h: u64, eq: impl Fn(u32) -> bool) -> Option<u32> {
        let tag = tag_of(h);
        let mut i = self.home(tag);
        loop {
            let s = self.slots[i];
            if s.tag == 0 {
                return None;
            }
            if s.tag == tag && eq(s.idx) {
                return Some(s.idx);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts `idx` under hash `h`. The caller guarantees the key is not present. Returns
    /// `false` when the index already holds `cap` entries.
    #[inline]
    pub fn insert(&mut self, h: u64, idx: u32) -> bool {
        if self.len >= self.cap {
            return false;
        }
        let tag = tag_of(h);
        let mut i = self.home(tag);
        while self.slots[i].tag != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Slot { tag, idx };
        self.len += 1;
        true
    }

    /// Removes the entry for slab index `idx` stored under hash `h`. Returns whether it was there.
    pub fn remove(&mut self, h: u64, idx: u32) -> bool {
        let tag = tag_of(h);
        let mut i = self.home(tag);
        loop {
            let s = self.slots[i];
            if s.tag == 0 {
                return false;
            }
            if s.tag == tag && s.idx == idx {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift deletion: pull later entries of the cluster into the hole when their
        // home slot is not between the hole and their current slot (cyclically).
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let s = self.slots[j];
            if s.tag == 0 {
                break;
            }
            let home = self.home(s.tag);
            let dist_home_to_j = j.wrapping_sub(home) & self.mask;
            let dist_hole_to_j = j.wrapping_sub(hole) & self.mask;
            if dist_home_to_j >= dist_hole_to_j {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Differential test against std's HashMap under random insert/remove churn, with a
        /// deliberately bad hash (few distinct values) to force long clusters and wrap-around.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((any::<bool>(), 0u64..200), 1..2000), bad_hash in any::<bool>()) {
            let h = |k: u64| if bad_hash { (k % 7) << 32 | (k % 7) } else { hash64(k) };
            let mut idx = Index::with_capacity(256);
            let mut model: HashMap<u64, u32> = HashMap::new();
            let mut keys = vec![0u64; 256];
            let mut free: Vec<u32> = (0..256).rev().collect();
            for (ins, k) in ops {
                let found = idx.find(h(k), |i| keys[i as usize] == k);
                prop_assert_eq!(found, model.get(&k).copied());
                if ins && found.is_none() {
                    let Some(slot) = free.pop() else { continue };
                    keys[slot as usize] = k;
                    prop_assert!(idx.insert(h(k), slot));
                    model.insert(k, slot);
                } else if !ins {
                    if let Some(slot) = found {
                        prop_assert!(idx.remove(h(k), slot));
                        model.remove(&k);
                        free.push(slot);
                    }
                }
                prop_assert_eq!(idx.len() as usize, model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(idx.find(h(*k), |i| keys[i as usize] == *k), Some(*v));
            }
        }
    }

    #[test]
    fn full_index_refuses() {
        let mut idx = Index::with_capacity(2);
        assert!(idx.insert(1, 0));
        assert!(idx.insert(2, 1));
        assert!(!idx.insert(3, 2));
        assert!(idx.remove(1, 0));
        assert!(!idx.remove(1, 0));
        assert!(idx.insert(3, 2));
    }
}
