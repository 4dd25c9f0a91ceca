//! IPFIX (RFC 7011) export of CGN events with the RFC 8158 information elements: port-block
//! allocation and release (natEvent 16/17), NAT44 session create/delete (4/5) and the resource
//! exhaustion events (3 addresses exhausted, 12 ports exhausted, 13 quota exceeded).
//!
//! This module owns the wire encoding only: the templates, the message header with its sequence
//! number, and the packing of records into messages that fit one UDP datagram. It writes into a
//! caller-provided `Vec<u8>` and never opens a socket or reads a clock; the control thread owns
//! the UDP socket, the time and the decision when to call [`Exporter::templates`]
//! ([`Exporter::should_resend_templates`]). Keeping it pure makes every byte testable, and lets
//! the same bytes be checked against Wireshark's `cflow` dissector (`tests/ipfix_tshark.rs`).
//!
//! # Templates
//!
//! One fixed template per record layout, all announced together in one Template Set
//! ([`Exporter::templates`]). Every field uses its IANA-registered length (no reduced-size
//! encoding) and no enterprise numbers, so any collector with the IANA registry decodes them.
//!
//! | Template ID | record | fields (IE number, octets) | record octets |
//! |---|---|---|---|
//! | [`TEMPLATE_PORT_BLOCK`] 256 | [`PortBlockRecord`] | observationTimeMilliseconds (323, 8), natEvent (230, 1), sourceIPv4Address (8, 4), postNATSourceIPv4Address (225, 4), portRangeStart (361, 2), portRangeEnd (362, 2), portRangeStepSize (363, 2), portRangeNumPorts (364, 2) | 25 |
//! | [`TEMPLATE_SESSION`] 257 | [`SessionRecord`] without destination | observationTimeMilliseconds (323, 8), natEvent (230, 1), protocolIdentifier (4, 1), sourceIPv4Address (8, 4), sourceTransportPort (7, 2), postNATSourceIPv4Address (225, 4), postNAPTSourceTransportPort (227, 2) | 22 |
//! | [`TEMPLATE_SESSION_DST`] 258 | [`SessionRecord`] with destination (RFC 6888 REQ-12 destination logging on) | the 257 fields, then destinationIPv4Address (12, 4), destinationTransportPort (11, 2) | 28 |
//! | [`TEMPLATE_ADDRESSES_EXHAUSTED`] 259 | [`ExhaustionRecord`], natEvent 3 | observationTimeMilliseconds (323, 8), natEvent (230, 1), sourceIPv4Address (8, 4) | 13 |
//! | [`TEMPLATE_PORTS_EXHAUSTED`] 260 | [`ExhaustionRecord`], natEvent 12 | observationTimeMilliseconds (323, 8), natEvent (230, 1), sourceIPv4Address (8, 4), postNATSourceIPv4Address (225, 4) | 17 |
//! | [`TEMPLATE_QUOTA_EXCEEDED`] 261 | [`ExhaustionRecord`], natEvent 13 | observationTimeMilliseconds (323, 8), natEvent (230, 1), natQuotaExceededEvent (466, 4), sourceIPv4Address (8, 4) | 17 |
//!
//! Choices where RFC 8158's event templates list fields we do not have: addresses exhausted carries
//! the subscriber whose request failed instead of natPoolId (283), and the quota event carries the
//! subscriber instead of the configured limit (maxEntriesPerUser 473 and friends); both are what
//! an abuse desk asks for. A `None` in an [`ExhaustionRecord`] is sent as zero (`0.0.0.0`, or
//! natQuotaExceededEvent 0, which IANA reserves, i.e. "unknown").
//!
//! # Message size
//!
//! [`Exporter::records`] packs into messages of at most `max_len` octets; the control thread
//! passes [`DEFAULT_MAX_MESSAGE_LEN`] (1400). RFC 7011 §10.3.3: "The maximum size of exported
//! messages MUST be configured such that the total packet size does not exceed the PMTU. If the
//! PMTU is unknown, a maximum packet size of 512 octets SHOULD be used." — see
//! [`UNKNOWN_PMTU_MAX_MESSAGE_LEN`] for that case.
//!
//! The sender must keep UDP checksums on: RFC 7011 §10.3.2, "Exporting Processes exporting IPFIX
//! Messages via UDP MUST include a valid UDP checksum" (a kernel UDP socket does by default).

use std::net::Ipv4Addr;

/// Template ID of [`PortBlockRecord`]s (natEvent 16/17). RFC 7011 §3.4.1: each Template Record
/// gets a unique Template ID in the range 256 to 65535 (0-255 are Set IDs).
pub const TEMPLATE_PORT_BLOCK: u16 = 256;
/// Template ID of [`SessionRecord`]s without destination (natEvent 4/5).
pub const TEMPLATE_SESSION: u16 = 257;
/// Template ID of [`SessionRecord`]s with destination address and port (natEvent 4/5).
pub const TEMPLATE_SESSION_DST: u16 = 258;
/// Template ID of [`ExhaustionRecord`]s with natEvent 3 (addresses exhausted).
pub const TEMPLATE_ADDRESSES_EXHAUSTED: u16 = 259;
/// Template ID of [`ExhaustionRecord`]s with natEvent 12 (ports exhausted).
pub const TEMPLATE_PORTS_EXHAUSTED: u16 = 260;
/// Template ID of [`ExhaustionRecord`]s with natEvent 13 (quota exceeded).
pub const TEMPLATE_QUOTA_EXCEEDED: u16 = 261;

