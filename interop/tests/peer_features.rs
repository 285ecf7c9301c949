//! Per-peer session features (issue 14 item 3) at the routers: BGP Roles (RFC 9234) against
//! FRR in strict mode, with OTC on the routes bgpd sends to a customer; an IPv4 service with
//! an IPv6 next hop over an IPv6-only session (RFC 8950) at FRR and BIRD; link-local and
//! unnumbered sessions with FRR. And (issue 17 item 2) an active peer whose session FRR
//! opened keeps connecting out after FRR resets it.
//!
//! Needs root, FRR and BIRD, like the interop suite (`./test.sh`).

#[path = "interop/common.rs"]
mod common;

use interop::{wait_until, Bgpd, BgpdConfig, Bird, BirdConfig, BirdNeighbor, Service, Topology};
use serde_json::Value;

use common::*;

const WEB_PREFIX: &str = "192.0.2.10/32";

/// FRR as our customer in strict mode: the session comes up only because bgpd sends its Role
/// (provider); the route carries OTC = bgpd's AS. A wrong role is refused with 2/11.
#[test]
fn role_strict_frr_establishes_with_provider_and_sees_otc() {
    let topo = Topology::new("role-frr");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(
        Kind::Frr,
        &topo,
        &r,
        ROUTER_AS,
        &[&n],
        &NeighborOpts::default(),
    );
    let frr = router.frr();
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        &format!("neighbor {} local-role customer strict-mode", n.ipv4),
    ]);
    let cfg = |role: &str| {
        BgpdConfig::new(BGPD_AS, n.ipv4)
            .peer(
                interop::Peer::new(r.addr(false), ROUTER_AS)
                    .name("r")
                    .key("role", &format!("\"{role}\""))
                    .key("role_strict", "true"),
            )
            .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]))
    };
    let bgpd = Bgpd::start(&topo, &n, &cfg("provider"));
    router.assert_established(&n, false);
    let nb = frr.neighbor(n.ipv4.into());
    println!(
        "FRR roles: local {} remote {}",
        nb["localRole"], nb["remoteRole"]
    );
    assert_eq!(nb["remoteRole"], "provider", "{nb}");
    let route = wait_until(
        ROUTES,
        || frr.json(&format!("show bgp ipv4 unicast {WEB_PREFIX} json")),
        |v| v["paths"].as_array().is_some_and(|p| !p.is_empty()),
    );
    let otc = &route["paths"][0]["otc"];
    assert_eq!(otc, &Value::from(BGPD_AS), "OTC on the route: {route}");
    drop(bgpd);

    // "peer" does not pair with FRR's "customer": FRR refuses the OPEN with 2/11.
    let topo2 = Topology::new("role-frr-bad");
    let r2 = topo2.add_node("r");
    let n2 = topo2.add_node("n1");
    let router2 = Router::start(
        Kind::Frr,
        &topo2,
        &r2,
        ROUTER_AS,
        &[&n2],
        &NeighborOpts::default(),
    );
    router2.frr().configure(&[
        &format!("router bgp {ROUTER_AS}"),
        &format!("neighbor {} local-role customer strict-mode", n2.ipv4),
    ]);
    let bad = BgpdConfig::new(BGPD_AS, n2.ipv4)
        .peer(
            interop::Peer::new(r2.addr(false), ROUTER_AS)
                .name("r")
                .key("role", "\"peer\""),
        )
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]));
    let bgpd2 = Bgpd::start(&topo2, &n2, &bad);
    assert!(
        bgpd2.wait_log(ESTABLISH, &["2/11"]).is_some(),
        "bgpd never saw the Role Mismatch NOTIFICATION:\n{}",
        bgpd2.log_text()
    );
    assert_ne!(router2.state(&n2, false), "Established");
}

/// The bgpd config of an IPv6-only session carrying an IPv4 service (RFC 8950).
fn v6_only_config(n: &interop::Node, r: &interop::Node) -> BgpdConfig {
    BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            interop::Peer::new(r.addr(true), ROUTER_AS)
                .name("r")
                .families(&["ipv4-unicast"])
                .key("extended_next_hop", "true"),
        )
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]))
}

