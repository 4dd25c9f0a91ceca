//! SIP ALG scenarios through the dataplane (inside UA 100.64.0.2, outside proxy/registrar/peer
//! 198.51.100.2): exact frames built independently with etherparse, exact counters.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod common;
use alg::sip::SipError;
use common::*;
use dataplane::alg_glue::AlgPorts;
use dataplane::nat::Filtering;
use dataplane::{DropReason, Event, Side, WorkerConfig};

const SIP: u16 = 5060;
/// A second port of the proxy farm (the registrar's INVITE comes from it).
const SIP2: u16 = 5080;
const UA: u16 = 5060; // the subscriber's SIP port (UDP)
const CPORT: u16 = 40000; // the subscriber's TCP port
const CISN: u32 = 1000;
const SISN: u32 = 5_000_000;
const SUB: &str = "100.64.0.2";
const PEER: &str = "198.51.100.2";

fn lab() -> WorkerConfig {
    let mut cfg = WorkerConfig::lab_default();
    cfg.alg.sip = AlgPorts::new(true, &[SIP, SIP2]);
    cfg
}

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// A message from a template written with `\n`: CRLF line ends, `{CL}` the body length, then
/// each `(from, to)` substitution.
fn msg(template: &str, subs: &[(&str, &str)]) -> String {
    let mut t = template.to_string();
    for (a, b) in subs {
        t = t.replace(a, b);
    }
    let (head, body) = t.split_once("\n\n").unwrap();
    let body = body.replace('\n', "\r\n");
    let head = head
        .replace('\n', "\r\n")
        .replace("{CL}", &body.len().to_string());
    format!("{head}\r\n\r\n{body}")
}

const INVITE: &str = "INVITE sip:service@198.51.100.2:5060 SIP/2.0
Via: SIP/2.0/{T} {A};branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@{A}>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.2:5060>
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Contact: sip:sipp@{A}
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=user1 53655765 2353687637 IN IP4 {IP}
s=-
c=IN IP4 {IP}
t=0 0
m=audio {RTP} RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

const OK_SDP: &str = "SIP/2.0 200 OK
Via: SIP/2.0/{T} {A};branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@{A}>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.2:5060>;tag=b2
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Contact: <sip:service@198.51.100.2:5060>
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=- 1 1 IN IP4 {PIP}
s=-
c=IN IP4 {PIP}
t=0 0
m=audio 7000 RTP/AVP 0
";

const TRYING: &str = "SIP/2.0 100 Trying
Via: SIP/2.0/{T} {A};branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@{A}>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.2:5060>
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Content-Length: 0

";

const BYE: &str = "BYE sip:service@198.51.100.2:5060 SIP/2.0
Via: SIP/2.0/{T} {A};branch=z9hG4bK-4711-2
From: sipp <sip:sipp@{A}>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.2:5060>;tag=b2
Call-ID: 1-4711@100.64.0.2
CSeq: 2 BYE
Content-Length: 0

";

const REGISTER: &str = "REGISTER sip:198.51.100.2 SIP/2.0
Via: SIP/2.0/UDP {A};branch=z9hG4bK-r{N}
From: <sip:alice@198.51.100.2>;tag=r1
To: <sip:alice@198.51.100.2>
Call-ID: reg-1@100.64.0.2
CSeq: {N} REGISTER
Contact: <sip:alice@{A}>;expires={E}
Content-Length: 0

";

const REGISTER_REPLY: &str = "SIP/2.0 {S}
Via: SIP/2.0/UDP {A};branch=z9hG4bK-r{N}
From: <sip:alice@198.51.100.2>;tag=r1
To: <sip:alice@198.51.100.2>;tag=s1
Call-ID: reg-1@100.64.0.2
CSeq: {N} REGISTER
Contact: <sip:alice@{A}>;expires={E}
Content-Length: 0

";

const INBOUND_INVITE: &str = "INVITE sip:alice@{A} SIP/2.0
Via: SIP/2.0/UDP 198.51.100.2:5080;branch=z9hG4bK-in1
From: <sip:bob@198.51.100.2>;tag=in1
To: <sip:alice@198.51.100.2>
Call-ID: in-1@198.51.100.2
CSeq: 1 INVITE
Contact: <sip:bob@198.51.100.2:5080>
Content-Length: 0

