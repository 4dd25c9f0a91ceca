#!/usr/bin/env python3
"""Writes the hand-built cargo-fuzz seeds of the rtsp and pptp targets.

usage: make-rtsp-pptp-seeds.py CORPUS_DIR   (writes CORPUS_DIR/{rtsp,pptp}/<name>)

Seed format (alg/src/fuzz_harness_{rtsp,pptp}.rs): segments of [flags][u16 length][payload];
flags bit 0 is the sender (RTSP: 0 client, 1 server; PPTP: 0 PNS, 1 PAC), RTSP bit 1 the
destination policy (0 refuse, 1 strip). RTSP messages follow what VLC 3 (live555), ffmpeg
(Lavf) and GStreamer send and what live555/mediamtx servers answer; PPTP messages are built
field by field from RFC 2637 §2 with the values pptp-linux (pptp 1.10) sends. The harness's
client is 100.64.0.2, the server 198.51.100.10, and public ports start at 20000.
"""
import pathlib
import struct
import sys

CLIENT, SERVER = 0, 1


def seg(sender, payload, flags=0):
    return bytes([sender | flags]) + struct.pack(">H", len(payload)) + payload


def segs(*items):
    return b"".join(seg(*i) for i in items)


# ---------------------------------------------------------------- RTSP

URL = "rtsp://198.51.100.10:554/live"
SDP = (
    "v=0\r\no=- 1700000000 1 IN IP4 198.51.100.10\r\ns=Session streamed by live555\r\n"
    "c=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\na=control:track1\r\nm=audio 0 RTP/AVP 97\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\na=control:track2\r\n"
)


def req(method, url, cseq, *headers, body="", ua="LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)"):
    h = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {ua}", *headers]
    if body:
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


def rep(cseq, *headers, code="200 OK", body=""):
    h = [f"RTSP/1.0 {code}", f"CSeq: {cseq}", "Date: Sat, Nov 21 2026 20:00:00 GMT", *headers]
    if body:
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


SESSION = "Session: 5A3B9C1D;timeout=65"


def vlc_session():
    return segs(
        (CLIENT, req("OPTIONS", URL, 2)),
        (SERVER, rep(2, "Public: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER")),
        (CLIENT, req("DESCRIBE", URL, 3, "Accept: application/sdp")),
        (SERVER, rep(3, f"Content-Base: {URL}/", "Content-Type: application/sdp", body=SDP)),
        (CLIENT, req("SETUP", URL + "/track1", 4, "Transport: RTP/AVP;unicast;client_port=59340-59341")),
        (SERVER, rep(4, "Transport: RTP/AVP;unicast;destination=100.64.0.2;source=198.51.100.10;"
                        "client_port=20000-20001;server_port=6970-6971", SESSION)),
        (CLIENT, req("SETUP", URL + "/track2", 5, "Transport: RTP/AVP;unicast;client_port=59342-59343",
                     "Session: 5A3B9C1D")),
        (SERVER, rep(5, "Transport: RTP/AVP;unicast;client_port=20002-20003;server_port=6972-6973", SESSION)),
        (CLIENT, req("PLAY", URL + "/", 6, "Session: 5A3B9C1D", "Range: npt=0.000-")),
        (SERVER, rep(6, "Range: npt=0.000-", SESSION, f"RTP-Info: url={URL}/track1;seq=1;rtptime=0")),
        (CLIENT, req("GET_PARAMETER", URL + "/", 7, "Session: 5A3B9C1D")),
        (SERVER, rep(7, SESSION)),
        (CLIENT, req("TEARDOWN", URL + "/", 8, "Session: 5A3B9C1D")),
        (SERVER, rep(8)),
    )


FF = "Lavf58.76.100"


def ffmpeg_udp():
    return segs(
        (CLIENT, req("OPTIONS", URL, 1, ua=FF)),
        (SERVER, rep(1, "Public: DESCRIBE, SETUP, TEARDOWN, PLAY")),
        (CLIENT, req("DESCRIBE", URL, 2, "Accept: application/sdp", ua=FF)),
        (SERVER, rep(2, "Content-Type: application/sdp", body=SDP)),
        (CLIENT, req("SETUP", URL + "/track1", 3, "Transport: RTP/AVP/UDP;unicast;client_port=17468-17469", ua=FF)),
        (SERVER, rep(3, "Transport: RTP/AVP/UDP;unicast;client_port=20000-20001;server_port=8000-8001;ssrc=6B8B4567",
                     "Session: 9F27A0E1")),
        (CLIENT, req("PLAY", URL, 4, "Range: npt=0.000-", "Session: 9F27A0E1", ua=FF)),
        (SERVER, rep(4, "Session: 9F27A0E1")),
    )


