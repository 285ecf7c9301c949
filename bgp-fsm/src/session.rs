//! The session: one peer, one TCP connection at a time (RFC 4271 §8).

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::action::Action;
use crate::config::SessionConfig;
use crate::event::Event;
use crate::negotiate::Negotiated;
use crate::rib::AdjRib;
use crate::timer::{Timer, TimerTable};

/// The states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// Messages per type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

/// Session counters, kept across connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: MessageCounts,
    pub messages_out: MessageCounts,
    /// Routes announced to the peer (each NLRI in an UPDATE counts once).
    pub prefixes_out: u64,
    /// Routes the peer announced.
    pub prefixes_in: u64,
    /// UPDATEs handled as treat-as-withdraw (RFC 7606).
    pub treat_as_withdraw: u64,
    /// Attributes dropped by attribute discard (RFC 7606).
    pub attributes_discarded: u64,
    /// Routes treated as withdrawn because of their next hop.
    pub rejected_next_hop: u64,
    /// Times the session reached Established.
    pub established: u64,
    /// ConnectRetryCounter (RFC 4271 §8.1.1): consecutive failures.
    pub connect_retry_counter: u32,
}

/// One BGP session (RFC 4271 §8): feed it events with the current time, carry out the
/// actions it returns.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    timers: TimerTable,
    rng: SmallRng,
    negotiated: Option<Box<Negotiated>>,
    rib_in: AdjRib,
    rib_out: AdjRib,
    counters: Counters,
}

impl Session {
    /// A session in Idle. `seed` feeds the jitter RNG (RFC 4271 §10): the same seed and the
    /// same inputs give the same actions.
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        Session {
            config,
            state: State::Idle,
            timers: TimerTable::default(),
            rng: SmallRng::seed_from_u64(seed),
            negotiated: None,
            rib_in: AdjRib::new(),
            rib_out: AdjRib::new(),
            counters: Counters::default(),
        }
    }

    /// Handles one event at time `now`; returns the actions in the order they must happen.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let _ = (now, event, &mut self.rng);
        Vec::new()
    }

    /// Fires every timer whose deadline is at or before `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some((timer, at)) = self.timers.next() {
            if at > now {
                break;
            }
            out.extend(self.handle(now, Event::TimerFired(timer)));
        }
        out
    }

    /// The earliest armed deadline: arm one sleep for it.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(_, at)| at)
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(timer)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The negotiated parameters, from OpenConfirm until the connection goes away.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_deref()
    }

    /// The peer's BGP Identifier once its OPEN was accepted (for collision detection).
    pub fn peer_id(&self) -> Option<std::net::Ipv4Addr> {
        self.negotiated.as_ref().map(|n| n.peer_id)
    }

    /// Routes received from the peer (cleared when the session goes down).
    pub fn adj_rib_in(&self) -> &AdjRib {
        &self.rib_in
    }

    /// Routes we announce to the peer (kept across sessions).
    pub fn adj_rib_out(&self) -> &AdjRib {
        &self.rib_out
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}
