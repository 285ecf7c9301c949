//! Two sessions wired back to back on a virtual clock (after quinn's `Pair`): random
//! delivery delays, timer firings late and out of order (and sometimes twice), dropped
//! connections. Whatever happens, they reach Established, exchange their routes, and
//! recover after a drop.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bgp_proto::{Family, Nlri};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Side {
    A,
    B,
}

impl Side {
    pub(super) fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

#[derive(Debug)]
enum Delivery {
    /// Deliver `event` to `side` if `conn` is still that side's connection (None: always).
    Event {
        side: Side,
        event: Event,
        conn: Option<u64>,
    },
    /// A's connection attempt `attempt` reaches B.
    ConnectAttempt { attempt: u64 },
    /// The network breaks the current connection.
    Drop,
}

struct Pair {
    now: Instant,
    a: Session,
    b: Session,
    rng: SmallRng,
    queue: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    next_conn: u64,
    conn_a: Option<u64>,
    conn_b: Option<u64>,
    pending_attempt: Option<u64>,
    /// Per direction (to A, to B), the time of the last byte in flight: TCP keeps order.
    last_in_flight: [Instant; 2],
    ups: [u32; 2],
    downs: [u32; 2],
    /// Routes kept stale for graceful restart, summed over SessionDown actions.
    stale_kept: usize,
}

pub(super) fn pair_config(local: u32, peer: u32, id: [u8; 4]) -> SessionConfig {
    let mut c = SessionConfig::new(local, peer, Ipv4Addr::from(id));
    c.families = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
    c.hold_time = 9;
    c.connect_retry = Duration::from_secs(2);
    c.idle_hold_time = Duration::from_millis(500);
    c.max_idle_hold_time = Duration::from_secs(4);
    c
}

fn routes_of(asn: u32, n: u32, nh: [u8; 4]) -> Vec<Route> {
    (0..n)
        .map(|i| route(&format!("10.{}.{}.0/24", asn % 200, i), nh, asn))
        .collect()
}

impl Pair {
    fn new(seed: u64) -> Pair {
        Pair::with(seed, false)
    }

    fn with(seed: u64, graceful: bool) -> Pair {
        let mut ac = pair_config(LOCAL_AS, PEER_AS, [10, 0, 0, 1]);
        let mut bc = pair_config(PEER_AS, LOCAL_AS, [10, 0, 0, 2]);
        if graceful {
            for c in [&mut ac, &mut bc] {
                c.graceful_restart = Some(crate::GracefulRestartConfig {
                    notification: true,
                    preserve_forwarding: vec![Family::IPV4_UNICAST],
                    ..Default::default()
                });
            }
        }
        let a = Session::new(ac, seed);
        bc.passive = true;
        let b = Session::new(bc, seed.wrapping_add(1));
        Pair {
            now: at(0),
            a,
            b,
            rng: SmallRng::seed_from_u64(seed),
            queue: BTreeMap::new(),
            seq: 0,
            next_conn: 0,
            conn_a: None,
            conn_b: None,
            pending_attempt: None,
            last_in_flight: [at(0); 2],
            ups: [0; 2],
            downs: [0; 2],
            stale_kept: 0,
        }
    }

