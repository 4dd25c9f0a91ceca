//! The management API end to end against a real `cgnatd`: real EAL, real poll loop, workers
//! answering queries, the control thread feeding the registry. Frames reach the daemon through
//! veth pairs and the `net_af_packet` PMD (the test creates the pairs and injects frames on
//! the peer end with an `AF_PACKET` socket from Python), so traffic can be sent while the API
//! is being called. Every RPC is called through the generated tonic client, with its refusals
//! (status code, and nothing changed); `/metrics` is parsed with `prometheus-parse` and seen
//! to move with traffic; a Python `grpcio` client nobody on the project wrote health-checks
//! the daemon and calls it through server reflection.
//!
//! The daemon runs with its control-plane clock one hour behind (`--clock-offset-secs=-3600`),
//! so the port blocks it records now are, for the abuse lookup, "an hour ago".
//!
//! Needs root (veth, af_packet) and Python 3 with `venv` (the gRPC client stack is installed
//! from PyPI into `target/pyvenv-grpc` by `scripts/grpc-python-venv.sh`).
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use control::api::proto as pb;
use control::api::proto::cgnat_service_client::CgnatServiceClient;
use etherparse::PacketBuilder;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request};

const TOKEN: &str = "api-test-token";
const NH: [u8; 4] = [198, 51, 100, 254];
const NH_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x20];
const SUB_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x10];
const REMOTE: [u8; 4] = [192, 0, 2, 10];
const HOUR: u64 = 3600;

fn sub(i: u8) -> [u8; 4] {
    [100, 64, 0, i]
}

fn dotted(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn run(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().unwrap();
    assert!(st.success(), "{cmd} {args:?}: {st}");
}

/// A veth pair: cgnatd uses `a` (af_packet), the test injects on `b`.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn new(name: &str) -> Self {
        let (a, b) = (format!("{name}a"), format!("{name}b"));
        let _ = Command::new("ip")
            .args(["link", "del", &a])
            .stderr(Stdio::null())
            .status();
        run(
            "ip",
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        );
        for i in [&a, &b] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{i}/disable_ipv6"), "1");
            run("ip", &["link", "set", i, "up"]);
        }
        Self { a, b }
    }

    fn mac(&self) -> [u8; 6] {
        let s = std::fs::read_to_string(format!("/sys/class/net/{}/address", self.a)).unwrap();
        let v: Vec<u8> = s
            .trim()
            .split(':')
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// Sends raw Ethernet frames out of `b` (so cgnatd receives them on `a`).
    fn inject(&self, frames: &[Vec<u8>]) {
        let hex: Vec<String> = frames
            .iter()
            .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let script = "import socket,sys\n\
            s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
            s.bind((sys.argv[1],0))\n\
            [s.send(bytes.fromhex(h)) for h in sys.argv[2:]]\n";
        let mut args = vec!["-c", script, &self.b];
        args.extend(hex.iter().map(String::as_str));
        run("python3", &args);
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).status();
    }
}

fn arp_request(smac: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0xff; 6];
    v.extend_from_slice(&smac);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&tpa);
    v.resize(60, 0);
    v
}

fn udp(dm: [u8; 6], s: [u8; 4], sp: u16, d: [u8; 4], dp: u16) -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(SUB_MAC, dm)
        .ipv4(s, d, 64)
        .udp(sp, dp)
        .write(&mut v, b"query")
        .unwrap();
    v
}

