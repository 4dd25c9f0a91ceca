#!/usr/bin/env python3
"""A SIP registrar that then calls the registered Contact, for lab/tests/sip_alg.sh.

Runs in cgn-inet. Over UDP on ADDRESS:5060 it waits for one REGISTER, answers 200 OK (RFC 3261
§10.3: the Contact bindings echoed with their expiry), then acts as the caller of an incoming
call: INVITE (with an SDP offer) to the registered Contact, as it arrived here (after the NAT's
SIP ALG), ACK on the 200, BYE, and waits for the 200 to the BYE. Every message it sends and
receives is appended to LOG. Exits 0 when the call completed, 1 otherwise, printing why.

Usage: sip_registrar.py ADDRESS LOG TIMEOUT_S
"""
import re
import socket
import sys
import time

ADDRESS, LOG, TIMEOUT = sys.argv[1], sys.argv[2], float(sys.argv[3])
PORT = 5060


def log(direction: str, peer, msg: bytes) -> None:
    with open(LOG, "a", encoding="utf-8", errors="replace") as f:
        f.write(f"----- {direction} {peer[0]}:{peer[1]}\n{msg.decode(errors='replace')}\n")


def header(msg: str, name: str, compact: str = "") -> str:
    names = {name.lower()} | ({compact} if compact else set())
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        k, _, v = line.partition(":")
        if k.strip().lower() in names:
            return v.strip()
    return ""


def main() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ADDRESS, PORT))
    deadline = time.monotonic() + TIMEOUT

    def recv():
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(left)
            data, peer = sock.recvfrom(65535)
            log("recv", peer, data)
            return data.decode(errors="replace"), peer

    def send(msg: str, peer) -> None:
        data = msg.replace("\n", "\r\n").encode()
        log("send", peer, data)
        sock.sendto(data, peer)

    try:
        # --- REGISTER -> 200 OK ----------------------------------------------------------
        while True:
            reg, peer = recv()
            if reg.startswith("REGISTER "):
                break
        contact = header(reg, "Contact", "m")
        m = re.search(r"sip:(?:[^@;>]+@)?([0-9.]+)(?::(\d+))?", contact)
        if not m:
            print(f"no usable Contact in the REGISTER: {contact!r}")
            return 1
        c_host, c_port = m.group(1), int(m.group(2) or 5060)
        via = header(reg, "Via", "v")
        send(
            "SIP/2.0 200 OK\n"
            f"Via: {via};received={peer[0]};rport={peer[1]}\n"
            f"From: {header(reg, 'From', 'f')}\n"
            f"To: {header(reg, 'To', 't')};tag=reg1\n"
            f"Call-ID: {header(reg, 'Call-ID', 'i')}\n"
            f"CSeq: {header(reg, 'CSeq')}\n"
            f"Contact: {contact};expires=300\n"
            "Content-Length: 0\n\n",
            peer,
        )
        print(f"registered: Contact {c_host}:{c_port} (REGISTER from {peer[0]}:{peer[1]})")
        if c_host.startswith("100.64."):
            print("the Contact is the subscriber's private address: the ALG did not rewrite it")
            return 1
        time.sleep(0.3)

        # --- INVITE to the registered Contact ---------------------------------------------
        target = (c_host, c_port)
        sdp = (
            "v=0\n"
            f"o=caller 1 1 IN IP4 {ADDRESS}\n"
            "s=-\n"
            f"c=IN IP4 {ADDRESS}\n"
            "t=0 0\n"
            "m=audio 7000 RTP/AVP 0\n"
            "a=rtpmap:0 PCMU/8000\n"
        ).replace("\n", "\r\n")
        call_id = "inbound-call-1@" + ADDRESS
        common = (
            f"From: <sip:caller@{ADDRESS}>;tag=caller1\n"
            f"To: <sip:alice@{c_host}>\n"
            f"Call-ID: {call_id}\n"
        )
        send(
            f"INVITE sip:alice@{c_host}:{c_port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {ADDRESS}:{PORT};branch=z9hG4bK-inv1\n"
            + common
            + "CSeq: 1 INVITE\n"
            f"Contact: <sip:caller@{ADDRESS}:{PORT}>\n"
            "Max-Forwards: 70\n"
            "Content-Type: application/sdp\n"
            f"Content-Length: {len(sdp)}\n\n" + sdp.replace("\r\n", "\n"),
            target,
        )
        to_tag = ""
        while True:
            rsp, peer = recv()
            if rsp.startswith("SIP/2.0 1"):
                continue
            if rsp.startswith("SIP/2.0 200") and "INVITE" in header(rsp, "CSeq"):
                to = header(rsp, "To", "t")
                to_tag = to
                break
            print(f"unexpected answer to the INVITE: {rsp.splitlines()[0]!r}")
            return 1
        send(
            f"ACK sip:alice@{c_host}:{c_port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {ADDRESS}:{PORT};branch=z9hG4bK-ack1\n"
            f"From: <sip:caller@{ADDRESS}>;tag=caller1\nTo: {to_tag}\nCall-ID: {call_id}\n"
            "CSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n",
            peer,
        )
        time.sleep(0.5)
        send(
            f"BYE sip:alice@{c_host}:{c_port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {ADDRESS}:{PORT};branch=z9hG4bK-bye1\n"
            f"From: <sip:caller@{ADDRESS}>;tag=caller1\nTo: {to_tag}\nCall-ID: {call_id}\n"
            "CSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n",
            peer,
        )
        while True:
            rsp, peer = recv()
            if rsp.startswith("SIP/2.0 200") and "BYE" in header(rsp, "CSeq"):
                break
        print(f"inbound call to {c_host}:{c_port} answered, acknowledged and hung up")
        return 0
    except TimeoutError:
        print("timed out waiting for the subscriber")
        return 1


if __name__ == "__main__":
    sys.exit(main())
