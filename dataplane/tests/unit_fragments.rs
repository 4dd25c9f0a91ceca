//! Fragment translation state (RFC 4787 REQ-14): in-order and out-of-order fragments, limits,
//! timeouts, duplicates, no allocation after construction, and buffer conservation.
#![allow(clippy::unwrap_used)]

use dataplane::fragments::{
    translate_fragment_addr, FragDrop, FragInfo, FragKey, FragParams, FragmentTable, NonFirst,
};
use etherparse::{IpFragOffset, IpNumber, Ipv4Header};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;

// ---- Allocation counting (per thread, so parallel tests do not interfere) ---------------------

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

// ---- Helpers ----------------------------------------------------------------------------------

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// What a caller might store: new address, new port, binding index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Xlat {
    addr: u32,
    port: u16,
    binding: u32,
}

const X: Xlat = Xlat {
    addr: 0xcb00_7105,
    port: 40001,
    binding: 7,
};

fn key(ident: u16) -> FragKey {
    FragKey {
        src: 0x6440_0002,
        dst: 0xc633_6402,
        proto: 17,
        ident,
    }
}

/// A datagram of 3 fragments: 0..1480 (MF), 1480..2960 (MF), 2960..3000.
fn first() -> FragInfo {
    FragInfo {
        offset: 0,
        len: 1480,
        more: true,
    }
}
fn middle() -> FragInfo {
    FragInfo {
        offset: 1480,
        len: 1480,
        more: true,
    }
}
fn last() -> FragInfo {
    FragInfo {
        offset: 2960,
        len: 40,
        more: false,
    }
}

fn table(p: FragParams) -> FragmentTable<u32, Xlat> {
    FragmentTable::new(p)
}

fn small() -> FragParams {
    FragParams {
        timeout_ns: 2 * SEC,
        max_datagrams: 4,
        max_held_per_datagram: 2,
        max_held_total: 3,
    }
}

// ---- Order -------------------------------------------------------------------------------------

#[test]
fn in_order_fragments_complete_and_free_the_entry() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), SEC).unwrap();
    assert_eq!(t.drain_held(&key(1), |_| panic!("nothing held")), 0);
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup(&key(1), middle()), Some(X));
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup(&key(1), last()), Some(X));
    assert_eq!(t.len(), 0, "every byte seen: entry removed");
    assert_eq!(t.lookup(&key(1), last()), None);
}

/// RFC 4787 REQ-14: "A NAT MUST support receiving in-order and out-of-order fragments".
#[test]
fn rfc4787_req14_out_of_order_fragments_are_held_then_released_in_arrival_order() {
    let mut t = table(FragParams::default());
    assert!(matches!(
        t.non_first(key(2), 30, last(), SEC),
        NonFirst::Held
    ));
    assert!(matches!(
        t.non_first(key(2), 20, middle(), SEC + MS),
        NonFirst::Held
    ));
    assert_eq!(t.held(), 2);
    assert_eq!(t.held_for(&key(2)), 2);
    assert_eq!(t.peek(&key(2)), None);
    t.record_first(key(2), X, first(), SEC + 2 * MS).unwrap();
    let mut out = vec![];
    assert_eq!(t.drain_held(&key(2), |b| out.push(b)), 2);
    assert_eq!(out, vec![30, 20]);
    assert_eq!(t.held(), 0);
    assert_eq!(t.len(), 0, "first + held covered the datagram");
}

#[test]
fn first_between_others() {
    let mut t = table(FragParams::default());
    assert!(matches!(
        t.non_first(key(3), 20, middle(), 0),
        NonFirst::Held
    ));
    t.record_first(key(3), X, first(), MS).unwrap();
    let mut out = vec![];
    t.drain_held(&key(3), |b| out.push(b));
    assert_eq!(out, vec![20]);
    assert_eq!(t.len(), 1, "last fragment still to come");
    match t.non_first(key(3), 30, last(), 2 * MS) {
        NonFirst::Translate(b, v) => assert_eq!((b, v), (30, X)),
        other => panic!("{other:?}"),
    }
    assert!(t.is_empty());
}

