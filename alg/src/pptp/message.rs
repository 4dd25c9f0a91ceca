//! PPTP control message formats (RFC 2637 §2): the common header, the fixed length of each
//! Control Message Type, who may send it, and where its Call ID fields lie.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Length            |     PPTP Message Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Control Message Type      |           Reserved0           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 2637 §1.4: "Length: Total length in octets of this PPTP message, including the entire
//! PPTP header." "PPTP Message Type: 1 Control Message, 2 Management Message." "Magic
//! Cookie: 0x1A2B3C4D." Every control message has a fixed length (§2.1 to §2.16), checked
//! exactly here: a message whose Length differs is not interpreted.

use super::PptpError;

/// The Magic Cookie (RFC 2637 §1.4): "the constant value, 0x1A2B3C4D".
pub const MAGIC_COOKIE: u32 = 0x1A2B_3C4D;
/// PPTP Message Type of a control message.
pub const CONTROL_MESSAGE: u16 = 1;
/// Length of the common header.
pub const HEADER_LEN: usize = 12;
/// Bytes of a message the ALG reads: the header, the two Call ID fields and a result code
/// (offset 16 in Outgoing-Call-Reply). A message is processed once these are in one segment.
pub const NEEDED_PREFIX: usize = 17;
/// Offset of the first Call ID field (Call ID or Peer's Call ID) in every call message.
pub const CALL_ID_AT: usize = 12;
/// Offset of the Peer's Call ID in Outgoing-Call-Reply and Incoming-Call-Reply.
pub const PEER_CALL_ID_AT: usize = 14;
/// Offset of the Result Code in Start-Control-Connection-Reply.
pub const SCCRP_RESULT_AT: usize = 14;
/// Offset of the Result Code in Outgoing-Call-Reply and Incoming-Call-Reply.
pub const CALL_RESULT_AT: usize = 16;

/// Who sends a message: the PNS (PPTP Network Server, the VPN client behind the NAT) or the
/// PAC (PPTP Access Concentrator, the VPN server outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PptpSender {
    /// The PPTP Network Server: the inside host (sends Outgoing-Call-Request).
    Pns,
    /// The PPTP Access Concentrator: the outside server (answers with Outgoing-Call-Reply).
    Pac,
}

/// Control Message Types (RFC 2637 §1.4 "Control Message Type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// 1 Start-Control-Connection-Request (§2.1).
    StartControlConnectionRequest,
    /// 2 Start-Control-Connection-Reply (§2.2).
    StartControlConnectionReply,
    /// 3 Stop-Control-Connection-Request (§2.3).
    StopControlConnectionRequest,
    /// 4 Stop-Control-Connection-Reply (§2.4).
    StopControlConnectionReply,
    /// 5 Echo-Request (§2.5).
    EchoRequest,
    /// 6 Echo-Reply (§2.6).
    EchoReply,
    /// 7 Outgoing-Call-Request (§2.7), PNS → PAC.
    OutgoingCallRequest,
    /// 8 Outgoing-Call-Reply (§2.8), PAC → PNS.
    OutgoingCallReply,
    /// 9 Incoming-Call-Request (§2.9), PAC → PNS.
    IncomingCallRequest,
    /// 10 Incoming-Call-Reply (§2.10), PNS → PAC.
    IncomingCallReply,
    /// 11 Incoming-Call-Connected (§2.11), PAC → PNS.
    IncomingCallConnected,
    /// 12 Call-Clear-Request (§2.12), PNS → PAC.
    CallClearRequest,
    /// 13 Call-Disconnect-Notify (§2.13), PAC → PNS.
    CallDisconnectNotify,
    /// 14 WAN-Error-Notify (§2.14), PAC → PNS.
    WanErrorNotify,
    /// 15 Set-Link-Info (§2.15), PNS → PAC (some PACs send it too; accepted both ways).
    SetLinkInfo,
}

/// (type, value, fixed Length, sender: None for either).
const TYPES: [(ControlType, u16, u16, Option<PptpSender>); 15] = {
    use ControlType::*;
    use PptpSender::*;
    [
        (StartControlConnectionRequest, 1, 156, None),
        (StartControlConnectionReply, 2, 156, None),
        (StopControlConnectionRequest, 3, 16, None),
        (StopControlConnectionReply, 4, 16, None),
        (EchoRequest, 5, 16, None),
        (EchoReply, 6, 20, None),
        (OutgoingCallRequest, 7, 168, Some(Pns)),
        (OutgoingCallReply, 8, 32, Some(Pac)),
        (IncomingCallRequest, 9, 220, Some(Pac)),
        (IncomingCallReply, 10, 24, Some(Pns)),
        (IncomingCallConnected, 11, 28, Some(Pac)),
        (CallClearRequest, 12, 16, Some(Pns)),
        (CallDisconnectNotify, 13, 148, Some(Pac)),
        (WanErrorNotify, 14, 40, Some(Pac)),
        (SetLinkInfo, 15, 24, None),
    ]
};

