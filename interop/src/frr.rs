//! FRR's `bgpd` inside a namespace, configured from a file and queried with
//! `vtysh --vty_socket DIR -c '... json'`. By default it runs alone (no zebra, nothing installed
//! in the kernel); [`FrrConfig::zebra`] starts FRR's zebra beside it, so that the selected routes
//! (ECMP included) land in the namespace's kernel FIB (the data-plane suite), and a neighbor with
//! BFD starts zebra and bfdd.
//!
//! FRR 8.4 specifics handled here: `no bgp ebgp-requires-policy` (otherwise eBGP routes are
//! neither accepted nor sent, RFC 8212), `no bgp network import-check` (no zebra to check with),
//! `maximum-paths` for ECMP and `bgp bestpath as-path multipath-relax` when paths come from
//! different ASes. FRR always advertises ADD-PATH receive (RFC 7911) for unicast families.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::topo::{Node, Topology};
use crate::wait::wait_until;

/// The FRR BGP daemon binary from Debian's `frr` package.
pub const FRR_BGPD: &str = "/usr/lib/frr/bgpd";
/// FRR's zebra (kernel routes; needed between bgpd and bfdd too).
pub const FRR_ZEBRA: &str = "/usr/lib/frr/zebra";
/// FRR's BFD daemon.
pub const FRR_BFDD: &str = "/usr/lib/frr/bfdd";

/// One `neighbor` of an FRR router.
#[derive(Debug, Clone)]
pub struct FrrNeighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    /// Hold time in seconds; keepalive is a third of it.
    pub hold_time: u16,
    /// TCP MD5 password (RFC 2385).
    pub password: Option<String>,
    /// Activate IPv4 unicast for this neighbor.
    pub ipv4: bool,
    /// Activate IPv6 unicast for this neighbor.
    pub ipv6: bool,
    /// Never connect, only accept.
    pub passive: bool,
    /// `neighbor X bfd` (+ `bfd profile bgpd` when [`FrrConfig::bfd`] is set): FRR's bfdd
    /// runs the session, through zebra.
    pub bfd: bool,
    /// `neighbor X bfd check-control-plane-failure`.
    pub bfd_check_control_plane: bool,
}

impl FrrNeighbor {
    /// A neighbor with a 9 s hold time, the family of its own address activated.
    pub fn new(address: IpAddr, remote_as: u32) -> FrrNeighbor {
        FrrNeighbor {
            address,
            remote_as,
            hold_time: 9,
            password: None,
            ipv4: address.is_ipv4(),
            ipv6: address.is_ipv6(),
            passive: false,
            bfd: false,
            bfd_check_control_plane: false,
        }
    }

    pub fn bfd(mut self) -> Self {
        self.bfd = true;
        self
    }

    pub fn bfd_check_control_plane(mut self) -> Self {
        self.bfd_check_control_plane = true;
        self
    }

    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.hold_time = seconds;
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
        self
    }

    pub fn families(mut self, ipv4: bool, ipv6: bool) -> Self {
        self.ipv4 = ipv4;
        self.ipv6 = ipv6;
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }
}

/// An FRR router configuration (`bgpd.conf`).
#[derive(Debug, Clone)]
pub struct FrrConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub neighbors: Vec<FrrNeighbor>,
    /// `maximum-paths` (eBGP and iBGP) in both families; 1 disables ECMP.
    pub maximum_paths: u8,
    /// `bgp bestpath as-path multipath-relax`.
    pub multipath_relax: bool,
    /// Networks this router originates itself (`network P`).
    pub networks: Vec<String>,
    /// Run FRR's zebra too and let bgpd install its selected routes in the kernel FIB.
    pub zebra: bool,
    /// bfdd's `profile bgpd`: (receive-interval ms, transmit-interval ms, detect-multiplier).
    pub bfd: Option<(u32, u32, u8)>,
    /// `bgp graceful-restart` (full mode; helper mode is FRR's default anyway).
    pub graceful_restart: bool,
}

impl FrrConfig {
    pub fn new(asn: u32, router_id: Ipv4Addr) -> FrrConfig {
        FrrConfig {
            asn,
            router_id,
            neighbors: Vec::new(),
            maximum_paths: 16,
            multipath_relax: false,
            networks: Vec::new(),
            zebra: false,
            bfd: None,
            graceful_restart: false,
        }
    }

