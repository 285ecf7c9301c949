//! Byte vectors written field by field from include/uapi/linux/nexthop.h (host byte order:
//! these tests assume little-endian, as every machine this daemon runs on).

use super::*;

/// A resilient group as the kernel reports it (`ip nexthop show id 1073741827`, protocol 179):
/// three members, 64 buckets, idle timer 120 s, and a u64 after a pad attribute.
#[rustfmt::skip]
const GROUP_RES_REPLY: &[u8] = &[
    // struct nhmsg: family AF_UNSPEC, scope 0, protocol 179, resvd, flags 0
    0x00, 0x00, 0xb3, 0x00, 0x00, 0x00, 0x00, 0x00,
    // NHA_ID (len 8, type 1) = 0x40000003
    0x08, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x40,
    // NHA_GROUP (len 28, type 2): {id 0x40000000, weight-1 0, high 0, resvd}
    0x1c, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
    //   {id 0x40000001, weight-1 2 (weight 3)}
    0x01, 0x00, 0x00, 0x40, 0x02, 0x00, 0x00, 0x00,
    //   {id 0x40000002, weight-1 255 (weight 256)}
    0x02, 0x00, 0x00, 0x40, 0xff, 0x00, 0x00, 0x00,
    // NHA_GROUP_TYPE (len 6, type 3) = NEXTHOP_GRP_TYPE_RES, 2 octets padding
    0x06, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
    // NHA_RES_GROUP (len 44, type 12 | NLA_F_NESTED)
    0x2c, 0x00, 0x0c, 0x80,
    //   NHA_RES_GROUP_BUCKETS (len 6, type 1) = 64, padding
    0x06, 0x00, 0x01, 0x00, 0x40, 0x00, 0x00, 0x00,
    //   NHA_RES_GROUP_IDLE_TIMER (len 8, type 2) = 12000 clock_t (120 s)
    0x08, 0x00, 0x02, 0x00, 0xe0, 0x2e, 0x00, 0x00,
    //   NHA_RES_GROUP_UNBALANCED_TIMER (len 8, type 3) = 0
    0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
    //   NHA_RES_GROUP_PAD (len 4, type 0)
    0x04, 0x00, 0x00, 0x00,
    //   NHA_RES_GROUP_UNBALANCED_TIME (len 12, type 4) = 0
    0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // NHA_OP_FLAGS (len 8, type 14): unknown to this code, skipped
    0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// A gateway next hop as requested: AF_INET, protocol 179, id 0x40000000, dev 3, 10.255.1.2.
#[rustfmt::skip]
const NEXTHOP_V4_REQUEST: &[u8] = &[
    // struct nhmsg: AF_INET (2), scope 0, protocol 179, resvd, flags 0
    0x02, 0x00, 0xb3, 0x00, 0x00, 0x00, 0x00, 0x00,
    // NHA_ID
    0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x40,
    // NHA_OIF (len 8, type 5) = 3
    0x08, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00,
    // NHA_GATEWAY (len 8, type 6) = 10.255.1.2
    0x08, 0x00, 0x06, 0x00, 0x0a, 0xff, 0x01, 0x02,
];

/// One bucket of a bucket dump (RTM_NEWNEXTHOPBUCKET): group 0x40000003, bucket 5 on
/// 0x40000001, idle 250 clock_t.
#[rustfmt::skip]
const BUCKET_REPLY: &[u8] = &[
    0x00, 0x00, 0xb3, 0x00, 0x00, 0x00, 0x00, 0x00,
    // NHA_ID
    0x08, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x40,
    // NHA_RES_BUCKET (len 32, type 13 | nested)
    0x20, 0x00, 0x0d, 0x80,
    //   NHA_RES_BUCKET_INDEX (len 6, type 1) = 5, padding
    0x06, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00,
    //   NHA_RES_BUCKET_IDLE_TIME (len 12, type 2) = 250
    0x0c, 0x00, 0x02, 0x00, 0xfa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    //   NHA_RES_BUCKET_NH_ID (len 8, type 3) = 0x40000001
    0x08, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x40,
];

fn group_res() -> NexthopMessage {
    NexthopMessage {
        header: NhHeader {
            family: 0,
            scope: 0,
            protocol: 179,
            flags: 0,
        },
        id: Some(0x4000_0003),
        group: Some(vec![
            GroupEntry {
                id: 0x4000_0000,
                weight: 1,
            },
            GroupEntry {
                id: 0x4000_0001,
                weight: 3,
            },
            GroupEntry {
                id: 0x4000_0002,
                weight: 256,
            },
        ]),
        group_type: Some(GROUP_TYPE_RES),
        res_group: Some(ResGroup {
            buckets: Some(64),
            idle_timer: Some(12_000),
            unbalanced_timer: Some(0),
            unbalanced_time: None,
        }),
        ..NexthopMessage::default()
    }
}

#[test]
fn resilient_group_reply_decodes() {
    let mut want = group_res();
    if let Some(r) = want.res_group.as_mut() {
        r.unbalanced_time = Some(0);
    }
    assert_eq!(NexthopMessage::parse(GROUP_RES_REPLY), Ok(want));
}

#[test]
fn resilient_group_request_encodes_as_the_reply_without_report_only_fields() {
    let m = group_res();
    let mut out = Vec::new();
    m.emit(&mut out);
    assert_eq!(out.len(), m.encoded_len());
    // Same bytes as the reply up to NHA_RES_GROUP, whose length is 4 + 3 * 8 without the
    // pad and the reported unbalanced time.
    assert_eq!(out[..52], GROUP_RES_REPLY[..52]);
    assert_eq!(out[52..56], [0x1c, 0x00, 0x0c, 0x80]);
    assert_eq!(out[56..80], GROUP_RES_REPLY[56..80]);
    assert_eq!(out.len(), 80);
    assert_eq!(NexthopMessage::parse(&out), Ok(m));
}

#[test]
fn gateway_next_hop_round_trips() {
    let m = NexthopMessage {
        header: NhHeader {
            family: 2,
            scope: 0,
            protocol: 179,
            flags: 0,
        },
        id: Some(0x4000_0000),
        oif: Some(3),
        gateway: Some("10.255.1.2".parse().unwrap()),
        ..NexthopMessage::default()
    };
    let mut out = Vec::new();
    m.emit(&mut out);
    assert_eq!(out, NEXTHOP_V4_REQUEST);
    assert_eq!(NexthopMessage::parse(NEXTHOP_V4_REQUEST), Ok(m));
}

#[test]
fn ipv6_gateway_and_flags_round_trip() {
    let m = NexthopMessage {
        header: NhHeader {
            family: 10,
            scope: 0,
            protocol: 179,
            flags: 0,
        },
        id: Some(7),
        oif: Some(2),
        gateway: Some("fd00:255:1::2".parse().unwrap()),
        groups_only: true,
        blackhole: true,
        ..NexthopMessage::default()
    };
    let mut out = Vec::new();
    m.emit(&mut out);
    assert_eq!(out.len(), m.encoded_len());
    assert_eq!(NexthopMessage::parse(&out), Ok(m));
}

#[test]
fn bucket_reply_decodes() {
    let m = NexthopMessage::parse(BUCKET_REPLY).unwrap();
    assert_eq!(m.id, Some(0x4000_0003));
    assert_eq!(
        m.res_bucket,
        Some(ResBucket {
            index: Some(5),
            idle_time: Some(250),
            nexthop: Some(0x4000_0001)
        })
    );
}

#[test]
fn malformed_replies_are_errors() {
    assert_eq!(
        NexthopMessage::parse(&GROUP_RES_REPLY[..5]),
        Err(WireError::Short(5))
    );
    // The group attribute cut inside its value.
    assert!(matches!(
        NexthopMessage::parse(&GROUP_RES_REPLY[..30]),
        Err(WireError::Attribute(_))
    ));
    // NHA_ID with 2 octets.
    let bad_id = [0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 0, 1, 0, 0, 0];
    assert_eq!(
        NexthopMessage::parse(&bad_id),
        Err(WireError::Length {
            attr: "NHA_ID",
            len: 2
        })
    );
    // NHA_GROUP not a multiple of 8 octets.
    let bad_group = [0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 2, 0, 1, 0, 0, 0];
    assert_eq!(
        NexthopMessage::parse(&bad_group),
        Err(WireError::Length {
            attr: "NHA_GROUP",
            len: 4
        })
    );
    // An attribute length below its own header.
    let bad_len = [0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0];
    assert!(NexthopMessage::parse(&bad_len).is_err());
    // A gateway of 5 octets.
    let bad_gw = [0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0];
    assert!(NexthopMessage::parse(&bad_gw).is_err());
}

#[test]
fn every_truncation_and_every_corrupted_octet_parses_or_errs_without_panic() {
    for src in [GROUP_RES_REPLY, NEXTHOP_V4_REQUEST, BUCKET_REPLY] {
        for n in 0..=src.len() {
            let _ = NexthopMessage::parse(&src[..n]);
        }
        for i in 0..src.len() {
            for v in [0x00, 0x01, 0x03, 0x7f, 0x80, 0xff] {
                let mut b = src.to_vec();
                b[i] = v;
                let _ = NexthopMessage::parse(&b);
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let _ = NexthopMessage::parse(&b);
    }
}

fn arb_message() -> impl proptest::strategy::Strategy<Value = NexthopMessage> {
    use proptest::prelude::*;
    let addr = prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ];
    let group = proptest::collection::vec((any::<u32>(), 1u32..=65536), 0..8).prop_map(|v| {
        v.into_iter()
            .map(|(id, weight)| GroupEntry { id, weight })
            .collect::<Vec<_>>()
    });
    let res = (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(buckets, idle_timer, unbalanced_timer)| ResGroup {
            buckets,
            idle_timer,
            unbalanced_timer,
            unbalanced_time: None,
        });
    (
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(group),
        proptest::option::of(any::<u16>()),
        (any::<bool>(), any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(addr),
        proptest::option::of(res),
    )
        .prop_map(
            |(
                (family, scope, protocol, flags),
                id,
                group,
                group_type,
                (blackhole, groups_only),
                oif,
                gateway,
                res_group,
            )| {
                NexthopMessage {
                    header: NhHeader {
                        family,
                        scope,
                        protocol,
                        flags,
                    },
                    id,
                    group,
                    group_type,
                    blackhole,
                    oif,
                    gateway,
                    groups_only,
                    res_group,
                    res_bucket: None,
                }
            },
        )
}

proptest::proptest! {
    /// Every request this code can write reads back as itself, at the length it announced.
    #[test]
    fn emit_then_parse_is_identity(m in arb_message()) {
        let mut out = Vec::new();
        m.emit(&mut out);
        proptest::prop_assert_eq!(out.len(), m.encoded_len());
        proptest::prop_assert_eq!(NexthopMessage::parse(&out), Ok(m));
    }
}
