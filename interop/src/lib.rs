//! Interop harness: bgpd against real FRR and BIRD routers in network namespaces.
//!
//! Each test builds a [`Topology`] (a guard owning namespaces, processes and files), adds nodes,
//! starts routers ([`Frr`], [`Bird`]) and bgpd processes ([`Bgpd`]) in them, and asserts on what
//! the routers themselves report (`vtysh ... json`, `birdc show ...`). Everything is torn down when
//! the guard drops, also when the test panics; the logs of every process are printed on failure.
//!
//! Requirements: root (network namespaces), iproute2, FRR 8.x and BIRD 2.x (Debian packages `frr`,
//! `bird2`, `iproute2`; `./test.sh` installs them). Missing tools fail the tests: they never skip.

pub mod bgpd;
pub mod bird;
pub mod frr;
pub mod hostile;
pub mod topo;
pub mod wait;

pub use bgpd::{bgpctl_binary, bgpd_binary, Bgpd, BgpdConfig, Peer, Service};
pub use bird::{Bird, BirdBfdSession, BirdConfig, BirdNeighbor, BirdProtocol, BirdRoute};
pub use frr::{Frr, FrrConfig, FrrNeighbor, FrrPath};
pub use topo::{Node, Topology};
pub use wait::{holds_for, wait_eq, wait_until};
