//! The H.323 ALG's dataplane half (`docs/alg.md`, "H.323"): which TCP sessions and UDP
//! datagrams reach the `alg::h323` parser, where the public endpoints of announced addresses
//! come from, how the same-length rewrites are applied, and which expectations are installed.
//!
//! * **Selection**: a subscriber's SYN to a TCP port of `alg.h323.ports` gets a call
//!   signalling session (like FTP's control session); a TCP connection admitted by an H.323
//!   expectation gets its own session with the channel the expectation names (H.245 for an
//!   `h245Address`, call signalling for a RAS `callSignalAddress`), so OpenLogicalChannel(Ack)
//!   in it are processed. RAS is per datagram, to or from a UDP port of `alg.h323.ras_ports`.
//! * **TPKT tracking**: each direction's [`TpktTracker`] is synchronized at its SYN (initial
//!   sequence number + 1); a session picked up mid-stream is never parsed.
//! * **Public endpoints** (`public` callback of [`alg::h323::process_segment`]): an inside
//!   endpoint that already has a binding of the right protocol is announced as that binding's
//!   public endpoint (endpoint-independent mapping); otherwise a port is reserved from the
//!   subscriber's own blocks (so inbound children are steered to this worker, as FTP's data
//!   port), and the binding is created only when the expected host arrives. A
//!   `sourceCallSignalAddress`/`srcCallSignalAddress` (no expectation) with no binding is
//!   announced as the master's own public endpoint: nothing is reserved for it. RTP ports are
//!   not kept even on the public side: H.245 signals RTCP explicitly.
//! * **Edits** are 6-byte overwrites of the same length: applied in place, no sequence
//!   correction, the TCP/UDP checksum updated incrementally (RFC 1624) from the sum of the
//!   payload from the first edit on (a zero UDP checksum stays zero).
//! * **Expectations**: inbound ones (the peer opens the H.245 connection, sends RTP/RTCP to
//!   an announced address) admit only the master's peer; outbound ones (the peer announced
//!   its own address) relate the subscriber's coming flow to the master and, for H.245, give
//!   that connection its ALG session. An H.323 master may hold up to
//!   [`MAX_EXPECTATIONS_PER_SESSION`](super::MAX_EXPECTATIONS_PER_SESSION) expectations (a Setup with fastStart announces three).

use super::{be16, put16, tcp_header, AlgState, Expect, SessionKind, Worker, NONE};
use crate::bindings::key;
use crate::buf::PacketBuf;
use crate::checksum;
use crate::counters::Event;
use crate::expectations::AlgKind;
use crate::nat::NatState;
use crate::translate::Flow;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::l4::tcp_flags;
use crate::worker::secs;
use alg::expect::Protocol;
use alg::h323::{
    self, AddrKind, H323Address, H323Channel, H323Outcome, H323Segment, MAX_ADDRESSES,
};
use alg::Side as AlgSide;
use core::net::{Ipv4Addr, SocketAddrV4};

/// Edits one H.323 message (segment, datagram) may produce: one per address it can carry.
const H323_EDITS: usize = MAX_ADDRESSES;

/// Public ports reserved while one segment is processed: (protocol, public endpoint, block).
type Reserved = [Option<(u8, SocketAddrV4, u32)>; H323_EDITS];

/// The IP protocol of the flow an announced address stands for.
fn addr_proto(kind: AddrKind) -> u8 {
    match kind {
        AddrKind::H245Address | AddrKind::CallSignalAddress | AddrKind::SourceCallSignalAddress => {
            PROTO_TCP
        }
        AddrKind::MediaChannel | AddrKind::MediaControlChannel | AddrKind::RasAddress => PROTO_UDP,
    }
}

/// The public endpoint announced for inside address `a` of a message on master binding
/// `bidx` (see the module documentation).
fn public_for(
    nat: &mut NatState,
    bidx: u32,
    a: &H323Address,
    reserved: &mut Reserved,
    now_s: u32,
) -> Option<SocketAddrV4> {
    let proto = addr_proto(a.kind);
    let inside = key(proto, u32::from(*a.endpoint.ip()), a.endpoint.port());
    if let Some(i) = nat.bindings.find_inside(inside) {
        let e = nat.bindings.get(i);
        return Some(SocketAddrV4::new(Ipv4Addr::from(e.pub_ip), e.pub_port));
    }
    if a.kind == AddrKind::SourceCallSignalAddress {
        let m = nat.bindings.get(bidx);
        return Some(SocketAddrV4::new(Ipv4Addr::from(m.pub_ip), m.pub_port));
    }
    let slot = reserved.iter_mut().find(|r| r.is_none())?;
    let (ip, port, lb) = nat.reserve_port(bidx, proto, now_s)?;
    let sa = SocketAddrV4::new(Ipv4Addr::from(ip), port);
    *slot = Some((proto, sa, lb));
    Some(sa)
}