#[test]
fn ipv4_service_over_ipv6_only_session_frr() {
    let topo = Topology::new("enh-frr");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        v6_session: true,
        ipv4: true,
        ipv6: false,
        ..NeighborOpts::default()
    };
    let router = Router::start(Kind::Frr, &topo, &r, ROUTER_AS, &[&n], &opts);
    let frr = router.frr();
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        &format!("neighbor {} capability extended-nexthop", n.ipv6),
    ]);
    let _bgpd = Bgpd::start(&topo, &n, &v6_only_config(&n, &r));
    router.assert_established(&n, true);
    let path = wait_until(
        ROUTES,
        || frr.paths(WEB_PREFIX).into_iter().next(),
        Option::is_some,
    )
    .expect("FRR has the IPv4 route from the IPv6 session");
    assert_eq!(path.nexthop, n.ipv6.to_string(), "{path:?}");
}

#[test]
fn ipv4_service_over_ipv6_only_session_bird() {
    let topo = Topology::new("enh-bird");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let bird = Bird::start(
        &topo,
        &r,
        BirdConfig::new(ROUTER_AS, r.ipv4).neighbor(
            BirdNeighbor::new("n1", n.addr(true), BGPD_AS)
                .families(true, false)
                .extended_next_hop()
                .passive(),
        ),
    );
    let _bgpd = Bgpd::start(&topo, &n, &v6_only_config(&n, &r));
    assert_eq!(bird.wait_established("n1", ESTABLISH), "Established");
    let route = wait_until(
        ROUTES,
        || {
            bird.routes("n1")
                .into_iter()
                .find(|r| r.prefix == WEB_PREFIX)
        },
        Option::is_some,
    )
    .expect("BIRD has the IPv4 route from the IPv6 session");
    assert_eq!(route.nexthop, n.ipv6.to_string(), "{route:?}");
}

/// Gives `node`'s eth0 the link-local address `addr` (nodad: usable at once); the harness's
/// namespaces have none of their own.
fn add_link_local(node: &interop::Node, addr: &str) -> std::net::Ipv6Addr {
    interop::topo::ip(&[
        "-n",
        &node.ns,
        "addr",
        "add",
        &format!("{addr}/64"),
        "dev",
        "eth0",
        "nodad",
    ]);
    addr.parse().expect("link-local address")
}

/// A session between link-local addresses only (`address = "fe80::..."` with `interface`):
/// FRR (`neighbor fe80::... interface eth0`) gets the IPv6 service with the node's global
/// address as next hop and its link-local one beside it (RFC 2545 §3).
#[test]
fn link_local_session_frr_gets_global_and_link_local_next_hops() {
    let topo = Topology::new("ll-frr");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let r_ll = add_link_local(&r, "fe80::1:1");
    let n_ll = add_link_local(&n, "fe80::1:2");
    let frr = interop::Frr::start(
        &topo,
        &r,
        // zebra: FRR learns its interfaces (and their link-local scope) only from zebra.
        interop::FrrConfig::new(ROUTER_AS, r.ipv4).zebra().neighbor(
            interop::FrrNeighbor::new(std::net::IpAddr::V6(n_ll), BGPD_AS)
                .families(false, true)
                .passive(),
        ),
    );
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        &format!("neighbor {n_ll} interface eth0"),
    ]);
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            interop::Peer::new(std::net::IpAddr::V6(r_ll), ROUTER_AS)
                .name("r")
                .families(&["ipv6-unicast"])
                .key("interface", "\"eth0\""),
        )
        .service(Service::new("web6", "2001:db8::10/128").nexthops(&["self"]));
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    let state = frr.wait_established(std::net::IpAddr::V6(n_ll), ESTABLISH);
    assert_eq!(state, "Established", "{}", bgpd.log_text());
    let route = wait_until(
        ROUTES,
        || frr.json("show bgp ipv6 unicast 2001:db8::10/128 json"),
        |v| v["paths"].as_array().is_some_and(|p| !p.is_empty()),
    );
    let hops = &route["paths"][0]["nexthops"];
    let ips: Vec<String> = hops
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["ip"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        ips.contains(&n.ipv6.to_string()) && ips.contains(&n_ll.to_string()),
        "global {} and link-local {n_ll} next hops expected: {route}",
        n.ipv6
    );
}

