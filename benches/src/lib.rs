//! Shared helpers for the benchmarks and the end-to-end harness.
//!
//! - the addressing plan ([`config`], [`Shape`]: subscribers x ports per subscriber);
//! - 64-byte UDP frame templates built once with etherparse, then patched per flow with
//!   RFC 1624 incremental checksum updates ([`set_src`], [`set_dst`]), so preparing a frame
//!   costs a 60-byte copy and a few adds, never a rebuild;
//! - a [`Rig`]: a [`Worker`] on [`VecBuf`]s with its next hop resolved by ARP, as in the
//!   scenario tests;
//! - [`Bursts`]: preallocated bursts of 32 buffers that are prepared outside the timed region
//!   and then run through [`Worker::process_burst`] inside it, buffers recycled, nothing
//!   allocated per packet;
//! - the criterion configuration and the quick mode (`CGNAT_BENCH_QUICK=1`);
//! - memory probes ([`rss_bytes`]) and the bench binaries' global allocator ([`alloc`]:
//!   live-byte count, optional huge pages with `CGNAT_BENCH_THP=1`).
#![deny(unsafe_code)]

pub mod alloc;

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use dataplane::bindings::key;
use dataplane::checksum;
use dataplane::wire::ipv4::PROTO_UDP;
use dataplane::{PacketBuf, Side, Tx, VecAlloc, VecBuf, Worker, WorkerConfig};

/// The appliance's inside MAC.
pub const IN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The appliance's outside MAC.
pub const OUT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Every subscriber's MAC (one L2 segment behind the inside port).
pub const SUB_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x10];
/// The outside next hop's MAC.
pub const NH_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x20];
/// Inside port address, 100.64.0.1/10.
pub const IN_ADDR: u32 = 0x6440_0001;
/// Outside port address, 198.51.100.1/24.
pub const OUT_ADDR: u32 = 0xc633_6401;
/// Outside next hop, 198.51.100.2.
pub const NEXT_HOP: u32 = 0xc633_6402;
/// The remote server every flow talks to (off-link, via the next hop), 8.8.8.8.
pub const REMOTE: u32 = 0x0808_0808;
/// The remote server's port.
pub const REMOTE_PORT: u16 = 443;
/// First subscriber address, 100.64.1.0 (subscriber `s` is `SUB_BASE + s`).
pub const SUB_BASE: u32 = 0x6440_0100;
/// First inside source port of every subscriber.
pub const PORT_BASE: u16 = 10_000;
/// First public pool address, 198.18.0.0 (RFC 2544 benchmarking range).
pub const POOL_BASE: u32 = 0xc612_0000;
/// One second on the worker clock.
pub const SEC: u64 = 1_000_000_000;
/// Frame length without FCS: 64 bytes on the wire (14 Ethernet + 20 IPv4 + 8 UDP + 18 payload).
pub const FRAME_LEN: usize = 60;
/// UDP payload bytes in a [`FRAME_LEN`] frame.
pub const PAYLOAD_LEN: usize = FRAME_LEN - 14 - 20 - 8;
/// Packets per burst (`rte_eth_rx_burst` size in the daemon).
pub const BURST: usize = 32;
/// TX queue capacity of a [`Rig`] (a burst plus room for ARP requests).
pub const TX_CAP: usize = 64;
/// Bursts per timed chunk in the benches: 32 x 32 = 1024 packets between two clock reads.
pub const CHUNK_BURSTS: usize = 32;
/// Ports per block (the lab default).
pub const BLOCK_SIZE: u16 = 512;

static TEST_MODE: AtomicBool = AtomicBool::new(false);

