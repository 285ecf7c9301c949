//! Reload: what changes between two validated configurations (issue 4, "Reload on SIGHUP").
//!
//! [`ConfigDiff::between`] is pure: it compares an old and a new [`Config`] and says which
//! peers to start, stop (Cease 6/3, Peer De-configured) or reset (Cease 6/6, Other
//! Configuration Change; RFC 4486 §4), which services to announce, withdraw or re-announce,
//! and which global keys cannot change without a restart. Peers and services are matched by
//! name. A service change never resets a session: it becomes UPDATEs on the live sessions.
//!
//! The one exception is families: a peer whose families are left to the default offers the
//! families of its services in the OPEN (RFC 4760 §8), so the first IPv6 service sent to an
//! IPv4-only peer changes `families`, and that needs a new OPEN. Setting `families`
//! explicitly avoids it.

use crate::{Config, Global, Peer, Service};

/// Cease subcode for a peer that was removed from the configuration (RFC 4486 §4).
pub const CEASE_PEER_DECONFIGURED: u8 = 3;
/// Cease subcode for a peer whose settings changed (RFC 4486 §4).
pub const CEASE_OTHER_CONFIGURATION_CHANGE: u8 = 6;

/// The difference between two configurations, in the new file's order (removals in the old
/// file's order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDiff {
    /// Global keys that changed and cannot be applied to a running daemon: `control_socket`,
    /// `metrics_listen` (the operations endpoints are bound once). A reload applies completely
    /// or not at all, so when this is not empty the daemon keeps the old configuration and
    /// logs that these keys need a restart.
    pub restart_required: Vec<&'static str>,
    /// Global keys that change what every session said in its OPEN (`asn`, `router_id`):
    /// every peer is reset with Cease 6/6.
    pub sessions_reset: Vec<&'static str>,
    /// Global keys that changed and apply at once (`listen`: new sockets are bound before old
    /// ones close; `drain_time`). Changes of `hold_time`, `keepalive` and `connect_retry` show
    /// up in the peers that inherit them.
    pub global_changed: Vec<&'static str>,
    /// New peers: start a session.
    pub peers_added: Vec<Peer>,
    /// Peers no longer configured: stop with Cease 6/3.
    pub peers_removed: Vec<Peer>,
    /// Peers whose own settings changed.
    pub peers_changed: Vec<PeerChange>,
    /// Names of the services added and removed (names, not copies: a file may hold 100k).
    pub services_added: Vec<String>,
    /// Names of the services removed.
    pub services_removed: Vec<String>,
    /// Services whose settings changed.
    pub services_changed: Vec<ServiceChange>,
}

/// One peer, before and after, with the keys that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerChange {
    /// The peer as configured before.
    pub old: Peer,
    /// The peer as configured now.
    pub new: Peer,
    /// Keys that are negotiated in the OPEN or set on the socket: the session must be reset
    /// with Cease 6/6 for them to take effect.
    pub reset: Vec<&'static str>,
    /// Keys that apply to the running session (next hops used for "self", prefix limit,
    /// retry time, shutdown message).
    pub live: Vec<&'static str>,
}

/// One service, before and after, with the keys that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChange {
    /// The service as configured before.
    pub old: Service,
    /// The service as configured now.
    pub new: Service,
    /// Keys that differ.
    pub fields: Vec<&'static str>,
}

