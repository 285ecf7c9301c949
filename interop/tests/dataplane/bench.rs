//! The data-plane bench: a router (FRR bgpd + zebra, kernel ECMP), a client behind it, three
//! nodes serving the service address, and the measurements a scenario reports.
//!
//! ```text
//!   client ──(10.254.<i>.x/30)── router ──(lan 10.255.<i>.0/24)── n1, n2, n3
//!   dptraffic client              FRR bgpd + zebra                 192.0.2.10/32 on lo
//!                                 ip_forward, L4 multipath hash    dptraffic echo, bgpd
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use interop::Topology;
use interop::{wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, Node, Peer, Service};
use serde_json::Value;

pub const ROUTER_AS: u32 = 64500;
pub const NODES_AS: u32 = 64512;
/// The service address, on every node's loopback (only inside the test's namespaces).
pub const SERVICE_IP: &str = "192.0.2.10";
pub const SERVICE: &str = "192.0.2.10/32";
pub const PORT: u16 = 7000;
/// Long-lived connections the client holds.
pub const CONNS: usize = 200;
/// Time between two messages on each long-lived connection.
pub const INTERVAL_MS: u64 = 20;
/// New connections per second.
pub const RATE: u64 = 50;
/// Sessions up and the service in the FIB via every announcing node.
const SETUP: Duration = Duration::from_secs(40);
/// How often the FIB watcher reads the router's route.
const FIB_POLL: Duration = Duration::from_millis(10);

/// One scenario at a time in this test binary: the figures (echo gaps, FIB timing) are only
/// meaningful when scenarios do not compete with each other for the CPU (`./test.sh` runs six
/// tests at once). Each scenario holds this from its start to its end.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    // A failed scenario poisons the lock; the next one still runs.
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// How the bgpd on each node is configured (the same on all three).
#[derive(Debug, Clone)]
pub struct NodeOpts {
    /// Hold time offered (the router offers the same): 3 s in this suite.
    pub hold_time: u16,
    /// Offer graceful restart (RFC 4724) to the router.
    pub graceful_restart: bool,
    /// `restart_time` when graceful restart is on.
    pub restart_time: u16,
    /// `global.drain_time` (SIGTERM drains first).
    pub drain_time: Option<&'static str>,
    /// Further `[global]` keys (TOML values).
    pub global_keys: Vec<(&'static str, &'static str)>,
    /// Further `[[peers]]` keys (TOML values).
    pub peer_keys: Vec<(&'static str, &'static str)>,
    /// BFD (interval ms, multiplier) on both sides: bgpd's per-peer `bfd` and FRR's bfdd
    /// (`neighbor X bfd` with a profile of the same intervals).
    pub bfd: Option<(u32, u8)>,
}

impl NodeOpts {
    pub fn new() -> NodeOpts {
        NodeOpts {
            hold_time: 3,
            graceful_restart: false,
            restart_time: 120,
            drain_time: None,
            global_keys: Vec::new(),
            peer_keys: Vec::new(),
            bfd: None,
        }
    }

    /// The bgpd configuration of `node` peering with `router`.
    pub fn config(&self, node: &Node, router: &Node) -> BgpdConfig {
        let mut peer = Peer::new(router.ipv4.into(), ROUTER_AS).name("r");
        peer.graceful_restart = Some(self.graceful_restart);
        if self.graceful_restart {
            peer = peer.key("restart_time", &self.restart_time.to_string());
        }
        for (k, v) in &self.peer_keys {
            peer = peer.key(k, v);
        }
        if let Some((ms, mult)) = self.bfd {
            peer = peer.key(
                "bfd",
                &format!("{{ min_rx = \"{ms}ms\", min_tx = \"{ms}ms\", multiplier = {mult} }}"),
            );
        }
        let mut cfg = BgpdConfig::new(NODES_AS, node.ipv4)
            .peer(peer)
            .service(Service::new("web", SERVICE).nexthops(&["self"]));
        cfg.global.hold_time = Some(self.hold_time);
        cfg.global.keepalive = Some((self.hold_time / 3).max(1));
        if let Some(t) = self.drain_time {
            cfg = cfg.global_key("drain_time", &format!("\"{t}\""));
        }
        for (k, v) in &self.global_keys {
            cfg = cfg.global_key(k, v);
        }
        cfg
    }
}

