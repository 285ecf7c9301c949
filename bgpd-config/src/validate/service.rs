//! `[[services]]` entries and their health checks.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use smallvec::SmallVec;

use super::Validator;
use crate::fast::ServiceFields;
use crate::locate::FieldPath;
use crate::raw::{Int, RawDemote, RawHealth};
use crate::values::{
    nonzero, parse_community, parse_duration, parse_large_community, parse_prefix,
};
use crate::*;

const MAX_AS_PATH_PREPEND: i64 = 64;
const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_RISE_FALL: u32 = 3;

impl Validator<'_> {
    /// One service as written (borrowed: from the lean reader's text or from a
    /// [`crate::raw::RawService`]). The lists are checked into small inline buffers
    /// and kept once per distinct list, so a valid service costs one allocation, its name.
    pub(super) fn service(
        &mut self,
        r: ServiceFields<'_>,
        path: &FieldPath,
        peer_names: &[String],
    ) -> Option<Service> {
        let prefix = self.required(
            || path.key("prefix"),
            r.prefix.map(parse_prefix),
            "the prefix to announce",
        );
        let name = match r.name {
            Some(n) if n.trim().is_empty() => {
                self.err(
                    &path.key("name"),
                    "must not be empty (leave it out to use the prefix)",
                );
                None
            }
            Some(n) => Some(n.to_owned()),
            None => prefix.map(|p| p.to_string()),
        };
        let nexthops = match r.nexthops {
            None => self.lists.nexthops.share(&[NextHopSpec::Local]),
            Some(list) => {
                // Key paths are built only for an error (about a dozen per service).
                let p = || path.key("nexthops");
                if list.is_empty() {
                    self.err(
                        &p(),
                        "must list at least one next hop (\"self\" or an address)",
                    );
                }
                let mut out: SmallVec<[NextHopSpec; 4]> = SmallVec::new();
                for (i, s) in list.iter().enumerate() {
                    let np = || p().index(i);
                    let nh = if s == "self" {
                        NextHopSpec::Local
                    } else {
                        let parsed = s.parse::<IpAddr>().map_err(|_| {
                            format!("expected \"self\" or an IPv4/IPv6 address, got \"{s}\"")
                        });
                        let Some(a) = self.check_at(np, parsed) else {
                            continue;
                        };
                        if let Some(pf) = prefix {
                            if pf.addr().is_ipv4() != a.is_ipv4() {
                                self.err(
                                    &np(),
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
                        self.err(&np(), format!("next hop {nh} is listed twice"));
                    } else {
                        out.push(nh);
                    }
                }
                self.lists.nexthops.share(&out)
            }
        };
        let communities: SmallVec<[Community; 4]> = self.parse_list(
            || path.key("communities"),
            r.communities.iter().flat_map(|l| l.iter()),
            parse_community,
        );
        let communities = self.lists.communities.share(&communities);
        let large_communities: SmallVec<[LargeCommunity; 2]> = self.parse_list(
            || path.key("large_communities"),
            r.large_communities.iter().flat_map(|l| l.iter()),
            parse_large_community,
        );
        let large_communities = self.lists.large_communities.share(&large_communities);
        let med = r.med.and_then(|m| self.u32_value(|| path.key("med"), m));
        let local_pref = r
            .local_pref
            .and_then(|m| self.u32_value(|| path.key("local_pref"), m));
        let as_path_prepend = self.prepend(|| path.key("as_path_prepend"), r.as_path_prepend);
        let weight = r.weight.and_then(|w| {
            self.check_at(
                || path.key("weight"),
                u32::try_from(w)
                    .ok()
                    .filter(|w| (1..=MAX_SERVICE_WEIGHT).contains(w))
                    .ok_or_else(|| {
                        format!(
                            "must be 1..={MAX_SERVICE_WEIGHT} (Mbit/s of the Link Bandwidth community sent), got {w}"
                        )
                    }),
            )
        });
        let peers = match r.peers {
            None => PeerSelection::All,
            Some(list) => {
                if list.is_empty() {
                    self.warn(&path.key("peers"), "the service is announced to no peer");
                }
                let mut out: SmallVec<[&str; 4]> = SmallVec::new();
                for (i, n) in list.iter().enumerate() {
                    let pp = || path.key("peers").index(i);
                    if !peer_names.iter().any(|p| p == n) {
                        let known = if peer_names.is_empty() {
                            "none are configured".to_owned()
                        } else {
                            format!("configured: {}", peer_names.join(", "))
                        };
                        self.err(&pp(), format!("no peer named \"{n}\" ({known})"));
                    } else if out.contains(&n) {
                        self.err(&pp(), format!("peer \"{n}\" is listed twice"));
                    } else {
                        out.push(n);
                    }
                }
                PeerSelection::Only(self.lists.peers.share_borrowed(&out))
            }
        };
        let health = r
            .health
            .and_then(|h| self.health(h, &path.key("health")))
            .map(Box::new);
        Some(Service {
            name: name?,
            prefix: prefix?,
            nexthops,
            communities,
            large_communities,
            med,
            local_pref,
            as_path_prepend,
            weight,
            peers,
            health,
        })
    }

    /// `path` gives the list's key path; it is built only for an error.
    pub(super) fn communities(
        &mut self,
        path: impl Fn() -> FieldPath,
        list: Option<&[String]>,
    ) -> Vec<bgp_proto::Community> {
        self.parse_list(
            path,
            list.unwrap_or_default().iter().map(String::as_str),
            parse_community,
        )
    }

    /// Each item of a list parsed with `parse`, an error at `path[i]` for each that fails.
    fn parse_list<'s, T, C: Default + Extend<T>>(
        &mut self,
        path: impl Fn() -> FieldPath,
        items: impl Iterator<Item = &'s str>,
        parse: fn(&str) -> Result<T, String>,
    ) -> C {
        let mut out = C::default();
        for (i, s) in items.enumerate() {
            if let Some(v) = self.check_at(|| path().index(i), parse(s)) {
                out.extend(Some(v));
            }
        }
        out
    }

    pub(super) fn u32_value(&mut self, path: impl FnOnce() -> FieldPath, v: i64) -> Option<u32> {
        self.check_at(
            path,
            u32::try_from(v).map_err(|_| format!("must be 0..=4294967295, got {v}")),
        )
    }

    pub(super) fn prepend(&mut self, path: impl FnOnce() -> FieldPath, v: Option<i64>) -> u8 {
        match v {
            None => 0,
            Some(n) if (0..=MAX_AS_PATH_PREPEND).contains(&n) => n as u8,
            Some(n) => {
                self.err(
                    &path(),
                    format!("must be 0..={MAX_AS_PATH_PREPEND}, got {n}"),
                );
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
                    let expect_status = h.expect_status.map(Int::get).and_then(|s| {
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
        let mut count = |key: &'static str, v: Option<i64>| -> u32 {
            match v {
                None => DEFAULT_RISE_FALL,
                Some(n) if (1..=1000).contains(&n) => n as u32,
                Some(n) => {
                    self.err(&path.key(key), format!("must be 1..=1000, got {n}"));
                    DEFAULT_RISE_FALL
                }
            }
        };
        let rise = count("rise", h.rise.map(Int::get));
        let fall = count("fall", h.fall.map(Int::get));
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
        let med = d
            .med
            .map(Int::get)
            .and_then(|m| self.u32_value(|| path.key("med"), m));
        let communities = self.communities(|| path.key("communities"), d.communities.as_deref());
        let as_path_prepend = self.prepend(
            || path.key("as_path_prepend"),
            d.as_path_prepend.map(Int::get),
        );
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
}
