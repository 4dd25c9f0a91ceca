//! ICMP error messages: translation through the embedded header (RFC 5508) and construction of
//! the errors the appliance originates itself.
//!
//! An ICMP error quotes the start of the datagram that caused it, so a NAT must rewrite the
//! quoted copy too, or the receiving stack cannot match the error to its socket. RFC 5508:
//!
//! - REQ-3: "if the ICMP checksum fails to validate, the NAT SHOULD silently drop the ICMP
//!   Error packet" — [`parse`] verifies the checksum over the whole ICMP message.
//! - REQ-4 (error from the outside) a): "Revert the IP and transport headers of the embedded
//!   IP packet to their original form, using the matching mapping"; b) leave type and code
//!   unchanged; c) the outer destination becomes the embedded source after translation —
//!   [`Rewrite::Inbound`].
//! - REQ-5 (error from the inside): the same for the embedded *destination*, and the outer
//!   source becomes the public address — [`Rewrite::Outbound`].
//!
//! Everything is updated incrementally (RFC 1624): the outer IPv4 header checksum, the embedded
//! IPv4 header checksum, the embedded transport checksum when it is among the quoted bytes
//! (it covers data that is not quoted, so it cannot be recomputed), and the outer ICMP checksum,
//! which covers every embedded byte changed — the embedded checksums included.
//!
//! Decisions:
//! - Accepted error types: 3 destination unreachable, 11 time exceeded, 12 parameter problem.
//!   Source quench (4) is *not* translated: RFC 6633 deprecated it ("Hosts MUST NOT send ICMP
//!   Source Quench messages") and no stack acts on it any more, so [`parse`] reports it as
//!   [`IcmpErrorDrop::NotError`] and it is dropped like any other unsupported ICMP type.
//!   Redirects (5) are never forwarded by a NAT either.
//! - The embedded packet may be TCP or UDP (at least the 4 port bytes quoted) or an ICMP echo
//!   request/reply (the 8-byte echo header quoted; RFC 5508 REQ-1 treats the identifier as the
//!   port). Anything else, and non-initial fragments (no ports), is
//!   [`IcmpErrorDrop::UnsupportedInner`]. The embedded header checksum is not verified (routers
//!   quote what they received); it is updated incrementally, so a wrong one stays wrong.
//! - A fragmented outer datagram cannot have its checksum verified and is reported as
//!   [`IcmpErrorDrop::Truncated`].
//! - RFC 4884 extensions after the quoted datagram are preserved untouched (lengths never
//!   change); the quoted transport length is bounded by the embedded total length, so padding
//!   is never mistaken for a quoted checksum.
//! - Hairpinned errors (REQ-7) are two translations: [`translate`] once with
//!   [`Rewrite::Outbound`] for the reporting subscriber's mapping and once with
//!   [`Rewrite::Inbound`] for the quoted subscriber's mapping; each keeps every checksum valid.
//!
//! Generated errors ([`build_error`]) quote "as much of the original datagram as possible
//! without the length of the ICMP datagram exceeding 576 bytes" (RFC 1812 §4.3.2.3); for
//! fragmentation needed (3/4) the next-hop MTU goes in "the low-order 16 bits of the ICMP header
//! field that is labelled unused" (RFC 1191 §4). [`may_send_error_about`] applies the RFC 1122
//! §3.2.2 list of datagrams that must never cause an error.
//!
//! Pure functions over byte slices: no allocation, no panics on any input (every access is
//! bounds-checked), errors are a small `Copy` enum.

