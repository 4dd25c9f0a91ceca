#!/usr/bin/env bash
# Lab ALG test: real FTP and TFTP servers and clients through cgnatd (2 workers).
#   - vsftpd in cgn-inet (198.51.100.2:21, anonymous, uploads allowed; config written to
#     lab/run/ftp_alg/), tftpd-hpa in cgn-inet (198.51.100.3:69)
#   - from subscribers 100.64.0.2, 100.64.0.50 and 100.64.0.101 (address texts of 10, 11 and
#     12 characters; their public address 203.0.113.x is 11-13: length-changing rewrites),
#     curl downloads and uploads a 4 MiB file in active mode (EPRT, and PORT with
#     --disable-eprt) and passive mode (EPSV, and PASV with --disable-epsv); sha256 checked on
#     both ends
#   - one long control session (python ftplib, active mode): 150 NOOPs and 40 PORT+LIST
#     round trips, then an active-mode RETR of the big file: every PORT changes the length
#   - tftp-hpa client in cgn-sub: get and put, sha256 checked
#   - SIGHUP with [alg.ftp] enabled = false: active mode fails, passive mode still works
#   - final counters: rewrites, expectations used, no stray drops
#   - the FTP control streams and the TFTP requests are captured (tcpdump) into
#     lab/run/ftp_alg/ (FUZZ_SEEDS=1 also writes them as fuzz seeds to fuzz/corpus/)
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

TEST=ftp_alg
OUT=$LAB_RUN_DIR/$TEST
FTP_IP=198.51.100.2
TFTP_IP=198.51.100.3
SUBS=(2 50 101)
SIZE_MIB=4
trap cleanup EXIT

need_root
if [[ "${CGNAT_STANDIN:-0}" == 1 ]]; then
    echo "SKIP $TEST: needs cgnatd (the kernel stand-in has its own ALG)"
    exit 0
fi
for tool in vsftpd in.tftpd tftp curl tcpdump sha256sum "$PYTHON"; do
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
cp "$LAB_CONFIG" "$CFG"

# --- servers ---------------------------------------------------------------------------
ROOT=$OUT/ftproot
mkdir -p "$ROOT/pub" "$ROOT/upload" "$OUT/empty" "$OUT/tftproot" "$OUT/client"
chmod 755 "$ROOT" "$ROOT/pub" "$OUT/empty"
chmod 777 "$ROOT/upload" "$OUT/tftproot"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$ROOT/pub/big.bin"
BIG_SHA=$(sha256sum <"$ROOT/pub/big.bin" | cut -d' ' -f1)
head -c 300000 /dev/urandom >"$OUT/tftproot/small.bin"
chmod 644 "$OUT/tftproot/small.bin" "$ROOT/pub/big.bin"
id ftp >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /srv/ftp --shell /usr/sbin/nologin ftp
chown ftp "$ROOT/upload"
cat >"$OUT/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$FTP_IP
background=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=$ROOT
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=NO
anon_umask=022
port_enable=YES
pasv_enable=YES
connect_from_port_20=YES
pasv_min_port=50000
pasv_max_port=50100
secure_chroot_dir=$OUT/empty
seccomp_sandbox=NO
xferlog_enable=YES
vsftpd_log_file=$OUT/vsftpd.xfer.log
dual_log_enable=YES
xferlog_file=$OUT/vsftpd.xferlog
log_ftp_protocol=YES
idle_session_timeout=120
data_connection_timeout=60
EOF
bg_start "$OUT/vsftpd.out" "$OUT/vsftpd.err" ip netns exec "$LAB_NS_INET" timeout 600 vsftpd "$OUT/vsftpd.conf"
VSFTPD_PID=$BG_LAST_PID
bg_start "$OUT/tftpd.out" "$OUT/tftpd.err" ip netns exec "$LAB_NS_INET" timeout 600 \
    in.tftpd --foreground --listen --address "$TFTP_IP:69" --secure --create --permissive \
    --user root -v "$OUT/tftproot"
TFTPD_PID=$BG_LAST_PID

# Captures: the control connections and TFTP requests on the inside (subscriber side).
tcpdump_start "$LAB_NS_SUB" "$LAB_IF_SUB" "$OUT/inside.pcap" "$OUT/tcpdump-in.err" \
    "tcp port 21 or udp port 69" || fail "tcpdump (inside) did not start"
tcpdump_start "$LAB_NS_INET" "$LAB_IF_INET" "$OUT/outside.pcap" "$OUT/tcpdump-out.err" \
    "tcp port 21 or udp port 69" || fail "tcpdump (outside) did not start"

cgnatd_start "$CFG" "$OUT/cgnatd.out" "$OUT/cgnatd.log"
cgnatd_wait_ready 30 "$OUT/cgnatd.out" "$OUT/cgnatd.log" || {
    fail "cgnatd not ready"
    tail -n 30 "$OUT/cgnatd.log"
    exit 1
}
wait_for 10 pid_alive "$VSFTPD_PID" || fail "vsftpd did not start"
pid_alive "$TFTPD_PID" || fail "in.tftpd did not start"
sleep 1

