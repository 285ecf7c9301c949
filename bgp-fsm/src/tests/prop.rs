//! Property: any sequence of events, at any times, never panics and only makes the
//! transitions RFC 4271 §8.2.2 allows (plus the documented Connect/Active -> Active on a
//! failed connection).

use std::time::Duration;

use bgp_proto::notification::cease;
use bgp_proto::{Family, HeaderError, RouteRefresh, SessionContext, UpdateBuilder};
use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

fn allowed(from: State, to: State) -> bool {
    use State::*;
    from == to
        || to == Idle
        || matches!(
            (from, to),
            (Idle, Connect | Active)
                | (Connect, Active | OpenSent | OpenConfirm)
                | (Active, Connect | OpenSent | OpenConfirm)
                | (OpenSent, OpenConfirm | Active)
                | (OpenConfirm, Established)
        )
}

fn update_msg(prefixes: u8, asn: u32) -> Bytes {
    let cx = SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    };
    let routes: Vec<Route> = (0..prefixes)
        .map(|i| route(&format!("203.0.{i}.0/24"), [10, 0, 0, 2], asn))
        .collect();
    let mut b = BytesMut::new();
    if routes.is_empty() {
        UpdateBuilder::new(&cx).end_of_rib(Family::IPV4_UNICAST, &mut b);
    } else {
        let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
        UpdateBuilder::new(&cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    }
    b.freeze()
}

fn message() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        (prop_oneof![Just(0u16), Just(1), Just(3), Just(9), Just(90)])
            .prop_map(|h| open_bytes(&peer_open(h))),
        Just(keepalive()),
        Just(open_bytes(&gr_open())),
        (0u8..5, prop_oneof![Just(PEER_AS), Just(65099)]).prop_map(|(n, asn)| update_msg(n, asn)),
        Just(notification_bytes(&Notification::cease(
            cease::ADMINISTRATIVE_SHUTDOWN,
            Some("bye")
        ))),
        (0u8..4).prop_map(|st| {
            let mut b = BytesMut::new();
            RouteRefresh {
                family: Family::IPV4_UNICAST,
                subtype: st,
            }
            .encode(&mut b);
            b.freeze()
        }),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from),
        // A header with a random type and body.
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(t, body)| {
            let mut v = vec![0xff; 16];
            v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
            v.push(t);
            v.extend_from_slice(&body);
            Bytes::from(v)
        }),
    ]
}

fn gr_open() -> Open {
    let mut o = peer_open(9);
    o.capabilities.push(bgp_proto::Capability::GracefulRestart(
        bgp_proto::GracefulRestart {
            restart_state: true,
            notification: true,
            restart_time: 30,
            families: vec![bgp_proto::GrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: true,
            }],
        },
    ));
    o
}

fn timer() -> impl Strategy<Value = Timer> {
    proptest::sample::select(Timer::ALL.to_vec())
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<bool>().prop_map(|passive| Event::Start { passive }),
        Just(Event::Stop { notification: None }),
        Just(Event::AutomaticStop { notification: None }),
        Just(Event::Connected),
        Just(Event::ConnectFailed),
        Just(Event::Closed),
        timer().prop_map(Event::TimerFired),
        timer().prop_map(Event::TimerFired),
        message().prop_map(Event::Message),
        message().prop_map(Event::Message),
        message().prop_map(Event::Message),
        Just(Event::HeaderError(HeaderError::BadType(9))),
        (0u8..3).prop_map(|i| Event::Announce(vec![route(
            &format!("192.0.2.{i}/32"),
            [10, 0, 0, 1],
            LOCAL_AS
        )])),
        (0u8..3).prop_map(|i| Event::Withdraw(vec![
            route(&format!("192.0.2.{i}/32"), [10, 0, 0, 1], LOCAL_AS).nlri
        ])),
        Just(Event::RequestRefresh(Family::IPV4_UNICAST)),
        Just(Event::SendBlocked),
        any::<bool>().prop_map(|drained| Event::SendProgress { drained }),
        Just(Event::CollisionLost),
    ]
}

