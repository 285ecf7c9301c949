//! The Adj-RIB-Out (RFC 4271 §3.2), keyed by (prefix, path identifier), and the [`Route`]
//! type both RIBs hand out. The Adj-RIB-In keeps its routes in compact form
//! ([`crate::rib_in::AdjRibIn`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bgp_proto::{Family, NextHop, Nlri, PathAttributes};
use ipnet::IpNet;

/// One route: an NLRI (prefix and, with ADD-PATH, path identifier), its next hop and its
/// path attributes. Attributes are shared: many routes usually carry the same ones, and the
/// UPDATE packer groups routes whose attributes and next hop are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// The prefix and, with ADD-PATH (RFC 7911), its path identifier.
    pub nlri: Nlri,
    /// The next hop: NEXT_HOP (RFC 4271 §5.1.3) or the MP_REACH_NLRI one (RFC 4760 §3).
    pub next_hop: NextHop,
    /// The path attributes, shared with the other routes that carry the same ones.
    pub attrs: Arc<PathAttributes>,
}

impl Route {
    /// The address family of the route's prefix (unicast).
    pub fn family(&self) -> Family {
        family_of(&self.nlri)
    }
}

/// The unicast family of an NLRI, prefix or address (owned by `bgp-proto`).
pub use bgp_proto::family_of;

/// A set of routes keyed by NLRI (prefix, path id), iterated in prefix order.
///
/// Routes usually come in large groups sharing one next hop and one attribute set (a
/// speaker's 100k service routes, or the prefixes of one received UPDATE), so the set keeps
/// each distinct (next hop, attributes) pair once and the map holds only the NLRI and a
/// pointer: about 40 octets per route. A large batch into a set at least twice its size is
/// merged by rebuilding the map from sorted input, which leaves its nodes full.
#[derive(Debug, Clone, Default)]
pub struct AdjRib {
    routes: BTreeMap<Nlri, Arc<Path>>,
    /// The path stored last: consecutive routes usually share it.
    last: Option<Arc<Path>>,
}

/// What a route carries besides its NLRI; shared by every route with the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    next_hop: NextHop,
    attrs: Arc<PathAttributes>,
}

impl PartialEq for AdjRib {
    fn eq(&self, other: &AdjRib) -> bool {
        self.routes == other.routes
    }
}

impl Eq for AdjRib {}

/// Batches at least this large (and at least half the set's size) are merged by a rebuild.
const REBUILD_BATCH: usize = 512;

impl AdjRib {
    /// An empty Adj-RIB-Out.
    pub fn new() -> AdjRib {
        AdjRib::default()
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True when there is no route.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route stored for `nlri` (a cheap copy: the attributes are shared).
    pub fn get(&self, nlri: &Nlri) -> Option<Route> {
        self.routes.get(nlri).map(|p| route(nlri, p))
    }

    /// True when a route for `nlri` (prefix and path id) is stored.
    pub fn contains(&self, nlri: &Nlri) -> bool {
        self.routes.contains_key(nlri)
    }

    /// Every route, in (prefix, path id) order.
    pub fn iter(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter().map(|(n, p)| route(n, p))
    }

    /// Every NLRI, in (prefix, path id) order.
    pub fn nlri(&self) -> impl Iterator<Item = &Nlri> + '_ {
        self.routes.keys()
    }

    /// True when `nlri` is stored with exactly this next hop and these attributes.
    pub fn holds(&self, nlri: &Nlri, next_hop: &NextHop, attrs: &Arc<PathAttributes>) -> bool {
        self.routes
            .get(nlri)
            .is_some_and(|p| p.next_hop == *next_hop && p.attrs == *attrs)
    }

