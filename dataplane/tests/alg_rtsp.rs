//! RTSP ALG scenarios through the dataplane (inside client, outside server): exact frames
//! built independently with etherparse.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use alg::rtsp::{DestinationPolicy, RtspError};
use common::*;
use dataplane::alg_glue::AlgPorts;
use dataplane::{DropReason, Event, Side, WorkerConfig};

const RTSP: u16 = 554;
const CPORT: u16 = 40000; // the client's control port
const CISN: u32 = 1000;
const SISN: u32 = 5_000_000;
const THIRD: [u8; 4] = [198, 51, 100, 9];

fn text(frame: &[u8]) -> String {
    String::from_utf8(payload_of(frame)).unwrap()
}

/// The public RTP port in a rewritten `client_port=P-Q`.
fn client_port(t: &str) -> (u16, u16) {
    let at = t.find("client_port=").unwrap() + "client_port=".len();
    let v: &str = t[at..].split([';', '\r', ',']).next().unwrap();
    let (a, b) = v.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn lab() -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.alg.rtsp = AlgPorts::new(true, &[RTSP]);
    cfg
}

/// An RTSP control connection from SUB1 to SERVER:554, handshake done.
struct Rtsp {
    h: Harness,
    pub_ip: [u8; 4],
    pub_port: u16,
    /// Next original client seq and server seq.
    cseq: u32,
    sseq: u32,
    /// Sequence shift of each direction so far (translated - original).
    dc: i64,
    ds: i64,
}

fn add(a: u32, d: i64) -> u32 {
    u32::try_from(i64::from(a) + d).unwrap()
}

impl Rtsp {
    fn open(cfg: WorkerConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.resolve_neighbors();
        let syn = seg(
            SUB_MAC, IN_MAC, SUB1, CPORT, SERVER, RTSP, 64, CISN, None, true, b"",
        );
        let out = h.send(Side::Inside, &syn).only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        let sa = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            RTSP,
            pub_ip,
            pub_port,
            64,
            SISN,
            Some(CISN + 1),
            true,
            b"",
        );
        h.send(Side::Outside, &sa).only_inside();
        Rtsp {
            h,
            pub_ip,
            pub_port,
            cseq: CISN + 1,
            sseq: SISN + 1,
            dc: 0,
            ds: 0,
        }
    }

    /// The client sends `msg`; returns what left the NAT.
    fn client(&mut self, msg: &str) -> Out {
        let f = seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT,
            SERVER,
            RTSP,
            64,
            self.cseq,
            Some(self.sseq),
            false,
            msg.as_bytes(),
        );
        let out = self.h.send(Side::Inside, &f);
        if out.outside.len() == 1 {
            let sent = payload_of(&out.outside[0]);
            self.cseq += u32::try_from(msg.len()).unwrap();
            self.dc += i64::try_from(sent.len()).unwrap() - i64::try_from(msg.len()).unwrap();
        }
        out
    }

    /// The server sends `msg`, acknowledging everything the client sent (translated).
    fn server(&mut self, msg: &str) -> Out {
        let f = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            RTSP,
            self.pub_ip,
            self.pub_port,
            64,
            self.sseq,
            Some(add(self.cseq, self.dc)),
            false,
            msg.as_bytes(),
        );
        let out = self.h.send(Side::Outside, &f);
        if out.inside.len() == 1 {
            let got = payload_of(&out.inside[0]);
            self.sseq += u32::try_from(msg.len()).unwrap();
            self.ds += i64::try_from(got.len()).unwrap() - i64::try_from(msg.len()).unwrap();
        }
        out
    }

    /// Expected outside frame of a client segment.
    fn out_frame(&self, seq: u32, ack: u32, payload: &str) -> Vec<u8> {
        seg(
            OUT_MAC,
            NH_MAC,
            self.pub_ip,
            self.pub_port,
            SERVER,
            RTSP,
            63,
            seq,
            Some(ack),
            false,
            payload.as_bytes(),
        )
    }

    /// Expected inside frame of a server segment.
    fn in_frame(&self, seq: u32, ack: u32, payload: &str) -> Vec<u8> {
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            RTSP,
            SUB1,
            CPORT,
            63,
            seq,
            Some(ack),
            false,
            payload.as_bytes(),
        )
    }

    /// SETUP of `client_port=5000-5001` then the server's 200 echoing the public pair;
    /// returns the public RTP port.
    fn setup_and_accept(&mut self) -> u16 {
        let out = self
            .client(&setup(3, "RTP/AVP;unicast;client_port=5000-5001"))
            .only_outside();
        let (p, _) = client_port(&text(&out));
        self.server(&reply_200(
            3,
            &format!(
                "RTP/AVP;unicast;client_port={p}-{};server_port=6970-6971",
                p + 1
            ),
        ))
        .only_inside();
        p
    }

    fn k(&self) -> alg::AlgCounters<RtspError> {
        self.h.w.counters().alg_rtsp
    }

    fn ev(&self, e: Event) -> u64 {
        self.h.w.counters().event(e)
    }

    /// A UDP datagram from `src:sport` to public port `port`.
    fn media(&mut self, src: [u8; 4], sport: u16, port: u16, payload: &[u8]) -> Out {
        let f = udp(NH_MAC, OUT_MAC, src, sport, self.pub_ip, port, 64, payload);
        self.h.send(Side::Outside, &f)
    }
}

