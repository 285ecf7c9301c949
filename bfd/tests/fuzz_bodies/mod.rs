//! The bodies of the `bfd_packet` and `bfd_events` fuzz targets
//! (`fuzz/fuzz_targets/bfd_*.rs`), shared with the stable smoke test `bfd/tests/fuzz_smoke.rs`
//! (STYLE.md §6, fuzz targets 1-3). Public API only.
//!
//! `bfd_events` reads its input as a little program. The first octet chooses the
//! configuration (bit 0: we are passive, bit 1: the peer is passive, bit 2: C bit, bits 3-5:
//! our Detect Mult - 1). Every following octet is one operation (`op % OPS`), some with
//! argument octets:
//!
//! | op | operation |
//! |----|-----------|
//! | 0, 1, 2 | `Start`, `Stop`, `PathDown` on our session |
//! | 3  | advance the clock (argument: 10 ms steps, seconds, or 10 s), fire both sides' timers |
//! | 4  | deliver the peer's next packet to us |
//! | 5  | deliver our next packet to the peer |
//! | 6  | lose the next packet each way |
//! | 7  | deliver the peer's next packet to us with one octet changed (offset, value) |
//! | 8  | raw bytes to us (length, bytes) |
//! | 9  | `SetParameters` on us or the peer (which, tx, rx, mult) |
//! | 10 | `Start` or `Stop` on the peer |
//! | 11 | a spurious `TimerFired` on us |
//!
//! The peer is a second `Session`, so valid packets come from real code and the sessions
//! come Up; mutations then go deep. The clock only moves forward. Checked after every call
//! (each a panic, so the fuzzer reports it): no panic; `StateChanged` actions chain from the
//! state before the call to the state after and only make RFC 5880 §6.2 transitions; no
//! deadline in the past; every packet we send passes `ControlView::new_checked`, carries
//! our discriminator and the state at its sending, never sets P and F together, advertises
//! at least 1 s while not Up (§6.8.3); no Detection timer in AdminDown; a passive session
//! with no remote discriminator arms no transmit timer (§6.1); and the peer, which only
//! hears what we send, never discards it as malformed.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroU8};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bfd::{Action, ControlView, Event, Session, SessionConfig, State, Timer};
use bytes::{Bytes, BytesMut};

const OUR_DISCR: u32 = 0x0101;
const PEER_DISCR: u32 = 0x0202;
/// Number of operations.
pub const OPS: u8 = 12;

fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

/// Fuzz target 1 and 2: bytes into the codec never panic; what decodes re-encodes to the
/// same value; and the bytes into a running session never panic.
pub fn packet(data: &[u8]) {
    if let Ok(v) = ControlView::new_checked(data) {
        // Every accessor is safe after the check.
        let _ = (
            v.version(),
            v.diag(),
            v.state(),
            v.poll(),
            v.final_(),
            v.demand(),
        );
        let _ = (
            v.control_plane_independent(),
            v.multipoint(),
            v.detect_mult(),
            v.length(),
        );
        let _ = (
            v.my_discriminator(),
            v.your_discriminator(),
            v.desired_min_tx(),
        );
        let _ = (
            v.required_min_rx(),
            v.required_min_echo_rx(),
            v.auth_type(),
            v.auth_data(),
        );
        let owned = v.to_owned();
        let mut b = BytesMut::new();
        owned.encode(&mut b);
        assert_eq!(b.len(), owned.encoded_len());
        let again = ControlView::new_checked(&b[..]).expect("re-encoded packet checks");
        assert_eq!(
            again.to_owned(),
            owned,
            "decode -> encode -> decode is stable"
        );
        assert!(b.len() <= v.as_bytes().len());
    }
    let mut s = Session::new(
        SessionConfig::new(NonZeroU32::new(u32::from_be_bytes([0, 0, 0, 1])).unwrap()),
        0,
    );
    s.handle(t0(), Event::Start);
    s.handle(t0(), Event::Received(Bytes::copy_from_slice(data)));
}

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

struct World {
    now: Instant,
    us: Session,
    peer: Session,
    to_us: VecDeque<Bytes>,
    to_peer: VecDeque<Bytes>,
    ups: usize,
}

fn config(discr: u32, passive: bool, cpi: bool, mult: u8) -> SessionConfig {
    let mut c = SessionConfig::new(NonZeroU32::new(discr).unwrap());
    c.passive = passive;
    c.control_plane_independent = cpi;
    c.detect_mult = NonZeroU8::new(mult.max(1)).unwrap();
    c.desired_min_tx = Duration::from_millis(50);
    c.required_min_rx = Duration::from_millis(50);
    c
}

fn allowed(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (AdminDown, Down)
            | (Down | Init | Up, AdminDown)
            | (Down, Init | Up)
            | (Init, Up | Down)
            | (Up, Down)
    )
}

