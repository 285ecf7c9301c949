//! One configured peer: up to two [`Session`]s, one per TCP connection, and the connection
//! policy above them (after quinn-proto's `Endpoint`, which owns the connections of one socket
//! and tells its caller what to do with each).
//!
//! A [`Neighbor`] decides what the per-connection [`Session`] cannot know alone:
//! - whether an inbound connection is taken, refused (Idle), refused with Cease 6/7
//!   (Established, or a third connection), or run beside the current one as a possible
//!   collision (RFC 4271 §6.8);
//! - how two connections are resolved: opposite directions by BGP Identifier
//!   ([`crate::collision_loser`], §6.8 and RFC 6286 §2.3; the loser sends Cease 6/7,
//!   RFC 4486), the same direction by replacing the older half-open one without a
//!   NOTIFICATION (issue 17 item 3, [`crate::resolve`]);
//! - the graceful-restart R bit of a second session (RFC 4724 §4.1: set only until a session
//!   was Established, which the current session knows);
//! - when the routes to announce are loaded (OpenConfirm, so that they leave right after
//!   Established and before End-of-RIB, RFC 4724 §2), and that they are withdrawn from the
//!   Adj-RIB-Out when the session goes down (the next one recomputes them);
//! - that "passive" is the peer's configured attribute (RFC 4271 §8.1.1,
//!   PassiveTcpEstablishment; issue 17 item 2): a session started for an inbound connection
//!   connects out again after a failure unless the configuration says passive.
//!
//! # Driving contract
//!
//! Like [`Session`], no I/O, no clock: every entry point takes `now` and returns
//! [`Output`]s to carry out in order.
//! - Admin: [`Neighbor::start`], [`Neighbor::stop`], [`Neighbor::reset`],
//!   [`Neighbor::shutdown`], [`Neighbor::enable`] (RFC 4271 Events 1, 2 and 8).
//! - Transport: a new TCP connection (ours after `Output::Connect`, or the peer's) goes in
//!   with [`Neighbor::connected`], which names it with a [`ConnId`]; every later event of that
//!   connection (a framed `Event::Message`, `Event::HeaderError`, `Event::Closed`, the RFC 9687
//!   `Event::SendBlocked` / `Event::SendProgress`) goes in with [`Neighbor::handle_conn`].
//!   A failed connect is [`Neighbor::connect_failed`]. Events for a connection the neighbor
//!   no longer holds are ignored.
//! - Timers: arm one wake-up at [`Neighbor::next_timeout`] and call
//!   [`Neighbor::handle_timeout`]; spurious calls are harmless.
//! - Routes: after `Output::LoadRoutes`, hand the routes to the current session with
//!   [`Neighbor::handle`] (`Event::Announce`, `Event::AnnounceShared`, ...).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use bgp_proto::Notification;
use bytes::Bytes;
use ipnet::IpNet;

use crate::action::{Action, DownReason, RouteEvents};
use crate::collision::{resolve, Direction, Resolution, Speaker};
use crate::config::SessionConfig;
use crate::event::Event;
use crate::import::ImportPolicy;
use crate::negotiate::Negotiated;
use crate::session::{Session, State};

/// Names one TCP connection of a [`Neighbor`] (allocated by [`Neighbor::connected`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

/// Whether a neighbor starts enabled or shut down by the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// Started by [`Neighbor::start`].
    Enabled,
    /// Shut down: stays Idle, refusing its connections, until [`Neighbor::enable`].
    Shutdown,
}

