//! The owned form of an UPDATE: every attribute in received order with its received flags,
//! so that `view.to_owned().encode(..)` gives back the received bytes for canonical input.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use super::check::split_attr;
use super::UpdateView;
use crate::attr::{
    self, Aggregator, AsPath, Community, ExtCommunity, LargeCommunity, NextHop, Nlri, Origin,
    FLAG_EXTENDED_LENGTH,
};
use crate::iana::{AttrType, Family};
use crate::session::SessionContext;

/// An UPDATE message as owned values (RFC 4271 §4.3). MP_REACH_NLRI / MP_UNREACH_NLRI are
/// attributes here, as on the wire; `withdrawn` and `nlri` are the IPv4 fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// Withdrawn Routes (IPv4).
    pub withdrawn: Vec<Nlri>,
    /// Path attributes, in wire order.
    pub attrs: Vec<Attr>,
    /// NLRI (IPv4).
    pub nlri: Vec<Nlri>,
}

/// One path attribute with its flags octet as received (RFC 4271 §4.3). The Extended Length
/// bit is honoured on encode (a 2-octet length is written when it is set, or when the value
/// exceeds 255 octets); the other bits are written as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The flags octet.
    pub flags: u8,
    /// The value.
    pub value: PathAttr,
}

/// A path attribute value. Attributes the codec does not model, and modelled ones whose
/// octets are not exactly one well-formed value, are kept `Raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAttr {
    /// ORIGIN (1).
    Origin(Origin),
    /// AS_PATH (2).
    AsPath(AsPath),
    /// NEXT_HOP (3).
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC (4).
    Med(u32),
    /// LOCAL_PREF (5).
    LocalPref(u32),
    /// ATOMIC_AGGREGATE (6).
    AtomicAggregate,
    /// AGGREGATOR (7).
    Aggregator(Aggregator),
    /// COMMUNITIES (8).
    Communities(Vec<Community>),
    /// ORIGINATOR_ID (9).
    OriginatorId(Ipv4Addr),
    /// CLUSTER_LIST (10).
    ClusterList(Vec<Ipv4Addr>),
    /// MP_REACH_NLRI (14).
    MpReach(MpReach),
    /// MP_UNREACH_NLRI (15).
    MpUnreach(MpUnreach),
    /// EXTENDED_COMMUNITIES (16).
    ExtCommunities(Vec<ExtCommunity>),
    /// AS4_PATH (17).
    As4Path(AsPath),
    /// AS4_AGGREGATOR (18).
    As4Aggregator(Aggregator),
    /// LARGE_COMMUNITY (32).
    LargeCommunities(Vec<LargeCommunity>),
    /// OTC (35).
    Otc(u32),
    /// An attribute kept as received: not modelled, or not exactly one well-formed value.
    Raw {
        /// The attribute type code.
        type_code: AttrType,
        /// The value octets.
        value: Bytes,
    },
}

/// MP_REACH_NLRI (RFC 4760 §3) of a family whose NLRI the codec parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    /// AFI and SAFI.
    pub family: Family,
    /// The next hop.
    pub next_hop: NextHop,
    /// The announced prefixes.
    pub nlri: Vec<Nlri>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4) of a family whose NLRI the codec parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    /// AFI and SAFI.
    pub family: Family,
    /// The withdrawn prefixes.
    pub nlri: Vec<Nlri>,
}

impl PathAttr {
    /// The attribute type code.
    pub fn type_code(&self) -> AttrType {
        match self {
            PathAttr::Origin(_) => AttrType::ORIGIN,
            PathAttr::AsPath(_) => AttrType::AS_PATH,
            PathAttr::NextHop(_) => AttrType::NEXT_HOP,
            PathAttr::Med(_) => AttrType::MULTI_EXIT_DISC,
            PathAttr::LocalPref(_) => AttrType::LOCAL_PREF,
            PathAttr::AtomicAggregate => AttrType::ATOMIC_AGGREGATE,
            PathAttr::Aggregator(_) => AttrType::AGGREGATOR,
            PathAttr::Communities(_) => AttrType::COMMUNITIES,
            PathAttr::OriginatorId(_) => AttrType::ORIGINATOR_ID,
            PathAttr::ClusterList(_) => AttrType::CLUSTER_LIST,
            PathAttr::MpReach(_) => AttrType::MP_REACH_NLRI,
            PathAttr::MpUnreach(_) => AttrType::MP_UNREACH_NLRI,
            PathAttr::ExtCommunities(_) => AttrType::EXTENDED_COMMUNITIES,
            PathAttr::As4Path(_) => AttrType::AS4_PATH,
            PathAttr::As4Aggregator(_) => AttrType::AS4_AGGREGATOR,
            PathAttr::LargeCommunities(_) => AttrType::LARGE_COMMUNITY,
            PathAttr::Otc(_) => AttrType::OTC,
            PathAttr::Raw { type_code, .. } => *type_code,
        }
    }

