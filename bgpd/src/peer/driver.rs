//! The peer task's connection events and the `Neighbor` outputs they lead to: new
//! connections (ours and the peer's), frames read, bytes written, timers, and the carrying
//! out of each [`Output`] (sockets, logs, the Loc-RIB, the status).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::{
    CollisionStep, ConnId, Direction, DownReason, Event, Negotiated, Output, Refusal, RouteEvents,
};
use bgp_proto::{HeaderError, Notification};
use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::settings::{link_of, transport_options};
use super::socket::{close_conn, connect_hint, Conn};
use super::{down_sentence, established_sentence, PeerTask, LARGE_CHANGE};
use crate::locrib::{RibInput, RibRoute};
use crate::status::{ConnectError, LastDown};
use crate::transport;

impl PeerTask {
    /// The peer connected to one of our listeners: the neighbor decides (RFC 4271 §6.8).
    pub(super) async fn on_inbound(&mut self, stream: TcpStream) {
        if let Err(e) = transport::prepare_accepted(&stream, &transport_options(&self.peer)) {
            warn!(
                "cannot set socket options on the connection from {}: {e}",
                self.label()
            );
        }
        self.on_stream(stream, Direction::Inbound).await;
    }

    /// Hands a new connection to the neighbor and carries out its verdict.
    pub(super) async fn on_stream(&mut self, stream: TcpStream, direction: Direction) {
        let (subnets, remote) = link_of(self.neighbor.config(), &stream, self.peer.address);
        let (id, outputs) = self
            .neighbor
            .connected(Instant::now(), direction, subnets, remote);
        self.conns.push(Conn::new(stream, id));
        self.carry_out(outputs).await;
    }

    pub(super) async fn on_connected(&mut self, res: io::Result<TcpStream>) {
        match res {
            Ok(stream) => self.on_stream(stream, Direction::Outbound).await,
            Err(e) => {
                self.connect_failed(&e);
                let outputs = self.neighbor.connect_failed(Instant::now());
                self.carry_out(outputs).await;
            }
        }
    }

    /// Records a failed connection attempt (why the peer is down, for `bgpctl` and metrics)
    /// and logs it at WARN on the 1st, 10th, 100th, ... attempt in a row, so a peer that
    /// cannot be reached is visible without flooding the log.
    pub(super) fn connect_failed(&mut self, e: &io::Error) {
        let error = match connect_hint(e, &self.peer) {
            Some(hint) => format!("{e} ({hint})"),
            None => e.to_string(),
        };
        let mut attempts = 0;
        self.status.send_modify(|s| {
            attempts = s.connect_error.as_ref().map_or(0, |c| c.attempts) + 1;
            s.connect_error = Some(ConnectError {
                error: error.clone(),
                at: SystemTime::now(),
                attempts,
            });
        });
        // 1, 10, 100, 1000, ...: a rate that falls as the outage lasts.
        let mut n = attempts;
        while n % 10 == 0 {
            n /= 10;
        }
        if n == 1 {
            warn!(
                "cannot connect to {} (attempt {attempts} in a row): {error}",
                self.label()
            );
        } else {
            debug!("connection to {} failed: {error}", self.label());
        }
    }

    pub(super) async fn on_frame(
        &mut self,
        id: Option<ConnId>,
        frame: Option<Result<Result<Bytes, HeaderError>, io::Error>>,
    ) {
        let Some(id) = id else { return };
        let event = match frame {
            Some(Ok(Ok(msg))) => Event::Message(msg),
            Some(Ok(Err(header))) => {
                if let Some(conn) = self.conn_mut(id) {
                    conn.reader = None;
                }
                Event::HeaderError(header)
            }
            Some(Err(e)) => {
                debug!("read from {} failed: {e}", self.label());
                self.take_conn(id);
                Event::Closed
            }
            None => {
                self.take_conn(id);
                Event::Closed
            }
        };
        let outputs = self.neighbor.handle_conn(Instant::now(), id, event);
        self.carry_out(outputs).await;
    }

