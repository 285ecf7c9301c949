//! Graceful restart of bgpd itself (RFC 4724 §4.1, issue 7): kill -9 bgpd, start it again
//! within its restart time, and FRR and BIRD never withdraw a route. They keep bgpd's routes
//! (marked stale) while it is gone, take the new session's OPEN (Restart State bit, Forwarding
//! bit per family), and after bgpd's End-of-RIB hold exactly what the new bgpd announces.
//!
//! The router's view is sampled every few tens of milliseconds from the kill until the end, so
//! a withdrawal that lasts longer than one sample fails the test.
//!
//! Also the 1,000-flap soak against FRR (`soak_1000_flaps_frr`, ignored by default: it takes
//! about 7 minutes; run it with `cargo test -p interop --test graceful_restart -- --ignored`),
//! and LLGR and Hard Reset against the routers.
//! Needs root, FRR and BIRD, like the interop suite (`./test.sh`).

#[path = "interop/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

use interop::{wait_eq, wait_until, Bgpd, BgpdConfig, Node, Service, Topology};
use serde_json::Value;

use common::*;

/// Services announced before the kill.
const SERVICES: usize = 20;
/// bgpd's restart time in these tests (the routers keep routes this long).
const RESTART_TIME: u64 = 60;
/// How long bgpd stays dead.
const GAP: Duration = Duration::from_secs(3);

fn prefix(i: usize) -> String {
    format!("198.51.100.{i}/32")
}

fn config(node: &Node, router: &Node, services: usize) -> BgpdConfig {
    let mut cfg = BgpdConfig::new(BGPD_AS, node.ipv4).peer(
        interop::Peer::new(router.addr(false), ROUTER_AS)
            .name("r")
            .key("restart_time", &RESTART_TIME.to_string()),
    );
    for i in 1..=services {
        cfg = cfg.service(Service::new(&format!("svc{i}"), &prefix(i)).nexthops(&["self"]));
    }
    cfg
}

fn expected(services: usize) -> BTreeSet<String> {
    (1..=services).map(prefix).collect()
}

/// One sample of the router's view: the prefixes it has from bgpd, and those it marks stale.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    prefixes: BTreeSet<String>,
    stale: BTreeSet<String>,
    state: String,
}

fn view(router: &Router<'_>, node: &Node) -> View {
    match router {
        Router::Frr(f) => {
            // `show bgp ipv4 unicast json`: routes -> prefix -> [path], a stale path has
            // "stale": true (FRR marks them when the restarting peer's session drops).
            let v = f.json("show bgp ipv4 unicast json");
            let mut prefixes = BTreeSet::new();
            let mut stale = BTreeSet::new();
            if let Some(routes) = v.get("routes").and_then(Value::as_object) {
                for (p, paths) in routes {
                    prefixes.insert(p.clone());
                    let is_stale = paths.as_array().is_some_and(|a| {
                        a.iter()
                            .any(|x| x.get("stale").and_then(Value::as_bool) == Some(true))
                    });
                    if is_stale {
                        stale.insert(p.clone());
                    }
                }
            }
            View {
                prefixes,
                stale,
                state: router.state(node, false),
            }
        }
        Router::Bird(b) => {
            // BIRD shows the helper state on the protocol ("Neighbor graceful restart
            // active", with the restart timer) while it keeps the routes of the restarting
            // neighbor; its channel refreshes them once the neighbor is back.
            let prefixes = b.prefixes(&node.role);
            let proto = b
                .birdc(&format!("show protocols all {}", node.role))
                .unwrap_or_default();
            let stale = if proto.contains("Neighbor graceful restart active") {
                prefixes.clone()
            } else {
                BTreeSet::new()
            };
            View {
                prefixes,
                stale,
                state: router.state(node, false),
            }
        }
    }
}

