#!/usr/bin/env python3
"""Read classic pcap files written by `tcpdump -w` (Ethernet) and check NAT behaviour.
Stdlib only, so the lab tests do not depend on tshark's output format.

  check --pcap F --local-mac M --pool CIDR --inside CIDR [--allow-src IP]...
        [--flows PROTO:DST:DPORT=N]... [--icmp-flows DST=N]... [--used-out FILE]
      Looks at the IPv4 packets *received* on the captured interface (Ethernet source
      != --local-mac, i.e. sent by the CGN) and prints PASS/FAIL lines:
        - every source address is in --pool (or an --allow-src, e.g. the CGN's own
          outside address) and none is in --inside;
        - per --flows, the number of distinct (public address, public port) seen towards
          DST:DPORT equals N (one per subscriber flow: no flow split, none merged);
        - per --icmp-flows, the number of distinct (public address, echo id) of echo
          requests towards DST equals N.
      Exit status: 0 when every check passed, 3 when a check failed (other: error).
  count --pcap F [--from-mac M | --not-from-mac M] [--src IP] [--dst IP]
        [--proto tcp|udp|icmp] [--sport N] [--dport N]
      Prints the number of matching IPv4 packets.
  pairs --inside F --inside-mac M --outside F --outside-mac M
      For the demo: lists subscriber flows seen inside next to the translated flows seen
      outside, matched by destination and order of first appearance.
"""

import argparse
import ipaddress
import struct
import sys

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}
PROTO_NUMS = {v: k for k, v in PROTO_NAMES.items()}


class Packet:
    __slots__ = ("ts", "src_mac", "dst_mac", "src", "dst", "proto", "sport", "dport",
                 "icmp_type", "icmp_id", "tcp_flags", "first_frag")

    def __init__(self):
        self.sport = self.dport = self.icmp_type = self.icmp_id = self.tcp_flags = None
        self.first_frag = True


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


def read_pcap(path):
    """Yield Packet for each IPv4 frame. Tolerates a truncated last record."""
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
        raise SystemExit(f"{path}: not a classic pcap file (pcapng is not supported)")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, expected Ethernet (1)")
    off = 24
    while off + 16 <= len(data):
        ts_sec, ts_frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        if len(frame) < incl:
            break
        pkt = parse_frame(frame)
        if pkt is not None:
            pkt.ts = ts_sec + ts_frac / 1e6
            yield pkt


def parse_frame(frame):
    if len(frame) < 14:
        return None
    dst_mac, src_mac = frame[0:6], frame[6:12]
    ethertype = struct.unpack("!H", frame[12:14])[0]
    l3 = 14
    while ethertype in (0x8100, 0x88A8) and len(frame) >= l3 + 4:
        ethertype = struct.unpack("!H", frame[l3 + 2:l3 + 4])[0]
        l3 += 4
    if ethertype != 0x0800 or len(frame) < l3 + 20:
        return None
    ver_ihl = frame[l3]
    if ver_ihl >> 4 != 4:
        return None
    ihl = (ver_ihl & 0x0F) * 4
    frag = struct.unpack("!H", frame[l3 + 6:l3 + 8])[0]
    pkt = Packet()
    pkt.src_mac, pkt.dst_mac = mac_str(src_mac), mac_str(dst_mac)
    pkt.proto = frame[l3 + 9]
    pkt.src = str(ipaddress.IPv4Address(frame[l3 + 12:l3 + 16]))
    pkt.dst = str(ipaddress.IPv4Address(frame[l3 + 16:l3 + 20]))
    pkt.first_frag = (frag & 0x1FFF) == 0
    l4 = l3 + ihl
    if pkt.first_frag:
        if pkt.proto in (6, 17) and len(frame) >= l4 + 4:
            pkt.sport, pkt.dport = struct.unpack("!HH", frame[l4:l4 + 4])
            if pkt.proto == 6 and len(frame) >= l4 + 14:
                pkt.tcp_flags = frame[l4 + 13]
        elif pkt.proto == 1 and len(frame) >= l4 + 8:
            pkt.icmp_type = frame[l4]
            if pkt.icmp_type in (0, 8, 13, 14):
                pkt.icmp_id = struct.unpack("!H", frame[l4 + 4:l4 + 6])[0]
    return pkt


def norm_mac(m):
    return m.lower() if m else None


