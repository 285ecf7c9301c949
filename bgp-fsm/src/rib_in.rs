//! The Adj-RIB-In (RFC 4271 §3.2): the routes received from the peer that the import policy
//! kept, keyed by (prefix, path identifier), with each distinct path held once in compact form
//! ([`crate::compact`]).
//!
//! A full table can hold a million routes with as many distinct paths, so the store is built
//! for size: one map entry (the NLRI and a pointer) per route, and one block per distinct
//! (next hop, attributes) of about the size of its values. Routes of one UPDATE share their
//! block, and so do consecutive UPDATEs with equal paths. Reading a route decodes its path
//! into a fresh [`Route`]; the session reads routes back only when asked (control queries,
//! graceful restart, policy changes), never on the receive path.

use std::collections::BTreeMap;
use std::sync::Arc;

use bgp_proto::{Family, NextHop, Nlri, PathAttributes};

use crate::rib::{family_of, Route};

/// Received routes kept by the session; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct AdjRibIn {
    routes: BTreeMap<Nlri, Arc<[u8]>>,
    /// The path stored last, with the attributes it was made from: the routes of one
    /// UPDATE arrive one after another with the same `Arc<PathAttributes>`.
    last: Option<Last>,
    /// Scratch for encoding a path before it is compared or stored.
    scratch: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Last {
    next_hop: NextHop,
    attrs: Arc<PathAttributes>,
    stored: Arc<[u8]>,
}

impl PartialEq for AdjRibIn {
    fn eq(&self, other: &AdjRibIn) -> bool {
        self.routes == other.routes
    }
}

impl Eq for AdjRibIn {}

impl AdjRibIn {
    /// An empty Adj-RIB-In.
    pub fn new() -> AdjRibIn {
        AdjRibIn::default()
    }

    /// The number of routes kept (stale ones included).
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether no route is kept.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether a route is kept for `nlri` (prefix and path id).
    pub fn contains(&self, nlri: &Nlri) -> bool {
        self.routes.contains_key(nlri)
    }

    /// The route stored for `nlri`, decoded.
    pub fn get(&self, nlri: &Nlri) -> Option<Route> {
        self.routes.get(nlri).map(|p| route(nlri, p))
    }

    /// Every route, in (prefix, path id) order, decoded one at a time.
    pub fn iter(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter().map(|(n, p)| route(n, p))
    }

    /// Every NLRI, in (prefix, path id) order (nothing decoded).
    pub fn nlri(&self) -> impl Iterator<Item = &Nlri> + '_ {
        self.routes.keys()
    }

    /// The routes of one family, decoded.
    pub fn family(&self, family: Family) -> impl Iterator<Item = Route> + '_ {
        self.routes
            .iter()
            .filter(move |(n, _)| family_of(n) == family)
            .map(|(n, p)| route(n, p))
    }

    /// Octets held by the distinct paths (each shared block counted once), for tests and
    /// figures.
    pub fn path_octets(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        self.routes
            .values()
            .filter(|p| seen.insert(Arc::as_ptr(p) as *const u8))
            .map(|p| p.len())
            .sum()
    }

    /// Inserts or replaces the route for `nlri`.
    pub(crate) fn insert(&mut self, nlri: Nlri, next_hop: NextHop, attrs: &Arc<PathAttributes>) {
        let stored = self.intern(next_hop, attrs);
        match self.routes.get_mut(&nlri) {
            Some(old) => *old = stored,
            None => {
                self.routes.insert(nlri, stored);
            }
        }
    }

    /// Removes the route for `nlri`; true when there was one.
    pub(crate) fn remove(&mut self, nlri: &Nlri) -> bool {
        self.routes.remove(nlri).is_some()
    }

    /// Drops every route, and the map's memory with them.
    pub(crate) fn clear(&mut self) {
        *self = AdjRibIn::default();
    }

    /// The block for (next hop, attrs): the last one when it holds the same path, else a
    /// new one.
    fn intern(&mut self, next_hop: NextHop, attrs: &Arc<PathAttributes>) -> Arc<[u8]> {
        if let Some(last) = &self.last {
            if last.next_hop == next_hop && Arc::ptr_eq(&last.attrs, attrs) {
                return last.stored.clone();
            }
        }
        self.scratch.clear();
        crate::compact::encode(&next_hop, attrs, &mut self.scratch);
        let stored = match &self.last {
            Some(last) if *last.stored == *self.scratch => last.stored.clone(),
            _ => Arc::from(self.scratch.as_slice()),
        };
        self.last = Some(Last {
            next_hop,
            attrs: attrs.clone(),
            stored: stored.clone(),
        });
        stored
    }
}

