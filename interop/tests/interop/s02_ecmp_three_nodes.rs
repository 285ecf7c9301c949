//! Scenario 2: three nodes, three bgpd processes, one service. FRR selects one best path and
//! uses all three as ECMP multipath; BIRD lists three paths, one preferred.

use std::collections::BTreeMap;

use interop::{wait_until, FrrPath, Service, Topology};

use crate::common::*;

fn three_nodes(kind: Kind) {
    let topo = Topology::new(&format!("s02-{kind:?}"));
    let r = topo.add_node("r");
    let nodes: Vec<_> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    let refs: Vec<_> = nodes.iter().collect();
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &refs, &NeighborOpts::default());
    let _bgpds: Vec<_> = nodes
        .iter()
        .map(|n| {
            let svc = Service::new("web", WEB).nexthops(&["self"]);
            start_bgpd(&topo, n, &bgpd_config(n, &r, ROUTER_AS).service(svc))
        })
        .collect();
    for n in &nodes {
        router.assert_established(n, false);
    }
    match kind {
        Kind::Frr => {
            let paths: Vec<FrrPath> = nodes
                .iter()
                .map(|n| FrrPath {
                    multipath: true,
                    ..frr_path(&n.ipv4.to_string(), &n.ipv4.to_string(), "64512")
                })
                .collect();
            let expected = (BTreeMap::from([(WEB.to_string(), sorted(paths))]), vec![1]);
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
            let expected: Vec<_> = nodes
                .iter()
                .map(|n| bird_route(WEB, &n.role, &n.ipv4.to_string(), "64512"))
                .collect();
            let all = || {
                let mut v = Vec::new();
                for n in &nodes {
                    v.extend(router.bird().routes(&n.role));
                }
                bird_without_primary(v)
            };
            let expected = (sorted(expected), 1);
            assert_eq!(
                wait_until(ROUTES, all, |g| *g == expected),
                expected,
                "(routes, number preferred)"
            );
        }
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn s02_three_bgpd_nodes_give_three_way_ecmp_frr() {
    three_nodes(Kind::Frr);
}

#[test]
fn s02_three_bgpd_nodes_give_three_paths_bird() {
    three_nodes(Kind::Bird);
}
