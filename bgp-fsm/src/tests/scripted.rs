//! One test per (state, event) of RFC 4271 §8.2.2 that matters, asserting the exact actions.

use std::time::Duration;

use bgp_proto::notification::{cease, fsm, open as open_err};
use bgp_proto::{
    Capability, CapabilityCode, ErrorCode, Family, HeaderError, Message, NextHop, Nlri,
    Notification, Role, RouteRefresh, SessionContext, UpdateBuilder, AS_TRANS,
};
use bytes::{Bytes, BytesMut};

use super::*;
use crate::negotiate::local_open;
use crate::{DownReason, Initiator};

fn our_open() -> Bytes {
    open_bytes(&local_open(&config()))
}

fn notif(code: ErrorCode, subcode: u8, data: &[u8]) -> Notification {
    Notification::new(code, subcode, Bytes::copy_from_slice(data))
}

fn send_notif(n: &Notification) -> Action {
    Action::Send(notification_bytes(n))
}

fn down(
    initiator: Initiator,
    sent: Option<Notification>,
    received: Option<Notification>,
    established: bool,
    reason: &str,
) -> Action {
    Action::SessionDown(DownReason {
        initiator,
        sent,
        received,
        shutdown_message: None,
        was_established: established,
        stale_routes_kept: 0,
        reason: reason.into(),
    })
}

fn idle_hold(at_: Instant) -> Action {
    Action::StartTimer {
        timer: Timer::IdleHold,
        at: at_,
    }
}

fn update_bytes(cx: &SessionContext, routes: &[Route]) -> Bytes {
    let mut b = BytesMut::new();
    let nlri: Vec<Nlri> = routes.iter().map(|r| r.nlri).collect();
    UpdateBuilder::new(cx).announce(&routes[0].attrs, &routes[0].next_hop, &nlri, &mut b);
    b.freeze()
}

fn withdraw_bytes(cx: &SessionContext, nlri: &[Nlri]) -> Bytes {
    let mut b = BytesMut::new();
    UpdateBuilder::new(cx).withdraw(nlri, &mut b);
    b.freeze()
}

fn eor_bytes(family: Family) -> Bytes {
    let mut b = BytesMut::new();
    UpdateBuilder::new(&SessionContext::default()).end_of_rib(family, &mut b);
    b.freeze()
}

fn rr_bytes(family: Family, subtype: u8) -> Bytes {
    let mut b = BytesMut::new();
    RouteRefresh { family, subtype }.encode(&mut b);
    b.freeze()
}

/// Asserts an OPEN from the peer ends OpenSent with this NOTIFICATION.
fn assert_open_rejected(config: SessionConfig, open: &Open, expected: Notification) {
    let mut s = open_sent_with(config);
    let actions = s.handle(at(1), Event::Message(open_bytes(open)));
    assert_eq!(sent_notification(&actions), Some(expected), "{actions:?}");
    assert_eq!(s.state(), State::Idle);
    assert!(actions.contains(&Action::Close));
}

// ---- Idle -------------------------------------------------------------------------------

#[test]
fn idle_manual_start_starts_connect_retry_and_connects() {
    let mut s = Session::new(config(), 1);
    let actions = s.handle(at(0), Event::Start { passive: false });
    assert_eq!(
        actions,
        vec![started(&s, Timer::ConnectRetry), Action::Connect]
    );
    assert_eq!(s.state(), State::Connect);
    // RFC 4271 §10 jitter: 0.75..=1 x ConnectRetryTime.
    let d = s.timer(Timer::ConnectRetry).unwrap() - at(0);
    assert!(
        d >= Duration::from_millis(3750) && d <= Duration::from_secs(5),
        "{d:?}"
    );
}

#[test]
fn idle_passive_start_goes_active_without_connecting() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.handle(at(0), Event::Start { passive: true }), vec![]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn idle_connected_is_refused() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.handle(at(0), Event::Connected), vec![Action::Close]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn idle_ignores_messages_and_unarmed_timers() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.handle(at(0), Event::Message(keepalive())), vec![]);
    assert_eq!(s.handle(at(0), Event::TimerFired(Timer::Hold)), vec![]);
    assert_eq!(s.handle(at(0), Event::Closed), vec![]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn idle_manual_stop_cancels_automatic_restart() {
    let mut s = open_sent();
    s.handle(at(240), Event::TimerFired(Timer::Hold));
    assert!(s.timer(Timer::IdleHold).is_some());
    let actions = s.handle(at(241), Event::Stop { notification: None });
    assert_eq!(actions, vec![Action::StopTimer(Timer::IdleHold)]);
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn idle_idle_hold_expires_restarts_automatically() {
    let mut s = open_sent();
    s.handle(at(240), Event::TimerFired(Timer::Hold));
    let actions = s.handle(at(245), Event::TimerFired(Timer::IdleHold));
    assert_eq!(
        actions,
        vec![started(&s, Timer::ConnectRetry), Action::Connect]
    );
    assert_eq!(s.state(), State::Connect);
}

// ---- Connect ----------------------------------------------------------------------------

#[test]
fn connect_tcp_connected_sends_open_and_goes_open_sent() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: false });
    let actions = s.handle(at(0), Event::Connected);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::ConnectRetry),
            Action::Send(our_open()),
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(240)
            },
        ]
    );
    assert_eq!(s.state(), State::OpenSent);
    assert_eq!(s.counters().messages_out.open, 1);
}

#[test]
fn connect_connect_retry_expires_drops_and_reconnects() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: false });
    let deadline = s.timer(Timer::ConnectRetry).unwrap();
    let actions = s.handle(deadline, Event::TimerFired(Timer::ConnectRetry));
    assert_eq!(
        actions,
        vec![
            Action::Close,
            started(&s, Timer::ConnectRetry),
            Action::Connect
        ]
    );
    assert_eq!(s.state(), State::Connect);
}

#[test]
fn connect_tcp_fails_waits_in_active_for_connect_retry() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: false });
    assert_eq!(s.handle(at(1), Event::ConnectFailed), vec![]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.counters().connect_retry_counter, 1);
    // Active, ConnectRetryTimer_Expires: reconnect, go to Connect.
    let deadline = s.timer(Timer::ConnectRetry).unwrap();
    let actions = s.handle(deadline, Event::TimerFired(Timer::ConnectRetry));
    assert_eq!(
        actions,
        vec![started(&s, Timer::ConnectRetry), Action::Connect]
    );
    assert_eq!(s.state(), State::Connect);
}

#[test]
fn connect_delay_open_waits_then_sends_open() {
    let mut c = config();
    c.delay_open = Some(Duration::from_secs(5));
    let mut s = Session::new(c.clone(), 1);
    s.handle(at(0), Event::Start { passive: false });
    let actions = s.handle(at(0), Event::Connected);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::ConnectRetry),
            Action::StartTimer {
                timer: Timer::DelayOpen,
                at: at(5)
            },
        ]
    );
    assert_eq!(s.state(), State::Connect);
    let actions = s.handle(at(5), Event::TimerFired(Timer::DelayOpen));
    assert_eq!(
        actions,
        vec![
            Action::Send(open_bytes(&local_open(&c))),
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(245)
            },
        ]
    );
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn connect_delay_open_peer_open_sends_open_and_keepalive() {
    let mut c = config();
    c.delay_open = Some(Duration::from_secs(5));
    let mut s = Session::new(c.clone(), 1);
    s.handle(at(0), Event::Start { passive: false });
    s.handle(at(0), Event::Connected);
    let actions = s.handle(at(1), Event::Message(open_bytes(&peer_open(90))));
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::DelayOpen),
            Action::Send(open_bytes(&local_open(&c))),
            Action::Send(keepalive()),
            started(&s, Timer::Keepalive),
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(91)
            },
        ]
    );
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn connect_manual_stop_goes_idle_without_restart() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: false });
    let actions = s.handle(at(1), Event::Stop { notification: None });
    assert_eq!(
        actions,
        vec![Action::Close, Action::StopTimer(Timer::ConnectRetry)]
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.next_timeout(), None);
}

