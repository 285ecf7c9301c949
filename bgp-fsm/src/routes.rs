//! Routes in and out of an established session: the Adj-RIB-Out packed into UPDATEs
//! (RFC 4271 §9.2), End-of-RIB (RFC 4724 §2), route refresh (RFC 2918, RFC 7313) and
//! received UPDATEs after the RFC 7606 decision.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bgp_proto::{
    Family, MessageType, NextHop, Nlri, Notification, PathAttributes, RouteRefresh, SessionContext,
    UpdateBuilder, UpdateView, Verdict,
};
use bytes::{Bytes, BytesMut};
use ipnet::IpNet;

use crate::action::{Action, RouteEvents};
use crate::rib::{family_of, Route};
use crate::session::{Session, State};

/// Prefixes already packed: without ADD-PATH only one path per prefix goes out. NLRI in
/// sorted order need only the previous prefix; otherwise a set.
struct Seen {
    last: Option<IpNet>,
    set: Option<HashSet<IpNet>>,
}

impl Seen {
    fn sorted() -> Seen {
        Seen {
            last: None,
            set: None,
        }
    }

    fn any() -> Seen {
        Seen {
            last: None,
            set: Some(HashSet::new()),
        }
    }

    /// True the first time `prefix` is seen.
    fn insert(&mut self, prefix: IpNet) -> bool {
        match &mut self.set {
            Some(set) => set.insert(prefix),
            None if self.last == Some(prefix) => false,
            None => {
                self.last = Some(prefix);
                true
            }
        }
    }
}

/// Routes to announce grouped by (family, next hop, attributes), and withdrawals by family,
/// in first-seen order so the output is deterministic.
#[derive(Default)]
struct Packer {
    index: HashMap<(Family, NextHop, Arc<PathAttributes>), usize>,
    announce: Vec<(NextHop, Arc<PathAttributes>, Vec<Nlri>)>,
    withdraw: Vec<(Family, Vec<Nlri>)>,
    /// The group the previous route went to.
    last: Option<usize>,
}

impl Packer {
    /// `nlri` with `next_hop` and `attrs` (the route's family is the NLRI's).
    fn announce(&mut self, next_hop: NextHop, attrs: &Arc<PathAttributes>, nlri: Nlri) {
        let family = family_of(&nlri);
        // Consecutive routes usually share their group: skip hashing the attributes then.
        if let Some(&i) = self.last.as_ref() {
            if let Some(group) = self.announce.get_mut(i) {
                if group.0 == next_hop
                    && Arc::ptr_eq(&group.1, attrs)
                    && group.2.first().map(family_of) == Some(family)
                {
                    group.2.push(nlri);
                    return;
                }
            }
        }
        let key = (family, next_hop, attrs.clone());
        match self.index.get(&key) {
            Some(&i) => {
                if let Some(group) = self.announce.get_mut(i) {
                    group.2.push(nlri);
                }
                self.last = Some(i);
            }
            None => {
                self.last = Some(self.announce.len());
                self.index.insert(key, self.announce.len());
                self.announce.push((next_hop, attrs.clone(), vec![nlri]));
            }
        }
    }

    fn withdraw(&mut self, nlri: Nlri) {
        let family = family_of(&nlri);
        match self.withdraw.iter_mut().find(|(f, _)| *f == family) {
            Some((_, v)) => v.push(nlri),
            None => self.withdraw.push((family, vec![nlri])),
        }
    }

    /// Encodes withdrawals first, then announcements; returns (messages, prefixes announced).
    fn encode(&self, cx: &SessionContext, buf: &mut BytesMut) -> (usize, usize) {
        let builder = UpdateBuilder::new(cx);
        let mut messages = 0usize;
        for (_, nlri) in &self.withdraw {
            messages = messages.saturating_add(builder.withdraw(nlri, buf));
        }
        let mut prefixes = 0usize;
        for (next_hop, attrs, nlri) in &self.announce {
            messages = messages.saturating_add(builder.announce(attrs, next_hop, nlri, buf));
            prefixes = prefixes.saturating_add(nlri.len());
        }
        (messages, prefixes)
    }
}

