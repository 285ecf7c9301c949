//! RFC 7606 classification of every UPDATE malformation in `docs/error-handling.md`
//! (§1.4 and §1.5 rows for UPDATE, the per-attribute table and decisions D1, D2, D3, D5, D7,
//! D8): session reset with the exact NOTIFICATION code/subcode/data, treat-as-withdraw, or
//! attribute discard. One row per malformation; the table is the specification.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bgp_proto::{AttrType, DecodeError, Family, SessionContext, UpdateView, Verdict};

/// What the view must report.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// `new_checked` fails with NOTIFICATION code/subcode and exactly this data.
    Reset(u8, u8, Vec<u8>),
    /// Verdict::TreatAsWithdraw caused by this attribute type.
    Taw(u8),
    /// Accepted, with this attribute type listed by `discarded()` and absent from
    /// `attributes()` where it has a field.
    Discard(u8),
    /// Accepted with nothing discarded.
    Accept,
}
use Want::*;

mod fused;

fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, code];
    if flags & 0x10 != 0 {
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        v.push(value.len() as u8);
    }
    v.extend_from_slice(value);
    v
}

fn origin() -> Vec<u8> {
    attr(0x40, 1, &[0])
}
/// AS_SEQUENCE [64512] with 4-octet ASNs.
fn as_path() -> Vec<u8> {
    attr(0x40, 2, &[2, 1, 0, 0, 0xfc, 0x00])
}
fn next_hop() -> Vec<u8> {
    attr(0x40, 3, &[192, 0, 2, 1])
}
/// ORIGIN, AS_PATH, NEXT_HOP: a valid attribute set for the NLRI field.
fn base() -> Vec<u8> {
    [origin(), as_path(), next_hop()].concat()
}
/// 10.0.0.0/24.
const NLRI: &[u8] = &[24, 10, 0, 0];

/// MP_REACH_NLRI for IPv6 unicast, next hop 2001:db8::1, NLRI 2001:db8::/32.
fn mp_reach_v6() -> Vec<u8> {
    let mut v = vec![0, 2, 1, 16];
    v.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v.push(0);
    v.extend_from_slice(&[32, 0x20, 0x01, 0x0d, 0xb8]);
    attr(0x80, 14, &v)
}

fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let len = 23 + withdrawn.len() + attrs.len() + nlri.len();
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    m.extend_from_slice(withdrawn);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    m
}

fn ebgp() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        peer_asn: 64512,
        ..SessionContext::default()
    }
}
fn ibgp() -> SessionContext {
    SessionContext {
        ibgp: true,
        ..ebgp()
    }
}
fn two_octet() -> SessionContext {
    SessionContext {
        four_octet_as: false,
        ..ebgp()
    }
}

struct Case {
    name: &'static str,
    cx: SessionContext,
    msg: Vec<u8>,
    want: Want,
}

fn case(name: &'static str, cx: SessionContext, msg: Vec<u8>, want: Want) -> Case {
    Case {
        name,
        cx,
        msg,
        want,
    }
}

/// Base attributes with `extra` appended, and the NLRI field.
fn with(extra: &[u8]) -> Vec<u8> {
    update(&[], &[base(), extra.to_vec()].concat(), NLRI)
}

/// Base attributes with attribute `code` replaced by `repl` (removed when empty).
fn replacing(code: u8, repl: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    for (c, bytes) in [(1, origin()), (2, as_path()), (3, next_hop())] {
        if c == code {
            a.extend_from_slice(repl);
        } else {
            a.extend_from_slice(&bytes);
        }
    }
    update(&[], &a, NLRI)
}