def cmd_check(args):
    local = norm_mac(args.local_mac)
    pool = ipaddress.IPv4Network(args.pool)
    inside = ipaddress.IPv4Network(args.inside)
    allowed = {str(ipaddress.IPv4Address(a)) for a in args.allow_src}
    total = 0
    in_pool = 0
    leaked = {}
    other = {}
    allowed_seen = {}
    used = set()
    flows = {}      # (proto, dst, dport) -> set((src, sport))
    icmp = {}       # dst -> set((src, id))
    for pkt in read_pcap(args.pcap):
        if pkt.src_mac == local:
            continue
        total += 1
        addr = ipaddress.IPv4Address(pkt.src)
        if addr in pool:
            in_pool += 1
            used.add(pkt.src)
        elif addr in inside:
            leaked[pkt.src] = leaked.get(pkt.src, 0) + 1
        elif pkt.src in allowed:
            allowed_seen[pkt.src] = allowed_seen.get(pkt.src, 0) + 1
        else:
            other[pkt.src] = other.get(pkt.src, 0) + 1
        if pkt.sport is not None:
            flows.setdefault((PROTO_NAMES.get(pkt.proto), pkt.dst, pkt.dport), set()).add((pkt.src, pkt.sport))
        if pkt.proto == 1 and pkt.icmp_type == 8:
            icmp.setdefault(pkt.dst, set()).add((pkt.src, pkt.icmp_id))

    failures = 0

    def report(ok, msg):
        nonlocal failures
        print(("PASS " if ok else "FAIL ") + msg, flush=True)
        if not ok:
            failures += 1

    def fmt(d):
        return ", ".join(f"{k} x{v}" for k, v in sorted(d.items())[:20]) + (" ..." if len(d) > 20 else "")

    report(total > 0, f"{args.label}: {total} IPv4 packets arrived from the CGN side")
    report(not leaked, f"{args.label}: no source address in {inside}"
           + (f" -- found {fmt(leaked)}" if leaked else ""))
    report(not other and not leaked, f"{args.label}: every source address is in {pool}"
           + (f" (also allowed: {fmt(allowed_seen)})" if allowed_seen else "")
           + (f" -- found outside the pool: {fmt(other)}" if other else
              f" ({in_pool} packets, {len(used)} distinct public addresses)"))
    for spec in args.flows:
        key, want = spec.rsplit("=", 1)
        proto, dst, dport = key.split(":")
        got = flows.get((proto, dst, int(dport)), set())
        srcs = {s for s, _ in got}
        report(len(got) == int(want),
               f"{args.label}: {len(got)} distinct translated {proto} flows to {dst}:{dport} "
               f"(expected {want}; {len(srcs)} public addresses)")
    for spec in args.icmp_flows:
        dst, want = spec.rsplit("=", 1)
        got = icmp.get(dst, set())
        report(len(got) == int(want),
               f"{args.label}: {len(got)} distinct translated ICMP echo flows to {dst} (expected {want})")
    if args.used_out:
        with open(args.used_out, "w", encoding="ascii") as f:
            for a in sorted(used, key=lambda s: ipaddress.IPv4Address(s)):
                f.write(a + "\n")
    return 3 if failures else 0


def cmd_count(args):
    n = 0
    from_mac, not_from = norm_mac(args.from_mac), norm_mac(args.not_from_mac)
    proto = PROTO_NUMS[args.proto] if args.proto else None
    for pkt in read_pcap(args.pcap):
        if from_mac and pkt.src_mac != from_mac:
            continue
        if not_from and pkt.src_mac == not_from:
            continue
        if args.src and pkt.src != args.src:
            continue
        if args.dst and pkt.dst != args.dst:
            continue
        if proto is not None and pkt.proto != proto:
            continue
        if args.sport is not None and pkt.sport != args.sport:
            continue
        if args.dport is not None and pkt.dport != args.dport:
            continue
        n += 1
    print(n)
    return 0


def flow_list(path, mac, from_mac):
    """First-seen ordered flows: list of (key, (proto, src, sport_or_id, dst, dport))."""
    seen = {}
    order = []
    mac = norm_mac(mac)
    for pkt in read_pcap(path):
        if (pkt.src_mac == mac) != from_mac:
            continue
        if pkt.proto in (6, 17) and pkt.sport is not None:
            f = (PROTO_NAMES[pkt.proto], pkt.src, pkt.sport, pkt.dst, pkt.dport)
        elif pkt.proto == 1 and pkt.icmp_type == 8:
            f = ("icmp", pkt.src, pkt.icmp_id, pkt.dst, None)
        else:
            continue
        if f not in seen:
            seen[f] = True
            order.append(f)
    return order


def cmd_pairs(args):
    inside = flow_list(args.inside, args.inside_mac, True)      # sent by subscribers
    outside = flow_list(args.outside, args.outside_mac, False)  # sent by the CGN
    by_dest = {}
    for f in outside:
        by_dest.setdefault((f[0], f[3], f[4]), []).append(f)
    print(f"{'proto':5}  {'subscriber (inside)':24}    {'as seen outside':24}    {'destination':21}")
    for f in inside:
        lst = by_dest.get((f[0], f[3], f[4]), [])
        o = lst.pop(0) if lst else None

        def ep(proto, a, p):
            return f"{a} id {p}" if proto == "icmp" else f"{a}:{p}"
        dst = f[3] if f[0] == "icmp" else f"{f[3]}:{f[4]}"
        out = ep(o[0], o[1], o[2]) if o else "(not seen)"
        print(f"{f[0]:5}  {ep(f[0], f[1], f[2]):24} -> {out:24} -> {dst:21}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--pcap", required=True)
    c.add_argument("--local-mac", required=True)
    c.add_argument("--pool", required=True)
    c.add_argument("--inside", required=True)
    c.add_argument("--allow-src", action="append", default=[])
    c.add_argument("--flows", action="append", default=[])
    c.add_argument("--icmp-flows", action="append", default=[])
    c.add_argument("--used-out")
    c.add_argument("--label", default="capture")
    n = sub.add_parser("count")
    n.add_argument("--pcap", required=True)
    n.add_argument("--from-mac")
    n.add_argument("--not-from-mac")
    n.add_argument("--src")
    n.add_argument("--dst")
    n.add_argument("--proto", choices=sorted(PROTO_NUMS))
    n.add_argument("--sport", type=int)
    n.add_argument("--dport", type=int)
    r = sub.add_parser("pairs")
    r.add_argument("--inside", required=True)
    r.add_argument("--inside-mac", required=True)
    r.add_argument("--outside", required=True)
    r.add_argument("--outside-mac", required=True)
    args = p.parse_args()
    return {"check": cmd_check, "count": cmd_count, "pairs": cmd_pairs}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
