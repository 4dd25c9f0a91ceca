//! TCP sequence-number correction after length-changing payload rewrites.
//!
//! When an ALG rewrite changes the length of a TCP payload, every later byte of that direction
//! moves: the sender's sequence numbers must be shifted on the way out, and the receiver's ACK
//! numbers and SACK blocks (RFC 2018) shifted back on the way in. Linux keeps a single
//! before/after offset pair per direction, so a retransmission across an older correction goes
//! wrong; this module keeps a proper history of corrections.
//!
//! One [`SeqHistory`] per direction of a TCP connection (the dataplane keeps two per session).
//! Positions are *original* sequence numbers (what the sender wrote); *translated* numbers are
//! what the receiver sees. A correction says: the `old_len` original bytes starting at `at` were
//! replaced by `new_len` bytes. Then:
//!
//! * [`SeqHistory::map_seq`] (sender → receiver, the SEQ field of a segment): an original
//!   position at or after the end of a replaced range moves by that correction's delta; a
//!   position strictly inside a replaced range (a segment starting in the middle of rewritten
//!   text, which a well-behaved sender does not produce) maps to the start of the rewritten text.
//! * [`SeqHistory::unmap_ack`] (receiver → sender, the ACK field): the inverse, rounded *down*
//!   (an ACK that covers only part of a rewritten text acknowledges up to its start), so the
//!   sender is never told that bytes arrived that did not. It also remembers the highest ACK.
//! * [`SeqHistory::unmap_sack`] (SACK blocks): left edges rounded up, right edges down; a block
//!   left empty is dropped.
//!
//! All comparisons use serial-number arithmetic (RFC 1982 with SERIAL_BITS = 32, as TCP does
//! in RFC 9293 §3.4): `a` is before `b` when `b - a` (mod 2^32) is in `1..2^31`, so the history
//! works across the wrap of the sequence space as long as it spans less than 2^31 bytes, which
//! the collapsing below guarantees for any connection whose ACKs go through `unmap_ack`.
//!
//! The history is a fixed array of [`HISTORY_LEN`] corrections. Corrections whose replaced
//! range lies entirely before the highest ACK are folded into a base offset as soon as that ACK
//! is seen (no segment can start there any more, except a keep-alive probe at `SND.UNA - 1`,
//! which still maps right because a correction is folded only once `SND.UNA` is strictly after
//! its end). Recording a new correction while all slots hold unacknowledged corrections fails
//! with [`SeqError::HistoryFull`]; the caller must then not apply the rewrite (policy in
//! `docs/alg.md`).

/// Corrections one direction can have in flight (not yet acknowledged).
pub const HISTORY_LEN: usize = 8;

/// Why a correction could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqError {
    /// [`HISTORY_LEN`] length-changing rewrites are in flight, none acknowledged yet.
    HistoryFull,
    /// The rewrite starts before the end of the latest one and is not a repeat of a recorded
    /// one: the retransmitted data was rewritten differently from the first time.
    OutOfOrder,
}

impl SeqError {
    /// Counter name.
    pub const fn name(self) -> &'static str {
        match self {
            SeqError::HistoryFull => "seq_history_full",
            SeqError::OutOfOrder => "seq_out_of_order",
        }
    }
}

impl core::fmt::Display for SeqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// `a` is strictly before `b` in sequence space (RFC 1982).
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d < 1 << 31
}

/// `a` is before or equal to `b` in sequence space.
#[inline]
pub fn seq_le(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < 1 << 31
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Correction {
    /// Original sequence number of the first replaced byte.
    at: u32,
    old_len: u16,
    new_len: u16,
}

impl Correction {
    fn end(&self) -> u32 {
        self.at.wrapping_add(u32::from(self.old_len))
    }
    /// Adds this correction's length change to a cumulative offset (mod 2^32).
    fn apply(&self, offset: u32) -> u32 {
        offset
            .wrapping_add(u32::from(self.new_len))
            .wrapping_sub(u32::from(self.old_len))
    }
}

/// Sequence corrections of one direction of a TCP connection. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqHistory {
    entries: [Correction; HISTORY_LEN],
    len: u8,
    /// Offset (mod 2^32) of all corrections folded away.
    base: u32,
    /// End of the last folded correction: nothing may be recorded before it.
    floor: Option<u32>,
    /// Highest ACK seen, as (translated, original).
    acked: Option<(u32, u32)>,
}

impl SeqHistory {
    /// An empty history: every number maps to itself.
    pub const fn new() -> Self {
        Self {
            entries: [Correction {
                at: 0,
                old_len: 0,
                new_len: 0,
            }; HISTORY_LEN],
            len: 0,
            base: 0,
            floor: None,
            acked: None,
        }
    }

    fn entries(&self) -> &[Correction] {
        &self.entries[..usize::from(self.len)]
    }

    /// Whether no correction is active (every number maps to itself plus [`Self::offset`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of corrections held (not yet folded into the base offset).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Corrections that can still be recorded before [`SeqError::HistoryFull`].
    pub fn free_slots(&self) -> usize {
        HISTORY_LEN - self.len()
    }

