//! BFD (issue 12 part 2; RFC 5880, RFC 5881 single hop, RFC 5882 coupling) between bgpd and
//! FRR's bfdd / BIRD's `protocol bfd`, IPv4 and IPv6, in network namespaces:
//!
//! - the BFD session comes Up on both sides and both agree on the negotiated intervals;
//! - a SIGHUP that changes bgpd's intervals causes no BFD flap and no BGP reset (Poll/Final),
//!   and the router then runs the new intervals;
//! - a router that dies (its link goes down) is detected by bgpd within multiplier x interval
//!   and bgpd closes the BGP session with Cease 6/10 "BFD Down" (RFC 9384);
//! - a node that dies (bgpd's link goes down) is detected by the router within multiplier x
//!   interval, and although graceful restart was negotiated the router drops the node's
//!   routes at once (bgpd sends the C bit clear; RFC 5882 §4.3.2), not after the restart time;
//! - garbage, TTL < 255 and a flood from one address are dropped and counted while the
//!   session stays Up.
//!
//! Measured detection times are printed (`cargo test -p interop --test bfd -- --nocapture`).
//! Needs root, FRR and BIRD, like the rest of the suite.

#[path = "interop/common.rs"]
mod common;

use std::time::{Duration, Instant};

use interop::{
    wait_until, Bgpd, BgpdConfig, Bird, BirdConfig, BirdNeighbor, Frr, FrrConfig, FrrNeighbor,
    Node, Peer, Service,
};
use serde_json::Value;

use common::*;

/// The intervals both sides configure first (ms), and the multiplier.
const INTERVAL_MS: u32 = 100;
const MULT: u8 = 3;
/// The intervals of the SIGHUP change (ms).
const FAST_MS: u32 = 50;
/// Scheduling slack allowed on top of multiplier x interval (namespaces on a loaded CI box).
const SLACK: Duration = Duration::from_millis(400);

/// BFD timings (50-100 ms intervals) need the CPU: one test at a time in this binary, so a
/// loaded 2-core CI machine does not starve one test's sessions with another's.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn prefix(v6: bool) -> &'static str {
    if v6 {
        "2001:db8:10::10/128"
    } else {
        WEB
    }
}

fn bgpd_config(node: &Node, router: &Node, v6: bool, interval_ms: u32) -> BgpdConfig {
    let bfd = format!(
        "{{ min_rx = \"{interval_ms}ms\", min_tx = \"{interval_ms}ms\", multiplier = {MULT} }}"
    );
    let family = if v6 { "ipv6-unicast" } else { "ipv4-unicast" };
    BgpdConfig::new(BGPD_AS, node.ipv4)
        .peer(
            Peer::new(router.addr(v6), ROUTER_AS)
                .name("r")
                .families(&[family])
                .key("bfd", &bfd),
        )
        .service(Service::new("web", prefix(v6)).nexthops(&["self"]))
}

fn bfd_json(b: &Bgpd<'_>) -> Value {
    b.neighbor("r")
        .map(|n| n["bfd"].clone())
        .unwrap_or(Value::Null)
}

fn bfd_state(b: &Bgpd<'_>) -> String {
    bfd_json(b)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn us(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// BIRD's receive interval: shorter than bgpd's, so that bgpd's transmit interval (and
/// with it BIRD's Detection Time of bgpd) follows bgpd's configuration.
const BIRD_RX_MS: u32 = 20;

fn start_bird<'t>(topo: &'t interop::Topology, r: &Node, n: &Node, v6: bool) -> Bird<'t> {
    let cfg = BirdConfig::new(ROUTER_AS, r.ipv4)
        .bfd(BIRD_RX_MS, INTERVAL_MS, MULT)
        .neighbor(
            BirdNeighbor::new("n1", n.addr(v6), BGPD_AS)
                .families(!v6, v6)
                .passive()
                .bfd()
                .graceful_restart(),
        );
    Bird::start(topo, r, cfg)
}

