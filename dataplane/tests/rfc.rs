//! One packet scenario test per RFC requirement (docs REFERENCE.md, "Behaviour requirements"),
//! named after it: RFC 4787 (UDP), RFC 5382 (TCP), RFC 5508 (ICMP), RFC 6888 (CGN), RFC 7422
//! (deterministic), plus MSS clamping.
//!
//! Every test drives a worker through in-memory buffers. Expected frames are built
//! independently with etherparse and compared byte for byte; checksums are verified with
//! etherparse (`assert_checksums_ok`). Every timeout runs on the injectable clock
//! (`h.now += N * SEC; h.poll()`), never on sleeps.
//!
//! Requirements not testable at this level (PCP, logging, manageability, ALG defaults) are
//! listed at the end of the file.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use common::*;
use dataplane::deterministic::DeterministicMap;
use dataplane::nat::Filtering;
use dataplane::timeouts::PortTimeout;
use dataplane::{DropReason, Event, Side, WorkerConfig};
use std::collections::HashSet;

const PAYLOAD: &[u8] = b"rfc-scenario-payload";
const MS: u64 = 1_000_000;
const EIF: Filtering = Filtering::EndpointIndependent;
const ADF: Filtering = Filtering::AddressDependent;
const APDF: Filtering = Filtering::AddressAndPortDependent;
/// A pool address nobody is bound to.
const UNBOUND_PUB: [u8; 4] = [203, 0, 113, 10];

type Endpoint = ([u8; 4], u16);

// ---- Helpers ------------------------------------------------------------------------------------

/// A lab worker with `f` applied to its configuration, neighbours resolved. ARP entries are
/// made long-lived so that tests moving the clock by hours see no ARP refresh requests.
fn harness(f: impl FnOnce(&mut WorkerConfig)) -> Harness {
    let mut cfg = WorkerConfig::lab_default();
    cfg.neighbors.entry_timeout_ns = 1_000_000 * SEC;
    f(&mut cfg);
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    h
}

fn lab() -> Harness {
    harness(|_| {})
}

/// Moves the clock `secs` seconds on and runs the timers.
fn advance(h: &mut Harness, secs: u64) -> Out {
    h.now += secs * SEC;
    h.poll()
}

fn ev(h: &Harness, e: Event) -> u64 {
    h.w.counters().event(e)
}

/// `sub:sport` sends UDP to `dst:dport`; asserts the exact translated frame and returns the
/// public endpoint.
fn udp_out(h: &mut Harness, sub: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Endpoint {
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, sub, sport, dst, dport, 64, PAYLOAD),
        )
        .only_outside();
    let (pip, pport) = src_of(&out);
    assert!(pport >= 1024, "public port {pport} below 1024");
    assert_eq!(
        out,
        udp(OUT_MAC, NH_MAC, pip, pport, dst, dport, 63, PAYLOAD),
        "translated UDP frame differs"
    );
    assert_checksums_ok(&out);
    (pip, pport)
}

/// The frame `udp_out` sent for `pub_ep` → `dst:dport` (what an outside ICMP error quotes).
fn udp_as_sent(pub_ep: Endpoint, dst: [u8; 4], dport: u16) -> Vec<u8> {
    udp(OUT_MAC, NH_MAC, pub_ep.0, pub_ep.1, dst, dport, 63, PAYLOAD)
}

/// Remote `from:fport` sends UDP to the public endpoint `to`.
fn udp_in(h: &mut Harness, from: [u8; 4], fport: u16, to: Endpoint) -> Out {
    h.send(
        Side::Outside,
        &udp(NH_MAC, OUT_MAC, from, fport, to.0, to.1, 64, PAYLOAD),
    )
}

/// As [`udp_in`], asserting the exact frame delivered to `sub:sport`; returns it.
fn udp_in_ok(
    h: &mut Harness,
    from: [u8; 4],
    fport: u16,
    to: Endpoint,
    sub: [u8; 4],
    sport: u16,
) -> Vec<u8> {
    let got = udp_in(h, from, fport, to).only_inside();
    assert_eq!(
        got,
        udp(IN_MAC, SUB_MAC, from, fport, sub, sport, 63, PAYLOAD),
        "delivered UDP frame differs"
    );
    assert_checksums_ok(&got);
    got
}

/// `sub:sport` sends a TCP segment with `flags` to `dst:dport`; asserts the exact translated
/// frame and returns the public endpoint.
fn tcp_out(
    h: &mut Harness,
    sub: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    flags: u8,
) -> Endpoint {
    let out = h
        .send(
            Side::Inside,
            &tcp_seg(
                SUB_MAC, IN_MAC, sub, sport, dst, dport, 64, flags, None, b"",
            ),
        )
        .only_outside();
    let (pip, pport) = src_of(&out);
    assert_eq!(
        out,
        tcp_seg(OUT_MAC, NH_MAC, pip, pport, dst, dport, 63, flags, None, b""),
        "translated TCP frame differs"
    );
    assert_checksums_ok(&out);
    (pip, pport)
}

/// Remote `from:fport` sends a TCP segment with `flags` to the public endpoint `to`.
fn tcp_in(h: &mut Harness, from: [u8; 4], fport: u16, to: Endpoint, flags: u8) -> Out {
    h.send(
        Side::Outside,
        &tcp_seg(
            NH_MAC, OUT_MAC, from, fport, to.0, to.1, 64, flags, None, b"",
        ),
    )
}

/// As [`tcp_in`], asserting the exact frame delivered to `sub:sport`.
fn tcp_in_ok(
    h: &mut Harness,
    from: [u8; 4],
    fport: u16,
    to: Endpoint,
    flags: u8,
    sub: [u8; 4],
    sport: u16,
) {
    let got = tcp_in(h, from, fport, to, flags).only_inside();
    assert_eq!(
        got,
        tcp_seg(IN_MAC, SUB_MAC, from, fport, sub, sport, 63, flags, None, b""),
        "delivered TCP frame differs"
    );
    assert_checksums_ok(&got);
}

/// SUB1:40000 ↔ SERVER:80 through the three-way handshake; returns the public endpoint.
fn tcp_established(h: &mut Harness) -> Endpoint {
    let p = tcp_out(h, SUB1, 40000, SERVER, 80, TCP_SYN);
    tcp_in_ok(h, SERVER, 80, p, TCP_SYN | TCP_ACK, SUB1, 40000);
    assert_eq!(tcp_out(h, SUB1, 40000, SERVER, 80, TCP_ACK), p);
    p
}

/// `sub` pings `dst` with identifier `id`; asserts the exact translated request and returns
/// (public address, public identifier).
fn echo_out(h: &mut Harness, sub: [u8; 4], dst: [u8; 4], id: u16) -> Endpoint {
    let out = h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, sub, dst, 64, true, id, 1),
        )
        .only_outside();
    let (pip, pid) = echo_src_of(&out);
    assert_eq!(
        out,
        echo(OUT_MAC, NH_MAC, pip, dst, 63, true, pid, 1),
        "translated echo request differs"
    );
    assert_checksums_ok(&out);
    (pip, pid)
}

/// The ICMP error the worker itself generates: from `src` to `dst`, TTL 64, DF clear,
/// identification as in `actual` (a worker counter), quoting `quoted`.
fn generated_error(
    actual: &[u8],
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    quoted: &[u8],
) -> Vec<u8> {
    icmp_with(
        smac,
        dmac,
        ipv4_header(src, dst, 64, ipv4_ident(actual), false),
        icmp_type,
        code,
        rest,
        quoted,
    )
}

/// Asserts that `r` is the ICMP 3/13 the worker sends `sub` about `refused`.
fn assert_admin_prohibited(r: &[u8], sub: [u8; 4], refused: &[u8]) {
    assert_eq!(
        r,
        generated_error(
            r,
            IN_MAC,
            SUB_MAC,
            IN_ADDR,
            sub,
            3,
            13,
            [0; 4],
            ip_part(refused)
        ),
        "ICMP 3/13 differs"
    );
    assert_checksums_ok(r);
}

/// Fragment offset field of an Ethernet/IPv4 frame, in bytes.
fn frag_offset(frame: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff) * 8
}

