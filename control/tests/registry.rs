//! The port-block registry answers "who had public:port at time t": by time around allocation
//! and release, after reuse by another subscriber, under retention and capacity bounds, after
//! lost or reordered events, and — against a brute-force scan — over a 100 000-block history
//! and over arbitrary operation sequences (proptest).

use std::net::Ipv4Addr;

use control::registry::{PortBlockRegistry, Record};
use proptest::prelude::*;

const DAY_MS: u64 = 86_400_000;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("valid IPv4 address")
}

fn who(reg: &PortBlockRegistry, public: Ipv4Addr, port: u16, at: u64) -> Option<Ipv4Addr> {
    reg.lookup(public, port, at).map(|r| r.subscriber)
}

#[test]
fn lookup_before_during_and_after_a_block_is_held() {
    let (p, a) = (ip("203.0.113.7"), ip("100.64.0.7"));
    let mut reg = PortBlockRegistry::new(1000, DAY_MS);
    assert!(reg.is_empty());
    assert_eq!(reg.lookup(p, 40123, 5), None, "empty registry");
    assert!(reg.allocate(p, 39936, 40447, a, 1_000));
    assert_eq!(reg.len(), 1);
    assert_eq!(reg.open_len(), 1);

    assert_eq!(who(&reg, p, 40123, 999), None, "before allocation");
    assert_eq!(
        who(&reg, p, 40123, 1_000),
        Some(a),
        "at the allocation instant"
    );
    assert_eq!(
        who(&reg, p, 40123, 1_000_000),
        Some(a),
        "open: held until now"
    );
    assert_eq!(who(&reg, p, 39936, 2_000), Some(a), "first port");
    assert_eq!(who(&reg, p, 40447, 2_000), Some(a), "last port");
    assert_eq!(who(&reg, p, 39935, 2_000), None, "below the block");
    assert_eq!(who(&reg, p, 40448, 2_000), None, "above the block");
    assert_eq!(
        who(&reg, ip("203.0.113.8"), 40123, 2_000),
        None,
        "other address"
    );

    assert!(reg.release(p, 39936, 5_000));
    assert_eq!(reg.open_len(), 0);
    assert_eq!(who(&reg, p, 40123, 4_999), Some(a), "just before release");
    assert_eq!(
        who(&reg, p, 40123, 5_000),
        None,
        "release instant: half-open interval"
    );
    assert_eq!(who(&reg, p, 40123, 9_000), None, "after release");
    let r = reg.lookup(p, 40123, 1_500).unwrap();
    assert_eq!(
        *r,
        Record {
            public: p,
            port_start: 39936,
            port_end: 40447,
            subscriber: a,
            allocated_at_ms: 1_000,
            released_at_ms: Some(5_000),
        }
    );
    assert_eq!(reg.stats().allocated, 1);
    assert_eq!(reg.stats().released, 1);
}

#[test]
fn reuse_by_another_subscriber_is_answered_by_time() {
    let p = ip("203.0.113.7");
    let (a, b, c) = (ip("100.64.0.7"), ip("100.64.0.8"), ip("100.64.0.9"));
    let mut reg = PortBlockRegistry::new(1000, DAY_MS);
    reg.allocate(p, 1024, 1535, a, 100);
    reg.release(p, 1024, 200);
    reg.allocate(p, 1024, 1535, b, 320); // after a 120 s-style hold-down
    reg.release(p, 1024, 400);
    reg.allocate(p, 1024, 1535, c, 400); // same millisecond as the release
    for (t, want) in [
        (99, None),
        (100, Some(a)),
        (199, Some(a)),
        (200, None),
        (319, None),
        (320, Some(b)),
        (399, Some(b)),
        (400, Some(c)),
        (10_000, Some(c)),
    ] {
        assert_eq!(who(&reg, p, 1300, t), want, "t = {t}");
    }
    let subs: Vec<_> = reg.by_subscriber(b).map(|r| r.allocated_at_ms).collect();
    assert_eq!(subs, [320]);
    assert_eq!(reg.stats().implicit_releases, 0);
}

