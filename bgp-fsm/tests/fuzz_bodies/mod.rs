//! The body of the `fsm_events` fuzz target (`fuzz/fuzz_targets/fsm_events.rs`), shared with
//! the stable smoke test `bgp-fsm/tests/fuzz_smoke.rs` (STYLE.md §6, fuzz target 3:
//! "arbitrary event sequences and negotiated parameters into a `Session`").
//!
//! The input is read as a little program:
//!
//! - the first octets choose the session configuration (AS numbers, iBGP/eBGP, hold time,
//!   families, ADD-PATH, Graceful Restart, Extended Message, DelayOpen, passive, prefix
//!   limit, route refresh);
//! - every following octet is one operation (`op % OPS`), some with argument octets:
//!   Start, Stop, AutomaticStop, Connected, Closed, ConnectFailed, TimerFired, advancing
//!   the virtual clock, delivering the peer's next message (as is, mutated, or truncated),
//!   injecting raw bytes as a message, a framing error, Announce, Withdraw, RequestRefresh,
//!   SendBlocked/SendProgress, CollisionLost, and delivering our messages to the peer.
//!
//! The peer is a second `Session` with a matching configuration, so valid OPEN, KEEPALIVE,
//! UPDATE and ROUTE-REFRESH messages come from real code and the session under test reaches
//! Established; mutations then go deep. The clock only moves forward.
//!
//! Checked after every event (each a panic, so the fuzzer reports it):
//! - no panic inside `Session::handle` (the main property);
//! - negotiated parameters exist exactly in OpenConfirm and Established;
//! - `SessionUp` only when the session ends the call Established;
//! - every `StartTimer` deadline is not in the past;
//! - every byte we send frames as whole, well-formed messages (RFC 4271 §4.1), and an UPDATE
//!   only leaves in Established (RFC 4271 §9.2);
//! - a NOTIFICATION we send is followed by `Close` in the same batch (RFC 4271 §6: "the BGP
//!   connection is closed immediately after it is sent");
//! - outside Established the Adj-RIB-In only holds routes kept stale for Graceful Restart;
//! - the peer (which decodes exactly what we send) never answers with a Message Header, OPEN
//!   or UPDATE error (codes 1-3) on a connection where it only ever heard its own messages
//!   delivered intact: we never send a malformed message;
//! - the same input with the same seed gives the same actions (determinism, STYLE.md §2).
#![allow(dead_code, clippy::indexing_slicing, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_fsm::{
    Action, AddPathConfig, Event, GracefulRestartConfig, Session, SessionConfig, State, Timer,
};
use bgp_proto::{
    frame_len, AsPath, AsSegment, AsSegmentType, Family, HeaderError, MessageType, NextHop, Nlri,
    PathAttributes,
};
use bytes::Bytes;

/// Number of distinct operations.
const OPS: u8 = 24;
/// Cap on operations per input, so one input stays fast.
const MAX_OPS: usize = 400;

/// Runs one input twice (same seed) and checks both runs gave the same actions.
pub fn session_events(data: &[u8]) {
    let t0 = Instant::now();
    let first = run(data, t0);
    let second = run(data, t0);
    assert_eq!(
        first, second,
        "same input and seed must give the same actions"
    );
}

/// How many times one run of `data` reached Established (for the smoke test's sanity check
/// that the scripted seeds are meaningful).
pub fn established_count(data: &[u8]) -> usize {
    run(data, Instant::now())
        .iter()
        .filter(|t| matches!(t, Step::Act(Action::SessionUp(_))))
        .count()
}

/// The action fingerprint of one run (for failure messages).
pub fn trace(data: &[u8]) -> Vec<String> {
    run(data, Instant::now())
        .iter()
        .map(|t| format!("{t:?}"))
        .collect()
}

/// A fingerprint of every action, for the determinism check (deadlines as offsets).
type Trace = Vec<Step>;

/// One entry of the determinism trace: every action, and the state after each event.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Act(Action),
    State(State),
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}

