//! Response data of the control API: what the server answers to each [`super::Command`].

use serde::{Deserialize, Serialize};

pub use bgp_fsm::MessageCounts;

/// Capabilities one side offered (ours from the configuration, the peer's as far as the
/// negotiation reveals them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideCapabilities {
    /// Hold Time offered in the OPEN, in seconds (RFC 4271 §4.2).
    pub hold_time: u16,
    /// Address families offered (RFC 4760 Multiprotocol capability).
    pub families: Vec<String>,
    /// ADD-PATH families and directions offered (RFC 7911).
    pub add_path: Vec<String>,
    /// Graceful Restart time offered, in seconds (RFC 4724); none without the capability.
    pub graceful_restart: Option<u16>,
    /// Route Refresh capability offered (RFC 2918).
    pub route_refresh: bool,
    /// Extended Message capability offered (RFC 8654).
    pub extended_message: bool,
}

/// What the session negotiated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegotiatedInfo {
    /// Negotiated Hold Time, in seconds: the smaller of both offers (RFC 4271 §4.2).
    pub hold_time: u16,
    /// KEEPALIVE interval in use, in seconds.
    pub keepalive: u16,
    /// Address families both sides offered (RFC 4760).
    pub families: Vec<String>,
    /// Families we send several paths for (RFC 7911 ADD-PATH).
    pub add_path_send: Vec<String>,
    /// Families we receive several paths for (RFC 7911 ADD-PATH).
    pub add_path_receive: Vec<String>,
    /// Both sides speak 4-octet AS numbers (RFC 6793).
    pub four_octet_as: bool,
    /// Messages up to 65535 bytes (RFC 8654).
    pub extended_message: bool,
    /// Families whose IPv4 routes may carry an IPv6 next hop (RFC 8950).
    pub extended_next_hop: Vec<String>,
    /// The peer's BGP Identifier, dotted quad.
    pub peer_id: String,
}

/// A NOTIFICATION as seen in the last session-down sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationInfo {
    /// "6/2"
    pub code: String,
    /// The RFC 9003 Shutdown Communication it carried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_message: Option<String>,
}

/// One peer (`neighbors`, `neighbor NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbor {
    /// The peer's name in the configuration.
    pub name: String,
    /// The peer's address.
    pub address: String,
    /// The peer's AS number.
    pub asn: u32,
    /// Our AS number on this session.
    pub local_asn: u32,
    /// Whether the session is iBGP (same AS on both sides).
    pub ibgp: bool,
    /// The RFC 4271 §8.2.2 state: "Idle", "Connect", "Active", "OpenSent", "OpenConfirm" or "Established".
    pub state: String,
    /// Seconds since Established (0 when not Established).
    pub uptime_secs: u64,
    /// Unix time (seconds) of the last Established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_since: Option<u64>,
    /// Our local address of the TCP connection, once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    /// Capabilities we offer.
    pub local: SideCapabilities,
    /// Capabilities the peer offered, once it sent an OPEN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SideCapabilities>,
    /// What the session negotiated, while Established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiated: Option<NegotiatedInfo>,
    /// Messages received, per type.
    pub messages_in: MessageCounts,
    /// Messages sent, per type.
    pub messages_out: MessageCounts,
    /// Prefixes we announce to the peer (its Adj-RIB-Out).
    pub prefixes_announced: usize,
    /// Prefixes received from the peer and kept (its Adj-RIB-In).
    pub prefixes_received: usize,
    /// The `import` policy in force: "none", "all" or the prefix ranges (issue 13 §3).
    #[serde(default)]
    pub import_policy: String,
    /// Received routes the import policy refused (counted, not kept).
    #[serde(default)]
    pub routes_import_rejected: u64,
    /// Received routes discarded as AS loops (RFC 4271 §9.1.2) or reflected copies of our
    /// own (RFC 4456 §8).
    #[serde(default)]
    pub routes_looped: u64,
    /// Received routes treated as withdrawn for their next hop (RFC 4271 §6.3, D5).
    #[serde(default)]
    pub routes_rejected_next_hop: u64,
    /// How often the session left Established.
    pub flaps: u64,
    /// Shut down by the operator (`bgpctl neighbor NAME shutdown`), with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_down: Option<String>,
    /// Drained by itself (`bgpctl neighbor NAME drain`): its routes carry GRACEFUL_SHUTDOWN.
    #[serde(default)]
    pub peer_drained: bool,
    /// Why the session last went down, as a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last failed connection attempt since the last Established, with the count of
    /// failed attempts in a row: why a peer stays Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_error: Option<ConnectErrorInfo>,
    /// The last NOTIFICATION we sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_notification_sent: Option<NotificationInfo>,
    /// The last NOTIFICATION the peer sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_notification_received: Option<NotificationInfo>,
    /// PeerCommands waiting in the peer task's queue.
    pub queue_depth: usize,
    /// Stopped by `drain` (started again by `undrain`).
    pub drained: bool,
    /// The BFD session (issue 12), when the peer has `bfd` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdInfo>,
    /// An unnumbered peer's link (`interface` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unnumbered: Option<UnnumberedInfo>,
}

