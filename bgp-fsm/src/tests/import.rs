//! Import policy and loop detection (issue 13 §3): RFC 4271 §9.1.2 own-AS loops, RFC 4456
//! §8 ORIGINATOR_ID, the import policy, `max_prefixes` over kept routes only, `SetImport`
//! on a live session, and the RFC 4271 §6.3 shared-subnet next-hop rule.

use std::net::Ipv4Addr;

use bgp_proto::{Capability, Message, RouteRefresh, UpdateBuilder};

use super::*;
use crate::{ImportPolicy, PrefixRange, RouteEvents};

fn update_bytes(cx: &SessionContext, routes: &[Route]) -> Bytes {
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    b.freeze()
}

/// A route from the peer whose AS_PATH is `path`.
fn route_with_path(prefix: &str, nh: [u8; 4], path: &[u32]) -> Route {
    Route {
        nlri: Nlri::new(prefix.parse().unwrap()),
        next_hop: NextHop::V4(Ipv4Addr::from(nh)),
        attrs: Arc::new(PathAttributes {
            as_path: AsPath::from_sequence(path.iter().copied()),
            ..PathAttributes::default()
        }),
    }
}

/// Feeds one UPDATE announcing `routes`; returns what it did to the Adj-RIB-In.
fn receive(s: &mut Session, secs: u64, routes: &[Route]) -> RouteEvents {
    let cx = s.context();
    let actions = s.handle(at(secs), Event::Message(update_bytes(&cx, routes)));
    assert_eq!(s.state(), State::Established, "{actions:?}");
    actions
        .into_iter()
        .find_map(|a| match a {
            Action::Received(ev) => Some(ev),
            _ => None,
        })
        .unwrap_or_default()
}

fn ranges(list: &[&str]) -> ImportPolicy {
    ImportPolicy::Prefixes(
        list.iter()
            .map(|r| r.parse::<PrefixRange>().unwrap())
            .collect(),
    )
}

fn with_import(policy: ImportPolicy) -> SessionConfig {
    let mut c = config();
    c.import = policy;
    c
}

#[test]
fn established_own_as_in_path_is_discarded_and_counted() {
    let mut s = established();
    let good = route_with_path("203.0.113.0/24", [10, 0, 0, 2], &[PEER_AS]);
    receive(&mut s, 3, std::slice::from_ref(&good));
    // RFC 4271 §9.1.2: our AS in the path is a loop; the earlier route for the NLRI goes.
    let looped = route_with_path("203.0.113.0/24", [10, 0, 0, 2], &[PEER_AS, LOCAL_AS]);
    let ev = receive(&mut s, 4, &[looped]);
    assert_eq!(ev.looped, vec![good.nlri]);
    assert_eq!(ev.withdrawn, vec![good.nlri]);
    assert!(ev.announced.is_empty());
    assert!(s.adj_rib_in().is_empty());
    assert_eq!(s.counters().own_as_loops, 1);
    assert_eq!(s.counters().treat_as_withdraw, 0);
}

#[test]
fn established_allow_own_as_accepts_up_to_n_occurrences() {
    let mut c = config();
    c.allow_own_as = 1;
    let mut s = established_with(c, &peer_open(90));
    let once = route_with_path("203.0.113.0/24", [10, 0, 0, 2], &[PEER_AS, LOCAL_AS]);
    let ev = receive(&mut s, 3, std::slice::from_ref(&once));
    assert_eq!(ev.announced, vec![once.clone()]);
    let twice = route_with_path(
        "203.0.114.0/24",
        [10, 0, 0, 2],
        &[PEER_AS, LOCAL_AS, 7, LOCAL_AS],
    );
    let ev = receive(&mut s, 4, std::slice::from_ref(&twice));
    assert_eq!(ev.looped, vec![twice.nlri]);
    assert_eq!(s.adj_rib_in().len(), 1);
    assert_eq!(s.counters().own_as_loops, 1);
}

#[test]
fn established_ibgp_own_originator_id_is_a_loop() {
    let mut c = SessionConfig::new(LOCAL_AS, LOCAL_AS, local_id());
    c.families = vec![bgp_proto::Family::IPV4_UNICAST];
    let mut o = peer_open(90);
    o.my_as = LOCAL_AS as u16;
    o.capabilities = vec![Capability::RouteRefresh, Capability::FourOctetAs(LOCAL_AS)];
    let mut s = established_with(c, &o);
    let attrs = |originator| {
        Arc::new(PathAttributes {
            local_pref: Some(100),
            originator_id: Some(originator),
            cluster_list: vec![Ipv4Addr::new(10, 0, 0, 2)],
            ..PathAttributes::default()
        })
    };
    let mine = Route {
        nlri: Nlri::new("192.0.2.1/32".parse().unwrap()),
        next_hop: NextHop::V4(Ipv4Addr::new(10, 0, 0, 7)),
        attrs: attrs(local_id()),
    };
    let other = Route {
        nlri: Nlri::new("192.0.2.2/32".parse().unwrap()),
        next_hop: NextHop::V4(Ipv4Addr::new(10, 0, 0, 8)),
        attrs: attrs(Ipv4Addr::new(10, 0, 0, 8)),
    };
    let ev = receive(&mut s, 3, std::slice::from_ref(&mine));
    assert_eq!(ev.looped, vec![mine.nlri]);
    let ev = receive(&mut s, 4, std::slice::from_ref(&other));
    assert_eq!(ev.announced, vec![other]);
    assert_eq!(s.counters().own_as_loops, 1);
}

