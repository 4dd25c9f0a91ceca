//! H.225.0 types shared by call signalling and RAS (H.225.0 v4+ ASN.1, H323-MESSAGES):
//! TransportAddress, AliasAddress, NonStandardParameter and EndpointType, decoded only as far
//! as needed to record an `ipAddress` or to step over the value.
//!
//! Alternatives and components the decoder does not implement are
//! [`H323Error::PerUnsupported`]; extension additions are always skipped by their length.

use super::per::{Choice, Per};
use super::{AddrKind, Findings, H323Address, H323Error};
use core::net::{Ipv4Addr, SocketAddrV4};

type R<T> = Result<T, H323Error>;

/// Reads the octet-aligned `ip OCTET STRING (SIZE(4))` and `port INTEGER (0..65535)` of an
/// ipAddress / iPAddress and records them under `kind`.
pub(super) fn ipv4(r: &mut Per<'_>, kind: Option<AddrKind>, f: &mut Findings) -> R<()> {
    let ip = r.octets(4)?;
    let offset = r.byte_pos() - 4;
    let ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
    let port = u16::try_from(r.constrained(0, 65535)?).map_err(|_| H323Error::PerBadValue)?;
    if let Some(kind) = kind {
        f.push(H323Address {
            kind,
            endpoint: SocketAddrV4::new(ip, port),
            offset,
        })?;
    }
    Ok(())
}

/// ```text
/// TransportAddress ::= CHOICE {
///   ipAddress SEQUENCE { ip OCTET STRING (SIZE(4)), port INTEGER (0..65535) },
///   ipSourceRoute SEQUENCE { ip OCTET STRING (SIZE(4)), port INTEGER (0..65535),
///     route SEQUENCE OF OCTET STRING (SIZE(4)), routing CHOICE { strict NULL, loose NULL, ... }, ... },
///   ipxAddress SEQUENCE { node OCTET STRING (SIZE(6)), netnum OCTET STRING (SIZE(4)),
///     port OCTET STRING (SIZE(2)) },
///   ip6Address SEQUENCE { ip OCTET STRING (SIZE(16)), port INTEGER (0..65535), ... },
///   netBios OCTET STRING (SIZE(16)),
///   nsap OCTET STRING (SIZE(1..20)),
///   nonStandardAddress NonStandardParameter,
///   ... }
/// ```
/// `kind` is `None` for an address that is read past but never rewritten.
pub(super) fn transport_address(
    r: &mut Per<'_>,
    kind: Option<AddrKind>,
    f: &mut Findings,
) -> R<()> {
    let other = match r.choice(7, true)? {
        Choice::Root(0) => return ipv4(r, kind, f),
        Choice::Root(1) => {
            let (ext, _) = r.preamble(true, 0)?;
            r.octets(4)?;
            r.constrained(0, 65535)?;
            let n = r.seq_of()?;
            for _ in 0..n {
                r.octets(4)?;
            }
            if let Choice::Ext(_) = r.choice(2, true)? {
                r.skip_open_type()?;
            }
            if ext {
                r.skip_extensions()?;
            }
            true
        }
        Choice::Root(2) => {
            r.octets(6)?;
            r.octets(4)?;
            r.bits(16)?;
            true
        }
        Choice::Root(3) => {
            let (ext, _) = r.preamble(true, 0)?;
            r.octets(16)?;
            r.constrained(0, 65535)?;
            if ext {
                r.skip_extensions()?;
            }
            true
        }
        Choice::Root(4) => {
            r.octets(16)?;
            true
        }
        Choice::Root(5) => {
            let n = r.size(1, 20)?;
            r.octets(n)?;
            true
        }
        Choice::Root(_) => {
            non_standard_parameter(r, true)?;
            true
        }
        Choice::Ext(_) => {
            r.skip_open_type()?;
            true
        }
    };
    if other && kind.is_some() {
        f.unsupported_family = true;
    }
    Ok(())
}

/// `NonStandardParameter ::= SEQUENCE { nonStandardIdentifier NonStandardIdentifier, data
/// OCTET STRING }`. `h225` selects H.225.0's extensible NonStandardIdentifier and
/// H221NonStandard over H.245's non-extensible ones.
pub(super) fn non_standard_parameter(r: &mut Per<'_>, h225: bool) -> R<()> {
    match r.choice(2, h225)? {
        Choice::Root(0) => r.skip_oid()?,
        Choice::Root(_) => h221_non_standard(r, h225)?,
        Choice::Ext(_) => r.skip_open_type()?,
    }
    r.skip_octet_string()
}

