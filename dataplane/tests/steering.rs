//! Several workers, in memory: every subscriber's flows stay on one worker, return traffic,
//! ICMP errors, echo replies and fragments reach it, ARP is learned everywhere, hairpinning
//! crosses workers; full handoff queues are counted drops.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use dataplane::steer::{port_owner, subscriber_owner, SteerMode};
use dataplane::{DropReason, Event, Side, Tx, VecAlloc, VecBuf, Worker, WorkerConfig};

/// Workers wired to each other the way the daemon's handoff rings wire them.
struct Cluster {
    ws: Vec<Worker<VecBuf>>,
    tx: Vec<Tx<VecBuf>>,
    alloc: VecAlloc,
    now: u64,
}

/// Frames sent, with the worker that sent them.
#[derive(Debug, Default)]
struct Sent {
    inside: Vec<(u16, Vec<u8>)>,
    outside: Vec<(u16, Vec<u8>)>,
}

impl Cluster {
    fn new(n: u16, tweak: impl Fn(&mut WorkerConfig)) -> Self {
        let ws = (0..n)
            .map(|i| {
                let mut c = WorkerConfig::lab_default();
                c.worker_id = i;
                c.n_workers = n;
                c.seed ^= u64::from(i) << 32;
                tweak(&mut c);
                Worker::new(c)
            })
            .collect();
        Self {
            ws,
            tx: (0..n).map(|_| Tx::with_capacity(1024)).collect(),
            alloc: VecAlloc::default(),
            now: SEC,
        }
    }

    /// Resolves the outside next hop and the subscribers `subs` through ARP requests that all
    /// arrive on worker 0 (the others learn from the copies).
    fn resolve(&mut self, subs: &[[u8; 4]]) {
        self.send(0, Side::Outside, &arp_request(NH_MAC, SERVER, OUT_ADDR));
        for &s in subs {
            self.send(0, Side::Inside, &arp_request(SUB_MAC, s, IN_ADDR));
        }
    }

    /// `frame` arrives on worker `at`'s queue of `side`; handoffs are delivered until every
    /// outbox is empty (as the poll loops would).
    fn send(&mut self, at: u16, side: Side, frame: &[u8]) -> Sent {
        let i = usize::from(at);
        self.ws[i].process(
            side,
            VecBuf::from_frame(frame),
            self.now,
            &mut self.tx[i],
            &mut self.alloc,
        );
        self.settle()
    }

    fn settle(&mut self) -> Sent {
        for _round in 0..8 {
            let mut moved = Vec::new();
            for (from, w) in self.ws.iter_mut().enumerate() {
                for to in 0..self.tx.len() {
                    if let Some(q) = w.outbox().queue(u16::try_from(to).unwrap()) {
                        for b in q.drain(..) {
                            assert_ne!(from, to, "a worker handed a frame to itself");
                            moved.push((to, b));
                        }
                    }
                }
            }
            if moved.is_empty() {
                break;
            }
            for (to, b) in moved {
                self.ws[to].process_handoff(b, self.now, &mut self.tx[to], &mut self.alloc);
            }
        }
        let mut s = Sent::default();
        for (i, t) in self.tx.iter_mut().enumerate() {
            let w = u16::try_from(i).unwrap();
            s.inside.extend(t.inside.drain(..).map(|b| (w, b.to_vec())));
            s.outside
                .extend(t.outside.drain(..).map(|b| (w, b.to_vec())));
        }
        s
    }

    fn ev(&self, w: u16, e: Event) -> u64 {
        self.ws[usize::from(w)].counters().event(e)
    }

    fn total(&self, e: Event) -> u64 {
        self.ws.iter().map(|w| w.counters().event(e)).sum()
    }

    fn drops(&self, r: DropReason) -> u64 {
        self.ws.iter().map(|w| w.counters().dropped(r)).sum()
    }
}

fn sub(i: u8) -> [u8; 4] {
    [100, 64, 1, i]
}

fn one(frames: Vec<(u16, Vec<u8>)>) -> (u16, Vec<u8>) {
    assert_eq!(frames.len(), 1, "expected one frame, got {frames:?}");
    frames.into_iter().next().unwrap()
}

