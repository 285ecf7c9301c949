//! The `bgpd` binary: exit codes and output of `check` and `decode`.

use std::path::Path;
use std::process::{Command, Output};

const VALID: &str = "[global]
asn = 64512
router_id = \"10.255.0.2\"

[[peers]]
name = \"tor-a\"
address = \"10.255.0.1\"
asn = 64500

[[services]]
prefix = \"192.0.2.10/32\"
local_pref = 200
";

fn bgpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .args(args)
        .output()
        .expect("run bgpd")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_valid_prints_effective_config_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bgpd.toml", VALID);
    let o = bgpd(&["check", "--config", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // Defaults filled in.
    for line in [
        "listen = [\"0.0.0.0:179\", \"[::]:179\"]",
        "hold_time = 90",
        "keepalive = 30",
        "connect_retry = 5",
        "control_socket = \"/run/bgpd/bgpd.sock\"",
        "port = 179",
        "restart_time = 120",
        "nexthops = [\"self\"]",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(
        stderr(&o),
        format!("warning: {f}:12:14: services[0].local_pref: LOCAL_PREF is only sent to iBGP peers (RFC 4271 §5.1.5) and this service has none\n")
    );
}

#[test]
fn check_invalid_exits_2_with_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bgpd.toml",
        &VALID.replace("asn = 64500", "asn = 64500\nhold_time = 2"),
    );
    let o = bgpd(&["check", "-c", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!("error: {f}:9:13: peers[0].hold_time: hold time must be 0 or at least 3 seconds (RFC 4271 §4.2), got 2\n")
    );
}

#[test]
fn check_missing_file_exits_2() {
    let o = bgpd(&["check", "--config", "/nonexistent/bgpd.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/bgpd.toml: cannot read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_with_invalid_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bgpd.toml",
        "[global]\nasn = 0\nrouter_id = \"10.0.0.1\"\n",
    );
    // `bgpd -c FILE` means `bgpd run --config FILE`.
    let o = bgpd(&["-c", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("global.asn: AS 0 is reserved"),
        "{}",
        stderr(&o)
    );
    let o = bgpd(&["run", "--config", &f, "--log-format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let line = stderr(&o);
    let first = line.lines().next().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(v["level"], "ERROR");
    assert!(
        v["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("AS 0 is reserved"),
        "{v}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(bgpd(&[]).status.code(), Some(2));
    assert_eq!(bgpd(&["check"]).status.code(), Some(2));
    assert_eq!(bgpd(&["decode"]).status.code(), Some(2));
    assert_eq!(
        bgpd(&["decode", "--hex", "00", "--mrt", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(bgpd(&["--help"]).status.code(), Some(0));
}

const MARKER: &str = "ffffffffffffffffffffffffffffffff";

fn decode_lines(args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let mut all = vec!["decode"];
    all.extend_from_slice(args);
    let o = bgpd(&all);
    let lines = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (o.status.code(), lines)
}

/// RFC 4271 §4.4: a KEEPALIVE is the header alone; RFC 4271 §4.5 + RFC 9003: Cease /
/// Administrative Shutdown with the shutdown text "bye". Separated by spaces and colons.
#[test]
fn decode_keepalive_and_notification() {
    let hex = format!("{MARKER} 0013 04 {MARKER}:0019:03:06:02:03:627965");
    let (code, lines) = decode_lines(&["--hex", &hex]);
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        serde_json::json!({"index": 0, "type": "KEEPALIVE", "length": 19})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({
            "index": 1, "type": "NOTIFICATION", "length": 25,
            "code": 6, "code_name": "Cease", "subcode": 2, "subcode_name": "Administrative Shutdown",
            "data": "03627965", "shutdown_message": "bye"
        })
    );
}

/// RFC 4271 §4.2 OPEN: AS 64512, hold 90, id 10.255.0.2, capabilities MP ipv4-unicast
/// (RFC 4760 §8) and 4-octet AS 64512 (RFC 6793 §3).
const OPEN_AS64512: &str = concat!(
    "ffffffffffffffffffffffffffffffff",
    "002d",
    "01", // marker, length 45, OPEN
    "04",
    "fc00",
    "005a",
    "0aff0002",
    "10", // version, my AS, hold, id, opt len 16
    "0206",
    "0104",
    "0001",
    "00",
    "01", // param 2 len 6: cap 1 len 4: AFI 1, SAFI 1
    "0206",
    "4104",
    "0000fc00", // param 2 len 6: cap 65 len 4: AS 64512
);

#[test]
fn decode_open() {
    let (code, lines) = decode_lines(&["--hex", OPEN_AS64512]);
    assert_eq!(code, Some(0));
    assert_eq!(
        lines,
        [serde_json::json!({
            "index": 0, "type": "OPEN", "length": 45, "version": 4, "my_as": 64512, "asn": 64512,
            "hold_time": 90, "bgp_id": "10.255.0.2",
            "capabilities": [
                {"code": 1, "name": "multiprotocol", "family": "ipv4-unicast"},
                {"code": 65, "name": "4-octet-as", "asn": 64512}
            ]
        })]
    );
}

/// RFC 4271 §4.3 UPDATE announcing 192.0.2.16/32: ORIGIN IGP, AS_PATH [64500] (4-octet
/// ASNs, RFC 6793), NEXT_HOP 10.255.0.1.
const UPDATE_AS4: &str = concat!(
    "ffffffffffffffffffffffffffffffff",
    "0030",
    "02", // marker, length 48, UPDATE
    "0000",
    "0014", // no withdrawn, 20 octets of attributes
    "400101",
    "00", // ORIGIN IGP
    "400206",
    "0201",
    "0000fbf4", // AS_PATH: AS_SEQUENCE of 1, 64500
    "400304",
    "0aff0001", // NEXT_HOP 10.255.0.1
    "20",
    "c0000210", // NLRI 192.0.2.16/32
);

#[test]
fn decode_update() {
    let (code, lines) = decode_lines(&["--hex", UPDATE_AS4]);
    assert_eq!(code, Some(0));
    let u = &lines[0];
    assert_eq!(u["type"], "UPDATE");
    assert_eq!(
        u["announced"],
        serde_json::json!([{"prefix": "192.0.2.16/32"}])
    );
    assert_eq!(u["withdrawn"], serde_json::json!([]));
    assert_eq!(
        u["next_hop"],
        serde_json::json!({"ipv4-unicast": {"address": "10.255.0.1"}})
    );
    assert_eq!(u["verdict"], "accept");
    let attrs = u["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 3);
    assert_eq!(attrs[0]["value"], "igp");
    assert_eq!(attrs[1]["type"], "AS_PATH");
    assert_eq!(
        attrs[1]["value"]["segments"],
        serde_json::json!([{"type": "sequence", "asns": [64500]}])
    );
    assert_eq!(
        attrs[2],
        serde_json::json!({
            "type": "NEXT_HOP", "code": 3,
            "flags": {"optional": false, "transitive": true, "partial": false, "extended_length": false},
            "length": 4, "value": "10.255.0.1"
        })
    );
}

#[test]
fn decode_update_as2_and_add_path() {
    // The same route from a 2-octet-AS session (--as2): AS_PATH carries 2-octet ASNs.
    let as2 = concat!(
        "ffffffffffffffffffffffffffffffff",
        "002e",
        "02",
        "0000",
        "0012",
        "40010100",
        "400204",
        "0201",
        "fbf4",
        "4003040aff0001",
        "20c0000210",
    );
    let (code, lines) = decode_lines(&["--hex", as2, "--as2"]);
    assert_eq!(code, Some(0));
    assert_eq!(lines[0]["attributes"][1]["value"]["text"], "64500");
    // With ADD-PATH receive (RFC 7911 §3), each NLRI starts with a 4-octet path id (7).
    let add_path = concat!(
        "ffffffffffffffffffffffffffffffff",
        "0034",
        "02",
        "0000",
        "0014",
        "40010100",
        "4002060201",
        "0000fbf4",
        "4003040aff0001",
        "00000007",
        "20c0000210",
    );
    let (code, lines) = decode_lines(&["--hex", add_path, "--add-path"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        lines[0]["announced"],
        serde_json::json!([{"prefix": "192.0.2.16/32", "path_id": 7}])
    );
}

#[test]
fn decode_errors_carry_the_notification() {
    // RFC 4271 §6.1: a marker that is not all ones is 1/1, and framing stops there.
    let bad_marker = format!("{}fe0013 04", &MARKER[..30]);
    let (code, lines) = decode_lines(&["--hex", &format!("{MARKER}001304{bad_marker}")]);
    assert_eq!(code, Some(1));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["error"],
        "connection not synchronized (marker is not all ones) at offset 19"
    );
    assert_eq!(
        lines[1]["notification"],
        serde_json::json!({"code": 1, "code_name": "Message Header Error", "subcode": 1,
            "subcode_name": "Connection Not Synchronized", "data": ""})
    );
    // RFC 4271 §6.3: NLRI length 33 for IPv4 is 3/10 Invalid Network Field.
    let bad_nlri = UPDATE_AS4.replace("20c0000210", "21c0000210");
    let (code, lines) = decode_lines(&["--hex", &bad_nlri]);
    assert_eq!(code, Some(1));
    assert_eq!(lines[0]["type"], "UPDATE");
    assert_eq!(lines[0]["notification"]["code"], 3);
    assert_eq!(lines[0]["notification"]["subcode"], 10);
    assert_eq!(lines[0]["hex"], bad_nlri);
    // Not hex at all.
    let (code, lines) = decode_lines(&["--hex", "zz"]);
    assert_eq!(code, Some(1));
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid hex input"),
        "{}",
        lines[0]
    );
    // A message cut short.
    let (code, lines) = decode_lines(&["--hex", &OPEN_AS64512[..60]]);
    assert_eq!(code, Some(1));
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("truncated: 30 octets left at offset 0"),
        "{}",
        lines[0]
    );
}

#[test]
fn decode_raw_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("msgs.bin");
    let bytes = hex::decode(format!("{OPEN_AS64512}{MARKER}001304{UPDATE_AS4}")).unwrap();
    std::fs::write(&p, bytes).unwrap();
    let (code, lines) = decode_lines(&[p.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["OPEN", "KEEPALIVE", "UPDATE"]);
    let o = bgpd(&["decode", "/nonexistent.bin"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bgpd.toml",
        "[global]\nasn = 0\nrouter_id = \"10.0.0.1\"\n",
    );
    // NO_COLOR unset on purpose: a pipe alone must be enough.
    let o = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .args(["run", "--config", &f])
        .env_remove("NO_COLOR")
        .output()
        .expect("run bgpd");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("ERROR"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in a non-terminal log: {err:?}"
    );
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bgpd.toml",
        "[global]\nasn = 0\nrouter_id = \"10.0.0.1\"\n",
    );
    for args in [
        ["--log-format", "json", "run", "--config", &f],
        ["run", "--log-format", "json", "--config", &f],
    ] {
        let o = bgpd(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let first = stderr(&o).lines().next().unwrap_or_default().to_string();
        let v: serde_json::Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("{args:?}: {e}: {first}"));
        assert_eq!(v["level"], "ERROR");
    }
    // `-c` belongs either to the command or alone, not both.
    let o = bgpd(&["-c", &f, "check", "--config", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bgpd run -c FILE"), "{}", stderr(&o));
}
