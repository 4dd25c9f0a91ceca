//! The event sinks, run by the main (control) thread, never by a worker: the port-block
//! registry (abuse lookups), IPFIX (RFC 7011/8158) and syslog (RFC 5424) over UDP, a rotated
//! JSON-lines file, and `cgnatd`'s own log. Workers hand their events over through bounded
//! queues; a slow or absent collector costs this thread a failed `send`, never a worker.

use crate::clock::Clock;
use control::api::model::LogSinkHealth;
use control::logging::ipfix::{
    self, ExhaustionRecord, Exporter, NatEvent, PortBlockRecord, Record, SessionRecord,
};
use control::logging::jsonl::{JsonlFormatter, RotatingFile};
use control::logging::syslog::{unix_ms, LogEvent, QuotaKind, SyslogFormatter};
use control::registry::PortBlockRegistry;
use control::LoggingConfig;
use dataplane::events::WorkerEvent;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, Mutex, PoisonError};
use tracing::{info, warn};

/// The port-block registry, shared by the control thread (writer) and the API (reader).
pub type SharedRegistry = Arc<Mutex<PortBlockRegistry>>;

/// A new, empty shared registry with the daemon's bounds.
pub fn new_registry() -> SharedRegistry {
    Arc::new(Mutex::new(PortBlockRegistry::new(
        REGISTRY_MAX,
        REGISTRY_RETENTION_MS,
    )))
}

/// Records written and lost by one sink, and its last error.
#[derive(Debug, Default, Clone)]
struct Health {
    sent: u64,
    dropped: u64,
    last_error: Option<String>,
}

impl Health {
    fn ok(&mut self, n: u64) {
        self.sent += n;
        self.last_error = None;
    }

    fn err(&mut self, n: u64, e: &std::io::Error) {
        self.dropped += n;
        self.last_error = Some(e.to_string());
    }
}

/// Registry bounds: records kept, and how long released ones are kept (30 days).
const REGISTRY_MAX: usize = 4_000_000;
const REGISTRY_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

/// Sink failures, reported at shutdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct SinkStats {
    /// IPFIX messages that could not be sent.
    pub ipfix_send_errors: u64,
    /// Syslog messages that could not be sent.
    pub syslog_send_errors: u64,
    /// Syslog lines that could not be written to the syslog file.
    pub syslog_write_errors: u64,
    /// JSON lines that could not be written.
    pub json_write_errors: u64,
    /// Events handled.
    pub events: u64,
}

/// All sinks.
pub struct Sinks {
    socket: Option<UdpSocket>,
    ipfix: Option<(SocketAddrV4, Exporter)>,
    syslog: Option<(Option<SocketAddrV4>, SyslogFormatter)>,
    syslog_file: Option<RotatingFile>,
    json: Option<(JsonlFormatter, RotatingFile)>,
    /// The port-block registry: who held which public port range when.
    pub registry: SharedRegistry,
    clock: Clock,
    /// `[ipfix, syslog, json]`.
    health: [Health; 3],
    pending: Vec<Record>,
    buf: Vec<u8>,
    line: String,
    /// Failures so far.
    pub stats: SinkStats,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn ip(a: u32) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

impl Sinks {
    /// Opens the configured sinks.
    pub fn new(cfg: &LoggingConfig) -> std::io::Result<Self> {
        let registry = new_registry();
        let socket = if cfg.ipfix_collector.is_some() || cfg.syslog_server.is_some() {
            let s = UdpSocket::bind("0.0.0.0:0")?;
            s.set_nonblocking(true)?;
            Some(s)
        } else {
            None
        };
        let syslog = match (cfg.syslog_server, &cfg.syslog_file) {
            (None, None) => None,
            (a, _) => {
                let f = SyslogFormatter::new(&cfg.syslog_hostname)
                    .and_then(|f| f.with_procid(&std::process::id().to_string()))
                    // The workers decide (live) whether destinations are reported.
                    .map(|f| f.with_destinations(true))
                    .map_err(|e| std::io::Error::other(format!("logging.syslog_hostname: {e}")))?;
                Some((a, f))
            }
        };
        let syslog_file = match &cfg.syslog_file {
            Some(p) => Some(RotatingFile::open(
                p,
                cfg.syslog_file_max_bytes,
                cfg.syslog_file_keep as usize,
            )?),
            None => None,
        };
        let json = match &cfg.json_file {
            Some(p) => Some((
                JsonlFormatter::new().with_destinations(true),
                RotatingFile::open(p, cfg.json_max_bytes, cfg.json_keep as usize)?,
            )),
            None => None,
        };
        let ipfix = cfg.ipfix_collector.map(|a| {
            (
                a,
                Exporter::new(cfg.ipfix_observation_domain)
                    .with_template_refresh(cfg.ipfix_template_refresh_secs, 100),
            )
        });
        Ok(Self {
            socket,
            ipfix,
            syslog,
            syslog_file,
            json,
            registry,
            clock: Clock::default(),
            health: Default::default(),
            pending: Vec::with_capacity(256),
            buf: Vec::with_capacity(1500),
            line: String::with_capacity(512),
            stats: SinkStats::default(),
        })
    }

