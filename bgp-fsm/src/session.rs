//! The session: one peer over one TCP connection at a time (RFC 4271 §8).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bgp_proto::notification::header as header_err;
use bgp_proto::{DecodeError, ErrorCode, Message, MessageType, Notification, SessionContext};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::action::Action;
use crate::config::SessionConfig;
use crate::event::Event;
use crate::fsm::Input;
use crate::negotiate::Negotiated;
use crate::rib::AdjRib;
use crate::rib_in::AdjRibIn;
use crate::timer::{Timer, TimerTable};

/// The states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Refuses connections; waits for a start event (§8.2.2, Idle state).
    Idle,
    /// Waiting for our TCP connection to complete.
    Connect,
    /// Listening for the peer's TCP connection.
    Active,
    /// Our OPEN is sent; waiting for the peer's.
    OpenSent,
    /// The OPENs are exchanged; waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// UPDATEs, NOTIFICATIONs and KEEPALIVEs flow.
    Established,
}

/// The state with the data that only exists in it (STYLE §2): the negotiated parameters
/// live in OpenConfirm and Established only.
#[derive(Debug)]
pub(crate) enum Phase {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm(Box<Negotiated>),
    Established(Box<Negotiated>),
}

impl Phase {
    pub(crate) fn state(&self) -> State {
        match self {
            Phase::Idle => State::Idle,
            Phase::Connect => State::Connect,
            Phase::Active => State::Active,
            Phase::OpenSent => State::OpenSent,
            Phase::OpenConfirm(_) => State::OpenConfirm,
            Phase::Established(_) => State::Established,
        }
    }
}

/// Messages per type (RFC 4271 §4.1 types, RFC 2918 ROUTE-REFRESH).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MessageCounts {
    /// OPEN messages (RFC 4271 §4.2).
    pub open: u64,
    /// UPDATE messages (RFC 4271 §4.3).
    pub update: u64,
    /// NOTIFICATION messages (RFC 4271 §4.5).
    pub notification: u64,
    /// KEEPALIVE messages (RFC 4271 §4.4).
    pub keepalive: u64,
    /// ROUTE-REFRESH messages (RFC 2918 §3).
    pub route_refresh: u64,
}

impl MessageCounts {
    /// Messages of every type.
    pub fn total(&self) -> u64 {
        self.open + self.update + self.notification + self.keepalive + self.route_refresh
    }

    fn add(&mut self, kind: MessageType, n: u64) {
        let slot = match kind {
            MessageType::OPEN => &mut self.open,
            MessageType::UPDATE => &mut self.update,
            MessageType::NOTIFICATION => &mut self.notification,
            MessageType::KEEPALIVE => &mut self.keepalive,
            MessageType::ROUTE_REFRESH => &mut self.route_refresh,
            _ => return,
        };
        *slot = slot.saturating_add(n);
    }
}

/// Session counters, kept across connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages received, per type.
    pub messages_in: MessageCounts,
    /// Messages sent, per type.
    pub messages_out: MessageCounts,
    /// Routes announced to the peer (each NLRI sent in an UPDATE counts once).
    pub prefixes_out: u64,
    /// Routes the peer announced (accepted into the Adj-RIB-In).
    pub prefixes_in: u64,
    /// UPDATEs handled as treat-as-withdraw (RFC 7606 §2).
    pub treat_as_withdraw: u64,
    /// Attributes dropped by attribute discard (RFC 7606 §2).
    pub attributes_discarded: u64,
    /// Routes treated as withdrawn because of their next hop (D5).
    pub rejected_next_hop: u64,
    /// Routes discarded because their AS_PATH holds our AS more than `allow_own_as` times
    /// (RFC 4271 §9.1.2), or, on iBGP, because they carry our BGP Identifier as
    /// ORIGINATOR_ID (RFC 4456 §8).
    pub own_as_loops: u64,
    /// Routes the import policy refused: parsed and counted, not kept.
    pub import_rejected: u64,
    /// New prefixes not kept because the Adj-RIB-In was at `max_prefixes` with
    /// `PrefixLimitAction::Drop`.
    pub prefix_limit_dropped: u64,
    /// Times the session reached Established.
    pub established: u64,
    /// ConnectRetryCounter (RFC 4271 §8.1.1): failures since the last manual start or stop.
    pub connect_retry_counter: u32,
}

/// The TCP connection as far as the session knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conn {
    None,
    /// `Action::Connect` was issued; no answer yet.
    Connecting,
    Up,
}

