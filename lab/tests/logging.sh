#!/usr/bin/env bash
# Lab logging test: the lab config (2 workers) sends IPFIX to 127.0.0.1:4739 and RFC 5424
# syslog to 127.0.0.1:5514. N subscribers each open a UDP flow; then
#   - tshark decodes the IPFIX a collector socket received (lab/tests/udp_collector.py writes
#     it to a pcap): templates recognised (no "no template"), one
#     natEvent 16 (port block allocated) record per subscriber with its inside address, a pool
#     address and a block-aligned 512-port range;
#   - a UDP receiver gets one well-formed RFC 5424 PBAADD message per subscriber, carrying the
#     same (subscriber, public address, port range) as the IPFIX record;
#   - both workers took part (the flows were spread by af_packet and handed to their owner);
#   - at SIGTERM every block is released: one natEvent 17 record and one PBADEL message per
#     subscriber, with the same tuples as the allocations.
# Logs and captures: lab/run/logging/.
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=logging
OUT=$LAB_RUN_DIR/$TEST
N=${N_SUBS:-20}
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: the kernel stand-in does not log"
    exit 0
fi
have tshark || die "tshark is missing (make deps)"
rm -rf "$OUT" && mkdir -p "$OUT"

# The IPFIX collector: a socket that writes what it receives into a pcap for tshark (a capture
# on lo loses packets when the busy-polling workers keep both CPUs busy).
bg_start /dev/null "$OUT/collector.err" "$PYTHON" -u "$LAB_DIR/tests/udp_collector.py" \
    127.0.0.1 4739 "$OUT/logs.pcap" --seconds 300
wait_for 10 test -s "$OUT/logs.pcap" || die "the IPFIX collector did not start"
bg_start "$OUT/syslog.txt" "$OUT/syslog.err" timeout 300 "$PYTHON" -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5514))
while True:
    d, _ = s.recvfrom(65535)
    print(d.decode("utf-8", "replace"), flush=True)
'

cgnatd_start "$LAB_DIR/cgnat.toml" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
if cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log"; then
    pass "cgnatd ready (pid $CGNATD_PID)"
else
    fail "cgnatd not ready"
    cat "$OUT/cgnatd.log"
    exit 1
fi

# One UDP flow per subscriber (no server needed: the first packet allocates the block).
ip netns exec "$LAB_NS_SUB" "$PYTHON" -c '
import socket, sys
n = int(sys.argv[1])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("100.64.0.%d" % (2 + i), 0))
    for _ in range(3):
        s.sendto(b"log me", ("198.51.100.3", 7777))
    s.close()
' "$N"
sleep 1.5
bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
sleep 0.5
cleanup

# --- IPFIX, decoded by tshark -------------------------------------------------------------
tshark -r "$OUT/logs.pcap" -d udp.port==4739,cflow -Y cflow -V >"$OUT/ipfix.txt" 2>&1
if grep -q "no template found" "$OUT/ipfix.txt"; then
    fail "tshark found data sets without a template"
else
    pass "tshark decoded the IPFIX stream with our templates"
fi
# ipfix_records EVENT -- (subscriber, public, first port, last port) of natEvent EVENT records
ipfix_records() {
    tshark -r "$OUT/logs.pcap" -d udp.port==4739,cflow -Y "cflow.nat_event == $1" -T fields \
        -E separator=' ' -E occurrence=a -E aggregator=' ' \
        -e cflow.nat_event -e cflow.srcaddr -e cflow.post_natsource_ipv4_address \
        -e cflow.port_range_start -e cflow.port_range_end 2>/dev/null |
        awk -v ev="$1" '{ n = NF / 5; for (i = 0; i < n; i++) if ($(1+i) == ev)
            print $(1+n+i), $(1+2*n+i), $(1+3*n+i), $(1+4*n+i) }' | sort
}
ipfix_records 16 >"$OUT/ipfix-blocks.txt"
ipfix_records 17 >"$OUT/ipfix-released.txt"
n_ipfix=$(wc -l <"$OUT/ipfix-blocks.txt")
if [[ "$n_ipfix" -eq "$N" ]]; then
    pass "IPFIX: $n_ipfix natEvent 16 records for $N subscribers"