// ---- Active -----------------------------------------------------------------------------

#[test]
fn active_tcp_connected_sends_open() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: true });
    let actions = s.handle(at(3), Event::Connected);
    assert_eq!(
        actions,
        vec![
            Action::Send(our_open()),
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(243)
            }
        ]
    );
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn active_passive_never_connects_out() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: true });
    assert_eq!(s.handle_timeout(at(100_000)), vec![]);
    assert_eq!(s.state(), State::Active);
}

// ---- OpenSent ---------------------------------------------------------------------------

#[test]
fn open_sent_hold_timer_expires_sends_notification_4_0() {
    let mut s = open_sent();
    let actions = s.handle(at(240), Event::TimerFired(Timer::Hold));
    let n = notif(ErrorCode::HOLD_TIMER_EXPIRED, 0, &[]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            down(Initiator::Local, Some(n), None, false, "hold timer expired"),
            idle_hold(at(245)),
        ]
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.counters().connect_retry_counter, 1);
}

#[test]
fn open_sent_early_or_duplicate_hold_timer_is_ignored() {
    let mut s = open_sent();
    assert_eq!(s.handle(at(239), Event::TimerFired(Timer::Hold)), vec![]);
    assert_eq!(s.handle(at(1), Event::TimerFired(Timer::Keepalive)), vec![]);
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn open_sent_open_sends_keepalive_and_goes_open_confirm() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Message(open_bytes(&peer_open(90))));
    assert_eq!(
        actions,
        vec![
            Action::Send(keepalive()),
            started(&s, Timer::Keepalive),
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(91)
            },
        ]
    );
    assert_eq!(s.state(), State::OpenConfirm);
    let n = s.negotiated().unwrap();
    assert_eq!(
        (n.hold_time, n.keepalive, n.peer_asn, n.peer_id),
        (90, 30, PEER_AS, peer_id())
    );
    assert_eq!(n.families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    assert!(n.route_refresh && n.enhanced_route_refresh && n.four_octet_as);
    let d = s.timer(Timer::Keepalive).unwrap() - at(1);
    assert!(
        d >= Duration::from_millis(22_500) && d <= Duration::from_secs(30),
        "{d:?}"
    );
}

#[test]
fn open_sent_keepalive_sends_fsm_error_5_1_with_type() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Message(keepalive()));
    let n = notif(ErrorCode::FSM, fsm::UNEXPECTED_IN_OPEN_SENT, &[4]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            Action::StopTimer(Timer::Hold),
            down(
                Initiator::Local,
                Some(n),
                None,
                false,
                "unexpected KEEPALIVE in OpenSent"
            ),
            idle_hold(at(6)),
        ]
    );
}

#[test]
fn open_sent_update_sends_fsm_error_5_1_with_type() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Message(eor_bytes(Family::IPV4_UNICAST)));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::FSM, 1, &[2]))
    );
}

#[test]
fn open_sent_route_refresh_sends_fsm_error_5_1_with_type() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Message(rr_bytes(Family::IPV4_UNICAST, 0)));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::FSM, 1, &[5]))
    );
}

#[test]
fn open_sent_tcp_fails_goes_active() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Closed);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::Hold),
            started(&s, Timer::ConnectRetry),
            down(
                Initiator::Transport,
                None,
                None,
                false,
                "connection closed in OpenSent"
            ),
        ]
    );
    assert_eq!(s.state(), State::Active);
}

#[test]
fn open_sent_bad_peer_as_sends_2_2() {
    let mut o = peer_open(90);
    o.my_as = 65003;
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    assert_open_rejected(
        config(),
        &o,
        notif(ErrorCode::OPEN_MESSAGE, open_err::BAD_PEER_AS, &[]),
    );
}

#[test]
fn open_sent_as_zero_sends_2_2() {
    // RFC 7607 §2, in the My AS field and in the 4-octet AS capability.
    let mut o = peer_open(90);
    o.my_as = 0;
    assert_open_rejected(config(), &o, notif(ErrorCode::OPEN_MESSAGE, 2, &[]));
    let mut c = config();
    c.peer_asn = 0;
    let mut o = peer_open(90);
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    o.capabilities.push(Capability::FourOctetAs(0));
    assert_open_rejected(c, &o, notif(ErrorCode::OPEN_MESSAGE, 2, &[]));
}

#[test]
fn open_sent_as_trans_with_four_octet_capability_is_accepted() {
    let mut c = config();
    c.peer_asn = 4_200_000_000;
    let mut o = peer_open(90);
    o.my_as = AS_TRANS;
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    o.capabilities.push(Capability::FourOctetAs(4_200_000_000));
    let s = open_confirm_with(c.clone(), &o);
    assert_eq!(s.negotiated().unwrap().peer_asn, 4_200_000_000);
    // Without the capability AS_TRANS is just the wrong AS.
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    assert_open_rejected(c, &o, notif(ErrorCode::OPEN_MESSAGE, 2, &[]));
}

#[test]
fn open_sent_local_four_octet_as_goes_as_as_trans() {
    let mut c = config();
    c.local_asn = 4_200_000_001;
    let o = local_open(&c);
    assert_eq!(o.my_as, AS_TRANS);
    assert_eq!(o.asn(), 4_200_000_001);
}

#[test]
fn open_sent_hold_time_one_or_two_sends_2_6() {
    for hold in [1, 2] {
        assert_open_rejected(
            config(),
            &peer_open(hold),
            notif(ErrorCode::OPEN_MESSAGE, 6, &[]),
        );
    }
    let mut c = config();
    c.min_hold_time = 10;
    assert_open_rejected(c, &peer_open(9), notif(ErrorCode::OPEN_MESSAGE, 6, &[]));
}

#[test]
fn open_sent_bgp_id_zero_or_ours_on_ibgp_sends_2_3() {
    let mut o = peer_open(90);
    o.bgp_id = "0.0.0.0".parse().unwrap();
    assert_open_rejected(
        config(),
        &o,
        notif(ErrorCode::OPEN_MESSAGE, open_err::BAD_BGP_ID, &[]),
    );
    let mut c = config();
    c.peer_asn = LOCAL_AS;
    let mut o = peer_open(90);
    o.my_as = LOCAL_AS as u16;
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    o.capabilities.push(Capability::FourOctetAs(LOCAL_AS));
    o.bgp_id = local_id();
    assert_open_rejected(c, &o, notif(ErrorCode::OPEN_MESSAGE, 3, &[]));
}

