//! Our bgpd, built once per test process and run inside a namespace with its stderr captured.
//!
//! The TOML written here follows the configuration contract of the bgpd issue (`[global]`,
//! `[[peers]]`, `[[services]]`); only keys a test sets are written, so defaults are exercised too.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use crate::topo::{Node, Topology};
use crate::wait::wait_until;

/// `[global]`.
#[derive(Debug, Clone)]
pub struct Global {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// `None`: key omitted (bgpd's default); `Some(vec![])`: never accept inbound.
    pub listen: Option<Vec<String>>,
    pub hold_time: Option<u16>,
    pub keepalive: Option<u16>,
    pub connect_retry: Option<u16>,
    /// `None`: [`Bgpd::start`] puts it in the node's directory, so that bgpd processes running
    /// at the same time never share the default `/run/bgpd/bgpd.sock`.
    pub control_socket: Option<PathBuf>,
    /// `None`: [`Bgpd::start`] puts it in the node's directory (`state`), kept across
    /// restarts of bgpd on that node.
    pub state_dir: Option<PathBuf>,
    /// Further `key = value` lines of `[global]`, written as given (TOML values, e.g.
    /// `("drain_time", "\"3s\"")`).
    pub extra: Vec<(String, String)>,
}

/// `[[peers]]`.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: Option<String>,
    pub address: IpAddr,
    pub asn: u32,
    pub port: Option<u16>,
    pub passive: Option<bool>,
    pub local_address: Option<IpAddr>,
    pub hold_time: Option<u16>,
    pub password: Option<String>,
    pub families: Option<Vec<String>>,
    pub add_path: Option<bool>,
    pub graceful_restart: Option<bool>,
    /// Further `key = value` lines, written as given (TOML values, e.g. `"\"100ms\""`).
    pub extra: Vec<(String, String)>,
    /// An unnumbered peer: `interface` alone, no `address` written.
    pub unnumbered: Option<String>,
}

impl Peer {
    pub fn new(address: IpAddr, asn: u32) -> Peer {
        Peer {
            name: None,
            address,
            asn,
            port: None,
            passive: None,
            local_address: None,
            hold_time: None,
            password: None,
            families: None,
            add_path: None,
            graceful_restart: None,
            extra: Vec::new(),
            unnumbered: None,
        }
    }

    /// An unnumbered peer on `interface` (`interface` without `address`): the neighbor is
    /// learned from the link.
    pub fn unnumbered(interface: &str, asn: u32) -> Peer {
        Peer {
            unnumbered: Some(interface.to_string()),
            ..Peer::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), asn)
        }
    }

    /// Adds a `key = value` line to this peer's table; `value` is TOML (quote strings).
    pub fn key(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.hold_time = Some(seconds);
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
        self
    }

    pub fn families(mut self, families: &[&str]) -> Self {
        self.families = Some(families.iter().map(|f| f.to_string()).collect());
        self
    }

    pub fn add_path(mut self) -> Self {
        self.add_path = Some(true);
        self
    }

    pub fn local_address(mut self, addr: IpAddr) -> Self {
        self.local_address = Some(addr);
        self
    }
}

/// `[[services]]`.
#[derive(Debug, Clone, Default)]
pub struct Service {
    pub name: String,
    pub prefix: String,
    /// `None`: key omitted (bgpd's default, "self").
    pub nexthops: Option<Vec<String>>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub as_path_prepend: Option<u8>,
    /// `weight` (sent as the Link Bandwidth extended community).
    pub weight: Option<u32>,
    pub peers: Option<Vec<String>>,
    /// Raw keys of the service's `[services.health]` table.
    pub health: Option<String>,
}

impl Service {
    pub fn new(name: &str, prefix: &str) -> Service {
        Service {
            name: name.to_string(),
            prefix: prefix.to_string(),
            ..Service::default()
        }
    }

    pub fn nexthops(mut self, nexthops: &[&str]) -> Self {
        self.nexthops = Some(nexthops.iter().map(|n| n.to_string()).collect());
        self
    }

