//! bgpd as the router (issue 16): the nodes' bgpd announce the service, the router's bgpd
//! (`[fib]`, `import = ["192.0.2.0/24 le 32"]`) selects the multipath set in its Loc-RIB and
//! programs a resilient next-hop group. Each scenario runs twice in the same test, once with
//! bgpd and once with FRR + zebra as the router, and prints both lines; the assertions are on
//! bgpd's. After each step the FIB is read back over netlink (`ip -j route`, `ip -j nexthop`)
//! and compared exactly (members, weights, group type, protocol), and the router's other routes
//! (a static route, another protocol's route) are compared with what they were.

use std::collections::BTreeMap;
use std::time::Duration;

use interop::{wait_until, Bgpd, Topology};
use serde_json::Value;

use crate::bench::*;

/// Traffic runs this long before the change.
const STEADY: Duration = Duration::from_secs(2);
/// Traffic runs this long after the FIB reached its expected state.
const AFTER: Duration = Duration::from_secs(2);
/// bgpd's `[fib] protocol` (the default).
const PROTOCOL: &str = "179";
/// A static route and another protocol's route in the router's main table.
const STATIC: &str = "198.51.100.0/25";
const OTHER_PROTO: &str = "198.51.100.128/25";
/// How late the FIB watcher may see a change (10 ms poll plus its `ip` runs on a loaded
/// machine): a connection broken less than this before the change was seen counts as after.
const WATCH_SLACK_MS: u64 = 300;
/// `drain_time` on the nodes in the drain scenario.
const DRAIN_TIME: &str = "10s";

/// The service route as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KernelRoute {
    /// `protocol` of the route.
    protocol: String,
    /// Next-hop group id (`nhid`), if any.
    group: Option<u64>,
    /// Group type ("resilient", "mpath") or "" for a route without a group.
    kind: String,
    /// Gateway -> weight.
    members: BTreeMap<String, u64>,
    /// Protocol of each member's next-hop object and of the group.
    object_protocols: Vec<String>,
}

/// Reads the service route over netlink (iproute2's JSON output).
fn kernel_route(ns: &str) -> Option<KernelRoute> {
    let routes = ip_json(&["-n", ns, "-j", "route", "show", SERVICE]);
    let r = routes.as_array()?.first()?.clone();
    let protocol = r["protocol"].as_str().unwrap_or_default().to_string();
    let mut k = KernelRoute {
        protocol,
        group: r["nhid"].as_u64(),
        kind: String::new(),
        members: BTreeMap::new(),
        object_protocols: Vec::new(),
    };
    let Some(id) = k.group else {
        for nh in r["nexthops"].as_array().into_iter().flatten() {
            if let Some(g) = nh["gateway"].as_str() {
                k.members
                    .insert(g.to_string(), nh["weight"].as_u64().unwrap_or(1));
            }
        }
        return Some(k);
    };
    let g = ip_json(&["-n", ns, "-j", "nexthop", "show", "id", &id.to_string()]);
    let g = g.as_array()?.first()?.clone();
    k.kind = g["type"].as_str().unwrap_or("mpath").to_string();
    k.object_protocols
        .push(g["protocol"].as_str().unwrap_or_default().to_string());
    for m in g["group"].as_array().into_iter().flatten() {
        let mid = m["id"].as_u64()?;
        let n = ip_json(&["-n", ns, "-j", "nexthop", "show", "id", &mid.to_string()]);
        let n = n.as_array()?.first()?.clone();
        k.object_protocols
            .push(n["protocol"].as_str().unwrap_or_default().to_string());
        k.members.insert(
            n["gateway"].as_str()?.to_string(),
            m["weight"].as_u64().unwrap_or(1),
        );
    }
    Some(k)
}

