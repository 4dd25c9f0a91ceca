//! The per-segment entry point [`process`] (over an [`RtspState`]), which frames the segment's messages, rewrites SETUPs and their replies,
//! records the sequence corrections and says what to do with the segment.
//!
//! A message starting before the furthest message start already seen is a retransmission: it
//! gets the same edits as the first time (answered SETUPs are kept, up to
//! [`MAX_PENDING_SETUPS`](super::MAX_PENDING_SETUPS) slots with the pending ones, for exactly that) and nothing else
//! changes. Once the peer acknowledged a correction, a retransmission of data before it is
//! passed unmodified (`seq_out_of_order`, as FTP): the receiver discards it anyway.
//!
//! A segment is all or nothing: when it must be held (split header block, unseen data before
//! it, outcome full, correction history full), every state change it made is undone, public
//! endpoints it allocated are released, and it is dropped so the sender retransmits.

use super::message::{self, Frame, Head, Method, StartLine};
use super::state::{Carry, RtspState};
use super::transport::MAX_TRANSPORTS;
use super::{RtspConfig, RtspError, RtspEvent, RtspSender};
use crate::counters::AlgCounters;
use crate::edit::EditList;
use crate::framer::Located;
use crate::seq::{seq_lt, SeqError, SeqHistory};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Edits one segment may produce.
pub const MAX_EDITS: usize = 16;
/// Events one segment may produce.
pub const MAX_EVENTS: usize = 32;
/// Edits one message may need: a client_port and a destination per specification.
pub(super) const MESSAGE_EDITS: usize = 2 * MAX_TRANSPORTS;
/// Events one message may produce: RTP and RTCP expectations plus releases per spec.
const MESSAGE_EVENTS: usize = 3 * MAX_TRANSPORTS;
/// Longest payload inspected.
const MAX_PAYLOAD: usize = u16::MAX as usize;

/// One segment of the RTSP connection.
#[derive(Debug, Clone, Copy)]
pub struct RtspSegment<'a> {
    /// Which end sent it.
    pub sender: RtspSender,
    /// Original TCP sequence number of `payload[0]`.
    pub seq: u32,
    /// TCP payload.
    pub payload: &'a [u8],
}

/// What to do with one segment.
#[derive(Debug, Clone, Copy)]
pub struct RtspOutcome {
    /// Edits to apply (their sequence corrections are already recorded in the history).
    pub edits: EditList<MAX_EDITS>,
    pub(super) events: [Option<RtspEvent>; MAX_EVENTS],
    /// Drop the segment; the sender retransmits. `edits` is empty and events hold only
    /// releases of endpoints allocated for it.
    pub hold: bool,
}

impl Default for RtspOutcome {
    fn default() -> Self {
        Self {
            edits: EditList::new(),
            events: [None; MAX_EVENTS],
            hold: false,
        }
    }
}

impl RtspOutcome {
    /// Expectations to install, teardowns, releases, in message order.
    pub fn events(&self) -> impl Iterator<Item = &RtspEvent> + '_ {
        self.events.iter().flatten()
    }
    fn free_events(&self) -> usize {
        self.events.iter().filter(|e| e.is_none()).count()
    }
    pub(super) fn event(&mut self, e: RtspEvent) {
        if let Some(s) = self.events.iter_mut().find(|s| s.is_none()) {
            *s = Some(e);
        }
    }
}

/// The two ends' real addresses: the client's inside address and the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtspPeers {
    /// The subscriber (client), real inside address.
    pub client: Ipv4Addr,
    /// The server.
    pub server: Ipv4Addr,
}

pub(super) struct Run<'a, A> {
    pub(super) state: &'a mut RtspState,
    pub(super) out: RtspOutcome,
    pub(super) counters: AlgCounters<RtspError>,
    pub(super) allocate: A,
    pub(super) allocated: [Option<(SocketAddrV4, bool)>; MAX_EDITS],
    pub(super) seg: RtspSegment<'a>,
    pub(super) client: Ipv4Addr,
    pub(super) server: Ipv4Addr,
    pub(super) cfg: RtspConfig,
    /// The message being handled was processed before (a retransmission).
    pub(super) retrans: bool,
}

