//! `cgnatd`'s implementation of the management API's [`Appliance`]: what the gRPC server and
//! `/metrics` ask, answered from what the control plane has.
//!
//! - counters and table sizes: the snapshots workers publish every 100 ms
//!   (`worker_link`), never the workers' tables;
//! - ports: a view the main thread refreshes every 100 ms (`rte_eth_stats`, link);
//! - port blocks and abuse lookups: the port-block registry the control thread feeds, and the
//!   deterministic formula over the running configuration (`control::api::lookup`);
//! - bindings, sessions, clearing a subscriber, draining an address: queries the workers
//!   answer in bounded steps (`dataplane::query`), one worker after the other;
//! - live changes: the same [`LiveConfig`] snapshots SIGHUP publishes, plus a rebuild of the
//!   control thread's sinks when a logging destination changes.
//!
//! Every method runs on tokio's blocking pool (never on a worker) and may wait for workers
//! under a deadline; nothing here is on the packet path.

use crate::clock::Clock;
use crate::control_thread::ControlCmd;
use crate::convert::worker_config;
use crate::reload::LiveInbox;
use crate::sinks::SharedRegistry;
use crate::worker_link::{WorkerClient, WorkerSnapshot};
use control::api::lookup;
use control::api::model::*;
use control::api::{ApiError, Appliance, EntryStream};
use control::config::PoolEntry;
use control::state::RuntimeState;
use control::Config;
use dataplane::live::LiveConfig;
use dataplane::nat::MAX_ADDED_AT_ONCE;
use dataplane::port_block::AddError;
use dataplane::query::{BindingInfo, Query, QueryFilter, QueryItem, SessionInfo};
use dataplane::session::tcp;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};
use tracing::info;

/// Locks a control-plane mutex; a panic elsewhere does not poison the API.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A port's state as the main thread last read it.
#[derive(Debug, Clone)]
pub struct PortView {
    /// Link and identity.
    pub status: PortStatus,
    /// Counters.
    pub stats: PortStats,
}

/// What the daemon shares with the API. See the module documentation.
#[derive(Debug)]
pub struct Daemon {
    /// When the daemon started.
    pub started_at: SystemTime,
    /// The control plane's clock.
    pub clock: Clock,
    /// The running configuration (SIGHUP reloads and API changes both go through it).
    pub config: Arc<Mutex<Config>>,
    /// Every worker's live-config inbox.
    pub inboxes: Vec<LiveInbox>,
    /// Every worker's query and snapshot link, and its lcore.
    pub workers: Vec<(WorkerClient, u32)>,
    /// Both ports, refreshed by the main thread.
    pub ports: Arc<Mutex<Vec<PortView>>>,
    /// The port-block registry.
    pub registry: SharedRegistry,
    /// The sinks' health, refreshed by the control thread.
    pub sink_health: Arc<Mutex<Vec<LogSinkHealth>>>,
    /// Requests to the control thread.
    pub control: Mutex<Sender<ControlCmd>>,
    /// Public addresses being drained.
    pub draining: Mutex<Vec<Ipv4Addr>>,
    /// What `api.state_file` keeps (pool additions, drains), and the file (none: not kept).
    pub state: Mutex<RuntimeState>,
    /// `api.state_file` as the daemon started (a restart-only key).
    pub state_path: Option<PathBuf>,
}

fn protocol(p: u8) -> Option<Protocol> {
    match p {
        6 => Some(Protocol::Tcp),
        17 => Some(Protocol::Udp),
        1 => Some(Protocol::Icmp),
        _ => None,
    }
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Icmp => 1,
    }
}

fn sa(a: u32, p: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(a), p)
}

fn tcp_state(f: u8) -> &'static str {
    if f & tcp::PERMIT != 0 {
        "permit"
    } else if f & tcp::RST != 0 {
        "reset"
    } else if f & (tcp::FIN_IN | tcp::FIN_OUT) != 0 {
        "closing"
    } else if tcp::established(f) {
        "established"
    } else if f & tcp::SYN_OUT != 0 {
        "syn-sent"
    } else if f & tcp::SYN_IN != 0 {
        "syn-received"
    } else {
        "unknown"
    }
}

