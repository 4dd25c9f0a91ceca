//! Translation proper: outbound and inbound NAT44 with sessions and filtering, TCP state,
//! hairpinning, fragments, ICMP error translation and no-translate pass-through.
//!
//! Requirements implemented here (REFERENCE.md): RFC 4787 REQ-1 (EIM), REQ-6 (outbound
//! refresh), REQ-8 (filtering), REQ-9 (hairpinning), REQ-12 (ICMP never ends a mapping), REQ-14
//! (out-of-order fragments); RFC 5382 REQ-1..4, 8..10; RFC 5508 REQ-1, 3..7; RFC 6888 REQ-6.
//! Every rewrite is in place with RFC 1624 incremental checksum updates.

use crate::buf::{BufAlloc, PacketBuf};
use crate::checksum;
use crate::counters::{DropReason, Event};
use crate::events::WorkerEvent;
use crate::fragments::{translate_fragment_addr, FragInfo, FragKey, NonFirst};
use crate::icmp_error::{self, IcmpErrorDrop, Rewrite};
use crate::nat::Filtering;
use crate::session::tcp as tcpf;
use crate::syn_hold::SynKey;
use crate::timeouts;
use crate::wire::icmp;
use crate::wire::ipv4::{self, PROTO_GRE, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::l4::{tcp_flags, Segment};
use crate::worker::{frag_drop, secs, wire_drop, FragValue, Ip, Side, Tx, Worker, ETH};

/// L4 identity of a packet being translated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    pub proto: u8,
    pub src: u32,
    pub dst: u32,
    /// Source port, or the ICMP echo identifier.
    pub sport: u16,
    /// Destination port, or the ICMP echo identifier.
    pub dport: u16,
    pub tcp_flags: u8,
    pub l4_off: usize,
    pub end: usize,
}

impl Flow {
    fn is_syn(&self) -> bool {
        self.proto == PROTO_TCP && self.tcp_flags & tcp_flags::SYN != 0
    }
    fn is_bare_syn(&self) -> bool {
        self.is_syn() && self.tcp_flags & tcp_flags::ACK == 0
    }
}

/// Rewrites one address (in the pseudo-header) and one port/identifier of a TCP, UDP or ICMP
/// echo header, updating its checksum incrementally (RFC 1624). `source`: the source port is
/// rewritten, else the destination port. The header was validated by [`Worker::flow`].
fn rewrite_l4(
    l4: &mut [u8],
    proto: u8,
    old_ip: u32,
    new_ip: u32,
    source: bool,
    old_port: u16,
    new_port: u16,
) {
    match proto {
        PROTO_TCP | PROTO_UDP => {
            let Ok(mut s) = Segment::new_checked_first_fragment(l4, proto) else {
                return;
            };
            let c = s.checksum();
            let c = if s.is_udp() {
                checksum::udp_update16(
                    checksum::udp_update32(c, old_ip, new_ip),
                    old_port,
                    new_port,
                )
            } else {
                checksum::update16(checksum::update32(c, old_ip, new_ip), old_port, new_port)
            };
            if source {
                s.set_src_port(new_port);
            } else {
                s.set_dst_port(new_port);
            }
            s.set_checksum(c);
        }
        _ => {
            if let Ok(mut m) = icmp::Message::new_checked(l4) {
                m.set_ident(new_port);
            }
        }
    }
}

