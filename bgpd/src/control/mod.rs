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
//! Data flows one way: Ops decides what should be announced and stamps each decision
//! ([`crate::announce::Decision`]: generation, trigger, `decided_at`); each peer task computes
//! its diff once, applies it and publishes what it applied in its `PeerStatus`
//! ([`crate::status::Applied`]). Ops reads those facts for the event timeline, the metrics and
//! the latency histogram (`written_at - decided_at`, from a desired change to its UPDATEs
//! written to the socket); it computes no routes itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::State as FsmState;
use bgp_proto::{NextHop, Nlri, Notification, Origin, PathAttributes};
use futures::{SinkExt, StreamExt};
use ipnet::IpNet;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{Framed, LinesCodec};
use tracing::{error, info, warn};

use crate::announce::policy::{self, DrainStep, HealthInput, Source, Verdict};
use crate::announce::{
    self, Announcements, Cause, Decision, RuntimeMode, RuntimeSpec, RuntimeTable, Trigger,
};
use crate::api::{self, Command, Response};
use crate::config::{Config, NextHopSpec, Peer, PeerSelection, Probe, Service};
use crate::events::{plural, unix_secs, EventLog, Kind};
use crate::health::{self, Health, Hysteresis, Target};
use crate::metrics::{Histogram, TextWriter};
use crate::status::PeerStatus;

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
    /// `bgpctl neighbor NAME shutdown`: close with this Cease 6/2 and keep the peer down
    /// (across reloads and restarts) until [`DaemonCommand::Enable`].
    Shutdown {
        /// The peer's name.
        peer: String,
        /// The Cease to send, with the Shutdown Communication (RFC 9003).
        notification: Notification,
    },
    /// `bgpctl neighbor NAME enable`.
    Enable {
        /// The peer's name.
        peer: String,
    },
    /// `bgpctl neighbor NAME reset`: close with this NOTIFICATION and start again.
    Reset {
        /// The peer's name.
        peer: String,
        /// The Cease to send (6/4 Administrative Reset, or 6/9 Hard Reset per RFC 8538).
        notification: Notification,
    },
    /// `bgpctl neighbor NAME refresh`: route refresh in, routes sent again out.
    Refresh {
        /// The peer's name.
        peer: String,
    },
    /// A copy of `peer`'s Adj-RIB-In (`received`) or Adj-RIB-Out; `None` for a peer that
    /// is not running.
    AdjRib {
        /// The peer's name.
        peer: String,
        /// The Adj-RIB-In instead of the Adj-RIB-Out.
        received: bool,
        /// Where the copy goes.
        reply: oneshot::Sender<Option<Vec<bgp_fsm::Route>>>,
    },
    /// A snapshot of the Loc-RIB: `prefix`, or every prefix.
    LocRib {
        /// Only this prefix.
        prefix: Option<IpNet>,
        /// Where the snapshot goes.
        reply: oneshot::Sender<Vec<api::LocRibEntry>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DrainPhase {
    Normal,
    Draining { until: Instant },
    Drained,
}

/// What Ops has read of one peer's status.
#[derive(Default)]
struct PeerOps {
    /// The last generation whose applied change was turned into events and latency.
    seen: u64,
}

struct State {
    config: Config,
    /// Runtime services (`bgpctl announce`), shared with [`State::last`] and the peers.
    runtime: Arc<RuntimeTable>,
    /// What the peers were last told to announce ([`Ops::services`]).
    last: Arc<Announcements>,
    /// Configured prefixes withdrawn with `bgpctl withdraw`.
    suppressed: BTreeMap<IpNet, SystemTime>,
    health: BTreeMap<String, ServiceHealth>,
    drain: DrainPhase,
    drain_since: SystemTime,
    drain_generation: u64,
    peers: BTreeMap<String, PeerOps>,
    /// The generation of the last decision ([`Shared::routes_changed`]).
    generation: u64,
    latency: BTreeMap<Cause, Histogram>,
    /// Per configured service: a hash of the last state string and since when (a hash, not
    /// the string: a file may hold 100k services, nearly all "announced").
    service_since: since::ServiceSince,
    /// When the daemon started (End-of-RIB deferral, restart.rs).
    started: Instant,
    /// `bgpctl sync begin` holds End-of-RIB until this time or `sync end`.
    sync_until: Option<Instant>,
    /// Health verdicts from the state file, taken by the first check of each target.
    restored_health: HashMap<(String, String), bool>,
    /// Peers shut down by `bgpctl neighbor NAME shutdown`, with the message (kept in the
    /// state file: down across restarts until `enable`).
    admin_down: BTreeMap<String, String>,
    /// Peers drained one by one (`bgpctl neighbor NAME drain`).
    drained_peers: Arc<std::collections::BTreeSet<String>>,
}

struct Shared {
    state: Mutex<State>,
    events: EventLog,
    tx: mpsc::UnboundedSender<DaemonCommand>,
    statuses: Mutex<Option<Statuses>>,
    /// The BFD sessions (issue 12), once attached.
    bfd: Mutex<Option<crate::bfd::BfdView>>,
    /// The kernel FIB thread (issue 16), once attached: `bgpctl fib` and its metrics.
    fib: Mutex<Option<crate::fib::task::FibHandle>>,
    started: Instant,
    /// Saves runtime state in `global.state_dir` (`None` only in unit tests).
    writer: Option<crate::statefile::Writer>,
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
        // Issue 13: the state file first, so the first UPDATE already carries what it holds.
        let (writer, restored) = restart::open(config);
        let started = Instant::now();
        let state = State {
            config: config.clone(),
            runtime: Arc::new(restored.runtime),
            last: Arc::default(),
            suppressed: restored.suppressed,
            health: BTreeMap::new(),
            drain: DrainPhase::Normal,
            drain_since: SystemTime::now(),
            drain_generation: 0,
            peers: BTreeMap::new(),
            generation: 0,
            latency: BTreeMap::new(),
            service_since: since::ServiceSince::default(),
            started,
            sync_until: None,
            restored_health: restored.health,
            admin_down: restored.admin_down,
            drained_peers: Arc::new(restored.drained_peers),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            events: EventLog::new(crate::events::DEFAULT_CAPACITY),
            tx,
            statuses: Mutex::new(None),
            bfd: Mutex::new(None),
            fib: Mutex::new(None),
            started,
            writer: Some(writer),
        });
        let mut ops = Ops {
            shared: shared.clone(),
            commands: Some(rx),
            tasks: Vec::new(),
            socket: None,
        };
        shared.reconcile_health();
        {
            let mut st = shared.lock();
            st.restored_health.clear();
            let mut first = st.effective();
            first.decision = Some(Decision {
                generation: 0,
                trigger: Trigger::Start,
                decided_at: Instant::now(),
            });
            st.last = Arc::new(first);
        }
        shared.record_service_states();
        // Whatever is still unknown when the deferral time is over, End-of-RIB goes out.
        let deferral = config.global.deferral();
        let weak = Arc::downgrade(&shared);
        ops.tasks.push(tokio::spawn(async move {
            tokio::time::sleep(deferral).await;
            if let Some(s) = weak.upgrade() {
                s.readiness_changed();
            }
        }));

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

    /// Serves `bgpctl fib` and the `bgpd_fib_*` metrics from the FIB thread.
    pub fn attach_fib(&self, fib: crate::fib::task::FibHandle) {
        let weak = Arc::downgrade(&self.shared);
        fib.set_events(Arc::new(move |sentence: String, logged: bool| {
            match weak.upgrade() {
                Some(shared) if logged => {
                    shared
                        .events
                        .record_unlogged(Kind::Fib, None, None, sentence)
                }
                Some(shared) => shared.events.record(Kind::Fib, None, None, sentence),
                None if logged => {}
                None => info!("{sentence}"),
            }
        }));
        if let Ok(mut f) = self.shared.fib.lock() {
            *f = Some(fib);
        }
    }

    /// Peers the operator shut down (restored from the state file at start), with their
    /// messages: the daemon starts them shut down.
    pub fn admin_down(&self) -> BTreeMap<String, String> {
        self.shared.lock().admin_down.clone()
    }

    /// The daemon's end of the command channel (taken once).
    pub fn take_commands(&mut self) -> mpsc::UnboundedReceiver<DaemonCommand> {
        self.commands
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1)
    }

    /// The services to hand to the peer tasks now.
    pub fn services(&self) -> Arc<Announcements> {
        self.shared.lock().last.clone()
    }

    /// A reload applied `config`: health checks follow it; returns the services to send.
    pub fn set_config(&self, config: &Config) -> Arc<Announcements> {
        {
            let mut st = self.shared.lock();
            if !Arc::ptr_eq(&st.config.services, &config.services) {
                let old = st.config.services.clone();
                st.service_since.remap(&old, &config.services);
            }
            st.config = config.clone();
        }
        self.shared.reconcile_health();
        self.shared
            .events
            .record(Kind::Reload, None, None, "configuration reloaded".into());
        self.shared.routes_changed(Trigger::Reload);
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
                    format!(" (and {more} more error{})", plural(more))
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
        self.shared.routes_changed(Trigger::Drain);
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
        self.shared.routes_changed(Trigger::Drain);
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

    /// The desired routes may have changed: decide anew. When the routes differ, the
    /// decision is stamped (next generation, `trigger`, now) and the daemon hands it to the
    /// peer tasks; each computes its own diff and reports what it applied
    /// ([`crate::status::Applied`]), from which [`Shared::on_status`] makes the events and the
    /// latency. Returns the generation to wait for, `None` when no route changes.
    fn routes_changed(&self, trigger: Trigger) -> Option<u64> {
        let (generation, resync) = {
            let mut st = self.lock();
            let mut services = st.effective();
            if services.same_routes(&st.last) {
                // End-of-RIB readiness may still have moved.
                let resync = services.complete != st.last.complete;
                if resync {
                    services.decision = st.last.decision.clone();
                    st.last = Arc::new(services);
                }
                (None, resync)
            } else {
                st.generation += 1;
                services.decision = Some(Decision {
                    generation: st.generation,
                    trigger,
                    decided_at: Instant::now(),
                });
                st.last = Arc::new(services);
                (Some(st.generation), true)
            }
        };
        self.record_service_states();
        if resync {
            let _ = self.tx.send(DaemonCommand::Resync);
        }
        generation
    }

    /// The peers whose routes changed with `generation` (or a later decision), once every
    /// Established peer applied it (waiting at most [`APPLY_WAIT`]).
    pub(super) async fn applied_peers(&self, generation: Option<u64>) -> Vec<String> {
        let Some(generation) = generation else {
            return Vec::new();
        };
        let Some(map) = self.statuses.lock().ok().and_then(|s| s.clone()) else {
            return Vec::new();
        };
        let receivers: Vec<(String, watch::Receiver<PeerStatus>)> = map
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let deadline = tokio::time::Instant::now() + APPLY_WAIT;
        let mut out = Vec::new();
        for (name, mut rx) in receivers {
            let done = |s: &PeerStatus| {
                s.state != FsmState::Established || s.applied_generation() >= generation
            };
            let changed = match tokio::time::timeout_at(deadline, rx.wait_for(done)).await {
                Ok(Ok(s)) => s
                    .applied
                    .iter()
                    .any(|a| a.decision.generation >= generation && !a.summary.is_empty()),
                _ => false,
            };
            if changed {
                out.push(name);
            }
        }
        out
    }

    /// Remembers when each configured service's state string changed. Runtime services
    /// change state only with the drain phase, so theirs is derived ([`State::since`]).
    fn record_service_states(&self) {
        let mut st = self.lock();
        let now = SystemTime::now();
        let changed: Vec<(usize, u64)> = st
            .config
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| st.is_configured(s))
            .filter_map(|(i, svc)| {
                let state = st.verdict(svc, Source::Config).state_key();
                (st.service_since.state(i) != Some(state)).then_some((i, state))
            })
            .collect();
        let n = st.config.services.len();
        st.service_since.fit(n);
        for (i, state) in changed {
            st.service_since.set(i, state, now);
        }
    }

    /// A peer's status changed (from its watch channel).
    fn on_status(&self, name: &str, prev: Option<&PeerStatus>, cur: &PeerStatus) {
        let was_up = prev.is_some_and(|p| p.state == FsmState::Established);
        let is_up = cur.state == FsmState::Established;
        let mut events: Vec<(Kind, String)> = Vec::new();
        let mut applied: Vec<(Kind, String)> = Vec::new();
        {
            let mut st = self.lock();
            let State { peers, latency, .. } = &mut *st;
            let po = peers.entry(name.to_string()).or_default();
            if prev.is_none() {
                // Changes applied before this watcher started are not its to report.
                po.seen = cur.applied_generation();
            }
            if is_up && !was_up {
                let n = cur.routes_desired;
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
                        plural(n)
                    ),
                ));
            }
            // What the peer task applied since last time, as it reported it.
            for a in cur.applied.iter() {
                if a.decision.generation <= po.seen {
                    continue;
                }
                if a.summary.is_empty() {
                    continue;
                }
                latency
                    .entry(a.decision.trigger.cause())
                    .or_default()
                    .observe(a.latency());
                let why = &a.decision.trigger;
                if let Some(announced) = a.summary.announced_prefixes.describe() {
                    applied.push((
                        Kind::Announce,
                        format!("announced {announced} to {name} ({why})"),
                    ));
                }
                if let Some(withdrawn) = a.summary.withdrawn_prefixes.describe() {
                    applied.push((
                        Kind::Withdraw,
                        format!("withdrew {withdrawn} from {name} ({why})"),
                    ));
                }
            }
            po.seen = po.seen.max(cur.applied_generation());
        }
        // The peer task bumps `flaps` and sets `last_down` together when an Established
        // session goes down; a failed attempt changes only `last_down`.
        if let Some(p) = prev {
            let has_notification = cur
                .last_down
                .as_ref()
                .is_some_and(|d| d.reason.sent.is_some() || d.reason.received.is_some());
            let sentence = cur.last_down.as_ref().map(|d| d.sentence.clone());
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
        for (kind, msg) in applied {
            self.events.record(kind, Some(name), None, msg);
        }
    }
}

/// How long an API change waits for the Established peers to apply it before answering
/// ([`Shared::applied_peers`]).
const APPLY_WAIT: Duration = Duration::from_secs(3);

mod bfd;
mod checks;
mod explain;
mod metrics;
mod neighbor_ops;
mod requests;
mod restart;
mod since;
mod state;
mod tasks;
#[cfg(test)]
mod tests;

use bfd::bfd_info;
use checks::ServiceHealth;
use state::*;
use tasks::*;
