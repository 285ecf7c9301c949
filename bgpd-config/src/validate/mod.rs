//! Raw TOML structs -> validated [`Config`], with defaults filled in, every error and
//! warning located by key path. `peer.rs` and `service.rs` hold the per-table checks; this
//! file the entry point, `[global]`, and the checks across tables.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

mod bfd;
mod fib;
mod peer;
mod service;

use crate::fast::ServiceFields;
use crate::locate::{FieldPath, Locator};
use crate::raw::{Int, IntOrStr, RawConfig, RawGlobal, RawRib, RawService};
use crate::values::{
    parse_asn, parse_duration, parse_hold_time, parse_router_id, parse_socket_addr,
    parse_whole_seconds,
};
use crate::*;

pub(crate) fn parse(text: &str, file: &str, host: &dyn Host) -> Result<Config, ConfigError> {
    match parse_lean(text, file, host) {
        Some(config) => Ok(config),
        None => parse_document(text, file, host),
    }
}

/// The lean path (`fast.rs`): the head through `toml`, the services line by line, each
/// validated as it is read. `None` whenever it cannot give exactly what [`parse_document`]
/// gives: a form the line reader does not take, or any error (the general path reports it).
pub(crate) fn parse_lean(text: &str, file: &str, host: &dyn Host) -> Option<Config> {
    let (head, mut services) = crate::fast::split(text)?;
    // The head must not hold `services` in any form (`services = []` would make the
    // `[[services]]` that follow a duplicate key for toml). It is small: parsed twice.
    if toml::from_str::<toml::Table>(head)
        .ok()?
        .contains_key("services")
    {
        return None;
    }
    let raw: RawConfig = toml::from_str(head).ok()?;
    let mut v = Validator {
        loc: Locator::new(text).with_service_starts(services.starts()),
        file,
        host,
        errors: Vec::new(),
        warnings: Vec::new(),
        lists: Default::default(),
    };
    let mut config = v.config(raw, &mut services)?;
    if services.gave_up() || !v.errors.is_empty() {
        return None;
    }
    v.warnings.sort_by_key(|d| (d.line, d.column));
    config.warnings = v.warnings;
    Some(config)
}