    /// The routes of one family.
    pub fn family(&self, family: Family) -> impl Iterator<Item = Route> + '_ {
        self.routes
            .iter()
            .filter(move |(n, _)| family_of(n) == family)
            .map(|(n, p)| route(n, p))
    }

    /// Every path for `prefix`, in path id order (`None` first).
    pub fn paths(&self, prefix: IpNet) -> impl Iterator<Item = Route> + '_ {
        let lo = Nlri {
            prefix,
            path_id: None,
        };
        self.routes
            .range(lo..)
            .take_while(move |(k, _)| k.prefix == prefix)
            .map(|(n, p)| route(n, p))
    }

    /// The shared path for (next_hop, attrs): the last one stored when equal, else a new one.
    fn intern(&mut self, next_hop: NextHop, attrs: Arc<PathAttributes>) -> Arc<Path> {
        if let Some(last) = &self.last {
            if last.next_hop == next_hop && last.attrs == attrs {
                return last.clone();
            }
        }
        let path = Arc::new(Path { next_hop, attrs });
        self.last = Some(path.clone());
        path
    }

    /// Inserts or replaces; returns true when the stored route changed.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, route: Route) -> bool {
        let path = self.intern(route.next_hop, route.attrs);
        match self.routes.get(&route.nlri) {
            Some(old) if **old == *path => false,
            _ => {
                self.routes.insert(route.nlri, path);
                true
            }
        }
    }

    /// Inserts or replaces every route; returns the NLRI whose stored route changed, in
    /// input order, or in (prefix, path id) order for a batch at least half the set's size
    /// (which rebuilds the map).
    pub(crate) fn insert_many(&mut self, routes: Vec<Route>) -> Vec<Nlri> {
        let items: Vec<(Nlri, Arc<Path>)> = routes
            .into_iter()
            .map(|r| (r.nlri, self.intern(r.next_hop, r.attrs)))
            .collect();
        self.insert_paths(items)
    }

    /// Inserts or replaces `nlri`, all with one next hop and attribute set; returns the
    /// NLRI whose stored route changed.
    pub(crate) fn insert_shared(
        &mut self,
        next_hop: NextHop,
        attrs: Arc<PathAttributes>,
        nlri: Vec<Nlri>,
    ) -> Vec<Nlri> {
        let path = self.intern(next_hop, attrs);
        if self.routes.is_empty() && nlri.len() >= REBUILD_BATCH {
            // The common bulk case (a session's first table): one sorted build, full nodes.
            let mut nlri = nlri;
            nlri.sort_unstable();
            nlri.dedup();
            self.routes = nlri.iter().map(|n| (*n, path.clone())).collect();
            return nlri;
        }
        self.insert_paths(nlri.into_iter().map(|n| (n, path.clone())).collect())
    }

    fn insert_paths(&mut self, items: Vec<(Nlri, Arc<Path>)>) -> Vec<Nlri> {
        if items.len() >= REBUILD_BATCH && items.len() >= self.routes.len() / 2 {
            return self.merge_paths(items);
        }
        let mut changed = Vec::with_capacity(items.len());
        for (nlri, path) in items {
            match self.routes.get_mut(&nlri) {
                Some(old) if **old == *path => {}
                Some(old) => {
                    *old = path;
                    changed.push(nlri);
                }
                None => {
                    self.routes.insert(nlri, path);
                    changed.push(nlri);
                }
            }
        }
        changed
    }

    /// [`AdjRib::insert_paths`] for a batch at least half the set's size: the batch sorted,
    /// then one walk beside the map's entries decides what changed and yields the new
    /// entries in order, and the map is rebuilt from them with full nodes. No lookup per
    /// route. The changed NLRI come out in (prefix, path id) order.
    fn merge_paths(&mut self, mut items: Vec<(Nlri, Arc<Path>)>) -> Vec<Nlri> {
        // Stable sort, then keep the last of equal NLRI (as inserting in order would).
        items.sort_by_key(|a| a.0);
        items.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let mut changed = Vec::with_capacity(items.len());
        let mut merged: Vec<(Nlri, Arc<Path>)> =
            Vec::with_capacity(self.routes.len() + items.len());
        let mut old = std::mem::take(&mut self.routes).into_iter().peekable();
        for (nlri, path) in items {
            while let Some(entry) = old.next_if(|(k, _)| *k < nlri) {
                merged.push(entry);
            }
            match old.next_if(|(k, _)| *k == nlri) {
                Some((k, p)) if *p == *path => merged.push((k, p)),
                _ => {
                    changed.push(nlri);
                    merged.push((nlri, path));
                }
            }
        }
        merged.extend(old);
        // Sorted and unique: `collect` finds the one run and bulk-builds the map. (Its sort
        // buffer is never written for sorted input, so its pages are never touched.)
        self.routes = merged.into_iter().collect();
        changed
    }

    pub(crate) fn remove(&mut self, nlri: &Nlri) -> Option<Route> {
        self.routes.remove(nlri).map(|p| route(nlri, &p))
    }

    pub(crate) fn clear(&mut self) {
        self.routes.clear();
        self.last = None;
    }
}

