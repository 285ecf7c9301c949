//! The RFC 7606 rule of every attribute the codec models, stated once: flags (RFC 7606 §3 c),
//! length and value (§7), and the action when one is broken (treat-as-withdraw or attribute
//! discard). [`judge`] is that statement; the walk in [`super::check`] calls it on its general
//! path and on its fast path alike, so the fast path cannot drift from it. Session resets
//! (MP_REACH_NLRI / MP_UNREACH_NLRI, §5.3) stay in the walk, which owns the NOTIFICATION data.

use super::values::{as4_path_ok, has_as_zero};
use crate::addr::is_martian_v4;
use crate::attr::{decode_ipv4, FLAG_OPTIONAL, FLAG_TRANSITIVE};

/// Index of a modelled attribute in the view's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Slot {
    Unknown = 0,
    Origin,
    AsPath,
    NextHop,
    Med,
    LocalPref,
    AtomicAggregate,
    Aggregator,
    Communities,
    OriginatorId,
    ClusterList,
    MpReach,
    MpUnreach,
    ExtCommunities,
    As4Path,
    As4Aggregator,
    LargeCommunity,
    Otc,
}

pub(crate) const NSLOTS: usize = 18;

const O: u8 = FLAG_OPTIONAL;
const T: u8 = FLAG_TRANSITIVE;

impl Slot {
    #[inline]
    pub(crate) fn of(code: u8) -> Slot {
        rule(code).slot
    }

    #[inline]
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// How the walk treats one attribute type code (a 256-entry table, so one load replaces a
/// `match` per attribute): the slot, the Optional and Transitive bits the attribute's
/// definition requires, and for the attributes whose only syntax rule is their length
/// (RFC 7606 §7) that rule and the outcome of breaking it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) slot: Slot,
    /// Optional | Transitive as the definition requires (RFC 4271 §5, §4.3).
    pub(crate) flags: u8,
    /// Checked by the per-slot `match` (content checks or session-dependent rules), not by
    /// the length rule below.
    special: bool,
    /// Discarded whatever its content when received from an external peer (RFC 7606 §7.5,
    /// §7.9, §7.10).
    ebgp_discard: bool,
    /// Length rule: `min <= len <= max`, `len & mask == 0` (a multiple of a power of two) and
    /// `len * mul <= lim` in wrapping `u32` arithmetic (a multiple of an odd number: with
    /// `mul` its inverse modulo 2^32 and `lim` = `u32::MAX / odd`).
    min: u16,
    max: u16,
    mask: u16,
    mul: u32,
    lim: u32,
    /// A length error is treat-as-withdraw (else attribute discard), for `reason`.
    taw: bool,
    reason: Reason,
}

impl Rule {
    const UNKNOWN: Rule = Rule {
        slot: Slot::Unknown,
        flags: 0,
        special: true,
        ebgp_discard: false,
        min: 0,
        max: u16::MAX,
        mask: 0,
        mul: 0,
        lim: 0,
        taw: false,
        reason: Reason::None,
    };

    /// An attribute with content checks in the per-slot `match`.
    const fn special(slot: Slot, flags: u8) -> Rule {
        Rule {
            slot,
            flags,
            ..Rule::UNKNOWN
        }
    }

    /// Exactly `n` octets.
    const fn exact(slot: Slot, flags: u8, n: u16, taw: bool, reason: Reason) -> Rule {
        Rule {
            slot,
            flags,
            special: false,
            min: n,
            max: n,
            taw,
            reason,
            ..Rule::UNKNOWN
        }
    }

    /// A non-zero multiple of `n` octets (`n` = 4, 8 or 12).
    const fn multiple(slot: Slot, flags: u8, n: u16, reason: Reason) -> Rule {
        let (mask, mul, lim) = match n {
            4 => (3, 0, 0),
            8 => (7, 0, 0),
            // 12 = 4 * 3; 0xAAAA_AAAB * 3 = 1 (mod 2^32).
            _ => (3, 0xAAAA_AAAB, u32::MAX / 3),
        };
        Rule {
            slot,
            flags,
            special: false,
            min: 1,
            max: u16::MAX,
            mask,
            mul,
            lim,
            taw: true,
            reason,
            ..Rule::UNKNOWN
        }
    }

