#!/usr/bin/env bash
# Lab test: NAT behaviour required by RFC 4787 / RFC 5382 / RFC 5508 / RFC 6888, through
# cgnatd on net_af_packet, with real sockets in the namespaces.
#
# Assumes the lab is up (lab/up.sh) and target/release/cgnatd is built; run as root.
# cgnatd runs three times, each config checked with --check-config first:
#   1. lab/cgnat.toml (endpoint-independent filtering):
#      - EIM (RFC 4787 REQ-1): one UDP socket of 100.64.0.10 talks to 198.51.100.3:7000 and
#        198.51.100.4:7000; both see the same public endpoint in 203.0.113.0/24. Same for two
#        sequential TCP connections from one local port (RFC 5382 REQ-1).
#      - EIF (RFC 4787 REQ-8, RFC 6888 REQ-7): an uncontacted host (198.51.100.5:9000) and the
#        contacted host from another port (:7001) reach that socket through its mapping.
#      - hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): 100.64.0.21 (A) reaches 100.64.0.20 (B)
#        at B's public endpoint, B sees A's public endpoint, B's answer reaches A; UDP and TCP;
#        the hairpinned packets never leave on inet0.
#   2. [pool] filtering = "address-and-port-dependent": the same EIM socket; the uncontacted
#      host and the other port are filtered (nothing reaches sub0 within 1.5 s) while the
#      contacted server still answers; drop_filtered >= 1.
#   3. [pool] block_size = 8, max_blocks_per_subscriber = 1 (RFC 6888 REQ-4/REQ-11, RFC 5508
#      REQ-8): 100.64.0.30 (C) opens 9 UDP sockets to the reflector: 8 are translated, the
#      9th is not and gets ICMP 3/13 (captured on sub0, and EHOSTUNREACH on its connected
#      socket); 100.64.0.31 (D) is unaffected; C's 8 flows still work;
#      drop_port_exhausted >= 1 and icmp_admin_prohibited_sent >= 1.
# Every run ends with SIGTERM: exit 0 within 10 s and a "final counters" block on stdout.
#
# The reflector (lab/tests/nat_probe.py serve, in cgn-inet) answers every request with the
# source address and port it saw, like a STUN server.
#
# Environment:
#   CGNATD_BIN=...     binary to test (default target/release/cgnatd)
#   FOREIGN_WAIT=60    seconds to wait for a cgnatd this test did not start to exit
#   CGNAT_STANDIN=1    the kernel stand-in has none of these configurable behaviours: SKIP
# Logs, generated configs and captures: lab/run/rfc_behaviour/ (kept after the run).
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=rfc_behaviour
OUT=$LAB_RUN_DIR/$TEST
STANDIN=${CGNAT_STANDIN:-0}
FOREIGN_WAIT=${FOREIGN_WAIT:-60}
READY_TIMEOUT=30
STOP_TIMEOUT=10
PROBE_TIMEOUT=30
TESTS_DIR=$LAB_DIR/tests
PROBE=$TESTS_DIR/nat_probe.py

SRV1=198.51.100.3
SRV2=198.51.100.4
THIRD=198.51.100.5:9000
UDP_PORT=7000 # the reflector also answers POKEs from UDP_PORT+1 ("other port")
TCP_PORT=7100
SUB_EIM=100.64.0.10
SUB_EIM_PORT=40000
SUB_TCP=100.64.0.11
SUB_TCP_PORT=40001
SUB_B=100.64.0.20
SUB_A=100.64.0.21
SUB_C=100.64.0.30
SUB_D=100.64.0.31
EXH_BLOCK=8
EXH_PORTS=$((EXH_BLOCK + 1))
NETS=(--pool "$LAB_POOL_PREFIX" --inside "$LAB_INSIDE_PREFIX")

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
# relay PASS/FAIL/SKIP lines printed by a helper into our counters; "INFO name value" lines
# are kept in INFO[name]
declare -A INFO=()
relay() {
    local st msg
    while read -r st msg; do
        case "$st" in
            PASS) pass "$msg" ;;
            FAIL) fail "$msg" ;;
            SKIP) skip "$msg" ;;
            INFO) INFO[${msg%% *}]=${msg#* } ;;
            *) echo "     $st $msg" ;;
        esac
    done
}

