#!/bin/sh
# Receive-memory benchmark (docs/benchmarks.md, "Receive memory"): N prefixes with distinct
# attribute sets into bgpd (import = "all") and into BIRD (import all), RSS before, at peak,
# loaded and after two flushes (withdraw all; session closed). Run as root on Debian 12:
# installs BIRD if missing (idempotent; stops the daemon its package started, by its init
# script), builds bgpd, bgpctl and the bench in release mode, and runs it. Settings come from
# the environment: RECEIVE_N (1000000), RECEIVE_RUNS (1), RECEIVE_RECEIVERS (bgpd,BIRD),
# RECEIVE_TIMEOUT_S (600); see benches/src/bin/receive.rs.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "run-receive.sh: needs root (network namespaces)" >&2
    exit 2
fi

need=""
for pkg in bird2 iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y $need
    if [ -x /etc/init.d/bird ]; then /etc/init.d/bird stop >/dev/null 2>&1 || true; fi
    if command -v systemctl >/dev/null 2>&1; then systemctl stop bird >/dev/null 2>&1 || true; fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
cargo build --release -p bgpd --bins
cargo build --release -p benches --bin receive
exec "$CARGO_TARGET_DIR/release/receive"
