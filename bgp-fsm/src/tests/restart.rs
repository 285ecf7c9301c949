//! Graceful restart as the restarting speaker (RFC 4724 §4.1), Long-Lived Graceful Restart
//! helper (RFC 9494), Notification / Hard Reset (RFC 8538), the prefix-limit restart (D6)
//! and message-level guards (RFC 4271 §6.1, RFC 6608).

use std::sync::Arc;
use std::time::Duration;

use bgp_proto::notification::cease;
use bgp_proto::{
    Capability, Community, ErrorCode, Family, GrFamily, GracefulRestart, LlgrFamily, Message, Nlri,
    Notification, SessionContext, UpdateBuilder,
};
use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::negotiate::local_open;
use crate::{hard_reset, DownReason, GracefulRestartConfig, Initiator, RouteEvents};

const LLST: u32 = 3600;

fn gr_config(notification: bool, llgr: Option<u32>) -> SessionConfig {
    let mut c = config();
    c.graceful_restart = Some(GracefulRestartConfig {
        notification,
        llgr_stale_time: llgr,
        ..Default::default()
    });
    c
}

/// The peer's OPEN with GR (restart time `restart_time`, F bit and N bit as given, IPv4
/// unicast) and, if `llgr`, LLGR for IPv4 unicast with stale time [`LLST`] and F bit set.
fn peer_gr_open(restart_time: u16, forwarding: bool, notification: bool, llgr: bool) -> Open {
    let mut o = peer_open(90);
    o.capabilities
        .push(Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification,
            restart_time,
            families: vec![GrFamily {
                family: Family::IPV4_UNICAST,
                forwarding,
            }],
        }));
    if llgr {
        o.capabilities
            .push(Capability::LongLivedGracefulRestart(vec![LlgrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: true,
                stale_time: LLST,
            }]));
    }
    o
}

