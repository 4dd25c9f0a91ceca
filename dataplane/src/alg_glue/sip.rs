//! The SIP ALG's dataplane half (`docs/alg.md`, "SIP"): which datagrams and TCP segments reach
//! [`alg::sip::process`], where the public media ports come from, how its edits are applied,
//! and which expectations are installed and removed. The parser decides everything else
//! (checks, rewrites, calls, registrations); this file only applies its outcome.
//!
//! * **Masters**: one per (subscriber binding, peer address, peer port), in the ALG session
//!   table ([`SessionKind::Sip`]) with a [`SipSlot`] next to it (same index, checked by
//!   generation): the [`SipSession`] (calls by Call-ID, the pending and active registration)
//!   and, for TCP, one [`SipStream`] per direction.
//!   - **UDP**: the first datagram to a port of `[alg.sip]` from a subscriber, or from such a
//!     port to a subscriber's binding, creates the master; it lives as long as its binding.
//!   - **TCP**: only a subscriber's SYN to a SIP port creates one, and both directions are
//!     followed from their first byte (ISN + 1 of the SYN and SYN-ACK). A connection seen
//!     mid-stream, or one the outside opened, is never parsed; a stream whose first bytes are
//!     not SIP (`POST / HTTP/1.1`, NAT Slipstreaming) is never parsed (the parser's
//!     [`SipStream`] decides and counts `alg_sip_not_sip_stream`), and then neither is the
//!     peer's side of it.
//! * **Edits** are applied in the buffer within its tailroom and the next link's MTU, the IP
//!   total length, the UDP length and both checksums updated incrementally (RFC 1624; a zero
//!   UDP checksum stays zero). A rewrite that does not fit is not applied: the packet passes
//!   unmodified, nothing of its rewrite is kept, `alg_sip_no_room` counts it. On TCP the
//!   parser has recorded the length change in the direction's [`alg::SeqHistory`]; every
//!   segment of the connection gets SEQ/ACK/SACK corrected like RTSP's.
//! * **Split messages** (TCP): the parser's `hold` drops the segment (`drop_alg_hold`); the
//!   sender retransmits it, usually coalesced with the rest (see `alg::sip::process`: at most
//!   [`alg::sip::MAX_SPLIT_HOLDS`] holds per message, then it passes unmodified; no payload is
//!   buffered here).
//! * **Public media ports** (`allocate` callback): an RTP port already announced by this
//!   master (a retransmitted INVITE) keeps its public port; an inside RTP port with a UDP
//!   binding whose public port is even and whose RTCP port is bound to the next one keeps it
//!   (endpoint-independent mapping); otherwise an even/odd pair is reserved from the
//!   subscriber's own blocks ([`crate::nat::NatState::reserve_port_pair`], so the media is
//!   steered to this worker). Reservations are taken by the inbound expectations or given
//!   back (the parser's `released`, a rewrite not applied).
//! * **Expectations**: inbound RTP/RTCP pinholes admit only the master's peer; outbound ones
//!   relate the subscriber's media to the master. Those of a call are removed when the parser
//!   says (BYE, CANCEL, an error to the INVITE, a limit). Per subscriber, at most
//!   `alg.sip.max_expectations_per_subscriber` SIP expectations wait at once ([`SubCounts`]:
//!   the parser's `room`; beyond it a message's media open nothing, `alg_sip_call_limit`).
//!   The registration's expectation (registrar → the subscriber's public signalling endpoint)
//!   has no master (no per-master limit can evict it), lives for the Expires the registrar
//!   granted capped by `alg.sip.register_max_secs`, is not consumed by use, and goes on
//!   `expires=0` or when it times out.

mod apply;
mod subs;

use super::{tcp_header, AlgState, Expect, SessionKind, Worker, NONE};
use crate::bindings::key;
use crate::buf::PacketBuf;
use crate::counters::{DropReason, Event};
use crate::expectations::AlgKind;
use crate::nat::{Filtering, NatState};
use crate::translate::Flow;
use crate::wire::ipv4::PROTO_UDP;
use crate::wire::l4::tcp_flags;
use crate::worker::secs;
use alg::expect::Expectation;
use alg::sip::{
    self, RegisterEvent, SipOutcome, SipPacket, SipSession, SipStream, Translation, Transport,
    MAX_EDITS, MAX_MEDIA,
};
use alg::Side as AlgSide;
use apply::apply;
use core::net::{Ipv4Addr, SocketAddrV4};
use subs::SubCounts;

