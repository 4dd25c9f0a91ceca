//! Header field values: the `host[:port]` of SIP URIs (Request-URI, Contact, From, To,
//! Record-Route, Route) and of Via sent-by, and the parameters that matter to a NAT
//! (`maddr`, `received`, `rport`, `expires`).
//!
//! ```text
//! SIP-URI        =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//! userinfo       =  ( user / telephone-subscriber ) [ ":" password ] "@"
//! hostport       =  host [ ":" port ]
//! name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
//! via-parm       =  sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol  =  protocol-name SLASH protocol-version SLASH transport
//! via-received   =  "received" EQUAL (IPv4address / IPv6address)
//! response-port  =  "rport" [EQUAL 1*DIGIT]                          (RFC 3581)
//! ```
//!
//! Everything works on absolute offsets into the payload so the results can become edits
//! directly. Only IPv4 literals matter (a NAT44 translates nothing else): a host name or an
//! IPv6 reference yields no address. Values may contain folded line ends (continuation
//! lines), which count as blanks. Work is linear in the value length, which the framer
//! bounded.

use core::net::Ipv4Addr;

/// `host[:port]` found in a value: the text `[start, end)` (host and port), the host as an
/// IPv4 address if it is one, and the port if written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort {
    /// First byte of the host.
    pub start: usize,
    /// One past the last byte of the port (or of the host when there is no port).
    pub end: usize,
    /// The host, when it is an IPv4 literal.
    pub addr: Option<Ipv4Addr>,
    /// The port, when written (`Some(0)`..; a port above 65535 makes the whole host unusable).
    pub port: Option<u16>,
}

/// Parameters of a URI or header entry that the ALG acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// A `maddr` parameter is present (its value is never trusted).
    pub maddr: bool,
    /// `expires=` (Contact).
    pub expires: Option<u32>,
    /// `received=` (Via): the value text and the address.
    pub received: Option<(usize, usize, Option<Ipv4Addr>)>,
    /// `rport=` with a value (Via): the value text and the port.
    pub rport: Option<(usize, usize, u16)>,
}

/// A URI (or Via sent-by) with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The host and port.
    pub host: HostPort,
    /// Its parameters.
    pub params: Params,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_blanks(buf: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && buf.get(i).is_some_and(|&b| is_blank(b)) {
        i += 1;
    }
    i
}

fn trim(buf: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    s = skip_blanks(buf, s, e);
    while e > s && buf.get(e - 1).is_some_and(|&b| is_blank(b)) {
        e -= 1;
    }
    (s, e)
}

/// Byte ranges of the comma-separated entries of a header value, commas inside quoted
/// strings and angle brackets excluded. Calls `f` with each trimmed, non-empty entry.
pub fn entries(buf: &[u8], start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
    let mut quoted = false;
    let mut escaped = false;
    let mut angle = false;
    let mut s = start;
    let end = end.min(buf.len());
    for i in start..end {
        let b = buf[i];
        if quoted {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = false;
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'<' => angle = true,
            b'>' => angle = false,
            b',' if !angle => {
                let (a, z) = trim(buf, s, i);
                if z > a {
                    f(a, z);
                }
                s = i + 1;
            }
            _ => {}
        }
    }
    let (a, z) = trim(buf, s, end);
    if z > a {
        f(a, z);
    }
}

/// Reads `host[:port]` at `i` (before `end`).
pub fn hostport(buf: &[u8], i: usize, end: usize) -> Option<HostPort> {
    let end = end.min(buf.len());
    let mut j = i;
    if buf.get(j) == Some(&b'[') {
        // IPv6 reference: skipped, never an IPv4 address.
        while j < end && buf[j] != b']' {
            j += 1;
        }
        j += 1;
    } else {
        while j < end && (buf[j].is_ascii_alphanumeric() || matches!(buf[j], b'.' | b'-' | b'_')) {
            j += 1;
        }
    }
    if j == i || j > end {
        return None;
    }
    let addr = core::str::from_utf8(&buf[i..j])
        .ok()
        .and_then(|s| s.parse::<Ipv4Addr>().ok());
    let mut port = None;
    let mut k = j;
    if buf.get(j) == Some(&b':') && j < end {
        k = j + 1;
        let mut v: u32 = 0;
        while k < end && buf[k].is_ascii_digit() && k - j <= 5 {
            v = v * 10 + u32::from(buf[k] - b'0');
            k += 1;
        }
        if k == j + 1 {
            return None;
        }
        if k < end && buf[k].is_ascii_digit() {
            return None; // more than 5 digits
        }
        port = Some(u16::try_from(v).ok()?);
    }
    Some(HostPort {
        start: i,
        end: k,
        addr,
        port,
    })
}