fn check(s: &Session, discr: u32, before: State, now: Instant, actions: &[Action], what: &str) {
    let mut state = before;
    for a in actions {
        match a {
            Action::StateChanged { from, to, .. } => {
                assert_eq!(*from, state, "StateChanged chain after {what}");
                assert!(allowed(*from, *to), "{from:?} -> {to:?} after {what}");
                state = *to;
            }
            Action::StartTimer { timer, at } => {
                assert!(*at >= now, "{timer:?} armed in the past after {what}")
            }
            Action::StopTimer(_) => {}
            Action::Send(b) => {
                let v = ControlView::new_checked(&b[..])
                    .unwrap_or_else(|e| panic!("we sent a packet that fails {e:?} ({what})"));
                assert!(!(v.poll() && v.final_()), "P and F both set after {what}");
                assert_eq!(v.my_discriminator(), discr);
                assert_eq!(v.state(), state, "packet state after {what}");
                if v.state() != State::Up {
                    assert!(v.desired_min_tx() >= 1_000_000, "slow rate after {what}");
                }
            }
        }
    }
    assert_eq!(
        state,
        s.state(),
        "StateChanged ends in the state after {what}"
    );
    if s.state() == State::AdminDown {
        assert_eq!(
            s.timer(Timer::Detection),
            None,
            "Detection in AdminDown ({what})"
        );
    }
    if s.config().passive && s.remote_discr() == 0 {
        assert_eq!(s.timer(Timer::Transmit), None, "passive transmits ({what})");
    }
}

impl World {
    fn us(&mut self, event: Event, what: &str) {
        let before = self.us.state();
        let actions = self.us.handle(self.now, event);
        self.after_us(before, actions, what);
    }

    fn after_us(&mut self, before: State, actions: Vec<Action>, what: &str) {
        check(&self.us, OUR_DISCR, before, self.now, &actions, what);
        for a in actions {
            match a {
                Action::Send(b) => self.to_peer.push_back(b),
                Action::StateChanged { to: State::Up, .. } => self.ups += 1,
                _ => {}
            }
        }
    }

    fn peer(&mut self, event: Event) {
        let before = self.peer.state();
        let actions = self.peer.handle(self.now, event);
        self.after_peer(before, actions);
    }

    fn after_peer(&mut self, before: State, actions: Vec<Action>) {
        check(&self.peer, PEER_DISCR, before, self.now, &actions, "peer");
        for a in actions {
            if let Action::Send(b) = a {
                self.to_us.push_back(b);
            }
        }
        // The peer only hears our packets, which are never malformed.
        let d = self.peer.counters().dropped;
        assert_eq!(
            (d.version, d.length, d.detect_mult, d.multipoint),
            (0, 0, 0, 0),
            "the peer discarded our packet"
        );
        assert_eq!(
            (
                d.my_discriminator_zero,
                d.your_discriminator_zero,
                d.authentication
            ),
            (0, 0, 0),
            "the peer discarded our packet"
        );
    }
}

/// Fuzz target 3: an event program against a live peer. Returns how often we came Up.
pub fn session_events(data: &[u8]) -> usize {
    let mut inp = Input { data };
    let flags = inp.byte();
    let mult = 1 + ((flags >> 3) & 7);
    let mut w = World {
        now: t0(),
        us: Session::new(config(OUR_DISCR, flags & 1 != 0, flags & 4 != 0, mult), 1),
        peer: Session::new(config(PEER_DISCR, flags & 2 != 0, false, 3), 2),
        to_us: VecDeque::new(),
        to_peer: VecDeque::new(),
        ups: 0,
    };
    let mut steps = 0;
    while !inp.data.is_empty() && steps < 4096 {
        steps += 1;
        match inp.byte() % OPS {
            0 => w.us(Event::Start, "Start"),
            1 => w.us(Event::Stop, "Stop"),
            2 => w.us(Event::PathDown, "PathDown"),
            3 => {
                let b = inp.byte();
                w.now += match b >> 6 {
                    0 => Duration::from_millis(u64::from(b & 63) * 10),
                    1 => Duration::from_secs(u64::from(b & 63)),
                    2 => Duration::from_secs(u64::from(b & 63) * 10),
                    _ => Duration::from_secs(300),
                };
                let before = w.us.state();
                let actions = w.us.handle_timeout(w.now);
                w.after_us(before, actions, "timeout");
                let before = w.peer.state();
                let actions = w.peer.handle_timeout(w.now);
                w.after_peer(before, actions);
            }
            4 => {
                if let Some(b) = w.to_us.pop_front() {
                    w.us(Event::Received(b), "Received");
                }
            }
            5 => {
                if let Some(b) = w.to_peer.pop_front() {
                    w.peer(Event::Received(b));
                }
            }
            6 => {
                w.to_us.pop_front();
                w.to_peer.pop_front();
            }
            7 => {
                let at = usize::from(inp.byte());
                let value = inp.byte();
                if let Some(b) = w.to_us.pop_front() {
                    let mut v = b.to_vec();
                    let len = v.len();
                    if let Some(x) = v.get_mut(at % len.max(1)) {
                        *x = value;
                    }
                    w.us(Event::Received(v.into()), "mutated Received");
                }
            }
            8 => {
                let n = usize::from(inp.byte() % 64);
                let raw = Bytes::copy_from_slice(inp.take(n));
                w.us(Event::Received(raw), "raw Received");
            }
            9 => {
                let which = inp.byte();
                let tx = Duration::from_millis(u64::from(inp.byte()) * 10);
                let rx = Duration::from_millis(u64::from(inp.byte()) * 10);
                let m = NonZeroU8::new(1 + inp.byte() % 8).unwrap();
                let e = Event::SetParameters {
                    desired_min_tx: tx,
                    required_min_rx: rx,
                    detect_mult: m,
                };
                if which & 1 == 0 {
                    w.us(e, "SetParameters");
                } else {
                    w.peer(e);
                }
            }
            10 => {
                if inp.byte() & 1 == 0 {
                    w.peer(Event::Start);
                } else {
                    w.peer(Event::Stop);
                }
            }
            _ => {
                let t = Timer::ALL[usize::from(inp.byte()) % Timer::ALL.len()];
                w.us(Event::TimerFired(t), "TimerFired");
            }
        }
    }
    w.ups
}
