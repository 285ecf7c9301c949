//! The daemon: loads the configuration, binds the listeners, runs one task per peer
//! ([`crate::peer`]) and handles signals.
//!
//! - SIGHUP: reload. The new file is parsed and validated completely; if it is invalid the
//!   daemon keeps running on the old configuration and logs why. Otherwise the difference is
//!   applied: service changes become UPDATEs on the live sessions (no reset); peers whose own
//!   settings changed are reset with Cease 6/6 (Other Configuration Change), removed peers are
//!   stopped with Cease 6/3 (Peer De-configured) and added peers started (RFC 4486 §4).
//! - SIGTERM / SIGINT: every session is stopped with Cease 6/2 (Administrative Shutdown)
//!   carrying the RFC 9003 Shutdown Communication "bgpd shutting down", then `run` returns
//!   `Ok(())`.
//!
//! Inbound connections are matched to peers by source address; a connection from any other
//! address gets Cease 6/5 (Connection Rejected) and is closed.
//!
//! The daemon keeps every peer's [`PeerStatus`] behind a `watch` channel, so a control socket
//! or a metrics endpoint (issue 6) can read snapshots without touching the peer tasks.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bgp_proto::Notification;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::announce::Announcements;
use crate::config::{Config, Global, Peer, Service};
use crate::diff::{ConfigDiff, CEASE_OTHER_CONFIGURATION_CHANGE, CEASE_PEER_DECONFIGURED};
use crate::events::plural;
use crate::peer::{self, PeerCommand, PeerHandle};
use crate::status::PeerStatus;
use crate::transport;
use crate::LogFormat;

mod reload;

/// The Shutdown Communication sent on SIGTERM/SIGINT (RFC 9003).
pub const SHUTDOWN_MESSAGE: &str = "bgpd shutting down";

/// How long shutdown waits for each session to write its NOTIFICATION.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// A `global.listen` socket could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (port 179 needs root or CAP_NET_BIND_SERVICE; \
         set global.listen = [] for outbound-only peering)"
    )]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The SIGHUP, SIGTERM or SIGINT handler could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(io::Error),
}

/// The entry point of `bgpd run`: runs the daemon on a tokio runtime with `config` (already
/// loaded and validated from `config_path`, which SIGHUP re-reads) until SIGTERM or SIGINT.
/// Exit status 0 after a clean shutdown (every peer was sent Cease 6/2), 1 if the daemon
/// could not start (e.g. a listener cannot be bound).
pub fn run(config: Config, config_path: PathBuf, log_format: LogFormat) -> ExitCode {
    let _ = log_format; // the subscriber is installed by main
    crate::memory::tune_allocator();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_with_signals(config, config_path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT; SIGHUP reloads `config_path`.
pub async fn run_with_signals(config: Config, config_path: PathBuf) -> Result<(), DaemonError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let shutdown = async move {
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    info!("received SIGHUP: reloading the configuration");
                    let _ = reload_tx.send(()).await;
                }
                _ = term.recv() => { info!("received SIGTERM"); break; }
                _ = int.recv() => { info!("received SIGINT"); break; }
            }
        }
    };
    run_until(config, config_path, reload_rx, shutdown).await
}

/// Runs the daemon until `shutdown` completes; every message on `reload` re-reads
/// `config_path`. (The signal-free core of [`run`], for embedding and tests.)
pub async fn run_until(
    config: Config,
    config_path: PathBuf,
    mut reload: mpsc::Receiver<()>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    // Operations (issue 6): control socket, metrics, health checks, runtime services, drain.
    let mut ops = crate::control::Ops::start(&config);
    let mut ops_rx = ops.take_commands();
    // The peers start with everything Ops knows, runtime services restored from the state
    // file included, so the first UPDATE of each session already carries them (issue 13).
    let services = ops.services();
    // The daemon keeps the file's configuration (reloads diff against it); what the peers
    // announce is `services`, in which health-checked services wait for their verdict.
    let admin_down = ops.admin_down();
    let mut daemon = Daemon::start_with(config_path, config, services, admin_down)?;
    crate::memory::release_freed_memory();
    ops.attach(daemon.statuses());
    ops.attach_bfd(daemon.bfd_view());
    daemon.set_bfd_events(ops.bfd_event_sink());
    if let Some(fib) = daemon.fib() {
        ops.attach_fib(fib.clone());
    }
    daemon.ops = Some(ops);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(()) = reload.recv() => daemon.reload().await,
            Some(cmd) = ops_rx.recv() => daemon.on_ops(cmd).await,
        }
    }
    daemon.drain_before_exit().await;
    daemon.shutdown().await;
    Ok(())
}