/// Everything a scenario runs on.
pub struct Bench<'t> {
    pub topo: &'t Topology,
    pub router: Node,
    pub client: Node,
    pub nodes: Vec<Node>,
    /// The router's daemon when it is FRR + zebra ([`RouterKind::Frr`]).
    pub frr: Option<Frr<'t>>,
    /// The router's bgpd when it is bgpd with `[fib]` ([`RouterKind::Bgpd`]), and its config.
    pub router_bgpd: Option<(Bgpd<'t>, BgpdConfig)>,
    /// One slot per node; `None` while that node runs no bgpd.
    pub bgpds: Vec<Option<Bgpd<'t>>>,
    pub opts: NodeOpts,
}

impl<'t> Bench<'t> {
    /// Builds the namespaces, starts FRR + zebra, the echo servers and bgpd on the nodes
    /// `announcing` (indexes into n1..n3), and waits until the FIB holds exactly those next hops.
    pub fn build(topo: &'t Topology, opts: NodeOpts, announcing: &[usize]) -> Bench<'t> {
        Bench::build_with(topo, opts, announcing, RouterKind::Frr)
    }

    /// [`Bench::build`] with the router running `kind`.
    pub fn build_with(
        topo: &'t Topology,
        opts: NodeOpts,
        announcing: &[usize],
        kind: RouterKind,
    ) -> Bench<'t> {
        let router = topo.add_node("router");
        let nodes: Vec<Node> = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
        let client = topo.add_stub("client", &router);
        topo.sysctl(&router, "net.ipv4.ip_forward", "1");
        // L4 hash: the connections of one client spread over the next hops.
        topo.sysctl(&router, "net.ipv4.fib_multipath_hash_policy", "1");

        let mut cfg = FrrConfig::new(ROUTER_AS, router.ipv4)
            .maximum_paths(3)
            .zebra();
        if let Some((ms, mult)) = opts.bfd {
            cfg = cfg.bfd(ms, ms, mult);
        }
        for n in &nodes {
            let mut nb = FrrNeighbor::new(n.ipv4.into(), NODES_AS)
                .hold_time(opts.hold_time)
                .passive();
            if opts.bfd.is_some() {
                nb = nb.bfd();
            }
            cfg = cfg.neighbor(nb);
        }
        let (frr, router_bgpd) = match kind {
            RouterKind::Frr => (Some(Frr::start(topo, &router, cfg)), None),
            RouterKind::Bgpd { retain_on_stop } => {
                let rcfg = router_config(&router, &nodes, &opts, retain_on_stop);
                (None, Some((Bgpd::start(topo, &router, &rcfg), rcfg)))
            }
        };

        for n in &nodes {
            serve(topo, n, &router);
        }
        let mut bench = Bench {
            topo,
            router,
            client,
            nodes,
            frr,
            router_bgpd,
            bgpds: Vec::new(),
            opts,
        };
        bench.bgpds = (0..3).map(|_| None).collect();
        for &i in announcing {
            bench.start_bgpd(i);
        }
        let want = bench.nexthops(announcing);
        let got = wait_until(SETUP, || bench.fib(), |f| *f == want);
        assert_eq!(
            got, want,
            "the router's FIB next hops for {SERVICE} after setup"
        );
        bench
    }

    /// Starts (or restarts) bgpd on node `i`.
    pub fn start_bgpd(&mut self, i: usize) {
        let node = &self.nodes[i];
        let cfg = self.opts.config(node, &self.router);
        self.bgpds[i] = Some(Bgpd::start(self.topo, node, &cfg));
    }

