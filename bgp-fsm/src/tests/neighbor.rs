//! Scripted tests of the [`Neighbor`]: connection policy and collision detection
//! (RFC 4271 §6.8), state by state of the current session, named
//! `<state>_<event>_<outcome>`.

use std::net::Ipv4Addr;

use std::time::Duration;

use bgp_proto::{Capability, Message, Notification, Open, SessionContext};

use super::*;
use crate::{Admin, CollisionStep, ConnId, Direction, Neighbor, Output, Refusal};

const IN: Direction = Direction::Inbound;
const OUT: Direction = Direction::Outbound;

/// Our configuration with BGP Identifier `id` (the peer's is 10.0.0.2, [`peer_id`]).
fn config_with_id(id: [u8; 4]) -> SessionConfig {
    let mut c = config();
    c.local_id = Ipv4Addr::from(id);
    c
}

/// Our identifier is lower than the peer's: the peer's connection survives a collision.
const LOWER: [u8; 4] = [10, 0, 0, 1];
/// Our identifier is higher than the peer's: our connection survives.
const HIGHER: [u8; 4] = [10, 0, 0, 9];

/// A started (active) neighbor: it asked for a connection.
fn started(id: [u8; 4]) -> Neighbor {
    let mut n = Neighbor::new(config_with_id(id), 1, Admin::Enabled);
    let out = n.start(at(0));
    assert!(out.contains(&Output::Connect), "{out:?}");
    assert_eq!(n.session().state(), State::Connect);
    n
}

fn connect(n: &mut Neighbor, direction: Direction) -> (ConnId, Vec<Output>) {
    n.connected(at(0), direction, Vec::new(), None)
}

/// A neighbor whose current session has the outbound connection in OpenSent.
fn open_sent_out(id: [u8; 4]) -> (Neighbor, ConnId) {
    let mut n = started(id);
    let (out_id, out) = connect(&mut n, OUT);
    assert_eq!(out.first(), Some(&Output::Accepted(out_id, OUT)));
    assert_eq!(n.session().state(), State::OpenSent);
    assert_eq!(n.conn(), Some(out_id));
    (n, out_id)
}

fn peer_open_msg() -> Bytes {
    open_bytes(&peer_open(90))
}

/// The messages sent on `conn` in `out`.
fn sent_on(out: &[Output], conn: ConnId) -> Vec<Message> {
    let actions: Vec<Action> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(c, b) if *c == conn => Some(Action::Send(b.clone())),
            _ => None,
        })
        .collect();
    sent_messages(&actions, &SessionContext::default())
}

fn notification_on(out: &[Output], conn: ConnId) -> Option<Notification> {
    sent_on(out, conn).into_iter().find_map(|m| match m {
        Message::Notification(n) => Some(n),
        _ => None,
    })
}

fn open_on(out: &[Output], conn: ConnId) -> Option<Open> {
    sent_on(out, conn).into_iter().find_map(|m| match m {
        Message::Open(o) => Some(o),
        _ => None,
    })
}

/// The only output for a refused connection.
fn refused(conn: ConnId, notification: Option<Notification>, why: Refusal) -> Vec<Output> {
    vec![Output::Refuse {
        conn,
        notification,
        why,
    }]
}

fn cease_6_7() -> Notification {
    Notification::cease(7, None)
}

fn collision_resolved(out: &[Output]) -> Option<Direction> {
    out.iter().find_map(|o| match o {
        Output::Collision(CollisionStep::Resolved { closed }) => Some(*closed),
        _ => None,
    })
}

#[test]
fn idle_inbound_refused_without_notification() {
    let mut n = Neighbor::new(config(), 1, Admin::Shutdown);
    let (id, out) = connect(&mut n, IN);
    assert_eq!(out, refused(id, None, Refusal::Idle));
    assert_eq!(n.conn(), None);
}

#[test]
fn connect_inbound_taken_as_the_current_connection() {
    let mut n = started(LOWER);
    let (id, out) = connect(&mut n, IN);
    assert_eq!(out[0], Output::StopConnecting { unanswered: false });
    assert_eq!(out[1], Output::Accepted(id, IN));
    assert!(open_on(&out, id).is_some(), "{out:?}");
    assert_eq!(n.conn(), Some(id));
    assert_eq!(n.session().state(), State::OpenSent);
    assert!(n.second_session().is_none());
}

#[test]
fn open_sent_outbound_connected_after_an_inbound_is_surplus() {
    let mut n = started(LOWER);
    let (in_id, _) = connect(&mut n, IN);
    let (out_id, out) = connect(&mut n, OUT);
    assert_eq!(out, refused(out_id, None, Refusal::Surplus));
    assert_eq!(n.conn(), Some(in_id));
}

