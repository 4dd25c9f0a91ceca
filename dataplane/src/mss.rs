//! TCP MSS clamping: lowering the Maximum Segment Size a SYN announces, so that neither end
//! sends segments too large for a path whose MTU is below what the hosts assume (tunnels,
//! PPPoE) — the usual remedy when ICMP "fragmentation needed" is filtered somewhere.
//!
//! RFC 793 §3.1 (MSS option, kind 2, length 4): "If this option is present, then it
//! communicates the maximum receive segment size at the TCP which sends this segment. This field
//! must only be sent in the initial connection request (i.e., in segments with the SYN control
//! bit set)." Deciding which segments to clamp (SYN, SYN-ACK, one direction or both) is the
//! caller's business; [`clamp_mss`] only rewrites.
//!
//! The options are walked within the data offset: EOL (0) ends the list, NOP (1) is one byte,
//! every other option has a length byte that must be >= 2 and fit — a malformed list ends the
//! walk without a change to what follows. Only a well-formed MSS option (length 4) above the
//! limit is rewritten; several MSS options (malformed, but seen) are each clamped. A SYN without
//! an MSS option implies 536 (RFC 9293 §3.7.1), below any sensible clamp, so no option is ever
//! added (that would change the segment length).
//!
//! The TCP checksum is updated incrementally (RFC 1624). The MSS value may sit at an odd offset
//! (options need not be aligned); the ones-complement sum is byte-order independent (RFC 1071
//! §2(B)), so a 16-bit value at an odd offset contributes its byte-swapped value, and the update
//! uses the swapped old and new values.
//!
//! No allocation, no panics on any input.

use crate::checksum;

mod field {
    pub const DATA_OFF: usize = 12;
    pub const CHECKSUM: usize = 16;
    pub const OPTIONS: usize = 20;
}

/// TCP option kinds used here.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No-operation.
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
}

/// Length of the MSS option.
const MSS_LEN: usize = 4;

