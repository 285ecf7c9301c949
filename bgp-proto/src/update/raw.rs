//! RFC 7606 outcomes of the optional attributes bgp-proto passes on raw (ERROR-HANDLING.md
//! §1.4): length and TLV framing only, on the cold path of [`super::check`].

use super::check::split_attr;
use super::rules::Reason;

/// Optional attributes bgp-proto passes on raw whose malformed forms still have an RFC 7606
/// outcome: TRAFFIC_ENGINEERING, IPv6 Address Specific Extended Community, AIGP, BGP
/// Prefix-SID, ATTR_SET.
pub(crate) const CHECKED: [u8; 5] = [24, 25, 26, 40, 128];

/// `Some((treat_as_withdraw, reason))` when a [`CHECKED`] attribute is malformed;
/// `false` means attribute discard (ERROR-HANDLING.md §1.4).
#[cold]
#[inline(never)]
pub(crate) fn check(code: u8, value: &[u8]) -> Option<(bool, Reason)> {
    match code {
        // RFC 5543 §2: switching capability, encoding, 2 reserved octets and eight 4-octet
        // bandwidths come first. Malformed: treat-as-withdraw.
        24 => (value.len() < 36).then_some((true, Reason::TrafficEngineeringLen)),
        // RFC 7606 §7.15 / RFC 5701: 20-octet entries. Treat-as-withdraw.
        25 => (value.is_empty() || !value.len().is_multiple_of(20))
            .then_some((true, Reason::Ipv6ExtCommunitiesLen)),
        // RFC 7311 §3: TLVs whose length counts the 3-octet header; the AIGP TLV (type 1) is
        // 11 octets. Malformed: attribute discard, as FRR and BIRD do.
        26 => (!tlvs_ok(value, true, |t, len| t != 1 || len == 11))
            .then_some((false, Reason::BadAigp)),
        // RFC 8669 §3: TLVs whose length counts the value only; Label-Index (type 1) is 7
        // octets, Originator SRGB (type 3) 2 octets of flags and 6 per range, at least one.
        // §6: a malformed Prefix-SID is ignored and not propagated (attribute discard).
        40 => (!tlvs_ok(value, false, |t, len| match t {
            1 => len == 7,
            3 => len >= 8 && (len - 2) % 6 == 0,
            _ => true,
        }))
        .then_some((false, Reason::BadPrefixSid)),
        // RFC 6368 §5: a 4-octet Origin AS, then path attributes that fill the rest exactly.
        // Malformed: treat-as-withdraw.
        128 => (!attr_set_ok(value)).then_some((true, Reason::BadAttrSet)),
        _ => None,
    }
}

/// TLVs of 1-octet type and 2-octet length (of the whole TLV when `len_includes_header`, of
/// the value otherwise) that fill `v` exactly, each accepted by `ok(type, value length)`.
fn tlvs_ok(mut v: &[u8], len_includes_header: bool, ok: impl Fn(u8, usize) -> bool) -> bool {
    if v.is_empty() {
        return false;
    }
    while let [t, l0, l1, rest @ ..] = v {
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let value_len = if len_includes_header {
            match len.checked_sub(3) {
                Some(n) => n,
                None => return false,
            }
        } else {
            len
        };
        let (Some(_), Some(tail)) = (rest.get(..value_len), rest.get(value_len..)) else {
            return false;
        };
        let whole = if len_includes_header { len } else { value_len };
        if !ok(*t, whole) {
            return false;
        }
        v = tail;
    }
    v.is_empty()
}

fn attr_set_ok(v: &[u8]) -> bool {
    let Some(mut rest) = v.get(4..) else {
        return false;
    };
    while !rest.is_empty() {
        match split_attr(rest) {
            Some((_, _, _, tail)) => rest = tail,
            None => return false,
        }
    }
    true
}
