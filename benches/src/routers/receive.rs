//! Receive memory (issue 17 item 5): one generator feeds N prefixes, each with its own
//! attribute set, to a receiver that keeps them all (bgpd with `import = "all"`, BIRD with
//! `import all`), then takes them away twice: once by withdrawing every prefix on a live session,
//! once by closing the session. The receiver's RSS is read from /proc before the session, at
//! its peak, with the table in, and after each flush.
//!
//! The generator is this process: a passive bgp-fsm [`Session`] in its own namespace (tokio,
//! one worker thread) whose UPDATEs are encoded before the clock starts and written straight to
//! the socket, behind the session's own messages. Each prefix is a host route
//! ([`super::route`]) with ORIGIN IGP, an AS_SEQUENCE of 2 to 5 ASNs (the generator's first,
//! 4-octet ones among the rest), 1 to 4 COMMUNITIES, and MED = the prefix's index, which makes
//! every attribute set distinct; one prefix per UPDATE, as a full table with distinct paths
//! arrives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgp_fsm::{Action, Event, Session, SessionConfig};
use bgp_proto::{AsPath, Community, NextHop, Nlri, Origin, PathAttributes, SessionContext};
use bytes::{Bytes, BytesMut};
use interop::{Bgpd, BgpdConfig, Bird, BirdConfig, BirdNeighbor, Node, Peer, Topology};
use ipnet::{IpNet, Ipv4Net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::receivers::parse_bird_status;
use super::{check_stop, in_netns, poll_until, route, sample};

/// The generator's AS.
pub const GEN_AS: u32 = 65010;
/// The receiver's AS.
const RX_AS: u32 = 65000;
/// BIRD's protocol name for the generator (what [`parse_bird_status`] reads).
const BIRD_PROTO: &str = "bench_tx";
/// Encoded UPDATEs are handed to the socket in pieces of about this size.
const CHUNK: usize = 1 << 20;

/// Which implementation receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rx {
    Bgpd,
    Bird,
}

impl Rx {
    pub fn name(self) -> &'static str {
        match self {
            Rx::Bgpd => "bgpd",
            Rx::Bird => "BIRD",
        }
    }

    pub fn parse(s: &str) -> Option<Rx> {
        [Rx::Bgpd, Rx::Bird]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// One run's figures for one receiver (RSS in KiB, times in seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct RxSample {
    /// Started, no session yet.
    pub rss_before_kb: u64,
    /// `VmHWM` once the whole table is in (the peak of the first load).
    pub peak_kb: u64,
    /// With the table in (settled).
    pub rss_loaded_kb: u64,
    /// After every prefix was withdrawn on the live session (settled).
    pub rss_withdrawn_kb: u64,
    /// After the table was loaded again and the session closed (settled).
    pub rss_closed_kb: u64,
    /// Session Established (first UPDATE written) -> the receiver counts N prefixes.
    pub load_s: f64,
    /// Withdrawals written -> the receiver counts 0.
    pub withdraw_s: f64,
    /// Octets of the N announcing UPDATEs.
    pub feed_octets: usize,
}

/// The encoded feed: N announcements and N withdrawals, in pieces of whole messages.
pub struct Feed {
    pub n: u32,
    pub announce: Vec<Bytes>,
    pub withdraw: Vec<Bytes>,
    pub announce_octets: usize,
}

/// A small deterministic mixer (splitmix64) so attribute sets look varied but every run
/// sends the same octets.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The attribute set of prefix `i` (see the module docs).
pub fn attributes(i: u32) -> PathAttributes {
    let r = mix(u64::from(i));
    let hops = 1 + (r % 4) as usize;
    let mut asns = vec![GEN_AS];
    for h in 0..hops {
        let x = mix(r.wrapping_add(h as u64 + 1));
        // About one AS in eight is a 4-octet one (RFC 6793), as in today's tables.
        asns.push(if x.is_multiple_of(8) {
            4_200_000_000 + (x >> 8) as u32 % 90_000
        } else {
            1 + (x >> 8) as u32 % 64_000
        });
    }
    let ncomm = 1 + ((r >> 8) % 4) as usize;
    let communities = (0..ncomm)
        .map(|c| {
            let x = mix(r ^ (c as u64 + 17));
            Community((asns[1 + c % hops] & 0xffff) << 16 | (x as u32 & 0xffff))
        })
        .collect();
    PathAttributes {
        origin: Origin::Igp,
        as_path: AsPath::from_sequence(asns),
        med: Some(i),
        communities,
        ..PathAttributes::default()
    }
}

