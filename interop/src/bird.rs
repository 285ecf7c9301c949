//! BIRD 2 run in the foreground inside a namespace (`bird -f -c CONF -s CTLSOCK -P PIDFILE`) and
//! queried with `birdc -s CTLSOCK`, whose text output is parsed here.
//!
//! BIRD needs `protocol device` to learn interfaces (without it no next hop is reachable). Its
//! error wait time (60 s by default after a session error) is cut to 1 s so that reconnection
//! scenarios stay short.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::topo::{Node, Topology};
use crate::wait::wait_until;

/// The BIRD daemon binary from Debian's `bird2` package.
pub const BIRD: &str = "/usr/sbin/bird";

/// One `protocol bgp` of a BIRD router.
#[derive(Debug, Clone)]
pub struct BirdNeighbor {
    /// Protocol name, used in `show protocols` and as the route source.
    pub name: String,
    pub address: IpAddr,
    pub remote_as: u32,
    /// Hold time in seconds; keepalive is a third of it.
    pub hold_time: u16,
    pub password: Option<String>,
    pub ipv4: bool,
    pub ipv6: bool,
    /// `add paths rx` (RFC 7911).
    pub add_path_rx: bool,
    /// Export every route of the table to this neighbor (used by the harness self-test).
    pub export_all: bool,
    pub passive: bool,
    pub extended_next_hop: bool,
    /// `bfd on`: BFD for this session, from the `protocol bfd` of [`BirdConfig::bfd`].
    pub bfd: bool,
    /// `graceful restart on` (BIRD's default is `aware`).
    pub graceful_restart: bool,
}

impl BirdNeighbor {
    pub fn new(name: &str, address: IpAddr, remote_as: u32) -> BirdNeighbor {
        BirdNeighbor {
            name: name.to_string(),
            address,
            remote_as,
            hold_time: 9,
            password: None,
            ipv4: address.is_ipv4(),
            ipv6: address.is_ipv6(),
            add_path_rx: false,
            extended_next_hop: false,
            export_all: false,
            passive: false,
            bfd: false,
            graceful_restart: false,
        }
    }

    /// `bfd on` (RFC 5882: BGP goes down with the BFD session, graceful restart or not).
    pub fn bfd(mut self) -> Self {
        self.bfd = true;
        self
    }

    pub fn graceful_restart(mut self) -> Self {
        self.graceful_restart = true;
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

    pub fn add_path_rx(mut self) -> Self {
        self.add_path_rx = true;
        self
    }

    pub fn export_all(mut self) -> Self {
        self.export_all = true;
        self
    }

    /// RFC 8950 on the IPv4 channel (`extended next hop on`): IPv4 routes with an IPv6 next
    /// hop over an IPv6 session.
    pub fn extended_next_hop(mut self) -> Self {
        self.extended_next_hop = true;
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }
}

/// A BIRD router configuration.
#[derive(Debug, Clone)]
pub struct BirdConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub neighbors: Vec<BirdNeighbor>,
    /// Static routes `(prefix, via)` this router originates.
    pub statics: Vec<(String, IpAddr)>,
    /// `protocol bfd` with `(min rx ms, min tx ms, multiplier)` on every interface.
    pub bfd: Option<(u32, u32, u8)>,
}

impl BirdConfig {
    pub fn new(asn: u32, router_id: Ipv4Addr) -> BirdConfig {
        BirdConfig {
            asn,
            router_id,
            neighbors: Vec::new(),
            statics: Vec::new(),
            bfd: None,
        }
    }

    /// Runs `protocol bfd` with these intervals (milliseconds) and multiplier.
    pub fn bfd(mut self, min_rx_ms: u32, min_tx_ms: u32, multiplier: u8) -> Self {
        self.bfd = Some((min_rx_ms, min_tx_ms, multiplier));
        self
    }

    pub fn neighbor(mut self, n: BirdNeighbor) -> Self {
        self.neighbors.push(n);
        self
    }

    pub fn static_route(mut self, prefix: &str, via: IpAddr) -> Self {
        self.statics.push((prefix.to_string(), via));
        self
    }

