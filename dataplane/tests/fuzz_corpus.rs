//! Replays the committed `packet_path` fuzz corpus (seeds and any crash regressions) and a
//! proptest stream of random inputs through the same harness as the cargo-fuzz target, so the
//! packet path's "never panic, never emit garbage" promise is checked on every `make test`.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use proptest::prelude::*;

fn record(side: u8, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![side];
    v.extend_from_slice(&u16::try_from(frame.len()).unwrap().to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// Seeds: ARP to resolve neighbours, then traffic both ways (including frames aimed at the
/// harness's one-address pool, 203.0.113.1, ports 1024-1055).
fn seeds() -> Vec<Vec<u8>> {
    let pub_ip = [203, 0, 113, 1];
    let arp_nh = record(1, &arp_request(NH_MAC, SERVER, OUT_ADDR));
    let arp_sub = record(0, &arp_request(SUB_MAC, SUB1, IN_ADDR));
    let mut s = vec![];
    for p in 1024..1032u16 {
        let mut v = [arp_nh.clone(), arp_sub.clone()].concat();
        v.extend(record(
            0,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        ));
        v.extend(record(
            1,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pub_ip, p, 64, b"a"),
        ));
        s.push(v);
    }
    let mut v = [arp_nh.clone(), arp_sub.clone()].concat();
    v.extend(record(
        0,
        &tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, true, b""),
    ));
    v.extend(record(
        0,
        &echo(SUB_MAC, IN_MAC, SUB1, SERVER, 64, true, 9, 1),
    ));
    v.extend(record(
        2 | (60 << 2),
        &echo(SUB_MAC, IN_MAC, SUB1, IN_ADDR, 1, true, 9, 1),
    ));
    v.extend(record(
        0,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 1, b"ttl"),
    ));
    s.push(v);
    s.push(h323_seed());
    s.push(pptp_seed());
    s.push(sip_seed());
    s
}

