//! Deterministic NAT (RFC 7422): each subscriber's public address and port range follow from a
//! formula, so nothing has to be logged per mapping and the abuse lookup
//! "(public address, port) → subscriber" is arithmetic.
//!
//! RFC 7422 §2 sizes the per-subscriber range as `M = (65,536 - R) / (C + D)` with R the
//! reserved ports (here `port_min`; ports above `port_max` are unused too), C the compression
//! (sharing) ratio of inside to outside addresses and D a dynamic pool factor. This
//! implementation has no dynamic overflow pool (D = 0), so:
//!
//! ```text
//! N = number of subscriber addresses, P = number of pool addresses
//! C = ceil(N / P)                                  (sharing ratio)
//! M = floor((port_max - port_min + 1) / C)         (ports per subscriber)
//! ```
//!
//! RFC 7422's example, 64 subscribers per address with ports 1024–65535: 64512 / 64 = 1008.
//! M is not rounded further (the abuse desk can redo the arithmetic from the RFC formula alone);
//! a smaller explicit M can be configured, e.g. a round number.
//!
//! Assignment is sequential, as in VPP det44: subscribers are numbered in address order across
//! the subscriber prefixes (sorted by network), subscriber `i` gets pool address `i / C` (the pool
//! sorted ascending) and range slot `i % C`, i.e. ports
//! `port_min + (i % C) × M ..= port_min + (i % C) × M + M − 1`. Consecutive subscribers share an
//! address; ranges of different subscribers never overlap; ports from `port_min + C × M` to
//! `port_max` (less than C of them) are never used. Every address of a prefix counts as a
//! subscriber, network and broadcast addresses included.
//!
//! The mapping depends on the whole configuration (prefix list, pool, port range, M): changing
//! any of it renumbers subscribers, so the configuration in force must be logged with a
//! timestamp — that is the only log deterministic NAT needs.
//!
//! `forward` and `reverse` are O(log n) in the number of prefixes / pool addresses, allocate
//! nothing and never panic.

use thiserror::Error;

/// Lowest port a deterministic range may use: ports below it stay reserved (RFC 7422's R; the
/// appliance's usable ports are 1024–65535).
pub const MIN_PORT: u16 = 1024;

/// Why a deterministic configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DetError {
    /// No subscriber prefix.
    #[error("no subscriber prefix")]
    NoSubscribers,
    /// No pool address.
    #[error("no pool address")]
    NoPool,
    /// Prefix length above 32 or host bits set.
    #[error("bad subscriber prefix {net:#010x}/{len}")]
    BadPrefix {
        /// Network.
        net: u32,
        /// Length.
        len: u8,
    },
    /// Two subscriber prefixes overlap.
    #[error("overlapping subscriber prefixes")]
    OverlappingPrefixes,
    /// A pool address appears twice.
    #[error("duplicate pool address {0:#010x}")]
    DuplicatePoolAddress(u32),
    /// `port_min` above `port_max`, or below [`MIN_PORT`].
    #[error("bad port range {min}-{max} (must be within {MIN_PORT}-65535)")]
    PortRange {
        /// Lowest port.
        min: u16,
        /// Highest port.
        max: u16,
    },
    /// More subscribers per address than ports: fewer than one port each.
    #[error("sharing ratio {ratio} exceeds the {ports} ports of the range")]
    TooManySubscribers {
        /// Subscribers per pool address.
        ratio: u64,
        /// Ports in the range.
        ports: u32,
    },
    /// An explicit ports-per-subscriber is 0 or above what the formula allows.
    #[error("ports per subscriber {requested} not in 1..={max}")]
    PortsPerSubscriber {
        /// Requested.
        requested: u16,
        /// Maximum for this configuration.
        max: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SubPrefix {
    net: u32,
    len: u8,
    /// Index of the prefix's first address among all subscribers.
    first: u64,
    /// Number of addresses.
    size: u64,
}

/// A validated RFC 7422 mapping. See the module documentation for the formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeterministicMap {
    prefixes: Vec<SubPrefix>,
    pool: Vec<u32>,
    port_min: u16,
    port_max: u16,
    ratio: u32,
    ports: u16,
    subscribers: u64,
}

