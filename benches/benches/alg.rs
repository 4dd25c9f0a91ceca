//! ALG throughput per core: control-channel packets that each carry a message the ALG must
//! parse and rewrite, through `Worker::process` on `VecBuf`s — the real path: header checks,
//! translation, ALG dispatch, the parser, the in-buffer edit with checksum and length fixes,
//! sequence correction, the expectation (and the public port reserved for it).
//!
//! - `alg/ftp_port`: 256 FTP control connections (one per subscriber, to 8.8.8.8:21, opened
//!   with SYN / SYN-ACK before measuring); every packet is the next `PORT` command of one of
//!   them, naming the subscriber's own address and a new data port, so every packet is
//!   rewritten (the text's length changes: sequence correction accumulates) and makes an
//!   expectation, which evicts that connection's previous one (`max_expectations_per_session`
//!   = 1) and gives its reserved port back. The server answers each with a `200` that
//!   acknowledges it (inbound: parsed, ACK corrected back, which lets the sequence-correction
//!   history drop what both sides have seen). Half the packets are commands, half replies;
//!   the rate counts both. This is `alg_ftp_mpps` in the bench report.
//!
//! - `alg/sip_call`: 256 subscribers, each a SIP phone (UDP 5060 → 8.8.8.8:5060); every call
//!   is INVITE with an SDP offer (rewritten: Via, Contact, `o=`, `c=`, `m=` to an even public
//!   port pair reserved from the block, Content-Length, UDP length and checksum; RTP/RTCP
//!   expectations), 200 OK with the far end's SDP (inbound: Via back to the inside address,
//!   outbound relations), ACK, BYE (the call's expectations removed, ports given back), 200
//!   OK: five SIP messages per call, each parsed. This is `alg_sip_mpps`.
//!
//! Frames are built outside the timed region (the worker rewrites them in place), in bursts of
//! 32; the timed region is `process` for each burst.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

use std::time::{Duration, Instant};

use benches::{config, Rig, Shape, BURST, IN_MAC, NH_MAC, OUT_MAC, REMOTE, SUB_MAC};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::{Side, VecBuf};

const CONNS: u32 = 256;
/// Packets per timed chunk.
const CHUNK: usize = 1024;
const FTP: u16 = 21;
const CPORT: u16 = 40_000;

/// One FTP control connection: the subscriber, its public endpoint, the next sequence number
/// of each side.
struct Conn {
    sub: u32,
    public: (u32, u16),
    seq: u32,
    ack: u32,
    port_no: u16,
}

const REPLY: &[u8] = b"200 PORT command successful. Consider using PASV.\r\n";

fn port_command(sub: u32, port: u16) -> String {
    let a = sub.to_be_bytes();
    format!(
        "PORT {},{},{},{},{},{}\r\n",
        a[0],
        a[1],
        a[2],
        a[3],
        port >> 8,
        port & 0xff
    )
}

/// The sequence number after the payload of a translated TCP frame.
fn seq_end(f: &VecBuf) -> u32 {
    let d = dataplane::PacketBuf::data(f);
    let ihl = usize::from(d[14] & 0x0f) * 4;
    let tcp = 14 + ihl;
    let total = usize::from(u16::from_be_bytes([d[16], d[17]]));
    let hl = usize::from(d[tcp + 12] >> 4) * 4;
    let seq = u32::from_be_bytes([d[tcp + 4], d[tcp + 5], d[tcp + 6], d[tcp + 7]]);
    seq.wrapping_add(u32::try_from(total - ihl - hl).unwrap())
}

/// Processes `frames` received on `side`; returns the time `process` took.
fn timed(rig: &mut Rig, side: Side, frames: Vec<VecBuf>) -> Duration {
    let start = Instant::now();
    for f in frames {
        rig.w.process(side, f, rig.now, &mut rig.tx, &mut rig.alloc);
    }
    start.elapsed()
}

