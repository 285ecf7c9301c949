//! Operations: the control API server on `global.control_socket`, and the state behind it
//! and behind the metrics endpoint, health checks and drain.
//!
//! [`Ops`] sits between the configuration and the peer tasks: the daemon asks it for the
//! services to send ([`Ops::services`]), which are the configured ones adjusted for health
//! verdicts (withdrawn, fewer next hops or demoted), runtime `announce`/`withdraw`, and drain
//! (GRACEFUL_SHUTDOWN, RFC 8326). When any of these changes, Ops sends
//! [`DaemonCommand::Resync`] to the daemon loop, which hands the fresh list to every peer
//! task; the peer task computes and writes the UPDATEs. All pushes go through the daemon loop,
//! so they are ordered with reloads.
//!
//! Ops watches every peer's `PeerStatus` (the daemon's `watch` channels) for the event
//! timeline, the metrics and the latency histogram: the time from a desired change (API
//! request, health verdict, reload, drain step) to the peer task's next UPDATE count
//! increase, which it publishes right after writing the UPDATE to the socket.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::State as FsmState;
use bgp_proto::{
    AsSegment, AsSegmentType, Community, NextHop, Nlri, Notification, Origin, PathAttributes,
};
use futures::{SinkExt, StreamExt};
use ipnet::IpNet;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{Framed, LinesCodec};
use tracing::{error, info, warn};

use crate::announce::{self, PeerView, RouteSet};
use crate::api::{self, Command, Response};
use crate::config::{Config, NextHopSpec, OnFail, Peer, PeerSelection, Probe, Service};
use crate::events::{unix_secs, EventLog, Kind};
use crate::health::{self, Health, Hysteresis, Target};
use crate::metrics::{Histogram, TextWriter};
use crate::peer::PeerStatus;

/// Drain time of `bgpctl drain` when neither `--time` nor `global.drain_time` is given.
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(30);

/// Shutdown Communication (RFC 9003) of the Cease 6/2 that ends a `bgpctl drain`.
pub const DRAIN_MESSAGE: &str = "bgpd drained by operator";

/// The daemon's per-peer status channels.
pub type Statuses = watch::Receiver<BTreeMap<String, watch::Receiver<PeerStatus>>>;

/// What Ops asks of the daemon loop.
#[derive(Debug)]
pub enum DaemonCommand {
    /// Hand [`Ops::services`] to every peer task.
    Resync,
    /// Stop every peer with this NOTIFICATION (end of a drain).
    StopPeers(Notification),
    /// Start every configured peer that is not running (undrain).
    StartPeers,
    /// A copy of `peer`'s Adj-RIB-In (`received`) or Adj-RIB-Out; `None` for a peer that
    /// is not running.
    AdjRib {
        peer: String,
        received: bool,
        reply: oneshot::Sender<Option<Vec<bgp_fsm::Route>>>,
    },
}

/// Why routes changed (label `cause` of the latency histogram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    Api,
    Health,
    Reload,
    Drain,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Api => "api",
            Cause::Health => "health",
            Cause::Reload => "reload",
            Cause::Drain => "drain",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DrainPhase {
    Normal,
    Draining { until: Instant },
    Drained,
}

struct RuntimeService {
    service: Service,
}

struct TargetState {
    target: Target,
    machine: Hysteresis,
    since: SystemTime,
    last_result: Option<String>,
}

struct ServiceHealth {
    check: crate::config::HealthCheck,
    nexthops: Vec<NextHopSpec>,
    targets: Vec<TargetState>,
    disabled: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ServiceHealth {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Default)]
struct PeerOps {
    /// The routes this peer should have (computed like the peer task does), while
    /// Established.
    desired: RouteSet,
    /// Changes waiting for their UPDATEs, oldest first.
    pending: std::collections::VecDeque<Pending>,
    /// UPDATEs seen written but not yet matched to a pending change.
    credit: u64,
}

/// A change whose UPDATEs the peer task has not yet been seen writing.
struct Pending {
    at: Instant,
    cause: Cause,
    /// UPDATEs the change needs: one for the withdrawals, one per attribute group.
    updates: u64,
    nlri: usize,
}

impl PeerOps {
    fn pending_nlri(&self) -> usize {
        self.pending.iter().map(|p| p.nlri).sum()
    }
}

/// How a service is treated right now.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Announce {
        service: Box<Service>,
        state: String,
    },
    Withheld(String),
}

struct State {
    config: Config,
    runtime: BTreeMap<IpNet, RuntimeService>,
    /// Configured prefixes withdrawn with `bgpctl withdraw`.
    suppressed: BTreeMap<IpNet, SystemTime>,
    health: BTreeMap<String, ServiceHealth>,
    drain: DrainPhase,
    drain_since: SystemTime,
    drain_generation: u64,
    peers: BTreeMap<String, PeerOps>,
    latency: BTreeMap<Cause, Histogram>,
    /// Per service: the last state string and since when.
    service_since: BTreeMap<String, (String, SystemTime)>,
}

struct Shared {
    state: Mutex<State>,
    events: EventLog,
    tx: mpsc::UnboundedSender<DaemonCommand>,
    statuses: Mutex<Option<Statuses>>,
    started: Instant,
}

/// The operations side of the daemon (see the module docs).
pub struct Ops {
    shared: Arc<Shared>,
    commands: Option<mpsc::UnboundedReceiver<DaemonCommand>>,
    tasks: Vec<JoinHandle<()>>,
    socket: Option<PathBuf>,
}

impl Drop for Ops {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
        if let Ok(mut st) = self.shared.state.lock() {
            st.health.clear();
        }
    }
}

impl Ops {
    /// Starts the control socket, the metrics endpoint, the health checks and the status
    /// watchers. Must run inside the tokio runtime. A control socket or metrics endpoint that
    /// cannot be set up is logged; the daemon runs on without it.
    pub fn start(config: &Config) -> Ops {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = State {
            config: config.clone(),
            runtime: BTreeMap::new(),
            suppressed: BTreeMap::new(),
            health: BTreeMap::new(),
            drain: DrainPhase::Normal,
            drain_since: SystemTime::now(),
            drain_generation: 0,
            peers: BTreeMap::new(),
            latency: BTreeMap::new(),
            service_since: BTreeMap::new(),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            events: EventLog::new(crate::events::DEFAULT_CAPACITY),
            tx,
            statuses: Mutex::new(None),
            started: Instant::now(),
        });
        let mut ops = Ops {
            shared: shared.clone(),
            commands: Some(rx),
            tasks: Vec::new(),
            socket: None,
        };
        shared.reconcile_health();
        shared.record_service_states();

