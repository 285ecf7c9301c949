//! The four senders, each told about its N routes in its own bulk way (preparation, such as
//! writing files, happens before the clock starts; [`Sender::apply`] is what is timed):
//!
//! | sender | announce | withdraw |
//! | --- | --- | --- |
//! | bgpd | `bgpctl announce --file` (N prefixes) | `bgpctl withdraw --file` |
//! | bgpd-sighup | config with N `[[services]]` (name, prefix, two next hops, communities, large community, MED, prepend, peers), SIGHUP | config without services, SIGHUP |
//! | BIRD | `protocol static` with N `blackhole` routes carrying the same attributes, `birdc configure` | same protocol empty, `birdc configure` |
//! | BIRD-addpath | as BIRD, plus each route's second path (the same attributes, bgpd-sighup's second next hop, from 250 more static protocols) sent with `add paths tx`: bgpd-sighup's paths on the wire | the protocols emptied, `birdc configure` |
//! | FRR | `vtysh -f FILE` with N `network` lines | `vtysh -f FILE` with N `no network` lines |
//! | GoBGP | `gobgp mrt inject global FILE` (TABLE_DUMP_V2 with N entries; the missing tail re-injected, see [`Sender::apply`]) | `gobgp global rib del all -a ipv4` |

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use interop::{Frr, FrrConfig, FrrNeighbor, Node, Topology};

use super::{poll_until, route, run, run_in, sibling_binary};

/// Padding entries at the end of GoBGP's MRT file (see [`Sender::gobgp_inject`]).
const GOBGP_PAD: u32 = 256;

/// Which implementation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// bgpd told with one bulk `bgpctl announce --file` / `withdraw --file`.
    Bgpd,
    /// bgpd told with a rewritten configuration file and SIGHUP.
    BgpdSighup,
    Bird,
    /// BIRD sending two paths per prefix with ADD-PATH, as bgpd-sighup's two next hops do.
    BirdAddPath,
    Frr,
    Gobgp,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Bgpd,
        Kind::BgpdSighup,
        Kind::Bird,
        Kind::BirdAddPath,
        Kind::Frr,
        Kind::Gobgp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Bgpd => "bgpd",
            Kind::BgpdSighup => "bgpd-sighup",
            Kind::Bird => "BIRD",
            Kind::BirdAddPath => "BIRD-addpath",
            Kind::Frr => "FRR",
            Kind::Gobgp => "GoBGP",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The sender's AS (each differs, so a receiver log tells them apart).
    pub fn asn(self) -> u32 {
        match self {
            Kind::Bgpd => 65001,
            Kind::BgpdSighup => 65005,
            Kind::Bird => 65002,
            Kind::BirdAddPath => 65006,
            Kind::Frr => 65003,
            Kind::Gobgp => 65004,
        }
    }

    /// Paths per prefix the receiver gets from this sender: two for bgpd-sighup (unless
    /// `ROUTERS_SIGHUP_NEXTHOPS=1`) and BIRD-addpath where the receiver takes ADD-PATH (FRR
    /// offers to receive it; the BIRD receiver does not), one otherwise. The clock stops
    /// when the receiver has all of them.
    pub fn paths_per_prefix(self, receiver_add_path: bool) -> u32 {
        match self {
            Kind::BgpdSighup if receiver_add_path => sighup_nexthops(),
            Kind::BirdAddPath if receiver_add_path => 2,
            _ => 1,
        }
    }
}

/// Next hops per bgpd-sighup service: `ROUTERS_SIGHUP_NEXTHOPS` (`1`), else two.
pub fn sighup_nexthops() -> u32 {
    match std::env::var("ROUTERS_SIGHUP_NEXTHOPS") {
        Ok(v) if v.trim() == "1" => 1,
        _ => 2,
    }
}

/// A change the sender is told about: announce N routes, or withdraw them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Announce(u32),
    WithdrawAll(u32),
}