    /// The flags RFC 4271 §5 and the attribute's RFC define (Optional, Transitive); for `Raw`,
    /// optional transitive.
    pub fn default_flags(&self) -> u8 {
        use crate::attr::{FLAG_OPTIONAL as O, FLAG_TRANSITIVE as T};
        match self {
            PathAttr::Origin(_)
            | PathAttr::AsPath(_)
            | PathAttr::NextHop(_)
            | PathAttr::LocalPref(_)
            | PathAttr::AtomicAggregate => T,
            PathAttr::Med(_)
            | PathAttr::OriginatorId(_)
            | PathAttr::ClusterList(_)
            | PathAttr::MpReach(_)
            | PathAttr::MpUnreach(_) => O,
            _ => O | T,
        }
    }

    /// Octets `encode_value` writes.
    pub fn value_len(&self, cx: &SessionContext) -> usize {
        let asn_len = if cx.four_octet_as { 4 } else { 2 };
        let nlri_len = |f: Family, n: &[Nlri]| {
            let ap = cx.add_path_tx(f);
            n.iter().map(|x| x.encoded_len(ap)).sum::<usize>()
        };
        match self {
            PathAttr::Origin(_) => 1,
            PathAttr::AsPath(p) => p.encoded_len(asn_len),
            PathAttr::NextHop(_)
            | PathAttr::OriginatorId(_)
            | PathAttr::Med(_)
            | PathAttr::LocalPref(_)
            | PathAttr::Otc(_) => 4,
            PathAttr::AtomicAggregate => 0,
            PathAttr::Aggregator(_) => asn_len + 4,
            PathAttr::Communities(c) => c.len() * 4,
            PathAttr::ClusterList(c) => c.len() * 4,
            PathAttr::MpReach(m) => 5 + m.next_hop.encoded_len() + nlri_len(m.family, &m.nlri),
            PathAttr::MpUnreach(m) => 3 + nlri_len(m.family, &m.nlri),
            PathAttr::ExtCommunities(c) => c.len() * 8,
            PathAttr::As4Path(p) => p.encoded_len(4),
            PathAttr::As4Aggregator(_) => 8,
            PathAttr::LargeCommunities(c) => c.len() * 12,
            PathAttr::Raw { value, .. } => value.len(),
        }
    }

    /// Writes the value octets. AS_PATH and AGGREGATOR use 4-octet ASNs when
    /// `cx.four_octet_as`; NLRI carry path ids when `cx.add_path_tx` has their family.
    pub fn encode_value(&self, cx: &SessionContext, dst: &mut impl BufMut) {
        let asn_len = if cx.four_octet_as { 4 } else { 2 };
        match self {
            PathAttr::Origin(o) => dst.put_u8(o.code()),
            PathAttr::AsPath(p) => p.encode_value(asn_len, dst),
            PathAttr::NextHop(a) | PathAttr::OriginatorId(a) => dst.put_slice(&a.octets()),
            PathAttr::Med(v) | PathAttr::LocalPref(v) | PathAttr::Otc(v) => dst.put_u32(*v),
            PathAttr::AtomicAggregate => {}
            PathAttr::Aggregator(a) => a.encode_value(asn_len, dst),
            PathAttr::Communities(c) => c.iter().for_each(|c| dst.put_u32(c.0)),
            PathAttr::ClusterList(c) => c.iter().for_each(|a| dst.put_slice(&a.octets())),
            PathAttr::MpReach(m) => {
                dst.put_u16(m.family.afi.0);
                dst.put_u8(m.family.safi.0);
                dst.put_u8(m.next_hop.encoded_len() as u8); // 4, 16 or 32
                m.next_hop.encode_value(dst);
                dst.put_u8(0);
                let ap = cx.add_path_tx(m.family);
                m.nlri.iter().for_each(|n| n.encode(ap, dst));
            }
            PathAttr::MpUnreach(m) => {
                dst.put_u16(m.family.afi.0);
                dst.put_u8(m.family.safi.0);
                let ap = cx.add_path_tx(m.family);
                m.nlri.iter().for_each(|n| n.encode(ap, dst));
            }
            PathAttr::ExtCommunities(c) => c.iter().for_each(|c| dst.put_slice(&c.0)),
            PathAttr::As4Path(p) => p.encode_value(4, dst),
            PathAttr::As4Aggregator(a) => a.encode_value(4, dst),
            PathAttr::LargeCommunities(c) => c.iter().for_each(|c| {
                dst.put_u32(c.global);
                dst.put_u32(c.local1);
                dst.put_u32(c.local2);
            }),
            PathAttr::Raw { value, .. } => dst.put_slice(value),
        }
    }
}

