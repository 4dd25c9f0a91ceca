//! Fuzz harnesses for the control plane's parsers and encoders, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/{config,ipfix,syslog,jsonl}.rs`) and the corpus replay test
//! (`control/tests/fuzz_corpus.rs`). Each one panics when an invariant breaks; nothing here is
//! used by the daemon.
//!
//! The checks are *oracles written independently of the code under test*: the IPFIX messages
//! are walked by a small decoder driven by the Template Set the exporter announced, syslog lines
//! by a parser of the RFC 5424 ABNF, JSON lines by `serde_json`, and each is compared with the
//! fields the event should carry.
//!
//! Inputs are decoded by hand from the fuzzer's bytes ([`Bytes`]: missing bytes read as zero),
//! so every byte string is a valid input and the corpus files stay small.
//!
//! | harness | input |
//! |---|---|
//! | [`config`] | the TOML text of a config file (`cgnatd --check-config` reads it with [`Config::load`]) |
//! | [`ipfix`] | `max_len` (u16 BE), a flag byte (bit 0: add 65 536 to `max_len`; bits 1-7: repeat the record list that many more times, so a few input bytes can fill a 65 535-octet message), export time and observation domain (u32 BE each), then records: a tag byte and the fields |
//! | [`syslog`] | a flag byte, the facility, hostname / APP-NAME / PROCID (length byte + bytes each), then events |
//! | [`jsonl`] | a flag byte, then events |
//!
//! An event is a tag byte (variant = (tag & 0x0f) % 9, bits 4..7 pick the `Option`s), its fields, a
//! time (u64 BE, Unix ms) and, when flag bit 1 is set, an SSUBIX (u32 BE).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::config::Config;
use crate::logging::ipfix::{
    ExhaustionRecord, Exporter, NatEvent, PortBlockRecord, Record, SessionRecord, MAX_MESSAGE_LEN,
    MIN_MESSAGE_LEN,
};
use crate::logging::jsonl::JsonlFormatter;
use crate::logging::replay::parse_rfc3339_ms;
use crate::logging::syslog::{
    octet_counted, LogEvent, QuotaKind, SyslogFormatter, MAX_RFC3339_MS, SD_ID,
};

/// At most this many records or events are decoded from one input (bounds the work per run).
pub const MAX_ITEMS: usize = 512;
/// At most this many IPFIX records after repetition: 4096 records of up to 28 octets overflow
/// the largest message (65 535 octets), so the clamp of `max_len` is exercised.
pub const MAX_IPFIX_RECORDS: usize = 4096;

/// Reads fixed-size big-endian fields from the fuzzer's bytes; past the end every read is zero.
#[derive(Debug)]
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let n = N.min(self.0.len());
        a[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        a
    }

    /// Up to `n` bytes.
    pub fn slice(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    /// A u16 in network byte order.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }

    /// A u32 in network byte order.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    /// A u64 in network byte order.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }

    /// An IPv4 address.
    pub fn addr(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.take::<4>())
    }
}

// ---------------------------------------------------------------------------------------------
// config