fn binding_of(b: &BindingInfo, worker: u32) -> Option<Binding> {
    Some(Binding {
        protocol: protocol(b.proto)?,
        inside: sa(b.subscriber, b.inside_port),
        public: sa(b.public, b.public_port),
        worker,
        sessions: b.sessions,
        idle: Duration::from_secs(u64::from(b.idle_s)),
    })
}

fn session_of(s: &SessionInfo, worker: u32) -> Option<Session> {
    let proto = protocol(s.binding.proto)?;
    Some(Session {
        protocol: proto,
        inside: sa(s.binding.subscriber, s.binding.inside_port),
        public: sa(s.binding.public, s.binding.public_port),
        remote: sa(s.remote, s.remote_port),
        worker,
        state: (proto == Protocol::Tcp).then(|| tcp_state(s.tcp_flags).to_owned()),
        alg: None,
        idle: Duration::from_secs(u64::from(s.idle_s)),
        expires_in: Duration::from_secs(u64::from(s.expires_in_s)),
    })
}

fn query_filter(f: &EntryFilter) -> QueryFilter {
    QueryFilter {
        subscriber: f.subscriber.map(u32::from),
        public: f.public.map(u32::from),
        public_port: f.public_port,
        proto: f.protocol.map(proto_number),
    }
}

/// Entries buffered between the workers and a slow gRPC client.
const STREAM_BUFFER: usize = 256;

impl Daemon {
    fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    fn snapshots(&self) -> Vec<Option<WorkerSnapshot>> {
        self.workers.iter().map(|(w, _)| w.snapshot()).collect()
    }