fn setup(cseq: u32, transport: &str) -> String {
    format!(
        "SETUP rtsp://198.51.100.2/stream/trackID=1 RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: LibVLC/3.0.20\r\nTransport: {transport}\r\n\r\n"
    )
}

fn reply_200(cseq: u32, transport: &str) -> String {
    format!(
        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nTransport: {transport}\r\nSession: 6B8B4567;timeout=60\r\n\r\n"
    )
}

const RTP: &[u8] = b"\x80\x60\x00\x01\x00\x00\x00\x10\x1a\x2b\x3c\x4dmedia";

#[test]
fn setup_is_rewritten_the_reply_untranslated_and_rtp_rtcp_come_in() {
    let mut c = Rtsp::open(lab());
    assert_eq!(c.ev(Event::AlgRtspSession), 1);
    assert_eq!(c.h.w.alg_sessions(), 1);
    // VLC names itself in `destination=` (always removed: it is the inside address), so the
    // rewrite changes the length whatever the public port's digits.
    let req = setup(
        3,
        "RTP/AVP;unicast;destination=100.64.0.2;client_port=5000-5001",
    );
    let seq0 = c.cseq;
    let out = c.client(&req).only_outside();
    let sent = text(&out);
    let (p, q) = client_port(&sent);
    assert_eq!(q, p + 1, "RTCP is the next port");
    assert_eq!(p % 2, 0, "RTP port even (RFC 3550 §11)");
    assert_eq!(
        (p - 1024) / 512,
        (c.pub_port - 1024) / 512,
        "reserved from the subscriber's block"
    );
    let want = setup(3, &format!("RTP/AVP;unicast;client_port={p}-{q}"));
    assert_eq!(sent, want);
    assert_eq!(out, c.out_frame(seq0, c.sseq, &want));
    assert_checksums_ok(&out);
    assert_eq!((c.k().messages, c.k().rewrites), (1, 2));
    assert_eq!(
        c.h.w.alg_expectations(),
        0,
        "no pinhole before the server accepts"
    );

    // The server's 200 echoes the public pair: the client sees its own ports, and its own
    // sequence numbering in the ACK.
    let s0 = c.sseq;
    let rep = reply_200(
        3,
        &format!("RTP/AVP;unicast;client_port={p}-{q};server_port=6970-6971"),
    );
    let back = c.server(&rep).only_inside();
    let want_back = rep.replace(&format!("client_port={p}-{q}"), "client_port=5000-5001");
    assert_eq!(back, c.in_frame(s0, c.cseq, &want_back));
    assert_checksums_ok(&back);
    assert!(c.dc < 0, "this test wants a length-changing rewrite");
    assert_eq!(c.k().expectations, 2);
    assert_eq!(c.h.w.alg_expectations(), 2);

    // The next segments are shifted by the corrections, both ways.
    let play = "PLAY rtsp://198.51.100.2/stream RTSP/1.0\r\nCSeq: 4\r\nSession: 6B8B4567\r\n\r\n";
    let s1 = c.cseq;
    let out = c.client(play).only_outside();
    assert_eq!(out, c.out_frame(add(s1, c.dc), add(c.sseq, c.ds), play));
    assert_checksums_ok(&out);
    let ok = "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 6B8B4567\r\n\r\n";
    let s2 = c.sseq;
    let back = c.server(ok).only_inside();
    assert_eq!(back, c.in_frame(add(s2, c.ds), c.cseq, ok));

    // Another host cannot use the pinhole.
    assert!(c.media(THIRD, 6970, p, RTP).is_empty());
    assert_eq!(c.ev(Event::AlgRtspExpectationRefused), 1);
    // RTP from the server reaches the client at 5000, RTCP at 5001.
    let inside = c.media(SERVER, 6970, p, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 6970, SUB1, 5000, 63, RTP)
    );
    let rtcp = b"\x80\xc8\x00\x06sender-report...";
    let inside = c.media(SERVER, 6971, q, rtcp).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 6971, SUB1, 5001, 63, rtcp)
    );
    assert_eq!(c.ev(Event::AlgRtspExpectationUsed), 2);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // The client's RTCP goes out from the public RTCP port.
    let rr = b"\x80\xc9\x00\x01receiver";
    let out =
        c.h.send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5001, SERVER, 6971, 64, rr),
        )
        .only_outside();
    assert_eq!(out, udp(OUT_MAC, NH_MAC, c.pub_ip, q, SERVER, 6971, 63, rr));
    assert_eq!(c.k().total_failures(), 0);
    assert_eq!(
        c.h.w.counters().total_drops(),
        1,
        "only the third host's datagram"
    );
}

