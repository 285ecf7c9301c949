//! Scenario 4: IPv6. A /128 over an IPv6 session (MP_REACH_NLRI, RFC 4760, next hop = the node's
//! global address), and both families over one IPv4 session, the IPv6 service carrying an
//! explicit IPv6 next hop (issue 4: "self" is the session's IPv4 address there).

use std::collections::BTreeMap;

use interop::{wait_eq, BgpdConfig, BirdRoute, FrrPath, Peer, Service, Topology};

use crate::common::*;

const WEB6: &str = "2001:db8::10/128";

fn v6_session(kind: Kind) {
    let topo = Topology::new(&format!("s04-v6-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        ipv4: false,
        ipv6: true,
        v6_session: true,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            Peer::new(r.addr(true), ROUTER_AS)
                .name("r")
                .families(&["ipv6-unicast"]),
        )
        .service(Service::new("web6", WEB6).nexthops(&["self"]));
    let _bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, true);
    let node = n.ipv6.to_string();
    match kind {
        Kind::Frr => {
            let expected = BTreeMap::from([(
                WEB6.to_string(),
                vec![FrrPath {
                    best: true,
                    ..frr_path(&node, &node, "64512")
                }],
            )]);
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.frr().table(true)),
                expected
            );
            assert_eq!(router.frr().table(false), BTreeMap::new(), "no IPv4 routes");
        }
        Kind::Bird => {
            let expected = vec![BirdRoute {
                primary: true,
                ..bird_route(WEB6, "n1", &node, "64512")
            }];
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.bird().routes("n1")),
                expected
            );
        }
    }
}

fn both_families(kind: Kind) {
    let topo = Topology::new(&format!("s04-dual-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        ipv4: true,
        ipv6: true,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let v6_nexthop = n.ipv6.to_string();
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            Peer::new(r.addr(false), ROUTER_AS)
                .name("r")
                .families(&["ipv4-unicast", "ipv6-unicast"]),
        )
        .service(Service::new("web", WEB).nexthops(&["self"]))
        .service(Service::new("web6", WEB6).nexthops(&[&v6_nexthop]));
    let _bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, false);
    let peer = n.ipv4.to_string();
    match kind {
        Kind::Frr => {
            let v4 = BTreeMap::from([(
                WEB.to_string(),
                vec![FrrPath {
                    best: true,
                    ..frr_path(&peer, &peer, "64512")
                }],
            )]);
            let v6 = BTreeMap::from([(
                WEB6.to_string(),
                vec![FrrPath {
                    best: true,
                    ..frr_path(&peer, &v6_nexthop, "64512")
                }],
            )]);
            let expected = (v4, v6);
            let got = wait_eq(ROUTES, &expected, || {
                (router.frr().table(false), router.frr().table(true))
            });
            assert_eq!(got, expected, "(IPv4 table, IPv6 table)");
        }
        Kind::Bird => {
            let mut expected = vec![
                BirdRoute {
                    primary: true,
                    ..bird_route(WEB, "n1", &peer, "64512")
                },
                BirdRoute {
                    primary: true,
                    ..bird_route(WEB6, "n1", &v6_nexthop, "64512")
                },
            ];
            expected.sort();
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.bird().routes("n1")),
                expected
            );
        }
    }
}

#[test]
fn s04_ipv6_service_over_ipv6_session_frr() {
    v6_session(Kind::Frr);
}

#[test]
fn s04_ipv6_service_over_ipv6_session_bird() {
    v6_session(Kind::Bird);
}

#[test]
fn s04_both_families_over_one_session_frr() {
    both_families(Kind::Frr);
}

#[test]
fn s04_both_families_over_one_session_bird() {
    both_families(Kind::Bird);
}
