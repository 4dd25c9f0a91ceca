//! RTSP message framing (RFC 2326 §4, §10.12): what starts at a message boundary, how long it
//! is, and the few headers the ALG reads.
//!
//! At a boundary the stream holds one of:
//!
//! * a message: a start line (request `METHOD uri RTSP/1.0` or status `RTSP/1.0 200 OK`),
//!   header lines, an empty line, then `Content-Length` bytes of body (RFC 2326 §4.3: "the
//!   message body length is determined by the Content-Length header; if absent, zero"). The
//!   body (the SDP of a DESCRIBE reply, ANNOUNCE, SET_PARAMETER) is skipped, never read;
//! * an interleaved binary frame (§10.12): `$`, a channel byte, a 2-byte length, the data;
//! * a stray empty line (some clients send CRLF keep-alives), skipped.
//!
//! Lines end in LF, optionally preceded by CR (bare CR terminators, which RFC 2326 allows, are
//! not recognised: no known implementation sends them; such a message cannot be framed and
//! ends inspection). The header block must fit in [`MAX_HEADER`] bytes. Only `CSeq`,
//! `Transport`, `Session` and `Content-Length` are read; names are case-insensitive.

use super::{RtspError, RtspSessionId};
use crate::text::{starts_with_ci, Cursor, NumError};
use core::ops::Range;

/// Longest start line or header line of interest (RFC 2326 sets no limit).
pub const MAX_LINE: usize = 1024;
/// Longest header block (start line to empty line included).
pub const MAX_HEADER: usize = 4096;
/// Largest Content-Length accepted: an RTSP body is an SDP or a parameter list.
pub const MAX_BODY: u32 = 1 << 24;
/// Longest method name accepted.
const MAX_METHOD: usize = 32;

/// The methods the ALG acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `SETUP` (§10.4): carries the Transport the client asks for.
    Setup,
    /// `TEARDOWN` (§10.7): ends a session.
    Teardown,
    /// Any other method (OPTIONS, DESCRIBE, PLAY, PAUSE, GET_PARAMETER, ...).
    Other,
}

/// Request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    /// A request line.
    Request(Method),
    /// A status line with its Status-Code.
    Response(u16),
}

/// The header block of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Request or response.
    pub start: StartLine,
    /// Bytes of the header block, empty line included.
    pub header_len: usize,
    /// Content-Length (0 when absent).
    pub content_length: u32,
    /// CSeq.
    pub cseq: Option<u32>,
    /// Byte range of the Transport value, relative to the message start.
    pub transport: Option<(usize, usize)>,
    /// Session identifier, hashed.
    pub session: Option<RtspSessionId>,
    /// Why the message must not be acted on (still framed and skipped): unsupported version,
    /// a line of interest too long, a folded or repeated Transport, a bad CSeq.
    pub defect: Option<RtspError>,
}

/// What lies at a boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message (its header block; the body follows).
    Message(Head),
    /// An interleaved binary frame of this many bytes in all.
    Interleaved(usize),
    /// Empty lines of this many bytes.
    Blank(usize),
}

impl Frame {
    /// Bytes from the boundary to the next one.
    pub fn total_len(&self) -> u64 {
        match self {
            Frame::Message(h) => h.header_len as u64 + u64::from(h.content_length),
            Frame::Interleaved(n) | Frame::Blank(n) => *n as u64,
        }
    }
}

/// FNV-1a (32 bits) of a session identifier: a small `Copy` tag for the dataplane.
pub fn session_hash(id: &[u8]) -> RtspSessionId {
    let mut h: u32 = 0x811c_9dc5;
    for &b in id {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    RtspSessionId(h)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'!' | b'*' | b'+')
}

/// `RTSP/1.0`: Ok(true); another `RTSP/x.y`: Ok(false); anything else: Err.
fn version(v: &[u8]) -> Result<bool, RtspError> {
    if !starts_with_ci(v, b"RTSP/") {
        return Err(RtspError::NotRtsp);
    }
    let rest = &v[5..];
    let ok = rest.len() >= 3
        && rest[0].is_ascii_digit()
        && rest[1] == b'.'
        && rest[2..].iter().all(u8::is_ascii_digit);
    if !ok {
        return Err(RtspError::NotRtsp);
    }
    Ok(rest == b"1.0")
}

