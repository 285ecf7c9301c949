//! `bgpd run` turns glibc's per-thread cache of freed blocks off by running itself again with
//! `GLIBC_TUNABLES=glibc.malloc.tcache_count=0` (docs/runtime.md, "Memory"), so that the
//! memory of a received table goes back to the kernel when the table goes (issue 17 item 5;
//! the figures are the receive bench's, docs/benchmarks.md). It keeps other tunables, and an
//! operator who sizes the cache himself keeps his size.
//!
//! Each test runs bgpd with no peer, its state and control socket in its own temporary
//! directory, and kills it by PID when its guard drops.

#[path = "support/bgpd_process.rs"]
mod bgpd_process;
#[path = "support/state_dir.rs"]
mod state_dir;
use bgpd_process::Bgpd;

use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Starts `bgpd run` with no peer and `GLIBC_TUNABLES` set to `tunables` (unset for `None`).
fn start(tunables: Option<&str>) -> Bgpd {
    let config = "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = []\n\
                  control_socket = \"{dir}/bgpd.sock\"\n";
    Bgpd::start_with(config, |command| {
        command.env_remove("GLIBC_TUNABLES");
        if let Some(t) = tunables {
            command.env("GLIBC_TUNABLES", t);
        }
    })
}

/// Waits for the daemon's start line (logged after any exec), then returns the glibc
/// tunables of the running process: the parts of `/proc/PID/environ` that name one (glibc
/// may split the variable's value at its colons in place while reading it).
fn running_tunables(bgpd: &Bgpd) -> Vec<String> {
    bgpd.wait_log("bgpd started", WAIT);
    let environ = std::fs::read(format!("/proc/{}/environ", bgpd.pid())).expect("read environ");
    environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .flat_map(|v| {
            let v = v.strip_prefix("GLIBC_TUNABLES=").unwrap_or(&v).to_string();
            v.split(':').map(str::to_string).collect::<Vec<_>>()
        })
        .filter(|t| t.starts_with("glibc."))
        .collect()
}

#[test]
fn bgpd_runs_with_the_per_thread_cache_off() {
    let bgpd = start(None);
    assert_eq!(
        running_tunables(&bgpd),
        ["glibc.malloc.tcache_count=0"],
        "log:\n{}",
        bgpd.log()
    );
    // Read from the PID spawned: bgpd ran itself again in the same process, with no warning.
    assert!(!bgpd.log().contains("cannot restart"), "{}", bgpd.log());
}

#[test]
fn other_tunables_are_kept_beside_it() {
    let bgpd = start(Some("glibc.malloc.mxfast=0"));
    assert_eq!(
        running_tunables(&bgpd),
        ["glibc.malloc.mxfast=0", "glibc.malloc.tcache_count=0"],
        "log:\n{}",
        bgpd.log()
    );
}

#[test]
fn an_operators_cache_size_is_kept() {
    let bgpd = start(Some("glibc.malloc.tcache_count=7"));
    assert_eq!(
        running_tunables(&bgpd),
        ["glibc.malloc.tcache_count=7"],
        "log:\n{}",
        bgpd.log()
    );
}
