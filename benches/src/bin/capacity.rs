//! Memory per binding and the largest binding table this machine holds.
//!
//! 1. `bytes_per_session`: heap bytes (counted by the bench allocator, `benches::alloc`:
//!    every byte the worker allocates, touched or not) of a worker built with capacity for
//!    1 048 576 bindings and as many sessions (4096 subscribers x 256 ports) and filled with
//!    that many TCP connections (one SYN each: a binding and a session per flow) through
//!    `Worker::process`, divided by the number of connections. Also reported: the same from
//!    the growth of VmRSS (`bytes_per_session_rss`), the bytes allocated while filling
//!    (should be 0: the worker allocates everything up front), the share of the binding and
//!    session tables (`NatState::memory` and friends), and `bytes_per_binding_udp`: a worker
//!    with no session table filled with UDP flows (endpoint-independent filtering needs no
//!    sessions for UDP).
//! 2. `max_sessions`: a worker with capacity `sessions_tested` (default 16 500 000, env
//!    `CGNAT_CAPACITY_TARGET`) bindings and sessions is built and filled with TCP connections
//!    through `Worker::process`, giving up when
//!    the fill exceeds the time bound (default 60 s, env `CGNAT_CAPACITY_SECONDS`) or RSS
//!    would exceed the memory bound (default 8 GiB, env `CGNAT_CAPACITY_MAX_RSS`, bytes; the
//!    target is lowered up front if the measured bytes per session say it cannot fit).
//!    `max_sessions` is the number of sessions (= bindings) actually established.
//!
//! Prints one JSON object on stdout (progress on stderr). `CGNAT_BENCH_QUICK=1`: 16 K and
//! 200 K bindings.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use benches::alloc::{live_bytes, BenchAlloc};
use benches::{config, peak_rss_bytes, quick, rss_bytes, shape_1m, Bursts, Rig, Rng, Shape};
use dataplane::wire::ipv4::PROTO_TCP;
use dataplane::Side;

#[global_allocator]
static ALLOC: BenchAlloc = BenchAlloc;

