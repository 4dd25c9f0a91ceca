//! Unit tests of the H.323 ALG: real messages (built by `testenc`, checked against Wireshark
//! through the fixtures) rewritten end to end, and the adversarial inputs of REFERENCE.md.
#![allow(clippy::unwrap_used)]

use super::testenc::{self, SetupOpts};
use super::*;
use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::{Expectation, Protocol, Side};
use core::net::{Ipv4Addr, SocketAddrV4};

pub const INSIDE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
pub const OTHER_INSIDE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 99);
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}

/// The fixtures: (file name, payload). TCP ones are whole TPKTs; `ras_*` are UDP payloads.
pub fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let fwd = testenc::olc(1, sa(INSIDE, 5000), sa(INSIDE, 5001), false);
    let rev = testenc::olc(2, sa(INSIDE, 5000), sa(INSIDE, 5001), true);
    let setup = testenc::setup(&SetupOpts {
        h245: Some(sa(INSIDE, 40000)),
        source_call_signal: Some(sa(INSIDE, 40001)),
        dest_call_signal: sa(PEER, 1720),
        fast_start: vec![fwd.clone(), rev.clone()],
    });
    vec![
        ("setup.bin", testenc::tpkt(&testenc::q931(0x05, &setup))),
        (
            "connect.bin",
            testenc::tpkt(&testenc::q931(
                0x07,
                &testenc::connect(sa(INSIDE, 40002), &[fwd, rev]),
            )),
        ),
        (
            "facility_forward.bin",
            testenc::tpkt(&testenc::q931(
                0x62,
                &testenc::facility(Some(sa(OTHER_INSIDE, 1720)), None),
            )),
        ),
        (
            "facility_h245.bin",
            testenc::tpkt(&testenc::q931(
                0x62,
                &testenc::facility(None, Some(sa(INSIDE, 40004))),
            )),
        ),
        (
            "progress.bin",
            testenc::tpkt(&testenc::q931(
                0x03,
                &testenc::progress(
                    sa(INSIDE, 40006),
                    &[testenc::olc(2, sa(INSIDE, 5006), sa(INSIDE, 5007), true)],
                ),
            )),
        ),
        (
            "h245_olc.bin",
            testenc::tpkt(&testenc::h245_olc(3, sa(INSIDE, 5002), sa(INSIDE, 5003))),
        ),
        (
            "h245_olc_h263.bin",
            testenc::tpkt(&testenc::h245_olc_h263(
                4,
                sa(INSIDE, 5008),
                sa(INSIDE, 5009),
            )),
        ),
        (
            "h245_olc_ack.bin",
            testenc::tpkt(&testenc::h245_olc_ack(
                3,
                sa(INSIDE, 5004),
                sa(INSIDE, 5005),
            )),
        ),
        (
            "ras_rrq.bin",
            testenc::rrq(sa(INSIDE, 1720), sa(INSIDE, 1719)),
        ),
        ("ras_grq.bin", testenc::grq(sa(INSIDE, 1719))),
        (
            "ras_arq.bin",
            testenc::arq(sa(INSIDE, 40001), sa(PEER, 1720)),
        ),
    ]
}

/// Regenerates `alg/tests/fixtures/h323/` (run with `--ignored` after changing a builder,
/// then re-run the tshark test).
#[test]
#[ignore]
fn write_fixtures() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h323");
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in fixtures() {
        std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    }
}

#[test]
fn fixtures_on_disk_are_the_builders_output() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h323");
    for (name, bytes) in fixtures() {
        let disk = std::fs::read(format!("{dir}/{name}")).unwrap();
        assert_eq!(disk, bytes, "{name}: run write_fixtures");
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

const ISN: u32 = 1000;

fn fixture(name: &str) -> Vec<u8> {
    fixtures().into_iter().find(|(n, _)| *n == name).unwrap().1
}

/// The public endpoint for an inside one: same port + 10000.
fn public_of(a: &H323Address) -> Option<SocketAddrV4> {
    Some(sa(PUBLIC, a.endpoint.port() + 10000))
}

fn inside_segment(channel: H323Channel, payload: &[u8]) -> H323Segment<'_> {
    H323Segment {
        channel,
        sender_side: Side::Inside,
        seq: ISN,
        src: INSIDE,
        peer: PEER,
        payload,
    }
}

fn synced() -> TpktTracker {
    let mut t = TpktTracker::new();
    t.synchronize(ISN);
    t
}

type Counters = AlgCounters<H323Error>;