fn receive(s: &mut Session, now: Instant, routes: &[Route]) {
    let cx = s.context();
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(&cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    let actions = s.handle(now, Event::Message(b.freeze()));
    assert_eq!(s.state(), State::Established, "{actions:?}");
}

fn with_community(r: &Route, c: Community) -> Route {
    let mut attrs = (*r.attrs).clone();
    attrs.communities.push(c);
    Route {
        attrs: Arc::new(attrs),
        ..r.clone()
    }
}

fn open_of(actions: &[Action]) -> Open {
    sent_messages(actions, &SessionContext::default())
        .into_iter()
        .find_map(|m| match m {
            Message::Open(o) => Some(o),
            _ => None,
        })
        .expect("an OPEN was sent")
}

fn our_gr(open: &Open) -> GracefulRestart {
    open.capabilities
        .iter()
        .find_map(|c| match c {
            Capability::GracefulRestart(g) => Some(g.clone()),
            _ => None,
        })
        .expect("GR capability")
}

fn down_of(actions: &[Action]) -> DownReason {
    actions
        .iter()
        .find_map(|a| match a {
            Action::SessionDown(d) => Some(d.clone()),
            _ => None,
        })
        .expect("SessionDown")
}

fn notif(code: ErrorCode, subcode: u8, data: &[u8]) -> Notification {
    Notification::new(code, subcode, Bytes::copy_from_slice(data))
}

// ---- Restarting speaker (RFC 4724 §4.1) ------------------------------------------------

#[test]
fn restarting_open_sets_r_and_f_bits_until_first_established() {
    let mut c = gr_config(true, None);
    if let Some(gr) = c.graceful_restart.as_mut() {
        gr.restarting = true;
        gr.preserve_forwarding = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        gr.restart_time = 120;
    }
    let mut s = Session::new(c, 1);
    s.handle(at(0), Event::Start { passive: false });
    let first = open_of(&s.handle(at(0), Event::Connected));
    assert_eq!(
        our_gr(&first),
        GracefulRestart {
            restart_state: true,
            notification: true,
            restart_time: 120,
            families: vec![
                GrFamily {
                    family: Family::IPV4_UNICAST,
                    forwarding: true
                },
                GrFamily {
                    family: Family::IPV6_UNICAST,
                    forwarding: true
                },
            ],
        }
    );
    // A connection that fails before Established: the next OPEN still says "restarting".
    s.handle(at(1), Event::Closed);
    s.handle(at(2), Event::TimerFired(Timer::ConnectRetry));
    let second = open_of(&s.handle(at(2), Event::Connected));
    assert!(our_gr(&second).restart_state);
    s.handle(
        at(3),
        Event::Message(open_bytes(&peer_gr_open(120, true, true, false))),
    );
    s.handle(at(3), Event::Message(keepalive()));
    assert_eq!(s.state(), State::Established);
    // The session flaps: the OPEN after an Established session has no R bit, F bits stay.
    s.handle(at(10), Event::Closed);
    s.handle(at(15), Event::TimerFired(Timer::IdleHold));
    let third = open_of(&s.handle(at(15), Event::Connected));
    let gr = our_gr(&third);
    assert!(!gr.restart_state);
    assert!(gr.families.iter().all(|f| f.forwarding));
}

#[test]
fn restarting_established_sends_every_route_then_end_of_rib_per_family() {
    let mut c = gr_config(false, None);
    if let Some(gr) = c.graceful_restart.as_mut() {
        gr.restarting = true;
    }
    let mut s = open_confirm_with(c, &peer_gr_open(120, true, false, false));
    let ours = [
        route("192.0.2.10/32", [10, 0, 0, 1], LOCAL_AS),
        route("192.0.2.11/32", [10, 0, 0, 1], LOCAL_AS),
    ];
    assert_eq!(s.handle(at(1), Event::Announce(ours.to_vec())), vec![]);
    let actions = s.handle(at(2), Event::Message(keepalive()));
    let n = s.negotiated().unwrap().clone();
    let msgs = sent_messages(&actions, &n.context);
    let kinds: Vec<(usize, Option<Family>)> = msgs
        .iter()
        .map(|m| match m {
            Message::Update(u) => (u.announced().count(), u.end_of_rib()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (2, None),
            (0, Some(Family::IPV4_UNICAST)),
            (0, Some(Family::IPV6_UNICAST)),
        ]
    );
}

/// Kinds of the UPDATEs in `actions`: (announced prefixes, End-of-RIB family).
fn update_kinds(s: &Session, actions: &[Action]) -> Vec<(usize, Option<Family>)> {
    let cx = s.context();
    sent_messages(actions, &cx)
        .iter()
        .filter_map(|m| match m {
            Message::Update(u) => Some((u.announced().count(), u.end_of_rib())),
            _ => None,
        })
        .collect()
}

const BOTH_EOR: [(usize, Option<Family>); 2] = [
    (0, Some(Family::IPV4_UNICAST)),
    (0, Some(Family::IPV6_UNICAST)),
];

/// A restarting session with a 30 s End-of-RIB deferral, in OpenConfirm with a GR peer.
fn deferring(peer_gr: bool) -> Session {
    let mut c = gr_config(false, None);
    if let Some(gr) = c.graceful_restart.as_mut() {
        gr.restarting = true;
        gr.end_of_rib_deferral = Some(Duration::from_secs(30));
    }
    let open = if peer_gr {
        peer_gr_open(120, true, false, false)
    } else {
        peer_open(90)
    };
    open_confirm_with(c, &open)
}

#[test]
fn restarting_established_holds_end_of_rib_until_routes_complete() {
    let mut s = deferring(true);
    s.handle(
        at(1),
        Event::Announce(vec![route("192.0.2.10/32", [10, 0, 0, 1], LOCAL_AS)]),
    );
    let actions = s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(update_kinds(&s, &actions), vec![(1, None)]);
    assert!(actions.contains(&Action::StartTimer {
        timer: Timer::EndOfRib,
        at: at(32)
    }));
    assert!(s.end_of_rib_pending());
    // A route learned later goes out at once, still without End-of-RIB.
    let actions = s.handle(
        at(3),
        Event::Announce(vec![route("192.0.2.11/32", [10, 0, 0, 1], LOCAL_AS)]),
    );
    assert_eq!(update_kinds(&s, &actions), vec![(1, None)]);
    let actions = s.handle(at(4), Event::RoutesComplete);
    assert_eq!(update_kinds(&s, &actions), BOTH_EOR.to_vec());
    assert!(actions.contains(&Action::StopTimer(Timer::EndOfRib)));
    assert!(!s.end_of_rib_pending());
    // Idempotent: a second RoutesComplete sends nothing.
    assert_eq!(s.handle(at(5), Event::RoutesComplete), vec![]);
}

#[test]
fn restarting_established_end_of_rib_timer_sends_end_of_rib() {
    let mut s = deferring(true);
    s.handle(at(2), Event::Message(keepalive()));
    assert!(s.end_of_rib_pending());
    // Early or spurious firings do nothing.
    assert_eq!(s.handle(at(20), Event::TimerFired(Timer::EndOfRib)), vec![]);
    let actions = s.handle(at(32), Event::TimerFired(Timer::EndOfRib));
    assert_eq!(update_kinds(&s, &actions), BOTH_EOR.to_vec());
    assert!(!s.end_of_rib_pending());
    // The R bit is gone with the first Established: the next session does not defer.
    s.handle(at(40), Event::Closed);
    assert_eq!(s.timer(Timer::EndOfRib), None);
}

#[test]
fn open_confirm_routes_complete_before_established_defers_nothing() {
    let mut s = deferring(true);
    assert_eq!(s.handle(at(1), Event::RoutesComplete), vec![]);
    let actions = s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(update_kinds(&s, &actions), BOTH_EOR.to_vec());
    assert!(!s.end_of_rib_pending());
}

#[test]
fn restarting_established_without_peer_graceful_restart_defers_nothing() {
    let mut s = deferring(false);
    let actions = s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(update_kinds(&s, &actions), BOTH_EOR.to_vec());
    assert_eq!(s.timer(Timer::EndOfRib), None);
}

#[test]
fn established_session_down_drops_the_held_end_of_rib() {
    let mut s = deferring(true);
    s.handle(at(2), Event::Message(keepalive()));
    let actions = s.handle(at(3), Event::Closed);
    assert!(actions.contains(&Action::StopTimer(Timer::EndOfRib)));
    assert!(!s.end_of_rib_pending());
    // Nothing is sent without a connection.
    assert_eq!(s.handle(at(4), Event::RoutesComplete), vec![]);
}

#[test]
fn llgr_capability_is_advertised_with_the_configured_stale_time() {
    let mut c = gr_config(true, Some(0x0100_0000));
    if let Some(gr) = c.graceful_restart.as_mut() {
        gr.preserve_forwarding = vec![Family::IPV4_UNICAST];
    }
    let open = local_open(&c);
    let llgr = open.capabilities.iter().find_map(|c| match c {
        Capability::LongLivedGracefulRestart(v) => Some(v.clone()),
        _ => None,
    });
    // 24-bit field: capped at 0xFFFFFF (RFC 9494 §3).
    assert_eq!(
        llgr,
        Some(vec![
            LlgrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: true,
                stale_time: 0x00FF_FFFF
            },
            LlgrFamily {
                family: Family::IPV6_UNICAST,
                forwarding: false,
                stale_time: 0x00FF_FFFF
            },
        ])
    );
    assert!(!local_open(&gr_config(true, None))
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::LongLivedGracefulRestart(_))));
}

