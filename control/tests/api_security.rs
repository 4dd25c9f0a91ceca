//! Security of the gRPC API: TLS and mutual TLS with real certificates (a test CA made with
//! rcgen), clients without or with foreign certificates, oversized and malformed requests, and
//! garbage on the port. The server keeps serving after every one of them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use control::api::fake::FakeAppliance;
use control::api::proto as pb;
use control::api::proto::cgnat_service_client::CgnatServiceClient;
use control::api::{ApiServer, AuthPolicy, TlsError, TlsSettings};
use control::ApiConfig;
use pb::change_config_request::Change;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request};

const TOKEN: &str = "security-test-token";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses): (cert PEM, key PEM).
    fn issue(&self, names: &[&str]) -> (String, String) {
        let p = CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
            .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgnat-apisec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

struct Server {
    addr: std::net::SocketAddr,
    fake: Arc<FakeAppliance>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(cfg: &ApiConfig) -> Server {
    let fake = Arc::new(FakeAppliance::new());
    let server = ApiServer::new(Arc::clone(&fake), AuthPolicy::from_config(cfg).unwrap())
        .with_tls(TlsSettings::from_config(cfg).unwrap())
        .with_max_request_bytes(cfg.max_request_bytes);
    server
        .health()
        .set(control::api::model::ServingState::Serving);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        fake,
        _stop: stop,
    }
}

async fn tls_client(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<CgnatServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((c, k)) = identity {
        tls = tls.identity(Identity::from_pem(c, k));
    }
    let ch = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;
    Ok(CgnatServiceClient::new(ch))
}

async fn plain_client(addr: std::net::SocketAddr) -> CgnatServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    CgnatServiceClient::new(ch)
}

fn drain(a: &str) -> pb::ChangeConfigRequest {
    pb::ChangeConfigRequest {
        change: Some(Change::DrainAddress(a.into())),
    }
}

fn with_token<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

/// The fake appliance's pool has several addresses; draining then undraining one is a
/// harmless mutation that needs credentials.
const ADDR: &str = "203.0.113.1";

fn undrain(a: &str) -> pb::ChangeConfigRequest {
    pb::ChangeConfigRequest {
        change: Some(Change::UndrainAddress(a.into())),
    }
}

