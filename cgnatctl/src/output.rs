//! What `cgnatctl` prints: aligned tables for people, one JSON document per command (one JSON
//! object per line for `events`) with `--json`. JSON keys are the proto field names; times are
//! RFC 3339 strings, durations seconds.

use control::api::proto as pb;
use serde_json::{json, Value};

use crate::time;

/// Prints rows under headers, columns padded to the widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.len());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn print_json(v: &Value) {
    println!("{v}");
}

fn ts(t: Option<&prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| std::time::SystemTime::try_from(*t).ok())
        .map(time::format)
}

fn secs(d: Option<&prost_types::Duration>) -> f64 {
    #[allow(clippy::cast_precision_loss)] // display only
    d.map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

fn protocol(p: i32) -> &'static str {
    match pb::Protocol::try_from(p) {
        Ok(pb::Protocol::Tcp) => "tcp",
        Ok(pb::Protocol::Udp) => "udp",
        Ok(pb::Protocol::Icmp) => "icmp",
        _ => "?",
    }
}

fn state(s: i32) -> &'static str {
    match pb::ServingState::try_from(s) {
        Ok(pb::ServingState::Starting) => "starting",
        Ok(pb::ServingState::Serving) => "serving",
        Ok(pb::ServingState::Draining) => "draining",
        _ => "unknown",
    }
}

fn event_kind(k: i32) -> &'static str {
    match pb::EventKind::try_from(k) {
        Ok(pb::EventKind::BlockAllocated) => "block-allocated",
        Ok(pb::EventKind::BlockReleased) => "block-released",
        Ok(pb::EventKind::PortsExhausted) => "ports-exhausted",
        Ok(pb::EventKind::PoolExhausted) => "pool-exhausted",
        Ok(pb::EventKind::ConfigChanged) => "config-changed",
        Ok(pb::EventKind::HealthChanged) => "health-changed",
        Ok(pb::EventKind::Lagged) => "lagged",
        _ => "unknown",
    }
}

/// `status`.
pub fn status(json: bool, s: &pb::GetStatusResponse) {
    if json {
        return print_json(&json!({
            "version": s.version,
            "started_at": ts(s.started_at.as_ref()),
            "uptime_seconds": secs(s.uptime.as_ref()),
            "state": state(s.state),
            "pool_mode": s.pool_mode,
            "workers": s.workers.iter().map(|w| json!({
                "id": w.id, "lcore": w.lcore, "polling": w.polling, "busy_ratio": w.busy_ratio,
            })).collect::<Vec<_>>(),
            "ports": s.ports.iter().map(|p| json!({
                "role": p.role, "device": p.device, "link_up": p.link_up,
                "speed_mbps": p.speed_mbps,
            })).collect::<Vec<_>>(),
            "draining": s.draining,
        }));
    }
    println!("version    {}", s.version);
    println!("state      {}", state(s.state));
    println!(
        "started    {} (up {:.0} s)",
        ts(s.started_at.as_ref()).unwrap_or_default(),
        secs(s.uptime.as_ref())
    );
    println!("pool mode  {}", s.pool_mode);
    if !s.draining.is_empty() {
        println!("draining   {}", s.draining.join(", "));
    }
    println!();
    let rows: Vec<Vec<String>> = s
        .workers
        .iter()
        .map(|w| {
            vec![
                w.id.to_string(),
                w.lcore.to_string(),
                if w.polling { "yes" } else { "no" }.into(),
                format!("{:.1}%", w.busy_ratio * 100.0),
            ]
        })
        .collect();
    table(&["WORKER", "LCORE", "POLLING", "BUSY"], &rows);
    println!();
    let rows: Vec<Vec<String>> = s
        .ports
        .iter()
        .map(|p| {
            vec![
                p.role.clone(),
                p.device.clone(),
                if p.link_up { "up" } else { "down" }.into(),
                p.speed_mbps.to_string(),
            ]
        })
        .collect();
    table(&["PORT", "DEVICE", "LINK", "MBPS"], &rows);
}

fn counters(c: &[pb::Counter]) -> Value {
    Value::Object(c.iter().map(|c| (c.name.clone(), json!(c.value))).collect())
}

