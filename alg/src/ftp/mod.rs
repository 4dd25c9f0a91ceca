//! FTP control channel (RFC 959, RFC 2428, RFC 1639): find the lines that announce a data
//! connection endpoint, check them, and rewrite the ones an inside host sent.
//!
//! Two steps, so the dataplane allocates a public port only for a message that passed every
//! check:
//!
//! 1. [`FtpState::scan`] walks the complete lines of one segment that start at a line
//!    boundary the state tracked (see [`lines`]) and yields, per line of interest, either an
//!    [`FtpMessage`] (what was announced, where its text lies, who sent it) or the
//!    [`FtpError`] that refused it. Lines of no interest are skipped silently.
//! 2. For a message from an inside host, [`FtpMessage::rewrite`] builds the [`Edit`] that puts
//!    the public endpoint in its place and [`FtpMessage::inbound_expectation`] the pinhole; for
//!    one from an outside host nothing is rewritten and
//!    [`FtpMessage::outbound_expectation`] relates the subscriber's coming connection to it.
//!
//! [`process`] does both steps for one segment with the documented policies and is what the
//! dataplane is expected to call. Policies (also in `docs/alg.md`):
//!
//! * Hardening: the embedded address must equal the packet's real source address
//!   ([`FtpError::AddressMismatch`] from an inside host: FTP bounce towards a third host;
//!   [`FtpError::ThirdPartyHost`] from an outside host); ports below 1024 are refused
//!   ([`FtpError::PrivilegedPort`]); numbers above 255 ([`FtpError::BadNumber`]); keyword lines
//!   longer than [`MAX_LINE`] ([`FtpError::LineTooLong`]). A refused line passes unmodified.
//! * Split command: a line of interest that is not complete at the end of a segment (no LF
//!   yet) is not parsed and is reported as [`FtpError::SplitCommand`]; its continuation in the
//!   next segment does not start at a line boundary and is never parsed either. The
//!   recommended action (what Linux does) is to drop the segment so the sender retransmits, in
//!   the hope that the retransmission carries the whole line; [`FtpOutcome::hold`] says so.
//! * `234` (AUTH TLS accepted, RFC 4217) ends inspection of the session: everything after is
//!   TLS ([`FtpError::TlsStarted`]).

pub mod lines;
mod parse;
mod process;
#[cfg(test)]
mod tests;

pub use lines::LineTracker;
pub use process::{process, FtpOutcome, MAX_SPLIT_HOLDS};

use crate::edit::{Edit, EditError};
use crate::expect::{Expectation, Protocol, Side};
use crate::text::{is_prefix_ci, starts_with_ci, TextBuf};
use core::net::{Ipv4Addr, SocketAddrV4};
use core::ops::Range;
use parse::Parsed;

/// Longest line (without CRLF) in which an address is looked for. RFC 959 sets no limit; the
/// longest legitimate line of interest (`LPRT` with blanks) is well under 100 bytes.
pub const MAX_LINE: usize = 512;

/// Lowest data port accepted in an announcement (RFC 6888/Linux practice: never open a
/// pinhole to a privileged port).
pub const MIN_DATA_PORT: u16 = 1024;

/// Longest payload inspected: an IP payload never exceeds this, and edit offsets are 16 bits.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