#[tokio::test]
async fn tls_and_client_certificates() {
    let dir = tempdir("mtls");
    let ca = Ca::new("cgnat");
    let rogue = Ca::new("rogue");
    let (srv_cert, srv_key) = ca.issue(&["localhost", "127.0.0.1"]);
    let (cli_cert, cli_key) = ca.issue(&["noc-operator"]);
    let (bad_cert, bad_key) = rogue.issue(&["intruder"]);
    let ca_pem = ca.cert.pem();
    let cfg = ApiConfig {
        token_file: Some(write(&dir, "token", TOKEN)),
        tls_cert: Some(write(&dir, "server.pem", &srv_cert)),
        tls_key: Some(write(&dir, "server.key", &srv_key)),
        tls_client_ca: Some(write(&dir, "ca.pem", &ca_pem)),
        ..ApiConfig::default()
    };
    let s = serve(&cfg).await;

    // A plaintext client gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        let e = CgnatServiceClient::new(ch)
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap_err();
        assert_ne!(e.code(), Code::Ok);
    }

    // TLS without a client certificate: reads work, mutations need the token.
    let mut anon = tls_client(s.addr, &ca_pem, None).await.unwrap();
    anon.get_status(pb::GetStatusRequest {}).await.unwrap();
    let e = anon.change_config(drain(ADDR)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert!(
        s.fake.state().draining.clone().is_empty(),
        "refused change applied"
    );
    anon.change_config(with_token(drain(ADDR))).await.unwrap();
    assert_eq!(
        s.fake.state().draining.clone(),
        vec![ADDR.parse::<std::net::Ipv4Addr>().unwrap()]
    );

    // A certificate the client CA signed authenticates without a token.
    let mut op = tls_client(s.addr, &ca_pem, Some((&cli_cert, &cli_key)))
        .await
        .unwrap();
    op.change_config(undrain(ADDR)).await.unwrap();
    assert!(s.fake.state().draining.clone().is_empty());

    // A certificate from another CA fails the handshake: no call gets through.
    let rogue_client = tls_client(s.addr, &ca_pem, Some((&bad_cert, &bad_key))).await;
    if let Ok(mut c) = rogue_client {
        let e = c.change_config(drain(ADDR)).await.unwrap_err();
        assert_ne!(e.code(), Code::Ok);
    }
    assert!(
        s.fake.state().draining.clone().is_empty(),
        "rogue certificate changed state"
    );

    // A client that does not trust the server's CA refuses it.
    assert!(
        tls_client(s.addr, &rogue.cert.pem(), None)
            .await
            .map(|_| ())
            .is_err()
            || {
                let mut c = tls_client(s.addr, &rogue.cert.pem(), None).await.unwrap();
                c.get_status(pb::GetStatusRequest {}).await.is_err()
            }
    );

    // Still serving.
    anon.get_status(pb::GetStatusRequest {}).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_files_are_checked_at_start_up_with_the_key_named() {
    let dir = tempdir("files");
    let ca = Ca::new("cgnat");
    let (cert, key) = ca.issue(&["localhost"]);
    let good = |c: &str, k: &str| ApiConfig {
        tls_cert: Some(write(&dir, "c.pem", c)),
        tls_key: Some(write(&dir, "k.pem", k)),
        ..ApiConfig::default()
    };
    assert!(TlsSettings::from_config(&good(&cert, &key))
        .unwrap()
        .is_some_and(|t| !t.client_certs));
    assert!(TlsSettings::from_config(&ApiConfig::default())
        .unwrap()
        .is_none());

    let missing = ApiConfig {
        tls_cert: Some(dir.join("nope.pem")),
        tls_key: Some(dir.join("nope.key")),
        ..ApiConfig::default()
    };
    let e = TlsSettings::from_config(&missing).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::Io {
                key: "api.tls_cert",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nope.pem"), "{e}");

    // A key where the certificate should be, and a certificate where the key should be.
    let e = TlsSettings::from_config(&good(&key, &key)).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                key: "api.tls_cert",
                ..
            }
        ),
        "{e}"
    );
    let e = TlsSettings::from_config(&good(&cert, &cert)).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                key: "api.tls_key",
                ..
            }
        ),
        "{e}"
    );
    // PEM markers around garbage: refused by rustls, at start-up.
    let junk = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    let e = TlsSettings::from_config(&good(junk, &key)).unwrap_err();
    assert!(matches!(e, TlsError::Refused(_)), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_refused_and_the_server_keeps_serving() {
    let dir = tempdir("limits");
    let cfg = ApiConfig {
        token_file: Some(write(&dir, "token", TOKEN)),
        max_request_bytes: 4096,
        ..ApiConfig::default()
    };
    let s = serve(&cfg).await;
    let mut c = plain_client(s.addr).await;

    // Oversized: a ChangeConfig value of 64 KiB against a 4 KiB limit.
    let big = pb::ChangeConfigRequest {
        change: Some(Change::Set(pb::SetValue {
            key: "timeouts.udp".into(),
            value: "9".repeat(65_536),
        })),
    };
    let e = c.change_config(with_token(big)).await.unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    // Just under the limit is decoded (and refused for its content, not its size).
    let near = pb::ChangeConfigRequest {
        change: Some(Change::Set(pb::SetValue {
            key: "timeouts.udp".into(),
            value: "9".repeat(3000),
        })),
    };
    let e = c.change_config(with_token(near)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");

    // Malformed protobuf: LookupRequest.public_address (field 1, a string) sent as a varint.
    #[derive(Clone, PartialEq, prost::Message)]
    struct WrongLookup {
        #[prost(uint64, tag = "1")]
        public_address: u64,
    }
    let ch = Channel::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(ch);
    raw.ready().await.unwrap();
    let codec: tonic::codec::ProstCodec<WrongLookup, pb::LookupResponse> =
        tonic::codec::ProstCodec::default();
    let e = raw
        .unary(
            Request::new(WrongLookup { public_address: 7 }),
            http::uri::PathAndQuery::from_static("/cgnat.v1.CgnatService/Lookup"),
            codec,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    // Semantically bad fields are INVALID_ARGUMENT, not a crash.
    let e = c
        .lookup(pb::LookupRequest {
            public_address: "203.0.113.999".into(),
            port: 70_000,
            at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");

    // Garbage and a half HTTP/2 preface on the raw port: the connection dies, the server not.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0xffu8; 4096][..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00"[..],
    ] {
        let mut t = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let _ = t.write_all(junk).await;
        let mut buf = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(2), t.read(&mut buf)).await;
    }
    c.get_status(pb::GetStatusRequest {}).await.unwrap();
    assert!(s.fake.state().draining.clone().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
