//! The scenarios. Each builds its own bench (own namespaces), starts the client, waits for a
//! steady state, makes one change to node n1 (n3 for a join) at a recorded wall time, watches
//! the router's FIB, then stops the client and judges its report.

use std::collections::BTreeSet;
use std::time::Duration;

use interop::{wait_until, Topology};
use serde_json::Value;

use crate::bench::*;

/// Traffic runs this long before the change (every connection has echoed by then).
const STEADY: Duration = Duration::from_secs(2);
/// Traffic runs this long after the FIB reached its expected state.
const AFTER: Duration = Duration::from_secs(2);
/// Slack on a FIB deadline: FRR's timer, zebra's netlink write and the 10 ms watcher poll, on a
/// loaded 2-core machine.
const FIB_SLACK_MS: i64 = 500;
/// New-connection failures may start this long after the FIB change was observed (the watcher
/// sees a change up to one poll late).
const WINDOW_SLACK_MS: i64 = 100;
/// Drain and SIGTERM: no long-lived connection may wait longer than this for an echo.
const MAX_GAP_MS: u64 = 500;

/// How a node crashes: its link goes down silently (no NOTIFICATION, no TCP FIN: the router
/// notices only by its hold timer, or by BFD).
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// No BFD, no graceful restart: the next hop leaves with the hold time (3 s).
    NoBfd,
    /// No BFD, graceful restart negotiated: the hazard. The router keeps the dead next hop
    /// (stale) for the restart time after the hold timer expired.
    NoBfdGr,
    /// BFD 50 ms x 3 on both sides (FRR's bfdd, without check-control-plane-failure), with
    /// and without graceful restart: the next hop leaves the FIB within 300 ms and new
    /// connections fail only inside that window; bgpd's C bit 0 makes FRR drop the stale
    /// routes at once even with graceful restart (RFC 5882 §4.3.2).
    WithBfd { graceful_restart: bool },
}

impl Crash {
    fn name(self) -> &'static str {
        match self {
            Crash::NoBfd => "crash_no_bfd",
            Crash::NoBfdGr => "crash_no_bfd_gr",
            Crash::WithBfd {
                graceful_restart: false,
            } => "crash_bfd",
            Crash::WithBfd {
                graceful_restart: true,
            } => "crash_bfd_gr",
        }
    }

    fn opts(self) -> NodeOpts {
        let mut opts = NodeOpts::new();
        match self {
            Crash::NoBfd => {}
            Crash::NoBfdGr => {
                opts.graceful_restart = true;
                opts.restart_time = GR_RESTART_TIME;
                // bgpd refuses a deferral (default 30 s) that is not shorter than restart_time.
                opts.global_keys
                    .push(("graceful_restart_deferral", "\"5s\""));
            }
            Crash::WithBfd { graceful_restart } => {
                opts.graceful_restart = graceful_restart;
                if graceful_restart {
                    opts.restart_time = GR_RESTART_TIME;
                    opts.global_keys
                        .push(("graceful_restart_deferral", "\"5s\""));
                }
                opts.bfd = Some((BFD_INTERVAL_MS, BFD_MULT));
            }
        }
        opts
    }

    /// The deadline for the dead next hop to leave the FIB, ms after the crash.
    fn deadline_ms(self) -> i64 {
        match self {
            Crash::NoBfd => HOLD_MS + FIB_SLACK_MS,
            Crash::NoBfdGr => HOLD_MS + GR_RESTART_TIME as i64 * 1000 + FIB_SLACK_MS,
            Crash::WithBfd { .. } => BFD_DEADLINE_MS,
        }
    }
}

/// BFD in the crash scenarios: 50 ms x 3 (detection time 150 ms).
const BFD_INTERVAL_MS: u32 = 50;
const BFD_MULT: u8 = 3;
/// The bound: the dead next hop leaves the router's FIB within 300 ms.
const BFD_DEADLINE_MS: i64 = 300;

/// The hold time of every session in this suite.
const HOLD_MS: i64 = 3000;
/// `restart_time` in the GR crash scenario (short, so the test sees the stale next hop go).
const GR_RESTART_TIME: u16 = 10;