fn nlri(i: u32) -> Nlri {
    Nlri::new(IpNet::V4(
        Ipv4Net::new(route(i), 32).expect("32 is a valid IPv4 prefix length"),
    ))
}

/// Encodes the feed for a session with 4-octet AS numbers (both receivers offer them).
pub fn build_feed(n: u32, next_hop: Ipv4Addr) -> Feed {
    let cx = SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    };
    let b = bgp_proto::UpdateBuilder::new(&cx);
    let nh = NextHop::V4(next_hop);
    let mut announce = Vec::new();
    let mut buf = BytesMut::with_capacity(CHUNK + 4096);
    let mut octets = 0;
    for i in 0..n {
        b.announce(&attributes(i), &nh, &[nlri(i)], &mut buf);
        if buf.len() >= CHUNK {
            octets += buf.len();
            announce.push(buf.split().freeze());
        }
    }
    octets += buf.len();
    announce.push(buf.split().freeze());
    let all: Vec<Nlri> = (0..n).map(nlri).collect();
    let mut withdraw = Vec::new();
    for part in all.chunks(50_000) {
        b.withdraw(part, &mut buf);
        withdraw.push(buf.split().freeze());
    }
    Feed {
        n,
        announce,
        withdraw,
        announce_octets: octets,
    }
}

/// Commands to the generator's session task.
enum Cmd {
    Send(Vec<Bytes>),
    /// ManualStop: Cease / Administrative Shutdown, then close; accept no further connection.
    Close,
}

/// Drives one accepted connection until it closes or `Cmd::Close`.
async fn serve(
    stream: tokio::net::TcpStream,
    router_id: Ipv4Addr,
    rx_as: u32,
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
    up: &mpsc::UnboundedSender<()>,
) {
    let _ = stream.set_nodelay(true);
    let mut config = SessionConfig::new(GEN_AS, rx_as, router_id);
    config.passive = true;
    config.auto_restart = false;
    let mut session = Session::new(config, 1);
    let now = Instant::now();
    let mut actions = session.handle(now, Event::Start { passive: true });
    actions.extend(session.handle(now, Event::Connected));
    let (mut rd, mut wr) = stream.into_split();
    // One writer keeps the session's messages and the feed in order.
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'conn: loop {
        for a in actions.drain(..) {
            match a {
                Action::Send(bytes) => {
                    let _ = wtx.send(bytes);
                }
                Action::Close => break 'conn,
                Action::SessionUp(_) => {
                    let _ = up.send(());
                }
                _ => {}
            }
        }
        let deadline = session
            .next_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                let now = Instant::now();
                match r {
                    Ok(0) | Err(_) => {
                        let _ = session.handle(now, Event::Closed);
                        break 'conn;
                    }
                    Ok(_) => loop {
                        match bgp_proto::frame_len(&buf, bgp_proto::MAX_MESSAGE_LEN) {
                            Ok(Some(len)) => {
                                let msg = buf.split_to(len).freeze();
                                actions.extend(session.handle(now, Event::Message(msg)));
                            }
                            Ok(None) => break,
                            Err(e) => {
                                actions.extend(session.handle(now, Event::HeaderError(e)));
                                break;
                            }
                        }
                    },
                }
            }
            c = cmds.recv() => match c {
                Some(Cmd::Send(chunks)) => {
                    for c in chunks {
                        let _ = wtx.send(c);
                    }
                }
                Some(Cmd::Close) | None => {
                    actions.extend(session.handle(Instant::now(), Event::Stop { notification: None }));
                }
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                actions.extend(session.handle_timeout(Instant::now()));
            }
        }
    }
    drop(wtx);
    let _ = writer.await;
}

