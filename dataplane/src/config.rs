//! The worker's view of the configuration: already validated and converted to host-order
//! integers by the daemon, so the dataplane has no dependency on the config format.

use crate::alg_glue::AlgConfig;
use crate::deterministic::DeterministicMap;
use crate::fragments::FragParams;
use crate::nat::{Filtering, SessionLogPolicy, Timeouts};
use crate::neighbors::NeighborParams;
use crate::steer::Steering;

/// One port's addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortAddr {
    /// The appliance's address on this port.
    pub addr: u32,
    /// On-link prefix length.
    pub prefix_len: u8,
    /// Next hop for off-link destinations.
    pub next_hop: Option<u32>,
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// Largest IP datagram sent on this port.
    pub mtu: u16,
}

impl PortAddr {
    /// Whether `ip` is on this port's link.
    #[inline]
    pub fn on_link(&self, ip: u32) -> bool {
        prefix_contains(self.addr, self.prefix_len, ip)
    }
}

/// Whether `ip` is inside `net/len`.
#[inline]
pub fn prefix_contains(net: u32, len: u8, ip: u32) -> bool {
    if len == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - u32::from(len.min(32)));
    (net & mask) == (ip & mask)
}

/// Everything one worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's index (0-based).
    pub worker_id: u16,
    /// Number of workers.
    pub n_workers: u16,
    /// Inside port.
    pub inside: PortAddr,
    /// Outside port.
    pub outside: PortAddr,
    /// Accepted subscriber source prefixes (network, length).
    pub subscribers: Vec<(u32, u8)>,
    /// Public pool addresses, sorted ascending.
    pub pool: Vec<u32>,
    /// First usable port.
    pub port_min: u16,
    /// Last usable port.
    pub port_max: u16,
    /// Ports per block.
    pub block_size: u16,
    /// Blocks per subscriber.
    pub max_blocks_per_subscriber: u16,
    /// Binding table capacity.
    pub max_bindings: u32,
    /// Subscriber table capacity.
    pub max_subscribers: u32,
    /// Session table capacity.
    pub max_sessions: u32,
    /// Bindings plus sessions one subscriber may hold (RFC 6888 REQ-5).
    pub max_sessions_per_subscriber: u32,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Inbound filtering.
    pub filtering: Filtering,
    /// Keep the inside port's parity (RFC 4787 REQ-4).
    pub preserve_parity: bool,
    /// Seconds a freed port or block waits before reuse (RFC 6888 REQ-8).
    pub hold_down_secs: u32,
    /// Deterministic mode (RFC 7422), replacing dynamic block allocation.
    pub deterministic: Option<DeterministicMap>,
    /// Destinations forwarded without translation (RFC 6888 REQ-6).
    pub no_translate: Vec<(u32, u8)>,
    /// Lower the MSS option of TCP SYNs to this (0: off).
    pub tcp_mss_clamp: u16,
    /// Fragment table parameters.
    pub fragments: FragParams,
    /// Unsolicited inbound SYNs held at once.
    pub max_syn_hold: u32,
    /// Translate (normal operation). `false` forwards IPv4 between the ports unchanged except
    /// for TTL and MACs: the benchmark's I/O ceiling (`forward_mpps_per_core`), never a
    /// production setting.
    pub translate: bool,
    /// ARP cache parameters (same for both ports).
    pub neighbors: NeighborParams,
    /// ICMP errors the worker may generate per second (token bucket, burst the same).
    pub icmp_error_rate: u32,
    /// Seed for port randomisation.
    pub seed: u64,
    /// How frames reach their owner when there is more than one worker.
    pub steering: Steering,
    /// Per-session logging (natEvent 4/5 events).
    pub session_log: SessionLogPolicy,
    /// ALGs: which, on which server ports, expectation limits (`alg_glue.rs`).
    pub alg: AlgConfig,
}

impl WorkerConfig {
    /// A small configuration matching the lab (`lab/cgnat.toml`), for tests and benches.
    pub fn lab_default() -> Self {
        Self {
            worker_id: 0,
            n_workers: 1,
            inside: PortAddr {
                addr: 0x6440_0001,
                prefix_len: 10,
                next_hop: None,
                mac: [0x02, 0, 0, 0, 0, 0x01],
                mtu: 1500,
            },
            outside: PortAddr {
                addr: 0xc633_6401,
                prefix_len: 24,
                next_hop: Some(0xc633_6402),
                mac: [0x02, 0, 0, 0, 0, 0x02],
                mtu: 1500,
            },
            subscribers: vec![(0x6440_0000, 10)],
            pool: (0..256u32).map(|i| 0xcb00_7100 + i).collect(),
            port_min: 1024,
            port_max: 65535,
            block_size: 512,
            max_blocks_per_subscriber: 4,
            max_bindings: 65536,
            max_subscribers: 4096,
            max_sessions: 65536,
            max_sessions_per_subscriber: 10_000,
            timeouts: Timeouts::default(),
            filtering: Filtering::EndpointIndependent,
            preserve_parity: false,
            hold_down_secs: 120,
            deterministic: None,
            no_translate: Vec::new(),
            tcp_mss_clamp: 0,
            fragments: FragParams::default(),
            max_syn_hold: 1024,
            translate: true,
            neighbors: NeighborParams::default(),
            icmp_error_rate: 100,
            seed: 0x5eed,
            steering: Steering::default(),
            session_log: SessionLogPolicy::default(),
            alg: AlgConfig::default(),
        }
    }
}
