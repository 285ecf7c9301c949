//! Two sessions back to back on a virtual clock (after quinn's `Pair`): each datagram is
//! delayed at random and may be lost; timers fire at their deadlines. The sessions come Up,
//! stay Up with jitter, detect loss within the Detection Time, change intervals without a
//! flap, and signal AdminDown.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    A,
    B,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    at: Instant,
    side: Side,
    from: State,
    to: State,
    diag: Diagnostic,
}

struct Pair {
    now: Instant,
    a: Session,
    b: Session,
    rng: SmallRng,
    /// Datagrams in flight: (arrival, sequence) -> (receiver, bytes).
    queue: BTreeMap<(Instant, u64), (Side, Bytes)>,
    seq: u64,
    /// Probability that a datagram is lost.
    loss: f64,
    /// The longest one-way delay.
    max_delay: Duration,
    changes: Vec<Change>,
    /// When each side sent, for spacing checks.
    sends: [Vec<Instant>; 2],
}

fn pair_config(discr: u32, tx_ms: u64) -> SessionConfig {
    let mut c = SessionConfig::new(NonZeroU32::new(discr).unwrap());
    c.desired_min_tx = Duration::from_millis(tx_ms);
    c.required_min_rx = Duration::from_millis(tx_ms);
    c
}

impl Pair {
    fn new(seed: u64, a: SessionConfig, b: SessionConfig) -> Pair {
        Pair {
            now: ms(0),
            a: Session::new(a, seed),
            b: Session::new(b, seed.wrapping_add(1)),
            rng: SmallRng::seed_from_u64(seed),
            queue: BTreeMap::new(),
            seq: 0,
            loss: 0.0,
            max_delay: Duration::from_millis(5),
            changes: Vec::new(),
            sends: [Vec::new(), Vec::new()],
        }
    }

    /// 100 ms, both ways, A active, B passive.
    fn standard(seed: u64) -> Pair {
        let mut b = pair_config(0xb0b, 100);
        b.passive = true;
        Pair::new(seed, pair_config(0xa11ce, 100), b)
    }

    fn session(&mut self, side: Side) -> &mut Session {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn feed(&mut self, side: Side, event: Event) {
        let now = self.now;
        let actions = self.session(side).handle(now, event);
        self.carry_out(side, actions);
    }

    fn carry_out(&mut self, side: Side, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(bytes) => {
                    self.sends[side as usize].push(self.now);
                    if self.rng.gen_bool(self.loss) {
                        continue;
                    }
                    let delay = self.rng.gen_range(Duration::ZERO..=self.max_delay);
                    self.seq += 1;
                    let to = match side {
                        Side::A => Side::B,
                        Side::B => Side::A,
                    };
                    self.queue.insert((self.now + delay, self.seq), (to, bytes));
                }
                Action::StartTimer { at, .. } => assert!(at >= self.now),
                Action::StopTimer(_) => {}
                Action::StateChanged { from, to, diag } => self.changes.push(Change {
                    at: self.now,
                    side,
                    from,
                    to,
                    diag,
                }),
            }
        }
    }

    /// Runs every delivery and timer up to `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_packet = self.queue.keys().next().map(|&(at, _)| at);
            let candidates = [next_packet, self.a.next_timeout(), self.b.next_timeout()];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                let Some((_, (to, bytes))) = self.queue.pop_first() else {
                    unreachable!()
                };
                self.feed(to, Event::Received(bytes));
                continue;
            }
            for side in [Side::A, Side::B] {
                let now = self.now;
                let actions = self.session(side).handle_timeout(now);
                self.carry_out(side, actions);
            }
        }
        self.now = self.now.max(until);
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn start(&mut self) {
        self.feed(Side::A, Event::Start);
        self.feed(Side::B, Event::Start);
    }

    fn both_up(&self) -> bool {
        self.a.state() == State::Up && self.b.state() == State::Up
    }

    fn changes_since(&self, t: Instant) -> Vec<Change> {
        self.changes.iter().filter(|c| c.at > t).cloned().collect()
    }
}

#[test]
fn pair_comes_up_and_stays_up_with_jitter() {
    for seed in 0..20 {
        let mut p = Pair::standard(seed);
        p.loss = 0.01;
        p.max_delay = Duration::from_millis(20);
        p.start();
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up(), "seed {seed}: {:?}", p.changes);
        let up_at = p.now;
        p.run_for(Duration::from_secs(60));
        assert_eq!(p.changes_since(up_at), vec![], "seed {seed}: a flap");
        assert!(!p.a.poll_in_progress() && !p.b.poll_in_progress());
        assert_eq!(p.a.negotiated_tx_interval(), Duration::from_millis(100));
        assert_eq!(p.a.detection_time(), Some(Duration::from_millis(300)));
        // Periodic spacing: 75-100% of 100 ms (a packet sent at once on a state change or
        // as a Final may come sooner).
        let times: Vec<Instant> = p.sends[0].iter().copied().filter(|&t| t > up_at).collect();
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps
            .iter()
            .all(|&g| g >= Duration::from_millis(75) && g <= Duration::from_millis(100)));
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        assert!(
            mean > Duration::from_millis(82) && mean < Duration::from_millis(93),
            "{mean:?}"
        );
    }
}

