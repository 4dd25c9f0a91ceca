#!/usr/bin/env python3
"""A scripted PPTP peer for lab/tests/pptp_alg.sh, speaking the real RFC 2637 formats.

Real pptpd/pptp need kernel PPP; this speaks the control protocol over TCP 1723 and enhanced
GRE (IP protocol 47, version 1) over a raw socket, with PPP frames reduced to opaque payloads.

  pptp_peer.py pac ADDRESS TIMEOUT_S LOG
      The server (PAC) in cgn-inet. For every control connection: Start-Control-Connection-Reply,
      Echo-Reply, an Outgoing-Call-Reply giving each call a PAC Call ID of its own, and a
      Call-Disconnect-Notify for a Call-Clear-Request. Every GRE packet for one of its calls is
      echoed back to the sender with the Call ID the PNS gave in its request (as it arrived
      here, i.e. after the NAT's rewrite). Appends one line per event to LOG
      ("OCRQ src=IP:PORT call_id=N", "GRE ...", "CDN ...").

  pptp_peer.py pns SUBSCRIBER PAC CALL_ID[,CALL_ID...] PACKETS
      A client (PNS) in cgn-sub: one control connection from SUBSCRIBER, one
      Outgoing-Call-Request per CALL_ID, then PACKETS GRE packets per call, each of which must
      come back with the call's own Call ID and payload; then a Call-Clear-Request per call and
      Stop-Control-Connection. Prints a summary; exits 0 only if every packet came back right.
"""
import select
import socket
import struct
import sys
import threading
import time

MAGIC = 0x1A2B3C4D
GRE_PPP = 0x880B
# Control Message Types (RFC 2637 §2) and their lengths.
SCCRQ, SCCRP, STOPCCRQ, STOPCCRP, ECHORQ, ECHORP = 1, 2, 3, 4, 5, 6
OCRQ, OCRP, CCRQ, CDN, SLI = 7, 8, 12, 13, 15
LENGTH = {
    SCCRQ: 156, SCCRP: 156, STOPCCRQ: 16, STOPCCRP: 16, ECHORQ: 16, ECHORP: 20,
    OCRQ: 168, OCRP: 32, CCRQ: 16, CDN: 148, SLI: 24,
}


def control(ctype: int, body: bytes) -> bytes:
    """A control message: Length, PPTP Message Type 1, Magic Cookie, type, Reserved0."""
    msg = struct.pack("!HHIHH", LENGTH[ctype], 1, MAGIC, ctype, 0) + body
    assert len(msg) == LENGTH[ctype], (ctype, len(msg))
    return msg


def read_message(sock: socket.socket, buf: bytearray):
    """One control message from the stream (bytes), or None at EOF."""
    while True:
        if len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) >= n:
                msg = bytes(buf[:n])
                del buf[:n]
                return msg
        data = sock.recv(4096)
        if not data:
            return None
        buf += data


def gre(call_id: int, seq: int, payload: bytes) -> bytes:
    """Enhanced GRE (RFC 2637 §4.1): K and S set, version 1, PPP protocol type."""
    return struct.pack("!HHHHI", 0x3001, GRE_PPP, len(payload), call_id, seq) + payload


def parse_gre(packet: bytes):
    """(source address, call id, payload) of an IP datagram carrying enhanced GRE, or None."""
    ihl = (packet[0] & 0x0F) * 4
    src = socket.inet_ntoa(packet[12:16])
    g = packet[ihl:]
    if len(g) < 8:
        return None
    flags, proto, plen, call_id = struct.unpack("!HHHH", g[:8])
    if flags & 0x7 != 1 or proto != GRE_PPP:
        return None
    off = 8 + (4 if flags & 0x1000 else 0) + (4 if flags & 0x0080 else 0)
    return src, call_id, g[off:off + plen]


