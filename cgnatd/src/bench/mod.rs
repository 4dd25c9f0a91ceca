//! `cgnatd --bench PROFILE`: the built-in traffic generator, for numbers anyone can reproduce
//! without NICs or TRex.
//!
//! One process, two lcores. The worker lcore runs the *real* poll loop (`poll_loop::run`) with
//! a real `Worker` on real mbufs, polling two ethdev ports like the daemon does; the ports are
//! `net_ring` virtual devices (`rte_eth_from_rings`), each backed by two rings. The main lcore is the generator: it plays the subscribers on
//! the inside rings and the servers on the outside rings, closed-loop — frames that come back
//! translated are counted, timed (TSC stamp in the payload) and recycled into new frames, and
//! the inside ring is kept `IN_FLIGHT` deep so the worker never starves and never overflows.
//! Method (RFC 9693): a preliminary phase creates the state (one packet per flow, not
//! measured), then the measured phase runs for `duration_secs`.
//!
//! With `--log-config FILE` (a `[logging]` table), the worker also produces its events into
//! a bounded queue drained by the daemon's real control thread with the real sinks (IPFIX,
//! syslog, JSON lines, per-session logging), and one API event-stream subscriber that never
//! reads is attached: the back-pressure experiment of `docs/robustness.md` (a dead, erroring
//! or slow collector must cost events, counted, never packets).

mod frames;
mod latency;
pub mod profile;

use crate::pkt::PoolAlloc;
use crate::poll_loop::{self, LoopReport, WorkerIo};
use dataplane::{Event, Worker, WorkerConfig};
use dpdk::{Eal, Mbuf, Mempool, Port, PortSetup, Ring, RingConsumer, RingProducer};
use frames::Template;
use latency::Histogram;
use profile::{Profile, Scenario};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Frames kept queued toward the worker.
const IN_FLIGHT: usize = 512;
const RING_SIZE: u32 = 4096;
const MBUFS: u32 = 16383;

