#!/bin/sh
# Router FIB benchmark (docs/benchmarks.md, "Router FIB", issue 16): bgpd with [fib] next to
# FRR bgpd + zebra, same nodes and routes, in one run. Run as root with FRR and iproute2
# installed (benches/run-routers.sh installs them). Builds bgpd, bgpctl and the bench in
# release mode and runs it. Settings from the environment: FIB_N (10000 prefixes), FIB_NODES
# (8 next hops), FIB_TOGGLES (20); see benches/src/bin/fib.rs.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "run-fib.sh: needs root (network namespaces)" >&2
    exit 2
fi
for pkg in frr iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || { echo "run-fib.sh: $pkg is not installed (benches/run-routers.sh installs it)" >&2; exit 2; }
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
cargo build --release -p bgpd --bins
cargo build --release -p benches --bin fib
export BGPD_BIN="$CARGO_TARGET_DIR/release/bgpd"
exec "$CARGO_TARGET_DIR/release/fib"
