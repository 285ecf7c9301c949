//! One tokio task per peer: the thin driver around a [`bgp_fsm::Neighbor`].
//!
//! The task owns the neighbor (its sessions and connection policy), the framed sockets (at
//! most two: `peer/socket.rs`), one `sleep_until` for the earliest timer deadline
//! ([`Neighbor::next_timeout`]), and a command channel. It `select!`s on socket reads and
//! writes, the timer, a connect attempt in progress and commands, feeds the neighbor the
//! matching events and carries out the returned [`Output`]s in order (`peer/driver.rs`). It makes
//! no protocol decisions: what to send, when to close, which connection to accept or refuse
//! and which one survives a collision (RFC 4271 §6.8), when routes are loaded and what a
//! message means are the neighbor's and its sessions'.
//!
//! Driving contract (bgp-fsm `Neighbor` docs): `Connect` starts one connect attempt, whose
//! outcome comes back through `Neighbor::connected` / `connect_failed`; `Send` bytes are
//! queued and written in order; `Close` writes what is queued (bounded by
//! [`CLOSE_FLUSH_TIMEOUT`]) and drops the socket, `Abandon` does so on its own task (a
//! collision loser must not delay the survivor); `LoadRoutes` computes this peer's routes
//! ([`crate::announce`]) and hands them to the session. RFC 9687 send hold: when the socket
//! does not take all queued bytes the session is told `SendBlocked`, and `SendProgress` as
//! they drain.
//!
//! A panic inside the task is caught, logged, and the task restarts with a fresh session:
//! one misbehaving peer never affects another (no locks are shared between peer tasks).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::{Admin, ConnId, DownReason, Event, Negotiated, Neighbor, Output, Route, State};
use bgp_proto::{Nlri, Notification};
use futures::FutureExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn, Instrument};

mod driver;
mod query;
mod settings;
mod socket;

pub use query::fill_as_paths;
pub use settings::{session_config, transport_options};

use self::socket::{close_conn, Conn, ConnectFuture};
use self::socket::{poll_connect, read_frame, rib_room_again, sleep_until, split_conn, write_some};
use crate::announce::{self, Announcements, ChangeSummary, PeerView, Warning};
use crate::config::{Global, Peer};
use crate::locrib::{RibHandle, RibInput};
use crate::status::{Applied, PeerStatus};

/// Route changes at least this large hand the memory their computation freed back to the
/// kernel ([`crate::memory::release_freed_memory`]).
const LARGE_CHANGE: usize = 10_000;

/// NLRI in the first piece when a large change goes to an established session: each piece is
/// encoded and written before the next is made, so the router works on the first UPDATEs
/// (about 35) while bgpd encodes the rest. Later pieces are as large as the Adj-RIB-Out.
const ANNOUNCE_PIECE: usize = 16_384;

/// How long `Close` may spend writing queued bytes (a final NOTIFICATION) before the socket
/// is dropped anyway.
pub const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Commands from the daemon to a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// The services changed (reload): recompute this peer's routes and send the difference
    /// on the live session, without resetting it.
    Services(Arc<Announcements>),
    /// The peer's settings changed in keys that need no reset (see
    /// [`crate::diff::PeerChange::live`]): use them from now on. Next hops for "self", the
    /// shutdown message, `import` and `allow_own_as` (`Event::SetImport`) apply at once;
    /// values the session negotiated or was built with (`max_prefixes`, `idle_hold_time`,
    /// ...) apply from the next session.
    Settings(Arc<Peer>),
    /// The peer connected to one of our listeners.
    Inbound(TcpStream),
    /// Stop the session with `notification` (sent if a connection exists) and end the task.
    /// `done` is answered once the NOTIFICATION was written and the socket closed.
    Stop {
        /// The NOTIFICATION to send.
        notification: Notification,
        /// Answered once the socket is closed.
        done: oneshot::Sender<()>,
    },
    /// Reset the session: close it with `notification` (e.g. Cease 6/4, Administrative
    /// Reset) and start again after the IdleHoldTime (AutomaticStop, RFC 4271 Event 8).
    Reset(Notification),
    /// Operator shutdown of this peer (`bgpctl neighbor NAME shutdown`): close with this
    /// NOTIFICATION (Cease 6/2, RFC 9003 text) and stay Idle, refusing its connections, until
    /// [`PeerCommand::Enable`].
    Shutdown(Notification),
    /// End an operator shutdown: start the session again.
    Enable,
    /// Soft refresh: ask the peer to send its routes again (ROUTE-REFRESH, RFC 2918) and send
    /// ours again, for every negotiated family.
    Refresh,
    /// A copy of the Adj-RIB-In (received routes, within `max_prefixes`).
    AdjRibIn(oneshot::Sender<Vec<Route>>),
    /// A copy of the Adj-RIB-Out (routes announced, or to be announced once Established).
    AdjRibOut(oneshot::Sender<Vec<Route>>),
    /// The received routes for these NLRI (`None` where there is none), in order: the
    /// Loc-RIB keeps only decision keys and reads the attributes it displays from here.
    ReceivedRoutes(Vec<Nlri>, oneshot::Sender<Vec<Option<Route>>>),
}