/// Reads `;name[=value]` parameters from `i` to `end`.
pub fn params(buf: &[u8], i: usize, end: usize) -> Params {
    let mut p = Params::default();
    let end = end.min(buf.len());
    let mut i = i;
    while i < end {
        if buf[i] != b';' {
            i += 1;
            continue;
        }
        let ns = skip_blanks(buf, i + 1, end);
        let mut ne = ns;
        while ne < end && !matches!(buf[ne], b'=' | b';' | b' ' | b'\t' | b'\r' | b'\n' | b'>') {
            ne += 1;
        }
        let name = &buf[ns..ne];
        let mut vs = skip_blanks(buf, ne, end);
        let mut ve = vs;
        if buf.get(vs) == Some(&b'=') && vs < end {
            vs = skip_blanks(buf, vs + 1, end);
            ve = vs;
            while ve < end && !matches!(buf[ve], b';' | b',' | b'>' | b'?') && !is_blank(buf[ve]) {
                ve += 1;
            }
        }
        let value = &buf[vs..ve];
        if name.eq_ignore_ascii_case(b"maddr") {
            p.maddr = true;
        } else if name.eq_ignore_ascii_case(b"expires") {
            p.expires = decimal(value);
        } else if name.eq_ignore_ascii_case(b"received") && ve > vs {
            let a = core::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<Ipv4Addr>().ok());
            p.received = Some((vs, ve, a));
        } else if name.eq_ignore_ascii_case(b"rport") && ve > vs {
            if let Some(port) = decimal(value).and_then(|v| u16::try_from(v).ok()) {
                p.rport = Some((vs, ve, port));
            }
        }
        i = ve.max(ne).max(i + 1);
    }
    p
}

/// A decimal number of 1 to 10 digits that fits in `u32`.
pub fn decimal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter()
        .try_fold(0u64, |a, &d| Some(a * 10 + u64::from(d - b'0')))
        .and_then(|x| u32::try_from(x).ok())
}

/// The SIP URI of a name-addr or addr-spec entry `[start, end)`, or of a bare Request-URI.
/// `None` for other schemes (`tel:`, `*`) and for URIs without a host.
pub fn uri(buf: &[u8], start: usize, end: usize) -> Option<Located> {
    let end = end.min(buf.len());
    // Skip a quoted display name, then find '<' if any.
    let mut i = start;
    let mut quoted = false;
    let mut lt = None;
    while i < end {
        let b = buf[i];
        if quoted {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b'<' {
            lt = Some(i);
            break;
        }
        i += 1;
    }
    let (us, uend) = match lt {
        Some(l) => {
            let gt = (l + 1..end).find(|&k| buf[k] == b'>')?;
            (l + 1, gt)
        }
        None => {
            let s = skip_blanks(buf, start, end);
            let e = (s..end)
                .find(|&k| is_blank(buf[k]) || buf[k] == b',')
                .unwrap_or(end);
            (s, e)
        }
    };
    let rest = buf.get(us..uend)?;
    let scheme = if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"sip:") {
        4
    } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"sips:") {
        5
    } else {
        return None;
    };
    let hs = us + scheme;
    let bound = (hs..uend).find(|&k| buf[k] == b'?').unwrap_or(uend);
    let at = (hs..bound).rev().find(|&k| buf[k] == b'@');
    let host_start = at.map_or(hs, |a| a + 1);
    let host = hostport(buf, host_start, bound)?;
    // URI parameters (maddr) up to the end of the URI, header parameters (expires) after '>'.
    let mut p = params(buf, host.end, bound);
    if lt.is_some() {
        let hp = params(buf, uend + 1, end);
        p.expires = hp.expires.or(p.expires);
    } else {
        // addr-spec form: the parameters are header parameters; expires is read, maddr too.
        let hp = params(buf, host.end, end);
        p.expires = hp.expires;
        p.maddr |= hp.maddr;
    }
    Some(Located { host, params: p })
}

