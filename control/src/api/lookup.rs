//! Abuse lookup and port-block listing, answered from what the control thread has: the
//! [`PortBlockRegistry`] in dynamic mode, the RFC 7422 formula over the running [`Config`] in
//! deterministic mode.
//!
//! The daemon's [`Appliance`](super::Appliance) implementation calls [`lookup`] and
//! [`port_blocks`] with its registry and config; they are pure (the current time is a
//! parameter), so they are tested with explicit times.
//!
//! The deterministic formula is the one of `dataplane::deterministic` (subscribers numbered in
//! address order across `inside.subscribers`, subscriber `i` on pool address `i / C`, slot
//! `i % C` of `M` ports from `port_min`). `control` does not depend on `dataplane`, so
//! [`DeterministicMap`] restates the arithmetic; a test checks both agree.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::model::{BlockFilter, LookupAnswer, LookupSource, PortBlock};
use super::ApiError;
use crate::config::{Config, PoolMode};
use crate::registry::{PortBlockRegistry, Record};

/// How far in the future a lookup time may be (clock skew between the abuse report and us).
pub const FUTURE_SLACK: Duration = Duration::from_secs(60);

/// Unix milliseconds of `t` (0 before the epoch, saturated far in the future).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `SystemTime` of Unix milliseconds `ms`.
pub fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Who held `public:port` at `at`, `now` being the current time.
///
/// Errors: INVALID_ARGUMENT when `at` is more than [`FUTURE_SLACK`] ahead of `now` or `public`
/// is not a pool address; NOT_FOUND when the port is outside the pool's port range or nobody
/// held it (or the record has left the registry: its retention is said in the message).
pub fn lookup(
    cfg: &Config,
    registry: &PortBlockRegistry,
    public: Ipv4Addr,
    port: u16,
    at: SystemTime,
    now: SystemTime,
) -> Result<LookupAnswer, ApiError> {
    if at > now + FUTURE_SLACK {
        return Err(ApiError::invalid(format!(
            "time {} ms is in the future (now {} ms)",
            unix_ms(at),
            unix_ms(now)
        )));
    }
    if !cfg.pool.contains(public) {
        return Err(ApiError::invalid(format!(
            "{public} is not a pool address (pool.prefixes minus pool.exclude)"
        )));
    }
    let (lo, hi) = (cfg.pool.port_min, cfg.pool.port_max);
    if !(lo..=hi).contains(&port) {
        return Err(ApiError::not_found(format!(
            "port {port} is outside the translated range {lo}..={hi}: no subscriber holds it"
        )));
    }
    match cfg.pool.mode {
        PoolMode::Dynamic => {
            let r = registry.lookup(public, port, unix_ms(at)).ok_or_else(|| {
                ApiError::not_found(format!(
                    "no subscriber held {public}:{port} at {} ms in the port-block registry \
                         (released blocks are kept {} s; older ones are only in the logs)",
                    unix_ms(at),
                    registry.retention_ms() / 1000
                ))
            })?;
            Ok(answer_from_record(r, public))
        }
        PoolMode::Deterministic => {
            let map = DeterministicMap::from_config(cfg)?;
            let (subscriber, port_start, port_end) =
                map.reverse(public, port).ok_or_else(|| {
                    ApiError::not_found(format!(
                        "{public}:{port} belongs to no subscriber under the deterministic \
                         mapping (an unused range)"
                    ))
                })?;
            Ok(LookupAnswer {
                subscriber,
                public,
                port_start,
                port_end,
                allocated_at: None,
                released_at: None,
                source: LookupSource::Deterministic,
            })
        }
    }
}

fn answer_from_record(r: &Record, public: Ipv4Addr) -> LookupAnswer {
    LookupAnswer {
        subscriber: r.subscriber,
        public,
        port_start: r.port_start,
        port_end: r.port_end,
        allocated_at: Some(from_unix_ms(r.allocated_at_ms)),
        released_at: r.released_at_ms.map(from_unix_ms),
        source: LookupSource::Registry,
    }
}

fn block_from_record(r: &Record) -> PortBlock {
    PortBlock {
        public: r.public,
        port_start: r.port_start,
        port_end: r.port_end,
        subscriber: r.subscriber,
        allocated_at: Some(from_unix_ms(r.allocated_at_ms)),
    }
}