/// Sends one UDP packet from `s` arriving on worker `at`; returns (worker that translated it,
/// the translated frame).
fn out_udp(c: &mut Cluster, at: u16, s: [u8; 4], sport: u16) -> (u16, Vec<u8>) {
    let f = udp(SUB_MAC, IN_MAC, s, sport, REMOTE, 53, 64, b"query");
    let sent = c.send(at, Side::Inside, &f);
    assert!(sent.inside.is_empty());
    one(sent.outside)
}

#[test]
fn every_subscriber_stays_on_one_worker_and_its_blocks() {
    for n in [2u16, 3] {
        let subs: Vec<[u8; 4]> = (10..50).map(sub).collect();
        let mut c = Cluster::new(n, |_| {});
        c.resolve(&subs);
        for (k, &s) in subs.iter().enumerate() {
            let owner = subscriber_owner(ip(s), n);
            for flow in 0..4u16 {
                // Frames of one subscriber arrive on every worker's queue in turn.
                let at = u16::try_from(k).unwrap().wrapping_add(flow) % n;
                let (w, f) = out_udp(&mut c, at, s, 40_000 + flow);
                assert_eq!(
                    w, owner,
                    "subscriber {s:?} translated on worker {w}, owner {owner}"
                );
                let (pub_ip, pub_port) = src_of(&f);
                assert!(in_pool(pub_ip));
                assert_eq!(port_owner(pub_port, 1024, 65535, 512, n), Some(owner));
                assert_checksums_ok(&f);
            }
        }
        // Each worker holds state only for the subscribers it owns.
        for w in 0..n {
            let owned = subs
                .iter()
                .filter(|&&s| subscriber_owner(ip(s), n) == w)
                .count();
            assert_eq!(
                c.ws[usize::from(w)].subscribers(),
                owned,
                "worker {w} of {n}"
            );
            assert_eq!(
                c.ws[usize::from(w)].bindings(),
                u32::try_from(owned * 4).unwrap()
            );
        }
        assert!(c.total(Event::HandoffInside) > 0);
        assert!(c.total(Event::SteerLocal) > 0);
        assert_eq!(
            c.total(Event::HandoffInside),
            c.total(Event::HandoffReceived) - c.total(Event::HandoffArp)
        );
    }
}

#[test]
fn return_traffic_reaches_the_owner_from_any_queue() {
    let mut c = Cluster::new(2, |_| {});
    let s = sub(7);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let other = 1 - owner;
    let (_, f) = out_udp(&mut c, owner, s, 5000);
    let (pub_ip, pub_port) = src_of(&f);
    // The reply lands on the other worker's queue (no NIC steering).
    let reply = udp(NH_MAC, OUT_MAC, REMOTE, 53, pub_ip, pub_port, 60, b"answer");
    let sent = c.send(other, Side::Outside, &reply);
    assert!(sent.outside.is_empty());
    let (w, back) = one(sent.inside);
    assert_eq!(w, owner);
    assert_eq!(dst_of(&back), (s, 5000));
    assert_eq!(src_of(&back), (REMOTE, 53));
    assert_checksums_ok(&back);
    assert_eq!(c.ev(other, Event::HandoffOutside), 1);
    // Landing on the owner's queue directly is counted as such.
    let sent = c.send(owner, Side::Outside, &reply);
    assert_eq!(one(sent.inside).0, owner);
    assert_eq!(c.ev(owner, Event::HandoffOutside), 0);
    assert!(c.ev(owner, Event::SteerLocal) >= 1);
}

#[test]
fn icmp_error_is_steered_by_its_embedded_header() {
    let mut c = Cluster::new(2, |_| {});
    let s = sub(9);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let (_, f) = out_udp(&mut c, owner, s, 6000);
    let (pub_ip, _) = src_of(&f);
    // Port unreachable from the remote, quoting the translated datagram.
    let quoted = &ip_part(&f)[..28];
    let h = etherparse::Ipv4Header {
        protocol: etherparse::IpNumber::ICMP,
        source: REMOTE,
        destination: pub_ip,
        time_to_live: 60,
        ..Default::default()
    };
    let err = icmp_with(NH_MAC, OUT_MAC, h, 3, 3, [0; 4], quoted);
    let sent = c.send(1 - owner, Side::Outside, &err);
    let (w, back) = one(sent.inside);
    assert_eq!(w, owner);
    assert_eq!(&back[30..34], &s);
    assert_eq!(c.ev(owner, Event::IcmpErrorIn), 1);
}

