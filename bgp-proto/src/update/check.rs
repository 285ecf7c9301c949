//! The one walk over an UPDATE: structure (RFC 4271 §4.3, §6.3) and the RFC 7606
//! classification of every attribute, with the project decisions D1-D8 of
//! `docs/error-handling.md`.

use std::net::Ipv6Addr;

use bytes::Bytes;

use super::nlri::{check_nlri, walk_nlri, NlriError};
use super::rules::{judge, rule, rule_of, Action, Env, Reason, Slot, NSLOTS};
use super::values::{check_as_path, checked_next_hop, visit_value};
use super::visit::{Sink, UpdateVisitor};
use super::{MpInfo, UpdateView, MAX_DISCARDED};
use crate::addr::{is_martian_v4, is_martian_v6};
use crate::attr::{FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL, FLAG_TRANSITIVE};
use crate::error::HeaderError;
use crate::iana::{AttrType, ErrorCode, Family, MessageType, Safi};
use crate::session::SessionContext;
use crate::DecodeError;

/// A byte range inside the message (messages are at most 65535 octets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u16,
    end: u16,
}

impl Span {
    #[inline]
    fn new(start: usize, end: usize) -> Span {
        // Callers pass offsets inside a message, whose length (checked against its 2-octet
        // length field) fits in u16, so the casts are exact.
        Span {
            start: start as u16,
            end: end as u16,
        }
    }

    pub(crate) fn range(self) -> core::ops::Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }

    pub(crate) fn len(self) -> usize {
        usize::from(self.end.saturating_sub(self.start))
    }

    pub(crate) fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Splits one attribute off the front of `b`: (flags, type, value, rest), or `None` when the
/// header or the value does not fit (RFC 7606 §4).
#[inline(always)]
pub(crate) fn split_attr(b: &[u8]) -> Option<(u8, u8, &[u8], &[u8])> {
    let (&[flags, code], rest) = b.split_first_chunk::<2>()?;
    let (len, rest) = if flags & FLAG_EXTENDED_LENGTH != 0 {
        let (l, r) = rest.split_first_chunk::<2>()?;
        (usize::from(u16::from_be_bytes(*l)), r)
    } else {
        let (l, r) = rest.split_first()?;
        (usize::from(*l), r)
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((flags, code, value, rest))
}

/// The attribute at the front of `here`, followed by `tail_len` octets.
#[inline(always)]
fn whole(here: &[u8], tail_len: usize) -> &[u8] {
    here.get(..here.len().saturating_sub(tail_len))
        .unwrap_or_default()
}

// The error constructors are cold and out of line, so the inlined walk stays small.
#[cold]
#[inline(never)]
fn header_error(e: HeaderError) -> DecodeError {
    e.into()
}

#[cold]
#[inline(never)]
fn reset(subcode: u8, reason: &'static str) -> DecodeError {
    DecodeError::reset(ErrorCode::UPDATE_MESSAGE, subcode, Bytes::new(), reason)
}

#[cold]
#[inline(never)]
fn reset_attr(data: &[u8], reason: &'static str) -> DecodeError {
    DecodeError::reset(
        ErrorCode::UPDATE_MESSAGE,
        9,
        Bytes::copy_from_slice(data),
        reason,
    )
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(usize::from(u16::from_be_bytes([*s.first()?, *s.get(1)?])))
}

/// Families whose NLRI this codec parses: IPv4/IPv6 unicast and multicast.
fn supported(f: Family) -> bool {
    (f.afi.0 == 1 || f.afi.0 == 2) && (f.safi == Safi::UNICAST || f.safi == Safi::MULTICAST)
}

/// The RFC 7606 outcome gathered by the walk (a field of the view).
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// (type code, reason) of the first treat-as-withdraw cause; reason 0 = accept.
    pub(crate) taw: (u8, Reason),
    pub(crate) discarded: [(u8, Reason); MAX_DISCARDED],
    pub(crate) n_discarded: u8,
    /// Bit per slot: not reported by the accessors (invalid or discarded).
    pub(crate) skip: u32,
}