    const fn ebgp_discard(self) -> Rule {
        Rule {
            ebgp_discard: true,
            ..self
        }
    }

    /// Whether a value of `len` octets satisfies the length rule.
    #[inline(always)]
    fn len_ok(&self, len: usize) -> bool {
        let l = len as u32; // attribute lengths are at most 65535
        let (min, max) = (u32::from(self.min), u32::from(self.max));
        // One compare for min <= l <= max (min <= max in every rule).
        (l.wrapping_sub(min) <= max - min)
            & (l & u32::from(self.mask) == 0)
            & (l.wrapping_mul(self.mul) <= self.lim)
    }
}

/// Type code -> rule, for all 256 codes. Flags: well-known attributes are transitive
/// (RFC 4271 §5); MED (RFC 4271 §5.1.4), ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §7-8) and
/// the MP attributes (RFC 4760 §3-4) are optional non-transitive; the rest optional
/// transitive.
const TABLE: [Rule; 256] = {
    let mut t = [Rule::UNKNOWN; 256];
    t[1] = Rule::special(Slot::Origin, T);
    t[2] = Rule::special(Slot::AsPath, T);
    t[3] = Rule::special(Slot::NextHop, T);
    t[4] = Rule::exact(Slot::Med, O, 4, true, Reason::MedLen);
    t[5] = Rule::exact(Slot::LocalPref, T, 4, true, Reason::LocalPrefLen).ebgp_discard();
    t[6] = Rule::exact(
        Slot::AtomicAggregate,
        T,
        0,
        false,
        Reason::AtomicAggregateLen,
    );
    t[7] = Rule::special(Slot::Aggregator, O | T);
    t[8] = Rule::multiple(Slot::Communities, O | T, 4, Reason::CommunitiesLen);
    t[9] = Rule::exact(Slot::OriginatorId, O, 4, true, Reason::OriginatorIdLen).ebgp_discard();
    t[10] = Rule::multiple(Slot::ClusterList, O, 4, Reason::ClusterListLen).ebgp_discard();
    t[14] = Rule::special(Slot::MpReach, O);
    t[15] = Rule::special(Slot::MpUnreach, O);
    t[16] = Rule::multiple(Slot::ExtCommunities, O | T, 8, Reason::ExtCommunitiesLen);
    t[17] = Rule::special(Slot::As4Path, O | T);
    t[18] = Rule::special(Slot::As4Aggregator, O | T);
    t[32] = Rule::multiple(Slot::LargeCommunity, O | T, 12, Reason::LargeCommunityLen);
    t[35] = Rule::exact(Slot::Otc, O | T, 4, true, Reason::OtcLen);
    t
};

/// The table for lookups of a code read from the message (one load).
static RULES: [Rule; 256] = TABLE;

/// The rule of a constant type code, for the walk's fast path: `const { rule_of(CODE) }`
/// puts the rule itself into the caller's code, so `judge` folds to that attribute's tests
/// even when inlined into another crate (where the contents of the `static` are unknown).
#[allow(clippy::indexing_slicing)] // a u8 always indexes a 256-entry table
pub(crate) const fn rule_of(code: u8) -> Rule {
    TABLE[code as usize]
}

/// The rule of type code `code`.
#[inline(always)]
pub(crate) fn rule(code: u8) -> &'static Rule {
    // A u8 always indexes a 256-entry table; get() compiles to the same load.
    RULES.get(usize::from(code)).unwrap_or(&Rule::UNKNOWN)
}

/// Why an attribute was treated-as-withdraw or discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reason {
    None = 0,
    Framing,
    Flags,
    UnrecognisedWellKnown,
    BadOrigin,
    BadAsPath,
    AsPathAsZero,
    AsSet,
    ConfedOnEbgp,
    FirstAs,
    NextHopLen,
    MartianNextHop,
    MedLen,
    LocalPrefLen,
    LocalPrefEbgp,
    AtomicAggregateLen,
    AggregatorLen,
    AggregatorAsZero,
    CommunitiesLen,
    OriginatorIdEbgp,
    OriginatorIdLen,
    ClusterListEbgp,
    ClusterListLen,
    ExtCommunitiesLen,
    As4PathFromAs4Peer,
    BadAs4Path,
    As4AggregatorFromAs4Peer,
    BadAs4Aggregator,
    LargeCommunityLen,
    OtcLen,
    Ipv6ExtCommunitiesLen,
    Duplicate,
    MpReachNotNegotiated,
    MpUnreachNotNegotiated,
    MissingOrigin,
    MissingAsPath,
    MissingNextHop,
    MartianMpNextHop,
    TrafficEngineeringLen,
    BadAigp,
    BadPrefixSid,
    BadAttrSet,
}