/// Polls `f` every few ms until it is true; returns the time it took, or panics after
/// `limit`.
fn time_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        if f() {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn bird_up_agree_reload_and_node_dies(v6: bool) {
    let fam = if v6 { "IPv6" } else { "IPv4" };
    let topo = interop::Topology::new(if v6 { "bfd-bird6" } else { "bfd-bird4" });
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let bird = start_bird(&topo, &r, &n, v6);
    let bgpd = Bgpd::start(&topo, &n, &bgpd_config(&n, &r, v6, INTERVAL_MS));
    assert_eq!(bird.wait_established("n1", ESTABLISH), "Established");
    let routes = wait_until(ROUTES, || bird.prefixes("n1"), |p| p.contains(prefix(v6)));
    assert!(routes.contains(prefix(v6)), "BIRD has {routes:?}");

    // Up on both sides.
    let state = wait_until(ESTABLISH, || bfd_state(&bgpd), |s| s == "Up");
    assert_eq!(state, "Up", "bgpd's BFD: {}", bfd_json(&bgpd));
    let session = wait_until(
        ESTABLISH,
        || bird.bfd_session(n.addr(v6)),
        |s| {
            s.as_ref()
                .is_some_and(|s| s.state == "Up" && close(s.timeout, 0.3))
        },
    )
    .unwrap_or_else(|| panic!("BIRD's BFD sessions: {:?}", bird.birdc("show bfd sessions")));

    // Both agree (RFC 5880 §6.8.2, §6.8.4): bgpd sends every max(100, BIRD's 20) = 100 ms,
    // BIRD every max(100, our 100) = 100 ms; each side's Detection Time is 3 x 100 ms.
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_json(&bgpd),
        |b| b["detection_time_us"].as_u64() == Some(300_000),
    );
    assert_eq!(us(&b, "tx_interval_us"), 100_000, "{b}");
    assert_eq!(us(&b, "rx_interval_us"), 100_000, "{b}");
    assert_eq!(us(&b, "detection_time_us"), 300_000, "{b}");
    assert_eq!(b["remote_multiplier"], 3, "{b}");
    assert!(close(session.interval, 0.1), "BIRD: {session:?}");
    assert!(close(session.timeout, 0.3), "BIRD: {session:?}");
    let changes_before = us(&b, "state_changes");
    let flaps = bgpd.neighbor("r").unwrap()["flaps"].as_u64().unwrap_or(0);

    // SIGHUP to 50 ms: a Poll Sequence (RFC 5880 §6.5), no flap, no BGP reset. bgpd now
    // sends every max(50, 20) = 50 ms, and BIRD's Detection Time of bgpd falls to 150 ms.
    bgpd.reload(&bgpd_config(&n, &r, v6, FAST_MS));
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_json(&bgpd),
        |b| b["tx_interval_us"].as_u64() == Some(50_000),
    );
    assert_eq!(us(&b, "min_rx_us"), 50_000, "{b}");
    let after = wait_until(
        Duration::from_secs(5),
        || bird.bfd_session(n.addr(v6)),
        |s| s.as_ref().is_some_and(|s| close(s.timeout, 0.15)),
    )
    .expect("BIRD's session");
    assert!(
        close(after.timeout, 0.15),
        "BIRD did not take the new interval: {after:?}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let b = bfd_json(&bgpd);
    assert_eq!(b["state"], "Up", "{b}");
    assert_eq!(
        us(&b, "state_changes"),
        changes_before,
        "BFD flapped on reload: {b}"
    );
    assert!(us(&b, "packets_in") > 0, "{b}");
    let after = bird.bfd_session(n.addr(v6)).expect("BIRD's session");
    assert_eq!(after.state, "Up");
    assert_eq!(
        after.since, session.since,
        "BIRD's BFD session flapped: {after:?}"
    );
    let nb = bgpd.neighbor("r").unwrap();
    assert_eq!(
        nb["flaps"].as_u64().unwrap_or(0),
        flaps,
        "BGP reset on reload: {nb}"
    );
    assert_eq!(nb["state"], "Established");
    println!(
        "{fam}: after SIGHUP bgpd sends every {} ms, BIRD's Detection Time of bgpd is {} ms, \
         no flap",
        us(&b, "tx_interval_us") / 1000,
        (after.timeout * 1000.0).round()
    );

    // The node dies: its link goes down, no FIN, no NOTIFICATION. BIRD's BFD detects it
    // within its Detection Time and, though graceful restart was negotiated (BIRD is the
    // helper, bgpd's restart time is 120 s), drops the routes at once.
    let detection = Duration::from_secs_f64(after.timeout);
    topo.set_link(&n, false);
    let t0 = Instant::now();
    let down = time_until(
        detection + SLACK + Duration::from_secs(2),
        "BIRD BFD Down",
        || bird.bfd_session(n.addr(v6)).is_none_or(|s| s.state != "Up"),
    );
    time_until(Duration::from_secs(10), "route leaves BIRD", || {
        !bird.prefixes("n1").contains(prefix(v6))
    });
    let gone = t0.elapsed();
    println!(
        "{fam}: BIRD detected the dead node after {} ms (Detection Time {} ms); the route \
         left BIRD's table {} ms after the link went down (restart time 120 s)",
        down.as_millis(),
        detection.as_millis(),
        gone.as_millis(),
    );
    assert!(
        down <= detection + SLACK,
        "BIRD took {down:?} to detect the dead node"
    );
    assert!(
        gone <= Duration::from_secs(1) + detection,
        "the route stayed {gone:?} in BIRD (kept stale for graceful restart?)"
    );
}

