//! A bounded reader for ASN.1 aligned PER (ITU-T X.691, ALIGNED variant), decoding exactly the
//! constructs H.225.0 and H.245 use on the way to a TransportAddress.
//!
//! The reader is a bit cursor over the whole payload (so a byte position is directly an edit
//! offset) with a limit that open types narrow: [`Per::open_type`] decodes an open type's
//! contents inside its own length and then always resumes right after it, whatever the inner
//! decoder consumed. That is what lets the decoders stop early inside an extension (the
//! TransportAddress they want comes first) and skip every extension they do not know.
//!
//! Bounds (CVE-2024-26851 was an H.323 decoder trusting a length): every read is checked
//! against the current limit ([`H323Error::PerTruncated`]); every read costs one step of a
//! per-message budget of [`MAX_STEPS`] ([`H323Error::PerBudget`]); open types nest at most
//! [`MAX_DEPTH`] deep; a SEQUENCE OF holds at most [`MAX_SEQ_OF`] elements and an extension
//! bitmap at most 64 bits ([`H323Error::PerTooMany`]); fragmented lengths (16K and more,
//! X.691 §11.9.3.8) never occur in signalling and are refused ([`H323Error::PerFragmented`]);
//! values outside their constraint are [`H323Error::PerBadValue`].

use super::H323Error;

/// Reads (bits, lengths, values) allowed per decoded message.
pub const MAX_STEPS: u32 = 4096;
/// Deepest nesting of open types (extensions, extension alternatives, fastStart elements).
pub const MAX_DEPTH: u32 = 8;
/// Most elements accepted in any SEQUENCE OF.
pub const MAX_SEQ_OF: usize = 32;

type R<T> = Result<T, H323Error>;

/// Which alternative of a CHOICE is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// A root alternative, by index.
    Root(u32),
    /// An extension addition alternative, by index; its value is an open type (not read yet).
    Ext(u32),
}

/// The optional-component bitmap of a SEQUENCE preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    bits: u32,
    n: u32,
}

impl Opt {
    /// Whether the `i`-th OPTIONAL component (in declaration order) is present.
    pub fn has(self, i: u32) -> bool {
        i < self.n && (self.bits >> (self.n - 1 - i)) & 1 == 1
    }
}

/// Bit cursor over `buf[..]` limited to `end` bits. See the module documentation.
#[derive(Debug)]
pub struct Per<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    steps: u32,
    depth: u32,
}

