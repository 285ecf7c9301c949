//! Operations on one peer (`bgpctl neighbor NAME shutdown|enable|reset|refresh|drain|undrain`,
//! issue 14): maintenance on one router of a pair while the other keeps everything. Shutdown
//! and drain are kept in the state file, so a peer stays down or drained across reloads and
//! restarts until `enable` / `undrain`.

use super::*;
use api::{NeighborOp, NeighborOpResult};

impl Shared {
    pub(super) async fn neighbor_op(&self, name: &str, op: NeighborOp) -> Response {
        let status = self.statuses().remove(name);
        if self.lock().config.peer(name).is_none() {
            return Response::error(format!("no peer named {name:?}"));
        }
        let established = status
            .as_ref()
            .is_some_and(|s| s.state == FsmState::Established);
        let down = self.lock().admin_down.contains_key(name);
        let (what, message, command) = match op {
            NeighborOp::Shutdown { message } => {
                if down {
                    return Response::error(format!(
                        "peer {name} is already shut down (`bgpctl neighbor {name} enable` \
                         starts it)"
                    ));
                }
                let text = message.unwrap_or_default();
                if text.len() > 255 {
                    return Response::error(format!(
                        "the shutdown message has {} octets; RFC 9003 allows at most 255",
                        text.len()
                    ));
                }
                let notification =
                    Notification::cease(2, (!text.is_empty()).then_some(text.as_str()));
                self.lock()
                    .admin_down
                    .insert(name.to_string(), text.clone());
                (
                    "shutdown",
                    format!(
                        "sent Cease 6/2{}; the peer stays down until `bgpctl neighbor {name} \
                         enable`",
                        if text.is_empty() {
                            String::new()
                        } else {
                            format!(" \"{text}\"")
                        }
                    ),
                    Some(DaemonCommand::Shutdown {
                        peer: name.to_string(),
                        notification,
                    }),
                )
            }
            NeighborOp::Enable => {
                if self.lock().admin_down.remove(name).is_none() {
                    return Response::error(format!("peer {name} is not shut down"));
                }
                (
                    "enable",
                    "session starting".to_string(),
                    Some(DaemonCommand::Enable {
                        peer: name.to_string(),
                    }),
                )
            }
            NeighborOp::Reset { hard } => {
                if down {
                    return Response::error(format!(
                        "peer {name} is shut down; `bgpctl neighbor {name} enable` first"
                    ));
                }
                let reset = Notification::cease(4, None);
                let (what, notification, text) = if hard {
                    (
                        "hard-reset",
                        bgp_fsm::hard_reset(&reset),
                        "sent Cease 6/9 (Hard Reset of 6/4, RFC 8538): the peer drops our \
                         routes; the session starts again",
                    )
                } else {
                    (
                        "reset",
                        reset,
                        "sent Cease 6/4 (Administrative Reset); the session starts again",
                    )
                };
                (
                    what,
                    text.to_string(),
                    Some(DaemonCommand::Reset {
                        peer: name.to_string(),
                        notification,
                    }),
                )
            }
            NeighborOp::Refresh => {
                if !established {
                    return Response::error(format!(
                        "peer {name} is not established; nothing to refresh"
                    ));
                }
                (
                    "refresh",
                    "route refresh requested; our routes sent again".to_string(),
                    Some(DaemonCommand::Refresh {
                        peer: name.to_string(),
                    }),
                )
            }
            NeighborOp::Drain | NeighborOp::Undrain => {
                let drain = op == NeighborOp::Drain;
                let changed = {
                    let mut st = self.lock();
                    let mut set = (*st.drained_peers).clone();
                    let changed = if drain {
                        set.insert(name.to_string())
                    } else {
                        set.remove(name)
                    };
                    st.drained_peers = Arc::new(set);
                    changed
                };
                if !changed {
                    return Response::error(format!(
                        "peer {name} is {}drained",
                        if drain { "already " } else { "not " }
                    ));
                }
                let why = if drain { "drain" } else { "undrain" };
                self.routes_changed(Trigger::NeighborDrain {
                    peer: name.to_string(),
                    drain,
                });
                (
                    why,
                    if drain {
                        "routes to this peer carry GRACEFUL_SHUTDOWN 65535:0 (LOCAL_PREF 0 on \
                         iBGP, RFC 8326); the other peers are unchanged"
                            .to_string()
                    } else {
                        "routes to this peer are announced normally again".to_string()
                    },
                    None,
                )
            }
        };
        self.events.record(
            Kind::Api,
            Some(name),
            None,
            format!("bgpctl neighbor {name} {what}: {message}"),
        );
        if let Some(cmd) = command {
            let _ = self.tx.send(cmd);
        }
        let response = Response::ok(NeighborOpResult {
            peer: name.to_string(),
            op: what.to_string(),
            message,
        });
        self.saved_in(response, "message", "done, but NOT SAVED", "")
            .await
    }
}