";

const RTP: &[u8] = b"\x80\x00\x00\x01\x00\x00\x00\xa0\x1a\x2b\x3c\x4dvoice-frame";
const RTCP: &[u8] = b"\x81\xc8\x00\x06sender-report...";

fn text(frame: &[u8]) -> String {
    String::from_utf8(payload_of(frame)).unwrap()
}

/// The port of the first `m=` line.
fn m_port(t: &str) -> u16 {
    let at = t.find("m=audio ").unwrap() + "m=audio ".len();
    t[at..].split(' ').next().unwrap().parse().unwrap()
}

/// A SIP-over-UDP subscriber (SUB1:5060) talking to PEER (SERVER).
struct Udp {
    h: Harness,
    pub_ip: [u8; 4],
    pub_port: u16,
}

impl Udp {
    fn new(cfg: WorkerConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.resolve_neighbors();
        Udp {
            h,
            pub_ip: [0; 4],
            pub_port: 0,
        }
    }

    /// The subscriber sends `m` to SERVER:`dport`; returns the single outside frame and
    /// learns the public endpoint.
    fn out(&mut self, m: &str) -> Vec<u8> {
        let f = udp(SUB_MAC, IN_MAC, SUB1, UA, SERVER, SIP, 64, m.as_bytes());
        let o = self.h.send(Side::Inside, &f).only_outside();
        (self.pub_ip, self.pub_port) = src_of(&o);
        o
    }

    /// SERVER:`sport` sends `m` to the public signalling endpoint.
    fn inbound(&mut self, sport: u16, m: &str) -> Out {
        let f = udp(
            NH_MAC,
            OUT_MAC,
            SERVER,
            sport,
            self.pub_ip,
            self.pub_port,
            64,
            m.as_bytes(),
        );
        self.h.send(Side::Outside, &f)
    }

    /// The outside frame of subscriber message `m`.
    fn out_frame(&self, m: &str) -> Vec<u8> {
        udp(
            OUT_MAC,
            NH_MAC,
            self.pub_ip,
            self.pub_port,
            SERVER,
            SIP,
            63,
            m.as_bytes(),
        )
    }

    /// The inside frame of SERVER:`sport`'s message `m`.
    fn in_frame(&self, sport: u16, m: &str) -> Vec<u8> {
        udp(IN_MAC, SUB_MAC, SERVER, sport, SUB1, UA, 63, m.as_bytes())
    }

    fn public(&self) -> String {
        format!("{}:{}", dotted(self.pub_ip), self.pub_port)
    }

    fn k(&self) -> alg::AlgCounters<SipError> {
        self.h.w.counters().alg_sip
    }

    fn ev(&self, e: Event) -> u64 {
        self.h.w.counters().event(e)
    }

    /// A media datagram from SERVER:`sport` to public port `port`.
    fn media(&mut self, sport: u16, port: u16, payload: &[u8]) -> Out {
        let f = udp(
            NH_MAC,
            OUT_MAC,
            SERVER,
            sport,
            self.pub_ip,
            port,
            64,
            payload,
        );
        self.h.send(Side::Outside, &f)
    }
}

fn invite(a: &str, ip: &str, rtp: u16, t: &str) -> String {
    msg(
        INVITE,
        &[
            ("{T}", t),
            ("{A}", a),
            ("{IP}", ip),
            ("{RTP}", &rtp.to_string()),
        ],
    )
}

fn ok_sdp(a: &str, pip: &str, t: &str) -> String {
    msg(OK_SDP, &[("{T}", t), ("{A}", a), ("{PIP}", pip)])
}

fn inside_a() -> String {
    format!("{SUB}:{UA}")
}

