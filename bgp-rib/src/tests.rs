//! Scripted tests, one per decision step and multipath rule, and property tests.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU16;

use bgp_proto::{
    AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, Origin, PathAttributes,
};
use ipnet::IpNet;
use proptest::prelude::*;

use super::*;

const LOCAL_AS: u32 = 64512;

fn prefix() -> IpNet {
    "192.0.2.10/32".parse().unwrap()
}

fn nh(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 255, 0, i))
}

/// Peer `i`: AS `asn`, BGP Identifier 10.0.0.i, address 10.255.0.i.
fn peer(i: u8, asn: u32) -> Peer {
    Peer {
        remote_as: asn,
        local_as: LOCAL_AS,
        bgp_id: Ipv4Addr::new(10, 0, 0, i),
        address: nh(i),
    }
}

fn attrs(as_path: &[u32]) -> PathAttributes {
    PathAttributes {
        as_path: AsPath::from_sequence(as_path.iter().copied()),
        ..PathAttributes::default()
    }
}

fn path(peer: u8, next_hop: u8, attrs: PathAttributes) -> Path {
    Path {
        peer: PeerId(u32::from(peer)),
        path_id: None,
        next_hop: nh(next_hop),
        attrs: PathKeys::of(&attrs),
    }
}

/// A Loc-RIB with peers 1..=n, all in AS `asn` (eBGP unless `asn` is ours).
fn rib_with(peers: &[(u8, u32)], config: RibConfig) -> LocRib {
    let mut rib = LocRib::new(config);
    for &(i, asn) in peers {
        rib.set_peer(PeerId(u32::from(i)), peer(i, asn));
    }
    rib
}

fn add(rib: &mut LocRib, p: Path) {
    rib.update(prefix(), p).unwrap();
}

/// The verdict of the path of `peer` (path id `None`) and the step it lost at.
fn verdict_of(rib: &LocRib, peer: u8) -> (Verdict, Option<Step>) {
    let d = rib.decision(prefix()).unwrap();
    let r = d
        .paths
        .iter()
        .find(|r| r.path.peer == PeerId(u32::from(peer)))
        .unwrap();
    (r.verdict, r.lost_at)
}

fn best_peer(rib: &LocRib) -> u8 {
    let d = rib.decision(prefix()).unwrap();
    u8::try_from(d.best().unwrap().path.peer.0).unwrap()
}

/// Two paths that differ only where `tweak` says; returns the decision's best peer and the
/// loser's (verdict, step).
fn duel(
    peers: &[(u8, u32)],
    a: PathAttributes,
    b: PathAttributes,
) -> (u8, (Verdict, Option<Step>)) {
    let mut rib = rib_with(peers, RibConfig::default());
    add(&mut rib, path(peers[0].0, peers[0].0, a));
    add(&mut rib, path(peers[1].0, peers[1].0, b));
    let best = best_peer(&rib);
    let loser = if best == peers[0].0 {
        peers[1].0
    } else {
        peers[0].0
    };
    (best, verdict_of(&rib, loser))
}

// --- The decision process, one step at a time (RFC 4271 §9.1.2.2) ---

#[test]
fn ibgp_higher_local_pref_wins() {
    let mut a = attrs(&[65001]);
    a.local_pref = Some(200);
    let b = attrs(&[65001]);
    // Peer 2 has the lower BGP Identifier and address, so only LOCAL_PREF makes 1 win.
    let (best, (v, step)) = duel(&[(2, LOCAL_AS), (1, LOCAL_AS)], a, b);
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::LocalPref));
    assert_eq!(
        v,
        Verdict::NotMultipath(Reason::LocalPref {
            path: 100,
            best: 200
        })
    );
}

