use super::*;
use crate::config::PeerSelection;
use bgp_proto::{Community, LargeCommunity};
use std::net::{Ipv4Addr, Ipv6Addr};

fn service(name: &str, prefix: &str, nexthops: Vec<NextHopSpec>) -> Service {
    Service {
        name: name.into(),
        prefix: prefix.parse().expect("prefix"),
        nexthops: nexthops.into(),
        communities: Arc::new([]),
        large_communities: Arc::new([]),
        med: None,
        local_pref: None,
        as_path_prepend: 0,
        weight: None,
        peers: PeerSelection::All,
        health: None,
    }
}

fn ebgp_v4() -> PeerView {
    PeerView {
        name: "tor-a".into(),
        local_asn: 64512,
        peer_asn: 64500,
        local_address: IpAddr::V4(Ipv4Addr::new(10, 255, 0, 2)),
        next_hop_v4: None,
        next_hop_v6: None,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        add_path_tx: FamilySet::new(),
        extended_next_hop: FamilySet::new(),
        announce: Arc::default(),
        role: None,
        link_local: None,
    }
}

fn v4(s: &str) -> NextHop {
    NextHop::V4(s.parse().expect("v4"))
}

#[test]
fn ebgp_self_next_hop_prepends_and_carries_attributes() {
    let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
    s.communities = vec![Community(0xFFFF_FF01), Community(64512 << 16 | 100)].into();
    s.large_communities = vec![LargeCommunity {
        global: 64512,
        local1: 1,
        local2: 100,
    }]
    .into();
    s.med = Some(10);
    s.local_pref = Some(200);
    s.as_path_prepend = 2;
    let (routes, warnings) = routes_for_peer(&[s], &ebgp_v4());
    assert!(warnings.is_empty());
    assert_eq!(routes.len(), 1);
    let (nlri, route) = routes.iter().next().expect("one route");
    assert_eq!(
        *nlri,
        Nlri {
            prefix: "192.0.2.10/32".parse().expect("p"),
            path_id: None
        }
    );
    assert_eq!(route.next_hop, v4("10.255.0.2"));
    let a = &route.attrs;
    assert_eq!(a.origin, Origin::Igp);
    assert_eq!(
        a.as_path.segments,
        vec![AsSegment {
            kind: AsSegmentType::Sequence,
            asns: vec![64512, 64512, 64512]
        }]
    );
    assert_eq!(a.med, Some(10));
    assert_eq!(a.local_pref, None, "no LOCAL_PREF on eBGP");
    assert_eq!(
        a.communities,
        vec![Community(64512 << 16 | 100), Community(0xFFFF_FF01)]
    );
    assert_eq!(a.large_communities.len(), 1);
    assert!(a.ext_communities.is_empty(), "no weight, no Link Bandwidth");
}

#[test]
fn a_weight_is_sent_as_link_bandwidth() {
    let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
    s.weight = Some(40);
    let (routes, _) = routes_for_peer(&[s], &ebgp_v4());
    let (_, route) = routes.iter().next().expect("one route");
    let lb: Vec<_> = route
        .attrs
        .ext_communities
        .iter()
        .filter_map(|c| c.as_link_bandwidth())
        .collect();
    // draft-ietf-idr-link-bandwidth: our AS, 40 Mbit/s in bytes per second.
    assert_eq!(lb, vec![(64512, 5e6)]);
    // Services alike but for their weight keep their own attributes.
    let mut a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    a.weight = Some(1);
    let mut b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
    b.weight = Some(2);
    // The same lists, as the configuration shares them.
    b.communities = a.communities.clone();
    b.large_communities = a.large_communities.clone();
    let (routes, _) = routes_for_peer(&[a, b], &ebgp_v4());
    let bws: Vec<f32> = routes
        .iter()
        .filter_map(|(_, r)| r.attrs.ext_communities.first()?.as_link_bandwidth())
        .map(|(_, bw)| bw)
        .collect();
    assert_eq!(bws, vec![125_000.0, 250_000.0]);
    assert_eq!(
        route.attrs.ext_communities[0].0[..2],
        [0x40, 0x04],
        "non-transitive type, Link Bandwidth sub-type"
    );
}