# probe NETNS LOGNAME ARGS... -- runs nat_probe.py in NETNS (bounded), log in $OUT/LOGNAME.log;
# use as: relay < <(probe ...)
probe() {
    local ns=$1 name=$2 rc
    shift 2
    {
        ip netns exec "$ns" timeout "$PROBE_TIMEOUT" "$PYTHON" -B "$PROBE" "$@" 2>&1
        rc=$?
        # 3: failures already reported as FAIL lines; anything else non-zero: it broke
        if [[ $rc -eq 124 ]]; then
            echo "FAIL nat_probe.py $1 timed out after $PROBE_TIMEOUT s"
        elif [[ $rc -ne 0 && $rc -ne 3 ]]; then
            echo "FAIL nat_probe.py $1 crashed (status $rc)"
        fi
    } | tee -a "$OUT/$name.log"
}

CGNATD_PID=
PHASE=
show_cgnatd_log() {
    [[ -n "$PHASE" && -e "$OUT/cgnatd-$PHASE.log" ]] || return 0
    echo "----- cgnatd stderr ($OUT/cgnatd-$PHASE.log), last 40 lines -----"
    tail -n 40 "$OUT/cgnatd-$PHASE.log" 2>/dev/null || true
    echo "----- cgnatd stdout ($OUT/cgnatd-$PHASE.out), last 40 lines -----"
    tail -n 40 "$OUT/cgnatd-$PHASE.out" 2>/dev/null || true
    echo "-----"
}

# shellcheck disable=SC2317  # invoked by the trap
summary() {
    echo
    echo "$TEST: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped in $SECONDS s (logs: $OUT)"
    if [[ $N_FAIL -eq 0 ]]; then
        echo "${C_GRN}${C_BLD}$TEST: PASS${C_OFF}"
    else
        echo "${C_RED}${C_BLD}$TEST: FAIL${C_OFF}"
    fi
}
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

# other_cgnatd -- PIDs of running cgnatd processes (zombies excluded), space-separated
other_cgnatd() {
    local p pids=()
    for p in $(pgrep -x cgnatd 2>/dev/null); do
        pid_alive "$p" && pids+=("$p")
    done
    echo "${pids[*]}"
}
# shellcheck disable=SC2317  # invoked through wait_for
no_cgnatd_running() { [[ -z "$(other_cgnatd)" ]]; }

