//! ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair the appliance speaks.

use super::WireError;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// ARP request opcode.
pub const OP_REQUEST: u16 = 1;
/// ARP reply opcode.
pub const OP_REPLY: u16 = 2;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A view of an ARP packet (the bytes after the Ethernet header).
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf`, checking length and that it is Ethernet (1) / IPv4 (0x0800) with 6/4 lengths.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::HTYPE] != [0, 1]
            || b[field::PTYPE] != [8, 0]
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(Self { buf })
    }
    /// Operation (1 request, 2 reply).
    pub fn oper(&self) -> u16 {
        let b = &self.buf.as_ref()[field::OPER];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Sender hardware address.
    pub fn sha(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::SHA]);
        m
    }
    /// Sender protocol address.
    pub fn spa(&self) -> u32 {
        be32(&self.buf.as_ref()[field::SPA])
    }
    /// Target protocol address.
    pub fn tpa(&self) -> u32 {
        be32(&self.buf.as_ref()[field::TPA])
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Writes a complete Ethernet/IPv4 ARP packet into `buf[..28]`.
pub fn write(buf: &mut [u8], oper: u16, sha: [u8; 6], spa: u32, tha: [u8; 6], tpa: u32) {
    buf[field::HTYPE].copy_from_slice(&[0, 1]);
    buf[field::PTYPE].copy_from_slice(&[8, 0]);
    buf[field::HLEN] = 6;
    buf[field::PLEN] = 4;
    buf[field::OPER].copy_from_slice(&oper.to_be_bytes());
    buf[field::SHA].copy_from_slice(&sha);
    buf[field::SPA].copy_from_slice(&spa.to_be_bytes());
    buf[field::THA].copy_from_slice(&tha);
    buf[field::TPA].copy_from_slice(&tpa.to_be_bytes());
}
