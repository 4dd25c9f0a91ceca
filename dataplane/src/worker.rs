//! One worker's run-to-completion packet path: classify, validate, dispatch; ARP; traffic for
//! the appliance itself; next-hop resolution and emission; timers.
//!
//! A [`Worker`] owns all the state of the subscribers and public port blocks assigned to it
//! (bindings, sessions, subscribers, neighbour caches, fragment and SYN-hold tables, counters)
//! and is driven by its lcore's poll loop: [`Worker::process`] for every received frame,
//! [`Worker::poll`] for timers. Nothing here locks, allocates from the heap, makes a syscall or
//! logs; every drop is a [`DropReason`] counted on the spot. Translation proper is in
//! `translate.rs`, generated ICMP errors in `icmp_gen.rs`.

use crate::buf::{BufAlloc, PacketBuf};
use crate::checksum;
use crate::config::{prefix_contains, PortAddr, WorkerConfig};
use crate::counters::{Counters, DropReason, Event};
use crate::fragments::{FragDrop, FragmentTable};
use crate::nat::{NatParams, NatState};
use crate::neighbors::{Lookup, Neighbors};
use crate::port_block::BlockParams;
use crate::steer::Outbox;
use crate::syn_hold::SynHold;
use crate::wire::ipv4::{self, Ipv4Error, PROTO_GRE, PROTO_ICMP};
use crate::wire::{arp, ethernet, icmp, WireError};

pub(crate) const ETH: usize = ethernet::HEADER_LEN;
/// Minimum Ethernet frame without FCS; frames we build are padded to it.
pub(crate) const MIN_FRAME: usize = 60;
/// Entries of each kind reclaimed per poll at most (bounded work per loop iteration).
pub const EXPIRY_BUDGET: u32 = 64;

/// Which port a frame arrived on or leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Subscriber-facing port.
    Inside,
    /// Internet-facing port.
    Outside,
}

/// Frames to transmit after a burst, per port. Capacity is fixed at construction; a push
/// beyond it is a counted drop, never a reallocation.
#[derive(Debug)]
pub struct Tx<B> {
    /// Frames for the inside port.
    pub inside: Vec<B>,
    /// Frames for the outside port.
    pub outside: Vec<B>,
    cap: usize,
}

impl<B> Tx<B> {
    /// Two queues of `cap` frames each.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            inside: Vec::with_capacity(cap),
            outside: Vec::with_capacity(cap),
            cap,
        }
    }

    pub(crate) fn push(&mut self, side: Side, b: B, c: &mut Counters) {
        let (q, ev) = match side {
            Side::Inside => (&mut self.inside, Event::TxInside),
            Side::Outside => (&mut self.outside, Event::TxOutside),
        };
        if q.len() >= self.cap {
            c.drop(DropReason::TxFull);
            return;
        }
        q.push(b);
        c.inc(ev);
    }
}

/// The translation a fragmented datagram's later fragments get: the new source and the new
/// destination address (0: unchanged). Outbound: source only; inbound: destination only;
/// hairpinned: both.
pub(crate) type FragValue = (u32, u32);

/// A worker.
#[derive(Debug)]
pub struct Worker<B> {
    pub(crate) cfg: WorkerConfig,
    pub(crate) nat: NatState,
    pub(crate) nb_in: Neighbors<B>,
    pub(crate) nb_out: Neighbors<B>,
    pub(crate) frags: FragmentTable<B, FragValue>,
    /// Outside fragments whose home is this worker: datagram → owning worker.
    pub(crate) frag_steer: FragmentTable<B, u16>,
    /// Frames for other workers, flushed by the poll loop after every burst.
    pub(crate) outbox: Outbox<B>,
    pub(crate) syn_hold: SynHold,
    pub(crate) counters: Counters,
    pub(crate) icmp_tokens: u32,
    pub(crate) icmp_last_refill: u64,
    pub(crate) ip_ident: u16,
    /// ALG sessions and expectations (`alg_glue.rs`).
    pub(crate) alg: crate::alg_glue::AlgState,
}