    /// FRR on the router (scenarios of the FRR router only).
    pub fn frr(&self) -> &Frr<'t> {
        self.frr.as_ref().expect("the router runs FRR")
    }

    pub fn bgpd(&self, i: usize) -> &Bgpd<'t> {
        self.bgpds[i].as_ref().expect("bgpd running on that node")
    }

    /// The LAN addresses of nodes `indexes`, as the FIB names next hops.
    pub fn nexthops(&self, indexes: &[usize]) -> BTreeSet<String> {
        indexes
            .iter()
            .map(|&i| self.nodes[i].ipv4.to_string())
            .collect()
    }

    /// The router's kernel FIB: next hops of the service route.
    pub fn fib(&self) -> BTreeSet<String> {
        fib_nexthops(&self.router.ns)
    }

    /// Watches the router's FIB from now on (every [`FIB_POLL`]).
    pub fn watch_fib(&self) -> FibWatch {
        watch_fib(&self.router.ns)
    }

    /// Starts the client; returns once every long-lived connection has had its first echo.
    pub fn start_client(&self) -> Traffic {
        start_client(self.topo, &self.client)
    }

    /// Stops the client and reads its report.
    pub fn stop_client(&self, traffic: Traffic) -> Report {
        stop_client(self.topo, traffic)
    }
}

/// What runs on the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterKind {
    /// FRR bgpd + zebra (`maximum-paths 3`): a plain multipath route.
    Frr,
    /// bgpd with `[fib]` (issue 16): a resilient next-hop group changed in place.
    Bgpd { retain_on_stop: bool },
}

impl RouterKind {
    pub fn name(self) -> &'static str {
        match self {
            RouterKind::Frr => "FRR+zebra",
            RouterKind::Bgpd { .. } => "bgpd [fib]",
        }
    }
}

/// `[fib] idle_timer` of the bgpd router: a bucket no packet used for 1 s may move (a join,
/// a drain), so the scenarios see buckets move within their few seconds.
pub const ROUTER_IDLE_TIMER_S: u32 = 1;

/// The router's bgpd: passive peers to the three nodes, importing the service prefixes,
/// `[fib]` with resilient groups.
fn router_config(router: &Node, nodes: &[Node], opts: &NodeOpts, retain: bool) -> BgpdConfig {
    let mut cfg = BgpdConfig::new(ROUTER_AS, router.ipv4).fib(&[
        ("idle_timer", &ROUTER_IDLE_TIMER_S.to_string()),
        ("retain_on_stop", if retain { "true" } else { "false" }),
    ]);
    cfg.global.listen = Some(vec![router.ipv4.to_string()]);
    cfg.global.hold_time = Some(opts.hold_time);
    cfg.global.keepalive = Some((opts.hold_time / 3).max(1));
    for n in nodes {
        let mut p = Peer::new(n.ipv4.into(), NODES_AS)
            .name(&n.role)
            .key("passive", "true")
            .key("import", "[\"192.0.2.0/24 le 32\"]");
        p.graceful_restart = Some(opts.graceful_restart);
        if let Some((ms, mult)) = opts.bfd {
            p = p.key(
                "bfd",
                &format!("{{ min_rx = \"{ms}ms\", min_tx = \"{ms}ms\", multiplier = {mult} }}"),
            );
        }
        cfg = cfg.peer(p);
    }
    cfg
}

/// The running client.
pub struct Traffic {
    pid: u32,
    report: PathBuf,
}

/// Every distinct FIB state seen: (wall ms first seen, next hops).
pub type FibLog = Vec<(u64, BTreeSet<String>)>;

/// The FIB watcher thread.
pub struct FibWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<FibLog>>,
}

impl FibWatch {
    /// Stops watching; returns every distinct FIB state seen, with the wall time (ms) it was
    /// first seen, the state at the start first.
    pub fn finish(mut self) -> FibLog {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("FIB watcher not yet joined");
        thread.join().expect("FIB watcher")
    }
}