# make_config OUTFILE KEY=VALUE... -- lab/cgnat.toml with these [pool] keys set (any existing
# line for them in [pool] is replaced). Values are TOML literals.
make_config() {
    local out=$1 kv keys=() lines=()
    shift
    for kv in "$@"; do
        keys+=("${kv%%=*}")
        lines+=("${kv%%=*} = ${kv#*=}")
    done
    awk -v keys="${keys[*]}" -v lines="$(printf '%s\n' "${lines[@]}")" '
        BEGIN { nk = split(keys, k, " "); split(lines, l, "\n") }
        /^[ \t]*\[/ { sec = $0; gsub(/[ \t]/, "", sec) }
        sec == "[pool]" {
            for (i = 1; i <= nk; i++) if ($0 ~ "^[ \t]*" k[i] "[ \t]*=") next
        }
        { print }
        sec == "[pool]" && /^[ \t]*\[pool\]/ { for (i = 1; i <= nk; i++) print l[i] }
    ' "$LAB_CONFIG" >"$out"
    for kv in "$@"; do
        grep -qxF -- "${kv%%=*} = ${kv#*=}" "$out" || return 1
    done
}

# phase_start NAME CONFIG -- check-config, wait (bounded) for any other cgnatd to go, start,
# wait for "ready". Returns non-zero (after a FAIL) when the phase cannot run.
phase_start() {
    local cfg=$2 t0
    PHASE=$1
    echo
    echo "== $TEST: cgnatd with $(basename "$cfg")${3:+ ($3)}"
    if timeout 30 "$CGNATD_BIN" --check-config "$cfg" >"$OUT/check-config-$PHASE.out" 2>&1; then
        pass "[$PHASE] cgnatd --check-config $(basename "$cfg") exits 0"
    else
        fail "[$PHASE] cgnatd --check-config $(basename "$cfg") failed: $(head -c 400 "$OUT/check-config-$PHASE.out")"
        return 1
    fi
    if ! no_cgnatd_running; then
        echo "     another cgnatd is running (pid $(other_cgnatd)): waiting up to $FOREIGN_WAIT s for it to exit"
        wait_for "$FOREIGN_WAIT" no_cgnatd_running ||
            abort "another cgnatd (pid $(other_cgnatd)) is still running after $FOREIGN_WAIT s; only one may use the lab ports"
    fi
    cgnatd_start "$cfg" "$OUT/cgnatd-$PHASE.out" "$OUT/cgnatd-$PHASE.log"
    t0=$SECONDS
    if cgnatd_wait_ready "$READY_TIMEOUT" "$OUT/cgnatd-$PHASE.out" "$OUT/cgnatd-$PHASE.log"; then
        pass "[$PHASE] cgnatd ready after $((SECONDS - t0)) s (pid $CGNATD_PID)"
        return 0
    fi
    if pid_alive "$CGNATD_PID"; then
        bg_stop "$CGNATD_PID" TERM 5 || true
        fail "[$PHASE] cgnatd did not log 'ready' within ${READY_TIMEOUT} s"
    else
        bg_stop "$CGNATD_PID" TERM 1 || true
        fail "[$PHASE] cgnatd exited (status $BG_STOP_STATUS) before logging 'ready'"
    fi
    show_cgnatd_log
    CGNATD_PID=
    return 1
}

# phase_stop -- SIGTERM, exit 0 within STOP_TIMEOUT, "final counters" on stdout
phase_stop() {
    local out=$OUT/cgnatd-$PHASE.out t0=$SECONDS
    if ! pid_alive "$CGNATD_PID"; then
        bg_stop "$CGNATD_PID" TERM 1 || true
        fail "[$PHASE] cgnatd died during the test (status $BG_STOP_STATUS)"
    elif bg_stop "$CGNATD_PID" TERM "$STOP_TIMEOUT"; then
        if [[ $BG_STOP_STATUS -eq 0 ]]; then
            pass "[$PHASE] cgnatd exited 0 $((SECONDS - t0)) s after SIGTERM"
        else
            fail "[$PHASE] cgnatd exited with status $BG_STOP_STATUS after SIGTERM"
        fi
    else
        fail "[$PHASE] cgnatd still running ${STOP_TIMEOUT} s after SIGTERM (killed)"
    fi
    CGNATD_PID=
    if grep -qi 'final counters' "$out" 2>/dev/null; then
        pass "[$PHASE] cgnatd printed 'final counters' on stdout"
        echo "     non-zero: $(awk 'tolower($0) ~ /final counters/ {on=1; next} on && NF == 2 && $2 != "0" && $1 !~ /^port_/ {printf "%s=%s ", $1, $2}' "$out" | head -c 900)"
    else
        fail "[$PHASE] cgnatd did not print 'final counters' on stdout"
    fi
}

# counter_at_least NAME MIN WHY -- from the last phase's final counters
counter_at_least() {
    local v
    if v=$(counter_value "$OUT/cgnatd-$PHASE.out" "$1"); then
        if [[ $v -ge $2 ]]; then
            pass "[$PHASE] $1 = $v (>= $2: $3)"
        else
            fail "[$PHASE] $1 = $v, expected >= $2 ($3)"
        fi
    else
        fail "[$PHASE] no $1 counter after 'final counters'"
    fi
}

# pcount PCAP ARGS... -- pcapcheck.py count (prints "?" if it fails)
pcount() {
    local pcap=$1
    shift
    "$PYTHON" -B "$TESTS_DIR/pcapcheck.py" count --pcap "$pcap" "$@" 2>/dev/null || echo "?"
}

# ----------------------------------------------------------------------------------
echo "== $TEST: EIM, EIF/APDF, hairpinning, port exhaustion with ICMP 3/13; cgnatd $CGNATD_BIN"
need_root
if [[ "$STANDIN" == 1 ]]; then
    skip "$TEST checks cgnatd's configurable behaviour (filtering modes, port blocks); the kernel stand-in has none (CGNAT_STANDIN=1)"
    exit 0
fi
for tool in ip tcpdump timeout pgrep ss awk "$PYTHON"; do
    have "$tool" || abort "required tool '$tool' is missing (run 'make deps')"
done
lab_is_up || abort "the lab is not up (run lab/up.sh)"
standin_active && abort "the kernel stand-in is active: remove it (lab/dev/kernel-standin.sh down)"
[[ -x "$CGNATD_BIN" ]] || abort "$CGNATD_BIN not found: build it with 'cargo build --release -p cgnatd'"
rm -rf "$OUT"
mkdir -p "$OUT"

CFG_APDF=$OUT/apdf.toml
CFG_EXH=$OUT/exhaustion.toml
make_config "$CFG_APDF" 'filtering="address-and-port-dependent"' ||
    abort "could not generate $CFG_APDF from $LAB_CONFIG"
make_config "$CFG_EXH" "block_size=$EXH_BLOCK" 'max_blocks_per_subscriber=1' ||
    abort "could not generate $CFG_EXH from $LAB_CONFIG"

# --- the reflector in cgn-inet (serves all three phases) ------------------------------------
bg_start "$OUT/reflector.out" "$OUT/reflector.log" \
    ip netns exec "$LAB_NS_INET" timeout 300 "$PYTHON" -B -u "$PROBE" serve \
    --udp "$SRV1:$UDP_PORT" --udp "$SRV2:$UDP_PORT" --third "$THIRD" \
    --tcp "$SRV1:$TCP_PORT" --tcp "$SRV2:$TCP_PORT" --lifetime 240
# shellcheck disable=SC2317  # invoked through wait_for
listening() { ip netns exec "$LAB_NS_INET" ss -Hn "$1" "src $2" 2>/dev/null | grep -q .; }
if wait_for 10 listening -lt "$SRV2:$TCP_PORT" && wait_for 10 listening -lu "$THIRD" &&
    wait_for 10 listening -lu "$SRV2:$((UDP_PORT + 1))"; then
    pass "reflector on $SRV1/$SRV2 udp $UDP_PORT(+1) tcp $TCP_PORT, third host $THIRD, in $LAB_NS_INET"
else
    abort "the reflector in $LAB_NS_INET did not start (see $OUT/reflector.log)"
fi

# ==========================================================================================
# 1. default config: EIM, EIF, hairpinning
# ==========================================================================================
if phase_start eif "$LAB_CONFIG" "endpoint-independent filtering"; then
    PCAP_INET=$OUT/inet0-eif.pcap
    TCPDUMP_PID=
    if tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$PCAP_INET" "$OUT/tcpdump-inet0-eif.log"; then
        TCPDUMP_PID=$BG_LAST_PID
    else
        fail "[eif] tcpdump on $LAB_IF_INET did not start (see $OUT/tcpdump-inet0-eif.log)"
    fi

    relay < <(probe "$LAB_NS_SUB" eif-udp udp-filter --src "$SUB_EIM" --sport "$SUB_EIM_PORT" \
        --servers "$SRV1:$UDP_PORT,$SRV2:$UDP_PORT" --third "$THIRD" --expect eif "${NETS[@]}")
    relay < <(probe "$LAB_NS_SUB" eif-tcp tcp-eim --src "$SUB_TCP" --sport "$SUB_TCP_PORT" \
        --servers "$SRV1:$TCP_PORT,$SRV2:$TCP_PORT" "${NETS[@]}")
    relay < <(probe "$LAB_NS_SUB" hairpin-udp udp-hairpin --server "$SRV1:$UDP_PORT" \
        --a "$SUB_A" --b "$SUB_B" "${NETS[@]}")
    relay < <(probe "$LAB_NS_SUB" hairpin-tcp tcp-hairpin --server "$SRV1:$TCP_PORT" \
        --a "$SUB_A" --b "$SUB_B" "${NETS[@]}")

    if [[ -n "$TCPDUMP_PID" ]]; then
        sleep 0.3
        bg_stop "$TCPDUMP_PID" TERM 5 || true
        relay < <("$PYTHON" -B "$TESTS_DIR/pcapcheck.py" check --label "[eif] $LAB_IF_INET" \
            --pcap "$PCAP_INET" --local-mac "$LAB_MAC_INET" --pool "$LAB_POOL_PREFIX" \
            --inside "$LAB_INSIDE_PREFIX" --allow-src "$LAB_CGN_OUTSIDE_IP" 2>&1
            rc=$?
            [[ $rc -eq 0 || $rc -eq 3 ]] || echo "FAIL pcapcheck.py check crashed (status $rc)")
        # hairpinned packets are turned around inside cgnatd: none may go out to the pool
        hp=0 hp_addrs=()
        for k in hairpin_b_public hairpin_a_public hairpin_tcp_b_public; do
            [[ -n "${INFO[$k]:-}" ]] || continue
            [[ " ${hp_addrs[*]} " == *" ${INFO[$k]%:*} "* ]] && continue
            hp_addrs+=("${INFO[$k]%:*}")
            n=$(pcount "$PCAP_INET" --from-mac "$LAB_MAC_OUT" --dst "${INFO[$k]%:*}")
            [[ "$n" =~ ^[0-9]+$ ]] || n=999999
            hp=$((hp + n))
        done
        if [[ ${#hp_addrs[@]} -eq 0 ]]; then
            skip "[eif] hairpinned traffic stays off $LAB_IF_INET (hairpin endpoints unknown)"
        elif [[ $hp -eq 0 ]]; then
            pass "[eif] hairpinned traffic stays off $LAB_IF_INET: nothing sent by cgnatd to ${hp_addrs[*]}"
        else
            fail "[eif] $hp packets sent by cgnatd on $LAB_IF_INET to the hairpin endpoints' addresses ${hp_addrs[*]}"
        fi
    fi

    phase_stop
    counter_at_least hairpinned 4 "UDP and TCP hairpin, both directions"
    counter_at_least binding_created 1 "mappings were made"
fi

# ==========================================================================================
# 2. address-and-port-dependent filtering
# ==========================================================================================
if phase_start apdf "$CFG_APDF" 'filtering = "address-and-port-dependent"'; then
    PCAP_SUB=$OUT/sub0-apdf.pcap
    PCAP_INET=$OUT/inet0-apdf.pcap
    FILTER=(udp and '(' src host "${THIRD%:*}" or src port "$((UDP_PORT + 1))" ')')
    TD_SUB='' TD_INET=''
    if tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$PCAP_SUB" "$OUT/tcpdump-sub0-apdf.log" "${FILTER[@]}"; then
        TD_SUB=$BG_LAST_PID
    else
        fail "[apdf] tcpdump on $LAB_IF_SUB did not start (see $OUT/tcpdump-sub0-apdf.log)"
    fi
    if tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$PCAP_INET" "$OUT/tcpdump-inet0-apdf.log" "${FILTER[@]}"; then
        TD_INET=$BG_LAST_PID
    else
        fail "[apdf] tcpdump on $LAB_IF_INET did not start (see $OUT/tcpdump-inet0-apdf.log)"
    fi

    relay < <(probe "$LAB_NS_SUB" apdf-udp udp-filter --src "$SUB_EIM" --sport "$SUB_EIM_PORT" \
        --servers "$SRV1:$UDP_PORT,$SRV2:$UDP_PORT" --third "$THIRD" --expect apdf --wait 1.5 "${NETS[@]}")

    sleep 0.3
    [[ -n "$TD_SUB" ]] && { bg_stop "$TD_SUB" TERM 5 || true; }
    [[ -n "$TD_INET" ]] && { bg_stop "$TD_INET" TERM 5 || true; }
    if [[ -n "$TD_SUB" && -n "$TD_INET" ]]; then
        sent=$(pcount "$PCAP_INET" --from-mac "$LAB_MAC_INET" --proto udp)
        leaked=$(pcount "$PCAP_SUB" --proto udp)
        if [[ "$sent" =~ ^[0-9]+$ && $sent -ge 2 ]]; then
            pass "[apdf] $sent datagrams from ${THIRD%:*} / port $((UDP_PORT + 1)) to the mapping left $LAB_IF_INET"
        else
            fail "[apdf] expected >= 2 datagrams from ${THIRD%:*} / port $((UDP_PORT + 1)) leaving $LAB_IF_INET, saw ${sent}"
        fi
        if [[ "$leaked" == 0 ]]; then
            pass "[apdf] none of them reached $LAB_IF_SUB"
        else
            fail "[apdf] $leaked of them reached $LAB_IF_SUB"
        fi
    fi

    phase_stop
    counter_at_least drop_filtered 1 "the uncontacted endpoints' datagrams were filtered"
fi

# ==========================================================================================
# 3. port exhaustion: block_size 8, one block per subscriber
# ==========================================================================================
if phase_start exhaustion "$CFG_EXH" "block_size = $EXH_BLOCK, max_blocks_per_subscriber = 1"; then
    PCAP_SUB=$OUT/sub0-exhaustion.pcap
    TD_SUB=
    if tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$PCAP_SUB" "$OUT/tcpdump-sub0-exhaustion.log" icmp; then
        TD_SUB=$BG_LAST_PID
    else
        fail "[exhaustion] tcpdump on $LAB_IF_SUB did not start (see $OUT/tcpdump-sub0-exhaustion.log)"
    fi

    relay < <(probe "$LAB_NS_SUB" exhaustion exhaust --src "$SUB_C" --server "$SRV1:$UDP_PORT" \
        --ports "$EXH_PORTS" --block-size "$EXH_BLOCK" "${NETS[@]}")
    relay < <(probe "$LAB_NS_SUB" exhaustion-d query --src "$SUB_D" --server "$SRV1:$UDP_PORT" \
        --label "[exhaustion] another subscriber $SUB_D is unaffected" "${NETS[@]}")

    if [[ -n "$TD_SUB" ]]; then
        sleep 0.3
        bg_stop "$TD_SUB" TERM 5 || true
        last_port=()
        [[ -n "${INFO[exhaust_last_port]:-}" ]] && last_port=(--inner-sport "${INFO[exhaust_last_port]}")
        relay < <("$PYTHON" -B "$PROBE" icmp-errors --pcap "$PCAP_SUB" --dst "$SUB_C" --type 3 --code 13 \
            --outer-src "$LAB_CGN_INSIDE_IP" --inner-src "$SUB_C" "${last_port[@]}" 2>&1
            rc=$?
            [[ $rc -eq 0 || $rc -eq 3 ]] || echo "FAIL nat_probe.py icmp-errors crashed (status $rc)")
        other=$(pcount "$PCAP_SUB" --dst "$SUB_D" --proto icmp)
        if [[ "$other" == 0 ]]; then
            pass "[exhaustion] no ICMP error to $SUB_D"
        else
            fail "[exhaustion] $other ICMP packets to $SUB_D"
        fi
    fi

    phase_stop
    counter_at_least drop_port_exhausted 1 "the 9th flow of $SUB_C found no free port"
    counter_at_least icmp_admin_prohibited_sent 1 "ICMP 3/13 sent for it"
fi

PHASE=
exit 0
