//! `bgp-rib`: the Loc-RIB (RFC 4271 §3.2, §9.1) as a sans-IO value. It opens no sockets,
//! reads no clock and uses no async runtime: the caller feeds it peers, paths, withdrawals,
//! session losses and next-hop reachability, and takes back the forwarding changes.
//!
//! # What it decides
//! For each prefix, the RFC 4271 §9.1.2 decision process picks the best path
//! ([`decision::Step`] lists each step with its RFC section), then a multipath rule picks the
//! paths equal to the best (equal degree of preference, AS_PATH length, ORIGIN and MED, the
//! same neighbouring AS unless [`RibConfig::as_path_relax`], the same session kind, distinct
//! next hops, at most [`RibConfig::max_paths`]). Each member gets a weight from its Link
//! Bandwidth extended community ([`weight`]). Every path gets a [`Verdict`] saying whether it
//! is the best, a member, or why not.
//!
//! # Driving contract
//! 1. [`LocRib::set_peer`] for each peer before its paths (its AS numbers, BGP Identifier and
//!    address are inputs of the decision). Paths of an unknown peer are refused with
//!    [`UnknownPeer`].
//! 2. [`LocRib::update`] / [`LocRib::withdraw`] as the peer's Adj-RIB-In changes (a path is
//!    keyed by peer, prefix and ADD-PATH path identifier, RFC 7911 §3: a controller's many
//!    paths for one prefix over one session are distinct paths).
//! 3. [`LocRib::peer_down`] when the session is lost: every path of the peer leaves at once.
//! 4. [`LocRib::set_next_hop_reachable`] when a next hop stops or starts resolving; every next
//!    hop counts as reachable until said otherwise (RFC 4271 §9.1.2).
//! 5. [`LocRib::take_changes`] after a batch of inputs: the prefixes whose forwarding set
//!    (next hops and weights) differs from the one last taken, as [`FibChange`]s, in prefix
//!    order. Inputs that leave a set as it was produce nothing, and changes between two calls
//!    are folded into one.
//!
//! [`LocRib::decision`] answers "what is selected for this prefix, and why" at any time.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

pub mod decision;
pub mod fib;
pub mod weight;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::{NonZeroU16, NonZeroU32};

use bgp_proto::{AsSegmentType, Community, Origin, PathAttributes};
use ipnet::IpNet;

pub use decision::{Decision, Ranked, Reason, Step, Verdict, DEFAULT_LOCAL_PREF};
pub use weight::{BaseWeighting, Weighting, MAX_WEIGHT};

/// A peer's handle, chosen by the caller (bgpd numbers its configured peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// Whether a path was learned over eBGP or iBGP (RFC 4271 §9.1.2.2 d).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// eBGP: the peer is in another AS.
    External,
    /// iBGP: the peer is in our AS.
    Internal,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::External => "eBGP",
            Kind::Internal => "iBGP",
        })
    }
}

/// What the decision process needs to know about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The peer's AS.
    pub remote_as: u32,
    /// Our AS on the session with the peer.
    pub local_as: u32,
    /// The peer's BGP Identifier (RFC 4271 §9.1.2.2 f).
    pub bgp_id: Ipv4Addr,
    /// The peer's address (RFC 4271 §9.1.2.2 g).
    pub address: IpAddr,
}

impl Peer {
    /// iBGP when both ends are in the same AS.
    pub fn kind(&self) -> Kind {
        if self.remote_as == self.local_as {
            Kind::Internal
        } else {
            Kind::External
        }
    }
}

/// One path in the Loc-RIB's input: a route of one peer's Adj-RIB-In.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The peer whose Adj-RIB-In holds the path.
    pub peer: PeerId,
    /// The ADD-PATH path identifier (RFC 7911 §3), `None` without ADD-PATH.
    pub path_id: Option<u32>,
    /// The address traffic is forwarded to (for an IPv6 next hop, the global address).
    pub next_hop: IpAddr,
    /// What the decision reads of the path's attributes; the attributes themselves stay in
    /// the peer's Adj-RIB-In (one owner), so a full table is not held twice.
    pub attrs: PathKeys,
}

