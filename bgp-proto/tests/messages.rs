//! Byte vectors for every non-UPDATE message and every capability, tested in both
//! directions (decode the bytes, encode the value), the header / OPEN / NOTIFICATION /
//! ROUTE-REFRESH error cases of ERROR-HANDLING.md §1.2, §1.3, §1.6 and §1.8, and proptest
//! round trips for the owned values.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::Ipv4Addr;

use bgp_proto::capability::{AddPathFamily, GrFamily, LlgrFamily};
use bgp_proto::notification::{cease, ShutdownMessageError};
use bgp_proto::{
    decode, encode_keepalive, frame_len, Afi, Capability, CapabilityCode, DecodeError, ErrorCode,
    ExtendedNextHopEntry, Family, GracefulRestart, HeaderError, Message, MessageType, Notification,
    Open, Role, RouteRefresh, Safi, SessionContext, AS_TRANS,
};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

const M: [u8; 16] = [0xff; 16];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn encoded(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut b = BytesMut::new();
    f(&mut b);
    b.to_vec()
}

fn cx() -> SessionContext {
    SessionContext::default()
}

fn reset(code: u8, subcode: u8, data: &[u8]) -> impl Fn(&DecodeError) -> bool + '_ {
    move |e| {
        let n = e.notification().expect("a NOTIFICATION is sent");
        n.code == ErrorCode(code) && n.subcode == subcode && n.data.as_ref() == data
    }
}

#[track_caller]
fn assert_notification(e: DecodeError, code: u8, subcode: u8, data: &[u8]) {
    assert!(
        reset(code, subcode, data)(&e),
        "expected {code}/{subcode} {data:02x?}, got {e:?}"
    );
}

// ---------------------------------------------------------------------------------------
// KEEPALIVE
// ---------------------------------------------------------------------------------------

/// RFC 4271 §4.4: a KEEPALIVE is the header alone.
const KEEPALIVE: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker (§4.1), 16 x 0xff ...
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ... continued
    0x00, 0x13, // Length 19
    0x04, // Type 4 KEEPALIVE
];

#[test]
fn keepalive_both_directions() {
    assert_eq!(frame_len(KEEPALIVE, 4096), Ok(Some(19)));
    let m = decode(Bytes::from_static(KEEPALIVE), &cx()).unwrap();
    assert!(matches!(m, Message::Keepalive));
    assert_eq!(m.kind(), MessageType::KEEPALIVE);
    assert_eq!(encoded(encode_keepalive), KEEPALIVE);
}

// ---------------------------------------------------------------------------------------
// OPEN
// ---------------------------------------------------------------------------------------

/// RFC 4271 §4.2: OPEN without optional parameters.
const OPEN_MINIMAL: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x1d, // Length 29
    0x01, // Type 1 OPEN
    0x04, // Version 4
    0xfd, 0xe9, // My Autonomous System 65001
    0x00, 0x5a, // Hold Time 90
    0xc0, 0x00, 0x02, 0x01, // BGP Identifier 192.0.2.1
    0x00, // Opt Parm Len 0
];

fn open_minimal() -> Open {
    Open {
        my_as: 65001,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(192, 0, 2, 1),
        capabilities: vec![],
    }
}

/// RFC 4271 §4.2 + RFC 5492 §4: one Capabilities parameter holding four capabilities; the
/// 2-octet AS is AS_TRANS and the real AS is in the 4-octet AS capability (RFC 6793 §3).
const OPEN_AS4_MP: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x33, // Length 51
    0x01, // Type 1 OPEN
    0x04, // Version 4
    0x5b, 0xa0, // My Autonomous System 23456 (AS_TRANS)
    0x00, 0xb4, // Hold Time 180
    0x0a, 0x00, 0x00, 0x01, // BGP Identifier 10.0.0.1
    0x16, // Opt Parm Len 22
    0x02, 0x14, // Parm Type 2 (Capabilities), Parm Length 20
    0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // MP (RFC 4760 §8): AFI 1, Res., SAFI 1
    0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // MP: AFI 2, Res., SAFI 1
    0x02, 0x00, // Route Refresh (RFC 2918 §2)
    0x41, 0x04, 0xfa, 0x56, 0xea, 0x01, // 4-octet AS 4200000001 (RFC 6793 §3)
];

fn open_as4_mp() -> Open {
    Open {
        my_as: AS_TRANS,
        hold_time: 180,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(4_200_000_001),
        ],
    }
}

/// RFC 5492 §4: one Capabilities parameter per capability (Cisco's form); decodes to the
/// same value as the single-parameter form, which is what we encode.
const OPEN_PARAM_PER_CAPABILITY: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x31, // Length 49
    0x01, // Type 1 OPEN
    0x04, // Version 4
    0xfd, 0xe9, // My Autonomous System 65001
    0x00, 0xb4, // Hold Time 180
    0x0a, 0x00, 0x00, 0x02, // BGP Identifier 10.0.0.2
    0x14, // Opt Parm Len 20
    0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // Capabilities: MP IPv4 unicast
    0x02, 0x02, 0x02, 0x00, // Capabilities: Route Refresh
    0x02, 0x06, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // Capabilities: 4-octet AS 65001
];

/// RFC 9072 §2: extended optional parameters (Non-Ext OP Len 255, Non-Ext OP Type 255,
/// 2-octet Extended Opt. Parm. Length, 2-octet parameter lengths). Accepted even though
/// the parameters are short (decision D9: we send this form only above 255 octets).
const OPEN_RFC9072: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x29, // Length 41
    0x01, // Type 1 OPEN
    0x04, // Version 4
    0xfd, 0xe9, // My Autonomous System 65001
    0x00, 0x5a, // Hold Time 90
    0xc0, 0x00, 0x02, 0x01, // BGP Identifier 192.0.2.1
    0xff, // Non-Ext OP Len 255
    0xff, // Non-Ext OP Type 255
    0x00, 0x09, // Extended Opt. Parm. Length 9
    0x02, 0x00, 0x06, // Parm Type 2 (Capabilities), 2-octet Parm Length 6
    0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS 65001
];

