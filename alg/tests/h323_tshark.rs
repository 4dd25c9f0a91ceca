//! Wireshark as the independent oracle of the H.323 ALG: the hand-encoded fixtures
//! (`fixtures/h323/`) and their rewrites are put in a pcap and decoded by tshark's H.225.0
//! and H.245 dissectors, which must find the public address and ports where the inside ones
//! were, the third host of a call-forwarding Facility untouched, and no malformed packet.
//!
//! Skips (with a message) only when tshark is not installed; `make deps` / lab/deps.sh
//! install it.
#![allow(clippy::unwrap_used)]

use alg::edit::apply_edits;
use alg::expect::Side;
use alg::h323::{
    process_ras, process_segment, H323Address, H323Channel, H323Error, H323Segment, TpktTracker,
};
use alg::AlgCounters;
use core::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

const INSIDE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);
const H245_PORT: u16 = 40010;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Q931,
    H245,
    Ras,
}

const FIXTURES: &[(&str, Kind, &[u8])] = &[
    (
        "setup",
        Kind::Q931,
        include_bytes!("fixtures/h323/setup.bin"),
    ),
    (
        "connect",
        Kind::Q931,
        include_bytes!("fixtures/h323/connect.bin"),
    ),
    (
        "facility_forward",
        Kind::Q931,
        include_bytes!("fixtures/h323/facility_forward.bin"),
    ),
    (
        "facility_h245",
        Kind::Q931,
        include_bytes!("fixtures/h323/facility_h245.bin"),
    ),
    (
        "h245_olc",
        Kind::H245,
        include_bytes!("fixtures/h323/h245_olc.bin"),
    ),
    (
        "h245_olc_h263",
        Kind::H245,
        include_bytes!("fixtures/h323/h245_olc_h263.bin"),
    ),
    (
        "h245_olc_ack",
        Kind::H245,
        include_bytes!("fixtures/h323/h245_olc_ack.bin"),
    ),
    (
        "ras_rrq",
        Kind::Ras,
        include_bytes!("fixtures/h323/ras_rrq.bin"),
    ),
    (
        "ras_grq",
        Kind::Ras,
        include_bytes!("fixtures/h323/ras_grq.bin"),
    ),
];

fn public_of(a: &H323Address) -> Option<SocketAddrV4> {
    Some(SocketAddrV4::new(PUBLIC, a.endpoint.port() + 10000))
}

/// The ALG's rewrite of a fixture sent by the inside host.
fn rewrite(kind: Kind, m: &[u8]) -> Vec<u8> {
    let mut c = AlgCounters::<H323Error>::default();
    let edits = match kind {
        Kind::Ras => process_ras::<16>(m, Side::Inside, INSIDE, PEER, &mut c, public_of).edits,
        Kind::Q931 | Kind::H245 => {
            let mut t = TpktTracker::new();
            t.synchronize(1);
            let seg = H323Segment {
                channel: if kind == Kind::H245 {
                    H323Channel::H245
                } else {
                    H323Channel::CallSignalling
                },
                sender_side: Side::Inside,
                seq: 1,
                src: INSIDE,
                peer: PEER,
                payload: m,
            };
            process_segment::<16>(&mut t, seg, &mut c, public_of).edits
        }
    };
    assert_eq!(c.total_failures(), u64::from(m.len() == 69), "{c:?}");
    let mut out = vec![0; m.len()];
    assert_eq!(apply_edits(m, edits.iter(), &mut out).unwrap(), m.len());
    out
}

/// One Ethernet/IPv4 frame from the inside host to the peer; each on its own TCP connection.
fn frame(kind: Kind, n: u16, payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(
        INSIDE.octets(),
        PEER.octets(),
        64,
    );
    let mut v = Vec::new();
    match kind {
        Kind::Ras => b.udp(1719, 1719).write(&mut v, payload).unwrap(),
        Kind::Q931 => b
            .tcp(41000 + n, 1720, 1, 65535)
            .ack(1)
            .psh()
            .write(&mut v, payload)
            .unwrap(),
        Kind::H245 => b
            .tcp(42000 + n, H245_PORT, 1, 65535)
            .ack(1)
            .psh()
            .write(&mut v, payload)
            .unwrap(),
    }
    v
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut p = Vec::new();
    for x in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        p.extend_from_slice(x);
    }
    for x in [0u32, 0, 65535, 1] {
        p.extend_from_slice(&x.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).unwrap();
        for x in [u32::try_from(i).unwrap(), 0, len, len] {
            p.extend_from_slice(&x.to_le_bytes());
        }
        p.extend_from_slice(f);
    }
    p
}