    /// The `select!` write branch wrote: report progress (or a full socket) to the session
    /// (RFC 9687), as `flush_now` does for its writes.
    pub(super) async fn on_written(&mut self, id: Option<ConnId>, res: io::Result<Vec<Event>>) {
        let Some(id) = id else { return };
        let events = match res {
            Ok(events) => events,
            Err(e) => {
                debug!("write to {} failed: {e}", self.label());
                self.take_conn(id);
                vec![Event::Closed]
            }
        };
        for event in events {
            let outputs = self.neighbor.handle_conn(Instant::now(), id, event);
            self.carry_out(outputs).await;
        }
    }

    /// Starts the connection attempt the session asked for. An unnumbered peer's attempt
    /// waits for its neighbor's address, and says so in the status meanwhile.
    pub(super) fn start_connect(&mut self) {
        let opts = transport_options(&self.peer);
        let timeout = self.peer.connect_retry.max(Duration::from_secs(1));
        let port = self.peer.port;
        let Some(link) = self.link.clone() else {
            let remote = self.peer.socket_addr(&crate::link::ThisHost);
            self.connecting = Some(Box::pin(async move {
                transport::connect(remote, &opts, timeout).await
            }));
            return;
        };
        if let Some(waiting) = link.waiting() {
            self.connect_failed(&waiting);
        }
        self.connecting = Some(Box::pin(async move {
            let remote = link.resolve(port).await;
            transport::connect(remote, &opts, timeout).await
        }));
    }

    /// Where connections go: the configured address, or an unnumbered peer's learned one.
    pub(super) fn connect_target(&self) -> Option<SocketAddr> {
        match &self.link {
            Some(link) => link.current(self.peer.port),
            None => Some(self.peer.socket_addr(&crate::link::ThisHost)),
        }
    }

    /// An unnumbered peer's neighbor is known, or changed (the router was replaced): a
    /// session with another address ends (Cease 6/6, Other Configuration Change, RFC 4486)
    /// and starts again towards `addr` at once; an attempt in progress is redirected.
    pub(super) async fn on_neighbor(&mut self, addr: std::net::Ipv6Addr) {
        self.status.send_modify(|s| s.address = IpAddr::V6(addr));
        let elsewhere = |c: &Conn| c.remote.is_some_and(|r| r.ip() != IpAddr::V6(addr));
        if self.main_conn().is_some_and(elsewhere) && !self.neighbor.is_admin_down() {
            info!(
                "the neighbor of {} is now {addr}: closing the session with the previous \
                 address and connecting to the new one",
                self.label()
            );
            let outputs = self
                .neighbor
                .stop(Instant::now(), Notification::cease(6, None));
            self.carry_out(outputs).await;
            let outputs = self.neighbor.start(Instant::now());
            self.carry_out(outputs).await;
        } else if self.connecting.is_some() && self.main_conn().is_none() {
            self.start_connect();
        }
    }

    /// A reload changed `import` or `allow_own_as`: the live sessions apply them without a
    /// reset (issue 13 §3); the session withdraws what the new rules refuse and asks the peer
    /// for a route refresh when they may accept more.
    pub(super) async fn apply_import(&mut self) {
        let policy = self.peer.import.clone();
        let allow_own_as = self.peer.allow_own_as;
        let cfg = self.neighbor.session().config();
        if cfg.import == policy && cfg.allow_own_as == allow_own_as {
            return;
        }
        info!(
            "import policy for {} is now {policy} (allow_own_as {allow_own_as}), applied \
             without a session reset",
            self.label()
        );
        let outputs = self
            .neighbor
            .set_import(Instant::now(), policy, allow_own_as);
        self.carry_out(outputs).await;
    }

    /// Feeds one event to the current session and carries out the outputs.
    pub(super) async fn feed(&mut self, event: Event) {
        let outputs = self.neighbor.handle(Instant::now(), event);
        self.carry_out(outputs).await;
    }