/// `stats`.
pub fn stats(json: bool, s: &pb::GetStatsResponse, all: bool) {
    if json {
        return print_json(&json!({
            "workers": s.workers.iter().map(|w| json!({
                "id": w.id, "busy_ratio": w.busy_ratio, "sessions": w.sessions,
                "bindings": w.bindings, "counters": counters(&w.counters),
            })).collect::<Vec<_>>(),
            "ports": s.ports.iter().map(|p| json!({
                "role": p.role, "device": p.device, "rx_packets": p.rx_packets,
                "tx_packets": p.tx_packets, "rx_bytes": p.rx_bytes, "tx_bytes": p.tx_bytes,
                "rx_missed": p.rx_missed, "rx_errors": p.rx_errors, "tx_errors": p.tx_errors,
            })).collect::<Vec<_>>(),
            "drops": counters(&s.drops),
            "algs": s.algs.iter().map(alg_json).collect::<Vec<_>>(),
            "by_protocol": s.by_protocol.iter().map(|p| json!({
                "protocol": protocol(p.protocol), "sessions": p.sessions, "bindings": p.bindings,
            })).collect::<Vec<_>>(),
            "session_capacity": s.session_capacity,
            "sessions_per_subscriber_limit": s.sessions_per_subscriber_limit,
            "pools": s.pools.iter().map(|p| json!({
                "entry": p.entry, "addresses": p.addresses, "blocks_in_use": p.blocks_in_use,
                "blocks_total": p.blocks_total,
            })).collect::<Vec<_>>(),
            "addresses": s.addresses.iter().map(|a| json!({
                "address": a.address, "blocks_in_use": a.blocks_in_use,
                "blocks_total": a.blocks_total, "subscribers": a.subscribers,
                "draining": a.draining,
            })).collect::<Vec<_>>(),
            "log_sinks": s.log_sinks.iter().map(|l| json!({
                "sink": l.sink, "destination": l.destination, "healthy": l.healthy,
                "records_sent": l.records_sent, "records_dropped": l.records_dropped,
                "last_error": l.last_error,
            })).collect::<Vec<_>>(),
            "events_dropped": s.events_dropped,
        }));
    }
    let rows: Vec<Vec<String>> = s
        .by_protocol
        .iter()
        .map(|p| {
            vec![
                protocol(p.protocol).into(),
                p.sessions.to_string(),
                p.bindings.to_string(),
            ]
        })
        .collect();
    table(&["PROTOCOL", "SESSIONS", "BINDINGS"], &rows);
    println!(
        "capacity {} (bindings + sessions), per subscriber {}",
        s.session_capacity, s.sessions_per_subscriber_limit
    );
    println!();
    let rows: Vec<Vec<String>> = s
        .ports
        .iter()
        .map(|p| {
            [
                p.role.clone(),
                p.rx_packets.to_string(),
                p.tx_packets.to_string(),
                p.rx_bytes.to_string(),
                p.tx_bytes.to_string(),
                p.rx_missed.to_string(),
                (p.rx_errors + p.tx_errors).to_string(),
            ]
            .to_vec()
        })
        .collect();
    table(
        &[
            "PORT",
            "RX_PKTS",
            "TX_PKTS",
            "RX_BYTES",
            "TX_BYTES",
            "RX_MISSED",
            "ERRORS",
        ],
        &rows,
    );
    println!();
    let rows: Vec<Vec<String>> = s
        .workers
        .iter()
        .map(|w| {
            vec![
                w.id.to_string(),
                format!("{:.1}%", w.busy_ratio * 100.0),
                w.sessions.to_string(),
                w.bindings.to_string(),
            ]
        })
        .collect();
    table(&["WORKER", "BUSY", "SESSIONS", "BINDINGS"], &rows);
    if all {
        for w in &s.workers {
            println!("\nworker {} counters:", w.id);
            let rows: Vec<Vec<String>> = w
                .counters
                .iter()
                .map(|c| vec![c.name.clone(), c.value.to_string()])
                .collect();
            table(&["COUNTER", "VALUE"], &rows);
        }
    }
    println!();
    let rows: Vec<Vec<String>> = s
        .drops
        .iter()
        .filter(|c| all || c.value != 0)
        .map(|c| vec![c.name.clone(), c.value.to_string()])
        .collect();
    table(&["DROP REASON", "PACKETS"], &rows);
    println!();
    let rows: Vec<Vec<String>> = s
        .pools
        .iter()
        .map(|p| {
            vec![
                p.entry.clone(),
                p.addresses.to_string(),
                p.blocks_in_use.to_string(),
                p.blocks_total.to_string(),
            ]
        })
        .collect();
    table(&["POOL", "ADDRESSES", "BLOCKS_USED", "BLOCKS"], &rows);
    println!();
    let rows: Vec<Vec<String>> = s
        .addresses
        .iter()
        .map(|a| {
            vec![
                a.address.clone(),
                format!("{}/{}", a.blocks_in_use, a.blocks_total),
                a.subscribers.to_string(),
                if a.draining { "draining" } else { "" }.into(),
            ]
        })
        .collect();
    table(&["PUBLIC", "BLOCKS", "SUBSCRIBERS", ""], &rows);
    println!();
    algs(false, &s.algs);
    println!();
    let rows: Vec<Vec<String>> = s
        .log_sinks
        .iter()
        .map(|l| {
            vec![
                l.sink.clone(),
                l.destination.clone(),
                if l.healthy {
                    "ok".into()
                } else {
                    format!("error: {}", l.last_error)
                },
                l.records_sent.to_string(),
                l.records_dropped.to_string(),
            ]
        })
        .collect();
    table(&["SINK", "DESTINATION", "HEALTH", "SENT", "DROPPED"], &rows);
    println!("worker events dropped: {}", s.events_dropped);
}

