//! `[fib]` as validated: the settings of bgpd's kernel FIB (routing table, route protocol,
//! next-hop group type). Configuration owns these types; bgpd's `fib` module programs them
//! into the kernel and re-exports them.

use std::time::Duration;

pub use bgp_rib::fib::GroupKind;

/// Default `[fib] protocol`: 179, BGP's TCP port, easy to recognise in `ip route` output. It
/// is in neither iproute2's `rt_protos` (0-18, 42, 99, 186-192) nor FRR's `rt_protos.d`
/// (186-197), and BIRD (12) and zebra (11) use theirs: no other daemon's routes carry it.
pub const DEFAULT_PROTOCOL: u8 = 179;
/// Default `[fib] table`: main.
pub const DEFAULT_TABLE: u32 = 254;
/// Default `[fib] buckets`: 32 per member for up to 8 members, weights at 1/256 granularity.
pub const DEFAULT_BUCKETS: u16 = 256;
/// Default `[fib] idle_timer` (the kernel's own default, 120 s).
pub const DEFAULT_IDLE_TIMER: Duration = Duration::from_secs(120);
/// Default `[fib] unbalanced_timer`: 0, busy buckets never move (no connection is broken to
/// rebalance).
pub const DEFAULT_UNBALANCED_TIMER: Duration = Duration::from_secs(0);

/// `[fib]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FibSettings {
    /// Routing table of our routes.
    pub table: u32,
    /// `rtm_protocol` / `nh_protocol` of everything bgpd installs.
    pub protocol: u8,
    /// Group type and resilient parameters (`resilient`, `buckets`, `idle_timer`,
    /// `unbalanced_timer`).
    pub kind: GroupKind,
    /// Leave routes, groups and next hops in the kernel at stop (graceful restart).
    pub retain_on_stop: bool,
}

impl Default for FibSettings {
    fn default() -> Self {
        FibSettings {
            table: DEFAULT_TABLE,
            protocol: DEFAULT_PROTOCOL,
            kind: GroupKind::Resilient {
                buckets: DEFAULT_BUCKETS,
                idle_timer: DEFAULT_IDLE_TIMER.as_secs() as u32,
                unbalanced_timer: DEFAULT_UNBALANCED_TIMER.as_secs() as u32,
            },
            retain_on_stop: false,
        }
    }
}