#[test]
fn ebgp_local_pref_is_ignored() {
    // RFC 4271 §5.1.5: a LOCAL_PREF from an external peer is not used; both count 100.
    let mut a = attrs(&[65002]);
    a.local_pref = Some(500);
    let (best, (v, step)) = duel(&[(2, 65002), (1, 65001)], a, attrs(&[65001]));
    assert_eq!(best, 1, "the tie goes down to the BGP Identifier");
    assert_eq!(step, Some(Step::BgpIdentifier));
    assert_eq!(
        v,
        Verdict::NotMultipath(Reason::NeighbourAs {
            path: 65002,
            best: 65001
        })
    );
}

#[test]
fn shorter_as_path_wins() {
    let (best, (v, step)) = duel(
        &[(1, 65001), (2, 65001)],
        attrs(&[65001, 65100]),
        attrs(&[65001]),
    );
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::AsPathLength));
    assert_eq!(
        v,
        Verdict::NotMultipath(Reason::AsPathLength { path: 2, best: 1 })
    );
}

#[test]
fn as_set_counts_as_one_and_confederation_segments_as_none() {
    // [65001 {65100 65101 65102}] has length 2; (confed 65500 65501) 65001 65100 has 2.
    let mut with_set = attrs(&[65001]);
    with_set.as_path.segments.push(AsSegment {
        kind: AsSegmentType::Set,
        asns: vec![65100, 65101, 65102],
    });
    let mut confed = attrs(&[]);
    confed.as_path.segments = vec![
        AsSegment {
            kind: AsSegmentType::ConfedSequence,
            asns: vec![65500, 65501],
        },
        AsSegment {
            kind: AsSegmentType::Sequence,
            asns: vec![65001, 65100],
        },
    ];
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, with_set));
    add(&mut rib, path(2, 2, confed));
    add(&mut rib, path(3, 3, attrs(&[65001, 65100, 65200])));
    let d = rib.decision(prefix()).unwrap();
    let lens: Vec<(u32, usize)> = d
        .paths
        .iter()
        .map(|r| (r.path.peer.0, r.as_path_len))
        .collect();
    assert_eq!(lens, vec![(1, 2), (2, 2), (3, 3)]);
    // The confederation path's neighbouring AS is the first AS after the confed segments.
    assert_eq!(d.paths[1].neighbour_as, 65001);
    assert_eq!(d.paths[1].verdict, Verdict::Multipath);
    assert_eq!(d.paths[2].lost_at, Some(Step::AsPathLength));
}

#[test]
fn lower_origin_wins() {
    let mut a = attrs(&[65001]);
    a.origin = Origin::Incomplete;
    let mut b = attrs(&[65001]);
    b.origin = Origin::Egp;
    let (best, (v, step)) = duel(&[(1, 65001), (2, 65001)], a, b);
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::Origin));
    assert_eq!(
        v,
        Verdict::NotMultipath(Reason::Origin {
            path: Origin::Incomplete,
            best: Origin::Egp
        })
    );
}

#[test]
fn lower_med_wins_within_one_neighbouring_as_and_missing_med_is_zero() {
    let mut a = attrs(&[65001]);
    a.med = Some(10);
    let b = attrs(&[65001]); // no MED: 0
    let (best, (v, step)) = duel(&[(1, 65001), (2, 65001)], a, b);
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::Med));
    assert_eq!(v, Verdict::NotMultipath(Reason::Med { path: 10, best: 0 }));
}

#[test]
fn med_is_not_compared_across_neighbouring_ases() {
    // Peer 1 (AS 65001) has MED 50, peer 2 (AS 65002) MED 0: MED does not decide, the
    // BGP Identifier does (peer 1's is lower).
    let mut a = attrs(&[65001]);
    a.med = Some(50);
    let (best, (_, step)) = duel(&[(1, 65001), (2, 65002)], a, attrs(&[65002]));
    assert_eq!(best, 1);
    assert_eq!(step, Some(Step::BgpIdentifier));
}

