//! SIP message framing (RFC 3261 §7): where a message starts, where its header section ends,
//! and how long its body is, read one byte at a time so the same code serves a UDP datagram,
//! a TCP segment and a TCP stream cut into segments.
//!
//! ```text
//! generic-message  =  start-line *message-header CRLF [ message-body ]
//! start-line       =  Request-Line / Status-Line
//! Request-Line     =  Method SP Request-URI SP SIP-Version CRLF
//! Status-Line      =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
//! ```
//!
//! Tolerated because RFC 3261 §7.3.1 and real stacks require it: a line ends in CRLF, a bare
//! LF or a bare CR (an LF right after a CR belongs to the same line end); a header line that
//! starts with SP or HT continues the previous header ("header fields can be extended over
//! multiple lines by preceding each extra line with at least one SP or horizontal tab");
//! blanks between the header name and the colon; CR and LF before a start line are skipped
//! (§7.5: "implementations processing SIP messages over stream-oriented transports MUST
//! ignore any CRLF appearing before the start-line"; RFC 5626 CRLF keep-alives).
//!
//! The body length comes from `Content-Length` (or its compact form `l`) only; §18.3: "In the
//! case of stream-oriented transports such as TCP, the Content-Length header field indicates
//! the size of the body. All SIP implementations MUST use it to determine the size of the
//! body." Every length is bounded: a start or header line (with its continuations) at most
//! [`MAX_HEADER_LEN`] bytes, at most [`MAX_HEADERS`] headers, a header section at most
//! [`MAX_MESSAGE`] bytes, a body at most [`MAX_BODY`] bytes. Two `Content-Length` headers
//! that disagree are an error (the message boundary would be ambiguous).
//!
//! The [`Framer`] is a small `Copy` state machine; the TCP tracker keeps one per direction and
//! the message parser runs a fresh one over a buffer, so both always agree on boundaries.

use super::SipError;

/// Longest start line or header (with its continuation lines), line ends included.
pub const MAX_HEADER_LEN: usize = 1024;
/// Most header fields in one message (continuation lines are part of their header).
pub const MAX_HEADERS: usize = 64;
/// Largest message (start line, headers and body) that is parsed and rewritten; larger ones
/// are tracked on TCP but pass unmodified. Below the 9 KB over which Juniper bypasses its ALG,
/// above the largest legitimate INVITE with SDP we know of (a few KB).
pub const MAX_MESSAGE: usize = 8192;
/// Largest `Content-Length` accepted by the stream tracker (larger: the stream is lost).
pub const MAX_BODY: u32 = 65535;

/// What a byte meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to report.
    More,
    /// This byte is the first byte of a start line.
    MessageStart,
    /// This byte ends the empty line that ends the header section (an LF right after it, if
    /// it is a CR, still belongs to the empty line). `content_length` is the header's value.
    /// In stream mode a message with an empty body reports [`Step::MessageEnd`] instead.
    HeadersEnd {
        /// `Content-Length`, if present.
        content_length: Option<u32>,
    },
    /// This byte is the last of a message (its body, or its empty line if the body is empty).
    MessageEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between messages: CR and LF skipped.
    Idle,
    /// In the start line.
    StartLine,
    /// At the first byte of a line in the header section.
    LineStart,
    /// In a header name (before the colon).
    Name,
    /// Blanks between a header name and its colon.
    BeforeColon,
    /// In a header value.
    Value,
    /// In the body.
    Body,
}

const CONTENT_LENGTH: &[u8] = b"content-length";

/// The streaming framer. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    phase: Phase,
    /// The previous byte was a CR ending a line: an LF now is part of that line end.
    after_cr: bool,
    /// Bytes of the current start line or header, continuation lines included.
    line_len: u16,
    /// Bytes of the current message so far (not counting the body).
    msg_len: u16,
    headers: u8,
    /// Start line: first bytes (for `SIP/2.0 `) and last bytes (for ` SIP/2.0`).
    first: [u8; 8],
    last: [u8; 8],
    /// Start line: still in the method token / the token was valid.
    in_method: bool,
    method_ok: bool,
    /// Start line: the first bytes still spell `SIP/2.0 `.
    status_ok: bool,
    /// Header name: bytes read, and whether they still spell `content-length` or `l`.
    name_len: u8,
    name_cl: bool,
    name_l: bool,
    /// In the body: the first body byte was seen (no LF left to absorb).
    body_started: bool,
    /// The current header is Content-Length; its digits so far; it has ended its digits.
    in_cl: bool,
    digits: Option<u32>,
    digits_done: bool,
    content_length: Option<u32>,
    body_left: u32,
    /// Content-Length is required (TCP) or optional (UDP: the body is the rest).
    require_cl: bool,
}