    pub fn communities(mut self, c: &[&str]) -> Self {
        self.communities = c.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn large_communities(mut self, c: &[&str]) -> Self {
        self.large_communities = c.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn med(mut self, med: u32) -> Self {
        self.med = Some(med);
        self
    }

    pub fn local_pref(mut self, local_pref: u32) -> Self {
        self.local_pref = Some(local_pref);
        self
    }

    /// A health check: `keys` are the raw TOML lines of `[services.health]`.
    pub fn health(mut self, keys: &str) -> Self {
        self.health = Some(keys.to_string());
        self
    }

    pub fn as_path_prepend(mut self, n: u8) -> Self {
        self.as_path_prepend = Some(n);
        self
    }

    pub fn weight(mut self, w: u32) -> Self {
        self.weight = Some(w);
        self
    }
}

/// A whole bgpd configuration file.
#[derive(Debug, Clone)]
pub struct BgpdConfig {
    pub global: Global,
    pub peers: Vec<Peer>,
    pub services: Vec<Service>,
    /// `key = value` lines of `[rib]` (the Loc-RIB's multipath rule); no table when empty.
    pub rib: Vec<(String, String)>,
    /// `key = value` lines of `[fib]` (the router's kernel FIB); `None`: no `[fib]` table.
    pub fib: Option<Vec<(String, String)>>,
}

impl BgpdConfig {
    /// `[global]` with the ASN and router id, listening nowhere (bgpd connects out), a 9 s hold
    /// time and a 1 s connect retry so that tests stay short.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> BgpdConfig {
        BgpdConfig {
            global: Global {
                asn,
                router_id,
                listen: Some(Vec::new()),
                hold_time: Some(9),
                keepalive: Some(3),
                connect_retry: Some(1),
                control_socket: None,
                state_dir: None,
                extra: Vec::new(),
            },
            peers: Vec::new(),
            services: Vec::new(),
            rib: Vec::new(),
            fib: None,
        }
    }

    /// Adds a `[fib]` table (program the kernel) with these `key = value` lines (TOML values).
    pub fn fib(mut self, keys: &[(&str, &str)]) -> Self {
        self.fib = Some(
            keys.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self
    }

    /// Adds a `key = value` line to `[rib]`; `value` is TOML.
    pub fn rib_key(mut self, key: &str, value: &str) -> Self {
        self.rib.push((key.to_string(), value.to_string()));
        self
    }

    pub fn peer(mut self, peer: Peer) -> Self {
        self.peers.push(peer);
        self
    }

    /// Adds a `key = value` line to `[global]`; `value` is TOML (quote strings).
    pub fn global_key(mut self, key: &str, value: &str) -> Self {
        self.global.extra.push((key.to_string(), value.to_string()));
        self
    }

    pub fn service(mut self, service: Service) -> Self {
        self.services.push(service);
        self
    }

    /// Renders the TOML file.
    pub fn render(&self) -> String {
        let g = &self.global;
        let mut s = String::new();
        let _ = writeln!(s, "[global]");
        let _ = writeln!(s, "asn = {}", g.asn);
        let _ = writeln!(s, "router_id = {}", quote(&g.router_id.to_string()));
        if let Some(listen) = &g.listen {
            let _ = writeln!(s, "listen = {}", list(listen));
        }
        opt(&mut s, "hold_time", g.hold_time);
        opt(&mut s, "keepalive", g.keepalive);
        opt(&mut s, "connect_retry", g.connect_retry);
        if let Some(path) = &g.control_socket {
            let _ = writeln!(s, "control_socket = {}", quote(&path.display().to_string()));
        }
        if let Some(path) = &g.state_dir {
            let _ = writeln!(s, "state_dir = {}", quote(&path.display().to_string()));
        }
        for (k, v) in &g.extra {
            let _ = writeln!(s, "{k} = {v}");
        }
        if !self.rib.is_empty() {
            let _ = writeln!(s, "\n[rib]");
            for (k, v) in &self.rib {
                let _ = writeln!(s, "{k} = {v}");
            }
        }
        if let Some(fib) = &self.fib {
            let _ = writeln!(s, "\n[fib]");
            for (k, v) in fib {
                let _ = writeln!(s, "{k} = {v}");
            }
        }
        for p in &self.peers {
            let _ = writeln!(s, "\n[[peers]]");
            if let Some(name) = &p.name {
                let _ = writeln!(s, "name = {}", quote(name));
            }
            match &p.unnumbered {
                Some(ifname) => {
                    let _ = writeln!(s, "interface = {}", quote(ifname));
                }
                None => {
                    let _ = writeln!(s, "address = {}", quote(&p.address.to_string()));
                }
            }
            let _ = writeln!(s, "asn = {}", p.asn);
            opt(&mut s, "port", p.port);
            opt(&mut s, "passive", p.passive);
            if let Some(a) = p.local_address {
                let _ = writeln!(s, "local_address = {}", quote(&a.to_string()));
            }
            opt(&mut s, "hold_time", p.hold_time);
            if let Some(pw) = &p.password {
                let _ = writeln!(s, "password = {}", quote(pw));
            }
            if let Some(f) = &p.families {
                let _ = writeln!(s, "families = {}", list(f));
            }
            opt(&mut s, "add_path", p.add_path);
            opt(&mut s, "graceful_restart", p.graceful_restart);
            for (k, v) in &p.extra {
                let _ = writeln!(s, "{k} = {v}");
            }
        }
        for svc in &self.services {
            let _ = writeln!(s, "\n[[services]]");
            let _ = writeln!(s, "name = {}", quote(&svc.name));
            let _ = writeln!(s, "prefix = {}", quote(&svc.prefix));
            if let Some(n) = &svc.nexthops {
                let _ = writeln!(s, "nexthops = {}", list(n));
            }
            if !svc.communities.is_empty() {
                let _ = writeln!(s, "communities = {}", list(&svc.communities));
            }
            if !svc.large_communities.is_empty() {
                let _ = writeln!(s, "large_communities = {}", list(&svc.large_communities));
            }
            opt(&mut s, "med", svc.med);
            opt(&mut s, "local_pref", svc.local_pref);
            opt(&mut s, "as_path_prepend", svc.as_path_prepend);
            opt(&mut s, "weight", svc.weight);
            if let Some(p) = &svc.peers {
                let _ = writeln!(s, "peers = {}", list(p));
            }
            if let Some(h) = &svc.health {
                let _ = writeln!(s, "[services.health]\n{h}");
            }
        }
        s
    }
}

/// A running bgpd.
pub struct Bgpd<'t> {
    topo: &'t Topology,
    pub node: Node,
    pid: u32,
    /// The configuration file bgpd was started with (rewritten by [`Bgpd::reload`]).
    pub config_path: PathBuf,
    /// bgpd's stdout and stderr.
    pub log: PathBuf,
}

impl<'t> Bgpd<'t> {
    /// Writes the config and starts `bgpd run -c FILE` in `node`'s namespace.
    pub fn start(topo: &'t Topology, node: &Node, config: &BgpdConfig) -> Bgpd<'t> {
        let bin = bgpd_binary();
        let config_path = node.dir.join("bgpd.toml");
        let log = node.dir.join("bgpd.log");
        fs::write(&config_path, with_node_socket(config, node).render())
            .expect("write bgpd config");
        let conf = config_path.display().to_string();
        let label = format!("bgpd {} stderr", node.role);
        let pid = topo.spawn(
            node,
            &label,
            &bin.display().to_string(),
            &["run", "-c", &conf],
            &log,
        );
        Bgpd {
            topo,
            node: node.clone(),
            pid,
            config_path,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs `bgpctl ARGS` against this bgpd's control socket (the node's directory, as
    /// [`Bgpd::start`] sets it); panics with bgpctl's error when it fails.
    pub fn ctl(&self, args: &[&str]) -> String {
        bgpctl(&self.node.dir.join("bgpd.sock"), args)
    }

    /// Everything bgpd logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `timeout` for a log line containing every one of `needles` (case-insensitive);
    /// returns that line, or `None`.
    pub fn wait_log(&self, timeout: Duration, needles: &[&str]) -> Option<String> {
        let find = || {
            self.log_text()
                .lines()
                .find(|l| contains_all(l, needles))
                .map(str::to_string)
        };
        wait_until(timeout, find, Option::is_some)
    }

    /// Current length of the log in bytes, a mark for [`Bgpd::wait_log_from`].
    pub fn log_len(&self) -> usize {
        self.log_text().len()
    }

    /// Like [`Bgpd::wait_log`], but only lines logged after byte offset `mark`.
    pub fn wait_log_from(
        &self,
        mark: usize,
        timeout: Duration,
        needles: &[&str],
    ) -> Option<String> {
        let find = || {
            let text = self.log_text();
            let after = text.get(mark..).unwrap_or_default();
            after
                .lines()
                .find(|l| contains_all(l, needles))
                .map(str::to_string)
        };
        wait_until(timeout, find, Option::is_some)
    }

    /// Number of log lines containing every one of `needles` (case-insensitive).
    pub fn count_log(&self, needles: &[&str]) -> usize {
        self.log_text()
            .lines()
            .filter(|l| contains_all(l, needles))
            .count()
    }

    /// Rewrites the config file and sends SIGHUP.
    pub fn reload(&self, config: &BgpdConfig) {
        self.reload_raw(&with_node_socket(config, &self.node).render());
    }

    /// Writes arbitrary text as the config file (e.g. an invalid one) and sends SIGHUP.
    pub fn reload_raw(&self, text: &str) {
        fs::write(&self.config_path, text).expect("write bgpd config");
        self.topo.signal(self.pid, libc::SIGHUP);
    }

    /// One request on the control socket (`bgpctl` speaks the same: one JSON line each way);
    /// returns the response's `data`. `request` is the command object without `v`, e.g.
    /// `{"cmd": "neighbor", "name": "r"}`.
    pub fn control(&self, request: serde_json::Value) -> Result<serde_json::Value, String> {
        control_request(&self.socket(), request)
    }

    /// The control socket: the configured one, else the one [`Bgpd::start`] put in the node's
    /// directory.
    fn socket(&self) -> PathBuf {
        fs::read_to_string(&self.config_path)
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.trim().strip_prefix("control_socket = "))
                    .map(|v| PathBuf::from(v.trim().trim_matches('"')))
            })
            .unwrap_or_else(|| self.node.dir.join("bgpd.sock"))
    }