#[test]
fn keys_are_independent() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), 0).unwrap();
    let other = FragKey { proto: 6, ..key(1) };
    assert_eq!(t.lookup(&other, middle()), None);
    let other = FragKey {
        src: 0x6440_0003,
        ..key(1)
    };
    assert_eq!(t.lookup(&other, middle()), None);
    assert_eq!(t.lookup(&key(1), middle()), Some(X));
}

// ---- Timeouts ----------------------------------------------------------------------------------

#[test]
fn held_fragments_time_out_after_two_seconds() {
    let mut t = table(FragParams::default());
    assert_eq!(
        FragParams::default().timeout_ns,
        2 * SEC,
        "RFC 8512 minimum"
    );
    t.hold(key(4), 40, middle(), SEC).unwrap();
    t.hold(key(4), 41, last(), SEC + 100 * MS).unwrap();
    let mut dropped = vec![];
    assert_eq!(t.expire(3 * SEC - 1, 64, |b| dropped.push(b)), 0);
    assert_eq!(t.expire(3 * SEC, 64, |b| dropped.push(b)), 1);
    assert_eq!(dropped, vec![40, 41]);
    assert_eq!((t.len(), t.held()), (0, 0));
    // The first fragment arriving late starts a fresh entry; the dropped ones are gone.
    t.record_first(key(4), X, first(), 3 * SEC).unwrap();
    assert_eq!(t.drain_held(&key(4), |_| panic!("dropped already")), 0);
}

#[test]
fn recorded_translation_times_out() {
    let mut t = table(FragParams::default());
    t.record_first(key(5), X, first(), 0).unwrap();
    assert_eq!(t.expire(2 * SEC - 1, 64, |_| {}), 0);
    assert_eq!(t.lookup(&key(5), middle()), Some(X));
    assert_eq!(t.expire(2 * SEC, 64, |_| {}), 1);
    assert_eq!(t.lookup(&key(5), middle()), None);
}

#[test]
fn recording_the_first_restarts_the_lifetime() {
    let mut t = table(FragParams::default());
    t.hold(key(6), 1, middle(), 0).unwrap();
    t.record_first(key(6), X, first(), 1500 * MS).unwrap();
    t.drain_held(&key(6), |_| {});
    assert_eq!(t.expire(2500 * MS, 64, |_| {}), 0);
    assert_eq!(t.peek(&key(6)), Some(X));
    assert_eq!(t.expire(3500 * MS, 64, |_| {}), 1);
}

#[test]
fn expiry_is_bounded_by_the_budget_and_oldest_first() {
    let mut t = table(FragParams::default());
    for i in 0..10u16 {
        t.record_first(key(i), X, first(), u64::from(i) * MS)
            .unwrap();
    }
    assert_eq!(t.expire(10 * SEC, 3, |_| {}), 3);
    assert_eq!(t.len(), 7);
    for i in 0..3 {
        assert_eq!(t.peek(&key(i)), None);
    }
    assert_eq!(t.peek(&key(3)), Some(X));
    assert_eq!(t.expire(10 * SEC, 100, |_| {}), 7);
    assert!(t.is_empty());
}

#[test]
fn undrained_held_fragments_are_dropped_on_expiry() {
    let mut t = table(FragParams::default());
    t.hold(key(7), 70, middle(), 0).unwrap();
    t.record_first(key(7), X, first(), 0).unwrap();
    let mut dropped = vec![];
    t.expire(2 * SEC, 8, |b| dropped.push(b));
    assert_eq!(dropped, vec![70]);
    assert_eq!(t.held(), 0);
}

// ---- Limits ------------------------------------------------------------------------------------

