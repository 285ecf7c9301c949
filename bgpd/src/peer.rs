//! One tokio task per peer: the thin driver around a [`bgp_fsm::Session`].
//!
//! The task owns the session, the framed socket, one `sleep_until` for the session's
//! earliest timer deadline, and a command channel. It `select!`s on socket reads and writes,
//! the timer, a connect attempt in progress and commands, feeds the session the matching
//! [`Event`]s and carries out the returned [`Action`]s in order. It makes no protocol
//! decisions: what to send, when to close and what a message means are the session's.
//!
//! Driving contract (bgp-fsm `Session` docs): `Connect` starts one connect attempt, whose
//! outcome comes back as `Connected` / `ConnectFailed`; `Send` bytes are queued and written in
//! order; `Close` writes what is queued (bounded by [`CLOSE_FLUSH_TIMEOUT`]) and drops the
//! socket; the session keeps its own timer table, so `StartTimer`/`StopTimer` need no work
//! here beyond re-arming the one sleep at [`Session::next_timeout`]. RFC 9687 send hold: when
//! the socket does not take all queued bytes the session is told `SendBlocked`, and
//! `SendProgress` as they drain.
//!
//! Connection collisions (RFC 4271 §6.8): an inbound connection that arrives while the
//! session already has one runs a second `Session` until one of the two knows the peer's BGP
//! Identifier; [`bgp_fsm::collision_loser`] then picks the connection to close with Cease 6/7.
//! An inbound connection while Established is refused with Cease 6/7 at once.
//!
//! A panic inside the task is caught, logged, and the task restarts with a fresh session:
//! one misbehaving peer never affects another (no locks are shared between peer tasks).

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::{
    AddPathConfig, Admin, CollisionStep, ConnId, Direction, DownReason, Event,
    GracefulRestartConfig, Negotiated, Neighbor, Output, Refusal, Route, RouteEvents, SendQueue,
    SessionConfig, State,
};
use bgp_proto::codec::BgpCodec;
use bgp_proto::{HeaderError, Nlri, Notification};
use bytes::{Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use ipnet::IpNet;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tracing::{debug, error, info, warn, Instrument};

use crate::announce::{self, Announcements, PeerView, Warning};
use crate::config::{Global, Peer, Ttl};
use crate::locrib::{RibHandle, RibInput, RibRoute};
use crate::transport::{self, TransportOptions, TtlPolicy};

/// Route changes at least this large hand the memory their computation freed back to the
/// kernel ([`crate::daemon::release_freed_memory`]).
const LARGE_CHANGE: usize = 10_000;

/// NLRI in the first piece when a large change goes to an established session: each piece is
/// encoded and written before the next is made, so the router works on the first UPDATEs
/// (about 35) while bgpd encodes the rest. Later pieces are as large as the Adj-RIB-Out.
const ANNOUNCE_PIECE: usize = 16_384;

/// Received routes that must have gone from the Adj-RIB-In (with at least half of it) before
/// their memory is handed back to the kernel ([`PeerTask::release_rib_in`]).
const RIB_IN_RELEASE: usize = 1000;

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
        notification: Notification,
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

/// Returns once the Loc-RIB has room for more received routes (never without a Loc-RIB).
async fn rib_room_again(rib: Option<&RibHandle>) {
    match rib {
        Some(rib) => rib.room().await,
        None => std::future::pending().await,
    }
}

/// How a session (or an attempt at one) ended: the sentence logged and the typed reason it was
/// made from. Readers take facts (the NOTIFICATIONs, the Shutdown Communication) from
/// `reason`; the sentence is for display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDown {
    pub sentence: String,
    pub reason: DownReason,
}

/// A snapshot of one peer, updated by its task (for logs, the control socket and metrics:
/// readers clone it from the `watch` channel and never block the task).
#[derive(Debug, Clone)]
pub struct PeerStatus {
    pub name: String,
    pub address: IpAddr,
    pub asn: u32,
    pub state: State,
    /// When the current session reached Established.
    pub established_since: Option<SystemTime>,
    pub negotiated: Option<Arc<Negotiated>>,
    /// The session's local address, once connected.
    pub local_address: Option<SocketAddr>,
    /// Routes in the Adj-RIB-Out / Adj-RIB-In.
    pub routes_out: usize,
    pub routes_in: usize,
    /// Times the session went down after being Established.
    pub flaps: u64,
    /// How the last session or attempt ended.
    pub last_down: Option<LastDown>,
    pub counters: bgp_fsm::Counters,
    /// End-of-RIB is held back after a restart (RFC 4724 §4.1 deferral, issue 13).
    pub end_of_rib_pending: bool,
    /// The last failed connection attempt since the session was last Established (cleared
    /// then): why a peer stays Active.
    pub connect_error: Option<ConnectError>,
    /// An unnumbered peer's link: its interface and Router Advertisement counters.
    pub link: Option<crate::unnumbered::LinkStats>,
}