/// An INVITE from the subscriber, checked exactly; returns the public RTP port.
fn udp_invite(c: &mut Udp) -> u16 {
    let req = invite(&inside_a(), SUB, 6000, "UDP");
    let out = c.out(&req);
    let sent = text(&out);
    let p = m_port(&sent);
    assert_eq!(p % 2, 0, "RTP port even (RFC 3550 §11)");
    assert_eq!(
        (p - 1024) / 512,
        (c.pub_port - 1024) / 512,
        "reserved from the subscriber's block"
    );
    let want = invite(&c.public(), &dotted(c.pub_ip), p, "UDP");
    assert_eq!(sent, want);
    assert_eq!(
        out,
        c.out_frame(&want),
        "exact frame (UDP length, checksum)"
    );
    assert_checksums_ok(&out);
    p
}

#[test]
fn udp_invite_rewritten_answer_opens_rtp_and_rtcp() {
    let mut c = Udp::new(lab());
    let p = udp_invite(&mut c);
    assert_eq!(c.ev(Event::AlgSipSession), 1);
    assert_eq!(
        (c.k().messages, c.k().rewrites, c.k().expectations),
        (1, 1, 2)
    );
    assert_eq!(c.h.w.alg_expectations(), 2, "RTP and RTCP pinholes");
    assert_eq!(c.h.w.alg_sip_expectations_of(ip(SUB1)), 2);

    // The 200 OK: the subscriber sees its own address in Via/From, the peer's SDP as sent.
    let rep = ok_sdp(&c.public(), PEER, "UDP");
    let back = c.inbound(SIP, &rep).only_inside();
    let want = ok_sdp(&inside_a(), PEER, "UDP");
    assert_eq!(text(&back), want);
    assert_eq!(back, c.in_frame(SIP, &want));
    assert_checksums_ok(&back);
    assert_eq!(
        c.h.w.alg_expectations(),
        4,
        "and the two relations of the answer"
    );

    // RTP and RTCP from the peer reach the subscriber's 6000/6001.
    let inside = c.media(7000, p, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 7000, SUB1, 6000, 63, RTP)
    );
    let inside = c.media(7001, p + 1, RTCP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 7001, SUB1, 6001, 63, RTCP)
    );
    assert_eq!(c.ev(Event::AlgSipExpectationUsed), 2);
    // The subscriber's RTP leaves from the public RTP port (the binding the pinhole made).
    let f = udp(SUB_MAC, IN_MAC, SUB1, 6000, SERVER, 7000, 64, RTP);
    let out = c.h.send(Side::Inside, &f).only_outside();
    assert_eq!(src_of(&out), (c.pub_ip, p));
    assert_eq!(
        c.ev(Event::AlgSipExpectationUsed),
        3,
        "the outbound relation"
    );
    assert_eq!(c.k().total_failures(), 0);
}

#[test]
fn bye_removes_the_call_expectations() {
    let mut c = Udp::new(lab());
    let p = udp_invite(&mut c);
    c.inbound(SIP, &ok_sdp(&c.public(), PEER, "UDP"))
        .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 4);
    let bye = msg(BYE, &[("{T}", "UDP"), ("{A}", &inside_a())]);
    let out = c.out(&bye);
    assert_eq!(
        text(&out),
        msg(BYE, &[("{T}", "UDP"), ("{A}", &c.public())])
    );
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgSipExpectationEvicted), 4);
    assert_eq!(c.h.w.alg_sip_expectations_of(ip(SUB1)), 0);
    // A later RTP from the peer finds nothing (the public port went back to the block).
    assert!(c.media(7000, p, RTP).is_empty());
    assert_eq!(c.h.drops(DropReason::NoBinding), 1);
}

#[test]
fn a_retransmitted_invite_keeps_its_public_port() {
    let mut c = Udp::new(lab());
    let p = udp_invite(&mut c);
    let q = udp_invite(&mut c);
    assert_eq!(p, q);
    assert_eq!(c.h.w.alg_expectations(), 2);
}

#[test]
fn foreign_c_opens_no_pinhole_and_is_counted() {
    let mut c = Udp::new(lab());
    // The subscriber announces another host's media: passes unmodified, opens nothing.
    let req = invite(&inside_a(), "100.64.0.3", 6000, "UDP");
    let out = c.out(&req);
    assert_eq!(text(&out), req);
    assert_eq!(c.k().failed(SipError::AddressMismatch), 1);
    assert_eq!(c.h.w.alg_expectations(), 0);
    // A peer answering with a third host's media opens no relation either.
    udp_invite(&mut c);
    let rep = ok_sdp(&c.public(), "198.51.100.77", "UDP");
    let back = c.inbound(SIP, &rep).only_inside();
    assert_eq!(text(&back), ok_sdp(&inside_a(), "198.51.100.77", "UDP"));
    assert_eq!(c.k().failed(SipError::ThirdPartyHost), 1);
    assert_eq!(c.h.w.alg_expectations(), 2, "only the offer's own pinholes");
}

