//! RTSP (RFC 2326; TCP 554): rewrite the client's RTP/RTCP ports in `SETUP`, un-translate
//! them in the reply, and open the media pinholes from the server once it accepted.
//!
//! Supported: an inside client (VLC, ffmpeg, GStreamer, IP-camera viewers) and an outside
//! server. A `SETUP` names the client's media ports in its `Transport` header
//! (`client_port=5000-5001`); behind the NAT the server must see public ports instead, and
//! the media it then sends from its own address to those public ports must be let in and
//! translated back. Step by step:
//!
//! 1. `SETUP` from the client: every transport specification with `client_port=rtp[-rtcp]`
//!    is checked ([`transport`]), the dataplane gives the RTP port a public endpoint (the RTCP
//!    port is the next one: parity and pairing preserved, RFC 3550 §11), and the value is
//!    rewritten. Identical port pairs in several specifications share one public pair. The
//!    public ports are remembered with the request's CSeq ([`RtspState`], up to
//!    [`MAX_PENDING_SETUPS`]; beyond, the oldest is evicted and its ports released).
//! 2. The reply: the server echoes `client_port` with the public ports; it is rewritten back
//!    to the inside ones (Linux's helper leaves the public ports in the reply). On a 2xx, an
//!    inbound UDP [`Expectation`] per port (RTP and RTCP) is produced from the server's
//!    address, any source port, to the public port, tagged with the hash of the `Session` id
//!    ([`RtspEvent::Expect`]); on a 3xx to 5xx the public ports are released.
//! 3. `TEARDOWN` with a `Session`: [`RtspEvent::Teardown`] asks the dataplane to remove that
//!    session's expectations still waiting. Sessions that simply stop are covered by the
//!    dataplane's expectation timeout (RFC 2326's session timeout, 60 s by default, is shorter
//!    than the 300 s expectation default, so an expectation never outlives a live session by
//!    much); the media flows themselves are ordinary UDP sessions with their own timers.
//!
//! Policies (also in `docs/alg.md`):
//!
//! * **Boundaries.** Messages are recognised only at boundaries the ALG tracked from the first
//!   byte of the stream ([`crate::framer`]): start line, headers, empty line, then
//!   `Content-Length` bytes of body skipped; interleaved `$` frames skipped by their length.
//!   A stream whose first message is not RTSP (an HTTP POST to port 554, NAT Slipstreaming) is
//!   not inspected at all (`not_rtsp`).
//! * **Split message.** A header block cut by the end of a segment is held (the dataplane drops
//!   the segment; the sender retransmits), at most 3 times, then inspection of the direction
//!   ends (`lost_sync`). A body may span any number of segments. A cut interleaved frame
//!   header is not held but carried over to the next in-order segment (media over TCP cross
//!   segment ends constantly).
//! * **`server_port`** in the reply does **not** narrow the expected source port: servers
//!   behind their own NAT or load balancers send media from other ports, and the pinhole is
//!   already narrow (the server's address only, a fresh public port, consumed by the first
//!   packet).
//! * **`destination=`**: naming the client itself (or no value) is always removed (it would
//!   carry the inside address); naming another host is refused (message passed unmodified, no
//!   expectation) or removed, per [`RtspConfig::destination`]; both count
//!   `third_party_destination`.
//! * **Interleaved** (`RTP/AVP/TCP`, `interleaved=`) and multicast specifications are left
//!   alone: the message is counted, nothing is rewritten or expected for them.
//! * **SDP bodies** (DESCRIBE replies, ANNOUNCE) need no rewrite for NAT44 with an inside
//!   client: they describe the server's streams (`c=`/`m=` of the server), never the client's
//!   addresses; the ports the client receives on are only in `Transport`.
//! * Not supported: an inside server (port forwarding), RTSP 2.0 (RFC 7826's
//!   `dest_addr`; such messages are framed and skipped, `unsupported_version`), RTSP over
//!   HTTP tunnelling, bare-CR line ends.

mod handlers;
pub mod message;
mod process;
mod state;
#[cfg(test)]
mod tests;
pub mod transport;

pub use process::{process, RtspOutcome, RtspPeers, RtspSegment, MAX_EDITS, MAX_EVENTS};
pub use state::{RtspState, MAX_PENDING_SETUPS};
pub use transport::{MAX_TRANSPORTS, MIN_MEDIA_PORT};

use crate::expect::Expectation;
use core::net::SocketAddrV4;

