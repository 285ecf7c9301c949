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
    pub name: String,
    pub local_asn: u32,
    pub peer_asn: u32,
    /// The session's local address (from the socket).
    pub local_address: IpAddr,
    /// Next hops to use for "self" in the other address family than the session's.
    pub next_hop_v4: Option<std::net::Ipv4Addr>,
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
    pub fn new(
        peer: &crate::config::Peer,
        global: &crate::config::Global,
        local_address: IpAddr,
        negotiated: &bgp_fsm::Negotiated,
    ) -> PeerView {
        let (next_hop_v6, link_local) = match (local_address, &peer.interface) {
            (IpAddr::V6(ll), Some(ifname)) if crate::link::is_link_local(ll) => (
                peer.ipv6_nexthop
                    .or_else(|| crate::link::global_ipv6_of(ifname)),
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

    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.peer_asn
    }
}

/// One route to send: the next hop and the (shared) attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub next_hop: NextHop,
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
    pub fn new() -> RouteSet {
        RouteSet::default()
    }

    /// From entries in any order; of two equal NLRI the later one wins.
    fn build(mut entries: Vec<(Nlri, u32)>, routes: Vec<Route>) -> RouteSet {
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

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, nlri: &Nlri) -> Option<&Route> {
        let i = self.entries.binary_search_by(|(n, _)| n.cmp(nlri)).ok()?;
        self.entries.get(i).map(|(_, r)| self.route(*r))
    }

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

    pub fn keys(&self) -> impl Iterator<Item = &Nlri> + '_ {
        self.entries.iter().map(|(n, _)| n)
    }

    pub fn values(&self) -> impl Iterator<Item = &Route> + '_ {
        self.entries.iter().map(|(_, r)| self.route(*r))
    }
}

/// Services added at run time (`bgpctl announce`), sorted by prefix. Prefixes announced in
/// one request share one [`RuntimeSpec`], so 100k of them cost about 32 octets each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeTable {
    entries: Vec<(IpNet, Arc<RuntimeSpec>)>,
}

/// What a runtime announcement asked for. `service.name` and `service.prefix` are those of
/// the first prefix of the request; each entry's own prefix is the table key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSpec {
    pub service: Service,
    pub since: std::time::SystemTime,
    /// The request as received, without its prefixes: what the state file keeps
    /// ([`crate::statefile`]), so a restart rebuilds `service` the same way.
    pub request: crate::api::AnnounceArgs,
}

impl RuntimeTable {
    pub fn new() -> RuntimeTable {
        RuntimeTable::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, prefix: &IpNet) -> Result<usize, usize> {
        self.entries.binary_search_by(|(p, _)| p.cmp(prefix))
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&Arc<RuntimeSpec>> {
        let i = self.find(prefix).ok()?;
        self.entries.get(i).map(|(_, s)| s)
    }

    pub fn contains(&self, prefix: &IpNet) -> bool {
        self.find(prefix).is_ok()
    }

    /// Every (prefix, spec), in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (&IpNet, &Arc<RuntimeSpec>)> + '_ {
        self.entries.iter().map(|(p, s)| (p, s))
    }

    /// The service of one entry, as `bgpctl services` shows it (named after its prefix).
    pub fn service(prefix: &IpNet, spec: &RuntimeSpec) -> Service {
        Service {
            name: prefix.to_string(),
            prefix: *prefix,
            ..spec.service.clone()
        }
    }

    /// Adds or replaces `prefixes` (truncated to their length), all with `spec`.
    pub fn insert_many(&mut self, prefixes: &[IpNet], spec: Arc<RuntimeSpec>) {
        let mut fresh: Vec<IpNet> = prefixes.iter().map(IpNet::trunc).collect();
        if !fresh.is_sorted_by(|a, b| a < b) {
            fresh.sort_unstable();
            fresh.dedup();
        }
        if fresh.len() <= 8 {
            for p in fresh {
                match self.find(&p) {
                    Ok(i) => {
                        if let Some(e) = self.entries.get_mut(i) {
                            e.1 = spec.clone();
                        }
                    }
                    Err(i) => self.entries.insert(i, (p, spec.clone())),
                }
            }
            return;
        }
        // Merge two sorted lists; the new spec wins for prefixes in both.
        let old = std::mem::take(&mut self.entries);
        let mut merged = Vec::with_capacity(old.len() + fresh.len());
        let mut a = old.into_iter().peekable();
        let mut b = fresh.into_iter().peekable();
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 < *y => merged.extend(a.next()),
                (Some(x), Some(y)) if x.0 == *y => {
                    a.next();
                }
                (_, Some(_)) => merged.extend(b.next().map(|p| (p, spec.clone()))),
                (Some(_), None) => merged.extend(a.next()),
                (None, None) => break,
            }
        }
        self.entries = merged;
    }

    /// Removes `prefix`; true when it was present.
    pub fn remove(&mut self, prefix: &IpNet) -> bool {
        match self.find(prefix) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// This table without the prefixes of `sorted` (sorted, unique), and how many of them
    /// it held.
    pub fn without(&self, sorted: &[IpNet]) -> (RuntimeTable, usize) {
        let entries: Vec<(IpNet, Arc<RuntimeSpec>)> = self
            .entries
            .iter()
            .filter(|(p, _)| sorted.binary_search(p).is_err())
            .cloned()
            .collect();
        let removed = self.entries.len() - entries.len();
        (RuntimeTable { entries }, removed)
    }
}

