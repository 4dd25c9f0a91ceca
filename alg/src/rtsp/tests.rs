//! RTSP tests: exact rewritten bytes, expectations and events, and the REFERENCE.md security
//! record items that apply (1 boundaries, 3 third-host destination, 4 ports, 5 framing,
//! 6 split messages, 7 limits, 10 sequence correction).

use super::message::session_hash;
use super::*;
use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::expect::Expectation;
use crate::expect::Protocol;
use crate::seq::SeqHistory;
use core::net::Ipv4Addr;
use core::net::SocketAddrV4;

const CLIENT: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);
const ISN_C: u32 = u32::MAX - 30;
const ISN_S: u32 = 7000;

struct Conn {
    st: RtspState,
    seq: [u32; 2],
    hist: [SeqHistory; 2],
    k: AlgCounters<RtspError>,
    cfg: RtspConfig,
    in_use: std::collections::BTreeSet<u16>,
    allocations: Vec<(SocketAddrV4, bool)>,
}

struct Sent {
    out: RtspOutcome,
    bytes: Vec<u8>,
}

impl Sent {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    fn events(&self) -> Vec<RtspEvent> {
        self.out.events().copied().collect()
    }
}

fn sa(a: Ipv4Addr, p: u16) -> SocketAddrV4 {
    SocketAddrV4::new(a, p)
}

impl Conn {
    fn new() -> Self {
        let mut st = RtspState::new();
        st.synchronize(RtspSender::Client, ISN_C);
        st.synchronize(RtspSender::Server, ISN_S);
        Self {
            st,
            seq: [ISN_C, ISN_S],
            hist: [SeqHistory::new(), SeqHistory::new()],
            k: AlgCounters::default(),
            cfg: RtspConfig::default(),
            in_use: std::collections::BTreeSet::new(),
            allocations: Vec::new(),
        }
    }

    fn i(sender: RtspSender) -> usize {
        match sender {
            RtspSender::Client => 0,
            RtspSender::Server => 1,
        }
    }

    fn send(&mut self, sender: RtspSender, payload: &str) -> Sent {
        let seq = self.seq[Self::i(sender)];
        let s = self.send_at(sender, seq, payload.as_bytes());
        if !s.out.hold {
            let end = seq.wrapping_add(u32::try_from(payload.len()).unwrap());
            self.seq[Self::i(sender)] = end;
            // The receiver acknowledges everything (the history folds the corrections).
            let h = &mut self.hist[Self::i(sender)];
            let t = h.map_seq(end);
            assert_eq!(h.unmap_ack(t), end);
        }
        s
    }

    fn send_at(&mut self, sender: RtspSender, seq: u32, payload: &[u8]) -> Sent {
        let in_use = &mut self.in_use;
        let allocations = &mut self.allocations;
        let out = process(
            &mut self.st,
            RtspSegment {
                sender,
                seq,
                payload,
            },
            RtspPeers {
                client: CLIENT,
                server: SERVER,
            },
            &self.cfg,
            &mut self.hist[Self::i(sender)],
            &mut self.k,
            |inside, pair| {
                assert_eq!(*inside.ip(), CLIENT);
                // The lowest free even port from 40000, as a dataplane allocator might.
                let port = (20000u16..).map(|i| i * 2).find(|p| !in_use.contains(p))?;
                in_use.insert(port);
                let p = sa(PUBLIC, port);
                allocations.push((p, pair));
                Some(p)
            },
        );
        for e in out.events() {
            if let RtspEvent::Release { public, .. } = e {
                assert!(self.in_use.remove(&public.port()), "{e:?} twice");
            }
        }
        let mut bytes = vec![0u8; payload.len() + 64 * out.edits.len()];
        let n = apply_edits(payload, out.edits.iter(), &mut bytes).unwrap();
        bytes.truncate(n);
        Sent { out, bytes }
    }
}

const SETUP_VLC: &str = "SETUP rtsp://198.51.100.10:554/stream/trackID=0 RTSP/1.0\r\n\
CSeq: 4\r\n\
User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\n\
Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n";

