//! Health checks of services (`[services.health]`), after ExaBGP's healthcheck: a probe
//! (`tcp` connect, `http` GET, `exec` exit status) runs every `interval` with a `timeout`,
//! and a hysteresis state machine turns its results into a verdict: `rise` consecutive
//! successes make a target up, `fall` consecutive failures make it down. A flapping probe
//! therefore cannot flap routes faster than rise/fall allow. A `disable_file` that exists
//! forces the service down whatever the probe says.
//!
//! [`Hysteresis`] is pure (scripted inputs in the tests); [`run_probe`] does the I/O.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{NextHopSpec, Probe};

/// A target's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No verdict yet (fewer than `rise` successes or `fall` failures since start): treated
    /// as failing, so nothing is announced on a guess.
    Init,
    /// The check passes: `rise` successes in a row.
    Up,
    /// The check fails: `fall` failures in a row.
    Down,
}

impl Health {
    /// The name shown by `bgpctl services`: "init", "up" or "down".
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Init => "init",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The rise/fall state machine of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    state: Health,
    /// Consecutive successes (0 after a failure).
    ok_run: u32,
    /// Consecutive failures (0 after a success).
    fail_run: u32,
}

impl Hysteresis {
    /// `rise` and `fall` are at least 1 (0 is taken as 1).
    pub fn new(rise: u32, fall: u32) -> Hysteresis {
        Hysteresis {
            rise: rise.max(1),
            fall: fall.max(1),
            state: Health::Init,
            ok_run: 0,
            fail_run: 0,
        }
    }

    /// A machine that starts from a saved verdict (`up` or down) instead of `Init`, as a
    /// restarted bgpd does (issue 13); the next `fall` failures (or `rise` successes) turn it.
    pub fn restored(rise: u32, fall: u32, up: bool) -> Hysteresis {
        Hysteresis {
            state: if up { Health::Up } else { Health::Down },
            ..Hysteresis::new(rise, fall)
        }
    }

    /// The current verdict.
    pub fn state(&self) -> Health {
        self.state
    }

    /// Feeds one probe result; returns the new state when it changed.
    pub fn observe(&mut self, ok: bool) -> Option<Health> {
        if ok {
            self.ok_run = self.ok_run.saturating_add(1);
            self.fail_run = 0;
            if self.state != Health::Up && self.ok_run >= self.rise {
                self.state = Health::Up;
                return Some(Health::Up);
            }
        } else {
            self.fail_run = self.fail_run.saturating_add(1);
            self.ok_run = 0;
            if self.state != Health::Down && self.fail_run >= self.fall {
                self.state = Health::Down;
                return Some(Health::Down);
            }
        }
        None
    }

    /// "2/3 successes" style progress towards the next transition, for `bgpctl services`.
    pub fn progress(&self) -> String {
        match self.state {
            Health::Up if self.fail_run > 0 => format!("{}/{} failures", self.fail_run, self.fall),
            Health::Down if self.ok_run > 0 => format!("{}/{} successes", self.ok_run, self.rise),
            Health::Init => format!(
                "{}/{} successes, {}/{} failures",
                self.ok_run, self.rise, self.fail_run, self.fall
            ),
            _ => String::new(),
        }
    }
}

/// One thing to check: the probe with `{nexthop}` replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index into the service's `nexthops`, or `None` for one check of the whole service.
    pub nexthop: Option<usize>,
    /// The check, with `{nexthop}` already replaced.
    pub probe: Probe,
}

impl Target {
    /// The check as one line, e.g. `tcp 127.0.0.1:80` (the state file keys verdicts on it).
    pub fn describe(&self) -> String {
        match &self.probe {
            Probe::Tcp { target } => format!("tcp {target}"),
            Probe::Http { target, .. } => format!("http {target}"),
            Probe::Exec { command } => format!("exec {}", command.join(" ")),
        }
    }
}

