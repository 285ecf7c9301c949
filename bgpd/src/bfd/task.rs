//! The BFD session task and the receive tasks (see the module docs of [`super`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ::bfd::{
    coupling, Action, ControlView, Coupling, Diagnostic, Event, Session, SessionConfig, State,
};
use bgp_proto::notification::cease;
use bgp_proto::Notification;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::socket::{self, RecvSocket, CONTROL_PORT, TTL};
use super::{state_name, BfdStatus, Command, Drops, EventSink, NewSession};
use crate::config::BfdSettings;
use crate::peer::{PeerCommand, PeerStatus};

/// Packets a second accepted from one source address. A router sends at most one packet
/// per negotiated interval (10 ms at the shortest we accept) plus Poll/Final answers; more
/// than this is a flood, cut back so that it cannot crowd out other sessions.
pub const PER_SOURCE_RATE: u32 = 1000;
/// Burst allowed above [`PER_SOURCE_RATE`].
const PER_SOURCE_BURST: u32 = 200;
/// Datagrams queued from the receive tasks to the session task.
const QUEUE: usize = 256;
/// How often sessions without a local address look again, and statuses are republished.
const TICK: Duration = Duration::from_secs(1);
/// Large enough for a Control packet with the longest Authentication Section.
const RECV_BUF: usize = 512;

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

struct Task {
    sessions: HashMap<String, Entry>,
    by_discr: HashMap<u32, String>,
    by_remote: HashMap<IpAddr, String>,
    status: watch::Sender<BTreeMap<String, BfdStatus>>,
    remotes: watch::Sender<Arc<HashSet<IpAddr>>>,
    drops: Arc<Drops>,
    packets: mpsc::Sender<(IpAddr, Bytes)>,
    receivers: Vec<tokio::task::JoinHandle<()>>,
    bound: bool,
    /// Why port 3784 could not be bound, per family (IPv4, IPv6).
    listen_errors: [Option<String>; 2],
    events: Option<EventSink>,
    next_discr: u32,
}

/// How late a transmit or detection deadline may be served so that deadlines close together
/// share one wake-up: a small fraction of the shortest interval (10 ms, RFC 5880 §6.8.7 jitter
/// is 25 %), and far below any detection time.
const COALESCE: Duration = Duration::from_millis(2);

