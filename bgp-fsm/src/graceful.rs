//! Graceful Restart, helper side (RFC 4724 §4.2, with the RFC 8538 N bit, and Long-Lived
//! Graceful Restart, RFC 9494): keep a restarting peer's routes, marked stale, while its
//! session is down, and remove whatever it does not announce again before its End-of-RIB or
//! before the timers run out. The restarting side (RFC 4724 §4.1) is the R and F bits of our
//! capability ([`crate::GracefulRestartConfig`]; the R bit is cleared once a session reached
//! Established) plus End-of-RIB after the initial table (routes.rs). RFC 8538 §3/§5: with
//! the N bit on both sides, Cease 6/1-6/3 we send go out as Hard Reset (6/9).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_proto::notification::cease;
use bgp_proto::{Community, ErrorCode, Family, Nlri, Notification, PathAttributes};
use bytes::{BufMut, BytesMut};

use crate::action::{Action, RouteEvents};
use crate::fsm::After;
use crate::negotiate::Negotiated;
use crate::rib::family_of;
use crate::session::{Session, State};
use crate::timer::Timer;

/// A Cease/Hard Reset (RFC 8538 §3) carrying `inner` (its code, subcode and data) as Data.
/// Use it for an administrative reset that must not keep routes ("hard" reset); the session
/// also wraps Cease 6/1, 6/2 and 6/3 this way by itself when both sides set the N bit.
pub fn hard_reset(inner: &Notification) -> Notification {
    if is_hard_reset(inner) {
        return inner.clone();
    }
    let mut data = BytesMut::with_capacity(2 + inner.data.len());
    data.put_u8(inner.code.0);
    data.put_u8(inner.subcode);
    data.extend_from_slice(&inner.data);
    Notification::new(ErrorCode::CEASE, cease::HARD_RESET, data.freeze())
}

/// The NOTIFICATION inside a Hard Reset (RFC 8538 §3: Data = code, subcode, data), if `n` is
/// one with at least the code and subcode.
pub fn hard_reset_inner(n: &Notification) -> Option<Notification> {
    if !is_hard_reset(n) {
        return None;
    }
    let code = *n.data.first()?;
    let subcode = *n.data.get(1)?;
    Some(Notification::new(
        ErrorCode(code),
        subcode,
        n.data.slice(2..),
    ))
}

/// Cease / Hard Reset (RFC 8538 §3).
/// Cease / BFD Down (RFC 9384).
fn is_bfd_down(n: &Notification) -> bool {
    n.code == ErrorCode::CEASE && n.subcode == cease::BFD_DOWN
}

/// Whether `n` is Cease / Hard Reset (6/9, RFC 8538 §3): the routes go at once, graceful
/// restart or not.
pub fn is_hard_reset(n: &Notification) -> bool {
    n.code == ErrorCode::CEASE && n.subcode == cease::HARD_RESET
}

/// What a teardown keeps for the peer's graceful restart.
#[derive(Debug, Default)]
pub(crate) struct GrPlan {
    /// Families whose routes stay (stale).
    pub(crate) families: Vec<Family>,
    /// The peer's Restart Time (RFC 4724); zero when only LLGR applies.
    pub(crate) restart_time: Duration,
    /// Families where both sides advertised LLGR, with the peer's Long-lived Stale Time
    /// (RFC 9494 §4.2).
    pub(crate) llgr: Vec<(Family, Duration)>,
}

/// The helper's progress through one restart of the peer.
#[derive(Debug, Default)]
pub(crate) struct GrState {
    /// LLGR families not yet in their long-lived phase: entered when the restart time ends.
    pub(crate) llgr_pending: Vec<(Family, Duration)>,
    /// Families in the long-lived phase (RFC 9494 §4.2) and the end of their stale time.
    pub(crate) llgr_until: BTreeMap<Family, Instant>,
    /// The peer is Established again: stale routes wait for End-of-RIB.
    pub(crate) back: bool,
}

