//! Prometheus metrics: the text exposition format (version 0.0.4) rendered from an
//! [`Appliance`]'s snapshots, served over HTTP at `GET /metrics` (`api.metrics_listen`).
//!
//! Naming follows Prometheus conventions: every name starts with `cgnat_`, counters end in
//! `_total`, units are base units (bytes, seconds, ratios 0..1), and no label carries a
//! per-subscriber or per-address value (cardinality stays bounded by workers, ports, drop
//! reasons, ALGs, sinks and configured pool entries). The list is in `docs/metrics.md`.
//!
//! Values are read when scraped (one `status()` and one `stats()` call per scrape), so there
//! is no second copy of the counters to keep in sync.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::model::{ServingState, StatsSnapshot, StatusSnapshot};
use crate::api::{Appliance, HealthHandle};

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one metric family: HELP, TYPE and its samples `(labels, value)`.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.header(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Renders every metric. `state` is the [`HealthHandle`]'s.
pub fn render(status: &StatusSnapshot, stats: &StatsSnapshot, state: ServingState) -> String {
    let mut out = String::with_capacity(8192);
    let mut f = Family { out: &mut out };

    f.header("cgnat_build_info", "gauge", "Build information; always 1.");
    f.sample("cgnat_build_info", &[("version", &status.version)], 1);
    f.one(
        "cgnat_serving",
        "gauge",
        "1 when every port is up and every worker polls (health SERVING), else 0.",
        u8::from(state == ServingState::Serving),
    );
    let start = status
        .started_at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    f.one(
        "cgnat_start_time_seconds",
        "gauge",
        "Start time of the daemon, seconds since the Unix epoch.",
        start,
    );

    for (name, help, pick) in [
        (
            "cgnat_sessions",
            "Sessions held, by protocol.",
            (|p: &crate::api::model::ProtocolCount| p.sessions) as fn(&_) -> u64,
        ),
        (
            "cgnat_bindings",
            "Bindings (endpoint-independent mappings) held, by protocol.",
            |p| p.bindings,
        ),
    ] {
        f.header(name, "gauge", help);
        for p in &stats.by_protocol {
            f.sample(name, &[("protocol", p.protocol.name())], pick(p));
        }
    }
    f.one(
        "cgnat_sessions_capacity",
        "gauge",
        "Bindings plus sessions the tables of all workers can hold.",
        stats.session_capacity,
    );
    f.one(
        "cgnat_subscriber_sessions_limit",
        "gauge",
        "Most bindings plus sessions one subscriber may hold (limits.max_sessions_per_subscriber).",
        stats.sessions_per_subscriber_limit,
    );

    f.header(
        "cgnat_port_blocks_in_use",
        "gauge",
        "Port blocks held by subscribers, by pool entry.",
    );
    for p in &stats.pools {
        f.sample(
            "cgnat_port_blocks_in_use",
            &[("pool", &p.entry)],
            p.blocks_in_use,
        );
    }
    f.header(
        "cgnat_port_blocks_capacity",
        "gauge",
        "Port blocks a pool entry has.",
    );
    for p in &stats.pools {
        f.sample(
            "cgnat_port_blocks_capacity",
            &[("pool", &p.entry)],
            p.blocks_total,
        );
    }
    f.header(
        "cgnat_pool_addresses",
        "gauge",
        "Public addresses of a pool entry.",
    );
    for p in &stats.pools {
        f.sample("cgnat_pool_addresses", &[("pool", &p.entry)], p.addresses);
    }

    f.header(
        "cgnat_packets_dropped_total",
        "counter",
        "Packets dropped, by reason (docs/counters.md), summed over the workers.",
    );
    for (name, v) in &stats.drops {
        let reason = name.strip_prefix("drop_").unwrap_or(name);
        f.sample("cgnat_packets_dropped_total", &[("reason", reason)], v);
    }

    type PortPick = fn(&crate::api::model::PortStats) -> u64;
    let port_families: [(&str, &str, PortPick); 7] = [
        (
            "cgnat_port_rx_packets_total",
            "Packets received on a port.",
            |p| p.rx_packets,
        ),
        (
            "cgnat_port_tx_packets_total",
            "Packets sent on a port.",
            |p| p.tx_packets,
        ),
        (
            "cgnat_port_rx_bytes_total",
            "Bytes received on a port.",
            |p| p.rx_bytes,
        ),
        ("cgnat_port_tx_bytes_total", "Bytes sent on a port.", |p| {
            p.tx_bytes
        }),
        (
            "cgnat_port_rx_missed_packets_total",
            "Packets the NIC dropped for lack of RX descriptors (imissed).",
            |p| p.rx_missed,
        ),
        (
            "cgnat_port_rx_errors_total",
            "Receive errors on a port.",
            |p| p.rx_errors,
        ),
        (
            "cgnat_port_tx_errors_total",
            "Transmit errors on a port.",
            |p| p.tx_errors,
        ),
    ];
    for (name, help, pick) in port_families {
        f.header(name, "counter", help);
        for p in &stats.ports {
            f.sample(
                name,
                &[("port", p.role.name()), ("device", &p.device)],
                pick(p),
            );
        }
    }
    f.header("cgnat_port_up", "gauge", "1 when the port's link is up.");
    for p in &status.ports {
        f.sample(
            "cgnat_port_up",
            &[("port", p.role.name())],
            u8::from(p.link_up),
        );
    }

    f.header(
        "cgnat_worker_busy_ratio",
        "gauge",
        "Share of a worker's poll iterations that did work, 0..1.",
    );
    for w in &stats.workers {
        f.sample(
            "cgnat_worker_busy_ratio",
            &[("worker", &w.id.to_string())],
            w.busy_ratio,
        );
    }

    f.header(
        "cgnat_alg_enabled",
        "gauge",
        "1 when the ALG is switched on.",
    );
    for a in &stats.algs {
        f.sample(
            "cgnat_alg_enabled",
            &[("alg", &a.name)],
            u8::from(a.enabled),
        );
    }
    f.header("cgnat_alg_sessions", "gauge", "Sessions an ALG handles.");
    for a in &stats.algs {
        f.sample("cgnat_alg_sessions", &[("alg", &a.name)], a.sessions);
    }
    f.header(
        "cgnat_alg_messages_rewritten_total",
        "counter",
        "Messages an ALG rewrote.",
    );
    for a in &stats.algs {
        f.sample(
            "cgnat_alg_messages_rewritten_total",
            &[("alg", &a.name)],
            a.messages_rewritten,
        );
    }
    f.header(
        "cgnat_alg_errors_total",
        "counter",
        "Messages an ALG could not handle.",
    );
    for a in &stats.algs {
        f.sample("cgnat_alg_errors_total", &[("alg", &a.name)], a.errors);
    }

    f.header(
        "cgnat_log_records_sent_total",
        "counter",
        "Log records written, by sink.",
    );
    for s in &stats.log_sinks {
        f.sample(
            "cgnat_log_records_sent_total",
            &[("sink", &s.sink)],
            s.records_sent,
        );
    }
    f.header(
        "cgnat_log_records_dropped_total",
        "counter",
        "Log records lost (send errors, full queue), by sink.",
    );
    for s in &stats.log_sinks {
        f.sample(
            "cgnat_log_records_dropped_total",
            &[("sink", &s.sink)],
            s.records_dropped,
        );
    }
    f.header(
        "cgnat_log_sink_healthy",
        "gauge",
        "1 when the sink had no error since its last success.",
    );
    for s in &stats.log_sinks {
        f.sample(
            "cgnat_log_sink_healthy",
            &[("sink", &s.sink)],
            u8::from(s.healthy),
        );
    }
    f.one(
        "cgnat_worker_events_dropped_total",
        "counter",
        "Worker events (block allocations, exhaustion) dropped on a full ring to the control thread.",
        stats.events_dropped,
    );
    out
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes. Other paths get 404, other
/// methods 405.
pub async fn serve<A: Appliance>(
    listener: TcpListener,
    appliance: Arc<A>,
    health: HealthHandle,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            r = listener.accept() => r?,
        };
        let (appliance, health) = (Arc::clone(&appliance), health.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                handle(req, Arc::clone(&appliance), health.clone())
            });
            // A client that goes away mid-response is not our error.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn text(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(CONTENT_TYPE),
    );
    r
}

async fn handle<A: Appliance>(
    req: Request<Incoming>,
    appliance: Arc<A>,
    health: HealthHandle,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.uri().path() != "/metrics" {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics\n".into(),
        ));
    }
    if req.method() != Method::GET {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into()));
    }
    let snap = tokio::task::spawn_blocking(move || (appliance.status(), appliance.stats())).await;
    Ok(match snap {
        Ok((status, stats)) => text(StatusCode::OK, render(&status, &stats, health.get())),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("collecting metrics failed: {e}\n"),
        ),
    })
}