#[test]
fn established_import_none_keeps_nothing_but_counts() {
    let mut s = established_with(with_import(ImportPolicy::None), &peer_open(90));
    let routes: Vec<Route> = (1..=3)
        .map(|i| route(&format!("203.0.{i}.0/24"), [10, 0, 0, 2], PEER_AS))
        .collect();
    let ev = receive(&mut s, 3, &routes);
    assert_eq!(ev.import_rejected, 3);
    assert!(ev.announced.is_empty() && ev.withdrawn.is_empty());
    assert!(s.adj_rib_in().is_empty());
    assert_eq!(s.counters().import_rejected, 3);
    assert_eq!(s.counters().prefixes_in, 0);
    // Nothing stored means nothing kept stale for a graceful restart either.
    s.handle(at(4), Event::Closed);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn established_import_prefix_ranges_keep_only_matches() {
    let policy = ranges(&["203.0.113.0/24 le 32", "10.0.0.0/8 ge 24 le 24"]);
    let mut s = established_with(with_import(policy), &peer_open(90));
    let routes: Vec<Route> = [
        "203.0.113.0/24",
        "203.0.113.5/32",
        "203.0.112.0/23",
        "10.1.2.0/24",
        "10.1.0.0/16",
        "198.51.100.0/24",
    ]
    .iter()
    .map(|p| route(p, [10, 0, 0, 2], PEER_AS))
    .collect();
    let ev = receive(&mut s, 3, &routes);
    let kept: Vec<String> = ev
        .announced
        .iter()
        .map(|r| r.nlri.prefix.to_string())
        .collect();
    assert_eq!(kept, ["203.0.113.0/24", "203.0.113.5/32", "10.1.2.0/24"]);
    assert_eq!(ev.import_rejected, 3);
    assert_eq!(s.adj_rib_in().len(), 3);
}

#[test]
fn established_max_prefixes_counts_only_kept_routes() {
    let mut c = with_import(ranges(&["203.0.1.0/24", "203.0.2.0/24"]));
    c.max_prefixes = Some(2);
    let mut s = established_with(c, &peer_open(90));
    let routes: Vec<Route> = (1..=6)
        .map(|i| route(&format!("203.0.{i}.0/24"), [10, 0, 0, 2], PEER_AS))
        .collect();
    let ev = receive(&mut s, 3, &routes);
    assert_eq!(ev.announced.len(), 2);
    // Looped routes never count either.
    let looped: Vec<Route> = (1..=6)
        .map(|i| {
            route_with_path(
                &format!("198.51.{i}.0/24"),
                [10, 0, 0, 2],
                &[PEER_AS, LOCAL_AS],
            )
        })
        .collect();
    let ev = receive(&mut s, 4, &looped);
    assert_eq!(ev.looped.len(), 6);
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.adj_rib_in().len(), 2);
}