#[test]
fn pair_detects_loss_within_detection_time() {
    for seed in 0..20 {
        let mut p = Pair::standard(seed);
        p.start();
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up());
        p.loss = 1.0;
        let cut = p.now;
        p.run_for(Duration::from_secs(2));
        let downs = p.changes_since(cut);
        assert_eq!(downs.len(), 2, "seed {seed}: {downs:?}");
        for c in downs {
            assert_eq!((c.from, c.to), (State::Up, State::Down));
            assert_eq!(c.diag, Diagnostic::CONTROL_DETECTION_TIME_EXPIRED);
            // The last packet was sent before the cut and arrived within 5 ms: detection
            // within 3 x 100 ms of it.
            assert!(c.at <= cut + Duration::from_millis(305), "{:?}", c.at - cut);
            assert!(c.at > cut + Duration::from_millis(150), "{:?}", c.at - cut);
        }
        // The link heals: back Up.
        p.loss = 0.0;
        let healed = p.now;
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up(), "seed {seed}: {:?}", p.changes_since(healed));
    }
}

#[test]
fn pair_poll_final_changes_intervals_without_flap() {
    for seed in 0..20 {
        let mut p = Pair::standard(seed);
        p.loss = 0.02;
        p.max_delay = Duration::from_millis(10);
        p.start();
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up());
        let t = p.now;
        // Slower: 1 s on A. B's Detection Time grows before A sends more slowly.
        p.feed(
            Side::A,
            Event::SetParameters {
                desired_min_tx: Duration::from_secs(1),
                required_min_rx: Duration::from_millis(100),
                detect_mult: mult(3),
            },
        );
        p.run_for(Duration::from_secs(20));
        assert_eq!(p.a.negotiated_tx_interval(), Duration::from_secs(1));
        assert_eq!(p.b.detection_time(), Some(Duration::from_secs(3)));
        // Faster: 20 ms both ways.
        for side in [Side::A, Side::B] {
            p.feed(
                side,
                Event::SetParameters {
                    desired_min_tx: Duration::from_millis(20),
                    required_min_rx: Duration::from_millis(20),
                    detect_mult: mult(5),
                },
            );
        }
        p.run_for(Duration::from_secs(20));
        assert_eq!(p.a.negotiated_tx_interval(), Duration::from_millis(20));
        assert_eq!(p.a.detection_time(), Some(Duration::from_millis(100)));
        assert_eq!(p.b.detection_time(), Some(Duration::from_millis(100)));
        assert_eq!(p.changes_since(t), vec![], "seed {seed}: a flap");
        assert!(p.a.counters().polls >= 3);
    }
}

#[test]
fn pair_admin_down_brings_peer_down_with_neighbor_signaled() {
    for seed in 0..20 {
        let mut p = Pair::standard(seed);
        p.start();
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up());
        let t = p.now;
        p.feed(Side::A, Event::Stop);
        p.run_for(Duration::from_secs(10));
        let changes = p.changes_since(t - Duration::from_millis(1));
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.side, c.from, c.to, c.diag))
                .collect::<Vec<_>>(),
            vec![
                (
                    Side::A,
                    State::Up,
                    State::AdminDown,
                    Diagnostic::ADMINISTRATIVELY_DOWN
                ),
                (
                    Side::B,
                    State::Up,
                    State::Down,
                    Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
                ),
            ]
        );
        // A has gone silent; B (passive) too once it forgot A.
        assert_eq!(p.a.next_timeout(), None);
        assert_eq!(p.b.remote_discr(), 0);
        // Enabled again: back Up.
        p.feed(Side::A, Event::Start);
        p.run_for(Duration::from_secs(3));
        assert!(p.both_up());
    }
}

#[test]
fn pair_both_active_with_loss_and_delay_comes_up() {
    for seed in 0..50 {
        let mut p = Pair::new(seed, pair_config(1, 50), pair_config(2, 300));
        p.loss = 0.2;
        p.max_delay = Duration::from_millis(40);
        p.start();
        p.run_for(Duration::from_secs(10));
        // With a fifth of the packets lost, three in a row go now and then (a flap is the
        // right answer); both came Up at least once.
        assert!(
            p.a.counters().up >= 1 && p.b.counters().up >= 1,
            "seed {seed}"
        );
        p.loss = 0.0;
        p.run_for(Duration::from_secs(5));
        assert!(p.both_up(), "seed {seed}: {:?}", p.changes);
        // A sends at B's Required Min RX: max(50, 300).
        assert_eq!(p.a.negotiated_tx_interval(), Duration::from_millis(300));
        assert_eq!(p.b.detection_time(), Some(Duration::from_millis(900)));
    }
}