#[test]
fn per_subscriber_limit_refuses_media_and_counts() {
    let mut cfg = lab();
    cfg.alg.sip_max_expectations_per_subscriber = 3;
    let mut c = Udp::new(cfg);
    udp_invite(&mut c);
    assert_eq!(c.h.w.alg_expectations(), 2);
    // A second call needs two more: over the limit, it passes unmodified and opens nothing.
    let req = invite(&inside_a(), SUB, 6002, "UDP").replace("1-4711@", "2-4711@");
    let out = c.out(&req);
    assert_eq!(text(&out), req);
    assert_eq!(c.k().failed(SipError::CallLimit), 1);
    assert_eq!(c.h.w.alg_expectations(), 2);
}

#[test]
fn alg_off_by_default_then_switched_on_live() {
    let mut c = Udp::new(WorkerConfig::lab_default());
    let req = invite(&inside_a(), SUB, 6000, "UDP");
    let out = c.out(&req);
    assert_eq!(text(&out), req, "off: nothing rewritten");
    assert_eq!((c.k().messages, c.h.w.alg_sessions()), (0, 0));
    let mut l = c.h.w.live();
    l.alg.sip = AlgPorts::new(true, &[SIP]);
    c.h.w.apply_live(&l).unwrap();
    udp_invite(&mut c);
    assert_eq!(c.k().rewrites, 1);
}

fn register(a: &str, n: u32, e: u32) -> String {
    msg(
        REGISTER,
        &[("{A}", a), ("{N}", &n.to_string()), ("{E}", &e.to_string())],
    )
}

fn register_reply(status: &str, a: &str, n: u32, e: u32) -> String {
    msg(
        REGISTER_REPLY,
        &[
            ("{S}", status),
            ("{A}", a),
            ("{N}", &n.to_string()),
            ("{E}", &e.to_string()),
        ],
    )
}

/// Address-and-port-dependent filtering: an INVITE from the registrar's other port is
/// admitted only by the registration.
fn apdf() -> WorkerConfig {
    let mut cfg = lab();
    cfg.filtering = Filtering::AddressAndPortDependent;
    cfg
}

#[test]
fn register_2xx_admits_the_registrar_until_expires_zero() {
    let mut c = Udp::new(apdf());
    let out = c.out(&register(&inside_a(), 1, 3600));
    assert_eq!(text(&out), register(&c.public(), 1, 3600));
    let inv = msg(INBOUND_INVITE, &[("{A}", &c.public())]);
    assert!(c.inbound(SIP2, &inv).is_empty(), "nothing before the 2xx");
    assert_eq!(c.h.w.alg_expectations(), 0);
    let back = c
        .inbound(SIP, &register_reply("200 OK", &c.public(), 1, 3600))
        .only_inside();
    assert_eq!(text(&back), register_reply("200 OK", &inside_a(), 1, 3600));
    assert_eq!(c.h.w.alg_expectations(), 1);
    // The registrar's INVITE from its other port reaches the Contact, Request-URI translated.
    let back = c.inbound(SIP2, &inv).only_inside();
    let want = msg(INBOUND_INVITE, &[("{A}", &inside_a())]);
    assert_eq!(back, c.in_frame(SIP2, &want));
    assert_eq!(c.ev(Event::AlgSipExpectationUsed), 1);
    assert_eq!(
        c.h.w.alg_expectations(),
        1,
        "a registration is not consumed by use"
    );
    // Unregistering removes it: another port of the registrar is refused again.
    c.out(&register(&inside_a(), 2, 0));
    c.inbound(SIP, &register_reply("200 OK", &c.public(), 2, 0))
        .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgSipExpectationEvicted), 1);
    let f = udp(
        NH_MAC,
        OUT_MAC,
        SERVER,
        5090,
        c.pub_ip,
        c.pub_port,
        64,
        inv.as_bytes(),
    );
    assert!(c.h.send(Side::Outside, &f).is_empty());
}

