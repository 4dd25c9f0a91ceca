#!/usr/bin/env bash
# Runs the criterion micro-benchmarks and the capacity probe, then writes a flat JSON report
# (default target/bench/report.json) and prints it as a table. See docs/benchmarks.md.
#
#   bash benches/run.sh                       full run (about 4 minutes on 2 cores, plus the build)
#   CGNAT_BENCH_QUICK=1 bash benches/run.sh   smoke run: small tables, sub-second measurements;
#                                             the report is valid but its numbers mean nothing
#
# Environment:
#   CGNAT_BENCH_OUT       output directory (default: <cargo target dir>/bench)
#   CGNAT_BENCH_PROFILE   cargo profile for the benches: bench (default) or dev
#   CGNAT_BENCH_16M=1     also run the 16 M-binding lookups (about 2 GiB, +30 s)
#   CGNAT_BENCH_NO_THP=1  skip the huge-page variants of the 1 M translation benches
#   CGNAT_BENCH_NICE=0    do not raise the benches' priority (default as root: nice -n -20)
#   CGNAT_BENCH_COMMIT    the commit to record (default: git rev-parse HEAD, +dirty)
#   CGNAT_CAPACITY_TARGET, CGNAT_CAPACITY_SECONDS, CGNAT_CAPACITY_MAX_RSS: see src/bin/capacity.rs
#   CARGO                 the cargo to use (default: cargo)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
CARGO=${CARGO:-cargo}
QUICK=${CGNAT_BENCH_QUICK:-0}
PROFILE=${CGNAT_BENCH_PROFILE:-bench}

TARGET_DIR=$("$CARGO" metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
OUT=${CGNAT_BENCH_OUT:-$TARGET_DIR/bench}
mkdir -p "$OUT"
# Criterion writes its estimates under CRITERION_HOME; ours is private to this run so that
# the report never picks up a stale result.
export CRITERION_HOME="$OUT/criterion"
rm -rf "$CRITERION_HOME"

case "$PROFILE" in
    bench) BENCH_ARGS=() RUN_ARGS=(--release) ;;
    *) BENCH_ARGS=(--profile "$PROFILE") RUN_ARGS=(--profile "$PROFILE") ;;
esac

log() { printf '==> %s\n' "$*" >&2; }

# On a shared 2-core machine the benches compete with whatever else runs (builds); as root,
# run them at the highest priority so that the scheduler mostly leaves their core alone
# (caches and memory bandwidth are still shared: see docs/benchmarks.md).
NICE=()
if [[ $EUID -eq 0 && "${CGNAT_BENCH_NICE:-1}" != 0 ]]; then
    NICE=(nice -n -20)
fi

log "building (profile $PROFILE)"
"$CARGO" bench -p benches "${BENCH_ARGS[@]}" --no-run
"$CARGO" build -p benches "${RUN_ARGS[@]}" --bin capacity

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
log "criterion benches (load average $LOAD_START)"
"${NICE[@]}" "$CARGO" bench -p benches "${BENCH_ARGS[@]}" -- --noplot
if [[ "${CGNAT_BENCH_NO_THP:-0}" != 1 ]]; then
    log "translation at 1 M bindings with the tables on 2 MiB pages (CGNAT_BENCH_THP=1)"
    CGNAT_BENCH_THP=1 "${NICE[@]}" "$CARGO" bench -p benches "${BENCH_ARGS[@]}" --bench translate -- \
        --noplot '^translate/(out|in)_1m_thp$'
fi

log "built-in generator: the real poll loop on DPDK rings (cgnatd --bench)"
"$CARGO" build -q --release -p cgnatd
CGNATD="$TARGET_DIR/release/cgnatd"
GEN_PROFILES=(nat_10k:udp64_10k.toml fwd_10k:udp64_10k.toml nat_1m:udp64_1m.toml
    cps:cps.toml imix:imix_10k.toml rfc9693:rfc9693_bidir_10k.toml)
for entry in "${GEN_PROFILES[@]}"; do
    name=${entry%%:*} profile=${entry#*:}
    [[ "$QUICK" == 1 ]] && profile=smoke.toml
    extra=()
    [[ "$name" == fwd_* ]] && extra=(--no-translate)
    log "  $name ($profile ${extra[*]})"
    "${NICE[@]}" "$CGNATD" --bench "$ROOT/pktgen-profiles/builtin/$profile" "${extra[@]}" \
        --json "$OUT/gen_$name.json" >/dev/null 2>"$OUT/gen_$name.log" ||
        { cat "$OUT/gen_$name.log" >&2; exit 1; }
done

log "capacity probe"
"${NICE[@]}" "$CARGO" run -q -p benches "${RUN_ARGS[@]}" --bin capacity >"$OUT/capacity.json"
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)

DPDK_VERSION=$(pkg-config --modversion libdpdk 2>/dev/null || echo n/a)
if [[ -n "${CGNAT_BENCH_COMMIT:-}" ]]; then
    GIT_COMMIT=$CGNAT_BENCH_COMMIT
else
    GIT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]]; then
        GIT_COMMIT="$GIT_COMMIT+dirty"
    fi
fi
THP_MODE=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo n/a)

export OUT QUICK PROFILE LOAD_START LOAD_END DPDK_VERSION GIT_COMMIT THP_MODE
python3 "$ROOT/benches/report.py"
