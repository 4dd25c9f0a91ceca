//! The per-connection RTSP state ([`RtspState`]) and the per-segment entry point
//! [`process`], which frames the segment's messages, rewrites SETUPs and their replies,
//! records the sequence corrections and says what to do with the segment.
//!
//! A message starting before the furthest message start already seen is a retransmission: it
//! gets the same edits as the first time (answered SETUPs are kept, up to
//! [`MAX_PENDING_SETUPS`] slots with the pending ones, for exactly that) and nothing else
//! changes. Once the peer acknowledged a correction, a retransmission of data before it is
//! passed unmodified (`seq_out_of_order`, as FTP): the receiver discards it anyway.
//!
//! A segment is all or nothing: when it must be held (split header block, unseen data before
//! it, outcome full, correction history full), every state change it made is undone, public
//! endpoints it allocated are released, and it is dropped so the sender retransmits.

use super::message::{self, Frame, Head, Method, StartLine};
use super::transport::{self, Destination, MAX_TRANSPORTS};
use super::{DestinationPolicy, RtspConfig, RtspError, RtspEvent, RtspSender, RtspSessionId};
use crate::counters::AlgCounters;
use crate::edit::{Edit, EditList};
use crate::expect::{Expectation, Protocol};
use crate::framer::{Located, MessageFramer};
use crate::seq::{seq_lt, SeqError, SeqHistory};
use crate::text::TextBuf;
use core::net::{Ipv4Addr, SocketAddrV4};

/// SETUPs waiting for their reply per connection (REFERENCE.md: 8 outstanding).
pub const MAX_PENDING_SETUPS: usize = 8;
/// Edits one segment may produce.
pub const MAX_EDITS: usize = 16;
/// Events one segment may produce.
pub const MAX_EVENTS: usize = 32;
/// Edits one message may need: a client_port and a destination per specification.
const MESSAGE_EDITS: usize = 2 * MAX_TRANSPORTS;
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

/// One client port pair and the public endpoint given to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Media {
    inside_rtp: u16,
    pair: bool,
    public: SocketAddrV4,
}

/// A SETUP waiting for its reply, or answered (kept so retransmissions of the request and of
/// the reply are rewritten identically, until the slot is needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setup {
    cseq: u32,
    msg_seq: u32,
    media: [Option<Media>; MAX_TRANSPORTS],
    born: u32,
    /// Original sequence number of the 2xx reply, once seen.
    answered: Option<u32>,
    /// The `Session` of the request (a SETUP adding a stream to a session).
    session: Option<RtspSessionId>,
}

/// RTSP ALG state of one connection (both directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtspState {
    client: MessageFramer,
    server: MessageFramer,
    setups: [Option<Setup>; MAX_PENDING_SETUPS],
    born: u32,
    /// Per direction (client, server): an interleaved frame header cut by a segment end.
    carry: [Option<Carry>; 2],
}

/// The first 1 to 3 bytes of an interleaved frame header (`$`, channel, length) that ended a
/// segment. Interleaved media cross segment boundaries all the time, so instead of holding
/// such a segment the bytes are kept and completed by the next in-order segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Carry {
    /// Original sequence number of the `$`.
    seq: u32,
    bytes: [u8; 3],
    len: u8,
}

impl RtspState {
    /// State for a new connection; call [`Self::synchronize`] for each end at its SYN.
    pub const fn new() -> Self {
        Self {
            client: MessageFramer::new(),
            server: MessageFramer::new(),
            setups: [None; MAX_PENDING_SETUPS],
            born: 0,
            carry: [None; 2],
        }
    }

    /// Completes a carried interleaved frame header with the start of an in-order segment:
    /// the frame's end becomes a known boundary. Returns false when the segment is too short
    /// to complete it (the carry then grows).
    fn complete_carry(&mut self, sender: RtspSender, seq: u32, payload: &[u8]) -> bool {
        let d = usize::from(sender == RtspSender::Server);
        let Some(c) = self.carry[d] else {
            return true;
        };
        if seq != c.seq.wrapping_add(u32::from(c.len)) {
            // Not the continuation (a retransmission or reordering): forget it; the earlier
            // segment, if it comes again, carries it again.
            self.carry[d] = None;
            return true;
        }
        let mut head = [0u8; 4];
        let have = usize::from(c.len);
        head[..have].copy_from_slice(&c.bytes[..have]);
        let take = (4 - have).min(payload.len());
        head[have..have + take].copy_from_slice(&payload[..take]);
        if have + take < 4 {
            let mut bytes = [0u8; 3];
            bytes.copy_from_slice(&head[..3]);
            self.carry[d] = Some(Carry {
                bytes,
                len: u8::try_from(have + take).unwrap_or(0),
                ..c
            });
            return false;
        }
        self.carry[d] = None;
        let total = 4 + u32::from(u16::from_be_bytes([head[2], head[3]]));
        self.framer(sender).boundary(c.seq.wrapping_add(total));
        true
    }