fn run(
    channel: H323Channel,
    payload: &[u8],
) -> (H323Outcome<16>, Counters, Vec<H323Address>, Vec<u8>) {
    let mut c = Counters::default();
    let mut asked = Vec::new();
    let o = process_segment::<16>(
        &mut synced(),
        inside_segment(channel, payload),
        &mut c,
        |a| {
            asked.push(*a);
            public_of(a)
        },
    );
    let mut out = vec![0u8; payload.len()];
    let n = apply_edits(payload, o.edits.iter(), &mut out).unwrap();
    assert_eq!(n, payload.len());
    (o, c, asked, out)
}

/// The addresses a message carries, as the decoder reads them (no policy).
fn addresses(channel: H323Channel, tpkt: &[u8]) -> Vec<(AddrKind, SocketAddrV4)> {
    let mut f = Findings::default();
    let body = &tpkt[4..];
    match channel {
        H323Channel::CallSignalling => {
            let q = q931::parse(body).unwrap();
            let mut r = per::Per::new(body, q.h225_start, q.h225_end).unwrap();
            h225::user_information(&mut r, &mut f).unwrap();
        }
        H323Channel::H245 => {
            let mut r = per::Per::new(body, 0, body.len()).unwrap();
            h245::message(&mut r, &mut f).unwrap();
        }
    }
    f.iter().map(|a| (a.kind, a.endpoint)).collect()
}

fn ras_addresses(d: &[u8]) -> Vec<(AddrKind, SocketAddrV4)> {
    let mut f = Findings::default();
    let mut r = per::Per::new(d, 0, d.len()).unwrap();
    ras::message(&mut r, &mut f).unwrap();
    f.iter().map(|a| (a.kind, a.endpoint)).collect()
}

fn inbound(p: Protocol, public: u16, inside: u16) -> Expectation {
    Expectation::inbound(p, PEER, sa(PUBLIC, public), sa(INSIDE, inside))
}

