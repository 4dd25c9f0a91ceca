//! PPTP ALG scenarios through the dataplane (PNS inside, PAC outside): control messages and
//! GRE v1 packets built here independently (RFC 2637 §1.4, §2, §4.1), exact frames compared.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use alg::pptp::{GreError, PptpError};
use common::*;
use dataplane::alg_glue::AlgPorts;
use dataplane::{DropReason, Event, Side, WorkerConfig};
use etherparse::PacketBuilder;

const PPTP: u16 = 1723;
const PUB: [u8; 4] = [203, 0, 113, 1];
const PNS_ISN: u32 = 1000;
const PAC_ISN: u32 = 7_000_000;

// Control Message Types and their fixed lengths (RFC 2637 §2.1 to §2.13).
const SCCRQ: (u16, usize) = (1, 156);
const SCCRP: (u16, usize) = (2, 156);
const OCRQ: (u16, usize) = (7, 168);
const OCRP: (u16, usize) = (8, 32);
const ICRQ: (u16, usize) = (9, 220);
const ICRP: (u16, usize) = (10, 24);
const ICCN: (u16, usize) = (11, 28);
const CCRQ: (u16, usize) = (12, 16);
const CDN: (u16, usize) = (13, 148);

/// A control message: Length, Message Type 1, Magic Cookie, Control Message Type, then
/// `fields` (offset, 16-bit value) and a filler so untouched bytes are checked too.
fn msg((kind, len): (u16, usize), fields: &[(usize, u16)]) -> Vec<u8> {
    let mut m: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
    m[0..2].copy_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    m[2..4].copy_from_slice(&1u16.to_be_bytes());
    m[4..8].copy_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
    m[8..10].copy_from_slice(&kind.to_be_bytes());
    m[10..12].copy_from_slice(&[0, 0]);
    for &(at, v) in fields {
        m[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    m
}

/// Start-Control-Connection-Reply, Outgoing-Call-Reply: Result Code 1 at offsets 14 and 16.
fn sccrp() -> Vec<u8> {
    msg(SCCRP, &[(12, 0x0100), (14, 0x0100)])
}
fn ocrq(call_id: u16) -> Vec<u8> {
    msg(OCRQ, &[(12, call_id), (14, 0x0007)])
}
fn ocrp(call_id: u16, peer: u16, result: u8) -> Vec<u8> {
    msg(
        OCRP,
        &[(12, call_id), (14, peer), (16, u16::from(result) << 8)],
    )
}

fn with_field(m: &[u8], at: usize, v: u16) -> Vec<u8> {
    let mut m = m.to_vec();
    m[at..at + 2].copy_from_slice(&v.to_be_bytes());
    m
}

fn field(m: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([m[at], m[at + 1]])
}

fn tcp_payload(frame: &[u8]) -> Vec<u8> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => t.payload().to_vec(),
        _ => panic!("not TCP"),
    }
}

/// An enhanced GRE data packet (RFC 2637 §4.1): K and S set, version 1, protocol 0x880B.
fn gre_header(call_id: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut g = vec![0x30, 0x01, 0x88, 0x0b];
    g.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    g.extend_from_slice(&call_id.to_be_bytes());
    g.extend_from_slice(&seq.to_be_bytes());
    g.extend_from_slice(payload);
    g
}

fn ip_frame(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    proto: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, ttl)
        .write(&mut v, etherparse::IpNumber(proto), l4)
        .unwrap();
    v
}

const PPP: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];

fn gre_out(sub: [u8; 4], pac_call: u16) -> Vec<u8> {
    ip_frame(
        SUB_MAC,
        IN_MAC,
        sub,
        SERVER,
        64,
        47,
        &gre_header(pac_call, 1, PPP),
    )
}
fn gre_out_want(pac_call: u16) -> Vec<u8> {
    ip_frame(
        OUT_MAC,
        NH_MAC,
        PUB,
        SERVER,
        63,
        47,
        &gre_header(pac_call, 1, PPP),
    )
}
fn gre_in(public_call: u16) -> Vec<u8> {
    ip_frame(
        NH_MAC,
        OUT_MAC,
        SERVER,
        PUB,
        64,
        47,
        &gre_header(public_call, 9, PPP),
    )
}
fn gre_in_want(sub: [u8; 4], inside_call: u16) -> Vec<u8> {
    ip_frame(
        IN_MAC,
        SUB_MAC,
        SERVER,
        sub,
        63,
        47,
        &gre_header(inside_call, 9, PPP),
    )
}