/// Parses `data` as a config file. A rejected config must give a one-line, non-empty error; an
/// accepted one must serialise back to TOML that is accepted again and equal. Returns the
/// config when it validated.
pub fn config(data: &[u8]) -> Option<Config> {
    // Config::load reads the file with read_to_string, which refuses non-UTF-8 with an I/O error.
    let text = std::str::from_utf8(data).ok()?;
    match Config::from_toml_str(text) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty(), "empty error for {text:?}");
            // ConfigError's promise: "Display is always a single line".
            assert!(
                !msg.contains(['\n', '\r']),
                "multi-line error {msg:?} for {text:?}"
            );
            None
        }
        Ok(cfg) => {
            let again = match toml::to_string(&cfg) {
                Ok(s) => s,
                Err(e) => panic!("a valid config does not serialise: {e}: {cfg:?}"),
            };
            match Config::from_toml_str(&again) {
                Ok(back) => assert_eq!(back, cfg, "re-serialised config differs:\n{again}"),
                Err(e) => panic!("re-serialised config rejected: {e}\n{again}"),
            }
            Some(cfg)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IPFIX

const NAT_EVENTS: [NatEvent; 7] = [
    NatEvent::PortBlockAlloc,
    NatEvent::PortBlockDealloc,
    NatEvent::AddressesExhausted,
    NatEvent::PortsExhausted,
    NatEvent::QuotaExceeded,
    NatEvent::Nat44SessionCreate,
    NatEvent::Nat44SessionDelete,
];

fn nat_event(b: &mut Bytes<'_>) -> NatEvent {
    NAT_EVENTS[usize::from(b.u8()) % NAT_EVENTS.len()]
}

/// `Some(read())` when `on`; reads nothing otherwise, so absent fields take no input bytes.
fn opt<T>(on: bool, read: impl FnOnce() -> T) -> Option<T> {
    on.then(read)
}

/// One IPFIX record from the input: (tag & 0x0f) % 3 picks the kind, the tag's high bits the `Option`s.
fn record(b: &mut Bytes<'_>) -> Record {
    let tag = b.u8();
    let time_ms = b.u64();
    let event = nat_event(b);
    match (tag & 0x0f) % 3 {
        0 => Record::Block(PortBlockRecord {
            time_ms,
            event,
            subscriber: b.addr(),
            public: b.addr(),
            port_start: b.u16(),
            port_end: b.u16(),
            step: b.u16(),
            num_ports: b.u16(),
        }),
        1 => Record::Session(SessionRecord {
            time_ms,
            event,
            protocol: b.u8(),
            src: b.addr(),
            src_port: b.u16(),
            post_src: b.addr(),
            post_src_port: b.u16(),
            dst: opt(tag & 0x10 != 0, || (b.addr(), b.u16())),
        }),
        _ => Record::Exhaustion(ExhaustionRecord {
            time_ms,
            event,
            subscriber: opt(tag & 0x10 != 0, || b.addr()),
            public: opt(tag & 0x20 != 0, || b.addr()),
            quota: opt(tag & 0x40 != 0, || b.u32()),
        }),
    }
}

/// IANA information element numbers, written out here rather than taken from the encoder.
const IE_PROTOCOL: u16 = 4;
const IE_SRC_PORT: u16 = 7;
const IE_SRC_ADDR: u16 = 8;
const IE_DST_PORT: u16 = 11;
const IE_DST_ADDR: u16 = 12;
const IE_POST_NAT_SRC_ADDR: u16 = 225;
const IE_POST_NAPT_SRC_PORT: u16 = 227;
const IE_NAT_EVENT: u16 = 230;
const IE_OBSERVATION_TIME_MS: u16 = 323;
const IE_PORT_RANGE_START: u16 = 361;
const IE_PORT_RANGE_END: u16 = 362;
const IE_PORT_RANGE_STEP: u16 = 363;
const IE_PORT_RANGE_NUM: u16 = 364;
const IE_NAT_QUOTA_EXCEEDED: u16 = 466;

/// The (IE, value) pairs a record must carry on the wire, sorted by IE.
fn expected_fields(rec: &Record) -> Vec<(u16, u64)> {
    let a = |x: Ipv4Addr| u64::from(u32::from(x));
    let zero = Ipv4Addr::UNSPECIFIED;
    let mut v = match *rec {
        Record::Block(r) => vec![
            (IE_OBSERVATION_TIME_MS, r.time_ms),
            (IE_NAT_EVENT, u64::from(r.event.value())),
            (IE_SRC_ADDR, a(r.subscriber)),
            (IE_POST_NAT_SRC_ADDR, a(r.public)),
            (IE_PORT_RANGE_START, u64::from(r.port_start)),
            (IE_PORT_RANGE_END, u64::from(r.port_end)),
            (IE_PORT_RANGE_STEP, u64::from(r.step)),
            (IE_PORT_RANGE_NUM, u64::from(r.num_ports)),
        ],
        Record::Session(r) => {
            let mut v = vec![
                (IE_OBSERVATION_TIME_MS, r.time_ms),
                (IE_NAT_EVENT, u64::from(r.event.value())),
                (IE_PROTOCOL, u64::from(r.protocol)),
                (IE_SRC_ADDR, a(r.src)),
                (IE_SRC_PORT, u64::from(r.src_port)),
                (IE_POST_NAT_SRC_ADDR, a(r.post_src)),
                (IE_POST_NAPT_SRC_PORT, u64::from(r.post_src_port)),
            ];
            if let Some((d, p)) = r.dst {
                v.extend([(IE_DST_ADDR, a(d)), (IE_DST_PORT, u64::from(p))]);
            }
            v
        }
        Record::Exhaustion(r) => {
            let mut v = vec![
                (IE_OBSERVATION_TIME_MS, r.time_ms),
                (IE_NAT_EVENT, u64::from(r.event.value())),
                (IE_SRC_ADDR, a(r.subscriber.unwrap_or(zero))),
            ];
            match r.event {
                NatEvent::AddressesExhausted => {}
                NatEvent::QuotaExceeded => {
                    v.push((IE_NAT_QUOTA_EXCEEDED, u64::from(r.quota.unwrap_or(0))));
                }
                // Ports exhausted, and the layout any other event falls back to.
                _ => v.push((IE_POST_NAT_SRC_ADDR, a(r.public.unwrap_or(zero)))),
            }
            v
        }
    };
    v.sort_unstable();
    v
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks an RFC 7011 §3.1 message header; returns the sets' bytes.
fn ipfix_header(msg: &[u8], export_s: u32, seq: u32, domain: u32) -> &[u8] {
    assert!(msg.len() >= 16, "message shorter than its header: {msg:?}");
    assert_eq!(be16(msg, 0), 10, "version");
    assert_eq!(usize::from(be16(msg, 2)), msg.len(), "message Length field");
    assert_eq!(be32(msg, 4), export_s, "export time");
    assert_eq!(be32(msg, 8), seq, "sequence number");
    assert_eq!(be32(msg, 12), domain, "observation domain");
    &msg[16..]
}

/// Splits sets (RFC 7011 §3.3.2); every Length covers its header and stays inside the message.
fn ipfix_sets(mut body: &[u8]) -> Vec<(u16, &[u8])> {
    let mut sets = Vec::new();
    while !body.is_empty() {
        assert!(
            body.len() >= 4,
            "trailing bytes after the last set: {body:?}"
        );
        let (id, len) = (be16(body, 0), usize::from(be16(body, 2)));
        assert!(
            len >= 4 && len <= body.len(),
            "set length {len} of {}",
            body.len()
        );
        sets.push((id, &body[4..len]));
        body = &body[len..];
    }
    sets
}

/// The Template Set of the exporter's template message: Template ID → field specifiers.
fn ipfix_templates(msg: &[u8], export_s: u32, domain: u32) -> BTreeMap<u16, Vec<(u16, u16)>> {
    let sets = ipfix_sets(ipfix_header(msg, export_s, 0, domain));
    assert_eq!(sets.len(), 1, "one Template Set");
    let (id, mut body) = sets[0];
    assert_eq!(id, 2, "Template Set ID");
    let mut templates = BTreeMap::new();
    while !body.is_empty() {
        assert!(body.len() >= 4);
        let (tid, count) = (be16(body, 0), usize::from(be16(body, 2)));
        assert!(tid >= 256, "template ID {tid}");
        assert!(body.len() >= 4 + 4 * count, "template {tid} cut short");
        let fields = (0..count)
            .map(|i| (be16(body, 4 + 4 * i), be16(body, 6 + 4 * i)))
            .collect::<Vec<_>>();
        assert!(fields
            .iter()
            .all(|&(ie, len)| ie & 0x8000 == 0 && (1..=8).contains(&len)));
        assert!(
            templates.insert(tid, fields).is_none(),
            "template {tid} twice"
        );
        body = &body[4 + 4 * count..];
    }
    templates
}

/// Packs records from the input into messages until all are sent; each message must be
/// well-formed, fit `max_len`, carry exactly the records taken, in order, and be full.
/// Returns (data messages, octets of the largest).
pub fn ipfix(data: &[u8]) -> (usize, usize) {
    let mut b = Bytes::new(data);
    let flags_and_len = (b.u16(), b.u8());
    let max_len = usize::from(flags_and_len.0) + usize::from(flags_and_len.1 & 1) * 65_536;
    let (export_s, domain) = (b.u32(), b.u32());
    let mut recs = Vec::new();
    while !b.is_empty() && recs.len() < MAX_ITEMS {
        recs.push(record(&mut b));
    }
    let copies = 1 + usize::from(flags_and_len.1 >> 1);
    let recs: Vec<Record> = recs
        .iter()
        .copied()
        .cycle()
        .take((recs.len() * copies).min(MAX_IPFIX_RECORDS))
        .collect();

    let mut exp = Exporter::new(domain);
    let mut tmsg = Vec::new();
    exp.templates(export_s, &mut tmsg);
    let templates = ipfix_templates(&tmsg, export_s, domain);
    assert_eq!(exp.sequence(), 0, "templates do not count as data records");
    let limit = max_len.min(MAX_MESSAGE_LEN);

    let mut rest = &recs[..];
    let mut sent = 0u32;
    let (mut messages, mut largest) = (0usize, 0usize);
    // A prefix already in the buffer must be left alone: records() appends.
    let mut out = vec![0xa5; data.len() % 7];
    while let Some(first) = rest.first() {
        let prefix = out.len();
        let taken = exp.records(export_s, rest, &mut out, max_len);
        assert!(
            out[..prefix].iter().all(|&x| x == 0xa5),
            "prefix overwritten"
        );
        if taken == 0 {
            assert_eq!(out.len(), prefix, "nothing taken but bytes appended");
            assert!(
                16 + 4 + first.encoded_len() > limit,
                "record of {} octets not taken with max_len {max_len}",
                first.encoded_len()
            );
            assert!(
                limit < MIN_MESSAGE_LEN,
                "no progress with max_len {max_len}"
            );
            break;
        }
        assert!(taken <= rest.len());
        let msg = &out[prefix..];
        assert!(msg.len() <= limit, "message of {} > {limit}", msg.len());
        messages += 1;
        largest = largest.max(msg.len());
        let mut decoded = Vec::new();
        let mut last_id = None;
        for (id, body) in ipfix_sets(ipfix_header(msg, export_s, sent, domain)) {
            assert_ne!(Some(id), last_id, "two consecutive sets of template {id}");
            last_id = Some(id);
            let Some(fields) = templates.get(&id) else {
                panic!("data set {id} without a template");
            };
            let rec_len: usize = fields.iter().map(|&(_, l)| usize::from(l)).sum();
            assert!(
                !body.is_empty() && body.len() % rec_len == 0,
                "set {id}: {body:?}"
            );
            for r in body.chunks_exact(rec_len) {
                let mut at = 0;
                let mut v = fields
                    .iter()
                    .map(|&(ie, len)| {
                        let len = usize::from(len);
                        let val = r[at..at + len]
                            .iter()
                            .fold(0u64, |acc, &x| acc << 8 | u64::from(x));
                        at += len;
                        (ie, val)
                    })
                    .collect::<Vec<_>>();
                v.sort_unstable();
                decoded.push((id, v));
            }
        }
        assert_eq!(decoded.len(), taken, "records in the message");
        for (rec, (id, fields)) in rest.iter().zip(&decoded) {
            assert_eq!(*id, rec.template_id(), "{rec:?}");
            assert_eq!(*fields, expected_fields(rec), "{rec:?}");
        }
        if let Some(next) = rest.get(taken) {
            let set = if last_id == Some(next.template_id()) {
                0
            } else {
                4
            };
            assert!(
                msg.len() + set + next.encoded_len() > limit,
                "message not full: {} + {set} + {} <= {limit}",
                msg.len(),
                next.encoded_len()
            );
        }
        sent = sent.wrapping_add(u32::try_from(taken).unwrap_or(u32::MAX));
        assert_eq!(exp.sequence(), sent, "sequence after {taken} records");
        rest = &rest[taken..];
        // Keep the buffer small: the prefix check only needs the first message.
        out.clear();
    }
    (messages, largest)
}

// ---------------------------------------------------------------------------------------------
// syslog and JSON lines

const QUOTAS: [QuotaKind; 5] = [
    QuotaKind::Sessions,
    QuotaKind::Bindings,
    QuotaKind::EntriesPerUser,
    QuotaKind::Subscribers,
    QuotaKind::Fragments,
];

/// One [`LogEvent`] from the input.
pub fn log_event(b: &mut Bytes<'_>) -> LogEvent {
    let tag = b.u8();
    let (o1, o2) = (tag & 0x10 != 0, tag & 0x20 != 0);
    match (tag & 0x0f) % 9 {
        0 => LogEvent::BlockAlloc {
            subscriber: b.addr(),
            public: b.addr(),
            port_start: b.u16(),
            port_end: b.u16(),
        },
        1 => LogEvent::BlockDealloc {
            subscriber: b.addr(),
            public: b.addr(),
            port_start: b.u16(),
            port_end: b.u16(),
        },
        2 => LogEvent::BindingCreate {
            proto: b.u8(),
            inside: b.addr(),
            inside_port: b.u16(),
            public: b.addr(),
            public_port: b.u16(),
        },
        3 => LogEvent::BindingDelete {
            proto: b.u8(),
            inside: b.addr(),
            inside_port: b.u16(),
            public: b.addr(),
            public_port: b.u16(),
        },
        4 => LogEvent::SessionCreate {
            proto: b.u8(),
            inside: b.addr(),
            inside_port: b.u16(),
            public: b.addr(),
            public_port: b.u16(),
            dest: opt(o1, || (b.addr(), b.u16())),
        },
        5 => LogEvent::SessionDelete {
            proto: b.u8(),
            inside: b.addr(),
            inside_port: b.u16(),
            public: b.addr(),
            public_port: b.u16(),
            dest: opt(o1, || (b.addr(), b.u16())),
        },
        6 => LogEvent::PortsExhausted {
            subscriber: b.addr(),
            public: opt(o2, || b.addr()),
        },
        7 => LogEvent::AddressesExhausted {
            subscriber: opt(o2, || b.addr()),
        },
        _ => LogEvent::QuotaExceeded {
            subscriber: b.addr(),
            kind: QUOTAS[usize::from(b.u8()) % QUOTAS.len()],
        },
    }
}

/// A field value as both formats write it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Num(u64),
    Addr(Ipv4Addr),
    Word(&'static str),
}

/// The fields of `ev` in the order the syslog SD-PARAMs are written: (syslog name, JSON key,
/// value). Destinations only when `dest` is on.
fn expected_params(
    ev: &LogEvent,
    ssubix: Option<u32>,
    dest: bool,
) -> Vec<(&'static str, &'static str, Val)> {
    use Val::{Addr, Num, Word};
    let mut v = Vec::new();
    if let Some(ix) = ssubix {
        v.push(("SSUBIX", "ssubix", Num(u64::from(ix))));
    }
    let mapping = |v: &mut Vec<_>, proto: u8, i: Ipv4Addr, ip: u16, p: Ipv4Addr, pp: u16| {
        v.push(("ISADDR", "inside", Addr(i)));
        v.push(("ISPORT", "inside_port", Num(u64::from(ip))));
        v.push(("XSADDR", "public", Addr(p)));
        v.push(("XSPORT", "public_port", Num(u64::from(pp))));
        v.push(("PROTO", "proto", Num(u64::from(proto))));
    };
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
            v.push(("ISADDR", "subscriber", Addr(subscriber)));
            v.push(("XSADDR", "public", Addr(public)));
            v.push(("XPORTSTART", "port_start", Num(u64::from(port_start))));
            v.push(("XPORTEND", "port_end", Num(u64::from(port_end))));
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
        } => mapping(&mut v, proto, inside, inside_port, public, public_port),
        LogEvent::SessionCreate {
            proto,
            inside,
            inside_port,
            public,
            public_port,
            dest: d,
        }
        | LogEvent::SessionDelete {
            proto,
            inside,
            inside_port,
            public,
            public_port,
            dest: d,
        } => {
            mapping(&mut v, proto, inside, inside_port, public, public_port);
            if let (true, Some((a, p))) = (dest, d) {
                v.push(("XDADDR", "dest", Addr(a)));
                v.push(("XDPORT", "dest_port", Num(u64::from(p))));
            }
        }
        LogEvent::PortsExhausted { subscriber, public } => {
            v.push(("ISADDR", "subscriber", Addr(subscriber)));
            if let Some(p) = public {
                v.push(("XSADDR", "public", Addr(p)));
            }
            v.push(("RESOURCE", "", Word("ports")));
        }
        LogEvent::AddressesExhausted { subscriber } => {
            if let Some(s) = subscriber {
                v.push(("ISADDR", "subscriber", Addr(s)));
            }
            v.push(("RESOURCE", "", Word("addresses")));
        }
        LogEvent::QuotaExceeded { subscriber, kind } => {
            v.push(("ISADDR", "subscriber", Addr(subscriber)));
            v.push(("QUOTA", "quota", Word(kind.as_str())));
        }
    }
    v
}

