//! Semantic validation of a [`Config`]: everything the types alone do not guarantee.
//!
//! It lives apart from the types so the rules can be read in one place, in the order of the
//! file (so the first problem reported is the first one in the file), and so that a `Config`
//! built in code (tests, the future management API) goes through exactly the same checks as one
//! read from a file. Each check names the key it is about and says what is wrong and why.

use std::net::Ipv4Addr;

use super::addr::{intervals_overlap, Ipv4Prefix, PoolEntry};
use super::{
    AlgSectionConfig, ApiConfig, ArpConfig, Config, ConfigError, DataplaneConfig, EalConfig,
    FragmentsConfig, L4Proto, LimitsConfig, LoggingConfig, PoolConfig, PoolMode, TimeoutsConfig,
};

type Result<T = ()> = std::result::Result<T, ConfigError>;

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

fn between<T: PartialOrd + std::fmt::Display>(key: &str, v: T, lo: T, hi: T) -> Result {
    if v < lo || v > hi {
        return Err(invalid(
            key,
            format!("must be between {lo} and {hi} (got {v})"),
        ));
    }
    Ok(())
}

/// Address blocks that are never valid for an interface, a next hop or the pool.
const NOT_UNICAST: &[((u32, u32), &str)] = &[
    ((0x0000_0000, 0x00ff_ffff), "\"this network\" (0.0.0.0/8)"),
    ((0x7f00_0000, 0x7fff_ffff), "loopback (127.0.0.0/8)"),
    ((0xe000_0000, 0xefff_ffff), "multicast (224.0.0.0/4)"),
    ((0xf000_0000, 0xffff_ffff), "reserved (240.0.0.0/4)"),
];

fn not_unicast(iv: (u32, u32)) -> Option<&'static str> {
    NOT_UNICAST
        .iter()
        .find(|(r, _)| intervals_overlap(*r, iv))
        .map(|(_, what)| *what)
}

/// A DPDK port name: passed to `rte_eth_dev_get_port_by_name` as a C string of at most
/// `RTE_ETH_NAME_MAX_LEN - 1` (63) bytes.
fn check_device(key: &str, dev: &str) -> Result {
    if dev.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    if dev.len() > 63 {
        return Err(invalid(
            key,
            format!(
                "must be at most 63 bytes (DPDK port name limit; got {})",
                dev.len()
            ),
        ));
    }
    if dev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            key,
            format!("{dev:?} contains whitespace or control characters"),
        ));
    }
    Ok(())
}

fn check_len(key: &str, p: &Ipv4Prefix) -> Result {
    if p.len > 32 {
        return Err(invalid(
            key,
            format!("prefix length must be 0..=32 (got /{})", p.len),
        ));
    }
    Ok(())
}

/// A prefix that must be written in network form (pool, exclusions, subscribers).
fn check_network(key: &str, p: &Ipv4Prefix) -> Result {
    check_len(key, p)?;
    if !p.is_network() {
        return Err(invalid(
            key,
            format!("{p} has host bits set (did you mean {}?)", p.network()),
        ));
    }
    Ok(())
}

fn check_unicast_host(key: &str, a: Ipv4Addr) -> Result {
    let x = u32::from(a);
    if let Some(what) = not_unicast((x, x)) {
        return Err(invalid(
            key,
            format!("{a} is {what}, not a unicast address"),
        ));
    }
    Ok(())
}

/// An interface address: a unicast host address that is neither the network nor the broadcast
/// address of its prefix, on a prefix that has room for a neighbour (at most /31).
fn check_interface_address(key: &str, p: &Ipv4Prefix) -> Result {
    check_len(key, p)?;
    if p.len > 31 {
        return Err(invalid(
            key,
            format!(
                "{p}: an interface prefix must be /31 or shorter so that neighbours are on-link"
            ),
        ));
    }
    check_unicast_host(key, p.addr)?;
    if p.len <= 30 && (p.is_network() || p.addr == p.broadcast()) {
        return Err(invalid(
            key,
            format!(
                "{p}: {} is the {} address of {}; use a host address",
                p.addr,
                if p.is_network() {
                    "network"
                } else {
                    "broadcast"
                },
                p.network()
            ),
        ));
    }
    Ok(())
}