impl Outcome {
    // Cold: a well-formed UPDATE never gets here.
    #[cold]
    #[inline(never)]
    fn taw(&mut self, code: u8, slot: Slot, r: Reason) {
        if self.taw.1 == Reason::None {
            self.taw = (code, r);
        }
        self.skip |= slot.bit();
    }

    #[cold]
    #[inline(never)]
    fn discard(&mut self, code: u8, slot: Slot, r: Reason) {
        if let Some(d) = self.discarded.get_mut(usize::from(self.n_discarded)) {
            *d = (code, r);
            self.n_discarded += 1;
        }
        self.skip |= slot.bit();
    }
}

/// Inlined into the caller (through [`UpdateView::new_checked`]): the view is then built in
/// the caller's frame, field by field, instead of being assembled here and copied out (168
/// octets per message), and a caller that reads only some fields pays only for those.
#[inline(always)]
pub(crate) fn check<B: AsRef<[u8]>, S: Sink>(
    buf: B,
    cx: &SessionContext,
    sink: &mut S,
) -> Result<UpdateView<B>, DecodeError> {
    walk::<B, S, true>(buf, cx, sink)
}

/// [`check`], with its fast path (`FAST`) or without it: the differential test compares
/// the two on every input.
#[inline(always)]
pub(crate) fn walk<B: AsRef<[u8]>, S: Sink, const FAST: bool>(
    buf: B,
    cx: &SessionContext,
    sink: &mut S,
) -> Result<UpdateView<B>, DecodeError> {
    let b = buf.as_ref();
    let len = b.len();
    // Header (RFC 4271 §4.1, §6.1). Framing normally checked this already.
    let Some(marker) = b.first_chunk::<16>() else {
        return Err(header_error(HeaderError::BadLength(
            u16::try_from(len).unwrap_or(u16::MAX),
        )));
    };
    if u128::from_ne_bytes(*marker) != u128::MAX {
        return Err(header_error(HeaderError::ConnectionNotSynchronized));
    }
    let field = be16(b, 16).unwrap_or(0);
    if field != len || !(23..=cx.max_message_len()).contains(&len) {
        return Err(header_error(HeaderError::BadLength(
            u16::try_from(field).unwrap_or(u16::MAX),
        )));
    }
    let ty = b.get(18).copied().unwrap_or(0);
    if ty != MessageType::UPDATE.0 {
        return Err(header_error(HeaderError::BadType(ty)));
    }

    // RFC 7606 §3 b: the two length fields must fit the message.
    let wd_len = be16(b, 19).unwrap_or(0);
    let wd_end = 21 + wd_len;
    let attr_len = match be16(b, wd_end) {
        Some(l) if wd_end + 2 <= len => l,
        _ => {
            return Err(reset(
                1,
                "Withdrawn Routes Length overruns the message (RFC 7606 §3 b)",
            ))
        }
    };
    let attrs_start = wd_end + 2;
    let attrs_end = attrs_start + attr_len;
    if attrs_end > len {
        return Err(reset(
            1,
            "Total Path Attribute Length overruns the message (RFC 7606 §3 b)",
        ));
    }
    let add_path_v4 = cx.add_path_rx(Family::IPV4_UNICAST);
    let wd = b.get(21..wd_end).unwrap_or_default();
    let nl = b.get(attrs_end..).unwrap_or_default();
    // RFC 7606 §3 i, §5.3: withdrawn routes and NLRI field -> 3/10.
    if let Some(v) = sink.visitor() {
        // Fused: each prefix is checked and decoded in the same step; the first malformed
        // one gives the same error as `check_nlri` (withdrawn field first).
        let r = walk_nlri(b, 21, wd_end, false, add_path_v4, |n| v.withdrawn(n))
            .and_then(|()| walk_nlri(b, attrs_end, len, false, add_path_v4, |n| v.announced(n)));
        match r {
            Ok(()) => {}
            Err(NlriError::TooLong) => {
                return Err(reset(10, "prefix length above 32 (RFC 7606 §5.3)"));
            }
            Err(NlriError::Overrun) => {
                return Err(reset(10, "prefix overruns the field (RFC 7606 §5.3)"));
            }
        }
    }
    for field in [wd, nl] {
        if S::ACTIVE {
            break;
        }
        match check_nlri(field, 32, add_path_v4) {
            Ok(_) => {}
            Err(NlriError::TooLong) => {
                return Err(reset(10, "prefix length above 32 (RFC 7606 §5.3)"));
            }
            Err(NlriError::Overrun) => {
                return Err(reset(10, "prefix overruns the field (RFC 7606 §5.3)"));
            }
        }
    }
    let has_nlri_field = !nl.is_empty();

    let mut slots = [Span::default(); NSLOTS];
    let mut present = 0u32;
    let mut has_other = false;
    let mut mp_reach = MpInfo::default();
    let mut mp_unreach = MpInfo::default();
    let mut out = Outcome {
        taw: (0, Reason::None),
        discarded: [(0, Reason::None); MAX_DISCARDED],
        n_discarded: 0,
        skip: 0,
    };
    let mut seen_unknown = [0u64; 4];
    let mut framing_error = false;

    // `rest` always ends at `attrs_end`, so offsets follow from its length.
    let mut rest = b.get(attrs_start..attrs_end).unwrap_or_default();

    let env = Env {
        ibgp: cx.ibgp,
        four_octet_as: cx.four_octet_as,
        has_nlri_field,
    };
    let asn_len = env.asn_len();

    // The fast path is `judge` and `use_value` called with a constant type code, so each step
    // folds to the few tests its attribute needs; it states no rule of its own. An attribute
    // it does not take goes to the general path untouched. The differential test
    // (`differential_tests.rs`) runs every input through the walk with `FAST` false too and
    // compares everything it returns and visits.
    //
    // The prelude: most speakers send the common attributes first and in type-code order. Each step takes the next attribute if it has the step's type code and
    // `judge` accepts it; the codes only ascend, so none can be a repeat. At the first
    // attribute not taken, the loop below carries on from it. Straight-line steps, one
    // conditional branch each, rather than an indirect jump per attribute: in the codec bench
    // this took the fused decode from about 0.90 to about 1.0 times the unchecked floor. A
    // second fast path, a `match` on the same codes inside the loop for attributes out of
    // order, was measured and dropped: without it the fused decode was 0.94x the floor on
    // both inputs, with it 0.91x (RIS) and 0.93x (synthetic).
    'prelude: {
        if !FAST {
            break 'prelude;
        }
        let Some(mut a) = split_attr(rest) else {
            break 'prelude;
        };
        macro_rules! steps {
            ($($code:literal)*) => {$(
                if a.1 == $code {
                    if judge(&const { rule_of($code) }, a.0, a.2, env).is_err() {
                        break 'prelude;
                    }
                    let slot = const { rule_of($code).slot };
                    let vend = attrs_end - a.3.len();
                    present |= slot.bit();
                    set_slot(&mut slots, slot, vend - a.2.len(), vend);
                    use_value(&mut out, $code, slot, a.2, asn_len, cx, sink);
                    rest = a.3;
                    a = match split_attr(rest) {
                        Some(a) => a,
                        None => break 'prelude,
                    };
                }
            )*};
        }
        steps!(1 2 3 4 5 6 7 8 9 10 16 32 35);
        // The loop below splits the next attribute (MP_REACH_NLRI, usually) off `rest` again;
        // the last step's `a` is not needed.
        let _ = a;
    }

    while !rest.is_empty() {
        let here = rest;
        let Some((flags, code, value, tail)) = split_attr(rest) else {
            // RFC 7606 §4: treat-as-withdraw and find NLRI from Total Path Attribute Length;
            // a truncated MP_* attribute cannot be parsed (§3 j, §5.3): 3/9 (D2).
            let code = rest.get(1).copied().unwrap_or(0);
            if code == AttrType::MP_REACH_NLRI.0 || code == AttrType::MP_UNREACH_NLRI.0 {
                return Err(reset_attr(
                    rest,
                    "MP attribute overruns the path attributes (RFC 7606 §5.3)",
                ));
            }
            out.taw(code, Slot::Unknown, Reason::Framing);
            framing_error = true;
            break;
        };
        let vend = attrs_end - tail.len();
        let vstart = vend - value.len();
        rest = tail;
        // The whole attribute, for NOTIFICATION data (MP attributes and error paths only).
        let tail_len = tail.len();

        // The general path.
        let rule = rule(code);
        let slot = rule.slot;
        if slot == Slot::Unknown {
            has_other = true;
            let (wi, bit) = (usize::from(code >> 6), 1u64 << (code & 63));
            if let Some(word) = seen_unknown.get_mut(wi) {
                if *word & bit != 0 {
                    out.discard(code, Slot::Unknown, Reason::Duplicate);
                    continue;
                }
                *word |= bit;
            }
            // Attributes carried raw but with RFC 7606 rules (ERROR-HANDLING.md §1.4);
            // a discarded one is never visited.
            let malformed = if flags & FLAG_OPTIONAL != 0 && super::raw::CHECKED.contains(&code) {
                super::raw::check(code, value)
            } else {
                None
            };
            if let Some((false, reason)) = malformed {
                out.discard(code, Slot::Unknown, reason);
                continue;
            }
            if let Some(v) = sink.visitor() {
                v.unknown(flags, AttrType(code), value);
            }
            if flags & FLAG_OPTIONAL == 0 {
                out.taw(code, Slot::Unknown, Reason::UnrecognisedWellKnown);
            } else if let Some((true, reason)) = malformed {
                out.taw(code, Slot::Unknown, reason);
            }
            continue;
        }
        if present & slot.bit() != 0 {
            // RFC 7606 §3 g.
            if slot == Slot::MpReach || slot == Slot::MpUnreach {
                return Err(reset(
                    1,
                    "MP_REACH_NLRI or MP_UNREACH_NLRI appears twice (RFC 7606 §3 g)",
                ));
            }
            has_other = true;
            out.discard(code, Slot::Unknown, Reason::Duplicate);
            continue;
        }
        present |= slot.bit();
        set_slot(&mut slots, slot, vstart, vend);
        match slot {
            // RFC 7606 §5.3: stronger than the generic flags rule (§3 c).
            Slot::MpReach | Slot::MpUnreach
                if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) != rule.flags =>
            {
                return Err(reset_attr(
                    whole(here, tail_len),
                    "MP attribute flags are not optional non-transitive (RFC 7606 §5.3)",
                ));
            }
            Slot::MpReach => {
                let m = check_mp(value, whole(here, tail_len), vstart, true, !S::ACTIVE, cx)?;
                if !m.active {
                    out.discard(code, slot, Reason::MpReachNotNegotiated);
                } else if !m.nlri.is_empty() && martian_mp_next_hop(b.get(m.next_hop.range())) {
                    out.taw(code, Slot::Unknown, Reason::MartianMpNextHop);
                }
                if let (Some(v), true) = (sink.visitor(), m.active) {
                    let family = Family::new(m.family.0.into(), m.family.1.into());
                    if let Some(nh) = b.get(m.next_hop.range()).and_then(checked_next_hop) {
                        v.mp_next_hop(family, nh);
                    }
                    // Fused: the prefixes are checked here, not in check_mp, with the same error.
                    let r = m.nlri.range();
                    let v6 = m.family.0 == 2;
                    if let Err(e) = walk_nlri(b, r.start, r.end, v6, m.add_path, |n| v.announced(n))
                    {
                        return Err(mp_nlri_error(whole(here, tail_len), e));
                    }
                }
                mp_reach = m;
            }
            Slot::MpUnreach => {
                let m = check_mp(value, whole(here, tail_len), vstart, false, !S::ACTIVE, cx)?;
                if !m.active {
                    out.discard(code, slot, Reason::MpUnreachNotNegotiated);
                }
                if let (Some(v), true) = (sink.visitor(), m.active) {
                    // Fused: the prefixes are checked here, not in check_mp, with the same error.
                    let r = m.nlri.range();
                    let v6 = m.family.0 == 2;
                    if let Err(e) = walk_nlri(b, r.start, r.end, v6, m.add_path, |n| v.withdrawn(n))
                    {
                        return Err(mp_nlri_error(whole(here, tail_len), e));
                    }
                }
                mp_unreach = m;
            }
            _ => match judge(rule, flags, value, env) {
                Ok(()) => use_value(&mut out, code, slot, value, asn_len, cx, sink),
                Err((Action::Withdraw, r)) => out.taw(code, slot, r),
                Err((Action::Discard, r)) => out.discard(code, slot, r),
            },
        }
    }

    // RFC 7606 §3 d with RFC 4760 §3: mandatory attributes when there is something to
    // announce; NEXT_HOP only with the NLRI field.
    // An MP_REACH_NLRI of an ignored family (D3) counts as reachable: treat-as-withdraw is
    // then a no-op for us, and D3 keeps the session rather than resetting it under §5.2.
    let reachable =
        has_nlri_field || (mp_reach.present && (!mp_reach.active || !mp_reach.nlri.is_empty()));
    if reachable && !framing_error {
        if present & Slot::Origin.bit() == 0 {
            out.taw(AttrType::ORIGIN.0, Slot::Unknown, Reason::MissingOrigin);
        }
        if present & Slot::AsPath.bit() == 0 {
            out.taw(AttrType::AS_PATH.0, Slot::Unknown, Reason::MissingAsPath);
        }
        if has_nlri_field && present & Slot::NextHop.bit() == 0 {
            out.taw(AttrType::NEXT_HOP.0, Slot::Unknown, Reason::MissingNextHop);
        }
    }
    // RFC 7606 §5.2: treat-as-withdraw without reachable NLRI would do nothing: reset.
    if out.taw.1 != Reason::None && !reachable {
        return Err(reset(
            1,
            "attribute error needing treat-as-withdraw in an UPDATE without NLRI (RFC 7606 §5.2)",
        ));
    }

    Ok(UpdateView {
        buf,
        withdrawn: Span::new(21, wd_end),
        attrs: Span::new(attrs_start, attrs_end),
        nlri: Span::new(attrs_end, len),
        slots,
        present,
        mp_reach,
        mp_unreach,
        has_other,
        out,
        four_octet_as: cx.four_octet_as,
        add_path_v4,
    })
}

