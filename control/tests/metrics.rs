//! `/metrics` over HTTP: scraped from the server over the fake appliance with a plain HTTP/1.1
//! request and parsed with a Prometheus text-format parser; names, types, values and labels
//! checked, and the naming rules (prefix, `_total` counters, no per-subscriber labels).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions too

use std::sync::Arc;

use control::api::fake::FakeAppliance;
use control::api::model::ServingState;
use control::api::{EventHub, HealthHandle};
use prometheus_parse::{Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name}: unexpected {other:?}"),
    }
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text() {
    let fake = Arc::new(FakeAppliance::new());
    let health = HealthHandle::new(EventHub::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(control::metrics::serve(
        listener,
        Arc::clone(&fake),
        health.clone(),
        async {
            let _ = stopped.await;
        },
    ));

    let (head, body) = get(addr, "GET", "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/plain; version=0.0.4"));
    let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();

    assert_eq!(
        value(&scrape, "cgnat_build_info", &[("version", "0.1.0-fake")]),
        1.0
    );
    assert_eq!(value(&scrape, "cgnat_serving", &[]), 0.0);
    assert_eq!(
        value(&scrape, "cgnat_sessions", &[("protocol", "udp")]),
        2.0
    );
    assert_eq!(
        value(&scrape, "cgnat_bindings", &[("protocol", "tcp")]),
        1.0
    );
    assert_eq!(value(&scrape, "cgnat_sessions_capacity", &[]), 1_048_576.0);
    assert_eq!(
        value(&scrape, "cgnat_subscriber_sessions_limit", &[]),
        10_000.0
    );
    let pool = [("pool", "203.0.113.0/24")];
    assert_eq!(value(&scrape, "cgnat_port_blocks_in_use", &pool), 1.0);
    assert_eq!(value(&scrape, "cgnat_port_blocks_capacity", &pool), 32256.0);
    assert_eq!(
        value(
            &scrape,
            "cgnat_packets_dropped_total",
            &[("reason", "no_binding")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &scrape,
            "cgnat_packets_dropped_total",
            &[("reason", "port_exhausted")]
        ),
        0.0
    );
    let inside = [("port", "inside"), ("device", "net_null0")];
    assert_eq!(
        value(&scrape, "cgnat_port_rx_packets_total", &inside),
        1000.0
    );
    assert_eq!(
        value(&scrape, "cgnat_port_tx_packets_total", &inside),
        999.0
    );
    assert_eq!(
        value(&scrape, "cgnat_port_rx_bytes_total", &inside),
        100_000.0
    );
    assert_eq!(
        value(&scrape, "cgnat_port_rx_missed_packets_total", &inside),
        2.0
    );
    assert_eq!(
        value(&scrape, "cgnat_worker_busy_ratio", &[("worker", "0")]),
        0.25
    );
    assert_eq!(
        value(
            &scrape,
            "cgnat_log_records_dropped_total",
            &[("sink", "syslog")]
        ),
        1.0
    );
    assert_eq!(
        value(&scrape, "cgnat_log_sink_healthy", &[("sink", "syslog")]),
        0.0
    );
    assert_eq!(value(&scrape, "cgnat_alg_enabled", &[("alg", "ftp")]), 1.0);

    // Naming rules.
    for s in &scrape.samples {
        assert!(s.metric.starts_with("cgnat_"), "{}", s.metric);
        let is_counter = matches!(s.value, Value::Counter(_));
        assert_eq!(is_counter, s.metric.ends_with("_total"), "{}", s.metric);
        for k in ["subscriber", "address", "public_address", "inside"] {
            assert!(s.labels.get(k).is_none(), "{} has a {k} label", s.metric);
        }
    }
    for (name, doc) in &scrape.docs {
        assert!(!doc.is_empty(), "{name} has no HELP");
    }

    health.set(ServingState::Serving);
    let (_, body) = get(addr, "GET", "/metrics").await;
    let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert_eq!(value(&scrape, "cgnat_serving", &[]), 1.0);

    let (head, _) = get(addr, "GET", "/").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = get(addr, "POST", "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
