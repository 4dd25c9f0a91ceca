#!/usr/bin/env bash
# Lab PPTP/GRE ALG test: two subscribers behind ONE public address run PPTP control sessions and
# calls to one server, through cgnatd (2 workers).
#   - a scripted PAC (lab/tests/pptp_peer.py pac; real pptpd needs kernel PPP) in cgn-inet at
#     198.51.100.9:1723 echoes every GRE packet of its calls back with the Call ID the PNS gave;
#   - PNS 100.64.0.11 places two calls in one control session (inside Call IDs 16384, 16385),
#     PNS 100.64.0.12 one call with the same inside Call ID 16384, at the same time;
#   - the pool is one address (203.0.113.7/32), so the server sees both subscribers as one host:
#     their Call IDs must be translated to distinct public ones, and every echoed GRE packet
#     must reach the right subscriber with its own Call ID restored (checked per packet);
#   - after the calls are cleared, GRE to their public Call IDs is dropped and counted.
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=pptp_alg
OUT=$LAB_RUN_DIR/$TEST
PAC=198.51.100.9
PUBLIC=203.0.113.7
SUB_A=100.64.0.11
SUB_B=100.64.0.12
PACKETS=20
SYS_PYTHON=/usr/bin/python3
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: needs cgnatd"
    exit 0
fi
for tool in tcpdump tshark "$SYS_PYTHON"; do
    have "$tool" || {
        fail "required tool '$tool' is missing (run 'make deps')"
        exit 1
    }
done
lab_is_up || {
    fail "the lab is not up"
    exit 1
}
rm -rf "$OUT" && mkdir -p "$OUT"
CFG=$OUT/cgnat.toml
sed "s|^prefixes = \[\"203.0.113.0/24\"\]|prefixes = [\"$PUBLIC/32\"]|" "$LAB_CONFIG" >"$CFG"
grep -q "^prefixes = \[\"$PUBLIC/32\"\]" "$CFG" || {
    fail "could not set the pool to $PUBLIC/32 in $CFG"
    exit 1
}
cat >>"$CFG" <<'EOF'

# lab/tests/pptp_alg.sh: PPTP is off by default.
[alg.pptp]
enabled = true
ports = [1723]
EOF

in_sub() { ip netns exec "$LAB_NS_SUB" "$@"; }
in_inet() { ip netns exec "$LAB_NS_INET" "$@"; }

bg_start "$OUT/pac.out" "$OUT/pac.err" in_inet timeout 120 "$SYS_PYTHON" "$LAB_DIR/tests/pptp_peer.py" \
    pac "$PAC" 100 "$OUT/pac.log"
PAC_PID=$BG_LAST_PID
tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$OUT/outside.pcap" "$OUT/tcpdump-out.err" \
    "tcp port 1723 or ip proto 47" || fail "tcpdump (outside) did not start"
cgnatd_start "$CFG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log" || {
    fail "cgnatd not ready"
    tail -n 30 "$OUT/cgnatd.log"
    exit 1
}
pac_ready() { grep -q ready "$OUT/pac.out" && pid_alive "$PAC_PID"; }
wait_for 10 pac_ready || {
    fail "the PAC did not start: $(tail -n 3 "$OUT/pac.err")"
    exit 1
}
sleep 1

echo "== two subscribers, one public address, the same inside Call ID; two calls in one session"
bg_start "$OUT/pns-a.out" "$OUT/pns-a.err" in_sub timeout 60 "$SYS_PYTHON" "$LAB_DIR/tests/pptp_peer.py" \
    pns "$SUB_A" "$PAC" 16384,16385 "$PACKETS"
declare -A PNS
PNS[a]=$BG_LAST_PID
bg_start "$OUT/pns-b.out" "$OUT/pns-b.err" in_sub timeout 60 "$SYS_PYTHON" "$LAB_DIR/tests/pptp_peer.py" \
    pns "$SUB_B" "$PAC" 16384 "$PACKETS"
PNS[b]=$BG_LAST_PID
for who in a b; do
    pid=${PNS[$who]}
    wait_for 60 bash -c "! kill -0 $pid 2>/dev/null" >/dev/null 2>&1
    bg_stop "$pid" TERM 2 >/dev/null 2>&1
    rc=$BG_STOP_STATUS
    if [[ $rc -eq 0 ]]; then
        pass "PNS $who: $(cat "$OUT/pns-$who.out")"
    else
        fail "PNS $who: exit $rc: $(cat "$OUT/pns-$who.out") $(tail -n 2 "$OUT/pns-$who.err")"
    fi
done

echo "== what the server saw"
sed 's/^/    /' "$OUT/pac.log" | grep -v '^    GRE' || true
mapfile -t ocrq < <(grep '^OCRQ' "$OUT/pac.log")
srcs=$(printf '%s\n' "${ocrq[@]}" | sed -n 's/.* src=\([0-9.]*\):.*/\1/p' | sort -u)
ids=$(printf '%s\n' "${ocrq[@]}" | sed -n 's/.* call_id=\([0-9]*\) .*/\1/p' | sort -u | wc -l)
check "the server saw ${#ocrq[@]} calls, all from the one public address $PUBLIC" \
    "the server saw ${#ocrq[@]} calls from: $srcs" test "${#ocrq[@]}" -eq 3 -a "$srcs" == "$PUBLIC"
check "the three calls (two with inside Call ID 16384) carry three distinct public Call IDs" \
    "only $ids distinct Call IDs among the three calls" test "$ids" -eq 3
gre_in=$(grep -c '^GRE src=' "$OUT/pac.log")
check "the server received $gre_in GRE packets for its calls (PNS -> PAC)" \
    "the server received $gre_in GRE packets, expected $((3 * PACKETS))" test "$gre_in" -eq $((3 * PACKETS))

echo "== GRE to a cleared call"
first_id=$(printf '%s\n' "${ocrq[@]}" | sed -n '1s/.* call_id=\([0-9]*\) .*/\1/p')
in_inet "$SYS_PYTHON" - "$PAC" "$PUBLIC" "${first_id:-0}" <<'EOF'
import socket, struct, sys
pac, public, call_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
s.bind((pac, 0))
for n in range(5):
    payload = b"late ppp frame"
    s.sendto(struct.pack("!HHHHI", 0x3001, 0x880B, len(payload), call_id, n) + payload, (public, 0))
EOF
sleep 0.5

bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
bg_stop_all
c() { counter_value "$OUT/cgnatd.out" "$1" || echo 0; }
echo "counters: alg_pptp_sessions $(c alg_pptp_sessions) alg_pptp_messages $(c alg_pptp_messages) alg_pptp_rewrites $(c alg_pptp_rewrites) alg_pptp_calls $(c alg_pptp_calls) alg_pptp_calls_removed $(c alg_pptp_calls_removed) alg_pptp_gre_messages $(c alg_pptp_gre_messages) alg_pptp_gre_rewrites $(c alg_pptp_gre_rewrites) alg_pptp_out_of_state $(c alg_pptp_out_of_state) drop_gre_no_call $(c drop_gre_no_call)"
calls=$(c alg_pptp_calls)
removed=$(c alg_pptp_calls_removed)
check "final counters: 3 calls connected and 3 removed by their Call-Clear-Request" \
    "final counters: alg_pptp_calls $calls, alg_pptp_calls_removed $removed" test "$calls" -eq 3 -a "$removed" -eq 3
nocall=$(c drop_gre_no_call)
check "GRE to a cleared call's public Call ID dropped and counted (drop_gre_no_call $nocall >= 5)" \
    "drop_gre_no_call $nocall after 5 GRE packets to a cleared call" test "$nocall" -ge 5

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
