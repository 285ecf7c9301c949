//! BFD for BGP sessions: RFC 5881 single hop, coupled to BGP per RFC 5882.
//!
//! The protocol lives in the sans-IO `bfd` crate; this module is the driver. One thread
//! (`task`, no async runtime) owns every peer's [`bfd::Session`] and the shared receive
//! socket of each family on UDP port 3784 ([`socket`]); it sleeps in `ppoll(2)` until the
//! earliest deadline or a datagram, reads what is queued, drops what is not for us cheaply,
//! feeds the rest to the sessions and carries out their actions. Each session sends from its
//! own socket, bound to the BGP session's local address and a port in 49152-65535, with TTL
//! 255 (RFC 5881 §4, §5).
//!
//! Coupling (RFC 5882 §4.3): a BFD session that goes from Up to Down closes the peer's BGP
//! session at once with Cease 6/10 "BFD Down" (RFC 9384) through
//! [`crate::peer::PeerCommand::Reset`]; the BGP session then restarts as after any failure.
//! BGP does not wait for BFD: a BFD session that never came Up closes nothing, and a router
//! that takes BFD AdminDown does not take BGP down (RFC 5882 §3.2). We send the C bit clear:
//! our BFD runs in the BGP process and shares its fate.
//!
//! Bad input (issue 12): a datagram with a TTL other than 255, from an address that is no
//! BFD peer, malformed, or for a discriminator we do not know is dropped in the receive task
//! and counted in [`Drops`]; a source that sends faster than [`PER_SOURCE_RATE`] packets a
//! second is cut back to that rate, and the thread reads at most a bounded batch before it
//! serves the sessions' deadlines, so a flood cannot delay the other sessions' timers.

pub mod socket;
mod task;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::BfdSettings;
use crate::peer::PeerCommand;
use crate::status::PeerStatus;

pub use task::PER_SOURCE_RATE;

/// Where BFD transitions go for the event timeline (`bgpctl events`): (peer name, sentence).
pub type EventSink = Arc<dyn Fn(&str, String) + Send + Sync>;

/// One peer's BFD session as `bgpctl neighbor` and the metrics show it.
#[derive(Debug, Clone, PartialEq)]
pub struct BfdStatus {
    /// The peer's name.
    pub peer: String,
    /// The router's address.
    pub remote: IpAddr,
    /// Our address and source port, once known.
    pub local: Option<SocketAddr>,
    /// The settings in force (RFC 5880 §6.8.1: intervals and multiplier).
    pub settings: BfdSettings,
    /// bfd.SessionState; AdminDown until the local address is known.
    pub state: ::bfd::State,
    /// bfd.RemoteSessionState.
    pub remote_state: ::bfd::State,
    /// Our discriminator (bfd.LocalDiscr).
    pub local_discr: u32,
    /// The router's discriminator (bfd.RemoteDiscr); 0 before it sent.
    pub remote_discr: u32,
    /// Our transmit interval: the larger of our desired interval and the router's Required
    /// Min RX (RFC 5880 §6.8.2, §6.8.7).
    pub tx_interval: Duration,
    /// The router's transmit interval to us (None until it sent).
    pub rx_interval: Option<Duration>,
    /// Our Detection Time of the router (§6.8.4).
    pub detection_time: Option<Duration>,
    /// The router's Detect Mult.
    pub remote_multiplier: Option<u8>,
    /// bfd.LocalDiag: the diagnostic of the last state change.
    pub diagnostic: ::bfd::Diagnostic,
    /// When the state last changed.
    pub since: SystemTime,
    /// State changes since the session was created.
    pub state_changes: u64,
    /// Packets received, sent and dropped.
    pub counters: ::bfd::Counters,
    /// Why the session has not started (no local address yet, socket error).
    pub waiting: Option<String>,
}

/// Datagrams the receive tasks dropped before any session saw them.
#[derive(Debug, Default)]
pub struct Drops {
    /// TTL or Hop Limit not 255 (RFC 5881 §5).
    pub ttl: AtomicU64,
    /// From an address that is no BFD peer.
    pub unknown_source: AtomicU64,
    /// Not a valid Control packet (RFC 5880 §6.8.6 length, version, ... checks).
    pub malformed: AtomicU64,
    /// Your Discriminator names no session, or a session of another peer.
    pub unknown_discriminator: AtomicU64,
    /// The source sent faster than [`PER_SOURCE_RATE`].
    pub rate_limited: AtomicU64,
}

