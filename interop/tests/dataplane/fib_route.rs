//! The router's service route programmed by bgpd's FIB layer (`bgpd::fib`, issue 16), side by
//! side with the plain multipath route that FRR's zebra and BIRD install. The FIB layer is
//! driven from the test (`router_bgpd.rs` has bgpd itself as the router). The router
//! runs no routing daemon here; the client's connections and the nodes' echo servers are the
//! same as in the other scenarios.

use std::time::Duration;

use bgpd::fib::{Fib, FibSettings};
use interop::{wait_until, Node, Topology};

use crate::bench::*;

/// Traffic runs this long before the change (every connection has echoed by then).
const STEADY: Duration = Duration::from_secs(2);
/// Traffic runs this long after the FIB reached its new state.
const AFTER: Duration = Duration::from_secs(2);

/// How the router holds the service route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteKind {
    /// bgpd's FIB: a resilient next-hop group, changed in place.
    Resilient,
    /// `ip route replace SERVICE nexthop via .. nexthop via ..`: what zebra and BIRD install.
    PlainMultipath,
}

/// The router's route, whichever way it is held.
enum Programmer {
    Fib(Box<Fib>),
    Ip { ns: String },
}

impl Programmer {
    fn new(kind: RouteKind, router: &Node) -> Programmer {
        match kind {
            RouteKind::Resilient => {
                Programmer::Fib(Box::new(open_fib(&router.ns, FibSettings::default())))
            }
            RouteKind::PlainMultipath => Programmer::Ip {
                ns: router.ns.clone(),
            },
        }
    }

    /// Routes the service through `nodes`; with bgpd's FIB, returns how long programming
    /// took (its `bgpd_fib_program_seconds` sample).
    fn route(&mut self, nodes: &[&Node]) -> Option<Duration> {
        match self {
            Programmer::Fib(fib) => {
                let hops: Vec<_> = nodes.iter().map(|n| (n.ipv4.into(), 1)).collect();
                let applied = fib.set(SERVICE.parse().unwrap(), &hops);
                assert!(applied.errors.is_empty(), "{applied:?}");
                fib.stats().latency.samples().last()
            }
            Programmer::Ip { ns } => {
                let mut args = vec![
                    "-n".to_string(),
                    ns.clone(),
                    "route".into(),
                    "replace".into(),
                    SERVICE.into(),
                ];
                for n in nodes {
                    args.extend(["nexthop".into(), "via".into(), n.ipv4.to_string()]);
                }
                let out = std::process::Command::new("ip")
                    .args(&args)
                    .output()
                    .expect("run ip");
                assert!(
                    out.status.success(),
                    "ip {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                None
            }
        }
    }
}

/// Opens the FIB in namespace `ns` (the socket belongs to the namespace of the thread that
/// creates it).
fn open_fib(ns: &str, settings: FibSettings) -> Fib {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a valid namespace fd; it changes this short-lived thread only.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        Fib::open(settings).expect("open the FIB")
    })
    .join()
    .expect("open thread")
}

/// Three nodes serve the service; the route goes from the first `before` of them to the first
/// `after` (3 -> 2: n3 leaves; 2 -> 3: n3 joins) while the client's connections run.
fn node_change(kind: RouteKind, before: usize, after: usize) -> (Figures, Option<Duration>) {
    let topo = Topology::new(match kind {
        RouteKind::Resilient => "fib_change_resilient",
        RouteKind::PlainMultipath => "fib_change_mpath",
    });
    let router = topo.add_node("router");
    let nodes: Vec<Node> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    let client = topo.add_stub("client", &router);
    topo.sysctl(&router, "net.ipv4.ip_forward", "1");
    topo.sysctl(&router, "net.ipv4.fib_multipath_hash_policy", "1");
    for n in &nodes {
        serve(&topo, n, &router);
    }
    let addrs = |k: usize| -> std::collections::BTreeSet<String> {
        nodes[..k].iter().map(|n| n.ipv4.to_string()).collect()
    };
    let mut programmer = Programmer::new(kind, &router);
    let first: Vec<&Node> = nodes[..before].iter().collect();
    programmer.route(&first);
    let want = addrs(before);
    let now = wait_until(
        Duration::from_secs(10),
        || fib_nexthops(&router.ns),
        |f| *f == want,
    );
    assert_eq!(now, want, "the service route before the change");

    let traffic = start_client(&topo, &client);
    std::thread::sleep(STEADY);
    let watch = watch_fib(&router.ns);
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    let then: Vec<&Node> = nodes[..after].iter().collect();
    let programmed = programmer.route(&then);
    let want = addrs(after);
    let now = wait_until(
        Duration::from_secs(10),
        || fib_nexthops(&router.ns),
        |f| *f == want,
    );
    std::thread::sleep(AFTER);
    let report = stop_client(&topo, traffic);
    let fib = watch.finish();
    assert_eq!(now, want, "the service route after the change");
    let f = report.figures("n3", t0, &fib);
    if let Programmer::Fib(fib) = programmer {
        assert!(fib.stop().errors.is_empty());
    }
    (f, programmed)
}

