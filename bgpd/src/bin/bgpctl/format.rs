//! `bgpctl` output: the readable tables and texts printed for each response (without
//! `--json`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bgpd::api::{
    self, EventInfo, Explanation, HumanDuration, Neighbor, RouteInfo, RuntimeInfo, ServiceInfo,
};

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(&c);
            } else {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                out.push_str(&c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
    out
}

fn ago(unix_secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{} ago",
        HumanDuration(Duration::from_secs(now.saturating_sub(unix_secs)))
    )
}

pub(crate) fn neighbors_table(list: &[Neighbor]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.address.clone(),
                n.asn.to_string(),
                n.state.clone(),
                if n.state == "Established" {
                    HumanDuration(Duration::from_secs(n.uptime_secs)).to_string()
                } else {
                    "-".into()
                },
                n.prefixes_announced.to_string(),
                n.prefixes_received.to_string(),
                format!("{}/{}", n.messages_in.total(), n.messages_out.total()),
                n.flaps.to_string(),
                match (&n.connect_error, &n.last_error) {
                    (Some(c), _) if n.state != "Established" => {
                        format!("connect: {} (x{})", c.error, c.attempts)
                    }
                    (_, e) => e.clone().unwrap_or_default(),
                },
            ]
        })
        .collect();
    table(
        &[
            "PEER",
            "ADDRESS",
            "AS",
            "STATE",
            "UPTIME",
            "OUT",
            "IN",
            "MSGS IN/OUT",
            "FLAPS",
            "LAST ERROR",
        ],
        &rows,
    )
}

/// The BFD lines of `bgpctl neighbor` (issue 12).
fn bfd_detail(b: &bgpd::api::BfdInfo, kv: &mut impl FnMut(&str, String)) {
    let ms = |us: u64| {
        if us.is_multiple_of(1000) {
            format!("{}ms", us / 1000)
        } else {
            format!("{:.3}ms", us as f64 / 1000.0)
        }
    };
    kv(
        "BFD state",
        format!(
            "{} for {} (router: {}), {} state change{}",
            b.state,
            HumanDuration(Duration::from_secs(b.state_secs)),
            b.remote_state,
            b.state_changes,
            bgpd::events::plural(b.state_changes)
        ),
    );
    if let Some(w) = &b.waiting {
        kv("BFD waiting", w.clone());
    }
    kv(
        "BFD configured",
        format!(
            "min_rx {}, min_tx {}, multiplier {}{}{}",
            ms(b.min_rx_us),
            ms(b.min_tx_us),
            b.multiplier,
            if b.passive { ", passive" } else { "" },
            b.profile
                .as_ref()
                .map(|p| format!(" (profile {p})"))
                .unwrap_or_default()
        ),
    );
    kv(
        "BFD negotiated",
        format!(
            "tx {}, rx {}, detection time {} (router multiplier {})",
            ms(b.tx_interval_us),
            if b.rx_interval_us == 0 {
                "-".into()
            } else {
                ms(b.rx_interval_us)
            },
            if b.detection_time_us == 0 {
                "-".into()
            } else {
                ms(b.detection_time_us)
            },
            b.remote_multiplier
                .map(|m| m.to_string())
                .unwrap_or("-".into())
        ),
    );
    kv("BFD last diagnostic", b.diagnostic.clone());
    kv(
        "BFD discriminators",
        format!(
            "local {}, remote {}{}",
            b.local_discriminator,
            b.remote_discriminator,
            b.local_address
                .as_ref()
                .map(|a| format!(", from {a}"))
                .unwrap_or_default()
        ),
    );
    kv(
        "BFD packets",
        format!(
            "{} sent, {} received, {} discarded",
            b.packets_out, b.packets_in, b.packets_dropped
        ),
    );
}

