//! ALG scenarios through the dataplane: FTP and TFTP, exact frames built independently with
//! etherparse. Attack tests are named after REFERENCE.md's security record (`attack_N_...`).
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use alg::ftp::FtpError;
use alg::tftp::TftpError;
use common::*;
use dataplane::alg_glue::AlgPorts;
use dataplane::nat::Filtering;
use dataplane::{DropReason, Event, Side, VecBuf, WorkerConfig};
use etherparse::{PacketBuilder, TcpOptionElement};

const FTP: u16 = 21;
const CPORT: u16 = 40000; // the client's control port
const CISN: u32 = 1000; // client ISN
const SISN: u32 = 5_000_000; // server ISN
const THIRD: [u8; 4] = [198, 51, 100, 9];

/// A TCP segment with explicit seq, ack (None: no ACK flag), flags, SACK blocks, payload.
fn seg(
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
    sack: &[(u32, u32)],
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
    if !sack.is_empty() {
        let mut rest = [None; 3];
        for (i, s) in sack.iter().skip(1).enumerate() {
            rest[i] = Some(*s);
        }
        b = b
            .options(&[
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::SelectiveAcknowledgement(sack[0], rest),
            ])
            .unwrap();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn seq_ack_of(frame: &[u8]) -> (u32, u32) {
    let ihl = usize::from(frame[14] & 0xf) * 4;
    let t = 14 + ihl;
    (
        u32::from_be_bytes(frame[t + 4..t + 8].try_into().unwrap()),
        u32::from_be_bytes(frame[t + 8..t + 12].try_into().unwrap()),
    )
}

/// An FTP control connection from SUB1 to SERVER:21, handshake done.
struct Ftp {
    h: Harness,
    pub_ip: [u8; 4],
    pub_port: u16,
    /// Next client seq (original) and server seq.
    cseq: u32,
    sseq: u32,
}

impl Ftp {
    fn open(cfg: WorkerConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.resolve_neighbors();
        let out = h
            .send(
                Side::Inside,
                &seg(
                    SUB_MAC,
                    IN_MAC,
                    SUB1,
                    CPORT,
                    SERVER,
                    FTP,
                    64,
                    CISN,
                    None,
                    true,
                    &[],
                    b"",
                ),
            )
            .only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        let back = h
            .send(
                Side::Outside,
                &seg(
                    NH_MAC,
                    OUT_MAC,
                    SERVER,
                    FTP,
                    pub_ip,
                    pub_port,
                    64,
                    SISN,
                    Some(CISN + 1),
                    true,
                    &[],
                    b"",
                ),
            )
            .only_inside();
        assert_eq!(seq_ack_of(&back), (SISN, CISN + 1));
        assert_eq!(h.w.counters().event(Event::AlgFtpSession), 1);
        assert_eq!(h.w.alg_sessions(), 1);
        Ftp {
            h,
            pub_ip,
            pub_port,
            cseq: CISN + 1,
            sseq: SISN + 1,
        }
    }

    /// The client sends `line` at its current seq (advanced); returns what left the NAT.
    fn client(&mut self, line: &[u8]) -> Out {
        let f = seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT,
            SERVER,
            FTP,
            64,
            self.cseq,
            Some(self.sseq),
            false,
            &[],
            line,
        );
        self.cseq += u32::try_from(line.len()).unwrap();
        self.h.send(Side::Inside, &f)
    }

    /// The server sends `line` acknowledging `ack` (translated numbering) with SACK blocks.
    fn server(&mut self, ack: u32, sack: &[(u32, u32)], line: &[u8]) -> Out {
        let f = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            FTP,
            self.pub_ip,
            self.pub_port,
            64,
            self.sseq,
            Some(ack),
            false,
            sack,
            line,
        );
        self.sseq += u32::try_from(line.len()).unwrap();
        self.h.send(Side::Outside, &f)
    }

    /// Expected outside frame of a client segment.
    fn out_frame(&self, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        seg(
            OUT_MAC,
            NH_MAC,
            self.pub_ip,
            self.pub_port,
            SERVER,
            FTP,
            63,
            seq,
            Some(ack),
            false,
            &[],
            payload,
        )
    }

    /// Expected inside frame of a server segment.
    fn in_frame(&self, seq: u32, ack: u32, sack: &[(u32, u32)], payload: &[u8]) -> Vec<u8> {
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            FTP,
            SUB1,
            CPORT,
            63,
            seq,
            Some(ack),
            false,
            sack,
            payload,
        )
    }

    fn ftp(&self) -> alg::AlgCounters<FtpError> {
        self.h.w.counters().alg_ftp
    }

    fn ev(&self, e: Event) -> u64 {
        self.h.w.counters().event(e)
    }
}