fn alg_json(a: &pb::AlgStats) -> Value {
    json!({
        "name": a.name, "enabled": a.enabled, "ports": a.ports, "sessions": a.sessions,
        "messages_rewritten": a.messages_rewritten, "errors": a.errors,
    })
}

/// `alg` (list).
pub fn algs(json: bool, algs: &[pb::AlgStats]) {
    if json {
        return print_json(&Value::Array(algs.iter().map(alg_json).collect()));
    }
    let rows: Vec<Vec<String>> = algs
        .iter()
        .map(|a| {
            let ports: Vec<String> = a.ports.iter().map(u32::to_string).collect();
            vec![
                a.name.clone(),
                if a.enabled { "on" } else { "off" }.into(),
                ports.join(","),
                a.sessions.to_string(),
                a.messages_rewritten.to_string(),
                a.errors.to_string(),
            ]
        })
        .collect();
    table(
        &["ALG", "STATE", "PORTS", "SESSIONS", "REWRITTEN", "ERRORS"],
        &rows,
    );
}

/// `sessions --bindings`.
pub fn bindings(json: bool, v: &[pb::Binding]) {
    if json {
        return print_json(&Value::Array(
            v.iter()
                .map(|b| {
                    json!({
                        "protocol": protocol(b.protocol), "subscriber": b.subscriber,
                        "inside_port": b.inside_port, "public_address": b.public_address,
                        "public_port": b.public_port, "worker": b.worker,
                        "sessions": b.sessions, "idle_seconds": secs(b.idle.as_ref()),
                    })
                })
                .collect(),
        ));
    }
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|b| {
            vec![
                protocol(b.protocol).into(),
                format!("{}:{}", b.subscriber, b.inside_port),
                format!("{}:{}", b.public_address, b.public_port),
                b.sessions.to_string(),
                b.worker.to_string(),
                format!("{:.0}", secs(b.idle.as_ref())),
            ]
        })
        .collect();
    table(
        &["PROTO", "INSIDE", "PUBLIC", "SESSIONS", "WORKER", "IDLE_S"],
        &rows,
    );
}

