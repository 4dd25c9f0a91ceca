//! The gRPC API end to end: the server on 127.0.0.1:0 over the fake appliance, every RPC
//! called through a real tonic client — answers, refusals with their status codes (and the
//! fake showing that a refused call changed nothing), access control, health, reflection and
//! the event stream.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions too

use std::sync::Arc;
use std::time::Duration;

use control::api::fake::{FakeAppliance, T0_MS};
use control::api::model::{ApiEventKind, ServingState};
use control::api::proto as pb;
use control::api::proto::cgnat_service_client::CgnatServiceClient;
use control::api::{ApiServer, AuthPolicy, EventHub, HealthHandle};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request};

const TOKEN: &str = "t0ken-for-tests";

struct Harness {
    addr: std::net::SocketAddr,
    fake: Arc<FakeAppliance>,
    health: HealthHandle,
    events: EventHub,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Harness {
    async fn start(auth: AuthPolicy) -> Self {
        let fake = Arc::new(FakeAppliance::new());
        let server = ApiServer::new(Arc::clone(&fake), auth);
        let (health, events) = (server.health(), server.events());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            fake,
            health,
            events,
            _stop: stop,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> CgnatServiceClient<Channel> {
        CgnatServiceClient::new(self.channel().await)
    }
}

fn with_token<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

fn token_policy() -> AuthPolicy {
    AuthPolicy::new(Some(TOKEN.into()), false)
}

fn ts(ms: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: i64::try_from(ms / 1000).unwrap(),
        nanos: i32::try_from(ms % 1000).unwrap() * 1_000_000,
    }
}

#[tokio::test]
async fn status_and_stats() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let s = c
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.state, pb::ServingState::Starting as i32);
    assert_eq!(s.version, "0.1.0-fake");
    assert_eq!(s.pool_mode, "dynamic");
    assert_eq!(s.workers.len(), 1);
    assert_eq!(s.ports.len(), 2);
    assert!(s.uptime.unwrap().seconds > 0);
    h.health.set(ServingState::Serving);
    let s = c
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.state, pb::ServingState::Serving as i32);

    let st = c
        .get_stats(pb::GetStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.workers[0].counters[0].name, "rx_inside");
    assert_eq!(st.ports[0].role, "inside");
    assert_eq!(st.ports[0].rx_missed, 2);
    assert_eq!(st.drops[0].name, "drop_no_binding");
    assert_eq!(st.algs.len(), 2);
    assert_eq!(st.by_protocol.len(), 2);
    assert_eq!(st.sessions_per_subscriber_limit, 10_000);
    assert_eq!(st.addresses[0].address, "203.0.113.7");
    assert_eq!(st.pools[0].blocks_in_use, 1);
    assert_eq!(st.log_sinks[0].last_error, "connection refused");
}

