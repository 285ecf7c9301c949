//! `bgpd-config`: bgpd's configuration as a sans-IO library. TOML text in, a validated
//! [`Config`] or located errors out; an old and a new `Config` in, a typed [`diff::ConfigDiff`]
//! out. It opens no socket, makes no system call and uses no async runtime: what a
//! configuration needs from the host (does interface `eth0` exist, what is in this
//! `password_file`) is asked through the [`Host`] trait, which the daemon implements.
//!
//! "Parse, don't validate": [`Config::parse`] deserialises the text into serde structs with
//! `deny_unknown_fields` (`raw.rs`), then converts every value into the types below
//! (`validate/`), filling in defaults. Once a [`Config`] exists, every value in it is usable
//! as is: hold times are 0 or at least 3 s, ASNs are not 0 or AS_TRANS, service `peers` name
//! configured peers, and so on. A reload builds a whole new `Config` and applies it
//! completely or not at all (see [`diff`]). The file format is in `docs/configuration.md`.
//!
//! Every error and warning is a [`Diagnostic`] naming the file, line, column and key path, e.g.
//! `bgpd.toml:14:13: peers[0].hold_time: hold time must be 0 or at least 3 seconds (RFC 4271
//! §4.2), got 2`.
//!
//! # Example: checking a file before it is deployed
//! A controller or a CI job can validate a configuration where bgpd will not run, answering
//! the host questions itself (here: the node will have `eth0` as interface 2).
//!
//! ```
//! use std::{io, path::Path};
//! use bgpd_config::{diff::ConfigDiff, Config, ConfigError, Host};
//!
//! struct Node;
//! impl Host for Node {
//!     fn interface_index(&self, name: &str) -> Option<u32> {
//!         (name == "eth0").then_some(2)
//!     }
//!     fn file_mode(&self, _: &Path) -> io::Result<u32> {
//!         Ok(0o600)
//!     }
//!     fn read_file(&self, path: &Path) -> io::Result<String> {
//!         std::fs::read_to_string(path)
//!     }
//! }
//!
//! let text = r#"
//! [global]
//! asn = 64512
//! router_id = "10.255.0.2"
//!
//! [[peers]]
//! address = "10.255.0.1"
//! asn = 64500
//!
//! [[services]]
//! prefix = "192.0.2.10/32"
//! "#;
//! let old = Config::parse(text, "bgpd.toml", &Node).expect("valid");
//! assert_eq!(old.peers[0].name, "10.255.0.1");
//!
//! // A mistake is named by file, line, column and key; nothing is half-applied.
//! let bad = text.replace("asn = 64500", "asn = 0");
//! let Err(ConfigError::Invalid(errors)) = Config::parse(&bad, "bgpd.toml", &Node) else {
//!     panic!("AS 0 is refused");
//! };
//! assert_eq!((errors[0].line, errors[0].field.as_str()), (8, "peers[0].asn"));
//!
//! // What a reload would change: a service is named after its prefix unless it has a name.
//! let new = Config::parse(&text.replace("192.0.2.10", "192.0.2.11"), "bgpd.toml", &Node)
//!     .expect("valid");
//! let d = ConfigDiff::between(&old, &new);
//! assert_eq!(d.services_removed, ["192.0.2.10/32"]);
//! assert_eq!(d.services_added, ["192.0.2.11/32"]);
//! assert!(d.peers_changed.is_empty());
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod diff;
mod fast;
pub mod fib;
mod host;
mod locate;
mod raw;
mod render;
mod shared;
mod validate;
mod values;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use bgp_fsm::{ImportPolicy, PrefixLimitAction, PrefixRange};
use bgp_proto::{Community, Family, LargeCommunity};
use ipnet::IpNet;

pub use host::Host;
pub use values::{parse_community, parse_large_community};

