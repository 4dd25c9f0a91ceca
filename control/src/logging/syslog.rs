//! RFC 5424 syslog lines for NAT events, and the [`LogEvent`] type every log format shares.
//!
//! This module owns the *text* of a syslog message: header, structured data, escaping, the
//! RFC 3339 timestamp (with its own civil-from-days conversion, no date crate) and the RFC 6587
//! octet-counting frame. It opens no socket: the control thread formats into a reused `String`
//! and hands the bytes to whatever transport is configured (RFC 5426 UDP, one message per
//! datagram, is the main one). Keeping formatting pure makes every line testable byte for byte.
//!
//! # Vocabulary
//!
//! The MSGIDs and parameter names follow FD.io VPP's NAT plugin, which took them from
//! draft-ietf-behave-syslog-nat-logging (expired, but the only common vocabulary there is):
//!
//! | MSGID | event | severity |
//! |---|---|---|
//! | `APMADD` / `APMDEL` | address-and-port mapping (binding) created / deleted | 6 informational |
//! | `SADD` / `SDEL` | session created / deleted | 6 informational |
//! | `PBAADD` / `PBADEL` | port block allocated / de-allocated (**our extension**) | 6 informational |
//! | `NATEXH` | ports or addresses exhausted (**our extension**) | 4 warning |
//! | `NATQUOTA` | a subscriber quota exceeded (**our extension**) | 4 warning |
//!
//! `PBAADD`/`PBADEL` are the syslog twin of IPFIX natEvent 16/17 (RFC 8158): the draft predates
//! port-block allocation, and VPP has no block form. They carry `ISADDR` (subscriber), `XSADDR`
//! (public address) and the block as `XPORTSTART`/`XPORTEND` (inclusive), and no `PROTO`: a
//! block serves every protocol. `NATEXH` says what ran out in `RESOURCE` (`"ports"`: natEvent 12,
//! `"addresses"`: natEvent 3); `NATQUOTA` names the limit in `QUOTA` (see [`QuotaKind`],
//! natEvent 13 / natQuotaExceededEvent).
//!
//! Parameters, in this order when present: `SSUBIX` (subscriber index, when the caller has one),
//! `ISADDR`, `ISPORT`, `XSADDR`, `XSPORT`, `PROTO` (IP protocol number, as VPP writes it),
//! `XDADDR`, `XDPORT`. VPP's `IATYP`/`XATYP` (always `IPv4` for NAT44) and `SVLAN` (a VRF id; we
//! have no VRFs) are left out.
//!
//! # Choices worth knowing
//!
//! - **SD-ID `nat@32473`** for every element. VPP uses `napmap` and `nsess`, but RFC 5424 §6.3.2
//!   leaves SD-IDs without an `@` to IETF Review (an IANA registry), which these are not in. A
//!   private name needs an enterprise number; 32473 is the one RFC 5612 sets aside for
//!   documentation and examples. It is a constant ([`SD_ID`]), not an option: collectors parse
//!   on it, and a deployment that owns a Private Enterprise Number changes the constant once.
//! - **Facility** defaults to 16 (local0), as VPP's `NAT_FACILITY`; configurable 0..=23.
//! - **No MSG part.** The structured data is the record; a human sentence would double the size
//!   of a line that may be written hundreds of millions of times a day, and an ASCII-only MSG
//!   would have to be `MSG-ANY` anyway (no BOM). Lines end right after the last `]`.
//! - **Destinations** (`XDADDR`/`XDPORT`) are written only when the formatter is built with
//!   [`SyslogFormatter::with_destinations`]`(true)` *and* the event carries one. RFC 6888:
//!   "REQ-12: A CGN SHOULD NOT log destination addresses or ports unless required to do so for
//!   administrative reasons."
//! - **PROCID** is NILVALUE (`-`) unless set; the daemon sets its process id so a restart shows
//!   (RFC 5424 §6.2.6: "a change in the value indicates there has been a discontinuity in syslog
//!   reporting").
//! - **Time** is Unix milliseconds (`u64`), the unit of IPFIX observationTimeMilliseconds and of
//!   the [port-block registry](crate::registry). Years past 9999 cannot be written in RFC 3339's
//!   four digits and are clamped to `9999-12-31T23:59:59.999Z`.
//!
//! Sample (facility 16, event BlockAlloc):
//!
//! ```text
//! <134>1 2026-11-21T10:42:07.123Z nat1.example.net cgnat - PBAADD [nat@32473 ISADDR="100.64.0.7" XSADDR="203.0.113.7" XPORTSTART="40960" XPORTEND="41471"]
//! ```

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The SD-ID of every structured-data element we write.
///
/// RFC 5424 §6.3.2: SD-IDs without an at-sign are assigned by IETF Review; anyone may define
/// names of the form `name@<private enterprise number>`, its example being `ourSDID@32473`.
/// 32473 is the enterprise number RFC 5612 reserves for documentation; see the module
/// documentation.
pub const SD_ID: &str = "nat@32473";

