//! H.323 ALG scenarios through the dataplane: the parser's fixtures (`alg/tests/fixtures/h323/`,
//! hand-encoded, checked by tshark) sent as real segments and datagrams; frames built and
//! checked independently with etherparse. The fixtures announce 100.64.0.2 (`SUB1`).
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use alg::h323::H323Error;
use common::*;
use dataplane::alg_glue::AlgPorts;
use dataplane::nat::Filtering;
use dataplane::{Event, Side, WorkerConfig};

const SETUP: &[u8] = include_bytes!("../../alg/tests/fixtures/h323/setup.bin");
const FACILITY_FORWARD: &[u8] =
    include_bytes!("../../alg/tests/fixtures/h323/facility_forward.bin");
const OLC: &[u8] = include_bytes!("../../alg/tests/fixtures/h323/h245_olc.bin");
const RAS_RRQ: &[u8] = include_bytes!("../../alg/tests/fixtures/h323/ras_rrq.bin");

const Q931: u16 = 1720;
const RAS: u16 = 1719;
const CPORT: u16 = 40100; // the caller's call signalling port
const CISN: u32 = 1000;
const SISN: u32 = 5_000_000;
const THIRD: [u8; 4] = [198, 51, 100, 9];

fn cfg() -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.filtering = Filtering::AddressAndPortDependent;
    cfg.alg.h323 = AlgPorts::new(true, &[Q931]);
    cfg.alg.h323_ras = AlgPorts::new(true, &[RAS]);
    cfg
}

/// (offset, announced port) of every `ipAddress` of `SUB1` in a fixture.
fn announced(m: &[u8]) -> Vec<(usize, u16)> {
    (0..m.len().saturating_sub(5))
        .filter(|&i| m[i..i + 4] == SUB1)
        .map(|i| (i, u16::from_be_bytes([m[i + 4], m[i + 5]])))
        .collect()
}

/// Checks that `out` is `m` with exactly the 6 bytes of each announced address replaced, all
/// by `pub_ip`; returns announced port → public port.
fn rewritten(m: &[u8], out: &[u8], pub_ip: [u8; 4]) -> Vec<(u16, u16)> {
    assert_eq!(out.len(), m.len());
    let at = announced(m);
    let mut ports = Vec::new();
    for (i, (a, b)) in m.iter().zip(out).enumerate() {
        if !at.iter().any(|&(o, _)| (o..o + 6).contains(&i)) {
            assert_eq!(a, b, "byte {i} changed");
        }
    }
    for (o, port) in at {
        assert_eq!(out[o..o + 4], pub_ip, "address at {o}");
        ports.push((port, u16::from_be_bytes([out[o + 4], out[o + 5]])));
    }
    ports
}

fn public_of(ports: &[(u16, u16)], inside: u16) -> u16 {
    let v: Vec<u16> = ports
        .iter()
        .filter(|(i, _)| *i == inside)
        .map(|p| p.1)
        .collect();
    assert!(!v.is_empty(), "{inside} not announced");
    assert!(v.iter().all(|p| *p == v[0]), "{inside}: {v:?}");
    v[0]
}

/// A call signalling connection from SUB1:CPORT to SERVER:1720, handshake done.
struct Call {
    h: Harness,
    pub_ip: [u8; 4],
    pub_port: u16,
    cseq: u32,
}

impl Call {
    fn open(cfg: WorkerConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.resolve_neighbors();
        let syn = seg(
            SUB_MAC, IN_MAC, SUB1, CPORT, SERVER, Q931, 64, CISN, None, true, b"",
        );
        let out = h.send(Side::Inside, &syn).only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        let synack = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            Q931,
            pub_ip,
            pub_port,
            64,
            SISN,
            Some(CISN + 1),
            true,
            b"",
        );
        h.send(Side::Outside, &synack).only_inside();
        Call {
            h,
            pub_ip,
            pub_port,
            cseq: CISN + 1,
        }
    }

    /// The subscriber sends `m` on the call signalling connection; returns the frame sent out.
    fn send(&mut self, m: &[u8]) -> Vec<u8> {
        let f = seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT,
            SERVER,
            Q931,
            64,
            self.cseq,
            Some(SISN + 1),
            false,
            m,
        );
        self.cseq += u32::try_from(m.len()).unwrap();
        let out = self.h.send(Side::Inside, &f).only_outside();
        assert_checksums_ok(&out);
        assert_eq!(
            src_of(&out),
            (self.pub_ip, self.pub_port),
            "translated as usual"
        );
        out
    }

    /// An outside datagram from SERVER:`sport` to the public `port`.
    fn udp_in(&mut self, sport: u16, port: u16) -> Out {
        self.h.send(
            Side::Outside,
            &udp(
                NH_MAC,
                OUT_MAC,
                SERVER,
                sport,
                self.pub_ip,
                port,
                64,
                b"rtp",
            ),
        )
    }
}

