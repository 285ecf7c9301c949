//! Shared constants and setup for the scenarios.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use interop::{
    Bgpd, BgpdConfig, Bird, BirdConfig, BirdNeighbor, BirdRoute, Frr, FrrConfig, FrrNeighbor,
    FrrPath, Node, Peer, Service, Topology,
};

/// The AS of the bgpd nodes.
pub const BGPD_AS: u32 = 64512;
/// The AS of the router (eBGP scenarios).
pub const ROUTER_AS: u32 = 64500;
/// The service address most scenarios announce.
pub const WEB: &str = "192.0.2.10/32";
/// bgpd connects within a second (connect_retry 1); FRR/BIRD take a moment to answer OPEN.
pub const ESTABLISH: Duration = Duration::from_secs(30);
/// Time for announced routes to show up in the router after the session is up.
pub const ROUTES: Duration = Duration::from_secs(10);
/// The RFC 9003 shutdown communication bgpd sends on SIGTERM (issue 4).
pub const SHUTDOWN_MESSAGE: &str = "bgpd shutting down";

/// Which router a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Frr,
    Bird,
}

/// Either router, with the queries scenarios share.
pub enum Router<'t> {
    Frr(Frr<'t>),
    Bird(Bird<'t>),
}

/// Router neighbor settings a scenario may change.
#[derive(Debug, Clone)]
pub struct NeighborOpts {
    pub remote_as: u32,
    pub hold_time: u16,
    pub password: Option<String>,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Use the neighbor's IPv6 address for the session.
    pub v6_session: bool,
}

impl Default for NeighborOpts {
    fn default() -> Self {
        NeighborOpts {
            remote_as: BGPD_AS,
            hold_time: 9,
            password: None,
            ipv4: true,
            ipv6: false,
            v6_session: false,
        }
    }
}

impl<'t> Router<'t> {
    /// Starts a router of `kind` on `node` (AS `asn`) with one passive neighbor per bgpd node:
    /// bgpd makes the connections. BIRD names each protocol after the node's role.
    pub fn start(
        kind: Kind,
        topo: &'t Topology,
        node: &Node,
        asn: u32,
        nodes: &[&Node],
        opts: &NeighborOpts,
    ) -> Router<'t> {
        match kind {
            Kind::Frr => {
                let mut cfg = FrrConfig::new(asn, node.ipv4);
                for n in nodes {
                    let mut nb = FrrNeighbor::new(n.addr(opts.v6_session), opts.remote_as)
                        .hold_time(opts.hold_time)
                        .families(opts.ipv4, opts.ipv6)
                        .passive();
                    if let Some(p) = &opts.password {
                        nb = nb.password(p);
                    }
                    cfg = cfg.neighbor(nb);
                }
                Router::Frr(Frr::start(topo, node, cfg))
            }
            Kind::Bird => {
                let mut cfg = BirdConfig::new(asn, node.ipv4);
                for n in nodes {
                    let mut nb =
                        BirdNeighbor::new(&n.role, n.addr(opts.v6_session), opts.remote_as)
                            .hold_time(opts.hold_time)
                            .families(opts.ipv4, opts.ipv6)
                            .add_path_rx()
                            .passive();
                    if let Some(p) = &opts.password {
                        nb = nb.password(p);
                    }
                    cfg = cfg.neighbor(nb);
                }
                Router::Bird(Bird::start(topo, node, cfg))
            }
        }
    }

    pub fn frr(&self) -> &Frr<'t> {
        match self {
            Router::Frr(f) => f,
            Router::Bird(_) => panic!("not an FRR router"),
        }
    }

    pub fn bird(&self) -> &Bird<'t> {
        match self {
            Router::Bird(b) => b,
            Router::Frr(_) => panic!("not a BIRD router"),
        }
    }

    /// The router's BGP state for the session with `node` ("Established", ...).
    pub fn state(&self, node: &Node, v6_session: bool) -> String {
        match self {
            Router::Frr(f) => f.state(node.addr(v6_session)),
            Router::Bird(b) => b.state(&node.role),
        }
    }

    /// Waits for the session with `node` and asserts it is Established.
    pub fn assert_established(&self, node: &Node, v6_session: bool) {
        let state = interop::wait_until(
            ESTABLISH,
            || self.state(node, v6_session),
            |s| s == "Established",
        );
        assert_eq!(
            state,
            "Established",
            "session with {} ({})",
            node.role,
            node.addr(v6_session)
        );
    }

    /// The set of prefixes the router has learned from `node` (`v6`: the IPv6 table).
    pub fn prefixes(&self, node: &Node, v6: bool) -> std::collections::BTreeSet<String> {
        match self {
            // FRR's table holds only what bgpd nodes announced (the router originates nothing).
            Router::Frr(f) => f.prefixes(v6),
            Router::Bird(b) => b
                .prefixes(&node.role)
                .into_iter()
                .filter(|p| p.contains(':') == v6)
                .collect(),
        }
    }

    pub fn restart(&mut self) {
        match self {
            Router::Frr(f) => f.restart(),
            Router::Bird(b) => b.restart(),
        }
    }
}