/// The port blocks held now that match `filter`: open registry records in dynamic mode, the
/// formula's ranges in deterministic mode (every subscriber address has its range, used or
/// not).
///
/// Errors: INVALID_ARGUMENT for a subscriber outside `inside.subscribers` or an address
/// outside the pool.
pub fn port_blocks(
    cfg: &Config,
    registry: &PortBlockRegistry,
    filter: BlockFilter,
) -> Result<Vec<PortBlock>, ApiError> {
    match filter {
        BlockFilter::Subscriber(s) if !cfg.inside.subscribers.iter().any(|p| p.contains(s)) => {
            return Err(ApiError::invalid(format!(
                "{s} is not a subscriber address (inside.subscribers)"
            )))
        }
        BlockFilter::Public(a) if !cfg.pool.contains(a) => {
            return Err(ApiError::invalid(format!("{a} is not a pool address")))
        }
        _ => {}
    }
    if cfg.pool.mode == PoolMode::Deterministic {
        let map = DeterministicMap::from_config(cfg)?;
        return Ok(map.blocks(filter));
    }
    let open = |r: &&Record| r.released_at_ms.is_none();
    Ok(match filter {
        BlockFilter::All => registry
            .iter()
            .filter(open)
            .map(block_from_record)
            .collect(),
        BlockFilter::Subscriber(s) => registry
            .by_subscriber(s)
            .filter(open)
            .map(block_from_record)
            .collect(),
        BlockFilter::Public(a) => registry
            .iter()
            .filter(|r| r.public == a)
            .filter(open)
            .map(block_from_record)
            .collect(),
    })
}

/// The RFC 7422 mapping of a deterministic-mode [`Config`]. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeterministicMap {
    /// `(network, size, index of the first address)`, sorted by network.
    prefixes: Vec<(u32, u64, u64)>,
    /// Pool addresses, sorted.
    pool: Vec<u32>,
    port_min: u16,
    /// Subscribers per public address, C.
    ratio: u64,
    /// Ports per subscriber, M.
    ports: u16,
    subscribers: u64,
}

impl DeterministicMap {
    /// The mapping of `cfg`; FAILED_PRECONDITION when the pool is not in deterministic mode.
    pub fn from_config(cfg: &Config) -> Result<Self, ApiError> {
        let (Some(ports), Some(ratio)) = (
            cfg.deterministic_ports_per_subscriber(),
            cfg.deterministic_sharing_ratio(),
        ) else {
            return Err(ApiError::precondition(
                "the pool is not in deterministic mode (pool.mode)",
            ));
        };
        let mut nets: Vec<(u32, u64)> = cfg
            .inside
            .subscribers
            .iter()
            .map(|p| {
                let n = p.network();
                (u32::from(n.addr), 1u64 << (32 - u32::from(n.len.min(32))))
            })
            .collect();
        nets.sort_unstable();
        let mut first = 0;
        let prefixes = nets
            .into_iter()
            .map(|(net, size)| {
                let e = (net, size, first);
                first += size;
                e
            })
            .collect();
        Ok(Self {
            prefixes,
            pool: cfg.pool.addresses().into_iter().map(u32::from).collect(),
            port_min: cfg.pool.port_min,
            ratio: ratio.max(1),
            ports: ports.max(1),
            subscribers: first,
        })
    }

    /// Subscribers per public address, C.
    pub fn sharing_ratio(&self) -> u64 {
        self.ratio
    }

    /// Ports per subscriber, M.
    pub fn ports_per_subscriber(&self) -> u16 {
        self.ports
    }

    fn index_of(&self, sub: Ipv4Addr) -> Option<u64> {
        let x = u32::from(sub);
        let k = self.prefixes.partition_point(|p| p.0 <= x);
        let &(net, size, first) = self.prefixes.get(k.checked_sub(1)?)?;
        let off = u64::from(x - net);
        (off < size).then_some(first + off)
    }

    fn subscriber_at(&self, i: u64) -> Option<Ipv4Addr> {
        let k = self.prefixes.partition_point(|p| p.2 <= i);
        let &(net, size, first) = self.prefixes.get(k.checked_sub(1)?)?;
        let off = i - first;
        if off >= size {
            return None;
        }
        u32::try_from(u64::from(net) + off).ok().map(Ipv4Addr::from)
    }

    /// Ports of slot `slot`: `(first, last)`.
    fn slot_range(&self, slot: u64) -> Option<(u16, u16)> {
        let first = u64::from(self.port_min) + slot * u64::from(self.ports);
        let last = first + u64::from(self.ports) - 1;
        Some((u16::try_from(first).ok()?, u16::try_from(last).ok()?))
    }

    /// `(public address, first port, last port)` of subscriber `sub`.
    pub fn forward(&self, sub: Ipv4Addr) -> Option<(Ipv4Addr, u16, u16)> {
        let i = self.index_of(sub)?;
        let addr = *self.pool.get(usize::try_from(i / self.ratio).ok()?)?;
        let (first, last) = self.slot_range(i % self.ratio)?;
        Some((Ipv4Addr::from(addr), first, last))
    }

