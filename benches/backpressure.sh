#!/usr/bin/env bash
# The back-pressure experiment of docs/robustness.md: the built-in generator's connection-rate
# scenario (every packet a new binding, per-session logging on: one event per packet) with the
# daemon's real control thread and sinks attached, and one API event-stream subscriber that
# never reads. Each variant breaks the logging path in another way; the packet rate must not
# follow, and every event must be handled or counted as lost.
#
#   bash benches/backpressure.sh [SECONDS]     (as root; default 5 s per variant)
#
# Variants:
#   off        no control thread, no sinks (the baseline)
#   healthy    IPFIX + syslog to a collector that reads everything, JSON lines to a file
#   dead       IPFIX + syslog to ports nobody listens on (ICMP port unreachable: send errors)
#   stalled    IPFIX + syslog to a socket that never reads (kernel buffer full: silent loss)
#   erroring   JSON lines and syslog file on /dev/full (every write fails with ENOSPC)
#   tiny-queue the dead collectors with a 64-event queue (most events lost at the worker)
# Writes target/bench/backpressure.json and prints a table.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
SECS=${1:-5}
CARGO=${CARGO:-cargo}
"$CARGO" build --release -p cgnatd >&2
TARGET_DIR=$("$CARGO" metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/release/cgnatd"
OUT="$TARGET_DIR/bench"
mkdir -p "$OUT"
WORK=$(mktemp -d)
cleanup() {
    if [[ -n "${READER_PID:-}" ]]; then kill "$READER_PID" 2>/dev/null || true; fi
    if [[ -n "${STALL_PID:-}" ]]; then kill "$STALL_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

sed -e "s/^duration_secs = .*/duration_secs = $SECS/" -e 's/^name = .*/name = "cps-backpressure"/' \
    pktgen-profiles/builtin/cps.toml >"$WORK/cps.toml"

# A collector that reads everything, and one that never reads (receive buffer kept small).
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True: s.recv(65536)' "$WORK/reader.port" &
READER_PID=$!
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(86400)' "$WORK/stall.port" &
STALL_PID=$!
for f in reader.port stall.port; do
    for _ in $(seq 50); do [[ -s "$WORK/$f" ]] && break; sleep 0.1; done
done
READER=$(cat "$WORK/reader.port")
STALL=$(cat "$WORK/stall.port")
DEAD=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

logcfg() { # name, body
    printf '[logging]\nsessions = true\n%s\n' "$2" >"$WORK/$1.toml"
    echo "$WORK/$1.toml"
}
declare -A CFG=(
    [healthy]=$(logcfg healthy "ipfix_collector = \"127.0.0.1:$READER\"
syslog_server = \"127.0.0.1:$READER\"
json_file = \"$WORK/events.jsonl\"")
    [dead]=$(logcfg dead "ipfix_collector = \"127.0.0.1:$DEAD\"
syslog_server = \"127.0.0.1:$DEAD\"")
    [stalled]=$(logcfg stalled "ipfix_collector = \"127.0.0.1:$STALL\"
syslog_server = \"127.0.0.1:$STALL\"")
    [erroring]=$(logcfg erroring "json_file = \"/dev/full\"
syslog_file = \"/dev/full\"")
    [tiny-queue]=$(logcfg tiny "ipfix_collector = \"127.0.0.1:$DEAD\"
syslog_server = \"127.0.0.1:$DEAD\"
event_queue = 64")
)

echo "[" >"$OUT/backpressure.json"
first=1
printf '%-11s %10s %12s %14s %12s %s\n' variant cps events events_lost send/write_err stalled_backlog
for v in off healthy dead stalled erroring tiny-queue; do
    args=(--bench "$WORK/cps.toml" --json "$WORK/$v.json")
    [[ $v != off ]] && args+=(--log-config "${CFG[$v]}")
    CGNAT_LOG=warn "$BIN" "${args[@]}" >/dev/null 2>"$WORK/$v.err" || { cat "$WORK/$v.err" >&2; exit 1; }
    [[ $first -eq 1 ]] || echo "," >>"$OUT/backpressure.json"
    first=0
    python3 - "$v" "$WORK/$v.json" "$OUT/backpressure.json" <<'PY'
import json, sys
v, src, out = sys.argv[1:]
r = json.load(open(src))
l = r.get("logging") or {}
errs = sum(l.get(k, 0) for k in ("ipfix_send_errors", "syslog_send_errors", "syslog_write_errors", "json_write_errors"))
print(f"{v:<11} {r['cps']:>10.0f} {l.get('events_handled', 0):>12} {l.get('event_queue_full', 0):>14} {errs:>12} {l.get('stalled_subscriber_backlog', 0)}")
with open(out, "a") as f:
    json.dump({"variant": v, "cps": r["cps"], "worker_drops": r["worker_drops"], "logging": r.get("logging")}, f)
PY
done
echo "]" >>"$OUT/backpressure.json"
echo "written: $OUT/backpressure.json" >&2
