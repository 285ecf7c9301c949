//! UpdateBuilder output decodes back to the same routes (RFC 4271 §4.3, RFC 4760, RFC 7911,
//! RFC 6793 §4.2.2, RFC 8950, RFC 8654), split at the session's maximum message length.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_proto::attr::{
    AsPath, AsSegment, AsSegmentType, Community, LargeCommunity, NextHop, Nlri, PathAttributes,
    RawAttr, FLAG_EXTENDED_LENGTH,
};
use bgp_proto::update::PathAttr;
use bgp_proto::{AttrType, Family, SessionContext, UpdateBuilder, UpdateView, Verdict};
use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

fn cx4() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        ..SessionContext::default()
    }
}

/// Splits a buffer of concatenated messages.
fn messages(buf: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[16], rest[17]]) as usize;
        out.push(Bytes::copy_from_slice(&rest[..len]));
        rest = &rest[len..];
    }
    out
}

fn v4_32s(n: u32) -> Vec<Nlri> {
    (0..n)
        .map(|i| {
            Nlri::new(IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap(),
            ))
        })
        .collect()
}

fn v6_64s(n: u32) -> Vec<Nlri> {
    (0..n)
        .map(|i| {
            let a = Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(i) << 64));
            Nlri::new(IpNet::V6(Ipv6Net::new(a, 64).unwrap()))
        })
        .collect()
}

fn attrs() -> PathAttributes {
    PathAttributes {
        as_path: AsPath::from_sequence([64512, 4_200_000_000]),
        med: Some(10),
        communities: vec![Community::new(64512, 1), Community::NO_EXPORT],
        large_communities: vec![LargeCommunity::new(4_200_000_000, 1, 2)],
        ..PathAttributes::default()
    }
}

#[test]
fn announce_100k_ipv4_host_routes_packs_and_decodes_back() {
    let cx = SessionContext {
        peer_asn: 64512,
        enforce_first_as: true,
        ..cx4()
    };
    let nlri = v4_32s(100_000);
    let nh = NextHop::V4("192.0.2.1".parse().unwrap());
    let mut buf = BytesMut::new();
    let n = UpdateBuilder::new(&cx).announce(&attrs(), &nh, &nlri, &mut buf);
    let msgs = messages(&buf);
    assert_eq!(n, msgs.len());
    let mut got = Vec::new();
    for m in &msgs {
        assert!(m.len() <= 4096);
        let v = UpdateView::new_checked(m.clone(), &cx).unwrap();
        assert_eq!(v.verdict(), Verdict::Accept);
        assert_eq!(v.next_hop(Family::IPV4_UNICAST), Some(nh));
        assert_eq!(v.attributes(), attrs());
        got.extend(v.announced());
    }
    assert_eq!(got, nlri);
    // Every message but the last is full to within one prefix (5 octets).
    for m in &msgs[..msgs.len() - 1] {
        assert!(m.len() > 4096 - 5, "{}", m.len());
    }
}

#[test]
fn withdraw_100k_ipv4_host_routes_in_minimal_messages() {
    // MetalLB's native speaker failed at ~800 withdrawals in one go.
    let cx = cx4();
    let nlri = v4_32s(100_000);
    let mut buf = BytesMut::new();
    let n = UpdateBuilder::new(&cx).withdraw(&nlri, &mut buf);
    // 5 octets per /32, 4096 - 23 octets per message.
    assert_eq!(n, (100_000 * 5usize).div_ceil(4096 - 23));
    let mut got = Vec::new();
    for m in messages(&buf) {
        let v = UpdateView::new_checked(m, &cx).unwrap();
        assert_eq!(v.announced().count(), 0);
        got.extend(v.withdrawn());
    }
    assert_eq!(got, nlri);
}

