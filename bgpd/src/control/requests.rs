//! Control API requests: one handler per `bgpctl` command.

use super::*;

impl Shared {
    pub(super) async fn handle(self: &Arc<Self>, cmd: Command) -> Response {
        match cmd {
            Command::Neighbors => Response::ok(self.neighbors(None)),
            Command::Neighbor { name } => {
                let list = self.neighbors(Some(&name));
                match list.into_iter().next() {
                    Some(n) => Response::ok(n),
                    None => Response::error(format!("no peer named {name:?}")),
                }
            }
            Command::Routes {
                best: true,
                peer,
                prefix,
                ..
            } => self.loc_rib(peer, prefix).await,
            Command::Routes { peer, received, .. } => self.routes(peer, received).await,
            Command::Services => Response::ok(self.services_info().await),
            Command::Announce(args) => self.saved(self.announce(args).await).await,
            Command::Withdraw { prefix } => self.saved(self.withdraw(&prefix).await).await,
            Command::AnnounceMany(args) => self.saved(self.announce_many(args).await).await,
            Command::WithdrawMany { prefixes } => {
                self.saved(self.withdraw_many(prefixes).await).await
            }
            Command::WithdrawAll => self.saved(self.withdraw_all().await).await,
            Command::Runtime => Response::ok(self.runtime_list()),
            Command::NeighborOp { name, op } => self.neighbor_op(&name, op).await,
            Command::Config => Response::ok(api::RunningConfig {
                toml: self.lock().config.to_toml(),
            }),
            Command::SyncBegin => self.sync_begin(),
            Command::SyncEnd => self.sync_end(),
            Command::Events { since_ms, .. } => {
                Response::ok(self.events.list(since_ms.map(Duration::from_millis)))
            }
            Command::Explain { prefix } => self.explain(&prefix).await,
            Command::Drain { time_ms } => self.drain(time_ms.map(Duration::from_millis)),
            Command::Undrain => self.undrain(),
            Command::Fib => {
                let fib = self.fib.lock().ok().and_then(|f| f.clone());
                match fib {
                    Some(f) => match f.view().await {
                        Some(v) => Response::ok(v),
                        None => Response::error("the FIB thread has stopped"),
                    },
                    None => Response::error(
                        "no kernel FIB: [fib] is not configured, or it could not be opened (see the log)",
                    ),
                }
            }
        }
    }

    pub(super) fn neighbors(&self, only: Option<&str>) -> Vec<api::Neighbor> {
        let statuses = self.statuses();
        let bfd = self.bfd_statuses();
        let st = self.lock();
        st.config
            .peers
            .iter()
            .filter(|p| only.is_none_or(|n| p.name == n || p.address.to_string() == n))
            .map(|p| {
                let mut n = neighbor_info(
                    &st.config,
                    p,
                    statuses.get(&p.name),
                    statuses.get(&p.name).map(|s| s.unsent_nlri).unwrap_or(0),
                    st.drain == DrainPhase::Drained,
                );
                n.admin_down = st.admin_down.get(&p.name).cloned();
                if n.admin_down.is_some() && n.state == "Idle" {
                    n.state = "Idle (shut down)".into();
                }
                n.peer_drained = st.drained_peers.contains(&p.name);
                n
            })
            .map(|mut n| {
                n.bfd = bfd.get(&n.name).map(bfd_info);
                n
            })
            .collect()
    }

    pub(super) async fn routes(&self, peer: Option<String>, received: bool) -> Response {
        let names: Vec<String> = {
            let st = self.lock();
            if let Some(p) = &peer {
                if st.config.peer(p).is_none() {
                    return Response::error(format!("no peer named {p:?}"));
                }
            }
            st.config
                .peers
                .iter()
                .filter(|p| peer.as_ref().is_none_or(|n| *n == p.name))
                .map(|p| p.name.clone())
                .collect()
        };
        let effective = self.lock().last.clone();
        let mut out = Vec::new();
        for name in names {
            let routes = match self.adj_rib(&name, received).await {
                Ok(Some(routes)) => routes,
                Ok(None) => continue,
                Err(e) => return Response::error(e),
            };
            for r in routes {
                let svc = (!received)
                    .then(|| service_of(&effective, r.nlri.prefix, &name))
                    .flatten();
                let dir = if received { "in" } else { "out" };
                out.push(route_info(&name, dir, &r.nlri, &r.next_hop, &r.attrs, svc));
            }
        }
        Response::ok(out)
    }

