//! Inputs to the session.

use std::num::NonZeroU8;
use std::time::Duration;

use bytes::Bytes;

use crate::timer::Timer;

/// One input to [`crate::Session::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enable the session (RFC 5880 §6.8.16, "If enabling session: Set bfd.SessionState to
    /// Down"): it starts sending (unless passive) and accepting packets. Ignored unless the
    /// session is AdminDown.
    Start,
    /// Disable the session gracefully (§6.8.16): AdminDown with diagnostic 7
    /// (Administratively Down). The returned actions carry
    /// [`crate::ADMIN_DOWN_PACKETS`] AdminDown packets, so a caller about to exit can send
    /// them and go; a caller that keeps driving the session sees it keep sending AdminDown
    /// for a Detection Time ("BFD Control packets SHOULD be transmitted for at least a
    /// Detection Time after transitioning to AdminDown state"), then fall silent.
    Stop,
    /// Like `Stop`, with diagnostic 5 (Path Down): "If signaling is received from outside
    /// BFD that the underlying path has failed, an implementation MAY administratively
    /// disable the session with the diagnostic Path Down" (§6.8.16).
    PathDown,
    /// One received UDP payload for this session (after the caller's demultiplexing, §6.3:
    /// see [`crate::ControlView::your_discriminator`]). Checked per §6.8.6; a discarded
    /// packet only counts in [`crate::Counters`].
    Received(Bytes),
    /// A timer's deadline passed. Spurious firings (timer not armed, or re-armed to a later
    /// deadline) are ignored.
    TimerFired(Timer),
    /// New local timing parameters (§6.8.3). A change of either interval starts a Poll
    /// Sequence (§6.5); a larger transmit interval and a smaller receive interval only take
    /// effect, while Up, once the remote system answers with Final.
    SetParameters {
        /// The new bfd.DesiredMinTxInterval while Up.
        desired_min_tx: Duration,
        /// The new bfd.RequiredMinRxInterval.
        required_min_rx: Duration,
        /// The new bfd.DetectMult (sent from the next packet; needs no Poll).
        detect_mult: NonZeroU8,
    },
}