impl<'a> Per<'a> {
    /// A reader of the encoding in `buf[start..end]` (byte offsets).
    pub fn new(buf: &'a [u8], start: usize, end: usize) -> R<Self> {
        if start > end || end > buf.len() {
            return Err(H323Error::PerTruncated);
        }
        Ok(Self {
            buf,
            pos: start * 8,
            end: end * 8,
            steps: 0,
            depth: 0,
        })
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(H323Error::PerBudget);
        }
        Ok(())
    }

    fn need(&self, bits: usize) -> R<()> {
        match self.pos.checked_add(bits) {
            Some(e) if e <= self.end => Ok(()),
            _ => Err(H323Error::PerTruncated),
        }
    }

    /// Current byte offset in the payload; only meaningful after [`Per::align`].
    pub fn byte_pos(&self) -> usize {
        self.pos / 8
    }

    /// One bit.
    pub fn bit(&mut self) -> R<bool> {
        Ok(self.bits(1)? == 1)
    }

    /// `n` (at most 32) bits, most significant first.
    pub fn bits(&mut self, n: u32) -> R<u32> {
        self.step()?;
        if n > 32 {
            return Err(H323Error::PerBadValue);
        }
        self.need(n as usize)?;
        let mut v: u32 = 0;
        for _ in 0..n {
            let byte = self.buf[self.pos / 8];
            let b = (byte >> (7 - (self.pos % 8))) & 1;
            v = (v << 1) | u32::from(b);
            self.pos += 1;
        }
        Ok(v)
    }

    /// Skips `n` bits in one step (a known-multiplier character string).
    pub fn skip_bits(&mut self, n: usize) -> R<()> {
        self.step()?;
        self.need(n)?;
        self.pos += n;
        Ok(())
    }

    /// Skips to the next octet boundary (X.691 "octet-aligned in the ALIGNED variant").
    pub fn align(&mut self) -> R<()> {
        let p = self.pos.div_ceil(8) * 8;
        if p > self.end {
            return Err(H323Error::PerTruncated);
        }
        self.pos = p;
        Ok(())
    }

    /// Aligns, then returns the next `n` octets.
    pub fn octets(&mut self, n: usize) -> R<&'a [u8]> {
        self.step()?;
        self.align()?;
        self.need(n.checked_mul(8).ok_or(H323Error::PerTruncated)?)?;
        let s = self.pos / 8;
        self.pos += n * 8;
        Ok(&self.buf[s..s + n])
    }

    /// A constrained whole number `lb..=ub` (X.691 §11.5.7, aligned variant).
    pub fn constrained(&mut self, lb: u32, ub: u32) -> R<u32> {
        if ub < lb {
            return Err(H323Error::PerBadValue);
        }
        let range = u64::from(ub - lb) + 1;
        let v = if range == 1 {
            0
        } else if range < 256 {
            self.bits(bits_for(range - 1))?
        } else if range == 256 {
            self.align()?;
            self.bits(8)?
        } else if range <= 65536 {
            self.align()?;
            self.bits(16)?
        } else {
            // §11.5.7.4: the octet count as a constrained whole number 1..=max_octets.
            let max_octets = (bits_for(range - 1)).div_ceil(8);
            let n = self.constrained(1, max_octets)?;
            let o = self.octets(n as usize)?;
            o.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b))
        };
        if u64::from(v) > u64::from(ub - lb) {
            return Err(H323Error::PerBadValue);
        }
        Ok(lb + v)
    }

    /// An unconstrained length determinant (X.691 §11.9.3.5-8); fragmented forms refused.
    pub fn length(&mut self) -> R<usize> {
        self.align()?;
        let b = self.bits(8)?;
        if b & 0x80 == 0 {
            Ok(b as usize)
        } else if b & 0x40 == 0 {
            let lo = self.bits(8)?;
            Ok((((b & 0x3f) << 8) | lo) as usize)
        } else {
            Err(H323Error::PerFragmented)
        }
    }

    /// A size-constrained length `lb..=ub` (ub < 64K: a constrained whole number, nothing
    /// when fixed).
    pub fn size(&mut self, lb: u32, ub: u32) -> R<usize> {
        Ok(self.constrained(lb, ub)? as usize)
    }

    /// A normally small non-negative whole number (§11.6) below 64; larger ones refused.
    pub fn normally_small(&mut self) -> R<u32> {
        if self.bit()? {
            return Err(H323Error::PerTooMany);
        }
        self.bits(6)
    }

    /// A CHOICE index with `root` root alternatives, extensible or not.
    pub fn choice(&mut self, root: u32, extensible: bool) -> R<Choice> {
        if extensible && self.bit()? {
            return Ok(Choice::Ext(self.normally_small()?));
        }
        if root == 0 {
            return Err(H323Error::PerBadValue);
        }
        Ok(Choice::Root(self.constrained(0, root - 1)?))
    }

    /// A SEQUENCE preamble: the extension bit (if extensible) and `n` OPTIONAL bits.
    pub fn preamble(&mut self, extensible: bool, n: u32) -> R<(bool, Opt)> {
        let ext = extensible && self.bit()?;
        let bits = if n == 0 { 0 } else { self.bits(n)? };
        Ok((ext, Opt { bits, n }))
    }

    /// Skips an OBJECT IDENTIFIER (a length-prefixed octet string).
    pub fn skip_oid(&mut self) -> R<()> {
        let n = self.length()?;
        self.octets(n).map(|_| ())
    }

    /// Skips an unconstrained OCTET STRING.
    pub fn skip_octet_string(&mut self) -> R<()> {
        let n = self.length()?;
        self.octets(n).map(|_| ())
    }

    /// The element count of an unconstrained SEQUENCE OF, at most [`MAX_SEQ_OF`].
    pub fn seq_of(&mut self) -> R<usize> {
        let n = self.length()?;
        if n > MAX_SEQ_OF {
            return Err(H323Error::PerTooMany);
        }
        Ok(n)
    }

    /// Decodes an open type (or any length-wrapped encoding: a fastStart OCTET STRING) with
    /// `f`, confined to its length, then resumes right after it.
    pub fn open_type<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let n = self.length()?;
        self.need(n.checked_mul(8).ok_or(H323Error::PerTruncated)?)?;
        if self.depth >= MAX_DEPTH {
            return Err(H323Error::PerBudget);
        }
        let outer = self.end;
        let inner = self.pos + n * 8;
        self.end = inner;
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        self.end = outer;
        self.pos = inner;
        r
    }

    /// Skips an open type.
    pub fn skip_open_type(&mut self) -> R<()> {
        self.open_type(|_| Ok(()))
    }

    /// The extension additions of a SEQUENCE whose extension bit was set (§19.7-9): the
    /// bitmap, then each present addition, an open type, given to `f` with its index.
    pub fn extensions(&mut self, mut f: impl FnMut(&mut Self, u32) -> R<()>) -> R<()> {
        let n = self.normally_small()? + 1;
        let hi = if n > 32 { self.bits(n - 32)? } else { 0 };
        let lo = self.bits(n.min(32))?;
        let map = (u64::from(hi) << 32) | u64::from(lo);
        for i in 0..n {
            if (map >> (n - 1 - i)) & 1 == 1 {
                self.open_type(|r| f(r, i))?;
            }
        }
        Ok(())
    }

    /// Skips every extension addition (the extension bit was set).
    pub fn skip_extensions(&mut self) -> R<()> {
        self.extensions(|_, _| Ok(()))
    }
}