/// One thing the caller of a [`Neighbor`] must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Start a TCP connection attempt to the peer; report it with [`Neighbor::connected`]
    /// (`Direction::Outbound`) or [`Neighbor::connect_failed`].
    Connect,
    /// Abandon the connection attempt in progress, if any. `unanswered`: the session gave up
    /// on it in Connect (the ConnectRetryTimer ran out with no answer from the peer).
    StopConnecting {
        /// The attempt timed out unanswered (not superseded by an inbound connection).
        unanswered: bool,
    },
    /// A new connection was taken as the current one (logs only).
    Accepted(ConnId, Direction),
    /// A connection was not taken: write `notification` (if any), then close it.
    Refuse {
        /// The connection refused.
        conn: ConnId,
        /// Cease 6/7 (RFC 4486, Connection Collision Resolution), or none.
        notification: Option<Notification>,
        /// Why.
        why: Refusal,
    },
    /// Write these bytes (complete messages) to the connection, after what was sent before.
    Send(ConnId, Bytes),
    /// Write what is queued for the connection, then close it. Feed no more of its events.
    Close(ConnId),
    /// The connection lost to another one (a collision, or a newer connection replaced it):
    /// write what is queued (a Cease 6/7) and close it without delaying the other.
    Abandon(ConnId),
    /// The current session reached Established ([`Neighbor::session`]).
    SessionUp(Box<Negotiated>),
    /// A session went down (see [`Action::SessionDown`]). `current`: it was the neighbor's
    /// current session, so the peer's routes are gone (except those kept stale,
    /// `reason.stale_routes_kept`, still in [`Neighbor::session`]'s Adj-RIB-In); a second
    /// connection's session going down loses nothing.
    SessionDown {
        /// Why, from the session.
        reason: DownReason,
        /// It was the current session (not the second one of a collision).
        current: bool,
    },
    /// What a received UPDATE did (see [`Action::Received`]).
    Received(RouteEvents),
    /// The current session has exchanged OPENs (OpenConfirm or Established) with no other
    /// connection pending: compute the routes for it now and pass them in with
    /// [`Neighbor::handle`]; they leave right after Established, before End-of-RIB
    /// (RFC 4724 §2). If they cannot be computed yet, call [`Neighbor::routes_not_loaded`].
    LoadRoutes,
    /// The routes loaded for the previous session are no longer in the Adj-RIB-Out (it went
    /// down, or another connection replaced it): anything noted about them is stale.
    RoutesReset,
    /// A step of collision handling (RFC 4271 §6.8), for logs.
    Collision(CollisionStep),
}

/// Why an inbound connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The session is Idle (stopped, shut down, or waiting for its IdleHoldTimer).
    Idle,
    /// The session is Established: the newcomer loses (RFC 4271 §6.8, last paragraph).
    Established,
    /// Two connections already exist.
    ThirdConnection,
    /// Our own connect completed after another connection was taken.
    Surplus,
}

/// Collision handling, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollisionStep {
    /// A second connection runs beside the current one until OPENs are exchanged.
    Started,
    /// RFC 4271 §6.8: the connection in this direction was closed with Cease 6/7.
    Resolved {
        /// The direction of the connection closed.
        closed: Direction,
    },
    /// Two connections in the same direction: the newer one completed its OPEN and replaced
    /// the older, which was closed without a NOTIFICATION (issue 17 item 3).
    Replaced,
}

/// A configured peer: its current session, a second one during a collision, and the
/// connection policy (see the module docs).
#[derive(Debug)]
pub struct Neighbor {
    /// The configuration new sessions are built from.
    config: SessionConfig,
    seed: u64,
    main: Slot,
    second: Option<Slot>,
    next_conn: u64,
    routes_loaded: bool,
    admin_down: bool,
}

#[derive(Debug)]
struct Slot {
    session: Session,
    conn: Option<(ConnId, Direction)>,
}

