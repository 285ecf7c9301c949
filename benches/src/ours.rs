//! The full decode of a corpus with our codec (`bgp-proto`), and the session contexts used.

use bgp_proto::{DecodeError, Family, Routes, SessionContext, UpdateView};

use crate::{Corpus, Digest};

/// The context for the RIPE RIS dump: BGP4MP_MESSAGE_AS4 records (4-octet AS, no ADD-PATH),
/// so what `SessionContext::for_mrt` gives each of them: every family kept, AS_SETs
/// (in 2019 data) accepted, no first-AS check (route servers do not prepend their AS).
pub fn ris_context() -> SessionContext {
    SessionContext::for_capture(true, false)
}

/// The context for the synthetic mix: 4-octet AS, IPv4 and IPv6 unicast, iBGP.
pub fn synthetic_context() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        ibgp: true,
        peer_asn: 65000,
        allow_as_set: true,
        ..SessionContext::default()
    }
}

/// Decodes every message of `corpus` (see [`decode_one`]); `Err` carries the index of the
/// first message that failed and the error.
pub fn decode(corpus: &Corpus, cx: &SessionContext) -> Result<Digest, (usize, String)> {
    let mut d = Digest::default();
    for (i, m) in corpus.slices().enumerate() {
        decode_one(m, cx, &mut d).map_err(|e| (i, format!("{e:?}")))?;
    }
    Ok(d)
}

/// Decodes one UPDATE fully into owned values: checked view, every withdrawn and announced
/// prefix, `attributes()` (allocates), the next hops.
#[inline]
pub fn decode_one(m: &[u8], cx: &SessionContext, d: &mut Digest) -> Result<(), DecodeError> {
    let v = UpdateView::new_checked(m, cx)?;
    d.messages += 1;
    for n in v.withdrawn() {
        d.withdrawn += 1;
        d.prefix_len_sum += u64::from(n.prefix.prefix_len());
        d.touch(addr_bits(&n.prefix));
    }
    for n in v.announced() {
        d.announced += 1;
        d.prefix_len_sum += u64::from(n.prefix.prefix_len());
        d.touch(addr_bits(&n.prefix));
    }
    let a = v.attributes();
    d.touch(a.origin as u64 ^ u64::from(a.atomic_aggregate) << 8);
    for s in &a.as_path.segments {
        d.as_path_asns += s.asns.len() as u64;
        for &asn in &s.asns {
            d.touch(u64::from(asn));
        }
    }
    d.touch(u64::from(a.med.unwrap_or(0)));
    d.touch(u64::from(a.local_pref.unwrap_or(0)));
    if let Some(ag) = a.aggregator {
        d.touch(u64::from(ag.asn) ^ u64::from(u32::from(ag.address)));
    }
    d.communities += a.communities.len() as u64;
    for c in &a.communities {
        d.touch(u64::from(c.0));
    }
    d.large_communities += a.large_communities.len() as u64;
    for c in &a.large_communities {
        d.touch(u64::from(c.global) ^ u64::from(c.local1) ^ u64::from(c.local2));
    }
    d.ext_communities += a.ext_communities.len() as u64;
    for c in &a.ext_communities {
        d.touch(u64::from_be_bytes(c.0));
    }
    for c in &a.cluster_list {
        d.touch(u64::from(u32::from(*c)));
    }
    d.touch(u64::from(a.originator_id.map(u32::from).unwrap_or(0)));
    d.touch(u64::from(a.otc.unwrap_or(0)));
    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        if let Some(nh) = v.next_hop(f) {
            d.touch(next_hop_bits(&nh));
        }
    }
    Ok(())
}

fn addr_bits(p: &ipnet::IpNet) -> u64 {
    match p {
        ipnet::IpNet::V4(p) => u64::from(u32::from(p.addr())),
        ipnet::IpNet::V6(p) => {
            let x = u128::from(p.addr());
            (x >> 64) as u64 ^ x as u64
        }
    }
}

fn next_hop_bits(nh: &bgp_proto::NextHop) -> u64 {
    match nh {
        bgp_proto::NextHop::V4(a) => u64::from(u32::from(*a)),
        bgp_proto::NextHop::V6 { global, .. } => {
            let x = u128::from(*global);
            (x >> 64) as u64 ^ x as u64
        }
    }
}