// ---- LLGR helper (RFC 9494 §4.2) -----------------------------------------------------------

/// Established with GR (restart 120 s) and LLGR on both sides; routes a (plain), b (NO_LLGR)
/// received; then the TCP connection drops at t = 10.
fn llgr_down() -> (Session, Route, Route) {
    let mut s = established_with(
        gr_config(false, Some(60)),
        &peer_gr_open(120, true, false, true),
    );
    let a = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    let b = with_community(
        &route("203.0.114.0/24", [10, 0, 0, 2], PEER_AS),
        Community::NO_LLGR,
    );
    receive(&mut s, at(3), std::slice::from_ref(&a));
    receive(&mut s, at(4), std::slice::from_ref(&b));
    let actions = s.handle(at(10), Event::Closed);
    assert_eq!(down_of(&actions).stale_routes_kept, 2);
    assert_eq!(s.timer(Timer::GracefulRestart), Some(at(130)));
    (s, a, b)
}

#[test]
fn llgr_restart_time_expiry_tags_llgr_stale_and_drops_no_llgr() {
    let (mut s, a, b) = llgr_down();
    let actions = s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    let tagged = with_community(&a, Community::LLGR_STALE);
    assert_eq!(
        actions,
        vec![
            Action::Received(RouteEvents {
                announced: vec![tagged.clone()],
                withdrawn: vec![b.nlri],
                stale_removed: 1,
                llgr_stale: 1,
                ..RouteEvents::default()
            }),
            Action::StartTimer {
                timer: Timer::GracefulRestart,
                at: at(130 + u64::from(LLST)),
            },
        ]
    );
    assert_eq!(s.adj_rib_in().iter().collect::<Vec<_>>(), vec![tagged]);
    assert!(s.is_stale(&a.nlri));
    // A spurious early firing does nothing; the long-lived stale time ends the route.
    assert_eq!(
        s.handle(at(200), Event::TimerFired(Timer::GracefulRestart)),
        vec![]
    );
    let actions = s.handle(
        at(130 + u64::from(LLST)),
        Event::TimerFired(Timer::GracefulRestart),
    );
    assert_eq!(
        actions,
        vec![Action::Received(RouteEvents {
            withdrawn: vec![a.nlri],
            stale_removed: 1,
            ..RouteEvents::default()
        })]
    );
    assert!(s.adj_rib_in().is_empty());
    assert_eq!(s.timer(Timer::GracefulRestart), None);
}

