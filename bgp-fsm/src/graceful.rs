//! Graceful Restart, helper side (RFC 4724 §4.2, with the RFC 8538 N bit): keep a
//! restarting peer's routes, marked stale, while its session is down, and remove whatever it
//! does not announce again before its End-of-RIB or before the timer runs out.

use std::time::{Duration, Instant};

use bgp_proto::notification::cease;
use bgp_proto::{ErrorCode, Family, Nlri, Notification};

use crate::action::{Action, RouteEvents};
use crate::fsm::After;
use crate::negotiate::Negotiated;
use crate::rib::family_of;
use crate::session::{Session, State};
use crate::timer::Timer;

impl Session {
    /// At the end of an Established session: the families whose routes stay (stale), and
    /// for how long. Empty when graceful restart does not apply.
    pub(crate) fn graceful_families(
        &self,
        after: After,
        sent: Option<&Notification>,
        received: Option<&Notification>,
    ) -> (Vec<Family>, Duration) {
        let none = (Vec::new(), Duration::ZERO);
        // An operator stop or a lost collision is not a restart.
        if after != After::Failure || self.state() != State::Established {
            return none;
        }
        let Some(n) = self.negotiated() else {
            return none;
        };
        let (Some(local), Some(peer)) = (&n.local_graceful_restart, &n.peer_graceful_restart)
        else {
            return none;
        };
        if peer.restart_time == 0 {
            return none;
        }
        // RFC 4724 §4.2 covers a session that ends without a NOTIFICATION. RFC 8538 §3: with
        // the N bit on both sides, any NOTIFICATION but Cease/Hard Reset counts as well.
        // The Cease NOTIFICATIONs we send (prefix limit, administrative, collision) are the
        // ones RFC 8538 §5 says to send as Hard Reset, so they never keep routes.
        let graceful = match (sent, received) {
            (None, None) => true,
            (Some(x), _) if x.code == ErrorCode::CEASE => false,
            (Some(x), _) | (None, Some(x)) => {
                local.notification
                    && peer.notification
                    && !(x.code == ErrorCode::CEASE && x.subcode == cease::HARD_RESET)
            }
        };
        if !graceful {
            return none;
        }
        let families = peer
            .families
            .iter()
            .map(|f| f.family)
            .filter(|f| n.families.contains(f))
            .collect();
        (families, Duration::from_secs(u64::from(peer.restart_time)))
    }

    /// Teardown: keep the routes of `families` as stale (every other route is dropped) and
    /// arm the restart timer. Returns how many were kept.
    pub(crate) fn retain_stale(
        &mut self,
        now: Instant,
        families: &[Family],
        restart_time: Duration,
        out: &mut Vec<Action>,
    ) -> usize {
        let drop: Vec<Nlri> = self
            .rib_in
            .iter()
            .filter(|r| !families.contains(&r.family()))
            .map(|r| r.nlri)
            .collect();
        for n in &drop {
            self.rib_in.remove(n);
        }
        self.gr_stale = self.rib_in.iter().map(|r| r.nlri).collect();
        if self.gr_stale.is_empty() {
            return 0;
        }
        self.start_timer(now, Timer::GracefulRestart, restart_time, out);
        self.gr_stale.len()
    }

    /// The peer is back (its OPEN was accepted): RFC 4724 §4.2, "If the Graceful Restart
    /// Capability is not received in the re-established session, or the Forwarding State bit
    /// is not set for an address family, the Receiving Speaker MUST immediately remove all
    /// the stale routes from the peer that it is retaining for that address family."
    pub(crate) fn graceful_reopen(&mut self, n: &Negotiated, out: &mut Vec<Action>) {
        if self.gr_stale.is_empty() {
            return;
        }
        let kept: Vec<Family> = n
            .peer_graceful_restart
            .iter()
            .flat_map(|gr| gr.families.iter())
            .filter(|f| f.forwarding)
            .map(|f| f.family)
            .collect();
        let gone: Vec<Family> = self
            .gr_stale
            .iter()
            .map(family_of)
            .filter(|f| !kept.contains(f))
            .collect();
        for family in dedup(gone) {
            self.purge_stale(Some(family), out);
        }
    }

    /// Established again: stale routes wait at most `stale_routes_time` for End-of-RIB.
    pub(crate) fn graceful_established(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.gr_stale.is_empty() {
            return;
        }
        let limit = self
            .config
            .graceful_restart
            .as_ref()
            .map_or(Duration::from_secs(360), |g| g.stale_routes_time);
        self.start_timer(now, Timer::GracefulRestart, limit, out);
    }

    /// Removes the stale routes of `family` (all when `None`) and reports them.
    pub(crate) fn purge_stale(&mut self, family: Option<Family>, out: &mut Vec<Action>) {
        let gone = self.take_stale(family, out);
        if !gone.is_empty() {
            out.push(Action::Received(RouteEvents {
                stale_removed: gone.len(),
                withdrawn: gone,
                ..RouteEvents::default()
            }));
        }
    }

    /// Removes the stale routes of `family` (all when `None`) from the Adj-RIB-In and
    /// returns them; stops the timer once nothing is stale.
    pub(crate) fn take_stale(
        &mut self,
        family: Option<Family>,
        out: &mut Vec<Action>,
    ) -> Vec<Nlri> {
        let gone: Vec<Nlri> = self
            .gr_stale
            .iter()
            .filter(|n| family.is_none_or(|f| family_of(n) == f))
            .copied()
            .collect();
        for n in &gone {
            self.gr_stale.remove(n);
            self.rib_in.remove(n);
        }
        if self.gr_stale.is_empty() {
            self.stop_timer(Timer::GracefulRestart, out);
        }
        gone
    }
}

fn dedup(mut v: Vec<Family>) -> Vec<Family> {
    v.sort();
    v.dedup();
    v
}
