//! UPDATE message (RFC 4271 §4.3): a checked view for decoding, with the RFC 7606 verdict,
//! an owned form for exact round trips, and a builder that packs many prefixes into as few
//! messages as the session allows.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```
//!
//! [`UpdateView::new_checked`] walks every length once (header, withdrawn routes, each
//! attribute, each prefix, the MP_REACH_NLRI / MP_UNREACH_NLRI contents) and records where
//! each part is. It returns `Err` only where the session must be reset; every other error is
//! classified per RFC 7606 into the view's [`Verdict`] (treat-as-withdraw) or its
//! [`UpdateView::discarded`] list (attribute discard). After that no accessor can fail.
//!
//! ```
//! use bgp_proto::attr::{AsPath, NextHop, Nlri, PathAttributes};
//! use bgp_proto::{Family, SessionContext, UpdateBuilder, UpdateView, Verdict};
//! use bytes::BytesMut;
//!
//! let cx = SessionContext::for_capture(true, false);
//! let attrs = PathAttributes { as_path: AsPath::from_sequence([64512]), ..Default::default() };
//! let routes = [Nlri::new("192.0.2.0/24".parse().unwrap())];
//! let next_hop = NextHop::V4("198.51.100.1".parse().unwrap());
//!
//! // Encode: as few messages as the session's maximum length allows.
//! let mut out = BytesMut::new();
//! assert_eq!(UpdateBuilder::new(&cx).announce(&attrs, &next_hop, &routes, &mut out), 1);
//!
//! // Decode: one checked walk, then infallible accessors over the same bytes.
//! let view = UpdateView::new_checked(out.freeze(), &cx).expect("no session reset");
//! assert_eq!(view.verdict(), Verdict::Accept);
//! assert_eq!(view.announced().collect::<Vec<_>>(), routes);
//! assert_eq!(view.next_hop(Family::IPV4_UNICAST), Some(next_hop));
//! assert_eq!(view.attributes(), attrs);
//! ```

mod builder;
mod check;
#[cfg(test)]
mod differential_tests;
mod nlri;
mod owned;
mod raw;
mod routes;
mod rules;
mod values;
mod visit;

pub use builder::UpdateBuilder;
pub use nlri::NlriIter;
pub use owned::{Attr, MpReach, MpUnreach, PathAttr, Update};
pub use routes::{Prefixes, Routes};
pub use visit::UpdateVisitor;

use std::net::Ipv4Addr;

use crate::attr::{
    self, Aggregator, AsPath, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE,
};
use crate::iana::{Afi, AttrType, Family, Safi};
use crate::session::SessionContext;
use crate::DecodeError;

use check::Span;
use rules::{Reason, Slot};

/// The RFC 7606 outcome of an UPDATE whose structure was sound enough to keep the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use the routes (some attributes may have been discarded: see `discarded`).
    Accept,
    /// Handle every NLRI in the message as withdrawn (RFC 7606 §2), because of `attr`.
    TreatAsWithdraw {
        /// The attribute that caused it (or the missing one).
        attr: AttrType,
        /// Why, with the RFC section.
        reason: &'static str,
    },
}

/// Most attribute-discard outcomes one view records; further ones still take effect
/// (the attribute is skipped) but are not listed.
pub const MAX_DISCARDED: usize = 8;

/// What the check found about MP_REACH_NLRI or MP_UNREACH_NLRI.
#[derive(Debug, Clone, Copy, Default)]
struct MpInfo {
    /// The attribute was present with at least AFI and SAFI.
    present: bool,
    /// Negotiated and supported: its NLRI are reported.
    active: bool,
    add_path: bool,
    family: (u16, u8),
    next_hop: Span,
    nlri: Span,
}

