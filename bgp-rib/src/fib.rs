//! The FIB plan, the pure half of installing the Loc-RIB's forwarding sets in the Linux kernel
//! as next-hop objects and (resilient) groups: what the caller wants (a next-hop set per
//! prefix, as [`crate::FibChange`]s give it) and what the kernel holds (a mirror of the
//! caller's own next hops, groups and routes) in, an ordered list of kernel operations out. No
//! IO, no clock: the caller (bgpd's FIB thread) resolves next hops, runs the operations over
//! netlink and updates the mirror with [`KernelState::apply`] after each one the kernel
//! accepted.
//!
//! # Groups and buckets
//! A prefix always points at a next-hop group (even with one member, so that a second member can
//! join in place). Groups are shared: prefixes with the same set of (next hop, weight) use the
//! same group. What keeps connections alive on a resilient group is that the group is changed in
//! place (`RTM_NEWNEXTHOP` with `NLM_F_REPLACE`), never deleted and added again: the kernel then
//! moves only the buckets of a leaving member, and gives a joining member idle buckets only.
//!
//! In one batch of changes, for each group whose users change:
//! - when no user keeps the group's old set (the usual case: a node dies or joins, and every
//!   service on that set changes with it), the group *morphs*: it is replaced in place with the
//!   set that most of its users want. Those users keep their route and their buckets. The
//!   others (a minority wanting another set) move to a group with their set.
//! - when some users keep the old set, the group stays as it is for them, and the users that
//!   change move to a group with their new set (an existing one, or a new one).
//!
//! The trade-off: prefixes whose set did not change never see a kernel change; prefixes that
//! leave a group that others keep get the bucket layout of another group, so their connections
//! may rehash. That is why a change that concerns many prefixes (a node leaving) must be given as
//! one batch: given prefix by prefix, the first prefix would leave a group the others still use.
//! A group that morphs keeps its buckets even when another group already has the new set; the
//! two then have the same members (two bucket layouts are worth more than one group less).
//!
//! Groups of a type or bucket count other than configured cannot be changed in place (the kernel
//! refuses: "Can not change number of buckets of a resilient nexthop group"): their users move to
//! new groups, which happens only after the configuration changed between two runs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

/// How groups are built (bgpd's `[fib] resilient`, `buckets`, `idle_timer`,
/// `unbalanced_timer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// `NEXTHOP_GRP_TYPE_MPATH`: hash-threshold; a change of members rehashes flows.
    Multipath,
    /// `NEXTHOP_GRP_TYPE_RES`: a fixed table of buckets (kernel >= 5.13).
    Resilient {
        /// Size of the bucket table (`[fib] buckets`); fixed for the group's life.
        buckets: u16,
        /// Seconds a bucket must be idle before it may move to another member.
        idle_timer: u32,
        /// Seconds a group may stay unbalanced before busy buckets move too; 0 = never.
        unbalanced_timer: u32,
    },
}