/// Default `global.listen`: every IPv4 and IPv6 address, port 179.
pub const DEFAULT_LISTEN: [&str; 2] = ["0.0.0.0:179", "[::]:179"];
/// Default `global.state_dir`: runtime services, withdrawn configured services and health
/// verdicts survive a restart there (systemd `StateDirectory=bgpd`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/bgpd";
/// Default `global.graceful_restart_deferral`: the longest End-of-RIB waits after a restart
/// for every route to be known (RFC 4724 §4.1 leaves the timing to the speaker).
pub const DEFAULT_GRACEFUL_RESTART_DEFERRAL: Duration = Duration::from_secs(30);
/// Default `global.control_socket`.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/bgpd/bgpd.sock";
/// Default hold time (RFC 4271 §10 suggests 90 seconds).
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// Default ConnectRetryTime. RFC 4271 §10 suggests 120 s; a service announcer wants its
/// sessions back quickly, and the FSM adds jitter.
pub const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(5);
/// Default graceful restart time (RFC 4724 §4.1: at most 4095 s).
pub const DEFAULT_RESTART_TIME: Duration = Duration::from_secs(120);
/// Default `max_prefixes_restart`: how long a peer closed for its prefix limit waits
/// before the session restarts (decision D6).
pub const DEFAULT_MAX_PREFIXES_RESTART: Duration = Duration::from_secs(30);
/// Default `max_queued_bytes`: unsent data allowed per peer before it is reset with Cease 6/8.
pub const DEFAULT_MAX_QUEUED_BYTES: u64 = 32 * 1024 * 1024;
/// Default `idle_hold_time`: the wait before an automatic restart after a failure
/// (RFC 4271 §8.1.1 IdleHoldTime), doubled per consecutive failure up to
/// [`MAX_IDLE_HOLD_TIME`] unless `damp_peer_oscillations = false`.
pub const DEFAULT_IDLE_HOLD_TIME: Duration = Duration::from_secs(5);
/// The hold timer while waiting for the peer's OPEN (RFC 4271 §8: "a large value", 4 minutes
/// suggested).
pub const DEFAULT_OPEN_HOLD_TIME: Duration = Duration::from_secs(240);
/// The smallest OPEN-wait hold time accepted: the smallest non-zero hold time (RFC 4271 §4.2).
pub const MIN_OPEN_HOLD_TIME: Duration = Duration::from_secs(3);
/// The ceiling of the damped IdleHoldTime.
pub const MAX_IDLE_HOLD_TIME: Duration = Duration::from_secs(300);
/// The largest `allow_own_as`.
pub const MAX_ALLOW_OWN_AS: u8 = 10;
/// BGP port (RFC 4271 §8.2.1).
pub const BGP_PORT: u16 = 179;

/// A validated bgpd configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[global]`: settings shared by every peer.
    pub global: Global,
    /// Peers in file order; names are unique.
    pub peers: Vec<Peer>,
    /// Services in file order; names are unique.
    /// Shared: the daemon, the control state and the peers' announcements hold the same list.
    pub services: Arc<Vec<Service>>,
    /// `[fib]`: program the routes bgpd selects into the kernel; `None` (no table) = never
    /// touch the kernel's routes.
    pub fib: Option<crate::fib::FibSettings>,
    /// Things that are allowed but probably not what the operator meant. `bgpd check` prints
    /// them, the daemon logs them on start and reload.
    pub warnings: Vec<Diagnostic>,
}

/// `[global]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Our AS (4-octet allowed, RFC 6793).
    pub asn: Asn,
    /// BGP Identifier (RFC 4271 §4.2; non-zero, RFC 6286 §2.1).
    pub router_id: Ipv4Addr,
    /// Sockets to accept inbound sessions on; empty = never accept.
    pub listen: Vec<SocketAddr>,
    /// Peers inherit these three unless they set their own.
    pub hold_time: HoldTime,
    /// KEEPALIVE interval (RFC 4271 §4.4); a third of the hold time by default.
    pub keepalive: Duration,
    /// ConnectRetryTimer (RFC 4271 §10): wait between connection attempts.
    pub connect_retry: Duration,
    /// Unix socket of the control API (issue 6).
    pub control_socket: PathBuf,
    /// Prometheus endpoint; `None` = no metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// RFC 8326 graceful shutdown on SIGTERM: announce with GRACEFUL_SHUTDOWN, wait this long,
    /// then withdraw and close. `None` = close at once.
    pub drain_time: Option<Duration>,
    /// Where runtime state is kept across restarts (bgpd's `statefile`).
    pub state_dir: PathBuf,
    /// After a restart, End-of-RIB waits at most this long for the runtime state, the first
    /// health verdicts and `bgpctl sync end`; zero sends it with the first table.
    /// `None`: the default, [`DEFAULT_GRACEFUL_RESTART_DEFERRAL`], shortened below a peer's
    /// shorter restart time ([`Global::end_of_rib_deferral`]).
    pub graceful_restart_deferral: Option<Duration>,
    /// `[rib]`: the multipath rule of the Loc-RIB built from received routes.
    pub rib: bgp_rib::RibConfig,
}