    /// `(subscriber, first port, last port)` of the range holding `public:port`, if any.
    pub fn reverse(&self, public: Ipv4Addr, port: u16) -> Option<(Ipv4Addr, u16, u16)> {
        let a = u64::try_from(self.pool.binary_search(&u32::from(public)).ok()?).ok()?;
        let slot = u64::from(port.checked_sub(self.port_min)?) / u64::from(self.ports);
        if slot >= self.ratio {
            return None;
        }
        let i = a * self.ratio + slot;
        if i >= self.subscribers {
            return None;
        }
        let (first, last) = self.slot_range(slot)?;
        Some((self.subscriber_at(i)?, first, last))
    }

    fn blocks(&self, filter: BlockFilter) -> Vec<PortBlock> {
        let block = |subscriber, (public, port_start, port_end)| PortBlock {
            public,
            port_start,
            port_end,
            subscriber,
            allocated_at: None,
        };
        match filter {
            BlockFilter::Subscriber(s) => {
                self.forward(s).map(|f| block(s, f)).into_iter().collect()
            }
            BlockFilter::Public(a) => {
                let Ok(k) = self.pool.binary_search(&u32::from(a)) else {
                    return Vec::new();
                };
                let base = u64::try_from(k).unwrap_or(u64::MAX) * self.ratio;
                (base..base.saturating_add(self.ratio).min(self.subscribers))
                    .filter_map(|i| Some(block(self.subscriber_at(i)?, self.forward_index(i)?)))
                    .collect()
            }
            BlockFilter::All => (0..self.subscribers)
                .filter_map(|i| Some(block(self.subscriber_at(i)?, self.forward_index(i)?)))
                .collect(),
        }
    }

    fn forward_index(&self, i: u64) -> Option<(Ipv4Addr, u16, u16)> {
        let addr = *self.pool.get(usize::try_from(i / self.ratio).ok()?)?;
        let (first, last) = self.slot_range(i % self.ratio)?;
        Some((Ipv4Addr::from(addr), first, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
eal.args = []
inside.device = "a"
inside.address = "100.64.0.1/10"
outside.device = "b"
outside.address = "198.51.100.1/24"
"#;

    fn cfg(extra: &str) -> Config {
        Config::from_toml_str(&format!("{BASE}{extra}")).unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn t(ms: u64) -> SystemTime {
        from_unix_ms(ms)
    }

    const T0: u64 = 1_700_000_000_000;

    fn dynamic() -> (Config, PortBlockRegistry) {
        let c = cfg("pool.prefixes = [\"203.0.113.0/24\"]\n");
        let mut r = PortBlockRegistry::new(100, 3_600_000);
        // 100.64.0.7 held 203.0.113.7:1024-1535 from T0 to T0+10s, then 100.64.0.9 got it.
        assert!(r.allocate(ip("203.0.113.7"), 1024, 1535, ip("100.64.0.7"), T0));
        assert!(r.release(ip("203.0.113.7"), 1024, T0 + 10_000));
        assert!(r.allocate(ip("203.0.113.7"), 1024, 1535, ip("100.64.0.9"), T0 + 20_000));
        assert!(r.allocate(ip("203.0.113.8"), 2048, 2559, ip("100.64.0.7"), T0 + 5_000));
        (c, r)
    }

    #[test]
    fn dynamic_lookup_follows_the_registry_in_time() {
        let (c, r) = dynamic();
        let now = t(T0 + 60_000);
        let a = lookup(&c, &r, ip("203.0.113.7"), 1100, t(T0 + 9_999), now).unwrap();
        assert_eq!(a.subscriber, ip("100.64.0.7"));
        assert_eq!((a.port_start, a.port_end), (1024, 1535));
        assert_eq!(a.allocated_at, Some(t(T0)));
        assert_eq!(a.released_at, Some(t(T0 + 10_000)));
        assert_eq!(a.source, LookupSource::Registry);
        // Released, not yet reallocated: nobody.
        let e = lookup(&c, &r, ip("203.0.113.7"), 1100, t(T0 + 15_000), now).unwrap_err();
        assert!(matches!(e, ApiError::NotFound(_)), "{e}");
        let a = lookup(&c, &r, ip("203.0.113.7"), 1535, t(T0 + 20_000), now).unwrap();
        assert_eq!(a.subscriber, ip("100.64.0.9"));
        assert_eq!(a.released_at, None);
    }

    #[test]
    fn lookup_refuses_bad_questions() {
        let (c, r) = dynamic();
        let now = t(T0 + 60_000);
        let e = lookup(&c, &r, ip("192.0.2.1"), 1100, now, now).unwrap_err();
        assert!(matches!(e, ApiError::InvalidArgument(_)), "{e}");
        let e = lookup(&c, &r, ip("203.0.113.7"), 80, now, now).unwrap_err();
        assert!(matches!(e, ApiError::NotFound(_)), "{e}");
        let future = now + FUTURE_SLACK + Duration::from_millis(1);
        let e = lookup(&c, &r, ip("203.0.113.7"), 1100, future, now).unwrap_err();
        assert!(matches!(e, ApiError::InvalidArgument(_)), "{e}");
        // Within the slack is fine.
        lookup(&c, &r, ip("203.0.113.7"), 1100, now + FUTURE_SLACK, now).unwrap();
    }

    #[test]
    fn dynamic_blocks_are_the_open_records() {
        let (c, r) = dynamic();
        let all = port_blocks(&c, &r, BlockFilter::All).unwrap();
        assert_eq!(all.len(), 2);
        let s = port_blocks(&c, &r, BlockFilter::Subscriber(ip("100.64.0.7"))).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].public, ip("203.0.113.8"));
        let p = port_blocks(&c, &r, BlockFilter::Public(ip("203.0.113.7"))).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].subscriber, ip("100.64.0.9"));
        let e = port_blocks(&c, &r, BlockFilter::Subscriber(ip("10.0.0.1"))).unwrap_err();
        assert!(matches!(e, ApiError::InvalidArgument(_)));
        let e = port_blocks(&c, &r, BlockFilter::Public(ip("10.0.0.1"))).unwrap_err();
        assert!(matches!(e, ApiError::InvalidArgument(_)));
    }

