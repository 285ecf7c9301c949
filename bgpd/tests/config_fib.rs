//! `[fib]` in the configuration file: defaults, every key, and errors pinned exactly (file,
//! line, column, key path, message).

use bgpd::config::{Config, ConfigError};
use bgpd::fib::{FibSettings, GroupKind};

const BASE: &str = "[global]
asn = 64512
router_id = \"10.255.0.2\"
";

fn with_fib(lines: &str) -> String {
    format!("{BASE}\n[fib]\n{lines}\n")
}

fn parse(text: &str) -> Config {
    Config::parse(text, "bgpd.toml", &bgpd::link::ThisHost)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn error(text: &str) -> String {
    match Config::parse(text, "bgpd.toml", &bgpd::link::ThisHost) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ConfigError::Invalid(d)) => d
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn without_a_fib_table_nothing_is_programmed() {
    assert_eq!(parse(BASE).fib, None);
}

#[test]
fn an_empty_fib_table_gets_every_default() {
    let c = parse(&with_fib(""));
    assert_eq!(
        c.fib,
        Some(FibSettings {
            table: 254,
            protocol: 179,
            kind: GroupKind::Resilient {
                buckets: 256,
                idle_timer: 120,
                unbalanced_timer: 0
            },
            retain_on_stop: false,
        })
    );
    assert_eq!(c.fib, Some(FibSettings::default()));
}

#[test]
fn every_key() {
    let c = parse(&with_fib(
        "table = 100\nprotocol = 201\nbuckets = 512\nidle_timer = \"2m\"\nunbalanced_timer = 600\nretain_on_stop = true",
    ));
    assert_eq!(
        c.fib,
        Some(FibSettings {
            table: 100,
            protocol: 201,
            kind: GroupKind::Resilient {
                buckets: 512,
                idle_timer: 120,
                unbalanced_timer: 600
            },
            retain_on_stop: true,
        })
    );
    let c = parse(&with_fib("resilient = false"));
    assert_eq!(c.fib.map(|f| f.kind), Some(GroupKind::Multipath));
}

#[test]
fn the_fib_table_may_follow_the_services() {
    let text = format!("{BASE}\n[[services]]\nprefix = \"192.0.2.10/32\"\n\n[fib]\ntable = 7\n");
    assert_eq!(parse(&text).fib.map(|f| f.table), Some(7));
}

#[test]
fn bucket_keys_with_plain_multipath_are_warned_about() {
    let c = parse(&with_fib("resilient = false\nbuckets = 64"));
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec!["bgpd.toml:7:11: fib.buckets: ignored: resilient = false makes plain multipath groups, which have no buckets"]
    );
}

#[test]
fn a_protocol_of_another_daemon_is_refused() {
    assert_eq!(
        error(&with_fib("protocol = 186")),
        "bgpd.toml:6:12: fib.protocol: protocol 186 belongs to FRR bgpd: bgpd removes the routes with its protocol number that it did not set, so it needs a number of its own (default 179)"
    );
    assert_eq!(
        error(&with_fib("protocol = 4")),
        "bgpd.toml:6:12: fib.protocol: protocol 4 belongs to static: bgpd removes the routes with its protocol number that it did not set, so it needs a number of its own (default 179)"
    );
    assert_eq!(
        error(&with_fib("protocol = 256")),
        "bgpd.toml:6:12: fib.protocol: a route protocol number is 1..=255 (rtm_protocol), got 256"
    );
}

#[test]
fn tables_buckets_and_timers_out_of_range() {
    assert_eq!(
        error(&with_fib("table = 255")),
        "bgpd.toml:6:9: fib.table: table 255 is the kernel's local table; use main (254) or a table of your own (1..=4294967295)"
    );
    assert_eq!(
        error(&with_fib("table = 0")),
        "bgpd.toml:6:9: fib.table: table 0 is RT_TABLE_UNSPEC; use main (254) or a table of your own (1..=4294967295)"
    );
    assert_eq!(
        error(&with_fib("buckets = 0")),
        "bgpd.toml:6:11: fib.buckets: buckets is 1..=65535 (NHA_RES_GROUP_BUCKETS is 16 bits), got 0"
    );
    assert_eq!(
        error(&with_fib("idle_timer = 172800")),
        "bgpd.toml:6:14: fib.idle_timer: at most 86400 seconds (one day), got 172800"
    );
    assert_eq!(
        error(&with_fib("unbalanced_timer = \"1500ms\"")),
        "bgpd.toml:6:20: fib.unbalanced_timer: must be a whole number of seconds, got 1500ms"
    );
    assert_eq!(
        error(&with_fib("bukets = 64")),
        "bgpd.toml:6:1: fib.bukets: unknown field `bukets`, expected one of `table`, `protocol`, `resilient`, `buckets`, `idle_timer`, `unbalanced_timer`, `retain_on_stop`"
    );
}

#[test]
fn check_writes_the_fib_table_back() {
    let c = parse(&with_fib("table = 100\nidle_timer = 30"));
    let text = c.to_toml();
    assert!(text.contains("[fib]\ntable = 100\nprotocol = 179\nresilient = true\nbuckets = 256\nidle_timer = 30\nunbalanced_timer = 0\nretain_on_stop = false\n"), "{text}");
    assert_eq!(parse(&text).fib, c.fib);
}
