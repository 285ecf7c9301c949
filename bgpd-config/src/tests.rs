//! Unit tests: defaults, inheritance, warnings. Error messages with line and column are
//! pinned in `bgpd/tests/config.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp_proto::{Community, Family, LargeCommunity};

use super::*;

const MINIMAL: &str = r#"
[global]
asn = 64512
router_id = "10.255.0.2"

[[peers]]
address = "10.255.0.1"
asn = 64500

[[services]]
prefix = "192.0.2.10/32"
"#;

fn parse(text: &str) -> Config {
    match Config::parse(text, "bgpd.toml", &crate::host::TestHost) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match Config::parse(text, "bgpd.toml", &crate::host::TestHost) {
        Ok(_) => panic!("expected errors"),
        Err(ConfigError::Invalid(d)) => d.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn warnings(c: &Config) -> Vec<String> {
    c.warnings
        .iter()
        .map(|w| format!("{}: {}", w.field, w.message))
        .collect()
}

#[test]
fn minimal_file_gets_every_default() {
    let c = parse(MINIMAL);
    let g = &c.global;
    assert_eq!(g.asn, Asn(64512));
    assert_eq!(g.router_id, Ipv4Addr::new(10, 255, 0, 2));
    let listen: Vec<SocketAddr> = vec!["0.0.0.0:179".parse().unwrap(), "[::]:179".parse().unwrap()];
    assert_eq!(g.listen, listen);
    assert_eq!(g.hold_time.secs(), 90);
    assert_eq!(g.keepalive, Duration::from_secs(30));
    assert_eq!(g.connect_retry, Duration::from_secs(5));
    assert_eq!(g.control_socket, PathBuf::from("/run/bgpd/bgpd.sock"));
    assert_eq!(g.metrics_listen, None);
    assert_eq!(g.drain_time, None);

    let p = &c.peers[0];
    assert_eq!(p.name, "10.255.0.1");
    assert_eq!(p.address, IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)));
    assert!(!p.ibgp);
    assert_eq!(p.port, 179);
    assert!(!p.passive);
    assert_eq!(p.local_address, None);
    assert_eq!(p.hold_time.secs(), 90);
    assert_eq!(p.keepalive, Duration::from_secs(30));
    assert_eq!(p.connect_retry, Duration::from_secs(5));
    assert_eq!(p.password, None);
    assert_eq!(p.ttl, Ttl::Default);
    assert_eq!(p.families, [Family::IPV4_UNICAST]);
    assert!(!p.add_path);
    assert_eq!(p.max_prefixes, None);
    assert_eq!(
        p.graceful_restart,
        Some(GracefulRestart {
            restart_time: Duration::from_secs(120),
            llgr_stale_time: None,
            notification: true,
        })
    );
    assert_eq!(p.delay_open, None);
    assert!(p.enforce_first_as);
    assert_eq!(p.shutdown_message, None);

    let s = &c.services[0];
    assert_eq!(s.name, "192.0.2.10/32");
    assert_eq!(*s.nexthops, [NextHopSpec::Local]);
    assert_eq!(s.peers, PeerSelection::All);
    assert!(s.communities.is_empty() && s.large_communities.is_empty());
    assert_eq!((s.med, s.local_pref, s.as_path_prepend), (None, None, 0));
    assert_eq!(s.health, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn issue_example_parses() {
    let c = parse(
        r#"
[global]
asn = 64512
router_id = "10.255.0.2"
listen = ["0.0.0.0:179", "[::]:179"]
hold_time = 90
keepalive = 30
connect_retry = 5
control_socket = "/run/bgpd/bgpd.sock"

[[peers]]
name = "tor-a"
address = "10.255.0.1"
asn = 64500
port = 179
passive = false
local_address = "10.255.0.2"
hold_time = 9
password = "secret"
ebgp_multihop = 2
families = ["ipv4-unicast", "ipv6-unicast"]
add_path = true
max_prefixes = 1000
graceful_restart = true

[[services]]
name = "web"
prefix = "192.0.2.10/32"
nexthops = ["self"]
communities = ["64512:100", "no-export"]
large_communities = ["64512:1:100"]
med = 10
local_pref = 200
as_path_prepend = 2
weight = 25
peers = ["tor-a"]
"#,
    );
    let p = &c.peers[0];
    assert_eq!(p.hold_time.secs(), 9);
    assert_eq!(
        p.keepalive,
        Duration::from_secs(3),
        "a third of the peer's own hold time"
    );
    assert_eq!(p.ttl, Ttl::Multihop(2));
    assert_eq!(p.password.as_deref(), Some("secret"));
    assert_eq!(p.families, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    assert_eq!(p.max_prefixes, Some(1000));
    let s = &c.services[0];
    assert_eq!(
        *s.communities,
        [Community(64512 << 16 | 100), Community(0xFFFF_FF01)]
    );
    assert_eq!(
        *s.large_communities,
        [LargeCommunity {
            global: 64512,
            local1: 1,
            local2: 100
        }]
    );
    assert_eq!(s.peers, PeerSelection::Only(vec!["tor-a".into()].into()));
    assert_eq!(s.as_path_prepend, 2);
    assert_eq!(s.weight, Some(25));
    assert_eq!(parse(&c.to_toml()).services[0].weight, Some(25));
    // local_pref without an iBGP peer is the one warning.
    assert_eq!(
        warnings(&c),
        ["services[0].local_pref: LOCAL_PREF is only sent to iBGP peers (RFC 4271 §5.1.5) and this service has none"]
    );
}

#[test]
fn effective_config_round_trips() {
    let c = parse(MINIMAL);
    let text = c.to_toml();
    assert!(text.contains("keepalive = 30"), "{text}");
    assert!(text.contains("families = [\"ipv4-unicast\"]"), "{text}");
    let again = parse(&text);
    assert_eq!(again, c);
}

#[test]
fn effective_config_hides_password() {
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\npassword = \"hunter2\""));
    let text = c.to_toml();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("password = \"********\""), "{text}");
}

