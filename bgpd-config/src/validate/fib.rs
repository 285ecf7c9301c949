//! `[fib]`: the kernel FIB of a router's bgpd (bgpd's `fib`).

use std::time::Duration;

use super::Validator;
use crate::fib::{
    FibSettings, GroupKind, DEFAULT_BUCKETS, DEFAULT_IDLE_TIMER, DEFAULT_PROTOCOL, DEFAULT_TABLE,
    DEFAULT_UNBALANCED_TIMER,
};
use crate::locate::FieldPath;
use crate::raw::{Int, IntOrStr, RawFib};
use crate::values::parse_whole_seconds;

/// The longest `idle_timer` / `unbalanced_timer`: one day, far inside the kernel's `clock_t`.
const MAX_FIB_TIMER: Duration = Duration::from_secs(86_400);

/// Protocol numbers that belong to someone else (include/uapi/linux/rtnetlink.h, iproute2's
/// `rt_protos`, FRR's `rt_protos.d/frr.conf`): bgpd removes the routes that carry its number
/// and that it did not set, so it must never share one.
const TAKEN_PROTOCOLS: &[(u8, &str)] = &[
    (0, "unspec"),
    (1, "redirect (ICMP redirects)"),
    (2, "kernel"),
    (3, "boot (ip route without proto)"),
    (4, "static"),
    (8, "gated"),
    (9, "ra (router advertisements)"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (17, "mrouted"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "FRR bgpd"),
    (187, "FRR isisd"),
    (188, "FRR ospfd"),
    (189, "FRR ripd"),
    (190, "FRR ripngd"),
    (191, "FRR nhrpd"),
    (192, "FRR eigrpd"),
    (193, "FRR ldpd"),
    (194, "FRR sharpd"),
    (195, "FRR pbrd"),
    (196, "FRR staticd"),
    (197, "FRR fabricd"),
];

impl Validator<'_> {
    /// `[fib]` with every default filled in.
    pub(super) fn fib(&mut self, r: &RawFib, path: &FieldPath) -> FibSettings {
        let table = match r.table.map(Int::get) {
            None => DEFAULT_TABLE,
            Some(t @ (0 | 255)) => {
                self.err(
                    &path.key("table"),
                    format!(
                        "table {t} is {}; use main (254) or a table of your own (1..=4294967295)",
                        if t == 0 {
                            "RT_TABLE_UNSPEC"
                        } else {
                            "the kernel's local table"
                        }
                    ),
                );
                DEFAULT_TABLE
            }
            Some(t) => match u32::try_from(t) {
                Ok(t) => t,
                Err(_) => {
                    self.err(
                        &path.key("table"),
                        format!("a routing table is 1..=4294967295, got {t}"),
                    );
                    DEFAULT_TABLE
                }
            },
        };
        let protocol = match r.protocol.map(Int::get) {
            None => DEFAULT_PROTOCOL,
            Some(p) => match u8::try_from(p) {
                Ok(p) => match TAKEN_PROTOCOLS.iter().find(|(n, _)| *n == p) {
                    Some((_, owner)) => {
                        self.err(
                            &path.key("protocol"),
                            format!(
                                "protocol {p} belongs to {owner}: bgpd removes the routes with its \
                                 protocol number that it did not set, so it needs a number of its \
                                 own (default {DEFAULT_PROTOCOL})"
                            ),
                        );
                        DEFAULT_PROTOCOL
                    }
                    None => p,
                },
                Err(_) => {
                    self.err(
                        &path.key("protocol"),
                        format!("a route protocol number is 1..=255 (rtm_protocol), got {p}"),
                    );
                    DEFAULT_PROTOCOL
                }
            },
        };
        let resilient = r.resilient.unwrap_or(true);
        let buckets = match r.buckets.map(Int::get) {
            None => DEFAULT_BUCKETS,
            Some(b) => match u16::try_from(b) {
                Ok(b) if b > 0 => b,
                _ => {
                    self.err(
                        &path.key("buckets"),
                        format!("buckets is 1..=65535 (NHA_RES_GROUP_BUCKETS is 16 bits), got {b}"),
                    );
                    DEFAULT_BUCKETS
                }
            },
        };
        let idle_timer = self.fib_timer(
            r.idle_timer.as_ref(),
            &path.key("idle_timer"),
            DEFAULT_IDLE_TIMER,
        );
        let unbalanced_timer = self.fib_timer(
            r.unbalanced_timer.as_ref(),
            &path.key("unbalanced_timer"),
            DEFAULT_UNBALANCED_TIMER,
        );
        if !resilient {
            for (set, key) in [
                (r.buckets.is_some(), "buckets"),
                (r.idle_timer.is_some(), "idle_timer"),
                (r.unbalanced_timer.is_some(), "unbalanced_timer"),
            ] {
                if set {
                    self.warn(
                        &path.key(key),
                        "ignored: resilient = false makes plain multipath groups, which have no buckets",
                    );
                }
            }
        }
        FibSettings {
            table,
            protocol,
            kind: if resilient {
                GroupKind::Resilient {
                    buckets,
                    idle_timer,
                    unbalanced_timer,
                }
            } else {
                GroupKind::Multipath
            },
            retain_on_stop: r.retain_on_stop.unwrap_or(false),
        }
    }

    /// A resilient group timer in whole seconds, at most a day.
    fn fib_timer(&mut self, v: Option<&IntOrStr>, path: &FieldPath, default: Duration) -> u32 {
        let Some(v) = v else {
            return default.as_secs() as u32;
        };
        match self.check(path, parse_whole_seconds(v)) {
            Some(d) if d <= MAX_FIB_TIMER => d.as_secs() as u32,
            Some(d) => {
                self.err(
                    path,
                    format!(
                        "at most {} seconds (one day), got {}",
                        MAX_FIB_TIMER.as_secs(),
                        d.as_secs()
                    ),
                );
                default.as_secs() as u32
            }
            None => default.as_secs() as u32,
        }
    }
}
