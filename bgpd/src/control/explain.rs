//! `bgpctl explain PREFIX`: why a prefix is or is not announced to each peer, from the
//! policy's verdicts and what each peer's session carries.

use super::*;

impl Shared {
    /// `explain PREFIX`: why it is or is not announced to each peer, and (router side) its
    /// received paths and their selection.
    pub(super) async fn explain(&self, prefix: &str) -> Response {
        let mut x = match self.explanation(prefix).await {
            Ok(x) => x,
            Err(e) => return Response::error(e),
        };
        if let Ok(p) = parse_prefix(prefix) {
            x.loc_rib = self.loc_rib_entries(Some(p)).await.into_iter().next();
        }
        Response::ok(x)
    }

    async fn explanation(&self, prefix: &str) -> Result<api::Explanation, String> {
        let prefix = parse_prefix(prefix)?;
        let statuses = self.statuses();
        // Each Established peer's routes for the prefix, as its session carries them.
        let mut sent: HashMap<String, Vec<api::RouteInfo>> = HashMap::new();
        for (name, status) in &statuses {
            if status.state != FsmState::Established {
                continue;
            }
            let routes = self.adj_rib_out(name).await.unwrap_or_default();
            let routes = routes
                .iter()
                .filter(|r| r.nlri.prefix == prefix)
                .map(|r| route_info(name, "out", &r.nlri, &r.next_hop, &r.attrs, None))
                .collect();
            sent.insert(name.clone(), routes);
        }
        let st = self.lock();
        let candidates = st.services_with_prefix(prefix);
        let mut peers = Vec::new();
        for p in &st.config.peers {
            let status = statuses.get(&p.name);
            let routes: Vec<api::RouteInfo> = sent.remove(&p.name).unwrap_or_default();
            let svc_since = |svc: &Service, source: Source| st.since(svc, source).map(unix_secs);
            let est_since = status.and_then(|s| s.established_since).map(unix_secs);
            let (announced, reason, since) = if candidates.is_empty() {
                (
                    false,
                    "no configured or runtime service has this prefix".to_string(),
                    None,
                )
            } else if !routes.is_empty() {
                let svc = &candidates[0].0;
                let state = st.verdict(svc, candidates[0].1).describe();
                (
                    true,
                    format!("service {} ({}): {state}", svc.name, candidates[0].1),
                    svc_since(svc, candidates[0].1).max(est_since),
                )
            } else {
                let mut why = Vec::new();
                let mut since = None;
                for (svc, source) in &candidates {
                    if !svc.applies_to(&p.name) {
                        why.push(format!(
                            "service {} is only for peers {}",
                            svc.name,
                            peer_list(&svc.peers)
                        ));
                        continue;
                    }
                    match st.verdict(svc, *source) {
                        Verdict::Withheld(r) => {
                            since = svc_since(svc, *source);
                            why.push(format!("service {} ({source}): {r}", svc.name));
                        }
                        Verdict::Announce { .. } => match status {
                            Some(s) if s.state == FsmState::Established => {
                                why.push(format!(
                                    "service {}: no route for this session (family not negotiated, or no next hop of its family)",
                                    svc.name
                                ));
                            }
                            Some(s) => {
                                let cause = match (&s.connect_error, &s.last_down) {
                                    (Some(c), _) => format!(
                                        " (cannot connect: {}, {} attempt{} in a row)",
                                        c.error,
                                        c.attempts,
                                        plural(c.attempts)
                                    ),
                                    (None, Some(d)) => format!(" (last: {})", d.sentence),
                                    (None, None) => String::new(),
                                };
                                why.push(format!("session is {:?}{cause}", s.state));
                            }
                            None => why.push("peer is stopped (drained)".into()),
                        },
                    }
                }
                (false, why.join("; "), since)
            };
            peers.push(api::PeerExplanation {
                peer: p.name.clone(),
                announced,
                reason,
                since,
                routes,
            });
        }
        Ok(api::Explanation {
            prefix: prefix.to_string(),
            services: candidates
                .iter()
                .map(|(s, src)| format!("{} ({src})", s.name))
                .collect(),
            peers,
            loc_rib: None,
        })
    }
}
