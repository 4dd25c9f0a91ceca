#!/usr/bin/env bash
# The whole test suite (`make test`, and CI through .ci/run). Runs every step even when
# an earlier one failed (except that the lab needs the release build), then prints a
# summary table. Exit status 0 only if every step passed.
#
#   fmt      cargo fmt --all --check
#   clippy   cargo clippy --workspace --all-targets -- -D warnings
#   test     cargo test --workspace --release      (unit, scenario and DPDK tests)
#   build    cargo build --release --workspace     (the cgnatd the lab runs)
#   scripts  shellcheck + python3 -m py_compile on the lab / CI scripts, pktgen-profiles/check.sh
#   lab      lab/tests/run.sh                      (network-namespace end-to-end tests)
#
# Environment: SUITE_STEPS="fmt clippy ..." runs a subset; CARGO=cargo.
set -uo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT" || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
CARGO=${CARGO:-cargo}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}
[[ "${CI:-}" == true ]] && export CARGO_INCREMENTAL=0

read -ra STEPS <<<"${SUITE_STEPS:-fmt clippy test build scripts lab}"
if [[ -t 1 || "${CI:-}" == true ]]; then
    B=$'\e[1m' R=$'\e[31m' G=$'\e[32m' O=$'\e[0m'
else
    B='' R='' G='' O=''
fi
declare -A RESULT DURATION

shell_scripts() {
    local f
    for f in lab/*.sh lab/dev/*.sh lab/tests/*.sh hugepages-setup.sh .ci/run pktgen-profiles/check.sh benches/run.sh; do
        [[ -f "$f" ]] && printf '%s\n' "$f"
    done
}

step_cmd() {
    case "$1" in
        fmt) timeout 600 "$CARGO" fmt --all --check ;;
        clippy) timeout 1800 "$CARGO" clippy --workspace --all-targets -- -D warnings ;;
        test) timeout 1800 "$CARGO" test --workspace --release ;;
        build) timeout 1800 "$CARGO" build --release --workspace ;;
        scripts)
            local rc=0
            if command -v shellcheck >/dev/null; then
                mapfile -t files < <(shell_scripts)
                shellcheck -x "${files[@]}" || rc=1
            else
                echo "shellcheck not installed (make deps installs it)"
                rc=1
            fi
            python3 -m py_compile lab/tests/*.py || rc=1
            # The TRex / pktgen-dpdk / built-in generator profiles load and describe the
            # traffic they claim (against stand-ins of the tools' APIs).
            bash pktgen-profiles/check.sh || rc=1
            rm -rf lab/tests/__pycache__
            return $rc
            ;;
        lab)
            if [[ "${RESULT[build]:-}" == FAIL* ]]; then
                echo "release build failed: not running the lab tests"
                return 1
            fi
            if [[ $EUID -ne 0 ]]; then
                echo "the lab tests need root (network namespaces); run make test as root"
                return 1
            fi
            timeout 1200 lab/tests/run.sh
            ;;
        *)
            echo "unknown step $1"
            return 2
            ;;
    esac
}

suite_start=$SECONDS
failed=0
for s in "${STEPS[@]}"; do
    printf '\n%s======== %s ========%s\n' "$B" "$s" "$O"
    t0=$SECONDS
    step_cmd "$s"
    rc=$?
    DURATION[$s]=$((SECONDS - t0))
    if [[ $rc -eq 0 ]]; then
        RESULT[$s]=PASS
    else
        [[ $rc -eq 124 ]] && echo "step $s: TIMED OUT"
        RESULT[$s]="FAIL (exit $rc)"
        failed=$((failed + 1))
    fi
done

printf '\n%s======== test summary ========%s\n' "$B" "$O"
for s in "${STEPS[@]}"; do
    printf '  %-8s %-16s %5s s\n' "$s" "${RESULT[$s]}" "${DURATION[$s]}"
done
printf '  %-8s %-16s %5s s\n' total "" "$((SECONDS - suite_start))"
if [[ $failed -gt 0 ]]; then
    printf '%sFAILED: %d of %d steps%s\n' "$R" "$failed" "${#STEPS[@]}" "$O"
    exit 1
fi
printf '%sALL %d STEPS PASSED%s\n' "$G" "${#STEPS[@]}" "$O"