fn reply_200(cseq: u32, transport: &str) -> String {
    format!(
        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nTransport: {transport}\r\nSession: 6B8B4567;timeout=60\r\n\r\n"
    )
}

fn expect(public: u16, inside: u16) -> RtspEvent {
    RtspEvent::Expect {
        session: session_hash(b"6B8B4567"),
        expectation: Expectation::inbound(
            Protocol::Udp,
            SERVER,
            sa(PUBLIC, public),
            sa(CLIENT, inside),
        ),
    }
}

#[test]
fn vlc_setup_is_rewritten_and_the_reply_untranslated() {
    let mut c = Conn::new();
    let s = c.send(RtspSender::Client, SETUP_VLC);
    assert_eq!(
        s.text(),
        SETUP_VLC.replace("client_port=5000-5001", "client_port=40000-40001")
    );
    assert!(
        s.events().is_empty(),
        "no pinhole before the server accepts"
    );
    assert_eq!(c.allocations, vec![(sa(PUBLIC, 40000), true)]);
    let r = reply_200(
        4,
        "RTP/AVP;unicast;client_port=40000-40001;server_port=6970-6971;ssrc=1A2B3C4D",
    );
    let s = c.send(RtspSender::Server, &r);
    assert_eq!(
        s.text(),
        r.replace("client_port=40000-40001", "client_port=5000-5001")
    );
    assert_eq!(s.events(), vec![expect(40000, 5000), expect(40001, 5001)]);
    assert_eq!(c.st.pending_setups(), 0);
    assert_eq!((c.k.messages, c.k.rewrites, c.k.expectations), (2, 2, 2));
    assert_eq!(c.k.total_failures(), 0);
    // Attack 10: the length changes were recorded: the next client byte moves by +2, the next
    // server byte by -2.
    let next_c = c.seq[0];
    assert_eq!(c.hist[0].map_seq(next_c), next_c.wrapping_add(2));
    let next_s = c.seq[1];
    assert_eq!(c.hist[1].map_seq(next_s), next_s.wrapping_sub(2));
    // TEARDOWN names the session.
    let s = c.send(
        RtspSender::Client,
        "TEARDOWN rtsp://198.51.100.10:554/stream RTSP/1.0\r\nCSeq: 6\r\nSession: 6B8B4567\r\n\r\n",
    );
    assert_eq!(
        s.events(),
        vec![RtspEvent::Teardown(session_hash(b"6B8B4567"))]
    );
}

#[test]
fn several_transports_and_interleaved_left_alone() {
    let mut c = Conn::new();
    // ffmpeg offers UDP then TCP; GStreamer-style second UDP spec with the same ports.
    let setup = "SETUP rtsp://h/s RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/UDP;unicast;client_port=6000-6001,RTP/AVP;multicast;client_port=6000-6001,RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=6000-6001\r\n\r\n";
    let s = c.send(RtspSender::Client, setup);
    assert_eq!(
        s.text(),
        "SETUP rtsp://h/s RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/UDP;unicast;client_port=40000-40001,RTP/AVP;multicast;client_port=6000-6001,RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=40000-40001\r\n\r\n"
    );
    assert_eq!(
        c.allocations.len(),
        1,
        "identical pairs share one public pair"
    );
    // Two different pairs: two public pairs; the server picks the second, the first is given
    // back.
    let setup = "SETUP rtsp://h/t RTSP/1.0\r\nCSeq: 5\r\nTransport: RTP/AVP;unicast;client_port=7000-7001,RTP/AVP;unicast;client_port=7002\r\n\r\n";
    let s = c.send(RtspSender::Client, setup);
    assert!(s
        .text()
        .contains("client_port=40002-40003,RTP/AVP;unicast;client_port=40004\r\n"));
    let s = c.send(
        RtspSender::Server,
        &reply_200(5, "RTP/AVP;unicast;client_port=40004"),
    );
    assert!(s.text().contains("client_port=7002\r\n"));
    assert_eq!(
        s.events(),
        vec![
            RtspEvent::Release {
                public: sa(PUBLIC, 40002),
                pair: true
            },
            expect(40004, 7002),
        ]
    );
    // Interleaved only: counted, nothing rewritten, nothing pending.
    let before = c.k.messages;
    let s = c.send(
        RtspSender::Client,
        "SETUP rtsp://h/u RTSP/1.0\r\nCSeq: 6\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n",
    );
    assert_eq!((s.out.edits.len(), c.k.messages), (0, before + 1));
    assert_eq!(c.st.pending_setups(), 1, "only CSeq 3 still waits");
}

