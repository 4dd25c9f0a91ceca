//! Start-up, steady state and shutdown of the daemon.
//!
//! Order: load config → EAL → mempool → ports (configured with one RX/TX queue pair per
//! worker, inside RSS on the source address when the NIC can, started) → handoff rings between
//! every pair of workers → control thread → one worker per worker lcore, each with queue `i`
//! of both ports → wait for links → log `ready` → sleep until SIGINT/SIGTERM → stop workers →
//! stop the control thread (last drain) → print final counters → stop and close ports.

use crate::api_thread::ApiThread;
use crate::appliance::{lock, Api, Daemon, PortView};
use crate::clock::Clock;
use crate::control_thread::{ControlShared, ControlThread};
use crate::convert::{worker_config, ConvertError};
use crate::pkt::PoolAlloc;
use crate::poll_loop::{self, WorkerIo};
use crate::reload::{self, LiveInbox};
use crate::sinks::{SinkStats, Sinks};
use crate::worker_link::{WorkerClient, WorkerLink};
use control::api::model::{PortRole, PortStats, PortStatus, ServingState};
use control::state::RuntimeState;
use control::Config;
use crossbeam_queue::ArrayQueue;
use dataplane::steer::SteerMode;
use dataplane::{Counters, Worker};
use dpdk::{Eal, Mempool, Port, PortSetup};
use dpdk::{RingConsumer, RingProducer, RssHashFields};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Everything that can stop the daemon from running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config is valid TOML but cannot run on this dataplane.
    #[error("invalid configuration: {0}")]
    Convert(#[from] ConvertError),
    /// A config key names something that does not exist at run time.
    #[error("invalid configuration: {key}: {problem}")]
    Config {
        /// Key.
        key: &'static str,
        /// Problem.
        problem: String,
    },
    /// DPDK failed.
    #[error("{0}")]
    Dpdk(#[from] dpdk::DpdkError),
    /// Signal handler registration failed.
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
}

impl DaemonError {
    /// Process exit code: 2 for configuration problems, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Convert(_) | DaemonError::Config { .. } => 2,
            _ => 1,
        }
    }
}

/// Loads and validates a configuration file, with the pool additions `api.state_file` keeps
/// merged in (`control::state`; each entry that no longer fits is skipped with a warning).
pub fn load(path: &Path) -> Result<Config, String> {
    let mut cfg = Config::load(path).map_err(|e| e.to_string())?;
    runtime_state(&mut cfg)?;
    // Checks that depend on dataplane limits, so --check-config catches them too.
    worker_config(&cfg, 0, [0; 6], [0; 6], 0).map_err(|e| e.to_string())?;
    Ok(cfg)
}

/// Reads `api.state_file` (if set) and merges it into `cfg`; the state, with drains of
/// addresses no longer in the pool forgotten.
fn runtime_state(cfg: &mut Config) -> Result<RuntimeState, String> {
    let Some(p) = cfg.api.state_file.clone() else {
        return Ok(RuntimeState::new());
    };
    let mut st = RuntimeState::load(&p).map_err(|e| format!("api.state_file: {e}"))?;
    for w in st.merge_into(cfg) {
        warn!("{w}");
    }
    Ok(st)
}

fn fmt_mac(m: [u8; 6]) -> String {
    dataplane::wire::ethernet::fmt_mac(m)
}

/// Options of a run that are not configuration keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOpts {
    /// The control plane's clock (tests move it; see `clock.rs`).
    pub clock: Clock,
}

/// The view of one port the API reads.
fn port_view(role: PortRole, p: &Port) -> PortView {
    let link = p.link();
    let s = p.stats().unwrap_or_default();
    PortView {
        status: PortStatus {
            role,
            device: p.name().to_string(),
            link_up: link.up,
            speed_mbps: link.speed_mbps,
        },
        stats: PortStats {
            role,
            device: p.name().to_string(),
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
        },
    }
}

fn refresh_ports(view: &Mutex<Vec<PortView>>, inside: &Port, outside: &Port) {
    let v = vec![
        port_view(PortRole::Inside, inside),
        port_view(PortRole::Outside, outside),
    ];
    *lock(view) = v;
}

