#!/usr/bin/env bash
# Lab end-to-end test: real clients and servers through cgnatd on net_af_packet.
#
# Assumes the lab is up (lab/up.sh) and target/release/cgnatd is built; run as root.
#   - cgnatd --check-config lab/cgnat.toml, then cgnatd --config lab/cgnat.toml, wait for "ready"
#   - in cgn-inet: HTTP server 198.51.100.2:8080, UDP echo 198.51.100.3:7777, tcpdump on inet0
#   - from cgn-sub: N_SUBS (default 50) subscriber addresses 100.64.0.2.. each fetch a page
#     (curl --interface) and exchange a UDP datagram; a few also ping 198.51.100.2
#   - capture on inet0: every source from the CGN side is in 203.0.113.0/24, none in
#     100.64.0.0/10, and one translated flow per subscriber flow
#   - an unsolicited UDP datagram to an unused pool address/port never reaches cgn-sub
#   - SIGTERM: cgnatd exits 0 within 10 s, prints "final counters", drop_no_binding >= 1
#
# Environment:
#   CGNAT_STANDIN=1  run against the kernel stand-in (lab/dev/kernel-standin.sh) instead of
#                    cgnatd; the cgnatd-specific checks are reported as SKIP.
#   N_SUBS=50        number of subscribers used for HTTP and UDP (1..100)
#   CGNATD_BIN=...   binary to test (default target/release/cgnatd)
# Logs and captures: lab/run/e2e_basic/ (kept after the run).
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=e2e_basic
OUT=$LAB_RUN_DIR/$TEST
STANDIN=${CGNAT_STANDIN:-0}
N_SUBS=${N_SUBS:-50}
HTTP_IP=198.51.100.2
HTTP_PORT=8080
UDP_IP=198.51.100.3
UDP_PORT=7777
PROBE_SRC=198.51.100.4
PROBE_SPORT=45454
PROBE_DPORT=40000
PING_SUBS=(2 17 34 51)
MAX_FAILURES=10
READY_TIMEOUT=30
STOP_TIMEOUT=10
TESTS_DIR=$LAB_DIR/tests

[[ "$N_SUBS" =~ ^[0-9]+$ && "$N_SUBS" -ge 1 && "$N_SUBS" -le 100 ]] || die "N_SUBS must be 1..100"
SUB_LAST=$((LAB_SUB_FIRST + N_SUBS - 1))

N_PASS=0 N_FAIL=0 N_SKIP=0
pass() {
    N_PASS=$((N_PASS + 1))
    printf '%sPASS%s %s\n' "$C_GRN" "$C_OFF" "$*"
}
fail() {
    N_FAIL=$((N_FAIL + 1))
    printf '%sFAIL%s %s\n' "$C_RED" "$C_OFF" "$*"
}
skip() {
    N_SKIP=$((N_SKIP + 1))
    printf '%sSKIP%s %s\n' "$C_YEL" "$C_OFF" "$*"
}
# relay PASS/FAIL lines printed by a helper into our counters
relay() {
    local st msg
    while read -r st msg; do
        case "$st" in
            PASS) pass "$msg" ;;
            FAIL) fail "$msg" ;;
            *) echo "     $st $msg" ;;
        esac
    done
}

CGNATD_PID=
show_cgnatd_log() {
    [[ "$STANDIN" == 1 || -z "$CGNATD_PID" ]] && return 0
    echo "----- cgnatd stderr ($OUT/cgnatd.log), last 60 lines -----"
    tail -n 60 "$OUT/cgnatd.log" 2>/dev/null || true
    echo "----- cgnatd stdout ($OUT/cgnatd.out), last 40 lines -----"
    tail -n 40 "$OUT/cgnatd.out" 2>/dev/null || true
    echo "-----"
}

# shellcheck disable=SC2317  # invoked by the trap
summary() {
    echo
    echo "$TEST: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped (logs: $OUT)"
    if [[ $N_FAIL -eq 0 ]]; then
        echo "${C_GRN}${C_BLD}$TEST: PASS${C_OFF}"
    else
        echo "${C_RED}${C_BLD}$TEST: FAIL${C_OFF}"
    fi
}
# abort: record a failure that makes the rest meaningless, then exit via the trap
abort() {
    fail "$*"
    show_cgnatd_log
    exit 1
}

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bg_stop_all
    summary
    if [[ $N_FAIL -gt 0 ]]; then exit 1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# ----------------------------------------------------------------------------------
echo "== $TEST: $N_SUBS subscribers, $([[ "$STANDIN" == 1 ]] && echo "KERNEL STAND-IN" || echo "cgnatd $CGNATD_BIN")"
need_root
for tool in ip curl tcpdump ping timeout "$PYTHON"; do
    have "$tool" || abort "required tool '$tool' is missing (run 'make deps')"
