#!/usr/bin/env python3
"""A SIP phone (UA) behind the NAT for lab/tests/sip_alg.sh's REGISTER scenario.

Runs in cgn-sub. Like a phone, it uses one UDP socket, ADDRESS:5060, for everything: it
REGISTERs with the registrar (Contact = that socket, RFC 3261 §10.2), then waits for an incoming
call on the same socket and answers it: 180 Ringing, 200 OK with an SDP answer, waits for the ACK
and the BYE, answers the BYE with 200. Every message is appended to LOG. Exits 0 when the call
was answered and hung up, 1 otherwise.

Usage: sip_ua.py ADDRESS REGISTRAR LOG TIMEOUT_S
"""
import socket
import sys
import time

ADDRESS, REGISTRAR, LOG, TIMEOUT = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
PORT = 5060


def log(direction: str, peer, msg: bytes) -> None:
    with open(LOG, "a", encoding="utf-8", errors="replace") as f:
        f.write(f"----- {direction} {peer[0]}:{peer[1]}\n{msg.decode(errors='replace')}\n")


def headers(msg: str):
    out = {}
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        k, _, v = line.partition(":")
        out.setdefault(k.strip().lower(), v.strip())
    return out


def main() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ADDRESS, PORT))
    deadline = time.monotonic() + TIMEOUT

    def recv():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        data, peer = sock.recvfrom(65535)
        log("recv", peer, data)
        return data.decode(errors="replace"), peer

    def send(msg: str, peer) -> None:
        data = msg.replace("\n", "\r\n").encode()
        log("send", peer, data)
        sock.sendto(data, peer)

    try:
        send(
            f"REGISTER sip:{REGISTRAR} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {ADDRESS}:{PORT};branch=z9hG4bK-reg1;rport\n"
            f"From: <sip:alice@{REGISTRAR}>;tag=ua1\n"
            f"To: <sip:alice@{REGISTRAR}>\n"
            f"Call-ID: reg-1@{ADDRESS}\n"
            "CSeq: 1 REGISTER\n"
            f"Contact: <sip:alice@{ADDRESS}:{PORT}>\n"
            "Expires: 300\nMax-Forwards: 70\nUser-Agent: lab-phone\nContent-Length: 0\n\n",
            (REGISTRAR, PORT),
        )
        while True:
            msg, _ = recv()
            if msg.startswith("SIP/2.0 200") and "REGISTER" in headers(msg).get("cseq", ""):
                print("registered")
                break
        while True:
            msg, peer = recv()
            if msg.startswith("INVITE "):
                break
        h = headers(msg)
        common = (
            f"Via: {h.get('via', '')}\nFrom: {h.get('from', '')}\n"
            f"To: {h.get('to', '')};tag=ua-call\nCall-ID: {h.get('call-id', '')}\n"
            f"CSeq: {h.get('cseq', '')}\n"
        )
        send("SIP/2.0 180 Ringing\n" + common + "Content-Length: 0\n\n", peer)
        sdp = (
            f"v=0\no=alice 1 1 IN IP4 {ADDRESS}\ns=-\nc=IN IP4 {ADDRESS}\nt=0 0\n"
            "m=audio 6400 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
        ).replace("\n", "\r\n")
        send(
            "SIP/2.0 200 OK\n" + common
            + f"Contact: <sip:alice@{ADDRESS}:{PORT}>\nContent-Type: application/sdp\n"
            f"Content-Length: {len(sdp)}\n\n" + sdp.replace("\r\n", "\n"),
            peer,
        )
        got_ack = False
        while True:
            msg, peer = recv()
            if msg.startswith("ACK "):
                got_ack = True
            elif msg.startswith("BYE "):
                h = headers(msg)
                send(
                    "SIP/2.0 200 OK\n"
                    f"Via: {h.get('via', '')}\nFrom: {h.get('from', '')}\nTo: {h.get('to', '')}\n"
                    f"Call-ID: {h.get('call-id', '')}\nCSeq: {h.get('cseq', '')}\n"
                    "Content-Length: 0\n\n",
                    peer,
                )
                break
        print(f"incoming call answered (ACK {'seen' if got_ack else 'missing'}) and hung up")
        return 0 if got_ack else 1
    except TimeoutError:
        print("timed out")
        return 1


if __name__ == "__main__":
    sys.exit(main())