#[test]
fn per_datagram_hold_limit() {
    let mut t = table(small());
    t.hold(key(1), 1, middle(), 0).unwrap();
    t.hold(key(1), 2, middle(), 0).unwrap();
    assert_eq!(
        t.hold(key(1), 3, last(), 0),
        Err((3, FragDrop::DatagramHoldFull))
    );
    assert_eq!(t.held(), 2);
}

#[test]
fn total_hold_limit() {
    let mut t = table(small());
    t.hold(key(1), 1, middle(), 0).unwrap();
    t.hold(key(1), 2, middle(), 0).unwrap();
    t.hold(key(2), 3, middle(), 0).unwrap();
    assert_eq!(t.hold(key(2), 4, last(), 0), Err((4, FragDrop::HoldFull)));
    assert_eq!(t.hold(key(3), 5, last(), 0), Err((5, FragDrop::HoldFull)));
    assert_eq!(t.len(), 2, "a refused hold creates no entry");
    // Releasing frees slots for others.
    t.record_first(key(1), X, first(), 0).unwrap();
    assert_eq!(t.drain_held(&key(1), |_| {}), 2);
    t.hold(key(3), 5, last(), 0).unwrap();
}

#[test]
fn table_limit() {
    let mut t = table(small());
    for i in 0..4 {
        t.record_first(key(i), X, first(), 0).unwrap();
    }
    assert_eq!(
        t.record_first(key(9), X, first(), 0),
        Err(FragDrop::TableFull)
    );
    assert_eq!(
        t.hold(key(9), 1, middle(), 0),
        Err((1, FragDrop::TableFull))
    );
    assert!(matches!(
        t.non_first(key(9), 2, middle(), 0),
        NonFirst::Drop(2, FragDrop::TableFull)
    ));
    // Existing datagrams still work.
    assert_eq!(t.lookup(&key(0), middle()), Some(X));
    t.expire(2 * SEC, 1, |_| {});
    t.record_first(key(9), X, first(), 2 * SEC).unwrap();
}

#[test]
fn zero_sized_tables_refuse_everything() {
    let mut t = table(FragParams {
        timeout_ns: SEC,
        max_datagrams: 0,
        max_held_per_datagram: 0,
        max_held_total: 0,
    });
    assert_eq!(
        t.record_first(key(1), X, first(), 0),
        Err(FragDrop::TableFull)
    );
    assert_eq!(
        t.hold(key(1), 1, middle(), 0),
        Err((1, FragDrop::DatagramHoldFull))
    );
    assert_eq!(t.expire(u64::MAX, usize::MAX, |_| {}), 0);
}

// ---- Duplicates --------------------------------------------------------------------------------

#[test]
fn duplicate_first_fragment_same_value_is_accepted_and_not_double_counted() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), 0).unwrap();
    t.record_first(key(1), X, first(), MS).unwrap();
    assert_eq!(t.lookup(&key(1), middle()), Some(X));
    assert_eq!(t.len(), 1, "1480 + 1480 of 3000 seen");
    assert_eq!(t.lookup(&key(1), last()), Some(X));
    assert!(t.is_empty());
}

#[test]
fn conflicting_first_fragment_is_refused_while_the_entry_lives() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), 0).unwrap();
    let y = Xlat { port: 40002, ..X };
    assert_eq!(
        t.record_first(key(1), y, first(), SEC),
        Err(FragDrop::Conflict)
    );
    assert_eq!(t.peek(&key(1)), Some(X), "the first recorded wins");
    // Once the lifetime is over (not yet reclaimed), a new datagram reusing the ident wins.
    t.record_first(key(1), y, first(), 2 * SEC).unwrap();
    assert_eq!(t.peek(&key(1)), Some(y));
    assert_eq!(t.expire(3 * SEC, 8, |_| {}), 0, "lifetime restarted");
}

#[test]
fn hold_after_record_is_refused() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), 0).unwrap();
    assert_eq!(
        t.hold(key(1), 5, middle(), 0),
        Err((5, FragDrop::AlreadyRecorded))
    );
}