done
lab_is_up || abort "the lab is not up (run lab/up.sh)"
rm -rf "$OUT"
mkdir -p "$OUT/www" "$OUT/http"

if pgrep -x cgnatd >/dev/null 2>&1; then
    abort "another cgnatd is already running (pid $(pgrep -x cgnatd | tr '\n' ' ')); it would answer on the lab ports too"
fi

# --- 1. cgnatd ------------------------------------------------------------------------
if [[ "$STANDIN" == 1 ]]; then
    standin_active || abort "CGNAT_STANDIN=1 but the stand-in is not active (lab/dev/kernel-standin.sh up)"
    skip "cgnatd --check-config (stand-in mode)"
    skip "cgnatd ready (stand-in mode)"
else
    standin_active && abort "the kernel stand-in is active: remove it (lab/dev/kernel-standin.sh down) or set CGNAT_STANDIN=1"
    [[ -x "$CGNATD_BIN" ]] || abort "$CGNATD_BIN not found: build it with 'cargo build --release -p cgnatd'"
    if timeout 30 "$CGNATD_BIN" --check-config "$LAB_CONFIG" >"$OUT/check-config.out" 2>&1; then
        pass "cgnatd --check-config $(basename "$LAB_CONFIG") exits 0"
    else
        fail "cgnatd --check-config $(basename "$LAB_CONFIG") failed: $(head -c 400 "$OUT/check-config.out")"
    fi
    cgnatd_start "$LAB_CONFIG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
    t0=$SECONDS
    if cgnatd_wait_ready "$READY_TIMEOUT" "$OUT/cgnatd.out" "$OUT/cgnatd.log"; then
        pass "cgnatd ready after $((SECONDS - t0)) s (pid $CGNATD_PID)"
    elif pid_alive "$CGNATD_PID"; then
        abort "cgnatd did not log 'ready' within ${READY_TIMEOUT} s"
    else
        bg_stop "$CGNATD_PID" TERM 1 || true
        abort "cgnatd exited (status $BG_STOP_STATUS) before logging 'ready'"
    fi
fi

# --- 2. servers in cgn-inet -------------------------------------------------------
TOKEN="cgnat-lab e2e $(date +%s%N) $RANDOM"
{
    echo "<html><body><h1>cgnat lab</h1>"
    echo "<p>$TOKEN</p>"
    # a bit of bulk so the transfer takes more than one segment
    for ((i = 0; i < 64; i++)); do echo "<p>line $i of padding to exceed one TCP segment ............................</p>"; done
    echo "</body></html>"
} >"$OUT/www/index.html"

bg_start "$OUT/http-server.out" "$OUT/http-server.log" \
    ip netns exec "$LAB_NS_INET" timeout 900 "$PYTHON" -u -m http.server "$HTTP_PORT" \
    --bind "$HTTP_IP" --directory "$OUT/www"
bg_start "$OUT/udp-echo.out" "$OUT/udp-echo.log" \
    ip netns exec "$LAB_NS_INET" "$PYTHON" -u "$TESTS_DIR/udp_echo.py" server \
    --bind "$UDP_IP" --port "$UDP_PORT" --lifetime 900

# shellcheck disable=SC2317  # invoked through wait_for
listening() { ip netns exec "$LAB_NS_INET" ss -Hn "$1" "sport = :$2" 2>/dev/null | grep -q .; }
if wait_for 10 listening -lt "$HTTP_PORT" && wait_for 10 listening -lu "$UDP_PORT"; then
    pass "HTTP server $HTTP_IP:$HTTP_PORT and UDP echo $UDP_IP:$UDP_PORT listening in $LAB_NS_INET"
else
    abort "servers in $LAB_NS_INET did not start (see $OUT/http-server.log, $OUT/udp-echo.log)"
fi

# --- 3. capture on inet0 --------------------------------------------------------------
PCAP1=$OUT/inet0-traffic.pcap
tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$PCAP1" "$OUT/tcpdump-inet0-traffic.log" ||
    abort "tcpdump on $LAB_IF_INET did not start (see $OUT/tcpdump-inet0-traffic.log)"
TCPDUMP1_PID=$BG_LAST_PID

