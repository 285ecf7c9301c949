//! The compact form in which the Adj-RIB-In keeps a received route's next hop and path
//! attributes: one octet string per distinct path, decoded back only when a route is read.
//!
//! Decoded [`PathAttributes`] take about 220 octets before their vectors (AS_PATH segments,
//! communities), each a heap block of its own; a full table of distinct paths then costs
//! several hundred octets per route. This form costs the octets of the values and a few of
//! framing (about 40 for a typical route) in one block.
//!
//! Layout: two header octets, then the present fields in this order, integers big-endian.
//! * octet 0: ORIGIN (bits 0-1), MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR,
//!   ORIGINATOR_ID, OTC (bits 2-7: present);
//! * octet 1: next hop kind (bits 0-1: IPv4, IPv6, IPv6 + link-local), AS_PATH, COMMUNITIES,
//!   EXTENDED COMMUNITIES, LARGE_COMMUNITY, CLUSTER_LIST, unknown attributes (bits 2-7:
//!   present and not empty);
//! * the next hop (4, 16 or 32 octets); MED, LOCAL_PREF (4 each); AGGREGATOR (ASN 4, address
//!   4); ORIGINATOR_ID, OTC (4 each);
//! * AS_PATH: segment count, then per segment its type code and ASN count and the ASNs
//!   (4 octets each); each list: its item count, then the items; unknown attributes: count,
//!   then flags, type code, value length and value.
//!
//! Counts and lengths are variable-length (7 bits per octet, high bit = more follow), so any
//! value round-trips, including AS_PATH segments longer than the wire's 255 ASNs.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_proto::{
    Aggregator, AsPath, AsSegment, AsSegmentType, AttrType, Community, ExtCommunity,
    LargeCommunity, NextHop, Origin, PathAttributes, RawAttr,
};
use bytes::Bytes;

/// Bits 2-7 of a header octet: one presence flag each, in the order the module docs list.
fn flags(present: [bool; 6]) -> u8 {
    present
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &p)| acc | (u8::from(p) << (i + 2)))
}

/// The six presence flags [`flags`] packed into `octet`.
fn present(octet: u8) -> [bool; 6] {
    std::array::from_fn(|i| octet & (4 << i) != 0)
}

/// Appends the compact form of (`next_hop`, `attrs`) to `out`.
pub(crate) fn encode(next_hop: &NextHop, attrs: &PathAttributes, out: &mut Vec<u8>) {
    let h0 = (attrs.origin.code() & 3)
        | flags([
            attrs.med.is_some(),
            attrs.local_pref.is_some(),
            attrs.atomic_aggregate,
            attrs.aggregator.is_some(),
            attrs.originator_id.is_some(),
            attrs.otc.is_some(),
        ]);
    let next_hop_kind = match next_hop {
        NextHop::V4(_) => 0,
        NextHop::V6 {
            link_local: None, ..
        } => 1,
        NextHop::V6 { .. } => 2,
    };
    let h1 = next_hop_kind
        | flags([
            !attrs.as_path.segments.is_empty(),
            !attrs.communities.is_empty(),
            !attrs.ext_communities.is_empty(),
            !attrs.large_communities.is_empty(),
            !attrs.cluster_list.is_empty(),
            !attrs.unknown.is_empty(),
        ]);
    out.extend_from_slice(&[h0, h1]);
    match next_hop {
        NextHop::V4(a) => out.extend_from_slice(&a.octets()),
        NextHop::V6 { global, link_local } => {
            out.extend_from_slice(&global.octets());
            if let Some(l) = link_local {
                out.extend_from_slice(&l.octets());
            }
        }
    }
    let u32s = [
        attrs.med,
        attrs.local_pref,
        attrs.aggregator.map(|a| a.asn),
        attrs.aggregator.map(|a| u32::from(a.address)),
        attrs.originator_id.map(u32::from),
        attrs.otc,
    ];
    for v in u32s.into_iter().flatten() {
        out.extend_from_slice(&v.to_be_bytes());
    }
    if !attrs.as_path.segments.is_empty() {
        put_len(out, attrs.as_path.segments.len());
        for s in &attrs.as_path.segments {
            out.push(s.kind.code());
            put_len(out, s.asns.len());
            for a in &s.asns {
                out.extend_from_slice(&a.to_be_bytes());
            }
        }
    }
    put_list(out, &attrs.communities, |c, o| {
        o.extend_from_slice(&c.0.to_be_bytes())
    });
    put_list(out, &attrs.ext_communities, |c, o| {
        o.extend_from_slice(&c.0)
    });
    put_list(out, &attrs.large_communities, |c, o| {
        for v in [c.global, c.local1, c.local2] {
            o.extend_from_slice(&v.to_be_bytes());
        }
    });
    put_list(out, &attrs.cluster_list, |a, o| {
        o.extend_from_slice(&a.octets())
    });
    put_list(out, &attrs.unknown, |u, o| {
        o.extend_from_slice(&[u.flags, u.type_code.0]);
        put_len(o, u.value.len());
        o.extend_from_slice(&u.value);
    });
}