impl ConfigDiff {
    /// What changes from `old` to `new`.
    pub fn between(old: &Config, new: &Config) -> ConfigDiff {
        let mut d = ConfigDiff::default();
        global(&old.global, &new.global, &mut d);
        // The FIB's table, protocol and group type are fixed for a run.
        if old.fib != new.fib {
            d.restart_required.push("fib");
        }

        for p in &new.peers {
            match old.peer(&p.name) {
                None => d.peers_added.push(p.clone()),
                Some(o) if o != p => d.peers_changed.push(PeerChange::new(o, p)),
                Some(_) => {}
            }
        }
        d.peers_removed = old
            .peers
            .iter()
            .filter(|p| new.peer(&p.name).is_none())
            .cloned()
            .collect();

        // A file may hold 100k services (names are unique). The leading run in which both
        // files name the same services in the same order (an edited file mostly keeps its
        // order) is compared in place; the rest by name through maps, built only when the
        // old rest is not empty (a first load or a file that only grew needs none).
        let common = old
            .services
            .iter()
            .zip(new.services.iter())
            .take_while(|(o, n)| o.name == n.name)
            .count();
        for (o, s) in old.services[..common].iter().zip(&new.services[..common]) {
            if o != s {
                d.services_changed.push(ServiceChange::new(o, s));
            }
        }
        let (old_rest, new_rest) = (&old.services[common..], &new.services[common..]);
        if old_rest.is_empty() {
            d.services_added = new_rest.iter().map(|s| s.name.clone()).collect();
            return d;
        }
        fn by_name(list: &[Service]) -> std::collections::HashMap<&str, &Service> {
            list.iter().map(|s| (s.name.as_str(), s)).collect()
        }
        let (old_by_name, new_by_name) = (by_name(old_rest), by_name(new_rest));
        for s in new_rest {
            match old_by_name.get(s.name.as_str()) {
                None => d.services_added.push(s.name.clone()),
                Some(o) if *o != s => d.services_changed.push(ServiceChange::new(o, s)),
                Some(_) => {}
            }
        }
        d.services_removed = old_rest
            .iter()
            .filter(|s| !new_by_name.contains_key(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect();
        d
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }

    /// Peers whose own OPEN or socket settings changed: reset with Cease 6/6. (When
    /// `sessions_reset` is not empty, every peer that stays is reset as well.)
    pub fn peers_to_reset(&self) -> impl Iterator<Item = &Peer> {
        self.peers_changed
            .iter()
            .filter(|c| c.needs_reset())
            .map(|c| &c.new)
    }

    /// One line for the log, e.g. "1 peer added, 2 services changed".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let mut count = |n: usize, what: &str, how: &str| {
            if n > 0 {
                let s = if n == 1 { "" } else { "s" };
                parts.push(format!("{n} {what}{s} {how}"));
            }
        };
        count(self.peers_added.len(), "peer", "added");
        count(self.peers_removed.len(), "peer", "removed");
        count(self.peers_changed.len(), "peer", "changed");
        count(self.services_added.len(), "service", "added");
        count(self.services_removed.len(), "service", "removed");
        count(self.services_changed.len(), "service", "changed");
        if !self.global_changed.is_empty() {
            parts.push(format!("global {} changed", self.global_changed.join(", ")));
        }
        if !self.sessions_reset.is_empty() {
            parts.push(format!(
                "global {} changed (every session is reset)",
                self.sessions_reset.join(", ")
            ));
        }
        if !self.restart_required.is_empty() {
            parts.push(format!(
                "global {} need a restart",
                self.restart_required.join(", ")
            ));
        }
        if parts.is_empty() {
            "no changes".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

impl PeerChange {
    fn new(old: &Peer, new: &Peer) -> PeerChange {
        let mut reset = Vec::new();
        let mut live = Vec::new();
        macro_rules! cmp {
            ($list:ident: $($f:ident),*) => {
                $(if old.$f != new.$f { $list.push(stringify!($f)); })*
            };
        }
        // Destructure so that a new Peer field fails to compile until it is classified here.
        let Peer {
            name: _,
            address: _,
            asn: _,
            ibgp: _,
            port: _,
            passive: _,
            local_address: _,
            hold_time: _,
            keepalive: _,
            connect_retry: _,
            password: _,
            ttl: _,
            families: _,
            add_path: _,
            max_prefixes: _,
            max_prefixes_restart: _,
            max_queued_bytes: _,
            idle_hold_time: _,
            damp_peer_oscillations: _,
            graceful_restart: _,
            delay_open: _,
            open_hold_time: _,
            send_hold_time: _,
            min_hold_time: _,
            max_prefixes_action: _,
            enforce_first_as: _,
            shutdown_message: _,
            ipv4_nexthop: _,
            ipv6_nexthop: _,
            import: _,
            allow_own_as: _,
            local_as: _,
            announce: _,
            role: _,
            role_strict: _,
            extended_next_hop: _,
            interface: _,
            password_file: _,
            bfd: _,
        } = new;
        cmp!(reset: address, asn, port, passive, local_address, hold_time, keepalive, password,
            ttl, families, add_path, graceful_restart, delay_open, enforce_first_as, local_as,
            role, role_strict, extended_next_hop, interface);
        // A new path to the same key changes nothing; a new key is `password` (reset).
        cmp!(live: password_file);
        // What services carry to the peer changes with UPDATEs on the live session.
        cmp!(live: announce);
        cmp!(live: open_hold_time, send_hold_time, min_hold_time, max_prefixes_action, connect_retry, max_prefixes, max_prefixes_restart, max_queued_bytes,
            idle_hold_time, damp_peer_oscillations, shutdown_message, ipv4_nexthop, ipv6_nexthop,
            import, allow_own_as, bfd);
        PeerChange {
            old: old.clone(),
            new: new.clone(),
            reset,
            live,
        }
    }

    /// The session must be reset with Cease 6/6.
    pub fn needs_reset(&self) -> bool {
        !self.reset.is_empty()
    }
}

impl ServiceChange {
    fn new(old: &Service, new: &Service) -> ServiceChange {
        // Services are matched by name: `name` never differs here, every other field counts.
        let fields = old.changed_fields(new);
        ServiceChange {
            old: old.clone(),
            new: new.clone(),
            fields,
        }
    }
}

fn global(old: &Global, new: &Global, d: &mut ConfigDiff) {
    let Global {
        asn: _,
        router_id: _,
        listen: _,
        hold_time: _,
        keepalive: _,
        connect_retry: _,
        control_socket: _,
        metrics_listen: _,
        drain_time: _,
        state_dir: _,
        graceful_restart_deferral: _,
        rib: _,
    } = new;
    macro_rules! cmp {
        ($list:ident: $($f:ident),*) => {
            $(if old.$f != new.$f { d.$list.push(stringify!($f)); })*
        };
    }
    cmp!(restart_required: control_socket, metrics_listen, state_dir);
    cmp!(sessions_reset: asn, router_id);
    // The End-of-RIB deferral: for the readiness limit at once, for sessions built later.
    // `rib`: the Loc-RIB decides every prefix again at once.
    cmp!(global_changed: listen, drain_time, graceful_restart_deferral, rib);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[global]
asn = 64512
router_id = "10.255.0.2"

[[peers]]
name = "tor-a"
address = "10.255.0.1"
asn = 64500

[[peers]]
name = "tor-b"
address = "10.255.1.1"
asn = 64500

[[services]]
name = "web"
prefix = "192.0.2.10/32"

[[services]]
name = "dns"
prefix = "192.0.2.53/32"
"#;

    fn cfg(text: &str) -> Config {
        match Config::parse(text, "bgpd.toml", &crate::host::TestHost) {
            Ok(c) => c,
            Err(e) => panic!("test config is invalid: {e}"),
        }
    }

    fn names<'a>(it: impl IntoIterator<Item = &'a Peer>) -> Vec<&'a str> {
        it.into_iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn identical_configs_have_no_diff() {
        let d = ConfigDiff::between(&cfg(BASE), &cfg(BASE));
        assert!(d.is_empty());
        assert_eq!(d.summary(), "no changes");
    }

    #[test]
    fn added_service_touches_no_peer() {
        let new = format!("{BASE}\n[[services]]\nname = \"api\"\nprefix = \"192.0.2.80/32\"\n");
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.services_added.len(), 1);
        assert_eq!(d.services_added[0], "api");
        assert!(d.peers_changed.is_empty(), "{:?}", d.peers_changed);
        assert!(d.restart_required.is_empty());
        assert_eq!(d.summary(), "1 service added");
    }

    #[test]
    fn removed_and_changed_services() {
        let new = BASE
            .replace(
                "name = \"dns\"\nprefix = \"192.0.2.53/32\"",
                "name = \"dns\"\nprefix = \"192.0.2.53/32\"\nmed = 5",
            )
            .replace(
                "name = \"web\"\nprefix = \"192.0.2.10/32\"\n",
                "name = \"ntp\"\nprefix = \"192.0.2.123/32\"\n",
            );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.services_removed, ["web"]);
        assert_eq!(d.services_added, ["ntp"]);
        assert_eq!(d.services_changed.len(), 1);
        assert_eq!(d.services_changed[0].new.name, "dns");
        assert_eq!(d.services_changed[0].fields, ["med"]);
        assert!(d.peers_changed.is_empty());
    }

