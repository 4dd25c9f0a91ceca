#!/usr/bin/env bash
# Lab live-reconfiguration test: cgnatd (2 workers) runs a copy of lab/cgnat.toml.
#   1. UDP flows from 5 subscribers: port-block messages only (per-session logging is off).
#   2. The copy gets `sessions = true` and `session_destinations = true` under [logging];
#      SIGHUP: cgnatd logs the reload, both workers apply it, and new flows are logged as
#      RFC 5424 SADD messages with their destination. The existing mappings keep working.
#   3. The copy changes a restart-only key (dataplane.workers); SIGHUP: refused and logged,
#      nothing changes, traffic still flows and is still session-logged.
# Logs: lab/run/reload/.
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=reload
OUT=$LAB_RUN_DIR/$TEST
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: the kernel stand-in has no live configuration"
    exit 0
fi
rm -rf "$OUT" && mkdir -p "$OUT"
CFG=$OUT/cgnat.toml
cp "$LAB_DIR/cgnat.toml" "$CFG"

bg_start "$OUT/syslog.txt" "$OUT/syslog.err" timeout 300 "$PYTHON" -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5514))
while True:
    d, _ = s.recvfrom(65535)
    print(d.decode("utf-8", "replace"), flush=True)
'

# flows FIRST COUNT SPORT -- one UDP datagram from each of COUNT subscribers
flows() {
    ip netns exec "$LAB_NS_SUB" "$PYTHON" -c '
import socket, sys
first, n, sport = map(int, sys.argv[1:4])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("100.64.0.%d" % (first + i), sport))
    s.sendto(b"reload", ("198.51.100.3", 7777))
    s.close()
' "$@"
    sleep 1
}
count() { grep -c -- "$1" "$OUT/syslog.txt" || true; }

cgnatd_start "$CFG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log" || {
    fail "cgnatd not ready"
    cat "$OUT/cgnatd.log"
    exit 1
}

flows 2 5 40000
n_pba=$(count " PBAADD ")
n_sadd=$(count " SADD ")
check "before: 5 PBAADD, no SADD (per-session logging off)" \
    "before: $n_pba PBAADD, $n_sadd SADD" test "$n_pba" -eq 5 -a "$n_sadd" -eq 0

printf 'sessions = true\nsession_destinations = true\n' >>"$CFG"
kill -HUP "$CGNATD_PID"
if wait_for 10 grep -q "configuration reloaded, live settings applied to 2 worker(s): logging" "$OUT/cgnatd.log"; then
    pass "SIGHUP: cgnatd applied the live logging settings to both workers"
else
    fail "SIGHUP: no reload line in the log"
fi
sleep 0.5
flows 10 5 40000
sadd=$(grep -cE ' SADD \[nat@32473 ISADDR="100\.64\.0\.1[0-4]" ISPORT="40000" XSADDR="203\.0\.113\.[0-9]+" XSPORT="[0-9]+" PROTO="17" XDADDR="198\.51\.100\.3" XDPORT="7777"\]' "$OUT/syslog.txt" || true)
check "after: 5 SADD messages with destination for the new flows" "after: $sadd well-formed SADD messages for 100.64.0.10-14, expected 5" test "$sadd" -eq 5
check "cgnatd kept running across the reload" "cgnatd died" pid_alive "$CGNATD_PID"

sed -i 's/^workers = 2$/workers = 1/' "$CFG"
kill -HUP "$CGNATD_PID"
if wait_for 10 grep -q "reload of .* refused: these settings need a restart: \[dataplane\]" "$OUT/cgnatd.log"; then
    pass "SIGHUP with a restart-only change: refused and logged"
else
    fail "SIGHUP with a restart-only change: no refusal in the log"
fi
flows 20 3 40000
n_sadd=$(count " SADD ")
check "still forwarding with the previous live settings (8 SADD)" \
    "after the refused reload: $n_sadd SADD, expected 8" test "$n_sadd" -eq 8

bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
applied=$(counter_value "$OUT/cgnatd.out" config_applied || echo 0)
rejected=$(counter_value "$OUT/cgnatd.out" config_rejected || echo 0)
check "final counters: config_applied 2 (one snapshot, two workers), config_rejected 0" "final counters: config_applied $applied, config_rejected $rejected" test "$applied" -eq 2 -a "$rejected" -eq 0

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