else
    fail "IPFIX: $n_ipfix natEvent 16 records, expected $N (see $OUT/ipfix-blocks.txt)"
fi
bad=$(awk -v n="$N" '{
    split($1, s, "."); split($2, p, ".")
    ok = s[1] == 100 && s[2] == 64 && s[3] == 0 && s[4] >= 2 && s[4] < 2 + n
    ok = ok && $2 ~ /^203\.0\.113\./ && ($3 - 1024) % 512 == 0 && $4 == $3 + 511
    if (!ok) print
}' "$OUT/ipfix-blocks.txt")
if [[ -z "$bad" ]]; then
    pass "IPFIX: every record names a subscriber, a pool address and a 512-port block"
else
    fail "IPFIX: malformed records: $bad"
fi
distinct=$(cut -d' ' -f1 "$OUT/ipfix-blocks.txt" | sort -u | wc -l)
check "IPFIX: $distinct distinct subscribers" "IPFIX: $distinct distinct subscribers, expected $N" \
    test "$distinct" -eq "$N"

if cmp -s "$OUT/ipfix-blocks.txt" "$OUT/ipfix-released.txt"; then
    pass "IPFIX: at shutdown, one natEvent 17 per allocated block, same tuples"
else
    fail "IPFIX: natEvent 17 records differ from the allocations:"
    diff "$OUT/ipfix-blocks.txt" "$OUT/ipfix-released.txt" | head -5
fi

# --- syslog -------------------------------------------------------------------------------
re='^<134>1 [0-9T:.-]+Z [^ ]+ cgnat [0-9]+ PBAADD \[nat@32473 ISADDR="([0-9.]+)" XSADDR="([0-9.]+)" XPORTSTART="([0-9]+)" XPORTEND="([0-9]+)"\]'
: >"$OUT/syslog-blocks.txt"
malformed=0
while IFS= read -r line; do
    [[ -z "$line" ]] && continue
    if [[ "$line" =~ $re ]]; then
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}" >>"$OUT/syslog-blocks.txt"
    elif [[ "$line" == *PBAADD* ]]; then
        malformed=$((malformed + 1))
        echo "malformed: $line"
    fi
done <"$OUT/syslog.txt"
sort -o "$OUT/syslog-blocks.txt" "$OUT/syslog-blocks.txt"
sed -nE 's/.* PBADEL \[nat@32473 ISADDR="([0-9.]+)" XSADDR="([0-9.]+)" XPORTSTART="([0-9]+)" XPORTEND="([0-9]+)"\]$/\1 \2 \3 \4/p' \
    "$OUT/syslog.txt" | sort >"$OUT/syslog-released.txt"
check "syslog: one PBADEL per allocated block at shutdown, same tuples" \
    "syslog: PBADEL messages differ from the allocations" \
    cmp -s "$OUT/syslog-blocks.txt" "$OUT/syslog-released.txt"
n_sys=$(wc -l <"$OUT/syslog-blocks.txt")
if [[ "$n_sys" -eq "$N" && "$malformed" -eq 0 ]]; then
    pass "syslog: $n_sys well-formed RFC 5424 PBAADD messages"
else
    fail "syslog: $n_sys well-formed PBAADD messages (expected $N), $malformed malformed"
fi
if cmp -s "$OUT/ipfix-blocks.txt" "$OUT/syslog-blocks.txt"; then
    pass "syslog and IPFIX report the same (subscriber, public address, port range)"
else
    fail "syslog and IPFIX disagree:"
    diff "$OUT/ipfix-blocks.txt" "$OUT/syslog-blocks.txt" | head -10
fi

# --- both workers ---------------------------------------------------------------------------
ho=$(counter_value "$OUT/cgnatd.out" handoff_received || echo 0)
dropped=$(counter_value "$OUT/cgnatd.out" log_event_dropped || echo 0)
check "workers handed frames to each other ($ho)" \
    "no handoff between the 2 workers (af_packet qpairs=2 should spread flows)" test "$ho" -gt 0
check "no log event dropped" "log_event_dropped = $dropped" test "$dropped" -eq 0

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
