//! SIP ALG tests: exact rewritten bytes, exact expectations, exact failure reasons; attack
//! tests named after the REFERENCE.md security record.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::counters::AlgCounters;
use crate::edit::{apply_edits, EditList};
use crate::expect::{Expectation, Protocol, Side};
use crate::seq::SeqHistory;
use core::net::{Ipv4Addr, SocketAddrV4};

const INSIDE: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);

fn sa(a: Ipv4Addr, p: u16) -> SocketAddrV4 {
    SocketAddrV4::new(a, p)
}

fn tr() -> Translation {
    Translation {
        inside: sa(INSIDE, 5060),
        public: sa(PUBLIC, 40000),
        peer: PEER,
    }
}

/// A message from a template written with `\n`: line ends replaced by `eol`, `{CL}` by the
/// body's length (the body is what follows the first empty line).
fn msg(template: &str, eol: &str) -> Vec<u8> {
    let (head, body) = template.split_once("\n\n").unwrap();
    let body = body.replace('\n', eol);
    let head = head
        .replace('\n', eol)
        .replace("{CL}", &body.len().to_string());
    format!("{head}{eol}{eol}{body}").into_bytes()
}

fn apply<const N: usize>(payload: &[u8], edits: &EditList<N>) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 64 * edits.len()];
    let n = apply_edits(payload, edits.iter(), &mut out).unwrap();
    out.truncate(n);
    out
}

/// The Content-Length value of a message and its real body length.
fn cl_and_body(m: &[u8]) -> (usize, usize) {
    let s = String::from_utf8_lossy(m);
    let (sep, eol) = if s.contains("\r\n\r\n") {
        ("\r\n\r\n", "\r\n")
    } else if s.contains("\n\n") {
        ("\n\n", "\n")
    } else {
        ("\r\r", "\r")
    };
    let (head, body) = s.split_once(sep).unwrap();
    let cl = head
        .split(eol)
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l"))
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap();
    (cl, body.len())
}

// SIPp's default `uac` INVITE, from the subscriber 100.64.0.2.
const UAC_INVITE: &str = "INVITE sip:service@198.51.100.10:5060 SIP/2.0
Via: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@100.64.0.2:5060>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.10:5060>
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Contact: sip:sipp@100.64.0.2:5060
Max-Forwards: 70
Subject: Performance Test
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=user1 53655765 2353687637 IN IP4 100.64.0.2
s=-
c=IN IP4 100.64.0.2
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

const UAC_INVITE_OUT: &str = "INVITE sip:service@198.51.100.10:5060 SIP/2.0
Via: SIP/2.0/UDP 203.0.113.200:40000;branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@203.0.113.200:40000>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.10:5060>
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Contact: sip:sipp@203.0.113.200:40000
Max-Forwards: 70
Subject: Performance Test
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=user1 53655765 2353687637 IN IP4 203.0.113.200
s=-
c=IN IP4 203.0.113.200
t=0 0
m=audio 50000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

const MAP: [MediaMap; 1] = [MediaMap {
    inside_rtp: 6000,
    public_rtp: 50000,
}];

fn outbound_rewrite(p: &[u8], transport: Transport) -> (SipMessage, Vec<u8>) {
    let m = SipMessage::parse(p, 0, transport).unwrap();
    m.check_outbound(&tr()).unwrap();
    let e = m.rewrite_outbound::<MAX_EDITS>(&tr(), &MAP).unwrap();
    (m, apply(p, &e))
}

#[test]
fn invite_with_sdp_rewritten_exactly_with_crlf_lf_and_cr() {
    for eol in ["\r\n", "\n", "\r"] {
        let p = msg(UAC_INVITE, eol);
        let (m, out) = outbound_rewrite(&p, Transport::Udp);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            String::from_utf8(msg(UAC_INVITE_OUT, eol)).unwrap(),
            "eol {eol:?}"
        );
        let (cl, body) = cl_and_body(&out);
        assert_eq!(cl, body);
        assert!(m.is_request(Method::Invite));
        assert_eq!(m.cseq, Some((1, Method::Invite)));
        assert_eq!(m.call_id, Some(call_id_hash(b"1-4711@100.64.0.2")));
        let x: Vec<_> = m
            .inbound_expectations(&tr(), &MAP)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            x,
            vec![
                Expectation::inbound(Protocol::Udp, PEER, sa(PUBLIC, 50000), sa(INSIDE, 6000)),
                Expectation::inbound(Protocol::Udp, PEER, sa(PUBLIC, 50001), sa(INSIDE, 6001)),
            ]
        );
    }
}

#[test]
fn compact_forms_and_continuation_lines() {
    let p = msg(
        "INVITE sip:bob@198.51.100.10 SIP/2.0
v: SIP/2.0/UDP
   100.64.0.2;branch=z9hG4bK77;rport
f: <sip:alice@100.64.0.2>;tag=a
t: <sip:bob@198.51.100.10>
i: c1@x
CSeq: 7 INVITE
m: <sip:alice@100.64.0.2>
c: application/sdp
l: {CL}

v=0
o=- 1 1 IN IP4 100.64.0.2
s=-
c=IN IP4 100.64.0.2
t=0 0
m=audio 6000 RTP/AVP 8
a=rtcp:6001
m=video 6002 RTP/AVP 96
a=rtcp:6003 IN IP4 100.64.0.2
",
        "\r\n",
    );
    let m = SipMessage::parse(&p, 0, Transport::Udp).unwrap();
    m.check_outbound(&tr()).unwrap();
    let maps = [
        MediaMap {
            inside_rtp: 6000,
            public_rtp: 50000,
        },
        MediaMap {
            inside_rtp: 6002,
            public_rtp: 50002,
        },
    ];
    let out = apply(&p, &m.rewrite_outbound::<MAX_EDITS>(&tr(), &maps).unwrap());
    let want = msg(
        "INVITE sip:bob@198.51.100.10 SIP/2.0
v: SIP/2.0/UDP
   203.0.113.200:40000;branch=z9hG4bK77;rport
f: <sip:alice@203.0.113.200:40000>;tag=a
t: <sip:bob@198.51.100.10>
i: c1@x
CSeq: 7 INVITE
m: <sip:alice@203.0.113.200:40000>
c: application/sdp
l: {CL}

v=0
o=- 1 1 IN IP4 203.0.113.200
s=-
c=IN IP4 203.0.113.200
t=0 0
m=audio 50000 RTP/AVP 8
a=rtcp:50001
m=video 50002 RTP/AVP 96
a=rtcp:50003 IN IP4 203.0.113.200
",
        "\r\n",
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(want).unwrap()
    );
    assert_eq!(
        m.inbound_expectations(&tr(), &maps)
            .iter()
            .flatten()
            .count(),
        4
    );
}

