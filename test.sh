#!/usr/bin/env bash
# The full test command (README "Run every test"; .ci/run calls exactly this).
#
# On a fresh Debian 12 machine, run as root from the repository root. It installs what is missing
# (idempotently: nothing is installed when everything is present), then runs every test of the
# workspace, including the interop suite against real FRR and BIRD routers in network namespaces.
#
#   ./test.sh                 install what is missing, then run all tests
#   ./test.sh --install-only  only install what is missing (used by demo.sh)
#
# Interop tests fail (they never skip) when FRR, BIRD, iproute2 or root are missing.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Routers and tools the interop suite drives. A package is installed only when its file is missing.
install_packages() {
    local missing=()
    [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null || missing+=(frr)
    command -v bird >/dev/null && command -v birdc >/dev/null || missing+=(bird2)
    command -v ip >/dev/null || missing+=(iproute2)
    if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
        command -v cc >/dev/null || missing+=(build-essential)
        command -v curl >/dev/null || missing+=(curl ca-certificates)
    fi
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    log "installing ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    # The packages start system-wide frr/bird daemons in the root namespace. Tests never use them,
    # but stop them to leave the machine quiet: through their init system, never by process name.
    for pkg in "${missing[@]}"; do
        case "$pkg" in
            frr) stop_service frr /run/frr/watchfrr.pid ;;
            bird2) stop_service bird /run/bird/bird.pid ;;
        esac
    done
}

# stop_service NAME PIDFILE: systemctl when systemd runs, else the init script, else the pidfile.
stop_service() {
    local name="$1" pidfile="$2"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        as_root systemctl stop "$name" || true
    elif [ -x "/etc/init.d/$name" ]; then
        as_root "/etc/init.d/$name" stop || true
    elif [ -f "$pidfile" ]; then
        as_root kill "$(cat "$pidfile")" || true
    fi
}

# Rust: the workspace needs a recent stable toolchain (Debian's rustc is too old), via rustup.
ensure_rust() {
    if command -v cargo >/dev/null; then
        return
    fi
    if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
        log "installing the Rust stable toolchain with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
}

install_packages
ensure_rust
if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi

start=$(date +%s)
log "cargo test --workspace (unit, end-to-end and interop tests)"
# Interop scenarios mostly wait on BGP timers, not on the CPU: run more of them at once.
# Each test has its own namespaces and subnets, so they cannot collide. --no-fail-fast: one
# failing test binary must not hide the results of the others.
cargo test --workspace --no-fail-fast --no-run
# The interop tests run the bgpd binary this build produced. Without BGPD_BIN they would run
# `cargo build -p bgpd`, which resolves features for bgpd alone and so recompiles its whole
# dependency tree a second time (minutes on a fresh 2-core machine).
export BGPD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/bgpd"
RUST_TEST_THREADS="${RUST_TEST_THREADS:-6}" cargo test --workspace --no-fail-fast

log "all tests passed in $(($(date +%s) - start)) s"