#[test]
fn open_sent_same_bgp_id_on_ebgp_is_accepted() {
    // RFC 6286 §2.2 only forbids equal identifiers within one AS.
    let mut o = peer_open(90);
    o.bgp_id = local_id();
    open_confirm_with(config(), &o);
}

#[test]
fn open_sent_missing_required_capability_sends_2_7_with_the_capability() {
    let mut c = config();
    c.required_capabilities = vec![CapabilityCode::FOUR_OCTET_AS];
    let mut o = peer_open(90);
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::FOUR_OCTET_AS);
    // Data: our capability, code 65, length 4, AS 65001.
    let data = [65, 4, 0, 0, 0xfd, 0xe9];
    assert_open_rejected(
        c,
        &o,
        notif(
            ErrorCode::OPEN_MESSAGE,
            open_err::UNSUPPORTED_CAPABILITY,
            &data,
        ),
    );
}

#[test]
fn open_sent_role_mismatch_sends_2_11() {
    let mut c = config();
    c.role = Some(Role::Customer);
    let mut o = peer_open(90);
    o.capabilities.push(Capability::Role(Role::Customer));
    assert_open_rejected(
        c.clone(),
        &o,
        notif(ErrorCode::OPEN_MESSAGE, open_err::ROLE_MISMATCH, &[]),
    );
    // Conflicting roles from the peer (RFC 9234 §4.2).
    let mut o = peer_open(90);
    o.capabilities.push(Capability::Role(Role::Provider));
    o.capabilities.push(Capability::Role(Role::Peer));
    assert_open_rejected(c.clone(), &o, notif(ErrorCode::OPEN_MESSAGE, 11, &[]));
    // Strict mode and no role.
    c.strict_role = true;
    assert_open_rejected(
        c.clone(),
        &peer_open(90),
        notif(ErrorCode::OPEN_MESSAGE, 11, &[]),
    );
    // A matching pair.
    let mut o = peer_open(90);
    o.capabilities.push(Capability::Role(Role::Provider));
    let s = open_confirm_with(c, &o);
    assert_eq!(s.negotiated().unwrap().peer_role, Some(Role::Provider));
}

#[test]
fn open_sent_unsupported_version_sends_2_1_with_version_4() {
    let mut s = open_sent();
    let mut bytes = BytesMut::from(&open_bytes(&peer_open(90))[..]);
    bytes[19] = 3;
    let actions = s.handle(at(1), Event::Message(bytes.freeze()));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::OPEN_MESSAGE, 1, &[0, 4]))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_notification_closes_without_answering() {
    let mut s = open_sent();
    let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some("maintenance"));
    let actions = s.handle(at(1), Event::Message(notification_bytes(&n)));
    assert_eq!(
        actions,
        vec![
            Action::Close,
            Action::StopTimer(Timer::Hold),
            Action::SessionDown(DownReason {
                initiator: Initiator::Remote,
                sent: None,
                received: Some(n.clone()),
                shutdown_message: Some("maintenance".into()),
                was_established: false,
                stale_routes_kept: 0,
                reason: format!("peer sent NOTIFICATION {n}"),
            }),
            idle_hold(at(6)),
        ]
    );
}

#[test]
fn open_sent_malformed_notification_closes_without_answering() {
    let mut s = open_sent();
    // A NOTIFICATION of 20 octets: header + code only.
    let mut b = BytesMut::from(&notification_bytes(&notif(ErrorCode::CEASE, 2, &[]))[..20]);
    b[17] = 20;
    let actions = s.handle(at(1), Event::Message(b.freeze()));
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Send(_))),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Close));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_header_error_sends_1_2_with_length() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::HeaderError(HeaderError::BadLength(5000)));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::MESSAGE_HEADER, 2, &[0x13, 0x88]))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_manual_stop_sends_cease_6_2_and_stays_idle() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Stop { notification: None });
    let n = notif(ErrorCode::CEASE, 2, &[]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            Action::StopTimer(Timer::Hold),
            down(
                Initiator::Local,
                Some(n.clone()),
                None,
                false,
                &format!("stopped ({n})")
            ),
        ]
    );
    assert_eq!(s.counters().connect_retry_counter, 0);
}

#[test]
fn open_sent_manual_stop_carries_shutdown_communication() {
    let mut s = open_sent();
    let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some("bgpd shutting down"));
    let actions = s.handle(
        at(1),
        Event::Stop {
            notification: Some(n.clone()),
        },
    );
    assert_eq!(sent_notification(&actions), Some(n));
    let down = actions.iter().find_map(|a| match a {
        Action::SessionDown(d) => Some(d.clone()),
        _ => None,
    });
    assert_eq!(
        down.unwrap().shutdown_message.as_deref(),
        Some("bgpd shutting down")
    );
}

#[test]
fn open_sent_collision_lost_sends_cease_6_7_without_restart() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::CollisionLost);
    let n = notif(ErrorCode::CEASE, 7, &[]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            Action::StopTimer(Timer::Hold),
            down(
                Initiator::Local,
                Some(n),
                None,
                false,
                "connection collision"
            ),
        ]
    );
}

// ---- OpenConfirm --------------------------------------------------------------------------

#[test]
fn open_confirm_keepalive_goes_established_and_sends_table_then_end_of_rib() {
    let mut s = open_confirm();
    s.handle(
        at(1),
        Event::Announce(vec![route("192.0.2.10/32", [10, 0, 0, 1], LOCAL_AS)]),
    );
    let actions = s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(s.state(), State::Established);
    let n = s.negotiated().unwrap().clone();
    let sends: Vec<Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Send(_)))
        .cloned()
        .collect();
    assert_eq!(
        actions,
        vec![
            Action::StartTimer {
                timer: Timer::Hold,
                at: at(92)
            },
            Action::SessionUp(Box::new(n.clone())),
            sends[0].clone(),
            started(&s, Timer::Keepalive),
        ]
    );
    let msgs = sent_messages(&actions, &n.context);
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    let Message::Update(u) = &msgs[0] else {
        panic!("{msgs:?}")
    };
    assert_eq!(
        u.announced().collect::<Vec<_>>(),
        vec![route("192.0.2.10/32", [10, 0, 0, 1], 1).nlri]
    );
    let Message::Update(eor4) = &msgs[1] else {
        panic!()
    };
    let Message::Update(eor6) = &msgs[2] else {
        panic!()
    };
    assert_eq!(eor4.end_of_rib(), Some(Family::IPV4_UNICAST));
    assert_eq!(eor6.end_of_rib(), Some(Family::IPV6_UNICAST));
}

#[test]
fn open_confirm_duplicate_open_sends_5_2_with_data_01() {
    let mut s = open_confirm();
    let actions = s.handle(at(2), Event::Message(open_bytes(&peer_open(90))));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::FSM, 2, &[1]))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_confirm_update_sends_5_2_with_type() {
    let mut s = open_confirm();
    let actions = s.handle(at(2), Event::Message(eor_bytes(Family::IPV4_UNICAST)));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::FSM, 2, &[2]))
    );
}

#[test]
fn open_confirm_hold_timer_expires_sends_notification_4_0() {
    let mut s = open_confirm();
    let actions = s.handle(at(91), Event::TimerFired(Timer::Hold));
    let n = notif(ErrorCode::HOLD_TIMER_EXPIRED, 0, &[]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            Action::StopTimer(Timer::Keepalive),
            down(Initiator::Local, Some(n), None, false, "hold timer expired"),
            idle_hold(at(96)),
        ]
    );
}