/// A duplicated non-first fragment is counted twice, so the entry completes early; the real
/// last fragment then finds no entry and is held until it times out (documented trade-off).
#[test]
fn duplicated_middle_fragment_completes_early() {
    let mut t = table(FragParams::default());
    t.record_first(key(1), X, first(), 0).unwrap();
    let dup_last = FragInfo {
        offset: 1480,
        len: 1520,
        more: false,
    };
    assert_eq!(t.lookup(&key(1), middle()), Some(X));
    assert_eq!(t.lookup(&key(1), middle()), Some(X));
    assert_eq!(t.len(), 1, "total unknown until the last fragment");
    assert_eq!(t.lookup(&key(1), dup_last), Some(X));
    assert!(t.is_empty());
}

/// A first fragment that is the whole datagram (caller misuse) does not leak an entry.
#[test]
fn unfragmented_first_is_complete_at_once() {
    let mut t = table(FragParams::default());
    t.record_first(
        key(1),
        X,
        FragInfo {
            offset: 0,
            len: 100,
            more: false,
        },
        0,
    )
    .unwrap();
    assert!(t.is_empty());
}

// ---- No allocation after new -------------------------------------------------------------------

/// Churn far beyond the capacity with most entries live: no allocation, ever (hashbrown only
/// rehashes in place because the map has twice the entries' capacity).
#[test]
fn no_allocation_after_new() {
    let p = FragParams {
        timeout_ns: 2 * SEC,
        max_datagrams: 896,
        max_held_per_datagram: 4,
        max_held_total: 64,
    };
    let mut t = table(p);
    let before = allocations();
    let mut now = 0u64;
    let mut next = 0u32;
    for round in 0..300_000u32 {
        // 500 datagrams/s for 2 s: the table (896 = 7/8 of 1024 hash buckets, the worst case
        // for tombstones) stays nearly full. Sized at 896 instead of 2 x 896, hashbrown
        // reallocates within this loop; this test catches that.
        now += 2_000_000;
        let k = FragKey {
            src: 0x0a00_0000 | (next & 0xffff),
            dst: next.rotate_left(7),
            proto: 17,
            ident: u16::try_from(next & 0xffff).unwrap(),
        };
        next = next.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if round % 3 == 0 {
            let _ = t.hold(k, round, middle(), now);
        } else {
            let _ = t.record_first(k, X, first(), now);
            t.drain_held(&k, |_| {});
        }
        t.expire(now, 8, |_| {});
    }
    assert!(t.len() > 500, "the table was kept busy: {}", t.len());
    assert_eq!(allocations() - before, 0, "allocated after new");
}

// ---- Conservation ------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    First(u16, u8, u16, bool),
    NonFirst(u16, u16, u16, bool),
    Advance(u16),
    Expire(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u16..6, 0u8..3, 1u16..3000, any::<bool>()).prop_map(|(k, v, l, m)| Op::First(k, v, l, m)),
        (0u16..6, 1u16..400, 1u16..1500, any::<bool>())
            .prop_map(|(k, o, l, m)| Op::NonFirst(k, o, l, m)),
        (0u16..3000).prop_map(Op::Advance),
        (0u8..4).prop_map(Op::Expire),
    ]
}

