//! `fib`: bgpd as a router programming the kernel FIB (issue 16), next to FRR bgpd + zebra, in
//! one run, with the same nodes and the same routes (docs/benchmarks.md, "Router FIB").
//! Needs root (network namespaces) and FRR; `benches/run-fib.sh` builds bgpd in release mode
//! and runs this.
//!
//! A router namespace and `FIB_NODES` (8) node namespaces on one LAN. Each node runs bgpd with
//! one session to the router and no services. For each router (bgpd with `[fib]`, then FRR
//! bgpd + zebra with `maximum-paths 8`):
//!
//! 1. **Install**: then every node announces the same `FIB_N` (10 000) service prefixes at once
//!    (`announce-many` on its control socket). Timed: from the requests until the router's
//!    kernel holds all of them, each with all 8 next hops (read with `ip -j route`, `ip -j
//!    nexthop`, every 20 ms). Then the router's RSS (bgpd; FRR: bgpd + zebra).
//! 0. **Latency** (first, on an empty table): one node announces and withdraws one prefix
//!    `FIB_TOGGLES` (20) times; each time from the control request on the node until `ip
//!    monitor route` in the router's namespace prints the route (or its deletion): the node's
//!    own work, the wire and the router, for both routers alike. bgpd's own figure, from the
//!    UPDATE read to the kernel programmed, is its `update_to_kernel_median_us` (`bgpctl fib`,
//!    `bgpd_fib_update_to_kernel_seconds`).
//!
//! Prints one line per figure and a ratio line per target: install time bgpd / zebra <= 1.0,
//! median latency <= 5 ms, bgpd RSS <= 40 MB.

#[path = "../routers/mod.rs"]
#[allow(dead_code)]
mod routers;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interop::{wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, Node, Peer, Topology};
use serde_json::{json, Value};

const ROUTER_AS: u32 = 64500;
const NODES_AS: u32 = 64512;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The `i`-th service prefix: 100.64.0.0 + i, /32.
fn prefix(i: usize) -> String {
    let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i as u32);
    format!("{a}/32")
}

/// The prefix the latency part toggles.
const TOGGLE: &str = "100.127.0.1/32";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RouterKind {
    Bgpd,
    Frr,
}

impl RouterKind {
    fn name(self) -> &'static str {
        match self {
            RouterKind::Bgpd => "bgpd [fib]",
            RouterKind::Frr => "FRR bgpd+zebra",
        }
    }
}

struct Figures {
    install: Duration,
    rss_mb: f64,
    latency_announce_ms: f64,
    latency_withdraw_ms: f64,
    /// bgpd's `update_to_kernel_median_us`, ms.
    internal_ms: Option<f64>,
}

fn ip_json(args: &[&str]) -> Value {
    let out = Command::new("ip").args(args).output();
    out.ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or(Value::Null)
}

/// Routes in 100.64.0.0/10 with `members` next hops, in the router's main table.
fn complete_routes(ns: &str, members: usize) -> usize {
    let mut group_size: BTreeMap<u64, usize> = BTreeMap::new();
    for n in ip_json(&["-n", ns, "-j", "nexthop", "show"])
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(id), Some(g)) = (n["id"].as_u64(), n["group"].as_array()) {
            group_size.insert(id, g.len());
        }
    }
    ip_json(&["-n", ns, "-j", "route", "show", "root", "100.64.0.0/10"])
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            let n = match r["nhid"].as_u64() {
                Some(id) => group_size.get(&id).copied().unwrap_or(1),
                None => r["nexthops"].as_array().map(Vec::len).unwrap_or(1),
            };
            n == members
        })
        .count()
}

fn rss_mb(pid: u32) -> f64 {
    routers::sample(pid)
        .map(|s| s.rss_kb as f64 / 1024.0)
        .unwrap_or(f64::NAN)
}