#[test]
fn open_confirm_keepalive_timer_sends_keepalive() {
    let mut s = open_confirm();
    let deadline = s.timer(Timer::Keepalive).unwrap();
    let actions = s.handle(deadline, Event::TimerFired(Timer::Keepalive));
    assert_eq!(
        actions,
        vec![Action::Send(keepalive()), started(&s, Timer::Keepalive)]
    );
}

#[test]
fn open_confirm_tcp_fails_goes_idle() {
    let mut s = open_confirm();
    let actions = s.handle(at(2), Event::Closed);
    assert_eq!(s.state(), State::Idle);
    assert!(!actions.contains(&Action::Close));
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::SessionDown(d) if d.initiator == Initiator::Transport)));
}

#[test]
fn open_confirm_hold_time_zero_arms_no_timers() {
    let mut s = open_sent();
    let actions = s.handle(at(1), Event::Message(open_bytes(&peer_open(0))));
    assert_eq!(
        actions,
        vec![Action::Send(keepalive()), Action::StopTimer(Timer::Hold)]
    );
    assert_eq!(s.negotiated().unwrap().keepalive, 0);
    let actions = s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(s.state(), State::Established);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::StartTimer { .. })),
        "{actions:?}"
    );
    assert_eq!(s.next_timeout(), None);
    // RFC 9687: no send hold timer either.
    assert_eq!(s.handle(at(3), Event::SendBlocked), vec![]);
}

// ---- Established --------------------------------------------------------------------------

#[test]
fn established_open_sends_5_3_with_type() {
    let mut s = established();
    let actions = s.handle(at(3), Event::Message(open_bytes(&peer_open(90))));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::FSM, 3, &[1]))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_hold_timer_expires_sends_notification_4_0() {
    let mut s = established();
    let actions = s.handle(at(92), Event::TimerFired(Timer::Hold));
    let n = notif(ErrorCode::HOLD_TIMER_EXPIRED, 0, &[]);
    assert_eq!(
        actions,
        vec![
            send_notif(&n),
            Action::Close,
            Action::StopTimer(Timer::Keepalive),
            down(Initiator::Local, Some(n), None, true, "hold timer expired"),
            idle_hold(at(97)),
        ]
    );
}

#[test]
fn established_keepalive_restarts_hold_timer_and_old_deadline_is_ignored() {
    let mut s = established();
    let actions = s.handle(at(50), Event::Message(keepalive()));
    assert_eq!(
        actions,
        vec![Action::StartTimer {
            timer: Timer::Hold,
            at: at(140)
        }]
    );
    // The firing for the old deadline (92) arrives late: ignored.
    assert_eq!(s.handle(at(92), Event::TimerFired(Timer::Hold)), vec![]);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_keepalive_timer_sends_keepalive_and_restarts() {
    let mut s = established();
    let deadline = s.timer(Timer::Keepalive).unwrap();
    let actions = s.handle(deadline, Event::TimerFired(Timer::Keepalive));
    assert_eq!(
        actions,
        vec![Action::Send(keepalive()), started(&s, Timer::Keepalive)]
    );
    // Duplicate firing: nothing.
    assert_eq!(
        s.handle(deadline, Event::TimerFired(Timer::Keepalive)),
        vec![]
    );
}

#[test]
fn established_keepalive_pacing_never_below_one_second() {
    let mut c = config();
    c.hold_time = 3;
    let mut s = established_with(c, &peer_open(3));
    assert_eq!(s.negotiated().unwrap().keepalive, 1);
    let mut now = at(2);
    for _ in 0..50 {
        let deadline = s.timer(Timer::Keepalive).unwrap();
        assert!(deadline - now >= Duration::from_secs(1));
        now = deadline;
        s.handle(now, Event::Message(keepalive()));
        s.handle(now, Event::TimerFired(Timer::Keepalive));
    }
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_hold_time_is_the_minimum_of_both() {
    let s = established_with(config(), &peer_open(9));
    let n = s.negotiated().unwrap();
    assert_eq!((n.hold_time, n.keepalive, n.peer_hold_time), (9, 3, 9));
    let mut c = config();
    c.hold_time = 6;
    c.keepalive = Some(1);
    let s = established_with(c, &peer_open(90));
    let n = s.negotiated().unwrap();
    assert_eq!((n.hold_time, n.keepalive), (6, 1));
}

#[test]
fn established_announce_sends_update_and_restarts_keepalive() {
    let mut s = established();
    let r = route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS);
    let actions = s.handle(at(3), Event::Announce(vec![r.clone()]));
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[1], started(&s, Timer::Keepalive));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(u.announced().collect::<Vec<_>>(), vec![r.nlri]);
    assert_eq!(u.next_hop(Family::IPV4_UNICAST), Some(r.next_hop));
    assert_eq!(u.attributes(), *r.attrs);
    // The same route again: nothing to send.
    assert_eq!(s.handle(at(4), Event::Announce(vec![r.clone()])), vec![]);
    // A changed route is sent again.
    let mut r2 = r.clone();
    r2.next_hop = NextHop::V4("10.0.0.9".parse().unwrap());
    let actions = s.handle(at(5), Event::Announce(vec![r2.clone()]));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(u.next_hop(Family::IPV4_UNICAST), Some(r2.next_hop));
    assert_eq!(s.adj_rib_out().get(&r.nlri), Some(r2.clone()));
}

#[test]
fn established_withdraw_sends_withdrawal_once() {
    let mut s = established();
    let r = route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS);
    s.handle(at(3), Event::Announce(vec![r.clone()]));
    let actions = s.handle(at(4), Event::Withdraw(vec![r.nlri]));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(u.withdrawn().collect::<Vec<_>>(), vec![r.nlri]);
    assert!(s.adj_rib_out().is_empty());
    assert_eq!(s.handle(at(5), Event::Withdraw(vec![r.nlri])), vec![]);
}