/// One public address (so two subscribers share it), PPTP on, a small ALG table (one poll
/// sweeps it all).
fn lab(enabled: bool) -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.pool = vec![ip(PUB)];
    cfg.alg.pptp = AlgPorts::new(enabled, &[PPTP]);
    cfg.alg.max_sessions = 16;
    cfg
}

fn harness(enabled: bool) -> Harness {
    let mut h = Harness::new(lab(enabled));
    h.resolve_neighbors();
    h
}

/// A PPTP control connection from `sub`:`cport` to SERVER:1723.
struct Ctl {
    sub: [u8; 4],
    cport: u16,
    pub_port: u16,
    pns_seq: u32,
    pac_seq: u32,
}

impl Ctl {
    /// TCP handshake only.
    fn connect(h: &mut Harness, sub: [u8; 4], cport: u16) -> Self {
        let syn = seg(
            SUB_MAC, IN_MAC, sub, cport, SERVER, PPTP, 64, PNS_ISN, None, true, b"",
        );
        let out = h.send(Side::Inside, &syn).only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        assert_eq!(pub_ip, PUB);
        let sa = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            PPTP,
            PUB,
            pub_port,
            64,
            PAC_ISN,
            Some(PNS_ISN + 1),
            true,
            b"",
        );
        h.send(Side::Outside, &sa).only_inside();
        Ctl {
            sub,
            cport,
            pub_port,
            pns_seq: PNS_ISN + 1,
            pac_seq: PAC_ISN + 1,
        }
    }

    /// Handshake and Start-Control-Connection request and reply.
    fn open(h: &mut Harness, sub: [u8; 4], cport: u16) -> Self {
        let mut c = Self::connect(h, sub, cport);
        let rq = msg(SCCRQ, &[(12, 0x0100)]);
        assert_eq!(tcp_payload(&c.pns(h, &rq).only_outside()), rq);
        let rp = sccrp();
        assert_eq!(tcp_payload(&c.pac(h, &rp).only_inside()), rp);
        c
    }

    /// The PNS sends `m`; returns what left (one frame expected unless held).
    fn pns(&mut self, h: &mut Harness, m: &[u8]) -> Out {
        let f = seg(
            SUB_MAC,
            IN_MAC,
            self.sub,
            self.cport,
            SERVER,
            PPTP,
            64,
            self.pns_seq,
            Some(self.pac_seq),
            false,
            m,
        );
        let out = h.send(Side::Inside, &f);
        if out.outside.len() == 1 {
            self.pns_seq += u32::try_from(m.len()).unwrap();
        }
        out
    }

    /// The PAC sends `m`.
    fn pac(&mut self, h: &mut Harness, m: &[u8]) -> Out {
        let f = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            PPTP,
            PUB,
            self.pub_port,
            64,
            self.pac_seq,
            Some(self.pns_seq),
            false,
            m,
        );
        let out = h.send(Side::Outside, &f);
        if out.inside.len() == 1 {
            self.pac_seq += u32::try_from(m.len()).unwrap();
        }
        out
    }

    /// The exact frame a PNS message `m` leaves as.
    fn out_want(&self, seq: u32, m: &[u8]) -> Vec<u8> {
        seg(
            OUT_MAC,
            NH_MAC,
            PUB,
            self.pub_port,
            SERVER,
            PPTP,
            63,
            seq,
            Some(self.pac_seq),
            false,
            m,
        )
    }

    /// The exact frame a PAC message `m` arrives inside as.
    fn in_want(&self, seq: u32, m: &[u8]) -> Vec<u8> {
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            PPTP,
            self.sub,
            self.cport,
            63,
            seq,
            Some(self.pns_seq),
            false,
            m,
        )
    }

    /// Places an outgoing call with inside Call ID `inside`, answered with PAC Call ID `pac`;
    /// checks both control frames exactly and returns the public Call ID.
    fn call(&mut self, h: &mut Harness, inside: u16, pac: u16) -> u16 {
        let rq = ocrq(inside);
        let seq = self.pns_seq;
        let sent = self.pns(h, &rq).only_outside();
        let public = field(&tcp_payload(&sent), 12);
        assert_eq!(sent, self.out_want(seq, &with_field(&rq, 12, public)));
        assert_ne!(public, inside);
        let rp = ocrp(pac, public, 1);
        let seq = self.pac_seq;
        let got = self.pac(h, &rp).only_inside();
        assert_eq!(got, self.in_want(seq, &with_field(&rp, 14, inside)));
        public
    }
}

