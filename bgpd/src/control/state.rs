//! What each service means right now (configured, runtime, health, drain), and the helpers
//! that render it.

use super::*;

impl State {
    /// Configured services, minus those a runtime service replaces.
    pub(super) fn configured_services(&self) -> impl Iterator<Item = (&Service, Source)> {
        self.config
            .services
            .iter()
            .filter(|s| self.is_configured(s))
            .map(|s| (s, Source::Config))
    }

    /// A configured service that no runtime service replaces.
    pub(super) fn is_configured(&self, s: &Service) -> bool {
        self.runtime.is_empty() || !self.runtime.contains(&s.prefix.trunc())
    }

    /// Configured services (minus those a runtime service replaces) and runtime services.
    pub(super) fn all_services(&self) -> Vec<(Service, Source)> {
        let mut out: Vec<(Service, Source)> = self
            .configured_services()
            .map(|(s, source)| (s.clone(), source))
            .collect();
        out.extend(
            self.runtime
                .iter()
                .map(|(p, spec)| (RuntimeTable::service(p, spec), Source::Runtime)),
        );
        out
    }

    /// The services with `prefix` (at most one configured and one runtime one, which then
    /// replaces it).
    pub(super) fn services_with_prefix(&self, prefix: IpNet) -> Vec<(Service, Source)> {
        if let Some(spec) = self.runtime.get(&prefix) {
            return vec![(RuntimeTable::service(&prefix, spec), Source::Runtime)];
        }
        self.config
            .services
            .iter()
            .filter(|s| s.prefix.trunc() == prefix)
            .map(|s| (s.clone(), Source::Config))
            .collect()
    }

    /// Since when a service has been in its current state.
    pub(super) fn since(&self, svc: &Service, source: Source) -> Option<SystemTime> {
        if source == Source::Runtime {
            let spec = self.runtime.get(&svc.prefix.trunc())?;
            return Some(if self.drain_since > spec.since {
                self.drain_since
            } else {
                spec.since
            });
        }
        let i = self
            .config
            .services
            .iter()
            .position(|s| s.name == svc.name)?;
        self.service_since.since(i)
    }

    /// What the peers should announce now. Without health checks, `bgpctl withdraw`s,
    /// drain or runtime services replacing configured ones, that is the configuration's own
    /// service list, shared rather than copied.
    pub(super) fn effective(&self) -> Announcements {
        let as_configured = self.drain == DrainPhase::Normal
            && self.suppressed.is_empty()
            && self.health.is_empty()
            && self.configured_services().count() == self.config.services.len();
        let services = if as_configured {
            self.config.services.clone()
        } else {
            Arc::new(
                self.configured_services()
                    .filter_map(|(s, source)| match self.verdict(s, source) {
                        Verdict::Announce { service, .. } => Some(service.into_owned()),
                        Verdict::Withheld(_) => None,
                    })
                    .collect(),
            )
        };
        let runtime_mode = match self.drain {
            DrainPhase::Normal => RuntimeMode::Normal,
            DrainPhase::Draining { .. } => RuntimeMode::GracefulShutdown,
            DrainPhase::Drained => RuntimeMode::Withheld,
        };
        Announcements {
            services,
            runtime: self.runtime.clone(),
            runtime_mode,
            complete: self.routes_complete(),
            drained_peers: self.drained_peers.clone(),
            decision: None,
        }
    }

    /// The announce policy's verdict on `svc` now ([`policy::verdict`] with this state).
    pub(super) fn verdict<'a>(&'a self, svc: &'a Service, source: Source) -> Verdict<'a> {
        let drain = match self.drain {
            DrainPhase::Normal => DrainStep::Normal,
            DrainPhase::Draining { .. } => DrainStep::Draining,
            DrainPhase::Drained => DrainStep::Drained,
        };
        let configured = source == Source::Config;
        let health = self
            .health
            .get(&svc.name)
            .filter(|_| configured)
            .map(|h| HealthInput {
                on_fail: &h.check.on_fail,
                disabled: h.disabled,
                disable_file: h.check.disable_file.as_deref(),
                targets: h
                    .targets
                    .iter()
                    .map(|t| (&t.target, t.machine.state()))
                    .collect(),
            });
        let inputs = policy::Inputs {
            source,
            drain,
            suppressed: configured && self.suppressed.contains_key(&svc.prefix.trunc()),
            health,
        };
        policy::verdict(svc, &inputs)
    }
}

/// Prefixes for an event line, given in order (equal ones adjacent): up to 8 named (in text
/// order), else counted.
pub(super) fn list_sorted(items: impl Iterator<Item = IpNet>) -> String {
    let mut summary = announce::PrefixSummary::default();
    for p in items {
        summary.add(p);
    }
    summary.describe().unwrap_or_default()
}

