//! Scenario 5: SIGHUP reload adds and removes services. The router sees exactly the new set within
//! 1 s, the session is not reset (FRR: still one connection established and none dropped;
//! BIRD: the same "since" time), and an invalid file changes nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use interop::{holds_for, wait_eq, wait_until, BgpdConfig, Node, Service, Topology};
use serde_json::Value;

use crate::common::*;

/// What identifies one session: FRR's connection counters, or BIRD's state and its "since"
/// time.
#[derive(Debug, Clone, PartialEq)]
struct SessionIdentity {
    state: String,
    /// Milliseconds of the day BIRD says the state was entered (None for FRR).
    since_ms: Option<i64>,
}

impl SessionIdentity {
    /// Same session: equal state and counters; BIRD's "since" derives from its clocks and was
    /// seen to move by a millisecond between two queries, so it may differ by up to 500 ms (a
    /// reset takes longer: BIRD waits its 1 s connect delay, bgpd its idle hold time).
    fn same_as(&self, other: &SessionIdentity) -> bool {
        self.state == other.state
            && match (self.since_ms, other.since_ms) {
                (Some(a), Some(b)) => (a - b).abs() <= 500,
                (a, b) => a == b,
            }
    }
}

/// BIRD's "YYYY-MM-DD HH:MM:SS.mmm" as milliseconds of the day.
fn millis_of_day(since: &str) -> Option<i64> {
    let time = since.split_whitespace().nth(1)?;
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let sec: f64 = hms.next()?.parse().ok()?;
    Some((h * 3600 + m * 60) * 1000 + (sec * 1000.0).round() as i64)
}

fn session_identity(router: &Router, node: &Node) -> SessionIdentity {
    match router {
        Router::Frr(f) => {
            let n = f.neighbor(node.addr(false));
            // Not bgpTimerUpEstablishedEpoch: FRR derives it from "now - uptime", so it can move
            // by a second without any reset.
            SessionIdentity {
                state: format!(
                    "{} established={} dropped={}",
                    n.get("bgpState").and_then(Value::as_str).unwrap_or("?"),
                    n.get("connectionsEstablished").unwrap_or(&Value::Null),
                    n.get("connectionsDropped").unwrap_or(&Value::Null),
                ),
                since_ms: None,
            }
        }
        Router::Bird(b) => {
            let p = b.protocol(&node.role);
            SessionIdentity {
                state: p.bgp_state.clone(),
                since_ms: Some(millis_of_day(&p.since).unwrap_or(-1)),
            }
        }
    }
}

fn services(cfg: BgpdConfig, names: &[&str]) -> BgpdConfig {
    names.iter().fold(cfg, |cfg, name| {
        let last: u8 = match *name {
            "a" => 1,
            "b" => 2,
            "c" => 3,
            _ => 4,
        };
        cfg.service(Service::new(name, &format!("192.0.2.{last}/32")).nexthops(&["self"]))
    })
}

fn set(prefixes: &[&str]) -> BTreeSet<String> {
    prefixes.iter().map(|p| p.to_string()).collect()
}

fn reload(kind: Kind) {
    let topo = Topology::new(&format!("s05-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let base = bgpd_config(&n, &r, ROUTER_AS);
    let bgpd = start_bgpd(&topo, &n, &services(base.clone(), &["a", "b"]));
    router.assert_established(&n, false);
    let before = set(&["192.0.2.1/32", "192.0.2.2/32"]);
    assert_eq!(
        wait_eq(ROUTES, &before, || router.prefixes(&n, false)),
        before
    );
    let session = session_identity(&router, &n);

    // Valid reload: remove a, keep b, add c.
    bgpd.reload(&services(base.clone(), &["b", "c"]));
    let after = set(&["192.0.2.2/32", "192.0.2.3/32"]);
    assert_eq!(
        wait_eq(Duration::from_secs(1), &after, || router
            .prefixes(&n, false)),
        after,
        "the router must see exactly the new set within 1 s of SIGHUP"
    );
    let now = session_identity(&router, &n);
    assert!(
        now.same_as(&session),
        "the reload must not reset the session: {session:?} then {now:?}"
    );

    // Invalid file: bgpd logs why and keeps running on the old configuration.
    let reload_lines = bgpd.count_log(&["reload"]);
    bgpd.reload_raw("[global]\nasn = \"not a number\"\n[[services]]\nprefix = 192.0.2.9/32\n");
    let logged = wait_until(
        Duration::from_secs(5),
        || bgpd.count_log(&["reload"]),
        |c| *c > reload_lines,
    );
    assert!(
        logged > reload_lines,
        "bgpd logged nothing about the rejected reload:\n{}",
        bgpd.log_text()
    );
    let unchanged = holds_for(
        Duration::from_secs(2),
        || (router.prefixes(&n, false), session_identity(&router, &n)),
        |(p, s)| *p == after && s.same_as(&session),
    );
    assert!(
        matches!(&unchanged, Ok((p, s)) if *p == after && s.same_as(&session)),
        "an invalid file must change nothing: {unchanged:?}, expected {after:?} and {session:?}"
    );
    assert!(
        bgpd.running(),
        "bgpd must keep running after an invalid reload"
    );
}

#[test]
fn s05_sighup_reload_changes_services_without_reset_frr() {
    reload(Kind::Frr);
}

#[test]
fn s05_sighup_reload_changes_services_without_reset_bird() {
    reload(Kind::Bird);
}
