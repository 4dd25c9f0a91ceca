//! Header parse + NAT44 translation per packet through `Worker::process_burst` on `VecBuf`s:
//! the real code path (Ethernet/IPv4/UDP validation, binding lookup, LRU refresh, address,
//! port, TTL and incremental checksum rewrite, next-hop ARP lookup, TX queue), without DPDK or
//! NIC I/O, on one core.
//!
//! 64-byte UDP frames (60 bytes + FCS), bursts of 32, 1024 packets between two clock reads;
//! every packet picks one of the N established flows uniformly at random. Frames are
//! rewritten in place by the worker, so they are re-prepared from a template (60-byte copy +
//! address/port patch) before every chunk, outside the timed region; `translate/prepare_only`
//! measures that preparation alone.
//!
//! - `out_10k`, `out_1m`: inside -> outside with 10 240 / 1 048 576 bindings;
//! - `out_1m_lru`: as `out_1m` but the clock advances one second per chunk, so every packet
//!   also moves its binding to the tail of its LRU list (the worst case of the at-most-once-a-
//!   second refresh);
//! - `in_10k`, `in_1m`: outside -> inside (return traffic) to the same bindings;
//! - `out_1m_lookahead`: a what-if, not the worker as it is: as `out_1m`, plus a pass of 32
//!   independent binding lookups before each burst (see `Bursts::run_lookahead`), to estimate
//!   what per-burst prefetching of the binding table would gain.
//!
//! The lookahead and LRU variants run last so that the other benches see a clock that never moves (every
//! binding was refreshed in the current second: the cheap path of `BindingTable::touch`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use benches::{shape_10k, shape_1m, Bursts, Rig, Rng, Shape, CHUNK_BURSTS, SEC};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::Side;

fn elements(b: &Bursts) -> Throughput {
    Throughput::Elements(u64::try_from(b.packets()).unwrap())
}

fn translate(c: &mut Criterion, label: &str, shape: Shape, lru: bool) {
    let mut rig = Rig::with_flows(shape);
    let n = shape.flows();
    assert_eq!(rig.w.bindings(), n);
    let mut g = c.benchmark_group("translate");

    let mut out = Bursts::new(Side::Inside, CHUNK_BURSTS);
    g.throughput(elements(&out));
    let mut rng = Rng::new(1);
    g.bench_function(benches::name(&format!("out_{label}")), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                out.prepare(|| shape.flow(rng.below(n)));
                t += out.run(&mut rig);
            }
            t
        })
    });

    // Return traffic: the remote answers to the public endpoint of a random binding.
    rig.resolve_subscribers(shape);
    let endpoints: Vec<(u32, u16)> = (0..n)
        .map(|i| {
            let (ip, port) = shape.flow(i);
            rig.outside_endpoint(ip, port).unwrap()
        })
        .collect();
    let mut inb = Bursts::new(Side::Outside, CHUNK_BURSTS);
    g.bench_function(benches::name(&format!("in_{label}")), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                inb.prepare(|| endpoints[rng.below(n) as usize]);
                t += inb.run(&mut rig);
            }
            t
        })
    });
    if lru {
        g.bench_function(benches::name(&format!("out_{label}_lookahead")), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    out.prepare(|| shape.flow(rng.below(n)));
                    t += out.run_lookahead(&mut rig);
                }
                t
            })
        });
        g.bench_function(benches::name(&format!("out_{label}_lru")), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    rig.now += SEC;
                    out.prepare(|| shape.flow(rng.below(n)));
                    t += out.run(&mut rig);
                }
                t
            })
        });
    }

    g.finish();
}

fn prepare_only(c: &mut Criterion) {
    let shape = shape_1m();
    let n = shape.flows();
    let mut out = Bursts::new(Side::Inside, CHUNK_BURSTS);
    let mut rng = Rng::new(2);
    let mut g = c.benchmark_group("translate");
    g.throughput(elements(&out));
    g.bench_function(benches::name("prepare_only"), |b| {
        b.iter(|| out.prepare(|| shape.flow(rng.below(n))))
    });
    g.finish();
}

fn translate_10k(c: &mut Criterion) {
    translate(c, "10k", shape_10k(), false);
}

fn translate_1m(c: &mut Criterion) {
    translate(c, "1m", shape_1m(), true);
}

criterion_group! {
    name = benches;
    config = benches::criterion();
    targets = prepare_only, translate_10k, translate_1m
}
#[global_allocator]
static ALLOC: benches::alloc::BenchAlloc = benches::alloc::BenchAlloc;

criterion_main!(benches);