/// A running sender in its own namespace, passive towards the receiver (the receiver
/// connects, so that the session start can be triggered from the receiver).
pub struct Sender<'t> {
    pub kind: Kind,
    node: Node,
    peer: Ipv4Addr,
    peer_as: u32,
    pid: u32,
    conf: PathBuf,
    ctl: PathBuf,
    topo: &'t Topology,
    frr: Option<Frr<'t>>,
}

impl<'t> Sender<'t> {
    /// Starts the sender with no routes and a passive session towards `peer`.
    pub fn start(
        kind: Kind,
        topo: &'t Topology,
        node: &Node,
        peer: Ipv4Addr,
        peer_as: u32,
    ) -> Result<Sender<'t>, String> {
        let mut s = Sender {
            kind,
            node: node.clone(),
            peer,
            peer_as,
            pid: 0,
            conf: PathBuf::new(),
            ctl: node.dir.join("ctl.sock"),
            topo,
            frr: None,
        };
        match kind {
            Kind::Bgpd | Kind::BgpdSighup => {
                s.conf = node.dir.join("bgpd.toml");
                fs::write(&s.conf, s.bgpd_config(0)).map_err(|e| e.to_string())?;
                let bin = sibling_binary("bgpd", "BGPD_BIN").display().to_string();
                let conf = s.conf.display().to_string();
                let log = node.dir.join("bgpd.log");
                // Info level: one line per session change, nothing per route.
                s.pid = topo.spawn(node, "bgpd", &bin, &["run", "-c", &conf], &log);
            }
            Kind::Bird | Kind::BirdAddPath => {
                s.conf = node.dir.join("bird.conf");
                fs::write(&s.conf, s.bird_config(0)).map_err(|e| e.to_string())?;
                let conf = s.conf.display().to_string();
                let ctl = s.ctl.display().to_string();
                let pidfile = node.dir.join("bird.pid").display().to_string();
                let out = node.dir.join("bird.out");
                s.pid = topo.spawn(
                    node,
                    "bird sender",
                    interop::bird::BIRD,
                    &["-f", "-c", &conf, "-s", &ctl, "-P", &pidfile],
                    &out,
                );
                poll_until(
                    Duration::from_secs(15),
                    || run("birdc", &["-s", &ctl, "show", "status"]).is_ok(),
                    |ok| *ok,
                )
                .map_err(|(e, _)| format!("BIRD sender did not answer birdc: {e}"))?;
            }
            Kind::Frr => {
                let config = FrrConfig::new(kind.asn(), node.ipv4).neighbor(
                    FrrNeighbor::new(IpAddr::V4(peer), peer_as)
                        .hold_time(90)
                        .passive(),
                );
                let frr = Frr::start(topo, node, config);
                s.pid = frr.pid();
                s.frr = Some(frr);
                s.conf = node.dir.join("frr-routes.conf");
            }
            Kind::Gobgp => {
                s.conf = node.dir.join("gobgpd.toml");
                fs::write(&s.conf, s.gobgp_config()).map_err(|e| e.to_string())?;
                let conf = s.conf.display().to_string();
                let out = node.dir.join("gobgpd.log");
                s.pid = topo.spawn(
                    node,
                    "gobgpd",
                    "/usr/bin/gobgpd",
                    &[
                        "-f",
                        &conf,
                        "-p",
                        "-l",
                        "warn",
                        "--api-hosts",
                        "127.0.0.1:50051",
                        "--pprof-disable",
                    ],
                    &out,
                );
                let ns = node.ns.clone();
                poll_until(
                    Duration::from_secs(15),
                    || run_in(&ns, "gobgp", &["global"]).is_ok(),
                    |ok| *ok,
                )
                .map_err(|(e, _)| format!("gobgpd did not answer its API: {e}"))?;
            }
        }
        Ok(s)
    }

    /// The daemon's PID (the process whose RSS and CPU are reported).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes what [`Sender::apply`] needs (config, command or MRT file); not timed.
    pub fn prepare(&self, change: Change) -> Result<(), String> {
        let write = |text: &[u8]| fs::write(&self.conf, text).map_err(|e| e.to_string());
        match (self.kind, change) {
            (Kind::Bgpd, Change::Announce(n) | Change::WithdrawAll(n)) => {
                let mut text = String::with_capacity(n as usize * 16);
                for i in 0..n {
                    let _ = writeln!(text, "{}/32", route(i));
                }
                fs::write(self.prefix_file(), text).map_err(|e| e.to_string())
            }
            (Kind::BgpdSighup, Change::Announce(n)) => write(self.bgpd_config(n).as_bytes()),
            (Kind::BgpdSighup, Change::WithdrawAll(_)) => write(self.bgpd_config(0).as_bytes()),
            (Kind::Bird | Kind::BirdAddPath, Change::Announce(n)) => {
                write(self.bird_config(n).as_bytes())
            }
            (Kind::Bird | Kind::BirdAddPath, Change::WithdrawAll(_)) => {
                write(self.bird_config(0).as_bytes())
            }
            (Kind::Frr, Change::Announce(n)) => write(self.frr_networks(n, false).as_bytes()),
            (Kind::Frr, Change::WithdrawAll(n)) => write(self.frr_networks(n, true).as_bytes()),
            (Kind::Gobgp, Change::Announce(n)) => {
                let addr = self.node.ipv4;
                // N routes, then GOBGP_PAD copies of the first ones (see `gobgp_inject`).
                write(&super::mrt::table_dump(
                    (0..n).chain(0..GOBGP_PAD.min(n)).map(route),
                    addr,
                    self.kind.asn(),
                    addr,
                ))
            }
            (Kind::Gobgp, Change::WithdrawAll(_)) => Ok(()),
        }
    }

    /// Tells the sender about the prepared change; returns when the command returned.
    pub fn apply(&self, change: Change) -> Result<(), String> {
        let conf = self.conf.display().to_string();
        match (self.kind, change) {
            (Kind::Bgpd, change) => {
                let bgpctl = sibling_binary("bgpctl", "BGPCTL_BIN").display().to_string();
                let ctl = self.ctl.display().to_string();
                let file = self.prefix_file().display().to_string();
                let verb = match change {
                    Change::Announce(_) => "announce",
                    Change::WithdrawAll(_) => "withdraw",
                };
                run(&bgpctl, &["--socket", &ctl, verb, "--file", &file]).map(|_| ())
            }
            (Kind::BgpdSighup, _) => {
                self.topo.signal(self.pid, libc::SIGHUP);
                Ok(())
            }
            (Kind::Bird | Kind::BirdAddPath, _) => {
                let ctl = self.ctl.display().to_string();
                let out = run("birdc", &["-s", &ctl, "configure"])?;
                if out.contains("Reconfigur") {
                    Ok(())
                } else {
                    Err(format!("birdc configure: {}", out.trim()))
                }
            }
            (Kind::Frr, _) => {
                let dir = self.node.dir.display().to_string();
                run("vtysh", &["--vty_socket", &dir, "-d", "bgpd", "-f", &conf]).map(|_| ())
            }
            (Kind::Gobgp, Change::Announce(n)) => self.gobgp_inject(&conf, n),
            (Kind::Gobgp, Change::WithdrawAll(_)) => run_in(
                &self.node.ns,
                "gobgp",
                &["global", "rib", "del", "all", "-a", "ipv4"],
            )
            .map(|_| ()),
        }
    }

    /// `gobgp mrt inject global FILE COUNT SKIP` until gobgpd's RIB holds all `n` routes.
    ///
    /// The GoBGP 3.10 CLI returns before gobgpd has taken every path of its stream: a tail of
    /// the file (always the last path, often 5-40 % of the file in our tests) never reaches
    /// the RIB. gobgpd takes the paths in file order, so what is missing is a suffix. The file
    /// therefore ends with [`GOBGP_PAD`] copies of already-sent routes (re-adding an identical
    /// path changes nothing at the receiver), and a missing suffix is injected again until
    /// the RIB is complete.
    fn gobgp_inject(&self, conf: &str, n: u32) -> Result<(), String> {
        let ns = &self.node.ns;
        let rib_count = || -> Result<u32, String> {
            let out = run_in(ns, "gobgp", &["global", "rib", "summary", "-a", "ipv4"])?;
            Ok(out
                .split("Destination:")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(0))
        };
        let mut have = 0u32;
        for call in 1..=100 {
            let count = (n - have + GOBGP_PAD.min(n)).to_string();
            let skip = have.to_string();
            run_in(
                ns,
                "gobgp",
                &["mrt", "inject", "global", conf, &count, &skip],
            )?;
            // Wait until gobgpd has finished taking what it received (two equal counts).
            let mut last = u32::MAX;
            loop {
                let c = rib_count()?;
                if c == last || c >= n {
                    have = c;
                    break;
                }
                last = c;
                std::thread::sleep(Duration::from_millis(20));
            }
            if have >= n {
                if call > 1 {
                    eprintln!("    gobgp mrt inject: {call} calls for {n} routes");
                }
                return Ok(());
            }
        }
        Err(format!(
            "gobgp mrt inject: RIB has {have} of {n} routes after 100 calls"
        ))
    }

    /// bgpd's bulk announce/withdraw list: one prefix per line.
    fn prefix_file(&self) -> PathBuf {
        self.node.dir.join("prefixes.txt")
    }

    fn bgpd_config(&self, n: u32) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "[global]\nasn = {}", self.kind.asn());
        let _ = writeln!(s, "router_id = \"{}\"", self.node.ipv4);
        let _ = writeln!(s, "listen = [\"{}:179\"]", self.node.ipv4);
        let _ = writeln!(s, "hold_time = 90\nconnect_retry = 1");
        let _ = writeln!(s, "control_socket = \"{}\"", self.ctl.display());
        if let Some(dir) = self.ctl.parent() {
            let _ = writeln!(s, "state_dir = \"{}\"", dir.join("state").display());
        }
        let _ = writeln!(s, "\n[[peers]]\nname = \"rx\"");
        let _ = writeln!(s, "address = \"{}\"\nasn = {}", self.peer, self.peer_as);
        let _ = writeln!(s, "passive = true\nfamilies = [\"ipv4-unicast\"]");
        // The services have two next hops: one path each where the receiver takes ADD-PATH.
        let _ = writeln!(s, "add_path = true");
        // `ROUTERS_SIGHUP_NEXTHOPS=1`: one next hop per service, so that bgpd sends one path
        // per prefix, as BIRD does (a cross-check of the memory comparison).
        let one_nexthop = sighup_nexthops() == 1;
        for i in 0..n {
            let nexthops = if one_nexthop {
                "\"self\"".to_string()
            } else {
                format!("\"self\", \"{}\"", second_nexthop(i))
            };
            // Every documented [[services]] key that makes sense without a health check, as
            // a real file would have them (issue 14 item 6); `local_pref` is left out (iBGP
            // only, a warning here). BIRD's config carries the same attributes.
            let _ = writeln!(
                s,
                "\n[[services]]\nname = \"svc-{i}\"\nprefix = \"{}/32\"\n\
                 nexthops = [{nexthops}]\ncommunities = [\"{asn}:100\", \"no-export\"]\n\
                 large_communities = [\"{asn}:1:1\"]\nmed = 10\nas_path_prepend = 1\n\
                 peers = [\"rx\"]",
                route(i),
                asn = self.kind.asn(),
            );
        }
        s
    }

    fn bird_config(&self, n: u32) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "router id {};", self.node.ipv4);
        let _ = writeln!(
            s,
            "log \"{}\" {{ info, warning, error, fatal }};",
            self.node.dir.join("bird.log").display()
        );
        let _ = writeln!(s, "protocol device {{ scan time 10; }}");
        // The attributes of bgpd-sighup's services (see `bgpd_config`), set once for all routes
        // as a BIRD user would (per-route blocks made BIRD's reload 3x slower).
        let asn = self.kind.asn();
        let attrs = format!(
            "bgp_community.add(({asn},100)); bgp_community.add((65535,65281)); \
             bgp_large_community.add(({asn},1,1)); bgp_med = 10; bgp_path.prepend({asn});"
        );
        let _ = writeln!(
            s,
            "protocol static bench {{\n  ipv4 {{ import filter {{ {attrs} accept; }}; }};"
        );
        for i in 0..n {
            let _ = writeln!(s, "  route {}/32 blackhole;", route(i));
        }
        let _ = writeln!(s, "}}");
        let two_paths = self.kind == Kind::BirdAddPath;
        if two_paths {
            // Each route's second path, with bgpd-sighup's second next hop: one static
            // protocol per next hop (250), the next hop set once in its import filter. A
            // protocol is a path source of its own, so the prefix has two paths to send.
            for k in 0..SECOND_NEXTHOPS {
                let nh = second_nexthop(k);
                let _ = writeln!(
                    s,
                    "protocol static bench2_{k} {{\n  ipv4 {{ import filter {{ {attrs} \
                     bgp_next_hop = {nh}; accept; }}; }};"
                );
                for i in (k..n).step_by(SECOND_NEXTHOPS as usize) {
                    let _ = writeln!(s, "  route {}/32 blackhole;", route(i));
                }
                let _ = writeln!(s, "}}");
            }
        }
        let _ = writeln!(s, "protocol bgp bench_rx {{");
        let _ = writeln!(s, "  local {} as {};", self.node.ipv4, self.kind.asn());
        let _ = writeln!(s, "  neighbor {} as {};", self.peer, self.peer_as);
        let _ = writeln!(s, "  passive on;\n  hold time 90;\n  error wait time 1, 4;");
        // On eBGP BIRD drops the MED and sends its own address as next hop unless the export
        // filter set them (RFC 4271 §5.1.3, §5.1.4): set both again there, so that the wire
        // carries what bgpd sends (MED 10; the second paths' own next hops).
        if two_paths {
            let _ = writeln!(
                s,
                "  ipv4 {{ import none; add paths tx; export filter {{ bgp_med = bgp_med; \
                 if proto != \"bench\" then bgp_next_hop = bgp_next_hop; accept; }}; }};\n}}"
            );
        } else {
            let _ = writeln!(
                s,
                "  ipv4 {{ import none; export filter {{ bgp_med = bgp_med; accept; }}; }};\n}}"
            );
        }
        s
    }

    fn frr_networks(&self, n: u32, no: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "router bgp {}", self.kind.asn());
        let _ = writeln!(s, " address-family ipv4 unicast");
        let no = if no { "no " } else { "" };
        for i in 0..n {
            let _ = writeln!(s, "  {no}network {}/32", route(i));
        }
        let _ = writeln!(s, " exit-address-family");
        s
    }

    fn gobgp_config(&self) -> String {
        format!(
            r#"[global.config]
  as = {asn}
  router-id = "{id}"
  port = 179
  local-address-list = ["{id}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "{peer}"
    peer-as = {peer_as}
  [neighbors.timers.config]
    hold-time = 90
    keepalive-interval = 30
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"#,
            asn = self.kind.asn(),
            id = self.node.ipv4,
            peer = self.peer,
            peer_as = self.peer_as,
        )
    }
}

/// How many distinct second next hops bgpd-sighup's services have.
const SECOND_NEXTHOPS: u32 = 250;

/// The second next hop of service `i` in bgpd-sighup's file: one of 250 node addresses.
fn second_nexthop(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 1 + (i % SECOND_NEXTHOPS) as u8)
}
