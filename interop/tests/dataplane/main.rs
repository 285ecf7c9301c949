//! The data-plane suite (issue 12, part 3): what clients of the service see while nodes crash,
//! restart, drain, join or withdraw, measured on real TCP connections through a Linux router.
//!
//! A router namespace runs FRR bgpd + zebra (`maximum-paths 3`, `fib_multipath_hash_policy = 1`)
//! and holds the service route in its kernel FIB; a client namespace behind it holds 200
//! long-lived TCP connections to the service address (a message every 20 ms, echoed) and opens
//! 50 new connections per second; three node namespaces each have the address on loopback, an
//! echo server that names its node, and bgpd (`interop/src/bin/dptraffic.rs` is the traffic).
//!
//! Each scenario prints one line (run with `-- --nocapture` to see it): connections broken on
//! the node that changed and on the others, the longest echo gap, new-connection failures (and
//! when, relative to the change), and when the router's FIB changed. `bench.rs` builds the
//! namespaces and measures; `scenarios.rs` holds the scenarios and what each asserts;
//! `router_bgpd.rs` runs scenarios with bgpd itself as the router (`[fib]`, issue 16) next to
//! FRR + zebra; `fib_route.rs` drives bgpd's FIB layer directly.
//!
//! Needs root, FRR (bgpd and zebra) and iproute2, like the interop suite (`./test.sh`):
//! `cargo test -p interop --test dataplane -- --nocapture`.

mod bench;
mod fib_route;
mod router_bgpd;
mod scenarios;