// SIPp's `uas` answer, from an outside peer to the subscriber's INVITE above (after the
// registrar/peer added received/rport to the subscriber's Via).
const UAS_200: &str = "SIP/2.0 200 OK
Via: SIP/2.0/UDP 203.0.113.200:40000;branch=z9hG4bK-4711-1-0;received=203.0.113.200;rport=40000
From: sipp <sip:sipp@203.0.113.200:40000>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.10:5060>;tag=99SIPpTag011
Call-ID: 1-4711@100.64.0.2
CSeq: 1 INVITE
Contact: <sip:198.51.100.10:5060;transport=UDP>
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=user1 53655765 2353687637 IN IP4 198.51.100.10
s=-
c=IN IP4 198.51.100.10
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

#[test]
fn ok_200_with_sdp_from_outside_is_untranslated_and_related() {
    let p = msg(UAS_200, "\r\n");
    let m = SipMessage::parse(&p, 0, Transport::Udp).unwrap();
    let out = apply(&p, &m.rewrite_inbound::<MAX_EDITS>(&tr()).unwrap());
    let want = msg(
        &UAS_200
            .replace(
                "UDP 203.0.113.200:40000;branch=z9hG4bK-4711-1-0;received=203.0.113.200;rport=40000",
                "UDP 100.64.0.2:5060;branch=z9hG4bK-4711-1-0;received=100.64.0.2;rport=5060",
            )
            .replace("sipp@203.0.113.200:40000", "sipp@100.64.0.2:5060"),
        "\r\n",
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(want).unwrap()
    );
    m.check_inbound(PEER).unwrap();
    let x: Vec<_> = m
        .outbound_expectations(PEER, INSIDE)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        x,
        vec![
            Expectation::outbound(Protocol::Udp, INSIDE, sa(PEER, 6000)),
            Expectation::outbound(Protocol::Udp, INSIDE, sa(PEER, 6001)),
        ]
    );
}

#[test]
fn inbound_invite_to_the_public_contact_reaches_the_inside_contact() {
    let p = msg(
        "INVITE sip:alice@203.0.113.200:40000 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKx
From: <sip:bob@198.51.100.10>;tag=b
To: <sip:alice@203.0.113.200:40000>
Call-ID: in-1
CSeq: 1 INVITE
Contact: <sip:bob@198.51.100.10>
Content-Length: 0

",
        "\r\n",
    );
    let m = SipMessage::parse(&p, 0, Transport::Udp).unwrap();
    let out = apply(&p, &m.rewrite_inbound::<MAX_EDITS>(&tr()).unwrap());
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("INVITE sip:alice@100.64.0.2:5060 SIP/2.0\r\n"));
    assert!(s.contains("To: <sip:alice@100.64.0.2:5060>\r\n"));
    assert!(s.contains("Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKx\r\n"));
    // Another subscriber sharing the public address (other port) is not touched.
    let other = msg(
        "INVITE sip:carol@203.0.113.200:40002 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.10
Call-ID: in-2
CSeq: 1 INVITE
Content-Length: 0

",
        "\r\n",
    );
    let m = SipMessage::parse(&other, 0, Transport::Udp).unwrap();
    assert!(m.rewrite_inbound::<MAX_EDITS>(&tr()).unwrap().is_empty());
}

fn run(
    session: &mut SipSession,
    side: Side,
    p: &[u8],
    now: u32,
    counters: &mut AlgCounters<SipError>,
) -> SipOutcome<MAX_EDITS> {
    let mut next = 50000u16;
    process::<MAX_EDITS>(
        session,
        None,
        None,
        SipPacket {
            transport: Transport::Udp,
            sender_side: side,
            seq: 0,
            payload: p,
            now,
        },
        &tr(),
        64,
        counters,
        |_| {
            let p = next;
            next += 2;
            Some(p)
        },
    )
}