#[test]
fn a_drained_peer_gets_graceful_shutdown_and_the_others_do_not() {
    let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    let mut ann = Announcements::from_services(vec![a]);
    ann.drained_peers = Arc::new(["tor-a".to_string()].into_iter().collect());
    let drained = ebgp_v4();
    let mut other = ebgp_v4();
    other.name = "tor-b".into();
    let attrs = |p: &PeerView| {
        routes_for(&ann, p)
            .0
            .values()
            .next()
            .map(|r| r.attrs.clone())
    };
    let d = attrs(&drained).expect("route");
    assert_eq!(d.communities, vec![bgp_proto::Community::GRACEFUL_SHUTDOWN]);
    assert_eq!(d.local_pref, None, "eBGP: no LOCAL_PREF");
    let o = attrs(&other).expect("route");
    assert!(o.communities.is_empty());
    // iBGP: LOCAL_PREF 0 as well (RFC 8326 §4).
    let mut ibgp = ebgp_v4();
    ibgp.peer_asn = 64512;
    assert_eq!(attrs(&ibgp).expect("route").local_pref, Some(0));
}

#[test]
fn peer_overrides_add_communities_and_replace_med_local_pref_and_prepend() {
    let mut svc = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    svc.communities = vec![Community::NO_EXPORT].into();
    svc.med = Some(5);
    svc.as_path_prepend = 1;
    let mut peer = ebgp_v4();
    peer.announce = Arc::new(crate::config::PeerAnnounce {
        communities: vec![Community::new(64512, 7)],
        large_communities: vec![LargeCommunity::new(64512, 1, 7)],
        med: Some(50),
        local_pref: Some(300),
        as_path_prepend: Some(3),
    });
    let (routes, _) = routes_for_peer(std::slice::from_ref(&svc), &peer);
    let a = routes.values().next().expect("route").attrs.clone();
    assert_eq!(
        a.communities.len(),
        2,
        "service's and peer's: {:?}",
        a.communities
    );
    assert_eq!(a.large_communities, vec![LargeCommunity::new(64512, 1, 7)]);
    assert_eq!(a.med, Some(50));
    assert_eq!(a.as_path.segments[0].asns, vec![64512; 4], "1 + 3 copies");
    assert_eq!(a.local_pref, None, "eBGP");
    peer.peer_asn = 64512;
    let (routes, _) = routes_for_peer(&[svc], &peer);
    assert_eq!(
        routes.values().next().expect("route").attrs.local_pref,
        Some(300)
    );
}

#[test]
fn otc_goes_to_customers_peers_and_rs_clients_only() {
    let svc = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    let otc = |role: Option<bgp_proto::Role>| {
        let mut peer = ebgp_v4();
        peer.role = role;
        routes_for_peer(std::slice::from_ref(&svc), &peer)
            .0
            .values()
            .next()
            .expect("route")
            .attrs
            .otc
    };
    use bgp_proto::Role;
    assert_eq!(otc(Some(Role::Provider)), Some(64512), "to a customer");
    assert_eq!(otc(Some(Role::Peer)), Some(64512), "to a peer");
    assert_eq!(otc(Some(Role::RouteServer)), Some(64512), "to an RS client");
    assert_eq!(otc(Some(Role::Customer)), None, "to a provider");
    assert_eq!(otc(Some(Role::RouteServerClient)), None, "to an RS");
    assert_eq!(otc(None), None);
}

