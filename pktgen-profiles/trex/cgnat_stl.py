"""Shared code of the cgnat TRex STL profiles (udp_64b_flows, imix, cps, rfc9693_bidir).

Not a profile itself: the profiles import it from their own directory (TRex puts the profile's
directory on sys.path while it loads a profile), so keep this file next to them.

Conventions used by every profile:

* Sizes are Ethernet frame sizes on the wire **including** the 4-byte FCS (RFC 2544 style):
  ``size=64`` builds a 60-byte template, TRex's NIC adds the FCS.
* Flows: ``subscribers`` consecutive addresses from ``first_subscriber`` times
  ``ports_per_subscriber`` consecutive source ports from ``sport_base``; servers are
  ``servers`` consecutive addresses from ``first_server``, destination port ``dport``.
* ``direction`` is what TRex passes (port_id % 2): 0 = generator port 0, cgnat's inside
  (subscribers -> servers); 1 = generator port 1, cgnat's outside (servers -> public
  addresses of the pool).
* Tunables: argparse (newer TRex: ``-t subscribers=1000,ports_per_subscriber=64`` or
  ``-t --subscribers 1000 ...``); old TRex versions that pass ``-t`` values as keyword
  arguments work too. ``-t --help`` lists them.
"""

import argparse
import ipaddress

from trex_stl_lib.api import *  # noqa: F401,F403  STL classes and the scapy layers

FCS_LEN = 4
MIN_FRAME = 64
MAX_FRAME = 9216

# Python names of everything a profile may use, so that `from cgnat_stl import *` is explicit.
__all__ = [
    "FCS_LEN", "MIN_FRAME", "MAX_FRAME", "ip2int", "int2ip", "base_parser", "add_det_args",
    "parse_tunables", "check_flow_args", "l4_layer", "template", "inside_vm", "outside_vm",
    "det_segments", "outside_streams", "latency_stream", "split_pps", "direction_error",
]


def ip2int(addr):
    return int(ipaddress.IPv4Address(str(addr)))


def int2ip(value):
    return str(ipaddress.IPv4Address(int(value)))


def _bool(text):
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected 0/1, true/false, yes/no, on/off: %r" % text)


def _ipv4(text):
    try:
        return str(ipaddress.IPv4Address(str(text)))
    except ValueError:
        raise argparse.ArgumentTypeError("not an IPv4 address: %r" % text)


def _prefix(text):
    try:
        return str(ipaddress.IPv4Network(str(text), strict=True))
    except ValueError as e:
        raise argparse.ArgumentTypeError("not an IPv4 prefix in network form: %r (%s)" % (text, e))


def base_parser(prog, description, size=MIN_FRAME, pps=1000000.0, order="seq"):
    """The tunables every profile has. Option names use underscores so that TRex's old
    ``-t key=value,...`` syntax (converted to ``--key value``) reaches them unchanged."""
    p = argparse.ArgumentParser(
        prog=prog, description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--subscribers", type=int, default=100,
                   help="number of subscriber (inside source) addresses")
    p.add_argument("--ports_per_subscriber", type=int, default=100,
                   help="source ports per subscriber; flows = subscribers x ports_per_subscriber")
    p.add_argument("--first_subscriber", type=_ipv4, default="100.64.0.2",
                   help="first subscriber address; the others follow consecutively")
    p.add_argument("--sport_base", type=int, default=10000, help="first source port")
    p.add_argument("--servers", type=int, default=1, help="number of server addresses")
    p.add_argument("--first_server", type=_ipv4, default="198.51.100.2",
                   help="first server (outside destination) address")
    p.add_argument("--dport", type=int, default=9, help="server port (destination port)")
    p.add_argument("--size", type=int, default=size,
                   help="frame size on the wire including the FCS (the template is size-4 bytes)")
    p.add_argument("--pps", type=float, default=pps,
                   help="packets per second per port before TRex's -m multiplier")
    p.add_argument("--order", choices=("seq", "random"), default=order,
                   help="seq: STLVmTupleGen walks subscriber x port in order (every flow once per "
                        "cycle); random: independent pseudorandom subscriber and port "
                        "(RFC 4814 / RFC 9693 phase 2)")
    p.add_argument("--csum", choices=("hw", "zero"), default="hw",
                   help="hw: IPv4 and L4 checksums fixed per packet (fix_chksum_hw); zero (UDP "
                        "only): IPv4 checksum fixed, UDP checksum 0 (no checksum)")
    return p