/// Whether `CGNAT_BENCH_QUICK=1`: small tables and sub-second measurements (a smoke run whose
/// numbers mean nothing, used by the report test).
pub fn quick() -> bool {
    std::env::var("CGNAT_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Whether tables are small: quick mode, or a bench binary run by `cargo test` (criterion's
/// test mode, which runs every benchmark once: it checks that they work, not how fast).
pub fn small_tables() -> bool {
    quick() || TEST_MODE.load(Ordering::Relaxed)
}

/// Whether `CGNAT_BENCH_16M=1`: also run the 16 M-binding lookup benchmarks (about 2 GiB and
/// 10 s of setup).
pub fn huge_enabled() -> bool {
    std::env::var("CGNAT_BENCH_16M").is_ok_and(|v| v == "1")
}

/// The criterion configuration of every bench file: 10 samples, 1 s warm-up, 3 s measurement
/// (both a few hundred milliseconds in quick mode, without plots). Command-line flags still
/// override it. Also reads `CGNAT_BENCH_THP` (see [`alloc`]); criterion's generated `main`
/// calls this first, before any table is built.
pub fn criterion() -> Criterion {
    alloc::init_from_env();
    // `cargo bench` passes `--bench`; without it criterion runs in test mode.
    if !std::env::args().any(|a| a == "--bench") {
        TEST_MODE.store(true, Ordering::Relaxed);
    }
    let c = Criterion::default().sample_size(10);
    if small_tables() {
        c.warm_up_time(Duration::from_millis(50))
            .measurement_time(Duration::from_millis(200))
            .without_plots()
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

/// A benchmark name: `base`, with `_thp` appended when the tables are on huge pages
/// (`CGNAT_BENCH_THP=1`), so both variants can be kept side by side.
pub fn name(base: &str) -> String {
    if alloc::thp() {
        format!("{base}_thp")
    } else {
        base.to_string()
    }
}

/// The "10 K" table: 40 subscribers x 256 ports = 10 240 bindings (same in quick mode).
pub fn shape_10k() -> Shape {
    Shape::new(40, 256)
}

/// The "1 M" table: 4096 subscribers x 256 ports = 1 048 576 bindings
/// (with [`small_tables`]: 1024 x 16 = 16 384).
pub fn shape_1m() -> Shape {
    if small_tables() {
        Shape::new(1024, 16)
    } else {
        Shape::new(4096, 256)
    }
}

/// The "16 M" table: 65 536 subscribers x 256 ports = 16 777 216 bindings.
pub fn shape_16m() -> Shape {
    Shape::new(65_536, 256)
}

/// A population of flows: `subscribers` addresses from [`SUB_BASE`], each with `ports` UDP
/// source ports from [`PORT_BASE`], all to [`REMOTE`]:[`REMOTE_PORT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Subscriber addresses.
    pub subscribers: u32,
    /// Source ports per subscriber.
    pub ports: u32,
}

impl Shape {
    /// A shape; `ports` must leave the port range (`PORT_BASE + ports <= 65536`).
    pub const fn new(subscribers: u32, ports: u32) -> Self {
        assert!(ports >= 1 && ports <= 65_536 - PORT_BASE as u32);
        assert!(subscribers >= 1 && subscribers <= 1 << 22);
        Self { subscribers, ports }
    }

    /// The smallest shape with `ports` ports per subscriber and at least `n` flows.
    pub fn at_least(n: u32, ports: u32) -> Self {
        Self::new(n.div_ceil(ports), ports)
    }

    /// Number of flows.
    pub fn flows(&self) -> u32 {
        self.subscribers * self.ports
    }

    /// Flow `i` as (subscriber address, source port). Port-major: consecutive flows come from
    /// different subscribers, as when many subscribers open connections at once.
    #[inline]
    pub fn flow(&self, i: u32) -> (u32, u16) {
        let s = i % self.subscribers;
        let p = i / self.subscribers;
        let port = u16::try_from(u32::from(PORT_BASE) + p).expect("flow index within the shape");
        (SUB_BASE + s, port)
    }

    /// Subscriber address `s`.
    pub fn subscriber(&self, s: u32) -> u32 {
        SUB_BASE + s
    }
}

/// Deterministic pseudo-random numbers (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; `n > 0`).
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        let v = ((self.next_u64() >> 32) * u64::from(n)) >> 32;
        u32::try_from(v).unwrap_or(0)
    }
}

/// A worker configuration for `shape` with room for `max_bindings` bindings and as many
/// sessions: the lab addressing (endpoint-independent filtering, 120 s port hold-down), one subscriber record per subscriber, enough blocks per subscriber for its
/// ports (+1 spare), a public pool of at least 256 addresses (more if the blocks need it),
/// an ARP cache for every subscriber, and ARP refresh disabled (the benches advance the
/// clock by hours and must not see the next hop go stale).
pub fn config(shape: Shape, max_bindings: u32) -> WorkerConfig {
    let mut c = WorkerConfig::lab_default();
    c.inside.addr = IN_ADDR;
    c.inside.mac = IN_MAC;
    c.outside.addr = OUT_ADDR;
    c.outside.mac = OUT_MAC;
    c.outside.next_hop = Some(NEXT_HOP);
    c.block_size = BLOCK_SIZE;
    let blocks_per_sub = shape.ports.div_ceil(u32::from(BLOCK_SIZE)) + 1;
    c.max_blocks_per_subscriber =
        u16::try_from(blocks_per_sub.min(32)).expect("at most 32 blocks per subscriber");
    c.max_subscribers = shape.subscribers;
    c.max_bindings = max_bindings;
    // Room for one session per binding (a TCP connection each); UDP under the default
    // endpoint-independent filtering uses none.
    c.max_sessions = max_bindings;
    c.max_sessions_per_subscriber = c.max_sessions_per_subscriber.max(2 * shape.ports + 16);
    let blocks_per_addr =
        (u32::from(c.port_max) - u32::from(c.port_min) + 1) / u32::from(BLOCK_SIZE);
    let addrs = (shape.subscribers * blocks_per_sub)
        .div_ceil(blocks_per_addr)
        .next_power_of_two()
        .max(256);
    c.pool = (0..addrs).map(|i| POOL_BASE + i).collect();
    c.neighbors.max_entries = shape.subscribers.max(4096) + 16;
    c.neighbors.entry_timeout_ns = u64::MAX / 4;
    c
}

fn udp_frame(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: u32,
    sport: u16,
    dst: u32,
    dport: u16,
) -> [u8; FRAME_LEN] {
    let b = etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src.to_be_bytes(), dst.to_be_bytes(), 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(FRAME_LEN);
    b.write(&mut v, &[0x5a; PAYLOAD_LEN])
        .expect("etherparse writes a UDP frame");
    v.try_into().expect("a 60-byte frame")
}

/// The outbound template: subscriber 0, port [`PORT_BASE`] -> [`REMOTE`]:[`REMOTE_PORT`],
/// TTL 64, 18 bytes of payload, valid IPv4 and UDP checksums.
pub fn outbound_template() -> [u8; FRAME_LEN] {
    udp_frame(SUB_MAC, IN_MAC, SUB_BASE, PORT_BASE, REMOTE, REMOTE_PORT)
}

/// The inbound template: [`REMOTE`]:[`REMOTE_PORT`] -> first pool address, port 1024.
pub fn inbound_template() -> [u8; FRAME_LEN] {
    udp_frame(NH_MAC, OUT_MAC, REMOTE, REMOTE_PORT, POOL_BASE, 1024)
}

/// An outbound TCP SYN (no payload: 54 bytes, zero-padded to the 60-byte minimum frame),
/// subscriber 0, port [`PORT_BASE`] -> [`REMOTE`]:[`REMOTE_PORT`]: opens a connection, so
/// the worker creates a binding and a session for it.
pub fn tcp_syn_template() -> [u8; FRAME_LEN] {
    let b = etherparse::PacketBuilder::ethernet2(SUB_MAC, IN_MAC)
        .ipv4(SUB_BASE.to_be_bytes(), REMOTE.to_be_bytes(), 64)
        .tcp(PORT_BASE, REMOTE_PORT, 1000, 64_240)
        .syn();
    let mut v = Vec::with_capacity(FRAME_LEN);
    b.write(&mut v, &[]).expect("etherparse writes a TCP SYN");
    v.resize(FRAME_LEN, 0);
    v.try_into().expect("a 60-byte frame")
}

fn rd32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

fn rd16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

// Offsets in an untagged Ethernet + 20-byte IPv4 + UDP frame.
const IP_CSUM: usize = 24;
const IP_SRC: usize = 26;
const IP_DST: usize = 30;
const UDP_SPORT: usize = 34;
const UDP_DPORT: usize = 36;
const UDP_CSUM: usize = 40;
const TCP_CSUM: usize = 50;
const IP_PROTO: usize = 23;

fn patch(frame: &mut [u8], ip_at: usize, port_at: usize, ip: u32, port: u16) {
    let old_ip = rd32(frame, ip_at);
    let old_port = rd16(frame, port_at);
    let ipc = checksum::update32(rd16(frame, IP_CSUM), old_ip, ip);
    let (l4_at, l4c) = if frame[IP_PROTO] == PROTO_UDP {
        let c = rd16(frame, UDP_CSUM);
        let c = checksum::udp_update16(checksum::udp_update32(c, old_ip, ip), old_port, port);
        (UDP_CSUM, c)
    } else {
        let c = rd16(frame, TCP_CSUM);
        let c = checksum::update16(checksum::update32(c, old_ip, ip), old_port, port);
        (TCP_CSUM, c)
    };
    frame[ip_at..ip_at + 4].copy_from_slice(&ip.to_be_bytes());
    frame[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
    frame[IP_CSUM..IP_CSUM + 2].copy_from_slice(&ipc.to_be_bytes());
    frame[l4_at..l4_at + 2].copy_from_slice(&l4c.to_be_bytes());
}

/// Sets the IPv4 source address and UDP/TCP source port of a template frame, keeping both
/// checksums valid.
#[inline]
pub fn set_src(frame: &mut [u8], ip: u32, port: u16) {
    patch(frame, IP_SRC, UDP_SPORT, ip, port);
}

/// Sets the IPv4 destination address and UDP/TCP destination port of a template frame,
/// keeping both checksums valid.
#[inline]
pub fn set_dst(frame: &mut [u8], ip: u32, port: u16) {
    patch(frame, IP_DST, UDP_DPORT, ip, port);
}

/// An ARP request (Ethernet broadcast) from `smac`/`spa` for `tpa`, padded to 60 bytes.
pub fn arp_request(smac: [u8; 6], spa: u32, tpa: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(60);
    v.extend_from_slice(&[0xff; 6]);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&spa.to_be_bytes());
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&tpa.to_be_bytes());
    v.resize(60, 0);
    v
}