/// One TCP connection between the session under test and the peer.
struct Wire {
    peer: Session,
    /// Bytes the session under test sent, not yet delivered to the peer.
    to_peer: Vec<u8>,
    /// Whole messages the peer sent, not yet delivered to the session under test.
    to_us: VecDeque<Bytes>,
    /// Something other than the peer's own messages reached the session under test on this
    /// connection (a mutated, truncated or raw message): the two ends may now disagree about
    /// what was negotiated, so the peer rejecting our messages proves nothing.
    tainted: bool,
}

/// `FSM_FUZZ_DEBUG=1` prints every event, our actions and what the peer saw.
fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FSM_FUZZ_DEBUG").is_some())
}

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn configs(inp: &mut Input<'_>) -> (SessionConfig, SessionConfig) {
    let flags = inp.byte();
    let flags2 = inp.byte();
    let local_asn = if flags & 1 != 0 { 4_200_000_001 } else { 64512 };
    let peer_asn = if flags & 2 != 0 {
        local_asn
    } else if flags & 4 != 0 {
        4_200_000_002
    } else {
        64500
    };
    let hold = [0u16, 3, 9, 90][usize::from((flags >> 3) & 3)];
    let peer_hold = [0u16, 3, 30, 180][usize::from((flags >> 5) & 3)];
    let mut families = vec![Family::IPV4_UNICAST];
    if flags & 0x80 != 0 {
        families.push(Family::IPV6_UNICAST);
    }
    let mut ours = SessionConfig::new(local_asn, peer_asn, LOCAL_ID);
    ours.hold_time = hold;
    ours.families = families.clone();
    ours.extended_message = flags2 & 1 != 0;
    ours.passive = flags2 & 2 != 0;
    if flags2 & 4 != 0 {
        ours.add_path = families
            .iter()
            .map(|&family| AddPathConfig::send_and_receive(family))
            .collect();
    }
    if flags2 & 8 != 0 {
        ours.graceful_restart = Some(GracefulRestartConfig {
            restart_time: 5,
            notification: flags2 & 0x40 != 0,
            // Restarting with End-of-RIB held back (RFC 4724 §4.1) when the N bit is off.
            restarting: flags2 & 0x40 == 0,
            end_of_rib_deferral: (flags2 & 0x40 == 0).then(|| Duration::from_secs(3)),
            ..GracefulRestartConfig::default()
        });
    }
    if flags2 & 0x10 != 0 {
        ours.delay_open = Some(Duration::from_secs(2));
    }
    if flags2 & 0x20 != 0 {
        ours.max_prefixes = Some(3);
    }
    ours.route_refresh = flags2 & 0x80 == 0;
    ours.enhanced_route_refresh = ours.route_refresh;
    ours.open_hold_time = Duration::from_secs(20);
    ours.idle_hold_time = Duration::from_secs(1);
    ours.max_idle_hold_time = Duration::from_secs(8);
    ours.connect_retry = Duration::from_secs(2);

    let mut peer = SessionConfig::new(peer_asn, local_asn, PEER_ID);
    peer.hold_time = peer_hold;
    peer.families = families.clone();
    peer.extended_message = true;
    peer.add_path = ours.add_path.clone();
    peer.graceful_restart = Some(GracefulRestartConfig {
        restart_time: 3,
        notification: true,
        ..GracefulRestartConfig::default()
    });
    peer.route_refresh = true;
    peer.enhanced_route_refresh = true;
    // The peer never restarts by itself: each wire gets a fresh peer session.
    peer.auto_restart = false;
    (ours, peer)
}

