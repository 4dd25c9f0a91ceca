//! The worker's view of the configuration: already validated and converted to host-order
//! integers by the daemon, so the dataplane has no dependency on the config format.

use crate::nat::Timeouts;
use crate::neighbors::NeighborParams;

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
    /// Binding timeouts.
    pub timeouts: Timeouts,
    /// ARP cache parameters (same for both ports).
    pub neighbors: NeighborParams,
    /// ICMP errors the worker may generate per second (token bucket, burst the same).
    pub icmp_error_rate: u32,
    /// Seed for port randomisation.
    pub seed: u64,
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
            },
            outside: PortAddr {
                addr: 0xc633_6401,
                prefix_len: 24,
                next_hop: Some(0xc633_6402),
                mac: [0x02, 0, 0, 0, 0, 0x02],
            },
            subscribers: vec![(0x6440_0000, 10)],
            pool: (0..256u32).map(|i| 0xcb00_7100 + i).collect(),
            port_min: 1024,
            port_max: 65535,
            block_size: 512,
            max_blocks_per_subscriber: 4,
            max_bindings: 65536,
            max_subscribers: 4096,
            timeouts: Timeouts::default(),
            neighbors: NeighborParams::default(),
            icmp_error_rate: 100,
            seed: 0x5eed,
        }
    }
}