fn route(nlri: &Nlri, path: &Path) -> Route {
    Route {
        nlri: *nlri,
        next_hop: path.next_hop,
        attrs: path.attrs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn route(i: u32, attrs: &Arc<PathAttributes>, nh: u8) -> Route {
        Route {
            nlri: Nlri {
                prefix: IpNet::V4(
                    ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap(),
                ),
                path_id: None,
            },
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, nh)),
            attrs: attrs.clone(),
        }
    }

    #[test]
    fn insert_many_rebuild_matches_one_by_one_inserts() {
        let a = Arc::new(PathAttributes::default());
        let b = Arc::new(PathAttributes {
            med: Some(7),
            ..PathAttributes::default()
        });
        // Existing routes, then a large batch (rebuild path) with overlaps, a changed
        // route, an unchanged one and an NLRI given twice (the last one wins).
        let mut batch_rib = AdjRib::new();
        let mut single_rib = AdjRib::new();
        let first: Vec<Route> = (0..300).map(|i| route(i * 3, &a, 1)).collect();
        let mut batch: Vec<Route> = (0..2000).rev().map(|i| route(i, &a, 1)).collect();
        batch.push(route(5, &b, 2));
        batch.push(route(7, &a, 9));
        batch.push(route(7, &b, 3));
        for rib in [&mut batch_rib, &mut single_rib] {
            assert_eq!(rib.insert_many(first.clone()).len(), 300);
        }
        let changed = batch_rib.insert_many(batch.clone());
        let mut want_changed = Vec::new();
        for r in batch {
            let n = r.nlri;
            if single_rib.insert(r) {
                want_changed.push(n);
            }
        }
        assert_eq!(batch_rib, single_rib);
        assert_eq!(batch_rib.len(), 2000);
        assert_eq!(batch_rib.get(&route(7, &a, 1).nlri), Some(route(7, &b, 3)));
        assert_eq!(batch_rib.get(&route(5, &a, 1).nlri), Some(route(5, &b, 2)));
        // Every NLRI new or changed is reported (the batch path may report an NLRI that
        // is given twice twice; it never misses one).
        let got: std::collections::BTreeSet<Nlri> = changed.into_iter().collect();
        let want: std::collections::BTreeSet<Nlri> = want_changed.into_iter().collect();
        assert_eq!(got, want);
        assert!(batch_rib.iter().map(|r| r.nlri).is_sorted());
    }

    #[test]
    fn insert_shared_matches_insert_many() {
        let a = Arc::new(PathAttributes::default());
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        for existing in [0u32, 10, 5000] {
            let mut shared = AdjRib::new();
            let mut many = AdjRib::new();
            let first: Vec<Route> = (0..existing).map(|i| route(i * 2, &a, 2)).collect();
            shared.insert_many(first.clone());
            many.insert_many(first);
            let nlri: Vec<Nlri> = (0..3000).rev().map(|i| route(i, &a, 1).nlri).collect();
            let routes: Vec<Route> = (0..3000).rev().map(|i| route(i, &a, 1)).collect();
            let c1: std::collections::BTreeSet<Nlri> = shared
                .insert_shared(nh, a.clone(), nlri)
                .into_iter()
                .collect();
            let c2: std::collections::BTreeSet<Nlri> =
                many.insert_many(routes).into_iter().collect();
            assert_eq!(shared, many, "{existing} routes before");
            assert_eq!(c1, c2, "{existing} routes before");
            assert_eq!(shared.len(), 3000 + existing.saturating_sub(1500) as usize);
        }
    }

    #[test]
    fn routes_with_equal_paths_share_one() {
        let a = Arc::new(PathAttributes::default());
        let mut rib = AdjRib::new();
        rib.insert_many((0..1000).map(|i| route(i, &a, 1)).collect());
        let first = rib.routes.values().next().unwrap().clone();
        assert!(rib.routes.values().all(|p| Arc::ptr_eq(p, &first)));
        assert!(rib.holds(
            &route(3, &a, 1).nlri,
            &NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            &a
        ));
        assert!(!rib.holds(
            &route(3, &a, 1).nlri,
            &NextHop::V4(Ipv4Addr::new(192, 0, 2, 2)),
            &a
        ));
    }
}
