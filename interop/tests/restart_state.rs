//! Nothing lost across a restart (issue 13), judged at FRR and BIRD: runtime services
//! (`bgpctl announce`, one at a time and 20,000 from a file), configured services and a
//! health-checked service survive `kill -9` and a restart of bgpd. The router is sampled
//! every 20 ms from the kill until the new session's End-of-RIB: its table never loses a route
//! that the new bgpd announces, and it ends with exactly the expected set. One runtime route
//! is removed from the state file while bgpd is down: exactly that route goes, after
//! End-of-RIB. `bgpctl sync begin` / `sync end` hold End-of-RIB while a controller re-feeds.
//!
//! Needs root, FRR and BIRD, like the interop suite (`./test.sh`).

#[path = "interop/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

use interop::{wait_eq, wait_until, Bgpd, BgpdConfig, Node, Service, Topology};
use serde_json::Value;

use common::*;

/// bgpd's restart time in these tests (the routers keep routes this long).
const RESTART_TIME: u64 = 60;
/// Runtime services announced from a file.
const BULK: usize = 20_000;
/// The runtime routes announced one at a time; the second is removed from the state file
/// while bgpd is down.
const KEPT: &str = "203.0.113.1/32";
const DROPPED: &str = "203.0.113.2/32";

fn bulk_prefix(i: usize) -> String {
    // 100.64.0.0/10, far from every other address the tests use.
    format!("100.{}.{}.{}/32", 64 + i / 65_536, (i / 256) % 256, i % 256)
}

fn config(node: &Node, router: &Node, health: bool) -> BgpdConfig {
    let mut cfg = BgpdConfig::new(BGPD_AS, node.ipv4)
        .peer(
            interop::Peer::new(router.addr(false), ROUTER_AS)
                .name("r")
                .key("restart_time", &RESTART_TIME.to_string()),
        )
        .service(Service::new("svc1", "198.51.100.1/32"))
        .service(Service::new("svc2", "198.51.100.2/32"));
    if health {
        cfg = cfg.service(Service::new("checked", "198.51.100.50/32").health(
            "type = \"exec\"\ncommand = [\"true\"]\ninterval = \"200ms\"\ntimeout = \"200ms\"\n\
             rise = 2\nfall = 2",
        ));
    }
    cfg
}

/// How many prefixes the router holds from bgpd (stale ones included): cheap enough to
/// sample every 20 ms with 20,000 routes.
fn count(router: &Router<'_>, node: &Node) -> Option<usize> {
    match router {
        // `pfxRcd`: the prefixes FRR holds from the peer, stale ones included (FRR keeps
        // counting a restarting peer's paths while it waits for it).
        Router::Frr(f) => f.json("show bgp ipv4 unicast summary json")["peers"]
            [node.ipv4.to_string()]["pfxRcd"]
            .as_u64()
            .map(|n| n as usize),
        // "N of N routes for N networks in table master4"
        Router::Bird(b) => b
            .birdc(&format!("show route protocol {} count", node.role))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.contains("routes for"))
                    .and_then(|l| l.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            }),
    }
}

/// Removes the runtime group holding exactly `prefix` from bgpd's state file (an operator
/// editing it, or a controller's change lost while bgpd was down).
fn drop_from_state(node: &Node, prefix: &str) {
    let path = node.dir.join("state").join("state.json");
    let text = fs::read_to_string(&path).expect("state file written by bgpd");
    let mut v: Value = serde_json::from_str(&text).expect("state file is JSON");
    let runtime = v["runtime"].as_array_mut().expect("runtime groups");
    let before = runtime.len();
    runtime.retain(|g| g["prefixes"] != prefix);
    assert_eq!(
        runtime.len(),
        before - 1,
        "one group holds {prefix}: {text:.300}"
    );
    fs::write(&path, serde_json::to_vec(&v).expect("encode")).expect("write state file");
}

fn kill_9(topo: &Topology, bgpd: &Bgpd<'_>) -> Instant {
    let t0 = Instant::now();
    topo.signal(bgpd.pid(), libc::SIGKILL);
    assert!(
        topo.wait_exit(bgpd.pid(), Duration::from_secs(5)).is_some(),
        "bgpd did not die"
    );
    t0
}

