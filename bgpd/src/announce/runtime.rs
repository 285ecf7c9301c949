//! Services added at run time (`bgpctl announce`) and how drain changes them.

use super::*;

/// Services added at run time (`bgpctl announce`), sorted by prefix. Prefixes announced in
/// one request share one [`RuntimeSpec`], so 100k of them cost about 32 octets each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeTable {
    entries: Vec<(IpNet, Arc<RuntimeSpec>)>,
}

/// What a runtime announcement asked for. `service.name` and `service.prefix` are those of
/// the first prefix of the request; each entry's own prefix is the table key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSpec {
    /// The service the request describes, as a configured one would be.
    pub service: Service,
    /// When it was announced.
    pub since: std::time::SystemTime,
    /// The request as received, without its prefixes: what the state file keeps
    /// ([`crate::statefile`]), so a restart rebuilds `service` the same way.
    pub request: crate::api::AnnounceArgs,
}

impl RuntimeTable {
    /// An empty table.
    pub fn new() -> RuntimeTable {
        RuntimeTable::default()
    }

    /// How many runtime services the table holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, prefix: &IpNet) -> Result<usize, usize> {
        self.entries.binary_search_by(|(p, _)| p.cmp(prefix))
    }

    /// The runtime service for `prefix`, if any.
    pub fn get(&self, prefix: &IpNet) -> Option<&Arc<RuntimeSpec>> {
        let i = self.find(prefix).ok()?;
        self.entries.get(i).map(|(_, s)| s)
    }

    /// Whether a runtime service for `prefix` exists.
    pub fn contains(&self, prefix: &IpNet) -> bool {
        self.find(prefix).is_ok()
    }

    /// Every (prefix, spec), in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (&IpNet, &Arc<RuntimeSpec>)> + '_ {
        self.entries.iter().map(|(p, s)| (p, s))
    }

    /// The service of one entry, as `bgpctl services` shows it (named after its prefix).
    pub fn service(prefix: &IpNet, spec: &RuntimeSpec) -> Service {
        Service {
            name: prefix.to_string(),
            prefix: *prefix,
            ..spec.service.clone()
        }
    }

    /// Adds or replaces `prefixes` (truncated to their length), all with `spec`.
    pub fn insert_many(&mut self, prefixes: &[IpNet], spec: Arc<RuntimeSpec>) {
        let mut fresh: Vec<IpNet> = prefixes.iter().map(IpNet::trunc).collect();
        if !fresh.is_sorted_by(|a, b| a < b) {
            fresh.sort_unstable();
            fresh.dedup();
        }
        if fresh.len() <= 8 {
            for p in fresh {
                match self.find(&p) {
                    Ok(i) => {
                        if let Some(e) = self.entries.get_mut(i) {
                            e.1 = spec.clone();
                        }
                    }
                    Err(i) => self.entries.insert(i, (p, spec.clone())),
                }
            }
            return;
        }
        // Merge two sorted lists; the new spec wins for prefixes in both.
        let old = std::mem::take(&mut self.entries);
        let mut merged = Vec::with_capacity(old.len() + fresh.len());
        let mut a = old.into_iter().peekable();
        let mut b = fresh.into_iter().peekable();
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 < *y => merged.extend(a.next()),
                (Some(x), Some(y)) if x.0 == *y => {
                    a.next();
                }
                (_, Some(_)) => merged.extend(b.next().map(|p| (p, spec.clone()))),
                (Some(_), None) => merged.extend(a.next()),
                (None, None) => break,
            }
        }
        self.entries = merged;
    }

    /// Removes `prefix`; true when it was present.
    pub fn remove(&mut self, prefix: &IpNet) -> bool {
        match self.find(prefix) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// This table without the prefixes of `sorted` (sorted, unique), and how many of them
    /// it held.
    pub fn without(&self, sorted: &[IpNet]) -> (RuntimeTable, usize) {
        let entries: Vec<(IpNet, Arc<RuntimeSpec>)> = self
            .entries
            .iter()
            .filter(|(p, _)| sorted.binary_search(p).is_err())
            .cloned()
            .collect();
        let removed = self.entries.len() - entries.len();
        (RuntimeTable { entries }, removed)
    }
}

/// How runtime services are sent right now (drain, RFC 8326).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeMode {
    /// Sent as requested.
    #[default]
    Normal,
    /// Draining: GRACEFUL_SHUTDOWN added, LOCAL_PREF 0 on iBGP.
    GracefulShutdown,
    /// Drained: none is sent.
    Withheld,
}

/// A runtime spec as sent in `mode`.
pub(super) fn runtime_template(spec: &RuntimeSpec, mode: RuntimeMode) -> Service {
    let mut service = spec.service.clone();
    if mode == RuntimeMode::GracefulShutdown {
        if !service
            .communities
            .contains(&bgp_proto::Community::GRACEFUL_SHUTDOWN)
        {
            service.communities = service
                .communities
                .iter()
                .copied()
                .chain([bgp_proto::Community::GRACEFUL_SHUTDOWN])
                .collect();
        }
        service.local_pref = Some(0);
    }
    service
}
