//! End-to-end tests of the operations side (issue 6) over loopback: every `bgpctl` command
//! against running `bgpd` processes (a second bgpd in passive mode as the peer, or a test
//! peer built on bgp-fsm that timestamps every UPDATE it receives), health checks, drain,
//! the metrics endpoint, and the change-to-UPDATE latency.
//!
//! Each test uses OS-chosen ports and its own temporary directory (which also holds the
//! control socket); child processes are killed by PID when their guard drops.

#[path = "support/state_dir.rs"]
mod state_dir;
use state_dir::own_state_dir;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_fsm::{Action, DownReason, Event, Session, SessionConfig};
use bgp_proto::codec::BgpCodec;
use bgp_proto::{Community, Family};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::codec::FramedRead;

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The test peer: a passive bgp-fsm session that timestamps every UPDATE.

#[derive(Debug, Clone)]
struct Update {
    at: Instant,
    announced: Vec<String>,
    withdrawn: Vec<String>,
    communities: Vec<Community>,
    local_pref: Option<u32>,
}

#[derive(Debug, Clone, Default)]
struct Observed {
    established: usize,
    updates: Vec<Update>,
    /// Prefix -> communities, as announced so far.
    routes: BTreeMap<String, Vec<Community>>,
    /// NLRI ("prefix path-id N" with ADD-PATH) -> next hop.
    paths: BTreeMap<String, String>,
    downs: Vec<(Instant, DownReason)>,
}

struct TestPeer {
    addr: SocketAddr,
    observed: Arc<Mutex<Observed>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestPeer {
    async fn start(local_asn: u32, bgpd_asn: u32) -> TestPeer {
        TestPeer::start_with(local_asn, bgpd_asn, false).await
    }

    /// With `add_path`, the peer offers ADD-PATH receive for IPv4 unicast (RFC 7911).
    async fn start_with(local_asn: u32, bgpd_asn: u32, add_path: bool) -> TestPeer {
        TestPeer::start_on("127.0.0.1", local_asn, bgpd_asn, add_path).await
    }

    /// A test peer listening on `ip` (a second peer needs its own address).
    async fn start_on(ip: &str, local_asn: u32, bgpd_asn: u32, add_path: bool) -> TestPeer {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let changed = Arc::new(Notify::new());
        let mut cfg = SessionConfig::new(local_asn, bgpd_asn, Ipv4Addr::new(10, 0, 0, 1));
        cfg.families = vec![Family::IPV4_UNICAST];
        cfg.hold_time = 9;
        cfg.auto_restart = false;
        if add_path {
            cfg.add_path = vec![bgp_fsm::AddPathConfig {
                family: Family::IPV4_UNICAST,
                send: false,
                receive: true,
            }];
        }
        let (o, c) = (observed.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                run_conn(stream, cfg.clone(), o.clone(), c.clone()).await;
            }
        });
        TestPeer {
            addr,
            observed,
            changed,
            task,
        }
    }

    fn snapshot(&self) -> Observed {
        self.observed.lock().expect("lock").clone()
    }

    async fn wait_for(&self, what: &str, pred: impl Fn(&Observed) -> bool) -> Observed {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            let snap = self.snapshot();
            if pred(&snap) {
                return snap;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; test peer saw {:#?}",
                    self.snapshot()
                );
            }
        }
    }
}

async fn run_conn(
    stream: tokio::net::TcpStream,
    cfg: SessionConfig,
    observed: Arc<Mutex<Observed>>,
    changed: Arc<Notify>,
) {
    let mut session = Session::new(cfg, 7);
    let now = Instant::now();
    let mut actions = session.handle(now, Event::Start { passive: true });
    actions.extend(session.handle(now, Event::Connected));
    let (read, mut write) = stream.into_split();
    let mut reader = FramedRead::new(read, BgpCodec::new());
    let mut context: Option<bgp_proto::SessionContext> = None;
    loop {
        let mut close = false;
        for action in actions.drain(..) {
            match action {
                Action::Send(bytes) => {
                    let _ = write.write_all(&bytes).await;
                }
                Action::Close => close = true,
                Action::SessionUp(n) => {
                    observed.lock().expect("lock").established += 1;
                    reader.decoder_mut().set_max_len(n.max_message_len);
                    context = Some(n.context.clone());
                }
                Action::SessionDown(reason) => {
                    let mut o = observed.lock().expect("lock");
                    o.downs.push((Instant::now(), reason));
                    o.routes.clear();
                    o.paths.clear();
                }
                _ => {}
            }
        }
        changed.notify_waiters();
        if close {
            return;
        }
        let deadline = session.next_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = reader.next() => {
                let at = Instant::now();
                actions = match frame {
                    Some(Ok(Ok(msg))) => {
                        if msg.get(18) == Some(&2) {
                            if let Some(cx) = &context {
                                record(&observed, &msg, cx, at);
                            }
                        }
                        session.handle(at, Event::Message(msg))
                    }
                    Some(Ok(Err(h))) => session.handle(at, Event::HeaderError(h)),
                    _ => {
                        let mut a = session.handle(at, Event::Closed);
                        a.push(Action::Close);
                        a
                    }
                };
            }
            () = sleep => actions = session.handle_timeout(Instant::now()),
        }
    }
}

fn record(
    observed: &Mutex<Observed>,
    msg: &bytes::Bytes,
    cx: &bgp_proto::SessionContext,
    at: Instant,
) {
    let Ok(view) = bgp_proto::UpdateView::new_checked(msg.clone(), cx) else {
        panic!("bgpd sent an invalid UPDATE");
    };
    if view.end_of_rib().is_some() {
        return;
    }
    let attrs = view.attributes();
    let announced: Vec<String> = view.announced().map(|n| n.prefix.to_string()).collect();
    let withdrawn: Vec<String> = view.withdrawn().map(|n| n.prefix.to_string()).collect();
    let next_hop = match view.next_hop(Family::IPV4_UNICAST) {
        Some(bgp_proto::NextHop::V4(a)) => a.to_string(),
        other => format!("{other:?}"),
    };
    let mut o = observed.lock().expect("lock");
    for n in view.withdrawn() {
        o.paths.remove(&n.to_string());
    }
    for n in view.announced() {
        o.paths.insert(n.to_string(), next_hop.clone());
    }
    for w in &withdrawn {
        o.routes.remove(w);
    }
    for a in &announced {
        o.routes.insert(a.clone(), attrs.communities.clone());
    }
    o.updates.push(Update {
        at,
        announced,
        withdrawn,
        communities: attrs.communities.clone(),
        local_pref: attrs.local_pref,
    });
}

// ---------------------------------------------------------------------------------------
// bgpd processes and bgpctl

struct Bgpd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Bgpd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("---- bgpd log ----\n{}", self.log());
            }
        }
    }
}

