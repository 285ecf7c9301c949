//! bgpd as the router (issue 16 item 1): it receives one service prefix from several node
//! speakers and builds its Loc-RIB with the RFC 4271 §9.1 decision process and the multipath
//! rule. What is checked is the router's own view, through `bgpctl routes --best` and
//! `bgpctl explain` on the router:
//!
//! - three nodes in AS 65001 (one FRR, two bgpd) with different next hops: 3 members (one
//!   best, two multipath, weight 1 each); a fourth node in AS 65004 is not multipath
//!   ("neighbour-as");
//! - a node withdraws: 2 members; it announces again with a longer AS_PATH: not multipath,
//!   reason "as-path-length";
//! - `[rib] as_path_relax = true` (SIGHUP): the AS 65004 path of equal length joins;
//! - a node stops (session closed): its path leaves the Loc-RIB at once;
//! - a controller sends the prefix over one ADD-PATH session (RFC 7911) with three next hops:
//!   three members from that one peer; one next hop fewer: two;
//! - FRR nodes that set the Link Bandwidth extended community (draft-ietf-idr-link-bandwidth)
//!   get proportional weights; a member without it makes all weights equal;
//! - BFD Down (a node's link cut): although graceful restart was negotiated, the node's path
//!   leaves the Loc-RIB within the BFD Detection Time, not after the restart time;
//! - a node's bgpd killed and restarted (no BFD, graceful restart, RFC 4724): its path stays a
//!   member, stale, through the gap, and is refreshed when the node is back.
//!
//! Needs root, iproute2 and FRR (`./test.sh`); fails rather than skips without them.

#[path = "interop/common.rs"]
mod common;

use std::time::{Duration, Instant};

use interop::{wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, Node, Peer, Service};
use serde_json::{json, Value};

use common::*;

const NODE_AS: u32 = 65001;
const OTHER_AS: u32 = 65004;

/// The router's Loc-RIB entry for WEB (`routes --best` with the prefix), or Null.
fn entry(router: &Bgpd<'_>) -> Value {
    router
        .control(json!({"cmd": "routes", "best": true, "prefix": WEB}))
        .map(|v| v[0].clone())
        .unwrap_or(Value::Null)
}