fn gre_both_ways(h: &mut Harness, sub: [u8; 4], inside: u16, public: u16, pac: u16) {
    let out = h.send(Side::Inside, &gre_out(sub, pac)).only_outside();
    assert_eq!(out, gre_out_want(pac));
    assert_checksums_ok(&out);
    let got = h.send(Side::Outside, &gre_in(public)).only_inside();
    assert_eq!(got, gre_in_want(sub, inside));
    assert_checksums_ok(&got);
}

#[test]
fn two_subscribers_with_the_same_call_id_get_distinct_public_call_ids() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let mut b = Ctl::open(&mut h, SUB2, 40000);
    let pa = a.call(&mut h, 0x0100, 0x9001);
    let pb = b.call(&mut h, 0x0100, 0x9002);
    assert_ne!(pa, pb, "the server must see two different Call IDs");
    // Both public Call IDs come from the port range (they steer like ports).
    assert!(pa >= 1024 && pb >= 1024);
    gre_both_ways(&mut h, SUB1, 0x0100, pa, 0x9001);
    gre_both_ways(&mut h, SUB2, 0x0100, pb, 0x9002);
    let c = h.w.counters();
    assert_eq!(c.event(Event::AlgPptpSession), 2);
    assert_eq!(c.event(Event::AlgPptpCall), 2);
    assert_eq!(c.alg_pptp.rewrites, 4);
    assert_eq!(c.alg_pptp_gre.messages, 4);
    assert_eq!(c.alg_pptp_gre.rewrites, 2);
    assert_eq!(h.w.alg_pptp_calls(), 2);
}

#[test]
fn two_calls_in_one_control_connection_both_carry_gre() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p1 = a.call(&mut h, 0x0001, 0x5001);
    let p2 = a.call(&mut h, 0x0002, 0x5002);
    assert_ne!(p1, p2);
    gre_both_ways(&mut h, SUB1, 0x0001, p1, 0x5001);
    gre_both_ways(&mut h, SUB1, 0x0002, p2, 0x5002);
    assert_eq!(h.w.alg_pptp_calls(), 2);
}

#[test]
fn incoming_call_is_translated_when_connected() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    // ICRQ (PAC Call ID 0x7000) passes untouched; the PNS's ICRP gets a public Call ID.
    let rq = msg(ICRQ, &[(12, 0x7000), (14, 3)]);
    assert_eq!(tcp_payload(&a.pac(&mut h, &rq).only_inside()), rq);
    let rp = msg(ICRP, &[(12, 0x0042), (14, 0x7000), (16, 0x0100)]);
    let sent = tcp_payload(&a.pns(&mut h, &rp).only_outside());
    let public = field(&sent, 12);
    assert_eq!(sent, with_field(&rp, 12, public));
    // No GRE before Incoming-Call-Connected.
    h.send(Side::Outside, &gre_in(public));
    assert_eq!(h.drops(DropReason::GreNoCall), 1);
    let cn = msg(ICCN, &[(12, public)]);
    let got = tcp_payload(&a.pac(&mut h, &cn).only_inside());
    assert_eq!(got, with_field(&cn, 12, 0x0042));
    gre_both_ways(&mut h, SUB1, 0x0042, public, 0x7000);
}

