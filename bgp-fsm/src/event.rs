//! Inputs to the session (RFC 4271 §8.1).

use bytes::Bytes;

use std::sync::Arc;

use bgp_proto::{Family, HeaderError, NextHop, Nlri, Notification, PathAttributes};

use crate::rib::Route;
use crate::timer::Timer;

/// One input to [`crate::Session::handle`]. The doc comment of each variant names the
/// RFC 4271 §8.1 event(s) it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// ManualStart (Event 1), or ManualStart_with_PassiveTcpEstablishment (Event 4) when
    /// `passive` (or [`crate::SessionConfig::passive`]) is set. The automatic starts
    /// (Events 3, 5, 6, 7) happen inside the session when the IdleHoldTimer expires and
    /// [`crate::SessionConfig::auto_restart`] is on.
    Start { passive: bool },
    /// ManualStop (Event 2): close with `notification` (default Cease 6/2, Administrative
    /// Shutdown, RFC 4486; use `Notification::cease(2, Some(text))` for an RFC 9003
    /// Shutdown Communication) and stay Idle until the next `Start`.
    Stop { notification: Option<Notification> },
    /// AutomaticStop (Event 8): close with `notification` (default Cease 6/4,
    /// Administrative Reset) and, with `auto_restart`, start again after IdleHoldTime.
    AutomaticStop { notification: Option<Notification> },
    /// The TCP connection is up: Tcp_CR_Acked (Event 16, our connect succeeded) or
    /// TcpConnectionConfirmed (Event 17, we accepted the peer's connection).
    Connected,
    /// Our connection attempt failed (TcpConnectionFails, Event 18).
    ConnectFailed,
    /// The TCP connection closed or broke (TcpConnectionFails, Event 18).
    Closed,
    /// A timer's deadline passed (Events 9-13; RFC 9687 SendHoldTimer). Spurious firings
    /// (timer not armed, or re-armed to a later deadline) are ignored.
    TimerFired(Timer),
    /// One complete message as framed by `bgp_proto::frame_len`, header included
    /// (BGPOpen, BGPOpenMsgErr, NotifMsg, NotifMsgVerErr, KeepAliveMsg, UpdateMsg,
    /// UpdateMsgErr: Events 19, 20, 22, 24-28).
    Message(Bytes),
    /// Framing failed (BGPHeaderErr, Event 21): the session sends the RFC 4271 §6.1
    /// NOTIFICATION and closes. Read nothing more from the connection.
    HeaderError(HeaderError),
    /// Add or replace routes in the Adj-RIB-Out; sent at once when Established.
    Announce(Vec<Route>),
    /// Like `Announce`, for many NLRI sharing one next hop and one attribute set (the
    /// common case for a speaker: no per-route copy of the shared values is made).
    AnnounceShared {
        next_hop: NextHop,
        attrs: Arc<PathAttributes>,
        nlri: Vec<Nlri>,
    },
    /// Remove routes (prefix and path id) from the Adj-RIB-Out; withdrawn at once when
    /// Established.
    Withdraw(Vec<Nlri>),
    /// Remove every route from the Adj-RIB-Out; withdrawn at once when Established.
    WithdrawAll,
    /// Ask the peer to re-send `family` (ROUTE-REFRESH, RFC 2918). Ignored unless
    /// Established, the peer advertised Route Refresh and `family` was negotiated.
    RequestRefresh(Family),
    /// RFC 9687: a write could not complete; bytes wait in the driver's send queue. Arms
    /// the SendHoldTimer if it is not already running.
    SendBlocked,
    /// RFC 9687: the driver wrote some queued bytes. `drained`: the queue is now empty
    /// (the SendHoldTimer stops); otherwise the timer restarts.
    SendProgress { drained: bool },
    /// Every route the caller will announce is now in the Adj-RIB-Out (after a restart: its
    /// state restored and its first health verdicts known). An End-of-RIB held back by
    /// [`crate::GracefulRestartConfig::end_of_rib_deferral`] goes out now; later sessions
    /// send theirs at once. Idempotent.
    RoutesComplete,
    /// OpenCollisionDump (Event 23): this connection lost collision resolution
    /// ([`crate::collision_loser`]); send Cease 6/7 and close.
    CollisionLost,
}
