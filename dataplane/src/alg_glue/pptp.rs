//! The PPTP ALG's dataplane half (RFC 2637): the control connection (TCP, `[alg.pptp]`
//! ports, default 1723, default **off**) and the GRE v1 packets of its calls (IP protocol 47).
//!
//! * **Selection**: a subscriber's SYN to a PPTP port gets an ALG session slot
//!   (`SessionKind::Pptp`) and a [`PptpSession`] next to it (same index, checked by generation),
//!   holding the parser state [`PptpControl`]. Both ends' first sequence numbers synchronise its
//!   framers, so a stream is only ever parsed from its first byte.
//! * **Per segment**: [`alg::pptp::process`]; its edits are 2-byte Call ID fields replaced in
//!   place (the length never changes, so there is no sequence correction), the TCP checksum is
//!   updated incrementally; `hold` drops the segment (`drop_alg_hold`) and gives back the public
//!   Call IDs allocated for it.
//! * **Public Call IDs** (the PNS's Call ID translated so that many subscribers behind one
//!   public address can call the same PAC): reserved like a port from the subscriber's own
//!   blocks, in the bitmap ICMP identifiers use (protocol index "other"), so the public Call ID
//!   of inbound GRE steers to this worker exactly as a destination port does (`steer.rs`), and
//!   is unique per public address. A reservation is held in the [`PptpSession`] until the parser
//!   says the call is gone (`Remove`/`Release`) or the control connection ends.
//! * **GRE** ([`gre::GreTable`]): an entry per connected call (`PptpEvent::Create`), removed by
//!   `PptpEvent::Remove`, by the end of the control connection, or after `gre_timeout_secs`
//!   without a packet. RFC 2637 §4.1: GRE from the PNS carries the PAC's Call ID: only the
//!   source address is translated; GRE from the PAC carries the public Call ID: the destination
//!   and the Call ID are translated back. GRE v1 has no checksum; the IP header checksum is
//!   updated incrementally.
//! * **Switching off** (live) stops new control connections from getting the ALG; connections
//!   already tracked keep being parsed and their calls keep their GRE (in flight, never broken),
//!   GRE matching no call is then counted as `drop_gre_pptp_off` instead of `drop_gre_no_call`.
//!
//! Not supported: GRE v0 and any GRE other than PPTP's (`drop_gre_unsupported`, with the reason
//! in `alg_pptp_gre_*`), fragmented GRE (`drop_fragment_unsupported`), hairpinned GRE, ICMP
//! errors about GRE, PPTP over IPv6.

use super::gre::{GreCallEntry, GreTable};
use super::*;
use crate::buf::BufAlloc;
use crate::wire::ipv4::{self, PROTO_GRE};
use crate::worker::{Ip, Side, Tx};
use alg::pptp::{self, GreCall, PptpControl, PptpEvent, PptpSegment, PptpSender, MAX_CALLS};

/// A public Call ID reserved from the subscriber's blocks for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reservation {
    public_call_id: u16,
    pub_ip: u32,
    lb: u32,
}

/// PPTP state of one ALG session slot.
#[derive(Debug, Clone, Copy)]
pub(super) struct PptpSession {
    gen: u32,
    state: PptpControl,
    /// Public Call IDs held (at most one per call of the parser).
    reserved: [Option<Reservation>; MAX_CALLS],
}

/// PPTP state per ALG session slot (same indices as the ALG session table) and the GRE calls.
#[derive(Debug)]
pub(super) struct PptpSessions {
    slots: Vec<Option<PptpSession>>,
    live: u32,
    /// The last time seen (seconds): timestamps of releases at a connection's end.
    now_s: u32,
    gre: GreTable,
}

impl PptpSessions {
    pub(super) fn with_capacity(cap: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            live: 0,
            now_s: 0,
            gre: GreTable::with_capacity(cap),
        }
    }

    pub(super) fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<PptpSession>>() + self.gre.memory()
    }

    fn get_mut(&mut self, slot: u32, gen: u32) -> Option<&mut PptpSession> {
        self.slots
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.gen == gen)
    }
}