    /// Carries out the neighbor's `outputs` in order, then what they lead to (routes loaded
    /// for a session, a send queue over its cap).
    pub(super) async fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut work: VecDeque<Vec<Output>> = VecDeque::from([outputs]);
        while let Some(outputs) = work.pop_front() {
            for output in outputs {
                self.execute(output, &mut work).await;
            }
            // Write what the socket takes now, so only data the peer has not read counts.
            self.flush_now();
            let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
            for id in ids {
                if let Some(outputs) = self.queue_over_cap(id) {
                    // The connection's own session answers with NOTIFICATION 6/8 and Close.
                    work.push_back(outputs);
                }
            }
        }
        // A connection the neighbor no longer holds is closed (it always says so; this
        // only keeps the two lists from ever drifting apart).
        let neighbor = &self.neighbor;
        self.conns.retain(|c| neighbor.holds(c.id));
        self.release_rib_in();
        self.flush_now();
    }

    /// Hands the memory of received routes back to the kernel once the Adj-RIB-In has
    /// shrunk enough ([`crate::memory::Shrink`]): the freed blocks otherwise stay in the
    /// allocator's heaps, and RSS at the peak.
    pub(super) fn release_rib_in(&mut self) {
        let held = self.neighbor.session().adj_rib_in().len();
        if self.rib_in_shrink.halved(held) {
            crate::memory::release_freed_memory_soon();
        }
    }

    /// Send-queue cap (issue 7, `max_queued_bytes`): when the unsent data of a connection
    /// exceeds the cap, the peer is not reading fast enough. Rather than letting memory grow,
    /// drop the queued messages that have not started to go out (the partly written one is
    /// kept so the stream stays framed) and stop the session with Cease 6/8, Out of Resources
    /// (RFC 4486). It restarts after the IdleHoldTime like any failure; with the RFC 8538 N
    /// bit on both sides this Cease keeps graceful-restart semantics (routes stay stale).
    pub(super) fn queue_over_cap(&mut self, id: ConnId) -> Option<Vec<Output>> {
        let cap = self.peer.max_queued_bytes;
        let queued = self.conn_mut(id)?.writer.as_ref()?.queue.queued_bytes() as u64;
        if queued <= cap {
            return None;
        }
        // Only now: this runs after every flush (each keepalive), the label is a format!.
        let name = self.label();
        let w = self.conn_mut(id)?.writer.as_mut()?;
        warn!(
            "{queued} bytes are queued for {name}, more than max_queued_bytes ({cap}): the peer \
             is not reading fast enough; resetting the session with NOTIFICATION 6/8 (Out of \
             Resources)"
        );
        w.queue.drop_unsent();
        let stop = Event::AutomaticStop {
            notification: Some(Notification::cease(8, None)),
        };
        Some(self.neighbor.handle_conn(Instant::now(), id, stop))
    }

    /// Writes as much queued data as the sockets take without waiting, and reports to the
    /// session both the bytes written (`SendProgress`, which restarts or stops the
    /// SendHoldTimer) and a socket that takes no more (`SendBlocked`), RFC 9687. The rest is
    /// written by the `select!` loop. Issue 17: this path used to drain the queue without
    /// telling the session, so the timer armed by the first `SendBlocked` ran on and reset a
    /// healthy peer with 8/0 one SendHoldTime later.
    pub(super) fn flush_now(&mut self) {
        let now = Instant::now();
        for conn in &mut self.conns {
            let Some(w) = conn.writer.as_mut() else {
                continue;
            };
            let mut events = Vec::new();
            while let Some(front) = w.queue.front() {
                let len = front.len();
                match w.half.try_write(front) {
                    Ok(n) if n > 0 => {
                        events.extend(w.queue.wrote(n));
                        if n < len {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            events.extend(w.queue.stalled());
            for event in events {
                // Not re-entering carry_out: these events only (re)arm or stop the
                // SendHoldTimer, which the neighbor keeps to itself.
                for output in self.neighbor.handle_conn(now, conn.id, event) {
                    if output == Output::LoadRoutes {
                        // Asked again after the next event, where it can be carried out.
                        self.neighbor.routes_not_loaded();
                    } else {
                        debug!("unexpected output after a send report: {output:?}");
                    }
                }
            }
        }
    }

    /// Carries out one neighbor output; outputs it leads to (routes for a new session) go
    /// to the back of `work`.
    pub(super) async fn execute(&mut self, output: Output, work: &mut VecDeque<Vec<Output>>) {
        match output {
            Output::Connect => self.start_connect(),
            Output::StopConnecting { unanswered } => {
                // A pending connect dropped for a retry (still in Connect) got no answer:
                // with MD5 or GTSM configured, say what that usually means.
                if unanswered && self.connecting.is_some() {
                    let opts = transport_options(&self.peer);
                    let waited = self.peer.connect_retry;
                    // (An unnumbered peer that has no address yet was not asked.)
                    if let Some(remote) = self.connect_target() {
                        transport::report_unanswered(remote, &opts, waited);
                    }
                }
                self.connecting = None;
            }
            Output::Accepted(id, Direction::Inbound) => {
                let remote = self.conn_mut(id).and_then(|c| c.remote);
                info!("accepted a connection from {} ({:?})", self.label(), remote);
            }
            Output::Accepted(_, Direction::Outbound) => debug!("connected to {}", self.label()),
            Output::Refuse {
                conn,
                notification,
                why,
            } => {
                match why {
                    Refusal::Idle => {
                        debug!("refused a connection from {} while Idle", self.label())
                    }
                    Refusal::Established => info!(
                        "refused a second connection from {}: session already established \
                         (sent NOTIFICATION 6/7)",
                        self.label()
                    ),
                    Refusal::ThirdConnection => info!(
                        "refused a third connection from {} during a collision (sent \
                         NOTIFICATION 6/7)",
                        self.label()
                    ),
                    // An inbound connection won the race; our own is surplus.
                    Refusal::Surplus => {}
                }
                // Without a NOTIFICATION, dropping the stream closes it; the peer retries.
                if let Some(mut conn) = self.take_conn(conn) {
                    if let (Some(n), Some(w)) = (notification, conn.writer.as_mut()) {
                        let mut buf = BytesMut::new();
                        n.encode(&mut buf);
                        w.queue.push(buf.freeze());
                        close_conn(conn).await;
                    }
                }
            }
            Output::Send(id, bytes) => {
                if let Some(w) = self.conn_mut(id).and_then(|c| c.writer.as_mut()) {
                    w.queue.push(bytes);
                }
            }
            Output::Close(id) => {
                if let Some(conn) = self.take_conn(id) {
                    close_conn(conn).await;
                }
            }
            Output::Abandon(id) => {
                // Closed on its own task so the surviving connection is not delayed.
                if let Some(conn) = self.take_conn(id) {
                    tokio::spawn(close_conn(conn));
                }
            }
            Output::SessionUp(negotiated) => self.session_up(&negotiated),
            Output::SessionDown { reason, current } => self.session_down(reason, current),
            Output::Received(events) => self.received(events),
            Output::LoadRoutes => match self.route_actions() {
                Some(outputs) => {
                    work.push_back(outputs);
                    if self.neighbor.session().adj_rib_out().len() >= LARGE_CHANGE {
                        crate::memory::release_freed_memory();
                    }
                }
                None => self.neighbor.routes_not_loaded(),
            },
            Output::RoutesReset => self.deferred_log = None,
            Output::Collision(CollisionStep::Started) => info!(
                "connection collision with {}: running both connections until OPENs are \
                 exchanged (RFC 4271 §6.8)",
                self.label()
            ),
            Output::Collision(CollisionStep::Resolved { closed }) => info!(
                "connection collision with {} resolved: closing the {} connection (sent \
                 NOTIFICATION 6/7)",
                self.label(),
                if closed == Direction::Outbound {
                    "outbound"
                } else {
                    "inbound"
                }
            ),
            Output::Collision(CollisionStep::Replaced) => info!(
                "a new connection from {} completed its OPEN while an older one from it \
                 had not: the router reconnected (RFC 4271 §6.8 compares connections in \
                 opposite directions only); closing the older connection, no NOTIFICATION",
                self.label()
            ),
        }
    }

    pub(super) fn session_up(&mut self, negotiated: &Negotiated) {
        let main = self.neighbor.conn();
        if let Some(reader) = main
            .and_then(|id| self.conn_mut(id))
            .and_then(|c| c.reader.as_mut())
        {
            reader.decoder_mut().set_max_len(negotiated.max_message_len);
        }
        self.logged_errors.clear();
        self.rib_send(RibInput::Up {
            peer: self.peer.name.clone(),
            info: bgp_rib::Peer {
                remote_as: negotiated.peer_asn,
                local_as: negotiated.local_asn,
                bgp_id: negotiated.peer_id,
                // The session's far end: an unnumbered peer's is learned.
                address: self
                    .main_conn()
                    .and_then(|c| c.remote)
                    .map_or(self.peer.address, |r| r.ip()),
            },
        });
        info!("{}", established_sentence(&self.peer, negotiated));
        if let Some(sentence) = self.deferred_log.take() {
            info!("{sentence}");
        }
        let session = self.neighbor.session();
        if session.end_of_rib_pending() {
            info!(
                "holding End-of-RIB to {} until every route is known (restored \
                 state, first health verdicts, `bgpctl sync end`; at most {:?})",
                self.label(),
                session
                    .config()
                    .graceful_restart
                    .as_ref()
                    .and_then(|g| g.end_of_rib_deferral)
                    .unwrap_or_default()
            );
        }
        self.publish(Some(SystemTime::now()));
    }

    pub(super) fn session_down(&mut self, reason: DownReason, current: bool) {
        let sentence = down_sentence(&self.peer, &reason);
        if reason.was_established {
            warn!("{sentence}");
        } else {
            info!("{sentence}");
        }
        let was_established = reason.was_established;
        let last = LastDown { sentence, reason };
        self.status.send_modify(|s| {
            if was_established {
                s.flaps += 1;
                s.established_since = None;
            }
            s.last_down = Some(last);
        });
        if current {
            // What the Adj-RIB-In still holds is kept stale for the peer's graceful restart
            // (`DownReason::stale_routes_kept`); it stays in the Loc-RIB (and leaves later
            // through `Received`), every other path goes at once.
            self.rib_send(RibInput::Down {
                peer: self.peer.name.clone(),
                kept: self
                    .neighbor
                    .session()
                    .adj_rib_in()
                    .iter()
                    .map(|r| RibRoute::from(&r))
                    .collect(),
            });
        }
    }

    pub(super) fn received(&mut self, events: RouteEvents) {
        // RFC 7606 §6 asks for a log; once per kind and session keeps a peer that repeats
        // the same error from flooding it (the counters keep the totals).
        if let Some((attr, why)) = events.treat_as_withdraw {
            if self.logged_errors.insert((attr.0, why)) {
                warn!(
                    "UPDATE from {} treated as withdraw: {why} (attribute {attr}; further \
                     ones of this kind are logged at debug level)",
                    self.label()
                );
            } else {
                debug!("UPDATE from {} treated as withdraw: {why}", self.label());
            }
        }
        for (attr, why) in &events.discarded {
            if self.logged_errors.insert((attr.0, why)) {
                info!("attribute {attr} from {} discarded: {why}", self.label());
            }
        }
        // Type code 0 is reserved: these keys never clash with an attribute's.
        if let Some(first) = events.looped.first() {
            if self.logged_errors.insert((0, "as loop")) {
                let config = self.neighbor.session().config();
                warn!(
                    "route {} from {} discarded: its AS_PATH holds our AS {} (RFC 4271 \
                     §9.1.2 loop; allow_own_as {}) or it is our own route reflected back; \
                     further ones are only counted",
                    first.prefix,
                    self.label(),
                    config.local_asn,
                    config.allow_own_as,
                );
            }
        }
        if let Some(first) = events.rejected_next_hop.first() {
            if self.logged_errors.insert((0, "next hop")) {
                warn!(
                    "route {} from {} treated as withdrawn: its next hop is our own \
                     address, a martian, or not on a subnet shared with the peer \
                     (RFC 4271 §6.3); further ones are only counted",
                    first.prefix,
                    self.label(),
                );
            }
        }
        if let Some(max) = events.prefix_limit_crossed {
            // Once per crossing (the session reports it again only after the table was
            // below the limit).
            warn!(
                "{} sent more routes than max_prefixes ({max}): routes beyond the limit are \
                 dropped and counted, the session stays up (max_prefixes_action = \"drop\", \
                 decision D6)",
                self.label()
            );
        }
        debug!(
            "received {} routes and {} withdrawals from {} ({} not kept by the import \
             policy)",
            events.announced.len(),
            events.withdrawn.len(),
            self.label(),
            events.import_rejected,
        );
        if !events.announced.is_empty() || !events.withdrawn.is_empty() {
            self.rib_send(RibInput::Received {
                peer: self.peer.name.clone(),
                announced: events.announced.iter().map(RibRoute::from).collect(),
                withdrawn: events.withdrawn,
                read_at: std::time::Instant::now(),
            });
        }
    }
}