/// Default `max_len` for [`Exporter::records`]: 1400 octets of IPFIX message, 1428 with the
/// IPv4 and UDP headers. It assumes the collector is reached over a path with the usual
/// 1500-octet Ethernet MTU; 72 octets of headroom keep a datagram whole through a VLAN tag, GRE
/// or IPsec on the way. Avoiding IP fragmentation matters because a lost fragment loses every
/// record of the message, and these records are the evidence of who held a public port when.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1400;
/// `max_len` when the path MTU to the collector is unknown: RFC 7011 §10.3.3 asks for packets of
/// at most 512 octets, i.e. 512 minus 20 (IPv4) minus 8 (UDP) octets of IPFIX message.
pub const UNKNOWN_PMTU_MAX_MESSAGE_LEN: usize = 512 - 20 - 8;
/// Smallest `max_len` with which [`Exporter::records`] always makes progress: message header,
/// one set header and the largest record ([`TEMPLATE_SESSION_DST`], 28 octets).
pub const MIN_MESSAGE_LEN: usize = MESSAGE_HEADER_LEN + SET_HEADER_LEN + SESSION_DST_LEN;
/// Largest IPFIX message: the header's Length field is 16 bits.
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// RFC 7011 §3.1: the message header is 16 octets.
const MESSAGE_HEADER_LEN: usize = 16;
/// RFC 7011 §3.3.2: the set header is 4 octets (Set ID, Length).
const SET_HEADER_LEN: usize = 4;
/// RFC 7011 §3.1: "Version of IPFIX to which this Message conforms. The value of this field is
/// 0x000a for the current version".
const IPFIX_VERSION: u16 = 0x000a;
/// RFC 7011 §3.3.2: Set ID 2 is reserved for Template Sets (3 for Options Template Sets, 256
/// and above for Data Sets).
const TEMPLATE_SET_ID: u16 = 2;

/// IANA IPFIX information element numbers used here (RFC 7012 / RFC 8158 registry entries).
mod ie {
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub const POST_NAT_SOURCE_IPV4_ADDRESS: u16 = 225;
    pub const POST_NAPT_SOURCE_TRANSPORT_PORT: u16 = 227;
    pub const NAT_EVENT: u16 = 230;
    pub const OBSERVATION_TIME_MILLISECONDS: u16 = 323;
    pub const PORT_RANGE_START: u16 = 361;
    pub const PORT_RANGE_END: u16 = 362;
    pub const PORT_RANGE_STEP_SIZE: u16 = 363;
    pub const PORT_RANGE_NUM_PORTS: u16 = 364;
    pub const NAT_QUOTA_EXCEEDED_EVENT: u16 = 466;
}

/// One Field Specifier (RFC 7011 §3.2): information element number and field length in octets.
/// The enterprise bit is never set: every element here is IANA-registered.
type Field = (u16, u16);

/// RFC 7011 §3.4.1: a Template Record is its Template ID, a field count and the field
/// specifiers. The encoders below write the fields of a record in exactly this order.
#[derive(Debug)]
struct Template {
    id: u16,
    fields: &'static [Field],
}

impl Template {
    /// Octets of one data record in this layout.
    const fn record_len(&self) -> usize {
        let mut sum = 0;
        let mut i = 0;
        while i < self.fields.len() {
            sum += self.fields[i].1 as usize;
            i += 1;
        }
        sum
    }
}

const PORT_BLOCK_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::SOURCE_IPV4_ADDRESS, 4),
    (ie::POST_NAT_SOURCE_IPV4_ADDRESS, 4),
    (ie::PORT_RANGE_START, 2),
    (ie::PORT_RANGE_END, 2),
    (ie::PORT_RANGE_STEP_SIZE, 2),
    (ie::PORT_RANGE_NUM_PORTS, 2),
];
const SESSION_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::PROTOCOL_IDENTIFIER, 1),
    (ie::SOURCE_IPV4_ADDRESS, 4),
    (ie::SOURCE_TRANSPORT_PORT, 2),
    (ie::POST_NAT_SOURCE_IPV4_ADDRESS, 4),
    (ie::POST_NAPT_SOURCE_TRANSPORT_PORT, 2),
];
const SESSION_DST_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::PROTOCOL_IDENTIFIER, 1),
    (ie::SOURCE_IPV4_ADDRESS, 4),
    (ie::SOURCE_TRANSPORT_PORT, 2),
    (ie::POST_NAT_SOURCE_IPV4_ADDRESS, 4),
    (ie::POST_NAPT_SOURCE_TRANSPORT_PORT, 2),
    (ie::DESTINATION_IPV4_ADDRESS, 4),
    (ie::DESTINATION_TRANSPORT_PORT, 2),
];
const ADDRESSES_EXHAUSTED_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::SOURCE_IPV4_ADDRESS, 4),
];
const PORTS_EXHAUSTED_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::SOURCE_IPV4_ADDRESS, 4),
    (ie::POST_NAT_SOURCE_IPV4_ADDRESS, 4),
];
const QUOTA_EXCEEDED_FIELDS: &[Field] = &[
    (ie::OBSERVATION_TIME_MILLISECONDS, 8),
    (ie::NAT_EVENT, 1),
    (ie::NAT_QUOTA_EXCEEDED_EVENT, 4),
    (ie::SOURCE_IPV4_ADDRESS, 4),
];

/// Every template, in the order [`Exporter::templates`] announces them.
const TEMPLATES: [Template; 6] = [
    Template {
        id: TEMPLATE_PORT_BLOCK,
        fields: PORT_BLOCK_FIELDS,
    },
    Template {
        id: TEMPLATE_SESSION,
        fields: SESSION_FIELDS,
    },
    Template {
        id: TEMPLATE_SESSION_DST,
        fields: SESSION_DST_FIELDS,
    },
    Template {
        id: TEMPLATE_ADDRESSES_EXHAUSTED,
        fields: ADDRESSES_EXHAUSTED_FIELDS,
    },
    Template {
        id: TEMPLATE_PORTS_EXHAUSTED,
        fields: PORTS_EXHAUSTED_FIELDS,
    },
    Template {
        id: TEMPLATE_QUOTA_EXCEEDED,
        fields: QUOTA_EXCEEDED_FIELDS,
    },
];

const PORT_BLOCK_LEN: usize = TEMPLATES[0].record_len();
const SESSION_LEN: usize = TEMPLATES[1].record_len();
const SESSION_DST_LEN: usize = TEMPLATES[2].record_len();
const ADDRESSES_EXHAUSTED_LEN: usize = TEMPLATES[3].record_len();
const PORTS_EXHAUSTED_LEN: usize = TEMPLATES[4].record_len();
const QUOTA_EXCEEDED_LEN: usize = TEMPLATES[5].record_len();