#[test]
fn attack_3_destination_own_refused_or_stripped() {
    let mut c = Conn::new();
    // Naming the client itself: always removed (it is the inside address).
    let s = c.send(
        RtspSender::Client,
        "SETUP rtsp://h/a RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;destination=100.64.0.2;client_port=5000-5001\r\n\r\n",
    );
    assert!(s
        .text()
        .contains("Transport: RTP/AVP;unicast;client_port=40000-40001\r\n"));
    assert_eq!(c.k.failed(RtspError::ThirdPartyDestination), 0);
    // Another host, policy Refuse: untouched, no port allocated.
    let third = "SETUP rtsp://h/b RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=5002-5003;destination=100.64.0.9\r\n\r\n";
    let s = c.send(RtspSender::Client, third);
    assert_eq!((s.text().as_str(), c.allocations.len()), (third, 1));
    assert_eq!(c.k.failed(RtspError::ThirdPartyDestination), 1);
    // Policy Strip: the parameter goes, the rest is rewritten.
    c.cfg.destination = DestinationPolicy::Strip;
    let s = c.send(RtspSender::Client, &third.replace("CSeq: 2", "CSeq: 3"));
    assert!(s
        .text()
        .contains("Transport: RTP/AVP;unicast;client_port=40002-40003\r\n"));
    assert_eq!(c.k.failed(RtspError::ThirdPartyDestination), 2);
    let s = c.send(
        RtspSender::Client,
        "SETUP rtsp://h/c RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;destination=evil.example;unicast;client_port=5004-5005\r\n\r\n",
    );
    assert!(s
        .text()
        .contains("Transport: RTP/AVP;unicast;client_port=40004-40005\r\n"));
}

#[test]
fn attack_4_bad_ports_are_refused_unmodified() {
    for (cp, e) in [
        ("0-1", RtspError::BadPort),
        ("70000-70001", RtspError::BadPort),
        ("554-555", RtspError::PrivilegedPort),
        ("5001-5002", RtspError::OddRtpPort),
        ("5000-5002", RtspError::BadPortRange),
        ("5000-4999", RtspError::BadPortRange),
        ("5000-5001-5002", RtspError::BadSyntax),
    ] {
        let mut c = Conn::new();
        let m = SETUP_VLC.replace("5000-5001", cp);
        let s = c.send(RtspSender::Client, &m);
        assert_eq!(s.text(), m, "{cp}");
        assert_eq!(c.k.failed(e), 1, "{cp}");
        assert!(c.allocations.is_empty());
    }
    let mut c = Conn::new();
    let five = "RTP/AVP;client_port=5000-5001,".repeat(5);
    let m = SETUP_VLC.replace("RTP/AVP;unicast;client_port=5000-5001", &five);
    c.send(RtspSender::Client, &m);
    assert_eq!(c.k.failed(RtspError::TooManyTransports), 1);
}