impl Reason {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Reason::None => "accepted",
            Reason::Framing => "attribute runs past the Total Path Attribute Length (RFC 7606 §4)",
            Reason::Flags => {
                "Optional/Transitive flags conflict with the attribute (RFC 7606 §3 c)"
            }
            Reason::UnrecognisedWellKnown => "unrecognised well-known attribute (decision D1)",
            Reason::BadOrigin => "ORIGIN length is not 1 or value above 2 (RFC 7606 §7.1)",
            Reason::BadAsPath => "malformed AS_PATH segments (RFC 7606 §7.2)",
            Reason::AsPathAsZero => "AS 0 in AS_PATH (RFC 7607 §2)",
            Reason::AsSet => "AS_SET or AS_CONFED_SET in AS_PATH (RFC 9774, decision D7)",
            Reason::ConfedOnEbgp => "confederation segment on an eBGP session (RFC 5065 §5)",
            Reason::FirstAs => "leftmost AS is not the peer's AS (RFC 4271 §6.3, decision D8)",
            Reason::NextHopLen => "NEXT_HOP length is not 4 (RFC 7606 §7.3)",
            Reason::MartianNextHop => "martian NEXT_HOP (decision D5)",
            Reason::MedLen => "MULTI_EXIT_DISC length is not 4 (RFC 7606 §7.4)",
            Reason::LocalPrefLen => "LOCAL_PREF length is not 4 (RFC 7606 §7.5)",
            Reason::LocalPrefEbgp => "LOCAL_PREF from an external peer (RFC 7606 §7.5)",
            Reason::AtomicAggregateLen => "ATOMIC_AGGREGATE length is not 0 (RFC 7606 §7.6)",
            Reason::AggregatorLen => "AGGREGATOR length wrong for the AS size (RFC 7606 §7.7)",
            Reason::AggregatorAsZero => "AS 0 in AGGREGATOR (RFC 7607 §2)",
            Reason::CommunitiesLen => "COMMUNITIES length 0 or not a multiple of 4 (RFC 7606 §7.8)",
            Reason::OriginatorIdEbgp => "ORIGINATOR_ID from an external peer (RFC 7606 §7.9)",
            Reason::OriginatorIdLen => "ORIGINATOR_ID length is not 4 (RFC 7606 §7.9)",
            Reason::ClusterListEbgp => "CLUSTER_LIST from an external peer (RFC 7606 §7.10)",
            Reason::ClusterListLen => {
                "CLUSTER_LIST length 0 or not a multiple of 4 (RFC 7606 §7.10)"
            }
            Reason::ExtCommunitiesLen => {
                "EXTENDED_COMMUNITIES length 0 or not a multiple of 8 (RFC 7606 §7.14)"
            }
            Reason::As4PathFromAs4Peer => "AS4_PATH from a 4-octet-AS peer (RFC 6793 §6)",
            Reason::BadAs4Path => "malformed AS4_PATH or AS 0 in it (RFC 6793 §6, RFC 7607 §2)",
            Reason::As4AggregatorFromAs4Peer => {
                "AS4_AGGREGATOR from a 4-octet-AS peer (RFC 6793 §6)"
            }
            Reason::BadAs4Aggregator => {
                "AS4_AGGREGATOR length is not 8 or AS 0 (RFC 6793 §6, RFC 7607 §2)"
            }
            Reason::LargeCommunityLen => {
                "LARGE_COMMUNITY length 0 or not a multiple of 12 (RFC 8092 §6)"
            }
            Reason::OtcLen => "OTC length is not 4 (RFC 9234 §5)",
            Reason::Ipv6ExtCommunitiesLen => {
                "IPv6 EXTENDED_COMMUNITIES length 0 or not a multiple of 20 (RFC 7606 §7.15)"
            }
            Reason::Duplicate => "repeated attribute, first kept (RFC 7606 §3 g)",
            Reason::MpReachNotNegotiated => {
                "MP_REACH_NLRI for a family not negotiated or not supported (decision D3)"
            }
            Reason::MpUnreachNotNegotiated => {
                "MP_UNREACH_NLRI for a family not negotiated or not supported (decision D3)"
            }
            Reason::MissingOrigin => "missing ORIGIN (RFC 7606 §3 d)",
            Reason::MissingAsPath => "missing AS_PATH (RFC 7606 §3 d)",
            Reason::MissingNextHop => "missing NEXT_HOP with NLRI field (RFC 7606 §3 d)",
            Reason::MartianMpNextHop => "martian MP_REACH_NLRI next hop (decision D5)",
            Reason::TrafficEngineeringLen => {
                "TRAFFIC_ENGINEERING shorter than its 36 fixed octets (RFC 5543 §2)"
            }
            Reason::BadAigp => {
                "malformed AIGP: a TLV overruns the attribute or the AIGP TLV length is not 11 \
                 (RFC 7311 §3)"
            }
            Reason::BadPrefixSid => {
                "malformed BGP Prefix-SID: a TLV overruns the attribute, Label-Index length is \
                 not 7 or Originator SRGB length is not 2 + 6n (RFC 8669 §3, §6)"
            }
            Reason::BadAttrSet => {
                "malformed ATTR_SET: no Origin AS or nested attributes do not fill it (RFC 6368 §5)"
            }
        }
    }
}

