//! The RTSP `Transport` header value (RFC 2326 §12.39): a comma-separated list of transport
//! specifications, each `protocol/profile[/lower-transport]` followed by `;parameter`s.
//!
//! ```text
//! Transport           =    "Transport" ":" 1\#transport-spec
//! transport-spec      =    transport-protocol/profile[/lower-transport] *parameter
//! parameter           =    ( "unicast" | "multicast" )
//!                     |    ";" "destination" [ "=" address ]
//!                     |    ";" "interleaved" "=" channel [ "-" channel ]
//!                     |    ";" "client_port" "=" port [ "-" port ]
//!                     |    ";" "server_port" "=" port [ "-" port ] ...
//! ```
//!
//! Only what NAT needs is read, with the byte span of each piece so it can be rewritten:
//! `client_port` (value span), `destination` (span of the whole `;destination=...` parameter,
//! so it can be removed), whether the lower transport is TCP or `interleaved` is present
//! (then nothing crosses the NAT but the control connection), and `multicast`. Parameter
//! names are compared case-insensitively; a quoted value (`mode="PLAY"`) may contain `,` or
//! `;`. At most [`MAX_TRANSPORTS`] specifications are read.

use super::RtspError;
use crate::text::{starts_with_ci, Cursor, NumError};
use core::net::Ipv4Addr;
use core::ops::Range;

/// Most transport specifications accepted in one `Transport` header.
pub const MAX_TRANSPORTS: usize = 4;
/// Lowest RTP/RTCP port accepted (never open a pinhole to a privileged port).
pub const MIN_MEDIA_PORT: u16 = 1024;

/// `client_port=rtp[-rtcp]`, checked: `rtp` even and at least [`MIN_MEDIA_PORT`], `rtcp`
/// (when present) `rtp + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPort {
    /// The RTP port.
    pub rtp: u16,
    /// Whether an RTCP port (`rtp + 1`) was given.
    pub pair: bool,
    /// Span of the value (`5000-5001`) within the header line.
    pub span: (u16, u16),
}

/// The value of a `destination` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `destination` without a value.
    Absent,
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// Anything else (a host name, an IPv6 address): never the client itself.
    Other,
}

/// One transport specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransportSpec {
    /// `client_port`, if present.
    pub client_port: Option<ClientPort>,
    /// `destination[=address]`: its value and the span of `;destination...` within the line.
    pub destination: Option<(Destination, (u16, u16))>,
    /// Lower transport TCP or `interleaved=`: media inside the control connection.
    pub interleaved: bool,
    /// `multicast`.
    pub multicast: bool,
}

/// The specifications of one `Transport` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transports {
    specs: [TransportSpec; MAX_TRANSPORTS],
    len: usize,
}

impl Transports {
    /// The specifications in order.
    pub fn iter(&self) -> impl Iterator<Item = &TransportSpec> + '_ {
        self.specs[..self.len].iter()
    }
}

fn span(r: Range<usize>) -> Result<(u16, u16), RtspError> {
    let s = u16::try_from(r.start).map_err(|_| RtspError::LineTooLong)?;
    let e = u16::try_from(r.end).map_err(|_| RtspError::LineTooLong)?;
    Ok((s, e))
}

/// Splits `line[from..]` at `sep` outside double quotes: the end of the current piece.
fn piece_end(line: &[u8], from: usize, sep: &[u8]) -> usize {
    let mut quoted = false;
    for (i, &b) in line.iter().enumerate().skip(from) {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && sep.contains(&b) {
            return i;
        }
    }
    line.len()
}

fn trim(line: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && matches!(line[r.start], b' ' | b'\t') {
        r.start += 1;
    }
    while r.end > r.start && matches!(line[r.end - 1], b' ' | b'\t') {
        r.end -= 1;
    }
    r
}

fn port(c: &mut Cursor<'_>) -> Result<u16, RtspError> {
    match c.number(u32::from(u16::MAX)) {
        Ok(v) => u16::try_from(v).map_err(|_| RtspError::BadPort),
        Err(NumError::TooLarge) => Err(RtspError::BadPort),
        Err(NumError::Missing) => Err(RtspError::BadSyntax),
    }
}