def add_det_args(p, bidir_default=False):
    """Tunables of the outside -> inside direction (cgnat pool.mode = "deterministic")."""
    p.add_argument("--bidir", type=_bool, default=bidir_default,
                   help="direction 1 sends server -> public endpoint traffic (needs cgnat "
                        "pool.mode = \"deterministic\" and the det_* tunables to match)")
    p.add_argument("--det_subscribers", type=_prefix, default="100.64.0.0/16",
                   help="cgnat inside.subscribers (one prefix): subscriber i is the i-th address")
    p.add_argument("--det_pool", type=_prefix, default="203.0.113.0/24",
                   help="cgnat pool.prefixes (one prefix, no exclusions)")
    p.add_argument("--det_port_min", type=int, default=1024, help="cgnat pool.port_min")
    p.add_argument("--det_port_max", type=int, default=65535, help="cgnat pool.port_max")
    p.add_argument("--det_ports_per_subscriber", type=int, default=None,
                   help="cgnat pool.ports_per_subscriber (M); 0 = derived floor(R/C) as cgnat "
                        "does; default: equal to ports_per_subscriber, which is what the cgnat "
                        "config should say so that every port of a subscriber's range is mapped")
    return p


def parse_tunables(parser, tunables, kwargs, known=None):
    """argv for argparse from TRex's arguments.

    Newer TRex passes ``tunables`` (a list such as ['--subscribers', '1000']) and also the old
    ``key=value`` pairs as keyword arguments; older TRex passes only the keyword arguments."""
    if tunables:
        argv = [str(t) for t in tunables]
    else:
        names = known or {a.dest for a in parser._actions}
        argv = []
        for key in sorted(kwargs):
            if key in names:
                argv += ["--" + key, str(kwargs[key])]
    return parser.parse_args(argv)


def check_flow_args(a, min_size=MIN_FRAME):
    """Range checks shared by the profiles; ValueError with the tunable's name."""
    if a.subscribers < 1:
        raise ValueError("subscribers must be >= 1 (got %d)" % a.subscribers)
    if a.ports_per_subscriber < 1:
        raise ValueError("ports_per_subscriber must be >= 1 (got %d)" % a.ports_per_subscriber)
    if not 1 <= a.sport_base <= 65535 or a.sport_base + a.ports_per_subscriber - 1 > 65535:
        raise ValueError("sport_base %d + ports_per_subscriber %d leaves the port range"
                         % (a.sport_base, a.ports_per_subscriber))
    if ip2int(a.first_subscriber) + a.subscribers - 1 > 0xFFFFFFFF:
        raise ValueError("first_subscriber + subscribers leaves the IPv4 space")
    if a.servers < 1 or ip2int(a.first_server) + a.servers - 1 > 0xFFFFFFFF:
        raise ValueError("servers must be >= 1 and stay in the IPv4 space")
    if not 1 <= a.dport <= 65535:
        raise ValueError("dport must be 1..65535 (got %d)" % a.dport)
    if not min_size <= a.size <= MAX_FRAME:
        raise ValueError("size must be %d..%d (got %d)" % (min_size, MAX_FRAME, a.size))
    if a.pps <= 0:
        raise ValueError("pps must be > 0")


def l4_layer(proto):
    return "TCP" if proto == "tcp" else "UDP"


def template(src, dst, sport, dport, size, proto="udp", csum="hw"):
    """Ether/IPv4/UDP (or TCP SYN) of exactly size-4 bytes; TRex fills in the MACs.
    csum="zero": UDP checksum 0 (none), which the field engine then leaves alone."""
    if proto == "tcp":
        l4 = TCP(sport=sport, dport=dport, flags="S", seq=1, window=65535)
    elif csum == "zero":
        l4 = UDP(sport=sport, dport=dport, chksum=0)
    else:
        l4 = UDP(sport=sport, dport=dport)
    base = Ether() / IP(src=src, dst=dst, ttl=64) / l4
    pad = size - FCS_LEN - len(base)
    if pad < 0:
        raise ValueError("size %d is too small for %s" % (size, proto))
    return base / Raw(load=b"\x00" * pad) if pad else base