#[test]
fn open_minimal_both_directions() {
    assert_eq!(Open::decode(OPEN_MINIMAL).unwrap(), open_minimal());
    assert_eq!(encoded(|b| open_minimal().encode(b)), OPEN_MINIMAL);
    assert_eq!(open_minimal().encoded_len(), OPEN_MINIMAL.len());
    assert_eq!(open_minimal().asn(), 65001);
}

#[test]
fn open_as4_mp_both_directions() {
    let open = Open::decode(OPEN_AS4_MP).unwrap();
    assert_eq!(open, open_as4_mp());
    assert_eq!(open.asn(), 4_200_000_001);
    assert!(open.has(CapabilityCode::ROUTE_REFRESH));
    assert_eq!(
        open.families().collect::<Vec<_>>(),
        [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert_eq!(encoded(|b| open_as4_mp().encode(b)), OPEN_AS4_MP);
    assert_eq!(open_as4_mp().encoded_len(), OPEN_AS4_MP.len());
    let m = decode(Bytes::from_static(OPEN_AS4_MP), &cx()).unwrap();
    assert_eq!(m.kind(), MessageType::OPEN);
    assert!(matches!(m, Message::Open(o) if o == open_as4_mp()));
}

#[test]
fn open_param_per_capability_decodes_and_reencodes_as_one_parameter() {
    let open = Open::decode(OPEN_PARAM_PER_CAPABILITY).unwrap();
    assert_eq!(
        open.capabilities,
        [
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(65001),
        ]
    );
    let again = encoded(|b| open.encode(b));
    assert_eq!(again.len(), 45); // 29 + 2 + 14: one parameter instead of three
    assert_eq!(&again[28..31], &[0x10, 0x02, 0x0e]);
    assert_eq!(Open::decode(&again).unwrap(), open);
}

#[test]
fn open_rfc9072_accepted_and_sent_only_when_needed() {
    let open = Open::decode(OPEN_RFC9072).unwrap();
    assert_eq!(open.capabilities, [Capability::FourOctetAs(65001)]);
    // D9: short parameters are sent in the RFC 4271 form.
    let short = encoded(|b| open.encode(b));
    assert_eq!(short.len(), 37);
    assert_eq!(&short[28..31], &[0x08, 0x02, 0x06]);
    // More than 255 octets of parameters: RFC 9072 form.
    let big = Open {
        capabilities: (0..30)
            .map(|i| Capability::Unknown {
                code: CapabilityCode(200 + i as u8),
                data: Bytes::from(vec![i as u8; 10]),
            })
            .collect(),
        ..open_minimal()
    };
    let bytes = encoded(|b| big.encode(b));
    assert_eq!(bytes.len(), big.encoded_len());
    // 30 capabilities of 12 octets = 360; extended length = 3 + 360 = 363 = 0x016b.
    assert_eq!(&bytes[28..34], &[0xff, 0xff, 0x01, 0x6b, 0x02, 0x01]);
    assert_eq!(bytes[34], 0x68);
    assert_eq!(Open::decode(&bytes).unwrap(), big);
}

/// Builds an OPEN around raw optional-parameter octets (Opt Parm Len computed).
fn open_with_params(params: &[u8]) -> Vec<u8> {
    let len = (29 + params.len()) as u16;
    cat(&[
        &M,
        &len.to_be_bytes(),
        &[1, 4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, params.len() as u8],
        params,
    ])
}

/// Builds an OPEN with one Capabilities parameter around raw capability octets.
fn open_with_caps(caps: &[u8]) -> Vec<u8> {
    open_with_params(&cat(&[&[2, caps.len() as u8], caps]))
}

// ---------------------------------------------------------------------------------------
// Capabilities: (code, length, value) octets and the decoded value.
// ---------------------------------------------------------------------------------------

/// RFC 4760 §8: Multiprotocol, AFI 2 (IPv6), Reserved 0, SAFI 1 (unicast).
const CAP_MP_IPV6_UNICAST: &[u8] = &[0x01, 0x04, 0x00, 0x02, 0x00, 0x01];
/// RFC 2918 §2: Route Refresh, length 0.
const CAP_ROUTE_REFRESH: &[u8] = &[0x02, 0x00];
/// RFC 7313 §3.1: Enhanced Route Refresh, code 70, length 0.
const CAP_ENHANCED_ROUTE_REFRESH: &[u8] = &[0x46, 0x00];
/// RFC 6793 §3: 4-octet AS, code 65, AS 65536.
const CAP_FOUR_OCTET_AS: &[u8] = &[0x41, 0x04, 0x00, 0x01, 0x00, 0x00];
/// RFC 7911 §4: ADD-PATH, code 69: (AFI 1, SAFI 1, Send/Receive 3 = both),
/// (AFI 2, SAFI 1, Send/Receive 1 = receive).
const CAP_ADD_PATH: &[u8] = &[
    0x45, 0x08, // code 69, length 8
    0x00, 0x01, 0x01, 0x03, // IPv4 unicast, send and receive
    0x00, 0x02, 0x01, 0x01, // IPv6 unicast, receive only
];
/// RFC 4724 §3 + RFC 8538 §2: Graceful Restart, code 64.
const CAP_GRACEFUL_RESTART: &[u8] = &[
    0x40, 0x0a, // code 64, length 10
    0xc0, 0x78, // R=1, N=1, Restart Time 120
    0x00, 0x01, 0x01, 0x80, // IPv4 unicast, F=1
    0x00, 0x02, 0x01, 0x00, // IPv6 unicast, F=0
];
/// RFC 9494 §3: Long-Lived Graceful Restart, code 71: AFI, SAFI, flags (F), stale time.
const CAP_LLGR: &[u8] = &[
    0x47, 0x07, // code 71, length 7
    0x00, 0x01, 0x01, 0x80, // IPv4 unicast, F=1
    0x00, 0x0e, 0x10, // Long-lived Stale Time 3600 s
];
/// RFC 8654 §3: Extended Message, code 6, length 0.
const CAP_EXTENDED_MESSAGE: &[u8] = &[0x06, 0x00];
/// RFC 8950 §3: Extended Next Hop Encoding, code 5: NLRI AFI 1, NLRI SAFI 1 (2 octets),
/// Nexthop AFI 2.
const CAP_EXTENDED_NEXT_HOP: &[u8] = &[0x05, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x02];
/// RFC 9234 §4.1: BGP Role, code 9, Role 3 (Customer).
const CAP_ROLE: &[u8] = &[0x09, 0x01, 0x03];
/// draft-walton-bgp-hostname-capability §3: FQDN, code 73: "r1" in "lab".
const CAP_FQDN: &[u8] = &[
    0x49, 0x07, // code 73, length 7
    0x02, b'r', b'1', // hostname length 2, "r1"
    0x03, b'l', b'a', b'b', // domain length 3, "lab"
];
/// RFC 5492 §4: an unknown capability (code 238) is kept raw.
const CAP_UNKNOWN: &[u8] = &[0xee, 0x03, 0x01, 0x02, 0x03];
/// Cisco's pre-standard Route Refresh (code 128) is not interpreted: kept raw.
const CAP_ROUTE_REFRESH_CISCO: &[u8] = &[0x80, 0x00];

fn capability_vectors() -> Vec<(&'static str, &'static [u8], Capability)> {
    vec![
        (
            "mp",
            CAP_MP_IPV6_UNICAST,
            Capability::Multiprotocol(Family::IPV6_UNICAST),
        ),
        ("route refresh", CAP_ROUTE_REFRESH, Capability::RouteRefresh),
        (
            "enhanced rr",
            CAP_ENHANCED_ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh,
        ),
        (
            "4-octet as",
            CAP_FOUR_OCTET_AS,
            Capability::FourOctetAs(65536),
        ),
        (
            "add-path",
            CAP_ADD_PATH,
            Capability::AddPath(vec![
                AddPathFamily {
                    family: Family::IPV4_UNICAST,
                    send: true,
                    receive: true,
                },
                AddPathFamily {
                    family: Family::IPV6_UNICAST,
                    send: false,
                    receive: true,
                },
            ]),
        ),
        (
            "graceful restart",
            CAP_GRACEFUL_RESTART,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![
                    GrFamily {
                        family: Family::IPV4_UNICAST,
                        forwarding: true,
                    },
                    GrFamily {
                        family: Family::IPV6_UNICAST,
                        forwarding: false,
                    },
                ],
            }),
        ),
        (
            "llgr",
            CAP_LLGR,
            Capability::LongLivedGracefulRestart(vec![LlgrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: true,
                stale_time: 3600,
            }]),
        ),
        (
            "extended message",
            CAP_EXTENDED_MESSAGE,
            Capability::ExtendedMessage,
        ),
        (
            "extended next hop",
            CAP_EXTENDED_NEXT_HOP,
            Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                nlri: Family::IPV4_UNICAST,
                next_hop_afi: Afi::IPV6,
            }]),
        ),
        ("role", CAP_ROLE, Capability::Role(Role::Customer)),
        (
            "fqdn",
            CAP_FQDN,
            Capability::Fqdn {
                hostname: "r1".into(),
                domain: "lab".into(),
            },
        ),
        (
            "unknown",
            CAP_UNKNOWN,
            Capability::Unknown {
                code: CapabilityCode(238),
                data: Bytes::from_static(&[1, 2, 3]),
            },
        ),
        (
            "cisco route refresh",
            CAP_ROUTE_REFRESH_CISCO,
            Capability::Unknown {
                code: CapabilityCode::ROUTE_REFRESH_CISCO,
                data: Bytes::new(),
            },
        ),
    ]
}

