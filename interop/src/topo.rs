//! Network namespaces joined by a Linux bridge, and the processes running inside them.
//!
//! A [`Topology`] owns everything it creates: one "lan" namespace holding a bridge, one namespace
//! per node joined to the bridge by a veth pair, a scratch directory for configs and logs, and
//! every process started through [`Topology::spawn`]. Dropping it (also while a test panics)
//! terminates those processes by PID (SIGTERM, a grace period, then SIGKILL) and deletes the
//! namespaces. Interfaces outside these namespaces are never touched: veth pairs are created inside
//! the lan namespace and their peer end is moved straight into the node namespace.
//!
//! Names are unique per test and per process (`bt<pid>x<n>-<role>`), and each topology gets its
//! own subnets, `10.255.<n>.0/24` and `fd00:255:<n>::/64`, so tests can run in parallel.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Per-process counter giving each topology its index (and thus its names and subnets).
static NEXT_INDEX: AtomicU32 = AtomicU32::new(1);

/// How long processes get between SIGTERM and SIGKILL during teardown.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// One node of a topology: a network namespace with an `eth0` on the shared LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Short role name given by the test ("r1", "n2").
    pub role: String,
    /// Network namespace name.
    pub ns: String,
    /// Address on the LAN, `10.255.<index>.<host>`.
    pub ipv4: Ipv4Addr,
    /// Address on the LAN, `fd00:255:<index>::<host>`.
    pub ipv6: Ipv6Addr,
    /// Scratch directory for this node's files.
    pub dir: PathBuf,
}

impl Node {
    /// The node's address in the given family.
    pub fn addr(&self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(self.ipv6)
        } else {
            IpAddr::V4(self.ipv4)
        }
    }
}

/// A process started inside a namespace and owned by a [`Topology`].
struct Proc {
    label: String,
    child: Child,
    exited: Option<ExitStatus>,
}

/// The guard owning namespaces, processes and files of one test.
pub struct Topology {
    index: u32,
    prefix: String,
    lan: String,
    dir: PathBuf,
    namespaces: Mutex<Vec<String>>,
    procs: Mutex<Vec<Proc>>,
    logs: Mutex<Vec<(String, PathBuf)>>,
    next_host: AtomicU32,
}

impl Topology {
    /// Creates the LAN namespace with its bridge. `test` names the scratch directory only.
    ///
    /// Panics (failing the test) when namespaces cannot be created, e.g. when not run as root:
    /// the interop suite must fail, not skip, when it cannot do its job.
    pub fn new(test: &str) -> Topology {
        require_tools();
        cleanup_stale_namespaces();
        let index = NEXT_INDEX.fetch_add(1, Ordering::SeqCst);
        assert!(index < 250, "more than 249 topologies in one test process");
        let pid = std::process::id();
        let prefix = format!("bt{pid}x{index}");
        let dir = std::env::temp_dir().join(format!("bgpd-interop-{pid}-{index}-{test}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let lan = format!("{prefix}-lan");
        let topo = Topology {
            index,
            prefix,
            lan: lan.clone(),
            dir,
            namespaces: Mutex::new(Vec::new()),
            procs: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            next_host: AtomicU32::new(1),
        };
        topo.add_namespace(&lan);
        ip(&["-n", &lan, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &lan, "link", "set", "br0", "up"]);
        topo
    }

    /// Index of this topology; its subnets are `10.255.<index>.0/24` and `fd00:255:<index>::/64`.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The topology's scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The IPv4 LAN address of host number `host`.
    pub fn ipv4(&self, host: u32) -> Ipv4Addr {
        Ipv4Addr::new(10, 255, self.index as u8, host as u8)
    }

    /// The IPv6 LAN address of host number `host`.
    pub fn ipv6(&self, host: u32) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0x255, self.index as u16, 0, 0, 0, 0, host as u16)
    }