/// Processes one segment of an RTSP connection (inside client, outside server).
///
/// * `peers`: the client's real (inside) address and the server's address.
/// * `history`: the sequence corrections of the segment's direction.
/// * `allocate(inside_rtp, pair)`: a public endpoint for the client's RTP port, with the same
///   parity; when `pair`, the next port is reserved too. Called only for checked ports.
pub fn process(
    state: &mut RtspState,
    seg: RtspSegment<'_>,
    peers: RtspPeers,
    cfg: &RtspConfig,
    history: &mut SeqHistory,
    counters: &mut AlgCounters<RtspError>,
    allocate: impl FnMut(SocketAddrV4, bool) -> Option<SocketAddrV4>,
) -> RtspOutcome {
    let payload = &seg.payload[..seg.payload.len().min(MAX_PAYLOAD)];
    let seg = RtspSegment { payload, ..seg };
    let mut out = RtspOutcome::default();
    if !state.complete_carry(seg.sender, seg.seq, payload) {
        return out;
    }
    let start = match state.framer(seg.sender).locate(seg.seq, payload.len()) {
        Located::At(off) => off,
        Located::Inside => return out,
        Located::Unsynced => {
            if !payload.is_empty() {
                counters.fail(RtspError::NotAtBoundary);
            }
            return out;
        }
        Located::Gap => {
            counters.fail(RtspError::Gap);
            if state.framer(seg.sender).hold(seg.seq) {
                out.hold = true;
            } else {
                counters.fail(RtspError::LostSync);
            }
            return out;
        }
    };
    let snapshot = *state;
    let mut run = Run {
        state,
        out,
        counters: *counters,
        allocate,
        allocated: [None; MAX_EDITS],
        seg,
        client: peers.client,
        server: peers.server,
        cfg: *cfg,
        retrans: false,
    };
    let fresh_from = run.state.framer(seg.sender).next_start();
    let seq_at = |pos: usize| seg.seq.wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));
    let mut pos = start;
    while pos < payload.len() {
        let rest = &payload[pos..];
        let f = match message::frame(rest) {
            Ok(Some(f)) => f,
            Ok(None) if rest[0] == b'$' => {
                let mut bytes = [0u8; 3];
                let n = rest.len().min(3);
                bytes[..n].copy_from_slice(&rest[..n]);
                let d = usize::from(seg.sender == RtspSender::Server);
                run.state.carry[d] = Some(Carry {
                    seq: seq_at(pos),
                    bytes,
                    len: u8::try_from(n).unwrap_or(0),
                });
                break;
            }
            Ok(None) => return run.hold(snapshot, seq_at(pos), RtspError::SplitMessage, counters),
            Err(e) => {
                run.counters.fail(e);
                run.lose_sync();
                break;
            }
        };
        let total = f.total_len();
        // total < 2^25, so the boundary fits the sequence space.
        let next = seq_at(pos).wrapping_add(u32::try_from(total).unwrap_or(u32::MAX));
        if let Frame::Message(h) = f {
            if run.interesting(&h)
                && (MAX_EDITS - run.out.edits.len() < MESSAGE_EDITS
                    || run.out.free_events() < MESSAGE_EVENTS)
            {
                return run.hold(snapshot, seq_at(pos), RtspError::TooManyRewrites, counters);
            }
            run.state.framer(seg.sender).boundary(next);
            run.retrans = fresh_from.is_some_and(|n| seq_lt(seq_at(pos), n));
            run.message(pos, &rest[..h.header_len], &h);
        } else {
            run.state.framer(seg.sender).boundary(next);
        }
        match usize::try_from(total).ok().and_then(|t| pos.checked_add(t)) {
            Some(p) => pos = p,
            None => break,
        }
    }
    match history.record_edits(seg.seq, run.out.edits.iter()) {
        Ok(()) => run.finish(counters),
        Err(e) => {
            let reason = match e {
                SeqError::HistoryFull => RtspError::SeqHistoryFull,
                SeqError::OutOfOrder => RtspError::SeqOutOfOrder,
            };
            run.cancel(snapshot, e == SeqError::HistoryFull, reason, counters)
        }
    }
}