#[test]
fn open_sent_inbound_runs_a_second_session() {
    let (mut n, out_id) = open_sent_out(LOWER);
    let (in_id, out) = connect(&mut n, IN);
    assert_eq!(out[0], Output::Collision(CollisionStep::Started));
    assert!(
        open_on(&out, in_id).is_some(),
        "the second session sends its OPEN"
    );
    assert_eq!(n.conn(), Some(out_id));
    assert_eq!(
        n.second_session().map(Session::state),
        Some(State::OpenSent)
    );
    assert!(n.holds(in_id) && n.holds(out_id));
}

/// §6.8 with the peer's OPEN already on the current (outbound) connection: OpenConfirm.
/// Our identifier is lower: our outbound connection closes with Cease 6/7 and the peer's
/// becomes the current one.
#[test]
fn open_confirm_inbound_lower_local_id_closes_the_outbound_connection() {
    let (mut n, out_id) = open_sent_out(LOWER);
    let out = n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
    assert_eq!(n.session().state(), State::OpenConfirm);
    assert!(out.contains(&Output::LoadRoutes), "{out:?}");
    let (in_id, out) = connect(&mut n, IN);
    assert_eq!(collision_resolved(&out), Some(OUT));
    assert_eq!(notification_on(&out, out_id), Some(cease_6_7()));
    assert_eq!(notification_on(&out, in_id), None);
    assert!(out.contains(&Output::Abandon(out_id)));
    assert!(
        out.contains(&Output::RoutesReset),
        "the loser's routes are gone"
    );
    assert_eq!(n.conn(), Some(in_id));
    assert!(n.second_session().is_none());
    assert!(!n.holds(out_id));
    // The survivor continues: the peer's OPEN, then routes are loaded for it.
    let out = n.handle_conn(at(1), in_id, Event::Message(peer_open_msg()));
    assert_eq!(n.session().state(), State::OpenConfirm);
    assert!(out.contains(&Output::LoadRoutes), "{out:?}");
    let out = n.handle_conn(at(2), in_id, Event::Message(keepalive()));
    assert!(matches!(out.first(), Some(Output::SessionUp(_))), "{out:?}");
}

/// The same with our identifier higher: the peer's (inbound) connection closes with Cease
/// 6/7 and ours stays current, routes loaded once.
#[test]
fn open_confirm_inbound_higher_local_id_closes_the_inbound_connection() {
    let (mut n, out_id) = open_sent_out(HIGHER);
    n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
    let (in_id, out) = connect(&mut n, IN);
    assert_eq!(collision_resolved(&out), Some(IN));
    assert_eq!(notification_on(&out, in_id), Some(cease_6_7()));
    assert!(out.contains(&Output::Abandon(in_id)));
    assert!(!out.contains(&Output::RoutesReset));
    assert!(!out.contains(&Output::LoadRoutes), "already loaded");
    assert_eq!(n.conn(), Some(out_id));
    assert_eq!(n.session().state(), State::OpenConfirm);
    // Events of the closed connection are ignored.
    assert!(n
        .handle_conn(at(1), in_id, Event::Message(peer_open_msg()))
        .is_empty());
}

/// OpenSent without the remote OPEN on either connection: nothing is known, both wait.
/// The OPEN then arrives on the second (inbound) connection: resolved there.
#[test]
fn open_sent_without_remote_open_waits_then_resolves_on_the_inbound_open() {
    for (id, closed) in [(LOWER, OUT), (HIGHER, IN)] {
        let (mut n, out_id) = open_sent_out(id);
        let (in_id, out) = connect(&mut n, IN);
        assert_eq!(collision_resolved(&out), None);
        assert!(n.second_session().is_some());
        let out = n.handle_conn(at(1), in_id, Event::Message(peer_open_msg()));
        assert_eq!(collision_resolved(&out), Some(closed), "{out:?}");
        let (lost, kept) = if closed == OUT {
            (out_id, in_id)
        } else {
            (in_id, out_id)
        };
        assert_eq!(notification_on(&out, lost), Some(cease_6_7()));
        assert_eq!(notification_on(&out, kept), None);
        assert_eq!(n.conn(), Some(kept));
        assert!(n.second_session().is_none());
        // No routes before the survivor has the peer's OPEN.
        let loaded = out.contains(&Output::LoadRoutes);
        assert_eq!(loaded, n.session().state() == State::OpenConfirm);
    }
}

