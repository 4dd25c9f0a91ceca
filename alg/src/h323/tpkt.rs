//! TPKT framing (RFC 1006 §6) of Q.931/H.225.0 and H.245 over TCP, and the tracking of the
//! TPKT boundaries of one direction of a connection.
//!
//! ```text
//! +--------+--------+----------------+-----------....---------------+
//! |version |reserved| packet length  |             TPDU             |
//! +--------+--------+----------------+-----------....---------------+
//! <8 bits> <8 bits> <   16 bits    > <        variable length       >
//! ```
//! "This field contains the value 3" (version); "Packet length: This field contains the
//! length of entire packet in octets, including packet-header."
//!
//! Boundary policy (REFERENCE.md test 1): a segment is parsed only if it starts at a TPKT
//! boundary the tracker knows — the first payload byte ([`TpktTracker::synchronize`]) or the
//! end of a TPKT it has seen — so bytes in the middle of a message (a padded HTTP POST, the
//! NAT Slipstreaming trick) are never taken for a header. The last [`MAX_BOUNDARIES`]
//! boundaries are remembered so that a retransmission starting where the original did is
//! parsed (and rewritten) again the same way.
//!
//! Split policy: a TPKT that continues past the end of its segment is passed uninspected and
//! counted ([`H323Error::TpktSplit`]); its end is remembered, so the stream stays in step.
//! The one exception is a segment holding exactly a TPKT header (NetMeeting sends header and
//! body separately): the body that follows in the next segment is parsed.

use super::H323Error;

/// TPKT version (RFC 1006).
pub const TPKT_VERSION: u8 = 3;
/// TPKT header length.
pub const TPKT_HEADER: usize = 4;
/// TPKT boundaries remembered per direction.
pub const MAX_BOUNDARIES: usize = 8;
/// Most TPKTs examined in one segment.
pub const MAX_TPKTS_PER_SEGMENT: usize = 16;

/// The body length of the TPKT whose header is at the start of `b`.
pub fn header(b: &[u8]) -> Result<usize, H323Error> {
    let h = b.get(..TPKT_HEADER).ok_or(H323Error::TpktSplit)?;
    if h[0] != TPKT_VERSION {
        return Err(H323Error::TpktBadVersion);
    }
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if len <= TPKT_HEADER {
        return Err(H323Error::TpktBadLength);
    }
    Ok(len - TPKT_HEADER)
}

/// A known position in the sequence space of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// A TPKT header starts here.
    Header(u32),
    /// The body of a TPKT (of this length) whose header came alone starts here.
    Body(u32, u16),
}

/// TPKT boundaries of one direction (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TpktTracker {
    ring: [Option<Boundary>; MAX_BOUNDARIES],
    next: usize,
}

/// Where the messages of one segment start, as decided by the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The segment starts with a TPKT header.
    Header,
    /// The segment starts with the body (of this length) of a TPKT whose header came alone.
    Body(usize),
}

impl TpktTracker {
    /// A tracker that knows no boundary yet: nothing is parsed until
    /// [`TpktTracker::synchronize`].
    pub const fn new() -> Self {
        Self {
            ring: [None; MAX_BOUNDARIES],
            next: 0,
        }
    }

    /// The first payload byte of the direction is `seq` (the SYN's sequence number + 1).
    pub fn synchronize(&mut self, seq: u32) {
        *self = Self::new();
        self.remember(Boundary::Header(seq));
    }

    fn remember(&mut self, b: Boundary) {
        if self.ring.contains(&Some(b)) {
            return;
        }
        self.ring[self.next] = Some(b);
        self.next = (self.next + 1) % MAX_BOUNDARIES;
    }

    /// How a segment starting at `seq` begins, if at a known boundary.
    pub fn start(&self, seq: u32) -> Option<Start> {
        self.ring.iter().flatten().find_map(|b| match *b {
            Boundary::Header(s) if s == seq => Some(Start::Header),
            Boundary::Body(s, n) if s == seq => Some(Start::Body(usize::from(n))),
            _ => None,
        })
    }

    /// A TPKT header starts at `seq`.
    pub fn header_at(&mut self, seq: u32) {
        self.remember(Boundary::Header(seq));
    }

    /// A body of `len` bytes, whose header came alone, starts at `seq`.
    pub fn body_at(&mut self, seq: u32, len: u16) {
        self.remember(Boundary::Body(seq, len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_version_and_length() {
        assert_eq!(header(&[3, 0, 0, 9]), Ok(5));
        assert_eq!(header(&[2, 0, 0, 9]), Err(H323Error::TpktBadVersion));
        assert_eq!(header(&[3, 0, 0, 0]), Err(H323Error::TpktBadLength));
        assert_eq!(header(&[3, 0, 0, 3]), Err(H323Error::TpktBadLength));
        assert_eq!(header(&[3, 0, 0, 4]), Err(H323Error::TpktBadLength));
        assert_eq!(header(&[3, 0, 0]), Err(H323Error::TpktSplit));
    }

    #[test]
    fn tracker_remembers_the_last_boundaries() {
        assert_eq!(MAX_BOUNDARIES, 8);
        let mut t = TpktTracker::new();
        assert_eq!(t.start(100), None);
        t.synchronize(100);
        assert_eq!(t.start(100), Some(Start::Header));
        t.body_at(104, 20);
        assert_eq!(t.start(104), Some(Start::Body(20)));
        for s in (0..8).map(|i| 200 + 10 * i) {
            t.header_at(s);
        }
        assert_eq!(t.start(100), None);
        assert_eq!(t.start(104), None);
        assert_eq!(t.start(200), Some(Start::Header));
        assert_eq!(t.start(270), Some(Start::Header));
        assert_eq!(t.start(271), None);
    }
}