fn assert_ip_header_checksum_ok(frame: &[u8]) {
    let (h, _) = etherparse::Ipv4Header::from_slice(&frame[14..]).unwrap();
    assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 checksum");
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

// ---- RFC 4787: UDP ------------------------------------------------------------------------------

#[test]
fn rfc4787_req1_endpoint_independent_mapping_udp() {
    for filtering in [EIF, ADF, APDF] {
        let mut h = harness(|c| c.filtering = filtering);
        let a = udp_out(&mut h, SUB1, 5000, SERVER, 53);
        let b = udp_out(&mut h, SUB1, 5000, REMOTE, 4444);
        let c = udp_out(&mut h, SUB1, 5000, SERVER, 9999);
        assert_eq!(a, b, "{filtering:?}: same inside endpoint, other host");
        assert_eq!(a, c, "{filtering:?}: same inside endpoint, other port");
        assert_eq!(h.w.bindings(), 1);
        // Both remotes reach the same inside endpoint through the one public endpoint.
        udp_in_ok(&mut h, SERVER, 53, a, SUB1, 5000);
        udp_in_ok(&mut h, REMOTE, 4444, a, SUB1, 5000);
    }
}

#[test]
fn rfc4787_req2_paired_address_pooling() {
    let mut h = harness(|c| c.block_size = 64);
    let mut addrs = HashSet::new();
    for p in 0..150u16 {
        addrs.insert(udp_out(&mut h, SUB1, 10000 + p, SERVER, 53).0);
    }
    for p in 0..80u16 {
        addrs.insert(tcp_out(&mut h, SUB1, 20000 + p, SERVER, 80, TCP_SYN).0);
    }
    for id in 0..20u16 {
        addrs.insert(echo_out(&mut h, SUB1, SERVER, 0x100 + id).0);
    }
    assert_eq!(
        h.w.blocks_allocated(),
        3,
        "150 UDP ports need three 64-port blocks"
    );
    assert_eq!(
        addrs.len(),
        1,
        "every binding of a subscriber on one public address: {addrs:?}"
    );
}

#[test]
fn rfc4787_req3_no_port_overloading() {
    // One public address, so every subscriber competes for its ports.
    let the_pub = [203, 0, 113, 5];
    let mut h = harness(|c| {
        c.pool = vec![ip(the_pub)];
        c.block_size = 64;
    });
    let a = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let b = udp_out(&mut h, SUB2, 5000, SERVER, 53);
    assert_eq!((a.0, b.0), (the_pub, the_pub));
    assert_ne!(a, b, "two inside endpoints on one public endpoint");
    udp_in_ok(&mut h, SERVER, 53, a, SUB1, 5000);
    udp_in_ok(&mut h, SERVER, 53, b, SUB2, 5000);
    // Many subscribers, many ports: a public endpoint is never given to two bindings.
    let mut seen: HashSet<Endpoint> = [a, b].into_iter().collect();
    for s in 4..20u8 {
        for p in 0..20u16 {
            let e = udp_out(&mut h, [100, 64, 0, s], 5000 + p, SERVER, 53);
            assert!(seen.insert(e), "public endpoint {e:?} given twice");
        }
    }
    assert_eq!(h.w.bindings(), 2 + 16 * 20);
}

#[test]
fn rfc4787_req4_port_parity_preserved() {
    let mut h = harness(|c| c.preserve_parity = true);
    for p in 0..200u16 {
        let sport = 7000 + p;
        let (_, pport) = udp_out(&mut h, SUB1, sport, SERVER, 53);
        assert_eq!(pport % 2, sport % 2, "UDP {sport} -> {pport}");
        let (_, pport) = tcp_out(&mut h, SUB2, sport, SERVER, 80, TCP_SYN);
        assert_eq!(pport % 2, sport % 2, "TCP {sport} -> {pport}");
    }
}

#[test]
fn rfc4787_req5_udp_mapping_timer_300s() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    advance(&mut h, 299);
    assert_eq!(h.w.bindings(), 1, "alive after 299 s idle");
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0, "gone after 301 s idle");
    assert_eq!(ev(&h, Event::BindingExpired), 1);
    assert!(udp_in(&mut h, SERVER, 53, e).is_empty());
    assert_eq!(h.drops(DropReason::NoBinding), 1);
}

#[test]
fn rfc4787_req5_per_port_override_udp_53_10s() {
    // REQ-5a: well-known destination ports may have a shorter timer.
    let mut h = harness(|c| {
        c.timeouts.per_port = vec![PortTimeout {
            proto: 17,
            port: 53,
            secs: 10,
        }]
    });
    let dns = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let other = udp_out(&mut h, SUB1, 5001, SERVER, 5353);
    advance(&mut h, 9);
    assert_eq!(h.w.bindings(), 2, "DNS binding alive at 9 s");
    advance(&mut h, 2);
    assert_eq!(
        h.w.bindings(),
        1,
        "DNS binding gone at 11 s, the other stays"
    );
    assert!(udp_in(&mut h, SERVER, 53, dns).is_empty());
    assert_eq!(h.drops(DropReason::NoBinding), 1);
    udp_in_ok(&mut h, SERVER, 5353, other, SUB1, 5001);
    // The default 300 s still applies to the other binding (refreshed just now, at 12 s).
    advance(&mut h, 299);
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc4787_req6_outbound_refresh_extends_the_timer() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    advance(&mut h, 200);
    assert_eq!(udp_out(&mut h, SUB1, 5000, SERVER, 53), e, "same binding");
    advance(&mut h, 299);
    assert_eq!(
        h.w.bindings(),
        1,
        "499 s after creation, 299 s after the refresh"
    );
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc4787_req6_inbound_refresh_also_extends_the_timer() {
    // REQ-6 makes outbound refresh a MUST and inbound refresh a MAY. This NAT refreshes on
    // inbound traffic too (documented behaviour), but only on traffic it lets in.
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    advance(&mut h, 200);
    udp_in_ok(&mut h, SERVER, 53, e, SUB1, 5000);
    advance(&mut h, 299);
    assert_eq!(h.w.bindings(), 1, "299 s after the inbound packet");
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc4787_req8_endpoint_independent_filtering() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    // Any remote, any port.
    udp_in_ok(&mut h, REMOTE, 9999, e, SUB1, 5000);
    udp_in_ok(&mut h, SERVER, 1234, e, SUB1, 5000);
    assert_eq!(h.drops(DropReason::Filtered), 0);
}

#[test]
fn rfc4787_req8_address_dependent_filtering() {
    let mut h = harness(|c| c.filtering = ADF);
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    // The contacted host, from any port.
    udp_in_ok(&mut h, SERVER, 53, e, SUB1, 5000);
    udp_in_ok(&mut h, SERVER, 54, e, SUB1, 5000);
    udp_in_ok(&mut h, SERVER, 40000, e, SUB1, 5000);
    // Another host: no.
    assert!(udp_in(&mut h, REMOTE, 53, e).is_empty());
    assert_eq!(h.drops(DropReason::Filtered), 1);
    // Once contacted (on any port), that host gets in from any port.
    assert_eq!(udp_out(&mut h, SUB1, 5000, REMOTE, 7), e);
    udp_in_ok(&mut h, REMOTE, 8, e, SUB1, 5000);
    assert_eq!(h.drops(DropReason::Filtered), 1);
}

#[test]
fn rfc4787_req8_address_and_port_dependent_filtering() {
    let mut h = harness(|c| c.filtering = APDF);
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    // Only the exact remote endpoint.
    udp_in_ok(&mut h, SERVER, 53, e, SUB1, 5000);
    assert!(udp_in(&mut h, SERVER, 54, e).is_empty());
    assert!(udp_in(&mut h, REMOTE, 53, e).is_empty());
    assert_eq!(h.drops(DropReason::Filtered), 2);
    // A refused packet refreshes nothing: the binding expires 300 s after the last real one.
    advance(&mut h, 200);
    assert!(udp_in(&mut h, SERVER, 54, e).is_empty());
    advance(&mut h, 99);
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
    assert_eq!(h.w.sessions(), 0);
}

#[test]
fn rfc4787_req9_hairpin_udp() {
    let mut h = lab();
    let b_pub = udp_out(&mut h, SUB2, 6000, SERVER, 53);
    // A sends to B's public endpoint (A's first packet from 5000: the binding is made here).
    let got = h
        .send(
            Side::Inside,
            &udp(
                SUB_MAC, IN_MAC, SUB1, 5000, b_pub.0, b_pub.1, 64, b"hairpin",
            ),
        )
        .only_inside();
    let a_pub = src_of(&got);
    assert!(
        in_pool(a_pub.0),
        "B sees A's public address, not {:?}",
        a_pub.0
    );
    assert_eq!(
        got,
        udp(IN_MAC, SUB_MAC, a_pub.0, a_pub.1, SUB2, 6000, 63, b"hairpin")
    );
    assert_checksums_ok(&got);
    assert_eq!(ev(&h, Event::Hairpinned), 1);
    // It is A's real public endpoint (the one the Internet sees, EIM).
    assert_eq!(udp_out(&mut h, SUB1, 5000, SERVER, 53), a_pub);
    // B answers A's public endpoint and A sees it from B's public endpoint.
    let back = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB2, 6000, a_pub.0, a_pub.1, 64, b"reply"),
        )
        .only_inside();
    assert_eq!(
        back,
        udp(IN_MAC, SUB_MAC, b_pub.0, b_pub.1, SUB1, 5000, 63, b"reply")
    );
    assert_checksums_ok(&back);
    assert_eq!(h.w.counters().total_drops(), 0);
}

#[test]
fn rfc4787_req9_hairpin_udp_respects_the_destination_filter() {
    // Hole punching between two subscribers under APDF: A's first packet is refused by B's
    // filter, B's packet to A's public endpoint gets in (A sent to B), then A's gets in too.
    let mut h = harness(|c| c.filtering = APDF);
    let a_pub = udp_out(&mut h, SUB1, 5000, SERVER, 3478);
    let b_pub = udp_out(&mut h, SUB2, 6000, SERVER, 3478);
    let to_b = udp(SUB_MAC, IN_MAC, SUB1, 5000, b_pub.0, b_pub.1, 64, b"a->b");
    assert!(h.send(Side::Inside, &to_b).is_empty());
    assert_eq!(h.drops(DropReason::Hairpin), 1);
    let got = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB2, 6000, a_pub.0, a_pub.1, 64, b"b->a"),
        )
        .only_inside();
    assert_eq!(
        got,
        udp(IN_MAC, SUB_MAC, b_pub.0, b_pub.1, SUB1, 5000, 63, b"b->a")
    );
    let got = h.send(Side::Inside, &to_b).only_inside();
    assert_eq!(
        got,
        udp(IN_MAC, SUB_MAC, a_pub.0, a_pub.1, SUB2, 6000, 63, b"a->b")
    );
}

