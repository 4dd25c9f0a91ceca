#!/usr/bin/env python3
"""NAT behaviour probes for the cgnat lab (RFC 4787 / RFC 5382 / RFC 5508), stdlib only.

A reflector runs on the Internet side and tells each client the source address and port it
saw (like a STUN server); the client commands run on the subscriber side and print one line
per check, "PASS msg" / "FAIL msg" / "SKIP msg", plus "INFO name value" lines that the test
script may use. Exit status: 0 when no check failed, 3 when one did, other on errors.

  serve --udp IP:PORT... [--third IP:PORT] [--tcp IP:PORT...] [--lifetime S]
      UDP: every datagram "<CMD> <token>" on IP:PORT is answered from IP:PORT with
      "SEEN <token> <src-ip>:<src-port>". For CMD=POKE the reflector first sends
      "THIRD <token> ..." from --third (another host: RFC 5780 "change IP") and
      "ALTPORT <token> ..." from IP:PORT+1 (same host, other port: "change port") to the
      source it saw, then the normal answer (filtering tests).
      TCP: a connection that sends "SEEN\\n" gets "SEEN <src-ip>:<src-port>\\n" and is closed
      by the server; "HOLD\\n" gets the same line and is kept open until the client closes.
  udp-filter --src IP --sport N --servers A:P,B:P --third IP:PORT --pool CIDR
             --inside CIDR --expect eif|apdf [--wait S]
      One socket: the public endpoint seen by both servers must be the same (endpoint-
      independent mapping, REQ-1), then a POKE: with --expect eif the third host's and the
      other port's datagrams must arrive; with --expect apdf they must not (within --wait s)
      while the contacted server's answer still does (REQ-8).
  tcp-eim --src IP --sport N --servers A:P,B:P --pool CIDR --inside CIDR
      Two sequential TCP connections from the same local port (SO_REUSEADDR): same public
      endpoint (RFC 5382 REQ-1).
  udp-hairpin --server A:P --a IP --b IP --pool CIDR --inside CIDR
      B and A learn their public endpoints; A sends to B's public endpoint; B must receive it
      from A's public endpoint, and B's answer must reach A from B's public endpoint
      (RFC 4787 REQ-9).
  tcp-hairpin --server A:P --a IP --b IP --pool CIDR --inside CIDR
      B connects out from port P (creating the mapping) and keeps that connection open,
      listens on P too (SO_REUSEADDR/SO_REUSEPORT); A connects to B's public endpoint, data
      flows both ways, and B sees A's public endpoint (RFC 5382 REQ-8).
  exhaust --src IP --server A:P --ports N --pool CIDR --inside CIDR
          [--block-size N --port-min N]
      N-1 connected UDP sockets must get answers (all on one public address, in one block);
      the N-th must get none, and its socket must report EHOSTUNREACH (ICMP 3/13 about its
      datagram); afterwards the first N-1 must still get answers.
  query --src IP --server A:P --pool CIDR --inside CIDR [--label S]
      One request/answer from a fresh socket.
  icmp-errors --pcap F --dst IP --type T --code C [--outer-src IP] [--inner-src IP]
              [--inner-sport N]
      Reads a tcpdump capture (classic pcap, Ethernet) and checks that at least one ICMP T/C
      error was sent to --dst, from --outer-src, quoting a datagram from --inner-src:--inner-sport.
"""

import argparse
import errno
import ipaddress
import os
import selectors
import socket
import struct
import sys
import time

FAILURES = 0


def report(ok, msg):
    global FAILURES
    print(("PASS " if ok else "FAIL ") + msg, flush=True)
    if not ok:
        FAILURES += 1


def skip(msg):
    print("SKIP " + msg, flush=True)


def info(name, value):
    print(f"INFO {name} {value}", flush=True)


def note(msg):
    print(f"NOTE {msg}", flush=True)


def hostport(spec):
    host, port = spec.rsplit(":", 1)
    return str(ipaddress.IPv4Address(host)), int(port)