fn prefix_size(len: u8) -> u64 {
    1u64 << (32 - u32::from(len))
}

impl DeterministicMap {
    /// Validates and builds a mapping of the subscriber prefixes `subscribers` (network, length;
    /// any order, no overlaps, no host bits) onto `pool` (any order, no duplicates) using ports
    /// `port_min..=port_max` (`port_min` >= 1024). `ports_per_subscriber`: `None` for the RFC
    /// 7422 maximum M, or an explicit smaller M.
    pub fn new(
        subscribers: &[(u32, u8)],
        pool: &[u32],
        port_min: u16,
        port_max: u16,
        ports_per_subscriber: Option<u16>,
    ) -> Result<Self, DetError> {
        if subscribers.is_empty() {
            return Err(DetError::NoSubscribers);
        }
        if pool.is_empty() {
            return Err(DetError::NoPool);
        }
        if port_min < MIN_PORT || port_min > port_max {
            return Err(DetError::PortRange {
                min: port_min,
                max: port_max,
            });
        }
        let mut prefixes = Vec::with_capacity(subscribers.len());
        for &(net, len) in subscribers {
            let size = if len <= 32 { prefix_size(len) } else { 0 };
            if len > 32 || u64::from(net) % size != 0 {
                return Err(DetError::BadPrefix { net, len });
            }
            prefixes.push(SubPrefix {
                net,
                len,
                first: 0,
                size,
            });
        }
        prefixes.sort_unstable_by_key(|p| p.net);
        let mut next = 0u64;
        let mut end_prev = 0u64;
        for (k, p) in prefixes.iter_mut().enumerate() {
            if k > 0 && u64::from(p.net) < end_prev {
                return Err(DetError::OverlappingPrefixes);
            }
            end_prev = u64::from(p.net) + p.size;
            p.first = next;
            next += p.size;
        }
        let n = next;
        let mut pool = pool.to_vec();
        pool.sort_unstable();
        if let Some(w) = pool.windows(2).find(|w| w[0] == w[1]) {
            return Err(DetError::DuplicatePoolAddress(w[0]));
        }
        let p = u64::try_from(pool.len()).unwrap_or(u64::MAX);
        let ratio = n.div_ceil(p);
        let range = u32::from(port_max) - u32::from(port_min) + 1;
        if ratio > u64::from(range) {
            return Err(DetError::TooManySubscribers {
                ratio,
                ports: range,
            });
        }
        // ratio <= range <= 64512 here, so both fit.
        let ratio = u32::try_from(ratio).unwrap_or(u32::MAX);
        let max_ports = u16::try_from(range / ratio).unwrap_or(u16::MAX);
        let ports = match ports_per_subscriber {
            None => max_ports,
            Some(m) if m >= 1 && m <= max_ports => m,
            Some(m) => {
                return Err(DetError::PortsPerSubscriber {
                    requested: m,
                    max: max_ports,
                })
            }
        };
        Ok(Self {
            prefixes,
            pool,
            port_min,
            port_max,
            ratio,
            ports,
            subscribers: n,
        })
    }

    /// Subscribers per pool address, C = ceil(N / P).
    pub fn sharing_ratio(&self) -> u32 {
        self.ratio
    }

    /// Ports per subscriber, M.
    pub fn ports_per_subscriber(&self) -> u16 {
        self.ports
    }

    /// Number of subscriber addresses, N.
    pub fn subscriber_count(&self) -> u64 {
        self.subscribers
    }

    /// The pool, sorted.
    pub fn pool(&self) -> &[u32] {
        &self.pool
    }