    /// Current total offset (mod 2^32) of new data: what `map_seq` adds past the last
    /// correction.
    pub fn offset(&self) -> u32 {
        self.entries().iter().fold(self.base, |d, c| c.apply(d))
    }

    /// Records that the `old_len` original bytes at sequence number `at` were replaced by
    /// `new_len` bytes. A same-length rewrite needs no correction and is not stored. Recording
    /// exactly the same correction again (a retransmission rewritten identically) is a no-op.
    pub fn record(&mut self, at: u32, old_len: u16, new_len: u16) -> Result<(), SeqError> {
        if old_len == new_len {
            return Ok(());
        }
        let c = Correction {
            at,
            old_len,
            new_len,
        };
        if let Some(prev) = self.entries().iter().find(|e| e.at == at) {
            return if *prev == c {
                Ok(())
            } else {
                Err(SeqError::OutOfOrder)
            };
        }
        let last_end = self.entries().last().map(Correction::end).or(self.floor);
        if let Some(end) = last_end {
            if seq_lt(at, end) {
                return Err(SeqError::OutOfOrder);
            }
        }
        let slot = self
            .entries
            .get_mut(usize::from(self.len))
            .ok_or(SeqError::HistoryFull)?;
        *slot = c;
        self.len += 1;
        Ok(())
    }

    /// Records the corrections of a segment whose payload started at original sequence
    /// number `seq` and was rewritten with `edits` (sorted, as in an
    /// [`EditList`](crate::edit::EditList)). All or nothing: on error nothing is recorded and
    /// the caller must not apply the edits.
    pub fn record_edits<'e>(
        &mut self,
        seq: u32,
        edits: impl IntoIterator<Item = &'e crate::edit::Edit>,
    ) -> Result<(), SeqError> {
        let mut trial = *self;
        for e in edits {
            let at = seq.wrapping_add(u32_of(e.offset()));
            trial.record(at, u16_of(e.len()), u16_of(e.text().len()))?;
        }
        *self = trial;
        Ok(())
    }

    /// Maps the sequence number of an outgoing segment (original → translated).
    pub fn map_seq(&self, seq: u32) -> u32 {
        let mut d = self.base;
        for c in self.entries() {
            if seq_le(c.end(), seq) {
                d = c.apply(d);
            } else if seq_lt(c.at, seq) {
                return c.at.wrapping_add(d);
            } else {
                break;
            }
        }
        seq.wrapping_add(d)
    }

    /// Maps a translated number back to the original space, rounding a number that falls
    /// strictly inside a rewritten text down to its start or up to its end.
    fn unmap(&self, t: u32, round_up: bool) -> u32 {
        let mut d = self.base;
        for c in self.entries() {
            let t_start = c.at.wrapping_add(d);
            let t_end = t_start.wrapping_add(u32::from(c.new_len));
            // Rounding down, a number at the end of the text is past it; rounding up it is
            // not (the smallest original boundary at or after it is the region's end, and
            // for a deletion, t_start == t_end, its start).
            let past = if round_up {
                seq_lt(t_end, t)
            } else {
                seq_le(t_end, t)
            };
            if past {
                d = c.apply(d);
            } else if seq_lt(t_start, t) {
                return if round_up { c.end() } else { c.at };
            } else {
                break;
            }
        }
        t.wrapping_sub(d)
    }

    /// Maps the ACK number the receiver sent (translated → original) and remembers the highest
    /// one, folding corrections it has fully acknowledged. The result never acknowledges more
    /// than the receiver did.
    pub fn unmap_ack(&mut self, ack: u32) -> u32 {
        let orig = self.unmap(ack, false);
        match self.acked {
            Some((t, o)) if seq_lt(ack, t) => {
                // An old ACK arriving late: it cannot acknowledge more than the newest did
                // (folded corrections may no longer map it exactly).
                if seq_lt(o, orig) {
                    o
                } else {
                    orig
                }
            }
            _ => {
                self.acked = Some((ack, orig));
                self.fold(orig);
                orig
            }
        }
    }

    /// Maps a SACK block `[left, right)` (translated → original), shrinking it to whole
    /// original bytes; `None` if nothing is left of it.
    pub fn unmap_sack(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        let l = self.unmap(left, true);
        let r = self.unmap(right, false);
        seq_lt(l, r).then_some((l, r))
    }

    /// Folds the corrections that end strictly before `acked` into the base offset.
    fn fold(&mut self, acked: u32) {
        let n = self
            .entries()
            .iter()
            .take_while(|c| seq_lt(c.end(), acked))
            .count();
        if n == 0 {
            return;
        }
        for c in &self.entries[..n] {
            self.base = c.apply(self.base);
            self.floor = Some(c.end());
        }
        self.entries.copy_within(n..usize::from(self.len), 0);
        // n <= len <= HISTORY_LEN, which fits in u8.
        self.len -= u8::try_from(n).unwrap_or(self.len);
    }
}

/// Edit offsets and lengths are bounded by 16 bits at construction.
fn u16_of(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}
fn u32_of(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