/// What bgpd must have programmed for `members` (gateway, weight).
fn expected(members: &[(String, u64)]) -> KernelRoute {
    KernelRoute {
        protocol: PROTOCOL.into(),
        group: None,
        kind: "resilient".into(),
        members: members.iter().cloned().collect(),
        object_protocols: vec![PROTOCOL.into(); members.len() + 1],
    }
}

/// Compares the kernel's route with `want`, the group id aside.
fn same(got: &Option<KernelRoute>, want: &KernelRoute) -> bool {
    got.as_ref().is_some_and(|g| {
        let mut g = g.clone();
        g.group = None;
        g == *want
    })
}

fn ip_json(args: &[&str]) -> Value {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Buckets of group `id` per gateway (`ip nexthop bucket show id`).
fn buckets(ns: &str, id: u64) -> BTreeMap<String, usize> {
    let mut gw_of: BTreeMap<u64, String> = BTreeMap::new();
    for n in ip_json(&["-n", ns, "-j", "nexthop", "show"])
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(i), Some(g)) = (n["id"].as_u64(), n["gateway"].as_str()) {
            gw_of.insert(i, g.to_string());
        }
    }
    let mut out = BTreeMap::new();
    for b in ip_json(&[
        "-n",
        ns,
        "-j",
        "nexthop",
        "bucket",
        "show",
        "id",
        &id.to_string(),
    ])
    .as_array()
    .into_iter()
    .flatten()
    {
        if let Some(nh) = b["bucket"]["nhid"].as_u64() {
            *out.entry(gw_of.get(&nh).cloned().unwrap_or_default())
                .or_default() += 1;
        }
    }
    out
}

/// The router's other routes: a static one and one of another protocol (188), both via n2.
fn add_foreign_routes(bench: &Bench<'_>) -> String {
    let via = bench.nodes[1].ipv4.to_string();
    let r = &bench.router;
    bench.topo.exec(
        r,
        "ip",
        &["route", "add", STATIC, "via", &via, "proto", "static"],
    );
    bench.topo.exec(
        r,
        "ip",
        &["route", "add", OTHER_PROTO, "via", &via, "proto", "188"],
    );
    foreign_routes(bench)
}

fn foreign_routes(bench: &Bench<'_>) -> String {
    let a = ip_json(&["-n", &bench.router.ns, "-j", "route", "show", STATIC]);
    let b = ip_json(&["-n", &bench.router.ns, "-j", "route", "show", OTHER_PROTO]);
    format!("{a} {b}")
}

/// The change a scenario makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// n1's link goes down silently; BFD 50 ms x 3 on both sides.
    CrashBfd,
    /// `bgpctl withdraw` of the service on n1 (n1 keeps serving).
    Withdraw,
    /// n1's bgpd stops (SIGTERM, Cease 6/2).
    Stop,
    /// n3's bgpd starts.
    Join,
    /// `bgpctl drain` on n1 with `drain_time = 10s`.
    Drain,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::CrashBfd => "leave_crash_bfd",
            Change::Withdraw => "leave_withdraw",
            Change::Stop => "leave_stop",
            Change::Join => "join",
            Change::Drain => "drain",
        }
    }
}

/// What one run measured.
struct Outcome {
    f: Figures,
    line: String,
    /// Buckets per gateway before the change and while n1 drains (bgpd only, drain only).
    drain_buckets: Option<(BTreeMap<String, usize>, BTreeMap<String, usize>)>,
    /// Wall ms at which n1 left the FIB (drain), relative to the change.
    left_ms: Option<i64>,
    /// Connections broken before n1 left the FIB.
    broken_before_leave: usize,
    /// n1's address.
    n1: String,
}