impl Global {
    /// How long End-of-RIB may wait after a restart in all (the readiness limit).
    pub fn deferral(&self) -> Duration {
        self.graceful_restart_deferral
            .unwrap_or(DEFAULT_GRACEFUL_RESTART_DEFERRAL)
    }

    /// The End-of-RIB deferral for a session that advertises `restart_time`: the configured
    /// value (validated to be shorter), or the default cut to three quarters of a shorter
    /// restart time, so End-of-RIB always goes out before the router stops waiting.
    pub fn end_of_rib_deferral(&self, restart_time: Duration) -> Duration {
        match self.graceful_restart_deferral {
            Some(d) => d,
            None => DEFAULT_GRACEFUL_RESTART_DEFERRAL.min(restart_time * 3 / 4),
        }
    }
}

/// One `[[peers]]` entry with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Unique; defaults to the address (the interface for an unnumbered peer).
    pub name: String,
    /// `::` for an unnumbered peer ([`Peer::unnumbered`]).
    pub address: IpAddr,
    /// The peer's AS number.
    pub asn: Asn,
    /// Same AS as `global.asn` (RFC 4271 §1.1 "internal peer").
    pub ibgp: bool,
    /// The peer's TCP port (179 by default, [`BGP_PORT`]).
    pub port: u16,
    /// Never connect out; wait for the peer to connect to a `listen` socket.
    pub passive: bool,
    /// Source address to bind before connecting; same family as `address`.
    pub local_address: Option<IpAddr>,
    /// Hold Time offered in the OPEN (RFC 4271 §4.2).
    pub hold_time: HoldTime,
    /// KEEPALIVE interval (RFC 4271 §4.4).
    pub keepalive: Duration,
    /// ConnectRetryTimer (RFC 4271 §10): wait between connection attempts.
    pub connect_retry: Duration,
    /// TCP MD5 signature key (RFC 2385), at most 80 octets (TCP_MD5SIG_MAXKEYLEN).
    pub password: Option<String>,
    /// IP TTL of our packets and the check of received ones (`ebgp_multihop`, GTSM).
    pub ttl: Ttl,
    /// Families offered in the OPEN (RFC 4760 §8), in a stable order.
    pub families: Vec<Family>,
    /// Offer ADD-PATH send and receive for every family (RFC 7911).
    pub add_path: bool,
    /// Received-prefix limit; beyond it the session ends with Cease 6/1 (RFC 4486 §4).
    /// `None` = unlimited.
    pub max_prefixes: Option<u32>,
    /// What exceeding `max_prefixes` does: Cease 6/1 (default) or drop the excess routes.
    pub max_prefixes_action: PrefixLimitAction,
    /// How long the session stays down after a prefix-limit reset before it restarts.
    pub max_prefixes_restart: Duration,
    /// Unsent data allowed in this peer's send queue; beyond it the session is reset with
    /// Cease 6/8 Out of Resources (RFC 4486) instead of growing memory for a slow peer.
    pub max_queued_bytes: u64,
    /// IdleHoldTime (RFC 4271 §8.1.1): wait this long after a failure before the automatic
    /// restart.
    pub idle_hold_time: Duration,
    /// DampPeerOscillations (RFC 4271 §8.1.1): double the IdleHoldTime per consecutive
    /// failure, up to [`MAX_IDLE_HOLD_TIME`].
    pub damp_peer_oscillations: bool,
    /// `None` = graceful restart capability not offered (RFC 4724).
    pub graceful_restart: Option<GracefulRestart>,
    /// DelayOpenTime (RFC 4271 §8.1.1, optional session attribute); `None` = off.
    pub delay_open: Option<Duration>,
    /// How long to wait for the peer's OPEN once ours is sent: the "large value" of the hold
    /// timer in OpenSent (RFC 4271 §8.2.2, suggested 4 minutes; BIRD's `startup hold time`).
    pub open_hold_time: Duration,
    /// SendHoldTime (RFC 9687): how long queued data may wait for the peer to read before the
    /// session is closed with NOTIFICATION 8/0. `None` = max(8 minutes, 2 x the negotiated
    /// hold time) (decision D13). Longer than `hold_time`.
    pub send_hold_time: Option<Duration>,
    /// The smallest non-zero Hold Time accepted in the router's OPEN (RFC 4271 §6.2: lower
    /// ones are refused with 2/6 Unacceptable Hold Time). At least 3 seconds.
    pub min_hold_time: u16,
    /// Treat-as-withdraw eBGP routes whose first AS is not the peer's (RFC 4271 §6.3).
    pub enforce_first_as: bool,
    /// Shutdown Communication sent when this peer is stopped (RFC 9003, at most 255 octets).
    pub shutdown_message: Option<String>,
    /// Next hop that "self" means for IPv4 routes when the session is IPv6.
    pub ipv4_nexthop: Option<Ipv4Addr>,
    /// Next hop that "self" means for IPv6 routes when the session is IPv4.
    pub ipv6_nexthop: Option<Ipv6Addr>,
    /// Which received routes are kept (issue 13 §3). Default [`ImportPolicy::None`]: an
    /// announcer counts what it receives and keeps nothing.
    pub import: ImportPolicy,
    /// How many times our AS may appear in a received AS_PATH (RFC 4271 §9.1.2), 0..=10.
    pub allow_own_as: u8,
    /// BFD for this session (RFC 5881 single hop); `None` = off.
    pub bfd: Option<BfdSettings>,
    /// The AS this session presents (OPEN, AS_PATH) instead of `global.asn`, as MetalLB and
    /// frr-k8s allow per peer; `ibgp` compares it with the peer's AS.
    pub local_as: Option<Asn>,
    /// What every service carries to this peer (`[peers.announce]`).
    pub announce: PeerAnnounce,
    /// Our BGP Role on this session (RFC 9234), offered in the OPEN; routes sent to a
    /// customer, a peer or a route-server client carry OTC (RFC 9234 §5).
    pub role: Option<bgp_proto::Role>,
    /// RFC 9234 §4.2 strict mode: refuse (2/11) a peer that sends no Role.
    pub role_strict: bool,
    /// Offer Extended Next Hop for IPv4 unicast (RFC 8950): IPv4 services with an IPv6
    /// next hop over an IPv6 session.
    pub extended_next_hop: bool,
    /// The interface a link-local peer address (fe80::/10) is reached on (its scope); alone,
    /// without `address`, the link an unnumbered peer is learned on.
    pub interface: Option<String>,
    /// Where `password` was read from (`password_file`), shown instead of the key.
    pub password_file: Option<std::path::PathBuf>,
}

