//! RFC 9687 Send Hold Timer end to end (issue 17 item 1): two sessions on a virtual clock,
//! joined by a flow-controlled byte stream. Each side's driver keeps a [`SendQueue`]; the
//! "socket" takes at most `WIRE_CAP` unread bytes and the reader takes `read_rate` bytes per
//! 10 ms tick. Two writer paths drain the queue, as in bgpd: an immediate non-blocking flush
//! after every batch of actions (bgpd's `flush_now`) and one write per tick from the event
//! loop (bgpd's `select!` branch). Whatever the path, a peer that reads, however slowly,
//! never sees 8/0; a peer that stops reading gets 8/0 one SendHoldTime after the queue
//! stopped moving.

use std::time::{Duration, Instant};

use bgp_proto::{Family, NextHop, Nlri};
use bytes::BytesMut;

use super::*;
use crate::{DownReason, ImportPolicy, SendQueue};

const TICK: Duration = Duration::from_millis(10);
/// Unread bytes the "socket" (send buffer + peer's receive window) holds.
const WIRE_CAP: usize = 16 * 1024;
const SEND_HOLD: Duration = Duration::from_secs(20);

/// Which writer paths drain the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paths {
    /// Only the flush after each batch of actions (and one per tick, as after timer events).
    FlushOnly,
    /// Only the event loop's one write per tick.
    LoopOnly,
    /// Both, as bgpd does.
    Both,
}

struct End {
    session: Session,
    out: SendQueue,
    /// Bytes written by this side and not yet read by the other.
    wire: BytesMut,
    /// Bytes read from the other side, not yet a complete message.
    inbox: BytesMut,
    /// Bytes this side reads per tick; 0: stopped reading.
    read_rate: usize,
    downs: Vec<DownReason>,
    progress_reports: usize,
    blocked_reports: usize,
}

struct FlowPair {
    now: Instant,
    ends: [End; 2],
    paths: Paths,
    connected: bool,
}

impl FlowPair {
    fn new(paths: Paths, read_rate: usize) -> FlowPair {
        let mk = |local, peer, id: [u8; 4], passive| {
            let mut c = SessionConfig::new(local, peer, Ipv4Addr::from(id));
            c.families = vec![Family::IPV4_UNICAST];
            c.hold_time = 9;
            c.send_hold_time = Some(SEND_HOLD);
            c.import = ImportPolicy::All;
            c.passive = passive;
            End {
                session: Session::new(c, u64::from(id[3])),
                out: SendQueue::new(),
                wire: BytesMut::new(),
                inbox: BytesMut::new(),
                read_rate,
                downs: Vec::new(),
                progress_reports: 0,
                blocked_reports: 0,
            }
        };
        let mut p = FlowPair {
            now: at(0),
            ends: [
                mk(LOCAL_AS, PEER_AS, [10, 0, 0, 1], false),
                mk(PEER_AS, LOCAL_AS, [10, 0, 0, 2], true),
            ],
            paths,
            connected: false,
        };
        p.feed(1, Event::Start { passive: true });
        p.feed(0, Event::Start { passive: false });
        p
    }

    fn feed(&mut self, i: usize, event: Event) {
        let actions = self.ends[i].session.handle(self.now, event);
        self.carry_out(i, actions);
    }

    fn carry_out(&mut self, i: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect => {
                    self.connected = true;
                    self.feed(1, Event::Connected);
                    self.feed(0, Event::Connected);
                }
                Action::Send(bytes) => self.ends[i].out.push(bytes),
                Action::Close => self.connected = false,
                Action::SessionDown(d) => self.ends[i].downs.push(d),
                _ => {}
            }
        }
        if self.paths != Paths::LoopOnly {
            self.flush_now(i);
        }
    }

    /// bgpd's `flush_now`: write what the socket takes without waiting, report.
    fn flush_now(&mut self, i: usize) {
        let mut events = Vec::new();
        loop {
            let free = WIRE_CAP.saturating_sub(self.ends[i].wire.len());
            let end = &mut self.ends[i];
            let Some(front) = end.out.front() else { break };
            let n = front.len().min(free);
            if n == 0 {
                break;
            }
            end.wire.extend_from_slice(&front[..n]);
            events.extend(end.out.wrote(n));
        }
        events.extend(self.ends[i].out.stalled());
        self.report(i, events);
    }

    /// bgpd's `select!` write branch: one write, then report.
    fn loop_write(&mut self, i: usize) {
        let free = WIRE_CAP.saturating_sub(self.ends[i].wire.len());
        let end = &mut self.ends[i];
        let Some(front) = end.out.front() else { return };
        let n = front.len().min(free);
        if n == 0 {
            // The write would wait; bgpd's flush reports this, the write branch just waits.
            return;
        }
        let short = n < front.len();
        end.wire.extend_from_slice(&front[..n]);
        let mut events: Vec<Event> = end.out.wrote(n).into_iter().collect();
        if short {
            // A short write: the socket is full (bgpd's write branch reports it too).
            events.extend(end.out.stalled());
        }
        self.report(i, events);
    }

    fn report(&mut self, i: usize, events: Vec<Event>) {
        for event in events {
            match event {
                Event::SendBlocked => self.ends[i].blocked_reports += 1,
                Event::SendProgress { .. } => self.ends[i].progress_reports += 1,
                _ => {}
            }
            let actions = self.ends[i].session.handle(self.now, event);
            // Only timer actions come back; nothing to write, so no recursion.
            for a in actions {
                assert!(
                    matches!(a, Action::StartTimer { .. } | Action::StopTimer(_)),
                    "{a:?}"
                );
            }
        }
    }

    /// Side `i` reads what the other side wrote, at its rate.
    fn read(&mut self, i: usize) {
        let rate = self.ends[i].read_rate;
        let from = 1 - i;
        let n = rate.min(self.ends[from].wire.len());
        if n == 0 {
            return;
        }
        let chunk = self.ends[from].wire.split_to(n);
        self.ends[i].inbox.extend_from_slice(&chunk);
        while let Ok(Some(len)) = bgp_proto::frame_len(&self.ends[i].inbox, 65535) {
            if self.ends[i].inbox.len() < len {
                break;
            }
            let msg = self.ends[i].inbox.split_to(len).freeze();
            self.feed(i, Event::Message(msg));
        }
    }

    fn tick(&mut self) {
        self.now += TICK;
        for i in 0..2 {
            let actions = self.ends[i].session.handle_timeout(self.now);
            self.carry_out(i, actions);
        }
        if !self.connected {
            return;
        }
        for i in 0..2 {
            self.read(i);
        }
        for i in 0..2 {
            match self.paths {
                Paths::LoopOnly | Paths::Both => self.loop_write(i),
                // Timer and message events are what trigger bgpd's flush; one per tick.
                Paths::FlushOnly => self.flush_now(i),
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.tick();
        }
    }

    fn announce(&mut self, i: usize, first: u32, count: u32) {
        let nlri = (first..first + count)
            .map(|k| Nlri {
                prefix: format!("10.{}.{}.{}/32", k >> 16, (k >> 8) & 0xff, k & 0xff)
                    .parse()
                    .unwrap(),
                path_id: None,
            })
            .collect();
        let event = Event::AnnounceShared {
            next_hop: NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)),
            attrs: attrs(LOCAL_AS),
            nlri,
        };
        self.feed(i, event);
    }
}

