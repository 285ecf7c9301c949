//! The transitions of RFC 4271 §8.2.2, written as one `match (state, event)` whose arms
//! follow the RFC's per-state lists, and the teardown they share.

use std::time::Instant;

use bgp_proto::notification::{cease, fsm, header as header_err, open as open_err};
use bgp_proto::{ErrorCode, MessageType, Notification, Open, RouteRefresh};
use bytes::{Bytes, BytesMut};

use crate::action::{Action, DownReason, Initiator};
use crate::negotiate::{local_open, negotiate, Negotiated};
use crate::session::{Conn, Phase, Session, State};
use crate::timer::Timer;

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

/// Who ended the connection a teardown closes, with the NOTIFICATION that went with it.
#[derive(Debug)]
pub(crate) enum Ended {
    /// We did; the NOTIFICATION we send, if any.
    Local(Option<Notification>),
    /// The peer did; the NOTIFICATION it sent, if any could be read.
    Remote(Option<Notification>),
    /// The TCP connection broke without a NOTIFICATION.
    Transport,
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

impl Session {
    // ---------------------------------------------------------------------------------
    // The state machine, RFC 4271 §8.2.2, one arm per (state, event) as the RFC lists them.
    // ---------------------------------------------------------------------------------

    pub(crate) fn fsm(&mut self, now: Instant, input: Input, out: &mut Vec<Action>) {
        let before = self.state();
        self.transition(now, input, out);
        let after = self.state();
        if before != after {
            tracing::debug!(from = ?before, to = ?after, "BGP state change");
        }
    }

