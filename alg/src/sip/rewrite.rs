//! Checks, rewrites and expectations of one parsed message, in both directions.
//!
//! **From an inside host** (the subscriber's UA): every `host[:port]` span whose host is the
//! subscriber's own inside address becomes the master's public address (the Request-URI,
//! Via sent-by, Contact, From, To, Record-Route, Route — From/To therefore only where they
//! carry the subscriber's own address) when its port is the master's inside port (an absent
//! port means 5060, RFC 3261 §19.1.2, and is written out when the public port differs), and
//! that port becomes the master's public port. A span naming another port of the subscriber
//! is left as written: that endpoint has no public counterpart, and the public address with
//! the inside port number would name a port of another subscriber's block. SDP `o=`, `c=` and the
//! `a=rtcp` address become the public address, each `m=` port the public RTP port the
//! dataplane allocated, `a=rtcp` the public RTCP port (RTP + 1). Content-Length is rewritten to
//! the new body length. Before anything is rewritten, [`SipMessage::check_outbound`] refuses
//! the whole message (it then passes unmodified and opens nothing) when the top Via (of a
//! request), a Contact or an SDP address is an IPv4 address other than the sender's own, when a `maddr`
//! parameter is present, or when a media line has a privileged port, an odd RTP port or a
//! port count.
//!
//! **From an outside host** (a registrar, proxy or peer, towards the subscriber): the
//! subscriber's public endpoint (public address *and* port: the address is shared by many
//! subscribers) is put back to its inside endpoint in the Request-URI, To, From, Contact,
//! Record-Route, Route and the *top* Via (sent-by, `received`, `rport`: RFC 3581 §4 — in a
//! response the top Via is the subscriber's own). The SDP of an outside host names the
//! outside host's media and is not rewritten.

use super::message::SipMessage;
use super::{Field, Media, SipError, Span, SIP_PORT};
use super::{MAX_MEDIA, MAX_PORT_COUNT, MIN_MEDIA_PORT};
use crate::edit::{Edit, EditError, EditList};
use crate::expect::{Expectation, Protocol};
use crate::text::TextBuf;
use core::net::{Ipv4Addr, SocketAddrV4};

/// Edits a full INVITE with SDP can need: every span of [`super::MAX_SPANS`].
pub const MAX_EDITS: usize = super::MAX_SPANS;

/// The master session's addressing, as the dataplane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The subscriber's signalling endpoint in the inside domain (its address, the master's
    /// inside port).
    pub inside: SocketAddrV4,
    /// The master's public endpoint.
    pub public: SocketAddrV4,
    /// The real address of the outside end of the master (registrar, proxy or peer).
    pub peer: Ipv4Addr,
}

/// A public RTP port the dataplane allocated for an inside RTP port (even, with RTCP on the
/// next port: parity preserved, RFC 4787 REQ-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaMap {
    /// The inside RTP port announced in `m=`.
    pub inside_rtp: u16,
    /// The public RTP port (even); RTCP is `public_rtp + 1`.
    pub public_rtp: u16,
}

fn unspecified(a: Ipv4Addr) -> bool {
    a == Ipv4Addr::UNSPECIFIED
}

/// The checks shared by both directions for a media line that would be opened.
fn check_media(m: &Media) -> Result<(), SipError> {
    if m.count > MAX_PORT_COUNT {
        return Err(SipError::PortCount);
    }
    if m.port < MIN_MEDIA_PORT {
        return Err(SipError::PrivilegedPort);
    }
    if !m.port.is_multiple_of(2) {
        return Err(SipError::OddRtpPort);
    }
    match m.rtcp {
        Some(r) if r < MIN_MEDIA_PORT => Err(SipError::PrivilegedPort),
        _ => Ok(()),
    }
}

/// Whether a media line is live and UDP (port 0 disables it, RFC 3264 §8.2; `c=0.0.0.0`
/// puts it on hold, RFC 3264 §8.4).
fn live(m: &Media) -> bool {
    m.udp && m.port != 0 && m.conn.is_some_and(|c| !unspecified(c))
}

fn hostport_text(addr: Ipv4Addr, port: Option<u16>) -> TextBuf {
    let mut t = TextBuf::new();
    t.push_addr(addr, b'.');
    if let Some(p) = port {
        t.push(b':').push_dec(p.into());
    }
    t
}

fn edit_of(s: &Span, t: &TextBuf) -> Result<Edit, SipError> {
    let text = t.as_slice().ok_or(SipError::EditFailed)?;
    Edit::new(usize::from(s.start), usize::from(s.end - s.start), text)
        .map_err(|_| SipError::EditFailed)
}

fn push<const N: usize>(list: &mut EditList<N>, e: Edit) -> Result<(), SipError> {
    list.push(e).map_err(|e| match e {
        EditError::ListFull => SipError::TooManyRewrites,
        _ => SipError::EditFailed,
    })
}