#[test]
fn rfc4787_req11_behaviour_does_not_change_under_port_pressure() {
    // Deterministic behaviour: with every port of the subscriber taken, new flows fail, but
    // the NAT never falls back to port overloading, another mapping or looser filtering.
    let mut h = harness(|c| {
        c.filtering = APDF;
        c.block_size = 8;
        c.max_blocks_per_subscriber = 1;
    });
    let first = udp_out(&mut h, SUB1, 1000, SERVER, 53);
    let mut seen: HashSet<Endpoint> = [first].into_iter().collect();
    for p in 1..8u16 {
        assert!(seen.insert(udp_out(&mut h, SUB1, 1000 + p, SERVER, 53)));
    }
    for p in 0..5u16 {
        let f = udp(SUB_MAC, IN_MAC, SUB1, 3000 + p, SERVER, 53, 64, PAYLOAD);
        assert!(h.send(Side::Inside, &f).outside.is_empty());
    }
    assert_eq!(h.drops(DropReason::PortExhausted), 5);
    // Still endpoint-independent mapping and still address-and-port-dependent filtering.
    assert_eq!(udp_out(&mut h, SUB1, 1000, REMOTE, 123), first);
    udp_in_ok(&mut h, REMOTE, 123, first, SUB1, 1000);
    assert!(udp_in(&mut h, REMOTE, 124, first).is_empty());
    assert_eq!(h.drops(DropReason::Filtered), 1);
}

#[test]
fn rfc4787_req12_icmp_error_neither_refreshes_nor_deletes_the_binding() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let sent = udp_as_sent(e, SERVER, 53);
    advance(&mut h, 200);
    for (t, c) in [(3u8, 3u8), (3, 1), (3, 13), (11, 0)] {
        let err = icmp_raw(
            NH_MAC,
            OUT_MAC,
            SERVER,
            e.0,
            64,
            t,
            c,
            [0; 4],
            ip_part(&sent),
        );
        let got = h.send(Side::Outside, &err).only_inside();
        assert_eq!((got[34], got[35]), (t, c));
        assert_eq!(h.w.bindings(), 1, "ICMP {t}/{c} deleted the binding");
    }
    // 300 s after the last real packet, not after the errors.
    advance(&mut h, 99);
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0, "an ICMP error refreshed the binding");
}

#[test]
fn rfc4787_req13_df_too_big_gets_frag_needed_with_next_hop_mtu() {
    let mut h = harness(|c| c.outside.mtu = 1400);
    let orig = udp(
        SUB_MAC,
        IN_MAC,
        SUB1,
        5000,
        SERVER,
        53,
        64,
        &vec![0xab; 1450 - 28],
    );
    assert_eq!(&orig[20..22], &[0x40, 0], "DF set by etherparse");
    let r = h.send(Side::Inside, &orig).only_inside();
    // From the inside address, next-hop MTU 1400 (RFC 1191), quoting as much as fits in 576.
    let expected = generated_error(
        &r,
        IN_MAC,
        SUB_MAC,
        IN_ADDR,
        SUB1,
        3,
        4,
        [0, 0, 0x05, 0x78],
        &ip_part(&orig)[..576 - 28],
    );
    assert_eq!(r, expected);
    assert_checksums_ok(&r);
    assert_eq!(h.drops(DropReason::TooBig), 1);
    assert_eq!(ev(&h, Event::IcmpFragNeededSent), 1);
    assert_eq!(h.w.bindings(), 0, "nothing was translated");
    // Exactly the MTU passes.
    let fits = udp(
        SUB_MAC,
        IN_MAC,
        SUB1,
        5000,
        SERVER,
        53,
        64,
        &vec![0xab; 1400 - 28],
    );
    let out = h.send(Side::Inside, &fits).only_outside();
    assert_eq!(out.len(), 14 + 1400);
}

/// A 108-byte UDP datagram (ident 0x4242) SUB1:5000 → SERVER:53 and its three fragments
/// (payload bytes 0..40, 40..80, 80..108).
fn fragmented_out() -> (Vec<u8>, Vec<Vec<u8>>) {
    let payload: Vec<u8> = (0..100u8).collect();
    let whole = udp_with(
        SUB_MAC,
        IN_MAC,
        ipv4_header(SUB1, SERVER, 64, 0x4242, false),
        5000,
        53,
        &payload,
    );
    let frags = fragment(&whole, &[40, 80]);
    (payload, frags)
}

/// The fragments the worker should send for [`fragmented_out`] from public `e`.
fn fragmented_out_expected(payload: &[u8], e: Endpoint) -> Vec<Vec<u8>> {
    let whole = udp_with(
        OUT_MAC,
        NH_MAC,
        ipv4_header(e.0, SERVER, 63, 0x4242, false),
        e.1,
        53,
        payload,
    );
    fragment(&whole, &[40, 80])
}

#[test]
fn rfc4787_req14_out_of_order_fragments_held_then_translated() {
    let mut h = lab();
    let (payload, f) = fragmented_out();
    // Last, then middle: both held (the first carries the ports).
    assert!(h.send(Side::Inside, &f[2]).is_empty());
    assert!(h.send(Side::Inside, &f[1]).is_empty());
    assert_eq!(ev(&h, Event::FragmentHeld), 2);
    assert_eq!(h.w.fragments(), (1, 2));
    // The first arrives: all three leave, translated.
    let out = h.send(Side::Inside, &f[0]);
    assert!(out.inside.is_empty());
    assert_eq!(out.outside.len(), 3);
    let first = out.outside.iter().find(|x| frag_offset(x) == 0).unwrap();
    let e = src_of(first);
    assert!(in_pool(e.0));
    assert_eq!(
        sorted(out.outside.clone()),
        sorted(fragmented_out_expected(&payload, e))
    );
    for x in &out.outside {
        assert_ip_header_checksum_ok(x);
    }
    assert_eq!(ev(&h, Event::FragmentTranslated), 2);
    assert_eq!(h.w.fragments(), (0, 0), "datagram complete, state freed");
    // The binding made by the first fragment is the subscriber's binding.
    assert_eq!(udp_out(&mut h, SUB1, 5000, SERVER, 53), e);
    assert_eq!(h.w.counters().total_drops(), 0);
}

#[test]
fn rfc4787_req14_in_order_fragments_translated() {
    let mut h = lab();
    let (payload, f) = fragmented_out();
    let first = h.send(Side::Inside, &f[0]).only_outside();
    let e = src_of(&first);
    let exp = fragmented_out_expected(&payload, e);
    assert_eq!(first, exp[0]);
    assert_eq!(h.send(Side::Inside, &f[1]).only_outside(), exp[1]);
    assert_eq!(h.send(Side::Inside, &f[2]).only_outside(), exp[2]);
    assert_eq!(ev(&h, Event::FragmentTranslated), 2);
    assert_eq!(ev(&h, Event::FragmentHeld), 0);
    assert_eq!(h.w.fragments(), (0, 0));
}

#[test]
fn rfc4787_req14_inbound_out_of_order_fragments() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let payload: Vec<u8> = (0..100u8).rev().collect();
    let whole = udp_with(
        NH_MAC,
        OUT_MAC,
        ipv4_header(SERVER, e.0, 64, 0x0777, false),
        53,
        e.1,
        &payload,
    );
    let f = fragment(&whole, &[40, 80]);
    // Middle first: held.
    assert!(h.send(Side::Outside, &f[1]).is_empty());
    let out = h.send(Side::Outside, &f[0]);
    assert!(out.outside.is_empty());
    assert_eq!(out.inside.len(), 2);
    let last = h.send(Side::Outside, &f[2]).only_inside();
    let delivered = udp_with(
        IN_MAC,
        SUB_MAC,
        ipv4_header(SERVER, SUB1, 63, 0x0777, false),
        53,
        5000,
        &payload,
    );
    let exp = fragment(&delivered, &[40, 80]);
    let mut all = out.inside;
    all.push(last);
    assert_eq!(sorted(all), sorted(exp));
    assert_eq!(h.w.fragments(), (0, 0));
}

#[test]
fn rfc4787_req14_hairpinned_fragments() {
    let mut h = lab();
    let b_pub = udp_out(&mut h, SUB2, 6000, SERVER, 53);
    let a_pub = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let payload: Vec<u8> = (0..100u8).collect();
    let whole = udp_with(
        SUB_MAC,
        IN_MAC,
        ipv4_header(SUB1, b_pub.0, 64, 0x5151, false),
        5000,
        b_pub.1,
        &payload,
    );
    let delivered = udp_with(
        IN_MAC,
        SUB_MAC,
        ipv4_header(a_pub.0, SUB2, 63, 0x5151, false),
        a_pub.1,
        6000,
        &payload,
    );
    let exp = fragment(&delivered, &[40, 80]);
    for (f, e) in fragment(&whole, &[40, 80]).iter().zip(&exp) {
        assert_eq!(&h.send(Side::Inside, f).only_inside(), e);
    }
}

