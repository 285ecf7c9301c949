//! N host routes from one sender to one receiver, in a fresh pair of namespaces per run.
//!
//! One run: start the sender (no routes, passive) and the receiver (connects), wait for
//! Established, then
//! 1. **announce**: tell the sender about N routes ([`Sender::apply`]); time until the
//!    receiver reports N received;
//! 2. **session start**: the receiver disables the session (waits until it is down with 0
//!    routes) and enables it again; time from the first poll that sees Established until it
//!    reports N (the routes are already configured on the sender). The reconnect time before
//!    Established is kept separately;
//! 3. **withdraw**: tell the sender to withdraw all N; time until the receiver reports 0.
//!
//! The sender's VmHWM (peak RSS over the whole run), VmRSS once N routes are announced, and
//! CPU seconds (utime+stime, all threads) per phase come from /proc. The CPU of the command
//! line tools (vtysh, birdc, gobgp) is not included: only the daemon's own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use interop::Topology;

use super::receivers::{Receiver, RxKind, RECEIVER_AS};
use super::senders::{Change, Kind, Sender};
use super::{check_stop, poll_until, sample};

/// One run's figures (seconds, KiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub announce_s: f64,
    /// Receiver enabled the session -> first poll seeing Established.
    pub connect_s: f64,
    /// First poll seeing Established -> N received.
    pub start_s: f64,
    pub withdraw_s: f64,
    pub hwm_kb: u64,
    /// VmRSS right after the receiver had all N (announce phase).
    pub rss_loaded_kb: u64,
    /// VmHWM once the announce is done (a config reload for bgpd-sighup and BIRD): the
    /// peak of start plus the announce, before session start and withdraw.
    pub hwm_announce_kb: u64,
    /// VmRSS [`SETTLE`] after the announce finished (bgpd-sighup: after the reload's last
    /// log line): what the daemon holds on to.
    pub rss_held_kb: u64,
    pub cpu_announce_s: f64,
    pub cpu_start_s: f64,
    pub cpu_withdraw_s: f64,
    pub cpu_total_s: f64,
    /// bgpd only, from its log: SIGHUP -> "configuration reloaded", -> "announced/withdrew ..
    /// (reload)" (the change handed to the session), -> "reloaded FILE" (reload finished).
    pub bgpd_announce_steps: Option<[f64; 3]>,
    pub bgpd_withdraw_steps: Option<[f64; 3]>,
}

