//! RFC 5508 ICMP error translation through the embedded header, checked against errors built
//! independently with etherparse, and the errors the appliance builds itself.
#![allow(clippy::unwrap_used)]

use dataplane::checksum;
use dataplane::icmp_error::{
    build_error, may_send_error_about, parse, translate, EmbeddedFlow, IcmpErrorDrop, Rewrite,
    CODE_ADMIN_PROHIBITED, CODE_FRAG_NEEDED, CODE_PORT_UNREACHABLE, MAX_ERROR_LEN,
};
use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
use etherparse::{
    Icmpv4Header, Icmpv4Slice, Icmpv4Type, IpNumber, Ipv4Header, Ipv4HeaderSlice, PacketBuilder,
    SlicedPacket, TransportSlice,
};
use proptest::prelude::*;

const SUB: [u8; 4] = [100, 64, 0, 2];
const SUB2: [u8; 4] = [100, 64, 0, 3];
const PUB: [u8; 4] = [203, 0, 113, 5];
const SERVER: [u8; 4] = [198, 51, 100, 2];
const ROUTER: [u8; 4] = [192, 0, 2, 1];
const INSIDE_ROUTER: [u8; 4] = [100, 64, 0, 254];

fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 63)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp_syn(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 63)
        .tcp(sport, dport, 0x0102_0304, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn echo_request(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 1)
        .icmpv4_echo_request(id, 7)
        .write(&mut v, b"abcdefghijklmnopqrstuvw")
        .unwrap();
    v
}

/// An ICMP error from `src` to `dst` quoting `quoted`, all checksums computed by etherparse.
fn error(src: [u8; 4], dst: [u8; 4], t: Icmpv4Type, quoted: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .icmpv4(t)
        .write(&mut v, quoted)
        .unwrap();
    v
}

fn error_raw(src: [u8; 4], dst: [u8; 4], ty: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .icmpv4_raw(ty, code, [0; 4])
        .write(&mut v, quoted)
        .unwrap();
    v
}

fn port_unreachable() -> Icmpv4Type {
    Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port)
}

/// Verifies with etherparse: outer IPv4 header checksum, ICMP checksum over the whole message,
/// embedded IPv4 header checksum, and — when the whole embedded datagram is quoted — its
/// transport checksum (UDP unless zero, TCP, ICMP echo).
fn assert_checksums(err: &[u8], whole_quoted: bool) {
    let outer = Ipv4HeaderSlice::from_slice(err).unwrap().to_header();
    assert_eq!(
        outer.header_checksum,
        outer.calc_header_checksum(),
        "outer IPv4"
    );
    let msg = &err[outer.header_len()..usize::from(outer.total_len)];
    let icmp = Icmpv4Slice::from_slice(msg).unwrap();
    let mut h = icmp.header();
    let ck = h.checksum;
    h.update_checksum(icmp.payload());
    assert_eq!(ck, h.checksum, "outer ICMP");
    assert_eq!(checksum::sum(msg, 0), 0xffff, "outer ICMP (RFC 1071)");
    let quoted = icmp.payload();
    let inner = Ipv4HeaderSlice::from_slice(quoted).unwrap().to_header();
    assert_eq!(
        inner.header_checksum,
        inner.calc_header_checksum(),
        "embedded IPv4"
    );
    if !whole_quoted {
        return;
    }
    let p = SlicedPacket::from_ip(quoted).unwrap();
    match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            let uh = u.to_header();
            if uh.checksum != 0 {
                assert_eq!(
                    uh.checksum,
                    uh.calc_checksum_ipv4(&inner, u.payload()).unwrap(),
                    "embedded UDP"
                );
            }
        }
        Some(TransportSlice::Tcp(t)) => {
            let th = t.to_header();
            assert_eq!(
                th.checksum,
                th.calc_checksum_ipv4(&inner, t.payload()).unwrap(),
                "embedded TCP"
            );
        }
        Some(TransportSlice::Icmpv4(i)) => {
            let mut h = i.header();
            let ck = h.checksum;
            h.update_checksum(i.payload());
            assert_eq!(ck, h.checksum, "embedded ICMP");
        }
        other => panic!("unexpected embedded transport {other:?}"),
    }
}

fn parse_ok(err: &[u8]) -> EmbeddedFlow {
    parse(err).unwrap_or_else(|e| panic!("parse failed: {e:?}"))
}

