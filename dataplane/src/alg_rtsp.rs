//! The RTSP ALG's dataplane half (a child module of [`crate::alg_glue`], whose framework it
//! uses: ALG session slots, sequence correction, expectations, the scratch area).
//!
//! * **Selection**: a subscriber's SYN to a TCP port of `[alg.rtsp]` (default 554, default
//!   **off**: RFC 4787 REQ-10, the pinholes it opens are UDP) gets an ALG session slot and an
//!   [`RtspSession`] next to it ([`RtspSessions`], indexed like the ALG session table, checked
//!   by generation). Both ends' first sequence numbers synchronise the parser's framers, so a
//!   stream is only ever parsed from its first byte (a stream that does not start as RTSP is
//!   never parsed: `alg_rtsp_not_rtsp`).
//! * **Per segment**: [`alg::rtsp::process`] with the sender's [`SeqHistory`]; its edits are
//!   applied in the buffer within the tailroom and the next link's MTU (else the segment passes
//!   unmodified and `alg_rtsp_no_room` counts it), `hold` drops the segment (`drop_alg_hold`),
//!   and every segment of the session gets its SEQ/ACK/SACK corrected as FTP's.
//! * **Public ports**: `allocate(inside_rtp, pair)` reserves an even port, and with `pair` the
//!   next odd one, from the subscriber's own blocks ([`crate::nat::NatState::reserve_port_pair`]),
//!   so the server's RTP/RTCP reach this worker (steering follows the port's block). If the
//!   client's RTP port already has a UDP binding (endpoint-independent mapping wins), its
//!   public endpoint is announced when it has the right shape (even, and the RTCP port bound
//!   to the next public port), otherwise nothing is (`alg_rtsp_no_public_port`). Reservations
//!   are remembered here with their block until an expectation takes each port, the parser
//!   releases them (error reply, evicted SETUP) or the connection ends.
//! * **Expectations**: one inbound UDP expectation per port (RTP, RTCP) from the server, tagged
//!   with the RTSP session id's hash ([`RtspSession::tags`]) so a `TEARDOWN` removes that
//!   session's waiting ones (counted as evicted). Per master, `max_expectations_per_session`
//!   counts media streams for RTSP: [`expectation_limit`] = 2 per stream, at least 2 streams,
//!   at most [`MAX_EXPECTATIONS_PER_SESSION`].

use super::*;
use alg::rtsp::{
    self, RtspConfig, RtspEvent, RtspOutcome, RtspPeers, RtspSegment, RtspSender, RtspState,
    MAX_EDITS, MAX_PENDING_SETUPS, MAX_TRANSPORTS,
};

/// Port pairs one RTSP connection may hold reserved at once (every transport of every
/// pending SETUP).
const MAX_RESERVED: usize = MAX_PENDING_SETUPS * MAX_TRANSPORTS;
const TAGS: usize = MAX_EXPECTATIONS_PER_SESSION as usize;

/// The per-master expectation limit of an RTSP session for the configured
/// `max_expectations_per_session` (`configured`, 1..=8): it counts media streams, each
/// needing two expectations (RTP and RTCP), at least two streams (audio and video), capped
/// at [`MAX_EXPECTATIONS_PER_SESSION`].
pub(super) fn expectation_limit(configured: u8) -> u8 {
    configured
        .max(2)
        .saturating_mul(2)
        .min(MAX_EXPECTATIONS_PER_SESSION)
}

/// A public port pair reserved for a SETUP, until expectations take it.
#[derive(Debug, Clone, Copy)]
struct Reserved {
    /// The public RTP endpoint (RTCP: the next port when `pair`).
    public: SocketAddrV4,
    lb: u32,
    /// RTP port still held here.
    rtp: bool,
    /// RTCP port still held here.
    rtcp: bool,
}

/// RTSP state of one ALG session slot.
#[derive(Debug, Clone, Copy)]
pub(super) struct RtspSession {
    gen: u32,
    state: RtspState,
    reserved: [Option<Reserved>; MAX_RESERVED],
    /// `(expectation index, session id hash)` of the expectations installed for this
    /// connection; an entry counts only while its index is in the master's list.
    tags: [(u32, u32); TAGS],
    next_tag: u8,
}