/// `sessions`.
pub fn sessions(json: bool, v: &[pb::Session]) {
    if json {
        return print_json(&Value::Array(
            v.iter()
                .map(|s| {
                    json!({
                        "protocol": protocol(s.protocol), "subscriber": s.subscriber,
                        "inside_port": s.inside_port, "public_address": s.public_address,
                        "public_port": s.public_port, "remote_address": s.remote_address,
                        "remote_port": s.remote_port, "worker": s.worker, "state": s.state,
                        "alg": s.alg, "idle_seconds": secs(s.idle.as_ref()),
                        "expires_in_seconds": secs(s.expires_in.as_ref()),
                    })
                })
                .collect(),
        ));
    }
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|s| {
            vec![
                protocol(s.protocol).into(),
                format!("{}:{}", s.subscriber, s.inside_port),
                format!("{}:{}", s.public_address, s.public_port),
                format!("{}:{}", s.remote_address, s.remote_port),
                s.state.clone(),
                s.alg.clone(),
                format!("{:.0}", secs(s.idle.as_ref())),
                format!("{:.0}", secs(s.expires_in.as_ref())),
            ]
        })
        .collect();
    table(
        &[
            "PROTO",
            "INSIDE",
            "PUBLIC",
            "REMOTE",
            "STATE",
            "ALG",
            "IDLE_S",
            "EXPIRES_S",
        ],
        &rows,
    );
}

/// `blocks`.
pub fn blocks(json: bool, v: &[pb::PortBlock]) {
    if json {
        return print_json(&Value::Array(
            v.iter()
                .map(|b| {
                    json!({
                        "public_address": b.public_address, "port_start": b.port_start,
                        "port_end": b.port_end, "subscriber": b.subscriber,
                        "allocated_at": ts(b.allocated_at.as_ref()),
                    })
                })
                .collect(),
        ));
    }
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|b| {
            vec![
                b.public_address.clone(),
                format!("{}-{}", b.port_start, b.port_end),
                b.subscriber.clone(),
                ts(b.allocated_at.as_ref()).unwrap_or_else(|| "(deterministic)".into()),
            ]
        })
        .collect();
    table(&["PUBLIC", "PORTS", "SUBSCRIBER", "ALLOCATED"], &rows);
}

/// `lookup`.
pub fn lookup(json: bool, r: &pb::LookupResponse) {
    let source = match pb::LookupSource::try_from(r.source) {
        Ok(pb::LookupSource::Registry) => "registry",
        Ok(pb::LookupSource::Deterministic) => "deterministic",
        _ => "unknown",
    };
    if json {
        return print_json(&json!({
            "subscriber": r.subscriber, "public_address": r.public_address,
            "port_start": r.port_start, "port_end": r.port_end,
            "allocated_at": ts(r.allocated_at.as_ref()),
            "released_at": ts(r.released_at.as_ref()), "source": source,
        }));
    }
    println!("subscriber  {}", r.subscriber);
    println!(
        "block       {}:{}-{}",
        r.public_address, r.port_start, r.port_end
    );
    if let Some(a) = ts(r.allocated_at.as_ref()) {
        println!("allocated   {a}");
        println!(
            "released    {}",
            ts(r.released_at.as_ref()).unwrap_or_else(|| "(still held)".into())
        );
    }
    println!("source      {source}");
}

/// `config get`.
pub fn config(json: bool, toml: &str) {
    if json {
        return print_json(&json!({ "toml": toml }));
    }
    print!("{toml}");
}

/// A change accepted.
pub fn changed(json: bool, summary: &str) {
    if json {
        return print_json(&json!({ "summary": summary }));
    }
    println!("ok: {summary}");
}

/// `clear`.
pub fn cleared(json: bool, n: u64) {
    if json {
        return print_json(&json!({ "sessions_cleared": n }));
    }
    println!("cleared {n} sessions");
}

/// One event of `events`.
pub fn event(json: bool, e: &pb::Event) {
    let at = ts(e.at.as_ref()).unwrap_or_default();
    let kind = event_kind(e.kind);
    if json {
        return print_json(&json!({
            "at": at, "kind": kind, "subscriber": e.subscriber,
            "public_address": e.public_address, "port_start": e.port_start,
            "port_end": e.port_end, "detail": e.detail, "lost": e.lost,
        }));
    }
    let what = match pb::EventKind::try_from(e.kind) {
        Ok(pb::EventKind::BlockAllocated | pb::EventKind::BlockReleased) => format!(
            "{} {}:{}-{}",
            e.subscriber, e.public_address, e.port_start, e.port_end
        ),
        Ok(pb::EventKind::PortsExhausted | pb::EventKind::PoolExhausted) => {
            format!("{} {}", e.subscriber, e.public_address)
        }
        Ok(pb::EventKind::Lagged) => format!("{} events lost", e.lost),
        _ => e.detail.clone(),
    };
    println!("{at} {kind} {}", what.trim_end());
}