/// Applies 2-byte in-place `edits` to the TCP payload at `payload_off` (original bytes
/// `orig`), updating the TCP checksum incrementally (RFC 1624: the payload from the first edit
/// on is summed before and after).
fn apply_in_place<B: PacketBuf>(
    buf: &mut B,
    f: &Flow,
    payload_off: usize,
    orig: &[u8],
    edits: &alg::EditList<{ pptp::MAX_EDITS }>,
) -> bool {
    if edits.total_delta() != 0 {
        return false; // cannot happen: Call IDs are replaced by Call IDs
    }
    let first = edits.iter().next().map_or(0, |e| e.offset()) & !1;
    let old_sum = checksum::sum(&orig[first..], 0);
    let d = buf.data_mut();
    let Some(dst) = d.get_mut(payload_off..f.end) else {
        return false;
    };
    if alg::apply_edits(orig, edits.iter(), dst).is_err() {
        dst.copy_from_slice(orig);
        return false;
    }
    let new_sum = checksum::sum(&dst[first..], 0);
    let c = checksum::update16(
        be16(d, f.l4_off + 16),
        u16::try_from(old_sum).unwrap_or(0xffff),
        u16::try_from(new_sum).unwrap_or(0xffff),
    );
    put16(d, f.l4_off + 16, c);
    true
}

impl<B: PacketBuf> Worker<B> {
    /// PPTP control connections tracked by this worker (part of [`Self::alg_sessions`]).
    pub fn alg_pptp_sessions(&self) -> u32 {
        self.alg.pptp.live
    }

    /// Connected PPTP calls (GRE translations) held by this worker.
    pub fn alg_pptp_calls(&self) -> u32 {
        self.alg.pptp.gre.len()
    }

    /// One TCP segment of a (possible) PPTP control connection, already translated.
    pub(super) fn pptp_segment(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        outbound: bool,
        now: u64,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        self.alg.pptp.now_s = self.alg.pptp.now_s.max(now_s);
        let (remote_ip, remote_port) = if outbound {
            (f.dst, f.dport)
        } else {
            (f.src, f.sport)
        };
        let Some((hl, seq, _, flags)) = buf.data().get(f.l4_off..f.end).and_then(tcp_header) else {
            return Ok(());
        };
        let syn = flags & tcp_flags::SYN != 0;
        if outbound && syn && flags & tcp_flags::ACK == 0 {
            // A new control connection (or a SYN again on the 4-tuple: start afresh).
            if let Some(old) = self.alg.sessions.find(bidx, remote_ip, remote_port) {
                self.drop_alg_session(old);
            }
            if !self.cfg.alg.pptp.selects(f.dport) {
                return Ok(());
            }
            let Some(s) = self
                .alg
                .sessions
                .insert(bidx, remote_ip, remote_port, SessionKind::Pptp)
            else {
                self.counters.inc(Event::AlgSessionTableFull);
                return Ok(());
            };
            let gen = self.alg.sessions.get(s).map_or(0, |a| a.gen);
            let mut state = PptpControl::new();
            state.synchronize(PptpSender::Pns, seq.wrapping_add(1));
            if let Some(r) = self.alg.pptp.slots.get_mut(s as usize) {
                if r.is_none() {
                    self.alg.pptp.live += 1;
                }
                *r = Some(PptpSession {
                    gen,
                    state,
                    reserved: [None; MAX_CALLS],
                });
            }
            self.counters.inc(Event::AlgPptpSession);
            return Ok(());
        }
        let Some(slot) = self.alg.sessions.find(bidx, remote_ip, remote_port) else {
            return Ok(());
        };
        let gen = self.alg.sessions.get(slot).map_or(0, |a| a.gen);
        let Some(ps) = self.alg.pptp.get_mut(slot, gen) else {
            return Ok(()); // another ALG's session (ports overlapping)
        };
        let payload_off = f.l4_off + hl;
        if syn {
            ps.state.synchronize(PptpSender::Pac, seq.wrapping_add(1));
        } else if f.end > payload_off {
            self.pptp_payload(buf, f, bidx, (slot, gen), outbound, seq, payload_off, now_s)?;
        }
        Ok(())
    }