fn route(nlri: &Nlri, stored: &[u8]) -> Route {
    // The block was written by compact::encode, whose output always decodes (tested there);
    // the fallback only keeps this total.
    let (next_hop, attrs) = crate::compact::decode(stored).unwrap_or_else(|| {
        debug_assert!(false, "undecodable Adj-RIB-In entry for {nlri}");
        (
            NextHop::V4(std::net::Ipv4Addr::UNSPECIFIED),
            PathAttributes::default(),
        )
    });
    Route {
        nlri: *nlri,
        next_hop,
        attrs: Arc::new(attrs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::AdjRib;
    use bgp_proto::{AsPath, Community};
    use ipnet::IpNet;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// One step against both stores.
    #[derive(Debug, Clone)]
    enum Op {
        /// Insert NLRI `n` with path `p` (of a small set, so that paths repeat).
        Insert(u16, u8),
        Remove(u16),
        Clear,
    }

    fn nlri(n: u16) -> Nlri {
        // Low bits pick the family and whether an ADD-PATH path id is present.
        let prefix = if n & 1 == 0 {
            IpNet::new(Ipv4Addr::new(10, (n >> 8) as u8, n as u8, 0).into(), 24).unwrap()
        } else {
            IpNet::new(
                Ipv6Addr::new(0x2001, 0xdb8, n, 0, 0, 0, 0, 0).into(),
                48 + (n % 16) as u8,
            )
            .unwrap()
            .trunc()
        };
        Nlri {
            prefix,
            path_id: (n & 2 != 0).then_some(u32::from(n >> 2) % 4),
        }
    }

    fn path(p: u8) -> (NextHop, Arc<PathAttributes>) {
        let nh = if p.is_multiple_of(3) {
            NextHop::V6 {
                global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(p)),
                link_local: p
                    .is_multiple_of(2)
                    .then(|| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            }
        } else {
            NextHop::V4(Ipv4Addr::new(192, 0, 2, p))
        };
        let attrs = PathAttributes {
            as_path: AsPath::from_sequence((0..u32::from(p % 5)).map(|i| 64512 + i)),
            med: (p % 2 == 1).then_some(u32::from(p)),
            communities: (0..u32::from(p % 4)).map(Community).collect(),
            ..PathAttributes::default()
        };
        (nh, Arc::new(attrs))
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u16..300, 0u8..12).prop_map(|(n, p)| Op::Insert(n, p)),
            3 => (0u16..300).prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// The compact store answers exactly as the structured Adj-RIB (the one still used
        /// for Adj-RIB-Out) does: same routes, attributes, next hops and path ids back, in
        /// the same order, after any mix of announcements, withdrawals and flushes.
        #[test]
        fn compact_store_answers_like_the_structured_one(ops in prop::collection::vec(op(), 1..400)) {
            let mut compact = AdjRibIn::new();
            let mut plain = AdjRib::new();
            // The same Arc for repeated paths, as the routes of one UPDATE share one.
            let paths: Vec<_> = (0..12).map(path).collect();
            for op in ops {
                match op {
                    Op::Insert(n, p) => {
                        let (nh, attrs) = &paths[usize::from(p)];
                        compact.insert(nlri(n), *nh, attrs);
                        plain.insert(Route { nlri: nlri(n), next_hop: *nh, attrs: attrs.clone() });
                    }
                    Op::Remove(n) => {
                        prop_assert_eq!(compact.remove(&nlri(n)), plain.remove(&nlri(n)).is_some());
                    }
                    Op::Clear => {
                        compact.clear();
                        plain.clear();
                    }
                }
                prop_assert_eq!(compact.len(), plain.len());
            }
            prop_assert_eq!(compact.iter().collect::<Vec<_>>(), plain.iter().collect::<Vec<_>>());
            for n in 0..300 {
                prop_assert_eq!(compact.get(&nlri(n)), plain.get(&nlri(n)));
                prop_assert_eq!(compact.contains(&nlri(n)), plain.contains(&nlri(n)));
            }
            for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
                prop_assert_eq!(
                    compact.family(f).collect::<Vec<_>>(),
                    plain.family(f).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn routes_of_one_update_share_one_block() {
        let mut rib = AdjRibIn::new();
        let (nh, attrs) = path(7);
        for n in 0..100 {
            rib.insert(nlri(n * 4), nh, &attrs);
        }
        // A different Arc holding equal attributes (the next UPDATE with the same path).
        let again = Arc::new((*attrs).clone());
        for n in 100..200 {
            rib.insert(nlri(n * 4), nh, &again);
        }
        let one = rib.routes.values().next().unwrap().clone();
        assert!(rib.routes.values().all(|p| Arc::ptr_eq(p, &one)));
        assert_eq!(rib.path_octets(), one.len());
        // A replaced route takes the new path; the old block stays with the others.
        let (nh2, attrs2) = path(8);
        rib.insert(nlri(0), nh2, &attrs2);
        assert_eq!(rib.get(&nlri(0)).unwrap().attrs, attrs2);
        assert_eq!(rib.get(&nlri(4)).unwrap().attrs, attrs);
    }
}