impl Slot {
    fn conn_id(&self) -> Option<ConnId> {
        self.conn.map(|(id, _)| id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Second,
}

impl Neighbor {
    /// A neighbor for `config`; `seed` seeds its sessions' jitter (RFC 4271 §10).
    pub fn new(config: SessionConfig, seed: u64, admin: Admin) -> Neighbor {
        let session = Session::new(config.clone(), seed);
        Neighbor {
            config,
            seed,
            main: Slot {
                session,
                conn: None,
            },
            second: None,
            next_conn: 0,
            routes_loaded: false,
            admin_down: admin == Admin::Shutdown,
        }
    }

    /// The current session: the one that is (or will be) Established. Its Adj-RIBs are the
    /// peer's.
    pub fn session(&self) -> &Session {
        &self.main.session
    }

    /// The second session of a collision in progress, if any.
    pub fn second_session(&self) -> Option<&Session> {
        self.second.as_ref().map(|s| &s.session)
    }

    /// The current session's connection.
    pub fn conn(&self) -> Option<ConnId> {
        self.main.conn_id()
    }

    /// Whether `conn` is one of the connections the neighbor holds.
    pub fn holds(&self, conn: ConnId) -> bool {
        self.main.conn_id() == Some(conn)
            || self.second.as_ref().and_then(Slot::conn_id) == Some(conn)
    }

    /// The configuration new sessions are built from ([`Neighbor::set_config`]).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The routes were handed to the current session (`Output::LoadRoutes` was given for it
    /// and it has not gone down since): changes to them go to it as they happen.
    pub fn routes_loaded(&self) -> bool {
        self.routes_loaded
    }

    /// Shut down by the operator ([`Neighbor::shutdown`]) and not enabled since.
    pub fn is_admin_down(&self) -> bool {
        self.admin_down
    }

    /// The configuration later sessions are built from (a reload); the current session keeps
    /// the one it was built with.
    pub fn set_config(&mut self, config: SessionConfig) {
        self.config = config;
    }

    /// The earliest timer deadline of either session.
    pub fn next_timeout(&self) -> Option<Instant> {
        let second = self.second.as_ref().and_then(|s| s.session.next_timeout());
        match (self.main.session.next_timeout(), second) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires the timers due at `now` (RFC 4271 Events 9-13), current session first.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        let actions = self.main.session.handle_timeout(now);
        self.run(now, Which::Main, actions, &mut out);
        if let Some(actions) = self.second.as_mut().map(|s| s.session.handle_timeout(now)) {
            self.run(now, Which::Second, actions, &mut out);
        }
        out
    }

    /// ManualStart (RFC 4271 Event 1, or Event 4 when the configuration says passive).
    pub fn start(&mut self, now: Instant) -> Vec<Output> {
        let passive = self.config.passive;
        self.handle(now, Event::Start { passive })
    }

    /// ManualStop (Event 2) of both connections with `notification`; stays Idle until
    /// [`Neighbor::start`].
    pub fn stop(&mut self, now: Instant, notification: Notification) -> Vec<Output> {
        let mut out = self.stop_second(now, &notification);
        let stop = Event::Stop {
            notification: Some(notification),
        };
        out.extend(self.handle(now, stop));
        out
    }

    /// AutomaticStop (Event 8) with `notification` (e.g. Cease 6/4, Administrative Reset):
    /// the session starts again after its IdleHoldTime.
    pub fn reset(&mut self, now: Instant, notification: Notification) -> Vec<Output> {
        let mut out = self.stop_second(now, &notification);
        let stop = Event::AutomaticStop {
            notification: Some(notification),
        };
        out.extend(self.handle(now, stop));
        out
    }

    /// Operator shutdown (Cease 6/2 with an RFC 9003 message): stop, and refuse every
    /// connection until [`Neighbor::enable`].
    pub fn shutdown(&mut self, now: Instant, notification: Notification) -> Vec<Output> {
        self.admin_down = true;
        let mut out = self.stop_second(now, &notification);
        out.push(Output::StopConnecting { unanswered: false });
        let stop = Event::Stop {
            notification: Some(notification),
        };
        out.extend(self.handle(now, stop));
        out
    }

    /// Ends an operator shutdown: starts again. Nothing when not shut down.
    pub fn enable(&mut self, now: Instant) -> Vec<Output> {
        if !std::mem::take(&mut self.admin_down) {
            return Vec::new();
        }
        self.start(now)
    }

    /// A new import policy for both sessions (see `Event::SetImport`).
    pub fn set_import(
        &mut self,
        now: Instant,
        policy: ImportPolicy,
        allow_own_as: u8,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(second) = self.second.as_mut() {
            let ev = Event::SetImport {
                policy: policy.clone(),
                allow_own_as,
            };
            let actions = second.session.handle(now, ev);
            self.run(now, Which::Second, actions, &mut out);
        }
        let ev = Event::SetImport {
            policy,
            allow_own_as,
        };
        out.extend(self.handle(now, ev));
        out
    }

    /// Feeds an event to the current session: routes (`Announce`, `Withdraw`, ...),
    /// `RequestRefresh`, `ResendRoutes`, `RoutesComplete`.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Output> {
        let mut out = Vec::new();
        let actions = self.main.session.handle(now, event);
        self.run(now, Which::Main, actions, &mut out);
        out
    }

    /// Feeds an event of connection `conn` to the session that owns it (ignored when none
    /// does): a framed message, a header error, `Closed`, RFC 9687 send reports, or an
    /// `AutomaticStop` about that connection (e.g. its send queue is over the cap).
    pub fn handle_conn(&mut self, now: Instant, conn: ConnId, event: Event) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(which) = self.which(conn) else {
            return out;
        };
        let closed = matches!(event, Event::Closed);
        let Some(slot) = self.slot_mut(which) else {
            return out;
        };
        if closed {
            slot.conn = None;
        }
        let actions = slot.session.handle(now, event);
        self.run(now, which, actions, &mut out);
        out
    }

