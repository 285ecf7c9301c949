//! The fused decode: one walk that both checks an UPDATE exactly as
//! [`UpdateView::new_checked`](super::UpdateView::new_checked) does (RFC 4271 §6.3, RFC 7606)
//! and hands every value to an [`UpdateVisitor`] as it goes.
//!
//! # Values are tentative until the walk returns
//!
//! RFC 7606 outcomes can depend on what comes later in the message: a missing ORIGIN
//! (§3 d), a martian MP_REACH_NLRI next hop, an attribute that overruns the path attributes
//! (§4), or a session reset from a malformed MP_REACH_NLRI (§5.3) can all be found after
//! earlier values were visited. So the visitor receives values *tentatively*:
//!
//! - `Err(_)`: the session must be reset; throw away everything the visitor received.
//! - `Ok(view)` with [`Verdict::TreatAsWithdraw`](super::Verdict::TreatAsWithdraw): handle every
//!   prefix as withdrawn (RFC 7606 §2) and throw away the attribute values received.
//! - `Ok(view)` with [`Verdict::Accept`](super::Verdict::Accept): the visitor has received
//!   exactly the values the view's accessors report. An attribute that is discarded
//!   (RFC 7606 §2 "attribute discard": bad AGGREGATOR, LOCAL_PREF from eBGP, repeated
//!   attributes, ...) is decided before its value would be visited and is never visited.
//!
//! Order of calls: the Withdrawn Routes field, then the NLRI field, then the path attributes
//! in wire order (MP_REACH_NLRI / MP_UNREACH_NLRI prefixes when their attribute is reached).

use std::net::Ipv4Addr;

use crate::attr::{
    Aggregator, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop, Nlri, Origin,
};
use crate::iana::{AttrType, Family};