#[test]
fn every_capability_both_directions() {
    for (name, bytes, cap) in capability_vectors() {
        // Decode the value octets alone.
        let decoded = Capability::decode(CapabilityCode(bytes[0]), &bytes[2..]);
        assert_eq!(decoded.as_ref(), Ok(&cap), "{name}: decode");
        assert_eq!(cap.code().0, bytes[0], "{name}: code");
        // Encode: code, length, value.
        assert_eq!(encoded(|b| cap.encode(b)), bytes, "{name}: encode");
        assert_eq!(cap.encoded_len(), bytes.len(), "{name}: encoded_len");
        // Inside a whole OPEN, both directions.
        let msg = open_with_caps(bytes);
        let open = Open::decode(&msg).unwrap();
        assert_eq!(
            open.capabilities,
            std::slice::from_ref(&cap),
            "{name}: in OPEN"
        );
        assert_eq!(encoded(|b| open.encode(b)), msg, "{name}: OPEN encode");
    }
}

#[test]
fn role_is_an_open_set() {
    for v in 0..=255u8 {
        assert_eq!(u8::from(Role::from(v)), v);
    }
    assert_eq!(Role::from(4), Role::Peer);
    assert_eq!(Role::from(5), Role::Unknown(5));
}

// ---------------------------------------------------------------------------------------
// OPEN errors, ERROR-HANDLING.md §1.3
// ---------------------------------------------------------------------------------------

#[test]
fn open_version_3_is_2_1_with_data_0004() {
    let mut msg = OPEN_MINIMAL.to_vec();
    msg[19] = 3;
    assert_notification(Open::decode(&msg).unwrap_err(), 2, 1, &[0, 4]);
}

#[test]
fn open_unknown_optional_parameter_is_2_4_with_the_parameter() {
    // Parm Type 1 (Authentication, deprecated), length 2.
    let msg = open_with_params(&[0x01, 0x02, 0xaa, 0xbb]);
    assert_notification(
        Open::decode(&msg).unwrap_err(),
        2,
        4,
        &[0x01, 0x02, 0xaa, 0xbb],
    );
}

