//! The Loc-RIB owner: one task holds the [`bgp_rib::LocRib`], fed by every peer task's
//! received route events and session transitions, and hands out forwarding changes and
//! snapshots. The decisions are `bgp-rib`'s; this module only moves data.
//!
//! - A peer task sends [`RibInput::Up`] at SessionUp (the peer's AS numbers and BGP
//!   Identifier, for the decision process), [`RibInput::Received`] for each `Received`
//!   action, and [`RibInput::Down`] at SessionDown: every path of the peer leaves at once,
//!   except the routes its session keeps stale for the peer's graceful restart (RFC 4724
//!   §4.2; none after BFD Down, RFC 5882 §4.3), which stay until the session removes them.
//! - The FIB programmer subscribes with [`RibHandle::subscribe`]: it gets the current sets
//!   as one batch, then each batch of [`FibChange`]s (only prefixes whose next hops or
//!   weights changed).
//! - `bgpctl routes --best` and `explain` read snapshots ([`RibHandle::query`]). The
//!   Loc-RIB keeps per path only the decision keys ([`bgp_rib::PathKeys`]); the AS_PATH a
//!   snapshot shows is read from the owning peer's Adj-RIB-In (`peer::fill_as_paths`).
//!
//! The channel carries only decision keys ([`RibRoute`], not decoded attributes), and the
//! routes queued in it are bounded ([`RIB_IN_FLIGHT`]): a peer task whose sends would pass
//! the bound stops reading its socket (TCP holds the peer back) until the Loc-RIB has caught
//! up, while it keeps serving its timers, writes and commands, so keepalives still go out
//! ([`RibHandle::has_room`], [`RibHandle::room`]). Sending itself never waits. The task
//! applies every queued input before it computes changes, so a burst costs one decision per
//! prefix.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bgp_fsm::Route;
use bgp_proto::{NextHop, Nlri};
use bgp_rib::{Decision, FibChange, LocRib, PeerId, Reason, RibConfig, Verdict};
use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::memory::Shrink;
use tracing::{debug, info, warn};

use crate::api;

/// What the Loc-RIB task takes in.
#[derive(Debug)]
pub enum RibInput {
    /// The session with `peer` is Established: what the decision needs to know of it.
    Up {
        /// The peer's name.
        peer: String,
        /// What the decision uses of the session (AS numbers, BGP Identifier, address).
        info: bgp_rib::Peer,
    },
    /// One received UPDATE's effect on the peer's Adj-RIB-In (`bgp_fsm::RouteEvents`):
    /// withdrawals first, then announcements (RFC 4271 §4.3: a prefix in both counts as
    /// announced).
    Received {
        /// The peer's name.
        peer: String,
        /// Routes announced (or replaced).
        announced: Vec<RibRoute>,
        /// NLRI withdrawn.
        withdrawn: Vec<Nlri>,
        /// When the peer task took the UPDATE's routes from the session (right after it was
        /// read and decoded): the start of `bgpd_fib_update_to_kernel_seconds`.
        read_at: Instant,
    },
    /// The session is lost. `kept`: the routes the session keeps stale for the peer's
    /// graceful restart (empty when none are kept); every other path of the peer goes.
    Down {
        /// The peer's name.
        peer: String,
        /// The routes kept stale.
        kept: Vec<RibRoute>,
    },
    /// The peer is no longer configured.
    Removed {
        /// The peer's name.
        peer: String,
    },
    /// Whether `next_hop` is usable (the FIB thread's finding: a connected route and a link
    /// that is up); paths through an unusable one are not selected (RFC 4271 §9.1.2).
    NextHopReachable {
        /// The next hop.
        next_hop: IpAddr,
        /// Whether it is usable.
        reachable: bool,
    },
    /// New `[rib]` settings (a reload).
    Config(RibConfig),
    /// A snapshot: one prefix, or all.
    Query {
        /// Only this prefix.
        prefix: Option<IpNet>,
        /// Where the snapshot goes.
        reply: oneshot::Sender<Vec<Snapshot>>,
    },
    /// Send every forwarding change to `sink`, starting with the current sets.
    Subscribe(mpsc::UnboundedSender<RibBatch>),
}