        let path = config.global.control_socket.clone();
        match bind_control_socket(&path) {
            Ok(listener) => {
                info!("control socket listening on {}", path.display());
                ops.socket = Some(path);
                ops.tasks
                    .push(tokio::spawn(serve_control(listener, shared.clone())));
            }
            Err(e) => error!(
                "control socket {} not available ({e}); bgpctl will not work",
                path.display()
            ),
        }
        if let Some(addr) = config.global.metrics_listen {
            let render_shared = shared.clone();
            let render: crate::metrics::Render = Arc::new(move || render_shared.render_metrics());
            match std::net::TcpListener::bind(addr).and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            }) {
                Ok(l) => {
                    info!("metrics endpoint listening on http://{addr}/metrics");
                    ops.tasks
                        .push(tokio::spawn(crate::metrics::serve(l, render)));
                }
                Err(e) => error!("metrics endpoint {addr} not available: {e}"),
            }
        }
        ops
    }

    /// Follows the daemon's peer statuses (for events, metrics, latency and `bgpctl`).
    pub fn attach(&mut self, statuses: Statuses) {
        if let Ok(mut s) = self.shared.statuses.lock() {
            *s = Some(statuses.clone());
        }
        self.tasks
            .push(tokio::spawn(watch_statuses(self.shared.clone(), statuses)));
    }

    /// `config` with its services replaced by what may be announced before any health
    /// check has run (health-checked services start withheld, or demoted): give this to
    /// `Daemon::start` so no session ever sees an unchecked service.
    pub fn initial_config(&self, mut config: Config) -> Config {
        config.services = self.shared.lock().effective();
        config
    }

    /// The daemon's end of the command channel (taken once).
    pub fn take_commands(&mut self) -> mpsc::UnboundedReceiver<DaemonCommand> {
        self.commands
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1)
    }

    /// The services to hand to the peer tasks now.
    pub fn services(&self) -> Arc<Vec<Service>> {
        Arc::new(self.shared.lock().effective())
    }

    /// A reload applied `config`: health checks follow it; returns the services to send.
    pub fn set_config(&self, config: &Config) -> Arc<Vec<Service>> {
        {
            let mut st = self.shared.lock();
            st.config = config.clone();
        }
        self.shared.reconcile_health();
        self.shared
            .events
            .record(Kind::Reload, None, None, "configuration reloaded".into());
        self.shared.routes_changed(Cause::Reload, "reload");
        self.services()
    }

    /// A reload was refused (invalid file): recorded in the timeline; nothing changes.
    pub fn reload_failed(&self, errors: &str) {
        let first = errors.lines().next().unwrap_or("invalid configuration");
        let more = errors.lines().count().saturating_sub(1);
        self.shared.events.record(
            Kind::Reload,
            None,
            None,
            format!(
                "reload refused, still running the previous configuration: {first}{}",
                if more > 0 {
                    format!(
                        " (and {more} more error{})",
                        if more == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            ),
        );
    }

    /// SIGTERM with `global.drain_time` set: starts (or continues) the drain and returns how
    /// long to wait before withdrawing; `None` when there is nothing to drain.
    pub fn begin_shutdown_drain(&self) -> Option<Duration> {
        let mut st = self.shared.lock();
        let time = st.config.global.drain_time?;
        st.drain_generation += 1;
        let wait = match st.drain {
            DrainPhase::Drained => return None,
            DrainPhase::Draining { until } => until.saturating_duration_since(Instant::now()),
            DrainPhase::Normal => {
                st.drain = DrainPhase::Draining {
                    until: Instant::now() + time,
                };
                st.drain_since = SystemTime::now();
                time
            }
        };
        drop(st);
        self.shared.events.record(
            Kind::Drain,
            None,
            None,
            format!(
                "SIGTERM: draining before shutdown (RFC 8326): every route re-announced with \
                 GRACEFUL_SHUTDOWN 65535:0 (LOCAL_PREF 0 on iBGP); withdrawing in {}",
                api::HumanDuration(wait)
            ),
        );
        self.shared.routes_changed(Cause::Drain, "drain");
        Some(wait)
    }

    /// The drain time is over: withdraw everything (the caller then resyncs and stops).
    pub fn finish_drain(&self) {
        self.shared.lock().drain = DrainPhase::Drained;
        self.shared.events.record(
            Kind::Drain,
            None,
            None,
            "drain time over: withdrawing every route".into(),
        );
        self.shared.routes_changed(Cause::Drain, "drain");
    }

    /// Median of the recent change-to-UPDATE latencies (all causes).
    pub fn latency_median(&self) -> Option<Duration> {
        let st = self.shared.lock();
        let mut all: Vec<Duration> = st.latency.values().flat_map(Histogram::samples).collect();
        all.sort();
        all.get(all.len() / 2).copied()
    }
}

fn bind_control_socket(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            // Never delete a file that is not ours (a mistyped path could name the config).
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another process is serving it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock must not take the control plane down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn statuses(&self) -> BTreeMap<String, PeerStatus> {
        let Some(rx) = self.statuses.lock().ok().and_then(|s| s.clone()) else {
            return BTreeMap::new();
        };
        let map = rx.borrow().clone();
        map.iter()
            .map(|(k, v)| (k.clone(), v.borrow().clone()))
            .collect()
    }

    /// (Re)starts the health check tasks so they match the configuration; keeps the state
    /// of services whose check and next hops did not change.
    fn reconcile_health(self: &Arc<Self>) {
        let mut st = self.lock();
        let wanted: BTreeMap<String, Service> = st
            .config
            .services
            .iter()
            .filter(|s| s.health.is_some())
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        st.health.retain(|name, h| {
            wanted
                .get(name)
                .is_some_and(|s| s.health.as_ref() == Some(&h.check) && s.nexthops == h.nexthops)
        });
        for (name, svc) in wanted {
            if st.health.contains_key(&name) {
                continue;
            }
            let Some(check) = svc.health.clone() else {
                continue;
            };
            let targets = health::targets(&check.probe, &svc.nexthops, svc.prefix.addr().is_ipv6());
            let mut tasks = Vec::new();
            for (i, t) in targets.iter().enumerate() {
                tasks.push(tokio::spawn(run_check(
                    Arc::downgrade(self),
                    name.clone(),
                    i,
                    t.probe.clone(),
                    check.clone(),
                )));
            }
            let states = targets
                .into_iter()
                .map(|target| TargetState {
                    target,
                    machine: Hysteresis::new(check.rise, check.fall),
                    since: SystemTime::now(),
                    last_result: None,
                })
                .collect();
            st.health.insert(
                name,
                ServiceHealth {
                    check,
                    nexthops: svc.nexthops.clone(),
                    targets: states,
                    disabled: false,
                    tasks,
                },
            );
        }
    }

    /// One probe result (or the disable file's presence) for a target.
    fn health_result(
        &self,
        service: &str,
        index: usize,
        disabled: bool,
        result: Result<String, String>,
    ) {
        let mut messages = Vec::new();
        {
            let mut st = self.lock();
            let Some(h) = st.health.get_mut(service) else {
                return;
            };
            if disabled != h.disabled {
                h.disabled = disabled;
                messages.push(match (disabled, &h.check.disable_file) {
                    (true, Some(f)) => format!(
                        "service {service} disabled: {} exists (withdrawn whatever the check says)",
                        f.display()
                    ),
                    _ => format!("service {service} enabled again: the disable file is gone"),
                });
            }
            if !disabled {
                let nexthops = h.nexthops.clone();
                let Some(t) = h.targets.get_mut(index) else {
                    return;
                };
                let ok = result.is_ok();
                let text = match &result {
                    Ok(s) | Err(s) => s.clone(),
                };
                t.last_result = Some(if ok {
                    format!("ok: {text}")
                } else {
                    format!("failed: {text}")
                });
                if let Some(new) = t.machine.observe(ok) {
                    t.since = SystemTime::now();
                    let what = match t.target.nexthop.and_then(|i| nexthops.get(i)) {
                        Some(nh) => format!("service {service} next hop {nh}"),
                        None => format!("service {service}"),
                    };
                    messages.push(format!(
                        "{what} health {}: {} ({text})",
                        new.as_str(),
                        t.target.describe()
                    ));
                }
            }
        }
        if messages.is_empty() {
            return;
        }
        for m in messages {
            self.events.record(Kind::Health, None, Some(service), m);
        }
        self.routes_changed(Cause::Health, "health check");
    }

    /// The desired routes changed: compute each Established peer's new routes, record
    /// announce/withdraw events, mark the change pending for the latency histogram and ask
    /// the daemon to push the services.
    fn routes_changed(&self, cause: Cause, why: &str) {
        let statuses = self.statuses();
        let mut events = Vec::new();
        {
            let mut st = self.lock();
            let services = st.effective();
            let now = Instant::now();
            for (name, status) in &statuses {
                let Some(new) = st.routes_for(&services, name, status) else {
                    continue;
                };
                let po = st.peers.entry(name.clone()).or_default();
                let diff = announce::diff(&po.desired, &new);
                if diff.is_empty() {
                    po.desired = new;
                    continue;
                }
                po.pending.push_back(Pending {
                    at: now,
                    cause,
                    updates: u64::from(!diff.withdraw.is_empty()) + diff.announce.len() as u64,
                    nlri: diff.announced_count() + diff.withdraw.len(),
                });
                let announced: BTreeSet<String> = diff
                    .announce
                    .iter()
                    .flat_map(|g| g.nlri.iter().map(|n| n.prefix.to_string()))
                    .collect();
                // A prefix counts as withdrawn only when no path of it stays. `new` is ordered by
                // (prefix, path id) and `None` sorts first, so one range probe per prefix.
                let stays = |prefix: ipnet::IpNet| {
                    new.range(
                        Nlri {
                            prefix,
                            path_id: None,
                        }..,
                    )
                    .next()
                    .is_some_and(|(k, _)| k.prefix == prefix)
                };
                let withdrawn: BTreeSet<String> = diff
                    .withdraw
                    .iter()
                    .filter(|n| !stays(n.prefix))
                    .map(|n| n.prefix.to_string())
                    .collect();
                if !announced.is_empty() {
                    events.push((
                        Kind::Announce,
                        name.clone(),
                        format!("announced {} to {name} ({why})", list(&announced)),
                    ));
                }
                if !withdrawn.is_empty() {
                    events.push((
                        Kind::Withdraw,
                        name.clone(),
                        format!("withdrew {} from {name} ({why})", list(&withdrawn)),
                    ));
                }
                po.desired = new;
            }
        }
        for (kind, peer, msg) in events {
            self.events.record(kind, Some(&peer), None, msg);
        }
        self.record_service_states();
        let _ = self.tx.send(DaemonCommand::Resync);
    }

    fn record_service_states(&self) {
        let mut st = self.lock();
        let now = SystemTime::now();
        let verdicts: Vec<(String, String)> = st
            .all_services()
            .into_iter()
            .map(|(svc, source)| {
                let state = match st.verdict(&svc, source) {
                    Verdict::Announce { state, .. } => state,
                    Verdict::Withheld(r) => r,
                };
                (svc.name, state)
            })
            .collect();
        for (name, state) in verdicts {
            match st.service_since.get(&name) {
                Some((s, _)) if *s == state => {}
                _ => {
                    st.service_since.insert(name, (state, now));
                }
            }
        }
    }

    /// A peer's status changed (from its watch channel).
    fn on_status(&self, name: &str, prev: Option<&PeerStatus>, cur: &PeerStatus) {
        let was_up = prev.is_some_and(|p| p.state == FsmState::Established);
        let is_up = cur.state == FsmState::Established;
        let mut events: Vec<(Kind, String)> = Vec::new();
        {
            let mut st = self.lock();
            if is_up && !was_up {
                let services = st.effective();
                let routes = st.routes_for(&services, name, cur).unwrap_or_default();
                let n = routes.len();
                let po = st.peers.entry(name.to_string()).or_default();
                po.desired = routes;
                po.pending.clear();
                po.credit = 0;
                let hold = cur.negotiated.as_ref().map(|n| n.hold_time).unwrap_or(0);
                events.push((
                    Kind::Session,
                    format!(
                        "session with {name} ({}) established, hold {hold}s",
                        cur.address
                    ),
                ));
                events.push((
                    Kind::Announce,
                    format!(
                        "announced {n} route{} to {name} (session established)",
                        if n == 1 { "" } else { "s" }
                    ),
                ));
            }
            if was_up && !is_up {
                if let Some(po) = st.peers.get_mut(name) {
                    po.desired.clear();
                    po.pending.clear();
                    po.credit = 0;
                }
            }
            if let Some(p) = prev {
                let sent = cur
                    .counters
                    .messages_out
                    .update
                    .saturating_sub(p.counters.messages_out.update);
                let mut done = Vec::new();
                if let (true, Some(po)) = (sent > 0, st.peers.get_mut(name)) {
                    po.credit += sent;
                    while po.pending.front().is_some_and(|f| f.updates <= po.credit) {
                        if let Some(f) = po.pending.pop_front() {
                            po.credit -= f.updates;
                            done.push((f.cause, f.at.elapsed()));
                        }
                    }
                    if po.pending.is_empty() {
                        po.credit = 0;
                    }
                }
                for (cause, d) in done {
                    st.latency.entry(cause).or_default().observe(d);
                }
            }
        }
        // The peer task bumps `flaps` and sets `last_down` together when an Established
        // session goes down; a failed attempt changes only `last_down`.
        if let Some(p) = prev {
            let sentence = cur.last_down.clone();
            let has_notification = sentence
                .as_deref()
                .is_some_and(|d| d.contains("NOTIFICATION"));
            let kind = if has_notification {
                Kind::Notification
            } else {
                Kind::Session
            };
            if cur.flaps > p.flaps {
                events.push((
                    kind,
                    sentence.unwrap_or_else(|| format!("session with {name} down")),
                ));
            } else if cur.last_down != p.last_down && has_notification {
                if let Some(s) = sentence {
                    events.push((kind, s));
                }
            }
        }
        // The peer task logged these sentences already; keep them out of the log a second time.
        for (kind, msg) in events {
            self.events.record_unlogged(kind, Some(name), None, msg);
        }
    }

    // -----------------------------------------------------------------------------------
    // Requests

    async fn handle(self: &Arc<Self>, cmd: Command) -> Response {
        match cmd {
            Command::Neighbors => Response::ok(self.neighbors(None)),
            Command::Neighbor { name } => {
                let list = self.neighbors(Some(&name));
                match list.into_iter().next() {
                    Some(n) => Response::ok(n),
                    None => Response::error(format!("no peer named {name:?}")),
                }
            }
            Command::Routes { peer, received } => self.routes(peer, received).await,
            Command::Services => Response::ok(self.services_info()),
            Command::Announce(args) => self.announce(args),
            Command::Withdraw { prefix } => self.withdraw(&prefix),
            Command::Events { since_ms, .. } => {
                Response::ok(self.events.list(since_ms.map(Duration::from_millis)))
            }
            Command::Explain { prefix } => self.explain(&prefix),
            Command::Drain { time_ms } => self.drain(time_ms.map(Duration::from_millis)),
            Command::Undrain => self.undrain(),
        }
    }

    fn neighbors(&self, only: Option<&str>) -> Vec<api::Neighbor> {
        let statuses = self.statuses();
        let st = self.lock();
        let depth = |name: &str| st.peers.get(name).map(PeerOps::pending_nlri).unwrap_or(0);
        st.config
            .peers
            .iter()
            .filter(|p| only.is_none_or(|n| p.name == n || p.address.to_string() == n))
            .map(|p| {
                neighbor_info(
                    &st.config,
                    p,
                    statuses.get(&p.name),
                    depth(&p.name),
                    st.drain == DrainPhase::Drained,
                )
            })
            .collect()
    }

    async fn routes(&self, peer: Option<String>, received: bool) -> Response {
        let names: Vec<String> = {
            let st = self.lock();
            if let Some(p) = &peer {
                if st.config.peer(p).is_none() {
                    return Response::error(format!("no peer named {p:?}"));
                }
            }
            st.config
                .peers
                .iter()
                .filter(|p| peer.as_ref().is_none_or(|n| *n == p.name))
                .map(|p| p.name.clone())
                .collect()
        };
        let effective = self.lock().effective();
        let mut out = Vec::new();
        for name in names {
            let (reply, wait) = oneshot::channel();
            let cmd = DaemonCommand::AdjRib {
                peer: name.clone(),
                received,
                reply,
            };
            if self.tx.send(cmd).is_err() {
                return Response::error("bgpd is shutting down");
            }
            let Ok(Ok(Some(routes))) = tokio::time::timeout(Duration::from_secs(5), wait).await
            else {
                continue;
            };
            for r in routes {
                let svc = (!received)
                    .then(|| {
                        effective
                            .iter()
                            .find(|s| s.prefix.trunc() == r.nlri.prefix && s.applies_to(&name))
                            .map(|s| s.name.clone())
                    })
                    .flatten();
                let dir = if received { "in" } else { "out" };
                out.push(route_info(&name, dir, &r.nlri, &r.next_hop, &r.attrs, svc));
            }
        }
        Response::ok(out)
    }

    fn services_info(&self) -> Vec<api::ServiceInfo> {
        let statuses = self.statuses();
        let st = self.lock();
        let effective = st.effective();
        // Each peer's routes once, not once per service: a file may hold 100k services.
        let announced: Vec<(&String, HashSet<ipnet::IpNet>)> = statuses
            .iter()
            .filter_map(|(name, status)| {
                let routes = st.routes_for(&effective, name, status)?;
                Some((name, routes.keys().map(|n| n.prefix).collect()))
            })
            .collect();
        let mut effective_by_name: HashMap<&str, Vec<&Service>> = HashMap::new();
        for e in effective.iter() {
            effective_by_name
                .entry(e.name.as_str())
                .or_default()
                .push(e);
        }
        st.all_services()
            .into_iter()
            .map(|(svc, source)| {
                let state = match st.verdict(&svc, source) {
                    Verdict::Announce { state, .. } | Verdict::Withheld(state) => state,
                };
                let announced_to = announced
                    .iter()
                    .filter(|(name, prefixes)| {
                        prefixes.contains(&svc.prefix.trunc())
                            && effective_by_name
                                .get(svc.name.as_str())
                                .is_some_and(|es| es.iter().any(|e| e.applies_to(name)))
                    })
                    .map(|(n, _)| (*n).clone())
                    .collect();
                let (health, targets) = match st.health.get(&svc.name) {
                    Some(h) if source == "config" => (
                        Some(format!(
                            "{} every {}, rise {}, fall {}{}",
                            probe_kind(&h.check.probe),
                            api::HumanDuration(h.check.interval),
                            h.check.rise,
                            h.check.fall,
                            if h.disabled { ", disabled by file" } else { "" }
                        )),
                        h.targets
                            .iter()
                            .map(|t| api::TargetHealth {
                                nexthop: t
                                    .target
                                    .nexthop
                                    .and_then(|i| h.nexthops.get(i))
                                    .map(ToString::to_string)
                                    .unwrap_or_else(|| "service".into()),
                                target: t.target.describe(),
                                state: if h.disabled {
                                    "disabled".into()
                                } else {
                                    let p = t.machine.progress();
                                    if p.is_empty() {
                                        t.machine.state().as_str().into()
                                    } else {
                                        format!("{} ({p})", t.machine.state().as_str())
                                    }
                                },
                                since: Some(unix_secs(t.since)),
                                last_result: t.last_result.clone(),
                            })
                            .collect(),
                    ),
                    _ => (None, Vec::new()),
                };
                api::ServiceInfo {
                    name: svc.name.clone(),
                    prefix: svc.prefix.to_string(),
                    source: source.into(),
                    nexthops: svc.nexthops.iter().map(ToString::to_string).collect(),
                    state,
                    health,
                    targets,
                    announced_to,
                }
            })
            .collect()
    }

    fn announce(&self, args: api::AnnounceArgs) -> Response {
        // `announce PREFIX` alone for a configured service withdrawn with `bgpctl withdraw`
        // brings the configured one back.
        let bare = api::AnnounceArgs {
            prefix: args.prefix.clone(),
            ..api::AnnounceArgs::default()
        } == args;
        if let (true, Ok(prefix)) = (bare, parse_prefix(&args.prefix)) {
            let restored = self.lock().suppressed.remove(&prefix).is_some();
            if restored {
                self.events.record(
                    Kind::Api,
                    None,
                    Some(&prefix.to_string()),
                    format!("bgpctl announce {prefix}: configured service announced again"),
                );
                let peers =
                    self.changed_peers(|| self.routes_changed(Cause::Api, "bgpctl announce"));
                return Response::ok(api::ChangeResult {
                    prefix: prefix.to_string(),
                    action: "announced (configured service restored)".into(),
                    peers,
                    note: api::RUNTIME_NOTE.into(),
                });
            }
        }
        let service = {
            let st = self.lock();
            match runtime_service(&args, &st.config) {
                Ok(s) => s,
                Err(e) => return Response::error(e),
            }
        };
        let prefix = service.prefix;
        {
            let mut st = self.lock();
            st.suppressed.remove(&prefix);
            st.runtime.insert(prefix, RuntimeService { service });
        }
        self.events.record(
            Kind::Api,
            None,
            Some(&prefix.to_string()),
            format!("bgpctl announce {prefix} (runtime service)"),
        );
        let peers = self.changed_peers(|| self.routes_changed(Cause::Api, "bgpctl announce"));
        Response::ok(api::ChangeResult {
            prefix: prefix.to_string(),
            action: "announced".into(),
            peers,
            note: api::RUNTIME_NOTE.into(),
        })
    }

    fn withdraw(&self, prefix: &str) -> Response {
        let prefix = match parse_prefix(prefix) {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        let what = {
            let mut st = self.lock();
            let runtime = st.runtime.remove(&prefix).is_some();
            let configured = st
                .config
                .services
                .iter()
                .any(|s| s.prefix.trunc() == prefix);
            if configured {
                st.suppressed.insert(prefix, SystemTime::now());
            }
            match (runtime, configured) {
                (false, false) => {
                    return Response::error(format!(
                        "{prefix} is neither a configured nor a runtime service"
                    ))
                }
                (true, false) => "runtime service removed",
                (_, true) => "configured service withdrawn until `bgpctl announce` or a restart",
            }
        };
        self.events.record(
            Kind::Api,
            None,
            Some(&prefix.to_string()),
            format!("bgpctl withdraw {prefix}: {what}"),
        );
        let peers = self.changed_peers(|| self.routes_changed(Cause::Api, "bgpctl withdraw"));
        Response::ok(api::ChangeResult {
            prefix: prefix.to_string(),
            action: format!("withdrawn ({what})"),
            peers,
            note: api::RUNTIME_NOTE.into(),
        })
    }

    /// Runs `f` and returns the peers that got a pending change from it.
    fn changed_peers(&self, f: impl FnOnce()) -> Vec<String> {
        f();
        let st = self.lock();
        st.peers
            .iter()
            .filter(|(_, p)| !p.pending.is_empty())
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn explain(&self, prefix: &str) -> Response {
        let prefix = match parse_prefix(prefix) {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        let statuses = self.statuses();
        let st = self.lock();
        let effective = st.effective();
        let candidates: Vec<(Service, &'static str)> = st
            .all_services()
            .into_iter()
            .filter(|(s, _)| s.prefix.trunc() == prefix)
            .collect();
        let mut peers = Vec::new();
        for p in &st.config.peers {
            let status = statuses.get(&p.name);
            let routes: Vec<api::RouteInfo> = status
                .and_then(|s| st.routes_for(&effective, &p.name, s))
                .map(|r| {
                    r.iter()
                        .filter(|(n, _)| n.prefix == prefix)
                        .map(|(n, r)| route_info(&p.name, "out", n, &r.next_hop, &r.attrs, None))
                        .collect()
                })
                .unwrap_or_default();
            let svc_since = |name: &str| st.service_since.get(name).map(|(_, t)| unix_secs(*t));
            let est_since = status.and_then(|s| s.established_since).map(unix_secs);
            let (announced, reason, since) = if candidates.is_empty() {
                (
                    false,
                    "no configured or runtime service has this prefix".to_string(),
                    None,
                )
            } else if !routes.is_empty() {
                let svc = &candidates[0].0;
                let state = match st.verdict(svc, candidates[0].1) {
                    Verdict::Announce { state, .. } | Verdict::Withheld(state) => state,
                };
                (
                    true,
                    format!("service {} ({}): {state}", svc.name, candidates[0].1),
                    svc_since(&svc.name).max(est_since),
                )
            } else {
                let mut why = Vec::new();
                let mut since = None;
                for (svc, source) in &candidates {
                    if !svc.applies_to(&p.name) {
                        why.push(format!(
                            "service {} is only for peers {}",
                            svc.name,
                            peer_list(&svc.peers)
                        ));
                        continue;
                    }
                    match st.verdict(svc, source) {
                        Verdict::Withheld(r) => {
                            since = svc_since(&svc.name);
                            why.push(format!("service {} ({source}): {r}", svc.name));
                        }
                        Verdict::Announce { .. } => match status {
                            Some(s) if s.state == FsmState::Established => {
                                why.push(format!(
                                    "service {}: no route for this session (family not negotiated, or no next hop of its family)",
                                    svc.name
                                ));
                            }
                            Some(s) => {
                                why.push(format!(
                                    "session is {:?}{}",
                                    s.state,
                                    s.last_down
                                        .as_ref()
                                        .map(|d| format!(" (last: {d})"))
                                        .unwrap_or_default()
                                ));
                            }
                            None => why.push("peer is stopped (drained)".into()),
                        },
                    }
                }
                (false, why.join("; "), since)
            };
            peers.push(api::PeerExplanation {
                peer: p.name.clone(),
                announced,
                reason,
                since,
                routes,
            });
        }
        Response::ok(api::Explanation {
            prefix: prefix.to_string(),
            services: candidates
                .iter()
                .map(|(s, src)| format!("{} ({src})", s.name))
                .collect(),
            peers,
        })
    }

    fn drain(self: &Arc<Self>, time: Option<Duration>) -> Response {
        let (time, generation) = {
            let mut st = self.lock();
            if st.drain != DrainPhase::Normal {
                return Response::error("already draining or drained; `bgpctl undrain` first");
            }
            let time = time
                .or(st.config.global.drain_time)
                .unwrap_or(DEFAULT_DRAIN_TIME);
            st.drain = DrainPhase::Draining {
                until: Instant::now() + time,
            };
            st.drain_since = SystemTime::now();
            st.drain_generation += 1;
            (time, st.drain_generation)
        };
        let message = format!(
            "drain started (RFC 8326): every route re-announced with GRACEFUL_SHUTDOWN 65535:0 \
             (LOCAL_PREF 0 on iBGP); in {} every route is withdrawn and every session closed \
             with Cease 6/2 \"{DRAIN_MESSAGE}\"",
            api::HumanDuration(time)
        );
        self.events.record(Kind::Drain, None, None, message.clone());
        self.routes_changed(Cause::Drain, "drain");
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(time).await;
            let Some(shared) = weak.upgrade() else { return };
            {
                let mut st = shared.lock();
                if st.drain_generation != generation
                    || !matches!(st.drain, DrainPhase::Draining { .. })
                {
                    return;
                }
                st.drain = DrainPhase::Drained;
            }
            shared.events.record(
                Kind::Drain,
                None,
                None,
                "drain time over: withdrawing every route".into(),
            );
            shared.routes_changed(Cause::Drain, "drain");
            let _ = shared.tx.send(DaemonCommand::StopPeers(Notification::cease(
                2,
                Some(DRAIN_MESSAGE),
            )));
            shared.events.record(
                Kind::Drain,
                None,
                None,
                format!("drained: every session closed with Cease 6/2 \"{DRAIN_MESSAGE}\""),
            );
        });
        Response::ok(api::DrainInfo {
            state: "draining".into(),
            time_ms: Some(time.as_millis() as u64),
            message,
        })
    }

    fn undrain(&self) -> Response {
        let was = {
            let mut st = self.lock();
            let was = st.drain;
            st.drain = DrainPhase::Normal;
            st.drain_generation += 1;
            st.drain_since = SystemTime::now();
            was
        };
        if was == DrainPhase::Normal {
            return Response::error("not draining");
        }
        let message =
            "undrain: routes announced normally again; stopped sessions restart".to_string();
        self.events.record(Kind::Drain, None, None, message.clone());
        self.routes_changed(Cause::Drain, "undrain");
        let _ = self.tx.send(DaemonCommand::StartPeers);
        Response::ok(api::DrainInfo {
            state: "normal".into(),
            time_ms: None,
            message,
        })
    }

    // -----------------------------------------------------------------------------------
    // Metrics

    fn render_metrics(&self) -> String {
        let statuses = self.statuses();
        let st = self.lock();
        let mut w = TextWriter::default();
        let peers: Vec<&Peer> = st.config.peers.iter().collect();
        let status_of = |p: &Peer| statuses.get(&p.name);

        w.family(
            "bgpd_bgp_session_up",
            "gauge",
            "1 when the BGP session is Established (metallb_bgp_session_up).",
        );
        for p in &peers {
            let up = status_of(p).is_some_and(|s| s.state == FsmState::Established);
            w.sample(
                "bgpd_bgp_session_up",
                &[("peer", &p.name), ("address", &p.address.to_string())],
                u8::from(up),
            );
        }
        w.family(
            "bgpd_bgp_session_state",
            "gauge",
            "1 for the session's current FSM state (RFC 4271 §8.2.2).",
        );
        for p in &peers {
            let cur = status_of(p).map(|s| s.state).unwrap_or(FsmState::Idle);
            for s in [
                FsmState::Idle,
                FsmState::Connect,
                FsmState::Active,
                FsmState::OpenSent,
                FsmState::OpenConfirm,
                FsmState::Established,
            ] {
                w.sample(
                    "bgpd_bgp_session_state",
                    &[("peer", &p.name), ("state", &format!("{s:?}"))],
                    u8::from(s == cur),
                );
            }
        }
        w.family(
            "bgpd_bgp_session_flaps_total",
            "counter",
            "Times the session went down after being Established.",
        );
        for p in &peers {
            w.sample(
                "bgpd_bgp_session_flaps_total",
                &[("peer", &p.name)],
                status_of(p).map(|s| s.flaps).unwrap_or(0),
            );
        }
        for (name, help, dir) in [
            (
                "bgpd_bgp_messages_sent_total",
                "BGP messages sent, by type.",
                true,
            ),
            (
                "bgpd_bgp_messages_received_total",
                "BGP messages received, by type.",
                false,
            ),
        ] {
            w.family(name, "counter", help);
            for p in &peers {
                let c = status_of(p)
                    .map(|s| {
                        api::MessageCounts::from(if dir {
                            s.counters.messages_out
                        } else {
                            s.counters.messages_in
                        })
                    })
                    .unwrap_or_default();
                for (t, v) in [
                    ("open", c.open),
                    ("update", c.update),
                    ("notification", c.notification),
                    ("keepalive", c.keepalive),
                    ("route_refresh", c.route_refresh),
                ] {
                    w.sample(name, &[("peer", &p.name), ("type", t)], v);
                }
            }
        }
        w.family(
            "bgpd_bgp_updates_total",
            "counter",
            "UPDATE messages sent (metallb_bgp_updates_total).",
        );
        for p in &peers {
            w.sample(
                "bgpd_bgp_updates_total",
                &[("peer", &p.name)],
                status_of(p)
                    .map(|s| s.counters.messages_out.update)
                    .unwrap_or(0),
            );
        }
        w.family(
            "bgpd_bgp_updates_received_total",
            "counter",
            "UPDATE messages received (metallb_bgp_updates_total_received).",
        );
        for p in &peers {
            w.sample(
                "bgpd_bgp_updates_received_total",
                &[("peer", &p.name)],
                status_of(p)
                    .map(|s| s.counters.messages_in.update)
                    .unwrap_or(0),
            );
        }
        w.family(
            "bgpd_bgp_announced_prefixes_total",
            "gauge",
            "Routes in the Adj-RIB-Out (metallb_bgp_announced_prefixes_total).",
        );
        for p in &peers {
            w.sample(
                "bgpd_bgp_announced_prefixes_total",
                &[("peer", &p.name)],
                status_of(p).map(|s| s.routes_out).unwrap_or(0),
            );
        }
        w.family(
            "bgpd_bgp_received_prefixes",
            "gauge",
            "Routes in the Adj-RIB-In.",
        );
        for p in &peers {
            w.sample(
                "bgpd_bgp_received_prefixes",
                &[("peer", &p.name)],
                status_of(p).map(|s| s.routes_in).unwrap_or(0),
            );
        }
        w.family(
            "bgpd_bgp_pending_prefixes_total",
            "gauge",
            "Desired routes not yet in the Adj-RIB-Out (metallb_bgp_pending_prefixes_total).",
        );
        for p in &peers {
            let desired = st.peers.get(&p.name).map(|o| o.desired.len()).unwrap_or(0);
            let out = status_of(p)
                .filter(|s| s.state == FsmState::Established)
                .map(|s| s.routes_out)
                .unwrap_or(0);
            w.sample(
                "bgpd_bgp_pending_prefixes_total",
                &[("peer", &p.name)],
                desired.abs_diff(out),
            );
        }
        w.family(
            "bgpd_bgp_update_queue_depth",
            "gauge",
            "Route changes (NLRI) decided but not yet seen leaving in an UPDATE.",
        );
        for p in &peers {
            let depth = st
                .peers
                .get(&p.name)
                .map(PeerOps::pending_nlri)
                .unwrap_or(0);
            w.sample("bgpd_bgp_update_queue_depth", &[("peer", &p.name)], depth);
        }
        w.family(
            "bgpd_service_health",
            "gauge",
            "1 when a health-checked target is up, 0 otherwise.",
        );
        for (name, h) in &st.health {
            for t in &h.targets {
                let nh = t
                    .target
                    .nexthop
                    .and_then(|i| h.nexthops.get(i))
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "service".into());
                let up = !h.disabled && t.machine.state() == Health::Up;
                w.sample(
                    "bgpd_service_health",
                    &[("service", name), ("nexthop", &nh)],
                    u8::from(up),
                );
            }
        }
        w.family(
            "bgpd_service_announced",
            "gauge",
            "1 when the service is announced (possibly demoted), 0 when withheld.",
        );
        for (svc, source) in st.all_services() {
            let on = matches!(st.verdict(&svc, source), Verdict::Announce { .. });
            w.sample(
                "bgpd_service_announced",
                &[("service", &svc.name), ("source", source)],
                u8::from(on),
            );
        }
        w.family(
            "bgpd_drain_state",
            "gauge",
            "0 normal, 1 draining (GRACEFUL_SHUTDOWN), 2 drained.",
        );
        let d = match st.drain {
            DrainPhase::Normal => 0,
            DrainPhase::Draining { .. } => 1,
            DrainPhase::Drained => 2,
        };
        w.sample("bgpd_drain_state", &[], d);
        w.family(
            "bgpd_update_latency_seconds",
            "histogram",
            "Time from a desired change (API, health verdict, reload, drain) to the UPDATE written to the socket.",
        );
        for cause in [Cause::Api, Cause::Health, Cause::Reload, Cause::Drain] {
            let h = st.latency.get(&cause).cloned().unwrap_or_default();
            h.write(
                &mut w,
                "bgpd_update_latency_seconds",
                &format!("cause=\"{}\"", cause.as_str()),
            );
        }
        w.family(
            "bgpd_update_latency_median_seconds",
            "gauge",
            "Median of the last 1024 change-to-UPDATE latencies.",
        );
        for (cause, h) in &st.latency {
            if let Some(m) = h.median() {
                w.sample(
                    "bgpd_update_latency_median_seconds",
                    &[("cause", cause.as_str())],
                    m.as_secs_f64(),
                );
            }
        }
        w.family(
            "bgpd_uptime_seconds",
            "gauge",
            "Seconds since bgpd started.",
        );
        w.sample("bgpd_uptime_seconds", &[], self.started.elapsed().as_secs());
        w.out
    }
}

impl State {
    /// Configured services (minus those a runtime service replaces) and runtime services.
    fn all_services(&self) -> Vec<(Service, &'static str)> {
        let mut out: Vec<(Service, &'static str)> = self
            .config
            .services
            .iter()
            .filter(|s| !self.runtime.contains_key(&s.prefix.trunc()))
            .map(|s| (s.clone(), "config"))
            .collect();
        out.extend(
            self.runtime
                .values()
                .map(|r| (r.service.clone(), "runtime")),
        );
        out
    }

    fn effective(&self) -> Vec<Service> {
        self.all_services()
            .into_iter()
            .filter_map(|(s, source)| match self.verdict(&s, source) {
                Verdict::Announce { service, .. } => Some(*service),
                Verdict::Withheld(_) => None,
            })
            .collect()
    }

    fn verdict(&self, svc: &Service, source: &str) -> Verdict {
        if self.drain == DrainPhase::Drained {
            return Verdict::Withheld(
                "drained: withdrawn (bgpctl undrain to announce again)".into(),
            );
        }
        // The state strings never change with time ("since" carries the time).
        if source == "config" && self.suppressed.contains_key(&svc.prefix.trunc()) {
            return Verdict::Withheld("withdrawn by bgpctl withdraw".into());
        }
        let mut service = svc.clone();
        let mut state = "announced".to_string();
        if let (Some(h), "config") = (self.health.get(&svc.name), source) {
            if h.disabled {
                let file = h
                    .check
                    .disable_file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                return Verdict::Withheld(format!("disabled: {file} exists"));
            }
            let single = h.targets.iter().all(|t| t.target.nexthop.is_none());
            let healthy: Vec<usize> = if single {
                if h.targets.iter().all(|t| t.machine.state() == Health::Up) {
                    (0..svc.nexthops.len()).collect()
                } else {
                    Vec::new()
                }
            } else {
                h.targets
                    .iter()
                    .filter(|t| t.machine.state() == Health::Up)
                    .filter_map(|t| t.target.nexthop)
                    .collect()
            };
            let failing: Vec<String> = h
                .targets
                .iter()
                .filter(|t| t.machine.state() != Health::Up)
                .map(|t| format!("{} {}", t.target.describe(), t.machine.state().as_str()))
                .collect();
            if healthy.is_empty() {
                match &h.check.on_fail {
                    OnFail::Withdraw => {
                        return Verdict::Withheld(format!(
                            "withdrawn: health check failing ({})",
                            failing.join(", ")
                        ))
                    }
                    OnFail::Demote {
                        med,
                        communities,
                        as_path_prepend,
                    } => {
                        if med.is_some() {
                            service.med = *med;
                        }
                        service.communities.extend(communities.iter().copied());
                        service.as_path_prepend = service
                            .as_path_prepend
                            .saturating_add(*as_path_prepend)
                            .min(64);
                        state = format!("demoted: health check failing ({})", failing.join(", "));
                    }
                }
            } else if healthy.len() < svc.nexthops.len() {
                // A failing next hop becomes the unspecified address, which announce never
                // sends: the healthy ones keep their positions, so their ADD-PATH path ids
                // (RFC 7911) stay the same.
                let unspecified = match svc.prefix {
                    IpNet::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    IpNet::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                };
                service.nexthops = svc
                    .nexthops
                    .iter()
                    .enumerate()
                    .map(|(i, nh)| {
                        if healthy.contains(&i) {
                            *nh
                        } else {
                            NextHopSpec::Addr(unspecified)
                        }
                    })
                    .collect();
                state = format!(
                    "announced with {} of {} next hops ({} failing)",
                    healthy.len(),
                    svc.nexthops.len(),
                    failing.join(", ")
                );
            }
        }
        if let DrainPhase::Draining { .. } = self.drain {
            if !service.communities.contains(&Community::GRACEFUL_SHUTDOWN) {
                service.communities.push(Community::GRACEFUL_SHUTDOWN);
            }
            // RFC 8326 §4: LOCAL_PREF 0 towards iBGP peers (announce sends it on iBGP only).
            service.local_pref = Some(0);
            state = format!("{state}, draining: GRACEFUL_SHUTDOWN 65535:0 until the withdraw");
        }
        Verdict::Announce {
            service: Box::new(service),
            state,
        }
    }

    /// The routes `name` should have now (None unless Established).
    fn routes_for(
        &self,
        services: &[Service],
        name: &str,
        status: &PeerStatus,
    ) -> Option<RouteSet> {
        if status.state != FsmState::Established {
            return None;
        }
        let peer = self.config.peer(name)?;
        let n = status.negotiated.as_ref()?;
        let local = status.local_address?;
        let view = PeerView {
            name: name.to_string(),
            local_asn: self.config.global.asn.0,
            peer_asn: peer.asn.0,
            local_address: local.ip(),
            next_hop_v4: peer.ipv4_nexthop,
            next_hop_v6: peer.ipv6_nexthop,
            families: n.families.iter().copied().collect(),
            add_path_tx: n.add_path_send.iter().copied().collect(),
            extended_next_hop: n.extended_next_hop.iter().copied().collect(),
        };
        Some(announce::routes_for_peer(services, &view).0)
    }
}

fn list(items: &BTreeSet<String>) -> String {
    if items.len() <= 8 {
        items.iter().cloned().collect::<Vec<_>>().join(", ")
    } else {
        format!("{} prefixes", items.len())
    }
}

fn peer_list(sel: &PeerSelection) -> String {
    match sel {
        PeerSelection::All => "all".into(),
        PeerSelection::Only(v) if v.is_empty() => "(none)".into(),
        PeerSelection::Only(v) => v.join(", "),
    }
}

fn probe_kind(p: &Probe) -> &'static str {
    match p {
        Probe::Tcp { .. } => "tcp",
        Probe::Http { .. } => "http",
        Probe::Exec { .. } => "exec",
    }
}

fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let p: IpNet = match s.parse() {
        Ok(p) => p,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => return Err(format!("invalid prefix {s:?}")),
        },
    };
    if p.trunc() != p {
        return Err(format!(
            "invalid prefix {s}: host bits set (did you mean {}?)",
            p.trunc()
        ));
    }
    Ok(p)
}