    /// A copy of `peer`'s Adj-RIB-In (`received`) or Adj-RIB-Out from its task; `None` for
    /// a peer that is not running or does not answer in time.
    async fn adj_rib(
        &self,
        peer: &str,
        received: bool,
    ) -> Result<Option<Vec<bgp_fsm::Route>>, &'static str> {
        let (reply, wait) = oneshot::channel();
        let cmd = DaemonCommand::AdjRib {
            peer: peer.to_string(),
            received,
            reply,
        };
        if self.tx.send(cmd).is_err() {
            return Err("bgpd is shutting down");
        }
        match tokio::time::timeout(Duration::from_secs(5), wait).await {
            Ok(Ok(routes)) => Ok(routes),
            _ => Ok(None),
        }
    }

    /// [`Shared::adj_rib`] out, `None` on any failure.
    pub(super) async fn adj_rib_out(&self, peer: &str) -> Option<Vec<bgp_fsm::Route>> {
        self.adj_rib(peer, false).await.ok().flatten()
    }

    pub(super) async fn services_info(&self) -> Vec<api::ServiceInfo> {
        // What each Established peer's session carries, as its task holds it (once per
        // peer, not per service: there may be 100k services).
        let mut announced: Vec<(String, HashSet<IpNet>)> = Vec::new();
        for (name, status) in self.statuses() {
            if status.state != FsmState::Established {
                continue;
            }
            if let Some(routes) = self.adj_rib_out(&name).await {
                announced.push((name, routes.iter().map(|r| r.nlri.prefix).collect()));
            }
        }
        let st = self.lock();
        let effective = st.last.clone();
        let mut effective_by_name: HashMap<&str, Vec<&Service>> = HashMap::new();
        for e in effective.services.iter() {
            effective_by_name
                .entry(e.name.as_str())
                .or_default()
                .push(e);
        }
        st.all_services()
            .into_iter()
            .map(|(svc, source)| {
                let state = st.verdict(&svc, source).describe();
                let announced_to = announced
                    .iter()
                    .filter(|(name, prefixes)| {
                        prefixes.contains(&svc.prefix.trunc())
                            && if source == Source::Runtime {
                                svc.applies_to(name)
                            } else {
                                effective_by_name
                                    .get(svc.name.as_str())
                                    .is_some_and(|es| es.iter().any(|e| e.applies_to(name)))
                            }
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                let (health, targets) = match st.health.get(&svc.name) {
                    Some(h) if source == Source::Config => (
                        Some(format!(
                            "{} every {}, rise {}, fall {}{}",
                            probe_kind(&h.check.probe),
                            api::HumanDuration(h.check.interval),
                            h.check.rise,
                            h.check.fall,
                            if h.disabled { ", disabled by file" } else { "" }
                        )),
                        h.targets
                            .iter()
                            .map(|t| api::TargetHealth {
                                nexthop: t
                                    .target
                                    .nexthop
                                    .and_then(|i| h.nexthops.get(i))
                                    .map(ToString::to_string)
                                    .unwrap_or_else(|| "service".into()),
                                target: t.target.describe(),
                                state: if h.disabled {
                                    "disabled".into()
                                } else {
                                    let p = t.machine.progress();
                                    if p.is_empty() {
                                        t.machine.state().as_str().into()
                                    } else {
                                        format!("{} ({p})", t.machine.state().as_str())
                                    }
                                },
                                since: Some(unix_secs(t.since)),
                                last_result: t.last_result.clone(),
                            })
                            .collect(),
                    ),
                    _ => (None, Vec::new()),
                };
                api::ServiceInfo {
                    name: svc.name.clone(),
                    prefix: svc.prefix.to_string(),
                    source: source.as_str().into(),
                    nexthops: svc.nexthops.iter().map(ToString::to_string).collect(),
                    state,
                    health,
                    targets,
                    announced_to,
                }
            })
            .collect()
    }

    /// A change was accepted (`response` ok): it is answered once the state file holds it,
    /// so an acknowledged change survives a crash right after (issue 13). A state file that
    /// cannot be written leaves the change applied and says so in the note.
    async fn saved(&self, response: Response) -> Response {
        self.saved_in(
            response,
            "note",
            "applied, but NOT SAVED",
            "; it will not survive a restart",
        )
        .await
    }

    /// [`Shared::saved`] with the reason written into `field` as `{prefix}: {error}{suffix}`.
    pub(super) async fn saved_in(
        &self,
        mut response: Response,
        field: &str,
        prefix: &str,
        suffix: &str,
    ) -> Response {
        if !response.ok {
            return response;
        }
        if let Err(e) = self.save_state_and_wait().await {
            if let Some(serde_json::Value::Object(m)) = response.data.as_mut() {
                m.insert(
                    field.into(),
                    serde_json::Value::String(format!("{prefix}: {e}{suffix}")),
                );
            }
        }
        response
    }

    /// `withdraw --all`: every runtime service goes; configured services stay.
    pub(super) async fn withdraw_all(&self) -> Response {
        let removed = {
            let mut st = self.lock();
            let n = st.runtime.len();
            st.runtime = Arc::new(RuntimeTable::new());
            n
        };
        self.changed(
            Trigger::Withdraw,
            "all runtime services",
            false,
            format!(
                "bgpctl withdraw --all: {removed} runtime service{} removed",
                plural(removed)
            ),
            format!(
                "withdrawn ({removed} runtime service{} removed)",
                plural(removed)
            ),
        )
        .await
    }

    /// `runtime`: the runtime table, in prefix order.
    pub(super) fn runtime_list(&self) -> Vec<api::RuntimeInfo> {
        let table = self.lock().runtime.clone();
        table
            .iter()
            .map(|(prefix, spec)| {
                let r = &spec.request;
                api::RuntimeInfo {
                    prefix: prefix.to_string(),
                    nexthops: if r.nexthops.is_empty() {
                        vec!["self".into()]
                    } else {
                        r.nexthops.clone()
                    },
                    communities: r.communities.clone(),
                    large_communities: r.large_communities.clone(),
                    med: r.med,
                    local_pref: r.local_pref,
                    peers: r.peers.clone(),
                    since: unix_secs(spec.since),
                }
            })
            .collect()
    }

    pub(super) async fn announce(&self, args: api::AnnounceArgs) -> Response {
        // `announce PREFIX` alone for a configured service withdrawn with `bgpctl withdraw`
        // brings the configured one back.
        let bare = api::AnnounceArgs {
            prefix: args.prefix.clone(),
            ..api::AnnounceArgs::default()
        } == args;
        if let (true, Ok(prefix)) = (bare, parse_prefix(&args.prefix)) {
            let restored = self.lock().suppressed.remove(&prefix).is_some();
            if restored {
                return self
                    .changed(
                        Trigger::Announce,
                        &prefix.to_string(),
                        true,
                        format!("bgpctl announce {prefix}: configured service announced again"),
                        "announced (configured service restored)".into(),
                    )
                    .await;
            }
        }
        let prefix = match parse_prefix(&args.prefix) {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        {
            let mut st = self.lock();
            let service = match runtime_service(&args, &[prefix], &st.config) {
                Ok(s) => s,
                Err(e) => return Response::error(e),
            };
            st.suppressed.remove(&prefix);
            let spec = Arc::new(RuntimeSpec {
                service,
                since: SystemTime::now(),
                request: api::AnnounceArgs {
                    prefix: String::new(),
                    ..args
                },
            });
            Arc::make_mut(&mut st.runtime).insert_many(&[prefix], spec);
        }
        self.changed(
            Trigger::Announce,
            &prefix.to_string(),
            true,
            format!("bgpctl announce {prefix} (runtime service)"),
            "announced".into(),
        )
        .await
    }

    pub(super) async fn withdraw(&self, prefix: &str) -> Response {
        let prefix = match parse_prefix(prefix) {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        let what = {
            let mut st = self.lock();
            let runtime =
                st.runtime.contains(&prefix) && Arc::make_mut(&mut st.runtime).remove(&prefix);
            let configured = st
                .config
                .services
                .iter()
                .any(|s| s.prefix.trunc() == prefix);
            if configured {
                st.suppressed.insert(prefix, SystemTime::now());
            }
            match (runtime, configured) {
                (false, false) => {
                    return Response::error(format!(
                        "{prefix} is neither a configured nor a runtime service"
                    ))
                }
                (true, false) => "runtime service removed",
                (_, true) => "configured service withdrawn until `bgpctl announce`",
            }
        };
        self.changed(
            Trigger::Withdraw,
            &prefix.to_string(),
            true,
            format!("bgpctl withdraw {prefix}: {what}"),
            format!("withdrawn ({what})"),
        )
        .await
    }

    /// `announce-many`: one runtime service per prefix, all with the same attributes, in
    /// one change (one route computation, UPDATEs packed across all of them). Every prefix
    /// is checked first; a bad one refuses the whole request.
    pub(super) async fn announce_many(&self, mut args: api::AnnounceManyArgs) -> Response {
        let parsed = parse_prefixes(&args.prefixes);
        args.prefixes = api::PrefixList::default();
        let mut prefixes = match parsed {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        prefixes.sort_unstable();
        prefixes.dedup();
        {
            let mut st = self.lock();
            let service = match runtime_service(&args.template(), &prefixes, &st.config) {
                Ok(s) => s,
                Err(e) => return Response::error(e),
            };
            if !st.suppressed.is_empty() {
                for p in &prefixes {
                    st.suppressed.remove(p);
                }
            }
            let spec = Arc::new(RuntimeSpec {
                service,
                since: SystemTime::now(),
                request: args.template(),
            });
            Arc::make_mut(&mut st.runtime).insert_many(&prefixes, spec);
        }
        let what = list_sorted(prefixes.into_iter());
        self.changed(
            Trigger::Announce,
            &what,
            false,
            format!("bgpctl announce {what} (runtime services)"),
            "announced".into(),
        )
        .await
    }

    /// `withdraw-many`: removes runtime services and suppresses configured ones, as
    /// `withdraw` does for each prefix, in one change. A prefix that is neither refuses the
    /// whole request.
    pub(super) async fn withdraw_many(&self, list: api::PrefixList) -> Response {
        let parsed = parse_prefixes(&list);
        drop(list);
        let mut prefixes = match parsed {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        prefixes.sort_unstable();
        prefixes.dedup();
        let (removed, suppressed) = {
            let mut st = self.lock();
            let mut configured: Vec<IpNet> = st
                .config
                .services
                .iter()
                .map(|s| s.prefix.trunc())
                .collect();
            configured.sort();
            let is_configured = |p: &IpNet| configured.binary_search(p).is_ok();
            let unknown: Vec<&IpNet> = prefixes
                .iter()
                .filter(|p| !is_configured(p) && !st.runtime.contains(p))
                .collect();
            if let Some(first) = unknown.first() {
                return Response::error(format!(
                    "{first} is neither a configured nor a runtime service{}; nothing withdrawn",
                    if unknown.len() > 1 {
                        format!(" (nor are {} more of the prefixes)", unknown.len() - 1)
                    } else {
                        String::new()
                    }
                ));
            }
            // A new table of what stays, rather than a copy of the shared one to cut down.
            let (table, removed) = st.runtime.without(&prefixes);
            st.runtime = Arc::new(table);
            let now = SystemTime::now();
            let mut suppressed = 0usize;
            for p in prefixes.iter().filter(|p| is_configured(p)) {
                st.suppressed.insert(*p, now);
                suppressed += 1;
            }
            (removed, suppressed)
        };
        let what = list_sorted(prefixes.into_iter());
        self.changed(
            Trigger::Withdraw,
            &what,
            false,
            format!(
                "bgpctl withdraw {what}: {removed} runtime service{} removed, {suppressed} \
                 configured service{} withdrawn until `bgpctl announce`",
                plural(removed),
                plural(suppressed),
            ),
            format!(
                "withdrawn ({removed} runtime service{} removed, {suppressed} configured \
                 service{} suppressed)",
                plural(removed),
                plural(suppressed),
            ),
        )
        .await
    }

    /// `routes --best [--prefix P] [--peer NAME]`: the Loc-RIB.
    pub(super) async fn loc_rib(&self, peer: Option<String>, prefix: Option<String>) -> Response {
        let prefix = match prefix.as_deref().map(parse_prefix).transpose() {
            Ok(p) => p,
            Err(e) => return Response::error(e),
        };
        if let Some(p) = &peer {
            if self.lock().config.peer(p).is_none() {
                return Response::error(format!("no peer named {p:?}"));
            }
        }
        let mut entries = self.loc_rib_entries(prefix).await;
        if let Some(p) = &peer {
            for e in &mut entries {
                e.paths.retain(|path| path.peer == *p);
            }
            entries.retain(|e| !e.paths.is_empty());
        }
        Response::ok(entries)
    }

    pub(super) async fn loc_rib_entries(&self, prefix: Option<IpNet>) -> Vec<api::LocRibEntry> {
        let (reply, wait) = oneshot::channel();
        if self
            .tx
            .send(DaemonCommand::LocRib { prefix, reply })
            .is_err()
        {
            return Vec::new();
        }
        match tokio::time::timeout(Duration::from_secs(5), wait).await {
            Ok(Ok(entries)) => entries,
            _ => Vec::new(),
        }
    }

    pub(super) fn drain(self: &Arc<Self>, time: Option<Duration>) -> Response {
        let (time, generation) = {
            let mut st = self.lock();
            if st.drain != DrainPhase::Normal {
                return Response::error("already draining or drained; `bgpctl undrain` first");
            }
            let time = time
                .or(st.config.global.drain_time)
                .unwrap_or(DEFAULT_DRAIN_TIME);
            st.drain = DrainPhase::Draining {
                until: Instant::now() + time,
            };
            st.drain_since = SystemTime::now();
            st.drain_generation += 1;
            (time, st.drain_generation)
        };
        let message = format!(
            "drain started (RFC 8326): every route re-announced with GRACEFUL_SHUTDOWN 65535:0 \
             (LOCAL_PREF 0 on iBGP); in {} every route is withdrawn and every session closed \
             with Cease 6/2 \"{DRAIN_MESSAGE}\"",
            api::HumanDuration(time)
        );
        self.events.record(Kind::Drain, None, None, message.clone());
        self.routes_changed(Trigger::Drain);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(time).await;
            let Some(shared) = weak.upgrade() else { return };
            {
                let mut st = shared.lock();
                if st.drain_generation != generation
                    || !matches!(st.drain, DrainPhase::Draining { .. })
                {
                    return;
                }
                st.drain = DrainPhase::Drained;
            }
            shared.events.record(
                Kind::Drain,
                None,
                None,
                "drain time over: withdrawing every route".into(),
            );
            shared.routes_changed(Trigger::Drain);
            let _ = shared.tx.send(DaemonCommand::StopPeers(Notification::cease(
                2,
                Some(DRAIN_MESSAGE),
            )));
            shared.events.record(
                Kind::Drain,
                None,
                None,
                format!("drained: every session closed with Cease 6/2 \"{DRAIN_MESSAGE}\""),
            );
        });
        Response::ok(api::DrainInfo {
            state: "draining".into(),
            time_ms: Some(time.as_millis() as u64),
            message,
        })
    }

    pub(super) fn undrain(&self) -> Response {
        let was = {
            let mut st = self.lock();
            let was = st.drain;
            st.drain = DrainPhase::Normal;
            st.drain_generation += 1;
            st.drain_since = SystemTime::now();
            was
        };
        if was == DrainPhase::Normal {
            return Response::error("not draining");
        }
        let message =
            "undrain: routes announced normally again; stopped sessions restart".to_string();
        self.events.record(Kind::Drain, None, None, message.clone());
        self.routes_changed(Trigger::Undrain);
        let _ = self.tx.send(DaemonCommand::StartPeers);
        Response::ok(api::DrainInfo {
            state: "normal".into(),
            time_ms: None,
            message,
        })
    }
}

/// Every prefix of a bulk request, or the first bad one (numbered from 1).
fn parse_prefixes(prefixes: &api::PrefixList) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    for (i, p) in prefixes.iter().enumerate() {
        match parse_prefix(p) {
            Ok(p) => out.push(p),
            Err(e) => {
                return Err(format!(
                    "prefix {} of the list: {e}; nothing changed",
                    i + 1
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("no prefixes given".into());
    }
    Ok(out)
}

/// The name of the service that gives `peer` its route for `prefix`.
fn service_of(ann: &Announcements, prefix: IpNet, peer: &str) -> Option<String> {
    if let Some(s) = ann
        .services
        .iter()
        .find(|s| s.prefix.trunc() == prefix && s.applies_to(peer))
    {
        return Some(s.name.clone());
    }
    let spec = ann.runtime.get(&prefix)?;
    spec.service.applies_to(peer).then(|| prefix.to_string())
}

impl Shared {
    /// The end of every route change the API makes: the `api` event (about the service
    /// `prefix` names when `names_service`), then the answer once every Established peer has
    /// applied the change ([`Shared::applied_peers`]).
    async fn changed(
        &self,
        trigger: Trigger,
        prefix: &str,
        names_service: bool,
        event: String,
        action: String,
    ) -> Response {
        let service = names_service.then_some(prefix);
        self.events.record(Kind::Api, None, service, event);
        let peers = self.applied_peers(self.routes_changed(trigger)).await;
        Response::ok(api::ChangeResult {
            prefix: prefix.to_string(),
            action,
            peers,
            note: api::RUNTIME_NOTE.into(),
        })
    }
}
