//! Properties: the codec never panics and round-trips; any sequence of events, at any times,
//! never panics and keeps the session's invariants.

use proptest::prelude::*;

use super::*;
use crate::{AuthType, Authentication, Discard};

fn state() -> impl Strategy<Value = State> {
    (0u8..4).prop_map(State::from_bits)
}

/// Any owned packet (fields the wire can carry).
fn any_packet() -> impl Strategy<Value = ControlPacket> {
    (
        (0u8..32, state(), any::<[bool; 5]>(), any::<u8>()),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        ),
        proptest::option::of((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))),
    )
        .prop_map(
            |((diag, state, f, mult), (my, your, tx, rx, echo), auth)| ControlPacket {
                diag: Diagnostic(diag),
                state,
                poll: f[0],
                final_: f[1],
                control_plane_independent: f[2],
                demand: f[3],
                multipoint: f[4],
                detect_mult: mult,
                my_discriminator: my,
                your_discriminator: your,
                desired_min_tx: tx,
                required_min_rx: rx,
                required_min_echo_rx: echo,
                auth: auth.map(|(t, data)| Authentication {
                    auth_type: AuthType(t),
                    data,
                }),
            },
        )
}

/// The §6.8.6 packet-only rule `p` breaks first, if any.
fn expected_discard(p: &ControlPacket) -> Option<Discard> {
    if p.detect_mult == 0 {
        Some(Discard::DetectMult)
    } else if p.multipoint {
        Some(Discard::Multipoint)
    } else if p.my_discriminator == 0 {
        Some(Discard::MyDiscriminatorZero)
    } else if p.your_discriminator == 0 && !matches!(p.state, State::Down | State::AdminDown) {
        Some(Discard::YourDiscriminatorZero)
    } else {
        None
    }
}

/// A packet the remote system might send us: mostly valid, addressed to us or not.
fn remote_packet() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        6 => (
            state(),
            any::<[bool; 2]>(),
            prop_oneof![Just(0u32), Just(LOCAL), Just(7)],
            1u8..6,
            prop_oneof![Just(0u32), Just(1), Just(20 * MS), Just(300 * MS), Just(2_000_000)],
            prop_oneof![Just(0u32), Just(20 * MS), Just(300 * MS), Just(1_000_000)],
        )
            .prop_map(|(state, pf, your, mult, rx, tx)| {
                encode(&ControlPacket {
                    state,
                    poll: pf[0],
                    final_: pf[1] && !pf[0],
                    detect_mult: mult,
                    my_discriminator: REMOTE,
                    your_discriminator: your,
                    desired_min_tx: tx,
                    required_min_rx: rx,
                    ..ControlPacket::default()
                })
            }),
        1 => any_packet().prop_map(|p| encode(&p)),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => Just(Event::Start),
        1 => Just(Event::Stop),
        1 => Just(Event::PathDown),
        8 => remote_packet().prop_map(Event::Received),
        2 => proptest::sample::select(Timer::ALL.to_vec()).prop_map(Event::TimerFired),
        1 => (
            prop_oneof![Just(0u64), Just(10), Just(300), Just(2000)],
            prop_oneof![Just(0u64), Just(10), Just(300), Just(2000)],
            1u8..6,
        )
            .prop_map(|(tx, rx, m)| Event::SetParameters {
                desired_min_tx: Duration::from_millis(tx),
                required_min_rx: Duration::from_millis(rx),
                detect_mult: mult(m),
            }),
    ]
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

/// Checks one call's actions against the session after it.
fn check(s: &Session, before: State, now: Instant, actions: &[Action]) {
    let mut state = before;
    for a in actions {
        match a {
            Action::StateChanged { from, to, .. } => {
                assert_eq!(*from, state);
                assert!(allowed(*from, *to), "{from:?} -> {to:?}");
                state = *to;
            }
            Action::StartTimer { at, .. } => assert!(*at >= now),
            Action::StopTimer(_) => {}
            Action::Send(b) => {
                let v = ControlView::new_checked(&b[..]).expect("we send valid packets");
                assert!(!(v.poll() && v.final_()), "P and F both set");
                assert_eq!(v.my_discriminator(), LOCAL);
                assert_eq!(
                    v.state(),
                    state,
                    "a packet carries the state at its sending"
                );
                assert!(!v.demand() && !v.authentication_present());
                assert_eq!(v.required_min_echo_rx(), 0);
                if v.state() != State::Up {
                    assert!(v.desired_min_tx() >= 1_000_000, "§6.8.3 slow rate");
                }
            }
        }
    }
    assert_eq!(state, s.state(), "StateChanged actions match the state");
    if s.state() == State::AdminDown {
        assert_eq!(s.timer(Timer::Detection), None);
    }
    if s.state() != State::Up {
        assert!(s.negotiated_tx_interval() >= Duration::from_secs(1));
    }
    if s.config().passive && s.remote_discr() == 0 {
        assert_eq!(s.timer(Timer::Transmit), None, "passive sends nothing");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(v) = ControlView::new_checked(&bytes[..]) {
            let owned = v.to_owned();
            let again = encode(&owned);
            let v2 = ControlView::new_checked(&again[..]).unwrap();
            prop_assert_eq!(v2.to_owned(), owned);
        }
    }

    #[test]
    fn encode_then_check_matches_the_rules(p in any_packet()) {
        let b = encode(&p);
        prop_assert_eq!(b.len(), p.encoded_len());
        match (ControlView::new_checked(&b[..]), expected_discard(&p)) {
            (Ok(v), None) => {
                prop_assert_eq!(v.to_owned(), p);
                prop_assert_eq!(v.as_bytes(), &b[..]);
            }
            (Err(got), Some(want)) => prop_assert_eq!(got, want),
            (got, want) => prop_assert!(false, "{:?} vs {:?}", got.map(|v| v.to_owned()), want),
        }
    }

    #[test]
    fn random_events_keep_invariants(
        passive in any::<bool>(),
        steps in proptest::collection::vec((0u64..1500, event()), 1..80),
    ) {
        let mut c = config();
        c.passive = passive;
        let mut s = Session::new(c, 3);
        let mut now = ms(0);
        for (advance, event) in steps {
            now += Duration::from_millis(advance);
            let before = s.state();
            let actions = s.handle_timeout(now);
            check(&s, before, now, &actions);
            let before = s.state();
            let actions = s.handle(now, event);
            check(&s, before, now, &actions);
        }
    }
}
