//! One call per SIP datagram or TCP segment: find the messages, check, allocate media ports,
//! rewrite, record the sequence correction, follow calls and registrations, and say what to do
//! with the packet. This is the dataplane's entry point; it encodes the policies of
//! `docs/alg.md` so the dataplane only applies the result.
//!
//! Split-message policy (TCP): a message that starts at a tracked boundary but is not complete
//! in its segment is not parsed; the segment is **held** (`hold`: the dataplane drops it, the
//! sender retransmits, usually coalesced with the rest), and so is every later segment until
//! the message's start comes again, so the receiver never gets the tail of a message before
//! its possibly rewritten start. The same message is held at most [`MAX_SPLIT_HOLDS`] times;
//! then it passes unmodified (`split_message` counted). A message longer than the path's MSS
//! therefore always passes unmodified after three holds; no reassembly buffer is kept (the
//! parser keeps no payload, only offsets).

use super::message::SipMessage;
use super::session::{RegisterEvent, SipSession};
use super::stream::SipStream;
use super::{Media, MediaMap, SipError, Translation, Transport, MAX_MEDIA};
use crate::counters::AlgCounters;
use crate::edit::EditList;
use crate::expect::{Expectation, Side};
use crate::seq::{SeqError, SeqHistory};

/// Times the same incomplete message is held before it passes unmodified.
pub const MAX_SPLIT_HOLDS: u8 = 3;
/// Most expectations installed or removed by one packet.
pub const MAX_OUTCOME_EXPECTATIONS: usize = 32;

/// One SIP datagram or TCP segment as the dataplane sees it.
#[derive(Debug, Clone, Copy)]
pub struct SipPacket<'a> {
    /// UDP or TCP.
    pub transport: Transport,
    /// Which side of the NAT sent it (`Inside`: the subscriber).
    pub sender_side: Side,
    /// TCP: original sequence number of `payload[0]` (ignored for UDP).
    pub seq: u32,
    /// The UDP or TCP payload.
    pub payload: &'a [u8],
    /// The caller's clock, in seconds (registration lifetimes).
    pub now: u32,
}

/// What to do with one packet. `N` bounds the edits.
#[derive(Debug, Clone, Copy)]
pub struct SipOutcome<const N: usize> {
    /// Edits to apply to the payload (empty: forward unmodified). On TCP their sequence
    /// corrections are already recorded in the direction's [`SeqHistory`].
    pub edits: EditList<N>,
    install: [Option<Expectation>; MAX_OUTCOME_EXPECTATIONS],
    remove: [Option<Expectation>; MAX_OUTCOME_EXPECTATIONS],
    released: [Option<u16>; 2 * MAX_MEDIA],
    /// A REGISTER 2xx installed, refreshed or removed the Contact expectation.
    pub register: Option<RegisterEvent>,
    /// Drop the packet (TCP: split message, hole, or no room for the correction); nothing
    /// else in the outcome applies.
    pub hold: bool,
}

impl<const N: usize> Default for SipOutcome<N> {
    fn default() -> Self {
        Self {
            edits: EditList::new(),
            install: [None; MAX_OUTCOME_EXPECTATIONS],
            remove: [None; MAX_OUTCOME_EXPECTATIONS],
            released: [None; 2 * MAX_MEDIA],
            register: None,
            hold: false,
        }
    }
}

fn add<T>(slots: &mut [Option<T>], v: T) -> bool {
    match slots.iter_mut().find(|s| s.is_none()) {
        Some(s) => {
            *s = Some(v);
            true
        }
        None => false,
    }
}

impl<const N: usize> SipOutcome<N> {
    /// Media expectations to install (RTP/RTCP pinholes or relations).
    pub fn install(&self) -> impl Iterator<Item = &Expectation> + '_ {
        self.install.iter().flatten()
    }
    /// Expectations to remove (call ended, evicted by a limit).
    pub fn remove(&self) -> impl Iterator<Item = &Expectation> + '_ {
        self.remove.iter().flatten()
    }
    /// Public RTP ports `allocate` handed out that ended up unused: give them (and the RTCP
    /// port after each) back.
    pub fn released(&self) -> impl Iterator<Item = &u16> + '_ {
        self.released.iter().flatten()
    }

    fn held(allocated: &[Option<u16>]) -> Self {
        let mut o = Self {
            hold: true,
            ..Self::default()
        };
        for p in allocated.iter().flatten() {
            add(&mut o.released, *p);
        }
        o
    }

    /// Cancels everything of the packet: every port handed out (used or not) is released.
    fn abort(&self, allocated: &[Option<u16>], hold: bool) -> Self {
        let mut o = Self::held(allocated);
        o.hold = hold;
        for p in self.released() {
            add(&mut o.released, *p);
        }
        o
    }
}