#[test]
fn open_parameter_framing_errors_are_2_0() {
    let cases: &[(&str, Vec<u8>)] = &[
        // Opt Parm Len 10 but only 8 octets follow.
        ("opt len overrun", {
            let mut m = open_with_caps(CAP_FOUR_OCTET_AS);
            m[28] += 2;
            m
        }),
        // Opt Parm Len 0 but parameters follow.
        ("octets after parameters", {
            let mut m = open_with_caps(CAP_FOUR_OCTET_AS);
            m[28] = 0;
            m
        }),
        // Parameter length 7 runs past Opt Parm Len 8.
        (
            "parameter overrun",
            open_with_params(&[0x02, 0x07, 0x41, 0x04, 0, 0, 0xfd, 0xe9]),
        ),
        // Parameter with no length octet.
        ("truncated parameter", open_with_params(&[0x02])),
        // Capability length 5 runs past the parameter.
        (
            "capability overrun",
            open_with_caps(&[0x41, 0x05, 0, 0, 0xfd, 0xe9]),
        ),
        // Capability with no length octet.
        ("truncated capability", open_with_caps(&[0x41])),
        // RFC 9072 Extended Opt. Parm. Length larger than the message.
        ("rfc9072 overrun", {
            let mut m = OPEN_RFC9072.to_vec();
            m[31] = 0x0a;
            m
        }),
        // RFC 9072 parameter with a 2-octet length running past the parameters.
        ("rfc9072 parameter overrun", {
            let mut m = OPEN_RFC9072.to_vec();
            m[34] = 0x07;
            m
        }),
    ];
    for (name, msg) in cases {
        let err = Open::decode(msg).unwrap_err();
        assert!(reset(2, 0, &[])(&err), "{name}: {err:?}");
    }
}

#[test]
fn bad_per_capability_lengths_are_2_0() {
    let cases: &[(&str, &[u8])] = &[
        ("mp length 3", &[0x01, 0x03, 0x00, 0x01, 0x01]),
        ("mp length 5", &[0x01, 0x05, 0x00, 0x01, 0x00, 0x01, 0x00]),
        ("route refresh length 1", &[0x02, 0x01, 0x00]),
        ("enhanced rr length 1", &[0x46, 0x01, 0x00]),
        ("4-octet as length 2", &[0x41, 0x02, 0xfd, 0xe9]),
        (
            "add-path length 5",
            &[0x45, 0x05, 0x00, 0x01, 0x01, 0x03, 0x00],
        ),
        ("graceful restart length 1", &[0x40, 0x01, 0x00]),
        (
            "graceful restart length 5",
            &[0x40, 0x05, 0x00, 0x78, 0x00, 0x01, 0x01],
        ),
        (
            "llgr length 6",
            &[0x47, 0x06, 0x00, 0x01, 0x01, 0x80, 0x00, 0x0e],
        ),
        ("extended message length 1", &[0x06, 0x01, 0x00]),
        (
            "extended next hop length 4",
            &[0x05, 0x04, 0x00, 0x01, 0x00, 0x01],
        ),
        (
            "extended next hop safi 256",
            &[0x05, 0x06, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02],
        ),
        ("role length 0", &[0x09, 0x00]),
        ("role length 2", &[0x09, 0x02, 0x00, 0x01]),
        ("fqdn hostname overrun", &[0x49, 0x03, 0x05, b'r', b'1']),
        ("fqdn no domain length", &[0x49, 0x03, 0x02, b'r', b'1']),
        (
            "fqdn trailing octets",
            &[0x49, 0x05, 0x01, b'r', 0x00, 0x00, 0x00],
        ),
    ];
    for (name, cap) in cases {
        let err = Open::decode(&open_with_caps(cap)).unwrap_err();
        assert!(reset(2, 0, &[])(&err), "{name}: {err:?}");
    }
}

#[test]
fn conflicting_four_octet_as_is_2_2_and_identical_duplicates_are_fine() {
    let dup = cat(&[CAP_FOUR_OCTET_AS, CAP_FOUR_OCTET_AS]);
    let open = Open::decode(&open_with_caps(&dup)).unwrap();
    assert_eq!(open.asn(), 65536);
    let conflict = cat(&[CAP_FOUR_OCTET_AS, &[0x41, 0x04, 0x00, 0x01, 0x00, 0x01]]);
    assert_notification(
        Open::decode(&open_with_caps(&conflict)).unwrap_err(),
        2,
        2,
        &[],
    );
}

#[test]
fn semantic_checks_are_left_to_the_session() {
    // Hold time 1, BGP Identifier 0 and AS 0 are structurally fine (RFC 4271 §6.2 checks
    // them against configuration, which the FSM has).
    let mut msg = OPEN_MINIMAL.to_vec();
    msg[20..22].copy_from_slice(&[0, 0]);
    msg[22..24].copy_from_slice(&[0, 1]);
    msg[24..28].copy_from_slice(&[0; 4]);
    let open = Open::decode(&msg).unwrap();
    assert_eq!(
        (open.my_as, open.hold_time, open.bgp_id),
        (0, 1, Ipv4Addr::UNSPECIFIED)
    );
}

// ---------------------------------------------------------------------------------------
// Message header errors, ERROR-HANDLING.md §1.2 (RFC 4271 §6.1, RFC 8654 §4)
// ---------------------------------------------------------------------------------------

fn header(len: u16, kind: u8) -> Vec<u8> {
    cat(&[&M, &len.to_be_bytes(), &[kind]])
}