    /// The same sinks recording into `registry` with times from `clock`.
    pub fn with_registry(mut self, registry: SharedRegistry, clock: Clock) -> Self {
        self.registry = registry;
        self.clock = clock;
        self
    }

    /// The clock event times come from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Takes over the counters of the sinks these replace (a live logging change): the
    /// totals keep counting across the change.
    pub fn carry_over(&mut self, old: &Sinks) {
        self.stats = old.stats;
        for (n, o) in self.health.iter_mut().zip(&old.health) {
            n.sent = o.sent;
            n.dropped = o.dropped;
        }
    }

    /// Health of every configured sink (for the API and `/metrics`).
    pub fn health(&self) -> Vec<LogSinkHealth> {
        let mut v = Vec::new();
        let mut push = |sink: &str, destination: String, h: &Health| {
            v.push(LogSinkHealth {
                sink: sink.into(),
                destination,
                healthy: h.last_error.is_none(),
                records_sent: h.sent,
                records_dropped: h.dropped,
                last_error: h.last_error.clone(),
            })
        };
        if let Some((a, _)) = &self.ipfix {
            push("ipfix", a.to_string(), &self.health[0]);
        }
        if let Some((Some(a), _)) = &self.syslog {
            push("syslog", a.to_string(), &self.health[1]);
        }
        if let Some(f) = &self.syslog_file {
            push(
                "syslog_file",
                f.path().display().to_string(),
                &self.health[1],
            );
        }
        if let Some((_, f)) = &self.json {
            push("json", f.path().display().to_string(), &self.health[2]);
        }
        v
    }

    /// Rebuilds the port-block registry from the JSON-lines log `cfg.json_file` and its
    /// rotations (start-up only: allocations from before a restart answer abuse lookups
    /// again). Damaged lines are skipped and counted in the log line.
    pub fn restore_registry(&self, cfg: &LoggingConfig) {
        let Some(p) = &cfg.json_file else { return };
        let files = control::logging::replay::rotated_files(p, cfg.json_keep as usize);
        if files.is_empty() {
            return;
        }
        match control::logging::replay::replay_jsonl(&mut self.registry(), &files) {
            Ok(st) => info!(
                "port-block registry: {} allocations and {} releases restored from {} file(s) \
                 of {} ({} unreadable lines skipped)",
                st.allocations,
                st.releases,
                st.files,
                p.display(),
                st.bad_lines
            ),
            Err(e) => warn!(
                "port-block registry: cannot read {} to restore it: {e}",
                p.display()
            ),
        }
    }

