#!/usr/bin/env python3
"""Validates the profiles of cgnat's built-in generator (pktgen-profiles/builtin/*.toml): every
key of the format (README.md, "Built-in generator") present with its type and range, no
unknown key, and the values each file is meant to have. Also parses the example cgnatd configs
(pktgen-profiles/cgnat-configs/*.toml) and checks that the deterministic one matches the
defaults the TRex and pktgen profiles compute the public endpoints from; with a built cgnatd
(CGNATD, default target/release/cgnatd) it runs `cgnatd --check-config` on them too.
Run by pktgen-profiles/check.sh."""

import glob
import os
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11 (Ubuntu 22.04): python3-tomli
    import tomli as tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REPO = os.path.dirname(ROOT)
BUILTIN = os.path.join(ROOT, "builtin")
CONFIGS = os.path.join(ROOT, "cgnat-configs")

SCENARIOS = ("throughput", "cps", "rfc9693")
# the limits cgnatd --bench enforces (cgnatd/src/bench/profile.rs): subscribers from 100.64.0.2,
# source ports from 10000, servers from 198.51.100.2; frames without FCS, at most 1514 bytes
MAX_SUBSCRIBERS = 1000000
MAX_PORTS = 16384
MAX_SERVERS = 250
MAX_FLOWS = 64000000

# what each file is for (the brief of the lead): key -> value
EXPECT = {
    "udp64_10k.toml": {"scenario": "throughput", "frame_sizes": [60], "subscribers": 100,
                       "ports_per_subscriber": 100, "bidirectional": False},
    "udp64_1m.toml": {"scenario": "throughput", "frame_sizes": [60], "subscribers": 4096,
                      "ports_per_subscriber": 256, "bidirectional": False},
    "imix_10k.toml": {"scenario": "throughput", "frame_sizes": [60, 590, 1514],
                      "weights": [7, 4, 1], "subscribers": 100, "ports_per_subscriber": 100},
    "cps.toml": {"scenario": "cps", "subscribers": 1000, "ports_per_subscriber": 1000},
    "rfc9693_bidir_10k.toml": {"scenario": "rfc9693", "bidirectional": True,
                               "subscribers": 100, "ports_per_subscriber": 100},
    "smoke.toml": {"subscribers": 4, "ports_per_subscriber": 4, "duration_secs": 1},
}

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL: " + what)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def int_in(lo, hi):
    return lambda v: is_int(v) and lo <= v <= hi


def int_list(lo, hi):
    return lambda v: isinstance(v, list) and len(v) > 0 and all(int_in(lo, hi)(x) for x in v)


# key -> (predicate, description)
FORMAT = {
    "name": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    "scenario": (lambda v: v in SCENARIOS, "one of %s" % ", ".join(SCENARIOS)),
    "frame_sizes": (int_list(60, 1514), "a non-empty list of frame sizes 60..1514 (no FCS)"),
    "weights": (lambda v: int_list(0, 1000)(v) and any(v), "a list of 0..1000, not all 0"),
    "subscribers": (int_in(1, MAX_SUBSCRIBERS), "an integer 1..%d" % MAX_SUBSCRIBERS),
    "ports_per_subscriber": (int_in(1, MAX_PORTS), "an integer 1..%d" % MAX_PORTS),
    "servers": (int_in(1, MAX_SERVERS), "an integer 1..%d" % MAX_SERVERS),
    "preliminary_secs": (int_in(0, 3600), "an integer 0..3600"),
    "duration_secs": (int_in(1, 3600), "an integer 1..3600"),
    "bidirectional": (lambda v: isinstance(v, bool), "a boolean"),
}