#[test]
fn teardown_removes_the_sessions_expectations() {
    let mut c = Rtsp::open(lab());
    let p = c.setup_and_accept();
    assert_eq!(c.h.w.alg_expectations(), 2);
    let td = "TEARDOWN rtsp://198.51.100.2/stream RTSP/1.0\r\nCSeq: 5\r\nSession: 6B8B4567\r\n\r\n";
    let out = c.client(td).only_outside();
    assert_eq!(text(&out), td);
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgRtspExpectationEvicted), 2);
    // The server's RTP afterwards finds nothing: dropped.
    assert!(c.media(SERVER, 6970, p, RTP).is_empty());
    assert!(c.media(SERVER, 6971, p + 1, RTP).is_empty());
    assert_eq!(c.ev(Event::AlgRtspExpectationUsed), 0);
    assert_eq!(c.h.w.counters().total_drops(), 2);
}

#[test]
fn teardown_of_another_session_keeps_the_expectations() {
    let mut c = Rtsp::open(lab());
    c.setup_and_accept();
    let td = "TEARDOWN rtsp://198.51.100.2/stream RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n";
    c.client(td).only_outside();
    assert_eq!(c.h.w.alg_expectations(), 2);
}

#[test]
fn two_streams_fit_the_default_per_session_limit() {
    // Default max_expectations_per_session = 1 counts streams for RTSP: at least 2 (4
    // expectations), so audio's pinholes survive video's SETUP.
    let mut c = Rtsp::open(lab());
    c.setup_and_accept();
    let out = c
        .client(&setup(4, "RTP/AVP;unicast;client_port=5002-5003"))
        .only_outside();
    let (p, q) = client_port(&text(&out));
    c.server(&reply_200(
        4,
        &format!("RTP/AVP;unicast;client_port={p}-{q}"),
    ))
    .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 4);
    assert_eq!(c.ev(Event::AlgRtspExpectationEvicted), 0);
}

#[test]
fn an_error_reply_gives_the_ports_back_and_opens_nothing() {
    let mut c = Rtsp::open(lab());
    let before = used(&c);
    let out = c
        .client(&setup(3, "RTP/AVP;unicast;client_port=5000-5001"))
        .only_outside();
    let (p, _) = client_port(&text(&out));
    assert_eq!(used(&c), before + 2, "the pair is reserved");
    let rep = "RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\n\r\n";
    c.server(rep).only_inside();
    assert_eq!(used(&c), before, "and given back");
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert!(c.media(SERVER, 6970, p, RTP).is_empty());
    assert_eq!(c.ev(Event::AlgRtspExpectationRefused), 0);
}