    /// Forgets registry records released longer ago than the retention (30 days); called
    /// about once a minute by the control thread. Returns how many went.
    pub fn expire_registry(&self) -> usize {
        let now_ms = unix_ms(self.clock.now());
        self.registry().expire(now_ms)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, PortBlockRegistry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one worker event (wall-clock time of handling: events arrive within 100 ms).
    pub fn handle(&mut self, ev: &WorkerEvent) {
        self.stats.events += 1;
        let now_ms = unix_ms(self.clock.now());
        let (log, rec) = match *ev {
            WorkerEvent::BlockAllocated {
                subscriber,
                public,
                port_start,
                port_end,
                ..
            } => {
                self.registry()
                    .allocate(ip(public), port_start, port_end, ip(subscriber), now_ms);
                info!(target: "cgnat::events", "port block allocated: subscriber {} public {} ports {port_start}-{port_end}", ip(subscriber), ip(public));
                (
                    LogEvent::BlockAlloc {
                        subscriber: ip(subscriber),
                        public: ip(public),
                        port_start,
                        port_end,
                    },
                    Record::Block(block_record(
                        NatEvent::PortBlockAlloc,
                        now_ms,
                        subscriber,
                        public,
                        port_start,
                        port_end,
                    )),
                )
            }
            WorkerEvent::BlockReleased {
                subscriber,
                public,
                port_start,
                port_end,
                ..
            } => {
                self.registry().release(ip(public), port_start, now_ms);
                info!(target: "cgnat::events", "port block released: subscriber {} public {} ports {port_start}-{port_end}", ip(subscriber), ip(public));
                (
                    LogEvent::BlockDealloc {
                        subscriber: ip(subscriber),
                        public: ip(public),
                        port_start,
                        port_end,
                    },
                    Record::Block(block_record(
                        NatEvent::PortBlockDealloc,
                        now_ms,
                        subscriber,
                        public,
                        port_start,
                        port_end,
                    )),
                )
            }
            WorkerEvent::SessionCreated { s, .. } | WorkerEvent::SessionDeleted { s, .. } => {
                let created = matches!(ev, WorkerEvent::SessionCreated { .. });
                let dest = s.dest.map(|(a, p)| (ip(a), p));
                let (inside, public) = (ip(s.subscriber), ip(s.public));
                let log = if created {
                    LogEvent::SessionCreate {
                        proto: s.proto,
                        inside,
                        inside_port: s.sub_port,
                        public,
                        public_port: s.pub_port,
                        dest,
                    }
                } else {
                    LogEvent::SessionDelete {
                        proto: s.proto,
                        inside,
                        inside_port: s.sub_port,
                        public,
                        public_port: s.pub_port,
                        dest,
                    }
                };
                (
                    log,
                    Record::Session(SessionRecord {
                        time_ms: now_ms,
                        event: if created {
                            NatEvent::Nat44SessionCreate
                        } else {
                            NatEvent::Nat44SessionDelete
                        },
                        protocol: s.proto,
                        src: inside,
                        src_port: s.sub_port,
                        post_src: public,
                        post_src_port: s.pub_port,
                        dst: dest,
                    }),
                )
            }
            WorkerEvent::Expectation {
                kind,
                proto,
                subscriber,
                remote,
                public,
                ..
            } => {
                // Logged, not exported: neither RFC 8158 nor the syslog draft has a record for
                // ALG expectations.
                info!(
                    target: "cgnat::events",
                    "{}: subscriber {} remote {} proto {proto} public {}:{}",
                    kind.describe(),
                    ip(subscriber),
                    ip(remote),
                    ip(public.0),
                    public.1
                );
                return;
            }
            WorkerEvent::PortsExhausted { subscriber, .. } => {
                warn!(target: "cgnat::events", "ports exhausted: subscriber {}", ip(subscriber));
                (
                    LogEvent::PortsExhausted {
                        subscriber: ip(subscriber),
                        public: None,
                    },
                    Record::Exhaustion(ExhaustionRecord {
                        time_ms: now_ms,
                        event: NatEvent::PortsExhausted,
                        subscriber: Some(ip(subscriber)),
                        public: None,
                        quota: None,
                    }),
                )
            }
            WorkerEvent::AddressesExhausted { subscriber, .. } => {
                warn!(target: "cgnat::events", "addresses exhausted: subscriber {}", ip(subscriber));
                (
                    LogEvent::AddressesExhausted {
                        subscriber: Some(ip(subscriber)),
                    },
                    Record::Exhaustion(ExhaustionRecord {
                        time_ms: now_ms,
                        event: NatEvent::AddressesExhausted,
                        subscriber: Some(ip(subscriber)),
                        public: None,
                        quota: None,
                    }),
                )
            }
            WorkerEvent::QuotaExceeded { subscriber, .. } => {
                warn!(target: "cgnat::events", "session quota exceeded: subscriber {}", ip(subscriber));
                (
                    LogEvent::QuotaExceeded {
                        subscriber: ip(subscriber),
                        kind: QuotaKind::Sessions,
                    },
                    Record::Exhaustion(ExhaustionRecord {
                        time_ms: now_ms,
                        event: NatEvent::QuotaExceeded,
                        subscriber: Some(ip(subscriber)),
                        public: None,
                        quota: Some(QuotaKind::Sessions.ipfix_value()),
                    }),
                )
            }
        };
        if let Some((addr, f)) = &self.syslog {
            self.line.clear();
            f.format(&log, now_ms, &mut self.line);
            if let (Some(addr), Some(sock)) = (addr, &self.socket) {
                match sock.send_to(self.line.as_bytes(), *addr) {
                    Ok(_) => self.health[1].ok(1),
                    Err(e) => {
                        self.stats.syslog_send_errors += 1;
                        self.health[1].err(1, &e);
                    }
                }
            }
            if let Some(file) = &mut self.syslog_file {
                if file.write_line(&self.line).is_err() {
                    self.stats.syslog_write_errors += 1;
                }
            }
        }
        if let Some((f, file)) = &mut self.json {
            self.line.clear();
            f.format(&log, now_ms, &mut self.line);
            match file.write_line(&self.line) {
                Ok(()) => self.health[2].ok(1),
                Err(e) => {
                    self.stats.json_write_errors += 1;
                    self.health[2].err(1, &e);
                }
            }
        }
        if self.ipfix.is_some() {
            self.pending.push(rec);
        }
    }

    /// Sends pending IPFIX records (and the templates when due). Called after each drain.
    pub fn flush(&mut self) {
        // Files first: the IPFIX part below returns early when there is no collector.
        if let Some((_, file)) = &mut self.json {
            if file.flush().is_err() {
                self.stats.json_write_errors += 1;
            }
        }
        if let Some(file) = &mut self.syslog_file {
            if file.flush().is_err() {
                self.stats.syslog_write_errors += 1;
            }
        }
        let (Some((addr, exp)), Some(sock)) = (&mut self.ipfix, &self.socket) else {
            self.pending.clear();
            return;
        };
        let now_s = u32::try_from(unix_ms(self.clock.now()) / 1000).unwrap_or(u32::MAX);
        if exp.should_resend_templates(now_s) {
            self.buf.clear();
            exp.templates(now_s, &mut self.buf);
            if let Err(e) = sock.send_to(&self.buf, *addr) {
                self.stats.ipfix_send_errors += 1;
                self.health[0].err(0, &e);
            }
        }
        let mut at = 0;
        while at < self.pending.len() {
            self.buf.clear();
            let n = exp.records(
                now_s,
                &self.pending[at..],
                &mut self.buf,
                ipfix::DEFAULT_MAX_MESSAGE_LEN,
            );
            if n == 0 {
                break;
            }
            let records = u64::try_from(n).unwrap_or(u64::MAX);
            match sock.send_to(&self.buf, *addr) {
                Ok(_) => self.health[0].ok(records),
                Err(e) => {
                    self.stats.ipfix_send_errors += 1;
                    self.health[0].err(records, &e);
                }
            }
            at += n;
        }
        self.pending.clear();
    }
}

fn block_record(
    event: NatEvent,
    time_ms: u64,
    subscriber: u32,
    public: u32,
    port_start: u16,
    port_end: u16,
) -> PortBlockRecord {
    PortBlockRecord {
        time_ms,
        event,
        subscriber: ip(subscriber),
        public: ip(public),
        port_start,
        port_end,
        step: 1,
        num_ports: port_end.saturating_sub(port_start).saturating_add(1),
    }
}
