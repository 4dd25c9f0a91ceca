//! The appliance's configuration: the TOML file format, its Rust types, defaults and validation.
//!
//! This module owns the public contract of the config file (documented key by key in
//! `docs/config.md`). A [`Config`] is only ever handed out after [`Config::validate`] passed,
//! so the daemon and the workers can rely on its invariants (non-overlapping prefixes, sane
//! sizes, ranges that fit the types DPDK takes) instead of re-checking them.
//!
//! Compatibility rule: every section and key added later must have a default (a
//! `#[serde(default)]` section or field), so that files written for an older version stay
//! valid. Unknown keys are rejected everywhere (`deny_unknown_fields`): a typo must fail loudly
//! rather than silently fall back to a default.
//!
//! Submodules: [`addr`] (prefix/range string forms and interval arithmetic), [`error`]
//! ([`ConfigError`] and the translation of TOML errors), `validate` (semantic checks).

pub mod addr;
pub mod error;
mod validate;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use addr::{AddrParseError, Ipv4Prefix, PoolEntry};
pub use error::ConfigError;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct Config {
    /// `[eal]`: DPDK EAL arguments. Required.
    pub eal: EalConfig,
    /// `[inside]`: the subscriber-facing port. Required.
    pub inside: InsideConfig,
    /// `[outside]`: the Internet-facing port. Required.
    pub outside: OutsideConfig,
    /// `[pool]`: public addresses and port blocks. Required.
    pub pool: PoolConfig,
    /// `[dataplane]`: worker count and table/queue sizes. Optional.
    #[serde(default)]
    pub dataplane: DataplaneConfig,
    /// `[arp]`: neighbour resolution on both ports. Optional.
    #[serde(default)]
    pub arp: ArpConfig,
    /// `[timeouts]`: idle timers of mappings and sessions. Optional.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// `[limits]`: per-subscriber state limits and ICMP error rate. Optional.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[fragments]`: fragment tracking capacities. Optional.
    #[serde(default)]
    pub fragments: FragmentsConfig,
    /// `[nat]`: what is not translated, and TCP MSS clamping. Optional.
    #[serde(default)]
    pub nat: NatConfig,
    /// `[logging]`: where port-block and exhaustion events are sent. Optional; every sink is
    /// off unless configured.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// `[api]`: the gRPC management API and the Prometheus metrics endpoint. Optional.
    #[serde(default)]
    pub api: ApiConfig,
    /// `[alg]`: application-layer gateways (FTP, TFTP, H.323) and their expectations. Optional.
    #[serde(default)]
    pub alg: AlgSectionConfig,
}

impl Config {
    /// Parses and validates a config from TOML text.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(s).map_err(|e| error::from_toml(s, &e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::from_toml_str(&text)
    }

    /// Ports each subscriber address gets in [`PoolMode::Deterministic`]: `pool.ports_per_subscriber`
    /// when it is set, else the RFC 7422 value `port_count / ceil(subscribers / pool addresses)`.
    /// `None` in [`PoolMode::Dynamic`], or when the sharing ratio exceeds the port range (a
    /// config that validation rejects).
    pub fn deterministic_ports_per_subscriber(&self) -> Option<u16> {
        if self.pool.mode != PoolMode::Deterministic {
            return None;
        }
        if self.pool.ports_per_subscriber != 0 {
            return Some(self.pool.ports_per_subscriber);
        }
        let ratio = self.deterministic_sharing_ratio()?;
        let ports = u64::from(self.pool.port_count()) / ratio;
        u16::try_from(ports).ok().filter(|&p| p > 0)
    }

    /// The RFC 7422 sharing ratio `ceil(subscriber addresses / pool addresses)`: how many
    /// subscribers share one public address in deterministic mode. `None` for an empty pool.
    pub fn deterministic_sharing_ratio(&self) -> Option<u64> {
        let pool = self.pool.address_count();
        (pool > 0).then(|| self.inside.subscriber_count().div_ceil(pool))
    }
}

/// `[eal]`: arguments for `rte_eal_init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct EalConfig {
    /// Passed verbatim to `rte_eal_init` after the program name.
    pub args: Vec<String>,
}

/// The default MTU of both ports.
pub const DEFAULT_MTU: u16 = 1500;

fn default_mtu() -> u16 {
    DEFAULT_MTU
}