    /// Adds a node namespace joined to the LAN bridge, with `lo` and `eth0` up and both addresses
    /// configured (IPv6 with `nodad`, so it is usable at once).
    pub fn add_node(&self, role: &str) -> Node {
        let host = self.next_host.fetch_add(1, Ordering::SeqCst);
        assert!(host < 250, "too many nodes");
        let ns = format!("{}-{role}", self.prefix);
        self.add_namespace(&ns);
        let veth = format!("v{host}");
        ip(&[
            "-n", &self.lan, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        ip(&["-n", &self.lan, "link", "set", &veth, "master", "br0", "up"]);
        let ipv4 = self.ipv4(host);
        let ipv6 = self.ipv6(host);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ipv4}/24"),
            "dev",
            "eth0",
        ]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ipv6}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        let dir = self.dir.join(role);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Node {
            role: role.to_string(),
            ns,
            ipv4,
            ipv6,
            dir,
        }
    }

    /// Adds a node that is not on the LAN: a namespace joined to `gateway` alone by its own veth
    /// pair (`eth0` here, `s<host>` in the gateway), on `10.254.<index>.<4k>/30`, with its default
    /// routes via the gateway. Its traffic to anything else crosses the gateway's forwarding
    /// (the data-plane suite's client behind the router). The gateway's address on the link is
    /// the stub's minus one.
    pub fn add_stub(&self, role: &str, gateway: &Node) -> Node {
        let host = self.next_host.fetch_add(1, Ordering::SeqCst);
        assert!(host < 60, "too many nodes for a stub link");
        let ns = format!("{}-{role}", self.prefix);
        self.add_namespace(&ns);
        let veth = format!("s{host}");
        ip(&[
            "-n",
            &gateway.ns,
            "link",
            "add",
            &veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns,
        ]);
        let (gw4, ipv4) = self.stub_addrs(host);
        let gw6 = Ipv6Addr::new(0xfd00, 0x254, self.index as u16, host as u16, 0, 0, 0, 1);
        let ipv6 = Ipv6Addr::new(0xfd00, 0x254, self.index as u16, host as u16, 0, 0, 0, 2);
        for (dev, ns, a4, a6) in [
            (&veth, &gateway.ns, gw4, gw6),
            (&"eth0".to_string(), &ns, ipv4, ipv6),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{a4}/30"), "dev", dev]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{a6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        ip(&[
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            &gw4.to_string(),
        ]);
        ip(&[
            "-n",
            &ns,
            "-6",
            "route",
            "add",
            "default",
            "via",
            &gw6.to_string(),
        ]);
        let dir = self.dir.join(role);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Node {
            role: role.to_string(),
            ns,
            ipv4,
            ipv6,
            dir,
        }
    }

    fn stub_addrs(&self, host: u32) -> (Ipv4Addr, Ipv4Addr) {
        let base = (host * 4) as u8;
        (
            Ipv4Addr::new(10, 254, self.index as u8, base + 1),
            Ipv4Addr::new(10, 254, self.index as u8, base + 2),
        )
    }

    /// Sets a sysctl inside `node`'s namespace (`net.*` keys are per namespace).
    pub fn sysctl(&self, node: &Node, key: &str, value: &str) {
        self.exec(node, "sysctl", &["-q", "-w", &format!("{key}={value}")]);
    }

    /// Sets the node's `eth0` down or up, inside its own namespace.
    pub fn set_link(&self, node: &Node, up: bool) {
        ip(&[
            "-n",
            &node.ns,
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ]);
    }

    /// Starts `program args` inside `node`'s namespace with stdout and stderr appended to `log`.
    /// Returns the PID, which is the program's own (`ip netns exec` execs it).
    pub fn spawn(&self, node: &Node, label: &str, program: &str, args: &[&str], log: &Path) -> u32 {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let child = Command::new("ip")
            .args(["netns", "exec", &node.ns, program])
            .args(args)
            // Plain log lines (tracing-subscriber honours NO_COLOR), so tests can grep them.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program} in {}: {e}", node.ns));
        let pid = child.id();
        self.watch_log(label, log);
        lock(&self.procs).push(Proc {
            label: label.to_string(),
            child,
            exited: None,
        });
        pid
    }

    /// Registers a log file to print when the test fails.
    pub fn watch_log(&self, label: &str, path: &Path) {
        let mut logs = lock(&self.logs);
        if !logs.iter().any(|(_, p)| p == path) {
            logs.push((label.to_string(), path.to_path_buf()));
        }
    }

    /// Sends `signal` to a process this topology started (and has not reaped yet).
    pub fn signal(&self, pid: u32, signal: i32) {
        let procs = lock(&self.procs);
        let owned = procs
            .iter()
            .any(|p| p.child.id() == pid && p.exited.is_none());
        assert!(owned, "pid {pid} is not a live process of this topology");
        // SAFETY: kill(2) has no memory-safety preconditions; the PID is our own unreaped child,
        // so it cannot have been recycled for another process.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }

    /// Waits up to `timeout` for a process of this topology to exit and returns its status.
    pub fn wait_exit(&self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut procs = lock(&self.procs);
                let proc = procs.iter_mut().find(|p| p.child.id() == pid)?;
                if let Some(status) = reap(proc) {
                    return Some(status);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops one process: SIGTERM, up to `grace` to exit, then SIGKILL. Returns its exit status.
    pub fn stop(&self, pid: u32, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.wait_exit(pid, Duration::ZERO) {
            return Some(status);
        }
        self.signal(pid, libc::SIGTERM);
        if let Some(status) = self.wait_exit(pid, grace) {
            return Some(status);
        }
        self.signal(pid, libc::SIGKILL);
        self.wait_exit(pid, Duration::from_secs(5))
    }

    /// Runs a command inside `node`'s namespace and returns its stdout (panics on failure).
    pub fn exec(&self, node: &Node, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &node.ns, program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program} in {}: {e}", node.ns));
        assert!(
            out.status.success(),
            "{program} {args:?} in {} failed: {}",
            node.ns,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn add_namespace(&self, ns: &str) {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", ns]);
        lock(&self.namespaces).push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }

    fn dump_logs(&self) {
        for (label, path) in lock(&self.logs).iter() {
            eprintln!("----- {label}: {} (last 60 lines) -----", path.display());
            eprintln!("{}", tail(path, 60));
        }
        eprintln!("----- scratch directory kept: {} -----", self.dir.display());
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        let mut procs = std::mem::take(&mut *lock(&self.procs));
        for p in procs.iter_mut() {
            if reap(p).is_some() {
                continue;
            }
            // SAFETY: see `signal`; the child is not reaped, so its PID is still ours.
            unsafe { libc::kill(p.child.id() as libc::pid_t, libc::SIGTERM) };
        }
        let deadline = Instant::now() + TERM_GRACE;
        while procs.iter_mut().any(|p| reap(p).is_none()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in procs.iter_mut() {
            if reap(p).is_some() {
                continue;
            }
            eprintln!(
                "teardown: {} (pid {}) ignored SIGTERM, killing",
                p.label,
                p.child.id()
            );
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if failing {
            self.dump_logs();
        }
        let namespaces = std::mem::take(&mut *lock(&self.namespaces));
        for ns in namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if !failing {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The last `lines` lines of a text file (or a note that it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = match File::open(path) {
        Ok(mut f) => {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
            let mut bytes = Vec::new();
            let _ = f.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(e) => return format!("<cannot read: {e}>"),
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `ip ARGS` and panics with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (is iproute2 installed?): {e}"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn reap(p: &mut Proc) -> Option<ExitStatus> {
    if p.exited.is_none() {
        p.exited = p.child.try_wait().ok().flatten();
    }
    p.exited
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the Vecs inconsistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fails (never skips) when the routers or iproute2 are missing or we are not root.
fn require_tools() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut missing = Vec::new();
        for tool in [
            "/usr/lib/frr/bgpd",
            "/usr/lib/frr/zebra",
            "/usr/bin/vtysh",
            "/usr/sbin/bird",
            "/usr/sbin/birdc",
            "/usr/sbin/ip",
        ] {
            if !Path::new(tool).exists() && !Path::new(&tool.replace("/usr", "")).exists() {
                missing.push(tool);
            }
        }
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !missing.is_empty() {
            return Err(format!(
                "interop tests need FRR, BIRD and iproute2; missing {missing:?}. \
                 Run ./test.sh as root, which installs them (apt-get install frr bird2 iproute2)."
            ));
        }
        if !root {
            return Err(
                "interop tests need root (network namespaces); run ./test.sh as root".into(),
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Deletes namespaces left behind by earlier test processes that died without cleaning up
/// (e.g. killed by SIGKILL). Only names of our own shape whose PID is no longer alive qualify.
fn cleanup_stale_namespaces() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(entries) = fs::read_dir("/run/netns") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("bt") else {
                continue;
            };
            let Some((pid, _)) = rest.split_once('x') else {
                continue;
            };
            let Ok(pid) = pid.parse::<i32>() else {
                continue;
            };
            // SAFETY: kill with signal 0 only checks for existence.
            let alive = unsafe { libc::kill(pid, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            if !alive {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
            }
        }
    });
}