/// Samples `view` until `done` or `timeout`; every sample must satisfy `ok`. Returns the
/// samples (time since `t0`, view).
fn watch(
    router: &Router<'_>,
    node: &Node,
    t0: Instant,
    timeout: Duration,
    ok: impl Fn(&View) -> bool,
    done: impl Fn(&View) -> bool,
) -> Vec<(Duration, View)> {
    let deadline = Instant::now() + timeout;
    let mut samples = Vec::new();
    loop {
        let v = view(router, node);
        let at = t0.elapsed();
        assert!(
            ok(&v),
            "the router's view broke the expectation at {at:?} after the kill: {v:?}\n\
             samples so far: {}",
            summary(&samples)
        );
        let finished = done(&v);
        samples.push((at, v));
        if finished || Instant::now() >= deadline {
            return samples;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn summary(samples: &[(Duration, View)]) -> String {
    let mut out = String::new();
    let mut last: Option<(usize, usize, &str)> = None;
    for (at, v) in samples {
        let key = (v.prefixes.len(), v.stale.len(), v.state.as_str());
        if last != Some(key) {
            out.push_str(&format!(
                "\n  {:>6} ms: {} prefixes, {} stale, state {}",
                at.as_millis(),
                key.0,
                key.1,
                key.2
            ));
            last = Some(key);
        }
    }
    out
}

/// kill -9 bgpd, restart it with `after` services (the first `after` of [`SERVICES`]).
fn kill_and_restart(kind: Kind, after: usize) {
    let topo = Topology::new(&format!("gr-{kind:?}-{after}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let before = expected(SERVICES);
    let bgpd = Bgpd::start(&topo, &n, &config(&n, &r, SERVICES));
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &before, || router.prefixes(&n, false)),
        before
    );
    // The router negotiated graceful restart with bgpd.
    match &router {
        Router::Frr(f) => {
            let nb = f.neighbor(n.ipv4.into());
            println!(
                "FRR view of bgpd before the kill: gracefulRestartInfo {} capability {}",
                nb["gracefulRestartInfo"], nb["neighborCapabilities"]["gracefulRestart"]
            );
        }
        Router::Bird(b) => {
            println!(
                "BIRD protocol before the kill:\n{}",
                b.birdc("show protocols all n1").unwrap_or_default()
            );
        }
    }

    // kill -9: no NOTIFICATION, the kernel closes the socket.
    let t0 = Instant::now();
    topo.signal(bgpd.pid(), libc::SIGKILL);
    assert!(
        topo.wait_exit(bgpd.pid(), Duration::from_secs(5)).is_some(),
        "bgpd did not die"
    );
    // The gap: every route stays, and the router notices the session is gone and marks the
    // routes stale.
    let gap = watch(&router, &n, t0, GAP, |v| v.prefixes == before, |_| false);
    let stale_seen = gap.iter().any(|(_, v)| v.stale == before);
    let down_seen = gap.iter().any(|(_, v)| v.state != "Established");
    println!("gap ({kind:?}):{}", summary(&gap));
    match &router {
        Router::Frr(_) => {}
        Router::Bird(b) => println!(
            "BIRD during the gap:\n{}\n{}",
            b.birdc("show protocols all n1").unwrap_or_default(),
            b.birdc("show route all protocol n1").unwrap_or_default()
        ),
    }
    assert!(down_seen, "the router never saw the session go down");
    assert!(stale_seen, "the router never marked bgpd's routes stale");

    // bgpd comes back with `after` services.
    let now_expected = expected(after);
    let _bgpd2 = Bgpd::start(&topo, &n, &config(&n, &r, after));
    let back = watch(
        &router,
        &n,
        t0,
        ESTABLISH,
        // Never a withdrawal of what the new bgpd announces; nothing unknown appears.
        |v| now_expected.is_subset(&v.prefixes) && v.prefixes.is_subset(&before),
        |v| v.state == "Established" && v.prefixes == now_expected && v.stale.is_empty(),
    );
    println!("after the restart ({kind:?}):{}", summary(&back));
    let last = &back.last().expect("samples").1;
    assert_eq!(last.state, "Established");
    assert_eq!(last.prefixes, now_expected, "exact set after End-of-RIB");
    assert!(last.stale.is_empty(), "stale routes left: {:?}", last.stale);
    if after < SERVICES {
        // The service the new bgpd no longer has stayed (stale) until End-of-RIB, then went.
        // Every sample without it was taken after the new session was up.
        let dropped = prefix(SERVICES);
        assert!(
            back.iter()
                .all(|(_, v)| v.prefixes.contains(&dropped) || v.state == "Established"),
            "{}",
            summary(&back)
        );
        // It was there through the whole gap (the gap samples equal the old set); the new
        // session may already be through End-of-RIB by the first sample after the restart.
    }
    // The routes stay: a second look a moment later.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(router.prefixes(&n, false), now_expected);

    // The router's own record of the restart.
    match &router {
        Router::Frr(f) => {
            let log = f.log_text();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    let l = l.to_lowercase();
                    l.contains("graceful") || l.contains("stale") || l.contains("end-of-rib")
                })
                .collect();
            println!("FRR log about the restart:\n{}", lines.join("\n"));
            let nb = f.neighbor(n.ipv4.into());
            println!(
                "FRR view of bgpd after the restart: gracefulRestartInfo {} capability {}",
                nb["gracefulRestartInfo"], nb["neighborCapabilities"]["gracefulRestart"]
            );
            // The restarted bgpd's OPEN: Restart State bit, Forwarding bit for IPv4 unicast,
            // N bit (RFC 8538), our restart time.
            let gr = &nb["gracefulRestartInfo"];
            assert_eq!(gr["rBit"], Value::Bool(true), "{gr}");
            assert_eq!(gr["nBit"], Value::Bool(true), "{gr}");
            assert_eq!(gr["remoteGrMode"], "Restart", "{gr}");
            assert_eq!(gr["ipv4Unicast"]["fBit"], Value::Bool(true), "{gr}");
            assert_eq!(
                gr["timers"]["receivedRestartTimer"],
                Value::from(RESTART_TIME),
                "{gr}"
            );
        }
        Router::Bird(b) => {
            let log = b.log_text();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    let l = l.to_lowercase();
                    l.contains("graceful") || l.contains("stale") || l.contains("end-of-rib")
                })
                .collect();
            println!("BIRD log about the restart:\n{}", lines.join("\n"));
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("Neighbor graceful restart detected"))
                    && lines
                        .iter()
                        .any(|l| l.contains("Neighbor graceful restart done")),
                "BIRD did not run its graceful-restart helper"
            );
            // BIRD's own count of withdrawals received from bgpd: none, ever.
            let proto = b.birdc("show protocols all n1").unwrap_or_default();
            let withdraws = proto
                .lines()
                .find(|l| l.trim_start().starts_with("Import withdraws:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse::<u64>().ok());
            assert_eq!(withdraws, Some(0), "{proto}");
        }
    }
}

