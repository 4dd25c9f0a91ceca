#!/usr/bin/env python3
"""Builds the flat JSON benchmark report from criterion's estimates and the capacity probe.

Called by benches/run.sh (which exports OUT, QUICK, PROFILE, LOAD_START, LOAD_END,
DPDK_VERSION, GIT_COMMIT, THP_MODE); writes $OUT/report.json and prints a table.
Standard library only. Exit status 1 if a required metric is missing.
"""

import datetime
import glob
import json
import os
import platform
import sys

OUT = os.environ["OUT"]
CRITERION = os.path.join(OUT, "criterion")

# Required keys: the test (benches/tests/report.rs) checks the same list.
REQUIRED = [
    "nat_mpps_per_core_10k",
    "nat_mpps_per_core_1m",
    "forward_mpps_per_core",
    "cps_per_core",
    "bytes_per_session",
    "max_sessions",
    "alg_ftp_mpps",
    "alg_sip_mpps",
]

# (key, target description, predicate on the value)
TARGETS = [
    ("nat_mpps_per_core_1m", ">= 15 Mpps", lambda v: v >= 15),
    ("nat_forward_ratio", ">= 0.6", lambda v: v >= 0.6),
    ("cps_per_core", ">= 2 M/s", lambda v: v >= 2e6),
    ("bytes_per_session", "<= 96 B (stretch 64)", lambda v: v <= 96),
    ("max_sessions", ">= 16.5 M", lambda v: v >= 16_500_000),
]


def criterion_results():
    """full_id -> (median ns per iteration, elements per iteration)."""
    res = {}
    pattern = os.path.join(CRITERION, "**", "new", "benchmark.json")
    for bench_json in glob.glob(pattern, recursive=True):
        d = os.path.dirname(bench_json)
        with open(bench_json, encoding="utf-8") as f:
            bench = json.load(f)
        with open(os.path.join(d, "estimates.json"), encoding="utf-8") as f:
            est = json.load(f)
        thr = bench.get("throughput") or {}
        elems = thr.get("Elements") or thr.get("Bytes") or 1
        res[bench["full_id"]] = (est["median"]["point_estimate"], elems)
    return res


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    os_name = platform.system()
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    mem_gib = None
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / (1 << 20), 1)
    return cpu, os.cpu_count(), os_name, platform.release(), mem_gib


