//! Operations (issue 6) against FRR in network namespaces: a failing health check withdraws at
//! FRR and a passing one announces again; `bgpctl drain` shows GRACEFUL_SHUTDOWN (65535:0) at
//! FRR before the withdraw and the Cease; the Prometheus counters match what FRR counted; the
//! time from a health verdict and from `bgpctl withdraw` to the UPDATE is printed.
//!
//! Like the rest of the suite these tests need root, iproute2 and FRR (`./test.sh`), and fail
//! rather than skip without them. bgpd's control socket is a file in the node's scratch
//! directory (namespaces separate networks, not files); the metrics endpoint listens inside
//! the node's namespace and is read with curl run there.

#[path = "interop/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use interop::{bgpctl_binary, bgpd_binary, wait_eq, wait_until, Node, Service, Topology};
use serde_json::Value;

use common::*;

/// A bgpd started from raw TOML (the harness' config builder has no operations keys).
struct OpsBgpd<'t> {
    topo: &'t Topology,
    node: Node,
    pid: u32,
    socket: PathBuf,
    metrics: String,
}

impl<'t> OpsBgpd<'t> {
    /// `ops_global` goes into `[global]`; `tail` after the services (e.g. `[services.health]`
    /// of the last one).
    fn start(
        topo: &'t Topology,
        node: &Node,
        router: &Node,
        services: &[Service],
        ops_global: &str,
        tail: &str,
    ) -> OpsBgpd<'t> {
        let socket = node.dir.join("run").join("bgpd.sock");
        let metrics = format!("{}:9179", node.ipv4);
        let mut cfg = bgpd_config(node, router, ROUTER_AS);
        for s in services {
            cfg = cfg.service(s.clone());
        }
        let text = cfg.render().replacen(
            "[global]\n",
            &format!(
                "[global]\ncontrol_socket = \"{}\"\nstate_dir = \"{}\"\n\
                 metrics_listen = \"{metrics}\"\n{ops_global}",
                socket.display(),
                node.dir.join("state").display()
            ),
            1,
        ) + tail;
        let path = node.dir.join("bgpd.toml");
        std::fs::write(&path, text).expect("write config");
        let log = node.dir.join("bgpd.log");
        let pid = topo.spawn(
            node,
            &format!("bgpd {} stderr", node.role),
            &bgpd_binary().display().to_string(),
            &["run", "-c", &path.display().to_string()],
            &log,
        );
        let b = OpsBgpd {
            topo,
            node: node.clone(),
            pid,
            socket,
            metrics,
        };
        let up = wait_until(Duration::from_secs(10), || b.socket.exists(), |x| *x);
        assert!(up, "bgpd did not create its control socket");
        b
    }

    fn ctl(&self, args: &[&str]) -> String {
        interop::bgpd::bgpctl(&self.socket, args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ctl(&a)).expect("JSON")
    }

    fn metrics(&self) -> String {
        self.topo.exec(
            &self.node,
            "curl",
            &["-sf", &format!("http://{}/metrics", self.metrics)],
        )
    }
}

/// The value of the first sample starting with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn web() -> BTreeSet<String> {
    BTreeSet::from([WEB.to_string()])
}

