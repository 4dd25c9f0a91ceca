//! The state of one RTSP connection: message framing of both directions, the SETUPs waiting
//! for (or kept after) their reply with the public endpoints given to them, and a cut
//! interleaved frame header carried to the next segment.

use super::transport::MAX_TRANSPORTS;
use super::{RtspSender, RtspSessionId};
use crate::framer::MessageFramer;
use core::net::SocketAddrV4;

/// SETUPs waiting for their reply per connection (REFERENCE.md: 8 outstanding).
pub const MAX_PENDING_SETUPS: usize = 8;

/// One client port pair and the public endpoint given to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Media {
    pub(super) inside_rtp: u16,
    pub(super) pair: bool,
    pub(super) public: SocketAddrV4,
}

/// A SETUP waiting for its reply, or answered (kept so retransmissions of the request and of
/// the reply are rewritten identically, until the slot is needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Setup {
    pub(super) cseq: u32,
    pub(super) msg_seq: u32,
    pub(super) media: [Option<Media>; MAX_TRANSPORTS],
    pub(super) born: u32,
    /// Original sequence number of the 2xx reply, once seen.
    pub(super) answered: Option<u32>,
    /// The `Session` of the request (a SETUP adding a stream to a session).
    pub(super) session: Option<RtspSessionId>,
}

/// RTSP ALG state of one connection (both directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtspState {
    pub(super) client: MessageFramer,
    pub(super) server: MessageFramer,
    pub(super) setups: [Option<Setup>; MAX_PENDING_SETUPS],
    pub(super) born: u32,
    /// Per direction (client, server): an interleaved frame header cut by a segment end.
    pub(super) carry: [Option<Carry>; 2],
}

/// The first 1 to 3 bytes of an interleaved frame header (`$`, channel, length) that ended a
/// segment. Interleaved media cross segment boundaries all the time, so instead of holding
/// such a segment the bytes are kept and completed by the next in-order segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Carry {
    /// Original sequence number of the `$`.
    pub(super) seq: u32,
    pub(super) bytes: [u8; 3],
    pub(super) len: u8,
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
    pub(super) fn complete_carry(&mut self, sender: RtspSender, seq: u32, payload: &[u8]) -> bool {
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

    pub(super) fn framer(&mut self, sender: RtspSender) -> &mut MessageFramer {
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