use crate::checksum;
use crate::wire::icmp;
use crate::wire::ipv4::{self, PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// Source quench (deprecated by RFC 6633; not translated).
pub const SOURCE_QUENCH: u8 = 4;
/// Parameter problem.
pub const PARAMETER_PROBLEM: u8 = 12;
/// Destination unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Destination unreachable code: fragmentation needed and DF set (RFC 1191).
pub const CODE_FRAG_NEEDED: u8 = 4;
/// Destination unreachable code: communication administratively prohibited (RFC 1812).
pub const CODE_ADMIN_PROHIBITED: u8 = 13;
/// Time exceeded code: TTL exceeded in transit.
pub const CODE_TTL_EXCEEDED: u8 = 0;
/// Largest ICMP error datagram the appliance builds (RFC 1812 §4.3.2.3).
pub const MAX_ERROR_LEN: usize = 576;
/// IPv4 header + ICMP header of a generated error.
pub const ERROR_HEADER_LEN: usize = ipv4::MIN_HEADER_LEN + icmp::HEADER_LEN;

mod field {
    /// Outer / embedded IPv4 header fields.
    pub const IP_VER_IHL: usize = 0;
    pub const IP_TOTAL_LEN: usize = 2;
    pub const IP_FLAGS_FRAG: usize = 6;
    pub const IP_PROTOCOL: usize = 9;
    pub const IP_CHECKSUM: usize = 10;
    pub const IP_SRC: usize = 12;
    pub const IP_DST: usize = 16;
    /// ICMP header fields.
    pub const ICMP_TYPE: usize = 0;
    pub const ICMP_CODE: usize = 1;
    pub const ICMP_CHECKSUM: usize = 2;
    pub const ICMP_REST: usize = 4;
    pub const ICMP_IDENT: usize = 4;
    pub const ICMP_MTU: usize = 6;
    /// Transport fields.
    pub const L4_SRC_PORT: usize = 0;
    pub const L4_DST_PORT: usize = 2;
    pub const UDP_CHECKSUM: usize = 6;
    pub const TCP_CHECKSUM: usize = 16;
}

/// Why an ICMP error was not translated. Each maps to one drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpErrorDrop {
    /// Not ICMP, or an ICMP type this module does not translate (queries, source quench,
    /// redirects, ...).
    NotError,
    /// The ICMP checksum over the whole message does not verify (RFC 5508 REQ-3).
    Checksum,
    /// The outer datagram, the ICMP header or the embedded header/ports are cut short, or the
    /// outer datagram is a fragment.
    Truncated,
    /// The embedded header is not a sane IPv4 header (version, IHL, total length).
    InnerMalformed,
    /// The embedded packet is not TCP, UDP or an ICMP echo, or is a non-initial fragment.
    UnsupportedInner,
}

/// What [`parse`] found in an ICMP error: the embedded flow (to look the mapping up) and the
/// offsets [`translate`] needs. All offsets are from the start of the outer IPv4 header.
///
/// Which mapping to look up: for an error arriving from the outside, the embedded packet is one
/// the NAT sent out, so (`proto`, `inner_src`, `inner_sport`) is a public endpoint; for an error
/// arriving from the inside, (`proto`, `inner_dst`, `inner_dport`) is a subscriber endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFlow {
    /// Outer ICMP type (3, 11 or 12).
    pub icmp_type: u8,
    /// Outer ICMP code.
    pub icmp_code: u8,
    /// Outer source address (the reporting node).
    pub outer_src: u32,
    /// Outer destination address.
    pub outer_dst: u32,
    /// Embedded IP protocol: TCP, UDP or ICMP.
    pub proto: u8,
    /// Embedded source address.
    pub inner_src: u32,
    /// Embedded destination address.
    pub inner_dst: u32,
    /// Embedded source port, or the echo identifier.
    pub inner_sport: u16,
    /// Embedded destination port, or the echo identifier.
    pub inner_dport: u16,
    /// Embedded ICMP type (echo request 8 / reply 0) when `proto` is ICMP.
    pub inner_icmp_type: Option<u8>,
    /// Offset of the outer ICMP header (= outer IHL).
    pub icmp_off: usize,
    /// Offset of the embedded IPv4 header.
    pub inner_off: usize,
    /// Offset of the embedded transport header.
    pub inner_l4_off: usize,
    /// Quoted bytes of the embedded transport header and payload (bounded by the embedded
    /// total length).
    pub inner_l4_len: usize,
    /// End of the outer datagram (its total length).
    pub end: usize,
}

/// How to rewrite an ICMP error; a mapping endpoint from the binding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Error from the outside about a packet the NAT sent out (its embedded *source* is the
    /// public endpoint): outer destination, embedded source and embedded source port (or echo
    /// identifier) become the subscriber's `addr` / inside `port`.
    Inbound {
        /// Subscriber address.
        addr: u32,
        /// Inside port or echo identifier.
        port: u16,
    },
    /// Error from a subscriber about a packet the NAT delivered (its embedded *destination* is
    /// the subscriber): outer source, embedded destination and embedded destination port (or
    /// echo identifier) become the public `addr` / `port`.
    Outbound {
        /// Public address.
        addr: u32,
        /// Public port or echo identifier.
        port: u16,
    },
}