impl<B: PacketBuf> Worker<B> {
    /// Reads the transport identity of a (first-fragment or whole) datagram.
    pub(crate) fn flow(&self, side: Side, buf: &B, ip: &Ip) -> Result<Flow, DropReason> {
        let l4_off = ETH + ip.hl;
        let l4 = &buf.data()[l4_off..ip.end];
        let (sport, dport, tcp_flags) = match ip.proto {
            PROTO_TCP | PROTO_UDP => {
                let s = if ip.is_first_fragment() {
                    Segment::new_checked_first_fragment(l4, ip.proto)
                        .map_err(|_| DropReason::FragmentTiny)?
                } else {
                    Segment::new_checked(l4, ip.proto).map_err(wire_drop)?
                };
                (s.src_port(), s.dst_port(), s.tcp_flags())
            }
            PROTO_ICMP => {
                let m = icmp::Message::new_checked(l4).map_err(|e| {
                    if ip.is_first_fragment() {
                        DropReason::FragmentTiny
                    } else {
                        wire_drop(e)
                    }
                })?;
                let wanted = match side {
                    Side::Inside => icmp::ECHO_REQUEST,
                    Side::Outside => icmp::ECHO_REPLY,
                };
                if m.msg_type() != wanted || m.code() != 0 {
                    return Err(DropReason::IcmpUnsupportedType);
                }
                (m.ident(), m.ident(), 0)
            }
            // PPTP's enhanced GRE (checked by `gre_check`): the Call ID is its "port".
            PROTO_GRE => {
                let c = l4.get(6..8).ok_or(DropReason::L4Truncated)?;
                let call_id = u16::from_be_bytes([c[0], c[1]]);
                (call_id, call_id, 0)
            }
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        Ok(Flow {
            proto: ip.proto,
            src: ip.src,
            dst: ip.dst,
            sport,
            dport,
            tcp_flags,
            l4_off,
            end: ip.end,
        })
    }

    /// The class of a binding for `f` (TCP bindings live by their sessions; the transitory
    /// timeout is their floor).
    fn binding_class(&self, f: &Flow, remote_port: u16) -> u8 {
        match f.proto {
            PROTO_TCP => timeouts::TCP_TRANSITORY,
            p => self.cfg.timeouts.class_for(p, remote_port, false),
        }
    }

    fn session_class(&self, proto: u8, remote_port: u16, tcp: u8) -> u8 {
        self.cfg.timeouts.class_for(
            proto,
            remote_port,
            proto != PROTO_TCP || tcpf::established(tcp),
        )
    }

    /// The remote port a session is keyed by under the configured filtering.
    fn session_port(&self, proto: u8, remote_port: u16) -> u16 {
        match (proto, self.cfg.filtering) {
            (PROTO_TCP, _) => remote_port,
            (PROTO_ICMP, _) => 0,
            (_, Filtering::AddressAndPortDependent) => remote_port,
            _ => 0,
        }
    }

    fn needs_sessions(&self, proto: u8) -> bool {
        proto == PROTO_TCP || self.cfg.filtering != Filtering::EndpointIndependent
    }

    /// Updates (or opens) the session of binding `b` with `remote` for an outbound packet.
    fn outbound_session(&mut self, b: u32, f: &Flow, now_s: u32) -> Result<(), DropReason> {
        if !self.needs_sessions(f.proto) {
            return Ok(());
        }
        let rport = self.session_port(f.proto, f.dport);
        let mut bits = 0;
        if f.proto == PROTO_TCP {
            if f.tcp_flags & tcp_flags::SYN != 0 {
                bits |= tcpf::SYN_OUT;
            }
            if f.tcp_flags & tcp_flags::FIN != 0 {
                bits |= tcpf::FIN_OUT;
            }
            if f.tcp_flags & tcp_flags::RST != 0 {
                bits |= tcpf::RST;
            }
        }
        match self.nat.sessions.find(b, f.dst, rport) {
            Some(s) => {
                let st = self.nat.sessions.get_mut(s);
                if bits & tcpf::SYN_OUT != 0
                    && st.tcp & (tcpf::FIN_OUT | tcpf::FIN_IN | tcpf::RST) != 0
                {
                    // A new connection reusing the 4-tuple after the old one closed.
                    st.tcp = 0;
                }
                st.tcp |= bits;
                let t = st.tcp;
                let class = self.session_class(f.proto, f.dport, t);
                self.nat.sessions.touch(s, class, now_s);
            }
            None => {
                // A TCP connection picked up mid-stream (e.g. after a restart) is taken as
                // established rather than reset.
                let t = if f.proto == PROTO_TCP
                    && bits & (tcpf::SYN_OUT | tcpf::FIN_OUT | tcpf::RST) == 0
                {
                    tcpf::SYN_OUT | tcpf::SYN_IN
                } else {
                    bits
                };
                let class = self.session_class(f.proto, f.dport, t);
                self.nat.open_session(b, f.dst, rport, t, class, now_s)?;
                self.counters.inc(Event::SessionCreated);
            }
        }
        if f.proto == PROTO_TCP && self.cfg.filtering == Filtering::AddressDependent {
            // The address permit that lets new inbound connections from this host in.
            let class = timeouts::TCP_TRANSITORY;
            match self.nat.sessions.find(b, f.dst, 0) {
                Some(p) => self.nat.sessions.touch(p, class, now_s),
                None => {
                    self.nat
                        .open_session(b, f.dst, 0, tcpf::PERMIT, class, now_s)?;
                }
            }
        }
        Ok(())
    }

    /// Filtering and session update for an inbound packet to binding `b` from `f.src:f.sport`.
    /// `Ok(false)`: an unsolicited SYN that should be held (RFC 5382 REQ-4).
    fn inbound_session(&mut self, b: u32, f: &Flow, now_s: u32) -> Result<bool, DropReason> {
        let filtering = self.cfg.filtering;
        if f.proto != PROTO_TCP {
            if filtering == Filtering::EndpointIndependent {
                return Ok(true);
            }
            let rport = self.session_port(f.proto, f.sport);
            let s = self
                .nat
                .sessions
                .find(b, f.src, rport)
                .ok_or(DropReason::Filtered)?;
            let class = self.session_class(f.proto, f.sport, 0);
            self.nat.sessions.touch(s, class, now_s);
            return Ok(true);
        }
        let mut bits = 0;
        if f.tcp_flags & tcp_flags::SYN != 0 {
            bits |= tcpf::SYN_IN;
        }
        if f.tcp_flags & tcp_flags::FIN != 0 {
            bits |= tcpf::FIN_IN;
        }
        if f.tcp_flags & tcp_flags::RST != 0 {
            bits |= tcpf::RST;
        }
        if let Some(s) = self.nat.sessions.find(b, f.src, f.sport) {
            let st = self.nat.sessions.get_mut(s);
            st.tcp |= bits;
            let t = st.tcp;
            // The remote port is the service port for inbound-opened sessions and the
            // destination of outbound ones: use the session's remote port for overrides.
            let class = self.session_class(PROTO_TCP, f.sport, t);
            self.nat.sessions.touch(s, class, now_s);
            return Ok(true);
        }
        if !f.is_bare_syn() {
            return Err(DropReason::TcpNoSession);
        }
        let permitted = match filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => self.nat.sessions.find(b, f.src, 0).is_some(),
            Filtering::AddressAndPortDependent => false,
        };
        if !permitted {
            return Ok(false);
        }
        let class = timeouts::TCP_TRANSITORY;
        self.nat
            .open_session(b, f.src, f.sport, tcpf::SYN_IN, class, now_s)?;
        self.counters.inc(Event::SessionCreated);
        Ok(true)
    }