pub(super) async fn run(
    mut commands: mpsc::UnboundedReceiver<Command>,
    status: watch::Sender<BTreeMap<String, BfdStatus>>,
    drops: Arc<Drops>,
) {
    let (packets, mut packets_rx) = mpsc::channel(QUEUE);
    let (remotes, _) = watch::channel(Arc::new(HashSet::new()));
    // RFC 5880 §6.8.1: bfd.LocalDiscr "SHOULD be set to a random (but still unique)
    // value": a time-derived start differs between daemon restarts.
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(16))
        .unwrap_or(1);
    let mut t = Task {
        sessions: HashMap::new(),
        by_discr: HashMap::new(),
        by_remote: HashMap::new(),
        status,
        remotes,
        drops,
        packets,
        receivers: Vec::new(),
        bound: false,
        listen_errors: [None, None],
        events: None,
        next_discr: seed.max(1),
    };
    let mut tick = tokio::time::interval(TICK);
    loop {
        let deadline = t
            .sessions
            .values()
            .filter_map(|e| e.session.next_timeout())
            .min();
        tokio::select! {
            // Timers first: a flood of packets must not delay another session's deadline.
            biased;
            // Deadlines due within COALESCE of each other are served by one wake-up (a
            // packet goes out at most that late; 100 sessions at 50 ms would otherwise wake
            // the task 2,000 times a second).
            () = sleep_until(deadline.map(|d| d + COALESCE)) => {
                let now = Instant::now();
                let due: Vec<String> = t
                    .sessions
                    .values()
                    .filter(|e| e.session.next_timeout().is_some_and(|d| d <= now))
                    .map(|e| e.name.clone())
                    .collect();
                for name in due {
                    t.with_session(&name, |s, now| s.handle_timeout(now));
                }
            }
            cmd = commands.recv() => match cmd {
                None => break,
                Some(Command::Shutdown(done)) => {
                    let names: Vec<String> = t.sessions.keys().cloned().collect();
                    for name in names {
                        t.remove(&name);
                    }
                    let _ = done.send(());
                    break;
                }
                Some(cmd) => t.command(cmd),
            },
            Some((from, bytes)) = packets_rx.recv() => {
                t.received(from, bytes);
                // Whatever else arrived meanwhile, in the same wake-up.
                for _ in 0..64 {
                    match packets_rx.try_recv() {
                        Ok((from, bytes)) => t.received(from, bytes),
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick() => t.tick(),
        }
    }
    for r in &t.receivers {
        r.abort();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
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
        self.publish_remotes();
        self.publish();
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
        self.by_discr.insert(discr.get(), new.peer.clone());
        self.by_remote.insert(new.remote, new.peer.clone());
        self.sessions.insert(new.peer.clone(), entry);
        self.try_start(&new.peer);
    }

    fn update(&mut self, name: &str, settings: BfdSettings) {
        let Some(e) = self.sessions.get_mut(name) else {
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
            self.with_session(name, |s, now| s.handle(now, event));
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.sessions.contains_key(name) {
            return;
        }
        self.with_session(name, |s, now| s.handle(now, Event::Stop));
        if let Some(e) = self.sessions.remove(name) {
            self.by_discr.remove(&e.session.local_discr());
            self.by_remote.remove(&e.remote);
        }
    }

    /// Once a local address is known: bind the send socket and enable the session.
    fn try_start(&mut self, name: &str) {
        let Some(e) = self.sessions.get_mut(name) else {
            return;
        };
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
            self.with_session(name, |s, now| s.handle(now, Event::Start));
        }
    }

    fn tick(&mut self) {
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for name in names {
            // The BGP session's local address wins over a route lookup's (RFC 5881 §4: the
            // session is bound to the BGP session's addresses).
            let rebind = self.sessions.get(&name).is_some_and(|e| {
                let bgp = e.peer_status.borrow().local_address.map(|a| a.ip());
                e.socket.is_none()
                    || (e.configured_local.is_none()
                        && bgp.is_some()
                        && bgp != e.local.map(|l| l.ip()))
            });
            if rebind {
                self.try_start(&name);
            }
        }
        self.publish();
    }

    fn received(&mut self, from: IpAddr, bytes: Bytes) {
        let your = ControlView::new_checked(&bytes[..])
            .map(|v| v.your_discriminator())
            .unwrap_or(0);
        // RFC 5880 §6.3: by Your Discriminator when it is set; else by source address (one
        // session per peer address).
        let name = if your != 0 {
            match self.by_discr.get(&your) {
                Some(n) if self.sessions.get(n).is_some_and(|e| e.remote == from) => n.clone(),
                _ => return Drops::bump(&self.drops.unknown_discriminator),
            }
        } else {
            match self.by_remote.get(&from) {
                Some(n) => n.clone(),
                None => return Drops::bump(&self.drops.unknown_source),
            }
        };
        self.with_session(&name, |s, now| s.handle(now, Event::Received(bytes)));
    }

    /// Feeds the session `name` and carries out the actions.
    fn with_session(&mut self, name: &str, f: impl FnOnce(&mut Session, Instant) -> Vec<Action>) {
        let Some(e) = self.sessions.get_mut(name) else {
            return;
        };
        let actions = f(&mut e.session, Instant::now());
        let mut changed = false;
        for action in actions {
            match action {
                Action::Send(bytes) => e.send(&bytes),
                Action::StartTimer { .. } | Action::StopTimer(_) => {}
                Action::StateChanged { from, to, diag } => {
                    changed = true;
                    e.since = SystemTime::now();
                    e.state_changes = e.state_changes.saturating_add(1);
                    let sentence = e.transition(from, to, diag);
                    if let Some(sink) = &self.events {
                        sink(name, sentence);
                    } else if to == State::Down && from == State::Up {
                        warn!("{sentence}");
                    } else {
                        info!("{sentence}");
                    }
                }
            }
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
            match RecvSocket::bind(ipv6) {
                Ok(s) => self.receivers.push(tokio::spawn(receive(
                    s,
                    self.remotes.subscribe(),
                    self.packets.clone(),
                    self.drops.clone(),
                ))),
                Err(e) => {
                    let why = format!(
                        "cannot listen for BFD on {}:{CONTROL_PORT}: {e}",
                        if ipv6 { "[::]" } else { "0.0.0.0" }
                    );
                    warn!("{why}; BFD sessions of that family will not come up");
                    self.listen_errors[usize::from(ipv6)] = Some(why);
                }
            }
        }
    }

    fn publish_remotes(&self) {
        let set: HashSet<IpAddr> = self.sessions.values().map(|e| e.remote).collect();
        self.remotes.send_replace(Arc::new(set));
    }

    fn publish(&self) {
        let map: BTreeMap<String, BfdStatus> = self
            .sessions
            .values()
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
    c
}

/// A token bucket per source address.
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Reads one family's socket: checks TTL, source, structure and rate, and queues the rest.
async fn receive(
    sock: RecvSocket,
    remotes: watch::Receiver<Arc<HashSet<IpAddr>>>,
    queue: mpsc::Sender<(IpAddr, Bytes)>,
    drops: Arc<Drops>,
) {
    let mut buf = [0u8; RECV_BUF];
    let mut buckets: HashMap<IpAddr, Bucket> = HashMap::new();
    loop {
        let d = match sock.recv(&mut buf).await {
            Ok(d) => d,
            Err(e) => {
                debug!("BFD receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let from = d.from.ip();
        // RFC 5881 §5: "If BFD authentication is not in use on a session, all BFD Control
        // packets for the session MUST be sent with a Time to Live (TTL) or Hop Limit value
        // of 255. All received BFD Control packets that are demultiplexed to the session
        // MUST be discarded if the received TTL or Hop Limit is not equal to 255."
        if d.ttl != Some(TTL) {
            Drops::bump(&drops.ttl);
            continue;
        }
        if !remotes.borrow().contains(&from) {
            Drops::bump(&drops.unknown_source);
            continue;
        }
        let Some(payload) = buf.get(..d.len) else {
            continue;
        };
        if ControlView::new_checked(payload).is_err() {
            Drops::bump(&drops.malformed);
            continue;
        }
        let now = Instant::now();
        let b = buckets.entry(from).or_insert(Bucket {
            tokens: f64::from(PER_SOURCE_BURST),
            last: now,
        });
        let refill = now.duration_since(b.last).as_secs_f64() * f64::from(PER_SOURCE_RATE);
        b.tokens = (b.tokens + refill).min(f64::from(PER_SOURCE_BURST));
        b.last = now;
        if b.tokens < 1.0 {
            Drops::bump(&drops.rate_limited);
            continue;
        }
        b.tokens -= 1.0;
        if buckets.len() > 4096 {
            buckets.clear();
        }
        if queue
            .try_send((from, Bytes::copy_from_slice(payload)))
            .is_err()
        {
            Drops::bump(&drops.queue_full);
        }
    }
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