reasons! {
    /// Why an FTP line was not turned into a rewrite and an expectation. One counter each.
    pub enum FtpError : "alg_ftp_" {
        /// A segment began with a command or reply keyword at a place that is not a line
        /// start the ALG tracked (mid-line, or after a gap): not parsed.
        NotAtBoundary => "not_at_boundary",
        /// A line of interest was cut by the end of the segment: not parsed (split-command
        /// policy).
        SplitCommand => "split_command",
        /// A line of interest longer than [`MAX_LINE`].
        LineTooLong => "line_too_long",
        /// The line does not follow the grammar (missing comma, delimiter, digits, trailing
        /// junk, ...).
        BadSyntax => "bad_syntax",
        /// A number that must fit in a byte was above 255.
        BadNumber => "bad_number",
        /// Port 0 or above 65535.
        PortOutOfRange => "port_out_of_range",
        /// Port below [`MIN_DATA_PORT`].
        PrivilegedPort => "privileged_port",
        /// An inside host announced an address that is not its own (FTP bounce, or a
        /// pinhole to another internal host).
        AddressMismatch => "address_mismatch",
        /// An outside host announced an address that is not its own.
        ThirdPartyHost => "third_party_host",
        /// EPRT/LPRT/228 for another address family (IPv6): passed unmodified.
        UnsupportedFamily => "unsupported_family",
        /// The server accepted AUTH TLS: the rest of the session cannot be inspected.
        TlsStarted => "tls_started",
        /// The dataplane had no public port to give the announced endpoint.
        NoPublicPort => "no_public_port",
        /// More rewrites in one segment than the dataplane's edit list holds.
        TooManyRewrites => "too_many_rewrites",
        /// The sequence-correction history of the direction is full of unacknowledged
        /// corrections (see [`crate::seq`]).
        SeqHistoryFull => "seq_history_full",
        /// A retransmitted line was rewritten differently from the first time.
        SeqOutOfOrder => "seq_out_of_order",
        /// An edit could not be built (cannot happen for FTP texts; counted, never silent).
        EditFailed => "edit_failed",
    }
}

/// Which end of the FTP control connection sent a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtpSender {
    /// The user-PI: sends commands (PORT, EPRT, LPRT).
    Client,
    /// The server-PI: sends replies (227, 228, 229).
    Server,
}

/// The kind of an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtpKind {
    /// `PORT h1,h2,h3,h4,p1,p2` (RFC 959).
    Port,
    /// `EPRT |1|a.b.c.d|port|` (RFC 2428).
    Eprt,
    /// `LPRT 4,4,h1,h2,h3,h4,2,p1,p2` (RFC 1639).
    Lprt,
    /// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (RFC 959).
    Pasv,
    /// `228 Entering Long Passive Mode (4,4,...)` (RFC 1639).
    LongPasv,
    /// `229 Entering Extended Passive Mode (|||port|)` (RFC 2428).
    ExtPasv,
}

impl FtpKind {
    /// Keyword, as written on the wire (case-insensitive for commands).
    pub const fn keyword(self) -> &'static str {
        match self {
            FtpKind::Port => "PORT",
            FtpKind::Eprt => "EPRT",
            FtpKind::Lprt => "LPRT",
            FtpKind::Pasv => "227",
            FtpKind::LongPasv => "228",
            FtpKind::ExtPasv => "229",
        }
    }
}

/// Lines of interest per sender: keyword and the trailing space (a reply code followed by `-`
/// starts a multi-line reply, which never carries the address in practice and is skipped).
const CLIENT_KEYWORDS: [(&[u8], FtpKind); 3] = [
    (b"PORT ", FtpKind::Port),
    (b"EPRT ", FtpKind::Eprt),
    (b"LPRT ", FtpKind::Lprt),
];
const SERVER_KEYWORDS: [(&[u8], FtpKind); 3] = [
    (b"227 ", FtpKind::Pasv),
    (b"228 ", FtpKind::LongPasv),
    (b"229 ", FtpKind::ExtPasv),
];

fn keywords(sender: FtpSender) -> &'static [(&'static [u8], FtpKind); 3] {
    match sender {
        FtpSender::Client => &CLIENT_KEYWORDS,
        FtpSender::Server => &SERVER_KEYWORDS,
    }
}

/// The kind of line `line` is, if it is one of interest.
fn classify(sender: FtpSender, line: &[u8]) -> Option<FtpKind> {
    keywords(sender)
        .iter()
        .find(|(kw, _)| starts_with_ci(line, kw))
        .map(|&(_, k)| k)
}

/// Whether an unterminated `tail` is, or may become, a line of interest.
fn maybe_of_interest(sender: FtpSender, tail: &[u8]) -> bool {
    keywords(sender)
        .iter()
        .any(|(kw, _)| starts_with_ci(tail, kw) || is_prefix_ci(tail, kw))
        && !tail.is_empty()
}

