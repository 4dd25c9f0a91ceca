#!/usr/bin/env bash
# Build the cgnat network-namespace lab (idempotent: running it again repairs and
# re-applies everything, it never duplicates anything).
#
#   cgn-sub netns                 root netns (cgnatd)                 cgn-inet netns
#   sub0 100.64.0.2-101/10 <-veth-> cgn-in | cgnatd | cgn-out <-veth-> inet0 198.51.100.2-9/24
#   default via 100.64.0.1                                           203.0.113.0/24 via 198.51.100.1
#
# cgnatd attaches to cgn-in / cgn-out with DPDK net_af_packet (lab/cgnat.toml).
# docs/lab.md explains every setting below.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lib.sh"

QUIET=0
[[ "${1:-}" == "-q" || "${1:-}" == "--quiet" ]] && QUIET=1

need_root
have ip || die "iproute2 (ip) is required: run 'make deps'"
have ethtool || die "ethtool is required: run 'make deps'"

mkdir -p "$LAB_RUN_DIR"

# --- namespaces -------------------------------------------------------------
for ns in "$LAB_NS_SUB" "$LAB_NS_INET"; do
    netns_exists "$ns" || ip netns add "$ns"
done

# --- veth pairs --------------------------------------------------------------
# ensure_veth ROOT_IF ROOT_MAC PEER_IF PEER_MAC PEER_NS
ensure_veth() {
    local rif=$1 rmac=$2 pif=$3 pmac=$4 pns=$5
    if link_exists "$rif" && link_exists "$pif" "$pns"; then
        return 0
    fi
    # half-built or stale: start this pair again
    ip link del dev "$rif" 2>/dev/null || true
    ip -n "$pns" link del dev "$pif" 2>/dev/null || true
    ip link add "$rif" address "$rmac" type veth peer name "$pif" address "$pmac" netns "$pns"
}
ensure_veth "$LAB_IF_IN" "$LAB_MAC_IN" "$LAB_IF_SUB" "$LAB_MAC_SUB" "$LAB_NS_SUB"
ensure_veth "$LAB_IF_OUT" "$LAB_MAC_OUT" "$LAB_IF_INET" "$LAB_MAC_INET" "$LAB_NS_INET"

