#!/usr/bin/env python3
"""Loads every TRex profile of pktgen-profiles/trex/ against the stub trex_stl_lib
(tests/stub_trex) and checks the streams it returns: counts, modes and rates, template sizes,
field-engine variable ranges, and -- by running the field-engine program over the real scapy
template (api.STLPktBuilder.simulate) -- the frames themselves: addresses, ports, sizes and
checksums, and that the whole subscriber x port sweep (and, outside, exactly the public
endpoints of cgnat's deterministic mapping) is generated. Run by pktgen-profiles/check.sh."""

import contextlib
import glob
import io
import importlib
import ipaddress
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TREX_DIR = os.path.join(os.path.dirname(HERE), "trex")
sys.path.insert(0, os.path.join(HERE, "stub_trex"))
sys.path.insert(0, TREX_DIR)
sys.dont_write_bytecode = True

from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402

from trex_stl_lib.api import (STLFlowLatencyStats, STLProfile, STLTXCont,  # noqa: E402
                              STLTXSingleBurst, STLVmFixChecksumHw, STLVmFixIpv4, STLVmFlowVar,
                              STLVmTupleGen)

PROFILES = ["udp_64b_flows", "imix", "cps", "rfc9693_bidir"]
HELPERS = ["cgnat_stl"]

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL: " + what)


def expect_error(fn, exc, what):
    try:
        fn()
    except exc:
        check(True, what)
        return
    except Exception as e:  # noqa: BLE001
        check(False, "%s: raised %s: %s instead of %s" % (what, type(e).__name__, e, exc.__name__))
        return
    check(False, "%s: no %s raised" % (what, exc.__name__))


def old_to_list(old):
    """What trex-console does with `-t a=1,b=2` (parsing_opts.convert_old_tunables_to_new...)."""
    out = []
    for k, v in old.items():
        out += ["--" + k, str(v)]
    return out


def load(name, direction=0, old=None, tunables=None, legacy=False):
    """Like TRex's STLProfile.load_py: import, check get_streams() can be introspected the
    way get_module_tunables() does it, then call it as the console does (direction = port % 2,
    port_id, tunables list plus the old key=value pairs as keyword arguments), or as old TRex
    versions do (legacy: keyword arguments only)."""
    mod = importlib.import_module(name)
    importlib.reload(mod)
    func = mod.register().get_streams
    argc = func.__code__.co_argcount
    defaults = func.__defaults__
    check(defaults is None or len(defaults) == argc - 1,
          "%s: get_streams() must give defaults for all its arguments (TRex introspects it)"
          % name)
    kwargs = dict(old or {})
    if not legacy:
        kwargs["tunables"] = tunables if tunables is not None else old_to_list(old or {})
    streams = func(direction=direction, port_id=direction, **kwargs)
    STLProfile(streams)  # unique names, `next` targets exist
    return streams


def frames(stream, n):
    return [Ether(b) for b in stream.packet.simulate(n)]


def csum_ok(raw):
    """IPv4 and TCP/UDP checksums as scapy computes them."""
    q = Ether(raw)
    del q[IP].chksum
    if TCP in q:
        del q[TCP].chksum
    elif UDP in q:
        del q[UDP].chksum
    return bytes(q) == raw


def _ip_only_ok(raw):
    """IPv4 checksum right, UDP checksum 0 ("no checksum")."""
    q = Ether(raw)
    del q[IP].chksum
    return bytes(q)[:34] == raw[:34] and Ether(raw)[UDP].chksum == 0


def all_csum_ok(stream, n, udp_zero=False):
    raws = stream.packet.simulate(n)
    if udp_zero:
        return all(_ip_only_ok(r) for r in raws)
    return all(csum_ok(r) for r in raws)


def var(stream, cls, name=None):
    for v in stream.packet.variables():
        if isinstance(v, cls) and (name is None or v.name == name):
            return v
    return None


def ip(x):
    return int(ipaddress.IPv4Address(x))


def sweep(first, subs, sport, ports):
    return {(str(ipaddress.IPv4Address(ip(first) + s)), sport + k)
            for s in range(subs) for k in range(ports)}