    /// Declares that `sender`'s first data byte has sequence number `first_seq` (ISN + 1).
    pub fn synchronize(&mut self, sender: RtspSender, first_seq: u32) {
        self.framer(sender).synchronize(first_seq);
    }

    fn framer(&mut self, sender: RtspSender) -> &mut MessageFramer {
        match sender {
            RtspSender::Client => &mut self.client,
            RtspSender::Server => &mut self.server,
        }
    }

    /// SETUPs waiting for their reply.
    pub fn pending_setups(&self) -> usize {
        self.setups
            .iter()
            .flatten()
            .filter(|s| s.answered.is_none())
            .count()
    }

    /// Public endpoints still reserved for SETUPs without a reply (give them back when the
    /// connection ends), as `(public RTP endpoint, pair)`.
    pub fn reserved(&self) -> impl Iterator<Item = (SocketAddrV4, bool)> + '_ {
        self.setups
            .iter()
            .flatten()
            .filter(|s| s.answered.is_none())
            .flat_map(|s| s.media.iter().flatten())
            .map(|m| (m.public, m.pair))
    }
}

/// What to do with one segment.
#[derive(Debug, Clone, Copy)]
pub struct RtspOutcome {
    /// Edits to apply (their sequence corrections are already recorded in the history).
    pub edits: EditList<MAX_EDITS>,
    events: [Option<RtspEvent>; MAX_EVENTS],
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
    fn event(&mut self, e: RtspEvent) {
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

struct Run<'a, A> {
    state: &'a mut RtspState,
    out: RtspOutcome,
    counters: AlgCounters<RtspError>,
    allocate: A,
    allocated: [Option<(SocketAddrV4, bool)>; MAX_EDITS],
    seg: RtspSegment<'a>,
    client: Ipv4Addr,
    server: Ipv4Addr,
    cfg: RtspConfig,
    /// The message being handled was processed before (a retransmission).
    retrans: bool,
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

    fn edit(&mut self, edits: &mut EditList<MESSAGE_EDITS>, at: usize, len: usize, text: &[u8]) {
        if Edit::new(at, len, text)
            .and_then(|e| edits.push(e))
            .is_err()
        {
            self.counters.fail(RtspError::EditFailed);
        }
    }

    fn push_edits(&mut self, edits: &EditList<MESSAGE_EDITS>) {
        for e in edits.iter() {
            if self.out.edits.push(*e).is_err() {
                self.counters.fail(RtspError::TooManyRewrites);
            }
        }
    }

    /// A SETUP from the client. `Ok(true)`: counted as a message.
    fn setup(&mut self, pos: usize, block: &[u8], h: &Head) -> Result<bool, RtspError> {
        if let Some(e) = h.defect {
            return Err(e);
        }
        let cseq = h.cseq.ok_or(RtspError::BadSyntax)?;
        let (ts, te) = h.transport.ok_or(RtspError::BadSyntax)?;
        let specs = transport::parse(block, ts..te)?;
        let msg_seq = self
            .seg
            .seq
            .wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));

        // destination= first: a refusal leaves everything untouched.
        let mut strip = [None; MAX_TRANSPORTS];
        for (s, slot) in specs.iter().zip(strip.iter_mut()) {
            let Some((d, span)) = s.destination else {
                continue;
            };
            let own = match d {
                Destination::Absent => true,
                Destination::Ipv4(a) => a == self.client,
                Destination::Other => false,
            };
            if !own {
                self.counters.fail(RtspError::ThirdPartyDestination);
                if self.cfg.destination == DestinationPolicy::Refuse {
                    return Ok(false);
                }
            }
            *slot = Some(span);
        }

