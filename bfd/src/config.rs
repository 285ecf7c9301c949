//! Session configuration: the local values of the RFC 5880 §6.8.1 state variables that the
//! operator chooses.

use std::num::{NonZeroU32, NonZeroU8};
use std::time::Duration;

/// What the caller decides about one session (RFC 5880 §6.8.1). The discriminator and the
/// multiplier cannot be zero (§6.8.1: bfd.LocalDiscr "MUST be nonzero"; §4.1: a Detect
/// Mult of zero is discarded), so their types rule it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// bfd.LocalDiscr: unique among this system's sessions; chosen by the caller (which
    /// demultiplexes received packets by it, §6.3).
    pub local_discr: NonZeroU32,
    /// bfd.DesiredMinTxInterval while Up: how often we would like to send. While not Up
    /// at least one second is advertised (§6.8.3). Zero is reserved (§4.1) and is sent
    /// as 1 µs. Values beyond `u32::MAX` µs (about 71 minutes) are sent as `u32::MAX`.
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval: the fastest rate at which we accept packets. Zero asks
    /// the remote system to send no periodic packets (§6.8.18).
    pub required_min_rx: Duration,
    /// bfd.DetectMult: the remote system declares us down after this many of our
    /// transmit intervals without a packet.
    pub detect_mult: NonZeroU8,
    /// Passive role (§6.1): send nothing until a packet from the remote system arrives
    /// (bfd.RemoteDiscr is nonzero).
    pub passive: bool,
    /// The C bit (§4.1): our BFD does not share fate with the control plane. bgpd runs BFD
    /// in the same process as BGP, so it leaves this false.
    pub control_plane_independent: bool,
    /// How late the caller may serve the Transmit deadline (zero by default). §6.8.7 wants
    /// each periodic interval between 75 % and 100 % (90 % with a Detect Mult of 1) of the
    /// negotiated one; the session draws its jitter from a range shortened by this much at
    /// the top, so a packet sent up to this late still keeps to it. Capped at a tenth of
    /// the interval, so the jitter keeps most of its range. A driver of many sessions uses
    /// it to serve deadlines that fall close together with one wake-up (see
    /// [`crate::Session::serve_by`]).
    pub transmit_slack: Duration,
}

impl SessionConfig {
    /// Defaults as FRR's: 300 ms both ways, multiplier 3, active, C bit clear.
    pub fn new(local_discr: NonZeroU32) -> SessionConfig {
        SessionConfig {
            local_discr,
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            detect_mult: NonZeroU8::MIN.saturating_add(2),
            passive: false,
            control_plane_independent: false,
            transmit_slack: Duration::ZERO,
        }
    }
}

/// `d` in whole microseconds, saturated to the 32-bit wire field.
pub(crate) fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