/// Decodes one UPDATE fully through the view's zero-copy accessors: checked view, every
/// withdrawn and announced prefix, ORIGIN, every AS_PATH segment and ASN (`as_path()`), MED,
/// LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, ORIGINATOR_ID, CLUSTER_LIST, OTC, COMMUNITIES,
/// EXTENDED_COMMUNITIES, LARGE_COMMUNITY and the next hops. Nothing is allocated. (On a
/// 4-octet-AS session there is no AS4_PATH to merge, so `as_path()` is the path.)
#[inline(always)]
pub fn decode_one_view(m: &[u8], cx: &SessionContext, d: &mut Digest) -> Result<(), DecodeError> {
    let v = UpdateView::new_checked(m, cx)?;
    d.messages += 1;
    prefixes(&v, d);
    view_attributes(&v, d);
    Ok(())
}

#[inline(always)]
fn prefixes(v: &UpdateView<&[u8]>, d: &mut Digest) {
    for n in v.withdrawn() {
        d.withdrawn += 1;
        d.prefix_len_sum += u64::from(n.prefix.prefix_len());
        d.touch(addr_bits(&n.prefix));
    }
    for n in v.announced() {
        d.announced += 1;
        d.prefix_len_sum += u64::from(n.prefix.prefix_len());
        d.touch(addr_bits(&n.prefix));
    }
}

#[inline(always)]
fn view_attributes<B: AsRef<[u8]>>(v: &UpdateView<B>, d: &mut Digest) {
    d.touch(v.origin().map_or(9, |o| o as u64) ^ u64::from(v.atomic_aggregate()) << 8);
    for (kind, asns) in v.as_path() {
        d.touch(kind as u64);
        for asn in asns {
            d.as_path_asns += 1;
            d.touch(u64::from(asn));
        }
    }
    d.touch(u64::from(v.med().unwrap_or(0)));
    d.touch(u64::from(v.local_pref().unwrap_or(0)));
    if let Some(ag) = v.aggregator() {
        d.touch(u64::from(ag.asn) ^ u64::from(u32::from(ag.address)));
    }
    d.touch(u64::from(v.originator_id().map(u32::from).unwrap_or(0)));
    for c in v.cluster_list() {
        d.touch(u64::from(u32::from(c)));
    }
    d.touch(u64::from(v.otc().unwrap_or(0)));
    for c in v.communities() {
        d.communities += 1;
        d.touch(u64::from(c.0));
    }
    for c in v.large_communities() {
        d.large_communities += 1;
        d.touch(u64::from(c.global) ^ u64::from(c.local1) ^ u64::from(c.local2));
    }
    for c in v.ext_communities() {
        d.ext_communities += 1;
        d.touch(u64::from_be_bytes(c.0));
    }
    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        if let Some(nh) = v.next_hop(f) {
            d.touch(next_hop_bits(&nh));
        }
    }
}

/// Decodes one UPDATE through the API `bgp-proto`'s crate docs show first:
/// `bgp_proto::decode_with` on the message's `Bytes` (a refcount, no copy) with a visitor
/// taken by value, as the docs' example does: it folds every value the fused row folds into
/// its own per-message digest, which is merged only when the verdict is accept. A
/// treat-as-withdraw message's prefixes (`view.prefixes()`) are counted as withdrawn, as the
/// API hands them out.
#[inline(always)]
pub fn decode_one_documented(
    m: &bytes::Bytes,
    cx: &SessionContext,
    d: &mut Digest,
) -> Result<(), DecodeError> {
    match bgp_proto::decode_with(m.clone(), cx, Fold(Digest::default()))? {
        bgp_proto::Decoded::Update { values, .. } => {
            let v = values.0;
            d.messages += 1;
            d.announced += v.announced;
            d.withdrawn += v.withdrawn;
            d.prefix_len_sum += v.prefix_len_sum;
            d.as_path_asns += v.as_path_asns;
            d.communities += v.communities;
            d.large_communities += v.large_communities;
            d.ext_communities += v.ext_communities;
            d.touch(v.touch);
        }
        bgp_proto::Decoded::WithdrawAll { view, .. } => {
            d.messages += 1;
            for n in view.prefixes() {
                d.withdrawn += 1;
                d.prefix_len_sum += u64::from(n.prefix.prefix_len());
                d.touch(addr_bits(&n.prefix));
            }
        }
        bgp_proto::Decoded::Other(_) => {}
    }
    Ok(())
}

