//! Scenario 6: SIGTERM. bgpd sends Cease / Administrative Shutdown (RFC 4486 subcode 2) with its
//! RFC 9003 shutdown communication, exits 0, and the router withdraws the routes at once: the
//! router's hold time is 30 s, so a withdrawal within 2 s cannot be a hold timer expiry.

use std::collections::BTreeSet;
use std::time::Duration;

use interop::{wait_eq, wait_until, Topology};

use crate::common::*;

fn sigterm(kind: Kind) {
    let topo = Topology::new(&format!("s06-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let opts = NeighborOpts {
        hold_time: 30,
        ..NeighborOpts::default()
    };
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &opts);
    let bgpd = start_bgpd(
        &topo,
        &n,
        &bgpd_config(&n, &r, ROUTER_AS).service(web_service()),
    );
    router.assert_established(&n, false);
    let announced = BTreeSet::from([WEB.to_string()]);
    assert_eq!(
        wait_eq(ROUTES, &announced, || router.prefixes(&n, false)),
        announced
    );

    let status = bgpd.terminate(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "bgpd must exit 0 on SIGTERM, got {status:?}"
    );
    assert_eq!(
        wait_eq(Duration::from_secs(2), &BTreeSet::new(), || router
            .prefixes(&n, false)),
        BTreeSet::new(),
        "the router must withdraw at once"
    );
    match &router {
        Router::Frr(f) => {
            let addr = n.addr(false);
            let reason = |key: &str| interop::frr::str_of(&f.neighbor(addr), key);
            let expected = (
                "Cease/Administrative Shutdown".to_string(),
                SHUTDOWN_MESSAGE.to_string(),
            );
            let got = wait_until(
                Duration::from_secs(2),
                || {
                    (
                        reason("lastNotificationReason"),
                        reason("lastShutdownDescription"),
                    )
                },
                |g| *g == expected,
            );
            assert_eq!(
                got, expected,
                "(last notification, shutdown communication) FRR reports"
            );
            // FRR's own log line: `%NOTIFICATION: received from neighbor X 6/2 (...) "message"`,
            // spelled `%NOTIFICATION(Hard Reset)` when graceful restart is negotiated (RFC 8538).
            let log = f.log_text();
            let line = log.lines().find(|l| {
                l.contains("%NOTIFICATION")
                    && l.contains("received from neighbor")
                    && l.contains(" 6/2 ")
            });
            assert!(
                line.is_some_and(|l| l.contains(&format!("\"{SHUTDOWN_MESSAGE}\""))),
                "FRR log lacks the 6/2 notification with our message:\n{log}"
            );
        }
        Router::Bird(b) => {
            let expected = (true, SHUTDOWN_MESSAGE.to_string());
            let got = wait_until(
                Duration::from_secs(2),
                || {
                    let p = b.protocol("n1");
                    (
                        p.info.contains("Received: Administrative shutdown"),
                        p.message,
                    )
                },
                |g| *g == expected,
            );
            assert_eq!(
                got, expected,
                "(info says 'Received: Administrative shutdown', message)"
            );
        }
    }
}

#[test]
fn s06_sigterm_sends_cease_with_message_and_router_withdraws_frr() {
    sigterm(Kind::Frr);
}

#[test]
fn s06_sigterm_sends_cease_with_message_and_router_withdraws_bird() {
    sigterm(Kind::Bird);
}