/// `[inside]`: the port facing the subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "InsideToml")]
pub struct InsideConfig {
    /// DPDK port name: a vdev name (`net_af_packet0`) or a PCI address (`0000:3b:00.0`).
    pub device: String,
    /// The appliance's own address on this port; its [`network`](Ipv4Prefix::network) is the
    /// on-link prefix.
    pub address: Ipv4Prefix,
    /// Router behind which the subscribers outside the on-link prefix live.
    #[serde(
        default,
        with = "addr::opt_ipv4",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_hop: Option<Ipv4Addr>,
    /// Source prefixes accepted from the inside. When the key is absent this is the on-link
    /// prefix (`address.network()`); it is never empty in a parsed config.
    pub subscribers: Vec<Ipv4Prefix>,
    /// Largest IPv4 packet (L3 bytes) sent or accepted on the port.
    pub mtu: u16,
}

/// The file form of `[inside]`: `subscribers` is optional and defaults to the on-link prefix,
/// which depends on `address`, so it is resolved after reading.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct InsideToml {
    device: String,
    address: Ipv4Prefix,
    #[serde(default, deserialize_with = "addr::opt_ipv4::deserialize")]
    next_hop: Option<Ipv4Addr>,
    #[serde(default)]
    subscribers: Option<Vec<Ipv4Prefix>>,
    #[serde(default = "default_mtu")]
    mtu: u16,
}

impl InsideConfig {
    /// Number of distinct subscriber addresses: every address of every `subscribers` prefix,
    /// network and broadcast addresses included, overlaps counted once.
    pub fn subscriber_count(&self) -> u64 {
        addr::count(&addr::merge(
            self.subscribers.iter().map(Ipv4Prefix::interval).collect(),
        ))
    }
}

impl From<InsideToml> for InsideConfig {
    fn from(t: InsideToml) -> Self {
        InsideConfig {
            subscribers: t.subscribers.unwrap_or_else(|| vec![t.address.network()]),
            device: t.device,
            address: t.address,
            next_hop: t.next_hop,
            mtu: t.mtu,
        }
    }
}

/// `[outside]`: the port facing the Internet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct OutsideConfig {
    /// DPDK port name: a vdev name (`net_af_packet1`) or a PCI address.
    pub device: String,
    /// The appliance's own address on this port; its network is the on-link prefix.
    pub address: Ipv4Prefix,
    /// Default router. Without it, packets to off-link destinations are dropped and counted.
    #[serde(
        default,
        with = "addr::opt_ipv4",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_hop: Option<Ipv4Addr>,
    /// Largest IPv4 packet (L3 bytes) sent or accepted on the port.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
}

/// `[pool]`: the public addresses subscribers are translated to, and how their ports are cut
/// into blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PoolConfig {
    /// Prefixes, ranges or single addresses making up the pool (overlaps are merged).
    pub prefixes: Vec<PoolEntry>,
    /// Addresses removed from the pool.
    #[serde(default)]
    pub exclude: Vec<PoolEntry>,
    /// Ports per block (validated to `8..=64512`, so it converts to `u16` losslessly).
    #[serde(default = "PoolConfig::default_block_size")]
    pub block_size: u32,
    /// Most blocks one subscriber may hold, all on the same public address (validated to
    /// `1..=blocks_per_address()`, at most 8064, so it converts to `u16` losslessly).
    #[serde(default = "PoolConfig::default_max_blocks_per_subscriber")]
    pub max_blocks_per_subscriber: u32,
    /// First port handed out (inclusive).
    #[serde(default = "PoolConfig::default_port_min")]
    pub port_min: u16,
    /// Last port that may be handed out (inclusive).
    #[serde(default = "PoolConfig::default_port_max")]
    pub port_max: u16,
    /// Which inbound packets may use an existing mapping (RFC 4787 REQ-8, RFC 6888 REQ-7).
    #[serde(default)]
    pub filtering: Filtering,
    /// How ports are given to subscribers: port blocks on demand, or RFC 7422 ranges.
    #[serde(default)]
    pub mode: PoolMode,
    /// Deterministic mode only: ports per subscriber address; 0 = derived
    /// ([`Config::deterministic_ports_per_subscriber`]). Must be 0 in dynamic mode.
    #[serde(default)]
    pub ports_per_subscriber: u16,
    /// RFC 4787 REQ-4: an even inside port gets an even public port, an odd one an odd port.
    #[serde(default)]
    pub preserve_parity: bool,
    /// RFC 6888 REQ-8: seconds a freed port or block stays unused before it is handed out
    /// again. Validated to `0..=3600`.
    #[serde(default = "PoolConfig::default_hold_down_secs")]
    pub hold_down_secs: u32,
}

