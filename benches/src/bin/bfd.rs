//! `bfd`: BFD figures for issue 12 (docs/benchmarks.md, "BFD"). Needs root, FRR (bgpd, zebra,
//! bfdd); `benches/run-bfd.sh` builds bgpd and this in release mode and runs it.
//!
//! 1. Detection: a node announces 192.0.2.10/32 to an FRR router (zebra + bfdd, 50 ms x 3),
//!    its link goes down silently, and the time until the route leaves the router's kernel FIB
//!    is measured; once with bgpd as the node's speaker and once with FRR (bgpd + bfdd) at the
//!    same intervals, alternating, `BFD_RUNS` (5) runs each; medians and their ratio. Both
//!    ends of the interval are netlink events read by `ip monitor` (the link going down in
//!    the node's namespace, the route deleted in the router's), timestamped as they arrive
//!    by the same code, so neither includes the start-up time of a command or a poll period.
//! 2. CPU: bgpd with `BFD_SESSIONS` (100) BFD sessions at 50 ms x 3 (to a second bgpd) for
//!    `BFD_CPU_SECS` (30) s; its CPU time over that window as a share of one core, and how
//!    much of it the BFD thread took. The BGP sessions under the BFD sessions use bgpd's
//!    default timers (hold 90 s, keepalive 30 s); `BFD_HOLD=9` sets the hold time and a
//!    keepalive of a third of it (the interop harness's 9 s / 3 s).
//!
//! Targets (issue 12): detection no slower than FRR's (ratio <= 1.0) and <= 200 ms; 100
//! sessions at 50 ms cost <= 3 % of one core.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use interop::{
    wait_until, Bgpd, BgpdConfig, Frr, FrrConfig, FrrNeighbor, Node, Peer, Service, Topology,
};

const ROUTER_AS: u32 = 64500;
const NODE_AS: u32 = 64512;
const SERVICE: &str = "192.0.2.10/32";
const INTERVAL_MS: u32 = 50;
const MULT: u8 = 3;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bfd_key() -> String {
    format!("{{ min_rx = \"{INTERVAL_MS}ms\", min_tx = \"{INTERVAL_MS}ms\", multiplier = {MULT} }}")
}

/// The router's kernel FIB entry for the service (empty when there is none).
fn fib(topo: &Topology, router: &Node) -> String {
    topo.exec(router, "ip", &["-4", "route", "show", SERVICE])
        .trim()
        .to_string()
}

