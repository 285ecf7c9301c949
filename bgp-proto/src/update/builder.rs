//! UPDATE encoding for one session: many NLRI sharing one attribute set packed into as few
//! messages as the negotiated maximum length allows (RFC 4271 §4.3, RFC 8654 §4).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use ipnet::IpNet;

use crate::attr::{
    NextHop, Nlri, PathAttributes, RawAttr, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL, FLAG_TRANSITIVE,
};
use crate::iana::{AttrType, Family, AS_TRANS};
use crate::session::SessionContext;

const HEADER: usize = 19;
/// Header, Withdrawn Routes Length, Total Path Attribute Length.
const FIXED: usize = HEADER + 2 + 2;

/// Encodes UPDATEs for one session, splitting at the session's maximum message length.
///
/// - IPv4 NLRI with an IPv4 next hop go in the NLRI field with NEXT_HOP (RFC 4271 §4.3).
/// - IPv6 NLRI, and IPv4 NLRI with an IPv6 next hop (RFC 8950), go in MP_REACH_NLRI, which is
///   written first (RFC 7606 §5.1). An IPv6 route with an IPv4 next hop gets the IPv4-mapped
///   IPv6 address.
/// - IPv4 withdrawals use the Withdrawn Routes field, IPv6 ones MP_UNREACH_NLRI.
/// - Other attributes follow in type-code order; the Extended Length flag is set only when a
///   value exceeds 255 octets.
/// - NLRI carry path identifiers when `cx.add_path_tx` has their family (RFC 7911 §3).
/// - Without 4-octet AS (RFC 6793 §4.2.2), ASNs above 65535 are written as AS_TRANS in
///   AS_PATH / AGGREGATOR and the real values go in AS4_PATH / AS4_AGGREGATOR.
#[derive(Debug, Clone, Copy)]
pub struct UpdateBuilder<'a> {
    cx: &'a SessionContext,
}

impl<'a> UpdateBuilder<'a> {
    /// A builder for the negotiated session `cx`.
    pub fn new(cx: &'a SessionContext) -> Self {
        UpdateBuilder { cx }
    }

    /// Appends UPDATEs announcing `nlri` (all of one address family) with `attrs` and
    /// `next_hop` to `dst`; returns the number of messages written. IPv4 NLRI with an IPv4
    /// next hop use the NLRI field and NEXT_HOP; everything else uses MP_REACH_NLRI.
    ///
    /// Mixed IPv4 and IPv6 NLRI are accepted and written as separate messages. Writes nothing
    /// for a family when the attributes alone do not fit in one message.
    pub fn announce(
        &self,
        attrs: &PathAttributes,
        next_hop: &NextHop,
        nlri: &[Nlri],
        dst: &mut BytesMut,
    ) -> usize {
        if nlri.is_empty() {
            return 0;
        }
        let (v4, v6) = split_families(nlri);
        let mut n = 0;
        if !v4.is_empty() {
            n += self.announce_family(attrs, next_hop, &v4, false, dst);
        }
        if !v6.is_empty() {
            n += self.announce_family(attrs, next_hop, &v6, true, dst);
        }
        n
    }

    /// Appends UPDATEs withdrawing `nlri` (all of one address family); returns the number of
    /// messages written.
    pub fn withdraw(&self, nlri: &[Nlri], dst: &mut BytesMut) -> usize {
        let (v4, v6) = split_families(nlri);
        let mut n = 0;
        if !v4.is_empty() {
            n += self.withdraw_family(&v4, false, dst);
        }
        if !v6.is_empty() {
            n += self.withdraw_family(&v6, true, dst);
        }
        n
    }