fn bird_router_dies(v6: bool) {
    let topo = interop::Topology::new(if v6 { "bfd-birdr6" } else { "bfd-birdr4" });
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let bird = start_bird(&topo, &r, &n, v6);
    let bgpd = Bgpd::start(&topo, &n, &bgpd_config(&n, &r, v6, INTERVAL_MS));
    assert_eq!(bird.wait_established("n1", ESTABLISH), "Established");
    let state = wait_until(ESTABLISH, || bfd_state(&bgpd), |s| s == "Up");
    assert_eq!(state, "Up", "bgpd's BFD: {}", bfd_json(&bgpd));
    std::thread::sleep(Duration::from_millis(500));
    let mark = bgpd.log_len();
    let detection = Duration::from_millis(u64::from(INTERVAL_MS) * u64::from(MULT));
    topo.set_link(&r, false);
    let down = time_until(
        detection + SLACK + Duration::from_secs(2),
        "bgpd BFD Down",
        || bfd_state(&bgpd) != "Up",
    );
    println!(
        "bgpd detected the dead router ({}) after {} ms (multiplier x interval = {} ms)",
        if v6 { "IPv6" } else { "IPv4" },
        down.as_millis(),
        detection.as_millis()
    );
    assert!(down <= detection + SLACK, "bgpd took {down:?}");
    let line = bgpd.wait_log_from(mark, Duration::from_secs(3), &["6/10"]);
    assert!(
        line.is_some(),
        "bgpd did not close the BGP session with Cease 6/10:\n{}",
        bgpd.log_text()
    );
    let nb = bgpd.neighbor("r").unwrap();
    assert_ne!(nb["state"], "Established", "{nb}");
    assert_eq!(
        nb["bfd"]["diagnostic"], "Control Detection Time Expired",
        "{nb}"
    );
    let last = nb["last_error"].as_str().unwrap_or_default();
    assert!(last.contains("6/10 (Cease / BFD Down)"), "{nb}");
}

#[test]
fn bird_v4_bfd_up_intervals_agree_reload_no_flap_and_dead_node_routes_dropped() {
    let _serial = serial();
    bird_up_agree_reload_and_node_dies(false);
}

#[test]
fn bird_v6_bfd_up_intervals_agree_reload_no_flap_and_dead_node_routes_dropped() {
    let _serial = serial();
    bird_up_agree_reload_and_node_dies(true);
}

#[test]
fn bird_v4_dead_router_detected_by_bgpd_cease_6_10() {
    let _serial = serial();
    bird_router_dies(false);
}

#[test]
fn bird_v6_dead_router_detected_by_bgpd_cease_6_10() {
    let _serial = serial();
    bird_router_dies(true);
}

// ---- FRR (bfdd through zebra) ----------------------------------------------------------------

/// FRR's receive interval, as BIRD's: shorter than bgpd's.
const FRR_RX_MS: u32 = 20;

fn start_frr<'t>(
    topo: &'t interop::Topology,
    r: &Node,
    n: &Node,
    v6: bool,
    check_control_plane: bool,
) -> Frr<'t> {
    let mut nb = FrrNeighbor::new(n.addr(v6), BGPD_AS)
        .families(!v6, v6)
        .passive()
        .bfd();
    if check_control_plane {
        nb = nb.bfd_check_control_plane();
    }
    let cfg = FrrConfig::new(ROUTER_AS, r.ipv4)
        .bfd(FRR_RX_MS, INTERVAL_MS, MULT)
        .graceful_restart()
        .neighbor(nb);
    Frr::start(topo, r, cfg)
}