const FIELDS: &[&str] = &[
    "frame.protocols",
    "h225.h245Ip",
    "h225.h245IpPort",
    "h225.ipV4",
    "h225.ipV4_port",
    "h245.ip4_network",
    "h245.tsapIdentifier",
    "_ws.malformed",
    "_ws.expert",
];

/// tshark's view of each frame: one string per field of [`FIELDS`].
fn tshark(frames: &[Vec<u8>]) -> Option<Vec<Vec<String>>> {
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("SKIPPED: tshark is not installed (apt-get install tshark; lab/deps.sh does)");
        return None;
    }
    let path = std::env::temp_dir().join(format!("alg-h323-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap(frames)).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(&path)
        .args(["-d", &format!("tcp.port=={H245_PORT},h245")])
        .args(["-o", "tcp.analyze_sequence_numbers:FALSE"])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect(),
    )
}

/// Expected tshark fields (after frame.protocols, before the malformed/expert columns).
fn want(name: &str, ip: Ipv4Addr, p: u16) -> [String; 6] {
    let ip = ip.to_string();
    let peer = PEER.to_string();
    let port = |x: u16| (x + p).to_string();
    let rep = |n: usize, s: &str| vec![s; n].join(",");
    let s = |x: &str| x.to_owned();
    match name {
        "setup" => [
            ip.clone(),
            port(40000),
            format!("{peer},{ip}"),
            format!("1720,{}", port(40001)),
            rep(3, &ip),
            format!("{},{},{}", port(5001), port(5000), port(5001)),
        ],
        "connect" => [
            ip.clone(),
            port(40002),
            s(""),
            s(""),
            rep(3, &ip),
            format!("{},{},{}", port(5001), port(5000), port(5001)),
        ],
        // Call forwarding to a third host: never rewritten.
        "facility_forward" => [s(""), s(""), s("100.64.0.99"), s("1720"), s(""), s("")],
        "facility_h245" => [ip, port(40004), s(""), s(""), s(""), s("")],
        "progress" => [
            ip.clone(),
            port(40006),
            s(""),
            s(""),
            rep(2, &ip),
            format!("{},{}", port(5006), port(5007)),
        ],
        "h245_olc" => [
            s(""),
            s(""),
            s(""),
            s(""),
            rep(2, &ip),
            format!("{},{}", port(5002), port(5003)),
        ],
        "h245_olc_h263" => [
            s(""),
            s(""),
            s(""),
            s(""),
            rep(2, &ip),
            format!("{},{}", port(5008), port(5009)),
        ],
        "h245_olc_ack" => [
            s(""),
            s(""),
            s(""),
            s(""),
            rep(2, &ip),
            format!("{},{}", port(5004), port(5005)),
        ],
        "ras_rrq" => [
            s(""),
            s(""),
            rep(2, &ip),
            format!("{},{}", port(1720), port(1719)),
            s(""),
            s(""),
        ],
        "ras_grq" => [s(""), s(""), ip, port(1719), s(""), s("")],
        // The callee's destCallSignalAddress is a third host's: never rewritten.
        "ras_arq" => [
            s(""),
            s(""),
            format!("{peer},{ip}"),
            format!("1720,{}", port(40001)),
            s(""),
            s(""),
        ],
        _ => unreachable!(),
    }
}

#[test]
fn tshark_decodes_fixtures_and_rewrites_with_the_public_address() {
    let mut frames = Vec::new();
    for (i, (_, kind, m)) in FIXTURES.iter().enumerate() {
        let n = u16::try_from(i).unwrap();
        frames.push(frame(*kind, 2 * n, m));
        frames.push(frame(*kind, 2 * n + 1, &rewrite(*kind, m)));
    }
    let Some(rows) = tshark(&frames) else {
        return;
    };
    assert_eq!(rows.len(), frames.len());
    for (i, (name, kind, _)) in FIXTURES.iter().enumerate() {
        for (row, ip, add) in [(&rows[2 * i], INSIDE, 0), (&rows[2 * i + 1], PUBLIC, 10000)] {
            let proto = if *kind == Kind::H245 { "h245" } else { "h225" };
            assert!(row[0].contains(proto), "{name}: {row:?}");
            // facility_forward is never rewritten: its expectations are the original's.
            let (ip, add) = if *name == "facility_forward" {
                (INSIDE, 0)
            } else {
                (ip, add)
            };
            let w = want(name, ip, add);
            assert_eq!(&row[1..7], &w[..], "{name} ({ip})");
            assert_eq!(
                row.get(7).map_or("", String::as_str),
                "",
                "{name}: malformed"
            );
            assert_eq!(
                row.get(8).map_or("", String::as_str),
                "",
                "{name}: expert info"
            );
        }
    }
}
