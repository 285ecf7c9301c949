//! The event timeline of `bgpctl events`: a bounded in-memory ring of timestamped events
//! (session changes, NOTIFICATIONs, announce/withdraw per peer, health transitions, reloads,
//! drains). Every event is also logged as one sentence (target `bgpd::events`), so the log
//! and the timeline tell the same story.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::api::EventInfo;

/// Events kept in memory; older ones are dropped first.
pub const DEFAULT_CAPACITY: usize = 4096;

/// What an event is about (`kind` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A BGP session changed state.
    Session,
    /// A BFD session changed state (issue 12).
    Bfd,
    /// A NOTIFICATION was sent or received.
    Notification,
    /// A service was announced.
    Announce,
    /// A service was withdrawn.
    Withdraw,
    /// A health check changed its verdict.
    Health,
    /// The configuration was reloaded.
    Reload,
    /// The speaker or a peer was drained or undrained (RFC 8326).
    Drain,
    /// A change made through the control API.
    Api,
    /// The kernel FIB changed, or refused a change (issue 16).
    Fib,
}

impl Kind {
    /// The name of the kind on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Bfd => "bfd",
            Kind::Notification => "notification",
            Kind::Announce => "announce",
            Kind::Withdraw => "withdraw",
            Kind::Health => "health",
            Kind::Reload => "reload",
            Kind::Drain => "drain",
            Kind::Api => "api",
            Kind::Fib => "fib",
        }
    }
}

/// The ring, shared by the control server, the health checkers and the status watchers.
#[derive(Debug)]
pub struct EventLog {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<EventInfo>,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<EventInfo>,
    capacity: usize,
    next_seq: u64,
}

impl EventLog {
    /// An empty log that keeps the last `capacity` events.
    pub fn new(capacity: usize) -> EventLog {
        let (tx, _) = broadcast::channel(1024);
        EventLog {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity.min(1024)),
                capacity: capacity.max(1),
                next_seq: 1,
            }),
            tx,
        }
    }

    /// Records an event, logs it, and hands it to `events --follow` clients.
    pub fn record(&self, kind: Kind, peer: Option<&str>, service: Option<&str>, message: String) {
        if matches!(kind, Kind::Notification) || message.contains(" down") {
            warn!(target: "bgpd::events", kind = kind.as_str(), "{message}");
        } else {
            info!(target: "bgpd::events", kind = kind.as_str(), "{message}");
        }
        self.record_unlogged(kind, peer, service, message);
    }

    /// Records an event that its source has already logged (the peer tasks log every session
    /// change themselves), so operators grepping the log see each sentence once.
    pub fn record_unlogged(
        &self,
        kind: Kind,
        peer: Option<&str>,
        service: Option<&str>,
        message: String,
    ) {
        let ts_ms = unix_ms(SystemTime::now());
        let event = {
            let Ok(mut ring) = self.ring.lock() else {
                return;
            };
            let event = EventInfo {
                seq: ring.next_seq,
                ts_ms,
                kind: kind.as_str().to_string(),
                peer: peer.map(str::to_string),
                service: service.map(str::to_string),
                message,
            };
            ring.next_seq += 1;
            if ring.events.len() >= ring.capacity {
                ring.events.pop_front();
            }
            ring.events.push_back(event.clone());
            event
        };
        let _ = self.tx.send(event);
    }

    /// Events at most `since` old (every event kept when `None`), oldest first.
    pub fn list(&self, since: Option<Duration>) -> Vec<EventInfo> {
        let cutoff = since.map(|d| unix_ms(SystemTime::now()).saturating_sub(d.as_millis() as u64));
        let Ok(ring) = self.ring.lock() else {
            return Vec::new();
        };
        ring.events
            .iter()
            .filter(|e| cutoff.is_none_or(|c| e.ts_ms >= c))
            .cloned()
            .collect()
    }

    /// New events from now on (for `events --follow`).
    pub fn subscribe(&self) -> broadcast::Receiver<EventInfo> {
        self.tx.subscribe()
    }
}

/// `"s"` after a count other than one, for event sentences.
pub fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) {
        ""
    } else {
        "s"
    }
}

/// `t` as Unix milliseconds (0 before 1970).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `t` as Unix seconds (0 before 1970).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_and_ordered() {
        let log = EventLog::new(3);
        for i in 0..5 {
            log.record(Kind::Api, None, None, format!("event {i}"));
        }
        let all = log.list(None);
        assert_eq!(
            all.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            vec!["event 2", "event 3", "event 4"]
        );
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert!(all.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    }

    #[test]
    fn since_filters_by_age_and_subscribers_see_new_events() {
        let log = EventLog::new(10);
        let mut rx = log.subscribe();
        log.record(Kind::Drain, Some("tor-a"), None, "drained".into());
        assert_eq!(log.list(Some(Duration::from_secs(60))).len(), 1);
        let got = rx.try_recv().expect("event");
        assert_eq!(got.kind, "drain");
        assert_eq!(got.peer.as_deref(), Some("tor-a"));
        // An event stamped in the past is outside a short window.
        if let Ok(mut ring) = log.ring.lock() {
            if let Some(e) = ring.events.front_mut() {
                e.ts_ms -= 10_000;
            }
        }
        assert!(log.list(Some(Duration::from_secs(5))).is_empty());
        assert_eq!(log.list(None).len(), 1);
    }
}