/// Public ports in use (bindings and reservations) over all of the worker's blocks.
fn used(c: &Rtsp) -> u32 {
    let b = c.h.w.nat().port_blocks();
    (0..b.local_blocks()).map(|lb| b.used(lb)).sum()
}

#[test]
fn destination_naming_a_third_host_is_refused_or_stripped() {
    let mut c = Rtsp::open(lab());
    let req = setup(
        3,
        "RTP/AVP;unicast;destination=198.51.100.9;client_port=5000-5001",
    );
    let out = c.client(&req).only_outside();
    assert_eq!(text(&out), req, "refused: passed unmodified");
    assert_checksums_ok(&out);
    assert_eq!(c.k().failed(RtspError::ThirdPartyDestination), 1);
    assert_eq!(c.k().rewrites, 0);
    // The reply opens nothing.
    c.server(&reply_200(
        3,
        "RTP/AVP;unicast;destination=198.51.100.9;client_port=5000-5001",
    ))
    .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 0);

    // Live: strip.
    let mut l = c.h.w.live();
    l.alg.rtsp_destination = DestinationPolicy::Strip;
    c.h.w.apply_live(&l).unwrap();
    let req = setup(
        4,
        "RTP/AVP;unicast;destination=198.51.100.9;client_port=5000-5001",
    );
    let out = c.client(&req).only_outside();
    let sent = text(&out);
    let (p, q) = client_port(&sent);
    assert_eq!(
        sent,
        setup(4, &format!("RTP/AVP;unicast;client_port={p}-{q}"))
    );
    assert_checksums_ok(&out);
    assert_eq!(c.k().failed(RtspError::ThirdPartyDestination), 2);
}

#[test]
fn interleaved_transport_is_left_alone() {
    let mut c = Rtsp::open(lab());
    let req = setup(3, "RTP/AVP/TCP;unicast;interleaved=0-1");
    let out = c.client(&req).only_outside();
    assert_eq!(text(&out), req);
    let rep = reply_200(3, "RTP/AVP/TCP;unicast;interleaved=0-1");
    let back = c.server(&rep).only_inside();
    assert_eq!(text(&back), rep);
    // The SETUP is counted; its reply concerns no port the ALG gave, nothing to do.
    assert_eq!((c.k().messages, c.k().rewrites), (1, 0));
    assert_eq!(c.h.w.alg_expectations(), 0);
    // Interleaved media then flow on the connection, untouched.
    let frame = "$\x00\x00\x10RTP-16-bytes....";
    let back = c.server(frame).only_inside();
    assert_eq!(payload_of(&back), frame.as_bytes());
    assert_eq!(c.k().total_failures(), 0);
}

#[test]
fn alg_off_by_default_and_switched_live() {
    let mut c = Rtsp::open(WorkerConfig::lab_default());
    assert_eq!(c.h.w.alg_sessions(), 0);
    let req = setup(3, "RTP/AVP;unicast;client_port=5000-5001");
    let out = c.client(&req).only_outside();
    assert_eq!(text(&out), req);
    assert_eq!(c.k().messages, 0);

    // Switched on live: the next connection gets the ALG.
    let mut l = c.h.w.live();
    l.alg.rtsp = AlgPorts::new(true, &[RTSP, 8554]);
    c.h.w.apply_live(&l).unwrap();
    let mut d = Rtsp::open(l_cfg(&l));
    let out = d.client(&req).only_outside();
    assert_ne!(text(&out), req);
    // On a running connection, switching off stops parsing (the correction stays).
    let mut l = d.h.w.live();
    l.alg.rtsp = AlgPorts::new(false, &[RTSP]);
    d.h.w.apply_live(&l).unwrap();
    let req = setup(4, "RTP/AVP;unicast;client_port=5002-5003");
    let s = d.cseq;
    let out = d.client(&req).only_outside();
    assert_eq!(out, d.out_frame(add(s, d.dc), d.sseq, &req));
    assert_eq!(d.k().messages, 1);
}

fn l_cfg(l: &dataplane::live::LiveConfig) -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.alg = l.alg;
    cfg
}