    /// Our connection attempt failed (Event 18).
    pub fn connect_failed(&mut self, now: Instant) -> Vec<Output> {
        self.handle(now, Event::ConnectFailed)
    }

    /// A TCP connection to the peer is up (Events 16/17): ours (`Outbound`) or the peer's
    /// (`Inbound`). `subnets` are those of the interface holding it, and `peer` its remote
    /// address, for the RFC 4271 §6.3 next-hop check of a directly connected eBGP peer
    /// (ignored otherwise). Returns the connection's name and what to do.
    ///
    /// An inbound connection is refused while Idle, taken while Connect or Active without a
    /// connection, refused with Cease 6/7 while Established (RFC 4271 §6.8: "collision with
    /// existing BGP connection that is in the Established state causes closing of the newly
    /// created connection"), otherwise run as a second connection until the collision can be
    /// resolved; a third is refused with Cease 6/7.
    pub fn connected(
        &mut self,
        now: Instant,
        direction: Direction,
        subnets: Vec<IpNet>,
        peer: Option<IpAddr>,
    ) -> (ConnId, Vec<Output>) {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let mut out = Vec::new();
        let link = self
            .config
            .directly_connected
            .then(|| Event::SharedSubnets { subnets, peer });
        if direction == Direction::Outbound {
            if self.main.conn.is_some() {
                out.push(refuse(id, None, Refusal::Surplus));
            } else {
                self.take_main(now, id, direction, link, &mut out);
            }
            return (id, out);
        }
        let cease = || Some(Notification::cease(7, None));
        match self.main.session.state() {
            State::Idle => out.push(refuse(id, None, Refusal::Idle)),
            State::Connect | State::Active if self.main.conn.is_none() => {
                out.push(Output::StopConnecting { unanswered: false });
                self.take_main(now, id, direction, link, &mut out);
            }
            State::Established => out.push(refuse(id, cease(), Refusal::Established)),
            _ if self.second.is_none() => {
                out.push(Output::Collision(CollisionStep::Started));
                let mut cfg = self.config.clone();
                // RFC 4724 §4.1: the R bit only until a session was Established, which the
                // current session knows (it clears its own copy).
                if let (Some(gr), Some(main)) = (
                    cfg.graceful_restart.as_mut(),
                    self.main.session.config().graceful_restart.as_ref(),
                ) {
                    gr.restarting = main.restarting;
                }
                let mut session = Session::new(cfg, self.seed.wrapping_add(0x5eed));
                if let Some(ev) = link {
                    // Sets the session's subnets; no actions.
                    session.handle(now, ev);
                }
                // Passive for this connection only: after a failure the configured
                // `passive` decides (issue 17 item 2; the session keeps that rule).
                let mut actions = session.handle(now, Event::Start { passive: true });
                actions.extend(session.handle(now, Event::Connected));
                self.second = Some(Slot {
                    session,
                    conn: Some((id, direction)),
                });
                self.run(now, Which::Second, actions, &mut out);
            }
            _ => out.push(refuse(id, cease(), Refusal::ThirdConnection)),
        }
        (id, out)
    }