#[test]
fn register_without_2xx_opens_nothing() {
    let mut c = Udp::new(apdf());
    c.out(&register(&inside_a(), 1, 3600));
    let back = c
        .inbound(
            SIP,
            &register_reply("401 Unauthorized", &c.public(), 1, 3600),
        )
        .only_inside();
    assert_eq!(
        text(&back),
        register_reply("401 Unauthorized", &inside_a(), 1, 3600)
    );
    // A 200 with another CSeq (not the pending REGISTER's) does not either.
    c.inbound(SIP, &register_reply("200 OK", &c.public(), 7, 3600))
        .only_inside();
    assert_eq!(c.k().failed(SipError::RegisterUnmatched), 1);
    assert_eq!(c.h.w.alg_expectations(), 0);
    let inv = msg(INBOUND_INVITE, &[("{A}", &c.public())]);
    assert!(c.inbound(SIP2, &inv).is_empty());
}

#[test]
fn registration_times_out_at_the_capped_expires() {
    let mut cfg = apdf();
    cfg.alg.sip_register_max_secs = 60;
    let mut c = Udp::new(cfg);
    c.out(&register(&inside_a(), 1, 3600));
    c.inbound(SIP, &register_reply("200 OK", &c.public(), 1, 3600))
        .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 1);
    // Keep the signalling binding alive meanwhile (a UA's keep-alive), then pass 60 s.
    c.h.now += 50 * SEC;
    c.out("\r\n\r\n");
    c.h.now += 11 * SEC;
    c.h.poll();
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgSipExpectationExpired), 1);
}

// --- TCP ---------------------------------------------------------------------------------

fn add(a: u32, d: i64) -> u32 {
    u32::try_from(i64::from(a) + d).unwrap()
}

fn seq_ack(frame: &[u8]) -> (u32, u32) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => {
            (t.sequence_number(), t.acknowledgment_number())
        }
        _ => panic!("not tcp"),
    }
}

/// A SIP-over-TCP connection from SUB1:CPORT to SERVER:5060, handshake done.
struct Tcp {
    h: Harness,
    pub_ip: [u8; 4],
    pub_port: u16,
    /// Next original client and server seq.
    cseq: u32,
    sseq: u32,
    /// Translated - original, per direction so far.
    dc: i64,
    ds: i64,
}