/// The link an unnumbered peer's neighbor is learned on: RFC 4861 Router Advertisements sent
/// and received there, and messages dropped by the §6.1 checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnnumberedInfo {
    /// The interface name.
    pub interface: String,
    /// Router Advertisements we sent.
    pub adverts_sent: u64,
    /// Router Advertisements we received.
    pub adverts_received: u64,
    /// Router Solicitations we received.
    pub solicitations_received: u64,
    /// Messages dropped by the RFC 4861 §6.1 validity checks.
    pub dropped: u64,
}

/// A peer's BFD session (RFC 5880 §6.8.1 variables, as negotiated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdInfo {
    /// "AdminDown", "Down", "Init" or "Up".
    pub state: String,
    /// The state the router last reported, as `state`.
    pub remote_state: String,
    /// Seconds since the state last changed.
    pub state_secs: u64,
    /// Our source address of the BFD packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    /// Our discriminator (bfd.LocalDiscr).
    pub local_discriminator: u32,
    /// The router's discriminator (bfd.RemoteDiscr); 0 before it sent.
    pub remote_discriminator: u32,
    /// The `[bfd.profile]` the settings come from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Configured: bfd.RequiredMinRxInterval, bfd.DesiredMinTxInterval (µs), bfd.DetectMult.
    pub min_rx_us: u64,
    /// Configured bfd.DesiredMinTxInterval, µs.
    pub min_tx_us: u64,
    /// Configured bfd.DetectMult.
    pub multiplier: u8,
    /// Whether we wait for the router to send first (RFC 5880 §6.1 passive role).
    pub passive: bool,
    /// Negotiated transmit interval (RFC 5880 §6.8.2), µs.
    pub tx_interval_us: u64,
    /// The router's transmit interval to us, µs (0 before it sent).
    pub rx_interval_us: u64,
    /// Detection Time (§6.8.4), µs (0 before the router sent).
    pub detection_time_us: u64,
    /// The router's Detect Mult, once it sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_multiplier: Option<u8>,
    /// bfd.LocalDiag: why the state last changed.
    pub diagnostic: String,
    /// How often the state changed.
    pub state_changes: u64,
    /// BFD control packets received.
    pub packets_in: u64,
    /// BFD control packets sent.
    pub packets_out: u64,
    /// Packets the session discarded (RFC 5880 §6.8.6).
    pub packets_dropped: u64,
    /// Why the session has not started yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// One route of an Adj-RIB (`routes`, `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// The peer's name.
    pub peer: String,
    /// "out" (Adj-RIB-Out) or "in" (Adj-RIB-In).
    pub direction: String,
    /// The prefix.
    pub prefix: String,
    /// The ADD-PATH path identifier (RFC 7911), when the family uses ADD-PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_id: Option<u32>,
    /// NEXT_HOP (or MP_REACH next hop), as an address.
    pub next_hop: String,
    /// ORIGIN (RFC 4271 §5.1.1).
    pub origin: String,
    /// AS_PATH, space separated (RFC 4271 §5.1.2).
    pub as_path: String,
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// Communities (RFC 1997).
    pub communities: Vec<String>,
    /// Large communities (RFC 8092).
    pub large_communities: Vec<String>,
    /// The service it comes from (Adj-RIB-Out only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Health of one checked target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// The next hop this check is for, or "service" for one check of the whole service.
    pub nexthop: String,
    /// What is checked, as configured.
    pub target: String,
    /// "init", "up", "down" or "disabled".
    pub state: String,
    /// Unix seconds of the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The last check's outcome, as a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
}