/// A failed benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The profile is invalid.
    #[error("profile: {0}")]
    Profile(#[from] profile::ProfileError),
    /// DPDK failed.
    #[error("{0}")]
    Dpdk(#[from] dpdk::DpdkError),
    /// The machine cannot run it.
    #[error("{0}")]
    Setup(String),
}

/// Options besides the profile.
#[derive(Debug, Clone)]
pub struct BenchOpts {
    /// Translate (false: forward only, the I/O ceiling).
    pub translate: bool,
    /// Write the JSON result here as well as to stdout.
    pub json: Option<std::path::PathBuf>,
    /// Run the control thread and these sinks on the worker's events (see module docs).
    pub logging: Option<control::LoggingConfig>,
}

struct Rings {
    to_in: RingProducer,
    from_in: RingConsumer,
    to_out: RingProducer,
    from_out: RingConsumer,
}

fn worker_config(p: &Profile, translate: bool) -> WorkerConfig {
    let mut c = WorkerConfig::lab_default();
    c.inside.mac = frames::IN_MAC;
    c.outside.mac = frames::OUT_MAC;
    c.outside.next_hop = Some(frames::FIRST_SERVER);
    let flows = u32::try_from(p.flows()).unwrap_or(u32::MAX);
    c.max_bindings = flows.saturating_add(flows / 4).max(65_536);
    c.max_sessions = 4096;
    c.max_subscribers = p.subscribers.saturating_add(64);
    let blocks = p.ports_per_subscriber.div_ceil(u32::from(c.block_size)) + 1;
    c.max_blocks_per_subscriber = u16::try_from(blocks.min(32)).unwrap_or(32);
    c.max_sessions_per_subscriber = u32::MAX;
    c.neighbors.max_entries = p.subscribers.saturating_add(p.servers).saturating_add(64);
    c.neighbors.max_pending_total = 1024;
    c.neighbors.max_pending_per_host = 64;
    c.translate = translate;
    c
}

/// The control thread, its sinks and a never-reading API event subscriber, fed by the worker.
struct LogRig {
    queue: Arc<crossbeam_queue::ArrayQueue<dataplane::events::WorkerEvent>>,
    control: crate::control_thread::ControlThread,
    /// Subscribed, never read: a `WatchEvents` client that stopped reading.
    stalled: tokio::sync::broadcast::Receiver<control::api::model::ApiEvent>,
    hub: control::api::EventHub,
}

impl LogRig {
    fn start(l: &control::LoggingConfig, wc: &mut WorkerConfig) -> Result<Self, BenchError> {
        wc.session_log = dataplane::nat::SessionLogPolicy {
            enabled: l.sessions,
            prefixes: l
                .session_prefixes
                .iter()
                .map(|p| (u32::from(p.network().addr), p.len))
                .collect(),
            destinations: l.session_destinations,
        };
        let sinks =
            crate::sinks::Sinks::new(l).map_err(|e| BenchError::Setup(format!("logging: {e}")))?;
        let queue = Arc::new(crossbeam_queue::ArrayQueue::new(
            usize::try_from(l.event_queue).unwrap_or(65_536).max(1),
        ));
        let hub = control::api::EventHub::default();
        let stalled = hub.subscribe();
        let (_cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let control = crate::control_thread::ControlThread::spawn(
            sinks,
            vec![Arc::clone(&queue)],
            crate::control_thread::ControlShared {
                events: hub.clone(),
                sink_health: Arc::new(std::sync::Mutex::new(Vec::new())),
            },
            cmd_rx,
        )
        .map_err(|e| BenchError::Setup(format!("control thread: {e}")))?;
        Ok(Self {
            queue,
            control,
            stalled,
            hub,
        })
    }

    /// Stops the control thread (after a last drain) and describes what happened to the
    /// events, as JSON.
    fn finish(self, report: &LoopReport) -> String {
        let st = self.control.stop();
        let pending = self.stalled.len();
        drop(self.hub);
        format!(
            "{{\"events_handled\":{},\"event_queue_full\":{},\"events_suppressed\":{},\
             \"ipfix_send_errors\":{},\"syslog_send_errors\":{},\"syslog_write_errors\":{},\
             \"json_write_errors\":{},\"stalled_subscriber_backlog\":{}}}",
            st.events,
            report.events_lost.0 + report.events_ring_full,
            report.events_lost.1,
            st.ipfix_send_errors,
            st.syslog_send_errors,
            st.syslog_write_errors,
            st.json_write_errors,
            pending
        )
    }
}

struct Gen<'a> {
    p: &'a Profile,
    pool: Mempool,
    rings: Rings,
    templates: Vec<Template>,
    size_seq: Vec<usize>,
    seq_i: usize,
    rng: u64,
    next_flow: u64,
    hz: u64,
    batch: Vec<Mbuf>,
    rx: Vec<Mbuf>,
    spare: Vec<Mbuf>,
    replies: Vec<Mbuf>,
    sent: u64,
    gen_drops: u64,
}

/// Counts of one phase.
#[derive(Debug, Default, Clone)]
struct Phase {
    sent: u64,
    rx_out: u64,
    rx_in: u64,
    late_out: u64,
    other: u64,
    elapsed_ns: u64,
    lat_out: Histogram,
    rtt: Histogram,
}

impl Gen<'_> {
    fn now(&self) -> u64 {
        dpdk::tsc_cycles()
    }

    fn ns(&self, cycles: u64) -> u64 {
        ns_of(self.hz, cycles)
    }

    fn flow_endpoints(&self, flow: u64) -> (u32, u16, u32) {
        let ports = u64::from(self.p.ports_per_subscriber);
        let sub = u32::try_from(flow / ports).unwrap_or(0);
        let port = u16::try_from(flow % ports).unwrap_or(0);
        let server = u32::try_from(flow % u64::from(self.p.servers)).unwrap_or(0);
        (
            frames::FIRST_SUB + sub,
            frames::FIRST_PORT + port,
            frames::FIRST_SERVER + server,
        )
    }

    /// The next flow: sequential (preliminary phase, CPS) or pseudo-random over all flows.
    fn pick_flow(&mut self, sequential: bool) -> Option<u64> {
        let flows = self.p.flows();
        if sequential {
            if self.next_flow >= flows {
                return None;
            }
            self.next_flow += 1;
            return Some(self.next_flow - 1);
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Some(self.rng % flows)
    }

    fn fill(&mut self, m: &mut Mbuf, flow: u64) -> bool {
        let t = &self.templates[self.size_seq[self.seq_i]];
        self.seq_i = (self.seq_i + 1) % self.size_seq.len();
        if m.set_data_len(t.len()).is_err() {
            return false;
        }
        let (src, sport, dst) = self.flow_endpoints(flow);
        let ts = self.now();
        t.write(m.data_mut(), src, sport, dst, ts);
        true
    }

    /// Sends raw frames built by `build` into the inside (`inside`) or outside ring.
    fn send_raw(&mut self, inside: bool, n: usize, mut build: impl FnMut(usize, &mut [u8])) {
        for i in 0..n {
            let Some(mut m) = self.pool.alloc() else {
                break;
            };
            if m.set_data_len(60).is_err() {
                continue;
            }
            build(i, m.data_mut());
            self.batch.push(m);
            if self.batch.len() == 32 || i + 1 == n {
                let r = if inside {
                    &mut self.rings.to_in
                } else {
                    &mut self.rings.to_out
                };
                while !self.batch.is_empty() {
                    r.enqueue_burst(&mut self.batch);
                }
            }
        }
    }

    /// Resolves the servers (and, for bidirectional runs, the subscribers) in the worker's ARP
    /// cache, then drains whatever the worker sent back.
    fn arp_setup(&mut self) {
        let servers = usize::try_from(self.p.servers).unwrap_or(1);
        self.send_raw(false, servers, |i, f| {
            let ip = frames::FIRST_SERVER + u32::try_from(i).unwrap_or(0);
            frames::arp_request(f, frames::NH_MAC, ip, 0xc633_6401);
        });
        if self.p.bidirectional {
            let subs = usize::try_from(self.p.subscribers).unwrap_or(1);
            let mut i = 0;
            while i < subs {
                let n = (subs - i).min(1024);
                let base = i;
                self.send_raw(true, n, |k, f| {
                    let ip = frames::FIRST_SUB + u32::try_from(base + k).unwrap_or(0);
                    frames::arp_request(f, frames::SUB_MAC, ip, 0x6440_0001);
                });
                self.drain(200_000_000);
                i += n;
            }
        }
        self.drain(200_000_000);
    }

    /// After the worker stopped: counts (and frees) the translated frames still in its outside
    /// ring.
    fn collect_leftovers(&mut self) -> u64 {
        let mut n = 0;
        while self.rings.from_out.dequeue_burst(&mut self.rx, 64) > 0 {
            n += self
                .rx
                .drain(..)
                .filter(|m| m.data().len() >= frames::TS_AT && m.data()[12..14] == [8, 0])
                .count();
        }
        while self.rings.from_in.dequeue_burst(&mut self.rx, 64) > 0 {
            self.rx.clear();
        }
        u64::try_from(n).unwrap_or(0)
    }

    /// Frees everything the worker sends for `ns` nanoseconds.
    fn drain(&mut self, ns: u64) {
        let end = self.now() + ns * self.hz / 1_000_000_000;
        while self.now() < end {
            self.rings.from_in.dequeue_burst(&mut self.rx, 64);
            self.rings.from_out.dequeue_burst(&mut self.rx, 64);
            self.rx.clear();
        }
    }

    /// One closed-loop phase: `sequential` walks the flows once (stopping when all were sent
    /// and came back, or at the deadline); otherwise runs `secs` with random flows.
    fn run_phase(&mut self, secs: u32, sequential: bool, measured: bool) -> Phase {
        let mut ph = Phase::default();
        let start = self.now();
        let end = start + u64::from(secs) * self.hz;
        let bidir = self.p.bidirectional && measured;
        let hz = self.hz;
        let mut exhausted = false;
        let mut quiet_since = 0u64;
        loop {
            let now = self.now();
            if now >= end {
                break;
            }
            // Translated outbound frames.
            self.rings.from_out.dequeue_burst(&mut self.rx, 64);
            for mut m in self.rx.drain(..) {
                let d = m.data();
                if d.len() < frames::TS_AT + 8 || d[12..14] != [8, 0] {
                    ph.other += 1;
                    continue;
                }
                ph.rx_out += 1;
                if let Some(ts) = frames::timestamp(d) {
                    ph.lat_out.record(ns_of(hz, now.saturating_sub(ts)));
                }
                if bidir && frames::make_reply(m.data_mut()) {
                    self.replies.push(m);
                } else {
                    self.spare.push(m);
                }
            }
            while !self.replies.is_empty() {
                if self.rings.to_out.enqueue_burst(&mut self.replies) == 0 {
                    self.gen_drops += u64::try_from(self.replies.len()).unwrap_or(0);
                    self.replies.clear();
                }
            }
            // De-translated replies (and anything else the worker sends inside).
            self.rings.from_in.dequeue_burst(&mut self.rx, 64);
            for m in self.rx.drain(..) {
                let d = m.data();
                if d.len() >= frames::TS_AT + 8 && d[12..14] == [8, 0] && d[23] == 17 {
                    ph.rx_in += 1;
                    if let Some(ts) = frames::timestamp(d) {
                        ph.rtt.record(ns_of(hz, now.saturating_sub(ts)));
                    }
                    self.spare.push(m);
                } else {
                    ph.other += 1;
                }
            }
            // Keep the worker's inside ring IN_FLIGHT deep.
            if !exhausted {
                let want = IN_FLIGHT.saturating_sub(self.rings.to_in.len()).min(64);
                for _ in 0..want {
                    let Some(flow) = self.pick_flow(sequential) else {
                        exhausted = true;
                        break;
                    };
                    let m = match self.spare.pop() {
                        Some(m) => Some(m),
                        None => self.pool.alloc(),
                    };
                    let Some(mut m) = m else { break };
                    if self.fill(&mut m, flow) {
                        self.batch.push(m);
                    }
                }
                let n = self.batch.len();
                let sent = self.rings.to_in.enqueue_burst(&mut self.batch);
                ph.sent += u64::try_from(sent).unwrap_or(0);
                if sent < n {
                    self.gen_drops += u64::try_from(n - sent).unwrap_or(0);
                    self.batch.clear();
                }
            }
            if exhausted {
                // Everything sent: stop once the worker has been quiet for 20 ms.
                let busy =
                    !self.rings.to_in.is_empty() || ph.rx_out + ph.rx_in > 0 && quiet_since == 0;
                if self.rings.to_in.is_empty()
                    && self.rings.from_out.is_empty()
                    && self.rings.from_in.is_empty()
                {
                    if quiet_since == 0 {
                        quiet_since = now;
                    } else if self.ns(now - quiet_since) > 20_000_000 {
                        break;
                    }
                } else if busy {
                    quiet_since = 0;
                }
            }
        }
        ph.elapsed_ns = self.ns(self.now() - start);
        // Collect what is still in flight (not lost, just late for the measurement window):
        // until every ring has been empty for 5 ms, or 200 ms at most.
        let until = self.now() + self.hz / 5;
        let mut empty_since = 0u64;
        while self.now() < until {
            self.rings.from_out.dequeue_burst(&mut self.rx, 64);
            for m in self.rx.drain(..) {
                if m.data().len() >= frames::TS_AT + 8 && m.data()[12..14] == [8, 0] {
                    ph.late_out += 1;
                }
            }
            self.rings.from_in.dequeue_burst(&mut self.rx, 64);
            self.rx.clear();
            let now = self.now();
            if self.rings.to_in.is_empty()
                && self.rings.to_out.is_empty()
                && self.rings.from_out.is_empty()
            {
                if empty_since == 0 {
                    empty_since = now;
                } else if now - empty_since > self.hz / 200 {
                    break;
                }
            } else {
                empty_since = 0;
            }
        }
        // Return spare mbufs to the pool between phases.
        self.spare.clear();
        self.sent += ph.sent;
        ph
    }
}

fn ns_of(hz: u64, cycles: u64) -> u64 {
    u64::try_from(u128::from(cycles) * 1_000_000_000 / u128::from(hz.max(1))).unwrap_or(u64::MAX)
}

fn pct(x: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let r = x as f64 / total as f64;
    r
}

#[allow(clippy::cast_precision_loss)]
fn per_sec(n: u64, ns: u64) -> f64 {
    if ns == 0 {
        return 0.0;
    }
    n as f64 * 1e9 / ns as f64
}

/// Runs a profile; prints (and optionally writes) a JSON object with the results.
pub fn run(profile_path: &std::path::Path, opts: &BenchOpts) -> Result<String, BenchError> {
    let p = Profile::load(profile_path)?;
    let prefix = format!("cgnat-bench-{}", std::process::id());
    let args: Vec<String> = [
        "cgnatd",
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        &prefix,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args)?;
    let lcore = *eal
        .worker_lcores()
        .first()
        .ok_or_else(|| BenchError::Setup("the generator needs 2 cores (lcores 0 and 1)".into()))?;
    let pool = Mempool::new(
        "bench_mbufs",
        MBUFS,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        eal.socket_id(),
    )?;
    let (to_in, w_in_rx) = Ring::new("bench_in_rx", RING_SIZE, eal.socket_id())?;
    let (w_in_tx, from_in) = Ring::new("bench_in_tx", RING_SIZE, eal.socket_id())?;
    let (to_out, w_out_rx) = Ring::new("bench_out_rx", RING_SIZE, eal.socket_id())?;
    let (w_out_tx, from_out) = Ring::new("bench_out_tx", RING_SIZE, eal.socket_id())?;
    // Two ring-backed ethdev ports (the net_ring PMD): the worker polls them through the same
    // ethdev burst API as real ports; the generator holds the other end of every ring.
    let in_id = dpdk::eth_from_rings("bench_inside", w_in_rx, w_in_tx, eal.socket_id())?;
    let out_id = dpdk::eth_from_rings("bench_outside", w_out_rx, w_out_tx, eal.socket_id())?;
    let setup = PortSetup {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        rss: None,
        promiscuous: false,
        mtu: None,
    };
    let mut inside = Port::configure(in_id, &setup, &pool)?;
    let mut outside = Port::configure(out_id, &setup, &pool)?;
    inside.start()?;
    outside.start()?;

    let mut wc = worker_config(&p, opts.translate);
    let logging = match &opts.logging {
        Some(l) => Some(LogRig::start(l, &mut wc)?),
        None => None,
    };
    let worker: Worker<crate::pkt::Pkt> = Worker::new(wc);
    let io = WorkerIo {
        in_rx: inside.rx_queue(0)?,
        in_tx: inside.tx_queue(0)?,
        out_rx: outside.rx_queue(0)?,
        out_tx: outside.tx_queue(0)?,
        alloc: PoolAlloc(pool.clone()),
        events: logging.as_ref().map(|l| Arc::clone(&l.queue)),
        live: None,
        handoff_tx: Vec::new(),
        handoff_rx: Vec::new(),
        link: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_w = Arc::clone(&stop);
    let join = dpdk::launch(lcore, move || poll_loop::run(worker, io, 32, stop_w))?;

    let total_w: u32 = p.weights.iter().sum();
    let mut size_seq = Vec::new();
    for (i, &w) in p.weights.iter().enumerate() {
        let n =
            usize::try_from((u64::from(w) * 64).div_ceil(u64::from(total_w.max(1)))).unwrap_or(1);
        size_seq.extend(std::iter::repeat_n(i, n));
    }
    let mut g = Gen {
        p: &p,
        pool,
        rings: Rings {
            to_in,
            from_in,
            to_out,
            from_out,
        },
        templates: p.frame_sizes.iter().map(|&s| Template::new(s)).collect(),
        size_seq,
        seq_i: 0,
        rng: 0x9e37_79b9_7f4a_7c15,
        next_flow: 0,
        hz: dpdk::tsc_hz(),
        batch: Vec::with_capacity(64),
        rx: Vec::with_capacity(128),
        spare: Vec::with_capacity(4096),
        replies: Vec::with_capacity(128),
        sent: 0,
        gen_drops: 0,
    };
    g.arp_setup();
    let (pre, measured) = match p.scenario {
        Scenario::Cps => (Phase::default(), g.run_phase(p.duration_secs, true, true)),
        Scenario::Throughput | Scenario::Rfc9693 => {
            let pre = if p.preliminary_secs > 0 {
                g.run_phase(p.preliminary_secs, true, false)
            } else {
                Phase::default()
            };
            (pre, g.run_phase(p.duration_secs, false, true))
        }
    };
    stop.store(true, Ordering::Relaxed);
    let report: LoopReport = join.wait()?;
    // The worker has stopped: whatever it translated but we did not collect yet is late, not
    // lost; whatever it never took from its inside ring was never processed.
    let mut measured = measured;
    measured.late_out += g.collect_leftovers();
    let unprocessed = u64::try_from(g.rings.to_in.len()).unwrap_or(0);
    let gen_drops = g.gen_drops;
    let sent_total = g.sent;
    drop(g);

    let log_json = logging.map_or_else(|| "null".to_string(), |l| l.finish(&report));
    let c = &report.counters;
    if std::env::var_os("CGNAT_BENCH_DEBUG").is_some() {
        eprintln!(
            "measured: {:?} other {} late {}; worker: {:?}",
            measured.sent, measured.other, measured.late_out, c
        );
    }
    let rx_measured = measured.rx_out + measured.rx_in;
    let worker_pkts = rx_measured;
    let mpps = per_sec(worker_pkts, measured.elapsed_ns) / 1e6;
    let created = c.event(Event::BindingCreated);
    let cps = if p.scenario == Scenario::Cps {
        per_sec(created, measured.elapsed_ns)
    } else {
        0.0
    };
    let lost = measured
        .sent
        .saturating_sub(measured.rx_out + measured.late_out + unprocessed);
    let (lmin, lmean, lmax) = measured.lat_out.summary();
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"profile\":\"{}\",\"scenario\":\"{:?}\",\"translate\":{},\"frame_sizes\":{:?},\"flows\":{},\
         \"preliminary\":{{\"sent\":{},\"received\":{},\"elapsed_s\":{:.3}}},\
         \"measured\":{{\"sent\":{},\"received_out\":{},\"received_in\":{},\"lost_out\":{},\"elapsed_s\":{:.3}}},\
         \"mpps\":{:.3},\"cps\":{:.0},\
         \"latency_out_ns\":{{\"min\":{},\"mean\":{},\"p50\":{},\"p99\":{},\"p999\":{},\"max\":{}}},\
         \"rtt_ns\":{{\"p50\":{},\"p99\":{}}},\
         \"worker_idle_ratio\":{:.4},\"worker_drops\":{},\"generator_drops\":{},\"sent_total\":{},\
         \"bindings\":{},\"state_bytes\":{},\"bytes_per_binding\":{:.1},\"logging\":{}}}",
        p.name,
        p.scenario,
        opts.translate,
        p.frame_sizes,
        p.flows(),
        pre.sent,
        pre.rx_out,
        per_sec(1, 1) * pre.elapsed_ns as f64 / 1e18,
        measured.sent,
        measured.rx_out,
        measured.rx_in,
        lost,
        measured.elapsed_ns as f64 / 1e9,
        mpps,
        cps,
        lmin,
        lmean,
        measured.lat_out.quantile(0.5),
        measured.lat_out.quantile(0.99),
        measured.lat_out.quantile(0.999),
        lmax,
        measured.rtt.quantile(0.5),
        measured.rtt.quantile(0.99),
        1.0 - pct(report.busy_ns, report.total_ns),
        c.total_drops(),
        gen_drops,
        sent_total,
        report.bindings,
        report.state_bytes,
        if report.bindings > 0 { report.state_bytes as f64 / f64::from(report.bindings) } else { 0.0 },
        log_json,
    );
    if let Some(path) = &opts.json {
        std::fs::write(path, format!("{j}\n"))
            .map_err(|e| BenchError::Setup(format!("cannot write {}: {e}", path.display())))?;
    }
    for port in [&mut inside, &mut outside] {
        let _ = port.stop();
    }
    drop(inside);
    drop(outside);
    drop(eal);
    // --no-shconf leaves the runtime directory empty; do not leave it behind either.
    let _ = std::fs::remove_dir(format!("/var/run/dpdk/{prefix}"));
    Ok(j)
}