/// A worker on in-memory buffers, its TX queues, a buffer allocator and a clock.
#[derive(Debug)]
pub struct Rig {
    /// The worker.
    pub w: Worker<VecBuf>,
    /// Its TX queues ([`TX_CAP`] frames each).
    pub tx: Tx<VecBuf>,
    /// Buffers for frames the worker builds (ARP requests, ICMP errors).
    pub alloc: VecAlloc,
    /// The clock, nanoseconds.
    pub now: u64,
}

impl Rig {
    /// A worker for `cfg` whose outside next hop is resolved (it sends us an ARP request for
    /// our outside address, as in the scenario tests).
    pub fn new(cfg: WorkerConfig) -> Self {
        let mut r = Self {
            w: Worker::new(cfg),
            tx: Tx::with_capacity(TX_CAP),
            alloc: VecAlloc::default(),
            now: SEC,
        };
        r.send(Side::Outside, &arp_request(NH_MAC, NEXT_HOP, OUT_ADDR));
        assert_eq!(r.tx.outside.len(), 1, "ARP reply to the next hop");
        r.clear_tx();
        r
    }

    /// A worker for [`config`]`(shape, shape.flows())` with one binding per flow of `shape`.
    pub fn with_flows(shape: Shape) -> Self {
        let mut r = Self::new(config(shape, shape.flows()));
        r.establish(shape, 0..shape.flows());
        if alloc::thp() {
            eprintln!(
                "{} bindings, RSS {} MiB, of which on huge pages: {} MiB",
                shape.flows(),
                rss_bytes().unwrap_or(0) >> 20,
                anon_huge_bytes().unwrap_or(0) >> 20
            );
        }
        r
    }

