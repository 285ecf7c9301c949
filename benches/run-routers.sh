#!/bin/sh
# Router benchmarks (docs/benchmarks.md, "Routers"): bgpd next to BIRD, FRR and GoBGP.
# Run as root on Debian 12: installs what it needs (idempotent), stops any router daemons the
# packages started (by their init scripts), builds bgpd, bgpctl and the bench in release mode,
# and runs it. Extra arguments are ignored; settings come from the environment (ROUTERS_N,
# ROUTERS_RUNS, ROUTERS_PARTS, ROUTERS_SENDERS, ROUTERS_RECEIVERS, ROUTERS_TOGGLES,
# ROUTERS_PEERS, ROUTERS_PEER_ROUTES, ROUTERS_PERF; see benches/src/bin/routers.rs).
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "run-routers.sh: needs root (network namespaces)" >&2
    exit 2
fi

need=""
for pkg in bird2 frr gobgpd iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y $need
    # The packages may start system daemons; stop them by their init scripts (never by name).
    for svc in frr bird gobgpd; do
        if [ -x "/etc/init.d/$svc" ]; then "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
        if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    done
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
cargo build --release -p bgpd --bins
cargo build --release -p benches --bin routers
exec "$CARGO_TARGET_DIR/release/routers"