#[test]
fn header_errors() {
    let mut bad_marker = KEEPALIVE.to_vec();
    bad_marker[7] = 0xfe;
    // (name, header octets, max length, code, subcode, Data)
    type Case = (&'static str, Vec<u8>, usize, u8, u8, Vec<u8>);
    let cases: &[Case] = &[
        ("marker", bad_marker, 4096, 1, 1, vec![]),
        ("length 18", header(18, 4), 4096, 1, 2, vec![0x00, 0x12]),
        ("length 0", header(0, 2), 4096, 1, 2, vec![0x00, 0x00]),
        ("length 4097", header(4097, 2), 4096, 1, 2, vec![0x10, 0x01]),
        ("keepalive 20", header(20, 4), 4096, 1, 2, vec![0x00, 0x14]),
        ("open 28", header(28, 1), 4096, 1, 2, vec![0x00, 0x1c]),
        ("update 22", header(22, 2), 4096, 1, 2, vec![0x00, 0x16]),
        (
            "notification 20",
            header(20, 3),
            4096,
            1,
            2,
            vec![0x00, 0x14],
        ),
        (
            "route-refresh 22",
            header(22, 5),
            4096,
            1,
            2,
            vec![0x00, 0x16],
        ),
        (
            "open 4097 extended",
            header(4097, 1),
            65535,
            1,
            2,
            vec![0x10, 0x01],
        ),
        (
            "keepalive 4097 extended",
            header(4097, 4),
            65535,
            1,
            2,
            vec![0x10, 0x01],
        ),
        ("type 0", header(19, 0), 4096, 1, 3, vec![0x00]),
        ("type 6", header(19, 6), 4096, 1, 3, vec![0x06]),
        ("type 255", header(19, 255), 4096, 1, 3, vec![0xff]),
    ];
    for (name, bytes, max, code, subcode, data) in cases {
        // Reported from the 19 header octets alone, before the body arrives.
        let err = frame_len(&bytes[..19], *max).unwrap_err();
        let n = err.notification();
        assert_eq!(
            (n.code, n.subcode, n.data.as_ref()),
            (ErrorCode(*code), *subcode, data.as_slice()),
            "{name}"
        );
    }
}

#[test]
fn extended_message_lengths() {
    // RFC 8654 §4: UPDATE, NOTIFICATION and ROUTE-REFRESH may exceed 4096 once negotiated.
    for kind in [2u8, 3, 5] {
        assert_eq!(frame_len(&header(65535, kind), 65535), Ok(None));
        assert_eq!(
            frame_len(&header(4097, kind), 4096),
            Err(HeaderError::BadLength(4097))
        );
    }
    let mut big_update = header(5000, 2);
    big_update.resize(5000, 0);
    let ext = SessionContext {
        extended_message: true,
        ..cx()
    };
    assert_eq!(
        frame_len(&big_update, ext.max_message_len()),
        Ok(Some(5000))
    );
    assert_eq!(
        frame_len(&big_update, cx().max_message_len()),
        Err(HeaderError::BadLength(5000))
    );
    assert!(matches!(
        decode(Bytes::from(big_update), &cx()),
        Err(DecodeError::Header(HeaderError::BadLength(5000)))
    ));
}

#[test]
fn decode_rejects_a_buffer_that_is_not_one_message() {
    // Shorter than the length field says.
    let short = Bytes::copy_from_slice(&OPEN_MINIMAL[..25]);
    assert_notification(decode(short, &cx()).unwrap_err(), 1, 2, &[0x00, 0x1d]);
    // Longer than the length field says.
    let long = Bytes::from(cat(&[KEEPALIVE, KEEPALIVE]));
    assert_notification(decode(long, &cx()).unwrap_err(), 1, 2, &[0x00, 0x13]);
}

// ---------------------------------------------------------------------------------------
// NOTIFICATION, ERROR-HANDLING.md §1.6 (RFC 4271 §4.5, RFC 9003)
// ---------------------------------------------------------------------------------------

/// RFC 4271 §4.5 + RFC 9003 §2: Cease / Administrative Shutdown with a Shutdown
/// Communication.
const NOTIFICATION_CEASE_SHUTDOWN: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x28, // Length 40
    0x03, // Type 3 NOTIFICATION
    0x06, // Error code 6 Cease
    0x02, // Subcode 2 Administrative Shutdown (RFC 4486 §4)
    0x12, // Shutdown Communication length 18 (RFC 9003 §2)
    b'b', b'g', b'p', b'd', b' ', b's', b'h', b'u', b't', b't', b'i', b'n', b'g', b' ', b'd', b'o',
    b'w', b'n', // "bgpd shutting down"
];

/// RFC 4271 §4.5, §6.5: Hold Timer Expired, no Data.
const NOTIFICATION_HOLD_TIMER_EXPIRED: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x15, // Length 21
    0x03, // Type 3 NOTIFICATION
    0x04, // Error code 4 Hold Timer Expired
    0x00, // Subcode 0
];

/// RFC 4271 §6.2: OPEN Message Error / Unsupported Version Number, Data = version 4.
const NOTIFICATION_UNSUPPORTED_VERSION: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x17, // Length 23
    0x03, // Type 3 NOTIFICATION
    0x02, // Error code 2 OPEN Message Error
    0x01, // Subcode 1 Unsupported Version Number
    0x00, 0x04, // Data: largest supported version, 4
];

#[test]
fn notification_vectors_both_directions() {
    let cases = [
        (
            NOTIFICATION_CEASE_SHUTDOWN,
            Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some("bgpd shutting down")),
        ),
        (
            NOTIFICATION_HOLD_TIMER_EXPIRED,
            Notification::hold_timer_expired(),
        ),
        (
            NOTIFICATION_UNSUPPORTED_VERSION,
            Notification::new(ErrorCode::OPEN_MESSAGE, 1, Bytes::from_static(&[0, 4])),
        ),
    ];
    for (bytes, n) in cases {
        assert_eq!(Notification::decode(bytes).unwrap(), n);
        assert_eq!(
            Notification::decode_bytes(&Bytes::from_static(bytes)).unwrap(),
            n
        );
        assert_eq!(encoded(|b| n.encode(b)), bytes);
        assert_eq!(n.encoded_len(), bytes.len());
        let m = decode(Bytes::from_static(bytes), &cx()).unwrap();
        assert!(matches!(m, Message::Notification(ref x) if *x == n));
        assert_eq!(m.kind(), MessageType::NOTIFICATION);
    }
    // The NOTIFICATION we send for an unsupported version is exactly that vector.
    let mut open = OPEN_MINIMAL.to_vec();
    open[19] = 5;
    let n = Open::decode(&open).unwrap_err().notification().unwrap();
    assert_eq!(encoded(|b| n.encode(b)), NOTIFICATION_UNSUPPORTED_VERSION);
}

