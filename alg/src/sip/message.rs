//! One complete SIP message read where it lies: [`SipMessage::parse`] frames it (with the
//! same [`Framer`] the TCP tracker uses, so both agree on its length), reads its start line
//! and the header fields of interest, in long and compact forms (RFC 3261 §7.3.3: `v` Via,
//! `m` Contact, `f` From, `t` To, `l` Content-Length, `i` Call-ID, `c` Content-Type), and
//! its SDP body; the result is a `Copy` value with every span as an offset into the payload.
//!
//! Only the first Via entry is the sender's (RFC 3261 §8.1.1.7: the UA "MUST insert a Via
//! into the request"; proxies add theirs on top), so only it is checked; every span carrying
//! an IPv4 literal is recorded, the rewrite decides which are the subscriber's.

use super::framing::{Framer, Step};
use super::header::{self, Located};
use super::{
    call_id_hash, sdp, Field, Media, Method, SipError, Span, StartLine, Transport, MAX_MEDIA,
    MAX_MESSAGE, MAX_SPANS,
};
use core::net::Ipv4Addr;
use core::ops::Range;

/// The first Contact with an IPv4 host: where the sender wants requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The host.
    pub addr: Ipv4Addr,
    /// The port (5060 when absent).
    pub port: u16,
    /// Its `expires` parameter.
    pub expires: Option<u32>,
}

/// A parsed SIP message. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipMessage {
    /// The start line.
    pub start_line: StartLine,
    /// CSeq number and method.
    pub cseq: Option<(u32, Method)>,
    /// Hash of the Call-ID value ([`call_id_hash`]).
    pub call_id: Option<u64>,
    /// The Expires header.
    pub expires: Option<u32>,
    /// The first Contact with an IPv4 host.
    pub contact: Option<Contact>,
    /// A Contact of `*` (REGISTER: remove every binding).
    pub contact_star: bool,
    /// The first Via's sent-by: host (if IPv4) and port (5060 when absent).
    pub top_via: Option<(Option<Ipv4Addr>, u16)>,
    /// A `maddr` parameter in the Request-URI, a Via, Contact, Record-Route or Route.
    pub maddr: bool,
    /// The body is SDP (Content-Type `application/sdp`).
    pub sdp: bool,
    /// Why the SDP body could not be read (then it has no spans and no media).
    pub sdp_error: Option<SipError>,
    start: u16,
    end: u16,
    body_start: u16,
    spans: [Option<Span>; MAX_SPANS],
    n_spans: u8,
    media: [Option<Media>; MAX_MEDIA],
    n_media: u8,
}

fn u16_of(v: usize) -> Result<u16, SipError> {
    u16::try_from(v).map_err(|_| SipError::MessageTooLong)
}

/// End of the line starting at `i` (without its line end) and the start of the next line.
fn line_at(buf: &[u8], i: usize, end: usize) -> (usize, usize) {
    let mut e = i;
    while e < end && buf[e] != b'\r' && buf[e] != b'\n' {
        e += 1;
    }
    let next = if e + 1 < end && buf[e] == b'\r' && buf[e + 1] == b'\n' {
        e + 2
    } else {
        e + 1
    };
    (e, next)
}

/// The header a name designates, long or compact form (names are case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Via,
    Contact,
    From,
    To,
    RecordRoute,
    Route,
    CallId,
    CSeq,
    Expires,
    ContentLength,
    ContentType,
    Other,
}

fn header_of(name: &[u8]) -> Header {
    const NAMES: [(&[u8], Header); 15] = [
        (b"via", Header::Via),
        (b"v", Header::Via),
        (b"contact", Header::Contact),
        (b"m", Header::Contact),
        (b"from", Header::From),
        (b"f", Header::From),
        (b"to", Header::To),
        (b"t", Header::To),
        (b"record-route", Header::RecordRoute),
        (b"route", Header::Route),
        (b"call-id", Header::CallId),
        (b"i", Header::CallId),
        (b"cseq", Header::CSeq),
        (b"expires", Header::Expires),
        (b"content-length", Header::ContentLength),
    ];
    if name.eq_ignore_ascii_case(b"content-type") || name.eq_ignore_ascii_case(b"c") {
        return Header::ContentType;
    }
    if name.eq_ignore_ascii_case(b"l") {
        return Header::ContentLength;
    }
    NAMES
        .iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map_or(Header::Other, |&(_, h)| h)
}

