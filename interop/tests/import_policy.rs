//! Import policy and loop detection (issue 13 §3) against FRR in network namespaces:
//!
//! - three bgpd nodes in one AS behind an FRR route reflector, `max_prefixes = 10` and the
//!   default import ("none"): for the soak (300 s, `IMPORT_SOAK_SECS` to shorten it locally)
//!   no session resets and no node keeps another node's route, while FRR has all three;
//! - an eBGP route whose AS_PATH holds bgpd's own AS is discarded and counted as a loop even
//!   with `import = "all"` (RFC 4271 §9.1.2), and the session stays up;
//! - an eBGP route whose next hop is off the subnet shared with FRR is treated as withdrawn and
//!   counted (RFC 4271 §6.3, decision D5), and the session stays up;
//! - `import = ["203.0.113.0/24 le 32"]` keeps only matching routes; a SIGHUP to
//!   `import = "all"` brings the others in by route refresh (RFC 2918) and a narrower policy
//!   drops them again, without a session reset.
//!
//! Like the rest of the suite these tests need root, iproute2 and FRR (`./test.sh`) and fail
//! rather than skip without them. The tests of this file run in parallel; the soak takes five
//! minutes by default, which CI's parallel run absorbs.

#[path = "interop/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use interop::{wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, Node, Peer, Service};
use serde_json::Value;

use common::*;