/// A checked view over one whole UPDATE message (header included).
///
/// `new_checked` walks every length once; afterwards accessors cannot fail or panic. The view
/// keeps no reference to the [`SessionContext`], only the few negotiated bits the accessors
/// need, so `UpdateView<Bytes>` is `'static` and can be handed on.
#[derive(Debug, Clone)]
pub struct UpdateView<B> {
    buf: B,
    withdrawn: Span,
    attrs: Span,
    nlri: Span,
    /// Value span of the first occurrence of each known attribute, by [`Slot`].
    slots: [Span; rules::NSLOTS],
    /// Bit per slot: present.
    present: u32,
    mp_reach: MpInfo,
    mp_unreach: MpInfo,
    /// Attributes the codec does not model (or repeated ones) are present.
    has_other: bool,
    /// The RFC 7606 verdict, discarded attributes and the slots not to report.
    out: check::Outcome,
    four_octet_as: bool,
    add_path_v4: bool,
}

impl<B: AsRef<[u8]>> UpdateView<B> {
    /// Checks structure and classifies every attribute per RFC 7606. `Err` only where the
    /// session must be reset (e.g. 3/1 length overflow, 3/10 bad NLRI, 3/9 bad MP_REACH).
    /// Does not allocate unless it returns `Err`.
    #[inline]
    pub fn new_checked(buf: B, cx: &SessionContext) -> Result<Self, DecodeError> {
        check::check(buf, cx, &mut visit::NoSink)
    }

    /// The fused decode: one walk that performs every check [`UpdateView::new_checked`]
    /// performs, with the same outcome (the same `Err`, [`Verdict`] and discarded list), and
    /// hands every value to `visitor` on the way (prefixes with their path identifiers,
    /// ORIGIN, each AS_PATH ASN with its segment type, next hops, MED, LOCAL_PREF,
    /// communities, AGGREGATOR, ORIGINATOR_ID, CLUSTER_LIST, OTC, unknown attributes, ...).
    ///
    /// The values are **tentative** (RFC 7606 outcomes can depend on later attributes): on
    /// `Err` (session reset) or [`Verdict::TreatAsWithdraw`] discard what the visitor
    /// received (and handle the prefixes as withdrawn, RFC 7606 §2); on [`Verdict::Accept`]
    /// the visitor received exactly what the view's accessors report. See
    /// [`UpdateVisitor`]. Does not allocate unless it returns `Err`.
    #[inline]
    pub fn decode_with<V: UpdateVisitor>(
        buf: B,
        cx: &SessionContext,
        visitor: &mut V,
    ) -> Result<Self, DecodeError> {
        check::check(buf, cx, &mut visit::Active(visitor))
    }

    /// The RFC 7606 verdict for this message.
    pub fn verdict(&self) -> Verdict {
        match self.out.taw {
            (_, Reason::None) => Verdict::Accept,
            (code, reason) => Verdict::TreatAsWithdraw {
                attr: AttrType(code),
                reason: reason.text(),
            },
        }
    }

    /// Attributes dropped by "attribute discard" (RFC 7606 §2), with the reason. Also lists
    /// repeated attributes (RFC 7606 §3 g) and MP attributes of families not negotiated (D3).
    pub fn discarded(&self) -> impl Iterator<Item = (AttrType, &'static str)> + '_ {
        self.out
            .discarded
            .iter()
            .take(usize::from(self.out.n_discarded))
            .map(|&(code, r)| (AttrType(code), r.text()))
    }

    /// Withdrawn routes: the Withdrawn Routes field and MP_UNREACH_NLRI (negotiated
    /// families only). A prefix that is also announced in the same UPDATE must end up
    /// announced (RFC 4271 §4.3): apply these withdrawals before [`UpdateView::announced`].
    pub fn withdrawn(&self) -> impl Iterator<Item = Nlri> + '_ {
        self.withdrawn_pair()
    }

