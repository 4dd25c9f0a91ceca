//! The enhanced GRE header that carries PPTP's PPP frames (RFC 2637 §4.1), as a view over a
//! buffer in the smoltcp wire style: [`GreV1Packet::new_checked`], field accessors, and
//! [`GreV1Packet::set_call_id`] for the dataplane's Call ID translation.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Key (HW) Payload Length    |       Key (LW) Call ID        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Sequence Number (Optional)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Acknowledgment Number (Optional)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 2637 §4.1: C "(Bit 0) Checksum Present. Set to zero (0)." R "(Bit 1) Routing Present.
//! Set to zero (0)." K "(Bit 2) Key Present. Set to one (1)." S "(Bit 3) Sequence Number
//! Present. Set to one (1) if a payload (data) packet is present." s "(Bit 4) Strict source
//! route present. Set to zero (0)." Recur "(Bits 5-7) Recursion Control. Set to zero (0)."
//! A "(Bit 8) Acknowledgment sequence number present." Flags "(Bits 9-12) Must be set to
//! zero (0)." Ver "(Bits 13-15) Must contain 1 (enhanced GRE)." Protocol Type "Set to hex
//! 880B". "Call ID: Contains the Peer's Call ID for the session to which this packet
//! belongs."
//!
//! So a packet from the PNS carries the PAC's Call ID, and a packet from the PAC carries the
//! PNS's Call ID as the PAC knows it: the public Call ID, which the dataplane translates back
//! to the inside one with [`GreV1Packet::set_call_id`]. GRE v1 has no checksum, so nothing else
//! changes in the GRE header.

/// GRE Protocol Type of PPP (RFC 2637 §4.1: "Set to hex 880B").
pub const PROTOCOL_PPP: u16 = 0x880B;
/// GRE version of enhanced GRE.
pub const VERSION_ENHANCED: u8 = 1;
/// Length of the header without sequence and acknowledgment numbers.
pub const BASE_LEN: usize = 8;

const FLAG_C: u8 = 0x80;
const FLAG_R: u8 = 0x40;
const FLAG_K: u8 = 0x20;
const FLAG_S: u8 = 0x10;
const FLAG_STRICT: u8 = 0x08;
const RECUR_MASK: u8 = 0x07;
const FLAG_A: u8 = 0x80;
const FLAGS_MASK: u8 = 0x78;
const VERSION_MASK: u8 = 0x07;

reasons! {
    /// Why a GRE packet is not a PPTP (enhanced GRE) packet. One counter each.
    pub enum GreError : "alg_pptp_gre_" {
        /// Shorter than its header (with the sequence and acknowledgment numbers its flags
        /// announce) plus the payload length it announces.
        Truncated => "truncated",
        /// Version other than 1 (version 0 is plain GRE, RFC 2784).
        BadVersion => "bad_version",
        /// Protocol Type other than 0x880B (PPP).
        BadProtocol => "bad_protocol",
        /// Key bit clear, or a bit RFC 2637 requires to be zero set (C, R, s, Recur, Flags).
        BadFlags => "bad_flags",
    }
}

