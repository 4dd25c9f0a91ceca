//! Live configuration: a snapshot applied between bursts changes behaviour for new and
//! existing state without dropping anything; a snapshot that needs a restart changes nothing.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use dataplane::live::LiveError;
use dataplane::timeouts::PortTimeout;
use dataplane::{DropReason, Event, Side, WorkerConfig};

fn flow(h: &mut Harness, sport: u16) -> Vec<u8> {
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, sport, SERVER, 53, 64, b"q"),
    )
    .only_outside()
}

#[test]
fn shorter_udp_timeout_applies_to_existing_bindings() {
    let mut h = Harness::lab();
    flow(&mut h, 5000);
    let mut l = h.w.live();
    l.timeouts.udp = 120;
    h.w.apply_live(&l).unwrap();
    h.now += 125 * SEC;
    h.poll();
    assert_eq!(h.w.counters().event(Event::BindingExpired), 1);
    assert_eq!(h.w.counters().event(Event::ConfigApplied), 1);
}

#[test]
fn lower_session_limit_refuses_new_flows_and_keeps_existing_ones() {
    let mut h = Harness::lab();
    let f1 = flow(&mut h, 5000);
    flow(&mut h, 5001);
    let mut l = h.w.live();
    l.max_sessions_per_subscriber = 2;
    h.w.apply_live(&l).unwrap();
    let o = h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5002, SERVER, 53, 64, b"q"),
    );
    assert!(o.outside.is_empty());
    assert_eq!(h.drops(DropReason::SessionLimit), 1);
    // The existing mapping still works both ways.
    let (pa, pp) = src_of(&f1);
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pa, pp, 64, b"a"),
        )
        .only_inside();
    assert_eq!(dst_of(&back), (SUB1, 5000));
}

#[test]
fn session_logging_switched_on_live() {
    let mut h = Harness::lab();
    flow(&mut h, 5000);
    let mut l = h.w.live();
    l.session_log.enabled = true;
    h.w.apply_live(&l).unwrap();
    h.w.drain_events(|_| {});
    flow(&mut h, 5001);
    let mut created = 0;
    h.w.drain_events(|e| {
        if matches!(e, dataplane::events::WorkerEvent::SessionCreated { .. }) {
            created += 1;
        }
    });
    assert_eq!(created, 1);
}

#[test]
fn changed_port_override_list_is_refused_and_changes_nothing() {
    let mut c = WorkerConfig::lab_default();
    c.timeouts.per_port = vec![PortTimeout {
        proto: 17,
        port: 53,
        secs: 30,
    }];
    let mut h = Harness::new(c);
    h.resolve_neighbors();
    let before = h.w.live();
    let mut l = before.clone();
    l.timeouts.per_port[0].port = 54;
    l.timeouts.udp = 999;
    assert_eq!(h.w.apply_live(&l), Err(LiveError::PortOverridesChanged));
    assert_eq!(h.w.live(), before);
    assert_eq!(h.w.counters().event(Event::ConfigRejected), 1);
    // Changing only the override's value is live.
    let mut l = before.clone();
    l.timeouts.per_port[0].secs = 10;
    h.w.apply_live(&l).unwrap();
    assert_eq!(h.w.live().timeouts.per_port[0].secs, 10);
}
