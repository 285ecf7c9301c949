//! proptest round trips for every owned UPDATE value: attribute values through their wire
//! form, `PathAttributes` through `UpdateBuilder` and `UpdateView::attributes`, and `Update`
//! through `encode` and `UpdateView::to_owned`. Also: arbitrary bytes never panic the view.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_proto::attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr,
};
use bgp_proto::update::{Attr, MpReach, MpUnreach, NlriIter, PathAttr, Update};
use bgp_proto::{AttrType, Family, SessionContext, UpdateBuilder, UpdateView, Verdict};
use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ]
}

fn segment(max_asn: u32, confed: bool) -> impl Strategy<Value = AsSegment> {
    let kinds = if confed {
        prop_oneof![
            Just(AsSegmentType::Sequence),
            Just(AsSegmentType::Set),
            Just(AsSegmentType::ConfedSequence),
            Just(AsSegmentType::ConfedSet)
        ]
        .boxed()
    } else {
        prop_oneof![Just(AsSegmentType::Sequence), Just(AsSegmentType::Set)].boxed()
    };
    (kinds, prop::collection::vec(1..=max_asn, 1..8))
        .prop_map(|(kind, asns)| AsSegment { kind, asns })
}

fn as_path(max_asn: u32, confed: bool) -> impl Strategy<Value = AsPath> {
    prop::collection::vec(segment(max_asn, confed), 0..5).prop_map(|segments| AsPath { segments })
}

fn aggregator() -> impl Strategy<Value = Aggregator> {
    (1..=u32::MAX, any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn v4_nlri(path_id: bool) -> impl Strategy<Value = Nlri> {
    (any::<u32>(), 0u8..=32, any::<u32>()).prop_map(move |(a, l, id)| Nlri {
        prefix: IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()),
        path_id: path_id.then_some(id),
    })
}

fn v6_nlri(path_id: bool) -> impl Strategy<Value = Nlri> {
    (any::<u128>(), 0u8..=128, any::<u32>()).prop_map(move |(a, l, id)| Nlri {
        prefix: IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()),
        path_id: path_id.then_some(id),
    })
}

/// A next hop that is not martian (decision D5).
fn v4_next_hop() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..=126, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d))
}

fn unknown_attrs() -> impl Strategy<Value = Vec<RawAttr>> {
    prop::collection::btree_map(
        // Not 128 (ATTR_SET), whose malformed forms have their own RFC 7606 outcome.
        (100u8..=250).prop_filter("ATTR_SET", |c| *c != 128),
        prop::collection::vec(any::<u8>(), 0..300),
        0..3,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(code, v)| RawAttr {
                // As `attributes()` hands them on: optional, transitive, partial.
                flags: 0xe0 | if v.len() > 255 { 0x10 } else { 0 },
                type_code: AttrType(code),
                value: Bytes::from(v),
            })
            .collect()
    })
}

fn path_attributes(max_asn: u32, confed: bool) -> impl Strategy<Value = PathAttributes> {
    (
        (
            origin(),
            as_path(max_asn, confed),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<bool>(),
        ),
        (
            proptest::option::of(aggregator().prop_map(move |mut a| {
                a.asn = a.asn % max_asn + 1;
                a
            })),
            prop::collection::vec(any::<u32>().prop_map(Community), 0..70),
            prop::collection::vec(any::<[u8; 8]>().prop_map(ExtCommunity), 0..5),
            prop::collection::vec(
                any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)),
                0..5,
            ),
        ),
        (
            proptest::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
            prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..4),
            any::<Option<u32>>(),
            unknown_attrs(),
        ),
    )
        .prop_map(
            |(
                (origin, as_path, med, local_pref, atomic_aggregate),
                (aggregator, communities, ext_communities, large_communities),
                (originator_id, cluster_list, otc, unknown),
            )| {
                PathAttributes {
                    origin,
                    as_path,
                    med,
                    local_pref,
                    atomic_aggregate,
                    aggregator,
                    communities,
                    ext_communities,
                    large_communities,
                    originator_id,
                    cluster_list,
                    otc,
                    unknown,
                }
            },
        )
}

fn ibgp(four_octet_as: bool) -> SessionContext {
    SessionContext {
        four_octet_as,
        ibgp: true,
        allow_as_set: true,
        extended_message: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        ..SessionContext::default()
    }
}

fn split(buf: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= 19 {
        let len = u16::from_be_bytes([rest[16], rest[17]]) as usize;
        out.push(Bytes::copy_from_slice(&rest[..len]));
        rest = &rest[len..];
    }
    out
}