/// 20,000 routes through a socket that holds 16 KiB, read at 4 KB/s: the burst takes about
/// 25 s to drain, longer than the 20 s SendHoldTime, but the peer reads all along. Then 15
/// minutes of quiet (only KEEPALIVEs). No 8/0, on every writer path.
#[test]
fn established_large_burst_drains_slowly_without_send_hold_expiry() {
    for paths in [Paths::FlushOnly, Paths::LoopOnly, Paths::Both] {
        let mut p = FlowPair::new(paths, 40);
        p.run_for(Duration::from_secs(5));
        assert_eq!(p.ends[0].session.state(), State::Established, "{paths:?}");
        p.announce(0, 0, 20_000);
        p.run_for(Duration::from_secs(1));
        assert!(p.ends[0].out.queued_bytes() > 50_000, "{paths:?}");
        assert_eq!(
            p.ends[0].session.timer(Timer::SendHold).map(|t| t > p.now),
            Some(true),
            "{paths:?}: the burst blocked"
        );
        p.run_for(Duration::from_secs(59));
        assert!(p.ends[0].out.is_empty(), "{paths:?}: drained");
        assert_eq!(p.ends[1].session.adj_rib_in().len(), 20_000, "{paths:?}");
        assert_eq!(
            p.ends[0].session.timer(Timer::SendHold),
            None,
            "{paths:?}: a drained queue stops the SendHoldTimer"
        );
        p.run_for(Duration::from_secs(15 * 60));
        for (i, end) in p.ends.iter().enumerate() {
            assert!(end.downs.is_empty(), "{paths:?} side {i}: {:?}", end.downs);
            assert_eq!(end.session.state(), State::Established, "{paths:?}");
        }
        assert!(p.ends[0].blocked_reports >= 1, "{paths:?}");
        assert!(p.ends[0].progress_reports > 10, "{paths:?}");
    }
}

/// The same burst to a peer that keeps sending KEEPALIVEs but stops reading (a zero TCP
/// window, RFC 9687 §1): 8/0 one SendHoldTime after the last byte it took.
#[test]
fn established_peer_stops_reading_gets_8_0_after_send_hold_time() {
    for paths in [Paths::FlushOnly, Paths::LoopOnly, Paths::Both] {
        let mut p = FlowPair::new(paths, 40);
        p.run_for(Duration::from_secs(5));
        assert_eq!(p.ends[0].session.state(), State::Established);
        // B's reader stops; its timers stop too (so its hold timer cannot end the session),
        // but a KEEPALIVE reaches A every 3 s, as from a peer whose sender still works.
        p.ends[1].read_rate = 0;
        p.announce(0, 0, 20_000);
        let stuck_from = p.now;
        let mut down_at = None;
        while p.now < stuck_from + Duration::from_secs(60) {
            p.now += TICK;
            let actions = p.ends[0].session.handle_timeout(p.now);
            p.carry_out(0, actions);
            if (p.now - stuck_from).as_millis().is_multiple_of(3000) {
                p.feed(0, Event::Message(keepalive()));
            }
            match paths {
                Paths::FlushOnly => p.flush_now(0),
                _ => p.loop_write(0),
            }
            if !p.ends[0].downs.is_empty() {
                down_at = Some(p.now);
                break;
            }
        }
        let down_at = down_at.unwrap_or_else(|| {
            panic!(
                "{paths:?}: A gave up on the peer; send hold {:?} queued {} blocked {}",
                p.ends[0].session.timer(Timer::SendHold),
                p.ends[0].out.queued_bytes(),
                p.ends[0].blocked_reports
            )
        });
        let d = &p.ends[0].downs[0];
        assert_eq!(d.sent, Some(Notification::send_hold_timer_expired()));
        let waited = down_at - stuck_from;
        assert!(
            waited >= SEND_HOLD && waited <= SEND_HOLD + Duration::from_secs(1),
            "{paths:?}: {waited:?}"
        );
        assert_eq!(p.ends[0].session.state(), State::Idle);
    }
}