#[test]
fn call_183_200_reinvite_and_bye_through_process() {
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let inv = msg(UAC_INVITE, "\r\n");
    let o = run(&mut s, Side::Inside, &inv, 0, &mut k);
    assert_eq!(
        String::from_utf8(apply(&inv, &o.edits)).unwrap(),
        String::from_utf8(msg(UAC_INVITE_OUT, "\r\n")).unwrap()
    );
    assert_eq!(o.install().count(), 2);
    // 183 Session Progress with early media from the peer.
    let p183 = msg(
        &UAS_200
            .replace("200 OK", "183 Session Progress")
            .replace("6000 RTP", "7000 RTP"),
        "\r\n",
    );
    let o = run(&mut s, Side::Outside, &p183, 0, &mut k);
    let x: Vec<_> = o.install().copied().collect();
    assert_eq!(
        x,
        vec![
            Expectation::outbound(Protocol::Udp, INSIDE, sa(PEER, 7000)),
            Expectation::outbound(Protocol::Udp, INSIDE, sa(PEER, 7001)),
        ]
    );
    let o = run(&mut s, Side::Outside, &msg(UAS_200, "\r\n"), 0, &mut k);
    assert_eq!(o.install().count(), 2);
    let id = call_id_hash(b"1-4711@100.64.0.2");
    assert_eq!(s.call_expectations(id).count(), 6);
    // re-INVITE from the subscriber with the same media: nothing new remembered; its 488
    // leaves the call alone (RFC 3261 §14.1).
    let re = msg(
        &UAC_INVITE.replace("CSeq: 1 INVITE", "CSeq: 2 INVITE"),
        "\r\n",
    );
    let o = run(&mut s, Side::Inside, &re, 0, &mut k);
    assert_eq!(o.edits.len(), 7);
    assert_eq!(o.install().count(), 2);
    assert_eq!(s.call_expectations(id).count(), 6);
    let err = msg(
        &UAS_200
            .replace("200 OK", "488 Not Acceptable Here")
            .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE"),
        "\r\n",
    );
    let o = run(&mut s, Side::Outside, &err, 0, &mut k);
    assert_eq!(o.remove().count(), 0);
    // BYE from the peer removes every expectation of the call.
    let bye = msg(
        "BYE sip:sipp@203.0.113.200:40000 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKbye
From: service <sip:service@198.51.100.10:5060>;tag=99SIPpTag011
To: sipp <sip:sipp@203.0.113.200:40000>;tag=4711SIPpTag001
Call-ID: 1-4711@100.64.0.2
CSeq: 2 BYE
Content-Length: 0

",
        "\r\n",
    );
    let o = run(&mut s, Side::Outside, &bye, 0, &mut k);
    assert_eq!(o.remove().count(), 6);
    assert_eq!(s.call_expectations(id).count(), 0);
    assert_eq!(
        String::from_utf8(apply(&bye, &o.edits)).unwrap(),
        String::from_utf8(msg(
            "BYE sip:sipp@100.64.0.2:5060 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKbye
From: service <sip:service@198.51.100.10:5060>;tag=99SIPpTag011
To: sipp <sip:sipp@100.64.0.2:5060>;tag=4711SIPpTag001
Call-ID: 1-4711@100.64.0.2
CSeq: 2 BYE
Content-Length: 0

",
            "\r\n"
        ))
        .unwrap()
    );
    assert_eq!(k.total_failures(), 0, "{k:?}");
}

#[test]
fn cancel_and_error_before_answer_remove_the_call() {
    for ending in ["CANCEL", "486"] {
        let mut s = SipSession::new();
        let mut k = AlgCounters::default();
        run(&mut s, Side::Inside, &msg(UAC_INVITE, "\r\n"), 0, &mut k);
        let end = if ending == "CANCEL" {
            msg(
                "CANCEL sip:service@198.51.100.10:5060 SIP/2.0
Via: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bK-4711-1-0
Call-ID: 1-4711@100.64.0.2
CSeq: 1 CANCEL
Content-Length: 0

",
                "\r\n",
            )
        } else {
            let head = UAS_200.split_once("Content-Type").unwrap().0;
            msg(
                &format!("{head}Content-Length: 0\n\n").replace("200 OK", "486 Busy Here"),
                "\r\n",
            )
        };
        let side = if ending == "CANCEL" {
            Side::Inside
        } else {
            Side::Outside
        };
        let o = run(&mut s, side, &end, 0, &mut k);
        assert_eq!(o.remove().count(), 2, "{ending}");
    }
}

const REGISTER: &str = "REGISTER sip:198.51.100.10 SIP/2.0
Via: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bKreg1;rport
From: <sip:alice@example.net>;tag=r1
To: <sip:alice@example.net>
Call-ID: reg-1@100.64.0.2
CSeq: 1 REGISTER
Contact: <sip:alice@100.64.0.2:5060>;expires=600
Content-Length: 0

";

fn reg_ok(cseq: u32, expires: u32) -> Vec<u8> {
    msg(
        &format!(
            "SIP/2.0 200 OK
Via: SIP/2.0/UDP 203.0.113.200:40000;branch=z9hG4bKreg1;received=203.0.113.200;rport=40000
From: <sip:alice@example.net>;tag=r1
To: <sip:alice@example.net>;tag=srv
Call-ID: reg-1@100.64.0.2
CSeq: {cseq} REGISTER
Contact: <sip:alice@203.0.113.200:40000>;expires={expires}
Content-Length: 0

"
        ),
        "\r\n",
    )
}

#[test]
fn register_opens_the_contact_only_after_2xx_from_the_same_registrar() {
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let o = run(&mut s, Side::Inside, &msg(REGISTER, "\r\n"), 100, &mut k);
    assert!(o.register.is_none());
    assert_eq!(s.registration(), None);
    let out = String::from_utf8(apply(&msg(REGISTER, "\r\n"), &o.edits)).unwrap();
    assert!(out.contains("Contact: <sip:alice@203.0.113.200:40000>;expires=600\r\n"));
    // A 200 from another host than the registrar: nothing.
    let ok = reg_ok(1, 300);
    let m = SipMessage::parse(&ok, 0, Transport::Udp).unwrap();
    assert_eq!(
        s.register_response(&m, Ipv4Addr::new(198, 51, 100, 66), &tr(), 100),
        Err(SipError::RegisterUnmatched)
    );
    // Another CSeq: nothing.
    let o = run(&mut s, Side::Outside, &reg_ok(2, 300), 100, &mut k);
    assert!(o.register.is_none());
    assert_eq!(k.failed(SipError::RegisterUnmatched), 1);
    // The 200 from the registrar: the expectation, for what the registrar granted.
    let want = Expectation::inbound(Protocol::Udp, PEER, sa(PUBLIC, 40000), sa(INSIDE, 5060));
    let o = run(&mut s, Side::Outside, &ok, 100, &mut k);
    assert_eq!(
        o.register,
        Some(RegisterEvent::Install {
            expectation: want,
            expires_at: 400
        })
    );
    // re-REGISTER refreshes.
    let re = msg(&REGISTER.replace("CSeq: 1", "CSeq: 2"), "\r\n");
    run(&mut s, Side::Inside, &re, 350, &mut k);
    let o = run(&mut s, Side::Outside, &reg_ok(2, 600), 350, &mut k);
    assert_eq!(
        o.register,
        Some(RegisterEvent::Install {
            expectation: want,
            expires_at: 950
        })
    );
    assert_eq!(s.expire(949), None);
    // expires=0 removes.
    let un = msg(
        &REGISTER
            .replace("CSeq: 1", "CSeq: 3")
            .replace("expires=600", "expires=0"),
        "\r\n",
    );
    run(&mut s, Side::Inside, &un, 400, &mut k);
    let o = run(&mut s, Side::Outside, &reg_ok(3, 0), 400, &mut k);
    assert_eq!(o.register, Some(RegisterEvent::Remove(want)));
    assert_eq!(s.registration(), None);
    // Timeout.
    let re4 = msg(&REGISTER.replace("CSeq: 1", "CSeq: 4"), "\r\n");
    run(&mut s, Side::Inside, &re4, 500, &mut k);
    run(&mut s, Side::Outside, &reg_ok(4, 60), 500, &mut k);
    assert_eq!(s.expire(559), None);
    assert_eq!(s.expire(560), Some(want));
}

