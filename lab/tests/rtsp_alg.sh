#!/usr/bin/env bash
# Lab RTSP ALG test: a real RTSP server and a real RTSP client through cgnatd (2 workers).
#   - server: GStreamer's gst-rtsp-server (lab/tests/rtsp_server.py) in cgn-inet at
#     198.51.100.2:554 (its primary address: the media leave from it too), a live MJPEG test pattern; it sends UDP media from its server_port
#     pair to the client_port pair of the SETUP, at the address the RTSP connection came from
#   - client: ffmpeg in cgn-sub (subscriber 100.64.0.2) decoding 50 frames of the stream
#   - ALG on ([alg.rtsp] enabled = true): UDP transport works; the SETUP the server received
#     carries public client ports (checked in the capture), the expectations are used; TCP
#     (interleaved) transport works too
#   - ALG switched off live through the management API (cgnatctl alg set rtsp --off): UDP
#     transport fails (the server's media goes to ports nobody holds), TCP-interleaved still
#     works; switched on again: UDP works again, no restart
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=rtsp_alg
OUT=$LAB_RUN_DIR/$TEST
SERVER_IP=198.51.100.2
URL=rtsp://$SERVER_IP:554/test
FRAMES=50
SYS_PYTHON=/usr/bin/python3
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: needs cgnatd"
    exit 0
fi
for tool in ffmpeg tcpdump tshark "$SYS_PYTHON"; do
    have "$tool" || {
        fail "required tool '$tool' is missing (run 'make deps')"
        exit 1
    }
done
"$SYS_PYTHON" -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null || {
    fail "gst-rtsp-server's Python bindings are missing (gir1.2-gst-rtsp-server-1.0, python3-gi: run 'make deps')"
    exit 1
}
lab_is_up || {
    fail "the lab is not up"
    exit 1
}
rm -rf "$OUT" && mkdir -p "$OUT"
CFG=$OUT/cgnat.toml
cp "$LAB_CONFIG" "$CFG"
cat >>"$CFG" <<'EOF'

# lab/tests/rtsp_alg.sh: RTSP is off by default (RFC 4787 REQ-10: its pinholes are UDP).
[alg.rtsp]
enabled = true
ports = [554]
EOF
CGNATCTL_BIN=${CGNATCTL_BIN:-$REPO_ROOT/target/release/cgnatctl}

bg_start "$OUT/server.out" "$OUT/server.err" ip netns exec "$LAB_NS_INET" timeout 600 \
    "$SYS_PYTHON" "$LAB_DIR/tests/rtsp_server.py" "$SERVER_IP" 554 /test
SERVER_PID=$BG_LAST_PID
tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$OUT/outside.pcap" "$OUT/tcpdump-out.err" \
    "tcp port 554" || fail "tcpdump (outside) did not start"
cgnatd_start "$CFG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log" || {
    fail "cgnatd not ready"
    tail -n 30 "$OUT/cgnatd.log"
    exit 1
}
server_ready() { grep -q ready "$OUT/server.out" && pid_alive "$SERVER_PID"; }
wait_for 10 server_ready || {
    fail "the RTSP server did not start: $(tail -n 3 "$OUT/server.err")"
    exit 1
}

# play NAME TRANSPORT [LIMIT_S] -- ffmpeg in cgn-sub decodes $FRAMES frames over TRANSPORT
# (udp|tcp); true when it got them all. With the transport forced, ffmpeg does not fall back
# to TCP; without media it waits, so LIMIT_S bounds it.
play() {
    local name=$1 transport=$2 limit=${3:-40}
    ip netns exec "$LAB_NS_SUB" timeout "$limit" ffmpeg -nostdin -hide_banner -loglevel info \
        -rtsp_transport "$transport" -i "$URL" -frames:v "$FRAMES" -f null - \
        >"$OUT/ffmpeg-$name.out" 2>"$OUT/ffmpeg-$name.err" &&
        grep -Eq "frame= *$FRAMES " "$OUT/ffmpeg-$name.err"
}
why() { grep -Ev '^\s*(Stream|Metadata|Input|Output|Duration|encoder|Press)' "$OUT/ffmpeg-$1.err" | tr '\r' '\n' | grep -v '^\s*$' | tail -n 2 | tr '\n' ' '; }

echo "== ALG on: UDP and TCP-interleaved transport"
if play on-udp udp; then
    pass "UDP transport: $FRAMES frames decoded through the NAT (media from the server's ports reached the announced public ports)"