/// Runs the daemon until SIGINT/SIGTERM; SIGHUP re-reads `path` and applies its live keys.
pub fn run(running: Config, path: &Path, opts: RunOpts) -> Result<(), DaemonError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(DaemonError::Signal)?;
    }
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .map_err(DaemonError::Signal)?;
    let mut running = running;
    let state = runtime_state(&mut running).map_err(|problem| DaemonError::Config {
        key: "api.state_file",
        problem,
    })?;
    let cfg = &running.clone();

    let mut args = vec!["cgnatd".to_string()];
    args.extend(cfg.eal.args.iter().cloned());
    let eal = Eal::init(&args)?;
    let n_workers = cfg.dataplane.workers;
    let lcores = eal.worker_lcores();
    if lcores.len() < usize::from(n_workers) {
        return Err(DaemonError::Config {
            key: "dataplane.workers",
            problem: format!(
                "{n_workers} workers need {n_workers} worker lcores besides the main lcore, but EAL has {} ({:?}); add cores to eal.args -l",
                lcores.len(),
                lcores
            ),
        });
    }
    let find = |key: &'static str, name: &str| {
        eal.port_by_name(name).map_err(|e| DaemonError::Config {
            key,
            problem: e.to_string(),
        })
    };
    let in_id = find("inside.device", &cfg.inside.device)?;
    let out_id = find("outside.device", &cfg.outside.device)?;

    let pool = Mempool::new(
        "cgnat_mbufs",
        cfg.dataplane.mbufs,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        eal.socket_id(),
    )?;
    let auto = cfg.dataplane.steering == control::SteeringMode::Auto;
    let setup = |mtu: u16, rss: Option<RssHashFields>| PortSetup {
        rx_queues: n_workers,
        tx_queues: n_workers,
        rx_desc: cfg.dataplane.rx_desc,
        tx_desc: cfg.dataplane.tx_desc,
        rss,
        promiscuous: false,
        mtu: (mtu != 1500).then_some(mtu),
    };
    // Inside: RSS on the IPv4 source address only, so one subscriber is one queue.
    let in_rss = (n_workers > 1 && auto).then_some(RssHashFields::IPV4_SRC_ONLY);
    let mut inside = Port::configure(in_id, &setup(cfg.inside.mtu, in_rss), &pool)?;
    let mut outside = Port::configure(out_id, &setup(cfg.outside.mtu, None), &pool)?;
    let in_mode = inside_steering(cfg, &inside);
    inside.start()?;
    outside.start()?;
    // rte_flow rules go in once the port runs (some drivers refuse them before).
    let (out_mode, flow_rules) = crate::flow_steer::outside_steering(cfg, &outside);
    for (role, p, addr) in [
        ("inside", &inside, cfg.inside.address),
        ("outside", &outside, cfg.outside.address),
    ] {
        info!(
            "{role} port {} (id {}, driver {}, mac {}) address {addr}, {} rx/tx queues",
            p.name(),
            p.id(),
            p.info().driver_name,
            fmt_mac(p.mac_addr()),
            p.rx_queues()
        );
    }
    info!(
        "pool: {} addresses, block size {}, {} blocks per address, max {} blocks per subscriber",
        cfg.pool.address_count(),
        cfg.pool.block_size,
        cfg.pool.blocks_per_address(),
        cfg.pool.max_blocks_per_subscriber
    );

    let seed = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() & u128::from(u64::MAX)),
    )
    .unwrap_or(1);
    let registry = crate::sinks::new_registry();
    let sinks = Sinks::new(&cfg.logging)
        .map_err(|e| DaemonError::Config {
            key: "logging",
            problem: e.to_string(),
        })?
        .with_registry(Arc::clone(&registry), opts.clock);
    sinks.restore_registry(&cfg.logging);
    let (mut ring_tx, mut ring_rx) = handoff_rings(n_workers, cfg.dataplane.handoff_ring_size)?;
    let mut joins = Vec::new();
    let mut queues = Vec::new();
    let mut inboxes: Vec<LiveInbox> = Vec::new();
    let mut clients = Vec::new();
    for (i, &lcore) in lcores.iter().take(usize::from(n_workers)).enumerate() {
        let wid = u16::try_from(i).unwrap_or(u16::MAX);
        let mut wc = worker_config(
            cfg,
            wid,
            inside.mac_addr(),
            outside.mac_addr(),
            seed ^ (u64::from(wid) << 32),
        )?;
        wc.steering.inside = in_mode;
        wc.steering.outside = out_mode;
        let queue = Arc::new(ArrayQueue::new(
            usize::try_from(cfg.logging.event_queue).unwrap_or(EVENT_QUEUE),
        ));
        queues.push(Arc::clone(&queue));
        let io = WorkerIo {
            in_rx: inside.rx_queue(wid)?,
            in_tx: inside.tx_queue(wid)?,
            out_rx: outside.rx_queue(wid)?,
            out_tx: outside.tx_queue(wid)?,
            alloc: PoolAlloc(pool.clone()),
            events: Some(Arc::clone(&queue)),
            live: Some({
                let q: LiveInbox = Arc::new(ArrayQueue::new(reload::INBOX));
                inboxes.push(Arc::clone(&q));
                q
            }),
            handoff_tx: std::mem::take(&mut ring_tx[i]),
            handoff_rx: std::mem::take(&mut ring_rx[i]),
            link: Some({
                let l = Arc::new(WorkerLink::default());
                clients.push((WorkerClient::new(Arc::clone(&l)), lcore));
                l
            }),
        };
        let mut worker = Worker::new(wc);
        for a in &state.drained {
            worker.set_drained(u32::from(*a), true);
        }
        let stop = Arc::clone(&stop);
        let burst = usize::from(cfg.dataplane.burst);
        joins.push(dpdk::launch(lcore, move || {
            poll_loop::run(worker, io, burst, stop)
        })?);
        info!("worker {wid} polling on lcore {lcore}");
    }
    let ports_view = Arc::new(Mutex::new(Vec::new()));
    refresh_ports(&ports_view, &inside, &outside);
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
    let sink_health = Arc::new(Mutex::new(sinks.health()));
    let config = Arc::new(Mutex::new(running));
    let daemon = Arc::new(Daemon {
        started_at: opts.clock.now(),
        clock: opts.clock,
        config: Arc::clone(&config),
        inboxes: inboxes.clone(),
        workers: clients,
        ports: Arc::clone(&ports_view),
        registry,
        sink_health: Arc::clone(&sink_health),
        control: Mutex::new(cmd_tx),
        draining: Mutex::new(state.drained.clone()),
        state_path: cfg.api.state_file.clone(),
        state: Mutex::new(state),
    });
    let (api, health, events) = ApiThread::start(Arc::new(Api(Arc::clone(&daemon))), &cfg.api)?;
    let control = ControlThread::spawn(
        sinks,
        queues,
        ControlShared {
            events,
            sink_health,
        },
        cmd_rx,
    )
    .map_err(DaemonError::Signal)?;

    // Ready once both links are up (virtual devices report up at once) and every worker polls.
    let started = Instant::now();
    let mut warned = false;
    while !stop.load(Ordering::Relaxed) {
        let polling = daemon.workers.iter().all(|(w, _)| w.polling());
        if inside.link().up && outside.link().up && polling {
            health.set(ServingState::Serving);
            info!(
                "ready: {} worker(s) forwarding between {} and {}",
                n_workers, cfg.inside.device, cfg.outside.device
            );
            break;
        }
        if !warned && started.elapsed() > Duration::from_secs(5) {
            warn!(
                "waiting for link: inside up={} outside up={}, workers polling: {polling}",
                inside.link().up,
                outside.link().up
            );
            warned = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        refresh_ports(&ports_view, &inside, &outside);
        if hup.swap(false, Ordering::Relaxed) {
            match reload::reload(path, &mut lock(&config), &inboxes) {
                Ok(changed) if changed.is_empty() => {
                    info!("SIGHUP: {} unchanged, nothing to apply", path.display())
                }
                Ok(changed) => info!(
                    "SIGHUP: configuration reloaded, live settings applied to {} worker(s): {}",
                    inboxes.len(),
                    changed.join(", ")
                ),
                Err(e) => warn!("SIGHUP: reload of {} refused: {e}", path.display()),
            }
        }
    }
    health.set(ServingState::Draining);
    info!("signal received, stopping workers");

    let mut total = Counters::default();
    let mut extra = [0u64; 3];
    for j in joins {
        match j.wait() {
            Ok(r) => {
                total.merge(&r.counters);
                extra[0] += r.events_lost.0;
                extra[1] += r.events_lost.1;
                extra[2] += r.events_ring_full;
            }
            Err(e) => warn!("worker failed: {e}"),
        }
    }
    let sink_stats = control.stop();
    api.stop();
    print_final(
        &total,
        &extra,
        &sink_stats,
        (in_mode, out_mode),
        &inside,
        &outside,
    );
    for r in flow_rules {
        if let Err(e) = r.destroy() {
            warn!("removing a steering rule: {e}");
        }
    }
    for p in [&mut inside, &mut outside] {
        if let Err(e) = p.stop() {
            warn!("stopping port {}: {e}", p.name());
        }
        if let Err(e) = p.close() {
            warn!("closing port {}: {e}", p.name());
        }
    }
    drop(eal);
    info!("stopped");
    Ok(())
}