#[test]
fn keepalive_inheritance() {
    // Global keepalive set explicitly; peer sets only its hold time: a third of that.
    let c = parse(
        &MINIMAL
            .replace(
                "router_id = \"10.255.0.2\"",
                "router_id = \"10.255.0.2\"\nhold_time = 30\nkeepalive = 5",
            )
            .replace("asn = 64500", "asn = 64500\nhold_time = 6"),
    );
    assert_eq!(c.global.keepalive, Duration::from_secs(5));
    assert_eq!(c.peers[0].hold_time.secs(), 6);
    assert_eq!(c.peers[0].keepalive, Duration::from_secs(2));
    // Peer sets nothing: both inherited from global.
    let c = parse(&MINIMAL.replace(
        "router_id = \"10.255.0.2\"",
        "router_id = \"10.255.0.2\"\nhold_time = 30\nkeepalive = 5",
    ));
    assert_eq!(
        (c.peers[0].hold_time.secs(), c.peers[0].keepalive),
        (30, Duration::from_secs(5))
    );
    // Hold time 0: no keepalives.
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nhold_time = 0"));
    assert_eq!(
        (c.peers[0].hold_time.secs(), c.peers[0].keepalive),
        (0, Duration::ZERO)
    );
}

#[test]
fn duration_strings() {
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nhold_time = \"3m\"\nconnect_retry = \"1500ms\"",
    ));
    assert_eq!(c.peers[0].hold_time.secs(), 180);
    assert_eq!(c.peers[0].keepalive, Duration::from_secs(60));
    assert_eq!(c.peers[0].connect_retry, Duration::from_millis(1500));
    assert!(c.to_toml().contains("connect_retry = \"1500ms\""));
}