/// Records where the value of the first `slot` attribute is.
#[inline(always)]
fn set_slot(slots: &mut [Span; NSLOTS], slot: Slot, vstart: usize, vend: usize) {
    if let Some(s) = slots.get_mut(slot as usize) {
        *s = Span::new(vstart, vend);
    }
}

/// Uses the value of the first occurrence of an attribute [`judge`] accepted: AS_PATH is
/// checked (its value rules) and visited in one pass, any other value is visited.
#[inline(always)]
fn use_value<S: Sink>(
    out: &mut Outcome,
    code: u8,
    slot: Slot,
    value: &[u8],
    asn_len: usize,
    cx: &SessionContext,
    sink: &mut S,
) {
    if slot == Slot::AsPath {
        if let Err(r) = check_as_path(value, asn_len, cx, sink) {
            out.taw(code, slot, r);
        }
    } else if let Some(v) = sink.visitor() {
        visit_value(v, slot, value, asn_len);
    }
}

#[inline]
fn martian_mp_next_hop(nh: Option<&[u8]>) -> bool {
    match nh {
        Some(&[a, b, c, d]) => is_martian_v4([a, b, c, d].into()),
        Some(v) if v.len() >= 16 => match v.first_chunk::<16>() {
            Some(g) => is_martian_v6(Ipv6Addr::from(*g)),
            None => false,
        },
        _ => false,
    }
}