/// The announced public endpoint in a rewritten `PORT a,b,c,d,p1,p2\r\n`.
fn port_endpoint(line: &[u8]) -> ([u8; 4], u16) {
    let s = std::str::from_utf8(line).unwrap();
    let nums: Vec<u16> = s
        .trim_start_matches("PORT ")
        .trim_end()
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    let a = [nums[0], nums[1], nums[2], nums[3]].map(|n| u8::try_from(n).unwrap());
    (a, nums[4] * 256 + nums[5])
}

fn port_text(a: [u8; 4], p: u16) -> String {
    format!(
        "PORT {},{},{},{},{},{}\r\n",
        a[0],
        a[1],
        a[2],
        a[3],
        p >> 8,
        p & 0xff
    )
}

#[test]
fn ftp_port_is_rewritten_to_a_port_of_the_subscribers_block_and_the_data_connection_comes_in() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    c.h.w.drain_events(|_| {});
    let line = b"PORT 100,64,0,2,19,136\r\n"; // 100.64.0.2:5000
    let seq0 = c.cseq;
    let out = c.client(line).only_outside();
    let sent = payload_of(&out);
    let (a, p) = port_endpoint(&sent);
    assert_eq!(a, c.pub_ip, "announces the subscriber's public address");
    assert_ne!(p, c.pub_port);
    // Same block as the control connection's port (the subscriber's only block so far).
    assert_eq!(
        (p - 1024) / 512,
        (c.pub_port - 1024) / 512,
        "reserved from the subscriber's block"
    );
    let text = port_text(a, p);
    assert_eq!(sent, text.as_bytes());
    assert_eq!(out, c.out_frame(seq0, c.sseq, text.as_bytes()));
    assert_checksums_ok(&out);
    let delta = i64::try_from(text.len()).unwrap() - i64::try_from(line.len()).unwrap();
    assert_ne!(delta, 0, "this test wants a length-changing rewrite");
    assert_eq!(c.ftp().rewrites, 1);
    assert_eq!(c.ftp().expectations, 1);
    assert_eq!(c.h.w.alg_expectations(), 1);

    // The server acknowledges the rewritten text; the client sees its own numbering.
    let t_end = u32::try_from(i64::from(c.cseq) + delta).unwrap();
    let back = c.server(t_end, &[], b"200 PORT ok\r\n").only_inside();
    assert_eq!(
        back,
        c.in_frame(c.sseq - 13, c.cseq, &[], b"200 PORT ok\r\n")
    );
    assert_checksums_ok(&back);

    // The next command is shifted by the correction.
    let s1 = c.cseq;
    let out = c.client(b"RETR f\r\n").only_outside();
    assert_eq!(out, c.out_frame(t_end, c.sseq, b"RETR f\r\n"));
    assert_eq!(
        seq_ack_of(&out).0,
        u32::try_from(i64::from(s1) + delta).unwrap()
    );

    // The server's data connection (active mode, from port 20) reaches 100.64.0.2:5000.
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        20,
        a,
        p,
        64,
        77,
        None,
        true,
        &[],
        b"",
    );
    let inside = c.h.send(Side::Outside, &syn).only_inside();
    assert_eq!(
        inside,
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            20,
            SUB1,
            5000,
            63,
            77,
            None,
            true,
            &[],
            b""
        )
    );
    assert_eq!(c.ev(Event::AlgFtpExpectationUsed), 1);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // Both are logged (created, then used), naming the subscriber, the server and the
    // announced public endpoint.
    let mut logged = vec![];
    c.h.w.drain_events(|e| {
        if let dataplane::events::WorkerEvent::Expectation {
            kind,
            subscriber,
            remote,
            public,
            ..
        } = e
        {
            logged.push((kind, subscriber, remote, public));
        }
    });
    use dataplane::events::ExpectationEvent as X;
    let want = |k| (k, ip(SUB1), ip(SERVER), (ip(c.pub_ip), p));
    assert_eq!(logged, vec![want(X::FtpCreated), want(X::FtpUsed)]);
    // The subscriber's SYN-ACK goes out from the announced public endpoint.
    let sa = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        5000,
        SERVER,
        20,
        64,
        9,
        Some(78),
        true,
        &[],
        b"",
    );
    let out = c.h.send(Side::Inside, &sa).only_outside();
    assert_eq!(
        out,
        seg(
            OUT_MAC,
            NH_MAC,
            a,
            p,
            SERVER,
            20,
            63,
            9,
            Some(78),
            true,
            &[],
            b""
        )
    );
    assert_eq!(c.h.w.counters().total_drops(), 0);
}