pub(crate) fn neighbor_detail(n: &Neighbor) -> String {
    let mut s = String::new();
    let mut kv = |k: &str, v: String| s.push_str(&format!("{k:<24}{v}\n"));
    kv("peer", format!("{} ({})", n.name, n.address));
    kv(
        "AS",
        format!(
            "{} ({}, local AS {})",
            n.asn,
            if n.ibgp { "iBGP" } else { "eBGP" },
            n.local_asn
        ),
    );
    kv("state", n.state.clone());
    if let Some(m) = &n.admin_down {
        kv(
            "admin",
            if m.is_empty() {
                "shut down (bgpctl neighbor NAME enable)".to_string()
            } else {
                format!("shut down: \"{m}\" (bgpctl neighbor NAME enable)")
            },
        );
    }
    if n.peer_drained {
        kv(
            "admin",
            "drained: routes carry GRACEFUL_SHUTDOWN (bgpctl neighbor NAME undrain)".into(),
        );
    }
    if n.state == "Established" {
        kv(
            "uptime",
            HumanDuration(Duration::from_secs(n.uptime_secs)).to_string(),
        );
    }
    if let Some(a) = &n.local_address {
        kv("local address", a.clone());
    }
    if let Some(neg) = &n.negotiated {
        kv("peer id", neg.peer_id.clone());
        kv(
            "hold / keepalive",
            format!("{}s / {}s (negotiated)", neg.hold_time, neg.keepalive),
        );
        kv("families", neg.families.join(" "));
        kv("add-path send", join_or_none(&neg.add_path_send));
        kv("add-path receive", join_or_none(&neg.add_path_receive));
        kv("4-octet AS", yes(neg.four_octet_as));
        kv("extended message", yes(neg.extended_message));
        kv("extended next hop", join_or_none(&neg.extended_next_hop));
    }
    kv(
        "local capabilities",
        format!(
            "hold {}s, families {}, add-path {}, graceful restart {}, route refresh {}",
            n.local.hold_time,
            n.local.families.join(" "),
            join_or_none(&n.local.add_path),
            n.local
                .graceful_restart
                .map(|t| format!("{t}s"))
                .unwrap_or("off".into()),
            yes(n.local.route_refresh)
        ),
    );
    if let Some(r) = &n.remote {
        kv(
            "peer capabilities",
            format!(
                "hold {}s, families {}, add-path {}, graceful restart {}, route refresh {}",
                r.hold_time,
                r.families.join(" "),
                join_or_none(&r.add_path),
                r.graceful_restart
                    .map(|t| format!("{t}s"))
                    .unwrap_or("off".into()),
                yes(r.route_refresh)
            ),
        );
    }
    kv(
        "prefixes",
        format!(
            "{} announced, {} received",
            n.prefixes_announced, n.prefixes_received
        ),
    );
    kv("import policy", n.import_policy.clone());
    kv(
        "routes not kept",
        format!(
            "{} refused by the import policy, {} looped routes discarded, {} rejected next hops",
            n.routes_import_rejected, n.routes_looped, n.routes_rejected_next_hop
        ),
    );
    kv("flaps", n.flaps.to_string());
    kv("update queue", n.queue_depth.to_string());
    if let Some(b) = &n.bfd {
        bfd_detail(b, &mut kv);
    }
    if let Some(u) = &n.unnumbered {
        kv(
            "unnumbered",
            format!(
                "on {}: router advertisements {} sent, {} received, {} solicitations, {} \
                 dropped (RFC 4861 §6.1)",
                u.interface,
                u.adverts_sent,
                u.adverts_received,
                u.solicitations_received,
                u.dropped
            ),
        );
    }
    if let Some(e) = &n.last_error {
        kv("last error", e.clone());
    }
    if let Some(c) = &n.connect_error {
        kv(
            "connect error",
            format!(
                "{} ({} attempt{} in a row, last {})",
                c.error,
                c.attempts,
                if c.attempts == 1 { "" } else { "s" },
                ago(c.at)
            ),
        );
    }
    for (what, v) in [
        ("last NOTIFICATION sent", &n.last_notification_sent),
        ("last NOTIFICATION recv", &n.last_notification_received),
    ] {
        if let Some(x) = v {
            kv(
                what,
                match &x.shutdown_message {
                    Some(m) => format!("{} \"{m}\"", x.code),
                    None => x.code.clone(),
                },
            );
        }
    }
    s.push('\n');
    let rows: Vec<Vec<String>> = [
        ("OPEN", n.messages_in.open, n.messages_out.open),
        ("UPDATE", n.messages_in.update, n.messages_out.update),
        (
            "NOTIFICATION",
            n.messages_in.notification,
            n.messages_out.notification,
        ),
        (
            "KEEPALIVE",
            n.messages_in.keepalive,
            n.messages_out.keepalive,
        ),
        (
            "ROUTE-REFRESH",
            n.messages_in.route_refresh,
            n.messages_out.route_refresh,
        ),
        ("total", n.messages_in.total(), n.messages_out.total()),
    ]
    .iter()
    .map(|(t, i, o)| vec![t.to_string(), i.to_string(), o.to_string()])
    .collect();
    s.push_str(&table(&["MESSAGES", "RECEIVED", "SENT"], &rows));
    s
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn join_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

fn route_rows(routes: &[RouteInfo]) -> Vec<Vec<String>> {
    routes
        .iter()
        .map(|r| {
            let mut attrs = Vec::new();
            if let Some(m) = r.med {
                attrs.push(format!("med {m}"));
            }
            if let Some(l) = r.local_pref {
                attrs.push(format!("local-pref {l}"));
            }
            if !r.communities.is_empty() {
                attrs.push(format!("communities {}", r.communities.join(" ")));
            }
            if !r.large_communities.is_empty() {
                attrs.push(format!("large {}", r.large_communities.join(" ")));
            }
            vec![
                r.peer.clone(),
                r.direction.clone(),
                r.prefix.clone(),
                r.path_id.map(|p| p.to_string()).unwrap_or("-".into()),
                r.next_hop.clone(),
                if r.as_path.is_empty() {
                    "(empty)".into()
                } else {
                    r.as_path.clone()
                },
                r.origin.clone(),
                attrs.join(", "),
            ]
        })
        .collect()
}

pub(crate) fn routes_table(routes: &[RouteInfo]) -> String {
    if routes.is_empty() {
        return "no routes\n".into();
    }
    table(
        &[
            "PEER",
            "DIR",
            "PREFIX",
            "PATH",
            "NEXT HOP",
            "AS PATH",
            "ORIGIN",
            "ATTRIBUTES",
        ],
        &route_rows(routes),
    )
}

/// `routes --best`: one row per path, the prefix and its forwarding set on the first.
pub(crate) fn fib_table(v: &api::FibView) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "table {} protocol {}: {} route(s), {} group(s), {} next hop(s){}{}\n",
        v.table,
        v.protocol,
        v.routes.len(),
        v.groups,
        v.nexthops,
        if v.swept {
            String::new()
        } else {
            format!(", {} adopted route(s) awaiting convergence", v.adopted)
        },
        if v.unreachable.is_empty() {
            String::new()
        } else {
            format!(", unusable next hops: {}", v.unreachable.join(" "))
        }
    );
    let _ = writeln!(
        s,
        "{:<20} {:<12} {:<10} NEXT HOPS (weight)",
        "PREFIX", "GROUP", "TYPE"
    );
    for r in &v.routes {
        let hops: Vec<String> = r
            .next_hops
            .iter()
            .map(|m| format!("{} ({})", m.next_hop, m.weight))
            .collect();
        let _ = writeln!(
            s,
            "{:<20} {:<12} {:<10} {}",
            r.prefix,
            r.group.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
            r.kind,
            hops.join(", ")
        );
    }
    s
}

