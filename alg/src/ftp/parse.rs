//! Parsers for the FTP lines that carry an address or a port, one complete line at a time
//! (CR and LF already removed). Each returns where the address/port text lies in the line so
//! it can be replaced, or the reason it was refused.
//!
//! Grammar accepted (keywords case-insensitive, RFC 959 §4.1 "commands ... may be in any case";
//! blanks tolerated where real clients put them, numbers may have leading zeros but their
//! *values* are bounded, so `PORT 010,000,...` is read and `300` is refused):
//!
//! ```text
//! PORT h1,h2,h3,h4,p1,p2                          RFC 959 §4.1.2
//! EPRT <d>1<d>a.b.c.d<d>port<d>                   RFC 2428 §2 (<d>: ASCII 33-126)
//! LPRT 4,4,h1,h2,h3,h4,2,p1,p2                    RFC 1639 §2
//! 227 <text>h1,h2,h3,h4,p1,p2<text>               RFC 959 §4.2, RFC 1123 §4.1.2.6
//! 228 <text>4,4,h1,h2,h3,h4,2,p1,p2<text>         RFC 1639 §3
//! 229 <text>(<d><d><d>port<d>)<text>              RFC 2428 §3
//! ```
//!
//! RFC 1123 §4.1.2.6: "The format of the 227 reply to a PASV command is not well standardized.
//! In particular, an FTP client cannot assume that the parentheses shown on page 40 of RFC-959
//! will be present [...]. Therefore, a User-FTP program that interprets the PASV reply must
//! scan the reply for the first digit of the host and port numbers." So do we, for 227 and 228.

use super::{FtpError, FtpKind};
use crate::text::{Cursor, NumError};
use core::net::Ipv4Addr;

/// What a line announced and where in the line the replaceable text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub kind: FtpKind,
    /// `None` for 229, which carries only a port.
    pub addr: Option<Ipv4Addr>,
    pub port: u16,
    /// Byte range of the address/port text within the line.
    pub start: usize,
    pub end: usize,
    /// The EPRT/229 delimiter (0 otherwise).
    pub delim: u8,
}

fn num_err(e: NumError) -> FtpError {
    match e {
        NumError::Missing => FtpError::BadSyntax,
        NumError::TooLarge => FtpError::BadNumber,
    }
}

/// `n` comma-separated octets, blanks allowed around the commas.
fn octets<const N: usize>(c: &mut Cursor<'_>) -> Result<[u8; N], FtpError> {
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        if i > 0 {
            c.skip_blanks();
            if !c.eat(b',') {
                return Err(FtpError::BadSyntax);
            }
            c.skip_blanks();
        }
        *slot = c.octet().map_err(num_err)?;
    }
    Ok(out)
}

fn addr_port(n: &[u8; 6]) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::new(n[0], n[1], n[2], n[3]),
        u16::from_be_bytes([n[4], n[5]]),
    )
}

/// The rest of the line after the keyword must be blanks only.
fn end_of_line(c: &mut Cursor<'_>) -> Result<(), FtpError> {
    c.skip_blanks();
    if c.at_end() {
        Ok(())
    } else {
        Err(FtpError::BadSyntax)
    }
}

/// RFC 2428: "The delimiter character MUST be one of the ASCII characters in range 33-126
/// inclusive." Digits, `.` and `:` are refused too: they would make the fields ambiguous.
fn delimiter(c: &mut Cursor<'_>) -> Result<u8, FtpError> {
    match c.next_byte() {
        Some(d) if (33..=126).contains(&d) && !d.is_ascii_digit() && d != b'.' && d != b':' => {
            Ok(d)
        }
        _ => Err(FtpError::BadSyntax),
    }
}

fn expect(c: &mut Cursor<'_>, b: u8) -> Result<(), FtpError> {
    if c.eat(b) {
        Ok(())
    } else {
        Err(FtpError::BadSyntax)
    }
}

/// A TCP port written in decimal: 1..=65535.
fn port(c: &mut Cursor<'_>) -> Result<u16, FtpError> {
    let p = c.number(65535).map_err(|e| match e {
        NumError::Missing => FtpError::BadSyntax,
        NumError::TooLarge => FtpError::PortOutOfRange,
    })?;
    u16::try_from(p).map_err(|_| FtpError::PortOutOfRange)
}