fn restart_keeps_runtime_and_checked_services(kind: Kind) {
    let topo = Topology::new(&format!("rs-{kind:?}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Router::start(kind, &topo, &r, ROUTER_AS, &[&n], &NeighborOpts::default());
    let cfg = config(&n, &r, true);
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    router.assert_established(&n, false);
    let file_services: BTreeSet<String> =
        ["198.51.100.1/32", "198.51.100.2/32", "198.51.100.50/32"]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(
        wait_eq(ROUTES, &file_services, || router.prefixes(&n, false)),
        file_services,
        "configured and health-checked services"
    );
    bgpd.ctl(&["announce", KEPT]);
    bgpd.ctl(&["announce", DROPPED, "--med", "7"]);
    let list = n.dir.join("bulk.txt");
    let text: String = (0..BULK).map(|i| bulk_prefix(i) + "\n").collect();
    fs::write(&list, text).expect("write the prefix list");
    bgpd.ctl(&["announce", "--file", &list.display().to_string()]);
    let total = file_services.len() + 2 + BULK;
    let loaded = wait_until(
        Duration::from_secs(60),
        || count(&router, &n),
        |c| *c == Some(total),
    );
    assert_eq!(
        loaded,
        Some(total),
        "every route at the router before the kill"
    );
    let runtime: Value =
        serde_json::from_str(&bgpd.ctl(&["--json", "runtime"])).expect("bgpctl runtime JSON");
    assert_eq!(runtime.as_array().map(Vec::len), Some(BULK + 2));

    let t0 = kill_9(&topo, &bgpd);
    drop_from_state(&n, DROPPED);
    // The gap and the restart: the router never holds fewer routes than the new bgpd
    // announces, sampled every 20 ms until the exact final count.
    let expected = total - 1;
    let bgpd2 = Bgpd::start(&topo, &n, &cfg);
    let mut samples: Vec<(Duration, Option<usize>, String)> = Vec::new();
    let deadline = Instant::now() + ESTABLISH + Duration::from_secs(30);
    loop {
        let c = count(&router, &n);
        let state = router.state(&n, false);
        let at = t0.elapsed();
        if samples.last().map(|s| (s.1, &s.2)) != Some((c, &state)) {
            samples.push((at, c, state.clone()));
        }
        assert!(
            c.is_some_and(|c| c >= expected),
            "the router lost routes {at:?} after the kill: {c:?} (expected at least \
             {expected}); samples: {samples:?}"
        );
        if state == "Established" && c == Some(expected) {
            break;
        }
        assert!(Instant::now() < deadline, "never settled: {samples:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("restart ({kind:?}), samples (time since the kill, count, state): {samples:?}");
    // Exactly the expected set: the edited-out route went, after End-of-RIB.
    let mut want = file_services.clone();
    want.insert(KEPT.to_string());
    want.extend((0..BULK).map(bulk_prefix));
    let got = wait_eq(ROUTES, &want, || router.prefixes(&n, false));
    assert_eq!(got.len(), want.len());
    assert!(!got.contains(DROPPED));
    assert_eq!(got, want);
    let log = bgpd2.log_text();
    assert!(
        log.contains(&format!("{} runtime services", BULK + 1)) && log.contains("restored from"),
        "bgpd's log names what it restored:\n{}",
        log.lines()
            .filter(|l| l.contains("restored") || l.contains("state"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The routes stay.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(&router, &n), Some(expected));
}

#[test]
fn restart_keeps_runtime_and_health_checked_routes_frr() {
    restart_keeps_runtime_and_checked_services(Kind::Frr);
}

#[test]
fn restart_keeps_runtime_and_health_checked_routes_bird() {
    restart_keeps_runtime_and_checked_services(Kind::Bird);
}

/// Two runtime routes announced, `kill -9`, the second removed from the state file, bgpd
/// started again with its link down and `bgpctl sync begin` sent before the link comes back,
/// so the new session starts with the sync open. Returns the new bgpd, the prefixes the
/// router had before the kill, the answer to `sync begin` and when it was sent.
fn restart_with_sync_open<'t>(
    topo: &'t Topology,
    router: &Router<'_>,
    n: &Node,
    cfg: &BgpdConfig,
) -> (Bgpd<'t>, BTreeSet<String>, String, Instant) {
    let bgpd = Bgpd::start(topo, n, cfg);
    router.assert_established(n, false);
    bgpd.ctl(&["announce", KEPT]);
    bgpd.ctl(&["announce", DROPPED]);
    let before: BTreeSet<String> = ["198.51.100.1/32", "198.51.100.2/32", KEPT, DROPPED]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        wait_eq(ROUTES, &before, || router.prefixes(n, false)),
        before
    );
    kill_9(topo, &bgpd);
    drop_from_state(n, DROPPED);
    topo.set_link(n, false);
    // The killed bgpd left its socket file behind; wait for the new one.
    let socket = n.dir.join("bgpd.sock");
    let _ = fs::remove_file(&socket);
    let bgpd2 = Bgpd::start(topo, n, cfg);
    assert!(
        wait_until(Duration::from_secs(10), || socket.exists(), |x| *x),
        "control socket"
    );
    let held = bgpd2.ctl(&["sync", "begin"]);
    let sync_at = Instant::now();
    topo.set_link(n, true);
    router.assert_established(n, false);
    (bgpd2, before, held, sync_at)
}

/// `bgpctl sync begin` right after the restart (before the session is up: the link is down
/// until then), a route re-fed by the "controller", then `sync end`: End-of-RIB waits for it,
/// so the route removed while bgpd was down stays (stale) at FRR until `sync end`.
#[test]
fn sync_holds_end_of_rib_until_sync_end_frr() {
    let topo = Topology::new("rs-sync");
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
    let cfg = config(&n, &r, false);
    let (bgpd2, before, held, _) = restart_with_sync_open(&topo, &router, &n, &cfg);
    assert!(held.contains("End-of-RIB held"), "{held}");
    assert!(
        bgpd2
            .wait_log(ESTABLISH, &["holding End-of-RIB to r"])
            .is_some(),
        "bgpd holds End-of-RIB"
    );
    // While the sync is open the removed route stays at FRR (stale), whatever FRR's timers.
    let hold_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < hold_until {
        let got = router.prefixes(&n, false);
        assert_eq!(got, before, "FRR's table while End-of-RIB is held");
        std::thread::sleep(Duration::from_millis(100));
    }
    let eor = router.frr().neighbor(n.ipv4.into())["gracefulRestartInfo"]["ipv4Unicast"]
        ["endOfRibStatus"]["endOfRibRecv"]
        .clone();
    assert_ne!(eor, Value::Bool(true), "FRR got End-of-RIB during the sync");
    // The controller re-feeds a route; it is announced at once.
    bgpd2.ctl(&["announce", "203.0.113.3/32"]);
    let mut with_new = before.clone();
    with_new.insert("203.0.113.3/32".into());
    assert_eq!(
        wait_eq(ROUTES, &with_new, || router.prefixes(&n, false)),
        with_new
    );
    let released = bgpd2.ctl(&["sync", "end"]);
    assert!(released.contains("released"), "{released}");
    let mut after = with_new.clone();
    after.remove(DROPPED);
    assert_eq!(
        wait_eq(ROUTES, &after, || router.prefixes(&n, false)),
        after,
        "after End-of-RIB exactly the routes bgpd announces"
    );
    assert!(bgpd2
        .wait_log(ESTABLISH, &["sent End-of-RIB to r", "every route is known"])
        .is_some());
    let eor = router.frr().neighbor(n.ipv4.into())["gracefulRestartInfo"]["ipv4Unicast"]
        ["endOfRibStatus"]["endOfRibRecv"]
        .clone();
    println!("FRR endOfRibRecv after sync end: {eor}");
}

/// `bgpctl sync begin` with no `sync end` (a controller that died): End-of-RIB still goes out
/// when `graceful_restart_deferral` runs out, and only then does FRR drop the route edited out
/// of the state file.
#[test]
fn sync_without_end_is_bounded_by_the_deferral_frr() {
    let topo = Topology::new("rs-sync-timer");
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
    let cfg = config(&n, &r, false).global_key("graceful_restart_deferral", "\"4s\"");
    let (_bgpd2, before, held, t_sync) = restart_with_sync_open(&topo, &router, &n, &cfg);
    assert!(held.contains("at most 4s"), "{held}");
    // Held: the edited-out route is still there (stale) while the deferral runs.
    assert!(router.prefixes(&n, false).contains(DROPPED));
    let mut after = before.clone();
    after.remove(DROPPED);
    assert_eq!(
        wait_eq(Duration::from_secs(15), &after, || router
            .prefixes(&n, false)),
        after,
        "End-of-RIB after the deferral"
    );
    let waited = t_sync.elapsed();
    assert!(
        waited >= Duration::from_millis(3500),
        "End-of-RIB went out before the deferral ran out: {waited:?}"
    );
    println!("End-of-RIB {:?} after `sync begin` (deferral 4 s)", waited);
}