// ---- Security record (REFERENCE.md) ----

fn tcp_run(
    st: &mut SipStream,
    hist: &mut SeqHistory,
    s: &mut SipSession,
    seq: u32,
    p: &[u8],
    k: &mut AlgCounters<SipError>,
) -> SipOutcome<MAX_EDITS> {
    let mut next = 50000u16;
    process::<MAX_EDITS>(
        s,
        Some(st),
        Some(hist),
        SipPacket {
            transport: Transport::Tcp,
            sender_side: Side::Inside,
            seq,
            payload: p,
            now: 0,
        },
        &Translation {
            inside: sa(INSIDE, 5060),
            public: sa(PUBLIC, 40000),
            peer: PEER,
        },
        64,
        k,
        |_| {
            let p = next;
            next += 2;
            Some(p)
        },
    )
}

#[test]
fn attack_1_nat_slipstreaming_http_post_then_register_opens_nothing() {
    let post = b"POST /samy HTTP/1.1\r\nHost: 198.51.100.10:5060\r\nContent-Type: multipart/form-data\r\nContent-Length: 5000\r\n\r\n";
    let register = msg(REGISTER, "\r\n");
    let mut st = SipStream::new(1000);
    let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
    let o = tcp_run(&mut st, &mut h, &mut s, 1000, post, &mut k);
    assert!(o.edits.is_empty() && !o.hold);
    let seq = 1000 + u32::try_from(post.len()).unwrap();
    let o = tcp_run(&mut st, &mut h, &mut s, seq, &register, &mut k);
    assert!(o.edits.is_empty() && o.install().next().is_none() && !o.hold);
    assert_eq!(k.failed(SipError::NotSipStream), 1);
    assert_eq!(k.messages, 0);
    assert!(st.is_dead());
    // Even the registrar's 200 then opens nothing: no REGISTER was pending.
    let mut k2 = AlgCounters::default();
    let o = run(&mut s, Side::Outside, &reg_ok(1, 600), 0, &mut k2);
    assert!(o.register.is_none());
    assert_eq!(k2.failed(SipError::RegisterUnmatched), 1);
}

#[test]
fn attack_1_register_mid_stream_inside_a_body_is_not_parsed() {
    // A SIP MESSAGE whose body carries a REGISTER; the segment cut puts it at a segment start.
    let inner = String::from_utf8(msg(REGISTER, "\r\n")).unwrap();
    let outer = msg(
        &format!(
            "MESSAGE sip:bob@198.51.100.10 SIP/2.0
Via: SIP/2.0/TCP 100.64.0.2:5060;branch=z9hG4bKm
Call-ID: m1
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: {{CL}}

{inner}"
        ),
        "\r\n",
    );
    let cut = outer.len() - inner.len();
    let mut st = SipStream::new(7);
    let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
    let a = tcp_run(&mut st, &mut h, &mut s, 7, &outer[..cut], &mut k);
    // The MESSAGE is incomplete in its segment: held, then passed after MAX_SPLIT_HOLDS.
    assert!(a.hold);
    for _ in 0..MAX_SPLIT_HOLDS - 1 {
        assert!(tcp_run(&mut st, &mut h, &mut s, 7, &outer[..cut], &mut k).hold);
    }
    let a = tcp_run(&mut st, &mut h, &mut s, 7, &outer[..cut], &mut k);
    assert!(!a.hold && a.edits.is_empty());
    let seq = 7 + u32::try_from(cut).unwrap();
    let b = tcp_run(&mut st, &mut h, &mut s, seq, &outer[cut..], &mut k);
    assert!(b.edits.is_empty() && !b.hold);
    assert_eq!(s.registration(), None);
    assert_eq!(k.messages, 0);
    assert!(!st.is_dead());
    // The stream stays in sync: the next message is parsed.
    let seq = 7 + u32::try_from(outer.len()).unwrap();
    let c = tcp_run(&mut st, &mut h, &mut s, seq, inner.as_bytes(), &mut k);
    assert_eq!(k.messages, 1);
    assert!(!c.edits.is_empty());
}