/// Seconds since midnight of a log line's RFC 3339 UTC timestamp ("2026-11-22T12:38:44.128701Z").
fn log_time(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let time = ts.split_once('T')?.1.trim_end_matches('Z');
    let mut it = time.split(':');
    let h: f64 = it.next()?.parse().ok()?;
    let m: f64 = it.next()?.parse().ok()?;
    let s: f64 = it.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The steps of bgpd's last SIGHUP reload, from its log (see [`Sample::bgpd_announce_steps`]).
pub fn bgpd_reload_steps(log: &Path) -> Option<[f64; 3]> {
    let text = std::fs::read_to_string(log).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().rposition(|l| l.contains("received SIGHUP"))?;
    let t0 = log_time(lines[start])?;
    let after = |needle: &dyn Fn(&str) -> bool| {
        lines[start..]
            .iter()
            .find(|l| needle(l))
            .and_then(|l| log_time(l))
            .map(|t| (t - t0).rem_euclid(86_400.0))
    };
    Some([
        after(&|l| l.contains("configuration reloaded"))?,
        after(&|l| (l.contains("announced") || l.contains("withdrew")) && l.contains("(reload)"))?,
        after(&|l| l.contains("bgpd::daemon") && l.contains(" reloaded "))?,
    ])
}

/// How long after an announce the held RSS is read.
pub const SETTLE: Duration = Duration::from_secs(1);

fn phase_timeout(n: u32) -> Duration {
    Duration::from_secs(60 + u64::from(n) / 1000)
}

/// `perf record --call-graph dwarf -p PID` while one phase runs (stopped with SIGINT afterwards).
struct Perf {
    child: Child,
    out: PathBuf,
}

impl Perf {
    fn start(pid: u32, out: &Path) -> Option<Perf> {
        let child = Command::new("perf")
            .args([
                "record",
                "--call-graph",
                "dwarf,16384",
                "-F",
                "499",
                "-p",
                &pid.to_string(),
                "-o",
            ])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // perf needs a moment to attach before the phase starts.
        std::thread::sleep(Duration::from_millis(300));
        Some(Perf {
            child,
            out: out.to_path_buf(),
        })
    }

    fn stop(mut self) -> PathBuf {
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let _ = self.child.wait();
        self.out.clone()
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One run of `tx` sending `n` routes to `rx`. With `perf_dir`, bgpd's announce and withdraw
/// phases are recorded with `perf record --call-graph dwarf` (files `perf-<rx>-<n>-{announce,withdraw}.data`).
pub fn run_one(rx: RxKind, tx: Kind, n: u32, perf_dir: Option<&Path>) -> Result<Sample, String> {
    check_stop()?;
    let topo = Topology::new(&format!("routers-{}-{}-{n}", rx.name(), tx.name()));
    let r = run_in_topology(&topo, rx, tx, n, perf_dir);
    if r.is_err() {
        dump_logs(topo.dir());
    }
    r
}

/// Prints the tail of every log the run wrote (the guard deletes the directory afterwards).
fn dump_logs(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "log" || x == "out") {
                eprintln!("----- {} -----", p.display());
                eprintln!("{}", interop::topo::tail(&p, 20));
            }
        }
    }
}