    /// Renders `bird.conf`, logging to `log`.
    pub fn render(&self, log: &std::path::Path) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "router id {};", self.router_id);
        let _ = writeln!(s, "log \"{}\" all;", log.display());
        let _ = writeln!(s, "debug protocols {{ states, events }};");
        let _ = writeln!(s, "timeformat protocol iso long ms;");
        let _ = writeln!(s, "timeformat route iso long ms;");
        let _ = writeln!(s, "protocol device {{ scan time 1; }}");
        for (i, (prefix, via)) in self.statics.iter().enumerate() {
            let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
            let _ = writeln!(
                s,
                "protocol static static{i} {{ {family}; route {prefix} via {via}; }}"
            );
        }
        if let Some((rx, tx, mult)) = self.bfd {
            let _ = writeln!(
                s,
                "protocol bfd {{ interface \"*\" {{ min rx interval {rx} ms; \
                 min tx interval {tx} ms; idle tx interval 1000 ms; multiplier {mult}; }}; }}"
            );
        }
        for n in &self.neighbors {
            let ibgp = n.remote_as == self.asn;
            let _ = writeln!(s, "protocol bgp {} {{", n.name);
            let _ = writeln!(s, "  local as {};", self.asn);
            let _ = writeln!(s, "  neighbor {} as {};", n.address, n.remote_as);
            let _ = writeln!(s, "  hold time {};", n.hold_time);
            let _ = writeln!(s, "  keepalive time {};", (n.hold_time / 3).max(1));
            let _ = writeln!(s, "  connect delay time 1;");
            let _ = writeln!(s, "  connect retry time 2;");
            let _ = writeln!(s, "  error wait time 1, 4;");
            if let Some(p) = &n.password {
                let _ = writeln!(s, "  password \"{p}\";");
            }
            if n.passive {
                let _ = writeln!(s, "  passive on;");
            }
            if n.bfd {
                let _ = writeln!(s, "  bfd on;");
            }
            if n.graceful_restart {
                let _ = writeln!(s, "  graceful restart on;");
            }
            if ibgp {
                // BIRD treats iBGP as multihop by default; our peers share the LAN, and next hops
                // are resolved directly on it (no IGP would resolve them recursively).
                let _ = writeln!(s, "  direct;");
            }
            for (family, on) in [("ipv4", n.ipv4), ("ipv6", n.ipv6)] {
                if !on {
                    continue;
                }
                let export = if n.export_all { "all" } else { "none" };
                let _ = write!(s, "  {family} {{ import all; export {export};");
                if n.add_path_rx {
                    let _ = write!(s, " add paths rx;");
                }
                if n.extended_next_hop && family == "ipv4" {
                    let _ = write!(s, " extended next hop on;");
                }
                let _ = writeln!(s, " }};");
            }
            let _ = writeln!(s, "}}");
        }
        s
    }
}

/// One route (path) in BIRD's table, from `show route all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct BirdRoute {
    pub prefix: String,
    /// Protocol the route came from (a `protocol bgp` name).
    pub proto: String,
    /// `BGP.next_hop` (global address only).
    pub nexthop: String,
    /// `BGP.as_path` ("64512 64512"; "" for an empty path).
    pub as_path: String,
    pub med: Option<u64>,
    pub local_pref: Option<u64>,
    /// `BGP.community` as BIRD prints it: "(64512,100) (65535,65281)".
    pub communities: String,
    /// `BGP.large_community`: "(64512, 1, 100)".
    pub large_communities: String,
    /// Marked `*` (preferred).
    pub primary: bool,
    /// Resolved gateway (`via X on eth0`); "" when unreachable.
    pub via: String,
}

/// One line of `show bfd sessions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BirdBfdSession {
    pub address: String,
    pub interface: String,
    /// "Up", "Down", "Init", "AdminDown".
    pub state: String,
    /// When the state last changed.
    pub since: String,
    /// The transmit interval in use, seconds.
    pub interval: f64,
    /// The Detection Time, seconds.
    pub timeout: f64,
}

/// Parses `show bfd sessions`:
/// `10.255.1.2  eth0  Up  2024-01-01 12:00:00.000  0.100  0.300` (the Since column is one
/// or two words, per `timeformat`).
pub fn parse_bfd_sessions(text: &str) -> Vec<BirdBfdSession> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 6 || w[0].parse::<IpAddr>().is_err() {
                return None;
            }
            let n = w.len();
            Some(BirdBfdSession {
                address: w[0].to_string(),
                interface: w[1].to_string(),
                state: w[2].to_string(),
                since: w[3..n - 2].join(" "),
                interval: w[n - 2].parse().ok()?,
                timeout: w[n - 1].parse().ok()?,
            })
        })
        .collect()
}

/// Protocol status from `show protocols all NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BirdProtocol {
    /// BIRD's protocol state ("up", "start").
    pub state: String,
    /// The "Since" column: when the state last changed.
    pub since: String,
    /// The "Info" column ("Established", "Active  Received: Administrative shutdown").
    pub info: String,
    /// "BGP state:" ("Established", "Active", "Connect").
    pub bgp_state: String,
    /// The shutdown communication received (RFC 9003), from the "Message:" line.
    pub message: String,
    /// Negotiated hold time, from "Hold timer: 5.864/9".
    pub hold_time: Option<u32>,
}