/// Bits needed to write `v` (at least 1).
fn bits_for(v: u64) -> u32 {
    (64 - v.leading_zeros()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constrained_whole_numbers_follow_x691() {
        // range 255: 8 bits, unaligned, after 1 bit.
        let b = [0b1111_1111, 0b0000_0000];
        let mut r = Per::new(&b, 0, 2).unwrap();
        assert!(r.bit().unwrap());
        assert_eq!(r.constrained(1, 255).unwrap(), 255);
        // range 256 aligns first.
        let b = [0x80, 0x07];
        let mut r = Per::new(&b, 0, 2).unwrap();
        assert!(r.bit().unwrap());
        assert_eq!(r.constrained(1, 256).unwrap(), 8);
        // range 65536: two aligned octets.
        let b = [0x00, 0x06, 0xb8];
        let mut r = Per::new(&b, 0, 3).unwrap();
        r.bits(3).unwrap();
        assert_eq!(r.constrained(0, 65535).unwrap(), 1720);
        // 2^32: 2-bit octet count, then the octets.
        let b = [0b0100_0000, 0x01, 0x00];
        let mut r = Per::new(&b, 0, 3).unwrap();
        assert_eq!(r.constrained(0, u32::MAX).unwrap(), 256);
    }

    #[test]
    fn value_above_the_constraint_is_refused() {
        // INTEGER(0..4) in 3 bits: 7 is out of range.
        let b = [0b1110_0000];
        let mut r = Per::new(&b, 0, 1).unwrap();
        assert_eq!(r.constrained(0, 4), Err(H323Error::PerBadValue));
    }

    #[test]
    fn lengths_fragmented_and_past_the_end() {
        let b = [0xc1, 0, 0];
        assert_eq!(
            Per::new(&b, 0, 3).unwrap().length(),
            Err(H323Error::PerFragmented)
        );
        let b = [0x81, 0x00, 0xaa];
        let mut r = Per::new(&b, 0, 3).unwrap();
        assert_eq!(r.length().unwrap(), 256);
        let b = [0x05, 1, 2];
        let mut r = Per::new(&b, 0, 3).unwrap();
        assert_eq!(r.skip_octet_string(), Err(H323Error::PerTruncated));
        let mut r = Per::new(&b, 0, 3).unwrap();
        assert_eq!(r.skip_open_type(), Err(H323Error::PerTruncated));
    }

    #[test]
    fn open_type_resumes_after_its_length_and_limits_reads() {
        let b = [0x02, 0xff, 0xff, 0xa5];
        let mut r = Per::new(&b, 0, 4).unwrap();
        let inner = r.open_type(|r| {
            r.bits(4)?;
            Ok(r.bits(32))
        });
        assert_eq!(inner.unwrap(), Err(H323Error::PerTruncated));
        assert_eq!(r.bits(8).unwrap(), 0xa5);
    }

    #[test]
    fn nesting_and_budget_are_bounded() {
        // 9 nested open types of lengths 8,7,...: depth limit.
        let b: Vec<u8> = (0..10u8).rev().collect();
        fn nest(r: &mut Per<'_>) -> R<()> {
            r.open_type(nest)
        }
        let mut r = Per::new(&b, 0, b.len()).unwrap();
        assert_eq!(nest(&mut r), Err(H323Error::PerBudget));
        let b = [0u8; 1024];
        let mut r = Per::new(&b, 0, b.len()).unwrap();
        let mut res = Ok(false);
        for _ in 0..=MAX_STEPS {
            res = r.bit();
        }
        assert_eq!(res, Err(H323Error::PerBudget));
    }

    #[test]
    fn huge_counts_and_bitmaps_are_refused() {
        let b = [33u8];
        assert_eq!(
            Per::new(&b, 0, 1).unwrap().seq_of(),
            Err(H323Error::PerTooMany)
        );
        // extension bitmap length 64 (normally small 63) with only 2 bytes left.
        let b = [0b0111_1110, 0xff];
        let mut r = Per::new(&b, 0, 2).unwrap();
        assert_eq!(r.skip_extensions(), Err(H323Error::PerTruncated));
        // normally small with the "large" bit set.
        let b = [0x80];
        assert_eq!(
            Per::new(&b, 0, 1).unwrap().normally_small(),
            Err(H323Error::PerTooMany)
        );
    }

    #[test]
    fn preamble_bits_in_declaration_order() {
        let b = [0b1101_0000];
        let mut r = Per::new(&b, 0, 1).unwrap();
        let (ext, opt) = r.preamble(true, 3).unwrap();
        assert!(ext && opt.has(0) && !opt.has(1) && opt.has(2) && !opt.has(3));
    }
}
