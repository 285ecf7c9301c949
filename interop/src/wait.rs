//! Deadlines for observing router state.
//!
//! These are not "sleep until it passes": each helper polls the real state every [`POLL`], stops as
//! soon as the condition holds, and otherwise returns the last value it observed, so the test's
//! assertion prints exactly what the router had when the deadline passed.

use std::time::{Duration, Instant};

/// Interval between two observations.
pub const POLL: Duration = Duration::from_millis(80);

/// Polls `probe` until `done(&value)` holds or `timeout` passes; returns the last value observed.
pub fn wait_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> T,
    mut done: impl FnMut(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let value = probe();
        if done(&value) || Instant::now() >= deadline {
            return value;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `probe` until it equals `expected` or `timeout` passes; returns the last value observed,
/// for `assert_eq!(wait_eq(..), expected)`.
pub fn wait_eq<T: PartialEq>(timeout: Duration, expected: &T, probe: impl FnMut() -> T) -> T {
    wait_until(timeout, probe, |v| v == expected)
}

/// Checks that `ok(&value)` holds at every observation for the whole `duration` (used for "never
/// establishes" and "changes nothing"). Returns `Err(value)` with the first violating value.
pub fn holds_for<T>(
    duration: Duration,
    mut probe: impl FnMut() -> T,
    mut ok: impl FnMut(&T) -> bool,
) -> Result<T, T> {
    let deadline = Instant::now() + duration;
    loop {
        let value = probe();
        if !ok(&value) {
            return Err(value);
        }
        if Instant::now() >= deadline {
            return Ok(value);
        }
        std::thread::sleep(POLL);
    }
}