/// Processes one packet of a SIP master session.
///
/// * `stream`: TCP only, the sender's direction ([`SipStream`]); `history`: TCP only, the
///   sender's direction's sequence corrections.
/// * `t`: the master's addressing; `room`: how many more expectations the subscriber may have.
/// * `allocate`: a public **even** RTP port (RTCP: the next one) from the subscriber's block
///   for an inside host's media line; `None` when there is none. Called only for messages that
///   passed every check.
///
/// Counts everything in `counters`.
#[allow(clippy::too_many_arguments)]
pub fn process<const N: usize>(
    session: &mut SipSession,
    mut stream: Option<&mut SipStream>,
    history: Option<&mut SeqHistory>,
    pkt: SipPacket<'_>,
    t: &Translation,
    room: usize,
    counters: &mut AlgCounters<SipError>,
    mut allocate: impl FnMut(&Media) -> Option<u16>,
) -> SipOutcome<N> {
    let mut out = SipOutcome::<N>::default();
    let saved = *session;
    let saved_media = stream.as_deref().map(SipStream::remembered_media);
    let mut allocated = [None; 2 * MAX_MEDIA];
    let payload = pkt.payload;
    let mut starts = [0u16; super::MAX_MESSAGES_PER_SEGMENT];
    let n_starts = match (pkt.transport, stream.as_deref_mut()) {
        (Transport::Udp, _) => {
            if payload.iter().all(|&b| b == b'\r' || b == b'\n') {
                return out; // keep-alive
            }
            1
        }
        (Transport::Tcp, None) => return out,
        (Transport::Tcp, Some(st)) => {
            if st.behind_held(pkt.seq) {
                counters.fail(SipError::SplitMessage);
                return SipOutcome::held(&[]);
            }
            let scan = st.segment(pkt.seq, payload);
            for e in scan.errors.iter().flatten() {
                counters.fail(*e);
            }
            if scan.hold {
                return SipOutcome::held(&[]);
            }
            let s = scan.message_starts();
            starts[..s.len()].copy_from_slice(s);
            s.len()
        }
    };
    let mut room = room;
    // Per message: the range its edits cover and their total length change; recorded as one
    // sequence correction each (see `record`).
    let mut groups = [None; super::MAX_MESSAGES_PER_SEGMENT];
    let mut parsed = 0u64;
    let mut rewritten = 0u64;
    for &start in &starts[..n_starts] {
        let start = usize::from(start);
        let msg_seq = pkt
            .seq
            .wrapping_add(u32::try_from(start).unwrap_or(u32::MAX));
        let msg = match SipMessage::parse(payload, start, pkt.transport) {
            Ok(m) => m,
            Err(SipError::SplitMessage) if pkt.transport == Transport::Tcp => {
                counters.fail(SipError::SplitMessage);
                if let Some(st) = stream.as_deref_mut() {
                    if st.hold_split(msg_seq, MAX_SPLIT_HOLDS) {
                        *session = saved;
                        if let Some(m) = saved_media {
                            st.restore_media(m);
                        }
                        return out.abort(&allocated, true);
                    }
                }
                continue;
            }
            Err(e) => {
                counters.fail(e);
                continue;
            }
        };
        if let Some(st) = stream.as_deref_mut() {
            st.release_held(msg_seq);
        }
        parsed += 1;
        let before = out.edits.len();
        let r = match pkt.sender_side {
            Side::Inside => outbound(
                session,
                stream.as_deref_mut(),
                &msg,
                msg_seq,
                &pkt,
                t,
                &mut room,
                &mut out,
                &mut allocated,
                &mut allocate,
            ),
            Side::Outside => inbound(session, &msg, &pkt, t, &mut room, &mut out),
        };
        if let Err(e) = r {
            counters.fail(e);
        }
        if out.edits.iter().skip(before).any(|e| !e.is_noop(payload)) {
            rewritten += 1;
        }
        let mut new = out.edits.iter().skip(before);
        if let Some(first) = new.next() {
            let last = new.last().unwrap_or(first);
            let delta: i64 = out
                .edits
                .iter()
                .skip(before)
                .map(|e| i64::from(e.delta()))
                .sum();
            add(&mut groups, (first.offset(), last.end(), delta));
        }
        for e in session.on_message(&msg).iter().flatten() {
            add(&mut out.remove, *e);
        }
    }
    if let Some(h) = history {
        if let Err(e) = record(h, pkt.seq, &groups) {
            counters.fail(match e {
                SeqError::HistoryFull => SipError::SeqHistoryFull,
                SeqError::OutOfOrder => SipError::SeqOutOfOrder,
            });
            *session = saved;
            if let (Some(st), Some(m)) = (stream, saved_media) {
                st.restore_media(m);
            }
            // Full with corrections in flight: their ACKs are coming, hold. Full although
            // nothing is in flight: this segment alone needs more than the history holds,
            // holding would never help; it passes unmodified.
            return out.abort(&allocated, e == SeqError::HistoryFull && !h.is_empty());
        }
    }
    // Messages and rewrites are counted once the packet is forwarded (a held segment is
    // parsed again when it is retransmitted).
    counters.messages += parsed;
    counters.rewrites += rewritten;
    for _ in out.install() {
        counters.expectation();
    }
    out
}