    fn session(&mut self, side: Side) -> &mut Session {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn conn(&mut self, side: Side) -> &mut Option<u64> {
        match side {
            Side::A => &mut self.conn_a,
            Side::B => &mut self.conn_b,
        }
    }

    fn schedule(&mut self, at: Instant, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    fn delay(&mut self) -> Duration {
        Duration::from_micros(self.rng.gen_range(100..200_000))
    }

    /// Schedules in-order delivery to `to` (after everything already in flight to it).
    fn in_order(&mut self, to: Side, d: Delivery) {
        let idx = to as usize;
        let t = (self.now + self.delay()).max(self.last_in_flight[idx]);
        self.last_in_flight[idx] = t;
        self.schedule(t, d);
    }

    fn feed(&mut self, side: Side, event: Event) {
        let now = self.now;
        let actions = self.session(side).handle(now, event);
        self.carry_out(side, actions);
    }

    fn carry_out(&mut self, side: Side, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect => {
                    assert_eq!(side, Side::A, "B is passive");
                    self.next_conn += 1;
                    let attempt = self.next_conn;
                    self.pending_attempt = Some(attempt);
                    let t = self.now + self.delay();
                    self.schedule(t, Delivery::ConnectAttempt { attempt });
                }
                Action::Send(bytes) => {
                    if let Some(conn) = *self.conn(side) {
                        let mut rest: Bytes = bytes;
                        while !rest.is_empty() {
                            let len = bgp_proto::frame_len(&rest, 65535).unwrap().unwrap();
                            let msg = rest.split_to(len);
                            let to = side.other();
                            self.in_order(
                                to,
                                Delivery::Event {
                                    side: to,
                                    event: Event::Message(msg),
                                    conn: Some(conn),
                                },
                            );
                        }
                    }
                }
                Action::Close => {
                    if side == Side::A {
                        self.pending_attempt = None;
                    }
                    if let Some(conn) = self.conn(side).take() {
                        let to = side.other();
                        self.in_order(
                            to,
                            Delivery::Event {
                                side: to,
                                event: Event::Closed,
                                conn: Some(conn),
                            },
                        );
                    }
                }
                Action::StartTimer { timer, at } => {
                    // Late by up to 300 ms, sometimes fired twice.
                    let late = Duration::from_micros(self.rng.gen_range(0..300_000));
                    self.schedule(
                        at + late,
                        Delivery::Event {
                            side,
                            event: Event::TimerFired(timer),
                            conn: None,
                        },
                    );
                    if self.rng.gen_bool(0.1) {
                        let t = at + late + Duration::from_millis(self.rng.gen_range(0..2000));
                        self.schedule(
                            t,
                            Delivery::Event {
                                side,
                                event: Event::TimerFired(timer),
                                conn: None,
                            },
                        );
                    }
                }
                Action::StopTimer(_) => {}
                Action::SessionUp(n) => {
                    self.ups[side as usize] += 1;
                    assert!(n.hold_time == 9 && n.keepalive == 3, "{n:?}");
                }
                Action::SessionDown(d) => {
                    self.stale_kept += d.stale_routes_kept;
                    if d.was_established {
                        self.downs[side as usize] += 1;
                    }
                }
                Action::Received(_) => {}
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
            Delivery::Event { side, event, conn } => {
                if conn.is_none() || *self.conn(side) == conn {
                    if matches!(event, Event::Closed) {
                        *self.conn(side) = None;
                    }
                    self.feed(side, event);
                }
            }
            Delivery::ConnectAttempt { attempt } => {
                if self.pending_attempt != Some(attempt) {
                    return true;
                }
                self.pending_attempt = None;
                if self.b.state() == State::Active && self.conn_b.is_none() {
                    self.conn_a = Some(attempt);
                    self.conn_b = Some(attempt);
                    self.feed(Side::B, Event::Connected);
                    self.feed(Side::A, Event::Connected);
                } else {
                    self.feed(Side::A, Event::ConnectFailed);
                }
            }
            Delivery::Drop => {
                if let (Some(ca), Some(cb)) = (self.conn_a, self.conn_b) {
                    if ca == cb {
                        self.conn_a = None;
                        self.conn_b = None;
                        self.feed(Side::A, Event::Closed);
                        self.feed(Side::B, Event::Closed);
                    }
                }
            }
        }
        true
    }

    fn run_until(&mut self, t: Instant) {
        while let Some((&(next, _), _)) = self.queue.iter().next() {
            if next > t {
                break;
            }
            self.step();
        }
        self.now = self.now.max(t);
    }
}

fn nlri_set<R: std::borrow::Borrow<Route>>(routes: impl Iterator<Item = R>) -> BTreeSet<Nlri> {
    routes.map(|r| r.borrow().nlri).collect()
}

fn run_pair(seed: u64, drops: usize) -> (u32, u32) {
    let (ups, downs, kept) = run_pair_with(seed, drops, false);
    assert_eq!(kept, 0);
    (ups, downs)
}

fn run_pair_with(seed: u64, drops: usize, graceful: bool) -> (u32, u32, usize) {
    let mut p = Pair::with(seed, graceful);
    let routes_a = routes_of(LOCAL_AS, 40, [10, 0, 0, 1]);
    let routes_b = routes_of(PEER_AS, 25, [10, 0, 0, 2]);
    let now = p.now;
    let ra = p.a.handle(now, Event::Announce(routes_a.clone()));
    assert!(ra.is_empty());
    p.b.handle(now, Event::Announce(routes_b.clone()));
    p.feed(Side::B, Event::Start { passive: true });
    p.feed(Side::A, Event::Start { passive: false });
    // Random drops during the first minute.
    for _ in 0..drops {
        let t = at(p.rng.gen_range(1..60));
        p.schedule(t, Delivery::Drop);
    }
    p.run_until(at(20));
    // Routes announced while the session may be down or up: they must all arrive.
    let extra = route("172.16.0.0/16", [10, 0, 0, 1], LOCAL_AS);
    let now = p.now;
    let actions = p.a.handle(now, Event::Announce(vec![extra.clone()]));
    p.carry_out(Side::A, actions);
    p.run_until(at(180));
    assert_eq!(
        p.a.state(),
        State::Established,
        "seed {seed}: A {:?} B {:?}",
        p.a.state(),
        p.b.state()
    );
    assert_eq!(p.b.state(), State::Established, "seed {seed}");
    let mut want_b: BTreeSet<Nlri> = nlri_set(routes_a.iter());
    want_b.insert(extra.nlri);
    assert_eq!(nlri_set(p.b.adj_rib_in().iter()), want_b, "seed {seed}");
    assert_eq!(
        nlri_set(p.a.adj_rib_in().iter()),
        nlri_set(routes_b.iter()),
        "seed {seed}"
    );
    // Attributes and next hops arrive intact.
    for r in &routes_b {
        assert_eq!(
            p.a.adj_rib_in().get(&r.nlri),
            Some(r.clone()),
            "seed {seed}"
        );
    }
    assert!(p.ups[0] >= 1 && p.ups[1] >= 1);
    // Withdraw reaches the peer.
    let now = p.now;
    let actions = p.a.handle(now, Event::Withdraw(vec![extra.nlri]));
    p.carry_out(Side::A, actions);
    p.run_until(at(185));
    assert!(!p.b.adj_rib_in().contains(&extra.nlri), "seed {seed}");
    // Nothing is left stale once both sides sent End-of-RIB.
    for s in [&p.a, &p.b] {
        assert!(
            s.adj_rib_in().iter().all(|r| !s.is_stale(&r.nlri)),
            "seed {seed}"
        );
        assert_eq!(s.timer(Timer::GracefulRestart), None, "seed {seed}");
    }
    (p.ups[0], p.downs[0], p.stale_kept)
}

#[test]
fn pair_reaches_established_and_exchanges_routes() {
    for seed in 0..50 {
        let (ups, downs) = run_pair(seed, 0);
        assert_eq!((ups, downs), (1, 0), "seed {seed}");
    }
}

#[test]
fn pair_recovers_after_dropped_connections() {
    let mut flaps = 0;
    for seed in 100..250 {
        let (ups, downs) = run_pair(seed, 1 + (seed as usize % 4));
        assert_eq!(ups, downs + 1, "seed {seed}");
        flaps += downs;
    }
    // The drops really hit live sessions.
    assert!(flaps > 150, "{flaps}");
}

#[test]
fn pair_hold_timer_expires_when_peer_goes_silent() {
    let mut p = Pair::new(7);
    p.feed(Side::B, Event::Start { passive: true });
    p.feed(Side::A, Event::Start { passive: false });
    p.run_until(at(10));
    assert_eq!(p.a.state(), State::Established);
    // B's messages stop arriving: every delivery to A is lost from now on.
    p.conn_a = Some(u64::MAX);
    p.conn_b = None;
    let now = p.now;
    let mut a_down = None;
    let mut t = now;
    while t < now + Duration::from_secs(15) {
        t += Duration::from_millis(100);
        let actions = p.a.handle_timeout(t);
        for a in actions {
            if let Action::SessionDown(d) = a {
                a_down = Some((t, d));
            }
        }
        if a_down.is_some() {
            break;
        }
    }
    let (when, d) = a_down.expect("A noticed");
    assert_eq!(d.sent, Some(Notification::hold_timer_expired()));
    assert!(when - now <= Duration::from_secs(10), "{:?}", when - now);
}

/// Drives two sessions over one in-memory connection until neither has anything to send.
fn pump(
    x: &mut Session,
    y: &mut Session,
    now: Instant,
    mut from_x: Vec<Action>,
    mut from_y: Vec<Action>,
) {
    for _ in 0..100 {
        let mut next_y = Vec::new();
        for a in from_x.drain(..) {
            if let Action::Send(b) = a {
                let mut rest = b;
                while !rest.is_empty() {
                    let len = bgp_proto::frame_len(&rest, 65535).unwrap().unwrap();
                    next_y.extend(y.handle(now, Event::Message(rest.split_to(len))));
                }
            }
        }
        let mut next_x = Vec::new();
        for a in from_y.drain(..) {
            if let Action::Send(b) = a {
                let mut rest = b;
                while !rest.is_empty() {
                    let len = bgp_proto::frame_len(&rest, 65535).unwrap().unwrap();
                    next_x.extend(x.handle(now, Event::Message(rest.split_to(len))));
                }
            }
        }
        if next_x.is_empty() && next_y.is_empty() {
            return;
        }
        from_x = next_x;
        from_y = next_y;
    }
}

#[test]
fn pair_with_graceful_restart_recovers_after_drops() {
    let mut kept_total = 0;
    for seed in 300..400 {
        let (ups, downs, kept) = run_pair_with(seed, 1 + (seed as usize % 3), true);
        assert_eq!(ups, downs + 1, "seed {seed}");
        kept_total += kept;
    }
    // The drops really exercised the helper.
    assert!(kept_total > 1000, "{kept_total}");
}

/// Soak: `cargo test -p bgp-fsm --release -- --ignored pair_soak`.
#[test]
#[ignore]
fn pair_soak() {
    for seed in 1000..4000 {
        run_pair_with(seed, (seed as usize) % 6, seed % 2 == 0);
    }
}

/// RFC 4724 §4.1 end to end: A's process restarts (a fresh Session with the R bit, F bit for
/// IPv4 unicast, one route fewer). B, the helper, keeps every route of A through the gap and
/// until A's End-of-RIB, never withdrawing one that A announces again, and ends with exactly
/// A's new table.
#[test]
fn pair_process_restart_helper_keeps_routes_until_end_of_rib() {
    let mut p = Pair::with(11, true);
    let routes_a = routes_of(LOCAL_AS, 40, [10, 0, 0, 1]);
    let now = p.now;
    p.a.handle(now, Event::Announce(routes_a.clone()));
    p.feed(Side::B, Event::Start { passive: true });
    p.feed(Side::A, Event::Start { passive: false });
    p.run_until(at(20));
    assert_eq!(p.b.state(), State::Established);
    assert_eq!(nlri_set(p.b.adj_rib_in().iter()), nlri_set(routes_a.iter()));

    // kill -9 of A's process: B sees the connection close; A starts over from scratch.
    p.conn_a = None;
    p.conn_b = None;
    p.feed(Side::B, Event::Closed);
    assert_eq!(p.b.adj_rib_in().len(), 40);
    let mut cfg = p.a.config().clone();
    if let Some(gr) = cfg.graceful_restart.as_mut() {
        gr.restarting = true;
    }
    p.a = Session::new(cfg, 99);
    let kept: Vec<Route> = routes_a[..39].to_vec();
    let gone = routes_a[39].nlri;
    let now = p.now + Duration::from_secs(3);
    p.now = now;
    p.a.handle(now, Event::Announce(kept.clone()));
    let actions = p.a.handle(now, Event::Start { passive: false });
    p.carry_out(Side::A, actions);
    let want: BTreeSet<Nlri> = nlri_set(kept.iter());
    let mut saw_r_bit = false;
    while p.now < at(60) && p.step() {
        let rib = nlri_set(p.b.adj_rib_in().iter());
        assert!(want.is_subset(&rib), "B lost a route at {:?}", p.now);
        if let Some(n) = p.b.negotiated() {
            saw_r_bit |= n
                .peer_graceful_restart
                .as_ref()
                .is_some_and(|g| g.restart_state);
        }
        // The route A dropped stays until B is Established again (End-of-RIB removes it).
        if !rib.contains(&gone) {
            assert_eq!(p.b.state(), State::Established);
        }
    }
    assert!(saw_r_bit, "A's OPEN after the restart carries the R bit");
    assert_eq!(nlri_set(p.b.adj_rib_in().iter()), want);
    assert!(p.b.adj_rib_in().iter().all(|r| !p.b.is_stale(&r.nlri)));
    assert_eq!(p.b.timer(Timer::GracefulRestart), None);
}

/// Issue 17 item 2 (RFC 4271 §8.1.1, PassiveTcpEstablishment is the peer's attribute), at the
/// session level (the collision itself: `neighbor_pair.rs`): A is configured active, but the
/// session that survived a collision was started for B's inbound
/// connection (`Start { passive: true }`). After that session fails, A connects out again;
/// it does not wait in Active for B.
#[test]
fn session_started_for_an_inbound_connection_still_connects_out_after_a_failure() {
    let now = at(0);
    let ac = pair_config(LOCAL_AS, PEER_AS, [10, 0, 0, 1]);
    let bc = pair_config(PEER_AS, LOCAL_AS, [10, 0, 0, 9]);
    assert!(!ac.passive);
    // B (higher identifier) connects to A; A's own outbound connection lost the collision.
    let mut a_in = Session::new(ac, 4);
    let mut b_out = Session::new(bc, 3);
    a_in.handle(now, Event::Start { passive: true });
    b_out.handle(now, Event::Start { passive: false });
    let y = a_in.handle(now, Event::Connected);
    let x = b_out.handle(now, Event::Connected);
    pump(&mut a_in, &mut b_out, now, y, x);
    assert_eq!(a_in.state(), State::Established);
    // The connection breaks: A restarts by itself after the IdleHoldTime, and connects.
    a_in.handle(at(10), Event::Closed);
    assert_eq!(a_in.state(), State::Idle);
    let mut connected_out = false;
    for secs in 11..30 {
        let actions = a_in.handle_timeout(at(secs));
        connected_out |= actions.contains(&Action::Connect);
    }
    assert!(connected_out, "A stayed in {:?}", a_in.state());

    // The same when the inbound session fails before Established (OpenSent, TCP closed):
    // Active with the ConnectRetryTimer, then a connect.
    let mut a_in = Session::new(pair_config(LOCAL_AS, PEER_AS, [10, 0, 0, 1]), 5);
    a_in.handle(now, Event::Start { passive: true });
    a_in.handle(now, Event::Connected);
    assert_eq!(a_in.state(), State::OpenSent);
    a_in.handle(at(1), Event::Closed);
    assert_eq!(a_in.state(), State::Active);
    assert!(a_in.timer(Timer::ConnectRetry).is_some());
    let actions = a_in.handle_timeout(at(10));
    assert!(actions.contains(&Action::Connect), "{actions:?}");
}

/// A peer configured passive stays passive after the same failure.
#[test]
fn configured_passive_session_stays_passive_after_a_failure() {
    let now = at(0);
    let mut c = pair_config(LOCAL_AS, PEER_AS, [10, 0, 0, 1]);
    c.passive = true;
    let mut a = Session::new(c, 6);
    a.handle(now, Event::Start { passive: true });
    a.handle(now, Event::Connected);
    a.handle(at(1), Event::Closed);
    for secs in 2..60 {
        assert!(!a.handle_timeout(at(secs)).contains(&Action::Connect));
    }
}
