//! Change -> wire latency: one service toggled through bgpctl (announce / withdraw), timed
//! from just before the command is started until the UPDATE arrives at a raw BGP listener in
//! this process (built on bgp-proto; each UPDATE is timestamped by the reading thread as soon
//! as it is framed).
//!
//! bgpd runs in its own namespace with one peer, the listener, at 10.201.0.2 on that
//! namespace's loopback. The same toggles are then repeated through the control socket
//! directly (one JSON request line on a kept-open connection), which leaves out the cost of
//! starting the bgpctl process. If bgpctl cannot reach bgpd, the toggle is a config rewrite
//! plus SIGHUP instead (and the report says so).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bgp_proto::{
    frame_len, Capability, Family, FamilySet, MessageType, Open, SessionContext, UpdateView,
};
use bytes::BytesMut;
use interop::Topology;

use super::{check_stop, in_netns, percentile, run, sibling_binary, STOP};

/// The toggled service.
pub const PREFIX: &str = "192.0.2.10/32";
const PEER: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
const PEER_AS: u32 = 65100;

/// One UPDATE as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub at: Instant,
    pub announced: usize,
    pub withdrawn: usize,
}

/// Latencies of one way of toggling, milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub how: String,
    pub latencies_ms: Vec<f64>,
    /// Time the command itself took (bgpctl process, or request/response on the socket).
    pub command_ms: Vec<f64>,
}

impl Series {
    pub fn median(&self) -> f64 {
        percentile(&self.latencies_ms, 50.0)
    }
    pub fn p99(&self) -> f64 {
        percentile(&self.latencies_ms, 99.0)
    }
}

pub struct LatencyResult {
    pub series: Vec<Series>,
    pub bgpd_cpu_s: f64,
    pub bgpd_hwm_kb: u64,
}

/// A raw BGP speaker on an accepted connection: OPEN, KEEPALIVE, then reports UPDATEs.
pub struct RawListener {
    pub updates: mpsc::Receiver<Seen>,
}

fn read_msg(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<Option<bytes::Bytes>> {
    loop {
        match frame_len(buf, bgp_proto::MAX_MESSAGE_LEN) {
            Ok(Some(len)) => return Ok(Some(buf.split_to(len).freeze())),
            Ok(None) => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!("{e:?}"),
                ))
            }
        }
        let mut chunk = [0u8; 16384];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl RawListener {
    /// Accepts one connection on `listener` (giving up after `timeout`) and serves it on a
    /// thread of its own.
    pub fn serve(listener: TcpListener, timeout: Duration) -> RawListener {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = listener.set_nonblocking(true);
            let deadline = Instant::now() + timeout;
            let mut stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_)
                        if Instant::now() < deadline
                            && !STOP.load(std::sync::atomic::Ordering::SeqCst) =>
                    {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
            let mut buf = BytesMut::new();
            // OPEN from bgpd, then ours (4-octet AS, IPv4 unicast) and a KEEPALIVE.
            match read_msg(&mut stream, &mut buf) {
                Ok(Some(m)) if m.get(18) == Some(&MessageType::OPEN.0) => {}
                _ => return,
            }
            let open = Open {
                my_as: u16::try_from(PEER_AS).unwrap_or(bgp_proto::AS_TRANS),
                hold_time: 90,
                bgp_id: PEER,
                capabilities: vec![
                    Capability::Multiprotocol(Family::IPV4_UNICAST),
                    Capability::FourOctetAs(PEER_AS),
                ],
            };
            let mut out = BytesMut::new();
            open.encode(&mut out);
            bgp_proto::encode_keepalive(&mut out);
            if stream.write_all(&out).is_err() {
                return;
            }
            let cx = SessionContext {
                four_octet_as: true,
                families: [Family::IPV4_UNICAST].into_iter().collect::<FamilySet>(),
                peer_asn: 65001,
                ..SessionContext::default()
            };
            let mut keepalive = BytesMut::new();
            bgp_proto::encode_keepalive(&mut keepalive);
            while let Ok(Some(m)) = read_msg(&mut stream, &mut buf) {
                let at = Instant::now();
                match m.get(18).copied() {
                    Some(k) if k == MessageType::UPDATE.0 => {
                        let (announced, withdrawn) = match UpdateView::new_checked(&m[..], &cx) {
                            Ok(v) => (v.announced().count(), v.withdrawn().count()),
                            Err(_) => (0, 0),
                        };
                        if tx
                            .send(Seen {
                                at,
                                announced,
                                withdrawn,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Some(k)
                        if k == MessageType::KEEPALIVE.0
                            && stream.write_all(&keepalive).is_err() =>
                    {
                        return;
                    }
                    Some(k) if k == MessageType::NOTIFICATION.0 => return,
                    _ => {}
                }
            }
        });
        RawListener { updates: rx }
    }

    /// The first UPDATE within `timeout` that announces (or withdraws) something.
    pub fn wait(&self, announce: bool, timeout: Duration) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let seen = self.updates.recv_timeout(left).ok()?;
            if (announce && seen.announced > 0) || (!announce && seen.withdrawn > 0) {
                return Some(seen);
            }
        }
    }

    /// Discards UPDATEs already received.
    pub fn drain(&self) {
        while self.updates.try_recv().is_ok() {}
    }
}

