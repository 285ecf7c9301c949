//! Harness self-test: FRR and BIRD peer with each other, without bgpd. It proves the topology
//! (namespaces, bridge, veths, addresses), both runners and both query parsers.

use std::collections::BTreeMap;
use std::time::Duration;

use interop::{
    wait_eq, Bird, BirdConfig, BirdNeighbor, BirdRoute, Frr, FrrConfig, FrrNeighbor, FrrPath,
    Topology,
};

#[test]
fn selftest_frr_and_bird_exchange_exactly_their_routes() {
    let topo = Topology::new("selftest");
    let r = topo.add_node("frr");
    let b = topo.add_node("bird");
    let frr = Frr::start(
        &topo,
        &r,
        FrrConfig::new(64500, r.ipv4)
            .network("198.51.100.7/32")
            .neighbor(FrrNeighbor::new(b.addr(false), 64501).hold_time(6)),
    );
    let bird = Bird::start(
        &topo,
        &b,
        BirdConfig::new(64501, b.ipv4)
            .static_route("192.0.2.99/32", b.addr(false))
            .neighbor(
                BirdNeighbor::new("frr", r.addr(false), 64500)
                    .hold_time(6)
                    .export_all(),
            ),
    );
    assert_eq!(
        frr.wait_established(b.addr(false), Duration::from_secs(30)),
        "Established"
    );
    assert_eq!(
        bird.wait_established("frr", Duration::from_secs(10)),
        "Established"
    );
    assert_eq!(
        bird.protocol("frr").hold_time,
        Some(6),
        "negotiated hold time"
    );

    // FRR has its own network and exactly BIRD's static route.
    let expected: BTreeMap<String, Vec<FrrPath>> = BTreeMap::from([
        (
            "192.0.2.99/32".to_string(),
            vec![FrrPath {
                peer: b.ipv4.to_string(),
                nexthop: b.ipv4.to_string(),
                as_path: "64501".into(),
                origin: "IGP".into(),
                med: None,
                local_pref: None,
                communities: String::new(),
                large_communities: String::new(),
                best: true,
                multipath: false,
            }],
        ),
        (
            "198.51.100.7/32".to_string(),
            vec![FrrPath {
                peer: "0.0.0.0".into(),
                nexthop: "0.0.0.0".into(),
                // FRR's name for the empty AS_PATH of a locally originated route.
                as_path: "Local".into(),
                origin: "IGP".into(),
                med: Some(0),
                local_pref: None,
                communities: String::new(),
                large_communities: String::new(),
                best: true,
                multipath: false,
            }],
        ),
    ]);
    assert_eq!(
        wait_eq(Duration::from_secs(10), &expected, || frr.table(false)),
        expected
    );

    // BIRD has exactly FRR's network from the session.
    let expected = vec![BirdRoute {
        prefix: "198.51.100.7/32".into(),
        proto: "frr".into(),
        nexthop: r.ipv4.to_string(),
        as_path: "64500".into(),
        med: Some(0),
        local_pref: Some(100),
        communities: String::new(),
        large_communities: String::new(),
        primary: true,
        via: r.ipv4.to_string(),
    }];
    assert_eq!(
        wait_eq(Duration::from_secs(10), &expected, || bird.routes("frr")),
        expected
    );
}