/// What RFC 7606 §2 does about a broken rule when the session is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Treat-as-withdraw: every route in the UPDATE is handled as withdrawn.
    Withdraw,
    /// Attribute discard: the attribute is dropped, the routes are used.
    Discard,
}

/// What the rules depend on beyond the attribute itself: the session and the message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env {
    /// An internal peer (LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST are kept, RFC 7606 §7.5).
    pub(crate) ibgp: bool,
    /// 4-octet AS numbers negotiated (RFC 6793): AGGREGATOR length, AS4_* from an AS4 peer.
    pub(crate) four_octet_as: bool,
    /// The message has an NLRI field (a martian NEXT_HOP then matters, decision D5).
    pub(crate) has_nlri_field: bool,
}

impl Env {
    /// Octets per ASN in AS_PATH and AGGREGATOR.
    #[inline(always)]
    pub(crate) fn asn_len(self) -> usize {
        if self.four_octet_as {
            4
        } else {
            2
        }
    }
}

/// The first occurrence of a modelled, non-MP attribute under its `rule` (from [`rule`] or
/// [`rule_of`]): `Ok` when it is accepted as received, else the action and the reason.
///
/// This is the only statement of the rules: the walk's fast path calls it with the rule of a
/// constant code (so it folds to the few tests that attribute needs) and its general path
/// with the rule of the code read. AS_PATH's value rules are checked by [`super::values::check_as_path`] as the
/// ASNs are visited (one pass); here AS_PATH is judged on its flags only.
#[inline(always)]
pub(crate) fn judge(
    rule: &Rule,
    flags: u8,
    value: &[u8],
    env: Env,
) -> Result<(), (Action, Reason)> {
    let flags_ok = flags & (O | T) == rule.flags;
    if !rule.special {
        // Checked by length alone. The common case is one branch: right flags, not an
        // attribute discarded from eBGP, right length.
        let ebgp_discard = rule.ebgp_discard & !env.ibgp;
        if flags_ok & !ebgp_discard & rule.len_ok(value.len()) {
            return Ok(());
        }
        return Err(length_rule_fault(rule, flags_ok, ebgp_discard));
    }
    if !flags_ok {
        return Err((Action::Withdraw, Reason::Flags));
    }
    let vl = value.len();
    match rule.slot {
        // RFC 7606 §7.1.
        Slot::Origin => match value {
            [o] if *o <= 2 => Ok(()),
            _ => Err((Action::Withdraw, Reason::BadOrigin)),
        },
        // RFC 7606 §7.3 and decision D5 (martians only matter with an NLRI field).
        Slot::NextHop => match decode_ipv4(value) {
            None => Err((Action::Withdraw, Reason::NextHopLen)),
            Some(a) if env.has_nlri_field && is_martian_v4(a) => {
                Err((Action::Withdraw, Reason::MartianNextHop))
            }
            Some(_) => Ok(()),
        },
        // RFC 7606 §7.7, RFC 7607 §2.
        Slot::Aggregator => {
            let asn_len = env.asn_len();
            if vl != asn_len + 4 {
                Err((Action::Discard, Reason::AggregatorLen))
            } else if has_as_zero(value.get(..asn_len).unwrap_or_default(), asn_len) {
                Err((Action::Discard, Reason::AggregatorAsZero))
            } else {
                Ok(())
            }
        }
        // RFC 6793 §6, RFC 7607 §2.
        Slot::As4Path => {
            if env.four_octet_as {
                Err((Action::Discard, Reason::As4PathFromAs4Peer))
            } else if !as4_path_ok(value) {
                Err((Action::Discard, Reason::BadAs4Path))
            } else {
                Ok(())
            }
        }
        Slot::As4Aggregator => {
            if env.four_octet_as {
                Err((Action::Discard, Reason::As4AggregatorFromAs4Peer))
            } else if vl != 8 || has_as_zero(value.get(..4).unwrap_or_default(), 4) {
                Err((Action::Discard, Reason::BadAs4Aggregator))
            } else {
                Ok(())
            }
        }
        // AS_PATH: flags only (see above). The MP attributes are the walk's (session reset),
        // the rest are checked by length above.
        _ => Ok(()),
    }
}