impl Framer {
    /// A framer at a message boundary. `stream`: TCP (Content-Length required, bodies
    /// followed) rather than one UDP datagram (Content-Length optional, stops at the headers).
    pub const fn new(stream: bool) -> Self {
        Self {
            phase: Phase::Idle,
            after_cr: false,
            line_len: 0,
            msg_len: 0,
            headers: 0,
            first: [0; 8],
            last: [0; 8],
            in_method: false,
            method_ok: false,
            status_ok: false,
            name_len: 0,
            name_cl: false,
            name_l: false,
            body_started: false,
            in_cl: false,
            digits: None,
            digits_done: false,
            content_length: None,
            body_left: 0,
            require_cl: stream,
        }
    }

    /// Whether the framer is between messages (only CR/LF seen since the last one).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// Whether the framer is in a start line.
    pub fn in_start_line(&self) -> bool {
        self.phase == Phase::StartLine
    }

    /// Whether the framer is in the body of a message.
    pub fn in_body(&self) -> bool {
        self.phase == Phase::Body
    }

    fn grow(&mut self) -> Result<(), SipError> {
        self.line_len = self.line_len.saturating_add(1);
        self.msg_len = self.msg_len.saturating_add(1);
        if usize::from(self.line_len) > MAX_HEADER_LEN {
            return Err(SipError::HeaderTooLong);
        }
        if usize::from(self.msg_len) > MAX_MESSAGE {
            return Err(SipError::MessageTooLong);
        }
        Ok(())
    }

    /// Whether the finished start line is a SIP Request-Line or Status-Line.
    fn start_line_ok(&self) -> bool {
        let len = usize::from(self.line_len);
        if len >= 12 && self.first == *b"SIP/2.0 " {
            return true;
        }
        // Request-Line: a method token, SP, something, SP, SIP/2.0.
        self.method_ok && !self.in_method && len >= 11 && self.last == *b" SIP/2.0"
    }

    /// Ends the current header: checks and records a Content-Length value.
    fn end_header(&mut self) -> Result<(), SipError> {
        if self.in_cl {
            let v = self.digits.ok_or(SipError::BadHeader)?;
            if matches!(self.content_length, Some(old) if old != v) {
                return Err(SipError::BadHeader);
            }
            self.content_length = Some(v);
        }
        self.in_cl = false;
        self.digits = None;
        self.digits_done = false;
        Ok(())
    }

    /// The header section ended (empty line seen).
    fn headers_end(&mut self) -> Result<Step, SipError> {
        self.end_header()?;
        let content_length = self.content_length;
        if self.require_cl {
            let cl = content_length.ok_or(SipError::MissingContentLength)?;
            if cl > MAX_BODY {
                return Err(SipError::MessageTooLong);
            }
            self.body_left = cl;
        }
        self.phase = Phase::Body;
        Ok(Step::HeadersEnd { content_length })
    }

    fn reset_message(&mut self) {
        *self = Self {
            after_cr: self.after_cr,
            ..Self::new(self.require_cl)
        };
    }

