//! Binding-table lookups alone, on a table filled through `Worker::process` (the real
//! creation path): `BindingTable::find_inside` (outbound key: protocol, subscriber address,
//! inside port) and `NatState::map_inbound` (inbound key: protocol, public address, public
//! port), hits and misses, at 10 240 and 1 048 576 bindings, and at 16 777 216 with
//! `CGNAT_BENCH_16M=1` (about 2 GiB of tables and 10-20 s of setup).
//!
//! Keys are drawn uniformly at random (hits: from the established bindings; misses: keys that
//! are not in the table) into an array read sequentially, 1024 lookups per iteration. The
//! array holds 4 keys per binding (at least 64 K, at most 4 M keys), so the bindings a run
//! touches are the whole table, not a sample small enough to stay in the 32 MiB L3. The lookups are independent of each other, so the CPU overlaps their cache
//! misses: this is the table's throughput, not the latency one packet sees.
//! `find_inside_hit_get` also reads the binding record (the slab access the translation
//! needs after the index lookup).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use benches::{huge_enabled, shape_10k, shape_16m, shape_1m, Rig, Rng, Shape, POOL_BASE};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::bindings::key;
use dataplane::wire::ipv4::PROTO_UDP;

const PER_ITER: usize = 1024;

/// Keys per array for a table of `n` bindings (a multiple of `PER_ITER`).
fn keys(n: u32) -> usize {
    (n as usize * 4).clamp(1 << 16, 1 << 22) / PER_ITER * PER_ITER
}

/// Runs `f` over the next `PER_ITER` keys of `keys` (cycling) and folds the results.
fn sweep<K: Copy>(keys: &[K], at: &mut usize, mut f: impl FnMut(K) -> u32) -> u32 {
    let mut acc = 0u32;
    for k in &keys[*at..*at + PER_ITER] {
        acc = acc.wrapping_add(f(*k));
    }
    *at = (*at + PER_ITER) % keys.len();
    acc
}

fn lookup(c: &mut Criterion, label: &str, shape: Shape) {
    let rig = Rig::with_flows(shape);
    let n = shape.flows();
    let nat = rig.w.nat();
    let table = &nat.bindings;
    let pool = nat.port_blocks().n_addresses();
    let pool = u32::try_from(pool).unwrap();
    let mut rng = Rng::new(3);
    let k = keys(n);

    let in_hit: Vec<u64> = (0..k)
        .map(|_| {
            let (ip, port) = shape.flow(rng.below(n));
            key(PROTO_UDP, ip, port)
        })
        .collect();
    let in_miss: Vec<u64> = (0..k)
        .map(|_| {
            let ip = shape.subscriber(rng.below(shape.subscribers));
            // Above every inside port in use.
            let port = u16::try_from(60_000 + rng.below(5_000)).unwrap();
            key(PROTO_UDP, ip, port)
        })
        .collect();
    let out_hit: Vec<(u32, u16)> = (0..k)
        .map(|_| {
            let (ip, port) = shape.flow(rng.below(n));
            rig.outside_endpoint(ip, port).unwrap()
        })
        .collect();
    let mut out_miss: Vec<(u32, u16)> = Vec::with_capacity(k);
    while out_miss.len() < k {
        let ip = POOL_BASE + rng.below(pool);
        let port = u16::try_from(1024 + rng.below(64_512)).unwrap();
        if nat.map_inbound(PROTO_UDP, ip, port).is_none() {
            out_miss.push((ip, port));
        }
    }
    assert!(in_hit.iter().all(|&k| table.find_inside(k).is_some()));
    assert!(in_miss.iter().all(|&k| table.find_inside(k).is_none()));

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(PER_ITER as u64));
    let mut at = 0;
    g.bench_function(benches::name(&format!("find_inside_hit_{label}")), |b| {
        b.iter(|| {
            sweep(&in_hit, &mut at, |k| {
                black_box(table.find_inside(black_box(k))).unwrap_or(0)
            })
        })
    });
    g.bench_function(
        benches::name(&format!("find_inside_hit_get_{label}")),
        |b| {
            b.iter(|| {
                sweep(&in_hit, &mut at, |k| {
                    let i = table.find_inside(black_box(k)).unwrap_or(0);
                    u32::from(black_box(table.get(i)).pub_port)
                })
            })
        },
    );
    g.bench_function(benches::name(&format!("find_inside_miss_{label}")), |b| {
        b.iter(|| {
            sweep(&in_miss, &mut at, |k| {
                black_box(table.find_inside(black_box(k))).unwrap_or(0)
            })
        })
    });
    g.bench_function(benches::name(&format!("map_inbound_hit_{label}")), |b| {
        b.iter(|| {
            sweep(&out_hit, &mut at, |(ip, port)| {
                black_box(nat.map_inbound(PROTO_UDP, black_box(ip), port)).unwrap_or(0)
            })
        })
    });
    g.bench_function(benches::name(&format!("map_inbound_miss_{label}")), |b| {
        b.iter(|| {
            sweep(&out_miss, &mut at, |(ip, port)| {
                black_box(nat.map_inbound(PROTO_UDP, black_box(ip), port)).unwrap_or(0)
            })
        })
    });
    g.finish();
}

fn lookup_10k(c: &mut Criterion) {
    lookup(c, "10k", shape_10k());
}

fn lookup_1m(c: &mut Criterion) {
    lookup(c, "1m", shape_1m());
}

fn lookup_16m(c: &mut Criterion) {
    if huge_enabled() {
        lookup(c, "16m", shape_16m());
    }
}

criterion_group! {
    name = benches;
    config = benches::criterion();
    targets = lookup_10k, lookup_1m, lookup_16m
}
#[global_allocator]
static ALLOC: benches::alloc::BenchAlloc = benches::alloc::BenchAlloc;

criterion_main!(benches);