# --- 4. HTTP from N_SUBS subscribers ---------------------------------------------------
http_ok=0 http_fail=0 http_tried=0
for ((i = LAB_SUB_FIRST; i <= SUB_LAST; i++)); do
    if [[ $http_fail -ge $MAX_FAILURES ]]; then
        echo "     giving up on HTTP after $http_fail failures"
        break
    fi
    src=100.64.0.$i
    http_tried=$((http_tried + 1))
    if ip netns exec "$LAB_NS_SUB" curl -sS --interface "$src" --connect-timeout 3 --max-time 6 \
        -o "$OUT/http/$src.body" "http://$HTTP_IP:$HTTP_PORT/index.html" 2>"$OUT/http/$src.err" &&
        cmp -s "$OUT/http/$src.body" "$OUT/www/index.html"; then
        http_ok=$((http_ok + 1))
    else
        http_fail=$((http_fail + 1))
        echo "     http from $src failed: $(tr '\n' ' ' <"$OUT/http/$src.err" | head -c 200)"
    fi
done
if [[ $http_ok -eq $N_SUBS ]]; then
    pass "HTTP: $http_ok/$N_SUBS subscribers fetched the page with the right content"
else
    fail "HTTP: $http_ok/$N_SUBS subscribers fetched the page ($http_tried tried)"
fi

# --- 5. UDP echo from N_SUBS subscribers -------------------------------------------------
udp_out=$OUT/udp-client.out
ip netns exec "$LAB_NS_SUB" timeout 300 "$PYTHON" "$TESTS_DIR/udp_echo.py" client \
    --server "$UDP_IP:$UDP_PORT" --sources "100.64.0.$LAB_SUB_FIRST-100.64.0.$SUB_LAST" \
    --timeout 1 --retries 3 --max-failures "$MAX_FAILURES" >"$udp_out" 2>&1
udp_rc=$?
sed 's/^/     /' "$udp_out" | grep -v ': ok' | tail -n 15
udp_tried=$(sed -n 's/.*(\([0-9]*\) tried).*/\1/p' "$udp_out" | tail -n 1)
udp_tried=${udp_tried:-0}
if [[ $udp_rc -eq 0 ]]; then
    pass "UDP: $N_SUBS/$N_SUBS subscribers got their datagram echoed"
else
    fail "UDP: $(grep -o '[0-9]*/[0-9]* sources got their echo' "$udp_out" || echo "client failed (rc $udp_rc)")"
fi

# --- 6. ping from a few ------------------------------------------------------------------
ping_ok=0 ping_n=0
for i in "${PING_SUBS[@]}"; do
    [[ $i -le $SUB_LAST ]] || continue
    src=100.64.0.$i
    ping_n=$((ping_n + 1))
    if ip netns exec "$LAB_NS_SUB" timeout 10 ping -n -q -I "$src" -c 2 -i 0.2 -W 2 "$HTTP_IP" \
        >"$OUT/ping-$src.out" 2>&1; then
        ping_ok=$((ping_ok + 1))
    else
        echo "     ping from $src: $(grep -E 'transmitted|error|unreachable' "$OUT/ping-$src.out" | head -n 2 | tr '\n' ' ')"
    fi
done
if [[ $ping_ok -eq $ping_n ]]; then
    pass "ICMP: $ping_ok/$ping_n subscribers got echo replies from $HTTP_IP"
else
    fail "ICMP: $ping_ok/$ping_n subscribers got echo replies from $HTTP_IP"
fi

# --- 7. what the Internet saw --------------------------------------------------------------
sleep 0.5
bg_stop "$TCPDUMP1_PID" TERM 5 || true
USED=$OUT/public-addresses.txt
# (process substitution, not a pipe: relay must update this shell's counters)
relay < <("$PYTHON" "$TESTS_DIR/pcapcheck.py" check --label "$LAB_IF_INET" --pcap "$PCAP1" \
    --local-mac "$LAB_MAC_INET" --pool "$LAB_POOL_PREFIX" --inside "$LAB_INSIDE_PREFIX" \
    --allow-src "$LAB_CGN_OUTSIDE_IP" \
    --flows "tcp:$HTTP_IP:$HTTP_PORT=$http_tried" \
    --flows "udp:$UDP_IP:$UDP_PORT=$udp_tried" \
    --icmp-flows "$HTTP_IP=$ping_n" \
    --used-out "$USED" 2>&1
    rc=$?
    # 3: failures already reported as FAIL lines; anything else non-zero: it crashed
    [[ $rc -eq 0 || $rc -eq 3 ]] || echo "FAIL pcapcheck.py check crashed (status $rc)")
[[ -s "$USED" ]] && echo "     public addresses used: $(wc -l <"$USED"), e.g. $(head -n 8 "$USED" | tr '\n' ' ')"

# --- 8. unsolicited inbound must not reach a subscriber ----------------------------------
probe_ip=
for ((i = 77; i <= 254; i++)); do
    grep -qx "203.0.113.$i" "$USED" 2>/dev/null || {
        probe_ip=203.0.113.$i
        break
    }