/// The daemon's side of a peer task.
#[derive(Debug)]
pub struct PeerHandle {
    /// The peer's configuration in force.
    pub peer: Arc<Peer>,
    /// The task's command queue.
    pub commands: mpsc::Sender<PeerCommand>,
    /// The task's status snapshots.
    pub status: watch::Receiver<PeerStatus>,
    /// The task itself.
    pub task: JoinHandle<()>,
}

impl PeerHandle {
    /// Stops the peer with `notification` and waits (at most `timeout`) until it is closed.
    pub async fn stop(self, notification: Notification, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        if self
            .commands
            .send(PeerCommand::Stop { notification, done })
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(timeout, wait).await;
        }
        self.task.abort();
    }
}

/// Starts the task for `peer`.
pub fn spawn(global: Arc<Global>, peer: Arc<Peer>, services: Arc<Announcements>) -> PeerHandle {
    spawn_with(global, peer, services, None, None, None)
}

/// [`spawn`] for a peer that stays shut down (`admin_down`: the operator's message) until
/// [`PeerCommand::Enable`]. Received routes and session transitions go to `rib`;
/// `link` is where an unnumbered peer's neighbor is learned ([`crate::unnumbered`]).
pub fn spawn_with(
    global: Arc<Global>,
    peer: Arc<Peer>,
    services: Arc<Announcements>,
    admin_down: Option<String>,
    rib: Option<RibHandle>,
    link: Option<crate::unnumbered::LinkNeighbor>,
) -> PeerHandle {
    let (tx, rx) = mpsc::channel(64);
    let initial = PeerStatus::idle(
        peer.name.clone(),
        peer.address,
        peer.asn.0,
        link.as_ref().map(crate::unnumbered::LinkNeighbor::stats),
    );
    let (status_tx, status_rx) = watch::channel(initial);
    let span = tracing::info_span!(
        "peer",
        name = %peer.name,
        address = %peer.address,
        asn = peer.asn.0
    );
    let task_peer = peer.clone();
    let task = tokio::spawn(
        async move {
            // Shut down: never started, it waits for `Enable`.
            let admin = if admin_down.is_some() {
                Admin::Shutdown
            } else {
                Admin::Enabled
            };
            let mut task = PeerTask::new(global, task_peer, services, rx, status_tx, admin);
            task.rib = rib;
            task.link = link;
            loop {
                match AssertUnwindSafe(task.run()).catch_unwind().await {
                    Ok(()) => break,
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into());
                        error!(
                            "peer task for {} failed ({what}); restarting it with a fresh session",
                            task.label()
                        );
                        task.reset_after_failure();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
        .instrument(span),
    );
    PeerHandle {
        peer,
        commands: tx,
        status: status_rx,
        task,
    }
}

struct PeerTask {
    global: Arc<Global>,
    peer: Arc<Peer>,
    services: Arc<Announcements>,
    rx: mpsc::Receiver<PeerCommand>,
    status: watch::Sender<PeerStatus>,
    /// The sessions and the connection policy (bgp-fsm): this task carries out its outputs.
    neighbor: Neighbor,
    /// The open connections (at most the neighbor's two).
    conns: Vec<Conn>,
    connecting: Option<ConnectFuture>,
    warned: HashSet<Warning>,
    /// RFC 7606 outcomes already logged in this session (attribute type, reason).
    logged_errors: HashSet<(u8, &'static str)>,
    /// When the Adj-RIB-In has shrunk enough to hand memory back ([`Self::release_rib_in`]).
    rib_in_shrink: crate::memory::Shrink,
    /// "announced N prefixes" for routes loaded before Established.
    deferred_log: Option<String>,
    started: bool,
    seed: u64,
    /// The Loc-RIB owner ([`crate::locrib`]): received routes and session losses go there.
    rib: Option<RibHandle>,
    /// An unnumbered peer's link: where its neighbor's address comes from.
    link: Option<crate::unnumbered::LinkNeighbor>,
}

impl PeerTask {
    fn new(
        global: Arc<Global>,
        peer: Arc<Peer>,
        services: Arc<Announcements>,
        rx: mpsc::Receiver<PeerCommand>,
        status: watch::Sender<PeerStatus>,
        admin: Admin,
    ) -> PeerTask {
        let seed = seed_for(&peer);
        let neighbor = Neighbor::new(session_config(&global, &peer), seed, admin);
        PeerTask {
            global,
            peer,
            services,
            rx,
            status,
            neighbor,
            conns: Vec::new(),
            connecting: None,
            warned: HashSet::new(),
            logged_errors: HashSet::new(),
            rib_in_shrink: crate::memory::Shrink::default(),
            deferred_log: None,
            // A peer shut down at start is never started: it waits for `Enable`.
            started: admin == Admin::Shutdown,
            seed,
            rib: None,
            link: None,
        }
    }

    fn label(&self) -> String {
        label(&self.peer)
    }

    fn rib_send(&self, input: RibInput) {
        if let Some(rib) = &self.rib {
            rib.send(input);
        }
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn take_conn(&mut self, id: ConnId) -> Option<Conn> {
        let at = self.conns.iter().position(|c| c.id == id)?;
        Some(self.conns.swap_remove(at))
    }

    /// The current session's connection.
    fn main_conn(&self) -> Option<&Conn> {
        let id = self.neighbor.conn()?;
        self.conns.iter().find(|c| c.id == id)
    }

    /// After a panic: drop every connection and start over with a new session.
    fn reset_after_failure(&mut self) {
        self.seed = self.seed.wrapping_add(1);
        // A peer the operator shut down stays down.
        let admin = if self.neighbor.is_admin_down() {
            Admin::Shutdown
        } else {
            Admin::Enabled
        };
        let cfg = session_config(&self.global, &self.peer);
        self.neighbor = Neighbor::new(cfg, self.seed, admin);
        self.conns.clear();
        self.connecting = None;
        self.rib_send(RibInput::Down {
            peer: self.peer.name.clone(),
            kept: Vec::new(),
        });
        self.deferred_log = None;
        self.started = admin == Admin::Shutdown;
        self.publish(None);
    }

    async fn run(&mut self) {
        if !self.started {
            self.started = true;
            let outputs = self.neighbor.start(Instant::now());
            self.carry_out(outputs).await;
            // The state the start led to (Connect, Active), not Idle until the first event.
            self.publish(None);
        }
        loop {
            let deadline = self.neighbor.next_timeout();
            let ids = [0, 1].map(|i| self.conns.get(i).map(|c| c.id));
            let mut conns = self.conns.iter_mut();
            let (first_reader, first_writer) = split_conn(conns.next());
            let (second_reader, second_writer) = split_conn(conns.next());
            let first_writes = first_writer.as_ref().is_some_and(|w| !w.queue.is_empty());
            // Backpressure from the Loc-RIB: while too many received routes wait for it,
            // the sockets are not read (the peer is held back by TCP); timers, writes and
            // commands go on, so keepalives still leave (locrib::RIB_IN_FLIGHT).
            let rib_room = self.rib.as_ref().is_none_or(RibHandle::has_room);
            let second_writes = second_writer.as_ref().is_some_and(|w| !w.queue.is_empty());
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => {
                        if self.on_command(cmd).await {
                            return;
                        }
                    }
                    None => {
                        // The daemon is gone: close politely (Peer De-configured).
                        self.stop(Notification::cease(3, None)).await;
                        return;
                    }
                },
                frame = read_frame(first_reader), if rib_room => {
                    self.on_frame(ids[0], frame).await;
                }
                frame = read_frame(second_reader), if rib_room => {
                    self.on_frame(ids[1], frame).await;
                }
                () = rib_room_again(self.rib.as_ref()), if !rib_room => {}
                res = write_some(first_writer), if first_writes => {
                    self.on_written(ids[0], res).await;
                }
                res = write_some(second_writer), if second_writes => {
                    self.on_written(ids[1], res).await;
                }
                addr = crate::unnumbered::changed(self.link.as_mut()) => {
                    self.on_neighbor(addr).await;
                }
                res = poll_connect(&mut self.connecting) => {
                    self.connecting = None;
                    self.on_connected(res).await;
                }
                () = sleep_until(deadline) => {
                    let outputs = self.neighbor.handle_timeout(Instant::now());
                    self.carry_out(outputs).await;
                }
            }
            self.publish(None);
        }
    }

    /// Returns true when the task must end.
    async fn on_command(&mut self, cmd: PeerCommand) -> bool {
        match cmd {
            PeerCommand::Services(services) => {
                self.services = services;
                self.sync_routes().await;
                self.feed_routes_complete().await;
                false
            }
            PeerCommand::Settings(peer) => {
                self.peer = peer;
                // For sessions built from now on (the current one keeps its own).
                self.neighbor
                    .set_config(session_config(&self.global, &self.peer));
                self.apply_import().await;
                self.sync_routes().await;
                false
            }
            PeerCommand::Inbound(stream) => {
                self.on_inbound(stream).await;
                false
            }
            PeerCommand::Stop { notification, done } => {
                self.stop(notification).await;
                let _ = done.send(());
                true
            }
            PeerCommand::Reset(notification) => {
                info!(
                    "resetting the session with {} ({notification})",
                    self.label()
                );
                let outputs = self.neighbor.reset(Instant::now(), notification);
                self.carry_out(outputs).await;
                false
            }
            PeerCommand::Shutdown(notification) => {
                info!(
                    "shutting down the session with {} by operator request ({notification})",
                    self.label()
                );
                let outputs = self.neighbor.shutdown(Instant::now(), notification);
                self.carry_out(outputs).await;
                false
            }
            PeerCommand::Enable => {
                if self.neighbor.is_admin_down() {
                    info!("enabling the session with {} again", self.label());
                    let outputs = self.neighbor.enable(Instant::now());
                    self.carry_out(outputs).await;
                }
                false
            }
            PeerCommand::Refresh => {
                let families: Vec<bgp_proto::Family> = self
                    .neighbor
                    .session()
                    .negotiated()
                    .map(|n| n.families.clone())
                    .unwrap_or_default();
                info!(
                    "soft refresh with {}: route refresh requested and routes sent again",
                    self.label()
                );
                for f in families {
                    self.feed(Event::RequestRefresh(f)).await;
                    self.feed(Event::ResendRoutes(f)).await;
                }
                false
            }
            PeerCommand::AdjRibIn(reply) => {
                let _ = reply.send(self.neighbor.session().adj_rib_in().iter().collect());
                false
            }
            PeerCommand::ReceivedRoutes(nlri, reply) => {
                let rib_in = self.neighbor.session().adj_rib_in();
                let _ = reply.send(nlri.iter().map(|n| rib_in.get(n)).collect());
                false
            }
            PeerCommand::AdjRibOut(reply) => {
                let _ = reply.send(self.neighbor.session().adj_rib_out().iter().collect());
                false
            }
        }
    }

    async fn stop(&mut self, notification: Notification) {
        let outputs = self.neighbor.stop(Instant::now(), notification);
        self.carry_out(outputs).await;
        self.connecting = None;
        for conn in std::mem::take(&mut self.conns) {
            close_conn(conn).await;
        }
        self.publish(None);
    }

    /// Computes this peer's routes for the current session and hands them to it.
    fn route_actions(&mut self) -> Option<Vec<Output>> {
        let (diff, _) = self.compute_diff(false)?;
        let mut actions = self.apply_diff(diff);
        if self.services.complete {
            // Known before Established: End-of-RIB follows the first table at once.
            let complete = self.neighbor.handle(Instant::now(), Event::RoutesComplete);
            actions.extend(complete);
        }
        Some(actions)
    }

    /// Every route is known (`Announcements::complete`): a session holding End-of-RIB back
    /// after the restart sends it now (RFC 4724 §4.1, issue 13).
    async fn feed_routes_complete(&mut self) {
        if !self.services.complete {
            return;
        }
        let pending = self.neighbor.session().end_of_rib_pending();
        self.feed(Event::RoutesComplete).await;
        if pending && !self.neighbor.session().end_of_rib_pending() {
            info!("sent End-of-RIB to {}: every route is known", self.label());
        }
    }

    /// After a services change: send the difference to the current session, and publish
    /// what was applied with the decision it came from ([`Applied`]). Routes not loaded yet
    /// (before OpenConfirm) are computed from the new services when they are.
    async fn sync_routes(&mut self) {
        if !self.neighbor.routes_loaded() {
            return;
        }
        if let Some((diff, summary)) = self.compute_diff(true) {
            let large = diff.announced_count() + diff.withdraw.len() >= LARGE_CHANGE;
            self.send_diff(diff).await;
            let written_at = Instant::now();
            let decision = self.services.decision.clone();
            let established = self.neighbor.session().state() == State::Established;
            self.status.send_modify(|s| {
                s.unsent_nlri = 0;
                if let (Some(decision), true) = (decision, established) {
                    s.push_applied(Applied {
                        decision,
                        summary,
                        written_at,
                    });
                }
            });
            if large {
                // The computation's temporary copies (several MB for 100k routes) are free
                // now; hand them back rather than keep RSS at the peak.
                crate::memory::release_freed_memory();
            }
        }
    }

    /// The one route computation of a change: this peer's routes from the current services
    /// and session, and the diff from its Adj-RIB-Out (with its summary when `summarize`).
    fn compute_diff(&mut self, summarize: bool) -> Option<(announce::Diff, ChangeSummary)> {
        let negotiated = self.neighbor.session().negotiated()?;
        let local = self.main_conn().and_then(|c| c.local)?;
        let view = PeerView::new(
            &self.peer,
            &self.global,
            local.ip(),
            negotiated,
            crate::link::global_ipv6_of,
        );
        let (routes, warnings) = announce::routes_for(&self.services, &view);
        for w in warnings {
            if self.warned.insert(w.clone()) {
                warn!("{w} (peer {})", self.label());
            }
        }
        let diff = announce::diff_rib(self.neighbor.session().adj_rib_out(), &routes);
        let summary = if summarize {
            diff.summary(&routes)
        } else {
            ChangeSummary::default()
        };
        let desired = routes.len();
        self.status.send_if_modified(|s| {
            let changed = s.routes_desired != desired;
            s.routes_desired = desired;
            changed
        });
        Some((diff, summary))
    }

    /// [`PeerTask::apply_diff`] for an established session, with a large announcement
    /// written in pieces as they are encoded (the first of [`ANNOUNCE_PIECE`] NLRI). The UPDATEs are the
    /// same; only their first ones leave sooner. Stops if the session goes down meanwhile
    /// (its routes are computed afresh for the next one).
    async fn send_diff(&mut self, mut diff: announce::Diff) {
        let count = diff.announced_count();
        if count <= ANNOUNCE_PIECE || self.neighbor.session().state() != State::Established {
            let actions = self.apply_diff(diff);
            self.carry_out(actions).await;
            return;
        }
        // Withdrawals first, as apply_diff sends them.
        let groups = std::mem::take(&mut diff.announce);
        let mut unsent = count;
        self.status.send_modify(|s| s.unsent_nlri = unsent);
        let actions = self.apply_diff(diff);
        self.carry_out(actions).await;
        for g in groups {
            let mut rest: &[Nlri] = &g.nlri;
            while !rest.is_empty() {
                if !self.neighbor.routes_loaded()
                    || self.neighbor.session().state() != State::Established
                {
                    return;
                }
                // Pieces grow with the Adj-RIB-Out: the first leaves early, and each later one
                // is as large as the table so far, so adding it is one merge, not an insert
                // per NLRI.
                let len = ANNOUNCE_PIECE
                    .max(self.neighbor.session().adj_rib_out().len())
                    .min(rest.len());
                let (piece, tail) = rest.split_at(len);
                rest = tail;
                unsent -= piece.len();
                let actions = self.neighbor.handle(
                    Instant::now(),
                    Event::AnnounceShared {
                        next_hop: g.next_hop,
                        attrs: g.attrs.clone(),
                        nlri: piece.to_vec(),
                    },
                );
                self.carry_out(actions).await;
                self.status.send_modify(|s| s.unsent_nlri = unsent);
            }
        }
        info!(
            "announced {count} prefix{} to {}",
            if count == 1 { "" } else { "es" },
            self.peer.name
        );
    }

    fn apply_diff(&mut self, diff: announce::Diff) -> Vec<Output> {
        let now = Instant::now();
        let mut actions = Vec::new();
        if !diff.withdraw.is_empty() {
            info!("{}", withdrew_sentence(&self.peer, &diff.withdraw));
            actions.extend(
                self.neighbor
                    .handle(now, Event::Withdraw(diff.withdraw.clone())),
            );
        }
        let count = diff.announced_count();
        if count > 0 {
            for g in diff.announce {
                actions.extend(self.neighbor.handle(
                    now,
                    Event::AnnounceShared {
                        next_hop: g.next_hop,
                        attrs: g.attrs,
                        nlri: g.nlri,
                    },
                ));
            }
            let sentence = format!(
                "announced {count} prefix{} to {}",
                if count == 1 { "" } else { "es" },
                self.peer.name
            );
            if self.neighbor.session().state() == State::Established {
                info!("{sentence}");
            } else {
                // Logged after the "established" line, when the routes actually leave.
                self.deferred_log = Some(sentence);
            }
        }
        actions
    }

    fn publish(&self, established: Option<SystemTime>) {
        let session = self.neighbor.session();
        let local = self.main_conn().and_then(|c| c.local);
        self.status.send_if_modified(|s| {
            let mut changed = false;
            // The negotiated parameters change only with the state (OpenConfirm onwards) or
            // with a new connection; clone them only then (this runs once per message).
            let renegotiated = s.state != session.state()
                || s.local_address != local
                || s.negotiated.is_some() != session.negotiated().is_some();
            if renegotiated {
                s.negotiated = session.negotiated().map(|n| Arc::new(n.clone()));
                changed = true;
            }
            if s.state != session.state() {
                s.state = session.state();
                changed = true;
            }
            if established.is_some() {
                s.established_since = established;
                s.connect_error = None;
                changed = true;
            }
            if s.local_address != local {
                s.local_address = local;
                changed = true;
            }
            if s.end_of_rib_pending != session.end_of_rib_pending() {
                s.end_of_rib_pending = session.end_of_rib_pending();
                changed = true;
            }
            let (out, inn) = (session.adj_rib_out().len(), session.adj_rib_in().len());
            if s.routes_out != out || s.routes_in != inn || s.counters != *session.counters() {
                s.routes_out = out;
                s.routes_in = inn;
                s.counters = *session.counters();
                changed = true;
            }
            changed
        });
    }
}

fn seed_for(peer: &Peer) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    peer.address.hash(&mut h);
    SystemTime::now().hash(&mut h);
    h.finish()
}

/// "tor-a (10.255.0.1)", or just the address when the name is the address; "eth0
/// (unnumbered on eth0)" for an unnumbered peer.
pub fn label(peer: &Peer) -> String {
    if let Some(ifname) = peer.unnumbered() {
        return format!("{} (unnumbered on {ifname})", peer.name);
    }
    let addr = peer.address.to_string();
    if peer.name == addr {
        addr
    } else {
        format!("{} ({addr})", peer.name)
    }
}

/// "session with tor-a (10.255.0.1) established, hold 9s, families ipv4-unicast
/// ipv6-unicast, add-path send ipv4-unicast"
pub fn established_sentence(peer: &Peer, n: &Negotiated) -> String {
    let mut s = format!(
        "session with {} established, hold {}s",
        label(peer),
        n.hold_time
    );
    s.push_str(", families");
    for f in &n.families {
        let _ = write!(s, " {f}");
    }
    if !n.add_path_send.is_empty() {
        s.push_str(", add-path send");
        for f in &n.add_path_send {
            let _ = write!(s, " {f}");
        }
    }
    s
}

/// "session with tor-a (10.255.0.1) down: hold timer expired (sent NOTIFICATION 4/0)"
pub fn down_sentence(peer: &Peer, reason: &DownReason) -> String {
    let mut s = format!("session with {} down: {}", label(peer), reason.reason);
    for (dir, n) in [("sent", &reason.sent), ("received", &reason.received)] {
        if let Some(n) = n {
            let code = format!("{}/{}", n.code.0, n.subcode);
            if bgp_fsm::is_hard_reset(n) {
                // RFC 8538 §3: with the N bit on both sides a Cease travels inside Hard Reset.
                let _ = write!(s, " ({dir} as NOTIFICATION 6/9 Hard Reset, RFC 8538)");
            } else if !s.contains(&code) {
                let _ = write!(s, " ({dir} NOTIFICATION {code})");
            }
        }
    }
    if let Some(text) = &reason.shutdown_message {
        if !s.contains(text.as_str()) {
            let _ = write!(s, ", message \"{text}\"");
        }
    }
    s
}

/// "withdrew 192.0.2.10/32 from tor-a", or a count when there are many.
fn withdrew_sentence(peer: &Peer, withdrawn: &[Nlri]) -> String {
    if withdrawn.len() <= 8 {
        let list: Vec<String> = withdrawn
            .iter()
            .map(|n| match n.path_id {
                Some(id) => format!("{} (path {id})", n.prefix),
                None => n.prefix.to_string(),
            })
            .collect();
        format!("withdrew {} from {}", list.join(", "), peer.name)
    } else {
        format!("withdrew {} prefixes from {}", withdrawn.len(), peer.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A configuration with one peer, tor-a, and `peer_extra` in its table.
    pub(super) fn config(peer_extra: &str) -> Config {
        let text = format!(
            "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = [\"127.0.0.1:11179\"]\n\n\
             [[peers]]\nname = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\n{peer_extra}\n"
        );
        match Config::parse(&text, "test.toml", &crate::link::ThisHost) {
            Ok(c) => c,
            Err(e) => panic!("test config invalid: {e}"),
        }
    }

    #[test]
    fn label_names_the_peer_and_its_address() {
        let c = config("");
        assert_eq!(label(&c.peers[0]), "tor-a (10.255.0.1)");
        let c = Config::parse(
            "[global]\nasn = 1\nrouter_id = \"1.1.1.1\"\n[[peers]]\naddress = \"10.0.0.1\"\nasn = 2\n",
            "t", &crate::link::ThisHost)
        .expect("valid");
        assert_eq!(
            label(&c.peers[0]),
            "10.0.0.1",
            "no repetition when the name is the address"
        );
    }

    #[test]
    fn withdrawals_are_listed_or_counted() {
        let c = config("");
        let one = [Nlri {
            prefix: "192.0.2.10/32".parse().expect("p"),
            path_id: None,
        }];
        assert_eq!(
            withdrew_sentence(&c.peers[0], &one),
            "withdrew 192.0.2.10/32 from tor-a"
        );
        let two = [
            Nlri {
                prefix: "192.0.2.10/32".parse().expect("p"),
                path_id: Some(1),
            },
            Nlri {
                prefix: "192.0.2.10/32".parse().expect("p"),
                path_id: Some(2),
            },
        ];
        assert_eq!(
            withdrew_sentence(&c.peers[0], &two),
            "withdrew 192.0.2.10/32 (path 1), 192.0.2.10/32 (path 2) from tor-a"
        );
        let many: Vec<Nlri> = (0..20u8)
            .map(|i| Nlri {
                prefix: format!("192.0.2.{i}/32").parse().expect("p"),
                path_id: None,
            })
            .collect();
        assert_eq!(
            withdrew_sentence(&c.peers[0], &many),
            "withdrew 20 prefixes from tor-a"
        );
    }
}
