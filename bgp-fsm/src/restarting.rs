//! Graceful Restart, restarting side (RFC 4724 §4.1): when End-of-RIB goes out.
//!
//! RFC 4724 §4.1 says the restarting speaker sends End-of-RIB "once it has completed its
//! initial update" and leaves the timing to it. A speaker whose routes come from more than
//! its configuration (state restored from disk, health checks, a controller that re-feeds
//! routes) does not know them all the moment the session is up: an early End-of-RIB makes the
//! peer drop the stale copies of routes that are still coming. With
//! [`crate::GracefulRestartConfig::end_of_rib_deferral`] set, the first session after a
//! restart (R bit set, Graceful Restart negotiated) holds End-of-RIB back until the caller
//! feeds [`crate::Event::RoutesComplete`] or the deferral limit passes.

use std::time::Instant;

use bgp_proto::UpdateBuilder;
use bytes::BytesMut;

use crate::action::Action;
use crate::session::{Session, State};
use crate::timer::Timer;

impl Session {
    /// At Established, before the R bit is cleared: hold End-of-RIB back? Only on the first
    /// session after a restart, when both sides advertised Graceful Restart, a deferral
    /// limit is configured and the caller has not yet said its routes are complete.
    pub(crate) fn defer_end_of_rib(&mut self, now: Instant, out: &mut Vec<Action>) -> bool {
        let Some(limit) = self
            .config
            .graceful_restart
            .as_ref()
            .filter(|gr| gr.restarting)
            .and_then(|gr| gr.end_of_rib_deferral)
        else {
            return false;
        };
        let negotiated = self
            .negotiated()
            .is_some_and(|n| n.peer_graceful_restart.is_some());
        if self.routes_complete || !negotiated {
            return false;
        }
        self.end_of_rib_pending = true;
        self.start_timer(now, Timer::EndOfRib, limit, out);
        true
    }

    /// Event::RoutesComplete: from now on End-of-RIB is never held back; one held back now
    /// goes out.
    pub(crate) fn routes_complete(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.routes_complete = true;
        self.send_deferred_end_of_rib(now, out);
    }

    /// The deferral limit passed: End-of-RIB goes out with whatever routes are known.
    pub(crate) fn end_of_rib_deferral_expired(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.end_of_rib_pending {
            tracing::info!(
                "End-of-RIB deferral limit reached before every route was known; sending \
                 End-of-RIB"
            );
        }
        self.send_deferred_end_of_rib(now, out);
    }

    /// True while End-of-RIB is held back on an Established session.
    pub fn end_of_rib_pending(&self) -> bool {
        self.end_of_rib_pending
    }

    fn send_deferred_end_of_rib(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.stop_timer(Timer::EndOfRib, out);
        if !std::mem::take(&mut self.end_of_rib_pending) || self.state() != State::Established {
            return;
        }
        let cx = self.context();
        let builder = UpdateBuilder::new(&cx);
        let mut buf = BytesMut::new();
        let mut messages = 0usize;
        for f in cx.families.iter() {
            builder.end_of_rib(f, &mut buf);
            messages = messages.saturating_add(1);
        }
        self.send_updates(now, buf.freeze(), messages, 0, out);
    }
}
