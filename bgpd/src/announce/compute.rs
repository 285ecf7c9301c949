//! From services and one session to the routes it should carry.

use super::*;

/// Why a service (or one of its next hops) is not sent to a peer. The peer task logs each
/// distinct warning once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Warning {
    /// The prefix's family was not negotiated on the session.
    FamilyNotNegotiated {
        /// The service's name.
        service: String,
        /// The prefix's address family.
        family: Family,
    },
    /// No usable next hop of the right family exists for this prefix.
    NoNextHop {
        /// The service's name.
        service: String,
        /// The prefix without a next hop.
        prefix: IpNet,
    },
    /// Several next hops are configured, but ADD-PATH send was not negotiated: only the
    /// first one is sent.
    OnlyFirstNextHop {
        /// The service's name.
        service: String,
        /// The prefix's address family.
        family: Family,
    },
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
#[cfg(test)]
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

fn resolve_next_hop(spec: NextHopSpec, prefix: IpNet, peer: &PeerView) -> Option<NextHop> {
    let family = family_of(&prefix);
    let ext_nh = peer.extended_next_hop.contains(family);
    let addr = match spec {
        // A failing next hop keeps its place (and the others their path ids) but is not sent;
        // nor is 0.0.0.0 or :: ever a next hop.
        NextHopSpec::Failing => return None,
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
        // Our routes are our own: none carries OTC before this (RFC 9234 §5 egress).
        otc: bgp_fsm::otc_on_egress(peer.role, peer.local_asn),
        local_pref,
        communities,
        large_communities,
        ..PathAttributes::default()
    }
}