#[test]
fn attack_2_embedded_address_not_the_senders_own() {
    for (from, to) in [
        (
            "Via: SIP/2.0/UDP 100.64.0.2:5060",
            "Via: SIP/2.0/UDP 100.64.0.3:5060",
        ),
        (
            "Contact: sip:sipp@100.64.0.2:5060",
            "Contact: sip:sipp@100.64.0.9:5060",
        ),
        ("c=IN IP4 100.64.0.2", "c=IN IP4 192.168.1.20"),
        (
            "Contact: sip:sipp@100.64.0.2:5060",
            "Contact: <sip:sipp@100.64.0.2:5060>, <sip:x@100.64.0.9:5060>",
        ),
        ("a=rtpmap", "a=rtcp:6001 IN IP4 10.0.0.1\na=rtpmap"),
    ] {
        let p = msg(&UAC_INVITE.replace(from, to), "\r\n");
        let m = SipMessage::parse(&p, 0, Transport::Udp).unwrap();
        assert_eq!(
            m.check_outbound(&tr()),
            Err(SipError::AddressMismatch),
            "{to}"
        );
        let mut s = SipSession::new();
        let mut k = AlgCounters::default();
        let o = run(&mut s, Side::Inside, &p, 0, &mut k);
        assert!(o.edits.is_empty() && o.install().next().is_none());
        assert_eq!(k.failed(SipError::AddressMismatch), 1);
    }
    // From an outside host: media at another host is not related (but still untranslated).
    let p = msg(
        &UAS_200.replace("c=IN IP4 198.51.100.10", "c=IN IP4 100.64.0.7"),
        "\r\n",
    );
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let o = run(&mut s, Side::Outside, &p, 0, &mut k);
    assert!(o.install().next().is_none());
    assert!(!o.edits.is_empty());
    assert_eq!(k.failed(SipError::ThirdPartyHost), 1);
}

#[test]
fn attack_3_maddr_towards_a_third_host_is_refused() {
    for to in [
        "Contact: <sip:sipp@100.64.0.2:5060;maddr=100.64.0.9>",
        "Via: SIP/2.0/UDP 100.64.0.2:5060;maddr=100.64.0.9;branch=z9hG4bK-4711-1-0",
    ] {
        let from = if to.starts_with("Contact") {
            "Contact: sip:sipp@100.64.0.2:5060"
        } else {
            "Via: SIP/2.0/UDP 100.64.0.2:5060;branch=z9hG4bK-4711-1-0"
        };
        let p = msg(&UAC_INVITE.replace(from, to), "\r\n");
        let mut s = SipSession::new();
        let mut k = AlgCounters::default();
        let o = run(&mut s, Side::Inside, &p, 0, &mut k);
        assert!(o.edits.is_empty() && o.install().next().is_none());
        assert_eq!(k.failed(SipError::Maddr), 1);
    }
}

#[test]
fn attack_4_media_ports_zero_privileged_odd_counted_and_out_of_range() {
    let cases = [
        ("m=audio 0 RTP/AVP 0", None),
        ("m=audio 554 RTP/AVP 0", Some(SipError::PrivilegedPort)),
        ("m=audio 6001 RTP/AVP 0", Some(SipError::OddRtpPort)),
        ("m=audio 6000/2 RTP/AVP 0", Some(SipError::PortCount)),
        ("m=audio 65536 RTP/AVP 0", Some(SipError::BadSdp)),
        (
            "m=audio 6000 RTP/AVP 0\na=rtcp:23",
            Some(SipError::PrivilegedPort),
        ),
    ];
    for (line, err) in cases {
        let p = msg(&UAC_INVITE.replace("m=audio 6000 RTP/AVP 0", line), "\r\n");
        let mut s = SipSession::new();
        let mut k = AlgCounters::default();
        let o = run(&mut s, Side::Inside, &p, 0, &mut k);
        assert_eq!(o.install().count(), 0, "{line}");
        match err {
            Some(e) => {
                assert_eq!(k.failed(e), 1, "{line}");
                assert!(o.edits.is_empty(), "{line}");
            }
            None => {
                // A disabled stream: the rest is rewritten, the port 0 stays.
                assert_eq!(k.total_failures(), 0);
                let out = String::from_utf8(apply(&p, &o.edits)).unwrap();
                assert!(out.contains("m=audio 0 RTP/AVP 0"));
                assert!(out.contains("c=IN IP4 203.0.113.200"));
            }
        }
    }
}

#[test]
fn attack_5_content_length_missing_mismatched_and_no_empty_line() {
    let p = msg(UAC_INVITE, "\r\n");
    let s = String::from_utf8(p.clone()).unwrap();
    let longer = s.replacen("Content-Length: 1", "Content-Length: 2", 1);
    assert_ne!(longer, s);
    assert_eq!(
        SipMessage::parse(longer.as_bytes(), 0, Transport::Udp),
        Err(SipError::ContentLengthMismatch)
    );
    let mut cut = p.clone();
    cut.truncate(p.len() - 3);
    assert_eq!(
        SipMessage::parse(&cut, 0, Transport::Udp),
        Err(SipError::ContentLengthMismatch)
    );
    assert_eq!(
        SipMessage::parse(&cut, 0, Transport::Tcp),
        Err(SipError::SplitMessage)
    );
    let no_cl: String = s
        .split("\r\n")
        .filter(|l| !l.starts_with("Content-Length"))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert!(SipMessage::parse(no_cl.as_bytes(), 0, Transport::Udp).is_ok());
    assert_eq!(
        SipMessage::parse(no_cl.as_bytes(), 0, Transport::Tcp),
        Err(SipError::MissingContentLength)
    );
    // On a stream, a missing Content-Length loses the sync for good.
    let mut st = SipStream::new(0);
    let scan = st.segment(0, no_cl.as_bytes());
    assert_eq!(
        scan.errors,
        [
            Some(SipError::NotAtBoundary),
            Some(SipError::MissingContentLength)
        ]
    );
    assert!(st.is_dead());
    let head_only = b"OPTIONS sip:x@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 100.64.0.2\r\n";
    assert_eq!(
        SipMessage::parse(head_only, 0, Transport::Udp),
        Err(SipError::SplitMessage)
    );
    // Two different Content-Lengths: ambiguous framing.
    let two = s.replacen("Content-Length:", "l: 3\r\nContent-Length:", 1);
    assert_eq!(
        SipMessage::parse(two.as_bytes(), 0, Transport::Udp),
        Err(SipError::BadHeader)
    );
}