impl Drops {
    /// (reason label, count), for metrics and `bgpctl`.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("ttl", l(&self.ttl)),
            ("unknown_source", l(&self.unknown_source)),
            ("malformed", l(&self.malformed)),
            ("unknown_discriminator", l(&self.unknown_discriminator)),
            ("rate_limited", l(&self.rate_limited)),
        ]
    }

    pub(crate) fn bump(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

/// What readers (control socket, metrics) see: every session's status and the drops.
#[derive(Debug, Clone)]
pub struct BfdView {
    /// Every session's status, by peer name.
    pub sessions: watch::Receiver<BTreeMap<String, BfdStatus>>,
    /// Datagrams dropped before reaching a session.
    pub drops: Arc<Drops>,
}

/// A new BFD session for a peer.
#[derive(Debug)]
pub struct NewSession {
    /// The peer's name.
    pub peer: String,
    /// The router's address.
    pub remote: IpAddr,
    /// `local_address` from the configuration; without it the address comes from the BGP
    /// connection, or a route lookup until there is one.
    pub local: Option<IpAddr>,
    /// The session's intervals and multiplier.
    pub settings: BfdSettings,
    /// The BGP session's status, which the BFD session follows.
    pub peer_status: watch::Receiver<PeerStatus>,
    /// The peer task's command queue: a BFD Down closes the BGP session through it.
    pub peer_commands: mpsc::Sender<PeerCommand>,
}

#[derive(Debug)]
enum Command {
    Add(Box<NewSession>),
    Update { peer: String, settings: BfdSettings },
    Remove { peer: String },
    Events(EventSinkBox),
    Shutdown(oneshot::Sender<()>),
}

struct EventSinkBox(EventSink);

impl std::fmt::Debug for EventSinkBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

/// The daemon's handle on the BFD thread.
#[derive(Debug)]
pub struct Bfd {
    commands: mpsc::UnboundedSender<Command>,
    /// One byte on this socket wakes the thread to read `commands`.
    wake: Option<UnixDatagram>,
    view: BfdView,
}

impl Bfd {
    /// Starts the BFD thread. It runs no async runtime: it waits in `ppoll(2)` for the
    /// earliest deadline, a datagram or a command, so that 100 sessions at 50 ms cost a few
    /// hundred wake-ups a second and no hand-off between tasks. The receive sockets are bound
    /// when the first session is added, so a daemon without BFD peers never opens port 3784.
    pub fn start() -> Bfd {
        let (tx, rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(BTreeMap::new());
        let drops = Arc::new(Drops::default());
        let task_drops = drops.clone();
        let wake = match UnixDatagram::pair().and_then(|(a, b)| {
            a.set_nonblocking(true)?;
            b.set_nonblocking(true)?;
            Ok((a, b))
        }) {
            Ok((ours, theirs)) => {
                let spawned = std::thread::Builder::new()
                    .name("bfd".into())
                    .spawn(move || task::run(rx, theirs, status_tx, task_drops));
                match spawned {
                    Ok(_) => Some(ours),
                    Err(e) => {
                        tracing::error!("cannot start the BFD thread: {e}");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::error!("cannot start BFD (no wake-up socket pair): {e}");
                None
            }
        };
        Bfd {
            commands: tx,
            wake,
            view: BfdView {
                sessions: status_rx,
                drops,
            },
        }
    }

    fn send(&self, cmd: Command) {
        if self.commands.send(cmd).is_ok() {
            self.wake();
        }
    }

    /// A full socket buffer means a wake-up is pending already: nothing to do then.
    fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.send(&[1]);
        }
    }

    /// Runs BFD for a peer (replacing any session it had).
    pub fn add(&self, new: NewSession) {
        self.send(Command::Add(Box::new(new)));
    }

    /// New intervals or multiplier for a peer's live session: a Poll Sequence (RFC 5880
    /// §6.5), no flap. A change of `passive` applies from the next start.
    pub fn update(&self, peer: &str, settings: BfdSettings) {
        self.send(Command::Update {
            peer: peer.to_owned(),
            settings,
        });
    }

    /// Ends a peer's session (AdminDown, RFC 5880 §6.8.16, so the router does not count it
    /// as a failure).
    pub fn remove(&self, peer: &str) {
        self.send(Command::Remove {
            peer: peer.to_owned(),
        });
    }

    /// Sends BFD transitions to the event timeline from now on.
    pub fn set_event_sink(&self, sink: EventSink) {
        self.send(Command::Events(EventSinkBox(sink)));
    }

    /// Every session's status and the drop counters.
    pub fn view(&self) -> BfdView {
        self.view.clone()
    }

    /// Takes every session AdminDown (sending the AdminDown packets) and waits, at most
    /// `timeout`, until they are out.
    pub async fn shutdown(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).is_ok() {
            self.wake();
            let _ = tokio::time::timeout(timeout, wait).await;
        }
    }
}

impl Drop for Bfd {
    /// The thread sees the closed command channel and ends.
    fn drop(&mut self) {
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, closed));
        self.wake();
    }
}

/// "Up", "Down", ... as operators and FRR write them.
pub fn state_name(s: ::bfd::State) -> &'static str {
    match s {
        ::bfd::State::AdminDown => "AdminDown",
        ::bfd::State::Down => "Down",
        ::bfd::State::Init => "Init",
        ::bfd::State::Up => "Up",
    }
}