    /// Appends an End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for IPv4
    /// unicast, else an UPDATE with only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(&self, family: Family, dst: &mut BytesMut) {
        if family == Family::IPV4_UNICAST {
            put_header(dst, FIXED);
            dst.put_u32(0);
            return;
        }
        put_header(dst, FIXED + 6);
        dst.put_u16(0);
        dst.put_u16(6);
        dst.put_slice(&[FLAG_OPTIONAL, AttrType::MP_UNREACH_NLRI.0, 3]);
        dst.put_u16(family.afi.0);
        dst.put_u8(family.safi.0);
    }

    /// Writes the path attributes of `attrs` (not MP_*), with NEXT_HOP when `next_hop` is
    /// given, in type-code order, as they appear in an UPDATE from this builder.
    pub fn encode_attributes(
        &self,
        attrs: &PathAttributes,
        next_hop: Option<Ipv4Addr>,
        dst: &mut BytesMut,
    ) {
        encode_attributes(self.cx, attrs, next_hop, dst);
    }

    fn announce_family(
        &self,
        attrs: &PathAttributes,
        next_hop: &NextHop,
        nlri: &[Nlri],
        v6: bool,
        dst: &mut BytesMut,
    ) -> usize {
        let mut block = BytesMut::with_capacity(256);
        let classic = match (v6, next_hop) {
            (false, NextHop::V4(a)) => Some(*a),
            _ => None,
        };
        encode_attributes(self.cx, attrs, classic, &mut block);
        let mut pre = BytesMut::with_capacity(64 + block.len());
        if classic.is_some() {
            // Withdrawn Routes Length 0, Total Path Attribute Length, attributes; NLRI field.
            pre.put_u16(0);
            pre.put_u16(u16::try_from(block.len()).unwrap_or(u16::MAX));
            pre.put_slice(&block);
            let layout = Layout {
                pre: &pre,
                post: &[],
                kind: Kind::ClassicAnnounce,
            };
            let ap = self.cx.add_path_tx(Family::IPV4_UNICAST);
            return pack(&layout, nlri, ap, self.cx.max_message_len(), dst);
        }
        let family = if v6 {
            Family::IPV6_UNICAST
        } else {
            Family::IPV4_UNICAST
        };
        let nh = match (v6, *next_hop) {
            (true, NextHop::V4(a)) => NextHop::V6 {
                global: a.to_ipv6_mapped(),
                link_local: None,
            },
            (_, nh) => nh,
        };
        // Withdrawn Routes Length 0, Total Path Attribute Length (patched), MP_REACH_NLRI
        // first (RFC 7606 §5.1) with an extended header (shrunk when short), then the rest.
        pre.put_u16(0);
        pre.put_u16(0);
        pre.put_slice(&[
            FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH,
            AttrType::MP_REACH_NLRI.0,
            0,
            0,
        ]);
        pre.put_u16(family.afi.0);
        pre.put_u8(family.safi.0);
        pre.put_u8(nh.encoded_len() as u8); // 4, 16 or 32
        nh.encode_value(&mut pre);
        pre.put_u8(0);
        let fixed_value = 2 + 1 + 1 + nh.encoded_len() + 1;
        let layout = Layout {
            pre: &pre,
            post: &block,
            kind: Kind::Mp { fixed_value },
        };
        pack(
            &layout,
            nlri,
            self.cx.add_path_tx(family),
            self.cx.max_message_len(),
            dst,
        )
    }

    fn withdraw_family(&self, nlri: &[Nlri], v6: bool, dst: &mut BytesMut) -> usize {
        let max = self.cx.max_message_len();
        if !v6 {
            // Withdrawn Routes Length (patched), routes, Total Path Attribute Length 0.
            let layout = Layout {
                pre: &[0, 0],
                post: &[0, 0],
                kind: Kind::ClassicWithdraw,
            };
            return pack(
                &layout,
                nlri,
                self.cx.add_path_tx(Family::IPV4_UNICAST),
                max,
                dst,
            );
        }
        let family = Family::IPV6_UNICAST;
        let [a0, a1] = family.afi.0.to_be_bytes();
        let pre = [
            0,
            0,
            0,
            0,
            FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH,
            AttrType::MP_UNREACH_NLRI.0,
            0,
            0,
            a0,
            a1,
            family.safi.0,
        ];
        let layout = Layout {
            pre: &pre,
            post: &[],
            kind: Kind::Mp { fixed_value: 3 },
        };
        pack(&layout, nlri, self.cx.add_path_tx(family), max, dst)
    }
}

/// The parts of every message of one run: the octets after the header and before the NLRI,
/// those after the NLRI, and which length fields depend on the NLRI.
struct Layout<'a> {
    pre: &'a [u8],
    post: &'a [u8],
    kind: Kind,
}

enum Kind {
    /// Lengths are all known in advance.
    ClassicAnnounce,
    /// The Withdrawn Routes Length (offset 19) is the NLRI length.
    ClassicWithdraw,
    /// `pre` starts with Withdrawn Routes Length 0, Total Path Attribute Length, then an MP_*
    /// attribute with a 4-octet header whose value is `fixed_value` octets plus the NLRI.
    Mp { fixed_value: usize },
}

/// Longest NLRI encoding (path id, length, 16 octets): slack written past the end.
const SLACK: usize = 21;