done
PCAP_SUB=$OUT/sub0-unsolicited.pcap
PCAP2=$OUT/inet0-unsolicited.pcap
if tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$PCAP_SUB" "$OUT/tcpdump-sub0.log" ip and src host "$PROBE_SRC"; then
    TCPDUMP_SUB_PID=$BG_LAST_PID
    if tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$PCAP2" "$OUT/tcpdump-inet0-unsolicited.log" udp and dst port "$PROBE_DPORT"; then
        TCPDUMP2_PID=$BG_LAST_PID
        ip netns exec "$LAB_NS_INET" timeout 20 "$PYTHON" "$TESTS_DIR/udp_echo.py" send \
            --src "$PROBE_SRC" --sport "$PROBE_SPORT" --dst "$probe_ip" --dport "$PROBE_DPORT" \
            --count 5 --interval 0.1 >"$OUT/unsolicited-send.out" 2>&1 ||
            fail "could not send the unsolicited datagrams: $(cat "$OUT/unsolicited-send.out")"
        sleep 1.5
        bg_stop "$TCPDUMP2_PID" TERM 5 || true
        bg_stop "$TCPDUMP_SUB_PID" TERM 5 || true
        sent=$("$PYTHON" "$TESTS_DIR/pcapcheck.py" count --pcap "$PCAP2" --from-mac "$LAB_MAC_INET" \
            --proto udp --dst "$probe_ip" --dport "$PROBE_DPORT")
        leaked=$("$PYTHON" "$TESTS_DIR/pcapcheck.py" count --pcap "$PCAP_SUB" --src "$PROBE_SRC")
        if [[ "$sent" -ge 5 ]]; then
            pass "unsolicited: $sent datagrams $PROBE_SRC:$PROBE_SPORT -> $probe_ip:$PROBE_DPORT left $LAB_IF_INET"
        else
            fail "unsolicited: only ${sent:-?} of 5 datagrams to $probe_ip:$PROBE_DPORT seen leaving $LAB_IF_INET"
        fi
        if [[ "$leaked" == 0 ]]; then
            pass "unsolicited: nothing from $PROBE_SRC reached $LAB_IF_SUB in $LAB_NS_SUB"
        else
            fail "unsolicited: ${leaked:-?} packets from $PROBE_SRC reached $LAB_IF_SUB in $LAB_NS_SUB"
        fi
    else
        fail "tcpdump on $LAB_IF_INET (unsolicited phase) did not start"
    fi
else
    fail "tcpdump on $LAB_IF_SUB did not start (see $OUT/tcpdump-sub0.log)"
fi

# --- 9. stop cgnatd ------------------------------------------------------------------------
if [[ "$STANDIN" == 1 ]]; then
    skip "cgnatd exits 0 within ${STOP_TIMEOUT} s of SIGTERM (stand-in mode)"
    skip "cgnatd prints final counters (stand-in mode)"
    skip "drop_no_binding >= 1 (stand-in mode)"
else
    t0=$SECONDS
    if ! pid_alive "$CGNATD_PID"; then
        bg_stop "$CGNATD_PID" TERM 1 || true
        fail "cgnatd died during the test (status $BG_STOP_STATUS)"
    elif bg_stop "$CGNATD_PID" TERM "$STOP_TIMEOUT"; then
        if [[ $BG_STOP_STATUS -eq 0 ]]; then
            pass "cgnatd exited 0 $((SECONDS - t0)) s after SIGTERM"
        else
            fail "cgnatd exited with status $BG_STOP_STATUS after SIGTERM"
        fi
    else
        fail "cgnatd still running ${STOP_TIMEOUT} s after SIGTERM (killed)"
    fi
    if grep -qi 'final counters' "$OUT/cgnatd.out" 2>/dev/null; then
        pass "cgnatd printed 'final counters' on stdout"
        echo "     non-zero: $(awk 'tolower($0) ~ /final counters/ {on=1; next} on && NF == 2 && $2 != "0" {printf "%s=%s ", $1, $2}' "$OUT/cgnatd.out" | head -c 900)"
    else
        fail "cgnatd did not print 'final counters' on stdout"
    fi
    if dnb=$(counter_value "$OUT/cgnatd.out" drop_no_binding); then
        if [[ $dnb -ge 1 ]]; then
            pass "drop_no_binding = $dnb (>= 1: the unsolicited datagrams were dropped for lack of a binding)"
        else
            fail "drop_no_binding = $dnb, expected >= 1"
        fi
    else
        fail "no drop_no_binding counter after 'final counters'"
    fi
fi
[[ $N_FAIL -eq 0 ]] || show_cgnatd_log
exit 0
