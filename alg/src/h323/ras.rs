//! H.225.0 RAS (UDP 1719): the endpoint → gatekeeper messages that announce the endpoint's
//! own addresses.
//!
//! | message | read and rewritten |
//! |---|---|
//! | GatekeeperRequest (GRQ) | rasAddress |
//! | RegistrationRequest (RRQ, also the lightweight keep-alive form) | every callSignalAddress and rasAddress |
//! | AdmissionRequest (ARQ) | srcCallSignalAddress (rewritten, no expectation) |
//!
//! Every other RAS message (confirms and rejects from the gatekeeper, BRQ/DRQ/LRQ/IRR, ...)
//! is passed untouched and not counted as a failure: the endpoint's RAS and call signalling
//! addresses are known to the gatekeeper from GRQ/RRQ. ARQ's destCallSignalAddress names the
//! callee (a third host) and is left alone. Decoding stops once the addresses are read: a RAS
//! message is the whole datagram, nothing needs to be stepped over after them.

use super::per::{Choice, Per};
use super::types::{alias_addresses, non_standard_parameter, transport_address};
use super::{AddrKind, Findings, H323Error};

type R<T> = Result<T, H323Error>;

/// The RAS messages this ALG distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RasKind {
    /// GatekeeperRequest.
    Grq,
    /// RegistrationRequest.
    Rrq,
    /// AdmissionRequest.
    Arq,
    /// Anything else: not inspected.
    Other,
}

/// ```text
/// RasMessage ::= CHOICE { gatekeeperRequest (0), gatekeeperConfirm, gatekeeperReject,
///   registrationRequest (3), ... }                      -- 25 root alternatives
/// GatekeeperRequest ::= SEQUENCE { requestSeqNum RequestSeqNum,   -- INTEGER (1..65535)
///   protocolIdentifier ProtocolIdentifier, nonStandardData NonStandardParameter OPTIONAL,
///   rasAddress TransportAddress, endpointType EndpointType,
///   gatekeeperIdentifier OPTIONAL, callServices OPTIONAL, endpointAlias OPTIONAL, ... }
/// RegistrationRequest ::= SEQUENCE { requestSeqNum, protocolIdentifier,
///   nonStandardData OPTIONAL, discoveryComplete BOOLEAN,
///   callSignalAddress SEQUENCE OF TransportAddress,
///   rasAddress SEQUENCE OF TransportAddress, terminalType EndpointType,
///   terminalAlias OPTIONAL, gatekeeperIdentifier OPTIONAL, endpointVendor, ... }
/// ```
pub fn message(r: &mut Per<'_>, f: &mut Findings) -> R<RasKind> {
    match r.choice(25, true)? {
        Choice::Root(0) => {
            let (_, opt) = r.preamble(true, 4)?;
            r.constrained(1, 65535)?;
            r.skip_oid()?;
            if opt.has(0) {
                non_standard_parameter(r, true)?;
            }
            transport_address(r, Some(AddrKind::RasAddress), f)?;
            Ok(RasKind::Grq)
        }
        Choice::Root(3) => {
            let (_, opt) = r.preamble(true, 3)?;
            r.constrained(1, 65535)?;
            r.skip_oid()?;
            if opt.has(0) {
                non_standard_parameter(r, true)?;
            }
            r.bit()?; // discoveryComplete
            for kind in [AddrKind::CallSignalAddress, AddrKind::RasAddress] {
                let n = r.seq_of()?;
                for _ in 0..n {
                    transport_address(r, Some(kind), f)?;
                }
            }
            Ok(RasKind::Rrq)
        }
        Choice::Root(9) => {
            admission_request(r, f)?;
            Ok(RasKind::Arq)
        }
        _ => Ok(RasKind::Other),
    }
}

/// ```text
/// AdmissionRequest ::= SEQUENCE { requestSeqNum RequestSeqNum, callType CallType,
///   callModel CallModel OPTIONAL, endpointIdentifier EndpointIdentifier,
///   destinationInfo SEQUENCE OF AliasAddress OPTIONAL,
///   destCallSignalAddress TransportAddress OPTIONAL,
///   destExtraCallInfo SEQUENCE OF AliasAddress OPTIONAL, srcInfo SEQUENCE OF AliasAddress,
///   srcCallSignalAddress TransportAddress OPTIONAL, bandWidth BandWidth, ...,
///   nonStandardData OPTIONAL, callServices OPTIONAL, ... }       -- 7 OPTIONAL in the root
/// CallType ::= CHOICE { pointToPoint, oneToN, nToOne, nToN, ... }
/// CallModel ::= CHOICE { direct NULL, gatekeeperRouted NULL, ... }
/// EndpointIdentifier ::= BMPString (SIZE(1..128))
/// ```
fn admission_request(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (_, opt) = r.preamble(true, 7)?;
    r.constrained(1, 65535)?;
    if let Choice::Ext(_) = r.choice(4, true)? {
        r.skip_open_type()?;
    }
    if opt.has(0) {
        if let Choice::Ext(_) = r.choice(2, true)? {
            r.skip_open_type()?;
        }
    }
    let n = r.size(1, 128)?;
    r.octets(n * 2)?;
    if opt.has(1) {
        alias_addresses(r)?;
    }
    if opt.has(2) {
        transport_address(r, None, f)?;
    }
    if opt.has(3) {
        alias_addresses(r)?;
    }
    alias_addresses(r)?;
    if opt.has(4) {
        transport_address(r, Some(AddrKind::SourceCallSignalAddress), f)?;
    }
    Ok(())
}