#[test]
fn attack_1_mid_stream_and_non_rtsp_stream_start() {
    // Not synchronised: nothing is parsed.
    let mut st = RtspState::new();
    let mut k = AlgCounters::default();
    let out = process(
        &mut st,
        RtspSegment {
            sender: RtspSender::Client,
            seq: 1,
            payload: SETUP_VLC.as_bytes(),
        },
        RtspPeers {
            client: CLIENT,
            server: SERVER,
        },
        &RtspConfig::default(),
        &mut SeqHistory::new(),
        &mut k,
        |_, _| panic!("no allocation"),
    );
    assert_eq!(out.edits.len(), 0);
    assert_eq!(k.failed(RtspError::NotAtBoundary), 1);
    // NAT Slipstreaming: an HTTP POST whose body carries a SETUP. The stream is not RTSP;
    // nothing in it is ever parsed.
    let mut c = Conn::new();
    let post = format!(
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{SETUP_VLC}",
        SETUP_VLC.len()
    );
    let s = c.send(RtspSender::Client, &post);
    assert_eq!(s.text(), post);
    assert_eq!(c.k.failed(RtspError::NotRtsp), 1);
    let s = c.send(RtspSender::Client, SETUP_VLC);
    assert_eq!(s.text(), SETUP_VLC);
    assert!(c.allocations.is_empty());
}

