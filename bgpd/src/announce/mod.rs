//! From services to the routes each peer should receive (the Adj-RIB-Out, RFC 4271 §3.2).
//!
//! Pure functions, no I/O: [`routes_for_peer`] turns the configured services and what one
//! session negotiated into a [`RouteSet`], and [`diff`] turns two route sets into the
//! UPDATE work for a live session. Routes with equal attributes share one
//! `Arc<PathAttributes>`, so the session can pack them into as few UPDATEs as the message
//! size allows (100k services with one attribute set leave in a few dozen messages).
//!
//! Rules (issue 4, "Announcements"):
//! - next hop `self` is the session's local address of the prefix's family; an IPv6 prefix
//!   over an IPv4 session needs a configured IPv6 next hop, and an IPv4 prefix over an IPv6
//!   session needs a configured IPv4 next hop or RFC 8950 extended next hop; otherwise the
//!   route is skipped with a [`Warning`];
//! - explicit per-node next hops with ADD-PATH send negotiated for the family (RFC 7911)
//!   become one path each, path id = position in the configured list + 1 (stable across
//!   reloads as long as the list order is kept); without ADD-PATH only the first next hop is
//!   sent, with a warning;
//! - eBGP: AS_PATH = our AS repeated `1 + as_path_prepend` times (RFC 4271 §5.1.2);
//!   iBGP: empty AS_PATH and LOCAL_PREF (default 100, RFC 4271 §5.1.5);
//! - ORIGIN IGP, MED, COMMUNITIES (RFC 1997), LARGE_COMMUNITY (RFC 8092) as configured.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use bgp_proto::{
    AsPath, AsSegment, AsSegmentType, Family, FamilySet, NextHop, Nlri, Origin, PathAttributes,
};
use ipnet::IpNet;
use smallvec::SmallVec;

use crate::config::{NextHopSpec, Service};

/// LOCAL_PREF sent on iBGP when the service sets none (the common default, RFC 4271 §5.1.5).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// What one established session contributes to the route computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    /// The peer's name.
    pub name: String,
    /// Our AS number on this session.
    pub local_asn: u32,
    /// The peer's AS number.
    pub peer_asn: u32,
    /// The session's local address (from the socket).
    pub local_address: IpAddr,
    /// Next hops to use for "self" in the other address family than the session's.
    pub next_hop_v4: Option<std::net::Ipv4Addr>,
    /// The IPv6 next hop for "self" on an IPv4 session.
    pub next_hop_v6: Option<std::net::Ipv6Addr>,
    /// Families negotiated on the session.
    pub families: FamilySet,
    /// Families with ADD-PATH send negotiated (RFC 7911).
    pub add_path_tx: FamilySet,
    /// Families in which IPv4 NLRI may carry an IPv6 next hop (RFC 8950).
    pub extended_next_hop: FamilySet,
    /// What every service carries to this peer (`[peers.announce]`).
    pub announce: Arc<crate::config::PeerAnnounce>,
    /// Our BGP Role on the session (RFC 9234), for the OTC egress rule.
    pub role: Option<bgp_proto::Role>,
    /// The session runs over link-local addresses (this is ours): "self" is sent as
    /// `next_hop_v6` (the interface's global address) with this link-local one beside it
    /// (RFC 2545 §3), or this one alone when the interface has no global address.
    pub link_local: Option<std::net::Ipv6Addr>,
}

impl PeerView {
    /// The view of `peer`'s established session (local address from its socket).
    /// `interface_global` gives an interface's global IPv6 address: the caller reads it from
    /// the system (`crate::link::global_ipv6_of`), so this module does no I/O.
    pub fn new(
        peer: &crate::config::Peer,
        global: &crate::config::Global,
        local_address: IpAddr,
        negotiated: &bgp_fsm::Negotiated,
        interface_global: impl FnOnce(&str) -> Option<std::net::Ipv6Addr>,
    ) -> PeerView {
        let (next_hop_v6, link_local) = match (local_address, &peer.interface) {
            (IpAddr::V6(ll), Some(ifname)) if ll.is_unicast_link_local() => (
                peer.ipv6_nexthop.or_else(|| interface_global(ifname)),
                Some(ll),
            ),
            _ => (peer.ipv6_nexthop, None),
        };
        PeerView {
            name: peer.name.clone(),
            local_asn: peer.local_asn(global).0,
            peer_asn: peer.asn.0,
            local_address,
            next_hop_v4: peer.ipv4_nexthop,
            next_hop_v6,
            families: negotiated.families.iter().copied().collect(),
            add_path_tx: negotiated.add_path_send.iter().copied().collect(),
            extended_next_hop: negotiated.context.extended_next_hop,
            announce: Arc::new(peer.announce.clone()),
            role: peer.role,
            link_local,
        }
    }

    /// Whether the session is iBGP (same AS on both sides).
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.peer_asn
    }
}

/// One route to send: the next hop and the (shared) attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// The NEXT_HOP to send.
    pub next_hop: NextHop,
    /// The path attributes, shared between the routes that have the same.
    pub attrs: Arc<PathAttributes>,
}

/// A peer's Adj-RIB-Out as computed from the services: every NLRI (prefix and path id) with
/// its route, sorted by NLRI and unique. Routes are few (one per service attribute set and
/// next hop), so each entry holds an index into them: 32 octets per NLRI, 3.2 MB for 100k.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSet {
    entries: Vec<(Nlri, u32)>,
    routes: Vec<Route>,
}

