//! SIGHUP: the configuration file read again and its difference applied (see the module docs of
//! [`crate::daemon`] and [`ConfigDiff`]).

use super::*;

impl Daemon {
    /// Re-reads the configuration file and applies the difference (see the module docs and
    /// [`ConfigDiff`]): all of it, or nothing when the file is invalid or changes a key that
    /// needs a restart.
    pub async fn reload(&mut self) {
        let path = self.path.display().to_string();
        let refuse = |daemon: &Daemon, why: String| {
            error!("reload of {path} failed, still running the previous configuration:\n{why}");
            if let Some(ops) = &daemon.ops {
                ops.reload_failed(&why);
            }
        };
        let new = match Config::load(&self.path, &crate::link::ThisHost) {
            Ok(c) => c,
            Err(e) => return refuse(self, e.to_string()),
        };
        let diff = ConfigDiff::between(&self.config, &new);
        if !diff.restart_required.is_empty() {
            let why = format!(
                "{} cannot change while bgpd runs; restart it to apply them",
                diff.restart_required.join(", ")
            );
            return refuse(self, why);
        }
        // Logged once, then not kept (nor copied into the control state): a file may carry
        // a warning per service.
        let mut new = new;
        for w in std::mem::take(&mut new.warnings) {
            warn!("configuration: {w}");
        }
        crate::memory::release_freed_memory();
        let old = std::mem::replace(&mut self.config, new);

        // Listeners: bind the new ones first, so a failure leaves the old ones in place.
        let mut listen_errors = Vec::new();
        for addr in self.config.global.listen.clone() {
            if !self.listeners.contains_key(&addr) {
                if let Err(e) = self.bind(addr) {
                    listen_errors.push(e.to_string());
                }
            }
        }
        let keep: Vec<SocketAddr> = self.config.global.listen.clone();
        let gone: Vec<SocketAddr> = self
            .listeners
            .keys()
            .filter(|a| !keep.contains(a))
            .copied()
            .collect();
        for addr in gone {
            if let Some(l) = self.listeners.remove(&addr) {
                l.task.abort();
                info!("stopped listening on {addr}");
            }
        }
        for e in listen_errors {
            error!("reload: {e}");
        }
        self.global = Arc::new(self.config.global.clone());
        if old.global.rib != self.config.global.rib {
            self.rib
                .send(crate::locrib::RibInput::Config(self.config.global.rib));
        }

        for peer in &diff.peers_removed {
            info!(
                "peer {} removed from the configuration: stopping it (NOTIFICATION 6/3)",
                peer.name
            );
            self.stop_peer(
                &peer.name,
                Notification::cease(CEASE_PEER_DECONFIGURED, None),
            )
            .await;
        }
        // A change of our AS or identifier changes every session's OPEN.
        let mut reset: Vec<(String, String)> = if diff.sessions_reset.is_empty() {
            Vec::new()
        } else {
            let why = diff.sessions_reset.join(", ");
            self.peers
                .keys()
                .map(|n| (n.clone(), why.clone()))
                .collect()
        };
        for change in &diff.peers_changed {
            let name = &change.new.name;
            if change.needs_reset() {
                if !reset.iter().any(|(n, _)| n == name) {
                    reset.push((name.clone(), change.reset.join(", ")));
                }
            } else if let Some(handle) = self.peers.get_mut(name) {
                info!(
                    "settings of peer {name} changed ({}): applied without a reset",
                    change.live.join(", ")
                );
                let peer = Arc::new(change.new.clone());
                handle.peer = peer.clone();
                // BFD intervals change on the live session with a Poll Sequence (RFC 5880
                // §6.5): neither BFD nor BGP flaps.
                match (&change.old.bfd, &change.new.bfd) {
                    (Some(old), Some(new)) if old != new => self.bfd.update(name, new.clone()),
                    (None, Some(_)) => start_bfd(&self.bfd, &peer, handle),
                    (Some(_), None) => self.bfd.remove(name),
                    _ => {}
                }
                if handle
                    .commands
                    .send(PeerCommand::Settings(peer))
                    .await
                    .is_err()
                {
                    warn!("peer task for {name} is gone");
                }
            }
        }
        for (name, why) in &reset {
            info!(
                "settings of peer {name} changed ({why}): resetting its session (NOTIFICATION 6/6)"
            );
            self.stop_peer(
                name,
                Notification::cease(CEASE_OTHER_CONFIGURATION_CHANGE, None),
            )
            .await;
        }

        let services_changed = old.services != self.config.services;
        self.services = match &self.ops {
            Some(ops) => ops.set_config(&self.config),
            None => Arc::new(Announcements::from_services(self.config.services.clone())),
        };
        if services_changed {
            self.push_services().await;
        }

        let diff_summary = diff.summary();
        // New peers, and the reset ones again with their new settings.
        for peer in self.config.peers.clone() {
            if !self.peers.contains_key(&peer.name) {
                if diff.peers_added.iter().any(|p| p.name == peer.name) {
                    info!("peer {} added to the configuration: starting it", peer.name);
                }
                self.start_peer(peer);
            }
        }
        // The old configuration, the parse and the diff are gone by now: hand their pages back
        // (a 100k-service file leaves tens of megabytes free in the heap).
        drop(old);
        drop(diff);
        crate::memory::release_freed_memory();
        info!("reloaded {path}: {}", diff_summary);
    }
}