impl Attr {
    /// An attribute with the flags its definition requires.
    pub fn new(value: PathAttr) -> Attr {
        Attr {
            flags: value.default_flags(),
            value,
        }
    }

    /// Octets `encode` writes: header (3, or 4 with a 2-octet length) and value.
    pub fn encoded_len(&self, cx: &SessionContext) -> usize {
        let v = self.value.value_len(cx);
        let ext = self.flags & FLAG_EXTENDED_LENGTH != 0 || v > 255;
        v + if ext { 4 } else { 3 }
    }

    /// Writes flags, type, length and value (RFC 4271 §4.3).
    pub fn encode(&self, cx: &SessionContext, dst: &mut BytesMut) {
        let mut v = BytesMut::new();
        self.value.encode_value(cx, &mut v);
        put_attr(dst, self.flags, self.value.type_code().0, &v);
    }
}

/// Writes one attribute with a 2-octet length when the Extended Length flag is set or the
/// value needs it.
pub(crate) fn put_attr(dst: &mut BytesMut, flags: u8, code: u8, value: &[u8]) {
    let ext = flags & FLAG_EXTENDED_LENGTH != 0 || value.len() > 255;
    if ext {
        dst.put_u8(flags | FLAG_EXTENDED_LENGTH);
        dst.put_u8(code);
        dst.put_u16(u16::try_from(value.len()).unwrap_or(u16::MAX));
    } else {
        dst.put_u8(flags);
        dst.put_u8(code);
        dst.put_u8(value.len() as u8); // <= 255 checked above
    }
    dst.put_slice(value);
}

/// Overwrites the 2 octets at `at` with `v` (no-op when out of range).
pub(crate) fn patch_u16(dst: &mut BytesMut, at: usize, v: usize) {
    let v = u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(s) = dst.get_mut(at..at + 2) {
        s.copy_from_slice(&v);
    }
}

impl Update {
    /// Encodes the whole message, header included (RFC 4271 §4.1, §4.3). The caller keeps the
    /// message within `cx.max_message_len()`; the length fields saturate at 65535.
    pub fn encode(&self, cx: &SessionContext, dst: &mut BytesMut) {
        let ap = cx.add_path_tx(Family::IPV4_UNICAST);
        let start = dst.len();
        dst.put_slice(&[0xff; 16]);
        dst.put_u16(0);
        dst.put_u8(2);
        let wd_at = dst.len();
        dst.put_u16(0);
        self.withdrawn.iter().for_each(|n| n.encode(ap, dst));
        let wd_len = dst.len() - wd_at - 2;
        patch_u16(dst, wd_at, wd_len);
        let attr_at = dst.len();
        dst.put_u16(0);
        let mut scratch = BytesMut::new();
        for a in &self.attrs {
            scratch.clear();
            a.value.encode_value(cx, &mut scratch);
            put_attr(dst, a.flags, a.value.type_code().0, &scratch);
        }
        let attr_len = dst.len() - attr_at - 2;
        patch_u16(dst, attr_at, attr_len);
        self.nlri.iter().for_each(|n| n.encode(ap, dst));
        let total = dst.len() - start;
        patch_u16(dst, start + 16, total);
    }

    /// Octets `encode` writes, header included.
    pub fn encoded_len(&self, cx: &SessionContext) -> usize {
        let ap = cx.add_path_tx(Family::IPV4_UNICAST);
        let nlri = |n: &[Nlri]| n.iter().map(|x| x.encoded_len(ap)).sum::<usize>();
        23 + nlri(&self.withdrawn)
            + self.attrs.iter().map(|a| a.encoded_len(cx)).sum::<usize>()
            + nlri(&self.nlri)
    }

