//! SETUP requests and their replies for [`process`](super::process): checking and rewriting
//! `client_port` and `destination`, asking the dataplane for public ports, un-translating the
//! reply, and producing the expectations. Policies are in the [`rtsp`](super) module
//! documentation.

use super::message::{self, Head};
use super::process::{Run, MESSAGE_EDITS};
use super::state::{Media, Setup};
use super::transport::{self, Destination, MAX_TRANSPORTS};
use super::{DestinationPolicy, RtspError, RtspEvent};
use crate::edit::{Edit, EditList};
use crate::expect::{Expectation, Protocol};
use crate::text::TextBuf;
use core::net::SocketAddrV4;

impl<A: FnMut(SocketAddrV4, bool) -> Option<SocketAddrV4>> Run<'_, A> {
    fn edit(&mut self, edits: &mut EditList<MESSAGE_EDITS>, at: usize, len: usize, text: &[u8]) {
        if Edit::new(at, len, text)
            .and_then(|e| edits.push(e))
            .is_err()
        {
            self.counters.fail(RtspError::EditFailed);
        }
    }

    fn push_edits(&mut self, edits: &EditList<MESSAGE_EDITS>) {
        for e in edits.iter() {
            if self.out.edits.push(*e).is_err() {
                self.counters.fail(RtspError::TooManyRewrites);
            }
        }
    }

    /// A SETUP from the client. `Ok(true)`: counted as a message.
    pub(super) fn setup(&mut self, pos: usize, block: &[u8], h: &Head) -> Result<bool, RtspError> {
        if let Some(e) = h.defect {
            return Err(e);
        }
        let cseq = h.cseq.ok_or(RtspError::BadSyntax)?;
        let (ts, te) = h.transport.ok_or(RtspError::BadSyntax)?;
        let specs = transport::parse(block, ts..te)?;
        let msg_seq = self
            .seg
            .seq
            .wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));

        // destination= first: a refusal leaves everything untouched.
        let mut strip = [None; MAX_TRANSPORTS];
        for (s, slot) in specs.iter().zip(strip.iter_mut()) {
            let Some((d, span)) = s.destination else {
                continue;
            };
            let own = match d {
                Destination::Absent => true,
                Destination::Ipv4(a) => a == self.client,
                Destination::Other => false,
            };
            if !own {
                self.counters.fail(RtspError::ThirdPartyDestination);
                if self.cfg.destination == DestinationPolicy::Refuse {
                    return Ok(false);
                }
            }
            *slot = Some(span);
        }

        // The distinct client port pairs, and their public endpoints.
        let existing = self
            .state
            .setups
            .iter()
            .position(|s| s.is_some_and(|s| s.msg_seq == msg_seq && s.cseq == cseq));
        let old = existing.and_then(|i| self.state.setups[i]);
        if self.retrans && old.is_none() {
            // Its slot was reused since: the ports it had cannot be known; pass it.
            return Ok(false);
        }
        let reuse = old.map(|s| s.media).unwrap_or([None; MAX_TRANSPORTS]);
        let mut media: [Option<Media>; MAX_TRANSPORTS] = [None; MAX_TRANSPORTS];
        let mut fresh: [Option<Media>; MAX_TRANSPORTS] = [None; MAX_TRANSPORTS];
        for s in specs.iter().filter(|s| !s.interleaved && !s.multicast) {
            let Some(cp) = s.client_port else { continue };
            let same =
                |m: &Option<Media>| m.is_some_and(|m| m.inside_rtp == cp.rtp && m.pair == cp.pair);
            if media.iter().any(same) {
                continue;
            }
            let m = match reuse.iter().find(|m| same(m)).copied().flatten() {
                Some(m) => m,
                None => match self.allocate_media(cp.rtp, cp.pair) {
                    Some(m) => {
                        if let Some(f) = fresh.iter_mut().find(|f| f.is_none()) {
                            *f = Some(m);
                        }
                        m
                    }
                    None => {
                        for m in fresh.iter().flatten() {
                            self.release(*m);
                        }
                        return Err(RtspError::NoPublicPort);
                    }
                },
            };
            if let Some(slot) = media.iter_mut().find(|m| m.is_none()) {
                *slot = Some(m);
            }
        }

        // Edits, in offset order within the message.
        let mut edits = EditList::<MESSAGE_EDITS>::new();
        for (s, d) in specs.iter().zip(strip.iter()) {
            let mut pieces: [Option<((u16, u16), TextBuf)>; 2] = [None, None];
            if let Some(cp) = s.client_port.filter(|_| !s.interleaved && !s.multicast) {
                let m = media
                    .iter()
                    .flatten()
                    .find(|m| m.inside_rtp == cp.rtp && m.pair == cp.pair);
                if let Some(m) = m {
                    pieces[0] = Some((cp.span, port_text(m.public.port(), m.pair)));
                }
            }
            if let Some(span) = d {
                pieces[1] = Some((*span, TextBuf::new()));
            }
            if let (Some(a), Some(b)) = (&pieces[0], &pieces[1]) {
                if b.0 .0 < a.0 .0 {
                    pieces.swap(0, 1);
                }
            }
            for ((s0, s1), text) in pieces.iter().flatten() {
                let text = text.as_slice().unwrap_or_default();
                let at = pos + usize::from(*s0);
                self.edit(&mut edits, at, usize::from(*s1 - *s0), text);
            }
        }
        self.push_edits(&edits);

        if media.iter().all(Option::is_none) {
            return Ok(true);
        }
        if old.is_some_and(|o| o.answered.is_some()) {
            return Ok(false);
        }
        let setup = Setup {
            cseq,
            msg_seq,
            media,
            born: self.state.born,
            answered: None,
            session: h.session,
        };
        self.state.born = self.state.born.wrapping_add(1);
        let slot = match existing {
            Some(i) => i,
            None => self.free_setup_slot(),
        };
        self.state.setups[slot] = Some(setup);
        Ok(true)
    }

    /// A free SETUP slot: an empty one, else the oldest answered one, else the oldest
    /// pending one (evicted: its ports are released, counted).
    fn free_setup_slot(&mut self) -> usize {
        if let Some(i) = self.state.setups.iter().position(Option::is_none) {
            return i;
        }
        let born = self.state.born;
        let oldest = |answered: bool| {
            self.state
                .setups
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.filter(|s| s.answered.is_some() == answered)
                        .map(|s| (i, born.wrapping_sub(s.born)))
                })
                .max_by_key(|&(_, age)| age)
                .map(|(i, _)| i)
        };
        if let Some(i) = oldest(true) {
            return i;
        }
        let i = oldest(false).unwrap_or(0);
        self.counters.fail(RtspError::TooManySetups);
        if let Some(old) = self.state.setups[i].take() {
            for m in old.media.iter().flatten() {
                self.release(*m);
            }
        }
        i
    }

    fn release(&mut self, m: Media) {
        self.out.event(RtspEvent::Release {
            public: m.public,
            pair: m.pair,
        });
    }

    fn allocate_media(&mut self, rtp: u16, pair: bool) -> Option<Media> {
        let public = (self.allocate)(SocketAddrV4::new(self.client, rtp), pair)?;
        let m = Media {
            inside_rtp: rtp,
            pair,
            public,
        };
        if let Some(a) = self.allocated.iter_mut().find(|a| a.is_none()) {
            *a = Some((public, pair));
        }
        let ok = public.port() % 2 == rtp % 2
            && public.port() >= transport::MIN_MEDIA_PORT
            && (!pair || public.port() < u16::MAX);
        if !ok {
            self.release(m);
            return None;
        }
        Some(m)
    }

    /// A response from the server: only replies to pending SETUPs are of interest (and
    /// retransmissions of replies already handled, rewritten the same way).
    pub(super) fn reply(
        &mut self,
        pos: usize,
        block: &[u8],
        h: &Head,
        code: u16,
    ) -> Result<bool, RtspError> {
        let Some(cseq) = h.cseq else { return Ok(false) };
        let msg_seq = self
            .seg
            .seq
            .wrapping_add(u32::try_from(pos).unwrap_or(u32::MAX));
        let Some(i) = self.state.setups.iter().position(|s| {
            s.is_some_and(|s| {
                s.cseq == cseq && (s.answered.is_none() || s.answered == Some(msg_seq))
            })
        }) else {
            return Ok(false);
        };
        let Some(setup) = self.state.setups[i].filter(|_| code >= 200) else {
            return Ok(false);
        };
        if setup.answered.is_some() || self.retrans {
            if code < 300 && h.defect.is_none() {
                let _ = self.untranslate(pos, block, h, &setup);
            }
            return Ok(false);
        }
        self.state.setups[i] = None;
        let release_all = |run: &mut Self| {
            for m in setup.media.iter().flatten() {
                run.release(*m);
            }
        };
        if let Some(e) = h.defect {
            release_all(self);
            return Err(e);
        }
        if code >= 300 {
            release_all(self);
            return Ok(true);
        }
        let chosen = match self.untranslate(pos, block, h, &setup) {
            Ok(c) => c,
            Err(e) => {
                release_all(self);
                return Err(e);
            }
        };
        self.state.setups[i] = Some(Setup {
            answered: Some(msg_seq),
            ..setup
        });
        // The reply's Session (RFC 2326 §12.37: the server assigns it in the first SETUP
        // reply), else the request's, else the hash of the empty id.
        let session = h
            .session
            .or(setup.session)
            .unwrap_or(message::session_hash(b""));
        for (m, c) in setup.media.iter().zip(chosen) {
            let Some(m) = m else { continue };
            if !c {
                self.release(*m);
                continue;
            }
            let ports = if m.pair { 2 } else { 1 };
            for k in 0..ports {
                let public = SocketAddrV4::new(*m.public.ip(), m.public.port() + k);
                let inside = SocketAddrV4::new(self.client, m.inside_rtp + k);
                self.out.event(RtspEvent::Expect {
                    session,
                    expectation: Expectation::inbound(Protocol::Udp, self.server, public, inside),
                });
            }
        }
        Ok(true)
    }

    /// Rewrites the `client_port`s a 2xx reply echoes back to the inside ports; returns which
    /// of the SETUP's media the reply chose (all when it echoes none).
    fn untranslate(
        &mut self,
        pos: usize,
        block: &[u8],
        h: &Head,
        setup: &Setup,
    ) -> Result<[bool; MAX_TRANSPORTS], RtspError> {
        let specs = match h.transport {
            Some((ts, te)) => Some(transport::parse(block, ts..te)?),
            None => None,
        };
        let mut chosen = [false; MAX_TRANSPORTS];
        let mut echoed = false;
        let mut mismatch = false;
        let mut edits = EditList::<MESSAGE_EDITS>::new();
        for s in specs.iter().flat_map(|t| t.iter()) {
            // The server echoes the public ports; parity was checked as for a request.
            let Some(cp) = s.client_port else { continue };
            echoed = true;
            let found = setup.media.iter().enumerate().find_map(|(k, m)| {
                m.filter(|m| m.public.port() == cp.rtp && (m.pair || !cp.pair))
                    .map(|m| (k, m))
            });
            let Some((k, m)) = found else {
                mismatch = true;
                continue;
            };
            chosen[k] = true;
            let text = port_text(m.inside_rtp, cp.pair);
            let text = text.as_slice().unwrap_or_default();
            let at = pos + usize::from(cp.span.0);
            self.edit(&mut edits, at, usize::from(cp.span.1 - cp.span.0), text);
        }
        self.push_edits(&edits);
        if mismatch {
            self.counters.fail(RtspError::ReplyMismatch);
        }
        if !echoed {
            chosen = [true; MAX_TRANSPORTS];
        }
        Ok(chosen)
    }
}

/// `rtp-rtcp` or `rtp`.
fn port_text(rtp: u16, pair: bool) -> TextBuf {
    let mut t = TextBuf::new();
    t.push_dec(rtp.into());
    if pair {
        t.push(b'-').push_dec(u32::from(rtp) + 1);
    }
    t
}