impl GroupKind {
    /// Whether a group of kind `self` can be replaced in place by one of kind `other`: same
    /// type and, for resilient groups, the same number of buckets.
    pub fn same_table(self, other: GroupKind) -> bool {
        match (self, other) {
            (GroupKind::Multipath, GroupKind::Multipath) => true,
            (GroupKind::Resilient { buckets: a, .. }, GroupKind::Resilient { buckets: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}

/// A next-hop object id (`NHA_ID`), shared by single next hops and groups in one namespace.
pub type NhId = u32;

/// The first id bgpd gives its next hops and groups: high, away from the small ids that
/// `ip nexthop` users and other daemons take first. Ids in use by anyone are skipped.
pub const FIRST_ID: NhId = 1 << 30;

/// A group member weight as the kernel takes it in `struct nexthop_grp`: 1..=256 (the octet
/// holds weight - 1; the high octet of newer kernels is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Weight(u16);

impl Weight {
    /// The smallest weight.
    pub const MIN: Weight = Weight(1);
    /// The largest weight.
    pub const MAX: Weight = Weight(256);

    /// `None` outside 1..=256.
    pub fn new(w: u32) -> Option<Weight> {
        (1..=256).contains(&w).then_some(Weight(w as u16))
    }

    /// The weight, 1..=256.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// A prefix's next hops as the kernel will weigh them: sorted by address, each address once,
/// weights reduced to the smallest integers with the same ratios, at most 256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHopSet(Vec<(IpAddr, Weight)>);

impl NextHopSet {
    /// Normalises `(next hop, weight)` pairs. Weights are relative: an address given twice
    /// has the sum, 0 counts as the smallest weight, ratios beyond 256:1 are cut to 256:1.
    /// `None` when `hops` is empty.
    pub fn new(hops: &[(IpAddr, u32)]) -> Option<NextHopSet> {
        let mut merged: BTreeMap<IpAddr, u64> = BTreeMap::new();
        for &(addr, w) in hops {
            *merged.entry(addr).or_default() += u64::from(w.max(1));
        }
        let max = *merged.values().max()?;
        let scaled: Vec<(IpAddr, u64)> = merged
            .into_iter()
            .map(|(a, w)| {
                let w = if max > 256 {
                    (w * 256 + max / 2) / max
                } else {
                    w
                };
                (a, w.clamp(1, 256))
            })
            .collect();
        let g = scaled.iter().fold(0, |g, &(_, w)| gcd(g, w)).max(1);
        Some(NextHopSet(
            scaled
                .into_iter()
                .map(|(a, w)| (a, Weight((w / g) as u16)))
                .collect(),
        ))
    }

    /// The members, sorted by address.
    pub fn members(&self) -> &[(IpAddr, Weight)] {
        &self.0
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// One of our next-hop objects with a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelNexthop {
    /// The next hop's address (`NHA_GATEWAY`).
    pub gateway: IpAddr,
    /// The device (`NHA_OIF`).
    pub oif: u32,
}

/// One of our next-hop groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelGroup {
    /// Member ids and weights, in the kernel's order.
    pub members: Vec<(NhId, Weight)>,
    /// Multipath or resilient, with the resilient table's parameters.
    pub kind: GroupKind,
}

/// What one of our routes points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    /// `RTA_NH_ID` of one of our groups.
    Group(NhId),
    /// Anything else (a gateway route, a single next hop, a group we do not fully know): a
    /// leftover that is replaced or removed, never adopted. `nh` is the object it points at,
    /// kept alive until the route is gone (deleting it would make the kernel drop the route).
    Other {
        /// The next-hop object it points at, if any.
        nh: Option<NhId>,
    },
}

/// The mirror of the kernel objects that carry our protocol number in our table, plus the ids
/// that others use (never reused, never touched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelState {
    /// Our next-hop objects with a gateway, by id.
    pub nexthops: BTreeMap<NhId, KernelNexthop>,
    /// Our next-hop groups, by id.
    pub groups: BTreeMap<NhId, KernelGroup>,
    /// Our routes, by prefix.
    pub routes: BTreeMap<IpNet, RouteTarget>,
    /// Next-hop ids used by others: never reused, never touched.
    pub foreign_ids: BTreeSet<NhId>,
}

/// One kernel operation, in the order of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `RTM_NEWNEXTHOP`: a next-hop object with a gateway.
    AddNexthop {
        /// The new object's id.
        id: NhId,
        /// The next hop's address (`NHA_GATEWAY`).
        gateway: IpAddr,
        /// The device (`NHA_OIF`).
        oif: u32,
    },
    /// A group changed in place: buckets of members that stay do not move.
    ReplaceGroup {
        /// The group's id.
        id: NhId,
        /// Member ids and weights.
        members: Vec<(NhId, Weight)>,
        /// Multipath or resilient (unchanged: see [`GroupKind::same_table`]).
        kind: GroupKind,
    },
    /// `RTM_NEWNEXTHOP` with `NHA_GROUP`: a new group.
    AddGroup {
        /// The new group's id.
        id: NhId,
        /// Member ids and weights.
        members: Vec<(NhId, Weight)>,
        /// Multipath or resilient.
        kind: GroupKind,
    },
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_REPLACE`: one atomic switch.
    ReplaceRoute {
        /// The route's prefix.
        prefix: IpNet,
        /// The group it points at (`RTA_NH_ID`).
        group: NhId,
    },
    /// `RTM_DELROUTE`: remove one of our routes.
    DelRoute {
        /// The route's prefix.
        prefix: IpNet,
    },
    /// `RTM_DELNEXTHOP` of a group no route uses any more.
    DelGroup {
        /// The group's id.
        id: NhId,
    },
    /// `RTM_DELNEXTHOP` of a next-hop object no group uses any more.
    DelNexthop {
        /// The object's id.
        id: NhId,
    },
}

/// Why a prefix's change was not planned; the prefix stays as it is in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<E> {
    /// The prefix left as it is.
    pub prefix: IpNet,
    /// The next hop that could not be programmed.
    pub next_hop: IpAddr,
    /// Why.
    pub error: E,
}

/// The output of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<E> {
    /// Kernel operations, in the order they must be sent.
    pub ops: Vec<Op>,
    /// Prefixes whose change was not planned.
    pub refused: Vec<Refused<E>>,
}

/// The device of a next hop that has no next-hop object yet, or why it cannot have one.
pub type Resolution<E> = Result<u32, E>;

impl KernelState {
    /// The set a group stands for, from its members' gateways; `None` when a member is unknown.
    pub fn group_set(&self, id: NhId) -> Option<NextHopSet> {
        let g = self.groups.get(&id)?;
        let mut v = Vec::with_capacity(g.members.len());
        for (m, w) in &g.members {
            v.push((self.nexthops.get(m)?.gateway, *w));
        }
        v.sort();
        Some(NextHopSet(v))
    }

    /// The set a prefix has in the kernel now.
    pub fn route_set(&self, prefix: &IpNet) -> Option<NextHopSet> {
        match self.routes.get(prefix)? {
            RouteTarget::Group(id) => self.group_set(*id),
            RouteTarget::Other { .. } => None,
        }
    }

    /// Our next hop for `gateway` (the lowest id when leftovers gave several).
    pub fn nexthop_for(&self, gateway: IpAddr) -> Option<NhId> {
        self.nexthops
            .iter()
            .find(|(_, n)| n.gateway == gateway)
            .map(|(id, _)| *id)
    }

    /// The gateways of `changes` that have no next-hop object yet: the caller resolves these
    /// (a route lookup) before [`plan`].
    pub fn unresolved<'a>(
        &self,
        changes: impl IntoIterator<Item = &'a Option<NextHopSet>>,
    ) -> BTreeSet<IpAddr> {
        changes
            .into_iter()
            .flatten()
            .flat_map(|s| s.members().iter().map(|(a, _)| *a))
            .filter(|a| self.nexthop_for(*a).is_none())
            .collect()
    }

    /// Records an operation the kernel accepted.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::AddNexthop { id, gateway, oif } => {
                self.nexthops.insert(
                    *id,
                    KernelNexthop {
                        gateway: *gateway,
                        oif: *oif,
                    },
                );
            }
            Op::ReplaceGroup { id, members, kind } | Op::AddGroup { id, members, kind } => {
                self.groups.insert(
                    *id,
                    KernelGroup {
                        members: members.clone(),
                        kind: *kind,
                    },
                );
            }
            Op::ReplaceRoute { prefix, group } => {
                self.routes.insert(*prefix, RouteTarget::Group(*group));
            }
            Op::DelRoute { prefix } => {
                self.routes.remove(prefix);
            }
            Op::DelGroup { id } => {
                self.groups.remove(id);
            }
            Op::DelNexthop { id } => {
                self.nexthops.remove(id);
                // The kernel drops a deleted next hop from every group that held it.
                for g in self.groups.values_mut() {
                    g.members.retain(|(m, _)| m != id);
                }
            }
        }
    }

    /// Whether a route points at object `id`.
    pub fn group_in_use(&self, id: NhId) -> bool {
        self.routes
            .values()
            .any(|t| *t == RouteTarget::Group(id) || *t == RouteTarget::Other { nh: Some(id) })
    }

    /// Whether a group holds next hop `id`, or a route points at it.
    pub fn nexthop_in_use(&self, id: NhId) -> bool {
        self.group_in_use(id)
            || self
                .groups
                .values()
                .any(|g| g.members.iter().any(|(m, _)| *m == id))
    }

    /// The kind of our group `id`.
    pub fn group_kind(&self, id: NhId) -> Option<GroupKind> {
        self.groups.get(&id).map(|g| g.kind)
    }

    fn id_taken(&self, id: NhId) -> bool {
        self.nexthops.contains_key(&id)
            || self.groups.contains_key(&id)
            || self.foreign_ids.contains(&id)
    }
}

/// Plans `changes` (prefix -> wanted set, `None` = remove) against `state`. Groups are built as
/// `kind`. `resolved` holds the device of every gateway in [`KernelState::unresolved`]; a prefix
/// with a gateway that did not resolve is refused and left as it is. Unused groups and next
/// hops of ours are deleted last, so a plan also collects leftovers.
pub fn plan<E: Clone>(
    state: &KernelState,
    kind: GroupKind,
    changes: &BTreeMap<IpNet, Option<NextHopSet>>,
    resolved: &BTreeMap<IpAddr, Resolution<E>>,
) -> Plan<E> {
    let mut refused = Vec::new();
    // The wanted set of every prefix that changes, after refusals and no-ops.
    let mut wanted: BTreeMap<IpNet, Option<NextHopSet>> = BTreeMap::new();
    for (prefix, set) in changes {
        if let Some(s) = set {
            let bad = s.members().iter().find_map(|(a, _)| {
                if state.nexthop_for(*a).is_some() {
                    return None;
                }
                match resolved.get(a) {
                    Some(Ok(_)) => None,
                    Some(Err(e)) => Some((*a, Some(e.clone()))),
                    None => Some((*a, None)),
                }
            });
            if let Some((next_hop, error)) = bad {
                // A gateway the caller did not resolve cannot be planned either; it is a
                // caller bug, reported as the first refusal's error when there is one.
                if let Some(error) = error {
                    refused.push(Refused {
                        prefix: *prefix,
                        next_hop,
                        error,
                    });
                }
                continue;
            }
        }
        let current = state.route_set(prefix);
        let usable = match state.routes.get(prefix) {
            Some(RouteTarget::Group(id)) => {
                state.group_kind(*id).is_some_and(|k| k.same_table(kind))
            }
            _ => true,
        };
        if current == *set && usable && (set.is_some() || !state.routes.contains_key(prefix)) {
            continue;
        }
        wanted.insert(*prefix, set.clone());
    }
    // Users of groups that cannot be kept (another type or bucket count) move too.
    for (prefix, target) in &state.routes {
        if let RouteTarget::Group(id) = target {
            let keep = state.group_kind(*id).is_some_and(|k| k.same_table(kind));
            if !keep && !wanted.contains_key(prefix) {
                if refused.iter().any(|r: &Refused<E>| r.prefix == *prefix) {
                    continue;
                }
                wanted.insert(*prefix, state.group_set(*id));
            }
        }
    }

    // Users per group, and which groups morph into what.
    let mut users: BTreeMap<NhId, Vec<IpNet>> = BTreeMap::new();
    for (prefix, target) in &state.routes {
        if let RouteTarget::Group(id) = target {
            users.entry(*id).or_default().push(*prefix);
        }
    }
    // Final set of every group that survives the batch.
    let mut final_set: BTreeMap<NhId, NextHopSet> = BTreeMap::new();
    let mut morphs: BTreeMap<NhId, NextHopSet> = BTreeMap::new();
    for (id, group) in &state.groups {
        let Some(set) = state.group_set(*id) else {
            continue;
        };
        let us = users.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let staying = us.iter().any(|p| !wanted.contains_key(p));
        if staying {
            final_set.insert(*id, set);
            continue;
        }
        if !group.kind.same_table(kind) {
            continue;
        }
        // Largest cohort of users wanting the same new set (ties: the smallest set).
        let mut cohorts: BTreeMap<&NextHopSet, usize> = BTreeMap::new();
        for p in us {
            if let Some(Some(s)) = wanted.get(p) {
                *cohorts.entry(s).or_default() += 1;
            }
        }
        let best = cohorts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(s, _)| (*s).clone());
        if let Some(new) = best {
            final_set.insert(*id, new.clone());
            morphs.insert(*id, new);
        }
    }

    // Next hops: existing ones by gateway, new ones with fresh ids.
    let mut next_id = FIRST_ID;
    let mut fresh_id = |taken: &dyn Fn(NhId) -> bool| -> NhId {
        while state.id_taken(next_id) || taken(next_id) {
            next_id += 1;
        }
        next_id += 1;
        next_id - 1
    };
    let mut new_ids: BTreeSet<NhId> = BTreeSet::new();
    let mut new_nexthops: BTreeMap<IpAddr, NhId> = BTreeMap::new();
    let mut add_nexthops = Vec::new();
    let mut member_ids = |set: &NextHopSet,
                          new_ids: &mut BTreeSet<NhId>,
                          fresh: &mut dyn FnMut(&BTreeSet<NhId>) -> NhId|
     -> Vec<(NhId, Weight)> {
        set.members()
            .iter()
            .map(|(a, w)| {
                let id = match state
                    .nexthop_for(*a)
                    .or_else(|| new_nexthops.get(a).copied())
                {
                    Some(id) => id,
                    None => {
                        let id = fresh(new_ids);
                        new_ids.insert(id);
                        new_nexthops.insert(*a, id);
                        let oif = match resolved.get(a) {
                            Some(Ok(oif)) => *oif,
                            // Checked above: every gateway of `wanted` is known or resolved.
                            _ => 0,
                        };
                        add_nexthops.push(Op::AddNexthop {
                            id,
                            gateway: *a,
                            oif,
                        });
                        id
                    }
                };
                (id, *w)
            })
            .collect()
    };
    let mut fresh = |taken: &BTreeSet<NhId>| fresh_id(&|id| taken.contains(&id));

    let mut group_ops = Vec::new();
    for (id, set) in &morphs {
        let members = member_ids(set, &mut new_ids, &mut fresh);
        group_ops.push(Op::ReplaceGroup {
            id: *id,
            members,
            kind,
        });
    }
    // Surviving groups with other timers than configured get them in place.
    for id in final_set.keys() {
        let Some(g) = state.groups.get(id) else {
            continue;
        };
        if !morphs.contains_key(id) && g.kind != kind && g.kind.same_table(kind) {
            group_ops.push(Op::ReplaceGroup {
                id: *id,
                members: g.members.clone(),
                kind,
            });
        }
    }

    // Routes: each changing prefix to the group with its set.
    let mut by_set: BTreeMap<NextHopSet, NhId> = BTreeMap::new();
    for (id, set) in final_set.iter().rev() {
        if state.group_kind(*id).is_some_and(|k| k.same_table(kind)) {
            by_set.insert(set.clone(), *id);
        }
    }
    let mut add_groups = Vec::new();
    let mut route_ops = Vec::new();
    // Objects that routes outside the batch keep pointing at.
    let mut final_users: BTreeSet<NhId> = BTreeSet::new();
    for (prefix, target) in &state.routes {
        if wanted.contains_key(prefix) {
            continue;
        }
        match target {
            RouteTarget::Group(id) | RouteTarget::Other { nh: Some(id) } => {
                final_users.insert(*id);
            }
            RouteTarget::Other { nh: None } => {}
        }
    }
    for (prefix, set) in &wanted {
        let Some(set) = set else {
            if state.routes.contains_key(prefix) {
                route_ops.push(Op::DelRoute { prefix: *prefix });
            }
            continue;
        };
        let current = match state.routes.get(prefix) {
            Some(RouteTarget::Group(id)) => Some(*id),
            _ => None,
        };
        if let Some(id) = current {
            if morphs.get(&id) == Some(set) {
                final_users.insert(id);
                continue;
            }
        }
        let group = match by_set.get(set) {
            Some(id) => *id,
            None => {
                let members = member_ids(set, &mut new_ids, &mut fresh);
                let id = fresh(&new_ids);
                new_ids.insert(id);
                add_groups.push(Op::AddGroup { id, members, kind });
                by_set.insert(set.clone(), id);
                id
            }
        };
        final_users.insert(group);
        route_ops.push(Op::ReplaceRoute {
            prefix: *prefix,
            group,
        });
    }

    // Leftovers: groups nobody points at, then next hops no group holds.
    let mut ops = add_nexthops;
    ops.extend(group_ops);
    ops.extend(add_groups);
    ops.extend(route_ops);
    let mut kept_members: BTreeSet<NhId> = BTreeSet::new();
    for (id, g) in &state.groups {
        if final_users.contains(id) {
            if !morphs.contains_key(id) {
                kept_members.extend(g.members.iter().map(|(m, _)| *m));
            }
        } else {
            ops.push(Op::DelGroup { id: *id });
        }
    }
    for op in &ops {
        if let Op::ReplaceGroup { members, .. } | Op::AddGroup { members, .. } = op {
            kept_members.extend(members.iter().map(|(m, _)| *m));
        }
    }
    for id in state.nexthops.keys() {
        if !kept_members.contains(id) && !final_users.contains(id) {
            ops.push(Op::DelNexthop { id: *id });
        }
    }
    Plan { ops, refused }
}

#[cfg(test)]
mod tests;
