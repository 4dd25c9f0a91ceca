//! Internet checksum: the RFC 1624 incremental updates the translation uses
//! (`checksum::update16` / `update32` and their UDP variants) against a full RFC 1071
//! recompute of a 20-byte IPv4 header and of a 1400-byte payload.
//!
//! One operation per criterion iteration, inputs behind `black_box` so nothing is
//! constant-folded. `ipv4_header_incremental` is what a translated packet's IPv4 header
//! costs (address + TTL word), `ipv4_header_full` what recomputing it would cost.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use benches::Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::checksum;

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.next_u64().to_le_bytes()[0]).collect()
}

fn incremental(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Elements(1));
    g.bench_function(benches::name("update16"), |b| {
        b.iter(|| checksum::update16(black_box(0x1c46), black_box(40_000), black_box(1_024)))
    });
    g.bench_function(benches::name("update32"), |b| {
        b.iter(|| {
            checksum::update32(
                black_box(0x1c46),
                black_box(0x6440_0102),
                black_box(0xc612_0007),
            )
        })
    });
    g.bench_function(benches::name("udp_update32_16"), |b| {
        b.iter(|| {
            checksum::udp_update16(
                checksum::udp_update32(
                    black_box(0x1c46),
                    black_box(0x6440_0102),
                    black_box(0xc612_0007),
                ),
                black_box(40_000),
                black_box(1_024),
            )
        })
    });
    g.bench_function(benches::name("ipv4_header_incremental"), |b| {
        // New source address and TTL 64 -> 63 (TTL shares its word with the protocol).
        b.iter(|| {
            checksum::update16(
                checksum::update32(
                    black_box(0x1c46),
                    black_box(0x6440_0102),
                    black_box(0xc612_0007),
                ),
                black_box(0x4011),
                black_box(0x3f11),
            )
        })
    });
    g.finish();
}

fn full(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for (name, len) in [("ipv4_header_full", 20), ("full_1400", 1400)] {
        let data = bytes(len, 9);
        g.throughput(Throughput::Bytes(u64::try_from(len).unwrap()));
        g.bench_function(benches::name(name), |b| {
            b.iter(|| checksum::checksum(black_box(&data)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion();
    targets = incremental, full
}
#[global_allocator]
static ALLOC: benches::alloc::BenchAlloc = benches::alloc::BenchAlloc;

criterion_main!(benches);