/// How runtime services are sent right now (drain, RFC 8326).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeMode {
    #[default]
    Normal,
    /// Draining: GRACEFUL_SHUTDOWN added, LOCAL_PREF 0 on iBGP.
    GracefulShutdown,
    /// Drained: none is sent.
    Withheld,
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
    pub runtime_mode: RuntimeMode,
    /// Every route to announce is known (after a restart: state restored, first health
    /// verdicts in, no `bgpctl sync` open): sessions may send End-of-RIB
    /// (`bgp_fsm::Event::RoutesComplete`, RFC 4724 §4.1).
    pub complete: bool,
    /// Peers drained one by one (`bgpctl neighbor NAME drain`, RFC 8326): their routes carry
    /// GRACEFUL_SHUTDOWN (and LOCAL_PREF 0 on iBGP); the other peers' do not change.
    pub drained_peers: Arc<std::collections::BTreeSet<String>>,
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// A runtime spec as sent in `mode`.
fn runtime_template(spec: &RuntimeSpec, mode: RuntimeMode) -> Service {
    let mut service = spec.service.clone();
    if mode == RuntimeMode::GracefulShutdown {
        if !service
            .communities
            .contains(&bgp_proto::Community::GRACEFUL_SHUTDOWN)
        {
            service.communities = service
                .communities
                .iter()
                .copied()
                .chain([bgp_proto::Community::GRACEFUL_SHUTDOWN])
                .collect();
        }
        service.local_pref = Some(0);
    }
    service
}

/// Why a service (or one of its next hops) is not sent to a peer. The peer task logs each
/// distinct warning once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Warning {
    /// The prefix's family was not negotiated on the session.
    FamilyNotNegotiated { service: String, family: Family },
    /// No usable next hop of the right family exists for this prefix.
    NoNextHop { service: String, prefix: IpNet },
    /// Several next hops are configured, but ADD-PATH send was not negotiated: only the
    /// first one is sent.
    OnlyFirstNextHop { service: String, family: Family },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::FamilyNotNegotiated { service, family } => {
                write!(
                    f,
                    "service {service} not announced: {family} was not negotiated"
                )
            }
            Warning::NoNextHop { service, prefix } => write!(
                f,
                "service {service} ({prefix}) not announced: no next hop of its address family \
                 (configure one, or negotiate extended next hop)"
            ),
            Warning::OnlyFirstNextHop { service, family } => write!(
                f,
                "service {service}: ADD-PATH send not negotiated for {family}, announcing only \
                 its first next hop"
            ),
        }
    }
}

/// The UPDATE work that turns one route set into another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Groups of NLRI sharing next hop and attributes (one family per group).
    pub announce: Vec<AnnounceGroup>,
    /// NLRI to withdraw (no longer present).
    pub withdraw: Vec<Nlri>,
}

/// NLRI that share a next hop and attributes, so they can go in one UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceGroup {
    pub family: Family,
    pub next_hop: NextHop,
    pub attrs: Arc<PathAttributes>,
    pub nlri: Vec<Nlri>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }

    /// Number of NLRI announced.
    pub fn announced_count(&self) -> usize {
        self.announce.iter().map(|g| g.nlri.len()).sum()
    }
}

/// The address family of a prefix (unicast; owned by `bgp-proto`).
pub use bgp_proto::family_of;

/// Computes the routes `peer` should receive from configured `services` only.
pub fn routes_for_peer(services: &[Service], peer: &PeerView) -> (RouteSet, Vec<Warning>) {
    routes_for(&Announcements::from_services(services.to_vec()), peer)
}

/// Computes the routes `peer` should receive from `ann`.
pub fn routes_for(ann: &Announcements, peer: &PeerView) -> (RouteSet, Vec<Warning>) {
    let mut entries: Vec<(Nlri, u32)> = Vec::with_capacity(ann.len());
    let cx = visit(ann, peer, |prefix, paths| {
        push_paths(&mut entries, prefix, paths)
    });
    (RouteSet::build(entries, cx.routes), cx.warnings)
}

/// How many routes [`routes_for`] gives, without building them.
pub fn route_count(ann: &Announcements, peer: &PeerView) -> usize {
    let mut n = 0usize;
    visit(ann, peer, |_, paths| n = n.saturating_add(paths.len()));
    n
}

/// Calls `f` with each prefix to send to `peer` and its paths (path id, route index in the
/// returned `Compute`).
fn visit<'a>(
    ann: &Announcements,
    peer: &'a PeerView,
    mut f: impl FnMut(IpNet, &[(Option<u32>, u32)]),
) -> Compute<'a> {
    let mut cx = Compute {
        peer,
        drained: ann.drained_peers.contains(&peer.name),
        warnings: Vec::new(),
        interned: HashMap::new(),
        by_inputs: HashMap::new(),
        routes: Vec::new(),
        route_index: HashMap::new(),
    };
    for service in ann.services.iter() {
        if let Some(paths) = cx.paths(service, service.prefix, &service.name) {
            f(service.prefix, &paths);
        }
    }
    if ann.runtime_mode != RuntimeMode::Withheld {
        // Entries of one request share their spec: compute its paths once per family.
        let mut cached: Vec<(*const RuntimeSpec, Family, Option<Paths>)> = Vec::new();
        for (prefix, spec) in ann.runtime.iter() {
            let family = family_of(prefix);
            let key = Arc::as_ptr(spec);
            let hit = cached
                .iter()
                .rposition(|(k, f, _)| *k == key && *f == family);
            let i = match hit {
                Some(i) => i,
                None => {
                    let template = runtime_template(spec, ann.runtime_mode);
                    let paths = cx.paths(&template, *prefix, &prefix.to_string());
                    // Requests interleave little; keep the cache small.
                    if cached.len() >= 64 {
                        cached.remove(0);
                    }
                    cached.push((key, family, paths));
                    cached.len() - 1
                }
            };
            if let Some((_, _, Some(paths))) = cached.get(i) {
                f(*prefix, paths);
            }
        }
    }
    cx
}

