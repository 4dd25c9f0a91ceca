//! Fuzz harness of the H.323 ALG, shared by `fuzz/fuzz_targets/h323.rs`, the corpus replay
//! test and the property tests. It panics when an invariant breaks.
//!
//! Input: the first byte selects the situation, the rest is the data.
//!
//! | bits | meaning |
//! |---|---|
//! | 0-1 | 0 or 3: Q.931/H.225.0 byte stream; 1: H.245 byte stream; 2: one RAS datagram |
//! | 2 | sender's side: 0 inside, 1 outside |
//! | 3 | 1: deliver every segment twice (a retransmission must give the same edits) |
//! | 4-7 | n: cut a stream into segments of 8·n bytes (0: one segment) |
//!
//! Invariants: every edit overwrites exactly 6 bytes inside its payload, edits are sorted
//! and disjoint, and the bytes replaced are the sender's own address; only an inside sender
//! is rewritten, to the public address; every expectation's outside party is the master's
//! peer and its inside party the subscriber; no port below 1024.

use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::Side;
use crate::h323::{self, H323Address, H323Channel, H323Error, H323Segment, TpktTracker, MIN_PORT};
use core::net::{Ipv4Addr, SocketAddrV4};

/// The subscriber.
pub const INSIDE_HOST: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// The remote endpoint or gatekeeper.
pub const OUTSIDE_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The subscriber's public address.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

const ISN: u32 = u32::MAX - 60;
const MAX_EDITS: usize = 16;

/// The public endpoint the harness's "dataplane" gives an inside endpoint.
pub fn public_for(a: &H323Address) -> Option<SocketAddrV4> {
    Some(SocketAddrV4::new(PUBLIC, a.endpoint.port() ^ 0x4000))
}

fn check<const N: usize>(
    o: &h323::H323Outcome<N>,
    payload: &[u8],
    side: Side,
    src: Ipv4Addr,
    peer: Ipv4Addr,
) {
    let mut last = 0;
    for e in o.edits.iter() {
        assert_eq!(side, Side::Inside, "an outside sender is never rewritten");
        assert!(e.offset() >= last && e.end() <= payload.len());
        assert_eq!((e.len(), e.text().len()), (6, 6));
        assert_eq!(payload[e.offset()..e.offset() + 4], src.octets());
        assert_eq!(e.text()[..4], PUBLIC.octets());
        last = e.end();
    }
    let mut out = [0u8; 1 << 16];
    let n = apply_edits(payload, o.edits.iter(), &mut out).unwrap_or(usize::MAX);
    assert_eq!(n, payload.len(), "same-length rewrites only");
    for x in o.expectations() {
        match side {
            Side::Inside => {
                assert_eq!(x.remote_addr, peer, "pinhole towards a third host");
                assert_eq!(x.inside_addr, src);
                assert!(matches!(x.public, Some(p) if *p.ip() == PUBLIC));
            }
            Side::Outside => {
                assert_eq!(x.remote_addr, src);
                assert_eq!(x.inside_addr, peer);
                assert_eq!(x.public, None);
            }
        }
        assert!(!matches!(x.inside_port, Some(p) if p < MIN_PORT));
        assert!(!matches!(x.remote_port, Some(p) if p < MIN_PORT));
    }
}

/// Runs one input (see the module documentation); returns the counters.
pub fn h323(data: &[u8]) -> AlgCounters<H323Error> {
    let mut counters = AlgCounters::default();
    let Some((&flags, stream)) = data.split_first() else {
        return counters;
    };
    let side = if flags & 4 == 0 {
        Side::Inside
    } else {
        Side::Outside
    };
    let (src, peer) = match side {
        Side::Inside => (INSIDE_HOST, OUTSIDE_HOST),
        Side::Outside => (OUTSIDE_HOST, INSIDE_HOST),
    };
    let channel = match flags & 3 {
        1 => H323Channel::H245,
        2 => {
            let o =
                h323::process_ras::<MAX_EDITS>(stream, side, src, peer, &mut counters, public_for);
            check(&o, stream, side, src, peer);
            return counters;
        }
        _ => H323Channel::CallSignalling,
    };
    let seg_len = match usize::from(flags >> 4) * 8 {
        0 => stream.len().max(1),
        n => n,
    };
    let mut tracker = TpktTracker::new();
    tracker.synchronize(ISN);
    let mut start = 0;
    while start < stream.len() {
        let end = (start + seg_len).min(stream.len());
        let payload = &stream[start..end];
        let seg = H323Segment {
            channel,
            sender_side: side,
            seq: ISN.wrapping_add(u32::try_from(start).unwrap_or(0)),
            src,
            peer,
            payload,
        };
        let o = h323::process_segment::<MAX_EDITS>(&mut tracker, seg, &mut counters, public_for);
        check(&o, payload, side, src, peer);
        if flags & 8 != 0 {
            let again =
                h323::process_segment::<MAX_EDITS>(&mut tracker, seg, &mut counters, public_for);
            assert!(
                o.edits.iter().eq(again.edits.iter()),
                "a retransmission is rewritten the same way"
            );
        }
        start = end;
    }
    counters
}