fn trimmed(buf: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && matches!(buf[s], b' ' | b'\t' | b'\r' | b'\n') {
        s += 1;
    }
    while e > s && matches!(buf[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
        e -= 1;
    }
    (s, e)
}

impl SipMessage {
    fn empty(start_line: StartLine) -> Self {
        Self {
            start_line,
            cseq: None,
            call_id: None,
            expires: None,
            contact: None,
            contact_star: false,
            top_via: None,
            maddr: false,
            sdp: false,
            sdp_error: None,
            start: 0,
            end: 0,
            body_start: 0,
            spans: [None; MAX_SPANS],
            n_spans: 0,
            media: [None; MAX_MEDIA],
            n_media: 0,
        }
    }

    /// The payload bytes of the message (start line to end of body).
    pub fn range(&self) -> Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }

    /// The body's bytes within the payload.
    pub fn body(&self) -> Range<usize> {
        usize::from(self.body_start)..usize::from(self.end)
    }

    /// Whether the message is a request of `method`.
    pub fn is_request(&self, method: Method) -> bool {
        self.start_line == StartLine::Request(method)
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start_line {
            StartLine::Response(c) => Some(c),
            StartLine::Request(_) => None,
        }
    }

    /// Every recorded span, in payload order.
    pub fn spans(&self) -> impl Iterator<Item = &Span> + '_ {
        self.spans.iter().flatten()
    }

    /// Every SDP media line, in order.
    pub fn media(&self) -> impl Iterator<Item = &Media> + '_ {
        self.media.iter().flatten()
    }

    pub(super) fn media_count(&self) -> usize {
        usize::from(self.n_media)
    }

    pub(super) fn push_span(
        &mut self,
        field: Field,
        start: usize,
        end: usize,
        addr: Option<Ipv4Addr>,
        port: Option<u16>,
        media: usize,
    ) -> Result<(), SipError> {
        let slot = self
            .spans
            .get_mut(usize::from(self.n_spans))
            .ok_or(SipError::TooManyMedia)?;
        *slot = Some(Span {
            field,
            start: u16_of(start)?,
            end: u16_of(end)?,
            addr,
            port,
            media: u8::try_from(media).unwrap_or(super::SESSION_LEVEL),
        });
        self.n_spans += 1;
        Ok(())
    }

    pub(super) fn push_media(&mut self, m: Media) -> Result<(), SipError> {
        let slot = self
            .media
            .get_mut(usize::from(self.n_media))
            .ok_or(SipError::TooManyMedia)?;
        *slot = Some(m);
        self.n_media += 1;
        Ok(())
    }

    fn last_media(&mut self) -> Option<&mut Media> {
        let i = usize::from(self.n_media).checked_sub(1)?;
        self.media.get_mut(i)?.as_mut()
    }

    pub(super) fn set_last_media_conn(&mut self, a: Ipv4Addr) {
        if let Some(m) = self.last_media() {
            m.conn = Some(a);
        }
    }

    pub(super) fn set_last_media_conn_opt(&mut self, a: Option<Ipv4Addr>) {
        if let Some(m) = self.last_media() {
            m.conn = a;
        }
    }

    pub(super) fn set_last_media_rtcp(&mut self, p: u16) {
        if let Some(m) = self.last_media() {
            m.rtcp = Some(p);
        }
    }

    fn push_located(&mut self, field: Field, l: &Located) -> Result<(), SipError> {
        self.maddr |= l.params.maddr;
        if let Some(addr) = l.host.addr {
            self.push_span(field, l.host.start, l.host.end, Some(addr), l.host.port, 0)?;
        }
        Ok(())
    }

    /// Parses the complete message that starts at `payload[start..]` (CR/LF before it are
    /// skipped). UDP: the message is the rest of the datagram, and a Content-Length, if
    /// present, must match it exactly. TCP: Content-Length is required and the message ends
    /// with the body it announces, which must lie within `payload`.
    pub fn parse(payload: &[u8], start: usize, transport: Transport) -> Result<Self, SipError> {
        let mut s = start;
        while payload.get(s).is_some_and(|&b| b == b'\r' || b == b'\n') {
            s += 1;
        }
        // Frame: find the end of the header section and the Content-Length.
        let mut framer = Framer::new(false);
        let mut headers_end = None;
        for (i, &b) in payload.iter().enumerate().skip(s) {
            if let Step::HeadersEnd { content_length } = framer.feed(b)? {
                headers_end = Some((i, content_length));
                break;
            }
        }
        let (h, content_length) = headers_end.ok_or(SipError::SplitMessage)?;
        let body_start = if payload[h] == b'\r' && payload.get(h + 1) == Some(&b'\n') {
            h + 2
        } else {
            h + 1
        };
        let end = match (transport, content_length) {
            (Transport::Udp, None) => payload.len(),
            (Transport::Udp, Some(cl)) => {
                let want = body_start.saturating_add(usize::try_from(cl).unwrap_or(usize::MAX));
                if want != payload.len() {
                    return Err(SipError::ContentLengthMismatch);
                }
                want
            }
            (Transport::Tcp, None) => return Err(SipError::MissingContentLength),
            (Transport::Tcp, Some(cl)) => {
                let want = body_start.saturating_add(usize::try_from(cl).unwrap_or(usize::MAX));
                if want > payload.len() {
                    return Err(SipError::SplitMessage);
                }
                want
            }
        };
        if end - s > MAX_MESSAGE {
            return Err(SipError::MessageTooLong);
        }
        // Start line.
        let (sl_end, mut i) = line_at(payload, s, body_start);
        let mut msg = Self::empty(Self::start_line(payload, s, sl_end)?);
        msg.start = u16_of(s)?;
        msg.end = u16_of(end)?;
        msg.body_start = u16_of(body_start)?;
        if let StartLine::Request(_) = msg.start_line {
            // Request-URI: between the first and the last space of the line.
            let a = (s..sl_end).find(|&k| payload[k] == b' ').unwrap_or(sl_end) + 1;
            let z = (s..sl_end).rev().find(|&k| payload[k] == b' ').unwrap_or(s);
            if let Some(l) = header::uri(payload, a, z) {
                msg.push_located(Field::RequestUri, &l)?;
            }
        }
        // Header fields: each with its continuation lines.
        let mut first_via = true;
        while i < h {
            let (mut le, mut next) = line_at(payload, i, body_start);
            if le == i {
                break; // the empty line
            }
            while next < h && matches!(payload[next], b' ' | b'\t') {
                (le, next) = line_at(payload, next, body_start);
            }
            let colon = (i..le)
                .find(|&k| payload[k] == b':')
                .ok_or(SipError::BadHeader)?;
            let (ns, ne) = trimmed(payload, i, colon);
            let (vs, ve) = trimmed(payload, colon + 1, le);
            msg.header(payload, header_of(&payload[ns..ne]), vs, ve, &mut first_via)?;
            i = next;
        }
        if msg.sdp && end > body_start {
            // A bad SDP body does not stop the headers from being translated (an outside
            // host's message must still reach the subscriber): its spans and media are
            // dropped and the checks refuse to open or rewrite anything of it.
            let (n_spans, n_media) = (msg.n_spans, msg.n_media);
            if let Err(e) = sdp::parse(payload, body_start, end, &mut msg) {
                for s in msg.spans.iter_mut().skip(usize::from(n_spans)) {
                    *s = None;
                }
                for m in msg.media.iter_mut().skip(usize::from(n_media)) {
                    *m = None;
                }
                msg.n_spans = n_spans;
                msg.n_media = n_media;
                msg.sdp_error = Some(e);
            }
        }
        Ok(msg)
    }

    fn start_line(buf: &[u8], s: usize, e: usize) -> Result<StartLine, SipError> {
        let line = &buf[s..e];
        if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
            let code = rest
                .get(..3)
                .and_then(header::decimal)
                .filter(|c| (100..=699).contains(c))
                .ok_or(SipError::BadStartLine)?;
            if !matches!(rest.get(3), None | Some(b' ')) {
                return Err(SipError::BadStartLine);
            }
            return Ok(StartLine::Response(
                u16::try_from(code).map_err(|_| SipError::BadStartLine)?,
            ));
        }
        let sp = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(SipError::BadStartLine)?;
        if !line.ends_with(b" SIP/2.0") || sp == 0 || line.len() < sp + 10 {
            return Err(SipError::BadStartLine);
        }
        Ok(StartLine::Request(Method::from_token(&line[..sp])))
    }

    fn header(
        &mut self,
        buf: &[u8],
        h: Header,
        vs: usize,
        ve: usize,
        first_via: &mut bool,
    ) -> Result<(), SipError> {
        let mut err = Ok(());
        match h {
            Header::Via => header::entries(buf, vs, ve, |a, b| {
                let Some(v) = header::via(buf, a, b) else {
                    return;
                };
                // Span.media holds 0 for the top Via entry, 1 for the others.
                let top = usize::from(!*first_via);
                if *first_via {
                    *first_via = false;
                    self.top_via = Some((v.host.addr, v.host.port.unwrap_or(super::SIP_PORT)));
                }
                self.maddr |= v.params.maddr;
                let r = (|| {
                    if let Some(addr) = v.host.addr {
                        let (s, e, p) = (v.host.start, v.host.end, v.host.port);
                        self.push_span(Field::Via, s, e, Some(addr), p, top)?;
                    }
                    if let Some((ra, rb, Some(addr))) = v.params.received {
                        self.push_span(Field::ViaReceived, ra, rb, Some(addr), None, top)?;
                    }
                    if let Some((pa, pb, port)) = v.params.rport {
                        self.push_span(Field::ViaRport, pa, pb, None, Some(port), top)?;
                    }
                    Ok(())
                })();
                if r.is_err() {
                    err = r;
                }
            }),
            Header::Contact => {
                if &buf[vs..ve] == b"*" {
                    self.contact_star = true;
                }
                header::entries(buf, vs, ve, |a, b| {
                    let Some(l) = header::uri(buf, a, b) else {
                        return;
                    };
                    if let (None, Some(addr)) = (self.contact, l.host.addr) {
                        self.contact = Some(Contact {
                            addr,
                            port: l.host.port.unwrap_or(super::SIP_PORT),
                            expires: l.params.expires,
                        });
                    }
                    if let Err(e) = self.push_located(Field::Contact, &l) {
                        err = Err(e);
                    }
                });
            }
            Header::From | Header::To => {
                if let Some(l) = header::uri(buf, vs, ve) {
                    let f = if h == Header::From {
                        Field::From
                    } else {
                        Field::To
                    };
                    // A maddr in From/To names nobody to send to: not a redirection.
                    if let Some(addr) = l.host.addr {
                        self.push_span(f, l.host.start, l.host.end, Some(addr), l.host.port, 0)?;
                    }
                }
            }
            Header::RecordRoute | Header::Route => {
                let f = if h == Header::Route {
                    Field::Route
                } else {
                    Field::RecordRoute
                };
                header::entries(buf, vs, ve, |a, b| {
                    if let Some(l) = header::uri(buf, a, b) {
                        if let Err(e) = self.push_located(f, &l) {
                            err = Err(e);
                        }
                    }
                });
            }
            Header::CallId => {
                if ve == vs {
                    return Err(SipError::BadHeader);
                }
                self.call_id = Some(call_id_hash(&buf[vs..ve]));
            }
            Header::CSeq => {
                let v = &buf[vs..ve];
                let sp = v
                    .iter()
                    .position(|&b| b == b' ' || b == b'\t')
                    .ok_or(SipError::BadHeader)?;
                let n = header::decimal(&v[..sp]).ok_or(SipError::BadHeader)?;
                let (ms, me) = trimmed(v, sp, v.len());
                self.cseq = Some((n, Method::from_token(&v[ms..me])));
            }
            Header::Expires => self.expires = header::decimal(&buf[vs..ve]),
            Header::ContentLength => {
                // The framer checked the value; record the digits for the rewrite.
                if !buf[vs..ve].iter().all(u8::is_ascii_digit) || ve == vs {
                    return Err(SipError::BadHeader);
                }
                // A second copy (even with the same value) would not be rewritten: refused.
                if self.spans().any(|s| s.field == Field::ContentLength) {
                    return Err(SipError::BadHeader);
                }
                self.push_span(Field::ContentLength, vs, ve, None, None, 0)?;
            }
            Header::ContentType => {
                let v = &buf[vs..ve];
                self.sdp = v.len() >= 15 && v[..15].eq_ignore_ascii_case(b"application/sdp");
            }
            Header::Other => {}
        }
        err
    }
}