/// Writes as many messages as needed for `nlri`, each as full as `max` allows. One pass over
/// the NLRI, writing straight into `dst`.
fn pack(layout: &Layout<'_>, nlri: &[Nlri], ap: bool, max: usize, dst: &mut BytesMut) -> usize {
    let fixed = HEADER + layout.pre.len() + layout.post.len();
    let Some(budget) = max.checked_sub(fixed) else {
        return 0;
    };
    let mut msgs = 0;
    let mut rest = nlri;
    while !rest.is_empty() {
        let start = dst.len();
        dst.resize(start + max + SLACK, 0);
        let Some(msg) = dst.get_mut(start..) else {
            break;
        };
        let (hdr, body) = msg.split_at_mut(HEADER.min(msg.len()));
        hdr.fill(0xff);
        if let Some(t) = hdr.last_mut() {
            *t = 2;
        }
        let (pre, body) = body.split_at_mut(layout.pre.len().min(body.len()));
        pre.copy_from_slice(layout.pre);
        let (taken, nlri_len) = write_nlri(body, rest, ap, budget);
        if taken == 0 {
            dst.truncate(start);
            break;
        }
        if let Some(post) = body.get_mut(nlri_len..nlri_len + layout.post.len()) {
            post.copy_from_slice(layout.post);
        }
        let mut total = fixed + nlri_len;
        match layout.kind {
            Kind::ClassicAnnounce => {}
            Kind::ClassicWithdraw => put16(msg, HEADER, nlri_len),
            Kind::Mp { fixed_value } => {
                let value_len = fixed_value + nlri_len;
                let mut attr_len = total - HEADER - 4;
                let at = HEADER + 4;
                if value_len > 255 {
                    put16(msg, at + 2, value_len);
                } else {
                    // Short value: 3-octet header (the Extended Length bit only when needed).
                    msg.copy_within(at + 4..total, at + 3);
                    if let Some([f, _, l]) = msg
                        .get_mut(at..at + 3)
                        .and_then(|s| s.first_chunk_mut::<3>())
                    {
                        *f &= !FLAG_EXTENDED_LENGTH;
                        *l = value_len as u8;
                    }
                    attr_len -= 1;
                    total -= 1;
                }
                put16(msg, HEADER + 2, attr_len);
            }
        }
        put16(msg, 16, total);
        dst.truncate(start + total);
        rest = rest.get(taken..).unwrap_or_default();
        msgs += 1;
    }
    msgs
}

fn put16(buf: &mut [u8], at: usize, v: usize) {
    if let Some(s) = buf.get_mut(at..at + 2) {
        s.copy_from_slice(&u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes());
    }
}

/// Encodes leading NLRI into `buf` while they fit in `budget` octets; `buf` has `SLACK`
/// octets beyond the budget. Returns (NLRI written, octets written).
#[inline]
fn write_nlri(buf: &mut [u8], nlri: &[Nlri], ap: bool, budget: usize) -> (usize, usize) {
    let mut pos = 0usize;
    for (i, n) in nlri.iter().enumerate() {
        let len = n.prefix.prefix_len();
        let nb = usize::from(len).div_ceil(8);
        let l = usize::from(ap) * 4 + 1 + nb;
        if pos + l > budget {
            return (i, pos);
        }
        let Some(out) = buf
            .get_mut(pos..)
            .and_then(|b| b.first_chunk_mut::<SLACK>())
        else {
            return (i, pos);
        };
        let mut o = 0;
        if ap {
            let [a, b, c, d] = n.path_id.unwrap_or(0).to_be_bytes();
            out[0] = a;
            out[1] = b;
            out[2] = c;
            out[3] = d;
            o = 4;
        }
        match n.prefix {
            IpNet::V4(p) => {
                let bits = u32::from(p.network()).to_be_bytes();
                if let Some((l, w)) = out.get_mut(o..o + 5).and_then(|w| w.split_first_mut()) {
                    *l = len;
                    w.copy_from_slice(&bits);
                }
            }
            IpNet::V6(p) => {
                let bits = u128::from(p.network()).to_be_bytes();
                if let Some((l, w)) = out.get_mut(o..o + 17).and_then(|w| w.split_first_mut()) {
                    *l = len;
                    w.copy_from_slice(&bits);
                }
            }
        }
        pos += l;
    }
    (nlri.len(), pos)
}

/// Splits NLRI by family, borrowing when there is only one.
fn split_families(nlri: &[Nlri]) -> (std::borrow::Cow<'_, [Nlri]>, std::borrow::Cow<'_, [Nlri]>) {
    use std::borrow::Cow;
    let is_v4 = |n: &Nlri| matches!(n.prefix, IpNet::V4(_));
    if nlri.iter().all(is_v4) {
        return (Cow::Borrowed(nlri), Cow::Borrowed(&[]));
    }
    if !nlri.iter().any(is_v4) {
        return (Cow::Borrowed(&[]), Cow::Borrowed(nlri));
    }
    let (a, b): (Vec<Nlri>, Vec<Nlri>) = nlri.iter().partition(|n| is_v4(n));
    (Cow::Owned(a), Cow::Owned(b))
}

