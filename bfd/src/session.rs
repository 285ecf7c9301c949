//! One BFD session in Asynchronous mode (RFC 5880 §6.1, §6.2, §6.8).

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::action::Action;
use crate::config::{micros, SessionConfig};
use crate::event::Event;
use crate::packet::{ControlPacket, ControlView, Diagnostic, Discard, State};
use crate::timer::{Timer, TimerTable};

/// How many AdminDown packets `Event::Stop` and `Event::PathDown` return at once, so that a
/// caller which exits right away still gives the remote system a few chances to hear it.
pub const ADMIN_DOWN_PACKETS: usize = 3;

/// §6.8.3: "When bfd.SessionState is not Up, the system MUST set bfd.DesiredMinTxInterval
/// to a value of not less than one second (1,000,000 microseconds)."
const SLOW_TX: u32 = 1_000_000;

/// Discarded packets per reason (RFC 5880 §6.8.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Version is not 1.
    pub version: u64,
    /// Bad Length (short, longer than received, or Authentication Section out of bounds).
    pub length: u64,
    /// Detect Mult is zero.
    pub detect_mult: u64,
    /// Multipoint bit set.
    pub multipoint: u64,
    /// My Discriminator is zero.
    pub my_discriminator_zero: u64,
    /// Your Discriminator is zero while the sender is neither Down nor AdminDown.
    pub your_discriminator_zero: u64,
    /// Your Discriminator is not our local discriminator.
    pub your_discriminator: u64,
    /// A bit set (no authentication in use).
    pub authentication: u64,
    /// Received while we were AdminDown.
    pub admin_down: u64,
}

impl DropCounts {
    /// The count for `reason`.
    pub fn get(&self, reason: Discard) -> u64 {
        match reason {
            Discard::Version => self.version,
            Discard::Length => self.length,
            Discard::DetectMult => self.detect_mult,
            Discard::Multipoint => self.multipoint,
            Discard::MyDiscriminatorZero => self.my_discriminator_zero,
            Discard::YourDiscriminatorZero => self.your_discriminator_zero,
            Discard::YourDiscriminator => self.your_discriminator,
            Discard::Authentication => self.authentication,
            Discard::AdminDown => self.admin_down,
        }
    }

    /// Every discarded packet.
    pub fn total(&self) -> u64 {
        Discard::ALL
            .iter()
            .fold(0u64, |n, &r| n.saturating_add(self.get(r)))
    }

    fn bump(&mut self, reason: Discard) {
        let slot = match reason {
            Discard::Version => &mut self.version,
            Discard::Length => &mut self.length,
            Discard::DetectMult => &mut self.detect_mult,
            Discard::Multipoint => &mut self.multipoint,
            Discard::MyDiscriminatorZero => &mut self.my_discriminator_zero,
            Discard::YourDiscriminatorZero => &mut self.your_discriminator_zero,
            Discard::YourDiscriminator => &mut self.your_discriminator,
            Discard::Authentication => &mut self.authentication,
            Discard::AdminDown => &mut self.admin_down,
        };
        *slot = slot.saturating_add(1);
    }
}

/// Session counters, kept for the session's lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets accepted (passed every §6.8.6 check).
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Packets discarded, per reason.
    pub dropped: DropCounts,
    /// Times the session came Up.
    pub up: u64,
    /// Times the session left Up.
    pub down: u64,
    /// Poll Sequences completed (a Final arrived, §6.5).
    pub polls: u64,
}

/// What we last heard from the remote system (the bfd.Remote* variables of §6.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remote {
    /// bfd.RemoteDiscr.
    discr: u32,
    /// bfd.RemoteSessionState.
    state: State,
    /// bfd.RemoteMinRxInterval (µs).
    min_rx: u32,
    /// The last Desired Min TX Interval received (µs).
    desired_min_tx: u32,
    /// The last Detect Mult received; zero until a packet arrives.
    detect_mult: u8,
}

