//! Semantic validation of a [`Config`]: everything the types alone do not guarantee.
//!
//! It lives apart from the types so the rules can be read in one place, in the order of the
//! file (so the first problem reported is the first one in the file), and so that a `Config`
//! built in code (tests, the future management API) goes through exactly the same checks as one
//! read from a file. Each check names the key it is about and says what is wrong and why.

use std::net::Ipv4Addr;

use super::addr::{intervals_overlap, Ipv4Prefix, PoolEntry};
use super::{ArpConfig, Config, ConfigError, DataplaneConfig, EalConfig, PoolConfig};

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
        validate_arp(&self.arp)
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
    if u32::from(dp.workers) > bpa {
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