/// RTSP state per ALG session slot (same indices as the ALG session table).
#[derive(Debug)]
pub(super) struct RtspSessions {
    slots: Vec<Option<RtspSession>>,
    /// Slots in use.
    live: u32,
    /// The last time seen (seconds): timestamps of port releases at a connection's end.
    now_s: u32,
}

impl RtspSessions {
    pub(super) fn with_capacity(cap: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            live: 0,
            now_s: 0,
        }
    }

    pub(super) fn tick(&mut self, now_s: u32) {
        self.now_s = self.now_s.max(now_s);
    }

    pub(super) fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<RtspSession>>()
    }

    fn get_mut(&mut self, slot: u32, gen: u32) -> Option<&mut RtspSession> {
        self.slots
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.gen == gen)
    }
}

/// Gives back what `r` still holds.
fn release(nat: &mut crate::nat::NatState, r: Reserved, now_s: u32) {
    if r.rtp {
        nat.release_reserved(r.lb, PROTO_UDP, r.public.port(), now_s);
    }
    if r.rtcp {
        nat.release_reserved(r.lb, PROTO_UDP, r.public.port().wrapping_add(1), now_s);
    }
}

impl<B: PacketBuf> Worker<B> {
    /// RTSP control connections tracked by this worker (part of [`Self::alg_sessions`]).
    pub fn alg_rtsp_sessions(&self) -> u32 {
        self.alg.rtsp.live
    }