#[test]
fn rfc4787_req14_fragment_whose_first_never_comes_dropped_after_2s() {
    let mut h = lab();
    let (_, f) = fragmented_out();
    assert!(h.send(Side::Inside, &f[1]).is_empty());
    assert_eq!(h.w.fragments(), (1, 1));
    h.now += 2 * SEC - 1;
    assert!(h.poll().is_empty());
    assert_eq!(
        h.drops(DropReason::FragmentTimeout),
        0,
        "held for 2 s at least"
    );
    h.now += 1;
    assert!(h.poll().is_empty());
    assert_eq!(h.drops(DropReason::FragmentTimeout), 1);
    assert_eq!(h.w.fragments(), (0, 0));
    assert_eq!(h.w.bindings(), 0);
}

// ---- RFC 5382: TCP ------------------------------------------------------------------------------

#[test]
fn rfc5382_req1_endpoint_independent_mapping_tcp() {
    for filtering in [EIF, ADF, APDF] {
        let mut h = harness(|c| c.filtering = filtering);
        let a = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
        let b = tcp_out(&mut h, SUB1, 40000, REMOTE, 443, TCP_SYN);
        let c = tcp_out(&mut h, SUB1, 40000, SERVER, 8080, TCP_SYN);
        assert_eq!(a, b, "{filtering:?}");
        assert_eq!(a, c, "{filtering:?}");
        assert_eq!(h.w.bindings(), 1);
        tcp_in_ok(&mut h, SERVER, 80, a, TCP_SYN | TCP_ACK, SUB1, 40000);
        tcp_in_ok(&mut h, REMOTE, 443, a, TCP_SYN | TCP_ACK, SUB1, 40000);
    }
}

#[test]
fn rfc5382_req2_simultaneous_open_under_apdf() {
    let mut h = harness(|c| c.filtering = APDF);
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    // The remote's own SYN crosses ours: a bare SYN from the endpoint we sent to passes.
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_SYN, SUB1, 40000);
    // Both SYN-ACKs, then data both ways.
    assert_eq!(
        tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN | TCP_ACK),
        p
    );
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_SYN | TCP_ACK, SUB1, 40000);
    assert_eq!(tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_ACK), p);
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_ACK, SUB1, 40000);
    assert_eq!(h.w.sessions(), 1);
    assert_eq!(ev(&h, Event::SynHeld), 0);
    assert_eq!(h.w.counters().total_drops(), 0);
}

#[test]
fn rfc5382_req3_tcp_endpoint_independent_filtering() {
    let mut h = lab();
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    // A new connection from anyone to the public endpoint.
    tcp_in_ok(&mut h, REMOTE, 5555, p, TCP_SYN, SUB1, 40000);
    assert_eq!(ev(&h, Event::SynHeld), 0);
}

#[test]
fn rfc5382_req3_tcp_address_dependent_filtering() {
    let mut h = harness(|c| c.filtering = ADF);
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    // The contacted host from another port: yes.
    tcp_in_ok(&mut h, SERVER, 81, p, TCP_SYN, SUB1, 40000);
    // Another host: not delivered (held as unsolicited).
    assert!(tcp_in(&mut h, REMOTE, 80, p, TCP_SYN).is_empty());
    assert_eq!(ev(&h, Event::SynHeld), 1);
}

#[test]
fn rfc5382_req3_tcp_apdf_refuses_syn_from_another_port() {
    let mut h = harness(|c| c.filtering = APDF);
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    assert!(tcp_in(&mut h, SERVER, 81, p, TCP_SYN).is_empty());
    assert!(tcp_in(&mut h, REMOTE, 80, p, TCP_SYN).is_empty());
    assert_eq!(ev(&h, Event::SynHeld), 2);
    // A non-SYN from another port is dropped outright.
    assert!(tcp_in(&mut h, SERVER, 81, p, TCP_ACK).is_empty());
    assert_eq!(h.drops(DropReason::TcpNoSession), 1);
    // Never delivered, whatever happens later (the held SYNs are answered with ICMP outside).
    let later = advance(&mut h, 10);
    assert!(later.inside.is_empty());
    assert_eq!(later.outside.len(), 2);
    assert_eq!(h.w.sessions(), 1);
}

#[test]
fn rfc5382_req4_unsolicited_syn_held_6s_then_port_unreachable() {
    let mut h = lab();
    let syn = tcp_seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        5555,
        UNBOUND_PUB,
        40000,
        64,
        TCP_SYN,
        None,
        b"",
    );
    assert!(h.send(Side::Outside, &syn).is_empty());
    assert_eq!(h.w.syns_held(), 1);
    assert_eq!(ev(&h, Event::SynHeld), 1);
    assert!(advance(&mut h, 5).is_empty(), "no answer before 6 s");
    // Answered once the 6 s are over (checked at 7 s, so either 6 s or up to 7 s passes).
    let r = advance(&mut h, 2).only_outside();
    // From the public address the SYN was sent to, quoting its IP header and 8 bytes.
    let expected = generated_error(
        &r,
        OUT_MAC,
        NH_MAC,
        UNBOUND_PUB,
        SERVER,
        3,
        3,
        [0; 4],
        &ip_part(&syn)[..28],
    );
    assert_eq!(r, expected);
    assert_checksums_ok(&r);
    assert_eq!(ev(&h, Event::IcmpPortUnreachableSent), 1);
    assert_eq!(h.w.syns_held(), 0);
    assert!(advance(&mut h, 30).is_empty(), "answered once");
}

#[test]
fn rfc5382_req4_filtered_syn_to_a_binding_answered_after_6s() {
    let mut h = harness(|c| c.filtering = APDF);
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    let syn = tcp_seg(
        NH_MAC, OUT_MAC, REMOTE, 5555, p.0, p.1, 64, TCP_SYN, None, b"",
    );
    assert!(h.send(Side::Outside, &syn).is_empty());
    assert!(advance(&mut h, 5).is_empty());
    // Answered once the 6 s are over (checked at 7 s, so either 6 s or up to 7 s passes).
    let r = advance(&mut h, 2).only_outside();
    assert_eq!(
        r,
        generated_error(
            &r,
            OUT_MAC,
            NH_MAC,
            p.0,
            REMOTE,
            3,
            3,
            [0; 4],
            &ip_part(&syn)[..28]
        )
    );
    assert_checksums_ok(&r);
    assert_eq!(h.w.bindings(), 1, "the binding is untouched");
}

#[test]
fn rfc5382_req4_syn_never_answered_before_6s_subsecond_arrival() {
    let mut h = lab();
    h.now = SEC + 900 * MS;
    let syn = tcp_seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        5555,
        UNBOUND_PUB,
        40000,
        64,
        TCP_SYN,
        None,
        b"",
    );
    assert!(h.send(Side::Outside, &syn).is_empty());
    // 5.1 s after the SYN.
    h.now = 7 * SEC;
    assert!(
        h.poll().is_empty(),
        "ICMP sent 5.1 s after the SYN (MUST NOT respond for at least 6 s)"
    );
    // Still not at 6 s minus a hair; answered within 7 s (timers have 1 s granularity and
    // round up, never down).
    h.now = 7 * SEC + 800 * MS;
    assert!(h.poll().is_empty());
    h.now = 8 * SEC + 900 * MS;
    assert_eq!(h.poll().outside.len(), 1);
}

#[test]
fn rfc5382_req4_held_syn_dropped_silently_when_outbound_syn_follows() {
    let mut h = harness(|c| c.filtering = APDF);
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    assert!(tcp_in(&mut h, REMOTE, 5555, p, TCP_SYN).is_empty());
    assert_eq!(h.w.syns_held(), 1);
    advance(&mut h, 3);
    // The subscriber opens towards the same remote endpoint within 6 s.
    assert_eq!(tcp_out(&mut h, SUB1, 40000, REMOTE, 5555, TCP_SYN), p);
    assert_eq!(ev(&h, Event::SynHoldSimultaneousOpen), 1);
    assert_eq!(h.w.syns_held(), 0);
    // No ICMP, ever.
    assert!(advance(&mut h, 10).is_empty());
    assert_eq!(ev(&h, Event::IcmpPortUnreachableSent), 0);
    // The remote's retransmitted SYN now belongs to a connection and passes.
    tcp_in_ok(&mut h, REMOTE, 5555, p, TCP_SYN, SUB1, 40000);
}

#[test]
fn rfc5382_req5_established_idle_timeout_7440s() {
    let mut h = lab();
    let p = tcp_established(&mut h);
    advance(&mut h, 7439);
    assert_eq!(
        h.w.sessions(),
        1,
        "established session alive after 7439 s idle"
    );
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.sessions(), 0, "gone after 7441 s idle");
    assert_eq!(ev(&h, Event::SessionExpired), 1);
    // The connection is no longer translated inbound.
    assert!(tcp_in(&mut h, SERVER, 80, p, TCP_ACK).is_empty());
    assert_eq!(h.drops(DropReason::TcpNoSession), 1);
    // The sessionless binding follows within the transitory time.
    advance(&mut h, 240);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc5382_req5_established_timeout_never_below_7440s_subsecond() {
    let mut h = lab();
    h.now = SEC + 900 * MS;
    tcp_established(&mut h);
    h.now = 7441 * SEC; // 7439.1 s idle
    h.poll();
    assert_eq!(
        h.w.sessions(),
        1,
        "removed after 7439.1 s idle (MUST NOT be less than 2 h 4 min)"
    );
    h.now = 7442 * SEC;
    h.poll();
    assert_eq!(h.w.sessions(), 0);
}

