//! `bgp-fsm`: the RFC 4271 BGP session as a sans-IO state machine. It opens no sockets,
//! reads no clock and uses no async runtime (no tokio): the caller passes in the current
//! time and every event, and carries out the [`Action`]s that come back, in order. The
//! same inputs and the same seed always give the same actions.
//!
//! # Driving contract
//!
//! One [`Session`] per peer connection, under one [`Neighbor`] per peer (item 4). The caller
//! (bgpd's per-peer task) does this:
//!
//! 1. `Session::new(config, seed)`, optionally `Event::Announce` the routes to send (they
//!    wait in the Adj-RIB-Out until the session is Established), then
//!    `handle(now, Event::Start { passive })`. Many routes sharing one next hop and one
//!    attribute set go in as one `Event::AnnounceShared` (no per-route copy; the
//!    Adj-RIB-Out keeps each distinct path once, about 34 octets per route);
//!    `Event::Withdraw` / `Event::WithdrawAll` remove routes.
//! 2. Carry out every returned [`Action`] in order:
//!    - `Connect`: start a TCP connect to the peer; report `Event::Connected` or
//!      `Event::ConnectFailed`.
//!    - `Send(bytes)`: append to the connection's write queue (complete messages, back to
//!      back). If the socket stops accepting bytes, report `Event::SendBlocked`, and
//!      `Event::SendProgress { drained }` whenever queued bytes are written (RFC 9687).
//!      [`SendQueue`] does this bookkeeping: every place that writes calls
//!      [`SendQueue::wrote`] and [`SendQueue::stalled`] and feeds the event they return.
//!      A drain that is not reported leaves the SendHoldTimer running, and a peer that
//!      reads perfectly well gets 8/0 one SendHoldTime later.
//!    - `StartTimer { timer, at }` / `StopTimer(timer)`: the session keeps its own table of
//!      deadlines, so the simplest driver ignores these and arms a single sleep at
//!      [`Session::next_timeout`], then calls [`Session::handle_timeout`] (or
//!      `handle(now, Event::TimerFired(t))`). Spurious, late or duplicate firings are
//!      ignored.
//!    - `Close`: flush what was sent, then close the socket (or abort the connect). Feed no
//!      more events from that socket.
//!    - `SessionUp(negotiated)`: set the framer's maximum length to
//!      `negotiated.max_message_len`; log.
//!    - `SessionDown(reason)`: every route received from the peer is gone, except
//!      `reason.stale_routes_kept` routes kept for the peer's graceful restart (RFC 4724; still
//!      in [`Session::adj_rib_in`], they leave later through `Received`); log the reason.
//!    - `Received(events)`: routes learned or withdrawn (the Adj-RIB-In already reflects
//!      them).
//!    - Received routes are kept as [`SessionConfig::import`] says, after the loop check
//!      (RFC 4271 §9.1.2, `allow_own_as`) and the next-hop checks (RFC 4271 §6.3); for a
//!      directly connected eBGP peer (`SessionConfig::directly_connected`) pass the subnets
//!      of the connection's interface with `Event::SharedSubnets` before `Connected`.
//!      `Event::SetImport` changes the policy on a live session (no reset; ROUTE-REFRESH
//!      when it widens).
//! 3. Frame the byte stream with `bgp_proto::frame_len` (or `bgp_proto::BgpCodec`) and pass
//!    each complete message as `Event::Message(bytes)`; a framing error goes in as
//!    `Event::HeaderError(e)` (the session answers with the RFC 4271 §6.1 NOTIFICATION and
//!    closes). EOF or a socket error is `Event::Closed`.
//! 4. Connections of one peer, inbound and outbound, go through a [`Neighbor`] that owns
//!    up to two sessions (quinn-proto's `Endpoint` for one peer): it refuses or takes each
//!    new connection ([`Neighbor::connected`] names it with a [`ConnId`]), runs a second
//!    session during a possible collision and resolves it (RFC 4271 §6.8, [`resolve`]:
//!    Cease 6/7 to the loser; two connections in one direction: the newer one with an OPEN
//!    replaces the older), copies the graceful-restart R bit, asks for the routes
//!    ([`Output::LoadRoutes`]) at OpenConfirm and withdraws them when the session goes down.
//!    Its [`Output`]s carry the connection they are about. A second session's
//!    `Start { passive: true }` applies to that connection only; after a failure the
//!    configured `SessionConfig::passive` decides whether it connects out again.
//! 5. `Event::Stop { notification }` for an operator shutdown (Cease 6/2, with an RFC 9003
//!    message via `Notification::cease(2, Some(text))`); the session stays Idle until the next
//!    `Start`. After any other failure the session restarts by itself after the IdleHoldTimer
//!    (`SessionConfig::auto_restart`), exponentially damped (§8.1.1).
//!
//! Timers use `Instant` values only as deadlines; `now` must never go backwards.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bgp_fsm::{Action, Event, Session, SessionConfig, State};
//!
//! let config = SessionConfig::new(64512, 64500, "192.0.2.1".parse().unwrap());
//! let mut session = Session::new(config, 7);
//! let t0 = Instant::now(); // the caller's clock, never read by the crate
//! let actions = session.handle(t0, Event::Start { passive: false });
//! assert!(actions.contains(&Action::Connect));
//! assert_eq!(session.state(), State::Connect);
//!
//! // The TCP connect succeeded: the session sends its OPEN.
//! let actions = session.handle(t0 + Duration::from_millis(20), Event::Connected);
//! assert!(actions.iter().any(|a| matches!(a, Action::Send(_))));
//! assert_eq!(session.state(), State::OpenSent);
//! ```
//!
//! # Choices where RFC 4271 §8 leaves room (or where we differ)
//! - One TCP connection per `Session`; a second connection gets its own session and the
//!   [`Neighbor`] resolves the collision ([`collision_loser`], §6.8).
//! - A failed connection in Connect or Active waits in Active for the ConnectRetryTimer
//!   (as FRR and BIRD do) instead of going to Idle; the ConnectRetryCounter still counts it.
//! - Passive sessions never connect out (no ConnectRetryTimer in Active). "Passive" is
//!   `SessionConfig::passive` once a start's first connection is gone: `Start { passive:
//!   true }` for an inbound connection does not make an active peer passive for good.
//! - SendNOTIFICATIONwithoutOPEN is on: errors during DelayOpen are answered.
//! - After a failure the session restarts itself after the IdleHoldTimer (AllowAutomaticStart),
//!   doubled per consecutive failure with DampPeerOscillations (§8.1.1). A collision loser
//!   does not restart.
//! - No MinRouteAdvertisementIntervalTimer (§9.2.1.1): changes go out at once, packed.
//!
//! # Graceful restart
//! - Helper (RFC 4724 §4.2): a restarting peer's routes stay stale until its End-of-RIB or
//!   its restart time; with Long-Lived Graceful Restart on both sides (RFC 9494) they then
//!   stay for its long-lived stale time with the LLGR_STALE community (NO_LLGR routes go).
//! - Restarting speaker (RFC 4724 §4.1): the caller sets `GracefulRestartConfig::restarting`
//!   (R bit) and `preserve_forwarding` (F bits) when the process starts; the session clears
//!   the R bit once it has been Established, and always sends its whole Adj-RIB-Out then
//!   End-of-RIB per family. With `GracefulRestartConfig::end_of_rib_deferral` the first
//!   session after a restart holds End-of-RIB back until `Event::RoutesComplete` or the
//!   deferral limit (RFC 4724 §4.1 leaves the timing to the speaker).
//! - Notification (RFC 8538): with the N bit on both sides a NOTIFICATION other than Hard
//!   Reset keeps the routes; Cease 6/1-6/3 we send go out as Hard Reset ([`hard_reset`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No panics on any input: no unchecked indexing or unwrap outside tests.
#![cfg_attr(
    not(test),
    warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