#[test]
fn gr_kill_9_and_restart_frr_keeps_every_route() {
    kill_and_restart(Kind::Frr, SERVICES);
}

#[test]
fn gr_kill_9_and_restart_bird_keeps_every_route() {
    kill_and_restart(Kind::Bird, SERVICES);
}

#[test]
fn gr_kill_9_and_restart_with_one_service_fewer_frr() {
    kill_and_restart(Kind::Frr, SERVICES - 1);
}

#[test]
fn gr_kill_9_and_restart_with_one_service_fewer_bird() {
    kill_and_restart(Kind::Bird, SERVICES - 1);
}

fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// 1,000 session flaps against FRR (`clear bgp *`: FRR sends Cease 6/4 and closes; bgpd
/// reconnects after its idle hold time, 100 ms here without damping). Ends with the exact
/// route set at FRR and bgpd's RSS within 10% of where it was after the first session.
/// Ignored by default (more than the ~3 minutes the default suite allows a test): about 0.4 s
/// per flap on two shared cores, so 7 minutes or more. `SOAK_FLAPS=N` runs fewer.
#[test]
#[ignore = "soak: 1,000 flaps take about 7 minutes; run explicitly"]
fn soak_1000_flaps_frr() {
    let flaps: usize = std::env::var("SOAK_FLAPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let topo = Topology::new("soak-frr");
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
    let mut cfg = BgpdConfig::new(BGPD_AS, n.ipv4).peer(
        interop::Peer::new(r.addr(false), ROUTER_AS)
            .name("r")
            .key("idle_hold_time", "\"100ms\"")
            .key("damp_peer_oscillations", "false"),
    );
    let services = 200;
    for i in 1..=services {
        let p = format!("203.0.{}.{}/32", 113 + i / 250, i % 250 + 1);
        cfg = cfg.service(Service::new(&format!("svc{i}"), &p).nexthops(&["self"]));
    }
    let want: BTreeSet<String> = (1..=services)
        .map(|i| format!("203.0.{}.{}/32", 113 + i / 250, i % 250 + 1))
        .collect();
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    router.assert_established(&n, false);
    assert_eq!(wait_eq(ROUTES, &want, || router.prefixes(&n, false)), want);
    let frr = router.frr();
    let established = |f: &interop::Frr<'_>| -> u64 {
        f.neighbor(n.ipv4.into())
            .get("connectionsEstablished")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let rss_start = rss_kib(bgpd.pid());
    let t0 = Instant::now();
    let mut base = established(frr);
    let mut slowest = Duration::ZERO;
    for i in 0..flaps {
        let t = Instant::now();
        frr.vtysh("clear bgp *").expect("vtysh clear bgp *");
        // A real flap: FRR counts one more established session, and has every route again.
        let now = wait_until(
            ESTABLISH,
            || established(frr),
            |c| *c > base && router.state(&n, false) == "Established",
        );
        assert!(
            now > base,
            "flap {i}: the session did not come back (FRR: {} established)",
            now
        );
        base = now;
        slowest = slowest.max(t.elapsed());
        if i % 100 == 99 {
            println!(
                "{} flaps in {:.0} s, bgpd RSS {} KiB",
                i + 1,
                t0.elapsed().as_secs_f64(),
                rss_kib(bgpd.pid())
            );
        }
    }
    let got = wait_eq(ROUTES, &want, || router.prefixes(&n, false));
    assert_eq!(got, want, "exact route set at FRR after {flaps} flaps");
    // Let freed memory settle before the measurement.
    std::thread::sleep(Duration::from_secs(2));
    let rss_end = rss_kib(bgpd.pid());
    let elapsed = t0.elapsed();
    println!(
        "SOAK: {flaps} flaps against FRR in {:.1} s ({:.2} s per flap, slowest {:.2} s); \
         bgpd RSS {rss_start} KiB after the first session, {rss_end} KiB at the end ({:+.1}%); \
         FRR holds {} of {} routes",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / flaps.max(1) as f64,
        slowest.as_secs_f64(),
        (rss_end as f64 - rss_start as f64) * 100.0 / rss_start.max(1) as f64,
        got.len(),
        want.len()
    );
    assert!(rss_start > 0, "could not read bgpd's RSS");
    assert!(
        rss_end <= rss_start + rss_start / 10,
        "bgpd's RSS grew by more than 10%: {rss_start} KiB -> {rss_end} KiB"
    );
    assert!(bgpd.running());
}

/// Long-Lived Graceful Restart (RFC 9494) with BIRD: bgpd offers LLGR (stale time 60 s) with a
/// 2 s restart time. After kill -9 BIRD keeps the routes through the restart time, then keeps
/// them as long-lived stale with the LLGR_STALE community (65535,6); when bgpd is back they are
/// refreshed without it. No route ever leaves BIRD's table.
#[test]
fn llgr_bird_keeps_routes_with_llgr_stale_after_restart_time() {
    let topo = Topology::new("llgr-bird");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(
        Kind::Bird,
        &topo,
        &r,
        ROUTER_AS,
        &[&n],
        &NeighborOpts::default(),
    );
    let services = 5;
    let want = expected(services);
    let cfg = {
        let mut cfg = BgpdConfig::new(BGPD_AS, n.ipv4).peer(
            interop::Peer::new(r.addr(false), ROUTER_AS)
                .name("r")
                .key("restart_time", "2")
                .key("llgr_stale_time", "60"),
        );
        for i in 1..=services {
            cfg = cfg.service(Service::new(&format!("svc{i}"), &prefix(i)).nexthops(&["self"]));
        }
        cfg
    };
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    router.assert_established(&n, false);
    assert_eq!(wait_eq(ROUTES, &want, || router.prefixes(&n, false)), want);
    let bird = router.bird();
    let llgr_stale = || -> usize {
        bird.routes("n1")
            .iter()
            .filter(|r| r.communities.contains("(65535,6)"))
            .count()
    };
    assert_eq!(llgr_stale(), 0);

    let t0 = Instant::now();
    topo.signal(bgpd.pid(), libc::SIGKILL);
    assert!(topo.wait_exit(bgpd.pid(), Duration::from_secs(5)).is_some());
    // Past the 2 s restart time every route is still there, now with LLGR_STALE.
    let mut tagged = 0;
    while t0.elapsed() < Duration::from_secs(12) {
        let prefixes = router.prefixes(&n, false);
        assert_eq!(
            prefixes,
            want,
            "BIRD lost a route {:?} after the kill",
            t0.elapsed()
        );
        tagged = llgr_stale();
        if tagged == services && t0.elapsed() > Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let gap_proto = bird.birdc("show protocols all n1").unwrap_or_default();
    let gap_routes = bird.birdc("show route all protocol n1").unwrap_or_default();
    println!(
        "BIRD {:?} after the kill:\n{gap_proto}\n{gap_routes}",
        t0.elapsed()
    );
    assert_eq!(
        tagged, services,
        "routes with LLGR_STALE after the restart time"
    );
    assert!(
        gap_proto.contains("Neighbor graceful restart active") && gap_proto.contains("Long-lived"),
        "{gap_proto}"
    );

    let _bgpd2 = Bgpd::start(&topo, &n, &cfg);
    let done = wait_until(
        ESTABLISH,
        || {
            let p = router.prefixes(&n, false);
            assert_eq!(p, want, "BIRD lost a route while bgpd came back");
            (router.state(&n, false), llgr_stale())
        },
        |(state, tagged)| state == "Established" && *tagged == 0,
    );
    assert_eq!(done, ("Established".to_string(), 0));
    let log = bird.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.to_lowercase().contains("graceful"))
        .collect();
    println!("BIRD log:\n{}", lines.join("\n"));
}

/// RFC 8538: with the N bit on both sides, bgpd's SIGTERM Cease 6/2 goes out as Hard Reset
/// (6/9 carrying 6/2 and the Shutdown Communication), so FRR removes the routes at once
/// instead of keeping them stale as it would for a graceful NOTIFICATION.
#[test]
fn sigterm_with_n_bit_is_a_hard_reset_and_frr_withdraws_frr() {
    let topo = Topology::new("hard-reset-frr");
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
    let want = expected(3);
    let bgpd = Bgpd::start(&topo, &n, &config(&n, &r, 3));
    router.assert_established(&n, false);
    assert_eq!(wait_eq(ROUTES, &want, || router.prefixes(&n, false)), want);
    let frr = router.frr();
    let gr = frr.neighbor(n.ipv4.into())["gracefulRestartInfo"].clone();
    assert_eq!(gr["nBit"], Value::Bool(true), "{gr}");
    assert!(bgpd.terminate(Duration::from_secs(10)).is_some());
    let empty = BTreeSet::new();
    assert_eq!(
        wait_eq(Duration::from_secs(5), &empty, || router
            .prefixes(&n, false)),
        empty,
        "FRR must drop the routes after a Hard Reset, not keep them stale"
    );
    let log = frr.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("%NOTIFICATION") && l.contains("received from neighbor"))
        .unwrap_or_default()
        .to_string();
    println!("FRR: {line}");
    let nb = frr.neighbor(n.ipv4.into());
    println!(
        "FRR lastNotificationReason {} lastNotificationHardReset {}",
        nb["lastNotificationReason"], nb["lastNotificationHardReset"]
    );
    assert!(
        line.contains("Hard Reset") || line.contains("6/9"),
        "{line}"
    );
}