pub(crate) fn loc_rib_table(entries: &[api::LocRibEntry]) -> String {
    if entries.is_empty() {
        return "no received routes in the Loc-RIB\n".into();
    }
    let mut rows = Vec::new();
    for e in entries {
        for (i, p) in e.paths.iter().enumerate() {
            rows.push(vec![
                if i == 0 {
                    e.prefix.clone()
                } else {
                    String::new()
                },
                p.peer.clone(),
                p.path_id.map(|p| p.to_string()).unwrap_or("-".into()),
                p.next_hop.clone(),
                if p.as_path.is_empty() {
                    "(empty)".into()
                } else {
                    p.as_path.clone()
                },
                p.local_pref.to_string(),
                p.med.map(|m| m.to_string()).unwrap_or("-".into()),
                p.weight.map(|w| w.to_string()).unwrap_or("-".into()),
                match &p.reason {
                    Some(r) => format!("not multipath: {r}"),
                    None => p.status.clone(),
                },
            ]);
        }
    }
    let mut s = table(
        &[
            "PREFIX", "PEER", "PATH", "NEXT HOP", "AS PATH", "LP", "MED", "WEIGHT", "STATUS",
        ],
        &rows,
    );
    for e in entries {
        s.push_str(&format!("{}: {}\n", e.prefix, loc_rib_summary(e)));
    }
    s
}

