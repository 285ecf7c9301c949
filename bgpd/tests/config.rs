//! Configuration errors, pinned exactly: file, line, column, key path and message.

use bgpd::config::{Config, ConfigError};

/// `[global]` on line 1, a peer on lines 5-7, a service on lines 9-10. Tests append or
/// replace lines; the expected positions below are counted on the resulting text.
const BASE: &str = "[global]
asn = 64512
router_id = \"10.255.0.2\"

[[peers]]
address = \"10.255.0.1\"
asn = 64500

[[services]]
prefix = \"192.0.2.10/32\"
";

fn error(text: &str) -> String {
    match Config::parse(text, "bgpd.toml", &bgpd::link::ThisHost) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn with_peer_line(line: &str) -> String {
    BASE.replace("asn = 64500\n", &format!("asn = 64500\n{line}\n"))
}

fn with_service_line(line: &str) -> String {
    format!("{BASE}{line}\n")
}

#[test]
fn base_is_valid() {
    assert!(Config::parse(BASE, "bgpd.toml", &bgpd::link::ThisHost).is_ok());
}

#[test]
fn open_hold_time_below_three_seconds() {
    assert_eq!(
        error(&with_peer_line("open_hold_time = \"2500ms\"")),
        "bgpd.toml:8:18: peers[0].open_hold_time: the OPEN-wait hold time must be at least 3 seconds (RFC 4271 §4.2), got 2500 ms"
    );
}

#[test]
fn hold_time_of_two_seconds() {
    assert_eq!(
        error(&with_peer_line("hold_time = 2")),
        "bgpd.toml:8:13: peers[0].hold_time: hold time must be 0 or at least 3 seconds (RFC 4271 §4.2), got 2"
    );
}

#[test]
fn hold_time_too_large() {
    assert_eq!(
        error(&with_peer_line("hold_time = 70000")),
        "bgpd.toml:8:13: peers[0].hold_time: hold time is a 16-bit number of seconds, at most 65535, got 70000"
    );
}

#[test]
fn keepalive_not_below_hold_time() {
    assert_eq!(
        error(&with_peer_line("hold_time = 9\nkeepalive = 9")),
        "bgpd.toml:9:13: peers[0].keepalive: keepalive must be less than the hold time (9 seconds), got 9"
    );
}

#[test]
fn unknown_key() {
    let e = error(&with_peer_line("hodl_time = 9"));
    assert!(
        e.starts_with("bgpd.toml:8:1: peers[0].hodl_time: unknown field `hodl_time`, expected one of `name`, `address`"),
        "{e}"
    );
}

#[test]
fn unknown_table() {
    let e = error(&format!("{BASE}[peer]\nasn = 1\n"));
    assert!(e.starts_with("bgpd.toml:11:2: peer: unknown field `peer`, expected one of `global`, `peers`, `services`"), "{e}");
}

#[test]
fn wrong_type() {
    assert_eq!(
        error(&with_peer_line("passive = \"yes\"")),
        "bgpd.toml:8:11: peers[0].passive: invalid type: string \"yes\", expected a boolean"
    );
    assert_eq!(
        error(&with_peer_line("hold_time = true")),
        "bgpd.toml:8:13: peers[0].hold_time: invalid type: boolean `true`, expected an integer or a string"
    );
}

#[test]
fn syntax_error() {
    assert_eq!(
        error(&with_peer_line("port = ")),
        "bgpd.toml:8:8: port: invalid string; expected `\"`, `'`"
    );
    assert_eq!(
        error(&format!("{BASE}[global]\n")),
        "bgpd.toml:11:1: invalid table header; duplicate key `global` in document root"
    );
}

#[test]
fn missing_global() {
    assert_eq!(
        error("[[peers]]\naddress = \"10.0.0.1\"\nasn = 1\n"),
        "bgpd.toml:1:1: global: missing table [global] (asn and router_id are required)"
    );
}

#[test]
fn missing_keys_point_at_their_table() {
    assert_eq!(
        error(&BASE.replace("asn = 64500\n", "")),
        "bgpd.toml:5:1: peers[0].asn: missing key: the peer's AS number is required"
    );
    assert_eq!(
        error(&BASE.replace("router_id = \"10.255.0.2\"\n", "")),
        "bgpd.toml:1:1: global.router_id: missing key: the BGP identifier (an IPv4 address) is required"
    );
}

#[test]
fn router_id() {
    assert_eq!(
        error(&BASE.replace("\"10.255.0.2\"", "\"0.0.0.0\"")),
        "bgpd.toml:3:13: global.router_id: the BGP identifier must not be 0.0.0.0 (RFC 6286 §2.1)"
    );
    assert_eq!(
        error(&BASE.replace("\"10.255.0.2\"", "\"2001:db8::1\"")),
        "bgpd.toml:3:13: global.router_id: expected an IPv4 address such as \"10.255.0.2\", got \"2001:db8::1\""
    );
}

#[test]
fn reserved_asns() {
    assert_eq!(
        error(&BASE.replace("asn = 64512", "asn = 23456")),
        "bgpd.toml:2:7: global.asn: AS 23456 is AS_TRANS and cannot be a speaker's AS (RFC 6793 §9)"
    );
    assert_eq!(
        error(&BASE.replace("asn = 64500", "asn = 4294967296")),
        "bgpd.toml:7:7: peers[0].asn: an AS number must be 1..=4294967295, got 4294967296"
    );
}

#[test]
fn duplicate_peer_name_defaulted_from_address() {
    let text = format!("{BASE}\n[[peers]]\naddress = \"10.255.0.1\"\nasn = 64501\n");
    assert_eq!(
        error(&text),
        "bgpd.toml:13:11: peers[1].address: duplicate peer name \"10.255.0.1\" (also peers[0])\n\
         bgpd.toml:13:11: peers[1].address: address 10.255.0.1 is already used by peers[0]: one session per peer address"
    );
}

#[test]
fn local_address_family() {
    assert_eq!(
        error(&with_peer_line("local_address = \"2001:db8::2\"")),
        "bgpd.toml:8:17: peers[0].local_address: local address 2001:db8::2 and peer address 10.255.0.1 are of different families"
    );
}

#[test]
fn password_length() {
    let pw = "x".repeat(81);
    assert_eq!(
        error(&with_peer_line(&format!("password = \"{pw}\""))),
        "bgpd.toml:8:12: peers[0].password: TCP MD5 keys are at most 80 bytes (RFC 2385, Linux TCP_MD5SIG_MAXKEYLEN), got 81"
    );
}

#[test]
fn ttl_options_conflict() {
    assert_eq!(
        error(&with_peer_line("ebgp_multihop = 2\nttl_security = true")),
        "bgpd.toml:9:16: peers[0].ttl_security: ttl_security (GTSM, RFC 5082) and ebgp_multihop cannot both be set"
    );
}

#[test]
fn unknown_family() {
    assert_eq!(
        error(&with_peer_line("families = [\"ipv4-unicast\", \"ipv4-flowspec\"]")),
        "bgpd.toml:8:29: peers[0].families[1]: expected \"ipv4-unicast\" or \"ipv6-unicast\", got \"ipv4-flowspec\""
    );
}

#[test]
fn passive_needs_listen() {
    let text = with_peer_line("passive = true").replace("asn = 64512", "asn = 64512\nlisten = []");
    assert_eq!(
        error(&text),
        "bgpd.toml:9:11: peers[0].passive: a passive peer can never connect: global.listen is empty"
    );
}

#[test]
fn shutdown_message_length() {
    let m = "é".repeat(128);
    assert_eq!(
        error(&with_peer_line(&format!("shutdown_message = \"{m}\""))),
        "bgpd.toml:8:20: peers[0].shutdown_message: a Shutdown Communication is at most 255 bytes of UTF-8 (RFC 9003 §2), got 256"
    );
}

#[test]
fn service_unknown_peer() {
    assert_eq!(
        error(&with_service_line("peers = [\"10.255.0.1\", \"tor-x\"]")),
        "bgpd.toml:11:24: services[0].peers[1]: no peer named \"tor-x\" (configured: 10.255.0.1)"
    );
}

#[test]
fn service_prefix_host_bits() {
    assert_eq!(
        error(&BASE.replace("192.0.2.10/32", "192.0.2.10/24")),
        "bgpd.toml:10:10: services[0].prefix: host bits are set in 192.0.2.10/24; did you mean 192.0.2.0/24?"
    );
}

#[test]
fn service_nexthop_family() {
    assert_eq!(
        error(&with_service_line("nexthops = [\"self\", \"2001:db8::1\"]")),
        "bgpd.toml:11:21: services[0].nexthops[1]: next hop 2001:db8::1 is not of the same family as the prefix 192.0.2.10/32"
    );
}

#[test]
fn service_communities() {
    assert_eq!(
        error(&with_service_line("communities = [\"64512:100\", \"65536:1\"]")),
        "bgpd.toml:11:29: services[0].communities[1]: expected \"ASN:VALUE\" with two numbers 0..=65535 or a well-known name (no-export, no-advertise, ...), got \"65536:1\""
    );
    assert_eq!(
        error(&with_service_line("large_communities = [\"1:2\"]")),
        "bgpd.toml:11:22: services[0].large_communities[0]: expected \"GLOBAL:LOCAL1:LOCAL2\" with three numbers 0..=4294967295, got \"1:2\""
    );
}

#[test]
fn same_prefix_twice_to_one_peer() {
    let text = format!("{BASE}\n[[services]]\nname = \"again\"\nprefix = \"192.0.2.10/32\"\n");
    assert_eq!(
        error(&text),
        "bgpd.toml:14:10: services[1].prefix: prefix 192.0.2.10/32 is also announced to peer \"10.255.0.1\" by services[0] (\"192.0.2.10/32\"); use one service with several nexthops"
    );
}

#[test]
fn health_check_errors() {
    let text = format!(
        "{BASE}[services.health]\ntype = \"tcp\"\ntarget = \"{{nexthop}}\"\ninterval = 2\ntimeout = \"3s\"\non_fail = \"demote\"\n"
    );
    assert_eq!(
        error(&text),
        "bgpd.toml:13:10: services[0].health.target: expected HOST:PORT, e.g. \"{nexthop}:80\", got \"{nexthop}\"\n\
         bgpd.toml:15:11: services[0].health.timeout: timeout (3000ms) must not be longer than the interval (2000ms)\n\
         bgpd.toml:16:11: services[0].health.on_fail: on_fail = \"demote\" needs a [services.health.demote] table (med, communities, as_path_prepend)"
    );
    let text = format!("{BASE}[services.health]\ntype = \"ping\"\n");
    assert_eq!(
        error(&text),
        "bgpd.toml:12:8: services[0].health.type: expected \"tcp\", \"http\" or \"exec\", got \"ping\""
    );
}

#[test]
fn unreadable_file() {
    let e = Config::load(
        std::path::Path::new("/nonexistent/bgpd.toml"),
        &bgpd::link::ThisHost,
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert_eq!(
        e.to_string(),
        "/nonexistent/bgpd.toml: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn load_names_the_path_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bgpd.toml");
    std::fs::write(&path, with_peer_line("hold_time = 1")).unwrap();
    let e = Config::load(&path, &bgpd::link::ThisHost)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}:8:13: peers[0].hold_time: hold time must be 0 or at least 3 seconds (RFC 4271 §4.2), got 1", path.display())
    );
}

