//! Plain Rust types of the management API: what an [`Appliance`](super::Appliance) returns and
//! takes. No protobuf here, so the daemon implements the trait without knowing prost; the
//! translation to and from `cgnat.v1` messages is in `convert`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use crate::config::PoolEntry;

/// A transport protocol of a binding or session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP query (echo); the "port" is the identifier.
    Icmp,
}

impl Protocol {
    /// Lower-case name (`"tcp"`), as used in metrics labels and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

/// The appliance's serving state, reflected in `grpc.health.v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServingState {
    /// Ports not all up, or workers not polling yet (health NOT_SERVING).
    #[default]
    Starting,
    /// Every port up and every worker polling (health SERVING).
    Serving,
    /// Shutting down (health NOT_SERVING).
    Draining,
}

/// Which port of the appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRole {
    /// The subscriber-facing port.
    Inside,
    /// The Internet-facing port.
    Outside,
}

impl PortRole {
    /// `"inside"` or `"outside"`.
    pub fn name(self) -> &'static str {
        match self {
            PortRole::Inside => "inside",
            PortRole::Outside => "outside",
        }
    }
}

/// Answer of `GetStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSnapshot {
    /// Software version.
    pub version: String,
    /// When the daemon started.
    pub started_at: SystemTime,
    /// Workers, by id.
    pub workers: Vec<WorkerStatus>,
    /// Both ports.
    pub ports: Vec<PortStatus>,
    /// Public addresses being drained.
    pub draining: Vec<Ipv4Addr>,
}

/// One worker's state.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerStatus {
    /// Worker index, 0-based.
    pub id: u32,
    /// The lcore it runs on.
    pub lcore: u32,
    /// Whether it has entered its poll loop.
    pub polling: bool,
    /// Share of poll iterations that did work, `0.0..=1.0`.
    pub busy_ratio: f64,
}

/// One port's link state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    /// Inside or outside.
    pub role: PortRole,
    /// DPDK device name.
    pub device: String,
    /// Link up.
    pub link_up: bool,
    /// Link speed, Mbit/s (0 when unknown).
    pub speed_mbps: u32,
}

/// Answer of `GetStats`, and what `/metrics` is rendered from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsSnapshot {
    /// Per worker.
    pub workers: Vec<WorkerStats>,
    /// Per port (totals over all queues).
    pub ports: Vec<PortStats>,
    /// Drop counters summed over the workers, `(name, value)`, names as in
    /// `docs/counters.md` (`drop_no_binding`), every reason listed.
    pub drops: Vec<(String, u64)>,
    /// Per ALG.
    pub algs: Vec<AlgStatus>,
    /// Sessions and bindings by protocol.
    pub by_protocol: Vec<ProtocolCount>,
    /// Bindings plus sessions the tables can hold, over all workers.
    pub session_capacity: u64,
    /// `limits.max_sessions_per_subscriber`.
    pub sessions_per_subscriber_limit: u64,
    /// Port-block usage per configured pool entry.
    pub pools: Vec<PoolUsage>,
    /// Port-block usage per public address.
    pub addresses: Vec<AddressUsage>,
    /// Per log sink.
    pub log_sinks: Vec<LogSinkHealth>,
    /// Worker events dropped on full rings.
    pub events_dropped: u64,
}

/// One worker's counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkerStats {
    /// Worker index.
    pub id: u32,
    /// Share of poll iterations that did work, `0.0..=1.0`.
    pub busy_ratio: f64,
    /// Sessions held.
    pub sessions: u64,
    /// Bindings held.
    pub bindings: u64,
    /// Every event and drop counter, `(name, value)`.
    pub counters: Vec<(String, u64)>,
}

