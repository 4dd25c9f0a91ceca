//! Soak and churn with an injectable clock: hours of simulated session churn in seconds.
//!
//! Each round, `CGNAT_SOAK_SUBSCRIBERS` (default 2000) subscribers open
//! `CGNAT_SOAK_PORTS` (default 32) UDP flows each and a quarter of them also a TCP connection
//! (a SYN: binding and session), through `Worker::process` like real traffic; then the clock
//! jumps past every timeout and the port hold-down (RFC 6888 REQ-8), and the timer poll runs
//! until everything is reclaimed. After every round the worker must be empty — no binding,
//! session, subscriber, allocated block, held fragment, held SYN or packet waiting for ARP —
//! and the heap (counted by the bench allocator) must be exactly what it was after the first
//! round: the worker allocates everything at start-up, so any growth is a leak. Created and
//! expired counters must balance (bindings, sessions, blocks).
//!
//! `CGNAT_SOAK_ROUNDS` rounds (default 300, about 36 simulated hours; `CGNAT_BENCH_QUICK=1`:
//! 10). Prints one JSON object on stdout; exits non-zero on the first broken promise.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use benches::alloc::{live_bytes, BenchAlloc};
use benches::{config, quick, tcp_syn_template, Rig, Shape, SEC};
use dataplane::{Event, Side};

#[global_allocator]
static ALLOC: BenchAlloc = BenchAlloc;

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Simulated seconds per round: past the UDP (300 s) and transitory TCP (240 s) timeouts and
/// then past the 120 s hold-down.
const ROUND_SECS: u64 = 302 + 122;

fn main() {
    let rounds = env_u32("CGNAT_SOAK_ROUNDS", if quick() { 10 } else { 300 });
    let subs = env_u32("CGNAT_SOAK_SUBSCRIBERS", 2000);
    let ports = env_u32("CGNAT_SOAK_PORTS", 32);
    let shape = Shape::new(subs, ports);
    let flows = shape.flows();
    let tcp_flows = flows / 4;
    let mut cfg = config(shape, flows + tcp_flows);
    cfg.max_sessions = flows + tcp_flows;
    let mut rig = Rig::new(cfg);
    let started = Instant::now();
    let mut baseline = 0usize;
    let mut polls_max = 0u64;
    let mut tcp = tcp_syn_template();
    for round in 0..rounds {
        rig.establish(shape, 0..flows);
        // TCP connections from the first quarter of the flows (another protocol, same ports).
        for i in 0..tcp_flows {
            let (ip, port) = shape.flow(i);
            benches::set_src(&mut tcp, ip, port);
            rig.send(Side::Inside, &tcp);
            rig.clear_tx();
        }
        let w = &rig.w;
        assert_eq!(w.bindings(), flows + tcp_flows, "round {round}: bindings");
        assert_eq!(w.sessions(), tcp_flows, "round {round}: sessions");
        // Everything times out, then the hold-down passes.
        rig.now += 302 * SEC;
        let mut polls = 0u64;
        while rig.w.bindings() > 0 || rig.w.sessions() > 0 {
            rig.w.poll(rig.now, &mut rig.tx, &mut rig.alloc);
            rig.clear_tx();
            polls += 1;
            assert!(polls < 1_000_000, "round {round}: expiry does not converge");
        }
        rig.now += 122 * SEC;
        while rig.w.blocks_allocated() > 0 || rig.w.nat().ports_cooling() > 0 {
            rig.w.poll(rig.now, &mut rig.tx, &mut rig.alloc);
            rig.clear_tx();
            polls += 1;
            assert!(polls < 2_000_000, "round {round}: hold-down does not drain");
        }
        polls_max = polls_max.max(polls);
        let w = &rig.w;
        assert_eq!(w.subscribers(), 0, "round {round}: subscribers left");
        assert_eq!(w.fragments(), (0, 0), "round {round}: fragment state left");
        assert_eq!(w.syns_held(), 0, "round {round}: held SYNs left");
        assert_eq!(w.arp_held(), (0, 0), "round {round}: packets held for ARP");
        let c = w.counters();
        assert_eq!(
            c.event(Event::BindingCreated),
            c.event(Event::BindingExpired),
            "round {round}: bindings created vs expired"
        );
        assert_eq!(
            c.event(Event::SessionCreated),
            c.event(Event::SessionExpired),
            "round {round}: sessions created vs expired"
        );
        assert_eq!(
            c.event(Event::BlockAllocated),
            c.event(Event::BlockReleased),
            "round {round}: blocks allocated vs released"
        );
        assert_eq!(c.total_drops(), 0, "round {round}: drops {c:?}");
        // Events are drained by the poll loop in the daemon; here they are dropped.
        rig.w.drain_events(|_| {});
        let live = live_bytes();
        if round == 0 {
            baseline = live;
        } else {
            assert_eq!(
                live, baseline,
                "round {round}: heap grew from {baseline} to {live}"
            );
        }
        if round % 50 == 49 {
            eprintln!(
                "soak: {} rounds, {} bindings created, heap {} bytes",
                round + 1,
                rig.w.counters().event(Event::BindingCreated),
                live
            );
        }
    }
    let c = rig.w.counters();
    println!(
        "{{\"rounds\": {rounds}, \"simulated_hours\": {:.1}, \"bindings_created\": {}, \
         \"sessions_created\": {}, \"blocks_allocated\": {}, \"heap_bytes\": {baseline}, \
         \"heap_growth_bytes\": {}, \"max_polls_per_round\": {polls_max}, \
         \"wall_seconds\": {:.1}}}",
        f64::from(rounds) * ROUND_SECS as f64 / 3600.0,
        c.event(Event::BindingCreated),
        c.event(Event::SessionCreated),
        c.event(Event::BlockAllocated),
        live_bytes().saturating_sub(baseline),
        started.elapsed().as_secs_f64()
    );
}
