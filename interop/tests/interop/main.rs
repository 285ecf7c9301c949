//! The interop suite: bgpd against FRR 8.4 and BIRD 2.0 in network namespaces (issue 5).
//!
//! One test binary, so that cargo runs the scenarios in parallel; every test builds its own
//! topology with unique namespace names and subnets. Tests fail (never skip) without root, FRR,
//! BIRD or iproute2: run them through `./test.sh`, which installs what is missing.

mod common;
mod s01_attributes;
mod s02_ecmp_three_nodes;
mod s03_add_path;
mod s04_ipv6;
mod s05_reload;
mod s06_shutdown;
mod s07_router_restart;
mod s08_hold_timer;
mod s09_md5;
mod s10_scale;
mod s11_hold_time;
mod s12_send_hold_soak;
mod selftest;
