//! One worker's run-to-completion packet path: classify, validate, translate, resolve, emit.
//!
//! A [`Worker`] owns all the state of the subscribers and public port blocks assigned to it
//! (bindings, subscribers, neighbour caches, counters) and is driven by its lcore's poll loop:
//! [`Worker::process`] for every received frame, [`Worker::poll`] once per loop iteration for
//! timers. Nothing here locks, allocates from the heap, makes a syscall or logs; every drop is
//! a [`DropReason`] counted on the spot. Buffers that are dropped are simply dropped (which
//! frees an mbuf back to its pool).

use crate::bindings::TimeoutClass;
use crate::buf::{BufAlloc, PacketBuf};
use crate::checksum;
use crate::config::{prefix_contains, PortAddr, WorkerConfig};
use crate::counters::{Counters, DropReason, Event};
use crate::nat::{NatParams, NatState};
use crate::neighbors::{Lookup, Neighbors};
use crate::port_block::BlockParams;
use crate::wire::ipv4::{self, Ipv4Error, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::l4::{tcp_flags, Segment};
use crate::wire::{arp, ethernet, icmp, WireError};

const ETH: usize = ethernet::HEADER_LEN;
/// Minimum Ethernet frame without FCS; frames we build are padded to it.
const MIN_FRAME: usize = 60;
/// Bindings reclaimed per poll at most (bounded work per loop iteration).
pub const EXPIRY_BUDGET: usize = 64;

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

    fn push(&mut self, side: Side, b: B, c: &mut Counters) {
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

/// L4 identity of a packet being translated.
#[derive(Debug, Clone, Copy)]
struct Flow {
    proto: u8,
    src: u32,
    dst: u32,
    /// Source port, or the ICMP echo identifier.
    sport: u16,
    /// Destination port, or the ICMP echo identifier.
    dport: u16,
    tcp_flags: u8,
    l4_off: usize,
    end: usize,
}

/// A worker.
#[derive(Debug)]
pub struct Worker<B> {
    cfg: WorkerConfig,
    nat: NatState,
    nb_in: Neighbors<B>,
    nb_out: Neighbors<B>,
    counters: Counters,
    icmp_tokens: u32,
    icmp_last_refill: u64,
    ip_ident: u16,
}

fn wire_drop(e: WireError) -> DropReason {
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

#[inline]
fn secs(now_ns: u64) -> u32 {
    u32::try_from(now_ns / 1_000_000_000).unwrap_or(u32::MAX)
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
                max_subscribers: cfg.max_subscribers,
                timeouts: cfg.timeouts,
            },
            cfg.seed,
        );
        Self {
            nb_in: Neighbors::new(cfg.neighbors),
            nb_out: Neighbors::new(cfg.neighbors),
            counters: Counters::default(),
            icmp_tokens: cfg.icmp_error_rate,
            icmp_last_refill: 0,
            ip_ident: 1,
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

    /// Subscribers with state on this worker.
    pub fn subscribers(&self) -> usize {
        self.nat.subscribers()
    }

    /// Port blocks currently allocated by this worker.
    pub fn blocks_allocated(&self) -> u32 {
        self.nat.blocks_allocated()
    }

    /// The NAT state (read-only), for inspection in tests and by the control plane.
    pub fn nat(&self) -> &NatState {
        &self.nat
    }

    /// Packets held waiting for ARP, (inside, outside).
    pub fn arp_held(&self) -> (u16, u16) {
        (self.nb_in.held(), self.nb_out.held())
    }

    fn port(&self, side: Side) -> PortAddr {
        match side {
            Side::Inside => self.cfg.inside,
            Side::Outside => self.cfg.outside,
        }
    }

    /// Processes every frame in `rx` (draining it), received on `side` at `now_ns`.
    pub fn process_burst(
        &mut self,
        side: Side,
        rx: &mut Vec<B>,
        now_ns: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        for b in rx.drain(..) {
            self.process(side, b, now_ns, tx, alloc);
        }
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
        if let Err(r) = self.process_inner(side, buf, now_ns, tx, alloc) {
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
            ethernet::ETHERTYPE_IPV4 => self.ipv4(side, buf, now, tx, alloc),
            ethernet::ETHERTYPE_ARP => self.arp(side, buf, now, tx),
            _ => Err(DropReason::UnsupportedEthertype),
        }
    }

    // ---- ARP -------------------------------------------------------------------------------

    fn arp(&mut self, side: Side, mut buf: B, now: u64, tx: &mut Tx<B>) -> Result<(), DropReason> {
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

    fn send_arp_request(
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

    // ---- IPv4 ------------------------------------------------------------------------------

    fn ipv4(
        &mut self,
        side: Side,
        mut buf: B,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let (src, dst, proto, ttl, frag, hl, total) = {
            let ip = ipv4::Packet::new_checked(&buf.data()[ETH..]).map_err(ipv4_drop)?;
            (
                ip.src(),
                ip.dst(),
                ip.protocol(),
                ip.ttl(),
                ip.is_fragment(),
                ip.header_len(),
                usize::from(ip.total_len()),
            )
        };
        let end = ETH + total;
        if buf.data().len() > end {
            // Ethernet padding (or trailing garbage) is not part of the datagram.
            buf.set_len(end);
        }
        let port = self.port(side);
        match side {
            Side::Inside => {
                if dst == port.addr || dst == self.cfg.outside.addr {
                    return self.local(side, buf, hl, end, tx);
                }
                if !self
                    .cfg
                    .subscribers
                    .iter()
                    .any(|&(n, l)| prefix_contains(n, l, src))
                {
                    return Err(DropReason::BadSource);
                }
            }
            Side::Outside => {
                if dst == port.addr {
                    return self.local(side, buf, hl, end, tx);
                }
                if !self.nat.is_pool_address(dst) {
                    return Err(DropReason::NotForUs);
                }
            }
        }
        if frag {
            return Err(DropReason::Fragment);
        }
        let flow = self.flow(side, &buf, src, dst, proto, ETH + hl, end)?;
        if side == Side::Inside && self.nat.is_pool_address(dst) {
            return Err(DropReason::Hairpin);
        }
        if ttl <= 1 {
            self.time_exceeded(side, &buf, hl, end, now, tx, alloc);
            return Err(DropReason::TtlExceeded);
        }
        match side {
            Side::Inside => self.nat_out(buf, flow, now, tx, alloc),
            Side::Outside => self.nat_in(buf, flow, now, tx, alloc),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn flow(
        &self,
        side: Side,
        buf: &B,
        src: u32,
        dst: u32,
        proto: u8,
        l4_off: usize,
        end: usize,
    ) -> Result<Flow, DropReason> {
        let l4 = &buf.data()[l4_off..end];
        let (sport, dport, tcp_flags) = match proto {
            PROTO_TCP | PROTO_UDP => {
                let s = Segment::new_checked(l4, proto).map_err(wire_drop)?;
                (s.src_port(), s.dst_port(), s.tcp_flags())
            }
            PROTO_ICMP => {
                let m = icmp::Message::new_checked(l4).map_err(wire_drop)?;
                let wanted = match side {
                    Side::Inside => icmp::ECHO_REQUEST,
                    Side::Outside => icmp::ECHO_REPLY,
                };
                if m.msg_type() != wanted || m.code() != 0 {
                    return Err(DropReason::IcmpUnsupportedType);
                }
                (m.ident(), m.ident(), 0)
            }
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        Ok(Flow {
            proto,
            src,
            dst,
            sport,
            dport,
            tcp_flags,
            l4_off,
            end,
        })
    }

    fn tcp_class(&self, idx: u32, flags: u8) -> TimeoutClass {
        if flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            TimeoutClass::TcpTransitory
        } else if flags & tcp_flags::SYN != 0 {
            TimeoutClass::TcpEstablished
        } else if self.nat.bindings.get(idx).class == TimeoutClass::TcpTransitory as u8 {
            TimeoutClass::TcpTransitory
        } else {
            TimeoutClass::TcpEstablished
        }
    }

    fn refresh(&mut self, idx: u32, f: &Flow, now: u64) {
        let class = match f.proto {
            PROTO_TCP => self.tcp_class(idx, f.tcp_flags),
            PROTO_UDP => TimeoutClass::Udp,
            _ => TimeoutClass::Icmp,
        };
        self.nat.bindings.touch(idx, secs(now), class);
    }

    fn nat_out(
        &mut self,
        mut buf: B,
        f: Flow,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let m = self.nat.map_outbound(f.proto, f.src, f.sport, secs(now))?;
        if m.created {
            self.counters.inc(Event::BindingCreated);
        }
        if m.new_subscriber {
            self.counters.inc(Event::SubscriberCreated);
        }
        if m.new_block {
            self.counters.inc(Event::BlockAllocated);
        }
        self.refresh(m.idx, &f, now);
        let b = *self.nat.bindings.get(m.idx);
        let d = buf.data_mut();
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
            ip.set_src(b.pub_ip);
            ip.decrement_ttl();
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
        self.counters.inc(Event::NatOut);
        let out = self.cfg.outside;
        let nh = if out.on_link(f.dst) {
            f.dst
        } else {
            out.next_hop.ok_or(DropReason::NoRoute)?
        };
        self.emit(Side::Outside, buf, nh, now, tx, alloc);
        Ok(())
    }

    fn nat_in(
        &mut self,
        mut buf: B,
        f: Flow,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) -> Result<(), DropReason> {
        let idx = self
            .nat
            .map_inbound(f.proto, f.dst, f.dport)
            .ok_or(DropReason::NoBinding)?;
        self.refresh(idx, &f, now);
        let b = *self.nat.bindings.get(idx);
        let d = buf.data_mut();
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut d[ETH..f.end]);
            ip.set_dst(b.sub_ip);
            ip.decrement_ttl();
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
        self.counters.inc(Event::NatIn);
        let inside = self.cfg.inside;
        let nh = if inside.on_link(b.sub_ip) {
            b.sub_ip
        } else {
            inside.next_hop.ok_or(DropReason::NoRoute)?
        };
        self.emit(Side::Inside, buf, nh, now, tx, alloc);
        Ok(())
    }

    /// Sends `buf` (an IPv4 datagram after the Ethernet header) to next hop `nh` on `side`,
    /// holding it while ARP resolves.
    fn emit(
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

    // ---- Traffic for the appliance itself ----------------------------------------------------

    fn local(
        &mut self,
        side: Side,
        mut buf: B,
        hl: usize,
        end: usize,
        tx: &mut Tx<B>,
    ) -> Result<(), DropReason> {
        let d = buf.data();
        if d[ETH + 9] != PROTO_ICMP {
            return Err(DropReason::ToSelf);
        }
        let l4 = &d[ETH + hl..end];
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
            let ip = &mut d[ETH..ETH + hl];
            let mut src = [0u8; 4];
            src.copy_from_slice(&ip[12..16]);
            ip.copy_within(16..20, 12);
            ip[16..20].copy_from_slice(&src);
            ip[8] = 64;
            ip[10..12].fill(0);
            let c = checksum::checksum(ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        icmp::Message::new_checked(&mut d[ETH + hl..end])
            .map_err(wire_drop)?
            .set_type(icmp::ECHO_REPLY);
        self.counters.inc(Event::IcmpEchoReplySent);
        tx.push(side, buf, &mut self.counters);
        Ok(())
    }

    // ---- Generated ICMP errors ---------------------------------------------------------------

    fn icmp_allowed(&mut self, now: u64) -> bool {
        let rate = self.cfg.icmp_error_rate;
        if rate == 0 {
            return false;
        }
        let interval = 1_000_000_000 / u64::from(rate);
        let elapsed = now.saturating_sub(self.icmp_last_refill);
        if let Some(add) = elapsed.checked_div(interval) {
            if add > 0 {
                self.icmp_tokens = u32::try_from(u64::from(self.icmp_tokens) + add)
                    .unwrap_or(u32::MAX)
                    .min(rate);
                self.icmp_last_refill += add * interval;
            }
        }
        if self.icmp_tokens == 0 {
            return false;
        }
        self.icmp_tokens -= 1;
        true
    }

    /// RFC 792 time exceeded (type 11 code 0) back to the sender of `orig`, from the address of
    /// the port it arrived on, quoting its IP header and first 8 payload bytes.
    #[allow(clippy::too_many_arguments)]
    fn time_exceeded(
        &mut self,
        side: Side,
        orig: &B,
        hl: usize,
        end: usize,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        if !self.icmp_allowed(now) {
            self.counters.inc(Event::IcmpRateLimited);
            return;
        }
        let quote_end = end.min(ETH + hl + 8);
        let quote = &orig.data()[ETH..quote_end];
        let Some(mut b) = alloc.alloc() else {
            self.counters.drop(DropReason::NoBuffer);
            return;
        };
        let ip_len = ipv4::MIN_HEADER_LEN + icmp::HEADER_LEN + quote.len();
        if !b.set_len((ETH + ip_len).max(MIN_FRAME)) || !b.set_len(ETH + ip_len) {
            self.counters.drop(DropReason::NoBuffer);
            return;
        }
        let port = self.port(side);
        let orig_src = u32::from_be_bytes([quote[12], quote[13], quote[14], quote[15]]);
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let d = b.data_mut();
        let total = u16::try_from(ip_len).unwrap_or(u16::MAX);
        ipv4::write_header(
            &mut d[ETH..],
            total,
            self.ip_ident,
            64,
            PROTO_ICMP,
            port.addr,
            orig_src,
        );
        let icmp_at = ETH + ipv4::MIN_HEADER_LEN;
        d[icmp_at..icmp_at + 8].copy_from_slice(&[icmp::TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0]);
        d[icmp_at + 8..].copy_from_slice(quote);
        let c = checksum::checksum(&d[icmp_at..]);
        d[icmp_at + 2..icmp_at + 4].copy_from_slice(&c.to_be_bytes());
        self.counters.inc(Event::IcmpTimeExceededSent);
        let nh = if port.on_link(orig_src) {
            orig_src
        } else if let Some(n) = port.next_hop {
            n
        } else {
            self.counters.drop(DropReason::NoRoute);
            return;
        };
        self.emit(side, b, nh, now, tx, alloc);
    }

    // ---- Timers ------------------------------------------------------------------------------

    /// Timer work for one poll-loop iteration: ARP retries and give-ups, binding expiry.
    /// Bounded: at most [`EXPIRY_BUDGET`] bindings and the outstanding ARP entries.
    pub fn poll(&mut self, now: u64, tx: &mut Tx<B>, alloc: &mut impl BufAlloc<B>) {
        let (pin, pout) = (self.cfg.inside, self.cfg.outside);
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
        self.nat.expire(secs(now), EXPIRY_BUDGET);
    }
}

/// Rewrites one address (in the pseudo-header) and one port/identifier of a TCP, UDP or ICMP
/// echo header, updating its checksum incrementally (RFC 1624). `source`: the source port is
/// rewritten (outbound), else the destination port (inbound).
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
            let Ok(mut s) = Segment::new_checked(l4, proto) else {
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