/// Writes the (same-length) edits of `out` over the payload at `payload_off..end` of `d` and
/// updates the L4 checksum at `csum_at`; `orig` is the payload before. `udp`: a zero checksum
/// stays zero, a computed zero is sent as 0xffff.
fn apply_in_place<const N: usize>(
    d: &mut [u8],
    payload_off: usize,
    end: usize,
    orig: &[u8],
    out: &H323Outcome<N>,
    csum_at: usize,
    udp: bool,
) -> bool {
    if out.edits.is_empty() || out.edits.total_delta() != 0 {
        return false;
    }
    let Some(payload) = d.get_mut(payload_off..end) else {
        return false;
    };
    if alg::apply_edits(orig, out.edits.iter(), payload).is_err() {
        payload.copy_from_slice(orig);
        return false;
    }
    let first = out.edits.iter().next().map_or(0, |e| e.offset()) & !1;
    let old_sum = checksum::sum(&orig[first..], 0);
    let new_sum = checksum::sum(&payload[first..], 0);
    let (old, new) = (
        u16::try_from(old_sum).unwrap_or(0xffff),
        u16::try_from(new_sum).unwrap_or(0xffff),
    );
    let c = be16(d, csum_at);
    let c = if udp {
        checksum::udp_update16(c, old, new)
    } else {
        checksum::update16(c, old, new)
    };
    put16(d, csum_at, c);
    true
}

impl<B: PacketBuf> Worker<B> {
    /// Gives the TCP connection of binding `bidx` with `remote_ip:remote_port` an H.323 ALG
    /// session on `channel` (an expectation admitted it).
    pub(super) fn h323_child(
        &mut self,
        bidx: u32,
        remote_ip: u32,
        remote_port: u16,
        channel: H323Channel,
    ) {
        if let Some(old) = self.alg.sessions.find(bidx, remote_ip, remote_port) {
            self.drop_alg_session(old);
        }
        let kind = SessionKind::H323 {
            channel,
            child: true,
        };
        if self
            .alg
            .sessions
            .insert(bidx, remote_ip, remote_port, kind)
            .is_some()
        {
            self.counters.inc(Event::AlgH323Session);
        } else {
            self.counters.inc(Event::AlgSessionTableFull);
        }
    }