#[test]
fn notification_display_for_logs() {
    let n = Notification::decode(NOTIFICATION_CEASE_SHUTDOWN).unwrap();
    assert_eq!(
        n.to_string(),
        r#"6/2 (Cease / Administrative Shutdown) "bgpd shutting down""#
    );
    assert_eq!(
        Notification::hold_timer_expired().to_string(),
        "4/0 (Hold Timer Expired)"
    );
    let n = Notification::new(ErrorCode(99), 7, Bytes::from_static(&[0xab]));
    assert_eq!(n.to_string(), "99/7 data ab");
}

#[test]
fn short_notification_is_reported_not_answered() {
    // RFC 4271 §6.4: an error in a NOTIFICATION is logged, never answered.
    let short = cat(&[&header(20, 3), &[6]]);
    assert!(matches!(
        Notification::decode(&short),
        Err(DecodeError::BadNotification(_))
    ));
    let e = decode(Bytes::from(short), &cx()).unwrap_err();
    assert!(matches!(e, DecodeError::BadNotification(_)));
    assert_eq!(e.notification(), None);
    assert!(matches!(
        Notification::decode_bytes(&Bytes::from(header(19, 3))),
        Err(DecodeError::BadNotification(_))
    ));
    assert!(matches!(
        Notification::decode(&header(19, 3)),
        Err(DecodeError::BadNotification(_))
    ));
}

#[test]
fn shutdown_communication() {
    // RFC 9003 §2: length octet + UTF-8, up to 255 octets, on 6/2 and 6/4 only.
    let n = Notification::cease(cease::ADMINISTRATIVE_RESET, Some("maintenance"));
    assert_eq!(n.data.as_ref(), b"\x0bmaintenance");
    assert_eq!(n.shutdown_message(), Some(Ok("maintenance".to_string())));
    assert_eq!(
        Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, None)
            .data
            .len(),
        0
    );
    assert_eq!(
        Notification::cease(cease::PEER_DECONFIGURED, Some("x"))
            .data
            .len(),
        0
    );
    assert_eq!(
        Notification::cease(cease::PEER_DECONFIGURED, None).shutdown_message(),
        None
    );
    // 300 ASCII octets are cut to 255.
    let long = "a".repeat(300);
    let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some(&long));
    assert_eq!(n.data.len(), 256);
    assert_eq!(n.data[0], 255);
    // A 3-octet character across the 255 boundary is dropped whole.
    let text = format!("{}€", "a".repeat(253));
    let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some(&text));
    assert_eq!(n.shutdown_message(), Some(Ok("a".repeat(253))));
    // Length larger than the Data.
    let n = Notification::new(ErrorCode::CEASE, 2, Bytes::from_static(b"\x05ab"));
    assert_eq!(
        n.shutdown_message(),
        Some(Err(ShutdownMessageError::BadLength {
            declared: 5,
            available: 2
        }))
    );
    // Invalid UTF-8.
    let n = Notification::new(ErrorCode::CEASE, 4, Bytes::from_static(b"\x02\xff\xfe"));
    assert!(matches!(
        n.shutdown_message(),
        Some(Err(ShutdownMessageError::BadUtf8 { .. }))
    ));
    // Control characters replaced for logging.
    let n = Notification::new(ErrorCode::CEASE, 2, Bytes::from_static(b"\x04a\nb\x07"));
    assert_eq!(n.shutdown_message(), Some(Ok("a b ".to_string())));
}

#[test]
fn subcode_constants() {
    use bgp_proto::notification::{fsm, header as h, open as o, route_refresh as rr};
    assert_eq!(
        (
            h::CONNECTION_NOT_SYNCHRONIZED,
            h::BAD_MESSAGE_LENGTH,
            h::BAD_MESSAGE_TYPE
        ),
        (1, 2, 3)
    );
    assert_eq!(
        (
            o::UNSUPPORTED_VERSION,
            o::BAD_PEER_AS,
            o::UNSUPPORTED_CAPABILITY,
            o::ROLE_MISMATCH
        ),
        (1, 2, 7, 11)
    );
    assert_eq!(
        (
            fsm::UNEXPECTED_IN_OPEN_SENT,
            fsm::UNEXPECTED_IN_OPEN_CONFIRM,
            fsm::UNEXPECTED_IN_ESTABLISHED
        ),
        (1, 2, 3)
    );
    assert_eq!(
        (
            cease::MAX_PREFIXES,
            cease::ADMINISTRATIVE_SHUTDOWN,
            cease::HARD_RESET,
            cease::BFD_DOWN
        ),
        (1, 2, 9, 10)
    );
    assert_eq!(rr::INVALID_MESSAGE_LENGTH, 1);
    let n = Notification::max_prefixes(Family::IPV4_UNICAST, 1000);
    assert_eq!(n.data.as_ref(), &[0, 1, 1, 0, 0, 0x03, 0xe8]);
    let n = Notification::unsupported_capability(&[
        Capability::FourOctetAs(65001),
        Capability::RouteRefresh,
    ]);
    assert_eq!((n.code, n.subcode), (ErrorCode::OPEN_MESSAGE, 7));
    assert_eq!(n.data.as_ref(), &[0x41, 4, 0, 0, 0xfd, 0xe9, 0x02, 0x00]);
    assert_eq!(
        Notification::role_mismatch().to_string(),
        "2/11 (OPEN Message Error / Role Mismatch)"
    );
    let n = Notification::fsm_error(fsm::UNEXPECTED_IN_OPEN_CONFIRM, Some(MessageType::UPDATE));
    assert_eq!(
        (n.code, n.subcode, n.data.as_ref()),
        (ErrorCode::FSM, 2, &[2u8][..])
    );
}