/// Parses `client_port` value `line[r]`.
fn client_port(line: &[u8], r: Range<usize>) -> Result<ClientPort, RtspError> {
    let value = &line[..r.end];
    let mut c = Cursor::new(value, r.start);
    let rtp = port(&mut c)?;
    let rtcp = if c.eat(b'-') {
        Some(port(&mut c)?)
    } else {
        None
    };
    if !c.at_end() {
        return Err(RtspError::BadSyntax);
    }
    if rtp == 0 || rtcp == Some(0) {
        return Err(RtspError::BadPort);
    }
    if rtp < MIN_MEDIA_PORT {
        return Err(RtspError::PrivilegedPort);
    }
    if rtp % 2 != 0 {
        return Err(RtspError::OddRtpPort);
    }
    if let Some(rtcp) = rtcp {
        if Some(rtcp) != rtp.checked_add(1) {
            return Err(RtspError::BadPortRange);
        }
    }
    Ok(ClientPort {
        rtp,
        pair: rtcp.is_some(),
        span: span(r)?,
    })
}

/// Parses a dotted-quad IPv4 address filling all of `v`.
pub(crate) fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    let mut c = Cursor::new(v, 0);
    let mut o = [0u8; 4];
    for (i, x) in o.iter_mut().enumerate() {
        if i > 0 && !c.eat(b'.') {
            return None;
        }
        *x = c.octet().ok()?;
    }
    c.at_end().then(|| Ipv4Addr::from(o))
}

fn spec(line: &[u8], r: Range<usize>) -> Result<TransportSpec, RtspError> {
    let mut s = TransportSpec::default();
    let mut at = r.start;
    let mut first = true;
    while at <= r.end {
        let end = piece_end(line, at, b";").min(r.end);
        let p = trim(line, at..end);
        let text = &line[p.clone()];
        if first {
            // transport-protocol/profile[/lower-transport]
            let mut parts = text.split(|&b| b == b'/');
            let proto = parts.next().unwrap_or_default();
            let profile = parts.next();
            let lower = parts.next();
            if proto.is_empty() || profile.is_none() || parts.next().is_some() {
                return Err(RtspError::BadSyntax);
            }
            if lower.is_some_and(|l| l.eq_ignore_ascii_case(b"TCP")) {
                s.interleaved = true;
            }
            first = false;
        } else if let Some(v) = param(text, b"client_port") {
            if s.client_port.is_some() {
                return Err(RtspError::BadSyntax);
            }
            let v = trim(line, p.start + v..p.end);
            s.client_port = Some(client_port(line, v)?);
        } else if let Some(v) = param(text, b"destination") {
            let v = trim(text, v..text.len());
            let value = match ipv4(&text[v]) {
                Some(a) => Destination::Ipv4(a),
                None => Destination::Other,
            };
            // The parameter with its leading ';' (at - 1), so removing it leaves valid text.
            s.destination = Some((value, span(at.saturating_sub(1)..end)?));
        } else if text.eq_ignore_ascii_case(b"destination") {
            s.destination = Some((Destination::Absent, span(at.saturating_sub(1)..end)?));
        } else if param(text, b"interleaved").is_some() {
            s.interleaved = true;
        } else if text.eq_ignore_ascii_case(b"multicast") {
            s.multicast = true;
        }
        at = end + 1;
    }
    Ok(s)
}

/// If `text` is `name=value` (name case-insensitive, blanks around `=` allowed), the offset
/// of the value within `text`.
fn param(text: &[u8], name: &[u8]) -> Option<usize> {
    if !starts_with_ci(text, name) {
        return None;
    }
    let mut c = Cursor::new(text, name.len());
    c.skip_blanks();
    if !c.eat(b'=') {
        return None;
    }
    c.skip_blanks();
    Some(c.pos())
}

