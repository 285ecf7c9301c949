//! Two [`Neighbor`]s wired back to back on a virtual clock (the [`super::pair`] harness one
//! level up): both may connect out, so connections collide (RFC 4271 §6.8) and the
//! production collision code in `neighbor.rs` resolves them on each side on its own.
//! Deliveries on one connection keep their order; their delays are random (seeded).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bgp_proto::{Message, Notification, SessionContext};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::pair::{pair_config, Side};
use super::*;
use crate::{Admin, CollisionStep, ConnId, Direction, Neighbor, Output};

#[derive(Debug)]
enum Delivery {
    /// An event of connection `conn` (named as `side` names it).
    Conn {
        side: Side,
        conn: ConnId,
        event: Event,
    },
    /// The connector of `link` learns that its connect succeeded (or closes it, if it gave
    /// the attempt up meanwhile).
    Complete { link: usize },
    /// The listener of `link` accepts it.
    Accept { link: usize },
}

/// One TCP connection: who opened it, its name at each end once that end has it, and what
/// was sent to an end that does not have it yet.
#[derive(Debug)]
struct Link {
    from: Side,
    ends: [Option<ConnId>; 2],
    pending: [Vec<Event>; 2],
}

impl Link {
    fn open(a: ConnId, b: ConnId, from: Side) -> Link {
        Link {
            from,
            ends: [Some(a), Some(b)],
            pending: [Vec::new(), Vec::new()],
        }
    }
}

/// What happened, per side, for the assertions.
#[derive(Debug, Default)]
pub(super) struct Record {
    pub ups: u32,
    pub downs: u32,
    /// Directions of the connections closed by collision resolution (§6.8).
    pub resolved: Vec<Direction>,
    pub replaced: u32,
    /// NOTIFICATIONs sent, by connection.
    pub notifications: Vec<(ConnId, Notification)>,
    pub connects: u32,
}

pub(super) struct NeighborPair {
    pub now: Instant,
    pub a: Neighbor,
    pub b: Neighbor,
    rng: SmallRng,
    max_delay_us: u64,
    queue: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    links: Vec<Link>,
    /// The connection attempt in progress per side (A, B): its link.
    attempts: [Option<usize>; 2],
    /// Per receiving end, the time of the last delivery in flight: TCP keeps order.
    last: BTreeMap<(u8, ConnId), Instant>,
    pub rec: [Record; 2],
}

impl NeighborPair {
    /// A (ours, `a_id`) and B (`b_id`), both active. `max_delay`: deliveries take a random
    /// time up to this (zero: in order of sending).
    pub fn new(seed: u64, a_id: [u8; 4], b_id: [u8; 4], max_delay: Duration) -> NeighborPair {
        let ac = pair_config(LOCAL_AS, PEER_AS, a_id);
        let bc = pair_config(PEER_AS, LOCAL_AS, b_id);
        NeighborPair {
            now: at(0),
            a: Neighbor::new(ac, seed, Admin::Enabled),
            b: Neighbor::new(bc, seed.wrapping_add(1), Admin::Enabled),
            rng: SmallRng::seed_from_u64(seed),
            max_delay_us: max_delay.as_micros() as u64,
            queue: BTreeMap::new(),
            seq: 0,
            links: Vec::new(),
            attempts: [None; 2],
            last: BTreeMap::new(),
            rec: [Record::default(), Record::default()],
        }
    }

    pub fn neighbor(&mut self, side: Side) -> &mut Neighbor {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn delay(&mut self) -> Duration {
        if self.max_delay_us == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.rng.gen_range(100..self.max_delay_us))
    }