#[test]
fn announce_shared_and_withdraw_all_send_like_their_per_route_forms() {
    let mut s = established();
    let base = route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS);
    // 2,000 /32s sharing one path, given out of order and with one duplicate.
    let mut nlri: Vec<Nlri> = (0..2000u32)
        .rev()
        .map(|i| Nlri {
            prefix: ipnet::IpNet::V4(
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0xc633_0000 + i), 32).unwrap(),
            ),
            path_id: None,
        })
        .collect();
    nlri.push(nlri[0]);
    let actions = s.handle(
        at(3),
        Event::AnnounceShared {
            next_hop: base.next_hop,
            attrs: base.attrs.clone(),
            nlri: nlri.clone(),
        },
    );
    let msgs = sent_messages(&actions, &s.context());
    let mut sent: Vec<Nlri> = msgs
        .iter()
        .flat_map(|m| match m {
            Message::Update(u) => {
                assert_eq!(u.next_hop(Family::IPV4_UNICAST), Some(base.next_hop));
                u.announced().collect::<Vec<_>>()
            }
            _ => Vec::new(),
        })
        .collect();
    sent.sort();
    let mut want = nlri.clone();
    want.sort();
    want.dedup();
    assert_eq!(sent, want, "every prefix once");
    assert_eq!(s.adj_rib_out().len(), 2000);
    // Again: nothing changed, nothing sent.
    let again = s.handle(
        at(4),
        Event::AnnounceShared {
            next_hop: base.next_hop,
            attrs: base.attrs.clone(),
            nlri,
        },
    );
    assert_eq!(again, vec![]);
    let actions = s.handle(at(5), Event::WithdrawAll);
    let mut gone: Vec<Nlri> = sent_messages(&actions, &s.context())
        .iter()
        .flat_map(|m| match m {
            Message::Update(u) => u.withdrawn().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    gone.sort();
    assert_eq!(gone, want);
    assert!(s.adj_rib_out().is_empty());
    assert_eq!(s.handle(at(6), Event::WithdrawAll), vec![]);
}

#[test]
fn established_routes_with_equal_attributes_are_packed() {
    let mut s = established();
    let routes: Vec<Route> = (0..1000u32)
        .map(|i| {
            let p = format!("10.{}.{}.0/24", i / 256, i % 256);
            route(&p, [192, 0, 2, 1], LOCAL_AS)
        })
        .collect();
    let before = s.counters().messages_out.update;
    let actions = s.handle(at(3), Event::Announce(routes));
    let msgs = sent_messages(&actions, &s.context());
    let count: usize = msgs
        .iter()
        .map(|m| match m {
            Message::Update(u) => u.announced().count(),
            _ => 0,
        })
        .sum();
    assert_eq!(count, 1000);
    assert!(msgs.len() <= 2, "{} messages", msgs.len());
    assert_eq!(s.counters().messages_out.update - before, msgs.len() as u64);
}

#[test]
fn established_never_sends_a_family_the_peer_did_not_negotiate() {
    let mut o = peer_open(90);
    o.capabilities
        .retain(|c| *c != Capability::Multiprotocol(Family::IPV6_UNICAST));
    let mut s = established_with(config(), &o);
    assert_eq!(s.negotiated().unwrap().families, vec![Family::IPV4_UNICAST]);
    let r6 = Route {
        nlri: Nlri {
            prefix: "2001:db8::/48".parse().unwrap(),
            path_id: None,
        },
        next_hop: NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        },
        attrs: attrs(LOCAL_AS),
    };
    assert_eq!(s.handle(at(3), Event::Announce(vec![r6.clone()])), vec![]);
    assert!(s.adj_rib_out().contains(&r6.nlri));
}

#[test]
fn established_route_refresh_resends_family_between_borr_and_eorr() {
    let mut s = established();
    let r = route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS);
    s.handle(at(3), Event::Announce(vec![r.clone()]));
    let actions = s.handle(at(4), Event::Message(rr_bytes(Family::IPV4_UNICAST, 0)));
    assert_eq!(actions.len(), 5, "{actions:?}");
    assert_eq!(
        actions[0],
        Action::StartTimer {
            timer: Timer::Hold,
            at: at(94)
        }
    );
    assert_eq!(
        actions[1],
        Action::Send(rr_bytes(Family::IPV4_UNICAST, RouteRefresh::BORR))
    );
    assert_eq!(actions[3], started(&s, Timer::Keepalive));
    assert_eq!(
        actions[4],
        Action::Send(rr_bytes(Family::IPV4_UNICAST, RouteRefresh::EORR))
    );
    let msgs = sent_messages(&actions[2..3], &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(u.announced().collect::<Vec<_>>(), vec![r.nlri]);
}

#[test]
fn established_route_refresh_without_enhanced_sends_routes_only() {
    let mut o = peer_open(90);
    o.capabilities
        .retain(|c| *c != Capability::EnhancedRouteRefresh);
    let mut s = established_with(config(), &o);
    s.handle(
        at(3),
        Event::Announce(vec![route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS)]),
    );
    let actions = s.handle(at(4), Event::Message(rr_bytes(Family::IPV4_UNICAST, 0)));
    let msgs = sent_messages(&actions, &s.context());
    assert_eq!(msgs.len(), 1);
    assert!(matches!(msgs[0], Message::Update(_)));
}

#[test]
fn established_route_refresh_for_unnegotiated_family_is_ignored() {
    let mut s = established();
    let f = Family::new(bgp_proto::Afi::IPV4, bgp_proto::Safi::MULTICAST);
    let actions = s.handle(at(4), Event::Message(rr_bytes(f, 0)));
    assert_eq!(
        actions,
        vec![Action::StartTimer {
            timer: Timer::Hold,
            at: at(94)
        }]
    );
}

#[test]
fn established_route_refresh_without_capability_sends_1_3() {
    let mut c = config();
    c.route_refresh = false;
    let mut s = established_with(c, &peer_open(90));
    let actions = s.handle(at(4), Event::Message(rr_bytes(Family::IPV4_UNICAST, 0)));
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::MESSAGE_HEADER, 3, &[5]))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_request_refresh_sends_route_refresh() {
    let mut s = established();
    let actions = s.handle(at(4), Event::RequestRefresh(Family::IPV6_UNICAST));
    assert_eq!(
        actions,
        vec![Action::Send(rr_bytes(Family::IPV6_UNICAST, 0))]
    );
    let mut o = peer_open(90);
    o.capabilities.retain(|c| *c != Capability::RouteRefresh);
    let mut s = established_with(config(), &o);
    assert_eq!(
        s.handle(at(4), Event::RequestRefresh(Family::IPV4_UNICAST)),
        vec![]
    );
}