// ---- Inbound errors (from the outside about a packet we sent out) -------------------------

/// RFC 5508 REQ-4: a port unreachable from the server about our outbound DNS query reaches the
/// subscriber with the embedded packet reverted to what the subscriber sent.
#[test]
fn rfc5508_req4_inbound_port_unreachable_udp_whole_quote() {
    let payload =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let sent = udp(SUB, 1234, SERVER, 53, payload);
    let translated = udp(PUB, 40001, SERVER, 53, payload);
    let mut err = error(SERVER, PUB, port_unreachable(), &translated);
    assert_checksums(&err, true);

    let f = parse_ok(&err);
    assert_eq!(f.icmp_type, 3);
    assert_eq!(f.icmp_code, CODE_PORT_UNREACHABLE);
    assert_eq!((f.outer_src, f.outer_dst), (ip(SERVER), ip(PUB)));
    assert_eq!(f.proto, 17);
    assert_eq!((f.inner_src, f.inner_sport), (ip(PUB), 40001));
    assert_eq!((f.inner_dst, f.inner_dport), (ip(SERVER), 53));
    assert_eq!(f.inner_icmp_type, None);
    assert_eq!((f.icmp_off, f.inner_off, f.inner_l4_off), (20, 28, 48));
    assert_eq!(f.inner_l4_len, 8 + payload.len());
    assert_eq!(f.end, err.len());

    translate(
        &mut err,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 1234,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    assert_eq!(err, error(SERVER, SUB, port_unreachable(), &sent));
}

/// RFC 792 minimum quote: IP header + 8 bytes (the UDP checksum is quoted, the payload is not,
/// so the checksum can only be updated incrementally).
#[test]
fn inbound_udp_minimum_quote() {
    let sent = udp(SUB, 1234, SERVER, 53, b"not quoted at all");
    let translated = udp(PUB, 40001, SERVER, 53, b"not quoted at all");
    let mut err = error(SERVER, PUB, port_unreachable(), &translated[..28]);
    let f = parse_ok(&err);
    assert_eq!(f.inner_l4_len, 8);
    translate(
        &mut err,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 1234,
        },
    )
    .unwrap();
    assert_checksums(&err, false);
    assert_eq!(err, error(SERVER, SUB, port_unreachable(), &sent[..28]));
}

/// A zero UDP checksum means "none" and stays zero.
#[test]
fn inbound_udp_zero_checksum_stays_zero() {
    let mut sent = udp(SUB, 1234, SERVER, 53, b"q");
    let mut translated = udp(PUB, 40001, SERVER, 53, b"q");
    sent[26..28].fill(0);
    translated[26..28].fill(0);
    let mut err = error(SERVER, PUB, port_unreachable(), &translated);
    let f = parse_ok(&err);
    translate(
        &mut err,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 1234,
        },
    )
    .unwrap();
    assert_eq!(&err[28 + 26..28 + 28], &[0, 0]);
    assert_checksums(&err, true);
    assert_eq!(err, error(SERVER, SUB, port_unreachable(), &sent));
}

/// TCP: with 28 quoted bytes the TCP checksum (offset 16) is not quoted and is left alone;
/// with the whole segment quoted it is updated.
#[test]
fn inbound_tcp_short_and_whole_quote() {
    let sent = tcp_syn(SUB, 40000, SERVER, 80);
    let translated = tcp_syn(PUB, 1025, SERVER, 80);
    let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Host);
    for quote in [28, translated.len()] {
        let mut err = error(ROUTER, PUB, t.clone(), &translated[..quote]);
        let f = parse_ok(&err);
        assert_eq!((f.proto, f.inner_sport, f.inner_dport), (6, 1025, 80));
        translate(
            &mut err,
            &f,
            Rewrite::Inbound {
                addr: ip(SUB),
                port: 40000,
            },
        )
        .unwrap();
        assert_checksums(&err, quote == translated.len());
        assert_eq!(
            err,
            error(ROUTER, SUB, t.clone(), &sent[..quote]),
            "quote {quote}"
        );
    }
}

