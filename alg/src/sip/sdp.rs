//! SDP bodies (RFC 4566, RFC 3264 offer/answer, RFC 3605 `a=rtcp`): the addresses and ports
//! a NAT must translate and open.
//!
//! ```text
//! o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
//! c=<nettype> <addrtype> <connection-address>
//! m=<media> <port>[/<number of ports>] <proto> <fmt> ...
//! a=rtcp:<port> [<nettype> <addrtype> <connection-address>]
//! ```
//!
//! RFC 4566 §5.7: "A session description MUST contain either at least one "c=" field in each
//! media description or a single "c=" field at the session level"; a media-level `c=`
//! overrides the session-level one. Lines end in CRLF (LF and CR accepted, as for headers).
//! Only `IN IP4` addresses are read; a `c=` with another address type makes its media
//! unopenable (as if on hold). At most [`MAX_MEDIA`] `m=` lines.

use super::message::SipMessage;
use super::{Field, Media, MediaKind, SipError, MAX_MEDIA};
use core::net::Ipv4Addr;

/// Splits `[start, end)` on blanks; calls `f(index, s, e)` per token, at most 8 tokens.
fn tokens(buf: &[u8], start: usize, end: usize, mut f: impl FnMut(usize, usize, usize)) {
    let mut i = start;
    let mut n = 0;
    while i < end && n < 8 {
        while i < end && buf[i] == b' ' {
            i += 1;
        }
        let s = i;
        while i < end && buf[i] != b' ' {
            i += 1;
        }
        if i > s {
            f(n, s, i);
            n += 1;
        }
    }
}

fn ipv4(t: &[u8]) -> Option<Ipv4Addr> {
    core::str::from_utf8(t).ok()?.parse().ok()
}

/// `IN IP4 <addr>` starting at token `first` of a line: the address's text range and value.
fn in_ip4(buf: &[u8], s: usize, e: usize, first: usize) -> Option<(usize, usize, Ipv4Addr)> {
    let mut nettype = None;
    let mut addrtype = None;
    let mut addr = None;
    tokens(buf, s, e, |n, a, b| {
        if n == first {
            nettype = Some((a, b));
        } else if n == first + 1 {
            addrtype = Some((a, b));
        } else if n == first + 2 {
            addr = Some((a, b));
        }
    });
    let (na, nb) = nettype?;
    let (ta, tb) = addrtype?;
    let (aa, ab) = addr?;
    if &buf[na..nb] != b"IN" || &buf[ta..tb] != b"IP4" {
        return None;
    }
    // c= may carry /ttl[/count] for multicast: the address is the part before '/'.
    let aend = (aa..ab).find(|&k| buf[k] == b'/').unwrap_or(ab);
    Some((aa, aend, ipv4(&buf[aa..aend])?))
}

fn port(t: &[u8]) -> Result<u16, SipError> {
    super::header::decimal(t)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or(SipError::BadSdp)
}

/// Parses the SDP body `[start, end)` of `msg`'s payload, adding its spans and media.
pub(super) fn parse(
    buf: &[u8],
    start: usize,
    end: usize,
    msg: &mut SipMessage,
) -> Result<(), SipError> {
    let end = end.min(buf.len());
    let mut i = start;
    let mut session_c: Option<Ipv4Addr> = None;
    let mut media_c: Option<Ipv4Addr> = None;
    let mut in_media = false;
    while i < end {
        let mut e = i;
        while e < end && buf[e] != b'\r' && buf[e] != b'\n' {
            e += 1;
        }
        let next = if e < end && buf[e] == b'\r' && buf.get(e + 1) == Some(&b'\n') && e + 1 < end {
            e + 2
        } else {
            e + 1
        };
        let line = &buf[i..e];
        if line.len() >= 2 && line[1] == b'=' {
            let (vs, ve) = (i + 2, e);
            match line[0] {
                b'o' => {
                    if let Some((a, b, addr)) = in_ip4(buf, vs, ve, 3) {
                        msg.push_span(Field::Origin, a, b, Some(addr), None, 0)?;
                    }
                }
                b'c' => {
                    // Not `IN IP4 <addr>` (IPv6, FQDN): nothing to translate and nothing to
                    // open; the media it governs is treated as on hold (0.0.0.0).
                    let addr = match in_ip4(buf, vs, ve, 0) {
                        Some((a, b, addr)) => {
                            let idx = if in_media {
                                msg.media_count().saturating_sub(1)
                            } else {
                                usize::from(super::SESSION_LEVEL)
                            };
                            msg.push_span(Field::Connection, a, b, Some(addr), None, idx)?;
                            addr
                        }
                        None => Ipv4Addr::UNSPECIFIED,
                    };
                    if in_media {
                        media_c = Some(addr);
                        msg.set_last_media_conn(addr);
                    } else {
                        session_c = Some(addr);
                    }
                }
                b'm' => {
                    if in_media && media_c.is_none() {
                        msg.set_last_media_conn_opt(session_c);
                    }
                    in_media = true;
                    media_c = None;
                    if msg.media_count() >= MAX_MEDIA {
                        return Err(SipError::TooManyMedia);
                    }
                    let mut kind = None;
                    let mut pt = None;
                    let mut proto = None;
                    tokens(buf, vs, ve, |n, a, b| match n {
                        0 => kind = Some((a, b)),
                        1 => pt = Some((a, b)),
                        2 => proto = Some((a, b)),
                        _ => {}
                    });
                    let ((ka, kb), (pa, pb), (ra, rb)) = (
                        kind.ok_or(SipError::BadSdp)?,
                        pt.ok_or(SipError::BadSdp)?,
                        proto.ok_or(SipError::BadSdp)?,
                    );
                    let slash = (pa..pb).find(|&k| buf[k] == b'/');
                    let pe = slash.unwrap_or(pb);
                    let p = port(&buf[pa..pe])?;
                    let count = match slash {
                        Some(s) => {
                            let c = port(&buf[s + 1..pb])?;
                            if c == 0 {
                                return Err(SipError::BadSdp);
                            }
                            c
                        }
                        None => 1,
                    };
                    let proto = &buf[ra..rb];
                    let tcp = (proto.len() >= 3 && proto[..3].eq_ignore_ascii_case(b"TCP"))
                        || proto.windows(4).any(|w| w.eq_ignore_ascii_case(b"/TCP"));
                    let udp = !tcp;
                    let idx = msg.media_count();
                    msg.push_media(Media {
                        kind: MediaKind::from_token(&buf[ka..kb]),
                        port: p,
                        count,
                        udp,
                        conn: None,
                        rtcp: None,
                    })?;
                    msg.push_span(Field::MediaPort, pa, pe, None, Some(p), idx)?;
                }
                b'a' if in_media && line.len() > 7 && &line[2..7] == b"rtcp:" => {
                    let ps = vs + 5;
                    let pe = (ps..ve).find(|&k| buf[k] == b' ').unwrap_or(ve);
                    let p = port(&buf[ps..pe])?;
                    let idx = msg.media_count().saturating_sub(1);
                    msg.set_last_media_rtcp(p);
                    msg.push_span(Field::Rtcp, ps, pe, None, Some(p), idx)?;
                    if let Some((a, b, addr)) = in_ip4(buf, pe, ve, 0) {
                        msg.push_span(Field::RtcpAddr, a, b, Some(addr), None, idx)?;
                    }
                }
                _ => {}
            }
        }
        i = next;
    }
    if in_media && media_c.is_none() {
        msg.set_last_media_conn_opt(session_c);
    }
    Ok(())
}