impl ControlType {
    /// The type of a Control Message Type value.
    pub fn from_value(v: u16) -> Option<Self> {
        TYPES.iter().find(|t| t.1 == v).map(|t| t.0)
    }
    fn entry(self) -> (ControlType, u16, u16, Option<PptpSender>) {
        // Every variant is in TYPES; the fallback is never taken.
        TYPES
            .iter()
            .copied()
            .find(|t| t.0 == self)
            .unwrap_or((self, 0, 0, None))
    }
    /// The Control Message Type value.
    pub fn value(self) -> u16 {
        self.entry().1
    }
    /// The fixed Length of the message, header included.
    pub fn length(self) -> usize {
        usize::from(self.entry().2)
    }
    /// Who may send it (`None`: either end).
    pub fn sender(self) -> Option<PptpSender> {
        self.entry().3
    }
}

/// The header of one control message, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The Length field: bytes of the whole message.
    pub length: u16,
    /// Control Message Type.
    pub kind: ControlType,
}

/// Longest message the framing accepts: the longest control message (Incoming-Call-Request).
pub const MAX_MESSAGE: usize = 220;

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads the Length field of the message at the start of `b`: where the next one starts.
/// `None` if the field itself is cut; `Err(Truncated)` if the Length is shorter than the
/// header, `Err(BadLength)` if longer than [`MAX_MESSAGE`]: the framing cannot be trusted any
/// more.
pub fn frame_length(b: &[u8]) -> Option<Result<usize, PptpError>> {
    let len = usize::from(be16(b, 0)?);
    if len < HEADER_LEN {
        return Some(Err(PptpError::Truncated));
    }
    if len > MAX_MESSAGE {
        return Some(Err(PptpError::BadLength));
    }
    Some(Ok(len))
}

/// Checks the header of a message whose first [`HEADER_LEN`] bytes are in `b`. The Length
/// was already checked by [`frame_length`].
pub fn header(b: &[u8]) -> Result<Header, PptpError> {
    let length = be16(b, 0).ok_or(PptpError::SplitMessage)?;
    let message_type = be16(b, 2).ok_or(PptpError::SplitMessage)?;
    let cookie = be32(b, 4).ok_or(PptpError::SplitMessage)?;
    let control = be16(b, 8).ok_or(PptpError::SplitMessage)?;
    if cookie != MAGIC_COOKIE {
        return Err(PptpError::BadMagic);
    }
    if message_type != CONTROL_MESSAGE {
        return Err(PptpError::NotControl);
    }
    let kind = ControlType::from_value(control).ok_or(PptpError::UnknownType)?;
    if usize::from(length) != kind.length() {
        return Err(PptpError::BadLength);
    }
    Ok(Header { length, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_rfc_length() {
        let want = [
            156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16, 148, 40, 24,
        ];
        for (v, len) in (1u16..=15).zip(want) {
            let t = ControlType::from_value(v).unwrap();
            assert_eq!(t.value(), v);
            assert_eq!(t.length(), len, "type {v}");
            assert!(t.length() <= MAX_MESSAGE);
        }
        assert_eq!(ControlType::from_value(0), None);
        assert_eq!(ControlType::from_value(16), None);
    }

    #[test]
    fn header_checks() {
        let mut m = [0u8; 16];
        m[..12].copy_from_slice(&[0, 16, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 12, 0, 0]);
        assert_eq!(
            header(&m),
            Ok(Header {
                length: 16,
                kind: ControlType::CallClearRequest
            })
        );
        let mut bad = m;
        bad[7] = 0x4e;
        assert_eq!(header(&bad), Err(PptpError::BadMagic));
        let mut bad = m;
        bad[3] = 2;
        assert_eq!(header(&bad), Err(PptpError::NotControl));
        let mut bad = m;
        bad[9] = 16;
        assert_eq!(header(&bad), Err(PptpError::UnknownType));
        let mut bad = m;
        bad[1] = 20;
        assert_eq!(header(&bad), Err(PptpError::BadLength));
        assert_eq!(frame_length(&[0, 11]), Some(Err(PptpError::Truncated)));
        assert_eq!(frame_length(&[0, 221]), Some(Err(PptpError::BadLength)));
        assert_eq!(frame_length(&[0]), None);
        assert_eq!(frame_length(&[0, 220]), Some(Ok(220)));
    }
}
