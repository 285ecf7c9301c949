//! Outputs of the session, in the order the caller must carry them out.

use std::time::Instant;

use bgp_proto::{AttrType, Family, Nlri, Notification};
use bytes::Bytes;

use crate::negotiate::Negotiated;
use crate::rib::Route;
use crate::timer::Timer;

/// One thing the caller must do. [`crate::Session::handle`] returns them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (port 179); report `Connected` or `ConnectFailed`.
    Connect,
    /// Write these bytes (one or more complete messages back to back) to the connection,
    /// after everything sent before.
    Send(Bytes),
    /// Arm `timer` to fire at `at` (replacing any earlier deadline for it).
    StartTimer {
        /// The timer.
        timer: Timer,
        /// Its deadline.
        at: Instant,
    },
    /// Disarm `timer`.
    StopTimer(Timer),
    /// Close the TCP connection (after writing what was sent), or abort a connection
    /// attempt in progress. Stop reading from it.
    Close,
    /// The session reached Established.
    SessionUp(Box<Negotiated>),
    /// A connection that had exchanged OPENs (OpenSent or later) went away. Every route
    /// received from the peer is gone with it, except those kept stale for Graceful Restart
    /// (`DownReason::stale_routes_kept`, still in `Session::adj_rib_in`); those leave later
    /// through `Received` (End-of-RIB after the peer's return, or the restart timer).
    SessionDown(DownReason),
    /// What one received UPDATE did to the Adj-RIB-In.
    Received(RouteEvents),
}

/// Who ended a session (like h2's `Initiator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// We did: an operator stop, or an error we detected (a NOTIFICATION was sent).
    Local,
    /// The peer did: it sent a NOTIFICATION.
    Remote,
    /// The TCP connection broke without a NOTIFICATION.
    Transport,
}

/// Why a session went down, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownReason {
    /// Who ended it.
    pub initiator: Initiator,
    /// The NOTIFICATION we sent, if any.
    pub sent: Option<Notification>,
    /// The NOTIFICATION the peer sent, if any.
    pub received: Option<Notification>,
    /// The Shutdown Communication (RFC 9003) of the NOTIFICATION sent or received, with
    /// control characters replaced; a malformed one is described instead.
    pub shutdown_message: Option<String>,
    /// Whether the session had been Established.
    pub was_established: bool,
    /// Routes kept (stale) in the Adj-RIB-In for the peer's graceful restart (RFC 4724 §4.2).
    pub stale_routes_kept: usize,
    /// A sentence for the log, e.g. "hold timer expired".
    pub reason: String,
}

/// The outcome of one received UPDATE, after the RFC 7606 decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteEvents {
    /// Routes added to or replaced in the Adj-RIB-In.
    pub announced: Vec<Route>,
    /// NLRI withdrawn: the peer's withdrawals, every announced NLRI of a treat-as-withdraw
    /// UPDATE, routes whose next hop was rejected, looped routes, and kept routes that an
    /// import policy now refuses.
    pub withdrawn: Vec<Nlri>,
    /// Set when the whole UPDATE was treat-as-withdraw (RFC 7606 §2), with the attribute
    /// and reason.
    pub treat_as_withdraw: Option<(AttrType, &'static str)>,
    /// Attributes dropped by attribute discard (RFC 7606 §2).
    pub discarded: Vec<(AttrType, &'static str)>,
    /// Routes treated as withdrawn because of their next hop (RFC 4271 §6.3, D5).
    pub rejected_next_hop: Vec<Nlri>,
    /// Routes discarded as AS loops (RFC 4271 §9.1.2) or reflected copies of our own
    /// (RFC 4456 §8); an earlier route for the NLRI is also in `withdrawn`.
    pub looped: Vec<Nlri>,
    /// How many announced routes the import policy refused (not kept; an earlier route for
    /// the NLRI is in `withdrawn`).
    pub import_rejected: usize,
    /// Prefixes of this UPDATE not kept because the Adj-RIB-In was full
    /// (`PrefixLimitAction::Drop`).
    pub prefix_limit_dropped: usize,
    /// This UPDATE crossed `max_prefixes` (with `PrefixLimitAction::Drop`): set once per
    /// crossing, until the Adj-RIB-In is below the limit again. Carries the limit.
    pub prefix_limit_crossed: Option<u32>,
    /// This UPDATE was the End-of-RIB marker for the family (RFC 4724 §2).
    pub end_of_rib: Option<Family>,
    /// Stale routes removed because the peer did not re-announce them: at the end of an
    /// enhanced route refresh (EoRR, RFC 7313 §4), or of a graceful restart (End-of-RIB or
    /// timer, RFC 4724 §4.2). They are also in `withdrawn`.
    pub stale_removed: usize,
    /// Stale routes kept for the peer's long-lived graceful restart (RFC 9494 §4.2) when its
    /// restart time ended; the ones that gained the LLGR_STALE community are also in
    /// `announced`, with it.
    pub llgr_stale: usize,
}

impl RouteEvents {
    /// Whether the UPDATE changed nothing and there is nothing to report.
    pub fn is_empty(&self) -> bool {
        *self == RouteEvents::default()
    }
}