    /// Holds an unsolicited inbound SYN (RFC 5382 REQ-4); the caller drops the buffer.
    fn hold_syn(&mut self, buf: &B, f: &Flow, now: u64) -> DropReason {
        let k = SynKey {
            pub_ip: f.dst,
            pub_port: f.dport,
            remote_ip: f.src,
            remote_port: f.sport,
        };
        if self.syn_hold.hold(k, &buf.data()[ETH..f.end], secs(now)) {
            self.counters.inc(Event::SynHeld);
            DropReason::SynUnsolicited
        } else {
            DropReason::SynHoldFull
        }
    }

    /// Inside → outside.
    pub(crate) fn nat_out(
        &mut self,
        mut buf: B,
        ip: &Ip,
        f: Flow,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        let class = self.binding_class(&f, f.dport);
        self.alg_claim_reserved(&f, class, now);
        let m = match self.nat.map_outbound(f.proto, f.src, f.sport, now_s, class) {
            Ok(m) => m,
            Err(r) => {
                // RFC 5508 REQ-8 / RFC 6888 REQ-11: drop, ICMP 3/13 (rate limited), count,
                // notify (rate-limited event); existing mappings are untouched.
                let ev = match r {
                    DropReason::PortExhausted => Some(WorkerEvent::PortsExhausted {
                        subscriber: f.src,
                        at_s: now_s,
                    }),
                    DropReason::PoolExhausted => Some(WorkerEvent::AddressesExhausted {
                        subscriber: f.src,
                        at_s: now_s,
                    }),
                    DropReason::SessionLimit => Some(WorkerEvent::QuotaExceeded {
                        subscriber: f.src,
                        at_s: now_s,
                    }),
                    _ => None,
                };
                if let Some(ev) = ev {
                    self.nat.events.push(ev);
                }
                self.send_icmp_error(
                    Side::Inside,
                    &buf,
                    ip,
                    icmp::DEST_UNREACHABLE,
                    13,
                    None,
                    now,
                    tx,
                    alloc,
                );
                return Err(r);
            }
        };
        if m.created {
            self.counters.inc(Event::BindingCreated);
        }
        if m.new_subscriber {
            self.counters.inc(Event::SubscriberCreated);
        }
        if m.new_block {
            self.counters.inc(Event::BlockAllocated);
        }
        if let Err(r) = self.outbound_session(m.idx, &f, now_s) {
            if m.created && self.nat.bindings.get(m.idx).sessions == 0 {
                self.nat.remove_binding(m.idx, now_s);
            }
            self.send_icmp_error(
                Side::Inside,
                &buf,
                ip,
                icmp::DEST_UNREACHABLE,
                13,
                None,
                now,
                tx,
                alloc,
            );
            return Err(r);
        }
        self.nat.bindings.touch(m.idx, class, now_s);
        if m.created {
            self.nat.log_binding_created(m.idx, (f.dst, f.dport), now_s);
        }
        let b = *self.nat.bindings.get(m.idx);
        if f.is_bare_syn() {
            let k = SynKey {
                pub_ip: b.pub_ip,
                pub_port: b.pub_port,
                remote_ip: f.dst,
                remote_port: f.dport,
            };
            if self.syn_hold.supersede(&k) {
                self.counters.inc(Event::SynHoldSimultaneousOpen);
            }
        }
        let d = buf.data_mut();
        {
            let mut p = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
            p.set_src(b.pub_ip);
            p.decrement_ttl();
        }
        rewrite_l4(
            &mut d[f.l4_off..f.end],
            f.proto,
            f.src,
            b.pub_ip,
            true,
            f.sport,
            b.pub_port,
        );
        self.clamp_mss(&mut buf, &f);
        self.counters.inc(Event::NatOut);
        let hairpin = self.nat.is_pool_address(f.dst);
        if !hairpin && !ip.is_fragment() {
            self.alg_outbound(&mut buf, &f, m.idx, now)?;
        }
        if hairpin {
            // Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8, RFC 5508 REQ-7): the packet now
            // comes from the public endpoint and goes back in as if it arrived outside.
            let f2 = Flow {
                src: b.pub_ip,
                sport: b.pub_port,
                ..f
            };
            if self.cfg.n_workers > 1 {
                if let Some(owner) = self
                    .port_owner(f.dport)
                    .filter(|&o| o != self.cfg.worker_id)
                {
                    // The destination binding lives on another worker: it does the inbound
                    // half (ARCHITECTURE.md, steering).
                    if ip.is_fragment() {
                        return Err(DropReason::HandoffHairpinFragment);
                    }
                    self.hand_off_hairpin(owner, buf);
                    return Ok(());
                }
            }
            // Only a first fragment needs the destination subscriber (for its later
            // fragments); everything else is looked up once, by nat_in.
            let to = if ip.is_first_fragment() {
                self.nat
                    .map_inbound(f.proto, f.dst, f.dport)
                    .map(|i| self.nat.bindings.get(i).sub_ip)
            } else {
                None
            };
            self.nat_in(buf, ip, f2, now, tx, alloc, true)
                .map_err(|r| match r {
                    DropReason::NoBinding
                    | DropReason::Filtered
                    | DropReason::TcpNoSession
                    | DropReason::SynUnsolicited => DropReason::Hairpin,
                    r => r,
                })?;
            self.counters.inc(Event::Hairpinned);
            if let (true, Some(sub)) = (ip.is_first_fragment(), to) {
                self.record_first_fragment(ip, (b.pub_ip, sub), now, tx, alloc)?;
            }
            return Ok(());
        }
        if ip.is_first_fragment() {
            self.record_first_fragment(ip, (b.pub_ip, 0), now, tx, alloc)?;
        }
        let nh = self.next_hop(Side::Outside, f.dst)?;
        self.emit(Side::Outside, buf, nh, now, tx, alloc);
        Ok(())
    }