/// A running BIRD.
pub struct Bird<'t> {
    topo: &'t Topology,
    pub node: Node,
    pub config: BirdConfig,
    pid: u32,
    pub log: PathBuf,
    conf: PathBuf,
    ctl: PathBuf,
}

impl<'t> Bird<'t> {
    /// Writes the config and starts BIRD in `node`'s namespace; returns once birdc answers.
    pub fn start(topo: &'t Topology, node: &Node, config: BirdConfig) -> Bird<'t> {
        let conf = node.dir.join("bird.conf");
        let log = node.dir.join("bird.log");
        let ctl = node.dir.join("bird.ctl");
        fs::write(&conf, config.render(&log)).expect("write BIRD config");
        let mut bird = Bird {
            topo,
            node: node.clone(),
            config,
            pid: 0,
            log,
            conf,
            ctl,
        };
        bird.spawn();
        bird
    }

    fn spawn(&mut self) {
        let conf = self.conf.display().to_string();
        let ctl = self.ctl.display().to_string();
        let pidfile = self.node.dir.join("bird.pid").display().to_string();
        let out = self.node.dir.join("bird.out");
        let _ = fs::remove_file(&self.ctl);
        self.pid = self.topo.spawn(
            &self.node,
            "bird stdout",
            BIRD,
            &["-f", "-c", &conf, "-s", &ctl, "-P", &pidfile],
            &out,
        );
        self.topo.watch_log("bird log", &self.log);
        let ready = wait_until(
            Duration::from_secs(15),
            || self.birdc("show status").is_ok(),
            |ok| *ok,
        );
        assert!(
            ready,
            "BIRD in {} did not answer birdc within 15 s",
            self.node.ns
        );
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops BIRD (SIGTERM) and starts it again with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn stop(&mut self) {
        self.topo.stop(self.pid, Duration::from_secs(5));
    }

    /// Runs one birdc command; the output without the "BIRD x.y ready." banner.
    pub fn birdc(&self, command: &str) -> Result<String, String> {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(&self.ctl)
            .args(command.split_whitespace())
            .output()
            .map_err(|e| format!("cannot run birdc: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || !text.starts_with("BIRD ") {
            return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(text.lines().skip(1).collect::<Vec<_>>().join("\n"))
    }

    /// `show bfd sessions`: one entry per session.
    pub fn bfd_sessions(&self) -> Vec<BirdBfdSession> {
        self.birdc("show bfd sessions")
            .map(|t| parse_bfd_sessions(&t))
            .unwrap_or_default()
    }

    /// The BFD session with `address` (None when BIRD has none).
    pub fn bfd_session(&self, address: IpAddr) -> Option<BirdBfdSession> {
        self.bfd_sessions()
            .into_iter()
            .find(|s| s.address == address.to_string())
    }

    /// `show protocols all NAME`, parsed (default when unknown).
    pub fn protocol(&self, name: &str) -> BirdProtocol {
        self.birdc(&format!("show protocols all {name}"))
            .map(|t| parse_protocol(&t))
            .unwrap_or_default()
    }

    /// The BGP state of protocol `name` ("Established", "Active", ...).
    pub fn state(&self, name: &str) -> String {
        self.protocol(name).bgp_state
    }

    /// Waits up to `timeout` for protocol `name` to be Established; returns the state.
    pub fn wait_established(&self, name: &str, timeout: Duration) -> String {
        wait_until(timeout, || self.state(name), |s| s == "Established")
    }

    /// Every route BIRD learned from protocol `proto` (both tables), sorted.
    pub fn routes(&self, proto: &str) -> Vec<BirdRoute> {
        let text = self
            .birdc(&format!("show route all protocol {proto}"))
            .unwrap_or_default();
        let mut routes = parse_routes(&text);
        routes.sort();
        routes
    }

    /// The set of prefixes learned from `proto` (cheap: no attributes), sorted and deduplicated.
    pub fn prefixes(&self, proto: &str) -> std::collections::BTreeSet<String> {
        let text = self
            .birdc(&format!("show route protocol {proto}"))
            .unwrap_or_default();
        text.lines()
            .filter(|l| !l.starts_with(char::is_whitespace) && !l.starts_with("Table "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Parses `show route all` output (banner already removed).
pub fn parse_routes(text: &str) -> Vec<BirdRoute> {
    let mut routes: Vec<BirdRoute> = Vec::new();
    let mut prefix = String::new();
    for line in text.lines() {
        if line.starts_with("Table ") || line.trim().is_empty() {
            continue;
        }
        if let Some(attr) = line.strip_prefix('\t') {
            let Some(r) = routes.last_mut() else { continue };
            let attr = attr.trim();
            if let Some(v) = attr.strip_prefix("via ") {
                r.via = v.split_whitespace().next().unwrap_or_default().to_string();
            } else if let Some((key, value)) = attr.split_once(": ") {
                let value = value.trim();
                match key {
                    "BGP.next_hop" => {
                        r.nexthop = value.split_whitespace().next().unwrap_or("").into()
                    }
                    "BGP.as_path" => r.as_path = value.to_string(),
                    "BGP.med" => r.med = value.parse().ok(),
                    "BGP.local_pref" => r.local_pref = value.parse().ok(),
                    "BGP.community" => r.communities = value.to_string(),
                    "BGP.large_community" => r.large_communities = value.to_string(),
                    _ => {}
                }
            }
            continue;
        }
        // A route line: "PREFIX  unicast [proto time ...] * (100) [AS64512i]", or the same without
        // PREFIX (indented) for a further path of the previous prefix.
        let mut words = line.split_whitespace();
        if !line.starts_with(char::is_whitespace) {
            prefix = words.next().unwrap_or_default().to_string();
        }
        let rest: Vec<&str> = words.collect();
        let proto = rest
            .iter()
            .find_map(|w| w.strip_prefix('['))
            .unwrap_or_default()
            .to_string();
        let primary = rest.contains(&"*");
        routes.push(BirdRoute {
            prefix: prefix.clone(),
            proto,
            primary,
            ..BirdRoute::default()
        });
    }
    routes
}

/// Parses `show protocols all NAME` output (banner already removed).
pub fn parse_protocol(text: &str) -> BirdProtocol {
    let mut p = BirdProtocol::default();
    let mut lines = text.lines();
    // Header "Name Proto Table State Since Info", then the protocol's summary line.
    let _ = lines.next();
    if let Some(summary) = lines.next() {
        let words: Vec<&str> = summary.split_whitespace().collect();
        p.state = words.get(3).copied().unwrap_or_default().to_string();
        // "Since" is two words with `timeformat protocol iso long ms` (date and time).
        p.since = words.get(4..6).map(|w| w.join(" ")).unwrap_or_default();
        p.info = words.get(6..).map(|w| w.join(" ")).unwrap_or_default();
    }
    for line in lines {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("BGP state:") {
            p.bgp_state = v.trim().to_string();
        } else if let Some(v) = t.strip_prefix("Message:") {
            p.message = v.trim().to_string();
        } else if let Some(v) = t.strip_prefix("Hold timer:") {
            p.hold_time = v.trim().rsplit('/').next().and_then(|h| h.parse().ok());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from BIRD 2.0.12 (`show route all`), three paths of one prefix plus one BGP route.
    const ROUTES: &str = "Table master4:
198.51.100.1/32      unicast [r1 11:30:18.622] * (100) [AS64500i]
\tvia 10.255.9.1 on eth0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 64500 64500
\tBGP.next_hop: 10.255.9.1
\tBGP.med: 10
\tBGP.local_pref: 100
\tBGP.community: (64512,100) (65535,65281)
\tBGP.large_community: (64512, 1, 100)
192.0.2.10/32        unicast [s1 11:30:16.582] * (200)
\tvia 10.255.9.2 on eth0
\tType: static univ
                     unicast [s2 11:30:16.582] (200)
\tvia 10.255.9.3 on eth0
\tType: static univ";

    #[test]
    fn parses_paths_and_attributes() {
        let r = parse_routes(ROUTES);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            BirdRoute {
                prefix: "198.51.100.1/32".into(),
                proto: "r1".into(),
                nexthop: "10.255.9.1".into(),
                as_path: "64500 64500".into(),
                med: Some(10),
                local_pref: Some(100),
                communities: "(64512,100) (65535,65281)".into(),
                large_communities: "(64512, 1, 100)".into(),
                primary: true,
                via: "10.255.9.1".into(),
            }
        );
        assert_eq!(
            (r[2].prefix.as_str(), r[2].proto.as_str(), r[2].primary),
            ("192.0.2.10/32", "s2", false)
        );
        assert_eq!(r[2].via, "10.255.9.3");
    }

    #[test]
    fn parses_protocol_status() {
        let text = "Name       Proto      Table      State  Since         Info
r1         BGP        ---        start  2026-11-22 11:29:24.649  Active        Received: Administrative shutdown
  Message:        bgpd shutting down
  BGP state:          Active
    Neighbor address: 10.255.9.1
    Hold timer:       5.864/9";
        let p = parse_protocol(text);
        assert_eq!(p.state, "start");
        assert_eq!(p.since, "2026-11-22 11:29:24.649");
        assert_eq!(p.info, "Active Received: Administrative shutdown");
        assert_eq!(p.bgp_state, "Active");
        assert_eq!(p.message, "bgpd shutting down");
        assert_eq!(p.hold_time, Some(9));
    }
}
