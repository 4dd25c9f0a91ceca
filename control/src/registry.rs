//! The port-block registry: which subscriber held which block of public ports, and when.
//!
//! This module owns the answer to an abuse report — "who had 203.0.113.7:40123 at
//! 10:42:07?" — for the recent past. Workers allocate and release port blocks on their own and
//! report each change to the control thread (IPFIX natEvent 16/17, syslog `PBAADD`/`PBADEL`);
//! the control thread feeds the same events here. The logs stay the legal record (at 2–3 M
//! block events a day, months of retention do not fit in memory); the registry answers the
//! common, recent query in microseconds without a log search, within two bounds set by the
//! operator: how long released records are kept (`retention_ms`) and how many records there
//! may be at all (`max_records`, oldest released evicted first).
//!
//! # Index
//!
//! Records live in a `BTreeMap` keyed by `(public, port_start, allocated_at_ms)`: all the
//! allocations of one block on one address, one *group*, are adjacent and ordered by time.
//! A lookup of `(public, port, t)` walks the groups whose start lies in
//! `[port - L + 1, port]`, `L` being the longest block ever recorded, from the highest start
//! down (one `range(..).next_back()` per step), and in each group takes the latest allocation
//! at or before `t`, which is the only one in that group that can cover `t`. With one block
//! size and aligned blocks there is exactly one group in that window, so a lookup is two
//! O(log n) descents; after block-size changes it is O(k log n), `k` the number of distinct
//! block starts within `L` ports below `port` (bounded by `L`, in practice 1–2). An interval
//! tree would give the same bound with more code; the B-tree also serves eviction order and
//! per-subscriber listing through two small secondary sets.
//!
//! # Invariant, and repairs
//!
//! The answer is exact because no two records for overlapping ports on one address overlap in
//! time (intervals are half-open: `[allocated_at, released_at)`, so a block released and given
//! to someone else in the same millisecond belongs to the new holder). The allocator guarantees
//! it, but events can be lost (a full worker ring drops them) or arrive out of order, so
//! [`allocate`](PortBlockRegistry::allocate) enforces it: a still-open overlapping record
//! allocated earlier is closed at the new allocation time (its release was lost), and the new
//! record is closed at the next overlapping allocation if one is already known (it arrived
//! late). Both repairs are counted in [`RegistryStats::implicit_releases`].
//!
//! Memory is roughly 150 bytes a record (the record, its key and two index entries, with B-tree
//! node overhead): 10 M records take about 1.5 GB.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::Bound;

/// One allocation of one port block to one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Record {
    /// Public address of the block.
    pub public: Ipv4Addr,
    /// First port of the block.
    pub port_start: u16,
    /// Last port of the block (inclusive).
    pub port_end: u16,
    /// Inside address of the subscriber that held it.
    pub subscriber: Ipv4Addr,
    /// Unix milliseconds of the allocation.
    pub allocated_at_ms: u64,
    /// Unix milliseconds of the release; `None` while the subscriber still holds it.
    pub released_at_ms: Option<u64>,
}

impl Record {
    /// Whether this record answers for `port` at `at_ms`: the port is in the block and
    /// `allocated_at_ms <= at_ms < released_at_ms`.
    pub fn covers(&self, port: u16, at_ms: u64) -> bool {
        (self.port_start..=self.port_end).contains(&port) && self.holds_at(at_ms)
    }

    /// Whether the subscriber held the block at `at_ms` (half-open interval).
    pub fn holds_at(&self, at_ms: u64) -> bool {
        // (`match` rather than `is_none_or`, which needs Rust 1.82; the workspace says 1.80.)
        self.allocated_at_ms <= at_ms
            && match self.released_at_ms {
                Some(r) => at_ms < r,
                None => true,
            }
    }

    fn overlaps_ports(&self, start: u16, end: u16) -> bool {
        self.port_start <= end && start <= self.port_end
    }
}

/// Counters, all monotonic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryStats {
    /// Allocations recorded.
    pub allocated: u64,
    /// Releases matched to an open record.
    pub released: u64,
    /// Releases with no open record to match (lost allocation, duplicate release).
    pub unmatched_releases: u64,
    /// Records closed by a repair rather than a release (see the module documentation).
    pub implicit_releases: u64,
    /// Allocations with the same block and time as an existing record, which they replaced.
    pub duplicates: u64,
    /// Allocations refused as malformed (`port_end < port_start`).
    pub invalid: u64,
    /// Released records removed by the retention bound.
    pub expired: u64,
    /// Released records removed to make room (`max_records`).
    pub evicted: u64,
    /// Allocations refused because every record was still open and the registry full.
    pub rejected_full: u64,
}