/// The paths a service gives one prefix: (path id, route index). Services have a few next
/// hops: kept inline, no allocation per service.
type Paths = SmallVec<[(Option<u32>, u32); 4]>;

fn push_paths(entries: &mut Vec<(Nlri, u32)>, prefix: IpNet, paths: &[(Option<u32>, u32)]) {
    let prefix = prefix.trunc();
    for (path_id, route) in paths {
        entries.push((
            Nlri {
                prefix,
                path_id: *path_id,
            },
            *route,
        ));
    }
}

/// What a service contributes to its attributes for one peer ([`build_attributes`]): its
/// lists by address (equal addresses, equal lists; equal lists at two addresses only miss the
/// shortcut), and its values.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct AttrInputs {
    communities: *const bgp_proto::Community,
    large_communities: *const bgp_proto::LargeCommunity,
    med: Option<u32>,
    local_pref: Option<u32>,
    as_path_prepend: u8,
    /// `weight` (the Link Bandwidth community).
    weight: Option<u32>,
}

impl AttrInputs {
    fn of(service: &Service) -> AttrInputs {
        AttrInputs {
            communities: service.communities.as_ptr(),
            large_communities: service.large_communities.as_ptr(),
            med: service.med,
            local_pref: service.local_pref,
            as_path_prepend: service.as_path_prepend,
            weight: service.weight,
        }
    }
}

struct Compute<'a> {
    peer: &'a PeerView,
    /// The peer is drained by itself (`Announcements::drained_peers`).
    drained: bool,
    warnings: Vec<Warning>,
    interned: HashMap<PathAttributes, Arc<PathAttributes>>,
    /// The interned attributes by what a service gives them ([`AttrInputs`]): services that
    /// share their lists (validation shares equal ones) skip building and hashing them.
    by_inputs: HashMap<AttrInputs, Arc<PathAttributes>>,
    /// Distinct routes, and their index by (next hop, interned attributes).
    routes: Vec<Route>,
    route_index: HashMap<(NextHop, *const PathAttributes), u32>,
}

impl Compute<'_> {
    /// The index of the route (`next_hop`, `attrs`) in `routes` (added when new).
    fn intern(&mut self, next_hop: NextHop, attrs: &Arc<PathAttributes>) -> u32 {
        let key = (next_hop, Arc::as_ptr(attrs));
        if let Some(&i) = self.route_index.get(&key) {
            return i;
        }
        let i = u32::try_from(self.routes.len()).unwrap_or(u32::MAX);
        self.routes.push(Route {
            next_hop,
            attrs: attrs.clone(),
        });
        self.route_index.insert(key, i);
        i
    }

    /// The interned attributes `service` is sent with to this peer.
    fn attributes(&mut self, service: &Service) -> Arc<PathAttributes> {
        let inputs = AttrInputs::of(service);
        if let Some(shared) = self.by_inputs.get(&inputs) {
            return shared.clone();
        }
        let peer = self.peer;
        let mut attrs = build_attributes(service, peer);
        if self.drained {
            // `bgpctl neighbor NAME drain` (RFC 8326 §4): GRACEFUL_SHUTDOWN to this peer,
            // and LOCAL_PREF 0 on iBGP.
            if !attrs
                .communities
                .contains(&bgp_proto::Community::GRACEFUL_SHUTDOWN)
            {
                attrs
                    .communities
                    .push(bgp_proto::Community::GRACEFUL_SHUTDOWN);
                attrs.communities.sort();
            }
            if peer.is_ibgp() {
                attrs.local_pref = Some(0);
            }
        }
        let shared = match self.interned.get(&attrs) {
            Some(shared) => shared.clone(),
            None => {
                let shared = Arc::new(attrs);
                self.interned
                    .insert(PathAttributes::clone(&shared), shared.clone());
                shared
            }
        };
        self.by_inputs.insert(inputs, shared.clone());
        shared
    }

    /// The paths (path id, route index) `service` gives a prefix of `prefix`'s family, or
    /// `None` when it is not sent to this peer (with a warning when that needs one).
    fn paths(&mut self, service: &Service, prefix: IpNet, name: &str) -> Option<Paths> {
        let peer = self.peer;
        if !service.applies_to(&peer.name) {
            return None;
        }
        let family = family_of(&prefix);
        if !peer.families.contains(family) {
            self.warnings.push(Warning::FamilyNotNegotiated {
                service: name.to_string(),
                family,
            });
            return None;
        }
        let add_path = peer.add_path_tx.contains(family);
        // Resolve next hops in configured order, keeping the position for the path id.
        let resolved: SmallVec<[(usize, NextHop); 4]> = service
            .nexthops
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| resolve_next_hop(*spec, prefix, peer).map(|nh| (i, nh)))
            .collect();
        let Some(first) = resolved.first().copied() else {
            self.warnings.push(Warning::NoNextHop {
                service: name.to_string(),
                prefix,
            });
            return None;
        };
        let attrs = self.attributes(service);
        if add_path {
            Some(
                resolved
                    .into_iter()
                    .map(|(i, next_hop)| {
                        let path_id = u32::try_from(i + 1).unwrap_or(u32::MAX);
                        (Some(path_id), self.intern(next_hop, &attrs))
                    })
                    .collect(),
            )
        } else {
            if service.nexthops.len() > 1 {
                self.warnings.push(Warning::OnlyFirstNextHop {
                    service: name.to_string(),
                    family,
                });
            }
            let mut paths = Paths::new();
            paths.push((None, self.intern(first.1, &attrs)));
            Some(paths)
        }
    }
}

