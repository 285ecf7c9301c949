//! `routers`: bgpd next to BIRD, FRR and GoBGP in one run (issue 8; see docs/benchmarks.md,
//! "Routers"). Needs root (network namespaces), FRR, BIRD and GoBGP; `benches/run-routers.sh`
//! installs them, builds bgpd and runs this.
//!
//! Environment: `ROUTERS_N` (default `1000,10000,100000`), `ROUTERS_RUNS` (3),
//! `ROUTERS_PARTS` (`throughput,latency,scale`), `ROUTERS_SENDERS`
//! (`bgpd,bgpd-sighup,BIRD,BIRD-addpath,FRR,GoBGP`),
//! `ROUTERS_RECEIVERS` (`FRR,BIRD`), `ROUTERS_TOGGLES` (1000), `ROUTERS_PEERS` (1000),
//! `ROUTERS_PEER_ROUTES` (100), `ROUTERS_PERF` (a directory: record bgpd's announce and
//! withdraw phases with `perf record -g`), `ROUTERS_SIGHUP_NEXTHOPS` (`1`: bgpd-sighup's
//! services get one next hop, one path per prefix, compared with BIRD; default two, two paths
//! per prefix with ADD-PATH, compared with BIRD-addpath), `BGPD_BIN` /
//! `BGPCTL_BIN` (default: next to this binary).

#[path = "../routers/mod.rs"]
mod routers;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use routers::receivers::RxKind;
use routers::senders::Kind;
use routers::table::{mb, ratio, render, secs};
use routers::throughput::Sample;
use routers::{env_num, latency, loadavg, median, scale, throughput, utc_now, version};

fn env_list(key: &str, default: &str) -> Vec<String> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Runs `f`, turning a panic (interop's runners panic on setup failures) into an error; the
/// topology guard has cleaned up by then.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())),
    }
}

type Key = (&'static str, u32, &'static str);

struct Results {
    samples: BTreeMap<Key, Vec<Sample>>,
    failures: BTreeMap<Key, Vec<String>>,
}

impl Results {
    fn med(&self, key: Key, f: impl Fn(&Sample) -> f64) -> f64 {
        let v: Vec<f64> = self
            .samples
            .get(&key)
            .map(|s| s.iter().map(&f).collect())
            .unwrap_or_default();
        median(&v)
    }
}