/// Parses the value `line[r]` of a `Transport` header.
pub fn parse(line: &[u8], r: Range<usize>) -> Result<Transports, RtspError> {
    let mut t = Transports::default();
    let mut at = r.start;
    while at <= r.end {
        let end = piece_end(line, at, b",").min(r.end);
        let p = trim(line, at..end);
        if !p.is_empty() {
            let slot = t.specs.get_mut(t.len).ok_or(RtspError::TooManyTransports)?;
            *slot = spec(line, p)?;
            t.len += 1;
        }
        at = end + 1;
    }
    if t.len == 0 {
        return Err(RtspError::BadSyntax);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(v: &str) -> Result<Vec<TransportSpec>, RtspError> {
        parse(v.as_bytes(), 0..v.len()).map(|t| t.iter().copied().collect())
    }

    #[test]
    fn vlc_and_ffmpeg_specs() {
        let v = "RTP/AVP;unicast;client_port=5000-5001";
        let s = all(v).unwrap();
        let cp = s[0].client_port.unwrap();
        assert_eq!((cp.rtp, cp.pair), (5000, true));
        assert_eq!(
            &v[usize::from(cp.span.0)..usize::from(cp.span.1)],
            "5000-5001"
        );
        let v = "RTP/AVP/UDP;unicast;client_port=23000-23001;mode=\"PLAY,RECORD\", RTP/AVP/TCP;unicast;interleaved=0-1";
        let s = all(v).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].client_port.unwrap().rtp, 23000);
        assert!(!s[0].interleaved && s[1].interleaved && s[1].client_port.is_none());
        let s = all("RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001").unwrap();
        assert!(s[0].multicast);
        let (addr, sp) = s[0].destination.unwrap();
        assert_eq!(addr, Destination::Ipv4(Ipv4Addr::new(232, 1, 1, 1)));
        assert_eq!(sp, (17, 39), ";destination=232.1.1.1");
        let s = all("rtp/avp;CLIENT_PORT = 6970 ;destination").unwrap();
        assert_eq!(s[0].client_port.unwrap().rtp, 6970);
        assert!(!s[0].client_port.unwrap().pair);
        assert_eq!(s[0].destination, Some((Destination::Absent, (27, 39))));
        let s = all("RTP/AVP;destination=evil.example;client_port=5000-5001").unwrap();
        assert_eq!(s[0].destination, Some((Destination::Other, (7, 32))));
    }

    #[test]
    fn hardening() {
        assert_eq!(all("RTP/AVP;client_port=0-1"), Err(RtspError::BadPort));
        assert_eq!(
            all("RTP/AVP;client_port=70000-70001"),
            Err(RtspError::BadPort)
        );
        assert_eq!(
            all("RTP/AVP;client_port=554-555"),
            Err(RtspError::PrivilegedPort)
        );
        assert_eq!(
            all("RTP/AVP;client_port=5001-5002"),
            Err(RtspError::OddRtpPort)
        );
        assert_eq!(
            all("RTP/AVP;client_port=5000-5003"),
            Err(RtspError::BadPortRange)
        );
        assert_eq!(
            all("RTP/AVP;client_port=5000-4999"),
            Err(RtspError::BadPortRange)
        );
        assert_eq!(
            all("RTP/AVP;client_port=65534-65535").map(|s| s.len()),
            Ok(1)
        );
        assert_eq!(all("RTP/AVP;client_port=5000-"), Err(RtspError::BadSyntax));
        assert_eq!(all("RTP/AVP;client_port=5000x"), Err(RtspError::BadSyntax));
        assert_eq!(
            all("RTP/AVP;client_port=5000;client_port=6000"),
            Err(RtspError::BadSyntax)
        );
        assert_eq!(all("RTP"), Err(RtspError::BadSyntax));
        assert_eq!(all(""), Err(RtspError::BadSyntax));
        assert_eq!(
            all("RTP/AVP,RTP/AVP,RTP/AVP,RTP/AVP,RTP/AVP"),
            Err(RtspError::TooManyTransports)
        );
        assert_eq!(
            all("RTP/AVP,RTP/AVP,RTP/AVP,RTP/AVP,").map(|s| s.len()),
            Ok(4)
        );
    }
}
