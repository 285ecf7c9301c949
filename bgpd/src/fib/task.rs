//! The FIB thread: the one owner of the [`Fib`] (it blocks on netlink, so it runs on a
//! thread of its own, not on the tokio runtime).
//!
//! - **Loc-RIB batches.** Each batch of [`FibChange`]s from
//!   [`crate::locrib::RibHandle::subscribe`] is one [`Fib::apply_rib`] call: a node leaving
//!   changes every prefix it served in one batch, so their shared group changes in place once.
//! - **Next-hop reachability** (issue 16 item 4). The owner of "is this next hop usable" is
//!   this thread ([`Fib::next_hop_usable`]: a connected route and a device that is up with
//!   carrier); the owner of what follows from it is the Loc-RIB (RFC 4271 §9.1.2: a path
//!   whose NEXT_HOP is unreachable is not selected), told with
//!   [`RibInput::NextHopReachable`]. The thread re-checks every next hop it knows on each
//!   link or address event ([`super::monitor`]) and each new next hop after a batch. The
//!   kernel itself drops a next hop from its groups the moment its device goes down; the
//!   Loc-RIB's next batch then agrees with the kernel, and when the link returns the Loc-RIB
//!   puts the next hop back and the group takes it back in place.
//! - **Sweep.** Routes adopted from an earlier run (`retain_on_stop`) that no peer sends again
//!   are removed once the routing table has converged: [`FibHandle::sweep`], which the daemon
//!   calls when every configured peer is Established plus [`SETTLE`] (their UPDATEs and
//!   End-of-RIB follow within milliseconds), or [`SWEEP_DEADLINE`] after start at the latest.
//! - **Selection deferral after a restart** (RFC 4724 §4.1). When [`Fib::open`] adopted
//!   routes (an earlier run kept them with `retain_on_stop`), the Loc-RIB's batches are held
//!   until the sweep and then applied as one batch: the first peer back would otherwise shrink
//!   every shared group to its own next hop and move the buckets of all the others. A start
//!   without leftovers programs each batch at once.
//! - **Stop.** [`FibHandle::stop`] runs [`Fib::stop`] (removes our routes, or keeps them with
//!   `retain_on_stop`) and ends the thread; batches after it are ignored, so the sessions
//!   closing at shutdown do not empty a retained FIB.
//! - Every [`TICK`] the thread dumps the buckets of its resilient groups
//!   (`bgpd_fib_bucket_moves_total`). The metrics text is rendered by this thread after each
//!   change and read by the metrics endpoint ([`FibHandle::metrics`]).
//!
//! A FIB error never stops the thread: [`Fib`] logs it with the prefix, counts it, and leaves
//! that route as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bgp_rib::FibChange;
use ipnet::IpNet;
use tokio::sync::{oneshot, watch};
use tracing::{error, info, warn};

use super::{Fib, FibError, FibSettings, GroupKind, RouteTarget};
use crate::api;
use crate::locrib::{RibBatch, RibHandle, RibInput};
use crate::metrics::Histogram;
use crate::metrics::TextWriter;

/// How often the bucket dump runs.
pub const TICK: Duration = Duration::from_secs(10);
/// Wait after the last configured peer is Established before the sweep.
pub const SETTLE: Duration = Duration::from_secs(5);
/// The sweep runs at the latest this long after start, peers up or not.
pub const SWEEP_DEADLINE: Duration = Duration::from_secs(120);

/// Where the FIB thread records its timeline events (`bgpctl events`, kind "fib"); the
/// control server provides it. Each call is one sentence, and whether the FIB has logged it
/// already (the timeline logs the others).
pub type FibEventSink = Arc<dyn Fn(String, bool) + Send + Sync>;

/// Prefixes named one by one in a batch's event; a larger batch is summarised.
const EVENT_PREFIXES: usize = 8;

enum Input {
    Rib(RibBatch),
    Events(FibEventSink),
    Links,
    Sweep,
    Query(oneshot::Sender<api::FibView>),
    Stop(oneshot::Sender<()>),
}

/// The daemon's side of the FIB thread.
#[derive(Clone)]
pub struct FibHandle {
    tx: mpsc::Sender<Input>,
    metrics: Arc<Mutex<String>>,
}