/// Per-peer overrides of what services carry (`[peers.announce]`): communities are added to
/// each service's own, the other values replace the service's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerAnnounce {
    /// Communities on every route to this peer (RFC 1997), added to the service's.
    pub communities: Vec<Community>,
    /// Large communities on every route to this peer (RFC 8092), added to the service's.
    pub large_communities: Vec<LargeCommunity>,
    /// MULTI_EXIT_DISC to this peer (RFC 4271 §5.1.4), instead of the service's.
    pub med: Option<u32>,
    /// iBGP only (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// eBGP only: extra copies of our AS, instead of the service's `as_path_prepend`.
    pub as_path_prepend: Option<u8>,
}

impl PeerAnnounce {
    /// Whether the peer overrides nothing.
    pub fn is_empty(&self) -> bool {
        *self == PeerAnnounce::default()
    }
}

impl Peer {
    /// The AS this session presents: `local_as`, else `global.asn`.
    pub fn local_asn(&self, global: &Global) -> Asn {
        self.local_as.unwrap_or(global.asn)
    }
}

/// A peer's BFD settings (`bfd = ...` or a `[bfd_profiles.NAME]`), the local values of
/// RFC 5880 §6.8.1 bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval and bfd.DetectMult.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BfdSettings {
    /// The profile named, if any (shown by bgpctl; the values below are already resolved).
    pub profile: Option<String>,
    /// bfd.RequiredMinRxInterval.
    pub min_rx: Duration,
    /// bfd.DesiredMinTxInterval (while Up; at least 1 s is advertised until then, §6.8.3).
    pub min_tx: Duration,
    /// bfd.DetectMult.
    pub multiplier: std::num::NonZeroU8,
    /// Passive role (RFC 5880 §6.1): send nothing until the router's first packet.
    pub passive: bool,
}