/// (peer, status, reason_code) of each path, in rank order.
fn verdicts(e: &Value) -> Vec<(String, String, Option<String>)> {
    e["paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["peer"].as_str().unwrap_or_default().to_string(),
                        p["status"].as_str().unwrap_or_default().to_string(),
                        p["reason_code"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The forwarding set: (next hop, weight), sorted.
fn members(e: &Value) -> Vec<(String, u64)> {
    e["next_hops"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    (
                        n["next_hop"].as_str().unwrap_or_default().to_string(),
                        n["weight"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn status_of(e: &Value, peer: &str) -> Option<(String, Option<String>)> {
    verdicts(e)
        .into_iter()
        .find(|(p, _, _)| p == peer)
        .map(|(_, s, r)| (s, r))
}

fn node_cfg(node: &Node, asn: u32, router: &Node, prepend: Option<u8>) -> BgpdConfig {
    let mut svc = Service::new("web", WEB).nexthops(&["self"]);
    if let Some(n) = prepend {
        svc = svc.as_path_prepend(n);
    }
    BgpdConfig::new(asn, node.ipv4)
        .peer(Peer::new(router.ipv4.into(), ROUTER_AS).name("r"))
        .service(svc)
}

fn router_cfg(router: &Node, nodes: &[(&Node, u32, bool)], relax: bool) -> BgpdConfig {
    let mut cfg = BgpdConfig::new(ROUTER_AS, router.ipv4);
    cfg.global.listen = Some(vec![router.ipv4.to_string()]);
    for (n, asn, passive) in nodes {
        let mut p = Peer::new(n.ipv4.into(), *asn)
            .name(&n.role)
            .key("import", "[\"192.0.2.0/24 le 32\"]");
        if *passive {
            p = p.key("passive", "true");
        }
        cfg = cfg.peer(p);
    }
    if relax {
        cfg = cfg.rib_key("as_path_relax", "true");
    }
    cfg
}

#[test]
fn router_selects_multipath_members_and_explains_the_others() {
    let topo = interop::Topology::new("locrib");
    let r = topo.add_node("r");
    let n1 = topo.add_node("n1");
    let n2 = topo.add_node("n2");
    let n3 = topo.add_node("n3");
    let n4 = topo.add_node("n4");
    // n1 is FRR (the router connects to it); n2-n4 are bgpd nodes that connect to the router.
    let peers = [
        (&n1, NODE_AS, false),
        (&n2, NODE_AS, true),
        (&n3, NODE_AS, true),
        (&n4, OTHER_AS, true),
    ];
    let frr = Frr::start(
        &topo,
        &n1,
        FrrConfig::new(NODE_AS, n1.ipv4)
            .neighbor(FrrNeighbor::new(r.ipv4.into(), ROUTER_AS).passive())
            .network(WEB),
    );
    let router = start_bgpd(&topo, &r, &router_cfg(&r, &peers, false));
    let _b2 = start_bgpd(&topo, &n2, &node_cfg(&n2, NODE_AS, &r, None));
    let b3 = start_bgpd(&topo, &n3, &node_cfg(&n3, NODE_AS, &r, None));
    let _b4 = start_bgpd(&topo, &n4, &node_cfg(&n4, OTHER_AS, &r, None));
    assert_eq!(
        frr.wait_established(r.ipv4.into(), ESTABLISH),
        "Established"
    );

    // 1. Four paths: the three of AS 65001 are members, AS 65004's is not.
    let e = wait_until(
        ESTABLISH,
        || entry(&router),
        |e| verdicts(e).len() == 4 && members(e).len() == 3,
    );
    assert_eq!(
        members(&e),
        vec![
            (n1.ipv4.to_string(), 1),
            (n2.ipv4.to_string(), 1),
            (n3.ipv4.to_string(), 1)
        ],
        "{e:#}"
    );
    let v = verdicts(&e);
    assert_eq!(v[0].1, "best", "{e:#}");
    assert_eq!(v.iter().filter(|x| x.1 == "multipath").count(), 2, "{e:#}");
    assert_eq!(
        status_of(&e, "n4"),
        Some(("not-multipath".into(), Some("neighbour-as".into()))),
        "{e:#}"
    );
    assert_eq!(e["weighting"], "equal");
    // The same through the bgpctl binary: JSON and the table.
    let cli: Value = serde_json::from_str(&router.ctl(&["routes", "--best", "--json"]))
        .expect("routes --best --json is JSON");
    assert_eq!(members(&cli[0]), members(&e));
    let table = router.ctl(&["routes", "--best"]);
    eprintln!("{table}");
    assert!(
        table.contains("not multipath: neighbouring AS 65004 != 65001"),
        "{table}"
    );
    // explain on the router side carries the same decision.
    let x = router
        .control(json!({"cmd": "explain", "prefix": WEB}))
        .expect("explain");
    assert_eq!(members(&x["loc_rib"]), members(&e), "{x:#}");

    // 2. n3 withdraws: two members.
    b3.ctl(&["withdraw", WEB]);
    let e = wait_until(ROUTES, || entry(&router), |e| members(e).len() == 2);
    assert_eq!(
        members(&e),
        vec![(n1.ipv4.to_string(), 1), (n2.ipv4.to_string(), 1)],
        "{e:#}"
    );
    assert_eq!(status_of(&e, "n3"), None, "{e:#}");

    // 3. n3 announces again with a longer AS_PATH: kept, not multipath, and why.
    b3.reload(&node_cfg(&n3, NODE_AS, &r, Some(1)));
    b3.ctl(&["announce", WEB]);
    let e = wait_until(
        ROUTES,
        || entry(&router),
        |e| status_of(e, "n3").is_some_and(|s| s.1.as_deref() == Some("as-path-length")),
    );
    assert_eq!(
        status_of(&e, "n3"),
        Some(("not-multipath".into(), Some("as-path-length".into()))),
        "{e:#}"
    );
    assert_eq!(members(&e).len(), 2, "{e:#}");
    let n3_path = e["paths"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["peer"] == "n3"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(n3_path["reason"], "AS_PATH length 2 != 1", "{e:#}");
    assert_eq!(
        n3_path["lost_at"], "AS_PATH length (RFC 4271 §9.1.2.2 a)",
        "{e:#}"
    );

    // 4. as_path_relax: AS 65004's path (length 1) joins; n3's (length 2) stays out.
    router.reload(&router_cfg(&r, &peers, true));
    let e = wait_until(ROUTES, || entry(&router), |e| members(e).len() == 3);
    assert_eq!(
        members(&e),
        vec![
            (n1.ipv4.to_string(), 1),
            (n2.ipv4.to_string(), 1),
            (n4.ipv4.to_string(), 1)
        ],
        "{e:#}"
    );
    assert_eq!(status_of(&e, "n4").map(|s| s.0), Some("multipath".into()));
    assert_eq!(
        status_of(&e, "n3").and_then(|s| s.1),
        Some("as-path-length".into())
    );

    eprintln!("{}", router.ctl(&["explain", WEB]));
    // 5. n4's bgpd stops (Cease, session closed): its path leaves at once.
    let started = Instant::now();
    assert!(_b4.terminate(Duration::from_secs(10)).is_some(), "n4 exits");
    let e = wait_until(ROUTES, || entry(&router), |e| status_of(e, "n4").is_none());
    let took = started.elapsed();
    assert_eq!(status_of(&e, "n4"), None, "{e:#}");
    assert_eq!(
        members(&e),
        vec![(n1.ipv4.to_string(), 1), (n2.ipv4.to_string(), 1)],
        "{e:#}"
    );
    assert!(
        took < Duration::from_secs(3),
        "n4's path left the Loc-RIB after {took:?}"
    );
    assert_eq!(router.count_log(&["panic"]), 0, "{}", router.log_text());
}

#[test]
fn router_takes_a_controllers_add_path_paths_as_members() {
    let topo = interop::Topology::new("locrib-ap");
    let r = topo.add_node("r");
    let ctl = topo.add_node("ctl");
    // The next hops are nodes on the LAN (the controller speaks for them).
    let nodes: Vec<Node> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    let nh: Vec<String> = nodes.iter().map(|n| n.ipv4.to_string()).collect();
    let mut router_cfg = BgpdConfig::new(ROUTER_AS, r.ipv4);
    router_cfg.global.listen = Some(vec![r.ipv4.to_string()]);
    let router_cfg = router_cfg.peer(
        Peer::new(ctl.ipv4.into(), NODE_AS)
            .name("ctl")
            .add_path()
            .key("passive", "true")
            .key("import", "[\"192.0.2.0/24 le 32\"]"),
    );
    let router = start_bgpd(&topo, &r, &router_cfg);
    let ctl_cfg = |nexthops: &[String]| {
        let nh: Vec<&str> = nexthops.iter().map(String::as_str).collect();
        BgpdConfig::new(NODE_AS, ctl.ipv4)
            .peer(Peer::new(r.ipv4.into(), ROUTER_AS).name("r").add_path())
            .service(Service::new("web", WEB).nexthops(&nh))
    };
    let controller = start_bgpd(&topo, &ctl, &ctl_cfg(&nh));
    let e = wait_until(ESTABLISH, || entry(&router), |e| members(e).len() == 3);
    let want: Vec<(String, u64)> = nh.iter().map(|n| (n.clone(), 1)).collect();
    assert_eq!(members(&e), want, "{e:#}");
    let paths = e["paths"].as_array().cloned().unwrap_or_default();
    assert!(paths.iter().all(|p| p["peer"] == "ctl"), "{e:#}");
    let mut ids: Vec<u64> = paths.iter().filter_map(|p| p["path_id"].as_u64()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct path ids: {e:#}");
    assert_eq!(
        verdicts(&e)
            .iter()
            .map(|v| v.1.as_str())
            .collect::<Vec<_>>(),
        ["best", "multipath", "multipath"]
    );
    // One next hop fewer at the controller: that path is withdrawn, two members stay.
    controller.reload(&ctl_cfg(&nh[..2]));
    let e = wait_until(ROUTES, || entry(&router), |e| members(e).len() == 2);
    assert_eq!(members(&e), want[..2].to_vec(), "{e:#}");
    assert_eq!(verdicts(&e).len(), 2, "{e:#}");
}

#[test]
fn link_bandwidth_from_frr_nodes_weights_the_members() {
    let topo = interop::Topology::new("locrib-lb");
    let r = topo.add_node("r");
    let n1 = topo.add_node("n1");
    let n2 = topo.add_node("n2");
    let n3 = topo.add_node("n3");
    // n1 and n2 are FRR with 1000 and 500 Mbit/s; n3 is a bgpd node without the community.
    let frrs: Vec<Frr<'_>> = [(&n1, 1000), (&n2, 500)]
        .into_iter()
        .map(|(n, mbps)| {
            let frr = Frr::start(
                &topo,
                n,
                FrrConfig::new(NODE_AS, n.ipv4)
                    .neighbor(FrrNeighbor::new(r.ipv4.into(), ROUTER_AS).passive())
                    .network(WEB),
            );
            frr.configure(&[
                "route-map LB permit 10",
                &format!("set extcommunity bandwidth {mbps}"),
                "exit",
                &format!("router bgp {NODE_AS}"),
                "address-family ipv4 unicast",
                &format!("neighbor {} route-map LB out", r.ipv4),
            ]);
            frr
        })
        .collect();
    let peers = [
        (&n1, NODE_AS, false),
        (&n2, NODE_AS, false),
        (&n3, NODE_AS, true),
    ];
    let router = start_bgpd(&topo, &r, &router_cfg(&r, &peers, false));
    for frr in &frrs {
        assert_eq!(
            frr.wait_established(r.ipv4.into(), ESTABLISH),
            "Established"
        );
    }
    // 125 and 62.5 MB/s: 255 and 127.5, rounded to 128.
    let e = wait_until(
        ESTABLISH,
        || entry(&router),
        |e| members(e).len() == 2 && e["weighting"] == "link bandwidth",
    );
    assert_eq!(
        members(&e),
        vec![(n1.ipv4.to_string(), 255), (n2.ipv4.to_string(), 128)],
        "{e:#}"
    );
    let bandwidths: Vec<u64> = e["paths"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["bandwidth"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(bandwidths, [125_000_000, 62_500_000], "{e:#}");
    // A member without the community: every weight is 1, and the entry says why.
    let _b3 = start_bgpd(&topo, &n3, &node_cfg(&n3, NODE_AS, &r, None));
    let e = wait_until(ESTABLISH, || entry(&router), |e| members(e).len() == 3);
    assert_eq!(
        members(&e),
        vec![
            (n1.ipv4.to_string(), 1),
            (n2.ipv4.to_string(), 1),
            (n3.ipv4.to_string(), 1)
        ],
        "{e:#}"
    );
    assert_eq!(
        e["weighting"], "equal (1 member(s) without a usable link bandwidth)",
        "{e:#}"
    );
}

#[test]
fn bfd_down_removes_a_dead_nodes_path_at_once_despite_graceful_restart() {
    let topo = interop::Topology::new("locrib-bfd");
    let r = topo.add_node("r");
    let n1 = topo.add_node("n1");
    let n2 = topo.add_node("n2");
    let bfd = "{ min_rx = \"100ms\", min_tx = \"100ms\", multiplier = 3 }";
    let mut rcfg = router_cfg(&r, &[(&n1, NODE_AS, true), (&n2, NODE_AS, true)], false);
    for p in &mut rcfg.peers {
        *p = p.clone().key("bfd", bfd);
    }
    let router = start_bgpd(&topo, &r, &rcfg);
    let nodes: Vec<Bgpd<'_>> = [&n1, &n2]
        .into_iter()
        .map(|n| {
            let mut cfg = node_cfg(n, NODE_AS, &r, None);
            cfg.peers[0] = cfg.peers[0].clone().key("bfd", bfd);
            start_bgpd(&topo, n, &cfg)
        })
        .collect();
    let e = wait_until(ESTABLISH, || entry(&router), |e| members(e).len() == 2);
    assert_eq!(members(&e).len(), 2, "{e:#}");
    // Both BFD sessions Up, and graceful restart negotiated with n2 (its routes would be
    // kept stale after a plain session loss).
    let up = |name: &str| {
        router
            .neighbor(name)
            .map(|n| n["bfd"]["state"] == "Up")
            .unwrap_or(false)
    };
    assert!(wait_until(ESTABLISH, || up("n1") && up("n2"), |u| *u));
    let n2_info = router.neighbor("n2").expect("neighbor n2");
    assert!(
        n2_info["remote"]["graceful_restart"].as_u64().is_some(),
        "n2 offered graceful restart: {n2_info:#}"
    );
    let started = Instant::now();
    topo.set_link(&n2, false);
    let e = wait_until(
        Duration::from_secs(10),
        || entry(&router),
        |e| members(e).len() == 1,
    );
    let took = started.elapsed();
    println!("n2's path left the router's Loc-RIB {} ms after its link went down (BFD Detection Time 300 ms)", took.as_millis());
    assert_eq!(members(&e), vec![(n1.ipv4.to_string(), 1)], "{e:#}");
    assert_eq!(status_of(&e, "n2"), None, "no stale path kept: {e:#}");
    assert!(
        took < Duration::from_millis(1500),
        "BFD Down took {took:?} to remove the path"
    );
    assert!(
        router.count_log(&["6/10"]) > 0,
        "the router closed with Cease 6/10 BFD Down:\n{}",
        router.log_text()
    );
    drop(nodes);
}

#[test]
fn a_restarting_nodes_path_stays_a_member_through_graceful_restart() {
    let topo = interop::Topology::new("locrib-gr");
    let r = topo.add_node("r");
    let n1 = topo.add_node("n1");
    let n2 = topo.add_node("n2");
    let router = start_bgpd(
        &topo,
        &r,
        &router_cfg(&r, &[(&n1, NODE_AS, true), (&n2, NODE_AS, true)], false),
    );
    let _b1 = start_bgpd(&topo, &n1, &node_cfg(&n1, NODE_AS, &r, None));
    let b2 = start_bgpd(&topo, &n2, &node_cfg(&n2, NODE_AS, &r, None));
    let both = vec![(n1.ipv4.to_string(), 1), (n2.ipv4.to_string(), 1)];
    let e = wait_until(ESTABLISH, || entry(&router), |e| members(e) == both);
    assert_eq!(members(&e), both, "{e:#}");
    // kill -9: no NOTIFICATION; the router's session closes and graceful restart keeps the
    // node's route (stale), so its next hop stays in the set.
    topo.signal(b2.pid(), libc::SIGKILL);
    assert!(topo.wait_exit(b2.pid(), Duration::from_secs(5)).is_some());
    let state = |name: &str| {
        router
            .neighbor(name)
            .map(|n| n["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let down = wait_until(ESTABLISH, || state("n2"), |s| s != "Established");
    assert_ne!(down, "Established", "the router never saw n2's session go");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let e = entry(&router);
        assert_eq!(members(&e), both, "n2 left during its restart: {e:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        router
            .wait_log(Duration::from_secs(1), &["Loc-RIB", "n2", "1 kept stale"])
            .is_some(),
        "{}",
        router.log_text()
    );
    // The node is back: Established again, still a member.
    let _b2 = start_bgpd(&topo, &n2, &node_cfg(&n2, NODE_AS, &r, None));
    let up = wait_until(ESTABLISH, || state("n2"), |s| s == "Established");
    assert_eq!(up, "Established");
    let e = entry(&router);
    assert_eq!(members(&e), both, "{e:#}");
}
