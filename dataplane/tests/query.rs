//! Control-plane queries (`dataplane::query`): listings in bounded steps that resume where a
//! full answer queue stopped them, clearing a subscriber, draining a public address, and the
//! per-protocol counts kept on every insert and removal.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use dataplane::query::{Progress, Query, QueryCursor, QueryFilter, QueryItem};
use dataplane::{DropReason, Side, WorkerConfig};

fn flows(h: &mut Harness) {
    for p in 0..5u16 {
        h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000 + p, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    }
    h.send(
        Side::Inside,
        &tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, true, b""),
    )
    .only_outside();
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB2, 6000, SERVER, 53, 64, b"q"),
    )
    .only_outside();
}

/// Runs `q` to completion with a queue that takes at most `room` items per step; returns
/// the items (without `Done`) and the number of steps.
fn run(h: &mut Harness, q: Query, budget: u32, room: usize) -> (Vec<QueryItem>, u32) {
    let mut cur = QueryCursor::new(q);
    let mut got = Vec::new();
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 1_000_000, "query never finished");
        let mut taken = 0;
        let p = h.w.query_step(&mut cur, h.now, budget, |it| {
            if taken == room {
                return false;
            }
            taken += 1;
            got.push(it);
            true
        });
        if p == Progress::Done {
            break;
        }
    }
    assert_eq!(got.pop(), Some(QueryItem::Done));
    (got, steps)
}

#[test]
fn bindings_are_listed_in_bounded_steps_and_resume_after_a_full_queue() {
    let mut h = Harness::lab();
    flows(&mut h);
    let cap = h.w.nat().bindings.capacity();
    // Budget 1024 slots per step: the walk takes cap / 1024 steps at least.
    let (all, steps) = run(&mut h, Query::Bindings(QueryFilter::default()), 1024, 1000);
    assert_eq!(all.len(), 7);
    assert!(steps >= cap / 1024, "{steps} steps for {cap} slots");
    // A queue of one item per step loses nothing and repeats nothing.
    let (one, _) = run(&mut h, Query::Bindings(QueryFilter::default()), 1 << 20, 1);
    assert_eq!(one, all);
    let f = QueryFilter {
        subscriber: Some(ip(SUB1)),
        proto: Some(6),
        ..Default::default()
    };
    let (tcp, _) = run(&mut h, Query::Bindings(f), 1 << 20, 100);
    assert_eq!(tcp.len(), 1);
    let QueryItem::Binding(b) = tcp[0] else {
        panic!("{tcp:?}")
    };
    assert_eq!((b.subscriber, b.inside_port, b.proto), (ip(SUB1), 40000, 6));
    assert_eq!(b.sessions, 1);
}