    fn schedule(&mut self, at: Instant, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// Delivers `event` to the far end of `side`'s `conn`, after what is in flight to it
    /// (held until that end has the connection).
    fn send_to_far_end(&mut self, side: Side, conn: ConnId, event: Event) {
        let to = side.other();
        let Some(link) = self
            .links
            .iter()
            .position(|l| l.ends[side as usize] == Some(conn))
        else {
            return;
        };
        match self.links[link].ends[to as usize] {
            Some(far) => self.deliver(to, far, event),
            None => self.links[link].pending[to as usize].push(event),
        }
    }

    fn deliver(&mut self, to: Side, conn: ConnId, event: Event) {
        let key = (to as u8, conn);
        let t = (self.now + self.delay()).max(self.last.get(&key).copied().unwrap_or(self.now));
        self.last.insert(key, t);
        self.schedule(
            t,
            Delivery::Conn {
                side: to,
                conn,
                event,
            },
        );
    }

    /// `side` has its end of `link` now, named `conn`: what waited for it follows.
    fn open_end(&mut self, link: usize, side: Side, conn: ConnId) {
        self.links[link].ends[side as usize] = Some(conn);
        for event in std::mem::take(&mut self.links[link].pending[side as usize]) {
            self.deliver(side, conn, event);
        }
    }

    fn send_bytes(&mut self, side: Side, conn: ConnId, mut rest: Bytes) {
        while !rest.is_empty() {
            let len = bgp_proto::frame_len(&rest, 65535).unwrap().unwrap();
            let msg = rest.split_to(len);
            if let Some(n) = decode_notification(&msg) {
                self.rec[side as usize].notifications.push((conn, n));
            }
            self.send_to_far_end(side, conn, Event::Message(msg));
        }
    }

    /// Carries out `side`'s outputs as a network and a driver would.
    pub fn carry_out(&mut self, side: Side, outputs: Vec<Output>) {
        for output in outputs {
            let rec = &mut self.rec[side as usize];
            match output {
                Output::Connect => {
                    rec.connects += 1;
                    let link = self.links.len();
                    self.links.push(Link {
                        from: side,
                        ends: [None, None],
                        pending: [Vec::new(), Vec::new()],
                    });
                    self.attempts[side as usize] = Some(link);
                    // The connector and the listener learn of the connection independently.
                    let t = self.now + self.delay();
                    self.schedule(t, Delivery::Complete { link });
                    let t = self.now + self.delay();
                    self.schedule(t, Delivery::Accept { link });
                }
                Output::StopConnecting { .. } => self.attempts[side as usize] = None,
                Output::Accepted(..) | Output::LoadRoutes | Output::RoutesReset => {}
                Output::Refuse {
                    conn, notification, ..
                } => {
                    if let Some(n) = notification {
                        let mut b = bytes::BytesMut::new();
                        n.encode(&mut b);
                        self.send_bytes(side, conn, b.freeze());
                    }
                    self.send_to_far_end(side, conn, Event::Closed);
                }
                Output::Send(conn, bytes) => self.send_bytes(side, conn, bytes),
                Output::Close(conn) | Output::Abandon(conn) => {
                    self.send_to_far_end(side, conn, Event::Closed)
                }
                Output::SessionUp(n) => {
                    rec.ups += 1;
                    assert!(n.hold_time == 9 && n.keepalive == 3, "{n:?}");
                }
                Output::SessionDown { reason, current } => {
                    if current && reason.was_established {
                        rec.downs += 1;
                    }
                }
                Output::Received(_) => {}
                Output::Collision(CollisionStep::Resolved { closed }) => rec.resolved.push(closed),
                Output::Collision(CollisionStep::Replaced) => rec.replaced += 1,
                Output::Collision(CollisionStep::Started) => {}
            }
        }
    }

    fn step(&mut self) -> bool {
        let Some((&(t, seq), _)) = self.queue.iter().next() else {
            return false;
        };
        let d = self.queue.remove(&(t, seq)).unwrap();
        self.now = self.now.max(t);
        match d {
            Delivery::Conn { side, conn, event } => {
                let now = self.now;
                let out = self.neighbor(side).handle_conn(now, conn, event);
                self.carry_out(side, out);
            }
            Delivery::Complete { link } => {
                let from = self.links[link].from;
                let now = self.now;
                if self.attempts[from as usize] == Some(link) {
                    self.attempts[from as usize] = None;
                    let (conn, out) =
                        self.neighbor(from)
                            .connected(now, Direction::Outbound, Vec::new(), None);
                    self.open_end(link, from, conn);
                    self.carry_out(from, out);
                } else {
                    // Given up (an inbound connection was taken meanwhile): the socket is
                    // closed, and the listener sees that.
                    let to = from.other();
                    match self.links[link].ends[to as usize] {
                        Some(far) => self.deliver(to, far, Event::Closed),
                        None => self.links[link].pending[to as usize].push(Event::Closed),
                    }
                }
            }
            Delivery::Accept { link } => {
                let to = self.links[link].from.other();
                let now = self.now;
                let (conn, out) =
                    self.neighbor(to)
                        .connected(now, Direction::Inbound, Vec::new(), None);
                self.open_end(link, to, conn);
                self.carry_out(to, out);
            }
        }
        true
    }

    /// Runs deliveries and timers up to `t`.
    pub fn run_until(&mut self, t: Instant) {
        for _ in 0..1_000_000 {
            let head = self.queue.keys().next().map(|&(at, _)| at);
            let timers = [Side::A, Side::B].map(|s| self.neighbor(s).next_timeout());
            let next = [head, timers[0], timers[1]].into_iter().flatten().min();
            let Some(next) = next.filter(|&n| n <= t) else {
                self.now = self.now.max(t);
                return;
            };
            self.now = self.now.max(next);
            if let Some(side) = [Side::A, Side::B]
                .into_iter()
                .find(|&s| timers[s as usize] == Some(next) && head != Some(next))
            {
                let now = self.now;
                let out = self.neighbor(side).handle_timeout(now);
                self.carry_out(side, out);
            } else {
                self.step();
            }
        }
        panic!("the pair did not settle");
    }

    /// Both Established, on one and the same TCP connection.
    pub fn settled(&self) -> bool {
        let ends = [self.a.conn(), self.b.conn()];
        let same = ends[0].is_some() && self.links.iter().any(|l| l.ends == ends);
        same && self.a.session().state() == State::Established
            && self.b.session().state() == State::Established
    }
}

fn decode_notification(msg: &Bytes) -> Option<Notification> {
    match bgp_proto::decode(msg.clone(), &SessionContext::default()) {
        Ok(Message::Notification(n)) => Some(n),
        _ => None,
    }
}

/// Both started and both connects completed at the connector before either listener sees
/// the other's: each side has an outbound connection in OpenSent when the inbound one
/// arrives, so both run a second session. Returns the pair and the connections, named
/// `[A's outbound, B's outbound, A's inbound, B's inbound]`.
fn colliding(seed: u64, a_id: [u8; 4], b_id: [u8; 4]) -> (NeighborPair, [ConnId; 4]) {
    let mut p = NeighborPair::new(seed, a_id, b_id, Duration::ZERO);
    for side in [Side::A, Side::B] {
        let now = p.now;
        let out = p.neighbor(side).start(now);
        assert!(out.contains(&Output::Connect));
    }
    let now = p.now;
    let (a_out, xa) = p.a.connected(now, Direction::Outbound, Vec::new(), None);
    let (b_out, xb) = p.b.connected(now, Direction::Outbound, Vec::new(), None);
    let (a_in, ya) = p.a.connected(now, Direction::Inbound, Vec::new(), None);
    let (b_in, yb) = p.b.connected(now, Direction::Inbound, Vec::new(), None);
    p.links.push(Link::open(a_out, b_in, Side::A));
    p.links.push(Link::open(a_in, b_out, Side::B));
    assert!(p.a.second_session().is_some() && p.b.second_session().is_some());
    for (side, out) in [(Side::A, xa), (Side::B, xb), (Side::A, ya), (Side::B, yb)] {
        p.carry_out(side, out);
    }
    (p, [a_out, b_out, a_in, b_in])
}

/// Both speakers connect at once: two connections, each seen from both ends. Each side's
/// `Neighbor` resolves the collision on its own (RFC 4271 §6.8); both must close the same
/// connection with Cease 6/7, and the other reaches Established. Returns the direction (as
/// A sees it) of the connection closed.
pub(super) fn collision(a_id: [u8; 4], b_id: [u8; 4]) -> Direction {
    let (mut p, [a_out, b_out, a_in, b_in]) = colliding(1, a_id, b_id);
    p.run_until(at(5));
    assert!(
        p.settled(),
        "A {:?} B {:?}",
        p.a.session().state(),
        p.b.session().state()
    );
    let (ra, rb) = (&p.rec[0], &p.rec[1]);
    assert_eq!((ra.resolved.len(), rb.resolved.len()), (1, 1));
    // Both sides closed the same TCP connection: A's outbound is B's inbound.
    assert_ne!(ra.resolved[0], rb.resolved[0]);
    let (a_lost, b_lost) = match ra.resolved[0] {
        Direction::Outbound => (a_out, b_in),
        Direction::Inbound => (a_in, b_out),
    };
    let lost = [Some(a_lost), Some(b_lost)];
    assert_eq!(p.links.iter().filter(|l| l.ends == lost).count(), 1);
    assert!(!p.a.holds(a_lost) && !p.b.holds(b_lost));
    // Each sent Cease 6/7 on it, and nothing else was reset.
    let cease = Notification::cease(7, None);
    assert_eq!(ra.notifications, vec![(a_lost, cease.clone())]);
    assert_eq!(rb.notifications, vec![(b_lost, cease)]);
    assert_eq!((ra.ups, rb.ups, ra.downs, rb.downs), (1, 1, 0, 0));
    ra.resolved[0]
}

#[test]
fn collision_higher_local_id_keeps_its_outbound_connection() {
    assert_eq!(collision([10, 0, 0, 9], [10, 0, 0, 1]), Direction::Inbound);
}

#[test]
fn collision_lower_local_id_keeps_the_peers_connection() {
    assert_eq!(collision([10, 0, 0, 1], [10, 0, 0, 9]), Direction::Outbound);
}

/// Both active, random delays: whatever the interleaving of the two connects, the two
/// neighbors end on one shared connection, Established, and stay there.
#[test]
fn neighbor_pair_both_active_settle_on_one_connection() {
    let mut collisions = 0;
    for seed in 0..200 {
        let (a_id, b_id) = if seed % 2 == 0 {
            ([10, 0, 0, 1], [10, 0, 0, 9])
        } else {
            ([10, 0, 0, 9], [10, 0, 0, 1])
        };
        let mut p = NeighborPair::new(seed, a_id, b_id, Duration::from_millis(300));
        for side in [Side::A, Side::B] {
            let now = p.now;
            let out = p.neighbor(side).start(now);
            p.carry_out(side, out);
        }
        p.run_until(at(90));
        assert!(
            p.settled(),
            "seed {seed}: A {:?} B {:?}",
            p.a.session().state(),
            p.b.session().state()
        );
        let downs = (p.rec[0].downs, p.rec[1].downs);
        p.run_until(at(200));
        assert!(p.settled(), "seed {seed}: stays up");
        assert_eq!((p.rec[0].downs, p.rec[1].downs), downs, "seed {seed}");
        collisions += p.rec[0].resolved.len();
        // Collisions only ever close with Cease 6/7.
        for rec in &p.rec {
            for (_, n) in &rec.notifications {
                assert_eq!(*n, Notification::cease(7, None), "seed {seed}");
            }
        }
    }
    // The random delays really made the connections collide.
    assert!(collisions > 20, "{collisions}");
}

/// Issue 17 item 2 on the pair: A (lower identifier, configured active) loses the collision
/// to B's inbound connection. When that session breaks, A connects out again itself.
#[test]
fn collision_won_by_inbound_connection_still_connects_out_after_a_failure() {
    let (mut p, [_, _, a_in, _]) = colliding(2, [10, 0, 0, 1], [10, 0, 0, 9]);
    p.run_until(at(5));
    assert!(p.settled());
    assert_eq!(p.a.conn(), Some(a_in), "B's connection won");
    // B stays down from now on (it will not connect), and the connection breaks.
    let now = p.now;
    let out = p.b.shutdown(now, Notification::cease(2, None));
    p.carry_out(Side::B, out);
    let connects = p.rec[0].connects;
    p.run_until(at(40));
    assert!(
        p.rec[0].connects > connects,
        "A stayed in {:?}",
        p.a.session().state()
    );
    // Once B is enabled again, they meet again.
    let now = p.now;
    let out = p.b.enable(now);
    p.carry_out(Side::B, out);
    p.run_until(at(120));
    assert!(p.settled());
}

/// Issue 17 item 3 on the pair: B's old connection to A is half-open (A accepted it, B's
/// end is gone and sends nothing), then B connects again. A's neighbor keeps the new one
/// once it carries B's OPEN: no Cease 6/7 from either side, whatever the identifiers.
#[test]
fn two_inbound_connections_the_newer_replaces_the_half_open_one() {
    for b_id in [[10, 0, 0, 9], [10, 0, 0, 1]] {
        let mut p = NeighborPair::new(3, [10, 0, 0, 5], b_id, Duration::ZERO);
        // A is passive here so that only B's connections exist.
        let mut cfg = p.a.config().clone();
        cfg.passive = true;
        p.a = Neighbor::new(cfg, 3, Admin::Enabled);
        let now = p.now;
        p.a.start(now);
        let (half_open, out) = p.a.connected(now, Direction::Inbound, Vec::new(), None);
        // A's OPEN goes nowhere: the connection is not linked to any B end.
        p.carry_out(Side::A, out);
        assert_eq!(p.a.session().state(), State::OpenSent);
        let out = p.b.start(now);
        p.carry_out(Side::B, out);
        p.run_until(at(5));
        assert!(p.settled(), "A {:?}", p.a.session().state());
        assert!(!p.a.holds(half_open));
        assert_eq!(p.rec[0].replaced, 1);
        assert!(p.rec[0].resolved.is_empty() && p.rec[1].resolved.is_empty());
        assert!(p.rec[0].notifications.is_empty() && p.rec[1].notifications.is_empty());
    }
}
