//! Byte vectors for every path attribute and for whole UPDATE messages, tested in both
//! directions: bytes -> view -> owned value, and owned value -> bytes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::Ipv4Addr;

use bgp_proto::attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes,
};
use bgp_proto::update::{Attr, MpReach, MpUnreach, PathAttr, Update};
use bgp_proto::{AttrType, Family, SessionContext, UpdateBuilder, UpdateView, Verdict};
use bytes::{Bytes, BytesMut};

/// Hex with spaces and `|` separators for readability.
fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '|', '\n'], "")).unwrap()
}

fn cx4() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        ..SessionContext::default()
    }
}
fn cx2() -> SessionContext {
    SessionContext {
        four_octet_as: false,
        ..cx4()
    }
}
fn cx_enh() -> SessionContext {
    let mut c = cx4();
    c.extended_next_hop.insert(Family::IPV4_UNICAST);
    c
}

fn wrap(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let len = 23 + attrs.len() + nlri.len();
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&[2, 0, 0]);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    m
}

fn net(s: &str) -> Nlri {
    Nlri::new(s.parse().unwrap())
}

/// (name, session, attribute octets, owned value). Flags as on the wire.
fn attribute_vectors() -> Vec<(&'static str, SessionContext, Vec<u8>, Attr)> {
    let a = |flags, value| Attr { flags, value };
    vec![
        // RFC 4271 §4.3 type 1: flags 0x40 (well-known transitive), type, length 1, IGP.
        ("ORIGIN_IGP", cx4(), h("40 01 01 | 00"), a(0x40, PathAttr::Origin(Origin::Igp))),
        ("ORIGIN_INCOMPLETE", cx4(), h("40 01 01 | 02"), a(0x40, PathAttr::Origin(Origin::Incomplete))),
        // Non-canonical: Extended Length on a 1-octet value is legal and kept (RFC 4271 §4.3).
        ("ORIGIN_EXTENDED_LENGTH", cx4(), h("50 01 0001 | 00"), a(0x50, PathAttr::Origin(Origin::Igp))),
        // RFC 6793 §3: AS_SEQUENCE of 2 four-octet ASNs 64512, 4200000000.
        ("AS_PATH_AS4_SEQUENCE", cx4(), h("40 02 0a | 02 02 0000fc00 fa56ea00"),
            a(0x40, PathAttr::AsPath(AsPath::from_sequence([64512, 4_200_000_000])))),
        // RFC 4271 §4.3: 2-octet AS_SEQUENCE 64512 64513, then AS_SET {1, 2}.
        ("AS_PATH_2OCTET_SEQUENCE_SET", cx2(), h("40 02 0c | 02 02 fc00 fc01 | 01 02 0001 0002"),
            a(0x40, PathAttr::AsPath(AsPath { segments: vec![
                AsSegment { kind: AsSegmentType::Sequence, asns: vec![64512, 64513] },
                AsSegment { kind: AsSegmentType::Set, asns: vec![1, 2] },
            ] }))),
        // RFC 5065 §3: AS_CONFED_SEQUENCE (3) [65001], AS_CONFED_SET (4) [65002], AS_SEQUENCE [64512].
        ("AS_PATH_CONFED", cx4(), h("40 02 12 | 03 01 0000fde9 | 04 01 0000fdea | 02 01 0000fc00"),
            a(0x40, PathAttr::AsPath(AsPath { segments: vec![
                AsSegment { kind: AsSegmentType::ConfedSequence, asns: vec![65001] },
                AsSegment { kind: AsSegmentType::ConfedSet, asns: vec![65002] },
                AsSegment { kind: AsSegmentType::Sequence, asns: vec![64512] },
            ] }))),
        ("AS_PATH_EMPTY", cx4(), h("40 02 00"), a(0x40, PathAttr::AsPath(AsPath::default()))),
        // RFC 4271 §5.1.3.
        ("NEXT_HOP", cx4(), h("40 03 04 | c0000201"), a(0x40, PathAttr::NextHop(Ipv4Addr::new(192, 0, 2, 1)))),
        // RFC 4271 §5.1.4: optional non-transitive.
        ("MULTI_EXIT_DISC", cx4(), h("80 04 04 | 00000064"), a(0x80, PathAttr::Med(100))),
        ("LOCAL_PREF", cx4(), h("40 05 04 | 000000c8"), a(0x40, PathAttr::LocalPref(200))),
        ("ATOMIC_AGGREGATE", cx4(), h("40 06 00"), a(0x40, PathAttr::AtomicAggregate)),
        // RFC 6793 §3: 4-octet AGGREGATOR; RFC 4271 §5.1.7: 2-octet.
        ("AGGREGATOR_AS4", cx4(), h("c0 07 08 | 0000fc00 c0000201"),
            a(0xc0, PathAttr::Aggregator(Aggregator { asn: 64512, address: Ipv4Addr::new(192, 0, 2, 1) }))),
        ("AGGREGATOR_2OCTET", cx2(), h("c0 07 06 | fc00 c0000201"),
            a(0xc0, PathAttr::Aggregator(Aggregator { asn: 64512, address: Ipv4Addr::new(192, 0, 2, 1) }))),
        // RFC 1997: 64512:100, NO_EXPORT.
        ("COMMUNITIES", cx4(), h("c0 08 08 | fc000064 ffffff01"),
            a(0xc0, PathAttr::Communities(vec![Community::new(64512, 100), Community::NO_EXPORT]))),
        // RFC 4456 §7-8.
        ("ORIGINATOR_ID", cx4(), h("80 09 04 | c0000209"), a(0x80, PathAttr::OriginatorId(Ipv4Addr::new(192, 0, 2, 9)))),
        ("CLUSTER_LIST", cx4(), h("80 0a 08 | c0000209 c000020a"),
            a(0x80, PathAttr::ClusterList(vec![Ipv4Addr::new(192, 0, 2, 9), Ipv4Addr::new(192, 0, 2, 10)]))),
        // RFC 4760 §3, RFC 2545 §3: AFI 2 SAFI 1, next hop 32 = global 2001:db8::1 +
        // link-local fe80::1, reserved 0, NLRI 2001:db8:1::/48.
        ("MP_REACH_IPV6_GLOBAL_AND_LINK_LOCAL", cx4(), h("80 0e 2c | 0002 01 20 \
            20010db8000000000000000000000001 fe800000000000000000000000000001 | 00 | 30 20010db80001"),
            a(0x80, PathAttr::MpReach(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: Some("fe80::1".parse().unwrap()) },
                nlri: vec![net("2001:db8:1::/48")],
            }))),
        // RFC 8950: IPv4 NLRI 10.0.0.0/24 with IPv6 next hop 2001:db8::1.
        ("MP_REACH_IPV4_WITH_IPV6_NEXT_HOP", cx_enh(), h("80 0e 19 | 0001 01 10 20010db8000000000000000000000001 | 00 | 18 0a0000"),
            a(0x80, PathAttr::MpReach(MpReach {
                family: Family::IPV4_UNICAST,
                next_hop: NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None },
                nlri: vec![net("10.0.0.0/24")],
            }))),
        // RFC 4760 §4: withdraw 2001:db8:1::/48.
        ("MP_UNREACH_IPV6", cx4(), h("80 0f 0a | 0002 01 | 30 20010db80001"),
            a(0x80, PathAttr::MpUnreach(MpUnreach { family: Family::IPV6_UNICAST, nlri: vec![net("2001:db8:1::/48")] }))),
        // RFC 4360: route target 64512:100; link bandwidth 64512, 1.25e9 bytes/s (0x4e9502f9).
        ("EXTENDED_COMMUNITIES", cx4(), h("c0 10 10 | 0002fc0000000064 | 4004fc004e9502f9"),
            a(0xc0, PathAttr::ExtCommunities(vec![
                ExtCommunity::route_target(64512, 100),
                ExtCommunity::link_bandwidth(64512, 1.25e9, false),
            ]))),
        // RFC 6793 §3: AS4_PATH [4200000000], AS4_AGGREGATOR 4200000000 192.0.2.1.
        ("AS4_PATH", cx2(), h("c0 11 06 | 02 01 fa56ea00"), a(0xc0, PathAttr::As4Path(AsPath::from_sequence([4_200_000_000])))),
        ("AS4_AGGREGATOR", cx2(), h("c0 12 08 | fa56ea00 c0000201"),
            a(0xc0, PathAttr::As4Aggregator(Aggregator { asn: 4_200_000_000, address: Ipv4Addr::new(192, 0, 2, 1) }))),
        // RFC 8092 §3: 4200000000:1:2.
        ("LARGE_COMMUNITY", cx4(), h("c0 20 0c | fa56ea00 00000001 00000002"),
            a(0xc0, PathAttr::LargeCommunities(vec![LargeCommunity::new(4_200_000_000, 1, 2)]))),
        // RFC 9234 §5: OTC 64512.
        ("OTC", cx4(), h("c0 23 04 | 0000fc00"), a(0xc0, PathAttr::Otc(64512))),
        // Unknown optional transitive with Partial: kept raw.
        ("UNKNOWN_OPTIONAL_TRANSITIVE", cx4(), h("e0 63 02 | 0102"),
            a(0xe0, PathAttr::Raw { type_code: AttrType(99), value: Bytes::from_static(&[1, 2]) })),
        // A malformed ORIGIN stays raw so the message re-encodes unchanged.
        ("ORIGIN_MALFORMED_KEPT_RAW", cx4(), h("40 01 01 | 07"),
            a(0x40, PathAttr::Raw { type_code: AttrType::ORIGIN, value: Bytes::from_static(&[7]) })),
    ]
}