/// "3 next hops (equal): 10.0.0.1 10.0.0.2 10.0.0.3", or "no usable path".
fn loc_rib_summary(e: &api::LocRibEntry) -> String {
    if e.next_hops.is_empty() {
        return "no usable path".into();
    }
    format!(
        "{} next hop{} ({}): {}",
        e.next_hops.len(),
        if e.next_hops.len() == 1 { "" } else { "s" },
        e.weighting,
        e.next_hops
            .iter()
            .map(|n| format!("{} weight {}", n.next_hop, n.weight))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(crate) fn services_table(list: &[ServiceInfo]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let health = if s.targets.is_empty() {
                "-".to_string()
            } else {
                s.targets
                    .iter()
                    .map(|t| format!("{}={}", t.nexthop, t.state))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            vec![
                s.name.clone(),
                s.prefix.clone(),
                s.source.clone(),
                s.nexthops.join(" "),
                health,
                s.state.clone(),
                if s.announced_to.is_empty() {
                    "-".into()
                } else {
                    s.announced_to.join(" ")
                },
            ]
        })
        .collect();
    table(
        &[
            "SERVICE",
            "PREFIX",
            "SOURCE",
            "NEXT HOPS",
            "HEALTH",
            "STATE",
            "ANNOUNCED TO",
        ],
        &rows,
    )
}

pub(crate) fn event_line(e: &EventInfo) -> String {
    let secs = e.ts_ms / 1000;
    let ms = e.ts_ms % 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let date = civil_date(secs / 86400);
    format!(
        "{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z  {:<12}  {}",
        e.kind, e.message
    )
}

/// Days since 1970-01-01 to "YYYY-MM-DD" (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

pub(crate) fn explain_text(x: &Explanation) -> String {
    let mut s = explain_announce_text(x);
    if let Some(e) = &x.loc_rib {
        s.push_str(&format!("  received (Loc-RIB): {}\n", loc_rib_summary(e)));
        for p in &e.paths {
            s.push_str(&format!(
                "    {} next hop {} as-path {} local-pref {}: {}{}\n",
                p.peer,
                p.next_hop,
                if p.as_path.is_empty() {
                    "(empty)"
                } else {
                    &p.as_path
                },
                p.local_pref,
                p.reason
                    .as_ref()
                    .map(|r| format!("not multipath: {r}"))
                    .unwrap_or_else(|| p.status.clone()),
                p.lost_at
                    .as_ref()
                    .map(|l| format!(" (lost the best path selection at {l})"))
                    .unwrap_or_default(),
            ));
        }
    }
    s
}

fn explain_announce_text(x: &Explanation) -> String {
    let mut s = format!(
        "{}: {}\n",
        x.prefix,
        if x.services.is_empty() {
            "no service".to_string()
        } else {
            format!("service {}", x.services.join(", "))
        }
    );
    for p in &x.peers {
        s.push_str(&format!(
            "  {}: {}{} — {}\n",
            p.peer,
            if p.announced {
                "announced"
            } else {
                "not announced"
            },
            p.since
                .map(|t| format!(" since {}", ago(t)))
                .unwrap_or_default(),
            p.reason
        ));
        for r in route_rows(&p.routes) {
            s.push_str(&format!(
                "      path {} next hop {} as-path {} {} {}\n",
                r[3], r[4], r[5], r[6], r[7]
            ));
        }
    }
    s
}

pub(crate) fn runtime_table(list: &[RuntimeInfo]) -> String {
    if list.is_empty() {
        return "no runtime services\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let mut attrs: Vec<String> = r.communities.clone();
            attrs.extend(r.large_communities.iter().cloned());
            attrs.extend(r.med.map(|m| format!("med {m}")));
            attrs.extend(r.local_pref.map(|l| format!("local-pref {l}")));
            vec![
                r.prefix.clone(),
                r.nexthops.join(","),
                if r.peers.is_empty() {
                    "all".into()
                } else {
                    r.peers.join(",")
                },
                if attrs.is_empty() {
                    "-".into()
                } else {
                    attrs.join(" ")
                },
                ago(r.since),
            ]
        })
        .collect();
    table(
        &["PREFIX", "NEXT HOPS", "PEERS", "ATTRIBUTES", "SINCE"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_414), "2025-11-22");
    }

    #[test]
    fn loc_rib_rows_show_members_and_reasons() {
        let path =
            |peer: &str, nh: &str, status: &str, reason: Option<&str>, weight| api::LocRibPath {
                peer: peer.into(),
                path_id: None,
                next_hop: nh.into(),
                as_path: "65001".into(),
                origin: "igp".into(),
                med: None,
                local_pref: 100,
                neighbour_as: 65001,
                session: "eBGP".into(),
                status: status.into(),
                reason_code: reason.map(|_| "as-path-length".into()),
                reason: reason.map(Into::into),
                lost_at: None,
                weight,
                bandwidth: None,
            };
        let e = api::LocRibEntry {
            prefix: "192.0.2.10/32".into(),
            next_hops: vec![api::LocRibNextHop {
                next_hop: "10.0.0.1".into(),
                weight: 1,
            }],
            weighting: "single path".into(),
            paths: vec![
                path("n1", "10.0.0.1", "best", None, Some(1)),
                path(
                    "n2",
                    "10.0.0.2",
                    "not-multipath",
                    Some("AS_PATH length 2 != 1"),
                    None,
                ),
            ],
        };
        let t = loc_rib_table(&[e]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("192.0.2.10/32  n1"), "{t}");
        assert!(lines[1].ends_with("1       best"), "{t}");
        assert!(lines[2].starts_with("               n2"), "{t}");
        assert!(
            lines[2].ends_with("not multipath: AS_PATH length 2 != 1"),
            "{t}"
        );
        assert_eq!(
            lines[3],
            "192.0.2.10/32: 1 next hop (single path): 10.0.0.1 weight 1"
        );
        assert_eq!(loc_rib_table(&[]), "no received routes in the Loc-RIB\n");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