fn runtime_service(args: &api::AnnounceArgs, config: &Config) -> Result<Service, String> {
    let prefix = parse_prefix(&args.prefix)?;
    let mut nexthops = Vec::new();
    for nh in &args.nexthops {
        if nh == "self" {
            nexthops.push(NextHopSpec::Local);
        } else {
            let a: IpAddr = nh.parse().map_err(|_| format!("invalid next hop {nh:?}"))?;
            if a.is_ipv4() != prefix.addr().is_ipv4() {
                return Err(format!("next hop {a} is not of the family of {prefix}"));
            }
            nexthops.push(NextHopSpec::Addr(a));
        }
    }
    if nexthops.is_empty() {
        nexthops.push(NextHopSpec::Local);
    }
    let communities = args
        .communities
        .iter()
        .map(|c| crate::config::parse_community(c))
        .collect::<Result<Vec<_>, _>>()?;
    let large_communities = args
        .large_communities
        .iter()
        .map(|c| crate::config::parse_large_community(c))
        .collect::<Result<Vec<_>, _>>()?;
    for p in &args.peers {
        if config.peer(p).is_none() {
            return Err(format!("no peer named {p:?}"));
        }
    }
    Ok(Service {
        name: prefix.to_string(),
        prefix,
        nexthops,
        communities,
        large_communities,
        med: args.med,
        local_pref: args.local_pref,
        as_path_prepend: 0,
        peers: if args.peers.is_empty() {
            PeerSelection::All
        } else {
            PeerSelection::Only(args.peers.clone())
        },
        health: None,
    })
}