#[test]
fn sessions_list_tcp_sessions_and_udp_bindings_under_eif() {
    let mut h = Harness::lab();
    flows(&mut h);
    let f = QueryFilter {
        subscriber: Some(ip(SUB1)),
        ..Default::default()
    };
    let (s, _) = run(&mut h, Query::Sessions(f), 4096, 100);
    assert_eq!(s.len(), 6, "{s:?}");
    let tcp: Vec<_> = s
        .iter()
        .filter_map(|i| match i {
            QueryItem::Session(x) if x.binding.proto == 6 => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!((tcp[0].remote, tcp[0].remote_port), (ip(SERVER), 80));
    assert_eq!(h.w.nat().counts_by_protocol(), [[1, 1], [6, 0], [0, 0]]);
}

#[test]
fn clear_subscriber_removes_only_its_state() {
    let mut h = Harness::lab();
    flows(&mut h);
    let (r, _) = run(&mut h, Query::ClearSubscriber(ip(SUB1)), 512, 10);
    assert_eq!(
        r,
        vec![QueryItem::Cleared {
            sessions: 6,
            bindings: 6
        }]
    );
    assert_eq!(h.w.bindings(), 1);
    assert_eq!(h.w.sessions(), 0);
    assert_eq!(h.w.nat().counts_by_protocol(), [[0, 0], [1, 0], [0, 0]]);
    let (r, _) = run(&mut h, Query::ClearSubscriber(ip(SUB1)), 1 << 20, 10);
    assert_eq!(
        r,
        vec![QueryItem::Cleared {
            sessions: 0,
            bindings: 0
        }]
    );
    // The cleared subscriber's next packet gets a new binding.
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
    )
    .only_outside();
    assert_eq!(h.w.bindings(), 2);
}

#[test]
fn a_drained_address_gives_no_new_blocks_and_keeps_existing_bindings() {
    // One pool address with room for many blocks, and a second one.
    let mut c = WorkerConfig::lab_default();
    c.pool = vec![0xcb00_7101, 0xcb00_7102];
    let mut h = Harness::new(c);
    h.resolve_neighbors();
    let first = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    let (pub1, _) = src_of(&first);
    let (r, _) = run(
        &mut h,
        Query::Drain {
            public: ip(pub1),
            on: true,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::Drained(true)]);
    // Existing subscriber keeps its address and its block.
    let again = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5001, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    assert_eq!(src_of(&again).0, pub1);
    // A new subscriber never lands on the drained address.
    let other = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB2, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    assert_ne!(src_of(&other).0, pub1);
    assert_eq!(h.drops(DropReason::PoolExhausted), 0);
    let (r, _) = run(
        &mut h,
        Query::Drain {
            public: 0x0a00_0001,
            on: true,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::Drained(false)]);
}

#[test]
fn pool_addresses_added_live_serve_new_subscribers_and_leave_existing_ones_alone() {
    // One public address with a single block: the second subscriber finds the pool exhausted.
    let mut c = WorkerConfig::lab_default();
    c.pool = vec![0xcb00_7101];
    c.block_size = 64512;
    c.max_blocks_per_subscriber = 1;
    let mut h = Harness::new(c);
    h.resolve_neighbors();
    let first = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    let (pub1, port1) = src_of(&first);
    assert_eq!(pub1, [203, 0, 113, 1]);
    let _ = h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB2, 5000, SERVER, 53, 64, b"q"),
    );
    assert_eq!(h.drops(DropReason::PoolExhausted), 1);
    // The new address is not ours yet: no ARP answer for it.
    let who_has = arp_request(NH_MAC, SERVER, [203, 0, 113, 200]);
    assert!(h.send(Side::Outside, &who_has).is_empty());

    let (r, _) = run(
        &mut h,
        Query::AddPool {
            first: 0xcb00_71c8,
            last: 0xcb00_71c9,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::PoolAdded(Ok(2))]);
    // Adding the same range again adds nothing.
    let (r, _) = run(
        &mut h,
        Query::AddPool {
            first: 0xcb00_71c8,
            last: 0xcb00_71c8,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::PoolAdded(Ok(0))]);

    // The new subscriber now gets one of the new addresses, both ways.
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB2, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    let (pub2, port2) = src_of(&out);
    assert!(
        pub2 == [203, 0, 113, 200] || pub2 == [203, 0, 113, 201],
        "{pub2:?}"
    );
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pub2, port2, 64, b"a"),
        )
        .only_inside();
    assert_eq!(dst_of(&back), (SUB2, 5000));
    // The new addresses answer ARP on the outside.
    let reply = h.send(Side::Outside, &who_has).only_outside();
    assert_eq!(&reply[12..14], &[0x08, 0x06]);
    assert_eq!(&reply[28..32], &[203, 0, 113, 200]);
    // The existing subscriber keeps its address and port, both ways.
    let again = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    assert_eq!(src_of(&again), (pub1, port1));
    let back1 = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pub1, port1, 64, b"a"),
        )
        .only_inside();
    assert_eq!(dst_of(&back1), (SUB1, 5000));
    assert_eq!(h.drops(DropReason::PoolExhausted), 1);
}

#[test]
fn pool_additions_are_refused_in_deterministic_mode_and_when_too_large() {
    use dataplane::deterministic::DeterministicMap;
    use dataplane::port_block::AddError;
    let prefix = (0x6440_0000, 24);
    let pool: Vec<u32> = (1..=4).map(|i| 0xcb00_7100 + i).collect();
    let mut c = WorkerConfig::lab_default();
    c.subscribers = vec![prefix];
    c.deterministic = Some(DeterministicMap::new(&[prefix], &pool, 1024, 65535, None).unwrap());
    c.pool = pool;
    let mut d = Harness::new(c);
    let (r, _) = run(
        &mut d,
        Query::AddPool {
            first: 0xcb00_71c8,
            last: 0xcb00_71c8,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::PoolAdded(Err(AddError::Deterministic))]);
    assert!(!d.w.nat().is_pool_address(0xcb00_71c8));

    let mut h = Harness::lab();
    let (r, _) = run(
        &mut h,
        Query::AddPool {
            first: 0x0a00_0000,
            last: 0x0a01_0000,
        },
        1,
        10,
    );
    assert_eq!(r, vec![QueryItem::PoolAdded(Err(AddError::TooMany))]);
}