def main():
    crit = criterion_results()

    def ns_per_elem(full_id):
        if full_id not in crit:
            return None
        ns, elems = crit[full_id]
        return ns / elems

    def per_sec(full_id, scale=1.0):
        ns = ns_per_elem(full_id)
        return None if ns is None else round(1e9 / ns / scale, 3)

    def mpps(full_id):
        return per_sec(full_id, 1e6)

    cap_path = os.path.join(OUT, "capacity.json")
    with open(cap_path, encoding="utf-8") as f:
        cap = json.load(f)

    cpu, cores, os_name, kernel, mem_gib = machine()
    dpdk = os.environ.get("DPDK_VERSION", "n/a") or "n/a"
    quick = os.environ.get("QUICK", "0") == "1"
    r = {
        "machine": f"{cpu}, {cores} cores, {mem_gib} GiB, {os_name}, "
        f"Linux {kernel}, DPDK {dpdk}",
        "cpu_model": cpu,
        "cores": cores,
        "memory_gib": mem_gib,
        "os": os_name,
        "kernel": kernel,
        "dpdk_version": dpdk,
        "thp_mode": os.environ.get("THP_MODE", "n/a"),
        "git_commit": os.environ.get("GIT_COMMIT", "unknown"),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "profile": os.environ.get("PROFILE", "bench"),
        "quick": quick,
        "load_avg_start": float(os.environ.get("LOAD_START", "0") or 0),
        "load_avg_end": float(os.environ.get("LOAD_END", "0") or 0),
        # Translation, single core, 64-byte UDP, bursts of 32, no NIC I/O.
        "nat_mpps_per_core_10k": mpps("translate/out_10k"),
        "nat_mpps_per_core_1m": mpps("translate/out_1m"),
        "nat_in_mpps_per_core_10k": mpps("translate/in_10k"),
        "nat_in_mpps_per_core_1m": mpps("translate/in_1m"),
        "nat_lru_mpps_per_core_1m": mpps("translate/out_1m_lru"),
        "nat_mpps_per_core_1m_thp": mpps("translate/out_1m_thp"),
        "nat_in_mpps_per_core_1m_thp": mpps("translate/in_1m_thp"),
        "nat_mpps_per_core_1m_lookahead": mpps("translate/out_1m_lookahead"),
        "prepare_ns_per_packet": ns_per_elem("translate/prepare_only"),
        # End to end through the real poll loop on DPDK rings (cgnatd --bench), one worker
        # core, the generator on the other core.
        "io_nat_mpps_per_core_10k": gen("nat_10k", "mpps"),
        "io_nat_mpps_per_core_1m": gen("nat_1m", "mpps"),
        "forward_mpps_per_core": gen("fwd_10k", "mpps"),
        "nat_forward_ratio": ratio(gen("nat_1m", "mpps"), gen("fwd_10k", "mpps")),
        "io_cps_per_core": gen("cps", "cps"),
        "io_imix_mpps_per_core": gen("imix", "mpps"),
        "io_rfc9693_bidir_mpps_per_core": gen("rfc9693", "mpps"),
        "io_latency_p50_ns_10k": gen_lat("nat_10k", "p50"),
        "io_latency_p99_ns_10k": gen_lat("nat_10k", "p99"),
        "io_worker_idle_ratio_nat_10k": gen("nat_10k", "worker_idle_ratio"),
        "io_worker_idle_ratio_fwd_10k": gen("fwd_10k", "worker_idle_ratio"),
        "io_lost_nat_10k": gen_meas("nat_10k", "lost_out"),
        # Sessions.
        "cps_per_core": per_sec("create/fresh_1m"),
        "cps_steady_per_core": per_sec("create/steady_1m"),
        "expire_per_sec_per_core_steady": per_sec("expire/steady_1m"),
        "expire_per_sec_per_core_drain": per_sec("expire/drain_1m"),
        "bytes_per_session": cap.get("bytes_per_session"),
        "bytes_per_session_rss": cap.get("bytes_per_session_rss"),
        "bytes_per_session_binding_table": cap.get("bytes_per_session_binding_table"),
        "bytes_per_session_session_table": cap.get("bytes_per_session_session_table"),
        "bytes_per_binding_udp": cap.get("bytes_per_binding_udp"),
        "bytes_per_session_sessions": cap.get("bytes_per_session_sessions"),
        "alloc_bytes_during_fill": cap.get("alloc_bytes_during_fill"),
        "max_sessions": cap.get("max_sessions"),
        "sessions_tested": cap.get("sessions_tested"),
        "max_sessions_stopped_by": cap.get("max_sessions_stopped_by"),
        "bytes_per_session_at_max": cap.get("bytes_per_session_at_max"),
        "max_sessions_fill_seconds": cap.get("max_sessions_fill_seconds"),
        "capacity_peak_rss_bytes": cap.get("peak_rss_bytes"),
        # ALGs, single core, control-channel packets each parsed and rewritten
        # (benches/benches/alg.rs): FTP PORT + 200 reply; SIP INVITE/200/ACK/BYE/200 calls.
        "alg_ftp_mpps": mpps("alg/ftp_port"),
        "alg_sip_mpps": mpps("alg/sip_call"),
    }
    for full_id in sorted(crit):
        group, _, name = full_id.partition("/")
        if group == "lookup":
            r[f"lookup_{name}_ns"] = round(ns_per_elem(full_id), 2)
        elif group == "checksum":
            r[f"checksum_{name}_ns"] = round(crit[full_id][0], 2)
    if r["prepare_ns_per_packet"] is not None:
        r["prepare_ns_per_packet"] = round(r["prepare_ns_per_packet"], 2)

    with open(os.path.join(OUT, "report.json"), "w", encoding="utf-8") as f:
        json.dump(r, f, indent=2)
        f.write("\n")

    print_table(r)
    missing = [k for k in REQUIRED if k not in r or r[k] is None]
    if missing:
        print(f"missing metrics: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"\nreport: {os.path.join(OUT, 'report.json')}")
    return 0


def gen_json(name):
    path = os.path.join(OUT, f"gen_{name}.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def gen(name, key):
    j = gen_json(name)
    return None if j is None else j.get(key)


def gen_lat(name, key):
    j = gen_json(name)
    return None if j is None else j.get("latency_out_ns", {}).get(key)


def gen_meas(name, key):
    j = gen_json(name)
    return None if j is None else j.get("measured", {}).get(key)


def ratio(a, b):
    if a is None or not b:
        return None
    return round(a / b, 3)


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 1e5:
            return f"{v:,.0f}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def print_table(r):
    print()
    print(f"machine: {r['machine']}")
    print(
        f"commit {r['git_commit']}, profile {r['profile']}, THP {r['thp_mode']}, "
        f"load average {r['load_avg_start']} -> {r['load_avg_end']}"
        + ("   ** QUICK RUN: numbers are not meaningful **" if r["quick"] else "")
    )
    print()
    print(f"{'metric':<34} {'value':>14}  {'target':<22} status")
    print("-" * 80)
    shown = set()
    for key, target, ok in TARGETS:
        v = r.get(key)
        status = "n/a" if v is None else ("met" if ok(v) else "MISSED")
        print(f"{key:<34} {fmt(v):>14}  {target:<22} {status}")
        shown.add(key)
    print("-" * 80)
    skip = {
        "machine", "cpu_model", "cores", "memory_gib", "os", "kernel", "dpdk_version",
        "thp_mode", "git_commit", "date_utc", "profile", "quick", "load_avg_start",
        "load_avg_end", "forward_mpps_per_core_note",
    }
    for key, v in r.items():
        if key in shown or key in skip:
            continue
        print(f"{key:<34} {fmt(v):>14}")


if __name__ == "__main__":
    sys.exit(main())