impl Session {
    /// At the end of an Established session: the families whose routes stay (stale), and
    /// for how long. Empty when graceful restart does not apply.
    pub(crate) fn graceful_plan(
        &self,
        after: After,
        sent: Option<&Notification>,
        received: Option<&Notification>,
    ) -> GrPlan {
        let none = GrPlan::default();
        // An operator stop or a lost collision is not a restart.
        if after != After::Failure || self.state() != State::Established {
            return none;
        }
        // BFD found the forwarding path to the peer down (RFC 5882 §4.3; we close with Cease
        // 6/10 "BFD Down", RFC 9384): the peer's routes point into that path, so none are
        // kept stale. The Cease itself goes out as 6/10, not as Hard Reset.
        if sent.is_some_and(is_bfd_down) {
            return none;
        }
        let Some(n) = self.negotiated() else {
            return none;
        };
        let (Some(local), Some(peer)) = (&n.local_graceful_restart, &n.peer_graceful_restart)
        else {
            return none;
        };
        // RFC 4724 §4.2 covers a session that ends without a NOTIFICATION. RFC 8538 §3: with
        // the N bit on both sides, any NOTIFICATION but Cease/Hard Reset counts as well (the
        // Cease 6/1-6/3 we send were turned into Hard Reset by `wrap_hard_reset`).
        let graceful = match (sent, received) {
            (None, None) => true,
            (Some(x), _) | (None, Some(x)) => {
                local.notification && peer.notification && !is_hard_reset(x)
            }
        };
        if !graceful {
            return none;
        }
        let gr_families: Vec<Family> = if peer.restart_time == 0 {
            Vec::new()
        } else {
            peer.families
                .iter()
                .map(|f| f.family)
                .filter(|f| n.families.contains(f))
                .collect()
        };
        // RFC 9494 §4.2: LLGR for the families both sides listed with a non-zero stale time.
        let llgr: Vec<(Family, Duration)> = match (&n.local_llgr, &n.peer_llgr) {
            (Some(ours), Some(theirs)) => theirs
                .iter()
                .filter(|f| f.stale_time > 0 && n.families.contains(&f.family))
                .filter(|f| ours.iter().any(|o| o.family == f.family))
                .map(|f| (f.family, Duration::from_secs(u64::from(f.stale_time))))
                .collect(),
            _ => Vec::new(),
        };
        let mut families = gr_families;
        for (f, _) in &llgr {
            if !families.contains(f) {
                families.push(*f);
            }
        }
        GrPlan {
            families,
            restart_time: Duration::from_secs(u64::from(peer.restart_time)),
            llgr,
        }
    }

    /// RFC 8538 §5: with the N bit on both sides, the Cease subcodes whose suggested
    /// behaviour is Hard Reset (1 Maximum Number of Prefixes, 2 Administrative Shutdown,
    /// 3 Peer De-configured) are sent as Cease/Hard Reset carrying the original.
    pub(crate) fn wrap_hard_reset(&self, n: Notification) -> Notification {
        let both_n = self.negotiated().is_some_and(|neg| {
            neg.local_graceful_restart
                .as_ref()
                .is_some_and(|g| g.notification)
                && neg
                    .peer_graceful_restart
                    .as_ref()
                    .is_some_and(|g| g.notification)
        });
        let hard = n.code == ErrorCode::CEASE
            && matches!(
                n.subcode,
                cease::MAX_PREFIXES | cease::ADMINISTRATIVE_SHUTDOWN | cease::PEER_DECONFIGURED
            );
        if both_n && hard {
            hard_reset(&n)
        } else {
            n
        }
    }

    /// Teardown: keep the routes of the plan's families as stale (every other route is
    /// dropped) and arm the timer: the restart time, or the long-lived stale time at once
    /// for LLGR families without a graceful-restart period. Returns how many were kept.
    pub(crate) fn retain_stale(
        &mut self,
        now: Instant,
        plan: GrPlan,
        out: &mut Vec<Action>,
    ) -> usize {
        let drop: Vec<Nlri> = self
            .rib_in
            .iter()
            .filter(|r| !plan.families.contains(&r.family()))
            .map(|r| r.nlri)
            .collect();
        for n in &drop {
            self.rib_in.remove(n);
        }
        self.gr_stale = self.rib_in.iter().map(|r| r.nlri).collect();
        self.gr = GrState::default();
        if self.gr_stale.is_empty() {
            self.stop_timer(Timer::GracefulRestart, out);
            return 0;
        }
        let gr_families: Vec<Family> = self
            .negotiated()
            .and_then(|n| n.peer_graceful_restart.as_ref())
            .map(|g| g.families.iter().map(|f| f.family).collect())
            .unwrap_or_default();
        if plan.restart_time.is_zero() || plan.families.iter().all(|f| !gr_families.contains(f)) {
            // RFC 9494 §4.2: no restart time, so the long-lived phase starts now.
            self.gr.llgr_pending = plan.llgr;
            self.enter_long_lived(now, out);
        } else {
            self.gr.llgr_pending = plan.llgr;
            self.start_timer(now, Timer::GracefulRestart, plan.restart_time, out);
        }
        self.gr_stale.len()
    }

