//! One allocation per distinct list: services repeat the same next hops, communities and
//! peers, so validation keeps each distinct list once and hands out shared slices.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use bgp_proto::{Community, LargeCommunity};

use crate::config::NextHopSpec;

/// Distinct lists seen so far, of one element type.
pub(crate) struct Interner<T> {
    seen: HashSet<Arc<[T]>>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            seen: HashSet::new(),
        }
    }
}

impl<T: Hash + Eq + Clone> Interner<T> {
    /// The shared copy of `list`, made on first sight.
    pub fn share(&mut self, list: &[T]) -> Arc<[T]> {
        if let Some(shared) = self.seen.get(list) {
            return shared.clone();
        }
        let shared: Arc<[T]> = Arc::from(list);
        self.seen.insert(shared.clone());
        shared
    }
}

/// The interners of a service's lists, kept while one file is validated.
#[derive(Default)]
pub(crate) struct SharedLists {
    pub nexthops: Interner<NextHopSpec>,
    pub communities: Interner<Community>,
    pub large_communities: Interner<LargeCommunity>,
    pub peers: Interner<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_share_one_allocation() {
        let mut i = Interner::default();
        let a = i.share(&[Community(1), Community(2)]);
        let b = i.share(&[Community(1), Community(2)]);
        let c = i.share(&[Community(2), Community(1)]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, &[Community(2), Community(1)]);
        let e1 = i.share(&[]);
        let e2 = i.share(&[]);
        assert!(Arc::ptr_eq(&e1, &e2));
    }
}
