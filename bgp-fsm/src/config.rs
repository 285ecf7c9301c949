//! Per-session configuration: what we propose in our OPEN and how we judge the peer's.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_proto::{CapabilityCode, Family, Role};

use crate::import::ImportPolicy;

/// ADD-PATH for one family (RFC 7911 §4): whether we offer to send and/or receive several
/// paths per prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathConfig {
    /// The family the ADD-PATH capability entry is for.
    pub family: Family,
    /// We offer to send several paths per prefix (Send/Receive value 2 or 3, RFC 7911 §4).
    pub send: bool,
    /// We offer to receive several paths per prefix (Send/Receive value 1 or 3, RFC 7911 §4).
    pub receive: bool,
}

impl AddPathConfig {
    /// Both directions for `family` (Send/Receive value 3, RFC 7911 §4).
    pub fn send_and_receive(family: Family) -> AddPathConfig {
        AddPathConfig {
            family,
            send: true,
            receive: true,
        }
    }
}

/// Our Graceful Restart capability (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart Time in seconds (12 bits; larger values are capped at 4095).
    pub restart_time: u16,
    /// The R bit: we are restarting right now.
    pub restarting: bool,
    /// The N bit (RFC 8538): we support the graceful NOTIFICATION procedures.
    pub notification: bool,
    /// Families whose forwarding state we preserve across a restart (F bit set).
    pub preserve_forwarding: Vec<Family>,
    /// Helper mode (RFC 4724 §4.2): once the restarted peer is back, how long its stale
    /// routes may wait for its End-of-RIB before they are removed. Default 360 s (FRR's
    /// stalepath-time).
    pub stale_routes_time: Duration,
    /// Long-Lived Graceful Restart (RFC 9494): `Some(seconds)` advertises the LLGR capability
    /// (code 71) for every family with this Long-lived Stale Time (24 bits; larger values
    /// are capped at 16777215) and the F bit of `preserve_forwarding`, and acts as its
    /// helper: when the peer's restart time ends before it is back, and it advertised LLGR
    /// for the family, its routes stay for its long-lived stale time, tagged LLGR_STALE
    /// (RFC 9494 §4.2). `None`: no LLGR.
    pub llgr_stale_time: Option<u32>,
    /// Restarting speaker (RFC 4724 §4.1, which leaves the timing of End-of-RIB to the
    /// speaker): `Some(limit)` holds End-of-RIB back on the first session after a restart
    /// (R bit set, Graceful Restart negotiated) until the caller says every route is known
    /// ([`crate::Event::RoutesComplete`]) or `limit` has passed since Established. Routes
    /// announced meanwhile go out at once; the peer keeps its stale copies of the others
    /// until End-of-RIB. Keep it below the peer's stale-path time. `None`: End-of-RIB
    /// follows the initial table at once.
    pub end_of_rib_deferral: Option<Duration>,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        GracefulRestartConfig {
            restart_time: 120,
            restarting: false,
            notification: false,
            preserve_forwarding: Vec::new(),
            stale_routes_time: Duration::from_secs(360),
            llgr_stale_time: None,
            end_of_rib_deferral: None,
        }
    }
}

