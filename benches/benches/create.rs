//! Binding creation (new sessions per second) and expiry, through the worker's real entry
//! points: `Worker::process` for creation (first packet of a flow with a new source port:
//! lookup miss, subscriber record and port block on first use, random port from the block,
//! binding insert into both indexes and the LRU list, translation, TX), `Worker::poll` for
//! expiry (at most `EXPIRY_BUDGET` = 64 bindings per call, each returning its port and, with
//! its subscriber's last binding, the subscriber's blocks).
//!
//! Only the worker is timed: frame preparation and building/dropping workers are not.
//!
//! - `create/fresh_1m`: a fresh worker (capacity 1 M) per iteration, filled from empty with
//!   1 048 576 flows (4096 subscribers x 256 ports, port-major order). This is the RFC 9693
//!   "maximum connection establishment rate" shape, and it includes what a fresh table costs:
//!   first-touch page faults in the hash tables and 4096 subscriber/block creations.
//! - `create/steady_1m` and `expire/steady_1m`: steady churn on a warm table of about 1 M
//!   bindings. Every iteration advances the clock by one second, reclaims the 16 384 bindings
//!   that just timed out (`expire/steady_1m` times this) and creates 16 384 new ones for the
//!   same inside ports (`create/steady_1m` times this).
//! - `expire/drain_1m`: a worker filled with 1 M bindings, the clock advanced past the UDP
//!   timeout, `poll` until the table is empty (each freed port goes on the hold-down FIFO).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use benches::{config, shape_1m, small_tables, Rig, Shape, SEC};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

fn fresh(c: &mut Criterion) {
    let shape = shape_1m();
    let n = shape.flows();
    let mut g = c.benchmark_group("create");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(u64::from(n)));
    g.bench_function(benches::name("fresh_1m"), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                let mut rig = Rig::new(config(shape, n));
                t += rig.establish(shape, 0..n);
                assert_eq!(rig.w.bindings(), n);
            }
            t
        })
    });
    g.finish();
}

/// A table at steady state: `batches - 1` batches of `batch` bindings alive after each
/// creation, one batch expiring and one being created per second.
struct Churn {
    rig: Rig,
    shape: Shape,
    batch: u32,
    batches: u32,
    step: u32,
}

impl Churn {
    fn new(shape: Shape, batch: u32) -> Self {
        let n = shape.flows();
        assert_eq!(n % batch, 0);
        let batches = n / batch;
        let mut cfg = config(shape, n);
        // A binding created at second s is reclaimed at second s + batches - 1 (it lives while
        // its age is <= the timeout), just before its inside port is used again. (Were expiry
        // at age >= timeout, it would go one second earlier: still one batch per second.)
        cfg.timeouts.udp = batches - 2;
        // The port hold-down (RFC 6888 REQ-8) keeps each expired binding's slot as a cooling
        // record for 120 s, so a table kept full by churn would refuse new bindings; this
        // bench measures create + expire cost, so it turns the hold-down off. (In production,
        // size `max_bindings_per_worker` for the live bindings plus 120 s of churn.)
        cfg.hold_down_secs = 0;
        let mut c = Self {
            rig: Rig::new(cfg),
            shape,
            batch,
            batches,
            step: 0,
        };
        for _ in 0..batches {
            c.next();
        }
        c
    }

    /// One second: expire, then create. Returns (expiry time, creation time).
    fn next(&mut self) -> (Duration, Duration) {
        let r = &mut self.rig;
        r.now += SEC;
        let before = r.w.bindings();
        let start = Instant::now();
        loop {
            let left = r.w.bindings();
            r.w.poll(r.now, &mut r.tx, &mut r.alloc);
            if r.w.bindings() == left {
                break;
            }
        }
        let expire = start.elapsed();
        let expired = before - r.w.bindings();
        if self.step >= self.batches {
            assert_eq!(expired, self.batch, "one batch expires per second");
        }
        let first = (self.step % self.batches) * self.batch;
        let create = r.establish(self.shape, first..first + self.batch);
        self.step += 1;
        (expire, create)
    }
}

fn steady(c: &mut Criterion) {
    let shape = shape_1m();
    let batch = if small_tables() { 1024 } else { 16_384 };
    let mut churn = Churn::new(shape, batch);
    let mut g = c.benchmark_group("create");
    g.throughput(Throughput::Elements(u64::from(batch)));
    g.bench_function(benches::name("steady_1m"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| churn.next().1).sum())
    });
    g.finish();
    let mut g = c.benchmark_group("expire");
    g.throughput(Throughput::Elements(u64::from(batch)));
    g.bench_function(benches::name("steady_1m"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| churn.next().0).sum())
    });
    g.finish();
}

fn drain(c: &mut Criterion) {
    let shape = shape_1m();
    let n = shape.flows();
    let mut g = c.benchmark_group("expire");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(u64::from(n)));
    g.bench_function(benches::name("drain_1m"), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                let mut r = Rig::new(config(shape, n));
                r.establish(shape, 0..n);
                r.now += u64::from(config(shape, n).timeouts.udp + 1) * SEC;
                let start = Instant::now();
                while r.w.bindings() > 0 {
                    let left = r.w.bindings();
                    r.w.poll(r.now, &mut r.tx, &mut r.alloc);
                    assert!(r.w.bindings() < left, "expiry made no progress");
                }
                t += start.elapsed();
            }
            t
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion();
    targets = fresh, steady, drain
}
#[global_allocator]
static ALLOC: benches::alloc::BenchAlloc = benches::alloc::BenchAlloc;

criterion_main!(benches);