in_sub() { ip netns exec "$LAB_NS_SUB" "$@"; }

# transfer SUB MODE -- download big.bin and upload it as up-SUB-MODE.bin; prints PASS/FAIL
# lines. MODE: eprt | port | epsv | pasv.
transfer() {
    local s=$1 mode=$2 addr=100.64.0.$1 opts=()
    case "$mode" in
        eprt) opts=(--ftp-port "$addr") ;;
        port) opts=(--ftp-port "$addr" --disable-eprt) ;;
        epsv) opts=() ;;
        pasv) opts=(--disable-epsv) ;;
    esac
    local got=$OUT/client/dl-$s-$mode.bin name=up-$s-$mode.bin
    rm -f "$got"
    if in_sub timeout 60 curl -sS --interface "$addr" "${opts[@]}" -o "$got" \
        "ftp://$FTP_IP/pub/big.bin" 2>"$OUT/client/curl-dl-$s-$mode.err" &&
        [[ "$(sha256sum <"$got" | cut -d' ' -f1)" == "$BIG_SHA" ]]; then
        pass "$addr $mode: download of ${SIZE_MIB} MiB, sha256 matches"
    else
        fail "$addr $mode: download failed ($(head -c 200 "$OUT/client/curl-dl-$s-$mode.err"))"
    fi
    if in_sub timeout 60 curl -sS --interface "$addr" "${opts[@]}" -T "$ROOT/pub/big.bin" \
        "ftp://$FTP_IP/upload/$name" 2>"$OUT/client/curl-up-$s-$mode.err" &&
        [[ "$(sha256sum <"$ROOT/upload/$name" | cut -d' ' -f1)" == "$BIG_SHA" ]]; then
        pass "$addr $mode: upload of ${SIZE_MIB} MiB, sha256 matches on the server"
    else
        fail "$addr $mode: upload failed ($(head -c 200 "$OUT/client/curl-up-$s-$mode.err"))"
    fi
}

echo "== FTP through the ALG"
for s in "${SUBS[@]}"; do
    for mode in eprt port epsv pasv; do
        transfer "$s" "$mode"
    done
done

echo "== a long active-mode control session (sequence correction over many rewrites)"
if in_sub timeout 120 "$PYTHON" - "$FTP_IP" "$BIG_SHA" >"$OUT/long.txt" 2>&1 <<'EOF'; then
import ftplib, hashlib, socket, sys
host, want = sys.argv[1], sys.argv[2]
f = ftplib.FTP()
f.connect(host, 21, timeout=30, source_address=("100.64.0.2", 0))
f.login()
f.set_pasv(False)
for i in range(150):
    assert f.voidcmd("NOOP").startswith("200")
for i in range(40):
    lines = []
    f.retrlines("LIST /pub", lines.append)
    assert any("big.bin" in l for l in lines), lines
h = hashlib.sha256()
f.retrbinary("RETR /pub/big.bin", h.update)
assert h.hexdigest() == want, "sha256 mismatch"
f.quit()
print("ok")
EOF
    pass "100.64.0.2: 190 commands, 41 active-mode transfers on one control connection, sha256 matches"
else
    fail "long control session: $(tail -n 3 "$OUT/long.txt")"
fi

echo "== TFTP"
cd "$OUT/client" || exit 1
if in_sub timeout 30 tftp -m binary "$TFTP_IP" -c get small.bin tftp-got.bin 2>"$OUT/client/tftp-get.err" &&
    cmp -s "$OUT/client/tftp-got.bin" "$OUT/tftproot/small.bin"; then
    pass "tftp get: 300000 bytes, identical"
else
    fail "tftp get failed ($(head -c 200 "$OUT/client/tftp-get.err"))"
fi
if in_sub timeout 30 tftp -m binary "$TFTP_IP" -c put tftp-got.bin put.bin 2>"$OUT/client/tftp-put.err" &&
    cmp -s "$OUT/tftproot/put.bin" "$OUT/tftproot/small.bin"; then
    pass "tftp put: 300000 bytes, identical on the server"
else
    fail "tftp put failed ($(head -c 200 "$OUT/client/tftp-put.err"))"
fi
cd - >/dev/null || exit 1

echo "== FTP ALG switched off (SIGHUP)"
sed -i '/^\[alg\.ftp\]/,/^\[/ s/^enabled = true/enabled = false/' "$CFG"
grep -A1 '^\[alg\.ftp\]' "$CFG" | grep -q 'enabled = false' || fail "could not switch alg.ftp off in $CFG"
kill -HUP "$CGNATD_PID"
if wait_for 10 grep -q "configuration reloaded, live settings applied to 2 worker(s): alg" "$OUT/cgnatd.log"; then
    pass "SIGHUP: [alg.ftp] enabled = false applied to both workers"
else
    fail "SIGHUP: no reload line in the log"
fi
sleep 0.5
if in_sub timeout 30 curl -sS --interface 100.64.0.7 --ftp-port 100.64.0.7 --disable-eprt -o /dev/null \
    "ftp://$FTP_IP/pub/big.bin" 2>"$OUT/client/off-active.err"; then
    fail "ALG off: active mode (PORT) still worked"
