#!/usr/bin/env python3
"""Checks the pktgen-dpdk Lua scripts of pktgen-profiles/pktgen/: `luac -p` on every Lua file,
then each script run by `lua` under the stub pktgen table (tests/pktgen_stub.lua), with default
and custom settings. From the recorded calls it rebuilds each port's range configuration at
every start, replays pktgen's range engine (every field stepped by its increment on every
packet, each wrapping on its own, as pktgen-range.c does) and checks that the frames cover the
subscriber x port sweep (and, on port 1, exactly cgnat's deterministic public endpoints), plus
sizes, protocol, MACs, counts, rates, bounded run time and the final statistics. Run by
pktgen-profiles/check.sh."""

import glob
import ipaddress
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PG_DIR = os.path.join(ROOT, "pktgen")
STUB = os.path.join(HERE, "pktgen_stub.lua")
SCRIPTS = ["udp_64b_flows", "imix", "cps", "rfc9693_bidir"]
LIBS = ["cgnat_pktgen"]
LUA = os.environ.get("LUA", "lua5.3")
LUAC = os.environ.get("LUAC", "luac5.3")

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL: " + what)


def section(title):
    print("- " + title)


def ip(x):
    return int(ipaddress.IPv4Address(x))


def ipstr(n):
    return str(ipaddress.IPv4Address(n))