/// Which part of a length rule an attribute broke, in the order RFC 7606 puts them: from an
/// external peer it is discarded whatever its flags and content (§7.5, §7.9, §7.10); then
/// the flags (§3 c); then the length (§7).
#[cold]
#[inline(never)]
fn length_rule_fault(rule: &Rule, flags_ok: bool, ebgp_discard: bool) -> (Action, Reason) {
    if ebgp_discard {
        (Action::Discard, ebgp_reason(rule.slot))
    } else if !flags_ok {
        (Action::Withdraw, Reason::Flags)
    } else if rule.taw {
        (Action::Withdraw, rule.reason)
    } else {
        (Action::Discard, rule.reason)
    }
}

fn ebgp_reason(slot: Slot) -> Reason {
    match slot {
        Slot::LocalPref => Reason::LocalPrefEbgp,
        Slot::OriginatorId => Reason::OriginatorIdEbgp,
        _ => Reason::ClusterListEbgp,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The table's length rules say exactly what RFC 7606 §7 says, for every length.
    #[test]
    fn length_rules_match_rfc7606_for_every_length() {
        let rule = |code: u8| RULES[usize::from(code)];
        for len in 0..=65535usize {
            let multiple = |n: usize| len != 0 && len % n == 0;
            assert_eq!(rule(4).len_ok(len), len == 4, "MED {len}");
            assert_eq!(rule(5).len_ok(len), len == 4, "LOCAL_PREF {len}");
            assert_eq!(rule(6).len_ok(len), len == 0, "ATOMIC_AGGREGATE {len}");
            assert_eq!(rule(8).len_ok(len), multiple(4), "COMMUNITIES {len}");
            assert_eq!(rule(9).len_ok(len), len == 4, "ORIGINATOR_ID {len}");
            assert_eq!(rule(10).len_ok(len), multiple(4), "CLUSTER_LIST {len}");
            assert_eq!(rule(16).len_ok(len), multiple(8), "EXT_COMMUNITIES {len}");
            assert_eq!(rule(32).len_ok(len), multiple(12), "LARGE_COMMUNITY {len}");
            assert_eq!(rule(35).len_ok(len), len == 4, "OTC {len}");
        }
        for code in 0..=255u8 {
            let r = rule(code);
            assert_eq!(Slot::of(code), r.slot);
            // Everything not checked by length alone goes through the per-slot match.
            let by_length = matches!(code, 4 | 5 | 6 | 8 | 9 | 10 | 16 | 32 | 35);
            assert_eq!(!r.special, by_length, "code {code}");
            assert_eq!(r.ebgp_discard, matches!(code, 5 | 9 | 10), "code {code}");
        }
    }
}
