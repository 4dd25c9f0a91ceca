//! Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624).
//!
//! The translation path never recomputes a checksum over the payload: every address, port,
//! identifier or TTL change is folded into the existing checksum with RFC 1624 eqn. 3,
//! `HC' = ~(~HC + ~m + m')`. Full computation is used only for packets the dataplane builds
//! itself (ARP has none; ICMP errors and echo replies) and as the oracle in differential tests.

/// Ones-complement sum of `data` (big-endian 16-bit words, odd byte padded), folded to 16 bits,
/// added to `initial` (an unfolded partial sum).
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut acc = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves acc <= 0xffff.
    u32::from(u16::try_from(acc).unwrap_or(0xffff))
}

/// Folds a partial sum to 16 bits and complements it: the checksum field value.
pub fn finish(partial: u32) -> u16 {
    let folded = fold64(u64::from(partial));
    !u16::try_from(folded).unwrap_or(0xffff)
}

/// Full checksum over `data` (e.g. an IPv4 header with its checksum field zeroed).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data, 0))
}

/// Partial sum of the TCP/UDP pseudo-header (RFC 793 / RFC 768).
pub fn pseudo_header_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: u16) -> u32 {
    let mut acc = sum(&src, 0);
    acc = sum(&dst, acc);
    acc += u32::from(protocol);
    acc += u32::from(l4_len);
    acc
}

/// RFC 1624 eqn. 3 for one 16-bit word: the checksum `hc` after a covered word changed from
/// `old` to `new`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!hc) + u32::from(!old) + u32::from(new);
    finish_raw(acc)
}

/// RFC 1624 eqn. 3 for a 32-bit value (e.g. an IPv4 address) covered by the checksum.
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let acc = u32::from(!hc)
        + u32::from(!hi(old))
        + u32::from(!lo(old))
        + u32::from(hi(new))
        + u32::from(lo(new));
    finish_raw(acc)
}

#[inline]
fn hi(v: u32) -> u16 {
    let [a, b, _, _] = v.to_be_bytes();
    u16::from_be_bytes([a, b])
}

#[inline]
fn lo(v: u32) -> u16 {
    let [_, _, c, d] = v.to_be_bytes();
    u16::from_be_bytes([c, d])
}

#[inline]
fn finish_raw(mut acc: u32) -> u16 {
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    !lo(acc)
}

/// UDP carries "no checksum" as 0; an updated checksum that computes to 0 is sent as 0xffff
/// (RFC 768). A zero input stays zero: the sender chose not to checksum.
#[inline]
pub fn udp_update32(hc: u16, old: u32, new: u32) -> u16 {
    if hc == 0 {
        return 0;
    }
    match update32(hc, old, new) {
        0 => 0xffff,
        v => v,
    }
}

/// As [`udp_update32`] for a 16-bit word.
#[inline]
pub fn udp_update16(hc: u16, old: u16, new: u16) -> u16 {
    if hc == 0 {
        return 0;
    }
    match update16(hc, old, new) {
        0 => 0xffff,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example words: 0001 f203 f4f5 f6f7 -> sum ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data, 0), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0xab], 0), 0xab00);
    }

    proptest! {
        /// Differential: updating a checksum incrementally after changing one 16-bit word
        /// equals recomputing it over the changed data.
        #[test]
        fn update16_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 2..64usize),
                                      idx in any::<prop::sample::Index>(), new in any::<u16>()) {
            if data.len() % 2 == 1 { data.pop(); }
            let words = data.len() / 2;
            let w = idx.index(words);
            let hc = checksum(&data);
            let old = u16::from_be_bytes([data[2 * w], data[2 * w + 1]]);
            data[2 * w..2 * w + 2].copy_from_slice(&new.to_be_bytes());
            let full = checksum(&data);
            let inc = update16(hc, old, new);
            // 0x0000 and 0xffff are the same value in ones-complement arithmetic.
            prop_assert!(inc == full || (inc == 0xffff && full == 0) || (inc == 0 && full == 0xffff),
                "inc {inc:#06x} full {full:#06x}");
        }

        #[test]
        fn update32_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 4..64usize),
                                      idx in any::<prop::sample::Index>(), new in any::<u32>()) {
            if data.len() % 2 == 1 { data.pop(); }
            let w = idx.index(data.len() / 2 - 1);
            let hc = checksum(&data);
            let old = u32::from_be_bytes([data[2 * w], data[2 * w + 1], data[2 * w + 2], data[2 * w + 3]]);
            data[2 * w..2 * w + 4].copy_from_slice(&new.to_be_bytes());
            let full = checksum(&data);
            let inc = update32(hc, old, new);
            prop_assert!(inc == full || (inc == 0xffff && full == 0) || (inc == 0 && full == 0xffff));
        }

        /// A checksum field updated incrementally still verifies: summing the data including
        /// the field gives 0xffff.
        #[test]
        fn updated_field_verifies(mut data in proptest::collection::vec(any::<u8>(), 8..64usize),
                                  new in any::<u32>()) {
            if data.len() % 2 == 1 { data.pop(); }
            data[0] = 0; data[1] = 0;
            let hc = checksum(&data);
            data[0..2].copy_from_slice(&hc.to_be_bytes());
            let old = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            data[4..8].copy_from_slice(&new.to_be_bytes());
            let inc = update32(hc, old, new);
            data[0..2].copy_from_slice(&inc.to_be_bytes());
            prop_assert_eq!(sum(&data, 0), 0xffff);
        }
    }

    #[test]
    fn udp_zero_checksum_stays_zero() {
        assert_eq!(udp_update32(0, 0x0a000001, 0xcb007101), 0);
        assert_eq!(udp_update16(0, 1234, 4321), 0);
    }
}