/// The values of a path's attributes that the decision process and the multipath rule
/// compare, taken once when the path arrives: a small fixed record instead of the decoded
/// attributes (a million paths would otherwise cost a decoded AS_PATH, community lists and
/// more each, issue 17 item 5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathKeys {
    /// LOCAL_PREF as received (RFC 4271 §5.1.5); used for iBGP-learned paths only.
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    pub med: Option<u32>,
    /// ORIGIN (RFC 4271 §5.1.1).
    pub origin: Origin,
    /// The AS_PATH length as §9.1.2.2 (a) counts it (an AS_SET counts as one, confederation
    /// segments do not, RFC 5065 §5.3). An AS_PATH attribute holds at most 16,383 four-octet
    /// AS numbers, so 16 bits are enough (saturating).
    pub as_path_len: u16,
    /// The first AS of the AS_PATH when it starts (after confederation segments) with an
    /// AS_SEQUENCE; `None` for a path originated inside the local AS (§9.1.2.2 c). AS 0 is
    /// never a neighbouring AS (RFC 7607 §2) and counts as none.
    pub first_as: Option<NonZeroU32>,
    /// ORIGINATOR_ID (RFC 4456 §8).
    pub originator_id: Option<Ipv4Addr>,
    /// Number of CLUSTER_LIST entries (RFC 4456 §9; at most 16,383, saturating).
    pub cluster_len: u16,
    /// The Link Bandwidth extended community's value, bytes per second.
    pub bandwidth: Option<f32>,
    /// Carries the LLGR_STALE community (RFC 9494 §4.3).
    pub llgr_stale: bool,
    /// Carries the GRACEFUL_SHUTDOWN community (RFC 8326 §3).
    pub graceful_shutdown: bool,
}

impl PathKeys {
    /// The decision keys of `attrs`.
    pub fn of(attrs: &PathAttributes) -> PathKeys {
        let first = attrs.as_path.segments.iter().find(|s| !s.kind.is_confed());
        let first_as = match first {
            Some(seg) if seg.kind == AsSegmentType::Sequence => {
                seg.asns.first().copied().and_then(NonZeroU32::new)
            }
            _ => None,
        };
        PathKeys {
            local_pref: attrs.local_pref,
            med: attrs.med,
            origin: attrs.origin,
            as_path_len: u16::try_from(attrs.as_path.path_len()).unwrap_or(u16::MAX),
            first_as,
            originator_id: attrs.originator_id,
            cluster_len: u16::try_from(attrs.cluster_list.len()).unwrap_or(u16::MAX),
            bandwidth: weight::bandwidth(attrs),
            llgr_stale: attrs.communities.contains(&Community::LLGR_STALE),
            graceful_shutdown: attrs.communities.contains(&Community::GRACEFUL_SHUTDOWN),
        }
    }

    /// RFC 4271 §9.1.2.2 (c), neighborAS(): the first AS of the AS_PATH, or `local_as` for
    /// a route originated inside the local AS.
    pub fn neighbour_as(&self, local_as: u32) -> u32 {
        self.first_as.map_or(local_as, NonZeroU32::get)
    }
}

impl From<&PathAttributes> for PathKeys {
    fn from(attrs: &PathAttributes) -> PathKeys {
        PathKeys::of(attrs)
    }
}

/// Settings of the multipath rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibConfig {
    /// The most members of one forwarding set (the best path counts).
    pub max_paths: NonZeroU16,
    /// Paths whose neighbouring AS differs from the best's may be members when their AS_PATH
    /// is as long (FRR's `bgp bestpath as-path multipath-relax`).
    pub as_path_relax: bool,
}

/// 16 members, as FRR's usual build limit.
pub const DEFAULT_MAX_PATHS: NonZeroU16 = match NonZeroU16::new(16) {
    Some(n) => n,
    None => NonZeroU16::MIN,
};

impl Default for RibConfig {
    fn default() -> RibConfig {
        RibConfig {
            max_paths: DEFAULT_MAX_PATHS,
            as_path_relax: false,
        }
    }
}

/// A change of one prefix's forwarding set, for the FIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibChange {
    /// Forward `prefix` to these next hops with these weights (sorted by next hop; never
    /// empty). Replaces what was set before.
    Set {
        /// The prefix.
        prefix: IpNet,
        /// (next hop, weight) pairs.
        next_hops: Vec<(IpAddr, u32)>,
    },
    /// No usable path is left for `prefix`.
    Remove {
        /// The prefix.
        prefix: IpNet,
    },
}

impl FibChange {
    /// The prefix the change is for.
    pub fn prefix(&self) -> IpNet {
        match self {
            FibChange::Set { prefix, .. } | FibChange::Remove { prefix } => *prefix,
        }
    }
}

/// A path or session event named a peer that [`LocRib::set_peer`] never introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownPeer(pub PeerId);