impl Remote {
    /// §6.8.1 initial values: RemoteDiscr 0, RemoteSessionState Down, RemoteMinRxInterval 1.
    const INITIAL: Remote = Remote {
        discr: 0,
        state: State::Down,
        min_rx: 1,
        desired_min_tx: 0,
        detect_mult: 0,
    };
}

/// The two intervals a Poll Sequence announces (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Intervals {
    desired_min_tx: u32,
    required_min_rx: u32,
}

/// One BFD session with one remote system, in Asynchronous mode (RFC 5880 §6.1): feed it
/// events with the current time, and carry out the actions it returns, in order.
///
/// A new session is AdminDown and silent; `Event::Start` enables it. See the crate
/// documentation for the driving contract.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    /// bfd.SessionState.
    state: State,
    /// bfd.LocalDiag.
    local_diag: Diagnostic,
    remote: Remote,
    /// bfd.DesiredMinTxInterval as advertised now (µs).
    desired_min_tx: u32,
    /// bfd.RequiredMinRxInterval as advertised now (µs).
    required_min_rx: u32,
    /// The desired transmit interval actually used: below `desired_min_tx` while Up and a
    /// Poll Sequence confirms an increase (§6.8.3).
    tx_in_use: u32,
    /// The receive interval used for the Detection Time: above `required_min_rx` while Up
    /// and a Poll Sequence confirms a reduction (§6.8.3).
    rx_in_use: u32,
    /// The Poll Sequence in progress (§6.5), with the intervals it announces.
    poll: Option<Intervals>,
    /// In AdminDown after a Stop: keep sending AdminDown until then (§6.8.16).
    admin_down_until: Option<Instant>,
    timers: TimerTable,
    /// How late the armed Transmit deadline may be served (µs): `transmit_slack`, capped.
    tx_slack: u32,
    rng: SmallRng,
    counters: Counters,
}