#[test]
fn attack_5_several_messages_in_one_segment_and_sequence_correction() {
    let a = msg(UAC_INVITE, "\r\n");
    let b = msg(REGISTER, "\r\n");
    let mut seg = a.clone();
    seg.extend_from_slice(b"\r\n\r\n"); // RFC 5626 keep-alive between messages
    seg.extend_from_slice(&b);
    let mut st = SipStream::new(u32::MAX - 10);
    let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
    let o = tcp_run(&mut st, &mut h, &mut s, u32::MAX - 10, &seg, &mut k);
    assert_eq!(k.messages, 2);
    let out = apply(&seg, &o.edits);
    let mut want = msg(UAC_INVITE_OUT, "\r\n");
    want.extend_from_slice(b"\r\n\r\n");
    want.extend_from_slice(&msg(
        &REGISTER
            .replace("100.64.0.2:5060;branch", "203.0.113.200:40000;branch")
            .replace("alice@100.64.0.2:5060", "alice@203.0.113.200:40000"),
        "\r\n",
    ));
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        String::from_utf8(want).unwrap()
    );
    // The correction moves the next segment by exactly the growth.
    let end = (u32::MAX - 10).wrapping_add(u32::try_from(seg.len()).unwrap());
    let grown = h.map_seq(end).wrapping_sub(end);
    assert_eq!(usize::try_from(grown).unwrap(), out.len() - seg.len());
    // A retransmission of the whole segment is rewritten identically (same public ports).
    let o2 = tcp_run(&mut st, &mut h, &mut s, u32::MAX - 10, &seg, &mut k);
    assert_eq!(apply(&seg, &o2.edits), out);
    assert_eq!(k.total_failures(), 0, "{k:?}");
}

#[test]
fn attack_6_message_split_over_two_segments_is_held_until_coalesced() {
    let a = msg(UAC_INVITE, "\r\n");
    let cut = 200;
    let mut st = SipStream::new(1);
    let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
    let o = tcp_run(&mut st, &mut h, &mut s, 1, &a[..cut], &mut k);
    assert!(o.hold);
    // The tail arrives before the retransmission: held too.
    let o = tcp_run(&mut st, &mut h, &mut s, 1 + 200, &a[cut..], &mut k);
    assert!(o.hold);
    assert_eq!(k.failed(SipError::SplitMessage), 2);
    // The coalesced retransmission is rewritten.
    let o = tcp_run(&mut st, &mut h, &mut s, 1, &a, &mut k);
    assert!(!o.hold);
    assert_eq!(
        String::from_utf8(apply(&a, &o.edits)).unwrap(),
        String::from_utf8(msg(UAC_INVITE_OUT, "\r\n")).unwrap()
    );
    assert_eq!(k.messages, 1);
}

#[test]
fn stream_hole_is_held_then_given_up() {
    let a = msg(REGISTER, "\r\n");
    let mut st = SipStream::new(0);
    for _ in 0..MAX_GAP_HOLDS {
        assert!(st.segment(10, &a).hold);
    }
    let scan = st.segment(10, &a);
    assert!(!scan.hold);
    assert!(st.is_dead());
    assert!(SipStream::unsynchronized()
        .segment(0, &a)
        .message_starts()
        .is_empty());
}

#[test]
fn header_limits() {
    let long = format!("Subject: {}\r\n", "x".repeat(MAX_HEADER_LEN));
    let p = msg(UAC_INVITE, "\r\n");
    let s = String::from_utf8(p).unwrap();
    let with_long = s.replacen("Max-Forwards", &format!("{long}Max-Forwards"), 1);
    assert_eq!(
        SipMessage::parse(with_long.as_bytes(), 0, Transport::Udp),
        Err(SipError::HeaderTooLong)
    );
    let many = "X-A: 1\r\n".repeat(MAX_HEADERS);
    let with_many = s.replacen("Max-Forwards", &format!("{many}Max-Forwards"), 1);
    assert_eq!(
        SipMessage::parse(with_many.as_bytes(), 0, Transport::Udp),
        Err(SipError::TooManyHeaders)
    );
    let big = format!("X-Pad: {}\r\n", "y".repeat(1000)).repeat(9);
    let with_big = s.replacen("Max-Forwards", &format!("{big}Max-Forwards"), 1);
    assert_eq!(
        SipMessage::parse(with_big.as_bytes(), 0, Transport::Udp),
        Err(SipError::MessageTooLong)
    );
    assert_eq!(
        SipMessage::parse(b"GET / HTTP/1.1\r\n\r\n", 0, Transport::Udp),
        Err(SipError::BadStartLine)
    );
}

#[test]
fn attack_7_call_limits_evict_the_oldest_call() {
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let mut first = None;
    for i in 0..=MAX_CALLS {
        let p = msg(
            &UAC_INVITE.replace("1-4711@", &format!("{i}-call@")),
            "\r\n",
        );
        let o = run(&mut s, Side::Inside, &p, 0, &mut k);
        if i == 0 {
            first = Some(o.install().copied().collect::<Vec<_>>());
        }
        if i == MAX_CALLS {
            assert_eq!(
                o.remove().copied().collect::<Vec<_>>(),
                first.clone().unwrap()
            );
        }
    }
    assert_eq!(k.failed(SipError::CallLimit), 1);
    // The subscriber's room is respected: nothing installed, nothing rewritten.
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let p = msg(UAC_INVITE, "\r\n");
    let o = process::<MAX_EDITS>(
        &mut s,
        None,
        None,
        SipPacket {
            transport: Transport::Udp,
            sender_side: Side::Inside,
            seq: 0,
            payload: &p,
            now: 0,
        },
        &tr(),
        1,
        &mut k,
        |_| Some(50000),
    );
    assert!(o.edits.is_empty() && o.install().next().is_none());
    assert_eq!(o.released().copied().collect::<Vec<_>>(), vec![50000]);
    assert_eq!(k.failed(SipError::CallLimit), 1);
}