/// The shipped example must stay valid and warning-free.
#[test]
fn dist_example_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/bgpd.toml");
    let c = Config::load(&path, &bgpd::link::ThisHost).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.services.len(), 2);
    assert!(c.services[1].health.is_some());
}

#[test]
fn integer_keys_say_integer() {
    assert_eq!(
        error(&with_peer_line("port = 179.0")),
        "bgpd.toml:8:8: peers[0].port: invalid type: floating point `179.0`, expected an integer"
    );
    assert_eq!(
        error(&BASE.replace(
            "router_id = \"10.255.0.2\"",
            "router_id = \"10.255.0.2\"\nlisten = [1]"
        )),
        "bgpd.toml:4:11: global.listen[0]: invalid type: integer `1`, expected a string"
    );
}

/// An unnumbered peer (`interface` alone): the errors point at the interface and the keys
/// that need a numbered peer.
#[test]
fn unnumbered_peer_errors() {
    let unnumbered = |lines: &str| {
        BASE.replace(
            "address = \"10.255.0.1\"\nasn = 64500\n",
            &format!("asn = 64500\n{lines}\n"),
        )
    };
    assert_eq!(
        error(&unnumbered("interface = \"no-such-if0\"")),
        "bgpd.toml:7:13: peers[0].interface: no interface named \"no-such-if0\" on this host"
    );
    assert_eq!(
        error(&unnumbered(
            "interface = \"lo\"\nlocal_address = \"10.255.0.2\""
        )),
        "bgpd.toml:8:17: peers[0].local_address: an unnumbered peer's session runs between \
         link-local addresses: local_address must be a link-local (fe80::/10) address of the \
         interface or left out, got 10.255.0.2"
    );
    let two = format!(
        "{}\n[[peers]]\nname = \"again\"\nasn = 64501\ninterface = \"lo\"\n",
        unnumbered("interface = \"lo\"")
    );
    assert_eq!(
        error(&two),
        "bgpd.toml:15:13: peers[1].interface: peers[0] is already the unnumbered peer on lo: \
         one neighbor is learned per interface"
    );
}