    /// Services matched in place while both files keep the same order, by name after: the
    /// result is what a match by name alone gives.
    #[test]
    fn reordered_services_match_by_name() {
        let svc = |name: &str, octet: u8, med: u32| {
            format!(
                "\n[[services]]\nname = \"{name}\"\nprefix = \"192.0.2.{octet}/32\"\nmed = {med}\n"
            )
        };
        let head = BASE.split("\n[[services]]").next().unwrap_or(BASE);
        let old = [
            svc("a", 1, 0),
            svc("b", 2, 0),
            svc("c", 3, 0),
            svc("d", 4, 0),
            svc("x", 9, 0),
        ];
        let new = [
            svc("a", 1, 0),
            svc("b", 2, 5),
            svc("d", 4, 0),
            svc("e", 5, 0),
            svc("c", 3, 7),
        ];
        let d = ConfigDiff::between(
            &cfg(&format!("{head}{}", old.concat())),
            &cfg(&format!("{head}{}", new.concat())),
        );
        let changed: Vec<&str> = d
            .services_changed
            .iter()
            .map(|c| c.new.name.as_str())
            .collect();
        assert_eq!(changed, ["b", "c"]);
        assert_eq!(d.services_added, ["e"]);
        assert_eq!(d.services_removed, ["x"]);
        // From nothing, and to nothing.
        let empty = cfg(head);
        let full = cfg(&format!("{head}{}", old.concat()));
        assert_eq!(
            ConfigDiff::between(&empty, &full).services_added,
            ["a", "b", "c", "d", "x"]
        );
        assert_eq!(
            ConfigDiff::between(&full, &empty).services_removed,
            ["a", "b", "c", "d", "x"]
        );
    }