/// Decodes one UPDATE with `decode` on the message's `Bytes`, then the verdict-bearing
/// `routes()` and the same zero-copy accessors as the two-pass row (the form the crate docs
/// showed first until the fused `decode_with` led them). Prefixes of a treat-as-withdraw
/// message are counted as withdrawn, as `routes()` hands them out.
#[inline(always)]
pub fn decode_one_routes(
    m: &bytes::Bytes,
    cx: &SessionContext,
    d: &mut Digest,
) -> Result<(), DecodeError> {
    let bgp_proto::Message::Update(v) = bgp_proto::decode(m.clone(), cx)? else {
        return Ok(());
    };
    d.messages += 1;
    let count = |n: bgp_proto::attr::Nlri, d: &mut Digest| {
        d.prefix_len_sum += u64::from(n.prefix.prefix_len());
        d.touch(addr_bits(&n.prefix));
    };
    match v.routes() {
        Routes::Update {
            withdrawn,
            announced,
        } => {
            for n in withdrawn {
                d.withdrawn += 1;
                count(n, d);
            }
            for n in announced {
                d.announced += 1;
                count(n, d);
            }
        }
        Routes::WithdrawAll { prefixes, .. } => {
            for n in prefixes {
                d.withdrawn += 1;
                count(n, d);
            }
        }
    }
    view_attributes(&v, d);
    Ok(())
}

/// Decodes one UPDATE fully in one fused walk, `UpdateView::decode_with`: every check of
/// `new_checked`, and every value the zero-copy row reads (prefixes, ORIGIN, ATOMIC_AGGREGATE,
/// each AS_PATH ASN, MED, LOCAL_PREF, AGGREGATOR, ORIGINATOR_ID, CLUSTER_LIST, OTC, the three
/// community kinds, the next hops) handed to a visitor as the walk reaches it. Nothing is
/// allocated. The values are tentative until the verdict: a caller would drop them on
/// treat-as-withdraw; here, as in the other rows, they are all counted.
#[inline(always)]
pub fn decode_one_fused(m: &[u8], cx: &SessionContext, d: &mut Digest) -> Result<(), DecodeError> {
    let mut fold = Fold(&mut *d);
    let v = UpdateView::decode_with(m, cx, &mut fold)?;
    d.messages += 1;
    d.touch(matches!(v.verdict(), bgp_proto::Verdict::Accept) as u64);
    Ok(())
}

/// The fused rows' visitor: folds every value into a digest (borrowed, or owned per
/// message), as `view_attributes` does.
struct Fold<D>(D);

impl<D: std::borrow::BorrowMut<Digest>> Fold<D> {
    #[inline(always)]
    fn d(&mut self) -> &mut Digest {
        self.0.borrow_mut()
    }
}

