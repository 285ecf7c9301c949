//! BFD sessions (issue 12) in `bgpctl neighbor`, the metrics and the event timeline.

use super::*;
use crate::bfd::{state_name, BfdStatus, BfdView, EventSink};

impl Ops {
    /// Follows the BFD sessions (for `bgpctl neighbor` and the metrics).
    pub fn attach_bfd(&mut self, view: BfdView) {
        if let Ok(mut b) = self.shared.bfd.lock() {
            *b = Some(view);
        }
    }

    /// Where the BFD task records its transitions in the event timeline.
    pub fn bfd_event_sink(&self) -> EventSink {
        let weak = Arc::downgrade(&self.shared);
        Arc::new(move |peer: &str, sentence: String| match weak.upgrade() {
            Some(shared) => shared.events.record(Kind::Bfd, Some(peer), None, sentence),
            None => info!("{sentence}"),
        })
    }
}

impl Shared {
    pub(super) fn bfd_statuses(&self) -> BTreeMap<String, BfdStatus> {
        self.bfd
            .lock()
            .ok()
            .and_then(|b| b.as_ref().map(|v| v.sessions.borrow().clone()))
            .unwrap_or_default()
    }

    /// `bgpd_bfd_*` families.
    pub(super) fn render_bfd_metrics(&self, w: &mut TextWriter) {
        let Some(view) = self.bfd.lock().ok().and_then(|b| b.clone()) else {
            return;
        };
        let sessions = view.sessions.borrow().clone();
        w.family(
            "bgpd_bfd_session_up",
            "gauge",
            "1 when the peer's BFD session is Up (RFC 5880).",
        );
        for (name, s) in &sessions {
            w.sample(
                "bgpd_bfd_session_up",
                &[("peer", name), ("address", &s.remote.to_string())],
                u8::from(s.state == ::bfd::State::Up),
            );
        }
        w.per_peer(
            (
                "bgpd_bfd_state_changes_total",
                "counter",
                "BFD session state changes.",
            ),
            sessions.iter().map(|(name, s)| (name.as_str(), s)),
            |s| s.state_changes,
        );
        w.per_peer(
            (
                "bgpd_bfd_detection_time_seconds",
                "gauge",
                "Detection Time of the router (RFC 5880 §6.8.4); 0 before it sent.",
            ),
            sessions.iter().map(|(name, s)| (name.as_str(), s)),
            |s| s.detection_time.map_or(0.0, |d| d.as_secs_f64()),
        );
        w.family(
            "bgpd_bfd_packets_total",
            "counter",
            "BFD Control packets per peer: sent, accepted, discarded by the session.",
        );
        for (name, s) in &sessions {
            for (dir, n) in [
                ("sent", s.counters.packets_out),
                ("received", s.counters.packets_in),
                ("discarded", s.counters.dropped.total()),
            ] {
                w.sample(
                    "bgpd_bfd_packets_total",
                    &[("peer", name), ("kind", dir)],
                    n,
                );
            }
        }
        w.family(
            "bgpd_bfd_dropped_packets_total",
            "counter",
            "BFD datagrams dropped before reaching a session, by reason (TTL != 255, \
             unknown source, malformed, unknown discriminator, rate limited, queue full).",
        );
        for (reason, n) in view.drops.snapshot() {
            w.sample("bgpd_bfd_dropped_packets_total", &[("reason", reason)], n);
        }
    }
}

/// The API form of a BFD session.
pub(super) fn bfd_info(s: &BfdStatus) -> api::BfdInfo {
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    api::BfdInfo {
        state: state_name(s.state).into(),
        remote_state: state_name(s.remote_state).into(),
        state_secs: s.since.elapsed().map_or(0, |d| d.as_secs()),
        local_address: s.local.map(|a| a.to_string()),
        local_discriminator: s.local_discr,
        remote_discriminator: s.remote_discr,
        profile: s.settings.profile.clone(),
        min_rx_us: us(s.settings.min_rx),
        min_tx_us: us(s.settings.min_tx),
        multiplier: s.settings.multiplier.get(),
        passive: s.settings.passive,
        tx_interval_us: us(s.tx_interval),
        rx_interval_us: s.rx_interval.map_or(0, us),
        detection_time_us: s.detection_time.map_or(0, us),
        remote_multiplier: s.remote_multiplier,
        diagnostic: s.diagnostic.to_string(),
        state_changes: s.state_changes,
        packets_in: s.counters.packets_in,
        packets_out: s.counters.packets_out,
        packets_dropped: s.counters.dropped.total(),
        waiting: s.waiting.clone(),
    }
}