#[test]
fn med_elimination_is_per_neighbouring_as() {
    // RFC 4271 §9.1.2.2 (c) example shape: A(AS1, MED 10), B(AS1, MED 5), C(AS2, MED 20).
    // B removes A; C stays (no other AS2 path); then B vs C goes to the BGP Identifier.
    let mut a = attrs(&[65001]);
    a.med = Some(10);
    let mut b = attrs(&[65001]);
    b.med = Some(5);
    let mut c = attrs(&[65002]);
    c.med = Some(20);
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65002)], RibConfig::default());
    add(&mut rib, path(1, 1, a));
    add(&mut rib, path(2, 2, b));
    add(&mut rib, path(3, 3, c));
    assert_eq!(best_peer(&rib), 2);
    assert_eq!(verdict_of(&rib, 1).1, Some(Step::Med));
    assert_eq!(verdict_of(&rib, 3).1, Some(Step::BgpIdentifier));
}

#[test]
fn ebgp_wins_over_ibgp() {
    // Peer 1 is iBGP (lower identifier), peer 2 eBGP; same neighbouring AS 65001 for both.
    let (best, (v, step)) = duel(
        &[(1, LOCAL_AS), (2, 65001)],
        attrs(&[65001]),
        attrs(&[65001]),
    );
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::ExternalOverInternal));
    assert_eq!(
        v,
        Verdict::NotMultipath(Reason::PeerKind {
            path: Kind::Internal,
            best: Kind::External
        })
    );
}

#[test]
fn lowest_bgp_identifier_wins() {
    let (best, (v, step)) = duel(&[(7, 65001), (3, 65001)], attrs(&[65001]), attrs(&[65001]));
    assert_eq!(best, 3);
    assert_eq!(step, Some(Step::BgpIdentifier));
    assert_eq!(v, Verdict::Multipath, "equal paths are still members");
}

#[test]
fn originator_id_stands_in_for_the_bgp_identifier() {
    // RFC 4456 §9: peer 1 has the lower identifier, but its path's ORIGINATOR_ID is higher
    // than peer 2's own identifier.
    let mut a = attrs(&[65001]);
    a.originator_id = Some(Ipv4Addr::new(10, 0, 0, 9));
    let (best, (_, step)) = duel(&[(1, LOCAL_AS), (2, LOCAL_AS)], a, attrs(&[65001]));
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::BgpIdentifier));
}

#[test]
fn shorter_cluster_list_wins() {
    let id = Some(Ipv4Addr::new(10, 0, 0, 100));
    let mut a = attrs(&[65001]);
    a.originator_id = id;
    a.cluster_list = vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2)];
    let mut b = attrs(&[65001]);
    b.originator_id = id;
    b.cluster_list = vec![Ipv4Addr::new(3, 3, 3, 3)];
    let (best, (_, step)) = duel(&[(1, LOCAL_AS), (2, LOCAL_AS)], a, b);
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::ClusterListLength));
}

#[test]
fn lowest_peer_address_wins() {
    // Same ORIGINATOR_ID (so same identifier), no cluster list: the peer address decides.
    let id = Some(Ipv4Addr::new(10, 0, 0, 100));
    let mut a = attrs(&[65001]);
    a.originator_id = id;
    let b = a.clone();
    let (best, (_, step)) = duel(&[(5, LOCAL_AS), (4, LOCAL_AS)], a, b);
    assert_eq!(best, 4);
    assert_eq!(step, Some(Step::PeerAddress));
}

#[test]
fn llgr_stale_path_is_least_preferred() {
    // RFC 9494 §4.3: peer 1 wins on every later step but carries LLGR_STALE.
    let mut a = attrs(&[65001]);
    a.communities.push(Community::LLGR_STALE);
    let (best, (v, step)) = duel(&[(1, 65001), (2, 65001)], a, attrs(&[65001, 65001]));
    assert_eq!(best, 2);
    assert_eq!(step, Some(Step::LlgrStale));
    assert_eq!(v, Verdict::NotMultipath(Reason::LlgrStale));
}