impl Tcp {
    fn open(cfg: WorkerConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.resolve_neighbors();
        let syn = seg(
            SUB_MAC, IN_MAC, SUB1, CPORT, SERVER, SIP, 64, CISN, None, true, b"",
        );
        let out = h.send(Side::Inside, &syn).only_outside();
        let (pub_ip, pub_port) = src_of(&out);
        let sa = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            SIP,
            pub_ip,
            pub_port,
            64,
            SISN,
            Some(CISN + 1),
            true,
            b"",
        );
        h.send(Side::Outside, &sa).only_inside();
        Tcp {
            h,
            pub_ip,
            pub_port,
            cseq: CISN + 1,
            sseq: SISN + 1,
            dc: 0,
            ds: 0,
        }
    }

    fn public(&self) -> String {
        format!("{}:{}", dotted(self.pub_ip), self.pub_port)
    }

    /// The client sends `bytes` at original seq `seq`, acknowledging the server's data as
    /// it received it (translated numbering).
    fn client_at(&mut self, seq: u32, bytes: &[u8]) -> Out {
        let f = seg(
            SUB_MAC,
            IN_MAC,
            SUB1,
            CPORT,
            SERVER,
            SIP,
            64,
            seq,
            Some(add(self.sseq, self.ds)),
            false,
            bytes,
        );
        self.h.send(Side::Inside, &f)
    }

    /// The client sends `bytes` next in its stream; forwarded segments advance it.
    fn client(&mut self, bytes: &[u8]) -> Out {
        let out = self.client_at(self.cseq, bytes);
        if out.outside.len() == 1 {
            let sent = payload_of(&out.outside[0]);
            self.cseq += u32::try_from(bytes.len()).unwrap();
            self.dc += i64::try_from(sent.len()).unwrap() - i64::try_from(bytes.len()).unwrap();
        }
        out
    }

    /// The server sends `bytes`, acknowledging everything the client sent (translated).
    fn server(&mut self, bytes: &[u8]) -> Out {
        let f = seg(
            NH_MAC,
            OUT_MAC,
            SERVER,
            SIP,
            self.pub_ip,
            self.pub_port,
            64,
            self.sseq,
            Some(add(self.cseq, self.dc)),
            false,
            bytes,
        );
        let out = self.h.send(Side::Outside, &f);
        if out.inside.len() == 1 {
            let got = payload_of(&out.inside[0]);
            self.sseq += u32::try_from(bytes.len()).unwrap();
            self.ds += i64::try_from(got.len()).unwrap() - i64::try_from(bytes.len()).unwrap();
        }
        out
    }

    fn out_frame(&self, seq: u32, ack: u32, payload: &str) -> Vec<u8> {
        seg(
            OUT_MAC,
            NH_MAC,
            self.pub_ip,
            self.pub_port,
            SERVER,
            SIP,
            63,
            seq,
            Some(ack),
            false,
            payload.as_bytes(),
        )
    }

    fn in_frame(&self, seq: u32, ack: u32, payload: &str) -> Vec<u8> {
        seg(
            IN_MAC,
            SUB_MAC,
            SERVER,
            SIP,
            SUB1,
            CPORT,
            63,
            seq,
            Some(ack),
            false,
            payload.as_bytes(),
        )
    }

    fn k(&self) -> alg::AlgCounters<SipError> {
        self.h.w.counters().alg_sip
    }
}

#[test]
fn tcp_split_invite_then_two_messages_in_one_segment_with_sequence_correction() {
    let mut c = Tcp::open(lab());
    let a_in = format!("{SUB}:{CPORT}");
    let req = invite(&a_in, SUB, 6000, "TCP");
    // The INVITE split over two segments: both held (the receiver never sees the tail of
    // a message before its rewritten start) until the sender retransmits it whole.
    let (head, tail) = req.as_bytes().split_at(200);
    assert!(c.client_at(c.cseq, head).is_empty());
    assert!(c.client_at(c.cseq + 200, tail).is_empty());
    assert_eq!(c.h.drops(DropReason::AlgHold), 2);
    let s0 = c.cseq;
    let out = c.client(req.as_bytes()).only_outside();
    let sent = text(&out);
    let p = m_port(&sent);
    let want = invite(&c.public(), &dotted(c.pub_ip), p, "TCP");
    assert_eq!(sent, want);
    assert_eq!(out, c.out_frame(s0, c.sseq, &want));
    assert_checksums_ok(&out);
    assert_ne!(c.dc, 0, "this test wants a length-changing rewrite");
    assert_eq!(c.h.w.alg_expectations(), 2);

    // 100 Trying and 200 OK in one segment: both rewritten back; the subscriber sees its
    // own numbering in the ACK field, the server's in SEQ.
    let both = format!(
        "{}{}",
        msg(TRYING, &[("{T}", "TCP"), ("{A}", &c.public())]),
        ok_sdp(&c.public(), PEER, "TCP")
    );
    let want_back = format!(
        "{}{}",
        msg(TRYING, &[("{T}", "TCP"), ("{A}", &a_in)]),
        ok_sdp(&a_in, PEER, "TCP")
    );
    let s1 = c.sseq;
    let back = c.server(both.as_bytes()).only_inside();
    assert_eq!(text(&back), want_back);
    assert_eq!(back, c.in_frame(s1, c.cseq, &want_back));
    assert_eq!(seq_ack(&back), (s1, c.cseq));
    assert_checksums_ok(&back);
    assert_ne!(c.ds, 0);
    assert_eq!(c.k().messages, 3);

    // The next client segment is shifted by the client's correction; its ACK by the server's.
    let bye = msg(BYE, &[("{T}", "TCP"), ("{A}", &a_in)]);
    let (s2, dc0) = (c.cseq, c.dc);
    let out = c.client(bye.as_bytes()).only_outside();
    let want = msg(BYE, &[("{T}", "TCP"), ("{A}", &c.public())]);
    assert_eq!(
        out,
        c.out_frame(add(s2, dc0), c.sseq, &want),
        "the server sees its own numbering in the ACK"
    );
    assert_checksums_ok(&out);
    assert_eq!(
        c.h.w.alg_expectations(),
        0,
        "BYE removed the call's expectations"
    );
    // A bare ACK from the server: the subscriber sees its own next sequence number.
    let back = c.server(b"");
    assert!(back.inside.len() == 1);
    assert_eq!(seq_ack(&back.inside[0]).1, c.cseq);
    // Both held segments are counted: the split start, then the tail behind it.
    assert_eq!(c.k().failed(SipError::SplitMessage), 2);
    assert_eq!(c.k().total_failures(), 2);
}