fn print_final(
    total: &Counters,
    extra: &[u64; 3],
    sinks: &SinkStats,
    modes: (SteerMode, SteerMode),
    inside: &Port,
    outside: &Port,
) {
    use std::io::Write;
    let mut out = String::from("final counters\n");
    for (name, m) in [
        ("steering_inside_nic", modes.0),
        ("steering_outside_nic", modes.1),
    ] {
        out.push_str(&format!("{name} {}\n", u8::from(m == SteerMode::Nic)));
    }
    for (name, v) in total.iter() {
        out.push_str(&format!("{name} {v}\n"));
    }
    for (name, v) in [
        "log_event_dropped",
        "log_event_suppressed",
        "log_event_queue_full",
    ]
    .iter()
    .zip(extra)
    {
        out.push_str(&format!("{name} {v}\n"));
    }
    for (name, v) in [
        ("log_events_handled", sinks.events),
        ("log_ipfix_send_errors", sinks.ipfix_send_errors),
        ("log_syslog_send_errors", sinks.syslog_send_errors),
        ("log_syslog_write_errors", sinks.syslog_write_errors),
        ("log_json_write_errors", sinks.json_write_errors),
    ] {
        out.push_str(&format!("{name} {v}\n"));
    }
    for (role, p) in [("inside", inside), ("outside", outside)] {
        if let Ok(s) = p.stats() {
            for (k, v) in [
                ("ipackets", s.ipackets),
                ("opackets", s.opackets),
                ("imissed", s.imissed),
                ("ierrors", s.ierrors),
                ("oerrors", s.oerrors),
                ("rx_nombuf", s.rx_nombuf),
            ] {
                out.push_str(&format!("port_{role}_{k} {v}\n"));
            }
        }
    }
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.as_bytes());
    let _ = so.flush();
}