#[test]
fn link_local_session_sends_the_global_next_hop_with_the_link_local_beside_it() {
    let svc = service("a", "2001:db8::10/128", vec![NextHopSpec::Local]);
    let ll: std::net::Ipv6Addr = "fe80::2".parse().expect("ll");
    let mut peer = ebgp_v4();
    peer.local_address = IpAddr::V6(ll);
    peer.link_local = Some(ll);
    peer.next_hop_v6 = Some("2001:db8:ff::2".parse().expect("global"));
    let nh = |p: &PeerView| {
        routes_for_peer(std::slice::from_ref(&svc), p)
            .0
            .values()
            .next()
            .expect("route")
            .next_hop
    };
    assert_eq!(
        nh(&peer),
        NextHop::V6 {
            global: "2001:db8:ff::2".parse().expect("g"),
            link_local: Some(ll)
        }
    );
    // No global address on the link: the link-local one alone.
    peer.next_hop_v6 = None;
    assert_eq!(
        nh(&peer),
        NextHop::V6 {
            global: ll,
            link_local: None
        }
    );
}

#[test]
fn ibgp_carries_local_pref_and_empty_as_path() {
    let mut peer = ebgp_v4();
    peer.peer_asn = 64512;
    let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    let mut b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
    b.local_pref = Some(200);
    b.as_path_prepend = 3;
    let (routes, _) = routes_for_peer(&[a, b], &peer);
    let attrs: Vec<_> = routes.values().map(|r| r.attrs.clone()).collect();
    assert_eq!(attrs[0].local_pref, Some(DEFAULT_LOCAL_PREF));
    assert_eq!(attrs[1].local_pref, Some(200));
    assert!(attrs[0].as_path.segments.is_empty());
    assert!(
        attrs[1].as_path.segments.is_empty(),
        "prepend applies on eBGP only"
    );
}

#[test]
fn v6_prefix_over_v4_session_needs_configured_next_hop() {
    let s = service("v6", "2001:db8::10/128", vec![NextHopSpec::Local]);
    let (routes, warnings) = routes_for_peer(std::slice::from_ref(&s), &ebgp_v4());
    assert!(routes.is_empty());
    assert_eq!(
        warnings,
        vec![Warning::NoNextHop {
            service: "v6".into(),
            prefix: s.prefix
        }]
    );
    let mut peer = ebgp_v4();
    peer.next_hop_v6 = Some("2001:db8::2".parse().expect("v6"));
    let (routes, warnings) = routes_for_peer(&[s], &peer);
    assert!(warnings.is_empty());
    let route = routes.values().next().expect("route");
    assert_eq!(
        route.next_hop,
        NextHop::V6 {
            global: "2001:db8::2".parse().expect("v6"),
            link_local: None
        }
    );
}

#[test]
fn v4_prefix_over_v6_session_uses_extended_next_hop_when_negotiated() {
    let mut peer = ebgp_v4();
    peer.local_address = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let s = service("v4", "192.0.2.10/32", vec![NextHopSpec::Local]);
    let (routes, _) = routes_for_peer(std::slice::from_ref(&s), &peer);
    assert!(routes.is_empty());
    peer.extended_next_hop.insert(Family::IPV4_UNICAST);
    let (routes, _) = routes_for_peer(&[s], &peer);
    assert_eq!(
        routes.values().next().map(|r| r.next_hop),
        Some(NextHop::V6 {
            global: Ipv6Addr::LOCALHOST,
            link_local: None
        })
    );
}

#[test]
fn family_not_negotiated_is_skipped() {
    let mut peer = ebgp_v4();
    peer.families = [Family::IPV4_UNICAST].into_iter().collect();
    let s = service(
        "v6",
        "2001:db8::10/128",
        vec![NextHopSpec::Addr("2001:db8::1".parse().expect("a"))],
    );
    let (routes, warnings) = routes_for_peer(&[s], &peer);
    assert!(routes.is_empty());
    assert_eq!(
        warnings,
        vec![Warning::FamilyNotNegotiated {
            service: "v6".into(),
            family: Family::IPV6_UNICAST
        }]
    );
}