#[test]
fn setup_h245_and_open_logical_channel_open_only_the_announced_pinholes() {
    let mut c = Call::open(cfg());
    assert_eq!(c.h.w.counters().event(Event::AlgH323Session), 1);
    assert_eq!(c.h.w.alg_h323_sessions(), 1);

    // Setup: h245Address 40000, sourceCallSignalAddress 40001, fastStart RTP 5000/RTCP 5001.
    let out = c.send(SETUP);
    let ports = rewritten(SETUP, &payload_of(&out), c.pub_ip);
    assert_eq!(announced(SETUP).len(), 5);
    let h245 = public_of(&ports, 40000);
    let rtp = public_of(&ports, 5000);
    let rtcp = public_of(&ports, 5001);
    // No binding for 40001 and no expectation: the master's own public endpoint.
    assert_eq!(public_of(&ports, 40001), c.pub_port);
    assert!(h245 != c.pub_port && rtp != rtcp);
    let k = &c.h.w.counters().alg_h323;
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 3));
    assert_eq!(k.total_failures(), 0);
    assert_eq!(c.h.w.alg_expectations(), 3);

    // A third host cannot use the H.245 pinhole.
    let third = seg(
        NH_MAC, OUT_MAC, THIRD, 30000, c.pub_ip, h245, 64, 77, None, true, b"",
    );
    assert!(c.h.send(Side::Outside, &third).is_empty());
    assert_eq!(c.h.w.counters().event(Event::AlgH323ExpectationRefused), 1);

    // The callee opens H.245 to the announced endpoint: reaches SUB1:40000.
    let syn = seg(
        NH_MAC, OUT_MAC, SERVER, 30000, c.pub_ip, h245, 64, 9000, None, true, b"",
    );
    let inb = c.h.send(Side::Outside, &syn).only_inside();
    assert_checksums_ok(&inb);
    assert_eq!(dst_of(&inb), (SUB1, 40000));
    assert_eq!(c.h.w.counters().event(Event::AlgH323ExpectationUsed), 1);
    assert_eq!(c.h.w.counters().event(Event::AlgH323Session), 2);
    assert_eq!(c.h.w.alg_h323_sessions(), 2);
    let synack = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        40000,
        SERVER,
        30000,
        64,
        300,
        Some(9001),
        true,
        b"",
    );
    let out = c.h.send(Side::Inside, &synack).only_outside();
    assert_eq!(src_of(&out), (c.pub_ip, h245));

    // OpenLogicalChannel in the H.245 connection: mediaChannel 5002, mediaControlChannel
    // 5003, rewritten.
    let olc = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        40000,
        SERVER,
        30000,
        64,
        301,
        Some(9001),
        false,
        OLC,
    );
    let out = c.h.send(Side::Inside, &olc).only_outside();
    assert_checksums_ok(&out);
    let olc_ports = rewritten(OLC, &payload_of(&out), c.pub_ip);
    let rtp2 = public_of(&olc_ports, 5002);
    let rtcp2 = public_of(&olc_ports, 5003);
    assert_eq!(c.h.w.counters().alg_h323.messages, 2);
    assert_eq!(c.h.w.counters().alg_h323.expectations, 5);

    // The callee's RTP to the OLC's public RTP port reaches SUB1:5002, RTCP SUB1:5003, and
    // the fastStart RTP SUB1:5000.
    for (public, inside, n) in [(rtp2, 5002, 2), (rtcp2, 5003, 3), (rtp, 5000, 4)] {
        let inb = c.udp_in(6000 + inside, public).only_inside();
        assert_checksums_ok(&inb);
        assert_eq!(dst_of(&inb), (SUB1, inside));
        assert_eq!(c.h.w.counters().event(Event::AlgH323ExpectationUsed), n);
    }
    // Media back from the subscriber's RTP port leaves from the same public port.
    let out =
        c.h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5002, SERVER, 11002, 64, b"rtp"),
        )
        .only_outside();
    assert_eq!(src_of(&out), (c.pub_ip, rtp2));
}

