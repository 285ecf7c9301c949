//! Graceful Restart helper mode (RFC 4724 §4.2, RFC 8538).

use std::time::Duration;

use bgp_proto::notification::cease;
use bgp_proto::{
    Capability, Family, GrFamily, GracefulRestart, Nlri, Notification, SessionContext,
    UpdateBuilder,
};
use bytes::BytesMut;

use super::*;
use crate::{GracefulRestartConfig, RouteEvents};

fn gr_config(notification: bool) -> SessionConfig {
    let mut c = config();
    c.graceful_restart = Some(GracefulRestartConfig {
        notification,
        ..Default::default()
    });
    c
}

fn gr_open(forwarding: bool, notification: bool) -> Open {
    let mut o = peer_open(90);
    o.capabilities
        .push(Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification,
            restart_time: 120,
            families: vec![GrFamily {
                family: Family::IPV4_UNICAST,
                forwarding,
            }],
        }));
    o
}

fn announce(s: &mut Session, now: Instant, routes: &[Route]) {
    let cx = s.context();
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(&cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    s.handle(now, Event::Message(b.freeze()));
}

fn eor(family: Family) -> Bytes {
    let mut b = BytesMut::new();
    UpdateBuilder::new(&SessionContext::default()).end_of_rib(family, &mut b);
    b.freeze()
}

fn two_routes() -> (Route, Route) {
    (
        route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS),
        route("203.0.114.0/24", [10, 0, 0, 2], PEER_AS),
    )
}

fn kept(actions: &[Action]) -> usize {
    actions
        .iter()
        .find_map(|a| match a {
            Action::SessionDown(d) => Some(d.stale_routes_kept),
            _ => None,
        })
        .expect("SessionDown")
}

/// Established with graceful restart, two routes received, then the TCP connection drops.
fn restarting(forwarding: bool) -> (Session, Route, Route) {
    let mut s = established_with(gr_config(false), &gr_open(forwarding, false));
    let (a, b) = two_routes();
    announce(&mut s, at(3), &[a.clone(), b.clone()]);
    let actions = s.handle(at(10), Event::Closed);
    assert_eq!(kept(&actions), 2);
    assert!(actions.contains(&Action::StartTimer {
        timer: Timer::GracefulRestart,
        at: at(130)
    }));
    (s, a, b)
}

#[test]
fn gr_helper_keeps_routes_stale_and_end_of_rib_removes_the_rest() {
    let (mut s, a, b) = restarting(true);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.adj_rib_in().len(), 2);
    assert!(s.is_stale(&a.nlri) && s.is_stale(&b.nlri));
    // The peer comes back.
    s.handle(at(15), Event::TimerFired(Timer::IdleHold));
    s.handle(at(15), Event::Connected);
    s.handle(at(16), Event::Message(open_bytes(&gr_open(true, false))));
    let actions = s.handle(at(17), Event::Message(keepalive()));
    assert!(actions.contains(&Action::StartTimer {
        timer: Timer::GracefulRestart,
        at: at(377)
    }));
    assert_eq!(s.adj_rib_in().len(), 2);
    // It announces `a` again, then End-of-RIB: `b` goes.
    announce(&mut s, at(18), std::slice::from_ref(&a));
    assert!(!s.is_stale(&a.nlri) && s.is_stale(&b.nlri));
    let actions = s.handle(at(19), Event::Message(eor(Family::IPV4_UNICAST)));
    assert_eq!(
        actions[1..],
        [
            Action::StopTimer(Timer::GracefulRestart),
            Action::Received(RouteEvents {
                withdrawn: vec![b.nlri],
                end_of_rib: Some(Family::IPV4_UNICAST),
                stale_removed: 1,
                ..RouteEvents::default()
            }),
        ]
    );
    assert_eq!(
        s.adj_rib_in().iter().map(|r| r.nlri).collect::<Vec<_>>(),
        vec![a.nlri]
    );
}