#[test]
fn rfc5382_req5_partially_open_transitory_240s() {
    let mut h = lab();
    tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    advance(&mut h, 239);
    assert_eq!(h.w.sessions(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.sessions(), 0);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc5382_req5_fin_both_ways_transitory_240s() {
    let mut h = lab();
    let p = tcp_established(&mut h);
    advance(&mut h, 1000);
    assert_eq!(h.w.sessions(), 1, "established, 1000 s idle");
    assert_eq!(
        tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_FIN | TCP_ACK),
        p
    );
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_FIN | TCP_ACK, SUB1, 40000);
    assert_eq!(tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_ACK), p);
    advance(&mut h, 239);
    assert_eq!(h.w.sessions(), 1, "closing: 240 s");
    advance(&mut h, 2);
    assert_eq!(h.w.sessions(), 0);
}

#[test]
fn rfc5382_req5_rst_transitory_240s() {
    let mut h = lab();
    let p = tcp_established(&mut h);
    advance(&mut h, 100);
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_RST | TCP_ACK, SUB1, 40000);
    advance(&mut h, 239);
    assert_eq!(h.w.sessions(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.sessions(), 0);
}

#[test]
fn rfc5382_req7_no_port_overloading_tcp() {
    let the_pub = [203, 0, 113, 5];
    let mut h = harness(|c| c.pool = vec![ip(the_pub)]);
    let a = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    let b = tcp_out(&mut h, SUB2, 40000, SERVER, 80, TCP_SYN);
    assert_ne!(a, b);
    tcp_in_ok(&mut h, SERVER, 80, a, TCP_SYN | TCP_ACK, SUB1, 40000);
    tcp_in_ok(&mut h, SERVER, 80, b, TCP_SYN | TCP_ACK, SUB2, 40000);
}

#[test]
fn rfc5382_req8_hairpin_tcp() {
    let mut h = lab();
    let b_pub = tcp_out(&mut h, SUB2, 8080, SERVER, 80, TCP_SYN);
    // A connects to B's public endpoint.
    let got = h
        .send(
            Side::Inside,
            &tcp_seg(
                SUB_MAC, IN_MAC, SUB1, 40000, b_pub.0, b_pub.1, 64, TCP_SYN, None, b"",
            ),
        )
        .only_inside();
    let a_pub = src_of(&got);
    assert!(in_pool(a_pub.0));
    assert_eq!(
        got,
        tcp_seg(IN_MAC, SUB_MAC, a_pub.0, a_pub.1, SUB2, 8080, 63, TCP_SYN, None, b"")
    );
    assert_checksums_ok(&got);
    // B answers A's public endpoint; A sees B's public endpoint.
    for flags in [TCP_SYN | TCP_ACK, TCP_ACK] {
        let back = h
            .send(
                Side::Inside,
                &tcp_seg(
                    SUB_MAC, IN_MAC, SUB2, 8080, a_pub.0, a_pub.1, 64, flags, None, b"",
                ),
            )
            .only_inside();
        assert_eq!(
            back,
            tcp_seg(IN_MAC, SUB_MAC, b_pub.0, b_pub.1, SUB1, 40000, 63, flags, None, b"")
        );
        assert_checksums_ok(&back);
    }
    // A's hairpin endpoint is its real public endpoint.
    assert_eq!(tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN), a_pub);
    assert_eq!(ev(&h, Event::Hairpinned), 3);
}

/// The inbound ICMP error test of RFC 5382 REQ-9 with `quote_len` bytes of the segment quoted.
fn icmp_unreachable_about_tcp(quote_len: usize) {
    let mut h = lab();
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    let sent = tcp_seg(
        OUT_MAC, NH_MAC, p.0, p.1, SERVER, 80, 63, TCP_SYN, None, b"",
    );
    // A router on the path (REMOTE) reports host unreachable.
    let err = icmp_raw(
        NH_MAC,
        OUT_MAC,
        REMOTE,
        p.0,
        64,
        3,
        1,
        [0; 4],
        &ip_part(&sent)[..quote_len],
    );
    let got = h.send(Side::Outside, &err).only_inside();
    let as_sent_by_sub = tcp_seg(
        SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 63, TCP_SYN, None, b"",
    );
    assert_eq!(
        got,
        icmp_raw(
            IN_MAC,
            SUB_MAC,
            REMOTE,
            SUB1,
            63,
            3,
            1,
            [0; 4],
            &ip_part(&as_sent_by_sub)[..quote_len]
        ),
        "quote {quote_len}"
    );
    assert_checksums_ok(&got);
    assert_eq!(ev(&h, Event::IcmpErrorIn), 1);
}

#[test]
fn rfc5382_req9_icmp_dest_unreachable_about_tcp_translated() {
    icmp_unreachable_about_tcp(40);
}

#[test]
fn rfc5382_req9_icmp_dest_unreachable_about_tcp_minimum_quote() {
    icmp_unreachable_about_tcp(28);
}

#[test]
fn rfc5382_req10_icmp_errors_never_end_a_tcp_mapping() {
    let mut h = lab();
    let p = tcp_established(&mut h);
    let sent = tcp_seg(
        OUT_MAC, NH_MAC, p.0, p.1, SERVER, 80, 63, TCP_ACK, None, b"",
    );
    let errors = |h: &mut Harness| {
        for (t, c) in [(3u8, 3u8), (3, 1), (3, 13), (11, 0), (12, 0)] {
            let err = icmp_raw(
                NH_MAC,
                OUT_MAC,
                SERVER,
                p.0,
                64,
                t,
                c,
                [0; 4],
                ip_part(&sent),
            );
            let got = h.send(Side::Outside, &err).only_inside();
            assert_eq!((got[34], got[35]), (t, c));
        }
        assert_eq!((h.w.bindings(), h.w.sessions()), (1, 1), "mapping ended");
    };
    advance(&mut h, 100);
    errors(&mut h);
    // The connection carries on (last real segments at t = 101 s).
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_ACK, SUB1, 40000);
    assert_eq!(tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_ACK), p);
    // Errors do not refresh it either: it ends 7440 s after the last segment.
    advance(&mut h, 100);
    errors(&mut h);
    advance(&mut h, 7339);
    assert_eq!(h.w.sessions(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.sessions(), 0, "an ICMP error refreshed the session");
}

// ---- RFC 5508: ICMP -----------------------------------------------------------------------------

#[test]
fn rfc5508_req1_echo_identifier_acts_as_the_port() {
    let the_pub = [203, 0, 113, 5];
    let mut h = harness(|c| c.pool = vec![ip(the_pub)]);
    let a = echo_out(&mut h, SUB1, SERVER, 0x1234);
    let b = echo_out(&mut h, SUB2, SERVER, 0x1234);
    assert_ne!(a, b, "same identifier from two subscribers");
    assert_eq!(echo_out(&mut h, SUB1, REMOTE, 0x1234), a, "EIM for queries");
    let c = echo_out(&mut h, SUB1, SERVER, 0x4321);
    assert_ne!(a, c);
    for (pub_ep, sub, id) in [(a, SUB1, 0x1234), (b, SUB2, 0x1234), (c, SUB1, 0x4321)] {
        let got = h
            .send(
                Side::Outside,
                &echo(NH_MAC, OUT_MAC, SERVER, pub_ep.0, 64, false, pub_ep.1, 1),
            )
            .only_inside();
        assert_eq!(got, echo(IN_MAC, SUB_MAC, SERVER, sub, 63, false, id, 1));
        assert_checksums_ok(&got);
    }
}

#[test]
fn rfc5508_req2_icmp_query_timeout_60s() {
    let mut h = lab();
    let q = echo_out(&mut h, SUB1, SERVER, 0x1234);
    advance(&mut h, 59);
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
    assert!(h
        .send(
            Side::Outside,
            &echo(NH_MAC, OUT_MAC, SERVER, q.0, 64, false, q.1, 1)
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::NoBinding), 1);
}

#[test]
fn rfc5508_req3_icmp_error_with_bad_checksum_dropped() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let good = icmp_raw(
        NH_MAC,
        OUT_MAC,
        SERVER,
        e.0,
        64,
        3,
        3,
        [0; 4],
        ip_part(&udp_as_sent(e, SERVER, 53)),
    );
    // Inbound, ICMP checksum (bytes 36..38) damaged.
    let mut bad = good.clone();
    bad[36] ^= 0x5a;
    assert!(h.send(Side::Outside, &bad).is_empty());
    assert_eq!(h.drops(DropReason::IcmpChecksum), 1);
    // Damage in the quoted part is caught too (the checksum covers the whole message).
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x01;
    assert!(h.send(Side::Outside, &bad).is_empty());
    assert_eq!(h.drops(DropReason::IcmpChecksum), 2);
    // Outbound, from the subscriber.
    let delivered = udp(IN_MAC, SUB_MAC, SERVER, 53, SUB1, 5000, 63, PAYLOAD);
    let mut bad = icmp_raw(
        SUB_MAC,
        IN_MAC,
        SUB1,
        SERVER,
        64,
        3,
        3,
        [0; 4],
        ip_part(&delivered),
    );
    bad[37] ^= 0x01;
    assert!(h.send(Side::Inside, &bad).is_empty());
    assert_eq!(h.drops(DropReason::IcmpChecksum), 3);
    // The intact error passes.
    assert_eq!(h.send(Side::Outside, &good).inside.len(), 1);
}