#[test]
fn families_follow_services() {
    let c = parse(
        r#"
[global]
asn = 64512
router_id = "10.255.0.2"
[[peers]]
name = "v4"
address = "10.255.0.1"
asn = 64512
ipv6_nexthop = "2001:db8::2"
[[peers]]
name = "v6"
address = "2001:db8::1"
asn = 64500
ipv4_nexthop = "10.0.0.2"
[[services]]
prefix = "2001:db8:f::1/128"
[[services]]
prefix = "192.0.2.1"
peers = ["v6"]
"#,
    );
    assert!(c.peers[0].ibgp);
    assert_eq!(
        c.peers[0].families,
        [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert_eq!(
        c.peers[1].families,
        [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert_eq!(
        c.services[1].prefix.to_string(),
        "192.0.2.1/32",
        "bare address is a host route"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn warning_self_nexthop_without_other_family_address() {
    let c = parse(&format!(
        "{MINIMAL}\n[[services]]\nname = \"v6\"\nprefix = \"2001:db8::10/128\"\n"
    ));
    assert_eq!(
        warnings(&c),
        ["services[1].nexthops: next hop \"self\" has no IPv6 address on the IPv4 session with 10.255.0.1: set ipv6_nexthop on the peer, or the route is not sent there"]
    );
    // No `nexthops` key: the warning points at the `[[services]]` header.
    assert_eq!((c.warnings[0].line, c.warnings[0].column), (13, 1));
}

#[test]
fn warning_several_nexthops_without_add_path() {
    let c = parse(&MINIMAL.replace(
        "prefix = \"192.0.2.10/32\"",
        "prefix = \"192.0.2.10/32\"\nnexthops = [\"10.0.0.1\", \"10.0.0.2\"]",
    ));
    assert_eq!(
        warnings(&c),
        ["services[0].nexthops: only the first next hop (10.0.0.1) is announced to 10.255.0.1 (add_path is off; RFC 7911 is needed for one path per next hop)"]
    );
    let c = parse(
        &MINIMAL
            .replace(
                "prefix = \"192.0.2.10/32\"",
                "prefix = \"192.0.2.10/32\"\nnexthops = [\"10.0.0.1\", \"10.0.0.2\"]",
            )
            .replace("asn = 64500", "asn = 64500\nadd_path = true"),
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn warning_family_not_enabled() {
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nfamilies = [\"ipv6-unicast\"]"));
    assert_eq!(warnings(&c), ["services[0].prefix: not announced to 10.255.0.1: ipv4-unicast is not in the peer's families"]);
}

#[test]
fn warning_local_pref_with_ibgp_peer_is_silent() {
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64512").replace(
        "prefix = \"192.0.2.10/32\"",
        "prefix = \"192.0.2.10/32\"\nlocal_pref = 200",
    ));
    assert!(c.peers[0].ibgp);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn health_check_defaults_and_demote() {
    let c = parse(&format!(
        "{MINIMAL}[services.health]\ntype = \"tcp\"\ntarget = \"{{nexthop}}:80\"\non_fail = \"demote\"\n\
         [services.health.demote]\nmed = 1000\ncommunities = [\"graceful-shutdown\"]\n"
    ));
    let h = c.services[0].health.as_ref().unwrap();
    assert_eq!(
        h.probe,
        Probe::Tcp {
            target: "{nexthop}:80".into()
        }
    );
    assert_eq!(
        (h.interval, h.timeout),
        (Duration::from_secs(5), Duration::from_secs(2))
    );
    assert_eq!((h.rise, h.fall), (3, 3));
    assert_eq!(
        h.on_fail,
        OnFail::Demote {
            med: Some(1000),
            communities: vec![Community(0xFFFF_0000)],
            as_path_prepend: 0
        }
    );
    assert_eq!(parse(&c.to_toml()), c);
}

#[test]
fn optional_peer_keys() {
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = \"64086.59905\"\npassive = true\nttl_security = true\ndelay_open = 5\nenforce_first_as = false\n\
         shutdown_message = \"maintenance\"\ngraceful_restart = false\nlocal_address = \"10.255.0.2\"",
    ));
    let p = &c.peers[0];
    assert_eq!(p.asn, Asn(64086 << 16 | 59905));
    assert!(p.passive);
    assert_eq!(p.ttl, Ttl::Security);
    assert_eq!(p.delay_open, Some(Duration::from_secs(5)));
    assert!(!p.enforce_first_as);
    assert_eq!(p.shutdown_message.as_deref(), Some("maintenance"));
    assert_eq!(p.graceful_restart, None);
    assert_eq!(parse(&c.to_toml()), c);
}

#[test]
fn global_optional_keys() {
    let c = parse(&MINIMAL.replace(
        "router_id = \"10.255.0.2\"",
        "router_id = \"10.255.0.2\"\nmetrics_listen = \"127.0.0.1:9179\"\ndrain_time = \"30s\"\nlisten = [\"10.255.0.2\", \"[::1]:1179\"]",
    ));
    assert_eq!(
        c.global.metrics_listen,
        Some("127.0.0.1:9179".parse().unwrap())
    );
    assert_eq!(c.global.drain_time, Some(Duration::from_secs(30)));
    assert_eq!(
        c.global.listen,
        [
            "10.255.0.2:179".parse::<SocketAddr>().unwrap(),
            "[::1]:1179".parse().unwrap()
        ]
    );
}

#[test]
fn several_errors_are_reported_in_file_order() {
    let e = errors(
        &MINIMAL
            .replace("asn = 64500", "asn = 0\nport = 0")
            .replace("prefix = \"192.0.2.10/32\"", "prefix = \"x\""),
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("bgpd.toml:8:7: peers[0].asn: AS 0 is reserved"),
        "{e:?}"
    );
    assert!(e[1].starts_with("bgpd.toml:9:8: peers[0].port: "), "{e:?}");
    assert!(
        e[2].starts_with("bgpd.toml:12:10: services[0].prefix: "),
        "{e:?}"
    );
}

#[test]
fn resilience_keys_parse_with_defaults() {
    let p = &parse(MINIMAL).peers[0];
    assert_eq!(p.max_prefixes_restart, DEFAULT_MAX_PREFIXES_RESTART);
    assert_eq!(p.max_queued_bytes, DEFAULT_MAX_QUEUED_BYTES);
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nmax_prefixes = 10\nmax_prefixes_restart = \"2m\"\n\
         max_queued_bytes = 1048576\nllgr_stale_time = 86400\ngraceful_notification = false",
    ));
    let p = &c.peers[0];
    assert_eq!(p.max_prefixes_restart, Duration::from_secs(120));
    assert_eq!(p.max_queued_bytes, 1_048_576);
    assert_eq!(
        p.graceful_restart,
        Some(GracefulRestart {
            restart_time: DEFAULT_RESTART_TIME,
            llgr_stale_time: Some(Duration::from_secs(86400)),
            notification: false,
        })
    );
    assert_eq!(warnings(&c), Vec::<String>::new());
}

#[test]
fn resilience_keys_out_of_range_are_located_errors() {
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nllgr_stale_time = 16777216\nmax_queued_bytes = 100\nmax_prefixes_restart = 0",
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with(
            "bgpd.toml:9:19: peers[0].llgr_stale_time: long-lived stale time is a 24-bit field"
        ),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("bgpd.toml:10:20: peers[0].max_queued_bytes: must be at least 65535"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with(
            "bgpd.toml:11:24: peers[0].max_prefixes_restart: must be at least 1 second"
        ),
        "{e:?}"
    );
}

#[test]
fn llgr_without_graceful_restart_is_a_warning() {
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\ngraceful_restart = false\nllgr_stale_time = 60",
    ));
    assert_eq!(
        warnings(&c),
        ["peers[0].llgr_stale_time: ignored: graceful_restart is false"]
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(text: &str) -> usize {
        text.split('\n').count()
    }

    proptest! {
        /// Arbitrary text: an error (or a config), never a panic, and every location inside
        /// the file.
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            if let Err(ConfigError::Invalid(d)) = Config::parse(&text, "f.toml", &crate::host::TestHost) {
                prop_assert!(!d.is_empty());
                for e in d {
                    prop_assert!(e.line >= 1 && e.line <= lines_of(&text));
                    prop_assert!(e.column >= 1);
                }
            }
        }

        /// The minimal file with one line replaced by TOML-shaped noise.
        #[test]
        fn mutated_minimal(
            line in 1usize..12,
            key in "(asn|router_id|address|prefix|hold_time|keepalive|listen|nexthops|peers|families|é|x)",
            value in "(-?[0-9]{1,12}|\"[a-z0-9:./é -]{0,20}\"|\\[\"[a-z0-9:.]{0,10}\"\\]|true|\\{\\}|1\\.5)",
        ) {
            let mut lines: Vec<String> = MINIMAL.split('\n').map(str::to_owned).collect();
            if let Some(l) = lines.get_mut(line) {
                *l = format!("{key} = {value}");
            }
            let text = lines.join("\n");
            match Config::parse(&text, "f.toml", &crate::host::TestHost) {
                Ok(c) => {
                    // Same values; warnings may point at other lines in the rendered text.
                    let strip = |mut c: Config| { c.warnings.clear(); c };
                    let again = Config::parse(&c.to_toml(), "f.toml", &crate::host::TestHost).ok().map(strip);
                    prop_assert_eq!(again, Some(strip(c)));
                }
                Err(ConfigError::Invalid(d)) => {
                    for e in d {
                        prop_assert!(e.line >= 1 && e.line <= lines_of(&text), "{}", e);
                    }
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }
}

#[test]
fn import_defaults_to_none_and_takes_every_form() {
    let c = parse(MINIMAL);
    assert_eq!(c.peers[0].import, ImportPolicy::None);
    assert_eq!(c.peers[0].allow_own_as, 0);
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nimport = \"all\""));
    assert_eq!(c.peers[0].import, ImportPolicy::All);
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nimport = [\"192.0.2.0/24\", \"10.0.0.0/8 ge 24 le 32\", \"2001:db8::/32 le 64\"]\nallow_own_as = 2",
    ));
    let ranges: Vec<String> = match &c.peers[0].import {
        ImportPolicy::Prefixes(r) => r.iter().map(ToString::to_string).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ranges,
        [
            "192.0.2.0/24",
            "10.0.0.0/8 ge 24 le 32",
            "2001:db8::/32 le 64"
        ]
    );
    assert_eq!(c.peers[0].allow_own_as, 2);
    // `bgpd check` prints them back in a form bgpd accepts.
    let text = c.to_toml();
    assert!(
        text.contains(
            "import = [\"192.0.2.0/24\", \"10.0.0.0/8 ge 24 le 32\", \"2001:db8::/32 le 64\"]"
        ),
        "{text}"
    );
    assert_eq!(parse(&text), c);
    assert!(parse(MINIMAL).to_toml().contains("import = \"none\""));
}