/// Typed attributes for an owned `Update` on a 4-octet iBGP session; every one valid, each
/// type at most once, in any order.
fn update_attrs() -> impl Strategy<Value = Vec<Attr>> {
    let mp_reach = prop_oneof![
        (v4_next_hop(), prop::collection::vec(v4_nlri(false), 0..20)).prop_map(|(nh, nlri)| {
            PathAttr::MpReach(MpReach {
                family: Family::IPV4_UNICAST,
                next_hop: NextHop::V4(nh),
                nlri,
            })
        }),
        (
            prop::option::of(any::<u128>()),
            prop::collection::vec(v6_nlri(false), 0..20)
        )
            .prop_map(|(ll, nlri)| PathAttr::MpReach(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: ll.map(Ipv6Addr::from)
                },
                nlri,
            })),
    ];
    let mp_unreach = prop::collection::vec(v6_nlri(false), 0..20).prop_map(|nlri| {
        PathAttr::MpUnreach(MpUnreach {
            family: Family::IPV6_UNICAST,
            nlri,
        })
    });
    let optional = (
        (
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            aggregator(),
            prop::collection::vec(any::<u32>().prop_map(Community), 1..80),
        ),
        (
            any::<u32>(),
            prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 1..4),
            prop::collection::vec(any::<[u8; 8]>().prop_map(ExtCommunity), 1..4),
        ),
        (
            as_path(u32::MAX, false),
            aggregator(),
            prop::collection::vec(
                any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)),
                1..4,
            ),
            any::<u32>(),
        ),
        (mp_reach, mp_unreach, unknown_attrs()),
        prop::collection::vec(any::<bool>(), 16),
    );
    (
        origin(),
        as_path(u32::MAX, true),
        v4_next_hop(),
        optional,
        any::<u8>(),
    )
        .prop_map(
            |(
                o,
                p,
                nh,
                (
                    (med, lp, _, agg, comm),
                    (oid, cl, ext),
                    (as4, as4agg, large, otc),
                    (mpr, mpu, raw),
                    pick,
                ),
                ext_len,
            )| {
                let mut v = vec![
                    PathAttr::Origin(o),
                    PathAttr::AsPath(p),
                    PathAttr::NextHop(nh),
                ];
                let extra = [
                    PathAttr::Med(med),
                    PathAttr::LocalPref(lp),
                    PathAttr::AtomicAggregate,
                    PathAttr::Aggregator(agg),
                    PathAttr::Communities(comm),
                    PathAttr::OriginatorId(Ipv4Addr::from(oid)),
                    PathAttr::ClusterList(cl),
                    PathAttr::ExtCommunities(ext),
                    PathAttr::As4Path(as4),
                    PathAttr::As4Aggregator(as4agg),
                    PathAttr::LargeCommunities(large),
                    PathAttr::Otc(otc),
                    mpr,
                    mpu,
                ];
                v.extend(
                    extra
                        .into_iter()
                        .zip(&pick)
                        .filter(|(_, p)| **p)
                        .map(|(a, _)| a),
                );
                let mut attrs: Vec<Attr> = v.into_iter().map(Attr::new).collect();
                attrs.extend(raw.into_iter().map(|r| Attr {
                    flags: r.flags,
                    value: PathAttr::Raw {
                        type_code: r.type_code,
                        value: r.value,
                    },
                }));
                let cx = ibgp(true);
                for (i, a) in attrs.iter_mut().enumerate() {
                    let mut b = BytesMut::new();
                    a.value.encode_value(&cx, &mut b);
                    // The Extended Length bit: required above 255 octets, allowed anywhere.
                    if b.len() > 255 || (ext_len >> (i % 8)) & 1 == 1 {
                        a.flags |= 0x10;
                    }
                }
                attrs
            },
        )
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn as_path_round_trips_4_octet(p in as_path(u32::MAX, true)) {
        let mut b = BytesMut::new();
        p.encode_value(4, &mut b);
        prop_assert_eq!(b.len(), p.encoded_len(4));
        prop_assert_eq!(AsPath::decode_value(&b, 4), Some(p));
    }

    #[test]
    fn as_path_round_trips_2_octet(p in as_path(65535, true)) {
        let mut b = BytesMut::new();
        p.encode_value(2, &mut b);
        prop_assert_eq!(AsPath::decode_value(&b, 2), Some(p));
    }

    #[test]
    fn community_text_round_trips(c in any::<u32>().prop_map(Community)) {
        prop_assert_eq!(c.to_string().parse::<Community>(), Ok(c));
    }

    #[test]
    fn large_community_text_round_trips(a in any::<u32>(), b in any::<u32>(), c in any::<u32>()) {
        let l = LargeCommunity::new(a, b, c);
        prop_assert_eq!(l.to_string().parse::<LargeCommunity>(), Ok(l));
    }

    #[test]
    fn link_bandwidth_round_trips(asn in any::<u16>(), bw in any::<f32>(), t in any::<bool>()) {
        let (a, b) = ExtCommunity::link_bandwidth(asn, bw, t).as_link_bandwidth().unwrap();
        prop_assert_eq!((a, b.to_bits()), (asn, bw.to_bits()));
    }

    #[test]
    fn aggregator_round_trips(a in aggregator()) {
        let mut b = BytesMut::new();
        a.encode_value(4, &mut b);
        prop_assert_eq!(Aggregator::decode_value(&b, 4), Some(a));
    }

    #[test]
    fn next_hop_round_trips(g in any::<u128>(), ll in any::<Option<u128>>(), v4 in any::<u32>(), pick in any::<bool>()) {
        let nh = if pick {
            NextHop::V4(Ipv4Addr::from(v4))
        } else {
            NextHop::V6 { global: Ipv6Addr::from(g), link_local: ll.map(Ipv6Addr::from) }
        };
        let mut b = BytesMut::new();
        nh.encode_value(&mut b);
        prop_assert_eq!(b.len(), nh.encoded_len());
        prop_assert_eq!(NextHop::decode_value(&b), Some(nh));
    }

    #[test]
    fn nlri_round_trip_through_iterator(v4 in prop::collection::vec(v4_nlri(true), 0..50), v6 in prop::collection::vec(v6_nlri(false), 0..50)) {
        let mut b = BytesMut::new();
        v4.iter().for_each(|n| n.encode(true, &mut b));
        prop_assert_eq!(NlriIter::new(&b, false, true).collect::<Vec<_>>(), v4);
        let mut b = BytesMut::new();
        v6.iter().for_each(|n| n.encode(false, &mut b));
        prop_assert_eq!(NlriIter::new(&b, true, false).collect::<Vec<_>>(), v6);
    }

    #[test]
    fn path_attributes_round_trip_through_builder_4_octet(a in path_attributes(u32::MAX, true), nlri in prop::collection::vec(v4_nlri(false), 1..30), nh in v4_next_hop()) {
        let cx = ibgp(true);
        let mut buf = BytesMut::new();
        UpdateBuilder::new(&cx).announce(&a, &NextHop::V4(nh), &nlri, &mut buf);
        let mut got = Vec::new();
        for m in split(&buf) {
            let v = UpdateView::new_checked(m, &cx).unwrap();
            prop_assert_eq!(v.verdict(), Verdict::Accept);
            prop_assert_eq!(v.attributes(), a.clone());
            got.extend(v.announced());
        }
        prop_assert_eq!(got, nlri);
    }

    #[test]
    fn path_attributes_round_trip_through_builder_2_octet(a in path_attributes(u32::MAX, false), nlri in prop::collection::vec(v6_nlri(false), 1..30)) {
        // RFC 6793 §4.2.2 on encode, §4.2.3 on decode.
        let cx = ibgp(false);
        let nh = NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None };
        let mut buf = BytesMut::new();
        UpdateBuilder::new(&cx).announce(&a, &nh, &nlri, &mut buf);
        for m in split(&buf) {
            let v = UpdateView::new_checked(m, &cx).unwrap();
            prop_assert_eq!(v.verdict(), Verdict::Accept);
            prop_assert_eq!(v.attributes(), a.clone());
        }
    }

    #[test]
    fn owned_update_round_trips(attrs in update_attrs(), withdrawn in prop::collection::vec(v4_nlri(false), 0..20), nlri in prop::collection::vec(v4_nlri(false), 0..20)) {
        let cx = ibgp(true);
        let u = Update { withdrawn, attrs, nlri };
        let bytes = u.to_bytes(&cx);
        prop_assert_eq!(u.encoded_len(&cx), bytes.len());
        let v = UpdateView::new_checked(bytes.clone(), &cx).unwrap();
        let back = v.to_owned();
        prop_assert_eq!(&back, &u);
        prop_assert_eq!(back.to_bytes(&cx), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600), four in any::<bool>(), ap in any::<bool>()) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((body.len() + 19) as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(&body);
        let mut cx = ibgp(four);
        cx.ibgp = ap;
        if ap {
            cx.add_path_rx.insert(Family::IPV4_UNICAST);
            cx.add_path_rx.insert(Family::IPV6_UNICAST);
        }
        if let Ok(v) = UpdateView::new_checked(&m[..], &cx) {
            let _ = (v.verdict(), v.discarded().count(), v.end_of_rib());
            let _ = (v.announced().count(), v.withdrawn().count(), v.attributes());
            let _ = v.next_hop(Family::IPV6_UNICAST);
            let u = v.to_owned();
            let b = u.to_bytes(&cx);
            // decode -> encode -> decode is stable.
            let v2 = UpdateView::new_checked(&b[..], &cx).unwrap();
            prop_assert_eq!(v2.to_owned(), u);
        }
    }
}