#[test]
fn unreachable_next_hop_is_excluded_until_it_resolves_again() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, attrs(&[65001])));
    add(&mut rib, path(2, 2, attrs(&[65001])));
    rib.take_changes();
    rib.set_next_hop_reachable(nh(1), false);
    assert_eq!(best_peer(&rib), 2);
    assert_eq!(
        verdict_of(&rib, 1),
        (Verdict::NotMultipath(Reason::NextHopUnreachable), None)
    );
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(2), 1)]
        }]
    );
    rib.set_next_hop_reachable(nh(2), false);
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Remove { prefix: prefix() }]
    );
    assert!(rib.decision(prefix()).unwrap().best().is_none());
    rib.set_next_hop_reachable(nh(1), true);
    rib.set_next_hop_reachable(nh(2), true);
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(1), 1), (nh(2), 1)]
        }]
    );
}

// --- The multipath rule ---

#[test]
fn three_equal_paths_are_all_members() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    for i in 1..=3 {
        add(&mut rib, path(i, i, attrs(&[65001])));
    }
    let d = rib.decision(prefix()).unwrap();
    let verdicts: Vec<Verdict> = d.paths.iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        vec![Verdict::Best, Verdict::Multipath, Verdict::Multipath]
    );
    assert_eq!(d.next_hops, vec![(nh(1), 1), (nh(2), 1), (nh(3), 1)]);
    assert_eq!(d.weighting, Weighting::Equal);
}

#[test]
fn different_neighbouring_as_joins_only_with_as_path_relax() {
    let peers = [(1, 65001), (2, 65002), (3, 65003)];
    let mut rib = rib_with(&peers, RibConfig::default());
    for (i, asn) in peers {
        add(&mut rib, path(i, i, attrs(&[asn])));
    }
    assert_eq!(
        verdict_of(&rib, 3).0,
        Verdict::NotMultipath(Reason::NeighbourAs {
            path: 65003,
            best: 65001
        })
    );
    assert_eq!(rib.decision(prefix()).unwrap().next_hops.len(), 1);
    rib.set_config(RibConfig {
        as_path_relax: true,
        ..RibConfig::default()
    });
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.next_hops.len(), 3);
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(1), 1), (nh(2), 1), (nh(3), 1)]
        }]
    );
    // Relaxed, a longer path is still out.
    add(&mut rib, path(3, 3, attrs(&[65003, 65100])));
    assert_eq!(
        verdict_of(&rib, 3).0,
        Verdict::NotMultipath(Reason::AsPathLength { path: 2, best: 1 })
    );
}

#[test]
fn relaxed_paths_of_other_ases_are_members_whatever_their_med() {
    let mut a = attrs(&[65001]);
    a.med = Some(5);
    let mut rib = rib_with(
        &[(1, 65001), (2, 65002)],
        RibConfig {
            as_path_relax: true,
            ..RibConfig::default()
        },
    );
    add(&mut rib, path(1, 1, a));
    add(&mut rib, path(2, 2, attrs(&[65002])));
    assert_eq!(verdict_of(&rib, 2).0, Verdict::Multipath);
}

#[test]
fn ibgp_and_ebgp_paths_are_not_mixed() {
    let mut rib = rib_with(
        &[(1, 65001), (2, LOCAL_AS)],
        RibConfig {
            as_path_relax: true,
            ..RibConfig::default()
        },
    );
    add(&mut rib, path(1, 1, attrs(&[65001])));
    add(&mut rib, path(2, 2, attrs(&[65001])));
    assert_eq!(
        verdict_of(&rib, 2).0,
        Verdict::NotMultipath(Reason::PeerKind {
            path: Kind::Internal,
            best: Kind::External
        })
    );
}

#[test]
fn a_next_hop_is_a_member_once() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001)], RibConfig::default());
    add(&mut rib, path(1, 9, attrs(&[65001])));
    add(&mut rib, path(2, 9, attrs(&[65001])));
    assert_eq!(
        verdict_of(&rib, 2).0,
        Verdict::NotMultipath(Reason::SameNextHop(nh(9)))
    );
    assert_eq!(rib.decision(prefix()).unwrap().next_hops, vec![(nh(9), 1)]);
}