#[test]
fn ftp_eprt_and_same_length_rewrite() {
    // 100.64.0.100 and 203.0.113.x have different lengths for most x; EPRT is checked for
    // the exact text, then a PORT whose text keeps its length needs no correction.
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let seq0 = c.cseq;
    let out = c.client(b"EPRT |1|100.64.0.2|6000|\r\n").only_outside();
    let sent = String::from_utf8(payload_of(&out)).unwrap();
    let parts: Vec<&str> = sent.trim_end().split('|').collect();
    assert_eq!(parts[0], "EPRT ");
    assert_eq!(parts[1], "1");
    let a = parts[2];
    let p: u16 = parts[3].parse().unwrap();
    let pa = c.pub_ip;
    assert_eq!(a, format!("{}.{}.{}.{}", pa[0], pa[1], pa[2], pa[3]));
    assert_eq!(out, c.out_frame(seq0, c.sseq, sent.as_bytes()));
    assert_checksums_ok(&out);
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        20,
        pa,
        p,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    let inside = c.h.send(Side::Outside, &syn).only_inside();
    assert_eq!(
        inside,
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            20,
            SUB1,
            6000,
            63,
            1,
            None,
            true,
            &[],
            b""
        )
    );
}

#[test]
fn attack_2_port_naming_another_host_is_not_rewritten_and_opens_no_pinhole() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let line = b"PORT 100,64,0,3,19,136\r\n"; // SUB2: FTP bounce into another subscriber
    let seq0 = c.cseq;
    let out = c.client(line).only_outside();
    assert_eq!(out, c.out_frame(seq0, c.sseq, line));
    assert_eq!(c.ftp().failed(FtpError::AddressMismatch), 1);
    assert_eq!(c.ftp().rewrites, 0);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // A PORT naming a third (outside) host is the same: FTP bounce.
    let line = b"PORT 198,51,100,9,19,136\r\n";
    let out = c.client(line).only_outside();
    assert_eq!(payload_of(&out), line);
    assert_eq!(c.ftp().failed(FtpError::AddressMismatch), 2);
    assert_eq!(c.h.w.alg_expectations(), 0);
}