/// Default APP-NAME.
pub const DEFAULT_APP_NAME: &str = "cgnat";

/// Default facility: 16, "local use 0 (local0)" in RFC 5424 §6.2.1 Table 1 (VPP uses it too).
pub const DEFAULT_FACILITY: u8 = 16;

/// RFC 5424 §6: `NILVALUE = "-"`.
pub const NILVALUE: &str = "-";

/// The largest time [`write_rfc3339_ms`] can write: 9999-12-31T23:59:59.999Z in Unix ms.
pub const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

/// What a subscriber ran into, for [`LogEvent::QuotaExceeded`].
///
/// The numbers are RFC 8158's natQuotaExceededEvent (IPFIX IE 466) values, so the syslog,
/// JSON and IPFIX records of one event can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// Maximum session entries (IE 466 value 1).
    Sessions,
    /// Maximum BIB entries, i.e. bindings (value 2).
    Bindings,
    /// Maximum entries per user, e.g. port blocks per subscriber (value 3).
    EntriesPerUser,
    /// Maximum active hosts or subscribers (value 4).
    Subscribers,
    /// Maximum fragments pending reassembly (value 5).
    Fragments,
}

impl QuotaKind {
    /// The name written in syslog `QUOTA` and JSON `quota`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKind::Sessions => "sessions",
            QuotaKind::Bindings => "bindings",
            QuotaKind::EntriesPerUser => "entries-per-user",
            QuotaKind::Subscribers => "subscribers",
            QuotaKind::Fragments => "fragments",
        }
    }

    /// natQuotaExceededEvent (IPFIX IE 466) value.
    pub fn ipfix_value(self) -> u32 {
        match self {
            QuotaKind::Sessions => 1,
            QuotaKind::Bindings => 2,
            QuotaKind::EntriesPerUser => 3,
            QuotaKind::Subscribers => 4,
            QuotaKind::Fragments => 5,
        }
    }
}

/// One loggable NAT event, as the control thread receives it from a worker.
///
/// Ports are host order; `proto` is the IP protocol number (6 TCP, 17 UDP, 1 ICMP, whose query
/// identifier plays the port). Block ranges are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogEvent {
    /// A port block was allocated to a subscriber (natEvent 16).
    BlockAlloc {
        /// Inside (subscriber) address.
        subscriber: Ipv4Addr,
        /// Public address the block is on.
        public: Ipv4Addr,
        /// First port of the block.
        port_start: u16,
        /// Last port of the block (inclusive).
        port_end: u16,
    },
    /// A port block was returned to the pool (natEvent 17).
    BlockDealloc {
        /// Inside (subscriber) address.
        subscriber: Ipv4Addr,
        /// Public address the block is on.
        public: Ipv4Addr,
        /// First port of the block.
        port_start: u16,
        /// Last port of the block (inclusive).
        port_end: u16,
    },
    /// An endpoint-independent mapping was created (natEvent 8, NAT44 BIB create).
    BindingCreate {
        /// IP protocol number.
        proto: u8,
        /// Inside address.
        inside: Ipv4Addr,
        /// Inside port.
        inside_port: u16,
        /// Public address.
        public: Ipv4Addr,
        /// Public port.
        public_port: u16,
    },
    /// A mapping was deleted (natEvent 9).
    BindingDelete {
        /// IP protocol number.
        proto: u8,
        /// Inside address.
        inside: Ipv4Addr,
        /// Inside port.
        inside_port: u16,
        /// Public address.
        public: Ipv4Addr,
        /// Public port.
        public_port: u16,
    },
    /// A session was created (natEvent 4).
    SessionCreate {
        /// IP protocol number.
        proto: u8,
        /// Inside address.
        inside: Ipv4Addr,
        /// Inside port.
        inside_port: u16,
        /// Public address.
        public: Ipv4Addr,
        /// Public port.
        public_port: u16,
        /// Remote endpoint, when the worker reports it; written only with destination logging on.
        dest: Option<(Ipv4Addr, u16)>,
    },
    /// A session was deleted (natEvent 5).
    SessionDelete {
        /// IP protocol number.
        proto: u8,
        /// Inside address.
        inside: Ipv4Addr,
        /// Inside port.
        inside_port: u16,
        /// Public address.
        public: Ipv4Addr,
        /// Public port.
        public_port: u16,
        /// Remote endpoint, when the worker reports it; written only with destination logging on.
        dest: Option<(Ipv4Addr, u16)>,
    },
    /// A subscriber needed a port and none was left in its blocks nor a new block to be had
    /// (natEvent 12).
    PortsExhausted {
        /// The subscriber.
        subscriber: Ipv4Addr,
        /// Its public address, when the worker knows it.
        public: Option<Ipv4Addr>,
    },
    /// No public address had a free block for a new subscriber (natEvent 3).
    AddressesExhausted {
        /// The subscriber that asked, when known.
        subscriber: Option<Ipv4Addr>,
    },
    /// A subscriber hit a configured limit (natEvent 13).
    QuotaExceeded {
        /// The subscriber.
        subscriber: Ipv4Addr,
        /// Which limit.
        kind: QuotaKind,
    },
}