/// The generator: accepts one session at a time on `listener` until told to close.
struct Generator {
    rt: tokio::runtime::Runtime,
    cmds: mpsc::UnboundedSender<Cmd>,
    up: mpsc::UnboundedReceiver<()>,
}

impl Generator {
    fn start(ns: &str, addr: Ipv4Addr, rx_as: u32) -> Result<Generator, String> {
        let listener = in_netns(ns, move || {
            let l = std::net::TcpListener::bind(SocketAddr::from((addr, 179)))?;
            l.set_nonblocking(true)?;
            Ok::<_, std::io::Error>(l)
        })?
        .map_err(|e| format!("generator bind: {e}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (cmds, mut crx) = mpsc::unbounded_channel();
        let (utx, up) = mpsc::unbounded_channel();
        rt.spawn(async move {
            let Ok(l) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = l.accept().await {
                serve(stream, addr, rx_as, &mut crx, &utx).await;
                if crx.is_closed() {
                    return;
                }
            }
        });
        Ok(Generator { rt, cmds, up })
    }

    fn wait_up(&mut self, timeout: Duration) -> Result<(), String> {
        let up = &mut self.up;
        self.rt.block_on(async {
            tokio::time::timeout(timeout, up.recv())
                .await
                .ok()
                .flatten()
                .ok_or_else(|| format!("no session with the generator within {timeout:?}"))
        })
    }

    fn send(&self, chunks: &[Bytes]) {
        let _ = self.cmds.send(Cmd::Send(chunks.to_vec()));
    }

    /// Closes the session and stops accepting (the receiver retries, and is refused).
    fn close(self) {
        let _ = self.cmds.send(Cmd::Close);
        drop(self.cmds);
        // The accept loop ends with the runtime; give the NOTIFICATION time to be written.
        std::thread::sleep(Duration::from_millis(200));
        self.rt.shutdown_timeout(Duration::from_secs(2));
    }
}

/// The receiver under test, with the probes the run needs.
enum Receiver<'t> {
    Bgpd(Bgpd<'t>),
    Bird(Bird<'t>),
}

impl Receiver<'_> {
    fn log_tail(&self) -> String {
        let text = match self {
            Receiver::Bgpd(b) => b.log_text(),
            Receiver::Bird(b) => b.log_text(),
        };
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn pid(&self) -> u32 {
        match self {
            Receiver::Bgpd(b) => b.pid(),
            Receiver::Bird(b) => b.pid(),
        }
    }

    /// (Established, prefixes kept); `None` when the receiver did not answer.
    fn status(&self) -> Option<(bool, u64)> {
        match self {
            Receiver::Bgpd(b) => {
                let v = b.neighbor("gen").ok()?;
                Some((
                    v["state"].as_str()? == "Established",
                    v["prefixes_received"].as_u64()?,
                ))
            }
            Receiver::Bird(b) => {
                let st =
                    parse_bird_status(&b.birdc(&format!("show protocols all {BIRD_PROTO}")).ok()?)?;
                Some((st.established, st.count))
            }
        }
    }
}

fn rss(pid: u32) -> Result<u64, String> {
    sample(pid)
        .map(|s| s.rss_kb)
        .ok_or_else(|| format!("process {pid} is gone"))
}

/// RSS once it has stopped changing: from 2 s after the event (bgpd hands freed memory back
/// 0.5 s after a table goes; its Loc-RIB task may still be working through the queued
/// events), two reads 2 s apart within 1 % (at most 60 s).
fn settled_rss(pid: u32) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    std::thread::sleep(Duration::from_secs(2));
    let mut last = rss(pid)?;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        check_stop()?;
        let now = rss(pid)?;
        if now.abs_diff(last) * 100 <= last || Instant::now() >= deadline {
            if std::env::var_os("RECEIVE_DEBUG").is_some() {
                let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let pick: Vec<&str> = st.lines().filter(|l| l.starts_with("Rss")).collect();
                eprintln!("pid {pid}: {}", pick.join(", "));
                eprintln!("pid {pid}: {}, {}", smaps_summary(pid), cpu_summary(pid));
                let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                    .unwrap_or_default();
                let pick: Vec<String> = rollup
                    .lines()
                    .filter(|l| {
                        [
                            "Rss:",
                            "Anonymous:",
                            "Shared_Clean:",
                            "Private_Clean:",
                            "Private_Dirty:",
                        ]
                        .iter()
                        .any(|k| l.starts_with(k))
                    })
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect();
                eprintln!("pid {pid}: smaps_rollup {}", pick.join(", "));
            }
            return Ok(now);
        }
        last = now;
    }
}

/// Resident KiB by kind of mapping (`/proc/PID/smaps`), for `RECEIVE_DEBUG`: the brk heap,
/// other anonymous mappings (thread stacks, mmap'd blocks), and file-backed pages split into
/// the receiver's own binary and the rest (shared libraries, locale).
fn smaps_summary(pid: u32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut heap, mut anon, mut bin, mut lib, mut anon_maps) = (0u64, 0u64, 0u64, 0u64, 0u32);
    let mut kind = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let path = line.split_whitespace().nth(5).unwrap_or("");
            kind = if path == "[heap]" {
                0
            } else if path.starts_with('/') && path == exe {
                2
            } else if path.starts_with('/') {
                3
            } else {
                anon_maps += 1;
                1
            };
        } else if first == "Rss:" {
            let kb: u64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match kind {
                0 => heap += kb,
                1 => anon += kb,
                2 => bin += kb,
                _ => lib += kb,
            }
        }
    }
    format!(
        "smaps KiB: [heap] {heap}, other anon {anon} ({anon_maps} mappings), binary {bin}, other files {lib}"
    )
}