/// The big-endian `u16` at `b[at..at + 2]`, if there.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?)? {
        [x, y] => Some(u16::from_be_bytes([*x, *y])),
        _ => None,
    }
}

/// The big-endian `u32` at `b[at..at + 4]`, if there.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at.checked_add(4)?)? {
        [a, c, d, e] => Some(u32::from_be_bytes([*a, *c, *d, *e])),
        _ => None,
    }
}

/// Whether `t` is an ICMP error type this module translates.
#[inline]
pub fn is_translated_error(t: u8) -> bool {
    matches!(
        t,
        icmp::DEST_UNREACHABLE | icmp::TIME_EXCEEDED | PARAMETER_PROBLEM
    )
}

/// Parses an ICMP error datagram `ip` (from the outer IPv4 header; the outer header was already
/// validated by [`ipv4::Packet::new_checked`], bytes after the outer total length are ignored).
///
/// Checks, in order: outer protocol ICMP and not a fragment, ICMP type 3/11/12, the ICMP checksum
/// over the whole message (RFC 5508 REQ-3), an embedded IPv4 header (version 4, IHL >= 5, within
/// the quoted bytes, total length >= IHL), not a non-initial fragment, and enough quoted
/// transport bytes: 4 for TCP/UDP ports, 8 for an ICMP echo header.
pub fn parse(ip: &[u8]) -> Result<EmbeddedFlow, IcmpErrorDrop> {
    use IcmpErrorDrop::*;
    let ver_ihl = *ip.get(field::IP_VER_IHL).ok_or(Truncated)?;
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    let total = usize::from(be16(ip, field::IP_TOTAL_LEN).ok_or(Truncated)?);
    if ihl < ipv4::MIN_HEADER_LEN || total < ihl || total > ip.len() {
        return Err(Truncated);
    }
    let ip = ip.get(..total).ok_or(Truncated)?;
    if *ip.get(field::IP_PROTOCOL).ok_or(Truncated)? != PROTO_ICMP {
        return Err(NotError);
    }
    if be16(ip, field::IP_FLAGS_FRAG).ok_or(Truncated)? & 0x3fff != 0 {
        return Err(Truncated);
    }
    let msg = ip.get(ihl..).ok_or(Truncated)?;
    if msg.len() < icmp::HEADER_LEN {
        return Err(Truncated);
    }
    let icmp_type = *msg.get(field::ICMP_TYPE).ok_or(Truncated)?;
    let icmp_code = *msg.get(field::ICMP_CODE).ok_or(Truncated)?;
    if !is_translated_error(icmp_type) {
        return Err(NotError);
    }
    if checksum::sum(msg, 0) != 0xffff {
        return Err(Checksum);
    }
    let inner_off = ihl + icmp::HEADER_LEN;
    let inner = ip.get(inner_off..).ok_or(Truncated)?;
    if inner.len() < ipv4::MIN_HEADER_LEN {
        return Err(Truncated);
    }
    let inner_ver_ihl = *inner.get(field::IP_VER_IHL).ok_or(Truncated)?;
    if inner_ver_ihl >> 4 != 4 {
        return Err(InnerMalformed);
    }
    let inner_ihl = usize::from(inner_ver_ihl & 0x0f) * 4;
    if inner_ihl < ipv4::MIN_HEADER_LEN {
        return Err(InnerMalformed);
    }
    if inner_ihl > inner.len() {
        return Err(Truncated);
    }
    let inner_total = usize::from(be16(inner, field::IP_TOTAL_LEN).ok_or(Truncated)?);
    if inner_total < inner_ihl {
        return Err(InnerMalformed);
    }
    if be16(inner, field::IP_FLAGS_FRAG).ok_or(Truncated)? & 0x1fff != 0 {
        return Err(UnsupportedInner);
    }
    let proto = *inner.get(field::IP_PROTOCOL).ok_or(Truncated)?;
    let inner_src = be32(inner, field::IP_SRC).ok_or(Truncated)?;
    let inner_dst = be32(inner, field::IP_DST).ok_or(Truncated)?;
    let quoted_l4 = inner.len().min(inner_total) - inner_ihl;
    let l4 = inner
        .get(inner_ihl..inner_ihl + quoted_l4)
        .ok_or(Truncated)?;
    let (inner_sport, inner_dport, inner_icmp_type) = match proto {
        PROTO_TCP | PROTO_UDP => {
            let sport = be16(l4, field::L4_SRC_PORT).ok_or(Truncated)?;
            let dport = be16(l4, field::L4_DST_PORT).ok_or(Truncated)?;
            (sport, dport, None)
        }
        PROTO_ICMP => {
            if l4.len() < icmp::HEADER_LEN {
                return Err(Truncated);
            }
            let t = *l4.get(field::ICMP_TYPE).ok_or(Truncated)?;
            if !matches!(t, icmp::ECHO_REQUEST | icmp::ECHO_REPLY) {
                return Err(UnsupportedInner);
            }
            let id = be16(l4, field::ICMP_IDENT).ok_or(Truncated)?;
            (id, id, Some(t))
        }
        _ => return Err(UnsupportedInner),
    };
    Ok(EmbeddedFlow {
        icmp_type,
        icmp_code,
        outer_src: be32(ip, field::IP_SRC).ok_or(Truncated)?,
        outer_dst: be32(ip, field::IP_DST).ok_or(Truncated)?,
        proto,
        inner_src,
        inner_dst,
        inner_sport,
        inner_dport,
        inner_icmp_type,
        icmp_off: ihl,
        inner_off,
        inner_l4_off: inner_off + inner_ihl,
        inner_l4_len: quoted_l4,
        end: total,
    })
}

