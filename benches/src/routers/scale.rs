//! Scale: one bgpd with many passive test peers, each a bgp-fsm [`Session`] driven by a
//! single-threaded tokio runtime in this process (one task per peer), each on its own address
//! (10.201.x.y:179 on the loopback of one namespace; bgpd connects out to all of them).
//! bgpd announces the same `routes` host routes to every peer. Timed from bgpd's start until
//! every peer is Established and until every peer holds all routes; bgpd's peak RSS and CPU
//! come from /proc.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgp_fsm::{Action, Event, Session, SessionConfig};
use bytes::BytesMut;
use interop::Topology;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{check_stop, in_netns, route, sibling_binary, STOP};

const PEER_AS: u32 = 65100;
const BGPD_AS: u32 = 65001;

#[derive(Debug, Clone, Default)]
pub struct ScaleResult {
    pub peers: usize,
    pub routes: u32,
    pub established: usize,
    pub loaded: usize,
    /// bgpd start -> last peer Established.
    pub all_established_s: Option<f64>,
    /// bgpd start -> last peer holding every route.
    pub all_loaded_s: Option<f64>,
    /// Median per peer of (bgpd start -> Established).
    pub established_p50_s: f64,
    pub bgpd_hwm_kb: u64,
    pub bgpd_rss_kb: u64,
    pub bgpd_cpu_s: f64,
}

/// The address of test peer `i` (`i` below 50,000).
pub fn peer_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, 1 + (i / 200) as u8, 1 + (i % 200) as u8)
}

#[derive(Debug)]
enum PeerEvent {
    Established(usize, Instant),
    Loaded(usize, Instant),
}