fn seg(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let (smac, dmac) = if src == SUB1 {
        (SUB_MAC, IN_MAC)
    } else {
        (NH_MAC, OUT_MAC)
    };
    let mut b = etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64240);
    match ack {
        None => b = b.syn(),
        Some(a) if payload.is_empty() => b = b.syn().ack(a),
        Some(a) => b = b.ack(a),
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An H.323 call through the ALG: call signalling handshake (the callee's SYN-ACK to every
/// port of the pool's first blocks, one hits), a Setup announcing H.245 and fastStart media,
/// the callee's H.245 SYN and RTP to those ports, an OpenLogicalChannel, a RAS RRQ.
fn h323_seed() -> Vec<u8> {
    let pub_ip = [203, 0, 113, 1];
    let fx = |n: &str| {
        std::fs::read(format!(
            "{}/../alg/tests/fixtures/h323/{n}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut v = [
        record(1, &arp_request(NH_MAC, SERVER, OUT_ADDR)),
        record(0, &arp_request(SUB_MAC, SUB1, IN_ADDR)),
        record(0, &seg(SUB1, 40100, SERVER, 1720, 1000, None, b"")),
    ]
    .concat();
    let ports = 1024..1056u16;
    for p in ports.clone() {
        v.extend(record(
            1,
            &seg(SERVER, 1720, pub_ip, p, 5000, Some(1001), b""),
        ));
    }
    v.extend(record(
        0,
        &seg(
            SUB1,
            40100,
            SERVER,
            1720,
            1001,
            Some(5001),
            &fx("setup.bin"),
        ),
    ));
    for p in ports.clone() {
        v.extend(record(1, &seg(SERVER, 30000, pub_ip, p, 9000, None, b"")));
    }
    v.extend(record(
        0,
        &seg(SUB1, 40000, SERVER, 30000, 300, Some(9001), b""),
    ));
    v.extend(record(
        0,
        &seg(
            SUB1,
            40000,
            SERVER,
            30000,
            301,
            Some(9001),
            &fx("h245_olc.bin"),
        ),
    ));
    for p in ports {
        v.extend(record(
            1,
            &udp(NH_MAC, OUT_MAC, SERVER, 6000, pub_ip, p, 64, b"rtp"),
        ));
    }
    v.extend(record(
        0,
        &udp(
            SUB_MAC,
            IN_MAC,
            SUB1,
            1719,
            SERVER,
            1719,
            64,
            &fx("ras_rrq.bin"),
        ),
    ));
    v
}

/// A SIP call through the ALG over UDP (INVITE with SDP, the 200 OK with SDP to every port of
/// the pool's first blocks, RTP to them, BYE, a REGISTER and its 200) and an INVITE over TCP
/// split in two segments, then retransmitted whole.
fn sip_seed() -> Vec<u8> {
    let pub_ip = [203, 0, 113, 1];
    let crlf = |t: &str| t.replace('\n', "\r\n");
    let sdp = crlf(
        "v=0\no=- 1 1 IN IP4 100.64.0.2\ns=-\nc=IN IP4 100.64.0.2\nt=0 0\nm=audio 6000 RTP/AVP 0\n",
    );
    let invite = |t: &str, p: u16| {
        crlf(&format!(
            "INVITE sip:bob@198.51.100.2 SIP/2.0\nVia: SIP/2.0/{t} 100.64.0.2:{p};branch=z9hG4bK-1\nFrom: <sip:a@100.64.0.2:{p}>;tag=1\nTo: <sip:bob@198.51.100.2>\nCall-ID: c1@h\nCSeq: 1 INVITE\nContact: <sip:a@100.64.0.2:{p}>\nContent-Type: application/sdp\nContent-Length: {}\n\n",
            sdp.len()
        )) + &sdp
    };
    let peer_sdp = crlf("v=0\no=- 2 2 IN IP4 198.51.100.2\ns=-\nc=IN IP4 198.51.100.2\nt=0 0\nm=audio 7000 RTP/AVP 0\n");
    let ok = |p: u16| {
        crlf(&format!(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.1:{p};branch=z9hG4bK-1\nFrom: <sip:a@203.0.113.1:{p}>;tag=1\nTo: <sip:bob@198.51.100.2>;tag=2\nCall-ID: c1@h\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.2>\nContent-Type: application/sdp\nContent-Length: {}\n\n",
            peer_sdp.len()
        )) + &peer_sdp
    };
    let ports = 1024..1056u16;
    let mut v = [
        record(1, &arp_request(NH_MAC, SERVER, OUT_ADDR)),
        record(0, &arp_request(SUB_MAC, SUB1, IN_ADDR)),
        record(
            0,
            &udp(
                SUB_MAC,
                IN_MAC,
                SUB1,
                5060,
                SERVER,
                5060,
                64,
                invite("UDP", 5060).as_bytes(),
            ),
        ),
    ]
    .concat();
    for p in ports.clone() {
        v.extend(record(
            1,
            &udp(
                NH_MAC,
                OUT_MAC,
                SERVER,
                5060,
                pub_ip,
                p,
                64,
                ok(p).as_bytes(),
            ),
        ));
    }
    for p in ports.clone() {
        v.extend(record(
            1,
            &udp(NH_MAC, OUT_MAC, SERVER, 7000, pub_ip, p, 64, b"\x80\x00rtp"),
        ));
    }
    let reg = crlf("REGISTER sip:198.51.100.2 SIP/2.0\nVia: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bK-r\nFrom: <sip:a@198.51.100.2>;tag=r\nTo: <sip:a@198.51.100.2>\nCall-ID: r1@h\nCSeq: 1 REGISTER\nContact: <sip:a@100.64.0.2:5060>;expires=600\nContent-Length: 0\n\n");
    v.extend(record(
        0,
        &udp(
            SUB_MAC,
            IN_MAC,
            SUB1,
            5060,
            SERVER,
            5060,
            64,
            reg.as_bytes(),
        ),
    ));
    for p in ports.clone() {
        let r = crlf(&format!("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.1:{p};branch=z9hG4bK-r\nFrom: <sip:a@198.51.100.2>;tag=r\nTo: <sip:a@198.51.100.2>;tag=s\nCall-ID: r1@h\nCSeq: 1 REGISTER\nContact: <sip:a@203.0.113.1:{p}>;expires=600\nContent-Length: 0\n\n"));
        v.extend(record(
            1,
            &udp(NH_MAC, OUT_MAC, SERVER, 5060, pub_ip, p, 64, r.as_bytes()),
        ));
    }
    let bye = crlf("BYE sip:bob@198.51.100.2 SIP/2.0\nVia: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bK-2\nFrom: <sip:a@100.64.0.2:5060>;tag=1\nTo: <sip:bob@198.51.100.2>;tag=2\nCall-ID: c1@h\nCSeq: 2 BYE\nContent-Length: 0\n\n");
    v.extend(record(
        0,
        &udp(
            SUB_MAC,
            IN_MAC,
            SUB1,
            5060,
            SERVER,
            5060,
            64,
            bye.as_bytes(),
        ),
    ));
    // TCP: SYN, the SYN-ACK to every candidate port, the INVITE in two pieces, then whole.
    v.extend(record(0, &seg(SUB1, 40200, SERVER, 5060, 1000, None, b"")));
    for p in ports {
        v.extend(record(
            1,
            &seg(SERVER, 5060, pub_ip, p, 7000, Some(1001), b""),
        ));
    }
    let inv = invite("TCP", 40200);
    let (a, b) = inv.as_bytes().split_at(150);
    v.extend(record(
        0,
        &seg(SUB1, 40200, SERVER, 5060, 1001, Some(7001), a),
    ));
    v.extend(record(
        0,
        &seg(SUB1, 40200, SERVER, 5060, 1151, Some(7001), b),
    ));
    v.extend(record(
        0,
        &seg(SUB1, 40200, SERVER, 5060, 1001, Some(7001), inv.as_bytes()),
    ));
    v
}

/// The SIP seed reaches the ALG: the UDP INVITE, its 200, the REGISTER and its 200, the BYE
/// and the TCP INVITE parsed; RTP and RTCP admitted by expectations; the registration kept.
#[test]
fn sip_seed_exercises_the_alg() {
    let mut h = Harness::new(dataplane::fuzz_harness::config());
    let s = sip_seed();
    let mut rest = &s[..];
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let side = if rest[0] & 1 == 0 {
            dataplane::Side::Inside
        } else {
            dataplane::Side::Outside
        };
        h.send(side, &rest[3..3 + len]);
        rest = &rest[3 + len..];
    }
    let c = h.w.counters();
    // The 200s to the RTP/RTCP ports' bindings are parsed too (masters of those bindings,
    // REGISTER replies unmatched there).
    assert_eq!(c.alg_sip.messages, 10, "{c:?}");
    assert_eq!(
        c.alg_sip.failed(alg::sip::SipError::RegisterUnmatched),
        2,
        "{c:?}"
    );
    assert_eq!(
        c.event(dataplane::Event::AlgSipExpectationUsed),
        2,
        "RTP and RTCP: {c:?}"
    );
    assert_eq!(
        h.w.alg_expectations(),
        3,
        "the registration and the TCP INVITE's RTP/RTCP: {c:?}"
    );
}

/// The H.323 seed reaches the ALG: messages parsed, the H.245 and media expectations used.
#[test]
fn h323_seed_exercises_the_alg() {
    let mut h = Harness::new(dataplane::fuzz_harness::config());
    let s = h323_seed();
    let mut rest = &s[..];
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let side = if rest[0] & 1 == 0 {
            dataplane::Side::Inside
        } else {
            dataplane::Side::Outside
        };
        h.send(side, &rest[3..3 + len]);
        rest = &rest[3 + len..];
    }
    let c = h.w.counters();
    assert_eq!(c.alg_h323.messages, 3, "{c:?}");
    assert!(
        c.event(dataplane::Event::AlgH323ExpectationUsed) >= 2,
        "{c:?}"
    );
}

/// A PPTP control message (RFC 2637 §1.4): Length, type 1, Magic Cookie, Control Message
/// Type, zeros, then `fields` at their offsets.
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

/// A GRE v1 data packet (RFC 2637 §4.1) in an IPv4 frame.
fn gre(src: [u8; 4], dst: [u8; 4], call_id: u16) -> Vec<u8> {
    let (smac, dmac) = if src == SUB1 {
        (SUB_MAC, IN_MAC)
    } else {
        (NH_MAC, OUT_MAC)
    };
    let mut g = vec![0x30, 0x01, 0x88, 0x0b, 0, 4];
    g.extend_from_slice(&call_id.to_be_bytes());
    g.extend_from_slice(&[0, 0, 0, 1, 0xff, 0x03, 0xc0, 0x21]);
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, 64)
        .write(&mut v, etherparse::IpNumber(47), &g)
        .unwrap();
    v
}

/// A PPTP call through the ALG: handshake and Start-Control-Connection (the server's
/// segments to every port of the pool's first blocks, one hits), an Outgoing-Call-Request,
/// a reply segment holding one Outgoing-Call-Reply per candidate public Call ID (one names
/// the real one), then GRE both ways (inbound to every candidate Call ID).
fn pptp_seed() -> Vec<u8> {
    let pub_ip = [203, 0, 113, 1];
    let ports = 1024..1056u16;
    let mut v = [
        record(1, &arp_request(NH_MAC, SERVER, OUT_ADDR)),
        record(0, &arp_request(SUB_MAC, SUB1, IN_ADDR)),
        record(0, &seg(SUB1, 40200, SERVER, 1723, 1000, None, b"")),
    ]
    .concat();
    for p in ports.clone() {
        v.extend(record(
            1,
            &seg(SERVER, 1723, pub_ip, p, 5000, Some(1001), b""),
        ));
    }
    let sccrq = pptp_msg(1, 156, &[(12, 0x0100)]);
    v.extend(record(
        0,
        &seg(SUB1, 40200, SERVER, 1723, 1001, Some(5001), &sccrq),
    ));
    let sccrp = pptp_msg(2, 156, &[(12, 0x0100), (14, 0x0100)]);
    for p in ports.clone() {
        v.extend(record(
            1,
            &seg(SERVER, 1723, pub_ip, p, 5001, Some(1157), &sccrp),
        ));
    }
    let ocrq = pptp_msg(7, 168, &[(12, 0x0001)]);
    v.extend(record(
        0,
        &seg(SUB1, 40200, SERVER, 1723, 1157, Some(5157), &ocrq),
    ));
    let replies: Vec<u8> = ports
        .clone()
        .flat_map(|c| pptp_msg(8, 32, &[(12, 0x5001), (14, c), (16, 0x0100)]))
        .collect();
    for p in ports.clone() {
        v.extend(record(
            1,
            &seg(SERVER, 1723, pub_ip, p, 5157, Some(1325), &replies),
        ));
    }
    v.extend(record(0, &gre(SUB1, SERVER, 0x5001)));
    for c in ports {
        v.extend(record(1, &gre(SERVER, pub_ip, c)));
    }
    v
}

/// The PPTP seed reaches the ALG: control messages parsed, one call connected, GRE translated
/// both ways. `PPTP_SEED_OUT=<file>` writes the seed (how `fuzz/corpus/packet_path/pptp_call`
/// was made).
#[test]
fn pptp_seed_exercises_the_alg() {
    let s = pptp_seed();
    if let Some(path) = std::env::var_os("PPTP_SEED_OUT") {
        std::fs::write(path, &s).unwrap();
    }
    let mut h = Harness::new(dataplane::fuzz_harness::config());
    let mut rest = &s[..];
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let side = if rest[0] & 1 == 0 {
            dataplane::Side::Inside
        } else {
            dataplane::Side::Outside
        };
        h.send(side, &rest[3..3 + len]);
        rest = &rest[3 + len..];
    }
    let c = h.w.counters();
    assert_eq!(c.event(dataplane::Event::AlgPptpCall), 1, "{c:?}");
    assert_eq!(c.alg_pptp_gre.messages, 2, "{c:?}");
    assert_eq!(c.alg_pptp_gre.rewrites, 1, "{c:?}");
}

#[test]
fn seeds_run_clean() {
    for s in seeds() {
        dataplane::fuzz_harness::run(&s);
    }
}

#[test]
fn committed_corpus_runs_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/packet_path");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        dataplane::fuzz_harness::run(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

/// Writes the seeds into the corpus directory when CGNAT_WRITE_SEEDS is set.
#[test]
fn write_seeds_when_asked() {
    if std::env::var_os("CGNAT_WRITE_SEEDS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/packet_path");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), s).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn random_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        dataplane::fuzz_harness::run(&data);
    }

    /// Mutations of valid traffic (the interesting part of the space): flip bytes of a seed.
    #[test]
    fn mutated_seeds_never_panic(idx in 0usize..10, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut s = seeds()[idx].clone();
        for (i, v) in flips {
            let at = i.index(s.len());
            s[at] ^= v;
        }
        dataplane::fuzz_harness::run(&s);
    }
}