/// `(public, port_start, allocated_at_ms)`, addresses as `u32` (cheaper to compare than
/// `Ipv4Addr`'s octet arrays).
type Key = (u32, u16, u64);

/// The registry. See the module documentation.
#[derive(Debug, Clone)]
pub struct PortBlockRegistry {
    records: BTreeMap<Key, Record>,
    /// `(subscriber, allocated_at_ms, public, port_start)`.
    by_subscriber: BTreeSet<(u32, u64, u32, u16)>,
    /// `(released_at_ms, key)` of every released record, oldest first.
    released: BTreeSet<(u64, Key)>,
    /// Longest block ever recorded, in ports; bounds the lookup window. Never shrinks.
    max_block_len: u32,
    max_records: usize,
    retention_ms: u64,
    stats: RegistryStats,
}

impl PortBlockRegistry {
    /// An empty registry holding at most `max_records` records (at least 1) and keeping
    /// released ones `retention_ms` after their release (enforced by [`expire`](Self::expire)).
    pub fn new(max_records: usize, retention_ms: u64) -> Self {
        Self {
            records: BTreeMap::new(),
            by_subscriber: BTreeSet::new(),
            released: BTreeSet::new(),
            max_block_len: 0,
            max_records: max_records.max(1),
            retention_ms,
            stats: RegistryStats::default(),
        }
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records still open (held now).
    pub fn open_len(&self) -> usize {
        self.records.len() - self.released.len()
    }

    /// The configured capacity.
    pub fn max_records(&self) -> usize {
        self.max_records
    }

    /// The configured retention of released records.
    pub fn retention_ms(&self) -> u64 {
        self.retention_ms
    }

    /// Counters.
    pub fn stats(&self) -> RegistryStats {
        self.stats
    }

    /// Every record, ordered by (public, port_start, allocated_at_ms).
    pub fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.records.values()
    }