/// Decodes what [`encode`] wrote; `None` for anything else (never for its output).
pub(crate) fn decode(b: &[u8]) -> Option<(NextHop, PathAttributes)> {
    let mut r = Reader(b);
    let [h0, h1] = r.array::<2>()?;
    let [med, local_pref, atomic_aggregate, aggregator, originator_id, otc] = present(h0);
    let [as_path, communities, ext_communities, large_communities, cluster_list, unknown] =
        present(h1);
    let next_hop = match h1 & 3 {
        0 => NextHop::V4(Ipv4Addr::from(r.array::<4>()?)),
        1 => NextHop::V6 {
            global: Ipv6Addr::from(r.array::<16>()?),
            link_local: None,
        },
        2 => NextHop::V6 {
            global: Ipv6Addr::from(r.array::<16>()?),
            link_local: Some(Ipv6Addr::from(r.array::<16>()?)),
        },
        _ => return None,
    };
    let mut attrs = PathAttributes {
        origin: match h0 & 3 {
            0 => Origin::Igp,
            1 => Origin::Egp,
            2 => Origin::Incomplete,
            _ => return None,
        },
        atomic_aggregate,
        ..PathAttributes::default()
    };
    let opt = |present: bool, r: &mut Reader<'_>| -> Option<Option<u32>> {
        if present {
            r.u32().map(Some)
        } else {
            Some(None)
        }
    };
    attrs.med = opt(med, &mut r)?;
    attrs.local_pref = opt(local_pref, &mut r)?;
    if aggregator {
        attrs.aggregator = Some(Aggregator {
            asn: r.u32()?,
            address: Ipv4Addr::from(r.u32()?),
        });
    }
    attrs.originator_id = opt(originator_id, &mut r)?.map(Ipv4Addr::from);
    attrs.otc = opt(otc, &mut r)?;
    if as_path {
        let n = r.len()?;
        let mut segments = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let kind = AsSegmentType::from_code(r.array::<1>()?[0])?;
            let asns = r.list(|r| r.u32())?;
            segments.push(AsSegment { kind, asns });
        }
        attrs.as_path = AsPath { segments };
    }
    if communities {
        attrs.communities = r.list(|r| r.u32().map(Community))?;
    }
    if ext_communities {
        attrs.ext_communities = r.list(|r| r.array::<8>().map(ExtCommunity))?;
    }
    if large_communities {
        attrs.large_communities = r.list(|r| {
            Some(LargeCommunity {
                global: r.u32()?,
                local1: r.u32()?,
                local2: r.u32()?,
            })
        })?;
    }
    if cluster_list {
        attrs.cluster_list = r.list(|r| r.u32().map(Ipv4Addr::from))?;
    }
    if unknown {
        attrs.unknown = r.list(|r| {
            let [flags, code] = r.array::<2>()?;
            let len = r.len()?;
            Some(RawAttr {
                flags,
                type_code: AttrType(code),
                value: Bytes::copy_from_slice(r.take(len)?),
            })
        })?;
    }
    r.0.is_empty().then_some((next_hop, attrs))
}

