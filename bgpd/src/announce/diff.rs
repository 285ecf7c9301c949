//! From two route sets (or an Adj-RIB-Out and a route set) to the UPDATE work, and its
//! summary for event lines.

use super::*;

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
    /// The family of every NLRI in the group.
    pub family: Family,
    /// The NEXT_HOP they share.
    pub next_hop: NextHop,
    /// The path attributes they share.
    pub attrs: Arc<PathAttributes>,
    /// The NLRI.
    pub nlri: Vec<Nlri>,
}

impl Diff {
    /// Whether there is nothing to announce or withdraw.
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }

    /// Number of NLRI announced.
    pub fn announced_count(&self) -> usize {
        self.announce.iter().map(|g| g.nlri.len()).sum()
    }

    /// What this diff, which leads to `new`, announces and withdraws, counted: the peer task
    /// publishes it with what it applied (event lines, `bgpctl`).
    pub fn summary(&self, new: &RouteSet) -> ChangeSummary {
        let mut out = ChangeSummary {
            groups: self.announce.len(),
            announced: self.announced_count(),
            withdrawn: self.withdraw.len(),
            ..ChangeSummary::default()
        };
        // Each group lists its NLRI in order; groups interleave, so merge them unless one.
        match self.announce.as_slice() {
            [] => {}
            [one] => one
                .nlri
                .iter()
                .for_each(|n| out.announced_prefixes.add(n.prefix)),
            groups => {
                let mut all: Vec<IpNet> = groups
                    .iter()
                    .flat_map(|g| g.nlri.iter().map(|n| n.prefix))
                    .collect();
                all.sort_unstable();
                all.into_iter().for_each(|p| out.announced_prefixes.add(p));
            }
        }
        for nlri in &self.withdraw {
            if !new.has_prefix(nlri.prefix) {
                out.withdrawn_prefixes.add(nlri.prefix);
            }
        }
        out
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
    /// Counts `prefix` unless it equals the previous one.
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

    /// How many distinct prefixes were added.
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
    /// NLRI withdrawn.
    pub withdrawn: usize,
    /// Prefixes announced.
    pub announced_prefixes: PrefixSummary,
    /// Prefixes withdrawn with no path left.
    pub withdrawn_prefixes: PrefixSummary,
}

impl ChangeSummary {
    /// Whether nothing was announced or withdrawn.
    pub fn is_empty(&self) -> bool {
        self.announced == 0 && self.withdrawn == 0
    }
}

/// Summarizes `diff(old, new)`.
pub fn summarize(old: &RouteSet, new: &RouteSet) -> ChangeSummary {
    diff(old, new).summary(new)
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