/// One BGP session with one peer (RFC 4271 §8): feed it events with the current time, and
/// carry out the actions it returns, in order.
///
/// See the crate documentation for the driving contract.
#[derive(Debug)]
pub struct Session {
    pub(crate) config: SessionConfig,
    /// The state with its data: the negotiated parameters exist only in OpenConfirm and
    /// Established.
    pub(crate) phase: Phase,
    pub(crate) conn: Conn,
    pub(crate) passive: bool,
    pub(crate) timers: TimerTable,
    pub(crate) rng: SmallRng,
    pub(crate) rib_in: AdjRibIn,
    pub(crate) rib_out: AdjRib,
    /// Routes marked stale by a BoRR, removed at the EoRR (RFC 7313 §4).
    pub(crate) stale: BTreeSet<bgp_proto::Nlri>,
    /// Routes kept stale for the peer's graceful restart (RFC 4724 §4.2).
    pub(crate) gr_stale: BTreeSet<bgp_proto::Nlri>,
    /// Where the helper is in the peer's restart (restart time, long-lived phase, back).
    pub(crate) gr: crate::graceful::GrState,
    pub(crate) counters: Counters,
    /// The IdleHoldTime to use at the next failure (doubled by damping).
    pub(crate) idle_hold: Duration,
    pub(crate) established_at: Option<Instant>,
    /// [`Event::RoutesComplete`] was seen: End-of-RIB is never held back any more.
    pub(crate) routes_complete: bool,
    /// Established with End-of-RIB held back (RFC 4724 §4.1 deferral).
    pub(crate) end_of_rib_pending: bool,
    /// The subnets shared with a directly connected peer, and its address
    /// (`Event::SharedSubnets`).
    pub(crate) shared_subnets: Vec<ipnet::IpNet>,
    pub(crate) peer_address: Option<std::net::IpAddr>,
    /// The Adj-RIB-In is at `max_prefixes` and dropped a route since it was last below
    /// (`PrefixLimitAction::Drop`): the crossing was reported once.
    pub(crate) prefix_limit_hit: bool,
}