async fn drive(
    idx: usize,
    stream: tokio::net::TcpStream,
    want: usize,
    events: &mpsc::UnboundedSender<PeerEvent>,
) {
    let _ = stream.set_nodelay(true);
    let mut config = SessionConfig::new(PEER_AS, BGPD_AS, peer_addr(idx));
    config.passive = true;
    config.auto_restart = false;
    let mut session = Session::new(config, idx as u64 + 1);
    let now = Instant::now();
    let mut actions = session.handle(now, Event::Start { passive: true });
    actions.extend(session.handle(now, Event::Connected));
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut max_len = bgp_proto::MAX_MESSAGE_LEN;
    let mut loaded = false;
    loop {
        for a in actions.drain(..) {
            match a {
                Action::Send(bytes) if wr.write_all(&bytes).await.is_err() => return,
                Action::Close => return,
                Action::SessionUp(n) => {
                    max_len = n.max_message_len;
                    let _ = events.send(PeerEvent::Established(idx, Instant::now()));
                }
                Action::Received(_) if !loaded && session.adj_rib_in().len() >= want => {
                    loaded = true;
                    let _ = events.send(PeerEvent::Loaded(idx, Instant::now()));
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
                        return;
                    }
                    Ok(_) => loop {
                        match bgp_proto::frame_len(&buf, max_len) {
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
            _ = tokio::time::sleep_until(deadline.into()) => {
                actions = session.handle_timeout(Instant::now());
            }
        }
    }
}

fn bgpd_config(router_id: Ipv4Addr, ctl: &std::path::Path, peers: usize, routes: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[global]\nasn = {BGPD_AS}\nrouter_id = \"{router_id}\"");
    let _ = writeln!(s, "listen = []\nhold_time = 90\nconnect_retry = 1");
    let _ = writeln!(s, "control_socket = \"{}\"", ctl.display());
    if let Some(dir) = ctl.parent() {
        let _ = writeln!(s, "state_dir = \"{}\"", dir.join("state").display());
    }
    for i in 0..peers {
        let _ = writeln!(
            s,
            "\n[[peers]]\nname = \"p{i}\"\naddress = \"{}\"\nasn = {PEER_AS}\nfamilies = [\"ipv4-unicast\"]",
            peer_addr(i)
        );
    }
    for i in 0..routes {
        let _ = writeln!(s, "\n[[services]]\nprefix = \"{}/32\"", route(i));
    }
    s
}

/// Raises this process's open-file soft limit to the hard limit (bgpd, started by us,
/// inherits it: 1,000 sessions need more than the usual 1,024 descriptors in this process).
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

pub fn run_scale(peers: usize, routes: u32, timeout: Duration) -> Result<ScaleResult, String> {
    check_stop()?;
    if peers > 40_000 {
        return Err("at most 40,000 peers".into());
    }
    raise_nofile();
    let topo = Topology::new("routers-scale");
    let node = topo.add_node("scale");
    super::run(
        "ip",
        &["-n", &node.ns, "addr", "add", "10.201.0.1/16", "dev", "lo"],
    )?;
    let listeners = in_netns(&node.ns, move || {
        (0..peers)
            .map(|i| {
                let l = std::net::TcpListener::bind(SocketAddr::from((peer_addr(i), 179)))?;
                l.set_nonblocking(true)?;
                Ok(l)
            })
            .collect::<std::io::Result<Vec<_>>>()
    })?
    .map_err(|e| format!("bind test peers: {e}"))?;
    let ctl = node.dir.join("ctl.sock");
    let conf = node.dir.join("bgpd.toml");
    std::fs::write(&conf, bgpd_config(node.ipv4, &ctl, peers, routes))
        .map_err(|e| e.to_string())?;
    let bin = sibling_binary("bgpd", "BGPD_BIN").display().to_string();
    let log = node.dir.join("bgpd.log");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut res = ScaleResult {
        peers,
        routes,
        ..ScaleResult::default()
    };
    let pid = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::with_capacity(peers);
        for (idx, l) in listeners.into_iter().enumerate() {
            let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((stream, _)) = l.accept().await {
                    drive(idx, stream, routes as usize, &tx).await;
                }
            }));
        }
        let t0 = Instant::now();
        let pid = topo.spawn(
            &node,
            "bgpd",
            &bin,
            &["run", "-c", &conf.display().to_string()],
            &log,
        );
        let deadline = t0 + timeout;
        let mut est = vec![None::<Instant>; peers];
        let mut done = vec![None::<Instant>; peers];
        let (mut n_est, mut n_done) = (0usize, 0usize);
        while n_done < peers
            && Instant::now() < deadline
            && !STOP.load(std::sync::atomic::Ordering::SeqCst)
        {
            let tick = tokio::time::sleep(Duration::from_millis(200));
            tokio::select! {
                Some(e) = rx.recv() => match e {
                    PeerEvent::Established(i, at) => {
                        if est[i].is_none() { n_est += 1; }
                        est[i] = Some(at);
                    }
                    PeerEvent::Loaded(i, at) => {
                        if done[i].is_none() { n_done += 1; done[i] = Some(at); }
                    }
                },
                _ = tick => {}
            }
        }
        res.established = n_est;
        res.loaded = n_done;
        let since = |v: &[Option<Instant>]| -> Vec<f64> {
            v.iter()
                .flatten()
                .map(|t| (*t - t0).as_secs_f64())
                .collect()
        };
        let est_s = since(&est);
        if n_est == peers {
            res.all_established_s = est_s.iter().copied().reduce(f64::max);
        }
        if n_done == peers {
            res.all_loaded_s = since(&done).into_iter().reduce(f64::max);
        }
        res.established_p50_s = super::median(&est_s);
        let st = super::sample(pid).unwrap_or_default();
        res.bgpd_hwm_kb = st.hwm_kb;
        res.bgpd_rss_kb = st.rss_kb;
        res.bgpd_cpu_s = st.cpu_s;
        for t in tasks {
            t.abort();
        }
        Ok::<u32, String>(pid)
    })?;
    let _ = pid;
    Ok(res)
}
