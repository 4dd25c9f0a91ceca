//! From decoded addresses to edits and expectations: the per-segment (TCP) and per-datagram
//! (RAS) entry points the dataplane calls, with the policies of the module documentation.
//!
//! Per message: decode completely first (any [`H323Error`] from the decoder → the message is
//! left untouched and that reason counted); a Facility with an alternative address or alias
//! → nothing at all ([`H323Error::CallForwarding`]); then each address on its own: it must
//! be the sender's own address ([`H323Error::AddressMismatch`] /
//! [`H323Error::ThirdPartyHost`]), its port at least [`MIN_PORT`], an RTP port even. For an
//! inside sender the dataplane's `public` callback gives the public endpoint (called once per
//! distinct endpoint and protocol in a message), the 6 bytes are overwritten and an inbound
//! expectation from the master's peer is produced (none for sourceCallSignalAddress); for an
//! outside sender nothing is rewritten and an outbound expectation relates the subscriber's
//! coming flow to the master.

use super::per::Per;
use super::tpkt::{self, Start, TpktTracker, MAX_TPKTS_PER_SEGMENT, TPKT_HEADER};
use super::{
    h225, h245, q931, ras, AddrKind, Findings, H323Address, H323Error, MAX_ADDRESSES, MIN_PORT,
};
use crate::counters::AlgCounters;
use crate::edit::{Edit, EditError, EditList};
use crate::expect::{Expectation, Protocol, Side};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Most expectations returned for one segment or datagram.
pub const MAX_EXPECTATIONS: usize = 2 * MAX_ADDRESSES;

/// Which TCP channel a segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum H323Channel {
    /// Q.931/H.225.0 call signalling (TCP 1720, or a RAS-announced callSignalAddress).
    CallSignalling,
    /// H.245 control (the connection an `h245Address` expectation admitted).
    H245,
}

/// One TCP segment of an H.323 channel as the dataplane sees it.
#[derive(Debug, Clone, Copy)]
pub struct H323Segment<'a> {
    /// Which channel.
    pub channel: H323Channel,
    /// Which side of the NAT the sender is on.
    pub sender_side: Side,
    /// Sequence number of `payload[0]`.
    pub seq: u32,
    /// The packet's real source address (inside address for an inside sender).
    pub src: Ipv4Addr,
    /// The other end of the master connection (the outside peer for an inside sender, the
    /// subscriber's inside address for an outside sender).
    pub peer: Ipv4Addr,
    /// TCP payload.
    pub payload: &'a [u8],
}

/// What to do with one segment or datagram: same-length edits and expectations to install.
#[derive(Debug, Clone, Copy)]
pub struct H323Outcome<const N: usize> {
    /// 6-byte overwrites of `ipAddress` values, sorted, within the payload.
    pub edits: EditList<N>,
    expectations: [Option<Expectation>; MAX_EXPECTATIONS],
    n_expectations: usize,
}

impl<const N: usize> Default for H323Outcome<N> {
    fn default() -> Self {
        Self {
            edits: EditList::new(),
            expectations: [None; MAX_EXPECTATIONS],
            n_expectations: 0,
        }
    }
}

impl<const N: usize> H323Outcome<N> {
    /// The expectations, in message order.
    pub fn expectations(&self) -> impl Iterator<Item = &Expectation> + '_ {
        self.expectations[..self.n_expectations].iter().flatten()
    }
    fn add(&mut self, x: Expectation) -> bool {
        if self.expectations().any(|e| *e == x) {
            return true;
        }
        match self.expectations.get_mut(self.n_expectations) {
            Some(slot) => {
                *slot = Some(x);
                self.n_expectations += 1;
                true
            }
            None => false,
        }
    }
}

/// Where a message came from.
#[derive(Debug, Clone, Copy)]
struct Origin {
    side: Side,
    src: Ipv4Addr,
    peer: Ipv4Addr,
}

/// One TCP segment of call signalling or H.245: walk its TPKTs from a tracked boundary,
/// decode each message, and return the edits and expectations. `public` gives the public
/// endpoint for an inside endpoint (the dataplane allocates; `None` refuses).
pub fn process_segment<const N: usize>(
    tracker: &mut TpktTracker,
    seg: H323Segment<'_>,
    counters: &mut AlgCounters<H323Error>,
    mut public: impl FnMut(&H323Address) -> Option<SocketAddrV4>,
) -> H323Outcome<N> {
    let mut out = H323Outcome::default();
    let payload = seg.payload;
    if payload.is_empty() {
        return out;
    }
    let Some(start) = tracker.start(seg.seq) else {
        counters.fail(H323Error::NotAtBoundary);
        return out;
    };
    let origin = Origin {
        side: seg.sender_side,
        src: seg.src,
        peer: seg.peer,
    };
    let seq_at = |off: usize| seg.seq.wrapping_add(u32::try_from(off).unwrap_or(0));
    let mut body_first = match start {
        Start::Body(n) => Some(n),
        Start::Header => None,
    };
    let mut off = 0;
    for _ in 0..MAX_TPKTS_PER_SEGMENT {
        if off >= payload.len() {
            break;
        }
        let (body, len) = match body_first.take() {
            Some(n) => (off, n),
            None => match tpkt::header(&payload[off..]) {
                Ok(n) => (off + TPKT_HEADER, n),
                Err(e) => {
                    // A bad or cut header: the stream cannot be followed from here.
                    counters.fail(e);
                    return out;
                }
            },
        };
        if body == payload.len() {
            // The header came alone: its body starts the next segment.
            tracker.body_at(seq_at(body), u16::try_from(len).unwrap_or(u16::MAX));
            return out;
        }
        let end = body + len;
        tracker.header_at(seq_at(end));
        if end > payload.len() {
            counters.fail(H323Error::TpktSplit);
            return out;
        }
        let mut f = Findings::default();
        let decoded = match seg.channel {
            H323Channel::CallSignalling => q931::parse(&payload[body..end]).and_then(|q| {
                let mut r = Per::new(payload, body + q.h225_start, body + q.h225_end)?;
                h225::user_information(&mut r, &mut f).map(|_| ())
            }),
            H323Channel::H245 => {
                Per::new(payload, body, end).and_then(|mut r| h245::message(&mut r, &mut f))
            }
        };
        match decoded {
            Ok(()) => apply(&f, origin, counters, &mut public, &mut out),
            Err(e) => counters.fail(e),
        }
        off = end;
    }
    out
}