/// CPU time used so far (user + system, `/proc/PID/stat`), for `RECEIVE_DEBUG`.
fn cpu_summary(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of proc(5), the 12th and 13th after the name.
    let hz = 100.0; // USER_HZ on Linux
    format!("cpu {:.2} s", (ticks(11) + ticks(12)) as f64 / hz)
}

fn wait_count(rx: &Receiver<'_>, want: u64, timeout: Duration) -> Result<Instant, String> {
    poll_until(
        timeout,
        || rx.status(),
        |s| matches!(s, Some((true, c)) if *c == want),
    )
    .map(|(at, _)| at)
    .map_err(|(e, last)| format!("waiting for {want} prefixes: {e} (last status {last:?})"))
}

/// One run: start `kind` in a fresh topology, feed it, flush it twice.
pub fn run_receive(kind: Rx, n: u32, timeout: Duration) -> Result<RxSample, String> {
    check_stop()?;
    let topo = Topology::new("receive");
    let gen_node = topo.add_node("gen");
    let rx_node = topo.add_node("rx");
    // Encoded before the receiver starts (the next hop is the generator's address).
    let feed = &build_feed(n, gen_node.ipv4);
    let rx = start_receiver(kind, &topo, &rx_node, &gen_node)?;
    measure(&rx, &gen_node, feed, timeout)
        .map_err(|e| format!("{e}; receiver log:\n{}", rx.log_tail()))
}