/// The eBGP service of scenario 1: every attribute bgpd can set.
pub fn web_service() -> Service {
    Service::new("web", WEB)
        .nexthops(&["self"])
        .communities(&["64512:100", "no-export"])
        .large_communities(&["64512:1:100"])
        .med(10)
        .as_path_prepend(2)
}

/// bgpd on `node` peering with the router on `router` (AS `router_as`), named "r".
pub fn bgpd_config(node: &Node, router: &Node, router_as: u32) -> BgpdConfig {
    BgpdConfig::new(BGPD_AS, node.ipv4).peer(Peer::new(router.addr(false), router_as).name("r"))
}

/// Starts bgpd and returns it.
pub fn start_bgpd<'t>(topo: &'t Topology, node: &Node, cfg: &BgpdConfig) -> Bgpd<'t> {
    Bgpd::start(topo, node, cfg)
}

/// An FRR path as expected from a bgpd node over eBGP with no attributes but the defaults.
pub fn frr_path(peer: &str, nexthop: &str, as_path: &str) -> FrrPath {
    FrrPath {
        peer: peer.to_string(),
        nexthop: nexthop.to_string(),
        as_path: as_path.to_string(),
        origin: "IGP".to_string(),
        med: None,
        local_pref: None,
        communities: String::new(),
        large_communities: String::new(),
        best: false,
        multipath: false,
    }
}

/// A BIRD route as expected from a bgpd node with no attributes but the defaults (BIRD gives
/// eBGP routes its default local preference, 100).
pub fn bird_route(prefix: &str, proto: &str, nexthop: &str, as_path: &str) -> BirdRoute {
    BirdRoute {
        prefix: prefix.to_string(),
        proto: proto.to_string(),
        nexthop: nexthop.to_string(),
        as_path: as_path.to_string(),
        med: None,
        local_pref: Some(100),
        communities: String::new(),
        large_communities: String::new(),
        primary: false,
        via: nexthop.to_string(),
    }
}

/// FRR's table with the best-path flag cleared, and how many paths per prefix were best: which
/// equal path FRR selects depends on arrival order (eBGP prefers the oldest path).
pub fn frr_without_best(
    table: BTreeMap<String, Vec<FrrPath>>,
) -> (BTreeMap<String, Vec<FrrPath>>, Vec<usize>) {
    let mut bests = Vec::new();
    let table = table
        .into_iter()
        .map(|(p, paths)| {
            bests.push(paths.iter().filter(|x| x.best).count());
            let mut paths: Vec<FrrPath> = paths
                .into_iter()
                .map(|x| FrrPath { best: false, ..x })
                .collect();
            paths.sort();
            (p, paths)
        })
        .collect();
    (table, bests)
}

/// BIRD's routes with the primary flag cleared, and the number of primary routes.
pub fn bird_without_primary(routes: Vec<BirdRoute>) -> (Vec<BirdRoute>, usize) {
    let primaries = routes.iter().filter(|r| r.primary).count();
    let mut routes: Vec<BirdRoute> = routes
        .into_iter()
        .map(|r| BirdRoute {
            primary: false,
            ..r
        })
        .collect();
    routes.sort();
    (routes, primaries)
}
