//! The values of the attributes the walk accepts: AS_PATH, checked and visited in one pass
//! (RFC 4271 §5.1.2, RFC 7606 §7.2, RFC 7607, RFC 5065, decisions D7 and D8), AS4_PATH (RFC
//! 6793 §6), and the visit of every other accepted value.

use std::net::Ipv6Addr;

use super::rules::{Reason, Slot};
use super::visit::{Sink, UpdateVisitor};
use crate::attr::{
    self as at, Aggregator, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop, Origin,
};
use crate::iana::AS_TRANS;
use crate::session::SessionContext;

/// AS_PATH checks (RFC 7606 §7.2, RFC 7607, RFC 5065, decisions D7 and D8), one pass over the
/// segments that checks their structure and visits the ASNs. The rules beyond structure (AS 0,
/// confederation segments on eBGP, AS_SET, first AS) are only noted on the way; when one may
/// be broken, or the first AS must be checked, [`as_path_rules`] names the first broken rule.
#[inline(always)]
pub(crate) fn check_as_path<S: Sink>(
    v: &[u8],
    asn_len: usize,
    cx: &SessionContext,
    sink: &mut S,
) -> Result<(), Reason> {
    let mut rest = v;
    let confed_bad = !cx.ibgp;
    let set_bad = !cx.allow_as_set;
    let mut suspect = cx.enforce_first_as & !cx.ibgp;
    while let [t, n, tail @ ..] = rest {
        let n = usize::from(*n);
        if n == 0 || !(1..=4).contains(t) {
            return Err(Reason::BadAsPath);
        }
        let Some((asns, tail)) = tail.split_at_checked(n * asn_len) else {
            return Err(Reason::BadAsPath);
        };
        let zero = match sink.visitor() {
            // Fused: each ASN is read once, tested for AS 0 and visited.
            Some(vis) => visit_asns(vis, *t, asns, asn_len),
            None => has_as_zero(asns, asn_len),
        };
        suspect |= zero | (*t >= 3 && confed_bad) | ((*t == 1 || *t == 4) && set_bad);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(Reason::BadAsPath);
    }
    if suspect {
        return as_path_rules(v, asn_len, cx);
    }
    Ok(())
}

/// The first rule beyond structure that a structurally valid AS_PATH breaks, segment by
/// segment: AS 0 (RFC 7607 §2), a confederation segment on eBGP (RFC 5065 §5), AS_SET or
/// AS_CONFED_SET (D7), then the first AS (D8).
#[cold]
#[inline(never)]
fn as_path_rules(v: &[u8], asn_len: usize, cx: &SessionContext) -> Result<(), Reason> {
    let mut rest = v;
    let mut first = true;
    while let [t, n, tail @ ..] = rest {
        let Some((asns, tail)) = tail.split_at_checked(usize::from(*n) * asn_len) else {
            return Err(Reason::BadAsPath);
        };
        if has_as_zero(asns, asn_len) {
            return Err(Reason::AsPathAsZero);
        }
        if *t >= 3 && !cx.ibgp {
            return Err(Reason::ConfedOnEbgp);
        }
        if (*t == 1 || *t == 4) && !cx.allow_as_set {
            return Err(Reason::AsSet);
        }
        if first && cx.enforce_first_as && !cx.ibgp {
            let leftmost = if asn_len == 4 {
                crate::attr::be_u32_chunk(asns)
            } else {
                u32::from(crate::attr::be_u16_chunk(asns))
            };
            let peer_ok = leftmost == cx.peer_asn
                || (asn_len == 2 && cx.peer_asn > 0xffff && leftmost == u32::from(AS_TRANS));
            if *t != 2 || !peer_ok {
                return Err(Reason::FirstAs);
            }
        }
        first = false;
        rest = tail;
    }
    if first && cx.enforce_first_as && !cx.ibgp {
        // Empty AS_PATH from an external peer.
        return Err(Reason::FirstAs);
    }
    Ok(())
}

/// Visits a segment's ASNs (RFC 4271 §5.1.2) and says whether one is AS 0 (RFC 7607 §2).
#[inline(always)]
fn visit_asns<V: UpdateVisitor>(v: &mut V, t: u8, mut asns: &[u8], asn_len: usize) -> bool {
    let Some(kind) = AsSegmentType::from_code(t) else {
        return has_as_zero(asns, asn_len);
    };
    v.as_path_segment(kind, (asns.len() / asn_len) as u8);
    let mut zero = false;
    if asn_len == 4 {
        while let Some((a, tail)) = asns.split_first_chunk::<4>() {
            let asn = u32::from_be_bytes(*a);
            zero |= asn == 0;
            v.as_path_asn(kind, asn);
            asns = tail;
        }
    } else {
        while let Some((a, tail)) = asns.split_first_chunk::<2>() {
            let asn = u32::from(u16::from_be_bytes(*a));
            zero |= asn == 0;
            v.as_path_asn(kind, asn);
            asns = tail;
        }
    }
    zero
}