/// Traceroute / ping: a time exceeded from a router about our echo request (embedded query,
/// RFC 5508 REQ-1: the identifier is the port).
#[test]
fn inbound_time_exceeded_about_echo() {
    let sent = echo_request(SUB, SERVER, 0x1234);
    let translated = echo_request(PUB, SERVER, 0x9999);
    let t = Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit);
    for quote in [28, translated.len()] {
        let mut err = error(ROUTER, PUB, t.clone(), &translated[..quote]);
        let f = parse_ok(&err);
        assert_eq!(f.proto, 1);
        assert_eq!(f.inner_icmp_type, Some(8));
        assert_eq!((f.inner_sport, f.inner_dport), (0x9999, 0x9999));
        translate(
            &mut err,
            &f,
            Rewrite::Inbound {
                addr: ip(SUB),
                port: 0x1234,
            },
        )
        .unwrap();
        assert_checksums(&err, quote == translated.len());
        assert_eq!(err, error(ROUTER, SUB, t.clone(), &sent[..quote]));
    }
}

/// RFC 4787 REQ-13 / RFC 1191: a fragmentation-needed keeps its next-hop MTU.
#[test]
fn inbound_frag_needed_keeps_mtu() {
    let sent = tcp_syn(SUB, 40000, SERVER, 443);
    let translated = tcp_syn(PUB, 2000, SERVER, 443);
    let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
        next_hop_mtu: 1280,
    });
    let mut err = error(ROUTER, PUB, t.clone(), &translated);
    let f = parse_ok(&err);
    assert_eq!(f.icmp_code, CODE_FRAG_NEEDED);
    translate(
        &mut err,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 40000,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    assert_eq!(err, error(ROUTER, SUB, t, &sent));
}

// ---- Outbound errors (from a subscriber about a packet we delivered) ------------------------