# ensure_mac IFACE MAC [NETNS]
ensure_mac() {
    local ifc=$1 mac=$2 ns=${3:-} cur
    local -a ipn=(ip)
    [[ -n "$ns" ]] && ipn=(ip -n "$ns")
    cur=$("${ipn[@]}" -o link show dev "$ifc" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    if [[ "$cur" != "$mac" ]]; then
        "${ipn[@]}" link set dev "$ifc" down
        "${ipn[@]}" link set dev "$ifc" address "$mac"
    fi
}
ensure_mac "$LAB_IF_IN" "$LAB_MAC_IN"
ensure_mac "$LAB_IF_OUT" "$LAB_MAC_OUT"
ensure_mac "$LAB_IF_SUB" "$LAB_MAC_SUB" "$LAB_NS_SUB"
ensure_mac "$LAB_IF_INET" "$LAB_MAC_INET" "$LAB_NS_INET"

# --- offloads: all four ends -------------------------------------------------
# Without this the kernel hands af_packet TCP/UDP frames with CHECKSUM_PARTIAL
# (checksum not filled in) and GSO super-frames; a userspace NAT would see bad
# checksums and oversize frames. With rx off on sub0/inet0 the namespaces' kernels
# also verify every checksum cgnatd writes.
OFFLOADS=(rx tx tso gso gro ufo lro tx-udp-segmentation rx-gro-list rx-udp-gro-forwarding rxvlan txvlan)
# disable_offloads [NETNS] IFACE
disable_offloads() {
    local ns=$1 ifc=$2 feat
    local -a pre=()
    [[ -n "$ns" ]] && pre=(ip netns exec "$ns")
    if ! "${pre[@]}" ethtool -K "$ifc" rx off tx off tso off gso off gro off >/dev/null 2>&1; then
        :
    fi
    # one at a time, so an unsupported or fixed feature does not block the rest
    for feat in "${OFFLOADS[@]}"; do
        "${pre[@]}" ethtool -K "$ifc" "$feat" off >/dev/null 2>&1 || true
    done
    # report what stayed on among the ones that matter
    local still
    still=$("${pre[@]}" ethtool -k "$ifc" 2>/dev/null |
        awk -F': ' '/^(rx-checksumming|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/ && $2 ~ /^on/ { printf "%s ", $1 }')
    [[ -z "$still" ]] || warn "$ifc${ns:+ (netns $ns)}: could not disable: $still"
}
disable_offloads "" "$LAB_IF_IN"
disable_offloads "" "$LAB_IF_OUT"
disable_offloads "$LAB_NS_SUB" "$LAB_IF_SUB"
disable_offloads "$LAB_NS_INET" "$LAB_IF_INET"

# --- root namespace ends: no addresses, no IPv6, kernel stays out of the way -----
if ! standin_active; then
    ip -4 addr flush dev "$LAB_IF_IN" 2>/dev/null || true
    ip -4 addr flush dev "$LAB_IF_OUT" 2>/dev/null || true
    harden_root_ifaces
fi
sysctl_set "" "net.ipv6.conf.$LAB_IF_IN.disable_ipv6" 1
sysctl_set "" "net.ipv6.conf.$LAB_IF_OUT.disable_ipv6" 1
ip link set dev "$LAB_IF_IN" up
ip link set dev "$LAB_IF_OUT" up

# --- namespace sysctls -----------------------------------------------------------
# setup_ns_sysctls NETNS IFACE
setup_ns_sysctls() {
    local ns=$1 ifc=$2 k
    for k in all default "$ifc"; do
        sysctl_set "$ns" "net.ipv6.conf.$k.disable_ipv6" 1
        sysctl_set "$ns" "net.ipv4.conf.$k.rp_filter" 0
    done
    # ARP: answer only for addresses configured on the receiving interface, and
    # source requests from an address in the target's subnet (see docs/lab.md).
    sysctl_set "$ns" "net.ipv4.conf.$ifc.arp_ignore" 1
    sysctl_set "$ns" "net.ipv4.conf.$ifc.arp_announce" 2
    sysctl_set "$ns" "net.ipv4.conf.all.arp_ignore" 1
    sysctl_set "$ns" "net.ipv4.conf.all.arp_announce" 2
    sysctl_set "$ns" "net.ipv4.conf.$ifc.accept_redirects" 0
    sysctl_set "$ns" "net.ipv4.conf.all.accept_redirects" 0
    sysctl_set "$ns" "net.ipv4.ip_forward" 0
}
setup_ns_sysctls "$LAB_NS_SUB" "$LAB_IF_SUB"
setup_ns_sysctls "$LAB_NS_INET" "$LAB_IF_INET"

# --- cgn-sub: 100 subscribers --------------------------------------------------------
{
    echo "link set dev lo up"
    # the first one added is the primary; the others become secondaries of 100.64.0.0/10
    for ((i = LAB_SUB_FIRST; i <= LAB_SUB_LAST; i++)); do
        echo "addr replace 100.64.0.$i/$LAB_SUB_PREFIXLEN dev $LAB_IF_SUB"
    done
    echo "link set dev $LAB_IF_SUB up"
    echo "route replace default via $LAB_CGN_INSIDE_IP dev $LAB_IF_SUB"
} | ip -n "$LAB_NS_SUB" -batch -

# --- cgn-inet: the Internet --------------------------------------------------------
{
    echo "link set dev lo up"
    for ((i = LAB_INET_FIRST; i <= LAB_INET_LAST; i++)); do
        echo "addr replace 198.51.100.$i/$LAB_INET_PREFIXLEN dev $LAB_IF_INET"
    done
    echo "link set dev $LAB_IF_INET up"
    echo "route replace $LAB_POOL_PREFIX via $LAB_CGN_OUTSIDE_IP dev $LAB_IF_INET"
} | ip -n "$LAB_NS_INET" -batch -

# --- verify ------------------------------------------------------------------------
lab_is_up || die "lab did not come up"
n_sub=$(ip -n "$LAB_NS_SUB" -4 -o addr show dev "$LAB_IF_SUB" | wc -l)
n_inet=$(ip -n "$LAB_NS_INET" -4 -o addr show dev "$LAB_IF_INET" | wc -l)
expect_sub=$((LAB_SUB_LAST - LAB_SUB_FIRST + 1))
expect_inet=$((LAB_INET_LAST - LAB_INET_FIRST + 1))
[[ "$n_sub" -eq "$expect_sub" ]] || die "$LAB_IF_SUB has $n_sub IPv4 addresses, expected $expect_sub"
[[ "$n_inet" -eq "$expect_inet" ]] || die "$LAB_IF_INET has $n_inet IPv4 addresses, expected $expect_inet"

if [[ $QUIET -eq 0 ]]; then
    cat <<EOF
lab is up:
  netns $LAB_NS_SUB : $LAB_IF_SUB $LAB_MAC_SUB  100.64.0.$LAB_SUB_FIRST-100.64.0.$LAB_SUB_LAST/$LAB_SUB_PREFIXLEN ($n_sub subscribers), default via $LAB_CGN_INSIDE_IP
  root       : $LAB_IF_IN $LAB_MAC_IN  (cgnatd inside,  net_af_packet0)
  root       : $LAB_IF_OUT $LAB_MAC_OUT  (cgnatd outside, net_af_packet1)
  netns $LAB_NS_INET: $LAB_IF_INET $LAB_MAC_INET  198.51.100.$LAB_INET_FIRST-198.51.100.$LAB_INET_LAST/$LAB_INET_PREFIXLEN, $LAB_POOL_PREFIX via $LAB_CGN_OUTSIDE_IP
  config     : $LAB_CONFIG
EOF
    standin_active && echo "  NOTE: the kernel stand-in (lab/dev/kernel-standin.sh) is active"
fi
exit 0