def ep(addr):
    return f"{addr[0]}:{addr[1]}"


def token():
    return f"{os.getpid()}-{time.time_ns()}"


class Classifier:
    """Says whether an address is a public pool address, and not a leaked inside one."""

    def __init__(self, pool, inside):
        self.pool = ipaddress.IPv4Network(pool)
        self.inside = ipaddress.IPv4Network(inside)

    def public(self, addr):
        a = ipaddress.IPv4Address(addr[0])
        return a in self.pool and a not in self.inside


# ---------------------------------------------------------------------------------------
# Reflector (cgn-inet)
# ---------------------------------------------------------------------------------------
def udp_socket(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.setblocking(False)
    return s


def serve(args):
    sel = selectors.DefaultSelector()
    third = udp_socket(hostport(args.third)) if args.third else None
    alt = {}
    for spec in args.udp:
        addr = hostport(spec)
        main_sock = udp_socket(addr)
        alt[main_sock] = udp_socket((addr[0], addr[1] + 1))
        sel.register(main_sock, selectors.EVENT_READ, ("udp", None))
        # answers to the alt port and the third host are ignored, but drain them
        sel.register(alt[main_sock], selectors.EVENT_READ, ("drain", None))
        print(f"udp reflector on {ep(addr)} (other port {addr[1] + 1})", flush=True)
    if third is not None:
        sel.register(third, selectors.EVENT_READ, ("drain", None))
        print(f"third host on {args.third}", flush=True)
    for spec in args.tcp:
        addr = hostport(spec)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(addr)
        ls.listen(64)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ("listen", None))
        print(f"tcp reflector on {ep(addr)}", flush=True)
    conns = {}  # socket -> [buffer, deadline, held]
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        now = time.monotonic()
        for c, st in list(conns.items()):
            if now > st[1]:
                print(f"tcp {ep(c.getpeername()) if not st[2] else 'held'}: timed out", flush=True)
                sel.unregister(c)
                c.close()
                del conns[c]
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            kind = key.data[0]
            if kind == "drain":
                try:
                    s.recvfrom(65535)
                except OSError:
                    pass
            elif kind == "udp":
                try:
                    data, peer = s.recvfrom(65535)
                except OSError:
                    continue
                parts = data.decode(errors="replace").split()
                if len(parts) < 2:
                    continue
                cmd, tok = parts[0], parts[1]
                if cmd == "POKE":
                    if third is not None:
                        third.sendto(f"THIRD {tok} {ep(peer)}".encode(), peer)
                    alt[s].sendto(f"ALTPORT {tok} {ep(peer)}".encode(), peer)
                s.sendto(f"SEEN {tok} {ep(peer)}".encode(), peer)
                print(f"udp {cmd} from {ep(peer)} on {ep(s.getsockname())}", flush=True)
            elif kind == "listen":
                try:
                    c, peer = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                conns[c] = [b"", time.monotonic() + 5, False]
                sel.register(c, selectors.EVENT_READ, ("conn", peer))
            elif kind == "conn":
                st = conns.get(s)
                if st is None:
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                peer = key.data[1]
                if not data:  # client closed
                    sel.unregister(s)
                    s.close()
                    del conns[s]
                    continue
                if st[2]:
                    continue  # held connection: ignore anything else
                st[0] += data
                if b"\n" not in st[0]:
                    continue
                cmd = st[0].split(b"\n", 1)[0].strip().decode(errors="replace")
                try:
                    s.sendall(f"SEEN {ep(peer)}\n".encode())
                except OSError:
                    pass
                print(f"tcp {cmd} from {ep(peer)} on {ep(s.getsockname())}", flush=True)
                if cmd == "HOLD":
                    st[1] = time.monotonic() + 120
                    st[2] = True
                else:
                    sel.unregister(s)
                    s.close()
                    del conns[s]
    print("reflector exiting after lifetime", flush=True)
    return 0