    /// One TCP segment of a (possible) RTSP control connection, already translated.
    pub(super) fn rtsp_segment(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        outbound: bool,
        now: u64,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        self.alg.rtsp.tick(now_s);
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
            // A new control connection (or a SYN again on the 4-tuple: start afresh).
            if let Some(old) = self.alg.sessions.find(bidx, remote_ip, remote_port) {
                self.drop_alg_session(old);
            }
            if !self.cfg.alg.rtsp.selects(f.dport) {
                return Ok(());
            }
            let Some(s) = self
                .alg
                .sessions
                .insert(bidx, remote_ip, remote_port, SessionKind::Rtsp)
            else {
                self.counters.inc(Event::AlgSessionTableFull);
                return Ok(());
            };
            let gen = self.alg.sessions.get(s).map_or(0, |a| a.gen);
            let mut state = RtspState::new();
            state.synchronize(RtspSender::Client, seq.wrapping_add(1));
            if let Some(r) = self.alg.rtsp.slots.get_mut(s as usize) {
                if r.is_none() {
                    self.alg.rtsp.live += 1;
                }
                *r = Some(RtspSession {
                    gen,
                    state,
                    reserved: [None; MAX_RESERVED],
                    tags: [(NONE, 0); TAGS],
                    next_tag: 0,
                });
            }
            self.counters.inc(Event::AlgRtspSession);
            return Ok(());
        }
        let Some(slot) = self.alg.sessions.find(bidx, remote_ip, remote_port) else {
            return Ok(());
        };
        let gen = self.alg.sessions.get(slot).map_or(0, |a| a.gen);
        let Some(rs) = self.alg.rtsp.get_mut(slot, gen) else {
            return Ok(()); // another ALG's session (ports overlapping)
        };
        let payload_off = f.l4_off + hl;
        let mut end = f.end;
        if syn {
            rs.state
                .synchronize(RtspSender::Server, seq.wrapping_add(1));
        } else if f.end > payload_off && self.cfg.alg.rtsp.enabled {
            end = self.rtsp_payload(buf, f, bidx, slot, gen, outbound, seq, payload_off, now_s)?;
        }
        self.rtsp_correct(buf, f, slot, outbound, hl, (seq, ack, flags), end);
        Ok(())
    }

    /// Sequence correction of every segment of a corrected session (as FTP's).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rtsp_correct(
        &mut self,
        buf: &mut B,
        f: &Flow,
        slot: u32,
        outbound: bool,
        hl: usize,
        (seq, ack, flags): (u32, u32, u8),
        end: usize,
    ) {
        let Some(st) = self.alg.sessions.get_mut(slot) else {
            return;
        };
        let [a, b] = &mut st.hist;
        let (mine, theirs) = if outbound { (&*a, b) } else { (&*b, a) };
        if mine.is_empty() && mine.offset() == 0 && theirs.is_empty() && theirs.offset() == 0 {
            return;
        }
        let Some(tcp) = buf.data_mut().get_mut(f.l4_off..end) else {
            return;
        };
        let mut c = be16(tcp, 16);
        let new_seq = mine.map_seq(seq);
        if new_seq != seq {
            put32(tcp, 4, new_seq);
            c = checksum::update32(c, seq, new_seq);
        }
        if flags & tcp_flags::ACK != 0 {
            let new_ack = theirs.unmap_ack(ack);
            if new_ack != ack {
                put32(tcp, 8, new_ack);
                c = checksum::update32(c, ack, new_ack);
            }
        }
        if hl > 20 {
            c = fix_sack(tcp, hl, theirs, c);
        }
        put16(tcp, 16, c);
    }

    /// Parses and rewrites the payload of an RTSP segment, then acts on the parser's events;
    /// returns the new end of the datagram in the frame.
    #[allow(clippy::too_many_arguments)]
    fn rtsp_payload(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        slot: u32,
        gen: u32,
        outbound: bool,
        seq: u32,
        payload_off: usize,
        now_s: u32,
    ) -> Result<usize, DropReason> {
        let b = *self.nat.bindings.get(bidx);
        let dir = usize::from(!outbound);
        let mtu = if outbound {
            self.cfg.outside.mtu
        } else {
            self.cfg.inside.mtu
        };
        let cfg = RtspConfig {
            destination: self.cfg.alg.rtsp_destination,
        };
        let server = if outbound { f.dst } else { f.src };
        let Self {
            alg, nat, counters, ..
        } = self;
        let AlgState {
            sessions,
            scratch,
            rtsp,
            ..
        } = alg;
        let (Some(st), Some(rs)) = (sessions.get_mut(slot), rtsp.get_mut(slot, gen)) else {
            return Ok(f.end);
        };
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), scratch.get_mut(..n))
        else {
            return Ok(f.end);
        };
        dst.copy_from_slice(src);
        let orig = &scratch[..n];
        let before = (rs.state, st.hist[dir], counters.alg_rtsp);
        let mut fresh: [Option<SocketAddrV4>; MAX_EDITS] = [None; MAX_EDITS];
        let RtspSession {
            state, reserved, ..
        } = rs;
        let seg = RtspSegment {
            sender: if outbound {
                RtspSender::Client
            } else {
                RtspSender::Server
            },
            seq,
            payload: orig,
        };
        let peers = RtspPeers {
            client: Ipv4Addr::from(b.sub_ip),
            server: Ipv4Addr::from(server),
        };
        let out: RtspOutcome = rtsp::process(
            state,
            seg,
            peers,
            &cfg,
            &mut st.hist[dir],
            &mut counters.alg_rtsp,
            |inside, pair| {
                // Endpoint-independent mapping: a port already bound keeps its public port.
                let bound = |port: u16| {
                    nat.bindings
                        .find_inside(key(PROTO_UDP, u32::from(*inside.ip()), port))
                        .map(|i| *nat.bindings.get(i))
                };
                if let Some(e) = bound(inside.port()) {
                    let rtcp_ok = !pair
                        || inside.port() < u16::MAX
                            && bound(inside.port() + 1).is_some_and(|c| {
                                c.pub_ip == e.pub_ip
                                    && u32::from(c.pub_port) == u32::from(e.pub_port) + 1
                            });
                    return (e.pub_port % 2 == 0 && rtcp_ok)
                        .then(|| SocketAddrV4::new(Ipv4Addr::from(e.pub_ip), e.pub_port));
                }
                let free = reserved.iter_mut().find(|r| r.is_none())?;
                let (ip, port, lb) = nat.reserve_port_pair(bidx, PROTO_UDP, pair, now_s)?;
                let public = SocketAddrV4::new(Ipv4Addr::from(ip), port);
                *free = Some(Reserved {
                    public,
                    lb,
                    rtp: true,
                    rtcp: pair,
                });
                if let Some(s) = fresh.iter_mut().find(|s| s.is_none()) {
                    *s = Some(public);
                }
                Some(public)
            },
        );
        let mut end = f.end;
        if !out.hold && !out.edits.is_empty() {
            match apply(buf, f, payload_off, orig, &out, mtu) {
                Some(e) => end = e,
                None => {
                    // Nothing of this segment's rewrite is kept; it passes unmodified.
                    rs.state = before.0;
                    st.hist[dir] = before.1;
                    counters.alg_rtsp.rewrites = before.2.rewrites;
                    counters.alg_rtsp.expectations = before.2.expectations;
                    for p in fresh.iter().flatten() {
                        if let Some(r) = rs
                            .reserved
                            .iter_mut()
                            .find(|r| r.is_some_and(|r| r.public == *p))
                        {
                            if let Some(r) = r.take() {
                                release(nat, r, now_s);
                            }
                        }
                    }
                    counters.inc(Event::AlgRtspNoRoom);
                    return Ok(f.end);
                }
            }
        }
        for ev in out.events() {
            match *ev {
                RtspEvent::Release { public, .. } => self.rtsp_release(slot, gen, public, now_s),
                RtspEvent::Expect {
                    session,
                    expectation: e,
                } => {
                    let Some(p) = e.public else {
                        continue;
                    };
                    let x = Expect {
                        alg: AlgKind::Rtsp,
                        proto: PROTO_UDP,
                        inbound: true,
                        remote_ip: u32::from(e.remote_addr),
                        remote_port: e.remote_port.unwrap_or(0),
                        pub_ip: u32::from(*p.ip()),
                        pub_port: p.port(),
                        sub_ip: u32::from(e.inside_addr),
                        in_port: e.inside_port.unwrap_or(0),
                        reserved: self.rtsp_take(slot, gen, p),
                        master: slot,
                        master_gen: gen,
                        expires_s: 0,
                    };
                    self.install_expectation(x, now_s);
                    if let (Some(xi), Some(rs)) = (
                        self.alg.expect.find_same(&x),
                        self.alg.rtsp.get_mut(slot, gen),
                    ) {
                        let k = usize::from(rs.next_tag) % TAGS;
                        rs.tags[k] = (xi, session.0);
                        rs.next_tag = u8::try_from((k + 1) % TAGS).unwrap_or(0);
                    }
                }
                RtspEvent::Teardown(session) => self.rtsp_teardown(slot, gen, session.0, now_s),
            }
        }
        if out.hold {
            return Err(DropReason::AlgHold);
        }
        Ok(end)
    }

    /// The block of the reserved public port `p` (an expectation takes it), or [`NONE`] when
    /// it was not reserved here (an existing binding's port).
    fn rtsp_take(&mut self, slot: u32, gen: u32, p: SocketAddrV4) -> u32 {
        let Some(rs) = self.alg.rtsp.get_mut(slot, gen) else {
            return NONE;
        };
        for e in rs.reserved.iter_mut() {
            let Some(r) = e else { continue };
            if r.public.ip() != p.ip() {
                continue;
            }
            let lb = r.lb;
            if r.rtp && r.public.port() == p.port() {
                r.rtp = false;
            } else if r.rtcp && u32::from(r.public.port()) + 1 == u32::from(p.port()) {
                r.rtcp = false;
            } else {
                continue;
            }
            if !r.rtp && !r.rtcp {
                *e = None;
            }
            return lb;
        }
        NONE
    }

    /// Gives back the reservation of public RTP endpoint `public` (both ports).
    fn rtsp_release(&mut self, slot: u32, gen: u32, public: SocketAddrV4, now_s: u32) {
        let Some(rs) = self.alg.rtsp.get_mut(slot, gen) else {
            return;
        };
        if let Some(r) = rs
            .reserved
            .iter_mut()
            .find(|r| r.is_some_and(|r| r.public == public))
            .and_then(Option::take)
        {
            release(&mut self.nat, r, now_s);
        }
    }

    /// Removes the waiting expectations of RTSP session `tag` (a `TEARDOWN`).
    fn rtsp_teardown(&mut self, slot: u32, gen: u32, tag: u32, now_s: u32) {
        let Some(rs) = self.alg.rtsp.get_mut(slot, gen) else {
            return;
        };
        let tags = rs.tags;
        let Some(m) = self.alg.sessions.master(slot, gen) else {
            return;
        };
        let mut gone = [NONE; TAGS];
        let mut k = 0;
        for &xi in &m.expects[..usize::from(m.n_expects)] {
            if tags.iter().any(|&(x, t)| x == xi && t == tag) && k < TAGS {
                gone[k] = xi;
                k += 1;
            }
        }
        for &xi in &gone[..k] {
            self.expectation_gone(xi, Gone::Evicted, now_s);
        }
    }

    /// The ALG session `slot` ends: its RTSP state goes and the public ports still reserved
    /// for unanswered SETUPs are given back.
    pub(super) fn rtsp_session_gone(&mut self, slot: u32) {
        let now_s = self.alg.rtsp.now_s;
        let Some(rs) = self
            .alg
            .rtsp
            .slots
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.alg.rtsp.live = self.alg.rtsp.live.saturating_sub(1);
        for r in rs.reserved.iter().flatten() {
            release(&mut self.nat, *r, now_s);
        }
    }
}

