//! The control thread: never on a worker lcore, never in the packet path.
//!
//! It owns the event sinks (port-block registry, IPFIX, syslog, JSON lines, the log) and
//! drains every worker's bounded event queue every 10 ms. Workers push with a non-blocking
//! `push` and count what does not fit, so a slow collector or a busy control thread costs
//! events (counted), never a worker stall. Port-block and exhaustion events also go to the
//! management API's event stream ([`EventHub`]), and after each drain the sinks' health is
//! published for the API and `/metrics`. The API asks it to rebuild its sinks for a live
//! logging change ([`ControlCmd`]); the registry and the sink counters carry over. On shutdown
//! it drains once more after the workers stopped, then hands back the sink statistics.

use crate::sinks::{SinkStats, Sinks};
use control::api::model::{ApiEvent, ApiEventKind, LogSinkHealth};
use control::api::EventHub;
use control::LoggingConfig;
use crossbeam_queue::ArrayQueue;
use dataplane::events::WorkerEvent;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing::info;

/// How often the queues are drained.
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// How often released registry records past their retention are forgotten.
const REGISTRY_EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

/// A request to the control thread.
#[derive(Debug)]
pub enum ControlCmd {
    /// Replace the sinks by ones built from this logging configuration; the answer says
    /// whether it worked (the old sinks stay on failure).
    RebuildSinks(LoggingConfig, SyncSender<Result<(), String>>),
}

/// What the control thread shares with the API.
#[derive(Debug, Clone)]
pub struct ControlShared {
    /// Where API events go.
    pub events: EventHub,
    /// The sinks' health after the last drain.
    pub sink_health: Arc<Mutex<Vec<LogSinkHealth>>>,
}

/// A running control thread.
#[derive(Debug)]
pub struct ControlThread {
    stop: Arc<AtomicBool>,
    join: JoinHandle<SinkStats>,
}

impl ControlThread {
    /// Starts the thread with the sinks and one queue per worker.
    pub fn spawn(
        mut sinks: Sinks,
        queues: Vec<Arc<ArrayQueue<WorkerEvent>>>,
        shared: ControlShared,
        cmds: Receiver<ControlCmd>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_t = Arc::clone(&stop);
        let join = std::thread::Builder::new()
            .name("cgnat-control".into())
            .spawn(move || {
                let mut last_expiry = std::time::Instant::now();
                while !stop_t.load(Ordering::Acquire) {
                    while let Ok(cmd) = cmds.try_recv() {
                        command(cmd, &mut sinks);
                    }
                    drain(&queues, &mut sinks, &shared);
                    if last_expiry.elapsed() >= REGISTRY_EXPIRY_INTERVAL {
                        last_expiry = std::time::Instant::now();
                        let n = sinks.expire_registry();
                        if n > 0 {
                            tracing::info!(
                                "port-block registry: {n} records past retention forgotten"
                            );
                        }
                    }
                    std::thread::sleep(DRAIN_INTERVAL);
                }
                drain(&queues, &mut sinks, &shared);
                sinks.stats
            })?;
        Ok(Self { stop, join })
    }

    /// Stops the thread after a last drain (call once the workers stopped) and returns the
    /// sink statistics.
    pub fn stop(self) -> SinkStats {
        self.stop.store(true, Ordering::Release);
        self.join.join().unwrap_or_default()
    }
}

fn command(cmd: ControlCmd, sinks: &mut Sinks) {
    match cmd {
        ControlCmd::RebuildSinks(cfg, reply) => {
            let r = match Sinks::new(&cfg) {
                Ok(new) => {
                    sinks.flush();
                    let mut new = new.with_registry(Arc::clone(&sinks.registry), sinks.clock());
                    new.carry_over(sinks);
                    *sinks = new;
                    info!("logging sinks rebuilt for a live configuration change");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
            // The API call may have given up waiting; nothing to do then.
            let _ = reply.send(r);
        }
    }
}

fn api_event(ev: &WorkerEvent) -> Option<ApiEventKind> {
    let ip = Ipv4Addr::from;
    Some(match *ev {
        WorkerEvent::BlockAllocated {
            subscriber,
            public,
            port_start,
            port_end,
            ..
        } => ApiEventKind::BlockAllocated {
            subscriber: ip(subscriber),
            public: ip(public),
            port_start,
            port_end,
        },
        WorkerEvent::BlockReleased {
            subscriber,
            public,
            port_start,
            port_end,
            ..
        } => ApiEventKind::BlockReleased {
            subscriber: ip(subscriber),
            public: ip(public),
            port_start,
            port_end,
        },
        WorkerEvent::PortsExhausted { subscriber, .. } => ApiEventKind::PortsExhausted {
            subscriber: ip(subscriber),
            public: None,
        },
        WorkerEvent::AddressesExhausted { subscriber, .. } => ApiEventKind::PoolExhausted {
            subscriber: ip(subscriber),
        },
        WorkerEvent::SessionCreated { .. }
        | WorkerEvent::SessionDeleted { .. }
        | WorkerEvent::Expectation { .. }
        | WorkerEvent::QuotaExceeded { .. } => return None,
    })
}

/// Hands the workers' events to the sinks and the API.
fn drain(queues: &[Arc<ArrayQueue<WorkerEvent>>], sinks: &mut Sinks, shared: &ControlShared) {
    for q in queues {
        // Bounded per pass so one busy worker cannot starve the flush of the others.
        for _ in 0..q.capacity() {
            match q.pop() {
                Some(ev) => {
                    sinks.handle(&ev);
                    if let Some(kind) = api_event(&ev) {
                        shared.events.publish_event(ApiEvent {
                            at: sinks.clock().now(),
                            kind,
                        });
                    }
                }
                None => break,
            }
        }
    }
    sinks.flush();
    *shared
        .sink_health
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = sinks.health();
}
