//! SIP over TCP: message boundaries of one direction of a connection, followed from its first
//! byte.
//!
//! This is the NAT Slipstreaming defence. The 2020 attack made a browser send an HTTP POST to
//! port 5060 padded so that a later TCP segment began with `REGISTER`; a helper that parsed
//! whatever a segment started with opened a pinhole. Here:
//!
//! * a stream is SIP only if its **first bytes** (after CR/LF, RFC 3261 §7.5) form a SIP
//!   Request-Line or Status-Line; an HTTP request line (`POST /x HTTP/1.1`) kills the stream
//!   for good ([`SipError::NotSipStream`]);
//! * from there a [`Framer`] consumes every byte once, in order, and records where each message
//!   starts (after the previous one's Content-Length body); a message is parsed only if it
//!   starts at such a recorded boundary and is complete within the segment;
//! * any framing error (a message whose start line is not SIP, a missing Content-Length, a
//!   header over the limits) loses the sync: the stream is never parsed again
//!   ([`SipError::NotAtBoundary`]), since no later boundary can be trusted.
//!
//! Segments are fed in sequence order. A segment after a hole (reordering or loss) is not
//! fed and is held (the dataplane drops it; the sender retransmits once the hole is filled),
//! at most [`MAX_GAP_HOLDS`] times in a row, after which the stream is given up. A
//! retransmission (data before the next expected byte) is not fed again; the messages that
//! start at remembered boundaries inside it are parsed again, and [`SipStream::media_for`]
//! returns the public ports given the first time so the rewrite (and its sequence correction)
//! is identical.

use super::framing::{Framer, Step};
use super::{MediaMap, SipError, MAX_MEDIA};
use crate::seq::{seq_le, seq_lt};

/// Message starts remembered per direction (for retransmissions and segments with several
/// messages).
pub const REMEMBERED_STARTS: usize = 16;
/// Most messages parsed in one segment; later ones pass unmodified (`too_many_rewrites`).
pub const MAX_MESSAGES_PER_SEGMENT: usize = 8;
/// Consecutive segments after a hole held before the stream is given up.
pub const MAX_GAP_HOLDS: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but CR/LF seen yet; the first start line decides.
    New,
    /// A SIP stream in sync.
    Sip,
    /// Not SIP, or sync lost: never parsed again.
    Dead,
}

/// What a segment holds. See [`SipStream::segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamScan {
    starts: [u16; MAX_MESSAGES_PER_SEGMENT],
    n: u8,
    /// Stream-level conditions to count (e.g. `not_sip_stream`, then the framing error).
    pub errors: [Option<SipError>; 2],
    /// Drop the segment: it follows a hole in the stream.
    pub hold: bool,
}

impl StreamScan {
    fn new() -> Self {
        Self {
            starts: [0; MAX_MESSAGES_PER_SEGMENT],
            n: 0,
            errors: [None; 2],
            hold: false,
        }
    }

    /// Payload offsets of the messages that start at tracked boundaries, in order; parse
    /// each with [`super::SipMessage::parse`] (`Transport::Tcp`).
    pub fn message_starts(&self) -> &[u16] {
        &self.starts[..usize::from(self.n)]
    }

    fn error(&mut self, e: SipError) {
        if let Some(slot) = self.errors.iter_mut().find(|s| s.is_none()) {
            *slot = Some(e);
        }
    }
}

/// One direction of a SIP-over-TCP connection. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipStream {
    state: State,
    framer: Framer,
    /// Original sequence number of the next byte to feed.
    next: u32,
    starts: [u32; REMEMBERED_STARTS],
    n_starts: u8,
    slot: u8,
    gap_holds: u8,
    /// The public media ports given to the last rewritten message, by its sequence number.
    media: Option<(u32, [MediaMap; MAX_MEDIA], u8)>,
    /// The incomplete message last held, and how many times.
    held: Option<(u32, u8)>,
    /// The incomplete message last given up on (passed unmodified): never held again.
    given_up: Option<u32>,
    /// Segments held in a row behind the held message.
    behind_holds: u8,
}

impl SipStream {
    /// A direction whose first data byte has sequence number `first_seq` (ISN + 1, from the
    /// SYN or SYN-ACK).
    pub const fn new(first_seq: u32) -> Self {
        Self {
            state: State::New,
            framer: Framer::new(true),
            next: first_seq,
            starts: [0; REMEMBERED_STARTS],
            n_starts: 0,
            slot: 0,
            gap_holds: 0,
            media: None,
            held: None,
            given_up: None,
            behind_holds: 0,
        }
    }

    /// A direction first seen mid-stream: never parsed.
    pub const fn unsynchronized() -> Self {
        let mut s = Self::new(0);
        s.state = State::Dead;
        s
    }

    /// Whether the stream is no longer parsed (not SIP, or sync lost).
    pub fn is_dead(&self) -> bool {
        self.state == State::Dead
    }

    fn remember(&mut self, seq: u32) {
        let i = usize::from(self.slot);
        if let Some(s) = self.starts.get_mut(i) {
            *s = seq;
        }
        self.slot = u8::try_from((i + 1) % REMEMBERED_STARTS).unwrap_or(0);
        if usize::from(self.n_starts) < REMEMBERED_STARTS {
            self.n_starts += 1;
        }
    }

