//! The timer table: one optional deadline per timer kind (after quinn's
//! `connection/timer.rs`).
//!
//! The session never sleeps: it tells the caller each deadline with `Action::StartTimer` and
//! keeps the same deadline here, so a late or duplicate `Event::TimerFired` (for a timer
//! that was stopped or restarted since) is recognised and ignored.

use std::time::Instant;

/// The session's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// The next periodic Control packet (RFC 5880 §6.8.7), jittered.
    Transmit,
    /// The Detection Time (§6.8.4): no valid packet from the remote system for this long
    /// takes an Init or Up session Down (diag 1) and forgets the remote discriminator.
    Detection,
}

impl Timer {
    /// Every timer.
    pub const ALL: [Timer; 2] = [Timer::Transmit, Timer::Detection];

    fn index(self) -> usize {
        match self {
            Timer::Transmit => 0,
            Timer::Detection => 1,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 2],
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