/// An unnumbered session (`interface = "eth0"` alone) with FRR's interface peer (`neighbor
/// eth0 interface remote-as external`): no neighbor address is configured on either side.
/// Before FRR runs, bgpd says it waits for a router advertisement; then each learns the
/// other's link-local address from the other's Router Advertisements, the session comes up,
/// and FRR has the IPv4 service with bgpd's IPv6 next hops (RFC 8950) in its RIB and the
/// router's kernel FIB.
#[test]
fn unnumbered_session_frr_interface_peer_gets_ipv4_service() {
    let topo = Topology::new("unnum-frr");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let r_ll = add_link_local(&r, "fe80::1:1");
    let n_ll = add_link_local(&n, "fe80::1:2");
    // A node takes no configuration from the router's advertisements (FRR's carry the link's
    // prefix): its global next hop stays the configured address. bgpd's raw socket still
    // sees them.
    topo.sysctl(&n, "net.ipv6.conf.eth0.accept_ra", "0");
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(interop::Peer::unnumbered("eth0", ROUTER_AS).name("r"))
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]));
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    // No router yet: the peer says what it waits for.
    let waiting = wait_until(
        ESTABLISH,
        || bgpd.neighbor("r").unwrap_or_default(),
        |v| {
            v["connect_error"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("waiting for a router advertisement on eth0"))
        },
    );
    assert_eq!(waiting["address"], "::", "nothing learned yet: {waiting}");
    assert_eq!(waiting["state"], "Connect", "{waiting}");

    let frr = interop::Frr::start(
        &topo,
        &r,
        // zebra sends and receives FRR's router advertisements.
        interop::FrrConfig::new(ROUTER_AS, r.ipv4).zebra(),
    );
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        "neighbor eth0 interface remote-as external",
        "neighbor eth0 timers 3 9",
        "neighbor eth0 timers connect 1",
        "address-family ipv4 unicast",
        "neighbor eth0 activate",
        "exit-address-family",
    ]);
    let neighbor = wait_until(
        ESTABLISH,
        || frr.json("show bgp neighbors eth0 json"),
        |v| v["eth0"]["bgpState"] == "Established",
    );
    assert_eq!(
        neighbor["eth0"]["bgpState"],
        "Established",
        "{neighbor}\n{}",
        bgpd.log_text()
    );
    assert_eq!(
        neighbor["eth0"]["bgpNeighborAddr"],
        n_ll.to_string(),
        "FRR learned bgpd's link-local address: {neighbor}"
    );
    // zebra lists a neighbor on an interface only from the Router Advertisements it
    // received there (zebra/rtadv.c): bgpd's.
    let zebra = frr
        .vtysh_d("zebra", "show interface eth0")
        .unwrap_or_else(|e| e);
    assert!(
        zebra.contains("Neighbor address(s):") && zebra.contains(&format!("inet6 {n_ll}/128")),
        "zebra learned bgpd's link-local address from its advertisements: {zebra}"
    );
    let ours = bgpd.neighbor("r").expect("bgpctl neighbor r");
    assert_eq!(ours["address"], r_ll.to_string(), "{ours}");
    assert_eq!(ours["state"], "Established", "{ours}");
    let link = &ours["unnumbered"];
    assert_eq!(link["interface"], "eth0", "{ours}");
    assert!(
        link["adverts_sent"].as_u64() >= Some(1) && link["adverts_received"].as_u64() >= Some(1),
        "router advertisements both ways: {ours}"
    );
    assert_eq!(
        link["dropped"], 0,
        "FRR's advertisements pass RFC 4861 §6.1.2: {ours}"
    );

    // FRR's RIB: the IPv4 service with the node's IPv6 next hops (RFC 8950).
    let route = wait_until(
        ROUTES,
        || frr.json(&format!("show bgp ipv4 unicast {WEB_PREFIX} json")),
        |v| v["paths"].as_array().is_some_and(|p| !p.is_empty()),
    );
    let ips: Vec<String> = route["paths"][0]["nexthops"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["ip"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        ips.contains(&n.ipv6.to_string()) && ips.contains(&n_ll.to_string()),
        "global {} and link-local {n_ll} next hops expected: {route}",
        n.ipv6
    );
    // The router's kernel FIB: the IPv4 route through the node's link-local address.
    let fib = wait_until(
        ROUTES,
        || topo.exec(&r, "ip", &["route", "show", WEB_PREFIX]),
        |out| out.contains(&n_ll.to_string()),
    );
    assert!(
        fib.contains(&format!("via inet6 {n_ll} dev eth0")),
        "kernel route of {WEB_PREFIX} at the router: {fib:?}"
    );
}

