//! The ARP neighbour cache of one port (RFC 826, RFC 1122 §2.3.2), with a bounded hold queue.
//!
//! A packet whose next hop is unresolved is held (at most `max_pending_per_host` per host and
//! `max_pending_total` in all) and sent as soon as the reply arrives, so the first datagram of
//! a flow is not lost. Requests are retried every `request_interval`; after `MAX_RETRIES`
//! unanswered requests the held packets are dropped and counted. Resolved entries are refreshed
//! by a new request once older than `entry_timeout` while still being used, and forgotten if
//! the refresh goes unanswered. All storage is preallocated.

use hashbrown::HashMap;

/// Requests sent before giving up on a host.
pub const MAX_RETRIES: u8 = 3;

/// Neighbour cache parameters (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborParams {
    /// Age after which a resolved entry is refreshed.
    pub entry_timeout_ns: u64,
    /// Interval between requests for the same host.
    pub request_interval_ns: u64,
    /// Packets held per unresolved host.
    pub max_pending_per_host: u16,
    /// Packets held in all.
    pub max_pending_total: u16,
    /// Cache entries.
    pub max_entries: u32,
}

impl Default for NeighborParams {
    fn default() -> Self {
        Self {
            entry_timeout_ns: 300_000_000_000,
            request_interval_ns: 1_000_000_000,
            max_pending_per_host: 4,
            max_pending_total: 256,
            max_entries: 4096,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: Option<[u8; 6]>,
    /// When the MAC was learnt or confirmed.
    confirmed_ns: u64,
    /// Last request sent (0 = none outstanding).
    requested_ns: u64,
    /// Requests sent since the last confirmation.
    retries: u8,
    pending: u16,
}

/// Result of a lookup for transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Send to this MAC. `refresh`: also send a request now (entry is ageing).
    Ready { mac: [u8; 6], refresh: bool },
    /// Unresolved: hold the packet. `request`: send a request now.
    Hold { request: bool },
    /// Unresolved and the hold queue (per host or total) is full, or the cache is full.
    Full,
}

/// The cache and the held packets of one port.
#[derive(Debug)]
pub struct Neighbors<B> {
    p: NeighborParams,
    entries: HashMap<u32, Entry>,
    held: Vec<Option<(u32, B)>>,
    held_count: u16,
    /// Hosts with a request outstanding: the only entries the timer has to visit.
    outstanding: Vec<u32>,
}

impl<B> Neighbors<B> {
    /// Builds an empty cache with all storage preallocated.
    pub fn new(p: NeighborParams) -> Self {
        let mut held = Vec::with_capacity(usize::from(p.max_pending_total));
        held.resize_with(usize::from(p.max_pending_total), || None);
        Self {
            // Twice the entry limit: hashbrown never has to grow (allocate) to clear tombstones
            // left by removed entries while at most half its capacity is in use.
            entries: HashMap::with_capacity((p.max_entries as usize).saturating_mul(2)),
            held,
            held_count: 0,
            outstanding: Vec::with_capacity(usize::from(p.max_pending_total.max(1))),
            p,
        }
    }

    /// Looks up `ip` for transmission at `now`.
    pub fn lookup(&mut self, ip: u32, now: u64) -> Lookup {
        let p = self.p;
        if let Some(e) = self.entries.get_mut(&ip) {
            if let Some(mac) = e.mac {
                let stale = now.saturating_sub(e.confirmed_ns) >= p.entry_timeout_ns;
                let due = e.requested_ns == 0
                    || now.saturating_sub(e.requested_ns) >= p.request_interval_ns;
                let room = self.outstanding.len() < self.outstanding.capacity();
                let refresh =
                    stale && due && e.retries < MAX_RETRIES && (e.requested_ns != 0 || room);
                if refresh {
                    if e.requested_ns == 0 {
                        self.outstanding.push(ip);
                    }
                    e.requested_ns = now.max(1);
                    e.retries += 1;
                }
                return Lookup::Ready { mac, refresh };
            }
            if e.pending >= p.max_pending_per_host || self.held_count >= p.max_pending_total {
                return Lookup::Full;
            }
            return Lookup::Hold { request: false };
        }
        if self.entries.len() >= p.max_entries as usize
            || self.held_count >= p.max_pending_total
            || self.outstanding.len() >= self.outstanding.capacity()
        {
            return Lookup::Full;
        }
        self.outstanding.push(ip);
        self.entries.insert(
            ip,
            Entry {
                mac: None,
                confirmed_ns: 0,
                requested_ns: now.max(1),
                retries: 1,
                pending: 0,
            },
        );
        Lookup::Hold { request: true }
    }

    /// Holds `buf` for `ip` (after [`Lookup::Hold`]). Returns the buffer back if there is no room.
    pub fn hold(&mut self, ip: u32, buf: B) -> Result<(), B> {
        let Some(e) = self.entries.get_mut(&ip) else {
            return Err(buf);
        };
        if e.pending >= self.p.max_pending_per_host {
            return Err(buf);
        }
        let Some(slot) = self.held.iter_mut().find(|s| s.is_none()) else {
            return Err(buf);
        };
        *slot = Some((ip, buf));
        e.pending += 1;
        self.held_count += 1;
        Ok(())
    }