/// Public RTP ports one message may have reserved (one per media line).
const MAX_RESERVED: usize = MAX_MEDIA;

/// SIP state of one ALG session slot.
#[derive(Debug, Clone, Copy)]
pub(super) struct SipSlot {
    gen: u32,
    session: SipSession,
    /// TCP: [inside → outside, outside → inside]; UDP: unused.
    streams: [SipStream; 2],
}

/// SIP state per ALG session slot (same indices as the ALG session table).
#[derive(Debug)]
pub(super) struct SipSessions {
    slots: Vec<Option<SipSlot>>,
    live: u32,
    subs: SubCounts,
}

impl SipSessions {
    /// `cap` ALG session slots, an expectation table of `expectations`.
    pub(super) fn with_capacity(cap: u32, expectations: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            live: 0,
            subs: SubCounts::with_capacity(expectations),
        }
    }

    pub(super) fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<SipSlot>>() + self.subs.memory()
    }

    fn get_mut(&mut self, slot: u32, gen: u32) -> Option<&mut SipSlot> {
        self.slots
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.gen == gen)
    }

    /// A SIP expectation of subscriber `sub_ip` entered the table.
    pub(super) fn expectation_installed(&mut self, sub_ip: u32) {
        self.subs.inc(sub_ip);
    }

    /// A SIP expectation of subscriber `sub_ip` left the table.
    pub(super) fn expectation_gone(&mut self, sub_ip: u32) {
        self.subs.dec(sub_ip);
    }
}

/// Whether binding `bidx` is still the live binding of its inside endpoint (a UDP SIP
/// master lives as long as it).
pub(super) fn binding_alive(nat: &NatState, bidx: u32) -> bool {
    if bidx >= nat.bindings.capacity() {
        return false;
    }
    let b = nat.bindings.get(bidx);
    nat.bindings.find_inside(key(b.proto, b.sub_ip, b.in_port)) == Some(bidx)
}

/// A public RTP port reserved for one message: its block, and which of RTP / RTCP
/// (the next port) are still held here.
#[derive(Debug, Clone, Copy)]
struct Reserved {
    port: u16,
    lb: u32,
    rtp: bool,
    rtcp: bool,
}

fn release(nat: &mut NatState, r: Reserved, now_s: u32) {
    if r.rtp {
        nat.release_reserved(r.lb, PROTO_UDP, r.port, now_s);
    }
    if r.rtcp {
        nat.release_reserved(r.lb, PROTO_UDP, r.port.wrapping_add(1), now_s);
    }
}

/// The dataplane form of a parser expectation of master `(slot, gen)`.
fn to_expect(e: &Expectation, register: bool, (master, master_gen): (u32, u32)) -> Expect {
    let (pub_ip, pub_port) = e.public.map_or((0, 0), |p| (u32::from(*p.ip()), p.port()));
    Expect {
        alg: AlgKind::Sip { register },
        proto: e.protocol.number(),
        inbound: e.initiator == AlgSide::Outside,
        remote_ip: u32::from(e.remote_addr),
        remote_port: e.remote_port.unwrap_or(0),
        pub_ip,
        pub_port,
        sub_ip: u32::from(e.inside_addr),
        in_port: e.inside_port.unwrap_or(0),
        reserved: NONE,
        master,
        master_gen,
        expires_s: 0,
    }
}

impl<B: PacketBuf> Worker<B> {
    /// SIP masters (UDP peers and TCP connections) tracked by this worker (part of
    /// [`Self::alg_sessions`]).
    pub fn alg_sip_sessions(&self) -> u32 {
        self.alg.sip.live
    }

    /// SIP expectations subscriber `sub_ip` has waiting on this worker.
    pub fn alg_sip_expectations_of(&self, sub_ip: u32) -> u32 {
        self.alg.sip.subs.count(sub_ip)
    }