/// Records one correction per rewritten message: the bytes from its first to the end of its
/// last edit were replaced by that range's new text. A SIP message can need a dozen
/// length-changing edits and a segment several messages; recorded edit by edit they would
/// overflow the history ([`crate::seq::HISTORY_LEN`]). Coalescing is exact for every position
/// outside the ranges (segment and message starts); a segment starting inside a range (a
/// sender re-segmenting in the middle of a rewritten message) maps to the range's start, as
/// for any rewritten text. All or nothing.
fn record(
    h: &mut SeqHistory,
    seq: u32,
    groups: &[Option<(usize, usize, i64)>],
) -> Result<(), SeqError> {
    let mut trial = *h;
    for &(start, end, delta) in groups.iter().flatten() {
        let old = end.saturating_sub(start);
        let new = i64::try_from(old).unwrap_or(i64::MAX).saturating_add(delta);
        let (Ok(old), Ok(new)) = (u16::try_from(old), u16::try_from(new)) else {
            return Err(SeqError::OutOfOrder);
        };
        let at = seq.wrapping_add(u32::try_from(start).unwrap_or(u32::MAX));
        trial.record(at, old, new)?;
    }
    *h = trial;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn outbound<const N: usize>(
    session: &mut SipSession,
    stream: Option<&mut SipStream>,
    msg: &SipMessage,
    msg_seq: u32,
    pkt: &SipPacket<'_>,
    t: &Translation,
    room: &mut usize,
    out: &mut SipOutcome<N>,
    allocated: &mut [Option<u16>; 2 * MAX_MEDIA],
    allocate: &mut impl FnMut(&Media) -> Option<u16>,
) -> Result<(), SipError> {
    msg.check_outbound(t)?;
    let mut maps = [MediaMap {
        inside_rtp: 0,
        public_rtp: 0,
    }; MAX_MEDIA];
    let mut n = 0;
    let mut fresh = [None; MAX_MEDIA];
    let remembered = stream.as_deref().and_then(|s| s.media_for(msg_seq));
    let release = |fresh: &[Option<u16>], out: &mut SipOutcome<N>| {
        for p in fresh.iter().flatten() {
            add(&mut out.released, *p);
        }
    };
    for m in msg.media_to_map(t) {
        if maps[..n].iter().any(|x| x.inside_rtp == m.port) {
            continue;
        }
        let public = match remembered.and_then(|r| r.iter().find(|x| x.inside_rtp == m.port)) {
            Some(x) => x.public_rtp,
            None => match allocate(m) {
                Some(p) if p.is_multiple_of(2) && p < u16::MAX => {
                    add(&mut fresh, p);
                    p
                }
                other => {
                    if let Some(p) = other {
                        add(&mut fresh, p);
                    }
                    release(&fresh, out);
                    return Err(SipError::NoPublicPort);
                }
            },
        };
        if let Some(slot) = maps.get_mut(n) {
            *slot = MediaMap {
                inside_rtp: m.port,
                public_rtp: public,
            };
            n += 1;
        }
    }
    let maps = &maps[..n];
    let edits = match msg.rewrite_outbound::<N>(t, maps) {
        Ok(e) if out.edits.len() + e.len() <= N => e,
        Ok(_) => {
            release(&fresh, out);
            return Err(SipError::TooManyRewrites);
        }
        Err(e) => {
            release(&fresh, out);
            return Err(e);
        }
    };
    let exps = msg.inbound_expectations(t, maps);
    let mut list = [t_placeholder(t); 2 * MAX_MEDIA];
    let mut k = 0;
    for e in exps.iter().flatten() {
        list[k] = *e;
        k += 1;
    }
    if k > 0 {
        let id = msg.call_id.ok_or(SipError::BadHeader).inspect_err(|_| {
            release(&fresh, out);
        })?;
        match session.add_media(id, &list[..k], *room) {
            Ok((removed, evicted)) => {
                for e in removed.iter().flatten() {
                    add(&mut out.remove, *e);
                }
                for e in &list[..k] {
                    add(&mut out.install, *e);
                }
                *room = room.saturating_sub(k);
                if evicted {
                    commit_edits(out, &edits);
                    commit_fresh(allocated, &fresh);
                    remember(stream, msg_seq, maps);
                    return Err(SipError::CallLimit);
                }
            }
            Err(e) => {
                release(&fresh, out);
                return Err(e);
            }
        }
    }
    commit_edits(out, &edits);
    commit_fresh(allocated, &fresh);
    remember(stream, msg_seq, maps);
    session.register_request(msg, t, pkt.transport);
    Ok(())
}

/// A filler for fixed arrays of expectations (never returned).
fn t_placeholder(t: &Translation) -> Expectation {
    Expectation::outbound(crate::expect::Protocol::Udp, *t.inside.ip(), t.public)
}

fn commit_edits<const N: usize>(out: &mut SipOutcome<N>, edits: &EditList<N>) {
    for e in edits.iter() {
        // Capacity and order were checked: messages follow each other in the payload.
        let _ = out.edits.push(*e);
    }
}

fn commit_fresh(allocated: &mut [Option<u16>; 2 * MAX_MEDIA], fresh: &[Option<u16>]) {
    for p in fresh.iter().flatten() {
        add(allocated, *p);
    }
}

fn remember(stream: Option<&mut SipStream>, msg_seq: u32, maps: &[MediaMap]) {
    if let Some(s) = stream {
        if !maps.is_empty() {
            s.remember_media(msg_seq, maps);
        }
    }
}

fn inbound<const N: usize>(
    session: &mut SipSession,
    msg: &SipMessage,
    pkt: &SipPacket<'_>,
    t: &Translation,
    room: &mut usize,
    out: &mut SipOutcome<N>,
) -> Result<(), SipError> {
    let edits = msg.rewrite_inbound::<N>(t)?;
    if out.edits.len() + edits.len() > N {
        return Err(SipError::TooManyRewrites);
    }
    commit_edits(out, &edits);
    match session.register_response(msg, t.peer, t, pkt.now) {
        Ok(Some(ev)) => out.register = Some(ev),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    if msg.media().next().is_none() && msg.sdp_error.is_none() {
        return Ok(());
    }
    msg.check_inbound(t.peer)?;
    let exps = msg.outbound_expectations(t.peer, *t.inside.ip());
    let mut list = [t_placeholder(t); 2 * MAX_MEDIA];
    let mut k = 0;
    for e in exps.iter().flatten() {
        list[k] = *e;
        k += 1;
    }
    if k == 0 {
        return Ok(());
    }
    let id = msg.call_id.ok_or(SipError::BadHeader)?;
    let (removed, evicted) = session.add_media(id, &list[..k], *room)?;
    for e in removed.iter().flatten() {
        add(&mut out.remove, *e);
    }
    for e in &list[..k] {
        add(&mut out.install, *e);
    }
    *room = room.saturating_sub(k);
    if evicted {
        return Err(SipError::CallLimit);
    }
    Ok(())
}
