//! Waiting SIP expectations per subscriber, for `alg.sip.max_expectations_per_subscriber`:
//! the dataplane half of the parser's `room`. Counted on insert into and removal from the
//! expectation table (every path: used, expired, evicted), so it never drifts; preallocated
//! for as many subscribers as the table has expectations (an entry exists only while its
//! subscriber has one).

use crate::index::{hash64, Index};

/// Waiting SIP expectations per subscriber address: a slab of (address, count) behind an
/// [`Index`], an entry per subscriber with at least one (so never more entries than the
/// expectation table holds).
#[derive(Debug)]
pub(in crate::alg_glue) struct SubCounts {
    index: Index,
    slab: Vec<(u32, u32)>,
    free: Vec<u32>,
}

fn skey(ip: u32) -> u64 {
    hash64(u64::from(ip) | 0x5349_5000_0000_0000)
}

impl SubCounts {
    pub(super) fn with_capacity(cap: u32) -> Self {
        Self {
            index: Index::with_capacity(cap),
            slab: vec![(0, 0); cap as usize],
            free: (0..cap).rev().collect(),
        }
    }

    fn find(&self, ip: u32) -> Option<u32> {
        self.index.find(skey(ip), |i| {
            self.slab.get(i as usize).is_some_and(|e| e.0 == ip)
        })
    }

    /// SIP expectations subscriber `ip` has waiting.
    pub(in crate::alg_glue) fn count(&self, ip: u32) -> u32 {
        self.find(ip)
            .and_then(|i| self.slab.get(i as usize))
            .map_or(0, |e| e.1)
    }

    pub(super) fn inc(&mut self, ip: u32) {
        if let Some(e) = self.find(ip).and_then(|i| self.slab.get_mut(i as usize)) {
            e.1 += 1;
            return;
        }
        let Some(i) = self.free.pop() else {
            return;
        };
        if let Some(e) = self.slab.get_mut(i as usize) {
            *e = (ip, 1);
        }
        if !self.index.insert(skey(ip), i) {
            self.free.push(i);
        }
    }

    pub(super) fn dec(&mut self, ip: u32) {
        let Some(i) = self.find(ip) else {
            return;
        };
        if let Some(e) = self.slab.get_mut(i as usize) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.index.remove(skey(ip), i);
                self.free.push(i);
            }
        }
    }

    pub(super) fn memory(&self) -> usize {
        self.index.memory() + self.slab.capacity() * 8 + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_counts_follow_installs_and_removals() {
        let mut c = SubCounts::with_capacity(4);
        c.inc(1);
        c.inc(1);
        c.inc(2);
        assert_eq!((c.count(1), c.count(2), c.count(3)), (2, 1, 0));
        c.dec(1);
        c.dec(1);
        c.dec(1);
        c.dec(3);
        assert_eq!((c.count(1), c.count(2)), (0, 1));
        // Freed entries are reused.
        for ip in 10..13 {
            c.inc(ip);
        }
        assert_eq!(c.count(12), 1);
    }
}
