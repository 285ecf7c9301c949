//! Prometheus text exposition of the daemon's state.

use super::*;

impl Shared {
    pub(super) fn render_metrics(&self) -> String {
        let statuses = self.statuses();
        let st = self.lock();
        let mut w = TextWriter::default();
        let peers: Vec<&Peer> = st.config.peers.iter().collect();
        let status_of = |p: &Peer| statuses.get(&p.name);
        // Rows of the per-peer families: each configured peer under its name.
        let by_peer = || peers.iter().map(|p| (p.name.as_str(), *p));

        w.family(
            "bgpd_bgp_session_up",
            "gauge",
            "1 when the BGP session is Established (metallb_bgp_session_up).",
        );
        for p in &peers {
            let up = status_of(p).is_some_and(|s| s.state == FsmState::Established);
            // An unnumbered peer's address is the one learned from the link.
            let address = match (p.unnumbered(), status_of(p)) {
                (Some(_), Some(s)) => s.address,
                _ => p.address,
            };
            w.sample(
                "bgpd_bgp_session_up",
                &[("peer", &p.name), ("address", &address.to_string())],
                u8::from(up),
            );
        }
        w.family(
            "bgpd_bgp_session_state",
            "gauge",
            "1 for the session's current FSM state (RFC 4271 §8.2.2).",
        );
        for p in &peers {
            let cur = status_of(p).map(|s| s.state).unwrap_or(FsmState::Idle);
            for s in [
                FsmState::Idle,
                FsmState::Connect,
                FsmState::Active,
                FsmState::OpenSent,
                FsmState::OpenConfirm,
                FsmState::Established,
            ] {
                w.sample(
                    "bgpd_bgp_session_state",
                    &[("peer", &p.name), ("state", &format!("{s:?}"))],
                    u8::from(s == cur),
                );
            }
        }
        w.per_peer(
            (
                "bgpd_bgp_session_flaps_total",
                "counter",
                "Times the session went down after being Established.",
            ),
            by_peer(),
            |p| status_of(p).map(|s| s.flaps).unwrap_or(0),
        );
        // Unnumbered peers' links (RFC 4861 Router Advertisements).
        use std::sync::atomic::Ordering::Relaxed;
        let links: Vec<(&Peer, &crate::unnumbered::LinkStats)> = peers
            .iter()
            .filter_map(|p| Some((*p, status_of(p)?.link.as_ref()?)))
            .collect();
        w.family(
            "bgpd_unnumbered_router_adverts_total",
            "counter",
            "IPv6 Router Advertisements on an unnumbered peer's link (RFC 4861), by direction.",
        );
        for (p, link) in &links {
            for (dir, v) in [
                ("sent", link.counters.adverts_sent.load(Relaxed)),
                ("received", link.counters.adverts_received.load(Relaxed)),
            ] {
                w.sample(
                    "bgpd_unnumbered_router_adverts_total",
                    &[("peer", &p.name), ("direction", dir)],
                    v,
                );
            }
        }
        w.family(
            "bgpd_unnumbered_nd_dropped_total",
            "counter",
            "ICMPv6 messages on an unnumbered peer's link dropped by the RFC 4861 §6.1 checks.",
        );
        for (p, link) in &links {
            w.sample(
                "bgpd_unnumbered_nd_dropped_total",
                &[("peer", &p.name)],
                link.counters.dropped.load(Relaxed),
            );
        }
        w.per_peer(
            (
                "bgpd_bgp_connect_failures",
                "gauge",
                "Failed outbound connection attempts in a row (0 once the session is Established).",
            ),
            by_peer(),
            |p| {
                status_of(p)
                    .and_then(|s| s.connect_error.as_ref())
                    .map_or(0, |c| c.attempts)
            },
        );
        for (name, help, dir) in [
            (
                "bgpd_bgp_messages_sent_total",
                "BGP messages sent, by type.",
                true,
            ),
            (
                "bgpd_bgp_messages_received_total",
                "BGP messages received, by type.",
                false,
            ),
        ] {
            w.family(name, "counter", help);
            for p in &peers {
                let c = status_of(p)
                    .map(|s| {
                        if dir {
                            s.counters.messages_out
                        } else {
                            s.counters.messages_in
                        }
                    })
                    .unwrap_or_default();
                for (t, v) in [
                    ("open", c.open),
                    ("update", c.update),
                    ("notification", c.notification),
                    ("keepalive", c.keepalive),
                    ("route_refresh", c.route_refresh),
                ] {
                    w.sample(name, &[("peer", &p.name), ("type", t)], v);
                }
            }
        }
        w.per_peer(
            (
                "bgpd_bgp_updates_total",
                "counter",
                "UPDATE messages sent (metallb_bgp_updates_total).",
            ),
            by_peer(),
            |p| {
                status_of(p)
                    .map(|s| s.counters.messages_out.update)
                    .unwrap_or(0)
            },
        );
        w.per_peer(
            (
                "bgpd_bgp_updates_received_total",
                "counter",
                "UPDATE messages received (metallb_bgp_updates_total_received).",
            ),
            by_peer(),
            |p| {
                status_of(p)
                    .map(|s| s.counters.messages_in.update)
                    .unwrap_or(0)
            },
        );
        w.family(
            "bgpd_bgp_received_routes_not_kept_total",
            "counter",
            "Received routes not kept, by reason: import_policy (refused by the import \
             policy), as_loop (RFC 4271 §9.1.2), next_hop (RFC 4271 §6.3).",
        );
        for p in &peers {
            let c = status_of(p).map(|s| s.counters).unwrap_or_default();
            for (reason, v) in [
                ("import_policy", c.import_rejected),
                ("as_loop", c.own_as_loops),
                ("next_hop", c.rejected_next_hop),
            ] {
                w.sample(
                    "bgpd_bgp_received_routes_not_kept_total",
                    &[("peer", &p.name), ("reason", reason)],
                    v,
                );
            }
        }
        w.per_peer(
            (
                "bgpd_bgp_announced_prefixes_total",
                "gauge",
                "Routes in the Adj-RIB-Out (metallb_bgp_announced_prefixes_total).",
            ),
            by_peer(),
            |p| status_of(p).map(|s| s.routes_out).unwrap_or(0),
        );
        w.per_peer(
            (
                "bgpd_bgp_received_prefixes",
                "gauge",
                "Routes in the Adj-RIB-In.",
            ),
            by_peer(),
            |p| status_of(p).map(|s| s.routes_in).unwrap_or(0),
        );
        w.per_peer(
            (
                "bgpd_bgp_pending_prefixes_total",
                "gauge",
                "Desired routes not yet in the Adj-RIB-Out (metallb_bgp_pending_prefixes_total).",
            ),
            by_peer(),
            |p| {
                status_of(p)
                    .filter(|s| s.state == FsmState::Established)
                    .map(|s| s.routes_desired.abs_diff(s.routes_out))
                    .unwrap_or(0)
            },
        );
        w.per_peer(
            (
                "bgpd_bgp_update_queue_depth",
                "gauge",
                "Route changes (NLRI) decided but not yet seen leaving in an UPDATE.",
            ),
            by_peer(),
            |p| status_of(p).map(|s| s.unsent_nlri).unwrap_or(0),
        );
        w.family(
            "bgpd_service_health",
            "gauge",
            "1 when a health-checked target is up, 0 otherwise.",
        );
        for (name, h) in &st.health {
            for t in &h.targets {
                let nh = t
                    .target
                    .nexthop
                    .and_then(|i| h.nexthops.get(i))
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "service".into());
                let up = !h.disabled && t.machine.state() == Health::Up;
                w.sample(
                    "bgpd_service_health",
                    &[("service", name), ("nexthop", &nh)],
                    u8::from(up),
                );
            }
        }
        w.family(
            "bgpd_service_announced",
            "gauge",
            "1 when the service is announced (possibly demoted), 0 when withheld.",
        );
        for (svc, source) in st.configured_services() {
            let on = matches!(st.verdict(svc, source), Verdict::Announce { .. });
            w.sample(
                "bgpd_service_announced",
                &[("service", &svc.name), ("source", source.as_str())],
                u8::from(on),
            );
        }
        // Runtime services are named after their prefix and withheld only when drained;
        // written straight from the table (there may be 100k of them).
        let runtime_on = u8::from(st.drain != DrainPhase::Drained);
        for (prefix, _) in st.runtime.iter() {
            w.sample(
                "bgpd_service_announced",
                &[
                    ("service", &prefix.to_string()),
                    ("source", Source::Runtime.as_str()),
                ],
                runtime_on,
            );
        }
        w.family(
            "bgpd_drain_state",
            "gauge",
            "0 normal, 1 draining (GRACEFUL_SHUTDOWN), 2 drained.",
        );
        let d = match st.drain {
            DrainPhase::Normal => 0,
            DrainPhase::Draining { .. } => 1,
            DrainPhase::Drained => 2,
        };
        w.sample("bgpd_drain_state", &[], d);
        w.family(
            "bgpd_update_latency_seconds",
            "histogram",
            "Time from a desired change (API, health verdict, reload, drain) to the UPDATE written to the socket.",
        );
        for cause in Cause::ALL {
            let h = st.latency.get(&cause).cloned().unwrap_or_default();
            h.write(
                &mut w,
                "bgpd_update_latency_seconds",
                &format!("cause=\"{}\"", cause.as_str()),
            );
        }
        w.family(
            "bgpd_update_latency_median_seconds",
            "gauge",
            "Median of the last 1024 change-to-UPDATE latencies.",
        );
        for (cause, h) in &st.latency {
            if let Some(m) = h.median() {
                w.sample(
                    "bgpd_update_latency_median_seconds",
                    &[("cause", cause.as_str())],
                    m.as_secs_f64(),
                );
            }
        }
        w.family(
            "bgpd_uptime_seconds",
            "gauge",
            "Seconds since bgpd started.",
        );
        w.sample("bgpd_uptime_seconds", &[], self.started.elapsed().as_secs());
        drop(st);
        self.render_bfd_metrics(&mut w);
        if let Some(fib) = self.fib.lock().ok().and_then(|f| f.clone()) {
            w.out.push_str(&fib.metrics());
        }
        w.out
    }
}