fn check_next_hop(port: &str, address: &Ipv4Prefix, next_hop: Option<Ipv4Addr>) -> Result {
    let Some(nh) = next_hop else {
        return Ok(());
    };
    let key = format!("{port}.next_hop");
    check_unicast_host(&key, nh)?;
    let net = address.network();
    if !net.contains(nh) {
        return Err(invalid(
            &key,
            format!("{nh} is not on-link: it must be inside {net} ({port}.address)"),
        ));
    }
    if nh == address.addr {
        return Err(invalid(
            &key,
            format!("{nh} is the appliance's own address ({port}.address)"),
        ));
    }
    if net.len <= 30 && (u32::from(nh) == u32::from(net.addr) || nh == net.broadcast()) {
        return Err(invalid(
            &key,
            format!("{nh} is the network or broadcast address of {net}"),
        ));
    }
    Ok(())
}

fn check_mtu(key: &str, mtu: u16) -> Result {
    between(key, mtu, 576, 9000)
}

impl Config {
    /// Checks everything the types do not: ranges, prefix relations, sizes that must agree.
    /// Returns the first problem, in file order.
    pub fn validate(&self) -> Result {
        validate_eal(&self.eal)?;
        self.validate_ports()?;
        self.validate_pool()?;
        validate_dataplane(&self.dataplane, &self.pool)?;
        validate_arp(&self.arp)?;
        validate_timeouts(&self.timeouts)?;
        validate_limits(&self.limits)?;
        validate_fragments(&self.fragments)?;
        self.validate_nat()?;
        validate_logging(&self.logging)?;
        validate_api(&self.api)?;
        validate_alg(&self.alg)
    }

    fn validate_ports(&self) -> Result {
        let (inside, outside) = (&self.inside, &self.outside);

        check_device("inside.device", &inside.device)?;
        check_interface_address("inside.address", &inside.address)?;
        check_next_hop("inside", &inside.address, inside.next_hop)?;
        let in_net = inside.address.network();
        if inside.subscribers.is_empty() {
            return Err(invalid(
                "inside.subscribers",
                "must list at least one prefix (omit the key to accept the inside on-link prefix)",
            ));
        }
        for s in &inside.subscribers {
            check_network("inside.subscribers", s)?;
            let on_link = in_net.len <= s.len && in_net.contains(s.addr);
            if !on_link && inside.next_hop.is_none() {
                return Err(invalid(
                    "inside.subscribers",
                    format!(
                        "{s} is not inside the on-link prefix {in_net} (inside.address), \
                         so inside.next_hop must be set to reach it"
                    ),
                ));
            }
        }
        check_mtu("inside.mtu", inside.mtu)?;

        check_device("outside.device", &outside.device)?;
        if outside.device == inside.device {
            return Err(invalid(
                "outside.device",
                format!(
                    "{:?} is already used by inside.device; the two ports must differ",
                    outside.device
                ),
            ));
        }
        check_interface_address("outside.address", &outside.address)?;
        let out_net = outside.address.network();
        if out_net.overlaps(&in_net) {
            return Err(invalid(
                "outside.address",
                format!("on-link prefix {out_net} overlaps the inside on-link prefix {in_net}"),
            ));
        }
        if let Some(s) = inside.subscribers.iter().find(|s| s.overlaps(&out_net)) {
            return Err(invalid(
                "inside.subscribers",
                format!("{s} overlaps the outside on-link prefix {out_net}"),
            ));
        }
        check_next_hop("outside", &outside.address, outside.next_hop)?;
        check_mtu("outside.mtu", outside.mtu)
    }