#[test]
fn import_errors_name_line_column_and_field() {
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nimport = \"some\"\nallow_own_as = 11",
    ));
    assert_eq!(
        e,
        [
            "bgpd.toml:9:10: peers[0].import: expected \"none\", \"all\" or a list like [\"192.0.2.0/24 le 32\"], got \"some\"",
            "bgpd.toml:10:16: peers[0].allow_own_as: how many times our AS may appear in a received AS_PATH must be 0..=10, got 11",
        ]
    );
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nimport = [\"192.0.2.0/24\", \"10.0.0.0/8 le 40\", \"192.0.2.1/24\"]",
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("bgpd.toml:9:27: peers[0].import[1]: le 40 is outside 8..=32"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("bgpd.toml:9:47: peers[0].import[2]: 192.0.2.1/24 has host bits set"),
        "{e:?}"
    );
    let e = errors(&MINIMAL.replace("asn = 64500", "asn = 64500\nimport = 5"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("bgpd.toml:9:10: peers[0].import:"),
        "{e:?}"
    );
    assert!(
        e[0].contains("\"none\", \"all\" or a list of prefixes"),
        "{e:?}"
    );
}

#[test]
fn empty_import_list_is_a_warning() {
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nimport = []"));
    assert_eq!(c.peers[0].import, ImportPolicy::Prefixes(vec![]));
    assert_eq!(
        warnings(&c),
        ["peers[0].import: an empty list keeps no route (the same as \"none\")"]
    );
}

#[test]
fn graceful_restart_deferral_stays_below_every_restart_time() {
    let base = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n";
    let peer = "\n[[peers]]\naddress = \"10.0.0.1\"\nasn = 64500\nrestart_time = 20\n";
    // The default is cut below a short restart time, for that peer only.
    let c = parse(&format!("{base}{peer}"));
    assert_eq!(c.global.graceful_restart_deferral, None);
    assert_eq!(c.global.deferral(), DEFAULT_GRACEFUL_RESTART_DEFERRAL);
    assert_eq!(
        c.global.end_of_rib_deferral(Duration::from_secs(20)),
        Duration::from_secs(15)
    );
    assert_eq!(
        c.global.end_of_rib_deferral(Duration::from_secs(120)),
        DEFAULT_GRACEFUL_RESTART_DEFERRAL
    );
    // An explicit value at or above a restart time is an error naming the peer's key.
    let e = errors(&format!(
        "{base}graceful_restart_deferral = \"20s\"\n{peer}"
    ));
    assert!(
        e.iter().any(|l| l.contains("peers[0].restart_time")
            && l.contains("must be shorter than the restart time (20s)")),
        "{e:?}"
    );
    let c = parse(&format!("{base}graceful_restart_deferral = \"5s\"\n{peer}"));
    assert_eq!(
        c.global.end_of_rib_deferral(Duration::from_secs(20)),
        Duration::from_secs(5)
    );
    assert!(errors(&format!(
        "{base}graceful_restart_deferral = \"soon\"\n{peer}"
    ))
    .iter()
    .any(|l| l.contains("global.graceful_restart_deferral")));
}

#[test]
fn per_peer_local_as_and_announce_overrides() {
    let c = parse(
        "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
         [[peers]]\naddress = \"10.0.0.1\"\nasn = 64600\nlocal_as = 64600\n\n\
         [peers.announce]\ncommunities = [\"64512:7\", \"no-export\"]\n\
         large_communities = [\"64512:1:7\"]\nmed = 50\nlocal_pref = 300\nas_path_prepend = 2\n",
    );
    let p = &c.peers[0];
    assert_eq!(p.local_as, Some(Asn(64600)));
    assert!(
        p.ibgp,
        "local_as equal to the peer's AS makes the session iBGP"
    );
    assert_eq!(p.local_asn(&c.global), Asn(64600));
    assert_eq!(p.announce.communities.len(), 2);
    assert_eq!(p.announce.large_communities.len(), 1);
    assert_eq!(p.announce.med, Some(50));
    assert_eq!(p.announce.local_pref, Some(300));
    assert_eq!(p.announce.as_path_prepend, Some(2));
    // The effective configuration carries them and reads back the same.
    assert_eq!(parse(&c.to_toml()), c);
    let e = errors(
        "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
         [[peers]]\naddress = \"10.0.0.1\"\nasn = 64600\nlocal_as = 0\n\n\
         [peers.announce]\ncommunities = [\"x\"]\nmed = -1\nas_path_prepend = 99\n",
    );
    let text = e.join("\n");
    for want in [
        "peers[0].local_as",
        "peers[0].announce.communities[0]",
        "peers[0].announce.med",
        "peers[0].announce.as_path_prepend",
    ] {
        assert!(text.contains(want), "{want} missing in:\n{text}");
    }
    let e = errors(
        "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
         [[peers]]\naddress = \"10.0.0.1\"\nasn = 64600\n\n[peers.announce]\nsurprise = 1\n",
    );
    assert!(
        e[0].contains("peers[0].announce.surprise: unknown field"),
        "{e:?}"
    );
}

#[test]
fn role_and_extended_next_hop() {
    let base = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n[[peers]]\n\
                address = \"fd00::1\"\nasn = 64500\n";
    let c = parse(&format!(
        "{base}role = \"provider\"\nrole_strict = true\nextended_next_hop = true\n"
    ));
    let p = &c.peers[0];
    assert_eq!(p.role, Some(bgp_proto::Role::Provider));
    assert!(p.role_strict && p.extended_next_hop);
    assert_eq!(parse(&c.to_toml()), c);
    let e = errors(&format!("{base}role = \"boss\"\n"));
    assert!(
        e[0].contains("peers[0].role") && e[0].contains("RFC 9234"),
        "{e:?}"
    );
    let e = errors(&format!("{base}role_strict = true\n"));
    assert!(
        e[0].contains("peers[0].role_strict: role_strict needs a role"),
        "{e:?}"
    );
}

#[test]
fn password_file_is_read_mode_checked_and_never_shown() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("bgpd-pwfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tor-a.key");
    std::fs::write(&file, "s3cret\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let config = |extra: &str| {
        format!(
            "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n[[peers]]\naddress = \"10.0.0.1\"\n\
             asn = 64500\npassword_file = \"{}\"\n{extra}",
            file.display()
        )
    };
    let c = parse(&config(""));
    assert_eq!(c.peers[0].password.as_deref(), Some("s3cret"));
    let text = c.to_toml();
    assert!(
        text.contains("password_file") && !text.contains("s3cret"),
        "{text}"
    );
    // Both forms at once, world-readable, empty, missing: precise errors, no key shown.
    let e = errors(&config("password = \"x\"\n"));
    assert!(
        e[0].contains("peers[0].password_file: give password or password_file"),
        "{e:?}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = errors(&config(""));
    assert!(
        e[0].contains("accessible to every user (mode 644)"),
        "{e:?}"
    );
    assert!(!e[0].contains("s3cret"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::write(&file, "\n").expect("write");
    assert!(errors(&config(""))[0].contains("is empty"));
    std::fs::remove_file(&file).expect("remove");
    assert!(errors(&config(""))[0].contains("cannot read the password file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn link_local_peers_need_an_existing_interface() {
    let base = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n[[peers]]\nasn = 64500\n";
    let e = errors(&format!("{base}address = \"fe80::1\"\n"));
    assert!(
        e[0].contains("peers[0].address: a link-local address (fe80::/10) needs `interface`"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{base}address = \"fe80::1\"\ninterface = \"no-such-if0\"\n"
    ));
    assert!(
        e[0].contains("peers[0].interface: no interface named \"no-such-if0\""),
        "{e:?}"
    );
    let c = parse(&format!(
        "{base}address = \"fe80::1\"\ninterface = \"lo\"\n"
    ));
    let scope = c.peers[0].socket_addr(&crate::host::TestHost);
    match scope {
        std::net::SocketAddr::V6(a) => assert_ne!(a.scope_id(), 0, "scope of lo"),
        other => panic!("{other}"),
    }
}

#[test]
fn unnumbered_peer_is_interface_alone_with_extended_next_hop() {
    let base = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n[[peers]]\nasn = 64500\n";
    let c = parse(&format!(
        "{base}interface = \"lo\"\n\n[[services]]\nprefix = \"192.0.2.10/32\"\n"
    ));
    let p = &c.peers[0];
    assert_eq!(p.unnumbered(), Some("lo"));
    assert_eq!(p.name, "lo", "named after the interface, as FRR does");
    assert!(
        p.extended_next_hop,
        "IPv4 rides on the IPv6 session (RFC 8950)"
    );
    assert_eq!(
        p.families,
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        "the session's own family and the service's"
    );
    assert!(warnings(&c).is_empty(), "{:?}", warnings(&c));
    // The effective config leaves the address out, and reads back the same.
    let text = c.to_toml();
    assert!(!text.contains("address = \"::\""), "{text}");
    assert_eq!(parse(&text), c);
    // A numbered peer is not unnumbered, link-local or not.
    let c = parse(&format!(
        "{base}address = \"fe80::1\"\ninterface = \"lo\"\n"
    ));
    assert_eq!(c.peers[0].unnumbered(), None);
}

#[test]
fn unnumbered_peer_errors_name_the_field() {
    let base = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n[[peers]]\nasn = 64500\n";
    let e = errors(&format!("{base}interface = \"no-such-if0\"\n"));
    assert!(
        e[0].contains("peers[0].interface: no interface named \"no-such-if0\""),
        "{e:?}"
    );
    let e = errors(&format!(
        "{base}interface = \"lo\"\n\n[[peers]]\nname = \"b\"\nasn = 64501\ninterface = \"lo\"\n"
    ));
    assert!(
        e[0].contains(
            "bgpd.toml:12:13: peers[1].interface: peers[0] is already the unnumbered peer on lo"
        ),
        "{e:?}"
    );
    let e = errors(&format!(
        "{base}interface = \"lo\"\nlocal_address = \"10.0.0.2\"\n"
    ));
    assert!(
        e[0].contains(
            "peers[0].local_address: an unnumbered peer's session runs between link-local"
        ),
        "{e:?}"
    );
    let e = errors(&format!(
        "{base}interface = \"lo\"\nextended_next_hop = false\nfamilies = [\"ipv4-unicast\"]\n"
    ));
    assert!(
        e[0].contains("peers[0].extended_next_hop: an unnumbered peer's session is IPv6 only"),
        "{e:?}"
    );
    let e = errors(&format!("{base}interface = \"lo\"\nbfd = true\n"));
    assert!(
        e[0].contains("peers[0].bfd: BFD is not supported on an unnumbered peer"),
        "{e:?}"
    );
    let e = errors(&format!("{base}address = \"::\"\n"));
    assert!(
        e[0].contains("peers[0].address: :: is not a peer address"),
        "{e:?}"
    );
    // (Both on lo: the second is refused for that too, after the password.)
    let e = errors(&format!(
        "{base}interface = \"lo\"\npassword = \"a\"\n\n[[peers]]\nname = \"b\"\nasn = 64501\n\
         interface = \"lo\"\n"
    ));
    assert!(
        e[0].contains("peers[1].password: unnumbered peers must share one TCP MD5 password"),
        "{e:?}"
    );
    // A link-local local address and a password are fine.
    let c = parse(&format!(
        "{base}interface = \"lo\"\nlocal_address = \"fe80::2\"\npassword = \"s3cret\"\n"
    ));
    assert_eq!(c.peers[0].unnumbered(), Some("lo"));
}

#[test]
fn bfd_takes_true_a_table_or_a_profile() {
    let c = parse(MINIMAL);
    assert_eq!(c.peers[0].bfd, None);
    let c = parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nbfd = true"));
    let b = c.peers[0].bfd.clone().unwrap();
    assert_eq!(
        (b.min_rx, b.min_tx, b.multiplier.get(), b.passive),
        (
            Duration::from_millis(300),
            Duration::from_millis(300),
            3,
            false
        )
    );
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nbfd = { min_rx = \"50ms\", min_tx = \"100ms\", multiplier = 5, passive = true }",
    ));
    let b = c.peers[0].bfd.clone().unwrap();
    assert_eq!(
        (b.min_rx, b.min_tx, b.multiplier.get(), b.passive, b.profile),
        (
            Duration::from_millis(50),
            Duration::from_millis(100),
            5,
            true,
            None
        )
    );
    // `bgpd check` prints the resolved values back in a form bgpd accepts.
    assert_eq!(parse(&c.to_toml()), c);
    let text = format!(
        "{}\n[bfd_profiles.fast]\nmin_rx = \"20ms\"\nmin_tx = \"20ms\"\nmultiplier = 4\n",
        MINIMAL.replace("asn = 64500", "asn = 64500\nbfd = \"fast\"")
    );
    let c = parse(&text);
    assert!(warnings(&c).is_empty(), "{:?}", warnings(&c));
    let b = c.peers[0].bfd.clone().unwrap();
    assert_eq!(b.profile.as_deref(), Some("fast"));
    let c = parse(&format!(
        "{MINIMAL}\n[bfd_profiles.spare]\nmultiplier = 5\n"
    ));
    assert_eq!(
        warnings(&c),
        ["bfd_profiles.spare: no peer uses this profile (write bfd = \"spare\" in a peer)"]
    );
    assert_eq!(
        (b.min_rx, b.multiplier.get()),
        (Duration::from_millis(20), 4)
    );
    assert_eq!(
        parse(&MINIMAL.replace("asn = 64500", "asn = 64500\nbfd = false")).peers[0].bfd,
        None
    );
}

#[test]
fn bfd_errors_name_line_column_and_field() {
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nbfd = { min_rx = \"5ms\", min_tx = 120, multiplier = 0 }",
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with(
            "bgpd.toml:9:18: peers[0].bfd.min_rx: a BFD interval must be 10ms..=60s, got 5ms"
        ),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("bgpd.toml:9:34: peers[0].bfd.min_tx:"),
        "{e:?}"
    );
    assert_eq!(
        e[2],
        "bgpd.toml:9:52: peers[0].bfd.multiplier: the detect multiplier must be 1..=255 (RFC 5880 §4.1), got 0"
    );
    let e = errors(&MINIMAL.replace("asn = 64500", "asn = 64500\nbfd = \"slow\""));
    assert_eq!(
        e,
        ["bgpd.toml:9:7: peers[0].bfd: no [bfd_profiles.slow] table (profiles defined: none)"]
    );
    let e = errors(&MINIMAL.replace("asn = 64500", "asn = 64500\nbfd = { min_rxx = \"50ms\" }"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("bgpd.toml:9:"), "{e:?}");
    assert!(e[0].contains("min_rxx"), "{e:?}");
    let e = errors(&format!("{MINIMAL}\n[bfd_profiles.x]\nmultiplier = 300\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("bfd_profiles.x.multiplier: the detect multiplier must be 1..=255"),
        "{e:?}"
    );
}

#[test]
fn send_hold_time_defaults_to_the_rfc_and_must_exceed_the_hold_time() {
    let c = parse(MINIMAL);
    assert_eq!(c.peers[0].send_hold_time, None);
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nhold_time = 9\nsend_hold_time = 20",
    ));
    assert_eq!(c.peers[0].send_hold_time, Some(Duration::from_secs(20)));
    assert!(c.to_toml().contains("send_hold_time = 20"));
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nhold_time = 9\nsend_hold_time = \"9s\"",
    ));
    assert_eq!(
        e,
        [
            "bgpd.toml:10:18: peers[0].send_hold_time: the send hold time must be longer than the \
          hold time (9 s, RFC 9687), got 9000 ms"
        ]
    );
}

#[test]
fn min_hold_time_and_max_prefixes_action_parse_with_located_errors() {
    let c = parse(MINIMAL);
    assert_eq!(c.peers[0].min_hold_time, 3);
    assert_eq!(c.peers[0].max_prefixes_action, PrefixLimitAction::Close);
    let c = parse(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nmin_hold_time = 9\nmax_prefixes = 10\nmax_prefixes_action = \"drop\"",
    ));
    assert_eq!(c.peers[0].min_hold_time, 9);
    assert_eq!(c.peers[0].max_prefixes_action, PrefixLimitAction::Drop);
    let text = c.to_toml();
    assert!(text.contains("min_hold_time = 9"), "{text}");
    assert!(text.contains("max_prefixes_action = \"drop\""), "{text}");
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nmin_hold_time = 2\nmax_prefixes_action = \"reset\"",
    ));
    assert_eq!(
        e,
        [
            "bgpd.toml:9:17: peers[0].min_hold_time: the minimum hold time must be 3..=65535 \
             seconds (RFC 4271 §4.2), got 2",
            "bgpd.toml:10:23: peers[0].max_prefixes_action: expected \"close\" or \"drop\", \
             got \"reset\"",
        ]
    );
    let e = errors(&MINIMAL.replace(
        "asn = 64500",
        "asn = 64500\nhold_time = 9\nmin_hold_time = 30",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "bgpd.toml:10:17: peers[0].min_hold_time: is above this peer's own hold time (9 s)"
        ),
        "{e:?}"
    );
}

