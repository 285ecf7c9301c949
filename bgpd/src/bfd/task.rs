//! The BFD thread (see the module docs of [`super`]): every session, the shared receive
//! sockets and the deadlines, in one loop without an async runtime.
//!
//! What one wake-up costs is most of what BFD costs (100 sessions at 50 ms send and receive
//! about 2,300 packets a second each way), so the loop is built to wake rarely and do little
//! per packet:
//! - each session may send up to [`TX_SLACK`] after its Transmit deadline (its jitter is
//!   drawn so that the interval still keeps to RFC 5880 §6.8.7, see
//!   `bfd::SessionConfig::transmit_slack`): the thread sleeps until the earliest time some
//!   session must be served ([`bfd::Session::serve_by`]) and then serves every session whose
//!   deadline has come, so deadlines close together share one wake-up;
//! - when that wake-up is at most [`RX_DEFER`] away, the thread does not ask `ppoll(2)` to
//!   wake it for datagrams: they wait in the socket (at most that long) and are read, before
//!   any deadline is served, by the wake-up that comes anyway;
//! - sessions live in a slab; a datagram finds its session by Your Discriminator (RFC 5880
//!   §6.3), or by source address while that is zero; each session's two deadlines are kept
//!   in a compact array next to the slab, scanned once per wake-up;
//! - datagrams are read into one buffer and the actions go into one reused `Vec`.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ::bfd::{
    coupling, Action, ControlView, Coupling, Diagnostic, Event, Session, SessionConfig, State,
};
use bgp_proto::notification::cease;
use bgp_proto::Notification;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::socket::{self, RecvBatch, RecvSocket, CONTROL_PORT, TTL};
use super::{state_name, BfdStatus, Command, Drops, EventSink, NewSession};
use crate::config::BfdSettings;
use crate::peer::PeerCommand;
use crate::status::PeerStatus;

/// Packets a second accepted from one source address. A router sends at most one packet
/// per negotiated interval (10 ms at the shortest we accept) plus Poll/Final answers; more
/// than this is a flood, cut back so that it cannot crowd out other sessions.
pub const PER_SOURCE_RATE: u32 = 1000;
/// Burst allowed above [`PER_SOURCE_RATE`].
const PER_SOURCE_BURST: u32 = 200;
/// `recvmmsg(2)` calls on one socket before the deadlines are served again (up to 256
/// datagrams): a flood waits in the socket buffer (and the kernel drops what overflows it),
/// the timers do not.
const READ_BUDGET: usize = 8;
/// How often sessions without a local address look again, and statuses are republished.
const TICK: Duration = Duration::from_secs(1);

/// How late a session's Transmit deadline may be served (`bfd::SessionConfig::transmit_slack`;
/// the session caps it at a tenth of its interval, 5 ms at 50 ms). Detection deadlines get
/// no slack.
const TX_SLACK: Duration = Duration::from_millis(5);
/// How long a received datagram may wait in the socket for a wake-up that is due anyway.
/// A datagram read late restarts the Detection Time late, so this only ever delays our
/// detection (by at most this much, against 30 ms or more); datagrams are read before any
/// deadline is served, so a packet that arrived in time always counts. Poll answers (§6.5)
/// go out at most this late.
const RX_DEFER: Duration = Duration::from_millis(5);

struct Entry {
    name: String,
    remote: IpAddr,
    configured_local: Option<IpAddr>,
    local: Option<SocketAddr>,
    settings: BfdSettings,
    session: Session,
    socket: Option<std::net::UdpSocket>,
    peer_status: watch::Receiver<PeerStatus>,
    peer_commands: mpsc::Sender<PeerCommand>,
    since: SystemTime,
    state_changes: u64,
    waiting: Option<String>,
    send_errors_logged: bool,
}

/// One session's deadlines, as last read from it.
#[derive(Debug, Clone, Copy, Default)]
struct Deadline {
    /// [`Session::next_timeout`]: from then on, serve it.
    due: Option<Instant>,
    /// [`Session::serve_by`]: serve it by then.
    by: Option<Instant>,
}