/// `pool.filtering`: which inbound packets an existing mapping accepts (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filtering {
    /// `"endpoint-independent"`: any external host and port may send to the mapping (RFC 4787
    /// REQ-8 for transparency, RFC 6888 REQ-7). The default.
    #[default]
    EndpointIndependent,
    /// `"address-dependent"`: only external addresses the subscriber has sent to, any port.
    AddressDependent,
    /// `"address-and-port-dependent"`: only the exact external address and port the subscriber
    /// has sent to.
    AddressAndPortDependent,
}

/// `pool.mode`: how public ports are given to subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolMode {
    /// `"dynamic"`: port blocks of `block_size` ports, allocated on demand and logged. The
    /// default.
    #[default]
    Dynamic,
    /// `"deterministic"` (RFC 7422): each subscriber address owns a fixed port range on a fixed
    /// public address computed from the configuration; `block_size` and
    /// `max_blocks_per_subscriber` have no effect.
    Deterministic,
}

impl PoolConfig {
    /// Default of `block_size`.
    pub const DEFAULT_BLOCK_SIZE: u32 = 512;
    /// Default of `max_blocks_per_subscriber`.
    pub const DEFAULT_MAX_BLOCKS_PER_SUBSCRIBER: u32 = 4;
    /// Default (and smallest allowed value) of `port_min`.
    pub const DEFAULT_PORT_MIN: u16 = 1024;
    /// Default of `port_max`.
    pub const DEFAULT_PORT_MAX: u16 = 65535;
    /// Default of `hold_down_secs` (RFC 6888 REQ-8).
    pub const DEFAULT_HOLD_DOWN_SECS: u32 = 120;
    /// Largest `hold_down_secs`.
    pub const MAX_HOLD_DOWN_SECS: u32 = 3600;
    /// Smallest derived `ports_per_subscriber` accepted in deterministic mode.
    pub const MIN_DERIVED_PORTS_PER_SUBSCRIBER: u32 = 64;
    /// Most addresses a pool may hold after exclusions.
    pub const MAX_ADDRESSES: u64 = 65536;

    fn default_block_size() -> u32 {
        Self::DEFAULT_BLOCK_SIZE
    }
    fn default_max_blocks_per_subscriber() -> u32 {
        Self::DEFAULT_MAX_BLOCKS_PER_SUBSCRIBER
    }
    fn default_port_min() -> u16 {
        Self::DEFAULT_PORT_MIN
    }
    fn default_port_max() -> u16 {
        Self::DEFAULT_PORT_MAX
    }
    fn default_hold_down_secs() -> u32 {
        Self::DEFAULT_HOLD_DOWN_SECS
    }

    /// `hold_down_secs` as a [`Duration`].
    pub fn hold_down(&self) -> Duration {
        Duration::from_secs(u64::from(self.hold_down_secs))
    }

    /// The pool as merged, sorted, disjoint host-order intervals, exclusions removed.
    fn intervals(&self) -> Vec<(u32, u32)> {
        let keep = addr::merge(self.prefixes.iter().map(PoolEntry::interval).collect());
        let remove = addr::merge(self.exclude.iter().map(PoolEntry::interval).collect());
        addr::subtract(&keep, &remove)
    }