class Run(object):
    """One script run under the stub: calls, stdout, and range snapshots at each start."""

    def __init__(self, name, env=None):
        fd, log = tempfile.mkstemp(prefix="pktgen-stub-", suffix=".log")
        os.close(fd)
        e = {k: v for k, v in os.environ.items() if not k.startswith("CGNAT_")}
        e.update(env or {})
        e["STUB_LOG"] = log
        p = subprocess.run([LUA, STUB, os.path.join(PG_DIR, name + ".lua")], env=e, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        with open(log) as fh:
            self.calls = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
        os.unlink(log)
        self.end_ms = 0.0
        for c in self.calls:
            if c[0] == "END":
                self.end_ms = float(c[1])
        self._replay()

    def _replay(self):
        cfg = {0: {}, 1: {}}
        self.starts = []     # (portlist, {port: snapshot})
        self.order = []      # sequence of call names
        self.size_changes = []
        for c in self.calls:
            name, args = c[0], c[1:]
            self.order.append(name)
            if name in ("END", "ERROR"):
                continue
            ports = self.ports(args[0]) if args and name not in ("delay",) else []
            for p in ports:
                d = cfg[p]
                if name.startswith("range.") and len(args) == 3:
                    d[(name[6:], args[1])] = args[2]
                    if name == "range.pkt_size" and args[1] == "start":
                        self.size_changes.append(int(args[2]))
                elif name == "range.ip_proto":
                    d[("ip_proto", None)] = args[1]
                elif name in ("set", "set_mac", "set_ipaddr"):
                    d[(name, args[1])] = args[2]
                elif name in ("set_proto", "set_type", "set_range", "process"):
                    d[(name, None)] = args[1]
            if name == "start":
                self.starts.append((args[0], {p: dict(cfg[p]) for p in self.ports(args[0])}))

    @staticmethod
    def ports(pl):
        if pl == "all":
            return [0, 1]
        out = []
        for item in pl.split(","):
            if "-" in item:
                a, b = item.split("-")
                out += list(range(int(a), int(b) + 1))
            else:
                out.append(int(item))
        return out

    def delays(self):
        return [float(c[1]) for c in self.calls if c[0] == "delay"]


def field(snap, name, ip_field):
    conv = ip if ip_field else int
    return {w: conv(snap[(name, w)]) for w in ("start", "min", "max", "inc")}


def replay(snap, n):
    """pktgen-range.c: per packet, each field += inc; above max -> min (never below min here)."""
    specs = [("src_ip", True), ("dst_ip", True), ("src_port", False), ("dst_port", False)]
    vals = {}
    fields = {}
    for name, is_ip in specs:
        fields[name] = field(snap, name, is_ip)
        vals[name] = fields[name]["start"]
    out = []
    for _ in range(n):
        for name, _ in specs:
            f = fields[name]
            if f["inc"]:
                v = vals[name] + f["inc"]
                if v > f["max"]:
                    v = f["min"]
                elif v < f["min"]:
                    v = f["max"]
                vals[name] = v
            else:
                vals[name] = f["start"]
        out.append((ipstr(vals["src_ip"]), vals["src_port"], ipstr(vals["dst_ip"]),
                    vals["dst_port"]))
    return out


def sweep(first, subs, sport, ports):
    return {(ipstr(ip(first) + s), sport + k) for s in range(subs) for k in range(ports)}


def det_expected(first, subs, ports_per_sub, det_subs="100.64.0.0/16", pool="203.0.113.0/24",
                 port_min=1024):
    """cgnat's deterministic mapping, written from docs/config.md."""
    net = ipaddress.IPv4Network(det_subs)
    pl = list(ipaddress.IPv4Network(pool))
    c = math.ceil(net.num_addresses / len(pl))
    out = set()
    for s in range(subs):
        i = ip(first) + s - int(net.network_address)
        for k in range(ports_per_sub):
            out.add((str(pl[i // c]), port_min + (i % c) * ports_per_sub + k))
    return out


def common_port_checks(run, snap, port, size, proto="udp", mac=None, label=""):
    check(snap.get(("set_range", None)) == "on", "%sport %d in range mode" % (label, port))
    check(snap.get(("ip_proto", None)) == proto and snap.get(("set_proto", None)) == proto,
          "%sport %d sends %s" % (label, port, proto))
    check(snap.get(("set_type", None)) == "ipv4", "%sport %d IPv4" % (label, port))
    want_mac = mac or ("02:c6:00:00:01:01" if port == 0 else "02:c6:00:00:02:01")
    check(snap.get(("dst_mac", "start")) == want_mac and snap.get(("set_mac", "dst")) == want_mac,
          "%sport %d frames go to cgnat's MAC %s" % (label, port, want_mac))
    ps = field(snap, "pkt_size", False)
    check(ps["start"] == ps["min"] == ps["max"] == size and ps["inc"] == 0,
          "%sport %d %d-byte frames" % (label, port, size))
    check(snap.get(("process", None)) == "on", "%sport %d answers ARP (process on)"
          % (label, port))
    own = snap.get(("set_ipaddr", "src"))
    check(own == ("100.64.0.0/31" if port == 0 else "198.51.100.2/24"),
          "%sport %d own address %s (cgnat's next hop)" % (label, port, own))


def stats_after_stop(run):
    last_stop = max(i for i, n in enumerate(run.order) if n == "stop")
    return any(n == "portStats" for n in run.order[last_stop:])


# ------------------------------------------------------------------------------------------


def check_syntax():
    section("luac -p")
    files = sorted(glob.glob(os.path.join(PG_DIR, "*.lua"))) + [STUB]
    for f in files:
        p = subprocess.run([LUAC, "-p", f], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        check(p.returncode == 0, "luac -p %s: %s" % (os.path.relpath(f, ROOT), p.stderr.strip()))
    found = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(PG_DIR, "*.lua")))
    for n in found:
        check(n in SCRIPTS or n in LIBS, "pktgen/%s.lua is not covered by check_pktgen.py" % n)
    for n in SCRIPTS:
        check(n in found, "pktgen/%s.lua is missing" % n)


def check_stub_is_strict():
    section("the stub refuses what pktgen refuses")
    fd, path = tempfile.mkstemp(suffix=".lua", dir=PG_DIR)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write('pktgen.set("0", "rate")\n')
        p = subprocess.run([LUA, STUB, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=dict(os.environ, STUB_LOG=os.devnull))
        check(p.returncode != 0 and "wrong number of arguments" in p.stderr,
              "pktgen.set with 2 arguments is an error")
    finally:
        os.unlink(path)


def check_udp_64b_flows():
    section("udp_64b_flows.lua")
    r = Run("udp_64b_flows")
    check(r.rc == 0, "runs (rc %d): %s" % (r.rc, r.err.strip()))
    check(len(r.starts) == 1 and r.starts[0][0] == "0", "one run, port 0 only")
    snap = r.starts[0][1][0]
    common_port_checks(r, snap, 0, 64)
    check(field(snap, "src_ip", True) == {"start": ip("100.64.0.2"), "min": ip("100.64.0.2"),
                                          "max": ip("100.64.0.102"), "inc": 1},
          "source addresses 100.64.0.2..100.64.0.102 (101: coprime with 100 ports)")
    check(field(snap, "src_port", False) == {"start": 10000, "min": 10000, "max": 10099,
                                             "inc": 1}, "source ports 10000..10099")
    check(field(snap, "dst_port", False)["inc"] == 0 and field(snap, "dst_port", False)["start"]
          == 9, "destination port 9, fixed")
    check(field(snap, "dst_ip", True)["inc"] == 0, "one server, fixed")
    check(snap[("set", "rate")] == "100" and snap[("set", "count")] == "0",
          "100% of line rate, no count (time-bounded)")
    pk = replay(snap, 101 * 100)
    check({(a, b) for a, b, _, _ in pk} == sweep("100.64.0.2", 101, 10000, 100) and
          len({(a, b) for a, b, _, _ in pk}) == len(pk),
          "10100 packets = every subscriber x port pair exactly once")
    check("using 101 subscribers instead of 100" in r.out, "says it raised the subscribers")
    check(r.end_ms <= 10 * 1000 + 2000, "bounded: %.0f virtual ms for DURATION=10" % r.end_ms)
    check(stats_after_stop(r) and "loss 0" in r.out and "avg tx" in r.out,
          "prints tx/rx, loss and pps after stopping")

    r = Run("udp_64b_flows", {"CGNAT_SUBSCRIBERS": "6", "CGNAT_PORTS_PER_SUBSCRIBER": "4",
                              "CGNAT_SERVERS": "3", "CGNAT_SIZE": "128", "CGNAT_RATE": "50",
                              "CGNAT_DURATION": "3", "CGNAT_INSIDE_MAC": "0a:0b:0c:0d:0e:0f"})
    check(r.rc == 0, "custom settings run: %s" % r.err.strip())
    snap = r.starts[0][1][0]
    common_port_checks(r, snap, 0, 128, mac="0a:0b:0c:0d:0e:0f", label="custom: ")
    pk = replay(snap, 7 * 4)
    check({(a, b) for a, b, _, _ in pk} == sweep("100.64.0.2", 7, 10000, 4),
          "6 -> 7 subscribers (gcd with 4 ports), 28 packets cover 7 x 4")
    check({c for _, _, c, _ in pk} == {"198.51.100.2", "198.51.100.3", "198.51.100.4"},
          "3 servers")
    check(snap[("set", "rate")] == "50" and r.end_ms <= 5000, "rate 50%, 3 s run")

    r = Run("udp_64b_flows", {"CGNAT_BIDIR": "1", "CGNAT_SUBSCRIBERS": "5",
                              "CGNAT_PORTS_PER_SUBSCRIBER": "4"})
    check(r.rc == 0 and r.starts and r.starts[0][0] == "0-1", "BIDIR=1 starts ports 0-1")
    snap1 = r.starts[0][1][1]
    common_port_checks(r, snap1, 1, 64)
    pk = replay(snap1, 5 * 4)
    check({(c, d) for _, _, c, d in pk} == det_expected("100.64.0.2", 5, 4),
          "port 1 targets exactly the deterministic public endpoints of the 5 x 4 flows")
    check(all(a == "198.51.100.2" and b == 9 for a, b, _, _ in pk), "from the server port 9")
    check(r.out.count("loss") == 2, "reports both directions")

    r = Run("udp_64b_flows", {"CGNAT_DURATION": "0"})
    check(r.rc != 0, "DURATION=0 refused")


def check_imix():
    section("imix.lua")
    r = Run("imix")
    check(r.rc == 0, "runs: %s" % r.err.strip())
    snap = r.starts[0][1][0]
    common_port_checks(r, snap, 0, 64)
    pk = replay(snap, 101 * 100)
    check({(a, b) for a, b, _, _ in pk} == sweep("100.64.0.2", 101, 10000, 100),
          "same sweep as udp_64b_flows")
    changes = r.size_changes[1:]  # the first is the setup
    check(set(changes) == {64, 594, 1518} and changes[:3] == [64, 594, 1518],
          "cycles through 64, 594, 1518")
    # slice lengths: weight x (size + 20), so the packet counts are 7:4:1 at a constant bit rate
    ds = r.delays()
    slices = ds[:3]
    pkts = [t / (s + 20) for t, s in zip(slices, (64, 594, 1518))]
    check(abs(pkts[0] / pkts[2] - 7) < 0.35 and abs(pkts[1] / pkts[2] - 4) < 0.2,
          "slices %s ms give a %.2f:%.2f:1 packet mix" % (slices, pkts[0] / pkts[2],
                                                          pkts[1] / pkts[2]))
    check(r.end_ms <= 10 * 1000 + 2000, "bounded: %.0f virtual ms" % r.end_ms)
    check(stats_after_stop(r) and "loss" in r.out, "prints the statistics")
    r = Run("imix", {"CGNAT_SIZES": "64,1518", "CGNAT_WEIGHTS": "1,1", "CGNAT_DURATION": "1"})
    check(r.rc == 0 and set(r.size_changes[1:]) == {64, 1518}, "SIZES/WEIGHTS honoured")
    r = Run("imix", {"CGNAT_SIZES": "64,1518", "CGNAT_WEIGHTS": "1"})
    check(r.rc != 0, "SIZES/WEIGHTS length mismatch refused")


def check_cps():
    section("cps.lua")
    r = Run("cps")
    check(r.rc == 0, "runs: %s" % r.err.strip())
    snap = r.starts[0][1][0]
    common_port_checks(r, snap, 0, 64)
    check(snap[("set", "count")] == str(1001 * 1000),
          "count = 1001 x 1000 packets: one per flow")
    check(field(snap, "src_port", False)["max"] == 10999 and
          field(snap, "src_ip", True)["max"] == ip("100.64.0.2") + 1000,
          "1001 subscribers x ports 10000..10999")
    check("PASS" in r.out, "reports PASS when every packet arrived")
    check(r.end_ms <= 120 * 1000 + 1000, "bounded by MAX_SECS")
    r = Run("cps", {"CGNAT_SUBSCRIBERS": "5", "CGNAT_PORTS_PER_SUBSCRIBER": "3",
                    "CGNAT_TRIAL": "2"})
    snap = r.starts[0][1][0]
    pk = replay(snap, 15)
    got = [(a, b) for a, b, _, _ in pk]
    check(r.rc == 0 and snap[("set", "count")] == "15" and
          set(got) == sweep("100.64.0.2", 5, 10006, 3) and len(set(got)) == 15,
          "TRIAL=2: ports 10006..10008, 15 packets = 15 new flows")


def check_rfc9693():
    section("rfc9693_bidir.lua")
    r = Run("rfc9693_bidir")
    check(r.rc == 0, "runs: %s" % r.err.strip())
    check([s[0] for s in r.starts] == ["0", "0-1"], "phase 1 on port 0, then phase 2 on 0-1")
    p1 = r.starts[0][1][0]
    common_port_checks(r, p1, 0, 64, label="phase 1: ")
    check(p1[("set", "count")] == "10100" and p1[("set", "rate")] == "1",
          "phase 1: exactly one packet per flow (10100) at PRELIM_RATE 1%")
    pk = replay(p1, 10100)
    check({(a, b) for a, b, _, _ in pk} == sweep("100.64.0.2", 101, 10000, 100) and
          len(set(pk)) == 10100, "phase 1 creates every flow once")
    check("phase 1: complete" in r.out, "phase 1 verified complete before phase 2")
    p2 = r.starts[1][1]
    check(p2[0][("set", "count")] == "0" and p2[0][("set", "rate")] == "100",
          "phase 2: port 0 time-bounded at RATE 100%")
    common_port_checks(r, p2[1], 1, 64, label="phase 2: ")
    pk = replay(p2[1], 10100)
    check({(c, d) for _, _, c, d in pk} == det_expected("100.64.0.2", 101, 100),
          "phase 2: port 1 sweeps exactly the 10100 mapped public endpoints "
          "(203.0.113.0:1224..11323)")
    gap = r.calls.index(["delay", "1000"]) if ["delay", "1000"] in r.calls else -1
    check(gap > 0, "GAP_MS pause between the phases")
    check("phase 2 inside->outside" in r.out and "phase 2 outside->inside" in r.out,
          "reports both directions of phase 2")
    check(r.end_ms <= 1000 * (120 + 10) + 5000, "bounded run time")

    # subscribers over several public addresses (C = 64 with a /18): port 1 sweeps the
    # bounding rectangle, with a warning; it contains every mapped endpoint when
    # gcd(addresses, ports) = 1, and the script says so when it is not
    r = Run("rfc9693_bidir", {"CGNAT_DET_SUBSCRIBERS": "100.64.0.0/18",
                              "CGNAT_SUBSCRIBERS": "130", "CGNAT_PORTS_PER_SUBSCRIBER": "2"})
    check(r.rc == 0 and "span 3 public addresses" in r.out and
          "gcd(public addresses" not in r.out,
          "131 subscribers over 3 public addresses: warned about the unmapped endpoints")
    pk = replay(r.starts[1][1][1], 3 * 64 * 2)
    got = {(c, d) for _, _, c, d in pk}
    check(det_expected("100.64.0.2", 131, 2, det_subs="100.64.0.0/18") <= got and
          len(got) == 3 * 64 * 2, "the 3 x 128 rectangle is swept whole and contains every "
          "mapped endpoint")
    r = Run("rfc9693_bidir", {"CGNAT_DET_SUBSCRIBERS": "100.64.0.0/18",
                              "CGNAT_SUBSCRIBERS": "100", "CGNAT_PORTS_PER_SUBSCRIBER": "3"})
    check(r.rc == 0 and "span 2 public addresses" in r.out and "gcd(public addresses" in r.out,
          "2 addresses x 192 ports (gcd 2): warned that range mode covers only part")

    r = Run("rfc9693_bidir", {"CGNAT_DET_PORTS_PER_SUBSCRIBER": "50"})
    check(r.rc != 0, "M < PORTS_PER_SUBSCRIBER refused")
    r = Run("rfc9693_bidir", {"CGNAT_FIRST_SUBSCRIBER": "100.65.0.2"})
    check(r.rc != 0, "subscribers outside DET_SUBSCRIBERS refused")


def main():
    for fn in (check_syntax, check_stub_is_strict, check_udp_64b_flows, check_imix, check_cps,
               check_rfc9693):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            check(False, "%s crashed: %s: %s" % (fn.__name__, type(e).__name__, e))
    print("pktgen scripts: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