#[test]
fn attack_3_an_expectation_never_admits_a_third_host() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let out = c.client(b"PORT 100,64,0,2,19,136\r\n").only_outside();
    let (a, p) = port_endpoint(&payload_of(&out));
    // A third host races the server to the announced endpoint: nothing gets in.
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        THIRD,
        20,
        a,
        p,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    assert!(c.h.send(Side::Outside, &syn).is_empty());
    assert_eq!(c.ev(Event::AlgFtpExpectationRefused), 1);
    assert_eq!(c.h.w.alg_expectations(), 1, "still waiting for the server");
    // The server still gets in afterwards, from any port.
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        33333,
        a,
        p,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    let inside = c.h.send(Side::Outside, &syn).only_inside();
    assert_eq!(
        inside,
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            33333,
            SUB1,
            5000,
            63,
            1,
            None,
            true,
            &[],
            b""
        )
    );
    // Once used, the third host is not admitted to the new binding's connection either
    // (a bare SYN from it is held as unsolicited, never forwarded).
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        THIRD,
        20,
        a,
        p,
        64,
        1,
        None,
        false,
        &[],
        b"x",
    );
    assert!(c.h.send(Side::Outside, &syn).is_empty());
}

#[test]
fn attack_1_port_in_the_middle_of_a_line_is_not_parsed() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let line = b"NOOP PORT 100,64,0,2,19,136\r\n";
    let out = c.client(line).only_outside();
    assert_eq!(payload_of(&out), line);
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ftp().rewrites, 0);
}

#[test]
fn attack_4_privileged_and_zero_ports_are_refused() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    for (line, why) in [
        (&b"PORT 100,64,0,2,0,22\r\n"[..], FtpError::PrivilegedPort),
        (&b"PORT 100,64,0,2,0,0\r\n"[..], FtpError::PortOutOfRange),
        (
            &b"EPRT |1|100.64.0.2|70000|\r\n"[..],
            FtpError::PortOutOfRange,
        ),
    ] {
        let before = c.ftp().failed(why);
        let out = c.client(line).only_outside();
        assert_eq!(payload_of(&out), line);
        assert_eq!(c.ftp().failed(why), before + 1, "{why:?}");
    }
    assert_eq!(c.ftp().failed(FtpError::PortOutOfRange), 2);
    assert_eq!(c.h.w.alg_expectations(), 0);
}

#[test]
fn attack_6_a_port_command_split_across_segments_is_held_then_passed() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let seq0 = c.cseq;
    // The first half is dropped (held) so that the client retransmits it whole.
    let part = b"PORT 100,64,0,2,";
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        seq0,
        Some(c.sseq),
        false,
        &[],
        part,
    );
    assert!(c.h.send(Side::Inside, &f).is_empty());
    assert_eq!(c.h.drops(DropReason::AlgHold), 1);
    assert_eq!(c.ftp().failed(FtpError::SplitCommand), 1);
    // The retransmission carries the whole line: rewritten.
    let out = c.client(b"PORT 100,64,0,2,19,136\r\n").only_outside();
    let (a, _) = port_endpoint(&payload_of(&out));
    assert_eq!(a, c.pub_ip);
    assert_eq!(c.ftp().rewrites, 1);
    // A split that keeps recurring is let through unmodified after MAX_SPLIT_HOLDS holds.
    let s = c.cseq;
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        s,
        Some(c.sseq),
        false,
        &[],
        part,
    );
    for _ in 0..alg::ftp::MAX_SPLIT_HOLDS {
        assert!(c.h.send(Side::Inside, &f).is_empty());
    }
    let out = c.h.send(Side::Inside, &f).only_outside();
    assert_eq!(
        payload_of(&out),
        part,
        "passed unmodified, stream not corrupted"
    );
}

#[test]
fn attack_7_expectations_beyond_the_per_session_limit_evict_the_oldest() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let out = c.client(b"PORT 100,64,0,2,19,136\r\n").only_outside();
    let (a1, p1) = port_endpoint(&payload_of(&out));
    let out = c.client(b"PORT 100,64,0,2,19,137\r\n").only_outside();
    let (_, p2) = port_endpoint(&payload_of(&out));
    assert_eq!(c.ev(Event::AlgFtpExpectationEvicted), 1);
    assert_eq!(c.h.w.alg_expectations(), 1);
    // The evicted one admits nothing (its reserved port was given back).
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        20,
        a1,
        p1,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    assert!(c.h.send(Side::Outside, &syn).is_empty());
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        20,
        a1,
        p2,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    let inside = c.h.send(Side::Outside, &syn).only_inside();
    assert_eq!(
        inside,
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            20,
            SUB1,
            5001,
            63,
            1,
            None,
            true,
            &[],
            b""
        )
    );
}

