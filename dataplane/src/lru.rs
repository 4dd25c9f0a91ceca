//! Per-class LRU lists over slab slots, for timeout-driven expiry without table walks.
//!
//! Each slot of a slab (bindings, sessions) is on exactly one list, the list of its timeout
//! class, ordered by last refresh: the head is the oldest. A refresh moves the slot to the tail
//! at most once per second (`stamp` is in seconds), so the per-packet cost is a comparison in
//! the common case. Expiry looks only at list heads, and stops at the first one still alive, so
//! reclaiming is O(expired), bounded by the caller's budget. Links live in parallel arrays
//! (`prev`, `next`, `stamp`, `class`) allocated once.

/// No slot.
pub const NIL: u32 = u32::MAX;
/// Most timeout classes (fixed ones plus per-destination-port overrides).
pub const MAX_CLASSES: usize = 16;

/// The lists.
#[derive(Debug)]
pub struct Lru {
    prev: Vec<u32>,
    next: Vec<u32>,
    stamp: Vec<u32>,
    class: Vec<u8>,
    heads: [u32; MAX_CLASSES],
    tails: [u32; MAX_CLASSES],
}

impl Lru {
    /// Lists for `n` slots, all unlinked.
    pub fn new(n: u32) -> Self {
        let n = n as usize;
        Self {
            prev: vec![NIL; n],
            next: vec![NIL; n],
            stamp: vec![0; n],
            class: vec![0; n],
            heads: [NIL; MAX_CLASSES],
            tails: [NIL; MAX_CLASSES],
        }
    }

    /// Bytes held.
    pub fn memory(&self) -> usize {
        self.prev.capacity() * 13
    }

    /// Links slot `i` at the tail of `class` with stamp `now_s`.
    pub fn push(&mut self, i: u32, class: u8, now_s: u32) {
        let c = usize::from(class) % MAX_CLASSES;
        let iu = i as usize;
        self.class[iu] = class;
        self.stamp[iu] = now_s;
        let t = self.tails[c];
        self.prev[iu] = t;
        self.next[iu] = NIL;
        if t == NIL {
            self.heads[c] = i;
        } else {
            self.next[t as usize] = i;
        }
        self.tails[c] = i;
    }

    /// Unlinks slot `i` from its list.
    pub fn unlink(&mut self, i: u32) {
        let iu = i as usize;
        let c = usize::from(self.class[iu]) % MAX_CLASSES;
        let (p, n) = (self.prev[iu], self.next[iu]);
        if p == NIL {
            self.heads[c] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tails[c] = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[iu] = NIL;
        self.next[iu] = NIL;
    }

    /// Refreshes slot `i`: moves it to the tail of `class` unless it is already there with the
    /// same stamp second.
    #[inline]
    pub fn touch(&mut self, i: u32, class: u8, now_s: u32) {
        let iu = i as usize;
        if self.stamp[iu] == now_s && self.class[iu] == class {
            return;
        }
        self.unlink(i);
        self.push(i, class, now_s);
    }

    /// The oldest slot of `class`, with its stamp.
    #[inline]
    pub fn oldest(&self, class: u8) -> Option<(u32, u32)> {
        let h = self.heads[usize::from(class) % MAX_CLASSES];
        (h != NIL).then(|| (h, self.stamp[h as usize]))
    }

    /// Class of slot `i`.
    #[inline]
    pub fn class(&self, i: u32) -> u8 {
        self.class[i as usize]
    }

    /// Last refresh of slot `i`, seconds.
    #[inline]
    pub fn stamp(&self, i: u32) -> u32 {
        self.stamp[i as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_classes() {
        let mut l = Lru::new(4);
        l.push(0, 0, 1);
        l.push(1, 0, 2);
        l.push(2, 3, 2);
        assert_eq!(l.oldest(0), Some((0, 1)));
        l.touch(0, 0, 5);
        assert_eq!(l.oldest(0), Some((1, 2)));
        l.touch(1, 3, 6);
        assert_eq!(l.oldest(0), Some((0, 5)));
        assert_eq!(l.oldest(3), Some((2, 2)));
        l.unlink(2);
        assert_eq!(l.oldest(3), Some((1, 6)));
        l.unlink(1);
        l.unlink(0);
        assert_eq!(l.oldest(0), None);
        assert_eq!(l.oldest(3), None);
    }
}
