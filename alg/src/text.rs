//! ASCII helpers shared by the text-based ALGs: a bounds-checked cursor over one line, decimal
//! numbers with overflow checks, and a fixed-capacity text buffer to build replacements in.

use crate::edit::EDIT_TEXT_MAX;
use core::net::Ipv4Addr;

/// Why a number could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// No digit where a number was expected.
    Missing,
    /// More than `max`.
    TooLarge,
}

/// A read position within one line (never past its end).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(line: &'a [u8], pos: usize) -> Self {
        Self {
            line,
            pos: pos.min(line.len()),
        }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }
    pub(crate) fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }
    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    /// Consumes and returns the next byte.
    pub(crate) fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }
    /// Skips spaces and horizontal tabs.
    pub(crate) fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    /// Moves to the first ASCII digit at or after the position; false if there is none.
    pub(crate) fn seek_digit(&mut self) -> bool {
        match self.line[self.pos..].iter().position(u8::is_ascii_digit) {
            Some(i) => {
                self.pos += i;
                true
            }
            None => {
                self.pos = self.line.len();
                false
            }
        }
    }
    /// Moves past the first `b` at or after the position; false if there is none.
    pub(crate) fn seek_past(&mut self, b: u8) -> bool {
        match self.line[self.pos..].iter().position(|&c| c == b) {
            Some(i) => {
                self.pos += i + 1;
                true
            }
            None => {
                self.pos = self.line.len();
                false
            }
        }
    }
    /// Reads a decimal number of at least one digit, not above `max`. Leading zeros are
    /// accepted (the value, not the digit count, is bounded, so `000000001` is 1).
    pub(crate) fn number(&mut self, max: u32) -> Result<u32, NumError> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            v = v * 10 + u64::from(d - b'0');
            if v > u64::from(max) {
                return Err(NumError::TooLarge);
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(NumError::Missing);
        }
        u32::try_from(v).map_err(|_| NumError::TooLarge)
    }
    /// Reads a number of at most 255.
    pub(crate) fn octet(&mut self) -> Result<u8, NumError> {
        let v = self.number(255)?;
        u8::try_from(v).map_err(|_| NumError::TooLarge)
    }
}

/// Whether `line` starts with `word`, ignoring ASCII case.
pub(crate) fn starts_with_ci(line: &[u8], word: &[u8]) -> bool {
    line.len() >= word.len() && line[..word.len()].eq_ignore_ascii_case(word)
}

/// Whether `tail` is a (possibly empty-suffix) prefix of `word`, ignoring ASCII case: the start
/// of a line cut off before the word was complete.
pub(crate) fn is_prefix_ci(tail: &[u8], word: &[u8]) -> bool {
    tail.len() <= word.len() && word[..tail.len()].eq_ignore_ascii_case(tail)
}

/// A replacement text being built; silently refuses to grow past [`EDIT_TEXT_MAX`] and
/// remembers that it did.
#[derive(Clone, Copy)]
pub(crate) struct TextBuf {
    buf: [u8; EDIT_TEXT_MAX],
    len: usize,
    overflow: bool,
}

impl TextBuf {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; EDIT_TEXT_MAX],
            len: 0,
            overflow: false,
        }
    }
    pub(crate) fn push(&mut self, b: u8) -> &mut Self {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
        self
    }
    pub(crate) fn push_dec(&mut self, v: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut n = 0;
        let mut v = v;
        loop {
            // v % 10 < 10, so the narrowing is exact.
            digits[n] = b'0' + u8::try_from(v % 10).unwrap_or(0);
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[..n].iter().rev() {
            self.push(d);
        }
        self
    }
    /// `a<sep>b<sep>c<sep>d`.
    pub(crate) fn push_addr(&mut self, a: Ipv4Addr, sep: u8) -> &mut Self {
        for (i, o) in a.octets().into_iter().enumerate() {
            if i > 0 {
                self.push(sep);
            }
            self.push_dec(u32::from(o));
        }
        self
    }
    /// The text, or `None` if it overflowed.
    pub(crate) fn as_slice(&self) -> Option<&[u8]> {
        (!self.overflow).then_some(&self.buf[..self.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut c = Cursor::new(b"007,256,x", 0);
        assert_eq!(c.octet(), Ok(7));
        assert!(c.eat(b','));
        assert_eq!(c.octet(), Err(NumError::TooLarge));
        let mut c = Cursor::new(b"99999999999999999999", 0);
        assert_eq!(c.number(u32::MAX), Err(NumError::TooLarge));
        let mut c = Cursor::new(b"x", 0);
        assert_eq!(c.number(9), Err(NumError::Missing));
    }

    #[test]
    fn text() {
        let mut t = TextBuf::new();
        t.push_addr(Ipv4Addr::new(203, 0, 113, 200), b',')
            .push(b',')
            .push_dec(0);
        assert_eq!(t.as_slice(), Some(&b"203,0,113,200,0"[..]));
        let mut t = TextBuf::new();
        for _ in 0..=EDIT_TEXT_MAX {
            t.push(b'x');
        }
        assert_eq!(t.as_slice(), None);
        assert!(is_prefix_ci(b"po", b"PORT "));
        assert!(!is_prefix_ci(b"PORTX", b"PORT"));
        assert!(starts_with_ci(b"eprt |1|", b"EPRT "));
    }
}