#[test]
fn subscriber_as_uas_answers_an_inbound_invite_with_sdp() {
    // SIPp `uas` behind the NAT: the peer's INVITE came in (Via is the peer's), the
    // subscriber answers with its SDP.
    let ok = msg(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKx;received=198.51.100.10
From: <sip:bob@198.51.100.10>;tag=b
To: <sip:alice@100.64.0.2:5060>;tag=a
Call-ID: in-1
CSeq: 1 INVITE
Contact: <sip:alice@100.64.0.2:5060;transport=UDP>
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=user1 53655765 2353687637 IN IP4 100.64.0.2
s=-
c=IN IP4 100.64.0.2
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
",
        "\r\n",
    );
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let o = run(&mut s, Side::Inside, &ok, 0, &mut k);
    let out = String::from_utf8(apply(&ok, &o.edits)).unwrap();
    assert!(out.contains(
        "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKx;received=198.51.100.10\r\n"
    ));
    assert!(out.contains("To: <sip:alice@203.0.113.200:40000>;tag=a\r\n"));
    assert!(out.contains("Contact: <sip:alice@203.0.113.200:40000;transport=UDP>\r\n"));
    assert!(out.contains("c=IN IP4 203.0.113.200\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n"));
    let (cl, body) = cl_and_body(out.as_bytes());
    assert_eq!(cl, body);
    assert_eq!(
        o.install().copied().collect::<Vec<_>>(),
        vec![
            Expectation::inbound(Protocol::Udp, PEER, sa(PUBLIC, 50000), sa(INSIDE, 6000)),
            Expectation::inbound(Protocol::Udp, PEER, sa(PUBLIC, 50001), sa(INSIDE, 6001)),
        ]
    );
    assert_eq!(k.total_failures(), 0, "{k:?}");
}

#[test]
fn attack_10_rewrites_under_retransmission_and_sack_with_two_corrections() {
    let a = msg(UAC_INVITE, "\r\n");
    let b = msg(REGISTER, "\r\n");
    let isn = u32::MAX - 300; // the sequence space wraps inside the second message
    let seq_b = isn.wrapping_add(u32::try_from(a.len()).unwrap());
    let end_b = seq_b.wrapping_add(u32::try_from(b.len()).unwrap());
    let mut st = SipStream::new(isn);
    let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
    let oa = tcp_run(&mut st, &mut h, &mut s, isn, &a, &mut k);
    let ob = tcp_run(&mut st, &mut h, &mut s, seq_b, &b, &mut k);
    let (ga, gb) = (
        apply(&a, &oa.edits).len() - a.len(),
        apply(&b, &ob.edits).len() - b.len(),
    );
    assert_eq!(h.len(), 2, "two corrections in flight");
    assert_eq!(
        h.map_seq(seq_b),
        seq_b.wrapping_add(u32::try_from(ga).unwrap())
    );
    assert_eq!(
        h.map_seq(end_b),
        end_b.wrapping_add(u32::try_from(ga + gb).unwrap())
    );
    // Both retransmitted: the same bytes, the corrections unchanged.
    let ra = tcp_run(&mut st, &mut h, &mut s, isn, &a, &mut k);
    let rb = tcp_run(&mut st, &mut h, &mut s, seq_b, &b, &mut k);
    assert_eq!(apply(&a, &ra.edits), apply(&a, &oa.edits));
    assert_eq!(apply(&b, &rb.edits), apply(&b, &ob.edits));
    assert_eq!(h.len(), 2);
    assert_eq!(k.total_failures(), 0, "{k:?}");
    // The receiver SACKs the second message and ACKs the first: mapped back exactly.
    let t_b = h.map_seq(seq_b);
    let t_end = h.map_seq(end_b);
    assert_eq!(h.unmap_sack(t_b, t_end), Some((seq_b, end_b)));
    assert_eq!(h.unmap_ack(t_b), seq_b);
    assert_eq!(h.unmap_ack(t_end), end_b);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn template() -> impl Strategy<Value = (String, &'static str, bool, usize)> {
        (
            prop_oneof![Just("\r\n"), Just("\n"), Just("\r")],
            any::<bool>(),
            1usize..400,
        )
            .prop_map(|(eol, compact, cut)| {
                let mut t = UAC_INVITE.to_string();
                if compact {
                    t = t
                        .replace("Via:", "v:")
                        .replace("From:", "f:")
                        .replace("Contact:", "m:")
                        .replace("Content-Length:", "l:")
                        .replace("Content-Type:", "c:")
                        .replace("Call-ID:", "i:");
                }
                (t, eol, compact, cut)
            })
    }

    proptest! {
        /// Any variant of the INVITE, rewritten alone or as part of a TCP stream cut
        /// anywhere: the same bytes, a Content-Length equal to the body.
        #[test]
        fn rewrites_agree_across_forms_and_segmentation((t, eol, _c, cut) in template()) {
            let p = msg(&t, eol);
            let (_, alone) = outbound_rewrite(&p, Transport::Udp);
            let (cl, body) = cl_and_body(&alone);
            prop_assert_eq!(cl, body);
            let cut = cut.min(p.len() - 1);
            let mut st = SipStream::new(5);
            let (mut h, mut s, mut k) = (SeqHistory::new(), SipSession::new(), AlgCounters::default());
            let first = tcp_run(&mut st, &mut h, &mut s, 5, &p[..cut], &mut k);
            prop_assert!(first.hold);
            let whole = tcp_run(&mut st, &mut h, &mut s, 5, &p, &mut k);
            prop_assert!(!whole.hold);
            prop_assert_eq!(apply(&p, &whole.edits), alone);
        }

        /// Arbitrary bytes: no panic, spans inside the payload and in order, edits apply.
        #[test]
        fn arbitrary_bytes_never_break_the_parser(data in proptest::collection::vec(any::<u8>(), 0..600),
                                                  prefix in prop_oneof![Just(&b"INVITE sip:a@100.64.0.2 SIP/2.0\r\n"[..]), Just(&b"SIP/2.0 200 OK\r\n"[..]), Just(&b""[..])]) {
            let mut p = prefix.to_vec();
            p.extend_from_slice(&data);
            for tp in [Transport::Udp, Transport::Tcp] {
                if let Ok(m) = SipMessage::parse(&p, 0, tp) {
                    let mut last = 0;
                    for s in m.spans() {
                        prop_assert!(usize::from(s.start) >= last && s.end >= s.start);
                        prop_assert!(usize::from(s.end) <= p.len());
                        last = usize::from(s.end);
                    }
                    if let Ok(e) = m.rewrite_inbound::<MAX_EDITS>(&tr()) {
                        apply(&p, &e);
                    }
                }
            }
        }
    }
}