    /// Whether `a` is a pool address (exclusions removed).
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let x = u32::from(a);
        self.intervals().iter().any(|&(lo, hi)| lo <= x && x <= hi)
    }

    /// Number of pool addresses after de-duplication and exclusions, computed without
    /// expanding the pool.
    pub fn address_count(&self) -> u64 {
        addr::count(&self.intervals())
    }

    /// Every pool address, sorted, de-duplicated, exclusions removed.
    ///
    /// All addresses of a prefix are included, network and broadcast addresses too: the pool is
    /// routed to the appliance, not a subnet on a link, so those addresses have no special
    /// meaning (exclude them explicitly if an upstream device treats them specially).
    /// Validation bounds the pool to [`MAX_ADDRESSES`](Self::MAX_ADDRESSES); on an unvalidated
    /// value this allocates one entry per address.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        self.intervals()
            .into_iter()
            .flat_map(|(a, b)| (a..=b).map(Ipv4Addr::from))
            .collect()
    }

    /// How many ports `port_min..=port_max` holds (0 if `port_min > port_max`).
    pub fn port_count(&self) -> u32 {
        (u32::from(self.port_max) + 1).saturating_sub(u32::from(self.port_min))
    }

    /// Port blocks per public address: `(port_max - port_min + 1) / block_size`.
    ///
    /// Block `i` covers `port_min + i*block_size .. port_min + (i+1)*block_size`; the
    /// remainder ports at the top of the range (fewer than `block_size`) are never used.
    /// Returns 0 for `block_size == 0` (rejected by validation).
    pub fn blocks_per_address(&self) -> u32 {
        self.port_count().checked_div(self.block_size).unwrap_or(0)
    }
}

/// `[dataplane]`: worker cores and the sizes of their tables, queues and buffers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct DataplaneConfig {
    /// Worker lcores (each gets one RX and one TX queue on both ports).
    pub workers: u16,
    /// Bindings each worker preallocates (its table never grows).
    pub max_bindings_per_worker: u32,
    /// Subscribers each worker can track.
    pub max_subscribers_per_worker: u32,
    /// mbufs in the packet buffer pool (shared by all workers).
    pub mbufs: u32,
    /// RX descriptors per queue.
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
    /// Packets per RX/TX burst.
    pub burst: u16,
    /// How packets reach the worker that owns them (with more than one worker).
    pub steering: SteeringMode,
    /// Frames each worker-to-worker handoff ring holds (power of two, 64..=65536).
    pub handoff_ring_size: u32,
}

/// `dataplane.steering`: how frames reach the worker that owns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SteeringMode {
    /// `"auto"`: the NIC steers where it can (inside: RSS on the source address only; outside:
    /// rte_flow rules on the destination port), software handoff covers the rest. The default.
    #[default]
    Auto,
    /// `"software"`: never program the NIC; the receiving worker hands every frame to its
    /// owner over a ring.
    Software,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            workers: 1,
            max_bindings_per_worker: 1 << 20,
            max_subscribers_per_worker: 1 << 16,
            mbufs: 16383,
            rx_desc: 1024,
            tx_desc: 1024,
            burst: 32,
            steering: SteeringMode::Auto,
            handoff_ring_size: 1024,
        }
    }
}

impl DataplaneConfig {
    /// mbufs the pool needs at least: every RX and TX ring of both ports full on every worker,
    /// plus 1024 for bursts in flight, per-core caches and the handoff rings:
    /// `2 * (rx_desc + tx_desc) * workers + 1024`.
    pub fn min_mbufs(&self) -> u64 {
        2 * (u64::from(self.rx_desc) + u64::from(self.tx_desc)) * u64::from(self.workers) + 1024
    }
}

/// `[arp]`: neighbour resolution on both ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ArpConfig {
    /// Seconds a resolved entry is used before it is refreshed.
    pub entry_timeout_secs: u32,
    /// Milliseconds between requests for an unresolved address.
    pub request_interval_ms: u32,
    /// Packets held per unresolved address while resolving (more are dropped and counted).
    /// Validated to `1..=1024` and `<= max_pending_total`.
    pub max_pending_per_host: u32,
    /// Packets held in total while resolving. Validated to `1..=65535` (fits `u16`).
    pub max_pending_total: u32,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            entry_timeout_secs: 300,
            request_interval_ms: 1000,
            max_pending_per_host: 4,
            max_pending_total: 256,
        }
    }
}

impl ArpConfig {
    /// `entry_timeout_secs` as a [`Duration`].
    pub fn entry_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.entry_timeout_secs))
    }

    /// `request_interval_ms` as a [`Duration`].
    pub fn request_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.request_interval_ms))
    }
}

