//! H.323: Q.931/H.225.0 call signalling (TCP 1720, TPKT framed), H.225.0 RAS (UDP 1719) and
//! H.245 control (TCP, port negotiated in `h245Address`).
//!
//! The messages are ASN.1 aligned PER. The ALG decodes, with a bounded reader ([`per`]), only
//! the path to the fields that carry an endpoint's own transport address:
//!
//! * H.225.0 Setup / CallProceeding / Alerting / Connect / Facility / Progress: `h245Address`,
//!   Setup `sourceCallSignalAddress`, and each `fastStart` element (an H.245
//!   OpenLogicalChannel) ([`h225`]);
//! * H.245 OpenLogicalChannel and OpenLogicalChannelAck: `mediaChannel` (RTP) and
//!   `mediaControlChannel` (RTCP) of the H.225.0 logical channel parameters ([`h245`]);
//! * RAS GatekeeperRequest `rasAddress`, RegistrationRequest `callSignalAddress` and
//!   `rasAddress`, AdmissionRequest `srcCallSignalAddress` ([`ras`]).
//!
//! Every such address is an `ipAddress`/`iPAddress` SEQUENCE whose 4-octet address and 16-bit
//! port sit octet-aligned and contiguous, so a rewrite is always a same-length 6-byte
//! overwrite: no TCP sequence correction. [`process_segment`] and [`process_ras`] turn what
//! was found into edits and expectations with the policies documented in `docs/alg.md`
//! ("H.323"):
//!
//! * a decode failure anywhere in a message leaves the whole message untouched (counted);
//! * an address that is not the sender's own gets no rewrite and no expectation (counted):
//!   that, and refusing every Facility that carries `alternativeAddress` or
//!   `alternativeAliasAddress` (call forwarding, the NAT Slipstreaming v2 path), is what
//!   keeps pinholes from ever pointing at a third host.

pub mod h225;
pub mod h245;
pub mod per;
mod process;
pub mod q931;
pub mod ras;
#[cfg(test)]
mod testenc;
#[cfg(test)]
mod tests;
pub mod tpkt;
mod types;

pub use process::{
    process_ras, process_segment, H323Channel, H323Outcome, H323Segment, MAX_EXPECTATIONS,
};
pub use tpkt::TpktTracker;

use core::net::SocketAddrV4;

/// The Q.931/H.225.0 call signalling port.
pub const Q931_PORT: u16 = 1720;
/// The RAS port.
pub const RAS_PORT: u16 = 1719;
/// Most transport addresses collected from one message.
pub const MAX_ADDRESSES: usize = 16;
/// Lowest port accepted in an announced address (never a pinhole to a privileged port).
pub const MIN_PORT: u16 = 1024;

reasons! {
    /// Why an H.323 message (or one address in it) was not rewritten. One counter each.
    pub enum H323Error : "alg_h323_" {
        /// TPKT version other than 3.
        TpktBadVersion => "tpkt_bad_version",
        /// TPKT length shorter than its header plus one octet.
        TpktBadLength => "tpkt_bad_length",
        /// A TPKT continues past the end of the segment: passed uninspected.
        TpktSplit => "tpkt_split",
        /// A segment did not start at a TPKT boundary the ALG tracked: not parsed.
        NotAtBoundary => "not_at_boundary",
        /// Not a Q.931 message with an H.225.0 User-user information element.
        Q931Bad => "q931_bad",
        /// A PER length, field or bitmap runs past its buffer.
        PerTruncated => "per_truncated",
        /// A fragmented PER length (16K and more).
        PerFragmented => "per_fragmented",
        /// A SEQUENCE OF count or extension bitmap above the bound.
        PerTooMany => "per_too_many",
        /// The decode step budget or open-type nesting bound was exhausted.
        PerBudget => "per_budget",
        /// A value outside its ASN.1 constraint.
        PerBadValue => "per_bad_value",
        /// A construct the decoder does not implement (e.g. H.263 video in an OpenLogicalChannel).
        PerUnsupported => "per_unsupported",
        /// An inside sender announced an address that is not its own.
        AddressMismatch => "address_mismatch",
        /// An outside sender announced an address that is not its own.
        ThirdPartyHost => "third_party_host",
        /// Facility with alternativeAddress / alternativeAliasAddress: never followed.
        CallForwarding => "call_forwarding",
        /// Port 0 or below [`MIN_PORT`].
        PrivilegedPort => "privileged_port",
        /// An odd RTP (mediaChannel) port.
        OddRtpPort => "odd_rtp_port",
        /// A transport address other than IPv4 (IPv6, IPX, source route, ...): left alone.
        UnsupportedFamily => "unsupported_family",
        /// More than [`MAX_ADDRESSES`] addresses in one message.
        TooManyAddresses => "too_many_addresses",
        /// The dataplane had no public port for an address.
        NoPublicPort => "no_public_port",
        /// H.245 tunnelled in H.225.0 (h245Control): passed unmodified.
        H245Tunnelled => "h245_tunnelled",
        /// More edits than the caller's edit list holds.
        TooManyRewrites => "too_many_rewrites",
    }
}

/// Which field an address was found in; decides the expectation it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrKind {
    /// H.225.0 `h245Address`: the H.245 control channel listener (TCP).
    H245Address,
    /// Setup `sourceCallSignalAddress`, ARQ `srcCallSignalAddress`: the sender's own call
    /// signalling address, rewritten, no expectation.
    SourceCallSignalAddress,
    /// H.245 `mediaChannel`: RTP receiver (UDP, even port).
    MediaChannel,
    /// H.245 `mediaControlChannel`: RTCP receiver (UDP).
    MediaControlChannel,
    /// RAS `rasAddress` (UDP).
    RasAddress,
    /// RAS `callSignalAddress`: Q.931 listener (TCP), reachable from the gatekeeper only.
    CallSignalAddress,
}

/// One IPv4 transport address found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H323Address {
    /// Which field.
    pub kind: AddrKind,
    /// The address and port as announced.
    pub endpoint: SocketAddrV4,
    /// Offset of the 4 address octets in the payload; the port follows (6 bytes in all).
    pub offset: usize,
}

/// Addresses found in one message, and the facts that decide the policy.
#[derive(Debug, Clone, Copy)]
pub struct Findings {
    items: [Option<H323Address>; MAX_ADDRESSES],
    len: usize,
    /// A non-IPv4 transport address was seen in a field of interest.
    pub unsupported_family: bool,
    /// Facility with an alternative address or alias (call forwarding).
    pub forwarding: bool,
    /// The H323-UU-PDU carries tunnelled H.245 (`h245Control`).
    pub tunnelled: bool,
}

impl Default for Findings {
    fn default() -> Self {
        Self {
            items: [None; MAX_ADDRESSES],
            len: 0,
            unsupported_family: false,
            forwarding: false,
            tunnelled: false,
        }
    }
}

impl Findings {
    fn push(&mut self, a: H323Address) -> Result<(), H323Error> {
        let slot = self
            .items
            .get_mut(self.len)
            .ok_or(H323Error::TooManyAddresses)?;
        *slot = Some(a);
        self.len += 1;
        Ok(())
    }
    /// The addresses, in message order.
    pub fn iter(&self) -> impl Iterator<Item = &H323Address> + '_ {
        self.items[..self.len].iter().flatten()
    }
    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no address was found.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