#[test]
fn call_clear_and_disconnect_notify_remove_the_gre_translation() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p1 = a.call(&mut h, 0x0001, 0x5001);
    let p2 = a.call(&mut h, 0x0002, 0x5002);
    // Call-Clear-Request (PNS) names the call by the public Call ID at the PAC.
    let cc = msg(CCRQ, &[(12, 0x0001)]);
    let sent = tcp_payload(&a.pns(&mut h, &cc).only_outside());
    assert_eq!(sent, with_field(&cc, 12, p1));
    assert!(h.send(Side::Outside, &gre_in(p1)).is_empty());
    assert!(h.send(Side::Inside, &gre_out(SUB1, 0x5001)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 2);
    // The PAC confirms with Call-Disconnect-Notify: passed as is.
    let cdn = msg(CDN, &[(12, 0x5001)]);
    assert_eq!(tcp_payload(&a.pac(&mut h, &cdn).only_inside()), cdn);
    // The other call still works; a PAC-initiated Call-Disconnect-Notify removes it.
    gre_both_ways(&mut h, SUB1, 0x0002, p2, 0x5002);
    let cdn = msg(CDN, &[(12, 0x5002)]);
    assert_eq!(tcp_payload(&a.pac(&mut h, &cdn).only_inside()), cdn);
    assert!(h.send(Side::Outside, &gre_in(p2)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 3);
    let c = h.w.counters();
    assert_eq!(c.event(Event::AlgPptpCallRemoved), 2);
    assert_eq!(h.w.alg_pptp_calls(), 0);
}

#[test]
fn gre_translation_expires_when_idle() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p = a.call(&mut h, 0x0001, 0x5001);
    // 300 s (the default) without a packet: still there; a packet refreshes it.
    h.now += 300 * SEC;
    h.poll();
    h.resolve_neighbors(); // the neighbour cache aged too
    gre_both_ways(&mut h, SUB1, 0x0001, p, 0x5001);
    h.now += 301 * SEC;
    h.poll();
    assert_eq!(h.w.counters().event(Event::AlgPptpCallExpired), 1);
    assert!(h.send(Side::Outside, &gre_in(p)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 1);
}

#[test]
fn gre_timeout_is_configurable_live() {
    let mut h = harness(true);
    let mut l = h.w.live();
    l.alg.pptp_gre_timeout_secs = 30;
    h.w.apply_live(&l).unwrap();
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p = a.call(&mut h, 0x0001, 0x5001);
    h.now += 30 * SEC;
    h.poll();
    gre_both_ways(&mut h, SUB1, 0x0001, p, 0x5001);
    h.now += 31 * SEC;
    h.poll();
    assert_eq!(h.w.counters().event(Event::AlgPptpCallExpired), 1);
}

#[test]
fn closing_the_control_connection_removes_its_calls() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p = a.call(&mut h, 0x0001, 0x5001);
    // A SYN again on the same 4-tuple: the old connection (and its calls) are gone.
    let syn = seg(
        SUB_MAC, IN_MAC, SUB1, 40000, SERVER, PPTP, 64, 99, None, true, b"",
    );
    h.send(Side::Inside, &syn).only_outside();
    assert_eq!(h.w.counters().event(Event::AlgPptpCallRemoved), 1);
    assert!(h.send(Side::Outside, &gre_in(p)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 1);
}

#[test]
fn malformed_control_messages_are_counted_and_open_nothing() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    // An Outgoing-Call-Request whose Length is not the type's (160 instead of 168).
    let mut short = ocrq(0x0001);
    short.truncate(160);
    short[0..2].copy_from_slice(&160u16.to_be_bytes());
    assert_eq!(tcp_payload(&a.pns(&mut h, &short).only_outside()), short);
    // An unknown Control Message Type (16).
    let unknown = msg((16, 16), &[(12, 0x0001)]);
    assert_eq!(
        tcp_payload(&a.pns(&mut h, &unknown).only_outside()),
        unknown
    );
    // A reply naming no call (its Peer's Call ID is an inside one): passed, no GRE.
    let rp = ocrp(0x5001, 0x0001, 1);
    assert_eq!(tcp_payload(&a.pac(&mut h, &rp).only_inside()), rp);
    // An Outgoing-Call-Request sent by the PAC (wrong end): out of state.
    let wrong = ocrq(0x0003);
    assert_eq!(tcp_payload(&a.pac(&mut h, &wrong).only_inside()), wrong);
    let c = h.w.counters();
    assert_eq!(c.alg_pptp.failed(PptpError::BadLength), 1);
    assert_eq!(c.alg_pptp.failed(PptpError::UnknownType), 1);
    assert_eq!(c.alg_pptp.failed(PptpError::UnknownCall), 1);
    assert_eq!(c.alg_pptp.failed(PptpError::OutOfState), 1);
    assert_eq!(c.event(Event::AlgPptpCall), 0);
    assert_eq!(h.w.alg_pptp_calls(), 0);
    assert!(h.send(Side::Inside, &gre_out(SUB1, 0x5001)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 1);
}

#[test]
fn call_messages_before_start_control_connection_are_out_of_state() {
    let mut h = harness(true);
    let mut a = Ctl::connect(&mut h, SUB1, 40000);
    let rq = ocrq(0x0001);
    assert_eq!(tcp_payload(&a.pns(&mut h, &rq).only_outside()), rq);
    let rp = ocrp(0x5001, 0x0001, 1);
    assert_eq!(tcp_payload(&a.pac(&mut h, &rp).only_inside()), rp);
    assert_eq!(h.w.counters().alg_pptp.failed(PptpError::OutOfState), 2);
    assert_eq!(h.w.alg_pptp_calls(), 0);
    assert!(h.send(Side::Inside, &gre_out(SUB1, 0x5001)).is_empty());
    assert_eq!(h.drops(DropReason::GreNoCall), 1);
}

#[test]
fn a_split_call_id_is_held_and_the_retransmission_rewritten() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let rq = ocrq(0x0001);
    // Only the first 13 bytes: the Call ID is cut. Held (dropped) so the PNS retransmits.
    assert!(a.pns(&mut h, &rq[..13]).is_empty());
    assert_eq!(h.drops(DropReason::AlgHold), 1);
    assert_eq!(h.w.counters().alg_pptp.failed(PptpError::SplitMessage), 1);
    let pub_p = a.call(&mut h, 0x0001, 0x5001);
    gre_both_ways(&mut h, SUB1, 0x0001, pub_p, 0x5001);
}

