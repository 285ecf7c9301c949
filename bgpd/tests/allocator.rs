//! `bgpd run` turns glibc's per-thread cache of freed blocks off by running itself again with
//! `GLIBC_TUNABLES=glibc.malloc.tcache_count=0` (docs/runtime.md, "Memory"), so that the
//! memory of a received table goes back to the kernel when the table goes (issue 17 item 5;
//! the figures are the receive bench's, docs/benchmarks.md). It keeps other tunables, and an
//! operator who sizes the cache himself keeps his size.
//!
//! Each test runs bgpd with no peer, its state and control socket in its own temporary
//! directory, and kills it by PID when its guard drops.

#[path = "support/state_dir.rs"]
mod state_dir;
use state_dir::own_state_dir;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

struct Bgpd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Bgpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bgpd {
    /// Starts `bgpd run` with `GLIBC_TUNABLES` set to `tunables` (unset for `None`).
    fn start(tunables: Option<&str>) -> Bgpd {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = []\n\
             control_socket = \"{}\"\n",
            dir.path().join("bgpd.sock").display()
        );
        let path = dir.path().join("bgpd.toml");
        std::fs::write(&path, own_state_dir(&config, dir.path())).expect("write config");
        let log = std::fs::File::create(dir.path().join("bgpd.log")).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_bgpd"));
        command
            .args(["run", "--config"])
            .arg(&path)
            .env("NO_COLOR", "1")
            .env_remove("GLIBC_TUNABLES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(t) = tunables {
            command.env("GLIBC_TUNABLES", t);
        }
        let child = command.spawn().expect("spawn bgpd");
        Bgpd { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgpd.log")).unwrap_or_default()
    }

    /// Waits for the daemon's start line (logged after any exec), then returns the glibc
    /// tunables of the running process: the parts of `/proc/PID/environ` that name one
    /// (glibc may split the variable's value at its colons in place while reading it).
    fn running_tunables(&self) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains("bgpd started") {
            assert!(
                Instant::now() < deadline,
                "bgpd did not start within {WAIT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let environ =
            std::fs::read(format!("/proc/{}/environ", self.child.id())).expect("read environ");
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
}

#[test]
fn bgpd_runs_with_the_per_thread_cache_off() {
    let bgpd = Bgpd::start(None);
    assert_eq!(
        bgpd.running_tunables(),
        ["glibc.malloc.tcache_count=0"],
        "log:\n{}",
        bgpd.log()
    );
    // Read from the PID spawned: bgpd ran itself again in the same process, with no warning.
    assert!(!bgpd.log().contains("cannot restart"), "{}", bgpd.log());
}

#[test]
fn other_tunables_are_kept_beside_it() {
    let bgpd = Bgpd::start(Some("glibc.malloc.mxfast=0"));
    assert_eq!(
        bgpd.running_tunables(),
        ["glibc.malloc.mxfast=0", "glibc.malloc.tcache_count=0"],
        "log:\n{}",
        bgpd.log()
    );
}

#[test]
fn an_operators_cache_size_is_kept() {
    let bgpd = Bgpd::start(Some("glibc.malloc.tcache_count=7"));
    assert_eq!(
        bgpd.running_tunables(),
        ["glibc.malloc.tcache_count=7"],
        "log:\n{}",
        bgpd.log()
    );
}
