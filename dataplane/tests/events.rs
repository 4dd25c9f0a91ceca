//! Control-plane events from the worker: port-block allocation and release (natEvent 16/17)
//! and exhaustion (natEvent 12/3/13), bounded and rate limited.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use dataplane::events::WorkerEvent;
use dataplane::{Side, WorkerConfig};

fn events(h: &mut Harness) -> Vec<WorkerEvent> {
    let mut v = vec![];
    h.w.drain_events(|e| v.push(e));
    v
}

#[test]
fn block_allocation_and_release_are_reported_with_the_block() {
    let mut h = Harness::lab();
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    let (pub_ip, pub_port) = src_of(&out);
    let ev = events(&mut h);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let WorkerEvent::BlockAllocated {
        subscriber,
        public,
        port_start,
        port_end,
        at_s,
    } = ev[0]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(subscriber, ip(SUB1));
    assert_eq!(public, ip(pub_ip));
    assert_eq!(port_end - port_start, 511);
    assert!((port_start..=port_end).contains(&pub_port));
    assert_eq!(at_s, 1);
    // A second flow in the same block: no new event.
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5001, SERVER, 53, 64, b"q"),
    );
    assert!(events(&mut h).is_empty());
    // Expiry (300 s) plus hold-down (120 s): the block goes back, reported once.
    h.now += 302 * SEC;
    h.poll();
    assert!(events(&mut h).is_empty(), "still on hold-down");
    h.now += 122 * SEC;
    h.poll();
    let ev = events(&mut h);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        matches!(ev[0], WorkerEvent::BlockReleased { port_start: s, port_end: e, .. } if s == port_start && e == port_end)
    );
}

#[test]
fn exhaustion_is_reported_once_per_second() {
    let mut cfg = WorkerConfig::lab_default();
    cfg.block_size = 8;
    cfg.max_blocks_per_subscriber = 1;
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    for p in 0..8u16 {
        h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 1000 + p, SERVER, 53, 64, b"x"),
        );
    }
    events(&mut h);
    for p in 0..5u16 {
        h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 2000 + p, SERVER, 53, 64, b"x"),
        );
    }
    let ev = events(&mut h);
    assert_eq!(
        ev,
        vec![WorkerEvent::PortsExhausted {
            subscriber: ip(SUB1),
            at_s: 1
        }]
    );
    assert_eq!(h.w.events_lost(), (0, 4));
    h.now += SEC;
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 3000, SERVER, 53, 64, b"x"),
    );
    assert_eq!(events(&mut h).len(), 1);
}

fn session_events(h: &mut Harness) -> Vec<(bool, dataplane::events::SessionLog)> {
    events(h)
        .into_iter()
        .filter_map(|e| match e {
            WorkerEvent::SessionCreated { s, .. } => Some((true, s)),
            WorkerEvent::SessionDeleted { s, .. } => Some((false, s)),
            _ => None,
        })
        .collect()
}

fn logging_harness(prefixes: Vec<(u32, u8)>, destinations: bool) -> Harness {
    let mut c = WorkerConfig::lab_default();
    c.session_log = dataplane::nat::SessionLogPolicy {
        enabled: true,
        prefixes,
        destinations,
    };
    let mut h = Harness::new(c);
    h.resolve_neighbors();
    h
}

#[test]
fn per_session_logging_reports_tcp_sessions_with_destinations_when_enabled() {
    for destinations in [false, true] {
        let mut h = logging_harness(vec![], destinations);
        let out = h
            .send(
                Side::Inside,
                &tcp(SUB_MAC, IN_MAC, SUB1, 40000, REMOTE, 443, 64, true, b""),
            )
            .only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        let ev = session_events(&mut h);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let (created, s) = ev[0];
        assert!(created);
        assert_eq!(
            (s.proto, s.subscriber, s.sub_port, s.public, s.pub_port),
            (6, ip(SUB1), 40000, ip(pub_ip), pub_port)
        );
        let want_dest = destinations.then_some((ip(REMOTE), 443));
        assert_eq!(s.dest, want_dest);
        // The transitory SYN timeout (240 s) ends it: one delete with the same fields.
        h.now += 250 * SEC;
        h.poll();
        let ev = session_events(&mut h);
        assert_eq!(ev, vec![(false, s)]);
    }
}

#[test]
fn per_session_logging_reports_udp_mappings_and_honours_prefixes() {
    // Only SUB1 (100.64.0.2/32) is logged.
    let mut h = logging_harness(vec![(ip(SUB1), 32)], true);
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 64, b"q"),
    );
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB2, 5000, REMOTE, 53, 64, b"q"),
    );
    // A second destination on the same endpoint-independent mapping: no new session record.
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
    );
    let ev = session_events(&mut h);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0].0);
    assert_eq!(ev[0].1.subscriber, ip(SUB1));
    assert_eq!(ev[0].1.dest, Some((ip(REMOTE), 53)));
    h.now += 302 * SEC;
    h.poll();
    let ev = session_events(&mut h);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(!ev[0].0);
    assert_eq!(ev[0].1.subscriber, ip(SUB1));
    assert_eq!(ev[0].1.dest, None, "no per-destination state is kept");
}

#[test]
fn per_session_logging_off_reports_no_sessions() {
    let mut h = Harness::lab();
    h.send(
        Side::Inside,
        &tcp(SUB_MAC, IN_MAC, SUB1, 40000, REMOTE, 443, 64, true, b""),
    );
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 64, b"q"),
    );
    assert!(session_events(&mut h).is_empty());
}

#[test]
fn shutdown_releases_every_allocated_block() {
    let mut h = Harness::lab();
    for (s, p) in [(SUB1, 5000), (SUB2, 5000), (SUB1, 5001)] {
        h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, s, p, SERVER, 53, 64, b"q"),
        );
    }
    let allocated: Vec<_> = events(&mut h)
        .into_iter()
        .filter_map(|e| match e {
            WorkerEvent::BlockAllocated {
                subscriber,
                public,
                port_start,
                port_end,
                ..
            } => Some((subscriber, public, port_start, port_end)),
            _ => None,
        })
        .collect();
    assert_eq!(allocated.len(), 2);
    let mut released = vec![];
    h.w.shutdown_events(h.now, |e| match e {
        WorkerEvent::BlockReleased {
            subscriber,
            public,
            port_start,
            port_end,
            ..
        } => released.push((subscriber, public, port_start, port_end)),
        other => panic!("unexpected {other:?}"),
    });
    released.sort_unstable();
    let mut want = allocated;
    want.sort_unstable();
    assert_eq!(released, want);
}