#[test]
fn max_paths_limits_the_set_in_rank_order() {
    let mut rib = rib_with(
        &[(1, 65001), (2, 65001), (3, 65001), (4, 65001)],
        RibConfig {
            max_paths: NonZeroU16::new(2).unwrap(),
            as_path_relax: false,
        },
    );
    for i in [4, 3, 2, 1] {
        add(&mut rib, path(i, i, attrs(&[65001])));
    }
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.next_hops, vec![(nh(1), 1), (nh(2), 1)]);
    assert_eq!(
        verdict_of(&rib, 3).0,
        Verdict::NotMultipath(Reason::MaxPaths(2))
    );
    assert_eq!(
        verdict_of(&rib, 4).0,
        Verdict::NotMultipath(Reason::MaxPaths(2))
    );
}

#[test]
fn verdicts_read_as_sentences() {
    assert_eq!(
        Verdict::NotMultipath(Reason::AsPathLength { path: 2, best: 1 }).to_string(),
        "not multipath: AS_PATH length 2 != 1"
    );
    assert_eq!(Verdict::Multipath.to_string(), "multipath");
    assert_eq!(Step::Med.to_string(), "MED (RFC 4271 §9.1.2.2 c)");
}

// --- Weights (draft-ietf-idr-link-bandwidth) ---

fn with_bandwidth(asn: u32, bytes_per_sec: f32) -> PathAttributes {
    let mut a = attrs(&[asn]);
    a.ext_communities
        .push(ExtCommunity::link_bandwidth(65001, bytes_per_sec, false));
    a
}

#[test]
fn link_bandwidth_gives_proportional_weights() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    // 10, 10 and 5 Gbit/s (in bytes per second).
    add(&mut rib, path(1, 1, with_bandwidth(65001, 1.25e9)));
    add(&mut rib, path(2, 2, with_bandwidth(65001, 1.25e9)));
    add(&mut rib, path(3, 3, with_bandwidth(65001, 0.625e9)));
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.weighting, Weighting::LinkBandwidth);
    // 255, 255, 128 (127.5 rounded) have no common divisor.
    assert_eq!(d.next_hops, vec![(nh(1), 255), (nh(2), 255), (nh(3), 128)]);
    assert_eq!(d.paths[0].bandwidth, Some(1.25e9));
}

#[test]
fn equal_bandwidths_give_weight_one_and_zero_keeps_a_minimal_share() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, with_bandwidth(65001, 1e6)));
    add(&mut rib, path(2, 2, with_bandwidth(65001, 1e6)));
    assert_eq!(
        rib.decision(prefix()).unwrap().next_hops,
        vec![(nh(1), 1), (nh(2), 1)]
    );
    add(&mut rib, path(3, 3, with_bandwidth(65001, 0.0)));
    assert_eq!(
        rib.decision(prefix()).unwrap().next_hops,
        vec![(nh(1), 255), (nh(2), 255), (nh(3), 1)]
    );
}

#[test]
fn bandwidth_missing_on_one_member_gives_equal_weights_to_all() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, with_bandwidth(65001, 1e9)));
    add(&mut rib, path(2, 2, with_bandwidth(65001, 2e9)));
    add(&mut rib, path(3, 3, attrs(&[65001])));
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.weighting, Weighting::EqualMissingBandwidth { missing: 1 });
    assert_eq!(d.next_hops, vec![(nh(1), 1), (nh(2), 1), (nh(3), 1)]);
    // A NaN bandwidth counts as missing.
    add(&mut rib, path(3, 3, with_bandwidth(65001, f32::NAN)));
    assert_eq!(
        rib.decision(prefix()).unwrap().weighting,
        Weighting::EqualMissingBandwidth { missing: 1 }
    );
}

// --- ADD-PATH, sessions, output ---