/// Groups announcements by (family, next hop, attributes), in first-seen order.
#[derive(Default)]
struct Grouper {
    /// By the attributes' address: the routes of one computation share interned attributes,
    /// so equal attributes have one address (hashing the pointer, not every attribute).
    index: HashMap<(Family, NextHop, *const PathAttributes), usize>,
    groups: Vec<AnnounceGroup>,
    last: Option<usize>,
}

impl Grouper {
    fn push(&mut self, nlri: Nlri, route: &Route) {
        let family = family_of(&nlri.prefix);
        // Consecutive routes usually share a group: skip hashing the attributes then.
        if let Some(g) = self.last.and_then(|i| self.groups.get_mut(i)) {
            if g.family == family
                && g.next_hop == route.next_hop
                && Arc::ptr_eq(&g.attrs, &route.attrs)
            {
                g.nlri.push(nlri);
                return;
            }
        }
        let key = (family, route.next_hop, Arc::as_ptr(&route.attrs));
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.index.insert(key, self.groups.len());
                self.groups.push(AnnounceGroup {
                    family,
                    next_hop: route.next_hop,
                    attrs: route.attrs.clone(),
                    nlri: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        if let Some(g) = self.groups.get_mut(i) {
            g.nlri.push(nlri);
        }
        self.last = Some(i);
    }
}

/// The UPDATE work to go from `old` to `new`: changed or added routes are announced
/// (implicitly replacing the old path, RFC 4271 §3.1), removed ones withdrawn.
pub fn diff(old: &RouteSet, new: &RouteSet) -> Diff {
    diff_from(old.keys().copied(), new, |n, r| old.get(n) == Some(r))
}

/// Like [`diff`], from what a session's Adj-RIB-Out holds.
pub fn diff_rib(old: &bgp_fsm::AdjRib, new: &RouteSet) -> Diff {
    diff_from(old.nlri().copied(), new, |n, r| {
        old.holds(n, &r.next_hop, &r.attrs)
    })
}

/// Distinct prefixes given in order (equal ones adjacent): counted, the first nine kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixSummary {
    count: usize,
    first: Vec<IpNet>,
    last: Option<IpNet>,
}

impl PrefixSummary {
    pub fn add(&mut self, prefix: IpNet) {
        if self.last == Some(prefix) {
            return;
        }
        self.last = Some(prefix);
        self.count += 1;
        if self.first.len() <= 8 {
            self.first.push(prefix);
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Up to 8 prefixes named (in text order), else "N prefixes"; `None` when empty.
    pub fn describe(&self) -> Option<String> {
        match self.count {
            0 => None,
            1..=8 => {
                let mut names: Vec<String> = self.first.iter().map(ToString::to_string).collect();
                names.sort();
                names.dedup();
                Some(names.join(", "))
            }
            n => Some(format!("{n} prefixes")),
        }
    }
}

/// What [`diff`] of two route sets holds, counted rather than listed (for event lines and
/// latency accounting, where 100k-entry lists would only be thrown away).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// UPDATE groups (family, next hop, attributes) among the announced routes.
    pub groups: usize,
    /// NLRI announced and withdrawn.
    pub announced: usize,
    pub withdrawn: usize,
    pub announced_prefixes: PrefixSummary,
    /// Prefixes withdrawn with no path left.
    pub withdrawn_prefixes: PrefixSummary,
}

impl ChangeSummary {
    pub fn is_empty(&self) -> bool {
        self.announced == 0 && self.withdrawn == 0
    }
}

/// Summarizes `diff(old, new)` in one merge walk.
pub fn summarize(old: &RouteSet, new: &RouteSet) -> ChangeSummary {
    let mut out = ChangeSummary::default();
    let mut groups: Vec<(Family, NextHop, *const PathAttributes)> = Vec::new();
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        let (announce, withdraw) = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => (None, a.next()),
            (None, Some(_)) => (b.next(), None),
            (Some((x, _)), Some((y, _))) if x < y => (None, a.next()),
            (Some((x, _)), Some((y, _))) if x > y => (b.next(), None),
            _ => {
                let old_route = a.next();
                let new_route = b.next();
                match (old_route, new_route) {
                    (Some((_, o)), Some((n, r))) if o != r => (Some((n, r)), None),
                    _ => (None, None),
                }
            }
        };
        if let Some((nlri, route)) = announce {
            out.announced += 1;
            out.announced_prefixes.add(nlri.prefix);
            let key = (
                family_of(&nlri.prefix),
                route.next_hop,
                Arc::as_ptr(&route.attrs),
            );
            if !groups.contains(&key) {
                groups.push(key);
            }
        }
        if let Some((nlri, _)) = withdraw {
            out.withdrawn += 1;
            if !new.has_prefix(nlri.prefix) {
                out.withdrawn_prefixes.add(nlri.prefix);
            }
        }
    }
    out.groups = groups.len();
    out
}

/// `old_keys` in NLRI order; `unchanged(nlri, route)` says whether `old` has exactly it.
fn diff_from(
    old_keys: impl Iterator<Item = Nlri>,
    new: &RouteSet,
    unchanged: impl Fn(&Nlri, &Route) -> bool,
) -> Diff {
    let mut grouper = Grouper::default();
    for (nlri, route) in new.iter() {
        if !unchanged(nlri, route) {
            grouper.push(*nlri, route);
        }
    }
    // Both sides are sorted by NLRI: one merge finds the removed ones.
    let mut withdraw = Vec::new();
    let mut fresh = new.keys().peekable();
    for nlri in old_keys {
        while fresh.next_if(|n| **n < nlri).is_some() {}
        if fresh.peek().is_some_and(|n| **n == nlri) {
            continue;
        }
        withdraw.push(nlri);
    }
    Diff {
        announce: grouper.groups,
        withdraw,
    }
}