// ---------------------------------------------------------------------------------------
// ROUTE-REFRESH, ERROR-HANDLING.md §1.8 (RFC 2918 §3, RFC 7313 §3.2, §5)
// ---------------------------------------------------------------------------------------

/// RFC 2918 §3: ROUTE-REFRESH for IPv4 unicast.
const ROUTE_REFRESH_IPV4_UNICAST: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x17, // Length 23
    0x05, // Type 5 ROUTE-REFRESH
    0x00, 0x01, // AFI 1
    0x00, // Reserved / Message Subtype 0 (normal)
    0x01, // SAFI 1
];

/// RFC 7313 §3.2: Beginning of Route Refresh for IPv6 unicast.
const ROUTE_REFRESH_BORR_IPV6: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x17, // Length 23
    0x05, // Type 5 ROUTE-REFRESH
    0x00, 0x02, // AFI 2
    0x01, // Message Subtype 1 (BoRR)
    0x01, // SAFI 1
];

/// RFC 7313 §3.2: End of Route Refresh for IPv4 unicast.
const ROUTE_REFRESH_EORR_IPV4: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x17, // Length 23
    0x05, // Type 5 ROUTE-REFRESH
    0x00, 0x01, // AFI 1
    0x02, // Message Subtype 2 (EoRR)
    0x01, // SAFI 1
];

/// RFC 5291 §4: a normal ROUTE-REFRESH carrying ORF entries; the entries are ignored.
const ROUTE_REFRESH_WITH_ORF: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
    0x00, 0x1b, // Length 27
    0x05, // Type 5 ROUTE-REFRESH
    0x00, 0x01, 0x00, 0x01, // AFI 1, subtype 0, SAFI 1
    0x01, // When-to-refresh IMMEDIATE
    0x40, // ORF Type 64 (Address Prefix ORF)
    0x00, 0x00, // Length of ORFs 0
];

#[test]
fn route_refresh_vectors_both_directions() {
    let cases = [
        (
            ROUTE_REFRESH_IPV4_UNICAST,
            RouteRefresh::new(Family::IPV4_UNICAST),
        ),
        (
            ROUTE_REFRESH_BORR_IPV6,
            RouteRefresh {
                family: Family::IPV6_UNICAST,
                subtype: RouteRefresh::BORR,
            },
        ),
        (
            ROUTE_REFRESH_EORR_IPV4,
            RouteRefresh {
                family: Family::IPV4_UNICAST,
                subtype: RouteRefresh::EORR,
            },
        ),
    ];
    for (bytes, rr) in cases {
        assert_eq!(RouteRefresh::decode(bytes).unwrap(), rr);
        assert_eq!(encoded(|b| rr.encode(b)), bytes);
        assert_eq!(rr.encoded_len(), bytes.len());
        let m = decode(Bytes::from_static(bytes), &cx()).unwrap();
        assert!(matches!(m, Message::RouteRefresh(x) if x == rr));
    }
}

#[test]
fn route_refresh_with_orf_is_accepted() {
    assert_eq!(
        RouteRefresh::decode(ROUTE_REFRESH_WITH_ORF).unwrap(),
        RouteRefresh::new(Family::IPV4_UNICAST)
    );
}

#[test]
fn borr_eorr_with_a_bad_length_is_7_1_with_the_whole_message() {
    for base in [ROUTE_REFRESH_BORR_IPV6, ROUTE_REFRESH_EORR_IPV4] {
        let mut msg = base.to_vec();
        msg.push(0);
        msg[17] = 24;
        let err = RouteRefresh::decode(&msg).unwrap_err();
        assert_notification(err, 7, 1, &msg);
        let err = decode(Bytes::from(msg.clone()), &cx()).unwrap_err();
        assert_notification(err, 7, 1, &msg);
    }
}

#[test]
fn unknown_route_refresh_subtype_is_kept_for_the_session_to_ignore() {
    let mut msg = ROUTE_REFRESH_IPV4_UNICAST.to_vec();
    msg[21] = 3;
    let rr = RouteRefresh::decode(&msg).unwrap();
    assert_eq!(rr.subtype, 3);
    assert_eq!(rr.family, Family::new(Afi(1), Safi(1)));
}

// ---------------------------------------------------------------------------------------
// proptest round trips: decode(encode(x)) == x
// ---------------------------------------------------------------------------------------

const KNOWN_CODES: [u8; 11] = [1, 2, 5, 6, 9, 64, 65, 69, 70, 71, 73];