/// `[timeouts]`: idle timeouts, in seconds, of mappings and sessions (RFC 8512 defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct TimeoutsConfig {
    /// UDP mapping idle timeout. RFC 4787 REQ-5: at least 120 s.
    pub udp: u32,
    /// Established TCP connection idle timeout. RFC 5382 REQ-5: at least 7440 s.
    pub tcp_established: u32,
    /// TCP connection opening or closing (transitory). RFC 5382 REQ-5: at least 240 s.
    pub tcp_transitory: u32,
    /// How long an unsolicited inbound SYN is held before ICMP 3/3 (RFC 5382 REQ-4): `6..=60`.
    pub tcp_syn_hold: u32,
    /// ICMP query mapping idle timeout. RFC 5508 REQ-2: at least 60 s.
    pub icmp: u32,
    /// Lifetime of fragment-tracking state (RFC 8512 minimum 2 s): `2..=60`.
    pub fragment: u32,
    /// `[[timeouts.port]]`: per-destination-port overrides, at most
    /// [`MAX_PORT_OVERRIDES`](Self::MAX_PORT_OVERRIDES), no two for the same protocol and port.
    pub port: Vec<PortTimeout>,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            tcp_syn_hold: 6,
            icmp: 60,
            fragment: 2,
            port: Vec::new(),
        }
    }
}

impl TimeoutsConfig {
    /// Most `[[timeouts.port]]` entries.
    pub const MAX_PORT_OVERRIDES: usize = 8;
    /// Largest value of any idle timeout (7 days).
    pub const MAX_IDLE_SECS: u32 = 7 * 86400;

    /// The override for traffic of `protocol` to destination port `port`, if there is one.
    pub fn port_override(&self, protocol: L4Proto, port: u16) -> Option<&PortTimeout> {
        self.port
            .iter()
            .find(|p| p.protocol == protocol && p.port == port)
    }
}

/// One `[[timeouts.port]]` entry: a different idle timeout for traffic to one destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PortTimeout {
    /// `"udp"` or `"tcp"`.
    pub protocol: L4Proto,
    /// Destination port, `1..=65535`.
    pub port: u16,
    /// Seconds. For UDP it replaces `timeouts.udp`; for TCP it replaces
    /// `timeouts.tcp_established` (the transitory timer is unchanged).
    pub timeout: u32,
}

impl PortTimeout {
    /// `timeout` as a [`Duration`].
    pub fn duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout))
    }
}

/// A transport protocol that has ports: `"udp"` or `"tcp"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L4Proto {
    /// `"udp"` (IP protocol 17).
    Udp,
    /// `"tcp"` (IP protocol 6).
    Tcp,
}

impl L4Proto {
    /// The IP protocol number (17 or 6).
    pub fn ip_proto(self) -> u8 {
        match self {
            L4Proto::Udp => 17,
            L4Proto::Tcp => 6,
        }
    }
}

impl std::fmt::Display for L4Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            L4Proto::Udp => "UDP",
            L4Proto::Tcp => "TCP",
        })
    }
}

/// `[limits]`: per-subscriber state limits and the ICMP error rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct LimitsConfig {
    /// Most bindings plus sessions one subscriber may hold (RFC 6888 REQ-5): `1..=1000000`.
    pub max_sessions_per_subscriber: u32,
    /// ICMP errors (3/13, 3/3, 3/4, 11/0) each worker may generate per second (token bucket);
    /// 0 = never send any. `0..=100000`.
    pub icmp_errors_per_second: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_sessions_per_subscriber: 10_000,
            icmp_errors_per_second: 100,
        }
    }
}

/// `[fragments]`: how much fragment state each worker keeps (RFC 4787 REQ-14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct FragmentsConfig {
    /// Fragmented datagrams tracked at once per worker: `16..=1048576`.
    pub max_datagrams: u32,
    /// Out-of-order fragments (arriving before their first fragment) held per worker; 0 = drop
    /// them.
    pub max_held: u16,
    /// Out-of-order fragments held per datagram: `1..=64`, and at most `max_held` unless that is
    /// 0.
    pub max_held_per_datagram: u16,
}

impl Default for FragmentsConfig {
    fn default() -> Self {
        FragmentsConfig {
            max_datagrams: 4096,
            max_held: 256,
            max_held_per_datagram: 16,
        }
    }
}

/// `[nat]`: traffic that is not translated, and TCP MSS clamping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct NatConfig {
    /// Destination prefixes forwarded from the inside without translation (RFC 6888 REQ-6), at
    /// most [`MAX_NO_TRANSLATE`](Self::MAX_NO_TRANSLATE). None may overlap the pool, the inside
    /// on-link prefix or `inside.subscribers`.
    pub no_translate: Vec<Ipv4Prefix>,
    /// 0 = off; else `536..=9000` and at most the smaller port MTU minus 40: the MSS option of
    /// TCP SYNs is lowered to this value.
    pub tcp_mss_clamp: u16,
}