#[test]
fn echo_reply_is_steered_by_its_identifier() {
    let mut c = Cluster::new(2, |_| {});
    let s = sub(11);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let req = echo(SUB_MAC, IN_MAC, s, REMOTE, 64, true, 0x1234, 1);
    let (w, out) = one(c.send(1 - owner, Side::Inside, &req).outside);
    assert_eq!(w, owner);
    let (pub_ip, pub_id) = echo_src_of(&out);
    let rep = echo(NH_MAC, OUT_MAC, REMOTE, pub_ip, 60, false, pub_id, 1);
    let (w, back) = one(c.send(1 - owner, Side::Outside, &rep).inside);
    assert_eq!(w, owner);
    assert_eq!(&back[30..34], &s);
}

#[test]
fn fragments_follow_the_first_fragment_even_when_it_comes_last() {
    let mut c = Cluster::new(2, |_| {});
    let s = sub(13);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let (_, f) = out_udp(&mut c, owner, s, 7000);
    let (pub_ip, pub_port) = src_of(&f);
    let payload = vec![0xabu8; 1200];
    let reply = udp(NH_MAC, OUT_MAC, REMOTE, 53, pub_ip, pub_port, 60, &payload);
    let frags = fragment(&reply, &[400, 800]);
    assert_eq!(frags.len(), 3);
    // Non-first fragments first, on different queues, then the first one.
    let mut got = Vec::new();
    for (at, fr) in [(0u16, &frags[2]), (1, &frags[1]), (0, &frags[0])] {
        let sent = c.send(at, Side::Outside, fr);
        assert!(sent.outside.is_empty());
        got.extend(sent.inside);
    }
    assert_eq!(got.len(), 3, "all three fragments delivered");
    for (w, fr) in &got {
        assert_eq!(*w, owner);
        assert_eq!(&fr[30..34], &s);
    }
    assert!(c.total(Event::FragmentSteerHeld) >= 1);
    // Later fragments of the same datagram go straight through.
    let frags2 = fragment(
        &udp(NH_MAC, OUT_MAC, REMOTE, 53, pub_ip, pub_port, 60, &payload),
        &[600],
    );
    let mut n = 0;
    for (i, fr) in frags2.iter().enumerate() {
        let mut fr = fr.clone();
        fr[18..20].copy_from_slice(&0x4242u16.to_be_bytes()); // new datagram id
        fix_ip_checksum(&mut fr);
        let sent = c.send(u16::try_from(i).unwrap() % 2, Side::Outside, &fr);
        for (w, _) in &sent.inside {
            assert_eq!(*w, owner);
        }
        n += sent.inside.len();
    }
    assert_eq!(n, 2);
}