#[test]
fn attribute_vectors_decode() {
    for (name, cx, bytes, want) in attribute_vectors() {
        let m = wrap(&bytes, &[24, 10, 0, 0]);
        let v = UpdateView::new_checked(&m[..], &cx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let u = v.to_owned();
        assert_eq!(u.attrs, vec![want], "{name}");
    }
}

#[test]
fn attribute_vectors_encode() {
    for (name, cx, bytes, attr) in attribute_vectors() {
        let mut out = BytesMut::new();
        attr.encode(&cx, &mut out);
        assert_eq!(hex::encode(&out), hex::encode(&bytes), "{name}");
    }
}

/// RFC 4271 §4.3: announce 10.0.0.0/24 and 192.168.0.0/16 with ORIGIN IGP, AS_PATH [64512],
/// NEXT_HOP 192.0.2.1, MED 100 on a 4-octet-AS session.
fn update_ipv4_announce() -> Vec<u8> {
    h("ffffffffffffffffffffffffffffffff 0039 02 | 0000 | 001b \
       40 01 01 00 | 40 02 06 02 01 0000fc00 | 40 03 04 c0000201 | 80 04 04 00000064 | \
       18 0a0000 | 10 c0a8")
}

/// RFC 4760 §3, RFC 7606 §5.1: MP_REACH_NLRI first (IPv6, next hop 2001:db8::1,
/// 2001:db8:1::/48), then ORIGIN and AS_PATH.
fn update_ipv6_announce() -> Vec<u8> {
    h("ffffffffffffffffffffffffffffffff 0043 02 | 0000 | 002c \
       80 0e 1c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001 | \
       40 01 01 00 | 40 02 06 02 01 0000fc00")
}

/// RFC 4271 §4.3: withdraw 10.0.0.0/24 and 10.1.0.0/16.
fn update_ipv4_withdraw() -> Vec<u8> {
    h("ffffffffffffffffffffffffffffffff 001e 02 | 0007 | 18 0a0000 10 0a01 | 0000")
}

/// RFC 4724 §2: End-of-RIB for IPv6 unicast.
fn update_eor_ipv6() -> Vec<u8> {
    h("ffffffffffffffffffffffffffffffff 001d 02 | 0000 | 0006 | 80 0f 03 0002 01")
}

fn base_attrs() -> PathAttributes {
    PathAttributes {
        as_path: AsPath::from_sequence([64512]),
        ..PathAttributes::default()
    }
}

#[test]
fn update_ipv4_announce_both_directions() {
    let cx = cx4();
    let m = update_ipv4_announce();
    let v = UpdateView::new_checked(&m[..], &cx).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert_eq!(
        v.announced().collect::<Vec<_>>(),
        [net("10.0.0.0/24"), net("192.168.0.0/16")]
    );
    assert_eq!(
        v.next_hop(Family::IPV4_UNICAST),
        Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    let attrs = PathAttributes {
        med: Some(100),
        ..base_attrs()
    };
    assert_eq!(v.attributes(), attrs);
    let mut out = BytesMut::new();
    let n = UpdateBuilder::new(&cx).announce(
        &attrs,
        &NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
        &[net("10.0.0.0/24"), net("192.168.0.0/16")],
        &mut out,
    );
    assert_eq!((n, hex::encode(&out)), (1, hex::encode(&m)));
}

#[test]
fn update_ipv6_announce_both_directions() {
    let cx = cx4();
    let m = update_ipv6_announce();
    let v = UpdateView::new_checked(&m[..], &cx).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert_eq!(v.announced().collect::<Vec<_>>(), [net("2001:db8:1::/48")]);
    let nh = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    assert_eq!(v.next_hop(Family::IPV6_UNICAST), Some(nh));
    assert_eq!(v.attributes(), base_attrs());
    let mut out = BytesMut::new();
    UpdateBuilder::new(&cx).announce(&base_attrs(), &nh, &[net("2001:db8:1::/48")], &mut out);
    assert_eq!(hex::encode(&out), hex::encode(&m));
}

#[test]
fn update_ipv4_withdraw_both_directions() {
    let cx = cx4();
    let m = update_ipv4_withdraw();
    let v = UpdateView::new_checked(&m[..], &cx).unwrap();
    let w = [net("10.0.0.0/24"), net("10.1.0.0/16")];
    assert_eq!(v.withdrawn().collect::<Vec<_>>(), w);
    assert_eq!(v.end_of_rib(), None);
    let mut out = BytesMut::new();
    UpdateBuilder::new(&cx).withdraw(&w, &mut out);
    assert_eq!(hex::encode(&out), hex::encode(&m));
}

#[test]
fn update_eor_ipv6_both_directions() {
    let cx = cx4();
    let m = update_eor_ipv6();
    let v = UpdateView::new_checked(&m[..], &cx).unwrap();
    assert_eq!(v.end_of_rib(), Some(Family::IPV6_UNICAST));
    let mut out = BytesMut::new();
    UpdateBuilder::new(&cx).end_of_rib(Family::IPV6_UNICAST, &mut out);
    assert_eq!(hex::encode(&out), hex::encode(&m));
}

#[test]
fn owned_update_round_trips_whole_messages() {
    for m in [
        update_ipv4_announce(),
        update_ipv6_announce(),
        update_ipv4_withdraw(),
        update_eor_ipv6(),
    ] {
        let cx = cx4();
        let u: Update = UpdateView::new_checked(&m[..], &cx).unwrap().to_owned();
        assert_eq!(hex::encode(u.to_bytes(&cx)), hex::encode(&m));
    }
}

/// RFC 6793 §4.2.3 from the PacketLife "4-byte_AS_numbers_Mixed_Scenario" shape: a 2-octet
/// speaker sends AS_PATH 100 23456 with AS4_PATH 4200000000; the merged path is
/// 100 4200000000.
#[test]
fn as4_path_merge_on_two_octet_session() {
    let attrs =
        h("40 01 01 00 | 40 02 06 02 02 0064 5ba0 | 40 03 04 c0000201 | c0 11 06 02 01 fa56ea00");
    let m = wrap(&attrs, &[24, 10, 0, 0]);
    let v = UpdateView::new_checked(&m[..], &cx2()).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert_eq!(
        v.attributes().as_path,
        AsPath::from_sequence([100, 4_200_000_000])
    );
    // On a 4-octet session the same AS4_PATH is discarded (RFC 6793 §6) -- here the AS_PATH
    // is not valid 4-octet data either, so the UPDATE is treat-as-withdraw.
    let v = UpdateView::new_checked(&m[..], &cx4()).unwrap();
    assert!(matches!(v.verdict(), Verdict::TreatAsWithdraw { .. }));
}

/// The zero-copy accessors agree with the owned `attributes()`.
#[test]
fn zero_copy_accessors_match_owned_attributes() {
    let cx = SessionContext {
        ibgp: true,
        allow_as_set: true,
        ..cx4()
    };
    let a = PathAttributes {
        origin: Origin::Egp,
        as_path: AsPath {
            segments: vec![
                AsSegment {
                    kind: AsSegmentType::Sequence,
                    asns: vec![64512, 4_200_000_000],
                },
                AsSegment {
                    kind: AsSegmentType::Set,
                    asns: vec![1, 2],
                },
            ],
        },
        med: Some(5),
        local_pref: Some(100),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 64512,
            address: Ipv4Addr::new(192, 0, 2, 3),
        }),
        communities: vec![Community::NO_EXPORT],
        ext_communities: vec![ExtCommunity::route_target(1, 2)],
        large_communities: vec![LargeCommunity::new(1, 2, 3)],
        originator_id: Some(Ipv4Addr::new(192, 0, 2, 4)),
        cluster_list: vec![Ipv4Addr::new(192, 0, 2, 5), Ipv4Addr::new(192, 0, 2, 6)],
        otc: Some(64512),
        unknown: vec![],
    };
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(
        &a,
        &NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
        &[net("10.0.0.0/8")],
        &mut buf,
    );
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    assert_eq!(v.attributes(), a);
    assert_eq!(v.origin(), Some(a.origin));
    let segs: Vec<AsSegment> = v
        .as_path()
        .map(|(kind, asns)| AsSegment {
            kind,
            asns: asns.collect(),
        })
        .collect();
    assert_eq!(segs, a.as_path.segments);
    assert_eq!(
        (v.med(), v.local_pref(), v.atomic_aggregate()),
        (a.med, a.local_pref, true)
    );
    assert_eq!(v.aggregator(), a.aggregator);
    assert_eq!(v.communities().collect::<Vec<_>>(), a.communities);
    assert_eq!(v.ext_communities().collect::<Vec<_>>(), a.ext_communities);
    assert_eq!(
        v.large_communities().collect::<Vec<_>>(),
        a.large_communities
    );
    assert_eq!(v.originator_id(), a.originator_id);
    assert_eq!(v.cluster_list().collect::<Vec<_>>(), a.cluster_list);
    assert_eq!(v.otc(), a.otc);
}

/// On a 2-octet session `aggregator()` applies AS4_AGGREGATOR (RFC 6793 §4.2.3).
#[test]
fn aggregator_accessor_applies_as4_aggregator() {
    let attrs = h("40 01 01 00 | 40 02 04 02 01 5ba0 | 40 03 04 c0000201 | \
                   c0 07 06 5ba0 c0000201 | c0 12 08 fa56ea00 c0000201");
    let m = wrap(&attrs, &[24, 10, 0, 0]);
    let v = UpdateView::new_checked(&m[..], &cx2()).unwrap();
    let want = Some(Aggregator {
        asn: 4_200_000_000,
        address: Ipv4Addr::new(192, 0, 2, 1),
    });
    assert_eq!(v.aggregator(), want);
    assert_eq!(v.attributes().aggregator, want);
}