    /// Processes one frame (allocating its buffer: setup only).
    pub fn send(&mut self, side: Side, frame: &[u8]) {
        self.w.process(
            side,
            VecBuf::from_frame(frame),
            self.now,
            &mut self.tx,
            &mut self.alloc,
        );
    }

    /// Empties both TX queues.
    pub fn clear_tx(&mut self) {
        self.tx.inside.clear();
        self.tx.outside.clear();
    }

    /// Makes every subscriber of `shape` known to the inside ARP cache (each sends an ARP
    /// request for the inside address), so inbound translations can be sent at once.
    pub fn resolve_subscribers(&mut self, shape: Shape) {
        for s in 0..shape.subscribers {
            self.send(
                Side::Inside,
                &arp_request(SUB_MAC, shape.subscriber(s), IN_ADDR),
            );
            self.clear_tx();
        }
    }

    /// Sends one outbound packet for each flow in `flows` (creating its binding) and returns
    /// the time spent in the worker, frame preparation excluded. Panics if any packet is not
    /// translated.
    pub fn establish(&mut self, shape: Shape, flows: Range<u32>) -> Duration {
        self.establish_with(shape, flows, outbound_template())
    }

    /// As [`establish`](Self::establish) with TCP SYNs: every flow gets a binding and a
    /// session.
    pub fn establish_tcp(&mut self, shape: Shape, flows: Range<u32>) -> Duration {
        self.establish_with(shape, flows, tcp_syn_template())
    }

