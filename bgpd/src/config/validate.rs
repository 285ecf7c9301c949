//! Raw TOML structs -> validated [`Config`], with defaults filled in, every error and
//! warning located by key path.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bgp_proto::Family;
use ipnet::IpNet;

use super::locate::{FieldPath, Locator};
use super::raw::{IntOrStr, RawConfig, RawDemote, RawGlobal, RawHealth, RawPeer, RawService};
use super::values::{parse_asn, parse_community, parse_duration, parse_large_community};
use super::*;

/// RFC 2385 keys are limited by Linux's TCP_MD5SIG_MAXKEYLEN.
const MAX_PASSWORD_LEN: usize = 80;
/// RFC 9003 §2: the Shutdown Communication is at most 255 octets of UTF-8.
const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;
/// RFC 4724 §3: Restart Time is a 12-bit number of seconds.
const MAX_RESTART_TIME: u64 = 4095;
const MAX_AS_PATH_PREPEND: i64 = 64;

pub(crate) fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let loc = Locator::new(text);
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |r| r.start);
            let (line, column) = loc.line_col(offset);
            let field = match loc.path_at(offset) {
                p if p.0.is_empty() => key_on_line(text, line),
                p => p.to_string(),
            };
            // toml's messages can span lines ("invalid string\nexpected ..."): keep one line.
            let message = e.message().trim().lines().collect::<Vec<_>>().join("; ");
            return Err(ConfigError::Invalid(vec![Diagnostic {
                file: file.to_owned(),
                line,
                column,
                field,
                message,
            }]));
        }
    };
    let mut v = Validator {
        loc,
        file,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let config = v.config(raw);
    let sort = |d: &mut Vec<Diagnostic>| d.sort_by_key(|d| (d.line, d.column));
    match config {
        Some(mut config) if v.errors.is_empty() => {
            sort(&mut v.warnings);
            config.warnings = v.warnings;
            Ok(config)
        }
        _ => {
            sort(&mut v.errors);
            Err(ConfigError::Invalid(v.errors))
        }
    }
}

struct Validator<'a> {
    loc: Locator<'a>,
    file: &'a str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// A peer as validated, before defaults that depend on the services are filled in.
struct PeerDraft {
    peer: Peer,
    families_set: bool,
}