    /// The encoded message as `Bytes`.
    pub fn to_bytes(&self, cx: &SessionContext) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(cx, &mut b);
        b.freeze()
    }
}

pub(crate) fn to_owned<B: AsRef<[u8]>>(view: &UpdateView<B>) -> Update {
    let cx = SessionContext {
        four_octet_as: view.four_octet_as,
        add_path_tx: {
            let mut s = crate::session::FamilySet::new();
            if view.add_path_v4 {
                s.insert(Family::IPV4_UNICAST);
            }
            for m in [&view.mp_reach, &view.mp_unreach] {
                if m.active && m.add_path {
                    s.insert(view.mp_family(m));
                }
            }
            s
        },
        ..SessionContext::default()
    };
    let mut attrs = Vec::new();
    let mut rest = view.span(view.attrs);
    let mut scratch = Vec::new();
    while let Some((flags, code, value, tail)) = split_attr(rest) {
        rest = tail;
        let typed = typed_attr(view, code, value).filter(|t| {
            scratch.clear();
            t.encode_value(&cx, &mut scratch);
            scratch == value
        });
        let value = typed.unwrap_or_else(|| PathAttr::Raw {
            type_code: AttrType(code),
            value: Bytes::copy_from_slice(value),
        });
        attrs.push(Attr { flags, value });
    }
    Update {
        withdrawn: view.withdrawn_routes().collect(),
        attrs,
        nlri: view.nlri().collect(),
    }
}

/// The typed value of one attribute, or `None` to keep it raw.
fn typed_attr<B: AsRef<[u8]>>(view: &UpdateView<B>, code: u8, v: &[u8]) -> Option<PathAttr> {
    let asn_len = if view.four_octet_as { 4 } else { 2 };
    Some(match AttrType(code) {
        AttrType::ORIGIN => PathAttr::Origin(Origin::decode_value(v)?),
        AttrType::AS_PATH => PathAttr::AsPath(AsPath::decode_value(v, asn_len)?),
        AttrType::NEXT_HOP => PathAttr::NextHop(attr::decode_ipv4(v)?),
        AttrType::MULTI_EXIT_DISC => PathAttr::Med(attr::decode_u32(v)?),
        AttrType::LOCAL_PREF => PathAttr::LocalPref(attr::decode_u32(v)?),
        AttrType::ATOMIC_AGGREGATE if v.is_empty() => PathAttr::AtomicAggregate,
        AttrType::AGGREGATOR => PathAttr::Aggregator(Aggregator::decode_value(v, asn_len)?),
        AttrType::COMMUNITIES => PathAttr::Communities(attr::decode_communities(v)?),
        AttrType::ORIGINATOR_ID => PathAttr::OriginatorId(attr::decode_ipv4(v)?),
        AttrType::CLUSTER_LIST => PathAttr::ClusterList(attr::decode_ipv4_list(v)?),
        AttrType::MP_REACH_NLRI => {
            let m = &view.mp_reach;
            // Only the first (checked) occurrence of a negotiated, supported family.
            if !m.active || view.span(m.nlri).as_ptr_range().end != v.as_ptr_range().end {
                return None;
            }
            PathAttr::MpReach(MpReach {
                family: view.mp_family(m),
                next_hop: NextHop::decode_value(view.span(m.next_hop))?,
                nlri: view.mp_reach_nlri().collect(),
            })
        }
        AttrType::MP_UNREACH_NLRI => {
            let m = &view.mp_unreach;
            if !m.active || view.span(m.nlri).as_ptr_range().end != v.as_ptr_range().end {
                return None;
            }
            PathAttr::MpUnreach(MpUnreach {
                family: view.mp_family(m),
                nlri: view.mp_unreach_nlri().collect(),
            })
        }
        AttrType::EXTENDED_COMMUNITIES => {
            PathAttr::ExtCommunities(attr::decode_ext_communities(v)?)
        }
        AttrType::AS4_PATH => PathAttr::As4Path(AsPath::decode_value(v, 4)?),
        AttrType::AS4_AGGREGATOR => PathAttr::As4Aggregator(Aggregator::decode_value(v, 4)?),
        AttrType::LARGE_COMMUNITY => PathAttr::LargeCommunities(attr::decode_large_communities(v)?),
        AttrType::OTC => PathAttr::Otc(attr::decode_u32(v)?),
        _ => return None,
    })
}
