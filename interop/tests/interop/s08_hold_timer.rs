//! Scenario 8: the router vanishes silently (its veth is set down inside its namespace, so no
//! NOTIFICATION and no TCP reset reach bgpd). bgpd must declare hold timer expiry (RFC 4271 §6.5,
//! NOTIFICATION 4/0) within the negotiated hold time of 3 s and log it; when the link returns the
//! session comes back with the routes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use interop::{wait_eq, Topology};

use crate::common::*;

const HOLD: u16 = 3;

fn hold_expiry(kind: Kind) {
    let topo = Topology::new(&format!("s08-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        hold_time: HOLD,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let mut cfg = bgpd_config(&n, &r, ROUTER_AS).service(web_service());
    cfg.peers[0].hold_time = Some(HOLD);
    let bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, false);
    let announced = BTreeSet::from([WEB.to_string()]);
    assert_eq!(
        wait_eq(ROUTES, &announced, || router.prefixes(&n, false)),
        announced
    );
    assert_eq!(
        bgpd.count_log(&["hold timer expired"]),
        0,
        "no expiry while the link is up"
    );

    let down = Instant::now();
    topo.set_link(&r, false);
    // The last KEEPALIVE arrived before the link went down, so expiry is due within HOLD seconds;
    // one more second covers log flushing and our polling.
    let line = bgpd.wait_log(
        Duration::from_secs(u64::from(HOLD) + 5),
        &["hold timer expired"],
    );
    let elapsed = down.elapsed();
    assert!(
        line.is_some(),
        "bgpd never logged a hold timer expiry:\n{}",
        bgpd.log_text()
    );
    assert!(
        elapsed <= Duration::from_secs(u64::from(HOLD) + 1),
        "hold timer expiry logged after {elapsed:?}, negotiated hold time is {HOLD} s: {line:?}"
    );

    topo.set_link(&r, true);
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &announced, || router.prefixes(&n, false)),
        announced
    );
}

#[test]
fn s08_silent_router_hold_timer_expires_then_session_returns_frr() {
    hold_expiry(Kind::Frr);
}

#[test]
fn s08_silent_router_hold_timer_expires_then_session_returns_bird() {
    hold_expiry(Kind::Bird);
}