fn resolve_next_hop(spec: NextHopSpec, prefix: IpNet, peer: &PeerView) -> Option<NextHop> {
    let family = family_of(&prefix);
    let ext_nh = peer.extended_next_hop.contains(family);
    let addr = match spec {
        // 0.0.0.0 and :: are never sent as a next hop: the health checks (crate::control) put
        // them in place of a failing next hop, so the others keep their path ids.
        NextHopSpec::Addr(addr) if addr.is_unspecified() => return None,
        NextHopSpec::Addr(addr) => addr,
        NextHopSpec::Local => match (prefix, peer.local_address) {
            (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_)) => peer.local_address,
            (IpNet::V4(_), IpAddr::V6(local)) => match peer.next_hop_v4 {
                Some(v4) => IpAddr::V4(v4),
                None if ext_nh => IpAddr::V6(local),
                None => return None,
            },
            (IpNet::V6(_), IpAddr::V4(_)) => IpAddr::V6(peer.next_hop_v6?),
        },
    };
    // A link-local session: "self" is the global address with the link-local one beside it.
    if let (Some(ll), IpAddr::V6(v6)) = (peer.link_local, addr) {
        if v6 == ll && (prefix.addr().is_ipv6() || ext_nh) {
            return Some(match peer.next_hop_v6 {
                Some(global) => NextHop::V6 {
                    global,
                    link_local: Some(ll),
                },
                None => NextHop::V6 {
                    global: ll,
                    link_local: None,
                },
            });
        }
    }
    match (prefix, addr) {
        (IpNet::V4(_), IpAddr::V4(v4)) => Some(NextHop::V4(v4)),
        (IpNet::V6(_), IpAddr::V6(v6)) => Some(NextHop::V6 {
            global: v6,
            link_local: None,
        }),
        // RFC 8950: IPv4 NLRI with an IPv6 next hop, only when negotiated.
        (IpNet::V4(_), IpAddr::V6(v6)) if ext_nh => Some(NextHop::V6 {
            global: v6,
            link_local: None,
        }),
        _ => None,
    }
}