    /// Creates the SIP master of binding `bidx` with `remote_ip:remote_port`; `first_seq`:
    /// TCP, the subscriber's first sequence number (SYN + 1).
    fn sip_master(
        &mut self,
        bidx: u32,
        remote_ip: u32,
        remote_port: u16,
        first_seq: Option<u32>,
    ) -> Option<(u32, u32)> {
        let kind = SessionKind::Sip {
            tcp: first_seq.is_some(),
        };
        let Some(s) = self.alg.sessions.insert(bidx, remote_ip, remote_port, kind) else {
            self.counters.inc(Event::AlgSessionTableFull);
            return None;
        };
        let gen = self.alg.sessions.get(s).map_or(0, |a| a.gen);
        let streams = [
            first_seq.map_or_else(SipStream::unsynchronized, SipStream::new),
            SipStream::unsynchronized(),
        ];
        if let Some(r) = self.alg.sip.slots.get_mut(s as usize) {
            if r.is_none() {
                self.alg.sip.live += 1;
            }
            *r = Some(SipSlot {
                gen,
                session: SipSession::new(),
                streams,
            });
        }
        self.counters.inc(Event::AlgSipSession);
        Some((s, gen))
    }

    /// The ALG session `slot` ends: its SIP state goes (its expectations stay until used,
    /// timed out or evicted).
    pub(super) fn sip_session_gone(&mut self, slot: u32) {
        if let Some(r) = self.alg.sip.slots.get_mut(slot as usize) {
            if r.take().is_some() {
                self.alg.sip.live = self.alg.sip.live.saturating_sub(1);
            }
        }
    }

    /// Whether a first packet `f` that matches a registration's expectation needs it: the
    /// filter would not admit it on its own (no session with the registrar yet).
    pub(super) fn sip_register_needed(&self, f: &Flow) -> bool {
        let Some(bidx) = self.nat.map_inbound(f.proto, f.dst, f.dport) else {
            return true;
        };
        let rport = match self.cfg.filtering {
            Filtering::EndpointIndependent if f.proto == PROTO_UDP => return false,
            Filtering::AddressDependent if f.proto == PROTO_UDP => 0,
            _ => f.sport,
        };
        self.nat.sessions.find(bidx, f.src, rport).is_none()
    }

    /// One UDP datagram to (`outbound`) or from a SIP port, translated.
    pub(super) fn sip_datagram(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        outbound: bool,
        now: u64,
    ) {
        let (remote_ip, remote_port) = if outbound {
            (f.dst, f.dport)
        } else {
            (f.src, f.sport)
        };
        let payload_off = f.l4_off + 8;
        if payload_off >= f.end {
            return;
        }
        let found = self
            .alg
            .sessions
            .find(bidx, remote_ip, remote_port)
            .and_then(|s| self.alg.sessions.get(s).map(|a| (s, a.gen)))
            .filter(|&(s, gen)| self.alg.sip.get_mut(s, gen).is_some());
        let master = match found {
            Some(m) => m,
            None => match self.sip_master(bidx, remote_ip, remote_port, None) {
                Some(m) => m,
                None => return,
            },
        };
        // UDP never holds.
        let _ = self.sip_payload(buf, f, bidx, master, outbound, 0, payload_off, secs(now));
    }

    /// One TCP segment of a (possible) SIP connection, already translated.
    pub(super) fn sip_segment(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        outbound: bool,
        now: u64,
    ) -> Result<(), DropReason> {
        let (remote_ip, remote_port) = if outbound {
            (f.dst, f.dport)
        } else {
            (f.src, f.sport)
        };
        let Some((hl, seq, ack, flags)) = buf.data().get(f.l4_off..f.end).and_then(tcp_header)
        else {
            return Ok(());
        };
        let syn = flags & tcp_flags::SYN != 0;
        if outbound && syn && flags & tcp_flags::ACK == 0 {
            // A new connection (or a SYN again on the 4-tuple: start afresh).
            if let Some(old) = self.alg.sessions.find(bidx, remote_ip, remote_port) {
                self.drop_alg_session(old);
            }
            if self.cfg.alg.sip.selects(f.dport) {
                self.sip_master(bidx, remote_ip, remote_port, Some(seq.wrapping_add(1)));
            }
            return Ok(());
        }
        let Some(slot) = self.alg.sessions.find(bidx, remote_ip, remote_port) else {
            return Ok(());
        };
        let gen = self.alg.sessions.get(slot).map_or(0, |a| a.gen);
        let enabled = self.cfg.alg.sip.enabled;
        let Some(s) = self.alg.sip.get_mut(slot, gen) else {
            return Ok(()); // another ALG's session (ports overlapping)
        };
        let dir = usize::from(!outbound);
        let payload_off = f.l4_off + hl;
        let mut end = f.end;
        if syn {
            if !outbound {
                // RFC 9293 §3.4: the server's first data byte is its ISN + 1.
                s.streams[1] = SipStream::new(seq.wrapping_add(1));
            }
        } else if f.end > payload_off {
            if !outbound && s.streams[0].is_dead() {
                // The subscriber's side is not SIP (NAT Slipstreaming's HTTP request) or was
                // not followed: the connection is not SIP, the peer's side is not parsed
                // either.
                s.streams[1] = SipStream::unsynchronized();
            }
            if enabled {
                end = self.sip_payload(
                    buf,
                    f,
                    bidx,
                    (slot, gen),
                    outbound,
                    seq,
                    payload_off,
                    secs(now),
                )?;
            } else {
                // Switched off live: bytes pass unseen, so the stream can never be followed
                // again (re-enabling must not hold its segments as if after a hole).
                s.streams[dir] = SipStream::unsynchronized();
            }
        }
        self.rtsp_correct(buf, f, slot, outbound, hl, (seq, ack, flags), end);
        Ok(())
    }