/// Default BFD intervals, as FRR's bfdd: 300 ms both ways, multiplier 3.
pub const DEFAULT_BFD_INTERVAL: Duration = Duration::from_millis(300);
/// Default BFD detect multiplier.
pub const DEFAULT_BFD_MULTIPLIER: u8 = 3;
/// The shortest BFD interval accepted: below 10 ms a userspace timer cannot keep up.
pub const MIN_BFD_INTERVAL: Duration = Duration::from_millis(10);
/// The longest BFD interval accepted (60 s; the wire field allows about 71 minutes).
pub const MAX_BFD_INTERVAL: Duration = Duration::from_secs(60);

/// An AS number (RFC 6793: 4 octets). Never 0 and never AS_TRANS (23456) for a speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(pub u32);

/// A hold time that RFC 4271 §4.2 allows: 0 (no keepalives) or 3..=65535 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldTime(u16);

/// IP TTL handling for the session's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// No key set: TTL 1 on eBGP (directly connected routers), the system default on iBGP.
    Default,
    /// `ebgp_multihop = N`: send with TTL N.
    Multihop(u8),
    /// `ttl_security = true`: GTSM (RFC 5082 §3), send with TTL 255 and drop anything that
    /// arrives with a TTL below 255.
    Security,
}

/// Graceful restart capability parameters (RFC 4724 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// At most 4095 s (12-bit field).
    pub restart_time: Duration,
    /// Long-Lived Graceful Restart stale time (RFC 9494), at most 16777215 s (24 bits);
    /// `None` = LLGR capability not offered.
    pub llgr_stale_time: Option<Duration>,
    /// The N bit (RFC 8538): NOTIFICATIONs other than Hard Reset keep graceful restart.
    pub notification: bool,
}