#[test]
fn announce_and_withdraw_100k_ipv6_via_mp_attributes() {
    let cx = cx4();
    let nlri = v6_64s(100_000);
    let nh = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let mut buf = BytesMut::new();
    let b = UpdateBuilder::new(&cx);
    b.announce(&attrs(), &nh, &nlri, &mut buf);
    let mut got = Vec::new();
    for m in messages(&buf) {
        let v = UpdateView::new_checked(m, &cx).unwrap();
        assert_eq!(v.verdict(), Verdict::Accept);
        // RFC 7606 §5.1: MP_REACH_NLRI first.
        assert_eq!(
            v.raw_attributes().next().unwrap().type_code,
            AttrType::MP_REACH_NLRI
        );
        assert_eq!(v.next_hop(Family::IPV6_UNICAST), Some(nh));
        assert_eq!(v.attributes(), attrs());
        got.extend(v.announced());
    }
    assert_eq!(got, nlri);
    buf.clear();
    b.withdraw(&nlri, &mut buf);
    let mut got = Vec::new();
    for m in messages(&buf) {
        let v = UpdateView::new_checked(m, &cx).unwrap();
        assert_eq!(v.mp_unreach_family(), Some(Family::IPV6_UNICAST));
        got.extend(v.withdrawn());
    }
    assert_eq!(got, nlri);
}

#[test]
fn extended_message_splits_at_65535() {
    let cx = SessionContext {
        extended_message: true,
        ..cx4()
    };
    let nlri = v4_32s(100_000);
    let mut buf = BytesMut::new();
    let n = UpdateBuilder::new(&cx).withdraw(&nlri, &mut buf);
    assert_eq!(n, (100_000 * 5usize).div_ceil(65535 - 23));
    let total: usize = messages(&buf)
        .into_iter()
        .map(|m| UpdateView::new_checked(m, &cx).unwrap().withdrawn().count())
        .sum();
    assert_eq!(total, 100_000);
}

