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