#[test]
fn established_resend_routes_sends_the_family_again() {
    let mut s = established();
    let ours = vec![
        route("192.0.2.10/32", [10, 0, 0, 1], LOCAL_AS),
        route("192.0.2.11/32", [10, 0, 0, 1], LOCAL_AS),
    ];
    let first = s.handle(at(4), Event::Announce(ours));
    let again = s.handle(at(5), Event::ResendRoutes(Family::IPV4_UNICAST));
    let cx = s.context();
    let announced = |actions: &[Action]| -> Vec<String> {
        sent_messages(actions, &cx)
            .into_iter()
            .flat_map(|m| match m {
                Message::Update(u) => u
                    .announced()
                    .map(|n| n.prefix.to_string())
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect()
    };
    assert_eq!(announced(&again), vec!["192.0.2.10/32", "192.0.2.11/32"]);
    assert_eq!(announced(&again), announced(&first));
    // Nothing for a family with no routes, or outside Established.
    assert!(announced(&s.handle(at(6), Event::ResendRoutes(Family::IPV6_UNICAST))).is_empty());
    let mut idle = Session::new(config(), 1);
    assert_eq!(
        idle.handle(at(0), Event::ResendRoutes(Family::IPV4_UNICAST)),
        vec![]
    );
}

#[test]
fn established_send_hold_timer_expires_sends_notification_8_0() {
    let mut s = established();
    let actions = s.handle(at(10), Event::SendBlocked);
    // D13: max(8 minutes, 2 x 90 s) = 480 s.
    assert_eq!(
        actions,
        vec![Action::StartTimer {
            timer: Timer::SendHold,
            at: at(490)
        }]
    );
    // Still blocked: the timer keeps its deadline.
    assert_eq!(s.handle(at(20), Event::SendBlocked), vec![]);
    s.handle(at(60), Event::Message(keepalive()));
    let actions = s.handle(at(490), Event::TimerFired(Timer::SendHold));
    let n = notif(ErrorCode::SEND_HOLD_TIMER_EXPIRED, 0, &[]);
    assert_eq!(actions[0], send_notif(&n));
    assert_eq!(actions[1], Action::Close);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_send_progress_restarts_or_stops_send_hold_timer() {
    let mut c = config();
    c.hold_time = 300;
    let mut s = established_with(c, &peer_open(300));
    s.handle(at(10), Event::SendBlocked);
    assert_eq!(s.timer(Timer::SendHold), Some(at(610)));
    let actions = s.handle(at(20), Event::SendProgress { drained: false });
    assert_eq!(
        actions,
        vec![Action::StartTimer {
            timer: Timer::SendHold,
            at: at(620)
        }]
    );
    let actions = s.handle(at(21), Event::SendProgress { drained: true });
    assert_eq!(actions, vec![Action::StopTimer(Timer::SendHold)]);
    assert_eq!(
        s.handle(at(620), Event::TimerFired(Timer::SendHold)),
        vec![]
    );
}

#[test]
fn established_update_is_delivered_and_kept_in_adj_rib_in() {
    let mut s = established();
    let cx = s.context();
    let r1 = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    let r2 = route("203.0.114.0/24", [10, 0, 0, 2], PEER_AS);
    let actions = s.handle(
        at(3),
        Event::Message(update_bytes(&cx, &[r1.clone(), r2.clone()])),
    );
    assert_eq!(actions.len(), 2, "{actions:?}");
    let Action::Received(ev) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert_eq!(ev.announced, vec![r1.clone(), r2.clone()]);
    assert_eq!(s.adj_rib_in().len(), 2);
    assert_eq!(s.adj_rib_in().get(&r1.nlri), Some(r1.clone()));
    let actions = s.handle(at(4), Event::Message(withdraw_bytes(&cx, &[r1.nlri])));
    let Action::Received(ev) = &actions[1] else {
        panic!()
    };
    assert_eq!(ev.withdrawn, vec![r1.nlri]);
    assert_eq!(s.adj_rib_in().len(), 1);
    // End-of-RIB.
    let actions = s.handle(at(5), Event::Message(eor_bytes(Family::IPV6_UNICAST)));
    let Action::Received(ev) = &actions[1] else {
        panic!()
    };
    assert_eq!(ev.end_of_rib, Some(Family::IPV6_UNICAST));
    // Session loss clears the Adj-RIB-In.
    s.handle(at(6), Event::Closed);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn established_treat_as_withdraw_removes_the_earlier_route() {
    let mut s = established();
    let cx = s.context();
    let good = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    s.handle(
        at(3),
        Event::Message(update_bytes(&cx, std::slice::from_ref(&good))),
    );
    assert!(s.adj_rib_in().contains(&good.nlri));
    // D8: first AS is not the peer's: treat-as-withdraw.
    let bad = route("203.0.113.0/24", [10, 0, 0, 2], 65099);
    let actions = s.handle(at(4), Event::Message(update_bytes(&cx, &[bad])));
    let Action::Received(ev) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert!(ev.treat_as_withdraw.is_some());
    assert_eq!(ev.withdrawn, vec![good.nlri]);
    assert!(s.adj_rib_in().is_empty());
    assert_eq!(s.counters().treat_as_withdraw, 1);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_martian_next_hop_is_treated_as_withdraw() {
    let mut c = config();
    c.local_addresses = vec!["10.0.0.1".parse().unwrap()];
    let mut s = established_with(c, &peer_open(90));
    let cx = s.context();
    for nh in [[127, 0, 0, 1], [10, 0, 0, 1], [224, 0, 0, 5]] {
        let r = route("203.0.113.0/24", nh, PEER_AS);
        let actions = s.handle(
            at(3),
            Event::Message(update_bytes(&cx, std::slice::from_ref(&r))),
        );
        let Action::Received(ev) = &actions[1] else {
            panic!()
        };
        // The codec rejects martians itself (treat-as-withdraw); our own address is caught
        // by the session.
        assert_eq!(ev.withdrawn, vec![r.nlri], "{nh:?}");
        assert!(ev.announced.is_empty());
        if nh == [10, 0, 0, 1] {
            assert_eq!(ev.rejected_next_hop, vec![r.nlri]);
        }
    }
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn established_prefix_limit_sends_cease_6_1() {
    let mut c = config();
    c.max_prefixes = Some(2);
    let mut s = established_with(c, &peer_open(90));
    let cx = s.context();
    let routes: Vec<Route> = (1..=3)
        .map(|i| route(&format!("203.0.{i}.0/24"), [10, 0, 0, 2], PEER_AS))
        .collect();
    let actions = s.handle(at(3), Event::Message(update_bytes(&cx, &routes)));
    // Data: AFI 1, SAFI 1, limit 2 (RFC 4486 §4).
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 1, &[0, 1, 1, 0, 0, 0, 2]))
    );
    assert_eq!(s.state(), State::Idle);
    assert!(s.adj_rib_in().is_empty());
}

#[test]
fn established_enhanced_refresh_removes_routes_not_readvertised() {
    let mut s = established();
    let cx = s.context();
    let a = route("203.0.113.0/24", [10, 0, 0, 2], PEER_AS);
    let b = route("203.0.114.0/24", [10, 0, 0, 2], PEER_AS);
    s.handle(
        at(3),
        Event::Message(update_bytes(&cx, &[a.clone(), b.clone()])),
    );
    s.handle(
        at(4),
        Event::Message(rr_bytes(Family::IPV4_UNICAST, RouteRefresh::BORR)),
    );
    s.handle(
        at(4),
        Event::Message(update_bytes(&cx, std::slice::from_ref(&a))),
    );
    let actions = s.handle(
        at(5),
        Event::Message(rr_bytes(Family::IPV4_UNICAST, RouteRefresh::EORR)),
    );
    let Action::Received(ev) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert_eq!(ev.withdrawn, vec![b.nlri]);
    assert_eq!(ev.stale_removed, 1);
    assert!(s.adj_rib_in().contains(&a.nlri) && !s.adj_rib_in().contains(&b.nlri));
}

#[test]
fn established_malformed_update_sends_its_notification() {
    let mut s = established();
    // UPDATE whose Withdrawn Routes Length overruns the message: 3/1.
    let mut b = BytesMut::from(&eor_bytes(Family::IPV4_UNICAST)[..]);
    b[19] = 0;
    b[20] = 50;
    let actions = s.handle(at(3), Event::Message(b.freeze()));
    let n = sent_notification(&actions).unwrap();
    assert_eq!((n.code, n.subcode), (ErrorCode::UPDATE_MESSAGE, 1));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_notification_is_not_answered() {
    let mut s = established();
    let n = Notification::cease(cease::PEER_DECONFIGURED, None);
    let actions = s.handle(at(3), Event::Message(notification_bytes(&n)));
    assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
    assert!(actions.iter().any(|a| matches!(a, Action::SessionDown(d) if d.received == Some(n.clone()) && d.was_established)));
}

#[test]
fn established_collision_lost_sends_cease_6_7() {
    let mut s = established();
    let actions = s.handle(at(3), Event::CollisionLost);
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 7, &[]))
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn established_automatic_stop_sends_cease_6_4_and_restarts() {
    let mut s = established();
    let actions = s.handle(at(3), Event::AutomaticStop { notification: None });
    assert_eq!(
        sent_notification(&actions),
        Some(notif(ErrorCode::CEASE, 4, &[]))
    );
    assert_eq!(s.timer(Timer::IdleHold), Some(at(8)));
}

#[test]
fn established_session_resends_adj_rib_out_after_reestablishment() {
    let mut s = established();
    let r = route("198.51.100.0/24", [10, 0, 0, 1], LOCAL_AS);
    s.handle(at(3), Event::Announce(vec![r.clone()]));
    s.handle(at(4), Event::Closed);
    s.handle(at(9), Event::TimerFired(Timer::IdleHold));
    s.handle(at(9), Event::Connected);
    s.handle(at(10), Event::Message(open_bytes(&peer_open(90))));
    let actions = s.handle(at(11), Event::Message(keepalive()));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(u.announced().collect::<Vec<_>>(), vec![r.nlri]);
}

#[test]
fn add_path_send_sends_every_path_and_without_it_only_one() {
    let mut c = config();
    c.add_path = vec![crate::AddPathConfig {
        family: Family::IPV4_UNICAST,
        send: true,
        receive: false,
    }];
    let mut o = peer_open(90);
    o.capabilities
        .push(Capability::AddPath(vec![bgp_proto::AddPathFamily {
            family: Family::IPV4_UNICAST,
            send: false,
            receive: true,
        }]));
    let paths = |s: &Session| -> Vec<Route> {
        (1..=2)
            .map(|i| {
                let mut r = route("192.0.2.10/32", [10, 0, 0, i], LOCAL_AS);
                r.nlri.path_id = Some(u32::from(i));
                let _ = s;
                r
            })
            .collect()
    };
    let mut s = established_with(c.clone(), &o);
    assert_eq!(
        s.negotiated().unwrap().add_path_send,
        vec![Family::IPV4_UNICAST]
    );
    let actions = s.handle(at(3), Event::Announce(paths(&s)));
    let msgs = sent_messages(&actions, &s.context());
    let n: Vec<Nlri> = msgs
        .iter()
        .flat_map(|m| match m {
            Message::Update(u) => u.announced().collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect();
    // The builder encodes path ids; decoding with the sender's context needs add_path_rx.
    assert_eq!(n.len(), 2, "{msgs:?}");
    // Without ADD-PATH: one path, no path id.
    let mut s = established_with(config(), &peer_open(90));
    let actions = s.handle(at(3), Event::Announce(paths(&s)));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    let ann: Vec<Nlri> = u.announced().collect();
    assert_eq!(
        ann,
        vec![Nlri {
            prefix: "192.0.2.10/32".parse().unwrap(),
            path_id: None
        }]
    );
    assert_eq!(
        u.next_hop(Family::IPV4_UNICAST),
        Some(NextHop::V4("10.0.0.1".parse().unwrap()))
    );
    // Withdrawing path 1 sends path 2 in its place.
    let actions = s.handle(at(4), Event::Withdraw(vec![paths(&s)[0].nlri]));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!()
    };
    assert_eq!(
        u.next_hop(Family::IPV4_UNICAST),
        Some(NextHop::V4("10.0.0.2".parse().unwrap()))
    );
}

// ---- Damping, jitter, determinism -------------------------------------------------------

#[test]
fn damping_doubles_idle_hold_after_each_failure() {
    let mut s = Session::new(config(), 1);
    s.handle(at(0), Event::Start { passive: false });
    let mut now = at(0);
    let mut delays = Vec::new();
    for _ in 0..8 {
        s.handle(now, Event::Connected);
        let hold = s.timer(Timer::Hold).unwrap();
        s.handle(hold, Event::TimerFired(Timer::Hold));
        let idle = s.timer(Timer::IdleHold).unwrap();
        delays.push((idle - hold).as_secs());
        s.handle(idle, Event::TimerFired(Timer::IdleHold));
        now = idle;
    }
    assert_eq!(delays, vec![5, 10, 20, 40, 80, 160, 300, 300]);
    // A manual start forgets the damping.
    s.handle(now, Event::Stop { notification: None });
    s.handle(now, Event::Start { passive: false });
    s.handle(now, Event::Connected);
    let hold = s.timer(Timer::Hold).unwrap();
    s.handle(hold, Event::TimerFired(Timer::Hold));
    assert_eq!((s.timer(Timer::IdleHold).unwrap() - hold).as_secs(), 5);
}

#[test]
fn damping_off_keeps_idle_hold_constant() {
    let mut c = config();
    c.damp_peer_oscillations = false;
    let mut s = open_sent_with(c);
    for i in 0..3u64 {
        let hold = s.timer(Timer::Hold).unwrap();
        s.handle(hold, Event::TimerFired(Timer::Hold));
        let idle = s.timer(Timer::IdleHold).unwrap();
        assert_eq!((idle - hold).as_secs(), 5, "round {i}");
        s.handle(idle, Event::TimerFired(Timer::IdleHold));
        s.handle(idle, Event::Connected);
    }
}

#[test]
fn same_seed_same_actions_different_seed_different_jitter() {
    let run = |seed: u64| {
        let mut s = Session::new(config(), seed);
        let mut all = s.handle(at(0), Event::Start { passive: false });
        for i in 1..20 {
            let d = s.timer(Timer::ConnectRetry).unwrap();
            all.extend(s.handle(d, Event::TimerFired(Timer::ConnectRetry)));
            let _ = i;
        }
        all
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn established_short_notification_closes_without_answering() {
    let mut s = established();
    // 19 + 1 octets, type NOTIFICATION: too short to hold a code and subcode.
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&[0, 20, 3, 6]);
    let actions = s.handle(at(3), Event::Message(Bytes::from(v)));
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Send(_))),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Close));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn damping_is_forgotten_after_a_long_established_period() {
    let mut c = config();
    c.max_idle_hold_time = Duration::from_secs(40);
    let mut s = open_sent_with(c);
    // Two quick failures: 5 s, then 10 s.
    for want in [5, 10] {
        let hold = s.timer(Timer::Hold).unwrap();
        s.handle(hold, Event::TimerFired(Timer::Hold));
        let idle = s.timer(Timer::IdleHold).unwrap();
        assert_eq!((idle - hold).as_secs(), want);
        s.handle(idle, Event::TimerFired(Timer::IdleHold));
        s.handle(idle, Event::Connected);
    }
    // Established for longer than max_idle_hold_time, then a failure: back to 5 s.
    let t = s.timer(Timer::Hold).unwrap() - Duration::from_secs(200);
    s.handle(t, Event::Message(open_bytes(&peer_open(90))));
    s.handle(t, Event::Message(keepalive()));
    assert_eq!(s.state(), State::Established);
    let later = t + Duration::from_secs(60);
    s.handle(later, Event::Closed);
    assert_eq!(
        s.timer(Timer::IdleHold),
        Some(later + Duration::from_secs(5))
    );
}

#[test]
fn handle_timeout_fires_expired_timers_in_deadline_order() {
    let mut s = established();
    let ka = s.timer(Timer::Keepalive).unwrap();
    assert_eq!(s.next_timeout(), Some(ka));
    // Far past every deadline: keepalive first (and re-armed), then the hold timer ends it.
    let actions = s.handle_timeout(at(500));
    assert_eq!(actions[0], Action::Send(keepalive()));
    assert_eq!(
        sent_notification(&actions),
        Some(Notification::hold_timer_expired())
    );
    assert_eq!(s.state(), State::Idle);
    // The IdleHoldTimer was armed from `now` = 500 s, so it is not yet due.
    assert_eq!(s.next_timeout(), Some(at(505)));
}

#[test]
fn extended_next_hop_is_negotiated_only_when_both_sides_offer_it() {
    let mut c = config();
    c.extended_next_hop = vec![Family::IPV4_UNICAST];
    let s = established_with(c.clone(), &peer_open(90));
    assert!(s.negotiated().unwrap().extended_next_hop.is_empty());
    let mut o = peer_open(90);
    o.capabilities.push(Capability::ExtendedNextHop(vec![
        bgp_proto::ExtendedNextHopEntry {
            nlri: Family::IPV4_UNICAST,
            next_hop_afi: bgp_proto::Afi::IPV6,
        },
    ]));
    let mut s = established_with(c, &o);
    assert_eq!(
        s.negotiated().unwrap().extended_next_hop,
        vec![Family::IPV4_UNICAST]
    );
    assert!(s.context().extended_next_hop.contains(Family::IPV4_UNICAST));
    // An IPv4 prefix with an IPv6 next hop goes out in MP_REACH_NLRI.
    let r = Route {
        nlri: Nlri {
            prefix: "192.0.2.10/32".parse().unwrap(),
            path_id: None,
        },
        next_hop: NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        },
        attrs: attrs(LOCAL_AS),
    };
    let actions = s.handle(at(3), Event::Announce(vec![r.clone()]));
    let msgs = sent_messages(&actions, &s.context());
    let Message::Update(u) = &msgs[0] else {
        panic!("{msgs:?}")
    };
    assert_eq!(u.announced().collect::<Vec<_>>(), vec![r.nlri]);
    assert_eq!(u.next_hop(Family::IPV4_UNICAST), Some(r.next_hop));
}

#[test]
fn no_configured_family_means_ipv4_unicast() {
    let mut c = config();
    c.families = vec![];
    let o = local_open(&c);
    assert_eq!(o.families().collect::<Vec<_>>(), vec![Family::IPV4_UNICAST]);
    let s = established_with(c, &peer_open(90));
    assert_eq!(s.negotiated().unwrap().families, vec![Family::IPV4_UNICAST]);
}

#[test]
fn peer_without_multiprotocol_capability_is_ipv4_unicast_only() {
    let mut o = peer_open(90);
    o.capabilities
        .retain(|c| c.code() != CapabilityCode::MULTIPROTOCOL);
    let s = established_with(config(), &o);
    assert_eq!(s.negotiated().unwrap().families, vec![Family::IPV4_UNICAST]);
}

#[test]
fn negotiated_reports_both_sides_capabilities() {
    let mut c = config();
    c.graceful_restart = Some(crate::GracefulRestartConfig::default());
    c.extended_message = true;
    c.hostname = Some("node1".into());
    let mut o = peer_open(90);
    o.capabilities.push(Capability::ExtendedMessage);
    o.capabilities
        .push(Capability::GracefulRestart(bgp_proto::GracefulRestart {
            restart_state: false,
            notification: true,
            restart_time: 120,
            families: vec![bgp_proto::GrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: true,
            }],
        }));
    o.capabilities
        .push(Capability::LongLivedGracefulRestart(vec![
            bgp_proto::LlgrFamily {
                family: Family::IPV4_UNICAST,
                forwarding: false,
                stale_time: 3600,
            },
        ]));
    o.capabilities.push(Capability::Fqdn {
        hostname: "tor-a".into(),
        domain: "example".into(),
    });
    let s = established_with(c, &o);
    let n = s.negotiated().unwrap();
    assert!(n.extended_message);
    assert_eq!(n.max_message_len, 65535);
    assert_eq!(n.local_graceful_restart.as_ref().unwrap().restart_time, 120);
    assert!(n.peer_graceful_restart.as_ref().unwrap().notification);
    assert_eq!(n.peer_llgr.as_ref().unwrap()[0].stale_time, 3600);
    assert_eq!(n.peer_hostname.as_deref(), Some("tor-a"));
    assert_eq!(n.peer_domain.as_deref(), Some("example"));
    let ours = local_open(s.config());
    assert!(ours.has(CapabilityCode::FQDN) && ours.has(CapabilityCode::GRACEFUL_RESTART));
}