elif grep -q 'FTP command: Client "203\.0\.113\.[0-9]*", "PORT 100,64,0,7,' "$OUT/vsftpd.xfer.log" &&
    grep -q '"500 Illegal PORT command' "$OUT/vsftpd.xfer.log"; then
    pass "ALG off: active mode (PORT) fails: vsftpd got the private address and refused it (500 Illegal PORT command)"
else
    fail "ALG off: active mode failed, but not because vsftpd refused the private PORT ($(head -n 1 "$OUT/client/off-active.err"))"
fi
got=$OUT/client/off-passive.bin
if in_sub timeout 60 curl -sS --interface 100.64.0.7 -o "$got" "ftp://$FTP_IP/pub/big.bin" 2>"$OUT/client/off-passive.err" &&
    [[ "$(sha256sum <"$got" | cut -d' ' -f1)" == "$BIG_SHA" ]]; then
    pass "ALG off: passive mode (EPSV) still works, sha256 matches"
else
    fail "ALG off: passive mode failed ($(head -c 200 "$OUT/client/off-passive.err"))"
fi

echo "== FTP ALG switched back on through the management API (cgnatctl, no restart)"
CGNATCTL_BIN=${CGNATCTL_BIN:-$REPO_ROOT/target/release/cgnatctl}
if "$CGNATCTL_BIN" alg set ftp --on --token-file "$(lab_api_token)" >"$OUT/cgnatctl-alg.out" 2>&1 &&
    "$CGNATCTL_BIN" alg list --json >"$OUT/cgnatctl-alg-list.json" 2>&1 &&
    "$PYTHON" -c 'import json, sys
algs = {a["name"]: a for a in json.load(open(sys.argv[1]))}
sys.exit(0 if algs["ftp"]["enabled"] and algs["ftp"]["ports"] == [21] else 1)' "$OUT/cgnatctl-alg-list.json"; then
    pass "API: cgnatctl alg set ftp --on accepted, alg list shows it on"
else
    fail "API: cgnatctl alg set ftp --on failed: $(head -c 300 "$OUT/cgnatctl-alg.out")"
fi
sleep 0.5
got=$OUT/client/api-on-active.bin
if in_sub timeout 60 curl -sS --interface 100.64.0.7 --ftp-port 100.64.0.7 --disable-eprt -o "$got" \
    "ftp://$FTP_IP/pub/big.bin" 2>"$OUT/client/api-on-active.err" &&
    [[ "$(sha256sum <"$got" | cut -d' ' -f1)" == "$BIG_SHA" ]]; then
    pass "API: ALG on again: active mode (PORT) works on the next connection, sha256 matches"
else
    fail "API: active mode after switching the ALG on failed ($(head -c 200 "$OUT/client/api-on-active.err"))"
fi

bg_stop "$CGNATD_PID" TERM 10 || fail "cgnatd needed SIGKILL"
c() { counter_value "$OUT/cgnatd.out" "$1" || echo 0; }
rewrites=$(c alg_ftp_rewrites)
used=$(c alg_ftp_expectation_used)
tused=$(c alg_tftp_expectation_used)
mism=$(c alg_ftp_address_mismatch)
noroom=$(c alg_ftp_no_room)
echo "counters: alg_ftp_messages $(c alg_ftp_messages) alg_ftp_rewrites $rewrites alg_ftp_expectations $(c alg_ftp_expectations) alg_ftp_expectation_used $used alg_ftp_expectation_expired $(c alg_ftp_expectation_expired) alg_ftp_expectation_evicted $(c alg_ftp_expectation_evicted) alg_ftp_split_command $(c alg_ftp_split_command) drop_alg_hold $(c drop_alg_hold) alg_tftp_messages $(c alg_tftp_messages) alg_tftp_expectation_used $tused handoff_outside $(c handoff_outside)"
# 3 subscribers x 2 active modes x 2 transfers, plus 41 in the long session.
check "final counters: >= 53 FTP rewrites, >= 53 active-mode expectations used" \
    "final counters: alg_ftp_rewrites $rewrites, alg_ftp_expectation_used $used" \
    test "$rewrites" -ge 53 -a "$used" -ge 53
check "final counters: TFTP expectations used for get and put (>= 2)" \
    "final counters: alg_tftp_expectation_used $tused" test "$tused" -ge 2
check "final counters: no address mismatch, no edit without room" \
    "final counters: alg_ftp_address_mismatch $mism, alg_ftp_no_room $noroom" \
    test "$mism" -eq 0 -a "$noroom" -eq 0
bg_stop_all

if [[ "${FUZZ_SEEDS:-0}" == 1 ]]; then
    "$PYTHON" "$REPO_ROOT/scripts/pcap-to-fuzz-seeds.py" "$OUT/inside.pcap" "$REPO_ROOT/fuzz/corpus" &&
        pass "fuzz seeds written to fuzz/corpus/{ftp,tftp}"
fi

echo "$TEST: $N_PASS passed, $N_FAIL failed (logs: $OUT)"
[[ "$N_FAIL" -eq 0 ]]