pub(super) fn peer_list(sel: &PeerSelection) -> String {
    match sel {
        PeerSelection::All => "all".into(),
        PeerSelection::Only(v) if v.is_empty() => "(none)".into(),
        PeerSelection::Only(v) => v.join(", "),
    }
}

pub(super) fn probe_kind(p: &Probe) -> &'static str {
    match p {
        Probe::Tcp { .. } => "tcp",
        Probe::Http { .. } => "http",
        Probe::Exec { .. } => "exec",
    }
}

pub(super) fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let p: IpNet = match s.parse() {
        Ok(p) => p,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => return Err(format!("invalid prefix {s:?}")),
        },
    };
    if p.trunc() != p {
        return Err(format!(
            "invalid prefix {s}: host bits set (did you mean {}?)",
            p.trunc()
        ));
    }
    Ok(p)
}

/// The runtime service `args` ask for (its `prefix` is not read) for `prefixes` (not
/// empty), named after the first: every explicit next hop must be of each prefix's family.
pub(super) fn runtime_service(
    args: &api::AnnounceArgs,
    prefixes: &[IpNet],
    config: &Config,
) -> Result<Service, String> {
    let Some(&prefix) = prefixes.first() else {
        return Err("no prefix given".into());
    };
    let mut nexthops = Vec::new();
    for nh in &args.nexthops {
        if nh == "self" {
            nexthops.push(NextHopSpec::Local);
        } else {
            let a: IpAddr = nh.parse().map_err(|_| format!("invalid next hop {nh:?}"))?;
            if let Some(p) = prefixes.iter().find(|p| a.is_ipv4() != p.addr().is_ipv4()) {
                return Err(format!("next hop {a} is not of the family of {p}"));
            }
            nexthops.push(NextHopSpec::Addr(a));
        }
    }
    if nexthops.is_empty() {
        nexthops.push(NextHopSpec::Local);
    }
    let communities = args
        .communities
        .iter()
        .map(|c| crate::config::parse_community(c))
        .collect::<Result<Vec<_>, _>>()?;
    let large_communities = args
        .large_communities
        .iter()
        .map(|c| crate::config::parse_large_community(c))
        .collect::<Result<Vec<_>, _>>()?;
    for p in &args.peers {
        if config.peer(p).is_none() {
            return Err(format!("no peer named {p:?}"));
        }
    }
    Ok(Service {
        name: prefix.to_string(),
        prefix,
        nexthops: nexthops.into(),
        communities: communities.into(),
        large_communities: large_communities.into(),
        med: args.med,
        local_pref: args.local_pref,
        as_path_prepend: 0,
        weight: None,
        peers: if args.peers.is_empty() {
            PeerSelection::All
        } else {
            PeerSelection::Only(args.peers.as_slice().into())
        },
        health: None,
    })
}

pub(super) fn route_info(
    peer: &str,
    direction: &str,
    nlri: &Nlri,
    next_hop: &NextHop,
    attrs: &PathAttributes,
    service: Option<String>,
) -> api::RouteInfo {
    api::RouteInfo {
        peer: peer.to_string(),
        direction: direction.to_string(),
        prefix: nlri.prefix.to_string(),
        path_id: nlri.path_id,
        next_hop: match next_hop {
            NextHop::V4(a) => a.to_string(),
            NextHop::V6 {
                global,
                link_local: None,
            } => global.to_string(),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => format!("{global} ({ll})"),
        },
        origin: match attrs.origin {
            Origin::Igp => "igp",
            Origin::Egp => "egp",
            Origin::Incomplete => "incomplete",
        }
        .to_string(),
        as_path: attrs.as_path.to_string(),
        med: attrs.med,
        local_pref: attrs.local_pref,
        communities: attrs.communities.iter().map(ToString::to_string).collect(),
        large_communities: attrs
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect(),
        service,
    }
}