/// `234` (RFC 4217 §4: "234 Security data exchange complete" / AUTH accepted).
fn is_tls_accept(line: &[u8]) -> bool {
    line.starts_with(b"234") && matches!(line.get(3), None | Some(b' ' | b'-'))
}

/// One segment of the control connection as the dataplane sees it.
#[derive(Debug, Clone, Copy)]
pub struct FtpSegment<'a> {
    /// Which end of the FTP connection sent it.
    pub sender: FtpSender,
    /// Which side of the NAT the sender is on.
    pub sender_side: Side,
    /// Original (pre-correction) TCP sequence number of `payload[0]`.
    pub seq: u32,
    /// The packet's real source address: the subscriber's inside address when
    /// `sender_side` is `Inside`, the remote's address when `Outside`.
    pub src: Ipv4Addr,
    /// TCP payload.
    pub payload: &'a [u8],
}

/// An announcement found in a line: who sent it, what it names, where its text lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FtpMessage {
    /// What kind of line.
    pub kind: FtpKind,
    /// Which side of the NAT the sender is on.
    pub sender_side: Side,
    /// The announced address (for 229, the sender's own address), already checked to be the
    /// packet's real source.
    pub addr: Ipv4Addr,
    /// The announced port, already checked to be at least [`MIN_DATA_PORT`].
    pub port: u16,
    /// Original sequence number of the first byte of the line: identifies the same line in a
    /// retransmission.
    pub line_seq: u32,
    start: u16,
    end: u16,
    delim: u8,
}

impl FtpMessage {
    fn new(p: Parsed, seg: &FtpSegment<'_>, line_off: usize) -> Result<Self, FtpError> {
        let addr = p.addr.unwrap_or(seg.src);
        if addr != seg.src {
            return Err(match seg.sender_side {
                Side::Inside => FtpError::AddressMismatch,
                Side::Outside => FtpError::ThirdPartyHost,
            });
        }
        if p.port == 0 {
            return Err(FtpError::PortOutOfRange);
        }
        if p.port < MIN_DATA_PORT {
            return Err(FtpError::PrivilegedPort);
        }
        let off = |i: usize| u16::try_from(line_off + i).map_err(|_| FtpError::LineTooLong);
        Ok(Self {
            kind: p.kind,
            sender_side: seg.sender_side,
            addr,
            port: p.port,
            line_seq: seg.seq.wrapping_add(u32::try_from(line_off).unwrap_or(0)),
            start: off(p.start)?,
            end: off(p.end)?,
            delim: p.delim,
        })
    }

    /// The announced endpoint.
    pub fn endpoint(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, self.port)
    }

    /// Byte range of the address/port text within the segment payload.
    pub fn span(&self) -> Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }

    /// Whether the text must be rewritten (the sender is an inside host, whose address the
    /// peer must never see).
    pub fn needs_rewrite(&self) -> bool {
        self.sender_side == Side::Inside
    }

    /// The edit replacing the announced endpoint by `public`, in the format of the original
    /// (`h1,h2,...` for PORT/227, `a.b.c.d<d>port` for EPRT, the port alone for 229).
    pub fn rewrite(&self, public: SocketAddrV4) -> Result<Edit, EditError> {
        let mut t = TextBuf::new();
        let [p1, p2] = public.port().to_be_bytes();
        match self.kind {
            FtpKind::Port | FtpKind::Pasv => {
                t.push_addr(*public.ip(), b',')
                    .push(b',')
                    .push_dec(p1.into())
                    .push(b',')
                    .push_dec(p2.into());
            }
            FtpKind::Lprt | FtpKind::LongPasv => {
                t.push_dec(4)
                    .push(b',')
                    .push_dec(4)
                    .push(b',')
                    .push_addr(*public.ip(), b',')
                    .push(b',')
                    .push_dec(2)
                    .push(b',')
                    .push_dec(p1.into())
                    .push(b',')
                    .push_dec(p2.into());
            }
            FtpKind::Eprt => {
                t.push_addr(*public.ip(), b'.')
                    .push(self.delim)
                    .push_dec(public.port().into());
            }
            FtpKind::ExtPasv => {
                t.push_dec(public.port().into());
            }
        }
        let text = t.as_slice().ok_or(EditError::TextTooLong)?;
        let span = self.span();
        Edit::new(span.start, span.len(), text)
    }

    /// The pinhole for a message from an inside host: `peer` (the real address of the other
    /// end of the control connection) connects from any port to `public`, which the dataplane
    /// translates to the announced endpoint.
    pub fn inbound_expectation(&self, peer: Ipv4Addr, public: SocketAddrV4) -> Expectation {
        Expectation::inbound(Protocol::Tcp, peer, public, self.endpoint())
    }

    /// For a message from an outside host: the subscriber `inside_host` (the packet's real
    /// destination) will connect to the announced endpoint, which is the sender's own address.
    pub fn outbound_expectation(&self, inside_host: Ipv4Addr) -> Expectation {
        Expectation::outbound(Protocol::Tcp, inside_host, self.endpoint())
    }
}