#[test]
fn rfc5508_req4_inbound_error_translated_through_embedded_header() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let err = icmp_raw(
        NH_MAC,
        OUT_MAC,
        SERVER,
        e.0,
        64,
        3,
        3,
        [0; 4],
        ip_part(&udp_as_sent(e, SERVER, 53)),
    );
    let got = h.send(Side::Outside, &err).only_inside();
    // Outer destination, embedded source address and port rewritten; every checksum valid.
    let as_sent_by_sub = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 63, PAYLOAD);
    let expected = icmp_raw(
        IN_MAC,
        SUB_MAC,
        SERVER,
        SUB1,
        63,
        3,
        3,
        [0; 4],
        ip_part(&as_sent_by_sub),
    );
    assert_eq!(got, expected);
    assert_checksums_ok(&got);
    // The embedded datagram's own checksums are valid too.
    let inner = &got[14 + 20 + 8..];
    let mut framed = got[..14].to_vec();
    framed.extend_from_slice(inner);
    assert_checksums_ok(&framed);
    assert_eq!(ev(&h, Event::IcmpErrorIn), 1);
}

#[test]
fn rfc5508_req4_time_exceeded_about_echo_translated() {
    // ICMP traceroute: the echo leaves with TTL 1 and the next router reports it.
    let mut h = lab();
    let req = echo(SUB_MAC, IN_MAC, SUB1, REMOTE, 2, true, 0x1234, 7);
    let out = h.send(Side::Inside, &req).only_outside();
    let q = echo_src_of(&out);
    let err = icmp_raw(
        NH_MAC,
        OUT_MAC,
        SERVER,
        q.0,
        64,
        11,
        0,
        [0; 4],
        ip_part(&out),
    );
    let got = h.send(Side::Outside, &err).only_inside();
    let as_sent_by_sub = echo(SUB_MAC, IN_MAC, SUB1, REMOTE, 1, true, 0x1234, 7);
    assert_eq!(
        got,
        icmp_raw(
            IN_MAC,
            SUB_MAC,
            SERVER,
            SUB1,
            63,
            11,
            0,
            [0; 4],
            ip_part(&as_sent_by_sub)
        )
    );
    assert_checksums_ok(&got);
}

#[test]
fn rfc5508_req4_error_without_mapping_dropped() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    // About a public endpoint nobody holds: another address, another port, another protocol.
    for (quoted_src, proto_tcp) in [
        ((UNBOUND_PUB, 4444), false),
        ((e.0, e.1.wrapping_add(1)), false),
        (e, true),
    ] {
        let sent = if proto_tcp {
            tcp_seg(
                OUT_MAC,
                NH_MAC,
                quoted_src.0,
                quoted_src.1,
                SERVER,
                53,
                63,
                TCP_SYN,
                None,
                b"",
            )
        } else {
            udp_as_sent(quoted_src, SERVER, 53)
        };
        let err = icmp_raw(
            NH_MAC,
            OUT_MAC,
            SERVER,
            quoted_src.0,
            64,
            3,
            3,
            [0; 4],
            ip_part(&sent),
        );
        assert!(h.send(Side::Outside, &err).is_empty());
    }
    assert_eq!(h.drops(DropReason::IcmpErrorNoBinding), 3);
    assert_eq!(h.w.bindings(), 1);
}

#[test]
fn rfc5508_req5_outbound_error_translated() {
    let mut h = lab();
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let delivered = udp_in_ok(&mut h, SERVER, 53, e, SUB1, 5000);
    // The subscriber's port is closed: its stack answers port unreachable quoting what it got.
    let err = icmp_raw(
        SUB_MAC,
        IN_MAC,
        SUB1,
        SERVER,
        64,
        3,
        3,
        [0; 4],
        ip_part(&delivered),
    );
    let got = h.send(Side::Inside, &err).only_outside();
    // From the public address, about the datagram as the server sent it.
    let as_sent_by_server = udp(NH_MAC, OUT_MAC, SERVER, 53, e.0, e.1, 63, PAYLOAD);
    assert_eq!(
        got,
        icmp_raw(
            OUT_MAC,
            NH_MAC,
            e.0,
            SERVER,
            63,
            3,
            3,
            [0; 4],
            ip_part(&as_sent_by_server)
        )
    );
    assert_checksums_ok(&got);
    assert_eq!(ev(&h, Event::IcmpErrorOut), 1);
}

#[test]
fn rfc5508_req6_errors_never_refresh_or_delete_sessions() {
    let mut h = harness(|c| c.filtering = APDF);
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    assert_eq!(h.w.sessions(), 1);
    advance(&mut h, 100);
    let inbound = icmp_raw(
        NH_MAC,
        OUT_MAC,
        SERVER,
        e.0,
        64,
        3,
        3,
        [0; 4],
        ip_part(&udp_as_sent(e, SERVER, 53)),
    );
    assert_eq!(h.send(Side::Outside, &inbound).inside.len(), 1);
    advance(&mut h, 100);
    let delivered = udp(IN_MAC, SUB_MAC, SERVER, 53, SUB1, 5000, 63, PAYLOAD);
    let outbound = icmp_raw(
        SUB_MAC,
        IN_MAC,
        SUB1,
        SERVER,
        64,
        3,
        3,
        [0; 4],
        ip_part(&delivered),
    );
    assert_eq!(h.send(Side::Inside, &outbound).outside.len(), 1);
    assert_eq!((h.w.bindings(), h.w.sessions()), (1, 1), "nothing deleted");
    advance(&mut h, 99);
    assert_eq!((h.w.bindings(), h.w.sessions()), (1, 1), "299 s idle");
    advance(&mut h, 2);
    assert_eq!(
        (h.w.bindings(), h.w.sessions()),
        (0, 0),
        "expired 300 s after the last datagram, not after the errors"
    );
}

#[test]
fn rfc5508_req6_error_about_query_does_not_refresh_it() {
    let mut h = lab();
    let req = echo(SUB_MAC, IN_MAC, SUB1, REMOTE, 64, true, 0x1234, 1);
    let out = h.send(Side::Inside, &req).only_outside();
    let q = echo_src_of(&out);
    advance(&mut h, 30);
    let err = icmp_raw(
        NH_MAC,
        OUT_MAC,
        SERVER,
        q.0,
        64,
        3,
        1,
        [0; 4],
        ip_part(&out),
    );
    assert_eq!(h.send(Side::Outside, &err).inside.len(), 1);
    advance(&mut h, 29);
    assert_eq!(h.w.bindings(), 1);
    advance(&mut h, 2);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn rfc5508_req7_hairpin_echo_query() {
    // REQ-7 requires hairpinned query sessions of Basic NAT only; for NAPT the identifier is
    // the "port": an echo request to B's public address and public identifier reaches B from
    // A's public address (and never leaks to the Internet).
    let mut h = lab();
    let b_q = echo_out(&mut h, SUB2, SERVER, 0x2222);
    let a_q = echo_out(&mut h, SUB1, SERVER, b_q.1);
    let got = h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, SUB1, b_q.0, 64, true, b_q.1, 1),
        )
        .only_inside();
    assert_eq!(got, echo(IN_MAC, SUB_MAC, a_q.0, SUB2, 63, true, 0x2222, 1));
    assert_checksums_ok(&got);
    assert_eq!(ev(&h, Event::Hairpinned), 1);
    // To a public identifier nobody holds: dropped, not sent out.
    let unheld = b_q.1.wrapping_add(1);
    assert!(h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, SUB1, b_q.0, 64, true, unheld, 1)
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::Hairpin), 1);
}

#[test]
fn rfc5508_req7_hairpin_icmp_error() {
    let mut h = lab();
    let b_pub = udp_out(&mut h, SUB2, 6000, SERVER, 53);
    let a_pub = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let delivered_to_b = h
        .send(
            Side::Inside,
            &udp(
                SUB_MAC, IN_MAC, SUB1, 5000, b_pub.0, b_pub.1, 64, b"hairpin",
            ),
        )
        .only_inside();
    // B's port is closed: B reports port unreachable to A's public address.
    let err = icmp_raw(
        SUB_MAC,
        IN_MAC,
        SUB2,
        a_pub.0,
        64,
        3,
        3,
        [0; 4],
        ip_part(&delivered_to_b),
    );
    let out = h.send(Side::Inside, &err);
    assert!(
        out.outside.is_empty() && out.inside.len() == 1,
        "{:?}",
        h.w.counters()
    );
    let got = out.inside.into_iter().next().unwrap();
    // A gets it from B's public address, about its datagram as A sent it (REQ-7a: the outer
    // destination is the embedded source after translation).
    let as_sent_by_a = udp(
        SUB_MAC, IN_MAC, SUB1, 5000, b_pub.0, b_pub.1, 63, b"hairpin",
    );
    assert_eq!(
        got,
        icmp_raw(
            IN_MAC,
            SUB_MAC,
            b_pub.0,
            SUB1,
            63,
            3,
            3,
            [0; 4],
            ip_part(&as_sent_by_a)
        )
    );
    assert_checksums_ok(&got);
}

