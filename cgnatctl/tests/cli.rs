//! `cgnatctl` as a script would use it: the binary run against the API server over the fake
//! appliance (127.0.0.1:0), `--json` output parsed, exit codes checked.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions too

use std::process::Output;
use std::sync::Arc;

use control::api::fake::FakeAppliance;
use control::api::{ApiServer, AuthPolicy};
use serde_json::Value;

const TOKEN: &str = "cli-test-token";

struct Server {
    addr: String,
    fake: Arc<FakeAppliance>,
    token_file: std::path::PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn server() -> Server {
    let fake = Arc::new(FakeAppliance::new());
    let srv = ApiServer::new(
        Arc::clone(&fake),
        AuthPolicy::new(Some(TOKEN.into()), false),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(srv.serve(listener, async {
        let _ = stopped.await;
    }));
    let token_file =
        std::env::temp_dir().join(format!("cgnatctl-test-{}-{addr}", std::process::id()));
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    Server {
        addr,
        fake,
        token_file,
        _stop: stop,
    }
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_cgnatctl"))
            .args(&args)
            .env_remove("CGNAT_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

impl Server {
    async fn ctl(&self, args: &[&str]) -> Output {
        let mut v = vec!["--server".to_owned(), self.addr.clone()];
        v.extend(args.iter().map(|s| (*s).to_owned()));
        run(v).await
    }

    async fn ctl_auth(&self, args: &[&str]) -> Output {
        let mut v = vec!["--token-file", self.token_file.to_str().unwrap()];
        v.extend(args);
        self.ctl(&v).await
    }
}

fn json(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_and_exit_codes() {
    let s = server().await;

    let v = json(&s.ctl(&["--json", "status"]).await);
    assert_eq!(v["version"], "0.1.0-fake");
    assert_eq!(v["state"], "starting");
    assert_eq!(v["ports"][1]["role"], "outside");

    let v = json(&s.ctl(&["--json", "stats"]).await);
    assert_eq!(v["drops"]["drop_no_binding"], 5);
    assert_eq!(v["log_sinks"][0]["healthy"], false);

    let v = json(&s.ctl(&["--json", "sessions", "--protocol", "udp"]).await);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let v = json(
        &s.ctl(&["--json", "sessions", "--bindings", "--port", "1100"])
            .await,
    );
    assert_eq!(v[0]["inside_port"], 40000);

    let v = json(
        &s.ctl(&["--json", "blocks", "--subscriber", "100.64.0.7"])
            .await,
    );
    assert_eq!(v[0]["port_start"], 1024);
    assert_eq!(v[0]["allocated_at"], "2023-11-14T22:13:20.000Z");

    let v = json(
        &s.ctl(&[
            "--json",
            "lookup",
            "203.0.113.7:1600",
            "--at",
            "2023-11-14T22:13:22Z",
        ])
        .await,
    );
    assert_eq!(v["subscriber"], "100.64.0.9");
    assert_eq!(v["released_at"], "2023-11-14T22:14:21.000Z");
    assert_eq!(v["source"], "registry");
    let v = json(
        &s.ctl(&["--json", "lookup", "203.0.113.7:1100", "--at", "1700000005"])
            .await,
    );
    assert_eq!(v["subscriber"], "100.64.0.7");

    let v = json(&s.ctl(&["--json", "alg"]).await);
    assert_eq!(v[0]["name"], "ftp");
    let v = json(&s.ctl(&["--json", "config", "get"]).await);
    assert!(v["toml"].as_str().unwrap().contains("[pool]"));

    // Human tables work too.
    let o = s.ctl(&["stats"]).await;
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("DROP REASON"));

    // Exit codes.
    assert_eq!(
        code(&s.ctl(&["lookup", "203.0.113.7:1600"]).await),
        4,
        "not found"
    );
    assert_eq!(
        code(&s.ctl(&["lookup", "192.0.2.1:1600"]).await),
        5,
        "invalid argument"
    );
    assert_eq!(code(&s.ctl(&["lookup", "203.0.113.7"]).await), 2, "usage");
    assert_eq!(
        code(&s.ctl(&["lookup", "203.0.113.7:1", "--at", "soon"]).await),
        2
    );
    assert_eq!(code(&s.ctl(&["bogus-command"]).await), 2);
    assert_eq!(code(&s.ctl(&["clear", "100.64.0.7"]).await), 6, "no token");
    assert_eq!(
        code(&s.ctl(&["config", "set", "timeouts.udp", "600"]).await),
        6
    );
    assert_eq!(s.fake.state().sessions.len(), 3);
    assert!(s.fake.state().applied.is_empty());

    let v = json(
        &s.ctl_auth(&["--json", "config", "set", "timeouts.udp", "600"])
            .await,
    );
    assert_eq!(v["summary"], "timeouts.udp = 600");
    assert_eq!(
        code(&s.ctl_auth(&["config", "set", "timeouts.udp", "5"]).await),
        5
    );
    assert_eq!(
        code(&s.ctl_auth(&["config", "set", "pool.block_size", "8"]).await),
        5
    );
    assert_eq!(code(&s.ctl_auth(&["alg", "set", "h323", "--off"]).await), 4);
    let v = json(
        &s.ctl_auth(&[
            "--json",
            "alg",
            "set",
            "sip",
            "--off",
            "--ports",
            "5060,5080",
        ])
        .await,
    );
    assert_eq!(v["summary"], "sip off, sip ports = [5060, 5080]");
    let v = json(
        &s.ctl_auth(&["--json", "pool", "drain", "203.0.113.7"])
            .await,
    );
    assert_eq!(v["summary"], "drain 203.0.113.7");
    assert_eq!(
        code(&s.ctl_auth(&["pool", "drain", "203.0.113.7"]).await),
        5
    );
    let v = json(
        &s.ctl_auth(&["--json", "pool", "drain", "--undo", "203.0.113.7"])
            .await,
    );
    assert_eq!(v["summary"], "undrain 203.0.113.7");
    let v = json(&s.ctl_auth(&["--json", "clear", "100.64.0.7"]).await);
    assert_eq!(v["sessions_cleared"], 3);
    assert_eq!(code(&s.ctl_auth(&["clear", "100.64.0.7"]).await), 4);
    assert_eq!(s.fake.state().applied.len(), 4);

    // Nothing listening: connection failure.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let o = run(vec![
        "--server".into(),
        closed,
        "--timeout".into(),
        "2".into(),
        "status".into(),
    ])
    .await;
    assert_eq!(
        code(&o),
        3,
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_file(&s.token_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_until_count() {
    let s = server().await;
    let events = {
        let mut v = vec!["--server".to_owned(), s.addr.clone()];
        v.extend(
            [
                "--json",
                "events",
                "--kind",
                "config-changed",
                "--count",
                "1",
            ]
            .map(String::from),
        );
        tokio::spawn(run(v))
    };
    // Publish until the watcher has subscribed and seen one (it may connect after the first).
    let mut out = None;
    for _ in 0..100 {
        let _ = s.ctl_auth(&["config", "set", "timeouts.icmp", "120"]).await;
        if events.is_finished() {
            out = Some(events.await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let o = out.expect("events printed one event and exited");
    let v = json(&o);
    assert_eq!(v["kind"], "config-changed");
    assert_eq!(v["detail"], "timeouts.icmp = 120");
}

/// `--ca` / `--cert` / `--key` against a server with TLS and client certificates: without a
/// certificate reads work and a drain needs the token; with one the drain needs nothing else;
/// a server the CA did not sign is refused (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_client_certificates() {
    use control::api::TlsSettings;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = std::env::temp_dir().join(format!("cgnatctl-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let leaf = |names: &[&str], stem: &str| {
        let k = KeyPair::generate().unwrap();
        let c = CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&k, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join(format!("{stem}.pem")), c.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), k.serialize_pem()).unwrap();
    };
    leaf(&["localhost"], "srv");
    leaf(&["noc"], "cli");
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let other = KeyPair::generate().unwrap();
    let mut op = CertificateParams::new(Vec::<String>::new()).unwrap();
    op.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    std::fs::write(dir.join("other.pem"), op.self_signed(&other).unwrap().pem()).unwrap();
    let cfg = control::ApiConfig {
        tls_cert: Some(dir.join("srv.pem")),
        tls_key: Some(dir.join("srv.key")),
        tls_client_ca: Some(dir.join("ca.pem")),
        ..control::ApiConfig::default()
    };
    let fake = Arc::new(FakeAppliance::new());
    let srv = ApiServer::new(
        Arc::clone(&fake),
        AuthPolicy::new(Some(TOKEN.into()), false).with_client_certs(true),
    )
    .with_tls(TlsSettings::from_config(&cfg).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(srv.serve(listener, async {
        let _ = stopped.await;
    }));
    let server = format!("localhost:{port}");
    let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let ctl = |extra: Vec<String>| {
        let mut v = vec![
            "--server".to_owned(),
            server.clone(),
            "--ca".into(),
            f("ca.pem"),
        ];
        v.extend(extra);
        run(v)
    };
    let s = |a: &[&str]| a.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let st = json(&ctl(s(&["--json", "status"])).await);
    assert!(st["version"].is_string(), "{st}");
    let o = ctl(s(&["pool", "drain", "203.0.113.1"])).await;
    assert_eq!(code(&o), 6, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fake.state().draining.is_empty());
    let mut with_cert = s(&["--cert", &f("cli.pem"), "--key", &f("cli.key")]);
    with_cert.extend(s(&["pool", "drain", "203.0.113.1"]));
    let o = ctl(with_cert).await;
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fake.state().draining.len(), 1);
    // A CA that did not sign the server's certificate: cannot reach it safely.
    let o = run(s(&["--server", &server, "--ca", &f("other.pem"), "status"])).await;
    assert_eq!(code(&o), 3, "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