#[test]
fn setup_announcing_a_third_party_is_untouched_and_opens_nothing() {
    let mut c = Call::open(cfg());
    // Every address names SUB2 while the Setup comes from SUB1.
    let mut m = SETUP.to_vec();
    for (o, _) in announced(SETUP) {
        m[o..o + 4].copy_from_slice(&SUB2);
    }
    let out = c.send(&m);
    assert_eq!(payload_of(&out), m);
    let k = &c.h.w.counters().alg_h323;
    assert_eq!(k.messages, 1);
    assert_eq!(k.rewrites, 0);
    assert_eq!(k.expectations, 0);
    assert_eq!(k.failed(H323Error::AddressMismatch), 5);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // The would-be H.245 port (the inside one, as a port-preserving NAT would pick) is closed.
    let syn = seg(
        NH_MAC, OUT_MAC, SERVER, 30000, c.pub_ip, 40000, 64, 9000, None, true, b"",
    );
    assert!(c.h.send(Side::Outside, &syn).is_empty());
    assert_eq!(c.h.w.counters().event(Event::AlgH323ExpectationUsed), 0);
}

#[test]
fn facility_call_forwarding_is_never_followed() {
    let mut c = Call::open(cfg());
    let out = c.send(FACILITY_FORWARD);
    assert_eq!(payload_of(&out), FACILITY_FORWARD);
    let k = &c.h.w.counters().alg_h323;
    assert_eq!(k.failed(H323Error::CallForwarding), 1);
    assert_eq!((k.rewrites, k.expectations), (0, 0));
    assert_eq!(c.h.w.alg_expectations(), 0);
}

#[test]
fn switched_off_live_nothing_is_rewritten() {
    let mut c = Call::open(cfg());
    let mut l = c.h.w.live();
    l.alg.h323.enabled = false;
    l.alg.h323_ras.enabled = false;
    c.h.w.apply_live(&l).unwrap();
    // The call in flight is no longer parsed.
    let out = c.send(SETUP);
    assert_eq!(payload_of(&out), SETUP);
    assert_eq!(c.h.w.counters().alg_h323.messages, 0);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // Nor is RAS.
    let out =
        c.h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, RAS, SERVER, RAS, 64, RAS_RRQ),
        )
        .only_outside();
    assert_eq!(payload_of(&out), RAS_RRQ);
    assert_eq!(c.h.w.counters().alg_h323.messages, 0);

    // Switched on again: a new call gets the ALG.
    l.alg.h323.enabled = true;
    c.h.w.apply_live(&l).unwrap();
    let syn = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT + 1,
        SERVER,
        Q931,
        64,
        CISN,
        None,
        true,
        b"",
    );
    c.h.send(Side::Inside, &syn).only_outside();
    assert_eq!(c.h.w.counters().event(Event::AlgH323Session), 2);
}

#[test]
fn default_config_has_h323_off() {
    let d = dataplane::alg_glue::AlgConfig::default();
    assert!(!d.h323.enabled && d.h323.has(Q931));
    assert!(!d.h323_ras.enabled && d.h323_ras.has(RAS));
    let mut h = Harness::new(WorkerConfig::lab_default());
    h.resolve_neighbors();
    let syn = seg(
        SUB_MAC, IN_MAC, SUB1, CPORT, SERVER, Q931, 64, CISN, None, true, b"",
    );
    h.send(Side::Inside, &syn).only_outside();
    assert_eq!(h.w.counters().event(Event::AlgH323Session), 0);
}