        // The distinct client port pairs, and their public endpoints.
        let existing = self
            .state
            .setups
            .iter()
            .position(|s| s.is_some_and(|s| s.msg_seq == msg_seq && s.cseq == cseq));
        let old = existing.and_then(|i| self.state.setups[i]);
        if self.retrans && old.is_none() {
            // Its slot was reused since: the ports it had cannot be known; pass it.
            return Ok(false);
        }
        let reuse = old.map(|s| s.media).unwrap_or([None; MAX_TRANSPORTS]);
        let mut media: [Option<Media>; MAX_TRANSPORTS] = [None; MAX_TRANSPORTS];
        let mut fresh: [Option<Media>; MAX_TRANSPORTS] = [None; MAX_TRANSPORTS];
        for s in specs.iter().filter(|s| !s.interleaved && !s.multicast) {
            let Some(cp) = s.client_port else { continue };
            let same =
                |m: &Option<Media>| m.is_some_and(|m| m.inside_rtp == cp.rtp && m.pair == cp.pair);
            if media.iter().any(same) {
                continue;
            }
            let m = match reuse.iter().find(|m| same(m)).copied().flatten() {
                Some(m) => m,
                None => match self.allocate_media(cp.rtp, cp.pair) {
                    Some(m) => {
                        if let Some(f) = fresh.iter_mut().find(|f| f.is_none()) {
                            *f = Some(m);
                        }
                        m
                    }
                    None => {
                        for m in fresh.iter().flatten() {
                            self.release(*m);
                        }
                        return Err(RtspError::NoPublicPort);
                    }
                },
            };
            if let Some(slot) = media.iter_mut().find(|m| m.is_none()) {
                *slot = Some(m);
            }
        }

        // Edits, in offset order within the message.
        let mut edits = EditList::<MESSAGE_EDITS>::new();
        for (s, d) in specs.iter().zip(strip.iter()) {
            let mut pieces: [Option<((u16, u16), TextBuf)>; 2] = [None, None];
            if let Some(cp) = s.client_port.filter(|_| !s.interleaved && !s.multicast) {
                let m = media
                    .iter()
                    .flatten()
                    .find(|m| m.inside_rtp == cp.rtp && m.pair == cp.pair);
                if let Some(m) = m {
                    pieces[0] = Some((cp.span, port_text(m.public.port(), m.pair)));
                }
            }
            if let Some(span) = d {
                pieces[1] = Some((*span, TextBuf::new()));
            }
            if let (Some(a), Some(b)) = (&pieces[0], &pieces[1]) {
                if b.0 .0 < a.0 .0 {
                    pieces.swap(0, 1);
                }
            }
            for ((s0, s1), text) in pieces.iter().flatten() {
                let text = text.as_slice().unwrap_or_default();
                let at = pos + usize::from(*s0);
                self.edit(&mut edits, at, usize::from(*s1 - *s0), text);
            }
        }
        self.push_edits(&edits);

