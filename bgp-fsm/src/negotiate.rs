//! The outcome of the OPEN exchange (RFC 4271 §4.2, RFC 5492 and the capability RFCs).

use std::net::Ipv4Addr;

use bgp_proto::{Family, SessionContext};

use crate::config::Role;

/// Graceful Restart as advertised by one side (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartInfo {
    /// Restart Time in seconds.
    pub restart_time: u16,
    /// R bit: the sender has restarted.
    pub restarting: bool,
    /// N bit (RFC 8538).
    pub notification: bool,
    /// Families, each with its F bit (forwarding state preserved).
    pub families: Vec<(Family, bool)>,
}

/// Long-Lived Graceful Restart for one family as advertised by one side (RFC 9494 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlgrFamily {
    pub family: Family,
    /// F bit: forwarding state preserved.
    pub forwarding: bool,
    /// Long-lived Stale Time in seconds (24 bits).
    pub stale_time: u32,
}

/// What the two OPENs agreed on. Available from OpenConfirm on
/// ([`crate::Session::negotiated`]) and carried by `Action::SessionUp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub local_asn: u32,
    /// The peer's AS (from the 4-octet AS capability when present, RFC 6793).
    pub peer_asn: u32,
    pub local_id: Ipv4Addr,
    /// The peer's BGP Identifier.
    pub peer_id: Ipv4Addr,
    /// The smaller of the two Hold Times, in seconds; 0 = no KEEPALIVEs, no hold timer
    /// (RFC 4271 §4.2).
    pub hold_time: u16,
    /// The interval between our KEEPALIVEs, in seconds (0 when `hold_time` is 0).
    pub keepalive: u16,
    /// The peer's proposed Hold Time.
    pub peer_hold_time: u16,
    /// Both sides advertised the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Families both sides advertised (RFC 4760 §8; IPv4 unicast when a side sent no
    /// Multiprotocol capability at all).
    pub families: Vec<Family>,
    /// Families where we send several paths per prefix (RFC 7911): we offered send and the
    /// peer offered receive.
    pub add_path_send: Vec<Family>,
    /// Families where the peer sends several paths per prefix.
    pub add_path_receive: Vec<Family>,
    /// Both sides advertised Extended Message (RFC 8654).
    pub extended_message: bool,
    /// The largest UPDATE/NOTIFICATION/ROUTE-REFRESH either side may send on this session;
    /// give it to the framer (`BgpCodec::set_max_len`).
    pub max_message_len: usize,
    /// We may send ROUTE-REFRESH: the peer advertised Route Refresh (RFC 2918).
    pub route_refresh: bool,
    /// Both sides advertised Enhanced Route Refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Our Graceful Restart capability, if sent.
    pub local_graceful_restart: Option<GracefulRestartInfo>,
    /// The peer's Graceful Restart capability, if received.
    pub peer_graceful_restart: Option<GracefulRestartInfo>,
    /// The peer's Long-Lived Graceful Restart families, if it sent the capability.
    pub peer_llgr: Option<Vec<LlgrFamily>>,
    /// Our BGP Role and the peer's (RFC 9234).
    pub local_role: Option<Role>,
    pub peer_role: Option<Role>,
    /// The peer's FQDN capability.
    pub peer_hostname: Option<String>,
    pub peer_domain: Option<String>,
    /// The codec context for this session: pass it to `bgp_proto::decode` and
    /// `UpdateBuilder`.
    pub context: SessionContext,
}

impl Negotiated {
    /// Internal BGP.
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.peer_asn
    }
}
