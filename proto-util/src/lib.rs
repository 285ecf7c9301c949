//! `proto-util`: building blocks shared by the sans-IO protocol crates (`bgp-proto`,
//! `bgp-fsm`, `bfd`), so each is written once. It does no I/O and reads no clock.
//!
//! - [`codepoint!`]: an IANA registry as an open set, a newtype over the wire integer with
//!   named constants, so an unknown value is representable and passes through unchanged
//!   (STYLE.md §3, after rustls's `enum_builder!`).
//! - [`TimerTable`]: one optional deadline per timer kind (after quinn's
//!   `connection/timer.rs`). A session tells its caller each deadline and keeps the same one
//!   here, so a late or duplicate timer event is recognised and ignored.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codepoint;
mod timer;

pub use timer::{TimerKind, TimerTable};