/// Parses a start line (CR/LF removed): the kind and whether the version is RTSP/1.0.
pub fn start_line(line: &[u8]) -> Result<(StartLine, bool), RtspError> {
    if starts_with_ci(line, b"RTSP/") {
        // Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF
        let sp = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(RtspError::NotRtsp)?;
        let v1 = version(&line[..sp])?;
        let mut c = Cursor::new(line, sp + 1);
        let code = c.number(999).map_err(|_| RtspError::NotRtsp)?;
        if c.pos() != sp + 4 || !(c.at_end() || c.peek() == Some(b' ')) || code < 100 {
            return Err(RtspError::NotRtsp);
        }
        let code = u16::try_from(code).map_err(|_| RtspError::NotRtsp)?;
        return Ok((StartLine::Response(code), v1));
    }
    // Request-Line = Method SP Request-URI SP RTSP-Version CRLF
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(v), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RtspError::NotRtsp);
    };
    if method.is_empty() || method.len() > MAX_METHOD || !method.iter().all(|&b| is_token(b)) {
        return Err(RtspError::NotRtsp);
    }
    if uri.is_empty() {
        return Err(RtspError::NotRtsp);
    }
    let v1 = version(v)?;
    // Methods are case-sensitive (RFC 2326 §6.1).
    let m = match method {
        b"SETUP" => Method::Setup,
        b"TEARDOWN" => Method::Teardown,
        _ => Method::Other,
    };
    Ok((StartLine::Request(m), v1))
}

