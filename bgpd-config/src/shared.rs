//! One allocation per distinct list: services repeat the same next hops, communities and
//! peers, so validation keeps each distinct list once and hands out shared slices.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use bgp_proto::{Community, LargeCommunity};

use crate::NextHopSpec;

/// Distinct lists seen so far, of one element type.
pub(crate) struct Interner<T> {
    seen: HashSet<Arc<[T]>>,
    /// The list handed out last: consecutive services mostly repeat it, and comparing with it
    /// is cheaper than hashing.
    last: Option<Arc<[T]>>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            seen: HashSet::new(),
            last: None,
        }
    }
}

impl<T: Hash + Eq + Clone> Interner<T> {
    /// The shared copy of `list`, made on first sight.
    pub fn share(&mut self, list: &[T]) -> Arc<[T]> {
        if let Some(last) = self.last.as_ref().filter(|l| ***l == *list) {
            return last.clone();
        }
        let shared = match self.seen.get(list) {
            Some(shared) => shared.clone(),
            None => {
                let shared: Arc<[T]> = Arc::from(list);
                self.seen.insert(shared.clone());
                shared
            }
        };
        self.last = Some(shared.clone());
        shared
    }

    /// [`Interner::share`] for borrowed items (`&str` for `String`): the owned list is only
    /// made when `list` is not the one handed out last.
    pub fn share_borrowed<Q>(&mut self, list: &[&Q]) -> Arc<[T]>
    where
        Q: ?Sized + PartialEq + ToOwned<Owned = T>,
        T: std::borrow::Borrow<Q>,
    {
        if let Some(last) = self
            .last
            .as_ref()
            .filter(|l| l.len() == list.len() && l.iter().zip(list).all(|(a, b)| a.borrow() == *b))
        {
            return last.clone();
        }
        let owned: Vec<T> = list.iter().map(|q| (*q).to_owned()).collect();
        self.share(&owned)
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
        // Back to a list seen before, not the last one: still the first copy.
        let a2 = i.share(&[Community(1), Community(2)]);
        assert!(Arc::ptr_eq(&a, &a2));
    }

    #[test]
    fn borrowed_lists_share_the_owned_copy() {
        let mut i: Interner<String> = Interner::default();
        let a = i.share_borrowed(&["x", "y"]);
        let b = i.share_borrowed(&["x", "y"]);
        let c = i.share_borrowed(&["y"]);
        let d = i.share_borrowed(&["x", "y"]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, &d));
        assert_eq!(&*c, &["y".to_string()]);
    }
}