    fn validate_pool(&self) -> Result {
        let pool = &self.pool;
        if pool.prefixes.is_empty() {
            return Err(invalid(
                "pool.prefixes",
                "must list at least one prefix, range or address",
            ));
        }
        let in_net = self.inside.address.network();
        let out_net = self.outside.address.network();
        for e in &pool.prefixes {
            check_entry("pool.prefixes", e)?;
            for (p, what) in [
                (&in_net, "the inside on-link prefix"),
                (&out_net, "the outside on-link prefix"),
            ] {
                if e.overlaps_prefix(p) {
                    return Err(invalid("pool.prefixes", format!("{e} overlaps {what} {p}")));
                }
            }
            if let Some(s) = self
                .inside
                .subscribers
                .iter()
                .find(|s| e.overlaps_prefix(s))
            {
                return Err(invalid(
                    "pool.prefixes",
                    format!("{e} overlaps the subscriber prefix {s} (inside.subscribers)"),
                ));
            }
        }
        for x in &pool.exclude {
            check_entry("pool.exclude", x)?;
            if !pool
                .prefixes
                .iter()
                .any(|e| intervals_overlap(e.interval(), x.interval()))
            {
                return Err(invalid(
                    "pool.exclude",
                    format!("{x} is not in the pool (pool.prefixes)"),
                ));
            }
        }
        let n = pool.address_count();
        if n == 0 {
            return Err(invalid(
                "pool.exclude",
                "removes every pool address; the pool is empty",
            ));
        }
        if n > PoolConfig::MAX_ADDRESSES {
            return Err(invalid(
                "pool.prefixes",
                format!(
                    "the pool holds {n} addresses after exclusions; at most {} are supported",
                    PoolConfig::MAX_ADDRESSES
                ),
            ));
        }

        between(
            "pool.port_min",
            pool.port_min,
            PoolConfig::DEFAULT_PORT_MIN,
            u16::MAX,
        )?;
        if pool.port_max < pool.port_min {
            return Err(invalid(
                "pool.port_max",
                format!(
                    "must be at least pool.port_min = {} (got {})",
                    pool.port_min, pool.port_max
                ),
            ));
        }
        between("pool.block_size", pool.block_size, 8, 64512)?;
        if pool.block_size > pool.port_count() {
            return Err(invalid(
                "pool.block_size",
                format!(
                    "{} is larger than the {} ports in pool.port_min..=pool.port_max ({}..={})",
                    pool.block_size,
                    pool.port_count(),
                    pool.port_min,
                    pool.port_max
                ),
            ));
        }
        let bpa = pool.blocks_per_address();
        if pool.max_blocks_per_subscriber < 1 || pool.max_blocks_per_subscriber > bpa {
            return Err(invalid(
                "pool.max_blocks_per_subscriber",
                format!(
                    "must be between 1 and {bpa}, the blocks per public address \
                     ({} ports / block_size {}) (got {})",
                    pool.port_count(),
                    pool.block_size,
                    pool.max_blocks_per_subscriber
                ),
            ));
        }
        self.validate_pool_mode()?;
        between(
            "pool.hold_down_secs",
            pool.hold_down_secs,
            0,
            PoolConfig::MAX_HOLD_DOWN_SECS,
        )
    }

    /// `pool.mode`, `pool.ports_per_subscriber` and `pool.preserve_parity`: in deterministic
    /// mode every subscriber address must get a range of its own (RFC 7422).
    fn validate_pool_mode(&self) -> Result {
        let pool = &self.pool;
        if pool.mode == PoolMode::Dynamic {
            if pool.ports_per_subscriber != 0 {
                return Err(invalid(
                    "pool.ports_per_subscriber",
                    format!(
                        "applies only to pool.mode = \"deterministic\"; remove it or set it to 0 \
                         (got {})",
                        pool.ports_per_subscriber
                    ),
                ));
            }
            return Ok(());
        }
        let subs = &self.inside.subscribers;
        for (i, s) in subs.iter().enumerate() {
            if let Some(t) = subs[..i].iter().find(|t| t.overlaps(s)) {
                return Err(invalid(
                    "inside.subscribers",
                    format!(
                        "{s} overlaps {t}; in deterministic mode (pool.mode) each subscriber \
                         address must be listed once, because its position numbers it"
                    ),
                ));
            }
        }
        let n_subs = self.inside.subscriber_count();
        let n_pool = pool.address_count();
        let ports = u64::from(pool.port_count());
        let ratio = n_subs.div_ceil(n_pool.max(1));
        let share = format!(
            "{ports} ports (pool.port_min..=pool.port_max) / sharing ratio {ratio} \
             (= ceil({n_subs} subscriber addresses in inside.subscribers / {n_pool} pool addresses))"
        );
        let max = ports / ratio.max(1);
        let pps = if pool.ports_per_subscriber == 0 {
            let min = u64::from(PoolConfig::MIN_DERIVED_PORTS_PER_SUBSCRIBER);
            if max < min {
                return Err(invalid(
                    "pool.mode",
                    format!(
                        "deterministic mode gives each subscriber address only {max} ports: \
                         {share}; at least {min} are needed (add pool addresses, narrow \
                         inside.subscribers or widen the port range)"
                    ),
                ));
            }
            max
        } else {
            let pps = u64::from(pool.ports_per_subscriber);
            if pps > max {
                return Err(invalid(
                    "pool.ports_per_subscriber",
                    format!(
                        "{pps} ports for each subscriber address do not fit: at most {max} = \
                         {share}"
                    ),
                ));
            }
            pps
        };
        if pool.preserve_parity && pps < 2 {
            return Err(invalid(
                "pool.preserve_parity",
                format!(
                    "needs at least 2 ports per subscriber address, one of each parity (got {pps})"
                ),
            ));
        }
        Ok(())
    }

