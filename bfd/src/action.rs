//! Outputs of the session, in the order the caller must carry them out.

use std::time::Instant;

use bytes::Bytes;

use crate::packet::{Diagnostic, State};
use crate::timer::Timer;

/// One thing the caller must do. [`crate::Session::handle`] returns them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this Control packet to the remote system (RFC 5881: UDP to port 3784 single
    /// hop, TTL 255; the encapsulation is the caller's).
    Send(Bytes),
    /// Arm `timer` to fire at `at` (replacing any earlier deadline for it).
    StartTimer {
        /// Which timer.
        timer: Timer,
        /// Its deadline.
        at: Instant,
    },
    /// Disarm `timer`.
    StopTimer(Timer),
    /// bfd.SessionState changed. `diag` is bfd.LocalDiag after the change: why the session
    /// went down (e.g. 1, Control Detection Time Expired; 3, Neighbor Signaled Session
    /// Down), or No Diagnostic when it came up. A client protocol such as BGP treats
    /// `from: Up` as the path having failed (RFC 5882).
    StateChanged {
        /// The state before.
        from: State,
        /// The state now.
        to: State,
        /// bfd.LocalDiag now.
        diag: Diagnostic,
    },
}