    /// `bgpctl neighbor NAME --json`.
    pub fn neighbor(&self, name: &str) -> Result<serde_json::Value, String> {
        self.control(serde_json::json!({"cmd": "neighbor", "name": name}))
    }

    /// The prefixes of `peer`'s Adj-RIB-In (`bgpctl routes --received --peer PEER`).
    pub fn received(&self, peer: &str) -> Result<Vec<String>, String> {
        let data =
            self.control(serde_json::json!({"cmd": "routes", "peer": peer, "received": true}))?;
        Ok(data
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["prefix"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sends SIGTERM and waits up to `timeout` for bgpd to exit.
    pub fn terminate(&self, timeout: Duration) -> Option<ExitStatus> {
        self.topo.signal(self.pid, libc::SIGTERM);
        self.topo.wait_exit(self.pid, timeout)
    }

    /// Whether the process is still running.
    pub fn running(&self) -> bool {
        self.topo.wait_exit(self.pid, Duration::ZERO).is_none()
    }
}

/// Builds `target/debug/bgpd` once per test process (`cargo build -p bgpd --bin bgpd`, honouring
/// `CARGO` and `CARGO_TARGET_DIR`) and returns its path. `BGPD_BIN` overrides the build.
pub fn bgpd_binary() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("BGPD_BIN") {
            return Ok(PathBuf::from(bin));
        }
        let workspace = workspace_root();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
            Some(t) => workspace.join(t),
            None => workspace.join("target"),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(&cargo)
            .args(["build", "-p", "bgpd", "--bin", "bgpd"])
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .map_err(|e| format!("cannot run {cargo:?}: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p bgpd --bin bgpd failed: {status}"));
        }
        Ok(target.join("debug").join("bgpd"))
    });
    match result {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Builds `bgpctl` next to the bgpd binary the harness uses (once per test process).
pub fn bgpctl_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bgpd = bgpd_binary();
        // test.sh builds the whole workspace first and names the bgpd it built in BGPD_BIN;
        // bgpctl sits beside it. Building `-p bgpd` alone would resolve features differently
        // and recompile every dependency.
        let sibling = bgpd.with_file_name("bgpctl");
        if std::env::var_os("BGPD_BIN").is_some() && sibling.is_file() {
            return sibling;
        }
        let workspace = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = bgpd
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| workspace.join("target"));
        let status = Command::new(cargo)
            .args(["build", "-p", "bgpd", "--bin", "bgpctl"])
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo build for bgpctl");
        assert!(status.success(), "cargo build -p bgpd --bin bgpctl failed");
        bgpd.with_file_name("bgpctl")
    })
    .clone()
}