#[tokio::test]
async fn bindings_and_sessions_are_streamed_and_filtered() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let list = |req: pb::ListBindingsRequest| {
        let mut c = c.clone();
        async move {
            let s = c.list_bindings(req).await?.into_inner();
            s.collect::<Result<Vec<_>, _>>().await
        }
    };
    assert_eq!(list(Default::default()).await.unwrap().len(), 3);
    let udp = list(pb::ListBindingsRequest {
        protocol: pb::Protocol::Udp as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(udp.len(), 2);
    assert!(udp.iter().all(|b| b.protocol == pb::Protocol::Udp as i32));
    let one = list(pb::ListBindingsRequest {
        subscriber: "100.64.0.7".into(),
        public_port: 1100,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].inside_port, 40000);
    let limited = list(pb::ListBindingsRequest {
        limit: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(limited.len(), 1);
    let none = list(pb::ListBindingsRequest {
        public_address: "203.0.113.99".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(none.is_empty());
    for bad in [
        pb::ListBindingsRequest {
            subscriber: "100.64.0.300".into(),
            ..Default::default()
        },
        pb::ListBindingsRequest {
            public_port: 70000,
            ..Default::default()
        },
        pb::ListBindingsRequest {
            protocol: 42,
            ..Default::default()
        },
    ] {
        let e = list(bad.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad:?}: {e}");
    }

    let sessions: Vec<pb::Session> = c
        .list_sessions(pb::ListSessionsRequest {
            protocol: pb::Protocol::Tcp as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].state, "established");
    assert_eq!(sessions[0].remote_address, "192.0.2.10");
}

#[tokio::test]
async fn port_blocks_and_lookup() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let blocks = |subscriber: &str, public: &str| pb::ListPortBlocksRequest {
        subscriber: subscriber.into(),
        public_address: public.into(),
    };
    let all = c
        .list_port_blocks(blocks("", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.blocks.len(), 1, "only the open block");
    assert_eq!(all.blocks[0].subscriber, "100.64.0.7");
    assert_eq!(all.blocks[0].allocated_at, Some(ts(T0_MS)));
    let by_pub = c
        .list_port_blocks(blocks("", "203.0.113.7"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_pub.blocks.len(), 1);
    let e = c
        .list_port_blocks(blocks("100.64.0.7", "203.0.113.7"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = c.list_port_blocks(blocks("8.8.8.8", "")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let lookup = |addr: &str, port: u32, at: Option<u64>| pb::LookupRequest {
        public_address: addr.into(),
        port,
        at: at.map(ts),
    };
    let a = c
        .lookup(lookup("203.0.113.7", 1100, Some(T0_MS + 5000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.subscriber, "100.64.0.7");
    assert_eq!((a.port_start, a.port_end), (1024, 1535));
    assert_eq!(a.source, pb::LookupSource::Registry as i32);
    assert_eq!(a.released_at, None);
    // The released block: 100.64.0.9 held it from T0+1s to T0+61s.
    let a = c
        .lookup(lookup("203.0.113.7", 1600, Some(T0_MS + 2000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.subscriber, "100.64.0.9");
    assert_eq!(a.released_at, Some(ts(T0_MS + 61_000)));
    // Now (no time given): still held by 100.64.0.7.
    let a = c.lookup(lookup("203.0.113.7", 1024, None)).await.unwrap();
    assert_eq!(a.into_inner().subscriber, "100.64.0.7");

    for (req, code) in [
        (
            lookup("203.0.113.7", 1600, Some(T0_MS + 61_000)),
            Code::NotFound,
        ),
        (lookup("203.0.113.7", 1100, Some(T0_MS - 1)), Code::NotFound),
        (lookup("203.0.113.7", 80, None), Code::NotFound),
        (lookup("198.51.100.9", 1100, None), Code::InvalidArgument),
        (lookup("not-an-ip", 1100, None), Code::InvalidArgument),
        (lookup("", 1100, None), Code::InvalidArgument),
        (lookup("203.0.113.7", 0, None), Code::InvalidArgument),
        (lookup("203.0.113.7", 65536, None), Code::InvalidArgument),
        (
            lookup("203.0.113.7", 1100, Some(u64::MAX / 4)),
            Code::InvalidArgument,
        ),
    ] {
        let e = c.lookup(req.clone()).await.unwrap_err();
        assert_eq!(e.code(), code, "{req:?}: {e}");
    }
}

#[tokio::test]
async fn algs_and_running_config() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let algs = c
        .list_algs(pb::ListAlgsRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = algs.algs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["ftp", "sip"]);
    let cfg = c
        .get_config(pb::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    let parsed = control::Config::from_toml_str(&cfg.toml).unwrap();
    assert_eq!(parsed, h.fake.state().config);
}

#[tokio::test]
async fn mutations_need_the_token_and_refusals_change_nothing() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let clear = |s: &str| pb::ClearSubscriberRequest {
        subscriber: s.into(),
    };
    let e = c.clear_subscriber(clear("100.64.0.7")).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = c
        .clear_subscriber(with_token(clear("100.64.0.7"), "wrong"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let change = pb::ChangeConfigRequest {
        change: Some(pb::change_config_request::Change::DrainAddress(
            "203.0.113.7".into(),
        )),
    };
    let e = c.change_config(change.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    {
        let st = h.fake.state();
        assert_eq!(st.sessions.len(), 3);
        assert!(st.applied.is_empty() && st.draining.is_empty());
    }

    let n = c
        .clear_subscriber(with_token(clear("100.64.0.7"), TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(n.sessions_cleared, 3);
    assert!(h.fake.state().sessions.is_empty());
    for (s, code) in [
        ("100.64.0.7", Code::NotFound),
        ("8.8.8.8", Code::InvalidArgument),
        ("bogus", Code::InvalidArgument),
        ("", Code::InvalidArgument),
    ] {
        let e = c
            .clear_subscriber(with_token(clear(s), TOKEN))
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{s}: {e}");
    }

    // Reads stay open unless require_token_for_reads.
    c.get_status(pb::GetStatusRequest {}).await.unwrap();

    // A server without a token refuses every mutation, whatever is sent.
    let open = Harness::start(AuthPolicy::new(None, false)).await;
    let mut c = open.client().await;
    let e = c
        .change_config(with_token(change, TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(open.fake.state().applied.is_empty());
}

#[tokio::test]
async fn reads_can_require_the_token() {
    let h = Harness::start(AuthPolicy::new(Some(TOKEN.into()), true)).await;
    let mut c = h.client().await;
    let e = c.get_status(pb::GetStatusRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = c
        .list_bindings(pb::ListBindingsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    c.get_status(with_token(pb::GetStatusRequest {}, TOKEN))
        .await
        .unwrap();
    // Health stays open for load balancers.
    let mut hc = tonic_health::pb::health_client::HealthClient::new(h.channel().await);
    hc.check(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn live_changes_are_validated_then_applied() {
    use pb::change_config_request::Change;
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let mut events = c
        .watch_events(pb::WatchEventsRequest {
            kinds: vec![pb::EventKind::ConfigChanged as i32],
        })
        .await
        .unwrap()
        .into_inner();
    let set = |k: &str, v: &str| pb::ChangeConfigRequest {
        change: Some(Change::Set(pb::SetValue {
            key: k.into(),
            value: v.into(),
        })),
    };
    let r = c
        .change_config(with_token(set("timeouts.udp", "600"), TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.summary, "timeouts.udp = 600");
    assert_eq!(h.fake.state().config.timeouts.udp, 600);
    let ev = events.next().await.unwrap().unwrap();
    assert_eq!(ev.kind, pb::EventKind::ConfigChanged as i32);
    assert_eq!(ev.detail, "timeouts.udp = 600");

    let alg = |name: &str, enabled: Option<bool>, ports: Vec<u32>| pb::ChangeConfigRequest {
        change: Some(Change::Alg(pb::SetAlg {
            name: name.into(),
            enabled,
            ports,
        })),
    };
    let drain = |a: &str| pb::ChangeConfigRequest {
        change: Some(Change::DrainAddress(a.into())),
    };
    let add = |p: &str| pb::ChangeConfigRequest {
        change: Some(Change::AddPoolPrefix(p.into())),
    };
    for (req, code) in [
        (set("timeouts.udp", "60"), Code::InvalidArgument),
        (set("timeouts.nope", "60"), Code::InvalidArgument),
        (set("pool.block_size", "256"), Code::InvalidArgument),
        (set("", "1"), Code::InvalidArgument),
        (alg("h323", Some(false), vec![]), Code::NotFound),
        (alg("ftp", None, vec![]), Code::InvalidArgument),
        (alg("ftp", None, vec![70000]), Code::InvalidArgument),
        (drain("192.0.2.1"), Code::InvalidArgument),
        (drain("x"), Code::InvalidArgument),
        (add("203.0.113.0/25"), Code::FailedPrecondition),
        (add("203.0.113.1/24"), Code::InvalidArgument),
        (add("nonsense"), Code::InvalidArgument),
        (
            pb::ChangeConfigRequest {
                change: Some(Change::UndrainAddress("203.0.113.7".into())),
            },
            Code::FailedPrecondition,
        ),
        (
            pb::ChangeConfigRequest { change: None },
            Code::InvalidArgument,
        ),
    ] {
        let e = c
            .change_config(with_token(req.clone(), TOKEN))
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{req:?}: {e}");
        assert!(!e.message().is_empty());
    }
    assert_eq!(
        h.fake.state().applied.len(),
        1,
        "refused changes applied nothing"
    );
    assert_eq!(h.fake.state().config.timeouts.udp, 600);

    c.change_config(with_token(alg("ftp", Some(false), vec![21, 2121]), TOKEN))
        .await
        .unwrap();
    let ftp = h.fake.state().algs[0].clone();
    assert!(!ftp.enabled);
    assert_eq!(ftp.ports, [21, 2121]);
    c.change_config(with_token(drain("203.0.113.7"), TOKEN))
        .await
        .unwrap();
    assert_eq!(
        h.fake.state().draining,
        ["203.0.113.7".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    let e = c
        .change_config(with_token(drain("203.0.113.7"), TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let r = c
        .change_config(with_token(add("192.0.2.128/25"), TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.summary, "pool.prefixes += 192.0.2.128/25 (128 addresses)");
    assert_eq!(h.fake.state().config.pool.address_count(), 384);
}

#[tokio::test]
async fn events_are_streamed_with_kind_filter() {
    let h = Harness::start(token_policy()).await;
    let mut c = h.client().await;
    let mut all = c
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut only_exhaustion = c
        .watch_events(pb::WatchEventsRequest {
            kinds: vec![pb::EventKind::PortsExhausted as i32],
        })
        .await
        .unwrap()
        .into_inner();
    let sub = "100.64.0.7".parse().unwrap();
    let public = "203.0.113.7".parse().unwrap();
    h.events.publish(ApiEventKind::BlockAllocated {
        subscriber: sub,
        public,
        port_start: 2048,
        port_end: 2559,
    });
    h.events.publish(ApiEventKind::PortsExhausted {
        subscriber: sub,
        public: Some(public),
    });
    let e = all.next().await.unwrap().unwrap();
    assert_eq!(e.kind, pb::EventKind::BlockAllocated as i32);
    assert_eq!(
        (e.subscriber.as_str(), e.port_start, e.port_end),
        ("100.64.0.7", 2048, 2559)
    );
    assert_eq!(
        all.next().await.unwrap().unwrap().kind,
        pb::EventKind::PortsExhausted as i32
    );
    let e = only_exhaustion.next().await.unwrap().unwrap();
    assert_eq!(e.kind, pb::EventKind::PortsExhausted as i32);
    assert_eq!(e.public_address, "203.0.113.7");
    let e = c
        .watch_events(pb::WatchEventsRequest { kinds: vec![99] })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn health_follows_the_serving_state() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let h = Harness::start(token_policy()).await;
    let mut hc = tonic_health::pb::health_client::HealthClient::new(h.channel().await);
    let check = |svc: &str| tonic_health::pb::HealthCheckRequest {
        service: svc.into(),
    };
    let status = |r: tonic::Response<tonic_health::pb::HealthCheckResponse>| r.into_inner().status;
    for svc in ["", "cgnat.v1.CgnatService"] {
        let s = status(hc.check(check(svc)).await.unwrap());
        assert_eq!(
            s,
            ServingStatus::NotServing as i32,
            "{svc:?} while starting"
        );
    }
    let mut watch = hc.watch(check("")).await.unwrap().into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    h.health.set(ServingState::Serving);
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;
    assert_eq!(
        next.unwrap().unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    let s = status(hc.check(check("cgnat.v1.CgnatService")).await.unwrap());
    assert_eq!(s, ServingStatus::Serving as i32);
    h.health.set(ServingState::Draining);
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;
    assert_eq!(
        next.unwrap().unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    let e = hc.check(check("no.such.Service")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_service() {
    let h = Harness::start(token_policy()).await;
    let channel = h.channel().await;
    {
        use tonic_reflection::pb::v1::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let mut c = ServerReflectionClient::new(channel.clone());
        let reqs = [
            MessageRequest::ListServices(String::new()),
            MessageRequest::FileContainingSymbol("cgnat.v1.CgnatService".into()),
        ]
        .map(|m| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(m),
        });
        let mut resp = c
            .server_reflection_info(tokio_stream::iter(reqs))
            .await
            .unwrap()
            .into_inner();
        match resp
            .next()
            .await
            .unwrap()
            .unwrap()
            .message_response
            .unwrap()
        {
            MessageResponse::ListServicesResponse(l) => {
                let names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
                for want in [
                    "cgnat.v1.CgnatService",
                    "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                ] {
                    assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        match resp
            .next()
            .await
            .unwrap()
            .unwrap()
            .message_response
            .unwrap()
        {
            MessageResponse::FileDescriptorResponse(f) => {
                assert!(!f.file_descriptor_proto.is_empty())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    {
        use tonic_reflection::pb::v1alpha::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let mut c = ServerReflectionClient::new(channel);
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut resp = c
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        match resp
            .next()
            .await
            .unwrap()
            .unwrap()
            .message_response
            .unwrap()
        {
            MessageResponse::ListServicesResponse(l) => {
                assert!(l.service.iter().any(|s| s.name == "cgnat.v1.CgnatService"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
