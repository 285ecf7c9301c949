//! The kernel FIB of a Linux router (`[fib]`, issue 16): routes towards service prefixes, each
//! through a next-hop group of next-hop objects, programmed over rtnetlink.
//!
//! - [`plan`]: pure. Wanted next-hop sets + the mirror of the kernel -> ordered operations;
//!   groups are shared by prefixes with the same set and changed in place, so the buckets of a
//!   resilient group that belong to members that stay never move (the module doc says how).
//! - [`wire`]: the next-hop messages netlink-packet-route lacks (checked, never panics).
//! - [`netlink`]: the socket.
//! - [`Fib`] (here): runs plans, keeps the mirror, reconciles at start, cleans up at stop.
//!
//! Only objects that carry `[fib] protocol` are ever changed or deleted: next hops and groups
//! by their `nh_protocol`, routes by `rtm_protocol` in `[fib] table`. A route of another
//! protocol for the same prefix is never replaced (new routes are added with `NLM_F_EXCL`).
//!
//! Driving contract: [`Fib::open`] once (it adopts what an earlier run left; nothing changes in
//! the kernel), then [`Fib::apply`] with one batch per event (a node leaving changes every
//! prefix it served: give them in one batch so their shared group changes in place), then
//! [`Fib::sweep`] once the routing table has converged (it removes adopted routes nobody set
//! again), [`Fib::refresh`] when a link comes back up (the kernel drops next hops whose device
//! goes down; a refresh puts them back in place), and [`Fib::stop`] at the end. Calls block on
//! the kernel (microseconds each); the daemon runs them on a thread of their own.

mod kernel;
pub mod monitor;
pub mod netlink;
pub use bgp_rib::fib as plan;
pub mod task;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;
use tracing::{info, warn};

pub use crate::config::fib::{
    FibSettings, GroupKind, DEFAULT_BUCKETS, DEFAULT_IDLE_TIMER, DEFAULT_PROTOCOL, DEFAULT_TABLE,
    DEFAULT_UNBALANCED_TIMER,
};
use crate::metrics::{Histogram, TextWriter};
use netlink::{Netlink, NetlinkError, RtnlMessage};
pub use plan::{KernelState, NextHopSet, NhId, Op, RouteTarget, Weight};
use wire::NexthopMessage;

/// Why a next hop cannot have a next-hop object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NextHopError {
    /// The kernel routes the address through another gateway.
    #[error("is not directly connected (the kernel reaches it via {via}, interface index {oif})")]
    NotConnected {
        /// The gateway the kernel uses instead.
        via: IpAddr,
        /// The interface index of that route.
        oif: u32,
    },
    /// No route at all, or an unreachable/prohibit/blackhole route.
    #[error("has no route")]
    NoRoute,
    /// One of this router's own addresses.
    #[error("is an address of this router")]
    Local,
    /// An IPv6 link-local address names no interface by itself.
    #[error("is link-local: a link-local next hop needs an interface")]
    LinkLocal,
    /// The lookup itself failed.
    #[error("could not be looked up: {0}")]
    Lookup(NetlinkError),
}

/// A FIB failure; each names what it was about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FibError {
    /// A next hop cannot be programmed.
    #[error("next hop {next_hop} {reason}")]
    NextHop {
        /// The next hop.
        next_hop: IpAddr,
        /// Why.
        reason: NextHopError,
    },
    /// The kernel refused an operation.
    #[error("{op}: {error}")]
    Kernel {
        /// The operation, as a sentence.
        op: String,
        /// The kernel's answer.
        error: NetlinkError,
    },
    /// Another protocol's route has the prefix in our table; it is not touched.
    #[error(
        "table {table} already has a route to {prefix} from another protocol; it is left alone"
    )]
    ForeignRoute {
        /// The prefix.
        prefix: IpNet,
        /// The routing table (`[fib] table`).
        table: u32,
    },
    /// The kernel has no next-hop objects (Linux < 5.3) or refuses to list them.
    #[error("the kernel does not support next-hop objects (RTM_GETNEXTHOP: {0}); Linux 5.3 or later is needed, 5.13 for resilient groups")]
    Unsupported(NetlinkError),
    /// `resilient = true` on a kernel older than 5.13, which has no resilient groups.
    #[error("the kernel is Linux {0}.{1}: resilient next-hop groups need 5.13 or later; set [fib] resilient = false for plain multipath groups")]
    ResilientUnsupported(u32, u32),
    /// The socket could not be opened.
    #[error("rtnetlink socket: {0}")]
    Socket(String),
}