    /// Outside → inside (`hairpin`: the packet was already translated outbound and its TTL
    /// decremented).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn nat_in(
        &mut self,
        mut buf: B,
        ip: &Ip,
        f: Flow,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
        hairpin: bool,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        if !hairpin && !ip.is_fragment() {
            self.alg_expected(&f, now)?;
        }
        let Some(idx) = self.nat.map_inbound(f.proto, f.dst, f.dport) else {
            if f.is_bare_syn() && !hairpin {
                return Err(self.hold_syn(&buf, &f, now));
            }
            return Err(DropReason::NoBinding);
        };
        if !self.inbound_session(idx, &f, now_s)? {
            if hairpin {
                return Err(DropReason::Filtered);
            }
            return Err(self.hold_syn(&buf, &f, now));
        }
        let b = *self.nat.bindings.get(idx);
        let class = self.nat.bindings.class(idx);
        self.nat.bindings.touch(idx, class, now_s);
        let d = buf.data_mut();
        {
            let mut p = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
            p.set_dst(b.sub_ip);
            if !hairpin {
                p.decrement_ttl();
            }
        }
        rewrite_l4(
            &mut d[f.l4_off..f.end],
            f.proto,
            f.dst,
            b.sub_ip,
            false,
            f.dport,
            b.in_port,
        );
        if !hairpin {
            self.clamp_mss(&mut buf, &f);
            if !ip.is_fragment() {
                self.alg_inbound(&mut buf, &f, idx, now)?;
            }
            self.counters.inc(Event::NatIn);
            if ip.is_first_fragment() {
                self.record_first_fragment(ip, (0, b.sub_ip), now, tx, alloc)?;
            }
        }
        let nh = self.next_hop(Side::Inside, b.sub_ip)?;
        self.emit(Side::Inside, buf, nh, now, tx, alloc);
        Ok(())
    }

    fn clamp_mss(&mut self, buf: &mut B, f: &Flow) {
        if self.cfg.tcp_mss_clamp == 0 || !f.is_syn() {
            return;
        }
        if crate::mss::clamp_mss(&mut buf.data_mut()[f.l4_off..f.end], self.cfg.tcp_mss_clamp) {
            self.counters.inc(Event::MssClamped);
        }
    }

    // ---- Fragments (RFC 4787 REQ-14) -----------------------------------------------------------

    /// Records the translation of a first fragment (`ip` describes it as received) and sends
    /// the later fragments that arrived before it.
    fn record_first_fragment(
        &mut self,
        ip: &Ip,
        v: FragValue,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            ident: ip.ident,
        };
        let info = FragInfo {
            offset: 0,
            len: ip.total.saturating_sub(u16::try_from(ip.hl).unwrap_or(0)),
            more: true,
        };
        self.frags
            .record_first(key, v, info, now)
            .map_err(frag_drop)?;
        // Room for every fragment a datagram may hold (`max_held_per_datagram` <= 64).
        let mut released: [Option<B>; 64] = [const { None }; 64];
        let mut n = 0;
        let mut extra = 0u64;
        self.frags.drain_held(&key, |b| {
            if n < released.len() {
                released[n] = Some(b);
                n += 1;
            } else {
                extra += 1;
            }
        });
        self.counters.drop_n(DropReason::FragmentTableFull, extra);
        for b in released.iter_mut().take(n) {
            if let Some(b) = b.take() {
                self.forward_fragment(b, v, now, tx, alloc);
            }
        }
        Ok(())
    }

    /// A non-first fragment: translated with its first fragment's state, or held for it.
    pub(crate) fn non_first_fragment(
        &mut self,
        buf: B,
        ip: &Ip,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            ident: ip.ident,
        };
        let info =
            FragInfo::of_ipv4(&buf.data()[ETH..ip.end]).ok_or(DropReason::FragmentConflict)?;
        match self.frags.non_first(key, buf, info, now) {
            NonFirst::Translate(b, v) => {
                self.forward_fragment(b, v, now, tx, alloc);
                Ok(())
            }
            NonFirst::Held => {
                self.counters.inc(Event::FragmentHeld);
                Ok(())
            }
            NonFirst::Drop(_b, r) => Err(frag_drop(r)),
        }
    }

    /// Translates and sends a non-first fragment (now, or when released from the hold area).
    fn forward_fragment(
        &mut self,
        mut b: B,
        (src, dst): FragValue,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        let d = b.data_mut();
        let Some(ipb) = d.get_mut(ETH..) else { return };
        let (Some(&ttl), Some(orig_dst)) = (ipb.get(8), ipb.get(16..20)) else {
            return;
        };
        let orig_dst = u32::from_be_bytes([orig_dst[0], orig_dst[1], orig_dst[2], orig_dst[3]]);
        // A hairpinned fragment was decremented once by its outbound half only.
        if ttl <= 1 {
            self.counters.drop(DropReason::TtlExceeded);
            return;
        }
        translate_fragment_addr(ipb, (src != 0).then_some(src), (dst != 0).then_some(dst));
        ipv4::Packet::new_unchecked(&mut ipb[..]).decrement_ttl();
        self.counters.inc(Event::FragmentTranslated);
        let (side, to) = if dst != 0 {
            (Side::Inside, dst)
        } else {
            (Side::Outside, orig_dst)
        };
        match self.next_hop(side, to) {
            Ok(nh) => self.emit(side, b, nh, now, tx, alloc),
            Err(r) => self.counters.drop(r),
        }
    }

    // ---- No-translate destinations (RFC 6888 REQ-6) --------------------------------------------

    pub(crate) fn passthrough(
        &mut self,
        to: Side,
        mut buf: B,
        ip: &Ip,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let from = if to == Side::Outside {
            Side::Inside
        } else {
            Side::Outside
        };
        if ip.ttl <= 1 {
            self.send_icmp_error(from, &buf, ip, icmp::TIME_EXCEEDED, 0, None, now, tx, alloc);
            return Err(DropReason::TtlExceeded);
        }
        ipv4::Packet::new_unchecked(&mut buf.data_mut()[ETH..ip.end]).decrement_ttl();
        self.counters.inc(if to == Side::Outside {
            Event::PassthroughOut
        } else {
            Event::PassthroughIn
        });
        let nh = self.next_hop(to, ip.dst)?;
        self.emit(to, buf, nh, now, tx, alloc);
        Ok(())
    }

    // ---- ICMP errors (RFC 5508 REQ-3..7) ------------------------------------------------------

    pub(crate) fn icmp_error(
        &mut self,
        side: Side,
        mut buf: B,
        ip: &Ip,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let e = icmp_error::parse(&buf.data()[ETH..ip.end]).map_err(|e| match e {
            IcmpErrorDrop::Checksum => DropReason::IcmpChecksum,
            IcmpErrorDrop::NotError => DropReason::IcmpUnsupportedType,
            IcmpErrorDrop::UnsupportedInner => DropReason::IcmpErrorUnsupported,
            IcmpErrorDrop::Truncated | IcmpErrorDrop::InnerMalformed => {
                DropReason::IcmpErrorMalformed
            }
        })?;
        if ip.ttl <= 1 {
            return Err(DropReason::TtlExceeded);
        }
        // Never refresh or delete anything here (RFC 5508 REQ-6, RFC 4787 REQ-12, RFC 5382 REQ-10).
        let (rw, to, dst) = match side {
            Side::Outside => {
                let idx = self
                    .nat
                    .map_inbound(e.proto, e.inner_src, e.inner_sport)
                    .ok_or(DropReason::IcmpErrorNoBinding)?;
                let b = *self.nat.bindings.get(idx);
                (
                    Rewrite::Inbound {
                        addr: b.sub_ip,
                        port: b.in_port,
                    },
                    Side::Inside,
                    b.sub_ip,
                )
            }
            Side::Inside => {
                let idx = self
                    .nat
                    .bindings
                    .find_inside(crate::bindings::key(e.proto, e.inner_dst, e.inner_dport))
                    .ok_or(DropReason::IcmpErrorNoBinding)?;
                let b = *self.nat.bindings.get(idx);
                (
                    Rewrite::Outbound {
                        addr: b.pub_ip,
                        port: b.pub_port,
                    },
                    Side::Outside,
                    e.outer_dst,
                )
            }
        };
        let d = &mut buf.data_mut()[ETH..ip.end];
        icmp_error::translate(d, &e, rw).map_err(|_| DropReason::IcmpErrorMalformed)?;
        if side == Side::Inside && self.nat.is_pool_address(e.outer_dst) {
            // A hairpinned error (RFC 5508 REQ-7): after the outbound half, the embedded
            // packet's source is the other subscriber's public endpoint; translate it inbound.
            let e2 = icmp_error::parse(d).map_err(|_| DropReason::IcmpErrorMalformed)?;
            let idx = self
                .nat
                .map_inbound(e2.proto, e2.inner_src, e2.inner_sport)
                .ok_or(DropReason::Hairpin)?;
            let b = *self.nat.bindings.get(idx);
            icmp_error::translate(
                d,
                &e2,
                Rewrite::Inbound {
                    addr: b.sub_ip,
                    port: b.in_port,
                },
            )
            .map_err(|_| DropReason::IcmpErrorMalformed)?;
            ipv4::Packet::new_unchecked(&mut d[..]).decrement_ttl();
            self.counters.inc(Event::IcmpErrorOut);
            self.counters.inc(Event::Hairpinned);
            let nh = self.next_hop(Side::Inside, b.sub_ip)?;
            self.emit(Side::Inside, buf, nh, now, tx, alloc);
            return Ok(());
        }
        ipv4::Packet::new_unchecked(&mut d[..]).decrement_ttl();
        self.counters.inc(if side == Side::Outside {
            Event::IcmpErrorIn
        } else {
            Event::IcmpErrorOut
        });
        let nh = self.next_hop(to, dst)?;
        self.emit(to, buf, nh, now, tx, alloc);
        Ok(())
    }
}
