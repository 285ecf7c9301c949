//! Scenario 7: the router restarts (SIGTERM, then started again with the same configuration).
//! bgpd reconnects and re-announces everything; the router ends with exactly the announced set.

use std::collections::BTreeSet;

use interop::{wait_eq, Service, Topology};

use crate::common::*;

fn router_restart(kind: Kind) {
    let topo = Topology::new(&format!("s07-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let mut router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let mut cfg = bgpd_config(&n, &r, ROUTER_AS);
    let mut expected = BTreeSet::new();
    for i in 1..=5 {
        let prefix = format!("192.0.2.{i}/32");
        cfg = cfg.service(Service::new(&format!("svc{i}"), &prefix).nexthops(&["self"]));
        expected.insert(prefix);
    }
    let bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &expected, || router.prefixes(&n, false)),
        expected
    );

    let before_restart = bgpd.log_len();
    router.restart();
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &expected, || router.prefixes(&n, false)),
        expected
    );
    // The routes came over a new session: bgpd logged an establishment after the restart.
    let line = bgpd.wait_log_from(before_restart, ROUTES, &["session with r", "established"]);
    assert!(
        line.is_some(),
        "bgpd logged no new session after the restart:\n{}",
        bgpd.log_text()
    );
    assert!(bgpd.running(), "bgpd must survive the router's restart");
}

#[test]
fn s07_router_restart_bgpd_reconnects_and_reannounces_frr() {
    router_restart(Kind::Frr);
}

#[test]
fn s07_router_restart_bgpd_reconnects_and_reannounces_bird() {
    router_restart(Kind::Bird);
}