impl Session {
    /// Event::Announce: update the Adj-RIB-Out; send what changed when Established.
    pub(crate) fn announce(&mut self, now: Instant, routes: Vec<Route>, out: &mut Vec<Action>) {
        let changed = self.rib_out.insert_many(routes);
        self.send_changes(now, &changed, out);
    }

    /// Event::AnnounceShared: as `announce`, for NLRI sharing one path.
    pub(crate) fn announce_shared(
        &mut self,
        now: Instant,
        next_hop: NextHop,
        attrs: Arc<PathAttributes>,
        nlri: Vec<Nlri>,
        out: &mut Vec<Action>,
    ) {
        let changed = self.rib_out.insert_shared(next_hop, attrs.clone(), nlri);
        if self.state() != State::Established || changed.is_empty() {
            return;
        }
        let cx = self.context();
        // With ADD-PATH for every family involved, each changed NLRI is now stored with
        // exactly this path: packed as it is, without looking each one up again.
        let mut families = changed.iter().map(family_of);
        let first = families.next();
        let direct = first.is_some_and(|f| cx.add_path_tx(f) && cx.families.contains(f))
            && families.all(|f| Some(f) == first);
        if !direct {
            self.send_changes(now, &changed, out);
            return;
        }
        let mut packer = Packer::default();
        for nlri in changed {
            packer.announce(next_hop, &attrs, nlri);
        }
        let mut buf = BytesMut::new();
        let (messages, prefixes) = packer.encode(&cx, &mut buf);
        self.send_updates(now, buf.freeze(), messages, prefixes, out);
    }

    /// Event::Withdraw: remove from the Adj-RIB-Out; withdraw when Established.
    pub(crate) fn withdraw(&mut self, now: Instant, nlri: Vec<Nlri>, out: &mut Vec<Action>) {
        let changed: Vec<Nlri> = nlri
            .into_iter()
            .filter(|n| self.rib_out.remove(n).is_some())
            .collect();
        self.send_changes(now, &changed, out);
    }

    /// Event::WithdrawAll: empty the Adj-RIB-Out; withdraw everything when Established.
    pub(crate) fn withdraw_all(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state() != State::Established {
            self.rib_out.clear();
            return;
        }
        let all: Vec<Nlri> = self.rib_out.nlri().copied().collect();
        self.withdraw(now, all, out);
    }

    /// Adds one changed NLRI to the packer. Without ADD-PATH send for its family only one
    /// path per prefix goes out (the lowest path id), without a path id.
    fn pack_change(&self, cx: &SessionContext, packer: &mut Packer, nlri: Nlri, seen: &mut Seen) {
        let family = family_of(&nlri);
        // Never send a family the peer did not negotiate; the route stays in the RIB.
        if !cx.families.contains(family) {
            return;
        }
        if cx.add_path_tx(family) {
            match self.rib_out.get(&nlri) {
                Some(r) => packer.announce(r.next_hop, &r.attrs, nlri),
                None => packer.withdraw(nlri),
            }
        } else {
            if !seen.insert(nlri.prefix) {
                return;
            }
            let bare = Nlri {
                prefix: nlri.prefix,
                path_id: None,
            };
            match self.rib_out.paths(nlri.prefix).next() {
                Some(r) => packer.announce(r.next_hop, &r.attrs, bare),
                None => packer.withdraw(bare),
            }
        }
    }

    fn send_changes(&mut self, now: Instant, changed: &[Nlri], out: &mut Vec<Action>) {
        if self.state() != State::Established || changed.is_empty() {
            return;
        }
        let cx = self.context();
        let mut packer = Packer::default();
        let mut seen = if changed.is_sorted() {
            Seen::sorted()
        } else {
            Seen::any()
        };
        for nlri in changed {
            self.pack_change(&cx, &mut packer, *nlri, &mut seen);
        }
        let mut buf = BytesMut::new();
        let (messages, prefixes) = packer.encode(&cx, &mut buf);
        self.send_updates(now, buf.freeze(), messages, prefixes, out);
    }