#[test]
fn rfc5508_req8_mapping_failure_admin_prohibited_rate_limited() {
    let mut h = harness(|c| {
        c.block_size = 8;
        c.max_blocks_per_subscriber = 1;
        c.icmp_error_rate = 2;
    });
    let mut held = Vec::new();
    for p in 0..8u16 {
        held.push(udp_out(&mut h, SUB1, 1000 + p, SERVER, 53));
    }
    let refused = |i: u16| udp(SUB_MAC, IN_MAC, SUB1, 2000 + i, SERVER, 53, 64, PAYLOAD);
    for i in 0..2 {
        let r = h.send(Side::Inside, &refused(i)).only_inside();
        assert_admin_prohibited(&r, SUB1, &refused(i));
    }
    // The bucket (2 a second, burst 2) is empty: dropped without an error.
    assert!(h.send(Side::Inside, &refused(2)).is_empty());
    assert!(h.send(Side::Inside, &refused(3)).is_empty());
    assert_eq!(ev(&h, Event::IcmpRateLimited), 2);
    assert_eq!(h.drops(DropReason::PortExhausted), 4);
    assert_eq!(ev(&h, Event::IcmpAdminProhibitedSent), 2);
    // A second later the bucket has refilled.
    advance(&mut h, 1);
    let r = h.send(Side::Inside, &refused(4)).only_inside();
    assert_admin_prohibited(&r, SUB1, &refused(4));
    assert_eq!(h.w.bindings(), 8);
}

// ---- RFC 6888: CGN ------------------------------------------------------------------------------

#[test]
fn rfc6888_req3_non_contiguous_pool() {
    let far_a = [192, 0, 2, 77];
    let far_b = [203, 0, 113, 200];
    let mut h = harness(|c| {
        c.pool = vec![ip(far_a), ip(far_b)];
        // One block per address, one block per subscriber: two subscribers use both.
        c.port_min = 1024;
        c.port_max = 1024 + 511;
        c.block_size = 512;
        c.max_blocks_per_subscriber = 1;
    });
    let a = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    let b = udp_out(&mut h, SUB2, 5000, SERVER, 53);
    let used: HashSet<[u8; 4]> = [a.0, b.0].into_iter().collect();
    assert_eq!(used, [far_a, far_b].into_iter().collect());
    udp_in_ok(&mut h, SERVER, 53, a, SUB1, 5000);
    udp_in_ok(&mut h, SERVER, 53, b, SUB2, 5000);
    for pub_addr in [far_a, far_b] {
        let r = h
            .send(Side::Outside, &arp_request(NH_MAC, SERVER, pub_addr))
            .only_outside();
        assert_eq!(r, arp(2, OUT_MAC, NH_MAC, pub_addr, NH_MAC, SERVER));
    }
    // Addresses between them are not ours.
    assert!(udp_in(&mut h, SERVER, 53, ([198, 51, 100, 77], a.1)).is_empty());
    assert_eq!(h.drops(DropReason::NotForUs), 1);
    // A third subscriber finds the pool exhausted.
    assert!(h
        .send(
            Side::Inside,
            &udp(
                SUB_MAC,
                IN_MAC,
                [100, 64, 0, 9],
                5000,
                SERVER,
                53,
                64,
                PAYLOAD
            )
        )
        .outside
        .is_empty());
    assert_eq!(h.drops(DropReason::PoolExhausted), 1);
}

#[test]
fn rfc6888_req4_per_subscriber_port_limit() {
    let mut h = harness(|c| {
        c.block_size = 8;
        c.max_blocks_per_subscriber = 2;
    });
    let mut mine = Vec::new();
    for p in 0..16u16 {
        mine.push(udp_out(&mut h, SUB1, 1000 + p, SERVER, 53));
    }
    let refused = udp(SUB_MAC, IN_MAC, SUB1, 2000, SERVER, 53, 64, PAYLOAD);
    let r = h.send(Side::Inside, &refused).only_inside();
    assert_admin_prohibited(&r, SUB1, &refused);
    assert_eq!(h.drops(DropReason::PortExhausted), 1);
    assert_eq!(h.w.blocks_allocated(), 2);
    // Others are unaffected.
    udp_out(&mut h, SUB2, 2000, SERVER, 53);
    assert_eq!(h.w.blocks_allocated(), 3);
    // And the subscriber's existing bindings keep working.
    for (sport, e) in (1000u16..).zip(&mine) {
        udp_in_ok(&mut h, SERVER, 53, *e, SUB1, sport);
    }
}

#[test]
fn rfc6888_req5_per_subscriber_session_limit() {
    let mut h = harness(|c| c.max_sessions_per_subscriber = 5);
    // One binding plus four sessions.
    let p = tcp_out(&mut h, SUB1, 40000, SERVER, 80, TCP_SYN);
    for port in 81..84 {
        assert_eq!(tcp_out(&mut h, SUB1, 40000, SERVER, port, TCP_SYN), p);
    }
    let refused = tcp_seg(
        SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 84, 64, TCP_SYN, None, b"",
    );
    let r = h.send(Side::Inside, &refused).only_inside();
    assert_admin_prohibited(&r, SUB1, &refused);
    assert_eq!(h.drops(DropReason::SessionLimit), 1);
    // A new binding counts too.
    let refused = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, PAYLOAD);
    assert_eq!(h.send(Side::Inside, &refused).inside.len(), 1);
    assert_eq!(h.drops(DropReason::SessionLimit), 2);
    // Other subscribers are unaffected, existing sessions keep working.
    tcp_out(&mut h, SUB2, 40000, SERVER, 84, TCP_SYN);
    tcp_in_ok(&mut h, SERVER, 80, p, TCP_SYN | TCP_ACK, SUB1, 40000);
    assert_eq!(h.w.sessions(), 5);
}

#[test]
fn rfc6888_req6_no_translate_destinations_pass_untouched() {
    let mut h = harness(|c| c.no_translate = vec![(ip([198, 51, 100, 0]), 24)]);
    // Addresses and ports unchanged, TTL decremented, both ways.
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, PAYLOAD),
        )
        .only_outside();
    assert_eq!(
        out,
        udp(OUT_MAC, NH_MAC, SUB1, 5000, SERVER, 53, 63, PAYLOAD)
    );
    assert_checksums_ok(&out);
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, SUB1, 5000, 64, b"answer"),
        )
        .only_inside();
    assert_eq!(
        back,
        udp(IN_MAC, SUB_MAC, SERVER, 53, SUB1, 5000, 63, b"answer")
    );
    assert_checksums_ok(&back);
    let out = h
        .send(
            Side::Inside,
            &tcp_seg(
                SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, TCP_SYN, None, b"",
            ),
        )
        .only_outside();
    assert_eq!(
        out,
        tcp_seg(OUT_MAC, NH_MAC, SUB1, 40000, SERVER, 80, 63, TCP_SYN, None, b"")
    );
    let out = h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, SUB1, SERVER, 64, true, 0x1234, 1),
        )
        .only_outside();
    assert_eq!(
        out,
        echo(OUT_MAC, NH_MAC, SUB1, SERVER, 63, true, 0x1234, 1)
    );
    assert_eq!(h.w.bindings(), 0, "no state for pass-through traffic");
    assert_eq!(ev(&h, Event::PassthroughOut), 3);
    assert_eq!(ev(&h, Event::PassthroughIn), 1);
    // Other destinations are still translated.
    let e = udp_out(&mut h, SUB1, 5000, REMOTE, 53);
    assert!(in_pool(e.0));
}

#[test]
fn rfc6888_req8_port_hold_down_120s() {
    let mut h = harness(|c| {
        c.block_size = 8;
        c.max_blocks_per_subscriber = 1;
    });
    let first = udp_out(&mut h, SUB1, 1000, SERVER, 53);
    advance(&mut h, 301);
    assert_eq!(h.w.bindings(), 0);
    assert_eq!(h.w.nat().ports_cooling(), 1);
    // The next 7 bindings get the block's 7 other ports, never the freed one.
    for p in 1..8u16 {
        let e = udp_out(&mut h, SUB1, 1000 + p, SERVER, 53);
        assert_ne!(e, first, "port reused during its hold-down");
    }
    // An 8th finds none: the freed port is held down.
    let next = udp(SUB_MAC, IN_MAC, SUB1, 2000, SERVER, 53, 64, PAYLOAD);
    assert!(h.send(Side::Inside, &next).outside.is_empty());
    assert_eq!(h.drops(DropReason::PortExhausted), 1);
    advance(&mut h, 119);
    assert!(h.send(Side::Inside, &next).outside.is_empty());
    assert_eq!(h.drops(DropReason::PortExhausted), 2);
    // Once its 120 s are over, the port is available again.
    advance(&mut h, 2);
    assert_eq!(h.w.nat().ports_cooling(), 0);
    assert_eq!(udp_out(&mut h, SUB1, 2000, SERVER, 53), first);
}