    /// The configured port range.
    pub fn port_range(&self) -> (u16, u16) {
        (self.port_min, self.port_max)
    }

    /// The subscriber index of `sub_ip`, if it is in a subscriber prefix.
    pub fn index_of(&self, sub_ip: u32) -> Option<u64> {
        let k = self.prefixes.partition_point(|p| p.net <= sub_ip);
        let p = self.prefixes.get(k.checked_sub(1)?)?;
        let off = u64::from(sub_ip - p.net);
        (off < p.size).then_some(p.first + off)
    }

    /// The subscriber address of index `i`.
    pub fn subscriber_at(&self, i: u64) -> Option<u32> {
        let k = self.prefixes.partition_point(|p| p.first <= i);
        let p = self.prefixes.get(k.checked_sub(1)?)?;
        let off = i - p.first;
        if off >= p.size {
            return None;
        }
        u32::try_from(u64::from(p.net) + off).ok()
    }

    /// Subscriber `sub_ip`'s public address and inclusive port range `(pub_ip, first, last)`,
    /// or `None` if `sub_ip` is not a subscriber.
    pub fn forward(&self, sub_ip: u32) -> Option<(u32, u16, u16)> {
        let i = self.index_of(sub_ip)?;
        let c = u64::from(self.ratio);
        let addr = *self.pool.get(usize::try_from(i / c).ok()?)?;
        let slot = u32::try_from(i % c).ok()?;
        let first = u32::from(self.port_min) + slot * u32::from(self.ports);
        let last = first + u32::from(self.ports) - 1;
        Some((addr, u16::try_from(first).ok()?, u16::try_from(last).ok()?))
    }

