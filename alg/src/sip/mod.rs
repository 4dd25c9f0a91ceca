//! SIP (RFC 3261) over UDP and TCP with SDP bodies (RFC 4566, RFC 3264): find the addresses a
//! NAT must translate, rewrite them, and announce the media flows to let through.
//!
//! The same two steps as FTP, so the dataplane allocates public ports only for a message that
//! passed every check:
//!
//! 1. **Scan.** [`SipMessage::parse`] reads one complete message at a known message boundary
//!    of a payload and returns a `Copy` description: the start line, Call-ID (hashed), CSeq,
//!    Expires, every `host[:port]` carrying an IPv4 literal in the Request-URI, Via (sent-by,
//!    `received`, `rport`), Contact, From, To, Record-Route and Route, the SDP `o=`, `c=`,
//!    `m=` and `a=rtcp` fields, and the Content-Length value, each as a [`Span`] (offsets into
//!    the original payload). For UDP a datagram is one message; for TCP, [`SipStream`] tracks
//!    message boundaries across segments and says which complete messages a segment holds.
//! 2. **Rewrite.** For a message from an inside host, [`SipMessage::check_outbound`] applies
//!    the hardening rules, [`SipMessage::media_to_map`] lists the media whose RTP/RTCP ports need
//!    public ports, the dataplane allocates even/odd public pairs from the subscriber's block
//!    and passes them as [`MediaMap`]s to [`SipMessage::rewrite_outbound`], which returns the
//!    edits (Content-Length recomputed), and [`SipMessage::inbound_expectations`] the media
//!    pinholes. For a message from an outside host, [`SipMessage::rewrite_inbound`] puts the
//!    subscriber's inside address back where the peer wrote its public one, and
//!    [`SipMessage::outbound_expectations`] relates the subscriber's coming media flows.
//! 3. **State.** [`SipSession`] (one per master session) remembers the call's expectations by
//!    Call-ID to remove them on BYE/CANCEL/failure, enforces limits per call and per session,
//!    and runs the REGISTER → 2xx → inbound Contact expectation logic.
//!
//! Policies are documented in `docs/alg.md` ("SIP") and next to the code that enforces them.

mod framing;
pub mod header;
mod message;
mod process;
mod rewrite;
mod sdp;
mod session;
mod stream;
#[cfg(test)]
mod tests;

pub use framing::{Framer, Step, MAX_BODY, MAX_HEADERS, MAX_HEADER_LEN, MAX_MESSAGE};
pub use message::{Contact, SipMessage};
pub use process::{process, SipOutcome, SipPacket, MAX_OUTCOME_EXPECTATIONS, MAX_SPLIT_HOLDS};
pub use rewrite::{MediaMap, Translation, MAX_EDITS};
pub use session::{
    RegisterEvent, Removed, SipSession, CALL_TIMEOUT_SECS, MAX_CALLS, MAX_CALL_EXPECTATIONS,
    REGISTER_DEFAULT_EXPIRES,
};
pub use stream::{SipStream, StreamScan, MAX_GAP_HOLDS, MAX_MESSAGES_PER_SEGMENT};

use core::net::Ipv4Addr;

/// The well-known SIP port (RFC 3261 §19.1.1: "the default port value is ... 5060 for UDP,
/// TCP and SCTP").
pub const SIP_PORT: u16 = 5060;
/// Most `host[:port]` spans (IPv4 literals, SDP fields, Content-Length) recorded per message.
pub const MAX_SPANS: usize = 32;
/// Most `m=` lines per SDP body.
pub const MAX_MEDIA: usize = 8;
/// Lowest RTP/RTCP port a pinhole is opened to (RFC 3550 §11 puts RTP on dynamic ports; a
/// port below 1024 is a privileged service, never media).
pub const MIN_MEDIA_PORT: u16 = 1024;
/// Largest `m=` port count (`49170/2`) accepted: RFC 3264 §5.1 offers it for layered codecs
/// only; nobody uses it with SIP, so anything but 1 is refused.
pub const MAX_PORT_COUNT: u16 = 1;
/// Media index of a session-level `c=` span.
pub const SESSION_LEVEL: u8 = u8::MAX;