def _checksums(vm, proto, csum):
    if proto == "udp" and csum == "zero":
        vm.append(STLVmFixIpv4(offset="IP"))
    else:
        l4t = CTRexVmInsFixHwCs.L4_TYPE_TCP if proto == "tcp" else CTRexVmInsFixHwCs.L4_TYPE_UDP
        vm.append(STLVmFixChecksumHw(l3_offset="IP", l4_offset=l4_layer(proto), l4_type=l4t))


def inside_vm(a, proto="udp", order=None, limit_flows=None):
    """Field engine of the subscriber -> server direction: source address x source port."""
    order = order or a.order
    l4 = l4_layer(proto)
    first = ip2int(a.first_subscriber)
    last = first + a.subscribers - 1
    pmin = a.sport_base
    pmax = a.sport_base + a.ports_per_subscriber - 1
    vm = []
    if order == "seq":
        flows = a.subscribers * a.ports_per_subscriber
        vm += [
            STLVmTupleGen(name="flow", ip_min=int2ip(first), ip_max=int2ip(last),
                          port_min=pmin, port_max=pmax,
                          limit_flows=limit_flows if limit_flows else flows),
            STLVmWrFlowVar(fv_name="flow.ip", pkt_offset="IP.src"),
            STLVmWrFlowVar(fv_name="flow.port", pkt_offset=l4 + ".sport"),
        ]
    else:
        vm += [
            STLVmFlowVar(name="sub", min_value=first, max_value=last, size=4, op="random"),
            STLVmWrFlowVar(fv_name="sub", pkt_offset="IP.src"),
            STLVmFlowVar(name="sport", min_value=pmin, max_value=pmax, size=2, op="random"),
            STLVmWrFlowVar(fv_name="sport", pkt_offset=l4 + ".sport"),
        ]
    if a.servers > 1:
        s0 = ip2int(a.first_server)
        vm += [
            STLVmFlowVar(name="server", min_value=s0, max_value=s0 + a.servers - 1, size=4,
                         op="inc" if order == "seq" else "random"),
            STLVmWrFlowVar(fv_name="server", pkt_offset="IP.dst"),
        ]
    _checksums(vm, proto, a.csum)
    return vm


def outside_vm(a, seg, order=None):
    """Field engine of one server -> public segment (public addresses x public ports)."""
    order = order or a.order
    addr_lo, addr_hi, port_lo, port_hi = seg
    vm = []
    if order == "seq":
        vm += [
            STLVmTupleGen(name="pub", ip_min=int2ip(addr_lo), ip_max=int2ip(addr_hi),
                          port_min=port_lo, port_max=port_hi,
                          limit_flows=(addr_hi - addr_lo + 1) * (port_hi - port_lo + 1)),
            STLVmWrFlowVar(fv_name="pub.ip", pkt_offset="IP.dst"),
            STLVmWrFlowVar(fv_name="pub.port", pkt_offset="UDP.dport"),
        ]
    else:
        vm += [
            STLVmFlowVar(name="pub_ip", min_value=addr_lo, max_value=addr_hi, size=4,
                         op="random"),
            STLVmWrFlowVar(fv_name="pub_ip", pkt_offset="IP.dst"),
            STLVmFlowVar(name="pub_port", min_value=port_lo, max_value=port_hi, size=2,
                         op="random"),
            STLVmWrFlowVar(fv_name="pub_port", pkt_offset="UDP.dport"),
        ]
    if a.servers > 1:
        s0 = ip2int(a.first_server)
        vm += [
            STLVmFlowVar(name="server", min_value=s0, max_value=s0 + a.servers - 1, size=4,
                         op="inc" if order == "seq" else "random"),
            STLVmWrFlowVar(fv_name="server", pkt_offset="IP.src"),
        ]
    _checksums(vm, "udp", a.csum)
    return vm


