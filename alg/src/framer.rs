//! Message boundaries of one direction of a TCP control connection whose messages have a
//! known extent (PPTP: a Length field; RTSP: a header block and a Content-Length body).
//!
//! The defence against NAT-Slipstreaming-style injection is the same as FTP's line tracking
//! ([`crate::ftp::LineTracker`]): a message is parsed only where the ALG itself saw the previous
//! one end, starting from the first data byte of the connection (given at the SYN by
//! [`MessageFramer::synchronize`]). The framer remembers the sequence numbers of the last
//! [`REMEMBERED_LINE_STARTS`] message starts (so a retransmission starting at one of them is
//! parsed again and rewritten identically) and the next expected start.
//!
//! Where a segment lies relative to what was seen ([`MessageFramer::locate`]):
//!
//! * it begins at, or contains, a remembered start: parse from there ([`Located::At`]);
//! * it lies entirely before the next expected start (the middle of a body, or a
//!   retransmission of already seen data with no remembered start in it): nothing to parse
//!   ([`Located::Inside`]);
//! * it begins after the next expected start: bytes in between were never seen (reordering or
//!   loss in front of the NAT): [`Located::Gap`]; the caller holds (drops) it so the sender
//!   retransmits once the gap is filled, at most [`MAX_HOLDS`] times in a row;
//! * the framer was never synchronised, or gave up: [`Located::Unsynced`], nothing is parsed
//!   any more in that direction.
//!
//! A message whose part the parser needs is cut by the end of a segment is held the same way
//! (the sender retransmits it, usually coalesced). After [`MAX_HOLDS`] holds of the same
//! position the framer gives up ([`MessageFramer::give_up`]): holding forever would kill the
//! connection, and a binary or length-framed stream cannot be resynchronised safely.

use crate::ftp::lines::{LineTracker, REMEMBERED_LINE_STARTS};
use crate::seq::seq_lt;

/// Consecutive holds of the same stream position before the framer gives up.
pub const MAX_HOLDS: u8 = 3;

/// Where a segment starts relative to the tracked message boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// A message starts at this payload offset.
    At(usize),
    /// The segment holds no message start the framer knows of, and no unseen data.
    Inside,
    /// The segment starts after the next expected message start: unseen data in between.
    Gap,
    /// Not synchronised (no SYN seen) or given up: nothing is parsed.
    Unsynced,
}

/// Message boundaries of one direction. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFramer {
    recent: LineTracker,
    next: Option<u32>,
    lost: bool,
    held: Option<(u32, u8)>,
}

impl MessageFramer {
    /// A framer that knows no boundary: nothing is parsed until [`Self::synchronize`].
    pub const fn new() -> Self {
        Self {
            recent: LineTracker::new(),
            next: None,
            lost: false,
            held: None,
        }
    }

    /// Declares the sequence number of the first data byte (ISN + 1): the first message starts
    /// there.
    pub fn synchronize(&mut self, first_seq: u32) {
        if self.next.is_none() && !self.lost {
            self.next = Some(first_seq);
            self.recent.remember(first_seq);
        }
    }

    /// Whether the framer follows the stream (synchronised and not given up).
    pub fn is_synchronized(&self) -> bool {
        self.next.is_some() && !self.lost
    }

    /// The next message start not yet seen: a message starting before it is a
    /// retransmission of one already processed.
    pub fn next_start(&self) -> Option<u32> {
        self.next.filter(|_| !self.lost)
    }

    /// Where the segment of `len` bytes starting at `seq` lies.
    pub fn locate(&self, seq: u32, len: usize) -> Located {
        let Some(next) = self.next.filter(|_| !self.lost) else {
            return Located::Unsynced;
        };
        if self.recent.is_line_start(seq) {
            return Located::At(0);
        }
        if let Some(off) = self.recent.first_start_within(seq, len) {
            return Located::At(off);
        }
        if seq_lt(next, seq) {
            Located::Gap
        } else {
            Located::Inside
        }
    }

    /// Records that a message starts at `seq` (the end of the previous one).
    pub fn boundary(&mut self, seq: u32) {
        self.recent.remember(seq);
        if let Some(next) = self.next {
            if seq_lt(next, seq) {
                self.next = Some(seq);
            }
        }
    }

    /// Asks to hold the segment because of what happens at stream position `seq` (a message
    /// cut there, or a gap before it). True: hold (drop) it. False: it was held
    /// [`MAX_HOLDS`] times already; the framer gave up and the segment must pass.
    pub fn hold(&mut self, seq: u32) -> bool {
        let n = match self.held {
            Some((s, n)) if s == seq => n,
            _ => 0,
        };
        if n >= MAX_HOLDS {
            self.give_up();
            return false;
        }
        self.held = Some((seq, n + 1));
        true
    }

    /// Stops following the stream for good (bad framing, too many holds).
    pub fn give_up(&mut self) {
        self.lost = true;
        self.held = None;
    }
}

/// Message starts remembered per direction (the same ring as FTP's line starts).
pub const REMEMBERED_STARTS: usize = REMEMBERED_LINE_STARTS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_boundaries_gaps_and_continuations() {
        let mut f = MessageFramer::new();
        assert_eq!(f.locate(100, 10), Located::Unsynced);
        f.synchronize(u32::MAX - 4);
        assert!(f.is_synchronized());
        assert_eq!(f.locate(u32::MAX - 4, 10), Located::At(0));
        f.boundary(20); // a message of 25 bytes across the wrap
        assert_eq!(f.locate(10, 20), Located::At(10));
        assert_eq!(f.locate(10, 5), Located::Inside);
        assert_eq!(f.locate(21, 5), Located::Gap);
        assert_eq!(f.locate(u32::MAX - 4, 3), Located::At(0));
        // An older boundary does not move `next` back.
        f.boundary(u32::MAX - 4);
        assert_eq!(f.locate(21, 5), Located::Gap);
    }

    #[test]
    fn holds_are_bounded_then_the_framer_gives_up() {
        let mut f = MessageFramer::new();
        f.synchronize(0);
        assert!(f.hold(7) && f.hold(7) && f.hold(7));
        assert!(f.hold(9), "another position starts a new count");
        assert!(f.hold(7) && f.hold(7) && f.hold(7));
        assert!(!f.hold(7));
        assert_eq!(f.locate(0, 10), Located::Unsynced);
        assert!(!f.is_synchronized());
        f.synchronize(0);
        assert_eq!(f.locate(0, 10), Located::Unsynced, "giving up is final");
    }
}
