//! Steering: which worker owns a frame, and handing frames to their owner.
//!
//! ARCHITECTURE.md: a subscriber is owned by one worker (inside port: RSS on the source IPv4
//! address only), and every (public address, port block) by one worker, computable from the
//! destination port alone: block `n` of every address belongs to worker `n % n_workers`
//! (`port_block.rs`). When the NIC puts every frame on its owner's queue (RSS / rte_flow, set
//! up by the daemon) a worker only checks and counts; when it cannot, the worker that received
//! a frame computes its owner here and hands it over through a bounded outbox that the poll
//! loop flushes into a single-producer ring per (from, to) pair. Full outbox or ring: counted
//! drop, never a wait.
//!
//! Cases the destination port does not settle:
//! - ICMP queries use their identifier (allocated from the same blocks as ports), ICMP errors
//!   the source port / identifier of the datagram they embed (RFC 5508: that datagram is one we
//!   translated outbound, so its source is our public endpoint).
//! - PPTP's GRE (protocol 47) uses its Call ID: the PPTP ALG reserves public Call IDs from the
//!   subscriber's blocks like ports (`alg_glue/pptp.rs`).
//! - Non-first fragments carry no port. Every outside fragment first goes to the datagram's
//!   *home* worker, a hash of (source, destination, protocol, identification) — the RFC 791
//!   reassembly key, the same for all fragments — which learns the owner from the first
//!   fragment, holds later fragments that overtake it (bounded, timed out), and forwards them in
//!   order to the owner, whose own fragment table then translates them as usual.
//! - ARP: every worker keeps its own neighbour cache, so an ARP frame is processed where it
//!   arrived and a learn-only copy goes to every other worker.
//! - Hairpinning: the outbound half runs on the subscriber's worker; the inbound half needs the
//!   destination binding, which lives on the owner of the destination port block.
//!
//! Handed-off frames carry a tag (the buffer's metadata, see [`PacketBuf::set_tag`]) saying
//! what the receiver must do with them.

use crate::buf::{BufAlloc, PacketBuf};
use crate::counters::{Counters, DropReason, Event};
use crate::fragments::{FragInfo, FragKey, NonFirst};
use crate::icmp_error::{be16, be32};
use crate::wire::ethernet;
use crate::wire::ipv4::{PROTO_GRE, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::worker::{frag_drop, Side, Tx, Worker, ETH};

/// How frames reach their owner on one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteerMode {
    /// The NIC steers (inside: RSS on the source address only; outside: rte_flow rules on the
    /// destination port). The worker trusts the inside queue and still checks outside frames
    /// the rules cannot match (ICMP, fragments).
    Nic,
    /// The receiving worker computes the owner and hands the frame over.
    Software,
}

/// Steering configuration of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steering {
    /// Inside port.
    pub inside: SteerMode,
    /// Outside port.
    pub outside: SteerMode,
    /// Frames a worker may queue for each other worker per burst (the poll loop flushes
    /// after every burst).
    pub outbox: u16,
}

impl Default for Steering {
    fn default() -> Self {
        Self {
            inside: SteerMode::Software,
            outside: SteerMode::Software,
            outbox: 256,
        }
    }
}

/// Why a frame was handed over: stored in the buffer, read by the receiving worker.
pub mod tag {
    /// An inside frame for the worker that owns its subscriber.
    pub const INSIDE: u32 = 0xC6A7_0001;
    /// An outside frame for the worker that owns its port block.
    pub const OUTSIDE: u32 = 0xC6A7_0002;
    /// An outside fragment for its datagram's home worker.
    pub const FRAGMENT: u32 = 0xC6A7_0003;
    /// A learn-only copy of an ARP frame received on the inside port.
    pub const ARP_INSIDE: u32 = 0xC6A7_0004;
    /// A learn-only copy of an ARP frame received on the outside port.
    pub const ARP_OUTSIDE: u32 = 0xC6A7_0005;
    /// A hairpinned packet, already translated outbound, for the owner of its destination.
    pub const HAIRPIN: u32 = 0xC6A7_0006;
}