fn bgpd_config(router_id: Ipv4Addr, ctl: &Path, with_service: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[global]\nasn = 65001\nrouter_id = \"{router_id}\"");
    let _ = writeln!(s, "listen = []\nhold_time = 90\nconnect_retry = 1");
    let _ = writeln!(s, "control_socket = \"{}\"", ctl.display());
    if let Some(dir) = ctl.parent() {
        let _ = writeln!(s, "state_dir = \"{}\"", dir.join("state").display());
    }
    let _ = writeln!(s, "\n[[peers]]\nname = \"listener\"\naddress = \"{PEER}\"");
    let _ = writeln!(s, "asn = {PEER_AS}\nfamilies = [\"ipv4-unicast\"]");
    if with_service {
        let _ = writeln!(s, "\n[[services]]\nname = \"svc\"\nprefix = \"{PREFIX}\"");
    }
    s
}

/// Runs `toggles` announce/withdraw changes (alternating, starting with announce) each way.
pub fn run_latency(toggles: usize) -> Result<LatencyResult, String> {
    check_stop()?;
    let topo = Topology::new("routers-latency");
    let node = topo.add_node("lat");
    super::run(
        "ip",
        &["-n", &node.ns, "addr", "add", "10.201.0.1/16", "dev", "lo"],
    )?;
    let listener = in_netns(&node.ns, move || {
        TcpListener::bind(SocketAddr::from((PEER, 179)))
    })?
    .map_err(|e| format!("bind listener: {e}"))?;
    let raw = RawListener::serve(listener, Duration::from_secs(60));
    let ctl = node.dir.join("ctl.sock");
    let conf = node.dir.join("bgpd.toml");
    std::fs::write(&conf, bgpd_config(node.ipv4, &ctl, false)).map_err(|e| e.to_string())?;
    let bin = sibling_binary("bgpd", "BGPD_BIN").display().to_string();
    let log = node.dir.join("bgpd.log");
    let pid = topo.spawn(
        &node,
        "bgpd",
        &bin,
        &["run", "-c", &conf.display().to_string()],
        &log,
    );
    // Established: bgpd sends End-of-RIB (an empty UPDATE) or nothing; wait for the control
    // socket and the session, then drop whatever arrived.
    let bgpctl = sibling_binary("bgpctl", "BGPCTL_BIN").display().to_string();
    let ctl_s = ctl.display().to_string();
    let established = super::poll_until(
        Duration::from_secs(30),
        || run(&bgpctl, &["--socket", &ctl_s, "--json", "neighbors"]),
        |r| matches!(r, Ok(t) if t.contains("Established")),
    );
    let mut series = Vec::new();
    if established.is_ok() {
        std::thread::sleep(Duration::from_millis(300));
        raw.drain();
        // 1. bgpctl processes.
        let mut s = Series {
            how: "bgpctl announce/withdraw (process per change)".into(),
            ..Series::default()
        };
        for i in 0..toggles {
            check_stop()?;
            let announce = i % 2 == 0;
            let verb = if announce { "announce" } else { "withdraw" };
            let t0 = Instant::now();
            let out = Command::new(&bgpctl)
                .args(["--socket", &ctl_s, verb, PREFIX])
                .output()
                .map_err(|e| format!("bgpctl: {e}"))?;
            let t_cmd = t0.elapsed();
            if !out.status.success() {
                return Err(format!(
                    "bgpctl {verb}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let seen = raw
                .wait(announce, Duration::from_secs(5))
                .ok_or_else(|| format!("no UPDATE within 5 s after bgpctl {verb} #{i}"))?;
            s.latencies_ms
                .push(seen.at.saturating_duration_since(t0).as_secs_f64() * 1e3);
            s.command_ms.push(t_cmd.as_secs_f64() * 1e3);
        }
        series.push(s);
        // Leave the service withdrawn, as the next series starts with announce.
        if toggles % 2 == 1 {
            let _ = run(&bgpctl, &["--socket", &ctl_s, "withdraw", PREFIX]);
            let _ = raw.wait(false, Duration::from_secs(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        raw.drain();
        // 2. The control socket directly.
        let stream = UnixStream::connect(&ctl).map_err(|e| format!("control socket: {e}"))?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream);
        let mut s = Series {
            how: "control socket, in-process client (no process start)".into(),
            ..Series::default()
        };
        for i in 0..toggles {
            check_stop()?;
            let announce = i % 2 == 0;
            let verb = if announce { "announce" } else { "withdraw" };
            let line = format!("{{\"v\":1,\"cmd\":\"{verb}\",\"prefix\":\"{PREFIX}\"}}\n");
            let t0 = Instant::now();
            writer
                .write_all(line.as_bytes())
                .map_err(|e| format!("control socket: {e}"))?;
            let mut answer = String::new();
            reader
                .read_line(&mut answer)
                .map_err(|e| format!("control socket: {e}"))?;
            let t_cmd = t0.elapsed();
            if !answer.contains("\"ok\":true") {
                return Err(format!("control socket {verb}: {}", answer.trim()));
            }
            let seen = raw
                .wait(announce, Duration::from_secs(5))
                .ok_or_else(|| format!("no UPDATE within 5 s after socket {verb} #{i}"))?;
            s.latencies_ms
                .push(seen.at.saturating_duration_since(t0).as_secs_f64() * 1e3);
            s.command_ms.push(t_cmd.as_secs_f64() * 1e3);
        }
        series.push(s);
    } else {
        // No control socket: config rewrite + SIGHUP.
        let mut s = Series {
            how: "SIGHUP reload (bgpctl unavailable)".into(),
            ..Series::default()
        };
        std::thread::sleep(Duration::from_secs(2));
        raw.drain();
        for i in 0..toggles {
            check_stop()?;
            let announce = i % 2 == 0;
            std::fs::write(&conf, bgpd_config(node.ipv4, &ctl, announce))
                .map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            topo.signal(pid, libc::SIGHUP);
            let seen = raw
                .wait(announce, Duration::from_secs(5))
                .ok_or_else(|| format!("no UPDATE within 5 s after SIGHUP #{i}"))?;
            s.latencies_ms
                .push(seen.at.saturating_duration_since(t0).as_secs_f64() * 1e3);
        }
        series.push(s);
    }
    let st = super::sample(pid).unwrap_or_default();
    Ok(LatencyResult {
        series,
        bgpd_cpu_s: st.cpu_s,
        bgpd_hwm_kb: st.hwm_kb,
    })
}