    fn establish_with(
        &mut self,
        shape: Shape,
        flows: Range<u32>,
        tpl: [u8; FRAME_LEN],
    ) -> Duration {
        let mut bursts = Bursts::with_template(Side::Inside, CHUNK_BURSTS, tpl);
        let chunk = u32::try_from(bursts.packets()).expect("small chunk");
        let mut i = flows.start;
        let mut t = Duration::ZERO;
        while flows.end - i >= chunk {
            bursts.prepare(|| {
                let f = shape.flow(i);
                i += 1;
                f
            });
            t += bursts.run(self);
        }
        // The remainder, one frame at a time.
        let mut buf = VecBuf::from_frame(&tpl);
        while i < flows.end {
            buf.set_len(FRAME_LEN);
            buf.data_mut().copy_from_slice(&tpl);
            let (ip, port) = shape.flow(i);
            set_src(buf.data_mut(), ip, port);
            let start = Instant::now();
            self.w
                .process(Side::Inside, buf, self.now, &mut self.tx, &mut self.alloc);
            t += start.elapsed();
            buf = match self.tx.outside.pop() {
                Some(b) => b,
                None => panic!("flow {i} was not translated: {:?}", self.w.counters()),
            };
            i += 1;
        }
        t
    }

    /// The public (address, port) of the UDP binding of subscriber `ip`, port `port`.
    pub fn outside_endpoint(&self, ip: u32, port: u16) -> Option<(u32, u16)> {
        self.binding_endpoint(PROTO_UDP, ip, port)
    }

    /// The public (address, port) of the `proto` binding of subscriber `ip`, port `port`.
    pub fn binding_endpoint(&self, proto: u8, ip: u32, port: u16) -> Option<(u32, u16)> {
        let t = &self.w.nat().bindings;
        t.find_inside(key(proto, ip, port)).map(|i| {
            let b = t.get(i);
            (b.pub_ip, b.pub_port)
        })
    }
}

