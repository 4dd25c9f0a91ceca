//! H.225.0 call signalling: the H323-UserInformation carried in the Q.931 User-user
//! information element, decoded as far as the addresses of interest.
//!
//! | message | read | rewritten (inside sender) |
//! |---|---|---|
//! | Setup | h245Address, sourceCallSignalAddress, fastStart | all three |
//! | CallProceeding, Alerting, Connect, Progress | h245Address, fastStart | both |
//! | Facility | h245Address, fastStart; alternativeAddress / alternativeAliasAddress | none if an alternative is present (call forwarding) |
//! | Information, ReleaseComplete, empty, Status, ... | nothing | — |
//!
//! Root components before the wanted ones are decoded (EndpointType, alias lists, ...);
//! extension additions are open types and are reached by skipping the others by length.
//! Each fastStart element is an OCTET STRING holding an H.245 OpenLogicalChannel, decoded in
//! place by [`super::h245::open_logical_channel`]. H.245 tunnelled in `h245Control` is only
//! noticed ([`Findings::tunnelled`]).

use super::h245;
use super::per::{Choice, Per};
use super::types::{alias_addresses, endpoint_type, non_standard_parameter, transport_address};
use super::{AddrKind, Findings, H323Error};

type R<T> = Result<T, H323Error>;

/// The H323-UU-PDU message body, as far as this ALG distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum H225Body {
    /// Setup-UUIE.
    Setup,
    /// CallProceeding-UUIE.
    CallProceeding,
    /// Connect-UUIE.
    Connect,
    /// Alerting-UUIE.
    Alerting,
    /// Facility-UUIE.
    Facility,
    /// Progress-UUIE.
    Progress,
    /// Any other body (information, releaseComplete, empty, status, notify, ...).
    Other,
}

/// ```text
/// H323-UserInformation ::= SEQUENCE { h323-uu-pdu H323-UU-PDU,
///   user-data SEQUENCE { ... } OPTIONAL, ... }
/// H323-UU-PDU ::= SEQUENCE {
///   h323-message-body CHOICE { setup, callProceeding, connect, alerting, information,
///     releaseComplete, facility, ..., progress, empty, status, statusInquiry,
///     setupAcknowledge, notify },
///   nonStandardData NonStandardParameter OPTIONAL,
///   ..., h4501SupplementaryService, h245Tunnelling BOOLEAN,
///   h245Control SEQUENCE OF OCTET STRING OPTIONAL, ... }
/// ```
pub fn user_information(r: &mut Per<'_>, f: &mut Findings) -> R<H225Body> {
    r.preamble(true, 1)?; // H323-UserInformation: user-data is after the PDU, not needed
    let (ext, opt) = r.preamble(true, 1)?;
    let body = match r.choice(7, true)? {
        Choice::Root(0) => {
            setup(r, f)?;
            H225Body::Setup
        }
        Choice::Root(1) => {
            proceeding_alerting(r, f)?;
            H225Body::CallProceeding
        }
        Choice::Root(2) => {
            connect(r, f)?;
            H225Body::Connect
        }
        Choice::Root(3) => {
            proceeding_alerting(r, f)?;
            H225Body::Alerting
        }
        Choice::Root(6) => {
            facility(r, f)?;
            H225Body::Facility
        }
        Choice::Root(_) => return Ok(H225Body::Other),
        Choice::Ext(0) => {
            r.open_type(|r| progress(r, f))?;
            H225Body::Progress
        }
        Choice::Ext(_) => return Ok(H225Body::Other),
    };
    if opt.has(0) {
        non_standard_parameter(r, true)?;
    }
    if ext {
        r.extensions(|r, i| {
            if i == 2 && r.seq_of()? > 0 {
                f.tunnelled = true;
            }
            Ok(())
        })?;
    }
    Ok(body)
}

/// `fastStart SEQUENCE OF OCTET STRING`, each an OpenLogicalChannel.
fn fast_start(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let n = r.seq_of()?;
    for _ in 0..n {
        r.open_type(|r| h245::open_logical_channel(r, f))?;
    }
    Ok(())
}

/// ```text
/// Setup-UUIE ::= SEQUENCE { protocolIdentifier ProtocolIdentifier,
///   h245Address TransportAddress OPTIONAL, sourceAddress SEQUENCE OF AliasAddress OPTIONAL,
///   sourceInfo EndpointType, destinationAddress SEQUENCE OF AliasAddress OPTIONAL,
///   destCallSignalAddress TransportAddress OPTIONAL,
///   destExtraCallInfo SEQUENCE OF AliasAddress OPTIONAL,
///   destExtraCRV SEQUENCE OF CallReferenceValue OPTIONAL, activeMC BOOLEAN,
///   conferenceID ConferenceIdentifier, conferenceGoal CHOICE { create, join, invite, ... },
///   callServices QseriesOptions OPTIONAL, callType CallType,
///   ..., sourceCallSignalAddress (0), remoteExtensionAddress, callIdentifier,
///   h245SecurityCapability, tokens, cryptoTokens, fastStart (6), ... }
/// ```
fn setup(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 7)?;
    r.skip_oid()?;
    if opt.has(0) {
        transport_address(r, Some(AddrKind::H245Address), f)?;
    }
    if opt.has(1) {
        alias_addresses(r)?;
    }
    endpoint_type(r)?;
    if opt.has(2) {
        alias_addresses(r)?;
    }
    if opt.has(3) {
        transport_address(r, None, f)?;
    }
    if opt.has(4) {
        alias_addresses(r)?;
    }
    if opt.has(5) {
        let n = r.seq_of()?;
        for _ in 0..n {
            r.constrained(0, 65535)?;
        }
    }
    r.bit()?; // activeMC
    r.octets(16)?; // conferenceID
    if let Choice::Ext(_) = r.choice(3, true)? {
        r.skip_open_type()?;
    }
    if opt.has(6) {
        qseries_options(r)?;
    }
    if let Choice::Ext(_) = r.choice(4, true)? {
        r.skip_open_type()?; // callType
    }
    if ext {
        r.extensions(|r, i| match i {
            0 => transport_address(r, Some(AddrKind::SourceCallSignalAddress), f),
            6 => fast_start(r, f),
            _ => Ok(()),
        })?;
    }
    Ok(())
}