#[test]
fn add_path_gives_one_path_per_next_hop_with_stable_ids() {
    let hops = vec![
        NextHopSpec::Addr("10.0.0.1".parse().expect("a")),
        NextHopSpec::Addr("10.0.0.2".parse().expect("a")),
        NextHopSpec::Addr("10.0.0.3".parse().expect("a")),
    ];
    let s = service("web", "192.0.2.10/32", hops);
    let mut peer = ebgp_v4();
    peer.add_path_tx.insert(Family::IPV4_UNICAST);
    let (routes, warnings) = routes_for_peer(std::slice::from_ref(&s), &peer);
    assert!(warnings.is_empty());
    let got: Vec<(Option<u32>, NextHop)> = routes
        .iter()
        .map(|(n, r)| (n.path_id, r.next_hop))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(1), v4("10.0.0.1")),
            (Some(2), v4("10.0.0.2")),
            (Some(3), v4("10.0.0.3"))
        ]
    );
    // Without ADD-PATH: the first next hop only, and a warning.
    let (routes, warnings) = routes_for_peer(&[s], &ebgp_v4());
    assert_eq!(routes.len(), 1);
    assert_eq!(
        routes.values().next().map(|r| r.next_hop),
        Some(v4("10.0.0.1"))
    );
    assert_eq!(
        warnings,
        vec![Warning::OnlyFirstNextHop {
            service: "web".into(),
            family: Family::IPV4_UNICAST
        }]
    );
}

#[test]
fn service_peer_filter() {
    let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
    s.peers = PeerSelection::Only(vec!["tor-b".into()].into());
    let (routes, _) = routes_for_peer(&[s], &ebgp_v4());
    assert!(routes.is_empty());
}

#[test]
fn equal_attributes_share_one_arc_and_one_group() {
    let services: Vec<Service> = (0..10_000u32)
        .map(|i| {
            let addr = Ipv4Addr::from(0x0a00_0000 + i);
            service(
                &format!("s{i}"),
                &format!("{addr}/32"),
                vec![NextHopSpec::Local],
            )
        })
        .collect();
    let (routes, _) = routes_for_peer(&services, &ebgp_v4());
    assert_eq!(routes.len(), 10_000);
    let first = routes.values().next().expect("route").attrs.clone();
    assert!(routes.values().all(|r| Arc::ptr_eq(&r.attrs, &first)));
    let d = diff(&RouteSet::new(), &routes);
    assert_eq!(d.announce.len(), 1);
    assert_eq!(d.announced_count(), 10_000);
    assert!(d.withdraw.is_empty());
}

#[test]
fn diff_announces_changes_and_withdraws_removals() {
    let peer = ebgp_v4();
    let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
    let b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
    let mut b2 = b.clone();
    b2.med = Some(5);
    let c = service("c", "192.0.2.3/32", vec![NextHopSpec::Local]);
    let (old, _) = routes_for_peer(&[a.clone(), b], &peer);
    let (new, _) = routes_for_peer(&[b2, c], &peer);
    let d = diff(&old, &new);
    let announced: Vec<IpNet> = d
        .announce
        .iter()
        .flat_map(|g| g.nlri.iter().map(|n| n.prefix))
        .collect();
    assert_eq!(announced.len(), 2);
    assert!(announced.contains(&"192.0.2.2/32".parse().expect("p")));
    assert!(announced.contains(&"192.0.2.3/32".parse().expect("p")));
    assert_eq!(
        d.withdraw,
        vec![Nlri {
            prefix: "192.0.2.1/32".parse().expect("p"),
            path_id: None
        }]
    );
    assert!(diff(&new, &new).is_empty());
    // The summary counts what the diff lists.
    let sum = summarize(&old, &new);
    assert_eq!(sum.announced, 2);
    assert_eq!(sum.withdrawn, 1);
    assert_eq!(sum.groups, d.announce.len());
    assert_eq!(
        sum.announced_prefixes.describe().as_deref(),
        Some("192.0.2.2/32, 192.0.2.3/32")
    );
    assert_eq!(
        sum.withdrawn_prefixes.describe().as_deref(),
        Some("192.0.2.1/32")
    );
    assert!(summarize(&new, &new).is_empty());
}

