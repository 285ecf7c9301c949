//! Operations on one peer (issue 14): one bgpd node peers with FRR (r1) and BIRD (r2); each
//! `bgpctl neighbor NAME ...` is judged at both routers: the peer it names sees the effect
//! (Cease 6/2 with its message, a reset, a route refresh, GRACEFUL_SHUTDOWN), the other router's
//! session and routes do not move.
//!
//! Needs root, FRR and BIRD, like the interop suite (`./test.sh`).

#[path = "interop/common.rs"]
mod common;

use std::time::Duration;

use interop::{holds_for, wait_until, Bgpd, BgpdConfig, Service, Topology};
use serde_json::Value;

use common::*;

const WEB_PREFIX: &str = "192.0.2.10/32";

#[test]
fn neighbor_operations_touch_only_their_router_frr_and_bird() {
    let topo = Topology::new("nbr-ops");
    let r1 = topo.add_node("r1");
    let r2 = topo.add_node("r2");
    let n = topo.add_node("n1");
    let opts = NeighborOpts::default();
    let frr_router = Router::start(Kind::Frr, &topo, &r1, ROUTER_AS, &[&n], &opts);
    let bird_router = Router::start(Kind::Bird, &topo, &r2, ROUTER_AS, &[&n], &opts);
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(interop::Peer::new(r1.addr(false), ROUTER_AS).name("r1"))
        .peer(interop::Peer::new(r2.addr(false), ROUTER_AS).name("r2"))
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]));
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    frr_router.assert_established(&n, false);
    bird_router.assert_established(&n, false);
    let frr = frr_router.frr();
    let bird = bird_router.bird();
    let has_web = |r: &Router<'_>| r.prefixes(&n, false).contains(WEB_PREFIX);
    assert!(wait_until(ROUTES, || has_web(&frr_router), |x| *x));
    assert!(wait_until(ROUTES, || has_web(&bird_router), |x| *x));
    let frr_nb = || frr.neighbor(n.ipv4.into());
    let frr_count = |key: &str| frr_nb()[key].as_u64().unwrap_or(0);
    // BIRD's session identity: its state and the time it entered it.
    let bird_session = || {
        let p = bird.protocol("n1");
        (p.bgp_state, p.since)
    };
    let bird_before = bird_session();
    let frr_established = frr_count("connectionsEstablished");
    let bird_untouched = |what: &str| {
        assert_eq!(bird_session(), bird_before, "{what}: BIRD's session moved");
        assert!(has_web(&bird_router), "{what}: BIRD lost the route");
    };

    // drain r2 (BIRD) alone: BIRD sees GRACEFUL_SHUTDOWN, FRR does not.
    bgpd.ctl(&["neighbor", "r2", "drain"]);
    let gshut = || {
        bird.routes("n1")
            .iter()
            .any(|r| r.prefix == WEB_PREFIX && r.communities.contains("(65535,0)"))
    };
    assert!(wait_until(ROUTES, gshut, |x| *x), "BIRD: GRACEFUL_SHUTDOWN");
    let frr_communities = || {
        frr.paths(WEB_PREFIX)
            .iter()
            .map(|p| p.communities.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        frr_communities().iter().all(|c| c.is_empty()),
        "FRR must not see the drain of r2: {:?}",
        frr_communities()
    );
    bgpd.ctl(&["neighbor", "r2", "undrain"]);
    assert!(!wait_until(ROUTES, gshut, |x| !*x), "BIRD: drain ended");
    assert_eq!(frr_count("connectionsEstablished"), frr_established);

    // refresh r1 (FRR): FRR receives a ROUTE-REFRESH; BIRD sees nothing.
    let refresh_before = frr_nb()["messageStats"]["routeRefreshRecv"]
        .as_u64()
        .unwrap_or(0);
    bgpd.ctl(&["neighbor", "r1", "refresh"]);
    let refreshed = wait_until(
        ROUTES,
        || {
            frr_nb()["messageStats"]["routeRefreshRecv"]
                .as_u64()
                .unwrap_or(0)
        },
        |c| *c > refresh_before,
    );
    assert!(refreshed > refresh_before, "FRR counted no ROUTE-REFRESH");
    bird_untouched("refresh r1");

    // reset r1: FRR's session goes down and comes back; BIRD's does not move.
    bgpd.ctl(&["neighbor", "r1", "reset"]);
    let back = wait_until(
        ESTABLISH,
        || {
            (
                frr_count("connectionsEstablished"),
                frr_router.state(&n, false),
            )
        },
        |(c, s)| *c > frr_established && s == "Established",
    );
    assert!(back.0 > frr_established, "FRR saw no reset: {back:?}");
    assert!(wait_until(ROUTES, || has_web(&frr_router), |x| *x));
    bird_untouched("reset r1");

    // shutdown r1 with a message: FRR gets Cease 6/2 with it and loses the route; it stays
    // down; BIRD keeps everything.
    bgpd.ctl(&[
        "neighbor",
        "r1",
        "shutdown",
        "--message",
        "rack 12 maintenance",
    ]);
    let desc = wait_until(
        ROUTES,
        || interop::frr::str_of(&frr_nb(), "lastShutdownDescription"),
        |d| d == "rack 12 maintenance",
    );
    assert_eq!(desc, "rack 12 maintenance");
    assert!(!wait_until(ROUTES, || has_web(&frr_router), |x| !*x));
    let held = holds_for(
        Duration::from_secs(3),
        || frr_router.state(&n, false),
        |s| s != "Established",
    );
    assert!(held.is_ok(), "r1 came back while shut down: {held:?}");
    let shown: Value =
        serde_json::from_str(&bgpd.ctl(&["--json", "neighbor", "r1"])).expect("JSON");
    assert_eq!(shown["admin_down"], "rack 12 maintenance", "{shown}");
    bird_untouched("shutdown r1");

    // enable r1: back, with the route.
    bgpd.ctl(&["neighbor", "r1", "enable"]);
    frr_router.assert_established(&n, false);
    assert!(wait_until(ROUTES, || has_web(&frr_router), |x| *x));
    bird_untouched("enable r1");
}