#[test]
fn gr_restart_time_expiry_removes_stale_routes() {
    let (mut s, a, b) = restarting(true);
    assert_eq!(
        s.handle(at(129), Event::TimerFired(Timer::GracefulRestart)),
        vec![]
    );
    let actions = s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    assert_eq!(
        actions,
        vec![Action::Received(RouteEvents {
            withdrawn: vec![a.nlri, b.nlri],
            stale_removed: 2,
            ..RouteEvents::default()
        })]
    );
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_peer_back_without_forwarding_bit_removes_stale_routes_at_once() {
    let (mut s, a, b) = restarting(true);
    s.handle(at(15), Event::TimerFired(Timer::IdleHold));
    s.handle(at(15), Event::Connected);
    let actions = s.handle(at(16), Event::Message(open_bytes(&gr_open(false, false))));
    assert!(actions.contains(&Action::Received(RouteEvents {
        withdrawn: vec![a.nlri, b.nlri],
        stale_removed: 2,
        ..RouteEvents::default()
    })));
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_notification_without_n_bit_drops_routes() {
    let mut s = established_with(gr_config(false), &gr_open(true, false));
    let (a, b) = two_routes();
    announce(&mut s, at(3), &[a, b]);
    let actions = s.handle(at(93), Event::TimerFired(Timer::Hold));
    assert_eq!(kept(&actions), 0);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_n_bit_keeps_routes_after_notification_but_not_after_hard_reset() {
    let (a, b) = two_routes();
    let mut s = established_with(gr_config(true), &gr_open(true, true));
    announce(&mut s, at(3), &[a.clone(), b.clone()]);
    let actions = s.handle(at(93), Event::TimerFired(Timer::Hold));
    assert_eq!(kept(&actions), 2);
    let mut s = established_with(gr_config(true), &gr_open(true, true));
    announce(&mut s, at(3), &[a, b]);
    let hard = Notification::cease(cease::HARD_RESET, None);
    let actions = s.handle(at(4), Event::Message(notification_bytes(&hard)));
    assert_eq!(kept(&actions), 0);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_n_bit_bfd_down_sends_6_10_and_keeps_nothing() {
    // RFC 9384 / RFC 5882 §4.3: BFD says the forwarding path is down; the Cease goes out as
    // 6/10 (not Hard Reset), and the peer's routes are withdrawn, not kept stale.
    let (a, b) = two_routes();
    let mut s = established_with(gr_config(true), &gr_open(true, true));
    announce(&mut s, at(3), &[a, b]);
    let bfd_down = Notification::cease(cease::BFD_DOWN, None);
    let actions = s.handle(
        at(4),
        Event::AutomaticStop {
            notification: Some(bfd_down.clone()),
        },
    );
    let mut buf = BytesMut::new();
    bfd_down.encode(&mut buf);
    assert!(
        actions
            .iter()
            .any(|x| matches!(x, Action::Send(m) if m[..] == buf[..])),
        "{actions:?}"
    );
    assert_eq!(kept(&actions), 0);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_only_when_we_advertised_it_too() {
    let mut s = established_with(config(), &gr_open(true, false));
    let (a, b) = two_routes();
    announce(&mut s, at(3), &[a, b]);
    assert_eq!(kept(&s.handle(at(4), Event::Closed)), 0);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_manual_stop_ends_the_helper_role() {
    let (mut s, _, _) = restarting(true);
    let actions = s.handle(at(11), Event::Stop { notification: None });
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Received(ev) if ev.stale_removed == 2)));
    assert!(s.adj_rib_in().is_empty());
    assert_eq!(s.next_timeout(), None);
    let _ = Duration::ZERO;
}

#[test]
fn gr_timer_survives_a_failed_reconnection() {
    let (mut s, _, _) = restarting(true);
    s.handle(at(15), Event::TimerFired(Timer::IdleHold));
    s.handle(at(15), Event::Connected);
    // The new connection breaks in OpenSent: the stale routes and their timer stay.
    let actions = s.handle(at(16), Event::Closed);
    assert_eq!(kept(&actions), 2);
    assert_eq!(s.timer(Timer::GracefulRestart), Some(at(130)));
    let actions = s.handle(at(130), Event::TimerFired(Timer::GracefulRestart));
    assert!(matches!(&actions[..], [Action::Received(ev)] if ev.stale_removed == 2));
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn gr_prefix_limit_keeps_nothing_even_with_n_bit() {
    let mut c = gr_config(true);
    c.max_prefixes = Some(1);
    let mut s = established_with(c, &gr_open(true, true));
    let (a, b) = two_routes();
    announce(&mut s, at(3), &[a, b]);
    assert_eq!(s.state(), State::Idle);
    assert!(s.adj_rib_in().is_empty());
}
