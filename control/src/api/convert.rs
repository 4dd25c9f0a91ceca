//! Translation between the `cgnat.v1` messages and the [`model`](super::model) types, and the
//! parsing of request fields (each error names the field and is INVALID_ARGUMENT).

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use super::model as m;
use super::proto as pb;
use super::ApiError;

/// An IPv4 address field; `None` when empty.
pub fn opt_addr(field: &str, s: &str) -> Result<Option<Ipv4Addr>, ApiError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.trim()
        .parse()
        .map(Some)
        .map_err(|_| ApiError::invalid(format!("{field}: {s:?} is not an IPv4 address")))
}

/// A required IPv4 address field.
pub fn addr(field: &str, s: &str) -> Result<Ipv4Addr, ApiError> {
    opt_addr(field, s)?.ok_or_else(|| ApiError::invalid(format!("{field} is required")))
}

/// A port field (`0..=65535`).
pub fn port(field: &str, p: u32) -> Result<u16, ApiError> {
    u16::try_from(p).map_err(|_| ApiError::invalid(format!("{field}: {p} is not a port")))
}

/// A protocol field; `None` for UNSPECIFIED.
pub fn protocol(field: &str, v: i32) -> Result<Option<m::Protocol>, ApiError> {
    match pb::Protocol::try_from(v) {
        Ok(pb::Protocol::Unspecified) => Ok(None),
        Ok(pb::Protocol::Tcp) => Ok(Some(m::Protocol::Tcp)),
        Ok(pb::Protocol::Udp) => Ok(Some(m::Protocol::Udp)),
        Ok(pb::Protocol::Icmp) => Ok(Some(m::Protocol::Icmp)),
        Err(_) => Err(ApiError::invalid(format!("{field}: unknown protocol {v}"))),
    }
}