#[test]
fn attack_7_expectations_beyond_the_worker_limit_evict_the_oldest() {
    let mut cfg = WorkerConfig::lab_default();
    cfg.alg.max_expectations = 2;
    cfg.alg.tftp = AlgPorts::new(true, &[69]);
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    let mut pubs = Vec::new();
    for sport in [3001u16, 3002, 3003] {
        let out = h
            .send(
                Side::Inside,
                &udp(
                    SUB_MAC,
                    IN_MAC,
                    SUB1,
                    sport,
                    SERVER,
                    69,
                    64,
                    b"\x00\x01f\x00octet\x00",
                ),
            )
            .only_outside();
        pubs.push(src_of(&out));
    }
    assert_eq!(h.w.counters().alg_tftp.expectations, 3);
    assert_eq!(h.w.counters().event(Event::AlgTftpExpectationEvicted), 1);
    assert_eq!(h.w.alg_expectations(), 2);
}

#[test]
fn expectation_times_out_and_its_reserved_port_is_given_back() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let out = c.client(b"PORT 100,64,0,2,19,136\r\n").only_outside();
    let (a, p) = port_endpoint(&payload_of(&out));
    c.h.now += 299 * SEC;
    c.h.poll();
    assert_eq!(c.h.w.alg_expectations(), 1, "not before the timeout");
    c.h.now += 2 * SEC;
    c.h.poll();
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgFtpExpectationExpired), 1);
    let syn = seg(
        NH_MAC,
        OUT_MAC,
        SERVER,
        20,
        a,
        p,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    assert!(c.h.send(Side::Outside, &syn).is_empty());
    assert_eq!(c.ev(Event::AlgFtpExpectationUsed), 0);
}

#[test]
fn an_edit_that_does_not_fit_the_tailroom_passes_unmodified_and_is_counted() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    // 100,64,0,2,4,1 -> 203,0,113,x,p1,p2 is always longer: no tailroom means no rewrite.
    let line = b"PORT 100,64,0,2,4,1\r\n";
    let seq0 = c.cseq;
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        seq0,
        Some(c.sseq),
        false,
        &[],
        line,
    );
    c.cseq += u32::try_from(line.len()).unwrap();
    c.h.w.process(
        Side::Inside,
        VecBuf::with_tailroom(&f, 0),
        c.h.now,
        &mut c.h.tx,
        &mut c.h.alloc,
    );
    let out = c.h.take().only_outside();
    assert_eq!(out, c.out_frame(seq0, c.sseq, line));
    assert_checksums_ok(&out);
    assert_eq!(c.ev(Event::AlgFtpNoRoom), 1);
    assert_eq!(c.ftp().rewrites, 0);
    assert_eq!(c.ftp().expectations, 0);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // No correction was recorded: the next segment keeps its numbers.
    let s1 = c.cseq;
    let out = c.client(b"LIST\r\n").only_outside();
    assert_eq!(out, c.out_frame(s1, c.sseq, b"LIST\r\n"));
}