/// The general path: the whole file as one TOML document.
pub(crate) fn parse_document(
    text: &str,
    file: &str,
    host: &dyn Host,
) -> Result<Config, ConfigError> {
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
        host,
        errors: Vec::new(),
        warnings: Vec::new(),
        lists: Default::default(),
    };
    let config = v.config(raw, &mut std::iter::empty());
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
    /// Interfaces and password files.
    host: &'a dyn Host,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// The services' lists, each distinct one kept once.
    lists: crate::shared::SharedLists,
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

    /// [`Validator::check`] with the path built only for an error: the per-service checks,
    /// a dozen for each of up to 100k services, nearly all passing.
    fn check_at<T>(&mut self, path: impl FnOnce() -> FieldPath, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.err(&path(), m)).ok()
    }

    /// A required key: `value` is its parse result, `None` when the key is absent, which is
    /// the error "missing key: {what} is required".
    fn required<T>(
        &mut self,
        path: impl FnOnce() -> FieldPath,
        value: Option<Result<T, String>>,
        what: &str,
    ) -> Option<T> {
        match value {
            Some(r) => self.check_at(path, r),
            None => {
                self.err(&path(), format!("missing key: {what} is required"));
                None
            }
        }
    }

    /// `more` follows `raw.services` (the lean path's services, read as they are needed).
    fn config(
        &mut self,
        raw: RawConfig,
        more: &mut dyn Iterator<Item = ServiceFields<'_>>,
    ) -> Option<Config> {
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
        let mut global = global?;
        global.rib = self.rib(raw.rib.as_ref(), &root.key("rib"));
        let bfd_profiles = self.bfd_profiles(&raw.bfd_profiles);
        let fib = raw.fib.as_ref().map(|f| self.fib(f, &root.key("fib")));

        let mut drafts = Vec::with_capacity(raw.peers.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
        let mut unnumbered: HashMap<String, usize> = HashMap::new();
        let mut unnumbered_key: Option<(usize, Option<String>)> = None;
        for (i, rp) in raw.peers.iter().enumerate() {
            let path = root.key("peers").index(i);
            let Some(d) = self.peer(rp, &path, &global, &bfd_profiles) else {
                continue;
            };
            if let Some(j) = names.insert(d.peer.name.clone(), i) {
                let at = if rp.name.is_some() {
                    path.key("name")
                } else if d.peer.unnumbered().is_some() {
                    path.key("interface")
                } else {
                    path.key("address")
                };
                self.err(
                    &at,
                    format!("duplicate peer name \"{}\" (also peers[{j}])", d.peer.name),
                );
            }
            if let Some(ifname) = d.peer.unnumbered() {
                // The listeners key inbound link-local connections by prefix (fe80::/10),
                // not by interface: one key (or none) for every unnumbered peer.
                match &unnumbered_key {
                    None => unnumbered_key = Some((i, d.peer.password.clone())),
                    Some((j, key)) if *key != d.peer.password => {
                        let at = if rp.password_file.is_some() {
                            path.key("password_file")
                        } else {
                            path.key("password")
                        };
                        self.err(
                            &at,
                            format!(
                                "unnumbered peers must share one TCP MD5 password (or none): \
                                 peers[{j}] differs, and the kernel keys inbound link-local \
                                 connections by address prefix, not by interface"
                            ),
                        );
                    }
                    Some(_) => {}
                }
                if let Some(j) = unnumbered.insert(ifname.to_string(), i) {
                    self.err(
                        &path.key("interface"),
                        format!(
                            "peers[{j}] is already the unnumbered peer on {ifname}: one neighbor \
                             is learned per interface"
                        ),
                    );
                }
            } else if let Some(j) = addresses.insert(d.peer.address, i) {
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

        let used_profiles: Vec<Option<String>> = drafts
            .iter()
            .map(|d| d.peer.bfd.as_ref().and_then(|b| b.profile.clone()))
            .collect();
        self.unused_bfd_profiles(&bfd_profiles, &used_profiles);
        let peer_names: Vec<String> = drafts.iter().map(|d| d.peer.name.clone()).collect();
        let mut services = Vec::with_capacity(raw.services.len() + more.size_hint().1.unwrap_or(0));
        // Whether each service wrote its name (a duplicate is reported there, else at the prefix).
        let mut named = Vec::with_capacity(services.capacity());
        let services_path = root.key("services");
        let listed = raw.services.iter().map(RawService::fields);
        for (i, rs) in listed.chain(more.map(ServiceFields::shorter)).enumerate() {
            let path = services_path.index(i);
            let has_name = rs.name.is_some();
            let Some(s) = self.service(rs, &path, &peer_names) else {
                continue;
            };
            named.push(has_name);
            services.push((i, s));
        }
        // Names checked once all are read, by reference (no copy of 100k names).
        let mut service_names: HashMap<&str, usize> = HashMap::with_capacity(services.len());
        let mut duplicates = Vec::new();
        for ((i, s), named) in services.iter().zip(&named) {
            if let Some(j) = service_names.insert(&s.name, *i) {
                let path = root.key("services").index(*i);
                let at = if *named {
                    path.key("name")
                } else {
                    path.key("prefix")
                };
                duplicates.push((
                    at,
                    format!("duplicate service name \"{}\" (also services[{j}])", s.name),
                ));
            }
        }
        drop(service_names);
        for (at, message) in duplicates {
            self.err(&at, message);
        }
        self.overlapping_prefixes(&services, &peer_names);

        let peers = self.finish_peers(drafts, &services);
        self.service_warnings(&services, &peers);
        Some(Config {
            global,
            peers,
            services: std::sync::Arc::new(without_indices(services)),
            fib,
            warnings: Vec::new(),
        })
    }

    fn global(&mut self, g: RawGlobal, path: &FieldPath) -> Option<Global> {
        let asn = self
            .required(
                || path.key("asn"),
                g.asn.as_ref().map(parse_asn),
                "this speaker's AS number",
            )
            .map(Asn);
        let router_id = self.required(
            || path.key("router_id"),
            g.router_id.as_ref().map(|r| parse_router_id(r)),
            "the BGP identifier (an IPv4 address)",
        );
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
        let state_dir = match &g.state_dir {
            Some(s) if s.is_empty() => {
                self.err(
                    &path.key("state_dir"),
                    "must be a path, got an empty string",
                );
                PathBuf::new()
            }
            Some(s) => PathBuf::from(s),
            None => PathBuf::from(DEFAULT_STATE_DIR),
        };
        let graceful_restart_deferral = g
            .graceful_restart_deferral
            .as_ref()
            .and_then(|d| self.check(&path.key("graceful_restart_deferral"), parse_duration(d)));
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
            state_dir,
            graceful_restart_deferral,
            rib: bgp_rib::RibConfig::default(),
        })
    }

    /// `[rib]`: `max_paths` (1..=256, default 16) and `as_path_relax` (default false).
    fn rib(&mut self, r: Option<&RawRib>, path: &FieldPath) -> bgp_rib::RibConfig {
        let mut out = bgp_rib::RibConfig::default();
        let Some(r) = r else { return out };
        if let Some(m) = r.max_paths.map(Int::get) {
            match u16::try_from(m).ok().filter(|m| (1..=256).contains(m)) {
                Some(n) => {
                    if let Some(n) = std::num::NonZeroU16::new(n) {
                        out.max_paths = n;
                    }
                }
                None => self.err(
                    &path.key("max_paths"),
                    format!("must be 1..=256 (members of one multipath set), got {m}"),
                ),
            }
        }
        if let Some(relax) = r.as_path_relax {
            out.as_path_relax = relax;
        }
        out
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

    /// Two services with the same prefix sent to the same peer would replace each other.
    fn overlapping_prefixes(&mut self, services: &[(usize, Service)], peers: &[String]) {
        // Group by prefix first: a file may hold 100k services, so no pairwise walk, and no
        // allocation per prefix: positions sorted by prefix (stable, so file order within a
        // prefix), then only the groups of two or more are looked at.
        let mut order: Vec<usize> = (0..services.len()).collect();
        order.sort_by_key(|&k| services[k].1.prefix);
        for group in order.chunk_by(|&x, &y| services[x].1.prefix == services[y].1.prefix) {
            if group.len() < 2 {
                continue;
            }
            // `services` is in file order, so "earlier" is a smaller file index.
            for &ka in group {
                let (i, a) = (&services[ka].0, &services[ka].1);
                for (j, b) in group
                    .iter()
                    .map(|&kb| (services[kb].0, &services[kb].1))
                    .filter(|(j, _)| j < i)
                {
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
                    set.insert(family_of(&peer.address));
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
            let path = || FieldPath::root().key("services").index(*i);
            // Not collected: no allocation per service when there is nothing to say.
            let targets = || peers.iter().filter(|p| s.applies_to(&p.name));
            if s.local_pref.is_some() && !targets().any(|p| p.ibgp) {
                self.warn(
                    &path().key("local_pref"),
                    "LOCAL_PREF is only sent to iBGP peers (RFC 4271 §5.1.5) and this service has none",
                );
            }
            let family = s.family();
            let missing_family: Vec<&str> = targets()
                .filter(|p| !p.families.contains(&family))
                .map(|p| p.name.as_str())
                .collect();
            if !missing_family.is_empty() {
                self.warn(
                    &path().key("prefix"),
                    format!(
                        "not announced to {}: {family} is not in the peer's families",
                        missing_family.join(", ")
                    ),
                );
            }
            let sendable = |p: &&Peer| p.families.contains(&family);
            if s.nexthops.len() > 1 {
                let single: Vec<&str> = targets()
                    .filter(sendable)
                    .filter(|p| !p.add_path)
                    .map(|p| p.name.as_str())
                    .collect();
                if !single.is_empty() {
                    self.warn(&path().key("nexthops"), format!(
                        "only the first next hop ({}) is announced to {} (add_path is off; RFC 7911 is needed for one path per next hop)",
                        s.nexthops.first().map_or(String::new(), ToString::to_string),
                        single.join(", ")
                    ));
                }
            }
            if s.nexthops.contains(&NextHopSpec::Local) {
                let no_nexthop: Vec<&str> = targets()
                    .filter(sendable)
                    .filter(|p| match (s.prefix, p.address) {
                        (IpNet::V6(_), IpAddr::V4(_)) => p.ipv6_nexthop.is_none(),
                        // RFC 8950: "self" is the session's IPv6 address.
                        (IpNet::V4(_), IpAddr::V6(_)) => {
                            p.ipv4_nexthop.is_none() && !p.extended_next_hop
                        }
                        _ => false,
                    })
                    .map(|p| p.name.as_str())
                    .collect();
                if !no_nexthop.is_empty() {
                    let (other, key) = match s.prefix {
                        IpNet::V6(_) => ("IPv4", "ipv6_nexthop"),
                        IpNet::V4(_) => ("IPv6", "ipv4_nexthop"),
                    };
                    self.warn(&path().key("nexthops"), format!(
                        "next hop \"self\" has no {} address on the {other} session with {}: set {key} on the peer, or the route is not sent there",
                        if other == "IPv4" { "IPv6" } else { "IPv4" },
                        no_nexthop.join(", ")
                    ));
                }
            }
        }
    }
}

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

/// The services alone, in a list of exactly their number: collected in place, the list keeps
/// the larger allocation of the (index, service) pairs, 8 octets more per service for the
/// daemon's life, unless it is shrunk (a large block is shrunk where it lies, not copied).
fn without_indices(services: Vec<(usize, Service)>) -> Vec<Service> {
    let mut list: Vec<Service> = services.into_iter().map(|(_, s)| s).collect();
    list.shrink_to_fit();
    list
}
