//! The receivers (FRR, then BIRD), started with interop's runners and polled cheaply: one
//! vtysh or birdc call returns both the session state and the received-prefix count.

use std::net::{IpAddr, Ipv4Addr};

use interop::{Bird, BirdConfig, BirdNeighbor, Frr, FrrConfig, FrrNeighbor, Node, Topology};
use serde_json::Value;

/// BIRD's protocol name for the sender ("tx" and "rx" are BIRD keywords).
const BIRD_PROTO: &str = "bench_tx";

/// The receiver's AS.
pub const RECEIVER_AS: u32 = 65000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxKind {
    Frr,
    Bird,
}

impl RxKind {
    pub fn name(self) -> &'static str {
        match self {
            RxKind::Frr => "FRR",
            RxKind::Bird => "BIRD",
        }
    }

    pub fn parse(s: &str) -> Option<RxKind> {
        [RxKind::Frr, RxKind::Bird]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// What the receiver reports about the session with the sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStatus {
    pub established: bool,
    /// Prefixes received from the sender (FRR `pfxRcd`, BIRD "imported").
    pub count: u64,
}

pub enum Receiver<'t> {
    Frr(Frr<'t>, IpAddr),
    Bird(Bird<'t>),
}

impl<'t> Receiver<'t> {
    /// Starts the receiver with one active session towards `sender` (AS `sender_as`).
    pub fn start(
        kind: RxKind,
        topo: &'t Topology,
        node: &Node,
        sender: Ipv4Addr,
        sender_as: u32,
    ) -> Receiver<'t> {
        let addr = IpAddr::V4(sender);
        match kind {
            RxKind::Frr => {
                let config = FrrConfig::new(RECEIVER_AS, node.ipv4)
                    .neighbor(FrrNeighbor::new(addr, sender_as).hold_time(90));
                Receiver::Frr(Frr::start(topo, node, config), addr)
            }
            RxKind::Bird => {
                let config = BirdConfig::new(RECEIVER_AS, node.ipv4)
                    .neighbor(BirdNeighbor::new(BIRD_PROTO, addr, sender_as).hold_time(90));
                Receiver::Bird(Bird::start(topo, node, config))
            }
        }
    }

    /// One cheap query: `show bgp ipv4 unicast summary json` (FRR) or `show protocols all
    /// bench_tx` (BIRD). `None` when the router did not answer with the expected fields (never
    /// read as "0 routes").
    pub fn status(&self) -> Option<RxStatus> {
        match self {
            Receiver::Frr(f, addr) => {
                let v = f.json("show bgp ipv4 unicast summary json");
                let peers = v
                    .get("peers")
                    .or_else(|| v.get("ipv4Unicast").and_then(|u| u.get("peers")))?;
                let p = peers.get(addr.to_string())?;
                Some(RxStatus {
                    established: p.get("state").and_then(Value::as_str)? == "Established",
                    count: p.get("pfxRcd").and_then(Value::as_u64).unwrap_or(0),
                })
            }
            Receiver::Bird(b) => {
                let text = b.birdc(&format!("show protocols all {BIRD_PROTO}")).ok()?;
                parse_bird_status(&text)
            }
        }
    }

    /// Administratively stops the session (the sender sees a Cease and keeps its routes).
    pub fn disable(&self) -> Result<(), String> {
        match self {
            Receiver::Frr(f, addr) => {
                f.configure(&[
                    &format!("router bgp {RECEIVER_AS}"),
                    &format!("neighbor {addr} shutdown"),
                ]);
                Ok(())
            }
            Receiver::Bird(b) => b.birdc(&format!("disable {BIRD_PROTO}")).map(|_| ()),
        }
    }

    /// Starts the session again (the receiver connects at once; BIRD after its 1 s
    /// `connect delay time`).
    pub fn enable(&self) -> Result<(), String> {
        match self {
            Receiver::Frr(f, addr) => {
                f.configure(&[
                    &format!("router bgp {RECEIVER_AS}"),
                    &format!("no neighbor {addr} shutdown"),
                ]);
                Ok(())
            }
            Receiver::Bird(b) => b.birdc(&format!("enable {BIRD_PROTO}")).map(|_| ()),
        }
    }
}

/// Parses `birdc show protocols all NAME`: "BGP state:" and the channel's "Routes: N imported"
/// (absent while the channel is down: 0). `None` without a "BGP state:" line.
pub fn parse_bird_status(text: &str) -> Option<RxStatus> {
    let mut st = RxStatus::default();
    let mut seen = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("BGP state:") {
            st.established = v.trim() == "Established";
            seen = true;
        } else if let Some(v) = t.strip_prefix("Routes:") {
            st.count = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    seen.then_some(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_status() {
        let text = "Name       Proto      Table      State  Since         Info
tx         BGP        ---        up     2026-11-22 12:00:00.000  Established
  BGP state:          Established
    Neighbor address: 10.255.1.2
  Channel ipv4
    State:          UP
    Routes:         1000 imported, 0 exported, 1000 preferred";
        assert_eq!(
            parse_bird_status(text),
            Some(RxStatus {
                established: true,
                count: 1000
            })
        );
        assert_eq!(
            parse_bird_status("  BGP state:          Active"),
            Some(RxStatus::default())
        );
        assert_eq!(parse_bird_status("syntax error"), None);
    }
}