    #[inline(always)]
    fn withdrawn_pair(&self) -> nlri::NlriPair<'_> {
        nlri::NlriPair::new(self.withdrawn_routes(), self.mp_unreach_nlri())
    }

    #[inline(always)]
    fn announced_pair(&self) -> nlri::NlriPair<'_> {
        nlri::NlriPair::new(self.nlri(), self.mp_reach_nlri())
    }

    /// Announced routes: the NLRI field and MP_REACH_NLRI (negotiated families only), as
    /// in the bytes, whatever the verdict. [`UpdateView::routes`] applies the verdict.
    pub fn announced(&self) -> impl Iterator<Item = Nlri> + '_ {
        self.announced_pair()
    }

    /// The next hop for announced routes of `family`: MP_REACH_NLRI's when it carries that
    /// family (RFC 4760 §3, RFC 8950), else NEXT_HOP for IPv4 unicast.
    pub fn next_hop(&self, family: Family) -> Option<NextHop> {
        if self.mp_reach.active && self.mp_family(&self.mp_reach) == family {
            return NextHop::decode_value(self.span(self.mp_reach.next_hop));
        }
        if family == Family::IPV4_UNICAST {
            return attr::decode_ipv4(self.value(Slot::NextHop)?).map(NextHop::V4);
        }
        None
    }

    /// The attributes as owned values (valid ones only; AS4_PATH merged per RFC 6793 §4.2.3).
    /// Unrecognised optional transitive attributes are returned in `unknown` with the Partial
    /// bit set, ready to be passed on (RFC 4271 §5); unrecognised non-transitive ones are
    /// dropped.
    pub fn attributes(&self) -> PathAttributes {
        let asn_len = if self.four_octet_as { 4 } else { 2 };
        let mut pa = PathAttributes {
            origin: self.origin().unwrap_or_default(),
            as_path: self
                .value(Slot::AsPath)
                .and_then(|v| AsPath::decode_value(v, asn_len))
                .unwrap_or_default(),
            med: self.med(),
            local_pref: self.local_pref(),
            atomic_aggregate: self.value(Slot::AtomicAggregate).is_some(),
            aggregator: self
                .value(Slot::Aggregator)
                .and_then(|v| Aggregator::decode_value(v, asn_len)),
            communities: self.communities().collect(),
            ext_communities: self.ext_communities().collect(),
            large_communities: self.large_communities().collect(),
            originator_id: self.value(Slot::OriginatorId).and_then(attr::decode_ipv4),
            cluster_list: self
                .value(Slot::ClusterList)
                .and_then(attr::decode_ipv4_list)
                .unwrap_or_default(),
            otc: self.value(Slot::Otc).and_then(attr::decode_u32),
            unknown: Vec::new(),
        };
        if !self.four_octet_as {
            self.merge_as4(&mut pa);
        }
        if self.has_other {
            let mut seen = [0u64; 4];
            let mut rest = self.span(self.attrs);
            while let Some((flags, code, value, tail)) = check::split_attr(rest) {
                rest = tail;
                let (w, bit) = (usize::from(code >> 6), 1u64 << (code & 63));
                let Some(word) = seen.get_mut(w) else {
                    continue;
                };
                let dup = *word & bit != 0;
                *word |= bit;
                if dup || Slot::of(code) != Slot::Unknown || self.discards(code) {
                    continue;
                }
                if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) == FLAG_OPTIONAL | FLAG_TRANSITIVE {
                    pa.unknown.push(RawAttr {
                        flags: flags | FLAG_PARTIAL,
                        type_code: AttrType(code),
                        value: bytes::Bytes::copy_from_slice(value),
                    });
                }
            }
        }
        pa
    }

    /// `Some(family)` when this UPDATE is an End-of-RIB marker (RFC 4724 §2): an empty
    /// UPDATE for IPv4 unicast, or one holding only an MP_UNREACH_NLRI without NLRI.
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attrs.is_empty() {
            return Some(Family::IPV4_UNICAST);
        }
        let only_unreach = self.present == Slot::MpUnreach.bit() && !self.has_other;
        let u = &self.mp_unreach;
        // The single attribute is exactly AFI + SAFI (3 octets of value).
        if only_unreach && u.present && u.nlri.is_empty() && self.span_len_is(Slot::MpUnreach, 3) {
            return Some(self.mp_family(u));
        }
        None
    }

    /// The whole message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// The Withdrawn Routes field only (IPv4 unicast, RFC 4271 §4.3).
    pub fn withdrawn_routes(&self) -> NlriIter<'_> {
        self.nlri_iter(self.withdrawn, false, self.add_path_v4)
    }

    /// The NLRI field only (IPv4 unicast, RFC 4271 §4.3).
    pub fn nlri(&self) -> NlriIter<'_> {
        self.nlri_iter(self.nlri, false, self.add_path_v4)
    }

    /// The NLRI of MP_REACH_NLRI when its family was negotiated (RFC 4760 §3).
    pub fn mp_reach_nlri(&self) -> NlriIter<'_> {
        self.mp_iter(&self.mp_reach)
    }

    /// The withdrawn routes of MP_UNREACH_NLRI when its family was negotiated (RFC 4760 §4).
    pub fn mp_unreach_nlri(&self) -> NlriIter<'_> {
        self.mp_iter(&self.mp_unreach)
    }

    /// The family of MP_REACH_NLRI, when present (negotiated or not).
    pub fn mp_reach_family(&self) -> Option<Family> {
        self.mp_reach
            .present
            .then(|| self.mp_family(&self.mp_reach))
    }

    /// The family of MP_UNREACH_NLRI, when present (negotiated or not).
    pub fn mp_unreach_family(&self) -> Option<Family> {
        self.mp_unreach
            .present
            .then(|| self.mp_family(&self.mp_unreach))
    }

    /// ORIGIN, when present and valid.
    pub fn origin(&self) -> Option<Origin> {
        Origin::decode_value(self.value(Slot::Origin)?)
    }

    /// The AS_PATH value octets as received (2- or 4-octet ASNs per the session), when valid.
    pub fn as_path_bytes(&self) -> Option<&[u8]> {
        self.value(Slot::AsPath)
    }

    /// MULTI_EXIT_DISC, when present and valid.
    pub fn med(&self) -> Option<u32> {
        attr::decode_u32(self.value(Slot::Med)?)
    }

    /// LOCAL_PREF, when present and valid (never from eBGP: RFC 7606 §7.5).
    pub fn local_pref(&self) -> Option<u32> {
        attr::decode_u32(self.value(Slot::LocalPref)?)
    }

    /// ATOMIC_AGGREGATE is present and valid (RFC 4271 §5.1.6).
    pub fn atomic_aggregate(&self) -> bool {
        self.value(Slot::AtomicAggregate).is_some()
    }

    /// AGGREGATOR when present and valid, with AS4_AGGREGATOR applied on a 2-octet session
    /// (RFC 6793 §4.2.3).
    pub fn aggregator(&self) -> Option<Aggregator> {
        let asn_len = if self.four_octet_as { 4 } else { 2 };
        let agg = Aggregator::decode_value(self.value(Slot::Aggregator)?, asn_len)?;
        if !self.four_octet_as && agg.asn == u32::from(crate::iana::AS_TRANS) {
            if let Some(a4) = self
                .value(Slot::As4Aggregator)
                .and_then(|v| Aggregator::decode_value(v, 4))
            {
                return Some(a4);
            }
        }
        Some(agg)
    }

    /// ORIGINATOR_ID when present and valid (RFC 4456 §7; never from eBGP).
    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        attr::decode_ipv4(self.value(Slot::OriginatorId)?)
    }

    /// CLUSTER_LIST, without allocating (RFC 4456 §8; never from eBGP).
    pub fn cluster_list(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.value(Slot::ClusterList)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Ipv4Addr::from(attr::be_u32_chunk(c)))
    }

    /// OTC (RFC 9234 §5) when present and valid.
    pub fn otc(&self) -> Option<u32> {
        attr::decode_u32(self.value(Slot::Otc)?)
    }

    /// AS_PATH segments as received, without allocating: 2- or 4-octet ASNs per the session,
    /// no AS4_PATH merge (use [`UpdateView::attributes`] for the merged path).
    pub fn as_path(&self) -> AsPathIter<'_> {
        AsPathIter {
            rest: self.value(Slot::AsPath).unwrap_or_default(),
            asn_len: if self.four_octet_as { 4 } else { 2 },
        }
    }

    /// COMMUNITIES, without allocating (RFC 1997).
    pub fn communities(&self) -> impl Iterator<Item = Community> + '_ {
        self.value(Slot::Communities)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Community(attr::be_u32_chunk(c)))
    }

    /// EXTENDED_COMMUNITIES, without allocating (RFC 4360).
    pub fn ext_communities(&self) -> impl Iterator<Item = ExtCommunity> + '_ {
        self.value(Slot::ExtCommunities)
            .unwrap_or_default()
            .chunks_exact(8)
            .filter_map(|c| <[u8; 8]>::try_from(c).ok().map(ExtCommunity))
    }

    /// LARGE_COMMUNITY, without allocating (RFC 8092).
    pub fn large_communities(&self) -> impl Iterator<Item = LargeCommunity> + '_ {
        self.value(Slot::LargeCommunity)
            .unwrap_or_default()
            .chunks_exact(12)
            .map(|c| {
                let (g, rest) = c.split_at(4.min(c.len()));
                let (a, b) = rest.split_at(4.min(rest.len()));
                LargeCommunity::new(
                    attr::be_u32_chunk(g),
                    attr::be_u32_chunk(a),
                    attr::be_u32_chunk(b),
                )
            })
    }

    /// Every attribute as received, in order, flags included, up to the first framing error
    /// (RFC 7606 §4). Nothing is validated or skipped.
    pub fn raw_attributes(&self) -> RawAttrIter<'_> {
        RawAttrIter {
            rest: self.span(self.attrs),
        }
    }

    /// The owned form of the whole message, for exact round trips (see [`Update`]).
    pub fn to_owned(&self) -> Update {
        owned::to_owned(self)
    }

    // --- private helpers ---

    /// True when the first occurrence of attribute `code` was discarded (a malformed
    /// attribute bgp-proto carries raw, e.g. a Prefix-SID, which is then not passed on).
    fn discards(&self, code: u8) -> bool {
        self.out
            .discarded
            .iter()
            .take(usize::from(self.out.n_discarded))
            .any(|&(c, r)| c == code && r != Reason::Duplicate)
    }

    fn span(&self, s: Span) -> &[u8] {
        self.buf.as_ref().get(s.range()).unwrap_or_default()
    }

    fn span_len_is(&self, slot: Slot, len: usize) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.len() == len)
    }

    /// The value of a known attribute if present and not skipped.
    fn value(&self, slot: Slot) -> Option<&[u8]> {
        if (self.present & !self.out.skip) & slot.bit() == 0 {
            return None;
        }
        Some(self.span(*self.slots.get(slot as usize)?))
    }

    /// The NLRI in `s`, iterated over the message so that prefix octets can be loaded in
    /// fixed-size chunks.
    #[inline]
    fn nlri_iter(&self, s: Span, v6: bool, add_path: bool) -> NlriIter<'_> {
        let r = s.range();
        let msg = self.buf.as_ref().get(..r.end).unwrap_or_default();
        NlriIter::in_message(msg, r.start, v6, add_path)
    }

    fn mp_family(&self, m: &MpInfo) -> Family {
        Family::new(Afi(m.family.0), Safi(m.family.1))
    }

    fn mp_iter(&self, m: &MpInfo) -> NlriIter<'_> {
        if !m.active {
            return NlriIter::new(&[], false, false);
        }
        self.nlri_iter(m.nlri, m.family.0 == Afi::IPV6.0, m.add_path)
    }

    /// RFC 6793 §4.2.3, applied when the session is not 4-octet capable.
    fn merge_as4(&self, pa: &mut PathAttributes) {
        let as4_agg = self
            .value(Slot::As4Aggregator)
            .and_then(|v| Aggregator::decode_value(v, 4));
        let mut use_as4_path = true;
        if let (Some(agg), Some(as4)) = (pa.aggregator, as4_agg) {
            if agg.asn != u32::from(crate::iana::AS_TRANS) {
                // AGGREGATOR from a 4-octet speaker further down: ignore both AS4_* (§4.2.3).
                use_as4_path = false;
            } else {
                pa.aggregator = Some(as4);
            }
        }
        if use_as4_path {
            if let Some(as4) = self
                .value(Slot::As4Path)
                .and_then(|v| AsPath::decode_value(v, 4))
            {
                pa.as_path = pa.as_path.merge_as4(&as4);
            }
        }
    }
}