impl SipMessage {
    /// The hardening rules for a message from an inside host (see the module
    /// documentation). `Err`: pass the message unmodified, open nothing, count the reason.
    pub fn check_outbound(&self, t: &Translation) -> Result<(), SipError> {
        let own = *t.inside.ip();
        if let Some(e) = self.sdp_error {
            return Err(e);
        }
        if self.maddr {
            return Err(SipError::Maddr);
        }
        // A request's top Via is the sender's own (RFC 3261 §8.1.1.7); a response carries
        // the requester's Vias (§8.2.6.2), which are not checked.
        let request = self.status().is_none();
        if request && matches!(self.top_via, Some((Some(a), _)) if a != own) {
            return Err(SipError::AddressMismatch);
        }
        if let Some(c) = self.contact {
            if c.addr != own {
                return Err(SipError::AddressMismatch);
            }
            if c.port < MIN_MEDIA_PORT {
                return Err(SipError::PrivilegedPort);
            }
        }
        for s in self.spans() {
            if matches!(
                s.field,
                Field::Contact | Field::Connection | Field::RtcpAddr
            ) && s.addr.is_some_and(|a| a != own && !unspecified(a))
            {
                return Err(SipError::AddressMismatch);
            }
        }
        self.media().filter(|m| live(m)).try_for_each(check_media)
    }

    /// The checks before relating an outside host's media (`outbound_expectations`): its
    /// media must be at its own address (`sender`), no `maddr`.
    pub fn check_inbound(&self, sender: Ipv4Addr) -> Result<(), SipError> {
        if let Some(e) = self.sdp_error {
            return Err(e);
        }
        if self.maddr {
            return Err(SipError::Maddr);
        }
        for m in self.media().filter(|m| live(m)) {
            if m.conn != Some(sender) {
                return Err(SipError::ThirdPartyHost);
            }
            check_media(m)?;
        }
        Ok(())
    }