/// OpenSent with the remote OPEN arriving on the current (outbound) connection while the
/// second waits.
#[test]
fn open_sent_with_remote_open_on_the_outbound_connection_resolves() {
    for (id, closed) in [(LOWER, OUT), (HIGHER, IN)] {
        let (mut n, out_id) = open_sent_out(id);
        let (in_id, _) = connect(&mut n, IN);
        let out = n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
        assert_eq!(collision_resolved(&out), Some(closed), "{out:?}");
        let lost = if closed == OUT { out_id } else { in_id };
        assert_eq!(notification_on(&out, lost), Some(cease_6_7()));
        assert!(out.contains(&Output::Abandon(lost)));
        assert!(!n.holds(lost));
    }
}

/// §6.8, last paragraph: a new connection while Established is refused with 6/7, and the
/// session is untouched.
#[test]
fn established_inbound_refused_with_cease_6_7() {
    let (mut n, out_id) = open_sent_out(LOWER);
    n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
    n.handle_conn(at(2), out_id, Event::Message(keepalive()));
    assert_eq!(n.session().state(), State::Established);
    let (in_id, out) = connect(&mut n, IN);
    assert_eq!(out, refused(in_id, Some(cease_6_7()), Refusal::Established));
    assert_eq!(n.conn(), Some(out_id));
    assert_eq!(n.session().state(), State::Established);
}

#[test]
fn open_sent_third_connection_refused_with_cease_6_7() {
    let (mut n, _) = open_sent_out(LOWER);
    connect(&mut n, IN);
    let (third, out) = connect(&mut n, IN);
    assert_eq!(
        out,
        refused(third, Some(cease_6_7()), Refusal::ThirdConnection)
    );
}

/// Issue 17 item 3: two inbound connections are no collision. The older sits in OpenSent
/// without an OPEN (half-open); the newer completes its OPEN and replaces it, with no
/// Cease 6/7 on either, whatever the identifiers.
#[test]
fn open_sent_two_inbound_the_newer_with_open_replaces_the_half_open_one() {
    for id in [LOWER, HIGHER] {
        let mut n = started(id);
        let (old, _) = connect(&mut n, IN);
        let (new, out) = connect(&mut n, IN);
        assert_eq!(out[0], Output::Collision(CollisionStep::Started));
        let out = n.handle_conn(at(1), new, Event::Message(peer_open_msg()));
        assert!(
            out.contains(&Output::Collision(CollisionStep::Replaced)),
            "{out:?}"
        );
        assert_eq!(collision_resolved(&out), None);
        assert!(out.contains(&Output::Abandon(old)));
        assert_eq!(notification_on(&out, old), None, "no 6/7");
        assert_eq!(notification_on(&out, new), None);
        assert!(out.contains(&Output::LoadRoutes));
        assert_eq!(n.conn(), Some(new));
        assert_eq!(n.session().state(), State::OpenConfirm);
        let out = n.handle_conn(at(2), new, Event::Message(keepalive()));
        assert!(matches!(out.first(), Some(Output::SessionUp(_))), "{out:?}");
    }
}

/// The second connection fails on its own: it is forgotten, the current one goes on.
#[test]
fn open_sent_second_connection_closed_is_forgotten() {
    let (mut n, out_id) = open_sent_out(LOWER);
    let (in_id, _) = connect(&mut n, IN);
    let out = n.handle_conn(at(1), in_id, Event::Closed);
    assert!(out
        .iter()
        .all(|o| !matches!(o, Output::SessionDown { current: true, .. })));
    assert!(n.second_session().is_none());
    assert_eq!(n.conn(), Some(out_id));
    assert_eq!(n.session().state(), State::OpenSent);
}

/// Issue 17 item 2, RFC 4271 §8.1.1: after the peer's inbound connection won the collision,
/// an active peer still connects out once that session fails.
#[test]
fn established_after_inbound_win_closed_connects_out_again() {
    let (mut n, out_id) = open_sent_out(LOWER);
    let (in_id, _) = connect(&mut n, IN);
    let out = n.handle_conn(at(1), in_id, Event::Message(peer_open_msg()));
    assert_eq!(collision_resolved(&out), Some(OUT));
    assert!(!n.holds(out_id));
    n.handle_conn(at(2), in_id, Event::Message(keepalive()));
    assert_eq!(n.session().state(), State::Established);
    let out = n.handle_conn(at(10), in_id, Event::Closed);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::SessionDown { current: true, .. })));
    let mut connected_out = false;
    for secs in 11..40 {
        connected_out |= n.handle_timeout(at(secs)).contains(&Output::Connect);
    }
    assert!(connected_out, "stayed in {:?}", n.session().state());
}

