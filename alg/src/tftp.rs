//! TFTP (RFC 1350) read and write requests, with options (RFC 2347).
//!
//! A client sends RRQ or WRQ to the server's port 69 from its own port (its TID); the server
//! answers from a *new* port (RFC 1350 §4: "each end of a connection chooses a TID for itself
//! [...] The server's TID is chosen randomly"). So the reply flow never matches the request's
//! 5-tuple, and a NAT with address-and-port-dependent filtering drops it. The ALG turns each
//! valid request into an [`Expectation`]: from the server's address, any source port, to the
//! client's public endpoint (its existing mapping), UDP. Nothing in the payload names an
//! address, so nothing is rewritten.
//!
//! ```text
//!  2 bytes     string    1 byte     string   1 byte     string   1 byte   string   1 byte
//! +--------+------------+------+------------+------+---~~---+------+---~~---+------+-->
//! | Opcode |  Filename  |   0  |    Mode    |   0  |  opt1  |   0  | value1 |   0  | ...
//! +--------+------------+------+------------+------+---~~---+------+---~~---+------+-->
//! ```
//!
//! Policy: only opcode 1 (RRQ) and 2 (WRQ); the filename non-empty; the mode one of
//! `netascii`, `octet`, `mail` in any case (RFC 1350 §5); options come in name/value pairs
//! with non-empty names, at most [`MAX_OPTIONS`]; the request at most [`MAX_REQUEST`] bytes
//! (RFC 2347: "The maximum size of a request packet is 512 octets") and ending in NUL.
//! Anything else creates no expectation and is counted by reason; the packet itself is
//! forwarded (it is the server's business to reject it).

use crate::counters::AlgCounters;
use crate::expect::{Expectation, Protocol};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Largest request accepted (RFC 2347 §"Packet Formats").
pub const MAX_REQUEST: usize = 512;
/// Most option pairs accepted in one request.
pub const MAX_OPTIONS: usize = 16;
/// The well-known server port.
pub const TFTP_PORT: u16 = 69;

reasons! {
    /// Why a datagram to the TFTP port created no expectation. One counter each.
    pub enum TftpError : "alg_tftp_" {
        /// Shorter than an opcode and two NUL-terminated strings.
        Truncated => "truncated",
        /// Opcode other than RRQ (1) or WRQ (2).
        NotRequest => "not_request",
        /// Longer than [`MAX_REQUEST`].
        TooLong => "too_long",
        /// A string (filename, mode, option) without its terminating NUL.
        MissingNul => "missing_nul",
        /// Empty filename.
        EmptyFilename => "empty_filename",
        /// Mode other than netascii, octet or mail.
        UnknownMode => "unknown_mode",
        /// An option name without a value, or an empty option name.
        BadOption => "bad_option",
        /// More than [`MAX_OPTIONS`] options.
        TooManyOptions => "too_many_options",
    }
}

/// Read or write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpKind {
    /// RRQ, opcode 1: the server will send DATA.
    Read,
    /// WRQ, opcode 2: the server will send ACK (or OACK).
    Write,
}

/// Transfer mode (RFC 1350 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpMode {
    /// `netascii`.
    Netascii,
    /// `octet`.
    Octet,
    /// `mail` (obsolete, still valid syntax).
    Mail,
}

/// A parsed request, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftpRequest<'a> {
    /// RRQ or WRQ.
    pub kind: TftpKind,
    /// The file name (without its NUL).
    pub filename: &'a [u8],
    /// The mode.
    pub mode: TftpMode,
    /// Raw option area (`name\0value\0...`), already validated.
    options: &'a [u8],
}

/// Splits `b` at its first NUL: (string, rest after the NUL).
fn cstr(b: &[u8]) -> Result<(&[u8], &[u8]), TftpError> {
    let n = b
        .iter()
        .position(|&c| c == 0)
        .ok_or(TftpError::MissingNul)?;
    Ok((&b[..n], &b[n + 1..]))
}

/// Parses a datagram sent to the TFTP server port.
pub fn parse(payload: &[u8]) -> Result<TftpRequest<'_>, TftpError> {
    let (op, body) = payload
        .split_first_chunk::<2>()
        .ok_or(TftpError::Truncated)?;
    let kind = match u16::from_be_bytes(*op) {
        1 => TftpKind::Read,
        2 => TftpKind::Write,
        _ => return Err(TftpError::NotRequest),
    };
    if payload.len() > MAX_REQUEST {
        return Err(TftpError::TooLong);
    }
    if body.is_empty() {
        return Err(TftpError::Truncated);
    }
    let (filename, rest) = cstr(body)?;
    if filename.is_empty() {
        return Err(TftpError::EmptyFilename);
    }
    let (mode, options) = cstr(rest)?;
    let mode = if mode.eq_ignore_ascii_case(b"netascii") {
        TftpMode::Netascii
    } else if mode.eq_ignore_ascii_case(b"octet") {
        TftpMode::Octet
    } else if mode.eq_ignore_ascii_case(b"mail") {
        TftpMode::Mail
    } else {
        return Err(TftpError::UnknownMode);
    };
    let mut rest = options;
    let mut count = 0;
    while !rest.is_empty() {
        let (name, after) = cstr(rest)?;
        if name.is_empty() {
            return Err(TftpError::BadOption);
        }
        if after.is_empty() {
            return Err(TftpError::BadOption);
        }
        let (_value, after) = cstr(after)?;
        count += 1;
        if count > MAX_OPTIONS {
            return Err(TftpError::TooManyOptions);
        }
        rest = after;
    }
    Ok(TftpRequest {
        kind,
        filename,
        mode,
        options,
    })
}

impl<'a> TftpRequest<'a> {
    /// The options as (name, value) pairs, in order.
    pub fn options(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut rest = self.options;
        core::iter::from_fn(move || {
            let (name, after) = cstr(rest).ok()?;
            let (value, after) = cstr(after).ok()?;
            rest = after;
            Some((name, value))
        })
    }

    /// The value of option `name` (case-insensitive, RFC 2347), if present.
    pub fn option(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.options()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// For a client inside: the server (`server`, the request's real destination) answers from
    /// any port to the client's public endpoint, translated back to its inside endpoint.
    pub fn inbound_expectation(
        &self,
        server: Ipv4Addr,
        client_public: SocketAddrV4,
        client_inside: SocketAddrV4,
    ) -> Expectation {
        Expectation::inbound(Protocol::Udp, server, client_public, client_inside)
    }

    /// For a client outside and a server inside (a forwarded port): the server's new flow
    /// goes from any of its ports to the client's endpoint.
    pub fn outbound_expectation(
        &self,
        server_inside: Ipv4Addr,
        client: SocketAddrV4,
    ) -> Expectation {
        Expectation::outbound(Protocol::Udp, server_inside, client)
    }
}

/// One call per datagram an inside client sends to a TFTP server: parse, count, and return
/// the expectation to install.
pub fn process(
    payload: &[u8],
    server: Ipv4Addr,
    client_public: SocketAddrV4,
    client_inside: SocketAddrV4,
    counters: &mut AlgCounters<TftpError>,
) -> Option<Expectation> {
    match parse(payload) {
        Ok(req) => {
            counters.message();
            counters.expectation();
            Some(req.inbound_expectation(server, client_public, client_inside))
        }
        Err(e) => {
            counters.fail(e);
            None
        }
    }
}

#[cfg(test)]
mod tests;