/// The soak of the route-reflector test: the issue's five minutes unless overridden.
fn soak() -> Duration {
    let secs = std::env::var("IMPORT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    Duration::from_secs(secs)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn received(b: &Bgpd<'_>) -> BTreeSet<String> {
    b.received("r")
        .unwrap_or_else(|e| panic!("routes --received on {}: {e}", b.node.role))
        .into_iter()
        .collect()
}

fn neighbor(b: &Bgpd<'_>) -> Value {
    b.neighbor("r")
        .unwrap_or_else(|e| panic!("neighbor r on {}: {e}", b.node.role))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// FRR's count of sessions established with `node` (`connectionsEstablished`).
fn frr_established(frr: &Frr<'_>, node: &Node) -> u64 {
    frr.neighbor(node.ipv4.into())["connectionsEstablished"]
        .as_u64()
        .unwrap_or(0)
}

/// bgpd on `node` with one peer "r" (the FRR router) and extra peer keys.
fn bgpd_with(node: &Node, router: &Node, router_as: u32, keys: &[(&str, &str)]) -> BgpdConfig {
    let mut peer = Peer::new(router.addr(false), router_as).name("r");
    for (k, v) in keys {
        peer = peer.key(k, v);
    }
    BgpdConfig::new(BGPD_AS, node.ipv4).peer(peer)
}

#[test]
fn route_reflector_soak_three_ibgp_nodes_keep_no_reflected_route_and_never_reset() {
    let topo = interop::Topology::new("imp-rr");
    let r = topo.add_node("r");
    let nodes: Vec<Node> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    // FRR in the nodes' AS reflects every client's route to the other clients (RFC 4456),
    // and originates twelve routes of its own: more than max_prefixes.
    let mut cfg = FrrConfig::new(BGPD_AS, r.ipv4);
    for n in &nodes {
        cfg = cfg.neighbor(FrrNeighbor::new(n.ipv4.into(), BGPD_AS).passive());
    }
    for i in 0..12 {
        cfg = cfg.network(&format!("198.51.100.{i}/32"));
    }
    let frr = Frr::start(&topo, &r, cfg);
    let mut rr = vec![
        format!("router bgp {BGPD_AS}"),
        "address-family ipv4 unicast".to_string(),
    ];
    rr.extend(
        nodes
            .iter()
            .map(|n| format!("neighbor {} route-reflector-client", n.ipv4)),
    );
    frr.configure(&rr.iter().map(String::as_str).collect::<Vec<_>>());

    let services: Vec<String> = (1..=3).map(|i| format!("192.0.2.{i}/32")).collect();
    let bgpds: Vec<Bgpd<'_>> = nodes
        .iter()
        .zip(&services)
        .map(|(n, svc)| {
            let cfg = bgpd_with(n, &r, BGPD_AS, &[("max_prefixes", "10")])
                .service(Service::new("svc", svc).nexthops(&["self"]));
            start_bgpd(&topo, n, &cfg)
        })
        .collect();
    for n in &nodes {
        assert_eq!(
            frr.wait_established(n.ipv4.into(), ESTABLISH),
            "Established",
            "FRR's session with {}",
            n.role
        );
    }
    let all: BTreeSet<String> = services.iter().cloned().collect();
    let got = wait_until(ROUTES, || frr.prefixes(false), |p| all.is_subset(p));
    assert!(all.is_subset(&got), "FRR has {got:?}, expected {all:?}");
    // Every node was sent the other two nodes' routes and FRR's twelve: counted, not kept.
    for b in &bgpds {
        let n = wait_until(
            ROUTES,
            || neighbor(b),
            |n| count(n, "routes_import_rejected") + count(n, "routes_looped") >= 14,
        );
        assert!(
            count(&n, "routes_import_rejected") + count(&n, "routes_looped") >= 14,
            "{}: {n}",
            b.node.role
        );
        assert_eq!(n["import_policy"], "none");
    }
    let established: Vec<u64> = nodes.iter().map(|n| frr_established(&frr, n)).collect();

    let soak = soak();
    eprintln!("soaking for {} s", soak.as_secs());
    let end = Instant::now() + soak;
    loop {
        for (b, n) in bgpds.iter().zip(&nodes) {
            let nb = neighbor(b);
            assert_eq!(nb["state"], "Established", "{}: {nb}", n.role);
            assert_eq!(count(&nb, "flaps"), 0, "{}: {nb}", n.role);
            assert_eq!(count(&nb, "prefixes_received"), 0, "{}: {nb}", n.role);
            assert_eq!(received(b), BTreeSet::new(), "{} keeps routes", n.role);
            assert_eq!(
                frr.state(n.ipv4.into()),
                "Established",
                "FRR's view of {}",
                n.role
            );
        }
        let now: Vec<u64> = nodes.iter().map(|n| frr_established(&frr, n)).collect();
        assert_eq!(
            now, established,
            "FRR's established counts changed: a session reset"
        );
        let got = frr.prefixes(false);
        assert!(all.is_subset(&got), "FRR lost a node's route: {got:?}");
        if Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_secs(5).min(end - Instant::now()));
    }
    for b in &bgpds {
        assert_eq!(
            b.count_log(&["maximum number of prefixes"]),
            0,
            "{}",
            b.log_text()
        );
    }
}

#[test]
fn ebgp_route_with_our_as_in_the_path_is_a_counted_loop_even_with_import_all() {
    let topo = interop::Topology::new("imp-loop");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let cfg = FrrConfig::new(ROUTER_AS, r.ipv4)
        .neighbor(FrrNeighbor::new(n.ipv4.into(), BGPD_AS).passive())
        .network("203.0.113.0/24");
    let frr = Frr::start(&topo, &r, cfg);
    // 198.51.100.0/24 leaves FRR with AS_PATH "64500 64512": bgpd's own AS.
    frr.configure(&[
        "route-map LOOP permit 10",
        &format!("set as-path prepend {BGPD_AS}"),
        "exit",
        &format!("router bgp {ROUTER_AS}"),
        "address-family ipv4 unicast",
        "network 198.51.100.0/24 route-map LOOP",
    ]);
    let b = start_bgpd(
        &topo,
        &n,
        &bgpd_with(&n, &r, ROUTER_AS, &[("import", "\"all\"")]),
    );
    assert_eq!(
        frr.wait_established(n.ipv4.into(), ESTABLISH),
        "Established"
    );
    let got = wait_until(ROUTES, || received(&b), |p| !p.is_empty());
    assert_eq!(got, set(&["203.0.113.0/24"]), "kept routes");
    let nb = wait_until(ROUTES, || neighbor(&b), |v| count(v, "routes_looped") >= 1);
    assert_eq!(count(&nb, "routes_looped"), 1, "{nb}");
    assert_eq!(count(&nb, "prefixes_received"), 1, "{nb}");
    assert!(
        b.wait_log(ROUTES, &["198.51.100.0/24", "AS_PATH holds our AS 64512"])
            .is_some(),
        "{}",
        b.log_text()
    );
    // Still the first session on both sides.
    assert_eq!(count(&nb, "flaps"), 0);
    assert_eq!(frr_established(&frr, &n), 1);
    assert_eq!(received(&b), set(&["203.0.113.0/24"]));
}

#[test]
fn import_prefix_list_then_sighup_to_all_refreshes_without_a_reset() {
    let topo = interop::Topology::new("imp-sighup");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let cfg = FrrConfig::new(ROUTER_AS, r.ipv4)
        .neighbor(FrrNeighbor::new(n.ipv4.into(), BGPD_AS).passive())
        .network("203.0.113.0/24")
        .network("203.0.113.7/32")
        .network("198.51.100.0/24");
    let frr = Frr::start(&topo, &r, cfg);
    let narrow = [("import", "[\"203.0.113.0/24 le 32\"]")];
    let b = start_bgpd(&topo, &n, &bgpd_with(&n, &r, ROUTER_AS, &narrow));
    assert_eq!(
        frr.wait_established(n.ipv4.into(), ESTABLISH),
        "Established"
    );
    let inside = set(&["203.0.113.0/24", "203.0.113.7/32"]);
    let got = wait_until(ROUTES, || received(&b), |p| *p == inside);
    assert_eq!(got, inside, "a route outside the policy was stored");
    let nb = wait_until(
        ROUTES,
        || neighbor(&b),
        |v| count(v, "routes_import_rejected") >= 1,
    );
    assert_eq!(count(&nb, "routes_import_rejected"), 1, "{nb}");
    let refresh_before = frr.neighbor(n.ipv4.into())["messageStats"]["routeRefreshRecv"]
        .as_u64()
        .unwrap_or(0);

    // SIGHUP with import = "all": FRR is asked for a route refresh and sends everything again.
    b.reload(&bgpd_with(&n, &r, ROUTER_AS, &[("import", "\"all\"")]));
    let everything = set(&["203.0.113.0/24", "203.0.113.7/32", "198.51.100.0/24"]);
    let got = wait_until(ROUTES, || received(&b), |p| *p == everything);
    assert_eq!(got, everything, "after the reload to import = \"all\"");
    assert!(
        b.wait_log(ROUTES, &["import policy for r", "without a session reset"])
            .is_some(),
        "{}",
        b.log_text()
    );
    let refresh_after = frr.neighbor(n.ipv4.into())["messageStats"]["routeRefreshRecv"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        refresh_after > refresh_before,
        "FRR received no ROUTE-REFRESH ({refresh_before} -> {refresh_after})"
    );

    // A narrower policy drops what it no longer allows, still without a reset.
    b.reload(&bgpd_with(
        &n,
        &r,
        ROUTER_AS,
        &[("import", "[\"198.51.100.0/24\"]")],
    ));
    let only = set(&["198.51.100.0/24"]);
    let got = wait_until(ROUTES, || received(&b), |p| *p == only);
    assert_eq!(got, only, "after the reload to a narrower policy");

    let nb = neighbor(&b);
    assert_eq!(nb["state"], "Established", "{nb}");
    assert_eq!(count(&nb, "flaps"), 0, "{nb}");
    assert_eq!(frr_established(&frr, &n), 1, "FRR saw a session reset");
    assert_eq!(frr.state(n.ipv4.into()), "Established");
    assert_eq!(b.count_log(&["NOTIFICATION 6/6"]), 0, "{}", b.log_text());
}

#[test]
fn ebgp_next_hop_off_the_shared_subnet_is_treated_as_withdraw_and_counted() {
    let topo = interop::Topology::new("imp-nh");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let cfg = FrrConfig::new(ROUTER_AS, r.ipv4)
        .neighbor(FrrNeighbor::new(n.ipv4.into(), BGPD_AS).passive())
        .network("203.0.113.0/24")
        .network("198.51.100.0/24");
    let frr = Frr::start(&topo, &r, cfg);
    // 198.51.100.0/24 goes out with a third-party next hop on no subnet bgpd shares with FRR
    // (RFC 4271 §6.3 allows a third-party next hop only on the shared subnet).
    let neighbor_out = format!("neighbor {} route-map NH out", n.ipv4);
    frr.configure(&[
        "ip prefix-list OFF seq 5 permit 198.51.100.0/24",
        "route-map NH permit 10",
        "match ip address prefix-list OFF",
        "set ip next-hop 198.18.0.1",
        "exit",
        "route-map NH permit 20",
        "exit",
        &format!("router bgp {ROUTER_AS}"),
        "address-family ipv4 unicast",
        &neighbor_out,
    ]);
    let b = start_bgpd(
        &topo,
        &n,
        &bgpd_with(&n, &r, ROUTER_AS, &[("import", "\"all\"")]),
    );
    assert_eq!(
        frr.wait_established(n.ipv4.into(), ESTABLISH),
        "Established"
    );
    let nb = wait_until(
        ROUTES,
        || neighbor(&b),
        |v| count(v, "routes_rejected_next_hop") >= 1 && count(v, "prefixes_received") >= 1,
    );
    assert_eq!(count(&nb, "routes_rejected_next_hop"), 1, "{nb}");
    assert_eq!(received(&b), set(&["203.0.113.0/24"]), "kept routes");
    assert!(
        b.wait_log(ROUTES, &["198.51.100.0/24", "not on a subnet shared"])
            .is_some(),
        "{}",
        b.log_text()
    );
    assert_eq!(count(&nb, "flaps"), 0);
    assert_eq!(frr_established(&frr, &n), 1);
    assert_eq!(frr.state(n.ipv4.into()), "Established");
}