#[test]
fn attack_10_seq_ack_and_sack_are_right_across_two_corrections_and_a_retransmission() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    // "4,1" is the shortest port text: the public one is longer, so both rewrites grow.
    let l1 = b"PORT 100,64,0,2,4,1\r\n";
    let l2 = b"PORT 100,64,0,2,4,2\r\n";
    let s1 = c.cseq;
    let o1 = c.client(l1).only_outside();
    let t1 = payload_of(&o1);
    let d1 = i64::try_from(t1.len()).unwrap() - i64::try_from(l1.len()).unwrap();
    let s2 = c.cseq;
    let o2 = c.client(l2).only_outside();
    let t2 = payload_of(&o2);
    let d2 = i64::try_from(t2.len()).unwrap() - i64::try_from(l2.len()).unwrap();
    assert!(d1 > 0 && d2 > 0);
    let sh = |s: u32, d: i64| u32::try_from(i64::from(s) + d).unwrap();
    assert_eq!(seq_ack_of(&o1).0, s1);
    assert_eq!(
        seq_ack_of(&o2).0,
        sh(s2, d1),
        "second segment shifted by the first correction"
    );
    let s3 = c.cseq;
    let o3 = c.client(b"LIST\r\n").only_outside();
    assert_eq!(seq_ack_of(&o3).0, sh(s3, d1 + d2), "shifted by both");

    // The server lost the second PORT: it ACKs the first and SACKs LIST (translated numbers).
    let t_list = (sh(s3, d1 + d2), sh(s3 + 6, d1 + d2));
    let back = c.server(sh(s2, d1), &[t_list], b"").only_inside();
    assert_eq!(back, c.in_frame(c.sseq, s2, &[(s3, s3 + 6)], b""));
    assert_checksums_ok(&back);

    // The client retransmits the second PORT: rewritten to the very same text, same SEQ.
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        s2,
        Some(c.sseq),
        false,
        &[],
        l2,
    );
    let r2 = c.h.send(Side::Inside, &f).only_outside();
    assert_eq!(
        r2, o2,
        "retransmission identical to the original translation"
    );
    assert_eq!(c.ftp().rewrites, 3, "rewritten again (same text)");
    assert_eq!(c.ftp().expectations, 3, "the same expectation, refreshed");
    assert_eq!(c.h.w.alg_expectations(), 1);
    // LIST retransmitted: still shifted by both corrections.
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        s3,
        Some(c.sseq),
        false,
        &[],
        b"LIST\r\n",
    );
    assert_eq!(c.h.send(Side::Inside, &f).only_outside(), o3);

    // An ACK that falls inside the second rewritten text acknowledges only up to its start.
    // (The rewritten text starts after "PORT ".)
    let back = c.server(sh(s2 + 5, d1) + 3, &[], b"").only_inside();
    assert_eq!(seq_ack_of(&back).1, s2 + 5);
    // Everything acknowledged: the client's numbering again.
    let back = c
        .server(sh(c.cseq, d1 + d2), &[], b"150 ok\r\n")
        .only_inside();
    assert_eq!(back, c.in_frame(c.sseq - 8, c.cseq, &[], b"150 ok\r\n"));
    assert_checksums_ok(&back);
    assert_eq!(c.h.w.counters().total_drops(), 0);
}

#[test]
fn a_long_control_session_keeps_the_numbers_right() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let mut delta = 0i64;
    for i in 0..200u16 {
        let line = format!("PORT 100,64,0,2,{},{}\r\n", 20 + i / 256, i % 256);
        let s = c.cseq;
        let out = c.client(line.as_bytes()).only_outside();
        let sent = payload_of(&out);
        assert_eq!(
            seq_ack_of(&out).0,
            u32::try_from(i64::from(s) + delta).unwrap(),
            "command {i}"
        );
        delta += i64::try_from(sent.len()).unwrap() - i64::try_from(line.len()).unwrap();
        let ack = u32::try_from(i64::from(c.cseq) + delta).unwrap();
        let back = c.server(ack, &[], b"200 ok\r\n").only_inside();
        assert_eq!(seq_ack_of(&back).1, c.cseq, "reply {i}");
        assert_checksums_ok(&back);
    }
    assert_eq!(c.ftp().rewrites, 200);
    assert_eq!(c.ev(Event::AlgFtpExpectationEvicted), 199);
    assert_eq!(c.h.w.counters().total_drops(), 0);
}