/// A token bucket per source address.
struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Task {
    /// Sessions by slot; a removed session leaves `None`, reused by the next one.
    slots: Vec<Option<Entry>>,
    by_name: HashMap<String, usize>,
    by_discr: HashMap<u32, usize>,
    by_remote: HashMap<IpAddr, usize>,
    /// Per slot, like `slots`.
    deadlines: Vec<Deadline>,
    status: watch::Sender<BTreeMap<String, BfdStatus>>,
    drops: Arc<Drops>,
    /// IPv4 and IPv6 receive sockets.
    receivers: [Option<RecvSocket>; 2],
    bound: bool,
    /// Why port 3784 could not be bound, per family (IPv4, IPv6).
    listen_errors: [Option<String>; 2],
    events: Option<EventSink>,
    next_discr: u32,
    buckets: HashMap<IpAddr, Bucket>,
    /// Reused for every session's actions.
    actions: Vec<Action>,
}

pub(super) fn run(
    mut commands: mpsc::UnboundedReceiver<Command>,
    wake: UnixDatagram,
    status: watch::Sender<BTreeMap<String, BfdStatus>>,
    drops: Arc<Drops>,
) {
    // RFC 5880 §6.8.1: bfd.LocalDiscr "SHOULD be set to a random (but still unique)
    // value": a time-derived start differs between daemon restarts.
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(16))
        .unwrap_or(1);
    let mut t = Task {
        slots: Vec::new(),
        by_name: HashMap::new(),
        by_discr: HashMap::new(),
        by_remote: HashMap::new(),
        deadlines: Vec::new(),
        status,
        drops,
        receivers: [None, None],
        bound: false,
        listen_errors: [None, None],
        events: None,
        next_discr: seed.max(1),
        buckets: HashMap::new(),
        actions: Vec::new(),
    };
    let mut buf = [0u8; 64];
    let mut batch = RecvBatch::default();
    let mut next_tick = Instant::now() + TICK;
    // Per family: was the socket in the last wait, and did it report a datagram.
    let mut polled = [false; 2];
    let mut readable = [false; 2];
    let mut woken = true;
    loop {
        if woken {
            while wake.recv(&mut buf).is_ok() {}
            loop {
                match commands.try_recv() {
                    Ok(Command::Shutdown(done)) => {
                        let names: Vec<String> = t.by_name.keys().cloned().collect();
                        for name in names {
                            t.remove(&name);
                        }
                        let _ = done.send(());
                        return;
                    }
                    Ok(cmd) => t.command(cmd),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        }
        // Datagrams first, then deadlines: a packet that arrived before its session's
        // Detection Time ran out counts even when both are served by the same wake-up.
        let mut more = false;
        for family in 0..2 {
            if !polled[family] || readable[family] {
                more |= t.read(family, &mut batch);
            }
        }
        let now = Instant::now();
        t.serve_deadlines(now);
        if now >= next_tick {
            t.tick();
            next_tick = now + TICK;
        }
        let wake_at = t.serve_by().map_or(next_tick, |d| d.min(next_tick));
        let now = Instant::now();
        let timeout = if more {
            Duration::ZERO
        } else {
            wake_at.saturating_duration_since(now)
        };
        // Without sessions nothing is due: sleep until a command (a daemon without BFD
        // peers never wakes this thread).
        let timeout = (!t.by_name.is_empty()).then_some(timeout);
        let listen = timeout.is_none_or(|d| d > RX_DEFER);
        let mut fds = [wake.as_raw_fd(), -1, -1];
        let mut n = 1;
        let mut slot_of = [None; 2];
        for (family, r) in t.receivers.iter().enumerate() {
            polled[family] = false;
            if let (true, Some(r)) = (listen, r) {
                if let Some(fd) = fds.get_mut(n) {
                    *fd = r.fd();
                    slot_of[family] = Some(n);
                    polled[family] = true;
                    n += 1;
                }
            }
        }
        match socket::wait(fds.get(..n).unwrap_or(&[]), timeout) {
            Ok(ready) => {
                woken = ready[0];
                for family in 0..2 {
                    readable[family] = slot_of[family].is_some_and(|i| ready[i]);
                }
            }
            Err(e) => {
                warn!("BFD: ppoll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                woken = true;
                polled = [false; 2];
            }
        }
    }
}

impl Task {
    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Add(new) => self.add(*new),
            Command::Update { peer, settings } => self.update(&peer, settings),
            Command::Remove { peer } => self.remove(&peer),
            Command::Events(sink) => self.events = Some(sink.0),
            Command::Shutdown(_) => {}
        }
        self.publish();
    }

    fn entry(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn add(&mut self, new: NewSession) {
        self.remove(&new.peer);
        self.bind_receivers();
        let discr = self.allocate_discr();
        let config = session_config(discr, &new.settings);
        let entry = Entry {
            name: new.peer.clone(),
            remote: new.remote,
            configured_local: new.local,
            local: None,
            settings: new.settings,
            session: Session::new(config, u64::from(discr.get())),
            socket: None,
            peer_status: new.peer_status,
            peer_commands: new.peer_commands,
            since: SystemTime::now(),
            state_changes: 0,
            waiting: Some("no local address yet".into()),
            send_errors_logged: false,
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.deadlines.push(Deadline::default());
                self.slots.len() - 1
            }
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(entry);
        }
        self.by_discr.insert(discr.get(), slot);
        self.by_remote.insert(new.remote, slot);
        self.by_name.insert(new.peer, slot);
        self.try_start(slot);
    }

    fn update(&mut self, name: &str, settings: BfdSettings) {
        let Some(&slot) = self.by_name.get(name) else {
            return;
        };
        let Some(e) = self.entry_mut(slot) else {
            return;
        };
        let old = std::mem::replace(&mut e.settings, settings.clone());
        if old.passive != settings.passive {
            info!(
                "BFD with {name}: passive = {} applies from the next start of the session",
                settings.passive
            );
        }
        if (old.min_rx, old.min_tx, old.multiplier)
            != (settings.min_rx, settings.min_tx, settings.multiplier)
        {
            info!(
                "BFD with {name}: intervals changed to min_rx {:?}, min_tx {:?}, multiplier {} \
                 (Poll Sequence, no flap)",
                settings.min_rx, settings.min_tx, settings.multiplier
            );
            let event = Event::SetParameters {
                desired_min_tx: settings.min_tx,
                required_min_rx: settings.min_rx,
                detect_mult: settings.multiplier,
            };
            self.with_session(slot, Instant::now(), |s, now, out| {
                s.handle_into(now, event, out)
            });
        }
    }

    fn remove(&mut self, name: &str) {
        let Some(&slot) = self.by_name.get(name) else {
            return;
        };
        self.with_session(slot, Instant::now(), |s, now, out| {
            s.handle_into(now, Event::Stop, out)
        });
        self.by_name.remove(name);
        if let Some(d) = self.deadlines.get_mut(slot) {
            *d = Deadline::default();
        }
        if let Some(e) = self.slots.get_mut(slot).and_then(Option::take) {
            self.by_discr.remove(&e.session.local_discr());
            if self.by_remote.get(&e.remote) == Some(&slot) {
                self.by_remote.remove(&e.remote);
            }
        }
    }

    /// Once a local address is known: bind the send socket and enable the session.
    fn try_start(&mut self, slot: usize) {
        let Some(e) = self.entry_mut(slot) else {
            return;
        };
        let name = e.name.clone();
        let bgp_local = e.peer_status.borrow().local_address.map(|a| a.ip());
        let wanted = match e.configured_local.or(bgp_local) {
            Some(a) => Ok(a),
            None => socket::route_source(e.remote),
        };
        let local = match wanted {
            Ok(a) => a,
            Err(err) => {
                e.waiting = Some(format!("no route to {}: {err}", e.remote));
                return;
            }
        };
        if e.local.map(|l| l.ip()) == Some(local) && e.socket.is_some() {
            return;
        }
        // Connected to the peer's port 3784: the kernel keeps the route, so a send is no
        // lookup (50 ms sessions send 20 packets a second each).
        let remote = SocketAddr::new(e.remote, CONTROL_PORT);
        match socket::send_socket(local, e.session.local_discr())
            .and_then(|s| s.connect(remote).map(|()| s))
        {
            Ok(s) => {
                let addr = s.local_addr().ok();
                if e.local.is_some() {
                    info!(
                        "BFD with {name}: local address now {local} (the BGP session's), \
                         sending from {addr:?}"
                    );
                }
                e.local = addr;
                e.socket = Some(s);
                e.waiting = None;
            }
            Err(err) => {
                e.waiting = Some(format!("cannot bind a BFD socket to {local}: {err}"));
                return;
            }
        }
        if e.session.state() == State::AdminDown {
            debug!("BFD with {name}: starting from {:?}", e.local);
            self.with_session(slot, Instant::now(), |s, now, out| {
                s.handle_into(now, Event::Start, out)
            });
        }
    }

    fn tick(&mut self) {
        for slot in 0..self.slots.len() {
            // The BGP session's local address wins over a route lookup's (RFC 5881 §4: the
            // session is bound to the BGP session's addresses).
            let rebind = self.entry(slot).is_some_and(|e| {
                let bgp = e.peer_status.borrow().local_address.map(|a| a.ip());
                e.socket.is_none()
                    || (e.configured_local.is_none()
                        && bgp.is_some()
                        && bgp != e.local.map(|l| l.ip()))
            });
            if rebind {
                self.try_start(slot);
            }
        }
        if self.buckets.len() > 4096 {
            self.buckets.clear();
        }
        self.publish();
    }

    /// Reads what is queued on one family's socket, at most [`READ_BUDGET`] batches; true
    /// when the budget ran out (more may be waiting).
    fn read(&mut self, family: usize, batch: &mut RecvBatch) -> bool {
        for _ in 0..READ_BUDGET {
            let Some(sock) = self.receivers.get(family).and_then(Option::as_ref) else {
                return false;
            };
            match sock.recv_batch(batch) {
                Ok(n) => {
                    for (d, payload) in batch.datagrams() {
                        self.received(d.from.ip(), d.ttl, payload);
                    }
                    if n < socket::BATCH {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    debug!("BFD receive failed: {e}");
                    return false;
                }
            }
        }
        true
    }

    /// Checks TTL, source, structure and rate, demultiplexes (RFC 5880 §6.3) and feeds the
    /// session.
    fn received(&mut self, from: IpAddr, ttl: Option<u8>, payload: &[u8]) {
        // RFC 5881 §5: "If BFD authentication is not in use on a session, all BFD Control
        // packets for the session MUST be sent with a Time to Live (TTL) or Hop Limit value
        // of 255. All received BFD Control packets that are demultiplexed to the session
        // MUST be discarded if the received TTL or Hop Limit is not equal to 255."
        if ttl != Some(TTL) {
            return Drops::bump(&self.drops.ttl);
        }
        let Some(&by_source) = self.by_remote.get(&from) else {
            return Drops::bump(&self.drops.unknown_source);
        };
        let your = match ControlView::new_checked(payload) {
            Ok(v) => v.your_discriminator(),
            Err(_) => return Drops::bump(&self.drops.malformed),
        };
        let now = Instant::now();
        let b = self.buckets.entry(from).or_insert(Bucket {
            tokens: f64::from(PER_SOURCE_BURST),
            last: now,
        });
        let refill = now.duration_since(b.last).as_secs_f64() * f64::from(PER_SOURCE_RATE);
        b.tokens = (b.tokens + refill).min(f64::from(PER_SOURCE_BURST));
        b.last = now;
        if b.tokens < 1.0 {
            return Drops::bump(&self.drops.rate_limited);
        }
        b.tokens -= 1.0;
        // RFC 5880 §6.3: by Your Discriminator when it is set; else by source address (one
        // session per peer address).
        let slot = if your != 0 {
            match self.by_discr.get(&your) {
                Some(&s) if self.entry(s).is_some_and(|e| e.remote == from) => s,
                _ => return Drops::bump(&self.drops.unknown_discriminator),
            }
        } else {
            by_source
        };
        self.with_session(slot, now, |s, now, out| s.receive_into(now, payload, out));
    }

    /// Serves every session whose deadline has come.
    fn serve_deadlines(&mut self, now: Instant) {
        for slot in 0..self.deadlines.len() {
            if self
                .deadlines
                .get(slot)
                .and_then(|d| d.due)
                .is_some_and(|due| due <= now)
            {
                self.with_session(slot, now, |s, now, out| s.handle_timeout_into(now, out));
            }
        }
    }

    /// The earliest time by which some session must be served.
    fn serve_by(&self) -> Option<Instant> {
        self.deadlines.iter().filter_map(|d| d.by).min()
    }

    /// Feeds the session in `slot` and carries out the actions.
    fn with_session(
        &mut self,
        slot: usize,
        now: Instant,
        f: impl FnOnce(&mut Session, Instant, &mut Vec<Action>),
    ) {
        let mut actions = std::mem::take(&mut self.actions);
        actions.clear();
        let Some(e) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            self.actions = actions;
            return;
        };
        f(&mut e.session, now, &mut actions);
        let mut changed = false;
        for action in actions.drain(..) {
            match action {
                Action::Send(bytes) => e.send(&bytes),
                Action::StartTimer { .. } | Action::StopTimer(_) => {}
                Action::StateChanged { from, to, diag } => {
                    changed = true;
                    e.since = SystemTime::now();
                    e.state_changes = e.state_changes.saturating_add(1);
                    let sentence = e.transition(from, to, diag);
                    if let Some(sink) = &self.events {
                        sink(&e.name, sentence);
                    } else if to == State::Down && from == State::Up {
                        warn!("{sentence}");
                    } else {
                        info!("{sentence}");
                    }
                }
            }
        }
        self.actions = actions;
        if let Some(d) = self.deadlines.get_mut(slot) {
            *d = Deadline {
                due: e.session.next_timeout(),
                by: e.session.serve_by(),
            };
        }
        if changed {
            self.publish();
        }
    }

    fn allocate_discr(&mut self) -> NonZeroU32 {
        loop {
            let d = self.next_discr;
            self.next_discr = self.next_discr.wrapping_add(1).max(1);
            if let Some(d) = NonZeroU32::new(d) {
                if !self.by_discr.contains_key(&d.get()) {
                    return d;
                }
            }
        }
    }

    fn bind_receivers(&mut self) {
        if self.bound {
            return;
        }
        self.bound = true;
        for ipv6 in [false, true] {
            let family = usize::from(ipv6);
            match RecvSocket::bind(ipv6) {
                Ok(s) => {
                    if let Some(r) = self.receivers.get_mut(family) {
                        *r = Some(s);
                    }
                }
                Err(e) => {
                    let why = format!(
                        "cannot listen for BFD on {}:{CONTROL_PORT}: {e}",
                        if ipv6 { "[::]" } else { "0.0.0.0" }
                    );
                    warn!("{why}; BFD sessions of that family will not come up");
                    if let Some(l) = self.listen_errors.get_mut(family) {
                        *l = Some(why);
                    }
                }
            }
        }
    }

    fn publish(&self) {
        let map: BTreeMap<String, BfdStatus> = self
            .slots
            .iter()
            .flatten()
            .map(|e| {
                let mut status = e.status();
                let family = usize::from(e.remote.is_ipv6());
                if let (None, Some(Some(why))) = (&status.waiting, self.listen_errors.get(family)) {
                    status.waiting = Some(why.clone());
                }
                (e.name.clone(), status)
            })
            .collect();
        self.status.send_if_modified(|m| {
            if *m == map {
                false
            } else {
                *m = map;
                true
            }
        });
    }
}