/// One batch of forwarding changes for the FIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibBatch {
    /// When the oldest UPDATE behind this batch was read (`None` for the current sets sent
    /// at subscription, and for changes no UPDATE caused).
    pub read_at: Option<Instant>,
    /// The forwarding sets that changed.
    pub changes: Vec<FibChange>,
}

/// A received route as the Loc-RIB takes it: the NLRI, the forwarding address and the
/// decision keys (about 80 octets, where a decoded route holds its whole attribute set).
#[derive(Debug, Clone, PartialEq)]
pub struct RibRoute {
    /// The prefix and, with ADD-PATH, the path identifier (RFC 7911).
    pub nlri: Nlri,
    /// The address packets are forwarded to.
    pub next_hop: IpAddr,
    /// What the decision process compares (RFC 4271 §9.1.2).
    pub keys: bgp_rib::PathKeys,
}

impl From<&Route> for RibRoute {
    fn from(r: &Route) -> RibRoute {
        RibRoute {
            nlri: r.nlri,
            next_hop: forwarding_address(&r.next_hop),
            keys: bgp_rib::PathKeys::of(&r.attrs),
        }
    }
}

/// Received routes and withdrawals that may wait in the channel before peer tasks stop
/// reading: about 5 MB of [`RibRoute`]s, and a fraction of a second of the task's work.
pub const RIB_IN_FLIGHT: usize = 65_536;

/// Routes sent but not yet applied, shared by the senders and the task.
#[derive(Debug, Default)]
struct Budget {
    in_flight: AtomicUsize,
    drained: Notify,
}

/// The sending side, cloned into each peer task and the daemon.
#[derive(Debug, Clone)]
pub struct RibHandle {
    tx: mpsc::UnboundedSender<RibInput>,
    budget: Arc<Budget>,
}

impl RibHandle {
    /// Passes `input` to the Loc-RIB task (dropped if the task is gone: the daemon is
    /// stopping). Never waits; a peer task checks [`RibHandle::has_room`] before it reads
    /// more routes.
    pub fn send(&self, input: RibInput) {
        let n = input.routes();
        self.budget.in_flight.fetch_add(n, Ordering::Relaxed);
        if let Err(e) = self.tx.send(input) {
            self.budget
                .in_flight
                .fetch_sub(e.0.routes(), Ordering::Relaxed);
        }
    }

    /// Whether fewer than [`RIB_IN_FLIGHT`] routes wait for the Loc-RIB task.
    pub fn has_room(&self) -> bool {
        self.budget.in_flight.load(Ordering::Relaxed) < RIB_IN_FLIGHT
    }

    /// Returns once [`RibHandle::has_room`] holds.
    pub async fn room(&self) {
        loop {
            // Created before the check, so a drain in between still wakes it.
            let drained = self.budget.drained.notified();
            if self.has_room() {
                return;
            }
            drained.await;
        }
    }

    /// A snapshot of `prefix` (or every prefix); empty if the task is gone. The AS_PATHs
    /// are left empty: `peer::fill_as_paths` reads them from the peers.
    pub async fn query(&self, prefix: Option<IpNet>) -> Vec<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.send(RibInput::Query { prefix, reply });
        rx.await.unwrap_or_default()
    }

    /// Forwarding changes from now on, starting with the current sets.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<RibBatch> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.send(RibInput::Subscribe(tx));
        rx
    }
}

/// One prefix of a snapshot, with the prefix typed (the entry holds its text).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The prefix.
    pub prefix: IpNet,
    /// Its paths and forwarding set, as `bgpctl routes --best` shows them.
    pub entry: api::LocRibEntry,
}

/// Starts the Loc-RIB task.
pub fn spawn(config: RibConfig) -> RibHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Budget::default());
    tokio::spawn(run(config, rx, budget.clone()));
    RibHandle { tx, budget }
}

impl RibInput {
    /// The routes and withdrawals it carries (what counts against [`RIB_IN_FLIGHT`]).
    fn routes(&self) -> usize {
        match self {
            RibInput::Received {
                announced,
                withdrawn,
                ..
            } => announced.len() + withdrawn.len(),
            RibInput::Down { kept, .. } => kept.len(),
            _ => 0,
        }
    }
}

