//! Which address is the unnumbered peer's neighbor: the decision, pure (time is an argument).
//!
//! The neighbor is the link-local source of the Router Advertisements heard on the interface
//! (as FRR's zebra learns it, `rtadv_process_advert`), or of a BGP connection accepted from
//! the interface. An unnumbered link is point to point, so the first address heard is kept
//! while it keeps advertising; another address heard meanwhile is a candidate that takes over
//! once the current neighbor has been silent for [`STALE_AFTER`] (the router was replaced:
//! its new link-local address differs). FRR keeps the first address for good; replacing it is
//! ours.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// A neighbor not heard from for this long gives way to another address heard since: three
/// Router Advertisements missed at FRR's 10 s interval for interface peers
/// (`BGP_UNNUM_DEFAULT_RA_INTERVAL`).
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// What hearing an address changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The first neighbor: connect to it.
    Learned(Ipv6Addr),
    /// The neighbor changed: the session moves to `to`.
    Moved {
        /// The previous neighbor.
        from: Ipv6Addr,
        /// The new neighbor.
        to: Ipv6Addr,
    },
    /// The current neighbor again (its silence restarts).
    Refreshed,
    /// Another address while the current neighbor is still heard: kept as the candidate.
    Candidate(Ipv6Addr),
    /// Not a possible neighbor (not link-local, or one of ours): dropped.
    Ignored,
}

/// The neighbor of one interface.
#[derive(Debug, Clone)]
pub struct NeighborTracker {
    current: Option<(Ipv6Addr, Instant)>,
    candidate: Option<(Ipv6Addr, Instant)>,
    stale_after: Duration,
}

impl Default for NeighborTracker {
    fn default() -> Self {
        NeighborTracker::new(STALE_AFTER)
    }
}

impl NeighborTracker {
    /// A tracker that replaces a neighbor silent for `stale_after`.
    pub fn new(stale_after: Duration) -> NeighborTracker {
        NeighborTracker {
            current: None,
            candidate: None,
            stale_after,
        }
    }

    /// The neighbor, once one was heard.
    pub fn current(&self) -> Option<Ipv6Addr> {
        self.current.map(|(a, _)| a)
    }

    /// `addr` was heard at `now` (`own`: this host's addresses on the interface, never a
    /// neighbor).
    pub fn heard(&mut self, now: Instant, addr: Ipv6Addr, own: &[Ipv6Addr]) -> Decision {
        if !addr.is_unicast_link_local() || own.contains(&addr) {
            return Decision::Ignored;
        }
        match self.current {
            None => {
                self.current = Some((addr, now));
                self.candidate = None;
                Decision::Learned(addr)
            }
            Some((cur, _)) if cur == addr => {
                self.current = Some((addr, now));
                Decision::Refreshed
            }
            Some(_) => {
                self.candidate = Some((addr, now));
                self.poll(now).unwrap_or(Decision::Candidate(addr))
            }
        }
    }

    /// Promotes the candidate once the neighbor has been silent for the stale time and the
    /// candidate was heard after it; `None` when nothing changes.
    pub fn poll(&mut self, now: Instant) -> Option<Decision> {
        let (cur, cur_at) = self.current?;
        let (cand, cand_at) = self.candidate?;
        if now.saturating_duration_since(cand_at) >= self.stale_after {
            // The candidate went silent too: forget it.
            self.candidate = None;
            return None;
        }
        if now.saturating_duration_since(cur_at) < self.stale_after || cand_at <= cur_at {
            return None;
        }
        self.current = Some((cand, cand_at));
        self.candidate = None;
        Some(Decision::Moved {
            from: cur,
            to: cand,
        })
    }

    /// When [`NeighborTracker::poll`] may next change something.
    pub fn next_deadline(&self) -> Option<Instant> {
        let (_, cur_at) = self.current?;
        let (_, cand_at) = self.candidate?;
        Some((cur_at + self.stale_after).min(cand_at + self.stale_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last)
    }

    #[test]
    fn first_link_local_address_is_learned() {
        let t0 = Instant::now();
        let mut t = NeighborTracker::default();
        assert_eq!(t.current(), None);
        assert_eq!(t.heard(t0, ll(1), &[]), Decision::Learned(ll(1)));
        assert_eq!(t.current(), Some(ll(1)));
        assert_eq!(
            t.heard(t0 + Duration::from_secs(10), ll(1), &[]),
            Decision::Refreshed
        );
        assert_eq!(t.next_deadline(), None, "no candidate, nothing to time");
    }

    #[test]
    fn global_and_own_addresses_are_ignored() {
        let t0 = Instant::now();
        let mut t = NeighborTracker::default();
        let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(t.heard(t0, global, &[]), Decision::Ignored);
        assert_eq!(t.heard(t0, ll(2), &[ll(2)]), Decision::Ignored);
        assert_eq!(t.current(), None);
    }

    #[test]
    fn inbound_connection_teaches_the_neighbor_before_any_advertisement() {
        let mut t = NeighborTracker::default();
        assert_eq!(
            t.heard(Instant::now(), ll(7), &[]),
            Decision::Learned(ll(7))
        );
    }

    #[test]
    fn another_router_waits_while_the_neighbor_advertises() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = NeighborTracker::default();
        t.heard(t0, ll(1), &[]);
        assert_eq!(t.heard(t0 + s(5), ll(2), &[]), Decision::Candidate(ll(2)));
        assert_eq!(t.heard(t0 + s(10), ll(1), &[]), Decision::Refreshed);
        // The neighbor keeps advertising: the candidate never takes over, and once it is
        // silent itself it is forgotten.
        assert_eq!(t.poll(t0 + s(36)), None);
        assert_eq!(t.current(), Some(ll(1)));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn replaced_router_moves_the_session_once_the_old_one_is_silent() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = NeighborTracker::default();
        t.heard(t0, ll(1), &[]);
        assert_eq!(t.heard(t0 + s(20), ll(2), &[]), Decision::Candidate(ll(2)));
        assert_eq!(t.next_deadline(), Some(t0 + STALE_AFTER));
        assert_eq!(t.poll(t0 + s(29)), None);
        assert_eq!(
            t.poll(t0 + s(30)),
            Some(Decision::Moved {
                from: ll(1),
                to: ll(2)
            })
        );
        assert_eq!(t.current(), Some(ll(2)));
        // Hearing the new one after the old one went silent moves at once.
        let mut t = NeighborTracker::default();
        t.heard(t0, ll(1), &[]);
        assert_eq!(
            t.heard(t0 + s(31), ll(3), &[]),
            Decision::Moved {
                from: ll(1),
                to: ll(3)
            }
        );
    }
}
