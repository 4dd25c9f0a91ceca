//! H.225.0 RAS (UDP 1719): the endpoint → gatekeeper messages that announce the endpoint's
//! own addresses.
//!
//! | message | read and rewritten |
//! |---|---|
//! | GatekeeperRequest (GRQ) | rasAddress |
//! | RegistrationRequest (RRQ, also the lightweight keep-alive form) | every callSignalAddress and rasAddress |
//!
//! Every other RAS message (confirms and rejects from the gatekeeper, ARQ/BRQ/DRQ/LRQ/IRR,
//! ...) is passed untouched and not counted as a failure: the endpoint's RAS and call
//! signalling addresses are already known to the gatekeeper from GRQ/RRQ, and ARQ's
//! srcCallSignalAddress follows root components (aliases, bandwidth, call model) whose
//! decoding is not worth the risk. Decoding stops once the addresses are read: a RAS message
//! is the whole datagram, nothing needs to be stepped over after them.

use super::per::{Choice, Per};
use super::types::{non_standard_parameter, transport_address};
use super::{AddrKind, Findings, H323Error};

type R<T> = Result<T, H323Error>;

/// The RAS messages this ALG distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RasKind {
    /// GatekeeperRequest.
    Grq,
    /// RegistrationRequest.
    Rrq,
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
        _ => Ok(RasKind::Other),
    }
}