impl Validator<'_> {
    fn diag(&self, path: &FieldPath, message: String) -> Diagnostic {
        let (line, column) = self.loc.locate(path);
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            field: path.to_string(),
            message,
        }
    }

    fn err(&mut self, path: &FieldPath, message: impl Into<String>) {
        let d = self.diag(path, message.into());
        self.errors.push(d);
    }

    fn warn(&mut self, path: &FieldPath, message: impl Into<String>) {
        let d = self.diag(path, message.into());
        self.warnings.push(d);
    }

    /// Records `r`'s error at `path`; `None` if it failed.
    fn check<T>(&mut self, path: &FieldPath, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.err(path, m)).ok()
    }

    fn config(&mut self, raw: RawConfig) -> Option<Config> {
        let root = FieldPath::root();
        let global = match raw.global {
            Some(g) => self.global(g, &root.key("global")),
            None => {
                self.err(
                    &root.key("global"),
                    "missing table [global] (asn and router_id are required)",
                );
                None
            }
        };
        let global = global?;

        let mut drafts = Vec::with_capacity(raw.peers.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
        for (i, rp) in raw.peers.iter().enumerate() {
            let path = root.key("peers").index(i);
            let Some(d) = self.peer(rp, &path, &global) else {
                continue;
            };
            if let Some(j) = names.insert(d.peer.name.clone(), i) {
                let at = if rp.name.is_some() {
                    path.key("name")
                } else {
                    path.key("address")
                };
                self.err(
                    &at,
                    format!("duplicate peer name \"{}\" (also peers[{j}])", d.peer.name),
                );
            }
            if let Some(j) = addresses.insert(d.peer.address, i) {
                self.err(
                    &path.key("address"),
                    format!(
                        "address {} is already used by peers[{j}]: one session per peer address",
                        d.peer.address
                    ),
                );
            }
            drafts.push(d);
        }

        let peer_names: Vec<String> = drafts.iter().map(|d| d.peer.name.clone()).collect();
        let mut services = Vec::with_capacity(raw.services.len());
        let mut service_names: HashMap<String, usize> = HashMap::new();
        for (i, rs) in raw.services.iter().enumerate() {
            let path = root.key("services").index(i);
            let Some(s) = self.service(rs, &path, &peer_names) else {
                continue;
            };
            if let Some(j) = service_names.insert(s.name.clone(), i) {
                let at = if rs.name.is_some() {
                    path.key("name")
                } else {
                    path.key("prefix")
                };
                self.err(
                    &at,
                    format!("duplicate service name \"{}\" (also services[{j}])", s.name),
                );
            }
            services.push((i, s));
        }
        self.overlapping_prefixes(&services, &peer_names);

        let peers = self.finish_peers(drafts, &services);
        self.service_warnings(&services, &peers);
        Some(Config {
            global,
            peers,
            services: services.into_iter().map(|(_, s)| s).collect(),
            warnings: Vec::new(),
        })
    }

    fn global(&mut self, g: RawGlobal, path: &FieldPath) -> Option<Global> {
        let asn = match &g.asn {
            Some(a) => self.check(&path.key("asn"), parse_asn(a)).map(Asn),
            None => {
                self.err(
                    &path.key("asn"),
                    "missing key: this speaker's AS number is required",
                );
                None
            }
        };
        let router_id = match &g.router_id {
            Some(r) => {
                let p = path.key("router_id");
                self.check(&p, parse_router_id(r))
            }
            None => {
                self.err(
                    &path.key("router_id"),
                    "missing key: the BGP identifier (an IPv4 address) is required",
                );
                None
            }
        };
        let listen = match &g.listen {
            None => DEFAULT_LISTEN
                .iter()
                .filter_map(|s| SocketAddr::from_str(s).ok())
                .collect(),
            Some(list) => {
                let mut out = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    let p = path.key("listen").index(i);
                    if let Some(a) = self.check(&p, parse_socket_addr(s, BGP_PORT)) {
                        if out.contains(&a) {
                            self.err(&p, format!("{a} is listed twice"));
                        }
                        out.push(a);
                    }
                }
                out
            }
        };
        let (hold_time, keepalive) =
            self.timers(path, g.hold_time.as_ref(), g.keepalive.as_ref(), None);
        let connect_retry = self
            .connect_retry(&path.key("connect_retry"), g.connect_retry.as_ref())
            .unwrap_or(DEFAULT_CONNECT_RETRY);
        let control_socket = match &g.control_socket {
            Some(s) if s.is_empty() => {
                self.err(
                    &path.key("control_socket"),
                    "must be a path, got an empty string",
                );
                PathBuf::new()
            }
            Some(s) => PathBuf::from(s),
            None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
        };
        let metrics_listen = g.metrics_listen.as_ref().and_then(|s| {
            let p = path.key("metrics_listen");
            self.check(
                &p,
                parse_socket_addr(s, 0).and_then(|a| {
                    if a.port() == 0 {
                        Err(format!(
                            "expected ADDRESS:PORT like \"127.0.0.1:9179\", got \"{s}\""
                        ))
                    } else {
                        Ok(a)
                    }
                }),
            )
        });
        let drain_time = g
            .drain_time
            .as_ref()
            .and_then(|d| self.check(&path.key("drain_time"), parse_duration(d)));
        Some(Global {
            asn: asn?,
            router_id: router_id?,
            listen,
            hold_time,
            keepalive,
            connect_retry,
            control_socket,
            metrics_listen,
            drain_time,
        })
    }

    /// Hold time and keepalive at `path`. Peers (`inherit` = the global pair) take the global
    /// values unless they set their own; a keepalive left out is a third of the hold time
    /// when that hold time is set at the same level (RFC 4271 §10).
    fn timers(
        &mut self,
        path: &FieldPath,
        hold: Option<&IntOrStr>,
        keepalive: Option<&IntOrStr>,
        inherit: Option<(HoldTime, Duration)>,
    ) -> (HoldTime, Duration) {
        let default_hold = inherit.map_or(HoldTime(DEFAULT_HOLD_TIME), |(h, _)| h);
        let hold_path = path.key("hold_time");
        let hold_time = match hold {
            None => default_hold,
            Some(v) => self
                .check(&hold_path, parse_hold_time(v))
                .unwrap_or(default_hold),
        };
        let third = Duration::from_secs(u64::from(hold_time.secs() / 3));
        let ka_path = path.key("keepalive");
        let keepalive = match (keepalive, hold, inherit) {
            (Some(v), _, _) => {
                let Some(ka) = self.check(&ka_path, parse_whole_seconds(v)) else {
                    return (hold_time, third);
                };
                if hold_time.secs() == 0 {
                    if !ka.is_zero() {
                        self.warn(
                            &ka_path,
                            "ignored: hold_time is 0, so no KEEPALIVEs are sent (RFC 4271 §4.4)",
                        );
                    }
                    Duration::ZERO
                } else if ka.is_zero() {
                    self.err(&ka_path, format!(
                        "keepalive must be at least 1 second when the hold time is {} seconds (use hold_time = 0 to turn both off)",
                        hold_time.secs()
                    ));
                    third
                } else if ka >= hold_time.as_duration() {
                    self.err(
                        &ka_path,
                        format!(
                            "keepalive must be less than the hold time ({} seconds), got {}",
                            hold_time.secs(),
                            ka.as_secs()
                        ),
                    );
                    third
                } else {
                    if ka > third {
                        self.warn(&ka_path, format!(
                            "keepalive {} s is more than a third of the hold time {} s; RFC 4271 §10 suggests {} s",
                            ka.as_secs(), hold_time.secs(), third.as_secs()
                        ));
                    }
                    ka
                }
            }
            (None, None, Some((_, ka))) => ka,
            _ => third,
        };
        (hold_time, keepalive)
    }

    fn connect_retry(&mut self, path: &FieldPath, v: Option<&IntOrStr>) -> Option<Duration> {
        let d = self.check(path, parse_duration(v?))?;
        if d < Duration::from_millis(100) {
            self.err(
                path,
                format!(
                    "connect retry time must be at least 100ms, got {}ms",
                    d.as_millis()
                ),
            );
            return None;
        }
        Some(d)
    }

    fn peer(&mut self, r: &RawPeer, path: &FieldPath, global: &Global) -> Option<PeerDraft> {
        let address = match &r.address {
            Some(a) => self.check(&path.key("address"), parse_ip(a)),
            None => {
                self.err(
                    &path.key("address"),
                    "missing key: the peer's IPv4 or IPv6 address is required",
                );
                None
            }
        };
        let asn = match &r.asn {
            Some(a) => self.check(&path.key("asn"), parse_asn(a)).map(Asn),
            None => {
                self.err(
                    &path.key("asn"),
                    "missing key: the peer's AS number is required",
                );
                None
            }
        };
        let name = match &r.name {
            Some(n) if n.trim().is_empty() => {
                self.err(
                    &path.key("name"),
                    "must not be empty (leave it out to use the address)",
                );
                None
            }
            Some(n) => Some(n.clone()),
            None => address.map(|a| a.to_string()),
        };
        let port = match r.port {
            None => BGP_PORT,
            Some(p) => self
                .check(
                    &path.key("port"),
                    match u16::try_from(p) {
                        Ok(p) if p != 0 => Ok(p),
                        _ => Err(format!("port must be 1..=65535, got {p}")),
                    },
                )
                .unwrap_or(BGP_PORT),
        };
        let passive = r.passive.unwrap_or(false);
        if passive && global.listen.is_empty() {
            self.err(
                &path.key("passive"),
                "a passive peer can never connect: global.listen is empty",
            );
        }
        let local_address = r.local_address.as_ref().and_then(|s| {
            let p = path.key("local_address");
            let a = self.check(&p, parse_ip(s))?;
            match address {
                Some(peer) if peer.is_ipv4() != a.is_ipv4() => {
                    self.err(
                        &p,
                        format!(
                            "local address {a} and peer address {peer} are of different families"
                        ),
                    );
                    None
                }
                _ => Some(a),
            }
        });
        let (hold_time, keepalive) = self.timers(
            path,
            r.hold_time.as_ref(),
            r.keepalive.as_ref(),
            Some((global.hold_time, global.keepalive)),
        );
        let connect_retry = self
            .connect_retry(&path.key("connect_retry"), r.connect_retry.as_ref())
            .unwrap_or(global.connect_retry);
        let password = r.password.as_ref().and_then(|pw| {
            let p = path.key("password");
            if pw.is_empty() {
                self.err(&p, "must not be empty (leave it out for no TCP MD5 signature)");
                None
            } else if pw.len() > MAX_PASSWORD_LEN {
                self.err(&p, format!(
                    "TCP MD5 keys are at most {MAX_PASSWORD_LEN} bytes (RFC 2385, Linux TCP_MD5SIG_MAXKEYLEN), got {}",
                    pw.len()
                ));
                None
            } else {
                Some(pw.clone())
            }
        });
        let mut ttl = Ttl::Default;
        if let Some(h) = r.ebgp_multihop {
            let p = path.key("ebgp_multihop");
            match u8::try_from(h) {
                Ok(h) if h >= 1 => ttl = Ttl::Multihop(h),
                _ => self.err(&p, format!("TTL must be 1..=255, got {h}")),
            }
        }
        if r.ttl_security == Some(true) {
            if r.ebgp_multihop.is_some() {
                self.err(
                    &path.key("ttl_security"),
                    "ttl_security (GTSM, RFC 5082) and ebgp_multihop cannot both be set",
                );
            }
            ttl = Ttl::Security;
        }
        let families_set = r.families.is_some();
        let families = match &r.families {
            None => Vec::new(),
            Some(list) => {
                let p = path.key("families");
                if list.is_empty() {
                    self.err(
                        &p,
                        "must list at least one family (leave it out for the default)",
                    );
                }
                let mut out = Vec::new();
                for (i, f) in list.iter().enumerate() {
                    let fp = p.index(i);
                    match Family::from_str(f) {
                        Ok(f) if out.contains(&f) => self.err(&fp, format!("{f} is listed twice")),
                        Ok(f) => out.push(f),
                        Err(e) => self.err(&fp, format!("{e}, got \"{f}\"")),
                    }
                }
                out
            }
        };
        let max_prefixes = r.max_prefixes.and_then(|m| {
            let p = path.key("max_prefixes");
            match u32::try_from(m) {
                Ok(m) if m > 0 => Some(m),
                _ => {
                    self.err(
                        &p,
                        format!("must be 1..=4294967295 (leave it out for no limit), got {m}"),
                    );
                    None
                }
            }
        });
        let gr_on = r.graceful_restart.unwrap_or(true);
        let restart_time = match &r.restart_time {
            None => DEFAULT_RESTART_TIME,
            Some(v) => {
                let p = path.key("restart_time");
                if !gr_on {
                    self.warn(&p, "ignored: graceful_restart is false");
                }
                match self.check(&p, parse_whole_seconds(v)) {
                    Some(d) if d.as_secs() <= MAX_RESTART_TIME => d,
                    Some(d) => {
                        self.err(&p, format!(
                            "restart time is a 12-bit field, at most {MAX_RESTART_TIME} seconds (RFC 4724 §3), got {}",
                            d.as_secs()
                        ));
                        DEFAULT_RESTART_TIME
                    }
                    None => DEFAULT_RESTART_TIME,
                }
            }
        };
        let graceful_restart = gr_on.then_some(GracefulRestart { restart_time });
        let delay_open = r.delay_open.as_ref().and_then(|v| {
            let p = path.key("delay_open");
            match self.check(&p, parse_whole_seconds(v))? {
                d if d.is_zero() || d.as_secs() > 240 => {
                    self.err(
                        &p,
                        format!(
                            "delay open time must be 1..=240 seconds, got {}",
                            d.as_secs()
                        ),
                    );
                    None
                }
                d => Some(d),
            }
        });
        let shutdown_message = r.shutdown_message.as_ref().and_then(|m| {
            if m.len() > MAX_SHUTDOWN_MESSAGE_LEN {
                self.err(&path.key("shutdown_message"), format!(
                    "a Shutdown Communication is at most {MAX_SHUTDOWN_MESSAGE_LEN} bytes of UTF-8 (RFC 9003 §2), got {}",
                    m.len()
                ));
                None
            } else {
                Some(m.clone())
            }
        });
        let ipv4_nexthop = r.ipv4_nexthop.as_ref().and_then(|s| {
            let p = path.key("ipv4_nexthop");
            self.check(
                &p,
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("expected an IPv4 address, got \"{s}\"")),
            )
        });
        let ipv6_nexthop = r.ipv6_nexthop.as_ref().and_then(|s| {
            let p = path.key("ipv6_nexthop");
            self.check(
                &p,
                s.parse::<Ipv6Addr>()
                    .map_err(|_| format!("expected an IPv6 address, got \"{s}\"")),
            )
        });
        let asn = asn?;
        Some(PeerDraft {
            peer: Peer {
                name: name?,
                address: address?,
                asn,
                ibgp: asn == global.asn,
                port,
                passive,
                local_address,
                hold_time,
                keepalive,
                connect_retry,
                password,
                ttl,
                families,
                add_path: r.add_path.unwrap_or(false),
                max_prefixes,
                graceful_restart,
                delay_open,
                enforce_first_as: r.enforce_first_as.unwrap_or(true),
                shutdown_message,
                ipv4_nexthop,
                ipv6_nexthop,
            },
            families_set,
        })
    }

    fn service(
        &mut self,
        r: &RawService,
        path: &FieldPath,
        peer_names: &[String],
    ) -> Option<Service> {
        let prefix = match &r.prefix {
            Some(p) => self.check(&path.key("prefix"), parse_prefix(p)),
            None => {
                self.err(
                    &path.key("prefix"),
                    "missing key: the prefix to announce is required",
                );
                None
            }
        };
        let name = match &r.name {
            Some(n) if n.trim().is_empty() => {
                self.err(
                    &path.key("name"),
                    "must not be empty (leave it out to use the prefix)",
                );
                None
            }
            Some(n) => Some(n.clone()),
            None => prefix.map(|p| p.to_string()),
        };
        let nexthops =
            match &r.nexthops {
                None => vec![NextHopSpec::Local],
                Some(list) => {
                    let p = path.key("nexthops");
                    if list.is_empty() {
                        self.err(
                            &p,
                            "must list at least one next hop (\"self\" or an address)",
                        );
                    }
                    let mut out = Vec::new();
                    for (i, s) in list.iter().enumerate() {
                        let np = p.index(i);
                        let nh =
                            if s == "self" {
                                NextHopSpec::Local
                            } else {
                                let Some(a) = self.check(&np, s.parse::<IpAddr>().map_err(|_| {
                            format!("expected \"self\" or an IPv4/IPv6 address, got \"{s}\"")
                        })) else {
                            continue;
                        };
                                if let Some(pf) = prefix {
                                    if pf.addr().is_ipv4() != a.is_ipv4() {
                                        self.err(
                                            &np,
                                            format!(
                                    "next hop {a} is not of the same family as the prefix {pf}"
                                ),
                                        );
                                        continue;
                                    }
                                }
                                NextHopSpec::Addr(a)
                            };
                        if out.contains(&nh) {
                            self.err(&np, format!("next hop {nh} is listed twice"));
                        } else {
                            out.push(nh);
                        }
                    }
                    out
                }
            };
        let communities = self.communities(&path.key("communities"), r.communities.as_deref());
        let large_communities = match &r.large_communities {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    self.check(
                        &path.key("large_communities").index(i),
                        parse_large_community(s),
                    )
                })
                .collect(),
        };
        let med = r.med.and_then(|m| self.u32_value(&path.key("med"), m));
        let local_pref = r
            .local_pref
            .and_then(|m| self.u32_value(&path.key("local_pref"), m));
        let as_path_prepend = self.prepend(&path.key("as_path_prepend"), r.as_path_prepend);
        let peers = match &r.peers {
            None => PeerSelection::All,
            Some(list) => {
                if list.is_empty() {
                    self.warn(&path.key("peers"), "the service is announced to no peer");
                }
                let mut out = Vec::new();
                for (i, n) in list.iter().enumerate() {
                    let pp = path.key("peers").index(i);
                    if !peer_names.contains(n) {
                        let known = if peer_names.is_empty() {
                            "none are configured".to_owned()
                        } else {
                            format!("configured: {}", peer_names.join(", "))
                        };
                        self.err(&pp, format!("no peer named \"{n}\" ({known})"));
                    } else if out.contains(n) {
                        self.err(&pp, format!("peer \"{n}\" is listed twice"));
                    } else {
                        out.push(n.clone());
                    }
                }
                PeerSelection::Only(out)
            }
        };
        let health = r
            .health
            .as_ref()
            .and_then(|h| self.health(h, &path.key("health")));
        Some(Service {
            name: name?,
            prefix: prefix?,
            nexthops,
            communities,
            large_communities,
            med,
            local_pref,
            as_path_prepend,
            peers,
            health,
        })
    }

    fn communities(
        &mut self,
        path: &FieldPath,
        list: Option<&[String]>,
    ) -> Vec<bgp_proto::Community> {
        list.unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.check(&path.index(i), parse_community(s)))
            .collect()
    }

    fn u32_value(&mut self, path: &FieldPath, v: i64) -> Option<u32> {
        self.check(
            path,
            u32::try_from(v).map_err(|_| format!("must be 0..=4294967295, got {v}")),
        )
    }

    fn prepend(&mut self, path: &FieldPath, v: Option<i64>) -> u8 {
        match v {
            None => 0,
            Some(n) if (0..=MAX_AS_PATH_PREPEND).contains(&n) => n as u8,
            Some(n) => {
                self.err(path, format!("must be 0..={MAX_AS_PATH_PREPEND}, got {n}"));
                0
            }
        }
    }

    fn health(&mut self, h: &RawHealth, path: &FieldPath) -> Option<HealthCheck> {
        let kind = match h.kind.as_deref() {
            Some(k @ ("tcp" | "http" | "exec")) => k,
            Some(k) => {
                self.err(
                    &path.key("type"),
                    format!("expected \"tcp\", \"http\" or \"exec\", got \"{k}\""),
                );
                return None;
            }
            None => {
                self.err(
                    &path.key("type"),
                    "missing key: the check type (\"tcp\", \"http\" or \"exec\") is required",
                );
                return None;
            }
        };
        let only =
            |types: &str| format!("only used with type = {types}, this check is type = \"{kind}\"");
        if kind != "exec" && h.command.is_some() {
            self.err(&path.key("command"), only("\"exec\""));
        }
        if kind == "exec" && h.target.is_some() {
            self.err(&path.key("target"), only("\"tcp\" or \"http\""));
        }
        if kind != "http" && h.expect_status.is_some() {
            self.err(&path.key("expect_status"), only("\"http\""));
        }
        let probe = match kind {
            "tcp" | "http" => {
                let p = path.key("target");
                let Some(t) = &h.target else {
                    let what = if kind == "tcp" {
                        "HOST:PORT"
                    } else {
                        "an http:// URL"
                    };
                    self.err(
                        &p,
                        format!("missing key: a {kind} check needs a target ({what})"),
                    );
                    return None;
                };
                if kind == "tcp" {
                    let port = t
                        .rsplit_once(':')
                        .and_then(|(_, port)| port.parse::<u16>().ok());
                    if !matches!(port, Some(p) if p != 0) {
                        self.err(
                            &p,
                            format!("expected HOST:PORT, e.g. \"{{nexthop}}:80\", got \"{t}\""),
                        );
                    }
                    Probe::Tcp { target: t.clone() }
                } else {
                    if !t.starts_with("http://") {
                        self.err(&p, format!("expected an http:// URL, e.g. \"http://{{nexthop}}:8080/healthz\", got \"{t}\""));
                    }
                    let expect_status = h.expect_status.and_then(|s| {
                        let sp = path.key("expect_status");
                        self.check(
                            &sp,
                            match u16::try_from(s) {
                                Ok(s) if (100..=599).contains(&s) => Ok(s),
                                _ => Err(format!("an HTTP status is 100..=599, got {s}")),
                            },
                        )
                    });
                    Probe::Http {
                        target: t.clone(),
                        expect_status,
                    }
                }
            }
            _ => match &h.command {
                Some(c) if c.first().is_some_and(|p| !p.is_empty()) => {
                    Probe::Exec { command: c.clone() }
                }
                Some(_) => {
                    self.err(
                        &path.key("command"),
                        "must name a program: [\"/path/to/check\", \"arg\", ...]",
                    );
                    return None;
                }
                None => {
                    self.err(&path.key("command"), "missing key: an exec check needs a command ([\"/path/to/check\", \"arg\", ...])");
                    return None;
                }
            },
        };
        let interval = h
            .interval
            .as_ref()
            .and_then(|v| self.check(&path.key("interval"), parse_duration(v).and_then(nonzero)))
            .unwrap_or(DEFAULT_HEALTH_INTERVAL);
        let timeout = match &h.timeout {
            None => DEFAULT_HEALTH_TIMEOUT.min(interval),
            Some(v) => {
                let p = path.key("timeout");
                let t = self
                    .check(&p, parse_duration(v).and_then(nonzero))
                    .unwrap_or(interval);
                if t > interval {
                    self.err(
                        &p,
                        format!(
                            "timeout ({}ms) must not be longer than the interval ({}ms)",
                            t.as_millis(),
                            interval.as_millis()
                        ),
                    );
                }
                t
            }
        };
        let mut count = |key: &str, v: Option<i64>| -> u32 {
            match v {
                None => DEFAULT_RISE_FALL,
                Some(n) if (1..=1000).contains(&n) => n as u32,
                Some(n) => {
                    self.err(&path.key(key), format!("must be 1..=1000, got {n}"));
                    DEFAULT_RISE_FALL
                }
            }
        };
        let rise = count("rise", h.rise);
        let fall = count("fall", h.fall);
        let on_fail = match (h.on_fail.as_deref(), &h.demote) {
            (None | Some("withdraw"), None) => OnFail::Withdraw,
            (None | Some("withdraw"), Some(_)) => {
                self.err(&path.key("demote"), "only used with on_fail = \"demote\"");
                OnFail::Withdraw
            }
            (Some("demote"), None) => {
                self.err(&path.key("on_fail"), "on_fail = \"demote\" needs a [services.health.demote] table (med, communities, as_path_prepend)");
                OnFail::Withdraw
            }
            (Some("demote"), Some(d)) => self.demote(d, &path.key("demote")),
            (Some(o), _) => {
                self.err(
                    &path.key("on_fail"),
                    format!("expected \"withdraw\" or \"demote\", got \"{o}\""),
                );
                OnFail::Withdraw
            }
        };
        let disable_file = h.disable_file.as_ref().map(PathBuf::from);
        Some(HealthCheck {
            probe,
            interval,
            timeout,
            rise,
            fall,
            on_fail,
            disable_file,
        })
    }

    fn demote(&mut self, d: &RawDemote, path: &FieldPath) -> OnFail {
        let med = d.med.and_then(|m| self.u32_value(&path.key("med"), m));
        let communities = self.communities(&path.key("communities"), d.communities.as_deref());
        let as_path_prepend = self.prepend(&path.key("as_path_prepend"), d.as_path_prepend);
        if med.is_none() && communities.is_empty() && as_path_prepend == 0 {
            self.err(
                path,
                "a demotion must set at least one of med, communities, as_path_prepend",
            );
        }
        OnFail::Demote {
            med,
            communities,
            as_path_prepend,
        }
    }

    /// Two services with the same prefix sent to the same peer would replace each other.
    fn overlapping_prefixes(&mut self, services: &[(usize, Service)], peers: &[String]) {
        for (n, (i, a)) in services.iter().enumerate() {
            for (j, b) in services.iter().take(n) {
                if a.prefix != b.prefix {
                    continue;
                }
                if let Some(p) = peers.iter().find(|p| a.applies_to(p) && b.applies_to(p)) {
                    let path = FieldPath::root().key("services").index(*i).key("prefix");
                    self.err(&path, format!(
                        "prefix {} is also announced to peer \"{p}\" by services[{j}] (\"{}\"); use one service with several nexthops",
                        a.prefix, b.name
                    ));
                }
            }
        }
    }

    /// Fills in families: the peer's own address family plus the family of every service
    /// announced to it (RFC 4760 §8: offer what we will send).
    fn finish_peers(&mut self, drafts: Vec<PeerDraft>, services: &[(usize, Service)]) -> Vec<Peer> {
        drafts
            .into_iter()
            .map(|d| {
                let mut peer = d.peer;
                if !d.families_set {
                    let mut set = BTreeSet::new();
                    set.insert(family_of(peer.address));
                    for (_, s) in services.iter().filter(|(_, s)| s.applies_to(&peer.name)) {
                        set.insert(s.family());
                    }
                    peer.families = set.into_iter().collect();
                }
                peer
            })
            .collect()
    }

    fn service_warnings(&mut self, services: &[(usize, Service)], peers: &[Peer]) {
        for (i, s) in services {
            let path = FieldPath::root().key("services").index(*i);
            let targets: Vec<&Peer> = peers.iter().filter(|p| s.applies_to(&p.name)).collect();
            if s.local_pref.is_some() && !targets.iter().any(|p| p.ibgp) {
                self.warn(
                    &path.key("local_pref"),
                    "LOCAL_PREF is only sent to iBGP peers (RFC 4271 §5.1.5) and this service has none",
                );
            }
            let family = s.family();
            let missing_family: Vec<&str> = targets
                .iter()
                .filter(|p| !p.families.contains(&family))
                .map(|p| p.name.as_str())
                .collect();
            if !missing_family.is_empty() {
                self.warn(
                    &path.key("prefix"),
                    format!(
                        "not announced to {}: {family} is not in the peer's families",
                        missing_family.join(", ")
                    ),
                );
            }
            let sendable = |p: &&&Peer| p.families.contains(&family);
            if s.nexthops.len() > 1 {
                let single: Vec<&str> = targets
                    .iter()
                    .filter(sendable)
                    .filter(|p| !p.add_path)
                    .map(|p| p.name.as_str())
                    .collect();
                if !single.is_empty() {
                    self.warn(&path.key("nexthops"), format!(
                        "only the first next hop ({}) is announced to {} (add_path is off; RFC 7911 is needed for one path per next hop)",
                        s.nexthops.first().map_or(String::new(), ToString::to_string),
                        single.join(", ")
                    ));
                }
            }
            if s.nexthops.contains(&NextHopSpec::Local) {
                let no_nexthop: Vec<&str> = targets
                    .iter()
                    .filter(sendable)
                    .filter(|p| match (s.prefix, p.address) {
                        (IpNet::V6(_), IpAddr::V4(_)) => p.ipv6_nexthop.is_none(),
                        (IpNet::V4(_), IpAddr::V6(_)) => p.ipv4_nexthop.is_none(),
                        _ => false,
                    })
                    .map(|p| p.name.as_str())
                    .collect();
                if !no_nexthop.is_empty() {
                    let (other, key) = match s.prefix {
                        IpNet::V6(_) => ("IPv4", "ipv6_nexthop"),
                        IpNet::V4(_) => ("IPv6", "ipv4_nexthop"),
                    };
                    self.warn(&path.key("nexthops"), format!(
                        "next hop \"self\" has no {} address on the {other} session with {}: set {key} on the peer, or the route is not sent there",
                        if other == "IPv4" { "IPv6" } else { "IPv4" },
                        no_nexthop.join(", ")
                    ));
                }
            }
        }
    }
}