    fn transition(&mut self, now: Instant, input: Input, out: &mut Vec<Action>) {
        use Input as I;
        use State as S;
        match (self.state(), input) {
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
                    self.phase = Phase::Active;
                } else {
                    // Events 1/3: "starts the ConnectRetryTimer with the initial value,
                    // initiates a TCP connection to the other BGP peer".
                    self.start_connect_retry(now, out);
                    out.push(Action::Connect);
                    self.conn = Conn::Connecting;
                    self.phase = Phase::Connect;
                }
            }
            (
                S::Idle,
                I::Stop {
                    automatic: false, ..
                },
            ) => {
                // A manual stop also cancels a pending automatic restart, and ends a
                // graceful restart we were helping with.
                self.stop_timer(Timer::IdleHold, out);
                self.purge_stale(None, out);
                self.counters.connect_retry_counter = 0;
            }
            (S::Idle, I::Timer(Timer::IdleHold)) => {
                // IdleHoldTimer_Expires (Event 13): the automatic start, Event 3 or, with
                // the PassiveTcpEstablishment attribute, Event 5 (RFC 4271 §8.1.1). The
                // attribute is the peer's configuration, not how the last start went: a
                // session started passive for an inbound connection (the survivor of a
                // collision) connects out again after a failure (issue 17 item 2).
                let passive = self.config.passive;
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
                self.teardown(now, out, Ended::Local(sent), "stopped".into(), after);
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
                self.phase = Phase::Connect;
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
                // The connection this start was for is gone: from now on the configured
                // PassiveTcpEstablishment attribute decides (issue 17 item 2).
                self.passive = self.config.passive;
                if !self.passive && !self.timers.is_running(Timer::ConnectRetry) {
                    self.start_connect_retry(now, out);
                }
                self.counters.connect_retry_counter =
                    self.counters.connect_retry_counter.saturating_add(1);
                self.phase = Phase::Active;
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
                        self.fail(now, out, notif, reason)
                    }
                }
            }
            (S::Connect | S::Active, I::HeaderErr(n) | I::OpenErr(n)) => {
                // Events 21/22; we send the NOTIFICATION even before our OPEN
                // (SendNOTIFICATIONwithoutOPEN, §8.1.1).
                let reason = format!("bad message from peer: {n}");
                self.fail(now, out, n, reason);
            }
            (S::Connect | S::Active, I::Notification(n)) => {
                let after = notif_after(n.as_ref());
                let reason = received_reason(n.as_ref());
                self.teardown(now, out, Ended::Remote(n), reason, after);
            }
            (S::Connect | S::Active, I::CollisionLost) => {
                let sent = (self.conn == Conn::Up).then(collision_notification);
                let reason = "connection collision".to_string();
                self.teardown(now, out, Ended::Local(sent), reason, After::Dump);
            }
            (S::Connect | S::Active, input) => {
                // "In response to any other event ... drops the TCP connection, ... changes
                // its state to Idle."
                let sent = (self.conn == Conn::Up)
                    .then(|| Notification::fsm_error(fsm::UNSPECIFIED, input_kind(&input)));
                let reason = format!("unexpected {} in {:?}", input_name(&input), self.state());
                self.teardown(now, out, Ended::Local(sent), reason, After::Failure);
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
                self.teardown(now, out, Ended::Local(Some(n)), reason, after);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Timer(Timer::Hold)) => {
                // HoldTimer_Expires (Event 10): NOTIFICATION 4/0 (RFC 4271 §6.5).
                let n = Notification::hold_timer_expired();
                let reason = "hold timer expired".to_string();
                self.fail(now, out, n, reason);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Timer(Timer::SendHold)) => {
                // RFC 9687 §3: best-effort NOTIFICATION 8/0, drop the connection, Idle.
                let n = Notification::send_hold_timer_expired();
                let reason = "send hold timer expired (peer is not reading)".to_string();
                self.fail(now, out, n, reason);
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
                // As above: the configured attribute, not the start's, from now on.
                self.passive = self.config.passive;
                if !self.passive {
                    self.start_connect_retry(now, out);
                }
                out.push(Action::SessionDown(DownReason {
                    initiator: Initiator::Transport,
                    sent: None,
                    received: None,
                    shutdown_message: None,
                    was_established: false,
                    stale_routes_kept: self.gr_stale.len(),
                    reason: "connection closed in OpenSent".into(),
                }));
                self.phase = Phase::Active;
            }
            (S::OpenSent, I::Open(open)) => match negotiate(&self.config, &open) {
                Ok(n) => {
                    self.stop_timer(Timer::ConnectRetry, out);
                    self.stop_timer(Timer::DelayOpen, out);
                    self.enter_open_confirm(now, n, out);
                }
                Err(notif) => {
                    let reason = format!("unacceptable OPEN: {notif}");
                    self.fail(now, out, notif, reason)
                }
            },
            (S::OpenSent | S::OpenConfirm | S::Established, I::HeaderErr(n) | I::OpenErr(n)) => {
                let reason = format!("bad message from peer: {n}");
                self.fail(now, out, n, reason);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::CollisionLost) => {
                // OpenCollisionDump (Event 23): Cease 6/7 (RFC 4486).
                let reason = "connection collision".to_string();
                let n = collision_notification();
                self.teardown(now, out, Ended::Local(Some(n)), reason, After::Dump);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, I::Notification(n)) => {
                // NotifMsgVerErr / NotifMsg (Events 24/25). Never answered (§6.4).
                let after = notif_after(n.as_ref());
                let reason = received_reason(n.as_ref());
                self.teardown(now, out, Ended::Remote(n), reason, after);
            }
            (S::OpenSent, input) => {
                // RFC 6608 §4: unexpected message in OpenSent, 5/1 with the type as Data.
                let n = Notification::fsm_error(fsm::UNEXPECTED_IN_OPEN_SENT, input_kind(&input));
                let reason = format!("unexpected {} in OpenSent", input_name(&input));
                self.fail(now, out, n, reason);
            }

            // --- OpenConfirm ---------------------------------------------------------
            (S::OpenConfirm | S::Established, I::Start { .. }) => {}
            (S::OpenConfirm | S::Established, I::TcpFails) => {
                // The connection is already gone: nothing to close.
                self.conn = Conn::None;
                let reason = "connection closed by peer without NOTIFICATION".to_string();
                self.teardown(now, out, Ended::Transport, reason, After::Failure);
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
                self.fail(now, out, n, reason);
            }
            (S::OpenConfirm, input) => {
                let n =
                    Notification::fsm_error(fsm::UNEXPECTED_IN_OPEN_CONFIRM, input_kind(&input));
                let reason = format!("unexpected {} in OpenConfirm", input_name(&input));
                self.fail(now, out, n, reason);
            }

            // --- Established ---------------------------------------------------------
            (S::Established, I::Keepalive) => self.restart_hold(now, out),
            (S::Established, I::Update(view)) => {
                self.restart_hold(now, out);
                if let Err((n, reason)) = self.receive_update(view, out) {
                    self.fail(now, out, n, reason);
                }
            }
            (S::Established, I::UpdateErr(n)) => {
                // UpdateMsgErr (Event 28).
                let reason = format!("malformed UPDATE: {n}");
                self.fail(now, out, n, reason);
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
                    self.fail(now, out, n, reason);
                } else {
                    self.receive_route_refresh(now, rr, out);
                }
            }
            (S::Established, I::RouteRefreshErr(n)) => {
                let reason = format!("malformed ROUTE-REFRESH: {n}");
                self.fail(now, out, n, reason);
            }
            (S::Established, input) => {
                // RFC 6608 §4: unexpected message in Established (an OPEN), 5/3 with the type.
                let n = Notification::fsm_error(fsm::UNEXPECTED_IN_ESTABLISHED, input_kind(&input));
                let reason = format!("unexpected {} in Established", input_name(&input));
                self.fail(now, out, n, reason);
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Transitions shared by several states.
    // ---------------------------------------------------------------------------------

    /// Sends our OPEN and waits for the peer's with the large hold time (§8.2.2: "sets the
    /// HoldTimer to a large value"), in OpenSent.
    pub(crate) fn send_open(&mut self, now: Instant, out: &mut Vec<Action>) {
        let msg = encode_open(&local_open(&self.config));
        self.push_send(msg, MessageType::OPEN, 1, out);
        let large = self.config.open_hold_time;
        self.start_timer(now, Timer::Hold, large, out);
        self.phase = Phase::OpenSent;
    }

    /// OPEN accepted: send KEEPALIVE, arm the KeepaliveTimer and the negotiated HoldTimer
    /// (neither when the Hold Time is 0), OpenConfirm.
    pub(crate) fn enter_open_confirm(
        &mut self,
        now: Instant,
        n: Negotiated,
        out: &mut Vec<Action>,
    ) {
        let hold = n.hold_time;
        self.graceful_reopen(&n, out);
        self.phase = Phase::OpenConfirm(Box::new(n));
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
    }

    pub(crate) fn enter_established(&mut self, now: Instant, out: &mut Vec<Action>) {
        let n = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::OpenConfirm(n) => n,
            other => {
                // Only reachable from OpenConfirm; keep the state untouched otherwise.
                self.phase = other;
                return;
            }
        };
        out.push(Action::SessionUp(n.clone()));
        self.phase = Phase::Established(n);
        self.established_at = Some(now);
        self.counters.established = self.counters.established.saturating_add(1);
        self.graceful_established(now, out);
        // RFC 4724 §4.1 leaves the timing of End-of-RIB to the restarting speaker.
        let end_of_rib = !self.defer_end_of_rib(now, out);
        // RFC 4724 §4.1: the Restart State bit belongs to the OPENs after a restart only;
        // once a session was Established, later OPENs go without it.
        if let Some(gr) = self.config.graceful_restart.as_mut() {
            gr.restarting = false;
        }
        // Send the whole Adj-RIB-Out, then End-of-RIB per negotiated family (RFC 4724 §2).
        self.send_initial_table(now, end_of_rib, out);
    }

    /// The common failure: we send `notification`, then tear the session down as a local
    /// failure (restart after the damped IdleHoldTime).
    pub(crate) fn fail(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        notification: Notification,
        reason: String,
    ) {
        self.teardown(
            now,
            out,
            Ended::Local(Some(notification)),
            reason,
            After::Failure,
        );
    }

    /// Ends the connection and goes to Idle: NOTIFICATION (if any), Close, timers,
    /// SessionDown, then the automatic restart's IdleHoldTimer.
    pub(crate) fn teardown(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        ended: Ended,
        reason: String,
        after: After,
    ) {
        let (initiator, sent, received) = match ended {
            Ended::Local(sent) => (Initiator::Local, sent, None),
            Ended::Remote(received) => (Initiator::Remote, None, received),
            Ended::Transport => (Initiator::Transport, None, None),
        };
        // RFC 8538 §5: Cease 6/1-6/3 go out as Hard Reset when both sides set the N bit.
        let sent = sent.map(|n| self.wrap_hard_reset(n));
        let prefix_limit = sent.as_ref().is_some_and(is_prefix_limit);
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
        // Decide on graceful restart (RFC 4724 §4.2) while the negotiated values are here.
        let plan = self.graceful_plan(after, sent.as_ref(), received.as_ref());
        self.stop_all_timers(out);
        self.stale.clear();
        let stale_routes_kept = if plan.families.is_empty() {
            if matches!(self.state(), State::Idle | State::Connect | State::Active) {
                // No SessionDown follows, so report the end of the stale routes here.
                self.purge_stale(None, out);
            }
            self.rib_in.clear();
            self.gr_stale.clear();
            self.gr = crate::graceful::GrState::default();
            self.stop_timer(Timer::GracefulRestart, out);
            0
        } else {
            self.retain_stale(now, plan, out)
        };
        let was_established = self.state() == State::Established;
        if matches!(
            self.state(),
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            // A Hard Reset (RFC 8538 §3) carries the Cease with the text inside.
            let shutdown_message = sent
                .as_ref()
                .or(received.as_ref())
                .map(|n| crate::graceful::hard_reset_inner(n).unwrap_or_else(|| n.clone()))
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
                stale_routes_kept,
                reason,
            }));
        }
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
        self.end_of_rib_pending = false;
        self.phase = Phase::Idle;
        if after == After::Failure && self.config.auto_restart && prefix_limit {
            // Decision D6: after Cease 6/1 the session waits the configured idle time
            // (`max_prefixes_restart`) before it restarts, undamped.
            let delay = self.config.max_prefixes_restart;
            self.start_timer(now, Timer::IdleHold, delay, out);
        } else if after == After::Failure && self.config.auto_restart {
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

/// Cease / Maximum Number of Prefixes Reached (RFC 4486), possibly inside a Hard Reset
/// (RFC 8538 §3: Data = code, subcode, data of the original).
fn is_prefix_limit(n: &Notification) -> bool {
    n.code == ErrorCode::CEASE
        && (n.subcode == cease::MAX_PREFIXES
            || (n.subcode == cease::HARD_RESET
                && n.data.get(..2) == Some(&[ErrorCode::CEASE.0, cease::MAX_PREFIXES][..])))
}

fn collision_notification() -> Notification {
    Notification::cease(cease::CONNECTION_COLLISION_RESOLUTION, None)
}

/// NotifMsgVerErr (Event 24, an OPEN version error) does not count as a failure.
fn notif_after(n: Option<&Notification>) -> After {
    match n {
        Some(n)
            if n.code == ErrorCode::OPEN_MESSAGE && n.subcode == open_err::UNSUPPORTED_VERSION =>
        {
            After::Manual
        }
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
