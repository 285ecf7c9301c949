#!/usr/bin/env bash
# The README demo. On a fresh Debian 12 machine, as root: installs what is missing (frr, bird2,
# iproute2, Rust), builds bgpd, runs FRR and three bgpd nodes in throwaway network namespaces,
# prints FRR's ECMP route for the service and the bgpd logs, then tears everything down.
set -euo pipefail
cd "$(dirname "$0")"
# The same installs as the tests (test.sh's functions, sourced): Rust >= the workspace's
# rust-version from PATH, rustup or Debian's rustc-web; ensure_rust leaves that cargo first on PATH.
. ./test.sh
install_packages
ensure_rust
exec cargo run --quiet -p interop --bin demo