fn cases() -> Vec<Case> {
    let mp_short = attr(0x80, 14, &[0, 2, 1, 16]);
    let mp_unreach_short = attr(0x80, 15, &[0, 2]);
    let mut nh4 = mp_reach_v6();
    nh4.splice(3 + 3..3 + 4, [4]); // next-hop length 16 -> 4 for IPv6
    let mp_bad_nh = nh4;
    let mp_long_prefix = {
        let mut v = vec![0, 2, 1, 16];
        v.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        v.extend_from_slice(&[129; 17]);
        attr(0x80, 14, &v)
    };
    let mp_overrun = {
        let mut v = vec![0, 2, 1, 16];
        v.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        v.extend_from_slice(&[64, 0x20, 1]);
        attr(0x80, 14, &v)
    };
    let mp_flags = {
        let mut a = mp_reach_v6();
        a[0] = 0xc0;
        a
    };
    let mp_unreach_overrun = attr(0x80, 15, &[0, 2, 1, 48, 0x20, 1]);
    let mp_unreach_v6 = attr(0x80, 15, &[0, 2, 1, 32, 0x20, 1, 0xd, 0xb8]);
    let mp_only = [origin(), as_path(), mp_reach_v6()].concat();
    let mp_truncated = {
        let mut a = mp_reach_v6();
        a[2] += 10; // length runs past the attributes
        a
    };

    vec![
        // ---- §3 b: length fields -> 3/1 ----
        case(
            "withdrawn_length_overruns_message_3_1",
            ebgp(),
            {
                let mut m = update(&[], &[], &[]);
                m[19..21].copy_from_slice(&[0, 10]);
                m
            },
            Reset(3, 1, vec![]),
        ),
        case(
            "total_path_attribute_length_overruns_message_3_1",
            ebgp(),
            {
                let mut m = with(&[]);
                m[21..23].copy_from_slice(&[0, 200]);
                m
            },
            Reset(3, 1, vec![]),
        ),
        // ---- §5.3 / §3 i: NLRI and withdrawn routes -> 3/10 ----
        case(
            "nlri_prefix_longer_than_32_3_10",
            ebgp(),
            update(&[], &base(), &[33, 10, 0, 0, 0, 0]),
            Reset(3, 10, vec![]),
        ),
        case(
            "nlri_prefix_overruns_field_3_10",
            ebgp(),
            update(&[], &base(), &[24, 10, 0]),
            Reset(3, 10, vec![]),
        ),
        case(
            "withdrawn_prefix_longer_than_32_3_10",
            ebgp(),
            update(&[40, 1, 2, 3, 4, 5], &[], &[]),
            Reset(3, 10, vec![]),
        ),
        case(
            "withdrawn_prefix_overruns_field_3_10",
            ebgp(),
            update(&[32, 1, 2], &[], &[]),
            Reset(3, 10, vec![]),
        ),
        case(
            "add_path_nlri_without_room_for_path_id_3_10",
            {
                let mut c = ebgp();
                c.add_path_rx.insert(Family::IPV4_UNICAST);
                c
            },
            update(&[], &base(), &[0, 0, 1]),
            Reset(3, 10, vec![]),
        ),
        // ---- §3 g: duplicates ----
        case(
            "duplicate_mp_reach_3_1",
            ebgp(),
            update(&[], &[mp_only.clone(), mp_reach_v6()].concat(), &[]),
            Reset(3, 1, vec![]),
        ),
        case(
            "duplicate_mp_unreach_3_1",
            ebgp(),
            update(
                &[],
                &[mp_unreach_v6.clone(), mp_unreach_v6.clone()].concat(),
                &[],
            ),
            Reset(3, 1, vec![]),
        ),
        case(
            "duplicate_origin_keeps_first",
            ebgp(),
            with(&attr(0x40, 1, &[2])),
            Discard(1),
        ),
        case(
            "duplicate_unknown_optional_keeps_first",
            ebgp(),
            with(&[attr(0xc0, 99, &[1]), attr(0xc0, 99, &[2])].concat()),
            Discard(99),
        ),
        // ---- §5.3 / D2: MP_REACH / MP_UNREACH -> 3/9 with the attribute ----
        case(
            "mp_reach_shorter_than_5_3_9",
            ebgp(),
            update(&[], &[origin(), as_path(), mp_short.clone()].concat(), &[]),
            Reset(3, 9, mp_short),
        ),
        case(
            "mp_unreach_shorter_than_3_3_9",
            ebgp(),
            update(&[], &mp_unreach_short, &[]),
            Reset(3, 9, mp_unreach_short),
        ),
        case(
            "mp_reach_next_hop_length_wrong_for_afi_3_9",
            ebgp(),
            update(&[], &[origin(), as_path(), mp_bad_nh.clone()].concat(), &[]),
            Reset(3, 9, mp_bad_nh),
        ),
        case(
            "mp_reach_ipv4_next_hop_16_without_extended_next_hop_3_9",
            ebgp(),
            {
                let mut v = vec![0, 1, 1, 16];
                v.extend_from_slice(&[
                    0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 24, 10, 0, 0,
                ]);
                update(
                    &[],
                    &[origin(), as_path(), attr(0x80, 14, &v)].concat(),
                    &[],
                )
            },
            Reset(3, 9, {
                let mut v = vec![0, 1, 1, 16];
                v.extend_from_slice(&[
                    0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 24, 10, 0, 0,
                ]);
                attr(0x80, 14, &v)
            }),
        ),
        case(
            "mp_reach_prefix_too_long_3_9",
            ebgp(),
            update(
                &[],
                &[origin(), as_path(), mp_long_prefix.clone()].concat(),
                &[],
            ),
            Reset(3, 9, mp_long_prefix),
        ),
        case(
            "mp_reach_prefix_overruns_attribute_3_9",
            ebgp(),
            update(
                &[],
                &[origin(), as_path(), mp_overrun.clone()].concat(),
                &[],
            ),
            Reset(3, 9, mp_overrun),
        ),
        case(
            "mp_reach_flags_transitive_3_9",
            ebgp(),
            update(&[], &[origin(), as_path(), mp_flags.clone()].concat(), &[]),
            Reset(3, 9, mp_flags),
        ),
        case(
            "mp_unreach_prefix_overruns_attribute_3_9",
            ebgp(),
            update(&[], &mp_unreach_overrun, &[]),
            Reset(3, 9, mp_unreach_overrun),
        ),
        case(
            "mp_reach_overruns_path_attributes_3_9",
            ebgp(),
            update(
                &[],
                &[origin(), as_path(), mp_truncated.clone()].concat(),
                &[],
            ),
            Reset(3, 9, mp_truncated),
        ),
        // ---- D3: MP attribute for a family not negotiated: ignored, session kept ----
        case(
            "mp_reach_family_not_negotiated_ignored_d3",
            SessionContext {
                families: [Family::IPV4_UNICAST].into_iter().collect(),
                ..ebgp()
            },
            update(&[], &[base(), mp_reach_v6()].concat(), NLRI),
            Discard(14),
        ),
        case(
            "mp_reach_family_not_negotiated_with_attribute_error_keeps_session_d3",
            SessionContext {
                families: [Family::IPV4_UNICAST].into_iter().collect(),
                ..ebgp()
            },
            update(&[], &[mp_only.clone(), attr(0xc0, 8, &[1])].concat(), &[]),
            Taw(8),
        ),
        case(
            "mp_unreach_family_not_negotiated_ignored_d3",
            SessionContext {
                families: [Family::IPV4_UNICAST].into_iter().collect(),
                ..ebgp()
            },
            update(&[], &mp_unreach_v6, &[]),
            Discard(15),
        ),
        // ---- §4: attribute framing ----
        case(
            "attribute_overruns_path_attributes_with_nlri_taw",
            ebgp(),
            with(&[0xc0, 8, 40, 0, 0]),
            Taw(8),
        ),
        case(
            "two_octets_left_for_attribute_header_taw",
            ebgp(),
            with(&[0xc0, 8]),
            Taw(8),
        ),
        case(
            "extended_length_header_truncated_taw",
            ebgp(),
            with(&[0xd0, 8, 0]),
            Taw(8),
        ),
        case(
            "attribute_framing_error_without_nlri_3_1",
            ebgp(),
            update(
                &[24, 10, 0, 0],
                &[base(), vec![0xc0, 8, 40, 0]].concat(),
                &[],
            ),
            Reset(3, 1, vec![]),
        ),
        // ---- §3 c: flags ----
        case(
            "origin_flagged_optional_taw",
            ebgp(),
            replacing(1, &attr(0xc0, 1, &[0])),
            Taw(1),
        ),
        case(
            "communities_flagged_well_known_taw",
            ebgp(),
            with(&attr(0x40, 8, &[0, 1, 0, 1])),
            Taw(8),
        ),
        case(
            "med_flagged_transitive_taw",
            ebgp(),
            with(&attr(0xc0, 4, &[0, 0, 0, 1])),
            Taw(4),
        ),
        case(
            "reserved_flag_bits_ignored_rfc4271_4_3",
            ebgp(),
            replacing(1, &attr(0x4f, 1, &[0])),
            Accept,
        ),
        case(
            "partial_bit_on_optional_transitive_accepted",
            ebgp(),
            with(&attr(0xe0, 8, &[0, 1, 0, 1])),
            Accept,
        ),
        case(
            "extended_length_on_short_attribute_accepted",
            ebgp(),
            replacing(1, &attr(0x50, 1, &[0])),
            Accept,
        ),
        // ---- D1 and unknown attributes ----
        case(
            "unrecognised_well_known_taw_d1",
            ebgp(),
            with(&attr(0x40, 99, &[1])),
            Taw(99),
        ),
        case(
            "unknown_optional_transitive_accepted",
            ebgp(),
            with(&attr(0xc0, 99, &[1])),
            Accept,
        ),
        case(
            "unknown_optional_non_transitive_accepted",
            ebgp(),
            with(&attr(0x80, 99, &[1])),
            Accept,
        ),
        // ---- §3 d: missing well-known attributes ----
        case("missing_origin_taw", ebgp(), replacing(1, &[]), Taw(1)),
        case("missing_as_path_taw", ebgp(), replacing(2, &[]), Taw(2)),
        case(
            "missing_next_hop_with_nlri_field_taw",
            ebgp(),
            replacing(3, &[]),
            Taw(3),
        ),
        case(
            "next_hop_not_needed_with_mp_reach_only_rfc4760_3",
            ebgp(),
            update(&[], &mp_only, &[]),
            Accept,
        ),
        case(
            "mp_reach_missing_origin_taw",
            ebgp(),
            update(&[], &[as_path(), mp_reach_v6()].concat(), &[]),
            Taw(1),
        ),
        case(
            "withdraw_only_needs_no_attributes",
            ebgp(),
            update(&[24, 10, 0, 0], &[], &[]),
            Accept,
        ),
        // ---- per-attribute table ----
        case(
            "origin_length_2_taw",
            ebgp(),
            replacing(1, &attr(0x40, 1, &[0, 0])),
            Taw(1),
        ),
        case(
            "origin_value_3_taw",
            ebgp(),
            replacing(1, &attr(0x40, 1, &[3])),
            Taw(1),
        ),
        case(
            "as_path_unknown_segment_type_taw",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[5, 1, 0, 0, 0xfc, 0])),
            Taw(2),
        ),
        case(
            "as_path_segment_overrun_taw",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 2, 0, 0, 0xfc, 0])),
            Taw(2),
        ),
        case(
            "as_path_one_octet_after_last_segment_taw",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 1, 0, 0, 0xfc, 0, 2])),
            Taw(2),
        ),
        case(
            "as_path_zero_length_segment_taw",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 0])),
            Taw(2),
        ),
        case(
            "as_path_2_octet_asns_on_4_octet_session_taw",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 1, 0xfc, 0])),
            Taw(2),
        ),
        case(
            "as_path_as_0_taw_rfc7607",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 2, 0, 0, 0xfc, 0, 0, 0, 0, 0])),
            Taw(2),
        ),
        case(
            "as_path_as_set_taw_d7",
            ebgp(),
            replacing(2, &attr(0x40, 2, &[2, 1, 0, 0, 0xfc, 0, 1, 1, 0, 0, 0, 1])),
            Taw(2),
        ),
        case(
            "as_path_as_set_allowed_by_config_d7",
            SessionContext {
                allow_as_set: true,
                ..ebgp()
            },
            replacing(2, &attr(0x40, 2, &[2, 1, 0, 0, 0xfc, 0, 1, 1, 0, 0, 0, 1])),
            Accept,
        ),
        case(
            "as_path_confed_sequence_on_ebgp_taw",
            ebgp(),
            replacing(
                2,
                &attr(0x40, 2, &[3, 1, 0, 0, 0xfd, 0xe9, 2, 1, 0, 0, 0xfc, 0]),
            ),
            Taw(2),
        ),
        case(
            "as_path_confed_sequence_on_ibgp_accepted",
            ibgp(),
            replacing(
                2,
                &attr(0x40, 2, &[3, 1, 0, 0, 0xfd, 0xe9, 2, 1, 0, 0, 0xfc, 0]),
            ),
            Accept,
        ),
        case(
            "as_path_empty_on_ibgp_accepted",
            ibgp(),
            replacing(2, &attr(0x40, 2, &[])),
            Accept,
        ),
        case(
            "first_as_not_peer_taw_d8",
            SessionContext {
                peer_asn: 64999,
                enforce_first_as: true,
                ..ebgp()
            },
            with(&[]),
            Taw(2),
        ),
        case(
            "first_as_is_peer_accepted_d8",
            SessionContext {
                enforce_first_as: true,
                ..ebgp()
            },
            with(&[]),
            Accept,
        ),
        case(
            "empty_as_path_from_ebgp_with_first_as_check_taw_d8",
            SessionContext {
                enforce_first_as: true,
                ..ebgp()
            },
            replacing(2, &attr(0x40, 2, &[])),
            Taw(2),
        ),
        case(
            "next_hop_length_5_taw",
            ebgp(),
            replacing(3, &attr(0x40, 3, &[192, 0, 2, 1, 0])),
            Taw(3),
        ),
        case(
            "next_hop_0_0_0_0_taw_d5",
            ebgp(),
            replacing(3, &attr(0x40, 3, &[0, 0, 0, 0])),
            Taw(3),
        ),
        case(
            "next_hop_loopback_taw_d5",
            ebgp(),
            replacing(3, &attr(0x40, 3, &[127, 0, 0, 1])),
            Taw(3),
        ),
        case(
            "next_hop_multicast_taw_d5",
            ebgp(),
            replacing(3, &attr(0x40, 3, &[224, 0, 0, 5])),
            Taw(3),
        ),
        case(
            "next_hop_broadcast_taw_d5",
            ebgp(),
            replacing(3, &attr(0x40, 3, &[255, 255, 255, 255])),
            Taw(3),
        ),
        case(
            "mp_next_hop_unspecified_taw_d5",
            ebgp(),
            {
                let mut v = vec![0, 2, 1, 16];
                v.extend_from_slice(&[0; 16]);
                v.extend_from_slice(&[0, 32, 0x20, 1, 0xd, 0xb8]);
                update(
                    &[],
                    &[origin(), as_path(), attr(0x80, 14, &v)].concat(),
                    &[],
                )
            },
            Taw(14),
        ),
        case(
            "med_length_3_taw",
            ebgp(),
            with(&attr(0x80, 4, &[0, 0, 1])),
            Taw(4),
        ),
        case(
            "local_pref_from_ebgp_discarded",
            ebgp(),
            with(&attr(0x40, 5, &[0, 0, 0, 100])),
            Discard(5),
        ),
        case(
            "local_pref_from_ebgp_with_bad_length_discarded",
            ebgp(),
            with(&attr(0x40, 5, &[0, 0, 100])),
            Discard(5),
        ),
        case(
            "local_pref_from_ibgp_length_3_taw",
            ibgp(),
            with(&attr(0x40, 5, &[0, 0, 100])),
            Taw(5),
        ),
        case(
            "local_pref_from_ibgp_accepted",
            ibgp(),
            with(&attr(0x40, 5, &[0, 0, 0, 100])),
            Accept,
        ),
        case(
            "atomic_aggregate_length_1_discarded",
            ebgp(),
            with(&attr(0x40, 6, &[0])),
            Discard(6),
        ),
        case(
            "aggregator_length_6_on_4_octet_session_discarded",
            ebgp(),
            with(&attr(0xc0, 7, &[0xfc, 0, 192, 0, 2, 1])),
            Discard(7),
        ),
        case(
            "aggregator_length_8_on_2_octet_session_discarded",
            two_octet(),
            {
                update(
                    &[],
                    &[
                        origin(),
                        attr(0x40, 2, &[2, 1, 0xfc, 0]),
                        next_hop(),
                        attr(0xc0, 7, &[0, 0, 0xfc, 0, 192, 0, 2, 1]),
                    ]
                    .concat(),
                    NLRI,
                )
            },
            Discard(7),
        ),
        case(
            "aggregator_as_0_discarded_rfc7607",
            ebgp(),
            with(&attr(0xc0, 7, &[0, 0, 0, 0, 192, 0, 2, 1])),
            Discard(7),
        ),
        case(
            "communities_length_0_taw",
            ebgp(),
            with(&attr(0xc0, 8, &[])),
            Taw(8),
        ),
        case(
            "communities_length_5_taw",
            ebgp(),
            with(&attr(0xc0, 8, &[0, 1, 0, 1, 0])),
            Taw(8),
        ),
        case(
            "originator_id_from_ebgp_discarded",
            ebgp(),
            with(&attr(0x80, 9, &[192, 0, 2, 9])),
            Discard(9),
        ),
        case(
            "originator_id_from_ibgp_length_3_taw",
            ibgp(),
            with(&attr(0x80, 9, &[192, 0, 2])),
            Taw(9),
        ),
        case(
            "cluster_list_from_ebgp_discarded",
            ebgp(),
            with(&attr(0x80, 10, &[192, 0, 2, 9])),
            Discard(10),
        ),
        case(
            "cluster_list_from_ibgp_length_6_taw",
            ibgp(),
            with(&attr(0x80, 10, &[192, 0, 2, 9, 0, 0])),
            Taw(10),
        ),
        case(
            "cluster_list_from_ibgp_length_0_taw",
            ibgp(),
            with(&attr(0x80, 10, &[])),
            Taw(10),
        ),
        case(
            "ext_communities_length_7_taw",
            ebgp(),
            with(&attr(0xc0, 16, &[0; 7])),
            Taw(16),
        ),
        case(
            "ext_communities_unknown_type_accepted",
            ebgp(),
            with(&attr(0xc0, 16, &[0x7f, 0x7f, 0, 0, 0, 0, 0, 0])),
            Accept,
        ),
        case(
            "as4_path_from_4_octet_peer_discarded",
            ebgp(),
            with(&attr(0xc0, 17, &[2, 1, 0, 0, 0xfc, 0])),
            Discard(17),
        ),
        case(
            "as4_path_zero_length_segment_discarded",
            two_octet(),
            {
                update(
                    &[],
                    &[
                        origin(),
                        attr(0x40, 2, &[2, 1, 0xfc, 0]),
                        next_hop(),
                        attr(0xc0, 17, &[2, 0]),
                    ]
                    .concat(),
                    NLRI,
                )
            },
            Discard(17),
        ),
        case(
            "as4_path_as_0_discarded",
            two_octet(),
            {
                update(
                    &[],
                    &[
                        origin(),
                        attr(0x40, 2, &[2, 1, 0xfc, 0]),
                        next_hop(),
                        attr(0xc0, 17, &[2, 1, 0, 0, 0, 0]),
                    ]
                    .concat(),
                    NLRI,
                )
            },
            Discard(17),
        ),
        case(
            "as4_aggregator_from_4_octet_peer_discarded",
            ebgp(),
            with(&attr(0xc0, 18, &[0, 0, 0xfc, 0, 192, 0, 2, 1])),
            Discard(18),
        ),
        case(
            "as4_aggregator_length_6_discarded",
            two_octet(),
            {
                update(
                    &[],
                    &[
                        origin(),
                        attr(0x40, 2, &[2, 1, 0xfc, 0]),
                        next_hop(),
                        attr(0xc0, 18, &[0xfc, 0, 192, 0, 2, 1]),
                    ]
                    .concat(),
                    NLRI,
                )
            },
            Discard(18),
        ),
        case(
            "large_community_length_11_taw",
            ebgp(),
            with(&attr(0xc0, 32, &[0; 11])),
            Taw(32),
        ),
        case(
            "large_community_length_0_taw",
            ebgp(),
            with(&attr(0xc0, 32, &[])),
            Taw(32),
        ),
        case(
            "otc_length_3_taw",
            ebgp(),
            with(&attr(0xc0, 35, &[0, 0, 1])),
            Taw(35),
        ),
        case(
            "ipv6_ext_communities_length_19_taw",
            ebgp(),
            with(&attr(0xc0, 25, &[0; 19])),
            Taw(25),
        ),
        case(
            "ipv6_ext_communities_length_40_accept",
            ebgp(),
            with(&attr(0xc0, 25, &[0; 40])),
            Accept,
        ),
        // ---- attributes carried raw with their own rules (§1.4) ----
        case(
            "traffic_engineering_36_accept",
            ebgp(),
            with(&attr(0x80, 24, &[0; 36])),
            Accept,
        ),
        case(
            "traffic_engineering_35_taw_rfc5543_2",
            ebgp(),
            with(&attr(0x80, 24, &[0; 35])),
            Taw(24),
        ),
        case(
            "aigp_tlv_11_accept_rfc7311_3",
            ebgp(),
            with(&attr(0x80, 26, &[1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 9])),
            Accept,
        ),
        case(
            "aigp_tlv_length_10_discard",
            ebgp(),
            with(&attr(0x80, 26, &[1, 0, 10, 0, 0, 0, 0, 0, 0, 0])),
            Discard(26),
        ),
        case(
            "aigp_tlv_overrun_discard",
            ebgp(),
            with(&attr(0x80, 26, &[1, 0, 11, 0, 0, 0, 0])),
            Discard(26),
        ),
        case(
            "aigp_empty_discard",
            ebgp(),
            with(&attr(0x80, 26, &[])),
            Discard(26),
        ),
        case(
            "aigp_unknown_tlv_then_aigp_accept",
            ebgp(),
            with(&attr(
                0x80,
                26,
                &[9, 0, 4, 7, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 9],
            )),
            Accept,
        ),
        case(
            "prefix_sid_label_index_accept_rfc8669_3_1",
            ebgp(),
            with(&attr(0xc0, 40, &[1, 0, 7, 0, 0, 0, 0, 0, 0, 100])),
            Accept,
        ),
        case(
            "prefix_sid_label_index_length_6_discard_rfc8669_6",
            ebgp(),
            with(&attr(0xc0, 40, &[1, 0, 6, 0, 0, 0, 0, 0, 100])),
            Discard(40),
        ),
        case(
            "prefix_sid_srgb_one_range_accept_rfc8669_3_2",
            ebgp(),
            with(&attr(0xc0, 40, &[3, 0, 8, 0, 0, 0, 0, 16, 0, 0, 100])),
            Accept,
        ),
        case(
            "prefix_sid_srgb_no_range_discard",
            ebgp(),
            with(&attr(0xc0, 40, &[3, 0, 2, 0, 0])),
            Discard(40),
        ),
        case(
            "prefix_sid_tlv_overrun_discard",
            ebgp(),
            with(&attr(0xc0, 40, &[5, 0, 9, 1, 2])),
            Discard(40),
        ),
        case(
            "attr_set_with_nested_origin_accept_rfc6368_5",
            ebgp(),
            with(&attr(0xc0, 128, &[0, 0, 0xfd, 0xe8, 0x40, 1, 1, 0])),
            Accept,
        ),
        case(
            "attr_set_without_origin_as_taw",
            ebgp(),
            with(&attr(0xc0, 128, &[0, 0, 1])),
            Taw(128),
        ),
        case(
            "attr_set_nested_overrun_taw",
            ebgp(),
            with(&attr(0xc0, 128, &[0, 0, 0xfd, 0xe8, 0x40, 1, 2, 0])),
            Taw(128),
        ),
        // ---- §3 h: strongest wins ----
        case(
            "taw_and_discard_gives_taw",
            ebgp(),
            with(&[attr(0x40, 6, &[0]), attr(0xc0, 8, &[1])].concat()),
            Taw(8),
        ),
        case(
            "taw_then_reset_gives_reset",
            ebgp(),
            update(
                &[],
                &[base(), attr(0xc0, 8, &[1]), mp_short_again()].concat(),
                NLRI,
            ),
            Reset(3, 9, mp_short_again()),
        ),
        case(
            "reset_in_nlri_beats_taw",
            ebgp(),
            update(
                &[],
                &[base(), attr(0xc0, 8, &[1])].concat(),
                &[33, 1, 1, 1, 1, 1],
            ),
            Reset(3, 10, vec![]),
        ),
        // ---- §5.2: no reachable NLRI ----
        case(
            "taw_error_with_only_withdrawn_routes_3_1",
            ebgp(),
            update(&[24, 10, 0, 0], &attr(0xc0, 8, &[1]), &[]),
            Reset(3, 1, vec![]),
        ),
        case(
            "discard_error_with_only_withdrawn_routes_accepted",
            ebgp(),
            update(&[24, 10, 0, 0], &attr(0x40, 6, &[0]), &[]),
            Discard(6),
        ),
        case(
            "mp_unreach_only_accepted",
            ebgp(),
            update(&[], &mp_unreach_v6, &[]),
            Accept,
        ),
        // ---- header ----
        case(
            "length_field_disagrees_with_buffer_1_2",
            ebgp(),
            {
                let mut m = with(&[]);
                m[17] += 1;
                m
            },
            Reset(1, 2, {
                let m = with(&[]);
                vec![m[16], m[17] + 1]
            }),
        ),
        case(
            "marker_not_all_ones_1_1",
            ebgp(),
            {
                let mut m = with(&[]);
                m[3] = 0;
                m
            },
            Reset(1, 1, vec![]),
        ),
    ]
}