#[test]
fn rib_table_sets_the_multipath_rule() {
    let c = parse(MINIMAL);
    assert_eq!(c.global.rib, bgp_rib::RibConfig::default());
    assert_eq!(c.global.rib.max_paths.get(), 16);
    assert!(!c.global.rib.as_path_relax);
    // [rib] before and after the services (the lean reader hands the latter to the
    // document parser).
    let rib = "\n[rib]\nmax_paths = 8\nas_path_relax = true\n";
    let head = MINIMAL.split("[[services]]").next().unwrap();
    for text in [
        format!("{head}{rib}\n[[services]]\nprefix = \"192.0.2.10/32\"\n"),
        format!("{MINIMAL}{rib}"),
    ] {
        let c = parse(&text);
        assert_eq!(c.global.rib.max_paths.get(), 8);
        assert!(c.global.rib.as_path_relax);
        // The rendered configuration reads back the same.
        assert_eq!(parse(&c.to_toml()).global.rib, c.global.rib);
    }
    let e = errors(&format!("{MINIMAL}\n[rib]\nmax_paths = 0\n"));
    assert_eq!(
        e,
        ["bgpd.toml:14:13: rib.max_paths: must be 1..=256 (members of one multipath set), got 0"]
    );
    let e = errors(&format!("{MINIMAL}\n[rib]\nmax_path = 4\n"));
    assert!(
        e[0].contains("bgpd.toml:14:1") && e[0].contains("max_path"),
        "{e:?}"
    );
}

