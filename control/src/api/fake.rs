//! An in-memory [`Appliance`] for tests (this crate's and `cgnatctl`'s): a fixed status and
//! counters, a few bindings and sessions, a port-block registry, and every accepted change
//! recorded so a test can check that a refused one changed nothing. Compiled only with the
//! `fake` feature; the daemon never enables it.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::lookup::{self, from_unix_ms};
use super::model::*;
use super::{ApiError, Appliance, EntryStream};
use crate::registry::PortBlockRegistry;
use crate::Config;

/// Unix ms of the fake's first block allocation (2023-11-14T22:13:20Z).
pub const T0_MS: u64 = 1_700_000_000_000;

/// The fake's config: one /24 pool, subscribers in 100.64.0.0/10.
pub const CONFIG: &str = r#"
eal.args = ["--no-huge"]
inside.device = "net_null0"
inside.address = "100.64.0.1/10"
outside.device = "net_null1"
outside.address = "198.51.100.1/24"
pool.prefixes = ["203.0.113.0/24"]
"#;

/// What the fake holds; public so tests can look inside.
#[derive(Debug)]
pub struct FakeState {
    /// The running config.
    pub config: Config,
    /// ALGs.
    pub algs: Vec<AlgStatus>,
    /// Drained addresses.
    pub draining: Vec<Ipv4Addr>,
    /// Bindings.
    pub bindings: Vec<Binding>,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// The registry.
    pub registry: PortBlockRegistry,
    /// Every change applied, in order.
    pub applied: Vec<ValidatedChange>,
}

/// The fake appliance. See the module documentation.
#[derive(Debug)]
pub struct FakeAppliance {
    state: Mutex<FakeState>,
}

fn sa(a: [u8; 4], p: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(a), p)
}

impl Default for FakeAppliance {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeAppliance {
    /// The fake with its fixed content: subscriber 100.64.0.7 holds 203.0.113.7:1024-1535
    /// (allocated at [`T0_MS`]) with two UDP bindings and one TCP binding, 100.64.0.9 held
    /// 203.0.113.7:1536-2047 from `T0_MS + 1000` to `T0_MS + 61000`.
    #[allow(clippy::missing_panics_doc)]
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let config = Config::from_toml_str(CONFIG).expect("the fake's config is valid");
        let mut registry = PortBlockRegistry::new(1000, 86_400_000);
        let (p7, s7, s9) = (
            Ipv4Addr::new(203, 0, 113, 7),
            Ipv4Addr::new(100, 64, 0, 7),
            Ipv4Addr::new(100, 64, 0, 9),
        );
        registry.allocate(p7, 1024, 1535, s7, T0_MS);
        registry.allocate(p7, 1536, 2047, s9, T0_MS + 1000);
        registry.release(p7, 1536, T0_MS + 61_000);
        let b = |protocol, inside, public, sessions| Binding {
            protocol,
            inside,
            public,
            worker: 0,
            sessions,
            idle: Duration::from_secs(3),
        };
        let bindings = vec![
            b(
                Protocol::Udp,
                sa([100, 64, 0, 7], 5000),
                sa([203, 0, 113, 7], 1030),
                1,
            ),
            b(
                Protocol::Udp,
                sa([100, 64, 0, 7], 5001),
                sa([203, 0, 113, 7], 1031),
                1,
            ),
            b(
                Protocol::Tcp,
                sa([100, 64, 0, 7], 40000),
                sa([203, 0, 113, 7], 1100),
                1,
            ),
        ];
        let sessions = bindings
            .iter()
            .map(|b| Session {
                protocol: b.protocol,
                inside: b.inside,
                public: b.public,
                remote: sa([192, 0, 2, 10], 53),
                worker: 0,
                state: (b.protocol == Protocol::Tcp).then(|| "established".to_owned()),
                alg: None,
                idle: b.idle,
                expires_in: Duration::from_secs(297),
            })
            .collect();
        let alg = |name: &str, port| AlgStatus {
            name: name.into(),
            enabled: true,
            ports: vec![port],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        };
        Self {
            state: Mutex::new(FakeState {
                config,
                algs: vec![alg("ftp", 21), alg("sip", 5060)],
                draining: Vec::new(),
                bindings,
                sessions,
                registry,
                applied: Vec::new(),
            }),
        }
    }

    /// The state, for assertions.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn stream<T: Send + 'static>(items: Vec<T>) -> EntryStream<T> {
    let (tx, rx) = tokio::sync::mpsc::channel(items.len().max(1));
    for i in items {
        // Capacity is the item count: never full.
        let _ = tx.try_send(i);
    }
    rx
}

impl Appliance for FakeAppliance {
    fn status(&self) -> StatusSnapshot {
        StatusSnapshot {
            version: "0.1.0-fake".into(),
            started_at: from_unix_ms(T0_MS),
            workers: vec![WorkerStatus {
                id: 0,
                lcore: 1,
                polling: true,
                busy_ratio: 0.25,
            }],
            ports: vec![
                PortStatus {
                    role: PortRole::Inside,
                    device: "net_null0".into(),
                    link_up: true,
                    speed_mbps: 10000,
                },
                PortStatus {
                    role: PortRole::Outside,
                    device: "net_null1".into(),
                    link_up: true,
                    speed_mbps: 10000,
                },
            ],
            draining: self.state().draining.clone(),
        }
    }