impl LogEvent {
    /// The RFC 5424 MSGID (≤ 32 PRINTUSASCII, §6.2.7: "The MSGID SHOULD identify the type of
    /// message").
    pub fn msgid(&self) -> &'static str {
        match self {
            LogEvent::BlockAlloc { .. } => "PBAADD",
            LogEvent::BlockDealloc { .. } => "PBADEL",
            LogEvent::BindingCreate { .. } => "APMADD",
            LogEvent::BindingDelete { .. } => "APMDEL",
            LogEvent::SessionCreate { .. } => "SADD",
            LogEvent::SessionDelete { .. } => "SDEL",
            LogEvent::PortsExhausted { .. } | LogEvent::AddressesExhausted { .. } => "NATEXH",
            LogEvent::QuotaExceeded { .. } => "NATQUOTA",
        }
    }

    /// Severity: exhaustion and quota events are warnings, the rest informational.
    pub fn severity(&self) -> Severity {
        match self {
            LogEvent::PortsExhausted { .. }
            | LogEvent::AddressesExhausted { .. }
            | LogEvent::QuotaExceeded { .. } => Severity::Warning,
            _ => Severity::Informational,
        }
    }

    /// The IPFIX natEvent (RFC 8158) value of the same event, for cross-referencing.
    pub fn nat_event(&self) -> u8 {
        match self {
            LogEvent::AddressesExhausted { .. } => 3,
            LogEvent::SessionCreate { .. } => 4,
            LogEvent::SessionDelete { .. } => 5,
            LogEvent::BindingCreate { .. } => 8,
            LogEvent::BindingDelete { .. } => 9,
            LogEvent::PortsExhausted { .. } => 12,
            LogEvent::QuotaExceeded { .. } => 13,
            LogEvent::BlockAlloc { .. } => 16,
            LogEvent::BlockDealloc { .. } => 17,
        }
    }
}

/// The RFC 5424 §6.2.1 severities we use (the numeric value is the enum's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 4, "Warning: warning conditions".
    Warning = 4,
    /// 6, "Informational: informational messages".
    Informational = 6,
}

impl Severity {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Severity::Warning => 4,
            Severity::Informational => 6,
        }
    }
}

/// A header field given to [`SyslogFormatter`] that RFC 5424 does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syslog {field} {value:?}: {reason}")]
pub struct SyslogFieldError {
    field: &'static str,
    value: String,
    reason: &'static str,
}

impl SyslogFieldError {
    /// Which field (`hostname`, `app_name`, `procid`, `facility`).
    pub fn field(&self) -> &'static str {
        self.field
    }
}