impl FibHandle {
    /// Opens the FIB (adopting an earlier run's routes), starts the thread, subscribes it to
    /// `rib` and follows link events. `Err` when the kernel FIB cannot be used (the daemon
    /// then runs without one; the error says why).
    pub fn start(settings: FibSettings, rib: RibHandle) -> Result<FibHandle, FibError> {
        let fib = Fib::open(settings)?;
        let (tx, rx) = mpsc::channel();
        let metrics = Arc::new(Mutex::new(String::new()));
        let handle = FibHandle {
            tx: tx.clone(),
            metrics: metrics.clone(),
        };
        let to_rib = rib.clone();
        thread::Builder::new()
            .name("fib".into())
            .spawn(move || run(fib, rx, to_rib, metrics))
            .map_err(|e| FibError::Socket(format!("cannot start the FIB thread: {e}")))?;
        // Loc-RIB batches, in order, one input each.
        let mut changes = rib.subscribe();
        let batches = tx.clone();
        tokio::spawn(async move {
            while let Some(batch) = changes.recv().await {
                if batches.send(Input::Rib(batch)).is_err() {
                    return;
                }
            }
        });
        let links = tx;
        if let Err(e) = super::monitor::spawn(move || links.send(Input::Links).is_ok()) {
            error!("fib: cannot follow link events ({e}); a next hop whose link goes down is removed by the kernel but not put back when it returns");
        }
        Ok(handle)
    }

    /// Records FIB changes and refusals in the event timeline from now on.
    pub fn set_events(&self, sink: FibEventSink) {
        let _ = self.tx.send(Input::Events(sink));
    }

    /// Removes the routes adopted at start that the Loc-RIB has not set again.
    pub fn sweep(&self) {
        let _ = self.tx.send(Input::Sweep);
    }

    /// What is programmed, from the thread's mirror.
    pub async fn view(&self) -> Option<api::FibView> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Input::Query(reply)).ok()?;
        rx.await.ok()
    }

    /// The `bgpd_fib_*` metric families as of the last change.
    pub fn metrics(&self) -> String {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Stops the FIB ([`Fib::stop`]) and waits for the thread (at most `timeout`).
    pub async fn stop(&self, timeout: Duration) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Input::Stop(reply)).is_ok() {
            let _ = tokio::time::timeout(timeout, rx).await;
        }
    }
}

struct Worker {
    fib: Fib,
    rib: RibHandle,
    /// Every next hop seen, and whether it was usable at the last check.
    usable: BTreeMap<IpAddr, bool>,
    metrics: Arc<Mutex<String>>,
    swept: bool,
    /// Batches held until the sweep (RFC 4724 §4.1 deferral), latest change per prefix;
    /// `None` once programming is immediate.
    deferred: Option<BTreeMap<IpNet, FibChange>>,
    /// From an UPDATE read to its changes programmed (`bgpd_fib_update_to_kernel_seconds`).
    update_to_kernel: Histogram,
    /// The event timeline, once the control server has attached it.
    events: Option<FibEventSink>,
}

fn run(fib: Fib, rx: mpsc::Receiver<Input>, rib: RibHandle, metrics: Arc<Mutex<String>>) {
    let deferred = (fib.adopted() > 0).then(BTreeMap::new);
    let mut w = Worker {
        fib,
        rib,
        usable: BTreeMap::new(),
        metrics,
        swept: false,
        deferred,
        update_to_kernel: Histogram::default(),
        events: None,
    };
    w.render();
    let mut next_tick = Instant::now() + TICK;
    loop {
        let input = match rx.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + TICK;
                if let Err(e) = w.fib.count_bucket_moves() {
                    warn!("fib: bucket dump failed: {e}");
                }
                w.render();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        match input {
            Input::Rib(batch) => w.rib_batch(batch),
            Input::Links => {
                // One check for a burst of events.
                let mut rest = Vec::new();
                while let Ok(more) = rx.try_recv() {
                    if !matches!(more, Input::Links) {
                        rest.push(more);
                    }
                }
                w.links_changed();
                for i in rest {
                    if w.handle_other(i) {
                        return;
                    }
                }
            }
            other => {
                if w.handle_other(other) {
                    return;
                }
            }
        }
        w.render();
    }
}