/// Writes `new` at `b[at..at+2]` and returns the old value, or `None` (nothing written) if out
/// of bounds.
#[inline]
fn swap16(b: &mut [u8], at: usize, new: u16) -> Option<u16> {
    let s = b.get_mut(at..at.checked_add(2)?)?;
    let old = u16::from_be_bytes([s.first().copied()?, s.get(1).copied()?]);
    s.copy_from_slice(&new.to_be_bytes());
    Some(old)
}

/// As [`swap16`] for 32 bits.
#[inline]
fn swap32(b: &mut [u8], at: usize, new: u32) -> Option<u32> {
    let old = be32(b, at)?;
    b.get_mut(at..at + 4)?.copy_from_slice(&new.to_be_bytes());
    Some(old)
}

/// Translates the ICMP error `ip` (the same bytes [`parse`] returned `flow` for) in place:
/// addresses and port/identifier per `rewrite`, with every checksum updated incrementally
/// (RFC 1624): outer IPv4 header, embedded IPv4 header, embedded UDP (unless zero) / TCP (when
/// quoted) / ICMP echo checksum, and the outer ICMP checksum over all embedded changes. Type and
/// code are left unchanged (RFC 5508 REQ-4 b); the outer TTL is the caller's business.
///
/// Returns [`IcmpErrorDrop::Truncated`] without touching `ip` if `flow` does not fit `ip`
/// (never the case when `flow` came from `parse(ip)`).
pub fn translate(
    ip: &mut [u8],
    flow: &EmbeddedFlow,
    rewrite: Rewrite,
) -> Result<(), IcmpErrorDrop> {
    use IcmpErrorDrop::Truncated;
    // Validate every offset once, before writing anything.
    let end = flow.end;
    let l4_end = flow
        .inner_l4_off
        .checked_add(flow.inner_l4_len)
        .ok_or(Truncated)?;
    let min_l4 = if flow.proto == PROTO_ICMP { 8 } else { 4 };
    let inner_off = flow.icmp_off.checked_add(icmp::HEADER_LEN);
    let min_l4_off = flow.inner_off.checked_add(ipv4::MIN_HEADER_LEN);
    if end > ip.len()
        || flow.icmp_off < ipv4::MIN_HEADER_LEN
        || inner_off != Some(flow.inner_off)
        || !matches!(min_l4_off, Some(m) if flow.inner_l4_off >= m)
        || l4_end > end
        || flow.inner_l4_len < min_l4
    {
        return Err(Truncated);
    }
    let ip = ip.get_mut(..end).ok_or(Truncated)?;
    let (outer, msg) = ip.split_at_mut(flow.icmp_off);
    // Offsets within `msg` (the ICMP message). The outer IHL and the embedded IHL are multiples
    // of 4, so every 16-bit field below sits at an even offset of the ICMP message and can be
    // folded into the ICMP checksum word by word.
    let inner = icmp::HEADER_LEN;
    let l4 = flow.inner_l4_off - flow.icmp_off;
    let l4_len = flow.inner_l4_len;

    let (outer_addr_at, inner_addr_at, port_at, addr, port) = match rewrite {
        Rewrite::Inbound { addr, port } => (
            field::IP_DST,
            inner + field::IP_SRC,
            field::L4_SRC_PORT,
            addr,
            port,
        ),
        Rewrite::Outbound { addr, port } => (
            field::IP_SRC,
            inner + field::IP_DST,
            field::L4_DST_PORT,
            addr,
            port,
        ),
    };

    // Outer IPv4 header (not covered by the ICMP checksum).
    let old = swap32(outer, outer_addr_at, addr).ok_or(Truncated)?;
    let c = be16(outer, field::IP_CHECKSUM).ok_or(Truncated)?;
    swap16(outer, field::IP_CHECKSUM, checksum::update32(c, old, addr)).ok_or(Truncated)?;

    let mut icmp_ck = be16(msg, field::ICMP_CHECKSUM).ok_or(Truncated)?;

    // Embedded IPv4 address and header checksum.
    let old_addr = swap32(msg, inner_addr_at, addr).ok_or(Truncated)?;
    icmp_ck = checksum::update32(icmp_ck, old_addr, addr);
    let ck_at = inner + field::IP_CHECKSUM;
    let c = be16(msg, ck_at).ok_or(Truncated)?;
    let new_c = checksum::update32(c, old_addr, addr);
    swap16(msg, ck_at, new_c).ok_or(Truncated)?;
    icmp_ck = checksum::update16(icmp_ck, c, new_c);

    // Embedded port / identifier and transport checksum.
    if flow.proto == PROTO_ICMP {
        let old_id = swap16(msg, l4 + field::ICMP_IDENT, port).ok_or(Truncated)?;
        icmp_ck = checksum::update16(icmp_ck, old_id, port);
        // The echo checksum has no pseudo-header: only the identifier changed.
        let at = l4 + field::ICMP_CHECKSUM;
        let c = be16(msg, at).ok_or(Truncated)?;
        let new_c = checksum::update16(c, old_id, port);
        swap16(msg, at, new_c).ok_or(Truncated)?;
        icmp_ck = checksum::update16(icmp_ck, c, new_c);
    } else {
        let old_port = swap16(msg, l4 + port_at, port).ok_or(Truncated)?;
        icmp_ck = checksum::update16(icmp_ck, old_port, port);
        let ck_rel = if flow.proto == PROTO_UDP {
            field::UDP_CHECKSUM
        } else {
            field::TCP_CHECKSUM
        };
        if ck_rel + 2 <= l4_len {
            let at = l4 + ck_rel;
            let c = be16(msg, at).ok_or(Truncated)?;
            let new_c = if flow.proto == PROTO_UDP {
                checksum::udp_update16(checksum::udp_update32(c, old_addr, addr), old_port, port)
            } else {
                checksum::update16(checksum::update32(c, old_addr, addr), old_port, port)
            };
            swap16(msg, at, new_c).ok_or(Truncated)?;
            icmp_ck = checksum::update16(icmp_ck, c, new_c);
        }
    }
    swap16(msg, field::ICMP_CHECKSUM, icmp_ck).ok_or(Truncated)?;
    Ok(())
}