pub(crate) fn wire_drop(e: WireError) -> DropReason {
    match e {
        WireError::Truncated => DropReason::L4Truncated,
        WireError::Malformed => DropReason::L4Malformed,
        WireError::Checksum => DropReason::IcmpChecksum,
    }
}

fn ipv4_drop(e: Ipv4Error) -> DropReason {
    match e {
        Ipv4Error::Truncated => DropReason::Ipv4Truncated,
        Ipv4Error::Version => DropReason::Ipv4Version,
        Ipv4Error::HeaderLength => DropReason::Ipv4HeaderLength,
        Ipv4Error::TotalLength => DropReason::Ipv4TotalLength,
        Ipv4Error::Checksum => DropReason::Ipv4Checksum,
    }
}

pub(crate) fn frag_drop(d: FragDrop) -> DropReason {
    match d {
        FragDrop::Timeout => DropReason::FragmentTimeout,
        FragDrop::Conflict => DropReason::FragmentConflict,
        FragDrop::TableFull
        | FragDrop::HoldFull
        | FragDrop::DatagramHoldFull
        | FragDrop::AlreadyRecorded => DropReason::FragmentTableFull,
    }
}

/// Seconds on the worker clock.
#[inline]
pub(crate) fn secs(now_ns: u64) -> u32 {
    u32::try_from(now_ns / 1_000_000_000).unwrap_or(u32::MAX)
}

/// The binding key a frame will be looked up by, read without validation (a wrong guess only
/// warms the wrong cache line): inside (protocol, source, source port), outside (protocol,
/// destination, destination port).
#[inline]
fn quick_key(side: Side, f: &[u8]) -> Option<u64> {
    if f.get(12..14)? != [8, 0] {
        return None;
    }
    let ihl = usize::from(f.get(ETH)? & 0x0f) * 4;
    let proto = *f.get(ETH + 9)?;
    let l4 = ETH + ihl;
    let (addr_at, port_at) = match (side, proto) {
        (Side::Inside, PROTO_ICMP) => (ETH + 12, l4 + 4),
        (Side::Outside, PROTO_ICMP) => (ETH + 16, l4 + 4),
        (Side::Inside, _) => (ETH + 12, l4),
        (Side::Outside, _) => (ETH + 16, l4 + 2),
    };
    let a = f.get(addr_at..addr_at + 4)?;
    let p = f.get(port_at..port_at + 2)?;
    Some(crate::bindings::key(
        proto,
        u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
        u16::from_be_bytes([p[0], p[1]]),
    ))
}

/// What the IPv4 header says, read once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ip {
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub ttl: u8,
    pub hl: usize,
    /// End of the datagram in the frame (Ethernet header included).
    pub end: usize,
    pub more_frags: bool,
    pub frag_offset: u16,
    pub dont_frag: bool,
    pub total: u16,
    pub ident: u16,
}

impl Ip {
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }
    pub fn is_first_fragment(&self) -> bool {
        self.more_frags && self.frag_offset == 0
    }
}