    fn validate_nat(&self) -> Result {
        let nat = &self.nat;
        const KEY: &str = "nat.no_translate";
        if nat.no_translate.len() > super::NatConfig::MAX_NO_TRANSLATE {
            return Err(invalid(
                KEY,
                format!(
                    "at most {} prefixes are supported (got {})",
                    super::NatConfig::MAX_NO_TRANSLATE,
                    nat.no_translate.len()
                ),
            ));
        }
        let in_net = self.inside.address.network();
        let pool = self.pool.intervals();
        for p in &nat.no_translate {
            check_network(KEY, p)?;
            if let Some(what) = not_unicast(p.interval()) {
                return Err(invalid(KEY, format!("{p} includes {what} addresses")));
            }
            let iv = p.interval();
            if let Some(&(a, _)) = pool.iter().find(|&&r| intervals_overlap(r, iv)) {
                return Err(invalid(
                    KEY,
                    format!(
                        "{p} overlaps the pool (pool.prefixes minus pool.exclude) at {}; pool \
                         addresses are always translated",
                        Ipv4Addr::from(a.max(iv.0))
                    ),
                ));
            }
            if p.overlaps(&in_net) {
                return Err(invalid(
                    KEY,
                    format!("{p} overlaps the inside on-link prefix {in_net}"),
                ));
            }
            if let Some(s) = self.inside.subscribers.iter().find(|s| s.overlaps(p)) {
                return Err(invalid(
                    KEY,
                    format!("{p} overlaps the subscriber prefix {s} (inside.subscribers)"),
                ));
            }
        }
        let mss = nat.tcp_mss_clamp;
        if mss != 0 {
            if !(536..=9000).contains(&mss) {
                return Err(invalid(
                    "nat.tcp_mss_clamp",
                    format!("must be 0 (off) or between 536 and 9000 (got {mss})"),
                ));
            }
            let mtu = self.inside.mtu.min(self.outside.mtu);
            let max = mtu.saturating_sub(40);
            if mss > max {
                return Err(invalid(
                    "nat.tcp_mss_clamp",
                    format!(
                        "must be at most {max} = the smaller port MTU ({mtu}) - 40 bytes of \
                         IPv4 and TCP headers, or it lowers nothing (got {mss})"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A pool or exclusion entry: well-formed, and unicast only.
fn check_entry(key: &str, e: &PoolEntry) -> Result {
    match e {
        PoolEntry::Prefix(p) => check_network(key, p)?,
        PoolEntry::Range { first, last } => {
            if first > last {
                return Err(invalid(
                    key,
                    format!("{e}: the first address is after the last"),
                ));
            }
        }
    }
    if let Some(what) = not_unicast(e.interval()) {
        return Err(invalid(key, format!("{e} includes {what} addresses")));
    }
    Ok(())
}

fn validate_eal(eal: &EalConfig) -> Result {
    for (i, a) in eal.args.iter().enumerate() {
        if a.is_empty() {
            return Err(invalid(
                "eal.args",
                format!("argument {} is an empty string", i + 1),
            ));
        }
        if a.contains('\0') {
            return Err(invalid(
                "eal.args",
                format!("argument {} ({a:?}) contains a NUL byte", i + 1),
            ));
        }
    }
    Ok(())
}

fn validate_dataplane(dp: &DataplaneConfig, pool: &PoolConfig) -> Result {
    between("dataplane.workers", dp.workers, 1, 64)?;
    let bpa = pool.blocks_per_address();
    // Deterministic mode has no blocks: the rule is about dynamic block ownership.
    if pool.mode == PoolMode::Dynamic && u32::from(dp.workers) > bpa {
        return Err(invalid(
            "dataplane.workers",
            format!(
                "{} workers need at least {} port blocks per public address (each worker owns \
                 its own blocks), but the pool has {bpa} ({} ports / pool.block_size {})",
                dp.workers,
                dp.workers,
                pool.port_count(),
                pool.block_size
            ),
        ));
    }
    between(
        "dataplane.max_bindings_per_worker",
        dp.max_bindings_per_worker,
        1,
        64 << 20,
    )?;
    between(
        "dataplane.max_subscribers_per_worker",
        dp.max_subscribers_per_worker,
        1,
        16 << 20,
    )?;
    for (key, v) in [
        ("dataplane.rx_desc", dp.rx_desc),
        ("dataplane.tx_desc", dp.tx_desc),
    ] {
        if !(64..=4096).contains(&v) || !v.is_power_of_two() {
            return Err(invalid(
                key,
                format!("must be a power of two between 64 and 4096 (got {v})"),
            ));
        }
    }
    between("dataplane.burst", dp.burst, 1, 64)?;
    if !(64..=65536).contains(&dp.handoff_ring_size) || !dp.handoff_ring_size.is_power_of_two() {
        return Err(invalid(
            "dataplane.handoff_ring_size",
            format!(
                "must be a power of two between 64 and 65536 (got {})",
                dp.handoff_ring_size
            ),
        ));
    }
    if dp.workers > 1 && pool.mode == PoolMode::Deterministic {
        return Err(invalid(
            "dataplane.workers",
            format!(
                "deterministic pools (pool.mode = \"deterministic\") run on 1 worker in this \
                 release (got {}): a subscriber's formula range does not follow the port-block \
                 ownership that steers return traffic",
                dp.workers
            ),
        ));
    }
    let min = dp.min_mbufs();
    if u64::from(dp.mbufs) < min {
        return Err(invalid(
            "dataplane.mbufs",
            format!(
                "must be at least {min} = 2 ports x (rx_desc {} + tx_desc {}) x {} workers + 1024 \
                 for bursts and caches, or the RX rings cannot be filled (got {})",
                dp.rx_desc, dp.tx_desc, dp.workers, dp.mbufs
            ),
        ));
    }
    Ok(())
}

fn validate_arp(arp: &ArpConfig) -> Result {
    between("arp.entry_timeout_secs", arp.entry_timeout_secs, 1, 86400)?;
    between("arp.request_interval_ms", arp.request_interval_ms, 1, 60000)?;
    between(
        "arp.max_pending_per_host",
        arp.max_pending_per_host,
        1,
        1024,
    )?;
    between("arp.max_pending_total", arp.max_pending_total, 1, 65535)?;
    if arp.max_pending_per_host > arp.max_pending_total {
        return Err(invalid(
            "arp.max_pending_per_host",
            format!(
                "must not exceed arp.max_pending_total = {} (got {})",
                arp.max_pending_total, arp.max_pending_per_host
            ),
        ));
    }
    Ok(())
}

/// A timer: at least `min` seconds (the minimum the RFC `why` requires), at most `max`.
fn check_timeout(key: &str, v: u32, min: u32, max: u32, why: &str) -> Result {
    if v < min {
        return Err(invalid(
            key,
            format!("must be at least {min} s ({why}) (got {v})"),
        ));
    }
    if v > max {
        return Err(invalid(key, format!("must be at most {max} s (got {v})")));
    }
    Ok(())
}

fn validate_timeouts(t: &TimeoutsConfig) -> Result {
    const MAX: u32 = TimeoutsConfig::MAX_IDLE_SECS;
    check_timeout("timeouts.udp", t.udp, 120, MAX, "RFC 4787 REQ-5")?;
    check_timeout(
        "timeouts.tcp_established",
        t.tcp_established,
        7440,
        MAX,
        "RFC 5382 REQ-5",
    )?;
    check_timeout(
        "timeouts.tcp_transitory",
        t.tcp_transitory,
        240,
        MAX,
        "RFC 5382 REQ-5",
    )?;
    check_timeout(
        "timeouts.tcp_syn_hold",
        t.tcp_syn_hold,
        6,
        60,
        "RFC 5382 REQ-4",
    )?;
    check_timeout("timeouts.icmp", t.icmp, 60, MAX, "RFC 5508 REQ-2")?;
    check_timeout("timeouts.fragment", t.fragment, 2, 60, "RFC 8512")?;
    if t.port.len() > TimeoutsConfig::MAX_PORT_OVERRIDES {
        return Err(invalid(
            "timeouts.port",
            format!(
                "at most {} overrides are supported (got {})",
                TimeoutsConfig::MAX_PORT_OVERRIDES,
                t.port.len()
            ),
        ));
    }
    for (i, o) in t.port.iter().enumerate() {
        let key = |k: &str| format!("timeouts.port[{i}].{k}");
        between(&key("port"), o.port, 1, u16::MAX)?;
        if let Some(j) = t.port[..i]
            .iter()
            .position(|p| p.protocol == o.protocol && p.port == o.port)
        {
            return Err(invalid(
                &key("port"),
                format!(
                    "{} port {} already has an override (timeouts.port[{j}])",
                    o.protocol, o.port
                ),
            ));
        }
        let (min, why) = match o.protocol {
            L4Proto::Udp if o.port < 1024 => (1, "0 would expire every mapping at once"),
            L4Proto::Udp => (
                120,
                "RFC 4787 REQ-5; shorter UDP timeouts are allowed only for destination ports \
                 below 1024, REQ-5a",
            ),
            L4Proto::Tcp => (240, "RFC 5382 REQ-5"),
        };
        if o.timeout < min {
            return Err(invalid(
                &key("timeout"),
                format!(
                    "must be at least {min} s for {} port {} ({why}) (got {})",
                    o.protocol, o.port, o.timeout
                ),
            ));
        }
        if o.timeout > MAX {
            return Err(invalid(
                &key("timeout"),
                format!("must be at most {MAX} s (got {})", o.timeout),
            ));
        }
    }
    Ok(())
}

fn validate_limits(l: &LimitsConfig) -> Result {
    between(
        "limits.max_sessions_per_subscriber",
        l.max_sessions_per_subscriber,
        1,
        1_000_000,
    )?;
    between(
        "limits.icmp_errors_per_second",
        l.icmp_errors_per_second,
        0,
        100_000,
    )
}

fn validate_fragments(f: &FragmentsConfig) -> Result {
    between("fragments.max_datagrams", f.max_datagrams, 16, 1 << 20)?;
    between(
        "fragments.max_held_per_datagram",
        f.max_held_per_datagram,
        1,
        64,
    )?;
    if f.max_held != 0 && f.max_held_per_datagram > f.max_held {
        return Err(invalid(
            "fragments.max_held_per_datagram",
            format!(
                "must not exceed fragments.max_held = {} (got {})",
                f.max_held, f.max_held_per_datagram
            ),
        ));
    }
    Ok(())
}

fn validate_logging(l: &LoggingConfig) -> Result {
    for (key, addr) in [
        ("logging.ipfix_collector", l.ipfix_collector),
        ("logging.syslog_server", l.syslog_server),
    ] {
        if let Some(a) = addr {
            if a.port() == 0 {
                return Err(invalid(
                    key,
                    format!("port 0 is not a valid destination (got {a})"),
                ));
            }
            if a.ip().is_unspecified() || a.ip().is_broadcast() || a.ip().is_multicast() {
                return Err(invalid(key, format!("{} is not a unicast address", a.ip())));
            }
        }
    }
    if !(1..=3600).contains(&l.ipfix_template_refresh_secs) {
        return Err(invalid(
            "logging.ipfix_template_refresh_secs",
            format!(
                "must be between 1 and 3600 (got {})",
                l.ipfix_template_refresh_secs
            ),
        ));
    }
    if l.syslog_hostname.is_empty()
        || l.syslog_hostname.len() > 255
        || !l.syslog_hostname.bytes().all(|b| (33..=126).contains(&b))
    {
        return Err(invalid(
            "logging.syslog_hostname",
            "must be 1-255 printable ASCII characters without spaces (RFC 5424 HOSTNAME)",
        ));
    }
    if l.syslog_file_max_bytes < 4096 {
        return Err(invalid(
            "logging.syslog_file_max_bytes",
            format!("must be at least 4096 (got {})", l.syslog_file_max_bytes),
        ));
    }
    if !(1..=100).contains(&l.syslog_file_keep) {
        return Err(invalid(
            "logging.syslog_file_keep",
            format!("must be between 1 and 100 (got {})", l.syslog_file_keep),
        ));
    }
    if let Some(p) = &l.syslog_file {
        if p.as_os_str().is_empty() {
            return Err(invalid("logging.syslog_file", "must not be empty"));
        }
        if l.json_file.as_ref() == Some(p) {
            return Err(invalid(
                "logging.syslog_file",
                format!("must differ from logging.json_file ({})", p.display()),
            ));
        }
    }
    if l.json_max_bytes < 4096 {
        return Err(invalid(
            "logging.json_max_bytes",
            format!("must be at least 4096 (got {})", l.json_max_bytes),
        ));
    }
    if !(1..=100).contains(&l.json_keep) {
        return Err(invalid(
            "logging.json_keep",
            format!("must be between 1 and 100 (got {})", l.json_keep),
        ));
    }
    if let Some(p) = &l.json_file {
        if p.as_os_str().is_empty() {
            return Err(invalid("logging.json_file", "must not be empty"));
        }
    }
    if !(64..=1_048_576).contains(&l.event_queue) {
        return Err(invalid(
            "logging.event_queue",
            format!("must be between 64 and 1048576 (got {})", l.event_queue),
        ));
    }
    for p in &l.session_prefixes {
        check_network("logging.session_prefixes", p)?;
    }
    if !l.sessions && (!l.session_prefixes.is_empty() || l.session_destinations) {
        return Err(invalid(
            "logging.sessions",
            "logging.session_prefixes / session_destinations have no effect unless \
             logging.sessions = true",
        ));
    }
    Ok(())
}

fn validate_api(a: &ApiConfig) -> Result {
    for (key, on, addr) in [
        ("api.listen", a.enabled, a.listen),
        ("api.metrics_listen", a.metrics_enabled, a.metrics_listen),
    ] {
        if !on {
            continue;
        }
        if addr.port() == 0 {
            return Err(invalid(
                key,
                format!("port 0 is not allowed: clients need a known port (got {addr})"),
            ));
        }
        if addr.ip().is_multicast() {
            return Err(invalid(
                key,
                format!("{} is a multicast address", addr.ip()),
            ));
        }
    }
    if a.enabled && a.metrics_enabled && a.listen == a.metrics_listen {
        return Err(invalid(
            "api.metrics_listen",
            format!("{} is already used by api.listen", a.metrics_listen),
        ));
    }
    if let Some(p) = &a.token_file {
        if p.as_os_str().is_empty() {
            return Err(invalid("api.token_file", "must not be empty"));
        }
    }
    for (key, p) in [
        ("api.state_file", &a.state_file),
        ("api.tls_cert", &a.tls_cert),
        ("api.tls_key", &a.tls_key),
        ("api.tls_client_ca", &a.tls_client_ca),
    ] {
        if p.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(invalid(key, "must not be empty"));
        }
    }
    match (&a.tls_cert, &a.tls_key) {
        (Some(_), None) => return Err(invalid("api.tls_key", "api.tls_cert needs api.tls_key")),
        (None, Some(_)) => return Err(invalid("api.tls_cert", "api.tls_key needs api.tls_cert")),
        _ => {}
    }
    if a.tls_client_ca.is_some() && a.tls_cert.is_none() {
        return Err(invalid(
            "api.tls_client_ca",
            "client certificates (mTLS) need TLS: set api.tls_cert and api.tls_key",
        ));
    }
    let (lo, hi) = ApiConfig::MAX_REQUEST_BYTES_RANGE;
    if !(lo..=hi).contains(&a.max_request_bytes) {
        return Err(invalid(
            "api.max_request_bytes",
            format!("between {lo} and {hi} (got {})", a.max_request_bytes),
        ));
    }
    if a.require_token_for_reads && a.token_file.is_none() && a.tls_client_ca.is_none() {
        return Err(invalid(
            "api.require_token_for_reads",
            "needs api.token_file or api.tls_client_ca (there is no credential to require)",
        ));
    }
    Ok(())
}

/// `[alg.sip]`: its ports are UDP and TCP, so they may not be another ALG's of either.
fn validate_alg_sip(a: &AlgSectionConfig) -> Result {
    for (other, ports) in [
        ("alg.ftp.ports", &a.ftp.ports),
        ("alg.tftp.ports", &a.tftp.ports),
        ("alg.h323.ports", &a.h323.ports),
        ("alg.h323.ras_ports", &a.h323.ras_ports),
        ("alg.rtsp.ports", &a.rtsp.ports),
    ] {
        if let Some(p) = a.sip.ports.iter().find(|p| ports.contains(p)) {
            return Err(invalid(
                "alg.sip.ports",
                format!("port {p} is also in {other} (one ALG per port)"),
            ));
        }
    }
    between(
        "alg.sip.max_expectations_per_subscriber",
        a.sip.max_expectations_per_subscriber,
        2,
        1024,
    )?;
    between(
        "alg.sip.register_max_secs",
        a.sip.register_max_secs,
        60,
        86_400,
    )
}

fn validate_alg(a: &AlgSectionConfig) -> Result {
    validate_alg_sip(a)?;
    for (key, ports) in [
        ("alg.ftp.ports", &a.ftp.ports),
        ("alg.tftp.ports", &a.tftp.ports),
        ("alg.h323.ports", &a.h323.ports),
        ("alg.h323.ras_ports", &a.h323.ras_ports),
        ("alg.rtsp.ports", &a.rtsp.ports),
        ("alg.pptp.ports", &a.pptp.ports),
        ("alg.sip.ports", &a.sip.ports),
    ] {
        if ports.is_empty() || ports.len() > AlgSectionConfig::MAX_PORTS {
            return Err(invalid(
                key,
                format!(
                    "between 1 and {} ports (got {})",
                    AlgSectionConfig::MAX_PORTS,
                    ports.len()
                ),
            ));
        }
        if ports.contains(&0) {
            return Err(invalid(key, "port 0 is not a server port"));
        }
        let mut seen = ports.clone();
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(key, format!("port {} is listed twice", w[0])));
        }
    }
    if let Some(p) = a.h323.ports.iter().find(|p| a.ftp.ports.contains(p)) {
        return Err(invalid(
            "alg.h323.ports",
            format!("port {p} is also in alg.ftp.ports (one TCP port selects one ALG)"),
        ));
    }
    if let Some(p) = a.rtsp.ports.iter().find(|p| a.h323.ports.contains(p)) {
        return Err(invalid(
            "alg.rtsp.ports",
            format!("port {p} is also in alg.h323.ports (one ALG per TCP port)"),
        ));
    }
    if let Some(p) = a.rtsp.ports.iter().find(|p| a.ftp.ports.contains(p)) {
        return Err(invalid(
            "alg.rtsp.ports",
            format!("port {p} is also in alg.ftp.ports (one ALG per TCP port)"),
        ));
    }
    for (other, ports) in [
        ("alg.ftp.ports", &a.ftp.ports),
        ("alg.h323.ports", &a.h323.ports),
        ("alg.rtsp.ports", &a.rtsp.ports),
    ] {
        if let Some(p) = a.pptp.ports.iter().find(|p| ports.contains(p)) {
            return Err(invalid(
                "alg.pptp.ports",
                format!("port {p} is also in {other} (one ALG per TCP port)"),
            ));
        }
    }
    between(
        "alg.pptp.gre_timeout_secs",
        a.pptp.gre_timeout_secs,
        1,
        86400,
    )?;
    between(
        "alg.max_expectations_per_worker",
        a.max_expectations_per_worker,
        1,
        1 << 20,
    )?;
    between(
        "alg.max_sessions_per_worker",
        a.max_sessions_per_worker,
        1,
        1 << 20,
    )?;
    between(
        "alg.max_expectations_per_session",
        a.max_expectations_per_session,
        1,
        8,
    )?;
    between(
        "alg.expectation_timeout_secs",
        a.expectation_timeout_secs,
        1,
        3600,
    )
}