reasons! {
    /// Why a SIP message was not (fully) translated or opened nothing. One counter each.
    pub enum SipError : "alg_sip_" {
        /// A TCP connection whose first bytes are not a SIP start line (an HTTP request to
        /// port 5060, NAT Slipstreaming): it is never parsed.
        NotSipStream => "not_sip_stream",
        /// A segment that does not start at, or contain, a message boundary the tracker
        /// followed from the stream's start (or the tracker lost sync): not parsed.
        NotAtBoundary => "not_at_boundary",
        /// Neither a Request-Line nor a Status-Line.
        BadStartLine => "bad_start_line",
        /// A header without a colon, a bad or repeated Content-Length, a bad Call-ID/CSeq.
        BadHeader => "bad_header",
        /// A start line or header over [`MAX_HEADER_LEN`].
        HeaderTooLong => "header_too_long",
        /// More than [`MAX_HEADERS`] headers.
        TooManyHeaders => "too_many_headers",
        /// A message over [`MAX_MESSAGE`] (passed unmodified).
        MessageTooLong => "message_too_long",
        /// No Content-Length on TCP (RFC 3261 §20.14: mandatory on streams).
        MissingContentLength => "missing_content_length",
        /// Content-Length does not match the datagram's body.
        ContentLengthMismatch => "content_length_mismatch",
        /// A message incomplete in its segment (split over segments) or datagram.
        SplitMessage => "split_message",
        /// A TCP segment after a hole in the stream (held so the sender retransmits).
        StreamGap => "stream_gap",
        /// An inside host wrote an address that is not its own in Via/Contact/SDP.
        AddressMismatch => "address_mismatch",
        /// An outside host announced media at an address that is not its own.
        ThirdPartyHost => "third_party_host",
        /// A `maddr` parameter (redirection to a third host): nothing opened.
        Maddr => "maddr",
        /// A media or Contact port below [`MIN_MEDIA_PORT`] (or 0 for a Contact).
        PrivilegedPort => "privileged_port",
        /// An odd RTP port (RFC 3550 §11: RTP on even, RTCP on the next odd port).
        OddRtpPort => "odd_rtp_port",
        /// An `m=` port count above [`MAX_PORT_COUNT`].
        PortCount => "port_count",
        /// More than [`MAX_MEDIA`] media lines or [`MAX_SPANS`] addresses.
        TooManyMedia => "too_many_media",
        /// An SDP line off-grammar (`c=` without `IN IP4 <addr>`, bad port).
        BadSdp => "bad_sdp",
        /// The dataplane had no public port pair for a media line.
        NoPublicPort => "no_public_port",
        /// More edits than the dataplane's edit list holds.
        TooManyRewrites => "too_many_rewrites",
        /// The sequence-correction history of the direction is full.
        SeqHistoryFull => "seq_history_full",
        /// A retransmitted message was rewritten differently from the first time.
        SeqOutOfOrder => "seq_out_of_order",
        /// More calls or expectations than a session or a call may have.
        CallLimit => "call_limit",
        /// A REGISTER response not matching the pending REGISTER (other Call-ID, CSeq, or
        /// sender than the registrar it was sent to).
        RegisterUnmatched => "register_unmatched",
        /// An edit could not be built (should stay 0).
        EditFailed => "edit_failed",
    }
}

/// Transport of the master session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: one message per datagram, Content-Length optional.
    Udp,
    /// TCP: a stream of messages framed by Content-Length.
    Tcp,
}

/// SIP methods the ALG distinguishes (RFC 3261, RFC 3262, RFC 3311, RFC 3265).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// REGISTER.
    Register,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// Anything else (OPTIONS, INFO, MESSAGE, ...).
    Other,
}