impl Bgpd {
    /// Starts bgpd with `config`; `{socket}` in it is replaced by a control socket path in
    /// a directory that does not exist yet (bgpd creates it).
    fn start(config: &str) -> Bgpd {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("run").join("bgpd.sock");
        let ours = config.contains("{socket}");
        let config = config.replace("{socket}", &socket.display().to_string());
        let config = own_state_dir(&config, dir.path());
        let path = dir.path().join("bgpd.toml");
        std::fs::write(&path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("bgpd.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn bgpd");
        let b = Bgpd {
            child: Some(child),
            dir,
            socket,
        };
        if ours {
            b.wait("the control socket", || b.socket.exists());
        }
        b
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgpd.log")).unwrap_or_default()
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bgpctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run bgpctl")
    }

    /// Runs bgpctl, expects success, returns stdout.
    fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "bgpctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ctl_ok(&a)).expect("bgpctl --json prints JSON")
    }

    /// Polls `cond` (each poll asks bgpd again) until it holds; panics after `WAIT`.
    fn wait(&self, what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn state(&self, peer: &str) -> String {
        self.json(&["neighbor", peer])["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = self.child.as_ref().map(|c| c.id()).expect("running");
        let pid = libc::pid_t::try_from(pid).expect("pid fits");
        // SAFETY: sending a signal to our own child process, by PID.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0);
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("bgpd did not exit:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One raw API request over the socket (for timing without process start-up).
fn api_request(socket: &Path, line: &str) -> Value {
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("connect");
    writeln!(s, "{line}").expect("write");
    let mut r = BufReader::new(s);
    let mut answer = String::new();
    r.read_line(&mut answer).expect("read");
    serde_json::from_str(&answer).expect("JSON response")
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The value of the first sample line starting with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn global(router_id: &str, listen: &str, extra: &str) -> String {
    format!(
        "[global]\nasn = 64512\nrouter_id = \"{router_id}\"\nlisten = [{listen}]\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\ncontrol_socket = \"{{socket}}\"\n{extra}\n"
    )
}

fn tp_peer(tp: &TestPeer) -> String {
    format!(
        "[[peers]]\nname = \"tp\"\naddress = \"127.0.0.1\"\nport = {}\nasn = 64500\n\
         families = [\"ipv4-unicast\"]\n\n",
        tp.addr.port()
    )
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------
// Tests

/// Every bgpctl command against bgpd A, which peers with bgpd B (passive); both sides'
/// views are checked through their own control sockets.
#[test]
fn every_bgpctl_command_against_two_bgpd() {
    let port = free_port("127.0.0.3");
    let mport = free_port("127.0.0.1");
    let a = Bgpd::start(
        &(global("10.0.0.2", "", &format!("metrics_listen = \"127.0.0.1:{mport}\"\n"))
            + &format!(
                "[[peers]]\nname = \"b\"\naddress = \"127.0.0.3\"\nport = {port}\nasn = 64513\n\
                 local_address = \"127.0.0.2\"\n\n"
            )
            + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n\
               communities = [\"64512:100\"]\nmed = 10\n"),
    );
    let b = Bgpd::start(
        &("[global]\nasn = 64513\nrouter_id = \"10.0.0.3\"\n".to_string()
            + &format!("listen = [\"127.0.0.3:{port}\"]\nhold_time = 9\ncontrol_socket = \"{{socket}}\"\n\n")
            + "[[peers]]\nname = \"a\"\naddress = \"127.0.0.2\"\nasn = 64512\npassive = true\n\
               import = \"all\"\n"),
    );

    // The control socket: parent directory created, mode 0660.
    let mode = std::fs::metadata(&a.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "control socket mode {mode:o}");

    a.wait("A established", || a.state("b") == "Established");
    b.wait("B received web", || {
        b.json(&["routes", "--received"])
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["prefix"] == "192.0.2.10/32"))
    });

    // neighbors / neighbor NAME
    let table = a.ctl_ok(&["neighbors"]);
    assert!(table.starts_with("PEER"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("b ") && l.contains("Established")),
        "{table}"
    );
    let n = a.json(&["neighbor", "b"]);
    assert_eq!(n["negotiated"]["hold_time"], 9);
    assert_eq!(n["negotiated"]["keepalive"], 3);
    assert_eq!(
        n["negotiated"]["families"],
        serde_json::json!(["ipv4-unicast"])
    );
    assert_eq!(n["remote"]["hold_time"], 9);
    assert_eq!(n["messages_out"]["open"], 1);
    assert_eq!(n["messages_in"]["open"], 1);
    assert!(n["messages_out"]["update"].as_u64().is_some_and(|u| u >= 1));
    assert_eq!(n["prefixes_announced"], 1);
    assert_eq!(n["flaps"], 0);
    let detail = a.ctl_ok(&["neighbor", "b"]);
    assert!(
        detail.contains("hold / keepalive        9s / 3s"),
        "{detail}"
    );
    assert!(detail.contains("MESSAGES"), "{detail}");
    // Import policy and the routes not kept (issue 13 §3): A keeps nothing by default and
    // B sends A nothing; B keeps all.
    assert_eq!(n["import_policy"], "none");
    assert_eq!(n["routes_import_rejected"], 0);
    assert_eq!(n["routes_looped"], 0);
    assert_eq!(n["routes_rejected_next_hop"], 0);
    assert!(detail.contains("import policy           none"), "{detail}");
    assert!(
        detail.contains(
            "0 refused by the import policy, 0 looped routes discarded, 0 rejected next hops"
        ),
        "{detail}"
    );
    assert_eq!(b.json(&["neighbor", "a"])["import_policy"], "all");
    let missing = a.ctl(&["neighbor", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no peer named \"nope\""));

    // routes (Adj-RIB-Out on A, Adj-RIB-In on B)
    let out = a.json(&["routes", "--peer", "b"]);
    assert_eq!(out[0]["prefix"], "192.0.2.10/32");
    assert_eq!(out[0]["next_hop"], "10.1.0.1");
    assert_eq!(out[0]["med"], 10);
    assert_eq!(out[0]["communities"], serde_json::json!(["64512:100"]));
    assert_eq!(out[0]["service"], "web");
    let inn = b.json(&["routes", "--received"]);
    assert_eq!(inn[0]["as_path"], "64512");
    assert_eq!(inn[0]["direction"], "in");
    assert!(a.ctl_ok(&["routes"]).contains("192.0.2.10/32"));

    // services
    let s = a.json(&["services"]);
    assert_eq!(s[0]["name"], "web");
    assert_eq!(s[0]["state"], "announced");
    assert_eq!(s[0]["announced_to"], serde_json::json!(["b"]));
    assert!(a.ctl_ok(&["services"]).contains("web"));

    // announce / withdraw (runtime)
    let text = a.ctl_ok(&[
        "announce",
        "198.51.100.1/32",
        "--nexthop",
        "10.1.0.2",
        "--community",
        "64512:7",
        "--large-community",
        "64512:1:2",
        "--med",
        "5",
    ]);
    assert!(
        text.contains("not written to the configuration file"),
        "{text}"
    );
    b.wait("B received the runtime route", || {
        b.json(&["routes", "--received"])
            .as_array()
            .is_some_and(|r| {
                r.iter().any(|r| {
                    r["prefix"] == "198.51.100.1/32"
                        && r["med"] == 5
                        && r["next_hop"] == "10.1.0.2"
                        && r["large_communities"] == serde_json::json!(["64512:1:2"])
                })
            })
    });
    let s = a.json(&["services"]);
    assert!(s
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x["source"] == "runtime")));
    let text = a.ctl_ok(&["withdraw", "198.51.100.1/32"]);
    assert!(text.contains("runtime service removed"), "{text}");
    assert!(
        text.contains("not written to the configuration file"),
        "{text}"
    );
    b.wait("B lost the runtime route", || {
        b.json(&["routes", "--received"])
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["prefix"] != "198.51.100.1/32"))
    });
    assert!(!a.ctl(&["withdraw", "203.0.113.9/32"]).status.success());
    assert!(!a.ctl(&["announce", "192.0.2.1/24"]).status.success());

    // explain
    let x = a.json(&["explain", "192.0.2.10/32"]);
    assert_eq!(x["peers"][0]["announced"], true);
    assert_eq!(x["peers"][0]["routes"][0]["next_hop"], "10.1.0.1");
    let x = a.json(&["explain", "198.51.100.1/32"]);
    assert_eq!(x["peers"][0]["announced"], false);
    let text = a.ctl_ok(&["explain", "192.0.2.10/32"]);
    assert!(text.contains("b: announced"), "{text}");

    // events --follow sees a withdraw of a configured service as it happens
    let mut follow = Command::new(env!("CARGO_BIN_EXE_bgpctl"))
        .arg("--socket")
        .arg(&a.socket)
        .args(["events", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn follow");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The history arrives first; then the live events.
    let first = rx.recv_timeout(WAIT).expect("history");
    assert!(first.contains("session"), "{first}");
    let text = a.ctl_ok(&["withdraw", "192.0.2.10/32"]);
    assert!(text.contains("configured service withdrawn"), "{text}");
    let deadline = Instant::now() + WAIT;
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            seen = line.contains("withdrew 192.0.2.10/32 from b");
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen, "events --follow did not show the withdraw");
    let x = a.json(&["explain", "192.0.2.10/32"]);
    assert!(
        x["peers"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("bgpctl withdraw")),
        "{x}"
    );
    let text = a.ctl_ok(&["announce", "192.0.2.10/32"]);
    assert!(text.contains("configured service restored"), "{text}");

    // events
    let ev = a.json(&["events"]);
    let kinds: Vec<&str> = ev
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in ["session", "api", "announce", "withdraw"] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }
    assert!(!a
        .json(&["events", "--since", "1h"])
        .as_array()
        .expect("list")
        .is_empty());
    assert!(a
        .ctl_ok(&["events"])
        .contains("bgpctl withdraw 192.0.2.10/32"));

    // metrics count what B saw
    let m = http_get(&format!("127.0.0.1:{mport}"), "/metrics");
    assert!(m.starts_with("HTTP/1.1 200 OK"), "{m}");
    assert_eq!(metric(&m, "bgpd_bgp_session_up{peer=\"b\""), Some(1.0));
    let sent = metric(
        &m,
        "bgpd_bgp_messages_sent_total{peer=\"b\",type=\"update\"}",
    )
    .expect("sent");
    let b_in = b.json(&["neighbor", "a"])["messages_in"]["update"]
        .as_f64()
        .expect("B in");
    assert_eq!(sent, b_in, "UPDATEs A sent = UPDATEs B received");
    assert_eq!(metric(&m, "bgpd_bgp_updates_total{peer=\"b\"}"), Some(sent));
    assert!(
        metric(&m, "bgpd_update_latency_seconds_count{cause=\"api\"}").is_some_and(|c| c >= 3.0)
    );
    assert!(m.contains("bgpd_bgp_announced_prefixes_total{peer=\"b\"}"));
    assert!(m.contains("bgpd_bgp_pending_prefixes_total{peer=\"b\"}"));
    assert!(m.contains("bgpd_bgp_update_queue_depth{peer=\"b\"}"));

    // drain: GRACEFUL_SHUTDOWN at B, then withdraw and Cease 6/2 with our text; undrain
    let text = a.ctl_ok(&["drain", "--time", "1s"]);
    assert!(text.starts_with("draining"), "{text}");
    b.wait("65535:0 at B", || {
        b.json(&["routes", "--received"])
            .as_array()
            .is_some_and(|r| {
                r.iter().any(|r| {
                    r["prefix"] == "192.0.2.10/32"
                        && r["communities"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| c == "graceful-shutdown"))
                })
            })
    });
    b.wait("B down with 6/2", || {
        let n = b.json(&["neighbor", "a"]);
        // 6/2, or the Hard Reset 6/9 wrapping it when graceful restart's N bit was
        // negotiated (RFC 8538 §3), as between two bgpd.
        n["last_notification_received"]["code"]
            .as_str()
            .is_some_and(|c| c == "6/2" || c == "6/9 (hard reset of 6/2)")
            && n["last_notification_received"]["shutdown_message"] == "bgpd drained by operator"
    });
    assert_eq!(a.state("b"), "Idle (drained)");
    let drained = a.ctl_ok(&["events", "--since", "1m"]);
    assert!(drained.contains("drain started"), "{drained}");
    assert!(
        drained.contains("drained: every session closed with Cease 6/2"),
        "{drained}"
    );
    assert!(
        !a.ctl(&["drain"]).status.success(),
        "a second drain is refused"
    );
    assert!(a.ctl_ok(&["undrain"]).starts_with("normal"));
    a.wait("A established again", || a.state("b") == "Established");
    b.wait("B has web again without 65535:0", || {
        b.json(&["routes", "--received"])
            .as_array()
            .is_some_and(|r| {
                r.iter().any(|r| {
                    r["prefix"] == "192.0.2.10/32"
                        && r["communities"] == serde_json::json!(["64512:100"])
                })
            })
    });
}

/// A failing tcp check withdraws after `fall` failures and the route comes back after
/// `rise` successes; the disable file forces a withdraw; a flapping target does not flap
/// the route faster than rise/fall allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_withdraws_recovers_and_respects_rise_fall() {
    let tp = TestPeer::start(64500, 64512).await;
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("bind target");
    let taddr = target.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let disable = dir.path().join("disable");
    let mport = free_port("127.0.0.1");
    let a = Bgpd::start(
        &(global("10.0.0.2", "", &format!("metrics_listen = \"127.0.0.1:{mport}\"\n"))
            + &tp_peer(&tp)
            + &format!(
                "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n\
                 [services.health]\ntype = \"tcp\"\ntarget = \"{taddr}\"\ninterval = \"100ms\"\n\
                 timeout = \"100ms\"\nrise = 3\nfall = 2\ndisable_file = \"{}\"\n",
                disable.display()
            )),
    );
    tp.wait_for("announced after rise", |o| {
        o.routes.contains_key("192.0.2.10/32")
    })
    .await;
    let up_at = Instant::now();
    drop(target);
    let o = tp
        .wait_for("withdrawn after fall", |o| {
            o.established == 1 && !o.routes.contains_key("192.0.2.10/32")
        })
        .await;
    let withdrawn_at = o.updates.last().map(|u| u.at).expect("update");
    // fall = 2 at 100 ms: at least one interval between the two failed checks.
    assert!(withdrawn_at.duration_since(up_at) >= Duration::from_millis(50));
    let s = a.json(&["services"]);
    assert!(
        s[0]["state"]
            .as_str()
            .is_some_and(|x| x.contains("withdrawn: health check failing")),
        "{s}"
    );
    assert_eq!(s[0]["targets"][0]["state"], "down");