const GR_HAZARD: &str = "hazard: with graceful restart negotiated and no BFD, a node that \
     vanishes silently stays in the router's FIB (stale) for the hold time PLUS the restart \
     time; its connections and new connections hashed to it are black-holed all that while \
     (scenario crash_no_bfd_gr measures it; BFD is meant to close that gap)";

fn crash(kind: Crash) {
    let _serial = exclusive();
    let topo = Topology::new(kind.name());
    let bench = Bench::build(&topo, kind.opts(), &[0, 1, 2]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    topo.set_link(&bench.nodes[0], false);
    let survivors = bench.nexthops(&[1, 2]);

    let mut stale_after_hold = None;
    if let Crash::NoBfdGr = kind {
        // One second past the hold time the session is down for sure: is n1 still in the FIB?
        std::thread::sleep(Duration::from_millis(HOLD_MS as u64 + 1000));
        stale_after_hold = Some(bench.fib());
    }
    let limit = Duration::from_millis(kind.deadline_ms() as u64 + 3000);
    let fib_now = wait_until(
        limit.saturating_sub(ms_since(t0)),
        || bench.fib(),
        |f| *f == survivors,
    );
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    println!("{}", f.line(kind.name()));
    if matches!(kind, Crash::NoBfd | Crash::NoBfdGr) {
        println!("{GR_HAZARD}");
    }
    if let Some(s) = &stale_after_hold {
        println!(
            "scenario {}: FIB {} s after the crash (hold time + 1 s): {s:?}",
            kind.name(),
            HOLD_MS / 1000 + 1
        );
    }
    let context = format!(
        "{}\nFIB changes: {}\n{}",
        f.line(kind.name()),
        show(&fib, t0),
        report.reasons()
    );

    assert_eq!(
        fib_now, survivors,
        "the router's FIB after the crash\n{context}"
    );
    let changed = f.fib_changed_ms.expect("the FIB changed");
    assert!(
        changed <= kind.deadline_ms(),
        "the dead next hop must leave the FIB within {} ms\n{context}",
        kind.deadline_ms()
    );
    if let Some(s) = stale_after_hold {
        assert!(
            s.contains(&bench.nodes[0].ipv4.to_string()),
            "with graceful restart the router keeps the dead next hop past the hold time \
             (the hazard this scenario documents); FIB then: {s:?}\n{context}"
        );
        assert!(
            changed >= HOLD_MS + GR_RESTART_TIME as i64 * 1000 - 1500,
            "the stale next hop should stay about hold + restart time\n{context}"
        );
    }
    assert!(
        f.new_failures
            .iter()
            .all(|&t| t >= -WINDOW_SLACK_MS && t <= changed + WINDOW_SLACK_MS),
        "new connections may fail only between the crash and the FIB change\n{context}"
    );
}

#[test]
fn crash_without_bfd_leaves_the_fib_within_the_hold_time() {
    crash(Crash::NoBfd);
}

#[test]
fn crash_without_bfd_with_graceful_restart_keeps_the_dead_next_hop() {
    crash(Crash::NoBfdGr);
}

#[test]
fn crash_with_bfd_leaves_the_fib_within_300_ms() {
    crash(Crash::WithBfd {
        graceful_restart: false,
    });
}

#[test]
fn crash_with_bfd_and_graceful_restart_leaves_the_fib_within_300_ms() {
    crash(Crash::WithBfd {
        graceful_restart: true,
    });
}

/// bgpd killed with SIGKILL and started again on a live node, graceful restart negotiated:
/// the router keeps forwarding to the node, nothing breaks.
#[test]
fn kill_9_and_restart_with_graceful_restart_breaks_nothing() {
    let mut opts = NodeOpts::new();
    opts.graceful_restart = true;
    opts.restart_time = 60;
    let _serial = exclusive();
    let topo = Topology::new("kill9_gr");
    let mut bench = Bench::build(&topo, opts, &[0, 1, 2]);
    let all = bench.nexthops(&[0, 1, 2]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    let pid = bench.bgpd(0).pid();
    topo.signal(pid, libc::SIGKILL);
    assert!(
        topo.wait_exit(pid, Duration::from_secs(5)).is_some(),
        "bgpd did not die"
    );
    // The router sees the session go (the kernel resets the TCP connection) ...
    let n1 = bench.nodes[0].ipv4.into();
    let state = wait_until(
        Duration::from_secs(10),
        || bench.frr().state(n1),
        |s| s != "Established",
    );
    assert_ne!(state, "Established", "FRR never saw the session go");
    std::thread::sleep(Duration::from_secs(1));
    bench.start_bgpd(0);
    // ... and after the new session's End-of-RIB no path is stale any more.
    let fresh = wait_until(
        Duration::from_secs(30),
        || (bench.frr().state(n1), stale_paths(&bench)),
        |(s, stale)| s == "Established" && *stale == 0,
    );
    assert_eq!(
        fresh,
        ("Established".to_string(), 0),
        "(session, stale paths) after the restart"
    );
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    println!("{}", f.line("kill_9_restart_gr"));
    let context = format!(
        "{}\nFIB changes: {}\n{}",
        f.line("kill_9_restart_gr"),
        show(&fib, t0),
        report.reasons()
    );
    assert!(
        fib.iter().all(|(_, s)| *s == all),
        "the FIB must never change\n{context}"
    );
    assert_eq!(
        (f.changed.0, f.others.0),
        (0, 0),
        "broken connections\n{context}"
    );
    assert!(
        f.new_failures.is_empty(),
        "new-connection failures\n{context}"
    );
}

/// How the node drains.
#[derive(Debug, Clone, Copy)]
enum Drain {
    /// `bgpctl drain --time 3s`.
    Bgpctl,
    /// SIGTERM with `drain_time = "3s"`.
    Sigterm,
}

/// The drain time in both drain scenarios, ms.
const DRAIN_MS: i64 = 3000;

fn drain(how: Drain) {
    let name = match how {
        Drain::Bgpctl => "drain",
        Drain::Sigterm => "sigterm_drain_time",
    };
    let mut opts = NodeOpts::new();
    if let Drain::Sigterm = how {
        opts.drain_time = Some("3s");
    }
    let _serial = exclusive();
    let topo = Topology::new(name);
    let bench = Bench::build(&topo, opts, &[0, 1, 2]);
    let survivors = bench.nexthops(&[1, 2]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    match how {
        Drain::Bgpctl => {
            bench.bgpd(0).ctl(&["drain", "--time", "3s"]);
        }
        Drain::Sigterm => {
            let status = bench.bgpd(0).terminate(Duration::from_secs(20));
            assert!(
                status.is_some_and(|s| s.success()),
                "bgpd should drain and exit 0 on SIGTERM: {status:?}"
            );
        }
    }
    let fib_now = wait_until(Duration::from_secs(15), || bench.fib(), |f| *f == survivors);
    let n1 = bench.nodes[0].ipv4.to_string();
    // The router's view of n1's path once the FIB moved (before the withdraw for bgpctl drain).
    let drained_path = bench
        .frr()
        .paths(SERVICE)
        .into_iter()
        .find(|p| p.peer == n1)
        .map(|p| {
            format!(
                "local_pref {:?}, communities {:?}, multipath {}",
                p.local_pref, p.communities, p.multipath
            )
        })
        .unwrap_or_else(|| "withdrawn".into());
    // Keep the traffic running through the withdraw that ends the drain.
    let gone = wait_until(
        Duration::from_secs(10),
        || bench.frr().paths(SERVICE).iter().any(|p| p.peer == n1),
        |present| !present,
    );
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    println!("{}", f.line(name));
    if let Drain::Bgpctl = how {
        println!("scenario {name}: n1's path at the router when the FIB moved: {drained_path}");
    }
    let context = format!(
        "{}\nFIB changes: {}\n{}",
        f.line(name),
        show(&fib, t0),
        report.reasons()
    );
    assert_eq!(
        fib_now, survivors,
        "the router's FIB after the drain\n{context}"
    );
    assert!(!gone, "n1's path was never withdrawn\n{context}");
    // RFC 8326: FRR 8.4 gives an eBGP route carrying GRACEFUL_SHUTDOWN LOCAL_PREF 0, so n1
    // leaves the multipath set when the re-announce arrives, before the withdraw at 3 s.
    assert!(
        f.fib_changed_ms.is_some_and(|t| t < DRAIN_MS),
        "the traffic must move at the GRACEFUL_SHUTDOWN re-announce, before the withdraw \
         {DRAIN_MS} ms later\n{context}"
    );
    assert!(
        f.new_failures.is_empty(),
        "new-connection failures\n{context}"
    );
    assert!(
        f.max_gap_ms <= MAX_GAP_MS,
        "no echo may wait longer than {MAX_GAP_MS} ms\n{context}"
    );
}

#[test]
fn drain_with_bgpctl_fails_no_new_connection() {
    drain(Drain::Bgpctl);
}

#[test]
fn sigterm_with_drain_time_fails_no_new_connection() {
    drain(Drain::Sigterm);
}

/// A third node starts announcing. Plain ECMP rehashes: the broken counts are the baseline a
/// later issue improves; asserted are the FIB and no new-connection failure.
#[test]
fn node_joins_rehash_baseline() {
    let _serial = exclusive();
    let topo = Topology::new("node_joins");
    let mut bench = Bench::build(&topo, NodeOpts::new(), &[0, 1]);
    let all = bench.nexthops(&[0, 1, 2]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    bench.start_bgpd(2);
    let fib_now = wait_until(Duration::from_secs(30), || bench.fib(), |f| *f == all);
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n3", t0, &fib);
    println!("{}", f.line("node_joins"));
    let context = format!(
        "{}\nFIB changes: {}\n{}",
        f.line("node_joins"),
        show(&fib, t0),
        report.reasons()
    );
    assert_eq!(fib_now, all, "the router's FIB after n3 joined\n{context}");
    assert!(
        f.new_failures.is_empty(),
        "new-connection failures\n{context}"
    );
}

/// `bgpctl withdraw` of the service on n1 (n1 keeps serving its connections). Plain ECMP
/// rehashes; asserted are the FIB and no new-connection failure.
#[test]
fn service_withdrawn_on_one_node_rehash_baseline() {
    let _serial = exclusive();
    let topo = Topology::new("service_withdrawn");
    let bench = Bench::build(&topo, NodeOpts::new(), &[0, 1, 2]);
    let survivors = bench.nexthops(&[1, 2]);
    let traffic = bench.start_client();
    std::thread::sleep(STEADY);
    let watch = bench.watch_fib();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = wall_ms();
    bench.bgpd(0).ctl(&["withdraw", SERVICE]);
    let fib_now = wait_until(Duration::from_secs(15), || bench.fib(), |f| *f == survivors);
    std::thread::sleep(AFTER);
    let report = bench.stop_client(traffic);
    let fib = watch.finish();
    let f = report.figures("n1", t0, &fib);
    println!("{}", f.line("service_withdrawn"));
    let context = format!(
        "{}\nFIB changes: {}\n{}",
        f.line("service_withdrawn"),
        show(&fib, t0),
        report.reasons()
    );
    assert_eq!(
        fib_now, survivors,
        "the router's FIB after the withdraw\n{context}"
    );
    assert!(
        f.new_failures.is_empty(),
        "new-connection failures\n{context}"
    );
}

/// Paths of the service FRR marks stale (graceful restart helper).
fn stale_paths(bench: &Bench<'_>) -> usize {
    let v = bench
        .frr()
        .json(&format!("show bgp ipv4 unicast {SERVICE} json"));
    v["paths"]
        .as_array()
        .map(|a| a.iter().filter(|p| p["stale"] == Value::Bool(true)).count())
        .unwrap_or(0)
}

fn ms_since(t0: u64) -> Duration {
    Duration::from_millis(wall_ms().saturating_sub(t0))
}

/// FIB states with their times relative to `t0`.
fn show(fib: &[(u64, BTreeSet<String>)], t0: u64) -> String {
    fib.iter()
        .map(|(t, s)| format!("{:+} ms {s:?}", *t as i64 - t0 as i64))
        .collect::<Vec<_>>()
        .join(", ")
}