/// RFC 5508 REQ-5: the subscriber's stack reports port unreachable for an inbound datagram; the
/// error leaves from the public address with the embedded packet as the server sent it.
#[test]
fn rfc5508_req5_outbound_port_unreachable() {
    let received = udp(SERVER, 53, PUB, 40001, b"answer");
    let delivered = udp(SERVER, 53, SUB, 1234, b"answer");
    let mut err = error(SUB, SERVER, port_unreachable(), &delivered);
    let f = parse_ok(&err);
    assert_eq!((f.inner_dst, f.inner_dport), (ip(SUB), 1234));
    translate(
        &mut err,
        &f,
        Rewrite::Outbound {
            addr: ip(PUB),
            port: 40001,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    assert_eq!(err, error(PUB, SERVER, port_unreachable(), &received));
}

/// An inside router's time exceeded about an inbound TCP segment.
#[test]
fn outbound_time_exceeded_from_inside_router_tcp() {
    let received = tcp_syn(SERVER, 443, PUB, 3000);
    let delivered = tcp_syn(SERVER, 443, SUB, 50000);
    let t = Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit);
    let mut err = error(INSIDE_ROUTER, SERVER, t.clone(), &delivered);
    let f = parse_ok(&err);
    translate(
        &mut err,
        &f,
        Rewrite::Outbound {
            addr: ip(PUB),
            port: 3000,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    assert_eq!(err, error(PUB, SERVER, t, &received));
}

/// RFC 5508 REQ-7: a hairpinned error (SUB2 reports on a datagram SUB sent to SUB2's public
/// endpoint) is two translations, and every checksum still verifies.
#[test]
fn rfc5508_req7_hairpin_error_is_two_translations() {
    let pub2 = [203, 0, 113, 6];
    // SUB:1234 sent to PUB2:5000; after hairpin SUB2 received it from PUB:40001 at SUB2:6000.
    let original = udp(SUB, 1234, pub2, 5000, b"hairpin");
    let delivered = udp(PUB, 40001, SUB2, 6000, b"hairpin");
    let mut err = error(SUB2, PUB, port_unreachable(), &delivered);
    let f = parse_ok(&err);
    translate(
        &mut err,
        &f,
        Rewrite::Outbound {
            addr: ip(pub2),
            port: 5000,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    let f = parse_ok(&err);
    translate(
        &mut err,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 1234,
        },
    )
    .unwrap();
    assert_checksums(&err, true);
    assert_eq!(err, error(pub2, SUB, port_unreachable(), &original));
}

/// Parameter problem (12) is an error too; translation leaves type, code and pointer alone.
#[test]
fn parameter_problem_is_translated() {
    let translated = udp(PUB, 40001, SERVER, 53, b"x");
    let sent = udp(SUB, 1234, SERVER, 53, b"x");
    let mut v = Vec::new();
    PacketBuilder::ipv4(ROUTER, PUB, 64)
        .icmpv4_raw(12, 0, [20, 0, 0, 0])
        .write(&mut v, &translated)
        .unwrap();
    let f = parse_ok(&v);
    translate(
        &mut v,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 1234,
        },
    )
    .unwrap();
    assert_checksums(&v, true);
    let mut e = Vec::new();
    PacketBuilder::ipv4(ROUTER, SUB, 64)
        .icmpv4_raw(12, 0, [20, 0, 0, 0])
        .write(&mut e, &sent)
        .unwrap();
    assert_eq!(v, e);
}

// ---- Drops ------------------------------------------------------------------------------------

/// RFC 5508 REQ-3: a bad ICMP checksum is dropped.
#[test]
fn rfc5508_req3_bad_checksum_dropped() {
    let translated = udp(PUB, 40001, SERVER, 53, b"payload");
    let good = error(SERVER, PUB, port_unreachable(), &translated);
    // From the code on (a changed type is no longer an error type).
    for at in 21..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert_eq!(parse(&bad), Err(IcmpErrorDrop::Checksum), "byte {at}");
    }
}

#[test]
fn not_errors() {
    // Queries, source quench (RFC 6633), redirect, and non-ICMP.
    let q = echo_request(SUB, SERVER, 1);
    assert_eq!(parse(&q), Err(IcmpErrorDrop::NotError));
    let inner = udp(PUB, 40001, SERVER, 53, b"");
    for ty in [4u8, 5, 0, 8, 13, 14, 17, 18, 200] {
        let e = error_raw(SERVER, PUB, ty, 0, &inner);
        assert_eq!(parse(&e), Err(IcmpErrorDrop::NotError), "type {ty}");
    }
    assert_eq!(parse(&inner), Err(IcmpErrorDrop::NotError));
}

/// Every length of the quoted datagram: too short for the embedded header or the ports →
/// Truncated, enough → Ok.
#[test]
fn every_quote_length() {
    let cases: [(Vec<u8>, usize); 3] = [
        (udp(PUB, 40001, SERVER, 53, b"0123456789"), 24),
        (tcp_syn(PUB, 1025, SERVER, 80), 24),
        (echo_request(PUB, SERVER, 77), 28),
    ];
    for (inner, needed) in cases {
        for n in 0..=inner.len() {
            let e = error(SERVER, PUB, port_unreachable(), &inner[..n]);
            let r = parse(&e);
            if n < needed {
                assert_eq!(r, Err(IcmpErrorDrop::Truncated), "quote {n}");
            } else {
                let f = r.unwrap();
                assert_eq!(f.inner_l4_len, n - 20);
            }
        }
    }
}

/// Every truncation of the datagram slice itself (total length now beyond the slice).
#[test]
fn every_slice_truncation() {
    let inner = udp(PUB, 40001, SERVER, 53, b"0123456789");
    let e = error(SERVER, PUB, port_unreachable(), &inner);
    for n in 0..e.len() {
        assert_eq!(parse(&e[..n]), Err(IcmpErrorDrop::Truncated), "len {n}");
    }
    // Trailing bytes beyond the total length (Ethernet padding) are ignored.
    let mut padded = e.clone();
    padded.extend_from_slice(&[0xee; 10]);
    let f = parse_ok(&padded);
    assert_eq!(f.end, e.len());
    translate(
        &mut padded,
        &f,
        Rewrite::Inbound {
            addr: ip(SUB),
            port: 9,
        },
    )
    .unwrap();
    assert_eq!(&padded[e.len()..], &[0xee; 10]);
}

/// Quoted datagram shorter than its own total length claims is fine; one whose total length is
/// shorter than the quote bounds the quoted transport bytes (ICMP padding is not the datagram).
#[test]
fn embedded_total_length_bounds_the_quote() {
    let inner = udp(PUB, 40001, SERVER, 53, b"");
    let mut quoted = inner.clone();
    quoted.extend_from_slice(&[0; 12]);
    let e = error(SERVER, PUB, port_unreachable(), &quoted);
    let f = parse_ok(&e);
    assert_eq!(f.inner_l4_len, 8);
}

fn with_inner_byte(at: usize, val: u8) -> Vec<u8> {
    let mut inner = udp(PUB, 40001, SERVER, 53, b"payload!");
    inner[at] = val;
    error(SERVER, PUB, port_unreachable(), &inner)
}

#[test]
fn inner_header_garbage() {
    // Version 6, IHL 4, IHL 0: malformed.
    for v in [0x65, 0x44, 0x40, 0x05] {
        assert_eq!(
            parse(&with_inner_byte(0, v)),
            Err(IcmpErrorDrop::InnerMalformed),
            "{v:#x}"
        );
    }
    // IHL 15 (60 bytes) beyond the 36 quoted bytes.
    assert_eq!(
        parse(&with_inner_byte(0, 0x4f)),
        Err(IcmpErrorDrop::Truncated)
    );
    // IHL 6: the "ports" are read after the 24-byte header, still within the quote.
    assert!(parse(&with_inner_byte(0, 0x46)).is_ok());
    // Total length below the IHL.
    let mut inner = udp(PUB, 40001, SERVER, 53, b"x");
    inner[2] = 0;
    inner[3] = 19;
    assert_eq!(
        parse(&error(SERVER, PUB, port_unreachable(), &inner)),
        Err(IcmpErrorDrop::InnerMalformed)
    );
    // Total length leaves fewer than 4 transport bytes.
    inner[3] = 22;
    assert_eq!(
        parse(&error(SERVER, PUB, port_unreachable(), &inner)),
        Err(IcmpErrorDrop::Truncated)
    );
}

#[test]
fn unsupported_inner() {
    // Non-initial fragment: no ports.
    assert_eq!(
        parse(&with_inner_byte(7, 0x10)),
        Err(IcmpErrorDrop::UnsupportedInner)
    );
    // Initial fragment (MF set, offset 0) is fine.
    assert!(parse(&with_inner_byte(6, 0x20)).is_ok());
    // GRE.
    assert_eq!(
        parse(&with_inner_byte(9, 47)),
        Err(IcmpErrorDrop::UnsupportedInner)
    );
    // An embedded ICMP error (never legitimately generated, RFC 1122 §3.2.2).
    let inner_err = error(
        PUB,
        SERVER,
        port_unreachable(),
        &udp(SERVER, 1, PUB, 2, b""),
    );
    assert_eq!(
        parse(&error(SERVER, PUB, port_unreachable(), &inner_err)),
        Err(IcmpErrorDrop::UnsupportedInner)
    );
}

#[test]
fn fragmented_outer_is_refused() {
    let inner = udp(PUB, 40001, SERVER, 53, b"x");
    let mut e = error(SERVER, PUB, port_unreachable(), &inner);
    e[6] |= 0x20; // MF
    assert_eq!(parse(&e), Err(IcmpErrorDrop::Truncated));
}

#[test]
fn translate_refuses_a_flow_that_does_not_fit() {
    let inner = udp(PUB, 40001, SERVER, 53, b"x");
    let mut e = error(SERVER, PUB, port_unreachable(), &inner);
    let f = parse_ok(&e);
    let before = e.clone();
    let rw = Rewrite::Inbound { addr: 1, port: 2 };
    for bad in [
        EmbeddedFlow {
            end: e.len() + 1,
            ..f
        },
        EmbeddedFlow {
            inner_l4_len: 100,
            ..f
        },
        EmbeddedFlow { icmp_off: 4, ..f },
        EmbeddedFlow {
            icmp_off: usize::MAX,
            ..f
        },
        EmbeddedFlow {
            inner_l4_off: usize::MAX,
            ..f
        },
        EmbeddedFlow {
            inner_l4_len: 2,
            ..f
        },
    ] {
        assert_eq!(
            translate(&mut e, &bad, rw),
            Err(IcmpErrorDrop::Truncated),
            "{bad:?}"
        );
        assert_eq!(e, before, "nothing written");
    }
}

// ---- Built errors ----------------------------------------------------------------------------

fn expected_built(t: Icmpv4Type, src: [u8; 4], dst: [u8; 4], ident: u16, quoted: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Header::with_checksum(t, quoted);
    let mut h = Ipv4Header::new(
        u16::try_from(icmp.header_len() + quoted.len()).unwrap(),
        64,
        IpNumber::ICMP,
        src,
        dst,
    )
    .unwrap();
    h.dont_fragment = false;
    h.identification = ident;
    h.header_checksum = h.calc_header_checksum();
    let mut v = Vec::new();
    h.write(&mut v).unwrap();
    icmp.write(&mut v).unwrap();
    v.extend_from_slice(quoted);
    v
}

#[test]
fn build_port_unreachable_quotes_whole_small_datagram() {
    let orig = udp(SERVER, 53, PUB, 7, b"hello");
    let mut out = [0u8; 2048];
    let n = build_error(&mut out, 3, 3, ip(PUB), ip(SERVER), &orig, 0x4242, None);
    assert_eq!(n, 28 + orig.len());
    assert_eq!(
        &out[..n],
        &expected_built(port_unreachable(), PUB, SERVER, 0x4242, &orig)[..]
    );
    assert_checksums(&out[..n], true);
    // What parse makes of it.
    let f = parse_ok(&out[..n]);
    assert_eq!((f.inner_src, f.inner_sport), (ip(SERVER), 53));
}

#[test]
fn build_admin_prohibited_and_time_exceeded() {
    let orig = tcp_syn(SUB, 40000, SERVER, 25);
    let mut out = [0u8; 600];
    let n = build_error(
        &mut out,
        3,
        CODE_ADMIN_PROHIBITED,
        ip(INSIDE_ROUTER),
        ip(SUB),
        &orig,
        1,
        None,
    );
    assert_eq!(
        &out[..n],
        &expected_built(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FilterProhibited),
            INSIDE_ROUTER,
            SUB,
            1,
            &orig
        )[..]
    );
    let n = build_error(&mut out, 11, 0, ip(ROUTER), ip(SUB), &orig, 2, None);
    assert_eq!(
        &out[..n],
        &expected_built(
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            ROUTER,
            SUB,
            2,
            &orig
        )[..]
    );
}

/// RFC 1191: the next-hop MTU in the low 16 bits of the unused field; RFC 1812 §4.3.2.3: as
/// much as fits in 576 bytes.
#[test]
fn build_frag_needed_caps_at_576() {
    let orig = udp(SUB, 5000, SERVER, 5001, &[0xab; 1472]);
    let mut out = [0u8; 2048];
    let n = build_error(
        &mut out,
        3,
        CODE_FRAG_NEEDED,
        ip(PUB),
        ip(SUB),
        &orig,
        9,
        Some(1400),
    );
    assert_eq!(n, MAX_ERROR_LEN);
    assert_eq!(
        &out[..n],
        &expected_built(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 1400
            }),
            PUB,
            SUB,
            9,
            &orig[..MAX_ERROR_LEN - 28]
        )[..]
    );
    assert_checksums(&out[..n], false);
}