def det_expected(first, subs, ports_per_sub, det_subs="100.64.0.0/16", pool="203.0.113.0/24",
                 port_min=1024, port_max=65535, m=None):
    """cgnat's deterministic mapping, written again from docs/config.md (not from the
    profile's helper): every public endpoint of the profile's subscribers."""
    net = ipaddress.IPv4Network(det_subs)
    pl = list(ipaddress.IPv4Network(pool))
    c = math.ceil(net.num_addresses / len(pl))
    m = m or ports_per_sub
    out = set()
    for s in range(subs):
        i = ip(first) + s - int(net.network_address)
        base = port_min + (i % c) * m
        for k in range(m):
            out.add((str(pl[i // c]), base + k))
    return out


def section(title):
    print("- " + title)


# ------------------------------------------------------------------------------------------


def check_all_profiles_listed():
    section("every profile in trex/ is checked")
    found = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(TREX_DIR, "*.py")))
    for name in found:
        check(name in PROFILES or name in HELPERS, "trex/%s.py is not covered by check_trex.py"
              % name)
    for name in PROFILES:
        check(name in found, "trex/%s.py is missing" % name)
        mod = importlib.import_module(name)
        check(callable(getattr(mod, "register", None)), "%s has no register()" % name)


def check_udp_64b_flows():
    section("udp_64b_flows.py")
    s = load("udp_64b_flows")
    check(len(s) == 1, "default: 1 stream on port 0, got %d" % len(s))
    st = s[0]
    check(st.packet.get_pkt_len() == 60, "64-byte frame = 60-byte template")
    check(isinstance(st.mode, STLTXCont) and st.mode.pps == 1e6, "continuous at 1 Mpps")
    t = var(st, STLVmTupleGen)
    check(t is not None, "uses STLVmTupleGen")
    check((t.ip_min, t.ip_max) == (ip("100.64.0.2"), ip("100.64.0.101")),
          "tuple gen covers exactly 100 subscribers from 100.64.0.2")
    check((t.port_min, t.port_max, t.limit_flows) == (10000, 10099, 10000),
          "tuple gen covers ports 10000..10099, limit_flows 10000")
    check(any(isinstance(i, STLVmFixChecksumHw) for i in st.packet.vm), "checksums fixed (hw)")
    p = frames(st, 1)[0]
    check(p[IP].src == "100.64.0.2" and p[IP].dst == "198.51.100.2" and p[UDP].dport == 9,
          "template 100.64.0.2 -> 198.51.100.2:9")
    check(all_csum_ok(st, 50), "IPv4/UDP checksums of the first 50 frames are valid")

    # custom tunables, console style; the whole sweep, exactly once per cycle
    s = load("udp_64b_flows", old={"subscribers": 7, "ports_per_subscriber": 5, "servers": 3,
                                   "size": 128, "first_subscriber": "100.64.1.10",
                                   "sport_base": 2000})
    st = s[0]
    fr = frames(st, 35)
    check(all(len(bytes(f)) == 124 for f in fr), "size=128 -> 124-byte frames")
    got = [(f[IP].src, f[UDP].sport) for f in fr]
    check(set(got) == sweep("100.64.1.10", 7, 2000, 5) and len(set(got)) == 35,
          "35 frames = the 7 x 5 subscriber x port sweep, each flow once")
    check({f[IP].dst for f in fr} == {"198.51.100.2", "198.51.100.3", "198.51.100.4"},
          "servers=3 -> destinations 198.51.100.2..4")
    check(all(f[IP].len == 110 and f[UDP].len == 90 for f in fr), "IP/UDP lengths match size")
    check(all_csum_ok(st, 35), "checksums valid on every frame")

    # old TRex (keyword arguments only)
    s = load("udp_64b_flows", old={"subscribers": 10}, legacy=True)
    t = var(s[0], STLVmTupleGen)
    check(t.ip_max - t.ip_min + 1 == 10, "legacy keyword tunables: subscribers=10 honoured")

    s = load("udp_64b_flows", tunables=["--order", "random", "--subscribers", "50"])
    sub, sport = var(s[0], STLVmFlowVar, "sub"), var(s[0], STLVmFlowVar, "sport")
    check(sub is not None and sub.op == "random" and sub.size == 4 and
          (sub.min_value, sub.max_value) == (ip("100.64.0.2"), ip("100.64.0.51")),
          "order=random: random subscriber var over exactly 50 addresses")
    check(sport is not None and sport.size == 2 and (sport.min_value, sport.max_value) ==
          (10000, 10099), "order=random: random 2-byte source-port var over 10000..10099")
    fr = frames(s[0], 200)
    check(all(ip("100.64.0.2") <= ip(f[IP].src) <= ip("100.64.0.51") and
              10000 <= f[UDP].sport <= 10099 for f in fr), "random frames stay in the ranges")

    s = load("udp_64b_flows", old={"csum": "zero"})
    check(any(isinstance(i, STLVmFixIpv4) for i in s[0].packet.vm) and
          all_csum_ok(s[0], 20, udp_zero=True), "csum=zero: IPv4 checksum fixed, UDP checksum 0")

    s = load("udp_64b_flows", old={"latency_pps": 1000})
    lat = [x for x in s if isinstance(x.flow_stats, STLFlowLatencyStats)]
    check(len(s) == 2 and len(lat) == 1 and lat[0].flow_stats.pg_id == 10,
          "latency_pps adds one latency stream (pg_id 10)")

    expect_error(lambda: load("udp_64b_flows", direction=1), ValueError,
                 "direction 1 without bidir is refused with a clear error")
    s = load("udp_64b_flows", direction=1, old={"bidir": 1, "subscribers": 6,
                                                "ports_per_subscriber": 4, "order": "seq"})
    got = set()
    for st in s:
        got |= {(f[IP].dst, f[UDP].dport) for f in frames(st, 24)}
        check(all(f[IP].src == "198.51.100.2" and f[UDP].sport == 9 for f in frames(st, 5)),
              "outside frames come from the server 198.51.100.2:9")
    check(got == det_expected("100.64.0.2", 6, 4), "bidir=1: port 1 targets exactly the "
          "deterministic public endpoints of the 6 x 4 flows")
    expect_error(lambda: load("udp_64b_flows", old={"subscribers": 0}), ValueError,
                 "subscribers=0 refused")
    expect_error(lambda: load("udp_64b_flows", old={"sport_base": 65500}), ValueError,
                 "source ports past 65535 refused")
    expect_error(lambda: load("udp_64b_flows", old={"size": 60}), ValueError,
                 "size below 64 refused")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        expect_error(lambda: load("udp_64b_flows", tunables=["--help"]), SystemExit,
                     "-t --help exits (TRex prints the tunables)")
    check("--ports_per_subscriber" in out.getvalue(), "-t --help lists the tunables")


def check_imix():
    section("imix.py")
    s = load("imix")
    check(len(s) == 3, "3 streams (64/594/1518)")
    check([x.packet.get_pkt_len() for x in s] == [60, 590, 1514],
          "templates 60/590/1514 bytes (TRex's IMIX without FCS)")
    pps = [x.mode.pps for x in s]
    check(abs(sum(pps) - 1e6) < 1e-3 and abs(pps[0] / pps[2] - 7) < 1e-9 and
          abs(pps[1] / pps[2] - 4) < 1e-9, "rates split 7:4:1, total 1 Mpps")
    for x in s:
        t = var(x, STLVmTupleGen)
        check(t is not None and (t.ip_min, t.ip_max, t.port_min, t.port_max) ==
              (ip("100.64.0.2"), ip("100.64.0.101"), 10000, 10099),
              "%s: same 100 x 100 sweep" % x.name)
        check(all_csum_ok(x, 10), "%s: checksums valid" % x.name)
        f = frames(x, 1)[0]
        check(f[IP].len == x.packet.get_pkt_len() - 14, "%s: IP length matches" % x.name)
    s = load("imix", old={"sizes": "64:1518", "weights": "1:1", "subscribers": 3,
                          "ports_per_subscriber": 2})
    check([x.packet.get_pkt_len() for x in s] == [60, 1514] and s[0].mode.pps == s[1].mode.pps,
          "sizes=64:1518,weights=1:1 -> two equal streams")
    for x in s:
        got = {(f[IP].src, f[UDP].sport) for f in frames(x, 6)}
        check(got == sweep("100.64.0.2", 3, 10000, 2), "%s covers the 3 x 2 sweep" % x.name)
    s = load("imix", tunables=["--sizes", "64,594,1518", "--weights", "7,4,1"])
    check(len(s) == 3, "comma lists through -t --sizes ... work")
    s = load("imix", direction=1, old={"bidir": 1})
    check(len(s) == 3 and sorted(x.packet.get_pkt_len() for x in s) == [60, 590, 1514],
          "bidir=1: 3 outside streams (one deterministic segment x 3 sizes)")
    expect_error(lambda: load("imix", old={"sizes": "64:594", "weights": "1"}), ValueError,
                 "sizes/weights length mismatch refused")
    expect_error(lambda: load("imix", direction=1), ValueError, "direction 1 without bidir refused")


def check_cps():
    section("cps.py")
    s = load("cps")
    check(len(s) == 1, "1 stream")
    st = s[0]
    check(isinstance(st.mode, STLTXSingleBurst) and st.mode.total_pkts == 1000000,
          "single burst of exactly 1000 x 1000 packets")
    t = var(st, STLVmTupleGen)
    check(t is not None and (t.ip_min, t.ip_max) == (ip("100.64.0.2"), ip("100.64.3.233")) and
          (t.port_min, t.port_max) == (10000, 10999) and t.limit_flows == 1000000,
          "tuple gen: 1000 subscribers x ports 10000..10999, limit_flows 1 M")
    fr = frames(st, 3000)
    check(len({(f[IP].src, f[UDP].sport) for f in fr}) == 3000,
          "the first 3000 packets are 3000 different flows")
    s = load("cps", old={"subscribers": 9, "ports_per_subscriber": 11, "proto": "tcp",
                         "pps": 5000})
    st = s[0]
    fr = frames(st, 99)
    check(st.mode.total_pkts == 99 and st.mode.pps == 5000, "burst = 99 flows at 5000 pps")
    check(all(TCP in f and f[TCP].flags == "S" for f in fr), "proto=tcp: TCP SYNs")
    check({(f[IP].src, f[TCP].sport) for f in fr} == sweep("100.64.0.2", 9, 10000, 11),
          "proto=tcp: every packet a new flow, the 9 x 11 sweep exactly")
    check(all_csum_ok(st, 99), "TCP checksums valid")
    check(all(len(bytes(f)) == 60 for f in fr), "64-byte TCP SYN frames")
    s = load("cps", old={"subscribers": 2, "ports_per_subscriber": 10, "trial": 3})
    t = var(s[0], STLVmTupleGen)
    check((t.port_min, t.port_max) == (10030, 10039), "trial=3 shifts the ports by 3 x 10")
    s = load("cps", old={"continuous": 1})
    check(isinstance(s[0].mode, STLTXCont), "continuous=1 -> continuous mode")
    expect_error(lambda: load("cps", old={"order": "random"}), ValueError,
                 "order=random refused (would repeat flows)")
    expect_error(lambda: load("cps", direction=1), ValueError, "direction 1 refused")


def check_rfc9693():
    section("rfc9693_bidir.py")
    s = load("rfc9693_bidir")
    check([x.name for x in s] == ["phase1", "phase2_in"], "port 0: phase1 then phase2_in")
    p1, p2 = s
    check(isinstance(p1.mode, STLTXSingleBurst) and p1.mode.total_pkts == 10000 and
          p1.mode.pps == 100000, "phase 1: one packet per flow (10000) at prelim_pps 100k")
    check(p1.self_start and p1.next == "phase2_in" and not p2.self_start and p2.isg == 1e6,
          "phase 1 chains to phase 2 after gap_ms=1000")
    t = var(p1, STLVmTupleGen)
    check(t is not None and (t.ip_min, t.ip_max, t.port_min, t.port_max, t.limit_flows) ==
          (ip("100.64.0.2"), ip("100.64.0.101"), 10000, 10099, 10000),
          "phase 1 walks the 100 x 100 flows in order")
    sub, sport = var(p2, STLVmFlowVar, "sub"), var(p2, STLVmFlowVar, "sport")
    check(sub is not None and sub.op == "random" and sport.op == "random" and
          (sub.min_value, sub.max_value, sport.min_value, sport.max_value) ==
          (ip("100.64.0.2"), ip("100.64.0.101"), 10000, 10099),
          "phase 2: pseudorandom subscriber and source port over the same ranges (RFC 4814)")
    check(isinstance(p2.mode, STLTXCont), "phase 2 continuous")

    s = load("rfc9693_bidir", direction=1)
    check(len(s) == 1, "port 1: one outside stream (all subscribers on one public address)")
    o = s[0]
    check(abs(o.isg - (10000 / 100000.0 * 1e6 + 1e6)) < 1e-6,
          "outside waits phase-1 duration + gap (isg)")
    pi, pp = var(o, STLVmFlowVar, "pub_ip"), var(o, STLVmFlowVar, "pub_port")
    check((pi.min_value, pi.max_value) == (ip("203.0.113.0"), ip("203.0.113.0")) and
          (pp.min_value, pp.max_value) == (1224, 11223),
          "outside targets 203.0.113.0 ports 1224..11223 (subscribers 2..101, M=100)")
    check(all_csum_ok(o, 20), "outside checksums valid")

    # exact coverage, across several public addresses (C = 64 with a /18)
    for subs, first in ((100, "100.64.0.2"), (200, "100.64.0.40"), (5, "100.64.0.62")):
        old = {"subscribers": subs, "ports_per_subscriber": 3, "first_subscriber": first,
               "det_subscribers": "100.64.0.0/18", "order": "seq"}
        s = load("rfc9693_bidir", direction=1, old=old)
        got = []
        for st in s:
            lim = var(st, STLVmTupleGen).limit_flows
            got += [(f[IP].dst, f[UDP].dport) for f in frames(st, lim)]
        exp = det_expected(first, subs, 3, det_subs="100.64.0.0/18")
        check(set(got) == exp and len(got) == len(exp),
              "det /18, %d subscribers from %s: %d streams hit exactly the %d mapped endpoints"
              % (subs, first, len(s), len(exp)))
        pps = sum(st.mode.pps for st in s)
        check(abs(pps - 1e6) < 1e-3, "outside streams share pps (sum %.1f)" % pps)

    with contextlib.redirect_stdout(io.StringIO()) as out:
        s = load("rfc9693_bidir", direction=1, old={"det_ports_per_subscriber": 0,
                                                      "subscribers": 2, "order": "seq"})
    check("M=252 > ports_per_subscriber 100" in out.getvalue(),
          "M > ports_per_subscriber: the profile warns that some outside packets find no mapping")
    t = var(s[0], STLVmTupleGen)
    check((t.port_min, t.port_max) == (1024 + 2 * 252, 1024 + 4 * 252 - 1),
          "det_ports_per_subscriber=0 derives M = floor(64512 / 256) = 252 like cgnat")
    expect_error(lambda: load("rfc9693_bidir", direction=1,
                              old={"det_ports_per_subscriber": 50}), ValueError,
                 "M < ports_per_subscriber refused")
    expect_error(lambda: load("rfc9693_bidir", direction=1,
                              old={"ports_per_subscriber": 300}), ValueError,
                 "C x M > port range refused (cgnat would refuse the config)")
    expect_error(lambda: load("rfc9693_bidir", old={"first_subscriber": "100.65.0.2"}),
                 ValueError, "subscribers outside det_subscribers refused")
    s = load("rfc9693_bidir", old={"phase": "prelim"})
    check([x.name for x in s] == ["phase1"] and s[0].next is None, "phase=prelim: phase 1 only")
    expect_error(lambda: load("rfc9693_bidir", direction=1, old={"phase": "prelim"}),
                 ValueError, "phase=prelim on port 1 refused")
    s = load("rfc9693_bidir", old={"phase": "measured", "latency_pps": 100})
    check([x.name for x in s] == ["phase2_in", "latency0"] and s[0].self_start and
          s[0].isg == 0, "phase=measured: phase 2 starts at once (+ latency stream)")
    s = load("rfc9693_bidir", direction=1, old={"phase": "measured"})
    check(all(x.isg == 0 for x in s), "phase=measured: outside starts at once")
    expect_error(lambda: load("rfc9693_bidir", old={"bidir": 0}), ValueError,
                 "bidir=0 refused")


def main():
    for fn in (check_all_profiles_listed, check_udp_64b_flows, check_imix, check_cps,
               check_rfc9693):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            check(False, "%s crashed: %s: %s" % (fn.__name__, type(e).__name__, e))
    print("trex profiles: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