    /// `maximum-paths N` (1 disables ECMP).
    pub fn maximum_paths(mut self, n: u8) -> Self {
        self.maximum_paths = n;
        self
    }

    /// Start zebra beside bgpd: routes go to the kernel FIB of the router's namespace.
    pub fn zebra(mut self) -> Self {
        self.zebra = true;
        self
    }

    /// bfdd profile `bgpd` with these intervals (ms) and multiplier.
    pub fn bfd(mut self, receive_ms: u32, transmit_ms: u32, multiplier: u8) -> Self {
        self.bfd = Some((receive_ms, transmit_ms, multiplier));
        self
    }

    pub fn graceful_restart(mut self) -> Self {
        self.graceful_restart = true;
        self
    }

    /// Whether zebra and bfdd must run (a neighbor uses BFD).
    pub fn uses_bfd(&self) -> bool {
        self.neighbors.iter().any(|n| n.bfd)
    }

    /// Renders bfdd's configuration file, logging to `log`.
    pub fn render_bfdd(&self, log: &std::path::Path) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "log file {} informational", log.display());
        let _ = writeln!(s, "log timestamp precision 3");
        let _ = writeln!(s, "debug bfd peer");
        let _ = writeln!(s, "!");
        let _ = writeln!(s, "bfd");
        if let Some((rx, tx, mult)) = self.bfd {
            let _ = writeln!(s, " profile bgpd");
            let _ = writeln!(s, "  receive-interval {rx}");
            let _ = writeln!(s, "  transmit-interval {tx}");
            let _ = writeln!(s, "  detect-multiplier {mult}");
            let _ = writeln!(s, " !");
        }
        let _ = writeln!(s, "!");
        s
    }

    pub fn neighbor(mut self, n: FrrNeighbor) -> Self {
        self.neighbors.push(n);
        self
    }

    pub fn multipath_relax(mut self) -> Self {
        self.multipath_relax = true;
        self
    }

    pub fn network(mut self, prefix: &str) -> Self {
        self.networks.push(prefix.to_string());
        self
    }

    /// Renders `bgpd.conf`, logging to `log`.
    pub fn render(&self, log: &std::path::Path) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "frr defaults traditional");
        let _ = writeln!(s, "log file {} informational", log.display());
        let _ = writeln!(s, "log timestamp precision 3");
        let _ = writeln!(s, "!");
        let _ = writeln!(s, "router bgp {}", self.asn);
        let _ = writeln!(s, " bgp router-id {}", self.router_id);
        let _ = writeln!(s, " no bgp ebgp-requires-policy");
        if !self.zebra {
            // Without zebra nothing could confirm that a `network` exists.
            let _ = writeln!(s, " no bgp network import-check");
        }
        let _ = writeln!(s, " no bgp default ipv4-unicast");
        let _ = writeln!(s, " bgp log-neighbor-changes");
        if self.multipath_relax {
            let _ = writeln!(s, " bgp bestpath as-path multipath-relax");
        }
        if self.graceful_restart {
            let _ = writeln!(s, " bgp graceful-restart");
        }
        for n in &self.neighbors {
            let a = n.address;
            let keepalive = (n.hold_time / 3).max(1);
            let _ = writeln!(s, " neighbor {a} remote-as {}", n.remote_as);
            let _ = writeln!(s, " neighbor {a} timers {keepalive} {}", n.hold_time);
            let _ = writeln!(s, " neighbor {a} timers connect 1");
            let _ = writeln!(s, " neighbor {a} advertisement-interval 0");
            if let Some(p) = &n.password {
                let _ = writeln!(s, " neighbor {a} password {p}");
            }
            if n.passive {
                let _ = writeln!(s, " neighbor {a} passive");
            }
            if n.bfd {
                let _ = writeln!(s, " neighbor {a} bfd");
                if self.bfd.is_some() {
                    let _ = writeln!(s, " neighbor {a} bfd profile bgpd");
                }
                if n.bfd_check_control_plane {
                    let _ = writeln!(s, " neighbor {a} bfd check-control-plane-failure");
                }
            }
        }
        for (family, v6) in [("ipv4", false), ("ipv6", true)] {
            let _ = writeln!(s, " address-family {family} unicast");
            let _ = writeln!(s, "  maximum-paths {}", self.maximum_paths);
            let _ = writeln!(s, "  maximum-paths ibgp {}", self.maximum_paths);
            for p in self.networks.iter().filter(|p| p.contains(':') == v6) {
                let _ = writeln!(s, "  network {p}");
            }
            for n in &self.neighbors {
                if (v6 && n.ipv6) || (!v6 && n.ipv4) {
                    let _ = writeln!(s, "  neighbor {} activate", n.address);
                }
            }
            let _ = writeln!(s, " exit-address-family");
        }
        let _ = writeln!(s, "!");
        s
    }
}