impl<A: FnMut(SocketAddrV4, bool) -> Option<SocketAddrV4>> Run<'_, A> {
    fn lose_sync(&mut self) {
        self.counters.fail(RtspError::LostSync);
        self.state.framer(self.seg.sender).give_up();
    }

    fn interesting(&self, h: &Head) -> bool {
        match (self.seg.sender, h.start) {
            (RtspSender::Client, StartLine::Request(m)) => m != Method::Other,
            (RtspSender::Server, StartLine::Response(_)) => true,
            _ => false,
        }
    }

    /// Undoes the segment (state, allocations) and passes (`hold == false`) or holds it.
    fn cancel(
        self,
        snapshot: RtspState,
        hold: bool,
        reason: RtspError,
        counters: &mut AlgCounters<RtspError>,
    ) -> RtspOutcome {
        // Every event of the segment is dropped: each endpoint allocated for it is released
        // exactly once here (in-segment releases were events, dropped too).
        counters.fail(reason);
        let framer = *self.state.framer(self.seg.sender);
        let carry = self.state.carry;
        *self.state = snapshot;
        if !hold {
            // The segment passes: its boundaries are facts about the stream.
            *self.state.framer(self.seg.sender) = framer;
            self.state.carry = carry;
        }
        let mut out = RtspOutcome {
            hold,
            ..RtspOutcome::default()
        };
        for (public, pair) in self.allocated.iter().flatten() {
            out.event(RtspEvent::Release {
                public: *public,
                pair: *pair,
            });
        }
        out
    }

    /// Holds the segment because of stream position `at`, or, after too many holds there,
    /// gives up on the direction and passes the segment unmodified (nothing it announced is
    /// kept).
    fn hold(
        self,
        snapshot: RtspState,
        at: u32,
        reason: RtspError,
        counters: &mut AlgCounters<RtspError>,
    ) -> RtspOutcome {
        let mut before = snapshot;
        if before.framer(self.seg.sender).hold(at) {
            return self.cancel(before, true, reason, counters);
        }
        counters.fail(RtspError::LostSync);
        self.state.framer(self.seg.sender).give_up();
        self.cancel(snapshot, false, reason, counters)
    }

    fn finish(self, counters: &mut AlgCounters<RtspError>) -> RtspOutcome {
        *counters = self.counters;
        for e in self.out.edits.iter() {
            if !e.is_noop(self.seg.payload) {
                counters.rewrite();
            }
        }
        for e in self.out.events() {
            if matches!(e, RtspEvent::Expect { .. }) {
                counters.expectation();
            }
        }
        self.out
    }

    fn message(&mut self, pos: usize, block: &[u8], h: &Head) {
        if self.retrans {
            // Processed before: the same edits, nothing else (no state, event, count).
            let (setups, born, events, counters) = (
                self.state.setups,
                self.state.born,
                self.out.events,
                self.counters,
            );
            let _ = self.dispatch(pos, block, h);
            self.state.setups = setups;
            self.state.born = born;
            self.out.events = events;
            self.counters = counters;
            return;
        }
        match self.dispatch(pos, block, h) {
            Some(Ok(true)) => self.counters.message(),
            Some(Ok(false)) | None => {}
            Some(Err(e)) => self.counters.fail(e),
        }
    }

    fn dispatch(&mut self, pos: usize, block: &[u8], h: &Head) -> Option<Result<bool, RtspError>> {
        let r = match (self.seg.sender, h.start) {
            (RtspSender::Client, StartLine::Request(Method::Setup)) => self.setup(pos, block, h),
            (RtspSender::Client, StartLine::Request(Method::Teardown)) => match h.defect {
                Some(e) => Err(e),
                None => match h.session {
                    Some(s) => {
                        self.out.event(RtspEvent::Teardown(s));
                        Ok(true)
                    }
                    None => Err(RtspError::BadSyntax),
                },
            },
            (RtspSender::Server, StartLine::Response(code)) => self.reply(pos, block, h, code),
            _ => return None,
        };
        Some(r)
    }
}
