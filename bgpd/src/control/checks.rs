//! Health checks as control holds them: one probe task per target, the rise/fall machine of
//! each, and the verdict changes that make control decide again.

use super::*;

pub(super) struct TargetState {
    pub(super) target: Target,
    pub(super) machine: Hysteresis,
    /// A probe ran since the start (End-of-RIB readiness, restart.rs).
    pub(super) probed: bool,
    pub(super) since: SystemTime,
    pub(super) last_result: Option<String>,
}

pub(super) struct ServiceHealth {
    pub(super) check: crate::config::HealthCheck,
    pub(super) nexthops: Arc<[NextHopSpec]>,
    pub(super) targets: Vec<TargetState>,
    pub(super) disabled: bool,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

impl Drop for ServiceHealth {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Shared {
    /// (Re)starts the health check tasks so they match the configuration; keeps the state
    /// of services whose check and next hops did not change.
    pub(super) fn reconcile_health(self: &Arc<Self>) {
        let mut st = self.lock();
        let wanted: BTreeMap<String, Service> = st
            .config
            .services
            .iter()
            .filter(|s| s.health.is_some())
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        // A check whose settings changed is rebuilt; each of its targets that is still probed
        // the same way keeps its verdict (issue 14: editing `interval` or `rise` must not
        // withdraw a healthy service until the check passes again).
        let mut carried: HashMap<(String, String), (bool, SystemTime)> = HashMap::new();
        st.health.retain(|name, h| {
            let keep = wanted
                .get(name)
                .is_some_and(|s| s.health.as_deref() == Some(&h.check) && s.nexthops == h.nexthops);
            if !keep {
                for t in &h.targets {
                    let up = match t.machine.state() {
                        Health::Up => true,
                        Health::Down => false,
                        Health::Init => continue,
                    };
                    carried.insert((name.clone(), t.target.describe()), (up, t.since));
                }
            }
            keep
        });
        for (name, svc) in wanted {
            if st.health.contains_key(&name) {
                continue;
            }
            let Some(check) = svc.health.as_deref().cloned() else {
                continue;
            };
            let targets = health::targets(&check.probe, &svc.nexthops, svc.prefix.addr().is_ipv6());
            let mut tasks = Vec::new();
            for (i, t) in targets.iter().enumerate() {
                tasks.push(tokio::spawn(run_check(
                    Arc::downgrade(self),
                    name.clone(),
                    i,
                    t.probe.clone(),
                    check.clone(),
                )));
            }
            let states = targets
                .into_iter()
                .map(|target| {
                    let key = (name.clone(), target.describe());
                    // An edited check keeps the verdict of an unchanged target (it counts as
                    // probed); a restarted bgpd starts from its last saved verdict (issue 13).
                    let (machine, probed, since) = match carried.get(&key) {
                        Some(&(up, since)) => (
                            Hysteresis::restored(check.rise, check.fall, up),
                            true,
                            since,
                        ),
                        None => match st.restored_health.get(&key) {
                            Some(&up) => (
                                Hysteresis::restored(check.rise, check.fall, up),
                                false,
                                SystemTime::now(),
                            ),
                            None => (
                                Hysteresis::new(check.rise, check.fall),
                                false,
                                SystemTime::now(),
                            ),
                        },
                    };
                    TargetState {
                        machine,
                        target,
                        probed,
                        since,
                        last_result: None,
                    }
                })
                .collect();
            st.health.insert(
                name,
                ServiceHealth {
                    check,
                    nexthops: svc.nexthops.clone(),
                    targets: states,
                    disabled: false,
                    tasks,
                },
            );
        }
    }

    /// One probe result (or the disable file's presence) for a target.
    pub(super) fn health_result(
        &self,
        service: &str,
        index: usize,
        disabled: bool,
        result: Result<String, String>,
    ) {
        let mut messages = Vec::new();
        let mut first_probe = false;
        {
            let mut st = self.lock();
            let Some(h) = st.health.get_mut(service) else {
                return;
            };
            if disabled != h.disabled {
                h.disabled = disabled;
                messages.push(match (disabled, &h.check.disable_file) {
                    (true, Some(f)) => format!(
                        "service {service} disabled: {} exists (withdrawn whatever the check says)",
                        f.display()
                    ),
                    _ => format!("service {service} enabled again: the disable file is gone"),
                });
            }
            if !disabled {
                let nexthops = h.nexthops.clone();
                let Some(t) = h.targets.get_mut(index) else {
                    return;
                };
                let ok = result.is_ok();
                first_probe |= !std::mem::replace(&mut t.probed, true);
                let text = match &result {
                    Ok(s) | Err(s) => s.clone(),
                };
                t.last_result = Some(if ok {
                    format!("ok: {text}")
                } else {
                    format!("failed: {text}")
                });
                if let Some(new) = t.machine.observe(ok) {
                    t.since = SystemTime::now();
                    let what = match t.target.nexthop.and_then(|i| nexthops.get(i)) {
                        Some(nh) => format!("service {service} next hop {nh}"),
                        None => format!("service {service}"),
                    };
                    messages.push(format!(
                        "{what} health {}: {} ({text})",
                        new.as_str(),
                        t.target.describe()
                    ));
                }
            }
        }
        if messages.is_empty() {
            if first_probe {
                self.readiness_changed();
            }
            return;
        }
        for m in messages {
            self.events.record(Kind::Health, None, Some(service), m);
        }
        self.routes_changed(Trigger::HealthCheck);
        // The new verdict survives a restart (no one waits for the write).
        self.save_state();
    }
}