/// One path of a prefix as FRR reports it (`show bgp <afi> unicast <prefix> json`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FrrPath {
    /// Neighbor address the path came from.
    pub peer: String,
    /// The (global) next hop.
    pub nexthop: String,
    /// AS_PATH as FRR prints it ("64512 64512"; "" for an empty path).
    pub as_path: String,
    pub origin: String,
    pub med: Option<u64>,
    pub local_pref: Option<u64>,
    /// Standard communities as FRR prints them ("64512:100 no-export").
    pub communities: String,
    /// Large communities ("64512:1:100").
    pub large_communities: String,
    /// Selected as best path.
    pub best: bool,
    /// Used for ECMP (FRR marks every multipath member, including the best one).
    pub multipath: bool,
}

/// A running FRR bgpd.
pub struct Frr<'t> {
    topo: &'t Topology,
    pub node: Node,
    pub config: FrrConfig,
    pid: u32,
    pub log: PathBuf,
    conf: PathBuf,
    zebra_pid: Option<u32>,
    bfdd_pid: Option<u32>,
}

impl<'t> Frr<'t> {
    /// Writes the config and starts FRR's bgpd in `node`'s namespace; returns once vtysh answers.
    pub fn start(topo: &'t Topology, node: &Node, config: FrrConfig) -> Frr<'t> {
        let conf = node.dir.join("frr-bgpd.conf");
        let log = node.dir.join("frr.log");
        fs::write(&conf, config.render(&log)).expect("write FRR config");
        let mut frr = Frr {
            topo,
            node: node.clone(),
            config,
            pid: 0,
            log,
            conf,
            zebra_pid: None,
            bfdd_pid: None,
        };
        frr.spawn();
        frr
    }

    /// zebra, in the router's namespace, with its zserv socket in the node's directory (never
    /// the system's `/var/run/frr/zserv.api`).
    fn spawn_zebra(&mut self) {
        let dir = self.node.dir.display().to_string();
        // zebra and bfdd have no --skip_runas: they drop to the `frr` user (whose groups
        // include the vty group), so their files and sockets live in a directory it owns.
        let _ = Command::new("chown").args(["frr:frr", &dir]).status();
        let zsock = self.node.dir.join("zserv.api").display().to_string();
        let zconf = self.node.dir.join("frr-zebra.conf");
        let zlog = self.node.dir.join("frr-zebra.log");
        fs::write(
            &zconf,
            format!("log file {} informational\n!\n", zlog.display()),
        )
        .expect("write zebra config");
        let _ = fs::remove_file(self.node.dir.join("zebra.vty"));
        let _ = fs::remove_file(&zsock);
        let zpid = self.node.dir.join("frr-zebra.pid").display().to_string();
        let zconf = zconf.display().to_string();
        self.zebra_pid = Some(self.topo.spawn(
            &self.node,
            "frr zebra stdout",
            FRR_ZEBRA,
            &[
                "-f",
                &zconf,
                "-i",
                &zpid,
                "-z",
                &zsock,
                "--vty_socket",
                &dir,
                "-u",
                "frr",
                "-g",
                "frr",
            ],
            &self.node.dir.join("frr-zebra.out"),
        ));
        self.topo.watch_log("frr zebra log", &zlog);
        let ok = wait_until(
            Duration::from_secs(15),
            || self.node.dir.join("zserv.api").exists(),
            |ok| *ok,
        );
        assert!(ok, "zebra in {} did not open its socket", self.node.ns);
    }

    /// bfdd, through zebra (bgpd asks bfdd for sessions through zebra).
    fn spawn_bfdd(&mut self) {
        let dir = self.node.dir.display().to_string();
        let zsock = self.node.dir.join("zserv.api").display().to_string();
        let bconf = self.node.dir.join("frr-bfdd.conf");
        let blog = self.node.dir.join("frr-bfdd.log");
        fs::write(&bconf, self.config.render_bfdd(&blog)).expect("write bfdd config");
        let _ = fs::remove_file(self.node.dir.join("bfdd.vty"));
        let bpid = self.node.dir.join("frr-bfdd.pid").display().to_string();
        let bconf = bconf.display().to_string();
        let bctl = self.node.dir.join("bfdd.sock").display().to_string();
        self.bfdd_pid = Some(self.topo.spawn(
            &self.node,
            "frr bfdd stdout",
            FRR_BFDD,
            &[
                "-f",
                &bconf,
                "-i",
                &bpid,
                "-z",
                &zsock,
                "--vty_socket",
                &dir,
                "--bfdctl",
                &bctl,
                "-u",
                "frr",
                "-g",
                "frr",
            ],
            &self.node.dir.join("frr-bfdd.out"),
        ));
        self.topo.watch_log("frr bfdd log", &blog);
        let ready = wait_until(
            Duration::from_secs(15),
            || self.vtysh_d("bfdd", "show bfd peers json").is_ok(),
            |ok| *ok,
        );
        assert!(ready, "bfdd in {} did not answer vtysh", self.node.ns);
    }

    fn spawn(&mut self) {
        let dir = self.node.dir.display().to_string();
        let conf = self.conf.display().to_string();
        let pidfile = self.node.dir.join("frr-bgpd.pid").display().to_string();
        let out = self.node.dir.join("frr.out");
        let _ = fs::remove_file(self.node.dir.join("bgpd.vty"));
        let zsock = self.node.dir.join("zserv.api").display().to_string();
        // zebra for the kernel FIB (data-plane suite) or for bfdd (BFD).
        let uses_bfd = self.config.uses_bfd();
        let zebra = self.config.zebra || uses_bfd;
        if zebra && self.zebra_pid.is_none() {
            self.spawn_zebra();
        }
        if uses_bfd && self.bfdd_pid.is_none() {
            self.spawn_bfdd();
        }
        let mut args: Vec<&str> = if zebra {
            vec!["-z", &zsock]
        } else {
            vec!["-Z"]
        };
        if !self.config.zebra {
            // Nothing goes to the kernel unless the test asked for zebra's FIB.
            args.push("-n");
        }
        args.extend([
            "-S",
            "-P",
            "0",
            "-f",
            &conf,
            "-i",
            &pidfile,
            "--vty_socket",
            &dir,
        ]);
        self.pid = self
            .topo
            .spawn(&self.node, "frr bgpd stdout", FRR_BGPD, &args, &out);
        self.topo.watch_log("frr log", &self.log);
        let ready = wait_until(
            Duration::from_secs(15),
            || self.vtysh("show bgp summary json").is_ok(),
            |ok| *ok,
        );
        assert!(
            ready,
            "FRR bgpd in {} did not answer vtysh within 15 s",
            self.node.ns
        );
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// zebra's PID, when it runs ([`FrrConfig::zebra`]).
    pub fn zebra_pid(&self) -> Option<u32> {
        self.zebra_pid
    }

    /// Stops FRR (SIGTERM) and starts it again with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stops FRR with SIGTERM (SIGKILL after 5 s).
    pub fn stop(&mut self) {
        self.topo.stop(self.pid, Duration::from_secs(5));
    }

    /// Runs one vtysh command against this router.
    pub fn vtysh(&self, command: &str) -> Result<String, String> {
        self.vtysh_d("bgpd", command)
    }

    /// `show bfd peers json` from bfdd: one object per session (`peer`, `status`,
    /// `transmit-interval`, `receive-interval`, `uptime`, ...).
    pub fn bfd_peers(&self) -> Vec<Value> {
        self.vtysh_d("bfdd", "show bfd peers json")
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// bfdd's session with `addr` (`Null` if none).
    pub fn bfd_peer(&self, addr: IpAddr) -> Value {
        self.bfd_peers()
            .into_iter()
            .find(|p| p.get("peer").and_then(Value::as_str) == Some(&addr.to_string()))
            .unwrap_or(Value::Null)
    }

    /// The bfdd PID, when it runs.
    pub fn bfdd_pid(&self) -> Option<u32> {
        self.bfdd_pid
    }

    /// Runs one vtysh command against `daemon` ("bgpd", "bfdd", "zebra").
    pub fn vtysh_d(&self, daemon: &str, command: &str) -> Result<String, String> {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.node.dir)
            .args(["-d", daemon, "-c", command])
            .output()
            .map_err(|e| format!("cannot run vtysh: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Runs configuration commands (`conf t` is implied).
    pub fn configure(&self, commands: &[&str]) {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket").arg(&self.node.dir).args([
            "-d",
            "bgpd",
            "-c",
            "configure terminal",
        ]);
        for c in commands {
            cmd.args(["-c", c]);
        }
        let out = cmd.output().expect("run vtysh");
        assert!(
            out.status.success(),
            "vtysh {commands:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// Runs a `... json` command; `Value::Null` when vtysh fails or prints no JSON.
    pub fn json(&self, command: &str) -> Value {
        self.vtysh(command)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null)
    }

    /// `show bgp neighbors ADDR json`, the object for that neighbor (`Null` if unknown).
    pub fn neighbor(&self, addr: IpAddr) -> Value {
        let v = self.json(&format!("show bgp neighbors {addr} json"));
        v.get(addr.to_string()).cloned().unwrap_or(Value::Null)
    }

    /// The FSM state FRR reports for a neighbor ("Established", "Active", ...; "" if unknown).
    pub fn state(&self, addr: IpAddr) -> String {
        str_of(&self.neighbor(addr), "bgpState")
    }

    /// Waits up to `timeout` for the session with `addr` to be Established; returns the state.
    pub fn wait_established(&self, addr: IpAddr, timeout: Duration) -> String {
        wait_until(timeout, || self.state(addr), |s| s == "Established")
    }

    /// Every prefix in FRR's BGP table of the family (`v6`), from any peer.
    pub fn prefixes(&self, v6: bool) -> BTreeSet<String> {
        let afi = if v6 { "ipv6" } else { "ipv4" };
        let v = self.json(&format!("show bgp {afi} unicast json"));
        match v.get("routes").and_then(Value::as_object) {
            Some(routes) => routes.keys().cloned().collect(),
            None => BTreeSet::new(),
        }
    }

    /// Every path of `prefix`, sorted.
    pub fn paths(&self, prefix: &str) -> Vec<FrrPath> {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let v = self.json(&format!("show bgp {afi} unicast {prefix} json"));
        let mut paths: Vec<FrrPath> = v
            .get("paths")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(parse_path).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    }

    /// The whole table of a family: prefix -> sorted paths (one vtysh call per prefix; keep the
    /// table small, or use [`Frr::prefixes`]).
    pub fn table(&self, v6: bool) -> BTreeMap<String, Vec<FrrPath>> {
        self.prefixes(v6)
            .into_iter()
            .map(|p| {
                let paths = self.paths(&p);
                (p, paths)
            })
            .collect()
    }

    /// The FRR log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn parse_path(p: &Value) -> FrrPath {
    let nexthop = p
        .get("nexthops")
        .and_then(Value::as_array)
        .and_then(|nhs| {
            nhs.iter()
                .find(|nh| nh.get("scope").and_then(Value::as_str) != Some("link-local"))
                .or_else(|| nhs.first())
        })
        .map(|nh| str_of(nh, "ip"))
        .unwrap_or_default();
    FrrPath {
        peer: p
            .get("peer")
            .map(|peer| str_of(peer, "peerId"))
            .unwrap_or_default(),
        nexthop,
        as_path: p
            .get("aspath")
            .map(|a| str_of(a, "string"))
            .unwrap_or_default(),
        origin: str_of(p, "origin"),
        med: p.get("metric").and_then(Value::as_u64),
        local_pref: p.get("locPrf").and_then(Value::as_u64),
        communities: p
            .get("community")
            .map(|c| str_of(c, "string"))
            .unwrap_or_default(),
        large_communities: p
            .get("largeCommunity")
            .map(|c| str_of(c, "string"))
            .unwrap_or_default(),
        best: p
            .get("bestpath")
            .and_then(|b| b.get("overall"))
            .and_then(Value::as_bool)
            == Some(true),
        multipath: p.get("multipath").and_then(Value::as_bool) == Some(true),
    }
}

/// A string field of a JSON object ("" when absent or not a string).
pub fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