impl Method {
    /// The method named by `token` (case-sensitive, RFC 3261 §7.1).
    pub fn from_token(t: &[u8]) -> Self {
        match t {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            _ => Method::Other,
        }
    }
}

/// A message's start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartLine {
    /// A request.
    Request(Method),
    /// A response with its status code (100..=699).
    Response(u16),
}

/// Where a span lies and what the bytes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `host[:port]` of the Request-URI.
    RequestUri,
    /// `host[:port]` of a Via sent-by.
    Via,
    /// Value of a Via `received=` parameter (address only).
    ViaReceived,
    /// Value of a Via `rport=` parameter (port only).
    ViaRport,
    /// `host[:port]` of a Contact URI.
    Contact,
    /// `host[:port]` of the From URI.
    From,
    /// `host[:port]` of the To URI.
    To,
    /// `host[:port]` of a Record-Route URI.
    RecordRoute,
    /// `host[:port]` of a Route URI.
    Route,
    /// SDP `o=` unicast address.
    Origin,
    /// SDP `c=` connection address (session or media level).
    Connection,
    /// SDP `m=` port (port only).
    MediaPort,
    /// SDP `a=rtcp:` port (port only).
    Rtcp,
    /// SDP `a=rtcp:` address.
    RtcpAddr,
    /// Content-Length value (digits).
    ContentLength,
}

impl Field {
    /// Whether the span is SIP `host[:port]` text (address with an optional port).
    pub const fn is_hostport(self) -> bool {
        matches!(
            self,
            Field::RequestUri
                | Field::Via
                | Field::Contact
                | Field::From
                | Field::To
                | Field::RecordRoute
                | Field::Route
        )
    }
}

/// Bytes `[start, end)` of the original payload and what they say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// What the bytes are.
    pub field: Field,
    /// First byte, relative to the payload.
    pub start: u16,
    /// One past the last byte.
    pub end: u16,
    /// The IPv4 address written, if the field has one.
    pub addr: Option<Ipv4Addr>,
    /// The port written, if any (for `host[:port]`, `None` when absent).
    pub port: Option<u16>,
    /// For SDP fields, the index of the media line (or [`SESSION_LEVEL`]).
    pub media: u8,
}

/// Kind of an SDP media line, for per-kind limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `image` (T.38 fax).
    Image,
    /// Anything else (`text`, `application`, `message`).
    Other,
}

impl MediaKind {
    fn from_token(t: &[u8]) -> Self {
        match t {
            b"audio" => MediaKind::Audio,
            b"video" => MediaKind::Video,
            b"image" => MediaKind::Image,
            _ => MediaKind::Other,
        }
    }
}

/// One SDP `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Media {
    /// The media type.
    pub kind: MediaKind,
    /// The RTP port (0: the stream is disabled, RFC 3264 §8.2).
    pub port: u16,
    /// The number of ports (`/n`), 1 if absent.
    pub count: u16,
    /// The transport is UDP-based (RTP/AVP, RTP/SAVP(F), udptl, UDP/TLS/...); TCP media
    /// (`TCP/MSRP`, `TCP/RTP/AVP`) is neither rewritten nor opened.
    pub udp: bool,
    /// The effective connection address (media `c=`, else session `c=`).
    pub conn: Option<Ipv4Addr>,
    /// The RTCP port from `a=rtcp` (RFC 3605), if any; otherwise RTP port + 1.
    pub rtcp: Option<u16>,
}

impl Media {
    /// The RTCP port: `a=rtcp` or the next port (RFC 3550 §11).
    pub fn rtcp_port(&self) -> Option<u16> {
        self.rtcp.or_else(|| self.port.checked_add(1))
    }
}

/// FNV-1a (64 bits) of a Call-ID: calls are remembered by this hash, not by the text.
pub fn call_id_hash(v: &[u8]) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
