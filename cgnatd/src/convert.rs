//! Turns the validated operator configuration (`control::Config`) into what each worker
//! needs (`dataplane::WorkerConfig`): host-order integers, expanded pool, derived limits.

use control::Config;
use dataplane::alg_glue::{AlgConfig, AlgPorts, RtspDestinationPolicy};
use dataplane::deterministic::DeterministicMap;
use dataplane::fragments::FragParams;
use dataplane::nat::SessionLogPolicy;
use dataplane::nat::{Filtering, Timeouts, MAX_BLOCKS_PER_SUBSCRIBER};
use dataplane::neighbors::NeighborParams;
use dataplane::steer::{SteerMode, Steering};
use dataplane::timeouts::PortTimeout;
use dataplane::{PortAddr, WorkerConfig};

/// A configuration the dataplane cannot run although `control` accepted it.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A value beyond a dataplane limit.
    #[error("{key}: {problem}")]
    Limit {
        /// The config key.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// Builds the configuration of worker `worker_id`, given each port's MAC address.
pub fn worker_config(
    cfg: &Config,
    worker_id: u16,
    in_mac: [u8; 6],
    out_mac: [u8; 6],
    seed: u64,
) -> Result<WorkerConfig, ConvertError> {
    let limit = |key, problem: String| ConvertError::Limit { key, problem };
    let max_blocks = u16::try_from(cfg.pool.max_blocks_per_subscriber)
        .ok()
        .filter(|&m| usize::from(m) <= MAX_BLOCKS_PER_SUBSCRIBER)
        .ok_or_else(|| {
            limit(
                "pool.max_blocks_per_subscriber",
                format!("at most {MAX_BLOCKS_PER_SUBSCRIBER} blocks per subscriber are supported (got {})", cfg.pool.max_blocks_per_subscriber),
            )
        })?;
    let block_size = u16::try_from(cfg.pool.block_size).map_err(|_| {
        limit(
            "pool.block_size",
            format!("too large ({})", cfg.pool.block_size),
        )
    })?;
    let pool: Vec<u32> = cfg.pool.addresses().into_iter().map(u32::from).collect();
    let subscribers: Vec<(u32, u8)> = cfg
        .inside
        .subscribers
        .iter()
        .map(|p| (u32::from(p.network().addr), p.len))
        .collect();
    let t = &cfg.timeouts;
    let deterministic = match cfg.pool.mode {
        control::PoolMode::Dynamic => None,
        control::PoolMode::Deterministic => Some(
            DeterministicMap::new(
                &subscribers,
                &pool,
                cfg.pool.port_min,
                cfg.pool.port_max,
                (cfg.pool.ports_per_subscriber != 0).then_some(cfg.pool.ports_per_subscriber),
            )
            .map_err(|e| limit("pool.mode", format!("deterministic mapping: {e}")))?,
        ),
    };
    let arp = &cfg.arp;
    let per_host = u16::try_from(arp.max_pending_per_host).unwrap_or(u16::MAX);
    let total = u16::try_from(arp.max_pending_total).unwrap_or(u16::MAX);
    Ok(WorkerConfig {
        worker_id,
        n_workers: cfg.dataplane.workers,
        inside: PortAddr {
            addr: u32::from(cfg.inside.address.addr),
            prefix_len: cfg.inside.address.len,
            next_hop: cfg.inside.next_hop.map(u32::from),
            mac: in_mac,
            mtu: cfg.inside.mtu,
        },
        outside: PortAddr {
            addr: u32::from(cfg.outside.address.addr),
            prefix_len: cfg.outside.address.len,
            next_hop: cfg.outside.next_hop.map(u32::from),
            mac: out_mac,
            mtu: cfg.outside.mtu,
        },
        subscribers: cfg
            .inside
            .subscribers
            .iter()
            .map(|p| (u32::from(p.network().addr), p.len))
            .collect(),
        pool,
        port_min: cfg.pool.port_min,
        port_max: cfg.pool.port_max,
        block_size,
        max_blocks_per_subscriber: max_blocks,
        max_bindings: cfg.dataplane.max_bindings_per_worker,
        max_subscribers: cfg.dataplane.max_subscribers_per_worker,
        max_sessions: cfg.dataplane.max_bindings_per_worker,
        max_sessions_per_subscriber: cfg.limits.max_sessions_per_subscriber,
        timeouts: Timeouts {
            udp: t.udp,
            tcp_established: t.tcp_established,
            tcp_transitory: t.tcp_transitory,
            tcp_syn_hold: t.tcp_syn_hold,
            icmp: t.icmp,
            per_port: t
                .port
                .iter()
                .map(|p| PortTimeout {
                    proto: p.protocol.ip_proto(),
                    port: p.port,
                    secs: p.timeout,
                })
                .collect(),
        },
        filtering: match cfg.pool.filtering {
            control::Filtering::EndpointIndependent => Filtering::EndpointIndependent,
            control::Filtering::AddressDependent => Filtering::AddressDependent,
            control::Filtering::AddressAndPortDependent => Filtering::AddressAndPortDependent,
        },
        preserve_parity: cfg.pool.preserve_parity,
        hold_down_secs: cfg.pool.hold_down_secs,
        deterministic,
        no_translate: cfg
            .nat
            .no_translate
            .iter()
            .map(|p| (u32::from(p.network().addr), p.len))
            .collect(),
        tcp_mss_clamp: cfg.nat.tcp_mss_clamp,
        fragments: FragParams {
            timeout_ns: u64::from(t.fragment) * 1_000_000_000,
            max_datagrams: cfg.fragments.max_datagrams,
            max_held_per_datagram: cfg.fragments.max_held_per_datagram,
            max_held_total: cfg.fragments.max_held,
        },
        max_syn_hold: 4096,
        translate: true,
        neighbors: NeighborParams {
            entry_timeout_ns: u64::from(arp.entry_timeout_secs) * 1_000_000_000,
            request_interval_ns: u64::from(arp.request_interval_ms) * 1_000_000,
            max_pending_per_host: per_host,
            max_pending_total: total,
            max_entries: 65536,
        },
        icmp_error_rate: cfg.limits.icmp_errors_per_second,
        seed,
        // The daemon switches a side to `Nic` once the port accepted the steering setup.
        steering: Steering {
            inside: SteerMode::Software,
            outside: SteerMode::Software,
            outbox: cfg.dataplane.burst.saturating_mul(4).max(256),
        },
        session_log: SessionLogPolicy {
            enabled: cfg.logging.sessions,
            prefixes: cfg
                .logging
                .session_prefixes
                .iter()
                .map(|p| (u32::from(p.network().addr), p.len))
                .collect(),
            destinations: cfg.logging.session_destinations,
        },
        alg: AlgConfig {
            ftp: AlgPorts::new(cfg.alg.ftp.enabled, &cfg.alg.ftp.ports),
            tftp: AlgPorts::new(cfg.alg.tftp.enabled, &cfg.alg.tftp.ports),
            h323: AlgPorts::new(cfg.alg.h323.enabled, &cfg.alg.h323.ports),
            h323_ras: AlgPorts::new(cfg.alg.h323.enabled, &cfg.alg.h323.ras_ports),
            rtsp: AlgPorts::new(cfg.alg.rtsp.enabled, &cfg.alg.rtsp.ports),
            rtsp_destination: match cfg.alg.rtsp.destination {
                control::config::RtspDestination::Refuse => RtspDestinationPolicy::Refuse,
                control::config::RtspDestination::Strip => RtspDestinationPolicy::Strip,
            },
            sip: AlgPorts::new(cfg.alg.sip.enabled, &cfg.alg.sip.ports),
            sip_max_expectations_per_subscriber: cfg.alg.sip.max_expectations_per_subscriber,
            sip_register_max_secs: cfg.alg.sip.register_max_secs,
            max_expectations: cfg.alg.max_expectations_per_worker,
            max_sessions: cfg.alg.max_sessions_per_worker,
            max_expectations_per_session: cfg.alg.max_expectations_per_session,
            expectation_timeout_secs: cfg.alg.expectation_timeout_secs,
            pptp: AlgPorts::new(cfg.alg.pptp.enabled, &cfg.alg.pptp.ports),
            pptp_gre_timeout_secs: cfg.alg.pptp.gre_timeout_secs,
        },
    })
}
