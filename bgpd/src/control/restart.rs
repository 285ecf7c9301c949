//! Nothing lost across a restart (issue 13): the state file ([`crate::statefile`]) restored
//! at start and saved after every accepted change, and the End-of-RIB readiness that the
//! peer tasks pass to their sessions ([`Announcements::complete`],
//! `bgp_fsm::Event::RoutesComplete`).
//!
//! Every route bgpd will announce is known when the runtime state is restored (at start,
//! before any session exists), every health-check target has its first verdict since the
//! start, and no `bgpctl sync begin` is open; or, whatever is still missing, once
//! `global.graceful_restart_deferral` has passed since the start (or since `sync begin`).

use super::*;
use crate::statefile::{self, HealthVerdict, RestoredGroup, Writer};

/// What the state file gave at start, applied by [`Ops::start`].
#[derive(Default)]
pub(super) struct Restored {
    pub(super) runtime: RuntimeTable,
    pub(super) suppressed: BTreeMap<IpNet, SystemTime>,
    /// (service, target description) -> up.
    pub(super) health: HashMap<(String, String), bool>,
    /// Peers shut down by the operator, with the message.
    pub(super) admin_down: BTreeMap<String, String>,
    pub(super) drained_peers: std::collections::BTreeSet<String>,
}

/// Opens the state directory and reads its file (logging what happened); returns the writer
/// for later changes and what to restore. Never fails: a bad directory or file is logged and
/// bgpd starts from the configuration only.
pub(super) fn open(config: &Config) -> (Writer, Restored) {
    let dir = config.global.state_dir.clone();
    if let Err(e) = statefile::ensure_dir(&dir) {
        let why = format!("the state directory {} is not usable: {e}", dir.display());
        error!(
            "{why}; starting from the configuration only, and runtime changes will not \
             survive a restart"
        );
        return (Writer::start(dir, Some(why)), Restored::default());
    }
    let writer = Writer::start(dir.clone(), None);
    let (snapshot, groups) = match statefile::load(&dir) {
        Ok(Some(loaded)) => loaded,
        Ok(None) => {
            info!(
                "no state file at {}: starting from the configuration",
                statefile::path_in(&dir).display()
            );
            return (writer, Restored::default());
        }
        Err(e) => {
            match statefile::set_aside(&dir) {
                Ok(to) => error!(
                    "{e}; moved it to {} and starting from the configuration only",
                    to.display()
                ),
                Err(m) => error!(
                    "{e}; it could not be moved aside ({m}); starting from the configuration \
                     only"
                ),
            }
            return (writer, Restored::default());
        }
    };
    let mut restored = Restored::default();
    let mut runtime_count = 0usize;
    for g in groups {
        match restore_group(&g, config) {
            Ok((prefixes, spec)) => {
                runtime_count += prefixes.len();
                restored.runtime.insert_many(&prefixes, spec);
            }
            Err(e) => warn!(
                "state file: {} runtime service{} ({}{}) not restored: {e}",
                g.prefixes.len(),
                plural(g.prefixes.len()),
                g.prefixes
                    .first()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                if g.prefixes.len() > 1 { ", ..." } else { "" },
            ),
        }
    }
    let configured: HashSet<IpNet> = config.services.iter().map(|s| s.prefix.trunc()).collect();
    for s in &snapshot.suppressed {
        if configured.contains(&s.prefix) {
            restored.suppressed.insert(
                s.prefix,
                std::time::UNIX_EPOCH + Duration::from_secs(s.since),
            );
        }
    }
    for h in snapshot.health {
        restored.health.insert((h.service, h.target), h.up);
    }
    for p in snapshot.peers {
        if config.peer(&p.name).is_none() {
            continue;
        }
        if let Some(message) = p.shutdown {
            warn!(
                "peer {} stays shut down (bgpctl neighbor {} shutdown before the restart; \
                 `bgpctl neighbor {} enable` starts it)",
                p.name, p.name, p.name
            );
            restored.admin_down.insert(p.name.clone(), message);
        }
        if p.drained {
            restored.drained_peers.insert(p.name);
        }
    }
    info!(
        "restored from {}: {runtime_count} runtime service{}, {} withdrawn configured \
         service{}, {} health verdict{}",
        statefile::path_in(&dir).display(),
        plural(runtime_count),
        restored.suppressed.len(),
        if restored.suppressed.len() == 1 {
            ""
        } else {
            "s"
        },
        restored.health.len(),
        plural(restored.health.len()),
    );
    (writer, restored)
}