fn val_text(v: &Val) -> String {
    match v {
        Val::Num(n) => n.to_string(),
        Val::Addr(a) => a.to_string(),
        Val::Word(w) => (*w).to_owned(),
    }
}

/// A header string from the input: length byte, then that many bytes (lossy UTF-8).
fn header_string(b: &mut Bytes<'_>) -> String {
    let n = usize::from(b.u8());
    String::from_utf8_lossy(b.slice(n)).into_owned()
}

/// Whether RFC 5424 accepts `s` for a header field of at most `max` octets (empty: NILVALUE).
fn header_ok(s: &str, max: usize) -> bool {
    s.is_empty() || (s.len() <= max && s.bytes().all(|c| (33..=126).contains(&c)))
}

/// The flag byte of the syslog and JSON inputs: bit 0 destinations, bit 1 SSUBIX per event.
fn events(b: &mut Bytes<'_>, with_ssubix: bool) -> Vec<(LogEvent, u64, Option<u32>)> {
    let mut v = Vec::new();
    while !b.is_empty() && v.len() < MAX_ITEMS {
        let ev = log_event(b);
        let at = b.u64();
        let ix = opt(with_ssubix, || b.u32());
        v.push((ev, at, ix));
    }
    v
}

/// Splits `s` at the first space; the part before must be a non-empty header field.
fn header_token(s: &str) -> (&str, &str) {
    let Some((tok, rest)) = s.split_once(' ') else {
        panic!("header ends early: {s:?}");
    };
    assert!(
        !tok.is_empty() && tok.bytes().all(|c| (33..=126).contains(&c)),
        "header field {tok:?}"
    );
    (tok, rest)
}