#[test]
fn gre_other_than_pptp_is_dropped_with_its_reason() {
    let mut h = harness(true);
    let mut v0 = gre_header(0x1234, 1, PPP);
    v0[1] = 0x00; // version 0 (RFC 2784)
    let f = ip_frame(SUB_MAC, IN_MAC, SUB1, SERVER, 64, 47, &v0);
    assert!(h.send(Side::Inside, &f).is_empty());
    let mut ip = gre_header(0x1234, 1, PPP);
    ip[2..4].copy_from_slice(&[0x08, 0x00]);
    let f = ip_frame(NH_MAC, OUT_MAC, SERVER, PUB, 64, 47, &ip);
    assert!(h.send(Side::Outside, &f).is_empty());
    let f = ip_frame(NH_MAC, OUT_MAC, SERVER, PUB, 64, 47, &[0x30, 0x01, 0x88]);
    assert!(h.send(Side::Outside, &f).is_empty());
    assert_eq!(h.drops(DropReason::GreUnsupported), 3);
    let c = h.w.counters();
    assert_eq!(c.alg_pptp_gre.failed(GreError::BadVersion), 1);
    assert_eq!(c.alg_pptp_gre.failed(GreError::BadProtocol), 1);
    assert_eq!(c.alg_pptp_gre.failed(GreError::Truncated), 1);
    assert_eq!(h.drops(DropReason::UnsupportedProtocol), 0);
}

#[test]
fn gre_from_another_host_to_a_public_call_id_is_filtered() {
    let mut h = harness(true);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    let p = a.call(&mut h, 0x0001, 0x5001);
    let f = ip_frame(NH_MAC, OUT_MAC, REMOTE, PUB, 64, 47, &gre_header(p, 9, PPP));
    assert!(h.send(Side::Outside, &f).is_empty());
    assert_eq!(h.drops(DropReason::Filtered), 1);
}