#[test]
fn llgr_peer_back_in_long_lived_phase_end_of_rib_ends_it() {
    let (mut s, a, _) = llgr_down();
    s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    // The peer returns during the long-lived phase, re-announces `a`, sends End-of-RIB.
    s.handle(at(140), Event::TimerFired(Timer::IdleHold));
    s.handle(at(140), Event::Connected);
    s.handle(
        at(141),
        Event::Message(open_bytes(&peer_gr_open(120, true, false, true))),
    );
    assert_eq!(
        s.adj_rib_in().len(),
        1,
        "kept: F bit set in the LLGR capability"
    );
    s.handle(at(141), Event::Message(keepalive()));
    receive(&mut s, at(142), std::slice::from_ref(&a));
    // The fresh route has no LLGR_STALE and is no longer stale.
    assert_eq!(s.adj_rib_in().get(&a.nlri), Some(a.clone()));
    assert!(!s.is_stale(&a.nlri));
    let mut b = BytesMut::new();
    UpdateBuilder::new(&SessionContext::default()).end_of_rib(Family::IPV4_UNICAST, &mut b);
    let actions = s.handle(at(143), Event::Message(b.freeze()));
    assert_eq!(
        actions[1..],
        [
            Action::StopTimer(Timer::GracefulRestart),
            Action::Received(RouteEvents {
                end_of_rib: Some(Family::IPV4_UNICAST),
                ..RouteEvents::default()
            })
        ]
    );
}

#[test]
fn llgr_peer_back_without_llgr_forwarding_bit_drops_long_lived_routes() {
    let (mut s, a, _) = llgr_down();
    s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    s.handle(at(140), Event::TimerFired(Timer::IdleHold));
    s.handle(at(140), Event::Connected);
    // GR with F bit, but no LLGR capability any more: the long-lived routes go (RFC 9494).
    let actions = s.handle(
        at(141),
        Event::Message(open_bytes(&peer_gr_open(120, true, false, false))),
    );
    assert!(actions.contains(&Action::Received(RouteEvents {
        withdrawn: vec![a.nlri],
        stale_removed: 1,
        ..RouteEvents::default()
    })));
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn llgr_with_zero_restart_time_starts_long_lived_phase_at_once() {
    let mut s = established_with(
        gr_config(false, Some(60)),
        &peer_gr_open(0, true, false, true),
    );
    let a = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    receive(&mut s, at(3), std::slice::from_ref(&a));
    let actions = s.handle(at(10), Event::Closed);
    let tagged = with_community(&a, Community::LLGR_STALE);
    assert!(actions.contains(&Action::Received(RouteEvents {
        announced: vec![tagged.clone()],
        llgr_stale: 1,
        ..RouteEvents::default()
    })));
    assert_eq!(down_of(&actions).stale_routes_kept, 1);
    assert_eq!(
        s.timer(Timer::GracefulRestart),
        Some(at(10 + u64::from(LLST)))
    );
    assert_eq!(s.adj_rib_in().get(&a.nlri), Some(tagged.clone()));
}

#[test]
fn llgr_not_used_when_we_did_not_advertise_it() {
    let mut s = established_with(
        gr_config(false, None),
        &peer_gr_open(120, true, false, true),
    );
    let a = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    receive(&mut s, at(3), std::slice::from_ref(&a));
    s.handle(at(10), Event::Closed);
    let actions = s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    assert_eq!(
        actions,
        vec![Action::Received(RouteEvents {
            withdrawn: vec![a.nlri],
            stale_removed: 1,
            ..RouteEvents::default()
        })]
    );
}

// ---- Notification GR, Hard Reset (RFC 8538) ----------------------------------------------

#[test]
fn hard_reset_carries_the_original_code_subcode_and_data() {
    let inner = Notification::cease(cease::ADMINISTRATIVE_RESET, Some("hi"));
    let hard = hard_reset(&inner);
    assert_eq!(hard, notif(ErrorCode::CEASE, 9, &[6, 4, 2, b'h', b'i']));
    // Already a Hard Reset: unchanged.
    assert_eq!(hard_reset(&hard), hard);
    assert_eq!(crate::hard_reset_inner(&hard), Some(inner));
    assert_eq!(
        crate::hard_reset_inner(&notif(ErrorCode::CEASE, 9, &[6])),
        None
    );
}

#[test]
fn n_bit_hard_reset_keeps_the_shutdown_communication_for_the_log() {
    let mut s = established_with(gr_config(true, None), &peer_gr_open(120, true, true, false));
    let stop = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some("maintenance"));
    let actions = s.handle(
        at(4),
        Event::Stop {
            notification: Some(stop.clone()),
        },
    );
    let down = down_of(&actions);
    assert_eq!(down.sent, Some(hard_reset(&stop)));
    assert_eq!(down.shutdown_message.as_deref(), Some("maintenance"));
}

