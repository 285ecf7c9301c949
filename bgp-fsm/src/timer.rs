//! The timer table: one optional deadline per timer kind (RFC 4271 §8, §10; RFC 9687).
//!
//! The FSM never sleeps: it tells the caller the deadline with `Action::StartTimer` and keeps
//! the same deadline here, so a late or duplicate `Event::TimerFired` (one for a timer that
//! was stopped or restarted since) is recognised and ignored.

use std::time::Instant;

/// The session's timers (RFC 4271 §8.1.3 Events 9-13, RFC 9687 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// ConnectRetryTimer (Event 9, ConnectRetryTimer_Expires).
    ConnectRetry,
    /// HoldTimer (Event 10, HoldTimer_Expires).
    Hold,
    /// KeepaliveTimer (Event 11, KeepaliveTimer_Expires).
    Keepalive,
    /// DelayOpenTimer (Event 12, DelayOpenTimer_Expires).
    DelayOpen,
    /// IdleHoldTimer (Event 13, IdleHoldTimer_Expires): automatic restart after Idle.
    IdleHold,
    /// SendHoldTimer (RFC 9687 §3): the peer has not read from us for SendHoldTime.
    SendHold,
    /// Graceful Restart helper (RFC 4724 §4.2): the peer's Restart Time while its session is
    /// down, then our stale-routes limit once it is back; on expiry the routes still marked
    /// stale are removed.
    GracefulRestart,
    /// End-of-RIB deferral (RFC 4724 §4.1 leaves the timing to the restarting speaker): the
    /// longest a restarted speaker holds its End-of-RIB back while the caller still learns
    /// routes ([`crate::GracefulRestartConfig::end_of_rib_deferral`]); on expiry it goes out.
    EndOfRib,
}

impl Timer {
    /// Every timer, for tables indexed by timer.
    pub const ALL: [Timer; 8] = [
        Timer::ConnectRetry,
        Timer::Hold,
        Timer::Keepalive,
        Timer::DelayOpen,
        Timer::IdleHold,
        Timer::SendHold,
        Timer::GracefulRestart,
        Timer::EndOfRib,
    ];

    fn index(self) -> usize {
        match self {
            Timer::ConnectRetry => 0,
            Timer::Hold => 1,
            Timer::Keepalive => 2,
            Timer::DelayOpen => 3,
            Timer::IdleHold => 4,
            Timer::SendHold => 5,
            Timer::GracefulRestart => 6,
            Timer::EndOfRib => 7,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 8],
}

impl TimerTable {
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = at;
        }
    }

    pub(crate) fn is_running(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// True when `timer` is armed and its deadline has passed: the firing is genuine. The
    /// timer is disarmed.
    pub(crate) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        match self.get(timer) {
            Some(at) if at <= now => {
                self.set(timer, None);
                true
            }
            _ => false,
        }
    }

    /// The earliest deadline, with its timer.
    pub(crate) fn next(&self) -> Option<(Timer, Instant)> {
        Timer::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (t, at)))
            .min_by_key(|&(t, at)| (at, t))
    }
}