fn tcp(
    smac: [u8; 6],
    dmac: [u8; 6],
    src: (u32, u16),
    dst: (u32, u16),
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src.0.to_be_bytes(), dst.0.to_be_bytes(), 64)
        .tcp(src.1, dst.1, seq, 64_240);
    let b = if syn { b.syn() } else { b };
    let b = match ack {
        Some(a) => b.ack(a),
        None => b,
    };
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).unwrap();
    v
}

fn first_outside_src(rig: &Rig) -> (u32, u16) {
    let f = &rig.tx.outside[0];
    let d = dataplane::PacketBuf::data(f);
    let ip = u32::from_be_bytes([d[26], d[27], d[28], d[29]]);
    let port = u16::from_be_bytes([d[34], d[35]]);
    (ip, port)
}

fn ftp_port(c: &mut Criterion) {
    let shape = Shape::new(CONNS, 64);
    let mut cfg = config(shape, 65_536);
    cfg.alg.ftp = dataplane::alg_glue::AlgPorts::new(true, &[FTP]);
    let mut rig = Rig::new(cfg);
    rig.resolve_subscribers(shape);
    let mut conns = Vec::with_capacity(CONNS as usize);
    for s in 0..CONNS {
        let sub = shape.subscriber(s);
        rig.send(
            Side::Inside,
            &tcp(
                SUB_MAC,
                IN_MAC,
                (sub, CPORT),
                (REMOTE, FTP),
                1000,
                None,
                true,
                b"",
            ),
        );
        assert_eq!(rig.tx.outside.len(), 1, "SYN translated");
        let public = first_outside_src(&rig);
        rig.clear_tx();
        rig.send(
            Side::Outside,
            &tcp(
                NH_MAC,
                OUT_MAC,
                (REMOTE, FTP),
                public,
                5000,
                Some(1001),
                true,
                b"",
            ),
        );
        assert_eq!(rig.tx.inside.len(), 1, "SYN-ACK translated");
        rig.clear_tx();
        conns.push(Conn {
            sub,
            public,
            seq: 1001,
            ack: 5001,
            port_no: 0,
        });
    }
    let rewrites_before = rig.w.counters().alg_ftp.rewrites;

    let mut g = c.benchmark_group("alg");
    g.throughput(Throughput::Elements(CHUNK as u64));
    let mut next = 0usize;
    g.bench_function(benches::name("ftp_port"), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..CHUNK / (2 * BURST) {
                    // A burst of PORT commands, one per connection, ...
                    let mut idx = [0usize; BURST];
                    let mut frames: Vec<VecBuf> = Vec::with_capacity(BURST);
                    for slot in &mut idx {
                        *slot = next % conns.len();
                        next += 1;
                        let cn = &mut conns[*slot];
                        cn.port_no = cn.port_no.wrapping_add(1);
                        let cmd = port_command(cn.sub, 20_000 + (cn.port_no % 20_000));
                        frames.push(VecBuf::from_frame(&tcp(
                            SUB_MAC,
                            IN_MAC,
                            (cn.sub, CPORT),
                            (REMOTE, FTP),
                            cn.seq,
                            Some(cn.ack),
                            false,
                            cmd.as_bytes(),
                        )));
                        cn.seq = cn.seq.wrapping_add(u32::try_from(cmd.len()).unwrap());
                    }
                    t += timed(&mut rig, Side::Inside, frames);
                    // ... then the server's "200" to each, acknowledging the rewritten
                    // command (its sequence numbers as the server saw them).
                    let acks: Vec<u32> = rig.tx.outside.iter().map(seq_end).collect();
                    assert_eq!(acks.len(), BURST, "every PORT forwarded");
                    rig.clear_tx();
                    let mut frames: Vec<VecBuf> = Vec::with_capacity(BURST);
                    for (&i, &ack) in idx.iter().zip(&acks) {
                        let cn = &mut conns[i];
                        frames.push(VecBuf::from_frame(&tcp(
                            NH_MAC,
                            OUT_MAC,
                            (REMOTE, FTP),
                            cn.public,
                            cn.ack,
                            Some(ack),
                            false,
                            REPLY,
                        )));
                        cn.ack = cn.ack.wrapping_add(u32::try_from(REPLY.len()).unwrap());
                    }
                    t += timed(&mut rig, Side::Outside, frames);
                    rig.clear_tx();
                }
            }
            t
        })
    });
    g.finish();
    // (a filtered-out run rewrites nothing; every packet of a run is a rewrite)
    let rewrites = rig.w.counters().alg_ftp.rewrites - rewrites_before;
    assert!(
        rig.w.counters().total_drops() == 0,
        "every PORT rewritten, nothing dropped: {rewrites} rewrites, {:?}",
        rig.w
            .counters()
            .iter()
            .filter(|(k, v)| *v > 0 && (k.starts_with("drop") || k.starts_with("alg")))
            .collect::<Vec<_>>()
    );
}

