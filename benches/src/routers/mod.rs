//! Router benchmarks (issue 8): bgpd next to BIRD, FRR and GoBGP on the same work, in the same
//! run, inside network namespaces built with the interop harness ([`interop::Topology`]).
//!
//! * [`throughput`]: N host routes from one sender to one receiver (FRR, then BIRD): announce,
//!   session start with the routes already configured, withdraw; sender peak RSS and CPU.
//! * [`latency`]: one service toggled through bgpctl; command to UPDATE on the wire.
//! * [`scale`]: one bgpd with many passive test peers (bgp-fsm sessions in this process).
//! * [`receive`]: memory for N received prefixes with distinct attributes, bgpd next to BIRD
//!   (its own binary, `receive`).
//!
//! Everything started here is owned by a `Topology` guard (processes killed by PID, namespaces
//! deleted), also when a run fails or the bench is interrupted (SIGINT/SIGTERM set a flag that
//! every wait loop checks, so the guards unwind normally).

pub mod latency;
pub mod mrt;
#[allow(dead_code)] // only the `receive` binary uses it
pub mod receive;
pub mod receivers;
pub mod scale;
pub mod senders;
pub mod table;
pub mod throughput;

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by SIGINT/SIGTERM: every wait loop returns an error so the guards clean up.
pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`STOP`] instead of killing the bench (which would leave
/// namespaces and daemons behind).
pub fn install_signal_handlers() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

/// `Err` once the bench was asked to stop.
pub fn check_stop() -> Result<(), String> {
    if STOP.load(Ordering::SeqCst) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// Peak and current resident set size and CPU time of one process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// `VmHWM` from /proc/PID/status, KiB (peak RSS since the process started).
    pub hwm_kb: u64,
    /// `VmRSS`, KiB.
    pub rss_kb: u64,
    /// utime + stime from /proc/PID/stat, seconds (all threads).
    pub cpu_s: f64,
}

/// Reads [`ProcSample`] for `pid`; `None` when the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15 (proc(5)).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ProcSample {
        hwm_kb: kb("VmHWM:"),
        rss_kb: kb("VmRSS:"),
        cpu_s: (utime + stime) as f64 / hz,
    })
}

/// The `i`-th benchmark host route: 10.100.0.0 + i (N up to 1.2 million stay in 10.0.0.0/8).
pub fn route(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)).wrapping_add(i))
}

/// A binary built next to this bench (`target/<profile>/NAME`), or `$ENV` when set.
pub fn sibling_binary(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs `f` on a new thread that has joined network namespace `ns` (sockets created there
/// stay in that namespace wherever they are used later).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        // SAFETY: setns on a valid namespace fd; it changes only this thread's namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        Ok(f())
    })
    .join()
    .map_err(|_| "netns thread panicked".to_string())?
}

/// Runs a command to completion; its stdout, or stderr+stdout as the error.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}{}",
            args.iter().take(6).cloned().collect::<Vec<_>>().join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Runs `program args` inside namespace `ns` (`ip netns exec`).
pub fn run_in(ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Interval between two polls of a router's state. Each poll is a vtysh/birdc process that
/// the router answers on its main thread, so polling faster would slow the router down.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` until `done` holds; returns the time the successful probe *returned* (an
/// upper bound of when the state was reached; resolution about one poll) and its value.
pub fn poll_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> T,
    mut done: impl FnMut(&T) -> bool,
) -> Result<(Instant, T), (String, T)> {
    let deadline = Instant::now() + timeout;
    loop {
        let v = probe();
        let at = Instant::now();
        if done(&v) {
            return Ok((at, v));
        }
        if STOP.load(Ordering::SeqCst) {
            return Err(("interrupted".into(), v));
        }
        if at >= deadline {
            return Err((format!("timed out after {timeout:?}"), v));
        }
        std::thread::sleep(POLL);
    }
}

/// Median (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    percentile(xs, 50.0)
}

/// Nearest-rank percentile (NaN when empty).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    if p == 50.0 && v.len().is_multiple_of(2) {
        return (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The number in environment variable `key` (`_` separators allowed), or `default`.
pub fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The first line `program args` prints (stdout, then stderr): its version, for the report;
/// "missing (...)" when it cannot run.
pub fn version(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.push_str(&String::from_utf8_lossy(&o.stderr));
            t.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_else(|e| format!("missing ({e})"))
}

/// `/proc/loadavg`'s first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Wall-clock UTC time as `HH:MM:SS`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}
