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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use bgp_proto::{
    AsPath, AsSegment, AsSegmentType, Family, FamilySet, NextHop, Nlri, Origin, PathAttributes,
};
use ipnet::IpNet;

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
}

impl PeerView {
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

/// A peer's Adj-RIB-Out: every NLRI (prefix and path id) with its route.
pub type RouteSet = BTreeMap<Nlri, Route>;

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

/// The address family of a prefix (unicast).
pub fn family_of(prefix: &IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    }
}

/// Computes the routes `peer` should receive from `services`.
pub fn routes_for_peer(services: &[Service], peer: &PeerView) -> (RouteSet, Vec<Warning>) {
    let mut routes = RouteSet::new();
    let mut warnings = Vec::new();
    let mut interned: HashMap<PathAttributes, Arc<PathAttributes>> = HashMap::new();
    for service in services {
        if !service.applies_to(&peer.name) {
            continue;
        }
        let family = family_of(&service.prefix);
        if !peer.families.contains(family) {
            warnings.push(Warning::FamilyNotNegotiated {
                service: service.name.clone(),
                family,
            });
            continue;
        }
        let add_path = peer.add_path_tx.contains(family);
        // Resolve next hops in configured order, keeping the position for the path id.
        let resolved: Vec<(usize, NextHop)> = service
            .nexthops
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| resolve_next_hop(*spec, service.prefix, peer).map(|nh| (i, nh)))
            .collect();
        let Some(first) = resolved.first().copied() else {
            warnings.push(Warning::NoNextHop {
                service: service.name.clone(),
                prefix: service.prefix,
            });
            continue;
        };
        let attrs = build_attributes(service, peer);
        let attrs = match interned.get(&attrs) {
            Some(shared) => shared.clone(),
            None => {
                let shared = Arc::new(attrs);
                interned.insert(PathAttributes::clone(&shared), shared.clone());
                shared
            }
        };
        if add_path {
            for (i, next_hop) in resolved {
                let path_id = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let nlri = Nlri {
                    prefix: service.prefix.trunc(),
                    path_id: Some(path_id),
                };
                routes.insert(
                    nlri,
                    Route {
                        next_hop,
                        attrs: attrs.clone(),
                    },
                );
            }
        } else {
            if service.nexthops.len() > 1 {
                warnings.push(Warning::OnlyFirstNextHop {
                    service: service.name.clone(),
                    family,
                });
            }
            let nlri = Nlri {
                prefix: service.prefix.trunc(),
                path_id: None,
            };
            routes.insert(
                nlri,
                Route {
                    next_hop: first.1,
                    attrs,
                },
            );
        }
    }
    (routes, warnings)
}

/// The UPDATE work to go from `old` to `new`: changed or added routes are announced
/// (implicitly replacing the old path, RFC 4271 §3.1), removed ones withdrawn.
pub fn diff(old: &RouteSet, new: &RouteSet) -> Diff {
    let mut groups: HashMap<(Family, NextHop, Arc<PathAttributes>), Vec<Nlri>> = HashMap::new();
    let mut order: Vec<(Family, NextHop, Arc<PathAttributes>)> = Vec::new();
    for (nlri, route) in new {
        if old.get(nlri) == Some(route) {
            continue;
        }
        let key = (family_of(&nlri.prefix), route.next_hop, route.attrs.clone());
        let entry = groups.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(*nlri);
    }
    let announce = order
        .into_iter()
        .filter_map(|key| {
            let nlri = groups.remove(&key)?;
            let (family, next_hop, attrs) = key;
            Some(AnnounceGroup {
                family,
                next_hop,
                attrs,
                nlri,
            })
        })
        .collect();
    let withdraw = old
        .keys()
        .filter(|nlri| !new.contains_key(nlri))
        .copied()
        .collect();
    Diff { announce, withdraw }
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
    let mut communities = service.communities.clone();
    communities.sort();
    communities.dedup();
    let mut large_communities = service.large_communities.clone();
    large_communities.sort();
    large_communities.dedup();
    let (as_path, local_pref) = if peer.is_ibgp() {
        (
            AsPath::default(),
            Some(service.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)),
        )
    } else {
        let copies = 1 + usize::from(service.as_path_prepend);
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
        med: service.med,
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
            nexthops,
            communities: vec![],
            large_communities: vec![],
            med: None,
            local_pref: None,
            as_path_prepend: 0,
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
        }
    }

    fn v4(s: &str) -> NextHop {
        NextHop::V4(s.parse().expect("v4"))
    }

    #[test]
    fn ebgp_self_next_hop_prepends_and_carries_attributes() {
        let mut s = service("web", "192.0.2.10/32", vec![NextHopSpec::Local]);
        s.communities = vec![Community(0xFFFF_FF01), Community(64512 << 16 | 100)];
        s.large_communities = vec![LargeCommunity {
            global: 64512,
            local1: 1,
            local2: 100,
        }];
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
        s.peers = PeerSelection::Only(vec!["tor-b".into()]);
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
    }
}