/// The outcome of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Kernel operations that succeeded.
    pub ops: usize,
    /// Prefixes left as they were, and why.
    pub errors: Vec<(IpNet, FibError)>,
}

/// Counters and figures for the metrics endpoint.
#[derive(Debug, Clone, Default)]
pub struct FibStats {
    /// Netlink operations the kernel refused or that failed, by operation.
    pub netlink_errors: BTreeMap<&'static str, u64>,
    /// Prefix changes refused or failed (the route left as it was).
    pub refused: u64,
    /// Time to program one batch.
    pub latency: Histogram,
    /// Buckets of resilient groups seen on another next hop than at the previous bucket dump
    /// ([`Fib::count_bucket_moves`]).
    pub bucket_moves: u64,
}

/// The FIB: socket, settings, mirror of our kernel objects.
pub struct Fib {
    nl: Netlink,
    settings: FibSettings,
    state: KernelState,
    /// Routes adopted at open that no `apply` has named since: [`Fib::sweep`] removes them.
    adopted: BTreeSet<IpNet>,
    /// What the caller wants now, programmed or not ([`Fib::refresh`] programs it again).
    desired: BTreeMap<IpNet, NextHopSet>,
    stats: FibStats,
    /// Next hop of each bucket of each resilient group at the last bucket dump.
    buckets_seen: BTreeMap<NhId, Vec<NhId>>,
}

impl Fib {
    /// Opens rtnetlink in the current network namespace and reads what carries our protocol
    /// (the leftovers of an earlier run are adopted, nothing changes). Fails when the kernel
    /// has no next-hop objects.
    pub fn open(settings: FibSettings) -> Result<Fib, FibError> {
        if let (GroupKind::Resilient { .. }, Some(v)) = (settings.kind, kernel_release()) {
            if v < (5, 13) {
                return Err(FibError::ResilientUnsupported(v.0, v.1));
            }
        }
        let nl = Netlink::open().map_err(|e| FibError::Socket(e.to_string()))?;
        let mut fib = Fib {
            nl,
            settings,
            state: KernelState::default(),
            adopted: BTreeSet::new(),
            desired: BTreeMap::new(),
            stats: FibStats::default(),
            buckets_seen: BTreeMap::new(),
        };
        fib.state = fib.read_state()?;
        fib.adopted = fib.state.routes.keys().copied().collect();
        info!(
            table = settings.table,
            protocol = settings.protocol,
            "fib: adopted {} routes, {} groups and {} next hops left by an earlier run",
            fib.state.routes.len(),
            fib.state.groups.len(),
            fib.state.nexthops.len()
        );
        Ok(fib)
    }

    /// The settings.
    pub fn settings(&self) -> &FibSettings {
        &self.settings
    }

    /// The mirror of our kernel objects.
    pub fn state(&self) -> &KernelState {
        &self.state
    }

    /// Routes adopted at [`Fib::open`] that no batch has named since.
    pub fn adopted(&self) -> usize {
        self.adopted.len()
    }

    /// Every next hop some wanted prefix goes through (programmed or refused).
    pub fn wanted_next_hops(&self) -> BTreeSet<IpAddr> {
        self.desired
            .values()
            .flat_map(|s| s.members().iter().map(|(a, _)| *a))
            .collect()
    }

    /// The counters.
    pub fn stats(&self) -> &FibStats {
        &self.stats
    }

    /// Routes `prefix` through `next_hops` (next hop, relative weight).
    pub fn set(&mut self, prefix: IpNet, next_hops: &[(IpAddr, u32)]) -> Applied {
        self.apply([(prefix, next_hops.to_vec())])
    }

    /// Removes our route to `prefix`.
    pub fn remove(&mut self, prefix: IpNet) -> Applied {
        self.apply([(prefix, Vec::new())])
    }