fn route(inp: &mut Input<'_>, asn: u32) -> bgp_fsm::Route {
    let b = inp.byte();
    let v6 = b & 0x80 != 0;
    let len = inp.byte();
    let (prefix, next_hop) = if v6 {
        let p = Ipv6Addr::new(0x2001, 0xdb8, u16::from(b), 0, 0, 0, 0, 0);
        let plen = 32 + len % 97;
        let net = ipnet::Ipv6Net::new(p, plen).unwrap().trunc();
        (
            ipnet::IpNet::V6(net),
            NextHop::V6 {
                global: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1),
                link_local: None,
            },
        )
    } else {
        let p = Ipv4Addr::new(10, b, len, 0);
        let plen = 8 + len % 25;
        let net = ipnet::Ipv4Net::new(p, plen).unwrap().trunc();
        (
            ipnet::IpNet::V4(net),
            NextHop::V4(Ipv4Addr::new(198, 51, 100, 1)),
        )
    };
    let path_id = if len & 0x40 != 0 {
        Some(u32::from(len))
    } else {
        None
    };
    bgp_fsm::Route {
        nlri: Nlri { prefix, path_id },
        next_hop,
        attrs: Arc::new(PathAttributes {
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: AsSegmentType::Sequence,
                    asns: vec![asn],
                }],
            },
            med: (b & 1 != 0).then_some(u32::from(len)),
            ..PathAttributes::default()
        }),
    }
}

fn timer(b: u8) -> Timer {
    Timer::ALL[usize::from(b) % Timer::ALL.len()]
}

/// Splits `bytes` (what one side sent) into whole messages; panics on a framing error: we
/// must never send one.
fn frames(buf: &mut Vec<u8>) -> Vec<Bytes> {
    let mut out = Vec::new();
    loop {
        match frame_len(buf, bgp_proto::MAX_EXTENDED_MESSAGE_LEN) {
            Ok(Some(len)) => {
                out.push(Bytes::copy_from_slice(&buf[..len]));
                buf.drain(..len);
            }
            Ok(None) => return out,
            Err(e) => panic!("sent bytes do not frame: {e} ({buf:02x?})"),
        }
    }
}