/// One RAS datagram (UDP 1719) from `src` to `peer`.
pub fn process_ras<const N: usize>(
    payload: &[u8],
    sender_side: Side,
    src: Ipv4Addr,
    peer: Ipv4Addr,
    counters: &mut AlgCounters<H323Error>,
    mut public: impl FnMut(&H323Address) -> Option<SocketAddrV4>,
) -> H323Outcome<N> {
    let mut out = H323Outcome::default();
    let mut f = Findings::default();
    let decoded =
        Per::new(payload, 0, payload.len()).and_then(|mut r| ras::message(&mut r, &mut f));
    match decoded {
        Ok(ras::RasKind::Other) => {}
        Ok(_) => apply(
            &f,
            Origin {
                side: sender_side,
                src,
                peer,
            },
            counters,
            &mut public,
            &mut out,
        ),
        Err(e) => counters.fail(e),
    }
    out
}

/// The expected child flow's protocol, or `None` for an address that is only rewritten.
fn child_protocol(kind: AddrKind) -> Option<Protocol> {
    match kind {
        AddrKind::H245Address | AddrKind::CallSignalAddress => Some(Protocol::Tcp),
        AddrKind::MediaChannel | AddrKind::MediaControlChannel | AddrKind::RasAddress => {
            Some(Protocol::Udp)
        }
        AddrKind::SourceCallSignalAddress => None,
    }
}

/// The checks every announced address must pass.
fn check(a: &H323Address, origin: Origin) -> Result<(), H323Error> {
    if *a.endpoint.ip() != origin.src {
        return Err(match origin.side {
            Side::Inside => H323Error::AddressMismatch,
            Side::Outside => H323Error::ThirdPartyHost,
        });
    }
    if a.endpoint.port() < MIN_PORT {
        return Err(H323Error::PrivilegedPort);
    }
    if a.kind == AddrKind::MediaChannel && a.endpoint.port() % 2 == 1 {
        return Err(H323Error::OddRtpPort);
    }
    Ok(())
}

fn overwrite(a: &H323Address, public: SocketAddrV4) -> Result<Edit, EditError> {
    let [a0, a1, a2, a3] = public.ip().octets();
    let [p0, p1] = public.port().to_be_bytes();
    Edit::new(a.offset, 6, &[a0, a1, a2, a3, p0, p1])
}

fn apply<const N: usize>(
    f: &Findings,
    origin: Origin,
    counters: &mut AlgCounters<H323Error>,
    public: &mut impl FnMut(&H323Address) -> Option<SocketAddrV4>,
    out: &mut H323Outcome<N>,
) {
    counters.message();
    if f.forwarding {
        counters.fail(H323Error::CallForwarding);
        return;
    }
    if f.tunnelled {
        counters.fail(H323Error::H245Tunnelled);
    }
    if f.unsupported_family {
        counters.fail(H323Error::UnsupportedFamily);
    }
    // Public endpoints already given in this message: (protocol, inside, public).
    let mut given: [Option<(Option<Protocol>, SocketAddrV4, SocketAddrV4)>; MAX_ADDRESSES] =
        [None; MAX_ADDRESSES];
    let mut rewritten = false;
    for (i, a) in f.iter().enumerate() {
        if let Err(e) = check(a, origin) {
            counters.fail(e);
            continue;
        }
        let proto = child_protocol(a.kind);
        let x = match origin.side {
            Side::Outside => match proto {
                Some(p) => Expectation::outbound(p, origin.peer, a.endpoint),
                None => continue,
            },
            Side::Inside => {
                let known = given
                    .iter()
                    .flatten()
                    .find(|(p, e, _)| *p == proto && *e == a.endpoint)
                    .map(|g| g.2);
                let Some(p) = known.or_else(|| public(a)) else {
                    counters.fail(H323Error::NoPublicPort);
                    continue;
                };
                if let Some(slot) = given.get_mut(i) {
                    *slot = Some((proto, a.endpoint, p));
                }
                match overwrite(a, p).and_then(|e| out.edits.push(e)) {
                    Ok(()) => rewritten = true,
                    Err(_) => {
                        counters.fail(H323Error::TooManyRewrites);
                        continue;
                    }
                }
                match proto {
                    Some(proto) => Expectation::inbound(proto, origin.peer, p, a.endpoint),
                    None => continue,
                }
            }
        };
        let before = out.n_expectations;
        if !out.add(x) {
            counters.fail(H323Error::TooManyAddresses);
        } else if out.n_expectations > before {
            counters.expectation();
        }
    }
    if rewritten {
        counters.rewrite();
    }
}