fn put_header(dst: &mut BytesMut, len: usize) {
    dst.put_slice(&[0xff; 16]);
    dst.put_u16(len as u16); // callers keep len within the session maximum
    dst.put_u8(2);
}

/// Attribute header with a 2-octet length only when the value exceeds 255 octets.
fn put_attr_header(dst: &mut BytesMut, flags: u8, code: u8, len: usize) {
    if len > 255 {
        dst.put_slice(&[flags | FLAG_EXTENDED_LENGTH, code]);
        dst.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
    } else {
        dst.put_slice(&[flags & !FLAG_EXTENDED_LENGTH, code, len as u8]);
    }
}

const WK: u8 = FLAG_TRANSITIVE;
const OPT: u8 = FLAG_OPTIONAL;
const OPT_T: u8 = FLAG_OPTIONAL | FLAG_TRANSITIVE;

pub(crate) fn encode_attributes(
    cx: &SessionContext,
    a: &PathAttributes,
    next_hop: Option<Ipv4Addr>,
    dst: &mut BytesMut,
) {
    let asn_len = if cx.four_octet_as { 4 } else { 2 };
    let mut raws: Vec<&RawAttr> = a.unknown.iter().collect();
    raws.sort_by_key(|r| r.type_code.0);
    let mut raws = raws.into_iter().peekable();
    let mut flush = |dst: &mut BytesMut, upto: u16| {
        while let Some(r) = raws.next_if(|r| u16::from(r.type_code.0) < upto) {
            put_attr_header(dst, r.flags, r.type_code.0, r.value.len());
            dst.put_slice(&r.value);
        }
    };

    flush(dst, 1);
    put_attr_header(dst, WK, 1, 1);
    dst.put_u8(a.origin.code());
    flush(dst, 2);
    put_attr_header(dst, WK, 2, a.as_path.encoded_len(asn_len));
    a.as_path.encode_value(asn_len, dst);
    flush(dst, 3);
    if let Some(nh) = next_hop {
        put_attr_header(dst, WK, 3, 4);
        dst.put_slice(&nh.octets());
    }
    flush(dst, 4);
    if let Some(med) = a.med {
        put_attr_header(dst, OPT, 4, 4);
        dst.put_u32(med);
    }
    flush(dst, 5);
    if let Some(lp) = a.local_pref {
        put_attr_header(dst, WK, 5, 4);
        dst.put_u32(lp);
    }
    flush(dst, 6);
    if a.atomic_aggregate {
        put_attr_header(dst, WK, 6, 0);
    }
    flush(dst, 7);
    if let Some(agg) = &a.aggregator {
        put_attr_header(dst, OPT_T, 7, asn_len + 4);
        agg.encode_value(asn_len, dst);
    }
    flush(dst, 8);
    if !a.communities.is_empty() {
        put_attr_header(dst, OPT_T, 8, a.communities.len() * 4);
        a.communities.iter().for_each(|c| dst.put_u32(c.0));
    }
    flush(dst, 9);
    if let Some(id) = a.originator_id {
        put_attr_header(dst, OPT, 9, 4);
        dst.put_slice(&id.octets());
    }
    flush(dst, 10);
    if !a.cluster_list.is_empty() {
        put_attr_header(dst, OPT, 10, a.cluster_list.len() * 4);
        a.cluster_list
            .iter()
            .for_each(|c| dst.put_slice(&c.octets()));
    }
    flush(dst, 16);
    if !a.ext_communities.is_empty() {
        put_attr_header(dst, OPT_T, 16, a.ext_communities.len() * 8);
        a.ext_communities.iter().for_each(|c| dst.put_slice(&c.0));
    }
    flush(dst, 17);
    if !cx.four_octet_as && a.as_path.needs_four_octets() {
        // RFC 6793 §4.2.2: the full path, without confederation segments.
        let p = a.as_path.without_confed();
        put_attr_header(dst, OPT_T, 17, p.encoded_len(4));
        p.encode_value(4, dst);
    }
    flush(dst, 18);
    if let Some(agg) = a
        .aggregator
        .filter(|g| !cx.four_octet_as && g.asn > u32::from(AS_TRANS) && g.asn > 0xffff)
    {
        put_attr_header(dst, OPT_T, 18, 8);
        agg.encode_value(4, dst);
    }
    flush(dst, 32);
    if !a.large_communities.is_empty() {
        put_attr_header(dst, OPT_T, 32, a.large_communities.len() * 12);
        for c in &a.large_communities {
            dst.put_u32(c.global);
            dst.put_u32(c.local1);
            dst.put_u32(c.local2);
        }
    }
    flush(dst, 35);
    if let Some(otc) = a.otc {
        put_attr_header(dst, OPT_T, 35, 4);
        dst.put_u32(otc);
    }
    flush(dst, 256);
}
