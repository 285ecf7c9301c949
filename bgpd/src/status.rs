//! What each peer task publishes about itself, one way: the task writes its [`PeerStatus`]
//! into a `watch` channel; the daemon, control (events, metrics, `bgpctl`), BFD and the FIB
//! read it and never recompute what it holds.
//!
//! The route changes the task applied are facts of the status ([`Applied`]): the decision
//! that asked for them (generation, trigger, `decided_at`, from
//! [`crate::announce::Decision`]), what the task's one diff announced and withdrew, and
//! when its UPDATEs were handed to the socket. Control turns them into event lines and the
//! change-to-UPDATE latency (`written_at - decided_at`).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bgp_fsm::{DownReason, Negotiated, State};

use crate::announce::{ChangeSummary, Decision};

/// How many applied changes a status keeps ([`PeerStatus::applied`]): a reader that misses a
/// few updates of the channel still sees each change.
pub const APPLIED_KEPT: usize = 16;

/// One route change a peer task applied to its Established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The decision the change came from.
    pub decision: Decision,
    /// What the task's diff announced and withdrew (empty: the session had these routes).
    pub summary: ChangeSummary,
    /// When the UPDATEs were handed to the socket (written as far as it takes them).
    pub written_at: Instant,
}

impl Applied {
    /// The change-to-UPDATE latency of this change.
    pub fn latency(&self) -> std::time::Duration {
        self.written_at
            .saturating_duration_since(self.decision.decided_at)
    }
}

/// How a session (or an attempt at one) ended: the sentence logged and the typed reason it was
/// made from. Readers take facts (the NOTIFICATIONs, the Shutdown Communication) from
/// `reason`; the sentence is for display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDown {
    /// The sentence logged, for display.
    pub sentence: String,
    /// The typed reason.
    pub reason: DownReason,
}

/// A snapshot of one peer, updated by its task (for logs, the control socket and metrics:
/// readers clone it from the `watch` channel and never block the task).
#[derive(Debug, Clone)]
pub struct PeerStatus {
    /// The peer's name.
    pub name: String,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS number.
    pub asn: u32,
    /// The session's RFC 4271 §8.2.2 state.
    pub state: State,
    /// When the current session reached Established.
    pub established_since: Option<SystemTime>,
    /// What the current session negotiated, while Established.
    pub negotiated: Option<Arc<Negotiated>>,
    /// The session's local address, once connected.
    pub local_address: Option<SocketAddr>,
    /// Routes in the Adj-RIB-Out.
    pub routes_out: usize,
    /// Routes in the Adj-RIB-In.
    pub routes_in: usize,
    /// Times the session went down after being Established.
    pub flaps: u64,
    /// How the last session or attempt ended.
    pub last_down: Option<LastDown>,
    /// The route changes applied to Established sessions, oldest first (the last
    /// [`APPLIED_KEPT`]).
    pub applied: Arc<VecDeque<Applied>>,
    /// Routes this peer's sessions should carry, as the task last computed them.
    pub routes_desired: usize,
    /// NLRI of the change being written that are not yet handed to the session.
    pub unsent_nlri: usize,
    /// Messages and routes counted by the session.
    pub counters: bgp_fsm::Counters,
    /// End-of-RIB is held back after a restart (RFC 4724 §4.1 deferral, issue 13).
    pub end_of_rib_pending: bool,
    /// The last failed connection attempt since the session was last Established (cleared
    /// then): why a peer stays Active.
    pub connect_error: Option<ConnectError>,
    /// An unnumbered peer's link: its interface and Router Advertisement counters.
    pub link: Option<crate::unnumbered::LinkStats>,
}

/// A failed outbound connection attempt, and how many failed in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The socket error ("Network is unreachable (os error 101)") with a hint when one
    /// applies.
    pub error: String,
    /// When the last attempt failed.
    pub at: SystemTime,
    /// Consecutive failed attempts.
    pub attempts: u64,
}

impl PeerStatus {
    /// The status of a peer task that has not started a session yet.
    pub fn idle(
        name: String,
        address: IpAddr,
        asn: u32,
        link: Option<crate::unnumbered::LinkStats>,
    ) -> PeerStatus {
        PeerStatus {
            name,
            address,
            asn,
            state: State::Idle,
            established_since: None,
            negotiated: None,
            local_address: None,
            routes_out: 0,
            routes_in: 0,
            flaps: 0,
            last_down: None,
            applied: Arc::default(),
            routes_desired: 0,
            unsent_nlri: 0,
            counters: bgp_fsm::Counters::default(),
            end_of_rib_pending: false,
            connect_error: None,
            link,
        }
    }

    /// The generation of the last decision this peer applied (0: none).
    pub fn applied_generation(&self) -> u64 {
        self.applied
            .back()
            .map(|a| a.decision.generation)
            .unwrap_or(0)
    }

    /// Records one applied change (keeps the last [`APPLIED_KEPT`]).
    pub fn push_applied(&mut self, applied: Applied) {
        let log = Arc::make_mut(&mut self.applied);
        if log.len() >= APPLIED_KEPT {
            log.pop_front();
        }
        log.push_back(applied);
    }
}