fn route_info(
    peer: &str,
    direction: &str,
    nlri: &Nlri,
    next_hop: &NextHop,
    attrs: &PathAttributes,
    service: Option<String>,
) -> api::RouteInfo {
    api::RouteInfo {
        peer: peer.to_string(),
        direction: direction.to_string(),
        prefix: nlri.prefix.to_string(),
        path_id: nlri.path_id,
        next_hop: match next_hop {
            NextHop::V4(a) => a.to_string(),
            NextHop::V6 {
                global,
                link_local: None,
            } => global.to_string(),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => format!("{global} ({ll})"),
        },
        origin: match attrs.origin {
            Origin::Igp => "igp",
            Origin::Egp => "egp",
            Origin::Incomplete => "incomplete",
        }
        .to_string(),
        as_path: as_path_text(&attrs.as_path.segments),
        med: attrs.med,
        local_pref: attrs.local_pref,
        communities: attrs.communities.iter().map(ToString::to_string).collect(),
        large_communities: attrs
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect(),
        service,
    }
}

fn as_path_text(segments: &[AsSegment]) -> String {
    segments
        .iter()
        .map(|s| {
            let asns = s
                .asns
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            match s.kind {
                AsSegmentType::Sequence => asns,
                AsSegmentType::Set => format!("{{{asns}}}"),
                _ => format!("({asns})"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn neighbor_info(
    config: &Config,
    p: &Peer,
    status: Option<&PeerStatus>,
    queue_depth: usize,
    drained: bool,
) -> api::Neighbor {
    let fams = |v: &[bgp_proto::Family]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let local = api::SideCapabilities {
        hold_time: p.hold_time.secs(),
        families: fams(&p.families),
        add_path: if p.add_path {
            fams(&p.families)
        } else {
            Vec::new()
        },
        graceful_restart: p
            .graceful_restart
            .map(|g| g.restart_time.as_secs().min(4095) as u16),
        route_refresh: true,
        extended_message: true,
    };
    let negotiated = status.and_then(|s| s.negotiated.as_ref());
    let remote = negotiated.map(|n| api::SideCapabilities {
        hold_time: n.peer_hold_time,
        families: fams(&n.families),
        add_path: {
            let mut v = fams(&n.add_path_receive);
            v.extend(
                fams(&n.add_path_send)
                    .into_iter()
                    .map(|f| format!("{f} (receive)")),
            );
            v
        },
        graceful_restart: n.peer_graceful_restart.as_ref().map(|g| g.restart_time),
        route_refresh: n.route_refresh,
        extended_message: n.extended_message,
    });
    let neg = negotiated.map(|n| api::NegotiatedInfo {
        hold_time: n.hold_time,
        keepalive: n.keepalive,
        families: fams(&n.families),
        add_path_send: fams(&n.add_path_send),
        add_path_receive: fams(&n.add_path_receive),
        four_octet_as: n.four_octet_as,
        extended_message: n.extended_message,
        extended_next_hop: fams(&n.extended_next_hop),
        peer_id: n.peer_id.to_string(),
    });
    let last_down = status.and_then(|s| s.last_down.clone());
    let (sent, received) = last_down
        .as_deref()
        .map(|d| (notification_in(d, "sent"), notification_in(d, "received")))
        .unwrap_or((None, None));
    let up = status.is_some_and(|s| s.state == FsmState::Established);
    api::Neighbor {
        name: p.name.clone(),
        address: p.address.to_string(),
        asn: p.asn.0,
        local_asn: config.global.asn.0,
        ibgp: p.ibgp,
        state: match status {
            Some(s) => format!("{:?}", s.state),
            None if drained => "Idle (drained)".into(),
            None => "Idle (stopped)".into(),
        },
        uptime_secs: if up {
            status
                .and_then(|s| s.established_since)
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        } else {
            0
        },
        established_since: status.and_then(|s| s.established_since).map(unix_secs),
        local_address: status.and_then(|s| s.local_address).map(|a| a.to_string()),
        local,
        remote,
        negotiated: neg,
        messages_in: status
            .map(|s| s.counters.messages_in.into())
            .unwrap_or_default(),
        messages_out: status
            .map(|s| s.counters.messages_out.into())
            .unwrap_or_default(),
        prefixes_announced: status.map(|s| s.routes_out).unwrap_or(0),
        prefixes_received: status.map(|s| s.routes_in).unwrap_or(0),
        flaps: status.map(|s| s.flaps).unwrap_or(0),
        last_error: last_down,
        last_notification_sent: sent,
        last_notification_received: received,
        queue_depth,
        drained: status.is_none() && drained,
    }
}

/// The NOTIFICATION sent or received, read from a session-down sentence such as
/// `... (sent NOTIFICATION 6/2), message "text"` or `peer sent NOTIFICATION 6/9 (Cease /
/// Hard Reset) data 06 02 18 ...`. A Hard Reset (RFC 8538 §3) wraps a Cease; its data is
/// the inner code, subcode and, for 6/2 and 6/4, the RFC 9003 length and text.
fn notification_in(sentence: &str, dir: &str) -> Option<api::NotificationInfo> {
    let keys: &[&str] = if dir == "received" {
        &["received NOTIFICATION ", "peer sent NOTIFICATION "]
    } else {
        &["(sent NOTIFICATION ", "we sent NOTIFICATION "]
    };
    let at = keys
        .iter()
        .find_map(|k| sentence.find(k).map(|i| i + k.len()))?;
    let rest = &sentence[at..];
    let mut code: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '/')
        .collect();
    if code.is_empty() {
        return None;
    }
    let mut shutdown_message = None;
    if let Some(d) = rest.find(" data ") {
        let bytes: Vec<u8> = rest[d + 6..]
            .split_whitespace()
            .map_while(|t| u8::from_str_radix(t, 16).ok())
            .collect();
        if code == "6/9" && bytes.len() >= 2 {
            code = format!("6/9 (hard reset of {}/{})", bytes[0], bytes[1]);
            if bytes[0] == 6 && matches!(bytes[1], 2 | 4) && bytes.len() >= 3 {
                let len = usize::from(bytes[2]);
                if let Some(text) = bytes.get(3..3 + len) {
                    shutdown_message = Some(String::from_utf8_lossy(text).into_owned());
                }
            }
        }
    }
    if shutdown_message.is_none() {
        shutdown_message = sentence.find("message \"").and_then(|i| {
            let rest = &sentence[i + 9..];
            rest.rfind('"').map(|j| rest[..j].to_string())
        });
    }
    if shutdown_message.is_none()
        && (code.starts_with("6/2") || code.starts_with("6/4") || code.starts_with("6/9"))
    {
        // "stopped (6/2 (Cease / Administrative Shutdown) "text") (sent NOTIFICATION 6/9)"
        shutdown_message = sentence.split('"').nth(1).map(str::to_string);
    }
    Some(api::NotificationInfo {
        code,
        shutdown_message,
    })
}

// ---------------------------------------------------------------------------------------
// Tasks

async fn run_check(
    shared: std::sync::Weak<Shared>,
    service: String,
    index: usize,
    probe: Probe,
    check: crate::config::HealthCheck,
) {
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::time::sleep_until(next).await;
        next += check.interval;
        let disabled = check.disable_file.as_ref().is_some_and(|f| f.exists());
        let result = if disabled {
            Err("disabled".to_string())
        } else {
            health::run_probe(&probe, check.timeout).await
        };
        let Some(s) = shared.upgrade() else { return };
        s.health_result(&service, index, disabled, result);
        if next < tokio::time::Instant::now() {
            next = tokio::time::Instant::now();
        }
    }
}

async fn watch_statuses(shared: Arc<Shared>, mut map_rx: Statuses) {
    let mut watchers: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    loop {
        let current: BTreeMap<String, watch::Receiver<PeerStatus>> =
            map_rx.borrow_and_update().clone();
        watchers.retain(|name, task| {
            let keep = current.contains_key(name);
            if !keep {
                task.abort();
            }
            keep
        });
        for (name, rx) in current {
            if watchers.contains_key(&name) {
                continue;
            }
            let s = shared.clone();
            let n = name.clone();
            watchers.insert(
                name,
                tokio::spawn(async move {
                    let mut rx = rx;
                    let mut prev = rx.borrow_and_update().clone();
                    s.on_status(&n, None, &prev);
                    while rx.changed().await.is_ok() {
                        let cur = rx.borrow_and_update().clone();
                        s.on_status(&n, Some(&prev), &cur);
                        prev = cur;
                    }
                }),
            );
        }
        if map_rx.changed().await.is_err() {
            break;
        }
    }
    for (_, t) in watchers {
        t.abort();
    }
}

async fn serve_control(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_client(stream, shared.clone()));
            }
            Err(e) => {
                warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_client(stream: UnixStream, shared: Arc<Shared>) {
    let mut framed = Framed::new(
        stream,
        LinesCodec::new_with_max_length(api::MAX_REQUEST_LEN),
    );
    while let Some(line) = framed.next().await {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let _ = send(
                    &mut framed,
                    &Response::error(format!("bad request line: {e}")),
                )
                .await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = match api::parse_request(&line) {
            Ok(r) => r,
            Err(e) => {
                if send(&mut framed, &Response::error(e)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let follow = matches!(request.command, Command::Events { follow: true, .. });
        let mut sub = follow.then(|| shared.events.subscribe());
        let response = shared.handle(request.command).await;
        if send(&mut framed, &response).await.is_err() {
            return;
        }
        if let Some(sub) = sub.as_mut() {
            follow_events(&mut framed, sub).await;
            return;
        }
    }
}

async fn send(framed: &mut Framed<UnixStream, LinesCodec>, response: &Response) -> Result<(), ()> {
    let line = serde_json::to_string(response).map_err(|_| ())?;
    framed.send(line).await.map_err(|_| ())
}

async fn follow_events(
    framed: &mut Framed<UnixStream, LinesCodec>,
    sub: &mut tokio::sync::broadcast::Receiver<api::EventInfo>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            ev = sub.recv() => match ev {
                Ok(event) => {
                    let line = api::EventLine { v: api::API_VERSION, event };
                    let Ok(text) = serde_json::to_string(&line) else { continue };
                    if framed.send(text).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    warn!("control client following events lagged; {n} events skipped");
                }
                Err(RecvError::Closed) => return,
            },
            // The client closing its end (or sending anything) ends the stream.
            _ = framed.next() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_read_from_down_sentences() {
        let s = "session with tor-a (10.0.0.1) down: administrative shutdown (received NOTIFICATION 6/2), message \"bgpd shutting down\"";
        let got = notification_in(s, "received").expect("found");
        assert_eq!(got.code, "6/2");
        assert_eq!(got.shutdown_message.as_deref(), Some("bgpd shutting down"));
        assert!(notification_in(s, "sent").is_none());
        assert_eq!(
            notification_in(
                "session with a down: hold timer expired (sent NOTIFICATION 4/0)",
                "sent"
            )
            .map(|n| (n.code, n.shutdown_message)),
            Some(("4/0".into(), None))
        );
        // Hard Reset wrapping a 6/2 with "bgpd" (RFC 8538).
        let hr = "session with a (127.0.0.2) down: peer sent NOTIFICATION 6/9 (Cease / Hard Reset) data 06 02 04 62 67 70 64";
        let got = notification_in(hr, "received").expect("found");
        assert_eq!(got.code, "6/9 (hard reset of 6/2)");
        assert_eq!(got.shutdown_message.as_deref(), Some("bgpd"));
        let ours = "session with b (127.0.0.3) down: stopped (6/2 (Cease / Administrative Shutdown) \"bye\") (sent NOTIFICATION 6/9)";
        let got = notification_in(ours, "sent").expect("found");
        assert_eq!(got.code, "6/9");
        assert_eq!(got.shutdown_message.as_deref(), Some("bye"));
    }

    fn state_with(toml: &str) -> State {
        let config = Config::parse(toml, "t.toml").expect("valid config");
        let mut health_map = BTreeMap::new();
        for svc in &config.services {
            let Some(check) = svc.health.clone() else {
                continue;
            };
            let targets = health::targets(&check.probe, &svc.nexthops, false)
                .into_iter()
                .map(|target| TargetState {
                    target,
                    machine: Hysteresis::new(check.rise, check.fall),
                    since: SystemTime::now(),
                    last_result: None,
                })
                .collect();
            health_map.insert(
                svc.name.clone(),
                ServiceHealth {
                    check,
                    nexthops: svc.nexthops.clone(),
                    targets,
                    disabled: false,
                    tasks: Vec::new(),
                },
            );
        }
        State {
            config,
            runtime: BTreeMap::new(),
            suppressed: BTreeMap::new(),
            health: health_map,
            drain: DrainPhase::Normal,
            drain_since: SystemTime::now(),
            drain_generation: 0,
            peers: BTreeMap::new(),
            latency: BTreeMap::new(),
            service_since: BTreeMap::new(),
        }
    }

    fn feed(st: &mut State, service: &str, target: usize, ok: bool, times: usize) {
        let h = st.health.get_mut(service).expect("health");
        for _ in 0..times {
            h.targets[target].machine.observe(ok);
        }
    }

    const BASE: &str = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
        [[peers]]\nname = \"tor\"\naddress = \"10.0.0.1\"\nasn = 64500\n\n";

    #[test]
    fn per_nexthop_health_announces_only_healthy_nexthops() {
        let mut st = state_with(&format!(
            "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
             nexthops = [\"10.1.0.1\", \"10.1.0.2\", \"10.1.0.3\"]\n\
             [services.health]\ntype = \"http\"\ntarget = \"http://{{nexthop}}:8080/healthz\"\n\
             rise = 2\nfall = 2\n"
        ));
        assert_eq!(st.health["web"].targets.len(), 3);
        assert!(
            st.effective().is_empty(),
            "nothing announced before a verdict"
        );
        feed(&mut st, "web", 0, true, 2);
        feed(&mut st, "web", 2, true, 2);
        feed(&mut st, "web", 1, false, 2);
        let eff = st.effective();
        assert_eq!(eff.len(), 1);
        // With ADD-PATH the healthy next hops keep their path ids (1 and 3); without it the
        // first healthy one is sent.
        let mut view = PeerView {
            name: "tor".into(),
            local_asn: 64512,
            peer_asn: 64500,
            local_address: "10.0.0.2".parse().expect("a"),
            next_hop_v4: None,
            next_hop_v6: None,
            families: [bgp_proto::Family::IPV4_UNICAST].into_iter().collect(),
            add_path_tx: [bgp_proto::Family::IPV4_UNICAST].into_iter().collect(),
            extended_next_hop: bgp_proto::FamilySet::new(),
        };
        let paths: Vec<(Option<u32>, NextHop)> = announce::routes_for_peer(&eff, &view)
            .0
            .into_iter()
            .map(|(n, r)| (n.path_id, r.next_hop))
            .collect();
        let v4 = |s: &str| NextHop::V4(s.parse().expect("v4"));
        assert_eq!(
            paths,
            vec![(Some(1), v4("10.1.0.1")), (Some(3), v4("10.1.0.3"))]
        );
        view.add_path_tx = bgp_proto::FamilySet::new();
        let (routes, _) = announce::routes_for_peer(&eff, &view);
        assert_eq!(
            routes.values().map(|r| r.next_hop).collect::<Vec<_>>(),
            vec![v4("10.1.0.1")]
        );
        feed(&mut st, "web", 0, false, 2);
        let (routes, _) = announce::routes_for_peer(&st.effective(), &view);
        assert_eq!(
            routes.values().map(|r| r.next_hop).collect::<Vec<_>>(),
            vec![v4("10.1.0.3")],
            "without ADD-PATH the first healthy next hop"
        );
        feed(&mut st, "web", 0, false, 2);
        feed(&mut st, "web", 2, false, 2);
        let svc = st.config.services[0].clone();
        match st.verdict(&svc, "config") {
            Verdict::Withheld(why) => assert!(why.contains("health check failing"), "{why}"),
            other => panic!("expected a withdraw, got {other:?}"),
        }
    }

    #[test]
    fn demotion_disable_file_suppression_runtime_and_drain() {
        let mut st = state_with(&format!(
            "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nmed = 10\n\
             communities = [\"64512:1\"]\n\
             [services.health]\ntype = \"exec\"\ncommand = [\"/bin/check\"]\nrise = 1\nfall = 1\n\
             on_fail = \"demote\"\n[services.health.demote]\nmed = 1000\n\
             communities = [\"64512:666\"]\nas_path_prepend = 3\n\n\
             [[services]]\nname = \"api\"\nprefix = \"192.0.2.11/32\"\n"
        ));
        // Failing (and before any verdict): announced, demoted.
        let eff = st.effective();
        assert_eq!(eff.len(), 2);
        assert_eq!(eff[0].med, Some(1000));
        assert_eq!(eff[0].as_path_prepend, 3);
        assert_eq!(
            eff[0].communities,
            vec![Community::new(64512, 1), Community::new(64512, 666)]
        );
        feed(&mut st, "web", 0, true, 1);
        assert_eq!(
            st.effective()[0].med,
            Some(10),
            "healthy: configured attributes"
        );
        // The disable file withdraws even a demoting service.
        if let Some(h) = st.health.get_mut("web") {
            h.disabled = true;
        }
        assert_eq!(st.effective().len(), 1);
        if let Some(h) = st.health.get_mut("web") {
            h.disabled = false;
        }
        // bgpctl withdraw of a configured service, then a runtime service replacing one.
        let api: IpNet = "192.0.2.11/32".parse().expect("p");
        st.suppressed.insert(api, SystemTime::now());
        assert_eq!(st.effective().len(), 1);
        st.suppressed.clear();
        let args = api::AnnounceArgs {
            prefix: "192.0.2.11/32".into(),
            med: Some(7),
            ..api::AnnounceArgs::default()
        };
        let rt = runtime_service(&args, &st.config).expect("runtime service");
        st.runtime.insert(api, RuntimeService { service: rt });
        let eff = st.effective();
        assert_eq!(eff.len(), 2);
        assert_eq!(
            eff[1].med,
            Some(7),
            "the runtime service replaces the configured one"
        );
        // Drain: GRACEFUL_SHUTDOWN and LOCAL_PREF 0 (RFC 8326 §4), then nothing.
        st.drain = DrainPhase::Draining {
            until: Instant::now() + Duration::from_secs(60),
        };
        for svc in st.effective() {
            assert!(svc.communities.contains(&Community::GRACEFUL_SHUTDOWN));
            assert_eq!(svc.local_pref, Some(0));
        }
        st.drain = DrainPhase::Drained;
        assert!(st.effective().is_empty());
    }

    #[test]
    fn runtime_services_are_validated() {
        let st = state_with(BASE);
        let bad =
            |args: api::AnnounceArgs| runtime_service(&args, &st.config).expect_err("invalid");
        let base = api::AnnounceArgs {
            prefix: "192.0.2.1/32".into(),
            ..api::AnnounceArgs::default()
        };
        assert!(bad(api::AnnounceArgs {
            nexthops: vec!["2001:db8::1".into()],
            ..base.clone()
        })
        .contains("family"));
        assert!(bad(api::AnnounceArgs {
            communities: vec!["x".into()],
            ..base.clone()
        })
        .contains('x'));
        assert!(bad(api::AnnounceArgs {
            peers: vec!["nope".into()],
            ..base.clone()
        })
        .contains("nope"));
        let ok = runtime_service(&base, &st.config).expect("valid");
        assert_eq!(ok.nexthops, vec![NextHopSpec::Local]);
    }

    #[test]
    fn prefixes_must_be_canonical() {
        assert_eq!(
            parse_prefix("192.0.2.10/32"),
            Ok("192.0.2.10/32".parse().expect("p"))
        );
        assert_eq!(
            parse_prefix("192.0.2.10"),
            Ok("192.0.2.10/32".parse().expect("p"))
        );
        assert!(parse_prefix("192.0.2.10/24").is_err_and(|e| e.contains("192.0.2.0/24")));
        assert!(parse_prefix("nope").is_err());
    }
}
