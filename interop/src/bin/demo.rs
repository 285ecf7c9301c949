//! The README demo: FRR as the router and three bgpd nodes announcing one service address, each
//! with its own next hop; prints FRR's ECMP route and the bgpd logs, then tears everything down.
//!
//! Run as root with FRR and BIRD installed: `./demo.sh` installs them and runs this
//! (`cargo run -p interop --bin demo`).

use std::process::ExitCode;
use std::time::Duration;

use interop::{
    bgpd_binary, wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, FrrPath, Peer, Service,
    Topology,
};

const SERVICE: &str = "192.0.2.10/32";
const ROUTER_AS: u32 = 64500;
const NODES_AS: u32 = 64512;

fn main() -> ExitCode {
    println!("building bgpd ...");
    let bin = bgpd_binary();
    println!("using {}", bin.display());

    let topo = Topology::new("demo");
    let router = topo.add_node("router");
    let nodes: Vec<_> = (1..=3)
        .map(|i| topo.add_node(&format!("node{i}")))
        .collect();
    println!(
        "topology: namespaces {}-*, LAN 10.255.{}.0/24; router {} (FRR, AS {ROUTER_AS}); nodes {} (bgpd, AS {NODES_AS})",
        router.ns.trim_end_matches("-router"),
        topo.index(),
        router.ipv4,
        nodes.iter().map(|n| n.ipv4.to_string()).collect::<Vec<_>>().join(", "),
    );

    let mut cfg = FrrConfig::new(ROUTER_AS, router.ipv4);
    for n in &nodes {
        cfg = cfg.neighbor(
            FrrNeighbor::new(n.addr(false), NODES_AS)
                .hold_time(9)
                .passive(),
        );
    }
    let frr = Frr::start(&topo, &router, cfg);

    let bgpds: Vec<Bgpd> = nodes
        .iter()
        .map(|n| {
            let cfg = BgpdConfig::new(NODES_AS, n.ipv4)
                .peer(Peer::new(router.addr(false), ROUTER_AS).name("router"))
                .service(Service::new("web", SERVICE).nexthops(&["self"]));
            println!("\n--- {} bgpd.toml ---\n{}", n.role, cfg.render());
            Bgpd::start(&topo, n, &cfg)
        })
        .collect();

    println!("waiting for FRR to select three ECMP paths for {SERVICE} ...");
    let paths = wait_until(
        Duration::from_secs(30),
        || frr.paths(SERVICE),
        |p| p.len() == 3 && p.iter().all(|p| p.multipath),
    );

    println!("\n=== FRR: show bgp ipv4 unicast {SERVICE} (multipath) ===");
    print_route(&paths);
    println!("\n=== FRR: show bgp summary ===");
    println!("{}", frr.vtysh("show bgp summary").unwrap_or_else(|e| e));
    for (n, b) in nodes.iter().zip(&bgpds) {
        println!("=== bgpd log of {} ({}) ===", n.role, n.ipv4);
        print!("{}", b.log_text());
    }

    let ok = paths.len() == 3 && paths.iter().all(|p| p.multipath);
    println!("\ntearing down (stopping bgpd with SIGTERM, deleting namespaces) ...");
    drop(bgpds);
    drop(frr);
    drop(topo);
    if ok {
        println!("demo OK: FRR spread {SERVICE} over the three nodes");
        ExitCode::SUCCESS
    } else {
        eprintln!("demo FAILED: FRR did not have three multipath next hops for {SERVICE}");
        ExitCode::FAILURE
    }
}

/// Prints the route the way `show ip route` would: one line per ECMP next hop.
fn print_route(paths: &[FrrPath]) {
    if paths.is_empty() {
        println!("{SERVICE}: no route");
        return;
    }
    for (i, p) in paths.iter().enumerate() {
        let code = if p.best { ">" } else { " " };
        let ecmp = if p.multipath { "*" } else { " " };
        let prefix = if i == 0 { SERVICE } else { "" };
        println!(
            "B{code}{ecmp} {prefix:<18} via {:<15} from {:<15} as-path {:<6} origin {}",
            p.nexthop, p.peer, p.as_path, p.origin
        );
    }
}
