//! The effective configuration written back as TOML, every default filled in, in the same
//! shape the file takes, so `bgpd check` output is itself a valid config file.

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use super::values::{community_to_string, duration_to_toml};
use super::*;

pub(crate) fn to_toml(c: &Config) -> String {
    let mut doc = DocumentMut::new();
    let g = &c.global;
    let mut t = Table::new();
    t["asn"] = value(i64::from(g.asn.0));
    t["router_id"] = value(g.router_id.to_string());
    t["listen"] = value(strings(g.listen.iter()));
    t["hold_time"] = value(i64::from(g.hold_time.secs()));
    t["keepalive"] = Item::Value(duration_to_toml(g.keepalive));
    t["connect_retry"] = Item::Value(duration_to_toml(g.connect_retry));
    t["control_socket"] = value(g.control_socket.display().to_string());
    if let Some(m) = g.metrics_listen {
        t["metrics_listen"] = value(m.to_string());
    }
    if let Some(d) = g.drain_time {
        t["drain_time"] = Item::Value(duration_to_toml(d));
    }
    t["state_dir"] = value(g.state_dir.display().to_string());
    // Left out when not set: the default also depends on each peer's restart time.
    if let Some(d) = g.graceful_restart_deferral {
        t["graceful_restart_deferral"] = Item::Value(duration_to_toml(d));
    }
    doc["global"] = Item::Table(t);
    let mut rib = Table::new();
    rib["max_paths"] = value(i64::from(g.rib.max_paths.get()));
    rib["as_path_relax"] = value(g.rib.as_path_relax);
    doc["rib"] = Item::Table(rib);

    let mut peers = ArrayOfTables::new();
    for p in &c.peers {
        peers.push(peer(p));
    }
    if !peers.is_empty() {
        doc["peers"] = Item::ArrayOfTables(peers);
    }
    if let Some(f) = &c.fib {
        doc["fib"] = Item::Table(fib(f));
    }
    let mut services = ArrayOfTables::new();
    for s in c.services.iter() {
        services.push(service(s));
    }
    if !services.is_empty() {
        doc["services"] = Item::ArrayOfTables(services);
    }
    doc.to_string()
}

fn fib(f: &crate::fib::FibSettings) -> Table {
    use crate::fib::GroupKind;
    let mut t = Table::new();
    t["table"] = value(i64::from(f.table));
    t["protocol"] = value(i64::from(f.protocol));
    match f.kind {
        GroupKind::Multipath => t["resilient"] = value(false),
        GroupKind::Resilient {
            buckets,
            idle_timer,
            unbalanced_timer,
        } => {
            t["resilient"] = value(true);
            t["buckets"] = value(i64::from(buckets));
            t["idle_timer"] = value(i64::from(idle_timer));
            t["unbalanced_timer"] = value(i64::from(unbalanced_timer));
        }
    }
    t["retain_on_stop"] = value(f.retain_on_stop);
    t
}

