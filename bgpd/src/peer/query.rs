//! Answers about what the peers received, for `bgpctl routes --best`: the Loc-RIB keeps only
//! decision keys, so the AS_PATH it shows comes from the peer's Adj-RIB-In.

use std::collections::{BTreeMap, HashMap};

use bgp_proto::Nlri;
use tokio::sync::{mpsc, oneshot};

use super::PeerCommand;
use crate::api;
use crate::locrib::Snapshot;

/// Fills each path's AS_PATH from its peer's Adj-RIB-In (one request per peer). `peers`: the
/// peer tasks' command channels by name. A path whose route left the Adj-RIB-In since the
/// snapshot was taken (or whose peer is gone) keeps an empty AS_PATH.
pub async fn fill_as_paths(
    snaps: Vec<Snapshot>,
    peers: &BTreeMap<String, mpsc::Sender<PeerCommand>>,
) -> Vec<api::LocRibEntry> {
    let mut wanted: BTreeMap<&str, Vec<Nlri>> = BTreeMap::new();
    for s in &snaps {
        for p in &s.entry.paths {
            wanted.entry(p.peer.as_str()).or_default().push(Nlri {
                prefix: s.prefix,
                path_id: p.path_id,
            });
        }
    }
    let mut found: HashMap<(String, Nlri), String> = HashMap::new();
    for (peer, nlri) in wanted {
        let Some(tx) = peers.get(peer) else { continue };
        let (reply, rx) = oneshot::channel();
        let cmd = PeerCommand::ReceivedRoutes(nlri.clone(), reply);
        if tx.send(cmd).await.is_err() {
            continue;
        }
        let Ok(routes) = rx.await else { continue };
        for (n, r) in nlri.into_iter().zip(routes) {
            if let Some(r) = r {
                let text = r.attrs.as_path.to_string();
                found.insert((peer.to_string(), n), text);
            }
        }
    }
    snaps
        .into_iter()
        .map(|mut s| {
            for p in &mut s.entry.paths {
                let n = Nlri {
                    prefix: s.prefix,
                    path_id: p.path_id,
                };
                if let Some(text) = found.remove(&(p.peer.clone(), n)) {
                    p.as_path = text;
                }
            }
            s.entry
        })
        .collect()
}