impl fmt::Display for UnknownPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown peer {}", self.0 .0)
    }
}

impl std::error::Error for UnknownPeer {}

/// The Loc-RIB: every usable path per prefix, the selection, and what the FIB was last told.
///
/// Built for size (issue 17 item 5: a full table is a million prefixes): one map entry per
/// prefix holding its paths ([`PathKeys`], not decoded attributes) and its installed set, each
/// allocated to fit. A peer's paths are found by a walk over the table when its session is
/// lost, rather than kept in a second index.
#[derive(Debug, Clone, Default)]
pub struct LocRib {
    config: RibConfig,
    peers: BTreeMap<PeerId, Peer>,
    /// Per prefix: its paths and the forwarding set last handed out. An entry exists while it
    /// has paths or an installed set (a prefix whose last path left stays until
    /// `take_changes` has reported its removal).
    prefixes: BTreeMap<IpNet, Entry>,
    /// Entries with at least one path.
    with_paths: usize,
    unreachable: HashSet<IpAddr>,
    /// Prefixes whose selection may have changed since the last `take_changes`.
    dirty: BTreeSet<IpNet>,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    /// The paths, in arrival order (few per prefix: one per node, or a controller's set),
    /// allocated to fit.
    paths: Box<[Path]>,
    /// The forwarding set last handed out; empty when none is.
    installed: Box<[(IpAddr, u32)]>,
}

impl LocRib {
    /// An empty Loc-RIB with the multipath settings `config`.
    pub fn new(config: RibConfig) -> LocRib {
        LocRib {
            config,
            ..LocRib::default()
        }
    }

    /// The multipath settings.
    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Changes the multipath settings; every prefix is decided again at the next
    /// [`LocRib::take_changes`].
    pub fn set_config(&mut self, config: RibConfig) {
        if config != self.config {
            self.config = config;
            self.dirty.extend(self.prefixes.keys().copied());
        }
    }

    /// Introduces a peer or changes what is known of it (its paths are decided again).
    pub fn set_peer(&mut self, id: PeerId, peer: Peer) {
        if self.peers.insert(id, peer) != Some(peer) {
            self.mark_peer_dirty(id);
        }
    }

    /// Forgets a peer and removes its paths.
    pub fn remove_peer(&mut self, id: PeerId) -> usize {
        let n = self.peer_down(id);
        self.peers.remove(&id);
        n
    }