    /// Streams what `q` yields from every worker, converted by `conv`, at most `limit`.
    fn stream<T: Send + 'static>(
        self: &Arc<Self>,
        q: Query,
        limit: Option<u64>,
        conv: fn(&QueryItem, u32) -> Option<T>,
    ) -> Result<EntryStream<T>, ApiError> {
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ApiError::Internal("listing outside the API runtime".into()))?;
        let me = Arc::clone(self);
        handle.spawn_blocking(move || {
            let mut left = limit.unwrap_or(u64::MAX);
            for (i, (w, _)) in me.workers.iter().enumerate() {
                let id = u32::try_from(i).unwrap_or(u32::MAX);
                let r = w.run(i, q, |item| match conv(&item, id) {
                    Some(x) if left > 0 => {
                        left -= 1;
                        // Waits while the client reads slowly; an error means it went away.
                        tx.blocking_send(x).is_ok() && left > 0
                    }
                    Some(_) => false,
                    None => true,
                });
                // A worker that cannot answer ends the stream early (the client sees fewer
                // entries); the error is in the log.
                if let Err(e) = r {
                    tracing::warn!("listing: {e}");
                    return;
                }
                if left == 0 || tx.is_closed() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// Runs `q` on every worker, folding the items.
    fn on_all(&self, q: Query, mut f: impl FnMut(QueryItem)) -> Result<(), ApiError> {
        for (i, (w, _)) in self.workers.iter().enumerate() {
            w.run(i, q, |item| {
                f(item);
                true
            })?;
        }
        Ok(())
    }

    /// Applies a `set` change: live worker settings and/or logging destinations.
    fn apply_set(&self, new: Config) -> Result<(), ApiError> {
        let mut cur = lock(&self.config);
        // Everything but the live keys must be unchanged.
        let mut rest = new.clone();
        rest.timeouts = cur.timeouts.clone();
        rest.limits = cur.limits.clone();
        rest.nat.tcp_mss_clamp = cur.nat.tcp_mss_clamp;
        // ALG switches, ports, per-session limit and timeout are live; the table sizes not.
        let (per_worker, sessions) = (
            rest.alg.max_expectations_per_worker,
            rest.alg.max_sessions_per_worker,
        );
        rest.alg = cur.alg.clone();
        rest.alg.max_expectations_per_worker = per_worker;
        rest.alg.max_sessions_per_worker = sessions;
        let event_queue = rest.logging.event_queue;
        rest.logging = cur.logging.clone();
        rest.logging.event_queue = event_queue;
        if rest != *cur {
            return Err(ApiError::precondition(
                "this setting needs a restart (logging.event_queue, alg.max_expectations_per_worker, \
                 alg.max_sessions_per_worker and per-port timeout lists are fixed at start-up); \
                 nothing was changed",
            ));
        }
        let to_wc = |c: &Config| {
            worker_config(c, 0, [0; 6], [0; 6], 0).map_err(|e| ApiError::invalid(e.to_string()))
        };
        let old_wc = to_wc(&cur)?;
        let live = LiveConfig::of(&to_wc(&new)?);
        live.check_against(&old_wc)
            .map_err(|e| ApiError::precondition(format!("{e}; nothing was changed")))?;
        if let Some(i) = self.inboxes.iter().position(|q| q.is_full()) {
            return Err(ApiError::Unavailable(format!(
                "worker {i} has not picked up the previous configuration yet; nothing was \
                 changed, try again"
            )));
        }
        let sinks_changed = {
            let (mut a, mut b) = (cur.logging.clone(), new.logging.clone());
            for l in [&mut a, &mut b] {
                l.sessions = false;
                l.session_prefixes.clear();
                l.session_destinations = false;
            }
            a != b
        };
        if sinks_changed {
            let (tx, rx) = sync_channel(1);
            lock(&self.control)
                .send(ControlCmd::RebuildSinks(new.logging.clone(), tx))
                .map_err(|_| ApiError::Unavailable("the control thread is stopping".into()))?;
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(ApiError::precondition(format!(
                        "logging: {e}; nothing was changed"
                    )))
                }
                Err(_) => {
                    return Err(ApiError::Unavailable(
                        "the control thread did not rebuild the log sinks in time".into(),
                    ))
                }
            }
        }
        let snap = Arc::new(live);
        for q in &self.inboxes {
            // Not full (checked above, and the config lock keeps other publishers out).
            let _ = q.push(Arc::clone(&snap));
        }
        *cur = new;
        Ok(())
    }

    /// Adds the addresses `new`'s pool has and the running one has not to every worker, then
    /// makes `new` the running configuration and keeps `entry` in the state file.
    fn add_pool(&self, new: Config, entry: PoolEntry) -> Result<(), ApiError> {
        let mut cur = lock(&self.config);
        let old: std::collections::BTreeSet<u32> =
            cur.pool.addresses().into_iter().map(u32::from).collect();
        let mut added: Vec<u32> = new
            .pool
            .addresses()
            .into_iter()
            .map(u32::from)
            .filter(|a| !old.contains(a))
            .collect();
        added.sort_unstable();
        // Contiguous runs, at most MAX_ADDED_AT_ONCE addresses each.
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for a in added {
            match runs.last_mut() {
                Some((first, last)) if *last + 1 == a && a - *first < MAX_ADDED_AT_ONCE => {
                    *last = a;
                }
                _ => runs.push((a, a)),
            }
        }
        for &(first, last) in &runs {
            let mut refused = None;
            self.on_all(Query::AddPool { first, last }, |it| {
                if let QueryItem::PoolAdded(Err(e)) = it {
                    refused = Some(e);
                }
            })
            .map_err(|e| {
                ApiError::Unavailable(format!(
                    "{e}; the addition may be partly applied: repeat it (adding an address \
                     twice is harmless)"
                ))
            })?;
            match refused {
                None => {}
                Some(AddError::Deterministic) => {
                    return Err(ApiError::precondition(
                        "the workers run a deterministic pool: addresses cannot be added live",
                    ))
                }
                Some(AddError::TooMany) => {
                    return Err(ApiError::invalid(format!(
                        "{entry} has more addresses than a worker can index"
                    )))
                }
            }
        }
        *cur = new;
        drop(cur);
        info!("pool: {entry} added, new subscribers can get port blocks there now");
        self.persist(|s| s.pool_added.push(entry))
    }

    /// Applies `f` to the runtime state and saves it to `api.state_file` (if set).
    fn persist(&self, f: impl FnOnce(&mut RuntimeState)) -> Result<(), ApiError> {
        let mut st = lock(&self.state);
        f(&mut st);
        if let Some(p) = &self.state_path {
            st.save(p).map_err(|e| {
                tracing::error!("api.state_file: {e}");
                ApiError::Internal(format!(
                    "the change is applied but could not be saved ({e}): it will be lost at \
                     the next restart"
                ))
            })?;
        }
        Ok(())
    }

    fn drain(&self, a: Ipv4Addr, on: bool) -> Result<(), ApiError> {
        let mut draining = lock(&self.draining);
        let mut ok = true;
        self.on_all(
            Query::Drain {
                public: u32::from(a),
                on,
            },
            |it| {
                if let QueryItem::Drained(x) = it {
                    ok &= x;
                }
            },
        )?;
        if !ok {
            return Err(ApiError::invalid(format!("{a} is not a pool address")));
        }
        draining.retain(|d| *d != a);
        if on {
            draining.push(a);
        }
        let now_draining = draining.clone();
        drop(draining);
        info!(
            "pool address {a} {}",
            if on {
                "drained: no new port blocks"
            } else {
                "undrained"
            }
        );
        self.persist(|s| s.drained = now_draining)
    }
}