#[test]
fn alg_off_by_default_drops_gre_and_is_switched_on_live() {
    let mut h = Harness::new(WorkerConfig {
        pool: vec![ip(PUB)],
        ..WorkerConfig::lab_default()
    });
    h.resolve_neighbors();
    assert!(!h.w.live().alg.pptp.enabled);
    assert_eq!(h.w.live().alg.pptp.ports(), &[PPTP]);
    assert_eq!(h.w.live().alg.pptp_gre_timeout_secs, 300);
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    // Not inspected: the Call ID reaches the server unchanged.
    let rq = ocrq(0x0001);
    assert_eq!(tcp_payload(&a.pns(&mut h, &rq).only_outside()), rq);
    let rp = ocrp(0x5001, 0x0001, 1);
    assert_eq!(tcp_payload(&a.pac(&mut h, &rp).only_inside()), rp);
    assert!(h.send(Side::Inside, &gre_out(SUB1, 0x5001)).is_empty());
    assert!(h.send(Side::Outside, &gre_in(0x0001)).is_empty());
    assert_eq!(h.drops(DropReason::GrePptpOff), 2);
    assert_eq!(h.w.counters().event(Event::AlgPptpSession), 0);
    // Switched on live: the next control connection gets the ALG.
    let mut l = h.w.live();
    l.alg.pptp = AlgPorts::new(true, &[PPTP]);
    h.w.apply_live(&l).unwrap();
    let mut b = Ctl::open(&mut h, SUB1, 40001);
    let p = b.call(&mut h, 0x0002, 0x5002);
    gre_both_ways(&mut h, SUB1, 0x0002, p, 0x5002);
    // Off again: the call in flight keeps its GRE; unknown GRE is counted as "off".
    let mut l = h.w.live();
    l.alg.pptp = AlgPorts::new(false, &[PPTP]);
    h.w.apply_live(&l).unwrap();
    gre_both_ways(&mut h, SUB1, 0x0002, p, 0x5002);
    assert!(h.send(Side::Outside, &gre_in(0x0001)).is_empty());
    assert_eq!(h.drops(DropReason::GrePptpOff), 3);
}

/// With one 8-port block per subscriber there are exactly 8 public Call IDs: any leak shows.
#[test]
fn public_call_ids_are_given_back() {
    let mut cfg = lab(true);
    cfg.block_size = 8;
    cfg.max_blocks_per_subscriber = 1;
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    let mut a = Ctl::open(&mut h, SUB1, 40000);
    for i in 0..20u16 {
        let p = a.call(&mut h, 0x0100 + i, 0x5000 + i);
        assert!((1024..1032).contains(&p), "{p}");
        gre_both_ways(&mut h, SUB1, 0x0100 + i, p, 0x5000 + i);
        let cc = msg(CCRQ, &[(12, 0x0100 + i)]);
        assert_eq!(
            tcp_payload(&a.pns(&mut h, &cc).only_outside()),
            with_field(&cc, 12, p)
        );
        let cdn = msg(CDN, &[(12, 0x5000 + i)]);
        a.pac(&mut h, &cdn).only_inside();
    }
    // All 8 at once (MAX_CALLS), all different.
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..8u16 {
        assert!(seen.insert(a.call(&mut h, 0x0200 + i, 0x6000 + i)));
    }
    // A new SYN on the 4-tuple ends them all; a new connection gets all 8 again.
    let syn = seg(
        SUB_MAC, IN_MAC, SUB1, 40000, SERVER, PPTP, 64, 5, None, true, b"",
    );
    h.send(Side::Inside, &syn).only_outside();
    assert_eq!(h.w.alg_pptp_calls(), 0);
    let mut b = Ctl::open(&mut h, SUB1, 40001);
    for i in 0..8u16 {
        b.call(&mut h, 0x0300 + i, 0x7000 + i);
    }
    assert_eq!(h.w.alg_pptp_calls(), 8);
    assert_eq!(h.w.counters().alg_pptp.failed(PptpError::NoPublicCallId), 0);
}