# ---------------------------------------------------------------------------------------
# Client side (cgn-sub)
# ---------------------------------------------------------------------------------------
def udp_query(sock, server, cmd="SEEN", timeout=1.0, retries=3, collect=None):
    """Sends "<cmd> <token>" to server, returns the endpoint it reported (ip, port) or None.
    Other datagrams carrying the token are appended to collect as (kind, src, text)."""
    tok = token()
    connected = _connected(sock)
    for _ in range(retries):
        # OSError (e.g. EHOSTUNREACH after an ICMP error) goes to the caller
        if connected:
            sock.send(f"{cmd} {tok}".encode())
        else:
            sock.sendto(f"{cmd} {tok}".encode(), server)
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, src = sock.recvfrom(65535)
            except socket.timeout:
                break
            parts = data.decode(errors="replace").split()
            if len(parts) >= 3 and parts[1] == tok:
                if parts[0] == "SEEN" and src == server:
                    return hostport(parts[2])
                if collect is not None:
                    collect.append((parts[0], src, data.decode(errors="replace")))
    return None


def _connected(sock):
    try:
        sock.getpeername()
        return True
    except OSError:
        return False


def bound_udp(src, sport=0, reuse=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    return s


def cmd_udp_filter(args):
    cl = Classifier(args.pool, args.inside)
    servers = [hostport(x) for x in args.servers.split(",")]
    third = hostport(args.third)
    sock = bound_udp(args.src, args.sport, reuse=True)
    local = ep(sock.getsockname())
    seen = {}
    for srv in servers:
        seen[srv] = udp_query(sock, srv)
        print(f"NOTE udp {local} -> {ep(srv)}: seen as {ep(seen[srv]) if seen[srv] else '(no answer)'}",
              flush=True)
    got = [s for s in seen.values() if s]
    if len(got) != len(servers):
        report(False, f"EIM udp: {len(got)}/{len(servers)} servers answered {local}")
        return 3
    mapped = got[0]
    info("udp_public", ep(mapped))
    same = all(s == mapped for s in got)
    report(same and cl.public(mapped),
           f"EIM udp: {local} seen as {' and '.join(ep(s) for s in got)} by "
           f"{' and '.join(ep(s) for s in servers)}"
           + ("" if same else " -- DIFFERENT public endpoints (mapping is not endpoint-independent)")
           + ("" if cl.public(mapped) else f" -- not a public address in {cl.pool}"))

    # Filtering: ask the first server to have another host and another port write to us.
    tok = token()
    extra = {}
    answered = None
    answered_at = None
    tries = 0
    last_send = 0.0
    end = time.monotonic() + args.wait + 3.0
    while time.monotonic() < end:
        if answered is None and (tries == 0 or time.monotonic() - last_send > 1.0) and tries < 3:
            sock.sendto(f"POKE {tok}".encode(), servers[0])
            last_send = time.monotonic()
            tries += 1
        if answered_at is not None:
            if time.monotonic() - answered_at >= args.wait:
                break
            if args.expect == "eif" and "THIRD" in extra and "ALTPORT" in extra:
                break
        sock.settimeout(0.1)
        try:
            data, src = sock.recvfrom(65535)
        except socket.timeout:
            continue
        parts = data.decode(errors="replace").split()
        if len(parts) < 3 or parts[1] != tok:
            continue
        if parts[0] == "SEEN" and src == servers[0]:
            if answered is None:
                answered = hostport(parts[2])
                answered_at = time.monotonic()
        elif parts[0] in ("THIRD", "ALTPORT"):
            extra.setdefault(parts[0], src)
    srv = ep(servers[0])
    report(answered is not None,
           f"filtering ({args.expect}): the contacted server {srv} still reaches {local}"
           + ("" if answered else f" -- no answer to {tries} POKE requests"))
    if answered is None:
        return 3
    waited = f"{args.wait:.1f} s"
    if args.expect == "eif":
        report("THIRD" in extra,
               f"EIF: an uncontacted host {ep(third)} reaches {local} through {ep(mapped)}"
               + ("" if "THIRD" in extra else f" -- nothing within {waited}"))
        alt = (servers[0][0], servers[0][1] + 1)
        report("ALTPORT" in extra,
               f"EIF: the contacted host from another port {ep(alt)} reaches {local}"
               + ("" if "ALTPORT" in extra else f" -- nothing within {waited}"))
    else:
        report("THIRD" not in extra,
               f"APDF: the uncontacted host {ep(third)} does not reach {local} (waited {waited})"
               + (f" -- it DID, from {ep(extra['THIRD'])}" if "THIRD" in extra else ""))
        alt = (servers[0][0], servers[0][1] + 1)
        report("ALTPORT" not in extra,
               f"APDF: the contacted host from another port {ep(alt)} does not reach {local} (waited {waited})"
               + (f" -- it DID, from {ep(extra['ALTPORT'])}" if "ALTPORT" in extra else ""))
    return 0


def tcp_seen(src, sport, server, cmd="SEEN", timeout=3.0, keep=False):
    """Connects from src:sport (0: any) with SO_REUSEADDR; returns (sock or None, seen, local)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if keep:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.settimeout(timeout)
    try:
        s.bind((src, sport))
        local = s.getsockname()
        s.connect(server)
        s.sendall(f"{cmd}\n".encode())
        buf = b""
        end = time.monotonic() + timeout
        while b"\n" not in buf and time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        line = buf.split(b"\n", 1)[0].decode(errors="replace").split()
        seen = hostport(line[1]) if len(line) == 2 and line[0] == "SEEN" else None
    except OSError as exc:
        s.close()
        return None, f"error: {exc}", (src, sport)
    if not keep:
        # the server closes first; we read its FIN and close (no TIME_WAIT here)
        try:
            s.settimeout(1.0)
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
        s = None
    return s, seen, local


def cmd_tcp_eim(args):
    cl = Classifier(args.pool, args.inside)
    servers = [hostport(x) for x in args.servers.split(",")]
    seen = []
    local = f"{args.src}:{args.sport}"
    for srv in servers:
        _, got, _ = tcp_seen(args.src, args.sport, srv)
        print(f"NOTE tcp {local} -> {ep(srv)}: {ep(got) if isinstance(got, tuple) else got}", flush=True)
        seen.append(got)
    if not all(isinstance(s, tuple) for s in seen):
        report(False, f"EIM tcp: not every connection from {local} got an answer: "
               + ", ".join(ep(s) if isinstance(s, tuple) else str(s) for s in seen))
        return 3
    same = all(s == seen[0] for s in seen)
    report(same and cl.public(seen[0]),
           f"EIM tcp: two connections from {local} seen as {' and '.join(ep(s) for s in seen)}"
           + ("" if same else " -- DIFFERENT public endpoints")
           + ("" if cl.public(seen[0]) else f" -- not a public address in {cl.pool}"))
    return 0


def cmd_udp_hairpin(args):
    cl = Classifier(args.pool, args.inside)
    server = hostport(args.server)
    b = bound_udp(args.b)
    a = bound_udp(args.a)
    b_pub = udp_query(b, server)
    a_pub = udp_query(a, server)
    b_loc, a_loc = ep(b.getsockname()), ep(a.getsockname())
    if not b_pub or not a_pub:
        report(False, f"hairpin udp: could not learn the public endpoints (B {b_loc}: {b_pub}, A {a_loc}: {a_pub})")
        return 3
    info("hairpin_b_public", ep(b_pub))
    info("hairpin_a_public", ep(a_pub))
    print(f"NOTE hairpin udp: B {b_loc} is {ep(b_pub)}, A {a_loc} is {ep(a_pub)} (as seen by {ep(server)})",
          flush=True)
    tok = token()
    got = None
    for _ in range(3):
        a.sendto(f"HAIRPIN {tok}".encode(), b_pub)
        end = time.monotonic() + 1.0
        while got is None and time.monotonic() < end:
            b.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, src = b.recvfrom(65535)
            except socket.timeout:
                break
            if data.decode(errors="replace") == f"HAIRPIN {tok}":
                got = src
        if got:
            break
    report(got is not None, f"hairpin udp: A {a_loc} -> B's public endpoint {ep(b_pub)} reached B {b_loc}"
           + ("" if got else " -- nothing after 3 tries"))
    if got is None:
        return 3
    report(got == a_pub and cl.public(got),
           f"hairpin udp: B sees the source as {ep(got)}, A's public endpoint {ep(a_pub)}"
           + ("" if got == a_pub else " -- MISMATCH")
           + ("" if cl.public(got) else " -- not a public address (inside address leaked)"))
    back = None
    for _ in range(3):
        b.sendto(f"HAIRPIN-REPLY {tok}".encode(), got)
        end = time.monotonic() + 1.0
        while back is None and time.monotonic() < end:
            a.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, src = a.recvfrom(65535)
            except socket.timeout:
                break
            if data.decode(errors="replace") == f"HAIRPIN-REPLY {tok}":
                back = src
        if back:
            break
    report(back is not None and back == b_pub,
           f"hairpin udp: B's reply to {ep(got)} reached A"
           + (f" from {ep(back)}" if back else " -- nothing after 3 tries")
           + ("" if back is None or back == b_pub else f", expected from {ep(b_pub)}"))
    return 0


def cmd_tcp_hairpin(args):
    cl = Classifier(args.pool, args.inside)
    server = hostport(args.server)
    out, b_pub, b_local = tcp_seen(args.b, 0, server, cmd="HOLD", keep=True)
    if out is None or not isinstance(b_pub, tuple):
        report(False, f"hairpin tcp: B {args.b} could not open the outbound connection to {ep(server)}: {b_pub}")
        return 3
    info("hairpin_tcp_b_public", ep(b_pub))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        ls.bind(b_local)
        ls.listen(4)
    except OSError as exc:
        skip(f"hairpin tcp: cannot listen on {ep(b_local)} while it has an outbound connection ({exc})")
        out.close()
        return 0
    print(f"NOTE hairpin tcp: B {ep(b_local)} is {ep(b_pub)} (connection to {ep(server)} kept open), listening",
          flush=True)
    a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    a.settimeout(4.0)
    conn = None
    try:
        a.bind((args.a, 0))
        a.connect(b_pub)
        ls.settimeout(2.0)
        conn, peer = ls.accept()
    except OSError as exc:
        report(False, f"hairpin tcp: A {args.a} -> B's public endpoint {ep(b_pub)}: {exc}")
        a.close()
        ls.close()
        out.close()
        return 3
    a_loc = ep(a.getsockname())
    report(True, f"hairpin tcp: A {a_loc} connected to B's public endpoint {ep(b_pub)}, B accepted it")
    ok_data = False
    try:
        conn.settimeout(2.0)
        a.sendall(b"ping from A\n")
        got_b = conn.recv(100)
        conn.sendall(b"pong from B\n")
        got_a = a.recv(100)
        ok_data = got_b == b"ping from A\n" and got_a == b"pong from B\n"
    except OSError as exc:
        got_b = got_a = f"error: {exc}".encode()
    report(ok_data, "hairpin tcp: data flows both ways"
           + ("" if ok_data else f" -- B got {got_b!r}, A got {got_a!r}"))
    report(cl.public(peer), f"hairpin tcp: B sees A as {ep(peer)}"
           + (" (public)" if cl.public(peer) else " -- not a public address (inside address leaked)"))
    for s in (conn, a, ls, out):
        s.close()
    return 0


def cmd_exhaust(args):
    cl = Classifier(args.pool, args.inside)
    server = hostport(args.server)
    socks = []
    for _ in range(args.ports):
        s = bound_udp(args.src)
        s.connect(server)
        socks.append(s)
    first = socks[:-1]
    last = socks[-1]
    seen = []
    for s in first:
        try:
            seen.append(udp_query(s, server))
        except OSError as exc:
            seen.append(None)
            note(f"{ep(s.getsockname())}: {exc}")
    ok = [x for x in seen if x]
    for s, x in zip(first, seen):
        print(f"NOTE udp {ep(s.getsockname())} -> {ep(server)}: {ep(x) if x else '(no answer)'}", flush=True)
    report(len(ok) == len(first) and all(cl.public(x) for x in ok),
           f"port exhaustion: the first {len(first)} sockets of {args.src} got answers ({len(ok)}/{len(first)})")
    if ok:
        addrs = {x[0] for x in ok}
        blocks = {(x[1] - args.port_min) // args.block_size for x in ok}
        ports = {x[1] for x in ok}
        report(len(addrs) == 1 and len(blocks) == 1 and len(ports) == len(ok),
               f"port exhaustion: {len(ports)} distinct public ports on {len(addrs)} address(es), "
               f"in {len(blocks)} block(s) of {args.block_size}: {', '.join(sorted(map(ep, ok)))}")
    last_loc = last.getsockname()
    info("exhaust_last_port", last_loc[1])
    answer = None
    err = None
    for _ in range(3):
        try:
            answer = udp_query(last, server, retries=1)
        except OSError as exc:
            err = exc
            break
        if answer:
            break
    report(answer is None,
           f"port exhaustion: socket {args.ports} ({ep(last_loc)}) got no translation"
           + (f" -- it was answered, seen as {ep(answer)}" if answer else ""))
    report(err is not None and err.errno == errno.EHOSTUNREACH,
           f"port exhaustion: socket {args.ports} reports EHOSTUNREACH (ICMP 3/13 delivered)"
           + ("" if err is not None else " -- no socket error within 3 s")
           + ("" if err is None or err.errno == errno.EHOSTUNREACH else f" -- got {err}"))
    again = []
    for s in first:
        try:
            again.append(udp_query(s, server))
        except OSError as exc:
            again.append(None)
            note(f"{ep(s.getsockname())}: {exc}")
    same = [x for x, y in zip(seen, again) if x and x == y]
    report(len(same) == len(first),
           f"port exhaustion: afterwards the first {len(first)} flows still work with the same mappings "
           f"({len(same)}/{len(first)})")
    for s in socks:
        s.close()
    return 0


def cmd_query(args):
    cl = Classifier(args.pool, args.inside)
    server = hostport(args.server)
    s = bound_udp(args.src)
    try:
        got = udp_query(s, server)
    except OSError as exc:
        got = None
        note(f"{ep(s.getsockname())}: {exc}")
    report(got is not None and cl.public(got),
           f"{args.label}: udp {ep(s.getsockname())} -> {ep(server)} answered"
           + (f", seen as {ep(got)}" if got else " -- no answer after 3 tries"))
    s.close()
    return 0


# ---------------------------------------------------------------------------------------
# Captures
# ---------------------------------------------------------------------------------------
def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    if struct.unpack(endian + "I", data[20:24])[0] != 1:
        raise SystemExit(f"{path}: not Ethernet")
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        off += 16
        frame = data[off:off + incl]
        off += incl
        if len(frame) < incl:
            break
        yield frame


def cmd_icmp_errors(args):
    found = []
    for frame in pcap_frames(args.pcap):
        if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 1 or len(ip) < ihl + 8:
            continue
        src = str(ipaddress.IPv4Address(ip[12:16]))
        dst = str(ipaddress.IPv4Address(ip[16:20]))
        icmp = ip[ihl:]
        if dst != args.dst or icmp[0] != args.type or icmp[1] != args.code:
            continue
        inner = icmp[8:]
        desc = "(no quoted datagram)"
        isrc = isport = None
        if len(inner) >= 20:
            iihl = (inner[0] & 0x0F) * 4
            isrc = str(ipaddress.IPv4Address(inner[12:16]))
            idst = str(ipaddress.IPv4Address(inner[16:20]))
            proto = {6: "tcp", 17: "udp", 1: "icmp"}.get(inner[9], str(inner[9]))
            if inner[9] in (6, 17) and len(inner) >= iihl + 4:
                isport, idport = struct.unpack("!HH", inner[iihl:iihl + 4])
                desc = f"{proto} {isrc}:{isport} -> {idst}:{idport}"
            else:
                desc = f"{proto} {isrc} -> {idst}"
        found.append((src, isrc, isport, desc))
        print(f"NOTE icmp {args.type}/{args.code} {src} -> {dst} about {desc}", flush=True)
    want = f"ICMP {args.type}/{args.code} to {args.dst}"
    report(len(found) > 0, f"{want}: {len(found)} seen in {os.path.basename(args.pcap)}")
    if not found:
        return 3
    good = [f for f in found
            if (args.outer_src is None or f[0] == args.outer_src)
            and (args.inner_src is None or f[1] == args.inner_src)
            and (args.inner_sport is None or f[2] == args.inner_sport)]
    crit = []
    if args.outer_src:
        crit.append(f"from {args.outer_src}")
    if args.inner_src or args.inner_sport is not None:
        crit.append(f"quoting {args.inner_src or '*'}:{args.inner_sport if args.inner_sport is not None else '*'}")
    if crit:
        report(len(good) > 0, f"{want}: {len(good)} {' '.join(crit)}"
               + ("" if good else f" -- saw: {'; '.join(f'{f[0]} about {f[3]}' for f in found[:5])}"))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def net(sp):
        sp.add_argument("--pool", required=True)
        sp.add_argument("--inside", required=True)

    s = sub.add_parser("serve")
    s.add_argument("--udp", action="append", default=[])
    s.add_argument("--third")
    s.add_argument("--tcp", action="append", default=[])
    s.add_argument("--lifetime", type=float, default=300.0)
    f = sub.add_parser("udp-filter")
    f.add_argument("--src", required=True)
    f.add_argument("--sport", type=int, required=True)
    f.add_argument("--servers", required=True)
    f.add_argument("--third", required=True)
    f.add_argument("--expect", choices=["eif", "apdf"], required=True)
    f.add_argument("--wait", type=float, default=1.5)
    net(f)
    t = sub.add_parser("tcp-eim")
    t.add_argument("--src", required=True)
    t.add_argument("--sport", type=int, required=True)
    t.add_argument("--servers", required=True)
    net(t)
    for name in ("udp-hairpin", "tcp-hairpin"):
        h = sub.add_parser(name)
        h.add_argument("--server", required=True)
        h.add_argument("--a", required=True)
        h.add_argument("--b", required=True)
        net(h)
    e = sub.add_parser("exhaust")
    e.add_argument("--src", required=True)
    e.add_argument("--server", required=True)
    e.add_argument("--ports", type=int, required=True)
    e.add_argument("--block-size", type=int, default=8)
    e.add_argument("--port-min", type=int, default=1024)
    net(e)
    q = sub.add_parser("query")
    q.add_argument("--src", required=True)
    q.add_argument("--server", required=True)
    q.add_argument("--label", default="query")
    net(q)
    i = sub.add_parser("icmp-errors")
    i.add_argument("--pcap", required=True)
    i.add_argument("--dst", required=True)
    i.add_argument("--type", type=int, required=True)
    i.add_argument("--code", type=int, required=True)
    i.add_argument("--outer-src")
    i.add_argument("--inner-src")
    i.add_argument("--inner-sport", type=int)
    args = p.parse_args()
    handler = {
        "serve": serve, "udp-filter": cmd_udp_filter, "tcp-eim": cmd_tcp_eim,
        "udp-hairpin": cmd_udp_hairpin, "tcp-hairpin": cmd_tcp_hairpin, "exhaust": cmd_exhaust,
        "query": cmd_query, "icmp-errors": cmd_icmp_errors,
    }[args.cmd]
    rc = handler(args)
    if FAILURES:
        return 3
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