fn tcp_syn(dm: [u8; 6], s: [u8; 4], sp: u16, d: [u8; 4], dp: u16) -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(SUB_MAC, dm)
        .ipv4(s, d, 64)
        .tcp(sp, dp, 1, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

/// A running cgnatd and where it listens.
struct Daemon {
    child: Child,
    log: Receiver<String>,
    dir: PathBuf,
    grpc: String,
    metrics: String,
}

impl Daemon {
    /// Starts cgnatd with `vdevs` and `extra` config, waits for `ready`.
    fn start(
        name: &str,
        vdevs: &[String],
        devices: [&str; 2],
        inside_extra: &str,
        extra: &str,
        args: &[&str],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("cgnat-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        let vdev_args: Vec<String> = vdevs
            .iter()
            .flat_map(|v| ["\"--vdev\"".to_string(), format!("\"{v}\"")])
            .collect();
        let cfg = format!(
            r#"[eal]
args = ["--lcores", "0@0,1@1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix", "cgnat-api-{name}-{pid}", {vdevs}]
[inside]
device = "{ind}"
address = "100.64.0.1/10"
{inside_extra}
[outside]
device = "{outd}"
address = "198.51.100.1/24"
next_hop = "198.51.100.254"
[dataplane]
workers = 1
mbufs = 4095
rx_desc = 256
tx_desc = 256
max_bindings_per_worker = 4096
max_subscribers_per_worker = 64
[api]
listen = "127.0.0.1:{grpc_port}"
metrics_listen = "127.0.0.1:{metrics_port}"
token_file = "{dir}/token"
{extra}"#,
            pid = std::process::id(),
            grpc_port = free_port(),
            metrics_port = free_port(),
            vdevs = vdev_args.join(", "),
            ind = devices[0],
            outd = devices[1],
            dir = dir.display(),
        );
        let cfg_path = dir.join("cgnat.toml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
            .arg("--config")
            .arg(&cfg_path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("cgnatd: {line}");
                let _ = tx.send(line);
            }
        });
        let (mut grpc, mut metrics) = (String::new(), String::new());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("cgnatd not ready within 30 s");
            }
            let Ok(l) = log.recv_timeout(Duration::from_millis(100)) else {
                if let Some(st) = child.try_wait().unwrap() {
                    panic!("cgnatd exited with {st} before it was ready");
                }
                continue;
            };
            if let Some(a) = l.split("api: gRPC listening on ").nth(1) {
                grpc = a.trim().to_string();
            }
            if let Some(a) = l.split("metrics: HTTP /metrics listening on ").nth(1) {
                metrics = a.trim().to_string();
            }
            if l.contains("ready:") {
                break;
            }
        }
        assert!(
            !grpc.is_empty() && !metrics.is_empty(),
            "listen addresses not logged"
        );
        Self {
            child,
            log,
            dir,
            grpc,
            metrics,
        }
    }

    async fn client(&self) -> CgnatServiceClient<Channel> {
        let ch = Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        CgnatServiceClient::new(ch)
    }

    /// `GET /metrics`, parsed.
    fn scrape(&self) -> prometheus_parse::Scrape {
        let mut s = std::net::TcpStream::connect(&self.metrics).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.metrics
        )
        .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        let (head, body) = body.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
    }

    /// SIGTERM; must exit 0 within 15 s.
    fn stop(mut self) {
        run("kill", &["-TERM", &self.child.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(15);
        let st = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "cgnatd did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(st.success(), "cgnatd exited with {st}");
        while self.log.try_recv().is_ok() {}
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Daemon {
    /// A test that fails half-way must not leave a cgnatd running (it would hold the lab
    /// ports and make the next tests fail).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on now (the config refuses port 0: clients need a known port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn metric(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let m = s
        .samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match m.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

fn auth<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

fn set(key: &str, value: &str) -> pb::ChangeConfigRequest {
    pb::ChangeConfigRequest {
        change: Some(pb::change_config_request::Change::Set(pb::SetValue {
            key: key.into(),
            value: value.into(),
        })),
    }
}

fn change(c: pb::change_config_request::Change) -> pb::ChangeConfigRequest {
    pb::ChangeConfigRequest { change: Some(c) }
}

async fn bindings(
    c: &mut CgnatServiceClient<Channel>,
    r: pb::ListBindingsRequest,
) -> Vec<pb::Binding> {
    let mut s = c.list_bindings(r).await.unwrap().into_inner();
    let mut v = vec![];
    while let Some(b) = s.next().await {
        v.push(b.unwrap());
    }
    v
}

async fn sessions(
    c: &mut CgnatServiceClient<Channel>,
    r: pb::ListSessionsRequest,
) -> Vec<pb::Session> {
    let mut s = c.list_sessions(r).await.unwrap().into_inner();
    let mut v = vec![];
    while let Some(b) = s.next().await {
        v.push(b.unwrap());
    }
    v
}

fn by_sub(a: [u8; 4]) -> pb::ListBindingsRequest {
    pb::ListBindingsRequest {
        subscriber: dotted(a),
        ..Default::default()
    }
}

async fn config(c: &mut CgnatServiceClient<Channel>) -> String {
    c.get_config(pb::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner()
        .toml
}

/// Polls `f` every 20 ms for up to 10 s until it returns `Some`.
async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(x) = f().await {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ts(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

fn target_dir() -> PathBuf {
    // .../target/{debug,release}/cgnatd
    Path::new(env!("CARGO_BIN_EXE_cgnatd"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// The Python client: health check (grpcio-health-checking) and GetStatus through
/// reflection (grpcio-reflection), both as a stranger to this code base would do it.
fn python_client(addr: &str) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let venv = target_dir().join("pyvenv-grpc");
    let out = Command::new(root.join("scripts/grpc-python-venv.sh"))
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot set up the Python gRPC client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = Command::new(py)
        .arg(root.join("cgnatd/tests/py/grpc_client.py"))
        .arg(addr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_rpc_against_a_running_cgnatd() {
    let tag = std::process::id() % 100_000;
    let vin = Veth::new(&format!("cgi{tag}"));
    let vout = Veth::new(&format!("cgo{tag}"));
    let in_mac = vin.mac();
    let json = std::env::temp_dir().join(format!("cgnat-api-events-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let extra = format!(
        "[pool]\nprefixes = [\"203.0.113.0/30\"]\nblock_size = 512\nmax_blocks_per_subscriber = 2\n\
         [logging]\njson_file = \"{}\"\n",
        json.display()
    );
    let d = Daemon::start(
        "dyn",
        &[
            format!("net_af_packet0,iface={}", vin.a),
            format!("net_af_packet1,iface={}", vout.a),
        ],
        ["net_af_packet0", "net_af_packet1"],
        "",
        &extra,
        &["--clock-offset-secs=-3600"],
    );
    // Health and reflection from a client nobody on the project wrote (before the tokio
    // runtime: it blocks).
    let py = python_client(&d.grpc);
    assert_eq!(py["health"][""], "SERVING", "{py}");
    assert_eq!(py["health"]["cgnat.v1.CgnatService"], "SERVING", "{py}");
    let services = py["services"].as_array().unwrap();
    for s in [
        "cgnat.v1.CgnatService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.iter().any(|x| x == s), "{s} missing: {py}");
    }
    assert_eq!(py["status"]["state"], "SERVING_STATE_SERVING", "{py}");
    assert_eq!(py["status"]["pool_mode"], "dynamic", "{py}");
    assert_eq!(py["status"]["ports"].as_array().unwrap().len(), 2, "{py}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = d.client().await;

        // ---- status, metrics before traffic ------------------------------------------------
        let st = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.state, pb::ServingState::Serving as i32);
        assert_eq!(st.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(st.workers.len(), 1);
        assert!(st.workers[0].polling);
        assert_eq!(st.workers[0].lcore, 1);
        assert!(st.ports.iter().all(|p| p.link_up), "{st:?}");
        let m0 = d.scrape();
        let rx0 = metric(&m0, "cgnat_port_rx_packets_total", &[("port", "inside")]);
        assert_eq!(metric(&m0, "cgnat_serving", &[]), 1.0);
        assert_eq!(
            metric(
                &m0,
                "cgnat_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            1.0
        );

        // ---- traffic -----------------------------------------------------------------------
        vout.inject(&[arp_request(NH_MAC, NH, [198, 51, 100, 1])]);
        // The events stream sees the first subscriber's block.
        let mut events = c
            .watch_events(pb::WatchEventsRequest {
                kinds: vec![pb::EventKind::BlockAllocated as i32],
            })
            .await
            .unwrap()
            .into_inner();
        vin.inject(&[
            udp(in_mac, sub(2), 5000, REMOTE, 53),
            udp(in_mac, sub(2), 5001, REMOTE, 53),
            tcp_syn(in_mac, sub(2), 40000, REMOTE, 80),
            udp(in_mac, sub(3), 6000, REMOTE, 53),
        ]);
        let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a block-allocated event")
            .unwrap()
            .unwrap();
        assert_eq!(ev.kind, pb::EventKind::BlockAllocated as i32);
        assert!(
            ev.subscriber == dotted(sub(2)) || ev.subscriber == dotted(sub(3)),
            "{ev:?}"
        );
        assert_eq!(ev.port_end - ev.port_start, 511);
        let stats = wait_for("4 bindings", || {
            let mut c = c.clone();
            async move {
                let s = c
                    .get_stats(pb::GetStatsRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                (s.workers.first().map(|w| w.bindings) == Some(4)).then_some(s)
            }
        })
        .await;
        let nat_out = stats.workers[0]
            .counters
            .iter()
            .find(|c| c.name == "nat_out")
            .unwrap()
            .value;
        assert_eq!(nat_out, 4);
        let udp_count = stats
            .by_protocol
            .iter()
            .find(|p| p.protocol == pb::Protocol::Udp as i32)
            .unwrap();
        assert_eq!((udp_count.bindings, udp_count.sessions), (3, 0));
        assert!(stats.drops.iter().any(|d| d.name == "drop_no_binding"));
        assert_eq!(stats.pools.len(), 1);
        assert_eq!(stats.pools[0].blocks_in_use, 2);
        assert_eq!(stats.pools[0].blocks_total, 4 * 126);
        assert_eq!(stats.sessions_per_subscriber_limit, 10_000);
        assert_eq!(stats.log_sinks.len(), 1);
        assert_eq!(stats.log_sinks[0].sink, "json");
        assert!(stats.log_sinks[0].healthy);
        assert_eq!(stats.ports.len(), 2);

        // ---- metrics move with traffic -----------------------------------------------------
        // Port counters are read by the main thread every 100 ms.
        let m1 = wait_for("inside rx to move", || {
            let m = d.scrape();
            let rx1 = metric(&m, "cgnat_port_rx_packets_total", &[("port", "inside")]);
            async move { (rx1 >= rx0 + 4.0).then_some(m) }
        })
        .await;
        assert_eq!(metric(&m1, "cgnat_bindings", &[("protocol", "udp")]), 3.0);
        assert_eq!(metric(&m1, "cgnat_sessions", &[("protocol", "tcp")]), 1.0);
        assert_eq!(
            metric(
                &m1,
                "cgnat_port_blocks_in_use",
                &[("pool", "203.0.113.0/30")]
            ),
            2.0
        );
        assert!(metric(&m1, "cgnat_log_records_sent_total", &[("sink", "json")]) >= 2.0);
        metric(&m1, "cgnat_worker_busy_ratio", &[("worker", "0")]);
        metric(
            &m1,
            "cgnat_packets_dropped_total",
            &[("reason", "no_binding")],
        );

        // ---- listings ----------------------------------------------------------------------
        assert_eq!(
            bindings(&mut c, pb::ListBindingsRequest::default())
                .await
                .len(),
            4
        );
        let s2 = bindings(&mut c, by_sub(sub(2))).await;
        assert_eq!(s2.len(), 3);
        let tcp = bindings(
            &mut c,
            pb::ListBindingsRequest {
                protocol: pb::Protocol::Tcp as i32,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(tcp.len(), 1);
        assert_eq!(
            (tcp[0].subscriber.as_str(), tcp[0].inside_port),
            (dotted(sub(2)).as_str(), 40000)
        );
        let (pub2, port2) = (tcp[0].public_address.clone(), tcp[0].public_port);
        let by_port = bindings(
            &mut c,
            pb::ListBindingsRequest {
                public_address: pub2.clone(),
                public_port: port2,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_port, tcp);
        let limited = bindings(
            &mut c,
            pb::ListBindingsRequest {
                limit: 2,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(limited.len(), 2);
        let ss = sessions(
            &mut c,
            pb::ListSessionsRequest {
                subscriber: dotted(sub(2)),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ss.len(), 3, "{ss:?}");
        let t = ss
            .iter()
            .find(|s| s.protocol == pb::Protocol::Tcp as i32)
            .unwrap();
        assert_eq!(
            (t.remote_address.as_str(), t.remote_port),
            ("192.0.2.10", 80)
        );
        assert_eq!(t.state, "syn-sent");
        let e = c
            .list_bindings(pb::ListBindingsRequest {
                subscriber: "100.64.0".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);

        // ---- port blocks and abuse lookup (an hour ago) ------------------------------------
        let blocks = c
            .list_port_blocks(pb::ListPortBlocksRequest {
                subscriber: dotted(sub(2)),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .blocks;
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].public_address, pub2);
        assert!((blocks[0].port_start..=blocks[0].port_end).contains(&port2));
        let all = c
            .list_port_blocks(pb::ListPortBlocksRequest::default())
            .await
            .unwrap()
            .into_inner()
            .blocks;
        assert_eq!(all.len(), 2);
        let e = c
            .list_port_blocks(pb::ListPortBlocksRequest {
                subscriber: dotted(sub(2)),
                public_address: pub2.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        let now = SystemTime::now();
        let an_hour_ago = now - Duration::from_secs(HOUR);
        let l = c
            .lookup(pb::LookupRequest {
                public_address: pub2.clone(),
                port: port2,
                at: Some(ts(an_hour_ago)),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(l.subscriber, dotted(sub(2)));
        assert_eq!(l.source, pb::LookupSource::Registry as i32);
        assert!(l.released_at.is_none());
        let alloc = SystemTime::try_from(l.allocated_at.unwrap()).unwrap();
        let age = now.duration_since(alloc).unwrap().as_secs();
        assert!((HOUR..HOUR + 60).contains(&age), "allocated {age} s ago");
        // Before the allocation: nobody.
        let e = c
            .lookup(pb::LookupRequest {
                public_address: pub2.clone(),
                port: port2,
                at: Some(ts(an_hour_ago - Duration::from_secs(600))),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        // For the daemon, the test's "now" is an hour in the future.
        let e = c
            .lookup(pb::LookupRequest {
                public_address: pub2.clone(),
                port: port2,
                at: Some(ts(now)),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        for (a, p) in [("203.0.113", 1024), ("192.0.2.1", 1024), (pub2.as_str(), 0)] {
            let e = c
                .lookup(pb::LookupRequest {
                    public_address: a.into(),
                    port: p,
                    at: None,
                })
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{a}:{p}: {e:?}");
        }
        let algs = c
            .list_algs(pb::ListAlgsRequest {})
            .await
            .unwrap()
            .into_inner()
            .algs;
        let names: Vec<(&str, bool, &[u32])> = algs
            .iter()
            .map(|a| (a.name.as_str(), a.enabled, a.ports.as_slice()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("ftp", true, &[21u32][..]),
                ("tftp", false, &[69u32][..]),
                ("h323", false, &[1720u32][..]),
                ("rtsp", false, &[554u32][..]),
                ("pptp", false, &[1723u32][..]),
                ("sip", false, &[5060u32][..]),
            ],
            "the configured ALGs with their defaults"
        );

        // ---- access control: nothing changes without the token -----------------------------
        let before = config(&mut c).await;
        let e = c
            .change_config(set("timeouts.udp", "600"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let mut wrong = Request::new(set("timeouts.udp", "600"));
        wrong
            .metadata_mut()
            .insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(
            c.change_config(wrong).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        let e = c
            .clear_subscriber(pb::ClearSubscriberRequest {
                subscriber: dotted(sub(3)),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        assert_eq!(bindings(&mut c, by_sub(sub(3))).await.len(), 1);
        assert_eq!(config(&mut c).await, before);

        // ---- invalid changes: refused, nothing changed -------------------------------------
        use pb::change_config_request::Change;
        for (req, code) in [
            (set("timeouts.udp", "10"), Code::InvalidArgument),
            (set("timeouts.udpp", "600"), Code::InvalidArgument),
            (set("pool.block_size", "256"), Code::InvalidArgument),
            (
                set("limits.max_sessions_per_subscriber", "0"),
                Code::InvalidArgument,
            ),
            (set("logging.event_queue", "128"), Code::FailedPrecondition),
            (
                change(Change::DrainAddress("192.0.2.1".into())),
                Code::InvalidArgument,
            ),
            (
                change(Change::DrainAddress("203.0.113".into())),
                Code::InvalidArgument,
            ),
            (
                change(Change::UndrainAddress("203.0.113.1".into())),
                Code::FailedPrecondition,
            ),
            (
                change(Change::AddPoolPrefix("203.0.113.1".into())),
                Code::FailedPrecondition,
            ),
            (
                change(Change::AddPoolPrefix("203.0.113.64/33".into())),
                Code::InvalidArgument,
            ),
            (
                change(Change::Alg(pb::SetAlg {
                    name: "mgcp".into(),
                    enabled: Some(false),
                    ports: vec![],
                })),
                Code::NotFound,
            ),
            (
                change(Change::Alg(pb::SetAlg {
                    name: "ftp".into(),
                    enabled: None,
                    ports: vec![0],
                })),
                Code::InvalidArgument,
            ),
        ] {
            let e = c.change_config(auth(req.clone())).await.unwrap_err();
            assert_eq!(e.code(), code, "{req:?}: {e:?}");
            assert!(!e.message().is_empty());
        }
        assert_eq!(config(&mut c).await, before);

        // ---- live changes without restart --------------------------------------------------
        let r = c
            .change_config(auth(set("timeouts.udp", "600")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.summary, "timeouts.udp = 600");
        assert!(config(&mut c).await.contains("udp = 600"));
        // The UDP binding's expiry follows the new timeout.
        let ss = sessions(
            &mut c,
            pb::ListSessionsRequest {
                subscriber: dotted(sub(3)),
                ..Default::default()
            },
        )
        .await;
        let exp = ss[0].expires_in.unwrap().seconds;
        assert!((590..=600).contains(&exp), "expires in {exp}");
        // Per-session logging switched on: the next new flow is logged, existing ones stay.
        let count = |what: &str| {
            std::fs::read_to_string(&json)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(what))
                .count()
        };
        assert_eq!(count("session_create"), 0);
        c.change_config(auth(set("logging.sessions", "true")))
            .await
            .unwrap();
        vin.inject(&[udp(in_mac, sub(2), 5002, REMOTE, 53)]);
        wait_for("a session_create log line", || async {
            (count("session_create") == 1).then_some(())
        })
        .await;
        assert_eq!(
            bindings(&mut c, by_sub(sub(2))).await.len(),
            4,
            "existing bindings kept"
        );

        // ---- ALG switches, live --------------------------------------------------------------
        let alg = |name: &str, enabled: Option<bool>, ports: Vec<u32>| {
            change(Change::Alg(pb::SetAlg {
                name: name.into(),
                enabled,
                ports,
            }))
        };
        let r = c
            .change_config(auth(alg("ftp", Some(false), vec![21, 2121])))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.summary, "ftp off, ftp ports = [21, 2121]");
        let running = config(&mut c).await;
        assert!(
            running.contains("[alg.ftp]") && running.contains("2121"),
            "{running}"
        );
        let e = c
            .change_config(auth(alg("mgcp", Some(true), vec![])))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        let e = c
            .change_config(auth(alg("ftp", None, vec![21, 21])))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let e = c
            .change_config(alg("ftp", Some(true), vec![]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        c.change_config(auth(alg("ftp", Some(true), vec![21])))
            .await
            .unwrap();
        let ftp = c
            .list_algs(pb::ListAlgsRequest {})
            .await
            .unwrap()
            .into_inner()
            .algs
            .into_iter()
            .find(|a| a.name == "ftp")
            .unwrap();
        assert!(ftp.enabled && ftp.ports == vec![21]);

        // ---- drain a public address ---------------------------------------------------------
        let r = c
            .change_config(auth(change(Change::DrainAddress(pub2.clone()))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.summary, format!("drain {pub2}"));
        let st = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.draining, vec![pub2.clone()]);
        let e = c
            .change_config(auth(change(Change::DrainAddress(pub2.clone()))))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        // New subscribers avoid it (each of these would hash to some address; none may be pub2);
        // the existing subscriber keeps its address.
        let newcomers: Vec<u8> = (10..18).collect();
        vin.inject(
            &newcomers
                .iter()
                .map(|&i| udp(in_mac, sub(i), 7000, REMOTE, 53))
                .chain([udp(in_mac, sub(2), 5003, REMOTE, 53)])
                .collect::<Vec<_>>(),
        );
        wait_for("newcomer bindings", || {
            let mut c = c.clone();
            async move {
                (bindings(&mut c, pb::ListBindingsRequest::default())
                    .await
                    .len()
                    == 14)
                    .then_some(())
            }
        })
        .await;
        for &i in &newcomers {
            let b = bindings(&mut c, by_sub(sub(i))).await;
            assert_eq!(b.len(), 1);
            assert_ne!(
                b[0].public_address, pub2,
                "new subscriber on a drained address"
            );
        }
        assert!(bindings(&mut c, by_sub(sub(2)))
            .await
            .iter()
            .all(|b| b.public_address == pub2));
        let stats = c
            .get_stats(pb::GetStatsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(stats
            .addresses
            .iter()
            .any(|a| a.address == pub2 && a.draining && a.blocks_in_use == 1));
        c.change_config(auth(change(Change::UndrainAddress(pub2.clone()))))
            .await
            .unwrap();
        let st = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(st.draining.is_empty());

        // ---- clear a subscriber ------------------------------------------------------------
        for (a, code) in [
            ("100.64.0", Code::InvalidArgument),
            ("8.8.8.8", Code::InvalidArgument),
            ("100.64.9.9", Code::NotFound),
        ] {
            let e = c
                .clear_subscriber(auth(pb::ClearSubscriberRequest {
                    subscriber: a.into(),
                }))
                .await
                .unwrap_err();
            assert_eq!(e.code(), code, "{a}: {e:?}");
        }
        let r = c
            .clear_subscriber(auth(pb::ClearSubscriberRequest {
                subscriber: dotted(sub(3)),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.sessions_cleared, 1);
        assert!(bindings(&mut c, by_sub(sub(3))).await.is_empty());
        assert_eq!(
            bindings(&mut c, by_sub(sub(2))).await.len(),
            5,
            "others untouched"
        );

        // ---- the config-changed events -----------------------------------------------------
        let mut cfg_events = c
            .watch_events(pb::WatchEventsRequest {
                kinds: vec![pb::EventKind::ConfigChanged as i32],
            })
            .await
            .unwrap()
            .into_inner();
        c.change_config(auth(set("timeouts.icmp", "90")))
            .await
            .unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(10), cfg_events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.detail, "timeouts.icmp = 90");

        // ---- SIGTERM: a watcher sees the daemon go to draining before the API stops --------
        let mut health_events = c
            .watch_events(pb::WatchEventsRequest {
                kinds: vec![pb::EventKind::HealthChanged as i32],
            })
            .await
            .unwrap()
            .into_inner();
        run("kill", &["-TERM", &d.child.id().to_string()]);
        let ev = tokio::time::timeout(Duration::from_secs(10), health_events.next())
            .await
            .expect("a health event before the API stops")
            .expect("the stream still open")
            .unwrap();
        assert_eq!(ev.kind, pb::EventKind::HealthChanged as i32);
        assert_eq!(
            ev.detail, "draining",
            "NOT_SERVING on the gRPC health service"
        );
    });
    drop(rt);
    d.stop();
    let _ = std::fs::remove_file(&json);
}

/// Deterministic mode (RFC 7422): the abuse lookup is answered by the formula, with no traffic
/// at all. Subscribers 100.64.0.0/24 (256) over 4 public addresses: C = 64 per address,
/// M = 64512 / 64 = 1008 ports each; subscriber number 70 = 100.64.0.70 is on address 70 / 64 = 1
/// (203.0.113.1), slot 70 % 64 = 6, ports 1024 + 6 * 1008 = 7072 ..= 8079.
#[test]
fn deterministic_lookup_by_formula_on_a_running_cgnatd() {
    let dir = std::env::temp_dir().join(format!("cgnat-api-det-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    let mut f = std::fs::File::create(&empty).unwrap();
    f.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    f.write_all(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ])
    .unwrap();
    let d = dir.display();
    let d = Daemon::start(
        "det",
        &[
            format!("net_pcap0,rx_pcap={d}/empty.pcap,tx_pcap={d}/in_tx.pcap"),
            format!("net_pcap1,rx_pcap={d}/empty.pcap,tx_pcap={d}/out_tx.pcap"),
        ],
        ["net_pcap0", "net_pcap1"],
        "subscribers = [\"100.64.0.0/24\"]",
        "[pool]\nprefixes = [\"203.0.113.0/30\"]\nmode = \"deterministic\"\n",
        &[],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = d.client().await;
        let l = c
            .lookup(pb::LookupRequest {
                public_address: "203.0.113.1".into(),
                port: 7100,
                at: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(l.subscriber, "100.64.0.70");
        assert_eq!((l.port_start, l.port_end), (7072, 8079));
        assert_eq!(l.source, pb::LookupSource::Deterministic as i32);
        let blocks = c
            .list_port_blocks(pb::ListPortBlocksRequest {
                subscriber: "100.64.0.70".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .blocks;
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].public_address, "203.0.113.1");
        // Draining and adding addresses would remap subscribers: refused.
        use pb::change_config_request::Change;
        for ch in [
            Change::DrainAddress("203.0.113.1".into()),
            Change::AddPoolPrefix("203.0.113.64/30".into()),
        ] {
            let e = c.change_config(auth(change(ch))).await.unwrap_err();
            assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        }
        let st = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.pool_mode, "deterministic");
    });
    drop(rt);
    d.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Adding a pool prefix live, and the drains and additions kept across a restart in
/// `api.state_file`: one public address with a single block serves one subscriber; the next
/// finds the pool exhausted until `add_pool_prefix` adds four addresses, with no restart and
/// the first subscriber's binding untouched. A drain and the addition survive a restart (and a
/// SIGHUP of the unchanged file is not refused for the pool the file does not list).
#[test]
fn pool_prefix_added_live_and_kept_with_drains_across_a_restart() {
    use pb::change_config_request::Change;
    let tag = std::process::id() % 100_000;
    let vin = Veth::new(&format!("cpi{tag}"));
    let vout = Veth::new(&format!("cpo{tag}"));
    let in_mac = vin.mac();
    let keep = std::env::temp_dir().join(format!("cgnat-api-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    let state = keep.join("state.json");
    let extra = format!(
        "state_file = \"{}\"\n[pool]\nprefixes = [\"203.0.113.1/32\"]\nblock_size = 64512\n\
         max_blocks_per_subscriber = 1\n",
        state.display()
    );
    let start = || {
        Daemon::start(
            "state",
            &[
                format!("net_af_packet0,iface={}", vin.a),
                format!("net_af_packet1,iface={}", vout.a),
            ],
            ["net_af_packet0", "net_af_packet1"],
            "",
            &extra,
            &[],
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();

    let d = start();
    rt.block_on(async {
        let mut c = d.client().await;
        vout.inject(&[arp_request(NH_MAC, NH, [198, 51, 100, 1])]);
        vin.inject(&[udp(in_mac, sub(2), 5000, REMOTE, 53)]);
        wait_for("first subscriber's binding", || {
            let mut c = c.clone();
            async move { (bindings(&mut c, by_sub(sub(2))).await.len() == 1).then_some(()) }
        })
        .await;
        let first = bindings(&mut c, by_sub(sub(2))).await.remove(0);
        assert_eq!(first.public_address, "203.0.113.1");
        // The only block is taken: the next subscriber is refused (counted).
        vin.inject(&[udp(in_mac, sub(3), 5000, REMOTE, 53)]);
        wait_for("pool exhausted", || async {
            let m = d.scrape();
            (metric(
                &m,
                "cgnat_packets_dropped_total",
                &[("reason", "pool_exhausted")],
            ) >= 1.0)
                .then_some(())
        })
        .await;
        assert!(bindings(&mut c, by_sub(sub(3))).await.is_empty());

        // Refusals change nothing: no token, an entry already in the pool, a bad prefix.
        let e = c
            .change_config(change(Change::AddPoolPrefix("203.0.113.8/30".into())))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        for (p, code) in [
            ("203.0.113.1/32", Code::FailedPrecondition),
            ("203.0.113.8/33", Code::InvalidArgument),
        ] {
            let e = c
                .change_config(auth(change(Change::AddPoolPrefix(p.into()))))
                .await
                .unwrap_err();
            assert_eq!(e.code(), code, "{p}: {e:?}");
        }
        assert!(!state.exists(), "nothing saved for refused changes");

        let r = c
            .change_config(auth(change(Change::AddPoolPrefix("203.0.113.8/30".into()))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.summary, "pool.prefixes += 203.0.113.8/30 (4 addresses)");
        assert!(config(&mut c).await.contains("203.0.113.8/30"));
        // The waiting subscriber gets one of the new addresses now; the first keeps its own.
        vin.inject(&[udp(in_mac, sub(3), 5001, REMOTE, 53)]);
        wait_for("second subscriber's binding", || {
            let mut c = c.clone();
            async move { (bindings(&mut c, by_sub(sub(3))).await.len() == 1).then_some(()) }
        })
        .await;
        let second = bindings(&mut c, by_sub(sub(3))).await.remove(0);
        assert!(
            ["203.0.113.8", "203.0.113.9", "203.0.113.10", "203.0.113.11"]
                .contains(&second.public_address.as_str()),
            "{second:?}"
        );
        let still = bindings(&mut c, by_sub(sub(2))).await;
        assert_eq!(still.len(), 1);
        assert_eq!(
            (&still[0].public_address, still[0].public_port),
            (&first.public_address, first.public_port)
        );
        let stats = c
            .get_stats(pb::GetStatsRequest {})
            .await
            .unwrap()
            .into_inner();
        // Per pool entry: the new one is there, with its four addresses and one block used.
        let added = stats
            .pools
            .iter()
            .find(|p| p.entry == "203.0.113.8/30")
            .unwrap_or_else(|| panic!("{:?}", stats.pools));
        assert_eq!(
            (added.addresses, added.blocks_in_use, added.blocks_total),
            (4, 1, 4)
        );

        // Drain an address no one holds.
        let drained = ["203.0.113.9", "203.0.113.10"]
            .into_iter()
            .find(|a| *a != second.public_address)
            .unwrap();
        c.change_config(auth(change(Change::DrainAddress(drained.into()))))
            .await
            .unwrap();
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(saved["pool_added"], serde_json::json!(["203.0.113.8/30"]));
        assert_eq!(saved["drained"], serde_json::json!([drained]));
    });
    d.stop();

    // After a restart: the added prefix and the drain are back.
    let d = start();
    let drained = {
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        saved["drained"][0].as_str().unwrap().to_string()
    };
    rt.block_on(async {
        let mut c = d.client().await;
        let st = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.draining, vec![drained.clone()]);
        assert!(config(&mut c).await.contains("203.0.113.8/30"));
        // Four usable addresses (one drained), one block each: four subscribers get one each.
        vout.inject(&[arp_request(NH_MAC, NH, [198, 51, 100, 1])]);
        vin.inject(
            &(10..14)
                .map(|i| udp(in_mac, sub(i), 5000, REMOTE, 53))
                .collect::<Vec<_>>(),
        );
        wait_for("four bindings", || {
            let mut c = c.clone();
            async move {
                (bindings(&mut c, pb::ListBindingsRequest::default())
                    .await
                    .len()
                    == 4)
                    .then_some(())
            }
        })
        .await;
        let mut publics: Vec<String> = bindings(&mut c, pb::ListBindingsRequest::default())
            .await
            .into_iter()
            .map(|b| b.public_address)
            .collect();
        publics.sort();
        let mut want: Vec<String> = [
            "203.0.113.1",
            "203.0.113.8",
            "203.0.113.9",
            "203.0.113.10",
            "203.0.113.11",
        ]
        .into_iter()
        .filter(|a| *a != drained)
        .map(String::from)
        .collect();
        want.sort();
        assert_eq!(publics, want);
    });
    // SIGHUP with the file unchanged: nothing to apply, not "[pool] needs a restart".
    run("kill", &["-HUP", &d.child.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = d
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no SIGHUP log line");
        if l.contains("SIGHUP") {
            assert!(l.contains("unchanged, nothing to apply"), "{l}");
            break;
        }
    }
    rt.block_on(async {
        let mut c = d.client().await;
        c.change_config(auth(change(Change::UndrainAddress(drained.clone()))))
            .await
            .unwrap();
    });
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["drained"], serde_json::json!([]));
    drop(rt);
    d.stop();
    let _ = std::fs::remove_dir_all(&keep);
}

/// TLS and mTLS on a running cgnatd: the daemon reads `api.tls_cert`, `api.tls_key` and
/// `api.tls_client_ca` (certificates from a test CA made with rcgen); a plaintext client gets
/// nothing, a TLS client without a certificate reads, and a client certificate the CA signed
/// authenticates a mutation without the token.
#[test]
fn tls_and_client_certificates_on_a_running_cgnatd() {
    use pb::change_config_request::Change;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let dir = std::env::temp_dir().join(format!("cgnat-api-tlsfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |names: &[&str]| {
        let k = KeyPair::generate().unwrap();
        let c = CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&k, &ca, &ca_key)
            .unwrap();
        (c.pem(), k.serialize_pem())
    };
    let (srv_cert, srv_key) = leaf(&["localhost"]);
    let (cli_cert, cli_key) = leaf(&["noc"]);
    for (f, text) in [
        ("srv.pem", &srv_cert),
        ("srv.key", &srv_key),
        ("ca.pem", &ca.pem()),
        ("empty.pcap", &String::new()),
    ] {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let mut f = std::fs::File::create(dir.join("empty.pcap")).unwrap();
    f.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    f.write_all(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ])
    .unwrap();
    drop(f);
    let p = dir.display();
    let d = Daemon::start(
        "tls",
        &[
            format!("net_pcap0,rx_pcap={p}/empty.pcap,tx_pcap={p}/in_tx.pcap"),
            format!("net_pcap1,rx_pcap={p}/empty.pcap,tx_pcap={p}/out_tx.pcap"),
        ],
        ["net_pcap0", "net_pcap1"],
        "",
        &format!(
            "tls_cert = \"{p}/srv.pem\"\ntls_key = \"{p}/srv.key\"\ntls_client_ca = \"{p}/ca.pem\"\n\
             [pool]\nprefixes = [\"203.0.113.0/30\"]\n"
        ),
        &[],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Plaintext: no answer.
        if let Ok(ch) = Channel::from_shared(format!("http://{}", d.grpc))
            .unwrap()
            .timeout(Duration::from_secs(5))
            .connect()
            .await
        {
            let r = CgnatServiceClient::new(ch)
                .get_status(pb::GetStatusRequest {})
                .await;
            assert!(r.is_err(), "plaintext answered: {r:?}");
        }
        let client = |id: Option<Identity>| {
            let mut tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca.pem()))
                .domain_name("localhost");
            if let Some(id) = id {
                tls = tls.identity(id);
            }
            let url = format!("https://{}", d.grpc);
            async move {
                let ch = Channel::from_shared(url)
                    .unwrap()
                    .tls_config(tls)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                CgnatServiceClient::new(ch)
            }
        };
        let mut anon = client(None).await;
        let st = anon
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.state, pb::ServingState::Serving as i32);
        let drain = || change(Change::DrainAddress("203.0.113.1".into()));
        let e = anon.change_config(drain()).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        let mut op = client(Some(Identity::from_pem(&cli_cert, &cli_key))).await;
        op.change_config(drain()).await.unwrap();
        let st = anon
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.draining, vec!["203.0.113.1".to_string()]);
    });
    drop(rt);
    d.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