/// One request on the control socket at `path` (one JSON line each way, as `bgpctl` does);
/// returns the response's `data`, or the error bgpd answered.
pub fn control_request(
    path: &Path,
    request: serde_json::Value,
) -> Result<serde_json::Value, String> {
    use std::io::{BufRead, Write};
    let mut sock = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| format!("control socket {}: {e}", path.display()))?;
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let mut req = request;
    req["v"] = serde_json::json!(1);
    writeln!(sock, "{req}").map_err(|e| format!("control request: {e}"))?;
    let mut line = String::new();
    std::io::BufReader::new(&sock)
        .read_line(&mut line)
        .map_err(|e| format!("control response: {e}"))?;
    let resp: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("control response {line:?}: {e}"))?;
    if resp["ok"] != serde_json::Value::Bool(true) {
        return Err(format!("control error: {line}"));
    }
    Ok(resp["data"].clone())
}

/// Runs `bgpctl --socket SOCKET ARGS`; panics with bgpctl's error when it fails.
pub fn bgpctl(socket: &Path, args: &[&str]) -> String {
    let out = Command::new(bgpctl_binary())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run bgpctl");
    assert!(
        out.status.success(),
        "bgpctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Cargo workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The config with `control_socket` and `state_dir` defaulted to the node's directory (a
/// bgpd restarted on the node finds its state again; never the system's /var/lib/bgpd).
fn with_node_socket(config: &BgpdConfig, node: &Node) -> BgpdConfig {
    let mut config = config.clone();
    if config.global.control_socket.is_none() {
        config.global.control_socket = Some(node.dir.join("bgpd.sock"));
    }
    if config.global.state_dir.is_none() {
        config.global.state_dir = Some(node.dir.join("state"));
    }
    config
}

fn contains_all(line: &str, needles: &[&str]) -> bool {
    let lower = line.to_lowercase();
    needles.iter().all(|n| lower.contains(&n.to_lowercase()))
}

fn quote(s: &str) -> String {
    // A JSON string literal is a valid TOML basic string (same escapes; serde_json never emits "\/").
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

fn opt<T: std::fmt::Display>(s: &mut String, key: &str, value: Option<T>) {
    if let Some(v) = value {
        let _ = writeln!(s, "{key} = {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_issue_4_shape() {
        let cfg = BgpdConfig::new(64512, Ipv4Addr::new(10, 255, 0, 2))
            .peer(
                Peer::new("10.255.0.1".parse().unwrap(), 64500)
                    .name("tor-a")
                    .hold_time(9)
                    .password("s\"x"),
            )
            .service(
                Service::new("web", "192.0.2.10/32")
                    .nexthops(&["self"])
                    .communities(&["64512:100", "no-export"])
                    .med(10),
            );
        let expected = r#"[global]
asn = 64512
router_id = "10.255.0.2"
listen = []
hold_time = 9
keepalive = 3
connect_retry = 1

[[peers]]
name = "tor-a"
address = "10.255.0.1"
asn = 64500
hold_time = 9
password = "s\"x"

[[services]]
name = "web"
prefix = "192.0.2.10/32"
nexthops = ["self"]
communities = ["64512:100", "no-export"]
med = 10
"#;
        assert_eq!(cfg.render(), expected);
    }
}