    /// Encodes every route of `family` into `buf`; returns (messages, prefixes).
    fn encode_family(
        &self,
        cx: &SessionContext,
        family: Family,
        buf: &mut BytesMut,
    ) -> (usize, usize) {
        let mut packer = Packer::default();
        // The Adj-RIB-Out iterates in NLRI order: the paths of a prefix are adjacent.
        let mut seen = Seen::sorted();
        for r in self.rib_out.family(family) {
            self.pack_change(cx, &mut packer, r.nlri, &mut seen);
        }
        packer.encode(cx, buf)
    }

    /// On Established: the whole Adj-RIB-Out, then End-of-RIB for every negotiated family
    /// (unless `end_of_rib` is false: held back, restarting.rs).
    pub(crate) fn send_initial_table(
        &mut self,
        now: Instant,
        end_of_rib: bool,
        out: &mut Vec<Action>,
    ) {
        let cx = self.context();
        let families: Vec<Family> = cx.families.iter().collect();
        let builder = UpdateBuilder::new(&cx);
        let mut buf = BytesMut::new();
        let (mut messages, mut prefixes) = (0usize, 0usize);
        for f in &families {
            let (m, p) = self.encode_family(&cx, *f, &mut buf);
            messages = messages.saturating_add(m);
            prefixes = prefixes.saturating_add(p);
        }
        if end_of_rib {
            for f in &families {
                builder.end_of_rib(*f, &mut buf);
                messages = messages.saturating_add(1);
            }
        }
        self.send_updates(now, buf.freeze(), messages, prefixes, out);
    }

    /// Sends UPDATEs and restarts the KeepaliveTimer (§8.2.2: "Each time the local system
    /// sends a KEEPALIVE or UPDATE message, it restarts its KeepaliveTimer").
    pub(crate) fn send_updates(
        &mut self,
        now: Instant,
        bytes: Bytes,
        messages: usize,
        prefixes: usize,
        out: &mut Vec<Action>,
    ) {
        if messages == 0 || bytes.is_empty() {
            return;
        }
        self.counters.prefixes_out = self.counters.prefixes_out.saturating_add(prefixes as u64);
        self.push_send(bytes, MessageType::UPDATE, messages as u64, out);
        self.restart_keepalive(now, out);
    }

    /// Event::RequestRefresh: ROUTE-REFRESH for `family` (RFC 2918 §3), only when the peer
    /// advertised the capability and the family was negotiated.
    pub(crate) fn request_refresh(&mut self, family: Family, out: &mut Vec<Action>) {
        let ok = self.state() == State::Established
            && self
                .negotiated()
                .is_some_and(|n| n.route_refresh && n.families.contains(&family));
        if ok {
            let mut buf = BytesMut::new();
            RouteRefresh::new(family).encode(&mut buf);
            self.push_send(buf.freeze(), MessageType::ROUTE_REFRESH, 1, out);
        }
    }

    /// Event::ResendRoutes: the family's Adj-RIB-Out again, as plain UPDATEs.
    pub(crate) fn resend_routes(&mut self, now: Instant, family: Family, out: &mut Vec<Action>) {
        let ok = self.state() == State::Established
            && self
                .negotiated()
                .is_some_and(|n| n.families.contains(&family));
        if !ok {
            return;
        }
        let cx = self.context();
        let mut buf = BytesMut::new();
        let (messages, prefixes) = self.encode_family(&cx, family, &mut buf);
        self.send_updates(now, buf.freeze(), messages, prefixes, out);
    }