/// The well-known RTSP port.
pub const RTSP_PORT: u16 = 554;

reasons! {
    /// Why an RTSP message (or segment) was not acted on. One counter each.
    pub enum RtspError : "alg_rtsp_" {
        /// A segment on a connection whose start the ALG did not see (or after it gave up).
        NotAtBoundary => "not_at_boundary",
        /// What starts the stream (or a later boundary) is not an RTSP message: inspection of
        /// the direction ends.
        NotRtsp => "not_rtsp",
        /// A header block cut by the end of the segment: the segment is held.
        SplitMessage => "split_message",
        /// A segment starting after data the ALG never saw: held.
        Gap => "gap",
        /// Inspection of the direction ended (framing lost, too many holds).
        LostSync => "lost_sync",
        /// A start line or Transport line longer than 1024 bytes.
        LineTooLong => "line_too_long",
        /// A header block longer than 4096 bytes.
        HeaderTooLong => "header_too_long",
        /// Content-Length not a number, above 16 MiB, or given twice differently.
        BadContentLength => "bad_content_length",
        /// Off-grammar: Transport spec, folded or repeated Transport, CSeq, missing headers.
        BadSyntax => "bad_syntax",
        /// RTSP version other than 1.0 (the message is skipped).
        UnsupportedVersion => "unsupported_version",
        /// A port of 0 or above 65535.
        BadPort => "bad_port",
        /// An RTP port below 1024.
        PrivilegedPort => "privileged_port",
        /// An odd RTP port (RTP uses even ports, RTCP the next odd one; RFC 3550 §11).
        OddRtpPort => "odd_rtp_port",
        /// `client_port=a-b` with `b` other than `a + 1` (wrapping or wide range).
        BadPortRange => "bad_port_range",
        /// `destination=` naming another host than the client.
        ThirdPartyDestination => "third_party_destination",
        /// More than 4 transport specifications in one Transport header.
        TooManyTransports => "too_many_transports",
        /// The dataplane had no public port pair to give (or gave an unusable one).
        NoPublicPort => "no_public_port",
        /// More than 8 SETUPs waiting for their reply: the oldest was evicted.
        TooManySetups => "too_many_setups",
        /// A SETUP reply echoing a client_port the ALG did not hand out.
        ReplyMismatch => "reply_mismatch",
        /// More rewrites or events in one segment than the outcome holds: held.
        TooManyRewrites => "too_many_rewrites",
        /// The sequence-correction history is full of unacknowledged corrections: held.
        SeqHistoryFull => "seq_history_full",
        /// A retransmission was rewritten differently from the first time: passed unmodified.
        SeqOutOfOrder => "seq_out_of_order",
        /// An edit could not be built (should stay 0).
        EditFailed => "edit_failed",
    }
}

/// Which end of the RTSP connection sent a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtspSender {
    /// The client (inside): sends SETUP, PLAY, TEARDOWN.
    Client,
    /// The server (outside): answers them.
    Server,
}

/// What to do with a `destination=` naming a host other than the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DestinationPolicy {
    /// Pass the SETUP unmodified and create no expectation (the server may send media to
    /// that host; nothing is opened for it).
    #[default]
    Refuse,
    /// Remove the parameter: the server sends to the request's source, the client.
    Strip,
}

/// RTSP ALG settings the parser needs. On/off and the server ports select the ALG in the
/// dataplane (like FTP's `[alg.ftp]`); see `docs/alg.md` for the proposed `[alg.rtsp]` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtspConfig {
    /// `destination=` naming a third host.
    pub destination: DestinationPolicy,
}

/// The hash (FNV-1a, 32 bits) of an RTSP session identifier: the tag the dataplane keeps with
/// a session's expectations so [`RtspEvent::Teardown`] can find them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtspSessionId(pub u32);

/// What the dataplane must do besides applying the edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtspEvent {
    /// Install an inbound UDP expectation (RTP or RTCP), tagged with the session.
    Expect {
        /// The session the SETUP reply named (hash of the empty id if it named none).
        session: RtspSessionId,
        /// The expected media flow.
        expectation: Expectation,
    },
    /// Remove the waiting expectations of this session.
    Teardown(RtspSessionId),
    /// A public endpoint handed out by `allocate` is not used (any more): give it back, and
    /// the next port too when `pair`.
    Release {
        /// The public RTP endpoint.
        public: SocketAddrV4,
        /// Whether the RTCP port (`public.port() + 1`) was reserved with it.
        pair: bool,
    },
}