/// The value range of header `name` if `line` is that header (`Name: value`).
fn header_value(line: &[u8], name: &[u8]) -> Option<Range<usize>> {
    if !starts_with_ci(line, name) {
        return None;
    }
    let mut c = Cursor::new(line, name.len());
    c.skip_blanks();
    if !c.eat(b':') {
        return None;
    }
    c.skip_blanks();
    let mut end = line.len();
    while end > c.pos() && matches!(line[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    Some(c.pos()..end)
}

/// What starts at `rest[0]`, a boundary. `Ok(None)`: not complete in `rest` (split).
/// `Err`: the stream cannot be framed (not RTSP, header block too long, bad Content-Length).
pub fn frame(rest: &[u8]) -> Result<Option<Frame>, RtspError> {
    match rest.first() {
        None => return Ok(None),
        Some(b'$') => {
            // RFC 2326 §10.12: "a dollar sign (24 hexadecimal), followed by a one-byte channel
            // identifier, followed by the length of the encapsulated binary data as a binary,
            // two-byte integer in network byte order."
            let Some(len) = rest.get(2..4) else {
                return Ok(None);
            };
            return Ok(Some(Frame::Interleaved(
                4 + usize::from(u16::from_be_bytes([len[0], len[1]])),
            )));
        }
        Some(b'\n') => return Ok(Some(Frame::Blank(1))),
        Some(b'\r') => {
            return match rest.get(1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some(Frame::Blank(2))),
                Some(_) => Err(RtspError::NotRtsp),
            }
        }
        Some(_) => {}
    }
    let window = &rest[..rest.len().min(MAX_HEADER)];
    let mut pos = 0usize;
    let mut head: Option<Head> = None;
    let mut in_transport = false;
    while pos < window.len() {
        let Some(lf) = window[pos..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let raw = &window[pos..pos + lf];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line_start = pos;
        pos += lf + 1;
        let Some(h) = head.as_mut() else {
            if line.len() > MAX_LINE {
                return Err(RtspError::NotRtsp);
            }
            let (start, v1) = start_line(line)?;
            head = Some(Head {
                start,
                header_len: 0,
                content_length: 0,
                cseq: None,
                transport: None,
                session: None,
                defect: (!v1).then_some(RtspError::UnsupportedVersion),
            });
            continue;
        };
        if line.is_empty() {
            h.header_len = pos;
            return Ok(Some(Frame::Message(*h)));
        }
        if matches!(line[0], b' ' | b'\t') {
            // A folded continuation (RFC 2616 LWS): never expected in a Transport.
            if in_transport {
                h.defect = h.defect.or(Some(RtspError::BadSyntax));
            }
            continue;
        }
        in_transport = false;
        if let Some(v) = header_value(line, b"Content-Length") {
            let mut c = Cursor::new(&line[..v.end], v.start);
            let n = match c.number(MAX_BODY) {
                Ok(n) if c.at_end() => n,
                Ok(_) | Err(NumError::Missing) | Err(NumError::TooLarge) => {
                    return Err(RtspError::BadContentLength)
                }
            };
            if h.content_length != 0 && h.content_length != n {
                return Err(RtspError::BadContentLength);
            }
            h.content_length = n;
        } else if let Some(v) = header_value(line, b"CSeq") {
            let mut c = Cursor::new(&line[..v.end], v.start);
            match c.number(u32::MAX) {
                Ok(n) if c.at_end() && h.cseq.is_none() => h.cseq = Some(n),
                _ => h.defect = h.defect.or(Some(RtspError::BadSyntax)),
            }
        } else if let Some(v) = header_value(line, b"Transport") {
            in_transport = true;
            if line.len() > MAX_LINE {
                h.defect = h.defect.or(Some(RtspError::LineTooLong));
            } else if h.transport.is_some() {
                h.defect = h.defect.or(Some(RtspError::BadSyntax));
            } else {
                h.transport = Some((line_start + v.start, line_start + v.end));
            }
        } else if let Some(v) = header_value(line, b"Session") {
            let value = &line[v];
            let id_end = value
                .iter()
                .position(|&b| matches!(b, b';' | b' ' | b'\t'))
                .unwrap_or(value.len());
            if value.len() > MAX_LINE || id_end == 0 {
                h.defect = h.defect.or(Some(RtspError::BadSyntax));
            } else {
                h.session = Some(session_hash(&value[..id_end]));
            }
        }
    }
    if head.is_none() && window.len() >= MAX_LINE.min(MAX_HEADER) + 2 {
        return Err(RtspError::NotRtsp);
    }
    if rest.len() >= MAX_HEADER {
        return Err(RtspError::HeaderTooLong);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(m: &[u8]) -> Head {
        match frame(m) {
            Ok(Some(Frame::Message(h))) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_and_response_framing() {
        let m = b"SETUP rtsp://h/s/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\nSession: 1234ABCD;timeout=60\r\n\r\nNEXT";
        let h = head(m);
        assert_eq!(h.start, StartLine::Request(Method::Setup));
        assert_eq!(h.header_len, m.len() - 4);
        assert_eq!(h.cseq, Some(4));
        let (a, b) = h.transport.unwrap();
        assert_eq!(&m[a..b], b"RTP/AVP;unicast;client_port=5000-5001");
        assert_eq!(h.session, Some(session_hash(b"1234ABCD")));
        assert_eq!(h.defect, None);
        let r = b"RTSP/1.0 200 OK\nCSeq: 2\ncontent-length: 10\n\n0123456789";
        let h = head(r);
        assert_eq!(h.start, StartLine::Response(200));
        assert_eq!((h.header_len, h.content_length), (r.len() - 10, 10));
        assert_eq!(Frame::Message(h).total_len(), r.len() as u64);
    }

    #[test]
    fn interleaved_blank_and_split() {
        assert_eq!(
            frame(b"$\x01\x00\x05abcde"),
            Ok(Some(Frame::Interleaved(9)))
        );
        assert_eq!(frame(b"$\x01\x00"), Ok(None));
        assert_eq!(frame(b"\r\nOPTIONS"), Ok(Some(Frame::Blank(2))));
        assert_eq!(frame(b"\r"), Ok(None));
        assert_eq!(frame(b"SETUP rtsp://h RTSP/1.0\r\nCSeq: 1\r\n"), Ok(None));
        assert_eq!(frame(b"SETU"), Ok(None));
    }

    #[test]
    fn not_rtsp_and_bad_framing() {
        assert_eq!(frame(b"POST / HTTP/1.1\r\n\r\n"), Err(RtspError::NotRtsp));
        assert_eq!(frame(b"GET /\r\n\r\n"), Err(RtspError::NotRtsp));
        assert_eq!(frame(b"RTSP/1.0 20 OK\r\n\r\n"), Err(RtspError::NotRtsp));
        assert_eq!(frame(b"\rX"), Err(RtspError::NotRtsp));
        assert_eq!(
            frame(b"OPTIONS * RTSP/1.0\r\nContent-Length: 99999999999\r\n\r\n"),
            Err(RtspError::BadContentLength)
        );
        assert_eq!(
            frame(b"OPTIONS * RTSP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(RtspError::BadContentLength)
        );
        let mut long = b"OPTIONS * RTSP/1.0\r\n".to_vec();
        long.resize(MAX_HEADER, b'a');
        assert_eq!(frame(&long), Err(RtspError::HeaderTooLong));
        let mut long_first = b"OPTIONS ".to_vec();
        long_first.resize(MAX_LINE + 10, b'a');
        assert_eq!(frame(&long_first), Err(RtspError::NotRtsp));
    }

    #[test]
    fn defects_keep_framing() {
        let h = head(b"SETUP rtsp://h RTSP/2.0\r\nCSeq: 1\r\n\r\n");
        assert_eq!(h.defect, Some(RtspError::UnsupportedVersion));
        let h = head(
            b"SETUP rtsp://h RTSP/1.0\r\nTransport: RTP/AVP;\r\n client_port=5000-5001\r\n\r\n",
        );
        assert_eq!(h.defect, Some(RtspError::BadSyntax));
        let h = head(b"SETUP rtsp://h RTSP/1.0\r\nTransport: a/b\r\nTransport: c/d\r\n\r\n");
        assert_eq!(h.defect, Some(RtspError::BadSyntax));
        let h = head(b"SETUP rtsp://h RTSP/1.0\r\nCSeq: x\r\n\r\n");
        assert_eq!(h.defect, Some(RtspError::BadSyntax));
        // setup in lower case is another method (methods are case-sensitive).
        let h = head(b"setup rtsp://h RTSP/1.0\r\n\r\n");
        assert_eq!(h.start, StartLine::Request(Method::Other));
    }
}