impl<B: PacketBuf> Worker<B> {
    /// Builds a worker; all tables are allocated here, none later.
    pub fn new(cfg: WorkerConfig) -> Self {
        let nat = NatState::new(
            NatParams {
                blocks: BlockParams {
                    pool: cfg.pool.clone(),
                    port_min: cfg.port_min,
                    port_max: cfg.port_max,
                    block_size: cfg.block_size,
                    worker_id: cfg.worker_id,
                    n_workers: cfg.n_workers,
                    max_blocks_in_use: cfg
                        .max_subscribers
                        .saturating_mul(u32::from(cfg.max_blocks_per_subscriber)),
                },
                max_blocks_per_subscriber: cfg.max_blocks_per_subscriber,
                max_bindings: cfg.max_bindings,
                max_sessions: cfg.max_sessions,
                max_subscribers: cfg.max_subscribers,
                max_sessions_per_subscriber: cfg.max_sessions_per_subscriber,
                timeouts: cfg.timeouts.clone(),
                filtering: cfg.filtering,
                preserve_parity: cfg.preserve_parity,
                hold_down_secs: cfg.hold_down_secs,
                deterministic: cfg.deterministic.clone(),
                session_log: cfg.session_log.clone(),
            },
            cfg.seed,
        );
        Self {
            nb_in: Neighbors::new(cfg.neighbors),
            nb_out: Neighbors::new(cfg.neighbors),
            frags: FragmentTable::new(cfg.fragments),
            frag_steer: FragmentTable::new(if cfg.n_workers > 1 {
                cfg.fragments
            } else {
                crate::fragments::FragParams {
                    max_datagrams: 1,
                    max_held_total: 1,
                    ..cfg.fragments
                }
            }),
            outbox: Outbox::new(
                if cfg.n_workers > 1 { cfg.n_workers } else { 0 },
                cfg.steering.outbox,
            ),
            syn_hold: SynHold::new(cfg.max_syn_hold),
            counters: Counters::default(),
            icmp_tokens: cfg.icmp_error_rate,
            icmp_last_refill: 0,
            ip_ident: 1,
            alg: crate::alg_glue::AlgState::new(&cfg.alg),
            nat,
            cfg,
        }
    }

    /// The worker's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The worker's counters, for the poll loop to add its own (e.g. NIC TX ring full).
    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// Active bindings.
    pub fn bindings(&self) -> u32 {
        self.nat.bindings.len()
    }

    /// Active sessions.
    pub fn sessions(&self) -> u32 {
        self.nat.sessions.len()
    }

    /// Subscribers with state on this worker.
    pub fn subscribers(&self) -> usize {
        self.nat.subscribers()
    }

    /// Port blocks currently allocated by this worker.
    pub fn blocks_allocated(&self) -> u32 {
        self.nat.blocks_allocated()
    }

    /// Drains (or undrains) public address `addr` before the worker starts polling, e.g. the
    /// drains kept across a restart (`api.state_file`). Returns whether it is a pool address.
    pub fn set_drained(&mut self, addr: u32, on: bool) -> bool {
        self.nat.set_drained(addr, on)
    }

    /// The NAT state (read-only), for inspection in tests and by the control plane.
    pub fn nat(&self) -> &NatState {
        &self.nat
    }

    /// Packets held waiting for ARP, (inside, outside).
    pub fn arp_held(&self) -> (u16, u16) {
        (self.nb_in.held(), self.nb_out.held())
    }

    /// Hands the queued control-plane events (port blocks, exhaustion) to `f`. Called by the
    /// poll loop between bursts.
    pub fn drain_events(&mut self, f: impl FnMut(crate::events::WorkerEvent)) {
        self.nat.events.drain(f);
    }

    /// For shutdown: a `BlockReleased` event for every block still allocated (the state is about
    /// to vanish, so a later start may give those ports to someone else; the port-block log
    /// must say when this holder's use ended). Hands them to `f` directly, not through the
    /// bounded queue.
    pub fn shutdown_events(&self, now_ns: u64, mut f: impl FnMut(crate::events::WorkerEvent)) {
        let at_s = secs(now_ns);
        self.nat
            .allocated_blocks(|subscriber, public, port_start, port_end| {
                f(crate::events::WorkerEvent::BlockReleased {
                    subscriber,
                    public,
                    port_start,
                    port_end,
                    at_s,
                });
            });
    }

    /// Events dropped because the queue was full, and exhaustion events suppressed by the rate
    /// limit.
    pub fn events_lost(&self) -> (u64, u64) {
        (self.nat.events.dropped(), self.nat.events.suppressed())
    }

    /// Unsolicited inbound SYNs currently held.
    pub fn syns_held(&self) -> u32 {
        self.syn_hold.len()
    }

    /// Fragmented datagrams tracked and fragments held.
    pub fn fragments(&self) -> (u32, u16) {
        (self.frags.len(), self.frags.held())
    }

    pub(crate) fn port(&self, side: Side) -> PortAddr {
        match side {
            Side::Inside => self.cfg.inside,
            Side::Outside => self.cfg.outside,
        }
    }

