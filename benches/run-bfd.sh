#!/bin/sh
# BFD figures (docs/benchmarks.md, "BFD"): node crash to FIB change with bgpd and with FRR as
# the node's speaker, and bgpd's CPU with 100 BFD sessions at 50 ms. Run as root on Debian 12;
# FRR must be installed (./test.sh --install-only). Settings: BFD_RUNS (5), BFD_SESSIONS (100),
# BFD_CPU_SECS (30), BFD_HOLD (BGP hold time under the CPU sessions; bgpd's default 90 s),
# BFD_LINK=lan (CPU sessions over the test LAN's bridge instead of a veth pair).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "run-bfd.sh: needs root (network namespaces)" >&2
    exit 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
cargo build --release -p bgpd --bins
cargo build --release -p benches --bin bfd
export BGPD_BIN="$CARGO_TARGET_DIR/release/bgpd"
exec "$CARGO_TARGET_DIR/release/bfd"