#[test]
fn slipstreaming_http_then_register_opens_nothing() {
    let mut c = Tcp::open(lab());
    let post = "POST / HTTP/1.1\r\nHost: 198.51.100.2:5060\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n";
    let out = c.client(post.as_bytes()).only_outside();
    assert_eq!(text(&out), post);
    let reg = "REGISTER sip:198.51.100.2;transport=TCP SIP/2.0\r\nVia: SIP/2.0/TCP 100.64.0.2:1723;branch=z9hG4bK-slip\r\nFrom: <sip:a@198.51.100.2>;tag=1\r\nTo: <sip:a@198.51.100.2>\r\nCall-ID: slip@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@100.64.0.2:1723;transport=TCP>\r\nContent-Length: 0\r\n\r\n";
    let out = c.client(reg.as_bytes()).only_outside();
    assert_eq!(text(&out), reg, "never parsed");
    let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 100.64.0.2:1723;branch=z9hG4bK-slip\r\nFrom: <sip:a@198.51.100.2>;tag=1\r\nTo: <sip:a@198.51.100.2>;tag=2\r\nCall-ID: slip@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@100.64.0.2:1723;transport=TCP>;expires=3600\r\nContent-Length: 0\r\n\r\n";
    let back = c.server(ok.as_bytes()).only_inside();
    assert_eq!(text(&back), ok);
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.k().failed(SipError::NotSipStream), 1);
    assert_eq!(c.k().messages, 0, "neither side is parsed");
    assert_eq!(c.k().failed(SipError::RegisterUnmatched), 0);
    // The attacker's SYN to the internal port is not admitted.
    let syn = seg(
        NH_MAC, OUT_MAC, SERVER, 40404, c.pub_ip, 1723, 64, 1, None, true, b"",
    );
    assert!(c.h.send(Side::Outside, &syn).inside.is_empty());
}

#[test]
fn a_tcp_connection_not_seen_from_its_syn_is_never_sip() {
    let mut c = Tcp::open(WorkerConfig::lab_default());
    // Switched on after the SYN: this connection stays unparsed.
    let mut l = c.h.w.live();
    l.alg.sip = AlgPorts::new(true, &[SIP]);
    c.h.w.apply_live(&l).unwrap();
    let req = invite(&format!("{SUB}:{CPORT}"), SUB, 6000, "TCP");
    let out = c.client(req.as_bytes()).only_outside();
    assert_eq!(text(&out), req);
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.k().messages, 0);
}

#[test]
fn an_error_to_the_invite_removes_its_pinholes() {
    let mut c = Udp::new(lab());
    let p = udp_invite(&mut c);
    assert_eq!(c.h.w.alg_expectations(), 2);
    let busy = msg(
        TRYING,
        &[
            ("{T}", "UDP"),
            ("{A}", &c.public()),
            ("100 Trying", "486 Busy Here"),
        ],
    );
    let back = c.inbound(SIP, &busy).only_inside();
    assert_eq!(
        text(&back),
        msg(
            TRYING,
            &[
                ("{T}", "UDP"),
                ("{A}", &inside_a()),
                ("100 Trying", "486 Busy Here")
            ]
        )
    );
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgSipExpectationEvicted), 2);
    assert!(c.media(7000, p, RTP).is_empty());
}

