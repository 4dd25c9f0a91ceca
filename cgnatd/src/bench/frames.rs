//! Frames the generator sends: subscriber → server UDP datagrams written into recycled mbufs
//! from per-size templates, and server replies made in place from translated frames.
//!
//! Checksums are maintained incrementally from each template (RFC 1624), so building a frame
//! costs a copy of its headers plus a handful of additions whatever its size. A send timestamp
//! (TSC) sits in the first 8 payload bytes for latency.

use dataplane::checksum::{update16, update32};
use dataplane::wire::ethernet::write_header;

/// The worker's inside MAC in bench mode.
pub const IN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The worker's outside MAC in bench mode.
pub const OUT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The subscribers' MAC.
pub const SUB_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x10];
/// The outside next hop's MAC.
pub const NH_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x20];
/// First subscriber address (100.64.0.2).
pub const FIRST_SUB: u32 = 0x6440_0002;
/// First server address (198.51.100.2), also the outside next hop.
pub const FIRST_SERVER: u32 = 0xc633_6402;
/// First subscriber source port.
pub const FIRST_PORT: u16 = 10000;
/// Server port (discard).
pub const SERVER_PORT: u16 = 9;
/// Payload offset of the timestamp (Ethernet 14 + IPv4 20 + UDP 8).
pub const TS_AT: usize = 42;

/// A frame template of one size, with its checksums computed for source address 0, source
/// port 0 and timestamp 0.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    ip_csum: u16,
    udp_csum: u16,
}

impl Template {
    /// A `size`-byte UDP frame from a subscriber to a server.
    pub fn new(size: u16) -> Self {
        let size = usize::from(size).max(TS_AT + 8);
        let mut b = vec![0u8; size];
        write_header(&mut b, IN_MAC, SUB_MAC, 0x0800);
        let ip_len = u16::try_from(size - 14).unwrap_or(u16::MAX);
        dataplane::wire::ipv4::write_header(&mut b[14..], ip_len, 0, 64, 17, 0, 0);
        let udp_len = ip_len - 20;
        b[38..40].copy_from_slice(&udp_len.to_be_bytes());
        for (i, x) in b[TS_AT + 8..].iter_mut().enumerate() {
            *x = u8::try_from(i & 0xff).unwrap_or(0);
        }
        let ip_csum = u16::from_be_bytes([b[24], b[25]]);
        // UDP checksum with src 0, dst 0, ports 0, ts 0: pseudo-header + header + payload.
        let ps = dataplane::checksum::pseudo_header_sum([0; 4], [0; 4], 17, udp_len);
        let udp_csum = dataplane::checksum::finish(dataplane::checksum::sum(&b[34..], ps));
        Self {
            bytes: b,
            ip_csum,
            udp_csum,
        }
    }

    /// Frame length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes the frame for (`src`:`sport` → `dst`:9) with timestamp `ts` into `out`
    /// (exactly `len()` bytes).
    pub fn write(&self, out: &mut [u8], src: u32, sport: u16, dst: u32, ts: u64) {
        out.copy_from_slice(&self.bytes);
        out[26..30].copy_from_slice(&src.to_be_bytes());
        out[30..34].copy_from_slice(&dst.to_be_bytes());
        let mut ic = update32(self.ip_csum, 0, src);
        ic = update32(ic, 0, dst);
        out[24..26].copy_from_slice(&ic.to_be_bytes());
        out[34..36].copy_from_slice(&sport.to_be_bytes());
        out[36..38].copy_from_slice(&SERVER_PORT.to_be_bytes());
        let tsb = ts.to_be_bytes();
        out[TS_AT..TS_AT + 8].copy_from_slice(&tsb);
        let mut uc = update32(self.udp_csum, 0, src);
        uc = update32(uc, 0, dst);
        uc = update16(uc, 0, sport);
        uc = update16(uc, 0, SERVER_PORT);
        uc = update32(uc, 0, u32::from_be_bytes([tsb[0], tsb[1], tsb[2], tsb[3]]));
        uc = update32(uc, 0, u32::from_be_bytes([tsb[4], tsb[5], tsb[6], tsb[7]]));
        if uc == 0 {
            uc = 0xffff;
        }
        out[40..42].copy_from_slice(&uc.to_be_bytes());
    }
}

/// Timestamp of a generated frame.
pub fn timestamp(frame: &[u8]) -> Option<u64> {
    let b = frame.get(TS_AT..TS_AT + 8)?;
    Some(u64::from_be_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

/// Turns a translated outbound frame (public → server) into the server's reply (server →
/// public) in place: swapped MACs toward the worker's outside port, swapped addresses and
/// ports, TTL back to 64. Swapping leaves both checksum sums unchanged; only the TTL change is
/// folded into the IP header checksum.
pub fn make_reply(f: &mut [u8]) -> bool {
    if f.len() < TS_AT {
        return false;
    }
    write_header(f, OUT_MAC, NH_MAC, 0x0800);
    let (src, dst) = (f[26..30].to_vec(), f[30..34].to_vec());
    f[26..30].copy_from_slice(&dst);
    f[30..34].copy_from_slice(&src);
    let (sp, dp) = ([f[34], f[35]], [f[36], f[37]]);
    f[34..36].copy_from_slice(&dp);
    f[36..38].copy_from_slice(&sp);
    let old = u16::from_be_bytes([f[22], f[23]]);
    f[22] = 64;
    let new = u16::from_be_bytes([f[22], f[23]]);
    let c = update16(u16::from_be_bytes([f[24], f[25]]), old, new);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    true
}

/// An ARP request from `spa` (MAC `sha`) for `tpa`.
pub fn arp_request(out: &mut [u8], sha: [u8; 6], spa: u32, tpa: u32) {
    out.fill(0);
    write_header(out, [0xff; 6], sha, 0x0806);
    dataplane::wire::arp::write(&mut out[14..], 1, sha, spa, [0; 6], tpa);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_frames_have_valid_checksums() {
        for size in [60u16, 64, 594, 1518] {
            let t = Template::new(size.min(1514));
            let mut f = vec![0; t.len()];
            t.write(
                &mut f,
                0x6440_0102,
                12345,
                FIRST_SERVER,
                0x0123_4567_89ab_cdef,
            );
            let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
                panic!()
            };
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            let Some(etherparse::TransportSlice::Udp(u)) = &p.transport else {
                panic!()
            };
            let uh = u.to_header();
            assert_eq!(uh.checksum, uh.calc_checksum_ipv4(&h, u.payload()).unwrap());
            assert_eq!(timestamp(&f), Some(0x0123_4567_89ab_cdef));
            let mut r = f.clone();
            assert!(make_reply(&mut r));
            let p = etherparse::SlicedPacket::from_ethernet(&r).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
                panic!()
            };
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            let Some(etherparse::TransportSlice::Udp(u)) = &p.transport else {
                panic!()
            };
            let uh = u.to_header();
            assert_eq!(uh.checksum, uh.calc_checksum_ipv4(&h, u.payload()).unwrap());
        }
    }
}