    /// Records that `subscriber` held or holds, oldest allocation first.
    pub fn by_subscriber(&self, subscriber: Ipv4Addr) -> impl Iterator<Item = &Record> + '_ {
        let sub = u32::from(subscriber);
        let lo = (sub, 0, 0, 0);
        let hi = (sub, u64::MAX, u32::MAX, u16::MAX);
        self.by_subscriber
            .range(lo..=hi)
            .filter_map(|&(_, at, public, start)| self.records.get(&(public, start, at)))
    }

    /// Records that `public` ports `port_start..=port_end` were allocated to `subscriber` at
    /// `at_ms`. Returns `false` (and counts) when refused: a malformed range, or a full
    /// registry with nothing released to evict.
    pub fn allocate(
        &mut self,
        public: Ipv4Addr,
        port_start: u16,
        port_end: u16,
        subscriber: Ipv4Addr,
        at_ms: u64,
    ) -> bool {
        if port_end < port_start {
            self.stats.invalid += 1;
            return false;
        }
        let key = (u32::from(public), port_start, at_ms);
        if self.records.contains_key(&key) {
            self.stats.duplicates += 1;
            self.remove(key);
        }
        if self.records.len() >= self.max_records && !self.evict_oldest_released() {
            self.stats.rejected_full += 1;
            return false;
        }
        let len = u32::from(port_end) - u32::from(port_start) + 1;
        self.max_block_len = self.max_block_len.max(len);

        let successor = self.repair_overlaps(public, port_start, port_end, at_ms);
        if successor.is_some() {
            self.stats.implicit_releases += 1;
        }
        let rec = Record {
            public,
            port_start,
            port_end,
            subscriber,
            allocated_at_ms: at_ms,
            released_at_ms: successor,
        };
        self.insert(rec);
        self.stats.allocated += 1;
        true
    }

    /// Records that the block starting at `port_start` on `public` was released at `at_ms`:
    /// closes the latest record of that block allocated at or before `at_ms`, if it is open.
    /// Returns whether one was.
    pub fn release(&mut self, public: Ipv4Addr, port_start: u16, at_ms: u64) -> bool {
        let public = u32::from(public);
        let latest = self
            .records
            .range((public, port_start, 0)..=(public, port_start, at_ms))
            .next_back()
            .filter(|(_, r)| r.released_at_ms.is_none())
            .map(|(k, _)| *k);
        match latest {
            Some(key) => {
                self.set_released(key, at_ms);
                self.stats.released += 1;
                true
            }
            None => {
                self.stats.unmatched_releases += 1;
                false
            }
        }
    }

    /// The record of the subscriber that held `port` on `public` at `at_ms`, if any.
    pub fn lookup(&self, public: Ipv4Addr, port: u16, at_ms: u64) -> Option<&Record> {
        if self.max_block_len == 0 {
            return None;
        }
        let public = u32::from(public);
        let lo = u32::from(port).saturating_sub(self.max_block_len - 1);
        let mut hi = port;
        while let Some(start) = self.prev_group(public, hi) {
            if u32::from(start) < lo {
                break;
            }
            // Within one group only the latest allocation at or before `at_ms` can cover it.
            if let Some((_, r)) = self
                .records
                .range((public, start, 0)..=(public, start, at_ms))
                .next_back()
            {
                if r.covers(port, at_ms) {
                    return Some(r);
                }
            }
            let Some(next) = start.checked_sub(1) else {
                break;
            };
            hi = next;
        }
        None
    }

    /// Removes released records released before `now_ms - retention_ms`. Returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        self.expire_released_before(now_ms.saturating_sub(self.retention_ms))
    }

    /// Removes every record released strictly before `cutoff_ms`, oldest first (open records
    /// are never expired). Returns how many.
    pub fn expire_released_before(&mut self, cutoff_ms: u64) -> usize {
        let mut n = 0;
        while let Some(&(rel, key)) = self.released.first() {
            if rel >= cutoff_ms {
                break;
            }
            self.remove(key);
            n += 1;
        }
        self.stats.expired += u64::try_from(n).unwrap_or(u64::MAX);
        n
    }

    /// The highest block start `<= at_or_below` with any record on `public`.
    fn prev_group(&self, public: u32, at_or_below: u16) -> Option<u16> {
        self.records
            .range(..=(public, at_or_below, u64::MAX))
            .next_back()
            .filter(|(k, _)| k.0 == public)
            .map(|(k, _)| k.1)
    }

    /// Restores the invariant around a new allocation of `start..=end` on `public` at `at_ms`:
    /// closes at `at_ms` every overlapping record allocated at or before it and held past it,
    /// and returns the earliest overlapping allocation after `at_ms` (the new record's end).
    fn repair_overlaps(
        &mut self,
        public: Ipv4Addr,
        start: u16,
        end: u16,
        at_ms: u64,
    ) -> Option<u64> {
        let public = u32::from(public);
        let lo = u32::from(start).saturating_sub(self.max_block_len - 1);
        let mut to_close = Vec::new();
        let mut successor: Option<u64> = None;
        let mut hi = end;
        while let Some(s) = self.prev_group(public, hi) {
            if u32::from(s) < lo {
                break;
            }
            if let Some((k, r)) = self
                .records
                .range((public, s, 0)..=(public, s, at_ms))
                .next_back()
            {
                if r.overlaps_ports(start, end) && r.holds_at(at_ms) {
                    to_close.push(*k);
                }
            }
            let after = (
                Bound::Excluded((public, s, at_ms)),
                Bound::Included((public, s, u64::MAX)),
            );
            if let Some((k, _)) = self
                .records
                .range(after)
                .find(|(_, r)| r.overlaps_ports(start, end))
            {
                successor = Some(successor.map_or(k.2, |t| t.min(k.2)));
            }
            let Some(next) = s.checked_sub(1) else {
                break;
            };
            hi = next;
        }
        for key in to_close {
            self.set_released(key, at_ms);
            self.stats.implicit_releases += 1;
        }
        successor
    }

    fn set_released(&mut self, key: Key, at_ms: u64) {
        if let Some(r) = self.records.get_mut(&key) {
            if let Some(old) = r.released_at_ms.replace(at_ms) {
                self.released.remove(&(old, key));
            }
            self.released.insert((at_ms, key));
        }
    }

    fn insert(&mut self, r: Record) {
        let key = (u32::from(r.public), r.port_start, r.allocated_at_ms);
        self.by_subscriber.insert((
            u32::from(r.subscriber),
            r.allocated_at_ms,
            key.0,
            r.port_start,
        ));
        if let Some(rel) = r.released_at_ms {
            self.released.insert((rel, key));
        }
        self.records.insert(key, r);
    }

    fn remove(&mut self, key: Key) {
        if let Some(r) = self.records.remove(&key) {
            self.by_subscriber.remove(&(
                u32::from(r.subscriber),
                r.allocated_at_ms,
                key.0,
                r.port_start,
            ));
            if let Some(rel) = r.released_at_ms {
                self.released.remove(&(rel, key));
            }
        }
    }

    /// Evicts the record released longest ago; `false` if every record is open.
    fn evict_oldest_released(&mut self) -> bool {
        match self.released.first() {
            Some(&(_, key)) => {
                self.remove(key);
                self.stats.evicted += 1;
                true
            }
            None => false,
        }
    }
}