    /// Processes every frame in `rx` (draining it), received on `side` at `now_ns`.
    ///
    /// Before processing, one pass loads the binding-index slot of every frame, and a second
    /// pass the binding records those slots point to: the loads of a pass are independent, so
    /// their cache misses overlap (ARCHITECTURE.md: "hash and prefetch per burst") instead of
    /// each packet paying two misses in a row at large table sizes. Done with plain loads, no
    /// `unsafe` prefetch intrinsic.
    pub fn process_burst(
        &mut self,
        side: Side,
        rx: &mut Vec<B>,
        now_ns: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        if rx.len() > 1 {
            self.warm(side, rx);
        }
        for b in rx.drain(..) {
            self.process(side, b, now_ns, tx, alloc);
        }
    }

    fn warm(&self, side: Side, rx: &[B]) {
        let mut acc = 0u32;
        for b in rx.iter().take(64) {
            if let Some(k) = quick_key(side, b.data()) {
                acc ^= match side {
                    Side::Inside => self.nat.bindings.warm_inside(k),
                    Side::Outside => self.nat.bindings.warm_outside(k),
                };
            }
        }
        std::hint::black_box(acc);
    }

    /// Processes one frame received on `side` at `now_ns` (nanoseconds on any monotonic clock).
    pub fn process(
        &mut self,
        side: Side,
        buf: B,
        now_ns: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        self.counters.inc(match side {
            Side::Inside => Event::RxInside,
            Side::Outside => Event::RxOutside,
        });
        if let Err(r) = self.process_inner(side, buf, now_ns, tx, alloc, self.cfg.n_workers > 1) {
            self.counters.drop(r);
        }
    }

    /// Processes a frame this worker owns (handed over by another worker, or released by the
    /// fragment steering): no steering decision.
    pub(crate) fn process_owned(
        &mut self,
        side: Side,
        buf: B,
        now_ns: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        if let Err(r) = self.process_inner(side, buf, now_ns, tx, alloc, false) {
            self.counters.drop(r);
        }
    }

    fn process_inner(
        &mut self,
        side: Side,
        buf: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
        steer: bool,
    ) -> Result<(), DropReason> {
        let port = self.port(side);
        let eth = ethernet::Frame::new_checked(buf.data()).map_err(|_| DropReason::EthTruncated)?;
        let dst = eth.dst();
        if dst != port.mac && dst != ethernet::BROADCAST {
            return Err(DropReason::NotOurMac);
        }
        if eth.src() == port.mac {
            return Err(DropReason::Looped);
        }
        match eth.ethertype() {
            ethernet::ETHERTYPE_IPV4 => {
                let buf = if steer {
                    match self.steer(side, buf, now, tx, alloc) {
                        Some(b) => b,
                        None => return Ok(()),
                    }
                } else {
                    buf
                };
                self.ipv4(side, buf, now, tx, alloc)
            }
            ethernet::ETHERTYPE_ARP => {
                if steer {
                    self.replicate_arp(side, &buf, alloc);
                }
                self.arp(side, buf, now, tx, false)
            }
            _ => Err(DropReason::UnsupportedEthertype),
        }
    }

    /// A learn-only ARP copy from another worker: update the neighbour cache (and release
    /// frames held for the sender), never answer.
    pub(crate) fn arp_learn(&mut self, side: Side, buf: B, now: u64, tx: &mut Tx<B>) {
        match self.arp(side, buf, now, tx, true) {
            Ok(()) | Err(DropReason::ArpNotForUs) => {}
            Err(r) => self.counters.drop(r),
        }
    }

    // ---- ARP -------------------------------------------------------------------------------