/// A failed outbound connection attempt, and how many failed in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The socket error ("Network is unreachable (os error 101)") with a hint when one
    /// applies.
    pub error: String,
    pub at: SystemTime,
    /// Consecutive failed attempts.
    pub attempts: u64,
}

/// The daemon's side of a peer task.
#[derive(Debug)]
pub struct PeerHandle {
    pub peer: Arc<Peer>,
    pub commands: mpsc::Sender<PeerCommand>,
    pub status: watch::Receiver<PeerStatus>,
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
    let initial = PeerStatus {
        name: peer.name.clone(),
        address: peer.address,
        asn: peer.asn.0,
        state: State::Idle,
        established_since: None,
        negotiated: None,
        local_address: None,
        routes_out: 0,
        routes_in: 0,
        flaps: 0,
        last_down: None,
        counters: bgp_fsm::Counters::default(),
        end_of_rib_pending: false,
        connect_error: None,
        link: link.as_ref().map(crate::unnumbered::LinkNeighbor::stats),
    };
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

/// The session configuration for `peer` (RFC 4271 §8.1.1 session attributes).
pub fn session_config(global: &Global, peer: &Peer) -> SessionConfig {
    let mut cfg = SessionConfig::new(peer.local_asn(global).0, peer.asn.0, global.router_id);
    cfg.hold_time = peer.hold_time.secs();
    cfg.keepalive = Some(u16::try_from(peer.keepalive.as_secs()).unwrap_or(u16::MAX));
    cfg.connect_retry = peer.connect_retry;
    cfg.passive = peer.passive;
    cfg.delay_open = peer.delay_open;
    cfg.open_hold_time = peer.open_hold_time;
    cfg.send_hold_time = peer.send_hold_time;
    cfg.min_hold_time = peer.min_hold_time;
    cfg.max_prefixes_action = peer.max_prefixes_action;
    cfg.families = peer.families.clone();
    if peer.add_path {
        cfg.add_path = peer
            .families
            .iter()
            .map(|&family| AddPathConfig {
                family,
                send: true,
                receive: true,
            })
            .collect();
    }
    cfg.extended_message = true;
    // Graceful restart (RFC 4724 §4.1, issue 7): a session built here belongs to a bgpd that
    // has just started, so the R bit is set (the session clears it once Established). bgpd
    // installs no forwarding state, so forwarding is preserved for every family (F bits):
    // the routers keep using the nodes while bgpd restarts.
    cfg.graceful_restart = peer.graceful_restart.map(|gr| GracefulRestartConfig {
        restart_time: u16::try_from(gr.restart_time.as_secs())
            .unwrap_or(4095)
            .min(4095),
        restarting: true,
        notification: gr.notification,
        preserve_forwarding: peer.families.clone(),
        llgr_stale_time: gr
            .llgr_stale_time
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        // End-of-RIB waits for the routes restored and learned after the restart (issue 13).
        end_of_rib_deferral: Some(global.end_of_rib_deferral(gr.restart_time))
            .filter(|d| !d.is_zero()),
        ..GracefulRestartConfig::default()
    });
    cfg.role = peer.role;
    cfg.strict_role = peer.role_strict;
    if peer.extended_next_hop {
        cfg.extended_next_hop = vec![bgp_proto::Family::IPV4_UNICAST];
    }
    cfg.max_prefixes = peer.max_prefixes;
    cfg.max_prefixes_restart = peer.max_prefixes_restart;
    cfg.idle_hold_time = peer.idle_hold_time;
    cfg.max_idle_hold_time = crate::config::MAX_IDLE_HOLD_TIME;
    cfg.damp_peer_oscillations = peer.damp_peer_oscillations;
    cfg.enforce_first_as = peer.enforce_first_as;
    cfg.local_addresses = peer.local_address.into_iter().collect();
    cfg.import = peer.import.clone();
    cfg.allow_own_as = peer.allow_own_as;
    // RFC 4271 §6.3: the shared-subnet next-hop rule is for eBGP peers one IP hop away: not
    // with ebgp_multihop; GTSM (ttl_security) is single-hop here (TtlPolicy hops 1).
    cfg.directly_connected = !peer.ibgp && matches!(peer.ttl, Ttl::Default | Ttl::Security);
    cfg
}

/// The subnets of the interface holding a new connection and the connection's remote address,
/// for the RFC 4271 §6.3 next-hop check of a directly connected eBGP session (nothing is
/// looked up otherwise).
fn link_of(
    config: &SessionConfig,
    stream: &TcpStream,
    peer: IpAddr,
) -> (Vec<IpNet>, Option<IpAddr>) {
    if !config.directly_connected {
        return (Vec::new(), None);
    }
    let subnets = stream
        .local_addr()
        .map(|l| crate::link::interface_subnets(l.ip()))
        .unwrap_or_default();
    // The connection's remote address: an unnumbered peer's is learned, not configured.
    let remote = stream.peer_addr().map_or(peer, |r| r.ip());
    (subnets, Some(remote))
}

/// The socket options for `peer`'s connections.
pub fn transport_options(peer: &Peer) -> TransportOptions {
    let ttl = match peer.ttl {
        // Directly connected eBGP uses TTL 1, as routers expect (RFC 4271 leaves it to
        // implementations; FRR and BIRD do the same); iBGP keeps the system default.
        Ttl::Default if peer.ibgp => TtlPolicy::SystemDefault,
        Ttl::Default => TtlPolicy::Fixed(1),
        Ttl::Multihop(n) => TtlPolicy::Fixed(n),
        Ttl::Security => TtlPolicy::Security { hops: 1 },
    };
    TransportOptions {
        local_address: peer.local_address,
        md5_password: peer.password.clone(),
        ttl,
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// One TCP connection, named as the [`Neighbor`] names it: the framed reader (dropped after
/// a header error) and the writer with its queue.
struct Conn {
    id: ConnId,
    reader: Option<FramedRead<OwnedReadHalf, BgpCodec>>,
    writer: Option<Writer>,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
}

struct Writer {
    half: OwnedWriteHalf,
    /// The queue and its RFC 9687 state: every write below reports through it.
    queue: SendQueue,
}

impl Conn {
    fn new(stream: TcpStream, id: ConnId) -> Conn {
        let local = stream.local_addr().ok();
        let remote = stream.peer_addr().ok();
        let (read, write) = stream.into_split();
        Conn {
            id,
            reader: Some(FramedRead::new(read, BgpCodec::new())),
            writer: Some(Writer {
                half: write,
                queue: SendQueue::new(),
            }),
            local,
            remote,
        }
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
    /// The largest Adj-RIB-In since memory was last handed back ([`Self::release_rib_in`]).
    rib_in_high: usize,
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
            rib_in_high: 0,
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

    /// The peer connected to one of our listeners: the neighbor decides (RFC 4271 §6.8).
    async fn on_inbound(&mut self, stream: TcpStream) {
        if let Err(e) = transport::prepare_accepted(&stream, &transport_options(&self.peer)) {
            warn!(
                "cannot set socket options on the connection from {}: {e}",
                self.label()
            );
        }
        self.on_stream(stream, Direction::Inbound).await;
    }

    /// Hands a new connection to the neighbor and carries out its verdict.
    async fn on_stream(&mut self, stream: TcpStream, direction: Direction) {
        let (subnets, remote) = link_of(self.neighbor.config(), &stream, self.peer.address);
        let (id, outputs) = self
            .neighbor
            .connected(Instant::now(), direction, subnets, remote);
        self.conns.push(Conn::new(stream, id));
        self.carry_out(outputs).await;
    }

    async fn on_connected(&mut self, res: io::Result<TcpStream>) {
        match res {
            Ok(stream) => self.on_stream(stream, Direction::Outbound).await,
            Err(e) => {
                self.connect_failed(&e);
                let outputs = self.neighbor.connect_failed(Instant::now());
                self.carry_out(outputs).await;
            }
        }
    }

    /// Records a failed connection attempt (why the peer is down, for `bgpctl` and metrics)
    /// and logs it at WARN on the 1st, 10th, 100th, ... attempt in a row, so a peer that
    /// cannot be reached is visible without flooding the log.
    fn connect_failed(&mut self, e: &io::Error) {
        let error = match connect_hint(e, &self.peer) {
            Some(hint) => format!("{e} ({hint})"),
            None => e.to_string(),
        };
        let mut attempts = 0;
        self.status.send_modify(|s| {
            attempts = s.connect_error.as_ref().map_or(0, |c| c.attempts) + 1;
            s.connect_error = Some(ConnectError {
                error: error.clone(),
                at: SystemTime::now(),
                attempts,
            });
        });
        // 1, 10, 100, 1000, ...: a rate that falls as the outage lasts.
        let mut n = attempts;
        while n % 10 == 0 {
            n /= 10;
        }
        if n == 1 {
            warn!(
                "cannot connect to {} (attempt {attempts} in a row): {error}",
                self.label()
            );
        } else {
            debug!("connection to {} failed: {error}", self.label());
        }
    }

    async fn on_frame(
        &mut self,
        id: Option<ConnId>,
        frame: Option<Result<Result<Bytes, HeaderError>, io::Error>>,
    ) {
        let Some(id) = id else { return };
        let event = match frame {
            Some(Ok(Ok(msg))) => Event::Message(msg),
            Some(Ok(Err(header))) => {
                if let Some(conn) = self.conn_mut(id) {
                    conn.reader = None;
                }
                Event::HeaderError(header)
            }
            Some(Err(e)) => {
                debug!("read from {} failed: {e}", self.label());
                self.take_conn(id);
                Event::Closed
            }
            None => {
                self.take_conn(id);
                Event::Closed
            }
        };
        let outputs = self.neighbor.handle_conn(Instant::now(), id, event);
        self.carry_out(outputs).await;
    }

    /// The `select!` write branch wrote: report progress (or a full socket) to the session
    /// (RFC 9687), as `flush_now` does for its writes.
    async fn on_written(&mut self, id: Option<ConnId>, res: io::Result<Vec<Event>>) {
        let Some(id) = id else { return };
        let events = match res {
            Ok(events) => events,
            Err(e) => {
                debug!("write to {} failed: {e}", self.label());
                self.take_conn(id);
                vec![Event::Closed]
            }
        };
        for event in events {
            let outputs = self.neighbor.handle_conn(Instant::now(), id, event);
            self.carry_out(outputs).await;
        }
    }

    /// Starts the connection attempt the session asked for. An unnumbered peer's attempt
    /// waits for its neighbor's address, and says so in the status meanwhile.
    fn start_connect(&mut self) {
        let opts = transport_options(&self.peer);
        let timeout = self.peer.connect_retry.max(Duration::from_secs(1));
        let port = self.peer.port;
        let Some(link) = self.link.clone() else {
            let remote = self.peer.socket_addr();
            self.connecting = Some(Box::pin(async move {
                transport::connect(remote, &opts, timeout).await
            }));
            return;
        };
        if let Some(waiting) = link.waiting() {
            self.connect_failed(&waiting);
        }
        self.connecting = Some(Box::pin(async move {
            let remote = link.resolve(port).await;
            transport::connect(remote, &opts, timeout).await
        }));
    }

    /// Where connections go: the configured address, or an unnumbered peer's learned one.
    fn connect_target(&self) -> Option<SocketAddr> {
        match &self.link {
            Some(link) => link.current(self.peer.port),
            None => Some(self.peer.socket_addr()),
        }
    }

    /// An unnumbered peer's neighbor is known, or changed (the router was replaced): a
    /// session with another address ends (Cease 6/6, Other Configuration Change, RFC 4486)
    /// and starts again towards `addr` at once; an attempt in progress is redirected.
    async fn on_neighbor(&mut self, addr: std::net::Ipv6Addr) {
        self.status.send_modify(|s| s.address = IpAddr::V6(addr));
        let elsewhere = |c: &Conn| c.remote.is_some_and(|r| r.ip() != IpAddr::V6(addr));
        if self.main_conn().is_some_and(elsewhere) && !self.neighbor.is_admin_down() {
            info!(
                "the neighbor of {} is now {addr}: closing the session with the previous \
                 address and connecting to the new one",
                self.label()
            );
            let outputs = self
                .neighbor
                .stop(Instant::now(), Notification::cease(6, None));
            self.carry_out(outputs).await;
            let outputs = self.neighbor.start(Instant::now());
            self.carry_out(outputs).await;
        } else if self.connecting.is_some() && self.main_conn().is_none() {
            self.start_connect();
        }
    }

    /// A reload changed `import` or `allow_own_as`: the live sessions apply them without a
    /// reset (issue 13 §3); the session withdraws what the new rules refuse and asks the peer
    /// for a route refresh when they may accept more.
    async fn apply_import(&mut self) {
        let policy = self.peer.import.clone();
        let allow_own_as = self.peer.allow_own_as;
        let cfg = self.neighbor.session().config();
        if cfg.import == policy && cfg.allow_own_as == allow_own_as {
            return;
        }
        info!(
            "import policy for {} is now {policy} (allow_own_as {allow_own_as}), applied \
             without a session reset",
            self.label()
        );
        let outputs = self
            .neighbor
            .set_import(Instant::now(), policy, allow_own_as);
        self.carry_out(outputs).await;
    }

    /// Feeds one event to the current session and carries out the outputs.
    async fn feed(&mut self, event: Event) {
        let outputs = self.neighbor.handle(Instant::now(), event);
        self.carry_out(outputs).await;
    }

    /// Carries out the neighbor's `outputs` in order, then what they lead to (routes loaded
    /// for a session, a send queue over its cap).
    async fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut work: VecDeque<Vec<Output>> = VecDeque::from([outputs]);
        while let Some(outputs) = work.pop_front() {
            for output in outputs {
                self.execute(output, &mut work).await;
            }
            // Write what the socket takes now, so only data the peer has not read counts.
            self.flush_now();
            let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
            for id in ids {
                if let Some(outputs) = self.queue_over_cap(id) {
                    // The connection's own session answers with NOTIFICATION 6/8 and Close.
                    work.push_back(outputs);
                }
            }
        }
        // A connection the neighbor no longer holds is closed (it always says so; this
        // only keeps the two lists from ever drifting apart).
        let neighbor = &self.neighbor;
        self.conns.retain(|c| neighbor.holds(c.id));
        self.release_rib_in();
        self.flush_now();
    }

    /// Hands the memory of received routes back to the kernel once the Adj-RIB-In has
    /// shrunk to half of its largest size since the last time (or less: a withdrawn table, a
    /// session down), by at least [`RIB_IN_RELEASE`] routes: the freed blocks otherwise stay
    /// in the allocator's heaps, and RSS at the peak. Halving keeps the trims few (about
    /// log2 of the table size for a table going away UPDATE by UPDATE); what a table below
    /// the minimum leaves behind is about 150 KB.
    fn release_rib_in(&mut self) {
        let held = self.neighbor.session().adj_rib_in().len();
        self.rib_in_high = self.rib_in_high.max(held);
        let freed = self.rib_in_high - held;
        if held <= self.rib_in_high / 2 && freed >= RIB_IN_RELEASE {
            crate::daemon::release_freed_memory_soon();
            self.rib_in_high = held;
        }
    }

    /// Send-queue cap (issue 7, `max_queued_bytes`): when the unsent data of a connection
    /// exceeds the cap, the peer is not reading fast enough. Rather than letting memory grow,
    /// drop the queued messages that have not started to go out (the partly written one is
    /// kept so the stream stays framed) and stop the session with Cease 6/8, Out of Resources
    /// (RFC 4486). It restarts after the IdleHoldTime like any failure; with the RFC 8538 N
    /// bit on both sides this Cease keeps graceful-restart semantics (routes stay stale).
    fn queue_over_cap(&mut self, id: ConnId) -> Option<Vec<Output>> {
        let cap = self.peer.max_queued_bytes;
        let queued = self.conn_mut(id)?.writer.as_ref()?.queue.queued_bytes() as u64;
        if queued <= cap {
            return None;
        }
        // Only now: this runs after every flush (each keepalive), the label is a format!.
        let name = self.label();
        let w = self.conn_mut(id)?.writer.as_mut()?;
        warn!(
            "{queued} bytes are queued for {name}, more than max_queued_bytes ({cap}): the peer \
             is not reading fast enough; resetting the session with NOTIFICATION 6/8 (Out of \
             Resources)"
        );
        w.queue.drop_unsent();
        let stop = Event::AutomaticStop {
            notification: Some(Notification::cease(8, None)),
        };
        Some(self.neighbor.handle_conn(Instant::now(), id, stop))
    }

    /// Writes as much queued data as the sockets take without waiting, and reports to the
    /// session both the bytes written (`SendProgress`, which restarts or stops the
    /// SendHoldTimer) and a socket that takes no more (`SendBlocked`), RFC 9687. The rest is
    /// written by the `select!` loop. Issue 17: this path used to drain the queue without
    /// telling the session, so the timer armed by the first `SendBlocked` ran on and reset a
    /// healthy peer with 8/0 one SendHoldTime later.
    fn flush_now(&mut self) {
        let now = Instant::now();
        for conn in &mut self.conns {
            let Some(w) = conn.writer.as_mut() else {
                continue;
            };
            let mut events = Vec::new();
            while let Some(front) = w.queue.front() {
                let len = front.len();
                match w.half.try_write(front) {
                    Ok(n) if n > 0 => {
                        events.extend(w.queue.wrote(n));
                        if n < len {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            events.extend(w.queue.stalled());
            for event in events {
                // Not re-entering carry_out: these events only (re)arm or stop the
                // SendHoldTimer, which the neighbor keeps to itself.
                for output in self.neighbor.handle_conn(now, conn.id, event) {
                    debug!("unexpected output after a send report: {output:?}");
                }
            }
        }
    }

    /// Carries out one neighbor output; outputs it leads to (routes for a new session) go
    /// to the back of `work`.
    async fn execute(&mut self, output: Output, work: &mut VecDeque<Vec<Output>>) {
        match output {
            Output::Connect => self.start_connect(),
            Output::StopConnecting { unanswered } => {
                // A pending connect dropped for a retry (still in Connect) got no answer:
                // with MD5 or GTSM configured, say what that usually means.
                if unanswered && self.connecting.is_some() {
                    let opts = transport_options(&self.peer);
                    let waited = self.peer.connect_retry;
                    // (An unnumbered peer that has no address yet was not asked.)
                    if let Some(remote) = self.connect_target() {
                        transport::report_unanswered(remote, &opts, waited);
                    }
                }
                self.connecting = None;
            }
            Output::Accepted(id, Direction::Inbound) => {
                let remote = self.conn_mut(id).and_then(|c| c.remote);
                info!("accepted a connection from {} ({:?})", self.label(), remote);
            }
            Output::Accepted(_, Direction::Outbound) => debug!("connected to {}", self.label()),
            Output::Refuse {
                conn,
                notification,
                why,
            } => {
                match why {
                    Refusal::Idle => {
                        debug!("refused a connection from {} while Idle", self.label())
                    }
                    Refusal::Established => info!(
                        "refused a second connection from {}: session already established \
                         (sent NOTIFICATION 6/7)",
                        self.label()
                    ),
                    Refusal::ThirdConnection => info!(
                        "refused a third connection from {} during a collision (sent \
                         NOTIFICATION 6/7)",
                        self.label()
                    ),
                    // An inbound connection won the race; our own is surplus.
                    Refusal::Surplus => {}
                }
                // Without a NOTIFICATION, dropping the stream closes it; the peer retries.
                if let Some(mut conn) = self.take_conn(conn) {
                    if let (Some(n), Some(w)) = (notification, conn.writer.as_mut()) {
                        let mut buf = BytesMut::new();
                        n.encode(&mut buf);
                        w.queue.push(buf.freeze());
                        close_conn(conn).await;
                    }
                }
            }
            Output::Send(id, bytes) => {
                if let Some(w) = self.conn_mut(id).and_then(|c| c.writer.as_mut()) {
                    w.queue.push(bytes);
                }
            }
            Output::Close(id) => {
                if let Some(conn) = self.take_conn(id) {
                    close_conn(conn).await;
                }
            }
            Output::Abandon(id) => {
                // Closed on its own task so the surviving connection is not delayed.
                if let Some(conn) = self.take_conn(id) {
                    tokio::spawn(close_conn(conn));
                }
            }
            Output::SessionUp(negotiated) => self.session_up(&negotiated),
            Output::SessionDown { reason, current } => self.session_down(reason, current),
            Output::Received(events) => self.received(events),
            Output::LoadRoutes => match self.route_actions() {
                Some(outputs) => {
                    work.push_back(outputs);
                    if self.neighbor.session().adj_rib_out().len() >= LARGE_CHANGE {
                        crate::daemon::release_freed_memory();
                    }
                }
                None => self.neighbor.routes_not_loaded(),
            },
            Output::RoutesReset => self.deferred_log = None,
            Output::Collision(CollisionStep::Started) => info!(
                "connection collision with {}: running both connections until OPENs are \
                 exchanged (RFC 4271 §6.8)",
                self.label()
            ),
            Output::Collision(CollisionStep::Resolved { closed }) => info!(
                "connection collision with {} resolved: closing the {} connection (sent \
                 NOTIFICATION 6/7)",
                self.label(),
                if closed == Direction::Outbound {
                    "outbound"
                } else {
                    "inbound"
                }
            ),
            Output::Collision(CollisionStep::Replaced) => info!(
                "a new connection from {} completed its OPEN while an older one from it \
                 had not: the router reconnected (RFC 4271 §6.8 compares connections in \
                 opposite directions only); closing the older connection, no NOTIFICATION",
                self.label()
            ),
        }
    }

    fn session_up(&mut self, negotiated: &Negotiated) {
        let main = self.neighbor.conn();
        if let Some(reader) = main
            .and_then(|id| self.conn_mut(id))
            .and_then(|c| c.reader.as_mut())
        {
            reader.decoder_mut().set_max_len(negotiated.max_message_len);
        }
        self.logged_errors.clear();
        self.rib_send(RibInput::Up {
            peer: self.peer.name.clone(),
            info: bgp_rib::Peer {
                remote_as: negotiated.peer_asn,
                local_as: negotiated.local_asn,
                bgp_id: negotiated.peer_id,
                // The session's far end: an unnumbered peer's is learned.
                address: self
                    .main_conn()
                    .and_then(|c| c.remote)
                    .map_or(self.peer.address, |r| r.ip()),
            },
        });
        info!("{}", established_sentence(&self.peer, negotiated));
        if let Some(sentence) = self.deferred_log.take() {
            info!("{sentence}");
        }
        let session = self.neighbor.session();
        if session.end_of_rib_pending() {
            info!(
                "holding End-of-RIB to {} until every route is known (restored \
                 state, first health verdicts, `bgpctl sync end`; at most {:?})",
                self.label(),
                session
                    .config()
                    .graceful_restart
                    .as_ref()
                    .and_then(|g| g.end_of_rib_deferral)
                    .unwrap_or_default()
            );
        }
        self.publish(Some(SystemTime::now()));
    }

    fn session_down(&mut self, reason: DownReason, current: bool) {
        let sentence = down_sentence(&self.peer, &reason);
        if reason.was_established {
            warn!("{sentence}");
        } else {
            info!("{sentence}");
        }
        let was_established = reason.was_established;
        let last = LastDown { sentence, reason };
        self.status.send_modify(|s| {
            if was_established {
                s.flaps += 1;
                s.established_since = None;
            }
            s.last_down = Some(last);
        });
        if current {
            // What the Adj-RIB-In still holds is kept stale for the peer's graceful restart
            // (`DownReason::stale_routes_kept`); it stays in the Loc-RIB (and leaves later
            // through `Received`), every other path goes at once.
            self.rib_send(RibInput::Down {
                peer: self.peer.name.clone(),
                kept: self
                    .neighbor
                    .session()
                    .adj_rib_in()
                    .iter()
                    .map(|r| RibRoute::from(&r))
                    .collect(),
            });
        }
    }

    fn received(&mut self, events: RouteEvents) {
        // RFC 7606 §6 asks for a log; once per kind and session keeps a peer that repeats
        // the same error from flooding it (the counters keep the totals).
        if let Some((attr, why)) = events.treat_as_withdraw {
            if self.logged_errors.insert((attr.0, why)) {
                warn!(
                    "UPDATE from {} treated as withdraw: {why} (attribute {attr}; further \
                     ones of this kind are logged at debug level)",
                    self.label()
                );
            } else {
                debug!("UPDATE from {} treated as withdraw: {why}", self.label());
            }
        }
        for (attr, why) in &events.discarded {
            if self.logged_errors.insert((attr.0, why)) {
                info!("attribute {attr} from {} discarded: {why}", self.label());
            }
        }
        // Type code 0 is reserved: these keys never clash with an attribute's.
        if let Some(first) = events.looped.first() {
            if self.logged_errors.insert((0, "as loop")) {
                let config = self.neighbor.session().config();
                warn!(
                    "route {} from {} discarded: its AS_PATH holds our AS {} (RFC 4271 \
                     §9.1.2 loop; allow_own_as {}) or it is our own route reflected back; \
                     further ones are only counted",
                    first.prefix,
                    self.label(),
                    config.local_asn,
                    config.allow_own_as,
                );
            }
        }
        if let Some(first) = events.rejected_next_hop.first() {
            if self.logged_errors.insert((0, "next hop")) {
                warn!(
                    "route {} from {} treated as withdrawn: its next hop is our own \
                     address, a martian, or not on a subnet shared with the peer \
                     (RFC 4271 §6.3); further ones are only counted",
                    first.prefix,
                    self.label(),
                );
            }
        }
        if let Some(max) = events.prefix_limit_crossed {
            // Once per crossing (the session reports it again only after the table was
            // below the limit).
            warn!(
                "{} sent more routes than max_prefixes ({max}): routes beyond the limit are \
                 dropped and counted, the session stays up (max_prefixes_action = \"drop\", \
                 decision D6)",
                self.label()
            );
        }
        debug!(
            "received {} routes and {} withdrawals from {} ({} not kept by the import \
             policy)",
            events.announced.len(),
            events.withdrawn.len(),
            self.label(),
            events.import_rejected,
        );
        if !events.announced.is_empty() || !events.withdrawn.is_empty() {
            self.rib_send(RibInput::Received {
                peer: self.peer.name.clone(),
                announced: events.announced.iter().map(RibRoute::from).collect(),
                withdrawn: events.withdrawn,
                read_at: std::time::Instant::now(),
            });
        }
    }

    /// Computes this peer's routes for the current session and hands them to it.
    fn route_actions(&mut self) -> Option<Vec<Output>> {
        let diff = self.compute_diff()?;
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

    /// After a services change: send the difference to the current session. Routes not
    /// loaded yet (before OpenConfirm) are computed from the new services when they are.
    async fn sync_routes(&mut self) {
        if !self.neighbor.routes_loaded() {
            return;
        }
        if let Some(diff) = self.compute_diff() {
            let large = diff.announced_count() + diff.withdraw.len() >= LARGE_CHANGE;
            self.send_diff(diff).await;
            if large {
                // The computation's temporary copies (several MB for 100k routes) are free
                // now; hand them back rather than keep RSS at the peak.
                crate::daemon::release_freed_memory();
            }
        }
    }

    fn compute_diff(&mut self) -> Option<announce::Diff> {
        let negotiated = self.neighbor.session().negotiated()?;
        let local = self.main_conn().and_then(|c| c.local)?;
        let view = PeerView::new(&self.peer, &self.global, local.ip(), negotiated);
        let (routes, warnings) = announce::routes_for(&self.services, &view);
        for w in warnings {
            if self.warned.insert(w.clone()) {
                warn!("{w} (peer {})", self.label());
            }
        }
        let diff = announce::diff_rib(self.neighbor.session().adj_rib_out(), &routes);
        Some(diff)
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
                let actions = self.neighbor.handle(
                    Instant::now(),
                    Event::AnnounceShared {
                        next_hop: g.next_hop,
                        attrs: g.attrs.clone(),
                        nlri: piece.to_vec(),
                    },
                );
                self.carry_out(actions).await;
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

/// Writes the queued bytes (bounded in time), then shuts the connection down.
async fn close_conn(mut conn: Conn) {
    conn.reader = None;
    if let Some(mut w) = conn.writer.take() {
        let flush = async {
            while let Some(front) = w.queue.pop_front() {
                w.half.write_all(&front).await?;
            }
            w.half.shutdown().await
        };
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, flush).await;
    }
}

type Reader = FramedRead<OwnedReadHalf, BgpCodec>;

fn split_conn(conn: Option<&mut Conn>) -> (Option<&mut Reader>, Option<&mut Writer>) {
    match conn {
        Some(c) => (c.reader.as_mut(), c.writer.as_mut()),
        None => (None, None),
    }
}

async fn read_frame(
    reader: Option<&mut Reader>,
) -> Option<Result<Result<Bytes, HeaderError>, io::Error>> {
    match reader {
        Some(reader) => reader.next().await,
        None => std::future::pending().await,
    }
}

/// Writes from the front of the queue once; returns the RFC 9687 events for the session
/// (`SendProgress` when it was told `SendBlocked`; `SendBlocked` after a short write, the
/// socket being full). Cancel-safe: `write` either wrote (and the queue is updated) or did
/// nothing.
async fn write_some(writer: Option<&mut Writer>) -> io::Result<Vec<Event>> {
    let Some(w) = writer else {
        return std::future::pending().await;
    };
    let Some(front) = w.queue.front() else {
        return Ok(Vec::new());
    };
    let len = front.len();
    let n = w.half.write(front).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "connection closed while writing",
        ));
    }
    let mut events: Vec<Event> = w.queue.wrote(n).into_iter().collect();
    if n < len {
        events.extend(w.queue.stalled());
    }
    Ok(events)
}

async fn poll_connect(connecting: &mut Option<ConnectFuture>) -> io::Result<TcpStream> {
    match connecting.as_mut() {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
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
            if (n.code.0, n.subcode) == (6, 9) {
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

/// A hint for the connect errors operators trip over.
fn connect_hint(e: &io::Error, peer: &Peer) -> Option<&'static str> {
    let link_local = matches!(peer.address, IpAddr::V6(a) if crate::link::is_link_local(a));
    match e.raw_os_error() {
        Some(libc::EINVAL) if link_local => {
            Some("a link-local peer address needs the interface it is reached on")
        }
        Some(libc::ECONNREFUSED) => {
            Some("nothing accepts BGP on the peer's port: is the peer configured there?")
        }
        Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) => {
            Some("no route to the peer from this host")
        }
        _ if e.kind() == io::ErrorKind::TimedOut && peer.password.is_some() => Some(
            "no answer: with a TCP MD5 password, a key mismatch is dropped silently by the peer",
        ),
        _ if e.kind() == io::ErrorKind::TimedOut && matches!(peer.ttl, Ttl::Security) => {
            Some("no answer: with ttl_security the peer must send with TTL 255 too (GTSM)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(peer_extra: &str) -> Config {
        let text = format!(
            "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = [\"127.0.0.1:11179\"]\n\n\
             [[peers]]\nname = \"tor-a\"\naddress = \"10.255.0.1\"\nasn = 64500\n{peer_extra}\n"
        );
        match Config::parse(&text, "test.toml") {
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
            "t",
        )
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

    #[test]
    fn ttl_policy_follows_the_peer_settings() {
        let ebgp = config("");
        assert_eq!(transport_options(&ebgp.peers[0]).ttl, TtlPolicy::Fixed(1));
        let multihop = config("ebgp_multihop = 3");
        assert_eq!(
            transport_options(&multihop.peers[0]).ttl,
            TtlPolicy::Fixed(3)
        );
        let gtsm = config("ttl_security = true");
        assert_eq!(
            transport_options(&gtsm.peers[0]).ttl,
            TtlPolicy::Security { hops: 1 }
        );
        let keyed = config("password = \"secret\"\nlocal_address = \"10.255.0.2\"");
        let opts = transport_options(&keyed.peers[0]);
        assert_eq!(opts.md5_password.as_deref(), Some("secret"));
        assert_eq!(opts.local_address, Some("10.255.0.2".parse().expect("ip")));
    }

    #[test]
    fn session_config_carries_the_peer_settings() {
        let c = config(
            "hold_time = 9\npassive = true\nadd_path = true\nmax_prefixes = 10\n\
             families = [\"ipv4-unicast\", \"ipv6-unicast\"]",
        );
        let s = session_config(&c.global, &c.peers[0]);
        assert_eq!((s.local_asn, s.peer_asn), (64512, 64500));
        assert_eq!(s.local_id, std::net::Ipv4Addr::new(10, 255, 0, 2));
        assert_eq!(s.hold_time, 9);
        assert!(s.passive);
        assert_eq!(s.max_prefixes, Some(10));
        assert_eq!(
            s.families,
            vec![
                bgp_proto::Family::IPV4_UNICAST,
                bgp_proto::Family::IPV6_UNICAST
            ]
        );
        assert_eq!(s.add_path.len(), 2);
        assert!(s.add_path.iter().all(|a| a.send && a.receive));
    }
}