/// The public endpoint given to an inside host's announcement, kept so that a retransmission
/// of the same line is rewritten to exactly the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    line_seq: u32,
    kind: FtpKind,
    endpoint: SocketAddrV4,
    public: SocketAddrV4,
}

/// Per-session FTP ALG state the dataplane keeps (both directions): where lines start, whether
/// TLS started, and the last public endpoint handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FtpState {
    client: LineTracker,
    server: LineTracker,
    tls: bool,
    announced: Option<Announced>,
    /// The split line the last held segment ended with, and how many times it was held.
    held: Option<(u32, u8)>,
}

impl FtpState {
    /// State for a new control connection. Call [`FtpState::synchronize`] with each side's
    /// initial sequence number + 1 when the SYN and SYN-ACK are seen; otherwise the first line
    /// of each direction is skipped and tracking starts at its LF.
    pub const fn new() -> Self {
        Self {
            client: LineTracker::new(),
            server: LineTracker::new(),
            tls: false,
            announced: None,
            held: None,
        }
    }

    /// Declares that `sender`'s first data byte has sequence number `first_seq` (ISN + 1).
    pub fn synchronize(&mut self, sender: FtpSender, first_seq: u32) {
        self.tracker(sender).remember(first_seq);
    }

    /// Whether TLS started on the control connection (nothing is inspected any more).
    pub fn is_encrypted(&self) -> bool {
        self.tls
    }

    fn tracker(&mut self, sender: FtpSender) -> &mut LineTracker {
        match sender {
            FtpSender::Client => &mut self.client,
            FtpSender::Server => &mut self.server,
        }
    }

    /// The public endpoint already given to this very line (a retransmission), if any.
    pub fn public_for(&self, msg: &FtpMessage) -> Option<SocketAddrV4> {
        self.announced
            .filter(|a| a.line_seq == msg.line_seq && a.kind == msg.kind)
            .filter(|a| a.endpoint == msg.endpoint())
            .map(|a| a.public)
    }

    /// Remembers the public endpoint given to `msg`, for [`FtpState::public_for`].
    pub fn remember_public(&mut self, msg: &FtpMessage, public: SocketAddrV4) {
        self.announced = Some(Announced {
            line_seq: msg.line_seq,
            kind: msg.kind,
            endpoint: msg.endpoint(),
            public,
        });
    }

    /// Forgets the remembered announcement if its public endpoint was given back.
    fn forget_released<'p>(&mut self, released: impl Iterator<Item = &'p SocketAddrV4>) {
        let mut released = released;
        if let Some(a) = self.announced {
            if released.any(|p| *p == a.public) {
                self.announced = None;
            }
        }
    }

    /// Scans one segment. Drive the iterator to the end (dropping it early finishes the scan
    /// silently, so the line tracking stays right).
    pub fn scan<'s, 'a>(&'s mut self, seg: FtpSegment<'a>) -> FtpScan<'s, 'a> {
        let payload = &seg.payload[..seg.payload.len().min(MAX_PAYLOAD)];
        let seg = FtpSegment { payload, ..seg };
        let mut scan = FtpScan {
            state: self,
            seg,
            pos: payload.len(),
            pending: None,
            split: None,
        };
        if scan.state.tls || payload.is_empty() {
            return scan;
        }
        let tracker = *scan.state.tracker(seg.sender);
        let start = if tracker.is_line_start(seg.seq) {
            Some(0)
        } else if let Some(off) = tracker.first_start_within(seg.seq, payload.len()) {
            Some(off)
        } else if let Some(lf) = payload.iter().position(|&b| b == b'\n') {
            let off = lf + 1;
            scan.remember(off);
            Some(off)
        } else {
            None
        };
        let start = start.unwrap_or(payload.len());
        if start > 0 && classify(seg.sender, payload).is_some() {
            scan.pending = Some(FtpError::NotAtBoundary);
        }
        scan.pos = start;
        scan
    }
}