/// A failing exec check (a flag file that disappears) withdraws at FRR after `fall` checks,
/// and the route comes back after `rise`; the session stays up throughout.
#[test]
fn ops_health_check_withdraws_and_recovers_at_frr() {
    let _ = bgpctl_binary(); // built before any timing starts
    let topo = Topology::new("ops-health");
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
    let flag = n.dir.join("healthy");
    std::fs::write(&flag, "").expect("flag");
    let bgpd = OpsBgpd::start(
        &topo,
        &n,
        &r,
        &[Service::new("web", WEB).nexthops(&["self"])],
        "",
        &format!(
            "[services.health]\ntype = \"exec\"\ncommand = [\"test\", \"-e\", \"{}\"]\n\
             interval = \"200ms\"\ntimeout = \"200ms\"\nrise = 2\nfall = 3\n",
            flag.display()
        ),
    );
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
        web()
    );
    // FRR's counters of this session: a reset would bump both.
    let session = |r: &Router| {
        let nb = r.frr().neighbor(n.addr(false));
        (
            nb["connectionsEstablished"].clone(),
            nb["connectionsDropped"].clone(),
        )
    };
    let before = session(&router);

    std::fs::remove_file(&flag).expect("remove flag");
    let t0 = Instant::now();
    assert_eq!(
        wait_eq(Duration::from_secs(10), &BTreeSet::new(), || router
            .prefixes(&n, false)),
        BTreeSet::new(),
        "FRR must lose the route once the check fails"
    );
    // fall = 3 at 200 ms: never before the third failed check.
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "withdrawn after {:?}",
        t0.elapsed()
    );
    let s = bgpd.json(&["services"]);
    assert!(
        s[0]["state"]
            .as_str()
            .is_some_and(|x| x.contains("health check failing")),
        "{s}"
    );

    std::fs::write(&flag, "").expect("flag again");
    assert_eq!(
        wait_eq(Duration::from_secs(10), &web(), || router
            .prefixes(&n, false)),
        web()
    );
    assert_eq!(
        session(&router),
        before,
        "health changes never reset the session"
    );
    let events = bgpd.ctl(&["events"]);
    assert!(events.contains("service web health down"), "{events}");
    assert!(events.contains("service web health up"), "{events}");
    let m = bgpd.metrics();
    let median =
        metric(&m, "bgpd_update_latency_median_seconds{cause=\"health\"}").expect("health latency");
    println!(
        "latency: health verdict -> UPDATE written (FRR peer): median {:.3} ms",
        median * 1e3
    );
    // Few samples and a shared machine: only a gross regression fails here (the 5 ms target
    // is asserted by bgpd's own e2e test).
    assert!(
        median < 0.025,
        "health verdict -> UPDATE median {median} s (target 5 ms)"
    );
}

/// `bgpctl drain`: FRR sees the route with GRACEFUL_SHUTDOWN before it is withdrawn, then the
/// Cease with our shutdown text; `undrain` brings the session and the route back.
#[test]
fn ops_drain_shows_graceful_shutdown_at_frr_before_withdraw() {
    let _ = bgpctl_binary(); // built before any timing starts
    let topo = Topology::new("ops-drain");
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
    let bgpd = OpsBgpd::start(
        &topo,
        &n,
        &r,
        &[Service::new("web", WEB).nexthops(&["self"])],
        "",
        "",
    );
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
        web()
    );

    let out = bgpd.ctl(&["drain", "--time", "3s"]);
    assert!(out.starts_with("draining"), "{out}");
    let t0 = Instant::now();
    let paths = wait_until(
        Duration::from_secs(3),
        || router.frr().paths(WEB),
        |p| {
            p.iter()
                .any(|p| p.communities.contains("graceful-shutdown"))
        },
    );
    assert!(
        paths
            .iter()
            .any(|p| p.communities.contains("graceful-shutdown")),
        "FRR never saw 65535:0 on {WEB}: {paths:?}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "GRACEFUL_SHUTDOWN came after {:?}",
        t0.elapsed()
    );
    assert_eq!(
        wait_eq(Duration::from_secs(10), &BTreeSet::new(), || router
            .prefixes(&n, false)),
        BTreeSet::new()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(2500),
        "withdrawn before the drain time"
    );
    let addr: IpAddr = n.addr(false);
    let reason = wait_until(
        Duration::from_secs(5),
        || interop::frr::str_of(&router.frr().neighbor(addr), "lastNotificationReason"),
        |r| r.starts_with("Cease/"),
    );
    assert!(
        reason == "Cease/Administrative Shutdown" || reason == "Cease/Hard Reset",
        "FRR's last NOTIFICATION: {reason}"
    );
    let events = bgpd.ctl(&["events"]);
    assert!(events.contains("drain started"), "{events}");
    assert!(events.contains("drained: every session closed"), "{events}");

    bgpd.ctl(&["undrain"]);
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
        web()
    );
    let paths = router.frr().paths(WEB);
    assert!(
        paths
            .iter()
            .all(|p| !p.communities.contains("graceful-shutdown")),
        "{paths:?}"
    );
}