/// The address traffic goes to: the IPv4 next hop, or the global IPv6 one.
pub fn forwarding_address(next_hop: &NextHop) -> IpAddr {
    match next_hop {
        NextHop::V4(a) => IpAddr::V4(*a),
        NextHop::V6 { global, .. } => IpAddr::V6(*global),
    }
}

struct Owner {
    rib: LocRib,
    ids: HashMap<String, PeerId>,
    names: BTreeMap<PeerId, String>,
    subscribers: Vec<mpsc::UnboundedSender<RibBatch>>,
    /// The oldest `read_at` of the inputs applied since the last batch.
    oldest_read: Option<Instant>,
}

async fn run(config: RibConfig, mut rx: mpsc::UnboundedReceiver<RibInput>, budget: Arc<Budget>) {
    let mut owner = Owner {
        rib: LocRib::new(config),
        ids: HashMap::new(),
        names: BTreeMap::new(),
        subscribers: Vec::new(),
        oldest_read: None,
    };
    let mut shrink = Shrink::default();
    let apply = |owner: &mut Owner, shrink: &mut Shrink, input: RibInput| {
        let n = input.routes();
        shrink.seen(owner.rib.prefix_count());
        owner.apply(input);
        shrink.seen(owner.rib.prefix_count());
        if n > 0 {
            budget.in_flight.fetch_sub(n, Ordering::Relaxed);
            budget.drained.notify_waiters();
        }
    };
    while let Some(first) = rx.recv().await {
        apply(&mut owner, &mut shrink, first);
        while let Ok(more) = rx.try_recv() {
            apply(&mut owner, &mut shrink, more);
        }
        // As the peer tasks do for their Adj-RIB-In: once the table has shrunk to half, by
        // at least RELEASE_MIN prefixes (withdrawn, or a session lost), the freed paths go
        // back to the kernel rather than keep RSS at the peak (issue 17 item 5). Asked for
        // once the forwarding changes are published and dropped: a lost table makes one per
        // prefix (50 MB for a million), and memory freed after the trim would stay.
        let release = shrink.halved(owner.rib.prefix_count());
        owner.publish();
        if release {
            crate::memory::release_freed_memory_soon();
        }
    }
}

impl Owner {
    /// Sends the changes not yet taken to every subscriber, as one batch.
    fn publish(&mut self) {
        let changes = self.rib.take_changes();
        let read_at = self.oldest_read.take();
        if !changes.is_empty() {
            debug!("Loc-RIB: {} forwarding change(s)", changes.len());
            let batch = RibBatch { read_at, changes };
            self.subscribers.retain(|s| s.send(batch.clone()).is_ok());
        }
    }

