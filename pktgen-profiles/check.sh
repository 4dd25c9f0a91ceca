#!/usr/bin/env bash
# Checks pktgen-profiles/ without TRex, pktgen-dpdk or a NIC (about 5 s):
#
#   trex     every TRex profile imported against a stub trex_stl_lib.api
#            (tests/stub_trex) and get_streams() called as trex-console does, with default
#            and custom tunables: stream counts, modes, rates, template sizes, field-engine
#            ranges, and the frames themselves (the field-engine program run over the real
#            scapy packet: addresses, ports, sizes, checksums, full subscriber x port sweep,
#            exact deterministic public endpoints)            -> tests/check_trex.py
#   pktgen   luac -p on every Lua file, then each script under a stub `pktgen` table
#            (tests/pktgen_stub.lua): range settings replayed as pktgen's range engine does
#            (sweep coverage, port 1 targets), counts, rates, bounded run time, statistics
#                                                             -> tests/check_pktgen.py
#   builtin  builtin/*.toml against the built-in generator's format (keys, types, ranges),
#            cgnat-configs/*.toml parsed and, if cgnatd is built, `cgnatd --check-config`
#                                                             -> tests/check_builtin.py
#
# Needs python3 with scapy (Debian: python3-scapy), tomllib (Python 3.11+) or tomli
# (python3-tomli), and lua5.3/luac5.3 (lua5.3); installs what is missing with apt-get when run
# as root. Exit status 0 only if every check passed.
#
#   pktgen-profiles/check.sh                 all three
#   pktgen-profiles/check.sh trex pktgen     a subset
#   CGNATD=path/to/cgnatd pktgen-profiles/check.sh builtin
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE" || exit 1
export PYTHONDONTWRITEBYTECODE=1

log() { printf 'check.sh: %s\n' "$*" >&2; }

have_py_mods() { "$1" -c 'import scapy.layers.inet
try:
    import tomllib
except ImportError:
    import tomli' >/dev/null 2>&1; }

find_python() {
    local py
    # Debian's python3-scapy installs for /usr/bin/python3, which may not be first on PATH
    for py in python3 /usr/bin/python3; do
        if command -v "$py" >/dev/null 2>&1 && have_py_mods "$py"; then
            command -v "$py"
            return 0
        fi
    done
    return 1
}

install_missing() {
    local pkgs=("$@")
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "missing: ${pkgs[*]} (install them, e.g. sudo apt-get install ${pkgs[*]})"
        return 1
    fi
    log "apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update reported errors; trying anyway"
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

missing=()
PY=$(find_python) || {
    /usr/bin/python3 -c 'import scapy.layers.inet' >/dev/null 2>&1 || missing+=(python3-scapy)
    /usr/bin/python3 -c 'import tomllib' >/dev/null 2>&1 ||
        /usr/bin/python3 -c 'import tomli' >/dev/null 2>&1 || missing+=(python3-tomli)
}
LUA=${LUA:-lua5.3}
LUAC=${LUAC:-luac5.3}
command -v "$LUA" >/dev/null 2>&1 && command -v "$LUAC" >/dev/null 2>&1 || missing+=(lua5.3)
if [[ ${#missing[@]} -gt 0 ]]; then
    install_missing "${missing[@]}" || exit 1
    PY=$(find_python) || {
        log "no python3 with scapy and tomllib/tomli found"
        exit 1
    }
fi
export LUA LUAC

read -ra steps <<<"${*:-trex pktgen builtin}"
declare -A result
rc=0
for step in "${steps[@]}"; do
    case "$step" in
        trex) script=tests/check_trex.py ;;
        pktgen) script=tests/check_pktgen.py ;;
        builtin) script=tests/check_builtin.py ;;
        *)
            log "unknown step $step (trex, pktgen, builtin)"
            exit 2
            ;;
    esac
    printf '== %s (%s)\n' "$step" "$script"
    t0=$SECONDS
    if timeout 120 "$PY" "$script"; then
        result[$step]="PASS ($((SECONDS - t0)) s)"
    else
        result[$step]="FAIL ($((SECONDS - t0)) s)"
        rc=1
    fi
done

printf '== summary\n'
npass=0
nfail=0
for step in "${steps[@]}"; do
    printf '  %-8s %s\n' "$step" "${result[$step]}"
    if [[ ${result[$step]} == PASS* ]]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
done
printf 'pktgen-profiles: %d passed, %d failed\n' "$npass" "$nfail"
exit "$rc"