    /// The GracefulRestart timer fired (genuinely): the restart time ended (enter the
    /// long-lived phase where LLGR applies, RFC 9494 §4.2), a long-lived stale time ended,
    /// or the restarted peer did not send End-of-RIB in time.
    pub(crate) fn graceful_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.gr.back {
            self.purge_stale(None, out);
        } else if !self.gr.llgr_pending.is_empty() {
            self.enter_long_lived(now, out);
        } else if !self.gr.llgr_until.is_empty() {
            let ended: Vec<Family> = self
                .gr
                .llgr_until
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(f, _)| *f)
                .collect();
            let mut gone = Vec::new();
            for f in ended {
                self.gr.llgr_until.remove(&f);
                gone.extend(self.take_stale(Some(f), out));
            }
            self.report_removed(gone, out);
            self.arm_long_lived(out);
        } else {
            self.purge_stale(None, out);
        }
    }

    /// RFC 9494 §4.2: the restart time is over. Stale routes of families without LLGR go;
    /// those with the NO_LLGR community go; the rest stay, with the LLGR_STALE community
    /// added, for the peer's long-lived stale time of their family.
    fn enter_long_lived(&mut self, now: Instant, out: &mut Vec<Action>) {
        let pending = std::mem::take(&mut self.gr.llgr_pending);
        let mut ev = RouteEvents::default();
        // Keyed by value: routes read back from the Adj-RIB-In each get their own Arc.
        let mut tagged: HashMap<Arc<PathAttributes>, Arc<PathAttributes>> = HashMap::new();
        let stale: Vec<Nlri> = self.gr_stale.iter().copied().collect();
        for nlri in stale {
            let family = family_of(&nlri);
            let Some(route) = self.rib_in.get(&nlri) else {
                self.gr_stale.remove(&nlri);
                continue;
            };
            let long_lived = pending.iter().any(|(f, _)| *f == family);
            if !long_lived || route.attrs.communities.contains(&Community::NO_LLGR) {
                self.gr_stale.remove(&nlri);
                self.rib_in.remove(&nlri);
                ev.withdrawn.push(nlri);
                continue;
            }
            if !route.attrs.communities.contains(&Community::LLGR_STALE) {
                let attrs = tagged
                    .entry(route.attrs.clone())
                    .or_insert_with(|| {
                        let mut a = (*route.attrs).clone();
                        a.communities.push(Community::LLGR_STALE);
                        Arc::new(a)
                    })
                    .clone();
                let mut r = route;
                r.attrs = attrs;
                self.rib_in.insert(r.nlri, r.next_hop, &r.attrs);
                ev.announced.push(r);
            }
            ev.llgr_stale = ev.llgr_stale.saturating_add(1);
        }
        ev.stale_removed = ev.withdrawn.len();
        for (f, d) in pending {
            if self.gr_stale.iter().any(|n| family_of(n) == f) {
                self.gr.llgr_until.insert(f, deadline(now, d));
            }
        }
        if !ev.is_empty() {
            out.push(Action::Received(ev));
        }
        if self.gr_stale.is_empty() {
            self.gr = GrState::default();
            self.stop_timer(Timer::GracefulRestart, out);
        } else {
            self.arm_long_lived(out);
        }
    }

    /// Arms the GracefulRestart timer for the earliest long-lived deadline.
    fn arm_long_lived(&mut self, out: &mut Vec<Action>) {
        match self.gr.llgr_until.values().min().copied() {
            Some(at) => {
                self.timers.set(Timer::GracefulRestart, Some(at));
                out.push(Action::StartTimer {
                    timer: Timer::GracefulRestart,
                    at,
                });
            }
            None => self.stop_timer(Timer::GracefulRestart, out),
        }
    }

    /// The peer is back (its OPEN was accepted): RFC 4724 §4.2, "If the Graceful Restart
    /// Capability is not received in the re-established session, or the Forwarding State bit
    /// is not set for an address family, the Receiving Speaker MUST immediately remove all
    /// the stale routes from the peer that it is retaining for that address family." For a
    /// family in its long-lived phase the F bit of the LLGR capability decides (RFC 9494 §4.2).
    pub(crate) fn graceful_reopen(&mut self, n: &Negotiated, out: &mut Vec<Action>) {
        if self.gr_stale.is_empty() {
            return;
        }
        let gr_kept: Vec<Family> = n
            .peer_graceful_restart
            .iter()
            .flat_map(|gr| gr.families.iter())
            .filter(|f| f.forwarding)
            .map(|f| f.family)
            .collect();
        let llgr_kept: Vec<Family> = n
            .peer_llgr
            .iter()
            .flatten()
            .filter(|f| f.forwarding)
            .map(|f| f.family)
            .collect();
        let gone: Vec<Family> = self
            .gr_stale
            .iter()
            .map(family_of)
            .filter(|f| {
                if self.gr.llgr_until.contains_key(f) {
                    !llgr_kept.contains(f)
                } else {
                    !gr_kept.contains(f)
                }
            })
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
        self.gr = GrState {
            back: true,
            ..GrState::default()
        };
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
        self.report_removed(gone, out);
    }

    fn report_removed(&mut self, gone: Vec<Nlri>, out: &mut Vec<Action>) {
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
        if let Some(f) = family {
            self.gr.llgr_until.remove(&f);
            self.gr.llgr_pending.retain(|(p, _)| *p != f);
        }
        if self.gr_stale.is_empty() {
            self.gr = GrState::default();
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

/// `now + after`, saturating instead of panicking.
fn deadline(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}
