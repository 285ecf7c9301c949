//! Shared by the tests of the fused decode (`UpdateView::decode_with`): a visitor that
//! records every value, and the comparison with `UpdateView::new_checked` plus its accessors.

use std::net::Ipv4Addr;

use bgp_proto::attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE,
};
use bgp_proto::{
    Afi, AttrType, Family, Safi, SessionContext, UpdateView, UpdateVisitor, Verdict, AS_TRANS,
};

/// Everything the visitor received.
#[derive(Debug, Default)]
pub struct Recorder {
    pub withdrawn: Vec<Nlri>,
    pub announced: Vec<Nlri>,
    pub origin: Option<Origin>,
    pub as_path: AsPath,
    pub as4_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub mp_next_hop: Option<(Family, NextHop)>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub as4_aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub otc: Option<u32>,
    pub unknown: Vec<(u8, AttrType, Vec<u8>)>,
    /// A value was delivered twice (never expected).
    pub twice: Vec<&'static str>,
}

fn set<T>(slot: &mut Option<T>, v: T, name: &'static str, twice: &mut Vec<&'static str>) {
    if slot.is_some() {
        twice.push(name);
    }
    *slot = Some(v);
}

impl UpdateVisitor for Recorder {
    fn withdrawn(&mut self, nlri: Nlri) {
        self.withdrawn.push(nlri);
    }
    fn announced(&mut self, nlri: Nlri) {
        self.announced.push(nlri);
    }
    fn origin(&mut self, origin: Origin) {
        set(&mut self.origin, origin, "origin", &mut self.twice);
    }
    fn as_path_segment(&mut self, kind: AsSegmentType, count: u8) {
        self.as_path.segments.push(AsSegment {
            kind,
            asns: Vec::with_capacity(count.into()),
        });
    }
    fn as_path_asn(&mut self, kind: AsSegmentType, asn: u32) {
        match self.as_path.segments.last_mut() {
            Some(s) if s.kind == kind => s.asns.push(asn),
            _ => self.twice.push("asn outside its segment"),
        }
    }
    fn as4_path_segment(&mut self, kind: AsSegmentType, count: u8) {
        self.as4_path
            .get_or_insert_with(AsPath::default)
            .segments
            .push(AsSegment {
                kind,
                asns: Vec::with_capacity(count.into()),
            });
    }
    fn as4_path_asn(&mut self, kind: AsSegmentType, asn: u32) {
        match self.as4_path.as_mut().and_then(|p| p.segments.last_mut()) {
            Some(s) if s.kind == kind => s.asns.push(asn),
            _ => self.twice.push("as4 asn outside its segment"),
        }
    }
    fn next_hop(&mut self, a: Ipv4Addr) {
        set(&mut self.next_hop, a, "next_hop", &mut self.twice);
    }
    fn mp_next_hop(&mut self, f: Family, nh: NextHop) {
        set(
            &mut self.mp_next_hop,
            (f, nh),
            "mp_next_hop",
            &mut self.twice,
        );
    }
    fn med(&mut self, v: u32) {
        set(&mut self.med, v, "med", &mut self.twice);
    }
    fn local_pref(&mut self, v: u32) {
        set(&mut self.local_pref, v, "local_pref", &mut self.twice);
    }
    fn atomic_aggregate(&mut self) {
        if self.atomic_aggregate {
            self.twice.push("atomic_aggregate");
        }
        self.atomic_aggregate = true;
    }
    fn aggregator(&mut self, a: Aggregator) {
        set(&mut self.aggregator, a, "aggregator", &mut self.twice);
    }
    fn as4_aggregator(&mut self, a: Aggregator) {
        set(
            &mut self.as4_aggregator,
            a,
            "as4_aggregator",
            &mut self.twice,
        );
    }
    fn community(&mut self, c: Community) {
        self.communities.push(c);
    }
    fn ext_community(&mut self, c: ExtCommunity) {
        self.ext_communities.push(c);
    }
    fn large_community(&mut self, c: LargeCommunity) {
        self.large_communities.push(c);
    }
    fn originator_id(&mut self, id: Ipv4Addr) {
        set(
            &mut self.originator_id,
            id,
            "originator_id",
            &mut self.twice,
        );
    }
    fn cluster_id(&mut self, id: Ipv4Addr) {
        self.cluster_list.push(id);
    }
    fn otc(&mut self, asn: u32) {
        set(&mut self.otc, asn, "otc", &mut self.twice);
    }
    fn unknown(&mut self, flags: u8, code: AttrType, value: &[u8]) {
        self.unknown.push((flags, code, value.to_vec()));
    }
}

