//! The syslog contract: the exact line of every event type, PRI values, RFC 3339 timestamps on
//! known dates, PARAM-VALUE escaping, RFC 6587 framing, and a small RFC 5424 parser (written
//! here, without regexes, from the §6 ABNF) that every line we produce must get through, field
//! by field. A loopback UDP round trip checks the one-message-per-datagram form (RFC 5426).

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, UNIX_EPOCH};

use control::logging::syslog::{
    civil_from_days, escape_param_value, octet_counted, unix_ms, write_rfc3339_ms, LogEvent,
    QuotaKind, Severity, SyslogFormatter, SD_ID,
};

/// 2026-11-21T10:42:07.123Z in Unix milliseconds.
const TS: u64 = 1_795_257_727_123;
const HOST: &str = "nat1.example.net";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("valid IPv4 address")
}

fn sub() -> Ipv4Addr {
    ip("100.64.0.7")
}

fn public() -> Ipv4Addr {
    ip("203.0.113.7")
}

fn dest() -> Option<(Ipv4Addr, u16)> {
    Some((ip("198.51.100.9"), 443))
}

fn line(f: &SyslogFormatter, ev: &LogEvent, at_ms: u64) -> String {
    let mut s = String::new();
    f.format(ev, at_ms, &mut s);
    s
}

fn fmt() -> SyslogFormatter {
    SyslogFormatter::new(HOST).expect("valid hostname")
}

/// One of each event, with every optional part filled in.
fn all_events() -> Vec<LogEvent> {
    vec![
        LogEvent::BlockAlloc {
            subscriber: sub(),
            public: public(),
            port_start: 40960,
            port_end: 41471,
        },
        LogEvent::BlockDealloc {
            subscriber: sub(),
            public: public(),
            port_start: 40960,
            port_end: 41471,
        },
        LogEvent::BindingCreate {
            proto: 6,
            inside: sub(),
            inside_port: 51000,
            public: public(),
            public_port: 40961,
        },
        LogEvent::BindingDelete {
            proto: 17,
            inside: sub(),
            inside_port: 51000,
            public: public(),
            public_port: 40961,
        },
        LogEvent::SessionCreate {
            proto: 6,
            inside: sub(),
            inside_port: 51000,
            public: public(),
            public_port: 40961,
            dest: dest(),
        },
        LogEvent::SessionDelete {
            proto: 1,
            inside: sub(),
            inside_port: 7,
            public: public(),
            public_port: 40962,
            dest: dest(),
        },
        LogEvent::PortsExhausted {
            subscriber: sub(),
            public: Some(public()),
        },
        LogEvent::PortsExhausted {
            subscriber: sub(),
            public: None,
        },
        LogEvent::AddressesExhausted {
            subscriber: Some(sub()),
        },
        LogEvent::AddressesExhausted { subscriber: None },
        LogEvent::QuotaExceeded {
            subscriber: sub(),
            kind: QuotaKind::Sessions,
        },
        LogEvent::QuotaExceeded {
            subscriber: sub(),
            kind: QuotaKind::EntriesPerUser,
        },
    ]
}