#[test]
fn n_bit_manual_stop_sends_hard_reset_and_keeps_nothing() {
    let mut s = established_with(gr_config(true, None), &peer_gr_open(120, true, true, false));
    receive(
        &mut s,
        at(3),
        &[route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS)],
    );
    let actions = s.handle(at(4), Event::Stop { notification: None });
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 9, &[6, 2]))
    );
    assert_eq!(down_of(&actions).stale_routes_kept, 0);
}

#[test]
fn n_bit_automatic_stop_is_graceful_unless_hard() {
    let r = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    // Administrative Reset (6/4, default of AutomaticStop): graceful with N on both sides.
    let mut s = established_with(gr_config(true, None), &peer_gr_open(120, true, true, false));
    receive(&mut s, at(3), std::slice::from_ref(&r));
    let actions = s.handle(at(4), Event::AutomaticStop { notification: None });
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 4, &[]))
    );
    assert_eq!(down_of(&actions).stale_routes_kept, 1);
    // The same with the "hard" flag: Hard Reset, nothing kept.
    let mut s = established_with(gr_config(true, None), &peer_gr_open(120, true, true, false));
    receive(&mut s, at(3), std::slice::from_ref(&r));
    let hard = hard_reset(&Notification::cease(cease::ADMINISTRATIVE_RESET, None));
    let actions = s.handle(
        at(4),
        Event::AutomaticStop {
            notification: Some(hard.clone()),
        },
    );
    assert_eq!(sent_notification(&actions), Some(hard));
    assert_eq!(down_of(&actions).stale_routes_kept, 0);
}

#[test]
fn n_bit_out_of_resources_received_keeps_routes() {
    let mut s = established_with(gr_config(true, None), &peer_gr_open(120, true, true, false));
    receive(
        &mut s,
        at(3),
        &[route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS)],
    );
    let n = Notification::cease(cease::OUT_OF_RESOURCES, None);
    let actions = s.handle(at(4), Event::Message(notification_bytes(&n)));
    assert_eq!(down_of(&actions).stale_routes_kept, 1);
    assert_eq!(down_of(&actions).initiator, Initiator::Remote);
}

#[test]
fn without_n_bit_cease_is_sent_as_is() {
    let mut s = established_with(
        gr_config(false, None),
        &peer_gr_open(120, true, true, false),
    );
    let actions = s.handle(at(4), Event::Stop { notification: None });
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 2, &[]))
    );
}

// ---- Prefix limit (D6) ---------------------------------------------------------------------

#[test]
fn prefix_limit_sends_6_1_and_restarts_after_the_configured_idle_time() {
    let mut c = config();
    c.max_prefixes = Some(1);
    c.max_prefixes_restart = Duration::from_secs(30);
    let mut s = established_with(c, &peer_open(90));
    let cx = s.context();
    let routes = [
        route("203.0.1.0/24", [10, 0, 0, 2], PEER_AS),
        route("203.0.2.0/24", [10, 0, 0, 2], PEER_AS),
    ];
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(&cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    let actions = s.handle(at(5), Event::Message(b.freeze()));
    // AFI 1, SAFI 1, limit 1 (RFC 4486 §4).
    let n = notif(ErrorCode::CEASE, 1, &[0, 1, 1, 0, 0, 0, 1]);
    assert_eq!(
        actions,
        vec![
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(95)
            },
            Action::Send(notification_bytes(&n)),
            Action::Close,
            Action::StopTimer(Timer::Hold),
            Action::StopTimer(Timer::Keepalive),
            Action::SessionDown(DownReason {
                initiator: Initiator::Local,
                sent: Some(n),
                received: None,
                shutdown_message: None,
                was_established: true,
                stale_routes_kept: 0,
                reason: "maximum number of prefixes (1) exceeded".into(),
            }),
            Action::StartTimer {
                timer: Timer::IdleHold,
                at: at(35)
            },
        ]
    );
    // Not damped: the next prefix-limit reset waits the same 30 s.
    s.handle(at(35), Event::TimerFired(Timer::IdleHold));
    assert_eq!(s.state(), State::Connect);
}