fn run(data: &[u8], t0: Instant) -> Trace {
    let mut inp = Input { data, pos: 0 };
    let (ours, peer_cfg) = configs(&mut inp);
    let local_asn = ours.local_asn;
    let peer_asn = ours.peer_asn;
    let seed = u64::from(inp.byte());
    let mut session = Session::new(ours, seed);
    let mut now = t0;
    let mut wire: Option<Wire> = None;
    let mut trace = Trace::new();
    let mut ops = 0;

    while !inp.done() && ops < MAX_OPS {
        ops += 1;
        let op = inp.byte() % OPS;
        let event = match op {
            0 => Event::Start {
                passive: inp.byte() & 1 != 0,
            },
            1 => Event::Stop { notification: None },
            2 => Event::AutomaticStop { notification: None },
            3 | 4 => {
                // The TCP connection comes up (a fresh peer session on it).
                if wire.is_none() {
                    let mut peer = Session::new(peer_cfg.clone(), 99);
                    let mut acts = peer.handle(now, Event::Start { passive: true });
                    acts.extend(peer.handle(now, Event::Connected));
                    let mut w = Wire {
                        peer,
                        to_peer: Vec::new(),
                        to_us: VecDeque::new(),
                        tainted: false,
                    };
                    if peer_side(&mut w, acts) {
                        wire = Some(w);
                    }
                }
                Event::Connected
            }
            5 => {
                wire = None;
                Event::Closed
            }
            6 => Event::ConnectFailed,
            7 => Event::TimerFired(timer(inp.byte())),
            8 => {
                // Advance the clock, then fire whatever expired (both ends).
                let b = inp.byte();
                let step = match b >> 6 {
                    0 => Duration::from_millis(u64::from(b & 63) * 10),
                    1 => Duration::from_secs(u64::from(b & 63)),
                    2 => Duration::from_secs(u64::from(b & 63) * 10),
                    _ => Duration::from_secs(300),
                };
                now += step;
                let acts = session.handle_timeout(now);
                check(&session, now, &acts, &mut trace, t0, "timeout");
                to_wire(&mut wire, &acts);
                if let Some(w) = wire.as_mut() {
                    let pacts = w.peer.handle_timeout(now);
                    if !peer_side(w, pacts) {
                        wire = None;
                        let acts = session.handle(now, Event::Closed);
                        check(&session, now, &acts, &mut trace, t0, "closed");
                    }
                }
                continue;
            }
            9 => {
                // Jump straight to the session's next deadline and fire it.
                if let Some(at) = session.next_timeout() {
                    if at > now {
                        now = at;
                    }
                }
                let acts = session.handle_timeout(now);
                check(&session, now, &acts, &mut trace, t0, "deadline");
                to_wire(&mut wire, &acts);
                continue;
            }
            10..=12 => {
                // The peer's next message, as is.
                match wire.as_mut().and_then(|w| w.to_us.pop_front()) {
                    Some(m) => Event::Message(m),
                    None => continue,
                }
            }
            13 => {
                // The peer's next message, mutated: one octet set at a chosen offset.
                let Some(m) = wire.as_mut().and_then(|w| w.to_us.pop_front()) else {
                    continue;
                };
                taint(&mut wire);
                let mut v = m.to_vec();
                let at = usize::from(inp.u16()) % v.len().max(1);
                let val = inp.byte();
                if let Some(x) = v.get_mut(at) {
                    *x = val;
                }
                Event::Message(Bytes::from(v))
            }
            14 => {
                // The peer's next message, truncated or extended with input bytes, with
                // the header length fixed up (framing would catch a wrong one).
                let Some(m) = wire.as_mut().and_then(|w| w.to_us.pop_front()) else {
                    continue;
                };
                taint(&mut wire);
                let mut v = m.to_vec();
                let cut = usize::from(inp.byte());
                let extra = usize::from(inp.byte() % 32);
                v.truncate(v.len().saturating_sub(cut % 8).max(19));
                v.extend_from_slice(inp.take(extra));
                let len = (v.len() as u16).to_be_bytes();
                v[16] = len[0];
                v[17] = len[1];
                Event::Message(Bytes::from(v))
            }
            15 => {
                // Raw bytes behind a valid marker, type and length: a framed message whose
                // body is anything.
                taint(&mut wire);
                let kind = 1 + inp.byte() % 5;
                let n = usize::from(inp.byte());
                let body = inp.take(n).to_vec();
                let mut v = vec![0xff; 16];
                v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
                v.push(kind);
                v.extend_from_slice(&body);
                Event::Message(Bytes::from(v))
            }
            16 => Event::HeaderError(match inp.byte() % 3 {
                0 => HeaderError::ConnectionNotSynchronized,
                1 => HeaderError::BadLength(inp.u16()),
                _ => HeaderError::BadType(inp.byte()),
            }),
            17 => {
                let n = 1 + usize::from(inp.byte() % 4);
                let routes: Vec<bgp_fsm::Route> =
                    (0..n).map(|_| route(&mut inp, local_asn)).collect();
                match routes.first() {
                    // Four routes: as NLRI sharing the first one's path (AnnounceShared).
                    Some(first) if n == 4 => Event::AnnounceShared {
                        next_hop: first.next_hop,
                        attrs: first.attrs.clone(),
                        nlri: routes.iter().map(|r| r.nlri).collect(),
                    },
                    _ => Event::Announce(routes),
                }
            }
            18 => {
                let r = route(&mut inp, local_asn);
                // A withdrawal of a /8 route stands for withdrawing everything.
                if r.nlri.prefix.prefix_len() == 8 {
                    Event::WithdrawAll
                } else {
                    Event::Withdraw(vec![r.nlri])
                }
            }
            19 => {
                let family = if inp.byte() & 1 != 0 {
                    Family::IPV6_UNICAST
                } else {
                    Family::IPV4_UNICAST
                };
                if inp.byte() & 1 != 0 {
                    Event::ResendRoutes(family)
                } else {
                    Event::RequestRefresh(family)
                }
            }
            20 => {
                if inp.byte() & 1 != 0 {
                    Event::SendBlocked
                } else {
                    Event::SendProgress {
                        drained: inp.byte() & 1 != 0,
                    }
                }
            }
            21 => {
                if inp.byte() & 1 != 0 {
                    Event::RoutesComplete
                } else {
                    Event::CollisionLost
                }
            }
            22 => {
                // Our queued bytes reach the peer; it answers.
                if let Some(w) = wire.as_mut() {
                    let msgs = frames(&mut w.to_peer);
                    let mut alive = true;
                    for m in msgs {
                        let pstate = w.peer.state();
                        let pcx = w.peer.context();
                        let pacts = w.peer.handle(now, Event::Message(m.clone()));
                        if debug() {
                            eprintln!("to peer in {pstate:?} ({pcx:?}): {m:02x?} -> {pacts:?}");
                        }
                        if !peer_side_after(w, pacts, Some(&m)) {
                            alive = false;
                            break;
                        }
                    }
                    if !alive {
                        // The peer closed: its NOTIFICATION (already queued) stays readable.
                        let pending: Vec<Bytes> = w.to_us.drain(..).collect();
                        wire = None;
                        for m in pending {
                            let acts = session.handle(now, Event::Message(m));
                            check(&session, now, &acts, &mut trace, t0, "peer notification");
                        }
                        let acts = session.handle(now, Event::Closed);
                        check(&session, now, &acts, &mut trace, t0, "closed by peer");
                    }
                }
                continue;
            }
            _ => {
                // The peer announces routes (valid UPDATEs through its own encoder).
                if let Some(w) = wire.as_mut() {
                    let n = 1 + usize::from(inp.byte() % 3);
                    let routes = (0..n).map(|_| route(&mut inp, peer_asn)).collect();
                    let pacts = w.peer.handle(now, Event::Announce(routes));
                    if !peer_side(w, pacts) {
                        wire = None;
                    }
                }
                continue;
            }
        };
        let before = session.state();
        let what = event_name(&event);
        let acts = session.handle(now, event);
        if debug() {
            eprintln!(
                "us {before:?} -> {:?} on {what}: {:?} {acts:02x?}",
                session.state(),
                session
                    .negotiated()
                    .map(|n| (&n.add_path_send, &n.add_path_receive))
            );
        }
        check(&session, now, &acts, &mut trace, t0, what);
        check_updates_gated(before, &session, &acts);
        to_wire(&mut wire, &acts);
    }
    trace
}