/// Parses one RFC 5424 message of ours: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
/// [SD-ID *(SP PARAM-NAME="PARAM-VALUE")]` with no MSG. Returns (PRIVAL, the five header fields,
/// SD-ID, params with values unescaped).
#[allow(clippy::type_complexity)]
fn parse_syslog(line: &str) -> (u8, [&str; 5], &str, Vec<(&str, String)>) {
    assert!(
        line.bytes().all(|c| (32..=126).contains(&c)),
        "control or non-ASCII byte in {line:?}"
    );
    let Some(rest) = line.strip_prefix('<') else {
        panic!("no PRI: {line:?}");
    };
    let Some((pri, rest)) = rest.split_once('>') else {
        panic!("PRI not closed: {line:?}");
    };
    // PRIVAL = 1*3DIGIT, range 0 .. 191, no leading zeros.
    assert!(
        (1..=3).contains(&pri.len())
            && pri.bytes().all(|c| c.is_ascii_digit())
            && (pri == "0" || !pri.starts_with('0')),
        "PRIVAL {pri:?}"
    );
    let prival = match pri.parse::<u8>() {
        Ok(p) if p <= 191 => p,
        _ => panic!("PRIVAL {pri:?}"),
    };
    let Some(rest) = rest.strip_prefix("1 ") else {
        panic!("VERSION is not 1: {line:?}");
    };
    let (ts, rest) = header_token(rest);
    let (host, rest) = header_token(rest);
    let (app, rest) = header_token(rest);
    let (procid, rest) = header_token(rest);
    let (msgid, rest) = header_token(rest);
    assert!(host.len() <= 255 && app.len() <= 48 && procid.len() <= 128 && msgid.len() <= 32);
    let Some(rest) = rest.strip_prefix('[') else {
        panic!("no SD-ELEMENT: {line:?}");
    };
    let Some(sd) = rest.strip_suffix(']') else {
        panic!("message does not end with the SD-ELEMENT: {line:?}");
    };
    // SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', %d34 (").
    let sd_name = |s: &str| {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|c| (33..=126).contains(&c) && !matches!(c, b'=' | b']' | b'"'))
    };
    let (id, mut params_text) = sd.split_once(' ').unwrap_or((sd, ""));
    assert!(sd_name(id), "SD-ID {id:?}");
    let mut params = Vec::new();
    while !params_text.is_empty() {
        let Some((name, after)) = params_text.split_once("=\"") else {
            panic!("SD-PARAM without =\": {params_text:?}");
        };
        assert!(sd_name(name), "PARAM-NAME {name:?}");
        // PARAM-VALUE: '"', '\' and ']' MUST be escaped as '\"', '\\', '\]'.
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c @ ('"' | '\\' | ']'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {after:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, ']')) => panic!("unescaped ] in {after:?}"),
                Some((_, c)) => value.push(c),
                None => panic!("PARAM-VALUE not closed: {after:?}"),
            }
        };
        params.push((name, value));
        params_text = &after[end + 1..];
        if !params_text.is_empty() {
            let Some(next) = params_text.strip_prefix(' ') else {
                panic!("no SP between SD-PARAMs: {params_text:?}");
            };
            params_text = next;
        }
    }
    (prival, [ts, host, app, procid, msgid], id, params)
}