    fn arp(
        &mut self,
        side: Side,
        mut buf: B,
        now: u64,
        tx: &mut Tx<B>,
        learn_only: bool,
    ) -> Result<(), DropReason> {
        let port = self.port(side);
        let (op, sha, spa, tpa) = {
            let p = arp::Packet::new_checked(&buf.data()[ETH..])
                .map_err(|_| DropReason::ArpMalformed)?;
            (p.oper(), p.sha(), p.spa(), p.tpa())
        };
        let ours = match side {
            Side::Inside => tpa == port.addr,
            Side::Outside => tpa == port.addr || self.nat.is_pool_address(tpa),
        };
        if spa != 0 {
            let Self {
                nb_in,
                nb_out,
                counters,
                ..
            } = self;
            let nb = if side == Side::Inside { nb_in } else { nb_out };
            nb.learn(spa, sha, now, ours, |mut held| {
                if held.data().len() >= ETH {
                    ethernet::write_header(
                        held.data_mut(),
                        sha,
                        port.mac,
                        ethernet::ETHERTYPE_IPV4,
                    );
                    counters.inc(Event::ArpHeldSent);
                    tx.push(side, held, counters);
                }
            });
        }
        if learn_only {
            return Ok(());
        }
        if !ours {
            return Err(DropReason::ArpNotForUs);
        }
        match op {
            arp::OP_REQUEST => {
                self.counters.inc(Event::ArpRequestRx);
                let d = buf.data_mut();
                ethernet::write_header(d, sha, port.mac, ethernet::ETHERTYPE_ARP);
                arp::write(&mut d[ETH..], arp::OP_REPLY, port.mac, tpa, sha, spa);
                self.counters.inc(Event::ArpReplySent);
                tx.push(side, buf, &mut self.counters);
                Ok(())
            }
            arp::OP_REPLY => {
                self.counters.inc(Event::ArpReplyRx);
                Ok(())
            }
            _ => Err(DropReason::ArpMalformed),
        }
    }

    pub(crate) fn send_arp_request(
        port: PortAddr,
        side: Side,
        target: u32,
        alloc: &mut impl BufAlloc<B>,
        tx: &mut Tx<B>,
        c: &mut Counters,
    ) {
        let Some(mut b) = alloc.alloc() else {
            c.drop(DropReason::NoBuffer);
            return;
        };
        if !b.set_len(MIN_FRAME) {
            c.drop(DropReason::NoBuffer);
            return;
        }
        let d = b.data_mut();
        d.fill(0);
        ethernet::write_header(d, ethernet::BROADCAST, port.mac, ethernet::ETHERTYPE_ARP);
        arp::write(
            &mut d[ETH..],
            arp::OP_REQUEST,
            port.mac,
            port.addr,
            [0; 6],
            target,
        );
        c.inc(Event::ArpRequestSent);
        tx.push(side, b, c);
    }

    // ---- IPv4 classification ------------------------------------------------------------------

    fn ipv4(
        &mut self,
        side: Side,
        mut buf: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let ip = Self::read_ip(&buf)?;
        if buf.data().len() > ip.end {
            // Ethernet padding (or trailing garbage) is not part of the datagram.
            buf.set_len(ip.end);
        }
        self.ipv4_classified(side, buf, &ip, now, tx, alloc)
    }

    /// Validates and reads the IPv4 header of the frame in `buf`.
    pub(crate) fn read_ip(buf: &B) -> Result<Ip, DropReason> {
        let p =
            ipv4::Packet::new_checked(buf.data().get(ETH..).unwrap_or(&[])).map_err(ipv4_drop)?;
        Ok(Ip {
            src: p.src(),
            dst: p.dst(),
            proto: p.protocol(),
            ttl: p.ttl(),
            hl: p.header_len(),
            end: ETH + usize::from(p.total_len()),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
            dont_frag: p.dont_frag(),
            total: p.total_len(),
            ident: p.ident(),
        })
    }