/// Per-peer overrides (`[peers.announce]`) and `local_as`, judged at each router: FRR sees
/// its community and MED, BIRD its own community and the AS bgpd presents to it alone.
#[test]
fn per_peer_overrides_are_seen_by_each_router_frr_and_bird() {
    const LOCAL_AS: u32 = 64599;
    let topo = Topology::new("nbr-over");
    let r1 = topo.add_node("r1");
    let r2 = topo.add_node("r2");
    let n = topo.add_node("n1");
    let frr_router = Router::start(
        Kind::Frr,
        &topo,
        &r1,
        ROUTER_AS,
        &[&n],
        &NeighborOpts::default(),
    );
    let bird_router = Router::start(
        Kind::Bird,
        &topo,
        &r2,
        ROUTER_AS,
        &[&n],
        &NeighborOpts {
            remote_as: LOCAL_AS,
            ..NeighborOpts::default()
        },
    );
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            interop::Peer::new(r1.addr(false), ROUTER_AS)
                .name("r1")
                .key("announce.communities", "[\"64512:101\"]")
                .key("announce.med", "7"),
        )
        .peer(
            interop::Peer::new(r2.addr(false), ROUTER_AS)
                .name("r2")
                .key("local_as", &LOCAL_AS.to_string())
                .key("announce.communities", "[\"64512:102\"]")
                .key("announce.as_path_prepend", "1"),
        )
        .service(
            Service::new("web", WEB_PREFIX)
                .nexthops(&["self"])
                .communities(&["64512:1"]),
        );
    let _bgpd = Bgpd::start(&topo, &n, &cfg);
    frr_router.assert_established(&n, false);
    bird_router.assert_established(&n, false);
    let frr_path = wait_until(
        ROUTES,
        || frr_router.frr().paths(WEB_PREFIX).into_iter().next(),
        Option::is_some,
    )
    .expect("FRR has the route");
    assert_eq!(frr_path.communities, "64512:1 64512:101", "{frr_path:?}");
    assert_eq!(frr_path.med, Some(7), "{frr_path:?}");
    assert_eq!(frr_path.as_path, BGPD_AS.to_string(), "{frr_path:?}");
    let bird_route = wait_until(
        ROUTES,
        || {
            bird_router
                .bird()
                .routes("n1")
                .into_iter()
                .find(|r| r.prefix == WEB_PREFIX)
        },
        Option::is_some,
    )
    .expect("BIRD has the route");
    assert_eq!(
        bird_route.communities, "(64512,1) (64512,102)",
        "{bird_route:?}"
    );
    assert_eq!(bird_route.med, None, "{bird_route:?}");
    assert_eq!(
        bird_route.as_path,
        format!("{LOCAL_AS} {LOCAL_AS}"),
        "local_as and one prepend: {bird_route:?}"
    );
}
