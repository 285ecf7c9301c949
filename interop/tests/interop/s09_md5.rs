//! Scenario 9: TCP MD5 signatures (RFC 2385). With the router's password the session establishes
//! and the route arrives; with a wrong password the router never sees the session established
//! (the kernel drops unsigned or mis-signed segments).

use std::collections::BTreeSet;
use std::time::Duration;

use interop::{holds_for, wait_eq, Topology};

use crate::common::*;

const PASSWORD: &str = "interop-md5-secret";

fn md5(kind: Kind, bgpd_password: &str) {
    let right = bgpd_password == PASSWORD;
    let topo = Topology::new(&format!(
        "s09-{kind:?}-{}",
        if right { "ok" } else { "bad" }
    ));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        password: Some(PASSWORD.to_string()),
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let mut cfg = bgpd_config(&n, &r, ROUTER_AS).service(web_service());
    cfg.peers[0].password = Some(bgpd_password.to_string());
    let bgpd = start_bgpd(&topo, &n, &cfg);
    if right {
        router.assert_established(&n, false);
        let announced = BTreeSet::from([WEB.to_string()]);
        assert_eq!(
            wait_eq(ROUTES, &announced, || router.prefixes(&n, false)),
            announced
        );
    } else {
        // bgpd retries every second; 8 s covers several attempts.
        let never = holds_for(
            Duration::from_secs(8),
            || router.state(&n, false),
            |s| s != "Established",
        );
        assert!(
            never.is_ok(),
            "session established with a wrong MD5 password: {never:?}"
        );
        assert!(router.prefixes(&n, false).is_empty());
        assert!(
            bgpd.running(),
            "bgpd must keep retrying, not exit:\n{}",
            bgpd.log_text()
        );
    }
}

#[test]
fn s09_md5_right_password_establishes_frr() {
    md5(Kind::Frr, PASSWORD);
}

#[test]
fn s09_md5_wrong_password_never_establishes_frr() {
    md5(Kind::Frr, "wrong-password");
}

#[test]
fn s09_md5_right_password_establishes_bird() {
    md5(Kind::Bird, PASSWORD);
}

#[test]
fn s09_md5_wrong_password_never_establishes_bird() {
    md5(Kind::Bird, "wrong-password");
}
