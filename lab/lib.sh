# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Shared definitions and helpers for the cgnat network-namespace lab.
# Sourced by lab/up.sh, lab/down.sh, lab/demo.sh, lab/dev/*.sh and lab/tests/*.sh.
# See docs/lab.md for the topology and the reasons behind every setting.

# ---------------------------------------------------------------------------
# Topology (keep in sync with lab/cgnat.toml and docs/lab.md)
# ---------------------------------------------------------------------------
LAB_NS_SUB=cgn-sub            # subscribers ("inside")
LAB_NS_INET=cgn-inet          # the "Internet" ("outside")
LAB_IF_IN=cgn-in              # root namespace, cgnatd inside port (net_af_packet0)
LAB_IF_OUT=cgn-out            # root namespace, cgnatd outside port (net_af_packet1)
LAB_IF_SUB=sub0               # in cgn-sub, peer of cgn-in
LAB_IF_INET=inet0             # in cgn-inet, peer of cgn-out

# Fixed, locally administered MACs: stable pcaps and easy to recognise.
LAB_MAC_IN=02:c6:00:00:01:01
LAB_MAC_SUB=02:c6:00:00:01:02
LAB_MAC_OUT=02:c6:00:00:02:01
LAB_MAC_INET=02:c6:00:00:02:02

LAB_CGN_INSIDE_IP=100.64.0.1      # cgnatd's inside address (the subscribers' gateway)
LAB_CGN_OUTSIDE_IP=198.51.100.1   # cgnatd's outside address
LAB_INSIDE_PREFIX=100.64.0.0/10
LAB_SUB_PREFIXLEN=10
LAB_SUB_FIRST=2                   # subscribers are 100.64.0.2 .. 100.64.0.101
LAB_SUB_LAST=101
LAB_INET_IP=198.51.100.2
LAB_INET_PREFIXLEN=24
LAB_INET_FIRST=2                  # Internet hosts are 198.51.100.2 .. 198.51.100.9
LAB_INET_LAST=9
LAB_POOL_PREFIX=203.0.113.0/24

# Name of the nftables table (family netdev) that keeps the root namespace's own
# IP stack away from cgn-in / cgn-out (see docs/lab.md, "Root namespace").
LAB_NFT_SILENCE_TABLE=cgnat_lab_silence

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LAB_DIR/.." && pwd)
LAB_RUN_DIR=$LAB_DIR/run
LAB_CONFIG=$LAB_DIR/cgnat.toml
CGNATD_BIN=${CGNATD_BIN:-$REPO_ROOT/target/release/cgnatd}
PYTHON=${PYTHON:-python3}

# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    C_RED=$'\e[31m' C_GRN=$'\e[32m' C_YEL=$'\e[33m' C_BLD=$'\e[1m' C_OFF=$'\e[0m'
else
    C_RED='' C_GRN='' C_YEL='' C_BLD='' C_OFF=''
fi