/// The natEvent (IE 230) values this appliance emits. The discriminant is the IANA value
/// (the IANA "natEvent" registry, RFC 8158).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NatEvent {
    /// Port block allocated to a subscriber (16).
    PortBlockAlloc = 16,
    /// Port block released (17).
    PortBlockDealloc = 17,
    /// No public address left in the pool (3).
    AddressesExhausted = 3,
    /// No port left (12): for a public address, or in the subscriber's blocks.
    PortsExhausted = 12,
    /// A configured limit reached (13); which one is natQuotaExceededEvent (IE 466).
    QuotaExceeded = 13,
    /// NAT44 session created (4).
    Nat44SessionCreate = 4,
    /// NAT44 session deleted (5).
    Nat44SessionDelete = 5,
}

impl NatEvent {
    /// The natEvent (IE 230) value on the wire.
    pub const fn value(self) -> u8 {
        self as u8
    }
}

/// natQuotaExceededEvent (IE 466) values, from the IANA registry created by RFC 8158.
impl ExhaustionRecord {
    /// Maximum session entries (1).
    pub const QUOTA_MAX_SESSION_ENTRIES: u32 = 1;
    /// Maximum BIB entries (2).
    pub const QUOTA_MAX_BIB_ENTRIES: u32 = 2;
    /// Maximum entries per user (3).
    pub const QUOTA_MAX_ENTRIES_PER_USER: u32 = 3;
    /// Maximum active hosts or subscribers (4).
    pub const QUOTA_MAX_ACTIVE_HOSTS: u32 = 4;
    /// Maximum fragments pending reassembly (5).
    pub const QUOTA_MAX_FRAGMENTS_PENDING: u32 = 5;
}

/// A port block allocated to or released by a subscriber (natEvent 16/17): template
/// [`TEMPLATE_PORT_BLOCK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortBlockRecord {
    /// observationTimeMilliseconds (IE 323): milliseconds since the UNIX epoch.
    pub time_ms: u64,
    /// natEvent (IE 230): [`NatEvent::PortBlockAlloc`] or [`NatEvent::PortBlockDealloc`].
    pub event: NatEvent,
    /// sourceIPv4Address (IE 8): the subscriber's inside address.
    pub subscriber: Ipv4Addr,
    /// postNATSourceIPv4Address (IE 225): the public address of the block.
    pub public: Ipv4Addr,
    /// portRangeStart (IE 361): first port of the block.
    pub port_start: u16,
    /// portRangeEnd (IE 362): last port of the block, inclusive.
    pub port_end: u16,
    /// portRangeStepSize (IE 363): 1 for a contiguous block.
    pub step: u16,
    /// portRangeNumPorts (IE 364): ports in the block.
    pub num_ports: u16,
}

/// A NAT44 session created or deleted (natEvent 4/5): template [`TEMPLATE_SESSION`], or
/// [`TEMPLATE_SESSION_DST`] when `dst` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    /// observationTimeMilliseconds (IE 323): milliseconds since the UNIX epoch.
    pub time_ms: u64,
    /// natEvent (IE 230): [`NatEvent::Nat44SessionCreate`] or [`NatEvent::Nat44SessionDelete`].
    pub event: NatEvent,
    /// protocolIdentifier (IE 4): 6 TCP, 17 UDP, 1 ICMP.
    pub protocol: u8,
    /// sourceIPv4Address (IE 8): the subscriber's inside address.
    pub src: Ipv4Addr,
    /// sourceTransportPort (IE 7): inside port (ICMP: identifier).
    pub src_port: u16,
    /// postNATSourceIPv4Address (IE 225): public address.
    pub post_src: Ipv4Addr,
    /// postNAPTSourceTransportPort (IE 227): public port (ICMP: identifier).
    pub post_src_port: u16,
    /// destinationIPv4Address (IE 12) and destinationTransportPort (IE 11): only when
    /// destination logging is on (RFC 6888 REQ-12 leaves it to the operator, for privacy).
    pub dst: Option<(Ipv4Addr, u16)>,
}

/// A resource exhaustion event (natEvent 3, 12 or 13). The template follows from `event`:
/// [`TEMPLATE_ADDRESSES_EXHAUSTED`], [`TEMPLATE_PORTS_EXHAUSTED`] or
/// [`TEMPLATE_QUOTA_EXCEEDED`]; fields the template does not carry are not sent, and a `None`
/// field the template carries is sent as zero. Any other `event` (a caller bug) is carried in
/// the ports-exhausted layout, which keeps both addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExhaustionRecord {
    /// observationTimeMilliseconds (IE 323): milliseconds since the UNIX epoch.
    pub time_ms: u64,
    /// natEvent (IE 230): 3, 12 or 13.
    pub event: NatEvent,
    /// sourceIPv4Address (IE 8): the subscriber whose request failed (all three templates).
    pub subscriber: Option<Ipv4Addr>,
    /// postNATSourceIPv4Address (IE 225): the exhausted public address (ports exhausted only).
    pub public: Option<Ipv4Addr>,
    /// natQuotaExceededEvent (IE 466): which limit (quota exceeded only); see the
    /// `QUOTA_*` constants.
    pub quota: Option<u32>,
}

/// One event to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Port block allocation or release.
    Block(PortBlockRecord),
    /// NAT44 session creation or deletion.
    Session(SessionRecord),
    /// Addresses exhausted, ports exhausted or quota exceeded.
    Exhaustion(ExhaustionRecord),
}

impl Record {
    /// The template this record is encoded with (also the Data Set ID it goes in).
    pub fn template_id(&self) -> u16 {
        match self {
            Record::Block(_) => TEMPLATE_PORT_BLOCK,
            Record::Session(s) if s.dst.is_some() => TEMPLATE_SESSION_DST,
            Record::Session(_) => TEMPLATE_SESSION,
            Record::Exhaustion(e) => match e.event {
                NatEvent::AddressesExhausted => TEMPLATE_ADDRESSES_EXHAUSTED,
                NatEvent::QuotaExceeded => TEMPLATE_QUOTA_EXCEEDED,
                _ => TEMPLATE_PORTS_EXHAUSTED,
            },
        }
    }

    /// Octets of the encoded data record (without any set header).
    pub fn encoded_len(&self) -> usize {
        match self.template_id() {
            TEMPLATE_PORT_BLOCK => PORT_BLOCK_LEN,
            TEMPLATE_SESSION => SESSION_LEN,
            TEMPLATE_SESSION_DST => SESSION_DST_LEN,
            TEMPLATE_ADDRESSES_EXHAUSTED => ADDRESSES_EXHAUSTED_LEN,
            TEMPLATE_QUOTA_EXCEEDED => QUOTA_EXCEEDED_LEN,
            _ => PORTS_EXHAUSTED_LEN,
        }
    }