    /// A received ROUTE-REFRESH (RFC 2918 §4, RFC 7313 §4).
    pub(crate) fn receive_route_refresh(
        &mut self,
        now: Instant,
        rr: RouteRefresh,
        out: &mut Vec<Action>,
    ) {
        let Some(n) = self.negotiated() else {
            return;
        };
        // RFC 2918 §4: a request for an AFI/SAFI not advertised is ignored.
        if !n.families.contains(&rr.family) {
            return;
        }
        let enhanced = n.enhanced_route_refresh;
        match rr.subtype {
            RouteRefresh::NORMAL => {
                let cx = self.context();
                let mut buf = BytesMut::new();
                let mut messages = 0usize;
                // RFC 7313 §4: with Enhanced Route Refresh, bracket the routes with BoRR/EoRR.
                if enhanced {
                    RouteRefresh {
                        family: rr.family,
                        subtype: RouteRefresh::BORR,
                    }
                    .encode(&mut buf);
                    self.push_send(buf.split().freeze(), MessageType::ROUTE_REFRESH, 1, out);
                }
                let (m, p) = self.encode_family(&cx, rr.family, &mut buf);
                messages = messages.saturating_add(m);
                self.send_updates(now, buf.split().freeze(), messages, p, out);
                if enhanced {
                    RouteRefresh {
                        family: rr.family,
                        subtype: RouteRefresh::EORR,
                    }
                    .encode(&mut buf);
                    self.push_send(buf.freeze(), MessageType::ROUTE_REFRESH, 1, out);
                }
            }
            RouteRefresh::BORR if enhanced => {
                // RFC 7313 §4: mark the family's routes stale; what is not re-announced by
                // the EoRR is removed.
                let stale: Vec<Nlri> = self.rib_in.family(rr.family).map(|r| r.nlri).collect();
                self.stale.extend(stale);
            }
            RouteRefresh::EORR if enhanced => {
                let gone: Vec<Nlri> = self
                    .stale
                    .iter()
                    .filter(|n| family_of(n) == rr.family)
                    .copied()
                    .collect();
                for n in &gone {
                    self.stale.remove(n);
                    self.rib_in.remove(n);
                }
                if !gone.is_empty() {
                    out.push(Action::Received(RouteEvents {
                        stale_removed: gone.len(),
                        withdrawn: gone,
                        ..RouteEvents::default()
                    }));
                }
            }
            // RFC 7313 §5: unknown subtypes (and BoRR/EoRR without the capability) are
            // ignored.
            _ => {}
        }
    }