#[test]
fn exact_line_of_every_event_type() {
    let f = fmt();
    let h = "2026-11-21T10:42:07.123Z nat1.example.net cgnat -";
    let want = [
        format!(
            r#"<134>1 {h} PBAADD [nat@32473 ISADDR="100.64.0.7" XSADDR="203.0.113.7" XPORTSTART="40960" XPORTEND="41471"]"#
        ),
        format!(
            r#"<134>1 {h} PBADEL [nat@32473 ISADDR="100.64.0.7" XSADDR="203.0.113.7" XPORTSTART="40960" XPORTEND="41471"]"#
        ),
        format!(
            r#"<134>1 {h} APMADD [nat@32473 ISADDR="100.64.0.7" ISPORT="51000" XSADDR="203.0.113.7" XSPORT="40961" PROTO="6"]"#
        ),
        format!(
            r#"<134>1 {h} APMDEL [nat@32473 ISADDR="100.64.0.7" ISPORT="51000" XSADDR="203.0.113.7" XSPORT="40961" PROTO="17"]"#
        ),
        // Destination logging is off by default (RFC 6888 REQ-12) although the event has one.
        format!(
            r#"<134>1 {h} SADD [nat@32473 ISADDR="100.64.0.7" ISPORT="51000" XSADDR="203.0.113.7" XSPORT="40961" PROTO="6"]"#
        ),
        format!(
            r#"<134>1 {h} SDEL [nat@32473 ISADDR="100.64.0.7" ISPORT="7" XSADDR="203.0.113.7" XSPORT="40962" PROTO="1"]"#
        ),
        format!(
            r#"<132>1 {h} NATEXH [nat@32473 ISADDR="100.64.0.7" XSADDR="203.0.113.7" RESOURCE="ports"]"#
        ),
        format!(r#"<132>1 {h} NATEXH [nat@32473 ISADDR="100.64.0.7" RESOURCE="ports"]"#),
        format!(r#"<132>1 {h} NATEXH [nat@32473 ISADDR="100.64.0.7" RESOURCE="addresses"]"#),
        format!(r#"<132>1 {h} NATEXH [nat@32473 RESOURCE="addresses"]"#),
        format!(r#"<132>1 {h} NATQUOTA [nat@32473 ISADDR="100.64.0.7" QUOTA="sessions"]"#),
        format!(r#"<132>1 {h} NATQUOTA [nat@32473 ISADDR="100.64.0.7" QUOTA="entries-per-user"]"#),
    ];
    let evs = all_events();
    assert_eq!(evs.len(), want.len());
    for (ev, want) in evs.iter().zip(want) {
        assert_eq!(line(&f, ev, TS), want, "{ev:?}");
    }
}

#[test]
fn destinations_only_when_enabled_and_present() {
    let f = fmt().with_destinations(true);
    let evs = all_events();
    assert_eq!(
        line(&f, &evs[4], TS),
        r#"<134>1 2026-11-21T10:42:07.123Z nat1.example.net cgnat - SADD [nat@32473 ISADDR="100.64.0.7" ISPORT="51000" XSADDR="203.0.113.7" XSPORT="40961" PROTO="6" XDADDR="198.51.100.9" XDPORT="443"]"#
    );
    let no_dest = LogEvent::SessionDelete {
        proto: 17,
        inside: sub(),
        inside_port: 5353,
        public: public(),
        public_port: 41000,
        dest: None,
    };
    assert_eq!(
        line(&f, &no_dest, TS),
        r#"<134>1 2026-11-21T10:42:07.123Z nat1.example.net cgnat - SDEL [nat@32473 ISADDR="100.64.0.7" ISPORT="5353" XSADDR="203.0.113.7" XSPORT="41000" PROTO="17"]"#
    );
    // Destinations never appear on other events.
    assert!(!line(&f, &evs[2], TS).contains("XD"));
}

#[test]
fn subscriber_index_procid_app_name_and_nil_hostname() {
    let f = SyslogFormatter::new("")
        .unwrap()
        .with_procid("4242")
        .unwrap()
        .with_app_name("cgn-east")
        .unwrap();
    let mut s = String::new();
    f.format_indexed(&all_events()[0], Some(17), 0, &mut s);
    assert_eq!(
        s,
        r#"<134>1 1970-01-01T00:00:00.000Z - cgn-east 4242 PBAADD [nat@32473 SSUBIX="17" ISADDR="100.64.0.7" XSADDR="203.0.113.7" XPORTSTART="40960" XPORTEND="41471"]"#
    );
    // format appends; it never clears the caller's buffer.
    f.format(&all_events()[9], 0, &mut s);
    assert!(s.ends_with(r#"]<132>1 1970-01-01T00:00:00.000Z - cgn-east 4242 NATEXH [nat@32473 RESOURCE="addresses"]"#));
}

#[test]
fn pri_is_facility_times_8_plus_severity() {
    let info = all_events()[0];
    let warn = all_events()[6];
    assert_eq!(info.severity(), Severity::Informational);
    assert_eq!(warn.severity(), Severity::Warning);
    for (facility, info_pri, warn_pri) in [(0, 6, 4), (1, 14, 12), (16, 134, 132), (23, 190, 188)] {
        let f = fmt().with_facility(facility).unwrap();
        assert_eq!(f.prival(&info), info_pri);
        assert_eq!(f.prival(&warn), warn_pri);
        assert!(line(&f, &info, TS).starts_with(&format!("<{info_pri}>1 ")));
        assert!(line(&f, &warn, TS).starts_with(&format!("<{warn_pri}>1 ")));
    }
    assert!(fmt().with_facility(24).is_err());
}

fn ts(ms: u64) -> String {
    let mut s = String::new();
    write_rfc3339_ms(&mut s, ms);
    s
}

#[test]
fn timestamps_on_known_dates() {
    assert_eq!(ts(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(ts(999), "1970-01-01T00:00:00.999Z");
    assert_eq!(ts(86_399_999), "1970-01-01T23:59:59.999Z");
    assert_eq!(ts(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(ts(951_868_799_999), "2000-02-29T23:59:59.999Z");
    assert_eq!(ts(951_868_800_000), "2000-03-01T00:00:00.000Z");
    assert_eq!(ts(TS), "2026-11-21T10:42:07.123Z");
    // 1900 and 2100 are not leap years, 2000 and 2400 are.
    assert_eq!(ts(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    assert_eq!(civil_from_days(47_540), (2100, 2, 28));
    assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    assert_eq!(civil_from_days(157_011), (2399, 11, 19));
    assert_eq!(civil_from_days(157_113), (2400, 2, 29));
    assert_eq!(ts(u64::MAX), "9999-12-31T23:59:59.999Z");
    assert_eq!(
        unix_ms(UNIX_EPOCH + Duration::from_millis(TS)),
        TS,
        "SystemTime conversion"
    );
    assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
}

#[test]
fn param_value_escaping() {
    let mut s = String::new();
    escape_param_value(r#"a"b\c]d[e=f g"#, &mut s);
    assert_eq!(s, r#"a\"b\\c\]d[e=f g"#);
    // Escaped values survive a parse-back unchanged.
    let raw = r#"x"]\y\"#;
    let mut esc = String::new();
    escape_param_value(raw, &mut esc);
    let msg = format!(r#"<134>1 - - - - - [{SD_ID} V="{esc}" W="ok"]"#);
    let p = parse(&msg).unwrap();
    assert_eq!(
        p.sd[0].1,
        vec![("V".into(), raw.into()), ("W".into(), "ok".into())]
    );
    // And the parser refuses an unescaped ']' in a value.
    assert!(parse(r#"<134>1 - - - - - [a@1 V="x]"]"#).is_err());
}

#[test]
fn octet_counting_frame() {
    let l = line(&fmt(), &all_events()[9], TS);
    let framed = octet_counted(&l);
    let (len, rest) = framed.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), rest.len());
    assert_eq!(rest, l);
    assert!(!len.starts_with('0'));
}

/// Every line, under every formatter option, parses as RFC 5424 and says what the event says.
#[test]
fn every_line_parses_back() {
    let formatters = [
        fmt(),
        fmt().with_destinations(true),
        fmt().with_facility(0).unwrap().with_procid("1").unwrap(),
        SyslogFormatter::new("192.0.2.1")
            .unwrap()
            .with_facility(23)
            .unwrap(),
        SyslogFormatter::new("").unwrap(),
    ];
    let times = [0, 951_782_400_000, TS, u64::MAX];
    for f in &formatters {
        for ev in all_events() {
            for &t in &times {
                for ssubix in [None, Some(0), Some(u32::MAX)] {
                    let mut l = String::new();
                    f.format_indexed(&ev, ssubix, t, &mut l);
                    let p = parse(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
                    assert_eq!(p.pri, f.prival(&ev));
                    assert_eq!(p.version, 1);
                    assert_eq!(p.timestamp, ts(t));
                    assert_eq!(p.hostname, f.hostname());
                    assert_eq!(p.app_name, f.app_name());
                    assert_eq!(p.procid, f.procid());
                    assert_eq!(p.msgid, ev.msgid());
                    assert_eq!(p.msg, None, "no MSG part");
                    assert_eq!(p.sd.len(), 1);
                    assert_eq!(p.sd[0].0, SD_ID);
                    check_params(&ev, ssubix, f.destinations(), &p.sd[0].1);
                    // RFC 5426 §3.2: receivers MUST take 480 octets over IPv4.
                    assert!(l.len() <= 480, "{} octets: {l}", l.len());
                }
            }
        }
    }
}

/// The SD params of `ev`, rebuilt from the event, equal the parsed ones in order.
fn check_params(ev: &LogEvent, ssubix: Option<u32>, dests: bool, got: &[(String, String)]) {
    let mut want: Vec<(String, String)> = Vec::new();
    let mut p = |k: &str, v: String| want.push((k.to_owned(), v));
    if let Some(ix) = ssubix {
        p("SSUBIX", ix.to_string());
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
            p("ISADDR", subscriber.to_string());
            p("XSADDR", public.to_string());
            p("XPORTSTART", port_start.to_string());
            p("XPORTEND", port_end.to_string());
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
            p("ISADDR", inside.to_string());
            p("ISPORT", inside_port.to_string());
            p("XSADDR", public.to_string());
            p("XSPORT", public_port.to_string());
            p("PROTO", proto.to_string());
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
            p("ISADDR", inside.to_string());
            p("ISPORT", inside_port.to_string());
            p("XSADDR", public.to_string());
            p("XSPORT", public_port.to_string());
            p("PROTO", proto.to_string());
            if let (true, Some((a, port))) = (dests, dest) {
                p("XDADDR", a.to_string());
                p("XDPORT", port.to_string());
            }
        }
        LogEvent::PortsExhausted { subscriber, public } => {
            p("ISADDR", subscriber.to_string());
            if let Some(public) = public {
                p("XSADDR", public.to_string());
            }
            p("RESOURCE", "ports".into());
        }
        LogEvent::AddressesExhausted { subscriber } => {
            if let Some(s) = subscriber {
                p("ISADDR", s.to_string());
            }
            p("RESOURCE", "addresses".into());
        }
        LogEvent::QuotaExceeded { subscriber, kind } => {
            p("ISADDR", subscriber.to_string());
            p("QUOTA", kind.as_str().into());
        }
    }
    assert_eq!(got, want.as_slice());
    // And the values have the types their names promise.
    for (k, v) in got {
        match k.as_str() {
            "ISADDR" | "XSADDR" | "XDADDR" => {
                v.parse::<Ipv4Addr>().expect("an address");
            }
            "ISPORT" | "XSPORT" | "XDPORT" | "XPORTSTART" | "XPORTEND" => {
                v.parse::<u16>().expect("a port");
            }
            "PROTO" => {
                v.parse::<u8>().expect("a protocol number");
            }
            "SSUBIX" => {
                v.parse::<u32>().expect("an index");
            }
            "RESOURCE" | "QUOTA" => {}
            other => panic!("unexpected param {other}"),
        }
    }
}

/// RFC 5426: one message per datagram, nothing else in it. A loopback round trip.
#[test]
fn one_message_per_udp_datagram() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let f = fmt().with_procid(&std::process::id().to_string()).unwrap();
    let mut buf = String::new();
    for ev in all_events() {
        buf.clear();
        f.format(&ev, TS, &mut buf);
        tx.send_to(buf.as_bytes(), rx.local_addr().unwrap())
            .unwrap();
        let mut d = [0u8; 2048];
        let n = rx.recv(&mut d).unwrap();
        let got = std::str::from_utf8(&d[..n]).unwrap();
        assert_eq!(got, buf);
        assert_eq!(parse(got).unwrap().msgid, ev.msgid());
    }
}

// ---------------------------------------------------------------------------------------------
// A small RFC 5424 parser, straight from the §6 ABNF. No regexes; every rule checked.

#[derive(Debug)]
struct Parsed {
    pri: u8,
    version: u16,
    timestamp: String,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
    /// (SD-ID, [(PARAM-NAME, unescaped PARAM-VALUE)])
    sd: Vec<(String, Vec<(String, String)>)>,
    msg: Option<String>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", b as char, self.i))
        }
    }

    /// `1*<max>PRINTUSASCII` up to the next SP (PRINTUSASCII = %d33-126).
    fn token(&mut self, max: usize, what: &str) -> Result<String, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b == b' ' {
                break;
            }
            if !(33..=126).contains(&b) {
                return Err(format!("{what}: octet {b} is not PRINTUSASCII"));
            }
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || len > max {
            return Err(format!("{what}: length {len} not in 1..={max}"));
        }
        String::from_utf8(self.s[start..self.i].to_vec()).map_err(|_| "not UTF-8".to_owned())
    }

    fn digits(&mut self, n: usize) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(b - b'0');
                    self.i += 1;
                }
                _ => return Err(format!("expected a digit at {}", self.i)),
            }
        }
        Ok(v)
    }

    /// `SD-NAME = 1*32PRINTUSASCII ; except '=', SP, ']', %d34 (")`
    fn sd_name(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if !(33..=126).contains(&b) || matches!(b, b'=' | b']' | b'"') {
                break;
            }
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || len > 32 {
            return Err(format!("SD-NAME length {len} at {start}"));
        }
        String::from_utf8(self.s[start..self.i].to_vec()).map_err(|_| "not UTF-8".to_owned())
    }
}

fn parse(line: &str) -> Result<Parsed, String> {
    let mut c = Cursor {
        s: line.as_bytes(),
        i: 0,
    };
    // PRI = "<" PRIVAL ">" ; PRIVAL = 1*3DIGIT ; range 0 .. 191
    c.eat(b'<')?;
    let start = c.i;
    let mut pri: u32 = 0;
    while let Some(b @ b'0'..=b'9') = c.peek() {
        pri = pri * 10 + u32::from(b - b'0');
        c.i += 1;
    }
    if !(1..=3).contains(&(c.i - start)) || pri > 191 {
        return Err("bad PRIVAL".into());
    }
    c.eat(b'>')?;
    // VERSION = NONZERO-DIGIT 0*2DIGIT
    let vstart = c.i;
    let mut version: u16 = 0;
    while let Some(b @ b'0'..=b'9') = c.peek() {
        version = version * 10 + u16::from(b - b'0');
        c.i += 1;
    }
    if !(1..=3).contains(&(c.i - vstart)) || line.as_bytes()[vstart] == b'0' {
        return Err("bad VERSION".into());
    }
    c.eat(b' ')?;
    let timestamp = c.token(64, "TIMESTAMP")?;
    if timestamp != "-" {
        check_timestamp(&timestamp)?;
    }
    c.eat(b' ')?;
    let hostname = c.token(255, "HOSTNAME")?;
    c.eat(b' ')?;
    let app_name = c.token(48, "APP-NAME")?;
    c.eat(b' ')?;
    let procid = c.token(128, "PROCID")?;
    c.eat(b' ')?;
    let msgid = c.token(32, "MSGID")?;
    c.eat(b' ')?;
    // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT
    let mut sd = Vec::new();
    if c.peek() == Some(b'-') {
        c.i += 1;
    } else {
        while c.peek() == Some(b'[') {
            c.i += 1;
            let id = c.sd_name()?;
            check_sd_id(&id)?;
            if sd.iter().any(|(prev, _)| *prev == id) {
                return Err(format!("SD-ID {id} repeated"));
            }
            let mut params = Vec::new();
            while c.peek() == Some(b' ') {
                c.i += 1;
                let name = c.sd_name()?;
                c.eat(b'=')?;
                c.eat(b'"')?;
                params.push((name, param_value(&mut c)?));
            }
            c.eat(b']')?;
            sd.push((id, params));
        }
        if sd.is_empty() {
            return Err("STRUCTURED-DATA is neither NILVALUE nor SD-ELEMENTs".into());
        }
    }
    // [SP MSG]
    let msg = match c.peek() {
        None => None,
        Some(b' ') => Some(line[c.i + 1..].to_owned()),
        Some(b) => return Err(format!("unexpected {:?} after STRUCTURED-DATA", b as char)),
    };
    Ok(Parsed {
        pri: u8::try_from(pri).map_err(|_| "PRIVAL")?,
        version,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        sd,
        msg,
    })
}

/// PARAM-VALUE up to the closing `"`, unescaped. §6.3.3: `"`, `\` and `]` MUST be escaped;
/// a backslash before any other character is kept as is.
fn param_value(c: &mut Cursor<'_>) -> Result<String, String> {
    let mut v = Vec::new();
    loop {
        match c.peek() {
            None => return Err("unterminated PARAM-VALUE".into()),
            Some(b'"') => {
                c.i += 1;
                break;
            }
            Some(b']') => return Err("unescaped ']' in PARAM-VALUE".into()),
            Some(b'\\') => {
                c.i += 1;
                match c.peek() {
                    Some(e @ (b'"' | b'\\' | b']')) => {
                        v.push(e);
                        c.i += 1;
                    }
                    _ => v.push(b'\\'),
                }
            }
            Some(b) => {
                v.push(b);
                c.i += 1;
            }
        }
    }
    String::from_utf8(v).map_err(|_| "PARAM-VALUE is not UTF-8".into())
}

/// §6.3.2: an SD-ID without '@' must be an IANA-registered one; otherwise name@<digits>.
fn check_sd_id(id: &str) -> Result<(), String> {
    match id.split_once('@') {
        None if ["timeQuality", "origin", "meta"].contains(&id) => Ok(()),
        None => Err(format!(
            "SD-ID {id} is not registered and has no @enterprise"
        )),
        Some((name, pen))
            if !name.is_empty()
                && !pen.is_empty()
                && pen.bytes().all(|b| b.is_ascii_digit())
                && !name.contains('@') =>
        {
            Ok(())
        }
        Some(_) => Err(format!("bad SD-ID {id}")),
    }
}

/// `FULL-DATE "T" FULL-TIME` with the §6.2.3 restrictions (upper-case T and Z, no leap second,
/// TIME-SECFRAC of 1 to 6 digits).
fn check_timestamp(t: &str) -> Result<(), String> {
    let mut c = Cursor {
        s: t.as_bytes(),
        i: 0,
    };
    let year = c.digits(4)?;
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    c.eat(b'T')?;
    let hour = c.digits(2)?;
    c.eat(b':')?;
    let minute = c.digits(2)?;
    c.eat(b':')?;
    let second = c.digits(2)?;
    if c.peek() == Some(b'.') {
        c.i += 1;
        let start = c.i;
        while matches!(c.peek(), Some(b'0'..=b'9')) {
            c.i += 1;
        }
        if !(1..=6).contains(&(c.i - start)) {
            return Err("TIME-SECFRAC must have 1 to 6 digits".into());
        }
    }
    match c.peek() {
        Some(b'Z') => c.i += 1,
        Some(b'+' | b'-') => {
            c.i += 1;
            c.digits(2)?;
            c.eat(b':')?;
            c.digits(2)?;
        }
        _ => return Err("TIME-OFFSET missing".into()),
    }
    if c.i != t.len() {
        return Err("trailing characters in TIMESTAMP".into());
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("month {month}")),
    };
    if day == 0 || day > mdays || hour > 23 || minute > 59 || second > 59 {
        return Err(format!("out-of-range date or time in {t}"));
    }
    Ok(())
}

#[test]
fn the_parser_rejects_what_rfc5424_rejects() {
    let ok = r#"<134>1 2026-11-21T10:42:07.123Z h a - M [x@1 A="b"]"#;
    assert_eq!(parse(ok).unwrap().msg, None);
    let with_msg = format!("{ok} port block allocated");
    assert_eq!(
        parse(&with_msg).unwrap().msg.as_deref(),
        Some("port block allocated")
    );
    parse("<0>1 - - - - - -").unwrap();
    for bad in [
        // PRIVAL above 191.
        r#"<192>1 2026-11-21T10:42:07.123Z h a - M [x@1 A="b"]"#,
        // VERSION starting with 0.
        r#"<134>0 2026-11-21T10:42:07.123Z h a - M [x@1 A="b"]"#,
        // Lower-case T.
        r#"<134>1 2026-11-21t10:42:07.123Z h a - M [x@1 A="b"]"#,
        // No such date.
        r#"<134>1 2026-02-30T10:42:07.123Z h a - M [x@1 A="b"]"#,
        // Leap second.
        r#"<134>1 2026-11-21T10:42:60.123Z h a - M [x@1 A="b"]"#,
        // Seven fraction digits.
        r#"<134>1 2026-11-21T10:42:07.1234567Z h a - M [x@1 A="b"]"#,
        // Unregistered SD-ID without @.
        r#"<134>1 2026-11-21T10:42:07.123Z h a - M [nat A="b"]"#,
        // Same SD-ID twice.
        r#"<134>1 2026-11-21T10:42:07.123Z h a - M [x@1 A="b"][x@1 B="c"]"#,
        // No '[' opening the SD-ELEMENT.
        r#"<134>1 2026-11-21T10:42:07.123Z h a - M x@1 A="b"]"#,
        // MSGID of 33 characters.
        "<134>1 2026-11-21T10:42:07.123Z h a - ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456 -",
        // Unterminated value.
        r#"<134>1 2026-11-21T10:42:07.123Z h a - M [x@1 A="b]"#,
        // Missing STRUCTURED-DATA.
        "<134>1 2026-11-21T10:42:07.123Z h a - M",
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad}");
    }
}