impl NatConfig {
    /// Most `no_translate` prefixes.
    pub const MAX_NO_TRANSLATE: usize = 64;

    /// Whether `dst` is a destination that is forwarded without translation.
    pub fn is_no_translate(&self, dst: Ipv4Addr) -> bool {
        self.no_translate.iter().any(|p| p.contains(dst))
    }
}

/// `[logging]`: the event sinks. Each is optional; with none configured, events still go to
/// `cgnatd`'s own log (target `cgnat::events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct LoggingConfig {
    /// IPFIX collector (RFC 7011 over UDP), e.g. `"127.0.0.1:4739"`.
    pub ipfix_collector: Option<std::net::SocketAddrV4>,
    /// Seconds between template re-sends (RFC 7011 §8.4: over UDP, templates are re-sent
    /// periodically), 1..=3600; default 60.
    pub ipfix_template_refresh_secs: u32,
    /// IPFIX observation domain ID; default 1.
    pub ipfix_observation_domain: u32,
    /// Syslog server (RFC 5424 over UDP, one message per datagram), e.g. `"127.0.0.1:5514"`.
    pub syslog_server: Option<std::net::SocketAddrV4>,
    /// HOSTNAME field of syslog messages; default `"cgnat"`.
    pub syslog_hostname: String,
    /// File the same RFC 5424 messages are appended to, one per line, rotated by size.
    pub syslog_file: Option<std::path::PathBuf>,
    /// Rotate the syslog file at this size, bytes (>= 4096); default 100 MiB.
    pub syslog_file_max_bytes: u64,
    /// Rotated syslog files kept (1..=100); default 5.
    pub syslog_file_keep: u32,
    /// JSON-lines file, rotated by size.
    pub json_file: Option<std::path::PathBuf>,
    /// Rotate the JSON file at this size, bytes (>= 4096); default 100 MiB.
    pub json_max_bytes: u64,
    /// Rotated JSON files kept (1..=100); default 5.
    pub json_keep: u32,
    /// Per-session logging (natEvent 4/5, syslog SADD/SDEL) on; default off (port-block
    /// logging is what RFC 6888 REQ-13/14 needs).
    pub sessions: bool,
    /// Log sessions only of subscribers in these prefixes; empty: every subscriber.
    pub session_prefixes: Vec<Ipv4Prefix>,
    /// Include the remote endpoint in session records; default off (RFC 6888 REQ-12).
    pub session_destinations: bool,
    /// Events each worker may have waiting for the control thread (64..=1048576); beyond it
    /// events are dropped and counted (`log_event_queue_full`), never waited for. Default 65536.
    pub event_queue: u32,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            ipfix_collector: None,
            ipfix_template_refresh_secs: 60,
            ipfix_observation_domain: 1,
            syslog_server: None,
            syslog_hostname: "cgnat".into(),
            syslog_file: None,
            syslog_file_max_bytes: 100 * 1024 * 1024,
            syslog_file_keep: 5,
            json_file: None,
            json_max_bytes: 100 * 1024 * 1024,
            json_keep: 5,
            sessions: false,
            session_prefixes: Vec::new(),
            session_destinations: false,
            event_queue: 65_536,
        }
    }
}

/// `[api]`: the management API (gRPC, `proto/cgnat/v1/`) and the Prometheus `/metrics`
/// endpoint. Every key needs a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ApiConfig {
    /// Serve the gRPC API at all; default `true`.
    pub enabled: bool,
    /// Address and port of the gRPC API; default `127.0.0.1:50051`.
    pub listen: std::net::SocketAddr,
    /// File holding the bearer token (one line; surrounding whitespace ignored). Without it,
    /// every mutating RPC is refused (PERMISSION_DENIED).
    pub token_file: Option<std::path::PathBuf>,
    /// Read-only RPCs also need the token; default `false`. Needs `token_file`.
    pub require_token_for_reads: bool,
    /// Serve Prometheus metrics at all; default `true`.
    pub metrics_enabled: bool,
    /// Address and port of the HTTP `/metrics` endpoint; default `127.0.0.1:9440`.
    pub metrics_listen: std::net::SocketAddr,
    /// File keeping the API changes that must survive a restart (pool prefixes added, public
    /// addresses drained; `control::state`). None: they last until the process stops.
    pub state_file: Option<std::path::PathBuf>,
    /// PEM certificate chain the gRPC API presents: with `tls_key`, the API speaks TLS only.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificate(s): clients must present a certificate one of them signed (mTLS);
    /// such a client is authenticated for every RPC, with or without a token. Needs TLS.
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// Largest request message the API decodes, bytes; default 65536. Larger ones are
    /// refused with RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
}

