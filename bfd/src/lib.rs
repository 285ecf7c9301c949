//! `bfd`: RFC 5880 Bidirectional Forwarding Detection sessions as sans-IO state machines.
//! It opens no sockets, reads no clock and uses no async runtime (no tokio): the caller
//! passes in the current time and every event, and carries out the [`Action`]s that come
//! back, in order. The same inputs and the same seed always give the same actions.
//!
//! # Driving contract
//!
//! One [`Session`] per remote system (per BGP neighbor, for bgpd). The caller does this:
//!
//! 1. Choose a local discriminator unique among its sessions, build a [`SessionConfig`],
//!    `Session::new(config, seed)` (the session is AdminDown and silent), then
//!    `handle(now, Event::Start)`.
//! 2. Carry out every returned [`Action`] in order:
//!    - `Send(bytes)`: send one UDP datagram to the remote system (RFC 5881: destination
//!      port 3784, source port 49152-65535, TTL 255).
//!    - `StartTimer { timer, at }` / `StopTimer(timer)`: the session keeps its own table of
//!      deadlines, so the simplest driver ignores these, sleeps until
//!      [`Session::next_timeout`] and calls [`Session::handle_timeout`] (or
//!      `handle(now, Event::TimerFired(t))`). Spurious, late or duplicate firings are
//!      ignored. A driver of many sessions may set [`SessionConfig::transmit_slack`] and
//!      serve each session any time between [`Session::next_timeout`] and
//!      [`Session::serve_by`], so that deadlines close together share one wake-up.
//!    - `handle_into`, `receive_into` and `handle_timeout_into` do the same as `handle` and
//!      `handle_timeout`, appending to a `Vec` the caller reuses (no allocation per event).
//!    - `StateChanged { from, to, diag }`: tell the client protocol. `from: Up` means the
//!      forwarding path failed (RFC 5882): bgpd takes the BGP session down.
//! 3. Demultiplex each received datagram (RFC 5880 §6.3): check it with
//!    [`ControlView::new_checked`] (a failure is a [`Discard`] reason to count), find the
//!    session by [`ControlView::your_discriminator`], or, when that is zero, by source
//!    address and interface, and pass the bytes in as `Event::Received`. The session runs
//!    the §6.8.6 checks again, with the ones only it can make, and counts discards in
//!    [`Session::counters`]. Check the TTL of 255 (RFC 5881 §5) before passing it in.
//! 4. `Event::SetParameters` changes the intervals without a flap (a Poll Sequence, §6.5).
//!    `Event::Stop` takes the session AdminDown (diag 7): send the AdminDown packets it
//!    returns; keep driving it to repeat them for a Detection Time, or drop it.
//!
//! `now` must never go backwards.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::{Duration, Instant};
//! use bfd::{Action, ControlView, Event, Session, SessionConfig, State};
//!
//! let discr = NonZeroU32::new(1).unwrap();
//! let mut session = Session::new(SessionConfig::new(discr), 7);
//! let t0 = Instant::now(); // the caller's clock, never read by the crate
//! let actions = session.handle(t0, Event::Start);
//! assert_eq!(session.state(), State::Down);
//! // The first packet goes out at once, then one about every second while not Up.
//! let Some(Action::Send(packet)) = actions.iter().find(|a| matches!(a, Action::Send(_)))
//! else {
//!     panic!("nothing sent")
//! };
//! let view = ControlView::new_checked(&packet[..]).unwrap();
//! assert_eq!(view.state(), State::Down);
//! assert_eq!(view.desired_min_tx(), 1_000_000);
//! assert!(session.next_timeout().unwrap() <= t0 + Duration::from_secs(1));
//! ```
//!
//! # What is implemented
//! - The Control packet codec (§4.1) with every reception check of §6.8.6, each counted.
//! - Asynchronous mode: the Down/Init/Up/AdminDown state machine (§6.2, §6.8.6),
//!   diagnostics, interval negotiation (§6.8.2-§6.8.4), the one-second transmit interval
//!   while not Up (§6.8.3), jitter (§6.8.7), Poll/Final for parameter changes (§6.5,
//!   §6.8.3), the passive role (§6.1), the C bit, and administrative control (§6.8.16).
//!
//! # What is not
//! - **Echo mode** (§6.4): we advertise a Required Min Echo RX Interval of zero and never
//!   send Echo packets.
//! - **Demand mode** (§6.6): we never set the D bit, and keep sending periodically to a
//!   remote system that sets it.
//! - **Authentication** (§6.7): none is in use, so a packet with the A bit set is discarded
//!   (counted as [`Discard::Authentication`]). The codec carries the Authentication
//!   Section opaquely ([`Authentication`]).
//!
//! # Choices where RFC 5880 leaves room
//! - A state change, and a passive session hearing its peer, send a packet at once and
//!   restart the periodic schedule from there.
//! - bfd.LocalDiag is cleared (No Diagnostic) when the session comes Up.
//! - Stop returns [`ADMIN_DOWN_PACKETS`] AdminDown packets at once, then keeps sending
//!   them for a Detection Time.
//! - A change made while a Poll Sequence runs is confirmed by a second Poll Sequence.
//! - When the transmit interval shrinks, a Transmit deadline armed for the old interval is
//!   brought forward, so the remote system's shorter Detection Time is met at once.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No panics on any input: no unchecked indexing or unwrap outside tests.
#![cfg_attr(
    not(test),
    warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

mod action;
mod config;
mod coupling;
mod event;
mod packet;
mod session;
mod timer;

pub use action::Action;
pub use config::SessionConfig;
pub use coupling::{coupling, Coupling};
pub use event::Event;
pub use packet::{
    AuthType, Authentication, ControlPacket, ControlView, Diagnostic, Discard, State,
    MANDATORY_LEN, MAX_AUTH_DATA_LEN, VERSION,
};
pub use session::{Counters, DropCounts, Session, ADMIN_DOWN_PACKETS};
pub use timer::Timer;

#[cfg(test)]
mod tests;