/// ```text
/// QseriesOptions ::= SEQUENCE { q932Full .. q957Full (7 BOOLEAN),
///   q954Info Q954Details, ... }
/// Q954Details ::= SEQUENCE { conferenceCalling BOOLEAN, threePartyService BOOLEAN, ... }
/// ```
fn qseries_options(r: &mut Per<'_>) -> R<()> {
    let (ext, _) = r.preamble(true, 0)?;
    r.bits(7)?;
    let (qext, _) = r.preamble(true, 0)?;
    r.bits(2)?;
    if qext {
        r.skip_extensions()?;
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// Extension additions 0..=3 are callIdentifier, h245SecurityMode, tokens, cryptoTokens in
/// CallProceeding, Alerting and Connect; fastStart is addition 4.
fn ext_fast_start_at_4(r: &mut Per<'_>, f: &mut Findings, ext: bool) -> R<()> {
    if ext {
        r.extensions(|r, i| if i == 4 { fast_start(r, f) } else { Ok(()) })?;
    }
    Ok(())
}

/// ```text
/// CallProceeding-UUIE / Alerting-UUIE ::= SEQUENCE { protocolIdentifier,
///   destinationInfo EndpointType, h245Address TransportAddress OPTIONAL, ...,
///   callIdentifier, h245SecurityMode, tokens, cryptoTokens, fastStart (4), ... }
/// ```
fn proceeding_alerting(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 1)?;
    r.skip_oid()?;
    endpoint_type(r)?;
    if opt.has(0) {
        transport_address(r, Some(AddrKind::H245Address), f)?;
    }
    ext_fast_start_at_4(r, f, ext)
}

/// ```text
/// Connect-UUIE ::= SEQUENCE { protocolIdentifier, h245Address TransportAddress OPTIONAL,
///   destinationInfo EndpointType, conferenceID ConferenceIdentifier, ...,
///   callIdentifier, h245SecurityMode, tokens, cryptoTokens, fastStart (4), ... }
/// ```
fn connect(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 1)?;
    r.skip_oid()?;
    if opt.has(0) {
        transport_address(r, Some(AddrKind::H245Address), f)?;
    }
    endpoint_type(r)?;
    r.octets(16)?;
    ext_fast_start_at_4(r, f, ext)
}

/// ```text
/// Facility-UUIE ::= SEQUENCE { protocolIdentifier,
///   alternativeAddress TransportAddress OPTIONAL,
///   alternativeAliasAddress SEQUENCE OF AliasAddress OPTIONAL,
///   conferenceID ConferenceIdentifier OPTIONAL, reason FacilityReason, ...,
///   callIdentifier, destExtraCallInfo, remoteExtensionAddress, tokens, cryptoTokens,
///   conferences, h245Address (6), fastStart (7), ... }
/// ```
/// An alternative address or alias is call forwarding: [`Findings::forwarding`].
fn facility(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 3)?;
    r.skip_oid()?;
    if opt.has(0) {
        f.forwarding = true;
        transport_address(r, None, f)?;
    }
    if opt.has(1) {
        f.forwarding = true;
        alias_addresses(r)?;
    }
    if opt.has(2) {
        r.octets(16)?;
    }
    if let Choice::Ext(_) = r.choice(4, true)? {
        r.skip_open_type()?; // reason
    }
    if ext {
        r.extensions(|r, i| match i {
            6 => transport_address(r, Some(AddrKind::H245Address), f),
            7 => fast_start(r, f),
            _ => Ok(()),
        })?;
    }
    Ok(())
}

/// ```text
/// Progress-UUIE ::= SEQUENCE { protocolIdentifier, destinationInfo EndpointType,
///   h245Address TransportAddress OPTIONAL, callIdentifier CallIdentifier,
///   h245SecurityMode H245Security OPTIONAL, tokens SEQUENCE OF ClearToken OPTIONAL,
///   cryptoTokens SEQUENCE OF CryptoH323Token OPTIONAL,
///   fastStart SEQUENCE OF OCTET STRING OPTIONAL, ... }
/// CallIdentifier ::= SEQUENCE { guid GloballyUniqueID, ... }
/// ```
/// Security modes and tokens (root components here) are not decoded: a Progress carrying
/// them is [`H323Error::PerUnsupported`].
fn progress(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (_, opt) = r.preamble(true, 5)?;
    r.skip_oid()?;
    endpoint_type(r)?;
    if opt.has(0) {
        transport_address(r, Some(AddrKind::H245Address), f)?;
    }
    let (cext, _) = r.preamble(true, 0)?;
    r.octets(16)?;
    if cext {
        r.skip_extensions()?;
    }
    if opt.has(1) || opt.has(2) || opt.has(3) {
        return Err(H323Error::PerUnsupported);
    }
    if opt.has(4) {
        fast_start(r, f)?;
    }
    Ok(())
}