#[test]
fn by_subscriber_lists_its_blocks_oldest_first() {
    let (p, q) = (ip("203.0.113.7"), ip("203.0.113.9"));
    let (a, b) = (ip("100.64.0.7"), ip("100.64.0.8"));
    let mut reg = PortBlockRegistry::new(1000, DAY_MS);
    reg.allocate(p, 2048, 2559, a, 30);
    reg.allocate(q, 1024, 1535, a, 10);
    reg.allocate(p, 1024, 1535, b, 20);
    reg.allocate(p, 3072, 3583, a, 20);
    let got: Vec<_> = reg
        .by_subscriber(a)
        .map(|r| (r.allocated_at_ms, r.public, r.port_start))
        .collect();
    assert_eq!(got, [(10, q, 1024), (20, p, 3072), (30, p, 2048)]);
    assert_eq!(reg.by_subscriber(ip("100.64.0.99")).count(), 0);
}

#[test]
fn retention_expires_released_records_only() {
    let p = ip("203.0.113.7");
    let (a, b) = (ip("100.64.0.7"), ip("100.64.0.8"));
    let mut reg = PortBlockRegistry::new(1000, 7 * DAY_MS);
    reg.allocate(p, 1024, 1535, a, 0);
    reg.release(p, 1024, DAY_MS);
    reg.allocate(p, 1536, 2047, a, 0); // never released
    reg.allocate(p, 1024, 1535, b, 2 * DAY_MS);
    reg.release(p, 1024, 3 * DAY_MS);

    assert_eq!(
        reg.expire(8 * DAY_MS - 1),
        0,
        "a's record is 7 days minus 1 ms old"
    );
    assert_eq!(
        reg.expire(8 * DAY_MS),
        0,
        "exactly 7 days: not before the cutoff"
    );
    assert_eq!(reg.expire(8 * DAY_MS + 1), 1);
    assert_eq!(reg.len(), 2);
    assert_eq!(who(&reg, p, 1100, DAY_MS / 2), None, "forgotten");
    assert_eq!(who(&reg, p, 1100, 2 * DAY_MS + 5), Some(b), "kept");
    assert_eq!(reg.by_subscriber(a).count(), 1, "index follows");

    assert_eq!(reg.expire_released_before(u64::MAX), 1);
    assert_eq!(reg.len(), 1, "the open record is never expired");
    assert_eq!(who(&reg, p, 1600, 100 * DAY_MS), Some(a));
    assert_eq!(reg.stats().expired, 2);
}

#[test]
fn capacity_evicts_the_oldest_released_first_and_counts() {
    let p = ip("203.0.113.7");
    let a = ip("100.64.0.7");
    let mut reg = PortBlockRegistry::new(3, DAY_MS);
    // Three blocks, released in the order 2, 0, 1.
    for (i, start) in [1024u16, 2048, 3072].into_iter().enumerate() {
        reg.allocate(p, start, start + 1023, a, i as u64);
    }
    reg.release(p, 3072, 10);
    reg.release(p, 1024, 20);
    reg.release(p, 2048, 30);
    assert!(reg.allocate(p, 4096, 5119, a, 40));
    assert_eq!(reg.len(), 3);
    assert_eq!(reg.stats().evicted, 1);
    assert_eq!(who(&reg, p, 3100, 5), None, "released first, evicted first");
    assert_eq!(who(&reg, p, 1100, 5), Some(a));
    assert!(reg.allocate(p, 5120, 6143, a, 41));
    assert_eq!(who(&reg, p, 1100, 5), None, "next oldest release");
    assert_eq!(who(&reg, p, 2100, 5), Some(a));

    // Full of open records: a new allocation is refused and counted, nothing is lost.
    assert!(reg.allocate(p, 6144, 7167, a, 42));
    assert_eq!(reg.open_len(), 3);
    assert!(!reg.allocate(p, 7168, 8191, a, 43));
    assert_eq!(reg.stats().rejected_full, 1);
    assert_eq!(reg.len(), 3);
}