/// The router is replaced (its link-local address changes, as a new box's would): once the
/// old address has been silent for the stale time (30 s), bgpd moves the session to the new
/// one, and FRR sees it Established again.
#[test]
fn unnumbered_session_moves_when_the_router_link_local_changes() {
    let topo = Topology::new("unnum-move");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let r_ll = add_link_local(&r, "fe80::1:1");
    add_link_local(&n, "fe80::1:2");
    topo.sysctl(&n, "net.ipv6.conf.eth0.accept_ra", "0");
    let cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(interop::Peer::unnumbered("eth0", ROUTER_AS).name("r"))
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]));
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    let frr = interop::Frr::start(
        &topo,
        &r,
        interop::FrrConfig::new(ROUTER_AS, r.ipv4).zebra(),
    );
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        "neighbor eth0 interface remote-as external",
        "neighbor eth0 timers 3 9",
        "neighbor eth0 timers connect 1",
        "address-family ipv4 unicast",
        "neighbor eth0 activate",
        "exit-address-family",
    ]);
    let up = |addr: std::net::Ipv6Addr| {
        wait_until(
            std::time::Duration::from_secs(90),
            || bgpd.neighbor("r").unwrap_or_default(),
            |v| v["state"] == "Established" && v["address"] == addr.to_string(),
        )
    };
    let first = up(r_ll);
    assert_eq!(first["address"], r_ll.to_string(), "{first}");

    // The new router: another link-local address, the old one gone.
    interop::topo::ip(&[
        "-n",
        &r.ns,
        "addr",
        "del",
        &format!("{r_ll}/64"),
        "dev",
        "eth0",
    ]);
    let new_ll = add_link_local(&r, "fe80::1:3");
    let moved = up(new_ll);
    assert_eq!(
        moved["address"],
        new_ll.to_string(),
        "the session moved to the new address: {moved}\n{}",
        bgpd.log_text()
    );
    assert!(
        bgpd.log_text()
            .contains("the unnumbered neighbor on eth0 is now fe80::1:3 (was fe80::1:1"),
        "{}",
        bgpd.log_text()
    );
    let neighbor = wait_until(
        ESTABLISH,
        || frr.json("show bgp neighbors eth0 json"),
        |v| v["eth0"]["bgpState"] == "Established" && v["eth0"]["hostLocal"] == "fe80::1:3",
    );
    assert_eq!(neighbor["eth0"]["hostLocal"], "fe80::1:3", "{neighbor}");
}

/// A passive unnumbered peer with a TCP MD5 password: bgpd never connects; FRR learns bgpd's
/// link-local address from bgpd's Router Advertisements and connects to it, signed, and bgpd
/// accepts the connection from a link-local address of the peer's interface (the listener
/// holds the key for fe80::/10).
#[test]
fn passive_unnumbered_peer_accepts_frr_signed_connection_from_the_link() {
    let topo = Topology::new("unnum-pasv");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let r_ll = add_link_local(&r, "fe80::1:1");
    let n_ll = add_link_local(&n, "fe80::1:2");
    topo.sysctl(&n, "net.ipv6.conf.eth0.accept_ra", "0");
    let mut cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(
            interop::Peer::unnumbered("eth0", ROUTER_AS)
                .name("r")
                .password("s3cret")
                .key("passive", "true"),
        )
        .service(Service::new("web", WEB_PREFIX).nexthops(&["self"]));
    cfg.global.listen = Some(vec!["[::]:179".to_string()]);
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    let frr = interop::Frr::start(
        &topo,
        &r,
        interop::FrrConfig::new(ROUTER_AS, r.ipv4).zebra(),
    );
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        "neighbor eth0 interface remote-as external",
        "neighbor eth0 timers 3 9",
        "neighbor eth0 timers connect 1",
        "neighbor eth0 password s3cret",
        "address-family ipv4 unicast",
        "neighbor eth0 activate",
        "exit-address-family",
    ]);
    let neighbor = wait_until(
        ESTABLISH,
        || frr.json("show bgp neighbors eth0 json"),
        |v| v["eth0"]["bgpState"] == "Established",
    );
    assert_eq!(
        neighbor["eth0"]["bgpState"],
        "Established",
        "{neighbor}\n{}",
        bgpd.log_text()
    );
    // FRR connected out: the session's far port is bgpd's 179.
    assert_eq!(neighbor["eth0"]["portForeign"], 179, "{neighbor}");
    assert_eq!(neighbor["eth0"]["bgpNeighborAddr"], n_ll.to_string());
    let ours = bgpd.neighbor("r").expect("bgpctl neighbor r");
    assert_eq!(ours["address"], r_ll.to_string(), "{ours}");
    let path = wait_until(
        ROUTES,
        || frr.paths(WEB_PREFIX).into_iter().next(),
        Option::is_some,
    )
    .expect("FRR has the IPv4 route");
    assert_eq!(path.nexthop, n.ipv6.to_string(), "{path:?}");
}