fn frr_status(frr: &Frr<'_>, n: &Node, v6: bool) -> String {
    frr.bfd_peer(n.addr(v6))["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn num(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// bfdd's session-up / session-down counters for the session with `n`.
fn frr_counters(frr: &Frr<'_>, n: &Node, v6: bool) -> (u64, u64) {
    let text = frr
        .vtysh_d("bfdd", "show bfd peers counters json")
        .unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let peer = v
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|p| p["peer"].as_str() == Some(&n.addr(v6).to_string()))
                .cloned()
        })
        .unwrap_or(Value::Null);
    (num(&peer, "session-up"), num(&peer, "session-down"))
}

fn frr_up_agree_reload_and_node_dies(v6: bool, check_control_plane: bool) {
    let fam = if v6 { "IPv6" } else { "IPv4" };
    let topo = interop::Topology::new(if v6 { "bfd-frr6" } else { "bfd-frr4" });
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let frr = start_frr(&topo, &r, &n, v6, check_control_plane);
    let bgpd = Bgpd::start(&topo, &n, &bgpd_config(&n, &r, v6, INTERVAL_MS));
    assert_eq!(frr.wait_established(n.addr(v6), ESTABLISH), "Established");
    let routes = wait_until(ROUTES, || frr.prefixes(v6), |p| p.contains(prefix(v6)));
    assert!(routes.contains(prefix(v6)), "FRR has {routes:?}");

    // Up on both sides.
    let s = wait_until(ESTABLISH, || frr_status(&frr, &n, v6), |s| s == "up");
    assert_eq!(s, "up", "bfdd: {}", frr.bfd_peer(n.addr(v6)));
    let state = wait_until(ESTABLISH, || bfd_state(&bgpd), |s| s == "Up");
    assert_eq!(state, "Up", "bgpd's BFD: {}", bfd_json(&bgpd));

    // Both agree: each side reports the other's intervals as configured, and the
    // negotiated ones match (bgpd sends every max(100, 20) = 100 ms, FRR every
    // max(100, 100) = 100 ms, Detection Time 3 x 100 ms).
    let p = wait_until(
        Duration::from_secs(5),
        || frr.bfd_peer(n.addr(v6)),
        |p| p["remote-receive-interval"].as_u64() == Some(100),
    );
    assert_eq!(num(&p, "remote-transmit-interval"), 100, "{p}");
    assert_eq!(num(&p, "remote-detect-multiplier"), 3, "{p}");
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_json(&bgpd),
        |b| b["detection_time_us"].as_u64() == Some(300_000),
    );
    assert_eq!(us(&b, "tx_interval_us"), 100_000, "{b}");
    assert_eq!(us(&b, "rx_interval_us"), 100_000, "{b}");
    assert_eq!(us(&b, "remote_discriminator"), num(&p, "id"), "{b} {p}");
    assert_eq!(
        us(&b, "local_discriminator"),
        num(&p, "remote-id"),
        "{b} {p}"
    );
    // bgpctl's text and the event timeline say the same.
    let text = bgpd.ctl(&["neighbor", "r"]);
    assert!(text.contains("BFD state               Up"), "{text}");
    assert!(
        text.contains("tx 100ms, rx 100ms, detection time 300ms (router multiplier 3)"),
        "{text}"
    );
    if !v6 {
        println!(
            "{}",
            text.lines()
                .filter(|l| l.starts_with("BFD"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let events = bgpd.control(serde_json::json!({"cmd": "events"})).unwrap();
    let bfd_events: Vec<String> = events
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["kind"] == "bfd")
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        bfd_events.iter().any(|m| m.contains("-> Up")),
        "no BFD Up in the event timeline: {events}"
    );
    // FRR may reset its fresh session once while it settles (its graceful-restart setting and
    // zebra's next-hop check arrive after bgpd connected; over IPv6 the stale BFD state then
    // takes BGP down once): the reload below is judged from a session that is up again.
    let up = wait_until(
        ESTABLISH,
        || {
            (
                bgpd.neighbor("r").unwrap()["state"] == "Established",
                frr.state(n.addr(v6)),
            )
        },
        |(ours, theirs)| *ours && theirs == "Established",
    );
    assert!(up.0 && up.1 == "Established", "BGP not back up: {up:?}");
    let flaps = bgpd.neighbor("r").unwrap()["flaps"].as_u64().unwrap_or(0);
    let changes_before = us(&bfd_json(&bgpd), "state_changes");
    let counters_before = frr_counters(&frr, &n, v6);

    // SIGHUP to 50 ms: FRR sees the new intervals (Poll/Final), nothing flaps.
    bgpd.reload(&bgpd_config(&n, &r, v6, FAST_MS));
    let p = wait_until(
        Duration::from_secs(5),
        || frr.bfd_peer(n.addr(v6)),
        |p| {
            p["remote-transmit-interval"].as_u64() == Some(50)
                && p["remote-receive-interval"].as_u64() == Some(50)
        },
    );
    assert_eq!(
        num(&p, "remote-transmit-interval"),
        50,
        "FRR did not see the change: {p}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let b = bfd_json(&bgpd);
    assert_eq!(b["state"], "Up", "{b}");
    assert_eq!(us(&b, "tx_interval_us"), 50_000, "{b}");
    assert_eq!(
        us(&b, "state_changes"),
        changes_before,
        "bgpd's BFD flapped: {b}"
    );
    assert_eq!(
        frr_counters(&frr, &n, v6),
        counters_before,
        "FRR's BFD flapped"
    );
    assert_eq!(frr_status(&frr, &n, v6), "up");
    let nb = bgpd.neighbor("r").unwrap();
    assert_eq!(
        nb["flaps"].as_u64().unwrap_or(0),
        flaps,
        "BGP reset on reload: {nb}"
    );
    assert_eq!(nb["state"], "Established");
    assert_eq!(frr.state(n.addr(v6)), "Established");

    // The node dies: FRR's Detection Time of bgpd is now 3 x max(50, 20) = 150 ms.
    let detection = Duration::from_millis(150);
    topo.set_link(&n, false);
    let t0 = Instant::now();
    let down = time_until(
        detection + SLACK + Duration::from_secs(2),
        "FRR BFD down",
        || frr_status(&frr, &n, v6) != "up",
    );
    if check_control_plane {
        // FRR bgp_bfd.c: with `check-control-plane-failure` (our C bit expected set) and
        // graceful restart negotiated, a BFD Down from a peer whose C bit is clear is taken
        // for a control-plane restart (RFC 5882 §4.3.2) and ignored: the route stays, stale,
        // for the restart time. This is why docs/bfd.md says not to set it for bgpd.
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            frr.prefixes(v6).contains(prefix(v6)),
            "FRR dropped the route even with check-control-plane-failure"
        );
        println!(
            "{fam}: with check-control-plane-failure FRR detected the dead node after {} ms \
             but kept its route (stale, graceful restart) {} ms later",
            down.as_millis(),
            t0.elapsed().as_millis()
        );
        return;
    }
    let gone = time_until(Duration::from_secs(10), "route leaves FRR", || {
        !frr.prefixes(v6).contains(prefix(v6))
    });
    let gone = gone.max(t0.elapsed());
    println!(
        "{fam}: FRR bfdd detected the dead node after {} ms (Detection Time {} ms); the route \
         left FRR's table {} ms after the link went down (graceful restart negotiated, restart \
         time 120 s)",
        down.as_millis(),
        detection.as_millis(),
        gone.as_millis(),
    );
    assert!(
        down <= detection + SLACK,
        "FRR took {down:?} to detect the dead node"
    );
    assert!(
        gone <= Duration::from_secs(1) + detection,
        "the route stayed {gone:?} in FRR (kept stale for graceful restart?)"
    );
}

fn frr_router_dies(v6: bool) {
    let topo = interop::Topology::new(if v6 { "bfd-frrr6" } else { "bfd-frrr4" });
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let frr = start_frr(&topo, &r, &n, v6, false);
    // bgpd keeps what FRR sends (import = "all"), to see it withdrawn on BFD Down.
    let theirs = if v6 {
        "2001:db8:99::/48"
    } else {
        "203.0.113.0/24"
    };
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        if v6 {
            "address-family ipv6 unicast"
        } else {
            "address-family ipv4 unicast"
        },
        &format!("network {theirs}"),
    ]);
    let mut cfg = bgpd_config(&n, &r, v6, INTERVAL_MS);
    cfg.peers[0] = cfg.peers[0].clone().key("import", "\"all\"");
    let bgpd = Bgpd::start(&topo, &n, &cfg);
    assert_eq!(frr.wait_established(n.addr(v6), ESTABLISH), "Established");
    let got = wait_until(
        ROUTES,
        || bgpd.received("r").unwrap_or_default(),
        |r| r.iter().any(|p| p == theirs),
    );
    assert!(got.iter().any(|p| p == theirs), "bgpd received {got:?}");
    let state = wait_until(ESTABLISH, || bfd_state(&bgpd), |s| s == "Up");
    assert_eq!(state, "Up", "bgpd's BFD: {}", bfd_json(&bgpd));
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_json(&bgpd),
        |b| b["detection_time_us"].as_u64() == Some(300_000),
    );
    assert_eq!(us(&b, "detection_time_us"), 300_000, "{b}");
    let mark = bgpd.log_len();
    let detection = Duration::from_millis(300);
    topo.set_link(&r, false);
    let down = time_until(
        detection + SLACK + Duration::from_secs(2),
        "bgpd BFD Down",
        || bfd_state(&bgpd) != "Up",
    );
    println!(
        "bgpd detected the dead FRR router ({}) after {} ms (Detection Time {} ms)",
        if v6 { "IPv6" } else { "IPv4" },
        down.as_millis(),
        detection.as_millis()
    );
    assert!(down <= detection + SLACK, "bgpd took {down:?}");
    let line = bgpd.wait_log_from(mark, Duration::from_secs(3), &["6/10", "BFD Down"]);
    assert!(
        line.is_some(),
        "no Cease 6/10 in bgpd's log:\n{}",
        bgpd.log_text()
    );
    let nb = bgpd.neighbor("r").unwrap();
    assert_ne!(nb["state"], "Established", "{nb}");
    assert_eq!(
        nb["bfd"]["diagnostic"], "Control Detection Time Expired",
        "{nb}"
    );
    // What FRR sent is withdrawn at once, not kept stale for graceful restart.
    let left = bgpd.received("r").unwrap_or_default();
    assert!(left.is_empty(), "bgpd still holds FRR's routes: {left:?}");
}