    fn ipv4_classified(
        &mut self,
        side: Side,
        buf: B,
        ip: &Ip,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let ip = *ip;
        let port = self.port(side);
        match side {
            Side::Inside => {
                if ip.dst == port.addr || ip.dst == self.cfg.outside.addr {
                    return self.local(side, buf, &ip, tx);
                }
                if !self.is_subscriber(ip.src) {
                    return Err(DropReason::BadSource);
                }
                if self.is_no_translate(ip.dst) {
                    return self.passthrough(Side::Outside, buf, &ip, now, tx, alloc);
                }
            }
            Side::Outside => {
                if ip.dst == port.addr {
                    return self.local(side, buf, &ip, tx);
                }
                if self.is_no_translate(ip.src) && self.is_subscriber(ip.dst) {
                    return self.passthrough(Side::Inside, buf, &ip, now, tx, alloc);
                }
                if !self.nat.is_pool_address(ip.dst) {
                    return Err(DropReason::NotForUs);
                }
            }
        }
        if !self.cfg.translate {
            let to = if side == Side::Inside {
                Side::Outside
            } else {
                Side::Inside
            };
            return self.passthrough(to, buf, &ip, now, tx, alloc);
        }
        if ip.frag_offset != 0 {
            return self.non_first_fragment(buf, &ip, now, tx, alloc);
        }
        if ip.proto == PROTO_ICMP {
            let t = buf.data().get(ETH + ip.hl).copied().unwrap_or(0);
            if crate::icmp_error::is_translated_error(t) || t == 4 || t == 5 {
                return self.icmp_error(side, buf, &ip, now, tx, alloc);
            }
        }
        if ip.proto == PROTO_GRE {
            self.gre_check(&buf, &ip)?;
        }
        let flow = self.flow(side, &buf, &ip)?;
        if ip.ttl <= 1 {
            self.send_icmp_error(
                side,
                &buf,
                &ip,
                icmp::TIME_EXCEEDED,
                0,
                None,
                now,
                tx,
                alloc,
            );
            return Err(DropReason::TtlExceeded);
        }
        let mtu = match side {
            Side::Inside => self.cfg.outside.mtu,
            Side::Outside => self.cfg.inside.mtu,
        };
        if ip.total > mtu {
            if ip.dont_frag {
                self.send_icmp_error(
                    side,
                    &buf,
                    &ip,
                    icmp::DEST_UNREACHABLE,
                    4,
                    Some(mtu),
                    now,
                    tx,
                    alloc,
                );
                return Err(DropReason::TooBig);
            }
            return Err(DropReason::TooBigNoDf);
        }
        if ip.proto == PROTO_GRE {
            return self.gre_translate(side, buf, &flow, now, tx, alloc);
        }
        match side {
            Side::Inside => self.nat_out(buf, &ip, flow, now, tx, alloc),
            Side::Outside => self.nat_in(buf, &ip, flow, now, tx, alloc, false),
        }
    }

    pub(crate) fn is_subscriber(&self, a: u32) -> bool {
        self.cfg
            .subscribers
            .iter()
            .any(|&(n, l)| prefix_contains(n, l, a))
    }

    fn is_no_translate(&self, a: u32) -> bool {
        self.cfg
            .no_translate
            .iter()
            .any(|&(n, l)| prefix_contains(n, l, a))
    }

    /// Sends `buf` (an IPv4 datagram after the Ethernet header) to next hop `nh` on `side`,
    /// holding it while ARP resolves.
    pub(crate) fn emit(
        &mut self,
        side: Side,
        mut buf: B,
        nh: u32,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        let port = self.port(side);
        let Self {
            nb_in,
            nb_out,
            counters,
            ..
        } = self;
        let nb = if side == Side::Inside { nb_in } else { nb_out };
        match nb.lookup(nh, now) {
            Lookup::Ready { mac, refresh } => {
                ethernet::write_header(buf.data_mut(), mac, port.mac, ethernet::ETHERTYPE_IPV4);
                tx.push(side, buf, counters);
                if refresh {
                    Self::send_arp_request(port, side, nh, alloc, tx, counters);
                }
            }
            Lookup::Hold { request } => {
                match nb.hold(nh, buf) {
                    Ok(()) => counters.inc(Event::ArpHeld),
                    Err(_) => counters.drop(DropReason::ArpQueueFull),
                }
                if request {
                    Self::send_arp_request(port, side, nh, alloc, tx, counters);
                }
            }
            Lookup::Full => counters.drop(DropReason::ArpQueueFull),
        }
    }