#[test]
fn a_stream_that_does_not_start_as_rtsp_is_never_parsed() {
    let mut c = Rtsp::open(lab());
    let post = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    let out = c.client(post).only_outside();
    assert_eq!(text(&out), post);
    assert_eq!(c.k().failed(RtspError::NotRtsp), 1);
    let req = setup(3, "RTP/AVP;unicast;client_port=5000-5001");
    let out = c.client(&req).only_outside();
    assert_eq!(text(&out), req);
    assert_eq!((c.k().messages, c.k().rewrites), (0, 0));
}

#[test]
fn a_setup_split_across_segments_is_held_then_rewritten_whole() {
    let mut c = Rtsp::open(lab());
    let req = setup(3, "RTP/AVP;unicast;client_port=5000-5001");
    let (a, _) = req.split_at(40);
    assert!(c.client(a).is_empty(), "held: the sender retransmits");
    assert_eq!(c.h.drops(DropReason::AlgHold), 1);
    assert_eq!(c.k().failed(RtspError::SplitMessage), 1);
    // The whole message retransmitted in one segment.
    let out = c.client(&req).only_outside();
    let (p, q) = client_port(&text(&out));
    assert_eq!(text(&out), req.replace("5000-5001", &format!("{p}-{q}")));
}

#[test]
fn a_connection_ending_before_the_reply_gives_its_ports_back() {
    let mut c = Rtsp::open(lab());
    let before = used(&c);
    c.client(&setup(3, "RTP/AVP;unicast;client_port=5000-5001"))
        .only_outside();
    assert_eq!(used(&c), before + 2);
    // A new SYN on the same 4-tuple starts afresh: the old state goes, its ports with it.
    let syn = seg(
        SUB_MAC, IN_MAC, SUB1, CPORT, SERVER, RTSP, 64, 9999, None, true, b"",
    );
    c.h.send(Side::Inside, &syn).only_outside();
    assert_eq!(used(&c), before);
}

#[test]
fn a_rewrite_that_does_not_fit_passes_unmodified_and_gives_its_ports_back() {
    let mut cfg = lab();
    cfg.port_min = 10000; // every public port has 5 digits: the rewrite grows
    let mut c = Rtsp::open(cfg);
    let before = used(&c);
    let req = setup(3, "RTP/AVP;unicast;client_port=1024-1025");
    let f = seg(
        SUB_MAC,
        IN_MAC,
        SUB1,
        CPORT,
        SERVER,
        RTSP,
        64,
        c.cseq,
        Some(c.sseq),
        false,
        req.as_bytes(),
    );
    c.h.w.process(
        Side::Inside,
        dataplane::VecBuf::with_tailroom(&f, 0),
        c.h.now,
        &mut c.h.tx,
        &mut c.h.alloc,
    );
    let out = c.h.take().only_outside();
    assert_eq!(out, c.out_frame(c.cseq, c.sseq, &req));
    assert_checksums_ok(&out);
    assert_eq!(c.ev(Event::AlgRtspNoRoom), 1);
    assert_eq!((c.k().rewrites, c.k().expectations), (0, 0));
    assert_eq!(used(&c), before, "the reserved pair is given back");
    // Its retransmission (with room) is rewritten as if first seen, numbers unchanged.
    let s0 = c.cseq;
    let out = c.client(&req).only_outside();
    let (p, q) = client_port(&text(&out));
    let want = setup(3, &format!("RTP/AVP;unicast;client_port={p}-{q}"));
    assert_eq!(out, c.out_frame(s0, c.sseq, &want));
    assert_eq!(used(&c), before + 2);
}

#[test]
fn a_retransmitted_setup_gets_the_same_ports() {
    let mut c = Rtsp::open(lab());
    let req = setup(3, "RTP/AVP;unicast;client_port=5000-5001");
    let s0 = c.cseq;
    let first = c.client(&req).only_outside();
    let after = used(&c);
    c.cseq = s0;
    c.dc = 0;
    let again = c.client(&req).only_outside();
    assert_eq!(again, first);
    assert_eq!(used(&c), after, "nothing more reserved");
    assert_eq!(c.k().messages, 1);
}

