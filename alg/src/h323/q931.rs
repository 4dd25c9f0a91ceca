//! Q.931 as H.225.0 uses it: the message header and its information elements, only to find
//! the User-user information element that carries the H323-UserInformation.
//!
//! ```text
//! octet 1      protocol discriminator (0x08, Q.931)
//! octet 2      0000 | length of call reference value (H.225.0: 2)
//! octets 3..   call reference value
//! next octet   message type (Setup 0x05, Connect 0x07, Facility 0x62, ...)
//! then         information elements: single-octet (bit 8 set), or identifier, length, contents
//! ```
//!
//! H.225.0 §7.2.2.1: the User-user IE (identifier 0x7E) has a *two-octet* length, and its
//! first content octet is the protocol discriminator 0x05 ("X.208 and X.209 coded user
//! information"); the PER encoding follows. Walking the IEs is bounded by the message length
//! and [`MAX_IES`].

use super::H323Error;

/// Q.931 protocol discriminator.
pub const Q931_DISCRIMINATOR: u8 = 0x08;
/// User-user information element identifier.
pub const IE_USER_USER: u8 = 0x7e;
/// User-user protocol discriminator for X.208/X.209 coded user information (H.225.0).
pub const UUIE_DISCRIMINATOR: u8 = 0x05;
/// Most information elements examined before the User-user IE.
pub const MAX_IES: usize = 32;

/// A Q.931 message header and where its H.225.0 encoding lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Q931 {
    /// The message type octet.
    pub message_type: u8,
    /// Offset of the H323-UserInformation PER encoding in the parsed buffer.
    pub h225_start: usize,
    /// One past its end.
    pub h225_end: usize,
}

/// Finds the User-user IE of the Q.931 message in `msg` (one TPKT payload).
pub fn parse(msg: &[u8]) -> Result<Q931, H323Error> {
    let bad = H323Error::Q931Bad;
    if msg.first() != Some(&Q931_DISCRIMINATOR) {
        return Err(bad);
    }
    let crv_len = usize::from(*msg.get(1).ok_or(bad)? & 0x0f);
    if crv_len > 2 {
        return Err(bad);
    }
    let mut i = 2 + crv_len;
    let message_type = *msg.get(i).ok_or(bad)?;
    i += 1;
    for _ in 0..MAX_IES {
        let id = *msg.get(i).ok_or(bad)?;
        if id & 0x80 != 0 {
            i += 1;
            continue;
        }
        if id == IE_USER_USER {
            let hi = *msg.get(i + 1).ok_or(bad)?;
            let lo = *msg.get(i + 2).ok_or(bad)?;
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let start = i + 3;
            let end = start + len;
            if len < 2 || end > msg.len() || msg[start] != UUIE_DISCRIMINATOR {
                return Err(bad);
            }
            return Ok(Q931 {
                message_type,
                h225_start: start + 1,
                h225_end: end,
            });
        }
        let len = usize::from(*msg.get(i + 1).ok_or(bad)?);
        i += 2 + len;
    }
    Err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_user_user_ie_after_other_ies() {
        // Setup, CRV 2 bytes, Bearer capability (0x04, 3 bytes), a single-octet IE (0xa1),
        // Display (0x28, 2 bytes), User-user.
        let m = [
            0x08, 0x02, 0x00, 0x01, 0x05, 0x04, 0x03, 0x88, 0x93, 0xa5, 0xa1, 0x28, 0x02, b'h',
            b'i', 0x7e, 0x00, 0x03, 0x05, 0xaa, 0xbb,
        ];
        let q = parse(&m).unwrap();
        assert_eq!(q.message_type, 0x05);
        assert_eq!((q.h225_start, q.h225_end), (19, 21));
    }

    #[test]
    fn refuses_bad_headers_and_lengths() {
        for m in [
            &[0x09, 0x02, 0, 1, 5][..],                        // not Q.931
            &[0x08, 0x03, 0, 0, 1, 5],                         // CRV too long
            &[0x08, 0x02, 0, 1],                               // no message type
            &[0x08, 0x02, 0, 1, 5, 0x04, 0x09, 1],             // IE past the end, no UUIE
            &[0x08, 0x02, 0, 1, 5, 0x7e, 0x00, 0x09, 0x05, 1], // UUIE past the end
            &[0x08, 0x02, 0, 1, 5, 0x7e, 0x00, 0x02, 0x04, 1], // not X.208 coded
            &[0x08, 0x02, 0, 1, 5, 0x7e, 0x00],                // truncated UUIE length
        ] {
            assert_eq!(parse(m), Err(H323Error::Q931Bad), "{m:02x?}");
        }
        // More single-octet IEs than MAX_IES.
        let mut m = vec![0x08, 0x02, 0, 1, 5];
        m.extend([0xa1; MAX_IES]);
        m.extend([0x7e, 0x00, 0x02, 0x05, 0x00]);
        assert_eq!(parse(&m), Err(H323Error::Q931Bad));
    }
}