/// Everything a [`crate::Session`] needs to know about its peer and about us.
///
/// Build it with [`SessionConfig::new`] and change the public fields you care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our AS; a value above 65535 goes in the 4-octet AS capability with AS_TRANS in the
    /// OPEN's My Autonomous System field (RFC 6793 §3).
    pub local_asn: u32,
    /// The AS the peer must announce (RFC 4271 §6.2: otherwise 2/2). Equal to `local_asn`
    /// for iBGP.
    pub peer_asn: u32,
    /// Our BGP Identifier (RFC 6286: any non-zero value).
    pub local_id: Ipv4Addr,
    /// The Hold Time we propose, 0 or >= 3 seconds (RFC 4271 §4.2). Default 90.
    pub hold_time: u16,
    /// The smallest non-zero Hold Time we accept from the peer (local policy, RFC 4271 §6.2;
    /// 2/6 below it). Default 3, the protocol minimum.
    pub min_hold_time: u16,
    /// Keepalive interval in seconds. `None`: a third of the negotiated Hold Time
    /// (RFC 4271 §10). Never more than a third of the negotiated Hold Time, never less
    /// than 1 s; `Some(0)` is taken as `None` (no tight KEEPALIVE loop).
    pub keepalive: Option<u16>,
    /// ConnectRetryTime (RFC 4271 §10, suggested 120 s; default here 5 s, jittered).
    pub connect_retry: Duration,
    /// Passive TCP establishment (RFC 4271 §8.1.1, PassiveTcpEstablishment): wait for the
    /// peer to connect instead of connecting out. `Event::Start { passive: true }` also sets it.
    pub passive: bool,
    /// DelayOpen (RFC 4271 §8.1.1): after the TCP connection is up, wait this long for the
    /// peer's OPEN before sending ours.
    pub delay_open: Option<Duration>,
    /// The large Hold Time used in OpenSent while waiting for the peer's OPEN
    /// (RFC 4271 §8.2.2 suggests 4 minutes).
    pub open_hold_time: Duration,
    /// Address families we offer with the Multiprotocol capability (RFC 4760 §8). Empty is
    /// taken as IPv4 unicast.
    pub families: Vec<Family>,
    /// ADD-PATH offers per family (RFC 7911).
    pub add_path: Vec<AddPathConfig>,
    /// Advertise Route Refresh (RFC 2918). Receiving a ROUTE-REFRESH when we did not
    /// advertise it is 1/3 (project decision D4).
    pub route_refresh: bool,
    /// Advertise Enhanced Route Refresh (RFC 7313); only with `route_refresh`.
    pub enhanced_route_refresh: bool,
    /// Advertise Extended Message (RFC 8654).
    pub extended_message: bool,
    /// Families whose NLRI may carry an IPv6 next hop (RFC 8950 Extended Next Hop
    /// Encoding; in practice `[IPV4_UNICAST]`, to announce IPv4 prefixes with an IPv6 next
    /// hop over an IPv6 session). Used only where the peer advertises the same.
    pub extended_next_hop: Vec<Family>,
    /// Advertise Graceful Restart (RFC 4724) and act as its helper (Receiving Speaker,
    /// §4.2): when a peer that advertised it goes away without a NOTIFICATION (or, with the
    /// RFC 8538 N bit on both sides, with any NOTIFICATION but Hard Reset), its routes of the
    /// families in its capability stay in the Adj-RIB-In, marked stale, until it is back and
    /// sends End-of-RIB, or its Restart Time runs out.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Our BGP Role (RFC 9234); checked against the peer's on eBGP sessions (2/11).
    pub role: Option<Role>,
    /// RFC 9234 §4.2 strict mode: the peer must send a Role capability (else 2/11).
    pub strict_role: bool,
    /// Hostname for the FQDN capability (draft-walton-bgp-hostname-capability).
    pub hostname: Option<String>,
    /// Domain name for the FQDN capability.
    pub domain: Option<String>,
    /// Maximum number of routes kept from the peer (Adj-RIB-In). Exceeding it closes the
    /// session with Cease 6/1 carrying AFI, SAFI and the limit (RFC 4486 §4, decision D6).
    pub max_prefixes: Option<u32>,
    /// What exceeding `max_prefixes` does (decision D6): close the session with Cease 6/1
    /// (default), or keep it and drop the routes beyond the limit.
    pub max_prefixes_action: PrefixLimitAction,
    /// The IdleHoldTime after a prefix-limit reset (Cease 6/1): the session restarts by
    /// itself this long after it closed (with `auto_restart`), instead of after the damped
    /// `idle_hold_time`, so that a peer that sends too many routes is not retried at once.
    /// Default 30 s (decision D6: close with 6/1 and restart timer).
    pub max_prefixes_restart: Duration,
    /// SendHoldTime (RFC 9687). `None`: max(8 minutes, 2 x negotiated Hold Time) (D13).
    /// Never armed when the negotiated Hold Time is 0.
    pub send_hold_time: Option<Duration>,
    /// IdleHoldTime (RFC 4271 §8.1.1): how long to stay Idle before an automatic restart.
    pub idle_hold_time: Duration,
    /// The ceiling for the doubled IdleHoldTime when damping peer oscillations.
    pub max_idle_hold_time: Duration,
    /// DampPeerOscillations (RFC 4271 §8.1.1): double the IdleHoldTime after each
    /// consecutive failure, up to `max_idle_hold_time`; reset once a session has stayed
    /// Established for `max_idle_hold_time`.
    pub damp_peer_oscillations: bool,
    /// AllowAutomaticStart (RFC 4271 §8.1.1): after the session fails (anything but a
    /// manual stop) restart it automatically once IdleHoldTime has passed (Events 3/5).
    pub auto_restart: bool,
    /// Capabilities the peer must advertise, else 2/7 with our capability as Data
    /// (RFC 5492 §5).
    pub required_capabilities: Vec<CapabilityCode>,
    /// Our own addresses: a received route whose next hop is one of these is treated as
    /// withdrawn (RFC 4271 §6.3, decision D5).
    pub local_addresses: Vec<IpAddr>,
    /// Treat-as-withdraw eBGP routes whose leftmost AS is not the peer's (D8).
    pub enforce_first_as: bool,
    /// Accept AS_SET / AS_CONFED_SET (D7: by default such routes are treat-as-withdraw).
    pub allow_as_set: bool,
    /// Which received routes are kept in the Adj-RIB-In (and count against
    /// `max_prefixes`); the others are counted in `Counters::import_rejected`. Default
    /// [`ImportPolicy::All`]; change it on a live session with `Event::SetImport`.
    pub import: ImportPolicy,
    /// How many times our own AS may appear in a received AS_PATH (RFC 4271 §9.1.2 loop
    /// detection). Default 0: any occurrence discards the route.
    pub allow_own_as: u8,
    /// The peer is a single-hop eBGP neighbour (no multihop): a received next hop must be
    /// the peer's address or on a subnet shared with us (RFC 4271 §6.3, D5), judged against
    /// the subnets given with `Event::SharedSubnets`. Ignored on iBGP.
    pub directly_connected: bool,
}