    /// Appends the data record: the fields in the order of its template's field specifiers,
    /// each at its full registered length, numbers in network byte order (RFC 7011 §6.1).
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            Record::Block(b) => {
                put_time_and_event(out, b.time_ms, b.event);
                out.extend_from_slice(&b.subscriber.octets());
                out.extend_from_slice(&b.public.octets());
                out.extend_from_slice(&b.port_start.to_be_bytes());
                out.extend_from_slice(&b.port_end.to_be_bytes());
                out.extend_from_slice(&b.step.to_be_bytes());
                out.extend_from_slice(&b.num_ports.to_be_bytes());
            }
            Record::Session(s) => {
                put_time_and_event(out, s.time_ms, s.event);
                out.push(s.protocol);
                out.extend_from_slice(&s.src.octets());
                out.extend_from_slice(&s.src_port.to_be_bytes());
                out.extend_from_slice(&s.post_src.octets());
                out.extend_from_slice(&s.post_src_port.to_be_bytes());
                if let Some((addr, port)) = s.dst {
                    out.extend_from_slice(&addr.octets());
                    out.extend_from_slice(&port.to_be_bytes());
                }
            }
            Record::Exhaustion(e) => {
                put_time_and_event(out, e.time_ms, e.event);
                let subscriber = e.subscriber.unwrap_or(Ipv4Addr::UNSPECIFIED).octets();
                match self.template_id() {
                    TEMPLATE_ADDRESSES_EXHAUSTED => out.extend_from_slice(&subscriber),
                    TEMPLATE_QUOTA_EXCEEDED => {
                        out.extend_from_slice(&e.quota.unwrap_or(0).to_be_bytes());
                        out.extend_from_slice(&subscriber);
                    }
                    _ => {
                        out.extend_from_slice(&subscriber);
                        let public = e.public.unwrap_or(Ipv4Addr::UNSPECIFIED);
                        out.extend_from_slice(&public.octets());
                    }
                }
            }
        }
        debug_assert_eq!(out.len() - start, self.encoded_len());
    }
}

/// observationTimeMilliseconds (dateTimeMilliseconds, RFC 7011 §6.1.8: a 64-bit unsigned count
/// of milliseconds since the UNIX epoch) then natEvent: the first two fields of every template.
fn put_time_and_event(out: &mut Vec<u8>, time_ms: u64, event: NatEvent) {
    out.extend_from_slice(&time_ms.to_be_bytes());
    out.push(event.value());
}