impl Session {
    /// A session in Idle. `seed` feeds the jitter RNG (RFC 4271 §10): the same seed and the
    /// same inputs give the same actions.
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        let idle_hold = config.idle_hold_time;
        let passive = config.passive;
        Session {
            config,
            phase: Phase::Idle,
            conn: Conn::None,
            passive,
            timers: TimerTable::default(),
            rng: SmallRng::seed_from_u64(seed),
            rib_in: AdjRibIn::new(),
            rib_out: AdjRib::new(),
            stale: BTreeSet::new(),
            gr_stale: BTreeSet::new(),
            gr: crate::graceful::GrState::default(),
            counters: Counters::default(),
            idle_hold,
            established_at: None,
            routes_complete: false,
            end_of_rib_pending: false,
            prefix_limit_hit: false,
            shared_subnets: Vec::new(),
            peer_address: None,
        }
    }

    /// Handles one event at time `now`; returns the actions in the order they must happen.
    ///
    /// `now` must not go backwards between calls. Events that make no sense in the current
    /// state are handled as RFC 4271 §8.2.2 says (usually by closing the session); events
    /// that can only be spurious (a timer that is not armed, a message while no connection
    /// is up) are ignored.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start { passive } => {
                let passive = passive || self.config.passive;
                self.fsm(
                    now,
                    Input::Start {
                        passive,
                        automatic: false,
                    },
                    &mut out,
                )
            }
            Event::Stop { notification } => self.fsm(
                now,
                Input::Stop {
                    notification,
                    automatic: false,
                },
                &mut out,
            ),
            Event::AutomaticStop { notification } => self.fsm(
                now,
                Input::Stop {
                    notification,
                    automatic: true,
                },
                &mut out,
            ),
            Event::Connected => self.fsm(now, Input::Connected, &mut out),
            Event::ConnectFailed | Event::Closed => {
                if self.conn != Conn::None {
                    self.fsm(now, Input::TcpFails, &mut out)
                }
            }
            Event::TimerFired(Timer::GracefulRestart) => {
                // The restart, long-lived stale or stale-routes time ran out in whatever
                // state we are.
                if self.timers.take_expired(Timer::GracefulRestart, now) {
                    self.graceful_timer(now, &mut out);
                }
            }
            Event::TimerFired(Timer::EndOfRib) => {
                if self.timers.take_expired(Timer::EndOfRib, now) {
                    self.end_of_rib_deferral_expired(now, &mut out);
                }
            }
            Event::TimerFired(timer) => {
                // Late or duplicate firings: the table says whether this one is real.
                if self.timers.take_expired(timer, now) {
                    self.fsm(now, Input::Timer(timer), &mut out)
                }
            }
            Event::Message(bytes) => {
                if self.conn == Conn::Up {
                    let input = self.decode(bytes);
                    self.fsm(now, input, &mut out)
                }
            }
            Event::HeaderError(e) => {
                if self.conn == Conn::Up {
                    self.fsm(now, Input::HeaderErr(e.notification()), &mut out)
                }
            }
            Event::CollisionLost => self.fsm(now, Input::CollisionLost, &mut out),
            Event::Announce(routes) => self.announce(now, routes, &mut out),
            Event::AnnounceShared {
                next_hop,
                attrs,
                nlri,
            } => self.announce_shared(now, next_hop, attrs, nlri, &mut out),
            Event::Withdraw(nlri) => self.withdraw(now, nlri, &mut out),
            Event::WithdrawAll => self.withdraw_all(now, &mut out),
            Event::RequestRefresh(family) => self.request_refresh(family, &mut out),
            Event::ResendRoutes(family) => self.resend_routes(now, family, &mut out),
            Event::SendBlocked => self.send_blocked(now, &mut out),
            Event::SendProgress { drained } => self.send_progress(now, drained, &mut out),
            Event::RoutesComplete => self.routes_complete(now, &mut out),
            Event::SetImport {
                policy,
                allow_own_as,
            } => self.set_import(policy, allow_own_as, &mut out),
            Event::SharedSubnets { subnets, peer } => {
                self.shared_subnets = subnets;
                self.peer_address = peer;
            }
        }
        out
    }

    /// Fires every timer whose deadline is at or before `now`, earliest first (a shortcut for
    /// `handle(now, Event::TimerFired(..))` per expired timer).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        // Each round disarms the timer it fires, so this ends; the bound is a safety net.
        for _ in 0..64 {
            match self.timers.next() {
                Some((timer, at)) if at <= now => {
                    out.extend(self.handle(now, Event::TimerFired(timer)));
                }
                _ => break,
            }
        }
        out
    }

    /// The earliest armed deadline: arm one sleep for it, then call
    /// [`Session::handle_timeout`].
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(_, at)| at)
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(timer)
    }

    /// The current state (RFC 4271 §8.2.2).
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The configuration the session was created with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The negotiated parameters, in OpenConfirm and Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.phase {
            Phase::OpenConfirm(n) | Phase::Established(n) => Some(n),
            _ => None,
        }
    }

    /// The peer's BGP Identifier once its OPEN was accepted (for collision detection,
    /// [`crate::collision_loser`]).
    pub fn peer_id(&self) -> Option<Ipv4Addr> {
        self.negotiated().map(|n| n.peer_id)
    }

    /// Routes received from the peer. Cleared when the session goes down, except routes kept
    /// stale for the peer's graceful restart ([`Session::is_stale`]).
    pub fn adj_rib_in(&self) -> &AdjRibIn {
        &self.rib_in
    }

    /// Routes we announce to the peer; kept across sessions and sent again on each
    /// Established.
    pub fn adj_rib_out(&self) -> &AdjRib {
        &self.rib_out
    }

    /// Whether a received route is kept stale for the peer's graceful restart (RFC 4724).
    pub fn is_stale(&self, nlri: &bgp_proto::Nlri) -> bool {
        self.gr_stale.contains(nlri)
    }

    /// The message and route counters, kept across connections.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The codec context for messages on the current connection.
    pub fn context(&self) -> SessionContext {
        self.negotiated()
            .map(|n| n.context.clone())
            .unwrap_or_default()
    }

    /// Decodes one framed message into an FSM input (RFC 4271 §8.1.5 message events).
    pub(crate) fn decode(&mut self, bytes: Bytes) -> Input {
        let kind = MessageType(bytes.get(18).copied().unwrap_or(0));
        let cx = self.context();
        let result = bgp_proto::decode(bytes, &cx);
        if let Ok(msg) = &result {
            self.counters.messages_in.add(msg.kind(), 1);
        } else {
            self.counters.messages_in.add(kind, 1);
        }
        match result {
            Ok(Message::Open(o)) => Input::Open(o),
            Ok(Message::Update(u)) => Input::Update(u),
            Ok(Message::Notification(n)) => Input::Notification(Some(n)),
            Ok(Message::Keepalive) => Input::Keepalive,
            Ok(Message::RouteRefresh(rr)) => Input::RouteRefresh(rr),
            // RFC 4271 §6.4 and ERROR-HANDLING 1.6: a NOTIFICATION that cannot be decoded
            // (short, bad length) is logged and the connection closed, never answered.
            Err(_) if kind == MessageType::NOTIFICATION => Input::Notification(None),
            Err(DecodeError::BadNotification(_)) => Input::Notification(None),
            Err(DecodeError::Header(h)) => Input::HeaderErr(h.notification()),
            Err(e) => {
                let n = e.notification().unwrap_or_else(|| {
                    Notification::new(
                        ErrorCode::MESSAGE_HEADER,
                        header_err::BAD_MESSAGE_TYPE,
                        Bytes::new(),
                    )
                });
                match kind {
                    MessageType::OPEN => Input::OpenErr(n),
                    MessageType::UPDATE => Input::UpdateErr(n),
                    MessageType::ROUTE_REFRESH => Input::RouteRefreshErr(n),
                    _ => Input::HeaderErr(n),
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // RFC 9687 Send Hold Timer.
    // ---------------------------------------------------------------------------------

    pub(crate) fn send_hold_time(&self) -> Option<Duration> {
        let hold = match self.negotiated() {
            Some(n) => n.hold_time,
            None => self.config.hold_time,
        };
        if hold == 0 {
            return None;
        }
        // D13: max(8 minutes, 2 x HoldTime) unless configured.
        let default = Duration::from_secs(480).max(Duration::from_secs(2 * u64::from(hold)));
        Some(self.config.send_hold_time.unwrap_or(default))
    }

    pub(crate) fn send_blocked(&mut self, now: Instant, out: &mut Vec<Action>) {
        let open = matches!(
            self.state(),
            State::OpenSent | State::OpenConfirm | State::Established
        );
        if open && !self.timers.is_running(Timer::SendHold) {
            if let Some(d) = self.send_hold_time() {
                self.start_timer(now, Timer::SendHold, d, out);
            }
        }
    }

    pub(crate) fn send_progress(&mut self, now: Instant, drained: bool, out: &mut Vec<Action>) {
        if !self.timers.is_running(Timer::SendHold) {
            return;
        }
        if drained {
            self.stop_timer(Timer::SendHold, out);
        } else if let Some(d) = self.send_hold_time() {
            self.start_timer(now, Timer::SendHold, d, out);
        }
    }

    // ---------------------------------------------------------------------------------
    // Timer helpers.
    // ---------------------------------------------------------------------------------

    pub(crate) fn start_timer(
        &mut self,
        now: Instant,
        timer: Timer,
        after: Duration,
        out: &mut Vec<Action>,
    ) {
        let at = deadline(now, after);
        self.timers.set(timer, Some(at));
        out.push(Action::StartTimer { timer, at });
    }

    pub(crate) fn stop_timer(&mut self, timer: Timer, out: &mut Vec<Action>) {
        if self.timers.is_running(timer) {
            self.timers.set(timer, None);
            out.push(Action::StopTimer(timer));
        }
    }

    /// Stops every connection timer. The graceful-restart timer outlives connections and is
    /// managed by the graceful-restart code.
    pub(crate) fn stop_all_timers(&mut self, out: &mut Vec<Action>) {
        for t in Timer::ALL {
            if t != Timer::GracefulRestart {
                self.stop_timer(t, out);
            }
        }
    }

    /// RFC 4271 §10: jitter by a random factor in [0.75, 1].
    pub(crate) fn jitter(&mut self, d: Duration) -> Duration {
        let factor: f64 = self.rng.gen_range(0.75..=1.0);
        // `mul_f64` panics when the product does not fit; a huge configured time stays as is.
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
    }

    pub(crate) fn start_connect_retry(&mut self, now: Instant, out: &mut Vec<Action>) {
        let d = self.jitter(self.config.connect_retry);
        self.start_timer(now, Timer::ConnectRetry, d, out);
    }

    /// Restarts the KeepaliveTimer (jittered, never below 1 s) unless the Hold Time is 0.
    pub(crate) fn restart_keepalive(&mut self, now: Instant, out: &mut Vec<Action>) {
        let ka = self.negotiated().map_or(0, |n| n.keepalive);
        if ka == 0 {
            return;
        }
        let d = self
            .jitter(Duration::from_secs(u64::from(ka)))
            .max(Duration::from_secs(1));
        self.start_timer(now, Timer::Keepalive, d, out);
    }

    pub(crate) fn restart_hold(&mut self, now: Instant, out: &mut Vec<Action>) {
        let hold = self.negotiated().map_or(0, |n| n.hold_time);
        if hold != 0 {
            self.start_timer(now, Timer::Hold, Duration::from_secs(u64::from(hold)), out);
        }
    }

    pub(crate) fn push_send(
        &mut self,
        bytes: Bytes,
        kind: MessageType,
        n: u64,
        out: &mut Vec<Action>,
    ) {
        self.counters.messages_out.add(kind, n);
        out.push(Action::Send(bytes));
    }
}

/// `now + after`, saturating far in the future instead of panicking.
fn deadline(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}