/// Worker → control-thread event queue capacity, per worker, if the configured one does not
/// fit a `usize` (never on 64-bit).
const EVENT_QUEUE: usize = 65_536;

/// One SP/SC ring per ordered pair of workers: `tx[i][j]` is worker `i`'s end towards `j`,
/// `rx[j]` the ends worker `j` dequeues from.
type Rings = (Vec<Vec<Option<RingProducer>>>, Vec<Vec<RingConsumer>>);

fn handoff_rings(n: u16, size: u32) -> Result<Rings, DaemonError> {
    let n = usize::from(n);
    let mut tx: Vec<Vec<Option<RingProducer>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut rx: Vec<Vec<RingConsumer>> = (0..n).map(|_| Vec::new()).collect();
    if n < 2 {
        return Ok((tx, rx));
    }
    for (i, row) in tx.iter_mut().enumerate() {
        for (j, slot) in row.iter_mut().enumerate() {
            if i == j {
                continue;
            }
            let (p, c) = dpdk::Ring::new(&format!("cgnat_ho_{i}_{j}"), size, -1)?;
            *slot = Some(p);
            rx[j].push(c);
        }
    }
    info!(
        "handoff rings: {} (one per ordered worker pair), {size} frames each",
        n * (n - 1)
    );
    Ok((tx, rx))
}

/// Decides whether the NIC steers the inside port (RSS on the IPv4 source address only) or the
/// workers hand subscribers over, and says so in the log (the final counters repeat it).
fn inside_steering(cfg: &Config, inside: &Port) -> SteerMode {
    let n = cfg.dataplane.workers;
    if n < 2 {
        return SteerMode::Software;
    }
    if cfg.dataplane.steering == control::SteeringMode::Software {
        info!("inside steering: software handoff (dataplane.steering = \"software\")");
        return SteerMode::Software;
    }
    match inside.rss_applied() {
        Some(a) if a.has_protocols() && a.contains(RssHashFields::L3_SRC_ONLY) => {
            info!(
                "inside steering: NIC RSS on the IPv4 source address ({}, rss_hf {:#x})",
                inside.name(),
                a.bits()
            );
            SteerMode::Nic
        }
        applied => {
            warn!(
                "inside steering: software handoff — {} ({}) cannot hash on the IPv4 source \
                 address only (supported rss_hf {:#x}, applied {:?}); subscribers are handed \
                 to their worker over rings (counters handoff_inside, drop_handoff_ring_full)",
                inside.name(),
                inside.info().driver_name,
                inside.info().flow_type_rss_offloads,
                applied.map(|a| a.bits())
            );
            SteerMode::Software
        }
    }
}