fn measure(
    rx: &Receiver<'_>,
    gen_node: &Node,
    feed: &Feed,
    timeout: Duration,
) -> Result<RxSample, String> {
    let pid = rx.pid();
    let mut s = RxSample {
        feed_octets: feed.announce_octets,
        ..RxSample::default()
    };
    std::thread::sleep(Duration::from_secs(1));
    s.rss_before_kb = settled_rss(pid)?;
    let mut generator = Generator::start(&gen_node.ns, gen_node.ipv4, RX_AS)?;
    generator.wait_up(timeout)?;
    let t0 = Instant::now();
    generator.send(&feed.announce);
    let done = wait_count(rx, u64::from(feed.n), timeout)?;
    s.load_s = (done - t0).as_secs_f64();
    s.peak_kb = sample(pid).map(|p| p.hwm_kb).unwrap_or(0);
    s.rss_loaded_kb = settled_rss(pid)?;
    let t1 = Instant::now();
    generator.send(&feed.withdraw);
    let done = wait_count(rx, 0, timeout)?;
    s.withdraw_s = (done - t1).as_secs_f64();
    s.rss_withdrawn_kb = settled_rss(pid)?;
    generator.send(&feed.announce);
    wait_count(rx, u64::from(feed.n), timeout)?;
    s.peak_kb = s.peak_kb.max(sample(pid).map(|p| p.hwm_kb).unwrap_or(0));
    generator.close();
    poll_until(timeout, || rx.status(), |s| matches!(s, Some((false, 0))))
        .map_err(|(e, last)| format!("waiting for the session to close: {e} ({last:?})"))?;
    s.rss_closed_kb = settled_rss(pid)?;
    if std::env::var_os("RECEIVE_DEBUG").is_some() {
        eprintln!("receiver log, last lines:\n{}", rx.log_tail());
        if s.rss_closed_kb > 2 * s.rss_before_kb && matches!(rx, Receiver::Bgpd(_)) {
            // Freed but not handed back, or still in use? Trim from outside and look again.
            let out = std::process::Command::new("gdb")
                .args([
                    "-p",
                    &pid.to_string(),
                    "-batch",
                    "-ex",
                    "call (int)malloc_trim(0)",
                ])
                .output();
            eprintln!(
                "gdb malloc_trim: {:?}; RSS now {} KiB",
                out.map(|o| String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .map(str::to_string)),
                rss(pid)?
            );
        }
    }
    Ok(s)
}

fn start_receiver<'t>(
    kind: Rx,
    topo: &'t Topology,
    node: &Node,
    gen_node: &Node,
) -> Result<Receiver<'t>, String> {
    let gen_addr = IpAddr::V4(gen_node.ipv4);
    Ok(match kind {
        Rx::Bgpd => {
            // Listens nowhere, connects out every second (interop's defaults); 90 s hold time
            // as BIRD's.
            let mut config = BgpdConfig::new(RX_AS, node.ipv4);
            config.global.hold_time = Some(90);
            config.global.keepalive = Some(30);
            let config = config.peer(
                Peer::new(gen_addr, GEN_AS)
                    .name("gen")
                    .hold_time(90)
                    .key("import", "\"all\""),
            );
            Receiver::Bgpd(Bgpd::start(topo, node, &config))
        }
        Rx::Bird => {
            let config = BirdConfig::new(RX_AS, node.ipv4)
                .neighbor(BirdNeighbor::new(BIRD_PROTO, gen_addr, GEN_AS).hold_time(90));
            Receiver::Bird(Bird::start(topo, node, config))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_proto::UpdateView;

    #[test]
    fn feed_carries_n_distinct_attribute_sets_that_decode_back() {
        let feed = build_feed(2000, Ipv4Addr::new(10, 255, 0, 1));
        let cx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let mut seen = std::collections::HashSet::new();
        let mut prefixes = 0;
        for chunk in &feed.announce {
            let mut rest = chunk.clone();
            while !rest.is_empty() {
                let len = bgp_proto::frame_len(&rest, 4096).unwrap().unwrap();
                let msg = rest.split_to(len);
                let view = UpdateView::new_checked(msg, &cx).unwrap();
                let attrs = view.attributes();
                let i = attrs.med.unwrap();
                assert_eq!(attrs, attributes(i));
                assert!((2..=5).contains(&attrs.as_path.path_len()));
                prefixes += view.nlri().count();
                assert!(seen.insert(attrs));
            }
        }
        assert_eq!(prefixes, 2000);
    }
}
