//! Fuzz harness of the SIP ALG, shared by the cargo-fuzz target `fuzz/fuzz_targets/sip.rs`
//! and the corpus replay test (`alg/tests/fuzz_corpus_sip.rs`). It panics when an invariant
//! breaks.
//!
//! Input: the first byte selects the situation, the rest is one UDP datagram or the byte
//! stream of one direction of a TCP connection.
//!
//! | bits | meaning |
//! |---|---|
//! | 0 | transport: 0 UDP, 1 TCP |
//! | 1 | sender's side: 0 inside (the subscriber), 1 outside |
//! | 2 | the master's public port: 0 → 40000, 1 → 5060 (absent ports in URIs) |
//! | 3 | TCP: acknowledge only after a held segment (0: after every segment) |
//! | 4-7 | TCP: n: cut the stream into segments of 16·n bytes (0: one segment) |
//!
//! Invariants: edits are sorted and inside the payload and apply; a rewritten UDP message
//! parses again with a Content-Length equal to its body; on TCP the translated stream frames
//! into the same messages as the original (so every rewritten Content-Length is right) and
//! the sequence corrections move each segment by exactly its growth; expectations name only
//! the peer and the subscriber, RTP even and RTCP odd public ports, nothing below 1024.

use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::{Protocol, Side};
use crate::seq::SeqHistory;
use crate::sip::{
    self, Framer, SipError, SipMessage, SipPacket, SipSession, SipStream, Step, Translation,
    Transport, MAX_EDITS, MIN_MEDIA_PORT,
};
use core::net::{Ipv4Addr, SocketAddrV4};

/// The subscriber.
pub const INSIDE_HOST: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// The remote registrar/proxy.
pub const OUTSIDE_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The subscriber's public address.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

const ISN: u32 = u32::MAX - 100;