/// One saved request, rebuilt the way `bgpctl announce` builds it (against today's
/// configuration: a peer it named may be gone).
fn restore_group(
    g: &RestoredGroup,
    config: &Config,
) -> Result<(Vec<IpNet>, Arc<RuntimeSpec>), String> {
    let first = g.prefixes.first().ok_or("no prefixes")?;
    let args = api::AnnounceArgs {
        prefix: first.to_string(),
        ..g.request.clone()
    };
    let service = runtime_service(&args, &g.prefixes, config)?;
    Ok((
        g.prefixes.clone(),
        Arc::new(RuntimeSpec {
            service,
            since: g.since,
            request: g.request.clone(),
        }),
    ))
}

impl State {
    /// The part of the state the file keeps.
    pub(super) fn saved(&self) -> statefile::State {
        let mut health = Vec::new();
        for (service, h) in &self.health {
            for t in &h.targets {
                let up = match t.machine.state() {
                    Health::Up => true,
                    Health::Down => false,
                    Health::Init => continue,
                };
                health.push(HealthVerdict {
                    service: service.clone(),
                    target: t.target.describe(),
                    up,
                });
            }
        }
        let mut peers: BTreeMap<&String, statefile::PeerState> = BTreeMap::new();
        for (name, message) in &self.admin_down {
            peers
                .entry(name)
                .or_insert_with(|| statefile::PeerState::new(name))
                .shutdown = Some(message.clone());
        }
        for name in self.drained_peers.iter() {
            peers
                .entry(name)
                .or_insert_with(|| statefile::PeerState::new(name))
                .drained = true;
        }
        statefile::State {
            runtime: self.runtime.clone(),
            suppressed: self.suppressed.iter().map(|(p, t)| (*p, *t)).collect(),
            health,
            peers: peers.into_values().collect(),
        }
    }

    /// Every route to announce is known (see the module docs).
    pub(super) fn routes_complete(&self) -> bool {
        let now = Instant::now();
        if now.saturating_duration_since(self.started) >= self.config.global.deferral() {
            return true;
        }
        if self.sync_until.is_some_and(|until| now < until) {
            return false;
        }
        self.health.values().all(|h| {
            h.disabled
                || h.targets
                    .iter()
                    .all(|t| t.probed && t.machine.state() != Health::Init)
        })
    }
}

impl Shared {
    /// Queues the current state for the state file; returns the generation to wait for.
    pub(super) fn save_state(&self) -> Option<u64> {
        let saved = self.lock().saved();
        self.writer.as_ref().map(|w| w.save(saved))
    }

    /// Saves the state and waits until it is on disk; `Err` says why it is not.
    pub(super) async fn save_state_and_wait(&self) -> Result<(), String> {
        match (self.save_state(), self.writer.as_ref()) {
            (Some(generation), Some(w)) => w.written(generation).await,
            _ => Ok(()),
        }
    }

    /// The End-of-RIB readiness may have changed: hand the peers the new value (routes are
    /// the same, so no events).
    pub(super) fn readiness_changed(&self) {
        let changed = {
            let mut st = self.lock();
            let complete = st.routes_complete();
            if st.last.complete == complete {
                false
            } else {
                let mut last = (*st.last).clone();
                last.complete = complete;
                st.last = Arc::new(last);
                true
            }
        };
        if changed {
            let _ = self.tx.send(DaemonCommand::Resync);
        }
    }

    /// `bgpctl sync begin`: hold End-of-RIB until `sync end` or the deferral time.
    pub(super) fn sync_begin(self: &Arc<Self>) -> Response {
        let limit = {
            let mut st = self.lock();
            let limit = st.config.global.deferral();
            st.sync_until = Some(Instant::now() + limit);
            limit
        };
        self.events.record(
            Kind::Api,
            None,
            None,
            format!(
                "bgpctl sync begin: End-of-RIB held for sessions after the restart until \
                 `bgpctl sync end` (at most {})",
                api::HumanDuration(limit)
            ),
        );
        self.readiness_changed();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            if let Some(s) = weak.upgrade() {
                s.readiness_changed();
            }
        });
        Response::ok(api::SyncResult {
            holding: true,
            message: format!(
                "End-of-RIB held until `bgpctl sync end` (at most {})",
                api::HumanDuration(limit)
            ),
            waiting_peers: self.peers_holding_end_of_rib(),
        })
    }

    /// `bgpctl sync end`: the controller has fed every route.
    pub(super) fn sync_end(&self) -> Response {
        let was = self.lock().sync_until.take().is_some();
        self.events.record(
            Kind::Api,
            None,
            None,
            "bgpctl sync end: every route is known".into(),
        );
        self.readiness_changed();
        Response::ok(api::SyncResult {
            holding: false,
            message: if was {
                "End-of-RIB released".into()
            } else {
                "no sync was open; nothing held".into()
            },
            waiting_peers: Vec::new(),
        })
    }

    /// Peers whose session holds End-of-RIB back right now.
    pub(super) fn peers_holding_end_of_rib(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|(_, s)| s.end_of_rib_pending)
            .map(|(n, _)| n)
            .collect()
    }
}