#[test]
fn ftp_pasv_and_epsv_replies_pass_unmodified_and_relate_the_data_connection() {
    let mut c = Ftp::open(WorkerConfig::lab_default());
    let reply = b"227 Entering Passive Mode (198,51,100,2,195,80).\r\n";
    let s = c.sseq;
    let back = c.server(c.cseq, &[], reply).only_inside();
    assert_eq!(back, c.in_frame(s, c.cseq, &[], reply));
    assert_eq!(c.ftp().messages, 1);
    assert_eq!(c.ftp().expectations, 1);
    let syn = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        41000,
        SERVER,
        50000,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    let out = c.h.send(Side::Inside, &syn).only_outside();
    let (a, _) = src_of(&out);
    assert_eq!(
        a, c.pub_ip,
        "paired: same public address as the control connection"
    );
    assert_eq!(c.ev(Event::AlgFtpExpectationUsed), 1);

    let reply = b"229 Entering Extended Passive Mode (|||50001|)\r\n";
    c.server(c.cseq, &[], reply).only_inside();
    let syn = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        41001,
        SERVER,
        50001,
        64,
        1,
        None,
        true,
        &[],
        b"",
    );
    c.h.send(Side::Inside, &syn).only_outside();
    assert_eq!(c.ev(Event::AlgFtpExpectationUsed), 2);
    // A 227 naming a third host is refused.
    let reply = b"227 Entering Passive Mode (198,51,100,9,195,80).\r\n";
    c.server(c.cseq, &[], reply).only_inside();
    assert_eq!(c.ftp().failed(FtpError::ThirdPartyHost), 1);
    assert_eq!(c.h.w.alg_expectations(), 0);
}

#[test]
fn ftp_switched_off_live_leaves_port_alone_on_new_sessions() {
    let mut cfg = WorkerConfig::lab_default();
    cfg.alg.ftp = AlgPorts::new(false, &[21]);
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    h.send(
        Side::Inside,
        &seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT,
            SERVER,
            FTP,
            64,
            CISN,
            None,
            true,
            &[],
            b"",
        ),
    )
    .only_outside();
    assert_eq!(h.w.alg_sessions(), 0);
    let line = b"PORT 100,64,0,2,19,136\r\n";
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        FTP,
        64,
        CISN + 1,
        Some(1),
        false,
        &[],
        line,
    );
    let out = h.send(Side::Inside, &f).only_outside();
    assert_eq!(payload_of(&out), line);
    assert_eq!(h.w.counters().alg_ftp.messages, 0);

    // Switched on live: the next control connection gets the ALG.
    let mut l = h.w.live();
    l.alg.ftp = AlgPorts::new(true, &[21, 2121]);
    h.w.apply_live(&l).unwrap();
    h.send(
        Side::Inside,
        &seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT + 1,
            SERVER,
            2121,
            64,
            CISN,
            None,
            true,
            &[],
            b"",
        ),
    )
    .only_outside();
    assert_eq!(h.w.alg_sessions(), 1);
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT + 1,
        SERVER,
        2121,
        64,
        CISN + 1,
        Some(1),
        false,
        &[],
        line,
    );
    let out = h.send(Side::Inside, &f).only_outside();
    assert_ne!(payload_of(&out), line);
    assert_eq!(h.w.counters().alg_ftp.rewrites, 1);
    // Table sizes are not live.
    let mut l = h.w.live();
    l.alg.max_expectations = 1;
    assert!(h.w.apply_live(&l).is_err());
}

fn apdf() -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.filtering = Filtering::AddressAndPortDependent;
    cfg.alg.tftp = AlgPorts::new(true, &[69]);
    cfg
}

