//! Fuzz harness of the RTSP ALG, shared by `fuzz/fuzz_targets/rtsp.rs` and the corpus replay
//! test. It panics when an invariant breaks.
//!
//! Input: a sequence of segments, each `[flags][length: u16 big-endian][payload]`; flags bit 0
//! is the sender (0 client, 1 server), bit 1 the destination policy of the segment (0 refuse,
//! 1 strip). Both ends are synchronised near the 2^32 wrap; the receiver acknowledges every
//! segment that passes. A held segment is "retransmitted" coalesced with that sender's next
//! segment, as a TCP sender does.
//!
//! Invariants: edits sorted, inside the payload, and their sequence corrections recorded
//! exactly (the edited length equals the mapped length); a held segment has no edits and only
//! releases; every public endpoint handed out is, exactly once, given back (Release), turned
//! into expectations, or still reserved at the end; expectations come from the server only,
//! to the client only, on ports of at least 1024, RTP even.

use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::{Protocol, Side};
use crate::rtsp::{
    self, DestinationPolicy, RtspConfig, RtspError, RtspEvent, RtspPeers, RtspSegment, RtspSender,
    RtspState, MIN_MEDIA_PORT,
};
use crate::seq::SeqHistory;
use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::BTreeMap;

/// The subscriber (client).
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// The server.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The subscriber's public address.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

const MAX_PAYLOAD: usize = 1 << 14;

/// Runs one input; returns the counters.
pub fn rtsp(data: &[u8]) -> AlgCounters<RtspError> {
    let mut k = AlgCounters::default();
    let mut st = RtspState::new();
    let mut seq = [u32::MAX - 100, u32::MAX - 5];
    st.synchronize(RtspSender::Client, seq[0]);
    st.synchronize(RtspSender::Server, seq[1]);
    let mut hist = [SeqHistory::new(), SeqHistory::new()];
    let mut unsent: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    // Public RTP port -> pair, for endpoints handed out and not yet accounted for.
    let mut live: BTreeMap<u16, bool> = BTreeMap::new();
    let mut next_port: u16 = 20000;
    let mut out = vec![0u8; MAX_PAYLOAD * 2];
    let mut rest = data;
    while let [flags, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let d = usize::from(flags & 1);
        let sender = if d == 0 {
            RtspSender::Client
        } else {
            RtspSender::Server
        };
        let cfg = RtspConfig {
            destination: if flags & 2 == 0 {
                DestinationPolicy::Refuse
            } else {
                DestinationPolicy::Strip
            },
        };
        let mut payload = core::mem::take(&mut unsent[d]);
        payload.extend_from_slice(chunk);
        payload.truncate(MAX_PAYLOAD);
        let o = rtsp::process(
            &mut st,
            RtspSegment {
                sender,
                seq: seq[d],
                payload: &payload,
            },
            RtspPeers {
                client: CLIENT,
                server: SERVER,
            },
            &cfg,
            &mut hist[d],
            &mut k,
            |inside, pair| {
                assert_eq!(sender, RtspSender::Client);
                assert_eq!(*inside.ip(), CLIENT);
                assert!(inside.port() >= MIN_MEDIA_PORT && inside.port() % 2 == 0);
                while live.contains_key(&next_port) {
                    next_port = if next_port >= 60000 {
                        20000
                    } else {
                        next_port + 2
                    };
                }
                let p = next_port;
                next_port = if next_port >= 60000 {
                    20000
                } else {
                    next_port + 2
                };
                live.insert(p, pair);
                Some(SocketAddrV4::new(PUBLIC, p))
            },
        );
        let mut last = 0;
        for e in o.edits.iter() {
            assert!(e.offset() >= last && e.end() <= payload.len());
            last = e.end();
        }
        if o.hold {
            assert!(o.edits.is_empty());
            assert!(o.events().all(|e| matches!(e, RtspEvent::Release { .. })));
        }
        let mut expected: BTreeMap<u16, u8> = BTreeMap::new();
        for e in o.events() {
            match e {
                RtspEvent::Release { public, pair } => {
                    assert_eq!(live.remove(&public.port()), Some(*pair), "{e:?}");
                }
                RtspEvent::Expect { expectation: x, .. } => {
                    assert_eq!(sender, RtspSender::Server);
                    assert_eq!((x.protocol, x.initiator), (Protocol::Udp, Side::Outside));
                    assert_eq!((x.remote_addr, x.inside_addr), (SERVER, CLIENT));
                    assert!(x.inside_port.is_some_and(|p| p >= MIN_MEDIA_PORT));
                    let public = x.public.map(|p| p.port()).unwrap_or(0);
                    let rtp = public & !1;
                    assert_eq!(x.inside_port.map(|p| p & 1), Some(public & 1));
                    *expected.entry(rtp).or_default() += 1;
                }
                RtspEvent::Teardown(_) => assert_eq!(sender, RtspSender::Client),
            }
        }
        for (rtp, n) in expected {
            let pair = live.remove(&rtp);
            assert!(
                pair.is_some(),
                "expectation on a port not handed out: {rtp}"
            );
            assert_eq!(n, if pair == Some(true) { 2 } else { 1 });
        }
        if o.hold {
            unsent[d] = payload;
            continue;
        }
        let n = apply_edits(&payload, o.edits.iter(), &mut out).unwrap_or(usize::MAX);
        let end = seq[d].wrapping_add(u32::try_from(payload.len()).unwrap_or(0));
        let h = &mut hist[d];
        let grown = h.map_seq(end).wrapping_sub(h.map_seq(seq[d]));
        assert_eq!(Some(grown), u32::try_from(n).ok());
        let t = h.map_seq(end);
        assert_eq!(h.unmap_ack(t), end);
        seq[d] = end;
    }
    for (public, pair) in st.reserved() {
        assert_eq!(live.remove(&public.port()), Some(pair));
    }
    assert!(live.is_empty(), "endpoints never given back: {live:?}");
    k
}