/// A timestamp field; `None` when unset.
pub fn time(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<SystemTime>, ApiError> {
    t.map(|t| {
        SystemTime::try_from(t)
            .map_err(|e| ApiError::invalid(format!("{field}: not a valid time ({e})")))
    })
    .transpose()
}

fn ts(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

fn dur(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or(prost_types::Duration {
        seconds: i64::MAX,
        nanos: 0,
    })
}

fn proto_protocol(p: m::Protocol) -> i32 {
    match p {
        m::Protocol::Tcp => pb::Protocol::Tcp as i32,
        m::Protocol::Udp => pb::Protocol::Udp as i32,
        m::Protocol::Icmp => pb::Protocol::Icmp as i32,
    }
}

/// The filter of `ListBindings` / `ListSessions`.
pub fn entry_filter(
    subscriber: &str,
    public: &str,
    public_port: u32,
    proto: i32,
    limit: u64,
) -> Result<m::EntryFilter, ApiError> {
    Ok(m::EntryFilter {
        subscriber: opt_addr("subscriber", subscriber)?,
        public: opt_addr("public_address", public)?,
        public_port: Some(port("public_port", public_port)?).filter(|&p| p != 0),
        protocol: protocol("protocol", proto)?,
        limit: Some(limit).filter(|&l| l != 0),
    })
}

/// The serving state as a proto enum value.
pub fn serving_state(s: m::ServingState) -> i32 {
    (match s {
        m::ServingState::Starting => pb::ServingState::Starting,
        m::ServingState::Serving => pb::ServingState::Serving,
        m::ServingState::Draining => pb::ServingState::Draining,
    }) as i32
}

/// `GetStatus` answer.
pub fn status(
    s: m::StatusSnapshot,
    state: m::ServingState,
    pool_mode: &str,
    now: SystemTime,
) -> pb::GetStatusResponse {
    pb::GetStatusResponse {
        version: s.version,
        started_at: Some(ts(s.started_at)),
        uptime: Some(dur(now.duration_since(s.started_at).unwrap_or_default())),
        state: serving_state(state),
        pool_mode: pool_mode.to_owned(),
        workers: s
            .workers
            .into_iter()
            .map(|w| pb::WorkerStatus {
                id: w.id,
                lcore: w.lcore,
                polling: w.polling,
                busy_ratio: w.busy_ratio,
            })
            .collect(),
        ports: s
            .ports
            .into_iter()
            .map(|p| pb::PortStatus {
                role: p.role.name().to_owned(),
                device: p.device,
                link_up: p.link_up,
                speed_mbps: p.speed_mbps,
            })
            .collect(),
        draining: s.draining.iter().map(ToString::to_string).collect(),
    }
}

fn counters(v: Vec<(String, u64)>) -> Vec<pb::Counter> {
    v.into_iter()
        .map(|(name, value)| pb::Counter { name, value })
        .collect()
}

/// One ALG.
pub fn alg(a: m::AlgStatus) -> pb::AlgStats {
    pb::AlgStats {
        name: a.name,
        enabled: a.enabled,
        ports: a.ports.into_iter().map(u32::from).collect(),
        sessions: a.sessions,
        messages_rewritten: a.messages_rewritten,
        errors: a.errors,
    }
}

/// `GetStats` answer.
pub fn stats(s: m::StatsSnapshot) -> pb::GetStatsResponse {
    pb::GetStatsResponse {
        workers: s
            .workers
            .into_iter()
            .map(|w| pb::WorkerStats {
                id: w.id,
                busy_ratio: w.busy_ratio,
                sessions: w.sessions,
                bindings: w.bindings,
                counters: counters(w.counters),
            })
            .collect(),
        ports: s
            .ports
            .into_iter()
            .map(|p| pb::PortStats {
                role: p.role.name().to_owned(),
                device: p.device,
                rx_packets: p.rx_packets,
                tx_packets: p.tx_packets,
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
                rx_missed: p.rx_missed,
                rx_errors: p.rx_errors,
                tx_errors: p.tx_errors,
            })
            .collect(),
        drops: counters(s.drops),
        algs: s.algs.into_iter().map(alg).collect(),
        by_protocol: s
            .by_protocol
            .into_iter()
            .map(|p| pb::ProtocolCount {
                protocol: proto_protocol(p.protocol),
                sessions: p.sessions,
                bindings: p.bindings,
            })
            .collect(),
        session_capacity: s.session_capacity,
        sessions_per_subscriber_limit: s.sessions_per_subscriber_limit,
        pools: s
            .pools
            .into_iter()
            .map(|p| pb::PoolUsage {
                entry: p.entry,
                addresses: p.addresses,
                blocks_in_use: p.blocks_in_use,
                blocks_total: p.blocks_total,
            })
            .collect(),
        addresses: s
            .addresses
            .into_iter()
            .map(|a| pb::AddressUsage {
                address: a.address.to_string(),
                blocks_in_use: a.blocks_in_use,
                blocks_total: a.blocks_total,
                subscribers: a.subscribers,
                draining: a.draining,
            })
            .collect(),
        log_sinks: s
            .log_sinks
            .into_iter()
            .map(|l| pb::LogSinkHealth {
                sink: l.sink,
                destination: l.destination,
                healthy: l.healthy,
                records_sent: l.records_sent,
                records_dropped: l.records_dropped,
                last_error: l.last_error.unwrap_or_default(),
            })
            .collect(),
        events_dropped: s.events_dropped,
    }
}

/// One binding.
pub fn binding(b: m::Binding) -> pb::Binding {
    pb::Binding {
        protocol: proto_protocol(b.protocol),
        subscriber: b.inside.ip().to_string(),
        inside_port: u32::from(b.inside.port()),
        public_address: b.public.ip().to_string(),
        public_port: u32::from(b.public.port()),
        worker: b.worker,
        sessions: b.sessions,
        idle: Some(dur(b.idle)),
    }
}

/// One session.
pub fn session(s: m::Session) -> pb::Session {
    pb::Session {
        protocol: proto_protocol(s.protocol),
        subscriber: s.inside.ip().to_string(),
        inside_port: u32::from(s.inside.port()),
        public_address: s.public.ip().to_string(),
        public_port: u32::from(s.public.port()),
        remote_address: s.remote.ip().to_string(),
        remote_port: u32::from(s.remote.port()),
        worker: s.worker,
        state: s.state.unwrap_or_default(),
        alg: s.alg.unwrap_or_default(),
        idle: Some(dur(s.idle)),
        expires_in: Some(dur(s.expires_in)),
    }
}

/// One port block.
pub fn block(b: m::PortBlock) -> pb::PortBlock {
    pb::PortBlock {
        public_address: b.public.to_string(),
        port_start: u32::from(b.port_start),
        port_end: u32::from(b.port_end),
        subscriber: b.subscriber.to_string(),
        allocated_at: b.allocated_at.map(ts),
    }
}

/// `Lookup` answer.
pub fn lookup(a: m::LookupAnswer) -> pb::LookupResponse {
    pb::LookupResponse {
        subscriber: a.subscriber.to_string(),
        public_address: a.public.to_string(),
        port_start: u32::from(a.port_start),
        port_end: u32::from(a.port_end),
        allocated_at: a.allocated_at.map(ts),
        released_at: a.released_at.map(ts),
        source: match a.source {
            m::LookupSource::Registry => pb::LookupSource::Registry,
            m::LookupSource::Deterministic => pb::LookupSource::Deterministic,
        } as i32,
    }
}

/// The change of a `ChangeConfig` request.
pub fn change(req: pb::ChangeConfigRequest) -> Result<m::ConfigChange, ApiError> {
    use pb::change_config_request::Change;
    match req.change {
        None => Err(ApiError::invalid(
            "change: one of set, alg, add_pool_prefix, drain_address, undrain_address is required",
        )),
        Some(Change::Set(s)) => {
            if s.key.is_empty() {
                return Err(ApiError::invalid("set.key is required"));
            }
            Ok(m::ConfigChange::Set {
                key: s.key,
                value: s.value,
            })
        }
        Some(Change::Alg(a)) => {
            let ports = a
                .ports
                .iter()
                .map(|&p| port("alg.ports", p))
                .collect::<Result<Vec<u16>, _>>()?;
            Ok(m::ConfigChange::Alg {
                name: a.name,
                enabled: a.enabled,
                ports: Some(ports).filter(|p| !p.is_empty()),
            })
        }
        Some(Change::AddPoolPrefix(p)) => p
            .trim()
            .parse()
            .map(m::ConfigChange::AddPoolEntry)
            .map_err(|e| ApiError::invalid(format!("add_pool_prefix: {e}"))),
        Some(Change::DrainAddress(a)) => Ok(m::ConfigChange::Drain(addr("drain_address", &a)?)),
        Some(Change::UndrainAddress(a)) => {
            Ok(m::ConfigChange::Undrain(addr("undrain_address", &a)?))
        }
    }
}

/// The kind of an event, as a proto enum value.
pub fn event_kind(k: &m::ApiEventKind) -> pb::EventKind {
    match k {
        m::ApiEventKind::BlockAllocated { .. } => pb::EventKind::BlockAllocated,
        m::ApiEventKind::BlockReleased { .. } => pb::EventKind::BlockReleased,
        m::ApiEventKind::PortsExhausted { .. } => pb::EventKind::PortsExhausted,
        m::ApiEventKind::PoolExhausted { .. } => pb::EventKind::PoolExhausted,
        m::ApiEventKind::ConfigChanged { .. } => pb::EventKind::ConfigChanged,
        m::ApiEventKind::HealthChanged { .. } => pb::EventKind::HealthChanged,
    }
}

/// One event.
pub fn event(e: m::ApiEvent) -> pb::Event {
    let mut out = pb::Event {
        at: Some(ts(e.at)),
        kind: event_kind(&e.kind) as i32,
        ..Default::default()
    };
    match e.kind {
        m::ApiEventKind::BlockAllocated {
            subscriber,
            public,
            port_start,
            port_end,
        }
        | m::ApiEventKind::BlockReleased {
            subscriber,
            public,
            port_start,
            port_end,
        } => {
            out.subscriber = subscriber.to_string();
            out.public_address = public.to_string();
            out.port_start = u32::from(port_start);
            out.port_end = u32::from(port_end);
        }
        m::ApiEventKind::PortsExhausted { subscriber, public } => {
            out.subscriber = subscriber.to_string();
            out.public_address = public.map(|p| p.to_string()).unwrap_or_default();
        }
        m::ApiEventKind::PoolExhausted { subscriber } => out.subscriber = subscriber.to_string(),
        m::ApiEventKind::ConfigChanged { summary } => out.detail = summary,
        m::ApiEventKind::HealthChanged { state } => {
            out.detail = match state {
                m::ServingState::Starting => "starting",
                m::ServingState::Serving => "serving",
                m::ServingState::Draining => "draining",
            }
            .to_owned();
        }
    }
    out
}
