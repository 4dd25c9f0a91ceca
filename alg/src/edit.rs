//! Payload edits: "replace bytes `[offset, offset + len)` of the payload with this short text".
//!
//! An [`Edit`] is a small `Copy` value with its replacement text inline (at most
//! [`EDIT_TEXT_MAX`] bytes), so producing one never allocates. Offsets are relative to the
//! payload the parser was given (the original, unedited bytes). Several edits of one segment go
//! into an [`EditList`], which keeps them sorted and non-overlapping, the order in which the
//! dataplane applies them (shifting the tail of the payload by each edit's [`Edit::delta`]).
//!
//! [`apply_edits`] is the reference implementation of that application into a separate buffer;
//! tests and fuzz targets use it to check results, and the dataplane can use it when it rebuilds
//! a packet instead of shifting bytes in place.

/// Largest replacement text an [`Edit`] carries. FTP needs at most 29 bytes
/// (`4,4,255,255,255,255,2,255,255`); SIP host:port texts fit too.
pub const EDIT_TEXT_MAX: usize = 64;

/// Why an edit could not be built or applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditError {
    /// The replacement text is longer than [`EDIT_TEXT_MAX`].
    TextTooLong,
    /// The replaced range does not lie within the payload (or does not fit in 16 bits).
    OutOfBounds,
    /// Edits are not sorted by offset or their ranges overlap.
    Overlap,
    /// The output buffer is too small for the edited payload.
    OutputTooSmall,
    /// An [`EditList`] is full.
    ListFull,
}

impl core::fmt::Display for EditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EditError::TextTooLong => "replacement text too long",
            EditError::OutOfBounds => "edit outside the payload",
            EditError::Overlap => "edits unsorted or overlapping",
            EditError::OutputTooSmall => "output buffer too small",
            EditError::ListFull => "edit list full",
        })
    }
}

/// Replace `len` bytes at `offset` of the payload with [`Edit::text`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edit {
    offset: u16,
    len: u16,
    text_len: u8,
    text: [u8; EDIT_TEXT_MAX],
}

impl core::fmt::Debug for Edit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Edit")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("text", &String::from_utf8_lossy(self.text()))
            .finish()
    }
}

impl Edit {
    /// An edit replacing `payload[offset..offset + len]` with `text`. Payloads are IP payloads,
    /// so `offset + len` must fit in 16 bits.
    pub fn new(offset: usize, len: usize, text: &[u8]) -> Result<Self, EditError> {
        let text_len = u8::try_from(text.len()).map_err(|_| EditError::TextTooLong)?;
        if text.len() > EDIT_TEXT_MAX {
            return Err(EditError::TextTooLong);
        }
        let end = offset.checked_add(len).ok_or(EditError::OutOfBounds)?;
        u16::try_from(end).map_err(|_| EditError::OutOfBounds)?;
        let mut buf = [0u8; EDIT_TEXT_MAX];
        buf[..text.len()].copy_from_slice(text);
        Ok(Self {
            offset: u16::try_from(offset).map_err(|_| EditError::OutOfBounds)?,
            len: u16::try_from(len).map_err(|_| EditError::OutOfBounds)?,
            text_len,
            text: buf,
        })
    }
    /// First replaced byte, relative to the start of the (original) payload.
    pub fn offset(&self) -> usize {
        usize::from(self.offset)
    }
    /// Number of original bytes replaced.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// Whether the edit replaces no bytes (a pure insertion).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// One past the last replaced byte.
    pub fn end(&self) -> usize {
        self.offset() + self.len()
    }
    /// The replacement text.
    pub fn text(&self) -> &[u8] {
        &self.text[..usize::from(self.text_len)]
    }
    /// Change of the payload length: `text().len() - len()`.
    pub fn delta(&self) -> i32 {
        i32::from(self.text_len) - i32::from(self.len)
    }
    /// Whether the edit changes nothing (same length and the same bytes as `payload` has).
    pub fn is_noop(&self, payload: &[u8]) -> bool {
        payload.get(self.offset()..self.end()) == Some(self.text())
    }
}

/// Up to `N` edits of one payload, sorted by offset, ranges not overlapping.
#[derive(Clone, Copy)]
pub struct EditList<const N: usize> {
    items: [Option<Edit>; N],
    len: usize,
}