fn run_in_topology(
    topo: &Topology,
    rx: RxKind,
    tx: Kind,
    n: u32,
    perf_dir: Option<&Path>,
) -> Result<Sample, String> {
    let rx_node = topo.add_node("rx");
    let tx_node = topo.add_node("tx");
    let sender = Sender::start(tx, topo, &tx_node, rx_node.ipv4, RECEIVER_AS)?;
    let receiver = Receiver::start(rx, topo, &rx_node, tx_node.ipv4, tx.asn());
    let pid = sender.pid();
    let timeout = phase_timeout(n);
    // Every path counts: with ADD-PATH a prefix may arrive with two (see `paths_per_prefix`).
    let paths = u64::from(n) * u64::from(tx.paths_per_prefix(rx == RxKind::Frr));
    poll_until(
        Duration::from_secs(60),
        || receiver.status(),
        |s| s.is_some_and(|s| s.established),
    )
    .map_err(|(e, s)| format!("session never established ({e}): {s:?}"))?;
    let cpu = || sample(pid).map(|s| s.cpu_s).unwrap_or(f64::NAN);
    let perf = |phase: &str| {
        perf_dir
            .filter(|_| matches!(tx, Kind::Bgpd | Kind::BgpdSighup))
            .and_then(|d| Perf::start(pid, &d.join(format!("perf-{}-{n}-{phase}.data", rx.name()))))
    };
    let mut out = Sample::default();

    // 1. Announce.
    sender.prepare(Change::Announce(n))?;
    let p = perf("announce");
    let c0 = cpu();
    let t0 = Instant::now();
    sender.apply(Change::Announce(n))?;
    let (t1, _) = poll_until(
        timeout,
        || receiver.status(),
        |s| s.is_some_and(|s| s.count >= paths),
    )
    .map_err(|(e, s)| format!("announce: {e}; receiver has {s:?}"))?;
    out.announce_s = (t1 - t0).as_secs_f64();
    let loaded = sample(pid).unwrap_or_default();
    out.rss_loaded_kb = loaded.rss_kb;
    out.cpu_announce_s = loaded.cpu_s - c0;
    if let Some(p) = p {
        eprintln!("    perf: {}", p.stop().display());
    }
    let bgpd_log = tx_node.dir.join("bgpd.log");
    if tx == Kind::BgpdSighup {
        // The receiver may be complete before the reload has finished (its last log line).
        out.bgpd_announce_steps = poll_until(
            Duration::from_secs(30),
            || bgpd_reload_steps(&bgpd_log),
            Option::is_some,
        )
        .map_or(None, |(_, s)| s);
    }
    std::thread::sleep(SETTLE);
    let settled = sample(pid).unwrap_or_default();
    out.hwm_announce_kb = settled.hwm_kb;
    out.rss_held_kb = settled.rss_kb;

    // 2. Session start with the routes configured.
    receiver.disable()?;
    poll_until(
        Duration::from_secs(30),
        || receiver.status(),
        |s| s.is_some_and(|s| !s.established && s.count == 0),
    )
    .map_err(|(e, s)| format!("disable: {e}; receiver has {s:?}"))?;
    let c0 = cpu();
    let t0 = Instant::now();
    receiver.enable()?;
    let (t_est, st) = poll_until(
        timeout,
        || receiver.status(),
        |s| s.is_some_and(|s| s.established),
    )
    .map_err(|(e, s)| format!("re-establish: {e}; receiver has {s:?}"))?;
    let t_full = if st.is_some_and(|s| s.count >= paths) {
        t_est
    } else {
        poll_until(
            timeout,
            || receiver.status(),
            |s| s.is_some_and(|s| s.count >= paths),
        )
        .map_err(|(e, s)| format!("session start: {e}; receiver has {s:?}"))?
        .0
    };
    out.connect_s = (t_est - t0).as_secs_f64();
    out.start_s = (t_full - t_est).as_secs_f64();
    out.cpu_start_s = cpu() - c0;

    // 3. Withdraw all.
    sender.prepare(Change::WithdrawAll(n))?;
    let p = perf("withdraw");
    let c0 = cpu();
    let t0 = Instant::now();
    sender.apply(Change::WithdrawAll(n))?;
    let (t1, _) = poll_until(
        timeout,
        || receiver.status(),
        |s| s.is_some_and(|s| s.established && s.count == 0),
    )
    .map_err(|(e, s)| format!("withdraw: {e}; receiver has {s:?}"))?;
    out.withdraw_s = (t1 - t0).as_secs_f64();
    out.cpu_withdraw_s = cpu() - c0;
    if let Some(p) = p {
        eprintln!("    perf: {}", p.stop().display());
    }
    if tx == Kind::BgpdSighup {
        // The reload may still be logging its last line when the receiver already has 0.
        std::thread::sleep(Duration::from_millis(200));
        out.bgpd_withdraw_steps = bgpd_reload_steps(&bgpd_log);
    }
    let end = sample(pid).ok_or("sender exited")?;
    out.hwm_kb = end.hwm_kb;
    out.cpu_total_s = end.cpu_s;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_steps_from_the_log() {
        let dir = std::env::temp_dir().join(format!("routers-steps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("bgpd.log");
        std::fs::write(
            &log,
            "2026-11-22T12:36:05.181254Z  INFO bgpd::events: announced 0 routes to rx (session established) kind=\"announce\"
2026-11-22T12:36:05.839436Z  INFO bgpd::daemon: received SIGHUP: reloading the configuration
2026-11-22T12:36:07.046350Z  INFO bgpd::events: configuration reloaded kind=\"reload\"
2026-11-22T12:36:08.128701Z  INFO bgpd::events: announced 100000 prefixes to rx (reload) kind=\"announce\"
2026-11-22T12:36:08.884922Z  INFO bgpd::daemon: reloaded /x/bgpd.toml: 0 peers added, 0 removed, 0 reset; services updated on the live sessions
",
        )
        .unwrap();
        let s = bgpd_reload_steps(&log).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!((s[0] - 1.206914).abs() < 1e-6, "{s:?}");
        assert!((s[1] - 2.289265).abs() < 1e-6, "{s:?}");
        assert!((s[2] - 3.045486).abs() < 1e-6, "{s:?}");
    }
}