/// Clamps the MSS option(s) of the TCP header at the start of `tcp` to `max_mss`, updating the
/// TCP checksum incrementally. Returns whether anything changed. A header whose data offset is
/// below 5 or beyond `tcp` is left alone.
pub fn clamp_mss(tcp: &mut [u8], max_mss: u16) -> bool {
    let Some(&off) = tcp.get(field::DATA_OFF) else {
        return false;
    };
    let end = usize::from(off >> 4) * 4;
    if end < field::OPTIONS || end > tcp.len() {
        return false;
    }
    let mut changed = false;
    let mut i = field::OPTIONS;
    while i < end {
        let Some(&k) = tcp.get(i) else { break };
        match k {
            kind::EOL => break,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = match tcp.get(i + 1) {
            Some(&l) if usize::from(l) >= 2 && i + usize::from(l) <= end => usize::from(l),
            _ => break,
        };
        if k == kind::MSS && len == MSS_LEN {
            let at = i + 2;
            if let Some(old) = read16(tcp, at) {
                if old > max_mss && write16(tcp, at, max_mss) {
                    fix_checksum(tcp, at, old, max_mss);
                    changed = true;
                }
            }
        }
        i += len;
    }
    changed
}

/// The MSS announced by the TCP header `tcp`, if it carries a well-formed MSS option.
pub fn mss_of(tcp: &[u8]) -> Option<u16> {
    let end = usize::from(tcp.get(field::DATA_OFF)? >> 4) * 4;
    if end < field::OPTIONS || end > tcp.len() {
        return None;
    }
    let mut i = field::OPTIONS;
    while i < end {
        let k = *tcp.get(i)?;
        match k {
            kind::EOL => return None,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*tcp.get(i + 1)?);
        if len < 2 || i + len > end {
            return None;
        }
        if k == kind::MSS && len == MSS_LEN {
            return read16(tcp, i + 2);
        }
        i += len;
    }
    None
}

fn read16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn write16(b: &mut [u8], at: usize, v: u16) -> bool {
    match b.get_mut(at..at + 2) {
        Some(s) => {
            s.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Folds the change of the 16-bit value at `at` (from `old` to `new`) into the TCP checksum.
fn fix_checksum(tcp: &mut [u8], at: usize, old: u16, new: u16) {
    let Some(c) = read16(tcp, field::CHECKSUM) else {
        return;
    };
    let c = if at & 1 == 0 {
        checksum::update16(c, old, new)
    } else {
        checksum::update16(c, old.swap_bytes(), new.swap_bytes())
    };
    write16(tcp, field::CHECKSUM, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};
    use proptest::prelude::*;

    const SRC: [u8; 4] = [100, 64, 0, 2];
    const DST: [u8; 4] = [198, 51, 100, 2];

    /// An IPv4 SYN with the given options and payload; returns the datagram and the TCP offset.
    fn syn(options: &[TcpOptionElement], payload: &[u8]) -> (Vec<u8>, usize) {
        let b = PacketBuilder::ipv4(SRC, DST, 64)
            .tcp(40000, 443, 12345, 64240)
            .syn()
            .options(options)
            .unwrap();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        (v, 20)
    }

    fn syn_raw(options: &[u8], payload: &[u8]) -> (Vec<u8>, usize) {
        let b = PacketBuilder::ipv4(SRC, DST, 64)
            .tcp(40000, 443, 12345, 64240)
            .syn()
            .options_raw(options)
            .unwrap();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        (v, 20)
    }

    fn assert_tcp_checksum_ok(ip: &[u8]) {
        let p = SlicedPacket::from_ip(ip).unwrap();
        let Some(etherparse::NetSlice::Ipv4(v4)) = &p.net else {
            panic!("not ipv4")
        };
        let h = v4.header().to_header();
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!("not tcp")
        };
        let th = t.to_header();
        assert_eq!(
            th.checksum,
            th.calc_checksum_ipv4(&h, t.payload()).unwrap(),
            "TCP checksum"
        );
    }

    fn full_options() -> Vec<TcpOptionElement> {
        vec![
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(0x1122_3344, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ]
    }

    #[test]
    fn clamps_linux_style_syn() {
        let (mut v, at) = syn(&full_options(), &[]);
        assert_eq!(mss_of(&v[at..]), Some(1460));
        assert!(clamp_mss(&mut v[at..], 1400));
        assert_eq!(mss_of(&v[at..]), Some(1400));
        assert_tcp_checksum_ok(&v);
        // Exactly what etherparse builds with MSS 1400 from the start.
        let mut opts = full_options();
        opts[0] = TcpOptionElement::MaximumSegmentSize(1400);
        assert_eq!(v, syn(&opts, &[]).0);
    }

    #[test]
    fn below_or_equal_limit_is_untouched() {
        for limit in [1460, 1500, u16::MAX] {
            let (mut v, at) = syn(&full_options(), &[]);
            let before = v.clone();
            assert!(!clamp_mss(&mut v[at..], limit));
            assert_eq!(v, before);
        }
    }

    #[test]
    fn no_mss_option_nothing_added() {
        let (mut v, at) = syn(
            &[
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ],
            &[],
        );
        let before = v.clone();
        assert!(!clamp_mss(&mut v[at..], 1200));
        assert_eq!(v, before);
        let (mut v, at) = syn(&[], b"data");
        assert!(!clamp_mss(&mut v[at..], 1200));
    }

    #[test]
    fn odd_offset_mss_and_payload() {
        // NOP, MSS (value at an odd offset of the header), NOP, NOP, NOP, then EOL padding.
        let opts = [1, 2, 4, 0x05, 0xb4, 1, 1, 1];
        let (mut v, at) = syn_raw(&opts, b"syn with data");
        assert_eq!(mss_of(&v[at..]), Some(1460));
        assert!(clamp_mss(&mut v[at..], 1380));
        assert_eq!(mss_of(&v[at..]), Some(1380));
        assert_tcp_checksum_ok(&v);
        assert_eq!(
            v,
            syn_raw(&[1, 2, 4, 0x05, 0x64, 1, 1, 1], b"syn with data").0
        );
    }

    #[test]
    fn options_after_eol_are_ignored() {
        let opts = [0, 0, 0, 0, 2, 4, 0x05, 0xb4];
        let (mut v, at) = syn_raw(&opts, &[]);
        assert!(!clamp_mss(&mut v[at..], 1000));
        assert_eq!(mss_of(&v[at..]), None);
    }

    #[test]
    fn malformed_lengths_stop_the_walk() {
        for opts in [
            [2u8, 0, 0x05, 0xb4], // length 0
            [2, 1, 0x05, 0xb4],   // length 1
            [2, 5, 0x05, 0xb4],   // runs past the data offset
            [8, 200, 2, 4],       // huge length
            [2, 3, 0x05, 0xb4],   // MSS of the wrong length: skipped
        ] {
            let (mut v, at) = syn_raw(&opts, &[]);
            let before = v.clone();
            assert!(!clamp_mss(&mut v[at..], 100), "{opts:?}");
            assert_eq!(v, before);
        }
    }

    #[test]
    fn short_or_bad_headers() {
        assert!(!clamp_mss(&mut [], 100));
        assert!(!clamp_mss(&mut [0u8; 12], 100));
        let mut h = [0u8; 20];
        h[12] = 0x40; // data offset 4 (< 5)
        assert!(!clamp_mss(&mut h, 100));
        h[12] = 0x60; // data offset 6 beyond 20 bytes
        assert!(!clamp_mss(&mut h, 100));
    }

    proptest! {
        /// Arbitrary option bytes never panic; when something changed, the checksum still
        /// verifies and only the MSS value bytes differ.
        #[test]
        fn arbitrary_options_never_panic(mut opts in proptest::collection::vec(any::<u8>(), 0..40usize),
                                         payload in proptest::collection::vec(any::<u8>(), 0..16usize),
                                         limit in any::<u16>()) {
            opts.truncate(opts.len() / 4 * 4);
            let (mut v, at) = syn_raw(&opts, &payload);
            let before = v.clone();
            let changed = clamp_mss(&mut v[at..], limit);
            prop_assert_eq!(changed, v != before);
            assert_tcp_checksum_ok(&v);
            if changed {
                prop_assert!(mss_of(&v[at..]).is_some_and(|m| m <= limit));
            }
        }

        /// Raw bytes as a TCP header: never panics.
        #[test]
        fn arbitrary_headers_never_panic(mut h in proptest::collection::vec(any::<u8>(), 0..80usize),
                                         limit in any::<u16>()) {
            let _ = clamp_mss(&mut h, limit);
            let _ = mss_of(&h);
        }
    }
}
