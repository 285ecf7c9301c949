//! Scenario 1: one IPv4 session; the service /32 arrives with next hop = the node, our AS path
//! (with `as_path_prepend`), communities, large communities and MED. The iBGP variant carries
//! LOCAL_PREF and an empty AS path (RFC 4271 §5.1.2: no prepending towards internal peers).

use std::collections::BTreeMap;

use interop::{wait_eq, BirdRoute, FrrPath, Service, Topology};

use crate::common::*;

fn ebgp(kind: Kind) {
    let topo = Topology::new(&format!("s01-ebgp-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let _bgpd = start_bgpd(
        &topo,
        &n,
        &bgpd_config(&n, &r, ROUTER_AS).service(web_service()),
    );
    router.assert_established(&n, false);
    let node = n.ipv4.to_string();
    // Our AS once for eBGP, plus two prepends.
    let as_path = "64512 64512 64512";
    match kind {
        Kind::Frr => {
            let expected = BTreeMap::from([(
                WEB.to_string(),
                vec![FrrPath {
                    med: Some(10),
                    communities: "64512:100 no-export".into(),
                    large_communities: "64512:1:100".into(),
                    best: true,
                    ..frr_path(&node, &node, as_path)
                }],
            )]);
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.frr().table(false)),
                expected
            );
        }
        Kind::Bird => {
            let expected = vec![BirdRoute {
                med: Some(10),
                // 65535:65281 is NO_EXPORT (RFC 1997).
                communities: "(64512,100) (65535,65281)".into(),
                large_communities: "(64512, 1, 100)".into(),
                primary: true,
                ..bird_route(WEB, "n1", &node, as_path)
            }];
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.bird().routes("n1")),
                expected
            );
        }
    }
}

fn ibgp(kind: Kind) {
    let topo = Topology::new(&format!("s01-ibgp-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        remote_as: BGPD_AS,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, BGPD_AS, &[&n], &opts);
    let service = Service::new("web", WEB)
        .nexthops(&["self"])
        .med(10)
        .local_pref(200)
        .communities(&["64512:100"]);
    let _bgpd = start_bgpd(&topo, &n, &bgpd_config(&n, &r, BGPD_AS).service(service));
    router.assert_established(&n, false);
    let node = n.ipv4.to_string();
    match kind {
        Kind::Frr => {
            let expected = BTreeMap::from([(
                WEB.to_string(),
                vec![FrrPath {
                    med: Some(10),
                    local_pref: Some(200),
                    communities: "64512:100".into(),
                    best: true,
                    // FRR's JSON spells an empty AS_PATH "Local", also for a path from an
                    // internal peer.
                    ..frr_path(&node, &node, "Local")
                }],
            )]);
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.frr().table(false)),
                expected
            );
        }
        Kind::Bird => {
            let expected = vec![BirdRoute {
                med: Some(10),
                local_pref: Some(200),
                communities: "(64512,100)".into(),
                primary: true,
                ..bird_route(WEB, "n1", &node, "")
            }];
            assert_eq!(
                wait_eq(ROUTES, &expected, || router.bird().routes("n1")),
                expected
            );
        }
    }
}

#[test]
fn s01_ebgp_service_arrives_with_every_attribute_frr() {
    ebgp(Kind::Frr);
}

#[test]
fn s01_ebgp_service_arrives_with_every_attribute_bird() {
    ebgp(Kind::Bird);
}

#[test]
fn s01_ibgp_service_carries_local_pref_frr() {
    ibgp(Kind::Frr);
}

#[test]
fn s01_ibgp_service_carries_local_pref_bird() {
    ibgp(Kind::Bird);
}