#[test]
fn expectations_time_out_and_their_ports_are_given_back() {
    let mut c = Rtsp::open(lab());
    let before = used(&c);
    let p = c.setup_and_accept();
    assert_eq!(used(&c), before + 2);
    c.h.now += 299 * SEC;
    c.h.poll();
    assert_eq!(c.h.w.alg_expectations(), 2, "not before the timeout");
    c.h.now += 2 * SEC;
    c.h.poll();
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgRtspExpectationExpired), 2);
    assert_eq!(used(&c), before);
    assert!(c.media(SERVER, 6970, p, RTP).is_empty());
}

#[test]
fn rtp_is_admitted_under_address_and_port_dependent_filtering() {
    let mut cfg = lab();
    cfg.filtering = dataplane::nat::Filtering::AddressAndPortDependent;
    let mut c = Rtsp::open(cfg);
    let p = c.setup_and_accept();
    let inside = c.media(SERVER, 6970, p, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 6970, SUB1, 5000, 63, RTP)
    );
    // The next datagram of that flow passes as an ordinary session.
    let inside = c.media(SERVER, 6970, p, b"second").only_inside();
    assert_eq!(payload_of(&inside), b"second");
    // Another source port of the server is not the admitted flow.
    assert!(c.media(SERVER, 7000, p, RTP).is_empty());
}

#[test]
fn rtsp_counters_are_part_of_the_worker_counters_and_merge() {
    let mut c = Rtsp::open(lab());
    c.setup_and_accept();
    let mut total = dataplane::Counters::default();
    total.merge(c.h.w.counters());
    total.merge(c.h.w.counters());
    let v = |n: &str| total.iter().find(|(k, _)| *k == n).map(|(_, v)| v);
    assert_eq!(v("alg_rtsp_sessions"), Some(2));
    assert_eq!(v("alg_rtsp_messages"), Some(4));
    assert_eq!(v("alg_rtsp_rewrites"), Some(4));
    assert_eq!(v("alg_rtsp_expectations"), Some(4));
    for n in [
        "alg_rtsp_no_room",
        "alg_rtsp_expectation_used",
        "alg_rtsp_expectation_expired",
        "alg_rtsp_expectation_evicted",
        "alg_rtsp_expectation_refused",
        "alg_rtsp_third_party_destination",
        "alg_rtsp_not_rtsp",
    ] {
        assert_eq!(v(n), Some(0), "{n}");
    }
    assert_eq!(c.h.w.alg_rtsp_sessions(), 1);
}

/// ffmpeg's RTSP client sends a "punch" datagram from its RTP and RTCP ports to the server's
/// ports right after the SETUP reply, before `PLAY`: those bindings must take the public
/// ports the SETUP announced, or the server's media goes to ports nobody holds.
#[test]
fn the_clients_own_first_datagrams_take_the_announced_public_ports() {
    let mut c = Rtsp::open(lab());
    let p = c.setup_and_accept();
    assert_eq!(c.h.w.alg_expectations(), 2);
    let punch = b"\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    for (inside, public, server) in [(5000, p, 6970), (5001, p + 1, 6971)] {
        let out =
            c.h.send(
                Side::Inside,
                &udp(SUB_MAC, IN_MAC, SUB1, inside, SERVER, server, 64, punch),
            )
            .only_outside();
        assert_eq!(
            out,
            udp(OUT_MAC, NH_MAC, c.pub_ip, public, SERVER, server, 63, punch),
            "inside port {inside} leaves from the announced public port {public}"
        );
    }
    assert_eq!(c.ev(Event::AlgReservedClaimed), 2);
    // The server's media reaches the client's ports (from here on the bindings' own
    // filtering applies, as for any binding the subscriber opened).
    let inside = c.media(SERVER, 6970, p, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 6970, SUB1, 5000, 63, RTP)
    );
    let inside = c.media(SERVER, 6971, p + 1, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 6971, SUB1, 5001, 63, RTP)
    );
    assert_eq!(c.ev(Event::AlgRtspExpectationUsed), 2);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // Exactly two bindings for the media ports, one for the control connection.
    assert_eq!(c.ev(Event::BindingCreated), 3);
}