    /// Runs the parser on the payload at `payload_off` of a master's datagram or segment,
    /// applies its edits and acts on its expectations; returns the new end of the frame.
    #[allow(clippy::too_many_arguments)]
    fn sip_payload(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        (slot, gen): (u32, u32),
        outbound: bool,
        seq: u32,
        payload_off: usize,
        now_s: u32,
    ) -> Result<usize, DropReason> {
        let b = *self.nat.bindings.get(bidx);
        let tcp = f.proto != PROTO_UDP;
        let dir = usize::from(!outbound);
        let mtu = if outbound {
            self.cfg.outside.mtu
        } else {
            self.cfg.inside.mtu
        };
        let t = Translation {
            inside: SocketAddrV4::new(Ipv4Addr::from(b.sub_ip), b.in_port),
            public: SocketAddrV4::new(Ipv4Addr::from(b.pub_ip), b.pub_port),
            peer: Ipv4Addr::from(if outbound { f.dst } else { f.src }),
        };
        let limit = u32::from(self.cfg.alg.sip_max_expectations_per_subscriber);
        let Self {
            alg, nat, counters, ..
        } = self;
        let AlgState {
            sessions,
            expect,
            scratch,
            sip,
            ..
        } = alg;
        let room = limit.saturating_sub(sip.subs.count(b.sub_ip)) as usize;
        let Some(st) = sessions.get_mut(slot) else {
            return Ok(f.end);
        };
        let (mine, n_mine) = (st.expects, usize::from(st.n_expects));
        let Some(ss) = sip.get_mut(slot, gen) else {
            return Ok(f.end);
        };
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), scratch.get_mut(..n))
        else {
            return Ok(f.end);
        };
        dst.copy_from_slice(src);
        let orig = &scratch[..n];
        let before = (
            ss.session,
            ss.streams[dir].remembered_media(),
            st.hist[dir],
            counters.alg_sip,
        );
        let mut reserved: [Option<Reserved>; MAX_RESERVED] = [None; MAX_RESERVED];
        let pkt = SipPacket {
            transport: if tcp { Transport::Tcp } else { Transport::Udp },
            sender_side: if outbound {
                AlgSide::Inside
            } else {
                AlgSide::Outside
            },
            seq,
            payload: orig,
            now: now_s,
        };
        let SipSlot {
            session, streams, ..
        } = ss;
        let out: SipOutcome<MAX_EDITS> = sip::process(
            session,
            tcp.then_some(&mut streams[dir]),
            tcp.then_some(&mut st.hist[dir]),
            pkt,
            &t,
            room,
            &mut counters.alg_sip,
            |m| {
                let conn = m.conn.map_or(0, u32::from);
                // A port this master already announced (a retransmitted offer) keeps its
                // public port, so the retransmission is rewritten identically.
                let announced = mine[..n_mine].iter().find_map(|&xi| {
                    expect.get(xi).filter(|x| {
                        x.alg == (AlgKind::Sip { register: false })
                            && x.inbound
                            && x.sub_ip == conn
                            && x.in_port == m.port
                            && x.pub_ip == b.pub_ip
                            && x.pub_port % 2 == 0
                    })
                });
                if let Some(x) = announced {
                    return Some(x.pub_port);
                }
                // Endpoint-independent mapping: a port already bound keeps its public port.
                let bound = |port: u16| {
                    nat.bindings
                        .find_inside(key(PROTO_UDP, conn, port))
                        .map(|i| *nat.bindings.get(i))
                };
                if let Some(e) = bound(m.port) {
                    let rtcp_ok = m.port < u16::MAX
                        && bound(m.port + 1).is_some_and(|c| {
                            c.pub_ip == e.pub_ip
                                && u32::from(c.pub_port) == u32::from(e.pub_port) + 1
                        });
                    return (e.pub_port % 2 == 0 && e.pub_ip == b.pub_ip && rtcp_ok)
                        .then_some(e.pub_port);
                }
                let free = reserved.iter_mut().find(|r| r.is_none())?;
                let (ip, port, lb) = nat.reserve_port_pair(bidx, PROTO_UDP, true, now_s)?;
                let r = Reserved {
                    port,
                    lb,
                    rtp: true,
                    rtcp: true,
                };
                if ip != b.pub_ip {
                    // The SDP names one public address: the master's.
                    release(nat, r, now_s);
                    return None;
                }
                *free = Some(r);
                Some(port)
            },
        );
        for p in out.released() {
            if let Some(r) = reserved
                .iter_mut()
                .find(|r| r.is_some_and(|r| r.port == *p))
                .and_then(Option::take)
            {
                release(nat, r, now_s);
            }
        }
        if out.hold {
            return Err(DropReason::AlgHold);
        }
        let mut end = f.end;
        if !out.edits.is_empty() {
            match apply(buf, f, payload_off, orig, &out.edits, mtu, !tcp) {
                Some(e) => end = e,
                None => {
                    // Nothing of this rewrite is kept; the packet passes unmodified (the
                    // stream keeps its framing: those bytes did pass).
                    ss.session = before.0;
                    ss.streams[dir].restore_media(before.1);
                    st.hist[dir] = before.2;
                    counters.alg_sip.rewrites = before.3.rewrites;
                    counters.alg_sip.expectations = before.3.expectations;
                    for r in reserved.iter_mut().filter_map(Option::take) {
                        release(nat, r, now_s);
                    }
                    counters.inc(Event::AlgSipNoRoom);
                    return Ok(f.end);
                }
            }
        }
        for e in out.remove() {
            let x = to_expect(e, false, (slot, gen));
            if let Some(xi) = self.alg.expect.find_same(&x) {
                self.expectation_gone(xi, super::Gone::Evicted, now_s);
            }
        }
        for e in out.install() {
            let mut x = to_expect(e, false, (slot, gen));
            if x.inbound {
                for r in reserved.iter_mut().flatten() {
                    if r.rtp && r.port == x.pub_port {
                        r.rtp = false;
                        x.reserved = r.lb;
                    } else if r.rtcp && u32::from(r.port) + 1 == u32::from(x.pub_port) {
                        r.rtcp = false;
                        x.reserved = r.lb;
                    }
                }
            }
            self.install_expectation(x, now_s);
        }
        match out.register {
            Some(RegisterEvent::Install {
                expectation,
                expires_at,
            }) => {
                let x = to_expect(&expectation, true, (NONE, 0));
                self.install_expectation(x, now_s);
                let cap = now_s.saturating_add(self.cfg.alg.sip_register_max_secs);
                let at = if alg::seq::seq_lt(expires_at, cap) {
                    expires_at
                } else {
                    cap
                };
                if let Some(xi) = self.alg.expect.find_same(&x) {
                    self.alg.expect.refresh(xi, at);
                }
            }
            Some(RegisterEvent::Remove(e)) => {
                let x = to_expect(&e, true, (NONE, 0));
                if let Some(xi) = self.alg.expect.find_same(&x) {
                    self.expectation_gone(xi, super::Gone::Evicted, now_s);
                }
            }
            None => {}
        }
        // Reservations no expectation took (an expectation refused by a limit).
        for r in reserved.iter().flatten() {
            release(&mut self.nat, *r, now_s);
        }
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sip_slot_size_is_known() {
        // About 2.3 KB today: 4096 slots (the default table) cost ~9.3 MB per worker
        // (docs/alg.md, "SIP in the dataplane"); this catches a state that grows unnoticed.
        let n = std::mem::size_of::<Option<SipSlot>>();
        assert!(n <= 4096, "{n} bytes");
    }
}