mod model {
    //! Random interleavings of calls, clears, disconnects and GRE on two control connections
    //! (two subscribers behind one public address) against a model of the live calls: every
    //! GRE packet is translated exactly as the model says, or dropped when it names no call.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Call(usize),
        Clear(usize, usize),
        Disconnect(usize, usize),
        GreIn(usize),
        GreOut(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..2usize).prop_map(Op::Call),
            1 => (0..2usize, 0..8usize).prop_map(|(c, k)| Op::Clear(c, k)),
            1 => (0..2usize, 0..8usize).prop_map(|(c, k)| Op::Disconnect(c, k)),
            3 => (0..64usize).prop_map(Op::GreIn),
            2 => (0..2usize, 0..16usize).prop_map(|(c, k)| Op::GreOut(c, k)),
        ]
    }

    /// A live call: (inside, public, pac).
    type Call = (u16, u16, u16);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn gre_follows_the_calls(ops in proptest::collection::vec(op(), 1..40)) {
            let mut h = harness(true);
            let subs = [SUB1, SUB2];
            let mut ctl = [Ctl::open(&mut h, SUB1, 40000), Ctl::open(&mut h, SUB2, 40000)];
            let mut live: [Vec<Call>; 2] = [vec![], vec![]];
            let mut clearing: [Vec<Call>; 2] = [vec![], vec![]];
            let mut publics: Vec<u16> = vec![];
            let mut pacs: [Vec<u16>; 2] = [vec![], vec![]];
            let mut next = 1u16;
            let mut dropped = 0;
            for o in ops {
                match o {
                    Op::Call(c) => {
                        if live[c].len() >= MAX_CALLS_PER_CONN {
                            continue;
                        }
                        // The same inside Call ID on both connections: the worst case.
                        let (inside, pac) = (next, 0x4000 + next);
                        next += 1;
                        // A new call may take the slot of a cleared one.
                        if live[c].len() + clearing[c].len() >= MAX_CALLS_PER_CONN {
                            clearing[c].remove(0);
                        }
                        let p = ctl[c].call(&mut h, inside, pac);
                        prop_assert!(live.iter().flatten().all(|l| l.1 != p), "public {p} reused");
                        live[c].push((inside, p, pac));
                        publics.push(p);
                        pacs[c].push(pac);
                    }
                    Op::Clear(c, k) => {
                        if live[c].is_empty() {
                            continue;
                        }
                        let call = live[c].remove(k % live[c].len());
                        let cc = msg(CCRQ, &[(12, call.0)]);
                        let sent = tcp_payload(&ctl[c].pns(&mut h, &cc).only_outside());
                        prop_assert_eq!(sent, with_field(&cc, 12, call.1));
                        clearing[c].push(call);
                    }
                    Op::Disconnect(c, k) => {
                        let all: Vec<Call> = live[c].iter().chain(&clearing[c]).copied().collect();
                        if all.is_empty() {
                            continue;
                        }
                        let call = all[k % all.len()];
                        live[c].retain(|l| *l != call);
                        clearing[c].retain(|l| *l != call);
                        let cdn = msg(CDN, &[(12, call.2)]);
                        ctl[c].pac(&mut h, &cdn).only_inside();
                    }
                    Op::GreIn(k) => {
                        if publics.is_empty() {
                            continue;
                        }
                        let p = publics[k % publics.len()];
                        let out = h.send(Side::Outside, &gre_in(p));
                        let owner = (0..2).find_map(|c| {
                            live[c].iter().find(|l| l.1 == p).map(|l| (c, l.0))
                        });
                        match owner {
                            Some((c, inside)) => {
                                prop_assert_eq!(out.only_inside(), gre_in_want(subs[c], inside));
                            }
                            None => {
                                prop_assert!(out.is_empty());
                                dropped += 1;
                            }
                        }
                    }
                    Op::GreOut(c, k) => {
                        if pacs[c].is_empty() {
                            continue;
                        }
                        let pac = pacs[c][k % pacs[c].len()];
                        let out = h.send(Side::Inside, &gre_out(subs[c], pac));
                        if live[c].iter().any(|l| l.2 == pac) {
                            prop_assert_eq!(out.only_outside(), gre_out_want(pac));
                        } else {
                            prop_assert!(out.is_empty());
                            dropped += 1;
                        }
                    }
                }
            }
            prop_assert_eq!(h.drops(DropReason::GreNoCall), dropped);
            prop_assert_eq!(usize::try_from(h.w.alg_pptp_calls()).unwrap(), live[0].len() + live[1].len());
        }
    }

    const MAX_CALLS_PER_CONN: usize = alg::pptp::MAX_CALLS;
}