log() { printf '%s\n' "$*" >&2; }
warn() { printf '%sWARNING:%s %s\n' "$C_YEL" "$C_OFF" "$*" >&2; }
die() {
    printf '%sERROR:%s %s\n' "$C_RED" "$C_OFF" "$*" >&2
    exit 1
}
need_root() { [[ $EUID -eq 0 ]] || die "$(basename "$0") must run as root"; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# Small system helpers
# ---------------------------------------------------------------------------
netns_exists() { [[ -e /run/netns/$1 ]]; }

# link_exists IFACE [NETNS]
link_exists() {
    if [[ -n "${2:-}" ]]; then
        netns_exists "$2" && ip -n "$2" link show dev "$1" >/dev/null 2>&1
    else
        ip link show dev "$1" >/dev/null 2>&1
    fi
}

# sysctl_set [NETNS] KEY VALUE -- writes /proc/sys directly (interface names may
# not contain dots here, but writing the file avoids sysctl's dot/slash games).
# Missing keys (e.g. IPv6 compiled out) are ignored.
sysctl_set() {
    local ns=$1 key=$2 val=$3 path
    path=/proc/sys/${key//.//}
    if [[ -n "$ns" ]]; then
        ip netns exec "$ns" sh -c "[ -e '$path' ] && echo '$val' > '$path'" 2>/dev/null || true
    else
        if [[ -e "$path" ]]; then echo "$val" >"$path" 2>/dev/null || true; fi
    fi
}

lab_is_up() {
    netns_exists "$LAB_NS_SUB" && netns_exists "$LAB_NS_INET" &&
        link_exists "$LAB_IF_IN" && link_exists "$LAB_IF_OUT" &&
        link_exists "$LAB_IF_SUB" "$LAB_NS_SUB" && link_exists "$LAB_IF_INET" "$LAB_NS_INET"
}

standin_active() { [[ -e "$LAB_RUN_DIR/standin.active" ]]; }

# Keep the root namespace's IP stack out of the way on the cgnatd ports: no ARP
# replies, no forwarding, no ICMP, no IPv6. Packet sockets (DPDK net_af_packet,
# tcpdump) still see every frame: they are served before the ingress hook.
harden_root_ifaces() {
    local ifc
    for ifc in "$LAB_IF_IN" "$LAB_IF_OUT"; do
        link_exists "$ifc" || continue
        sysctl_set "" "net.ipv6.conf.$ifc.disable_ipv6" 1
        sysctl_set "" "net.ipv4.conf.$ifc.forwarding" 0
        sysctl_set "" "net.ipv4.conf.$ifc.rp_filter" 0
        sysctl_set "" "net.ipv4.conf.$ifc.arp_ignore" 8
        sysctl_set "" "net.ipv4.conf.$ifc.arp_announce" 2
        sysctl_set "" "net.ipv4.conf.$ifc.accept_redirects" 0
        sysctl_set "" "net.ipv4.conf.$ifc.send_redirects" 0
    done
    if have nft; then
        nft delete table netdev "$LAB_NFT_SILENCE_TABLE" 2>/dev/null || true
        if link_exists "$LAB_IF_IN" && link_exists "$LAB_IF_OUT"; then
            nft -f - <<EOF || warn "could not install nftables ingress drop (sysctls still keep the kernel quiet)"
table netdev $LAB_NFT_SILENCE_TABLE {
    chain inside_in {
        type filter hook ingress device "$LAB_IF_IN" priority 0; policy drop;
    }
    chain outside_in {
        type filter hook ingress device "$LAB_IF_OUT" priority 0; policy drop;
    }
}
EOF
        fi
    fi
}

unharden_root_ifaces() {
    if have nft; then nft delete table netdev "$LAB_NFT_SILENCE_TABLE" 2>/dev/null || true; fi
}

# ---------------------------------------------------------------------------
# Background processes: every one is tracked by PID and stopped by PID.
# ---------------------------------------------------------------------------
BG_PIDS=()

# bg_start OUT_FILE ERR_FILE CMD... ; sets BG_LAST_PID
bg_start() {
    local out=$1 err=$2
    shift 2
    "$@" </dev/null >"$out" 2>"$err" &
    BG_LAST_PID=$!
    BG_PIDS+=("$BG_LAST_PID")
}

# pid_alive PID -- true while the process exists and is not a zombie
pid_alive() {
    local stat
    [[ -r /proc/$1/stat ]] || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ "${stat:0:1}" != Z ]]
}

# bg_stop PID [SIGNAL=TERM] [TIMEOUT_S=5] -- signal, wait (bounded), SIGKILL if needed.
# Sets BG_STOP_STATUS to the exit status when it could be collected, else 255.
# Returns 0 if the process ended on the first signal, 1 if it had to be killed.
bg_stop() {
    local pid=$1 sig=${2:-TERM} timeout=${3:-5} i rc=0
    BG_STOP_STATUS=255
    if pid_alive "$pid"; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
        if pid_alive "$pid"; then
            kill -s KILL "$pid" 2>/dev/null || true
            rc=1
        fi
    fi
    if wait "$pid" 2>/dev/null; then BG_STOP_STATUS=0; else BG_STOP_STATUS=$?; fi
    # forget it
    local p keep=()
    for p in "${BG_PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
    return "$rc"
}

bg_stop_all() {
    local p
    for p in "${BG_PIDS[@]}"; do
        pid_alive "$p" && kill -s TERM "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}"; do bg_stop "$p" TERM 3 || true; done
    BG_PIDS=()
}