/// Formats [`LogEvent`]s as RFC 5424 messages. Immutable once built; cheap to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogFormatter {
    hostname: String,
    app_name: String,
    procid: String,
    facility: u8,
    destinations: bool,
}

/// Checks a header field against `NILVALUE / 1*<max>PRINTUSASCII`; empty becomes NILVALUE.
///
/// RFC 5424 §6: `PRINTUSASCII = %d33-126`, `HOSTNAME = NILVALUE / 1*255PRINTUSASCII`,
/// `APP-NAME = NILVALUE / 1*48PRINTUSASCII`, `PROCID = NILVALUE / 1*128PRINTUSASCII`.
fn header_field(field: &'static str, value: &str, max: usize) -> Result<String, SyslogFieldError> {
    let err = |reason| SyslogFieldError {
        field,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Ok(NILVALUE.to_owned());
    }
    if value.len() > max {
        return Err(err("too long for RFC 5424"));
    }
    if !value.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(err(
            "RFC 5424 allows only printable US-ASCII (33..=126), no spaces",
        ));
    }
    Ok(value.to_owned())
}

impl SyslogFormatter {
    /// A formatter for `hostname` (RFC 5424 §6.2.4: the FQDN "SHOULD" be used; an empty string
    /// writes NILVALUE), APP-NAME `cgnat`, PROCID `-`, facility 16, destinations off.
    pub fn new(hostname: &str) -> Result<Self, SyslogFieldError> {
        Ok(Self {
            hostname: header_field("hostname", hostname, 255)?,
            app_name: DEFAULT_APP_NAME.to_owned(),
            procid: NILVALUE.to_owned(),
            facility: DEFAULT_FACILITY,
            destinations: false,
        })
    }

    /// Sets the facility, 0..=23 (RFC 5424 §6.2.1; PRIVAL is at most 191 = 23 * 8 + 7).
    pub fn with_facility(mut self, facility: u8) -> Result<Self, SyslogFieldError> {
        if facility > 23 {
            return Err(SyslogFieldError {
                field: "facility",
                value: facility.to_string(),
                reason: "must be 0..=23",
            });
        }
        self.facility = facility;
        Ok(self)
    }

    /// Sets APP-NAME (≤ 48 printable US-ASCII; empty writes NILVALUE).
    pub fn with_app_name(mut self, app_name: &str) -> Result<Self, SyslogFieldError> {
        self.app_name = header_field("app_name", app_name, 48)?;
        Ok(self)
    }

    /// Sets PROCID (≤ 128 printable US-ASCII, typically the process id; empty writes NILVALUE).
    pub fn with_procid(mut self, procid: &str) -> Result<Self, SyslogFieldError> {
        self.procid = header_field("procid", procid, 128)?;
        Ok(self)
    }

    /// Writes `XDADDR`/`XDPORT` for session events that carry a destination (RFC 6888 REQ-12:
    /// off by default).
    pub fn with_destinations(mut self, on: bool) -> Self {
        self.destinations = on;
        self
    }

    /// HOSTNAME as written (`-` when none).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// APP-NAME as written.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// PROCID as written.
    pub fn procid(&self) -> &str {
        &self.procid
    }

    /// The facility.
    pub fn facility(&self) -> u8 {
        self.facility
    }

    /// Whether destinations are written.
    pub fn destinations(&self) -> bool {
        self.destinations
    }

    /// PRIVAL for `ev`. RFC 5424 §6.2.1: "The Priority value is calculated by first multiplying
    /// the Facility number by 8 and then adding the numerical value of the Severity."
    pub fn prival(&self, ev: &LogEvent) -> u8 {
        // facility ≤ 23 (checked when set), so this is ≤ 191 and cannot overflow.
        self.facility * 8 + ev.severity().code()
    }

    /// Appends the message for `ev` at `at_ms` (Unix milliseconds) to `out`, without any
    /// framing or line terminator. Same as [`format_indexed`](Self::format_indexed) with no
    /// subscriber index.
    pub fn format(&self, ev: &LogEvent, at_ms: u64, out: &mut String) {
        self.format_indexed(ev, None, at_ms, out);
    }

