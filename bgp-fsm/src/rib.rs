//! Adj-RIB-In and Adj-RIB-Out (RFC 4271 §3.2), keyed by (prefix, path identifier).

use std::collections::BTreeMap;
use std::sync::Arc;

use bgp_proto::{Afi, Family, NextHop, Nlri, PathAttributes, Safi};
use ipnet::IpNet;

/// One route: an NLRI (prefix and, with ADD-PATH, path identifier), its next hop and its
/// path attributes. Attributes are shared: many routes usually carry the same ones, and the
/// UPDATE packer groups routes whose attributes and next hop are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub nlri: Nlri,
    pub next_hop: NextHop,
    pub attrs: Arc<PathAttributes>,
}

impl Route {
    /// The address family of the route's prefix (unicast).
    pub fn family(&self) -> Family {
        family_of(&self.nlri)
    }
}

/// The unicast family of an NLRI's prefix.
pub fn family_of(nlri: &Nlri) -> Family {
    match nlri.prefix {
        IpNet::V4(_) => Family::new(Afi::IPV4, Safi::UNICAST),
        IpNet::V6(_) => Family::new(Afi::IPV6, Safi::UNICAST),
    }
}

/// A set of routes keyed by NLRI (prefix, path id), iterated in prefix order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdjRib {
    routes: BTreeMap<Nlri, Route>,
}

impl AdjRib {
    pub fn new() -> AdjRib {
        AdjRib::default()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn get(&self, nlri: &Nlri) -> Option<&Route> {
        self.routes.get(nlri)
    }

    pub fn contains(&self, nlri: &Nlri) -> bool {
        self.routes.contains_key(nlri)
    }

    /// Every route, in (prefix, path id) order.
    pub fn iter(&self) -> impl Iterator<Item = &Route> + '_ {
        self.routes.values()
    }

    /// The routes of one family.
    pub fn family(&self, family: Family) -> impl Iterator<Item = &Route> + '_ {
        self.routes.values().filter(move |r| r.family() == family)
    }

    /// Every path for `prefix`, in path id order (`None` first).
    pub fn paths(&self, prefix: IpNet) -> impl Iterator<Item = &Route> + '_ {
        let lo = Nlri {
            prefix,
            path_id: None,
        };
        self.routes
            .range(lo..)
            .take_while(move |(k, _)| k.prefix == prefix)
            .map(|(_, r)| r)
    }

    /// Inserts or replaces; returns true when the stored route changed.
    pub(crate) fn insert(&mut self, route: Route) -> bool {
        match self.routes.get(&route.nlri) {
            Some(old) if *old == route => false,
            _ => {
                self.routes.insert(route.nlri, route);
                true
            }
        }
    }

    pub(crate) fn remove(&mut self, nlri: &Nlri) -> Option<Route> {
        self.routes.remove(nlri)
    }

    pub(crate) fn clear(&mut self) {
        self.routes.clear();
    }
}