#[test]
fn runtime_entries_share_their_spec_and_follow_the_drain_mode() {
    let peer = ebgp_v4();
    let template = service("t", "198.51.100.0/32", vec![NextHopSpec::Local]);
    let spec = Arc::new(RuntimeSpec {
        service: template,
        since: std::time::SystemTime::now(),
        request: crate::api::AnnounceArgs::default(),
    });
    let mut table = RuntimeTable::new();
    let prefixes: Vec<IpNet> = (0..20_000u32)
        .rev()
        .map(|i| {
            IpNet::V4(
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a64_0000 + i), 32).expect("p"),
            )
        })
        .collect();
    table.insert_many(&prefixes, spec.clone());
    // A configured service with one of the prefixes is replaced by the runtime one
    // (effective() leaves it out); another configured one stays.
    let mut configured = service("c", "192.0.2.1/32", vec![NextHopSpec::Local]);
    configured.med = Some(1);
    let mut ann = Announcements {
        services: Arc::new(vec![configured]),
        runtime: Arc::new(table.clone()),
        runtime_mode: RuntimeMode::Normal,
        complete: true,
        drained_peers: Arc::default(),
        decision: None,
    };
    let (routes, warnings) = routes_for(&ann, &peer);
    assert!(warnings.is_empty());
    assert_eq!(routes.len(), 20_001);
    assert_eq!(route_count(&ann, &peer), 20_001);
    assert!(routes.keys().is_sorted());
    let d = diff(&RouteSet::new(), &routes);
    assert_eq!(d.announced_count(), 20_001);
    assert_eq!(d.announce.len(), 2, "one group per attribute set");
    let sum = summarize(&RouteSet::new(), &routes);
    assert_eq!((sum.announced, sum.groups), (20_001, 2));
    assert_eq!(
        sum.announced_prefixes.describe().as_deref(),
        Some("20001 prefixes")
    );
    // Draining adds GRACEFUL_SHUTDOWN to runtime routes; drained sends none.
    ann.runtime_mode = RuntimeMode::GracefulShutdown;
    let (drain, _) = routes_for(&ann, &peer);
    let runtime_route = drain.values().next().expect("route");
    assert!(runtime_route
        .attrs
        .communities
        .contains(&bgp_proto::Community::GRACEFUL_SHUTDOWN));
    ann.runtime_mode = RuntimeMode::Withheld;
    assert_eq!(routes_for(&ann, &peer).0.len(), 1);
    // Removing: the table without half of them.
    let mut gone: Vec<IpNet> = prefixes.iter().step_by(2).copied().collect();
    gone.sort();
    let (rest, removed) = table.without(&gone);
    assert_eq!((rest.len(), removed), (10_000, 10_000));
    for p in &gone {
        assert!(table.remove(p));
    }
    assert_eq!(table, rest);
}

mod policy_verdicts {
    use super::*;
    use crate::announce::policy::{
        verdict, DrainStep, HealthEffect, HealthInput, Inputs, Source, Verdict, Withheld,
    };
    use crate::config::{OnFail, Probe};
    use crate::health::{Health, Target};

    fn target(nexthop: Option<usize>, addr: &str) -> Target {
        Target {
            nexthop,
            probe: Probe::Tcp {
                target: format!("{addr}:80"),
            },
        }
    }