#[test]
fn add_path_paths_from_one_peer_are_distinct_members() {
    // One controller session (RFC 7911) with three paths for the prefix.
    let mut rib = rib_with(&[(1, 65001)], RibConfig::default());
    for id in 1..=3u8 {
        let mut p = path(1, 10 + id, attrs(&[65001]));
        p.path_id = Some(u32::from(id));
        add(&mut rib, p);
    }
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.next_hops, vec![(nh(11), 1), (nh(12), 1), (nh(13), 1)]);
    assert_eq!(
        d.paths[0].path.path_id,
        Some(1),
        "lowest path id ranks first"
    );
    assert_eq!(d.paths[1].lost_at, Some(Step::PathIdentifier));
    assert!(rib.withdraw(PeerId(1), prefix(), Some(2)));
    assert!(!rib.withdraw(PeerId(1), prefix(), None));
    rib.take_changes();
    assert_eq!(
        rib.installed(prefix()),
        Some(&[(nh(11), 1), (nh(13), 1)][..])
    );
}

#[test]
fn peer_down_removes_its_paths_at_once() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001)], RibConfig::default());
    let other: IpNet = "192.0.2.20/32".parse().unwrap();
    add(&mut rib, path(1, 1, attrs(&[65001])));
    add(&mut rib, path(2, 2, attrs(&[65001])));
    rib.update(other, path(1, 1, attrs(&[65001]))).unwrap();
    rib.take_changes();
    assert_eq!(rib.peer_down(PeerId(1)), 2);
    assert_eq!(
        rib.take_changes(),
        vec![
            FibChange::Set {
                prefix: prefix(),
                next_hops: vec![(nh(2), 1)]
            },
            FibChange::Remove { prefix: other },
        ]
    );
    assert_eq!(rib.len(), (1, 1));
    assert_eq!(rib.peer_down(PeerId(1)), 0);
    // The peer is still known: its next session's paths are accepted.
    add(&mut rib, path(1, 1, attrs(&[65001])));
    assert_eq!(rib.take_changes().len(), 1);
}

#[test]
fn paths_of_an_unknown_peer_are_refused() {
    let mut rib = LocRib::new(RibConfig::default());
    assert_eq!(
        rib.update(prefix(), path(1, 1, attrs(&[65001]))),
        Err(UnknownPeer(PeerId(1)))
    );
    assert!(rib.is_empty());
}

#[test]
fn changes_are_emitted_only_when_the_forwarding_set_changes() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, attrs(&[65001])));
    add(&mut rib, path(2, 2, attrs(&[65001])));
    assert_eq!(rib.take_changes().len(), 1);
    assert_eq!(rib.take_changes(), vec![]);
    // The same path again, a community that changes no selection, and a worse path that
    // is not a member: no change.
    add(&mut rib, path(1, 1, attrs(&[65001])));
    let mut tagged = attrs(&[65001]);
    tagged.communities.push(Community::new(65001, 7));
    add(&mut rib, path(2, 2, tagged));
    add(&mut rib, path(3, 3, attrs(&[65001, 65100])));
    assert_eq!(rib.take_changes(), vec![]);
    // A withdrawal and re-announcement between two takes folds into nothing.
    rib.withdraw(PeerId(1), prefix(), None);
    add(&mut rib, path(1, 1, attrs(&[65001])));
    assert_eq!(rib.take_changes(), vec![]);
    // A weight change is a change (255 and 127.5 rounded up).
    add(&mut rib, path(1, 1, with_bandwidth(65001, 2e9)));
    add(&mut rib, path(2, 2, with_bandwidth(65001, 1e9)));
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(1), 255), (nh(2), 128)]
        }]
    );
}

// --- Properties ---

/// A path for prefix `p` from peer `peer` (1..=4: AS 65001, 65001, 65002, ours).
#[derive(Debug, Clone)]
struct Input {
    p: u8,
    peer: u8,
    path_id: Option<u32>,
    next_hop: u8,
    as_len: u8,
    med: Option<u32>,
    local_pref: Option<u32>,
    origin: u8,
    bandwidth: Option<u8>,
}