    #[test]
    fn only_the_changed_peer_is_reset() {
        let new = BASE.replace(
            "name = \"tor-b\"\naddress = \"10.255.1.1\"\nasn = 64500\n",
            "name = \"tor-b\"\naddress = \"10.255.1.1\"\nasn = 64500\nhold_time = 9\n",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.peers_changed.len(), 1);
        let c = &d.peers_changed[0];
        assert_eq!(c.new.name, "tor-b");
        assert_eq!(c.reset, ["hold_time", "keepalive"]);
        assert!(c.live.is_empty());
        assert_eq!(names(d.peers_to_reset()), ["tor-b"]);
        assert!(d.peers_added.is_empty() && d.peers_removed.is_empty());
    }

    #[test]
    fn import_policy_change_needs_no_reset() {
        let new = BASE.replace(
            "name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\n",
            "name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\nimport = [\"10.0.0.0/8 le 32\"]\nallow_own_as = 1\n",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.peers_changed.len(), 1);
        assert_eq!(d.peers_changed[0].live, ["import", "allow_own_as"]);
        assert!(!d.peers_changed[0].needs_reset());
    }

    #[test]
    fn bfd_interval_change_needs_no_reset() {
        let with = |b: &str| {
            BASE.replace(
                "name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\n",
                &format!("name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\nbfd = {b}\n"),
            )
        };
        for (old, new) in [
            (BASE.to_owned(), with("true")),
            (
                with("true"),
                with("{ min_rx = \"50ms\", min_tx = \"50ms\" }"),
            ),
            (with("true"), BASE.to_owned()),
        ] {
            let d = ConfigDiff::between(&cfg(&old), &cfg(&new));
            assert_eq!(d.peers_changed.len(), 1);
            assert_eq!(d.peers_changed[0].live, ["bfd"]);
            assert!(!d.peers_changed[0].needs_reset());
        }
    }