impl<D: std::borrow::BorrowMut<Digest>> bgp_proto::UpdateVisitor for Fold<D> {
    #[inline(always)]
    fn withdrawn(&mut self, n: bgp_proto::attr::Nlri) {
        self.d().withdrawn += 1;
        self.d().prefix_len_sum += u64::from(n.prefix.prefix_len());
        self.d().touch(addr_bits(&n.prefix));
    }
    #[inline(always)]
    fn announced(&mut self, n: bgp_proto::attr::Nlri) {
        self.d().announced += 1;
        self.d().prefix_len_sum += u64::from(n.prefix.prefix_len());
        self.d().touch(addr_bits(&n.prefix));
    }
    #[inline(always)]
    fn origin(&mut self, o: bgp_proto::attr::Origin) {
        self.d().touch(o as u64);
    }
    #[inline(always)]
    fn atomic_aggregate(&mut self) {
        self.d().touch(1 << 8);
    }
    #[inline(always)]
    fn as_path_segment(&mut self, kind: bgp_proto::attr::AsSegmentType, _count: u8) {
        self.d().touch(kind as u64);
    }
    #[inline(always)]
    fn as_path_asn(&mut self, _kind: bgp_proto::attr::AsSegmentType, asn: u32) {
        self.d().as_path_asns += 1;
        self.d().touch(u64::from(asn));
    }
    #[inline(always)]
    fn med(&mut self, v: u32) {
        self.d().touch(u64::from(v));
    }
    #[inline(always)]
    fn local_pref(&mut self, v: u32) {
        self.d().touch(u64::from(v));
    }
    #[inline(always)]
    fn aggregator(&mut self, ag: bgp_proto::attr::Aggregator) {
        self.d()
            .touch(u64::from(ag.asn) ^ u64::from(u32::from(ag.address)));
    }
    #[inline(always)]
    fn originator_id(&mut self, id: std::net::Ipv4Addr) {
        self.d().touch(u64::from(u32::from(id)));
    }
    #[inline(always)]
    fn cluster_id(&mut self, id: std::net::Ipv4Addr) {
        self.d().touch(u64::from(u32::from(id)));
    }
    #[inline(always)]
    fn otc(&mut self, v: u32) {
        self.d().touch(u64::from(v));
    }
    #[inline(always)]
    fn community(&mut self, c: bgp_proto::attr::Community) {
        self.d().communities += 1;
        self.d().touch(u64::from(c.0));
    }
    #[inline(always)]
    fn large_community(&mut self, c: bgp_proto::attr::LargeCommunity) {
        self.d().large_communities += 1;
        self.d()
            .touch(u64::from(c.global) ^ u64::from(c.local1) ^ u64::from(c.local2));
    }
    #[inline(always)]
    fn ext_community(&mut self, c: bgp_proto::attr::ExtCommunity) {
        self.d().ext_communities += 1;
        self.d().touch(u64::from_be_bytes(c.0));
    }
    #[inline(always)]
    fn next_hop(&mut self, a: std::net::Ipv4Addr) {
        self.d().touch(u64::from(u32::from(a)));
    }
    #[inline(always)]
    fn mp_next_hop(&mut self, _f: Family, nh: bgp_proto::NextHop) {
        self.d().touch(next_hop_bits(&nh));
    }
}

/// Stages of our decode, each including the previous ones, for the cost breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `UpdateView::new_checked` only (the RFC 7606 walk).
    Check,
    /// + every withdrawn and announced prefix (`withdrawn()`, `announced()`).
    Prefixes,
    /// + every attribute through the zero-copy accessors (the full zero-copy decode).
    Accessors,
    /// + `attributes()` as well (owned values; what the owned-decode row pays on top of
    ///   the prefixes).
    Attributes,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Check,
        Stage::Prefixes,
        Stage::Accessors,
        Stage::Attributes,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Check => "new_checked only",
            Stage::Prefixes => "+ withdrawn()/announced() prefixes",
            Stage::Accessors => "+ every attribute via zero-copy accessors",
            Stage::Attributes => "+ attributes() (owned) on top",
        }
    }
}

/// Runs our decode up to `stage` on one message.
#[inline]
pub fn decode_stage(
    m: &[u8],
    cx: &SessionContext,
    stage: Stage,
    d: &mut Digest,
) -> Result<(), DecodeError> {
    let v = UpdateView::new_checked(m, cx)?;
    d.messages += 1;
    if stage == Stage::Check {
        d.touch(v.as_bytes().len() as u64);
        return Ok(());
    }
    prefixes(&v, d);
    if stage == Stage::Prefixes {
        return Ok(());
    }
    view_attributes(&v, d);
    if stage == Stage::Accessors {
        return Ok(());
    }
    let a = v.attributes();
    d.touch(a.as_path.segments.len() as u64 ^ a.communities.len() as u64);
    Ok(())
}

/// RFC 7606 outcomes our decoder reports over a corpus: (treat-as-withdraw reasons with
/// counts, attribute-discard reasons with counts, session-reset errors with counts).
pub fn verdict_summary(corpus: &Corpus, cx: &SessionContext) -> Vec<(String, usize)> {
    use std::collections::BTreeMap;
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for m in corpus.slices() {
        match UpdateView::new_checked(m, cx) {
            Err(e) => *out.entry(format!("reset: {e}")).or_default() += 1,
            Ok(v) => {
                if let bgp_proto::Verdict::TreatAsWithdraw { attr, reason } = v.verdict() {
                    *out.entry(format!("treat-as-withdraw: type {} {reason}", attr.0))
                        .or_default() += 1;
                }
                for (attr, reason) in v.discarded() {
                    *out.entry(format!("discard: type {} {reason}", attr.0))
                        .or_default() += 1;
                }
            }
        }
    }
    out.into_iter().collect()
}