#[test]
fn ras_registration_request_is_rewritten_and_the_gatekeeper_reaches_call_signalling() {
    let mut h = Harness::new(cfg());
    h.resolve_neighbors();
    // RRQ: callSignalAddress SUB1:1720 (TCP), rasAddress SUB1:1719 (this datagram's source).
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, RAS, SERVER, RAS, 64, RAS_RRQ),
        )
        .only_outside();
    assert_checksums_ok(&out);
    let (pub_ip, pub_port) = src_of(&out);
    let ports = rewritten(RAS_RRQ, &payload_of(&out), pub_ip);
    assert_eq!(ports.len(), 2);
    assert_eq!(
        public_of(&ports, RAS),
        pub_port,
        "the datagram's own binding"
    );
    let cs = public_of(&ports, Q931);
    let k = &h.w.counters().alg_h323;
    assert_eq!((k.messages, k.rewrites), (1, 1));
    assert_eq!(k.total_failures(), 0);

    // The gatekeeper connects to the registered call signalling address: SUB1:1720, and
    // that connection is itself inspected as call signalling.
    let syn = seg(
        NH_MAC, OUT_MAC, SERVER, 41000, pub_ip, cs, 64, 7000, None, true, b"",
    );
    let inb = h.send(Side::Outside, &syn).only_inside();
    assert_checksums_ok(&inb);
    assert_eq!(dst_of(&inb), (SUB1, Q931));
    assert_eq!(h.w.counters().event(Event::AlgH323ExpectationUsed), 1);
    assert_eq!(h.w.counters().event(Event::AlgH323Session), 1);
    // A third host gets no such pinhole.
    let third = seg(
        NH_MAC, OUT_MAC, THIRD, 41000, pub_ip, cs, 64, 7000, None, true, b"",
    );
    assert!(h.send(Side::Outside, &third).is_empty());
}

/// `m` with every address of SUB1 replaced by `a`.
fn announcing(m: &[u8], a: [u8; 4]) -> Vec<u8> {
    let mut v = m.to_vec();
    for (o, _) in announced(m) {
        v[o..o + 4].copy_from_slice(&a);
    }
    v
}

#[test]
fn callee_announcing_its_own_h245_address_gives_the_subscribers_connection_h245_inspection() {
    callee_h245(40002);
}

/// The callee's H.245 port happens to be a call signalling port: the connection is still
/// inspected as H.245 (its OpenLogicalChannel is rewritten, not refused as bad Q.931).
#[test]
fn an_h245_connection_to_a_call_signalling_port_stays_h245() {
    callee_h245(Q931);
}

fn callee_h245(h245_port: u16) {
    const CONNECT: &[u8] = include_bytes!("../../alg/tests/fixtures/h323/connect.bin");
    let mut c = Call::open(cfg());
    // Connect from the callee: h245Address SERVER:h245_port and fastStart media, all its own.
    let mut m = announcing(CONNECT, SERVER);
    let (o, p) = announced(CONNECT)[0];
    assert_eq!(p, 40002, "the h245Address comes first");
    m[o + 4..o + 6].copy_from_slice(&h245_port.to_be_bytes());
    let f = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        Q931,
        c.pub_ip,
        c.pub_port,
        64,
        SISN + 1,
        Some(CISN + 1),
        false,
        &m,
    );
    let inb = c.h.send(Side::Outside, &f).only_inside();
    assert_checksums_ok(&inb);
    assert_eq!(
        payload_of(&inb),
        m,
        "an outside sender's addresses are never rewritten"
    );
    let k = &c.h.w.counters().alg_h323;
    assert_eq!((k.messages, k.rewrites), (1, 0));
    assert_eq!(k.total_failures(), 0);
    let made = k.expectations;
    assert!(made >= 1);
    assert_eq!(c.h.w.alg_expectations(), u32::try_from(made).unwrap());

    // The subscriber connects to the callee's H.245 address: related to the call and
    // inspected as H.245.
    let syn = seg(
        SUB_MAC, IN_MAC, SUB1, 40010, SERVER, h245_port, 64, 500, None, true, b"",
    );
    c.h.send(Side::Inside, &syn).only_outside();
    assert_eq!(c.h.w.counters().event(Event::AlgH323ExpectationUsed), 1);
    assert_eq!(c.h.w.counters().event(Event::AlgH323Session), 2);
    assert_eq!(c.h.w.alg_h323_sessions(), 2);
    // The subscriber's own OpenLogicalChannel on it is rewritten.
    let olc = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        40010,
        SERVER,
        h245_port,
        64,
        501,
        Some(1),
        false,
        OLC,
    );
    let out = c.h.send(Side::Inside, &olc).only_outside();
    assert_checksums_ok(&out);
    let ports = rewritten(OLC, &payload_of(&out), c.pub_ip);
    let rtp = public_of(&ports, 5002);
    let inb = c.udp_in(7000, rtp).only_inside();
    assert_eq!(dst_of(&inb), (SUB1, 5002));
}