fn throughput_table(res: &Results, rx: RxKind, n: u32, senders: &[Kind]) -> String {
    let mut rows = Vec::new();
    for &tx in senders {
        let key = (rx.name(), n, tx.name());
        let ok = res.samples.get(&key).map_or(0, Vec::len);
        let failed = res.failures.get(&key).map_or(0, Vec::len);
        rows.push(vec![
            tx.name().to_string(),
            secs(res.med(key, |s| s.announce_s)),
            secs(res.med(key, |s| s.start_s)),
            secs(res.med(key, |s| s.withdraw_s)),
            mb(res.med(key, |s| s.hwm_kb as f64)),
            mb(res.med(key, |s| s.rss_loaded_kb as f64)),
            secs(res.med(key, |s| s.cpu_announce_s)),
            secs(res.med(key, |s| s.cpu_withdraw_s)),
            secs(res.med(key, |s| s.cpu_total_s)),
            secs(res.med(key, |s| s.connect_s)),
            if failed > 0 {
                format!("{ok} ({failed} failed)")
            } else {
                ok.to_string()
            },
        ]);
    }
    let bgpd = (rx.name(), n, Kind::Bgpd.name());
    if senders.contains(&Kind::Bgpd) {
        for &tx in senders.iter().filter(|k| **k != Kind::Bgpd) {
            let other = (rx.name(), n, tx.name());
            let r = |f: &dyn Fn(&Sample) -> f64| ratio(res.med(bgpd, f), res.med(other, f));
            rows.push(vec![
                format!("bgpd / {}", tx.name()),
                r(&|s| s.announce_s),
                r(&|s| s.start_s),
                r(&|s| s.withdraw_s),
                r(&|s| s.hwm_kb as f64),
                r(&|s| s.rss_loaded_kb as f64),
                r(&|s| s.cpu_announce_s),
                r(&|s| s.cpu_withdraw_s),
                r(&|s| s.cpu_total_s),
                String::new(),
                String::new(),
            ]);
        }
    }
    let mut table = render(
        &[
            "sender",
            "announce s",
            "session start s",
            "withdraw s",
            "peak RSS MB",
            "RSS loaded MB",
            "CPU announce s",
            "CPU withdraw s",
            "CPU total s",
            "reconnect s",
            "runs",
        ],
        &rows,
    );
    // Where bgpd's time goes (from its log), next to the receiver's total.
    let sighup = (rx.name(), n, Kind::BgpdSighup.name());
    let steps = |f: fn(&Sample) -> Option<[f64; 3]>, i: usize| {
        res.med(sighup, |s| f(s).map_or(f64::NAN, |v| v[i]))
    };
    if res.samples.get(&sighup).is_some_and(|v| !v.is_empty()) {
        let row = |what: &str, f: fn(&Sample) -> Option<[f64; 3]>, total: f64| {
            vec![
                what.to_string(),
                secs(steps(f, 0)),
                secs(steps(f, 1)),
                secs(steps(f, 2)),
                secs(total),
            ]
        };
        table.push('\n');
        table.push_str(&render(
            &[
                "bgpd SIGHUP reload",
                "config parsed s",
                "change handed to session s",
                "reload done s",
                "receiver complete s",
            ],
            &[
                row(
                    "announce",
                    |s| s.bgpd_announce_steps,
                    res.med(sighup, |s| s.announce_s),
                ),
                row(
                    "withdraw",
                    |s| s.bgpd_withdraw_steps,
                    res.med(sighup, |s| s.withdraw_s),
                ),
            ],
        ));
    }
    table
}

/// The BIRD that sends bgpd-sighup's paths: BIRD-addpath (two paths per prefix) when
/// bgpd-sighup sends two to this receiver and BIRD-addpath ran, else BIRD (one path).
fn reload_reference(res: &Results, rx: RxKind, n: u32) -> Kind {
    let two = Kind::BgpdSighup.paths_per_prefix(rx == RxKind::Frr) == 2;
    let ran = res
        .samples
        .get(&(rx.name(), n, Kind::BirdAddPath.name()))
        .is_some_and(|v| !v.is_empty());
    if two && ran {
        Kind::BirdAddPath
    } else {
        Kind::Bird
    }
}

/// bgpd-sighup next to BIRD, both reloading a config file that holds the N routes with their
/// attributes: the reload time, the peak RSS and what is held afterwards (issue 14 item 6).
/// The BIRD row is the one sending the same paths ([`reload_reference`]).
fn reload_table(res: &Results, rx: RxKind, n: u32) -> Option<String> {
    let sighup = (rx.name(), n, Kind::BgpdSighup.name());
    let reference = reload_reference(res, rx, n);
    let bird = (rx.name(), n, reference.name());
    if [sighup, bird]
        .iter()
        .any(|k| res.samples.get(k).is_none_or(Vec::is_empty))
    {
        return None;
    }
    let row = |name: &str, key: Key| {
        vec![
            name.to_string(),
            secs(res.med(key, |s| s.announce_s)),
            mb(res.med(key, |s| s.hwm_announce_kb as f64)),
            mb(res.med(key, |s| s.rss_held_kb as f64)),
        ]
    };
    let r = |f: &dyn Fn(&Sample) -> f64| ratio(res.med(sighup, f), res.med(bird, f));
    let paths = Kind::BgpdSighup.paths_per_prefix(rx == RxKind::Frr);
    let both = reference.paths_per_prefix(rx == RxKind::Frr);
    Some(render(
        &[
            &format!("config reload ({paths} / {both} paths per prefix)"),
            "reload s (to every path at receiver)",
            "peak RSS MB",
            "held RSS MB",
        ],
        &[
            row("bgpd-sighup", sighup),
            row(reference.name(), bird),
            vec![
                format!("bgpd-sighup / {}", reference.name()),
                r(&|s| s.announce_s),
                r(&|s| s.hwm_announce_kb as f64),
                r(&|s| s.rss_held_kb as f64),
            ],
        ],
    ))
}