/// `ip -n NS monitor OBJECT`: each line it prints, with the time it arrived here. Killed (by
/// its PID) when dropped.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Monitor {
    fn start(ns: &str, object: &str) -> Monitor {
        let mut child = Command::new("ip")
            .args(["-n", ns, "monitor", object])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("ip monitor {object} in {ns}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // iproute2 flushes after every event.
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Monitor { child, lines }
    }

    /// When the first line since the last call that satisfies `pred` arrived.
    fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if pred(&line) => return Some(at),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Forgets what arrived so far.
    fn drain(&self) {
        while self.lines.try_recv().is_ok() {}
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When BFD Control packets from `src` arrived in namespace `ns`: an `AF_PACKET` socket on a
/// thread of its own that joined the namespace (no tcpdump on the bench host). Stops when
/// dropped.
struct Capture {
    stop: Arc<AtomicBool>,
    times: Arc<Mutex<Vec<Instant>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    fn start(ns: &str, src: Ipv4Addr) -> Result<Capture, String> {
        let netns = std::fs::File::open(format!("/var/run/netns/{ns}"))
            .map_err(|e| format!("open netns {ns}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let times = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready) = mpsc::channel();
        let (stop2, times2) = (stop.clone(), times.clone());
        let thread = std::thread::spawn(move || {
            // SAFETY: setns on this thread only (CLONE_NEWNET), with an open netns fd; socket,
            // setsockopt, recv and close get valid arguments and buffers of the stated sizes.
            let fd = unsafe {
                if libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    let _ = ready_tx.send(Err("setns failed".to_string()));
                    return;
                }
                let proto = i32::from((libc::ETH_P_IP as u16).to_be());
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, proto);
                let tv = libc::timeval {
                    tv_sec: 0,
                    tv_usec: 50_000,
                };
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                );
                fd
            };
            if fd < 0 {
                let _ = ready_tx.send(Err("AF_PACKET socket failed".to_string()));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            let mut buf = [0u8; 256];
            while !stop2.load(Ordering::Relaxed) {
                // SAFETY: see above.
                let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
                let at = Instant::now();
                let Ok(n) = usize::try_from(n) else { continue };
                let ip = &buf[..n.min(buf.len())];
                // IPv4, UDP, from `src`, to port 3784.
                if ip.len() < 28 || ip[0] >> 4 != 4 || ip[9] != 17 || ip[12..16] != src.octets() {
                    continue;
                }
                let udp = usize::from(ip[0] & 0x0f) * 4;
                if ip.len() >= udp + 4 && ip[udp + 2..udp + 4] == 3784u16.to_be_bytes() {
                    times2.lock().unwrap().push(at);
                }
            }
            // SAFETY: fd is ours.
            unsafe { libc::close(fd) };
        });
        ready
            .recv()
            .map_err(|_| "capture thread died".to_string())??;
        Ok(Capture {
            stop,
            times,
            thread: Some(thread),
        })
    }

    /// The mean gap between the packets that arrived at or before `t` (ms).
    fn mean_gap_before(&self, t: Instant) -> Option<f64> {
        let times: Vec<Instant> = self
            .times
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|&a| a <= t)
            .collect();
        let (first, last) = (times.first()?, times.last()?);
        let n = times.len().checked_sub(1).filter(|&n| n > 0)?;
        Some(last.duration_since(*first).as_secs_f64() * 1000.0 / n as f64)
    }

    /// The last packet that arrived at or before `t`.
    fn last_before(&self, t: Instant) -> Option<Instant> {
        self.times
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|&a| a <= t)
            .max()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One detection run, ms: crash to FIB change, split (when the capture saw the node's packets)
/// at the moment the router's Detection Time ran out: before it, 150 ms less the age of the
/// node's last packet at the crash (all the node's speaker decides); after it, the router's
/// bfdd, bgpd and zebra.
struct Detected {
    total: f64,
    split: Option<(f64, f64)>,
    /// The mean gap between the node's packets at the router before the crash.
    gap: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Speaker {
    Bgpd,
    Frr,
}

/// One detection run: ms from the node's link going down to the route leaving the FIB.
fn detection(speaker: Speaker, run: u64) -> Result<Detected, String> {
    let topo = Topology::new(&format!("bfd-det-{speaker:?}-{run}"));
    let r = topo.add_node("r");
    let n = topo.add_node("n1");
    let router = Frr::start(
        &topo,
        &r,
        FrrConfig::new(ROUTER_AS, r.ipv4)
            .zebra()
            .bfd(INTERVAL_MS, INTERVAL_MS, MULT)
            .neighbor(FrrNeighbor::new(n.ipv4.into(), NODE_AS).passive().bfd()),
    );
    topo.exec(&n, "ip", &["addr", "add", SERVICE, "dev", "lo"]);
    let _bgpd;
    let _frr_node;
    match speaker {
        Speaker::Bgpd => {
            let cfg = BgpdConfig::new(NODE_AS, n.ipv4)
                .peer(
                    Peer::new(r.ipv4.into(), ROUTER_AS)
                        .name("r")
                        .key("bfd", &bfd_key()),
                )
                .service(Service::new("web", SERVICE).nexthops(&["self"]));
            _bgpd = Some(Bgpd::start(&topo, &n, &cfg));
        }
        Speaker::Frr => {
            _frr_node = Some(Frr::start(
                &topo,
                &n,
                FrrConfig::new(NODE_AS, n.ipv4)
                    .bfd(INTERVAL_MS, INTERVAL_MS, MULT)
                    .network(SERVICE)
                    .neighbor(FrrNeighbor::new(r.ipv4.into(), ROUTER_AS).bfd()),
            ));
        }
    }
    let via = n.ipv4.to_string();
    let installed = wait_until(
        Duration::from_secs(60),
        || fib(&topo, &r),
        |f| f.contains(&via),
    );
    if !installed.contains(&via) {
        return Err(format!(
            "{speaker:?}: the route never reached the router's FIB"
        ));
    }
    let bfd_up = wait_until(
        Duration::from_secs(30),
        || {
            router.bfd_peer(n.ipv4.into())["status"]
                .as_str()
                .map(String::from)
        },
        |s| s.as_deref() == Some("up"),
    );
    if bfd_up.as_deref() != Some("up") {
        return Err(format!("{speaker:?}: BFD never came up at the router"));
    }
    let links = Monitor::start(&n.ns, "link");
    let routes = Monitor::start(&r.ns, "route");
    let capture = Capture::start(&r.ns, n.ipv4)?;
    // Let the sessions settle at their negotiated rates (and the monitors start).
    std::thread::sleep(Duration::from_secs(2));
    links.drain();
    routes.drain();
    topo.set_link(&n, false);
    // The crash: the node's eth0 reported down ("eth0@if12: <BROADCAST,MULTICAST> ... state
    // DOWN"); the FIB change: the service route deleted at the router.
    let down = links
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("eth0") && l.contains("state DOWN")
        })
        .ok_or(format!("{speaker:?}: no link-down event from the node"))?;
    let prefix = SERVICE.trim_end_matches("/32");
    let gone = routes
        .wait_for(Duration::from_secs(20), |l| {
            l.starts_with("Deleted") && l.split_whitespace().nth(1) == Some(prefix)
        })
        .ok_or(format!("{speaker:?}: the route stayed in the FIB for 20 s"))?;
    if fib(&topo, &r).contains(&via) {
        return Err(format!(
            "{speaker:?}: a route deletion was seen but the FIB still has {via}"
        ));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // The router declares the node down one Detection Time (3 x 50 ms) after the last packet
    // it received from it (RFC 5880 §6.8.4).
    let detect = Duration::from_millis(u64::from(INTERVAL_MS) * u64::from(MULT));
    let split = capture.last_before(down).map(|last| {
        let expired = last + detect;
        (
            ms(expired.saturating_duration_since(down)),
            ms(gone.saturating_duration_since(expired)),
        )
    });
    Ok(Detected {
        total: ms(gone.saturating_duration_since(down)),
        split,
        gap: capture.mean_gap_before(down),
    })
}

/// CPU seconds (user + system) in a /proc `stat` file.
fn stat_cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name: utime and stime are the 14th and 15th of the line.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// CPU seconds of `pid` so far: (whole process, its thread named "bfd").
fn cpu_secs(pid: u32) -> (f64, f64) {
    let all = stat_cpu_secs(&format!("/proc/{pid}/stat"));
    let mut bfd = 0.0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() == "bfd" {
                bfd += stat_cpu_secs(&t.path().join("stat").to_string_lossy());
            }
        }
    }
    (all, bfd)
}

/// What the CPU phase measured.
struct Cpu {
    /// bgpd's CPU time over the window, % of one core.
    pct: f64,
    /// The BFD thread's share of it.
    bfd_pct: f64,
    up: u32,
}

/// bgpd's CPU share (% of one core) with `sessions` BFD sessions at 50 ms x 3 for `secs` s.
fn cpu(sessions: u32, secs: u64, hold: Option<u16>) -> Result<Cpu, String> {
    let topo = Topology::new("bfd-cpu");
    let a = topo.add_node("a");
    let b = topo.add_node("b");
    let subnet = |node: &Node, i: u32| -> Ipv4Addr {
        let o = node.ipv4.octets();
        Ipv4Addr::new(
            10,
            254,
            o[2],
            if node.role == "a" { 10 + i } else { 130 + i } as u8,
        )
    };
    // The two speakers share a direct link (a veth pair, `bfd0` in each), as a node and its
    // router do; `BFD_LINK=lan` puts the sessions on the test LAN's bridge instead, whose
    // bridge netfilter hooks cost more per packet than any link a node has.
    let lan = std::env::var("BFD_LINK").is_ok_and(|v| v == "lan");
    let dev = if lan { "eth0" } else { "bfd0" };
    if !lan {
        interop::topo::ip(&[
            "-n", &a.ns, "link", "add", "bfd0", "type", "veth", "peer", "name", "bfd0", "netns",
            &b.ns,
        ]);
    }
    for node in [&a, &b] {
        for i in 0..sessions {
            let addr = format!("{}/24", subnet(node, i));
            topo.exec(node, "ip", &["addr", "add", &addr, "dev", dev]);
        }
        topo.exec(node, "ip", &["link", "set", dev, "up"]);
    }
    let cfg = |me: &Node, other: &Node, passive: bool| {
        let mut cfg = BgpdConfig::new(NODE_AS, me.ipv4);
        cfg.global.hold_time = hold;
        cfg.global.keepalive = hold.map(|h| (h / 3).max(1));
        if passive {
            cfg.global.listen = None; // default: listen on every address
        }
        for i in 0..sessions {
            let mut p = Peer::new(IpAddr::V4(subnet(other, i)), NODE_AS)
                .name(&format!("p{i}"))
                .local_address(IpAddr::V4(subnet(me, i)))
                .key("bfd", &bfd_key());
            if passive {
                p = p.key("passive", "true");
            }
            cfg = cfg.peer(p);
        }
        cfg
    };
    let bgpd_a = Bgpd::start(&topo, &a, &cfg(&a, &b, false));
    let _bgpd_b = Bgpd::start(&topo, &b, &cfg(&b, &a, true));
    let up = || {
        interop::bgpd::control_request(
            &a.dir.join("bgpd.sock"),
            serde_json::json!({"cmd": "neighbors"}),
        )
        .ok()
        .and_then(|v| {
            v.as_array().map(|l| {
                l.iter()
                    .filter(|n| n["bfd"]["state"].as_str() == Some("Up"))
                    .count() as u32
            })
        })
        .unwrap_or(0)
    };
    let n_up = wait_until(Duration::from_secs(60), up, |n| *n == sessions);
    if n_up != sessions {
        return Err(format!("only {n_up} of {sessions} BFD sessions came Up"));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (c0, t0) = (cpu_secs(bgpd_a.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, t1) = (cpu_secs(bgpd_a.pid()), t0.elapsed());
    let pct = |a: f64, b: f64| (b - a) / t1.as_secs_f64() * 100.0;
    Ok(Cpu {
        pct: pct(c0.0, c1.0),
        bfd_pct: pct(c0.1, c1.1),
        up: up(),
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let runs = env_num("BFD_RUNS", 5);
    let sessions = env_num("BFD_SESSIONS", 100) as u32;
    let secs = env_num("BFD_CPU_SECS", 30);
    let hold = std::env::var("BFD_HOLD")
        .ok()
        .and_then(|v| v.parse::<u16>().ok());
    println!(
        "# BFD figures ({INTERVAL_MS} ms x {MULT}), {runs} runs, started {}",
        String::from_utf8_lossy(
            &std::process::Command::new("date")
                .args(["-u", "+%H:%M:%S UTC"])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        )
        .trim()
    );
    let mut ok = true;
    let (mut ours, mut frr) = (Vec::new(), Vec::new());
    let (mut ours_detect, mut frr_detect) = (Vec::new(), Vec::new());
    let (mut ours_router, mut frr_router) = (Vec::new(), Vec::new());
    for run in 0..runs {
        for speaker in [Speaker::Bgpd, Speaker::Frr] {
            match detection(speaker, run) {
                Ok(d) => {
                    let split = d.split.map_or("no packet captured".to_string(), |(a, b)| {
                        format!(
                            "the router's Detection Time ran out after {a:.0} ms, its bfdd, \
                             bgpd and zebra took {b:.0} ms more"
                        )
                    });
                    let split = match d.gap {
                        Some(g) => format!("{split}; the node's packets came every {g:.1} ms"),
                        None => split,
                    };
                    println!(
                        "  run {run} node speaker {speaker:?}: FIB changed after {:.0} ms ({split})",
                        d.total
                    );
                    let (all, detects, routers) = match speaker {
                        Speaker::Bgpd => (&mut ours, &mut ours_detect, &mut ours_router),
                        Speaker::Frr => (&mut frr, &mut frr_detect, &mut frr_router),
                    };
                    all.push(d.total);
                    if let Some((a, b)) = d.split {
                        detects.push(a);
                        routers.push(b);
                    }
                }
                Err(e) => {
                    println!("  run {run} node speaker {speaker:?}: FAILED: {e}");
                    ok = false;
                }
            }
        }
    }
    let (m_ours, m_frr) = (median(&mut ours), median(&mut frr));
    println!(
        "## Node crash to FIB change at the router (FRR 8.4 + zebra + bfdd), median of {runs}"
    );
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.0}-{hi:.0}")
    };
    let (r_ours, r_frr) = (range(&ours), range(&frr));
    let (mr_ours, mr_frr) = (median(&mut ours_router), median(&mut frr_router));
    let (md_ours, md_frr) = (median(&mut ours_detect), median(&mut frr_detect));
    println!(
        "| node speaker | median ms | range | crash to the router's Detection Time running out \
         (median) | then the router's bfdd + bgpd + zebra (median) | runs |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| bgpd | {m_ours:.0} | {r_ours} | {md_ours:.0} | {mr_ours:.0} | {} |",
        ours.len()
    );
    println!(
        "| FRR bgpd + bfdd | {m_frr:.0} | {r_frr} | {md_frr:.0} | {mr_frr:.0} | {} |",
        frr.len()
    );
    let ratio = m_ours / m_frr;
    println!("| bgpd / FRR | {ratio:.2}x | | | | |");
    let cpu_result = cpu(sessions, secs, hold);
    println!(
        "## bgpd CPU with {sessions} BFD sessions at {INTERVAL_MS} ms x {MULT} ({secs} s, {}, \
         BGP hold time {})",
        if std::env::var("BFD_LINK").is_ok_and(|v| v == "lan") {
            "sessions over the test LAN's bridge"
        } else {
            "sessions over a direct veth link"
        },
        hold.map_or("90 s, keepalive 30 s (bgpd's defaults)".to_string(), |h| {
            format!("{h} s, keepalive {} s", (h / 3).max(1))
        })
    );
    match &cpu_result {
        Ok(c) => {
            println!(
                "  {:.2} % of one core (BFD thread {:.2} %, the rest: BGP sessions, control \
                 {:.2} %); {} of {sessions} sessions Up at the end",
                c.pct,
                c.bfd_pct,
                c.pct - c.bfd_pct,
                c.up
            )
        }
        Err(e) => {
            println!("  FAILED: {e}");
            ok = false;
        }
    }
    println!("## Targets");
    let mark = |pass: bool| if pass { "PASS" } else { "MISS" };
    println!(
        "    {}  detection no slower than FRR's bfdd: {ratio:.2}x ({m_ours:.0} ms vs {m_frr:.0} ms)",
        mark(ratio <= 1.0)
    );
    println!(
        "    {}  detection <= 200 ms: {m_ours:.0} ms (link down to the router's kernel FIB)",
        mark(m_ours <= 200.0)
    );
    if let Ok(c) = cpu_result {
        println!(
            "    {}  {sessions} sessions at {INTERVAL_MS} ms <= 3 % of one core: {:.2} %",
            mark(c.pct <= 3.0),
            c.pct
        );
    }
    if !ok {
        std::process::exit(1);
    }
}
