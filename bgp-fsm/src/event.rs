//! Inputs to the session (RFC 4271 §8.1).

use bytes::Bytes;

use std::sync::Arc;

use std::net::IpAddr;

use bgp_proto::{Family, HeaderError, NextHop, Nlri, Notification, PathAttributes};
use ipnet::IpNet;

use crate::import::ImportPolicy;

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
    Start {
        /// Wait for the peer to connect (PassiveTcpEstablishment) for this start.
        passive: bool,
    },
    /// ManualStop (Event 2): close with `notification` (default Cease 6/2, Administrative
    /// Shutdown, RFC 4486; use `Notification::cease(2, Some(text))` for an RFC 9003
    /// Shutdown Communication) and stay Idle until the next `Start`.
    Stop {
        /// The NOTIFICATION to send (default Cease 6/2).
        notification: Option<Notification>,
    },
    /// AutomaticStop (Event 8): close with `notification` (default Cease 6/4,
    /// Administrative Reset) and, with `auto_restart`, start again after IdleHoldTime.
    AutomaticStop {
        /// The NOTIFICATION to send (default Cease 6/4).
        notification: Option<Notification>,
    },
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
        /// The next hop of every route.
        next_hop: NextHop,
        /// The path attributes of every route.
        attrs: Arc<PathAttributes>,
        /// The prefixes (with path ids for ADD-PATH, RFC 7911).
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
    /// Send every route of `family` in the Adj-RIB-Out again (an operator's soft refresh
    /// out, e.g. after the peer lost them to a policy change of its own). Ignored unless
    /// Established with `family` negotiated.
    ResendRoutes(Family),
    /// RFC 9687: a write could not complete; bytes wait in the driver's send queue. Arms
    /// the SendHoldTimer if it is not already running.
    SendBlocked,
    /// RFC 9687: the driver wrote some queued bytes. `drained`: the queue is now empty
    /// (the SendHoldTimer stops); otherwise the timer restarts.
    SendProgress {
        /// The driver's send queue is empty.
        drained: bool,
    },
    /// Every route the caller will announce is now in the Adj-RIB-Out (after a restart: its
    /// state restored and its first health verdicts known). An End-of-RIB held back by
    /// [`crate::GracefulRestartConfig::end_of_rib_deferral`] goes out now; later sessions
    /// send theirs at once. Idempotent.
    RoutesComplete,
    /// A new import policy and own-AS allowance (an operator reload), applied without a
    /// session reset: kept routes the new rules refuse are removed (reported through
    /// `Action::Received` as withdrawn); when the rules may now accept routes refused before
    /// and the peer advertised Route Refresh, a ROUTE-REFRESH goes out for every negotiated
    /// family (RFC 2918 §3) so the peer sends them again. Without Route Refresh the wider
    /// rules apply to the routes the peer announces from then on.
    SetImport {
        /// The routes to keep.
        policy: ImportPolicy,
        /// How often our AS may appear in a received AS_PATH (RFC 4271 §9.1.2 loop check).
        allow_own_as: u8,
    },
    /// The subnets of the interface that carries the connection, and the peer's address, for
    /// the next-hop check of a directly connected eBGP peer
    /// (`SessionConfig::directly_connected`, RFC 4271 §6.3). Give it with (or before)
    /// `Connected`; kept until the next `SharedSubnets`. Empty: nothing is known, no check.
    SharedSubnets {
        /// The prefixes of the connection's interface.
        subnets: Vec<IpNet>,
        /// The peer's address on the connection.
        peer: Option<IpAddr>,
    },
    /// OpenCollisionDump (Event 23): this connection lost collision resolution
    /// ([`crate::collision_loser`]); send Cease 6/7 and close.
    CollisionLost,
}