fn mp_short_again() -> Vec<u8> {
    attr(0x80, 14, &[0, 2, 1])
}

fn check(c: &Case) -> Result<(), String> {
    // The fused decode classifies every row as new_checked does.
    fused::agrees(&c.msg, &c.cx).map_err(|e| format!("decode_with differs: {e}"))?;
    let got = UpdateView::new_checked(&c.msg[..], &c.cx);
    match (&c.want, got) {
        (Reset(code, sub, data), Err(e)) => {
            let n = e.notification().ok_or("no NOTIFICATION")?;
            if (n.code.0, n.subcode, &n.data[..]) != (*code, *sub, &data[..]) {
                return Err(format!(
                    "got {}/{} data {:02x?} ({e})",
                    n.code.0,
                    n.subcode,
                    &n.data[..]
                ));
            }
            Ok(())
        }
        (_, Err(e)) => Err(format!("unexpected reset: {e:?}")),
        (Reset(..), Ok(v)) => Err(format!("expected reset, got {:?}", v.verdict())),
        (Taw(code), Ok(v)) => match v.verdict() {
            Verdict::TreatAsWithdraw { attr, .. } if attr == AttrType(*code) => Ok(()),
            other => Err(format!("got {other:?}")),
        },
        (Discard(code), Ok(v)) => {
            if v.verdict() != Verdict::Accept {
                return Err(format!("got {:?}", v.verdict()));
            }
            let d: Vec<_> = v.discarded().collect();
            if !d.iter().any(|(t, _)| *t == AttrType(*code)) {
                return Err(format!("discarded {d:?}"));
            }
            let a = v.attributes();
            let gone = match code {
                5 => a.local_pref.is_none(),
                6 => !a.atomic_aggregate,
                7 => a.aggregator.is_none(),
                9 => a.originator_id.is_none(),
                10 => a.cluster_list.is_empty(),
                14 => v.mp_reach_nlri().count() == 0 && v.next_hop(Family::IPV6_UNICAST).is_none(),
                15 => v.mp_unreach_nlri().count() == 0,
                // Raw attributes: not passed on (a repeated one keeps its first copy).
                _ => {
                    d.iter()
                        .any(|(t, why)| *t == AttrType(*code) && why.starts_with("repeated"))
                        || a.unknown.iter().all(|u| u.type_code != AttrType(*code))
                }
            };
            if !gone {
                return Err("discarded attribute still reported".into());
            }
            Ok(())
        }
        (Accept, Ok(v)) => {
            if v.verdict() != Verdict::Accept || v.discarded().count() != 0 {
                return Err(format!(
                    "got {:?}, discarded {:?}",
                    v.verdict(),
                    v.discarded().collect::<Vec<_>>()
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn rfc7606_classification_table() {
    let mut failures = Vec::new();
    let cases = cases();
    for c in &cases {
        if let Err(e) = check(c) {
            failures.push(format!("{}: want {:?}: {e}", c.name, c.want));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn duplicate_attribute_keeps_first_value_rfc7606_3g() {
    let m = with(&attr(0x40, 1, &[2]));
    let v = UpdateView::new_checked(&m[..], &ebgp()).unwrap();
    assert_eq!(v.origin(), Some(bgp_proto::Origin::Igp));
}

#[test]
fn taw_keeps_routes_visible_for_withdrawal_rfc7606_2() {
    // Every route in the UPDATE, MP_REACH_NLRI included, must be handled as withdrawn: the
    // view still lists them.
    let m = update(
        &[],
        &[base(), mp_reach_v6(), attr(0xc0, 8, &[1])].concat(),
        NLRI,
    );
    let v = UpdateView::new_checked(&m[..], &ebgp()).unwrap();
    assert!(matches!(v.verdict(), Verdict::TreatAsWithdraw { .. }));
    assert_eq!(v.announced().count(), 2);
}

#[test]
fn unknown_optional_transitive_passed_on_with_partial_bit_rfc4271_5() {
    let m = with(&[attr(0xc0, 99, &[1, 2]), attr(0x80, 98, &[3])].concat());
    let v = UpdateView::new_checked(&m[..], &ebgp()).unwrap();
    let u = v.attributes().unknown;
    assert_eq!(u.len(), 1);
    assert_eq!(
        (u[0].flags, u[0].type_code, &u[0].value[..]),
        (0xe0, AttrType(99), &[1u8, 2][..])
    );
}

#[test]
fn malformed_prefix_sid_is_not_passed_on_but_a_good_one_is_rfc8669_6() {
    let good = attr(0xc0, 40, &[1, 0, 7, 0, 0, 0, 0, 0, 0, 100]);
    let bad = attr(0xc0, 40, &[1, 0, 6, 0, 0, 0, 0, 0, 100]);
    let m = with(&good);
    let v = UpdateView::new_checked(&m[..], &ebgp()).unwrap();
    assert_eq!(v.attributes().unknown.len(), 1);
    let m = with(&bad);
    let v = UpdateView::new_checked(&m[..], &ebgp()).unwrap();
    assert_eq!(v.verdict(), Verdict::Accept);
    assert!(v.attributes().unknown.is_empty());
    let (t, why) = v.discarded().next().unwrap();
    assert_eq!(t, AttrType(40));
    assert!(why.contains("RFC 8669"), "{why}");
}

#[test]
fn end_of_rib_recognised_rfc4724_2() {
    let v4 = update(&[], &[], &[]);
    assert_eq!(
        UpdateView::new_checked(&v4[..], &ebgp())
            .unwrap()
            .end_of_rib(),
        Some(Family::IPV4_UNICAST)
    );
    let v6 = update(&[], &attr(0x80, 15, &[0, 2, 1]), &[]);
    assert_eq!(
        UpdateView::new_checked(&v6[..], &ebgp())
            .unwrap()
            .end_of_rib(),
        Some(Family::IPV6_UNICAST)
    );
    // Not EoR: MP_UNREACH with a prefix, or another attribute alongside.
    let w = update(&[], &attr(0x80, 15, &[0, 2, 1, 0]), &[]);
    assert_eq!(
        UpdateView::new_checked(&w[..], &ebgp())
            .unwrap()
            .end_of_rib(),
        None
    );
    let x = update(&[], &[attr(0x80, 15, &[0, 2, 1]), origin()].concat(), &[]);
    assert_eq!(
        UpdateView::new_checked(&x[..], &ebgp())
            .unwrap()
            .end_of_rib(),
        None
    );
}

#[test]
fn errors_are_reset_variants_with_reason() {
    let m = update(&[33, 0, 0, 0, 0, 0], &[], &[]);
    let e = UpdateView::new_checked(&m[..], &ebgp()).unwrap_err();
    assert!(matches!(e, DecodeError::Reset { subcode: 10, .. }), "{e:?}");
}

#[test]
fn table_checker_rejects_wrong_expectations() {
    // Guards the checker itself: each of these rows states the wrong outcome.
    assert!(check(&case("x", ebgp(), with(&[]), Taw(1))).is_err());
    assert!(check(&case("x", ebgp(), with(&[]), Discard(1))).is_err());
    assert!(check(&case("x", ebgp(), with(&[]), Reset(3, 1, vec![]))).is_err());
    assert!(check(&case("x", ebgp(), replacing(1, &[]), Accept)).is_err());
    assert!(check(&case("x", ebgp(), replacing(1, &[]), Taw(2))).is_err());
    let m = update(&[33, 0, 0, 0, 0, 0], &[], &[]);
    assert!(check(&case("x", ebgp(), m.clone(), Reset(3, 1, vec![]))).is_err());
    assert!(check(&case("x", ebgp(), m, Reset(3, 10, vec![1]))).is_err());
}