/// Issue 17 item 2 (RFC 4271 §8: PassiveTcpEstablishment is a configured attribute of the
/// peer, not of the connection that happened to survive), against FRR with a real collision.
///
/// 1. FRR (BGP Identifier higher than bgpd's) starts passive. In FRR's namespace nftables drops
///    every packet to port 179 except a bare SYN, so bgpd's outbound connection completes its
///    handshake on bgpd's side, bgpd sends its OPEN into the void and sits in OpenSent.
/// 2. FRR turns active and connects to bgpd: the connections collide (RFC 4271 §6.8) and FRR's
///    (bgpd's inbound one) survives because FRR's identifier is higher.
/// 3. The filter goes; FRR turns passive again and resets the session. Only bgpd connecting out
///    brings it back, and it must: before the fix the survivor kept the inbound start's
///    passive flag and waited in Active for good.
#[test]
fn active_peer_connects_out_again_after_frr_won_a_collision_and_reset() {
    let topo = Topology::new("coll-frr");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let nb: std::net::IpAddr = n.ipv4.into();
    let frr_id: std::net::Ipv4Addr = "10.255.255.254".parse().unwrap();
    assert!(frr_id > n.ipv4, "FRR's identifier must be the higher one");
    let frr = interop::Frr::start(
        &topo,
        &r,
        interop::FrrConfig::new(ROUTER_AS, frr_id).zebra().neighbor(
            interop::FrrNeighbor::new(nb, BGPD_AS)
                .hold_time(9)
                .passive(),
        ),
    );
    let nft = |command: &str| {
        topo.exec(&r, "nft", &[command]);
    };
    nft("add table inet collision");
    nft("add chain inet collision input { type filter hook input priority 0; }");
    nft("add rule inet collision input tcp dport 179 tcp flags & (syn | ack) != syn drop");

    let mut cfg = BgpdConfig::new(BGPD_AS, n.ipv4)
        .peer(interop::Peer::new(r.ipv4.into(), ROUTER_AS).name("r"))
        .service(web_service());
    cfg.global.listen = Some(vec![format!("{}:179", n.ipv4)]);
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    let state = || {
        bgpd.neighbor("r")
            .map(|v| v["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        wait_until(ESTABLISH, state, |s| s == "OpenSent"),
        "OpenSent",
        "bgpd's outbound connection must wait for FRR's OPEN"
    );

    // FRR connects out: the collision, won by FRR's connection.
    let router = format!("router bgp {ROUTER_AS}");
    frr.configure(&[&router, &format!("no neighbor {nb} passive")]);
    let resolved = bgpd.wait_log(
        ESTABLISH,
        &[
            "connection collision with r",
            "closing the outbound connection",
        ],
    );
    assert!(
        resolved.is_some(),
        "no collision resolved in favour of FRR's connection:\n{}",
        bgpd.log_text()
    );
    assert_eq!(frr.wait_established(nb, ESTABLISH), "Established");
    let ports = |v: &Value| (v["portLocal"].as_u64(), v["portForeign"].as_u64());
    let first = frr.neighbor(nb);
    assert_eq!(
        ports(&first).1,
        Some(179),
        "the surviving session must be FRR's connection (FRR's local, foreign port)"
    );
    let established = first["connectionsEstablished"].as_u64().unwrap_or(0);

    // The filter goes; FRR stops connecting out and resets the session.
    nft("delete table inet collision");
    frr.configure(&[&router, &format!("neighbor {nb} passive")]);
    frr.vtysh(&format!("clear bgp {nb}")).expect("clear bgp");
    let back = wait_until(
        ESTABLISH,
        || frr.neighbor(nb),
        |v| {
            v["connectionsEstablished"].as_u64().unwrap_or(0) > established
                && v["bgpState"] == "Established"
        },
    );
    assert_eq!(
        back["bgpState"], "Established",
        "bgpd never connected out again after the reset: {back}"
    );
    assert_eq!(
        ports(&back).0,
        Some(179),
        "the new session must be bgpd's connection (FRR's local, foreign port)"
    );
    assert!(
        wait_until(ROUTES, || frr.prefixes(false), |p| p.contains(WEB)).contains(WEB),
        "FRR did not get the service back"
    );
}