/// Defines [`Service`] from its one field list and, from the same list,
/// [`Service::changed_fields`]: a field added to the struct is compared by a reload without
/// being listed anywhere else.
macro_rules! service_struct {
    (
        $(#[$meta:meta])*
        pub struct Service { $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )* }
    ) => {
        $(#[$meta])*
        pub struct Service { $( $(#[$field_meta])* pub $field: $ty, )* }

        impl Service {
            /// The names of the fields in which `self` and `other` differ, in declaration
            /// order: what a reload reports for a service ([`diff::ServiceChange`]).
            pub fn changed_fields(&self, other: &Service) -> Vec<&'static str> {
                let mut changed = Vec::new();
                $(if self.$field != other.$field {
                    changed.push(stringify!($field));
                })*
                changed
            }
        }
    };
}

service_struct! {
/// One `[[services]]` entry: a prefix announced to a set of peers.
///
/// The lists are shared slices: a file of 100k services holds few distinct lists (the same
/// communities, next hops and peers again and again), and validation hands every service
/// with an equal list the same allocation. About 130 octets per service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Unique; defaults to the prefix.
    pub name: String,
    /// The announced prefix (/32 or /128 for a service address, or any length).
    pub prefix: IpNet,
    /// Non-empty. Without ADD-PATH only the first is announced.
    pub nexthops: Arc<[NextHopSpec]>,
    /// Communities attached (RFC 1997).
    pub communities: Arc<[Community]>,
    /// Large communities attached (RFC 8092).
    pub large_communities: Arc<[LargeCommunity]>,
    /// MULTI_EXIT_DISC sent (RFC 4271 §5.1.4).
    pub med: Option<u32>,
    /// Sent to iBGP peers only (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// Extra copies of our AS prepended on eBGP sessions.
    pub as_path_prepend: u8,
    /// `weight`: this node's share of the service's traffic at a router that weighs
    /// multipath members, sent as the Link Bandwidth extended community
    /// (draft-ietf-idr-link-bandwidth) of `weight` Mbit/s ([`Service::link_bandwidth`]).
    pub weight: Option<u32>,
    /// The peers that receive the service.
    pub peers: PeerSelection,
    /// The health check; the service is announced unconditionally without one.
    pub health: Option<Box<HealthCheck>>,
}
}

/// The largest `[[services]] weight`.
pub const MAX_SERVICE_WEIGHT: u32 = 1_000_000;

impl Service {
    /// The Link Bandwidth extended community for `weight` (draft-ietf-idr-link-bandwidth §2:
    /// non-transitive type 0x40, sub-type 0x04, the sender's two-octet AS, AS_TRANS 23456 for a
    /// four-octet one (RFC 6793 §9), and the bandwidth in bytes per second as an IEEE 754
    /// single-precision float): `weight` Mbit/s, i.e. `weight` x 125 000 bytes per second.
    /// Routers weigh members by their ratio, so only ratios matter.
    pub fn link_bandwidth(&self, local_as: u32) -> Option<bgp_proto::ExtCommunity> {
        let w = self.weight?;
        let asn = u16::try_from(local_as).unwrap_or(23456);
        Some(bgp_proto::ExtCommunity::link_bandwidth(
            asn,
            w as f32 * 125_000.0,
            false,
        ))
    }
}

/// A configured next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHopSpec {
    /// `"self"`: the session's local address, or the peer's `ipv4_nexthop`/`ipv6_nexthop`
    /// when the route's family differs from the session's.
    Local,
    /// This address.
    Addr(IpAddr),
    /// Never in a configuration: a next hop whose health check fails, kept in its position
    /// so the healthy ones keep their ADD-PATH path ids (RFC 7911); never sent
    /// (bgpd's `announce::policy`).
    Failing,
}

/// Which peers a service is announced to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSelection {
    /// Every configured peer.
    All,
    /// Names of configured peers (checked).
    Only(Arc<[String]>),
}

/// `[services.health]`: announce the service only while the check passes (issue 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// What is checked.
    pub probe: Probe,
    /// Time between checks.
    pub interval: Duration,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive successes before a failing service is announced again.
    pub rise: u32,
    /// Consecutive failures before an announced service is withdrawn or demoted.
    pub fall: u32,
    /// What happens to the routes while the check fails.
    pub on_fail: OnFail,
    /// While this file exists the service is withdrawn, whatever the check says.
    pub disable_file: Option<PathBuf>,
}

/// What a health check does. In `target` and `command`, `{nexthop}` is replaced by each
/// explicit next hop so every node is checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// TCP connect to `host:port`.
    Tcp {
        /// `host:port`.
        target: String,
    },
    /// HTTP GET; success is a 2xx status, or exactly `expect_status`.
    Http {
        /// The URL.
        target: String,
        /// The only status that counts as success; any 2xx when absent.
        expect_status: Option<u16>,
    },
    /// Run a program (no shell); success is exit status 0.
    Exec {
        /// The program and its arguments.
        command: Vec<String>,
    },
}

/// What a failing health check does to the service's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFail {
    /// Withdraw the routes.
    Withdraw,
    /// Keep announcing, with these changes applied while failing.
    Demote {
        /// MULTI_EXIT_DISC sent while failing, instead of the service's.
        med: Option<u32>,
        /// Communities added while failing.
        communities: Vec<Community>,
        /// Extra copies of our AS prepended on eBGP sessions while failing.
        as_path_prepend: u8,
    },
}