    /// What is known of peer `id`, if it was introduced with [`LocRib::set_peer`].
    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(&id)
    }

    /// Adds or replaces the path of `path.peer` for `prefix` with `path.path_id`.
    pub fn update(&mut self, prefix: IpNet, path: Path) -> Result<(), UnknownPeer> {
        if !self.peers.contains_key(&path.peer) {
            return Err(UnknownPeer(path.peer));
        }
        let entry = self.prefixes.entry(prefix).or_default();
        match entry
            .paths
            .iter_mut()
            .find(|p| p.peer == path.peer && p.path_id == path.path_id)
        {
            Some(old) if *old == path => return Ok(()),
            Some(old) => *old = path,
            None => {
                if entry.paths.is_empty() {
                    self.with_paths += 1;
                }
                let mut paths = std::mem::take(&mut entry.paths).into_vec();
                // To fit: `push` alone would reserve room for four paths.
                paths.reserve_exact(1);
                paths.push(path);
                entry.paths = paths.into_boxed_slice();
            }
        }
        self.dirty.insert(prefix);
        Ok(())
    }

    /// Removes the path of `peer` for `prefix` with `path_id`; true when there was one.
    pub fn withdraw(&mut self, peer: PeerId, prefix: IpNet, path_id: Option<u32>) -> bool {
        self.remove_path(peer, prefix, path_id)
    }

    /// The session with `peer` is lost (a NOTIFICATION, a broken connection, BFD Down): every
    /// one of its paths leaves at once. Returns how many.
    pub fn peer_down(&mut self, peer: PeerId) -> usize {
        let mut gone = 0;
        for (prefix, entry) in self.prefixes.iter_mut() {
            let n = entry.paths.iter().filter(|p| p.peer == peer).count();
            if n > 0 {
                gone += n;
                self.dirty.insert(*prefix);
                entry.paths = retained(&mut entry.paths, |p| p.peer != peer);
                if entry.paths.is_empty() {
                    self.with_paths -= 1;
                }
            }
        }
        if gone > 0 {
            self.prefixes
                .retain(|_, e| !e.paths.is_empty() || !e.installed.is_empty());
        }
        gone
    }

    /// Says whether `next_hop` resolves; paths through an unreachable one are excluded from
    /// the decision (RFC 4271 §9.1.2). Every next hop is reachable until said otherwise.
    pub fn set_next_hop_reachable(&mut self, next_hop: IpAddr, reachable: bool) {
        let changed = if reachable {
            self.unreachable.remove(&next_hop)
        } else {
            self.unreachable.insert(next_hop)
        };
        if changed {
            for (prefix, entry) in &self.prefixes {
                if entry.paths.iter().any(|p| p.next_hop == next_hop) {
                    self.dirty.insert(*prefix);
                }
            }
        }
    }

    /// The forwarding changes since the last call, in prefix order: only prefixes whose set
    /// of next hops or weights differs from the one last returned.
    pub fn take_changes(&mut self) -> Vec<FibChange> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out = Vec::new();
        for prefix in dirty {
            let next_hops = self
                .decision(prefix)
                .map(|d| d.next_hops)
                .unwrap_or_default();
            let Some(entry) = self.prefixes.get_mut(&prefix) else {
                continue;
            };
            if next_hops.is_empty() {
                if !entry.installed.is_empty() {
                    entry.installed = Box::default();
                    out.push(FibChange::Remove { prefix });
                }
                if entry.paths.is_empty() {
                    self.prefixes.remove(&prefix);
                }
            } else if *entry.installed != *next_hops {
                entry.installed = next_hops.clone().into_boxed_slice();
                out.push(FibChange::Set { prefix, next_hops });
            }
        }
        out
    }

    /// The decision for `prefix` as it stands: every path, ranked, with its verdict.
    pub fn decision(&self, prefix: IpNet) -> Option<Decision> {
        let paths = self.paths(prefix);
        if paths.is_empty() {
            return None;
        }
        Some(decision::decide(
            paths,
            |p| self.peers.get(&p.peer),
            |nh| !self.unreachable.contains(&nh),
            &self.config,
        ))
    }

    /// Every prefix with at least one path, in order.
    pub fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.prefixes
            .iter()
            .filter(|(_, e)| !e.paths.is_empty())
            .map(|(p, _)| *p)
    }

    /// The paths stored for `prefix`, in arrival order.
    pub fn paths(&self, prefix: IpNet) -> &[Path] {
        self.prefixes.get(&prefix).map_or(&[], |e| &*e.paths)
    }

    /// Number of prefixes and of paths.
    pub fn len(&self) -> (usize, usize) {
        (
            self.with_paths,
            self.prefixes.values().map(|e| e.paths.len()).sum(),
        )
    }

    /// True when no prefix has a path.
    pub fn is_empty(&self) -> bool {
        self.with_paths == 0
    }

    /// Number of prefixes with at least one path (constant time, unlike [`LocRib::len`]).
    pub fn prefix_count(&self) -> usize {
        self.with_paths
    }

    /// The forwarding set last returned by [`LocRib::take_changes`] for `prefix`.
    pub fn installed(&self, prefix: IpNet) -> Option<&[(IpAddr, u32)]> {
        self.prefixes
            .get(&prefix)
            .filter(|e| !e.installed.is_empty())
            .map(|e| &*e.installed)
    }

    fn remove_path(&mut self, peer: PeerId, prefix: IpNet, path_id: Option<u32>) -> bool {
        let Some(entry) = self.prefixes.get_mut(&prefix) else {
            return false;
        };
        let is_it = |p: &Path| p.peer == peer && p.path_id == path_id;
        let removed = entry.paths.iter().any(is_it);
        if removed {
            entry.paths = retained(&mut entry.paths, |p| !is_it(p));
            self.dirty.insert(prefix);
            if entry.paths.is_empty() {
                self.with_paths -= 1;
                if entry.installed.is_empty() {
                    self.prefixes.remove(&prefix);
                }
            }
        }
        removed
    }

    fn mark_peer_dirty(&mut self, id: PeerId) {
        for (prefix, entry) in &self.prefixes {
            if entry.paths.iter().any(|p| p.peer == id) {
                self.dirty.insert(*prefix);
            }
        }
    }
}

/// The paths of `paths` that `keep` accepts, allocated to fit (`paths` is left empty).
fn retained(paths: &mut Box<[Path]>, keep: impl Fn(&Path) -> bool) -> Box<[Path]> {
    let mut v = std::mem::take(paths).into_vec();
    v.retain(|p| keep(p));
    v.into_boxed_slice()
}

#[cfg(test)]
mod tests;
