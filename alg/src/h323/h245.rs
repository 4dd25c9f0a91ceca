//! H.245 (MULTIMEDIA-SYSTEM-CONTROL): OpenLogicalChannel and OpenLogicalChannelAck, the two
//! messages that announce where a logical channel's RTP (`mediaChannel`) and RTCP
//! (`mediaControlChannel`) are received. They arrive on the H.245 TCP connection (one
//! MultimediaSystemControlMessage per TPKT) and, for fast connect, inside the H.225.0
//! `fastStart` elements.
//!
//! The H.225.0 logical channel parameters are an extension alternative of
//! `multiplexParameters` (so an open type), and the two addresses come early in them: the
//! decoder stops after `mediaControlChannel` and the open type resumes past the rest. What
//! precedes them, the channel's `dataType`, must be stepped over: audio capabilities (all
//! root alternatives but IS13818), H.261 and H.263 video, null data and non-standard types
//! are decoded; other video (H.262, IS11172) and data capabilities are
//! [`H323Error::PerUnsupported`].

use super::per::{Choice, Per};
use super::types::{ipv4, non_standard_parameter};
use super::{AddrKind, Findings, H323Error};

type R<T> = Result<T, H323Error>;

/// ```text
/// MultimediaSystemControlMessage ::= CHOICE { request RequestMessage,
///   response ResponseMessage, command CommandMessage, indication IndicationMessage, ... }
/// RequestMessage ::= CHOICE { nonStandard, masterSlaveDetermination,
///   terminalCapabilitySet, openLogicalChannel (3), ... }        -- 11 root alternatives
/// ResponseMessage ::= CHOICE { ..., openLogicalChannelAck (5), ... } -- 19 root alternatives
/// ```
/// Other messages have no address of interest and are not decoded further.
pub fn message(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    match r.choice(4, true)? {
        Choice::Root(0) => match r.choice(11, true)? {
            Choice::Root(3) => open_logical_channel(r, f),
            _ => Ok(()),
        },
        Choice::Root(1) => match r.choice(19, true)? {
            Choice::Root(5) => open_logical_channel_ack(r, f),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// ```text
/// OpenLogicalChannel ::= SEQUENCE {
///   forwardLogicalChannelNumber LogicalChannelNumber,          -- INTEGER (1..65535)
///   forwardLogicalChannelParameters SEQUENCE {
///     portNumber INTEGER (0..65535) OPTIONAL, dataType DataType,
///     multiplexParameters CHOICE { h222.., h223.., v76.., ...,
///       h2250LogicalChannelParameters H2250LogicalChannelParameters, none NULL }, ... },
///   reverseLogicalChannelParameters SEQUENCE { dataType DataType,
///     multiplexParameters CHOICE { h223.., v76.., ...,
///       h2250LogicalChannelParameters H2250LogicalChannelParameters } OPTIONAL, ... } OPTIONAL,
///   ..., separateStack, encryptionSync, genericInformation }
/// ```
pub fn open_logical_channel(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 1)?;
    r.constrained(1, 65535)?;
    let (fext, fopt) = r.preamble(true, 1)?;
    if fopt.has(0) {
        r.constrained(0, 65535)?;
    }
    data_type(r)?;
    match r.choice(3, true)? {
        Choice::Root(_) => return Err(H323Error::PerUnsupported),
        Choice::Ext(0) => r.open_type(|r| h2250_parameters(r, f))?,
        Choice::Ext(_) => r.skip_open_type()?,
    }
    if fext {
        r.skip_extensions()?;
    }
    if opt.has(0) {
        let (rext, ropt) = r.preamble(true, 1)?;
        data_type(r)?;
        if ropt.has(0) {
            match r.choice(2, true)? {
                Choice::Root(_) => return Err(H323Error::PerUnsupported),
                Choice::Ext(0) => r.open_type(|r| h2250_parameters(r, f))?,
                Choice::Ext(_) => r.skip_open_type()?,
            }
        }
        if rext {
            r.skip_extensions()?;
        }
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// OpenLogicalChannelAck ::= SEQUENCE {
///   forwardLogicalChannelNumber LogicalChannelNumber,
///   reverseLogicalChannelParameters SEQUENCE {
///     reverseLogicalChannelNumber LogicalChannelNumber,
///     portNumber INTEGER (0..65535) OPTIONAL,
///     multiplexParameters CHOICE { h222.., ..., h2250LogicalChannelParameters } OPTIONAL,
///     ..., replacementFor } OPTIONAL,
///   ..., separateStack NetworkAccessParameters OPTIONAL,
///   forwardMultiplexAckParameters CHOICE {
///     h2250LogicalChannelAckParameters H2250LogicalChannelAckParameters, ... } OPTIONAL, ... }
/// ```
pub fn open_logical_channel_ack(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (ext, opt) = r.preamble(true, 1)?;
    r.constrained(1, 65535)?;
    if opt.has(0) {
        let (rext, ropt) = r.preamble(true, 2)?;
        r.constrained(1, 65535)?;
        if ropt.has(0) {
            r.constrained(0, 65535)?;
        }
        if ropt.has(1) {
            match r.choice(1, true)? {
                Choice::Root(_) => return Err(H323Error::PerUnsupported),
                Choice::Ext(0) => r.open_type(|r| h2250_parameters(r, f))?,
                Choice::Ext(_) => r.skip_open_type()?,
            }
        }
        if rext {
            r.skip_extensions()?;
        }
    }
    if ext {
        r.extensions(|r, i| {
            if i == 1 && r.choice(1, true)? == Choice::Root(0) {
                h2250_ack_parameters(r, f)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// ```text
/// H2250LogicalChannelParameters ::= SEQUENCE {
///   nonStandard SEQUENCE OF NonStandardParameter OPTIONAL,
///   sessionID INTEGER (0..255), associatedSessionID INTEGER (1..255) OPTIONAL,
///   mediaChannel TransportAddress OPTIONAL, mediaGuaranteedDelivery BOOLEAN OPTIONAL,
///   mediaControlChannel TransportAddress OPTIONAL, ... (5 more OPTIONAL), ... }
/// ```
/// Always inside an open type: decoding stops after mediaControlChannel.
fn h2250_parameters(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (_, opt) = r.preamble(true, 10)?;
    if opt.has(0) {
        non_standards(r)?;
    }
    r.constrained(0, 255)?;
    if opt.has(1) {
        r.constrained(1, 255)?;
    }
    if opt.has(2) {
        transport_address(r, AddrKind::MediaChannel, f)?;
    }
    if opt.has(3) {
        r.bit()?;
    }
    if opt.has(4) {
        transport_address(r, AddrKind::MediaControlChannel, f)?;
    }
    Ok(())
}

/// ```text
/// H2250LogicalChannelAckParameters ::= SEQUENCE {
///   nonStandard SEQUENCE OF NonStandardParameter OPTIONAL,
///   sessionID INTEGER (1..255) OPTIONAL, mediaChannel TransportAddress OPTIONAL,
///   mediaControlChannel TransportAddress OPTIONAL,
///   dynamicRTPPayloadType INTEGER (96..127) OPTIONAL, ..., flowControlToZero, portNumber }
/// ```
fn h2250_ack_parameters(r: &mut Per<'_>, f: &mut Findings) -> R<()> {
    let (_, opt) = r.preamble(true, 5)?;
    if opt.has(0) {
        non_standards(r)?;
    }
    if opt.has(1) {
        r.constrained(1, 255)?;
    }
    if opt.has(2) {
        transport_address(r, AddrKind::MediaChannel, f)?;
    }
    if opt.has(3) {
        transport_address(r, AddrKind::MediaControlChannel, f)?;
    }
    Ok(())
}

fn non_standards(r: &mut Per<'_>) -> R<()> {
    let n = r.seq_of()?;
    for _ in 0..n {
        non_standard_parameter(r, false)?;
    }
    Ok(())
}

/// ```text
/// TransportAddress ::= CHOICE { unicastAddress UnicastAddress,
///   multicastAddress MulticastAddress, ... }
/// UnicastAddress ::= CHOICE {
///   iPAddress SEQUENCE { network OCTET STRING (SIZE(4)), tsapIdentifier INTEGER (0..65535), ... },
///   iPXAddress, iP6Address SEQUENCE { network OCTET STRING (SIZE(16)), tsapIdentifier, ... },
///   netBios OCTET STRING (SIZE(16)), iPSourceRouteAddress, ..., nsap, nonStandardAddress }
/// MulticastAddress ::= CHOICE { iPAddress SEQUENCE { network (SIZE(4)), tsapIdentifier, ... },
///   iP6Address SEQUENCE { network (SIZE(16)), tsapIdentifier, ... }, ..., nsap, nonStandardAddress }
/// ```
/// Only a unicast iPAddress is recorded; the others are stepped over (iP6Address, netBios,
/// multicast) and flagged, or unsupported.
fn transport_address(r: &mut Per<'_>, kind: AddrKind, f: &mut Findings) -> R<()> {
    let unicast = match r.choice(2, true)? {
        Choice::Root(0) => true,
        Choice::Root(_) => false,
        Choice::Ext(_) => {
            f.unsupported_family = true;
            return r.skip_open_type();
        }
    };
    let alt = match r.choice(if unicast { 5 } else { 2 }, true)? {
        Choice::Root(i) => i,
        Choice::Ext(_) => {
            f.unsupported_family = true;
            return r.skip_open_type();
        }
    };
    match (unicast, alt) {
        (_, 0) => {
            let (ext, _) = r.preamble(true, 0)?;
            if unicast {
                ipv4(r, Some(kind), f)?;
            } else {
                r.octets(4)?;
                r.constrained(0, 65535)?;
                f.unsupported_family = true;
            }
            if ext {
                r.skip_extensions()?;
            }
        }
        (true, 2) | (false, 1) => {
            let (ext, _) = r.preamble(true, 0)?;
            r.octets(16)?;
            r.constrained(0, 65535)?;
            if ext {
                r.skip_extensions()?;
            }
            f.unsupported_family = true;
        }
        (true, 3) => {
            r.octets(16)?;
            f.unsupported_family = true;
        }
        _ => return Err(H323Error::PerUnsupported),
    }
    Ok(())
}

/// ```text
/// DataType ::= CHOICE { nonStandard NonStandardParameter, nullData NULL,
///   videoData VideoCapability, audioData AudioCapability, data DataApplicationCapability,
///   encryptionData EncryptionMode, ..., h235Control, h235Media, multiplexedStream,
///   redundancyEncoding, multiplePayloadStream, fec }
/// ```
fn data_type(r: &mut Per<'_>) -> R<()> {
    match r.choice(6, true)? {
        Choice::Root(0) => non_standard_parameter(r, false),
        Choice::Root(1) => Ok(()),
        Choice::Root(2) => video_capability(r),
        Choice::Root(3) => audio_capability(r),
        Choice::Root(_) => Err(H323Error::PerUnsupported),
        Choice::Ext(_) => r.skip_open_type(),
    }
}

/// ```text
/// AudioCapability ::= CHOICE { nonStandard, g711Alaw64k INTEGER (1..256), g711Alaw56k,
///   g711Ulaw64k, g711Ulaw56k, g722-64k, g722-56k, g722-48k,
///   g7231 SEQUENCE { maxAl-sduAudioFrames INTEGER (1..256), silenceSuppression BOOLEAN },
///   g728, g729, g729AnnexA INTEGER (1..256),
///   is11172AudioCapability, is13818AudioCapability, ..., g729wAnnexB, ... }
/// IS11172AudioCapability ::= SEQUENCE { audioLayer1 .. twoChannels (8 BOOLEAN),
///   bitRate INTEGER (1..448), ... }
/// ```
fn audio_capability(r: &mut Per<'_>) -> R<()> {
    match r.choice(14, true)? {
        Choice::Root(0) => non_standard_parameter(r, false),
        Choice::Root(8) => {
            r.constrained(1, 256)?;
            r.bit().map(|_| ())
        }
        Choice::Root(12) => {
            let (ext, _) = r.preamble(true, 0)?;
            r.bits(8)?;
            r.constrained(1, 448)?;
            if ext {
                r.skip_extensions()?;
            }
            Ok(())
        }
        Choice::Root(13) => Err(H323Error::PerUnsupported),
        Choice::Root(_) => r.constrained(1, 256).map(|_| ()),
        Choice::Ext(_) => r.skip_open_type(),
    }
}

/// ```text
/// H263VideoCapability ::= SEQUENCE { sqcifMPI INTEGER (1..32) OPTIONAL,
///   qcifMPI, cifMPI, cif4MPI, cif16MPI INTEGER (1..32) OPTIONAL,
///   maxBitRate INTEGER (1..192400), unrestrictedVector BOOLEAN, arithmeticCoding BOOLEAN,
///   advancedPrediction BOOLEAN, pbFrames BOOLEAN, temporalSpatialTradeOffCapability BOOLEAN,
///   hrd-B INTEGER (0..524287) OPTIONAL, bppMaxKb INTEGER (0..65535) OPTIONAL,
///   ..., slowSqcifMPI, ..., h263Options, enhancementLayerInfo }
/// ```
/// The extension additions (where H.263's complexity lives) are skipped by length.
fn h263_video_capability(r: &mut Per<'_>) -> R<()> {
    let (ext, opt) = r.preamble(true, 7)?;
    for i in 0..5 {
        if opt.has(i) {
            r.constrained(1, 32)?;
        }
    }
    r.constrained(1, 192_400)?;
    r.bits(5)?;
    if opt.has(5) {
        r.constrained(0, 524_287)?;
    }
    if opt.has(6) {
        r.constrained(0, 65535)?;
    }
    if ext {
        r.skip_extensions()?;
    }
    Ok(())
}

/// ```text
/// VideoCapability ::= CHOICE { nonStandard, h261VideoCapability, h262VideoCapability,
///   h263VideoCapability, is11172VideoCapability, ..., genericVideoCapability, ... }
/// H261VideoCapability ::= SEQUENCE { qcifMPI INTEGER (1..4) OPTIONAL,
///   cifMPI INTEGER (1..4) OPTIONAL, temporalSpatialTradeOffCapability BOOLEAN,
///   maxBitRate INTEGER (1..19200), stillImageTransmission BOOLEAN, ..., videoBadMBsCap }
/// ```
fn video_capability(r: &mut Per<'_>) -> R<()> {
    match r.choice(5, true)? {
        Choice::Root(0) => non_standard_parameter(r, false),
        Choice::Root(1) => {
            let (ext, opt) = r.preamble(true, 2)?;
            for i in 0..2 {
                if opt.has(i) {
                    r.constrained(1, 4)?;
                }
            }
            r.bit()?;
            r.constrained(1, 19200)?;
            r.bit()?;
            if ext {
                r.skip_extensions()?;
            }
            Ok(())
        }
        Choice::Root(3) => h263_video_capability(r),
        Choice::Root(_) => Err(H323Error::PerUnsupported),
        Choice::Ext(_) => r.skip_open_type(),
    }
}