    // Back: rise = 3.
    let target = std::net::TcpListener::bind(taddr).expect("rebind target");
    let back_at = Instant::now();
    let o = tp
        .wait_for("announced again", |o| {
            o.routes.contains_key("192.0.2.10/32")
        })
        .await;
    let announced_at = o.updates.last().map(|u| u.at).expect("update");
    assert!(
        announced_at.duration_since(back_at) >= Duration::from_millis(150),
        "rise 3 needs 3 checks"
    );

    // Flapping: the target alternates every 50 ms (half an interval) for 2 s; with
    // rise 3 / fall 2, route changes are at least 2 checks (nominally 200 ms) apart; the
    // bound leaves room for a late timer on a loaded machine.
    let updates_before = tp.snapshot().updates.len();
    let mut listener = Some(target);
    let flap_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < flap_until {
        listener = match listener {
            Some(l) => {
                drop(l);
                None
            }
            None => std::net::TcpListener::bind(taddr).ok(),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let changes: Vec<Instant> = tp.snapshot().updates[updates_before..]
        .iter()
        .map(|u| u.at)
        .collect();
    for w in changes.windows(2) {
        assert!(
            w[1].duration_since(w[0]) >= Duration::from_millis(120),
            "route flapped faster than rise/fall allow: {changes:?}"
        );
    }
    let target = listener
        .or_else(|| std::net::TcpListener::bind(taddr).ok())
        .expect("target up");
    tp.wait_for("stable and announced", |o| {
        o.routes.contains_key("192.0.2.10/32")
    })
    .await;

    // The disable file forces a withdraw although the check passes.
    std::fs::write(&disable, "").expect("create disable file");
    tp.wait_for("withdrawn by the disable file", |o| {
        !o.routes.contains_key("192.0.2.10/32")
    })
    .await;
    let x = a.json(&["explain", "192.0.2.10/32"]);
    assert!(
        x["peers"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("disabled")),
        "{x}"
    );
    std::fs::remove_file(&disable).expect("remove disable file");
    tp.wait_for("announced after the disable file is gone", |o| {
        o.routes.contains_key("192.0.2.10/32")
    })
    .await;
    drop(target);

    let ev = a.ctl_ok(&["events"]);
    assert!(ev.contains("service web health down"), "{ev}");
    assert!(ev.contains("service web health up"), "{ev}");
    assert!(ev.contains("disabled"), "{ev}");
    assert_eq!(
        tp.snapshot().established,
        1,
        "health changes never reset the session"
    );
    let m = http_get(&format!("127.0.0.1:{mport}"), "/metrics");
    let median =
        metric(&m, "bgpd_update_latency_median_seconds{cause=\"health\"}").expect("median");
    let count = metric(&m, "bgpd_update_latency_seconds_count{cause=\"health\"}").expect("count");
    println!(
        "latency: health verdict -> UPDATE written: median {:.3} ms over {count} verdicts",
        median * 1e3
    );
    assert!(
        count >= 4.0,
        "every verdict that changed routes was timed ({count})"
    );
    // A handful of samples while six other tests run: the 5 ms target is asserted on the 80
    // samples of api_change_to_update_latency; here only a gross regression fails.
    assert!(
        median < 0.025,
        "health verdict -> UPDATE median {median} s (target 5 ms)"
    );
    assert!(m.contains("bgpd_service_health{service=\"web\",nexthop=\"service\"}"));
}

/// Demotion instead of withdraw: while failing, the route carries the demotion MED and
/// communities.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_demotes() {
    let tp = TestPeer::start(64500, 64512).await;
    let a = Bgpd::start(
        &(global("10.0.0.2", "", "")
            + &tp_peer(&tp)
            + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n\
               [services.health]\ntype = \"exec\"\ncommand = [\"false\"]\ninterval = \"100ms\"\n\
               timeout = \"100ms\"\nrise = 1\nfall = 1\non_fail = \"demote\"\n\
               [services.health.demote]\ncommunities = [\"64512:666\"]\nmed = 1000\n"),
    );
    let o = tp
        .wait_for("demoted route", |o| {
            o.routes
                .get("192.0.2.10/32")
                .is_some_and(|c| c.contains(&Community::new(64512, 666)))
        })
        .await;
    assert!(o
        .updates
        .iter()
        .all(|u| u.announced.is_empty() || u.communities.contains(&Community::new(64512, 666))));
    let s = a.json(&["services"]);
    assert!(
        s[0]["state"]
            .as_str()
            .is_some_and(|x| x.starts_with("demoted")),
        "{s}"
    );
}

/// SIGTERM with drain_time: GRACEFUL_SHUTDOWN first, the withdraw after the drain time,
/// then Cease 6/2 "bgpd shutting down"; exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_first_when_drain_time_is_set() {
    let tp = TestPeer::start(64512, 64512).await; // iBGP: LOCAL_PREF 0 while draining
    let mut a = Bgpd::start(
        &(global("10.0.0.2", "", "drain_time = \"1s\"\n")
            + &format!(
                "[[peers]]\nname = \"tp\"\naddress = \"127.0.0.1\"\nport = {}\nasn = 64512\n\
                 families = [\"ipv4-unicast\"]\n\n",
                tp.addr.port()
            )
            + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\nlocal_pref = 200\n"),
    );
    tp.wait_for("announced", |o| o.routes.contains_key("192.0.2.10/32"))
        .await;
    let t0 = Instant::now();
    a.signal(libc::SIGTERM);
    let o = tp
        .wait_for("graceful shutdown", |o| {
            o.updates
                .iter()
                .any(|u| u.communities.contains(&Community::GRACEFUL_SHUTDOWN))
        })
        .await;
    let gshut = o
        .updates
        .iter()
        .find(|u| u.communities.contains(&Community::GRACEFUL_SHUTDOWN))
        .expect("gshut");
    assert_eq!(
        gshut.local_pref,
        Some(0),
        "RFC 8326 §4: LOCAL_PREF 0 on iBGP"
    );
    let o = tp
        .wait_for("withdraw and 6/2", |o| !o.downs.is_empty())
        .await;
    let withdraw = o
        .updates
        .iter()
        .find(|u| u.withdrawn.contains(&"192.0.2.10/32".to_string()))
        .expect("withdrawn before the NOTIFICATION");
    assert!(
        withdraw.at.duration_since(gshut.at) >= Duration::from_millis(900),
        "waited the drain time"
    );
    let (down_at, reason) = &o.downs[0];
    assert!(*down_at >= withdraw.at);
    let n = reason.received.as_ref().expect("NOTIFICATION");
    assert_eq!((n.code.0, n.subcode), (6, 2));
    assert_eq!(
        reason.shutdown_message.as_deref(),
        Some("bgpd shutting down")
    );
    assert!(a.wait_exit().success());
    assert!(t0.elapsed() < Duration::from_secs(10));
    let log = a.log();
    assert!(log.contains("draining before shutdown"), "{log}");
}

/// Time from an API withdraw/announce (request written to the socket) to the UPDATE read by
/// the peer, and bgpd's own histogram (change decided -> UPDATE written). Prints medians.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_change_to_update_latency() {
    let tp = TestPeer::start(64500, 64512).await;
    let mport = free_port("127.0.0.1");
    let a = Bgpd::start(
        &(global("10.0.0.2", "", &format!("metrics_listen = \"127.0.0.1:{mport}\"\n"))
            + &tp_peer(&tp)
            + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n"),
    );
    tp.wait_for("announced", |o| o.routes.contains_key("192.0.2.10/32"))
        .await;
    let mut withdraw = Vec::new();
    let mut announce = Vec::new();
    let socket = a.socket.clone();
    for _ in 0..40 {
        for (line, is_withdraw) in [
            (r#"{"v":1,"cmd":"withdraw","prefix":"192.0.2.10/32"}"#, true),
            (
                r#"{"v":1,"cmd":"announce","prefix":"192.0.2.10/32","nexthops":["10.1.0.1"]}"#,
                false,
            ),
        ] {
            let before = tp.snapshot().updates.len();
            let t0 = Instant::now();
            let s = socket.clone();
            let resp = tokio::task::spawn_blocking(move || api_request(&s, line))
                .await
                .expect("join");
            assert_eq!(resp["ok"], true, "{resp}");
            let o = tp
                .wait_for("the UPDATE", |o| o.updates.len() > before)
                .await;
            let d = o.updates[before].at.duration_since(t0);
            if is_withdraw {
                assert_eq!(
                    o.updates[before].withdrawn,
                    vec!["192.0.2.10/32".to_string()]
                );
                withdraw.push(d);
            } else {
                announce.push(d);
            }
        }
    }
    // The watcher that times the UPDATE may lag the peer's receipt by a moment.
    let deadline = Instant::now() + WAIT;
    let m = loop {
        let m = http_get(&format!("127.0.0.1:{mport}"), "/metrics");
        let count = metric(&m, "bgpd_update_latency_seconds_count{cause=\"api\"}").unwrap_or(0.0);
        if count >= 80.0 || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let internal = metric(&m, "bgpd_update_latency_median_seconds{cause=\"api\"}").expect("median");
    let count = metric(&m, "bgpd_update_latency_seconds_count{cause=\"api\"}").expect("count");
    let (mw, ma) = (median(&mut withdraw), median(&mut announce));
    println!(
        "latency: API withdraw -> UPDATE at the peer: median {:.3} ms; announce: median {:.3} ms; \
         bgpd histogram (change -> UPDATE written), {count} samples: median {:.3} ms",
        mw.as_secs_f64() * 1e3,
        ma.as_secs_f64() * 1e3,
        internal * 1e3
    );
    assert_eq!(count, 80.0, "every change was measured once");
    assert!(
        internal < 0.005,
        "median change -> UPDATE written {internal} s exceeds 5 ms"
    );
    assert!(mw < Duration::from_millis(50), "API -> wire median {mw:?}");
}

/// A reload keeps runtime services, applies service changes through Ops (a health-checked
/// service added by the reload is withheld until its check passes), and is in the timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_runtime_services_and_checks_new_health() {
    let tp = TestPeer::start(64500, 64512).await;
    let base = global("10.0.0.2", "", "")
        + &tp_peer(&tp)
        + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n";
    let a = Bgpd::start(&base);
    tp.wait_for("web", |o| o.routes.contains_key("192.0.2.10/32"))
        .await;
    a.ctl_ok(&["announce", "198.51.100.1/32", "--nexthop", "10.1.0.2"]);
    tp.wait_for("runtime route", |o| {
        o.routes.contains_key("198.51.100.1/32")
    })
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("ok");
    let config = std::fs::read_to_string(a.dir.path().join("bgpd.toml")).expect("config");
    let new = config
        + &format!(
            "\n[[services]]\nname = \"api\"\nprefix = \"192.0.2.11/32\"\nnexthops = [\"10.1.0.1\"]\n\
             [services.health]\ntype = \"exec\"\ncommand = [\"test\", \"-e\", \"{}\"]\n\
             interval = \"100ms\"\ntimeout = \"100ms\"\nrise = 2\nfall = 2\n",
            flag.display()
        );
    std::fs::write(a.dir.path().join("bgpd.toml"), new).expect("rewrite");
    a.signal(libc::SIGHUP);
    a.wait("the reload event", || {
        a.ctl_ok(&["events"]).contains("configuration reloaded")
    });
    // The new service is checked (and failing): not announced; the runtime one stays.
    a.wait("api withheld", || {
        a.json(&["services"]).as_array().is_some_and(|l| {
            l.iter().any(|s| {
                s["name"] == "api"
                    && s["state"]
                        .as_str()
                        .is_some_and(|x| x.contains("health check failing"))
            })
        })
    });
    let o = tp.snapshot();
    assert!(o.routes.contains_key("198.51.100.1/32"), "{o:?}");
    assert!(
        o.updates
            .iter()
            .all(|u| !u.announced.contains(&"192.0.2.11/32".to_string())),
        "an unchecked service must never be announced: {o:?}"
    );
    std::fs::write(&flag, "").expect("flag");
    tp.wait_for("api after its check passes", |o| {
        o.routes.contains_key("192.0.2.11/32")
    })
    .await;
    assert_eq!(tp.snapshot().established, 1, "no session reset");

    // Issue 14: editing the check's timing (same target) keeps its verdict: the healthy
    // service is not withdrawn while the edited check gathers `rise` successes again.
    let seen = tp.snapshot().updates.len();
    let config = std::fs::read_to_string(a.dir.path().join("bgpd.toml")).expect("config");
    let edited = config
        .replace("interval = \"100ms\"", "interval = \"300ms\"")
        .replace("rise = 2\nfall = 2", "rise = 5\nfall = 2");
    assert_ne!(edited, config);
    std::fs::write(a.dir.path().join("bgpd.toml"), edited).expect("rewrite");
    a.signal(libc::SIGHUP);
    a.wait("the second reload event", || {
        a.ctl_ok(&["events"])
            .matches("configuration reloaded")
            .count()
            >= 2
    });
    // Longer than rise x interval of the edited check: a verdict lost would show by now.
    std::thread::sleep(Duration::from_millis(1_700));
    let o = tp.snapshot();
    assert!(
        o.updates[seen..]
            .iter()
            .all(|u| !u.withdrawn.contains(&"192.0.2.11/32".to_string())),
        "the edited check withdrew a healthy service: {:?}",
        &o.updates[seen..]
    );
    assert!(o.routes.contains_key("192.0.2.11/32"));

    // An invalid file is refused, and the timeline says so.
    std::fs::write(a.dir.path().join("bgpd.toml"), "[global]\nasn = \"x\"\n").expect("rewrite");
    a.signal(libc::SIGHUP);
    a.wait("the refused reload event", || {
        a.ctl_ok(&["events"])
            .contains("reload refused, still running the previous configuration")
    });
    assert!(tp.snapshot().routes.contains_key("192.0.2.11/32"));
}

/// Protocol errors get an error response and leave the connection usable; a path that is not
/// a socket is never deleted; `$BGPD_SOCKET` selects the socket.
#[test]
fn control_protocol_errors_keep_the_connection() {
    let a = Bgpd::start(&global("10.0.0.2", "", ""));
    let mut s = std::os::unix::net::UnixStream::connect(&a.socket).expect("connect");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut ask = |line: &str| -> Value {
        writeln!(s, "{line}").expect("write");
        let mut answer = String::new();
        r.read_line(&mut answer).expect("read");
        serde_json::from_str(&answer).expect("JSON")
    };
    let bad = ask("this is not json");
    assert_eq!(bad["ok"], false);
    assert!(bad["error"]
        .as_str()
        .is_some_and(|e| e.contains("not JSON")));
    let v2 = ask(r#"{"v":2,"cmd":"neighbors"}"#);
    assert!(v2["error"]
        .as_str()
        .is_some_and(|e| e.contains("unsupported protocol version 2")));
    let typo = ask(r#"{"v":1,"cmd":"routes","recieved":true}"#);
    assert!(typo["error"]
        .as_str()
        .is_some_and(|e| e.contains("unknown field") && e.contains("recieved")));
    let ok = ask(r#"{"v":1,"cmd":"services"}"#);
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["data"], serde_json::json!([]));

    let out = Command::new(env!("CARGO_BIN_EXE_bgpctl"))
        .env("BGPD_SOCKET", &a.socket)
        .args(["--json", "neighbors"])
        .output()
        .expect("bgpctl");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    // A second bgpd whose control_socket names a regular file leaves it alone.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("precious");
    std::fs::write(&file, "keep me").expect("write");
    let b =
        Bgpd::start(&global("10.0.0.3", "", "").replace("{socket}", &file.display().to_string()));
    b.wait("the error in the log", || {
        b.log().contains("is not a socket")
    });
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        "keep me"
    );
}

/// Per-next-hop checks ({nexthop} in the command): each node is checked on its own, only the
/// failing node's path is withdrawn (ADD-PATH), and the others keep their path ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_nexthop_health_withdraws_only_the_failing_path() {
    let tp = TestPeer::start_with(64500, 64512, true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for n in ["10.1.0.1", "10.1.0.2", "10.1.0.3"] {
        std::fs::write(dir.path().join(n), "").expect("flag");
    }
    let a = Bgpd::start(
        &(global("10.0.0.2", "", "")
            + &format!(
                "[[peers]]\nname = \"tp\"\naddress = \"127.0.0.1\"\nport = {}\nasn = 64500\n\
                 families = [\"ipv4-unicast\"]\nadd_path = true\n\n",
                tp.addr.port()
            )
            + &format!(
                "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
                 nexthops = [\"10.1.0.1\", \"10.1.0.2\", \"10.1.0.3\"]\n\
                 [services.health]\ntype = \"exec\"\ncommand = [\"test\", \"-e\", \"{}/{{nexthop}}\"]\n\
                 interval = \"100ms\"\ntimeout = \"100ms\"\nrise = 1\nfall = 1\n",
                dir.path().display()
            )),
    );
    let all = |o: &Observed| {
        o.paths.len() == 3
            && o.paths.get("192.0.2.10/32 path-id 2").map(String::as_str) == Some("10.1.0.2")
    };
    let before = tp.wait_for("three paths", all).await.updates.len();
    std::fs::remove_file(dir.path().join("10.1.0.2")).expect("node 2 fails");
    let o = tp
        .wait_for("node 2 withdrawn", |o| o.paths.len() == 2)
        .await;
    let want: BTreeMap<String, String> = [
        (
            "192.0.2.10/32 path-id 1".to_string(),
            "10.1.0.1".to_string(),
        ),
        (
            "192.0.2.10/32 path-id 3".to_string(),
            "10.1.0.3".to_string(),
        ),
    ]
    .into();
    assert_eq!(o.paths, want, "the others keep their path ids");
    assert!(
        o.updates[before..].iter().all(|u| u.announced.is_empty()),
        "only a withdraw, no re-announcement: {:?}",
        &o.updates[before..]
    );
    let s = a.json(&["services"]);
    let targets = s[0]["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 3);
    assert_eq!(targets[1]["nexthop"], "10.1.0.2");
    assert_eq!(targets[1]["state"], "down");
    assert_eq!(targets[0]["state"], "up");
    std::fs::write(dir.path().join("10.1.0.2"), "").expect("node 2 back");
    tp.wait_for("three paths again", all).await;
    assert_eq!(tp.snapshot().established, 1);
}

/// `bgpctl announce --file` / `withdraw --file`: 20,000 runtime services in one change,
/// packed into few UPDATEs; a bad list changes nothing; the JSON array form of the request
/// works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_announce_and_withdraw_from_a_file() {
    const N: u32 = 20_000;
    let tp = TestPeer::start(64500, 64512).await;
    let a = Bgpd::start(
        &(global("10.0.0.2", "", "")
            + &tp_peer(&tp)
            + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n"),
    );
    tp.wait_for("the configured service", |o| {
        o.routes.contains_key("192.0.2.10/32")
    })
    .await;
    let prefix = |i: u32| format!("{}/32", Ipv4Addr::from(0x0a64_0000 + i));
    let mut text = String::from("# bulk test\n\n");
    for i in 0..N {
        text.push_str(&prefix(i));
        text.push('\n');
    }
    let all = a.dir.path().join("all.txt");
    std::fs::write(&all, &text).expect("write list");
    let before = tp.snapshot().updates.len();
    let out = a.ctl_ok(&[
        "announce",
        "--file",
        all.to_str().expect("path"),
        "--community",
        "64512:7",
    ]);
    assert!(
        out.contains("20000 prefixes announced (UPDATE to tp)"),
        "{out}"
    );
    let o = tp
        .wait_for("every bulk route", |o| o.routes.len() == N as usize + 1)
        .await;
    assert_eq!(
        o.routes.get(&prefix(17)).map(Vec::as_slice),
        Some(&[Community::new(64512, 7)][..])
    );
    // 20,000 /32s share their attributes: 5 octets each, about 800 per 4096-octet UPDATE.
    let updates = o.updates.len() - before;
    assert!(updates <= 30, "{updates} UPDATEs for {N} prefixes");
    let services = a.json(&["services"]);
    assert_eq!(services.as_array().map(Vec::len), Some(N as usize + 1));
    assert!(a
        .log()
        .contains("announced 20000 prefixes to tp (bgpctl announce)"));

    // One bad line (host bits set) refuses the whole list: nothing is withdrawn.
    let bad = a.dir.path().join("bad.txt");
    std::fs::write(&bad, format!("{}\n10.200.0.1/24\n", prefix(0))).expect("write");
    let out = a.ctl(&["withdraw", "--file", bad.to_str().expect("path")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("prefix 2 of the list") && err.contains("nothing changed"),
        "{err}"
    );
    // A prefix that is no service refuses the list too.
    std::fs::write(&bad, format!("{}\n10.200.0.0/24\n", prefix(0))).expect("write");
    let out = a.ctl(&["withdraw", "--file", bad.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("nothing withdrawn"),
        "{err}"
    );
    // Two prefixes on one line are refused by bgpctl before sending.
    std::fs::write(&bad, "10.1.0.0/32 10.1.0.1/32\n").expect("write");
    let out = a.ctl(&["announce", "--file", bad.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(":1: one prefix per line"),
        "{err}"
    );
    assert_eq!(
        a.json(&["services"]).as_array().map(Vec::len),
        Some(N as usize + 1),
        "nothing changed"
    );

    // Withdraw the even half and the configured service, from standard input.
    let mut half = String::from("192.0.2.10/32\n");
    for i in (0..N).step_by(2) {
        half.push_str(&prefix(i));
        half.push('\n');
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_bgpctl"))
        .arg("--socket")
        .arg(&a.socket)
        .args(["withdraw", "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("bgpctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(half.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("bgpctl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("10000 runtime services removed, 1 configured service suppressed"),
        "{text}"
    );
    let o = tp
        .wait_for("half withdrawn", |o| o.routes.len() == N as usize / 2)
        .await;
    assert!(!o.routes.contains_key(&prefix(0)) && o.routes.contains_key(&prefix(1)));
    assert!(!o.routes.contains_key("192.0.2.10/32"));

    // The JSON array form of the request.
    let s = a.socket.clone();
    let resp = tokio::task::spawn_blocking(move || {
        api_request(
            &s,
            r#"{"v":1,"cmd":"announce-many","prefixes":["203.0.113.1/32","203.0.113.2/32"],"med":5}"#,
        )
    })
    .await
    .expect("join");
    assert_eq!(resp["ok"], true, "{resp}");
    tp.wait_for("the array-form routes", |o| {
        o.routes.contains_key("203.0.113.1/32") && o.routes.contains_key("203.0.113.2/32")
    })
    .await;
}

/// Issue 14: the start and reload log lines count a health-checked service that waits for its
/// verdict as a service in the file, not as one added at the first reload.
#[test]
fn log_lines_count_health_checked_services() {
    let config = global("10.0.0.2", "", "")
        + "[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
           [services.health]\ntype = \"exec\"\ncommand = [\"false\"]\n\
           interval = \"100ms\"\ntimeout = \"100ms\"\n";
    let a = Bgpd::start(&config);
    a.wait("the start line", || a.log().contains("bgpd started"));
    let log = a.log();
    assert!(
        log.contains("1 service in the file (1 held back until a health check passes"),
        "{log}"
    );
    a.signal(libc::SIGHUP);
    a.wait("the reload line", || a.log().contains("bgpd.toml: "));
    let log = a.log();
    let line = log
        .lines()
        .find(|l| l.contains("reloaded ") && l.contains("bgpd.toml: "))
        .unwrap_or_default();
    assert!(line.ends_with("no changes"), "{line}");
}

/// Issue 14: `bgpctl config` prints the running configuration with every default, passwords
/// masked, and follows a reload.
#[test]
fn bgpctl_config_prints_the_running_configuration_masked() {
    let config = global("10.0.0.2", "", "")
        + "[[peers]]\nname = \"tor\"\naddress = \"127.0.0.9\"\nasn = 64500\n\
           password = \"s3cret\"\n";
    let a = Bgpd::start(&config);
    let text = a.ctl_ok(&["config"]);
    assert!(
        text.contains("[global]") && text.contains("state_dir"),
        "{text}"
    );
    assert!(text.contains("password = \"********\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let on_disk = std::fs::read_to_string(a.dir.path().join("bgpd.toml")).expect("config");
    std::fs::write(
        a.dir.path().join("bgpd.toml"),
        on_disk + "\n[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n",
    )
    .expect("rewrite");
    a.signal(libc::SIGHUP);
    a.wait("the reloaded configuration", || {
        a.ctl_ok(&["config"]).contains("192.0.2.10/32")
    });
}

/// Issue 14: operations on one peer leave the other peer's session and routes untouched;
/// a shut-down peer stays down across a restart until `enable`; refused operations exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neighbor_operations_touch_only_their_peer() {
    let a = TestPeer::start(64500, 64512).await;
    let b = TestPeer::start_on("127.0.0.2", 64501, 64512, false).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let config = global(
        "10.0.0.2",
        "",
        &format!("state_dir = \"{}\"", scratch.path().display()),
    ) + &format!(
        "[[peers]]\nname = \"a\"\naddress = \"127.0.0.1\"\nport = {}\nasn = 64500\n\
         families = [\"ipv4-unicast\"]\n\n\
         [[peers]]\nname = \"b\"\naddress = \"127.0.0.2\"\nport = {}\nasn = 64501\n\
         local_address = \"127.0.0.1\"\nfamilies = [\"ipv4-unicast\"]\n\n\
         [[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nnexthops = [\"10.1.0.1\"]\n",
        a.addr.port(),
        b.addr.port()
    );
    let d = Bgpd::start(&config);
    for tp in [&a, &b] {
        tp.wait_for("web", |o| o.routes.contains_key("192.0.2.10/32"))
            .await;
    }
    let b_before = b.snapshot();
    let b_untouched = |what: &str| {
        let now = b.snapshot();
        assert_eq!(now.established, 1, "{what}: b was reset");
        assert!(now.downs.is_empty(), "{what}: b went down: {:?}", now.downs);
        assert_eq!(now.routes, b_before.routes, "{what}: b's routes changed");
    };

    // drain a: GRACEFUL_SHUTDOWN to a only.
    let out = d.ctl_ok(&["neighbor", "a", "drain"]);
    assert!(out.contains("a drain"), "{out}");
    a.wait_for("GRACEFUL_SHUTDOWN at a", |o| {
        o.routes
            .get("192.0.2.10/32")
            .is_some_and(|c| c.contains(&Community::GRACEFUL_SHUTDOWN))
    })
    .await;
    assert_eq!(d.json(&["neighbor", "a"])["peer_drained"], true);
    d.ctl_ok(&["neighbor", "a", "undrain"]);
    a.wait_for("a undrained", |o| {
        o.routes.get("192.0.2.10/32").is_some_and(Vec::is_empty)
    })
    .await;
    b_untouched("drain");

    // refresh a: our routes go out again.
    let seen = a.snapshot().updates.len();
    d.ctl_ok(&["neighbor", "a", "refresh"]);
    a.wait_for("the routes sent again", |o| {
        o.updates[seen..]
            .iter()
            .any(|u| u.announced.contains(&"192.0.2.10/32".to_string()))
    })
    .await;

    // reset --hard: a sees Cease 6/9 (Hard Reset) and comes back.
    d.ctl_ok(&["neighbor", "a", "reset", "--hard"]);
    let o = a
        .wait_for("a reset and back", |o| {
            o.established >= 2 && !o.downs.is_empty()
        })
        .await;
    let got = o.downs[0]
        .1
        .received
        .as_ref()
        .map(|n| (n.code.0, n.subcode));
    assert_eq!(got, Some((6, 9)), "{:?}", o.downs);

    // shutdown a with a message: Cease 6/2 carrying it; a stays down.
    let out = d.ctl_ok(&[
        "neighbor",
        "a",
        "shutdown",
        "--message",
        "rack 12 maintenance",
    ]);
    assert!(out.contains("rack 12 maintenance"), "{out}");
    let o = a.wait_for("a shut down", |o| o.downs.len() >= 2).await;
    let down = &o.downs[1].1;
    assert_eq!(
        down.received.as_ref().map(|n| (n.code.0, n.subcode)),
        Some((6, 2))
    );
    assert_eq!(
        down.shutdown_message.as_deref(),
        Some("rack 12 maintenance")
    );
    let n = d.json(&["neighbor", "a"]);
    assert_eq!(n["admin_down"], "rack 12 maintenance", "{n}");
    assert_eq!(n["state"], "Idle (shut down)", "{n}");
    // Refused: shut down twice, an unknown peer, refresh of a peer that is down: exit 2.
    for args in [
        vec!["neighbor", "a", "shutdown"],
        vec!["neighbor", "nope", "reset"],
        vec!["neighbor", "a", "refresh"],
        vec!["neighbor", "b", "enable"],
    ] {
        let out = d.ctl(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    b_untouched("shutdown");

    // kill -9 and start again: a stays down, b comes back.
    let established = a.snapshot().established;
    drop(d);
    let d = Bgpd::start(&config);
    b.wait_for("b back after the restart", |o| o.established >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(a.snapshot().established, established, "a stayed down");
    assert_eq!(
        d.json(&["neighbor", "a"])["admin_down"],
        "rack 12 maintenance"
    );
    d.ctl_ok(&["neighbor", "a", "enable"]);
    a.wait_for("a enabled", |o| o.established > established)
        .await;
}

/// Issue 14: why a peer is down: the last connect error, with its count, in `neighbors`,
/// `neighbor`, `explain` and metrics, and a WARN line (not only DEBUG).
#[test]
fn a_peer_that_cannot_be_reached_says_why() {
    let port = free_port("127.0.0.1");
    let metrics = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let config = global("10.0.0.2", "", &format!("metrics_listen = \"{metrics}\""))
        + &format!(
            "[[peers]]\nname = \"gone\"\naddress = \"127.0.0.1\"\nport = {port}\nasn = 64500\n\
         connect_retry = \"200ms\"\n\n\
         [[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n"
        );
    let a = Bgpd::start(&config);
    a.wait("two failed attempts", || {
        a.json(&["neighbor", "gone"])["connect_error"]["attempts"]
            .as_u64()
            .is_some_and(|n| n >= 2)
    });
    let n = a.json(&["neighbor", "gone"]);
    let error = n["connect_error"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Connection refused") && error.contains("nothing accepts BGP"),
        "{n}"
    );
    let table = a.ctl_ok(&["neighbors"]);
    assert!(table.contains("connect: Connection refused"), "{table}");
    let detail = a.ctl_ok(&["neighbor", "gone"]);
    assert!(detail.contains("connect error"), "{detail}");
    let why = a.ctl_ok(&["explain", "192.0.2.10/32"]);
    assert!(why.contains("cannot connect: Connection refused"), "{why}");
    let text = http_get(&metrics, "/metrics");
    assert!(
        metric(&text, "bgpd_bgp_connect_failures{peer=\"gone\"}").is_some_and(|v| v >= 2.0),
        "{text}"
    );
    let log = a.log();
    assert!(
        log.contains("WARN") && log.contains("cannot connect to gone"),
        "{log}"
    );
}

/// Issue 13: runtime services survive kill -9 and a restart; a corrupt or newer state file is
/// refused whole, set aside and named, and bgpd starts from the configuration; an unusable
/// state directory leaves changes applied but says they are not saved.
#[test]
fn runtime_state_survives_restarts_and_bad_state_files_are_set_aside() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let state = scratch.path().join("state");
    let config = global(
        "10.0.0.2",
        "",
        &format!("state_dir = \"{}\"", state.display()),
    );
    let runtime = |b: &Bgpd| -> Vec<(String, Option<u64>)> {
        b.json(&["runtime"])
            .as_array()
            .expect("list")
            .iter()
            .map(|r| {
                (
                    r["prefix"].as_str().unwrap_or_default().to_string(),
                    r["med"].as_u64(),
                )
            })
            .collect()
    };
    let a = Bgpd::start(&config);
    let out = a.ctl_ok(&["announce", "192.0.2.77/32", "--med", "5"]);
    assert!(out.contains("kept in the state directory"), "{out}");
    let list = scratch.path().join("list.txt");
    std::fs::write(&list, "198.51.100.1/32\n198.51.100.2/32\n").expect("write");
    a.ctl_ok(&["announce", "--file", &list.display().to_string()]);
    let want = vec![
        ("192.0.2.77/32".to_string(), Some(5)),
        ("198.51.100.1/32".to_string(), None),
        ("198.51.100.2/32".to_string(), None),
    ];
    assert_eq!(runtime(&a), want);
    drop(a); // SIGKILL: nothing is written on the way out.

    let b = Bgpd::start(&config);
    assert_eq!(runtime(&b), want, "restored after kill -9");
    assert!(b.log().contains("restored from"), "{}", b.log());
    assert!(b.log().contains("3 runtime services"), "{}", b.log());
    drop(b);

    // Garbage: refused whole, set aside, named.
    std::fs::write(
        state.join("state.json"),
        "{\"version\":1,\"runtime\":[{\"req",
    )
    .expect("write");
    let c = Bgpd::start(&config);
    assert_eq!(runtime(&c), vec![]);
    let log = c.log();
    assert!(
        log.contains("state.json is not valid") && log.contains("moved it to"),
        "{log}"
    );
    let aside: Vec<_> = std::fs::read_dir(&state)
        .expect("state dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.refused-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the refused file is kept aside");
    // The next change writes a fresh file; withdraw --all empties the table.
    c.ctl_ok(&["announce", "192.0.2.78/32"]);
    let out = c.ctl_ok(&["withdraw", "--all"]);
    assert!(out.contains("1 runtime service removed"), "{out}");
    assert_eq!(runtime(&c), vec![]);
    drop(c);

    // A newer format is named as such.
    std::fs::write(state.join("state.json"), "{\"version\":99}").expect("write");
    let d = Bgpd::start(&config);
    assert_eq!(runtime(&d), vec![]);
    assert!(d.log().contains("written by a newer bgpd?"), "{}", d.log());
    drop(d);

    // A state directory that cannot be used: changes apply, the answer says NOT SAVED.
    let file = scratch.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let e = Bgpd::start(&global(
        "10.0.0.2",
        "",
        &format!("state_dir = \"{}\"", file.display()),
    ));
    assert!(e.log().contains("is not usable"), "{}", e.log());
    let out = e.ctl_ok(&["announce", "192.0.2.79/32"]);
    assert!(out.contains("NOT SAVED"), "{out}");
    assert_eq!(runtime(&e).len(), 1);
}
