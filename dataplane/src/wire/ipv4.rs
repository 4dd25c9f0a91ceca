//! IPv4 header (RFC 791): validation on receive and in-place rewriting with incremental
//! checksum updates (RFC 1624).
//!
//! `new_checked` is the single place where an untrusted frame becomes a trusted header: version,
//! IHL, total length against the buffer and the header checksum are verified there, so every
//! later accessor is in bounds.

use super::WireError;
use crate::checksum;

/// Minimum IPv4 header length.
pub const MIN_HEADER_LEN: usize = 20;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// GRE (RFC 2784; PPTP's enhanced GRE, RFC 2637 §4.1).
pub const PROTO_GRE: u8 = 47;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// A view of an IPv4 packet starting at the IP header. After `new_checked` the buffer is known
/// to hold at least `total_len()` bytes and the header checksum verified.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

/// Reads a big-endian u16 at `r`.
fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

/// Reads a big-endian u32 at `r`.
fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    u32::from_be_bytes([b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the header: length, version 4, IHL >= 5, IHL within the buffer, total length
    /// >= IHL and within the buffer, and the header checksum.
    pub fn new_checked(buf: T) -> Result<Self, Ipv4Error> {
        let b = buf.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Ipv4Error::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Ipv4Error::Version);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if ihl < MIN_HEADER_LEN {
            return Err(Ipv4Error::HeaderLength);
        }
        if ihl > b.len() {
            return Err(Ipv4Error::Truncated);
        }
        let total = usize::from(be16(b, field::TOTAL_LEN));
        if total < ihl {
            return Err(Ipv4Error::TotalLength);
        }
        if total > b.len() {
            return Err(Ipv4Error::TotalLength);
        }
        if checksum::sum(&b[..ihl], 0) != 0xffff {
            return Err(Ipv4Error::Checksum);
        }
        Ok(Self { buf })
    }

    /// Wraps a buffer whose header was already validated (e.g. one the dataplane built).
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        be16(self.buf.as_ref(), field::TOTAL_LEN)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buf.as_ref(), field::IDENT)
    }
    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.buf.as_ref()[field::FLAGS_FRAG.start] & 0x40 != 0
    }
    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.buf.as_ref()[field::FLAGS_FRAG.start] & 0x20 != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        be16(self.buf.as_ref(), field::FLAGS_FRAG) & 0x1fff
    }
    /// True for any fragment (first or not).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }
    /// Protocol.
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), field::CHECKSUM)
    }
    /// Source address.
    pub fn src(&self) -> u32 {
        be32(self.buf.as_ref(), field::SRC)
    }
    /// Destination address.
    pub fn dst(&self) -> u32 {
        be32(self.buf.as_ref(), field::DST)
    }
    /// The payload (after the header, up to total length).
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        &b[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Rewrites the source address, updating the header checksum incrementally.
    pub fn set_src(&mut self, a: u32) {
        let old = self.src();
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.to_be_bytes());
        let c = checksum::update32(self.checksum(), old, a);
        self.set_checksum(c);
    }
    /// Rewrites the destination address, updating the header checksum incrementally.
    pub fn set_dst(&mut self, a: u32) {
        let old = self.dst();
        self.buf.as_mut()[field::DST].copy_from_slice(&a.to_be_bytes());
        let c = checksum::update32(self.checksum(), old, a);
        self.set_checksum(c);
    }
    /// Decrements TTL by one (caller checked TTL > 1), updating the checksum incrementally.
    pub fn decrement_ttl(&mut self) {
        let b = self.buf.as_mut();
        let old = u16::from_be_bytes([b[field::TTL], b[field::PROTOCOL]]);
        b[field::TTL] = b[field::TTL].saturating_sub(1);
        let new = u16::from_be_bytes([b[field::TTL], b[field::PROTOCOL]]);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
    }
    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buf.as_mut()[h..t]
    }
}

/// Writes a 20-byte IPv4 header (no options, DF clear) with a computed checksum.
pub fn write_header(
    buf: &mut [u8],
    total_len: u16,
    ident: u16,
    ttl: u8,
    protocol: u8,
    src: u32,
    dst: u32,
) {
    buf[field::VER_IHL] = 0x45;
    buf[1] = 0;
    buf[field::TOTAL_LEN].copy_from_slice(&total_len.to_be_bytes());
    buf[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    buf[field::FLAGS_FRAG].copy_from_slice(&[0, 0]);
    buf[field::TTL] = ttl;
    buf[field::PROTOCOL] = protocol;
    buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
    buf[field::SRC].copy_from_slice(&src.to_be_bytes());
    buf[field::DST].copy_from_slice(&dst.to_be_bytes());
    let c = checksum::checksum(&buf[..MIN_HEADER_LEN]);
    buf[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
}

/// Why an IPv4 header was rejected; each maps to one drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Shorter than 20 bytes or than its IHL.
    Truncated,
    /// Version is not 4.
    Version,
    /// IHL below 5.
    HeaderLength,
    /// Total length below IHL or beyond the frame.
    TotalLength,
    /// Header checksum does not verify.
    Checksum,
}

impl From<Ipv4Error> for WireError {
    fn from(e: Ipv4Error) -> Self {
        match e {
            Ipv4Error::Truncated => WireError::Truncated,
            Ipv4Error::Checksum => WireError::Checksum,
            _ => WireError::Malformed,
        }
    }
}
