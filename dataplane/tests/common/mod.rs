//! Test harness: a worker on in-memory buffers, frames built with etherparse, lab addresses.
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

use dataplane::{Side, Tx, VecAlloc, VecBuf, Worker, WorkerConfig};
use etherparse::PacketBuilder;
use std::net::Ipv4Addr;

pub const IN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const OUT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const SUB_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x10];
pub const NH_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x20];
pub const IN_ADDR: [u8; 4] = [100, 64, 0, 1];
pub const OUT_ADDR: [u8; 4] = [198, 51, 100, 1];
pub const SUB1: [u8; 4] = [100, 64, 0, 2];
pub const SUB2: [u8; 4] = [100, 64, 0, 3];
pub const SERVER: [u8; 4] = [198, 51, 100, 2];
pub const REMOTE: [u8; 4] = [8, 8, 8, 8];
pub const SEC: u64 = 1_000_000_000;

pub fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

pub fn in_pool(a: [u8; 4]) -> bool {
    a[0] == 203 && a[1] == 0 && a[2] == 113
}

pub struct Harness {
    pub w: Worker<VecBuf>,
    pub tx: Tx<VecBuf>,
    pub alloc: VecAlloc,
    pub now: u64,
}

pub struct Out {
    pub inside: Vec<Vec<u8>>,
    pub outside: Vec<Vec<u8>>,
}

impl Out {
    pub fn is_empty(&self) -> bool {
        self.inside.is_empty() && self.outside.is_empty()
    }
    pub fn only_outside(self) -> Vec<u8> {
        assert!(
            self.inside.is_empty(),
            "unexpected inside output: {:?}",
            self.inside
        );
        assert_eq!(
            self.outside.len(),
            1,
            "expected one outside frame, got {}",
            self.outside.len()
        );
        self.outside.into_iter().next().unwrap()
    }
    pub fn only_inside(self) -> Vec<u8> {
        assert!(
            self.outside.is_empty(),
            "unexpected outside output: {:?}",
            self.outside
        );
        assert_eq!(
            self.inside.len(),
            1,
            "expected one inside frame, got {}",
            self.inside.len()
        );
        self.inside.into_iter().next().unwrap()
    }
}

impl Harness {
    pub fn new(cfg: WorkerConfig) -> Self {
        Self {
            w: Worker::new(cfg),
            tx: Tx::with_capacity(256),
            alloc: VecAlloc::default(),
            now: SEC,
        }
    }

    /// A lab worker whose neighbours (subscribers 1 and 2, the outside next hop/server) are
    /// already resolved.
    pub fn lab() -> Self {
        let mut h = Self::new(WorkerConfig::lab_default());
        h.resolve_neighbors();
        h
    }

    pub fn resolve_neighbors(&mut self) {
        let o = self.send(Side::Outside, &arp_request(NH_MAC, SERVER, OUT_ADDR));
        assert_eq!(o.outside.len(), 1);
        for s in [SUB1, SUB2] {
            let o = self.send(Side::Inside, &arp_request(SUB_MAC, s, IN_ADDR));
            assert_eq!(o.inside.len(), 1);
        }
    }

    pub fn send(&mut self, side: Side, frame: &[u8]) -> Out {
        self.w.process(
            side,
            VecBuf::from_frame(frame),
            self.now,
            &mut self.tx,
            &mut self.alloc,
        );
        self.take()
    }

    pub fn poll(&mut self) -> Out {
        self.w.poll(self.now, &mut self.tx, &mut self.alloc);
        self.take()
    }

    pub fn take(&mut self) -> Out {
        Out {
            inside: self.tx.inside.drain(..).map(|b| b.to_vec()).collect(),
            outside: self.tx.outside.drain(..).map(|b| b.to_vec()).collect(),
        }
    }

    pub fn drops(&self, r: dataplane::DropReason) -> u64 {
        self.w.counters().dropped(r)
    }
}

