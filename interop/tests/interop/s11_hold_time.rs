//! Extra (STYLE.md's example): hold time negotiation, RFC 4271 §4.2: "the calculated value [is]
//! the smaller of its configured Hold Time and the Hold Time received in the OPEN message".
//! The router's 9 s wins over bgpd's 90 s, and both sides report 9 s.

use std::time::Duration;

use interop::{holds_for, Topology};
use serde_json::Value;

use crate::common::*;

fn router_hold_time_wins(kind: Kind) {
    let topo = Topology::new(&format!("s11-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        hold_time: 9,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let mut cfg = bgpd_config(&n, &r, ROUTER_AS).service(web_service());
    cfg.global.hold_time = Some(90);
    cfg.global.keepalive = Some(30);
    let bgpd = start_bgpd(&topo, &n, &cfg);
    router.assert_established(&n, false);
    let negotiated = match &router {
        Router::Frr(f) => f
            .neighbor(n.addr(false))
            .get("bgpTimerHoldTimeMsecs")
            .and_then(Value::as_u64)
            .map(|ms| ms / 1000),
        Router::Bird(b) => b.protocol("n1").hold_time.map(u64::from),
    };
    assert_eq!(negotiated, Some(9), "hold time the router negotiated");
    let line = bgpd.wait_log(Duration::from_secs(5), &["session with r", "established"]);
    assert!(
        line.as_deref().is_some_and(|l| l.contains("hold 9s")),
        "bgpd must report the negotiated 9 s: {line:?}"
    );
    // The session must outlive the 9 s hold time: bgpd has to send KEEPALIVEs at a third of the
    // negotiated hold time (RFC 4271 §4.4, §10), not on its configured 30 s.
    let stable = holds_for(
        Duration::from_secs(12),
        || router.state(&n, false),
        |s| s == "Established",
    );
    assert!(
        stable.is_ok(),
        "session went down within 12 s: {stable:?}\n{}",
        bgpd.log_text()
    );
}

#[test]
fn s11_router_hold_time_9s_wins_over_bgpd_90s_frr() {
    router_hold_time_wins(Kind::Frr);
}

#[test]
fn s11_router_hold_time_9s_wins_over_bgpd_90s_bird() {
    router_hold_time_wins(Kind::Bird);
}
