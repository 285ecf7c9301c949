//! The session: one peer over one TCP connection at a time (RFC 4271 §8).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bgp_proto::notification::{cease, fsm, header as header_err};
use bgp_proto::{
    DecodeError, ErrorCode, Message, MessageType, Notification, Open, RouteRefresh, SessionContext,
};
use bytes::{Bytes, BytesMut};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::action::{Action, DownReason, Initiator};
use crate::config::SessionConfig;
use crate::event::Event;
use crate::negotiate::{local_open, negotiate, Negotiated};
use crate::rib::AdjRib;
use crate::timer::{Timer, TimerTable};

/// The states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// Messages per type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

impl MessageCounts {
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
    pub messages_in: MessageCounts,
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

/// The FSM's view of one input, after decoding (RFC 4271 §8.1 event names).
#[derive(Debug)]
pub(crate) enum Input {
    /// Events 1/4 (manual) and 3/5 (automatic, from the IdleHoldTimer).
    Start { passive: bool, automatic: bool },
    /// Events 2 (manual) and 8 (automatic).
    Stop {
        notification: Option<Notification>,
        automatic: bool,
    },
    /// Events 16/17.
    Connected,
    /// Event 18.
    TcpFails,
    /// Events 9-13, SendHoldTimer.
    Timer(Timer),
    /// Events 19/20.
    Open(Open),
    /// Event 21 (BGPHeaderErr).
    HeaderErr(Notification),
    /// Event 22 (BGPOpenMsgErr).
    OpenErr(Notification),
    /// Events 24/25 (NotifMsgVerErr, NotifMsg); `None` when it could not be decoded.
    Notification(Option<Notification>),
    /// Event 26.
    Keepalive,
    /// Event 27.
    Update(bgp_proto::UpdateView<Bytes>),
    /// Event 28 (UpdateMsgErr).
    UpdateErr(Notification),
    /// ROUTE-REFRESH (RFC 2918), handled with the UPDATE-like message events.
    RouteRefresh(RouteRefresh),
    /// A malformed ROUTE-REFRESH (RFC 7313 §5: 7/1).
    RouteRefreshErr(Notification),
    /// Event 23.
    CollisionLost,
}

/// How a teardown treats the ConnectRetryCounter and the automatic restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// ManualStop: counter to zero, no automatic restart.
    Manual,
    /// A failure: counter + 1, damping, automatic restart if configured.
    Failure,
    /// Collision loser: no restart (the other connection carries the session).
    Dump,
}

/// One BGP session with one peer (RFC 4271 §8): feed it events with the current time, and
/// carry out the actions it returns, in order.
///
/// See the crate documentation for the driving contract.
#[derive(Debug)]
pub struct Session {
    pub(crate) config: SessionConfig,
    pub(crate) state: State,
    pub(crate) conn: Conn,
    pub(crate) passive: bool,
    pub(crate) timers: TimerTable,
    pub(crate) rng: SmallRng,
    /// Set in OpenConfirm and Established only.
    pub(crate) negotiated: Option<Box<Negotiated>>,
    pub(crate) rib_in: AdjRib,
    pub(crate) rib_out: AdjRib,
    /// Routes marked stale by a BoRR, removed at the EoRR (RFC 7313 §4).
    pub(crate) stale: BTreeSet<bgp_proto::Nlri>,
    pub(crate) counters: Counters,
    /// The IdleHoldTime to use at the next failure (doubled by damping).
    pub(crate) idle_hold: Duration,
    pub(crate) established_at: Option<Instant>,
}

impl Session {
    /// A session in Idle. `seed` feeds the jitter RNG (RFC 4271 §10): the same seed and the
    /// same inputs give the same actions.
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        let idle_hold = config.idle_hold_time;
        let passive = config.passive;
        Session {
            config,
            state: State::Idle,
            conn: Conn::None,
            passive,
            timers: TimerTable::default(),
            rng: SmallRng::seed_from_u64(seed),
            negotiated: None,
            rib_in: AdjRib::new(),
            rib_out: AdjRib::new(),
            stale: BTreeSet::new(),
            counters: Counters::default(),
            idle_hold,
            established_at: None,
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
            Event::Withdraw(nlri) => self.withdraw(now, nlri, &mut out),
            Event::RequestRefresh(family) => self.request_refresh(family, &mut out),
            Event::SendBlocked => self.send_blocked(now, &mut out),
            Event::SendProgress { drained } => self.send_progress(now, drained, &mut out),
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
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The negotiated parameters, in OpenConfirm and Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_deref()
    }