#[test]
fn rfc6888_req11_failure_keeps_existing_mappings() {
    let mut h = harness(|c| c.max_bindings = 4);
    let held = [
        udp_out(&mut h, SUB1, 5000, SERVER, 53),
        udp_out(&mut h, SUB1, 5001, SERVER, 53),
        udp_out(&mut h, SUB2, 5000, SERVER, 53),
        udp_out(&mut h, SUB2, 5001, SERVER, 53),
    ];
    // The binding table is full: the new flow is dropped with ICMP 3/13.
    let refused = udp(SUB_MAC, IN_MAC, SUB1, 6000, SERVER, 53, 64, PAYLOAD);
    let r = h.send(Side::Inside, &refused).only_inside();
    assert_admin_prohibited(&r, SUB1, &refused);
    assert_eq!(h.drops(DropReason::BindingTableFull), 1);
    // Nothing existing was deleted or changed.
    assert_eq!(h.w.bindings(), 4);
    for (i, (sub, sport)) in [(SUB1, 5000), (SUB1, 5001), (SUB2, 5000), (SUB2, 5001)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(udp_out(&mut h, sub, sport, SERVER, 53), held[i]);
        udp_in_ok(&mut h, SERVER, 53, held[i], sub, sport);
    }
}

#[test]
fn rfc6888_req15_port_choice_is_random() {
    let ports = |seed: u64| -> Vec<u16> {
        let mut h = harness(|c| c.seed = seed);
        (0..300u16)
            .map(|p| udp_out(&mut h, SUB1, 10000 + p, SERVER, 53).1)
            .collect()
    };
    let a = ports(0x5eed);
    let successive = a
        .windows(2)
        .filter(|w| w[1] == w[0].wrapping_add(1))
        .count();
    assert!(
        successive < 30,
        "{successive} of 299 bindings got the previous port + 1"
    );
    let mut s = a.clone();
    s.sort_unstable();
    assert_ne!(a, s, "ports handed out in ascending order");
    // Another seed (another box, another restart) gives other ports for the same traffic.
    let b = ports(0xdead_beef);
    let same = a.iter().zip(&b).take(50).filter(|(x, y)| x == y).count();
    assert!(same < 10, "{same} of the first 50 ports equal across seeds");
}

// ---- RFC 7422: deterministic CGN ----------------------------------------------------------------

fn det_pool() -> Vec<u32> {
    (1..=4u8).map(|i| ip([203, 0, 113, i])).collect()
}

fn det_harness(ports: Option<u16>) -> (Harness, DeterministicMap) {
    let prefix = (ip([100, 64, 0, 0]), 24);
    let map = DeterministicMap::new(&[prefix], &det_pool(), 1024, 65535, ports).unwrap();
    let m = map.clone();
    let h = harness(move |c| {
        c.subscribers = vec![prefix];
        c.pool = det_pool();
        c.deterministic = Some(m);
    });
    (h, map)
}

#[test]
fn rfc7422_deterministic_forward_and_reverse() {
    let (mut h, map) = det_harness(None);
    assert_eq!(map.sharing_ratio(), 64);
    assert_eq!(map.ports_per_subscriber(), 1008, "64512 / 64");
    for sub in [SUB1, SUB2, [100, 64, 0, 64], [100, 64, 0, 255]] {
        let (pub_ip, lo, hi) = map.forward(ip(sub)).unwrap();
        for sport in [5000u16, 5001, 6000] {
            let (a, port) = udp_out(&mut h, sub, sport, SERVER, 53);
            assert_eq!(ip(a), pub_ip, "{sub:?}: address from the formula");
            assert!(
                (lo..=hi).contains(&port),
                "{sub:?}: {port} not in {lo}..={hi}"
            );
            assert_eq!(map.reverse(ip(a), port), Some(ip(sub)), "reverse lookup");
        }
        let (a, port) = tcp_out(&mut h, sub, 40000, SERVER, 80, TCP_SYN);
        assert_eq!(map.reverse(ip(a), port), Some(ip(sub)));
        let (a, id) = echo_out(&mut h, sub, SERVER, 0x77);
        assert_eq!(map.reverse(ip(a), id), Some(ip(sub)));
    }
    // Spot checks of the formula: subscriber i gets address i / 64, ports 1024 + (i % 64) * 1008.
    assert_eq!(
        map.forward(ip(SUB1)),
        Some((ip([203, 0, 113, 1]), 1024 + 2 * 1008, 1024 + 3 * 1008 - 1))
    );
    assert_eq!(
        map.forward(ip([100, 64, 0, 255])),
        Some((ip([203, 0, 113, 4]), 1024 + 63 * 1008, 65535))
    );
    // Return traffic works as usual.
    let e = udp_out(&mut h, SUB1, 5000, SERVER, 53);
    udp_in_ok(&mut h, SERVER, 53, e, SUB1, 5000);
}

#[test]
fn rfc7422_deterministic_port_range_is_the_limit() {
    let (mut h, map) = det_harness(Some(8));
    let (pub_ip, lo, hi) = map.forward(ip(SUB1)).unwrap();
    assert_eq!(hi - lo + 1, 8);
    let mut got = HashSet::new();
    for p in 0..8u16 {
        let (a, port) = udp_out(&mut h, SUB1, 1000 + p, SERVER, 53);
        assert_eq!(ip(a), pub_ip);
        got.insert(port);
    }
    assert_eq!(got, (lo..=hi).collect(), "exactly the subscriber's range");
    let refused = udp(SUB_MAC, IN_MAC, SUB1, 2000, SERVER, 53, 64, PAYLOAD);
    let r = h.send(Side::Inside, &refused).only_inside();
    assert_admin_prohibited(&r, SUB1, &refused);
    assert_eq!(h.drops(DropReason::PortExhausted), 1);
    // The neighbour's range is its own.
    let (a, port) = udp_out(&mut h, SUB2, 1000, SERVER, 53);
    assert_eq!(map.reverse(ip(a), port), Some(ip(SUB2)));
}

// ---- MSS clamping -------------------------------------------------------------------------------

#[test]
fn tcp_mss_clamp_lowers_syn_mss_to_1400() {
    let mut h = harness(|c| c.tcp_mss_clamp = 1400);
    let syn = tcp_seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        40000,
        SERVER,
        80,
        64,
        TCP_SYN,
        Some(1460),
        b"",
    );
    let out = h.send(Side::Inside, &syn).only_outside();
    let p = src_of(&out);
    assert_eq!(
        out,
        tcp_seg(
            OUT_MAC,
            NH_MAC,
            p.0,
            p.1,
            SERVER,
            80,
            63,
            TCP_SYN,
            Some(1400),
            b""
        )
    );
    assert_checksums_ok(&out);
    // The SYN-ACK coming back is clamped too.
    let synack = tcp_seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        80,
        p.0,
        p.1,
        64,
        TCP_SYN | TCP_ACK,
        Some(1460),
        b"",
    );
    let back = h.send(Side::Outside, &synack).only_inside();
    assert_eq!(
        back,
        tcp_seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            80,
            SUB1,
            40000,
            63,
            TCP_SYN | TCP_ACK,
            Some(1400),
            b""
        )
    );
    assert_checksums_ok(&back);
    assert_eq!(ev(&h, Event::MssClamped), 2);
    // An MSS already below the clamp is left alone.
    let small = tcp_seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        40001,
        SERVER,
        80,
        64,
        TCP_SYN,
        Some(1200),
        b"",
    );
    let out = h.send(Side::Inside, &small).only_outside();
    let p = src_of(&out);
    assert_eq!(
        out,
        tcp_seg(
            OUT_MAC,
            NH_MAC,
            p.0,
            p.1,
            SERVER,
            80,
            63,
            TCP_SYN,
            Some(1200),
            b""
        )
    );
    assert_eq!(ev(&h, Event::MssClamped), 2);
}

// Not testable here (no dataplane behaviour to drive): RFC 5382 REQ-6 (ALGs off by default:
// there are no TCP ALGs in the dataplane), RFC 6888 REQ-9 (PCP), REQ-10 (manageability),
// REQ-12 (logging of destinations), REQ-13/14 (log volume trade-offs: control plane).

/// More held fragments than fit in one ARP-free burst of 16: a datagram may hold up to
/// `fragments.max_held_per_datagram` (<= 64), and all of them leave once the first arrives.
#[test]
fn rfc4787_req14_forty_out_of_order_fragments_all_released() {
    let mut h = harness(|c| {
        c.fragments.max_held_per_datagram = 64;
        c.fragments.max_held_total = 256;
    });
    let payload: Vec<u8> = (0..41 * 8)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let whole = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, &payload);
    let cuts: Vec<usize> = (1..=40).map(|i| i * 8).collect();
    let f = fragment(&whole, &cuts);
    assert_eq!(f.len(), 41);
    for x in f[1..].iter().rev() {
        assert!(h.send(Side::Inside, x).is_empty());
    }
    assert_eq!(ev(&h, Event::FragmentHeld), 40);
    let out = h.send(Side::Inside, &f[0]);
    assert_eq!(out.outside.len(), 41, "{:?}", h.w.counters());
    assert_eq!(h.w.counters().total_drops(), 0);
}