/// Preallocated bursts of [`BURST`] frames received on one side. Frames are (re)written
/// from a template by [`prepare`](Self::prepare), outside any timed region, and then run
/// through the worker by [`run`](Self::run), which times only the worker. The translated
/// buffers come back from the TX queue and are reused: no allocation per packet.
#[derive(Debug)]
pub struct Bursts {
    side: Side,
    template: [u8; FRAME_LEN],
    bursts: Vec<Vec<VecBuf>>,
}

impl Bursts {
    /// `n` bursts of frames received on `side` (`Inside`: outbound frames, `Outside`: inbound).
    pub fn new(side: Side, n: usize) -> Self {
        let template = match side {
            Side::Inside => outbound_template(),
            Side::Outside => inbound_template(),
        };
        Self::with_template(side, n, template)
    }

    /// `n` bursts of frames made from `template` (patched at its source for `Inside`, at its
    /// destination for `Outside`).
    pub fn with_template(side: Side, n: usize, template: [u8; FRAME_LEN]) -> Self {
        let bursts = (0..n)
            .map(|_| {
                // Capacity TX_CAP: these vectors take turns as the rig's TX queue.
                let mut v = Vec::with_capacity(TX_CAP);
                v.extend((0..BURST).map(|_| VecBuf::from_frame(&template)));
                v
            })
            .collect();
        Self {
            side,
            template,
            bursts,
        }
    }

    /// Frames per [`run`](Self::run).
    pub fn packets(&self) -> usize {
        self.bursts.len() * BURST
    }

    /// Rewrites every frame from the template, each for the next (address, port) `next`
    /// yields: the source for outbound frames, the destination for inbound ones.
    #[inline]
    pub fn prepare(&mut self, mut next: impl FnMut() -> (u32, u16)) {
        for burst in &mut self.bursts {
            for buf in burst.iter_mut() {
                buf.set_len(FRAME_LEN);
                let d = buf.data_mut();
                d.copy_from_slice(&self.template);
                let (ip, port) = next();
                match self.side {
                    Side::Inside => set_src(d, ip, port),
                    Side::Outside => set_dst(d, ip, port),
                }
            }
        }
    }

    /// Runs every burst through [`Worker::process_burst`] at `rig.now` and returns the time
    /// that took. Panics (after the clock is read) if any frame was not translated.
    #[inline]
    pub fn run(&mut self, rig: &mut Rig) -> Duration {
        let start = Instant::now();
        for burst in &mut self.bursts {
            rig.w
                .process_burst(self.side, burst, rig.now, &mut rig.tx, &mut rig.alloc);
            let out = match self.side {
                Side::Inside => &mut rig.tx.outside,
                Side::Outside => &mut rig.tx.inside,
            };
            std::mem::swap(burst, out);
        }
        let t = start.elapsed();
        self.check(rig);
        t
    }

    /// As [`run`](Self::run), but before each burst the timed region also looks up the
    /// binding of every frame in the burst (`find_inside` / `map_inbound`, read from the
    /// frame at fixed offsets). The lookups are independent, so their cache misses overlap,
    /// and the worker then finds the table lines in cache: an upper bound on what a per-burst
    /// hash-and-prefetch pass in `process_burst` would cost (a prefetch need not wait for the
    /// line), to estimate what it would save. Not what the worker does today.
    pub fn run_lookahead(&mut self, rig: &mut Rig) -> Duration {
        let start = Instant::now();
        for burst in &mut self.bursts {
            let nat = rig.w.nat();
            for buf in burst.iter() {
                let d = buf.data();
                let found = match self.side {
                    Side::Inside => nat.bindings.find_inside(key(
                        PROTO_UDP,
                        rd32(d, IP_SRC),
                        rd16(d, UDP_SPORT),
                    )),
                    Side::Outside => {
                        nat.map_inbound(PROTO_UDP, rd32(d, IP_DST), rd16(d, UDP_DPORT))
                    }
                };
                black_box(found);
            }
            rig.w
                .process_burst(self.side, burst, rig.now, &mut rig.tx, &mut rig.alloc);
            let out = match self.side {
                Side::Inside => &mut rig.tx.outside,
                Side::Outside => &mut rig.tx.inside,
            };
            std::mem::swap(burst, out);
        }
        let t = start.elapsed();
        self.check(rig);
        t
    }