/// The event's variant, for assertion messages (formatting whole messages would be slow).
fn event_name(e: &Event) -> &'static str {
    match e {
        Event::Start { .. } => "Start",
        Event::Stop { .. } => "Stop",
        Event::AutomaticStop { .. } => "AutomaticStop",
        Event::Connected => "Connected",
        Event::ConnectFailed => "ConnectFailed",
        Event::Closed => "Closed",
        Event::TimerFired(_) => "TimerFired",
        Event::Message(_) => "Message",
        Event::HeaderError(_) => "HeaderError",
        Event::Announce(_) => "Announce",
        Event::AnnounceShared { .. } => "AnnounceShared",
        Event::Withdraw(_) => "Withdraw",
        Event::WithdrawAll => "WithdrawAll",
        Event::RequestRefresh(_) => "RequestRefresh",
        Event::SendBlocked => "SendBlocked",
        Event::SendProgress { .. } => "SendProgress",
        Event::CollisionLost => "CollisionLost",
        Event::RoutesComplete => "RoutesComplete",
        Event::ResendRoutes(_) => "ResendRoutes",
        Event::SetImport { .. } => "SetImport",
        Event::SharedSubnets { .. } => "SharedSubnets",
    }
}

fn taint(wire: &mut Option<Wire>) {
    if let Some(w) = wire.as_mut() {
        w.tainted = true;
    }
}