impl<B> UpdateView<B> {
    /// The same checked layout over `buf`, which must hold the same octets as the buffer
    /// checked (e.g. the `Bytes` a `&[u8]` view was made from). `rebuf(())` detaches the
    /// layout from a borrowed buffer. Lets `decode` run the check on `&[u8]`: the walk is
    /// then the same code for every buffer type, with no owner to drop on its error paths.
    #[inline(always)]
    pub(crate) fn rebuf<C>(self, buf: C) -> UpdateView<C> {
        UpdateView {
            buf,
            withdrawn: self.withdrawn,
            attrs: self.attrs,
            nlri: self.nlri,
            slots: self.slots,
            present: self.present,
            mp_reach: self.mp_reach,
            mp_unreach: self.mp_unreach,
            has_other: self.has_other,
            out: self.out,
            four_octet_as: self.four_octet_as,
            add_path_v4: self.add_path_v4,
        }
    }
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for UpdateView<B> {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

/// Zero-copy iterator over AS_PATH segments (RFC 4271 §4.3): `(segment type, ASNs)`.
#[derive(Debug, Clone)]
pub struct AsPathIter<'a> {
    rest: &'a [u8],
    asn_len: usize,
}

impl<'a> Iterator for AsPathIter<'a> {
    type Item = (AsSegmentType, AsnIter<'a>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (&[t, n], tail) = self.rest.split_first_chunk::<2>()?;
        let (asns, tail) = tail.split_at_checked(usize::from(n) * self.asn_len)?;
        let kind = AsSegmentType::from_code(t)?;
        self.rest = tail;
        Some((
            kind,
            AsnIter {
                rest: asns,
                asn_len: self.asn_len,
            },
        ))
    }
}

/// The ASNs of one AS_PATH segment, widened to `u32`.
#[derive(Debug, Clone)]
pub struct AsnIter<'a> {
    rest: &'a [u8],
    asn_len: usize,
}

impl Iterator for AsnIter<'_> {
    type Item = u32;

    #[inline(always)]
    fn next(&mut self) -> Option<u32> {
        if self.asn_len == 4 {
            let (a, tail) = self.rest.split_first_chunk::<4>()?;
            self.rest = tail;
            Some(u32::from_be_bytes(*a))
        } else {
            let (a, tail) = self.rest.split_first_chunk::<2>()?;
            self.rest = tail;
            Some(u32::from(u16::from_be_bytes(*a)))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / self.asn_len.max(1);
        (n, Some(n))
    }
}

impl ExactSizeIterator for AsnIter<'_> {}

/// Iterator over the raw attributes of a view: flags, type and value as received.
#[derive(Debug, Clone)]
pub struct RawAttrIter<'a> {
    rest: &'a [u8],
}

impl Iterator for RawAttrIter<'_> {
    type Item = RawAttr;

    fn next(&mut self) -> Option<RawAttr> {
        let (flags, code, value, tail) = check::split_attr(self.rest).or_else(|| {
            self.rest = &[];
            None
        })?;
        self.rest = tail;
        Some(RawAttr {
            flags,
            type_code: AttrType(code),
            value: bytes::Bytes::copy_from_slice(value),
        })
    }
}