    fn check(&self, rig: &Rig) {
        if self.bursts.iter().any(|b| b.len() != BURST) {
            panic!("a frame was not translated: {:?}", rig.w.counters());
        }
    }
}

/// The process's resident set size (`VmRSS` in `/proc/self/status`), in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// The process's peak resident set size (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Anonymous memory of the process backed by transparent huge pages (`AnonHugePages` in
/// `/proc/self/smaps_rollup`), in bytes.
pub fn anon_huge_bytes() -> Option<u64> {
    kb_field("/proc/self/smaps_rollup", "AnonHugePages:").map(|kb| kb * 1024)
}

fn status_kb(field: &str) -> Option<u64> {
    kb_field("/proc/self/status", field)
}

fn kb_field(path: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksums_ok(frame: &[u8]) {
        let p = etherparse::SlicedPacket::from_ethernet(frame).expect("parses");
        let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not ipv4")
        };
        let h = ip.header().to_header();
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        match &p.transport {
            Some(etherparse::TransportSlice::Udp(u)) => {
                let uh = u.to_header();
                assert_eq!(uh.checksum, uh.calc_checksum_ipv4(&h, u.payload()).unwrap());
            }
            Some(etherparse::TransportSlice::Tcp(t)) => {
                let th = t.to_header();
                assert_eq!(th.checksum, th.calc_checksum_ipv4(&h, t.payload()).unwrap());
            }
            _ => panic!("not udp or tcp"),
        }
    }

    #[test]
    fn patched_templates_keep_valid_checksums() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let ip = u32::try_from(rng.next_u64() >> 32).unwrap();
            let port = u16::try_from(rng.below(65_536)).unwrap();
            let mut f = outbound_template();
            set_src(&mut f, ip, port);
            checksums_ok(&f);
            let mut f = inbound_template();
            set_dst(&mut f, ip, port);
            checksums_ok(&f);
            let mut f = tcp_syn_template();
            set_src(&mut f, ip, port);
            checksums_ok(&f[..54]);
        }
    }

    #[test]
    fn rig_translates_both_ways() {
        let shape = Shape::new(8, 40);
        let mut rig = Rig::with_flows(shape);
        assert_eq!(rig.w.bindings(), 320);
        rig.resolve_subscribers(shape);
        let mut out = Bursts::new(Side::Inside, 2);
        let mut i = 0;
        out.prepare(|| {
            i += 1;
            shape.flow(i % shape.flows())
        });
        out.run(&mut rig);
        let mut inb = Bursts::new(Side::Outside, 2);
        let mut i = 0;
        inb.prepare(|| {
            i += 1;
            let (ip, port) = shape.flow(i % shape.flows());
            rig.outside_endpoint(ip, port).unwrap()
        });
        inb.run(&mut rig);
        checksums_ok(inb.bursts[0][0].data());
        assert_eq!(rig.w.bindings(), 320);
        let mut rig = Rig::new(config(shape, shape.flows()));
        rig.establish_tcp(shape, 0..shape.flows());
        assert_eq!(rig.w.bindings(), 320);
        assert_eq!(rig.w.sessions(), 320);
    }

    #[test]
    fn shape_flows_are_distinct() {
        let s = Shape::new(3, 5);
        let mut v: Vec<_> = (0..s.flows()).map(|i| s.flow(i)).collect();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 15);
    }
}
