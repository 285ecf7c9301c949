//! Member weights from the Link Bandwidth extended community
//! (draft-ietf-idr-link-bandwidth §2: type 0x40, or the transitive 0x00 some speakers send,
//! sub-type 0x04; a two-octet AS, then the bandwidth in bytes per second as an IEEE 754
//! single-precision float).
//!
//! - Every member carries a usable bandwidth (finite, not negative) and at least one is
//!   above zero: each weight is proportional to its bandwidth, the largest scaled to
//!   [`MAX_WEIGHT`] (rounded, at least 1, so a member with bandwidth 0 keeps a minimal
//!   share), then divided by their greatest common divisor (equal bandwidths give 1 each).
//! - Any member without one (or with a NaN, infinite or negative value), or all at zero:
//!   every member gets weight 1, as FRR does by default: a weighted set with a guessed weight
//!   for some members would be worse than an even spread.
//!
//! A path with several Link Bandwidth communities uses the first.
//!
//! Graceful shutdown (RFC 8326, issue 16 item 3): when some members carry the
//! GRACEFUL_SHUTDOWN community (65535:0, what a draining node sends) and others do not, the
//! draining members stay in the set at the minimum weight 1 and every other member's weight
//! is multiplied by [`MAX_WEIGHT`]. The set keeps its members, so a resilient next-hop group
//! only rebalances: idle buckets move off the draining node, busy ones (live connections)
//! stay until the node withdraws. RFC 8326 §4 lowers LOCAL_PREF to take the path out of use
//! at once; here the same intent (traffic leaves the node) is reached without breaking
//! the connections it still serves. When every member drains, the weights are as without.

use std::fmt;

use bgp_proto::PathAttributes;

use crate::Path;

/// The weight of the member with the largest bandwidth. 255 keeps every weight within the
/// 8-bit range of Linux next-hop group weights (1..=256) with the finest steps.
pub const MAX_WEIGHT: u32 = 255;

/// How the weights of a forwarding set were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weighting {
    /// No members, or one.
    Single,
    /// Every member carries a Link Bandwidth community: weights follow it.
    LinkBandwidth,
    /// Equal weights: no member carries the community.
    Equal,
    /// Equal weights: `missing` of the members carry no usable Link Bandwidth (or all carry
    /// zero), so it is ignored for all.
    EqualMissingBandwidth {
        /// How many members lack it.
        missing: usize,
    },
    /// `draining` members carry GRACEFUL_SHUTDOWN (RFC 8326): they have weight 1, the others
    /// `base` (how the weights were chosen before) times [`MAX_WEIGHT`].
    GracefulShutdown {
        /// How many members carry GRACEFUL_SHUTDOWN.
        draining: usize,
        /// How the other members' weights were chosen.
        base: BaseWeighting,
    },
}

/// How the weights of the members that are not draining were chosen
/// ([`Weighting::GracefulShutdown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseWeighting {
    /// By the Link Bandwidth extended community (draft-ietf-idr-link-bandwidth).
    LinkBandwidth,
    /// Equal.
    Equal,
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weighting::Single => f.write_str("single path"),
            Weighting::LinkBandwidth => f.write_str("link bandwidth"),
            Weighting::Equal => f.write_str("equal"),
            Weighting::EqualMissingBandwidth { missing } => write!(
                f,
                "equal ({missing} member(s) without a usable link bandwidth)"
            ),
            Weighting::GracefulShutdown { draining, base } => write!(
                f,
                "graceful shutdown: {draining} draining member(s) at weight 1, the others {} x {MAX_WEIGHT}",
                match base {
                    BaseWeighting::LinkBandwidth => "link bandwidth",
                    BaseWeighting::Equal => "equal",
                }
            ),
        }
    }
}

/// The Link Bandwidth of a path in bytes per second, when it carries the community.
pub fn bandwidth(attrs: &PathAttributes) -> Option<f32> {
    attrs
        .ext_communities
        .iter()
        .find_map(|c| c.as_link_bandwidth())
        .map(|(_, bw)| bw)
}

/// The weights of `members` (same order) and how they were chosen.
pub fn weights(members: &[&Path]) -> (Vec<u32>, Weighting) {
    let (w, how) = base_weights(members);
    let drain: Vec<bool> = members.iter().map(|p| p.attrs.graceful_shutdown).collect();
    let n = drain.iter().filter(|d| **d).count();
    if n == 0 || n == members.len() {
        return (w, how);
    }
    let base = match how {
        Weighting::LinkBandwidth => BaseWeighting::LinkBandwidth,
        _ => BaseWeighting::Equal,
    };
    let w = w
        .iter()
        .zip(&drain)
        .map(|(w, d)| if *d { 1 } else { w * MAX_WEIGHT })
        .collect();
    (w, Weighting::GracefulShutdown { draining: n, base })
}

fn base_weights(members: &[&Path]) -> (Vec<u32>, Weighting) {
    if members.len() <= 1 {
        return (vec![1; members.len()], Weighting::Single);
    }
    let bws: Vec<Option<f32>> = members
        .iter()
        .map(|p| p.attrs.bandwidth.filter(|b| b.is_finite() && *b >= 0.0))
        .collect();
    let missing = bws.iter().filter(|b| b.is_none()).count();
    let max = bws.iter().flatten().fold(0.0f32, |a, &b| a.max(b));
    if missing == members.len() {
        return (vec![1; members.len()], Weighting::Equal);
    }
    if missing > 0 || max <= 0.0 {
        return (
            vec![1; members.len()],
            Weighting::EqualMissingBandwidth { missing },
        );
    }
    let scaled: Vec<u32> = bws
        .iter()
        .map(|b| {
            let share = f64::from(b.unwrap_or(0.0)) / f64::from(max) * f64::from(MAX_WEIGHT);
            // In 0..=255 by construction; the cast saturates anyway.
            (share.round() as u32).clamp(1, MAX_WEIGHT)
        })
        .collect();
    let g = scaled.iter().copied().fold(0, gcd).max(1);
    (
        scaled.into_iter().map(|w| w / g).collect(),
        Weighting::LinkBandwidth,
    )
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
