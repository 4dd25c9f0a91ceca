//! Writes a SIP rewrite into the frame: the payload moves within the buffer's tailroom, the
//! IP total length, UDP length and both checksums are updated incrementally (RFC 1624). Kept
//! apart from the SIP glue because it is the only part that touches frame bytes.

use super::super::{be16, put16};
use crate::buf::PacketBuf;
use crate::checksum;
use crate::translate::Flow;
use crate::worker::ETH;
use alg::edit::EditList;

/// Applies `edits` to the payload at `payload_off` (original bytes `orig`), moving the tail
/// within the tailroom and updating the IP total length, the UDP length (`udp`) and both
/// checksums incrementally (RFC 1624; a zero UDP checksum stays zero). Returns the new end,
/// or `None` when the result does not fit the tailroom or `mtu` (nothing changed).
pub(super) fn apply<B: PacketBuf, const N: usize>(
    buf: &mut B,
    f: &Flow,
    payload_off: usize,
    orig: &[u8],
    edits: &EditList<N>,
    mtu: u16,
    udp: bool,
) -> Option<usize> {
    let delta = edits.total_delta();
    let ip_total = i64::try_from(f.end - ETH).ok()?;
    let new_total = ip_total + delta;
    let fits = buf.data().len() == f.end
        && new_total <= i64::from(mtu)
        && (delta <= 0 || usize::try_from(delta).is_ok_and(|d| d <= buf.tailroom()));
    if !fits {
        return None;
    }
    let new_end = usize::try_from(i64::try_from(f.end).ok()? + delta).ok()?;
    if new_end > f.end && !buf.set_len(new_end) {
        return None;
    }
    let first = edits.iter().next().map_or(0, |e| e.offset()) & !1;
    let old_sum = checksum::sum(&orig[first..], 0);
    let d = buf.data_mut();
    if alg::apply_edits(orig, edits.iter(), &mut d[payload_off..new_end]).is_err() {
        // Cannot happen (edits come sorted and inside the payload); restore.
        d[payload_off..f.end].copy_from_slice(orig);
        buf.set_len(f.end);
        return None;
    }
    let new_sum = checksum::sum(&d[payload_off + first..new_end], 0);
    let old_l4 = u16::try_from(f.end - f.l4_off).unwrap_or(0);
    let new_l4 = u16::try_from(new_end - f.l4_off).unwrap_or(0);
    let old_total = u16::try_from(ip_total).unwrap_or(0);
    let new_total = u16::try_from(new_total).unwrap_or(0);
    let (old_p, new_p) = (
        u16::try_from(old_sum).unwrap_or(0xffff),
        u16::try_from(new_sum).unwrap_or(0xffff),
    );
    let csum_at = f.l4_off + if udp { 6 } else { 16 };
    let mut c = be16(d, csum_at);
    if udp {
        // RFC 768: the length is in the pseudo-header and in the UDP header.
        c = checksum::udp_update16(c, old_l4, new_l4);
        c = checksum::udp_update16(c, old_l4, new_l4);
        c = checksum::udp_update16(c, old_p, new_p);
        put16(d, f.l4_off + 4, new_l4);
    } else {
        c = checksum::update16(c, old_l4, new_l4);
        c = checksum::update16(c, old_p, new_p);
    }
    put16(d, csum_at, c);
    put16(d, ETH + 2, new_total);
    let ipc = checksum::update16(be16(d, ETH + 10), old_total, new_total);
    put16(d, ETH + 10, ipc);
    if new_end < f.end {
        buf.set_len(new_end);
    }
    Some(new_end)
}