/// Writes a complete IPv4 + ICMP error datagram into `out` and returns its length (0 if `out`
/// cannot hold even the 28 header bytes).
///
/// IPv4 header: 20 bytes, no options, DF clear, TTL 64, identification `ident`, protocol ICMP,
/// `src` → `dst`. ICMP: `icmp_type`/`code`, the rest-of-header zero except the next-hop MTU in
/// bytes 6..8 when `next_hop_mtu` is given (3/4, RFC 1191), then as much of `quoted` (the
/// offending datagram from its IP header on, as received) as fits in [`MAX_ERROR_LEN`] bytes in
/// total (RFC 1812 §4.3.2.3) and in `out`. Both checksums are computed in full. Ethernet padding
/// to 60 bytes is the caller's.
///
/// Used for 3/3 (port unreachable), 3/13 (administratively prohibited, RFC 5508 REQ-8 / RFC 6888
/// REQ-11), 3/4 (fragmentation needed, RFC 4787 REQ-13) and 11/0 (TTL exceeded). Check
/// [`may_send_error_about`] first.
#[allow(clippy::too_many_arguments)]
pub fn build_error(
    out: &mut [u8],
    icmp_type: u8,
    code: u8,
    src: u32,
    dst: u32,
    quoted: &[u8],
    ident: u16,
    next_hop_mtu: Option<u16>,
) -> usize {
    let room = out.len().min(MAX_ERROR_LEN);
    let Some(q_room) = room.checked_sub(ERROR_HEADER_LEN) else {
        return 0;
    };
    let q_len = quoted.len().min(q_room);
    let len = ERROR_HEADER_LEN + q_len;
    let (Some(out), Some(quoted)) = (out.get_mut(..len), quoted.get(..q_len)) else {
        return 0;
    };
    let total = u16::try_from(len).unwrap_or(u16::MAX);
    ipv4::write_header(out, total, ident, 64, PROTO_ICMP, src, dst);
    let Some(msg) = out.get_mut(ipv4::MIN_HEADER_LEN..) else {
        return 0;
    };
    let mut hdr = [0u8; icmp::HEADER_LEN];
    hdr[field::ICMP_TYPE] = icmp_type;
    hdr[field::ICMP_CODE] = code;
    if let Some(mtu) = next_hop_mtu {
        hdr[field::ICMP_MTU..field::ICMP_MTU + 2].copy_from_slice(&mtu.to_be_bytes());
    }
    let (h, body) = msg.split_at_mut(icmp::HEADER_LEN.min(msg.len()));
    h.copy_from_slice(&hdr[..h.len()]);
    if body.len() == quoted.len() {
        body.copy_from_slice(quoted);
    }
    let c = checksum::checksum(msg);
    if let Some(s) = msg.get_mut(field::ICMP_CHECKSUM..field::ICMP_REST) {
        s.copy_from_slice(&c.to_be_bytes());
    }
    len
}