#[test]
fn attack_5_body_is_skipped_even_across_segments_and_pipelined_messages() {
    let mut c = Conn::new();
    // A DESCRIBE reply whose SDP body (split over two segments) contains RTSP-looking lines.
    let body = format!("v=0\r\nc=IN IP4 198.51.100.10\r\na=x:\r\n{SETUP_VLC}");
    let describe = format!(
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (a, b) = describe.split_at(describe.len() - 40);
    c.send(RtspSender::Server, a);
    c.send(RtspSender::Server, b);
    // The client side: a body-carrying request, then a SETUP right after it, one segment.
    let ann = format!(
        "SET_PARAMETER rtsp://h RTSP/1.0\r\nCSeq: 3\r\nContent-Length: {}\r\n\r\n{SETUP_VLC}",
        SETUP_VLC.len()
    );
    let both = format!("{ann}{}", SETUP_VLC.replace("CSeq: 4", "CSeq: 5"));
    let s = c.send(RtspSender::Client, &both);
    assert_eq!(s.out.edits.len(), 1);
    let at = ann.len() + SETUP_VLC.find("5000-5001").unwrap();
    assert_eq!(s.out.edits.iter().next().unwrap().offset(), at);
    assert_eq!(c.allocations.len(), 1);
    assert_eq!(c.k.total_failures(), 0);
    // Interleaved frames from the server around the SETUP reply, in one segment.
    let mut seg = b"$\x00\x00\x04abcd".to_vec();
    seg.extend(reply_200(5, "RTP/AVP;unicast;client_port=40000-40001").as_bytes());
    seg.extend(b"$\x01\x00\x02RT");
    let seq = c.seq[1];
    let s = c.send_at(RtspSender::Server, seq, &seg);
    assert_eq!(s.events().len(), 2);
    assert!(s.text().contains("client_port=5000-5001"));
}

#[test]
fn attack_6_split_header_is_held_then_passed_whole() {
    let mut c = Conn::new();
    let (a, _) = SETUP_VLC.split_at(60);
    let s = c.send(RtspSender::Client, a);
    assert!(s.out.hold);
    assert_eq!(c.k.failed(RtspError::SplitMessage), 1);
    let s = c.send(RtspSender::Client, SETUP_VLC);
    assert!(!s.out.hold);
    assert_eq!(s.out.edits.len(), 1);
    // A header cut forever: three holds, then the direction is given up.
    let mut c = Conn::new();
    for _ in 0..3 {
        assert!(c.send(RtspSender::Client, a).out.hold);
    }
    let s = c.send(RtspSender::Client, a);
    assert!(!s.out.hold);
    assert_eq!(c.k.failed(RtspError::LostSync), 1);
    let s = c.send(RtspSender::Client, SETUP_VLC);
    assert_eq!(s.out.edits.len(), 0);
    // A held segment releases what it allocated: SETUP complete, then a cut OPTIONS.
    let mut c = Conn::new();
    let seg = format!("{SETUP_VLC}OPTIONS rtsp://h RTSP/1.0\r\nCS");
    let s = c.send(RtspSender::Client, &seg);
    assert!(s.out.hold);
    assert_eq!(
        s.events(),
        vec![RtspEvent::Release {
            public: sa(PUBLIC, 40000),
            pair: true
        }]
    );
    assert_eq!(c.st.pending_setups(), 0);
}

#[test]
fn attack_7_more_setups_than_allowed_evict_the_oldest() {
    let mut c = Conn::new();
    for i in 0..MAX_PENDING_SETUPS {
        let m = SETUP_VLC.replace("CSeq: 4", &format!("CSeq: {}", 10 + i));
        c.send(RtspSender::Client, &m);
    }
    let s = c.send(
        RtspSender::Client,
        &SETUP_VLC.replace("CSeq: 4", "CSeq: 99"),
    );
    assert_eq!(
        s.events(),
        vec![RtspEvent::Release {
            public: sa(PUBLIC, 40000),
            pair: true
        }]
    );
    assert_eq!(c.k.failed(RtspError::TooManySetups), 1);
    assert_eq!(c.st.pending_setups(), MAX_PENDING_SETUPS);
    // The evicted SETUP's reply is no longer recognised: passed unmodified.
    let r = reply_200(10, "RTP/AVP;unicast;client_port=40000-40001");
    let s = c.send(RtspSender::Server, &r);
    assert_eq!((s.text(), s.events()), (r, vec![]));
}

#[test]
fn refused_setup_and_mismatching_reply_release_ports() {
    let mut c = Conn::new();
    c.send(RtspSender::Client, SETUP_VLC);
    let s = c.send(
        RtspSender::Server,
        "RTSP/1.0 461 Unsupported transport\r\nCSeq: 4\r\n\r\n",
    );
    assert_eq!(
        s.events(),
        vec![RtspEvent::Release {
            public: sa(PUBLIC, 40000),
            pair: true
        }]
    );
    c.send(RtspSender::Client, &SETUP_VLC.replace("CSeq: 4", "CSeq: 5"));
    let r = reply_200(5, "RTP/AVP;unicast;client_port=50000-50001");
    let s = c.send(RtspSender::Server, &r);
    assert_eq!(s.text(), r);
    assert_eq!(c.k.failed(RtspError::ReplyMismatch), 1);
    assert_eq!(
        s.events(),
        vec![RtspEvent::Release {
            public: sa(PUBLIC, 40000),
            pair: true
        }]
    );
}

#[test]
fn retransmitted_setup_is_rewritten_identically() {
    let mut c = Conn::new();
    let seq = c.seq[0];
    // Retransmitted before the server acknowledged it (the correction is still in flight).
    let first = c.send_at(RtspSender::Client, seq, SETUP_VLC.as_bytes());
    let again = c.send_at(RtspSender::Client, seq, SETUP_VLC.as_bytes());
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(c.allocations.len(), 1);
    assert_eq!(c.k.failed(RtspError::SeqOutOfOrder), 0);
}

#[test]
fn no_public_port_leaves_the_setup_unmodified() {
    let mut st = RtspState::new();
    st.synchronize(RtspSender::Client, 0);
    let mut k = AlgCounters::default();
    let mut hist = SeqHistory::new();
    let out = process(
        &mut st,
        RtspSegment {
            sender: RtspSender::Client,
            seq: 0,
            payload: SETUP_VLC.as_bytes(),
        },
        RtspPeers {
            client: CLIENT,
            server: SERVER,
        },
        &RtspConfig::default(),
        &mut hist,
        &mut k,
        |_, _| Some(sa(PUBLIC, 40001)), // odd: unusable, given back
    );
    assert_eq!(out.edits.len(), 0);
    assert_eq!(
        out.events().copied().collect::<Vec<_>>(),
        vec![RtspEvent::Release {
            public: sa(PUBLIC, 40001),
            pair: true
        }]
    );
    assert_eq!(k.failed(RtspError::NoPublicPort), 1);
    assert!(hist.is_empty());
}

#[test]
fn retransmitted_reply_is_untranslated_again_without_new_expectations() {
    let mut c = Conn::new();
    // Not acknowledged yet, so it can still be retransmitted below.
    c.send_at(RtspSender::Client, ISN_C, SETUP_VLC.as_bytes());
    let seq = c.seq[1];
    let r = reply_200(4, "RTP/AVP;unicast;client_port=40000-40001");
    let first = c.send_at(RtspSender::Server, seq, r.as_bytes());
    let again = c.send_at(RtspSender::Server, seq, r.as_bytes());
    assert_eq!(again.bytes, first.bytes);
    assert!(again.text().contains("client_port=5000-5001"));
    assert_eq!((first.events().len(), again.events().len()), (2, 0));
    assert_eq!((c.k.messages, c.k.expectations), (2, 2));
    assert_eq!(c.k.failed(RtspError::SeqOutOfOrder), 0);
    // The retransmitted SETUP after the reply: same text, nothing allocated.
    let again = c.send_at(RtspSender::Client, ISN_C, SETUP_VLC.as_bytes());
    assert!(again.text().contains("client_port=40000-40001"));
    assert_eq!(c.allocations.len(), 1);
    assert_eq!(c.st.pending_setups(), 0);
}

/// Runs the client stream `stream` cut at `cuts` (held segments coalesced with the next one);
/// returns the bytes delivered.
fn run_client_cut(stream: &[u8], cuts: &[usize]) -> (Vec<u8>, AlgCounters<RtspError>) {
    let mut c = Conn::new();
    let mut delivered = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|&x| x < stream.len()).collect();
    ends.sort_unstable();
    ends.push(stream.len());
    for end in ends {
        if end <= start {
            continue;
        }
        let seq = c.seq[0];
        let s = c.send_at(RtspSender::Client, seq, &stream[start..end]);
        if !s.out.hold {
            delivered.extend(s.bytes);
            c.seq[0] = seq.wrapping_add(u32::try_from(end - start).unwrap());
            start = end;
        }
    }
    (delivered, c.k)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Cutting a client stream at up to two places (a header block is then held at most twice,
    /// below the give-up bound) changes neither the delivered bytes nor what was counted.
    #[test]
    fn segmentation_does_not_change_the_result(
        ports in proptest::collection::vec(512u16..32000, 1..4),
        body in "[a-z=\\r\\n]{0,40}",
        cuts in proptest::collection::vec(0usize..2000, 0..3),
    ) {
        let mut stream = String::new();
        for (i, p) in ports.iter().enumerate() {
            let rtp = p * 2;
            stream += &format!(
                "SET_PARAMETER rtsp://h RTSP/1.0\r\nCSeq: {}\r\nContent-Length: {}\r\n\r\n{body}",
                2 * i,
                body.len()
            );
            stream += &format!(
                "SETUP rtsp://h/{i} RTSP/1.0\r\nCSeq: {}\r\nTransport: RTP/AVP;unicast;client_port={rtp}-{}\r\n\r\n",
                2 * i + 1,
                rtp + 1
            );
        }
        let (whole, k_whole) = run_client_cut(stream.as_bytes(), &[]);
        let (cut, k_cut) = run_client_cut(stream.as_bytes(), &cuts);
        proptest::prop_assert_eq!(String::from_utf8_lossy(&whole), String::from_utf8_lossy(&cut));
        proptest::prop_assert_eq!(k_whole.messages, k_cut.messages);
        proptest::prop_assert_eq!(k_whole.rewrites, k_cut.rewrites);
        proptest::prop_assert_eq!(k_cut.failed(RtspError::LostSync), 0);
    }

    /// Arbitrary bytes from either end never panic; a held segment has no edits.
    #[test]
    fn arbitrary_bytes_never_panic(
        segs in proptest::collection::vec((proptest::bool::ANY, "(SETUP|RTSP/1.0 200|\\$|Transport: |client_port=|CSeq: 1|\\r\\n|[ -~]){0,60}"), 0..8),
    ) {
        let mut c = Conn::new();
        for (server, text) in segs {
            let sender = if server { RtspSender::Server } else { RtspSender::Client };
            let s = c.send(sender, &text);
            proptest::prop_assert!(!s.out.hold || s.out.edits.is_empty());
        }
    }
}

#[test]
fn interleaved_frames_cut_anywhere_are_never_held() {
    // RTP over the RTSP connection crosses segment ends all the time; a cut frame header
    // must not stall the media. The SETUP reply between the frames is still untranslated.
    let reply = reply_200(4, "RTP/AVP;unicast;client_port=40000-40001");
    let mut stream = b"$\x00\x00\x06RTPRTP$\x01\x00\x02RC".to_vec();
    stream.extend(reply.as_bytes());
    stream.extend(b"$\x00\x00\x03abc");
    for cut in 1..stream.len() {
        for cut2 in [cut + 1, cut + 2, cut + 3] {
            // Cuts inside the reply's header block are the split-message policy (held).
            let in_reply = |x: usize| (17..16 + reply.len()).contains(&x);
            if in_reply(cut) || in_reply(cut2) {
                continue;
            }
            let mut c = Conn::new();
            c.send(RtspSender::Client, SETUP_VLC);
            let mut out = Vec::new();
            let mut events = 0;
            let mut start = 0;
            for end in [cut, cut2.min(stream.len()), stream.len()] {
                if end <= start {
                    continue;
                }
                let seq = c.seq[1];
                let s = c.send_at(RtspSender::Server, seq, &stream[start..end]);
                assert!(!s.out.hold, "cut at {cut}/{cut2}");
                events += s.events().len();
                out.extend(s.bytes);
                c.seq[1] = seq.wrapping_add(u32::try_from(end - start).unwrap());
                start = end;
            }
            let text = String::from_utf8_lossy(&out).into_owned();
            assert!(
                text.contains("client_port=5000-5001"),
                "cut at {cut}/{cut2}"
            );
            assert_eq!(events, 2, "cut at {cut}/{cut2}");
            assert_eq!(c.k.failed(RtspError::LostSync), 0);
            assert_eq!(c.k.failed(RtspError::Gap), 0);
        }
    }
}

#[test]
fn attack_5_content_length_not_matching_the_body() {
    // Shorter than the body: the rest is framed as the next message, as the server frames it;
    // here it is not RTSP, so inspection of the direction ends.
    let mut c = Conn::new();
    let m = format!(
        "SET_PARAMETER rtsp://h RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 3\r\n\r\nabcdef\r\n{SETUP_VLC}"
    );
    let s = c.send(RtspSender::Client, &m);
    assert_eq!((s.text(), c.k.failed(RtspError::NotRtsp)), (m, 1));
    assert!(c.allocations.is_empty());
    // Longer than the body: the SETUP after it is body to the server too, and not parsed.
    let mut c = Conn::new();
    let m = format!(
        "SET_PARAMETER rtsp://h RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 300\r\n\r\nabc{SETUP_VLC}"
    );
    let s = c.send(RtspSender::Client, &m);
    assert_eq!(s.text(), m);
    assert!(c.allocations.is_empty());
    // Once the body is over, a SETUP is parsed again.
    let pad = 300 - 3 - SETUP_VLC.len();
    let s = c.send(
        RtspSender::Client,
        &format!("{}{SETUP_VLC}", "x".repeat(pad)),
    );
    assert_eq!(s.out.edits.len(), 1);
}

#[test]
fn a_reply_without_session_uses_the_request_session() {
    let mut c = Conn::new();
    let m = SETUP_VLC.replace("CSeq: 4\r\n", "CSeq: 4\r\nSession: 77AA\r\n");
    c.send(RtspSender::Client, &m);
    let s = c.send(
        RtspSender::Server,
        "RTSP/1.0 200 OK\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;client_port=40000-40001\r\n\r\n",
    );
    let tags: Vec<_> = s
        .events()
        .iter()
        .map(|e| match e {
            RtspEvent::Expect { session, .. } => *session,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tags, vec![session_hash(b"77AA"); 2]);
}