#[test]
fn bad_or_ipv6_sdp_from_outside_still_untranslates_the_headers() {
    for (from, to, err) in [
        (
            "m=audio 6000 RTP/AVP 0",
            "m=audio x RTP/AVP 0",
            Some(SipError::BadSdp),
        ),
        ("c=IN IP4 198.51.100.10", "c=IN IP6 2001:db8::1", None),
    ] {
        let p = msg(&UAS_200.replace(from, to), "\r\n");
        let mut s = SipSession::new();
        let mut k = AlgCounters::default();
        let o = run(&mut s, Side::Outside, &p, 0, &mut k);
        let out = String::from_utf8(apply(&p, &o.edits)).unwrap();
        assert!(out.contains("From: sipp <sip:sipp@100.64.0.2:5060>;tag=4711SIPpTag001\r\n"));
        assert_eq!(o.install().count(), 0, "{to}");
        match err {
            Some(e) => assert_eq!(k.failed(e), 1),
            None => assert_eq!(k.total_failures(), 0),
        }
    }
    // From the subscriber, an IPv6 c= is neither rewritten nor opened; the headers are.
    let p = msg(
        &UAC_INVITE.replace("c=IN IP4 100.64.0.2", "c=IN IP6 2001:db8::2"),
        "\r\n",
    );
    let mut s = SipSession::new();
    let mut k = AlgCounters::default();
    let o = run(&mut s, Side::Inside, &p, 0, &mut k);
    let out = String::from_utf8(apply(&p, &o.edits)).unwrap();
    assert!(out.contains("c=IN IP6 2001:db8::2\r\n") && out.contains("m=audio 6000 RTP/AVP 0"));
    assert!(out.contains("Contact: sip:sipp@203.0.113.200:40000\r\n"));
    assert_eq!(o.install().count(), 0);
    let (cl, body) = cl_and_body(out.as_bytes());
    assert_eq!(cl, body);
}

#[test]
fn a_tls_or_binary_stream_is_given_up_at_its_first_bytes() {
    let mut st = SipStream::new(0);
    let scan = st.segment(0, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    assert_eq!(scan.errors, [Some(SipError::NotSipStream), None]);
    assert!(st.is_dead());
    // A stream starting with CR/LF keep-alives and then a SIP message is SIP.
    let mut st = SipStream::new(0);
    let mut p = b"\r\n\r\n".to_vec();
    p.extend_from_slice(&msg(REGISTER, "\r\n"));
    let scan = st.segment(0, &p);
    assert_eq!(scan.message_starts(), &[4]);
    assert!(!st.is_dead());
}

/// A Contact (or Via, From) naming another port of the subscriber than the one the message was
/// sent from has no public counterpart: it is left as written. Rewriting only its address
/// would name that port number on the shared public address — a port of some other
/// subscriber's block, where calls for this one would be delivered.
#[test]
fn another_port_of_the_subscriber_is_left_as_written() {
    let p = msg(
        &UAC_INVITE
            .replace(
                "Contact: sip:sipp@100.64.0.2:5060",
                "Contact: sip:sipp@100.64.0.2:5070",
            )
            .replace(
                "From: sipp <sip:sipp@100.64.0.2:5060>",
                "From: sipp <sip:sipp@100.64.0.2>",
            ),
        "\r\n",
    );
    let (_, out) = outbound_rewrite(&p, Transport::Udp);
    let out = String::from_utf8(out).unwrap();
    let want = String::from_utf8(msg(
        &UAC_INVITE_OUT.replace(
            "Contact: sip:sipp@203.0.113.200:40000",
            "Contact: sip:sipp@100.64.0.2:5070",
        ),
        "\r\n",
    ))
    .unwrap();
    assert_eq!(
        out, want,
        "Contact kept; Via and the port-less From (5060) rewritten"
    );
    // Sent from another port than 5060, a port-less URI (meaning 5060) is not the sender's
    // endpoint either.
    let t = Translation {
        inside: sa(INSIDE, 5062),
        ..tr()
    };
    let p = msg(
        &UAC_INVITE
            .replace("100.64.0.2:5060", "100.64.0.2:5062")
            .replace(
                "From: sipp <sip:sipp@100.64.0.2:5062>",
                "From: sipp <sip:sipp@100.64.0.2>",
            ),
        "\r\n",
    );
    let m = SipMessage::parse(&p, 0, Transport::Udp).unwrap();
    m.check_outbound(&t).unwrap();
    let out = apply(&p, &m.rewrite_outbound::<MAX_EDITS>(&t, &MAP).unwrap());
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("From: sipp <sip:sipp@100.64.0.2>;"), "{out}");
    assert!(
        out.contains("Via: SIP/2.0/UDP 203.0.113.200:40000;"),
        "{out}"
    );
    assert!(
        out.contains("Contact: sip:sipp@203.0.113.200:40000\r\n"),
        "{out}"
    );
}