/// The Prometheus counters count what FRR saw: UPDATEs sent = FRR's updates received, the
/// announced-prefix gauge = FRR's accepted prefixes, session up; runtime announce/withdraw
/// through bgpctl reach FRR, and their latency is printed.
#[test]
fn ops_metrics_count_what_frr_saw() {
    let _ = bgpctl_binary(); // built before any timing starts
    let topo = Topology::new("ops-metrics");
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
    let bgpd = OpsBgpd::start(
        &topo,
        &n,
        &r,
        &[Service::new("web", WEB).nexthops(&["self"])],
        "",
        "",
    );
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
        web()
    );

    let extra = "198.51.100.7/32";
    for _ in 0..10 {
        let out = bgpd.ctl(&["announce", extra, "--community", "64512:7"]);
        assert!(
            out.contains("not written to the configuration file"),
            "{out}"
        );
        let want: BTreeSet<String> = [WEB.to_string(), extra.to_string()].into();
        assert_eq!(wait_eq(ROUTES, &want, || router.prefixes(&n, false)), want);
        bgpd.ctl(&["withdraw", extra]);
        assert_eq!(
            wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
            web()
        );
    }

    let addr = n.addr(false);
    let frr_updates = || {
        router.frr().neighbor(addr)["messageStats"]["updatesRecv"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    let ours = || metric(&bgpd.metrics(), "bgpd_bgp_updates_total{peer=\"r\"}").unwrap_or(-2.0);
    let agreed = wait_until(
        Duration::from_secs(5),
        || (ours(), frr_updates()),
        |(a, b)| a == b,
    );
    assert_eq!(
        agreed.0, agreed.1,
        "UPDATEs bgpd sent vs UPDATEs FRR received"
    );
    assert!(
        agreed.0 >= 21.0,
        "at least the 20 runtime changes and the first announcement"
    );
    let m = bgpd.metrics();
    assert_eq!(metric(&m, "bgpd_bgp_session_up{peer=\"r\""), Some(1.0));
    let accepted = router.frr().neighbor(addr)["addressFamilyInfo"]["ipv4Unicast"]
        ["acceptedPrefixCounter"]
        .as_f64();
    assert_eq!(
        metric(&m, "bgpd_bgp_announced_prefixes_total{peer=\"r\"}"),
        accepted
    );
    let sent_updates = metric(
        &m,
        "bgpd_bgp_messages_sent_total{peer=\"r\",type=\"update\"}",
    );
    assert_eq!(sent_updates, Some(agreed.0));
    let api = metric(&m, "bgpd_update_latency_median_seconds{cause=\"api\"}").expect("api latency");
    let count = metric(&m, "bgpd_update_latency_seconds_count{cause=\"api\"}").expect("count");
    println!(
        "latency: bgpctl announce/withdraw -> UPDATE written (FRR peer): median {:.3} ms over {count} changes",
        api * 1e3
    );
    assert_eq!(count, 20.0);
    // The 5 ms target is asserted by bgpd's own e2e test; here FRR, vtysh polling and the
    // rest of the suite share the 2 cores, so only a gross regression fails the test.
    assert!(api < 0.025, "API -> UPDATE median {api} s (target 5 ms)");
}

/// SIGTERM with `global.drain_time`: FRR sees 65535:0 first, the withdraw after the drain time,
/// then Cease with "bgpd shutting down"; bgpd exits 0.
#[test]
fn ops_sigterm_with_drain_time_drains_at_frr() {
    let _ = bgpctl_binary();
    let topo = Topology::new("ops-sigterm-drain");
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
    let bgpd = OpsBgpd::start(
        &topo,
        &n,
        &r,
        &[Service::new("web", WEB).nexthops(&["self"])],
        "drain_time = \"3s\"\n",
        "",
    );
    router.assert_established(&n, false);
    assert_eq!(
        wait_eq(ROUTES, &web(), || router.prefixes(&n, false)),
        web()
    );
    topo.signal(bgpd.pid, libc::SIGTERM);
    let t0 = Instant::now();
    let paths = wait_until(
        Duration::from_secs(3),
        || router.frr().paths(WEB),
        |p| {
            p.iter()
                .any(|p| p.communities.contains("graceful-shutdown"))
        },
    );
    assert!(
        paths
            .iter()
            .any(|p| p.communities.contains("graceful-shutdown")),
        "FRR never saw 65535:0 after SIGTERM: {paths:?}"
    );
    assert_eq!(
        wait_eq(Duration::from_secs(10), &BTreeSet::new(), || router
            .prefixes(&n, false)),
        BTreeSet::new()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(2500),
        "withdrawn before the drain time"
    );
    let status = topo.wait_exit(bgpd.pid, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}"
    );
    let desc = interop::frr::str_of(
        &router.frr().neighbor(n.addr(false)),
        "lastShutdownDescription",
    );
    assert_eq!(desc, SHUTDOWN_MESSAGE);
}