/// The worker that owns subscriber `src` under software steering (a multiplicative hash, so
/// consecutive addresses spread evenly).
#[inline]
pub fn subscriber_owner(src: u32, n_workers: u16) -> u16 {
    let h = u64::from(src).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    // h < 2^32, so h * n < 2^48 and the result < n.
    u16::try_from((h * u64::from(n_workers.max(1))) >> 32).unwrap_or(0)
}

/// The worker that owns public port `port`: block `(port - port_min) / block_size`, owned by
/// worker `block % n_workers`. `None` outside the pool's port range (the frame is processed
/// where it is and dropped there as having no binding).
#[inline]
pub fn port_owner(port: u16, port_min: u16, port_max: u16, block_size: u16, n: u16) -> Option<u16> {
    if port < port_min || port > port_max || block_size == 0 {
        return None;
    }
    let block = (port - port_min) / block_size;
    Some(block % n.max(1))
}

/// The rules that let a NIC steer by destination port alone: `(value, mask, worker)` such that
/// a port `p` of the pool range belongs to `worker` exactly when `p & mask == value`. That is a
/// bit field of the port when `block_size` and `n_workers` are powers of two and `port_min` is
/// a multiple of `block_size * n_workers`: the owner is then bits `log2(block_size)..` of the
/// port, `n_workers` values wide. `None` for one worker or any other layout (software steering
/// covers those).
pub fn port_mask_rules(
    port_min: u16,
    block_size: u16,
    n_workers: u16,
) -> Option<Vec<(u16, u16, u16)>> {
    if n_workers < 2 || !block_size.is_power_of_two() || !n_workers.is_power_of_two() {
        return None;
    }
    let span = u32::from(block_size) * u32::from(n_workers);
    if span > 65536 || u32::from(port_min) % span != 0 {
        return None;
    }
    let shift = block_size.trailing_zeros();
    let mask = u16::try_from((u32::from(n_workers) - 1) << shift).ok()?;
    (0..n_workers)
        .map(|w| Some((u16::try_from(u32::from(w) << shift).ok()?, mask, w)))
        .collect()
}

/// The home worker of a fragmented datagram: a hash of its reassembly key.
#[inline]
pub fn fragment_home(k: &FragKey, n_workers: u16) -> u16 {
    let x = u64::from(k.src) << 32 | u64::from(k.dst);
    let y = x ^ (u64::from(k.ident) << 8 | u64::from(k.proto)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let h = y.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    u16::try_from((h * u64::from(n_workers.max(1))) >> 32).unwrap_or(0)
}

/// What an outside frame's headers say about its owner, read without validation (the owner
/// validates; a wrong guess on a malformed frame only sends it to the wrong worker's drop
/// counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutsideClass {
    /// Not an IPv4 datagram to a pool address: handled where it is.
    Local,
    /// Owned by the worker of this public port (or ICMP identifier).
    Port(u16),
    /// A fragment: goes to its home worker.
    Fragment,
}

fn is_ipv4(f: &[u8]) -> bool {
    f.get(12..14) == Some(&ethernet::ETHERTYPE_IPV4.to_be_bytes()[..])
}

/// The public port (or ICMP identifier) a datagram at `ip` (IPv4 header offset in `f`) was
/// sent to, for the outside; `None` when it has none we can read.
fn outside_port(f: &[u8], ip: usize) -> Option<u16> {
    let ihl = usize::from(f.get(ip)? & 0x0f) * 4;
    let l4 = ip + ihl;
    match *f.get(ip + 9)? {
        PROTO_TCP | PROTO_UDP => be16(f, l4 + 2),
        // PPTP's GRE: the public Call ID, reserved from the port blocks like a port.
        PROTO_GRE => be16(f, l4 + 6),
        PROTO_ICMP => {
            let t = *f.get(l4)?;
            match t {
                // Destination unreachable, source quench, redirect, time exceeded, parameter
                // problem: the embedded datagram went out from our public endpoint.
                3 | 4 | 5 | 11 | 12 => {
                    let inner = l4 + 8;
                    let ihl2 = usize::from(f.get(inner)? & 0x0f) * 4;
                    let l4b = inner + ihl2;
                    match *f.get(inner + 9)? {
                        PROTO_TCP | PROTO_UDP => be16(f, l4b),
                        PROTO_ICMP => be16(f, l4b + 4),
                        _ => None,
                    }
                }
                // Queries and replies: the identifier.
                _ => be16(f, l4 + 4),
            }
        }
        _ => None,
    }
}