fn run(kind: RouterKind, change: Change) -> Outcome {
    let name = format!(
        "rb_{}_{}",
        change.name(),
        matches!(kind, RouterKind::Frr) as u8
    );
    let topo = Topology::new(&name);
    let mut opts = NodeOpts::new();
    if change == Change::CrashBfd {
        opts.bfd = Some((50, 3));
    }
    if change == Change::Drain {
        opts.drain_time = Some(DRAIN_TIME);
    }
    let (before, after, changed) = match change {
        Change::Join => (vec![0, 1], vec![0, 1, 2], 2),
        _ => (vec![0, 1, 2], vec![1, 2], 0),
    };
    let mut bench = Bench::build_with(&topo, opts, &before, kind);
    let bgpd_router = matches!(kind, RouterKind::Bgpd { .. });
    let foreign = add_foreign_routes(&bench);
    let addrs: Vec<String> = bench.nodes.iter().map(|n| n.ipv4.to_string()).collect();
    let equal = |idx: &[usize]| -> Vec<(String, u64)> {
        idx.iter().map(|&i| (addrs[i].clone(), 1)).collect()
    };
    if bgpd_router {
        let want = expected(&equal(&before));
        let got = wait_until(
            Duration::from_secs(10),
            || kernel_route(&bench.router.ns),
            |k| same(k, &want),
        );
        assert!(same(&got, &want), "FIB before: {got:?}, want {want:?}");
    }
    let survivors = bench.nexthops(&after);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let group = kernel_route(&bench.router.ns).and_then(|k| k.group);
    let buckets_before = group.map(|g| buckets(&bench.router.ns, g));
    let t0 = wall_ms();
    match change {
        Change::CrashBfd => topo.set_link(&bench.nodes[0], false),
        Change::Withdraw => {
            bench.bgpd(0).ctl(&["withdraw", SERVICE]);
        }
        Change::Stop => {
            let s = bench.bgpd(0).terminate(Duration::from_secs(10));
            assert!(s.is_some_and(|s| s.success()), "n1's bgpd exit: {s:?}");
        }
        Change::Join => bench.start_bgpd(2),
        Change::Drain => {
            bench.bgpd(0).ctl(&["drain"]);
        }
    }
    let mut drain_buckets = None;
    if change == Change::Drain && bgpd_router {
        // GRACEFUL_SHUTDOWN reaches the router: n1 stays a member at weight 1; within the
        // idle timer its idle buckets go to n2 and n3, its busy ones stay.
        let n1 = bench.nodes[0].ipv4.to_string();
        let mut w = equal(&[1, 2]);
        for m in &mut w {
            m.1 = 255;
        }
        w.push((n1.clone(), 1));
        let want = expected(&w);
        let got = wait_until(
            Duration::from_secs(5),
            || kernel_route(&bench.router.ns),
            |k| same(k, &want),
        );
        assert!(
            same(&got, &want),
            "FIB while n1 drains: {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_secs(u64::from(ROUTER_IDLE_TIMER_S) + 3));
        let during = group.map(|g| buckets(&bench.router.ns, g));
        drain_buckets = buckets_before.clone().zip(during);
    }
    let limit = match change {
        Change::Drain => Duration::from_secs(30),
        Change::Join => Duration::from_secs(30),
        _ => Duration::from_secs(15),
    };
    let fib_now = wait_until(limit, || bench.fib(), |f| *f == survivors);
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let changed_role = bench.nodes[changed].role.clone();
    let f = report.figures(&changed_role, t0, &fib);
    let line = format!(
        "{} [{}]",
        f.line(&format!("router_{}", change.name())),
        kind.name()
    );
    let context = format!("{line}\n{}", report.reasons());
    assert_eq!(fib_now, survivors, "FIB after the change\n{context}");
    // When n1 left the FIB, and the connections broken before it.
    let n1 = bench.nodes[0].ipv4.to_string();
    let left_at = fib
        .iter()
        .find(|(t, s)| *t >= t0 && !s.contains(&n1))
        .map(|(t, _)| *t);
    // The watcher sees a FIB change up to one poll (and its `ip` runs) late.
    let broken_before_leave = report.0["conns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["broken_at_ms"]
                .as_u64()
                .is_some_and(|b| left_at.is_none_or(|l| b + WATCH_SLACK_MS < l))
        })
        .count();
    if bgpd_router {
        let want = expected(&equal(&after));
        let got = kernel_route(&bench.router.ns);
        assert!(
            same(&got, &want),
            "FIB read back after the change: {got:?}, want {want:?}\n{context}"
        );
        assert_eq!(
            kernel_route(&bench.router.ns).and_then(|k| k.group),
            group,
            "the group changed in place (same id)\n{context}"
        );
    }
    assert_eq!(
        foreign_routes(&bench),
        foreign,
        "the router's other routes were touched\n{context}"
    );
    Outcome {
        f,
        line,
        drain_buckets,
        left_ms: left_at.map(|l| l as i64 - t0 as i64),
        broken_before_leave,
        n1,
    }
}