fn udp(smac: [u8; 6], dmac: [u8; 6], src: (u32, u16), dst: (u32, u16), payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src.0.to_be_bytes(), dst.0.to_be_bytes(), 64)
        .udp(src.1, dst.1);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).unwrap();
    v
}

fn dotted(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// A SIP message from a template with `\n` line ends: CRLF, `{CL}` = the body's length.
fn sip(template: &str) -> Vec<u8> {
    let (head, body) = template.split_once("\n\n").unwrap();
    let body = body.replace('\n', "\r\n");
    let head = head
        .replace('\n', "\r\n")
        .replace("{CL}", &body.len().to_string());
    format!("{head}\r\n\r\n{body}").into_bytes()
}

/// The five messages of call `n` of subscriber `sub` (public endpoint `public`): which side
/// sends each, and its bytes.
fn sip_call(sub: u32, public: (u32, u16), n: u32) -> [(Side, Vec<u8>); 5] {
    let a = dotted(sub);
    let p = format!("{}:{}", dotted(public.0), public.1);
    let r = dotted(REMOTE);
    let head = |method: &str, cseq: u32, via: &str, to_tag: &str| {
        format!(
            "{method} sip:bob@{r}:5060 SIP/2.0\nVia: SIP/2.0/UDP {via};branch=z9hG4bK-{n}-{cseq}\n\
             From: <sip:alice@{a}>;tag=a{n}\nTo: <sip:bob@{r}>{to_tag}\nCall-ID: c{n}@{a}\n\
             CSeq: {cseq} {method}\nMax-Forwards: 70\n"
        )
    };
    let resp = |method: &str, cseq: u32, sdp: &str| {
        format!(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-{n}-{cseq}\n\
             From: <sip:alice@{}>;tag=a{n}\nTo: <sip:bob@{r}>;tag=b{n}\nCall-ID: c{n}@{a}\n\
             CSeq: {cseq} {method}\nContact: <sip:bob@{r}:5060>\n{sdp}",
            dotted(public.0)
        )
    };
    let offer = format!(
        "{}Contact: <sip:alice@{a}:5060>\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n\
         v=0\no=alice {n} 1 IN IP4 {a}\ns=-\nc=IN IP4 {a}\nt=0 0\nm=audio 6000 RTP/AVP 0 8\n\
         a=rtpmap:0 PCMU/8000\n",
        head("INVITE", 1, &format!("{a}:5060"), "")
    );
    let answer = resp(
        "INVITE",
        1,
        &format!(
            "Content-Type: application/sdp\nContent-Length: {{CL}}\n\n\
             v=0\no=bob {n} 1 IN IP4 {r}\ns=-\nc=IN IP4 {r}\nt=0 0\nm=audio 7000 RTP/AVP 0\n"
        ),
    );
    let tag = format!(";tag=b{n}");
    let ack = format!(
        "{}Content-Length: 0\n\n",
        head("ACK", 1, &format!("{a}:5060"), &tag)
    );
    let bye = format!(
        "{}Content-Length: 0\n\n",
        head("BYE", 2, &format!("{a}:5060"), &tag)
    );
    let bye_ok = resp("BYE", 2, "Content-Length: 0\n\n");
    let out = |m: &str| {
        (
            Side::Inside,
            udp(SUB_MAC, IN_MAC, (sub, 5060), (REMOTE, 5060), &sip(m)),
        )
    };
    let inn = |m: &str| {
        (
            Side::Outside,
            udp(NH_MAC, OUT_MAC, (REMOTE, 5060), public, &sip(m)),
        )
    };
    [
        out(&offer),
        inn(&answer),
        out(&ack),
        out(&bye),
        inn(&bye_ok),
    ]
}

fn sip_call_bench(c: &mut Criterion) {
    let shape = Shape::new(CONNS, 64);
    let mut cfg = config(shape, 65_536);
    cfg.alg.sip = dataplane::alg_glue::AlgPorts::new(true, &[5060]);
    let mut rig = Rig::new(cfg);
    rig.resolve_subscribers(shape);
    // Each phone's first packet (an OPTIONS ping) makes its binding: the public endpoint the
    // answers go to.
    let mut phones = Vec::with_capacity(CONNS as usize);
    for s in 0..CONNS {
        let sub = shape.subscriber(s);
        let a = dotted(sub);
        let ping = sip(&format!(
            "OPTIONS sip:{r} SIP/2.0\nVia: SIP/2.0/UDP {a}:5060;branch=z9hG4bK-ping\n\
             From: <sip:alice@{a}>;tag=p\nTo: <sip:{r}>\nCall-ID: ping@{a}\nCSeq: 1 OPTIONS\n\
             Content-Length: 0\n\n",
            r = dotted(REMOTE)
        ));
        rig.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, (sub, 5060), (REMOTE, 5060), &ping),
        );
        assert_eq!(rig.tx.outside.len(), 1, "OPTIONS translated");
        phones.push((sub, first_outside_src(&rig)));
        rig.clear_tx();
    }
    let mut g = c.benchmark_group("alg");
    // Bursts of 30 packets: 6 calls of 5 messages.
    const CALLS: usize = 6;
    let per_chunk = CHUNK / (5 * CALLS);
    g.throughput(Throughput::Elements((per_chunk * 5 * CALLS) as u64));
    let mut n = 0u32;
    g.bench_function(benches::name("sip_call"), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..per_chunk {
                    let calls: Vec<[(Side, Vec<u8>); 5]> = (0..CALLS)
                        .map(|_| {
                            n = n.wrapping_add(1);
                            let (sub, public) = phones[n as usize % phones.len()];
                            sip_call(sub, public, n)
                        })
                        .collect();
                    // Message k of every call, then message k + 1: the calls interleave.
                    for k in 0..5 {
                        let frames: Vec<(Side, VecBuf)> = calls
                            .iter()
                            .map(|c| (c[k].0, VecBuf::from_frame(&c[k].1)))
                            .collect();
                        let start = Instant::now();
                        for (side, f) in frames {
                            rig.w.process(side, f, rig.now, &mut rig.tx, &mut rig.alloc);
                        }
                        t += start.elapsed();
                        rig.clear_tx();
                    }
                }
            }
            t
        })
    });
    g.finish();
    let k = &rig.w.counters().alg_sip;
    assert!(
        k.total_failures() == 0 && rig.w.counters().total_drops() == 0,
        "every call rewritten, nothing refused or dropped: {:?}",
        rig.w
            .counters()
            .iter()
            .filter(|(k, v)| *v > 0 && (k.starts_with("drop") || k.starts_with("alg_sip")))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rig.w.alg_expectations(),
        0,
        "every call's expectations removed by its BYE"
    );
}

criterion_group! {
    name = alg;
    config = benches::criterion();
    targets = ftp_port, sip_call_bench
}
criterion_main!(alg);