/// Formats events from the input as syslog lines and parses each back.
pub fn syslog(data: &[u8]) {
    let mut b = Bytes::new(data);
    let flags = b.u8();
    let facility = b.u8() % 32;
    let (host, app, procid) = (
        header_string(&mut b),
        header_string(&mut b),
        header_string(&mut b),
    );
    let f = match SyslogFormatter::new(&host) {
        Ok(f) => {
            assert!(header_ok(&host, 255), "hostname {host:?} accepted");
            f
        }
        Err(_) => {
            assert!(!header_ok(&host, 255), "hostname {host:?} refused");
            return;
        }
    };
    let f = match f.with_facility(facility) {
        Ok(f) => f,
        Err(_) => {
            assert!(facility > 23, "facility {facility} refused");
            return;
        }
    };
    assert!(facility <= 23, "facility {facility} accepted");
    let f = match f.with_app_name(&app) {
        Ok(f) => f,
        Err(_) => {
            assert!(!header_ok(&app, 48), "APP-NAME {app:?} refused");
            return;
        }
    };
    let f = match f.with_procid(&procid) {
        Ok(f) => f,
        Err(_) => {
            assert!(!header_ok(&procid, 128), "PROCID {procid:?} refused");
            return;
        }
    };
    let dest = flags & 1 != 0;
    let f = f.with_destinations(dest);
    let nil = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };

    let mut line = String::new();
    for (ev, at, ix) in events(&mut b, flags & 2 != 0) {
        line.clear();
        f.format_indexed(&ev, ix, at, &mut line);
        let (prival, [ts, h, a, p, msgid], sd_id, params) = parse_syslog(&line);
        assert_eq!(prival, facility * 8 + ev.severity().code(), "{line}");
        assert_eq!(parse_rfc3339_ms(ts), Some(at.min(MAX_RFC3339_MS)), "{line}");
        assert_eq!(
            (h, a, p),
            (
                nil(&host).as_str(),
                nil(&app).as_str(),
                nil(&procid).as_str()
            ),
            "{line}"
        );
        assert_eq!(msgid, ev.msgid(), "{line}");
        assert_eq!(sd_id, SD_ID, "{line}");
        let want = expected_params(&ev, ix, dest)
            .into_iter()
            .map(|(name, _, v)| (name, val_text(&v)))
            .collect::<Vec<_>>();
        assert_eq!(params, want, "{line}");
        // RFC 6587 octet counting: MSG-LEN SP SYSLOG-MSG.
        assert_eq!(octet_counted(&line), format!("{} {line}", line.len()));
    }
}