/// A frame a worker queued for another worker, per destination, bounded.
#[derive(Debug)]
pub struct Outbox<B> {
    queues: Vec<Vec<B>>,
    cap: usize,
}

impl<B: PacketBuf> Outbox<B> {
    /// Queues for `n` workers of `cap` frames each, all allocated now.
    pub fn new(n: u16, cap: u16) -> Self {
        let cap = usize::from(cap.max(1));
        Self {
            queues: (0..n).map(|_| Vec::with_capacity(cap)).collect(),
            cap,
        }
    }

    /// Queues `b` for worker `to`, tagged; a full queue is a counted drop.
    pub(crate) fn push(&mut self, to: u16, tag: u32, mut b: B, c: &mut Counters) -> bool {
        let Some(q) = self.queues.get_mut(usize::from(to)) else {
            c.drop(DropReason::HandoffQueueFull);
            return false;
        };
        if q.len() >= self.cap {
            c.drop(DropReason::HandoffQueueFull);
            return false;
        }
        b.set_tag(tag);
        q.push(b);
        true
    }

    /// The frames queued for worker `to` (the poll loop drains it into the ring).
    pub fn queue(&mut self, to: u16) -> Option<&mut Vec<B>> {
        self.queues.get_mut(usize::from(to))
    }

    /// Frames queued in all.
    pub fn len(&self) -> usize {
        self.queues.iter().map(Vec::len).sum()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queues.iter().all(Vec::is_empty)
    }
}

impl<B: PacketBuf> Worker<B> {
    fn me(&self) -> u16 {
        self.cfg.worker_id
    }

    /// The worker owning public port `port` of this pool.
    pub(crate) fn port_owner(&self, port: u16) -> Option<u16> {
        port_owner(
            port,
            self.cfg.port_min,
            self.cfg.port_max,
            self.cfg.block_size,
            self.cfg.n_workers,
        )
    }

    fn hand_off(&mut self, to: u16, tag: u32, b: B, ev: Event) {
        if self.outbox.push(to, tag, b, &mut self.counters) {
            self.counters.inc(ev);
        }
    }