fn peer(p: &Peer) -> Table {
    let mut t = Table::new();
    t["name"] = value(p.name.clone());
    if p.unnumbered().is_none() {
        // An unnumbered peer has no address in the file: rendering `::` would not parse.
        t["address"] = value(p.address.to_string());
    }
    let mut asn = Value::from(i64::from(p.asn.0));
    asn.decor_mut()
        .set_suffix(if p.ibgp { " # iBGP" } else { " # eBGP" });
    t["asn"] = Item::Value(asn);
    t["port"] = value(i64::from(p.port));
    t["passive"] = value(p.passive);
    if let Some(a) = p.local_address {
        t["local_address"] = value(a.to_string());
    }
    t["hold_time"] = value(i64::from(p.hold_time.secs()));
    t["keepalive"] = Item::Value(duration_to_toml(p.keepalive));
    t["connect_retry"] = Item::Value(duration_to_toml(p.connect_retry));
    if let Some(f) = &p.password_file {
        t["password_file"] = value(f.display().to_string());
    } else if p.password.is_some() {
        // Never echo the key.
        t["password"] = value("********");
    }
    match p.ttl {
        Ttl::Default => {}
        Ttl::Multihop(h) => t["ebgp_multihop"] = value(i64::from(h)),
        Ttl::Security => t["ttl_security"] = value(true),
    }
    t["families"] = value(strings(p.families.iter()));
    t["add_path"] = value(p.add_path);
    if let Some(m) = p.max_prefixes {
        t["max_prefixes"] = value(i64::from(m));
    }
    t["max_prefixes_action"] = value(match p.max_prefixes_action {
        PrefixLimitAction::Close => "close",
        PrefixLimitAction::Drop => "drop",
    });
    t["max_prefixes_restart"] = Item::Value(duration_to_toml(p.max_prefixes_restart));
    t["max_queued_bytes"] = value(i64::try_from(p.max_queued_bytes).unwrap_or(i64::MAX));
    t["idle_hold_time"] = Item::Value(duration_to_toml(p.idle_hold_time));
    t["damp_peer_oscillations"] = value(p.damp_peer_oscillations);
    t["graceful_restart"] = value(p.graceful_restart.is_some());
    if let Some(gr) = p.graceful_restart {
        t["restart_time"] = Item::Value(duration_to_toml(gr.restart_time));
        if let Some(d) = gr.llgr_stale_time {
            t["llgr_stale_time"] = Item::Value(duration_to_toml(d));
        }
        t["graceful_notification"] = value(gr.notification);
    }
    t["open_hold_time"] = Item::Value(duration_to_toml(p.open_hold_time));
    t["min_hold_time"] = value(i64::from(p.min_hold_time));
    if let Some(d) = p.send_hold_time {
        t["send_hold_time"] = Item::Value(duration_to_toml(d));
    }
    if let Some(d) = p.delay_open {
        t["delay_open"] = Item::Value(duration_to_toml(d));
    }
    t["enforce_first_as"] = value(p.enforce_first_as);
    if let Some(m) = &p.shutdown_message {
        t["shutdown_message"] = value(m.clone());
    }
    if let Some(a) = p.ipv4_nexthop {
        t["ipv4_nexthop"] = value(a.to_string());
    }
    if let Some(a) = p.ipv6_nexthop {
        t["ipv6_nexthop"] = value(a.to_string());
    }
    t["import"] = match &p.import {
        ImportPolicy::None => value("none"),
        ImportPolicy::All => value("all"),
        ImportPolicy::Prefixes(ranges) => value(strings(ranges.iter())),
    };
    t["allow_own_as"] = value(i64::from(p.allow_own_as));
    if let Some(b) = &p.bfd {
        // Resolved values inline, so the output stands alone without the profile table.
        let mut bt = toml_edit::InlineTable::new();
        bt.insert("min_rx", duration_to_toml(b.min_rx));
        bt.insert("min_tx", duration_to_toml(b.min_tx));
        bt.insert("multiplier", Value::from(i64::from(b.multiplier.get())));
        bt.insert("passive", Value::from(b.passive));
        t["bfd"] = value(bt);
    }
    if let Some(a) = p.local_as {
        t["local_as"] = value(i64::from(a.0));
    }
    if let Some(role) = p.role {
        t["role"] = value(match role {
            bgp_proto::Role::Provider => "provider",
            bgp_proto::Role::Customer => "customer",
            bgp_proto::Role::RouteServer => "rs",
            bgp_proto::Role::RouteServerClient => "rs-client",
            _ => "peer",
        });
        t["role_strict"] = value(p.role_strict);
    }
    if p.extended_next_hop {
        t["extended_next_hop"] = value(true);
    }
    if let Some(i) = &p.interface {
        t["interface"] = value(i.clone());
    }
    if !p.announce.is_empty() {
        let a = &p.announce;
        let mut o = Table::new();
        if !a.communities.is_empty() {
            o["communities"] = value(strings(
                a.communities.iter().map(|c| community_to_string(*c)),
            ));
        }
        if !a.large_communities.is_empty() {
            o["large_communities"] = value(strings(a.large_communities.iter()));
        }
        if let Some(m) = a.med {
            o["med"] = value(i64::from(m));
        }
        if let Some(l) = a.local_pref {
            o["local_pref"] = value(i64::from(l));
        }
        if let Some(n) = a.as_path_prepend {
            o["as_path_prepend"] = value(i64::from(n));
        }
        t["announce"] = Item::Table(o);
    }
    t
}

fn service(s: &Service) -> Table {
    let mut t = Table::new();
    t["name"] = value(s.name.clone());
    t["prefix"] = value(s.prefix.to_string());
    t["nexthops"] = value(strings(s.nexthops.iter()));
    t["communities"] = value(strings(
        s.communities.iter().map(|c| community_to_string(*c)),
    ));
    t["large_communities"] = value(strings(
        s.large_communities
            .iter()
            .map(|c| format!("{}:{}:{}", c.global, c.local1, c.local2)),
    ));
    if let Some(m) = s.med {
        t["med"] = value(i64::from(m));
    }
    if let Some(l) = s.local_pref {
        t["local_pref"] = value(i64::from(l));
    }
    t["as_path_prepend"] = value(i64::from(s.as_path_prepend));
    if let Some(w) = s.weight {
        t["weight"] = value(i64::from(w));
    }
    match &s.peers {
        PeerSelection::All => {}
        PeerSelection::Only(names) => t["peers"] = value(strings(names.iter())),
    }
    if let Some(h) = &s.health {
        t["health"] = Item::Table(health(h));
    }
    t
}

fn health(h: &HealthCheck) -> Table {
    let mut t = Table::new();
    match &h.probe {
        Probe::Tcp { target } => {
            t["type"] = value("tcp");
            t["target"] = value(target.clone());
        }
        Probe::Http {
            target,
            expect_status,
        } => {
            t["type"] = value("http");
            t["target"] = value(target.clone());
            if let Some(s) = expect_status {
                t["expect_status"] = value(i64::from(*s));
            }
        }
        Probe::Exec { command } => {
            t["type"] = value("exec");
            t["command"] = value(strings(command.iter()));
        }
    }
    t["interval"] = Item::Value(duration_to_toml(h.interval));
    t["timeout"] = Item::Value(duration_to_toml(h.timeout));
    t["rise"] = value(i64::from(h.rise));
    t["fall"] = value(i64::from(h.fall));
    match &h.on_fail {
        OnFail::Withdraw => t["on_fail"] = value("withdraw"),
        OnFail::Demote {
            med,
            communities,
            as_path_prepend,
        } => {
            t["on_fail"] = value("demote");
            let mut d = Table::new();
            if let Some(m) = med {
                d["med"] = value(i64::from(*m));
            }
            d["communities"] = value(strings(communities.iter().map(|c| community_to_string(*c))));
            d["as_path_prepend"] = value(i64::from(*as_path_prepend));
            t["demote"] = Item::Table(d);
        }
    }
    if let Some(f) = &h.disable_file {
        t["disable_file"] = value(f.display().to_string());
    }
    t
}

fn strings<T: ToString>(it: impl Iterator<Item = T>) -> Array {
    it.map(|x| Value::from(x.to_string())).collect()
}