/// The API's view of the daemon: an `Arc` so listings can outlive the call.
#[derive(Debug, Clone)]
pub struct Api(pub Arc<Daemon>);

impl Appliance for Api {
    fn status(&self) -> StatusSnapshot {
        let d = &self.0;
        let snaps = d.snapshots();
        StatusSnapshot {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: d.started_at,
            workers: d
                .workers
                .iter()
                .zip(&snaps)
                .enumerate()
                .map(|(i, ((w, lcore), s))| WorkerStatus {
                    id: u32::try_from(i).unwrap_or(u32::MAX),
                    lcore: *lcore,
                    polling: w.polling(),
                    busy_ratio: s.as_ref().map_or(0.0, |s| s.busy_ratio),
                })
                .collect(),
            ports: lock(&d.ports).iter().map(|p| p.status.clone()).collect(),
            draining: lock(&d.draining).clone(),
        }
    }

    fn stats(&self) -> StatsSnapshot {
        let d = &self.0;
        let cfg = d.config();
        let snaps = d.snapshots();
        let mut drops: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut by_proto = [[0u64; 2]; 3];
        let mut events_dropped = 0;
        let mut workers = Vec::new();
        for (i, s) in snaps.iter().enumerate() {
            let s = s.clone().unwrap_or_default();
            for d in dataplane::DropReason::ALL {
                *drops.entry(d.name()).or_default() += s.counters.dropped(*d);
            }
            for (p, c) in by_proto.iter_mut().zip(s.by_proto) {
                p[0] += u64::from(c[0]);
                p[1] += u64::from(c[1]);
            }
            events_dropped += s.events_lost.0 + s.events_ring_full;
            workers.push(WorkerStats {
                id: u32::try_from(i).unwrap_or(u32::MAX),
                busy_ratio: s.busy_ratio,
                sessions: u64::from(s.sessions),
                bindings: u64::from(s.bindings),
                counters: s.counters.iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            });
        }
        let by_protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp]
            .into_iter()
            .zip(by_proto)
            .map(|(protocol, c)| ProtocolCount {
                protocol,
                bindings: c[0],
                sessions: c[1],
            })
            .collect();
        // Blocks held now, from the registry (dynamic and deterministic mode alike: workers
        // report every block they take).
        let mut per_addr: BTreeMap<Ipv4Addr, (u32, std::collections::BTreeSet<Ipv4Addr>)> =
            BTreeMap::new();
        for r in lock(&d.registry).iter() {
            if r.released_at_ms.is_none() {
                let e = per_addr.entry(r.public).or_default();
                e.0 += 1;
                e.1.insert(r.subscriber);
            }
        }
        let draining = lock(&d.draining).clone();
        for a in &draining {
            per_addr.entry(*a).or_default();
        }
        let bpa = cfg.pool.blocks_per_address();
        let pools = cfg
            .pool
            .prefixes
            .iter()
            .map(|e| {
                let addrs = cfg
                    .pool
                    .addresses()
                    .into_iter()
                    .filter(|a| e.contains(*a))
                    .count();
                let addrs = u32::try_from(addrs).unwrap_or(u32::MAX);
                PoolUsage {
                    entry: e.to_string(),
                    addresses: addrs,
                    blocks_in_use: per_addr
                        .iter()
                        .filter(|(a, _)| e.contains(**a))
                        .map(|(_, (n, _))| u64::from(*n))
                        .sum(),
                    blocks_total: u64::from(addrs) * u64::from(bpa),
                }
            })
            .collect();
        let addresses = per_addr
            .into_iter()
            .map(|(a, (n, subs))| AddressUsage {
                address: a,
                blocks_in_use: n,
                blocks_total: bpa,
                subscribers: u32::try_from(subs.len()).unwrap_or(u32::MAX),
                draining: draining.contains(&a),
            })
            .collect();
        let per_worker = u64::from(cfg.dataplane.max_bindings_per_worker) * 2;
        StatsSnapshot {
            workers,
            ports: lock(&d.ports).iter().map(|p| p.stats.clone()).collect(),
            drops: drops.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            algs: self.algs(),
            by_protocol,
            session_capacity: per_worker * u64::from(cfg.dataplane.workers),
            sessions_per_subscriber_limit: u64::from(cfg.limits.max_sessions_per_subscriber),
            pools,
            addresses,
            log_sinks: lock(&d.sink_health).clone(),
            events_dropped,
        }
    }

    fn algs(&self) -> Vec<AlgStatus> {
        let cfg = self.0.config();
        let snaps = self.0.snapshots();
        let sum =
            |f: &dyn Fn(&WorkerSnapshot) -> u64| -> u64 { snaps.iter().flatten().map(f).sum() };
        vec![
            AlgStatus {
                name: "ftp".into(),
                enabled: cfg.alg.ftp.enabled,
                ports: cfg.alg.ftp.ports.clone(),
                sessions: sum(&|s| {
                    u64::from(
                        s.alg_sessions
                            .saturating_sub(s.alg_h323_sessions)
                            .saturating_sub(s.alg_rtsp_sessions)
                            .saturating_sub(s.alg_pptp_sessions)
                            .saturating_sub(s.alg_sip_sessions),
                    )
                }),
                messages_rewritten: sum(&|s| s.counters.alg_ftp.rewrites),
                errors: sum(&|s| s.counters.alg_ftp.total_failures()),
            },
            AlgStatus {
                name: "tftp".into(),
                enabled: cfg.alg.tftp.enabled,
                ports: cfg.alg.tftp.ports.clone(),
                // TFTP keeps no control session, only expectations.
                sessions: 0,
                messages_rewritten: sum(&|s| s.counters.alg_tftp.rewrites),
                errors: sum(&|s| s.counters.alg_tftp.total_failures()),
            },
            AlgStatus {
                name: "h323".into(),
                enabled: cfg.alg.h323.enabled,
                ports: cfg.alg.h323.ports.clone(),
                sessions: sum(&|s| u64::from(s.alg_h323_sessions)),
                messages_rewritten: sum(&|s| s.counters.alg_h323.rewrites),
                errors: sum(&|s| s.counters.alg_h323.total_failures()),
            },
            AlgStatus {
                name: "rtsp".into(),
                enabled: cfg.alg.rtsp.enabled,
                ports: cfg.alg.rtsp.ports.clone(),
                sessions: sum(&|s| u64::from(s.alg_rtsp_sessions)),
                messages_rewritten: sum(&|s| s.counters.alg_rtsp.rewrites),
                errors: sum(&|s| s.counters.alg_rtsp.total_failures()),
            },
            AlgStatus {
                name: "pptp".into(),
                enabled: cfg.alg.pptp.enabled,
                ports: cfg.alg.pptp.ports.clone(),
                sessions: sum(&|s| u64::from(s.alg_pptp_sessions)),
                messages_rewritten: sum(&|s| s.counters.alg_pptp.rewrites),
                errors: sum(&|s| {
                    s.counters.alg_pptp.total_failures() + s.counters.alg_pptp_gre.total_failures()
                }),
            },
            AlgStatus {
                name: "sip".into(),
                enabled: cfg.alg.sip.enabled,
                ports: cfg.alg.sip.ports.clone(),
                sessions: sum(&|s| u64::from(s.alg_sip_sessions)),
                messages_rewritten: sum(&|s| s.counters.alg_sip.rewrites),
                errors: sum(&|s| s.counters.alg_sip.total_failures()),
            },
        ]
    }

    fn bindings(&self, filter: EntryFilter) -> Result<EntryStream<Binding>, ApiError> {
        self.0.stream(
            Query::Bindings(query_filter(&filter)),
            filter.limit,
            |it, w| match it {
                QueryItem::Binding(b) => binding_of(b, w),
                _ => None,
            },
        )
    }

    fn sessions(&self, filter: EntryFilter) -> Result<EntryStream<Session>, ApiError> {
        self.0.stream(
            Query::Sessions(query_filter(&filter)),
            filter.limit,
            |it, w| match it {
                QueryItem::Session(s) => session_of(s, w),
                _ => None,
            },
        )
    }

    fn port_blocks(&self, filter: BlockFilter) -> Result<Vec<PortBlock>, ApiError> {
        let cfg = self.0.config();
        let reg = lock(&self.0.registry);
        lookup::port_blocks(&cfg, &reg, filter)
    }

    fn lookup(
        &self,
        public: Ipv4Addr,
        port: u16,
        at: SystemTime,
    ) -> Result<LookupAnswer, ApiError> {
        let cfg = self.0.config();
        let reg = lock(&self.0.registry);
        lookup::lookup(&cfg, &reg, public, port, at, self.0.clock.now())
    }

    fn clear_subscriber(&self, subscriber: Ipv4Addr) -> Result<u64, ApiError> {
        let cfg = self.0.config();
        if !cfg
            .inside
            .subscribers
            .iter()
            .any(|p| p.contains(subscriber))
        {
            return Err(ApiError::invalid(format!(
                "{subscriber} is not a subscriber address (inside.subscribers)"
            )));
        }
        let (mut sessions, mut bindings) = (0, 0);
        self.0
            .on_all(Query::ClearSubscriber(u32::from(subscriber)), |it| {
                if let QueryItem::Cleared {
                    sessions: s,
                    bindings: b,
                } = it
                {
                    sessions += s;
                    bindings += b;
                }
            })?;
        if sessions == 0 && bindings == 0 {
            return Err(ApiError::not_found(format!(
                "subscriber {subscriber} has no sessions"
            )));
        }
        info!("cleared subscriber {subscriber}: {sessions} sessions, {bindings} bindings");
        Ok(sessions)
    }

    fn running_config(&self) -> Config {
        self.0.config()
    }

    fn apply_change(&self, change: ValidatedChange) -> Result<(), ApiError> {
        let r = match &change.change {
            ConfigChange::Set { .. } => self.0.apply_set(change.config.clone()),
            ConfigChange::Drain(a) => self.0.drain(*a, true),
            ConfigChange::Undrain(a) => self.0.drain(*a, false),
            ConfigChange::AddPoolEntry(e) => self.0.add_pool(change.config.clone(), *e),
            ConfigChange::Alg { .. } => self.0.apply_set(change.config.clone()),
        };
        if r.is_ok() {
            info!("API: configuration changed: {}", change.summary);
        }
        r
    }
}
