//! BGP unnumbered (an interface peer without a configured address, as FRR's `neighbor eth0
//! interface`): how the session learns its peer's IPv6 link-local address from the link, as
//! pure code. [`ra`] is the Router Advertisement / Router Solicitation codec (RFC 4861 §4.1,
//! §4.2, the receiver's checks of §6.1); [`neighbor`] decides which address heard is the
//! neighbor, with the time as an argument. The daemon owns the ICMPv6 socket and the clock.

pub mod neighbor;
pub mod ra;