/// Routes are loaded at OpenConfirm, withdrawn from the Adj-RIB-Out when the session goes
/// down, and loaded again for the next session.
#[test]
fn established_closed_withdraws_routes_and_loads_them_again_next_time() {
    let (mut n, out_id) = open_sent_out(HIGHER);
    let out = n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
    assert!(out.contains(&Output::LoadRoutes));
    n.handle(
        at(1),
        Event::Announce(vec![route("192.0.2.0/24", [10, 0, 0, 1], 1)]),
    );
    assert_eq!(n.session().adj_rib_out().len(), 1);
    n.handle_conn(at(2), out_id, Event::Message(keepalive()));
    let out = n.handle_conn(at(3), out_id, Event::Closed);
    assert!(out.contains(&Output::RoutesReset), "{out:?}");
    assert!(n.session().adj_rib_out().is_empty());
    // The next session: connect, OPEN, routes again.
    let mut next = None;
    for secs in 4..40 {
        if n.handle_timeout(at(secs)).contains(&Output::Connect) {
            next = Some(connect(&mut n, OUT).0);
            break;
        }
    }
    let next = next.expect("connected out again");
    let out = n.handle_conn(at(40), next, Event::Message(peer_open_msg()));
    assert!(out.contains(&Output::LoadRoutes), "{out:?}");
}

/// RFC 4724 §4.1: the R bit is set only until a session was Established; a second session
/// started after that does not set it either.
#[test]
fn open_sent_after_a_restart_second_session_has_no_r_bit() {
    let mut c = config_with_id(LOWER);
    c.graceful_restart = Some(crate::GracefulRestartConfig {
        restarting: true,
        ..Default::default()
    });
    let mut n = Neighbor::new(c, 1, Admin::Enabled);
    n.start(at(0));
    let r_bit = |o: &Open| {
        o.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(g) => Some(g.restart_state),
            _ => None,
        })
    };
    let (first, out) = connect(&mut n, OUT);
    assert_eq!(open_on(&out, first).as_ref().and_then(r_bit), Some(true));
    n.handle_conn(at(1), first, Event::Message(peer_open_msg()));
    n.handle_conn(at(2), first, Event::Message(keepalive()));
    assert_eq!(n.session().state(), State::Established);
    n.handle_conn(at(3), first, Event::Closed);
    let mut connected = None;
    for secs in 4..40 {
        if n.handle_timeout(at(secs)).contains(&Output::Connect) {
            connected = Some(connect(&mut n, OUT));
            break;
        }
    }
    let (again, out) = connected.expect("connected out again");
    assert_eq!(open_on(&out, again).as_ref().and_then(r_bit), Some(false));
    let (inbound, out) = connect(&mut n, IN);
    assert_eq!(open_on(&out, inbound).as_ref().and_then(r_bit), Some(false));
}

/// An operator shutdown refuses connections until enabled; enable starts again.
#[test]
fn established_shutdown_sends_the_notification_and_refuses_until_enabled() {
    let (mut n, out_id) = open_sent_out(LOWER);
    n.handle_conn(at(1), out_id, Event::Message(peer_open_msg()));
    n.handle_conn(at(2), out_id, Event::Message(keepalive()));
    let out = n.shutdown(at(3), Notification::cease(2, None));
    assert_eq!(
        notification_on(&out, out_id),
        Some(Notification::cease(2, None))
    );
    assert!(out.contains(&Output::Close(out_id)));
    assert!(n.is_admin_down());
    let (id, out) = connect(&mut n, IN);
    assert_eq!(out, refused(id, None, Refusal::Idle));
    for secs in 4..60 {
        assert!(!n.handle_timeout(at(secs)).contains(&Output::Connect));
    }
    assert!(n.enable(at(60)).contains(&Output::Connect));
    assert!(n.enable(at(60)).is_empty(), "enable twice starts once");
}

/// A stop during a collision stops both connections.
#[test]
fn open_sent_stop_closes_both_connections() {
    let (mut n, out_id) = open_sent_out(LOWER);
    let (in_id, _) = connect(&mut n, IN);
    let out = n.stop(at(1), Notification::cease(3, None));
    for id in [in_id, out_id] {
        assert_eq!(
            notification_on(&out, id),
            Some(Notification::cease(3, None))
        );
        assert!(!n.holds(id));
    }
    assert_eq!(n.session().state(), State::Idle);
}