impl SessionConfig {
    /// A configuration with the defaults: hold 90 s, keepalive a third of it, connect retry
    /// 5 s, IPv4 unicast, route refresh (normal and enhanced), 4-octet AS, no ADD-PATH, no
    /// extended message, no graceful restart, idle hold 5 s damped up to 300 s, automatic
    /// restart, first-AS enforcement, no AS_SET, every received route kept (import all), our AS
    /// never allowed in a received AS_PATH, no shared-subnet next-hop check.
    pub fn new(local_asn: u32, peer_asn: u32, local_id: Ipv4Addr) -> SessionConfig {
        SessionConfig {
            local_asn,
            peer_asn,
            local_id,
            hold_time: 90,
            min_hold_time: 3,
            keepalive: None,
            connect_retry: Duration::from_secs(5),
            passive: false,
            delay_open: None,
            open_hold_time: Duration::from_secs(240),
            families: vec![Family::IPV4_UNICAST],
            add_path: Vec::new(),
            route_refresh: true,
            enhanced_route_refresh: true,
            extended_message: false,
            extended_next_hop: Vec::new(),
            graceful_restart: None,
            role: None,
            strict_role: false,
            hostname: None,
            domain: None,
            max_prefixes: None,
            max_prefixes_action: PrefixLimitAction::Close,
            max_prefixes_restart: Duration::from_secs(30),
            send_hold_time: None,
            idle_hold_time: Duration::from_secs(5),
            max_idle_hold_time: Duration::from_secs(300),
            damp_peer_oscillations: true,
            auto_restart: true,
            required_capabilities: Vec::new(),
            local_addresses: Vec::new(),
            enforce_first_as: true,
            allow_as_set: false,
            import: ImportPolicy::All,
            allow_own_as: 0,
            directly_connected: false,
        }
    }

    /// Internal BGP: both ends in the same AS.
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.peer_asn
    }
}

/// What a session does when the peer sends more routes than `max_prefixes` (decision D6;
/// RFC 4271 §8.1.2 leaves the prefix limit to local policy, RFC 4486 §4 gives its Cease).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefixLimitAction {
    /// Close the session with Cease 6/1 (AFI, SAFI, limit) and restart after
    /// `max_prefixes_restart`.
    #[default]
    Close,
    /// Keep the session; new prefixes beyond the limit are not kept (counted in
    /// `Counters::prefix_limit_dropped`). Replacements of kept prefixes still apply.
    Drop,
}