impl Worker {
    /// Handles an input other than `Links`; true when the thread must end.
    fn handle_other(&mut self, input: Input) -> bool {
        match input {
            Input::Rib(batch) => self.rib_batch(batch),
            Input::Links => self.links_changed(),
            Input::Sweep => {
                if !self.swept {
                    self.swept = true;
                    if let Some(held) = self.deferred.take() {
                        info!(
                            "fib: converged after the restart: programming {} deferred change(s) as one batch",
                            held.len()
                        );
                        self.fib.apply_rib(held.into_values().collect());
                        self.check_new_next_hops();
                    }
                    let n = self.fib.adopted();
                    let a = self.fib.sweep();
                    info!(
                        "fib: converged; {n} adopted route(s) no peer sent again removed ({} kernel operations)",
                        a.ops
                    );
                }
            }
            Input::Query(reply) => {
                let _ = reply.send(self.view());
            }
            Input::Events(sink) => self.events = Some(sink),
            Input::Stop(reply) => {
                self.fib.shut_down();
                let _ = reply.send(());
                return true;
            }
        }
        false
    }

    fn rib_batch(&mut self, batch: RibBatch) {
        if let Some(held) = &mut self.deferred {
            for c in batch.changes {
                held.insert(c.prefix(), c);
            }
            return;
        }
        let sentences = self
            .events
            .as_ref()
            .map(|_| change_sentences(&batch.changes));
        let applied = self.fib.apply_rib(batch.changes);
        if let Some(at) = batch.read_at {
            self.update_to_kernel.observe(at.elapsed());
        }
        if let Some(sink) = &self.events {
            let refused: BTreeSet<IpNet> = applied.errors.iter().map(|(p, _)| *p).collect();
            for (prefix, sentence) in sentences.unwrap_or_default() {
                if prefix.is_none_or(|p| !refused.contains(&p)) {
                    sink(sentence, false);
                }
            }
            for (prefix, e) in &applied.errors {
                // The same sentence the FIB logged.
                sink(
                    format!("fib: {prefix} not programmed, its route is left as it was: {e}"),
                    true,
                );
            }
        }
        self.check_new_next_hops();
    }

    /// Records a sentence in the event timeline (when attached).
    fn event(&self, sentence: String) {
        if let Some(sink) = &self.events {
            sink(sentence, false);
        }
    }

    /// Next hops named for the first time: checked once, so one that is unusable from the
    /// start leaves the Loc-RIB's sets (and its prefixes are programmed without it).
    fn check_new_next_hops(&mut self) {
        let new: Vec<IpAddr> = self
            .fib
            .wanted_next_hops()
            .into_iter()
            .filter(|a| !self.usable.contains_key(a))
            .collect();
        for a in new {
            match self.fib.next_hop_usable(a) {
                Ok(ok) => {
                    self.usable.insert(a, ok);
                    if !ok {
                        warn!("fib: next hop {a} is not usable (no connected route, or its link is down): its paths are left out until it is");
                        self.rib.send(RibInput::NextHopReachable {
                            next_hop: a,
                            reachable: false,
                        });
                    }
                }
                Err(e) => warn!("fib: {e}"),
            }
        }
    }

    /// A link or address changed: re-read our objects (the kernel drops next hops whose device
    /// goes down) and tell the Loc-RIB which next hops changed.
    fn links_changed(&mut self) {
        if let Err(e) = self.fib.resync() {
            warn!("fib: cannot re-read the kernel after a link event: {e}");
        }
        for a in self.fib.wanted_next_hops() {
            self.usable.entry(a).or_insert(true);
        }
        let known: Vec<IpAddr> = self.usable.keys().copied().collect();
        for a in known {
            let now = match self.fib.next_hop_usable(a) {
                Ok(ok) => ok,
                Err(e) => {
                    warn!("fib: {e}");
                    continue;
                }
            };
            if self.usable.insert(a, now) != Some(now) {
                let sentence = if now {
                    format!("fib: next hop {a} is usable again: it rejoins its groups")
                } else {
                    format!("fib: next hop {a} is no longer usable (link down or no connected route): it leaves every group")
                };
                // The timeline logs its sentences itself.
                if self.events.is_some() {
                    self.event(sentence);
                } else if now {
                    info!("{sentence}");
                } else {
                    warn!("{sentence}");
                }
                self.rib.send(RibInput::NextHopReachable {
                    next_hop: a,
                    reachable: now,
                });
            }
        }
        // Next hops nobody wants any more and that are usable are forgotten.
        let wanted = self.fib.wanted_next_hops();
        self.usable.retain(|a, ok| wanted.contains(a) || !*ok);
    }