/// Only the counters named are non-zero, with these values.
fn assert_failures(c: &Counters, want: &[(H323Error, u64)]) {
    for r in H323Error::ALL {
        let w = want.iter().find(|(e, _)| e == r).map_or(0, |(_, n)| *n);
        assert_eq!(c.failed(*r), w, "{r}: {c:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Real messages, rewritten

#[test]
fn setup_rewrites_h245_address_source_call_signal_and_fast_start() {
    let m = fixture("setup.bin");
    use AddrKind::*;
    assert_eq!(
        addresses(H323Channel::CallSignalling, &m),
        [
            (H245Address, sa(INSIDE, 40000)),
            (SourceCallSignalAddress, sa(INSIDE, 40001)),
            (MediaControlChannel, sa(INSIDE, 5001)),
            (MediaChannel, sa(INSIDE, 5000)),
            (MediaControlChannel, sa(INSIDE, 5001)),
        ]
    );
    let (o, c, asked, out) = run(H323Channel::CallSignalling, &m);
    // One public endpoint per distinct inside endpoint and protocol.
    let asked: Vec<_> = asked.iter().map(|a| (a.kind, a.endpoint.port())).collect();
    assert_eq!(
        asked,
        [
            (H245Address, 40000),
            (SourceCallSignalAddress, 40001),
            (MediaControlChannel, 5001),
            (MediaChannel, 5000)
        ]
    );
    assert_eq!(o.edits.len(), 5);
    for e in o.edits.iter() {
        assert_eq!(m[e.offset()..e.offset() + 4], INSIDE.octets());
        let port = u16::from_be_bytes([m[e.offset() + 4], m[e.offset() + 5]]);
        let mut want = PUBLIC.octets().to_vec();
        want.extend((port + 10000).to_be_bytes());
        assert_eq!(e.text(), &want[..]);
    }
    assert_eq!(
        addresses(H323Channel::CallSignalling, &out),
        [
            (H245Address, sa(PUBLIC, 50000)),
            (SourceCallSignalAddress, sa(PUBLIC, 50001)),
            (MediaControlChannel, sa(PUBLIC, 15001)),
            (MediaChannel, sa(PUBLIC, 15000)),
            (MediaControlChannel, sa(PUBLIC, 15001)),
        ]
    );
    let x: Vec<_> = o.expectations().copied().collect();
    assert_eq!(
        x,
        [
            inbound(Protocol::Tcp, 50000, 40000),
            inbound(Protocol::Udp, 15001, 5001),
            inbound(Protocol::Udp, 15000, 5000),
        ]
    );
    assert_eq!((c.messages, c.rewrites, c.expectations), (1, 1, 3));
    assert_failures(&c, &[]);
}

#[test]
fn connect_rewrites_h245_address_and_fast_start() {
    let (o, c, _, out) = run(H323Channel::CallSignalling, &fixture("connect.bin"));
    use AddrKind::*;
    assert_eq!(
        addresses(H323Channel::CallSignalling, &out),
        [
            (H245Address, sa(PUBLIC, 50002)),
            (MediaControlChannel, sa(PUBLIC, 15001)),
            (MediaChannel, sa(PUBLIC, 15000)),
            (MediaControlChannel, sa(PUBLIC, 15001)),
        ]
    );
    assert_eq!(o.expectations().count(), 3);
    assert_eq!((c.messages, c.rewrites, c.expectations), (1, 1, 3));
    assert_failures(&c, &[]);
}

#[test]
fn h245_open_logical_channel_and_ack_are_rewritten() {
    use AddrKind::*;
    let (o, c, _, out) = run(H323Channel::H245, &fixture("h245_olc.bin"));
    assert_eq!(
        addresses(H323Channel::H245, &out),
        [
            (MediaChannel, sa(PUBLIC, 15002)),
            (MediaControlChannel, sa(PUBLIC, 15003))
        ]
    );
    let x: Vec<_> = o.expectations().copied().collect();
    assert_eq!(
        x,
        [
            inbound(Protocol::Udp, 15002, 5002),
            inbound(Protocol::Udp, 15003, 5003)
        ]
    );
    assert_failures(&c, &[]);
    let (o, c, _, out) = run(H323Channel::H245, &fixture("h245_olc_ack.bin"));
    assert_eq!(
        addresses(H323Channel::H245, &out),
        [
            (MediaChannel, sa(PUBLIC, 15004)),
            (MediaControlChannel, sa(PUBLIC, 15005))
        ]
    );
    assert_eq!(o.expectations().count(), 2);
    assert_eq!((c.messages, c.rewrites, c.expectations), (1, 1, 2));
}

#[test]
fn h245_video_channel_h263_is_rewritten() {
    let (o, c, _, out) = run(H323Channel::H245, &fixture("h245_olc_h263.bin"));
    assert_eq!(
        addresses(H323Channel::H245, &out),
        [
            (AddrKind::MediaChannel, sa(PUBLIC, 15008)),
            (AddrKind::MediaControlChannel, sa(PUBLIC, 15009))
        ]
    );
    assert_eq!(o.expectations().count(), 2);
    assert_failures(&c, &[]);
}

#[test]
fn facility_start_h245_is_rewritten() {
    let (o, c, _, out) = run(H323Channel::CallSignalling, &fixture("facility_h245.bin"));
    assert_eq!(
        addresses(H323Channel::CallSignalling, &out),
        [(AddrKind::H245Address, sa(PUBLIC, 50004))]
    );
    assert_eq!(
        o.expectations().copied().collect::<Vec<_>>(),
        [inbound(Protocol::Tcp, 50004, 40004)]
    );
    assert_failures(&c, &[]);
}

#[test]
fn progress_rewrites_h245_address_and_fast_start() {
    use AddrKind::*;
    let (o, c, _, out) = run(H323Channel::CallSignalling, &fixture("progress.bin"));
    assert_eq!(
        addresses(H323Channel::CallSignalling, &out),
        [
            (H245Address, sa(PUBLIC, 50006)),
            (MediaChannel, sa(PUBLIC, 15006)),
            (MediaControlChannel, sa(PUBLIC, 15007)),
        ]
    );
    assert_eq!(o.expectations().count(), 3);
    assert_failures(&c, &[]);
}

#[test]
fn tunnelled_h245_is_counted_and_the_rest_rewritten() {
    let m = testenc::tpkt(&testenc::q931(
        0x62,
        &testenc::facility_tunnelled(sa(INSIDE, 40004)),
    ));
    let (o, c, _, _) = run(H323Channel::CallSignalling, &m);
    assert_eq!(o.edits.len(), 1);
    assert_failures(&c, &[(H323Error::H245Tunnelled, 1)]);
}

#[test]
fn ras_rrq_and_grq_are_rewritten_and_reachable_from_the_gatekeeper_only() {
    use AddrKind::*;
    let d = fixture("ras_rrq.bin");
    assert_eq!(
        ras_addresses(&d),
        [
            (CallSignalAddress, sa(INSIDE, 1720)),
            (RasAddress, sa(INSIDE, 1719))
        ]
    );
    let mut c = Counters::default();
    let o = process_ras::<4>(&d, Side::Inside, INSIDE, PEER, &mut c, public_of);
    let mut out = d.clone();
    apply_edits(&d, o.edits.iter(), &mut out).unwrap();
    assert_eq!(
        ras_addresses(&out),
        [
            (CallSignalAddress, sa(PUBLIC, 11720)),
            (RasAddress, sa(PUBLIC, 11719))
        ]
    );
    assert_eq!(
        o.expectations().copied().collect::<Vec<_>>(),
        [
            inbound(Protocol::Tcp, 11720, 1720),
            inbound(Protocol::Udp, 11719, 1719)
        ]
    );
    assert_eq!((c.messages, c.rewrites, c.expectations), (1, 1, 2));

    let d = fixture("ras_grq.bin");
    let mut c = Counters::default();
    let o = process_ras::<4>(&d, Side::Inside, INSIDE, PEER, &mut c, public_of);
    assert_eq!(o.edits.len(), 1);
    assert_eq!(
        o.expectations().copied().collect::<Vec<_>>(),
        [inbound(Protocol::Udp, 11719, 1719)]
    );
}

#[test]
fn ras_arq_rewrites_the_source_call_signal_address_only() {
    let d = fixture("ras_arq.bin");
    assert_eq!(
        ras_addresses(&d),
        [(AddrKind::SourceCallSignalAddress, sa(INSIDE, 40001))]
    );
    let mut c = Counters::default();
    let o = process_ras::<4>(&d, Side::Inside, INSIDE, PEER, &mut c, public_of);
    let mut out = d.clone();
    apply_edits(&d, o.edits.iter(), &mut out).unwrap();
    assert_eq!(
        ras_addresses(&out),
        [(AddrKind::SourceCallSignalAddress, sa(PUBLIC, 50001))]
    );
    assert!(o.expectations().next().is_none());
    assert_eq!((c.messages, c.rewrites, c.expectations), (1, 1, 0));
}

#[test]
fn ras_messages_not_covered_pass_uncounted() {
    // RasMessage gatekeeperConfirm (index 1): untouched, neither a message nor a failure.
    let d = [0x04, 0x00, 0x00];
    let mut c = Counters::default();
    let o = process_ras::<4>(&d, Side::Outside, PEER, INSIDE, &mut c, public_of);
    assert!(o.edits.is_empty() && o.expectations().next().is_none());
    assert_eq!((c.messages, c.total_failures()), (0, 0));
}

// ---------------------------------------------------------------------------------------
// REFERENCE.md 2 and 3: third hosts

#[test]
fn attack_3_call_forwarding_never_opens_a_pinhole() {
    // Facility alternativeAddress naming another internal host (NAT Slipstreaming v2).
    let (o, c, asked, out) = run(
        H323Channel::CallSignalling,
        &fixture("facility_forward.bin"),
    );
    assert!(asked.is_empty());
    assert!(o.edits.is_empty() && o.expectations().next().is_none());
    assert_eq!(out, fixture("facility_forward.bin"));
    assert_failures(&c, &[(H323Error::CallForwarding, 1)]);
    // Even with an h245Address of the sender's own next to it.
    let m = testenc::tpkt(&testenc::q931(
        0x62,
        &testenc::facility(Some(sa(OTHER_INSIDE, 1720)), Some(sa(INSIDE, 40004))),
    ));
    let (o, c, _, _) = run(H323Channel::CallSignalling, &m);
    assert!(o.edits.is_empty() && o.expectations().next().is_none());
    assert_failures(&c, &[(H323Error::CallForwarding, 1)]);
}

#[test]
fn attack_2_address_of_another_host_is_neither_rewritten_nor_expected() {
    let fwd = testenc::olc(1, sa(OTHER_INSIDE, 5000), sa(OTHER_INSIDE, 5001), false);
    let setup = testenc::setup(&SetupOpts {
        h245: Some(sa(OTHER_INSIDE, 40000)),
        source_call_signal: Some(sa(INSIDE, 40001)),
        dest_call_signal: sa(PEER, 1720),
        fast_start: vec![fwd],
    });
    let m = testenc::tpkt(&testenc::q931(0x05, &setup));
    let (o, c, asked, _) = run(H323Channel::CallSignalling, &m);
    // Only the sender's own sourceCallSignalAddress is rewritten; no expectation at all.
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].kind, AddrKind::SourceCallSignalAddress);
    assert_eq!(o.edits.len(), 1);
    assert!(o.expectations().next().is_none());
    assert_failures(&c, &[(H323Error::AddressMismatch, 2)]);
}

#[test]
fn attack_2_outside_sender_gets_outbound_expectations_for_its_own_address_only() {
    let fwd = testenc::olc(1, sa(PEER, 6000), sa(PEER, 6001), false);
    let other = Ipv4Addr::new(192, 0, 2, 7);
    let rev = testenc::olc(2, sa(other, 6002), sa(other, 6003), true);
    let m = testenc::tpkt(&testenc::q931(
        0x07,
        &testenc::connect(sa(PEER, 30000), &[fwd, rev]),
    ));
    let mut c = Counters::default();
    let seg = H323Segment {
        channel: H323Channel::CallSignalling,
        sender_side: Side::Outside,
        seq: ISN,
        src: PEER,
        peer: INSIDE,
        payload: &m,
    };
    let o = process_segment::<16>(&mut synced(), seg, &mut c, |_| panic!("no allocation"));
    assert!(o.edits.is_empty());
    assert_eq!(
        o.expectations().copied().collect::<Vec<_>>(),
        [
            Expectation::outbound(Protocol::Tcp, INSIDE, sa(PEER, 30000)),
            Expectation::outbound(Protocol::Udp, INSIDE, sa(PEER, 6001)),
        ]
    );
    assert_failures(&c, &[(H323Error::ThirdPartyHost, 2)]);
}

// ---------------------------------------------------------------------------------------
// REFERENCE.md 4: ports

#[test]
fn attack_4_privileged_zero_and_odd_rtp_ports_are_refused() {
    let rev = testenc::olc(2, sa(INSIDE, 5001), sa(INSIDE, 5002), true);
    let m = testenc::tpkt(&testenc::q931(
        0x07,
        &testenc::connect(sa(INSIDE, 1000), &[rev]),
    ));
    let (o, c, _, _) = run(H323Channel::CallSignalling, &m);
    // Only the RTCP address survives.
    assert_eq!(o.edits.len(), 1);
    assert_eq!(
        o.expectations().copied().collect::<Vec<_>>(),
        [inbound(Protocol::Udp, 15002, 5002)]
    );
    assert_failures(
        &c,
        &[(H323Error::PrivilegedPort, 1), (H323Error::OddRtpPort, 1)],
    );
    let m = testenc::tpkt(&testenc::h245_olc(1, sa(INSIDE, 0), sa(INSIDE, 0)));
    let (o, c, _, _) = run(H323Channel::H245, &m);
    assert!(o.edits.is_empty());
    assert_failures(&c, &[(H323Error::PrivilegedPort, 2)]);
}

#[test]
fn no_public_port_and_full_edit_list_are_counted() {
    let m = fixture("setup.bin");
    let mut c = Counters::default();
    let o = process_segment::<16>(
        &mut synced(),
        inside_segment(H323Channel::CallSignalling, &m),
        &mut c,
        |_| None,
    );
    assert!(o.edits.is_empty() && o.expectations().next().is_none());
    // Asked once per distinct endpoint, counted once per address (5001 appears twice).
    assert_failures(&c, &[(H323Error::NoPublicPort, 5)]);
    let mut c = Counters::default();
    let o = process_segment::<2>(
        &mut synced(),
        inside_segment(H323Channel::CallSignalling, &m),
        &mut c,
        public_of,
    );
    assert_eq!(o.edits.len(), 2);
    // No expectation for an address that could not be rewritten.
    assert_eq!(o.expectations().count(), 1);
    assert_failures(&c, &[(H323Error::TooManyRewrites, 3)]);
}

// ---------------------------------------------------------------------------------------
// REFERENCE.md 1, 5, 6: boundaries, several messages, split messages

#[test]
fn attack_1_segment_not_at_a_tracked_tpkt_boundary_is_not_parsed() {
    let m = fixture("setup.bin");
    let mut c = Counters::default();
    let mut t = synced();
    let mut seg = inside_segment(H323Channel::CallSignalling, &m);
    seg.seq = ISN + 7;
    let o = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert!(o.edits.is_empty());
    assert_failures(&c, &[(H323Error::NotAtBoundary, 1)]);
    // Unsynchronised tracker: nothing parsed either.
    let mut c = Counters::default();
    let o = process_segment::<16>(
        &mut TpktTracker::new(),
        inside_segment(H323Channel::CallSignalling, &m),
        &mut c,
        public_of,
    );
    assert!(o.edits.is_empty());
    assert_failures(&c, &[(H323Error::NotAtBoundary, 1)]);
}

#[test]
fn attack_1_slipstreaming_padding_never_exposes_a_header() {
    // An HTTP POST to port 1720 whose body, at a segment start, is a crafted Setup.
    let mut post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 193\r\n\r\n".to_vec();
    let first = post.len();
    post.extend(fixture("setup.bin"));
    let mut t = synced();
    let mut c = Counters::default();
    let o = process_segment::<16>(
        &mut t,
        inside_segment(H323Channel::CallSignalling, &post[..first]),
        &mut c,
        public_of,
    );
    assert!(o.edits.is_empty());
    let mut seg = inside_segment(H323Channel::CallSignalling, &post[first..]);
    seg.seq = ISN + u32::try_from(first).unwrap();
    let o = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert!(o.edits.is_empty() && o.expectations().next().is_none());
    assert_failures(
        &c,
        &[
            (H323Error::TpktBadVersion, 1),
            (H323Error::NotAtBoundary, 1),
        ],
    );
}

#[test]
fn attack_5_several_tpkts_in_one_segment_are_all_rewritten() {
    let mut s = fixture("facility_h245.bin");
    let second = s.len();
    s.extend(fixture("setup.bin"));
    let (o, c, _, out) = run(H323Channel::CallSignalling, &s);
    assert_eq!(o.edits.len(), 6);
    assert!(o.edits.iter().skip(1).all(|e| e.offset() > second));
    assert_eq!(
        addresses(H323Channel::CallSignalling, &out[second..])[0],
        (AddrKind::H245Address, sa(PUBLIC, 50000))
    );
    assert_eq!((c.messages, c.rewrites), (2, 2));
}

#[test]
fn attack_6_split_tpkt_passes_and_the_stream_stays_in_step() {
    let a = fixture("setup.bin");
    let b = fixture("facility_h245.bin");
    let mut stream = a.clone();
    stream.extend(&b);
    let mut t = synced();
    let mut c = Counters::default();
    // Segment 1: the whole Setup but its last byte.
    let cut = a.len() - 1;
    let o = process_segment::<16>(
        &mut t,
        inside_segment(H323Channel::CallSignalling, &stream[..cut]),
        &mut c,
        public_of,
    );
    assert!(o.edits.is_empty());
    assert_failures(&c, &[(H323Error::TpktSplit, 1)]);
    // Segment 2: the Setup's last byte and the Facility: not at a boundary.
    let mut seg = inside_segment(H323Channel::CallSignalling, &stream[cut..]);
    seg.seq = ISN + u32::try_from(cut).unwrap();
    let o = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert!(o.edits.is_empty());
    // Segment 3 (the sender resegmented): the Facility alone, at the tracked boundary.
    let mut seg = inside_segment(H323Channel::CallSignalling, &b);
    seg.seq = ISN + u32::try_from(a.len()).unwrap();
    let o = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert_eq!(o.edits.len(), 1);
}

#[test]
fn attack_6_header_sent_alone_then_body() {
    let m = fixture("setup.bin");
    let mut t = synced();
    let mut c = Counters::default();
    let o = process_segment::<16>(
        &mut t,
        inside_segment(H323Channel::CallSignalling, &m[..4]),
        &mut c,
        public_of,
    );
    assert!(o.edits.is_empty());
    let mut seg = inside_segment(H323Channel::CallSignalling, &m[4..]);
    seg.seq = ISN + 4;
    let o = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert_eq!(o.edits.len(), 5);
    let (whole, ..) = run(H323Channel::CallSignalling, &m);
    let first = |o: &H323Outcome<16>| o.edits.iter().next().unwrap().offset();
    assert_eq!(first(&o) + 4, first(&whole));
    assert_failures(&c, &[]);
}

#[test]
fn attack_10_retransmission_is_rewritten_identically() {
    let m = fixture("setup.bin");
    let mut t = synced();
    let mut c = Counters::default();
    let seg = inside_segment(H323Channel::CallSignalling, &m);
    let a = process_segment::<16>(&mut t, seg, &mut c, public_of);
    let b = process_segment::<16>(&mut t, seg, &mut c, public_of);
    assert!(a.edits.iter().eq(b.edits.iter()));
    assert_eq!(a.edits.len(), 5);
}

// ---------------------------------------------------------------------------------------
// REFERENCE.md 8: malformed PER and TPKT

fn expect_failure(channel: H323Channel, m: &[u8], e: H323Error) {
    let (o, c, asked, out) = run(channel, m);
    assert!(asked.is_empty() && o.edits.is_empty(), "{e}");
    assert!(o.expectations().next().is_none());
    assert_eq!(out, m);
    assert_failures(&c, &[(e, 1)]);
}

/// Offset of the fastStart count in the Setup fixture: just before the first element's
/// length and bytes.
fn fast_start_count_offset(m: &[u8]) -> usize {
    let fwd = testenc::olc(1, sa(INSIDE, 5000), sa(INSIDE, 5001), false);
    let pos = m.windows(fwd.len()).position(|w| w == &fwd[..]).unwrap();
    assert_eq!(m[pos - 1], u8::try_from(fwd.len()).unwrap());
    assert_eq!(m[pos - 2], 2);
    pos - 2
}

#[test]
fn attack_8_tpkt_malformed_headers() {
    let m = fixture("setup.bin");
    for (len, e) in [
        (0u16, H323Error::TpktBadLength),
        (3, H323Error::TpktBadLength),
        (4, H323Error::TpktBadLength),
        (u16::try_from(m.len() + 1).unwrap(), H323Error::TpktSplit),
    ] {
        let mut x = m.clone();
        x[2..4].copy_from_slice(&len.to_be_bytes());
        expect_failure(H323Channel::CallSignalling, &x, e);
    }
    let mut x = m.clone();
    x[0] = 2;
    expect_failure(H323Channel::CallSignalling, &x, H323Error::TpktBadVersion);
    expect_failure(H323Channel::CallSignalling, &m[..3], H323Error::TpktSplit);
}

#[test]
fn attack_8_per_length_past_the_buffer() {
    let m = fixture("setup.bin");
    let i = fast_start_count_offset(&m);
    let mut x = m.clone();
    x[i + 1] = 0x7f; // first fastStart element claims 127 octets
    expect_failure(H323Channel::CallSignalling, &x, H323Error::PerTruncated);
    // Every truncation of the H.225.0 encoding (framing lengths adjusted) is refused.
    let q = q931::parse(&m[4..]).unwrap();
    for cut in (4 + q.h225_start + 1)..m.len() {
        let mut x = m[..cut].to_vec();
        let tl = u16::try_from(cut).unwrap();
        x[2..4].copy_from_slice(&tl.to_be_bytes());
        let ul = u16::try_from(cut - (4 + q.h225_start) + 1).unwrap();
        let uu = 4 + q.h225_start - 3;
        x[uu..uu + 2].copy_from_slice(&ul.to_be_bytes());
        let (o, c, ..) = run(H323Channel::CallSignalling, &x);
        assert!(o.edits.is_empty(), "cut at {cut}");
        assert_eq!(c.total_failures(), 1, "cut at {cut}: {c:?}");
        assert!(
            c.failed(H323Error::PerTruncated) == 1 || c.failed(H323Error::PerBadValue) == 1,
            "cut at {cut}: {c:?}"
        );
    }
}

#[test]
fn attack_8_per_huge_count_and_fragmented_length() {
    let m = fixture("setup.bin");
    let i = fast_start_count_offset(&m);
    let mut x = m.clone();
    x[i] = 0x7f; // fastStart: 127 elements
    expect_failure(H323Channel::CallSignalling, &x, H323Error::PerTooMany);
    let mut x = m.clone();
    x[i] = 0xc4; // fragmented count (4 × 16K)
    expect_failure(H323Channel::CallSignalling, &x, H323Error::PerFragmented);
    let mut x = m.clone();
    x[i + 1] = 0xc1;
    expect_failure(H323Channel::CallSignalling, &x, H323Error::PerFragmented);
}

#[test]
fn attack_8_per_extension_bitmap_longer_than_the_buffer() {
    // OpenLogicalChannel with its extension bit set and a 64-bit bitmap announced at the end.
    let mut body = testenc::h245_olc(1, sa(INSIDE, 5002), sa(INSIDE, 5003));
    body[1] |= 0x80;
    body.push(0x7e);
    expect_failure(
        H323Channel::H245,
        &testenc::tpkt(&body),
        H323Error::PerTruncated,
    );
    // With no bitmap at all.
    body.pop();
    expect_failure(
        H323Channel::H245,
        &testenc::tpkt(&body),
        H323Error::PerTruncated,
    );
}

#[test]
fn attack_8_too_many_addresses_leave_the_message_untouched() {
    let many: Vec<_> = (0..17)
        .map(|i| testenc::olc(i + 1, sa(INSIDE, 5000), sa(INSIDE, 5001), false))
        .collect();
    let m = testenc::tpkt(&testenc::q931(
        0x07,
        &testenc::connect(sa(INSIDE, 40002), &many),
    ));
    expect_failure(H323Channel::CallSignalling, &m, H323Error::TooManyAddresses);
}

#[test]
fn q931_without_user_user_is_refused() {
    let m = testenc::tpkt(&[0x08, 0x02, 0x12, 0x34, 0x05, 0x04, 0x03, 0x88, 0x93, 0xa5]);
    expect_failure(H323Channel::CallSignalling, &m, H323Error::Q931Bad);
}

#[test]
fn unsupported_video_capability_is_counted() {
    // OpenLogicalChannel with dataType videoData h262VideoCapability.
    let mut w = testenc::W::new();
    w.choice(0, 4, true).choice(3, 11, true);
    w.bit(false).bit(false).cons(1, 1, 65535);
    w.bit(false).bit(false);
    w.choice(2, 6, true).choice(2, 5, true);
    w.bits(0, 16);
    let m = testenc::tpkt(&w.finish());
    expect_failure(H323Channel::H245, &m, H323Error::PerUnsupported);
}

#[test]
fn other_h245_and_h225_messages_pass_untouched() {
    // H.245 terminalCapabilitySet (request index 2): counted as a message, nothing else.
    let mut w = testenc::W::new();
    w.choice(0, 4, true).choice(2, 11, true).bits(0, 8);
    let (o, c, ..) = run(H323Channel::H245, &testenc::tpkt(&w.finish()));
    assert!(o.edits.is_empty());
    assert_eq!((c.messages, c.total_failures()), (1, 0));
}

/// Writes the seed corpus of the `h323` fuzz target (`fuzz/corpus/h323/`): the fixtures in
/// each situation of the harness, and the malformed variants of the tests above.
#[test]
#[ignore]
fn write_fuzz_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/h323");
    std::fs::create_dir_all(dir).unwrap();
    let put = |name: &str, flags: u8, body: &[u8]| {
        let mut v = vec![flags];
        v.extend_from_slice(body);
        std::fs::write(format!("{dir}/{name}"), v).unwrap();
    };
    for (name, m) in fixtures() {
        let name = name.trim_end_matches(".bin");
        let base = if name.starts_with("ras") {
            2
        } else if name.starts_with("h245") {
            1
        } else {
            0
        };
        put(name, base, &m);
        put(&format!("{name}_outside"), base | 4, &m);
        if base != 2 {
            put(&format!("{name}_seg16_retx"), base | 8 | 0x20, &m);
        }
    }
    let setup = fixture("setup.bin");
    let i = fast_start_count_offset(&setup);
    let mut x = setup.clone();
    x[i] = 0x7f;
    put("setup_huge_count", 0, &x);
    let mut x = setup.clone();
    x[i + 1] = 0x7f;
    put("setup_length_past_end", 0, &x);
    let mut x = setup.clone();
    x[i + 1] = 0xc1;
    put("setup_fragmented", 0, &x);
    let mut x = setup.clone();
    x[2..4].copy_from_slice(&3u16.to_be_bytes());
    put("tpkt_length_3", 0, &x);
    put("tpkt_truncated", 0, &setup[..3]);
    let mut two = fixture("facility_h245.bin");
    two.extend(&setup);
    put("two_tpkts", 0, &two);
    let mut post = b"POST / HTTP/1.1\r\nContent-Length: 193\r\n\r\n".to_vec();
    post.extend(&setup);
    put("slipstream_post", 0x50, &post);
    let mut body = testenc::h245_olc(1, sa(INSIDE, 5002), sa(INSIDE, 5003));
    body[1] |= 0x80;
    body.push(0x7e);
    put("h245_ext_bitmap_past_end", 1, &testenc::tpkt(&body));
}

// ---------------------------------------------------------------------------------------
// Properties: any corruption of a real message keeps the harness invariants (6-byte
// in-bounds overwrites of the sender's own address, no pinhole to a third host).

mod props {
    use super::*;
    use proptest::prelude::*;

    fn situations() -> impl Strategy<Value = (Vec<u8>, u8)> {
        let all = fixtures();
        (0..all.len(), any::<u8>()).prop_map(move |(i, flags)| {
            let (name, m) = &all[i];
            let base = if name.starts_with("ras") {
                2
            } else if name.starts_with("h245") {
                1
            } else {
                0
            };
            (m.clone(), (flags & !3) | base)
        })
    }

    proptest! {
        #[test]
        fn corrupted_messages_keep_the_invariants(
            (m, flags) in situations(),
            flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..6),
            cut in any::<u16>(),
        ) {
            let mut m = m;
            for (at, v) in flips {
                let i = usize::from(at) % m.len();
                m[i] ^= v;
            }
            let cut = usize::from(cut) % (m.len() + 1);
            let mut data = vec![flags];
            data.extend_from_slice(&m[..cut.max(1)]);
            crate::fuzz_harness_h323::h323(&data);
        }
    }
}