    /// The media of an inside host's message that need a public RTP/RTCP pair: live UDP
    /// media at the subscriber's address. Call after [`SipMessage::check_outbound`].
    pub fn media_to_map(&self, t: &Translation) -> impl Iterator<Item = &Media> + '_ {
        let own = *t.inside.ip();
        self.media().filter(move |m| live(m) && m.conn == Some(own))
    }

    fn media_at(&self, i: u8) -> Option<&Media> {
        self.media().nth(usize::from(i))
    }

    fn public_rtp(&self, m: &Media, maps: &[MediaMap]) -> Result<u16, SipError> {
        maps.iter()
            .find(|x| x.inside_rtp == m.port)
            .map(|x| x.public_rtp)
            .ok_or(SipError::NoPublicPort)
    }

    /// The replacement text of one span of an inside host's message, if it changes.
    fn outbound_text(
        &self,
        s: &Span,
        t: &Translation,
        maps: &[MediaMap],
        body_delta: i64,
    ) -> Result<Option<TextBuf>, SipError> {
        let own = *t.inside.ip();
        let public = *t.public.ip();
        let mapped = |i: u8| {
            self.media_at(i)
                .filter(|m| live(m) && m.conn == Some(own))
                .copied()
        };
        Ok(match s.field {
            f if f.is_hostport() => {
                if s.addr != Some(own) {
                    return Ok(None);
                }
                // Only the master's own endpoint has a public counterpart. Another port of the
                // subscriber (a Contact or Via naming a listening port that is not the one the
                // message was sent from) has none: rewriting just its address would name a
                // public port of some other subscriber's block, so it is left as written (as
                // Linux's nf_nat_sip does).
                let port = match s.port {
                    Some(p) if p == t.inside.port() => Some(t.public.port()),
                    Some(_) => return Ok(None),
                    None if t.inside.port() != SIP_PORT => return Ok(None),
                    None if t.public.port() != SIP_PORT => Some(t.public.port()),
                    None => None,
                };
                Some(hostport_text(public, port))
            }
            Field::Origin | Field::Connection | Field::RtcpAddr if s.addr == Some(own) => {
                Some(hostport_text(public, None))
            }
            Field::MediaPort => match mapped(s.media) {
                Some(m) => {
                    let mut b = TextBuf::new();
                    b.push_dec(self.public_rtp(&m, maps)?.into());
                    Some(b)
                }
                None => None,
            },
            Field::Rtcp => match mapped(s.media) {
                Some(m) => {
                    let p = self.public_rtp(&m, maps)?;
                    let mut b = TextBuf::new();
                    b.push_dec(u32::from(p) + 1);
                    Some(b)
                }
                None => None,
            },
            Field::ContentLength if body_delta != 0 => {
                let len = i64::try_from(self.body().len()).unwrap_or(0) + body_delta;
                let mut b = TextBuf::new();
                b.push_dec(u32::try_from(len).map_err(|_| SipError::EditFailed)?);
                Some(b)
            }
            _ => None,
        })
    }

    /// The edits for a message from an inside host (after [`SipMessage::check_outbound`]):
    /// `maps` gives a public RTP port for every media of [`SipMessage::media_to_map`].
    pub fn rewrite_outbound<const N: usize>(
        &self,
        t: &Translation,
        maps: &[MediaMap],
    ) -> Result<EditList<N>, SipError> {
        let body = self.body();
        let mut delta: i64 = 0;
        for s in self.spans().filter(|s| usize::from(s.start) >= body.start) {
            if let Some(text) = self.outbound_text(s, t, maps, 0)? {
                let n = text.as_slice().ok_or(SipError::EditFailed)?.len();
                delta += i64::try_from(n).unwrap_or(0) - i64::from(s.end - s.start);
            }
        }
        let mut list = EditList::new();
        for s in self.spans() {
            if let Some(text) = self.outbound_text(s, t, maps, delta)? {
                push(&mut list, edit_of(s, &text)?)?;
            }
        }
        Ok(list)
    }

    /// The edits for a message from an outside host: the subscriber's public endpoint back
    /// to its inside endpoint (see the module documentation). The body is not touched.
    pub fn rewrite_inbound<const N: usize>(
        &self,
        t: &Translation,
    ) -> Result<EditList<N>, SipError> {
        let public = *t.public.ip();
        let ours = |port: Option<u16>| match port {
            Some(p) => p == t.public.port(),
            None => t.public.port() == SIP_PORT,
        };
        let mut list = EditList::new();
        for s in self.spans() {
            let top_via = s.media == 0;
            let text = match s.field {
                Field::Via if !top_via => None,
                f if f.is_hostport() && s.addr == Some(public) && ours(s.port) => {
                    let port = match s.port {
                        Some(_) => Some(t.inside.port()),
                        None if t.inside.port() != SIP_PORT => Some(t.inside.port()),
                        None => None,
                    };
                    Some(hostport_text(*t.inside.ip(), port))
                }
                Field::ViaReceived if top_via && s.addr == Some(public) => {
                    Some(hostport_text(*t.inside.ip(), None))
                }
                Field::ViaRport if top_via && s.port == Some(t.public.port()) => {
                    let mut b = TextBuf::new();
                    b.push_dec(t.inside.port().into());
                    Some(b)
                }
                _ => None,
            };
            if let Some(text) = text {
                push(&mut list, edit_of(s, &text)?)?;
            }
        }
        Ok(list)
    }

    /// Media pinholes for a message from an inside host, rewritten with `maps`: per media
    /// line, RTP (public even port → inside RTP port) and RTCP (public odd port → inside RTCP
    /// port), UDP, from the master's remote peer, any source port.
    pub fn inbound_expectations(
        &self,
        t: &Translation,
        maps: &[MediaMap],
    ) -> [Option<Expectation>; 2 * MAX_MEDIA] {
        let mut out = [None; 2 * MAX_MEDIA];
        let public = *t.public.ip();
        for (i, m) in self.media_to_map(t).enumerate().take(MAX_MEDIA) {
            let (Ok(p), Some(conn), Some(rtcp)) = (self.public_rtp(m, maps), m.conn, m.rtcp_port())
            else {
                continue;
            };
            let Some(p1) = p.checked_add(1) else {
                continue;
            };
            out[2 * i] = Some(Expectation::inbound(
                Protocol::Udp,
                t.peer,
                SocketAddrV4::new(public, p),
                SocketAddrV4::new(conn, m.port),
            ));
            out[2 * i + 1] = Some(Expectation::inbound(
                Protocol::Udp,
                t.peer,
                SocketAddrV4::new(public, p1),
                SocketAddrV4::new(conn, rtcp),
            ));
        }
        out
    }

    /// For a message from an outside host `sender` (after [`SipMessage::check_inbound`]):
    /// the subscriber `inside_host` will send RTP and RTCP to the announced media, which is the
    /// sender's own address. No pinhole; a relation to the master.
    pub fn outbound_expectations(
        &self,
        sender: Ipv4Addr,
        inside_host: Ipv4Addr,
    ) -> [Option<Expectation>; 2 * MAX_MEDIA] {
        let mut out = [None; 2 * MAX_MEDIA];
        for (i, m) in self
            .media()
            .filter(|m| live(m) && m.conn == Some(sender))
            .enumerate()
            .take(MAX_MEDIA)
        {
            let Some(rtcp) = m.rtcp_port() else {
                continue;
            };
            out[2 * i] = Some(Expectation::outbound(
                Protocol::Udp,
                inside_host,
                SocketAddrV4::new(sender, m.port),
            ));
            out[2 * i + 1] = Some(Expectation::outbound(
                Protocol::Udp,
                inside_host,
                SocketAddrV4::new(sender, rtcp),
            ));
        }
        out
    }
}