/// One port's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStats {
    /// Inside or outside.
    pub role: PortRole,
    /// DPDK device name.
    pub device: String,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped by the NIC for lack of RX descriptors (`imissed`).
    pub rx_missed: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// One ALG: its switch, ports and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgStatus {
    /// `"ftp"`, `"tftp"`, `"sip"`, ...
    pub name: String,
    /// Whether new sessions get the ALG.
    pub enabled: bool,
    /// Server ports that select it.
    pub ports: Vec<u16>,
    /// Sessions it handles now.
    pub sessions: u64,
    /// Messages it rewrote.
    pub messages_rewritten: u64,
    /// Messages it could not handle (passed or dropped per policy).
    pub errors: u64,
}

/// Sessions and bindings of one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolCount {
    /// The protocol.
    pub protocol: Protocol,
    /// Sessions.
    pub sessions: u64,
    /// Bindings.
    pub bindings: u64,
}

/// Port-block usage of one configured pool entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// The entry as configured (`203.0.113.0/24`).
    pub entry: String,
    /// Addresses it contributes (after exclusions).
    pub addresses: u32,
    /// Blocks held by subscribers.
    pub blocks_in_use: u64,
    /// Blocks it has.
    pub blocks_total: u64,
}

/// Port-block usage of one public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressUsage {
    /// The public address.
    pub address: Ipv4Addr,
    /// Blocks held by subscribers.
    pub blocks_in_use: u32,
    /// Blocks it has.
    pub blocks_total: u32,
    /// Subscribers holding blocks on it.
    pub subscribers: u32,
    /// Whether it is being drained.
    pub draining: bool,
}

/// Health of one log sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSinkHealth {
    /// `"ipfix"`, `"syslog"` or `"json"`.
    pub sink: String,
    /// Collector address or file path.
    pub destination: String,
    /// No error since the last success.
    pub healthy: bool,
    /// Records written.
    pub records_sent: u64,
    /// Records lost (send errors, full queue).
    pub records_dropped: u64,
    /// The last error, if unhealthy.
    pub last_error: Option<String>,
}

/// Which bindings or sessions to list. Unset fields match everything; set ones are ANDed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntryFilter {
    /// Inside address.
    pub subscriber: Option<Ipv4Addr>,
    /// Public address.
    pub public: Option<Ipv4Addr>,
    /// Public port.
    pub public_port: Option<u16>,
    /// Protocol.
    pub protocol: Option<Protocol>,
    /// At most this many entries.
    pub limit: Option<u64>,
}

/// One binding (endpoint-independent mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Protocol.
    pub protocol: Protocol,
    /// Subscriber address and port.
    pub inside: SocketAddrV4,
    /// Public address and port.
    pub public: SocketAddrV4,
    /// Owning worker.
    pub worker: u32,
    /// Sessions under it.
    pub sessions: u32,
    /// Time since the last packet.
    pub idle: Duration,
}

/// One session (per remote endpoint under a binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Protocol.
    pub protocol: Protocol,
    /// Subscriber address and port.
    pub inside: SocketAddrV4,
    /// Public address and port.
    pub public: SocketAddrV4,
    /// Remote address and port.
    pub remote: SocketAddrV4,
    /// Owning worker.
    pub worker: u32,
    /// TCP state, if TCP.
    pub state: Option<String>,
    /// ALG handling it, if any.
    pub alg: Option<String>,
    /// Time since the last packet.
    pub idle: Duration,
    /// Time left before expiry.
    pub expires_in: Duration,
}

impl EntryFilter {
    /// Whether an entry with these fields matches.
    pub fn matches(&self, protocol: Protocol, inside: SocketAddrV4, public: SocketAddrV4) -> bool {
        self.protocol.is_none_or_eq(protocol)
            && self.subscriber.is_none_or_eq(*inside.ip())
            && self.public.is_none_or_eq(*public.ip())
            && self.public_port.is_none_or_eq(public.port())
    }
}

/// `Option::is_none_or(|x| x == v)` for Rust 1.80 (the workspace's `rust-version`).
trait NoneOrEq<T> {
    fn is_none_or_eq(&self, v: T) -> bool;
}