fn fix_ip_checksum(fr: &mut [u8]) {
    fr[24..26].fill(0);
    let c = dataplane::checksum::checksum(&fr[14..34]);
    fr[24..26].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn every_worker_learns_arp_received_by_one() {
    let mut c = Cluster::new(3, |_| {});
    let subs: Vec<[u8; 4]> = (20..60).map(sub).collect();
    c.resolve(&subs);
    assert_eq!(c.ev(0, Event::HandoffArp), 2 * (1 + 40));
    // No worker needs to ARP for the next hop or a subscriber.
    for &s in &subs {
        let (_, f) = out_udp(&mut c, 0, s, 1111);
        let (pi, pp) = src_of(&f);
        let r = udp(NH_MAC, OUT_MAC, REMOTE, 53, pi, pp, 60, b"x");
        let _ = one(c.send(1, Side::Outside, &r).inside);
    }
    assert_eq!(c.total(Event::ArpRequestSent), 0);
    assert_eq!(c.total(Event::ArpHeld), 0);
    // Only the worker that received the requests answered them.
    assert_eq!(c.ev(0, Event::ArpReplySent), 41);
    assert_eq!(
        c.ev(1, Event::ArpReplySent) + c.ev(2, Event::ArpReplySent),
        0
    );
}

#[test]
fn hairpinning_crosses_workers() {
    let mut c = Cluster::new(2, |_| {});
    // Two subscribers owned by different workers.
    let a = (30..90)
        .map(sub)
        .find(|&s| subscriber_owner(ip(s), 2) == 0)
        .unwrap();
    let b = (30..90)
        .map(sub)
        .find(|&s| subscriber_owner(ip(s), 2) == 1)
        .unwrap();
    c.resolve(&[a, b]);
    let (_, fb) = out_udp(&mut c, 1, b, 9000);
    let (b_pub, b_port) = src_of(&fb);
    let f = udp(SUB_MAC, IN_MAC, a, 9100, b_pub, b_port, 64, b"hello b");
    let sent = c.send(0, Side::Inside, &f);
    assert!(sent.outside.is_empty());
    let (w, got) = one(sent.inside);
    assert_eq!(w, 1, "the inbound half runs on b's worker");
    assert_eq!(dst_of(&got), (b, 9000));
    let (a_src, _) = src_of(&got);
    assert!(in_pool(a_src), "b sees a's public address");
    assert_checksums_ok(&got);
    assert_eq!(c.ev(0, Event::HandoffHairpin), 1);
    assert_eq!(c.ev(1, Event::Hairpinned), 1);
}

#[test]
fn nic_steered_inside_is_trusted_and_counted() {
    let mut c = Cluster::new(2, |w| w.steering.inside = SteerMode::Nic);
    let s = sub(5);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    // The NIC put it on the "wrong" queue by our hash: with NIC steering that queue owns it.
    let (w, _) = out_udp(&mut c, 1 - owner, s, 1234);
    assert_eq!(w, 1 - owner);
    assert_eq!(c.ev(1 - owner, Event::SteerNicInside), 1);
    assert_eq!(c.total(Event::HandoffInside), 0);
}

#[test]
fn full_outbox_is_a_counted_drop() {
    let mut c = Cluster::new(2, |w| w.steering.outbox = 2);
    let s = sub(3);
    c.resolve(&[s]);
    let other = 1 - subscriber_owner(ip(s), 2);
    let i = usize::from(other);
    for p in 0..5u16 {
        let f = udp(SUB_MAC, IN_MAC, s, 100 + p, REMOTE, 53, 64, b"q");
        c.ws[i].process(
            Side::Inside,
            VecBuf::from_frame(&f),
            c.now,
            &mut c.tx[i],
            &mut c.alloc,
        );
    }
    assert_eq!(c.ev(other, Event::HandoffInside), 2);
    assert_eq!(c.drops(DropReason::HandoffQueueFull), 3);
    let sent = c.settle();
    assert_eq!(sent.outside.len(), 2);
}

#[test]
fn single_worker_never_hands_off() {
    let mut c = Cluster::new(1, |_| {});
    let s = sub(8);
    c.resolve(&[s]);
    let (w, _) = out_udp(&mut c, 0, s, 1);
    assert_eq!(w, 0);
    assert_eq!(c.total(Event::HandoffArp) + c.total(Event::SteerLocal), 0);
}

#[test]
fn nic_steered_outside_is_counted_and_still_checked() {
    let mut c = Cluster::new(2, |w| w.steering.outside = SteerMode::Nic);
    let s = sub(6);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let (_, f) = out_udp(&mut c, owner, s, 4321);
    let (pa, pp) = src_of(&f);
    let reply = udp(NH_MAC, OUT_MAC, REMOTE, 53, pa, pp, 60, b"a");
    // The rte_flow rules put it on the owner's queue: counted as NIC-steered.
    let (w, _) = one(c.send(owner, Side::Outside, &reply).inside);
    assert_eq!(w, owner);
    assert_eq!(c.ev(owner, Event::SteerNicOutside), 1);
    // What the rules cannot match (an echo reply lands on queue 0, say) is still handed over.
    let req = echo(SUB_MAC, IN_MAC, s, REMOTE, 64, true, 7, 1);
    let (_, out) = one(c.send(owner, Side::Inside, &req).outside);
    let (ea, eid) = echo_src_of(&out);
    let rep = echo(NH_MAC, OUT_MAC, REMOTE, ea, 60, false, eid, 1);
    let (w, _) = one(c.send(1 - owner, Side::Outside, &rep).inside);
    assert_eq!(w, owner);
    assert_eq!(c.ev(1 - owner, Event::HandoffOutside), 1);
}

/// A PPTP control message (RFC 2637 §1.4) with `fields` at their offsets.
fn pptp_msg(kind: u16, len: usize, fields: &[(usize, u16)]) -> Vec<u8> {
    let mut m = vec![0u8; len];
    m[0..2].copy_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    m[2..4].copy_from_slice(&1u16.to_be_bytes());
    m[4..8].copy_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
    m[8..10].copy_from_slice(&kind.to_be_bytes());
    for &(at, v) in fields {
        m[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    m
}

#[allow(clippy::too_many_arguments)]
fn pptp_seg(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let (smac, dmac) = if in_pool(dst) {
        (NH_MAC, OUT_MAC)
    } else {
        (SUB_MAC, IN_MAC)
    };
    let mut b = etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64240);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn gre_frame(src: [u8; 4], dst: [u8; 4], call_id: u16) -> Vec<u8> {
    let (smac, dmac) = if in_pool(dst) {
        (NH_MAC, OUT_MAC)
    } else {
        (SUB_MAC, IN_MAC)
    };
    let mut g = vec![0x30, 0x01, 0x88, 0x0b, 0, 2];
    g.extend_from_slice(&call_id.to_be_bytes());
    g.extend_from_slice(&[0, 0, 0, 1, 0xff, 0x03]);
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, 64)
        .write(&mut v, etherparse::IpNumber(47), &g)
        .unwrap();
    v
}

#[test]
fn pptp_gre_is_steered_by_its_public_call_id() {
    let mut c = Cluster::new(2, |w| {
        w.alg.pptp = dataplane::alg_glue::AlgPorts::new(true, &[1723]);
    });
    let s = sub(9);
    c.resolve(&[s]);
    let owner = subscriber_owner(ip(s), 2);
    let other = 1 - owner;
    // Every inside frame lands on the other worker's queue; every outside one too.
    let syn = pptp_seg(s, 40000, SERVER, 1723, 100, None, true, b"");
    let (_, out) = one(c.send(other, Side::Inside, &syn).outside);
    let (pub_ip, pub_port) = src_of(&out);
    let sa = pptp_seg(SERVER, 1723, pub_ip, pub_port, 900, Some(101), true, b"");
    one(c.send(other, Side::Outside, &sa).inside);
    let sccrq = pptp_msg(1, 156, &[]);
    let f = pptp_seg(s, 40000, SERVER, 1723, 101, Some(901), false, &sccrq);
    one(c.send(other, Side::Inside, &f).outside);
    let sccrp = pptp_msg(2, 156, &[(14, 0x0100)]);
    let f = pptp_seg(
        SERVER,
        1723,
        pub_ip,
        pub_port,
        901,
        Some(257),
        false,
        &sccrp,
    );
    one(c.send(other, Side::Outside, &f).inside);
    let ocrq = pptp_msg(7, 168, &[(12, 0x0001)]);
    let f = pptp_seg(s, 40000, SERVER, 1723, 257, Some(1057), false, &ocrq);
    let (w, sent) = one(c.send(other, Side::Inside, &f).outside);
    assert_eq!(w, owner);
    let l4 = &sent[14 + 20 + 20..];
    let public = u16::from_be_bytes([l4[12], l4[13]]);
    // The public Call ID belongs to one of the owner's blocks, like its ports.
    assert_eq!(port_owner(public, 1024, 65535, 512, 2), Some(owner));
    let ocrp = pptp_msg(8, 32, &[(12, 0x5001), (14, public), (16, 0x0100)]);
    let f = pptp_seg(
        SERVER,
        1723,
        pub_ip,
        pub_port,
        1057,
        Some(425),
        false,
        &ocrp,
    );
    one(c.send(other, Side::Outside, &f).inside);
    // GRE from the server to the public Call ID, on the wrong queue: handed to the owner,
    // translated back to the subscriber's own Call ID.
    let sent = c.send(other, Side::Outside, &gre_frame(SERVER, pub_ip, public));
    let (w, back) = one(sent.inside);
    assert_eq!(w, owner);
    assert_eq!(&back[30..34], &s);
    assert_eq!(&back[14 + 20 + 6..14 + 20 + 8], &1u16.to_be_bytes());
    assert_checksums_ok(&back);
    // GRE from the subscriber on the wrong queue: translated by the owner.
    let (w, out) = one(c
        .send(other, Side::Inside, &gre_frame(s, SERVER, 0x5001))
        .outside);
    assert_eq!(w, owner);
    assert_eq!(&out[26..30], &pub_ip);
    assert_eq!(&out[14 + 20 + 6..14 + 20 + 8], &0x5001u16.to_be_bytes());
}