/// A configuration error or warning, located in the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The path as given by the user.
    pub file: String,
    /// 1-based line and column (in characters) of the offending value; when the key is
    /// absent, of the table that should hold it.
    pub line: usize,
    /// See `line`.
    pub column: usize,
    /// Key path, e.g. `peers[0].hold_time`.
    pub field: String,
    /// What is wrong, as a sentence.
    pub message: String,
}

/// Why a configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Read {
        /// The path as given by the user.
        file: String,
        /// The operating system's error.
        message: String,
    },
    /// One or more errors, in file order; `Display` prints one per line.
    #[error("{}", display_lines(.0))]
    Invalid(Vec<Diagnostic>),
}

impl Config {
    /// Reads (through `host`) and validates the file at `path`. Errors name `path` as given.
    pub fn load(path: &Path, host: &dyn Host) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = host.read_file(path).map_err(|e| ConfigError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Config::parse(&text, &file, host)
    }

    /// Validates `text`; `file` is only used in diagnostics. `host` answers whether a peer's
    /// `interface` exists and reads `password_file`s.
    pub fn parse(text: &str, file: &str, host: &dyn Host) -> Result<Config, ConfigError> {
        validate::parse(text, file, host)
    }

    /// The effective configuration as TOML, every default written out (`bgpd check`).
    pub fn to_toml(&self) -> String {
        render::to_toml(self)
    }

    /// The peer named `name`.
    pub fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.name == name)
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The services announced to `peer`, in file order.
    pub fn services_for<'a>(&'a self, peer: &'a Peer) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .iter()
            .filter(move |s| s.applies_to(&peer.name))
    }
}

impl Peer {
    /// The interface of an unnumbered peer (`interface` without `address`, as FRR's `neighbor
    /// eth0 interface`): its link-local address is learned from the link
    /// (bgpd's `unnumbered`) and `address` is `::` meanwhile. `None` for every other peer.
    pub fn unnumbered(&self) -> Option<&str> {
        match self.address {
            IpAddr::V6(a) if a.is_unspecified() => self.interface.as_deref(),
            _ => None,
        }
    }

    /// Where to connect.
    /// The peer's socket address; a link-local address carries the scope of `interface`
    /// (its index, from `host`).
    pub fn socket_addr(&self, host: &dyn Host) -> SocketAddr {
        match (self.address, &self.interface) {
            (IpAddr::V6(a), Some(ifname)) if a.is_unicast_link_local() => {
                let scope = host.interface_index(ifname).unwrap_or(0);
                SocketAddr::V6(std::net::SocketAddrV6::new(a, self.port, 0, scope))
            }
            _ => SocketAddr::new(self.address, self.port),
        }
    }
}

impl Service {
    /// Whether the service is announced to the peer `peer_name` (its `peers` selection).
    pub fn applies_to(&self, peer_name: &str) -> bool {
        match &self.peers {
            PeerSelection::All => true,
            PeerSelection::Only(names) => names.iter().any(|n| n == peer_name),
        }
    }

    /// The unicast family of the prefix.
    pub fn family(&self) -> Family {
        family_of(&self.prefix)
    }
}

impl HoldTime {
    /// `None` for 1 and 2, which RFC 4271 §4.2 forbids.
    pub const fn new(secs: u16) -> Option<HoldTime> {
        if secs == 1 || secs == 2 {
            None
        } else {
            Some(HoldTime(secs))
        }
    }

    /// The hold time in seconds.
    pub const fn secs(self) -> u16 {
        self.0
    }

    /// The hold time as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_secs(self.0 as u64)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for NextHopSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHopSpec::Local => f.write_str("self"),
            NextHopSpec::Addr(a) => write!(f, "{a}"),
            NextHopSpec::Failing => f.write_str("(failing)"),
        }
    }
}

fn display_lines(d: &[Diagnostic]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) use bgp_proto::family_of;

#[cfg(test)]
mod tests;