proptest! {
    /// Every buffer handed to the table comes back exactly once — translated, released by
    /// drain, refused, or dropped by expiry — and the counters agree with the contents.
    #[test]
    fn every_buffer_comes_back_exactly_once(ops in proptest::collection::vec(op(), 1..200)) {
        let mut t = table(small());
        let mut now = 0u64;
        let mut id = 0u32;
        let mut given = BTreeSet::new();
        let mut back = Vec::new();
        for o in ops {
            match o {
                Op::First(k, v, len, more) => {
                    let x = Xlat { port: u16::from(v), ..X };
                    let info = FragInfo { offset: 0, len, more };
                    if t.record_first(key(k), x, info, now).is_ok() {
                        t.drain_held(&key(k), |b| back.push(b));
                    }
                }
                Op::NonFirst(k, off, len, more) => {
                    id += 1;
                    given.insert(id);
                    let info = FragInfo { offset: u32::from(off) * 8, len, more };
                    match t.non_first(key(k), id, info, now) {
                        NonFirst::Translate(b, _) | NonFirst::Drop(b, _) => back.push(b),
                        NonFirst::Held => {}
                    }
                }
                Op::Advance(ms) => now += u64::from(ms) * MS,
                Op::Expire(budget) => {
                    t.expire(now, usize::from(budget), |b| back.push(b));
                }
            }
            prop_assert!(t.held() <= 3);
            prop_assert!(t.len() <= 4);
            let per_key: u16 = (0..6).map(|k| t.held_for(&key(k))).sum();
            prop_assert_eq!(per_key, t.held());
        }
        t.expire(u64::MAX, usize::MAX, |b| back.push(b));
        prop_assert!(t.is_empty());
        prop_assert_eq!(t.held(), 0);
        let n = back.len();
        let back: BTreeSet<u32> = back.into_iter().collect();
        prop_assert_eq!(n, back.len(), "a buffer came back twice");
        prop_assert_eq!(back, given);
    }
}

// ---- Header helpers ----------------------------------------------------------------------------

fn fragment_header(offset_units: u16, more: bool, payload: u16) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        payload,
        63,
        IpNumber::UDP,
        [100, 64, 0, 2],
        [198, 51, 100, 2],
    )
    .unwrap();
    h.dont_fragment = false;
    h.more_fragments = more;
    h.fragment_offset = IpFragOffset::try_new(offset_units).unwrap();
    h.identification = 0xbeef;
    h.header_checksum = h.calc_header_checksum();
    let mut v = Vec::new();
    h.write(&mut v).unwrap();
    v.resize(v.len() + usize::from(payload), 0x5a);
    v
}

#[test]
fn key_and_info_from_headers() {
    let v = fragment_header(185, true, 1480);
    assert_eq!(
        FragKey::of_ipv4(&v),
        Some(FragKey {
            src: 0x6440_0002,
            dst: 0xc633_6402,
            proto: 17,
            ident: 0xbeef
        })
    );
    assert_eq!(
        FragInfo::of_ipv4(&v),
        Some(FragInfo {
            offset: 1480,
            len: 1480,
            more: true
        })
    );
    assert!(!FragInfo::of_ipv4(&v).unwrap().is_first());
    assert!(FragInfo::of_ipv4(&fragment_header(0, true, 8))
        .unwrap()
        .is_first());
    assert_eq!(FragKey::of_ipv4(&v[..19]), None);
    assert_eq!(FragInfo::of_ipv4(&v[..19]), None);
    let mut bad = v.clone();
    bad[2] = 0;
    bad[3] = 10; // total length below IHL
    assert_eq!(FragInfo::of_ipv4(&bad), None);
}

#[test]
fn translate_fragment_addresses_with_incremental_checksum() {
    for (src, dst) in [
        (Some(0xcb00_7105), None),
        (None, Some(0x6440_0009)),
        (Some(1), Some(u32::MAX)),
        (None, None),
    ] {
        let mut v = fragment_header(185, false, 40);
        let payload = v[20..].to_vec();
        assert!(translate_fragment_addr(&mut v, src, dst));
        let h = etherparse::Ipv4HeaderSlice::from_slice(&v)
            .unwrap()
            .to_header();
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        assert_eq!(u32::from_be_bytes(h.source), src.unwrap_or(0x6440_0002));
        assert_eq!(
            u32::from_be_bytes(h.destination),
            dst.unwrap_or(0xc633_6402)
        );
        assert_eq!(&v[20..], &payload[..], "payload untouched");
    }
    assert!(!translate_fragment_addr(&mut [0u8; 19], Some(1), None));
}