def validate(path):
    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except Exception as e:  # noqa: BLE001
        check(False, "%s: not valid TOML: %s" % (name, e))
        return None
    for key, (pred, desc) in FORMAT.items():
        check(key in doc, "%s: missing key %s" % (name, key))
        if key in doc:
            check(pred(doc[key]), "%s: %s must be %s, got %r" % (name, key, desc, doc[key]))
    for key in doc:
        check(key in FORMAT, "%s: unknown key %s" % (name, key))
    if isinstance(doc.get("frame_sizes"), list) and isinstance(doc.get("weights"), list):
        check(len(doc["frame_sizes"]) == len(doc["weights"]),
              "%s: frame_sizes and weights differ in length" % name)
    if is_int(doc.get("subscribers")) and is_int(doc.get("ports_per_subscriber")):
        check(doc["subscribers"] * doc["ports_per_subscriber"] <= MAX_FLOWS,
              "%s: subscribers x ports_per_subscriber above %d" % (name, MAX_FLOWS))
    if doc.get("scenario") == "rfc9693":
        check(is_int(doc.get("preliminary_secs")) and doc["preliminary_secs"] >= 1,
              "%s: an rfc9693 profile needs a preliminary phase (preliminary_secs >= 1)" % name)
    if doc.get("bidirectional") is True:
        check(doc.get("preliminary_secs", 0) >= 1,
              "%s: bidirectional needs a preliminary phase to learn the public endpoints" % name)
    return doc


def check_builtin():
    print("- builtin/*.toml")
    files = sorted(glob.glob(os.path.join(BUILTIN, "*.toml")))
    names = [os.path.basename(f) for f in files]
    for want in EXPECT:
        check(want in names, "builtin/%s is missing" % want)
    seen = {}
    for f in files:
        doc = validate(f)
        if doc is None:
            continue
        n = os.path.basename(f)
        check(n in EXPECT, "builtin/%s: not a known profile (add it to EXPECT)" % n)
        for key, value in EXPECT.get(n, {}).items():
            check(doc.get(key) == value, "%s: %s should be %r, is %r"
                  % (n, key, value, doc.get(key)))
        if isinstance(doc.get("name"), str):
            check(doc["name"] not in seen, "%s: name %r already used by %s"
                  % (n, doc["name"], seen.get(doc["name"])))
            seen[doc["name"]] = n


def check_configs():
    print("- cgnat-configs/*.toml")
    files = sorted(glob.glob(os.path.join(CONFIGS, "*.toml")))
    check(len(files) >= 2, "cgnat-configs/dynamic.toml and deterministic.toml exist")
    docs = {}
    for f in files:
        with open(f, "rb") as fh:
            docs[os.path.basename(f)] = tomllib.load(fh)
    det = docs.get("deterministic.toml", {})
    check(det.get("pool", {}).get("mode") == "deterministic", "deterministic.toml is deterministic")
    check(det.get("inside", {}).get("subscribers") == ["100.64.0.0/16"] and
          det.get("pool", {}).get("prefixes") == ["203.0.113.0/24"] and
          det.get("pool", {}).get("ports_per_subscriber") == 100,
          "deterministic.toml matches the profiles' defaults (100.64.0.0/16, 203.0.113.0/24, "
          "100 ports per subscriber)")
    for n, d in docs.items():
        check(d.get("inside", {}).get("address") == "100.64.0.1/31" and
              d.get("inside", {}).get("next_hop") == "100.64.0.0" and
              d.get("outside", {}).get("next_hop") == "198.51.100.2",
              "%s: generator addresses 100.64.0.0 / 198.51.100.2 as next hops" % n)
    cgnatd = os.environ.get("CGNATD", os.path.join(REPO, "target", "release", "cgnatd"))
    if os.access(cgnatd, os.X_OK):
        for f in files:
            p = subprocess.run([cgnatd, "--check-config", f], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
            check(p.returncode == 0, "cgnatd --check-config %s: %s"
                  % (os.path.basename(f), p.stdout.strip()))
        print("  (cgnatd --check-config ran on %d configs)" % len(files))
    else:
        print("  (no %s: cgnatd --check-config skipped)" % os.path.relpath(cgnatd, REPO))


def main():
    for fn in (check_builtin, check_configs):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            check(False, "%s crashed: %s: %s" % (fn.__name__, type(e).__name__, e))
    print("builtin profiles and configs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