/// Visits a checked AS4_PATH (RFC 6793 §6).
fn visit_as4_path<V: UpdateVisitor>(v: &mut V, value: &[u8]) {
    let mut rest = value;
    while let [t, n, tail @ ..] = rest {
        let Some((asns, tail)) = tail.split_at_checked(usize::from(*n) * 4) else {
            return;
        };
        if let Some(kind) = AsSegmentType::from_code(*t) {
            v.as4_path_segment(kind, *n);
            for a in asns.chunks_exact(4) {
                v.as4_path_asn(kind, at::be_u32_chunk(a));
            }
        }
        rest = tail;
    }
}

/// Visits the value of an accepted attribute other than AS_PATH (visited by
/// [`check_as_path`]) and the MP attributes (visited by the walk, prefix by prefix).
#[inline(always)]
pub(crate) fn visit_value<V: UpdateVisitor>(v: &mut V, slot: Slot, value: &[u8], asn_len: usize) {
    match slot {
        Slot::Origin => {
            if let Some(o) = Origin::decode_value(value) {
                v.origin(o);
            }
        }
        Slot::NextHop => {
            if let Some(a) = at::decode_ipv4(value) {
                v.next_hop(a);
            }
        }
        Slot::Med => v.med(at::be_u32_chunk(value)),
        Slot::LocalPref => v.local_pref(at::be_u32_chunk(value)),
        Slot::AtomicAggregate => v.atomic_aggregate(),
        Slot::Aggregator => {
            if let Some(a) = Aggregator::decode_value(value, asn_len) {
                v.aggregator(a);
            }
        }
        Slot::As4Path => visit_as4_path(v, value),
        Slot::As4Aggregator => {
            if let Some(a) = Aggregator::decode_value(value, 4) {
                v.as4_aggregator(a);
            }
        }
        Slot::OriginatorId => v.originator_id(at::be_u32_chunk(value).into()),
        Slot::Otc => v.otc(at::be_u32_chunk(value)),
        Slot::Communities => {
            for c in value.chunks_exact(4) {
                v.community(Community(at::be_u32_chunk(c)));
            }
        }
        Slot::ClusterList => {
            for c in value.chunks_exact(4) {
                v.cluster_id(at::be_u32_chunk(c).into());
            }
        }
        Slot::ExtCommunities => {
            for c in value.chunks_exact(8) {
                if let Some(c) = c.first_chunk::<8>() {
                    v.ext_community(ExtCommunity(*c));
                }
            }
        }
        Slot::LargeCommunity => {
            for c in value.chunks_exact(12) {
                let g = at::be_u32_chunk(c);
                let a = at::be_u32_chunk(c.get(4..).unwrap_or_default());
                let l = at::be_u32_chunk(c.get(8..).unwrap_or_default());
                v.large_community(LargeCommunity::new(g, a, l));
            }
        }
        Slot::Unknown | Slot::AsPath | Slot::MpReach | Slot::MpUnreach => {}
    }
}

/// Whether a segment body holds AS 0 (RFC 7607 §2).
#[inline(always)]
pub(crate) fn has_as_zero(mut asns: &[u8], asn_len: usize) -> bool {
    if asn_len == 4 {
        while let Some((a, tail)) = asns.split_first_chunk::<4>() {
            if u32::from_ne_bytes(*a) == 0 {
                return true;
            }
            asns = tail;
        }
    } else {
        while let Some((a, tail)) = asns.split_first_chunk::<2>() {
            if u16::from_ne_bytes(*a) == 0 {
                return true;
            }
            asns = tail;
        }
    }
    false
}

/// AS4_PATH (RFC 6793 §6): well-formed 4-octet segments, no AS 0 (RFC 7607 §2).
pub(crate) fn as4_path_ok(v: &[u8]) -> bool {
    let mut rest = v;
    while let [t, n, tail @ ..] = rest {
        let n = usize::from(*n);
        if n == 0 || !(1..=4).contains(t) {
            return false;
        }
        let Some((asns, tail)) = tail.split_at_checked(n * 4) else {
            return false;
        };
        if has_as_zero(asns, 4) {
            return false;
        }
        rest = tail;
    }
    rest.is_empty() && !v.is_empty()
}

/// [`NextHop::decode_value`] for a next-hop field `check_mp` accepted (4, 16 or 32 octets),
/// without a branch on 16 versus 32 octets for callers that ignore the link-local address.
#[inline(always)]
pub(crate) fn checked_next_hop(v: &[u8]) -> Option<NextHop> {
    if let Some(a) = at::decode_ipv4(v) {
        return Some(NextHop::V4(a));
    }
    let (global, rest) = v.split_first_chunk::<16>()?;
    Some(NextHop::V6 {
        global: Ipv6Addr::from(*global),
        link_local: rest.first_chunk::<16>().map(|l| Ipv6Addr::from(*l)),
    })
}