/// Peers by address, for the accept loops (read-locked only for a lookup, never across an
/// await).
type PeerDirectory = Arc<RwLock<Directory>>;

/// Who an inbound connection is for: the peer with its source address, else the unnumbered
/// peer of the interface a link-local source is scoped to.
#[derive(Default)]
struct Directory {
    by_address: HashMap<IpAddr, mpsc::Sender<PeerCommand>>,
    by_interface: HashMap<String, (mpsc::Sender<PeerCommand>, crate::unnumbered::Inbound)>,
}

impl Directory {
    fn lookup(&self, remote: SocketAddr) -> Option<mpsc::Sender<PeerCommand>> {
        let ip = canonical(remote.ip());
        if let Some(tx) = self.by_address.get(&ip) {
            return Some(tx.clone());
        }
        let SocketAddr::V6(v6) = remote else {
            return None;
        };
        if !v6.ip().is_unicast_link_local() {
            return None;
        }
        let ifname = crate::link::interface_name(v6.scope_id())?;
        let (tx, inbound) = self.by_interface.get(&ifname)?;
        inbound.heard(*v6.ip());
        Some(tx.clone())
    }
}

struct Listener {
    socket: Arc<TcpListener>,
    task: JoinHandle<()>,
}

/// The running daemon: listeners and one task per peer. [`run`] drives it from signals; a
/// control socket (issue 6) can drive it through the same methods.
pub struct Daemon {
    path: PathBuf,
    config: Config,
    global: Arc<Global>,
    services: Arc<Announcements>,
    peers: BTreeMap<String, PeerHandle>,
    directory: PeerDirectory,
    listeners: BTreeMap<SocketAddr, Listener>,
    /// Every peer's status, for a control socket / metrics (issue 6).
    statuses: watch::Sender<BTreeMap<String, watch::Receiver<PeerStatus>>>,
    /// Operations (issue 6): decides the services sent ([`crate::control`]).
    ops: Option<crate::control::Ops>,
    /// Peers shut down by the operator (`bgpctl neighbor NAME shutdown`), with the message:
    /// they stay down across reloads and restarts until `enable`.
    admin_down: BTreeMap<String, String>,
    /// BFD for the peers that ask for it (issue 12, [`crate::bfd`]).
    bfd: crate::bfd::Bfd,
    /// The links of unnumbered peers, by peer name ([`crate::unnumbered`]).
    links: BTreeMap<String, crate::unnumbered::Link>,
    /// The Loc-RIB owner task (issue 16, [`crate::locrib`]), fed by every peer.
    rib: crate::locrib::RibHandle,
    /// The kernel FIB thread (`[fib]`, [`crate::fib::task`]), when configured and usable.
    fib: Option<crate::fib::task::FibHandle>,
}

impl Daemon {
    /// Binds the listeners and starts every peer of `config` (read from `path`, which
    /// [`Daemon::reload`] re-reads).
    pub fn start(path: PathBuf, config: Config) -> Result<Daemon, DaemonError> {
        let services = Arc::new(Announcements::from_services(config.services.clone()));
        Daemon::start_with(path, config, services, BTreeMap::new())
    }