mod action;
mod collision;
mod compact;
mod config;
mod event;
mod fsm;
mod graceful;
mod import;
mod negotiate;
mod neighbor;
mod restarting;
mod rib;
mod rib_in;
mod routes;
mod send;
mod session;
mod timer;
pub mod unnumbered;

pub use action::{Action, DownReason, Initiator, RouteEvents};
pub use collision::{collision_loser, resolve, Direction, Resolution, Speaker};
pub use config::{AddPathConfig, GracefulRestartConfig, PrefixLimitAction, SessionConfig};
pub use event::Event;
pub use graceful::{hard_reset, hard_reset_inner, is_hard_reset};
pub use import::{ImportPolicy, PrefixRange};
pub use negotiate::{otc_on_egress, roles_match, Negotiated};
pub use neighbor::{Admin, CollisionStep, ConnId, Neighbor, Output, Refusal};
pub use rib::{family_of, AdjRib, Route};
pub use rib_in::AdjRibIn;
pub use send::SendQueue;
pub use session::{Counters, MessageCounts, Session, State};
pub use timer::Timer;

// The codec types that appear in this crate's API.
pub use bgp_proto::{
    Capability, CapabilityCode, Family, GracefulRestart, HeaderError, LlgrFamily, NextHop, Nlri,
    Notification, PathAttributes, Role, SessionContext,
};

#[cfg(test)]
mod tests;