    fn inputs<'a>(health: Option<HealthInput<'a>>) -> Inputs<'a> {
        Inputs {
            source: Source::Config,
            drain: DrainStep::Normal,
            suppressed: false,
            health,
        }
    }

    #[test]
    fn a_failing_next_hop_keeps_its_place_and_is_never_sent() {
        let hops = vec![
            NextHopSpec::Addr("10.0.0.1".parse().expect("a")),
            NextHopSpec::Addr("10.0.0.2".parse().expect("a")),
        ];
        let svc = service("web", "192.0.2.10/32", hops);
        let (t0, t1) = (target(Some(0), "10.0.0.1"), target(Some(1), "10.0.0.2"));
        let withdraw = OnFail::Withdraw;
        let health = HealthInput {
            on_fail: &withdraw,
            disabled: false,
            disable_file: None,
            targets: vec![(&t0, Health::Down), (&t1, Health::Up)],
        };
        let v = verdict(&svc, &inputs(Some(health)));
        let Verdict::Announce { service, state } = &v else {
            panic!("announced with one next hop: {v:?}");
        };
        assert_eq!(
            service.nexthops.first(),
            Some(&NextHopSpec::Failing),
            "the failing one keeps its position"
        );
        assert!(matches!(
            state.health,
            HealthEffect::Partial {
                healthy: 1,
                of: 2,
                ..
            }
        ));
        assert_eq!(
            v.describe(),
            "announced with 1 of 2 next hops (tcp 10.0.0.1:80 down failing)"
        );
        // With ADD-PATH the healthy one keeps path id 2 (RFC 7911); the failing one is not sent.
        let mut peer = ebgp_v4();
        peer.add_path_tx.insert(Family::IPV4_UNICAST);
        let (routes, _) = routes_for_peer(&[service.clone().into_owned()], &peer);
        let got: Vec<(Option<u32>, NextHop)> = routes
            .iter()
            .map(|(n, r)| (n.path_id, r.next_hop))
            .collect();
        assert_eq!(got, vec![(Some(2), v4("10.0.0.2"))]);
    }

    #[test]
    fn reasons_are_values_until_displayed() {
        let svc = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
        let mut i = inputs(None);
        i.suppressed = true;
        assert_eq!(verdict(&svc, &i), Verdict::Withheld(Withheld::ByApi));
        assert_eq!(verdict(&svc, &i).describe(), "withdrawn by bgpctl withdraw");
        // A runtime service is never suppressed by `bgpctl withdraw` of a configured one.
        i.source = Source::Runtime;
        assert!(verdict(&svc, &i).is_announced());
        i.drain = DrainStep::Drained;
        assert_eq!(verdict(&svc, &i), Verdict::Withheld(Withheld::Drained));
        let t = target(None, "192.0.2.10");
        let withdraw = OnFail::Withdraw;
        let failing = HealthInput {
            on_fail: &withdraw,
            disabled: false,
            disable_file: None,
            targets: vec![(&t, Health::Init)],
        };
        let v = verdict(&svc, &inputs(Some(failing.clone())));
        assert!(matches!(v, Verdict::Withheld(Withheld::HealthFailing(_))));
        assert_eq!(
            v.describe(),
            "withdrawn: health check failing (tcp 192.0.2.10:80 init)"
        );
        let file = std::path::PathBuf::from("/run/web.disabled");
        let disabled = HealthInput {
            disabled: true,
            disable_file: Some(&file),
            ..failing
        };
        assert_eq!(
            verdict(&svc, &inputs(Some(disabled))).describe(),
            "disabled: /run/web.disabled exists"
        );
        let mut draining = inputs(None);
        draining.drain = DrainStep::Draining;
        let v = verdict(&svc, &draining);
        assert_eq!(
            v.describe(),
            "announced, draining: GRACEFUL_SHUTDOWN 65535:0 until the withdraw"
        );
        assert_ne!(v.state_key(), verdict(&svc, &inputs(None)).state_key());
        assert_eq!(
            verdict(&svc, &inputs(None)).state_key(),
            verdict(&svc, &inputs(None)).state_key()
        );
    }
}
