//! PPTP (RFC 2637): the control connection (TCP 1723) and the enhanced GRE header of its data
//! packets.
//!
//! PPTP runs its calls over GRE, which has no ports; the only thing that tells two calls to
//! the same server apart is the Call ID each end chose. Behind one public address, two
//! subscribers (PNS, the VPN client) may choose the same Call ID for calls to the same server
//! (PAC), so the NAT must translate the PNS's Call ID: the dataplane picks a public Call ID
//! unique per (public address, server) and this module rewrites it into the control messages
//! and says which GRE sessions to create and remove.
//!
//! * [`message`]: the header and the fixed length of every control message type.
//! * [`control`]: [`PptpControl`], the per-control-connection state (control phase, up to
//!   [`MAX_CALLS`] calls, message framing in both directions) and [`process`], the call per
//!   segment.
//! * [`gre`]: [`GreV1Packet`], a view of the GRE v1 header for the per-packet Call ID
//!   translation.
//!
//! Which fields name which Call ID (RFC 2637 §2.7 to §2.15), with `I` the PNS's inside Call
//! ID, `P` the public Call ID the PAC knows it by, `S` the PAC's Call ID:
//!
//! | message | sender | Call ID (offset 12) | Peer's Call ID | rewrite |
//! |---|---|---|---|---|
//! | Outgoing-Call-Request | PNS | `I` | – | `I` → `P` |
//! | Outgoing-Call-Reply | PAC | `S` | `P` (offset 14) | `P` → `I` |
//! | Incoming-Call-Request | PAC | `S` | – | – |
//! | Incoming-Call-Reply | PNS | `I` | `S` (offset 14) | `I` → `P` |
//! | Incoming-Call-Connected | PAC | – | `P` (offset 12) | `P` → `I` |
//! | Call-Clear-Request | PNS | `I` | – | `I` → `P` |
//! | Call-Disconnect-Notify | PAC | `S` | – | – |
//! | WAN-Error-Notify | PAC | – | `P` (offset 12) | `P` → `I` |
//! | Set-Link-Info | PNS (PAC) | – | `S` (`P` from a PAC, offset 12) | from a PAC `P` → `I` |
//!
//! Every rewrite is a 2-byte field replaced in place, so the length never changes and no
//! sequence correction is needed. GRE from the PNS carries `S` (no change); GRE from the PAC
//! carries `P`, translated to `I` ([`GreV1Packet::set_call_id`]).

mod calls;
pub mod control;
pub mod gre;
pub mod message;
#[cfg(test)]
mod tests;

pub use control::{
    process, PptpControl, PptpOutcome, PptpSegment, MAX_CALLS, MAX_EDITS, MAX_EVENTS,
};
pub use gre::{GreError, GreV1Packet};
pub use message::{ControlType, PptpSender};

/// The well-known PPTP control port.
pub const PPTP_PORT: u16 = 1723;

reasons! {
    /// Why a PPTP control message (or segment) was not acted on. One counter each.
    pub enum PptpError : "alg_pptp_" {
        /// A segment that does not start at, or contain, a message boundary the ALG tracked,
        /// on a connection whose start it did not see (or after it gave up).
        NotAtBoundary => "not_at_boundary",
        /// The header and Call ID fields of a message are cut by the end of the segment; the
        /// segment is held (dropped) so the sender retransmits it.
        SplitMessage => "split_message",
        /// A segment starting after data the ALG never saw (reordering or loss in front of
        /// the NAT); held.
        Gap => "gap",
        /// The framing was lost (too many holds, or a Length that cannot be right): the rest
        /// of the direction is passed uninspected.
        LostSync => "lost_sync",
        /// Length field shorter than the 12-byte header.
        Truncated => "truncated",
        /// Length field not the fixed length of the Control Message Type (or over the longest
        /// message).
        BadLength => "bad_length",
        /// Magic Cookie other than 0x1A2B3C4D.
        BadMagic => "bad_magic",
        /// PPTP Message Type other than 1 (control), e.g. 2 (management, never defined).
        NotControl => "not_control",
        /// Control Message Type not defined by RFC 2637.
        UnknownType => "unknown_type",
        /// A message the control connection's state does not allow: a call message before
        /// Start-Control-Connection-Reply, a message from the wrong end, a reply to a call in
        /// another phase.
        OutOfState => "out_of_state",
        /// A message naming a Call ID no call of this control connection has.
        UnknownCall => "unknown_call",
        /// A new call when [`MAX_CALLS`] calls are open on the control connection.
        TooManyCalls => "too_many_calls",
        /// The dataplane had no public Call ID to give (or gave one already in use here).
        NoPublicCallId => "no_public_call_id",
        /// More edits or events in one segment than the outcome holds; the segment is held.
        TooManyRewrites => "too_many_rewrites",
        /// An edit could not be built (cannot happen for 2-byte fields; counted, never silent).
        EditFailed => "edit_failed",
    }
}

/// The Call IDs of one call: what the dataplane keys its GRE sessions with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GreCall {
    /// The Call ID the PNS (inside) chose.
    pub inside_call_id: u16,
    /// The Call ID the PAC knows the PNS by (chosen by the dataplane).
    pub public_call_id: u16,
    /// The PAC's Call ID (carried by GRE from the PNS).
    pub pac_call_id: u16,
}

/// What the dataplane must do besides applying the edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PptpEvent {
    /// The call is connected: create its GRE sessions. Outbound (PNS → PAC) GRE carries
    /// `pac_call_id`; inbound (PAC → public address) carries `public_call_id`, which becomes
    /// `inside_call_id`.
    Create(GreCall),
    /// The call ended: remove its GRE sessions and give the public Call ID back.
    Remove(GreCall),
    /// A call ended before it had GRE sessions: give its public Call ID back.
    Release {
        /// The PNS's Call ID.
        inside_call_id: u16,
        /// The public Call ID to give back.
        public_call_id: u16,
    },
}