    /// Parses and rewrites the payload of a control segment, then acts on the parser's events.
    #[allow(clippy::too_many_arguments)]
    fn pptp_payload(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        (slot, gen): (u32, u32),
        outbound: bool,
        seq: u32,
        payload_off: usize,
        now_s: u32,
    ) -> Result<(), DropReason> {
        let b = *self.nat.bindings.get(bidx);
        let pac_ip = if outbound { f.dst } else { f.src };
        let Self {
            alg, nat, counters, ..
        } = self;
        let AlgState { scratch, pptp, .. } = alg;
        let Some(ps) = pptp.get_mut(slot, gen) else {
            return Ok(());
        };
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), scratch.get_mut(..n))
        else {
            return Ok(());
        };
        dst.copy_from_slice(src);
        let orig = &scratch[..n];
        let PptpSession {
            state, reserved, ..
        } = ps;
        let seg = PptpSegment {
            sender: if outbound {
                PptpSender::Pns
            } else {
                PptpSender::Pac
            },
            seq,
            payload: orig,
        };
        let out = pptp::process(state, seg, &mut counters.alg_pptp, |_inside| {
            let free = reserved.iter_mut().find(|r| r.is_none())?;
            let (pub_ip, public_call_id, lb) = nat.reserve_port(bidx, PROTO_GRE, now_s)?;
            *free = Some(Reservation {
                public_call_id,
                pub_ip,
                lb,
            });
            Some(public_call_id)
        });
        if !out.hold
            && !out.edits.is_empty()
            && !apply_in_place(buf, f, payload_off, orig, &out.edits)
        {
            // Cannot happen (2-byte edits inside the payload); the segment passes unmodified.
            counters.alg_pptp.fail(pptp::PptpError::EditFailed);
        }
        for ev in out.events() {
            match *ev {
                PptpEvent::Create(call) => {
                    self.gre_create(call, b.sub_ip, pac_ip, slot, gen, now_s)
                }
                PptpEvent::Remove(call) => {
                    self.gre_remove(call.public_call_id, slot, gen, now_s);
                }
                PptpEvent::Release { public_call_id, .. } => {
                    self.pptp_release(slot, gen, public_call_id, now_s);
                }
            }
        }
        if out.hold {
            return Err(DropReason::AlgHold);
        }
        Ok(())
    }

    /// A call of control connection `slot` is connected: its GRE translation is created.
    fn gre_create(
        &mut self,
        call: GreCall,
        sub_ip: u32,
        pac_ip: u32,
        slot: u32,
        gen: u32,
        now_s: u32,
    ) {
        let Some(pub_ip) = self
            .alg
            .pptp
            .get_mut(slot, gen)
            .and_then(|ps| {
                ps.reserved
                    .iter()
                    .flatten()
                    .find(|r| r.public_call_id == call.public_call_id)
            })
            .map(|r| r.pub_ip)
        else {
            return;
        };
        let e = GreCallEntry {
            sub_ip,
            pub_ip,
            pac_ip,
            inside_call_id: call.inside_call_id,
            public_call_id: call.public_call_id,
            pac_call_id: call.pac_call_id,
            master: slot,
            master_gen: gen,
            last_s: now_s,
        };
        match self.alg.pptp.gre.insert(e) {
            Some((_, replaced)) => {
                self.counters.inc(Event::AlgPptpCall);
                let n = replaced.iter().flatten().count();
                self.counters
                    .add(Event::AlgPptpCallRemoved, u64::try_from(n).unwrap_or(0));
            }
            None => self.counters.inc(Event::AlgPptpCallTableFull),
        }
    }

    /// A call ended: its GRE translation (if still there) goes and its public Call ID is given
    /// back.
    fn gre_remove(&mut self, public_call_id: u16, slot: u32, gen: u32, now_s: u32) {
        let pub_ip = self.alg.pptp.get_mut(slot, gen).and_then(|ps| {
            ps.reserved
                .iter()
                .flatten()
                .find(|r| r.public_call_id == public_call_id)
                .map(|r| r.pub_ip)
        });
        if let Some(pub_ip) = pub_ip {
            let gre = &mut self.alg.pptp.gre;
            if let Some(i) = gre.find_inbound(pub_ip, public_call_id).filter(|&i| {
                gre.get(i)
                    .is_some_and(|e| e.master == slot && e.master_gen == gen)
            }) {
                gre.remove(i);
                self.counters.inc(Event::AlgPptpCallRemoved);
            }
        }
        self.pptp_release(slot, gen, public_call_id, now_s);
    }

    /// Gives back the reservation of `public_call_id`.
    fn pptp_release(&mut self, slot: u32, gen: u32, public_call_id: u16, now_s: u32) {
        let Some(ps) = self.alg.pptp.get_mut(slot, gen) else {
            return;
        };
        if let Some(r) = ps
            .reserved
            .iter_mut()
            .find(|r| r.is_some_and(|r| r.public_call_id == public_call_id))
            .and_then(Option::take)
        {
            self.nat
                .release_reserved(r.lb, PROTO_GRE, r.public_call_id, now_s);
        }
    }

    /// The ALG session `slot` ends (the control connection closed or expired): every call
    /// ends with it, its GRE translations go and its public Call IDs are given back.
    pub(super) fn pptp_session_gone(&mut self, slot: u32) {
        let now_s = self.alg.pptp.now_s;
        let Some(gen) = self
            .alg
            .pptp
            .slots
            .get(slot as usize)
            .and_then(|s| s.as_ref())
            .map(|s| s.gen)
        else {
            return;
        };
        let events = self
            .alg
            .pptp
            .get_mut(slot, gen)
            .map(|ps| ps.state.close())
            .unwrap_or([None; MAX_CALLS]);
        for ev in events.iter().flatten() {
            if let PptpEvent::Remove(call) = *ev {
                self.gre_remove(call.public_call_id, slot, gen, now_s);
            }
        }
        let Some(ps) = self
            .alg
            .pptp
            .slots
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.alg.pptp.live = self.alg.pptp.live.saturating_sub(1);
        for r in ps.reserved.iter().flatten() {
            self.nat
                .release_reserved(r.lb, PROTO_GRE, r.public_call_id, now_s);
        }
    }

    /// Timer work: GRE calls idle for longer than `gre_timeout_secs` (bounded per call).
    pub(super) fn pptp_poll(&mut self, now_s: u32, budget: u32) {
        self.alg.pptp.now_s = self.alg.pptp.now_s.max(now_s);
        let n = self
            .alg
            .pptp
            .gre
            .sweep(now_s, self.cfg.alg.pptp_gre_timeout_secs, budget);
        self.counters.add(Event::AlgPptpCallExpired, u64::from(n));
    }

    /// Checks that a GRE datagram is PPTP's enhanced GRE (RFC 2637 §4.1) before its Call ID is
    /// read as its "port": `Err` drops it (counted by the reason in `alg_pptp_gre_*`).
    pub(crate) fn gre_check(&mut self, buf: &B, ip: &Ip) -> Result<(), DropReason> {
        if ip.is_fragment() {
            return Err(DropReason::FragmentUnsupported);
        }
        let l4 = buf.data().get(ETH + ip.hl..ip.end).unwrap_or(&[]);
        match pptp::GreV1Packet::new_checked(l4) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.counters.alg_pptp_gre.fail(e);
                Err(DropReason::GreUnsupported)
            }
        }
    }

    /// Translates a checked GRE v1 datagram (`f.dport`: its Call ID) of a connected call.
    pub(crate) fn gre_translate(
        &mut self,
        side: Side,
        mut buf: B,
        f: &Flow,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        let miss = if self.cfg.alg.pptp.enabled {
            DropReason::GreNoCall
        } else {
            DropReason::GrePptpOff
        };
        let gre = &mut self.alg.pptp.gre;
        match side {
            Side::Inside => {
                // RFC 2637 §4.1: the PNS's packets carry the PAC's Call ID: unchanged.
                let i = gre.find_outbound(f.src, f.dst, f.dport).ok_or(miss)?;
                let e = gre.get_mut(i).ok_or(miss)?;
                e.last_s = now_s;
                let pub_ip = e.pub_ip;
                let d = buf.data_mut();
                let mut p = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
                p.set_src(pub_ip);
                p.decrement_ttl();
                self.counters.inc(Event::NatOut);
                self.counters.alg_pptp_gre.message();
                let nh = self.next_hop(Side::Outside, f.dst)?;
                self.emit(Side::Outside, buf, nh, now, tx, alloc);
            }
            Side::Outside => {
                // The PAC's packets carry the public Call ID: back to the PNS's own.
                let i = gre.find_inbound(f.dst, f.dport).ok_or(miss)?;
                let e = gre.get_mut(i).ok_or(miss)?;
                if e.pac_ip != f.src {
                    return Err(DropReason::Filtered);
                }
                e.last_s = now_s;
                let (sub_ip, inside) = (e.sub_ip, e.inside_call_id);
                let d = buf.data_mut();
                {
                    let mut p = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
                    p.set_dst(sub_ip);
                    p.decrement_ttl();
                }
                pptp::GreV1Packet::new_unchecked(&mut d[f.l4_off..f.end]).set_call_id(inside);
                self.counters.inc(Event::NatIn);
                self.counters.alg_pptp_gre.message();
                self.counters.alg_pptp_gre.rewrite();
                let nh = self.next_hop(Side::Inside, sub_ip)?;
                self.emit(Side::Inside, buf, nh, now, tx, alloc);
            }
        }
        Ok(())
    }
}