impl Recorder {
    /// The owned attributes built from the visited values the way `attributes()` builds them
    /// (RFC 6793 §4.2.3 merge on 2-octet sessions; optional transitive unknowns with the
    /// Partial bit).
    pub fn attributes(&self, cx: &SessionContext) -> PathAttributes {
        let mut pa = PathAttributes {
            origin: self.origin.unwrap_or_default(),
            as_path: self.as_path.clone(),
            med: self.med,
            local_pref: self.local_pref,
            atomic_aggregate: self.atomic_aggregate,
            aggregator: self.aggregator,
            communities: self.communities.clone(),
            ext_communities: self.ext_communities.clone(),
            large_communities: self.large_communities.clone(),
            originator_id: self.originator_id,
            cluster_list: self.cluster_list.clone(),
            otc: self.otc,
            unknown: Vec::new(),
        };
        if !cx.four_octet_as {
            let mut use_as4_path = true;
            if let (Some(agg), Some(as4)) = (pa.aggregator, self.as4_aggregator) {
                if agg.asn != u32::from(AS_TRANS) {
                    use_as4_path = false;
                } else {
                    pa.aggregator = Some(as4);
                }
            }
            if let (true, Some(as4)) = (use_as4_path, &self.as4_path) {
                pa.as_path = pa.as_path.merge_as4(as4);
            }
        }
        for (flags, code, value) in &self.unknown {
            if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) == FLAG_OPTIONAL | FLAG_TRANSITIVE {
                pa.unknown.push(RawAttr {
                    flags: flags | FLAG_PARTIAL,
                    type_code: *code,
                    value: bytes::Bytes::copy_from_slice(value),
                });
            }
        }
        pa
    }
}

/// A verdict and the discarded attributes.
type Outcome = (Verdict, Vec<(AttrType, &'static str)>);

/// What a decode concluded: the error (Debug form: NOTIFICATION code, subcode, data and
/// reason), or the verdict and the discarded list.
fn outcome<B: AsRef<[u8]>>(
    r: &Result<UpdateView<B>, bgp_proto::DecodeError>,
) -> Result<Outcome, String> {
    match r {
        Ok(v) => Ok((v.verdict(), v.discarded().collect())),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// `decode_with` gives the same error, verdict and discarded list as `new_checked`; when the
/// verdict is Accept the visitor received exactly what the accessors report. Returns whether
/// the message was accepted.
pub fn agrees(msg: &[u8], cx: &SessionContext) -> Result<bool, String> {
    let checked = UpdateView::new_checked(msg, cx);
    let mut rec = Recorder::default();
    let fused = UpdateView::decode_with(msg, cx, &mut rec);
    let (want, got) = (outcome(&checked), outcome(&fused));
    if want != got {
        return Err(format!("new_checked {want:?}\ndecode_with {got:?}"));
    }
    let (Ok(v), Ok(f)) = (checked, fused) else {
        return Ok(false);
    };
    // The returned view is the same view.
    if v.to_owned() != f.to_owned() || v.attributes() != f.attributes() {
        return Err("decode_with's view differs from new_checked's".into());
    }
    if v.verdict() != Verdict::Accept {
        return Ok(false);
    }
    if !rec.twice.is_empty() {
        return Err(format!("delivered twice: {:?}", rec.twice));
    }
    let wd: Vec<Nlri> = v.withdrawn().collect();
    let an: Vec<Nlri> = v.announced().collect();
    if wd != rec.withdrawn || an != rec.announced {
        return Err(format!(
            "prefixes: withdrawn {wd:?} vs {:?}, announced {an:?} vs {:?}",
            rec.withdrawn, rec.announced
        ));
    }
    let asn_len = if cx.four_octet_as { 4 } else { 2 };
    let raw_path = v
        .as_path_bytes()
        .and_then(|b| AsPath::decode_value(b, asn_len))
        .unwrap_or_default();
    if raw_path != rec.as_path {
        return Err(format!("AS_PATH {raw_path:?} vs {:?}", rec.as_path));
    }
    let (a, b) = (v.attributes(), rec.attributes(cx));
    if a != b {
        return Err(format!("attributes\n{a:?}\nvs\n{b:?}"));
    }
    if cx.four_octet_as && v.aggregator() != rec.aggregator {
        return Err("aggregator".into());
    }
    for fam in [
        Family::IPV4_UNICAST,
        Family::IPV6_UNICAST,
        Family::new(Afi::IPV4, Safi::MULTICAST),
        Family::new(Afi::IPV6, Safi::MULTICAST),
    ] {
        let want = v.next_hop(fam);
        let got = match rec.mp_next_hop {
            Some((f, nh)) if f == fam => Some(nh),
            _ if fam == Family::IPV4_UNICAST => rec.next_hop.map(NextHop::V4),
            _ => None,
        };
        if want != got {
            return Err(format!("next hop {fam:?}: {want:?} vs {got:?}"));
        }
    }
    Ok(true)
}