#[test]
fn service_weight_out_of_range_names_file_line_and_column() {
    let e = errors(
        "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
         [[peers]]\naddress = \"10.0.0.1\"\nasn = 64600\n\n\
         [[services]]\nprefix = \"192.0.2.1/32\"\nweight = 0\n",
    );
    assert_eq!(
        e,
        ["bgpd.toml:11:10: services[0].weight: must be 1..=1000000 (Mbit/s of the Link Bandwidth community sent), got 0"]
    );
}

#[test]
fn integer_keys_of_every_table_say_expected_an_integer() {
    // One `Int` type carries the message for every integer key (raw.rs): check one per table.
    for (extra, field) in [
        ("[fib]\nbuckets = \"many\"\n", "fib.buckets"),
        ("[rib]\nmax_paths = 1.5\n", "rib.max_paths"),
        (
            "[[services]]\nprefix = \"192.0.2.20/32\"\nweight = \"heavy\"\n",
            "services[1].weight",
        ),
        (
            "[services.health]\ntype = \"tcp\"\ntarget = \"{nexthop}:80\"\nrise = true\n",
            "services[0].health.rise",
        ),
        (
            "[bfd_profiles.fast]\nmultiplier = \"3\"\n",
            "bfd_profiles.fast.multiplier",
        ),
    ] {
        let e = errors(&format!("{MINIMAL}{extra}"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains(&format!("{field}: invalid type: "))
                && e[0].ends_with(", expected an integer"),
            "{extra}: {e:?}"
        );
    }
}