/// The lines of interest of one segment, in order. See [`FtpState::scan`].
#[derive(Debug)]
pub struct FtpScan<'s, 'a> {
    state: &'s mut FtpState,
    seg: FtpSegment<'a>,
    pos: usize,
    pending: Option<FtpError>,
    split: Option<u32>,
}

impl FtpScan<'_, '_> {
    /// Original sequence number of the line of interest cut by the end of the segment, once
    /// the scan reported [`FtpError::SplitCommand`] for it.
    pub fn split_line_seq(&self) -> Option<u32> {
        self.split
    }

    fn remember(&mut self, off: usize) {
        let seq = self
            .seg
            .seq
            .wrapping_add(u32::try_from(off).unwrap_or(u32::MAX));
        self.state.tracker(self.seg.sender).remember(seq);
    }

    /// See [`FtpState::public_for`].
    pub fn public_for(&self, msg: &FtpMessage) -> Option<SocketAddrV4> {
        self.state.public_for(msg)
    }

    /// See [`FtpState::remember_public`].
    pub fn remember_public(&mut self, msg: &FtpMessage, public: SocketAddrV4) {
        self.state.remember_public(msg, public);
    }

    /// One complete line at payload offset `off` (CR/LF removed).
    fn line(&mut self, off: usize, line: &[u8]) -> Option<Result<FtpMessage, FtpError>> {
        let sender = self.seg.sender;
        if sender == FtpSender::Server && is_tls_accept(line) {
            self.state.tls = true;
            self.pos = self.seg.payload.len();
            return Some(Err(FtpError::TlsStarted));
        }
        let kind = classify(sender, line)?;
        if line.len() > MAX_LINE {
            return Some(Err(FtpError::LineTooLong));
        }
        let at = kind.keyword().len() + 1;
        let parsed = match kind {
            FtpKind::Port => parse::port_cmd(line, at),
            FtpKind::Eprt => parse::eprt_cmd(line, at),
            FtpKind::Lprt => parse::lprt_cmd(line, at),
            FtpKind::Pasv => parse::reply_227(line, at),
            FtpKind::LongPasv => parse::reply_228(line, at),
            FtpKind::ExtPasv => parse::reply_229(line, at),
        };
        Some(parsed.and_then(|p| FtpMessage::new(p, &self.seg, off)))
    }
}

impl Iterator for FtpScan<'_, '_> {
    type Item = Result<FtpMessage, FtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let payload = self.seg.payload;
        while self.pos < payload.len() {
            let start = self.pos;
            let rest = &payload[start..];
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                self.pos = payload.len();
                if maybe_of_interest(self.seg.sender, rest) {
                    if rest.len() > MAX_LINE {
                        return Some(Err(FtpError::LineTooLong));
                    }
                    let seq = u32::try_from(start).unwrap_or(0);
                    self.split = Some(self.seg.seq.wrapping_add(seq));
                    return Some(Err(FtpError::SplitCommand));
                }
                return None;
            };
            self.pos = start + lf + 1;
            self.remember(self.pos);
            let line = &rest[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(r) = self.line(start, line) {
                return Some(r);
            }
        }
        None
    }
}

impl Drop for FtpScan<'_, '_> {
    fn drop(&mut self) {
        self.pending = None;
        while self.next().is_some() {}
    }
}
