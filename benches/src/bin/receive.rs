//! `receive`: memory for N received prefixes with distinct attribute sets, bgpd
//! (`import = "all"`) next to BIRD (`import all`) in one run (issue 17 item 5; see
//! docs/benchmarks.md, "Receive memory"). Needs root (network namespaces) and BIRD;
//! `benches/run-receive.sh` installs it, builds bgpd and runs this.
//!
//! Environment: `RECEIVE_N` (default 1000000), `RECEIVE_RUNS` (1), `RECEIVE_RECEIVERS`
//! (`bgpd,BIRD`), `RECEIVE_TIMEOUT_S` (600), `BGPD_BIN` / `BGPCTL_BIN` (default: next to this
//! binary).

#[path = "../routers/mod.rs"]
#[allow(dead_code)]
mod routers;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use routers::receive::{build_feed, run_receive, Rx, RxSample};
use routers::table::{mb, ratio, render, secs};
use routers::{env_num, loadavg, median, sibling_binary, utc_now, version};

fn main() {
    routers::install_signal_handlers();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("receive: needs root (network namespaces); run benches/run-receive.sh as root");
        std::process::exit(2);
    }
    let n = env_num("RECEIVE_N", 1_000_000) as u32;
    let runs = env_num("RECEIVE_RUNS", 1).max(1);
    let timeout = Duration::from_secs(env_num("RECEIVE_TIMEOUT_S", 600) as u64);
    let receivers: Vec<Rx> = std::env::var("RECEIVE_RECEIVERS")
        .unwrap_or_else(|_| "bgpd,BIRD".into())
        .split(',')
        .filter_map(Rx::parse)
        .collect();
    // interop's runner starts the release binaries next to this one (not a debug build).
    for (name, env) in [("bgpd", "BGPD_BIN"), ("bgpctl", "BGPCTL_BIN")] {
        let bin = sibling_binary(name, env);
        // SAFETY (set_var): single-threaded here, before any thread is started.
        std::env::set_var(env, &bin);
    }
    let bgpd = sibling_binary("bgpd", "BGPD_BIN");
    println!("# Receive memory: {n} prefixes, each with its own attribute set");
    println!();
    println!(
        "started {} UTC, {} CPUs, load average {}",
        utc_now(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "bgpd: {} ({}); BIRD: {}",
        version(&bgpd.display().to_string(), &["--version"]),
        bgpd.display(),
        version("bird", &["--version"])
    );
    let t = Instant::now();
    let octets = build_feed(n.min(10_000), std::net::Ipv4Addr::new(10, 255, 0, 1)).announce_octets;
    println!(
        "feed: {n} UPDATEs of about {} octets each (encoded in each run before the receiver \
         starts; 10k in {:.2} s); {runs} run(s), receivers in turn",
        octets / n.clamp(1, 10_000) as usize,
        t.elapsed().as_secs_f64()
    );
    println!();
    let mut samples: BTreeMap<&'static str, Vec<RxSample>> = BTreeMap::new();
    let mut failures = 0;
    for run in 0..runs {
        for &rx in &receivers {
            let r = catch_unwind(AssertUnwindSafe(|| run_receive(rx, n, timeout)))
                .unwrap_or_else(|_| Err("panic (see above)".into()));
            match r {
                Ok(s) => {
                    eprintln!("run {run} {}: {s:?}", rx.name());
                    samples.entry(rx.name()).or_default().push(s);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("run {run} {}: failed: {e}", rx.name());
                }
            }
            if routers::STOP.load(std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
        }
    }
    print_table(&samples, &receivers);
    println!();
    println!("finished {} UTC, load average {}", utc_now(), loadavg());
    if failures > 0 {
        std::process::exit(1);
    }
}

fn print_table(samples: &BTreeMap<&'static str, Vec<RxSample>>, receivers: &[Rx]) {
    let med = |name: &str, f: fn(&RxSample) -> f64| {
        let v: Vec<f64> = samples
            .get(name)
            .map(|s| s.iter().map(f).collect())
            .unwrap_or_default();
        median(&v)
    };
    type Column = (&'static str, fn(&RxSample) -> f64);
    let cols: [Column; 8] = [
        ("RSS before MB", |s| s.rss_before_kb as f64),
        ("peak RSS MB", |s| s.peak_kb as f64),
        ("RSS loaded MB", |s| s.rss_loaded_kb as f64),
        ("RSS after withdraw MB", |s| s.rss_withdrawn_kb as f64),
        ("RSS after close MB", |s| s.rss_closed_kb as f64),
        ("close vs before", |s| {
            s.rss_closed_kb as f64 / s.rss_before_kb as f64
        }),
        ("load s", |s| s.load_s),
        ("withdraw s", |s| s.withdraw_s),
    ];
    let mut rows = Vec::new();
    for rx in receivers {
        let mut row = vec![rx.name().to_string()];
        for (i, (_, f)) in cols.iter().enumerate() {
            let v = med(rx.name(), *f);
            row.push(match i {
                5 => format!("{v:.2}x"),
                6 | 7 => secs(v),
                _ => mb(v),
            });
        }
        row.push(samples.get(rx.name()).map_or(0, Vec::len).to_string());
        rows.push(row);
    }
    if receivers.contains(&Rx::Bgpd) && receivers.contains(&Rx::Bird) {
        let mut row = vec!["bgpd / BIRD".to_string()];
        for (i, (_, f)) in cols.iter().enumerate() {
            row.push(if i == 5 {
                String::new()
            } else {
                ratio(med("bgpd", *f), med("BIRD", *f))
            });
        }
        row.push(String::new());
        rows.push(row);
    }
    let mut headers = vec!["receiver"];
    headers.extend(cols.iter().map(|c| c.0));
    headers.push("runs");
    print!("{}", render(&headers, &rows));
}