else
    fail "UDP transport failed with the ALG on: $(why on-udp)"
fi
if play on-tcp tcp; then
    pass "TCP-interleaved transport: $FRAMES frames decoded"
else
    fail "TCP-interleaved transport failed with the ALG on: $(why on-tcp)"
fi

echo "== ALG switched off through the management API (no restart)"
if "$CGNATCTL_BIN" alg set rtsp --off --token-file "$(lab_api_token)" >"$OUT/cgnatctl-off.out" 2>&1; then
    pass "API: cgnatctl alg set rtsp --off accepted"
else
    fail "API: cgnatctl alg set rtsp --off failed: $(head -c 300 "$OUT/cgnatctl-off.out")"
fi
sleep 0.5
if play off-udp udp 15; then
    fail "ALG off: UDP transport still worked"
else
    pass "ALG off: UDP transport fails: no frame in 15 s ($(why off-udp))"
fi
if play off-tcp tcp; then
    pass "ALG off: TCP-interleaved transport still works"
else
    fail "ALG off: TCP-interleaved failed: $(why off-tcp)"
fi

echo "== ALG switched on again"
"$CGNATCTL_BIN" alg set rtsp --on --token-file "$(lab_api_token)" >"$OUT/cgnatctl-on.out" 2>&1 ||
    fail "API: cgnatctl alg set rtsp --on failed: $(head -c 300 "$OUT/cgnatctl-on.out")"
sleep 0.5
if play on2-udp udp; then
    pass "ALG on again: UDP transport works on the next connection"
else
    fail "ALG on again: UDP transport failed: $(why on2-udp)"
fi

bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
sleep 0.5
bg_stop_all

# What the server saw: the first UDP SETUP carries public client ports, the ALG-off one the
# subscriber's private ones (the server always sees the pool address as the source).
tshark -r "$OUT/outside.pcap" -Y 'rtsp.request and rtsp.method == "SETUP"' \
    -T fields -e ip.src -e rtsp.transport >"$OUT/setups.txt" 2>"$OUT/tshark.err"
echo "SETUPs seen outside:"
sed 's/^/    /' "$OUT/setups.txt"
first=$(grep -m1 'client_port=' "$OUT/setups.txt")
if [[ "$first" =~ ^203\.0\.113\.[0-9]+[[:space:]] ]] && [[ "$first" =~ client_port=([0-9]+)-([0-9]+) ]]; then
    pass "outside SETUP from a pool address with client_port=${BASH_REMATCH[1]}-${BASH_REMATCH[2]} (even/odd pair from the subscriber's block)"
    check "public RTP port even, RTCP the next one" "client_port pair ${BASH_REMATCH[1]}-${BASH_REMATCH[2]} is not even/odd" \
        test $((BASH_REMATCH[1] % 2)) -eq 0 -a $((BASH_REMATCH[2])) -eq $((BASH_REMATCH[1] + 1))
else
    fail "no translated UDP SETUP seen outside (tshark: $(head -c 200 "$OUT/tshark.err"))"
fi

c() { counter_value "$OUT/cgnatd.out" "$1" || echo 0; }
used=$(c alg_rtsp_expectation_used)
claimed=$(c alg_reserved_port_claimed)
rewrites=$(c alg_rtsp_rewrites)
echo "counters: alg_rtsp_sessions $(c alg_rtsp_sessions) alg_rtsp_messages $(c alg_rtsp_messages) alg_rtsp_rewrites $rewrites alg_rtsp_expectations $(c alg_rtsp_expectations) alg_rtsp_expectation_used $used alg_reserved_port_claimed $claimed alg_rtsp_expectation_refused $(c alg_rtsp_expectation_refused) alg_rtsp_no_room $(c alg_rtsp_no_room)"
refused=$(c alg_rtsp_expectation_refused)
# Two UDP plays with the ALG on: RTP + RTCP expectations each; ffmpeg punches its RTP and
# RTCP ports first, taking the reserved ports; the server's first RTP datagram uses the RTP
# expectation (its first RTCP report may come after the 2-second play).
check "final counters: 4 reserved ports taken by the client's own first datagrams, >= 2 RTSP expectations used, none refused" \
    "final counters: alg_reserved_port_claimed $claimed, alg_rtsp_expectation_used $used, alg_rtsp_expectation_refused $refused" \
    test "$claimed" -ge 4 -a "$used" -ge 2 -a "$refused" -eq 0

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