    fn view(&self) -> api::FibView {
        let state = self.fib.state();
        let s = self.fib.settings();
        let routes = state
            .routes
            .iter()
            .map(|(prefix, target)| {
                let (group, kind, next_hops) = match target {
                    RouteTarget::Group(id) => match state.groups.get(id) {
                        Some(g) => (
                            Some(*id),
                            match g.kind {
                                GroupKind::Resilient { .. } => "resilient",
                                GroupKind::Multipath => "multipath",
                            },
                            g.members
                                .iter()
                                .map(|(m, w)| api::FibMemberInfo {
                                    next_hop: state
                                        .nexthops
                                        .get(m)
                                        .map(|n| n.gateway.to_string())
                                        .unwrap_or_default(),
                                    id: *m,
                                    weight: w.get(),
                                })
                                .collect(),
                        ),
                        None => (Some(*id), "other", Vec::new()),
                    },
                    RouteTarget::Other { .. } => (None, "other", Vec::new()),
                };
                api::FibRouteInfo {
                    prefix: prefix.to_string(),
                    group,
                    kind: kind.to_string(),
                    next_hops,
                }
            })
            .collect();
        api::FibView {
            table: s.table,
            protocol: s.protocol,
            groups: state.groups.len(),
            nexthops: state.nexthops.len(),
            swept: self.swept,
            adopted: self.fib.adopted(),
            update_to_kernel_median_us: self
                .update_to_kernel
                .median()
                .map(|d| d.as_micros() as u64),
            program_median_us: self
                .fib
                .stats()
                .latency
                .median()
                .map(|d| d.as_micros() as u64),
            unreachable: self
                .usable
                .iter()
                .filter(|(_, ok)| !**ok)
                .map(|(a, _)| a.to_string())
                .collect(),
            routes,
        }
    }

    fn render(&self) {
        let mut w = TextWriter::default();
        self.fib.write_metrics(&mut w);
        w.family(
            "bgpd_fib_next_hop_unusable",
            "gauge",
            "Next hops left out of every group because their link is down or they have no connected route.",
        );
        let n = self.usable.values().filter(|ok| !**ok).count();
        w.sample("bgpd_fib_next_hop_unusable", &[], n);
        w.family(
            "bgpd_fib_update_to_kernel_seconds",
            "histogram",
            "From a received UPDATE (its routes taken from the session) to its forwarding changes programmed in the kernel.",
        );
        self.update_to_kernel
            .write(&mut w, "bgpd_fib_update_to_kernel_seconds", "");
        if let Ok(mut m) = self.metrics.lock() {
            *m = w.out;
        }
    }
}

/// Tells the FIB the routing table has converged after start: when every one of the
/// `configured` peers is Established, plus [`SETTLE`] for their UPDATEs and
/// End-of-RIB, or [`SWEEP_DEADLINE`] after start at the latest. Adopted
/// routes that no peer sent again are then removed (docs/fib.md).
pub async fn sweep_when_converged(
    fib: FibHandle,
    mut statuses: watch::Receiver<BTreeMap<String, watch::Receiver<crate::status::PeerStatus>>>,
    configured: usize,
) {
    let all_up = async {
        loop {
            let up = {
                let map = statuses.borrow();
                map.len() >= configured
                    && map
                        .values()
                        .all(|s| s.borrow().state == bgp_fsm::State::Established)
            };
            if up {
                return;
            }
            // Poll: a peer's own status channel changes without the map changing.
            tokio::select! {
                _ = statuses.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    };
    if tokio::time::timeout(SWEEP_DEADLINE, all_up).await.is_ok() {
        tokio::time::sleep(SETTLE).await;
    }
    fib.sweep();
}

/// The timeline sentences for one Loc-RIB batch: one per prefix for a small batch (with the
/// prefix, so a refused one can be left out), one summary for a large one.
fn change_sentences(changes: &[FibChange]) -> Vec<(Option<IpNet>, String)> {
    if changes.len() > EVENT_PREFIXES {
        let removed = changes
            .iter()
            .filter(|c| matches!(c, FibChange::Remove { .. }))
            .count();
        return vec![(
            None,
            format!(
                "fib: {} prefixes changed ({} set, {removed} removed)",
                changes.len(),
                changes.len() - removed
            ),
        )];
    }
    changes
        .iter()
        .map(|c| match c {
            FibChange::Set { prefix, next_hops } => {
                let hops: Vec<String> = next_hops
                    .iter()
                    .map(|(a, w)| format!("{a} (weight {w})"))
                    .collect();
                (
                    Some(*prefix),
                    format!("fib: {prefix} via {}", hops.join(", ")),
                )
            }
            FibChange::Remove { prefix } => (Some(*prefix), format!("fib: {prefix} removed")),
        })
        .collect()
}
