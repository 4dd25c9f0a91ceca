//! Where FTP lines start, in the sender's original sequence space.
//!
//! The control channel is a stream of lines (RFC 959 §4, Telnet NVT: each ends in CRLF); a
//! command or reply is only recognised at the start of a line. A segment start is *not* a line
//! start unless the tracker saw the end of the previous line: that is the whole defence against
//! NAT-Slipstreaming-style injection, where an attacker arranges for a segment to begin with
//! attacker-chosen text in the middle of a line.
//!
//! The tracker remembers the sequence numbers of the last few line starts (the byte after each
//! LF it saw). A segment is parsed from offset 0 if it starts at a remembered line start
//! (in-order data, or a retransmission starting where the original did), else from the first
//! remembered line start inside it, else from the byte after its first LF; bytes before that
//! are never parsed. Being a short ring, it needs no per-line state and survives
//! retransmission, reordering and loss: after a gap it resynchronises at the next LF.

use crate::seq::seq_lt;

/// Line starts remembered per direction.
pub const REMEMBERED_LINE_STARTS: usize = 4;

/// Recent line starts of one direction. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTracker {
    starts: [u32; REMEMBERED_LINE_STARTS],
    len: u8,
    next: u8,
}

impl LineTracker {
    /// A tracker that knows no line start yet: it synchronises at the first LF it sees.
    pub const fn new() -> Self {
        Self {
            starts: [0; REMEMBERED_LINE_STARTS],
            len: 0,
            next: 0,
        }
    }

    fn known(&self) -> &[u32] {
        &self.starts[..usize::from(self.len)]
    }

    /// Whether `seq` is a remembered line start.
    pub fn is_line_start(&self, seq: u32) -> bool {
        self.known().contains(&seq)
    }

    /// Remembers that a line starts at `seq` (the first data byte of the connection, or the
    /// byte after an LF).
    pub fn remember(&mut self, seq: u32) {
        if self.is_line_start(seq) {
            return;
        }
        let i = usize::from(self.next);
        self.starts[i] = seq;
        self.next = u8::try_from((i + 1) % REMEMBERED_LINE_STARTS).unwrap_or(0);
        if usize::from(self.len) < REMEMBERED_LINE_STARTS {
            self.len += 1;
        }
    }

    /// The offset of the earliest remembered line start strictly inside a segment of `len`
    /// bytes starting at `seq`.
    pub fn first_start_within(&self, seq: u32, len: usize) -> Option<usize> {
        let end = seq.wrapping_add(u32::try_from(len).unwrap_or(u32::MAX));
        self.known()
            .iter()
            .filter(|&&s| seq_lt(seq, s) && seq_lt(s, end))
            .filter_map(|&s| usize::try_from(s.wrapping_sub(seq)).ok())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_latest_and_no_duplicates() {
        let mut t = LineTracker::new();
        assert!(!t.is_line_start(0));
        for s in [10, 20, 20, 30, 40, 50] {
            t.remember(s);
        }
        assert!(!t.is_line_start(10));
        assert!(t.is_line_start(20) && t.is_line_start(50));
        assert_eq!(t.first_start_within(15, 20), Some(5));
        assert_eq!(t.first_start_within(20, 5), None);
        assert_eq!(t.first_start_within(u32::MAX - 2, 100), Some(23));
    }
}