    /// A received UPDATE in Established. `Err` is the NOTIFICATION that ends the session.
    pub(crate) fn receive_update(
        &mut self,
        view: UpdateView<Bytes>,
        out: &mut Vec<Action>,
    ) -> Result<(), (Notification, String)> {
        let mut ev = RouteEvents::default();
        if let Some(family) = view.end_of_rib() {
            ev.end_of_rib = Some(family);
            // RFC 4724 §4.2: End-of-RIB ends the graceful restart for the family; routes
            // still stale were not re-announced and go.
            let gone = self.take_stale(Some(family), out);
            ev.stale_removed = gone.len();
            ev.withdrawn = gone;
            out.push(Action::Received(ev));
            return Ok(());
        }
        ev.discarded = view.discarded().collect();
        self.counters.attributes_discarded = self
            .counters
            .attributes_discarded
            .saturating_add(ev.discarded.len() as u64);
        // RFC 4271 §4.3: a prefix both withdrawn and announced in one UPDATE counts as
        // announced, so withdrawals go first.
        for nlri in view.withdrawn() {
            self.rib_in.remove(&nlri);
            self.stale.remove(&nlri);
            self.gr_stale.remove(&nlri);
            ev.withdrawn.push(nlri);
        }
        let mut last_family = None;
        match view.verdict() {
            Verdict::TreatAsWithdraw { attr, reason } => {
                // RFC 7606 §2: every NLRI of the UPDATE is handled as withdrawn, which
                // removes a route learned earlier.
                self.counters.treat_as_withdraw = self.counters.treat_as_withdraw.saturating_add(1);
                ev.treat_as_withdraw = Some((attr, reason));
                for nlri in view.announced() {
                    self.rib_in.remove(&nlri);
                    self.stale.remove(&nlri);
                    self.gr_stale.remove(&nlri);
                    ev.withdrawn.push(nlri);
                }
            }
            Verdict::Accept => {
                let attrs = Arc::new(view.attributes());
                // RFC 4271 §9.1.2 (and RFC 4456 §8 on iBGP): checked before the next hop,
                // the import policy and the prefix limit, so a looped route is never kept
                // and never counts against max_prefixes.
                let looped = crate::import::is_loop(
                    &attrs,
                    self.config.local_asn,
                    self.config.allow_own_as,
                    self.config.is_ibgp(),
                    self.config.local_id,
                );
                // RFC 4271 §6.3 for a directly connected eBGP peer (see is_off_subnet).
                let shared_subnet = self.config.directly_connected && !self.config.is_ibgp();
                for nlri in view.announced() {
                    let family = family_of(&nlri);
                    self.stale.remove(&nlri);
                    self.gr_stale.remove(&nlri);
                    if looped {
                        if self.rib_in.remove(&nlri) {
                            ev.withdrawn.push(nlri);
                        }
                        self.counters.own_as_loops = self.counters.own_as_loops.saturating_add(1);
                        ev.looped.push(nlri);
                        continue;
                    }
                    let next_hop = view.next_hop(family).filter(|nh| {
                        let off_subnet = shared_subnet
                            && crate::import::is_off_subnet(
                                nh,
                                &self.shared_subnets,
                                self.peer_address,
                            );
                        !off_subnet && !is_martian_next_hop(nh, &self.config.local_addresses)
                    });
                    let Some(nh) = next_hop else {
                        // Decision D5: a martian, own or off-subnet next hop is
                        // treat-as-withdraw for that route.
                        self.rib_in.remove(&nlri);
                        self.counters.rejected_next_hop =
                            self.counters.rejected_next_hop.saturating_add(1);
                        ev.rejected_next_hop.push(nlri);
                        ev.withdrawn.push(nlri);
                        continue;
                    };
                    if !self.config.import.accepts(&nlri.prefix) {
                        // Not kept; a route kept earlier for the NLRI (before a policy
                        // change) is replaced by nothing.
                        if self.rib_in.remove(&nlri) {
                            ev.withdrawn.push(nlri);
                        }
                        self.counters.import_rejected =
                            self.counters.import_rejected.saturating_add(1);
                        ev.import_rejected = ev.import_rejected.saturating_add(1);
                        continue;
                    }
                    if self.over_prefix_limit(&nlri, &mut ev) {
                        continue;
                    }
                    let route = Route {
                        nlri,
                        next_hop: nh,
                        attrs: attrs.clone(),
                    };
                    self.rib_in.insert(nlri, nh, &attrs);
                    self.counters.prefixes_in = self.counters.prefixes_in.saturating_add(1);
                    ev.announced.push(route);
                    last_family = Some(family);
                }
            }
        }
        if let Some(max) = self.config.max_prefixes {
            if self.rib_in.len() < max as usize {
                // Below the limit again: the next crossing is reported anew.
                self.prefix_limit_hit = false;
            }
        }
        // Decision D6: more routes than max_prefixes ends the session with Cease 6/1. Only
        // routes the import policy kept are in the Adj-RIB-In, so only they count.
        if let (Some(max), Some(family)) = (self.config.max_prefixes, last_family) {
            if self.rib_in.len() > max as usize {
                let n = Notification::max_prefixes(family, max);
                let reason = format!("maximum number of prefixes ({max}) exceeded");
                return Err((n, reason));
            }
        }
        if !ev.is_empty() {
            out.push(Action::Received(ev));
        }
        Ok(())
    }
}

impl Session {
    /// Decision D6 with `PrefixLimitAction::Drop`: a new prefix is not kept while the
    /// Adj-RIB-In holds `max_prefixes` routes (a kept prefix may still be replaced). Counts
    /// it, and marks the first drop since the table was last below the limit.
    fn over_prefix_limit(&mut self, nlri: &Nlri, ev: &mut RouteEvents) -> bool {
        let Some(max) = self.config.max_prefixes else {
            return false;
        };
        if self.config.max_prefixes_action != crate::PrefixLimitAction::Drop
            || self.rib_in.len() < max as usize
            || self.rib_in.contains(nlri)
        {
            return false;
        }
        self.counters.prefix_limit_dropped = self.counters.prefix_limit_dropped.saturating_add(1);
        ev.prefix_limit_dropped = ev.prefix_limit_dropped.saturating_add(1);
        if !self.prefix_limit_hit {
            self.prefix_limit_hit = true;
            ev.prefix_limit_crossed = Some(max);
        }
        true
    }
}

/// RFC 4271 §6.3 and decision D5: next hops that cannot be right (this host, or a martian:
/// unspecified, 0/8, loopback, multicast, broadcast; [`NextHop::is_martian`]).
pub(crate) fn is_martian_next_hop(nh: &NextHop, local: &[IpAddr]) -> bool {
    nh.is_martian() || local.contains(&nh.addr())
}