#[test]
fn huge_configured_times_do_not_panic() {
    let mut c = config();
    c.connect_retry = Duration::MAX;
    c.open_hold_time = Duration::MAX;
    c.idle_hold_time = Duration::MAX;
    c.max_idle_hold_time = Duration::MAX;
    c.send_hold_time = Some(Duration::MAX);
    c.delay_open = Some(Duration::MAX);
    let mut s = Session::new(c, 3);
    s.handle(at(0), Event::Start { passive: false });
    s.handle(at(0), Event::Connected);
    s.handle(at(1), Event::Message(open_bytes(&peer_open(90))));
    s.handle(at(1), Event::SendBlocked);
    s.handle(at(2), Event::Message(keepalive()));
    s.handle(at(3), Event::Closed);
    assert_eq!(s.state(), State::Idle);
    s.handle_timeout(at(1_000_000));
}

/// `cargo test -p bgp-fsm --release -- --ignored announce_100k` prints the time.
#[test]
#[ignore]
fn announce_100k_routes_is_fast() {
    let mut s = established();
    let attrs = attrs(LOCAL_AS);
    let routes: Vec<Route> = (0..100_000u32)
        .map(|i| Route {
            nlri: Nlri {
                prefix: ipnet::IpNet::V4(
                    ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap(),
                ),
                path_id: None,
            },
            next_hop: NextHop::V4("192.0.2.1".parse().unwrap()),
            attrs: attrs.clone(),
        })
        .collect();
    let start = std::time::Instant::now();
    let actions = s.handle(at(3), Event::Announce(routes));
    let took = start.elapsed();
    let msgs = sent_messages(&actions, &s.context());
    println!("100k routes: {} UPDATEs in {took:?}", msgs.len());
    assert!(msgs.len() < 200);
    assert!(took < Duration::from_secs(5));
}

/// Issue 17 item 4, RFC 7911 §4: an ADD-PATH capability with a Send/Receive value other
/// than 1-3 "SHOULD be treated as not understood and ignored": the OPEN is accepted (it was
/// refused with 2/0) and no ADD-PATH is negotiated.
#[test]
fn open_sent_add_path_send_receive_4_is_ignored_not_refused() {
    let mut c = config();
    c.add_path = vec![crate::AddPathConfig::send_and_receive(Family::IPV4_UNICAST)];
    let mut s = open_sent_with(c);
    let mut o = peer_open(90);
    o.capabilities.push(Capability::Unknown {
        code: bgp_proto::CapabilityCode::ADD_PATH,
        data: Bytes::from_static(&[0x00, 0x01, 0x01, 0x04]),
    });
    let bytes = open_bytes(&o);
    // The wire form decodes to the same unknown capability (bgp-proto's rule).
    let actions = s.handle(at(1), Event::Message(bytes));
    assert_eq!(s.state(), State::OpenConfirm, "{actions:?}");
    assert_eq!(sent_notification(&actions), None);
    let n = s.negotiated().unwrap();
    assert!(n.add_path_send.is_empty() && n.add_path_receive.is_empty());
}
