#!/usr/bin/env bash
# Install what building, testing, the lab and the demo need (`make deps`).
# Idempotent: installs only what is missing, runs `apt-get update` only then.
# Debian 12 / Ubuntu 22.04+; must run as root when something is missing.
#
# Rust: uses an existing toolchain (PATH or ~/.cargo/bin). Otherwise, in order:
#   1. Debian/Ubuntu package `rustup` (when the distribution has it) + `rustup default stable`
#   2. the official installer from https://sh.rustup.rs
#   3. fallback: the distribution's `cargo` / `rustc` packages -- on Debian 12 that is
#      rustc 1.63, older than the workspace's rust-version, so the build will likely
#      fail; the script says so loudly. (1 and 2 need access to static.rust-lang.org.)
set -euo pipefail

PKGS=(
    libdpdk-dev dpdk pkg-config clang libclang-dev build-essential
    iproute2 ethtool tcpdump tshark nftables
    python3 python3-venv curl iputils-ping procps psmisc
    shellcheck ca-certificates lua5.3 python3-scapy
    vsftpd tftpd-hpa tftp-hpa
    ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    sip-tester
)

log() { printf 'deps: %s\n' "$*" >&2; }
die() {
    printf 'deps: ERROR: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq || log "apt-get update reported errors; trying to install anyway"
        APT_UPDATED=1
    fi
}
apt_install() {
    apt_update_once
    log "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@"
}

# --- system packages -------------------------------------------------------------
if ! have dpkg-query || ! have apt-get; then
    die "this script supports Debian/Ubuntu (apt) only; install by hand: ${PKGS[*]}"
fi
missing=()
for p in "${PKGS[@]}"; do is_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    [[ $EUID -eq 0 ]] || die "missing packages (${missing[*]}); run as root: sudo make deps"
    if [[ " ${missing[*]} " == *" tshark "* ]]; then
        # no setuid dumpcap, and no interactive question
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    fi
    apt_install "${missing[@]}"
else
    log "system packages: all present"
fi

# --- Rust toolchain ----------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
want_rust=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
want_rust=${want_rust:-1.80}

if ! have cargo; then
    [[ $EUID -eq 0 ]] || die "no Rust toolchain found; run as root (sudo make deps) or install rustup yourself"
    if apt-cache policy rustup 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "installing rustup from the distribution"
        apt_install rustup
        rustup default stable || log "rustup could not download a toolchain"
    fi
    if ! have cargo; then
        log "trying the official installer (https://sh.rustup.rs)"
        if curl -fsS --proto '=https' --tlsv1.2 --max-time 60 https://sh.rustup.rs -o /tmp/rustup-init.sh; then
            sh /tmp/rustup-init.sh -y --profile minimal -c clippy -c rustfmt || log "rustup-init failed"
            rm -f /tmp/rustup-init.sh
        else
            log "static.rust-lang.org is not reachable"
        fi
    fi
    if ! have cargo; then
        log "FALLBACK: installing the distribution's cargo/rustc packages"
        apt_install cargo rustc
        for extra in rustfmt rust-clippy; do
            if apt-cache policy "$extra" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
                apt_install "$extra" || true
            fi
        done
    fi
fi
have cargo || die "could not install a Rust toolchain"

if have rustup && rustup toolchain list 2>/dev/null | grep -q .; then
    for comp in clippy rustfmt; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
            log "rustup component add $comp"
            rustup component add "$comp" || log "could not add $comp (offline?)"
        fi
    done
fi

# make test's fuzz step (lab/test-suite.sh) runs the cargo-fuzz targets; builds from source.
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked || log "WARNING: could not install cargo-fuzz (make test's fuzz step will fail)"
fi

have_rust=$(rustc --version | awk '{print $2}')
if [[ "$(printf '%s\n%s\n' "$want_rust" "$have_rust" | sort -V | head -n 1)" != "$want_rust" ]]; then
    log "WARNING: rustc $have_rust is older than the workspace's rust-version $want_rust;"
    log "WARNING: install a current toolchain with rustup (https://rustup.rs) or the build will fail"
fi
cargo fmt --version >/dev/null 2>&1 || log "WARNING: rustfmt is missing (cargo fmt will fail)"
cargo clippy --version >/dev/null 2>&1 || log "WARNING: clippy is missing (cargo clippy will fail)"

# --- sanity --------------------------------------------------------------------------
pkg-config --exists libdpdk || die "pkg-config cannot find libdpdk (libdpdk-dev)"
log "ok: rustc $have_rust, DPDK $(pkg-config --modversion libdpdk), $(tcpdump --version 2>&1 | head -n 1)"
