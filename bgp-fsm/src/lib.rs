//! `bgp-fsm`: the RFC 4271 BGP session as a sans-IO state machine. It opens no sockets,
//! reads no clock and uses no async runtime (no tokio): the caller passes in the current
//! time and every event, and carries out the [`Action`]s that come back.
//!
//! (Driving contract: see [`Session`].)

#![forbid(unsafe_code)]

mod action;
mod collision;
mod config;
mod event;
mod negotiate;
mod rib;
mod session;
mod timer;

pub use action::{Action, DownReason, Initiator, RouteEvents};
pub use collision::{collision_loser, Direction, Speaker};
pub use config::{AddPathConfig, GracefulRestartConfig, Role, SessionConfig};
pub use event::Event;
pub use negotiate::{GracefulRestartInfo, LlgrFamily, Negotiated};
pub use rib::{family_of, AdjRib, Route};
pub use session::{Counters, MessageCounts, Session, State};
pub use timer::Timer;

// The codec types that appear in this crate's API.
pub use bgp_proto::{Family, HeaderError, NextHop, Nlri, Notification, PathAttributes};