    fn stats(&self) -> StatsSnapshot {
        let st = self.state();
        let port = |role, device: &str, n| PortStats {
            role,
            device: device.into(),
            rx_packets: n,
            tx_packets: n - 1,
            rx_bytes: n * 100,
            tx_bytes: (n - 1) * 100,
            rx_missed: 2,
            rx_errors: 0,
            tx_errors: 0,
        };
        StatsSnapshot {
            workers: vec![WorkerStats {
                id: 0,
                busy_ratio: 0.25,
                sessions: 3,
                bindings: 3,
                counters: vec![("rx_inside".into(), 1000), ("drop_no_binding".into(), 5)],
            }],
            ports: vec![
                port(PortRole::Inside, "net_null0", 1000),
                port(PortRole::Outside, "net_null1", 900),
            ],
            drops: vec![
                ("drop_no_binding".into(), 5),
                ("drop_port_exhausted".into(), 0),
            ],
            algs: st.algs.clone(),
            by_protocol: vec![
                ProtocolCount {
                    protocol: Protocol::Tcp,
                    sessions: 1,
                    bindings: 1,
                },
                ProtocolCount {
                    protocol: Protocol::Udp,
                    sessions: 2,
                    bindings: 2,
                },
            ],
            session_capacity: 1 << 20,
            sessions_per_subscriber_limit: u64::from(st.config.limits.max_sessions_per_subscriber),
            pools: vec![PoolUsage {
                entry: "203.0.113.0/24".into(),
                addresses: 256,
                blocks_in_use: 1,
                blocks_total: 256 * 126,
            }],
            addresses: vec![AddressUsage {
                address: Ipv4Addr::new(203, 0, 113, 7),
                blocks_in_use: 1,
                blocks_total: 126,
                subscribers: 1,
                draining: st.draining.contains(&Ipv4Addr::new(203, 0, 113, 7)),
            }],
            log_sinks: vec![LogSinkHealth {
                sink: "syslog".into(),
                destination: "127.0.0.1:5514".into(),
                healthy: false,
                records_sent: 10,
                records_dropped: 1,
                last_error: Some("connection refused".into()),
            }],
            events_dropped: 0,
        }
    }

    fn algs(&self) -> Vec<AlgStatus> {
        self.state().algs.clone()
    }

    fn bindings(&self, filter: EntryFilter) -> Result<EntryStream<Binding>, ApiError> {
        let st = self.state();
        Ok(stream(
            st.bindings
                .iter()
                .filter(|b| filter.matches(b.protocol, b.inside, b.public))
                .cloned()
                .collect(),
        ))
    }

    fn sessions(&self, filter: EntryFilter) -> Result<EntryStream<Session>, ApiError> {
        let st = self.state();
        Ok(stream(
            st.sessions
                .iter()
                .filter(|s| filter.matches(s.protocol, s.inside, s.public))
                .cloned()
                .collect(),
        ))
    }

    fn port_blocks(&self, filter: BlockFilter) -> Result<Vec<PortBlock>, ApiError> {
        let st = self.state();
        lookup::port_blocks(&st.config, &st.registry, filter)
    }

    fn lookup(
        &self,
        public: Ipv4Addr,
        port: u16,
        at: SystemTime,
    ) -> Result<LookupAnswer, ApiError> {
        let st = self.state();
        lookup::lookup(
            &st.config,
            &st.registry,
            public,
            port,
            at,
            SystemTime::now(),
        )
    }

    fn clear_subscriber(&self, subscriber: Ipv4Addr) -> Result<u64, ApiError> {
        let mut st = self.state();
        if !st
            .config
            .inside
            .subscribers
            .iter()
            .any(|p| p.contains(subscriber))
        {
            return Err(ApiError::invalid(format!(
                "{subscriber} is not a subscriber address (inside.subscribers)"
            )));
        }
        let before = st.sessions.len();
        st.sessions.retain(|s| *s.inside.ip() != subscriber);
        st.bindings.retain(|b| *b.inside.ip() != subscriber);
        let n = before - st.sessions.len();
        if n == 0 {
            return Err(ApiError::not_found(format!(
                "subscriber {subscriber} has no sessions"
            )));
        }
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn running_config(&self) -> Config {
        self.state().config.clone()
    }

    fn apply_change(&self, change: ValidatedChange) -> Result<(), ApiError> {
        let mut st = self.state();
        match &change.change {
            ConfigChange::Alg {
                name,
                enabled,
                ports,
            } => {
                if let Some(a) = st
                    .algs
                    .iter_mut()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    if let Some(e) = enabled {
                        a.enabled = *e;
                    }
                    if let Some(p) = ports {
                        a.ports.clone_from(p);
                    }
                }
            }
            ConfigChange::Drain(a) => st.draining.push(*a),
            ConfigChange::Undrain(a) => st.draining.retain(|d| d != a),
            ConfigChange::Set { .. } | ConfigChange::AddPoolEntry(_) => {}
        }
        st.config = change.config.clone();
        st.applied.push(change);
        Ok(())
    }
}