impl<T: PartialEq> NoneOrEq<T> for Option<T> {
    fn is_none_or_eq(&self, v: T) -> bool {
        match self {
            Some(x) => *x == v,
            None => true,
        }
    }
}

/// Which port blocks to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFilter {
    /// Every block held now.
    All,
    /// The blocks of one subscriber.
    Subscriber(Ipv4Addr),
    /// The blocks on one public address.
    Public(Ipv4Addr),
}

/// A port block held by a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortBlock {
    /// Public address.
    pub public: Ipv4Addr,
    /// First port.
    pub port_start: u16,
    /// Last port (inclusive).
    pub port_end: u16,
    /// Subscriber holding it.
    pub subscriber: Ipv4Addr,
    /// When it was allocated; `None` in deterministic mode.
    pub allocated_at: Option<SystemTime>,
}

/// Where an abuse-lookup answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupSource {
    /// The port-block registry (dynamic mode).
    Registry,
    /// The RFC 7422 formula over the running configuration (deterministic mode).
    Deterministic,
}

/// Answer of an abuse lookup: who held `public:port` at the time asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupAnswer {
    /// The subscriber.
    pub subscriber: Ipv4Addr,
    /// The public address asked about.
    pub public: Ipv4Addr,
    /// First port of the block or range that contains the port.
    pub port_start: u16,
    /// Last port of it.
    pub port_end: u16,
    /// Allocation time (registry only).
    pub allocated_at: Option<SystemTime>,
    /// Release time, if released (registry only).
    pub released_at: Option<SystemTime>,
    /// How it was answered.
    pub source: LookupSource,
}

/// A live change asked for through `ChangeConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Set one live key (`timeouts.udp`) to a TOML value (`"600"`).
    Set {
        /// Dotted key.
        key: String,
        /// The value in TOML syntax (a bare word is taken as a string).
        value: String,
    },
    /// Switch an ALG on or off and/or replace its ports.
    Alg {
        /// ALG name.
        name: String,
        /// New switch, if given.
        enabled: Option<bool>,
        /// New ports, if given (non-empty).
        ports: Option<Vec<u16>>,
    },
    /// Add a pool entry.
    AddPoolEntry(PoolEntry),
    /// Stop giving new blocks on a public address.
    Drain(Ipv4Addr),
    /// Give new blocks on a drained address again.
    Undrain(Ipv4Addr),
}

/// A change that passed validation: what the appliance is asked to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChange {
    /// The change as asked.
    pub change: ConfigChange,
    /// The configuration after the change (equal to the running one for ALG and drain
    /// changes, which are not config-file keys).
    pub config: crate::Config,
    /// One line saying what changes.
    pub summary: String,
}

/// An event for `WatchEvents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEvent {
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: ApiEventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiEventKind {
    /// A port block was allocated.
    BlockAllocated {
        /// Subscriber.
        subscriber: Ipv4Addr,
        /// Public address.
        public: Ipv4Addr,
        /// First port.
        port_start: u16,
        /// Last port.
        port_end: u16,
    },
    /// A port block was released.
    BlockReleased {
        /// Subscriber.
        subscriber: Ipv4Addr,
        /// Public address.
        public: Ipv4Addr,
        /// First port.
        port_start: u16,
        /// Last port.
        port_end: u16,
    },
    /// A subscriber used all its ports and may not get another block.
    PortsExhausted {
        /// Subscriber.
        subscriber: Ipv4Addr,
        /// Its public address, if it has one.
        public: Option<Ipv4Addr>,
    },
    /// No public address had a free block for a subscriber.
    PoolExhausted {
        /// Subscriber.
        subscriber: Ipv4Addr,
    },
    /// A live change was applied.
    ConfigChanged {
        /// What changed.
        summary: String,
    },
    /// The serving state changed.
    HealthChanged {
        /// The new state.
        state: ServingState,
    },
}