#[test]
fn established_set_import_narrowing_withdraws_and_sends_nothing() {
    let mut s = established();
    let a = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    let b = route("198.51.100.0/24", [10, 0, 0, 2], PEER_AS);
    receive(&mut s, 3, &[a.clone(), b.clone()]);
    let actions = s.handle(
        at(4),
        Event::SetImport {
            policy: ranges(&["203.0.113.0/24"]),
            allow_own_as: 0,
        },
    );
    assert_eq!(
        actions,
        vec![Action::Received(RouteEvents {
            withdrawn: vec![b.nlri],
            ..RouteEvents::default()
        })]
    );
    assert_eq!(s.adj_rib_in().iter().collect::<Vec<_>>(), vec![a]);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_set_import_widening_sends_route_refresh_per_family() {
    let mut s = established_with(with_import(ImportPolicy::None), &peer_open(90));
    let actions = s.handle(
        at(4),
        Event::SetImport {
            policy: ImportPolicy::All,
            allow_own_as: 0,
        },
    );
    let refreshed: Vec<RouteRefresh> = sent_messages(&actions, &s.context())
        .into_iter()
        .map(|m| match m {
            Message::RouteRefresh(rr) => rr,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        refreshed,
        vec![
            RouteRefresh::new(Family::IPV4_UNICAST),
            RouteRefresh::new(Family::IPV6_UNICAST),
        ]
    );
    assert_eq!(s.state(), State::Established);
    // The re-sent routes are now kept.
    let r = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    assert_eq!(
        receive(&mut s, 5, std::slice::from_ref(&r)).announced,
        vec![r]
    );
}

#[test]
fn established_set_import_widening_without_route_refresh_sends_nothing() {
    let mut o = peer_open(90);
    o.capabilities.retain(|c| {
        !matches!(
            c,
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh
        )
    });
    let mut s = established_with(with_import(ImportPolicy::None), &o);
    let actions = s.handle(
        at(4),
        Event::SetImport {
            policy: ImportPolicy::All,
            allow_own_as: 2,
        },
    );
    assert_eq!(actions, vec![]);
    assert_eq!(s.config().import, ImportPolicy::All);
    assert_eq!(s.config().allow_own_as, 2);
}

#[test]
fn established_directly_connected_ebgp_off_subnet_next_hop_is_treated_as_withdraw() {
    let mut c = config();
    c.directly_connected = true;
    let mut s = established_with(c, &peer_open(90));
    s.handle(
        at(2),
        Event::SharedSubnets {
            subnets: vec![
                "10.0.0.0/24".parse().unwrap(),
                "2001:db8::/64".parse().unwrap(),
            ],
            peer: Some("10.0.0.2".parse().unwrap()),
        },
    );
    let on = route("203.0.113.0/24", [10, 0, 0, 9], PEER_AS);
    let off = route("198.51.100.0/24", [192, 0, 2, 1], PEER_AS);
    let ev = receive(&mut s, 3, std::slice::from_ref(&on));
    assert_eq!(ev.announced, vec![on]);
    let ev = receive(&mut s, 4, std::slice::from_ref(&off));
    assert_eq!(ev.rejected_next_hop, vec![off.nlri]);
    assert!(ev.announced.is_empty());
    assert_eq!(s.counters().rejected_next_hop, 1);
    assert_eq!(s.adj_rib_in().len(), 1);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_multihop_ebgp_and_ibgp_skip_the_shared_subnet_rule() {
    let subnets = Event::SharedSubnets {
        subnets: vec!["10.0.0.0/24".parse().unwrap()],
        peer: Some("10.0.0.2".parse().unwrap()),
    };
    // Multihop eBGP: directly_connected is off.
    let mut s = established();
    s.handle(at(2), subnets.clone());
    let off = route("198.51.100.0/24", [192, 0, 2, 1], PEER_AS);
    assert_eq!(
        receive(&mut s, 3, std::slice::from_ref(&off)).announced,
        vec![off]
    );
    // iBGP: never judged, even when marked directly connected.
    let mut c = SessionConfig::new(LOCAL_AS, LOCAL_AS, local_id());
    c.directly_connected = true;
    let mut o = peer_open(90);
    o.my_as = LOCAL_AS as u16;
    o.capabilities = vec![Capability::FourOctetAs(LOCAL_AS)];
    let mut s = established_with(c, &o);
    s.handle(at(2), subnets);
    let r = Route {
        nlri: Nlri::new("198.51.100.0/24".parse().unwrap()),
        next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
        attrs: Arc::new(PathAttributes {
            local_pref: Some(100),
            ..PathAttributes::default()
        }),
    };
    assert_eq!(
        receive(&mut s, 3, std::slice::from_ref(&r)).announced,
        vec![r]
    );
}

/// Issue 17 item 6, decision D6 with `max_prefixes_action = drop`: beyond the limit new
/// prefixes are not kept, the session stays up, and the crossing is reported once until
/// the table is below the limit again. A kept prefix can still be replaced.
#[test]
fn established_max_prefixes_drop_keeps_the_session_and_reports_each_crossing_once() {
    let mut c = config();
    c.max_prefixes = Some(2);
    c.max_prefixes_action = crate::PrefixLimitAction::Drop;
    let mut s = established_with(c, &peer_open(90));
    let r = |i: u8| route(&format!("203.0.{i}.0/24"), [10, 0, 0, 2], PEER_AS);
    let ev = receive(&mut s, 3, &[r(1), r(2), r(3)]);
    assert_eq!(ev.announced.len(), 2);
    assert_eq!(
        (ev.prefix_limit_dropped, ev.prefix_limit_crossed),
        (1, Some(2))
    );
    // Still over: dropped and counted, not reported again.
    let ev = receive(&mut s, 4, &[r(4)]);
    assert_eq!(
        (ev.prefix_limit_dropped, ev.prefix_limit_crossed),
        (1, None)
    );
    // A kept prefix is replaced (new next hop), not dropped.
    let mut again = r(1);
    again.next_hop = NextHop::V4(Ipv4Addr::new(10, 0, 0, 3));
    let ev = receive(&mut s, 5, &[again.clone()]);
    assert_eq!(ev.announced, vec![again]);
    assert_eq!(ev.prefix_limit_dropped, 0);
    // Withdraw one: below the limit; the next crossing is reported anew.
    let cx = s.context();
    let mut b = BytesMut::new();
    UpdateBuilder::new(&cx).withdraw(&[r(2).nlri], &mut b);
    s.handle(at(6), Event::Message(b.freeze()));
    assert_eq!(s.adj_rib_in().len(), 1);
    let ev = receive(&mut s, 7, &[r(5), r(6)]);
    assert_eq!(ev.announced.len(), 1);
    assert_eq!(
        (ev.prefix_limit_dropped, ev.prefix_limit_crossed),
        (1, Some(2))
    );
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.counters().prefix_limit_dropped, 3);
}