const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_RISE_FALL: u32 = 3;

/// For a syntax error, where no tree exists to look the path up in: the bare key that
/// starts `line`, if any.
fn key_on_line(text: &str, line: usize) -> String {
    let l = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    match l.split_once('=') {
        Some((k, _))
            if !k.trim().is_empty()
                && k.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
        {
            k.trim().to_owned()
        }
        _ => String::new(),
    }
}

fn nonzero(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err("must be more than 0".to_owned())
    } else {
        Ok(d)
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("expected an IPv4 or IPv6 address, got \"{s}\""))
}

/// RFC 4271 §4.2: a 4-octet unsigned, non-zero BGP Identifier (RFC 6286 §2.1).
fn parse_router_id(s: &str) -> Result<Ipv4Addr, String> {
    let id: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("expected an IPv4 address such as \"10.255.0.2\", got \"{s}\""))?;
    if id.is_unspecified() {
        return Err("the BGP identifier must not be 0.0.0.0 (RFC 6286 §2.1)".to_owned());
    }
    Ok(id)
}

/// `ADDR:PORT`, `[V6]:PORT`, or a bare address with `default_port`.
fn parse_socket_addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(format!("expected an address with an optional port like \"0.0.0.0:179\" or \"[::]:179\", got \"{s}\""))
}

/// A prefix (`192.0.2.10/32`) or a bare address (a host route). Host bits must be clear.
fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let net = match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => {
                return Err(format!(
                    "expected a prefix like \"192.0.2.10/32\" or \"2001:db8::10/128\", got \"{s}\""
                ))
            }
        },
    };
    if net.trunc() != net {
        return Err(format!(
            "host bits are set in {net}; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// RFC 4271 §4.2: "Hold Time ... MUST be either zero or at least three seconds."
fn parse_hold_time(v: &IntOrStr) -> Result<HoldTime, String> {
    let d = parse_whole_seconds(v)?;
    let secs = u16::try_from(d.as_secs()).map_err(|_| {
        format!(
            "hold time is a 16-bit number of seconds, at most 65535, got {}",
            d.as_secs()
        )
    })?;
    HoldTime::new(secs).ok_or_else(|| {
        format!("hold time must be 0 or at least 3 seconds (RFC 4271 §4.2), got {secs}")
    })
}

/// Timers carried in whole seconds on the wire.
fn parse_whole_seconds(v: &IntOrStr) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.subsec_nanos() != 0 {
        return Err(format!(
            "must be a whole number of seconds, got {}ms",
            d.as_millis()
        ));
    }
    Ok(d)
}