def pac(address: str, timeout: float, log_path: str) -> int:
    lock = threading.Lock()
    calls = {}  # PAC call id -> (peer address, PNS call id as received)
    next_id = [0x7000]

    def log(line: str) -> None:
        with lock, open(log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    raw.bind((address, 0))

    def gre_echo() -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([raw], [], [], 0.2)
            if not r:
                continue
            pkt = raw.recv(65535)
            parsed = parse_gre(pkt)
            if parsed is None:
                continue
            src, call_id, payload = parsed
            with lock:
                call = calls.get(call_id)
            if call is None or call[0] != src:
                log(f"GRE unknown src={src} call_id={call_id}")
                continue
            log(f"GRE src={src} call_id={call_id} len={len(payload)}")
            raw.sendto(gre(call[1], 1, payload), (src, 0))

    def control_conn(conn: socket.socket, peer) -> None:
        buf = bytearray()
        conn.settimeout(timeout)
        try:
            while True:
                msg = read_message(conn, buf)
                if msg is None:
                    return
                ctype = struct.unpack("!H", msg[8:10])[0]
                body = msg[12:]
                if ctype == SCCRQ:
                    log(f"SCCRQ src={peer[0]}:{peer[1]}")
                    conn.sendall(control(SCCRP, struct.pack("!HBBIIHH", 0x0100, 1, 0, 3, 3, 8, 1)
                                         + b"pac".ljust(64, b"\0") + b"lab".ljust(64, b"\0")))
                elif ctype == ECHORQ:
                    conn.sendall(control(ECHORP, body[:4] + struct.pack("!BBH", 1, 0, 0)))
                elif ctype == OCRQ:
                    pns_call = struct.unpack("!H", body[:2])[0]
                    with lock:
                        mine = next_id[0]
                        next_id[0] += 1
                        calls[mine] = (peer[0], pns_call)
                    log(f"OCRQ src={peer[0]}:{peer[1]} call_id={pns_call} pac_call_id={mine}")
                    conn.sendall(control(OCRP, struct.pack("!HHBBHIHHI", mine, pns_call, 1, 0, 0,
                                                           64000, 64, 0, 0)))
                elif ctype == SLI:
                    pass
                elif ctype == CCRQ:
                    pns_call = struct.unpack("!H", body[:2])[0]
                    with lock:
                        mine = [k for k, v in calls.items() if v == (peer[0], pns_call)]
                        for k in mine:
                            del calls[k]
                    log(f"CCRQ src={peer[0]} call_id={pns_call} cleared={mine}")
                    for k in mine:
                        conn.sendall(control(CDN, struct.pack("!HBBHH", k, 1, 0, 0, 0) + b"\0" * 128))
                elif ctype == STOPCCRQ:
                    conn.sendall(control(STOPCCRP, struct.pack("!BBH", 1, 0, 0)))
                    return
        except (OSError, struct.error):
            return
        finally:
            conn.close()

    threading.Thread(target=gre_echo, daemon=True).start()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((address, 1723))
    ls.listen(8)
    ls.settimeout(0.5)
    print("ready", flush=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            conn, peer = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=control_conn, args=(conn, peer), daemon=True).start()
    return 0


def pns(sub: str, pac_ip: str, call_ids, packets: int) -> int:
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    raw.bind((sub, 0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((sub, 0))
    s.settimeout(10)
    s.connect((pac_ip, 1723))
    buf = bytearray()

    def expect(ctype: int) -> bytes:
        while True:
            msg = read_message(s, buf)
            if msg is None:
                raise RuntimeError(f"control connection closed waiting for type {ctype}")
            got = struct.unpack("!H", msg[8:10])[0]
            if got == ctype:
                return msg[12:]

    s.sendall(control(SCCRQ, struct.pack("!HHIIHH", 0x0100, 0, 3, 3, 8, 1)
                      + b"pns".ljust(64, b"\0") + b"lab".ljust(64, b"\0")))
    expect(SCCRP)
    s.sendall(control(ECHORQ, struct.pack("!I", 42)))
    expect(ECHORP)
    pac_ids = {}
    for serial, cid in enumerate(call_ids):
        s.sendall(control(OCRQ, struct.pack("!HHIIIIHHHH", cid, serial, 2400, 10000000, 3, 3,
                                            64, 0, 0, 0) + b"\0" * 128))
        body = expect(OCRP)
        pac_call, peer_call, result = struct.unpack("!HHB", body[:5])
        if peer_call != cid or result != 1:
            print(f"pns {sub}: Outgoing-Call-Reply for call {cid}: peer call id {peer_call}, result {result}")
            return 1
        pac_ids[cid] = pac_call
        s.sendall(control(SLI, struct.pack("!HHII", pac_call, 0, 0xFFFFFFFF, 0xFFFFFFFF)))
    ok = 0
    bad = []
    for cid, pac_call in pac_ids.items():
        for n in range(packets):
            payload = f"ppp {sub} call {cid} #{n}".encode()
            raw.sendto(gre(pac_call, n, payload), (pac_ip, 0))
            end = time.monotonic() + 2
            while time.monotonic() < end:
                r, _, _ = select.select([raw], [], [], 0.2)
                if not r:
                    continue
                parsed = parse_gre(raw.recv(65535))
                if parsed is None or parsed[0] != pac_ip:
                    continue
                _, got_cid, got = parsed
                if got == payload:
                    if got_cid == cid:
                        ok += 1
                    else:
                        bad.append((cid, got_cid))
                    break
                if got.startswith(f"ppp {sub} ".encode()):
                    bad.append(("payload", got))
    for cid in pac_ids:
        s.sendall(control(CCRQ, struct.pack("!HH", cid, 0)))
        expect(CDN)
    s.sendall(control(STOPCCRQ, struct.pack("!BBH", 1, 0, 0)))
    expect(STOPCCRP)
    s.close()
    want = packets * len(pac_ids)
    print(f"pns {sub}: calls {list(pac_ids)} -> PAC call ids {list(pac_ids.values())}: "
          f"{ok}/{want} GRE packets echoed back with the right Call ID; wrong: {bad[:3]}")
    return 0 if ok == want and not bad else 1


if __name__ == "__main__":
    if sys.argv[1] == "pac":
        sys.exit(pac(sys.argv[2], float(sys.argv[3]), sys.argv[4]))
    sys.exit(pns(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(",")], int(sys.argv[5])))