/// Applies `out`'s edits to the payload at `payload_off` (original bytes `orig`), moving the
/// tail within the tailroom and updating the IP total length and both checksums incrementally
/// (RFC 1624). Returns the new end, or `None` when the result does not fit the tailroom or
/// `mtu` (nothing changed).
fn apply<B: PacketBuf>(
    buf: &mut B,
    f: &Flow,
    payload_off: usize,
    orig: &[u8],
    out: &RtspOutcome,
    mtu: u16,
) -> Option<usize> {
    let delta = out.edits.total_delta();
    let ip_total = i64::try_from(f.end - ETH).ok()?;
    let new_total = ip_total + delta;
    let fits = buf.data().len() == f.end
        && new_total <= i64::from(mtu)
        && (delta <= 0 || usize::try_from(delta).is_ok_and(|d| d <= buf.tailroom()));
    if !fits {
        return None;
    }
    let new_end = usize::try_from(i64::try_from(f.end).ok()? + delta).ok()?;
    if new_end > f.end && !buf.set_len(new_end) {
        return None;
    }
    let first = out.edits.iter().next().map_or(0, |e| e.offset()) & !1;
    let old_sum = checksum::sum(&orig[first..], 0);
    let d = buf.data_mut();
    if alg::apply_edits(orig, out.edits.iter(), &mut d[payload_off..new_end]).is_err() {
        // Cannot happen (edits come sorted and inside the payload); restore.
        d[payload_off..f.end].copy_from_slice(orig);
        buf.set_len(f.end);
        return None;
    }
    let new_sum = checksum::sum(&d[payload_off + first..new_end], 0);
    let old_l4 = u16::try_from(f.end - f.l4_off).unwrap_or(0);
    let new_l4 = u16::try_from(new_end - f.l4_off).unwrap_or(0);
    let old_total = u16::try_from(ip_total).unwrap_or(0);
    let new_total = u16::try_from(new_total).unwrap_or(0);
    let mut c = be16(d, f.l4_off + 16);
    c = checksum::update16(c, old_l4, new_l4);
    c = checksum::update16(
        c,
        u16::try_from(old_sum).unwrap_or(0xffff),
        u16::try_from(new_sum).unwrap_or(0xffff),
    );
    put16(d, f.l4_off + 16, c);
    put16(d, ETH + 2, new_total);
    let ipc = checksum::update16(be16(d, ETH + 10), old_total, new_total);
    put16(d, ETH + 10, ipc);
    if new_end < f.end {
        buf.set_len(new_end);
    }
    Some(new_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_master_limit_counts_streams() {
        assert_eq!(
            (1..=8).map(expectation_limit).collect::<Vec<_>>(),
            vec![4, 4, 6, 8, 8, 8, 8, 8]
        );
    }

    #[test]
    fn an_rtsp_slot_stays_small() {
        // 4096 slots (the default table) cost under 8 MiB per worker.
        let n = std::mem::size_of::<Option<RtspSession>>();
        assert!(n <= 2048, "{n} bytes");
    }
}