/// Receives the values of an UPDATE during
/// [`UpdateView::decode_with`](super::UpdateView::decode_with). Every method has an empty
/// default, so a visitor implements only what it needs.
///
/// The values are **tentative** until `decode_with` returns, because RFC 7606 outcomes can
/// depend on what comes later in the message (a missing ORIGIN, §3 d; an attribute that
/// overruns the path attributes, §4; a malformed MP_REACH_NLRI, §5.3): on `Err` (session
/// reset) throw away everything received; on [`Verdict::TreatAsWithdraw`](super::Verdict)
/// handle every prefix as withdrawn (RFC 7606 §2) and throw away the attribute values; on
/// `Verdict::Accept` the visitor has received exactly what the view's accessors report. An
/// attribute that is discarded (RFC 7606 §2 "attribute discard") is never visited.
///
/// Order of calls: the Withdrawn Routes field, the NLRI field, then the path attributes in
/// wire order (MP_REACH_NLRI / MP_UNREACH_NLRI prefixes when their attribute is reached).
#[allow(unused_variables)]
pub trait UpdateVisitor {
    /// A withdrawn prefix: Withdrawn Routes field (RFC 4271 §4.3) or MP_UNREACH_NLRI of a
    /// negotiated family (RFC 4760 §4), with its ADD-PATH path identifier (RFC 7911 §3).
    #[inline(always)]
    fn withdrawn(&mut self, nlri: Nlri) {}
    /// An announced prefix: NLRI field or MP_REACH_NLRI of a negotiated family (RFC 4760 §3).
    #[inline(always)]
    fn announced(&mut self, nlri: Nlri) {}
    /// ORIGIN (RFC 4271 §5.1.1).
    #[inline(always)]
    fn origin(&mut self, origin: Origin) {}
    /// The start of an AS_PATH segment of `count` ASNs (RFC 4271 §5.1.2), before its ASNs.
    #[inline(always)]
    fn as_path_segment(&mut self, segment: AsSegmentType, count: u8) {}
    /// One AS_PATH ASN with its segment type, in order (RFC 4271 §5.1.2; 2- or 4-octet per
    /// the session, RFC 6793).
    #[inline(always)]
    fn as_path_asn(&mut self, segment: AsSegmentType, asn: u32) {}
    /// The start of an AS4_PATH segment of `count` ASNs (RFC 6793 §6).
    #[inline(always)]
    fn as4_path_segment(&mut self, segment: AsSegmentType, count: u8) {}
    /// One AS4_PATH ASN (RFC 6793 §6; only on sessions without 4-octet AS).
    #[inline(always)]
    fn as4_path_asn(&mut self, segment: AsSegmentType, asn: u32) {}
    /// NEXT_HOP (RFC 4271 §5.1.3).
    #[inline(always)]
    fn next_hop(&mut self, next_hop: Ipv4Addr) {}
    /// The next hop of MP_REACH_NLRI for `family` (RFC 4760 §3, RFC 8950).
    #[inline(always)]
    fn mp_next_hop(&mut self, family: Family, next_hop: NextHop) {}
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    #[inline(always)]
    fn med(&mut self, med: u32) {}
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    #[inline(always)]
    fn local_pref(&mut self, local_pref: u32) {}
    /// ATOMIC_AGGREGATE is present (RFC 4271 §5.1.6).
    #[inline(always)]
    fn atomic_aggregate(&mut self) {}
    /// AGGREGATOR as received (RFC 4271 §5.1.7), not merged with AS4_AGGREGATOR.
    #[inline(always)]
    fn aggregator(&mut self, aggregator: Aggregator) {}
    /// AS4_AGGREGATOR (RFC 6793 §6; only on sessions without 4-octet AS).
    #[inline(always)]
    fn as4_aggregator(&mut self, aggregator: Aggregator) {}
    /// One COMMUNITIES value (RFC 1997).
    #[inline(always)]
    fn community(&mut self, community: Community) {}
    /// One EXTENDED_COMMUNITIES value (RFC 4360).
    #[inline(always)]
    fn ext_community(&mut self, community: ExtCommunity) {}
    /// One LARGE_COMMUNITY value (RFC 8092).
    #[inline(always)]
    fn large_community(&mut self, community: LargeCommunity) {}
    /// ORIGINATOR_ID (RFC 4456 §8).
    #[inline(always)]
    fn originator_id(&mut self, id: Ipv4Addr) {}
    /// One CLUSTER_LIST entry, in order (RFC 4456 §8).
    #[inline(always)]
    fn cluster_id(&mut self, id: Ipv4Addr) {}
    /// OTC (RFC 9234 §5).
    #[inline(always)]
    fn otc(&mut self, asn: u32) {}
    /// An attribute this codec does not model (first occurrence of its type code), with its
    /// flags as received; pass it on only when optional transitive (RFC 4271 §5).
    #[inline(always)]
    fn unknown(&mut self, flags: u8, code: AttrType, value: &[u8]) {}
}

/// The check's hook for values: a no-op for `new_checked`, the visitor for `decode_with`.
pub(crate) trait Sink {
    /// Whether values are visited (selects the fused NLRI walk).
    const ACTIVE: bool;
    fn visitor(&mut self) -> Option<&mut Self::V>;
    type V: UpdateVisitor;
}

/// `new_checked`: nothing is visited.
pub(crate) struct NoSink;

/// A visitor with all methods empty.
pub(crate) struct Nothing;
impl UpdateVisitor for Nothing {}

impl Sink for NoSink {
    const ACTIVE: bool = false;
    type V = Nothing;
    #[inline(always)]
    fn visitor(&mut self) -> Option<&mut Nothing> {
        None
    }
}

/// `decode_with`: every value goes to `V`.
pub(crate) struct Active<'a, V>(pub(crate) &'a mut V);

impl<V: UpdateVisitor> Sink for Active<'_, V> {
    const ACTIVE: bool = true;
    type V = V;
    #[inline(always)]
    fn visitor(&mut self) -> Option<&mut V> {
        Some(self.0)
    }
}