/// The sent-by of one Via entry `[start, end)` and its parameters.
pub fn via(buf: &[u8], start: usize, end: usize) -> Option<Located> {
    let end = end.min(buf.len());
    let mut i = skip_blanks(buf, start, end);
    // sent-protocol: three tokens separated by '/', blanks allowed around the slashes.
    for part in 0..3 {
        let s = i;
        while i < end && super::framing::is_token(buf[i]) {
            i += 1;
        }
        if i == s {
            return None;
        }
        i = skip_blanks(buf, i, end);
        if part < 2 {
            if buf.get(i) != Some(&b'/') || i >= end {
                return None;
            }
            i = skip_blanks(buf, i + 1, end);
        }
    }
    let host = hostport(buf, i, end)?;
    let p = params(buf, host.end, end);
    Some(Located { host, params: p })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_uri(s: &[u8]) -> Option<Located> {
        uri(s, 0, s.len())
    }

    #[test]
    fn uris_in_their_forms() {
        let s = b"\"Alice, <x>\" <sip:alice@10.0.0.1:5062;transport=udp>;tag=1";
        let u = one_uri(s).unwrap();
        assert_eq!(&s[u.host.start..u.host.end], b"10.0.0.1:5062");
        assert_eq!(u.host.addr, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(u.host.port, Some(5062));
        let s = b"sip:+1555;phone-context=x@192.0.2.4;expires=60";
        let u = one_uri(s).unwrap();
        assert_eq!(&s[u.host.start..u.host.end], b"192.0.2.4");
        assert_eq!((u.host.port, u.params.expires), (None, Some(60)));
        let s = b"<sip:bob@example.com;maddr=10.0.0.9>";
        let u = one_uri(s).unwrap();
        assert_eq!(u.host.addr, None);
        assert!(u.params.maddr);
        assert_eq!(one_uri(b"<tel:+1555>"), None);
        assert_eq!(one_uri(b"*"), None);
        assert_eq!(one_uri(b"<sip:a@1.2.3.4:99999>"), None);
        assert_eq!(one_uri(b"<sip:a@1.2.3.4"), None);
    }

    #[test]
    fn via_sent_by_and_params() {
        let s = b"SIP/2.0 / UDP 10.0.0.1:5060;branch=z9hG4bK1;received=203.0.113.1;rport=40000";
        let v = via(s, 0, s.len()).unwrap();
        assert_eq!(&s[v.host.start..v.host.end], b"10.0.0.1:5060");
        let (a, b, addr) = v.params.received.unwrap();
        assert_eq!(
            (&s[a..b], addr),
            (&b"203.0.113.1"[..], Some(Ipv4Addr::new(203, 0, 113, 1)))
        );
        let (a, b, port) = v.params.rport.unwrap();
        assert_eq!((&s[a..b], port), (&b"40000"[..], 40000));
        assert_eq!(via(b"SIP/2.0 10.0.0.1", 0, 16), None);
    }

    #[test]
    fn entries_split_outside_quotes_and_brackets() {
        let s = b"\"a,b\" <sip:x@1.2.3.4;p=a,b>, <sip:y@5.6.7.8> ,";
        let mut got = Vec::new();
        entries(s, 0, s.len(), |a, b| got.push(s[a..b].to_vec()));
        assert_eq!(
            got,
            vec![
                b"\"a,b\" <sip:x@1.2.3.4;p=a,b>".to_vec(),
                b"<sip:y@5.6.7.8>".to_vec()
            ]
        );
    }
}