/// `H221NonStandard ::= SEQUENCE { t35CountryCode INTEGER (0..255), t35Extension INTEGER
/// (0..255), manufacturerCode INTEGER (0..65535), ... }` (H.245's has no extension marker).
fn h221_non_standard(r: &mut Per<'_>, extensible: bool) -> R<()> {
    let (ext, _) = r.preamble(extensible, 0)?;
    r.constrained(0, 255)?;
    r.constrained(0, 255)?;
    r.constrained(0, 65535)?;
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// AliasAddress ::= CHOICE {
///   dialedDigits IA5String (SIZE (1..128)) (FROM ("0123456789#*,")),
///   h323-ID BMPString (SIZE (1..256)),
///   ..., url-ID, transportID, email-ID, partyNumber, mobileUIM, isupNumber }
/// ```
/// dialedDigits: 13 permitted characters take 4 bits each, the string octet-aligned
/// (X.691 §27.5.7: 128 × 4 bits > 16); h323-ID: 16-bit characters, octet-aligned.
pub(super) fn alias_address(r: &mut Per<'_>) -> R<()> {
    match r.choice(2, true)? {
        Choice::Root(0) => {
            let n = r.size(1, 128)?;
            r.align()?;
            r.skip_bits(n * 4)
        }
        Choice::Root(_) => {
            let n = r.size(1, 256)?;
            r.octets(n * 2).map(|_| ())
        }
        Choice::Ext(_) => r.skip_open_type(),
    }
}

/// `SEQUENCE OF AliasAddress`.
pub(super) fn alias_addresses(r: &mut Per<'_>) -> R<()> {
    let n = r.seq_of()?;
    for _ in 0..n {
        alias_address(r)?;
    }
    Ok(())
}

/// A SEQUENCE with one optional `nonStandardData NonStandardParameter` and an extension
/// marker: GatekeeperInfo, TerminalInfo, McuInfo and the H310Caps..T120OnlyCaps of
/// SupportedProtocols.
fn non_standard_only(r: &mut Per<'_>) -> R<()> {
    let (ext, opt) = r.preamble(true, 1)?;
    if opt.has(0) {
        non_standard_parameter(r, true)?;
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// VendorIdentifier ::= SEQUENCE { vendor H221NonStandard,
///   productId OCTET STRING (SIZE(1..256)) OPTIONAL,
///   versionId OCTET STRING (SIZE(1..256)) OPTIONAL, ..., enterpriseNumber ... }
/// ```
pub(super) fn vendor_identifier(r: &mut Per<'_>) -> R<()> {
    let (ext, opt) = r.preamble(true, 2)?;
    h221_non_standard(r, true)?;
    for i in 0..2 {
        if opt.has(i) {
            let n = r.size(1, 256)?;
            r.octets(n)?;
        }
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// GatewayInfo ::= SEQUENCE { protocol SEQUENCE OF SupportedProtocols OPTIONAL,
///   nonStandardData NonStandardParameter OPTIONAL, ... }
/// SupportedProtocols ::= CHOICE { nonStandardData, h310, h320, h321, h322, h323, h324,
///   voice, t120-only, ..., nonStandardProtocol, t38FaxAnnexbOnly, sip }
/// ```
fn gateway_info(r: &mut Per<'_>) -> R<()> {
    let (ext, opt) = r.preamble(true, 2)?;
    if opt.has(0) {
        let n = r.seq_of()?;
        for _ in 0..n {
            match r.choice(9, true)? {
                Choice::Root(0) => non_standard_parameter(r, true)?,
                Choice::Root(_) => non_standard_only(r)?,
                Choice::Ext(_) => r.skip_open_type()?,
            }
        }
    }
    if opt.has(1) {
        non_standard_parameter(r, true)?;
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// EndpointType ::= SEQUENCE { nonStandardData OPTIONAL, vendor VendorIdentifier OPTIONAL,
///   gatekeeper GatekeeperInfo OPTIONAL, gateway GatewayInfo OPTIONAL, mcu McuInfo OPTIONAL,
///   terminal TerminalInfo OPTIONAL, mc BOOLEAN, undefinedNode BOOLEAN, ..., set, ... }
/// ```
pub(super) fn endpoint_type(r: &mut Per<'_>) -> R<()> {
    let (ext, opt) = r.preamble(true, 6)?;
    if opt.has(0) {
        non_standard_parameter(r, true)?;
    }
    if opt.has(1) {
        vendor_identifier(r)?;
    }
    if opt.has(2) {
        non_standard_only(r)?;
    }
    if opt.has(3) {
        gateway_info(r)?;
    }
    if opt.has(4) {
        non_standard_only(r)?;
    }
    if opt.has(5) {
        non_standard_only(r)?;
    }
    r.bit()?; // mc
    r.bit()?; // undefinedNode
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}