    /// Applies one batch: for each prefix its next hops, or none to remove it. A prefix that
    /// cannot be programmed keeps its previous route (never a half-built group) and is
    /// reported; the others are programmed.
    pub fn apply(
        &mut self,
        batch: impl IntoIterator<Item = (IpNet, Vec<(IpAddr, u32)>)>,
    ) -> Applied {
        let changes: BTreeMap<IpNet, Option<NextHopSet>> = batch
            .into_iter()
            .map(|(p, hops)| (p.trunc(), NextHopSet::new(&hops)))
            .collect();
        for (p, set) in &changes {
            self.adopted.remove(p);
            match set {
                Some(set) => self.desired.insert(*p, set.clone()),
                None => self.desired.remove(p),
            };
        }
        self.run(&changes)
    }

    /// Applies one batch of the Loc-RIB's forwarding changes (`bgp_rib::LocRib::take_changes`,
    /// `crate::locrib::RibHandle::subscribe`), as one batch.
    pub fn apply_rib(&mut self, changes: Vec<bgp_rib::FibChange>) -> Applied {
        self.apply(batch_from_rib(changes))
    }

    /// Removes the routes adopted at [`Fib::open`] that no batch has named since, and every
    /// group and next hop of ours that nothing uses.
    pub fn sweep(&mut self) -> Applied {
        let changes = std::mem::take(&mut self.adopted)
            .into_iter()
            .map(|p| (p, None))
            .collect();
        self.run(&changes)
    }

    /// Stops: removes every route, group and next hop of ours, or leaves them all for the
    /// next run with `retain_on_stop`.
    pub fn stop(mut self) -> Applied {
        self.shut_down()
    }

    /// [`Fib::stop`] for an owner that cannot give the value up (the FIB thread); nothing
    /// may be applied after it.
    pub fn shut_down(&mut self) -> Applied {
        if self.settings.retain_on_stop {
            info!(
                "fib: leaving {} routes in table {} (retain_on_stop)",
                self.state.routes.len(),
                self.settings.table
            );
            return Applied::default();
        }
        let changes = self.state.routes.keys().map(|p| (*p, None)).collect();
        self.run(&changes)
    }