/// A node leaves: with bgpd's resilient group no connection on the other nodes breaks, and in
/// all at most the leaving node's share (+5 points) breaks; the plain multipath route, the
/// baseline, is printed next to it.
#[test]
fn node_leaves_resilient_group_vs_plain_multipath() {
    let _serial = exclusive();
    let (resilient, programmed) = node_change(RouteKind::Resilient, 3, 2);
    let (plain, _) = node_change(RouteKind::PlainMultipath, 3, 2);
    let programmed = programmed.expect("a latency sample");
    let r = format!(
        "{}, group changed in place in {} us",
        resilient.line("node_leaves, bgpd FIB (resilient group)"),
        programmed.as_micros()
    );
    let p = plain.line("node_leaves, plain multipath route (zebra, BIRD)");
    println!("{r}\n{p}");
    assert_eq!(
        resilient.others.0, 0,
        "connections broken on the other nodes\n{r}\n{p}"
    );
    let total = (resilient.changed.1 + resilient.others.1) as f64;
    let broken = (resilient.changed.0 + resilient.others.0) as f64 / total;
    let share = resilient.changed.1 as f64 / total;
    assert!(
        broken <= share + 0.05,
        "broken {broken:.2} of all, n3's share {share:.2}\n{r}\n{p}"
    );
}

/// A node joins: with bgpd's resilient group it takes only idle buckets and no connection
/// breaks; the plain multipath route, the baseline, is printed next to it.
#[test]
fn node_joins_resilient_group_vs_plain_multipath() {
    let _serial = exclusive();
    let (resilient, programmed) = node_change(RouteKind::Resilient, 2, 3);
    let (plain, _) = node_change(RouteKind::PlainMultipath, 2, 3);
    let programmed = programmed.expect("a latency sample");
    let r = format!(
        "{}, group changed in place in {} us",
        resilient.line("node_joins, bgpd FIB (resilient group)"),
        programmed.as_micros()
    );
    let p = plain.line("node_joins, plain multipath route (zebra, BIRD)");
    println!("{r}\n{p}");
    assert_eq!(
        resilient.changed.0 + resilient.others.0,
        0,
        "connections broken by a join\n{r}\n{p}"
    );
    assert!(
        resilient.new_failures.is_empty(),
        "new-connection failures\n{r}\n{p}"
    );
}

/// bgpd restarts on the router with `retain_on_stop`: the first run stops and leaves its
/// route, group and next hops; the next run adopts them and, given the same next hops,
/// changes nothing in the kernel. No connection breaks, no new connection fails, and the
/// route never changes.
#[test]
fn restart_with_retain_on_stop_changes_nothing() {
    let _serial = exclusive();
    let topo = Topology::new("fib_restart_retain");
    let router = topo.add_node("router");
    let nodes: Vec<Node> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
    let client = topo.add_stub("client", &router);
    topo.sysctl(&router, "net.ipv4.ip_forward", "1");
    topo.sysctl(&router, "net.ipv4.fib_multipath_hash_policy", "1");
    for n in &nodes {
        serve(&topo, n, &router);
    }
    let settings = FibSettings {
        retain_on_stop: true,
        ..FibSettings::default()
    };
    let hops: Vec<(std::net::IpAddr, u32)> = nodes.iter().map(|n| (n.ipv4.into(), 1)).collect();
    let service = SERVICE.parse().unwrap();
    let mut first = open_fib(&router.ns, settings);
    assert!(first.set(service, &hops).errors.is_empty());
    let all: std::collections::BTreeSet<String> =
        nodes.iter().map(|n| n.ipv4.to_string()).collect();
    let now = wait_until(
        Duration::from_secs(10),
        || fib_nexthops(&router.ns),
        |f| *f == all,
    );
    assert_eq!(now, all);

    let traffic = start_client(&topo, &client);
    std::thread::sleep(STEADY);
    let watch = watch_fib(&router.ns);
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    assert_eq!(
        first.stop(),
        bgpd::fib::Applied::default(),
        "retain_on_stop"
    );
    let mut second = open_fib(&router.ns, settings);
    let applied = second.set(service, &hops);
    let swept = second.sweep();
    std::thread::sleep(AFTER);
    let report = stop_client(&topo, traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    let line = f.line("restart with retain_on_stop, bgpd FIB");
    println!(
        "{line}, kernel operations at the restart: {}",
        applied.ops + swept.ops
    );
    assert_eq!(
        applied,
        bgpd::fib::Applied::default(),
        "adopted, not rebuilt\n{line}"
    );
    assert_eq!(
        swept,
        bgpd::fib::Applied::default(),
        "nothing to sweep\n{line}"
    );
    assert_eq!(
        (f.changed.0, f.others.0),
        (0, 0),
        "connections broken\n{line}"
    );
    assert!(f.new_failures.is_empty(), "new-connection failures\n{line}");
    assert_eq!(f.fib_changed_ms, None, "the route changed\n{line}");
    let second_settings = FibSettings {
        retain_on_stop: false,
        ..settings
    };
    drop(second);
    assert!(open_fib(&router.ns, second_settings)
        .stop()
        .errors
        .is_empty());
}