#[test]
fn a_rewrite_over_the_mtu_passes_unmodified_and_keeps_nothing() {
    let req = invite(&inside_a(), SUB, 6000, "UDP");
    let mut cfg = lab();
    // Exactly the original datagram's size: the longer public address does not fit.
    cfg.outside.mtu = u16::try_from(20 + 8 + req.len()).unwrap();
    let mut c = Udp::new(cfg);
    let out = c.out(&req);
    assert_eq!(out, c.out_frame(&req), "unmodified");
    assert_eq!(c.ev(Event::AlgSipNoRoom), 1);
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!((c.k().rewrites, c.k().expectations), (0, 0));
    // The call state was rolled back: a BYE finds nothing to remove.
    let bye = msg(BYE, &[("{T}", "UDP"), ("{A}", &inside_a())]);
    c.out(&bye);
    assert_eq!(c.ev(Event::AlgSipExpectationEvicted), 0);
}

#[test]
fn a_registration_does_not_keep_older_media_expectations_from_expiring() {
    let mut c = Udp::new(apdf());
    c.out(&register(&inside_a(), 1, 3600));
    c.inbound(SIP, &register_reply("200 OK", &c.public(), 1, 3600))
        .only_inside();
    udp_invite(&mut c);
    assert_eq!(c.h.w.alg_expectations(), 3);
    assert_eq!(c.h.w.alg_sip_expectations_of(ip(SUB1)), 3);
    // Past the media expectations' timeout (300 s), keeping the signalling binding alive.
    for _ in 0..4 {
        c.h.now += 80 * SEC;
        // (Neighbour refreshes may leave with it: only the binding matters here.)
        let f = udp(SUB_MAC, IN_MAC, SUB1, UA, SERVER, SIP, 64, b"\r\n\r\n");
        assert!(!c.h.send(Side::Inside, &f).outside.is_empty());
    }
    c.h.poll();
    assert_eq!(c.ev(Event::AlgSipExpectationExpired), 2);
    assert_eq!(c.h.w.alg_expectations(), 1, "the registration stays");
    assert_eq!(c.h.w.alg_sip_expectations_of(ip(SUB1)), 1);
}

#[test]
fn early_media_and_a_re_invite_add_to_the_call_and_bye_removes_all() {
    let mut c = Udp::new(lab());
    let p = udp_invite(&mut c);
    // 183 Session Progress with the peer's SDP: early media relations.
    let early = ok_sdp(&c.public(), PEER, "UDP").replace("200 OK", "183 Session Progress");
    let back = c.inbound(SIP, &early).only_inside();
    assert_eq!(
        text(&back),
        ok_sdp(&inside_a(), PEER, "UDP").replace("200 OK", "183 Session Progress")
    );
    assert_eq!(c.h.w.alg_expectations(), 4);
    c.inbound(SIP, &ok_sdp(&c.public(), PEER, "UDP"))
        .only_inside();
    assert_eq!(c.h.w.alg_expectations(), 4, "the same relations, refreshed");
    // A re-INVITE moving the subscriber's media to 6002 gets a second public pair.
    let re = invite(&inside_a(), SUB, 6002, "UDP").replace("CSeq: 1 INVITE", "CSeq: 3 INVITE");
    let out = c.out(&re);
    let q = m_port(&text(&out));
    assert_ne!(q, p);
    assert_eq!(q % 2, 0);
    assert_eq!(
        text(&out),
        invite(&c.public(), &dotted(c.pub_ip), q, "UDP")
            .replace("CSeq: 1 INVITE", "CSeq: 3 INVITE")
    );
    assert_eq!(c.h.w.alg_expectations(), 6);
    let inside = c.media(7000, q, RTP).only_inside();
    assert_eq!(
        inside,
        udp(IN_MAC, SUB_MAC, SERVER, 7000, SUB1, 6002, 63, RTP)
    );
    // BYE removes what is still waiting (the first pair and the relations).
    c.out(&msg(BYE, &[("{T}", "UDP"), ("{A}", &inside_a())]));
    assert_eq!(c.h.w.alg_expectations(), 0);
    assert_eq!(c.ev(Event::AlgSipExpectationEvicted), 5);
}