# wait_for TIMEOUT_S CMD... -- poll CMD every 0.2 s until it succeeds or time is up
wait_for() {
    local timeout=$1 i
    shift
    for ((i = 0; i < timeout * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    "$@"
}

# file_has_word FILE WORD -- case-insensitive whole-word match
file_has_word() { [[ -f "$1" ]] && grep -qiw -- "$2" "$1"; }

# tcpdump_start NETNS IFACE PCAP ERRFILE [FILTER...] -- starts a capture (snap length
# TCPDUMP_SNAPLEN, default 256 bytes) and waits until
# tcpdump reports that it is listening. Sets BG_LAST_PID. Fails after 10 s.
# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over in blocks
# (up to ~1 s late) and a SIGTERM loses whatever is still in the ring. -Z root: write
# the file as root (Debian's tcpdump otherwise drops to user tcpdump first).
tcpdump_start() {
    local ns=$1 ifc=$2 pcap=$3 err=$4
    shift 4
    : >"$err"
    bg_start /dev/null "$err" ip netns exec "$ns" timeout 900 \
        tcpdump -Z root -i "$ifc" -n -U --immediate-mode -s "${TCPDUMP_SNAPLEN:-256}" -w "$pcap" "$@"
    wait_for 10 grep -qs 'listening on' "$err"
}

# The management API's bearer token (lab/cgnat.toml: api.token_file), created once, mode 0600.
# Prints its path. cgnatctl: --token-file "$(lab_api_token)" or CGNAT_TOKEN=$(cat ...).
LAB_API_TOKEN=/run/cgnat-lab/api.token
lab_api_token() {
    if [[ ! -s $LAB_API_TOKEN ]]; then
        mkdir -p "$(dirname "$LAB_API_TOKEN")"
        (umask 077 && head -c 24 /dev/urandom | base64 >"$LAB_API_TOKEN")
    fi
    echo "$LAB_API_TOKEN"
}

# Start cgnatd with CONFIG in the background, stdout/stderr to files.
# cgnatd_start CONFIG STDOUT STDERR ; sets CGNATD_PID
cgnatd_start() {
    local cfg=$1 out=$2 err=$3
    lab_api_token >/dev/null
    bg_start "$out" "$err" "$CGNATD_BIN" --config "$cfg"
    CGNATD_PID=$BG_LAST_PID
}

# cgnatd_wait_ready TIMEOUT_S STDOUT STDERR -- the contract: a line containing
# "ready" on stderr (stdout accepted too, with a warning).
cgnatd_ready_or_dead() {
    file_has_word "$3" ready || file_has_word "$2" ready || ! pid_alive "$1"
}
cgnatd_wait_ready() {
    local timeout=$1 out=$2 err=$3
    wait_for "$timeout" cgnatd_ready_or_dead "$CGNATD_PID" "$out" "$err" >/dev/null 2>&1 || true
    pid_alive "$CGNATD_PID" || return 1
    file_has_word "$err" ready && return 0
    if file_has_word "$out" ready; then
        warn "cgnatd printed 'ready' on stdout; the contract says stderr"
        return 0
    fi
    return 1
}

# counter_value FILE NAME -- value of counter NAME from the lines after "final counters"
# (lines "<name> <value>", also tolerates "name: value" / "name=value"); sums repeats.
counter_value() {
    awk -v name="$2" '
        tolower($0) ~ /final counters/ { inside = 1; next }
        inside {
            line = $0
            gsub(/[:=]/, " ", line)
            n = split(line, f, " ")
            if (n >= 2 && f[1] == name && f[2] ~ /^[0-9]+$/) { sum += f[2]; found = 1 }
        }
        END { if (found) print sum; else exit 1 }
    ' "$1"
}

# ---------------------------------------------------------------------------
# Lab test reporting (lab/tests/*.sh): PASS/FAIL lines and their counts; a test ends with
#   echo "$TEST: $N_PASS passed, $N_FAIL failed"; [[ "$N_FAIL" -eq 0 ]]
# and installs `trap cleanup EXIT` (stops every background process it started). A test that
# needs more at exit defines its own cleanup after sourcing this file.
# ---------------------------------------------------------------------------
N_PASS=0 N_FAIL=0
pass() {
    N_PASS=$((N_PASS + 1))
    printf '%sPASS%s %s\n' "$C_GRN" "$C_OFF" "$*"
}
fail() {
    N_FAIL=$((N_FAIL + 1))
    printf '%sFAIL%s %s\n' "$C_RED" "$C_OFF" "$*"
}
# check PASS_MSG FAIL_MSG CMD... -- PASS if CMD succeeds, else FAIL
check() {
    local ok=$1 ko=$2
    shift 2
    if "$@"; then pass "$ok"; else fail "$ko"; fi
}
# shellcheck disable=SC2317  # invoked by the trap
cleanup() { bg_stop_all; }
