#!/usr/bin/env bash
# The full test command (README "Run every test"; .ci/run calls exactly this).
#
# On a fresh Debian 12 machine, run as root from the repository root. It installs what is missing
# (idempotently: nothing is installed when everything is present), then runs every test of the
# workspace, including the interop suite against real FRR and BIRD routers in network namespaces.
#
#   ./test.sh                 install what is missing, then run all tests
#   ./test.sh --install-only  only install what is missing
#
# demo.sh sources this file (only the functions are defined then) and calls install_packages and
# ensure_rust itself, so that it runs cargo with the PATH ensure_rust chose.
#
# Interop tests fail (they never skip) when FRR, BIRD, iproute2 or root are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The oldest Rust that builds and tests the whole workspace: the workspace's rust-version in
# Cargo.toml (one place). `cargo test --workspace` also builds the benches' dev-dependencies, and
# rustbgpd-wire 0.27 (a codec compared against in benches/) declares rust-version 1.95; bgpd and
# the libraries alone would build with 1.85 (tokio), their tests with 1.88 (proptest).
MIN_RUST=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml)
: "${MIN_RUST:?no rust-version in Cargo.toml}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: apt-get update (once per run), then install without recommends.
APT_UPDATED=
apt_install() {
    log "installing $*"
    if [ -z "$APT_UPDATED" ]; then
        as_root apt-get update
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# Routers and tools the interop suite drives. A package is installed only when its file is missing.
install_packages() {
    local missing=()
    [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null || missing+=(frr)
    command -v bird >/dev/null && command -v birdc >/dev/null || missing+=(bird2)
    command -v ip >/dev/null || missing+=(iproute2)
    # nft: the collision test drops packets inside its own router namespace.
    command -v nft >/dev/null || missing+=(nftables)
    # rustc links through cc, whichever way Rust is installed (no crate here compiles C on Linux).
    command -v cc >/dev/null || missing+=(build-essential)
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    apt_install "${missing[@]}"
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

# version_ge HAVE NEED: true when version HAVE (1.95.0) is at least NEED (1.95).
version_ge() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# use_rust: put the first toolchain whose cargo and rustc are both >= MIN_RUST first on PATH:
# the cargo on PATH, then rustup's ~/.cargo/bin, then Debian's /usr/bin. False (with RUST_FOUND
# listing what was seen) when there is none.
use_rust() {
    local dirs=() dir c r seen=" "
    RUST_FOUND=
    if command -v cargo >/dev/null; then dirs+=("$(dirname "$(command -v cargo)")"); fi
    dirs+=("$HOME/.cargo/bin" /usr/bin)
    for dir in "${dirs[@]}"; do
        case "$seen" in *" $dir "*) continue ;; esac
        seen+="$dir "
        [ -x "$dir/cargo" ] || continue
        # cargo runs the first rustc on PATH (rustup's proxy or Debian's, in the same directory).
        c=$(PATH="$dir:$PATH" cargo --version 2>/dev/null | sed -n 's/^cargo \([0-9][0-9.]*\).*/\1/p')
        r=$(PATH="$dir:$PATH" rustc --version 2>/dev/null | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
        RUST_FOUND+="${RUST_FOUND:+, }$dir: cargo ${c:-?} rustc ${r:-?}"
        if [ -n "$c" ] && [ -n "$r" ] && version_ge "$c" "$MIN_RUST" && version_ge "$r" "$MIN_RUST"; then
            export PATH="$dir:$PATH"
            return 0
        fi
    done
    return 1
}

# rustup_stable: the stable toolchain through rustup; false when static.rust-lang.org or
# sh.rustup.rs cannot be reached (short connect timeout, so an offline machine falls through).
rustup_stable() {
    if [ -x "$HOME/.cargo/bin/rustup" ]; then
        log "updating the Rust stable toolchain with rustup"
        "$HOME/.cargo/bin/rustup" toolchain install stable --profile minimal &&
            "$HOME/.cargo/bin/rustup" default stable
        return
    fi
    command -v curl >/dev/null || apt_install curl ca-certificates || return
    local init
    init=$(mktemp)
    if ! curl --proto '=https' --tlsv1.2 -sSf --connect-timeout 10 --max-time 120 \
        https://sh.rustup.rs -o "$init"; then
        rm -f "$init"
        return 1
    fi
    log "installing the Rust stable toolchain with rustup"
    sh "$init" -y --profile minimal
    local rc=$?
    rm -f "$init"
    return "$rc"
}

# Rust >= MIN_RUST: the one on PATH (nothing is installed then), else the stable toolchain from
# rustup, else, when rustup cannot be reached, Debian's rustc-web and cargo-web (bookworm-security
# carries current releases; Debian's plain rustc/cargo are 1.63, too old).
ensure_rust() {
    if use_rust; then
        return
    fi
    log "Rust >= $MIN_RUST not found (${RUST_FOUND:-no cargo}); trying rustup"
    if rustup_stable && use_rust; then
        return
    fi
    log "rustup failed or cannot be reached; trying Debian's rustc-web and cargo-web"
    if apt_install rustc-web cargo-web && use_rust; then
        return
    fi
    printf 'error: Rust >= %s is needed (rust-version in Cargo.toml), found: %s\n' \
        "$MIN_RUST" "${RUST_FOUND:-no cargo}" >&2
    exit 1
}

main() {
    install_packages
    ensure_rust
    if [ "${1:-}" = "--install-only" ]; then
        return 0
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
}

# Sourced by demo.sh: define the functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
