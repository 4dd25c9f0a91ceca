//! The state of one PPTP control connection and the per-segment entry point [`process`].
//!
//! [`PptpControl`] follows the control connection (RFC 2637 §3.1: Start-Control-Connection
//! request and reply before any call, Stop-Control-Connection ending all calls) and keeps up
//! to [`MAX_CALLS`] calls (Linux's helper keeps one per control connection). Each call maps the
//! PNS's inside Call ID to the public Call ID the dataplane chose and, once known, the PAC's
//! Call ID. Call life cycle (RFC 2637 §3.2):
//!
//! ```text
//!  outgoing: OCRQ (PNS) ──► OutgoingRequested ──OCRP result 1──► Established ──CCRQ──► Clearing
//!  incoming: ICRQ (PAC) ──► IncomingRequested ──ICRP result 1──► IncomingReplied ──ICCN──► Established
//!  any: CDN (PAC) frees the call; Stop-Control-Connection-Request frees every call
//! ```
//!
//! A GRE [`PptpEvent::Create`] is emitted when a call becomes Established; [`PptpEvent::Remove`]
//! when it leaves that state (CCRQ, CDN, Stop); a call that never reached it gives its public
//! Call ID back with [`PptpEvent::Release`]. A cleared call keeps its slot until the PAC's
//! Call-Disconnect-Notify (so that message is recognised), or until a new call needs the slot.
//!
//! Messages are length-framed ([`crate::framer`]): a message is acted on when its first
//! [`NEEDED_PREFIX`] bytes are in the segment (the rest may follow in later segments, which
//! are skipped by the Length). If they are cut, or the segment follows unseen data, the segment
//! is held: the state is restored to what it was before the segment, public Call IDs it
//! allocated are released, and the dataplane drops it so the sender retransmits. A bad Magic
//! Cookie or an impossible Length ends inspection of the direction (`lost_sync`): the framing
//! cannot be trusted.
//!
//! A message that starts before the furthest message start already seen is a retransmission:
//! it is rewritten from the current call table (the same Call IDs as the first time while the
//! call lives) but changes nothing else: no state, no event, no count, no allocation.
//!
//! Refusals pass the message unmodified. In particular an Outgoing-Call-Request that cannot be
//! given a public Call ID (`too_many_calls`, `no_public_call_id`) reaches the PAC with the
//! inside Call ID: the PAC's reply then names no known call and is passed unmodified too, and
//! no GRE session is created, so the call fails without disturbing the control connection or
//! other calls.

use super::message::{self, PptpSender, NEEDED_PREFIX};
use super::{GreCall, PptpError, PptpEvent};
use crate::counters::AlgCounters;
use crate::edit::{Edit, EditList};
use crate::framer::{Located, MessageFramer};
use crate::seq::seq_lt;

/// Calls one control connection may have open (a configurable ceiling: change the constant).
pub const MAX_CALLS: usize = 8;
/// Edits one segment may produce (one per message at most).
pub const MAX_EDITS: usize = 16;
/// Events one segment may produce: a Stop-Control-Connection-Request alone produces up to
/// [`MAX_CALLS`], every other message at most one.
pub const MAX_EVENTS: usize = 3 * MAX_CALLS;
/// Longest payload inspected (IP payloads never exceed it; edit offsets are 16 bits).
const MAX_PAYLOAD: usize = u16::MAX as usize;

/// One segment of the control connection.
#[derive(Debug, Clone, Copy)]
pub struct PptpSegment<'a> {
    /// Which end sent it.
    pub sender: PptpSender,
    /// TCP sequence number of `payload[0]`.
    pub seq: u32,
    /// TCP payload.
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No Start-Control-Connection-Request yet (or after Stop-Control-Connection-Reply).
    Idle,
    /// A Start-Control-Connection-Request from this end waits for its reply.
    Requested(PptpSender),
    /// Calls may be made.
    Established,
    /// Stop-Control-Connection-Request sent; waiting for its reply.
    Stopping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallState {
    /// Outgoing-Call-Request seen; `inside`, `public` known.
    OutgoingRequested,
    /// Incoming-Call-Request seen; only `pac` known.
    IncomingRequested,
    /// Incoming-Call-Reply (accepting) seen; all three known.
    IncomingReplied,
    /// Connected: GRE sessions exist.
    Established,
    /// Call-Clear-Request seen; waits for Call-Disconnect-Notify. No GRE sessions.
    Clearing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Call {
    pub(super) state: CallState,
    pub(super) inside: u16,
    pub(super) public: u16,
    pub(super) pac: u16,
}

impl Call {
    pub(super) fn has_public(&self) -> bool {
        self.state != CallState::IncomingRequested
    }
    pub(super) fn gre(&self) -> GreCall {
        GreCall {
            inside_call_id: self.inside,
            public_call_id: self.public,
            pac_call_id: self.pac,
        }
    }
    /// The event that ends this call, if any is owed to the dataplane.
    pub(super) fn end_event(&self) -> Option<PptpEvent> {
        match self.state {
            CallState::Established => Some(PptpEvent::Remove(self.gre())),
            CallState::OutgoingRequested | CallState::IncomingReplied => Some(PptpEvent::Release {
                inside_call_id: self.inside,
                public_call_id: self.public,
            }),
            CallState::IncomingRequested | CallState::Clearing => None,
        }
    }
}

/// State of one PPTP control connection (both directions). See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PptpControl {
    pns: MessageFramer,
    pac: MessageFramer,
    pub(super) phase: Phase,
    pub(super) calls: [Option<Call>; MAX_CALLS],
}