/// One service (`services`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service's name (configuration section, or the prefix for a runtime service).
    pub name: String,
    /// The announced prefix.
    pub prefix: String,
    /// "config" or "runtime".
    pub source: String,
    /// Next hops announced: "self" or addresses.
    pub nexthops: Vec<String>,
    /// "announced", "demoted", "withdrawn (health)", "disabled", "withdrawn (bgpctl)",
    /// "draining", "drained", "replaced by runtime".
    pub state: String,
    /// The health summary, when the service has checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Every check and its state.
    pub targets: Vec<TargetHealth>,
    /// Peers with an Established session that currently receive it.
    pub announced_to: Vec<String>,
}

/// One timeline event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// Sequence number, increasing by one per event.
    pub seq: u64,
    /// Unix time in milliseconds.
    pub ts_ms: u64,
    /// "session", "bfd", "notification", "announce", "withdraw", "health", "reload", "drain",
    /// "api".
    pub kind: String,
    /// The peer it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The service it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// What happened, as a sentence.
    pub message: String,
}

/// `explain PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The prefix asked about.
    pub prefix: String,
    /// Services that announce it.
    pub services: Vec<String>,
    /// The verdict per peer.
    pub peers: Vec<PeerExplanation>,
    /// The prefix in the Loc-RIB (received paths and their selection), when any peer sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc_rib: Option<LocRibEntry>,
}

/// `bgpctl fib`: bgpd's routes in the kernel, as the FIB thread last programmed or read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibView {
    /// `[fib] table`.
    pub table: u32,
    /// `[fib] protocol` of every route and next hop shown.
    pub protocol: u8,
    /// Next-hop groups of ours in the kernel.
    pub groups: usize,
    /// Next-hop objects of ours in the kernel.
    pub nexthops: usize,
    /// Whether the routes adopted at start that no peer sent again have been removed.
    pub swept: bool,
    /// Routes adopted at start and not yet confirmed by the Loc-RIB.
    pub adopted: usize,
    /// Median of the recent (1024) times from a received UPDATE to its changes programmed
    /// (`bgpd_fib_update_to_kernel_seconds`), microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_to_kernel_median_us: Option<u64>,
    /// Median time to program one batch (`bgpd_fib_program_seconds`), microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_median_us: Option<u64>,
    /// Next hops the FIB found unreachable (their link is down or no connected route).
    pub unreachable: Vec<String>,
    /// One line per route, in prefix order.
    pub routes: Vec<FibRouteInfo>,
}

/// One route of ours in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibRouteInfo {
    /// The prefix.
    pub prefix: String,
    /// The next-hop group id, when the route points at one of our groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// "resilient", "multipath", or "other" (a leftover not yet replaced).
    pub kind: String,
    /// Members and their kernel weights (1..=256).
    pub next_hops: Vec<FibMemberInfo>,
}

/// A member of a programmed group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibMemberInfo {
    /// The next hop's address.
    pub next_hop: String,
    /// Next-hop object id.
    pub id: u32,
    /// Its kernel weight in the group (1..=256).
    pub weight: u16,
}

/// One prefix of the Loc-RIB (`routes --best`): the forwarding set and every path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocRibEntry {
    /// The prefix.
    pub prefix: String,
    /// The forwarding set: next hops and weights (sorted by next hop; empty when no path
    /// is usable).
    pub next_hops: Vec<LocRibNextHop>,
    /// How the weights were chosen ("equal", "link bandwidth", ...).
    pub weighting: String,
    /// Every path, best first, in the order the decision process ranks them.
    pub paths: Vec<LocRibPath>,
}