/// A length that the caller has already bounded by [`MAX_MESSAGE_LEN`], as the 16-bit field.
fn len16(len: usize) -> u16 {
    debug_assert!(len <= MAX_MESSAGE_LEN);
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// Overwrites the 16-bit length at `out[pos + 2..pos + 4]` (the Length field of a message
/// header or a set header, both at offset 2).
fn patch_len(out: &mut [u8], pos: usize, len: usize) {
    out[pos + 2..pos + 4].copy_from_slice(&len16(len).to_be_bytes());
}

/// One IPFIX Exporting Process towards one collector, for one Observation Domain: the message
/// sequence number and the template refresh bookkeeping. Not thread-safe by design: the
/// control thread owns it.
#[derive(Debug, Clone)]
pub struct Exporter {
    /// Observation Domain ID of every message header.
    observation_domain: u32,
    /// RFC 7011 §3.1: data records sent so far, modulo 2^32.
    sequence: u32,
    /// Resend the templates when this many seconds have passed since the last time.
    template_refresh_s: u32,
    /// ... or when this many data messages have been sent since (0: no count limit).
    template_refresh_messages: u32,
    /// Export time of the last template message, `None` before the first one.
    templates_sent_at: Option<u32>,
    /// Data messages since the last template message.
    messages_since_templates: u32,
}

impl Exporter {
    /// Default template refresh interval in seconds (RFC 6728 calls it templateRefreshTimeout).
    ///
    /// RFC 7011 §8.4: "Exporting Processes using UDP as the transport protocol MUST
    /// periodically retransmit each active Template at regular intervals", "Default settings
    /// for these values are deployment- and application-specific." A Collecting Process that
    /// restarts (or missed the datagram) cannot decode any Data Set until it sees the templates
    /// again; records received in that window are lost. RFC 6728's
    /// default of 600 s is too long for records that are legal evidence; 20 s (VPP's default,
    /// so operators see the same behaviour) costs one 184-octet message every 20 s.
    pub const DEFAULT_TEMPLATE_REFRESH_S: u32 = 20;
    /// Default template refresh after this many data messages (RFC 6728 templateRefreshPacket):
    /// at session-logging rates thousands of messages go out a second, and a count bounds how
    /// many a restarted collector drops (100 messages, about 5000 records) for a 184-octet
    /// message per 100 full ones (0.13 % of the bytes).
    pub const DEFAULT_TEMPLATE_REFRESH_MESSAGES: u32 = 100;

    /// An exporter for `observation_domain`, sequence number 0, default template refresh.
    pub fn new(observation_domain: u32) -> Self {
        Self {
            observation_domain,
            sequence: 0,
            template_refresh_s: Self::DEFAULT_TEMPLATE_REFRESH_S,
            template_refresh_messages: Self::DEFAULT_TEMPLATE_REFRESH_MESSAGES,
            templates_sent_at: None,
            messages_since_templates: 0,
        }
    }

    /// Sets the template refresh: after `interval_s` seconds, or after `every_messages` data
    /// messages (0 disables the count), whichever comes first.
    #[must_use]
    pub fn with_template_refresh(mut self, interval_s: u32, every_messages: u32) -> Self {
        self.template_refresh_s = interval_s;
        self.template_refresh_messages = every_messages;
        self
    }

    /// The Observation Domain ID written in every message header.
    pub fn observation_domain(&self) -> u32 {
        self.observation_domain
    }

    /// The Sequence Number the next message will carry: data records sent so far, mod 2^32.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Whether the control thread should call [`Exporter::templates`] before its next data
    /// message: no templates sent yet, the refresh interval has passed since the last ones, or
    /// the refresh message count is reached. A clock that went backwards (`now_s` before the
    /// last template time) also answers yes: resending is always safe.
    pub fn should_resend_templates(&self, now_s: u32) -> bool {
        let Some(sent_at) = self.templates_sent_at else {
            return true;
        };
        now_s.wrapping_sub(sent_at) >= self.template_refresh_s
            || (self.template_refresh_messages != 0
                && self.messages_since_templates >= self.template_refresh_messages)
    }

    /// Appends one IPFIX message holding one Template Set with every template (see the module
    /// documentation for the table), 184 octets. It carries the current sequence number and
    /// does not advance it: "Template and Options Template Records do not increase the Sequence
    /// Number" (RFC 7011 §3.1).
    pub fn templates(&mut self, export_time_s: u32, out: &mut Vec<u8>) {
        let start = out.len();
        let set_len = SET_HEADER_LEN
            + TEMPLATES
                .iter()
                .map(|t| 4 + 4 * t.fields.len())
                .sum::<usize>();
        out.reserve(MESSAGE_HEADER_LEN + set_len);
        self.put_header(export_time_s, MESSAGE_HEADER_LEN + set_len, out);
        // RFC 7011 §3.3.2: Set ID 2 = Template Set; Length covers the set header too.
        out.extend_from_slice(&TEMPLATE_SET_ID.to_be_bytes());
        out.extend_from_slice(&len16(set_len).to_be_bytes());
        for t in &TEMPLATES {
            // RFC 7011 §3.4.1: Template Record Header = Template ID, Field Count.
            out.extend_from_slice(&t.id.to_be_bytes());
            out.extend_from_slice(&len16(t.fields.len()).to_be_bytes());
            for &(ie, len) in t.fields {
                // RFC 7011 §3.2: Field Specifier = E bit + Information Element identifier,
                // Field Length. E = 0: IANA-registered element, no Enterprise Number.
                out.extend_from_slice(&ie.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        debug_assert_eq!(out.len() - start, MESSAGE_HEADER_LEN + set_len);
        self.templates_sent_at = Some(export_time_s);
        self.messages_since_templates = 0;
    }

    /// Appends one IPFIX message with as many of `recs` (from the front) as fit in `max_len`
    /// octets (clamped to [`MAX_MESSAGE_LEN`]) and returns how many it took. Consecutive
    /// records with the same template share one Data Set; a record is never split. Returns 0
    /// and appends nothing when `recs` is empty or the first record does not fit (never when
    /// `max_len >= MIN_MESSAGE_LEN`). The sequence number advances by the count returned.
    pub fn records(
        &mut self,
        export_time_s: u32,
        recs: &[Record],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> usize {
        let max_len = max_len.min(MAX_MESSAGE_LEN);
        let Some(first) = recs.first() else {
            return 0;
        };
        if MESSAGE_HEADER_LEN + SET_HEADER_LEN + first.encoded_len() > max_len {
            return 0;
        }
        let start = out.len();
        // Upper bound of what this call appends, so the buffer grows at most once.
        let bound = recs
            .iter()
            .map(|r| SET_HEADER_LEN + r.encoded_len())
            .sum::<usize>()
            .saturating_add(MESSAGE_HEADER_LEN)
            .min(max_len);
        out.reserve(bound);
        self.put_header(export_time_s, 0, out); // length patched below

        let mut msg_len = MESSAGE_HEADER_LEN;
        // (offset of the open Data Set's header in `out`, its Set ID = Template ID)
        let mut open_set: Option<(usize, u16)> = None;
        let mut taken = 0usize;
        for rec in recs {
            let id = rec.template_id();
            let new_set = !matches!(open_set, Some((_, open_id)) if open_id == id);
            let need = rec.encoded_len() + if new_set { SET_HEADER_LEN } else { 0 };
            if msg_len + need > max_len {
                break;
            }
            if new_set {
                if let Some((pos, _)) = open_set {
                    let set_len = out.len() - pos;
                    patch_len(out, pos, set_len);
                }
                open_set = Some((out.len(), id));
                // RFC 7011 §3.3.2: a Data Set's Set ID is the Template ID (>= 256) of the
                // records it carries.
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&[0, 0]); // length patched when the set closes
            }
            rec.encode(out);
            msg_len += need;
            taken += 1;
        }
        if let Some((pos, _)) = open_set {
            let set_len = out.len() - pos;
            patch_len(out, pos, set_len);
        }
        // RFC 7011 §3.1 Length: "Total length of the IPFIX Message, measured in octets,
        // including Message Header and Set(s)."
        patch_len(out, start, msg_len);
        debug_assert_eq!(out.len() - start, msg_len);

        // RFC 7011 §3.1 Sequence Number: "Incremental sequence counter modulo 2^32 of all IPFIX
        // Data Records sent in the current stream from the current Observation Domain by the
        // Exporting Process." §10.3.2, for UDP: "the IPFIX Sequence Number contains the total
        // number of IPFIX Data Records sent for the Transport Session prior to the receipt of
        // this IPFIX Message, modulo 2^32." So this message carried the count before it (written
        // by `put_header`), and the next one carries the count including its records.
        self.sequence = self
            .sequence
            .wrapping_add(u32::try_from(taken).unwrap_or(u32::MAX));
        self.messages_since_templates = self.messages_since_templates.saturating_add(1);
        taken
    }

    /// RFC 7011 §3.1 Message Header: Version, Length, Export Time, Sequence Number,
    /// Observation Domain ID (16 octets, network byte order).
    fn put_header(&self, export_time_s: u32, len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&IPFIX_VERSION.to_be_bytes());
        out.extend_from_slice(&len16(len).to_be_bytes());
        // Export Time: when the message leaves the Exporter, in seconds since the UNIX epoch.
        out.extend_from_slice(&export_time_s.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.observation_domain.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_S: u32 = 1_700_000_000; // 0x6553f100
    const T0_MS: u64 = 1_700_000_000_123; // 0x0000_018b_cfe5_687b

    fn block(event: NatEvent, port_start: u16) -> Record {
        Record::Block(PortBlockRecord {
            time_ms: T0_MS,
            event,
            subscriber: Ipv4Addr::new(100, 64, 0, 1),
            public: Ipv4Addr::new(198, 51, 100, 7),
            port_start,
            port_end: port_start + 511,
            step: 1,
            num_ports: 512,
        })
    }

    fn session(dst: bool) -> Record {
        Record::Session(SessionRecord {
            time_ms: T0_MS,
            event: NatEvent::Nat44SessionCreate,
            protocol: 6,
            src: Ipv4Addr::new(100, 64, 0, 1),
            src_port: 40000,
            post_src: Ipv4Addr::new(198, 51, 100, 7),
            post_src_port: 1025,
            dst: dst.then_some((Ipv4Addr::new(203, 0, 113, 9), 443)),
        })
    }

    fn exhaustion(event: NatEvent) -> Record {
        Record::Exhaustion(ExhaustionRecord {
            time_ms: T0_MS,
            event,
            subscriber: Some(Ipv4Addr::new(100, 64, 0, 1)),
            public: Some(Ipv4Addr::new(198, 51, 100, 7)),
            quota: Some(ExhaustionRecord::QUOTA_MAX_ENTRIES_PER_USER),
        })
    }

    /// Walks one message: checks the header and set lengths add up, returns
    /// (sequence, [(set id, set body)]).
    fn parse(msg: &[u8]) -> (u32, Vec<(u16, Vec<u8>)>) {
        assert_eq!(&msg[0..2], &[0x00, 0x0a]);
        assert_eq!(usize::from(u16::from_be_bytes([msg[2], msg[3]])), msg.len());
        let seq = u32::from_be_bytes([msg[8], msg[9], msg[10], msg[11]]);
        let mut sets = Vec::new();
        let mut pos = MESSAGE_HEADER_LEN;
        while pos < msg.len() {
            let id = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
            let len = usize::from(u16::from_be_bytes([msg[pos + 2], msg[pos + 3]]));
            assert!(len >= SET_HEADER_LEN && pos + len <= msg.len());
            sets.push((id, msg[pos + SET_HEADER_LEN..pos + len].to_vec()));
            pos += len;
        }
        assert_eq!(pos, msg.len());
        (seq, sets)
    }

    #[test]
    fn nat_event_values_are_the_iana_ones() {
        let values = [
            (NatEvent::PortBlockAlloc, 16),
            (NatEvent::PortBlockDealloc, 17),
            (NatEvent::AddressesExhausted, 3),
            (NatEvent::PortsExhausted, 12),
            (NatEvent::QuotaExceeded, 13),
            (NatEvent::Nat44SessionCreate, 4),
            (NatEvent::Nat44SessionDelete, 5),
        ];
        for (event, value) in values {
            assert_eq!(event.value(), value, "{event:?}");
        }
    }

    #[test]
    fn record_lengths_match_their_templates() {
        assert_eq!(
            [
                PORT_BLOCK_LEN,
                SESSION_LEN,
                SESSION_DST_LEN,
                ADDRESSES_EXHAUSTED_LEN,
                PORTS_EXHAUSTED_LEN,
                QUOTA_EXCEEDED_LEN
            ],
            [25, 22, 28, 13, 17, 17]
        );
        assert_eq!(MIN_MESSAGE_LEN, 16 + 4 + SESSION_DST_LEN);
        let recs = [
            block(NatEvent::PortBlockAlloc, 1024),
            session(false),
            session(true),
            exhaustion(NatEvent::AddressesExhausted),
            exhaustion(NatEvent::PortsExhausted),
            exhaustion(NatEvent::QuotaExceeded),
            exhaustion(NatEvent::Nat44SessionCreate), // misuse: ports-exhausted layout
        ];
        for rec in &recs {
            let t = TEMPLATES
                .iter()
                .find(|t| t.id == rec.template_id())
                .expect("template exists");
            let mut out = Vec::new();
            rec.encode(&mut out);
            assert_eq!(out.len(), t.record_len(), "{rec:?}");
            assert_eq!(out.len(), rec.encoded_len(), "{rec:?}");
        }
    }

    #[test]
    fn template_message_exact_bytes() {
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        exp.templates(T0_S, &mut out);
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            // --- message header (RFC 7011 §3.1) ---
            0x00, 0x0a,             // version 10
            0x00, 0xb8,             // length 184 = 16 + 168
            0x65, 0x53, 0xf1, 0x00, // export time 1_700_000_000
            0x00, 0x00, 0x00, 0x00, // sequence 0 (no data records sent yet)
            0x00, 0x00, 0x00, 0x01, // observation domain 1
            // --- Template Set header ---
            0x00, 0x02,             // set ID 2 = Template Set
            0x00, 0xa8,             // set length 168 = 4 + 36 + 32 + 40 + 16 + 20 + 20
            // --- template 256: port block, 8 fields (36 octets) ---
            0x01, 0x00, 0x00, 0x08, // template ID 256, field count 8
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
            0x00, 0xe1, 0x00, 0x04, // 225 postNATSourceIPv4Address, 4
            0x01, 0x69, 0x00, 0x02, // 361 portRangeStart, 2
            0x01, 0x6a, 0x00, 0x02, // 362 portRangeEnd, 2
            0x01, 0x6b, 0x00, 0x02, // 363 portRangeStepSize, 2
            0x01, 0x6c, 0x00, 0x02, // 364 portRangeNumPorts, 2
            // --- template 257: session, 7 fields (32 octets) ---
            0x01, 0x01, 0x00, 0x07, // template ID 257, field count 7
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x00, 0x04, 0x00, 0x01, // 4 protocolIdentifier, 1
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
            0x00, 0x07, 0x00, 0x02, // 7 sourceTransportPort, 2
            0x00, 0xe1, 0x00, 0x04, // 225 postNATSourceIPv4Address, 4
            0x00, 0xe3, 0x00, 0x02, // 227 postNAPTSourceTransportPort, 2
            // --- template 258: session with destination, 9 fields (40 octets) ---
            0x01, 0x02, 0x00, 0x09, // template ID 258, field count 9
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x00, 0x04, 0x00, 0x01, // 4 protocolIdentifier, 1
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
            0x00, 0x07, 0x00, 0x02, // 7 sourceTransportPort, 2
            0x00, 0xe1, 0x00, 0x04, // 225 postNATSourceIPv4Address, 4
            0x00, 0xe3, 0x00, 0x02, // 227 postNAPTSourceTransportPort, 2
            0x00, 0x0c, 0x00, 0x04, // 12 destinationIPv4Address, 4
            0x00, 0x0b, 0x00, 0x02, // 11 destinationTransportPort, 2
            // --- template 259: addresses exhausted, 3 fields (16 octets) ---
            0x01, 0x03, 0x00, 0x03, // template ID 259, field count 3
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
            // --- template 260: ports exhausted, 4 fields (20 octets) ---
            0x01, 0x04, 0x00, 0x04, // template ID 260, field count 4
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
            0x00, 0xe1, 0x00, 0x04, // 225 postNATSourceIPv4Address, 4
            // --- template 261: quota exceeded, 4 fields (20 octets) ---
            0x01, 0x05, 0x00, 0x04, // template ID 261, field count 4
            0x01, 0x43, 0x00, 0x08, // 323 observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // 230 natEvent, 1
            0x01, 0xd2, 0x00, 0x04, // 466 natQuotaExceededEvent, 4
            0x00, 0x08, 0x00, 0x04, // 8 sourceIPv4Address, 4
        ];
        assert_eq!(out, expected);
        assert_eq!(exp.sequence(), 0, "templates do not advance the sequence");
    }

    #[test]
    fn data_message_exact_bytes_for_one_port_block() {
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        let n = exp.records(
            T0_S,
            &[block(NatEvent::PortBlockAlloc, 1024)],
            &mut out,
            DEFAULT_MAX_MESSAGE_LEN,
        );
        assert_eq!(n, 1);
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            // --- message header ---
            0x00, 0x0a,             // version 10
            0x00, 0x2d,             // length 45 = 16 + 4 + 25
            0x65, 0x53, 0xf1, 0x00, // export time 1_700_000_000
            0x00, 0x00, 0x00, 0x00, // sequence 0: no data record sent before this message
            0x00, 0x00, 0x00, 0x01, // observation domain 1
            // --- Data Set header ---
            0x01, 0x00,             // set ID 256 = template of port-block records
            0x00, 0x1d,             // set length 29 = 4 + 25
            // --- record ---
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, // time 1_700_000_000_123 ms
            0x10,                   // natEvent 16: port block allocation
            0x64, 0x40, 0x00, 0x01, // sourceIPv4Address 100.64.0.1
            0xc6, 0x33, 0x64, 0x07, // postNATSourceIPv4Address 198.51.100.7
            0x04, 0x00,             // portRangeStart 1024
            0x05, 0xff,             // portRangeEnd 1535
            0x00, 0x01,             // portRangeStepSize 1
            0x02, 0x00,             // portRangeNumPorts 512
        ];
        assert_eq!(out, expected);
        assert_eq!(exp.sequence(), 1);
    }

    #[test]
    fn other_record_layouts_exact_bytes() {
        let mut exp = Exporter::new(7);
        let mut out = Vec::new();
        let recs = [session(true), exhaustion(NatEvent::QuotaExceeded)];
        assert_eq!(exp.records(T0_S, &recs, &mut out, 1400), 2);
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            0x00, 0x0a, 0x00, 0x45, // version 10, length 69 = 16 + (4 + 28) + (4 + 17)
            0x65, 0x53, 0xf1, 0x00, // export time
            0x00, 0x00, 0x00, 0x00, // sequence 0
            0x00, 0x00, 0x00, 0x07, // observation domain 7
            0x01, 0x02, 0x00, 0x20, // set 258 (session with destination), length 32
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, // time
            0x04,                   // natEvent 4: NAT44 session create
            0x06,                   // protocolIdentifier 6 (TCP)
            0x64, 0x40, 0x00, 0x01, // sourceIPv4Address 100.64.0.1
            0x9c, 0x40,             // sourceTransportPort 40000
            0xc6, 0x33, 0x64, 0x07, // postNATSourceIPv4Address 198.51.100.7
            0x04, 0x01,             // postNAPTSourceTransportPort 1025
            0xcb, 0x00, 0x71, 0x09, // destinationIPv4Address 203.0.113.9
            0x01, 0xbb,             // destinationTransportPort 443
            0x01, 0x05, 0x00, 0x15, // set 261 (quota exceeded), length 21
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, // time
            0x0d,                   // natEvent 13: quota exceeded
            0x00, 0x00, 0x00, 0x03, // natQuotaExceededEvent 3: max entries per user
            0x64, 0x40, 0x00, 0x01, // sourceIPv4Address 100.64.0.1
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn exhaustion_none_fields_are_sent_as_zero() {
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        let rec = Record::Exhaustion(ExhaustionRecord {
            time_ms: 0,
            event: NatEvent::PortsExhausted,
            subscriber: None,
            public: Some(Ipv4Addr::new(198, 51, 100, 7)),
            quota: None,
        });
        assert_eq!(exp.records(0, &[rec], &mut out, 1400), 1);
        let (_, sets) = parse(&out);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].0, TEMPLATE_PORTS_EXHAUSTED);
        assert_eq!(
            sets[0].1,
            [0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 198, 51, 100, 7]
        );
    }

    #[test]
    fn sequence_counts_data_records_before_each_message() {
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        exp.templates(T0_S, &mut out);
        assert_eq!(parse(&out).0, 0);

        let recs: Vec<Record> = (0..3)
            .map(|i| block(NatEvent::PortBlockAlloc, 1024 + 512 * i))
            .collect();
        out.clear();
        assert_eq!(exp.records(T0_S, &recs, &mut out, 1400), 3);
        assert_eq!(parse(&out).0, 0);

        out.clear();
        assert_eq!(exp.records(T0_S, &recs[..2], &mut out, 1400), 2);
        assert_eq!(parse(&out).0, 3);

        out.clear();
        exp.templates(T0_S + 1, &mut out);
        assert_eq!(parse(&out).0, 5, "templates carry the current count");

        out.clear();
        assert_eq!(exp.records(T0_S + 1, &recs[..1], &mut out, 1400), 1);
        assert_eq!(parse(&out).0, 5);
        assert_eq!(exp.sequence(), 6);
    }

    #[test]
    fn sequence_wraps_modulo_2_pow_32() {
        let mut exp = Exporter::new(1);
        exp.sequence = u32::MAX - 1;
        let mut out = Vec::new();
        let recs = [session(false), session(false), session(false)];
        assert_eq!(exp.records(0, &recs, &mut out, 1400), 3);
        assert_eq!(exp.sequence(), 1);
    }

    #[test]
    fn consecutive_records_of_one_template_share_a_set() {
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        let recs = [
            block(NatEvent::PortBlockAlloc, 1024),
            block(NatEvent::PortBlockDealloc, 1536),
            session(false),
            session(false),
            session(true),
            block(NatEvent::PortBlockAlloc, 2048),
        ];
        assert_eq!(exp.records(0, &recs, &mut out, 1400), recs.len());
        let (_, sets) = parse(&out);
        let shape: Vec<(u16, usize)> = sets.iter().map(|(id, b)| (*id, b.len())).collect();
        assert_eq!(
            shape,
            [
                (TEMPLATE_PORT_BLOCK, 2 * 25),
                (TEMPLATE_SESSION, 2 * 22),
                (TEMPLATE_SESSION_DST, 28),
                (TEMPLATE_PORT_BLOCK, 25),
            ]
        );
    }

    #[test]
    fn packing_never_exceeds_max_len_and_never_splits_a_record() {
        let recs: Vec<Record> = (0..200u16)
            .map(|i| match i % 5 {
                0 => block(NatEvent::PortBlockAlloc, 1024),
                1 => session(i % 2 == 0),
                2 => session(true),
                3 => exhaustion(NatEvent::QuotaExceeded),
                _ => exhaustion(NatEvent::AddressesExhausted),
            })
            .collect();
        for max_len in [MIN_MESSAGE_LEN, 49, 64, 100, 484, 1400, 1401, 9000] {
            let mut exp = Exporter::new(1);
            let mut rest = &recs[..];
            let mut messages = 0;
            while !rest.is_empty() {
                let mut out = Vec::new();
                let n = exp.records(0, rest, &mut out, max_len);
                assert!(n > 0, "max_len {max_len} must make progress");
                assert!(out.len() <= max_len, "{} > {max_len}", out.len());
                // The message is as full as it can be: the next record did not fit.
                if let Some(next) = rest.get(n) {
                    let same_set = next.template_id() == rest[n - 1].template_id();
                    let need = next.encoded_len() + if same_set { 0 } else { SET_HEADER_LEN };
                    assert!(out.len() + need > max_len, "record {n} would have fitted");
                }
                // Every record is whole: the set bodies are exactly the records' encodings.
                let (_, sets) = parse(&out);
                let mut expected = Vec::new();
                for r in &rest[..n] {
                    r.encode(&mut expected);
                }
                let got: Vec<u8> = sets.into_iter().flat_map(|(_, body)| body).collect();
                assert_eq!(got, expected);
                rest = &rest[n..];
                messages += 1;
            }
            assert_eq!(exp.sequence(), 200);
            assert!(messages >= 1);
        }
    }

    #[test]
    fn max_len_above_the_length_field_is_clamped() {
        let recs = vec![session(false); 5000]; // 110 000 octets of records
        let mut exp = Exporter::new(1);
        let mut out = Vec::new();
        let n = exp.records(0, &recs, &mut out, usize::MAX);
        assert!(out.len() <= MAX_MESSAGE_LEN);
        assert_eq!(n, (MAX_MESSAGE_LEN - 16 - 4) / 22);
        assert_eq!(parse(&out).1.len(), 1);
    }

    #[test]
    fn empty_input_or_too_small_max_len_writes_nothing() {
        let mut exp = Exporter::new(1);
        let mut out = vec![0xaa];
        assert_eq!(exp.records(0, &[], &mut out, 1400), 0);
        assert_eq!(out, [0xaa]);
        assert_eq!(exp.records(0, &[session(true)], &mut out, 47), 0);
        assert_eq!(out, [0xaa]);
        assert_eq!(exp.sequence(), 0);
        assert_eq!(exp.messages_since_templates, 0);
    }

    #[test]
    fn records_append_after_existing_bytes() {
        let mut exp = Exporter::new(1);
        let mut out = vec![1, 2, 3];
        assert_eq!(exp.records(0, &[session(false)], &mut out, 45), 1);
        assert_eq!(&out[..3], &[1, 2, 3]);
        assert_eq!(out.len(), 3 + 16 + 4 + 22);
        parse(&out[3..]);
    }

    #[test]
    fn template_refresh_by_time_and_by_message_count() {
        let mut exp = Exporter::new(1).with_template_refresh(20, 3);
        let mut out = Vec::new();
        assert!(exp.should_resend_templates(T0_S), "nothing sent yet");
        exp.templates(T0_S, &mut out);
        assert!(!exp.should_resend_templates(T0_S));
        assert!(!exp.should_resend_templates(T0_S + 19));
        assert!(exp.should_resend_templates(T0_S + 20));
        assert!(
            exp.should_resend_templates(T0_S - 1),
            "clock went backwards"
        );

        for _ in 0..2 {
            exp.records(T0_S, &[session(false)], &mut out, 1400);
        }
        assert!(!exp.should_resend_templates(T0_S + 1));
        exp.records(T0_S, &[], &mut out, 1400); // nothing sent: does not count
        assert!(!exp.should_resend_templates(T0_S + 1));
        exp.records(T0_S, &[session(false)], &mut out, 1400);
        assert!(exp.should_resend_templates(T0_S + 1), "3 messages since");
        exp.templates(T0_S + 1, &mut out);
        assert!(!exp.should_resend_templates(T0_S + 1));

        let mut no_count = Exporter::new(1).with_template_refresh(20, 0);
        no_count.templates(T0_S, &mut out);
        for _ in 0..1000 {
            no_count.records(T0_S, &[session(false)], &mut out, 1400);
        }
        assert!(!no_count.should_resend_templates(T0_S + 19));
    }

    #[test]
    fn defaults() {
        let exp = Exporter::new(42);
        assert_eq!(exp.observation_domain(), 42);
        assert_eq!(exp.sequence(), 0);
        assert_eq!(exp.template_refresh_s, 20);
        assert_eq!(exp.template_refresh_messages, 100);
        assert_eq!(UNKNOWN_PMTU_MAX_MESSAGE_LEN, 484);
    }
}