impl Session {
    /// A session in AdminDown that sends nothing until `Event::Start`. `seed` feeds the
    /// transmit jitter (§6.8.7): the same seed and the same inputs give the same actions.
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        let desired_min_tx = micros(config.desired_min_tx).max(SLOW_TX);
        let required_min_rx = micros(config.required_min_rx);
        Session {
            config,
            state: State::AdminDown,
            local_diag: Diagnostic::NONE,
            remote: Remote::INITIAL,
            desired_min_tx,
            required_min_rx,
            tx_in_use: desired_min_tx,
            rx_in_use: required_min_rx,
            poll: None,
            admin_down_until: None,
            timers: TimerTable::default(),
            tx_slack: 0,
            rng: SmallRng::seed_from_u64(seed),
            counters: Counters::default(),
        }
    }

    /// Handles one event at time `now`; returns the actions in the order they must happen.
    ///
    /// `now` must not go backwards between calls. Events that can only be spurious (a timer
    /// that is not armed, `Start` while enabled, `Stop` while AdminDown) are ignored.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(now, event, &mut out);
        out
    }

    /// [`Session::handle`] appending the actions to `out`: a driver that reuses one `Vec`
    /// allocates nothing per event.
    pub fn handle_into(&mut self, now: Instant, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::Start => self.start(now, out),
            Event::Stop => self.stop(now, Diagnostic::ADMINISTRATIVELY_DOWN, out),
            Event::PathDown => self.stop(now, Diagnostic::PATH_DOWN, out),
            Event::Received(bytes) => self.receive(now, &bytes, out),
            Event::TimerFired(timer) => self.timer_fired(now, timer, out),
            Event::SetParameters {
                desired_min_tx,
                required_min_rx,
                detect_mult,
            } => {
                self.config.desired_min_tx = desired_min_tx;
                self.config.required_min_rx = required_min_rx;
                self.config.detect_mult = detect_mult;
                // §6.8.3: "If bfd.DesiredMinTxInterval is changed or
                // bfd.RequiredMinRxInterval is changed, a Poll Sequence MUST be
                // initiated." §6.5: "the Poll Sequence MUST be performed by setting the
                // Poll (P) bit on those scheduled periodic transmissions; additional
                // packets MUST NOT be sent."
                self.update_intervals();
                self.pull_in_transmit(now, out);
            }
        }
    }

    /// `Event::Received` for a datagram the caller holds as a slice (no copy into `Bytes`):
    /// the same checks and actions, appended to `out`.
    pub fn receive_into(&mut self, now: Instant, packet: &[u8], out: &mut Vec<Action>) {
        self.receive(now, packet, out);
    }

    /// Fires every timer whose deadline is at or before `now`, earliest first. Calling it
    /// early, late or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_timeout_into(now, &mut out);
        out
    }

    /// [`Session::handle_timeout`] appending the actions to `out`.
    pub fn handle_timeout_into(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut due = Timer::ALL.map(|t| (self.timers.get(t), t));
        // Earliest first (an unarmed timer sorts first and is skipped).
        due.sort();
        for (at, timer) in due {
            if at.is_some_and(|at| at <= now) {
                self.timer_fired(now, timer, out);
            }
        }
    }

    /// The earliest armed deadline: sleep until then, then call [`Session::handle_timeout`].
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(_, at)| at)
    }

    /// The latest time by which [`Session::handle_timeout`] must be called: the Detection
    /// deadline, or the Transmit deadline plus the slack the jitter left for it
    /// ([`SessionConfig::transmit_slack`]), whichever is earlier. A driver may serve the
    /// session any time from [`Session::next_timeout`] to this and still keep to RFC 5880.
    pub fn serve_by(&self) -> Option<Instant> {
        let tx = self
            .timers
            .get(Timer::Transmit)
            .map(|at| at + Duration::from_micros(self.tx_slack.into()));
        match (tx, self.timers.get(Timer::Detection)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(timer)
    }

    /// bfd.SessionState.
    pub fn state(&self) -> State {
        self.state
    }

    /// bfd.LocalDiag: why the session last changed state.
    pub fn local_diag(&self) -> Diagnostic {
        self.local_diag
    }

    /// bfd.LocalDiscr.
    pub fn local_discr(&self) -> u32 {
        self.config.local_discr.get()
    }

    /// bfd.RemoteDiscr: zero until a packet arrives, and again a Detection Time after the
    /// last one (§6.8.1).
    pub fn remote_discr(&self) -> u32 {
        self.remote.discr
    }

    /// bfd.RemoteSessionState: the state in the last packet accepted (Down before any).
    pub fn remote_state(&self) -> State {
        self.remote.state
    }

    /// The configuration, as changed by `Event::SetParameters`.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// bfd.DesiredMinTxInterval as advertised now: at least one second while not Up.
    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(self.desired_min_tx.into())
    }

    /// bfd.RequiredMinRxInterval as advertised now.
    pub fn required_min_rx(&self) -> Duration {
        Duration::from_micros(self.required_min_rx.into())
    }

    /// The transmit interval before jitter (§6.8.2, §6.8.7): the larger of our desired
    /// interval in use and the remote system's Required Min RX Interval.
    pub fn negotiated_tx_interval(&self) -> Duration {
        Duration::from_micros(self.tx_interval().into())
    }

    /// The Detection Time (§6.8.4): the remote Detect Mult times the larger of our
    /// Required Min RX Interval in use and the remote Desired Min TX Interval. `None` until
    /// a packet has arrived.
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote.detect_mult != 0).then(|| {
            let interval = self.rx_in_use.max(self.remote.desired_min_tx).max(1);
            Duration::from_micros(u64::from(interval) * u64::from(self.remote.detect_mult))
        })
    }

    /// The interval at which the remote system sends to us (§6.8.4, §6.8.7): the larger of
    /// our Required Min RX Interval in use and its Desired Min TX Interval. `None` until a
    /// packet has arrived.
    pub fn negotiated_rx_interval(&self) -> Option<Duration> {
        (self.remote.detect_mult != 0).then(|| {
            let interval = self.rx_in_use.max(self.remote.desired_min_tx).max(1);
            Duration::from_micros(u64::from(interval))
        })
    }

    /// The remote system's Detect Mult from its last packet; `None` before any.
    pub fn remote_detect_mult(&self) -> Option<u8> {
        (self.remote.detect_mult != 0).then_some(self.remote.detect_mult)
    }

    /// Whether a Poll Sequence is in progress (our packets carry the P bit).
    pub fn poll_in_progress(&self) -> bool {
        self.poll.is_some()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    // ---- Administrative control (§6.8.16) --------------------------------------------------

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::AdminDown {
            return;
        }
        // A fresh start: nothing heard yet, nothing to confirm.
        self.remote = Remote::INITIAL;
        self.admin_down_until = None;
        self.go(State::Down, Diagnostic::NONE, out);
        self.update_intervals();
        self.poll = None;
        self.restart_transmit(now, false, out);
    }

    fn stop(&mut self, now: Instant, diag: Diagnostic, out: &mut Vec<Action>) {
        if self.state == State::AdminDown {
            return;
        }
        // "Set bfd.SessionState to AdminDown, Set bfd.LocalDiag to an appropriate value".
        self.go(State::AdminDown, diag, out);
        self.poll = None;
        if self.timers.get(Timer::Detection).is_some() {
            self.timers.set(Timer::Detection, None);
            out.push(Action::StopTimer(Timer::Detection));
        }
        // "BFD Control packets SHOULD be transmitted for at least a Detection Time after
        // transitioning to AdminDown state": the remote system's Detection Time of us is our
        // Detect Mult times our transmit interval.
        let linger =
            u64::from(self.tx_interval()).saturating_mul(u64::from(self.config.detect_mult.get()));
        self.admin_down_until = Some(now + Duration::from_micros(linger));
        if self.may_transmit(now) {
            for _ in 0..ADMIN_DOWN_PACKETS {
                self.send(false, out);
            }
            self.arm_transmit(now, out);
        } else {
            self.stop_transmit(out);
        }
    }

    // ---- Reception (§6.8.6) ----------------------------------------------------------------

    fn receive(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Action>) {
        let view = match ControlView::new_checked(bytes) {
            Ok(view) => view,
            Err(reason) => return self.counters.dropped.bump(reason),
        };
        let your = view.your_discriminator();
        if your != 0 && your != self.local_discr() {
            return self.counters.dropped.bump(Discard::YourDiscriminator);
        }
        // "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the
        // packet MUST be discarded." (Authentication is not implemented.)
        if view.authentication_present() {
            return self.counters.dropped.bump(Discard::Authentication);
        }
        let could_transmit = self.may_transmit(now);
        // "Set bfd.RemoteDiscr to the value of My Discriminator. Set bfd.RemoteState to the
        // value of the State (Sta) field. [...] Set bfd.RemoteMinRxInterval to the value of
        // Required Min RX Interval."
        self.remote = Remote {
            discr: view.my_discriminator(),
            state: view.state(),
            min_rx: view.required_min_rx(),
            desired_min_tx: view.desired_min_tx(),
            detect_mult: view.detect_mult(),
        };
        // "If a Poll Sequence is being transmitted by the local system and the Final (F)
        // bit in the received packet is set, the Poll Sequence MUST be terminated."
        if view.final_() {
            self.poll_terminated();
        }
        // "If bfd.SessionState is AdminDown: Discard the packet."
        if self.state == State::AdminDown {
            self.counters.dropped.bump(Discard::AdminDown);
            if !self.may_transmit(now) {
                self.stop_transmit(out);
            }
            return;
        }
        self.counters.packets_in = self.counters.packets_in.saturating_add(1);
        // §6.8.4: the packet was not discarded, so the Detection Time starts again.
        if let Some(detect) = self.detection_time() {
            let at = now + detect;
            self.timers.set(Timer::Detection, Some(at));
            out.push(Action::StartTimer {
                timer: Timer::Detection,
                at,
            });
        }
        let from = self.state;
        if self.remote.state == State::AdminDown {
            // "If received state is AdminDown: If bfd.SessionState is not Down, Set
            // bfd.LocalDiag to 3 (Neighbor signaled session down), Set bfd.SessionState
            // to Down."
            if self.state != State::Down {
                self.go(State::Down, Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN, out);
            }
        } else {
            match (self.state, self.remote.state) {
                // "If bfd.SessionState is Down: If received State is Down, Set
                // bfd.SessionState to Init. Else if received State is Init, Set
                // bfd.SessionState to Up."
                (State::Down, State::Down) => self.go(State::Init, self.local_diag, out),
                (State::Down, State::Init) => self.go(State::Up, Diagnostic::NONE, out),
                // "Else if bfd.SessionState is Init: If received State is Init or Up, Set
                // bfd.SessionState to Up."
                (State::Init, State::Init | State::Up) => self.go(State::Up, Diagnostic::NONE, out),
                // "Else (bfd.SessionState is Up): If received State is Down, Set
                // bfd.LocalDiag to 3 (Neighbor signaled session down), Set
                // bfd.SessionState to Down."
                (State::Up, State::Down) => {
                    self.go(State::Down, Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN, out)
                }
                _ => {}
            }
        }
        // "If the Poll (P) bit is set, send a BFD Control packet to the remote system with
        // the Poll (P) bit clear, and the Final (F) bit set" (as soon as practicable,
        // regardless of the transmit timer, §6.8.7).
        let poll = view.poll();
        if self.state != from || (!could_transmit && self.may_transmit(now)) {
            // A new state (or a passive session hearing its peer, §6.1): tell the remote
            // system at once, and space the periodic packets from here.
            self.restart_transmit(now, poll, out);
        } else {
            if poll {
                self.send(true, out);
            }
            if self.may_transmit(now) {
                self.pull_in_transmit(now, out);
            } else {
                self.stop_transmit(out);
            }
        }
    }

    // ---- Timers (§6.8.4, §6.8.7) -----------------------------------------------------------

    fn timer_fired(&mut self, now: Instant, timer: Timer, out: &mut Vec<Action>) {
        if !self.timers.take_expired(timer, now) {
            return;
        }
        match timer {
            Timer::Transmit => {
                if self.may_transmit(now) {
                    self.send(false, out);
                    self.arm_transmit(now, out);
                } else {
                    // The AdminDown linger is over (or the remote asked for silence).
                    self.admin_down_until = None;
                }
            }
            Timer::Detection => {
                let from = self.state;
                // §6.8.4: "If Demand mode is not active, and a period of time equal to the
                // Detection Time passes without receiving a BFD Control packet from the
                // remote system, and bfd.SessionState is Init or Up, the session has gone
                // down -- the local system MUST set bfd.SessionState to Down and
                // bfd.LocalDiag to 1 (Control Detection Time Expired)."
                if matches!(self.state, State::Init | State::Up) {
                    self.go(State::Down, Diagnostic::CONTROL_DETECTION_TIME_EXPIRED, out);
                }
                // §6.8.1 bfd.RemoteDiscr: "If a period of a Detection Time passes without
                // the receipt of a valid, authenticated BFD packet from the remote system,
                // this variable MUST be set to zero." §6.8.18: reset bfd.RemoteMinRxInterval
                // to its initial value of 1.
                self.remote.discr = 0;
                self.remote.min_rx = 1;
                if self.state != from {
                    self.restart_transmit(now, false, out);
                } else if !self.may_transmit(now) {
                    self.stop_transmit(out);
                } else if self.timers.get(Timer::Transmit).is_none() {
                    self.restart_transmit(now, false, out);
                }
            }
        }
    }

    // ---- Helpers ---------------------------------------------------------------------------

    /// Moves to `to` with `diag`, reports it, and applies the slow or configured intervals
    /// (§6.8.3) when entering or leaving Up.
    fn go(&mut self, to: State, diag: Diagnostic, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        self.local_diag = diag;
        if to == State::Up {
            self.counters.up = self.counters.up.saturating_add(1);
        }
        if from == State::Up {
            self.counters.down = self.counters.down.saturating_add(1);
        }
        out.push(Action::StateChanged { from, to, diag });
        if from == State::Up || to == State::Up {
            self.update_intervals();
        }
    }

    /// Recomputes bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval from the
    /// configuration and the state, applying the §6.8.3 rules, and starts a Poll Sequence
    /// when either changed.
    fn update_intervals(&mut self) {
        let configured_tx = micros(self.config.desired_min_tx).max(1);
        let tx = if self.state == State::Up {
            configured_tx
        } else {
            configured_tx.max(SLOW_TX)
        };
        let rx = micros(self.config.required_min_rx);
        let changed = tx != self.desired_min_tx || rx != self.required_min_rx;
        self.desired_min_tx = tx;
        self.required_min_rx = rx;
        if self.state == State::Up {
            // "If bfd.DesiredMinTxInterval is increased and bfd.SessionState is Up, the
            // actual transmission interval used MUST NOT change until the Poll Sequence
            // described above has terminated."
            self.tx_in_use = self.tx_in_use.min(tx);
            // "If bfd.RequiredMinRxInterval is reduced and bfd.SessionState is Up, the
            // previous value of bfd.RequiredMinRxInterval MUST be used when calculating
            // the Detection Time for the remote system until the Poll Sequence described
            // above has terminated."
            self.rx_in_use = self.rx_in_use.max(rx);
        } else {
            self.tx_in_use = tx;
            self.rx_in_use = rx;
        }
        if changed && self.state != State::AdminDown && self.poll.is_none() {
            self.poll = Some(self.intervals());
        }
    }

    /// A Final arrived: the remote system has seen the intervals the Poll announced.
    fn poll_terminated(&mut self) {
        let Some(confirmed) = self.poll.take() else {
            return;
        };
        self.counters.polls = self.counters.polls.saturating_add(1);
        // Changes made while the Poll ran are not confirmed yet: apply only what the remote
        // system has seen, and poll again for the rest.
        self.tx_in_use = self
            .tx_in_use
            .max(confirmed.desired_min_tx.min(self.desired_min_tx));
        self.rx_in_use = self
            .rx_in_use
            .min(confirmed.required_min_rx.max(self.required_min_rx));
        if self.intervals() != confirmed && self.state != State::AdminDown {
            self.poll = Some(self.intervals());
        }
    }

    fn intervals(&self) -> Intervals {
        Intervals {
            desired_min_tx: self.desired_min_tx,
            required_min_rx: self.required_min_rx,
        }
    }

    /// The transmit interval before jitter, µs (§6.8.2).
    fn tx_interval(&self) -> u32 {
        self.tx_in_use.max(self.remote.min_rx).max(1)
    }

    /// §6.8.7: "A system MUST NOT transmit BFD Control packets if bfd.RemoteDiscr is zero
    /// and the system is taking the Passive role. A system MUST NOT periodically transmit
    /// BFD Control packets if bfd.RemoteMinRxInterval is zero." AdminDown sessions send only
    /// for the linger time after a Stop.
    fn may_transmit(&self, now: Instant) -> bool {
        let allowed = !(self.config.passive && self.remote.discr == 0) && self.remote.min_rx != 0;
        match self.state {
            State::AdminDown => allowed && self.admin_down_until.is_some_and(|t| now < t),
            _ => allowed,
        }
    }

    /// Sends a packet now (a Final if `fin`) and restarts the periodic schedule from now;
    /// or stops it when transmission is not allowed.
    fn restart_transmit(&mut self, now: Instant, fin: bool, out: &mut Vec<Action>) {
        if self.may_transmit(now) {
            self.send(fin, out);
            self.arm_transmit(now, out);
        } else {
            // §6.8.7: the Final is sent "without respect to the transmission timer or any
            // other transmission limitations".
            if fin {
                self.send(true, out);
            }
            self.stop_transmit(out);
        }
    }

    /// §6.8.7: "The periodic transmission of BFD Control packets MUST be jittered on a
    /// per-packet basis by up to 25% [...]. If bfd.DetectMult is equal to 1, the interval
    /// between transmitted BFD Control packets MUST be no more than 90% of the negotiated
    /// transmission interval, and MUST be no less than 75%." With a transmit slack the
    /// range [75 %, most] is scaled down to [75 %, most - slack], so that a packet the caller
    /// sends up to the slack late still keeps to the limit.
    fn arm_transmit(&mut self, now: Instant, out: &mut Vec<Action>) {
        let interval = u64::from(self.tx_interval());
        let most = if self.config.detect_mult.get() == 1 {
            900
        } else {
            1000
        };
        let permille: u64 = self.rng.gen_range(750..=most);
        let (lo, hi) = (interval * 750 / 1000, interval * most / 1000);
        let slack = u64::from(micros(self.config.transmit_slack)).min(interval / 10);
        let drawn = interval * permille / 1000;
        let us = if slack == 0 || hi <= lo + slack {
            drawn
        } else {
            lo + (drawn - lo) * (hi - slack - lo) / (hi - lo)
        };
        self.tx_slack = u32::try_from(slack).unwrap_or(u32::MAX);
        let at = now + Duration::from_micros(us.max(1));
        self.timers.set(Timer::Transmit, Some(at));
        out.push(Action::StartTimer {
            timer: Timer::Transmit,
            at,
        });
    }

    /// When the transmit interval shrank (our desired interval fell, or the remote system's
    /// Required Min RX Interval did), a deadline armed for the old interval would leave a
    /// gap longer than the remote system's new Detection Time allows: rearm it for the new
    /// interval. Not an extra packet (§6.5), only the periodic schedule at the new rate.
    fn pull_in_transmit(&mut self, now: Instant, out: &mut Vec<Action>) {
        let interval = Duration::from_micros(self.tx_interval().into());
        if self
            .timers
            .get(Timer::Transmit)
            .is_some_and(|at| at > now + interval)
        {
            self.arm_transmit(now, out);
        }
    }

    fn stop_transmit(&mut self, out: &mut Vec<Action>) {
        if self.timers.get(Timer::Transmit).is_some() {
            self.timers.set(Timer::Transmit, None);
            out.push(Action::StopTimer(Timer::Transmit));
        }
    }

    /// The Control packet for the current state (§6.8.7, "The contents of transmitted BFD
    /// Control packets MUST be set as follows").
    pub(crate) fn packet(&self, fin: bool) -> ControlPacket {
        ControlPacket {
            diag: self.local_diag,
            state: self.state,
            // "A BFD Control packet MUST NOT have both the Poll (P) and Final (F) bits set."
            poll: self.poll.is_some() && !fin,
            final_: fin,
            control_plane_independent: self.config.control_plane_independent,
            demand: false,
            multipoint: false,
            detect_mult: self.config.detect_mult.get(),
            my_discriminator: self.local_discr(),
            your_discriminator: self.remote.discr,
            desired_min_tx: self.desired_min_tx,
            required_min_rx: self.required_min_rx,
            required_min_echo_rx: 0,
            auth: None,
        }
    }

    fn send(&mut self, fin: bool, out: &mut Vec<Action>) {
        let packet = self.packet(fin);
        let mut buf = BytesMut::with_capacity(packet.encoded_len());
        packet.encode(&mut buf);
        self.counters.packets_out = self.counters.packets_out.saturating_add(1);
        out.push(Action::Send(buf.freeze()));
    }
}
