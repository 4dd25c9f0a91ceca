//! TCP (RFC 9293) and UDP (RFC 768) header fields the translator touches: ports and checksum.
//!
//! Only the fixed part of the header is read; options and payload are never parsed here.

use super::ipv4::{PROTO_TCP, PROTO_UDP};
use super::WireError;

/// UDP header length.
pub const UDP_HEADER_LEN: usize = 8;
/// Minimum TCP header length.
pub const TCP_MIN_HEADER_LEN: usize = 20;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const UDP_LEN: usize = 4;
    pub const UDP_CHECKSUM: usize = 6;
    pub const TCP_DATA_OFF: usize = 12;
    pub const TCP_FLAGS: usize = 13;
    pub const TCP_CHECKSUM: usize = 16;
}

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A TCP or UDP header at the start of an IP payload.
#[derive(Debug)]
pub struct Segment<T: AsRef<[u8]>> {
    buf: T,
    protocol: u8,
}

impl<T: AsRef<[u8]>> Segment<T> {
    /// Validates that `buf` holds a full UDP header (with a sane length field) or TCP header
    /// (data offset >= 5 and within the payload).
    pub fn new_checked(buf: T, protocol: u8) -> Result<Self, WireError> {
        Self::check(buf, protocol, false)
    }

    /// As [`new_checked`](Self::new_checked) for the first fragment of a fragmented datagram:
    /// the UDP length field describes the whole datagram, so it is not compared with `buf`.
    pub fn new_checked_first_fragment(buf: T, protocol: u8) -> Result<Self, WireError> {
        Self::check(buf, protocol, true)
    }

    fn check(buf: T, protocol: u8, fragment: bool) -> Result<Self, WireError> {
        let b = buf.as_ref();
        match protocol {
            PROTO_UDP => {
                if b.len() < UDP_HEADER_LEN {
                    return Err(WireError::Truncated);
                }
                let len = usize::from(u16::from_be_bytes([
                    b[field::UDP_LEN],
                    b[field::UDP_LEN + 1],
                ]));
                if len < UDP_HEADER_LEN || (len > b.len() && !fragment) {
                    return Err(WireError::Malformed);
                }
            }
            PROTO_TCP => {
                if b.len() < TCP_MIN_HEADER_LEN {
                    return Err(WireError::Truncated);
                }
                let off = usize::from(b[field::TCP_DATA_OFF] >> 4) * 4;
                if off < TCP_MIN_HEADER_LEN || off > b.len() {
                    return Err(WireError::Malformed);
                }
            }
            _ => return Err(WireError::Malformed),
        }
        Ok(Self { buf, protocol })
    }

    fn get16(&self, at: usize) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.get16(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.get16(field::DST_PORT)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.get16(self.checksum_at())
    }
    /// TCP flags (0 for UDP).
    pub fn tcp_flags(&self) -> u8 {
        if self.protocol == PROTO_TCP {
            self.buf.as_ref()[field::TCP_FLAGS]
        } else {
            0
        }
    }
    /// Whether this is UDP.
    pub fn is_udp(&self) -> bool {
        self.protocol == PROTO_UDP
    }
    fn checksum_at(&self) -> usize {
        if self.protocol == PROTO_UDP {
            field::UDP_CHECKSUM
        } else {
            field::TCP_CHECKSUM
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Segment<T> {
    fn put16(&mut self, at: usize, v: u16) {
        self.buf.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the source port (checksum not touched; see [`Segment::set_checksum`]).
    pub fn set_src_port(&mut self, p: u16) {
        self.put16(field::SRC_PORT, p);
    }
    /// Sets the destination port (checksum not touched).
    pub fn set_dst_port(&mut self, p: u16) {
        self.put16(field::DST_PORT, p);
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        let at = self.checksum_at();
        self.put16(at, c);
    }
}