/// Runs `change` with bgpd, then FRR + zebra, as the router; prints both.
fn both(change: Change) -> (Outcome, Outcome) {
    let _serial = exclusive();
    let b = run(
        RouterKind::Bgpd {
            retain_on_stop: false,
        },
        change,
    );
    let f = run(RouterKind::Frr, change);
    println!("{}\n{}", b.line, f.line);
    (b, f)
}

/// A node leaves: nothing breaks on the other nodes, at most the leaving node's share (+5
/// points) in all.
fn leave(change: Change) {
    let (b, f) = both(change);
    let context = format!("{}\n{}", b.line, f.line);
    assert_eq!(b.f.others.0, 0, "broken on the other nodes\n{context}");
    let total = (b.f.changed.1 + b.f.others.1) as f64;
    let broken = (b.f.changed.0 + b.f.others.0) as f64 / total;
    let share = b.f.changed.1 as f64 / total;
    assert!(
        broken <= share + 0.05,
        "broken {broken:.2} of all, the leaving node's share {share:.2}\n{context}"
    );
}

#[test]
fn router_bgpd_node_crashes_with_bfd() {
    leave(Change::CrashBfd);
}

#[test]
fn router_bgpd_node_withdraws() {
    leave(Change::Withdraw);
}

#[test]
fn router_bgpd_node_stops() {
    leave(Change::Stop);
}

#[test]
fn router_bgpd_node_joins_breaks_nothing() {
    let (b, f) = both(Change::Join);
    let context = format!("{}\n{}", b.line, f.line);
    assert_eq!(
        b.f.changed.0 + b.f.others.0,
        0,
        "broken by a join\n{context}"
    );
    assert!(b.f.new_failures.is_empty(), "new failures\n{context}");
}

#[test]
fn router_bgpd_drain_moves_only_idle_buckets() {
    let (b, f) = both(Change::Drain);
    let (before, during) = b.drain_buckets.clone().expect("bucket dumps");
    println!(
        "scenario router_drain [bgpd [fib]]: buckets per next hop before {before:?}, {} s into the \
         drain {during:?}; n1 left the FIB after {:?} ms; broken before that: {}; [FRR+zebra] \
         broken before n1 left: {}",
        u64::from(ROUTER_IDLE_TIMER_S) + 3,
        b.left_ms,
        b.broken_before_leave,
        f.broken_before_leave
    );
    let context = format!("{}\n{}", b.line, f.line);
    assert_eq!(b.f.others.0, 0, "broken on the other nodes\n{context}");
    assert_eq!(
        b.broken_before_leave, 0,
        "broken before n1 withdrew\n{context}"
    );
    assert!(b.f.new_failures.is_empty(), "new failures\n{context}");
    // Idle buckets left the draining node before it withdrew (bucket dumps).
    let n1_before = before.get(&b.n1).copied().unwrap_or(0);
    let n1_during = during.get(&b.n1).copied().unwrap_or(0);
    assert!(
        n1_before > 0 && n1_during < n1_before,
        "idle buckets should leave n1 while it drains: {n1_before} -> {n1_during}\n{context}"
    );
}