/// `PORT h1,h2,h3,h4,p1,p2`; `at` is just after the keyword and its space.
pub(crate) fn port_cmd(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    c.skip_blanks();
    let start = c.pos();
    let n = octets::<6>(&mut c)?;
    let end = c.pos();
    end_of_line(&mut c)?;
    let (addr, port) = addr_port(&n);
    Ok(Parsed {
        kind: FtpKind::Port,
        addr: Some(addr),
        port,
        start,
        end,
        delim: 0,
    })
}

/// `af,hal,h1,...,pal,p1,p2` (RFC 1639), IPv4 only (af 4, hal 4, pal 2).
fn long_address(c: &mut Cursor<'_>) -> Result<(Ipv4Addr, u16), FtpError> {
    let af = c.octet().map_err(num_err)?;
    if af != 4 {
        return Err(FtpError::UnsupportedFamily);
    }
    c.skip_blanks();
    expect(c, b',')?;
    c.skip_blanks();
    let n = octets::<8>(c)?;
    if n[0] != 4 || n[5] != 2 {
        return Err(FtpError::BadSyntax);
    }
    Ok((
        Ipv4Addr::new(n[1], n[2], n[3], n[4]),
        u16::from_be_bytes([n[6], n[7]]),
    ))
}

/// `LPRT 4,4,h1,h2,h3,h4,2,p1,p2`.
pub(crate) fn lprt_cmd(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    c.skip_blanks();
    let start = c.pos();
    let (addr, port) = long_address(&mut c)?;
    let end = c.pos();
    end_of_line(&mut c)?;
    Ok(Parsed {
        kind: FtpKind::Lprt,
        addr: Some(addr),
        port,
        start,
        end,
        delim: 0,
    })
}

/// `EPRT |1|a.b.c.d|port|` with any delimiter.
pub(crate) fn eprt_cmd(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    c.skip_blanks();
    let d = delimiter(&mut c)?;
    // RFC 2428: "AF Number: 1 (IPv4), 2 (IPv6)".
    match c.number(255) {
        Ok(1) => {}
        Ok(_) | Err(NumError::TooLarge) => return Err(FtpError::UnsupportedFamily),
        Err(NumError::Missing) => return Err(FtpError::BadSyntax),
    }
    expect(&mut c, d)?;
    let start = c.pos();
    let mut o = [0u8; 4];
    for (i, slot) in o.iter_mut().enumerate() {
        if i > 0 {
            expect(&mut c, b'.')?;
        }
        *slot = c.octet().map_err(num_err)?;
    }
    expect(&mut c, d)?;
    let port = port(&mut c)?;
    let end = c.pos();
    expect(&mut c, d)?;
    end_of_line(&mut c)?;
    Ok(Parsed {
        kind: FtpKind::Eprt,
        addr: Some(Ipv4Addr::from(o)),
        port,
        start,
        end,
        delim: d,
    })
}

/// `227 ...h1,h2,h3,h4,p1,p2...`: the numbers start at the first digit after the code.
pub(crate) fn reply_227(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    if !c.seek_digit() {
        return Err(FtpError::BadSyntax);
    }
    let start = c.pos();
    let n = octets::<6>(&mut c)?;
    let (addr, port) = addr_port(&n);
    Ok(Parsed {
        kind: FtpKind::Pasv,
        addr: Some(addr),
        port,
        start,
        end: c.pos(),
        delim: 0,
    })
}

/// `228 ...4,4,h1,h2,h3,h4,2,p1,p2...`.
pub(crate) fn reply_228(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    if !c.seek_digit() {
        return Err(FtpError::BadSyntax);
    }
    let start = c.pos();
    let (addr, port) = long_address(&mut c)?;
    Ok(Parsed {
        kind: FtpKind::LongPasv,
        addr: Some(addr),
        port,
        start,
        end: c.pos(),
        delim: 0,
    })
}

/// `229 ...(|||port|)`: RFC 2428 §3, "the text returned in response to the EPSV command MUST
/// be: 229 <text indicating server is entering extended passive mode> (<d><d><d><tcp-port><d>)".
pub(crate) fn reply_229(line: &[u8], at: usize) -> Result<Parsed, FtpError> {
    let mut c = Cursor::new(line, at);
    if !c.seek_past(b'(') {
        return Err(FtpError::BadSyntax);
    }
    let d = delimiter(&mut c)?;
    expect(&mut c, d)?;
    expect(&mut c, d)?;
    let start = c.pos();
    let port = port(&mut c)?;
    let end = c.pos();
    expect(&mut c, d)?;
    expect(&mut c, b')')?;
    Ok(Parsed {
        kind: FtpKind::ExtPasv,
        addr: None,
        port,
        start,
        end,
        delim: d,
    })
}
