//! The timer table: one optional deadline per timer kind (after quinn's
//! `connection/timer.rs`).
//!
//! The session never sleeps: it tells the caller each deadline with `Action::StartTimer` and
//! keeps the same deadline here, so a late or duplicate `Event::TimerFired` (for a timer
//! that was stopped or restarted since) is recognised and ignored.

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
}

impl proto_util::TimerKind for Timer {
    const ALL: &'static [Timer] = &Timer::ALL;

    fn index(self) -> usize {
        match self {
            Timer::Transmit => 0,
            Timer::Detection => 1,
        }
    }
}

/// The deadline of each [`Timer`].
pub(crate) type TimerTable = proto_util::TimerTable<Timer, 2>;