#[test]
fn frr_v4_bfd_up_intervals_agree_reload_no_flap_and_dead_node_routes_dropped() {
    let _serial = serial();
    frr_up_agree_reload_and_node_dies(false, false);
}

#[test]
fn frr_v6_bfd_up_intervals_agree_reload_no_flap_and_dead_node_routes_dropped() {
    let _serial = serial();
    frr_up_agree_reload_and_node_dies(true, false);
}

#[test]
fn frr_v4_dead_router_detected_by_bgpd_cease_6_10() {
    let _serial = serial();
    frr_router_dies(false);
}

#[test]
fn frr_v6_dead_router_detected_by_bgpd_cease_6_10() {
    let _serial = serial();
    frr_router_dies(true);
}

/// Pins why the docs tell FRR users not to set `check-control-plane-failure` for bgpd.
#[test]
fn frr_v4_check_control_plane_failure_keeps_stale_routes_of_a_c_bit_0_peer() {
    let _serial = serial();
    frr_up_agree_reload_and_node_dies(false, true);
}

// ---- Bad input -----------------------------------------------------------------------------

/// A BFD Control packet (RFC 5880 §4.1), 24 octets, no authentication: version 1, diag 0,
/// state `state`, Detect Mult 3, the discriminators, and 1 s intervals.
fn control_packet(state: u8, my: u32, your: u32) -> Vec<u8> {
    let mut p = vec![0x20, state << 6, 3, 24];
    p.extend_from_slice(&my.to_be_bytes());
    p.extend_from_slice(&your.to_be_bytes());
    p.extend_from_slice(&1_000_000u32.to_be_bytes());
    p.extend_from_slice(&1_000_000u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p
}

/// bgpd with metrics, started by hand (the harness's `BgpdConfig` has no `metrics_listen`).
fn start_bgpd_with_metrics(topo: &interop::Topology, node: &Node, cfg: &BgpdConfig) -> String {
    let metrics = format!("{}:9179", node.ipv4);
    let text = cfg.render().replacen(
        "[global]\n",
        &format!(
            "[global]\ncontrol_socket = \"{}\"\nstate_dir = \"{}\"\nmetrics_listen = \"{metrics}\"\n",
            node.dir.join("bgpd.sock").display(),
            node.dir.join("state").display()
        ),
        1,
    );
    let path = node.dir.join("bgpd.toml");
    std::fs::write(&path, text).expect("write config");
    topo.spawn(
        node,
        &format!("bgpd {} stderr", node.role),
        &interop::bgpd_binary().display().to_string(),
        &["run", "-c", &path.display().to_string()],
        &node.dir.join("bgpd.log"),
    );
    metrics
}

fn ctl_json(node: &Node, args: &[&str]) -> Value {
    let out = std::process::Command::new(interop::bgpctl_binary())
        .arg("--socket")
        .arg(node.dir.join("bgpd.sock"))
        .arg("--json")
        .args(args)
        .output()
        .expect("run bgpctl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Garbage, TTL 254, spoofed discriminators, an unknown source and a flood of 100k packets
/// from one address (a configured BFD peer with no BFD of its own) are dropped and counted;
/// the session with BIRD, at 50 ms x 3, stays Up throughout and never changes state.
#[test]
fn bad_input_dropped_and_counted_flood_does_not_starve_other_session() {
    let _serial = serial();
    let _ = interop::bgpctl_binary();
    let topo = interop::Topology::new("bfd-bad");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let x = topo.add_node("x");
    let bird = Bird::start(
        &topo,
        &r,
        BirdConfig::new(ROUTER_AS, r.ipv4)
            .bfd(FAST_MS, FAST_MS, MULT)
            .neighbor(
                BirdNeighbor::new("n1", n.addr(false), BGPD_AS)
                    .passive()
                    .bfd(),
            ),
    );
    let fast =
        format!("{{ min_rx = \"{FAST_MS}ms\", min_tx = \"{FAST_MS}ms\", multiplier = {MULT} }}");
    let cfg = bgpd_config(&n, &r, false, FAST_MS)
        .peer(Peer::new(x.addr(false), 64999).name("x").key("bfd", &fast));
    let metrics = start_bgpd_with_metrics(&topo, &n, &cfg);
    let bfd_of = |peer: &str| ctl_json(&n, &["neighbor", peer])["bfd"].clone();
    let up = wait_until(ESTABLISH, || bfd_of("r"), |b| b["state"] == "Up");
    assert_eq!(up["state"], "Up", "{up}");
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_of("r"),
        |b| b["detection_time_us"].as_u64() == Some(150_000),
    );
    let changes = us(&b, "state_changes");
    let r_discr = us(&b, "local_discriminator") as u32;
    let x_discr = us(&bfd_of("x"), "local_discriminator") as u32;
    let since = bird.bfd_session(n.addr(false)).expect("BIRD session").since;

    let target = std::net::SocketAddr::new(n.addr(false), 3784);
    let stranger = topo.ipv4(200);
    interop::topo::ip(&[
        "-n",
        &x.ns,
        "addr",
        "add",
        &format!("{stranger}/24"),
        "dev",
        "eth0",
    ]);
    let sent = interop::hostile::in_netns(&x.ns, || {
        let v4 = std::net::UdpSocket::bind((x.ipv4, 49200)).expect("bind");
        v4.set_ttl(255).unwrap();
        let garbage = [0xffu8; 40];
        let spoof = control_packet(3, 7, r_discr); // r's discriminator, wrong source
        let for_x = control_packet(1, 7, 0); // Down, to x's own session
        let short = [0x20u8, 0x40, 3];
        let mut sent = 0u64;
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let p: &[u8] = match i % 4 {
                0 => &garbage,
                1 => &spoof,
                2 => &for_x,
                _ => &short,
            };
            if v4.send_to(p, target).is_ok() {
                sent += 1;
            }
        }
        // TTL 254 (RFC 5881 §5) for x's own session.
        v4.set_ttl(254).unwrap();
        for _ in 0..100 {
            let _ = v4.send_to(&control_packet(1, 8, x_discr), target);
        }
        // An address that is no peer.
        let other = std::net::UdpSocket::bind((stranger, 49201)).expect("bind stranger");
        other.set_ttl(255).unwrap();
        for _ in 0..100 {
            let _ = other.send_to(&control_packet(1, 9, 0), target);
        }
        println!("sent {sent} packets in {} ms", t0.elapsed().as_millis());
        sent
    });
    assert!(sent > 50_000, "the flood did not go out");
    std::thread::sleep(Duration::from_secs(1));

    let b = bfd_of("r");
    assert_eq!(b["state"], "Up", "{b}");
    assert_eq!(
        us(&b, "state_changes"),
        changes,
        "the session with BIRD flapped: {b}"
    );
    let s = bird.bfd_session(n.addr(false)).expect("BIRD session");
    assert_eq!((s.state.as_str(), &s.since), ("Up", &since), "BIRD: {s:?}");
    assert_eq!(
        ctl_json(&n, &["neighbor", "r"])["state"],
        "Established",
        "BGP with BIRD"
    );
    let text = topo.exec(&n, "curl", &["-sf", &format!("http://{metrics}/metrics")]);
    let drop = |reason: &str| {
        metric(
            &text,
            &format!("bgpd_bfd_dropped_packets_total{{reason=\"{reason}\"}}"),
        )
    };
    println!(
        "dropped: ttl {}, malformed {}, unknown_discriminator {}, unknown_source {}, \
         rate_limited {}",
        drop("ttl"),
        drop("malformed"),
        drop("unknown_discriminator"),
        drop("unknown_source"),
        drop("rate_limited")
    );
    assert!(drop("ttl") >= 90, "{text}");
    assert!(drop("malformed") > 1000, "{text}");
    assert!(drop("unknown_source") >= 90, "{text}");
    assert!(drop("rate_limited") > 1000, "{text}");
    assert_eq!(metric(&text, "bgpd_bfd_session_up{peer=\"r\""), 1, "{text}");
    // bgpd is still alive and well.
    let xb = bfd_of("x");
    assert_ne!(xb["state"], "Up", "{xb}");
}

/// RFC 5882 §3.2: a router that takes BFD AdminDown (`shutdown` in bfdd) is not a failure:
/// bgpd's BFD session goes Down (diagnostic Neighbor Signaled Session Down) but the BGP
/// session stays Established.
#[test]
fn frr_v4_router_admin_down_keeps_bgp() {
    let _serial = serial();
    let v6 = false;
    let topo = interop::Topology::new("bfd-frr-admin");
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let frr = start_frr(&topo, &r, &n, v6, false);
    let bgpd = Bgpd::start(&topo, &n, &bgpd_config(&n, &r, v6, INTERVAL_MS));
    assert_eq!(frr.wait_established(n.addr(v6), ESTABLISH), "Established");
    let state = wait_until(ESTABLISH, || bfd_state(&bgpd), |s| s == "Up");
    assert_eq!(state, "Up", "bgpd's BFD: {}", bfd_json(&bgpd));
    let flaps = bgpd.neighbor("r").unwrap()["flaps"].as_u64().unwrap_or(0);
    let peer = format!(
        "peer {} local-address {} interface eth0",
        n.addr(v6),
        r.addr(v6)
    );
    let out = std::process::Command::new("vtysh")
        .arg("--vty_socket")
        .arg(&r.dir)
        .args([
            "-d",
            "bfdd",
            "-c",
            "configure terminal",
            "-c",
            "bfd",
            "-c",
            &peer,
        ])
        .args(["-c", "shutdown"])
        .output()
        .expect("vtysh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let b = wait_until(
        Duration::from_secs(5),
        || bfd_json(&bgpd),
        |b| b["remote_state"] == "AdminDown",
    );
    assert_eq!(b["remote_state"], "AdminDown", "{b}");
    assert_eq!(b["state"], "Down", "{b}");
    assert_eq!(b["diagnostic"], "Neighbor Signaled Session Down", "{b}");
    std::thread::sleep(Duration::from_secs(2));
    let nb = bgpd.neighbor("r").unwrap();
    assert_eq!(nb["state"], "Established", "{nb}");
    assert_eq!(nb["flaps"].as_u64().unwrap_or(0), flaps, "{nb}");
    assert!(
        bgpd.count_log(&["the BGP session stays"]) >= 1,
        "{}",
        bgpd.log_text()
    );
    assert_eq!(frr.state(n.addr(v6)), "Established");
}