/// Property: whatever connections come and go and whatever arrives on them, the neighbor
/// holds at most two connections, never writes to one it closed, closes (or leaves to the
/// driver's `Closed`) every connection it lets go, sends Cease 6/7 only on a connection it
/// drops, and asks for routes once per session.
mod prop {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Connected(bool),
        Open(usize),
        Keepalive(usize),
        Cease(usize),
        Closed(usize),
        Wait(u64),
        Stop,
        Start,
        Reset,
        Shutdown,
        Enable,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => any::<bool>().prop_map(Step::Connected),
            3 => (0usize..4).prop_map(Step::Open),
            2 => (0usize..4).prop_map(Step::Keepalive),
            1 => (0usize..4).prop_map(Step::Cease),
            2 => (0usize..4).prop_map(Step::Closed),
            2 => (0u64..40).prop_map(Step::Wait),
            1 => Just(Step::Stop),
            1 => Just(Step::Start),
            1 => Just(Step::Reset),
            1 => Just(Step::Shutdown),
            1 => Just(Step::Enable),
        ]
    }

    /// The driver's view: the connections it has open, and whether routes are loaded.
    #[derive(Default)]
    struct Driver {
        open: BTreeSet<ConnId>,
        loaded: bool,
    }

    impl Driver {
        fn check(&mut self, n: &Neighbor, out: &[Output]) -> Result<(), TestCaseError> {
            let dropped: BTreeSet<ConnId> = out
                .iter()
                .filter_map(|o| match o {
                    Output::Abandon(c) | Output::Refuse { conn: c, .. } => Some(*c),
                    _ => None,
                })
                .collect();
            for o in out {
                match o {
                    Output::Send(c, _) => {
                        prop_assert!(self.open.contains(c), "send on closed {c:?}: {out:?}");
                        if notification_on(std::slice::from_ref(o), *c) == Some(cease_6_7()) {
                            prop_assert!(dropped.contains(c), "6/7 on a kept connection");
                        }
                    }
                    Output::Close(c) | Output::Abandon(c) => {
                        prop_assert!(self.open.remove(c), "closed twice {c:?}: {out:?}");
                    }
                    Output::Refuse { conn, .. } => {
                        prop_assert!(self.open.remove(conn), "refused twice");
                    }
                    Output::LoadRoutes => {
                        prop_assert!(!self.loaded, "routes asked twice: {out:?}");
                        self.loaded = true;
                    }
                    Output::RoutesReset => self.loaded = false,
                    _ => {}
                }
            }
            let held: BTreeSet<ConnId> =
                self.open.iter().copied().filter(|&c| n.holds(c)).collect();
            prop_assert_eq!(&held, &self.open, "a connection was let go without a close");
            prop_assert!(held.len() <= 2);
            prop_assert_eq!(
                held.len(),
                usize::from(n.conn().is_some()) + usize::from(n.second_session().is_some())
            );
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn neighbor_any_connections_and_messages_keep_the_invariants(
            higher in any::<bool>(),
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            let id = if higher { HIGHER } else { LOWER };
            let mut n = Neighbor::new(config_with_id(id), 7, Admin::Enabled);
            let mut d = Driver::default();
            let mut now = at(0);
            let out = n.start(now);
            d.check(&n, &out)?;
            for s in steps {
                // Events go to a connection the driver has open.
                let conn = |d: &Driver, i: usize| d.open.iter().nth(i % d.open.len().max(1)).copied();
                let out = match s {
                    Step::Connected(inbound) => {
                        let dir = if inbound { IN } else { OUT };
                        let (c, out) = n.connected(now, dir, Vec::new(), None);
                        d.open.insert(c);
                        out
                    }
                    Step::Open(i) | Step::Keepalive(i) | Step::Cease(i) | Step::Closed(i) => {
                        let Some(c) = conn(&d, i) else { continue };
                        let event = match s {
                            Step::Open(_) => Event::Message(peer_open_msg()),
                            Step::Keepalive(_) => Event::Message(keepalive()),
                            Step::Cease(_) => Event::Message(notification_bytes(&Notification::cease(4, None))),
                            _ => {
                                d.open.remove(&c);
                                Event::Closed
                            }
                        };
                        n.handle_conn(now, c, event)
                    }
                    Step::Wait(secs) => {
                        now += Duration::from_secs(secs);
                        n.handle_timeout(now)
                    }
                    Step::Stop => n.stop(now, Notification::cease(2, None)),
                    Step::Start => n.start(now),
                    Step::Reset => n.reset(now, Notification::cease(4, None)),
                    Step::Shutdown => n.shutdown(now, Notification::cease(2, None)),
                    Step::Enable => n.enable(now),
                };
                d.check(&n, &out)?;
            }
        }
    }
}