/// Whether an ICMP error may be sent about the datagram `ip` (from its IP header). RFC 1122
/// §3.2.2: "An ICMP error message MUST NOT be sent as the result of receiving: an ICMP error
/// message, or a datagram destined to an IP broadcast or IP multicast address, or a datagram
/// sent as a link-layer broadcast, or a non-initial fragment, or a datagram whose source address
/// does not define a single host". Link-layer broadcast and directed (subnet) broadcast are the
/// caller's to check; this covers the rest: ICMP errors (types 3, 4, 5, 11, 12, or an ICMP
/// datagram too short to tell), non-initial fragments, destination 255.255.255.255 or
/// multicast, and sources in 0/8, 127/8, 224/4 (multicast) or 240/4 (including broadcast).
pub fn may_send_error_about(ip: &[u8]) -> bool {
    let (Some(&ver_ihl), Some(frag), Some(src), Some(dst), Some(&proto)) = (
        ip.get(field::IP_VER_IHL),
        be16(ip, field::IP_FLAGS_FRAG),
        be32(ip, field::IP_SRC),
        be32(ip, field::IP_DST),
        ip.get(field::IP_PROTOCOL),
    ) else {
        return false;
    };
    if frag & 0x1fff != 0 {
        return false;
    }
    let [s0, ..] = src.to_be_bytes();
    if s0 == 0 || s0 == 127 || s0 >= 224 {
        return false;
    }
    if dst == u32::MAX || dst >> 28 == 0xe {
        return false;
    }
    if proto == PROTO_ICMP {
        let ihl = usize::from(ver_ihl & 0x0f) * 4;
        match ip.get(ihl) {
            None | Some(3 | 4 | 5 | 11 | 12) => return false,
            Some(_) => {}
        }
    }
    true
}