impl Entry {
    fn send(&mut self, bytes: &[u8]) {
        let Some(s) = &self.socket else {
            return;
        };
        if let Err(err) = s.send(bytes) {
            // EAGAIN or no route: the packet is lost, as on the wire; the remote system's
            // Detection Time decides. Log once per session.
            if !self.send_errors_logged {
                self.send_errors_logged = true;
                debug!("BFD with {}: send failed: {err}", self.name);
            }
        }
    }

    /// Logs and couples a state change; returns the sentence for the event timeline.
    fn transition(&mut self, from: State, to: State, diag: Diagnostic) -> String {
        let (name, remote) = (&self.name, self.remote);
        let coupling = coupling(from, to, self.session.remote_state());
        let mut s = format!("BFD session with {name} ({remote}) ");
        if coupling != Coupling::None {
            // "down" in lower case: the event log warns about it.
            s.push_str("down, ");
        }
        s.push_str(&format!("{} -> {}", state_name(from), state_name(to)));
        if to == State::Up {
            let tx = self.session.negotiated_tx_interval();
            let rx = self.session.negotiated_rx_interval();
            let detect = self.session.detection_time();
            s.push_str(&format!(
                " (tx {} ms, rx {} ms, detection time {} ms)",
                tx.as_millis(),
                rx.map_or(0, |d| d.as_millis()),
                detect.map_or(0, |d| d.as_millis())
            ));
        } else if diag != Diagnostic::NONE {
            s.push_str(&format!(" ({diag})"));
        }
        match coupling {
            Coupling::None => {}
            Coupling::KeepClient => {
                s.push_str("; the router took BFD AdminDown, the BGP session stays");
            }
            Coupling::CloseClient => {
                s.push_str("; closing the BGP session with NOTIFICATION 6/10 (BFD Down)");
                let n = Notification::cease(cease::BFD_DOWN, None);
                if self.peer_commands.try_send(PeerCommand::Reset(n)).is_err() {
                    warn!(
                        "BFD with {name}: could not tell the BGP session (its command queue \
                         is full or gone)"
                    );
                }
            }
        }
        s
    }