    /// Routes could not be computed after `Output::LoadRoutes` (e.g. the connection's local
    /// address is unknown): ask again after the next event.
    pub fn routes_not_loaded(&mut self) {
        self.routes_loaded = false;
    }

    fn take_main(
        &mut self,
        now: Instant,
        id: ConnId,
        direction: Direction,
        link: Option<Event>,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Accepted(id, direction));
        self.main.conn = Some((id, direction));
        if let Some(ev) = link {
            let actions = self.main.session.handle(now, ev);
            debug_assert!(actions.is_empty());
        }
        let actions = self.main.session.handle(now, Event::Connected);
        self.run(now, Which::Main, actions, out);
    }

    /// Stops and forgets the second session, if any.
    fn stop_second(&mut self, now: Instant, notification: &Notification) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(second) = self.second.as_mut() {
            let stop = Event::Stop {
                notification: Some(notification.clone()),
            };
            let actions = second.session.handle(now, stop);
            self.run(now, Which::Second, actions, &mut out);
            if let Some(id) = self.second.take().and_then(|s| s.conn_id()) {
                out.push(Output::Abandon(id));
            }
        }
        out
    }

    fn which(&self, conn: ConnId) -> Option<Which> {
        if self.main.conn_id() == Some(conn) {
            Some(Which::Main)
        } else if self.second.as_ref().and_then(Slot::conn_id) == Some(conn) {
            Some(Which::Second)
        } else {
            None
        }
    }

    fn slot_mut(&mut self, which: Which) -> Option<&mut Slot> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Second => self.second.as_mut(),
        }
    }

    /// Translates a session's actions, then whatever they lead to: the end of a finished
    /// second connection, collision resolution, withdrawal after a down, route loading.
    fn run(&mut self, now: Instant, which: Which, actions: Vec<Action>, out: &mut Vec<Output>) {
        let mut work = VecDeque::from([(which, actions)]);
        while let Some((which, actions)) = work.pop_front() {
            let down = self.translate(which, actions, out);
            if self.second.as_ref().is_some_and(|s| s.conn.is_none()) {
                // The second connection is finished (lost the collision or failed).
                self.second = None;
            }
            self.resolve_collision(now, out);
            if down {
                // The Adj-RIB-Out is recomputed when the next session comes up: the local
                // address, families and ADD-PATH may differ.
                if !self.main.session.adj_rib_out().is_empty() {
                    let actions = self.main.session.handle(now, Event::WithdrawAll);
                    work.push_back((Which::Main, actions));
                }
                self.unload_routes(out);
            }
            let ready = matches!(
                self.main.session.state(),
                State::OpenConfirm | State::Established
            );
            if ready && !self.routes_loaded && self.second.is_none() {
                self.routes_loaded = true;
                out.push(Output::LoadRoutes);
            }
        }
    }

    /// Returns whether the current session went down.
    fn translate(&mut self, which: Which, actions: Vec<Action>, out: &mut Vec<Output>) -> bool {
        let mut down = false;
        let mut which = which;
        for action in actions {
            let Some(slot) = self.slot_mut(which) else {
                break;
            };
            let conn = slot.conn_id();
            match action {
                Action::Connect => {
                    if which == Which::Main {
                        out.push(Output::Connect);
                    }
                }
                Action::Send(bytes) => {
                    if let Some(id) = conn {
                        out.push(Output::Send(id, bytes));
                    }
                }
                Action::StartTimer { .. } | Action::StopTimer(_) => {
                    // The sessions keep the deadlines: see `next_timeout`.
                }
                Action::Close => {
                    slot.conn = None;
                    if which == Which::Main {
                        let unanswered = slot.session.state() == State::Connect;
                        out.push(Output::StopConnecting { unanswered });
                    }
                    if let Some(id) = conn {
                        out.push(Output::Close(id));
                    }
                }
                Action::SessionUp(negotiated) => {
                    if which == Which::Second {
                        // Cannot normally happen: collisions are resolved in OpenConfirm.
                        // Promote the second connection so the established one is kept.
                        if let Some(second) = self.second.take() {
                            let old = std::mem::replace(&mut self.main, second);
                            if let Some(id) = old.conn_id() {
                                out.push(Output::Close(id));
                            }
                            which = Which::Main;
                        }
                    }
                    out.push(Output::SessionUp(negotiated));
                }
                Action::SessionDown(reason) => {
                    let current = which == Which::Main;
                    down |= current;
                    out.push(Output::SessionDown { reason, current });
                }
                Action::Received(events) => out.push(Output::Received(events)),
            }
        }
        down
    }

    fn unload_routes(&mut self, out: &mut Vec<Output>) {
        self.routes_loaded = false;
        out.push(Output::RoutesReset);
    }

    /// Two connections to the peer ([`resolve`]): once one of two connections in opposite
    /// directions knows the peer's BGP Identifier, close the one `collision_loser` names
    /// (RFC 4271 §6.8, Cease 6/7, sent by the losing session); two connections in one
    /// direction are no collision: the newer one replaces the older once it has the peer's
    /// OPEN (issue 17 item 3).
    fn resolve_collision(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(second) = self.second.as_ref() else {
            return;
        };
        let open = |s: State| matches!(s, State::OpenSent | State::OpenConfirm);
        if !(open(self.main.session.state()) && open(second.session.state())) {
            return;
        }
        let (Some((_, main_dir)), Some((_, second_dir))) = (self.main.conn, second.conn) else {
            return;
        };
        let local = Speaker {
            bgp_id: self.config.local_id,
            asn: self.config.local_asn,
        };
        let remote = self
            .main
            .session
            .peer_id()
            .or(second.session.peer_id())
            .map(|bgp_id| Speaker {
                bgp_id,
                asn: self.config.peer_asn,
            });
        let newer_has_open = second.session.peer_id().is_some();
        let resolution = resolve(main_dir, second_dir, newer_has_open, local, remote);
        let loser = match resolution {
            Resolution::Wait => return,
            Resolution::ReplaceOlder => {
                out.push(Output::Collision(CollisionStep::Replaced));
                let Some(second) = self.second.take() else {
                    return;
                };
                self.unload_routes(out);
                let old = std::mem::replace(&mut self.main, second);
                if let Some(id) = old.conn_id() {
                    out.push(Output::Abandon(id));
                }
                return;
            }
            Resolution::Collision(loser) => loser,
        };
        out.push(Output::Collision(CollisionStep::Resolved { closed: loser }));
        let Some(second) = self.second.take() else {
            return;
        };
        let mut lost = if main_dir == loser {
            // The second connection survives and becomes the current one, with a fresh
            // session (its Adj-RIB-Out is empty; routes are loaded afterwards).
            self.unload_routes(out);
            std::mem::replace(&mut self.main, second)
        } else {
            second
        };
        // OpenCollisionDump (Event 23): the loser sends Cease 6/7 and closes; nothing else
        // of it matters (it does not restart, it carried no routes).
        let Some(id) = lost.conn_id() else {
            return;
        };
        for action in lost.session.handle(now, Event::CollisionLost) {
            match action {
                Action::Send(bytes) => out.push(Output::Send(id, bytes)),
                Action::Close => break,
                _ => {}
            }
        }
        out.push(Output::Abandon(id));
    }
}

fn refuse(conn: ConnId, notification: Option<Notification>, why: Refusal) -> Output {
    Output::Refuse {
        conn,
        notification,
        why,
    }
}
