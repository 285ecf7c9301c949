//! Codec vectors (codec.rs), scripted tests per state and event following RFC 5880 §6.8.6
//! (scripted.rs), the two-session harness (pair.rs) and property tests (prop.rs).

mod codec;
mod pair;
mod prop;
mod scripted;

use std::num::{NonZeroU32, NonZeroU8};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::{Action, ControlPacket, ControlView, Diagnostic, Event, Session, SessionConfig};
use crate::{State, Timer};

/// Our discriminator.
pub(crate) const LOCAL: u32 = 0x0000_0001;
/// The remote system's discriminator.
pub(crate) const REMOTE: u32 = 0x0000_00aa;
pub(crate) const MS: u32 = 1000;

pub(crate) fn config() -> SessionConfig {
    SessionConfig::new(NonZeroU32::new(LOCAL).unwrap())
}

pub(crate) fn mult(n: u8) -> NonZeroU8 {
    NonZeroU8::new(n).unwrap()
}

/// A fixed origin for the virtual clock.
pub(crate) fn t0() -> Instant {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

pub(crate) fn ms(n: u64) -> Instant {
    t0() + Duration::from_millis(n)
}

pub(crate) fn encode(p: &ControlPacket) -> Bytes {
    let mut b = BytesMut::new();
    p.encode(&mut b);
    b.freeze()
}

/// A packet from the remote system in `state`: Detect Mult 3, 300 ms both ways when Up and
/// the slow 1 s transmit interval otherwise (RFC 5880 §6.8.3), addressed to us.
pub(crate) fn remote(state: State) -> ControlPacket {
    ControlPacket {
        state,
        detect_mult: 3,
        my_discriminator: REMOTE,
        your_discriminator: LOCAL,
        desired_min_tx: if state == State::Up {
            300 * MS
        } else {
            1000 * MS
        },
        required_min_rx: 300 * MS,
        ..ControlPacket::default()
    }
}

pub(crate) fn received(p: &ControlPacket) -> Event {
    Event::Received(encode(p))
}

/// The packet we are expected to send: Detect Mult 3, 300 ms receive interval, transmit
/// interval 300 ms when Up and 1 s otherwise.
pub(crate) fn ours(state: State, diag: Diagnostic, your: u32) -> ControlPacket {
    ControlPacket {
        diag,
        state,
        detect_mult: 3,
        my_discriminator: LOCAL,
        your_discriminator: your,
        desired_min_tx: if state == State::Up {
            300 * MS
        } else {
            1000 * MS
        },
        required_min_rx: 300 * MS,
        ..ControlPacket::default()
    }
}

pub(crate) fn send(p: &ControlPacket) -> Action {
    Action::Send(encode(p))
}

/// Every packet in the `Send` actions, decoded.
pub(crate) fn sent(actions: &[Action]) -> Vec<ControlPacket> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(ControlView::new_checked(&b[..]).unwrap().to_owned()),
            _ => None,
        })
        .collect()
}

/// The `StartTimer` action the session emitted for `timer` (its deadline now).
pub(crate) fn started(s: &Session, timer: Timer) -> Action {
    Action::StartTimer {
        timer,
        at: s.timer(timer).expect("timer armed"),
    }
}

pub(crate) fn changed(from: State, to: State, diag: Diagnostic) -> Action {
    Action::StateChanged { from, to, diag }
}

/// A started session (Down) at t = 0.
pub(crate) fn down_with(config: SessionConfig) -> Session {
    let mut s = Session::new(config, 1);
    s.handle(ms(0), Event::Start);
    assert_eq!(s.state(), State::Down);
    s
}

pub(crate) fn down() -> Session {
    down_with(config())
}

/// Down, then the remote system's Down packet at 10 ms: Init.
pub(crate) fn init() -> Session {
    let mut s = down();
    let mut p = remote(State::Down);
    p.your_discriminator = 0;
    s.handle(ms(10), received(&p));
    assert_eq!(s.state(), State::Init);
    s
}

/// Init, then the remote system's Up packet at 20 ms: Up, with the Poll for our faster
/// interval answered at 30 ms.
pub(crate) fn up() -> Session {
    let mut s = init();
    s.handle(ms(20), received(&remote(State::Up)));
    assert_eq!(s.state(), State::Up);
    let mut fin = remote(State::Up);
    fin.final_ = true;
    s.handle(ms(30), received(&fin));
    assert!(!s.poll_in_progress());
    s
}