/// Valid UPDATEs covering every modelled attribute, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let cx = ibgp(false);
    let a = PathAttributes {
        origin: Origin::Egp,
        as_path: AsPath::from_sequence([64512, 4_200_000_000]),
        med: Some(1),
        local_pref: Some(2),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 4_200_000_001,
            address: Ipv4Addr::new(192, 0, 2, 3),
        }),
        communities: vec![Community::NO_EXPORT],
        ext_communities: vec![ExtCommunity::route_target(1, 2)],
        large_communities: vec![LargeCommunity::new(1, 2, 3)],
        originator_id: Some(Ipv4Addr::new(192, 0, 2, 4)),
        cluster_list: vec![Ipv4Addr::new(192, 0, 2, 5)],
        otc: Some(7),
        unknown: vec![RawAttr {
            flags: 0xc0,
            type_code: AttrType(99),
            value: Bytes::from_static(&[1, 2, 3]),
        }],
    };
    let b = UpdateBuilder::new(&cx);
    let mut out = Vec::new();
    let nets4: Vec<Nlri> = ["10.0.0.0/8", "192.0.2.0/24", "0.0.0.0/0"]
        .iter()
        .map(|s| Nlri::new(s.parse().unwrap()))
        .collect();
    let nets6: Vec<Nlri> = ["2001:db8::/32", "::/0"]
        .iter()
        .map(|s| Nlri::new(s.parse().unwrap()))
        .collect();
    for (nh, nlri) in [
        (NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)), &nets4),
        (
            NextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: Some("fe80::1".parse().unwrap()),
            },
            &nets6,
        ),
    ] {
        let mut buf = BytesMut::new();
        b.announce(&a, &nh, nlri, &mut buf);
        b.withdraw(nlri, &mut buf);
        out.extend(split(&buf).into_iter().map(|m| m.to_vec()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    /// Mutated valid UPDATEs never panic any accessor, and decode -> encode -> decode is
    /// stable (RFC 7606 outcomes may be anything).
    #[test]
    fn mutated_updates_never_panic(seed in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), four in any::<bool>(), ap in any::<bool>(), ibgp_ in any::<bool>()) {
        let seeds = seeds();
        let mut m = seed.get(&seeds).clone();
        for (i, x) in edits {
            // Keep the marker, length and type so the body is what gets exercised.
            let at = 19 + i.index(m.len() - 19);
            m[at] = x;
        }
        let mut cx = ibgp(four);
        cx.ibgp = ibgp_;
        cx.enforce_first_as = !ibgp_;
        cx.allow_as_set = ibgp_;
        if ap {
            cx.add_path_rx.insert(Family::IPV4_UNICAST);
            cx.add_path_tx.insert(Family::IPV4_UNICAST);
        }
        if let Ok(v) = UpdateView::new_checked(&m[..], &cx) {
            let _ = (v.verdict(), v.discarded().count(), v.end_of_rib(), v.attributes());
            let _ = (v.announced().count(), v.withdrawn().count());
            let _ = (v.next_hop(Family::IPV4_UNICAST), v.next_hop(Family::IPV6_UNICAST));
            let _ = (v.aggregator(), v.as_path().map(|(_, a)| a.count()).sum::<usize>(), v.cluster_list().count());
            let u = v.to_owned();
            let b = u.to_bytes(&cx);
            let v2 = UpdateView::new_checked(&b[..], &cx).unwrap();
            prop_assert_eq!(v2.to_owned(), u);
        }
    }
}