#[test]
fn add_path_ids_are_written_and_read_rfc7911() {
    let mut cx = cx4();
    cx.add_path_tx.insert(Family::IPV4_UNICAST);
    cx.add_path_rx.insert(Family::IPV4_UNICAST);
    cx.add_path_tx.insert(Family::IPV6_UNICAST);
    cx.add_path_rx.insert(Family::IPV6_UNICAST);
    let mut nlri = v4_32s(2000);
    nlri.extend(v6_64s(2000));
    for (i, n) in nlri.iter_mut().enumerate() {
        n.path_id = Some(i as u32 + 1);
    }
    let nh = NextHop::V4("192.0.2.1".parse().unwrap());
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(&attrs(), &nh, &nlri, &mut buf);
    let got: Vec<Nlri> = messages(&buf)
        .into_iter()
        .flat_map(|m| {
            UpdateView::new_checked(m, &cx)
                .unwrap()
                .announced()
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(got, nlri);
}

#[test]
fn two_octet_session_writes_as_trans_and_as4_path_rfc6793_4_2_2() {
    let cx = SessionContext::default();
    let a = PathAttributes {
        as_path: AsPath::from_sequence([64512, 4_200_000_000, 65001]),
        aggregator: Some(bgp_proto::Aggregator {
            asn: 4_200_000_001,
            address: "192.0.2.9".parse().unwrap(),
        }),
        ..PathAttributes::default()
    };
    let nlri = v4_32s(3);
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(
        &a,
        &NextHop::V4("192.0.2.1".parse().unwrap()),
        &nlri,
        &mut buf,
    );
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    let owned = v.to_owned();
    let types: Vec<u8> = owned.attrs.iter().map(|a| a.value.type_code().0).collect();
    assert_eq!(types, [1, 2, 3, 7, 17, 18]);
    assert!(owned
        .attrs
        .iter()
        .any(|x| x.value == PathAttr::AsPath(AsPath::from_sequence([64512, 23456, 65001]))));
    // The merge (RFC 6793 §4.2.3) gives back the 4-octet path and aggregator.
    assert_eq!(v.attributes(), a);
}

#[test]
fn ipv4_with_ipv6_next_hop_uses_mp_reach_rfc8950() {
    let mut cx = cx4();
    cx.extended_next_hop.insert(Family::IPV4_UNICAST);
    let nh = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    let nlri = v4_32s(10);
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(&attrs(), &nh, &nlri, &mut buf);
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert_eq!(v.mp_reach_family(), Some(Family::IPV4_UNICAST));
    assert_eq!(v.next_hop(Family::IPV4_UNICAST), Some(nh));
    assert_eq!(v.nlri().count(), 0);
    assert_eq!(v.announced().collect::<Vec<_>>(), nlri);
}

#[test]
fn end_of_rib_markers_rfc4724_2() {
    let cx = cx4();
    let b = UpdateBuilder::new(&cx);
    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        let mut buf = BytesMut::new();
        b.end_of_rib(f, &mut buf);
        let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
        assert_eq!(v.end_of_rib(), Some(f));
        assert_eq!(v.withdrawn().count(), 0);
    }
    let mut buf = BytesMut::new();
    b.end_of_rib(Family::IPV4_UNICAST, &mut buf);
    assert_eq!(&buf[16..], [0, 23, 2, 0, 0, 0, 0]);
}

#[test]
fn extended_length_flag_only_above_255_octets() {
    let cx = cx4();
    let nh = NextHop::V4("192.0.2.1".parse().unwrap());
    let mut a = attrs();
    a.communities = (0..63).map(|i| Community::new(1, i)).collect(); // 252 octets
    a.unknown = vec![RawAttr {
        flags: 0xc0 | FLAG_EXTENDED_LENGTH,
        type_code: AttrType(99),
        value: Bytes::from_static(&[1, 2, 3]),
    }];
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(&a, &nh, &v4_32s(1), &mut buf);
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    for r in v.raw_attributes() {
        assert_eq!(
            r.flags & FLAG_EXTENDED_LENGTH != 0,
            r.value.len() > 255,
            "{r:?}"
        );
    }
    a.communities.push(Community::new(1, 99)); // 256 octets
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(&a, &nh, &v4_32s(1), &mut buf);
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    let c = v
        .raw_attributes()
        .find(|r| r.type_code == AttrType::COMMUNITIES)
        .unwrap();
    assert_ne!(c.flags & FLAG_EXTENDED_LENGTH, 0);
    // Type-code order, the unknown attribute (99) last, passed on with the Partial bit.
    let codes: Vec<u8> = v.raw_attributes().map(|r| r.type_code.0).collect();
    assert_eq!(codes, [1, 2, 3, 4, 8, 32, 99]);
    assert_eq!(v.attributes().unknown[0].flags & 0x20, 0x20);
}

#[test]
fn confed_and_set_segments_round_trip_on_ibgp() {
    let cx = SessionContext {
        ibgp: true,
        allow_as_set: true,
        ..cx4()
    };
    let a = PathAttributes {
        as_path: AsPath {
            segments: vec![
                AsSegment {
                    kind: AsSegmentType::ConfedSequence,
                    asns: vec![65001, 65002],
                },
                AsSegment {
                    kind: AsSegmentType::Sequence,
                    asns: vec![64512],
                },
                AsSegment {
                    kind: AsSegmentType::Set,
                    asns: vec![1, 2, 3],
                },
            ],
        },
        local_pref: Some(200),
        originator_id: Some("192.0.2.7".parse().unwrap()),
        cluster_list: vec!["192.0.2.8".parse().unwrap()],
        ..PathAttributes::default()
    };
    let mut buf = BytesMut::new();
    UpdateBuilder::new(&cx).announce(
        &a,
        &NextHop::V4("192.0.2.1".parse().unwrap()),
        &v4_32s(1),
        &mut buf,
    );
    let v = UpdateView::new_checked(buf.freeze(), &cx).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert_eq!(v.attributes(), a);
}