impl ApiConfig {
    /// Default of `listen`.
    pub const DEFAULT_LISTEN: std::net::SocketAddr =
        std::net::SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));
    /// Default of `max_request_bytes`: far above any real request (the largest is a
    /// `ChangeConfig` with a list of ALG ports), far below what would cost memory.
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 65_536;
    /// Bounds of `max_request_bytes`.
    pub const MAX_REQUEST_BYTES_RANGE: (usize, usize) = (1024, 4 << 20);
    /// Default of `metrics_listen`.
    pub const DEFAULT_METRICS_LISTEN: std::net::SocketAddr =
        std::net::SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9440));
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: Self::DEFAULT_LISTEN,
            token_file: None,
            require_token_for_reads: false,
            metrics_enabled: true,
            metrics_listen: Self::DEFAULT_METRICS_LISTEN,
            state_file: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

/// `[alg.ftp]`, `[alg.tftp]`: one ALG's switch and the server ports that select it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct AlgSwitch {
    /// New sessions to these ports get the ALG; default `true`. Live.
    #[serde(default = "AlgSwitch::default_enabled")]
    pub enabled: bool,
    /// Server ports (TCP for FTP, UDP for TFTP), 1 to [`AlgSectionConfig::MAX_PORTS`], no
    /// duplicates, none 0. Live.
    pub ports: Vec<u16>,
}

impl AlgSwitch {
    fn default_enabled() -> bool {
        true
    }
}

/// `[alg.h323]`: the H.323 ALG (`docs/alg.md`, "H.323"). Every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct H323Switch {
    /// New call signalling connections and RAS datagrams get the ALG; default `false` (as
    /// Linux's opt-in nf_conntrack_h323: the signalling is TCP but most pinholes it opens
    /// are UDP, RTP/RTCP and RAS, and RFC 4787 REQ-10 wants UDP ALGs off by default). Live.
    pub enabled: bool,
    /// Q.931/H.225.0 call signalling server ports (TCP), as `alg.ftp.ports`; default
    /// `[1720]`. Live.
    pub ports: Vec<u16>,
    /// RAS ports (UDP), as `alg.ftp.ports`; default `[1719]`. Live.
    pub ras_ports: Vec<u16>,
}

impl Default for H323Switch {
    fn default() -> Self {
        Self {
            enabled: false,
            ports: vec![1720],
            ras_ports: vec![1719],
        }
    }
}

/// `[alg.rtsp]`: the RTSP ALG (`docs/alg.md`, "RTSP").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct RtspAlgConfig {
    /// New sessions to these ports get the ALG; default `false` (RFC 4787 REQ-10: the
    /// pinholes RTSP opens, RTP and RTCP, are UDP). Live.
    pub enabled: bool,
    /// RTSP server ports (TCP), 1 to [`AlgSectionConfig::MAX_PORTS`], no duplicates, none 0,
    /// none shared with `alg.ftp.ports`; default `[554]`. Live.
    pub ports: Vec<u16>,
    /// A `destination=` in a SETUP naming a host other than the client: `"refuse"` (default:
    /// the SETUP passes unmodified, no pinhole) or `"strip"` (the parameter is removed, the
    /// server sends to the client). Naming the client itself is always removed. Live.
    pub destination: RtspDestination,
}

impl Default for RtspAlgConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ports: vec![554],
            destination: RtspDestination::Refuse,
        }
    }
}

/// `alg.rtsp.destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspDestination {
    /// `"refuse"`: pass the SETUP unmodified and open nothing.
    #[default]
    Refuse,
    /// `"strip"`: remove the parameter.
    Strip,
}

