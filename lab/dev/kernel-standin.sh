#!/usr/bin/env bash
# DEVELOPMENT AID ONLY -- not a test, not part of the product.
#
# Emulates the cgnat appliance with the Linux kernel in the root namespace so the lab
# topology and the lab tests can be exercised before (or without) cgnatd:
#   cgn-in  100.64.0.1/10, cgn-out 198.51.100.1/24, forwarding enabled on these two
#   interfaces only (not the global ip_forward), nftables SNAT of 100.64.0.0/10 to
#   203.0.113.1-203.0.113.254, unsolicited inbound dropped, and a blackhole route for
#   203.0.113.0/24 so nothing addressed to the pool leaks to the host's default route.
# Everything lives in the nftables table "ip cgnat_standin", on cgn-in / cgn-out and in
# one route; `down` (also run by lab/down.sh) removes all of it.
#
# Usage: lab/dev/kernel-standin.sh up|down|status [--quiet]
#   then: CGNAT_STANDIN=1 lab/tests/e2e_basic.sh   (cgnatd-specific checks are skipped)
#   or:   CGNAT_STANDIN=1 lab/tests/run.sh         (brings the lab up, applies the stand-in)
#
# Caveats: Linux is not an RFC-compliant CGN (no port blocks, UDP timeout 30 s, address
# chosen per flow by hash); it only proves that the lab and the tests work. If the host
# itself uses 100.64.0.0/10 (e.g. Tailscale) the connected route added here conflicts.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

NFT_TABLE=cgnat_standin
POOL_RANGE=203.0.113.1-203.0.113.254

cmd=${1:-status}
QUIET=0
[[ "${2:-}" == "--quiet" || "${2:-}" == "-q" ]] && QUIET=1
say() { [[ $QUIET -eq 1 ]] || echo "$*"; }

standin_up() {
    need_root
    have nft || die "nft is required for the stand-in (apt-get install nftables)"
    lab_is_up || die "the lab is not up: run lab/up.sh first"
    mkdir -p "$LAB_RUN_DIR"

    unharden_root_ifaces
    ip addr replace "$LAB_CGN_INSIDE_IP/$LAB_SUB_PREFIXLEN" dev "$LAB_IF_IN"
    ip addr replace "$LAB_CGN_OUTSIDE_IP/$LAB_INET_PREFIXLEN" dev "$LAB_IF_OUT"
    local ifc
    for ifc in "$LAB_IF_IN" "$LAB_IF_OUT"; do
        sysctl_set "" "net.ipv4.conf.$ifc.forwarding" 1
        sysctl_set "" "net.ipv4.conf.$ifc.rp_filter" 0
        sysctl_set "" "net.ipv4.conf.$ifc.arp_ignore" 1
        sysctl_set "" "net.ipv4.conf.$ifc.send_redirects" 0
    done
    ip route replace blackhole "$LAB_POOL_PREFIX"

    nft delete table ip "$NFT_TABLE" 2>/dev/null || true
    nft -f - <<EOF
table ip $NFT_TABLE {
    chain forward {
        type filter hook forward priority 0; policy accept;
        # only ever forward between the two lab ports
        iifname "$LAB_IF_IN" oifname != "$LAB_IF_OUT" drop
        iifname "$LAB_IF_OUT" oifname != "$LAB_IF_IN" drop
        iifname "$LAB_IF_OUT" ct state new drop
        iifname "$LAB_IF_OUT" ct state invalid drop
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "$LAB_IF_OUT" ip saddr $LAB_INSIDE_PREFIX snat to $POOL_RANGE
    }
}
EOF
    touch "$LAB_RUN_DIR/standin.active"
    say "kernel stand-in is up (cgn-in $LAB_CGN_INSIDE_IP, cgn-out $LAB_CGN_OUTSIDE_IP, SNAT to $POOL_RANGE)"
}

standin_down() {
    need_root
    local was=0
    standin_active && was=1
    if have nft && nft list table ip "$NFT_TABLE" >/dev/null 2>&1; then
        nft delete table ip "$NFT_TABLE"
        was=1
    fi
    if ip route show type blackhole "$LAB_POOL_PREFIX" 2>/dev/null | grep -q .; then
        ip route del blackhole "$LAB_POOL_PREFIX"
        was=1
    fi
    local ifc
    for ifc in "$LAB_IF_IN" "$LAB_IF_OUT"; do
        if link_exists "$ifc"; then
            if ip -4 -o addr show dev "$ifc" | grep -q .; then
                ip -4 addr flush dev "$ifc"
                was=1
            fi
        fi
    done
    rm -f "$LAB_RUN_DIR/standin.active"
    # back to the normal lab state on the root-namespace ends (if they exist)
    if link_exists "$LAB_IF_IN" || link_exists "$LAB_IF_OUT"; then
        harden_root_ifaces
    fi
    [[ $was -eq 0 ]] || say "kernel stand-in removed"
}

standin_status() {
    if standin_active; then echo "stand-in: active (marker $LAB_RUN_DIR/standin.active)"; else echo "stand-in: not active"; fi
    if have nft && nft list table ip "$NFT_TABLE" >/dev/null 2>&1; then
        nft list table ip "$NFT_TABLE"
    fi
    ip -4 -o addr show dev "$LAB_IF_IN" 2>/dev/null || true
    ip -4 -o addr show dev "$LAB_IF_OUT" 2>/dev/null || true
    ip route show type blackhole "$LAB_POOL_PREFIX" 2>/dev/null || true
}

case "$cmd" in
    up) standin_up ;;
    down) standin_down ;;
    status) standin_status ;;
    -h | --help | help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "usage: $0 up|down|status [--quiet]" ;;
esac
