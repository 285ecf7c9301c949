//! Scenario 10: 10 000 services. The router has exactly all of them, and (FRR) bgpd sent them in
//! packed UPDATEs: 10 000 /32 NLRI of 5 octets need about 13 messages of 4096 octets, so we allow
//! at most 50 UPDATEs where an unpacked speaker would send 10 000. BIRD only counts routes, not
//! messages, so its variant checks the exact set alone.

use std::collections::BTreeSet;
use std::time::Duration;

use interop::{wait_eq, Service, Topology};
use serde_json::Value;

use crate::common::*;

const COUNT: usize = 10_000;

fn scale(kind: Kind) {
    let topo = Topology::new(&format!("s10-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let mut cfg = bgpd_config(&n, &r, ROUTER_AS);
    let mut expected = BTreeSet::new();
    // 198.18.0.0/15 (RFC 2544 benchmarking): 198.18.<i/250>.<i%250+1>.
    for i in 0..COUNT {
        let prefix = format!("198.18.{}.{}/32", i / 250, i % 250 + 1);
        cfg = cfg.service(Service::new(&format!("s{i}"), &prefix).nexthops(&["self"]));
        expected.insert(prefix);
    }
    let _bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, false);
    let got = wait_eq(Duration::from_secs(60), &expected, || {
        router.prefixes(&n, false)
    });
    if got != expected {
        let missing = expected.difference(&got).count();
        let extra: Vec<_> = got.difference(&expected).take(10).collect();
        panic!(
            "router has {} prefixes: {missing} missing, unexpected {extra:?}",
            got.len()
        );
    }
    if let Router::Frr(f) = &router {
        let stats = f.neighbor(n.addr(false));
        let updates = stats
            .get("messageStats")
            .and_then(|m| m.get("updatesRecv"))
            .and_then(Value::as_u64);
        eprintln!("FRR received {updates:?} UPDATE messages for {COUNT} prefixes");
        assert!(
            updates.is_some_and(|u| (1..=50).contains(&u)),
            "bgpd sent {updates:?} UPDATEs for {COUNT} prefixes; packed UPDATEs need about 13"
        );
    }
}

#[test]
fn s10_ten_thousand_services_in_packed_updates_frr() {
    scale(Kind::Frr);
}

#[test]
fn s10_ten_thousand_services_bird() {
    scale(Kind::Bird);
}