/// bgpd on the router restarts with `retain_on_stop = true`: the route stays in the kernel
/// while bgpd is gone, the new bgpd adopts it (same group, same members) and changes nothing;
/// no connection breaks, no new connection fails, the route never changes.
#[test]
fn router_bgpd_restart_with_retain_on_stop_adopts_the_fib() {
    let _serial = exclusive();
    let topo = Topology::new("rb_restart");
    let mut bench = Bench::build_with(
        &topo,
        NodeOpts::new(),
        &[0, 1, 2],
        RouterKind::Bgpd {
            retain_on_stop: true,
        },
    );
    let foreign = add_foreign_routes(&bench);
    let all: Vec<(String, u64)> = bench
        .nodes
        .iter()
        .map(|n| (n.ipv4.to_string(), 1))
        .collect();
    let want = expected(&all);
    let first = wait_until(
        Duration::from_secs(10),
        || kernel_route(&bench.router.ns),
        |k| same(k, &want),
    );
    assert!(same(&first, &want), "FIB before: {first:?}");
    let ids_before = ip_json(&["-n", &bench.router.ns, "-j", "nexthop", "show"]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    let (old, cfg) = bench.router_bgpd.take().expect("router bgpd");
    let status = old.terminate(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "router bgpd exit: {status:?}"
    );
    let kept = kernel_route(&bench.router.ns);
    assert_eq!(
        kept, first,
        "the FIB while bgpd is stopped (retain_on_stop)"
    );
    let new = Bgpd::start(&topo, &bench.router, &cfg);
    let swept = wait_until(
        Duration::from_secs(60),
        || new.control(serde_json::json!({"cmd": "fib"})).ok(),
        |v| v.as_ref().is_some_and(|v| v["swept"] == Value::Bool(true)),
    );
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    let line = format!("{} [bgpd [fib]]", f.line("router_restart_retain_on_stop"));
    println!("{line}");
    let context = format!("{line}\n{}\nlog:\n{}", report.reasons(), new.log_text());
    assert!(swept.is_some(), "the new bgpd never converged\n{context}");
    assert!(
        new.log_text().contains("adopted 1 routes"),
        "the new bgpd adopted the route\n{context}"
    );
    assert_eq!(
        kernel_route(&bench.router.ns),
        first,
        "same route, group and members after the restart\n{context}"
    );
    assert_eq!(
        ip_json(&["-n", &bench.router.ns, "-j", "nexthop", "show"]),
        ids_before,
        "next-hop objects adopted, not rebuilt\n{context}"
    );
    assert_eq!(f.fib_changed_ms, None, "the route changed\n{context}");
    assert_eq!((f.changed.0, f.others.0), (0, 0), "broken\n{context}");
    assert!(f.new_failures.is_empty(), "new failures\n{context}");
    assert_eq!(foreign_routes(&bench), foreign, "other routes\n{context}");
    bench.router_bgpd = Some((new, cfg));
}

/// The router's own link to the nodes goes down for one second (well inside the 3 s hold
/// time, so no session drops): every next hop on it leaves the FIB at once and the Loc-RIB
/// marks them unusable (`bgpctl fib`, `routes --best`); when the link is back they rejoin the
/// service's group and the route is as before. (FRR is not run: this is bgpd's next-hop
/// tracking, not a comparison.)
#[test]
fn router_bgpd_link_down_removes_next_hops_and_they_rejoin() {
    let _serial = exclusive();
    let topo = Topology::new("rb_link");
    let bench = Bench::build_with(
        &topo,
        NodeOpts::new(),
        &[0, 1, 2],
        RouterKind::Bgpd {
            retain_on_stop: false,
        },
    );
    let all: Vec<(String, u64)> = bench
        .nodes
        .iter()
        .map(|n| (n.ipv4.to_string(), 1))
        .collect();
    let want = expected(&all);
    let before = wait_until(
        Duration::from_secs(10),
        || kernel_route(&bench.router.ns),
        |k| same(k, &want),
    );
    assert!(same(&before, &want), "FIB before: {before:?}");
    let (router_bgpd, _) = bench.router_bgpd.as_ref().expect("router bgpd");
    topo.set_link(&bench.router, false);
    let t0 = std::time::Instant::now();
    let gone = wait_until(
        Duration::from_secs(2),
        || kernel_route(&bench.router.ns),
        Option::is_none,
    );
    let gone_after = t0.elapsed();
    let view = wait_until(
        Duration::from_secs(2),
        || router_bgpd.control(serde_json::json!({"cmd": "fib"})).ok(),
        |v| {
            v.as_ref()
                .and_then(|v| v["unreachable"].as_array().map(Vec::len))
                == Some(3)
        },
    );
    let rib = router_bgpd
        .control(serde_json::json!({"cmd": "routes", "best": true, "prefix": SERVICE}))
        .unwrap_or(Value::Null);
    topo.set_link(&bench.router, true);
    let back = wait_until(
        Duration::from_secs(5),
        || kernel_route(&bench.router.ns),
        |k| same(k, &want),
    );
    println!(
        "scenario router_link_down [bgpd [fib]]: route gone {} ms after the link went down; \
         back after the link returned: {}",
        gone_after.as_millis(),
        same(&back, &want)
    );
    assert!(gone.is_none(), "the route stays while its link is down");
    assert!(
        gone_after < Duration::from_secs(1),
        "the next hops left within {gone_after:?}, not at once"
    );
    assert!(
        view.as_ref()
            .is_some_and(|v| v["unreachable"].as_array().is_some_and(|a| a.len() == 3)),
        "bgpctl fib lists the unusable next hops: {view:?}"
    );
    assert!(
        rib.to_string().contains("next-hop-unreachable"),
        "the Loc-RIB gives the reason: {rib}"
    );
    assert!(
        same(&back, &want),
        "the next hops rejoin when the link is back: {back:?}"
    );
}

/// `[[services]] weight` on the nodes (1, 1, 2: reloaded with SIGHUP, no session reset) is sent
/// as the Link Bandwidth community; the router's kernel group weighs the members 1:1:2 (the
/// Loc-RIB scales the largest to 255: 128, 128, 255) and the bucket dump gives 64/64/128.
#[test]
fn router_bgpd_weighs_members_by_the_nodes_weight() {
    let _serial = exclusive();
    let topo = Topology::new("rb_weight");
    let bench = Bench::build_with(
        &topo,
        NodeOpts::new(),
        &[0, 1, 2],
        RouterKind::Bgpd {
            retain_on_stop: false,
        },
    );
    for (i, w) in [(0, 1), (1, 1), (2, 2)] {
        let mut cfg = bench.opts.config(&bench.nodes[i], &bench.router);
        cfg.services = vec![interop::Service::new("web", SERVICE)
            .nexthops(&["self"])
            .weight(w)];
        bench.bgpd(i).reload(&cfg);
    }
    let want = expected(&[
        (bench.nodes[0].ipv4.to_string(), 128),
        (bench.nodes[1].ipv4.to_string(), 128),
        (bench.nodes[2].ipv4.to_string(), 255),
    ]);
    let got = wait_until(
        Duration::from_secs(10),
        || kernel_route(&bench.router.ns),
        |k| same(k, &want),
    );
    let g = got.as_ref().and_then(|k| k.group);
    let per_node = g.map(|g| buckets(&bench.router.ns, g));
    println!("scenario router_weights [bgpd [fib]]: FIB {got:?}, buckets {per_node:?}");
    assert!(same(&got, &want), "weights 1:1:2 in the kernel: {got:?}");
    let counts: Vec<usize> = per_node
        .map(|m| m.into_values().collect())
        .unwrap_or_default();
    assert_eq!(counts, vec![64, 64, 128], "buckets per node (256 in all)");
}