/// Count or length, 7 bits per octet, least significant first.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A present (non-empty) list: its count, then each item.
fn put_list<T>(out: &mut Vec<u8>, items: &[T], mut put: impl FnMut(&T, &mut Vec<u8>)) {
    if items.is_empty() {
        return;
    }
    put_len(out, items.len());
    for i in items {
        put(i, out);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array::<4>().map(u32::from_be_bytes)
    }

    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let [b] = self.array::<1>()?;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A count, then that many items. The count is checked against the octets left (every
    /// item takes at least one), so a bad count cannot reserve much.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.len()?;
        if n > self.0.len() {
            return None;
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(item(self)?);
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = AsSegment> {
        (
            prop::sample::select(vec![
                AsSegmentType::Set,
                AsSegmentType::Sequence,
                AsSegmentType::ConfedSequence,
                AsSegmentType::ConfedSet,
            ]),
            prop::collection::vec(any::<u32>(), 0..300),
        )
            .prop_map(|(kind, asns)| AsSegment { kind, asns })
    }

    fn next_hop() -> impl Strategy<Value = NextHop> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|a| NextHop::V4(a.into())),
            (any::<[u8; 16]>(), prop::option::of(any::<[u8; 16]>())).prop_map(|(g, l)| {
                NextHop::V6 {
                    global: g.into(),
                    link_local: l.map(Into::into),
                }
            }),
        ]
    }

    prop_compose! {
        fn attrs()(
            origin in prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]),
            segments in prop::collection::vec(segment(), 0..4),
            med in any::<Option<u32>>(),
            local_pref in any::<Option<u32>>(),
            atomic_aggregate in any::<bool>(),
            aggregator in any::<Option<(u32, [u8; 4])>>(),
            communities in prop::collection::vec(any::<u32>(), 0..200),
            ext in prop::collection::vec(any::<[u8; 8]>(), 0..5),
            large in prop::collection::vec(any::<(u32, u32, u32)>(), 0..5),
            originator_id in any::<Option<[u8; 4]>>(),
            cluster in prop::collection::vec(any::<[u8; 4]>(), 0..5),
            otc in any::<Option<u32>>(),
            unknown in prop::collection::vec(
                (any::<u8>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)), 0..3),
        ) -> PathAttributes {
            PathAttributes {
                origin,
                as_path: AsPath { segments },
                med,
                local_pref,
                atomic_aggregate,
                aggregator: aggregator.map(|(asn, a)| Aggregator { asn, address: a.into() }),
                communities: communities.into_iter().map(Community).collect(),
                ext_communities: ext.into_iter().map(ExtCommunity).collect(),
                large_communities: large
                    .into_iter()
                    .map(|(global, local1, local2)| LargeCommunity { global, local1, local2 })
                    .collect(),
                originator_id: originator_id.map(Into::into),
                cluster_list: cluster.into_iter().map(Into::into).collect(),
                otc,
                unknown: unknown
                    .into_iter()
                    .map(|(flags, code, v)| RawAttr {
                        flags,
                        type_code: AttrType(code),
                        value: Bytes::from(v),
                    })
                    .collect(),
            }
        }
    }

    proptest! {
        #[test]
        fn decode_gives_back_what_encode_wrote(nh in next_hop(), a in attrs()) {
            let mut b = Vec::new();
            encode(&nh, &a, &mut b);
            prop_assert_eq!(decode(&b), Some((nh, a)));
        }

        #[test]
        fn decode_refuses_a_truncated_or_extended_form(nh in next_hop(), a in attrs(), cut in any::<prop::sample::Index>()) {
            let mut b = Vec::new();
            encode(&nh, &a, &mut b);
            let cut = cut.index(b.len());
            prop_assert_eq!(decode(&b[..cut]), None);
            b.push(0);
            prop_assert_eq!(decode(&b), None);
        }

        #[test]
        fn decode_never_panics_on_garbage(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&b);
        }
    }

    #[test]
    fn a_typical_route_takes_about_forty_octets() {
        let a = PathAttributes {
            as_path: AsPath::from_sequence([65010, 3356, 1299, 4_200_000_123]),
            med: Some(10),
            communities: vec![Community(0xfde8_0001), Community(0x0d1c_0064)],
            ..PathAttributes::default()
        };
        let mut b = Vec::new();
        encode(&NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)), &a, &mut b);
        // 2 header + 4 next hop + 4 MED + (1 + 1 + 1 + 16) AS_PATH + (1 + 8) COMMUNITIES.
        assert_eq!(b.len(), 38);
    }
}