impl Drop for FibWatch {
    /// A scenario that fails before [`FibWatch::finish`] still stops the thread (its namespace
    /// is about to go).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The client's report (see `dptraffic`).
pub struct Report(pub Value);

/// The figures one scenario prints.
#[derive(Debug, Clone)]
pub struct Figures {
    /// (broken, total) long-lived connections served by the node that changed.
    pub changed: (usize, usize),
    /// (broken, total) on the other nodes.
    pub others: (usize, usize),
    /// Longest echo gap on any connection, ms.
    pub max_gap_ms: u64,
    /// Start times of failed new connections, ms after the change.
    pub new_failures: Vec<i64>,
    pub new_attempts: u64,
    /// First FIB change after the change, ms after it.
    pub fib_changed_ms: Option<i64>,
}

impl Report {
    fn conns(&self) -> Vec<&Value> {
        self.0["conns"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }

    pub fn figures(&self, changed: &str, t0: u64, fib: &[(u64, BTreeSet<String>)]) -> Figures {
        let mut f = Figures {
            changed: (0, 0),
            others: (0, 0),
            max_gap_ms: 0,
            new_failures: Vec::new(),
            new_attempts: self.0["new"]["attempts"].as_u64().unwrap_or(0),
            fib_changed_ms: None,
        };
        for c in self.conns() {
            let slot = if c["node"].as_str() == Some(changed) {
                &mut f.changed
            } else {
                &mut f.others
            };
            slot.1 += 1;
            if !c["broken_at_ms"].is_null() {
                slot.0 += 1;
            }
            f.max_gap_ms = f.max_gap_ms.max(c["max_gap_ms"].as_u64().unwrap_or(0));
        }
        if let Some(failures) = self.0["new"]["failures"].as_array() {
            f.new_failures = failures
                .iter()
                .map(|x| x["t_ms"].as_u64().unwrap_or(0) as i64 - t0 as i64)
                .collect();
        }
        let initial = fib.first().map(|(_, s)| s);
        f.fib_changed_ms = fib
            .iter()
            .find(|(t, s)| *t >= t0 && Some(s) != initial)
            .map(|(t, _)| *t as i64 - t0 as i64);
        f
    }

    /// Why connections broke, counted (for the output when an assertion fails).
    pub fn reasons(&self) -> String {
        let mut m = std::collections::BTreeMap::<String, usize>::new();
        for c in self.conns() {
            if let Some(r) = c["reason"].as_str() {
                *m.entry(format!("{} {r}", c["node"].as_str().unwrap_or("-")))
                    .or_default() += 1;
            }
        }
        format!(
            "{m:?}; new-connection failures {}",
            self.0["new"]["failures"]
        )
    }
}

impl Figures {
    /// The one line a scenario prints.
    pub fn line(&self, scenario: &str) -> String {
        let window = match (
            self.new_failures.iter().min(),
            self.new_failures.iter().max(),
        ) {
            (Some(a), Some(b)) => format!(" (in window [{a},{b}] ms)"),
            _ => String::new(),
        };
        let fib = match self.fib_changed_ms {
            Some(t) => format!("FIB changed after {t} ms"),
            None => "FIB never changed".to_string(),
        };
        format!(
            "scenario {scenario}: broken {}/{} on the changed node, {}/{} on the others, \
             longest echo gap {} ms, new-connection failures {}{window} of {}, {fib}",
            self.changed.0,
            self.changed.1,
            self.others.0,
            self.others.1,
            self.max_gap_ms,
            self.new_failures.len(),
            self.new_attempts,
        )
    }
}

/// Wall clock, ms since the Unix epoch (the client reports in the same clock).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `ip -n NS -j route show SERVICE`: the gateways of the route (one, or a multipath list).
/// zebra may install the route with a kernel nexthop object (`nhid`); its members are then read
/// with `ip nexthop show id`.
pub fn fib_nexthops(ns: &str) -> BTreeSet<String> {
    let routes = ip_json(&["-n", ns, "-j", "route", "show", SERVICE]);
    let mut out = BTreeSet::new();
    for r in routes.as_array().into_iter().flatten() {
        collect_gateways(r, &mut out);
        if let Some(id) = r["nhid"].as_u64() {
            let nh = ip_json(&["-n", ns, "-j", "nexthop", "show", "id", &id.to_string()]);
            for n in nh.as_array().into_iter().flatten() {
                collect_gateways(n, &mut out);
                for member in n["group"].as_array().into_iter().flatten() {
                    if let Some(mid) = member["id"].as_u64() {
                        let m =
                            ip_json(&["-n", ns, "-j", "nexthop", "show", "id", &mid.to_string()]);
                        for x in m.as_array().into_iter().flatten() {
                            collect_gateways(x, &mut out);
                        }
                    }
                }
            }
        }
    }
    out
}

fn collect_gateways(v: &Value, out: &mut BTreeSet<String>) {
    if let Some(g) = v["gateway"].as_str() {
        out.insert(g.to_string());
    }
    for nh in v["nexthops"].as_array().into_iter().flatten() {
        if let Some(g) = nh["gateway"].as_str() {
            out.insert(g.to_string());
        }
    }
}

fn ip_json(args: &[&str]) -> Value {
    let out = Command::new("ip").args(args).output().expect("run ip");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The `dptraffic` binary cargo built for this test.
fn traffic_binary() -> String {
    env!("CARGO_BIN_EXE_dptraffic").to_string()
}

/// Watches the service route in namespace `ns` from now on (every [`FIB_POLL`]).
pub fn watch_fib(ns: &str) -> FibWatch {
    let ns = ns.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut changes = FibLog::new();
        while !flag.load(Ordering::Relaxed) {
            let fib = fib_nexthops(&ns);
            let t = wall_ms();
            if changes.last().map(|(_, f)| f) != Some(&fib) {
                changes.push((t, fib));
            }
            std::thread::sleep(FIB_POLL);
        }
        changes
    });
    FibWatch {
        stop,
        thread: Some(thread),
    }
}

/// Starts the client; returns once every long-lived connection has had its first echo.
pub fn start_client(topo: &Topology, client: &Node) -> Traffic {
    let report = client.dir.join("report.json");
    let log = client.dir.join("client.log");
    let target = format!("{SERVICE_IP}:{PORT}");
    let pid = topo.spawn(
        client,
        "dptraffic client",
        &traffic_binary(),
        &[
            "client",
            "--target",
            &target,
            "--report",
            &report.display().to_string(),
            "--conns",
            &CONNS.to_string(),
            "--interval-ms",
            &INTERVAL_MS.to_string(),
            "--rate",
            &RATE.to_string(),
        ],
        &log,
    );
    let ready = wait_until(
        Duration::from_secs(30),
        || {
            fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .find(|l| l.contains("\"ready\""))
                .map(str::to_string)
        },
        Option::is_some,
    );
    let ready = ready.expect("the client's connections did not all get an echo within 30 s");
    let v: Value = serde_json::from_str(&ready).expect("ready line is JSON");
    assert_eq!(
        v["established"].as_u64(),
        Some(CONNS as u64),
        "long-lived connections established: {ready}"
    );
    Traffic { pid, report }
}

/// Stops the client and reads its report.
pub fn stop_client(topo: &Topology, traffic: Traffic) -> Report {
    topo.signal(traffic.pid, libc::SIGTERM);
    let status = topo.wait_exit(traffic.pid, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "the client did not exit cleanly: {status:?}"
    );
    let text = fs::read_to_string(&traffic.report).expect("client report");
    Report(serde_json::from_str(&text).expect("client report is JSON"))
}

/// Puts the service address on `node`'s loopback, routes it back via `router`, and starts its
/// echo server (it names the node in each answer).
pub fn serve(topo: &Topology, node: &Node, router: &Node) {
    topo.exec(node, "ip", &["addr", "add", SERVICE, "dev", "lo"]);
    let via = router.ipv4.to_string();
    topo.exec(node, "ip", &["route", "add", "default", "via", &via]);
    let bind = format!("{SERVICE_IP}:{PORT}");
    topo.spawn(
        node,
        &format!("echo {}", node.role),
        &traffic_binary(),
        &["echo", "--node", &node.role, "--bind", &bind],
        &node.dir.join("echo.log"),
    );
}