#[test]
fn build_into_small_buffers() {
    let orig = udp(SUB, 5000, SERVER, 5001, &[1; 100]);
    for room in 0..28 {
        let mut out = vec![0u8; room];
        assert_eq!(build_error(&mut out, 3, 3, 1, 2, &orig, 0, None), 0);
    }
    let mut out = [0u8; 100];
    let n = build_error(&mut out, 3, 3, ip(PUB), ip(SUB), &orig, 0, None);
    assert_eq!(n, 100);
    assert_checksums(&out, false);
    // Nothing to quote at all.
    let n = build_error(&mut out, 3, 3, ip(PUB), ip(SUB), &[], 0, None);
    assert_eq!(n, 28);
    assert_eq!(checksum::sum(&out[20..28], 0), 0xffff);
}

#[test]
fn rfc1122_never_send_errors_about() {
    assert!(may_send_error_about(&udp(SUB, 1, SERVER, 2, b"")));
    assert!(may_send_error_about(&echo_request(SUB, SERVER, 1)));
    // An ICMP error.
    let e = error(
        SERVER,
        PUB,
        port_unreachable(),
        &udp(PUB, 1, SERVER, 2, b""),
    );
    assert!(!may_send_error_about(&e));
    // Non-initial fragment.
    let mut f = udp(SUB, 1, SERVER, 2, b"");
    f[7] = 1;
    assert!(!may_send_error_about(&f));
    // Multicast / limited broadcast destination; unusable sources.
    assert!(!may_send_error_about(&udp(
        SUB,
        1,
        [224, 0, 0, 251],
        5353,
        b""
    )));
    assert!(!may_send_error_about(&udp(SUB, 1, [255; 4], 67, b"")));
    for src in [
        [0, 0, 0, 0],
        [127, 0, 0, 1],
        [239, 1, 1, 1],
        [240, 0, 0, 1],
        [255; 4],
    ] {
        assert!(
            !may_send_error_about(&udp(src, 1, SERVER, 2, b"")),
            "{src:?}"
        );
    }
    assert!(!may_send_error_about(&[]));
    assert!(!may_send_error_about(&[0x45; 19]));
}