fn check_invariants(s: &Session) {
    let n = s.negotiated();
    match s.state() {
        State::OpenConfirm | State::Established => assert!(n.is_some()),
        _ => assert!(n.is_none()),
    }
    if s.state() == State::Idle {
        for t in Timer::ALL {
            if t != Timer::IdleHold && t != Timer::GracefulRestart {
                assert_eq!(s.timer(t), None, "{t:?} armed in Idle");
            }
        }
        // Only routes kept for a graceful restart survive the session.
        assert!(s.adj_rib_in().iter().all(|r| s.is_stale(&r.nlri)));
        assert_eq!(
            s.adj_rib_in().is_empty(),
            s.timer(Timer::GracefulRestart).is_none()
        );
    }
    if s.state() == State::Established {
        let hold = n.map_or(0, |n| n.hold_time);
        assert_eq!(s.timer(Timer::Hold).is_some(), hold != 0);
    }
    if let Some(max) = s.config().max_prefixes {
        assert!(s.adj_rib_in().len() <= max as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_event_sequence_keeps_rfc_states(
        steps in proptest::collection::vec((0u64..120_000, event(), any::<bool>()), 1..80),
        delay_open in any::<bool>(),
        passive in any::<bool>(),
        max_prefixes in prop_oneof![Just(None), Just(Some(2u32))],
        seed in any::<u64>(),
        graceful in any::<bool>(),
    ) {
        let mut c = config();
        if graceful {
            c.graceful_restart = Some(crate::GracefulRestartConfig { notification: true, ..Default::default() });
        }
        c.hold_time = 9;
        c.passive = passive;
        c.max_prefixes = max_prefixes;
        if delay_open {
            c.delay_open = Some(Duration::from_secs(2));
        }
        let mut s = Session::new(c, seed);
        let mut now = at(0);
        for (ms, event, timeout) in steps {
            now += Duration::from_millis(ms);
            let before = s.state();
            let actions = if timeout { s.handle_timeout(now) } else { s.handle(now, event) };
            let after = s.state();
            prop_assert!(allowed(before, after), "{before:?} -> {after:?}: {actions:?}");
            // Never a NOTIFICATION in answer to one, never Send after Close in one batch.
            let close = actions.iter().position(|a| *a == Action::Close);
            let last_send = actions.iter().rposition(|a| matches!(a, Action::Send(_)));
            if let (Some(c), Some(l)) = (close, last_send) {
                prop_assert!(l < c, "{actions:?}");
            }
            for a in &actions {
                if let Action::StartTimer { at, .. } = a {
                    prop_assert!(*at >= now);
                }
            }
            check_invariants(&s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The same from an Established session, where most of the logic lives.
    #[test]
    fn any_event_sequence_from_established(
        steps in proptest::collection::vec((0u64..5_000, event(), any::<bool>()), 1..60),
        max_prefixes in prop_oneof![Just(None), Just(Some(2u32))],
        graceful in any::<bool>(),
    ) {
        let mut c = config();
        c.max_prefixes = max_prefixes;
        let open = if graceful {
            c.graceful_restart = Some(crate::GracefulRestartConfig { notification: true, ..Default::default() });
            gr_open()
        } else {
            peer_open(90)
        };
        let mut s = established_with(c, &open);
        // Start with routes from the peer, so graceful restart has something to keep.
        s.handle(at(2), Event::Message(update_msg(2, PEER_AS)));
        let mut now = at(2);
        for (ms, event, timeout) in steps {
            now += Duration::from_millis(ms);
            let before = s.state();
            let is_notification = matches!(&event, Event::Message(b) if b.get(18) == Some(&3) && b.len() >= 19 && b[..16] == [0xff; 16]);
            let actions = if timeout { s.handle_timeout(now) } else { s.handle(now, event) };
            prop_assert!(allowed(before, s.state()));
            if is_notification && !timeout {
                prop_assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))), "{actions:?}");
            }
            check_invariants(&s);
        }
    }
}
