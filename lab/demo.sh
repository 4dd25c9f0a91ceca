#!/usr/bin/env bash
# A narrated tour of cgnat in the network-namespace lab (`make demo` runs this after
# installing dependencies and building). Run as root. About half a minute.
#
#   1. build the lab (lab/up.sh): 100 subscribers in netns cgn-sub, "the Internet" in cgn-inet
#   2. start cgnatd on the two veth ports (DPDK net_af_packet, lab/cgnat.toml)
#   3. a few subscribers use HTTP over TCP, UDP and ping towards the Internet
#   4. show what the Internet saw: only pool addresses 203.0.113.x
#   5. stop cgnatd (SIGTERM) and show its counters; remove the lab (lab/down.sh)
#
# Environment: DEMO_KEEP_LAB=1 leaves the lab up; CGNAT_STANDIN=1 uses the kernel
# stand-in instead of cgnatd (development aid, lab/dev/kernel-standin.sh).
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lib.sh"

OUT=$LAB_RUN_DIR/demo
STANDIN=${CGNAT_STANDIN:-0}
SUBS=(2 3 4 10 42)
HTTP_IP=198.51.100.2
UDP_IP=198.51.100.3
TESTS_DIR=$LAB_DIR/tests
CGNATD_PID=

step() { printf '\n%s==> %s%s\n' "$C_BLD" "$*" "$C_OFF"; }
say() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    | /'; }

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bg_stop_all
    if [[ "${DEMO_KEEP_LAB:-0}" == 1 ]]; then
        say "DEMO_KEEP_LAB=1: the lab stays up (remove it with: make lab-down)"
    else
        step "Removing the lab (lab/down.sh)"
        "$LAB_DIR/down.sh" | indent
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

need_root
if [[ "$STANDIN" != 1 && ! -x "$CGNATD_BIN" ]]; then
    die "$CGNATD_BIN not found: run 'make demo' (it builds) or 'make build'"
fi
if pgrep -x cgnatd >/dev/null 2>&1; then
    die "a cgnatd is already running (pid $(pgrep -x cgnatd | tr '\n' ' ')); stop it first"
fi

cat <<EOF
${C_BLD}cgnat demo${C_OFF}: a carrier-grade NAT44 between 100 subscribers (100.64.0.0/10, RFC 6598)
and "the Internet" (198.51.100.0/24), sharing the public pool 203.0.113.0/24.

     netns cgn-sub                      root netns                      netns cgn-inet
  100.64.0.2 .. .101  sub0 <--veth--> cgn-in [ cgnatd ] cgn-out <--veth--> inet0  198.51.100.2 .. .9
  gateway 100.64.0.1                   DPDK net_af_packet                  pool via 198.51.100.1
EOF

step "1. Building the lab topology (lab/up.sh)"
"$LAB_DIR/down.sh" --quiet >/dev/null 2>&1 || true
"$LAB_DIR/up.sh" 2>&1 | indent
rm -rf "$OUT"
mkdir -p "$OUT/www"

if [[ "$STANDIN" == 1 ]]; then
    step "2. Starting the KERNEL STAND-IN (development aid, not cgnatd!)"
    "$LAB_DIR/dev/kernel-standin.sh" up | indent
else
    step "2. Starting cgnatd with lab/cgnat.toml"
    grep -vE '^\s*(#|$)' "$LAB_CONFIG" | indent
    cgnatd_start "$LAB_CONFIG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
    if ! cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log"; then
        say "cgnatd did not become ready; its log:"
        tail -n 40 "$OUT/cgnatd.log" | indent
        exit 1
    fi
    say "cgnatd (pid $CGNATD_PID) says:"
    grep -iw ready "$OUT/cgnatd.log" | tail -n 1 | indent
fi

step "3. Starting servers on the Internet side (netns cgn-inet)"
echo "Hello from the Internet (198.51.100.2). You reached me through cgnat." >"$OUT/www/index.html"
bg_start "$OUT/http.out" "$OUT/http.log" ip netns exec "$LAB_NS_INET" timeout 600 \
    "$PYTHON" -m http.server 8080 --bind "$HTTP_IP" --directory "$OUT/www"
bg_start "$OUT/udp.out" "$OUT/udp.log" ip netns exec "$LAB_NS_INET" \
    "$PYTHON" "$TESTS_DIR/udp_echo.py" server --bind "$UDP_IP" --port 7777 --lifetime 600
# shellcheck disable=SC2317  # invoked through wait_for
listening() { ip netns exec "$LAB_NS_INET" ss -Hn "$1" "sport = :$2" 2>/dev/null | grep -q .; }
if ! wait_for 10 listening -lt 8080 || ! wait_for 10 listening -lu 7777; then
    die "servers did not start"