pub fn udp(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, ttl)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub fn tcp(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    ttl: u8,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, ttl)
        .tcp(sport, dport, 1000, 64240);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(777);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub fn echo(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    request: bool,
    id: u16,
    seq: u16,
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(smac, dmac).ipv4(src, dst, ttl);
    let b = if request {
        b.icmpv4_echo_request(id, seq)
    } else {
        b.icmpv4_echo_reply(id, seq)
    };
    let mut v = Vec::new();
    b.write(&mut v, b"pingpayload").unwrap();
    v
}

pub fn arp_request(smac: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    arp(1, smac, [0xff; 6], spa, [0; 6], tpa)
}

pub fn arp(
    op: u16,
    smac: [u8; 6],
    dmac: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&dmac);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&smac);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa);
    v.resize(60, 0);
    v
}

/// Source address and port of an IPv4 TCP/UDP frame.
pub fn src_of(frame: &[u8]) -> ([u8; 4], u16) {
    let a = [frame[26], frame[27], frame[28], frame[29]];
    let ihl = usize::from(frame[14] & 0xf) * 4;
    let p = u16::from_be_bytes([frame[14 + ihl], frame[15 + ihl]]);
    (a, p)
}

/// Independently verifies every checksum of an Ethernet/IPv4 frame with etherparse.
pub fn assert_checksums_ok(frame: &[u8]) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).expect("parses");
    let Some(etherparse::NetSlice::Ipv4(ipv4)) = &p.net else {
        panic!("not ipv4")
    };
    let h = ipv4.header().to_header();
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "IPv4 header checksum"
    );
    let payload = ipv4.payload().payload;
    match &p.transport {
        Some(etherparse::TransportSlice::Udp(u)) => {
            let uh = u.to_header();
            if uh.checksum != 0 {
                assert_eq!(
                    uh.checksum,
                    uh.calc_checksum_ipv4(&h, u.payload()).unwrap(),
                    "UDP checksum"
                );
            }
        }
        Some(etherparse::TransportSlice::Tcp(t)) => {
            let th = t.to_header();
            assert_eq!(
                th.checksum,
                th.calc_checksum_ipv4(&h, t.payload()).unwrap(),
                "TCP checksum"
            );
        }
        Some(etherparse::TransportSlice::Icmpv4(_)) => {
            assert_eq!(
                dataplane::checksum::sum(payload, 0),
                0xffff,
                "ICMP checksum"
            );
        }
        _ => {}
    }
}