fn live() -> usize {
    live_bytes()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn rss() -> u64 {
    rss_bytes().unwrap_or(0)
}

#[allow(clippy::cast_precision_loss)]
fn per(bytes: usize, n: u32) -> f64 {
    bytes as f64 / f64::from(n)
}

struct PerSession {
    sessions: u32,
    alloc: f64,
    rss: f64,
    alloc_during_fill: usize,
    fill: Duration,
    binding_table: f64,
    session_table: f64,
}

/// Builds a worker for `shape.flows()` flows, fills it (TCP: binding + session per flow;
/// UDP: binding only, and no session table), and measures.
fn bytes_per_session(shape: Shape, tcp: bool) -> PerSession {
    let n = shape.flows();
    let mut cfg = config(shape, n);
    if !tcp {
        cfg.max_sessions = 0;
    }
    // Let the allocator hold the harness's own frame buffers before the baseline, so their
    // reuse by `establish` does not show up as growth.
    drop(Bursts::new(Side::Inside, benches::CHUNK_BURSTS));
    let live0 = live();
    let rss0 = rss();
    let mut rig = Rig::new(cfg);
    let built = live();
    let fill = if tcp {
        rig.establish_tcp(shape, 0..n)
    } else {
        rig.establish(shape, 0..n)
    };
    let filled = live();
    let rss1 = rss();
    assert_eq!(rig.w.bindings(), n);
    assert_eq!(rig.w.sessions(), if tcp { n } else { 0 });
    let nat = rig.w.nat();
    let r = PerSession {
        sessions: n,
        alloc: per(filled - live0, n),
        rss: per(usize::try_from(rss1.saturating_sub(rss0)).unwrap(), n),
        alloc_during_fill: filled.saturating_sub(built),
        fill,
        binding_table: per(nat.bindings.memory(), n),
        session_table: per(nat.sessions.memory(), n),
    };
    drop(rig);
    r
}

struct Max {
    tested: u32,
    established: u32,
    committed: usize,
    fill: Duration,
    stopped: &'static str,
}

fn max_sessions(target: u32, bps: f64, max_rss: u64, bound: Duration) -> Max {
    let mut tested = target;
    // Lower the target up front if the table cannot fit (10 % headroom for the rest).
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let fits = (max_rss as f64 * 0.9 / bps) as u64;
    if u64::from(tested) > fits {
        eprintln!("capacity: {tested} bindings would not fit in {max_rss} bytes; trying {fits}");
        tested = u32::try_from(fits).unwrap_or(u32::MAX);
    }
    let shape = Shape::at_least(tested, 256);
    let before = live();
    let t0 = Instant::now();
    let mut rig = Rig::new(config(shape, tested));
    let committed = live() - before;
    eprintln!(
        "capacity: worker for {tested} bindings built in {:.1} s, {committed} bytes allocated",
        t0.elapsed().as_secs_f64()
    );
    let chunk = 1 << 20;
    let mut i = 0;
    let mut fill = Duration::ZERO;
    let mut stopped = "filled";
    while i < tested {
        let end = tested.min(i + chunk);
        fill += rig.establish_tcp(shape, i..end);
        i = end;
        if t0.elapsed() > bound {
            stopped = "time bound";
            break;
        }
        if rss() > max_rss {
            stopped = "memory bound";
            break;
        }
    }
    let established = rig.w.sessions();
    assert_eq!(established, rig.w.bindings());
    // Spot-check that what was established is really there.
    let mut rng = Rng::new(5);
    for _ in 0..10_000 {
        let (ip, port) = shape.flow(rng.below(established));
        assert!(
            rig.binding_endpoint(PROTO_TCP, ip, port).is_some(),
            "binding lost"
        );
    }
    eprintln!(
        "capacity: {established} bindings in {:.1} s ({stopped}), RSS {} MiB",
        fill.as_secs_f64(),
        rss() >> 20
    );
    Max {
        tested,
        established,
        committed,
        fill,
        stopped,
    }
}

fn main() {
    let q = quick();
    let shape = shape_1m();
    let p = bytes_per_session(shape, true);
    let u = bytes_per_session(shape, false);
    for (what, p) in [("TCP connections", &p), ("UDP bindings", &u)] {
        eprintln!(
            "capacity: {} {what}: {:.1} B each allocated ({:.1} binding table, {:.1} session \
             table), {:.1} B RSS growth, {} B allocated while filling, fill {:.2} s",
            p.sessions,
            p.alloc,
            p.binding_table,
            p.session_table,
            p.rss,
            p.alloc_during_fill,
            p.fill.as_secs_f64()
        );
    }

    let default_target = if q { 200_000 } else { 16_500_000 };
    let target = env_u64("CGNAT_CAPACITY_TARGET")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(default_target);
    let max_rss = env_u64("CGNAT_CAPACITY_MAX_RSS").unwrap_or(8 << 30);
    let bound = Duration::from_secs(env_u64("CGNAT_CAPACITY_SECONDS").unwrap_or(60));
    let m = max_sessions(target, p.alloc, max_rss, bound);

    println!(
        "{{\"bytes_per_session\": {:.1}, \"bytes_per_session_rss\": {:.1}, \
         \"bytes_per_session_sessions\": {}, \"alloc_bytes_during_fill\": {}, \
         \"max_sessions\": {}, \"sessions_tested\": {}, \"max_sessions_stopped_by\": \"{}\", \
         \"bytes_per_session_at_max\": {:.1}, \"max_sessions_fill_seconds\": {:.3}, \
         \"peak_rss_bytes\": {}, \"bytes_per_session_binding_table\": {:.1}, \
         \"bytes_per_session_session_table\": {:.1}, \"bytes_per_binding_udp\": {:.1}}}",
        p.alloc,
        p.rss,
        p.sessions,
        p.alloc_during_fill,
        m.established,
        m.tested,
        m.stopped,
        per(m.committed, m.established.max(1)),
        m.fill.as_secs_f64(),
        peak_rss_bytes().unwrap_or(0),
        p.binding_table,
        p.session_table,
        u.alloc,
    );
}