    /// Appends the message for `ev` at `at_ms` to `out`, with `SSUBIX` when `ssubix` is given.
    ///
    /// RFC 5424 §6:
    ///
    /// ```text
    /// SYSLOG-MSG      = HEADER SP STRUCTURED-DATA [SP MSG]
    /// HEADER          = PRI VERSION SP TIMESTAMP SP HOSTNAME
    ///                   SP APP-NAME SP PROCID SP MSGID
    /// PRI             = "<" PRIVAL ">"
    /// VERSION         = NONZERO-DIGIT 0*2DIGIT
    /// SD-ELEMENT      = "[" SD-ID *(SP SD-PARAM) "]"
    /// SD-PARAM        = PARAM-NAME "=" %d34 PARAM-VALUE %d34
    /// ```
    pub fn format_indexed(&self, ev: &LogEvent, ssubix: Option<u32>, at_ms: u64, out: &mut String) {
        // Writing to a String cannot fail; the fmt::Result is only there for the trait.
        let _ = self.write_msg(ev, ssubix, at_ms, out);
    }

    fn write_msg(
        &self,
        ev: &LogEvent,
        ssubix: Option<u32>,
        at_ms: u64,
        out: &mut String,
    ) -> fmt::Result {
        // VERSION is 1 for RFC 5424 (§6.2.2).
        write!(out, "<{}>1 ", self.prival(ev))?;
        write_rfc3339_ms(out, at_ms);
        write!(
            out,
            " {} {} {} {} [{SD_ID}",
            self.hostname,
            self.app_name,
            self.procid,
            ev.msgid()
        )?;
        let mut sd = Sd { out };
        if let Some(ix) = ssubix {
            sd.param("SSUBIX", ix)?;
        }
        match *ev {
            LogEvent::BlockAlloc {
                subscriber,
                public,
                port_start,
                port_end,
            }
            | LogEvent::BlockDealloc {
                subscriber,
                public,
                port_start,
                port_end,
            } => {
                sd.param("ISADDR", subscriber)?;
                sd.param("XSADDR", public)?;
                sd.param("XPORTSTART", port_start)?;
                sd.param("XPORTEND", port_end)?;
            }
            LogEvent::BindingCreate {
                proto,
                inside,
                inside_port,
                public,
                public_port,
            }
            | LogEvent::BindingDelete {
                proto,
                inside,
                inside_port,
                public,
                public_port,
            } => {
                sd.mapping(proto, inside, inside_port, public, public_port)?;
            }
            LogEvent::SessionCreate {
                proto,
                inside,
                inside_port,
                public,
                public_port,
                dest,
            }
            | LogEvent::SessionDelete {
                proto,
                inside,
                inside_port,
                public,
                public_port,
                dest,
            } => {
                sd.mapping(proto, inside, inside_port, public, public_port)?;
                if let (true, Some((daddr, dport))) = (self.destinations, dest) {
                    sd.param("XDADDR", daddr)?;
                    sd.param("XDPORT", dport)?;
                }
            }
            LogEvent::PortsExhausted { subscriber, public } => {
                sd.param("ISADDR", subscriber)?;
                if let Some(public) = public {
                    sd.param("XSADDR", public)?;
                }
                sd.param("RESOURCE", "ports")?;
            }
            LogEvent::AddressesExhausted { subscriber } => {
                if let Some(subscriber) = subscriber {
                    sd.param("ISADDR", subscriber)?;
                }
                sd.param("RESOURCE", "addresses")?;
            }
            LogEvent::QuotaExceeded { subscriber, kind } => {
                sd.param("ISADDR", subscriber)?;
                sd.param_str("QUOTA", kind.as_str());
            }
        }
        // No MSG part (see the module documentation): the message ends with the SD-ELEMENT.
        sd.out.push(']');
        Ok(())
    }
}

/// Writes SD-PARAMs into an open SD-ELEMENT.
struct Sd<'a> {
    out: &'a mut String,
}

impl Sd<'_> {
    /// A parameter whose value's text can hold none of `"`, `\`, `]` (numbers, addresses, our
    /// own constant words), so it needs no escaping.
    fn param(&mut self, name: &str, value: impl fmt::Display) -> fmt::Result {
        write!(self.out, " {name}=\"{value}\"")
    }

    /// A parameter with arbitrary text, escaped per RFC 5424 §6.3.3.
    fn param_str(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_param_value(value, self.out);
        self.out.push('"');
    }

    fn mapping(
        &mut self,
        proto: u8,
        inside: Ipv4Addr,
        inside_port: u16,
        public: Ipv4Addr,
        public_port: u16,
    ) -> fmt::Result {
        self.param("ISADDR", inside)?;
        self.param("ISPORT", inside_port)?;
        self.param("XSADDR", public)?;
        self.param("XSPORT", public_port)?;
        self.param("PROTO", proto)
    }
}