    /// The buckets of resilient group `id`: (index, next hop, idle time in 1/100 s).
    pub fn buckets(&mut self, id: NhId) -> Result<Vec<(u16, NhId, u64)>, FibError> {
        let req = NexthopMessage {
            id: Some(id),
            ..NexthopMessage::default()
        };
        let replies = self
            .nl
            .dump(RtnlMessage::Nexthop(wire::RTM_GETNEXTHOPBUCKET, req))
            .map_err(|error| FibError::Kernel {
                op: format!("dump the buckets of group {id}"),
                error,
            })?;
        let mut out: Vec<(u16, NhId, u64)> = replies
            .into_iter()
            .filter_map(|m| match m {
                RtnlMessage::Nexthop(_, n) if n.id == Some(id) => n.res_bucket,
                _ => None,
            })
            .filter_map(|b| Some((b.index?, b.nexthop?, b.idle_time.unwrap_or(0))))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Dumps the buckets of every resilient group of ours (`RTM_GETNEXTHOPBUCKET`) and counts
    /// the buckets whose next hop changed since the previous dump: the connections that moved
    /// (`bgpd_fib_bucket_moves_total`). A group seen for the first time counts nothing. Returns
    /// the moves found now.
    pub fn count_bucket_moves(&mut self) -> Result<u64, FibError> {
        let ids: Vec<NhId> = self
            .state
            .groups
            .iter()
            .filter(|(_, g)| matches!(g.kind, GroupKind::Resilient { .. }))
            .map(|(id, _)| *id)
            .collect();
        let mut seen = BTreeMap::new();
        let mut moves = 0;
        for id in ids {
            let now: Vec<NhId> = self.buckets(id)?.into_iter().map(|(_, nh, _)| nh).collect();
            if let Some(before) = self.buckets_seen.get(&id) {
                moves += before.iter().zip(&now).filter(|(a, b)| a != b).count() as u64;
            }
            seen.insert(id, now);
        }
        self.buckets_seen = seen;
        self.stats.bucket_moves += moves;
        Ok(moves)
    }

    /// Writes the `bgpd_fib_*` families.
    pub fn write_metrics(&self, w: &mut TextWriter) {
        w.family(
            "bgpd_fib_routes",
            "gauge",
            "Routes bgpd has in its FIB table.",
        );
        w.sample("bgpd_fib_routes", &[], self.state.routes.len());
        w.family(
            "bgpd_fib_groups",
            "gauge",
            "Next-hop groups bgpd has in the kernel.",
        );
        w.sample("bgpd_fib_groups", &[], self.state.groups.len());
        w.family(
            "bgpd_fib_group_members",
            "gauge",
            "Members of each next-hop group.",
        );
        for (id, g) in &self.state.groups {
            let id = id.to_string();
            w.sample("bgpd_fib_group_members", &[("group", &id)], g.members.len());
        }
        w.family(
            "bgpd_fib_group_routes",
            "gauge",
            "Routes (services) through each next-hop group: prefixes with the same set share one.",
        );
        let mut users: BTreeMap<NhId, usize> = BTreeMap::new();
        for t in self.state.routes.values() {
            if let RouteTarget::Group(g) = t {
                *users.entry(*g).or_default() += 1;
            }
        }
        for id in self.state.groups.keys() {
            let n = users.get(id).copied().unwrap_or(0);
            w.sample("bgpd_fib_group_routes", &[("group", &id.to_string())], n);
        }
        w.family(
            "bgpd_fib_group_member_weight",
            "gauge",
            "Weight of each next hop in each next-hop group (1..=256).",
        );
        for (id, g) in &self.state.groups {
            let id = id.to_string();
            for (m, weight) in &g.members {
                if let Some(n) = self.state.nexthops.get(m) {
                    let hop = n.gateway.to_string();
                    w.sample(
                        "bgpd_fib_group_member_weight",
                        &[("group", &id), ("next_hop", &hop)],
                        weight.get(),
                    );
                }
            }
        }
        w.family(
            "bgpd_fib_bucket_moves_total",
            "counter",
            "Buckets of resilient groups that moved to another next hop (from the kernel's bucket dumps).",
        );
        w.sample("bgpd_fib_bucket_moves_total", &[], self.stats.bucket_moves);
        w.family(
            "bgpd_fib_netlink_errors_total",
            "counter",
            "Netlink operations the kernel refused or that failed.",
        );
        for (op, n) in &self.stats.netlink_errors {
            w.sample("bgpd_fib_netlink_errors_total", &[("op", op)], n);
        }
        w.family(
            "bgpd_fib_refused_total",
            "counter",
            "Prefix changes left unprogrammed (the route kept as it was).",
        );
        w.sample("bgpd_fib_refused_total", &[], self.stats.refused);
        w.family(
            "bgpd_fib_program_seconds",
            "histogram",
            "Time to program one batch of route changes into the kernel.",
        );
        self.stats.latency.write(w, "bgpd_fib_program_seconds", "");
    }

    /// Reads our objects from the kernel again and programs every wanted prefix again: what
    /// the kernel dropped (it deletes a next hop whose device goes down, and a group and its
    /// routes with their last member) comes back, members rejoin their groups in place, and
    /// prefixes refused earlier (a next hop that was unreachable) are tried again. The
    /// daemon calls it when a link comes back up.
    pub fn refresh(&mut self) -> Result<Applied, FibError> {
        self.resync()?;
        let changes = self
            .desired
            .iter()
            .map(|(p, s)| (*p, Some(s.clone())))
            .collect();
        Ok(self.run(&changes))
    }

    /// Re-reads our objects from the kernel (after something outside bgpd changed them: the
    /// kernel drops next hops whose device goes down). Nothing changes in the kernel.
    pub fn resync(&mut self) -> Result<(), FibError> {
        self.state = self.read_state()?;
        let routes = &self.state.routes;
        self.adopted.retain(|p| routes.contains_key(p));
        Ok(())
    }

    fn run(&mut self, changes: &BTreeMap<IpNet, Option<NextHopSet>>) -> Applied {
        let started = Instant::now();
        let (mut applied, retry) = self.run_once(changes);
        // Prefixes that failed for another's sake (a shared group that could not change), for
        // an id taken since our dump, or for an object that vanished: one more try, with the
        // prefixes that failed on their own left out (so a shared group is not planned again).
        if !retry.is_empty() {
            let vanished = applied.errors.iter().any(|(p, e)| {
                retry.contains(p)
                    && matches!(e, FibError::Kernel { error, .. } if error.errno() == Some(libc::ENOENT))
            });
            if vanished {
                if let Err(e) = self.resync() {
                    warn!("fib: could not re-read the kernel's next hops and routes: {e}");
                }
            }
            let again: BTreeMap<IpNet, Option<NextHopSet>> = changes
                .iter()
                .filter(|(p, _)| retry.contains(p))
                .map(|(p, s)| (*p, s.clone()))
                .collect();
            applied.errors.retain(|(p, _)| !retry.contains(p));
            let (second, _) = self.run_once(&again);
            applied.ops += second.ops;
            applied.errors.extend(second.errors);
            applied.errors.sort_by_key(|(p, _)| *p);
        }
        if !applied.errors.is_empty() {
            // Whatever a failed step left unused (a group built for a route the kernel then
            // refused) goes now: no group without a route stays behind.
            let gc = plan::plan::<NextHopError>(
                &self.state,
                self.settings.kind,
                &BTreeMap::new(),
                &BTreeMap::new(),
            );
            let (cleaned, _) = self.execute_plan(gc.ops, &BTreeMap::new());
            applied.ops += cleaned.ops;
        }
        for (prefix, e) in &applied.errors {
            self.stats.refused += 1;
            warn!(%prefix, "fib: {prefix} not programmed, its route is left as it was: {e}");
        }
        self.stats.latency.observe(started.elapsed());
        applied
    }

    /// Plans and executes one batch; also returns the prefixes worth one more try.
    fn run_once(
        &mut self,
        changes: &BTreeMap<IpNet, Option<NextHopSet>>,
    ) -> (Applied, BTreeSet<IpNet>) {
        let mut resolved = BTreeMap::new();
        for gw in self.state.unresolved(changes.values()) {
            let r = self.resolve(gw);
            resolved.insert(gw, r);
        }
        let plan = plan::plan(&self.state, self.settings.kind, changes, &resolved);
        let refused: Vec<(IpNet, FibError)> = plan
            .refused
            .into_iter()
            .map(|r| {
                (
                    r.prefix,
                    FibError::NextHop {
                        next_hop: r.next_hop,
                        reason: r.error,
                    },
                )
            })
            .collect();
        let (mut applied, retry) = self.execute_plan(plan.ops, changes);
        applied.errors.extend(refused);
        applied.errors.sort_by_key(|(p, _)| *p);
        (applied, retry)
    }

    /// Runs `ops` in order; an op whose objects are missing is skipped with the error that
    /// made them missing. Returns the outcome per prefix of `changes`, and which prefixes
    /// deserve another try.
    fn execute_plan(
        &mut self,
        ops: Vec<Op>,
        changes: &BTreeMap<IpNet, Option<NextHopSet>>,
    ) -> (Applied, BTreeSet<IpNet>) {
        let mut applied = Applied::default();
        let mut prefix_errors: BTreeMap<IpNet, FibError> = BTreeMap::new();
        let mut retry: BTreeSet<IpNet> = BTreeSet::new();
        // Why an object we needed is missing or unchanged: the error of the op that failed.
        let mut failed: BTreeMap<NhId, FibError> = BTreeMap::new();
        for op in &ops {
            if let Some(e) = self.blocked(op, &failed) {
                match op {
                    Op::ReplaceRoute { prefix, .. } => {
                        retry.insert(*prefix);
                        prefix_errors.entry(*prefix).or_insert(e);
                    }
                    Op::AddGroup { id, .. } | Op::ReplaceGroup { id, .. } => {
                        failed.insert(*id, e);
                    }
                    _ => {}
                }
                continue;
            }
            match self.execute(op) {
                Ok(()) => {
                    self.state.apply(op);
                    applied.ops += 1;
                }
                Err(e) => {
                    *self.stats.netlink_errors.entry(op_name(op)).or_default() += 1;
                    warn!("fib: {e}");
                    let errno = match &e {
                        FibError::Kernel { error, .. } => error.errno(),
                        _ => None,
                    };
                    match op {
                        Op::AddNexthop { id, .. } | Op::AddGroup { id, .. } => {
                            if errno == Some(libc::EEXIST) {
                                // Taken by someone else since our dump.
                                self.state.foreign_ids.insert(*id);
                            }
                            failed.insert(*id, e);
                        }
                        Op::ReplaceGroup { id, .. } => {
                            // Its users keep the group as it was.
                            for (p, t) in &self.state.routes {
                                if *t == RouteTarget::Group(*id) && changes.contains_key(p) {
                                    prefix_errors.entry(*p).or_insert_with(|| e.clone());
                                }
                            }
                            failed.insert(*id, e);
                        }
                        Op::ReplaceRoute { prefix, .. } | Op::DelRoute { prefix } => {
                            if errno == Some(libc::ENOENT) {
                                retry.insert(*prefix);
                            }
                            prefix_errors.entry(*prefix).or_insert(e);
                        }
                        Op::DelGroup { .. } | Op::DelNexthop { .. } => {}
                    }
                }
            }
        }
        applied.errors = prefix_errors.into_iter().collect();
        (applied, retry)
    }

    /// Whether `op` cannot run because an object it needs is missing.
    fn blocked(&self, op: &Op, failed: &BTreeMap<NhId, FibError>) -> Option<FibError> {
        let missing = |id: &NhId, what: &str| {
            failed.get(id).cloned().unwrap_or_else(|| FibError::Kernel {
                op: format!("{what} {id}"),
                error: NetlinkError::Kernel {
                    errno: libc::ENOENT,
                    message: Some("not in the kernel".into()),
                },
            })
        };
        match op {
            Op::AddGroup { members, .. } | Op::ReplaceGroup { members, .. } => members
                .iter()
                .find(|(m, _)| !self.state.nexthops.contains_key(m))
                .map(|(m, _)| missing(m, "next hop")),
            // A group that is missing, or that could not take its new members.
            Op::ReplaceRoute { group, .. } => (failed.contains_key(group)
                || !self.state.groups.contains_key(group))
            .then(|| missing(group, "group")),
            // Still used: a route that should have moved did not.
            Op::DelGroup { id } => self.state.group_in_use(*id).then(|| missing(id, "group")),
            Op::DelNexthop { id } => self
                .state
                .nexthop_in_use(*id)
                .then(|| missing(id, "next hop")),
            _ => None,
        }
    }
}

/// The Loc-RIB's changes as a batch: a set replaces, a removal is an empty list.
fn batch_from_rib(changes: Vec<bgp_rib::FibChange>) -> Vec<(IpNet, Vec<(IpAddr, u32)>)> {
    changes
        .into_iter()
        .map(|c| match c {
            bgp_rib::FibChange::Set { prefix, next_hops } => (prefix, next_hops),
            bgp_rib::FibChange::Remove { prefix } => (prefix, Vec::new()),
        })
        .collect()
}

/// The running kernel's major and minor version (`/proc/sys/kernel/osrelease`).
fn kernel_release() -> Option<(u32, u32)> {
    parse_release(&std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?)
}

/// "6.18.44-fc-v1252" -> (6, 18).
fn parse_release(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::AddNexthop { .. } => "add_nexthop",
        Op::ReplaceGroup { .. } => "replace_group",
        Op::AddGroup { .. } => "add_group",
        Op::ReplaceRoute { .. } => "replace_route",
        Op::DelRoute { .. } => "delete_route",
        Op::DelGroup { .. } => "delete_group",
        Op::DelNexthop { .. } => "delete_nexthop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rib_changes_become_one_batch() {
        let p: IpNet = "192.0.2.1/32".parse().unwrap();
        let q: IpNet = "192.0.2.2/32".parse().unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let batch = batch_from_rib(vec![
            bgp_rib::FibChange::Set {
                prefix: p,
                next_hops: vec![(a, 3)],
            },
            bgp_rib::FibChange::Remove { prefix: q },
        ]);
        assert_eq!(batch, vec![(p, vec![(a, 3)]), (q, vec![])]);
    }

    #[test]
    fn kernel_releases_parse_to_major_and_minor() {
        assert_eq!(parse_release("6.18.44-fc-v1252\n"), Some((6, 18)));
        assert_eq!(parse_release("5.10.0-28-amd64"), Some((5, 10)));
        assert_eq!(parse_release("5.13"), Some((5, 13)));
        assert_eq!(parse_release("garbage"), None);
        assert!((5, 10) < (5, 13) && (6, 1) >= (5, 13));
    }

    #[test]
    fn an_old_kernel_is_named_in_the_error() {
        assert_eq!(
            FibError::ResilientUnsupported(5, 10).to_string(),
            "the kernel is Linux 5.10: resilient next-hop groups need 5.13 or later; set [fib] \
             resilient = false for plain multipath groups"
        );
    }
}
