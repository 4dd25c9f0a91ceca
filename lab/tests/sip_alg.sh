#!/usr/bin/env bash
# Lab SIP ALG test: SIPp (sip-tester) calls through cgnatd (2 workers), a REGISTER followed by
# an inbound call, and NAT Slipstreaming v1.
#   - calls: SIPp UACs (built-in uac_pcap: INVITE with SDP, then G.711 RTP played from the
#     media port) in cgn-sub call SIPp UASs (built-in uas, -rtp_echo) in cgn-inet: three
#     subscribers at once over UDP (UAS 198.51.100.5), three over TCP (UAS 198.51.100.7).
#     Each call completes; the INVITE seen outside carries a pool address in c= and o=; the RTP
#     seen outside leaves from exactly the public port its SDP announced and the echo comes
#     back to it; inside, the echoed RTP reaches the subscriber's media port.
#   - REGISTER: a phone (lab/tests/sip_ua.py, one socket 100.64.0.8:5060 as phones do)
#     registers with a registrar in cgn-inet (lab/tests/sip_registrar.py, 198.51.100.8) that
#     answers 200 OK and then calls the Contact it received (the public endpoint, rewritten by
#     the ALG): the INVITE reaches the phone, which answers; ACK, BYE, 200.
#   - NAT Slipstreaming v1 (lab/tests/slipstream.py): an HTTP POST from 100.64.0.9 to
#     198.51.100.6:5060 whose second segment begins with a REGISTER naming the internal service
#     100.64.0.9:3306, answered 200 OK: the outside cannot connect to that service.
#   - ALG switched off live (cgnatctl alg set sip --off): the INVITE leaves with the private
#     address in its SDP.
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=sip_alg
OUT=$LAB_RUN_DIR/$TEST
UAS_UDP=198.51.100.5
UAS_TCP=198.51.100.7
ATTACKER=198.51.100.6
REGISTRAR=198.51.100.8
UDP_SUBS=(2 3 4)
TCP_SUBS=(5 6 7)
REG_SUB=100.64.0.8
VICTIM=100.64.0.9
OFF_SUB=100.64.0.10
SYS_PYTHON=/usr/bin/python3
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: needs cgnatd"
    exit 0
fi
for tool in sipp tcpdump tshark "$SYS_PYTHON"; do
    have "$tool" || {
        fail "required tool '$tool' is missing (run 'make deps')"
        exit 1
    }
