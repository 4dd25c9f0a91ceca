//! ICMPv4 (RFC 792) header: type, code, checksum, and the echo identifier/sequence that
//! RFC 5508 REQ-1 treats as the "port" of a query.

use super::WireError;

/// ICMP header length (type, code, checksum, rest-of-header).
pub const HEADER_LEN: usize = 8;
/// Echo reply.
pub const ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const DEST_UNREACHABLE: u8 = 3;
/// Echo request.
pub const ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TIME_EXCEEDED: u8 = 11;

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const IDENT: usize = 4;
}

/// A view of an ICMP message.
#[derive(Debug)]
pub struct Message<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Wraps `buf` after checking it holds the 8-byte header.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Self { buf })
    }
    /// Type.
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[field::TYPE]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::CODE]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[field::CHECKSUM], b[field::CHECKSUM + 1]])
    }
    /// Echo identifier.
    pub fn ident(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[field::IDENT], b[field::IDENT + 1]])
    }
    /// Whether the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        crate::checksum::sum(self.buf.as_ref(), 0) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    /// Sets the echo identifier, updating the checksum incrementally.
    pub fn set_ident(&mut self, id: u16) {
        let old = self.ident();
        let c = crate::checksum::update16(self.checksum(), old, id);
        let b = self.buf.as_mut();
        b[field::IDENT..field::IDENT + 2].copy_from_slice(&id.to_be_bytes());
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
    /// Sets the type, updating the checksum incrementally (type and code share a word).
    pub fn set_type(&mut self, t: u8) {
        let b = self.buf.as_mut();
        let old = u16::from_be_bytes([b[field::TYPE], b[field::CODE]]);
        b[field::TYPE] = t;
        let new = u16::from_be_bytes([b[field::TYPE], b[field::CODE]]);
        let c = crate::checksum::update16(
            u16::from_be_bytes([b[field::CHECKSUM], b[field::CHECKSUM + 1]]),
            old,
            new,
        );
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
}
