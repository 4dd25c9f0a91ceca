#!/usr/bin/env bash
# Run every lab test: bring the lab up, run each lab/tests/*.sh (except this file) with a
# time limit, bring the lab down (always), print a summary; exit 1 if any test failed.
#
# Environment:
#   CGNAT_STANDIN=1     apply the kernel stand-in (lab/dev/kernel-standin.sh) instead of
#                       running cgnatd -- development aid only
#   LAB_TEST_TIMEOUT=600  seconds allowed per test
#   LAB_KEEP=1          leave the lab up afterwards (for debugging)
#   LAB_TESTS="a b"     run only these tests (basenames without .sh)
set -uo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

need_root
TIMEOUT=${LAB_TEST_TIMEOUT:-600}
SELF=$(basename "$0")
STANDIN=${CGNAT_STANDIN:-0}

# shellcheck disable=SC2317  # invoked by the trap
teardown() {
    trap - EXIT INT TERM
    if [[ "${LAB_KEEP:-0}" == 1 ]]; then
        echo "LAB_KEEP=1: leaving the lab up (lab/down.sh removes it)"
    else
        "$LAB_DIR/down.sh" --quiet || warn "lab/down.sh failed"
    fi
}
trap teardown EXIT
trap 'echo "interrupted"; exit 130' INT TERM

tests=()
for t in "$LAB_DIR"/tests/*.sh; do
    [[ "$(basename "$t")" == "$SELF" ]] && continue
    if [[ -n "${LAB_TESTS:-}" ]]; then
        [[ " $LAB_TESTS " == *" $(basename "$t" .sh) "* ]] || continue
    fi
    tests+=("$t")
done
[[ ${#tests[@]} -gt 0 ]] || die "no lab tests found"

if [[ "$STANDIN" != 1 && ! -x "$CGNATD_BIN" ]]; then
    die "$CGNATD_BIN is missing: build it first (make build, or cargo build --release -p cgnatd)"
fi

echo "== lab: bringing the topology up"
"$LAB_DIR/down.sh" --quiet || true # start from a clean slate
"$LAB_DIR/up.sh" || die "lab/up.sh failed"
if [[ "$STANDIN" == 1 ]]; then
    warn "CGNAT_STANDIN=1: testing the LINUX KERNEL stand-in, not cgnatd"
    "$LAB_DIR/dev/kernel-standin.sh" up || die "stand-in failed"
fi

declare -A result duration
failed=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    echo
    echo "== lab test: $name (limit ${TIMEOUT} s)"
    t0=$SECONDS
    timeout --kill-after=15 "$TIMEOUT" bash "$t"
    rc=$?
    duration[$name]=$((SECONDS - t0))
    if [[ $rc -eq 0 ]]; then
        result[$name]=PASS
    else
        [[ $rc -eq 124 ]] && echo "$name: timed out after ${TIMEOUT} s"
        result[$name]="FAIL (exit $rc)"
        failed=$((failed + 1))
    fi
    # a test must leave the lab usable for the next one
    lab_is_up || "$LAB_DIR/up.sh" --quiet || true
done

echo
echo "== lab test summary$([[ "$STANDIN" == 1 ]] && echo " (KERNEL STAND-IN)")"
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    printf '  %-24s %-16s %4s s\n' "$name" "${result[$name]}" "${duration[$name]}"
done
if [[ $failed -gt 0 ]]; then
    echo "${C_RED}lab tests: $failed of ${#tests[@]} failed${C_OFF}"
    exit 1
fi
echo "${C_GRN}lab tests: all ${#tests[@]} passed${C_OFF}"
exit 0