/// `[alg.pptp]`: the PPTP ALG (`docs/alg.md`, "PPTP"). Every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct PptpAlgConfig {
    /// New control connections to these ports get the ALG; default `false` (as Linux's
    /// nf_conntrack_pptp, which needs explicit helper assignment; the pinholes PPTP opens are
    /// GRE, RFC 4787 REQ-10 reasoning). Live.
    pub enabled: bool,
    /// PPTP server ports (TCP), as `alg.ftp.ports`, none shared with another TCP ALG; default
    /// `[1723]`. Live.
    pub ports: Vec<u16>,
    /// Seconds a call's GRE translation lives without a packet (either direction),
    /// `1..=86400`; default 300 (the UDP default, RFC 4787 REQ-5). The call's end removes it
    /// earlier. Live.
    pub gre_timeout_secs: u32,
}

impl Default for PptpAlgConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ports: vec![1723],
            gre_timeout_secs: 300,
        }
    }
}

/// `[alg.sip]`: the SIP ALG, UDP and TCP (`docs/alg.md`, "SIP").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct SipAlgConfig {
    /// New SIP masters to or from these ports get the ALG; default `false` (RFC 4787 REQ-10:
    /// the pinholes SIP opens, RTP, RTCP and the registered Contact, are mostly UDP). Live.
    pub enabled: bool,
    /// SIP server ports, UDP and TCP, 1 to [`AlgSectionConfig::MAX_PORTS`], no duplicates,
    /// none 0, none shared with another ALG's ports of the same protocol; default `[5060]`.
    /// Live.
    pub ports: Vec<u16>,
    /// SIP expectations (media pinholes and relations, registrations) one subscriber may
    /// have waiting on a worker, `2..=1024`; beyond, a message's media open nothing
    /// (`alg_sip_call_limit`). Default 16. Live.
    pub max_expectations_per_subscriber: u16,
    /// Longest life of a registration's inbound expectation, seconds, `60..=86400`: the
    /// Expires the registrar granted, capped by this. Default 3600. Live.
    pub register_max_secs: u32,
}

impl Default for SipAlgConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ports: vec![5060],
            max_expectations_per_subscriber: 16,
            register_max_secs: 3600,
        }
    }
}

/// `[alg]`: the ALGs (`docs/alg.md`) and their expectations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct AlgSectionConfig {
    /// FTP (TCP); default on, port 21.
    pub ftp: AlgSwitch,
    /// TFTP (UDP); default off (RFC 4787 REQ-10: UDP ALGs off by default), port 69.
    pub tftp: AlgSwitch,
    /// H.323 (TCP call signalling and H.245, UDP RAS); default off, ports 1720 and 1719.
    pub h323: H323Switch,
    /// RTSP (TCP); default off (RFC 4787 REQ-10: the pinholes it opens are UDP), port 554.
    pub rtsp: RtspAlgConfig,
    /// SIP (UDP and TCP); default off (RFC 4787 REQ-10), port 5060.
    pub sip: SipAlgConfig,
    /// Expectations each worker holds at once, `1..=1048576`; beyond, the oldest is evicted.
    /// Default 4096. Restart.
    pub max_expectations_per_worker: u32,
    /// ALG control sessions (FTP) each worker tracks at once, `1..=1048576`; beyond, new
    /// sessions run without the ALG (counted). Default 4096. Restart.
    pub max_sessions_per_worker: u32,
    /// Expectations one control session (or TFTP request) may have, `1..=8`; beyond, its
    /// oldest is evicted. Default 1 (as Linux). Live.
    pub max_expectations_per_session: u8,
    /// Seconds an expectation waits for its connection, `1..=3600`; default 300. Live.
    pub expectation_timeout_secs: u32,
    /// PPTP (TCP control, GRE calls); default off, port 1723.
    pub pptp: PptpAlgConfig,
}

impl AlgSectionConfig {
    /// Most ports per ALG.
    pub const MAX_PORTS: usize = 16;
}

impl Default for AlgSectionConfig {
    fn default() -> Self {
        Self {
            ftp: AlgSwitch {
                enabled: true,
                ports: vec![21],
            },
            tftp: AlgSwitch {
                enabled: false,
                ports: vec![69],
            },
            h323: H323Switch::default(),
            rtsp: RtspAlgConfig::default(),
            sip: SipAlgConfig::default(),
            max_expectations_per_worker: 4096,
            max_sessions_per_worker: 4096,
            max_expectations_per_session: 1,
            expectation_timeout_secs: 300,
            pptp: PptpAlgConfig::default(),
        }
    }
}
