//! Scenario 3: one bgpd announces a service with three per-node next hops over ADD-PATH
//! (RFC 7911): the router lists three paths from that one session, one per next hop, and FRR uses
//! all three as multipath. The next hops belong to two further node namespaces on the LAN, so
//! they are real, reachable addresses.

use std::collections::BTreeMap;

use interop::{wait_until, BgpdConfig, FrrPath, Peer, Service, Topology};

use crate::common::*;

fn add_path(kind: Kind) {
    let topo = Topology::new(&format!("s03-{kind:?}"));
    let r = topo.add_node("r");
    let nodes: Vec<_> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    let speaker = &nodes[0];
    let router = Router::start(
        kind,
        &topo,
        &r,
        ROUTER_AS,
        &[speaker],
        &NeighborOpts::default(),
    );
    let nexthops: Vec<String> = nodes.iter().map(|n| n.ipv4.to_string()).collect();
    let nh: Vec<&str> = nexthops.iter().map(String::as_str).collect();
    let cfg = BgpdConfig::new(BGPD_AS, speaker.ipv4)
        .peer(Peer::new(r.addr(false), ROUTER_AS).name("r").add_path())
        .service(Service::new("web", WEB).nexthops(&nh));
    let _bgpd = start_bgpd(&topo, speaker, &cfg);
    router.assert_established(speaker, false);
    let from = speaker.ipv4.to_string();
    match kind {
        Kind::Frr => {
            let mut paths: Vec<FrrPath> = nh
                .iter()
                .map(|nh| FrrPath {
                    multipath: true,
                    ..frr_path(&from, nh, "64512")
                })
                .collect();
            paths.sort();
            let expected = (BTreeMap::from([(WEB.to_string(), paths)]), vec![1]);
            let got = wait_until(
                ROUTES,
                || frr_without_best(router.frr().table(false)),
                |t| *t == expected,
            );
            assert_eq!(
                got, expected,
                "(table without the best flag, number of best paths per prefix)"
            );
        }
        Kind::Bird => {
            let mut routes: Vec<_> = nh
                .iter()
                .map(|nh| interop::BirdRoute {
                    via: nh.to_string(),
                    ..bird_route(WEB, "n1", nh, "64512")
                })
                .collect();
            routes.sort();
            let expected = (routes, 1);
            let got = wait_until(
                ROUTES,
                || bird_without_primary(router.bird().routes("n1")),
                |g| *g == expected,
            );
            assert_eq!(got, expected, "(routes, number preferred)");
        }
    }
}

#[test]
fn s03_add_path_three_nexthops_from_one_bgpd_frr() {
    add_path(Kind::Frr);
}

#[test]
fn s03_add_path_three_nexthops_from_one_bgpd_bird() {
    add_path(Kind::Bird);
}