    #[test]
    fn live_peer_change_needs_no_reset() {
        let new = BASE.replace(
            "name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\n",
            "name = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\nmax_prefixes = 10\nshutdown_message = \"maintenance\"\n",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.peers_changed.len(), 1);
        assert_eq!(
            d.peers_changed[0].live,
            ["max_prefixes", "shutdown_message"]
        );
        assert!(!d.peers_changed[0].needs_reset());
        assert_eq!(d.peers_to_reset().count(), 0);
    }

    #[test]
    fn global_hold_time_resets_inheriting_peers_only() {
        let old = BASE.replace(
            "name = \"tor-b\"\naddress = \"10.255.1.1\"\nasn = 64500\n",
            "name = \"tor-b\"\naddress = \"10.255.1.1\"\nasn = 64500\nhold_time = 30\n",
        );
        let new = old.replace(
            "router_id = \"10.255.0.2\"\n",
            "router_id = \"10.255.0.2\"\nhold_time = 180\n",
        );
        let d = ConfigDiff::between(&cfg(&old), &cfg(&new));
        assert_eq!(names(d.peers_to_reset()), ["tor-a"]);
        assert!(d.restart_required.is_empty());
    }

    #[test]
    fn peers_added_and_removed() {
        let new = BASE.replace(
            "name = \"tor-b\"\naddress = \"10.255.1.1\"\n",
            "name = \"tor-c\"\naddress = \"10.255.2.1\"\n",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(names(&d.peers_added), ["tor-c"]);
        assert_eq!(names(&d.peers_removed), ["tor-b"]);
        assert!(d.peers_changed.is_empty());
        assert_eq!(d.summary(), "1 peer added, 1 peer removed");
    }

    #[test]
    fn global_identity_changes_reset_every_session() {
        let new = BASE.replace("asn = 64512", "asn = 64513").replace(
            "router_id = \"10.255.0.2\"",
            "router_id = \"10.255.0.3\"\nlisten = []\ndrain_time = 30",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert!(d.restart_required.is_empty());
        assert_eq!(d.sessions_reset, ["asn", "router_id"]);
        assert_eq!(d.global_changed, ["listen", "drain_time"]);
    }

    #[test]
    fn operations_endpoints_need_restart() {
        let new = BASE.replace(
            "router_id = \"10.255.0.2\"",
            "router_id = \"10.255.0.2\"\ncontrol_socket = \"/tmp/other.sock\"",
        );
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.restart_required, ["control_socket"]);
        assert!(d.summary().contains("control_socket need a restart"));
    }

    #[test]
    fn a_fib_change_needs_a_restart() {
        let with = format!("{BASE}\n[fib]\ntable = 100\n");
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&with));
        assert_eq!(d.restart_required, ["fib"]);
        let d = ConfigDiff::between(&cfg(&with), &cfg(&with.replace("100", "101")));
        assert_eq!(d.restart_required, ["fib"]);
        assert!(ConfigDiff::between(&cfg(&with), &cfg(&with))
            .restart_required
            .is_empty());
    }

    #[test]
    fn first_ipv6_service_changes_default_families() {
        let new =
            format!("{BASE}\n[[services]]\nprefix = \"2001:db8::10/128\"\npeers = [\"tor-a\"]\n");
        let d = ConfigDiff::between(&cfg(BASE), &cfg(&new));
        assert_eq!(d.services_added.len(), 1);
        assert_eq!(d.peers_changed.len(), 1);
        assert_eq!(d.peers_changed[0].new.name, "tor-a");
        assert_eq!(d.peers_changed[0].reset, ["families"]);
    }
}