#[test]
fn prefix_limit_with_n_bit_is_a_hard_reset_and_still_waits_the_idle_time() {
    let mut c = gr_config(true, None);
    c.max_prefixes = Some(1);
    c.max_prefixes_restart = Duration::from_secs(45);
    let mut s = established_with(c, &peer_gr_open(120, true, true, false));
    let routes = [
        route("203.0.1.0/24", [10, 0, 0, 2], PEER_AS),
        route("203.0.2.0/24", [10, 0, 0, 2], PEER_AS),
    ];
    let cx = s.context();
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(&cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    let actions = s.handle(at(5), Event::Message(b.freeze()));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 9, &[6, 1, 0, 1, 1, 0, 0, 0, 1]))
    );
    assert_eq!(s.timer(Timer::IdleHold), Some(at(50)));
    assert!(s.adj_rib_in().is_empty());
}

// ---- Message-level guards (RFC 4271 §4.1, §6.1; RFC 6608) ---------------------------------

fn raw_message(kind: u8, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_slice(&[0xFF; 16]);
    b.put_u16(u16::try_from(19 + body.len()).unwrap());
    b.put_u8(kind);
    b.put_slice(body);
    b.freeze()
}

fn guard(state: fn() -> Session, msg: Bytes) -> Option<Notification> {
    let mut s = state();
    let actions = s.handle(at(5), Event::Message(msg));
    assert_eq!(s.state(), State::Idle, "{actions:?}");
    assert!(actions.contains(&Action::Close));
    sent_notification(&actions)
}

#[test]
fn established_keepalive_with_a_body_sends_1_2_with_the_length() {
    // KEEPALIVE is exactly 19 octets (RFC 4271 §4.4); 20 -> Bad Message Length, Data 00 14.
    assert_eq!(
        guard(established, raw_message(4, &[0])),
        Some(notif(ErrorCode::MESSAGE_HEADER, 2, &[0, 20]))
    );
}

#[test]
fn open_confirm_keepalive_with_a_body_sends_1_2() {
    assert_eq!(
        guard(open_confirm, raw_message(4, &[0, 0])),
        Some(notif(ErrorCode::MESSAGE_HEADER, 2, &[0, 21]))
    );
}

#[test]
fn established_open_sends_5_3_with_data_01() {
    let msg = open_bytes(&peer_open(90));
    assert_eq!(
        guard(established, msg),
        Some(notif(ErrorCode::FSM, 3, &[1]))
    );
}

#[test]
fn established_unknown_message_type_sends_1_3_with_the_type() {
    assert_eq!(
        guard(established, raw_message(9, &[])),
        Some(notif(ErrorCode::MESSAGE_HEADER, 3, &[9]))
    );
}

#[test]
fn established_short_update_sends_1_2() {
    // UPDATE is at least 23 octets (RFC 4271 §4.3).
    assert_eq!(
        guard(established, raw_message(2, &[0, 0])),
        Some(notif(ErrorCode::MESSAGE_HEADER, 2, &[0, 21]))
    );
}

#[test]
fn established_bad_marker_sends_1_1() {
    let mut b = BytesMut::from(&keepalive()[..]);
    b[0] = 0;
    assert_eq!(
        guard(established, b.freeze()),
        Some(notif(ErrorCode::MESSAGE_HEADER, 1, &[]))
    );
}

#[test]
fn established_borr_with_a_trailing_octet_sends_7_1_with_the_whole_message() {
    // RFC 7313 §5: a BoRR (subtype 1) whose body is not 4 octets is 7/1, Data = the message.
    let msg = raw_message(5, &[0, 1, 1, 1, 0]);
    assert_eq!(
        guard(established, msg.clone()),
        Some(Notification::new(ErrorCode(7), 1, msg))
    );
}