fn input() -> impl Strategy<Value = Input> {
    (
        0u8..3,
        1u8..=4,
        prop::option::of(0u32..3),
        1u8..6,
        1u8..3,
        prop::option::of(0u32..3),
        prop::option::of(prop::sample::select(vec![100u32, 200])),
        0u8..3,
        prop::option::of(0u8..4),
    )
        .prop_map(
            |(p, peer, path_id, next_hop, as_len, med, local_pref, origin, bandwidth)| Input {
                p,
                peer,
                path_id,
                next_hop,
                as_len,
                med,
                local_pref,
                origin,
                bandwidth,
            },
        )
}

fn peer_as(i: u8) -> u32 {
    match i {
        1 | 2 => 65001,
        3 => 65002,
        _ => LOCAL_AS,
    }
}

fn apply(rib: &mut LocRib, i: &Input) {
    let asn = peer_as(i.peer);
    let first = if asn == LOCAL_AS { 65001 } else { asn };
    let mut a = attrs(&std::iter::repeat_n(first, usize::from(i.as_len)).collect::<Vec<_>>());
    a.med = i.med;
    a.local_pref = i.local_pref;
    a.origin = match i.origin {
        0 => Origin::Igp,
        1 => Origin::Egp,
        _ => Origin::Incomplete,
    };
    if let Some(b) = i.bandwidth {
        a.ext_communities.push(ExtCommunity::link_bandwidth(
            65001,
            f32::from(b) * 1e8,
            false,
        ));
    }
    let mut p = path(i.peer, i.next_hop, a);
    p.path_id = i.path_id;
    let prefix: IpNet = format!("192.0.2.{}/32", i.p).parse().unwrap();
    rib.update(prefix, p).unwrap();
}

fn fresh(relax: bool) -> LocRib {
    rib_with(
        &[(1, 65001), (2, 65001), (3, 65002), (4, LOCAL_AS)],
        RibConfig {
            max_paths: NonZeroU16::new(3).unwrap(),
            as_path_relax: relax,
        },
    )
}

proptest! {
    /// The selection does not depend on the order paths arrive in (the last input for one
    /// (peer, prefix, path id) key wins, so keys are made unique first).
    #[test]
    fn selection_does_not_depend_on_arrival_order(
        inputs in prop::collection::vec(input(), 1..24),
        seed in any::<u64>(),
        relax in any::<bool>(),
    ) {
        let mut unique: Vec<Input> = Vec::new();
        for i in inputs {
            if !unique.iter().any(|u| u.p == i.p && u.peer == i.peer && u.path_id == i.path_id) {
                unique.push(i);
            }
        }
        let mut shuffled = unique.clone();
        // A deterministic shuffle from the seed.
        let mut s = seed;
        for k in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(k, (s >> 33) as usize % (k + 1));
        }
        let (mut a, mut b) = (fresh(relax), fresh(relax));
        unique.iter().for_each(|i| apply(&mut a, i));
        shuffled.iter().for_each(|i| apply(&mut b, i));
        for prefix in a.prefixes() {
            let (da, db) = (a.decision(prefix).unwrap(), b.decision(prefix).unwrap());
            let keys = |d: &Decision| -> Vec<(PeerId, Option<u32>, Verdict, Option<u32>)> {
                d.paths.iter().map(|r| (r.path.peer, r.path.path_id, r.verdict, r.weight)).collect()
            };
            prop_assert_eq!(keys(&da), keys(&db));
            prop_assert_eq!(&da.next_hops, &db.next_hops);
        }
        prop_assert_eq!(a.take_changes(), b.take_changes());
    }

    /// After any sequence of inputs, `take_changes` hands out exactly the difference from
    /// what it handed out before, and nothing when the sets did not change.
    #[test]
    fn changes_track_the_forwarding_sets(
        steps in prop::collection::vec((input(), 0u8..4), 1..40),
    ) {
        let mut rib = fresh(false);
        let mut fib: std::collections::BTreeMap<IpNet, Vec<(IpAddr, u32)>> = Default::default();
        for (i, op) in &steps {
            match op {
                0 => { rib.withdraw(PeerId(u32::from(i.peer)), format!("192.0.2.{}/32", i.p).parse().unwrap(), i.path_id); }
                1 if i.next_hop == 1 => { rib.peer_down(PeerId(u32::from(i.peer))); }
                _ => apply(&mut rib, i),
            }
            if i.as_len == 1 {
                let before = fib.clone();
                for c in rib.take_changes() {
                    match c {
                        FibChange::Set { prefix, next_hops } => {
                            prop_assert!(!next_hops.is_empty());
                            prop_assert_ne!(before.get(&prefix), Some(&next_hops), "a change that changes nothing");
                            fib.insert(prefix, next_hops);
                        }
                        FibChange::Remove { prefix } => {
                            prop_assert!(fib.remove(&prefix).is_some(), "removal of nothing");
                        }
                    }
                }
                prop_assert_eq!(rib.take_changes(), vec![]);
                for p in 0..3u8 {
                    let prefix: IpNet = format!("192.0.2.{p}/32").parse().unwrap();
                    let want = rib.decision(prefix).map(|d| d.next_hops).filter(|n| !n.is_empty());
                    prop_assert_eq!(fib.get(&prefix), want.as_ref());
                }
            }
        }
    }
}