fn run(kind: RouterKind, n_nodes: usize, n: usize, toggles: usize) -> Result<Figures, String> {
    let topo = Topology::new(match kind {
        RouterKind::Bgpd => "fibbench_bgpd",
        RouterKind::Frr => "fibbench_frr",
    });
    let router = topo.add_node("router");
    let nodes: Vec<Node> = (1..=n_nodes)
        .map(|i| topo.add_node(&format!("n{i}")))
        .collect();
    // The router.
    let mut router_bgpd = None;
    let mut frr = None;
    match kind {
        RouterKind::Bgpd => {
            let mut cfg = BgpdConfig::new(ROUTER_AS, router.ipv4)
                .fib(&[])
                .rib_key("max_paths", &n_nodes.to_string());
            cfg.global.listen = Some(vec![router.ipv4.to_string()]);
            for node in &nodes {
                cfg = cfg.peer(
                    Peer::new(node.ipv4.into(), NODES_AS)
                        .name(&node.role)
                        .key("passive", "true")
                        .key("import", "[\"100.64.0.0/10 le 32\"]"),
                );
            }
            router_bgpd = Some(Bgpd::start(&topo, &router, &cfg));
        }
        RouterKind::Frr => {
            let mut cfg = FrrConfig::new(ROUTER_AS, router.ipv4)
                .maximum_paths(n_nodes as u8)
                .zebra();
            for node in &nodes {
                cfg = cfg.neighbor(FrrNeighbor::new(node.ipv4.into(), NODES_AS).passive());
            }
            frr = Some(Frr::start(&topo, &router, cfg));
        }
    }
    // The nodes: one session each, no services yet.
    let speakers: Vec<Bgpd<'_>> = nodes
        .iter()
        .map(|node| {
            let cfg = BgpdConfig::new(NODES_AS, node.ipv4)
                .peer(Peer::new(router.ipv4.into(), ROUTER_AS).name("r"));
            Bgpd::start(&topo, node, &cfg)
        })
        .collect();
    for s in &speakers {
        let up = wait_until(
            Duration::from_secs(60),
            || s.neighbor("r").ok(),
            |v| {
                v.as_ref()
                    .is_some_and(|v| v["state"].as_str() == Some("Established"))
            },
        );
        if up.is_none() {
            return Err(format!("{}: session with the router not up", s.node.role));
        }
    }
    // 1. Latency (on an empty table): ip monitor in the router's namespace, stamped on arrival.
    let mut monitor = Command::new("ip")
        .args(["-n", &router.ns, "monitor", "route"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("ip monitor: {e}"))?;
    let stdout = monitor.stdout.take().ok_or("ip monitor stdout")?;
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let toggle = TOGGLE.trim_end_matches("/32");
    let mut add = Vec::new();
    let mut del = Vec::new();
    let s0 = &speakers[0];
    for _ in 0..toggles {
        for (announce, out) in [(true, &mut add), (false, &mut del)] {
            while rx.try_recv().is_ok() {}
            let req = if announce {
                json!({"cmd": "announce", "prefix": TOGGLE})
            } else {
                json!({"cmd": "withdraw", "prefix": TOGGLE})
            };
            let t = Instant::now();
            s0.control(req).map_err(|e| format!("toggle: {e}"))?;
            let deadline = t + Duration::from_secs(10);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok((at, line)) => {
                        let first = line.split_whitespace().next().unwrap_or_default();
                        let deleted = first == "Deleted";
                        let dst = if deleted {
                            line.split_whitespace().nth(1).unwrap_or_default()
                        } else {
                            first
                        };
                        if dst == toggle && deleted != announce {
                            out.push(at.duration_since(t).as_secs_f64() * 1000.0);
                            break;
                        }
                    }
                    Err(_) => return Err(format!("{}: no kernel event for {TOGGLE}", kind.name())),
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    // bgpd's own figure: from the UPDATE read to the kernel programmed.
    let internal_ms = router_bgpd
        .as_ref()
        .and_then(|b| b.control(json!({"cmd": "fib"})).ok())
        .and_then(|v| v["update_to_kernel_median_us"].as_f64())
        .map(|us| us / 1000.0);
    // 2. Install.
    let list: Vec<String> = (0..n).map(prefix).collect();
    let text = list.join("\n");
    let t0 = Instant::now();
    let handles: Vec<_> = speakers
        .iter()
        .map(|s| {
            let socket = s.node.dir.join("bgpd.sock");
            let req = json!({"cmd": "announce-many", "prefixes": text.clone()});
            std::thread::spawn(move || interop::bgpd::control_request(&socket, req))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| "announce thread".to_string())?
            .map_err(|e| format!("announce-many: {e}"))?;
    }
    let mut last;
    let done = loop {
        last = complete_routes(&router.ns, n_nodes);
        if last >= n {
            break Some(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(300) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let install = done.ok_or(format!(
        "{}: {last} of {n} routes complete after 300 s",
        kind.name()
    ))?;
    let rss = match (&router_bgpd, &frr) {
        (Some(b), _) => rss_mb(b.pid()),
        (_, Some(f)) => rss_mb(f.pid()) + f.zebra_pid().map(rss_mb).unwrap_or(0.0),
        _ => f64::NAN,
    };
    drop(speakers);
    Ok(Figures {
        install,
        rss_mb: rss,
        latency_announce_ms: routers::median(&add),
        latency_withdraw_ms: routers::median(&del),
        internal_ms,
    })
}

fn main() {
    let n_nodes = env_num("FIB_NODES", 8);
    let n = env_num("FIB_N", 10_000);
    let toggles = env_num("FIB_TOGGLES", 20);
    println!(
        "fib bench: {n} service prefixes x {n_nodes} next hops, {toggles} toggles; {}",
        routers::loadavg()
    );
    let mut out = BTreeMap::new();
    for kind in [RouterKind::Bgpd, RouterKind::Frr] {
        match run(kind, n_nodes, n, toggles) {
            Ok(f) => {
                println!(
                    "{:<16} install {n} x {n_nodes}: {:>7.3} s   RSS {:>6.1} MB   node request -> router kernel (median of {toggles}): announce {:>6.2} ms, withdraw {:>6.2} ms{}",
                    kind.name(),
                    f.install.as_secs_f64(),
                    f.rss_mb,
                    f.latency_announce_ms,
                    f.latency_withdraw_ms,
                    f.internal_ms
                        .map(|m| format!("   UPDATE read -> kernel (bgpd's own): {m:.3} ms"))
                        .unwrap_or_default()
                );
                out.insert(kind.name(), f);
            }
            Err(e) => println!("{:<16} failed: {e}", kind.name()),
        }
    }
    let (Some(b), Some(z)) = (out.get("bgpd [fib]"), out.get("FRR bgpd+zebra")) else {
        std::process::exit(1);
    };
    let ratio = b.install.as_secs_f64() / z.install.as_secs_f64();
    println!(
        "ratio install time bgpd/zebra: {ratio:.2} (target <= 1.0) {}",
        if ratio <= 1.0 { "ok" } else { "MISSED" }
    );
    let lat = b.internal_ms.unwrap_or(f64::NAN);
    println!(
        "ratio UPDATE read -> FIB programmed, bgpd median/5 ms: {:.2} ({lat:.3} ms, target <= 5 ms) {}",
        lat / 5.0,
        if lat <= 5.0 { "ok" } else { "MISSED" }
    );
    println!(
        "ratio node request -> router kernel, bgpd/zebra: {:.2} (announce {:.2} vs {:.2} ms, withdraw {:.2} vs {:.2} ms)",
        (b.latency_announce_ms + b.latency_withdraw_ms)
            / (z.latency_announce_ms + z.latency_withdraw_ms),
        b.latency_announce_ms,
        z.latency_announce_ms,
        b.latency_withdraw_ms,
        z.latency_withdraw_ms
    );
    println!(
        "ratio bgpd RSS/40 MB: {:.2} ({:.1} MB, target <= 40 MB; FRR bgpd+zebra {:.1} MB) {}",
        b.rss_mb / 40.0,
        b.rss_mb,
        z.rss_mb,
        if b.rss_mb <= 40.0 { "ok" } else { "MISSED" }
    );
}