fn main() {
    routers::install_signal_handlers();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("routers: needs root (network namespaces); run benches/run-routers.sh as root");
        std::process::exit(2);
    }
    let ns: Vec<u32> = env_list("ROUTERS_N", "1000,10000,100000")
        .iter()
        .filter_map(|s| s.replace('_', "").parse().ok())
        .collect();
    let runs = env_num("ROUTERS_RUNS", 3).max(1);
    let parts = env_list("ROUTERS_PARTS", "throughput,latency,scale");
    let senders: Vec<Kind> = env_list(
        "ROUTERS_SENDERS",
        "bgpd,bgpd-sighup,BIRD,BIRD-addpath,FRR,GoBGP",
    )
    .iter()
    .filter_map(|s| Kind::parse(s))
    .collect();
    let receivers: Vec<RxKind> = env_list("ROUTERS_RECEIVERS", "FRR,BIRD")
        .iter()
        .filter_map(|s| RxKind::parse(s))
        .collect();
    let toggles = env_num("ROUTERS_TOGGLES", 1000);
    let peers = env_num("ROUTERS_PEERS", 1000);
    let peer_routes = env_num("ROUTERS_PEER_ROUTES", 100) as u32;
    let perf_dir = std::env::var_os("ROUTERS_PERF").map(PathBuf::from);
    if let Some(d) = &perf_dir {
        let _ = std::fs::create_dir_all(d);
    }
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# Router benchmarks");
    println!();
    println!(
        "started {} UTC, {nproc} CPUs, load average {} (1/5/15 min)",
        utc_now(),
        loadavg()
    );
    println!(
        "bgpd: {}",
        routers::sibling_binary("bgpd", "BGPD_BIN").display()
    );
    println!("FRR: {}", version("/usr/lib/frr/bgpd", &["-v"]));
    println!("BIRD: {}", version("/usr/sbin/bird", &["--version"]));
    println!("GoBGP: {}", version("/usr/bin/gobgpd", &["--version"]));
    println!();

    let mut pass_lines: Vec<String> = Vec::new();
    let mut target = |ok: Option<bool>, what: String| {
        let tag = match ok {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "N/A ",
        };
        pass_lines.push(format!("{tag}  {what}"));
    };

    let mut res = Results {
        samples: BTreeMap::new(),
        failures: BTreeMap::new(),
    };
    if parts.iter().any(|p| p == "throughput") {
        for &rx in &receivers {
            for &n in &ns {
                let load_before = loadavg();
                for run in 0..runs {
                    // Rotate the order so that no sender always runs first or last.
                    let mut order = senders.clone();
                    let k = run % order.len().max(1);
                    order.rotate_left(k);
                    for &tx in &order {
                        eprintln!(
                            "[{}] receiver {} N={n} run {}/{runs} sender {} (load {})",
                            utc_now(),
                            rx.name(),
                            run + 1,
                            tx.name(),
                            loadavg()
                        );
                        let key = (rx.name(), n, tx.name());
                        match guarded(|| throughput::run_one(rx, tx, n, perf_dir.as_deref())) {
                            Ok(s) => {
                                eprintln!("    {s:?}");
                                res.samples.entry(key).or_default().push(s);
                            }
                            Err(e) => {
                                eprintln!("    FAILED: {e}");
                                res.failures.entry(key).or_default().push(e);
                            }
                        }
                        if routers::check_stop().is_err() {
                            break;
                        }
                    }
                }
                println!(
                    "## {n} routes to {} (median of {runs} runs; load average {load_before} before, {} after)",
                    rx.name(),
                    loadavg()
                );
                println!();
                print!("{}", throughput_table(&res, rx, n, &senders));
                println!();
                if let Some(t) = reload_table(&res, rx, n) {
                    println!("Large configuration reload ({n} services with every attribute):\n");
                    print!("{t}");
                    println!();
                }
                for ((r, nn, tx), errs) in &res.failures {
                    if *r == rx.name() && *nn == n {
                        for e in errs {
                            println!("failed run, {tx}: {}", e.lines().next().unwrap_or(""));
                        }
                    }
                }
            }
        }
        // Targets.
        let n = 100_000;
        if senders.contains(&Kind::BgpdSighup)
            && (senders.contains(&Kind::Bird) || senders.contains(&Kind::BirdAddPath))
        {
            for &rx in &receivers {
                let k = (rx.name(), n, Kind::BgpdSighup.name());
                let reference = reload_reference(&res, rx, n);
                let a = res.med(k, |s| s.announce_s);
                let b = res.med((rx.name(), n, reference.name()), |s| s.announce_s);
                target(
                    (!a.is_nan() && !b.is_nan()).then_some(a <= b),
                    format!(
                        "100k-service config reload ({} receiver; paths per prefix: bgpd {}, {} {}) in <= 1.0x BIRD's time: bgpd {} s, {} {} s ({})",
                        rx.name(),
                        Kind::BgpdSighup.paths_per_prefix(rx == RxKind::Frr),
                        reference.name(),
                        reference.paths_per_prefix(rx == RxKind::Frr),
                        secs(a),
                        reference.name(),
                        secs(b),
                        ratio(a, b)
                    ),
                );
                let peak = res.med(k, |s| s.hwm_announce_kb as f64);
                target(
                    (!peak.is_nan()).then_some(peak * 1024.0 / 1e6 <= 150.0),
                    format!(
                        "100k-service config reload ({} receiver) peaks at <= 150 MB: {} MB (VmHWM)",
                        rx.name(),
                        mb(peak)
                    ),
                );
                let held = res.med(k, |s| s.rss_held_kb as f64);
                target(
                    (!held.is_nan()).then_some(held * 1024.0 / 1e6 <= 40.0),
                    format!(
                        "100k-service config reload ({} receiver) holds <= 40 MB afterwards: {} MB (VmRSS)",
                        rx.name(),
                        mb(held)
                    ),
                );
            }
        }
        if senders.contains(&Kind::Bgpd) {
            let bgpd = ("FRR", n, "bgpd");
            let a = res.med(bgpd, |s| s.announce_s);
            let b = res.med(("FRR", n, "BIRD"), |s| s.announce_s);
            target(
                (!a.is_nan() && !b.is_nan()).then_some(a <= b),
                format!(
                    "100k /32 to FRR in <= 1.0x BIRD's time: bgpd {} s, BIRD {} s ({})",
                    secs(a),
                    secs(b),
                    ratio(a, b)
                ),
            );
            let hwm = res.med(bgpd, |s| s.hwm_kb as f64);
            let mbv = hwm * 1024.0 / 1e6;
            target(
                (!hwm.is_nan()).then_some(mbv <= 25.0),
                format!(
                    "bgpd RSS <= 25 MB with 100k routes announced: peak {} MB (VmHWM), {} MB resident once loaded",
                    mb(hwm),
                    mb(res.med(bgpd, |s| s.rss_loaded_kb as f64))
                ),
            );
            for &rx in &receivers {
                let k = (rx.name(), n, "bgpd");
                let w = res.med(k, |s| s.withdraw_s);
                let a = res.med(k, |s| s.announce_s);
                target(
                    (!w.is_nan() && !a.is_nan()).then_some(w <= a),
                    format!(
                        "withdraw of all 100k no slower than announce ({} receiver): withdraw {} s, announce {} s",
                        rx.name(),
                        secs(w),
                        secs(a)
                    ),
                );
            }
        }
    }

    if parts.iter().any(|p| p == "latency") {
        eprintln!(
            "[{}] latency, {toggles} toggles (load {})",
            utc_now(),
            loadavg()
        );
        let load_before = loadavg();
        match guarded(|| latency::run_latency(toggles)) {
            Ok(r) => {
                println!(
                    "## Change -> wire latency ({toggles} toggles each; load average {load_before} before, {} after)",
                    loadavg()
                );
                println!();
                let rows: Vec<Vec<String>> = r
                    .series
                    .iter()
                    .map(|s| {
                        vec![
                            s.how.clone(),
                            s.latencies_ms.len().to_string(),
                            format!("{:.2}", s.median()),
                            format!("{:.2}", s.p99()),
                            format!("{:.2}", routers::percentile(&s.latencies_ms, 100.0)),
                            format!("{:.2}", median(&s.command_ms)),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    render(
                        &[
                            "toggle",
                            "changes",
                            "median ms",
                            "p99 ms",
                            "max ms",
                            "command median ms"
                        ],
                        &rows
                    )
                );
                println!(
                    "\nbgpd after the latency runs: CPU {:.2} s, peak RSS {} MB\n",
                    r.bgpd_cpu_s,
                    mb(r.bgpd_hwm_kb as f64)
                );
                if let Some(s) = r.series.first() {
                    target(
                        Some(s.median() <= 5.0),
                        format!(
                            "change->wire latency median <= 5 ms ({}): median {:.2} ms, p99 {:.2} ms",
                            s.how,
                            s.median(),
                            s.p99()
                        ),
                    );
                }
            }
            Err(e) => {
                println!("## Change -> wire latency: FAILED: {e}\n");
                target(None, format!("change->wire latency: run failed: {e}"));
            }
        }
    }

    if parts.iter().any(|p| p == "scale") {
        eprintln!(
            "[{}] scale, {peers} peers x {peer_routes} routes (load {})",
            utc_now(),
            loadavg()
        );
        let load_before = loadavg();
        match guarded(|| scale::run_scale(peers, peer_routes, Duration::from_secs(120))) {
            Ok(r) => {
                println!(
                    "## Scale: one bgpd, {peers} passive test peers x {peer_routes} routes (load average {load_before} before, {} after)",
                    loadavg()
                );
                println!();
                let opt = |x: Option<f64>| x.map_or("not reached".to_string(), secs);
                print!(
                    "{}",
                    render(
                        &[
                            "peers",
                            "routes each",
                            "established",
                            "loaded",
                            "all Established s",
                            "all loaded s",
                            "median Established s",
                            "bgpd peak RSS MB",
                            "bgpd RSS MB",
                            "bgpd CPU s"
                        ],
                        &[vec![
                            r.peers.to_string(),
                            r.routes.to_string(),
                            r.established.to_string(),
                            r.loaded.to_string(),
                            opt(r.all_established_s),
                            opt(r.all_loaded_s),
                            secs(r.established_p50_s),
                            mb(r.bgpd_hwm_kb as f64),
                            mb(r.bgpd_rss_kb as f64),
                            secs(r.bgpd_cpu_s),
                        ]]
                    )
                );
                println!();
                target(
                    Some(r.all_loaded_s.is_some_and(|t| t <= 30.0)),
                    format!(
                        "{peers} peers established and loaded within 30 s: Established {}, loaded {} ({}/{} loaded)",
                        opt(r.all_established_s),
                        opt(r.all_loaded_s),
                        r.loaded,
                        r.peers
                    ),
                );
            }
            Err(e) => {
                println!("## Scale: FAILED: {e}\n");
                target(None, format!("scale: run failed: {e}"));
            }
        }
    }

    println!("## Targets\n");
    for l in &pass_lines {
        println!("    {l}");
    }
    println!("\nfinished {} UTC, load average {}", utc_now(), loadavg());
}