    /// Records `ip` at `mac` (from an ARP request for us or a reply). `create`: add an entry if
    /// there is none (RFC 826: when we are the target); otherwise only update. Calls `release`
    /// with every packet that was held for `ip`.
    pub fn learn(
        &mut self,
        ip: u32,
        mac: [u8; 6],
        now: u64,
        create: bool,
        mut release: impl FnMut(B),
    ) {
        match self.entries.get_mut(&ip) {
            Some(e) => {
                e.mac = Some(mac);
                e.confirmed_ns = now;
                if e.requested_ns != 0 {
                    e.requested_ns = 0;
                    self.outstanding.retain(|&h| h != ip);
                }
                e.retries = 0;
                if e.pending == 0 {
                    return;
                }
                e.pending = 0;
            }
            None => {
                if create && self.entries.len() < self.p.max_entries as usize {
                    self.entries.insert(
                        ip,
                        Entry {
                            mac: Some(mac),
                            confirmed_ns: now,
                            requested_ns: 0,
                            retries: 0,
                            pending: 0,
                        },
                    );
                }
                return;
            }
        }
        for slot in self.held.iter_mut() {
            if matches!(slot, Some((h, _)) if *h == ip) {
                if let Some((_, b)) = slot.take() {
                    self.held_count -= 1;
                    release(b);
                }
            }
        }
    }

    /// Timer work: returns (via `request`, at most `max_requests` of them) hosts to re-request
    /// and (via `drop_held`) packets
    /// whose host never answered. Visits only hosts with a request outstanding (at most
    /// `max_pending_total` of them), never the whole cache.
    pub fn poll(
        &mut self,
        now: u64,
        max_requests: usize,
        mut request: impl FnMut(u32),
        mut drop_held: impl FnMut(B),
    ) {
        let p = self.p;
        let mut requested = 0;
        let mut dead: [u32; 16] = [0; 16];
        let mut n_dead = 0;
        for &ip in &self.outstanding {
            let Some(e) = self.entries.get_mut(&ip) else {
                continue;
            };
            if e.requested_ns == 0 || now.saturating_sub(e.requested_ns) < p.request_interval_ns {
                continue;
            }
            if e.retries >= MAX_RETRIES {
                if n_dead < dead.len() {
                    dead[n_dead] = ip;
                    n_dead += 1;
                }
                continue;
            }
            if requested >= max_requests {
                // Left as due: retried on a later poll, never marked as sent when it was not.
                continue;
            }
            requested += 1;
            e.retries += 1;
            e.requested_ns = now.max(1);
            request(ip);
        }
        for &ip in &dead[..n_dead] {
            self.entries.remove(&ip);
            self.outstanding.retain(|&h| h != ip);
            for slot in self.held.iter_mut() {
                if matches!(slot, Some((h, _)) if *h == ip) {
                    if let Some((_, b)) = slot.take() {
                        self.held_count -= 1;
                        drop_held(b);
                    }
                }
            }
        }
    }

    /// The MAC of `ip` if resolved.
    pub fn mac_of(&self, ip: u32) -> Option<[u8; 6]> {
        self.entries.get(&ip).and_then(|e| e.mac)
    }

    /// Packets currently held.
    pub fn held(&self) -> u16 {
        self.held_count
    }

    /// Number of cache entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn hold_then_release_on_learn() {
        let mut n: Neighbors<u32> = Neighbors::new(NeighborParams::default());
        assert_eq!(n.lookup(7, S), Lookup::Hold { request: true });
        n.hold(7, 100).unwrap();
        assert_eq!(n.lookup(7, S), Lookup::Hold { request: false });
        n.hold(7, 101).unwrap();
        let mut out = vec![];
        n.learn(7, [1; 6], 2 * S, false, |b| out.push(b));
        assert_eq!(out, vec![100, 101]);
        assert_eq!(n.held(), 0);
        assert_eq!(
            n.lookup(7, 2 * S),
            Lookup::Ready {
                mac: [1; 6],
                refresh: false
            }
        );
    }

    #[test]
    fn per_host_limit_and_give_up() {
        let mut n: Neighbors<u32> = Neighbors::new(NeighborParams::default());
        n.lookup(9, S);
        for i in 0..4 {
            n.hold(9, i).unwrap();
        }
        assert_eq!(n.lookup(9, S), Lookup::Full);
        assert_eq!(n.hold(9, 5), Err(5));
        let (mut reqs, mut dropped) = (0, 0);
        for t in 2..10 {
            n.poll(t * S, 16, |_| reqs += 1, |_| dropped += 1);
        }
        assert_eq!(reqs, 2, "two retries after the first request");
        assert_eq!(dropped, 4);
        assert_eq!(n.len(), 0);
    }

    #[test]
    fn request_budget_leaves_the_rest_due_instead_of_losing_them() {
        let mut n: Neighbors<u32> = Neighbors::new(NeighborParams::default());
        for ip in 1..=3 {
            assert_eq!(n.lookup(ip, S), Lookup::Hold { request: true });
        }
        let mut sent = vec![];
        n.poll(2 * S, 1, |ip| sent.push(ip), |_| {});
        assert_eq!(sent.len(), 1);
        n.poll(2 * S, 1, |ip| sent.push(ip), |_| {});
        n.poll(2 * S, 1, |ip| sent.push(ip), |_| {});
        sent.sort_unstable();
        assert_eq!(sent, vec![1, 2, 3], "every host re-requested exactly once");
    }

    #[test]
    fn stale_entry_refreshes_and_unsolicited_reply_ignored() {
        let mut n: Neighbors<u32> = Neighbors::new(NeighborParams::default());
        n.learn(5, [2; 6], S, false, |_| {});
        assert_eq!(n.mac_of(5), None, "not created unless we are the target");
        n.learn(5, [2; 6], S, true, |_| {});
        assert_eq!(
            n.lookup(5, 2 * S),
            Lookup::Ready {
                mac: [2; 6],
                refresh: false
            }
        );
        assert_eq!(
            n.lookup(5, 302 * S),
            Lookup::Ready {
                mac: [2; 6],
                refresh: true
            }
        );
        assert_eq!(
            n.lookup(5, 302 * S),
            Lookup::Ready {
                mac: [2; 6],
                refresh: false
            }
        );
    }
}