    /// The peer's BGP Identifier once its OPEN was accepted (for collision detection,
    /// [`crate::collision_loser`]).
    pub fn peer_id(&self) -> Option<Ipv4Addr> {
        self.negotiated.as_ref().map(|n| n.peer_id)
    }

    /// Routes received from the peer (cleared when the session goes down).
    pub fn adj_rib_in(&self) -> &AdjRib {
        &self.rib_in
    }

    /// Routes we announce to the peer; kept across sessions and sent again on each
    /// Established.
    pub fn adj_rib_out(&self) -> &AdjRib {
        &self.rib_out
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The codec context for messages on the current connection.
    pub fn context(&self) -> SessionContext {
        self.negotiated
            .as_ref()
            .map(|n| n.context.clone())
            .unwrap_or_default()
    }

    // ---------------------------------------------------------------------------------
    // The state machine, RFC 4271 §8.2.2, one arm per (state, event) as the RFC lists them.
    // ---------------------------------------------------------------------------------

    fn fsm(&mut self, now: Instant, input: Input, out: &mut Vec<Action>) {
        use Input as I;
        use State as S;
        match (self.state, input) {
            // --- Idle ---------------------------------------------------------------
            // "In this state, BGP FSM refuses all incoming BGP connections."
            (S::Idle, I::Start { passive, automatic }) => {
                if !automatic {
                    self.counters.connect_retry_counter = 0;
                    self.idle_hold = self.config.idle_hold_time;
                }
                self.passive = passive;
                self.stop_timer(Timer::IdleHold, out);
                if passive {
                    // Events 4/5: listen; we never connect out in passive mode.
                    self.state = S::Active;
                } else {
                    // Events 1/3: "starts the ConnectRetryTimer with the initial value,
                    // initiates a TCP connection to the other BGP peer".
                    self.start_connect_retry(now, out);
                    out.push(Action::Connect);
                    self.conn = Conn::Connecting;
                    self.state = S::Connect;
                }
            }
            (
                S::Idle,
                I::Stop {
                    automatic: false, ..
                },
            ) => {
                // A manual stop also cancels a pending automatic restart.
                self.stop_timer(Timer::IdleHold, out);
                self.counters.connect_retry_counter = 0;
            }
            (S::Idle, I::Timer(Timer::IdleHold)) => {
                // IdleHoldTimer_Expires (Event 13): the automatic start (Events 3/5).
                let passive = self.passive;
                self.fsm(
                    now,
                    I::Start {
                        passive,
                        automatic: true,
                    },
                    out,
                );
            }
            (S::Idle, I::Connected) => out.push(Action::Close),
            (S::Idle, _) => {}

            // --- Connect and Active --------------------------------------------------
            (S::Connect | S::Active, I::Start { .. }) => {}
            (
                S::Connect | S::Active,
                I::Stop {
                    notification,
                    automatic,
                },
            ) => {
                // With a connection up (DelayOpen running) say why before closing.
                let sent = (self.conn == Conn::Up)
                    .then(|| notification.unwrap_or_else(|| default_stop(automatic)));
                let after = if automatic {
                    After::Failure
                } else {
                    After::Manual
                };
                self.teardown(
                    now,
                    out,
                    sent,
                    None,
                    Initiator::Local,
                    "stopped".into(),
                    after,
                );
            }
            (S::Connect, I::Timer(Timer::ConnectRetry)) => {
                // "drops the TCP connection, restarts the ConnectRetryTimer, stops the
                // DelayOpenTimer, initiates a TCP connection", stays in Connect.
                out.push(Action::Close);
                self.start_connect_retry(now, out);
                self.stop_timer(Timer::DelayOpen, out);
                out.push(Action::Connect);
                self.conn = Conn::Connecting;
            }
            (S::Active, I::Timer(Timer::ConnectRetry)) => {
                // "restarts the ConnectRetryTimer, initiates a TCP connection, changes its
                // state to Connect."
                if self.conn == Conn::Up {
                    out.push(Action::Close);
                }
                self.start_connect_retry(now, out);
                self.stop_timer(Timer::DelayOpen, out);
                out.push(Action::Connect);
                self.conn = Conn::Connecting;
                self.state = S::Connect;
            }
            (S::Connect | S::Active, I::Timer(Timer::DelayOpen)) => {
                // DelayOpenTimer_Expires: "sends an OPEN message, sets the HoldTimer to a
                // large value, changes its state to OpenSent."
                self.stop_timer(Timer::ConnectRetry, out);
                self.send_open(now, out);
            }
            (S::Connect | S::Active, I::Connected) => {
                self.conn = Conn::Up;
                self.stop_timer(Timer::ConnectRetry, out);
                match self.config.delay_open {
                    Some(d) => self.start_timer(now, Timer::DelayOpen, d, out),
                    None => self.send_open(now, out),
                }
            }
            (S::Connect | S::Active, I::TcpFails) => {
                // RFC 4271 sends Connect to Idle here when DelayOpen is not running, and
                // Active to Idle. Like FRR and BIRD we wait in Active for the
                // ConnectRetryTimer instead, so retries follow ConnectRetryTime rather than
                // IdleHoldTime; the counter still records the failure.
                self.conn = Conn::None;
                self.stop_timer(Timer::DelayOpen, out);
                if !self.passive && !self.timers.is_running(Timer::ConnectRetry) {
                    self.start_connect_retry(now, out);
                }
                self.counters.connect_retry_counter =
                    self.counters.connect_retry_counter.saturating_add(1);
                self.state = S::Active;
            }
            (S::Connect | S::Active, I::Open(open))
                if self.timers.is_running(Timer::DelayOpen) || self.conn == Conn::Up =>
            {
                // BGPOpen with the DelayOpenTimer running (Event 20): stop it, send OPEN and
                // KEEPALIVE, go to OpenConfirm.
                self.stop_timer(Timer::ConnectRetry, out);
                self.stop_timer(Timer::DelayOpen, out);
                match negotiate(&self.config, &open) {
                    Ok(n) => {
                        let msg = encode_open(&local_open(&self.config));
                        self.push_send(msg, MessageType::OPEN, 1, out);
                        self.enter_open_confirm(now, n, out);
                    }
                    Err(notif) => {
                        let reason = format!("unacceptable OPEN: {notif}");
                        self.teardown(
                            now,
                            out,
                            Some(notif),
                            None,
                            Initiator::Local,
                            reason,
                            After::Failure,
                        )
                    }
                }
            }
            (S::Connect | S::Active, I::HeaderErr(n) | I::OpenErr(n)) => {
                // Events 21/22; we send the NOTIFICATION even before our OPEN
                // (SendNOTIFICATIONwithoutOPEN, §8.1.1).
                let reason = format!("bad message from peer: {n}");
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::Connect | S::Active, I::Notification(n)) => {
                let after = notif_after(n.as_ref());
                let reason = received_reason(n.as_ref());
                self.teardown(now, out, None, n, Initiator::Remote, reason, after);
            }
            (S::Connect | S::Active, I::CollisionLost) => {
                let sent = (self.conn == Conn::Up).then(collision_notification);
                let reason = "connection collision".to_string();
                self.teardown(now, out, sent, None, Initiator::Local, reason, After::Dump);
            }
            (S::Connect | S::Active, input) => {
                // "In response to any other event ... drops the TCP connection, ... changes
                // its state to Idle."
                let sent = (self.conn == Conn::Up)
                    .then(|| Notification::fsm_error(fsm::UNSPECIFIED, input_kind(&input)));
                let reason = format!("unexpected {} in {:?}", input_name(&input), self.state);
                self.teardown(
                    now,
                    out,
                    sent,
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }

            // --- OpenSent -------------------------------------------------------------
            (S::OpenSent, I::Start { .. }) => {}
            (
                S::OpenSent | S::OpenConfirm | S::Established,
                I::Stop {
                    notification,
                    automatic,
                },
            ) => {
                // Events 2/8: "sends the NOTIFICATION with a Cease".
                let n = notification.unwrap_or_else(|| default_stop(automatic));
                let after = if automatic {
                    After::Failure
                } else {
                    After::Manual
                };
                let reason = format!("stopped ({n})");
                self.teardown(now, out, Some(n), None, Initiator::Local, reason, after);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Timer(Timer::Hold)) => {
                // HoldTimer_Expires (Event 10): NOTIFICATION 4/0 (RFC 4271 §6.5).
                let n = Notification::hold_timer_expired();
                let reason = "hold timer expired".to_string();
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Timer(Timer::SendHold)) => {
                // RFC 9687 §3: best-effort NOTIFICATION 8/0, drop the connection, Idle.
                let n = Notification::send_hold_timer_expired();
                let reason = "send hold timer expired (peer is not reading)".to_string();
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::OpenSent, I::Connected)
            | (S::OpenConfirm, I::Connected)
            | (S::Established, I::Connected) => {
                // A second connection belongs to its own Session (see collision_loser).
            }
            (S::OpenSent, I::TcpFails) => {
                // "closes the BGP connection, restarts the ConnectRetryTimer, continues to
                // listen for a connection ..., and changes its state to Active."
                self.conn = Conn::None;
                self.stop_all_timers(out);
                if !self.passive {
                    self.start_connect_retry(now, out);
                }
                out.push(Action::SessionDown(DownReason {
                    initiator: Initiator::Transport,
                    sent: None,
                    received: None,
                    shutdown_message: None,
                    was_established: false,
                    reason: "connection closed in OpenSent".into(),
                }));
                self.state = S::Active;
            }
            (S::OpenSent, I::Open(open)) => match negotiate(&self.config, &open) {
                Ok(n) => {
                    self.stop_timer(Timer::ConnectRetry, out);
                    self.stop_timer(Timer::DelayOpen, out);
                    self.enter_open_confirm(now, n, out);
                }
                Err(notif) => {
                    let reason = format!("unacceptable OPEN: {notif}");
                    self.teardown(
                        now,
                        out,
                        Some(notif),
                        None,
                        Initiator::Local,
                        reason,
                        After::Failure,
                    )
                }
            },
            (S::OpenSent | S::OpenConfirm | S::Established, I::HeaderErr(n) | I::OpenErr(n)) => {
                let reason = format!("bad message from peer: {n}");
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::CollisionLost) => {
                // OpenCollisionDump (Event 23): Cease 6/7 (RFC 4486).
                let reason = "connection collision".to_string();
                let n = collision_notification();
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Dump,
                );
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Notification(n)) => {
                // NotifMsgVerErr / NotifMsg (Events 24/25). Never answered (§6.4).
                let after = notif_after(n.as_ref());
                let reason = received_reason(n.as_ref());
                self.teardown(now, out, None, n, Initiator::Remote, reason, after);
            }
            (S::OpenSent, input) => {
                // RFC 6608 §4: unexpected message in OpenSent, 5/1 with the type as Data.
                let n = Notification::fsm_error(fsm::UNEXPECTED_IN_OPEN_SENT, input_kind(&input));
                let reason = format!("unexpected {} in OpenSent", input_name(&input));
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }

            // --- OpenConfirm ---------------------------------------------------------
            (S::OpenConfirm | S::Established, I::Start { .. }) => {}
            (S::OpenConfirm | S::Established, I::TcpFails) => {
                // The connection is already gone: nothing to close.
                self.conn = Conn::None;
                let reason = "connection closed by peer without NOTIFICATION".to_string();
                self.teardown(
                    now,
                    out,
                    None,
                    None,
                    Initiator::Transport,
                    reason,
                    After::Failure,
                );
            }
            (S::OpenConfirm | S::Established, I::Timer(Timer::Keepalive)) => {
                // KeepaliveTimer_Expires (Event 11): "sends a KEEPALIVE message, restarts the
                // KeepaliveTimer".
                let mut buf = BytesMut::new();
                bgp_proto::encode_keepalive(&mut buf);
                self.push_send(buf.freeze(), MessageType::KEEPALIVE, 1, out);
                self.restart_keepalive(now, out);
            }
            (S::OpenConfirm, I::Keepalive) => {
                // KeepAliveMsg (Event 26): "restarts the HoldTimer and changes its state to
                // Established."
                self.restart_hold(now, out);
                self.enter_established(now, out);
            }
            (S::OpenConfirm, I::Open(_)) => {
                // Project decision D12: a second OPEN on the same connection is an FSM error,
                // 5/2 with Data 01 (RFC 6608). Collisions between two connections are the
                // caller's (Event::CollisionLost).
                let n = Notification::fsm_error(
                    fsm::UNEXPECTED_IN_OPEN_CONFIRM,
                    Some(MessageType::OPEN),
                );
                let reason = "duplicate OPEN in OpenConfirm".to_string();
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::OpenConfirm, input) => {
                let n =
                    Notification::fsm_error(fsm::UNEXPECTED_IN_OPEN_CONFIRM, input_kind(&input));
                let reason = format!("unexpected {} in OpenConfirm", input_name(&input));
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }

            // --- Established ---------------------------------------------------------
            (S::Established, I::Keepalive) => self.restart_hold(now, out),
            (S::Established, I::Update(view)) => {
                self.restart_hold(now, out);
                if let Err((n, reason)) = self.receive_update(view, out) {
                    self.teardown(
                        now,
                        out,
                        Some(n),
                        None,
                        Initiator::Local,
                        reason,
                        After::Failure,
                    );
                }
            }
            (S::Established, I::UpdateErr(n)) => {
                // UpdateMsgErr (Event 28).
                let reason = format!("malformed UPDATE: {n}");
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::Established, I::RouteRefresh(rr)) => {
                self.restart_hold(now, out);
                if !self.config.route_refresh {
                    // Project decision D4 (as BIRD): ROUTE-REFRESH we did not advertise is
                    // an unknown message type, 1/3 with the type.
                    let n = Notification::new(
                        ErrorCode::MESSAGE_HEADER,
                        header_err::BAD_MESSAGE_TYPE,
                        Bytes::from_static(&[MessageType::ROUTE_REFRESH.0]),
                    );
                    let reason = "ROUTE-REFRESH without the capability".to_string();
                    self.teardown(
                        now,
                        out,
                        Some(n),
                        None,
                        Initiator::Local,
                        reason,
                        After::Failure,
                    );
                } else {
                    self.receive_route_refresh(now, rr, out);
                }
            }
            (S::Established, I::RouteRefreshErr(n)) => {
                let reason = format!("malformed ROUTE-REFRESH: {n}");
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
            (S::Established, input) => {
                // RFC 6608 §4: unexpected message in Established (an OPEN), 5/3 with the type.
                let n = Notification::fsm_error(fsm::UNEXPECTED_IN_ESTABLISHED, input_kind(&input));
                let reason = format!("unexpected {} in Established", input_name(&input));
                self.teardown(
                    now,
                    out,
                    Some(n),
                    None,
                    Initiator::Local,
                    reason,
                    After::Failure,
                );
            }
        }
    }

    /// Decodes one framed message into an FSM input (RFC 4271 §8.1.5 message events).
    fn decode(&mut self, bytes: Bytes) -> Input {
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
    // Transitions shared by several states.
    // ---------------------------------------------------------------------------------

    /// Sends our OPEN and waits for the peer's with the large hold time (§8.2.2: "sets the
    /// HoldTimer to a large value"), in OpenSent.
    fn send_open(&mut self, now: Instant, out: &mut Vec<Action>) {
        let msg = encode_open(&local_open(&self.config));
        self.push_send(msg, MessageType::OPEN, 1, out);
        let large = self.config.open_hold_time;
        self.start_timer(now, Timer::Hold, large, out);
        self.state = State::OpenSent;
    }

    /// OPEN accepted: send KEEPALIVE, arm the KeepaliveTimer and the negotiated HoldTimer
    /// (neither when the Hold Time is 0), OpenConfirm.
    fn enter_open_confirm(&mut self, now: Instant, n: Negotiated, out: &mut Vec<Action>) {
        let hold = n.hold_time;
        self.negotiated = Some(Box::new(n));
        let mut buf = BytesMut::new();
        bgp_proto::encode_keepalive(&mut buf);
        self.push_send(buf.freeze(), MessageType::KEEPALIVE, 1, out);
        if hold == 0 {
            self.stop_timer(Timer::Hold, out);
            self.stop_timer(Timer::Keepalive, out);
        } else {
            self.restart_keepalive(now, out);
            self.restart_hold(now, out);
        }
        self.state = State::OpenConfirm;
    }

    fn enter_established(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.state = State::Established;
        self.established_at = Some(now);
        self.counters.established = self.counters.established.saturating_add(1);
        if let Some(n) = &self.negotiated {
            out.push(Action::SessionUp(n.clone()));
        }
        // Send the whole Adj-RIB-Out, then End-of-RIB per negotiated family (RFC 4724 §2).
        self.send_initial_table(now, out);
    }

    /// Ends the connection and goes to Idle: NOTIFICATION (if any), Close, timers,
    /// SessionDown, then the automatic restart's IdleHoldTimer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn teardown(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        sent: Option<Notification>,
        received: Option<Notification>,
        initiator: Initiator,
        reason: String,
        after: After,
    ) {
        if let Some(n) = &sent {
            if self.conn == Conn::Up {
                let mut buf = BytesMut::new();
                n.encode(&mut buf);
                self.push_send(buf.freeze(), MessageType::NOTIFICATION, 1, out);
            }
        }
        if self.conn != Conn::None {
            out.push(Action::Close);
            self.conn = Conn::None;
        }
        self.stop_all_timers(out);
        let was_established = self.state == State::Established;
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            let shutdown_message = sent
                .as_ref()
                .or(received.as_ref())
                .and_then(|n| n.shutdown_message())
                .map(|r| match r {
                    Ok(text) => text,
                    Err(e) => format!("(malformed shutdown communication: {e:?})"),
                });
            out.push(Action::SessionDown(DownReason {
                initiator,
                sent,
                received,
                shutdown_message,
                was_established,
                reason,
            }));
        }
        self.negotiated = None;
        self.rib_in.clear();
        self.stale.clear();
        match after {
            After::Manual => self.counters.connect_retry_counter = 0,
            After::Failure => {
                self.counters.connect_retry_counter =
                    self.counters.connect_retry_counter.saturating_add(1)
            }
            After::Dump => {}
        }
        // Peer oscillation damping (§8.1.1): a session that stayed up long enough forgets
        // earlier failures; otherwise each failure doubles the next IdleHoldTime.
        let stable = self.config.max_idle_hold_time;
        if self
            .established_at
            .is_some_and(|t| now.saturating_duration_since(t) >= stable)
        {
            self.idle_hold = self.config.idle_hold_time;
        }
        self.established_at = None;
        self.state = State::Idle;
        if after == After::Failure && self.config.auto_restart {
            let delay = self.idle_hold;
            if self.config.damp_peer_oscillations {
                self.idle_hold = self.idle_hold.saturating_mul(2).min(
                    self.config
                        .max_idle_hold_time
                        .max(self.config.idle_hold_time),
                );
            }
            self.start_timer(now, Timer::IdleHold, delay, out);
        }
    }

    // ---------------------------------------------------------------------------------
    // RFC 9687 Send Hold Timer.
    // ---------------------------------------------------------------------------------

    fn send_hold_time(&self) -> Option<Duration> {
        let hold = match &self.negotiated {
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

    fn send_blocked(&mut self, now: Instant, out: &mut Vec<Action>) {
        let open = matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        );
        if open && !self.timers.is_running(Timer::SendHold) {
            if let Some(d) = self.send_hold_time() {
                self.start_timer(now, Timer::SendHold, d, out);
            }
        }
    }

    fn send_progress(&mut self, now: Instant, drained: bool, out: &mut Vec<Action>) {
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

    fn stop_all_timers(&mut self, out: &mut Vec<Action>) {
        for t in Timer::ALL {
            self.stop_timer(t, out);
        }
    }

    /// RFC 4271 §10: jitter by a random factor in [0.75, 1].
    fn jitter(&mut self, d: Duration) -> Duration {
        let factor: f64 = self.rng.gen_range(0.75..=1.0);
        d.mul_f64(factor)
    }

    fn start_connect_retry(&mut self, now: Instant, out: &mut Vec<Action>) {
        let d = self.jitter(self.config.connect_retry);
        self.start_timer(now, Timer::ConnectRetry, d, out);
    }

    /// Restarts the KeepaliveTimer (jittered, never below 1 s) unless the Hold Time is 0.
    pub(crate) fn restart_keepalive(&mut self, now: Instant, out: &mut Vec<Action>) {
        let ka = self.negotiated.as_ref().map_or(0, |n| n.keepalive);
        if ka == 0 {
            return;
        }
        let d = self
            .jitter(Duration::from_secs(u64::from(ka)))
            .max(Duration::from_secs(1));
        self.start_timer(now, Timer::Keepalive, d, out);
    }

    fn restart_hold(&mut self, now: Instant, out: &mut Vec<Action>) {
        let hold = self.negotiated.as_ref().map_or(0, |n| n.hold_time);
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

fn encode_open(open: &Open) -> Bytes {
    let mut buf = BytesMut::new();
    open.encode(&mut buf);
    buf.freeze()
}

fn default_stop(automatic: bool) -> Notification {
    if automatic {
        Notification::cease(cease::ADMINISTRATIVE_RESET, None)
    } else {
        Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, None)
    }
}

fn collision_notification() -> Notification {
    Notification::cease(cease::CONNECTION_COLLISION_RESOLUTION, None)
}

/// NotifMsgVerErr (Event 24, an OPEN version error) does not count as a failure.
fn notif_after(n: Option<&Notification>) -> After {
    match n {
        Some(n) if n.code == ErrorCode::OPEN_MESSAGE && n.subcode == 1 => After::Manual,
        _ => After::Failure,
    }
}

fn received_reason(n: Option<&Notification>) -> String {
    match n {
        Some(n) => format!("peer sent NOTIFICATION {n}"),
        None => "peer sent a malformed NOTIFICATION".into(),
    }
}

/// The message type behind an input, for RFC 6608 Data.
fn input_kind(input: &Input) -> Option<MessageType> {
    match input {
        Input::Open(_) | Input::OpenErr(_) => Some(MessageType::OPEN),
        Input::Update(_) | Input::UpdateErr(_) => Some(MessageType::UPDATE),
        Input::Keepalive => Some(MessageType::KEEPALIVE),
        Input::RouteRefresh(_) | Input::RouteRefreshErr(_) => Some(MessageType::ROUTE_REFRESH),
        Input::Notification(_) => Some(MessageType::NOTIFICATION),
        _ => None,
    }
}

fn input_name(input: &Input) -> String {
    match input {
        Input::Timer(t) => format!("{t:?} timer expiry"),
        Input::Start { .. } => "start".into(),
        Input::Stop { .. } => "stop".into(),
        Input::Connected => "connection".into(),
        Input::TcpFails => "connection failure".into(),
        Input::CollisionLost => "collision".into(),
        Input::HeaderErr(_) => "header error".into(),
        other => match input_kind(other) {
            Some(k) => format!("{k}"),
            None => "event".into(),
        },
    }
}

// Route handling (Adj-RIB-Out packing, Adj-RIB-In updates) lives in routes.rs.
