#!/usr/bin/env python3
"""UDP echo server / client / one-way sender for the cgnat lab tests (stdlib only).

  server --bind IP --port N [--lifetime S]
      echo every datagram back to its sender; exits after S seconds (default 600).
  client --server IP:PORT --sources A[,B,...|FIRST-LAST] [--timeout S] [--retries N]
         [--max-failures N]
      from each source address (one socket per source, so one flow per source, reused
      for the retries): send a unique token, expect the same token back.
      Prints one line per source and a summary; exit status 0 only if all echoed.
  send --src IP --sport N --dst IP --dport N [--count N] [--interval S]
      fire-and-forget datagrams (for "must never arrive" checks).
"""

import argparse
import ipaddress
import os
import socket
import sys
import time


def parse_sources(spec):
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            first, last = (ipaddress.IPv4Address(x.strip()) for x in part.split("-", 1))
            if int(last) < int(first) or int(last) - int(first) > 65535:
                raise SystemExit(f"bad source range {part}")
            out.extend(str(ipaddress.IPv4Address(i)) for i in range(int(first), int(last) + 1))
        else:
            out.append(str(ipaddress.IPv4Address(part)))
    return out


def hostport(spec):
    host, port = spec.rsplit(":", 1)
    return host, int(port)


def server(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.bind, args.port))
    sock.settimeout(0.5)
    print(f"udp echo listening on {args.bind}:{args.port}", flush=True)
    deadline = time.monotonic() + args.lifetime
    served = 0
    while time.monotonic() < deadline:
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        sock.sendto(data, peer)
        served += 1
        print(f"echo {len(data)}B to {peer[0]}:{peer[1]}", flush=True)
    print(f"udp echo exiting after lifetime, served {served}", flush=True)
    return 0


def client(args):
    server_addr = hostport(args.server)
    sources = parse_sources(args.sources)
    ok = 0
    failed = 0
    tried = 0
    for src in sources:
        if args.max_failures and failed >= args.max_failures:
            print(f"  giving up after {failed} failures", flush=True)
            break
        tried += 1
        token = f"cgnat-lab {src} {os.getpid()} {time.time_ns()}".encode()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((src, 0))
            sport = sock.getsockname()[1]
            sock.settimeout(args.timeout)
            result = "no reply"
            for attempt in range(1, args.retries + 1):
                sock.sendto(token, server_addr)
                try:
                    # ignore anything that is not our echo (bounded by the timeout)
                    end = time.monotonic() + args.timeout
                    while time.monotonic() < end:
                        data, peer = sock.recvfrom(65535)
                        if data == token and peer == server_addr:
                            result = f"ok (attempt {attempt})"
                            break
                        result = f"unexpected reply from {peer[0]}:{peer[1]}"
                    if result.startswith("ok"):
                        break
                except socket.timeout:
                    continue
        except OSError as exc:
            result = f"error: {exc}"
            sport = 0
        finally:
            sock.close()
        if result.startswith("ok"):
            ok += 1
        else:
            failed += 1
        if args.verbose or not result.startswith("ok"):
            print(f"  udp {src}:{sport} -> {server_addr[0]}:{server_addr[1]}: {result}", flush=True)
    print(f"udp echo: {ok}/{len(sources)} sources got their echo ({tried} tried)", flush=True)
    return 0 if ok == len(sources) else 1


def send(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.src, args.sport))
    for i in range(args.count):
        sock.sendto(f"unsolicited {i}".encode(), (args.dst, args.dport))
        time.sleep(args.interval)
    print(f"sent {args.count} datagrams {args.src}:{args.sport} -> {args.dst}:{args.dport}", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--lifetime", type=float, default=600.0)
    c = sub.add_parser("client")
    c.add_argument("--server", required=True)
    c.add_argument("--sources", required=True)
    c.add_argument("--timeout", type=float, default=1.0)
    c.add_argument("--retries", type=int, default=3)
    c.add_argument("--max-failures", type=int, default=0, help="stop after this many failed sources (0: never)")
    c.add_argument("-v", "--verbose", action="store_true")
    t = sub.add_parser("send")
    t.add_argument("--src", required=True)
    t.add_argument("--sport", type=int, required=True)
    t.add_argument("--dst", required=True)
    t.add_argument("--dport", type=int, required=True)
    t.add_argument("--count", type=int, default=5)
    t.add_argument("--interval", type=float, default=0.1)
    args = p.parse_args()
    return {"server": server, "client": client, "send": send}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
