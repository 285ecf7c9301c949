//! The timer table: one optional deadline per timer kind.

use std::fmt;
use std::marker::PhantomData;
use std::time::Instant;

/// A session's set of timers: a small enum whose values index a [`TimerTable`].
pub trait TimerKind: Copy + Ord + 'static {
    /// Every timer, each at its [`TimerKind::index`].
    const ALL: &'static [Self];
    /// The timer's position in [`TimerKind::ALL`] (below the table's `N`).
    fn index(self) -> usize;
}

/// One optional deadline per timer of `T` (`N` of them). The session keeps here the deadline
/// it last handed its caller, so a firing for a timer that was stopped or moved later since
/// is recognised as spurious ([`TimerTable::take_expired`]).
#[derive(Clone)]
pub struct TimerTable<T, const N: usize> {
    deadlines: [Option<Instant>; N],
    kind: PhantomData<T>,
}

impl<T, const N: usize> Default for TimerTable<T, N> {
    fn default() -> Self {
        TimerTable {
            deadlines: [None; N],
            kind: PhantomData,
        }
    }
}

impl<T, const N: usize> fmt::Debug for TimerTable<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerTable")
            .field("deadlines", &self.deadlines)
            .finish()
    }
}

impl<T: TimerKind, const N: usize> TimerTable<T, N> {
    /// The deadline of `timer`, when armed.
    pub fn get(&self, timer: T) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    /// Arms `timer` for `at`, or disarms it with `None`.
    pub fn set(&mut self, timer: T, at: Option<Instant>) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = at;
        }
    }

    /// True when `timer` is armed.
    pub fn is_running(&self, timer: T) -> bool {
        self.get(timer).is_some()
    }

    /// True when `timer` is armed and its deadline has passed: the firing is genuine. The
    /// timer is disarmed.
    pub fn take_expired(&mut self, timer: T, now: Instant) -> bool {
        match self.get(timer) {
            Some(at) if at <= now => {
                self.set(timer, None);
                true
            }
            _ => false,
        }
    }

    /// The earliest deadline, with its timer (the first in `T`'s order on a tie).
    pub fn next(&self) -> Option<(T, Instant)> {
        T::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (t, at)))
            .min_by_key(|&(t, at)| (at, t))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum T {
        A,
        B,
    }

    impl TimerKind for T {
        const ALL: &'static [T] = &[T::A, T::B];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn late_and_duplicate_firings_are_spurious() {
        let t0 = Instant::now();
        let mut table = TimerTable::<T, 2>::default();
        assert_eq!(table.next(), None);
        table.set(T::B, Some(t0 + Duration::from_secs(2)));
        table.set(T::A, Some(t0 + Duration::from_secs(2)));
        assert_eq!(table.next(), Some((T::A, t0 + Duration::from_secs(2))));
        // Not yet due, then due once.
        assert!(!table.take_expired(T::A, t0 + Duration::from_secs(1)));
        assert!(table.take_expired(T::A, t0 + Duration::from_secs(2)));
        assert!(!table.take_expired(T::A, t0 + Duration::from_secs(3)));
        assert!(!table.is_running(T::A));
        assert!(table.is_running(T::B));
        assert_eq!(table.next(), Some((T::B, t0 + Duration::from_secs(2))));
    }
}