    /// [`Daemon::start`] announcing `services` (configured and runtime services, as
    /// [`crate::control::Ops::services`] gives them) rather than the file's services alone.
    /// Peers named in `admin_down` (with the operator's message) start shut down.
    pub fn start_with(
        path: PathBuf,
        config: Config,
        services: Arc<Announcements>,
        admin_down: BTreeMap<String, String>,
    ) -> Result<Daemon, DaemonError> {
        let global = Arc::new(config.global.clone());
        let config_rib = config.global.rib;
        let (statuses, _) = watch::channel(BTreeMap::new());
        let mut daemon = Daemon {
            path,
            global,
            services,
            peers: BTreeMap::new(),
            directory: Arc::new(RwLock::new(Directory::default())),
            listeners: BTreeMap::new(),
            statuses,
            config,
            ops: None,
            admin_down,
            bfd: crate::bfd::Bfd::start(),
            links: BTreeMap::new(),
            rib: crate::locrib::spawn(config_rib),
            fib: None,
        };
        if let Some(settings) = daemon.config.fib {
            match crate::fib::task::FibHandle::start(settings, daemon.rib.clone()) {
                Ok(h) => {
                    tokio::spawn(crate::fib::task::sweep_when_converged(
                        h.clone(),
                        daemon.statuses.subscribe(),
                        daemon.config.peers.len(),
                    ));
                    daemon.fib = Some(h);
                }
                Err(e) => {
                    error!("fib: the kernel FIB is not programmed ({e}); bgpd runs on without it")
                }
            }
        }
        let listen = daemon.config.global.listen.clone();
        for addr in listen {
            daemon.bind(addr)?;
        }
        let peers = daemon.config.peers.clone();
        for peer in peers {
            daemon.start_peer(peer);
        }
        let configured = daemon.config.services.len();
        let held = configured.saturating_sub(daemon.services.services.len());
        let runtime = daemon.services.runtime.len();
        info!(
            "bgpd started: AS {}, router id {}, {} peer{}, {} service{} in the file{}, {} \
             runtime service{}, listening on {}",
            daemon.config.global.asn,
            daemon.config.global.router_id,
            daemon.peers.len(),
            plural(daemon.peers.len()),
            configured,
            plural(configured),
            if held > 0 {
                format!(" ({held} held back until a health check passes, or withdrawn)")
            } else {
                String::new()
            },
            runtime,
            plural(runtime),
            if daemon.listeners.is_empty() {
                "nothing (outbound only)".to_string()
            } else {
                daemon
                    .listeners
                    .keys()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        );
        Ok(daemon)
    }

    fn bind(&mut self, addr: SocketAddr) -> Result<(), DaemonError> {
        let socket = transport::bind_listener(addr)
            .map_err(|source| DaemonError::Listen { addr, source })?;
        let socket = Arc::new(socket);
        // MD5 keys of the peers already configured.
        for peer in &self.config.peers {
            if let Some(key) = &peer.password {
                if let Err(e) = set_peer_md5(&socket, peer, Some(key.as_bytes())) {
                    error!(
                        "cannot set the TCP MD5 key for {} on {addr}: {e}",
                        peer::label(peer)
                    );
                }
            }
        }
        let task = tokio::spawn(accept_loop(socket.clone(), self.directory.clone()));
        self.listeners.insert(addr, Listener { socket, task });
        Ok(())
    }

    fn start_peer(&mut self, peer: Peer) {
        let peer = Arc::new(peer);
        if let Some(key) = &peer.password {
            for (addr, l) in &self.listeners {
                if let Err(e) = set_peer_md5(&l.socket, &peer, Some(key.as_bytes())) {
                    error!(
                        "cannot set the TCP MD5 key for {} on {addr}: {e}",
                        peer::label(&peer)
                    );
                }
            }
        }
        let link = peer.unnumbered().map(crate::unnumbered::Link::start);
        let handle = peer::spawn_with(
            self.global.clone(),
            peer.clone(),
            self.services.clone(),
            self.admin_down.get(&peer.name).cloned(),
            Some(self.rib.clone()),
            link.as_ref().map(crate::unnumbered::Link::neighbor),
        );
        if let Ok(mut dir) = self.directory.write() {
            match (&link, peer.unnumbered()) {
                (Some(link), Some(ifname)) => {
                    let entry = (handle.commands.clone(), link.inbound());
                    dir.by_interface.insert(ifname.to_string(), entry);
                }
                _ => {
                    dir.by_address.insert(peer.address, handle.commands.clone());
                }
            }
        }
        if let Some(link) = link {
            self.links.insert(peer.name.clone(), link);
        }
        self.statuses.send_modify(|m| {
            m.insert(peer.name.clone(), handle.status.clone());
        });
        start_bfd(&self.bfd, &peer, &handle);
        self.peers.insert(peer.name.clone(), handle);
    }

    /// The BFD sessions, for the control socket and metrics.
    pub fn bfd_view(&self) -> crate::bfd::BfdView {
        self.bfd.view()
    }

    /// Sends BFD transitions to the event timeline.
    pub fn set_bfd_events(&self, sink: crate::bfd::EventSink) {
        self.bfd.set_event_sink(sink);
    }

    async fn stop_peer(&mut self, name: &str, notification: Notification) {
        let Some(handle) = self.peers.remove(name) else {
            return;
        };
        let peer = handle.peer.clone();
        if peer.bfd.is_some() {
            self.bfd.remove(name);
        }
        if let Ok(mut dir) = self.directory.write() {
            match peer.unnumbered() {
                Some(ifname) => {
                    dir.by_interface.remove(ifname);
                }
                None => {
                    dir.by_address.remove(&peer.address);
                }
            }
        }
        self.links.remove(name);
        self.statuses.send_modify(|m| {
            m.remove(name);
        });
        // The link-local key is shared by every unnumbered peer (one key, validated).
        let shared = peer.unnumbered().is_some()
            && self
                .peers
                .values()
                .any(|h| h.peer.unnumbered().is_some() && h.peer.password.is_some());
        if peer.password.is_some() && !shared {
            for (addr, l) in &self.listeners {
                if let Err(e) = set_peer_md5(&l.socket, &peer, None) {
                    debug!(
                        "cannot remove the TCP MD5 key for {} on {addr}: {e}",
                        peer::label(&peer)
                    );
                }
            }
        }
        handle.stop(notification, STOP_TIMEOUT).await;
        self.rib.send(crate::locrib::RibInput::Removed {
            peer: name.to_string(),
        });
    }

    /// The Loc-RIB (received routes, selection, forwarding changes).
    pub fn rib(&self) -> &crate::locrib::RibHandle {
        &self.rib
    }

    /// The kernel FIB thread, when `[fib]` is configured and the kernel FIB is usable.
    pub fn fib(&self) -> Option<&crate::fib::task::FibHandle> {
        self.fib.as_ref()
    }

    /// Every peer's status by name; the map changes when peers are added or removed.
    pub fn statuses(&self) -> watch::Receiver<BTreeMap<String, watch::Receiver<PeerStatus>>> {
        self.statuses.subscribe()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The routes received from `peer` (Adj-RIB-In), or `None` for an unknown peer.
    pub async fn adj_rib_in(&self, peer: &str) -> Option<Vec<bgp_fsm::Route>> {
        let handle = self.peers.get(peer)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle.commands.send(PeerCommand::AdjRibIn(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The routes announced to `peer` (Adj-RIB-Out), or `None` for an unknown peer.
    pub async fn adj_rib_out(&self, peer: &str) -> Option<Vec<bgp_fsm::Route>> {
        let handle = self.peers.get(peer)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle
            .commands
            .send(PeerCommand::AdjRibOut(tx))
            .await
            .ok()?;
        rx.await.ok()
    }

    async fn send_to(&self, peer: &str, cmd: PeerCommand) {
        if let Some(h) = self.peers.get(peer) {
            if h.commands.send(cmd).await.is_err() {
                warn!("peer task for {peer} is gone");
            }
        }
    }

    /// Resets the session with `peer` (close with `notification`, e.g. Cease 6/4, and start
    /// again after the IdleHoldTime). Returns false for an unknown peer.
    pub async fn reset_peer(&self, peer: &str, notification: Notification) -> bool {
        match self.peers.get(peer) {
            Some(h) => h
                .commands
                .send(PeerCommand::Reset(notification))
                .await
                .is_ok(),
            None => false,
        }
    }

    /// Replaces the services announced (e.g. configured plus runtime ones from the control
    /// API): each live session gets UPDATEs for the difference, nothing is reset.
    pub async fn set_services(&mut self, services: Vec<Service>) {
        self.set_announcements(Arc::new(Announcements::from_services(services)))
            .await;
    }

    /// Replaces what is announced (configured and runtime services): each live session gets
    /// UPDATEs for the difference, nothing is reset.
    pub async fn set_announcements(&mut self, services: Arc<Announcements>) {
        if *self.services == *services {
            return;
        }
        self.services = services;
        self.push_services().await;
    }

    /// Hands the current announcements to every peer task, which sends its difference.
    async fn push_services(&self) {
        for handle in self.peers.values() {
            if handle
                .commands
                .send(PeerCommand::Services(self.services.clone()))
                .await
                .is_err()
            {
                warn!("peer task for {} is gone", peer::label(&handle.peer));
            }
        }
    }

    /// Carries out a request of [`crate::control::Ops`] (issue 6).
    async fn on_ops(&mut self, cmd: crate::control::DaemonCommand) {
        use crate::control::DaemonCommand;
        match cmd {
            DaemonCommand::Resync => {
                if let Some(services) = self.ops.as_ref().map(|o| o.services()) {
                    self.set_announcements(services).await;
                }
            }
            DaemonCommand::StopPeers(notification) => {
                let names: Vec<String> = self.peers.keys().cloned().collect();
                for name in names {
                    self.stop_peer(&name, notification.clone()).await;
                }
            }
            DaemonCommand::StartPeers => {
                for peer in self.config.peers.clone() {
                    if !self.peers.contains_key(&peer.name) {
                        self.start_peer(peer);
                    }
                }
            }
            DaemonCommand::Shutdown { peer, notification } => {
                let message = notification
                    .shutdown_message()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                self.admin_down.insert(peer.clone(), message);
                self.send_to(&peer, PeerCommand::Shutdown(notification))
                    .await;
            }
            DaemonCommand::Enable { peer } => {
                self.admin_down.remove(&peer);
                self.send_to(&peer, PeerCommand::Enable).await;
            }
            DaemonCommand::Reset { peer, notification } => {
                self.reset_peer(&peer, notification).await;
            }
            DaemonCommand::Refresh { peer } => {
                self.send_to(&peer, PeerCommand::Refresh).await;
            }
            DaemonCommand::AdjRib {
                peer,
                received,
                reply,
            } => {
                let routes = if received {
                    self.adj_rib_in(&peer).await
                } else {
                    self.adj_rib_out(&peer).await
                };
                let _ = reply.send(routes);
            }
            DaemonCommand::LocRib { prefix, reply } => {
                // Answered by the Loc-RIB task itself: the daemon loop does not wait.
                // The AS_PATHs shown come from the peers' Adj-RIB-In (the Loc-RIB keeps only
                // decision keys).
                let rib = self.rib.clone();
                let peers: BTreeMap<String, _> = self
                    .peers
                    .iter()
                    .map(|(name, h)| (name.clone(), h.commands.clone()))
                    .collect();
                tokio::spawn(async move {
                    let snaps = rib.query(prefix).await;
                    let _ = reply.send(crate::peer::fill_as_paths(snaps, &peers).await);
                });
            }
        }
    }

    /// SIGTERM with `global.drain_time` (RFC 8326): GRACEFUL_SHUTDOWN, wait, withdraw.
    async fn drain_before_exit(&mut self) {
        let Some(wait) = self.ops.as_ref().and_then(|o| o.begin_shutdown_drain()) else {
            return;
        };
        self.on_ops(crate::control::DaemonCommand::Resync).await;
        tokio::time::sleep(wait).await;
        if let Some(ops) = &self.ops {
            ops.finish_drain();
        }
        self.on_ops(crate::control::DaemonCommand::Resync).await;
    }

    /// Stops every session with Cease 6/2 and the Shutdown Communication
    /// [`SHUTDOWN_MESSAGE`], waiting at most [`STOP_TIMEOUT`] for each.
    pub async fn shutdown(mut self) {
        // The FIB first: with retain_on_stop the sessions closing below must not empty it.
        if let Some(fib) = self.fib.take() {
            fib.stop(Duration::from_secs(10)).await;
        }
        info!("shutting down: sending Cease 6/2 \"{SHUTDOWN_MESSAGE}\" to every peer");
        for (_, l) in std::mem::take(&mut self.listeners) {
            l.task.abort();
        }
        // BFD AdminDown first (RFC 5880 §6.8.16), so routers do not see a failure.
        self.bfd.shutdown(Duration::from_millis(200)).await;
        let stops: Vec<_> = std::mem::take(&mut self.peers)
            .into_values()
            .map(|h| h.stop(Notification::cease(2, Some(SHUTDOWN_MESSAGE)), STOP_TIMEOUT))
            .collect();
        futures::future::join_all(stops).await;
        info!("bgpd stopped");
    }
}

/// Installs or removes `peer`'s TCP MD5 key on a listener: for its address, or for every
/// link-local address when it is unnumbered (its address is learned at run time).
fn set_peer_md5(listener: &TcpListener, peer: &Peer, key: Option<&[u8]>) -> std::io::Result<()> {
    match peer.unnumbered() {
        Some(_) => transport::set_listener_md5_link_local(listener, key),
        None => transport::set_listener_md5(listener, peer.address, key),
    }
}

/// Runs BFD for `peer` if it asks for it (RFC 5881), coupled to its task.
fn start_bfd(bfd: &crate::bfd::Bfd, peer: &Peer, handle: &PeerHandle) {
    if let Some(settings) = &peer.bfd {
        bfd.add(crate::bfd::NewSession {
            peer: peer.name.clone(),
            remote: peer.address,
            local: peer.local_address,
            settings: settings.clone(),
            peer_status: handle.status.clone(),
            peer_commands: handle.commands.clone(),
        });
    }
}

async fn accept_loop(listener: Arc<TcpListener>, directory: PeerDirectory) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let tx = directory.read().ok().and_then(|d| d.lookup(remote));
                match tx {
                    Some(tx) => {
                        // try_send: a peer task that does not keep up must not stall accepts
                        // for the others.
                        if tx.try_send(PeerCommand::Inbound(stream)).is_err() {
                            debug!("dropped a connection from {remote}: its peer task is busy");
                        }
                    }
                    None => {
                        info!(
                            "refused a connection from {remote}: not a configured peer (sent \
                             NOTIFICATION 6/5)"
                        );
                        tokio::spawn(reject_unknown(stream));
                    }
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Cease / Connection Rejected (RFC 4486 §4, subcode 5) to an unknown source, then close.
async fn reject_unknown(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let msg = transport::connection_rejected_notification();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(&msg).await?;
        stream.shutdown().await
    })
    .await;
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_connections_find_their_peer_by_address_or_by_link() {
        let (numbered, _numbered_rx) = mpsc::channel(1);
        let (unnumbered, _unnumbered_rx) = mpsc::channel(1);
        let (inbound, mut heard) = crate::unnumbered::Inbound::channel();
        let mut dir = Directory::default();
        dir.by_address
            .insert("10.0.0.1".parse().unwrap(), numbered.clone());
        dir.by_interface
            .insert("lo".to_string(), (unnumbered.clone(), inbound));
        let lo = crate::link::interface_index("lo").expect("lo");
        let found = |remote: &str| dir.lookup(remote.parse().unwrap());
        // By address, an IPv4-mapped source as the IPv4 address.
        assert!(found("10.0.0.1:40000").is_some_and(|tx| tx.same_channel(&numbered)));
        assert!(found("[::ffff:10.0.0.1]:40000").is_some_and(|tx| tx.same_channel(&numbered)));
        // A link-local source scoped to lo is lo's unnumbered peer, and lo's link hears it.
        assert!(
            found(&format!("[fe80::7%{lo}]:40000")).is_some_and(|tx| tx.same_channel(&unnumbered))
        );
        assert_eq!(heard.try_recv().ok(), Some("fe80::7".parse().unwrap()));
        // Anything else is nobody's: a global address, another link, no scope.
        assert!(found("[2001:db8::7]:40000").is_none());
        assert!(found("[fe80::7%4294967295]:40000").is_none());
        assert!(found("[fe80::7]:40000").is_none());
        assert!(heard.try_recv().is_err());
    }
}
