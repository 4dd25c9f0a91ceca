#!/usr/bin/env python3
"""Writes the seed corpus of the `sip` fuzz target (fuzz/corpus/sip/): realistic messages as
SIPp's default uac/uas scenarios and common phones send them, in the input format of
alg/src/fuzz_harness_sip.rs (first byte: flags; rest: datagram or one TCP direction)."""
import os, sys

OUT = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "sip")

def msg(template, eol="\r\n"):
    head, body = template.split("\n\n", 1)
    body = body.replace("\n", eol)
    head = head.replace("\n", eol).replace("{CL}", str(len(body)))
    return (head + eol + eol + body).encode()

UAC_INVITE = """INVITE sip:service@198.51.100.10:5060 SIP/2.0
Via: SIP/2.0/{T} 100.64.0.2:5060;branch=z9hG4bK-4711-1-0
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
"""

UAS_200 = """SIP/2.0 200 OK
Via: SIP/2.0/{T} 203.0.113.200:40000;branch=z9hG4bK-4711-1-0;received=203.0.113.200;rport=40000
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
a=rtcp:6001
a=rtpmap:0 PCMU/8000
"""

ACK = """ACK sip:198.51.100.10:5060;transport=UDP SIP/2.0
Via: SIP/2.0/{T} 100.64.0.2:5060;branch=z9hG4bK-4711-1-5
From: sipp <sip:sipp@100.64.0.2:5060>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.10:5060>;tag=99SIPpTag011
Call-ID: 1-4711@100.64.0.2
CSeq: 1 ACK
Contact: sip:sipp@100.64.0.2:5060
Max-Forwards: 70
Content-Length: 0

"""

BYE = """BYE sip:198.51.100.10:5060;transport=UDP SIP/2.0
Via: SIP/2.0/{T} 100.64.0.2:5060;branch=z9hG4bK-4711-1-7
From: sipp <sip:sipp@100.64.0.2:5060>;tag=4711SIPpTag001
To: service <sip:service@198.51.100.10:5060>;tag=99SIPpTag011
Call-ID: 1-4711@100.64.0.2
CSeq: 2 BYE
Contact: sip:sipp@100.64.0.2:5060
Max-Forwards: 70
Content-Length: 0

"""

REGISTER = """REGISTER sip:198.51.100.10 SIP/2.0
Via: SIP/2.0/{T} 100.64.0.2:5060;branch=z9hG4bKreg1;rport
Max-Forwards: 70
From: <sip:alice@example.net>;tag=r1
To: <sip:alice@example.net>
Call-ID: reg-1@100.64.0.2
CSeq: 1 REGISTER
Contact: <sip:alice@100.64.0.2:5060;ob>;expires=600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"
User-Agent: Linphone/5.2
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE
Content-Length: 0

"""

REG_200 = """SIP/2.0 200 OK
Via: SIP/2.0/{T} 203.0.113.200:40000;branch=z9hG4bKreg1;received=203.0.113.200;rport=40000
From: <sip:alice@example.net>;tag=r1
To: <sip:alice@example.net>;tag=srv
Call-ID: reg-1@100.64.0.2
CSeq: 1 REGISTER
Contact: <sip:alice@203.0.113.200:40000;ob>;expires=300
Content-Length: 0

"""

COMPACT = """INVITE sip:bob@198.51.100.10 SIP/2.0
v: SIP/2.0/{T}
   100.64.0.2;branch=z9hG4bK77;rport
f: "Alice, A." <sip:alice@100.64.0.2>;tag=a
t: <sip:bob@198.51.100.10>
i: c1@x
CSeq: 7 INVITE
m: <sip:alice@100.64.0.2>
Record-Route: <sip:100.64.0.2;lr>, <sip:198.51.100.10;lr>
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
m=image 6004 udptl t38
"""

# NAT Slipstreaming v1: the POST is padded so that the REGISTER starts a TCP segment
# (segments of 13 * 16 = 208 bytes in the seed's flags: the REGISTER begins the third one).
POST_HEAD = (b"POST /samy_pktsiz HTTP/1.1\r\nHost: 198.51.100.10:5060\r\n"
             b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 600\r\n\r\n")
POST = POST_HEAD + b"A" * (2 * 208 - len(POST_HEAD))

def t(s, tr):
    return s.replace("{T}", tr)

def seeds():
    u, p = "UDP", "TCP"
    yield "udp_uac_invite", 0x00, msg(t(UAC_INVITE, u))
    yield "udp_uac_invite_lf", 0x00, msg(t(UAC_INVITE, u), "\n")
    yield "udp_uac_invite_cr", 0x00, msg(t(UAC_INVITE, u), "\r")
    yield "udp_uac_invite_public_5060", 0x04, msg(t(UAC_INVITE, u))
    yield "udp_uas_200", 0x02, msg(t(UAS_200, u))
    yield "udp_uac_ack", 0x00, msg(t(ACK, u))
    yield "udp_uac_bye", 0x00, msg(t(BYE, u))
    yield "udp_register", 0x00, msg(t(REGISTER, u))
    yield "udp_register_200", 0x02, msg(t(REG_200, u))
    yield "udp_compact", 0x00, msg(t(COMPACT, u))
    yield "udp_maddr", 0x00, msg(t(UAC_INVITE, u).replace(
        "Contact: sip:sipp@100.64.0.2:5060", "Contact: <sip:sipp@100.64.0.2:5060;maddr=100.64.0.9>"))
    yield "udp_foreign_c", 0x00, msg(t(UAC_INVITE, u).replace("c=IN IP4 100.64.0.2", "c=IN IP4 10.1.2.3"))
    yield "udp_keepalive", 0x00, b"\r\n\r\n"
    stream = msg(t(UAC_INVITE, p)) + msg(t(ACK, p)) + b"\r\n\r\n" + msg(t(BYE, p)) + msg(t(REGISTER, p))
    yield "tcp_uac_one_segment", 0x01, stream
    yield "tcp_uac_seg_64", 0x01 | (4 << 4), stream
    yield "tcp_uac_seg_240_lazy_ack", 0x09 | (15 << 4), stream
    for eol, name in (("\n", "lf"), ("\r", "cr")):
        st = (msg(t(UAC_INVITE, p), eol) + msg(t(ACK, p), eol) + eol.encode() * 2
              + msg(t(BYE, p), eol) + msg(t(REGISTER, p), eol))
        yield f"tcp_uac_{name}_seg_224", 0x01 | (14 << 4), st
    yield "tcp_compact_seg_128", 0x01 | (8 << 4), msg(t(COMPACT, p)) + msg(t(BYE, p))
    yield "tcp_uas_200", 0x03, msg(t(UAS_200, p)) + msg(t(REG_200, p))
    yield "tcp_slipstream_post_register", 0x01 | (13 << 4), POST + msg(t(REGISTER, p))
    yield "tcp_no_content_length", 0x01, msg(t(ACK, p)).replace(b"Content-Length: 0\r\n", b"")

os.makedirs(OUT, exist_ok=True)
for name, flags, data in seeds():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([flags]) + data)
print("wrote", len(list(seeds())), "seeds to", os.path.normpath(OUT), file=sys.stderr)