/// A malformed prefix in MP_REACH_NLRI or MP_UNREACH_NLRI: 3/9 with the attribute as data
/// (RFC 7606 §5.3, decision D2).
#[cold]
#[inline(never)]
fn mp_nlri_error(whole: &[u8], e: NlriError) -> DecodeError {
    reset_attr(
        whole,
        match e {
            NlriError::TooLong => "MP prefix length too long for the AFI (RFC 7606 §5.3)",
            NlriError::Overrun => "MP prefix overruns the attribute (RFC 7606 §5.3)",
        },
    )
}

/// MP_REACH_NLRI (RFC 4760 §3) or MP_UNREACH_NLRI (§4): every malformation is a session reset
/// with 3/9 and the attribute as data (RFC 7606 §5.3, decision D2).
#[inline(always)]
fn check_mp(
    value: &[u8],
    whole: &[u8],
    vstart: usize,
    reach: bool,
    check_prefixes: bool,
    cx: &SessionContext,
) -> Result<MpInfo, DecodeError> {
    let min = if reach { 5 } else { 3 };
    let (Some(&[a0, a1, safi]), true) = (value.first_chunk::<3>(), value.len() >= min) else {
        return Err(reset_attr(
            whole,
            if reach {
                "MP_REACH_NLRI shorter than 5 octets (RFC 7606 §5.3)"
            } else {
                "MP_UNREACH_NLRI shorter than 3 octets (RFC 7606 §5.3)"
            },
        ));
    };
    let afi = u16::from_be_bytes([a0, a1]);
    let family = Family::new(afi.into(), safi.into());
    let mut m = MpInfo {
        present: true,
        family: (afi, safi),
        ..MpInfo::default()
    };
    if !cx.families.contains(family) || !supported(family) {
        // Decision D3: ignored, session kept.
        return Ok(m);
    }
    let mut nlri_start = 3;
    if reach {
        let nh_len = usize::from(value.get(3).copied().unwrap_or(0));
        let ok_len = match afi {
            1 => {
                nh_len == 4
                    || ((nh_len == 16 || nh_len == 32) && cx.extended_next_hop.contains(family))
            }
            _ => nh_len == 16 || nh_len == 32,
        };
        if !ok_len {
            return Err(reset_attr(
                whole,
                "MP_REACH_NLRI next-hop length does not fit the AFI (RFC 7606 §7.11)",
            ));
        }
        // AFI, SAFI, length, next hop, reserved octet.
        nlri_start = 4 + nh_len + 1;
        if nlri_start > value.len() {
            return Err(reset_attr(
                whole,
                "MP_REACH_NLRI next hop overruns the attribute (RFC 7606 §5.3)",
            ));
        }
        m.next_hop = Span::new(vstart + 4, vstart + 4 + nh_len);
    }
    let nlri = value.get(nlri_start..).unwrap_or_default();
    let max_bits = if afi == 1 { 32 } else { 128 };
    m.add_path = cx.add_path_rx(family);
    // With `check_prefixes` false the caller walks the prefixes itself (the fused decode)
    // and reports a failure with `mp_nlri_error`, as here.
    if check_prefixes {
        if let Err(e) = check_nlri(nlri, max_bits, m.add_path) {
            return Err(mp_nlri_error(whole, e));
        }
    }
    m.nlri = Span::new(vstart + nlri_start, vstart + value.len());
    m.active = true;
    Ok(m)
}