// ---- Properties --------------------------------------------------------------------------------

fn base_errors() -> Vec<Vec<u8>> {
    vec![
        error(
            SERVER,
            PUB,
            port_unreachable(),
            &udp(PUB, 40001, SERVER, 53, b"abc"),
        ),
        error(
            ROUTER,
            PUB,
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            &echo_request(PUB, SERVER, 5),
        ),
        error(ROUTER, PUB, port_unreachable(), &tcp_syn(PUB, 1, SERVER, 2)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Arbitrary bytes never panic `parse`, and whatever parses translates without panicking.
    #[test]
    fn random_bytes_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..120usize),
                                addr in any::<u32>(), port in any::<u16>(), inbound in any::<bool>()) {
        if let Ok(f) = parse(&b) {
            let rw = if inbound { Rewrite::Inbound { addr, port } } else { Rewrite::Outbound { addr, port } };
            prop_assert!(translate(&mut b, &f, rw).is_ok());
        }
    }

    /// Random changes to the quoted bytes of real errors (ICMP checksum then fixed so they get
    /// past REQ-3): never a panic, and when translated the ICMP checksum still verifies and a
    /// valid embedded header checksum stays valid.
    #[test]
    fn mutated_quotes_keep_checksums(which in 0usize..3, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                     cut in any::<prop::sample::Index>(),
                                     addr in any::<u32>(), port in any::<u16>(), inbound in any::<bool>()) {
        let base = &base_errors()[which];
        let mut quoted = base[28..].to_vec();
        for (i, v) in edits {
            let at = i.index(quoted.len());
            quoted[at] = v;
        }
        quoted.truncate(cut.index(quoted.len() + 1));
        let src = [base[12], base[13], base[14], base[15]];
        let mut e = error_raw(src, PUB, base[20], base[21], &quoted);
        let Ok(f) = parse(&e) else { return Ok(()); };
        let inner_ok = checksum::sum(&e[f.inner_off..f.inner_l4_off], 0) == 0xffff;
        let rw = if inbound { Rewrite::Inbound { addr, port } } else { Rewrite::Outbound { addr, port } };
        translate(&mut e, &f, rw).unwrap();
        prop_assert_eq!(checksum::sum(&e[20..], 0), 0xffff);
        prop_assert_eq!(checksum::sum(&e[..20], 0), 0xffff);
        if inner_ok {
            prop_assert_eq!(checksum::sum(&e[f.inner_off..f.inner_l4_off], 0), 0xffff);
        }
        // Translating back restores the original bytes.
        let back = match rw {
            Rewrite::Inbound { .. } => Rewrite::Inbound { addr: f.inner_src, port: f.inner_sport },
            Rewrite::Outbound { .. } => Rewrite::Outbound { addr: f.inner_dst, port: f.inner_dport },
        };
        let f2 = parse(&e).unwrap();
        translate(&mut e, &f2, back).unwrap();
        // Outer address: restore it too (inbound changed the destination, outbound the source).
        let orig = error_raw(src, PUB, base[20], base[21], &quoted);
        let (o_at, o_val) = match rw { Rewrite::Inbound { .. } => (16, f.outer_dst), Rewrite::Outbound { .. } => (12, f.outer_src) };
        let cur = u32::from_be_bytes([e[o_at], e[o_at + 1], e[o_at + 2], e[o_at + 3]]);
        let c = checksum::update32(u16::from_be_bytes([e[10], e[11]]), cur, o_val);
        e[o_at..o_at + 4].copy_from_slice(&o_val.to_be_bytes());
        e[10..12].copy_from_slice(&c.to_be_bytes());
        prop_assert_eq!(checksum::sum(&e[20..], 0), 0xffff);
        // Byte-exact except where ones-complement has two zeros (0x0000 vs 0xffff).
        for (k, (x, y)) in e.iter().zip(orig.iter()).enumerate() {
            if x != y {
                let word = k & !1;
                let a = u16::from_be_bytes([e[word], e[word + 1]]);
                let b2 = u16::from_be_bytes([orig[word], orig[word + 1]]);
                prop_assert!((a == 0 && b2 == 0xffff) || (a == 0xffff && b2 == 0), "byte {} differs", k);
            }
        }
    }
}