#[test]
fn lost_and_reordered_events_are_repaired() {
    let p = ip("203.0.113.7");
    let (a, b, c) = (ip("100.64.0.7"), ip("100.64.0.8"), ip("100.64.0.9"));
    let mut reg = PortBlockRegistry::new(1000, DAY_MS);

    // a's release was lost: b's allocation closes it.
    reg.allocate(p, 1024, 1535, a, 100);
    reg.allocate(p, 1024, 1535, b, 500);
    assert_eq!(who(&reg, p, 1100, 499), Some(a));
    assert_eq!(who(&reg, p, 1100, 500), Some(b));
    assert_eq!(reg.lookup(p, 1100, 200).unwrap().released_at_ms, Some(500));
    assert_eq!(reg.stats().implicit_releases, 1);

    // Arrives late: c had it before b, so c's record ends where b's begins.
    reg.allocate(p, 1024, 1535, c, 300);
    assert_eq!(who(&reg, p, 1100, 299), Some(a));
    assert_eq!(who(&reg, p, 1100, 300), Some(c));
    assert_eq!(who(&reg, p, 1100, 499), Some(c));
    assert_eq!(who(&reg, p, 1100, 500), Some(b));

    // A larger block over a lost smaller one on a different start (block size changed).
    reg.allocate(p, 4096, 4351, a, 100);
    reg.allocate(p, 3584, 4607, c, 600);
    assert_eq!(who(&reg, p, 4200, 599), Some(a));
    assert_eq!(who(&reg, p, 4200, 600), Some(c));
    assert_eq!(who(&reg, p, 3600, 600), Some(c));

    // A release nobody allocated, and a second release of the same block.
    assert!(!reg.release(p, 8192, 700));
    assert!(reg.release(p, 3584, 700));
    assert!(!reg.release(p, 3584, 701));
    assert_eq!(reg.stats().unmatched_releases, 2);

    // A malformed range and an exact duplicate.
    assert!(!reg.allocate(p, 2000, 1999, a, 1));
    assert_eq!(reg.stats().invalid, 1);
    let before = reg.len();
    assert!(reg.allocate(p, 1024, 1535, b, 500));
    assert_eq!(reg.len(), before);
    assert_eq!(reg.stats().duplicates, 1);
    check_invariant(&reg);
}

#[test]
fn ports_at_the_ends_of_the_range() {
    let p = ip("203.0.113.7");
    let (a, b) = (ip("100.64.0.7"), ip("100.64.0.8"));
    let mut reg = PortBlockRegistry::new(100, DAY_MS);
    reg.allocate(p, 0, 0, a, 1);
    reg.allocate(p, 65024, 65535, b, 1);
    assert_eq!(who(&reg, p, 0, 1), Some(a));
    assert_eq!(who(&reg, p, 1, 1), None);
    assert_eq!(who(&reg, p, 65535, 1), Some(b));
    assert_eq!(who(&reg, p, 65023, 1), None);
    assert_eq!(who(&reg, p, 65535, u64::MAX), Some(b));
}

// ---------------------------------------------------------------------------------------------
// Brute force.

fn brute<'a>(
    recs: impl IntoIterator<Item = &'a Record>,
    public: Ipv4Addr,
    port: u16,
    at: u64,
) -> Vec<Record> {
    recs.into_iter()
        .filter(|r| r.public == public && r.covers(port, at))
        .copied()
        .collect()
}