def ffmpeg_tcp():
    rtp = b"$\x00\x00\x0c" + bytes.fromhex("80600001000000006b8b4567")
    rtcp = b"$\x01\x00\x08" + bytes.fromhex("80c800016b8b4567")
    return segs(
        (CLIENT, req("SETUP", URL + "/track1", 3, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1", ua=FF)),
        (SERVER, rep(3, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=6B8B4567", "Session: 9F27A0E2")),
        (CLIENT, req("PLAY", URL, 4, "Session: 9F27A0E2", ua=FF)),
        (SERVER, rep(4, "Session: 9F27A0E2") + rtp + rtp + rtcp),
        (SERVER, rtp * 3),
        (CLIENT, rtcp + req("TEARDOWN", URL, 5, "Session: 9F27A0E2", ua=FF)),
    )


def gstreamer_multi():
    t = "Transport: RTP/AVP;unicast;client_port=37000-37001,RTP/AVP/TCP;unicast;interleaved=0-1"
    return segs(
        (CLIENT, req("SETUP", URL + "/track1", 1, t, ua="GStreamer/1.20.3")),
        (SERVER, rep(1, "Transport: RTP/AVP;unicast;client_port=20000-20001;server_port=5000-5001", SESSION)),
    )


def split_setup():
    m = req("SETUP", URL + "/track1", 4, "Transport: RTP/AVP;unicast;client_port=59340-59341")
    return segs((CLIENT, m[:70]), (CLIENT, m[70:]),
                (SERVER, rep(4, "Transport: RTP/AVP;unicast;client_port=20000-20001", SESSION)))


def destination_third_party():
    t = "Transport: RTP/AVP;unicast;destination=100.64.0.9;client_port=59340-59341"
    own = "Transport: RTP/AVP;unicast;destination=100.64.0.2;client_port=59342-59343"
    return segs(
        (CLIENT, req("SETUP", URL + "/a", 1, t)),
        (CLIENT, req("SETUP", URL + "/b", 2, t), 2),
        (CLIENT, req("SETUP", URL + "/c", 3, own)),
    )


def slipstream_post():
    inner = req("SETUP", URL, 1, "Transport: RTP/AVP;unicast;client_port=59340-59341")
    post = b"POST /x HTTP/1.1\r\nHost: 198.51.100.10:554\r\nContent-Length: %d\r\n\r\n" % len(inner)
    return segs((CLIENT, post + inner), (CLIENT, inner))


def bad_ports():
    out = b""
    for i, cp in enumerate(["0-1", "554-555", "59341-59342", "59340-59345", "65534-65535", "70000-70001"]):
        out += seg(CLIENT, req("SETUP", URL, 10 + i, f"Transport: RTP/AVP;unicast;client_port={cp}"))
    return out


def refused_setup():
    return segs(
        (CLIENT, req("SETUP", URL + "/track1", 4, "Transport: RTP/AVP;unicast;client_port=59340-59341")),
        (SERVER, rep(4, code="461 Unsupported Transport")),
    )


# ---------------------------------------------------------------- PPTP

MAGIC = 0x1A2B3C4D


def ctrl(kind, body):
    msg_len = 12 + len(body)
    return struct.pack(">HHIHH", msg_len, 1, MAGIC, kind, 0) + body


def name64(s):
    return s.encode().ljust(64, b"\0")


def sccrq():  # §2.1, as pptp-linux: version 1.0, sync+async framing, analog+digital bearer
    return ctrl(1, struct.pack(">HHIIHH", 0x0100, 0, 3, 3, 0, 0x0100) + name64("local") + name64("cananian"))


def sccrp(result=1):
    return ctrl(2, struct.pack(">HBBIIHH", 0x0100, result, 0, 1, 1, 1, 1) + name64("pptpd") + name64("linux"))


def stop_rq():
    return ctrl(3, struct.pack(">BBH", 1, 0, 0))


def stop_rp():
    return ctrl(4, struct.pack(">BBH", 1, 0, 0))


def echo_rq(ident):
    return ctrl(5, struct.pack(">I", ident))


def echo_rp(ident):
    return ctrl(6, struct.pack(">IBBH", ident, 1, 0, 0))


def ocrq(call_id, serial):  # §2.7
    return ctrl(7, struct.pack(">HHIIIIHHHH", call_id, serial, 2400, 10000000, 3, 3, 64, 0, 0, 0)
                + b"\0" * 64 + b"\0" * 64)


def ocrp(call_id, peer, result=1):  # §2.8
    return ctrl(8, struct.pack(">HHBBHIHHI", call_id, peer, result, 0, 0, 10000000, 64, 0, 0))


def icrq(call_id, serial):  # §2.9
    return ctrl(9, struct.pack(">HHIIHH", call_id, serial, 1, 0, 4, 4) + name64("5551") + name64("5552")
                + b"\0" * 64)


def icrp(call_id, peer, result=1):  # §2.10
    return ctrl(10, struct.pack(">HHBBHHH", call_id, peer, result, 0, 64, 0, 0))


def iccn(peer):  # §2.11
    return ctrl(11, struct.pack(">HHIHHI", peer, 0, 10000000, 64, 0, 1))


def ccrq(call_id):  # §2.12
    return ctrl(12, struct.pack(">HH", call_id, 0))


def cdn(call_id):  # §2.13
    return ctrl(13, struct.pack(">HBBHH", call_id, 1, 0, 0, 0) + b"\0" * 128)


def wen(peer):  # §2.14
    return ctrl(14, struct.pack(">HHIIIIII", peer, 0, 0, 1, 0, 0, 0, 0))


def sli(peer):  # §2.15
    return ctrl(15, struct.pack(">HHII", peer, 0, 0xFFFFFFFF, 0xFFFFFFFF))


PNS, PAC = 0, 1


def pptp_linux_call():
    return segs(
        (PNS, sccrq()), (PAC, sccrp()),
        (PNS, ocrq(0x0001, 0)), (PAC, ocrp(0x8001, 0x4000)),
        (PNS, sli(0x8001)), (PAC, sli(0x4000)),
        (PAC, echo_rq(1)), (PNS, echo_rp(1)),
        (PAC, wen(0x4000)),
        (PNS, ccrq(0x0001)), (PAC, cdn(0x8001)),
        (PNS, stop_rq()), (PAC, stop_rp()),
    )


def two_calls():
    return segs(
        (PNS, sccrq()), (PAC, sccrp()),
        (PNS, ocrq(0x0010, 1) + ocrq(0x0011, 2)),
        (PAC, ocrp(0x9002, 0x4001) + ocrp(0x9001, 0x4000)),
        (PAC, cdn(0x9001)),
        (PNS, stop_rq()),
    )


def incoming_call():
    return segs(
        (PNS, sccrq()), (PAC, sccrp()),
        (PAC, icrq(0x7001, 5)), (PNS, icrp(0x0021, 0x7001)), (PAC, iccn(0x4000)),
        (PAC, icrq(0x7002, 6)), (PNS, icrp(0x0022, 0x7002, 3)),
        (PNS, ccrq(0x0021)), (PAC, cdn(0x7001)),
    )


def split_messages():
    m = ocrq(0x0001, 0)
    return segs(
        (PNS, sccrq()[:100]), (PNS, sccrq()[100:]), (PAC, sccrp()),
        (PNS, m[:10]), (PNS, m[10:100]), (PNS, m[100:] + ccrq(0x0001)[:4]), (PNS, ccrq(0x0001)[4:]),
        (PAC, ocrp(0x8001, 0x4000)[:20]), (PAC, ocrp(0x8001, 0x4000)[20:]),
    )


def out_of_state():
    bad = bytearray(ocrq(0x0002, 0))
    bad[4] = 0
    short = bytearray(ccrq(0x0003))
    short[1] = 8
    return segs(
        (PNS, ocrq(0x0001, 0)), (PAC, ocrp(0x8001, 0x4000)),
        (PNS, sccrq()), (PNS, ocrq(0x0001, 0)), (PAC, sccrp()),
        (PNS, ocrp(1, 2)), (PAC, cdn(0x1234)),
        (PAC, bytes(bad)), (PNS, bytes(short)), (PNS, ocrq(0x0004, 0)),
    )


def main():
    root = pathlib.Path(sys.argv[1])
    seeds = {
        "rtsp": {
            "vlc_session": vlc_session(), "ffmpeg_udp": ffmpeg_udp(), "ffmpeg_tcp": ffmpeg_tcp(),
            "gstreamer_multi": gstreamer_multi(), "split_setup": split_setup(),
            "destination_third_party": destination_third_party(), "slipstream_post": slipstream_post(),
            "bad_ports": bad_ports(), "refused_setup": refused_setup(),
        },
        "pptp": {
            "pptp_linux_call": pptp_linux_call(), "two_calls": two_calls(), "incoming_call": incoming_call(),
            "split_messages": split_messages(), "out_of_state": out_of_state(),
        },
    }
    for target, files in seeds.items():
        d = root / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main()