/// Appends `value` to `out` escaped as an RFC 5424 PARAM-VALUE.
///
/// RFC 5424 §6.3.3: "Inside PARAM-VALUE, the characters '"' (ABNF %d34), '\' (ABNF %d92), and
/// ']' (ABNF %d93) MUST be escaped. [...] Each of these three characters MUST be escaped as
/// '\"', '\\', and '\]' respectively."
pub fn escape_param_value(value: &str, out: &mut String) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Frames one message for a stream transport, RFC 6587 §3.4.1 (also RFC 5425 for TLS):
///
/// ```text
/// SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG
/// MSG-LEN      = NONZERO-DIGIT *DIGIT   ; the octet count of the SYSLOG-MSG
/// ```
///
/// Not needed for UDP: RFC 5426 §3.1, "Each syslog UDP datagram MUST contain only one syslog
/// message", so the datagram is the frame.
pub fn octet_counted(msg: &str) -> String {
    let mut framed = String::with_capacity(msg.len() + 6);
    let _ = write!(framed, "{} {msg}", msg.len());
    framed
}

/// Unix milliseconds of `t`; times before 1970 give 0, times too far ahead `u64::MAX`.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The proleptic Gregorian date `(year, month 1..=12, day 1..=31)` of `days` after 1970-01-01.
///
/// Howard Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"),
/// restricted to non-negative days so it runs on unsigned integers: shift the epoch to
/// 0000-03-01 so the leap day is the last day of the year, split into 400-year eras of
/// 146 097 days, then year-of-era, day-of-year and a March-based month.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 719 468 days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Appends `at_ms` (Unix milliseconds) as an RFC 3339 UTC timestamp with milliseconds,
/// e.g. `2026-11-21T10:42:07.123Z`; clamped to [`MAX_RFC3339_MS`].
///
/// RFC 5424 §6.2.3 restricts RFC 3339: "The "T" and "Z" characters in this syntax MUST be upper
/// case", "Usage of the "T" character is REQUIRED", "Leap seconds MUST NOT be used"
/// (Unix time has none), and `TIME-SECFRAC = "." 1*6DIGIT`; we always write three digits.
pub fn write_rfc3339_ms(out: &mut String, at_ms: u64) {
    let ms = at_ms.min(MAX_RFC3339_MS);
    let secs = ms / 1000;
    let days = secs / 86_400;
    let sod = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms % 1000
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> String {
        let mut s = String::new();
        write_rfc3339_ms(&mut s, ms);
        s
    }

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(ts(1_795_257_727_123), "2026-11-21T10:42:07.123Z");
        assert_eq!(ts(MAX_RFC3339_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(ts(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    /// Every day from 1970 to 2600 against a naive day-by-day calendar.
    #[test]
    fn civil_from_days_matches_naive_calendar() {
        // Remainders spelled out: `is_multiple_of` needs Rust 1.87.
        #[allow(clippy::manual_is_multiple_of)]
        let leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut y, mut m, mut d) = (1970_u64, 1_u64, 1_u64);
        for days in 0..230_000_u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn header_fields_are_checked() {
        assert!(SyslogFormatter::new("nat 1").is_err());
        assert!(SyslogFormatter::new(&"a".repeat(256)).is_err());
        assert_eq!(SyslogFormatter::new("").unwrap().hostname(), "-");
        let f = SyslogFormatter::new("h").unwrap();
        assert!(f.clone().with_facility(24).is_err());
        assert_eq!(f.clone().with_facility(23).unwrap().facility(), 23);
        assert!(f.clone().with_app_name(&"x".repeat(49)).is_err());
        assert!(f.with_procid("12\u{e9}").is_err());
    }

    #[test]
    fn octet_counting() {
        assert_eq!(octet_counted("<134>1 - - - - - -"), "18 <134>1 - - - - - -");
        assert_eq!(octet_counted("\u{e9}"), "2 \u{e9}");
    }
}