done
lab_is_up || {
    fail "the lab is not up"
    exit 1
}
rm -rf "$OUT" && mkdir -p "$OUT/pcap"
# uac_pcap plays pcap/g711a.pcap relative to the working directory (and looks for the DTMF
# ones next to it).
for f in /usr/share/sip-tester/*.pcap; do ln -sf "$f" "$OUT/pcap/"; done
CFG=$OUT/cgnat.toml
cp "$LAB_CONFIG" "$CFG"
cat >>"$CFG" <<'EOF'

# lab/tests/sip_alg.sh: SIP is off by default (RFC 4787 REQ-10: its pinholes are UDP).
[alg.sip]
enabled = true
ports = [5060]
EOF
CGNATCTL_BIN=${CGNATCTL_BIN:-$REPO_ROOT/target/release/cgnatctl}
in_sub() { ip netns exec "$LAB_NS_SUB" "$@"; }
in_inet() { ip netns exec "$LAB_NS_INET" "$@"; }

# --- servers and captures ----------------------------------------------------------------
cd "$OUT" || exit 1
bg_start "$OUT/uas-udp.out" "$OUT/uas-udp.err" in_inet timeout 120 sipp -sn uas -i "$UAS_UDP" \
    -p 5060 -mi "$UAS_UDP" -mp 6000 -rtp_echo -m "${#UDP_SUBS[@]}" -nostdin -trace_err \
    -error_file "$OUT/uas-udp.errors"
UAS_UDP_PID=$BG_LAST_PID
bg_start "$OUT/uas-tcp.out" "$OUT/uas-tcp.err" in_inet timeout 120 sipp -sn uas -t t1 -i "$UAS_TCP" \
    -p 5060 -mi "$UAS_TCP" -mp 6000 -rtp_echo -m "${#TCP_SUBS[@]}" -nostdin -trace_err \
    -error_file "$OUT/uas-tcp.errors"
UAS_TCP_PID=$BG_LAST_PID
TCPDUMP_SNAPLEN=2048 tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$OUT/outside.pcap" "$OUT/tcpdump-out.err" \
    "udp or tcp port 5060" || fail "tcpdump (outside) did not start"
TCPDUMP_SNAPLEN=2048 tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$OUT/inside.pcap" "$OUT/tcpdump-in.err" \
    "udp or tcp port 5060" || fail "tcpdump (inside) did not start"

cgnatd_start "$CFG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log" || {
    fail "cgnatd not ready"
    tail -n 30 "$OUT/cgnatd.log"
    exit 1
}
sleep 1

# --- calls from several subscribers at once --------------------------------------------
# call NAME SUB UAS TRANSPORT -- one uac_pcap call in the background; sets BG_LAST_PID
call() {
    local name=$1 sub=$2 uas=$3 transport=$4
    bg_start "$OUT/uac-$name.out" "$OUT/uac-$name.err" in_sub timeout 60 sipp -sn uac_pcap \
        "$uas:5060" -t "$transport" -i "$sub" -p 5061 -mi "$sub" -mp 6000 -m 1 -nostdin \
        -trace_err -error_file "$OUT/uac-$name.errors"
}
echo "== calls: ${#UDP_SUBS[@]} subscribers over UDP and ${#TCP_SUBS[@]} over TCP at once"
declare -A UAC_PID
for s in "${UDP_SUBS[@]}"; do
    call "udp-$s" "100.64.0.$s" "$UAS_UDP" u1
    UAC_PID[udp-$s]=$BG_LAST_PID
done
for s in "${TCP_SUBS[@]}"; do
    call "tcp-$s" "100.64.0.$s" "$UAS_TCP" t1
    UAC_PID[tcp-$s]=$BG_LAST_PID
done
for name in "${!UAC_PID[@]}"; do
    pid=${UAC_PID[$name]}
    wait_for 60 bash -c "! kill -0 $pid 2>/dev/null" >/dev/null 2>&1
    bg_stop "$pid" TERM 2 >/dev/null 2>&1
    rc=$BG_STOP_STATUS
    if [[ $rc -eq 0 ]] && grep -Eq 'Successful call +\| +[0-9]+ +\| +1 ' "$OUT/uac-$name.out"; then
        pass "SIPp call $name: INVITE, 200, ACK, RTP played, BYE: completed"
    else
        fail "SIPp call $name: exit $rc: $(grep -E 'Failed call|Unexpected|Aborting' "$OUT/uac-$name.out" "$OUT/uac-$name.errors" 2>/dev/null | head -n 2 | tr '\n' ' ')"
    fi
done

echo "== REGISTER, then an inbound call to the registered Contact"
bg_start "$OUT/registrar.out" "$OUT/registrar.err" in_inet timeout 60 "$SYS_PYTHON" \
    "$LAB_DIR/tests/sip_registrar.py" "$REGISTRAR" "$OUT/registrar.log" 30
REGISTRAR_PID=$BG_LAST_PID
sleep 0.5
in_sub timeout 40 "$SYS_PYTHON" "$LAB_DIR/tests/sip_ua.py" "$REG_SUB" "$REGISTRAR" "$OUT/ua.log" 30 \
    >"$OUT/ua.out" 2>&1
ua_rc=$?
wait_for 30 bash -c "! kill -0 $REGISTRAR_PID 2>/dev/null" >/dev/null 2>&1
bg_stop "$REGISTRAR_PID" TERM 2 >/dev/null 2>&1
reg_rc=$BG_STOP_STATUS
if [[ $reg_rc -eq 0 && $ua_rc -eq 0 ]]; then
    pass "REGISTER from $REG_SUB:5060, 200 OK; the registrar's INVITE to the registered (public) Contact reached the phone; answered, ACKed, hung up ($(grep registered "$OUT/registrar.out"))"
else
    fail "inbound call to the registered Contact: registrar exit $reg_rc ($(tr '\n' ' ' <"$OUT/registrar.out")), phone exit $ua_rc ($(tr '\n' ' ' <"$OUT/ua.out"))"
fi

echo "== NAT Slipstreaming v1"
bg_start "$OUT/slip-server.out" "$OUT/slip-server.err" in_inet timeout 30 "$SYS_PYTHON" \
    "$LAB_DIR/tests/slipstream.py" server "$ATTACKER" 20 "$OUT/slip-received.bin"
SLIP_PID=$BG_LAST_PID
sleep 0.5
in_sub timeout 30 "$SYS_PYTHON" "$LAB_DIR/tests/slipstream.py" client "$VICTIM" "$ATTACKER" 8 \
    >"$OUT/slip-client.out" 2>&1
client_rc=$?
wait_for 15 bash -c "! kill -0 $SLIP_PID 2>/dev/null" >/dev/null 2>&1
bg_stop "$SLIP_PID" TERM 2 >/dev/null 2>&1
server_rc=$BG_STOP_STATUS
if grep -q 'Contact: <sip:x@100.64.0.9:3306' "$OUT/slip-received.bin" 2>/dev/null &&
    [[ $client_rc -eq 0 && $server_rc -eq 0 ]]; then
    pass "Slipstreaming v1: the REGISTER inside the HTTP body was left alone (Contact still private), the outside could not reach $VICTIM:3306"
else
    fail "Slipstreaming v1: client exit $client_rc, server exit $server_rc: $(tr '\n' ' ' <"$OUT/slip-server.out") $(tr '\n' ' ' <"$OUT/slip-client.out")"
fi

echo "== SIP ALG switched off through the management API"
if "$CGNATCTL_BIN" alg set sip --off --token-file "$(lab_api_token)" >"$OUT/cgnatctl-off.out" 2>&1; then
    pass "API: cgnatctl alg set sip --off accepted"
else
    fail "API: cgnatctl alg set sip --off failed: $(head -c 300 "$OUT/cgnatctl-off.out")"
fi
sleep 0.5
bg_start "$OUT/uas-off.out" "$OUT/uas-off.err" in_inet timeout 30 sipp -sn uas -i "$UAS_UDP" \
    -p 5062 -mi "$UAS_UDP" -mp 6300 -m 1 -nostdin
OFF_UAS_PID=$BG_LAST_PID
sleep 0.5
in_sub timeout 20 sipp -sn uac "$UAS_UDP:5062" -i "$OFF_SUB" -p 5061 -mi "$OFF_SUB" -mp 6000 -m 1 \
    -nostdin >"$OUT/uac-off.out" 2>&1 || true
bg_stop "$OFF_UAS_PID" TERM 2 >/dev/null 2>&1

bg_stop "$UAS_UDP_PID" TERM 2 >/dev/null 2>&1
bg_stop "$UAS_TCP_PID" TERM 2 >/dev/null 2>&1
bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
sleep 0.5
bg_stop_all
cd - >/dev/null || exit 1

# --- what the captures show ---------------------------------------------------------------
echo "== captures"
# The INVITEs seen outside: source, SDP c=, o= address, m= port (tshark's SIP/SDP dissectors).
tshark -r "$OUT/outside.pcap" -d tcp.port==5060,sip -Y 'sip.Method == "INVITE" && sdp' -T fields \
    -E separator=' ' -e ip.src -e ip.dst -e sdp.connection_info.address -e sdp.owner.address \
    -e sdp.media.port >"$OUT/invites-outside.txt" 2>"$OUT/tshark.err"
sed 's/^/    /' "$OUT/invites-outside.txt"
n_pool=0
n_rtp_ok=0
while read -r src dst caddr oaddr mport; do
    if [[ "$dst" == "$UAS_UDP" || "$dst" == "$UAS_TCP" ]] && [[ "$src" == 203.0.113.* ]]; then
        if [[ "$caddr" == "$src" && "$oaddr" == "$src" ]]; then
            n_pool=$((n_pool + 1))
        fi
        # RTP leaving from the announced public port, and the echo coming back to it.
        out_n=$(tshark -r "$OUT/outside.pcap" -Y "ip.src == $src && udp.srcport == $mport && ip.dst == $dst && udp.dstport == 6000" 2>/dev/null | wc -l)
        back_n=$(tshark -r "$OUT/outside.pcap" -Y "ip.src == $dst && udp.srcport == 6000 && ip.dst == $src && udp.dstport == $mport" 2>/dev/null | wc -l)
        echo "    RTP $src:$mport -> $dst:6000: $out_n out, $back_n echoed back"
        if [[ $out_n -ge 100 && $back_n -ge 100 ]]; then
            n_rtp_ok=$((n_rtp_ok + 1))
        fi
    fi
done <"$OUT/invites-outside.txt"
calls=$((${#UDP_SUBS[@]} + ${#TCP_SUBS[@]}))
check "outside: $n_pool INVITEs from pool addresses carry that pool address in SDP c= and o=" \
    "outside: only $n_pool of $calls INVITEs carry the pool address in c= and o=" test "$n_pool" -ge "$calls"
check "outside: RTP of $n_rtp_ok calls leaves from the public port its SDP announced, echoed back to it" \
    "outside: RTP of only $n_rtp_ok of $calls calls used the announced public port both ways" test "$n_rtp_ok" -ge "$calls"
in_rtp=$(tshark -r "$OUT/inside.pcap" -Y "udp.dstport == 6000 && (ip.src == $UAS_UDP || ip.src == $UAS_TCP)" 2>/dev/null | wc -l)
check "inside: $in_rtp echoed RTP datagrams reached the subscribers' media port 6000" \
    "inside: only $in_rtp echoed RTP datagrams reached the subscribers" test "$in_rtp" -ge $((calls * 100))
off=$(tshark -r "$OUT/outside.pcap" -Y "sip.Method == \"INVITE\" && udp.dstport == 5062" -T fields \
    -e sdp.connection_info.address 2>/dev/null | head -n 1)
check "ALG off: the INVITE left with the subscriber's private address in its SDP ($off)" \
    "ALG off: expected $OFF_SUB in the INVITE's SDP outside, saw '$off'" test "$off" == "$OFF_SUB"

c() { counter_value "$OUT/cgnatd.out" "$1" || echo 0; }
echo "counters: alg_sip_messages $(c alg_sip_messages) alg_sip_rewrites $(c alg_sip_rewrites) alg_sip_expectations $(c alg_sip_expectations) alg_sip_expectation_used $(c alg_sip_expectation_used) alg_sip_expectation_refused $(c alg_sip_expectation_refused) alg_reserved_port_claimed $(c alg_reserved_port_claimed) alg_sip_not_sip_stream $(c alg_sip_not_sip_stream) alg_sip_register_unmatched $(c alg_sip_register_unmatched)"
used=$(c alg_sip_expectation_used)
notsip=$(c alg_sip_not_sip_stream)
claimed=$(c alg_reserved_port_claimed)
check "final counters: the Slipstreaming connection was seen and never parsed as SIP (alg_sip_not_sip_stream $notsip)" \
    "final counters: alg_sip_not_sip_stream $notsip (the HTTP connection to 5060 was not recognised)" test "$notsip" -ge 1
check "final counters: each caller's first RTP took its announced public port (alg_reserved_port_claimed $claimed)" \
    "final counters: alg_reserved_port_claimed $claimed, expected >= $calls" test "$claimed" -ge "$calls"
check "final counters: SIP expectations used (>= $calls: media and the registered Contact)" \
    "final counters: alg_sip_expectation_used $used" test "$used" -ge "$calls"

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
