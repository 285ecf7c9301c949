//! A `bgpd run` child process for integration tests: its configuration, state and log in its
//! own temporary directory, killed by PID when the guard drops (with the log's tail printed
//! when the test failed).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::state_dir::own_state_dir;

/// A running `bgpd run`.
pub struct Bgpd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Bgpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "---- bgpd log (last lines) ----\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

impl Bgpd {
    /// Starts `bgpd run` with `config` (its state directory set to the temporary one, and
    /// `{dir}` in it replaced by that directory's path); `tweak` may change the command (its
    /// environment) before it is spawned.
    pub fn start_with(config: &str, tweak: impl FnOnce(&mut Command)) -> Bgpd {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bgpd.toml");
        let config = config.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&path, own_state_dir(&config, dir.path())).expect("write config");
        let log = std::fs::File::create(dir.path().join("bgpd.log")).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_bgpd"));
        command
            .args(["run", "--config"])
            .arg(&path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        tweak(&mut command);
        let child = command.spawn().expect("spawn bgpd");
        Bgpd { child, dir }
    }

    /// [`Bgpd::start_with`] with the command as it is.
    #[allow(dead_code)]
    pub fn start(config: &str) -> Bgpd {
        Bgpd::start_with(config, |_| {})
    }

    /// The PID of the process spawned.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything bgpd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgpd.log")).unwrap_or_default()
    }

    /// Waits (at most `wait`) for the first log line containing `needle` and returns it.
    pub fn wait_log(&self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "bgpd never logged {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