/// A checked view of an enhanced GRE header at the start of `buffer` (the IP payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreV1Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GreV1Packet<T> {
    /// Wraps a buffer without checking it (accessors may then panic on a short buffer; use
    /// [`Self::new_checked`] on packets from the wire).
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`Self::check`].
    pub fn new_checked(buffer: T) -> Result<Self, GreError> {
        let p = Self::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    /// Checks the version, the protocol, the flags RFC 2637 fixes, and that the buffer holds
    /// the header and the announced payload.
    pub fn check(&self) -> Result<(), GreError> {
        let b = self.buffer.as_ref();
        if b.len() < BASE_LEN {
            return Err(GreError::Truncated);
        }
        if b[1] & VERSION_MASK != VERSION_ENHANCED {
            return Err(GreError::BadVersion);
        }
        if u16::from_be_bytes([b[2], b[3]]) != PROTOCOL_PPP {
            return Err(GreError::BadProtocol);
        }
        if b[0] & (FLAG_C | FLAG_R | FLAG_STRICT | RECUR_MASK) != 0
            || b[0] & FLAG_K == 0
            || b[1] & FLAGS_MASK != 0
        {
            return Err(GreError::BadFlags);
        }
        let need = self.header_len() + usize::from(self.payload_length());
        if b.len() < need {
            return Err(GreError::Truncated);
        }
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Whether the Sequence Number is present (S bit).
    pub fn has_seq(&self) -> bool {
        self.bytes()[0] & FLAG_S != 0
    }

    /// Whether the Acknowledgment Number is present (A bit).
    pub fn has_ack(&self) -> bool {
        self.bytes()[1] & FLAG_A != 0
    }

    /// The version (1 for PPTP).
    pub fn version(&self) -> u8 {
        self.bytes()[1] & VERSION_MASK
    }

    /// The Protocol Type (0x880B for PPTP).
    pub fn protocol_type(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[2], self.bytes()[3]])
    }

    /// The Payload Length (key high word): bytes of PPP payload after the header.
    pub fn payload_length(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[4], self.bytes()[5]])
    }

    /// The Call ID (key low word): the receiver's Call ID of the call.
    pub fn call_id(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[6], self.bytes()[7]])
    }

    /// Header length: 8, plus 4 with a sequence number, plus 4 with an acknowledgment number.
    pub fn header_len(&self) -> usize {
        BASE_LEN + 4 * usize::from(self.has_seq()) + 4 * usize::from(self.has_ack())
    }

    /// The Sequence Number, if present.
    pub fn seq(&self) -> Option<u32> {
        self.has_seq().then(|| self.word(BASE_LEN))
    }

    /// The Acknowledgment Number, if present (after the sequence number when both are).
    pub fn ack(&self) -> Option<u32> {
        let at = BASE_LEN + 4 * usize::from(self.has_seq());
        self.has_ack().then(|| self.word(at))
    }

    fn word(&self, at: usize) -> u32 {
        let b = &self.bytes()[at..at + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The PPP payload.
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len();
        &self.bytes()[start..start + usize::from(self.payload_length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GreV1Packet<T> {
    /// Rewrites the Call ID (the only field NAT changes; GRE v1 carries no checksum).
    pub fn set_call_id(&mut self, call_id: u16) {
        self.buffer.as_mut()[6..8].copy_from_slice(&call_id.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data packet from a PAC: S and A set, Call ID 0x4000, seq 7, ack 5, 3 payload bytes.
    const DATA: [u8; 19] = [
        0x30, 0x81, 0x88, 0x0b, 0x00, 0x03, 0x40, 0x00, 0, 0, 0, 7, 0, 0, 0, 5, 0xff, 0x03, 0xc0,
    ];

    #[test]
    fn data_packet_with_seq_and_ack() {
        let p = GreV1Packet::new_checked(&DATA[..]).unwrap();
        assert!(p.has_seq() && p.has_ack());
        assert_eq!(p.version(), 1);
        assert_eq!(p.protocol_type(), PROTOCOL_PPP);
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.payload_length(), 3);
        assert_eq!(p.call_id(), 0x4000);
        assert_eq!((p.seq(), p.ack()), (Some(7), Some(5)));
        assert_eq!(p.payload(), &[0xff, 0x03, 0xc0]);
    }

    #[test]
    fn ack_only_and_seq_only_packets() {
        // Ack only: K and A, no payload.
        let ack = [0x20, 0x81, 0x88, 0x0b, 0, 0, 0x12, 0x34, 0, 0, 1, 0];
        let p = GreV1Packet::new_checked(&ack[..]).unwrap();
        assert_eq!((p.seq(), p.ack(), p.header_len()), (None, Some(256), 12));
        assert!(p.payload().is_empty());
        // Seq only, no ack: the payload follows right after the sequence number.
        let seq = [0x30, 0x01, 0x88, 0x0b, 0, 1, 0, 9, 0, 0, 0, 1, 0xaa];
        let p = GreV1Packet::new_checked(&seq[..]).unwrap();
        assert_eq!((p.seq(), p.ack(), p.header_len()), (Some(1), None, 12));
        assert_eq!((p.call_id(), p.payload()), (9, &[0xaa][..]));
        // Bare: neither.
        let bare = [0x20, 0x01, 0x88, 0x0b, 0, 0, 0, 9];
        assert_eq!(GreV1Packet::new_checked(&bare[..]).unwrap().header_len(), 8);
    }

    #[test]
    fn set_call_id_changes_only_the_call_id() {
        let mut b = DATA;
        let mut p = GreV1Packet::new_checked(&mut b[..]).unwrap();
        p.set_call_id(0x0102);
        assert_eq!(p.call_id(), 0x0102);
        let mut want = DATA;
        want[6..8].copy_from_slice(&[1, 2]);
        assert_eq!(b, want);
    }

    #[test]
    fn refuses_what_is_not_enhanced_gre() {
        let check = |b: &[u8]| GreV1Packet::new_checked(b).map(|_| ());
        let mut v0 = DATA;
        v0[1] = 0x80;
        assert_eq!(check(&v0), Err(GreError::BadVersion));
        let mut ip = DATA;
        ip[2..4].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(check(&ip), Err(GreError::BadProtocol));
        for (i, bit) in [(0, 0x80), (0, 0x40), (0, 0x08), (0, 0x01), (1, 0x08)] {
            let mut f = DATA;
            f[i] |= bit;
            assert_eq!(check(&f), Err(GreError::BadFlags), "byte {i} bit {bit:#x}");
        }
        let mut nokey = DATA;
        nokey[0] &= !0x20;
        assert_eq!(check(&nokey), Err(GreError::BadFlags));
        assert_eq!(check(&DATA[..7]), Err(GreError::Truncated));
        // Header with seq and ack is 16 bytes: 15 is too short even before the payload.
        assert_eq!(check(&DATA[..15]), Err(GreError::Truncated));
        // Payload length 3 announced, 2 present.
        assert_eq!(check(&DATA[..18]), Err(GreError::Truncated));
        let mut huge = DATA;
        huge[4] = 0xff;
        assert_eq!(check(&huge), Err(GreError::Truncated));
    }
}