        if media.iter().all(Option::is_none) {
            return Ok(true);
        }
        if old.is_some_and(|o| o.answered.is_some()) {
            return Ok(false);
        }
        let setup = Setup {
            cseq,
            msg_seq,
            media,
            born: self.state.born,
            answered: None,
            session: h.session,
        };
        self.state.born = self.state.born.wrapping_add(1);
        let slot = match existing {
            Some(i) => i,
            None => self.free_setup_slot(),
        };
        self.state.setups[slot] = Some(setup);
        Ok(true)
    }

    /// A free SETUP slot: an empty one, else the oldest answered one, else the oldest
    /// pending one (evicted: its ports are released, counted).
    fn free_setup_slot(&mut self) -> usize {
        if let Some(i) = self.state.setups.iter().position(Option::is_none) {
            return i;
        }
        let born = self.state.born;
        let oldest = |answered: bool| {
            self.state
                .setups
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.filter(|s| s.answered.is_some() == answered)
                        .map(|s| (i, born.wrapping_sub(s.born)))
                })
                .max_by_key(|&(_, age)| age)
                .map(|(i, _)| i)
        };
        if let Some(i) = oldest(true) {
            return i;
        }
        let i = oldest(false).unwrap_or(0);
        self.counters.fail(RtspError::TooManySetups);
        if let Some(old) = self.state.setups[i].take() {
            for m in old.media.iter().flatten() {
                self.release(*m);
            }
        }
        i
    }

    fn release(&mut self, m: Media) {
        self.out.event(RtspEvent::Release {
            public: m.public,
            pair: m.pair,
        });
    }

    fn allocate_media(&mut self, rtp: u16, pair: bool) -> Option<Media> {
        let public = (self.allocate)(SocketAddrV4::new(self.client, rtp), pair)?;
        let m = Media {
            inside_rtp: rtp,
            pair,
            public,
        };
        if let Some(a) = self.allocated.iter_mut().find(|a| a.is_none()) {
            *a = Some((public, pair));
        }
        let ok = public.port() % 2 == rtp % 2
            && public.port() >= transport::MIN_MEDIA_PORT
            && (!pair || public.port() < u16::MAX);
        if !ok {
            self.release(m);
            return None;
        }
        Some(m)
    }

    /// A response from the server: only replies to pending SETUPs are of interest (and
    /// retransmissions of replies already handled, rewritten the same way).
    fn reply(&mut self, pos: usize, block: &[u8], h: &Head, code: u16) -> Result<bool, RtspError> {
        let Some(cseq) = h.cseq else { return Ok(false) };
        let msg_seq = self
            .seg
            .seq
            .wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));
        let Some(i) = self.state.setups.iter().position(|s| {
            s.is_some_and(|s| {
                s.cseq == cseq && (s.answered.is_none() || s.answered == Some(msg_seq))
            })
        }) else {
            return Ok(false);
        };
        let Some(setup) = self.state.setups[i].filter(|_| code >= 200) else {
            return Ok(false);
        };
        if setup.answered.is_some() || self.retrans {
            if code < 300 && h.defect.is_none() {
                let _ = self.untranslate(pos, block, h, &setup);
            }
            return Ok(false);
        }
        self.state.setups[i] = None;
        let release_all = |run: &mut Self| {
            for m in setup.media.iter().flatten() {
                run.release(*m);
            }
        };
        if let Some(e) = h.defect {
            release_all(self);
            return Err(e);
        }
        if code >= 300 {
            release_all(self);
            return Ok(true);
        }
        let chosen = match self.untranslate(pos, block, h, &setup) {
            Ok(c) => c,
            Err(e) => {
                release_all(self);
                return Err(e);
            }
        };
        self.state.setups[i] = Some(Setup {
            answered: Some(msg_seq),
            ..setup
        });
        // The reply's Session (RFC 2326 §12.37: the server assigns it in the first SETUP
        // reply), else the request's, else the hash of the empty id.
        let session = h
            .session
            .or(setup.session)
            .unwrap_or(message::session_hash(b""));
        for (m, c) in setup.media.iter().zip(chosen) {
            let Some(m) = m else { continue };
            if !c {
                self.release(*m);
                continue;
            }
            let ports = if m.pair { 2 } else { 1 };
            for k in 0..ports {
                let public = SocketAddrV4::new(*m.public.ip(), m.public.port() + k);
                let inside = SocketAddrV4::new(self.client, m.inside_rtp + k);
                self.out.event(RtspEvent::Expect {
                    session,
                    expectation: Expectation::inbound(Protocol::Udp, self.server, public, inside),
                });
            }
        }
        Ok(true)
    }

    /// Rewrites the `client_port`s a 2xx reply echoes back to the inside ports; returns which
    /// of the SETUP's media the reply chose (all when it echoes none).
    fn untranslate(
        &mut self,
        pos: usize,
        block: &[u8],
        h: &Head,
        setup: &Setup,
    ) -> Result<[bool; MAX_TRANSPORTS], RtspError> {
        let specs = match h.transport {
            Some((ts, te)) => Some(transport::parse(block, ts..te)?),
            None => None,
        };
        let mut chosen = [false; MAX_TRANSPORTS];
        let mut echoed = false;
        let mut mismatch = false;
        let mut edits = EditList::<MESSAGE_EDITS>::new();
        for s in specs.iter().flat_map(|t| t.iter()) {
            // The server echoes the public ports; parity was checked as for a request.
            let Some(cp) = s.client_port else { continue };
            echoed = true;
            let found = setup.media.iter().enumerate().find_map(|(k, m)| {
                m.filter(|m| m.public.port() == cp.rtp && (m.pair || !cp.pair))
                    .map(|m| (k, m))
            });
            let Some((k, m)) = found else {
                mismatch = true;
                continue;
            };
            chosen[k] = true;
            let text = port_text(m.inside_rtp, cp.pair);
            let text = text.as_slice().unwrap_or_default();
            let at = pos + usize::from(cp.span.0);
            self.edit(&mut edits, at, usize::from(cp.span.1 - cp.span.0), text);
        }
        self.push_edits(&edits);
        if mismatch {
            self.counters.fail(RtspError::ReplyMismatch);
        }
        if !echoed {
            chosen = [true; MAX_TRANSPORTS];
        }
        Ok(chosen)
    }
}

/// `rtp-rtcp` or `rtp`.
fn port_text(rtp: u16, pair: bool) -> TextBuf {
    let mut t = TextBuf::new();
    t.push_dec(rtp.into());
    if pair {
        t.push(b'-').push_dec(u32::from(rtp) + 1);
    }
    t
}