fn family() -> impl Strategy<Value = Family> {
    (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Family::new(Afi(a), Safi(s)))
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        family().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        any::<u32>().prop_map(Capability::FourOctetAs),
        prop::collection::vec(
            // Send/Receive 1..=3 (RFC 7911 §4); 0 is not a valid value (see
            // add_path_send_receive_outside_1_to_3_is_ignored_not_refused).
            (family(), any::<bool>(), any::<bool>()).prop_map(|(family, send, receive)| {
                AddPathFamily {
                    family,
                    send,
                    receive: receive || !send,
                }
            }),
            0..20
        )
        .prop_map(Capability::AddPath),
        (
            any::<bool>(),
            any::<bool>(),
            0..4096u16,
            prop::collection::vec(
                (family(), any::<bool>())
                    .prop_map(|(family, forwarding)| GrFamily { family, forwarding }),
                0..20
            )
        )
            .prop_map(
                |(r, n, t, families)| Capability::GracefulRestart(GracefulRestart {
                    restart_state: r,
                    notification: n,
                    restart_time: t,
                    families
                })
            ),
        prop::collection::vec(
            (family(), any::<bool>(), 0..(1u32 << 24)).prop_map(|(family, forwarding, s)| {
                LlgrFamily {
                    family,
                    forwarding,
                    stale_time: s,
                }
            }),
            0..20
        )
        .prop_map(Capability::LongLivedGracefulRestart),
        Just(Capability::ExtendedMessage),
        prop::collection::vec(
            (family(), any::<u16>()).prop_map(|(nlri, nh)| ExtendedNextHopEntry {
                nlri,
                next_hop_afi: Afi(nh)
            }),
            0..20
        )
        .prop_map(Capability::ExtendedNextHop),
        any::<u8>().prop_map(|v| Capability::Role(Role::from(v))),
        ("\\PC{0,40}", "\\PC{0,40}")
            .prop_map(|(hostname, domain)| Capability::Fqdn { hostname, domain }),
        (
            any::<u8>().prop_filter("unknown code", |c| !KNOWN_CODES.contains(c)),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(c, d)| Capability::Unknown {
                code: CapabilityCode(c),
                data: Bytes::from(d)
            }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        prop::collection::vec(capability(), 0..24),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
        .prop_filter("one 4-octet AS value (D11)", |o| {
            let mut asns = o.capabilities.iter().filter_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            });
            let first = asns.next();
            asns.all(|a| Some(a) == first)
        })
        .prop_filter("fits in 4096 octets", |o| o.encoded_len() <= 4096)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn capability_roundtrip(cap in capability()) {
        let bytes = encoded(|b| cap.encode(b));
        prop_assert_eq!(bytes.len(), cap.encoded_len());
        prop_assert_eq!(Capability::decode(CapabilityCode(bytes[0]), &bytes[2..]), Ok(cap));
    }

    #[test]
    fn open_roundtrip(open in open()) {
        let bytes = encoded(|b| open.encode(b));
        prop_assert_eq!(bytes.len(), open.encoded_len());
        prop_assert_eq!(frame_len(&bytes, 4096), Ok(Some(bytes.len())));
        prop_assert_eq!(&Open::decode(&bytes).unwrap(), &open);
        let m = decode(Bytes::from(bytes), &cx()).unwrap();
        prop_assert!(matches!(m, Message::Open(o) if o == open));
    }

    #[test]
    fn notification_roundtrip(
        code in any::<u8>(),
        subcode in any::<u8>(),
        data in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let n = Notification::new(ErrorCode(code), subcode, Bytes::from(data));
        let bytes = encoded(|b| n.encode(b));
        prop_assert_eq!(bytes.len(), n.encoded_len());
        prop_assert_eq!(&Notification::decode(&bytes).unwrap(), &n);
        let _ = n.to_string();
        let _ = n.shutdown_message();
    }

    #[test]
    fn cease_text_roundtrip(text in "\\PC{0,300}", reset in any::<bool>()) {
        let sub = if reset { cease::ADMINISTRATIVE_RESET } else { cease::ADMINISTRATIVE_SHUTDOWN };
        let n = Notification::cease(sub, Some(&text));
        let back = n.shutdown_message().unwrap().unwrap();
        prop_assert!(back.len() <= 255);
        prop_assert!(text.starts_with(&back) || text.chars().any(char::is_control));
        let bytes = encoded(|b| n.encode(b));
        prop_assert_eq!(Notification::decode(&bytes).unwrap(), n);
    }

    #[test]
    fn frame_len_stays_in_bounds(
        mut buf in prop::collection::vec(any::<u8>(), 0..64),
        marker in any::<bool>(),
        max in 0usize..70_000,
    ) {
        if marker && buf.len() >= 16 {
            buf[..16].copy_from_slice(&M);
        }
        if let Ok(Some(n)) = frame_len(&buf, max) {
            prop_assert!(n >= 19 && n <= buf.len() && n <= max);
        }
    }

    /// The codec yields the same messages however the stream is cut into reads.
    #[cfg(feature = "codec")]
    #[test]
    fn codec_reassembles_any_chunking(
        opens in prop::collection::vec(open(), 1..4),
        rrs in prop::collection::vec((family(), any::<u8>()), 0..4),
        cuts in prop::collection::vec(1usize..200, 1..40),
    ) {
        use tokio_util::codec::Decoder;
        let mut msgs: Vec<Vec<u8>> = Vec::new();
        for o in &opens {
            msgs.push(encoded(|b| o.encode(b)));
            msgs.push(KEEPALIVE.to_vec());
        }
        for (family, subtype) in rrs {
            msgs.push(encoded(|b| RouteRefresh { family, subtype }.encode(b)));
        }
        let stream = msgs.concat();
        let mut codec = bgp_proto::BgpCodec::new();
        let mut buf = BytesMut::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        let (mut pos, mut i) = (0, 0);
        while pos < stream.len() {
            let n = cuts[i % cuts.len()].min(stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            i += 1;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                got.push(item.unwrap().to_vec());
            }
        }
        prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn route_refresh_roundtrip(family in family(), subtype in any::<u8>()) {
        let rr = RouteRefresh { family, subtype };
        let bytes = encoded(|b| rr.encode(b));
        prop_assert_eq!(RouteRefresh::decode(&bytes), Ok(rr));
    }
}

/// RFC 7911 §4: "If any other value is received, then the capability SHOULD be treated as
/// not understood and ignored [RFC5492]." Issue 17 item 4: the OPEN is not refused (it was
/// 2/0 before); the capability is kept raw as an unknown one, so no ADD-PATH is negotiated.
#[test]
fn add_path_send_receive_outside_1_to_3_is_ignored_not_refused() {
    for sr in [0u8, 4, 0xff] {
        // AFI 1, SAFI 1, Send/Receive 3 (valid), then AFI 2, SAFI 1, Send/Receive `sr`.
        let value = [0x00, 0x01, 0x01, 0x03, 0x00, 0x02, 0x01, sr];
        let cap = Capability::decode(CapabilityCode::ADD_PATH, &value).expect("not an error");
        assert_eq!(
            cap,
            Capability::Unknown {
                code: CapabilityCode::ADD_PATH,
                data: Bytes::copy_from_slice(&value),
            },
            "send/receive {sr}"
        );
    }
}