pub fn addr(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

// ---- Builders and accessors added for tests/rfc.rs (append-only) -----------------------------

/// TCP flag bits for [`tcp_seg`].
pub const TCP_FIN: u8 = 0x01;
/// SYN.
pub const TCP_SYN: u8 = 0x02;
/// RST.
pub const TCP_RST: u8 = 0x04;
/// ACK.
pub const TCP_ACK: u8 = 0x10;

/// An unfragmented IPv4 header for the `*_with` builders: identification and DF as given
/// (etherparse's `ipv4()` step always uses identification 0 and DF set).
pub fn ipv4_header(
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    ident: u16,
    df: bool,
) -> etherparse::Ipv4Header {
    etherparse::Ipv4Header {
        source: src,
        destination: dst,
        time_to_live: ttl,
        identification: ident,
        dont_fragment: df,
        ..Default::default()
    }
}

fn step_ip(
    smac: [u8; 6],
    dmac: [u8; 6],
    h: etherparse::Ipv4Header,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    PacketBuilder::ethernet2(smac, dmac).ip(etherparse::IpHeaders::Ipv4(h, Default::default()))
}

/// A UDP frame with the caller's IPv4 header (identification, DF, TTL).
pub fn udp_with(
    smac: [u8; 6],
    dmac: [u8; 6],
    h: etherparse::Ipv4Header,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    step_ip(smac, dmac, h)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// A TCP segment with `flags` ([`TCP_SYN`], [`TCP_ACK`], ...), seq 1000, ack 777 when ACK is
/// set, window 64240 and, when given, an MSS option. `tcp_seg(.., TCP_SYN, None, ..)` equals
/// `tcp(.., true, ..)` and `tcp_seg(.., TCP_ACK, None, ..)` equals `tcp(.., false, ..)`.
pub fn tcp_seg(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    ttl: u8,
    flags: u8,
    mss: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, ttl)
        .tcp(sport, dport, 1000, 64240);
    if flags & TCP_SYN != 0 {
        b = b.syn();
    }
    if flags & TCP_ACK != 0 {
        b = b.ack(777);
    }
    if flags & TCP_FIN != 0 {
        b = b.fin();
    }
    if flags & TCP_RST != 0 {
        b = b.rst();
    }
    if let Some(m) = mss {
        b = b
            .options(&[etherparse::TcpOptionElement::MaximumSegmentSize(m)])
            .unwrap();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An ICMP message of any type and code, rest-of-header `rest`, followed by `body` (for an
/// error: the quoted datagram from its IP header on), with the caller's IPv4 header.
pub fn icmp_with(
    smac: [u8; 6],
    dmac: [u8; 6],
    h: etherparse::Ipv4Header,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    step_ip(smac, dmac, h)
        .icmpv4_raw(icmp_type, code, rest)
        .write(&mut v, body)
        .unwrap();
    v
}

/// [`icmp_with`] with an etherparse default header (identification 0, DF set).
pub fn icmp_raw(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let h = etherparse::Ipv4Header {
        source: src,
        destination: dst,
        time_to_live: ttl,
        ..Default::default()
    };
    icmp_with(smac, dmac, h, icmp_type, code, rest, body)
}

/// Splits the unfragmented Ethernet/IPv4 frame `frame` into fragments whose IP payloads start
/// at 0 and at each of `cuts` (byte offsets, ascending multiples of 8), as a router would:
/// same identification, DF clear, MF on all but the last, header checksums recomputed.
pub fn fragment(frame: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let (h, rest) = etherparse::Ipv4Header::from_slice(&frame[14..]).unwrap();
    let payload = &rest[..usize::from(h.payload_len().unwrap())];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    let mut out = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let (start, end) = (w[0], w[1]);
        assert!(start % 8 == 0 && start < end, "bad cut {start}..{end}");
        let mut fh = h.clone();
        fh.dont_fragment = false;
        fh.more_fragments = i + 2 < bounds.len();
        fh.fragment_offset =
            etherparse::IpFragOffset::try_new(u16::try_from(start / 8).unwrap()).unwrap();
        fh.set_payload_len(end - start).unwrap();
        let mut v = frame[..14].to_vec();
        fh.write(&mut v).unwrap();
        v.extend_from_slice(&payload[start..end]);
        out.push(v);
    }
    out
}

/// The IPv4 datagram of an Ethernet frame (what an ICMP error quotes).
pub fn ip_part(frame: &[u8]) -> &[u8] {
    &frame[14..]
}

/// The IPv4 identification of an Ethernet/IPv4 frame.
pub fn ipv4_ident(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[18], frame[19]])
}

/// Destination address and port of an IPv4 TCP/UDP frame.
pub fn dst_of(frame: &[u8]) -> ([u8; 4], u16) {
    let a = [frame[30], frame[31], frame[32], frame[33]];
    let ihl = usize::from(frame[14] & 0xf) * 4;
    let p = u16::from_be_bytes([frame[16 + ihl], frame[17 + ihl]]);
    (a, p)
}

/// Source address and echo identifier of an IPv4 ICMP echo frame.
pub fn echo_src_of(frame: &[u8]) -> ([u8; 4], u16) {
    let a = [frame[26], frame[27], frame[28], frame[29]];
    let ihl = usize::from(frame[14] & 0xf) * 4;
    let id = u16::from_be_bytes([frame[18 + ihl], frame[19 + ihl]]);
    (a, id)
}

/// A TCP segment with explicit seq, ack (None: no ACK flag), SYN, payload.
pub fn seg(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    ttl: u8,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, ttl)
        .tcp(sport, dport, seq, 64240);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// The TCP or UDP payload of a frame.
pub fn payload_of(frame: &[u8]) -> Vec<u8> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => t.payload().to_vec(),
        Some(etherparse::TransportSlice::Udp(u)) => u.payload().to_vec(),
        _ => panic!("no transport"),
    }
}