    /// RFC 7422's example: a /20 of subscribers onto a /26 pool, ratio 64, 1008 ports each.
    fn deterministic() -> Config {
        cfg("inside.subscribers = [\"100.64.0.0/20\"]\n\
             inside.next_hop = \"100.64.0.254\"\n\
             pool.prefixes = [\"198.18.0.0/26\"]\n\
             pool.mode = \"deterministic\"\n")
    }

    #[test]
    fn deterministic_lookup_is_the_formula() {
        let c = deterministic();
        let r = PortBlockRegistry::new(1, 0);
        let now = t(T0);
        let m = DeterministicMap::from_config(&c).unwrap();
        assert_eq!((m.sharing_ratio(), m.ports_per_subscriber()), (64, 1008));
        let a = lookup(&c, &r, ip("198.18.0.0"), 2032, now, now).unwrap();
        assert_eq!(a.subscriber, ip("100.64.0.1"));
        assert_eq!((a.port_start, a.port_end), (2032, 3039));
        assert_eq!(a.source, LookupSource::Deterministic);
        let a = lookup(&c, &r, ip("198.18.0.63"), 65535, now, now).unwrap();
        assert_eq!(a.subscriber, ip("100.64.15.255"));
        let b = port_blocks(&c, &r, BlockFilter::Subscriber(ip("100.64.0.64"))).unwrap();
        assert_eq!(
            (b[0].public, b[0].port_start, b[0].port_end),
            (ip("198.18.0.1"), 1024, 2031)
        );
        let b = port_blocks(&c, &r, BlockFilter::Public(ip("198.18.0.2"))).unwrap();
        assert_eq!(b.len(), 64);
        assert_eq!(b[0].subscriber, ip("100.64.0.128"));
        assert_eq!(port_blocks(&c, &r, BlockFilter::All).unwrap().len(), 4096);
    }

    #[test]
    fn deterministic_unused_slot_is_not_found() {
        // 4 subscribers (a /30) on 1 address with 100 ports each: ports from 1024 + 400 are unused.
        let c = cfg("inside.subscribers = [\"100.64.0.0/30\"]\n\
                     pool.prefixes = [\"198.18.0.1\"]\n\
                     pool.mode = \"deterministic\"\n\
                     pool.ports_per_subscriber = 100\n");
        let r = PortBlockRegistry::new(1, 0);
        let now = t(T0);
        let a = lookup(&c, &r, ip("198.18.0.1"), 1024 + 399, now, now).unwrap();
        assert_eq!(a.subscriber, ip("100.64.0.3"));
        let e = lookup(&c, &r, ip("198.18.0.1"), 1024 + 400, now, now).unwrap_err();
        assert!(matches!(e, ApiError::NotFound(_)), "{e}");
    }
}