    /// The next hop for `dst` on `side`: itself when on-link, else the port's next hop.
    pub(crate) fn next_hop(&self, side: Side, dst: u32) -> Result<u32, DropReason> {
        let p = self.port(side);
        if p.on_link(dst) {
            Ok(dst)
        } else {
            p.next_hop.ok_or(DropReason::NoRoute)
        }
    }

    // ---- Traffic for the appliance itself ----------------------------------------------------

    fn local(&mut self, side: Side, mut buf: B, ip: &Ip, tx: &mut Tx<B>) -> Result<(), DropReason> {
        if ip.proto != PROTO_ICMP || ip.is_fragment() {
            return Err(DropReason::ToSelf);
        }
        let hl = ip.hl;
        let l4 = &buf.data()[ETH + hl..ip.end];
        let m = icmp::Message::new_checked(l4).map_err(wire_drop)?;
        if m.msg_type() != icmp::ECHO_REQUEST || m.code() != 0 {
            return Err(DropReason::ToSelf);
        }
        if !m.verify_checksum() {
            return Err(DropReason::IcmpChecksum);
        }
        let port = self.port(side);
        let d = buf.data_mut();
        let peer_mac = ethernet::Frame::new_checked(&d[..])
            .map(|e| e.src())
            .map_err(|_| DropReason::EthTruncated)?;
        ethernet::write_header(d, peer_mac, port.mac, ethernet::ETHERTYPE_IPV4);
        {
            let h = &mut d[ETH..ETH + hl];
            let mut src = [0u8; 4];
            src.copy_from_slice(&h[12..16]);
            h.copy_within(16..20, 12);
            h[16..20].copy_from_slice(&src);
            h[8] = 64;
            h[10..12].fill(0);
            let c = checksum::checksum(h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        icmp::Message::new_checked(&mut d[ETH + hl..ip.end])
            .map_err(wire_drop)?
            .set_type(icmp::ECHO_REPLY);
        self.counters.inc(Event::IcmpEchoReplySent);
        tx.push(side, buf, &mut self.counters);
        Ok(())
    }

    // ---- Timers ------------------------------------------------------------------------------

    /// Timer work for one poll-loop iteration: ARP retries and give-ups, expiry of sessions,
    /// bindings, port hold-downs, held SYNs and fragments. Bounded: at most
    /// [`EXPIRY_BUDGET`] entries of each kind and the outstanding ARP requests.
    pub fn poll(&mut self, now: u64, tx: &mut Tx<B>, alloc: &mut impl BufAlloc<B>) {
        let (pin, pout) = (self.cfg.inside, self.cfg.outside);
        {
            let Self {
                nb_in,
                nb_out,
                counters,
                ..
            } = self;
            for (side, nb, port) in [(Side::Inside, nb_in, pin), (Side::Outside, nb_out, pout)] {
                let mut reqs = [0u32; 16];
                let mut n = 0;
                nb.poll(
                    now,
                    reqs.len(),
                    |ip| {
                        if n < reqs.len() {
                            reqs[n] = ip;
                            n += 1;
                        }
                    },
                    |_held| counters.drop(DropReason::ArpUnresolved),
                );
                for &ip in &reqs[..n] {
                    Self::send_arp_request(port, side, ip, alloc, tx, counters);
                }
            }
        }
        {
            let Self {
                frag_steer,
                counters,
                ..
            } = self;
            frag_steer.expire(now, EXPIRY_BUDGET as usize, |_b| {
                counters.drop(DropReason::FragmentTimeout)
            });
        }
        let e = self.nat.expire(secs(now), EXPIRY_BUDGET);
        self.counters
            .add(Event::BindingExpired, u64::from(e.bindings));
        self.counters
            .add(Event::SessionExpired, u64::from(e.sessions));
        self.counters.add(Event::BlockReleased, u64::from(e.blocks));
        {
            let Self {
                frags, counters, ..
            } = self;
            frags.expire(now, EXPIRY_BUDGET as usize, |_b| {
                counters.drop(DropReason::FragmentTimeout)
            });
        }
        self.expire_syn_hold(now, tx, alloc);
        self.alg_poll(now, EXPIRY_BUDGET);
    }
}