impl Default for PptpControl {
    fn default() -> Self {
        Self::new()
    }
}

impl PptpControl {
    /// State for a new control connection. Call [`Self::synchronize`] for each end at its SYN;
    /// a direction never synchronised is not inspected.
    pub const fn new() -> Self {
        Self {
            pns: MessageFramer::new(),
            pac: MessageFramer::new(),
            phase: Phase::Idle,
            calls: [None; MAX_CALLS],
        }
    }

    /// Declares that `sender`'s first data byte has sequence number `first_seq` (ISN + 1).
    pub fn synchronize(&mut self, sender: PptpSender, first_seq: u32) {
        self.framer(sender).synchronize(first_seq);
    }

    fn framer(&mut self, sender: PptpSender) -> &mut MessageFramer {
        match sender {
            PptpSender::Pns => &mut self.pns,
            PptpSender::Pac => &mut self.pac,
        }
    }

    /// The connected calls (those with GRE sessions).
    pub fn established(&self) -> impl Iterator<Item = GreCall> + '_ {
        self.calls
            .iter()
            .flatten()
            .filter(|c| c.state == CallState::Established)
            .map(Call::gre)
    }

    /// Number of call slots in use (any state).
    pub fn calls_in_use(&self) -> usize {
        self.calls.iter().flatten().count()
    }

    /// Whether Start-Control-Connection completed and no stop was requested.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    /// Ends every call, as when the control connection closes or times out: the events the
    /// dataplane must act on (GRE sessions to remove, public Call IDs to give back).
    pub fn close(&mut self) -> [Option<PptpEvent>; MAX_CALLS] {
        let mut out = [None; MAX_CALLS];
        for (slot, o) in self.calls.iter_mut().zip(out.iter_mut()) {
            *o = slot.take().and_then(|c| c.end_event());
        }
        self.phase = Phase::Idle;
        out
    }

    pub(super) fn find(&self, f: impl Fn(&Call) -> bool) -> Option<usize> {
        self.calls.iter().position(|c| c.as_ref().is_some_and(&f))
    }

    /// A free slot, or the slot of a cleared call (its events were already emitted).
    pub(super) fn free_slot(&self) -> Option<usize> {
        self.calls
            .iter()
            .position(Option::is_none)
            .or_else(|| self.find(|c| c.state == CallState::Clearing))
    }
}

/// What to do with one segment.
#[derive(Debug, Clone, Copy)]
pub struct PptpOutcome {
    /// 2-byte Call ID rewrites to apply in place (no length change).
    pub edits: EditList<MAX_EDITS>,
    pub(super) events: [Option<PptpEvent>; MAX_EVENTS],
    /// Drop the segment (split message, gap, overflow): the sender retransmits. `edits` is
    /// then empty and events hold only [`PptpEvent::Release`]s of Call IDs allocated for it.
    pub hold: bool,
}

impl Default for PptpOutcome {
    fn default() -> Self {
        Self {
            edits: EditList::new(),
            events: [None; MAX_EVENTS],
            hold: false,
        }
    }
}

impl PptpOutcome {
    /// GRE session and Call ID events, in message order.
    pub fn events(&self) -> impl Iterator<Item = &PptpEvent> + '_ {
        self.events.iter().flatten()
    }
    fn free_events(&self) -> usize {
        self.events.iter().filter(|e| e.is_none()).count()
    }
    pub(super) fn event(&mut self, e: PptpEvent) {
        if let Some(s) = self.events.iter_mut().find(|s| s.is_none()) {
            *s = Some(e);
        }
    }
}

/// Working state of one [`process`] call.
pub(super) struct Run<'a, A> {
    pub(super) state: &'a mut PptpControl,
    pub(super) out: PptpOutcome,
    pub(super) counters: AlgCounters<PptpError>,
    pub(super) allocate: A,
    pub(super) allocated: [Option<(u16, u16)>; MAX_EDITS],
    pub(super) sender: PptpSender,
    pub(super) payload: &'a [u8],
    /// The message being handled was processed before (a retransmission).
    pub(super) retrans: bool,
}

