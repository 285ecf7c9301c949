//! Since when each configured service has been in its current state (`bgpctl explain`).
//!
//! Kept by position in the configuration's service list rather than by name: a file may
//! hold 100k services, and a map keyed by name cost about 100 octets per service (the
//! name copied, the tree's nodes); this costs 12. A reload moves the entries to the new
//! list's positions by name ([`ServiceSince::remap`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Service;
use crate::events::unix_secs;

/// Entries by index in the configuration's services: a hash of each one's state string and
/// since when (Unix seconds, the resolution `explain` shows, in 32 bits until 2106; 0 = not
/// recorded yet), in two lists so that an entry takes 12 octets.
#[derive(Debug, Default)]
pub(super) struct ServiceSince {
    states: Vec<u64>,
    since: Vec<u32>,
}

impl ServiceSince {
    fn recorded(&self, i: usize) -> Option<(u64, u32)> {
        let since = *self.since.get(i)?;
        let state = *self.states.get(i)?;
        (since != 0).then_some((state, since))
    }

    /// The state hash recorded for service `i`, if any.
    pub fn state(&self, i: usize) -> Option<u64> {
        self.recorded(i).map(|(state, _)| state)
    }

    /// Since when service `i` has been in its recorded state.
    pub fn since(&self, i: usize) -> Option<SystemTime> {
        self.recorded(i)
            .map(|(_, since)| UNIX_EPOCH + Duration::from_secs(u64::from(since)))
    }

    /// Room for exactly `n` services (the configuration's), so that recording them one by one
    /// does not leave a list grown past its need.
    pub fn fit(&mut self, n: usize) {
        self.states.resize(n, 0);
        self.since.resize(n, 0);
        self.states.shrink_to_fit();
        self.since.shrink_to_fit();
    }

    /// Records that service `i` entered `state` at `now`.
    pub fn set(&mut self, i: usize, state: u64, now: SystemTime) {
        if self.since.len() <= i {
            self.states.resize(i + 1, 0);
            self.since.resize(i + 1, 0);
        }
        self.states[i] = state;
        // Never 0 (which means "not recorded"), even for a clock before 1970.
        self.since[i] = u32::try_from(unix_secs(now)).unwrap_or(u32::MAX).max(1);
    }

    /// The entries moved from the positions of `old` to those of `new` (matched by name, which
    /// is unique in a configuration); services new in `new` have none.
    pub fn remap(&mut self, old: &[Service], new: &[Service]) {
        if self.since.is_empty() {
            return;
        }
        let mut by_name: Option<HashMap<&str, usize>> = None;
        let mut states = vec![0; new.len()];
        let mut since = vec![0; new.len()];
        for (i, svc) in new.iter().enumerate() {
            // Files usually keep their order: try the same position before a lookup.
            let from = if old.get(i).is_some_and(|o| o.name == svc.name) {
                Some(i)
            } else {
                by_name
                    .get_or_insert_with(|| {
                        old.iter()
                            .enumerate()
                            .map(|(j, o)| (o.name.as_str(), j))
                            .collect()
                    })
                    .get(svc.name.as_str())
                    .copied()
            };
            if let Some((state, t)) = from.and_then(|j| self.recorded(j)) {
                states[i] = state;
                since[i] = t;
            }
        }
        self.states = states;
        self.since = since;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(names: &[&str]) -> Vec<Service> {
        let text: String = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("[[services]]\nname = \"{n}\"\nprefix = \"192.0.2.{i}/32\"\n"))
            .collect();
        let text = format!("[global]\nasn = 65001\nrouter_id = \"10.0.0.1\"\nlisten = []\n{text}");
        crate::config::Config::parse(&text, "t.toml", &crate::link::ThisHost)
            .expect("valid")
            .services
            .to_vec()
    }

    #[test]
    fn entries_follow_their_service_across_a_reload() {
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        let old = services(&["a", "b", "c"]);
        let mut since = ServiceSince::default();
        since.set(0, 10, t(100));
        since.set(2, 30, t(300));
        assert_eq!(since.state(1), None);
        // "b" removed, "d" added, "c" moved to the front.
        let new = services(&["c", "a", "d"]);
        since.remap(&old, &new);
        assert_eq!((since.state(0), since.since(0)), (Some(30), Some(t(300))));
        assert_eq!((since.state(1), since.since(1)), (Some(10), Some(t(100))));
        assert_eq!((since.state(2), since.since(2)), (None, None));
        assert_eq!(since.state(3), None);
    }
}
