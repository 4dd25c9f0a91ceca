#!/usr/bin/env bash
# Remove the cgnat lab (idempotent: fine to run when nothing, or only part, is there).
# Also removes the kernel stand-in (lab/dev/kernel-standin.sh) if it was applied.
# It does not stop processes: tests and the demo stop their own by PID.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lib.sh"

need_root

# the development stand-in first (it lives on cgn-in / cgn-out and in nftables)
"$LAB_DIR/dev/kernel-standin.sh" down --quiet || warn "kernel stand-in cleanup reported an error"

unharden_root_ifaces

# deleting one end of a veth pair deletes both
ip link del dev "$LAB_IF_IN" 2>/dev/null || true
ip link del dev "$LAB_IF_OUT" 2>/dev/null || true

for ns in "$LAB_NS_SUB" "$LAB_NS_INET"; do
    if netns_exists "$ns"; then
        # anything still running inside keeps the namespace alive only as long as it
        # runs; `ip netns del` just drops the name, which is what we want
        ip netns del "$ns" 2>/dev/null || warn "could not delete netns $ns"
    fi
done

if lab_is_up 2>/dev/null || netns_exists "$LAB_NS_SUB" || netns_exists "$LAB_NS_INET"; then
    die "lab still partly present after down"
fi
[[ "${1:-}" == "-q" || "${1:-}" == "--quiet" ]] || echo "lab is down"
