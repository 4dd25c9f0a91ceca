#!/usr/bin/env bash
# The whole test suite (`make test`, and CI through .ci/run). Runs every step even when
# an earlier one failed (except that the lab needs the release build), then prints a
# summary table. Exit status 0 only if every step passed.
#
#   fmt      cargo fmt --all --check
#   clippy   cargo clippy --workspace --all-targets -- -D warnings
#   test     cargo test --workspace --profile ci-test   (unit, scenario and DPDK tests; release
#            optimisation without fat LTO, see Cargo.toml)
#   build    cargo build --release --workspace     (the cgnatd the lab runs)
#   scripts  shellcheck + python3 -m py_compile on the lab / CI scripts, pktgen-profiles/check.sh
#   fuzz     every target of fuzz/Cargo.toml for FUZZ_SMOKE_SECONDS (5) each, ASan build
#            in fuzz/target (reused by later runs and by `make fuzz`); fails on any crash
#   asan     cargo test -p dpdk (dpdk-bindings) under AddressSanitizer against a real EAL
#            (net_ring/net_null, --no-huge), build in target/asan
#   lab      lab/tests/run.sh                      (network-namespace end-to-end tests)
#
# Environment: SUITE_STEPS="fmt clippy ..." runs a subset; CARGO=cargo;
# FUZZ_SMOKE_SECONDS=N fuzzes each target N seconds in the fuzz step.
# docs/robustness.md explains the fuzz and asan steps.
set -uo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT" || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
CARGO=${CARGO:-cargo}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}
[[ "${CI:-}" == true ]] && export CARGO_INCREMENTAL=0

read -ra STEPS <<<"${SUITE_STEPS:-fmt clippy test build scripts fuzz asan lab}"
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

# The [[bin]] names of fuzz/Cargo.toml (every fuzz target, whoever added it).
fuzz_targets() {
    awk '/^\[\[bin\]\]/ { bin = 1; next } /^\[/ { bin = 0 }
         bin && $1 == "name" { gsub(/"/, "", $3); print $3 }' fuzz/Cargo.toml
}

# Builds every fuzz target once (cargo-fuzz's default: release, AddressSanitizer), then runs
# each for FUZZ_SMOKE_SECONDS on a scratch copy of its seed corpus, so nothing the fuzzer
# finds is written into the repository; a crash leaves its input in fuzz/artifacts/<target>/.
fuzz_smoke() {
    local secs=${FUZZ_SMOKE_SECONDS:-5} rc=0 t scratch
    local -a dict
    if ! command -v cargo-fuzz >/dev/null; then
        echo "installing cargo-fuzz"
        "$CARGO" install cargo-fuzz --locked || return 1
    fi
    mapfile -t targets < <(fuzz_targets)
    [[ ${#targets[@]} -gt 0 ]] || { echo "no [[bin]] in fuzz/Cargo.toml"; return 1; }
    echo "targets: ${targets[*]} (${secs} s each)"
    # A stable target dir, so a second run (and `make fuzz`) reuses the build.
    export CARGO_TARGET_DIR="$REPO_ROOT/fuzz/target" RUSTC_BOOTSTRAP=1
    (cd fuzz && timeout 1200 "$CARGO" fuzz build) || return 1
    scratch=$(mktemp -d)
    for t in "${targets[@]}"; do
        mkdir -p "$scratch/$t" "fuzz/corpus/$t"
        dict=()
        [[ -f "fuzz/dict/$t.dict" ]] && dict=(-dict="dict/$t.dict")
        if (cd fuzz && timeout $((secs + 120)) "$CARGO" fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
            -max_total_time="$secs" -timeout=30 -print_final_stats=1 "${dict[@]}" 2>&1) >"$scratch/$t.log"; then
            printf '  %-14s ok   %s\n' "$t" "$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$scratch/$t.log" | grep -Eo '[0-9]+$') runs"
        else
            printf '  %-14s FAIL (fuzz/artifacts/%s/)\n' "$t" "$t"
            tail -n 40 "$scratch/$t.log"
            rc=1
        fi
    done
    rm -rf "$scratch"
    return $rc
}

# The dpdk-bindings tests (real EAL with net_ring/net_null and --no-huge; tests/mbuf_asan.rs
# works the mbuf/mempool/ring wrappers) with AddressSanitizer in the Rust code and in
# src/shim.c (DPDK's inline mbuf/ring/burst functions), LeakSanitizer on with one suppression
# (dpdk-bindings/tests/lsan.supp). Each option is justified in docs/robustness.md. A target
# triple is required for -Zsanitizer (it keeps build scripts and proc macros uninstrumented).
asan_dpdk() {
    export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$REPO_ROOT/target/asan"
    export CFLAGS="-fsanitize=address -fno-omit-frame-pointer"
    export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:halt_on_error=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$REPO_ROOT/dpdk-bindings/tests/lsan.supp:print_suppressions=0"
    timeout 900 "$CARGO" test -p dpdk --target "$(rustc -vV | sed -n 's/^host: //p')"
}

step_cmd() {
    case "$1" in
        fmt) timeout 600 "$CARGO" fmt --all --check ;;
        clippy) timeout 1800 "$CARGO" clippy --workspace --all-targets -- -D warnings ;;
        test) timeout 1800 "$CARGO" test --workspace --profile ci-test ;;
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
        fuzz) (fuzz_smoke) ;;
        asan) (asan_dpdk) ;;
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