/// The targets of a service: one per next hop when the probe mentions `{nexthop}` (for
/// `"self"`, the loopback address of the prefix's family: the check runs on this node),
/// else one for the whole service.
pub fn targets(probe: &Probe, nexthops: &[NextHopSpec], v6: bool) -> Vec<Target> {
    let templated = match probe {
        Probe::Tcp { target } | Probe::Http { target, .. } => target.contains("{nexthop}"),
        Probe::Exec { command } => command.iter().any(|a| a.contains("{nexthop}")),
    };
    if !templated {
        return vec![Target {
            nexthop: None,
            probe: probe.clone(),
        }];
    }
    nexthops
        .iter()
        .enumerate()
        .filter_map(|(i, nh)| {
            let addr = match nh {
                NextHopSpec::Addr(a) => a.to_string(),
                NextHopSpec::Local if v6 => "::1".to_string(),
                NextHopSpec::Local => "127.0.0.1".to_string(),
                NextHopSpec::Failing => return None,
            };
            Some(Target {
                nexthop: Some(i),
                probe: substitute(probe, &addr),
            })
        })
        .collect()
}

fn substitute(probe: &Probe, addr: &str) -> Probe {
    let s = |t: &str| t.replace("{nexthop}", addr);
    match probe {
        Probe::Tcp { target } => Probe::Tcp { target: s(target) },
        Probe::Http {
            target,
            expect_status,
        } => Probe::Http {
            target: s(target),
            expect_status: *expect_status,
        },
        Probe::Exec { command } => Probe::Exec {
            command: command.iter().map(|a| s(a)).collect(),
        },
    }
}

/// Runs one probe within `timeout`. `Ok` carries a short description of the success, `Err`
/// of the failure.
pub async fn run_probe(probe: &Probe, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, probe_inner(probe)).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {}ms", timeout.as_millis())),
    }
}

async fn probe_inner(probe: &Probe) -> Result<String, String> {
    match probe {
        Probe::Tcp { target } => {
            let addr = resolve(target).await?;
            TcpStream::connect(addr)
                .await
                .map(|_| format!("connected to {addr}"))
                .map_err(|e| format!("connect to {addr}: {e}"))
        }
        Probe::Http {
            target,
            expect_status,
        } => {
            let status = http_get(target).await?;
            let good = match expect_status {
                Some(want) => status == *want,
                None => (200..300).contains(&status),
            };
            if good {
                Ok(format!("HTTP {status}"))
            } else {
                Err(format!("HTTP {status}"))
            }
        }
        Probe::Exec { command } => {
            let Some((prog, args)) = command.split_first() else {
                return Err("empty command".into());
            };
            let status = tokio::process::Command::new(prog)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .map_err(|e| format!("cannot run {prog}: {e}"))?;
            if status.success() {
                Ok("exit 0".into())
            } else {
                Err(match status.code() {
                    Some(c) => format!("exit {c}"),
                    None => "killed by a signal".into(),
                })
            }
        }
    }
}

async fn resolve(hostport: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = hostport.parse::<SocketAddr>() {
        return Ok(a);
    }
    tokio::net::lookup_host(hostport)
        .await
        .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport} resolves to no address"))
}

/// Splits `http://host[:port]/path` into ("host:port", "host", "/path").
pub fn split_url(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let has_port = if let Some(end) = authority.rfind(']') {
        authority[end..].contains(':')
    } else {
        authority.contains(':')
    };
    let hostport = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((hostport, authority.to_string(), path.to_string()))
}

/// A minimal HTTP/1.0 GET; returns the status code.
async fn http_get(url: &str) -> Result<u16, String> {
    let (hostport, host, path) = split_url(url)?;
    let addr = resolve(&hostport).await?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: bgpd-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write to {addr}: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse_status_line(&buf).ok_or_else(|| format!("{url}: not an HTTP response"))
}