/// Processes one segment of a PPTP control connection.
///
/// `allocate(inside_call_id)` gives a new call a public Call ID (unique per public address and
/// server); `None` when none is free. It is called only for a message that passed every check.
/// Every count goes to `counters`: messages, rewrites, expectations (GRE session pairs
/// created) and one failure reason per refused message.
pub fn process(
    state: &mut PptpControl,
    seg: PptpSegment<'_>,
    counters: &mut AlgCounters<PptpError>,
    allocate: impl FnMut(u16) -> Option<u16>,
) -> PptpOutcome {
    let payload = &seg.payload[..seg.payload.len().min(MAX_PAYLOAD)];
    let sender = seg.sender;
    let mut out = PptpOutcome::default();
    let start = match state.framer(sender).locate(seg.seq, payload.len()) {
        Located::At(off) => off,
        Located::Inside => return out,
        Located::Unsynced => {
            if !payload.is_empty() {
                counters.fail(PptpError::NotAtBoundary);
            }
            return out;
        }
        Located::Gap => {
            counters.fail(PptpError::Gap);
            if state.framer(sender).hold(seg.seq) {
                out.hold = true;
            } else {
                counters.fail(PptpError::LostSync);
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
        sender,
        payload,
        retrans: false,
    };
    let fresh_from = run.state.framer(sender).next_start();
    let seq_at = |pos: usize| seg.seq.wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));
    let mut pos = start;
    while pos < payload.len() {
        let rest = &payload[pos..];
        let len = match message::frame_length(rest) {
            None => return run.hold(snapshot, seq_at(pos), PptpError::SplitMessage, counters),
            Some(Err(e)) => {
                run.counters.fail(e);
                run.lose_sync();
                break;
            }
            Some(Ok(len)) => len,
        };
        if rest.len() < NEEDED_PREFIX.min(len) {
            return run.hold(snapshot, seq_at(pos), PptpError::SplitMessage, counters);
        }
        if run.out.edits.len() >= MAX_EDITS || run.out.free_events() < MAX_CALLS {
            return run.hold(snapshot, seq_at(pos), PptpError::TooManyRewrites, counters);
        }
        run.state.framer(sender).boundary(seq_at(pos + len));
        let retrans = fresh_from.is_some_and(|n| seq_lt(seq_at(pos), n));
        match message::header(rest) {
            // Only this message's bytes (those present): fields never read into the next.
            Ok(h) if retrans => run.retransmitted(pos, h.kind, &rest[..len.min(rest.len())]),
            Ok(h) => run.message(pos, h.kind, &rest[..len.min(rest.len())]),
            Err(_) if retrans => {}
            Err(PptpError::BadMagic) => {
                run.counters.fail(PptpError::BadMagic);
                run.lose_sync();
                break;
            }
            Err(e) => run.counters.fail(e),
        }
        pos += len;
    }
    run.finish(counters)
}

impl<A: FnMut(u16) -> Option<u16>> Run<'_, A> {
    fn lose_sync(&mut self) {
        self.counters.fail(PptpError::LostSync);
        self.state.framer(self.sender).give_up();
    }

    /// Holds the segment: everything it did is undone, except the hold count. If the position
    /// was held too often already, the framer gives up instead and the segment passes with
    /// what the complete messages before `at` produced.
    fn hold(
        mut self,
        snapshot: PptpControl,
        at: u32,
        reason: PptpError,
        counters: &mut AlgCounters<PptpError>,
    ) -> PptpOutcome {
        let mut before = snapshot;
        if before.framer(self.sender).hold(at) {
            counters.fail(reason);
            *self.state = snapshot;
            *self.state.framer(self.sender) = *before.framer(self.sender);
            let mut out = PptpOutcome {
                hold: true,
                ..PptpOutcome::default()
            };
            for (i, p) in self.allocated.iter().flatten() {
                out.event(PptpEvent::Release {
                    inside_call_id: *i,
                    public_call_id: *p,
                });
            }
            return out;
        }
        self.counters.fail(reason);
        self.lose_sync();
        self.finish(counters)
    }

    /// Publishes the counts of a segment that passes and returns its outcome.
    fn finish(self, counters: &mut AlgCounters<PptpError>) -> PptpOutcome {
        *counters = self.counters;
        for e in self.out.edits.iter() {
            if !e.is_noop(self.payload) {
                counters.rewrite();
            }
        }
        for e in self.out.events() {
            if matches!(e, PptpEvent::Create(_)) {
                counters.expectation();
            }
        }
        self.out
    }

    /// Rewrites the 2-byte field at `at` (payload offset) to `v`.
    pub(super) fn edit(&mut self, at: usize, v: u16) {
        let r = Edit::new(at, 2, &v.to_be_bytes()).and_then(|e| self.out.edits.push(e));
        if r.is_err() {
            self.counters.fail(PptpError::EditFailed);
        }
    }
}
