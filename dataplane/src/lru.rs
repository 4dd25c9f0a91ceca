//! Per-class LRU lists over slab slots, for timeout-driven expiry without table walks.
//!
//! Each slot of a slab (bindings, sessions) is on exactly one list, the list of its timeout
//! class, ordered by last refresh: the head is the oldest. The owner keeps each slot's class and
//! refresh stamp in the record itself (the per-packet "refreshed this second already?" check
//! then reads the record the lookup brought into cache) and moves a slot to the tail at most
//! once per second. Expiry looks only at list heads and stops at the first one still alive, so
//! reclaiming is O(expired), bounded by the caller's budget. The links are two parallel `u32`
//! arrays allocated once (8 bytes a slot).

/// No slot.
pub const NIL: u32 = u32::MAX;
/// Most timeout classes (fixed ones, per-destination-port overrides, hold-down).
pub const MAX_CLASSES: usize = 16;

/// The lists.
#[derive(Debug)]
pub struct Lru {
    prev: Vec<u32>,
    next: Vec<u32>,
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
            heads: [NIL; MAX_CLASSES],
            tails: [NIL; MAX_CLASSES],
        }
    }

    /// Bytes held.
    pub fn memory(&self) -> usize {
        (self.prev.capacity() + self.next.capacity()) * 4
    }

    /// Links slot `i` at the tail of `class`.
    pub fn push(&mut self, i: u32, class: u8) {
        let c = usize::from(class) % MAX_CLASSES;
        let iu = i as usize;
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

    /// Unlinks slot `i` from the list of `class` (the class it was pushed with).
    pub fn unlink(&mut self, i: u32, class: u8) {
        let iu = i as usize;
        let c = usize::from(class) % MAX_CLASSES;
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

    /// Moves slot `i` from the list of `old` to the tail of `new`.
    #[inline]
    pub fn move_to_tail(&mut self, i: u32, old: u8, new: u8) {
        self.unlink(i, old);
        self.push(i, new);
    }

    /// The oldest slot of `class`.
    #[inline]
    pub fn oldest(&self, class: u8) -> Option<u32> {
        let h = self.heads[usize::from(class) % MAX_CLASSES];
        (h != NIL).then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_classes() {
        let mut l = Lru::new(4);
        l.push(0, 0);
        l.push(1, 0);
        l.push(2, 3);
        assert_eq!(l.oldest(0), Some(0));
        l.move_to_tail(0, 0, 0);
        assert_eq!(l.oldest(0), Some(1));
        l.move_to_tail(1, 0, 3);
        assert_eq!(l.oldest(0), Some(0));
        assert_eq!(l.oldest(3), Some(2));
        l.unlink(2, 3);
        assert_eq!(l.oldest(3), Some(1));
        l.unlink(1, 3);
        l.unlink(0, 0);
        assert_eq!(l.oldest(0), None);
        assert_eq!(l.oldest(3), None);
    }
}