/// Formats events from the input as JSON lines and parses each back with `serde_json`.
pub fn jsonl(data: &[u8]) {
    let mut b = Bytes::new(data);
    let flags = b.u8();
    let dest = flags & 1 != 0;
    let f = JsonlFormatter::new().with_destinations(dest);
    let mut line = String::new();
    for (ev, at, ix) in events(&mut b, flags & 2 != 0) {
        line.clear();
        f.format_indexed(&ev, ix, at, &mut line);
        assert!(!line.contains(['\n', '\r']), "line break in {line:?}");
        let got: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => panic!("not JSON ({e}): {line}"),
        };
        let Some(ts) = got.get("ts").and_then(serde_json::Value::as_str) else {
            panic!("no ts string: {line}");
        };
        assert_eq!(parse_rfc3339_ms(ts), Some(at.min(MAX_RFC3339_MS)), "{line}");
        let mut want = serde_json::Map::new();
        want.insert("ts".into(), ts.into());
        want.insert("event".into(), JsonlFormatter::event_name(&ev).into());
        for (_, key, v) in expected_params(&ev, ix, dest) {
            if key.is_empty() {
                continue; // syslog-only (RESOURCE)
            }
            let v = match v {
                Val::Num(n) => serde_json::Value::from(n),
                Val::Addr(a) => serde_json::Value::from(a.to_string()),
                Val::Word(w) => serde_json::Value::from(w),
            };
            assert!(want.insert(key.into(), v).is_none(), "key {key} twice");
        }
        assert_eq!(got, serde_json::Value::Object(want), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<134>1 2026-11-21T10:42:07.123Z nat1 cgnat - PBAADD [nat@32473 ISADDR="100.64.0.7" Q="a\]b\"c\\"]"#;

    #[test]
    fn the_syslog_oracle_parses_a_good_line() {
        let (prival, header, id, params) = parse_syslog(GOOD);
        assert_eq!(prival, 134);
        assert_eq!(
            header,
            ["2026-11-21T10:42:07.123Z", "nat1", "cgnat", "-", "PBAADD"]
        );
        assert_eq!(id, "nat@32473");
        assert_eq!(
            params,
            vec![
                ("ISADDR", "100.64.0.7".to_owned()),
                ("Q", "a]b\"c\\".to_owned())
            ]
        );
    }

    /// The oracle must reject what RFC 5424 forbids, or the fuzz target could not fail.
    #[test]
    fn the_syslog_oracle_rejects_bad_lines() {
        let bad = [
            GOOD.replace("<134>1", "<192>1"),    // PRIVAL > 191
            GOOD.replace("<134>1", "<034>1"),    // leading zero
            GOOD.replace("<134>1 ", "<134>2 "),  // VERSION
            GOOD.replace(" nat1 ", " nat\n1 "),  // raw newline
            GOOD.replace(" nat1 ", "  "),        // empty HOSTNAME
            GOOD.replace("a\\]b", "a]b"),        // unescaped ]
            GOOD.replace("a\\]b", "a\\xb"),      // bad escape
            GOOD.replace("ISADDR=", "IS ADDR="), // space in PARAM-NAME
            format!("{GOOD} trailing MSG"),      // not ending with the SD-ELEMENT
            GOOD.replace("\" Q=", "\"Q="),       // no SP between params
        ];
        for line in bad {
            let r = std::panic::catch_unwind(|| parse_syslog(&line));
            assert!(r.is_err(), "accepted {line:?}");
        }
    }

    #[test]
    fn bytes_reads_zero_past_the_end() {
        let mut b = Bytes::new(&[1, 2, 3]);
        assert_eq!(b.u16(), 0x0102);
        assert_eq!(b.u32(), 0x0300_0000);
        assert!(b.is_empty());
        assert_eq!(b.u64(), 0);
    }

    #[test]
    fn expected_ipfix_fields_of_a_quota_event() {
        let rec = Record::Exhaustion(ExhaustionRecord {
            time_ms: 5,
            event: NatEvent::QuotaExceeded,
            subscriber: None,
            public: Some(Ipv4Addr::new(1, 2, 3, 4)),
            quota: Some(3),
        });
        assert_eq!(
            expected_fields(&rec),
            vec![
                (IE_SRC_ADDR, 0),
                (IE_NAT_EVENT, 13),
                (IE_OBSERVATION_TIME_MS, 5),
                (IE_NAT_QUOTA_EXCEEDED, 3)
            ]
        );
    }
}