/// Messages started and whether framing failed, framing `stream` as one TCP direction.
fn frame(stream: &[u8]) -> (usize, Option<SipError>) {
    let mut f = Framer::new(true);
    let mut n = 0;
    for &b in stream {
        match f.feed(b) {
            Ok(Step::MessageStart) => n += 1,
            Ok(_) => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Runs one SIP input (see the module documentation); returns the counters.
pub fn sip(data: &[u8]) -> AlgCounters<SipError> {
    let mut counters = AlgCounters::default();
    let Some((&flags, input)) = data.split_first() else {
        return counters;
    };
    let transport = if flags & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let side = if flags & 2 == 0 {
        Side::Inside
    } else {
        Side::Outside
    };
    let public_port = if flags & 4 == 0 { 40000 } else { 5060 };
    let t = Translation {
        inside: SocketAddrV4::new(INSIDE_HOST, 5060),
        public: SocketAddrV4::new(PUBLIC, public_port),
        peer: OUTSIDE_HOST,
    };
    let mut session = SipSession::new();
    let mut next_port: u16 = 50000;
    let mut given = Vec::new();
    let mut allocate = |_: &sip::Media| {
        next_port = next_port.wrapping_add(2).max(MIN_MEDIA_PORT);
        given.push(next_port);
        Some(next_port)
    };
    let mut out = [0u8; 1 << 16];
    match transport {
        Transport::Udp => {
            let pkt = SipPacket {
                transport,
                sender_side: side,
                seq: 0,
                payload: input,
                now: 0,
            };
            let o = sip::process::<MAX_EDITS>(
                &mut session,
                None,
                None,
                pkt,
                &t,
                64,
                &mut counters,
                &mut allocate,
            );
            assert!(!o.hold, "UDP is never held");
            check_ports(&given, &o);
            let n = check_edits(input, &o.edits, &mut out);
            if !o.edits.is_empty() {
                match SipMessage::parse(&out[..n], 0, Transport::Udp) {
                    Ok(_) | Err(SipError::HeaderTooLong | SipError::MessageTooLong) => {}
                    Err(e) => panic!("rewritten datagram does not parse: {e}"),
                }
            }
            check_expectations(o.install(), side);
        }
        Transport::Tcp => tcp(input, flags, side, &t, &mut session, &mut counters),
    }
    counters
}

/// Every public port handed out is used by an installed RTP expectation or released.
fn check_ports<const N: usize>(given: &[u16], o: &sip::SipOutcome<N>) {
    for p in given {
        let used = o
            .install()
            .any(|x| x.public.is_some_and(|a| a.port() == *p));
        let released = o.released().any(|r| r == p);
        assert!(
            used != released,
            "port {p}: used {used}, released {released}"
        );
    }
}

fn check_edits<const N: usize>(
    payload: &[u8],
    edits: &crate::edit::EditList<N>,
    out: &mut [u8],
) -> usize {
    let mut last_end = 0;
    for e in edits.iter() {
        assert!(e.offset() >= last_end && e.end() <= payload.len());
        last_end = e.end();
    }
    let n = apply_edits(payload, edits.iter(), out).unwrap_or(usize::MAX);
    let want = i64::try_from(payload.len()).unwrap_or(0) + edits.total_delta();
    assert_eq!(i64::try_from(n).ok(), Some(want));
    n
}

fn check_expectations<'e>(exps: impl Iterator<Item = &'e crate::Expectation>, side: Side) {
    for x in exps {
        assert_eq!(x.protocol, Protocol::Udp);
        assert_eq!(
            x.remote_addr, OUTSIDE_HOST,
            "expectation towards a third host"
        );
        match side {
            Side::Inside => {
                assert_eq!(x.initiator, Side::Outside);
                assert_eq!(x.inside_addr, INSIDE_HOST);
                assert!(matches!(x.inside_port, Some(p) if p >= MIN_MEDIA_PORT));
                assert!(matches!(x.public, Some(p) if *p.ip() == PUBLIC));
            }
            Side::Outside => {
                assert_eq!(x.initiator, Side::Inside);
                assert!(matches!(x.remote_port, Some(p) if p >= MIN_MEDIA_PORT));
            }
        }
    }
}

fn tcp(
    stream: &[u8],
    flags: u8,
    side: Side,
    t: &Translation,
    session: &mut SipSession,
    counters: &mut AlgCounters<SipError>,
) {
    let seg_len = match usize::from(flags >> 4) * 16 {
        0 => stream.len().max(1),
        n => n,
    };
    let mut st = SipStream::new(ISN);
    let mut hist = SeqHistory::new();
    let mut next_port: u16 = 50000;
    let mut translated: Vec<u8> = Vec::with_capacity(stream.len() * 2);
    let mut out = [0u8; 1 << 16];
    let mut start = 0usize;
    let mut cut = 0usize;
    let mut rounds = 0usize;
    let acknowledge = |hist: &mut SeqHistory, start: usize| {
        let upto = ISN.wrapping_add(u32::try_from(start).unwrap_or(0));
        let t = hist.map_seq(upto);
        assert_eq!(hist.unmap_ack(t), upto);
    };
    while start < stream.len() && rounds <= 4 * stream.len() + 64 {
        rounds += 1;
        cut = (cut + seg_len).min(stream.len()).max(start + 1);
        let payload = &stream[start..cut];
        let seq = ISN.wrapping_add(u32::try_from(start).unwrap_or(0));
        let before = hist;
        let mut given = Vec::new();
        let o = sip::process::<MAX_EDITS>(
            session,
            Some(&mut st),
            Some(&mut hist),
            SipPacket {
                transport: Transport::Tcp,
                sender_side: side,
                seq,
                payload,
                now: 0,
            },
            t,
            64,
            counters,
            |_| {
                next_port = next_port.wrapping_add(2).max(MIN_MEDIA_PORT);
                given.push(next_port);
                Some(next_port)
            },
        );
        check_ports(&given, &o);
        if o.hold {
            assert!(o.edits.is_empty() && o.install().next().is_none());
            assert_eq!(hist, before, "a held segment records no correction");
            acknowledge(&mut hist, start);
            // The sender retransmits from `start`, coalesced with what it queued since.
            continue;
        }
        let n = check_edits(payload, &o.edits, &mut out);
        let end = seq.wrapping_add(u32::try_from(payload.len()).unwrap_or(0));
        let grown = hist.map_seq(end).wrapping_sub(hist.map_seq(seq));
        assert_eq!(Some(grown), u32::try_from(n).ok());
        translated.extend_from_slice(&out[..n]);
        check_expectations(o.install(), side);
        start = cut;
        if flags & 8 == 0 {
            acknowledge(&mut hist, start);
        }
    }
    if start < stream.len() {
        return; // gave up (bounded rounds): nothing to compare
    }
    // The translated stream frames into the same messages: every Content-Length is right.
    let (n_in, e_in) = frame(stream);
    let (n_out, e_out) = frame(&translated);
    match e_out {
        Some(SipError::HeaderTooLong | SipError::MessageTooLong) if e_out != e_in => {
            assert!(n_out <= n_in);
        }
        _ => {
            assert_eq!(
                (n_in, e_in),
                (n_out, e_out),
                "framing changed by the rewrite"
            );
        }
    }
}