/// Carries the session's `Send` and `Close` to the wire.
fn to_wire(wire: &mut Option<Wire>, acts: &[Action]) {
    for a in acts {
        match a {
            Action::Send(b) => {
                if let Some(w) = wire.as_mut() {
                    w.to_peer.extend_from_slice(b);
                }
            }
            Action::Close => *wire = None,
            _ => {}
        }
    }
}

/// Queues the peer's sent messages for us; returns false when the peer closed. Panics when
/// the peer reports a Message Header, OPEN or UPDATE error on an untainted connection: what
/// we sent was malformed.
fn peer_side(w: &mut Wire, acts: Vec<Action>) -> bool {
    peer_side_after(w, acts, None)
}

/// [`peer_side`] for the peer's reaction to `cause` (one message we sent), named in the panic.
fn peer_side_after(w: &mut Wire, acts: Vec<Action>, cause: Option<&Bytes>) -> bool {
    let mut alive = true;
    for a in acts {
        match a {
            Action::Send(b) => {
                let mut buf = b.to_vec();
                for m in frames(&mut buf) {
                    if m.get(18) == Some(&MessageType::NOTIFICATION.0) && !w.tainted {
                        let code = m.get(19).copied().unwrap_or(0);
                        assert!(
                            !(1..=3).contains(&code),
                            "the peer rejected what we sent with NOTIFICATION {}/{}: {:02x?} \
                             (peer context {:?})",
                            code,
                            m.get(20).copied().unwrap_or(0),
                            cause,
                            w.peer.context()
                        );
                    }
                    w.to_us.push_back(m);
                }
            }
            Action::Close => alive = false,
            _ => {}
        }
    }
    alive
}

fn check(
    session: &Session,
    now: Instant,
    acts: &[Action],
    trace: &mut Trace,
    t0: Instant,
    what: &str,
) {
    let state = session.state();
    let has_negotiated = session.negotiated().is_some();
    assert_eq!(
        has_negotiated,
        matches!(state, State::OpenConfirm | State::Established),
        "negotiated parameters in {state:?} after {what}"
    );
    if state != State::Established {
        for r in session.adj_rib_in().iter() {
            assert!(
                session.is_stale(&r.nlri),
                "route {:?} in the Adj-RIB-In in {state:?} without being stale (after {what})",
                r.nlri
            );
        }
    }
    let mut notification_at = None;
    for (i, a) in acts.iter().enumerate() {
        match a {
            Action::StartTimer { timer, at } => {
                assert!(*at >= now, "{timer:?} armed in the past after {what}");
                let _ = t0;
            }
            Action::SessionUp(_) => {
                assert_eq!(
                    state,
                    State::Established,
                    "SessionUp but {state:?} after {what}"
                );
            }
            Action::Send(bytes) => {
                let mut buf = bytes.to_vec();
                let msgs = frames(&mut buf);
                assert!(
                    buf.is_empty(),
                    "a Send ends with a partial message after {what}"
                );
                for m in &msgs {
                    if m.get(18) == Some(&MessageType::NOTIFICATION.0) {
                        notification_at.get_or_insert(i);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(i) = notification_at {
        assert!(
            acts[i..].iter().any(|a| matches!(a, Action::Close)),
            "a NOTIFICATION without Close after {what}: {acts:?}"
        );
    }
    trace.extend(acts.iter().cloned().map(Step::Act));
    trace.push(Step::State(state));
}

/// RFC 4271 §9.2: UPDATEs are only sent in Established.
fn check_updates_gated(before: State, session: &Session, acts: &[Action]) {
    let after = session.state();
    for a in acts {
        if let Action::Send(bytes) = a {
            let mut buf = bytes.to_vec();
            for m in frames(&mut buf) {
                if m.get(18) == Some(&MessageType::UPDATE.0) {
                    assert!(
                        before == State::Established || after == State::Established,
                        "UPDATE sent in {before:?} -> {after:?}"
                    );
                }
            }
        }
    }
}