/// A member of a forwarding set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocRibNextHop {
    /// The next hop's address.
    pub next_hop: String,
    /// Its share of the traffic, relative to the other members.
    pub weight: u32,
}

/// One received path of a Loc-RIB prefix, with the decision's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocRibPath {
    /// The peer the path came from.
    pub peer: String,
    /// The ADD-PATH path identifier (RFC 7911), when the peer sends several paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_id: Option<u32>,
    /// The path's next hop.
    pub next_hop: String,
    /// AS_PATH, space separated.
    pub as_path: String,
    /// ORIGIN (RFC 4271 §5.1.1).
    pub origin: String,
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// The degree of preference used (LOCAL_PREF, or 100 for eBGP paths).
    pub local_pref: u32,
    /// The neighbouring AS: MED is compared only among paths from the same one
    /// (RFC 4271 §9.1.2.2 c).
    pub neighbour_as: u32,
    /// "eBGP" or "iBGP".
    pub session: String,
    /// "best", "multipath" or "not-multipath".
    pub status: String,
    /// Why it is not multipath (a stable code: "as-path-length", "neighbour-as", "med",
    /// "local-pref", "origin", "peer-kind", "same-next-hop", "max-paths", "llgr-stale",
    /// "next-hop-unreachable").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// The same as a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The decision step where it lost the selection of the best path (RFC 4271 §9.1.2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_at: Option<String>,
    /// Its weight, when a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Its link bandwidth (draft-ietf-idr-link-bandwidth), bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
}

/// Why one peer does or does not receive a prefix (`explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerExplanation {
    /// The peer's name.
    pub peer: String,
    /// Whether the prefix is in the peer's Adj-RIB-Out.
    pub announced: bool,
    /// Why, as a sentence.
    pub reason: String,
    /// Unix seconds since when this has been so (as far as bgpd knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The routes of the prefix in the peer's Adj-RIBs.
    pub routes: Vec<RouteInfo>,
}

/// Result of `announce` / `withdraw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResult {
    /// The prefix changed.
    pub prefix: String,
    /// What was done to it.
    pub action: String,
    /// Peers whose routes changed.
    pub peers: Vec<String>,
    /// A note for the operator (e.g. that runtime changes are not in the configuration file).
    pub note: String,
}

/// Result of `drain` / `undrain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainInfo {
    /// "normal", "draining", "drained".
    pub state: String,
    /// How long routes carry GRACEFUL_SHUTDOWN before the withdrawal, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    /// What happened, as a sentence.
    pub message: String,
}

/// A failed connection attempt (`Neighbor::connect_error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectErrorInfo {
    /// Why the attempt failed, as a sentence.
    pub error: String,
    /// Unix seconds of the last attempt.
    pub at: u64,
    /// Failed attempts in a row.
    pub attempts: u64,
}

/// Result of `neighbor-op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborOpResult {
    /// The peer's name.
    pub peer: String,
    /// "shutdown", "enable", "reset", "hard-reset", "refresh", "drain", "undrain".
    pub op: String,
    /// What was done, as a sentence.
    pub message: String,
}

/// Result of `config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningConfig {
    /// TOML in the file's own shape (`bgpd check` prints the same for a file); passwords are
    /// `********`.
    pub toml: String,
}

/// Result of `sync-begin` / `sync-end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResult {
    /// End-of-RIB is held for sessions after the restart.
    pub holding: bool,
    /// What changed, as a sentence.
    pub message: String,
    /// Peers whose session holds End-of-RIB back right now.
    #[serde(default)]
    pub waiting_peers: Vec<String>,
}

with_route_attrs! {
    /// One runtime service (`bgpctl runtime`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RuntimeInfo {
        /// The prefix.
        pub prefix: String,
        /// "self" or addresses.
        pub nexthops: Vec<String>,
        ..route_attrs
        /// Unix seconds.
        pub since: u64,
    }
}