impl<const N: usize> core::fmt::Debug for EditList<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<const N: usize> Default for EditList<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> EditList<N> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            items: [None; N],
            len: 0,
        }
    }
    /// Appends an edit; it must start at or after the end of the previous one.
    pub fn push(&mut self, e: Edit) -> Result<(), EditError> {
        if let Some(last) = self.iter().last() {
            if e.offset() < last.end() || (e.offset() == last.offset() && last.is_empty()) {
                return Err(EditError::Overlap);
            }
        }
        let slot = self.items.get_mut(self.len).ok_or(EditError::ListFull)?;
        *slot = Some(e);
        self.len += 1;
        Ok(())
    }
    /// Number of edits.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there are no edits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Removes every edit.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
    /// The edits in offset order.
    pub fn iter(&self) -> impl Iterator<Item = &Edit> + '_ {
        self.items[..self.len].iter().flatten()
    }
    /// Sum of the edits' length changes.
    pub fn total_delta(&self) -> i64 {
        self.iter().map(|e| i64::from(e.delta())).sum()
    }
}

/// Writes `payload` with `edits` applied into `out` and returns the edited length.
///
/// `edits` must be sorted by offset, not overlapping, and lie within `payload`. This is the
/// reference semantics of an edit list; it copies, so the dataplane's in-buffer version must
/// produce the same bytes.
pub fn apply_edits<'e>(
    payload: &[u8],
    edits: impl IntoIterator<Item = &'e Edit>,
    out: &mut [u8],
) -> Result<usize, EditError> {
    let mut src = 0usize; // next unconsumed byte of payload
    let mut dst = 0usize; // next free byte of out
    let mut copy = |from: &[u8], dst: &mut usize| -> Result<(), EditError> {
        let to = out
            .get_mut(*dst..*dst + from.len())
            .ok_or(EditError::OutputTooSmall)?;
        to.copy_from_slice(from);
        *dst += from.len();
        Ok(())
    };
    for e in edits {
        if e.offset() < src {
            return Err(EditError::Overlap);
        }
        if e.end() > payload.len() {
            return Err(EditError::OutOfBounds);
        }
        copy(&payload[src..e.offset()], &mut dst)?;
        copy(e.text(), &mut dst)?;
        src = e.end();
    }
    copy(&payload[src..], &mut dst)?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(payload: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut out = vec![0u8; payload.len() + 64 * edits.len()];
        let n = apply_edits(payload, edits, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn grow_shrink_and_same_length() {
        let p = b"PORT 10,0,0,1,1,2\r\n";
        let grow = Edit::new(5, 12, b"203,0,113,200,1,2").unwrap();
        assert_eq!(grow.delta(), 5);
        assert_eq!(apply(p, &[grow]), b"PORT 203,0,113,200,1,2\r\n");
        let shrink = Edit::new(5, 12, b"1,2,3,4,5,6").unwrap();
        assert_eq!(shrink.delta(), -1);
        assert_eq!(apply(p, &[shrink]), b"PORT 1,2,3,4,5,6\r\n");
        let same = Edit::new(0, 4, b"port").unwrap();
        assert_eq!(same.delta(), 0);
        assert_eq!(apply(p, &[same]), b"port 10,0,0,1,1,2\r\n");
    }

    #[test]
    fn several_edits_keep_original_offsets() {
        let p = b"aaXbbYcc";
        let e1 = Edit::new(2, 1, b"111").unwrap();
        let e2 = Edit::new(5, 1, b"").unwrap();
        assert_eq!(apply(p, &[e1, e2]), b"aa111bbcc");
    }

    #[test]
    fn refuses_bad_edits() {
        assert_eq!(Edit::new(0, 0, &[0; 65]), Err(EditError::TextTooLong));
        assert_eq!(Edit::new(65535, 1, b""), Err(EditError::OutOfBounds));
        let mut out = [0u8; 4];
        let e = Edit::new(3, 2, b"").unwrap();
        assert_eq!(
            apply_edits(b"abcd", &[e], &mut out),
            Err(EditError::OutOfBounds)
        );
        let a = Edit::new(1, 2, b"").unwrap();
        let b = Edit::new(2, 1, b"").unwrap();
        assert_eq!(
            apply_edits(b"abcd", &[a, b], &mut out),
            Err(EditError::Overlap)
        );
        let grow = Edit::new(0, 1, b"xyz").unwrap();
        assert_eq!(
            apply_edits(b"abcd", &[grow], &mut out),
            Err(EditError::OutputTooSmall)
        );
        let mut l = EditList::<1>::new();
        l.push(a).unwrap();
        assert_eq!(
            l.push(Edit::new(3, 0, b"").unwrap()),
            Err(EditError::ListFull)
        );
        let mut l = EditList::<2>::new();
        l.push(a).unwrap();
        assert_eq!(l.push(b), Err(EditError::Overlap));
    }
}