fn build_attributes(service: &Service, peer: &PeerView) -> PathAttributes {
    // Per-peer overrides (`[peers.announce]`): communities add, the rest replace.
    let over = &peer.announce;
    let mut communities = service.communities.to_vec();
    communities.extend(over.communities.iter().copied());
    communities.sort();
    communities.dedup();
    let mut large_communities = service.large_communities.to_vec();
    large_communities.extend(over.large_communities.iter().copied());
    large_communities.sort();
    large_communities.dedup();
    let (as_path, local_pref) = if peer.is_ibgp() {
        (
            AsPath::default(),
            Some(
                over.local_pref
                    .or(service.local_pref)
                    .unwrap_or(DEFAULT_LOCAL_PREF),
            ),
        )
    } else {
        let prepend = over.as_path_prepend.unwrap_or(service.as_path_prepend);
        let copies = 1 + usize::from(prepend);
        let segment = AsSegment {
            kind: AsSegmentType::Sequence,
            asns: vec![peer.local_asn; copies],
        };
        (
            AsPath {
                segments: vec![segment],
            },
            None,
        )
    };
    PathAttributes {
        origin: Origin::Igp,
        as_path,
        med: over.med.or(service.med),
        ext_communities: service.link_bandwidth(peer.local_asn).into_iter().collect(),
        // RFC 9234 §5: "If a route is to be advertised to a Customer, a Peer, or an RS-Client
        // (when the sender is an RS), and the OTC Attribute is not present, then when
        // advertising the route, an OTC Attribute MUST be added with a value equal to the AS
        // number of the local AS." Our routes are our own: none carries OTC before this.
        otc: match peer.role {
            Some(
                bgp_proto::Role::Provider | bgp_proto::Role::Peer | bgp_proto::Role::RouteServer,
            ) => Some(peer.local_asn),
            _ => None,
        },
        local_pref,
        communities,
        large_communities,
        ..PathAttributes::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PeerSelection;
    use bgp_proto::{Community, LargeCommunity};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn service(name: &str, prefix: &str, nexthops: Vec<NextHopSpec>) -> Service {
        Service {
            name: name.into(),
            prefix: prefix.parse().expect("prefix"),
            nexthops: nexthops.into(),
            communities: Arc::new([]),
            large_communities: Arc::new([]),
            med: None,
            local_pref: None,
            as_path_prepend: 0,
            weight: None,
            peers: PeerSelection::All,
            health: None,
        }
    }

    fn ebgp_v4() -> PeerView {
        PeerView {
            name: "tor-a".into(),
            local_asn: 64512,
            peer_asn: 64500,
            local_address: IpAddr::V4(Ipv4Addr::new(10, 255, 0, 2)),
            next_hop_v4: None,
            next_hop_v6: None,
            families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
                .into_iter()
                .collect(),
            add_path_tx: FamilySet::new(),
            extended_next_hop: FamilySet::new(),
            announce: Arc::default(),
            role: None,
            link_local: None,
        }
    }

    fn v4(s: &str) -> NextHop {
        NextHop::V4(s.parse().expect("v4"))
    }

    #[test]
    fn ebgp_self_next_hop_prepends_and_carries_attributes() {
        let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
        s.communities = vec![Community(0xFFFF_FF01), Community(64512 << 16 | 100)].into();
        s.large_communities = vec![LargeCommunity {
            global: 64512,
            local1: 1,
            local2: 100,
        }]
        .into();
        s.med = Some(10);
        s.local_pref = Some(200);
        s.as_path_prepend = 2;
        let (routes, warnings) = routes_for_peer(&[s], &ebgp_v4());
        assert!(warnings.is_empty());
        assert_eq!(routes.len(), 1);
        let (nlri, route) = routes.iter().next().expect("one route");
        assert_eq!(
            *nlri,
            Nlri {
                prefix: "192.0.2.10/32".parse().expect("p"),
                path_id: None
            }
        );
        assert_eq!(route.next_hop, v4("10.255.0.2"));
        let a = &route.attrs;
        assert_eq!(a.origin, Origin::Igp);
        assert_eq!(
            a.as_path.segments,
            vec![AsSegment {
                kind: AsSegmentType::Sequence,
                asns: vec![64512, 64512, 64512]
            }]
        );
        assert_eq!(a.med, Some(10));
        assert_eq!(a.local_pref, None, "no LOCAL_PREF on eBGP");
        assert_eq!(
            a.communities,
            vec![Community(64512 << 16 | 100), Community(0xFFFF_FF01)]
        );
        assert_eq!(a.large_communities.len(), 1);
        assert!(a.ext_communities.is_empty(), "no weight, no Link Bandwidth");
    }

    #[test]
    fn a_weight_is_sent_as_link_bandwidth() {
        let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
        s.weight = Some(40);
        let (routes, _) = routes_for_peer(&[s], &ebgp_v4());
        let (_, route) = routes.iter().next().expect("one route");
        let lb: Vec<_> = route
            .attrs
            .ext_communities
            .iter()
            .filter_map(|c| c.as_link_bandwidth())
            .collect();
        // draft-ietf-idr-link-bandwidth: our AS, 40 Mbit/s in bytes per second.
        assert_eq!(lb, vec![(64512, 5e6)]);
        // Services alike but for their weight keep their own attributes.
        let mut a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        a.weight = Some(1);
        let mut b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
        b.weight = Some(2);
        // The same lists, as the configuration shares them.
        b.communities = a.communities.clone();
        b.large_communities = a.large_communities.clone();
        let (routes, _) = routes_for_peer(&[a, b], &ebgp_v4());
        let bws: Vec<f32> = routes
            .iter()
            .filter_map(|(_, r)| r.attrs.ext_communities.first()?.as_link_bandwidth())
            .map(|(_, bw)| bw)
            .collect();
        assert_eq!(bws, vec![125_000.0, 250_000.0]);
        assert_eq!(
            route.attrs.ext_communities[0].0[..2],
            [0x40, 0x04],
            "non-transitive type, Link Bandwidth sub-type"
        );
    }

    #[test]
    fn a_drained_peer_gets_graceful_shutdown_and_the_others_do_not() {
        let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        let mut ann = Announcements::from_services(vec![a]);
        ann.drained_peers = Arc::new(["tor-a".to_string()].into_iter().collect());
        let drained = ebgp_v4();
        let mut other = ebgp_v4();
        other.name = "tor-b".into();
        let attrs = |p: &PeerView| {
            routes_for(&ann, p)
                .0
                .values()
                .next()
                .map(|r| r.attrs.clone())
        };
        let d = attrs(&drained).expect("route");
        assert_eq!(d.communities, vec![bgp_proto::Community::GRACEFUL_SHUTDOWN]);
        assert_eq!(d.local_pref, None, "eBGP: no LOCAL_PREF");
        let o = attrs(&other).expect("route");
        assert!(o.communities.is_empty());
        // iBGP: LOCAL_PREF 0 as well (RFC 8326 §4).
        let mut ibgp = ebgp_v4();
        ibgp.peer_asn = 64512;
        assert_eq!(attrs(&ibgp).expect("route").local_pref, Some(0));
    }

    #[test]
    fn peer_overrides_add_communities_and_replace_med_local_pref_and_prepend() {
        let mut svc = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        svc.communities = vec![Community::NO_EXPORT].into();
        svc.med = Some(5);
        svc.as_path_prepend = 1;
        let mut peer = ebgp_v4();
        peer.announce = Arc::new(crate::config::PeerAnnounce {
            communities: vec![Community::new(64512, 7)],
            large_communities: vec![LargeCommunity::new(64512, 1, 7)],
            med: Some(50),
            local_pref: Some(300),
            as_path_prepend: Some(3),
        });
        let (routes, _) = routes_for_peer(std::slice::from_ref(&svc), &peer);
        let a = routes.values().next().expect("route").attrs.clone();
        assert_eq!(
            a.communities.len(),
            2,
            "service's and peer's: {:?}",
            a.communities
        );
        assert_eq!(a.large_communities, vec![LargeCommunity::new(64512, 1, 7)]);
        assert_eq!(a.med, Some(50));
        assert_eq!(a.as_path.segments[0].asns, vec![64512; 4], "1 + 3 copies");
        assert_eq!(a.local_pref, None, "eBGP");
        peer.peer_asn = 64512;
        let (routes, _) = routes_for_peer(&[svc], &peer);
        assert_eq!(
            routes.values().next().expect("route").attrs.local_pref,
            Some(300)
        );
    }

    #[test]
    fn otc_goes_to_customers_peers_and_rs_clients_only() {
        let svc = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        let otc = |role: Option<bgp_proto::Role>| {
            let mut peer = ebgp_v4();
            peer.role = role;
            routes_for_peer(std::slice::from_ref(&svc), &peer)
                .0
                .values()
                .next()
                .expect("route")
                .attrs
                .otc
        };
        use bgp_proto::Role;
        assert_eq!(otc(Some(Role::Provider)), Some(64512), "to a customer");
        assert_eq!(otc(Some(Role::Peer)), Some(64512), "to a peer");
        assert_eq!(otc(Some(Role::RouteServer)), Some(64512), "to an RS client");
        assert_eq!(otc(Some(Role::Customer)), None, "to a provider");
        assert_eq!(otc(Some(Role::RouteServerClient)), None, "to an RS");
        assert_eq!(otc(None), None);
    }

    #[test]
    fn link_local_session_sends_the_global_next_hop_with_the_link_local_beside_it() {
        let svc = service("a", "2001:db8::10/128", vec![NextHopSpec::Local]);
        let ll: std::net::Ipv6Addr = "fe80::2".parse().expect("ll");
        let mut peer = ebgp_v4();
        peer.local_address = IpAddr::V6(ll);
        peer.link_local = Some(ll);
        peer.next_hop_v6 = Some("2001:db8:ff::2".parse().expect("global"));
        let nh = |p: &PeerView| {
            routes_for_peer(std::slice::from_ref(&svc), p)
                .0
                .values()
                .next()
                .expect("route")
                .next_hop
        };
        assert_eq!(
            nh(&peer),
            NextHop::V6 {
                global: "2001:db8:ff::2".parse().expect("g"),
                link_local: Some(ll)
            }
        );
        // No global address on the link: the link-local one alone.
        peer.next_hop_v6 = None;
        assert_eq!(
            nh(&peer),
            NextHop::V6 {
                global: ll,
                link_local: None
            }
        );
    }

    #[test]
    fn ibgp_carries_local_pref_and_empty_as_path() {
        let mut peer = ebgp_v4();
        peer.peer_asn = 64512;
        let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        let mut b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
        b.local_pref = Some(200);
        b.as_path_prepend = 3;
        let (routes, _) = routes_for_peer(&[a, b], &peer);
        let attrs: Vec<_> = routes.values().map(|r| r.attrs.clone()).collect();
        assert_eq!(attrs[0].local_pref, Some(DEFAULT_LOCAL_PREF));
        assert_eq!(attrs[1].local_pref, Some(200));
        assert!(attrs[0].as_path.segments.is_empty());
        assert!(
            attrs[1].as_path.segments.is_empty(),
            "prepend applies on eBGP only"
        );
    }

    #[test]
    fn v6_prefix_over_v4_session_needs_configured_next_hop() {
        let s = service("v6", "2001:db8::10/128", vec![NextHopSpec::Local]);
        let (routes, warnings) = routes_for_peer(std::slice::from_ref(&s), &ebgp_v4());
        assert!(routes.is_empty());
        assert_eq!(
            warnings,
            vec![Warning::NoNextHop {
                service: "v6".into(),
                prefix: s.prefix
            }]
        );
        let mut peer = ebgp_v4();
        peer.next_hop_v6 = Some("2001:db8::2".parse().expect("v6"));
        let (routes, warnings) = routes_for_peer(&[s], &peer);
        assert!(warnings.is_empty());
        let route = routes.values().next().expect("route");
        assert_eq!(
            route.next_hop,
            NextHop::V6 {
                global: "2001:db8::2".parse().expect("v6"),
                link_local: None
            }
        );
    }

    #[test]
    fn v4_prefix_over_v6_session_uses_extended_next_hop_when_negotiated() {
        let mut peer = ebgp_v4();
        peer.local_address = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let s = service("v4", "192.0.2.10/32", vec![NextHopSpec::Local]);
        let (routes, _) = routes_for_peer(std::slice::from_ref(&s), &peer);
        assert!(routes.is_empty());
        peer.extended_next_hop.insert(Family::IPV4_UNICAST);
        let (routes, _) = routes_for_peer(&[s], &peer);
        assert_eq!(
            routes.values().next().map(|r| r.next_hop),
            Some(NextHop::V6 {
                global: Ipv6Addr::LOCALHOST,
                link_local: None
            })
        );
    }

    #[test]
    fn family_not_negotiated_is_skipped() {
        let mut peer = ebgp_v4();
        peer.families = [Family::IPV4_UNICAST].into_iter().collect();
        let s = service(
            "v6",
            "2001:db8::10/128",
            vec![NextHopSpec::Addr("2001:db8::1".parse().expect("a"))],
        );
        let (routes, warnings) = routes_for_peer(&[s], &peer);
        assert!(routes.is_empty());
        assert_eq!(
            warnings,
            vec![Warning::FamilyNotNegotiated {
                service: "v6".into(),
                family: Family::IPV6_UNICAST
            }]
        );
    }

    #[test]
    fn add_path_gives_one_path_per_next_hop_with_stable_ids() {
        let hops = vec![
            NextHopSpec::Addr("10.0.0.1".parse().expect("a")),
            NextHopSpec::Addr("10.0.0.2".parse().expect("a")),
            NextHopSpec::Addr("10.0.0.3".parse().expect("a")),
        ];
        let s = service("web", "192.0.2.10/32", hops);
        let mut peer = ebgp_v4();
        peer.add_path_tx.insert(Family::IPV4_UNICAST);
        let (routes, warnings) = routes_for_peer(std::slice::from_ref(&s), &peer);
        assert!(warnings.is_empty());
        let got: Vec<(Option<u32>, NextHop)> = routes
            .iter()
            .map(|(n, r)| (n.path_id, r.next_hop))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(1), v4("10.0.0.1")),
                (Some(2), v4("10.0.0.2")),
                (Some(3), v4("10.0.0.3"))
            ]
        );
        // Without ADD-PATH: the first next hop only, and a warning.
        let (routes, warnings) = routes_for_peer(&[s], &ebgp_v4());
        assert_eq!(routes.len(), 1);
        assert_eq!(
            routes.values().next().map(|r| r.next_hop),
            Some(v4("10.0.0.1"))
        );
        assert_eq!(
            warnings,
            vec![Warning::OnlyFirstNextHop {
                service: "web".into(),
                family: Family::IPV4_UNICAST
            }]
        );
    }

    #[test]
    fn service_peer_filter() {
        let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
        s.peers = PeerSelection::Only(vec!["tor-b".into()].into());
        let (routes, _) = routes_for_peer(&[s], &ebgp_v4());
        assert!(routes.is_empty());
    }

    #[test]
    fn equal_attributes_share_one_arc_and_one_group() {
        let services: Vec<Service> = (0..10_000u32)
            .map(|i| {
                let addr = Ipv4Addr::from(0x0a00_0000 + i);
                service(
                    &format!("s{i}"),
                    &format!("{addr}/32"),
                    vec![NextHopSpec::Local],
                )
            })
            .collect();
        let (routes, _) = routes_for_peer(&services, &ebgp_v4());
        assert_eq!(routes.len(), 10_000);
        let first = routes.values().next().expect("route").attrs.clone();
        assert!(routes.values().all(|r| Arc::ptr_eq(&r.attrs, &first)));
        let d = diff(&RouteSet::new(), &routes);
        assert_eq!(d.announce.len(), 1);
        assert_eq!(d.announced_count(), 10_000);
        assert!(d.withdraw.is_empty());
    }

    #[test]
    fn diff_announces_changes_and_withdraws_removals() {
        let peer = ebgp_v4();
        let a = service("a", "192.0.2.1/32", vec![NextHopSpec::Local]);
        let b = service("b", "192.0.2.2/32", vec![NextHopSpec::Local]);
        let mut b2 = b.clone();
        b2.med = Some(5);
        let c = service("c", "192.0.2.3/32", vec![NextHopSpec::Local]);
        let (old, _) = routes_for_peer(&[a.clone(), b], &peer);
        let (new, _) = routes_for_peer(&[b2, c], &peer);
        let d = diff(&old, &new);
        let announced: Vec<IpNet> = d
            .announce
            .iter()
            .flat_map(|g| g.nlri.iter().map(|n| n.prefix))
            .collect();
        assert_eq!(announced.len(), 2);
        assert!(announced.contains(&"192.0.2.2/32".parse().expect("p")));
        assert!(announced.contains(&"192.0.2.3/32".parse().expect("p")));
        assert_eq!(
            d.withdraw,
            vec![Nlri {
                prefix: "192.0.2.1/32".parse().expect("p"),
                path_id: None
            }]
        );
        assert!(diff(&new, &new).is_empty());
        // The summary counts what the diff lists.
        let sum = summarize(&old, &new);
        assert_eq!(sum.announced, 2);
        assert_eq!(sum.withdrawn, 1);
        assert_eq!(sum.groups, d.announce.len());
        assert_eq!(
            sum.announced_prefixes.describe().as_deref(),
            Some("192.0.2.2/32, 192.0.2.3/32")
        );
        assert_eq!(
            sum.withdrawn_prefixes.describe().as_deref(),
            Some("192.0.2.1/32")
        );
        assert!(summarize(&new, &new).is_empty());
    }

    #[test]
    fn runtime_entries_share_their_spec_and_follow_the_drain_mode() {
        let peer = ebgp_v4();
        let template = service("t", "198.51.100.0/32", vec![NextHopSpec::Local]);
        let spec = Arc::new(RuntimeSpec {
            service: template,
            since: std::time::SystemTime::now(),
            request: crate::api::AnnounceArgs::default(),
        });
        let mut table = RuntimeTable::new();
        let prefixes: Vec<IpNet> = (0..20_000u32)
            .rev()
            .map(|i| {
                IpNet::V4(
                    ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a64_0000 + i), 32).expect("p"),
                )
            })
            .collect();
        table.insert_many(&prefixes, spec.clone());
        // A configured service with one of the prefixes is replaced by the runtime one
        // (effective() leaves it out); another configured one stays.
        let mut configured = service("c", "192.0.2.1/32", vec![NextHopSpec::Local]);
        configured.med = Some(1);
        let mut ann = Announcements {
            services: Arc::new(vec![configured]),
            runtime: Arc::new(table.clone()),
            runtime_mode: RuntimeMode::Normal,
            complete: true,
            drained_peers: Arc::default(),
        };
        let (routes, warnings) = routes_for(&ann, &peer);
        assert!(warnings.is_empty());
        assert_eq!(routes.len(), 20_001);
        assert_eq!(route_count(&ann, &peer), 20_001);
        assert!(routes.keys().is_sorted());
        let d = diff(&RouteSet::new(), &routes);
        assert_eq!(d.announced_count(), 20_001);
        assert_eq!(d.announce.len(), 2, "one group per attribute set");
        let sum = summarize(&RouteSet::new(), &routes);
        assert_eq!((sum.announced, sum.groups), (20_001, 2));
        assert_eq!(
            sum.announced_prefixes.describe().as_deref(),
            Some("20001 prefixes")
        );
        // Draining adds GRACEFUL_SHUTDOWN to runtime routes; drained sends none.
        ann.runtime_mode = RuntimeMode::GracefulShutdown;
        let (drain, _) = routes_for(&ann, &peer);
        let runtime_route = drain.values().next().expect("route");
        assert!(runtime_route
            .attrs
            .communities
            .contains(&bgp_proto::Community::GRACEFUL_SHUTDOWN));
        ann.runtime_mode = RuntimeMode::Withheld;
        assert_eq!(routes_for(&ann, &peer).0.len(), 1);
        // Removing: the table without half of them.
        let mut gone: Vec<IpNet> = prefixes.iter().step_by(2).copied().collect();
        gone.sort();
        let (rest, removed) = table.without(&gone);
        assert_eq!((rest.len(), removed), (10_000, 10_000));
        for p in &gone {
            assert!(table.remove(p));
        }
        assert_eq!(table, rest);
    }
}
