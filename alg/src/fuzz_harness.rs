//! Fuzz harnesses shared by the cargo-fuzz targets (`fuzz/fuzz_targets/{ftp,tftp}.rs`) and the
//! corpus replay test (`alg/tests/fuzz_corpus.rs`). They panic when an invariant breaks.
//!
//! FTP input: the first byte selects the situation, the rest is the byte stream of one
//! direction of a control connection.
//!
//! | bits | meaning |
//! |---|---|
//! | 0 | sender: 0 client, 1 server |
//! | 1 | sender's side: 0 inside, 1 outside |
//! | 2 | 1: the state is not synchronised with the initial sequence number |
//! | 3 | 1: the receiver acknowledges only after a held segment (0: after every segment) |
//! | 4-7 | n: cut the stream into segments of 4·n bytes (0: one segment) |
//!
//! A held segment (split-command policy) is "retransmitted" coalesced with the next one, as
//! a TCP sender does. The sequence space starts just before the 2^32 wrap.

use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::{Protocol, Side};
use crate::ftp::{self, FtpError, FtpSegment, FtpSender, FtpState, MIN_DATA_PORT};
use crate::seq::SeqHistory;
use crate::tftp::{self, TftpError};
use core::net::{Ipv4Addr, SocketAddrV4};

/// The subscriber.
pub const INSIDE_HOST: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// The remote server.
pub const OUTSIDE_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The subscriber's public address.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

const ISN: u32 = u32::MAX - 40;
const MAX_EDITS: usize = 4;

/// Runs one FTP input (see the module documentation); returns the counters.
pub fn ftp(data: &[u8]) -> AlgCounters<FtpError> {
    let mut counters = AlgCounters::default();
    let Some((&flags, stream)) = data.split_first() else {
        return counters;
    };
    let sender = if flags & 1 == 0 {
        FtpSender::Client
    } else {
        FtpSender::Server
    };
    let side = if flags & 2 == 0 {
        Side::Inside
    } else {
        Side::Outside
    };
    let (src, peer) = match side {
        Side::Inside => (INSIDE_HOST, OUTSIDE_HOST),
        Side::Outside => (OUTSIDE_HOST, INSIDE_HOST),
    };
    let seg_len = match usize::from(flags >> 4) * 4 {
        0 => stream.len().max(1),
        n => n,
    };
    let mut state = FtpState::new();
    if flags & 4 == 0 {
        state.synchronize(sender, ISN);
    }
    let mut hist = SeqHistory::new();
    let mut next_port: u16 = 50000;
    let mut start = 0usize; // first byte not yet forwarded
    let mut cut = 0usize; // end of the data the sender has queued so far
    let mut out = [0u8; 1 << 16];
    let mut rounds = 0usize;
    let acknowledge = |hist: &mut SeqHistory, start: usize| {
        let upto = ISN.wrapping_add(u32::try_from(start).unwrap_or(0));
        let t = hist.map_seq(upto);
        assert_eq!(hist.unmap_ack(t), upto);
    };
    while start < stream.len() && rounds <= 4 * stream.len() + 16 {
        rounds += 1;
        cut = (cut + seg_len).min(stream.len()).max(start + 1);
        let payload = &stream[start..cut];
        let seq = ISN.wrapping_add(u32::try_from(start).unwrap_or(0));
        let seg = FtpSegment {
            sender,
            sender_side: side,
            seq,
            src,
            payload,
        };
        let before = hist;
        let o = ftp::process::<MAX_EDITS>(&mut state, seg, peer, &mut hist, &mut counters, |m| {
            assert_eq!(m.sender_side, Side::Inside);
            next_port = next_port.wrapping_add(1).max(MIN_DATA_PORT);
            Some(SocketAddrV4::new(PUBLIC, next_port))
        });
        if o.hold {
            assert!(o.edits.is_empty() && o.expectations().next().is_none());
            assert_eq!(hist, before, "a held segment records no correction");
            acknowledge(&mut hist, start);
            continue;
        }
        let mut last_end = 0;
        for e in o.edits.iter() {
            assert!(e.offset() >= last_end && e.end() <= payload.len());
            last_end = e.end();
        }
        let n = apply_edits(payload, o.edits.iter(), &mut out).unwrap_or(usize::MAX);
        let want = i64::try_from(payload.len()).unwrap_or(0) + o.edits.total_delta();
        assert_eq!(i64::try_from(n).ok(), Some(want));
        // The corrections move exactly the bytes after this segment by its growth.
        let end = seq.wrapping_add(u32::try_from(payload.len()).unwrap_or(0));
        let grown = hist.map_seq(end).wrapping_sub(hist.map_seq(seq));
        assert_eq!(Some(grown), u32::try_from(n).ok());
        for x in o.expectations() {
            assert_eq!(x.protocol, Protocol::Tcp);
            assert!(
                x.remote_addr == OUTSIDE_HOST,
                "pinhole towards a third host"
            );
            assert!(!matches!(x.inside_port, Some(p) if p < MIN_DATA_PORT));
            assert!(!matches!(x.remote_port, Some(p) if p < MIN_DATA_PORT));
            if x.initiator == Side::Outside {
                assert_eq!(x.inside_addr, INSIDE_HOST);
            }
        }
        start = cut;
        if flags & 8 == 0 {
            acknowledge(&mut hist, start);
        }
    }
    counters
}

/// Runs one datagram to the TFTP port through the parser; returns the counters.
pub fn tftp(data: &[u8]) -> AlgCounters<TftpError> {
    let mut counters = AlgCounters::default();
    let inside = SocketAddrV4::new(INSIDE_HOST, 40000);
    let public = SocketAddrV4::new(PUBLIC, 50000);
    if let Some(x) = tftp::process(data, OUTSIDE_HOST, public, inside, &mut counters) {
        assert_eq!(x.remote_addr, OUTSIDE_HOST);
        assert_eq!(x.public, Some(public));
        let r = tftp::parse(data);
        assert!(r.is_ok() && data.len() <= tftp::MAX_REQUEST);
        if let Ok(r) = r {
            assert!(!r.filename.is_empty());
            assert!(r.options().count() <= tftp::MAX_OPTIONS);
        }
    }
    counters
}