fn parse_status_line(buf: &[u8]) -> Option<u16> {
    let line = buf.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `inputs` ('+' success, '-' failure); returns the state after each.
    fn run(rise: u32, fall: u32, inputs: &str) -> String {
        let mut h = Hysteresis::new(rise, fall);
        inputs
            .chars()
            .map(|c| {
                h.observe(c == '+');
                match h.state() {
                    Health::Init => 'i',
                    Health::Up => 'U',
                    Health::Down => 'D',
                }
            })
            .collect()
    }

    #[test]
    fn rise_and_fall() {
        assert_eq!(run(3, 2, "+++--+-+++"), "iiUUDDDDDU");
        assert_eq!(run(1, 1, "+-+-"), "UDUD");
        assert_eq!(run(2, 3, "---++"), "iiDDU");
        // A failure resets the rise count, a success the fall count.
        assert_eq!(run(3, 3, "++-++-+++"), "iiiiiiiiU");
        assert_eq!(run(1, 3, "+--+--+---"), "UUUUUUUUUD");
    }

    #[test]
    fn flapping_input_never_flaps_the_verdict() {
        let alternating: String = "+-".repeat(500);
        assert!(run(2, 2, &alternating).chars().all(|c| c == 'i'));
        let mut h = Hysteresis::new(2, 2);
        for _ in 0..5 {
            h.observe(true);
        }
        assert_eq!(h.state(), Health::Up);
        for c in "-+".repeat(500).chars() {
            assert_eq!(h.observe(c == '+'), None, "no transition on flapping input");
        }
        assert_eq!(h.state(), Health::Up);
    }

    /// For arbitrary inputs, a transition to Up follows `rise` successes in a row and one
    /// to Down `fall` failures in a row; so between two transitions there are at least
    /// min(rise, fall) inputs.
    #[test]
    fn transitions_need_rise_or_fall_consecutive_results() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for case in 0..2000u32 {
            let rise = 1 + case % 5;
            let fall = 1 + (case / 5) % 5;
            let mut h = Hysteresis::new(rise, fall);
            let mut history: Vec<bool> = Vec::new();
            let mut last_transition: Option<usize> = None;
            for i in 0..200usize {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let ok = !seed.is_multiple_of(3);
                history.push(ok);
                if let Some(new) = h.observe(ok) {
                    let (need, want) = match new {
                        Health::Up => (rise as usize, true),
                        Health::Down => (fall as usize, false),
                        Health::Init => panic!("never back to Init"),
                    };
                    assert!(history.len() >= need);
                    assert!(
                        history[history.len() - need..].iter().all(|&r| r == want),
                        "rise {rise} fall {fall}: {new:?} at {i} without {need} in a row"
                    );
                    if let Some(prev) = last_transition {
                        assert!(i - prev >= rise.min(fall) as usize);
                    }
                    last_transition = Some(i);
                }
            }
        }
    }

    #[test]
    fn targets_per_nexthop_when_templated() {
        let hops = vec![
            NextHopSpec::Addr("10.0.0.1".parse().expect("a")),
            NextHopSpec::Local,
        ];
        let t = targets(
            &Probe::Tcp {
                target: "{nexthop}:80".into(),
            },
            &hops,
            false,
        );
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].probe,
            Probe::Tcp {
                target: "10.0.0.1:80".into()
            }
        );
        assert_eq!(t[1].nexthop, Some(1));
        assert_eq!(
            t[1].probe,
            Probe::Tcp {
                target: "127.0.0.1:80".into()
            }
        );
        let t = targets(
            &Probe::Exec {
                command: vec!["/bin/check".into()],
            },
            &hops,
            false,
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].nexthop, None);
    }

    #[test]
    fn urls_and_status_lines() {
        assert_eq!(
            split_url("http://10.0.0.1:8080/healthz"),
            Ok((
                "10.0.0.1:8080".into(),
                "10.0.0.1:8080".into(),
                "/healthz".into()
            ))
        );
        assert_eq!(
            split_url("http://[2001:db8::1]/"),
            Ok((
                "[2001:db8::1]:80".into(),
                "[2001:db8::1]".into(),
                "/".into()
            ))
        );
        assert!(split_url("https://x/").is_err());
        assert!(split_url("http:///x").is_err());
        assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status_line(b"garbage"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[tokio::test]
    async fn probes_against_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.0 503 Unavailable\r\n\r\n").await;
            }
        });
        let t = Duration::from_secs(2);
        assert!(run_probe(
            &Probe::Tcp {
                target: addr.to_string()
            },
            t
        )
        .await
        .is_ok());
        let url = format!("http://{addr}/healthz");
        assert_eq!(
            run_probe(
                &Probe::Http {
                    target: url.clone(),
                    expect_status: None
                },
                t
            )
            .await,
            Err("HTTP 503".into())
        );
        assert!(run_probe(
            &Probe::Http {
                target: url,
                expect_status: Some(503)
            },
            t
        )
        .await
        .is_ok());
        assert!(run_probe(
            &Probe::Exec {
                command: vec!["true".into()]
            },
            t
        )
        .await
        .is_ok());
        assert_eq!(
            run_probe(
                &Probe::Exec {
                    command: vec!["false".into()]
                },
                t
            )
            .await,
            Err("exit 1".into())
        );
        assert!(run_probe(
            &Probe::Exec {
                command: vec!["sleep".into(), "5".into()]
            },
            Duration::from_millis(100)
        )
        .await
        .is_err_and(|e| e.contains("timed out")));
    }
}