    fn status(&self) -> BfdStatus {
        let s = &self.session;
        BfdStatus {
            peer: self.name.clone(),
            remote: self.remote,
            local: self.local,
            settings: self.settings.clone(),
            state: s.state(),
            remote_state: s.remote_state(),
            local_discr: s.local_discr(),
            remote_discr: s.remote_discr(),
            tx_interval: s.negotiated_tx_interval(),
            rx_interval: s.negotiated_rx_interval(),
            detection_time: s.detection_time(),
            remote_multiplier: s.remote_detect_mult(),
            diagnostic: s.local_diag(),
            since: self.since,
            state_changes: self.state_changes,
            counters: *s.counters(),
            waiting: self.waiting.clone(),
        }
    }
}

fn session_config(discr: NonZeroU32, b: &BfdSettings) -> SessionConfig {
    let mut c = SessionConfig::new(discr);
    c.desired_min_tx = b.min_tx;
    c.required_min_rx = b.min_rx;
    c.detect_mult = b.multiplier;
    c.passive = b.passive;
    // Our BFD runs in the BGP process: it shares fate with the control plane (RFC 5880
    // §4.1 C bit clear; RFC 5882 §4.3.2).
    c.control_plane_independent = false;
    c.transmit_slack = TX_SLACK;
    c
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pair() -> (Session, Session, Instant) {
        let a = Session::new(SessionConfig::new(NonZeroU32::new(1).unwrap()), 1);
        let b = Session::new(SessionConfig::new(NonZeroU32::new(2).unwrap()), 2);
        (a, b, Instant::now())
    }

    /// Delivers every packet in `actions` to `to`; returns `to`'s actions.
    fn deliver(actions: Vec<Action>, to: &mut Session, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for a in actions {
            if let Action::Send(p) = a {
                out.extend(to.handle(now, Event::Received(p)));
            }
        }
        out
    }

    fn changes(actions: &[Action]) -> Vec<(State, State)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::StateChanged { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    }

    /// Brings both sessions Up by exchanging packets.
    fn up(a: &mut Session, b: &mut Session, now: Instant) {
        let mut to_b = a.handle(now, Event::Start);
        let _ = b.handle(now, Event::Start);
        for _ in 0..4 {
            let to_a = deliver(to_b, b, now);
            to_b = deliver(to_a, a, now);
        }
        assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    }

    #[test]
    fn up_to_down_by_detection_time_closes_bgp() {
        let (mut a, mut b, now) = pair();
        up(&mut a, &mut b, now);
        let actions = a.handle_timeout(now + Duration::from_secs(10));
        assert_eq!(changes(&actions), [(State::Up, State::Down)]);
        assert_eq!(a.local_diag(), Diagnostic::CONTROL_DETECTION_TIME_EXPIRED);
        assert_eq!(
            coupling(State::Up, State::Down, a.remote_state()),
            Coupling::CloseClient
        );
    }

    #[test]
    fn router_admin_down_keeps_bgp() {
        let (mut a, mut b, now) = pair();
        up(&mut a, &mut b, now);
        let stop = b.handle(now, Event::Stop);
        let actions = deliver(stop, &mut a, now);
        assert_eq!(changes(&actions)[0], (State::Up, State::Down));
        assert_eq!(a.remote_state(), State::AdminDown);
        assert_eq!(
            coupling(State::Up, State::Down, a.remote_state()),
            Coupling::KeepClient
        );
    }

    #[test]
    fn only_leaving_up_for_down_matters() {
        for (from, to) in [
            (State::AdminDown, State::Down),
            (State::Down, State::Init),
            (State::Init, State::Up),
            (State::Down, State::Up),
            (State::Up, State::AdminDown),
            (State::Init, State::Down),
        ] {
            assert_eq!(
                coupling(from, to, State::Down),
                Coupling::None,
                "{from:?} -> {to:?}"
            );
        }
    }
}