    /// One TCP segment of a (possible) H.323 call signalling or H.245 session, translated.
    pub(super) fn h323_segment(
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
        let Some((hl, seq, _, flags)) = buf.data().get(f.l4_off..f.end).and_then(tcp_header) else {
            return;
        };
        let syn = flags & tcp_flags::SYN != 0;
        let found = self.alg.sessions.find(bidx, remote_ip, remote_port);
        // A child admitted by an expectation keeps its channel even if the port it was
        // announced on happens to be a call signalling port.
        let child = found
            .and_then(|i| self.alg.sessions.get(i))
            .is_some_and(|s| matches!(s.kind, SessionKind::H323 { child: true, .. }));
        if outbound
            && syn
            && flags & tcp_flags::ACK == 0
            && self.cfg.alg.h323.has(f.dport)
            && !child
        {
            // A new call signalling connection (or a SYN retransmission: start afresh).
            if let Some(old) = found {
                self.drop_alg_session(old);
            }
            if !self.cfg.alg.h323.selects(f.dport) {
                return;
            }
            let kind = SessionKind::H323 {
                channel: H323Channel::CallSignalling,
                child: false,
            };
            let Some(s) = self.alg.sessions.insert(bidx, remote_ip, remote_port, kind) else {
                self.counters.inc(Event::AlgSessionTableFull);
                return;
            };
            if let Some(st) = self.alg.sessions.get_mut(s) {
                st.tpkt[0].synchronize(seq.wrapping_add(1));
            }
            self.counters.inc(Event::AlgH323Session);
            return;
        }
        let Some(slot) = found else {
            return;
        };
        let Some(SessionKind::H323 { channel, .. }) = self.alg.sessions.get(slot).map(|s| s.kind)
        else {
            return;
        };
        let dir = usize::from(!outbound);
        if syn {
            if let Some(st) = self.alg.sessions.get_mut(slot) {
                st.tpkt[dir].synchronize(seq.wrapping_add(1));
            }
            return;
        }
        let payload_off = f.l4_off + hl;
        if payload_off >= f.end || !self.cfg.alg.h323.enabled {
            return;
        }
        let now_s = secs(now);
        let b = *self.nat.bindings.get(bidx);
        let Self {
            alg, nat, counters, ..
        } = self;
        let AlgState {
            sessions, scratch, ..
        } = alg;
        let Some(st) = sessions.get_mut(slot) else {
            return;
        };
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), scratch.get_mut(..n))
        else {
            return;
        };
        dst.copy_from_slice(src);
        let orig = &scratch[..n];
        let (side, peer) = if outbound {
            (AlgSide::Inside, f.dst)
        } else {
            (AlgSide::Outside, b.sub_ip)
        };
        let seg = H323Segment {
            channel,
            sender_side: side,
            seq,
            src: Ipv4Addr::from(f.src),
            peer: Ipv4Addr::from(peer),
            payload: orig,
        };
        let mut reserved: Reserved = [None; H323_EDITS];
        let out: H323Outcome<H323_EDITS> =
            h323::process_segment(&mut st.tpkt[dir], seg, &mut counters.alg_h323, |a| {
                public_for(nat, bidx, a, &mut reserved, now_s)
            });
        let gen = st.gen;
        apply_in_place(
            buf.data_mut(),
            payload_off,
            f.end,
            orig,
            &out,
            f.l4_off + 16,
            false,
        );
        self.h323_expectations(&out, &mut reserved, (slot, gen), H323Channel::H245, now_s);
    }

    /// One RAS datagram to (`outbound`) or from a RAS port, translated.
    pub(super) fn h323_ras(&mut self, buf: &mut B, f: &Flow, bidx: u32, outbound: bool, now: u64) {
        let payload_off = f.l4_off + 8;
        if payload_off >= f.end {
            return;
        }
        let now_s = secs(now);
        let b = *self.nat.bindings.get(bidx);
        let Self {
            alg, nat, counters, ..
        } = self;
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), alg.scratch.get_mut(..n))
        else {
            return;
        };
        dst.copy_from_slice(src);
        let orig = &alg.scratch[..n];
        let (side, peer) = if outbound {
            (AlgSide::Inside, f.dst)
        } else {
            (AlgSide::Outside, b.sub_ip)
        };
        let mut reserved: Reserved = [None; H323_EDITS];
        let out: H323Outcome<H323_EDITS> = h323::process_ras(
            orig,
            side,
            Ipv4Addr::from(f.src),
            Ipv4Addr::from(peer),
            &mut counters.alg_h323,
            |a| public_for(nat, bidx, a, &mut reserved, now_s),
        );
        apply_in_place(
            buf.data_mut(),
            payload_off,
            f.end,
            orig,
            &out,
            f.l4_off + 6,
            true,
        );
        self.h323_expectations(
            &out,
            &mut reserved,
            (NONE, 0),
            H323Channel::CallSignalling,
            now_s,
        );
    }

    /// Installs the expectations of `out` for master `(slot, gen)` ([`NONE`]: RAS); a TCP
    /// child gets ALG channel `tcp_child`. Inbound ones take the reservation made for their
    /// public endpoint; reservations no expectation took are given back.
    fn h323_expectations<const N: usize>(
        &mut self,
        out: &H323Outcome<N>,
        reserved: &mut Reserved,
        (master, master_gen): (u32, u32),
        tcp_child: H323Channel,
        now_s: u32,
    ) {
        for e in out.expectations() {
            let proto = e.protocol.number();
            let alg = AlgKind::H323(match e.protocol {
                Protocol::Tcp => Some(tcp_child),
                _ => None,
            });
            let x = match (e.initiator, e.public) {
                (AlgSide::Outside, Some(p)) => {
                    let lb = reserved
                        .iter_mut()
                        .find(|r| r.is_some_and(|(q, s, _)| q == proto && s == p))
                        .and_then(Option::take)
                        .map_or(NONE, |(_, _, lb)| lb);
                    Expect {
                        alg,
                        proto,
                        inbound: true,
                        remote_ip: u32::from(e.remote_addr),
                        remote_port: 0,
                        pub_ip: u32::from(*p.ip()),
                        pub_port: p.port(),
                        sub_ip: u32::from(e.inside_addr),
                        in_port: e.inside_port.unwrap_or(0),
                        reserved: lb,
                        master,
                        master_gen,
                        expires_s: 0,
                    }
                }
                (AlgSide::Inside, _) => Expect {
                    alg,
                    proto,
                    inbound: false,
                    remote_ip: u32::from(e.remote_addr),
                    remote_port: e.remote_port.unwrap_or(0),
                    pub_ip: 0,
                    pub_port: 0,
                    sub_ip: u32::from(e.inside_addr),
                    in_port: 0,
                    reserved: NONE,
                    master,
                    master_gen,
                    expires_s: 0,
                },
                _ => continue,
            };
            self.install_expectation(x, now_s);
        }
        for (proto, s, lb) in reserved.iter().flatten() {
            self.nat.release_reserved(*lb, *proto, s.port(), now_s);
        }
    }
}