// --- Graceful shutdown (RFC 8326) at the minimum weight ---

fn draining(mut a: PathAttributes) -> PathAttributes {
    a.communities.push(bgp_proto::Community::GRACEFUL_SHUTDOWN);
    a
}

#[test]
fn a_draining_member_stays_in_the_set_at_the_minimum_weight() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    for i in 1..=3 {
        add(&mut rib, path(i, i, attrs(&[65001])));
    }
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(1), 1), (nh(2), 1), (nh(3), 1)]
        }]
    );
    // Node 1 drains: same members, its weight 1 against 255 for the others.
    add(&mut rib, path(1, 1, draining(attrs(&[65001]))));
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(
        d.weighting,
        Weighting::GracefulShutdown {
            draining: 1,
            base: BaseWeighting::Equal
        }
    );
    assert!(matches!(
        verdict_of(&rib, 1).0,
        Verdict::Best | Verdict::Multipath
    ));
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(1), 1), (nh(2), 255), (nh(3), 255)]
        }]
    );
    // It withdraws at the end of its drain: it leaves.
    rib.withdraw(PeerId(1), prefix(), None);
    assert_eq!(
        rib.take_changes(),
        vec![FibChange::Set {
            prefix: prefix(),
            next_hops: vec![(nh(2), 1), (nh(3), 1)]
        }]
    );
}

#[test]
fn graceful_shutdown_keeps_link_bandwidth_ratios_of_the_others() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001), (3, 65001)], RibConfig::default());
    add(
        &mut rib,
        path(1, 1, draining(with_bandwidth(65001, 1.25e9))),
    );
    add(&mut rib, path(2, 2, with_bandwidth(65001, 1.25e9)));
    add(&mut rib, path(3, 3, with_bandwidth(65001, 0.625e9)));
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(
        d.weighting,
        Weighting::GracefulShutdown {
            draining: 1,
            base: BaseWeighting::LinkBandwidth
        }
    );
    assert_eq!(
        d.next_hops,
        vec![(nh(1), 1), (nh(2), 255 * 255), (nh(3), 128 * 255)]
    );
}

#[test]
fn when_every_member_drains_the_weights_are_as_without() {
    let mut rib = rib_with(&[(1, 65001), (2, 65001)], RibConfig::default());
    add(&mut rib, path(1, 1, draining(attrs(&[65001]))));
    add(&mut rib, path(2, 2, draining(attrs(&[65001]))));
    let d = rib.decision(prefix()).unwrap();
    assert_eq!(d.weighting, Weighting::Equal);
    assert_eq!(d.next_hops, vec![(nh(1), 1), (nh(2), 1)]);
}

#[test]
fn a_path_fits_a_small_allocation() {
    // Issue 17 item 5: a million paths; 72 octets is glibc's 80-octet chunk.
    assert!(
        std::mem::size_of::<Path>() <= 72,
        "{}",
        std::mem::size_of::<Path>()
    );
}