def det_segments(a):
    """The public endpoints cgnat maps the profile's flows to in deterministic mode.

    cgnat (docs/config.md, "Deterministic mode", RFC 7422):
        N = addresses of inside.subscribers, P = pool addresses (sorted),
        R = port_max - port_min + 1, C = ceil(N / P), M = ports_per_subscriber or floor(R / C)
        subscriber i -> pool[i // C], ports port_min + (i % C) * M .. + M - 1
    Returns (segments, M, C): segments are (addr_lo, addr_hi, port_lo, port_hi) rectangles
    (as integers) whose union is exactly the M-port ranges of the profile's subscribers."""
    net = ipaddress.IPv4Network(a.det_subscribers)
    pool = ipaddress.IPv4Network(a.det_pool)
    n_subs = net.num_addresses
    n_pool = pool.num_addresses
    if not 1024 <= a.det_port_min <= a.det_port_max <= 65535:
        raise ValueError("det_port_min..det_port_max must be within 1024..65535")
    r = a.det_port_max - a.det_port_min + 1
    c = -(-n_subs // n_pool)
    m = a.det_ports_per_subscriber
    if m is None:
        m = a.ports_per_subscriber
    elif m == 0:
        m = r // c
    if m < 1 or c * m > r:
        raise ValueError("deterministic mapping does not fit: sharing ratio C=%d x M=%d ports > "
                         "%d ports in det_port_min..det_port_max (cgnat would refuse this config)"
                         % (c, m, r))
    if m < a.ports_per_subscriber:
        raise ValueError("det_ports_per_subscriber M=%d < ports_per_subscriber %d: cgnat cannot "
                         "map every flow" % (m, a.ports_per_subscriber))
    i0 = ip2int(a.first_subscriber) - int(net.network_address)
    i1 = i0 + a.subscribers - 1
    if i0 < 0 or i1 >= n_subs:
        last = int2ip(ip2int(a.first_subscriber) + a.subscribers - 1)
        raise ValueError("subscribers %s..%s are not all inside det_subscribers %s"
                         % (a.first_subscriber, last, a.det_subscribers))
    pool0 = int(pool.network_address)
    segs = []
    for j in range(i0 // c, i1 // c + 1):
        s_lo = max(i0, j * c) - j * c
        s_hi = min(i1, j * c + c - 1) - j * c
        port_lo = a.det_port_min + s_lo * m
        port_hi = a.det_port_min + s_hi * m + m - 1
        addr = pool0 + j
        if segs and segs[-1][1] == addr - 1 and segs[-1][2:] == (port_lo, port_hi):
            segs[-1] = (segs[-1][0], addr, port_lo, port_hi)
        else:
            segs.append((addr, addr, port_lo, port_hi))
    if m > a.ports_per_subscriber:
        p = a.ports_per_subscriber
        print("cgnat profile warning: det_ports_per_subscriber M=%d > ports_per_subscriber %d: "
              "cgnat maps only %d of each subscriber's %d ports (which ones is its choice), so "
              "about %.0f%% of the outside packets will find no mapping; set cgnat "
              "pool.ports_per_subscriber = %d" % (m, p, p, m, 100.0 * (1 - p / float(m)), p))
    return segs, m, c


def split_pps(total, weights):
    s = float(sum(weights))
    return [total * w / s for w in weights]


def outside_streams(a, sizes, weights, mode_factory, prefix="out", isg=0.0, order=None):
    """Server -> public endpoint streams: one per (deterministic segment, frame size)."""
    segs, _, _ = det_segments(a)
    seg_flows = [(s[1] - s[0] + 1) * (s[3] - s[2] + 1) for s in segs]
    streams = []
    for k, (seg, seg_pps) in enumerate(zip(segs, split_pps(a.pps, seg_flows))):
        for size, pps in zip(sizes, split_pps(seg_pps, weights)):
            pkt = template(a.first_server, int2ip(seg[0]), a.dport, seg[2], size, csum=a.csum)
            streams.append(STLStream(
                name="%s%d_%d" % (prefix, k, size),
                packet=STLPktBuilder(pkt=pkt, vm=outside_vm(a, seg, order)),
                mode=mode_factory(pps),
                isg=isg))
    return streams


def latency_stream(a, pg_id, pps, direction, isg=0.0):
    """A low-rate stream of one flow that TRex uses for latency/jitter/loss (flow stats)."""
    if direction == 0:
        pkt = template(a.first_subscriber, a.first_server, a.sport_base, a.dport, a.size,
                       csum=a.csum)
    else:
        segs, _, _ = det_segments(a)
        pkt = template(a.first_server, int2ip(segs[0][0]), a.dport, segs[0][2], a.size,
                       csum=a.csum)
    return STLStream(name="latency%d" % direction, packet=STLPktBuilder(pkt=pkt),
                     mode=STLTXCont(pps=pps), flow_stats=STLFlowLatencyStats(pg_id=pg_id),
                     isg=isg)


def direction_error(profile):
    return ValueError(
        "%s: nothing to send on an odd port (direction 1) unless bidir=1 (cgnat in deterministic "
        "mode); start it on port 0 only: start -f ... -p 0" % profile)