    /// The subscriber using public `port` on `pub_ip`, or `None` if that address/port belongs
    /// to no subscriber (not a pool address, port outside every range, or an unused slot).
    pub fn reverse(&self, pub_ip: u32, port: u16) -> Option<u32> {
        let a = u64::try_from(self.pool.binary_search(&pub_ip).ok()?).ok()?;
        let off = port.checked_sub(self.port_min)?;
        let slot = u32::from(off) / u32::from(self.ports);
        if slot >= self.ratio {
            return None;
        }
        let i = a * u64::from(self.ratio) + u64::from(slot);
        if i >= self.subscribers {
            return None;
        }
        self.subscriber_at(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    #[test]
    fn rfc7422_ratio_64_gives_1008_ports() {
        // A /20 of subscribers (4096) onto a /26 pool (64 addresses): ratio 64.
        let m = DeterministicMap::new(
            &[(ip([100, 64, 0, 0]), 20)],
            &(0..64)
                .map(|k| ip([198, 51, 100, 0]) + k)
                .collect::<Vec<_>>(),
            1024,
            65535,
            None,
        )
        .unwrap();
        assert_eq!(m.sharing_ratio(), 64);
        assert_eq!(m.ports_per_subscriber(), 1008);
        assert_eq!(m.subscriber_count(), 4096);
        assert_eq!(
            m.forward(ip([100, 64, 0, 0])),
            Some((ip([198, 51, 100, 0]), 1024, 2031))
        );
        assert_eq!(
            m.forward(ip([100, 64, 0, 1])),
            Some((ip([198, 51, 100, 0]), 2032, 3039))
        );
        assert_eq!(
            m.forward(ip([100, 64, 0, 63])),
            Some((ip([198, 51, 100, 0]), 1024 + 63 * 1008, 65535))
        );
        assert_eq!(
            m.forward(ip([100, 64, 0, 64])),
            Some((ip([198, 51, 100, 1]), 1024, 2031))
        );
        assert_eq!(
            m.forward(ip([100, 64, 15, 255])),
            Some((ip([198, 51, 100, 63]), 1024 + 63 * 1008, 65535))
        );
        assert_eq!(m.forward(ip([100, 64, 16, 0])), None);
        assert_eq!(m.forward(ip([100, 63, 255, 255])), None);
    }

    /// Every subscriber of a /20 into a /26: reverse(forward(x)) == x for every port of its
    /// range, ranges never overlap, all ports >= port_min.
    #[test]
    fn every_subscriber_of_a_slash20_round_trips() {
        let pool: Vec<u32> = (0..64).map(|k| ip([198, 51, 100, 64]) + k).collect();
        let m =
            DeterministicMap::new(&[(ip([100, 64, 16, 0]), 20)], &pool, 1024, 65535, None).unwrap();
        let mut ranges = Vec::new();
        for k in 0..4096u32 {
            let sub = ip([100, 64, 16, 0]) + k;
            let (a, first, last) = m.forward(sub).unwrap();
            assert!(first >= 1024 && first <= last);
            assert_eq!(u32::from(last - first) + 1, 1008);
            for port in [first, first + 1, (first / 2) + (last / 2), last] {
                assert_eq!(m.reverse(a, port), Some(sub), "{sub:#x} port {port}");
            }
            ranges.push((a, first, last));
        }
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            assert!(w[0].0 != w[1].0 || w[0].2 < w[1].1, "{w:?} overlap");
        }
        // Exhaustive over one address: every port of the range maps back to exactly one owner.
        for port in 1024..=65535u16 {
            let s = m.reverse(pool[5], port).unwrap();
            let (a, f, l) = m.forward(s).unwrap();
            assert!(a == pool[5] && (f..=l).contains(&port));
        }
        assert_eq!(m.reverse(pool[5], 1023), None);
        assert_eq!(m.reverse(ip([198, 51, 100, 0]), 5000), None);
    }

    #[test]
    fn several_prefixes_in_any_order_and_unused_tail() {
        let m = DeterministicMap::new(
            &[(ip([10, 0, 1, 0]), 24), (ip([10, 0, 0, 0]), 25)],
            &[ip([203, 0, 113, 2]), ip([203, 0, 113, 1])],
            1024,
            65535,
            None,
        )
        .unwrap();
        // 128 + 256 = 384 subscribers over 2 addresses.
        assert_eq!(m.sharing_ratio(), 192);
        assert_eq!(m.ports_per_subscriber(), 64512 / 192);
        assert_eq!(
            m.forward(ip([10, 0, 0, 0])).unwrap().0,
            ip([203, 0, 113, 1])
        );
        assert_eq!(m.index_of(ip([10, 0, 1, 0])), Some(128));
        assert_eq!(m.forward(ip([10, 0, 0, 200])), None, "between prefixes");
        assert_eq!(
            m.reverse(ip([203, 0, 113, 2]), 1024),
            Some(ip([10, 0, 1, 64]))
        );

        // 3 subscribers on 2 addresses: ratio 2, the second address's second slot is unused.
        let m = DeterministicMap::new(
            &[(ip([10, 0, 0, 0]), 31), (ip([10, 0, 0, 2]), 32)],
            &[1, 2],
            2000,
            2009,
            None,
        )
        .unwrap();
        assert_eq!((m.sharing_ratio(), m.ports_per_subscriber()), (2, 5));
        assert_eq!(m.forward(ip([10, 0, 0, 2])), Some((2, 2000, 2004)));
        assert_eq!(m.reverse(2, 2005), None, "unused slot");
        assert_eq!(m.reverse(2, 2010), None, "beyond port_max");
    }

    #[test]
    fn explicit_ports_per_subscriber() {
        let m = DeterministicMap::new(&[(0x0a00_0000, 26)], &[9], 1024, 65535, Some(1000)).unwrap();
        assert_eq!(m.forward(0x0a00_0001), Some((9, 2024, 3023)));
        assert_eq!(m.reverse(9, 65023), Some(0x0a00_003f));
        assert_eq!(m.reverse(9, 65024), None, "ports beyond C x M unused");
        assert_eq!(
            DeterministicMap::new(&[(0x0a00_0000, 26)], &[9], 1024, 65535, Some(1009)),
            Err(DetError::PortsPerSubscriber {
                requested: 1009,
                max: 1008
            })
        );
    }

    #[test]
    fn validation() {
        let ok_pool = [1u32];
        assert_eq!(
            DeterministicMap::new(&[], &ok_pool, 1024, 65535, None),
            Err(DetError::NoSubscribers)
        );
        assert_eq!(
            DeterministicMap::new(&[(0, 24)], &[], 1024, 65535, None),
            Err(DetError::NoPool)
        );
        assert!(matches!(
            DeterministicMap::new(&[(1, 24)], &ok_pool, 1024, 65535, None),
            Err(DetError::BadPrefix { .. })
        ));
        assert!(matches!(
            DeterministicMap::new(&[(0, 33)], &ok_pool, 1024, 65535, None),
            Err(DetError::BadPrefix { .. })
        ));
        assert_eq!(
            DeterministicMap::new(&[(0, 24), (0x80, 25)], &ok_pool, 1024, 65535, None),
            Err(DetError::OverlappingPrefixes)
        );
        assert_eq!(
            DeterministicMap::new(&[(0, 24)], &[3, 3], 1024, 65535, None),
            Err(DetError::DuplicatePoolAddress(3))
        );
        assert!(matches!(
            DeterministicMap::new(&[(0, 24)], &ok_pool, 1023, 65535, None),
            Err(DetError::PortRange { .. })
        ));
        assert!(matches!(
            DeterministicMap::new(&[(0, 24)], &ok_pool, 2000, 1999, None),
            Err(DetError::PortRange { .. })
        ));
        assert_eq!(
            DeterministicMap::new(&[(0, 15)], &ok_pool, 1024, 65535, None),
            Err(DetError::TooManySubscribers {
                ratio: 131_072,
                ports: 64512
            })
        );
        // The whole address space is a valid (if absurd) subscriber set with enough ports.
        let m = DeterministicMap::new(&[(0, 0)], &[7], 1024, 65535, None);
        assert!(m.is_err());
    }

    proptest! {
        #[test]
        fn random_configs_round_trip(
            net in any::<u32>(), len in 22u8..=32, pool_base in any::<u32>(),
            pool_n in 1u32..80, port_min in 1024u16..60000, span in 1023u16..5535,
            probe in any::<u32>(), probe_port in any::<u16>()) {
            // At most 1024 subscribers and at least 1024 ports: always a valid configuration.
            let net = net & (u32::MAX << (32 - u32::from(len)));
            let pool: Vec<u32> = (0..pool_n).map(|k| pool_base.wrapping_add(k.wrapping_mul(7))).collect();
            let port_max = port_min.saturating_add(span);
            let m = DeterministicMap::new(&[(net, len)], &pool, port_min, port_max, None).unwrap();
            prop_assert!(u64::from(m.sharing_ratio()) * u64::from(m.ports_per_subscriber())
                <= u64::from(port_max - port_min) + 1);
            let size = 1u64 << (32 - u32::from(len));
            let sub = net.wrapping_add(u32::try_from(u64::from(probe) % size).unwrap());
            let (a, first, last) = m.forward(sub).unwrap();
            prop_assert!(first >= port_min && last <= port_max && first <= last);
            prop_assert_eq!(m.reverse(a, first), Some(sub));
            prop_assert_eq!(m.reverse(a, last), Some(sub));
            // Any (address, port) that reverses must forward back to a range containing it.
            if let Some(s) = m.reverse(a, probe_port) {
                let (a2, f, l) = m.forward(s).unwrap();
                prop_assert!(a2 == a && (f..=l).contains(&probe_port));
            }
            // The neighbour's range does not overlap.
            if let Some((a2, f2, l2)) = m.forward(sub.wrapping_add(1)) {
                prop_assert!(a2 != a || l2 < first || f2 > last);
            }
        }
    }
}