impl RouteSet {
    /// An empty set.
    pub fn new() -> RouteSet {
        RouteSet::default()
    }

    /// From entries in any order; of two equal NLRI the later one wins.
    pub(super) fn build(mut entries: Vec<(Nlri, u32)>, routes: Vec<Route>) -> RouteSet {
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by_key(|a| a.0);
            entries.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    std::mem::swap(later, earlier);
                    true
                } else {
                    false
                }
            });
        }
        RouteSet { entries, routes }
    }

    fn route(&self, i: u32) -> &Route {
        // Indices come from `Compute::intern`, which pushed the route first.
        &self.routes[i as usize]
    }

    /// How many routes the set holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no route.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The route for `nlri`, if any.
    pub fn get(&self, nlri: &Nlri) -> Option<&Route> {
        let i = self.entries.binary_search_by(|(n, _)| n.cmp(nlri)).ok()?;
        self.entries.get(i).map(|(_, r)| self.route(*r))
    }

    /// Whether the set holds a route for `nlri`.
    pub fn contains_key(&self, nlri: &Nlri) -> bool {
        self.get(nlri).is_some()
    }

    /// True when some path of `prefix` is present.
    pub fn has_prefix(&self, prefix: IpNet) -> bool {
        let lo = Nlri {
            prefix,
            path_id: None,
        };
        let i = self.entries.partition_point(|(n, _)| *n < lo);
        self.entries.get(i).is_some_and(|(n, _)| n.prefix == prefix)
    }

    /// Every (NLRI, route), in NLRI order.
    pub fn iter(&self) -> impl Iterator<Item = (&Nlri, &Route)> + '_ {
        self.entries.iter().map(|(n, r)| (n, self.route(*r)))
    }

    /// The NLRI of every route.
    pub fn keys(&self) -> impl Iterator<Item = &Nlri> + '_ {
        self.entries.iter().map(|(n, _)| n)
    }

    /// Every route.
    pub fn values(&self) -> impl Iterator<Item = &Route> + '_ {
        self.entries.iter().map(|(_, r)| self.route(*r))
    }
}

/// Everything the peers should announce: what the peer tasks receive on each change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcements {
    /// Configured services as they are to be sent now (after health checks, drain and
    /// `bgpctl withdraw`), without those a runtime service replaces.
    pub services: Arc<Vec<Service>>,
    /// Runtime services (shared with the control state; copied only when it changes while
    /// a peer still holds this value).
    pub runtime: Arc<RuntimeTable>,
    /// How runtime services are sent now (normal, draining, drained).
    pub runtime_mode: RuntimeMode,
    /// Every route to announce is known (after a restart: state restored, first health
    /// verdicts in, no `bgpctl sync` open): sessions may send End-of-RIB
    /// (`bgp_fsm::Event::RoutesComplete`, RFC 4724 §4.1).
    pub complete: bool,
    /// Peers drained one by one (`bgpctl neighbor NAME drain`, RFC 8326): their routes carry
    /// GRACEFUL_SHUTDOWN (and LOCAL_PREF 0 on iBGP); the other peers' do not change.
    pub drained_peers: Arc<std::collections::BTreeSet<String>>,
    /// The decision that made these (`None` outside the daemon's control, e.g. in tests
    /// that hand services to a peer directly).
    pub decision: Option<Decision>,
}

impl Announcements {
    /// Configured services only (complete: nothing else is to come).
    pub fn from_services(services: impl Into<Arc<Vec<Service>>>) -> Announcements {
        Announcements {
            services: services.into(),
            complete: true,
            ..Announcements::default()
        }
    }

    /// Number of services (configured and runtime) to be sent.
    pub fn len(&self) -> usize {
        let runtime = match self.runtime_mode {
            RuntimeMode::Withheld => 0,
            _ => self.runtime.len(),
        };
        self.services.len() + runtime
    }

    /// Whether there is no service at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Same routes to every peer as `other` (whatever the decision and End-of-RIB
    /// readiness): nothing for a peer to apply.
    pub fn same_routes(&self, other: &Announcements) -> bool {
        self.services == other.services
            && self.runtime == other.runtime
            && self.runtime_mode == other.runtime_mode
            && self.drained_peers == other.drained_peers
    }

    /// Every service as it is sent: the configured ones, then one per runtime entry (named
    /// after its prefix, with the drain changes applied).
    pub fn materialize(&self) -> Vec<Service> {
        let mut out = (*self.services).clone();
        if self.runtime_mode != RuntimeMode::Withheld {
            out.extend(self.runtime.iter().map(|(p, spec)| Service {
                name: p.to_string(),
                prefix: *p,
                ..runtime_template(spec, self.runtime_mode)
            }));
        }
        out
    }
}

mod compute;
mod decision;
mod diff;
pub mod policy;
mod runtime;

#[cfg(test)]
pub use compute::route_count;
pub use compute::{family_of, routes_for, routes_for_peer, Warning};
pub use decision::{Cause, Decision, Trigger};
pub use diff::{diff, diff_rib, summarize, AnnounceGroup, ChangeSummary, Diff, PrefixSummary};
use runtime::runtime_template;
pub use runtime::{RuntimeMode, RuntimeSpec, RuntimeTable};

#[cfg(test)]
mod tests;