pub(super) fn neighbor_info(
    config: &Config,
    p: &Peer,
    status: Option<&PeerStatus>,
    queue_depth: usize,
    drained: bool,
) -> api::Neighbor {
    let fams = |v: &[bgp_proto::Family]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let local = api::SideCapabilities {
        hold_time: p.hold_time.secs(),
        families: fams(&p.families),
        add_path: if p.add_path {
            fams(&p.families)
        } else {
            Vec::new()
        },
        graceful_restart: p
            .graceful_restart
            .map(|g| g.restart_time.as_secs().min(4095) as u16),
        route_refresh: true,
        extended_message: true,
    };
    let negotiated = status.and_then(|s| s.negotiated.as_ref());
    let remote = negotiated.map(|n| api::SideCapabilities {
        hold_time: n.peer_hold_time,
        families: fams(&n.families),
        add_path: {
            let mut v = fams(&n.add_path_receive);
            v.extend(
                fams(&n.add_path_send)
                    .into_iter()
                    .map(|f| format!("{f} (receive)")),
            );
            v
        },
        graceful_restart: n.peer_graceful_restart.as_ref().map(|g| g.restart_time),
        route_refresh: n.route_refresh,
        extended_message: n.extended_message,
    });
    let neg = negotiated.map(|n| api::NegotiatedInfo {
        hold_time: n.hold_time,
        keepalive: n.keepalive,
        families: fams(&n.families),
        add_path_send: fams(&n.add_path_send),
        add_path_receive: fams(&n.add_path_receive),
        four_octet_as: n.four_octet_as,
        extended_message: n.extended_message,
        extended_next_hop: fams(&n.extended_next_hop),
        peer_id: n.peer_id.to_string(),
    });
    let last_down = status.and_then(|s| s.last_down.as_ref());
    let info = |n: Option<&Notification>| {
        let reason = &last_down?.reason;
        Some(notification_info(n?, reason.shutdown_message.as_deref()))
    };
    let sent = info(last_down.and_then(|d| d.reason.sent.as_ref()));
    let received = info(last_down.and_then(|d| d.reason.received.as_ref()));
    let last_down = last_down.map(|d| d.sentence.clone());
    let up = status.is_some_and(|s| s.state == FsmState::Established);
    api::Neighbor {
        name: p.name.clone(),
        // An unnumbered peer: the neighbor's address once learned from the link, `::` before.
        address: match (p.unnumbered(), status) {
            (Some(_), Some(s)) => s.address.to_string(),
            _ => p.address.to_string(),
        },
        asn: p.asn.0,
        local_asn: p.local_asn(&config.global).0,
        ibgp: p.ibgp,
        state: match status {
            Some(s) => format!("{:?}", s.state),
            None if drained => "Idle (drained)".into(),
            None => "Idle (stopped)".into(),
        },
        uptime_secs: if up {
            status
                .and_then(|s| s.established_since)
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        } else {
            0
        },
        established_since: status.and_then(|s| s.established_since).map(unix_secs),
        local_address: status.and_then(|s| s.local_address).map(|a| a.to_string()),
        local,
        remote,
        negotiated: neg,
        messages_in: status.map(|s| s.counters.messages_in).unwrap_or_default(),
        messages_out: status.map(|s| s.counters.messages_out).unwrap_or_default(),
        prefixes_announced: status.map(|s| s.routes_out).unwrap_or(0),
        prefixes_received: status.map(|s| s.routes_in).unwrap_or(0),
        import_policy: p.import.to_string(),
        routes_import_rejected: status.map(|s| s.counters.import_rejected).unwrap_or(0),
        routes_looped: status.map(|s| s.counters.own_as_loops).unwrap_or(0),
        routes_rejected_next_hop: status.map(|s| s.counters.rejected_next_hop).unwrap_or(0),
        flaps: status.map(|s| s.flaps).unwrap_or(0),
        last_error: last_down,
        connect_error: status.and_then(|s| s.connect_error.as_ref()).map(|c| {
            api::ConnectErrorInfo {
                error: c.error.clone(),
                at: unix_secs(c.at),
                attempts: c.attempts,
            }
        }),
        last_notification_sent: sent,
        last_notification_received: received,
        queue_depth,
        drained: status.is_none() && drained,
        admin_down: None,
        peer_drained: false,
        bfd: None,
        unnumbered: status.and_then(|s| s.link.as_ref()).map(|l| {
            use std::sync::atomic::Ordering::Relaxed;
            api::UnnumberedInfo {
                interface: l.interface.clone(),
                adverts_sent: l.counters.adverts_sent.load(Relaxed),
                adverts_received: l.counters.adverts_received.load(Relaxed),
                solicitations_received: l.counters.solicitations_received.load(Relaxed),
                dropped: l.counters.dropped.load(Relaxed),
            }
        }),
    }
}

/// A NOTIFICATION as `bgpctl neighbor` shows it: "6/2", or "6/9 (hard reset of 6/2)" for a
/// Hard Reset (RFC 8538 §3), with the Shutdown Communication of a Cease / Administrative
/// Shutdown or Reset (RFC 9003), also inside a Hard Reset. `described`: the session's own
/// reading of it (bgp-fsm replaces control characters, and describes a malformed one).
pub(super) fn notification_info(
    n: &Notification,
    described: Option<&str>,
) -> api::NotificationInfo {
    let inner = n.hard_reset_inner();
    let code = match &inner {
        Some(i) => format!(
            "{}/{} (hard reset of {}/{})",
            n.code.0, n.subcode, i.code.0, i.subcode
        ),
        None => format!("{}/{}", n.code.0, n.subcode),
    };
    let carrier = inner.as_ref().unwrap_or(n);
    let shutdown_message = carrier
        .shutdown_message()
        .map(|m| m.ok().or_else(|| described.map(str::to_string)))
        .unwrap_or(None);
    api::NotificationInfo {
        code,
        shutdown_message,
    }
}