    /// Consumes one byte. After an error the framer is in an undefined state and must not be
    /// used again (the stream tracker stops parsing for good).
    pub fn feed(&mut self, b: u8) -> Result<Step, SipError> {
        let lf_after_cr = self.after_cr && b == b'\n';
        self.after_cr = b == b'\r';
        let eol = b == b'\r' || b == b'\n';
        match self.phase {
            Phase::Idle => {
                if eol {
                    return Ok(Step::More);
                }
                self.reset_message();
                self.after_cr = false;
                self.phase = Phase::StartLine;
                self.in_method = true;
                self.method_ok = true;
                self.status_ok = true;
                self.start_byte(b)?;
                Ok(Step::MessageStart)
            }
            Phase::StartLine => {
                if eol {
                    if !self.start_line_ok() {
                        return Err(SipError::BadStartLine);
                    }
                    self.grow()?;
                    self.phase = Phase::LineStart;
                    return Ok(Step::More);
                }
                self.start_byte(b)?;
                Ok(Step::More)
            }
            Phase::LineStart => {
                if lf_after_cr {
                    self.msg_len = self.msg_len.saturating_add(1);
                    return Ok(Step::More);
                }
                if b == b' ' || b == b'\t' {
                    // Continuation of the previous header (LWS folding).
                    if self.headers == 0 {
                        return Err(SipError::BadHeader);
                    }
                    self.phase = Phase::Value;
                    if self.in_cl && self.digits.is_some() {
                        self.digits_done = true;
                    }
                    self.grow()?;
                    return Ok(Step::More);
                }
                self.msg_len = self.msg_len.saturating_add(1);
                if usize::from(self.msg_len) > MAX_MESSAGE {
                    return Err(SipError::MessageTooLong);
                }
                if eol {
                    let step = self.headers_end()?;
                    if self.require_cl && self.body_left == 0 {
                        // With an empty body the message ends here; the LF of a CRLF is
                        // skipped as an idle byte.
                        self.phase = Phase::Idle;
                        return Ok(Step::MessageEnd);
                    }
                    return Ok(step);
                }
                self.end_header()?;
                self.headers = self.headers.saturating_add(1);
                if usize::from(self.headers) > MAX_HEADERS {
                    return Err(SipError::TooManyHeaders);
                }
                self.line_len = 1;
                self.phase = Phase::Name;
                self.name_len = 0;
                self.name_cl = true;
                self.name_l = b.eq_ignore_ascii_case(&b'l');
                self.name_byte(b)
            }
            Phase::Name => {
                if eol {
                    return Err(SipError::BadHeader);
                }
                self.grow()?;
                match b {
                    b':' => self.colon(),
                    b' ' | b'\t' => {
                        self.phase = Phase::BeforeColon;
                        Ok(Step::More)
                    }
                    _ => self.name_byte(b),
                }
            }
            Phase::BeforeColon => {
                if eol {
                    return Err(SipError::BadHeader);
                }
                self.grow()?;
                match b {
                    b':' => self.colon(),
                    b' ' | b'\t' => Ok(Step::More),
                    _ => Err(SipError::BadHeader),
                }
            }
            Phase::Value => {
                if eol {
                    self.grow()?;
                    self.phase = Phase::LineStart;
                    return Ok(Step::More);
                }
                self.grow()?;
                if self.in_cl {
                    self.cl_byte(b)?;
                }
                Ok(Step::More)
            }
            Phase::Body => {
                if lf_after_cr && !self.body_started {
                    // The LF of the CRLF that ended the header section.
                    self.after_cr = false;
                    return Ok(Step::More);
                }
                self.body_started = true;
                if !self.require_cl {
                    return Ok(Step::More);
                }
                self.body_left = self.body_left.saturating_sub(1);
                if self.body_left == 0 {
                    self.phase = Phase::Idle;
                    self.after_cr = false;
                    return Ok(Step::MessageEnd);
                }
                Ok(Step::More)
            }
        }
    }

    fn start_byte(&mut self, b: u8) -> Result<(), SipError> {
        let i = usize::from(self.line_len);
        if let Some(slot) = self.first.get_mut(i) {
            *slot = b;
        }
        self.last.copy_within(1.., 0);
        self.last[7] = b;
        if self.in_method {
            if b == b' ' {
                self.in_method = false;
                self.method_ok &= i > 0;
            } else if !is_token(b) {
                self.method_ok = false;
            }
        }
        // Neither a method token nor `SIP/2.0 `: refused at once, not at the line end (a
        // binary or TLS stream to port 5060 is given up after a few bytes).
        let status_prefix = i >= 8 || b"SIP/2.0 ".get(i) == Some(&b);
        self.status_ok &= status_prefix;
        if !self.method_ok && !self.status_ok {
            return Err(SipError::BadStartLine);
        }
        self.grow()
    }

    fn name_byte(&mut self, b: u8) -> Result<Step, SipError> {
        if !is_token(b) {
            return Err(SipError::BadHeader);
        }
        let i = usize::from(self.name_len);
        self.name_cl &= CONTENT_LENGTH
            .get(i)
            .is_some_and(|c| c.eq_ignore_ascii_case(&b));
        self.name_len = self.name_len.saturating_add(1);
        Ok(Step::More)
    }

    fn colon(&mut self) -> Result<Step, SipError> {
        let n = usize::from(self.name_len);
        if n == 0 {
            return Err(SipError::BadHeader);
        }
        let is_l = n == 1 && self.name_l;
        self.in_cl = (self.name_cl && n == CONTENT_LENGTH.len()) || is_l;
        self.digits = None;
        self.digits_done = false;
        self.phase = Phase::Value;
        Ok(Step::More)
    }

    fn cl_byte(&mut self, b: u8) -> Result<(), SipError> {
        match b {
            b'0'..=b'9' if !self.digits_done => {
                let v = u64::from(self.digits.unwrap_or(0)) * 10 + u64::from(b - b'0');
                if v > u64::from(MAX_BODY) * 16 {
                    return Err(SipError::MessageTooLong);
                }
                self.digits = Some(u32::try_from(v).map_err(|_| SipError::MessageTooLong)?);
                Ok(())
            }
            b' ' | b'\t' => {
                if self.digits.is_some() {
                    self.digits_done = true;
                }
                Ok(())
            }
            _ => Err(SipError::BadHeader),
        }
    }
}

/// RFC 3261 §25.1 `token` characters.
pub fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}