    /// Feeds the segment's new bytes and returns the messages to parse. `seq` is the original
    /// sequence number of `payload[0]`.
    pub fn segment(&mut self, seq: u32, payload: &[u8]) -> StreamScan {
        let mut scan = StreamScan::new();
        if self.state == State::Dead || payload.is_empty() {
            return scan;
        }
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let end = seq.wrapping_add(len);
        if seq_lt(self.next, seq) {
            // A hole before this segment.
            scan.error(SipError::StreamGap);
            self.gap_holds += 1;
            if self.gap_holds > MAX_GAP_HOLDS {
                self.state = State::Dead;
                scan.error(SipError::NotAtBoundary);
            } else {
                scan.hold = true;
            }
            return scan;
        }
        self.gap_holds = 0;
        if seq_lt(self.next, end) {
            let from = usize::try_from(self.next.wrapping_sub(seq)).unwrap_or(usize::MAX);
            for (i, &b) in payload.iter().enumerate().skip(from) {
                match self.framer.feed(b) {
                    Ok(Step::MessageStart) => {
                        self.remember(seq.wrapping_add(u32::try_from(i).unwrap_or(0)));
                    }
                    Ok(Step::MessageEnd) => self.state = State::Sip,
                    Ok(_) => {}
                    Err(e) => {
                        scan.error(if self.state == State::New {
                            SipError::NotSipStream
                        } else {
                            SipError::NotAtBoundary
                        });
                        if self.state != State::New || e != SipError::BadStartLine {
                            scan.error(e);
                        }
                        self.state = State::Dead;
                        return scan;
                    }
                }
                if self.state == State::New && self.framer_past_start_line() {
                    self.state = State::Sip;
                }
            }
            self.next = end;
        }
        // Messages starting at remembered boundaries within the segment, in order.
        let mut offs = [u32::MAX; REMEMBERED_STARTS];
        for (o, &s) in offs
            .iter_mut()
            .zip(self.starts[..usize::from(self.n_starts)].iter())
        {
            if seq_le(seq, s) && seq_lt(s, end) {
                *o = s.wrapping_sub(seq);
            }
        }
        offs.sort_unstable();
        for &o in offs.iter().take_while(|&&o| o != u32::MAX) {
            let Ok(o) = u16::try_from(o) else { break };
            match scan.starts.get_mut(usize::from(scan.n)) {
                Some(slot) => {
                    *slot = o;
                    scan.n += 1;
                }
                None => {
                    scan.error(SipError::TooManyRewrites);
                    break;
                }
            }
        }
        scan
    }

    /// Whether the current message's start line was accepted (the framer moved on to the
    /// headers or beyond).
    fn framer_past_start_line(&self) -> bool {
        !self.framer.is_idle() && !self.framer.in_start_line()
    }

    /// The public media ports given to the message starting at `msg_seq`, if it is the last
    /// one rewritten (a retransmission).
    pub fn media_for(&self, msg_seq: u32) -> Option<&[MediaMap]> {
        match &self.media {
            Some((s, maps, n)) if *s == msg_seq => maps.get(..usize::from(*n)),
            _ => None,
        }
    }

    /// The remembered media ports (to restore them when a packet's rewrite is cancelled,
    /// here or by the dataplane when the rewrite does not fit the buffer).
    pub fn remembered_media(&self) -> Option<(u32, [MediaMap; MAX_MEDIA], u8)> {
        self.media
    }

    /// Puts back what [`SipStream::remembered_media`] returned.
    pub fn restore_media(&mut self, m: Option<(u32, [MediaMap; MAX_MEDIA], u8)>) {
        self.media = m;
    }

    /// Remembers the public media ports given to the message starting at `msg_seq`.
    pub fn remember_media(&mut self, msg_seq: u32, maps: &[MediaMap]) {
        let mut a = [MediaMap {
            inside_rtp: 0,
            public_rtp: 0,
        }; MAX_MEDIA];
        let n = maps.len().min(MAX_MEDIA);
        a[..n].copy_from_slice(&maps[..n]);
        self.media = Some((msg_seq, a, u8::try_from(n).unwrap_or(0)));
    }

    /// Counts one hold of the incomplete message starting at `msg_seq`; returns whether it
    /// may be held again (at most `max` times for the same message).
    pub fn hold_split(&mut self, msg_seq: u32, max: u8) -> bool {
        if self.given_up == Some(msg_seq) {
            return false;
        }
        let n = match self.held {
            Some((s, n)) if s == msg_seq => n,
            _ => 0,
        };
        if n < max {
            self.held = Some((msg_seq, n + 1));
            self.behind_holds = 0;
            true
        } else {
            self.held = None;
            self.given_up = Some(msg_seq);
            false
        }
    }

    /// Whether a segment starting at `seq` lies wholly after a held incomplete message: it
    /// must be held too, or the receiver would get the message's tail before its rewritten
    /// (longer or shorter) start, at sequence numbers the correction then moves. Bounded: at
    /// most [`MAX_GAP_HOLDS`] such segments in a row, and never once the stream is dead.
    pub fn behind_held(&mut self, seq: u32) -> bool {
        if self.state == State::Dead {
            self.held = None;
        }
        if !matches!(self.held, Some((s, _)) if seq_lt(s, seq)) {
            return false;
        }
        self.behind_holds += 1;
        if self.behind_holds > MAX_GAP_HOLDS {
            self.behind_holds = 0;
            if let Some((s, _)) = self.held.take() {
                self.given_up = Some(s);
            }
            return false;
        }
        true
    }

    /// The message starting at `msg_seq` arrived complete: if it was the held one, later
    /// segments are no longer held behind it.
    pub fn release_held(&mut self, msg_seq: u32) {
        if matches!(self.held, Some((s, _)) if s == msg_seq) {
            self.held = None;
            self.behind_holds = 0;
        }
    }
}