    fn id(&mut self, name: &str) -> PeerId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = PeerId(u32::try_from(self.ids.len()).unwrap_or(u32::MAX));
        self.ids.insert(name.to_string(), id);
        self.names.insert(id, name.to_string());
        id
    }

    fn apply(&mut self, input: RibInput) {
        match input {
            RibInput::Up { peer, info } => {
                let id = self.id(&peer);
                self.rib.set_peer(id, info);
            }
            RibInput::Received {
                peer,
                announced,
                withdrawn,
                read_at,
            } => {
                self.oldest_read = Some(self.oldest_read.map_or(read_at, |o| o.min(read_at)));
                let id = self.id(&peer);
                for n in withdrawn {
                    self.rib.withdraw(id, n.prefix, n.path_id);
                }
                self.add(id, &peer, announced);
            }
            RibInput::Down { peer, kept } => {
                let id = self.id(&peer);
                let gone = self.rib.peer_down(id);
                let kept_n = kept.len();
                self.add(id, &peer, kept);
                if gone > 0 {
                    info!(
                        "Loc-RIB: session with {peer} lost: {} of its paths removed{}",
                        gone.saturating_sub(kept_n),
                        if kept_n > 0 {
                            format!(", {kept_n} kept stale for its graceful restart")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            RibInput::Removed { peer } => {
                if let Some(id) = self.ids.get(&peer).copied() {
                    self.rib.remove_peer(id);
                }
            }
            RibInput::NextHopReachable {
                next_hop,
                reachable,
            } => self.rib.set_next_hop_reachable(next_hop, reachable),
            RibInput::Config(c) => self.rib.set_config(c),
            RibInput::Query { prefix, reply } => {
                let prefixes: Vec<IpNet> = match prefix {
                    Some(p) => vec![p],
                    None => self.rib.prefixes().collect(),
                };
                let out = prefixes
                    .into_iter()
                    .filter_map(|p| {
                        self.rib.decision(p).map(|d| Snapshot {
                            prefix: p,
                            entry: self.entry(p, &d),
                        })
                    })
                    .collect();
                let _ = reply.send(out);
            }
            RibInput::Subscribe(sink) => {
                // The changes not yet taken are folded into this snapshot, so they are
                // taken (and sent to the others) first.
                self.publish();
                let current: Vec<FibChange> = self
                    .rib
                    .prefixes()
                    .filter_map(|prefix| {
                        let next_hops = self.rib.installed(prefix)?.to_vec();
                        Some(FibChange::Set { prefix, next_hops })
                    })
                    .collect();
                let batch = RibBatch {
                    read_at: None,
                    changes: current,
                };
                if sink.send(batch).is_ok() {
                    self.subscribers.push(sink);
                }
            }
        }
    }

    fn add(&mut self, id: PeerId, name: &str, routes: Vec<RibRoute>) {
        for r in routes {
            let path = bgp_rib::Path {
                peer: id,
                path_id: r.nlri.path_id,
                next_hop: r.next_hop,
                attrs: r.keys,
            };
            if let Err(e) = self.rib.update(r.nlri.prefix, path) {
                // A Received before the session's Up cannot happen (Up comes with
                // SessionUp); say so if it ever does rather than lose it silently.
                warn!("Loc-RIB: route {} from {name} ignored: {e}", r.nlri.prefix);
            }
        }
    }

    fn entry(&self, prefix: IpNet, d: &Decision) -> api::LocRibEntry {
        let name = |id: PeerId| self.names.get(&id).cloned().unwrap_or_default();
        api::LocRibEntry {
            prefix: prefix.to_string(),
            next_hops: d
                .next_hops
                .iter()
                .map(|(nh, w)| api::LocRibNextHop {
                    next_hop: nh.to_string(),
                    weight: *w,
                })
                .collect(),
            weighting: d.weighting.to_string(),
            paths: d
                .paths
                .iter()
                .map(|r| {
                    let attrs = &r.path.attrs;
                    let (status, reason) = match r.verdict {
                        Verdict::Best => ("best", None),
                        Verdict::Multipath => ("multipath", None),
                        Verdict::NotMultipath(reason) => ("not-multipath", Some(reason)),
                    };
                    api::LocRibPath {
                        peer: name(r.path.peer),
                        path_id: r.path.path_id,
                        next_hop: r.path.next_hop.to_string(),
                        // Read from the peer's Adj-RIB-In by `fill_as_paths`.
                        as_path: String::new(),
                        origin: match attrs.origin {
                            bgp_proto::Origin::Igp => "igp",
                            bgp_proto::Origin::Egp => "egp",
                            bgp_proto::Origin::Incomplete => "incomplete",
                        }
                        .to_string(),
                        med: attrs.med,
                        local_pref: r.local_pref,
                        neighbour_as: r.neighbour_as,
                        session: r.kind.to_string(),
                        status: status.to_string(),
                        reason_code: reason.map(|r| reason_code(&r).to_string()),
                        reason: reason.map(|r| r.to_string()),
                        lost_at: r.lost_at.map(|s| s.to_string()),
                        weight: r.weight,
                        bandwidth: r
                            .bandwidth
                            .filter(|b| b.is_finite() && *b >= 0.0)
                            .map(|b| b as u64),
                    }
                })
                .collect(),
        }
    }
}

/// A stable name for each reason, for scripts (`--json`).
pub fn reason_code(r: &Reason) -> &'static str {
    match r {
        Reason::NextHopUnreachable => "next-hop-unreachable",
        Reason::LlgrStale => "llgr-stale",
        Reason::LocalPref { .. } => "local-pref",
        Reason::AsPathLength { .. } => "as-path-length",
        Reason::Origin { .. } => "origin",
        Reason::Med { .. } => "med",
        Reason::NeighbourAs { .. } => "neighbour-as",
        Reason::PeerKind { .. } => "peer-kind",
        Reason::SameNextHop(_) => "same-next-hop",
        Reason::MaxPaths(_) => "max-paths",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::RELEASE_MIN;
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    #[test]
    fn a_table_loaded_and_lost_within_one_drain_is_handed_back() {
        let mut shrink = Shrink::default();
        // Inputs applied back to back, the channel never empty: the table grows to 1M
        // prefixes, then the session is lost; the drain ends only then.
        for held in (0..=1_000_000).step_by(50_000) {
            shrink.seen(held);
        }
        shrink.seen(0);
        assert!(shrink.halved(0));
        // Once: nothing more was freed since.
        assert!(!shrink.halved(0));
        // A table that shrinks by less than half, or by fewer than RELEASE_MIN prefixes, is
        // left alone.
        shrink.seen(10_000);
        assert!(!shrink.halved(6_000));
        let mut small = Shrink::default();
        small.seen(RELEASE_MIN - 1);
        assert!(!small.halved(0));
        // Withdrawn in steps, drain by drain: each halving asks once.
        let mut steps = Shrink::default();
        assert!(!steps.halved(100_000));
        assert!(!steps.halved(60_000));
        assert!(steps.halved(50_000));
        assert!(!steps.halved(30_000));
        assert!(steps.halved(25_000));
    }

    use bgp_proto::{AsPath, PathAttributes};

    fn route(prefix: &str, nh: [u8; 4], as_path: &[u32]) -> RibRoute {
        RibRoute::from(&Route {
            nlri: Nlri::new(prefix.parse().unwrap()),
            next_hop: NextHop::V4(Ipv4Addr::from(nh)),
            attrs: Arc::new(PathAttributes {
                as_path: AsPath::from_sequence(as_path.iter().copied()),
                ..PathAttributes::default()
            }),
        })
    }

    fn info(i: u8) -> bgp_rib::Peer {
        bgp_rib::Peer {
            remote_as: 65001,
            local_as: 64512,
            bgp_id: Ipv4Addr::new(10, 0, 0, i),
            address: IpAddr::V4(Ipv4Addr::new(10, 255, 0, i)),
        }
    }

    #[tokio::test]
    async fn peer_events_reach_the_snapshot_and_the_fib_stream() {
        let rib = spawn(RibConfig::default());
        let mut fib = rib.subscribe();
        assert_eq!(
            fib.recv().await.map(|b| b.changes),
            Some(vec![]),
            "nothing installed yet"
        );
        for i in 1..=2u8 {
            let peer = format!("node-{i}");
            rib.send(RibInput::Up {
                peer: peer.clone(),
                info: info(i),
            });
            rib.send(RibInput::Received {
                peer,
                announced: vec![route("192.0.2.10/32", [10, 255, 0, i], &[65001])],
                withdrawn: vec![],
                read_at: Instant::now(),
            });
        }
        let snap = rib.query(None).await;
        assert_eq!(snap.len(), 1);
        let statuses: Vec<&str> = snap[0]
            .entry
            .paths
            .iter()
            .map(|p| p.status.as_str())
            .collect();
        assert_eq!(statuses, ["best", "multipath"]);
        // The FIB stream carries the set with both members (possibly after a first batch).
        let mut last = None;
        while last.as_ref().is_none_or(|c: &Vec<FibChange>| {
            !matches!(c.last(), Some(FibChange::Set { next_hops, .. }) if next_hops.len() == 2)
        }) {
            last = fib.recv().await.map(|b| b.changes);
        }
        rib.send(RibInput::Down {
            peer: "node-1".into(),
            kept: vec![],
        });
        let change = fib.recv().await.unwrap();
        assert_eq!(change.read_at, None, "a session loss is no UPDATE");
        assert_eq!(
            change.changes,
            vec![FibChange::Set {
                prefix: "192.0.2.10/32".parse().unwrap(),
                next_hops: vec![(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 2)), 1)]
            }]
        );
        let snap = rib.query(Some("192.0.2.10/32".parse().unwrap())).await;
        assert_eq!(snap[0].entry.paths.len(), 1);
        assert_eq!(snap[0].entry.paths[0].peer, "node-2");
    }

    #[tokio::test]
    async fn routes_kept_stale_for_graceful_restart_stay_and_others_go() {
        let rib = spawn(RibConfig::default());
        rib.send(RibInput::Up {
            peer: "node-1".into(),
            info: info(1),
        });
        let kept = route("192.0.2.10/32", [10, 255, 0, 1], &[65001]);
        let dropped = route("192.0.2.20/32", [10, 255, 0, 1], &[65001]);
        rib.send(RibInput::Received {
            peer: "node-1".into(),
            announced: vec![kept.clone(), dropped],
            withdrawn: vec![],
            read_at: Instant::now(),
        });
        assert_eq!(rib.query(None).await.len(), 2);
        // The session keeps 192.0.2.10/32 stale (RFC 4724 §4.2) and drops the other.
        rib.send(RibInput::Down {
            peer: "node-1".into(),
            kept: vec![kept],
        });
        let snap = rib.query(None).await;
        let prefixes: Vec<&str> = snap.iter().map(|e| e.entry.prefix.as_str()).collect();
        assert_eq!(prefixes, ["192.0.2.10/32"]);
        // The stale route leaves through Received (End-of-RIB or the restart timer).
        rib.send(RibInput::Received {
            peer: "node-1".into(),
            announced: vec![],
            withdrawn: vec![Nlri::new("192.0.2.10/32".parse().unwrap())],
            read_at: Instant::now(),
        });
        assert!(rib.query(None).await.is_empty());
    }

    #[tokio::test]
    async fn the_as_path_shown_comes_from_the_peers_adj_rib_in() {
        let rib = spawn(RibConfig::default());
        rib.send(RibInput::Up {
            peer: "node-1".into(),
            info: info(1),
        });
        let received = Route {
            nlri: Nlri::new("192.0.2.10/32".parse().unwrap()),
            next_hop: NextHop::V4(Ipv4Addr::new(10, 255, 0, 1)),
            attrs: Arc::new(PathAttributes {
                as_path: AsPath::from_sequence([65001, 65100]),
                ..PathAttributes::default()
            }),
        };
        rib.send(RibInput::Received {
            peer: "node-1".into(),
            announced: vec![RibRoute::from(&received)],
            withdrawn: vec![],
            read_at: Instant::now(),
        });
        // A stand-in for the peer task: answers from its "Adj-RIB-In" of one route.
        let (tx, mut rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                if let crate::peer::PeerCommand::ReceivedRoutes(nlri, reply) = cmd {
                    let found = nlri
                        .iter()
                        .map(|n| (*n == received.nlri).then(|| received.clone()))
                        .collect();
                    let _ = reply.send(found);
                }
            }
        });
        let peers = BTreeMap::from([("node-1".to_string(), tx)]);
        let snaps = rib.query(None).await;
        assert_eq!(
            snaps[0].entry.paths[0].as_path, "",
            "not kept in the Loc-RIB"
        );
        let entries = crate::peer::fill_as_paths(snaps, &peers).await;
        assert_eq!(entries[0].paths[0].as_path, "65001 65100");
        assert_eq!(entries[0].paths[0].neighbour_as, 65001);
    }

    #[tokio::test]
    async fn senders_see_the_bound_and_room_comes_back_when_the_task_drains() {
        // Single-threaded runtime: the Loc-RIB task runs only when this test awaits.
        let rib = spawn(RibConfig::default());
        assert!(rib.has_room());
        let withdrawn = vec![Nlri::new("192.0.2.10/32".parse().unwrap()); RIB_IN_FLIGHT];
        rib.send(RibInput::Received {
            peer: "node-1".into(),
            announced: vec![],
            withdrawn,
            read_at: Instant::now(),
        });
        assert!(!rib.has_room(), "{RIB_IN_FLIGHT} routes wait: full");
        tokio::time::timeout(std::time::Duration::from_secs(10), rib.room())
            .await
            .expect("room once the task has applied them");
        assert!(rib.has_room());
    }
}