fi
say "HTTP server on $HTTP_IP:8080, UDP echo server on $UDP_IP:7777"
tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$OUT/outside.pcap" "$OUT/tcpdump-out.log" || die "tcpdump failed"
say "capturing on inet0 (what the Internet sees)"
tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$OUT/inside.pcap" "$OUT/tcpdump-in.log" || die "tcpdump failed"
say "capturing on sub0 (what the subscribers send)"

step "4. Subscribers talk to the Internet"
for i in "${SUBS[@]}"; do
    src=100.64.0.$i
    body=$(ip netns exec "$LAB_NS_SUB" curl -sS --interface "$src" --connect-timeout 3 --max-time 6 \
        "http://$HTTP_IP:8080/index.html" 2>&1)
    say "$src  HTTP GET http://$HTTP_IP:8080/  -> ${body:0:70}"
done
udp=$(ip netns exec "$LAB_NS_SUB" timeout 60 "$PYTHON" "$TESTS_DIR/udp_echo.py" client -v \
    --server "$UDP_IP:7777" --sources "$(printf '100.64.0.%s,' "${SUBS[@]}")" --timeout 1 --retries 3 2>&1)
while read -r line; do say "$line"; done <<<"$udp"
for i in "${SUBS[@]:0:3}"; do
    src=100.64.0.$i
    res=$(ip netns exec "$LAB_NS_SUB" timeout 10 ping -n -q -I "$src" -c 2 -i 0.2 -W 2 "$HTTP_IP" 2>&1 |
        grep -E 'transmitted' || echo "ping failed")
    say "$src  ping $HTTP_IP: $res"
done
say "198.51.100.4 (Internet) -> 203.0.113.77:40000, unsolicited: no binding, so cgnatd drops it"
ip netns exec "$LAB_NS_INET" timeout 10 "$PYTHON" "$TESTS_DIR/udp_echo.py" send --src 198.51.100.4 \
    --sport 45454 --dst 203.0.113.77 --dport 40000 --count 1 --interval 0 >/dev/null 2>&1 || true
sleep 0.5

CGNATCTL_BIN=${CGNATCTL_BIN:-$REPO_ROOT/target/release/cgnatctl}
if [[ "$STANDIN" != 1 && -x "$CGNATCTL_BIN" ]]; then
    step "4b. Asking cgnatd over its management API (cgnatctl, gRPC on 127.0.0.1:50051)"
    say "cgnatctl status:"
    "$CGNATCTL_BIN" status 2>&1 | indent
    say "cgnatctl blocks (who holds which public ports, for abuse lookups):"
    "$CGNATCTL_BIN" blocks 2>&1 | head -n 8 | indent
    say "Prometheus (curl 127.0.0.1:9440/metrics), a few lines:"
    curl -s http://127.0.0.1:9440/metrics |
        grep -E '^cgnat_(bindings|sessions|port_blocks_in_use)[{ ]' | indent
fi

step "5. What the Internet saw (tcpdump on inet0)"
bg_stop_all
for proto in tcp udp icmp; do
    say "first $proto packets arriving from the CGN:"
    tcpdump -r "$OUT/outside.pcap" -n -q "ip and $proto and ether src not $LAB_MAC_INET" 2>/dev/null |
        head -n 3 | cut -c 17- | indent
done
say "Source addresses seen on the Internet side (packets from the CGN):"
tcpdump -r "$OUT/outside.pcap" -n 'ip and ether src not '"$LAB_MAC_INET" 2>/dev/null |
    awk '{ split($3, a, "."); print a[1] "." a[2] "." a[3] "." a[4] }' | sort | uniq -c | sort -rn | indent
say "Each subscriber flow and its translation (matched in order of appearance):"
"$PYTHON" "$TESTS_DIR/pcapcheck.py" pairs --inside "$OUT/inside.pcap" --inside-mac "$LAB_MAC_SUB" \
    --outside "$OUT/outside.pcap" --outside-mac "$LAB_MAC_INET" | indent

if [[ "$STANDIN" == 1 ]]; then
    step "6. (stand-in: no cgnatd counters)"
else
    step "6. Stopping cgnatd (SIGTERM) and reading its counters"
    if bg_stop "$CGNATD_PID" TERM 10; then
        say "cgnatd exited with status $BG_STOP_STATUS"
    else
        say "cgnatd did not stop within 10 s and was killed"
    fi
    say "final counters printed by cgnatd on stdout (non-zero ones; all in $OUT/cgnatd.out):"
    awk 'tolower($0) ~ /final counters/ { on = 1; next }
         on && NF == 2 && $2 != "0" { printf "%-28s %10s\n", $1, $2; shown++ }
         on && NF == 2 && $2 == "0" { zero++ }
         END { if (zero) printf "(%d counters at zero not shown)\n", zero }' "$OUT/cgnatd.out" | indent
fi
say "logs and captures: $OUT"
exit 0