    /// Decides where an IPv4 frame received from the NIC on `side` is processed: returns it
    /// when this worker owns it, else hands it over (or holds it, for fragments whose owner is
    /// not known yet) and returns `None`. Only called with more than one worker.
    pub(crate) fn steer(
        &mut self,
        side: Side,
        b: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Option<B> {
        match side {
            Side::Inside => {
                if self.cfg.steering.inside == SteerMode::Nic {
                    self.counters.inc(Event::SteerNicInside);
                    return Some(b);
                }
                let Some(src) = be32(b.data(), ETH + 12) else {
                    return Some(b);
                };
                let owner = subscriber_owner(src, self.cfg.n_workers);
                if owner == self.me() {
                    self.counters.inc(Event::SteerLocal);
                    return Some(b);
                }
                self.hand_off(owner, tag::INSIDE, b, Event::HandoffInside);
                None
            }
            Side::Outside => match self.outside_class(b.data()) {
                OutsideClass::Local => Some(b),
                OutsideClass::Port(p) => {
                    let owner = self.port_owner(p).unwrap_or(self.me());
                    if owner == self.me() {
                        self.counters
                            .inc(if self.cfg.steering.outside == SteerMode::Nic {
                                Event::SteerNicOutside
                            } else {
                                Event::SteerLocal
                            });
                        return Some(b);
                    }
                    self.hand_off(owner, tag::OUTSIDE, b, Event::HandoffOutside);
                    None
                }
                OutsideClass::Fragment => {
                    let Some(key) = b.data().get(ETH..).and_then(FragKey::of_ipv4) else {
                        return Some(b);
                    };
                    let home = fragment_home(&key, self.cfg.n_workers);
                    if home != self.me() {
                        self.hand_off(home, tag::FRAGMENT, b, Event::HandoffFragment);
                        return None;
                    }
                    self.steer_fragment(b, now, tx, alloc);
                    None
                }
            },
        }
    }

    fn outside_class(&self, f: &[u8]) -> OutsideClass {
        if !is_ipv4(f) {
            return OutsideClass::Local;
        }
        let Some(dst) = be32(f, ETH + 16) else {
            return OutsideClass::Local;
        };
        if !self.nat.is_pool_address(dst) {
            return OutsideClass::Local;
        }
        match be16(f, ETH + 6) {
            Some(ff) if ff & 0x3fff != 0 => return OutsideClass::Fragment,
            Some(_) => {}
            None => return OutsideClass::Local,
        }
        match outside_port(f, ETH) {
            Some(p) => OutsideClass::Port(p),
            None => OutsideClass::Local,
        }
    }

    /// At a datagram's home worker: learns the owner from the first fragment, holds fragments
    /// that come before it, and forwards everything to the owner in arrival order.
    fn steer_fragment(&mut self, b: B, now: u64, tx: &mut Tx<B>, alloc: &mut impl BufAlloc<B>) {
        let ip = b.data().get(ETH..).unwrap_or(&[]);
        let (Some(key), Some(info)) = (FragKey::of_ipv4(ip), FragInfo::of_ipv4(ip)) else {
            // Malformed: let the normal path count it here.
            self.process_owned(Side::Outside, b, now, tx, alloc);
            return;
        };
        if info.is_first() {
            let owner = outside_port(b.data(), ETH)
                .and_then(|p| self.port_owner(p))
                .unwrap_or(self.me());
            if let Err(r) = self.frag_steer.record_first(key, owner, info, now) {
                self.counters.drop(frag_drop(r));
                return;
            }
            self.deliver_fragment(owner, b, now, tx, alloc);
            // The per-datagram hold limit is at most 64 (validated config).
            let mut held: [Option<B>; 64] = [const { None }; 64];
            let mut n = 0;
            self.frag_steer.drain_held(&key, |h| {
                if let Some(slot) = held.get_mut(n) {
                    *slot = Some(h);
                    n += 1;
                }
            });
            for h in held.iter_mut().take(n) {
                if let Some(h) = h.take() {
                    self.deliver_fragment(owner, h, now, tx, alloc);
                }
            }
            return;
        }
        match self.frag_steer.non_first(key, b, info, now) {
            NonFirst::Translate(b, owner) => self.deliver_fragment(owner, b, now, tx, alloc),
            NonFirst::Held => self.counters.inc(Event::FragmentSteerHeld),
            NonFirst::Drop(_b, r) => self.counters.drop(frag_drop(r)),
        }
    }

    fn deliver_fragment(
        &mut self,
        owner: u16,
        b: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        if owner == self.me() {
            self.process_owned(Side::Outside, b, now, tx, alloc);
        } else {
            self.hand_off(owner, tag::OUTSIDE, b, Event::HandoffOutside);
        }
    }

    /// Sends a learn-only copy of the ARP frame `b` (received on `side`) to every other
    /// worker, so each neighbour cache learns the sender.
    pub(crate) fn replicate_arp(&mut self, side: Side, b: &B, alloc: &mut impl BufAlloc<B>) {
        let t = match side {
            Side::Inside => tag::ARP_INSIDE,
            Side::Outside => tag::ARP_OUTSIDE,
        };
        let src = b.data();
        for w in 0..self.cfg.n_workers {
            if w == self.me() {
                continue;
            }
            let Some(mut c) = alloc.alloc() else {
                self.counters.drop(DropReason::NoBuffer);
                continue;
            };
            if !c.set_len(src.len()) {
                self.counters.drop(DropReason::NoBuffer);
                continue;
            }
            c.data_mut().copy_from_slice(src);
            self.hand_off(w, t, c, Event::HandoffArp);
        }
    }

    /// Hands a hairpinned packet (already translated outbound) to `owner`, the worker of its
    /// destination port block.
    pub(crate) fn hand_off_hairpin(&mut self, owner: u16, b: B) {
        self.hand_off(owner, tag::HAIRPIN, b, Event::HandoffHairpin);
    }

    /// Processes a frame another worker handed to this one (read from a handoff ring).
    pub fn process_handoff(
        &mut self,
        b: B,
        now_ns: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        self.counters.inc(Event::HandoffReceived);
        match b.tag() {
            tag::INSIDE => self.process_owned(Side::Inside, b, now_ns, tx, alloc),
            tag::OUTSIDE => self.process_owned(Side::Outside, b, now_ns, tx, alloc),
            tag::FRAGMENT => self.steer_fragment(b, now_ns, tx, alloc),
            tag::ARP_INSIDE => self.arp_learn(Side::Inside, b, now_ns, tx),
            tag::ARP_OUTSIDE => self.arp_learn(Side::Outside, b, now_ns, tx),
            tag::HAIRPIN => {
                if let Err(r) = self.hairpin_in(b, now_ns, tx, alloc) {
                    self.counters.drop(r);
                }
            }
            _ => self.counters.drop(DropReason::HandoffBadTag),
        }
    }

    /// The inbound half of a hairpinned packet whose outbound half ran on another worker.
    fn hairpin_in(
        &mut self,
        buf: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let ip = Self::read_ip(&buf)?;
        let flow = self.flow(Side::Outside, &buf, &ip)?;
        self.nat_in(buf, &ip, flow, now, tx, alloc, true)
            .map_err(|r| match r {
                DropReason::NoBinding
                | DropReason::Filtered
                | DropReason::TcpNoSession
                | DropReason::SynUnsolicited => DropReason::Hairpin,
                r => r,
            })?;
        self.counters.inc(Event::Hairpinned);
        Ok(())
    }

    /// The handoff outbox (the poll loop moves its frames to the rings after every burst).
    pub fn outbox(&mut self) -> &mut Outbox<B> {
        &mut self.outbox
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_owner_follows_block_modulo_workers() {
        // 1024..=65535, blocks of 512, 2 workers: block 0 (1024..1535) → 0, block 1 → 1.
        assert_eq!(port_owner(1024, 1024, 65535, 512, 2), Some(0));
        assert_eq!(port_owner(1535, 1024, 65535, 512, 2), Some(0));
        assert_eq!(port_owner(1536, 1024, 65535, 512, 2), Some(1));
        assert_eq!(port_owner(2048, 1024, 65535, 512, 2), Some(0));
        assert_eq!(port_owner(80, 1024, 65535, 512, 2), None);
        assert_eq!(port_owner(5000, 1024, 65535, 512, 1), Some(0));
    }

    #[test]
    fn subscriber_owner_is_in_range_and_spreads() {
        for n in 1..=8u16 {
            let mut seen = vec![0u32; usize::from(n)];
            for a in 0..4096u32 {
                let o = subscriber_owner(0x6440_0000 + a, n);
                assert!(o < n);
                seen[usize::from(o)] += 1;
            }
            for (w, &c) in seen.iter().enumerate() {
                let even = 4096 / u32::from(n);
                assert!(c > even * 8 / 10, "worker {w} of {n} got {c} of 4096");
            }
        }
    }

    #[test]
    fn port_mask_rules_agree_with_port_owner() {
        for (min, bs, n) in [
            (1024u16, 512u16, 2u16),
            (1024, 256, 4),
            (2048, 64, 8),
            (4096, 1024, 4),
        ] {
            let rules = port_mask_rules(min, bs, n).unwrap();
            assert_eq!(rules.len(), usize::from(n));
            for p in min..=65535u16 {
                let hits: Vec<u16> = rules
                    .iter()
                    .filter(|&&(v, m, _)| p & m == v)
                    .map(|&(_, _, w)| w)
                    .collect();
                assert_eq!(hits.len(), 1, "port {p}: {hits:?}");
                assert_eq!(Some(hits[0]), port_owner(p, min, 65535, bs, n), "port {p}");
            }
        }
        // Layouts that are not a bit field of the port.
        assert_eq!(port_mask_rules(1024, 512, 1), None);
        assert_eq!(port_mask_rules(1024, 500, 2), None);
        assert_eq!(port_mask_rules(1024, 512, 3), None);
        assert_eq!(
            port_mask_rules(1024, 1024, 2),
            None,
            "1024 is not a multiple of 2048"
        );
    }

    #[test]
    fn fragment_home_is_in_range() {
        for n in 1..=4u16 {
            for id in 0..1000u16 {
                let k = FragKey {
                    src: 0x0808_0808,
                    dst: 0xcb00_7101,
                    proto: 17,
                    ident: id,
                };
                assert!(fragment_home(&k, n) < n);
            }
        }
    }
}