#[test]
fn tftp_rrq_expects_the_servers_reply_from_a_new_port() {
    let mut h = Harness::new(apdf());
    h.resolve_neighbors();
    let rrq = b"\x00\x01boot.img\x00octet\x00blksize\x001428\x00";
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 3000, SERVER, 69, 64, rrq),
        )
        .only_outside();
    let (a, p) = src_of(&out);
    assert_eq!(out, udp(OUT_MAC, NH_MAC, a, p, SERVER, 69, 63, rrq));
    assert_eq!(h.w.counters().alg_tftp.messages, 1);
    assert_eq!(h.w.counters().alg_tftp.expectations, 1);
    // A third host cannot use it.
    assert!(h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, THIRD, 4000, a, p, 64, b"\x00\x03\x00\x01x")
        )
        .is_empty());
    assert_eq!(h.w.counters().event(Event::AlgTftpExpectationRefused), 1);
    assert_eq!(h.drops(DropReason::Filtered), 1);
    // The server answers from its new TID: admitted despite address-and-port filtering.
    let data = b"\x00\x03\x00\x01hello";
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 4000, a, p, 64, data),
        )
        .only_inside();
    assert_eq!(
        back,
        udp(IN_MAC, SUB_MAC, SERVER, 4000, SUB1, 3000, 63, data)
    );
    assert_eq!(h.w.counters().event(Event::AlgTftpExpectationUsed), 1);
    // The transfer continues both ways on that flow.
    let ack = b"\x00\x04\x00\x01";
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 3000, SERVER, 4000, 64, ack),
    )
    .only_outside();
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 4000, a, p, 64, data),
        )
        .only_inside();
    assert_eq!(
        back,
        udp(IN_MAC, SUB_MAC, SERVER, 4000, SUB1, 3000, 63, data)
    );
}

#[test]
fn tftp_without_the_alg_is_filtered_and_bad_requests_are_counted() {
    let mut cfg = apdf();
    cfg.alg.tftp = AlgPorts::new(false, &[69]);
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    let out = h
        .send(
            Side::Inside,
            &udp(
                SUB_MAC,
                IN_MAC,
                SUB1,
                3000,
                SERVER,
                69,
                64,
                b"\x00\x01f\x00octet\x00",
            ),
        )
        .only_outside();
    let (a, p) = src_of(&out);
    assert!(h
        .send(
            Side::Outside,
            &udp(
                NH_MAC,
                OUT_MAC,
                SERVER,
                4000,
                a,
                p,
                64,
                b"\x00\x03\x00\x01x"
            )
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::Filtered), 1);

    let mut h = Harness::new(apdf());
    h.resolve_neighbors();
    for (p, why) in [
        (&b"\x00\x01f\x00bogus\x00"[..], TftpError::UnknownMode),
        (&b"\x00\x05f\x00octet\x00"[..], TftpError::NotRequest),
        (&b"\x00\x01f"[..], TftpError::MissingNul),
    ] {
        h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 3000, SERVER, 69, 64, p),
        )
        .only_outside();
        assert_eq!(h.w.counters().alg_tftp.failed(why), 1, "{why:?}");
    }
    assert_eq!(h.w.alg_expectations(), 0);
}

#[test]
fn with_two_workers_the_data_port_belongs_to_the_masters_worker() {
    let n = 2;
    let w = dataplane::steer::subscriber_owner(ip(SUB1), n);
    let mut cfg = WorkerConfig::lab_default();
    cfg.n_workers = n;
    cfg.worker_id = w;
    let mut c = Ftp::open(cfg);
    let out = c.client(b"PORT 100,64,0,2,19,136\r\n").only_outside();
    let (_, p) = port_endpoint(&payload_of(&out));
    assert_eq!(
        dataplane::steer::port_owner(p, 1024, 65535, 512, n),
        Some(w),
        "the active-mode connection is steered to the control session's worker"
    );
}

#[test]
fn alg_counters_are_part_of_the_worker_counters() {
    let c = dataplane::Counters::default();
    let names: Vec<&str> = c.iter().map(|(n, _)| n).collect();
    for n in [
        "alg_ftp_messages",
        "alg_ftp_rewrites",
        "alg_ftp_expectations",
        "alg_ftp_address_mismatch",
        "alg_tftp_unknown_mode",
        "alg_ftp_expectation_used",
        "alg_tftp_expectation_expired",
        "drop_alg_hold",
    ] {
        assert!(names.contains(&n), "{n}");
    }
}