/// No two stored records for overlapping ports on one address overlap in time.
fn check_invariant(reg: &PortBlockRegistry) {
    let recs: Vec<&Record> = reg.iter().collect();
    for (i, x) in recs.iter().enumerate() {
        for y in &recs[i + 1..] {
            if x.public != y.public || x.port_end < y.port_start || y.port_end < x.port_start {
                continue;
            }
            let x_end = x.released_at_ms.unwrap_or(u64::MAX);
            let y_end = y.released_at_ms.unwrap_or(u64::MAX);
            let empty = x.allocated_at_ms >= x_end || y.allocated_at_ms >= y_end;
            let disjoint = x_end <= y.allocated_at_ms || y_end <= x.allocated_at_ms;
            assert!(empty || disjoint, "overlap: {x:?} {y:?}");
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn index(&mut self, len: usize) -> usize {
        let len = u64::try_from(len).expect("usize fits u64");
        usize::try_from(self.below(len)).expect("below len")
    }

    fn port(&mut self, n: u64) -> u16 {
        u16::try_from(self.below(n)).expect("n <= 65536")
    }
}

/// A 100 000-allocation history of a consistent allocator (8 addresses, aligned 512-port blocks
/// mixed with unaligned 1000- and 64-port ones, equal timestamps allowed), then lookups at
/// block edges and around every boundary, compared with a scan of the ground truth.
#[test]
fn hundred_thousand_blocks_match_brute_force() {
    const ALLOCS: usize = 100_000;
    let publics: Vec<Ipv4Addr> = (0..8u8).map(|i| Ipv4Addr::new(203, 0, 113, i)).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut reg = PortBlockRegistry::new(1_000_000, u64::MAX);
    // Ground truth per address, kept independently of the registry.
    let mut truth: Vec<Vec<Record>> = vec![Vec::new(); publics.len()];
    // Indices into `truth[a]` of the open blocks.
    let mut open: Vec<Vec<usize>> = vec![Vec::new(); publics.len()];
    let mut now = 0u64;
    let mut allocs = 0;
    while allocs < ALLOCS {
        now += rng.below(3);
        let a = rng.index(publics.len());
        let release = !open[a].is_empty() && rng.below(100) < 45;
        if release {
            let k = rng.index(open[a].len());
            let idx = open[a].swap_remove(k);
            let r = &mut truth[a][idx];
            r.released_at_ms = Some(now);
            assert!(reg.release(r.public, r.port_start, now));
            continue;
        }
        let (start, len) = match rng.below(50) {
            0 => (1024 + rng.below(65536 - 1024 - 1000 + 1), 1000),
            1 => (1024 + rng.below(65536 - 1024 - 64 + 1), 64),
            _ => (1024 + 512 * rng.below(126), 512),
        };
        let end = u16::try_from(start + len - 1).expect("block inside the port range");
        let start = u16::try_from(start).expect("port");
        let busy = open[a].iter().any(|&i| {
            let r = &truth[a][i];
            r.port_start <= end && start <= r.port_end
        });
        if busy {
            continue;
        }
        let sub = Ipv4Addr::from(0x6440_0000 + u32::try_from(rng.below(4096)).expect("small"));
        assert!(reg.allocate(publics[a], start, end, sub, now));
        truth[a].push(Record {
            public: publics[a],
            port_start: start,
            port_end: end,
            subscriber: sub,
            allocated_at_ms: now,
            released_at_ms: None,
        });
        open[a].push(truth[a].len() - 1);
        allocs += 1;
    }
    assert_eq!(reg.len(), ALLOCS);
    let s = reg.stats();
    assert_eq!(
        s.implicit_releases, 0,
        "a consistent history needs no repair"
    );
    assert_eq!(
        s.unmatched_releases + s.duplicates + s.invalid + s.evicted,
        0
    );

    let mut hits = 0;
    for q in 0..6_000 {
        let a = rng.index(publics.len());
        let (port, at) = if q % 3 == 0 {
            (rng.port(65536), rng.below(now + 10))
        } else {
            // Around a real record's edges in port and time.
            let r = truth[a][rng.index(truth[a].len())];
            let port = match rng.below(5) {
                0 => r.port_start.saturating_sub(1),
                1 => r.port_start,
                2 => r.port_end,
                3 => r.port_end.saturating_add(1),
                _ => r.port_start + rng.port(u64::from(r.port_end - r.port_start) + 1),
            };
            let end = r.released_at_ms.unwrap_or(now + 5);
            let at = match rng.below(5) {
                0 => r.allocated_at_ms.saturating_sub(1),
                1 => r.allocated_at_ms,
                2 => end.saturating_sub(1),
                3 => end,
                _ => r.allocated_at_ms + rng.below(end - r.allocated_at_ms + 1),
            };
            (port, at)
        };
        let want = brute(&truth[a], publics[a], port, at);
        assert!(want.len() <= 1, "ground truth itself overlaps: {want:?}");
        let got = reg.lookup(publics[a], port, at).copied();
        assert_eq!(got, want.first().copied(), "{}:{port} at {at}", publics[a]);
        hits += usize::from(got.is_some());
    }
    assert!(
        hits > 1_000,
        "a third of the queries sit inside a record, got {hits} hits"
    );

    // by_subscriber agrees with the ground truth for a few subscribers.
    for n in [0u32, 7, 4095] {
        let sub = Ipv4Addr::from(0x6440_0000 + n);
        let mut want: Vec<Record> = truth
            .iter()
            .flatten()
            .filter(|r| r.subscriber == sub)
            .copied()
            .collect();
        want.sort_by_key(|r| (r.allocated_at_ms, r.public, r.port_start));
        let got: Vec<Record> = reg.by_subscriber(sub).copied().collect();
        assert_eq!(got, want);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        public: u8,
        start: u16,
        len: u16,
        sub: u8,
        at: u64,
    },
    Release {
        public: u8,
        start: u16,
        at: u64,
    },
    Expire {
        cutoff: u64,
    },
}

fn op(base: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2u8, 0..40u16, 1..12u16, 0..4u8, 0..60u64).prop_map(move |(public, s, len, sub, at)| Op::Alloc {
            public,
            start: base + s,
            len,
            sub,
            at
        }),
        3 => (0..2u8, 0..40u16, 0..60u64).prop_map(move |(public, s, at)| Op::Release { public, start: base + s, at }),
        1 => (0..60u64).prop_map(|cutoff| Op::Expire { cutoff }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the event stream — lost releases, reordering, duplicates, overlapping sizes,
    /// evictions — the stored records never overlap and lookup equals a scan of them.
    #[test]
    fn arbitrary_histories_stay_consistent_and_lookup_equals_scan(
        (base, ops, cap) in prop_oneof![Just(0u16), Just(65_480u16)]
            .prop_flat_map(|base| (Just(base), prop::collection::vec(op(base), 1..80), 1..40usize))
    ) {
        let publics = [Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2)];
        let mut reg = PortBlockRegistry::new(cap, 0);
        for o in &ops {
            match *o {
                Op::Alloc { public, start, len, sub, at } => {
                    let end = start.saturating_add(len - 1);
                    reg.allocate(publics[usize::from(public)], start, end, Ipv4Addr::new(100, 64, 0, sub), at);
                }
                Op::Release { public, start, at } => {
                    reg.release(publics[usize::from(public)], start, at);
                }
                Op::Expire { cutoff } => {
                    reg.expire_released_before(cutoff);
                }
            }
            prop_assert!(reg.len() <= cap);
        }
        check_invariant(&reg);
        for &p in &publics {
            for port in base..base.saturating_add(55) {
                for at in 0..62 {
                    let want = brute(reg.iter(), p, port, at);
                    prop_assert!(want.len() <= 1);
                    prop_assert_eq!(reg.lookup(p, port, at).copied(), want.first().copied());
                }
            }
        }
        for sub in 0..4u8 {
            let s = Ipv4Addr::new(100, 64, 0, sub);
            let got = reg.by_subscriber(s).count();
            prop_assert_eq!(got, reg.iter().filter(|r| r.subscriber == s).count());
        }
    }
}
