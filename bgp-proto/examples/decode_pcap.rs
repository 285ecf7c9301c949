//! Decodes the BGP sessions of a pcap or pcapng capture (TCP port 179) and prints, per
//! direction, what the UPDATEs say.
//!
//! ```text
//! cargo run -p bgp-proto --example decode_pcap -- capture.pcap
//! ```
//!
//! Each direction is decoded with the context its session negotiated,
//! [`SessionContext::from_opens`] over the receiver's OPEN and the sender's, when the
//! capture holds both; otherwise with [`SessionContext::for_capture`], which keeps every
//! family and attribute. Without OPENs the AS number size is a guess (the bytes do not say):
//! the one under which fewer of the flow's UPDATEs are treat-as-withdraw, 4 octets on a tie.

use bgp_proto::capture::{read_pcap, TcpFlow};
use bgp_proto::ipnet::IpNet;
use bgp_proto::{decode, Message, Open, Routes, SessionContext};

/// What one direction of one TCP connection carried.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FlowTally {
    /// "src -> dst".
    pub flow: String,
    /// The context came from both OPENs (else it is `for_capture`).
    pub negotiated: bool,
    /// Messages, UPDATEs among them.
    pub messages: usize,
    /// UPDATE messages.
    pub updates: usize,
    /// Messages that did not decode (the session would have been reset).
    pub errors: usize,
    /// UPDATEs judged treat-as-withdraw (RFC 7606).
    pub treat_as_withdraw: usize,
    /// Announced prefixes, by family.
    pub announced_v4: usize,
    /// Announced IPv6 prefixes.
    pub announced_v6: usize,
    /// Withdrawn prefixes (treat-as-withdraw included).
    pub withdrawn: usize,
    /// Accepted UPDATEs that carry LOCAL_PREF.
    pub local_pref: usize,
}

/// The context for the messages `f` carries: what its session negotiated, from the OPEN of
/// its receiver (the reverse flow) and its sender, when the capture holds both.
pub fn flow_context(f: &TcpFlow, reverse: Option<&TcpFlow>) -> Option<SessionContext> {
    let first_open = |fl: &TcpFlow| {
        fl.messages
            .iter()
            .find_map(|m| match decode(m.clone(), &SessionContext::default()) {
                Ok(Message::Open(o)) => Some(o),
                _ => None,
            })
    };
    let sender: Open = first_open(f)?;
    let receiver: Open = first_open(reverse?)?;
    Some(SessionContext::from_opens(&receiver, &sender))
}

/// [`SessionContext::for_capture`] with the AS number size under which fewer of `f`'s
/// UPDATEs are treat-as-withdraw (4 octets on a tie).
pub fn guess_context(f: &TcpFlow) -> SessionContext {
    let withdrawn = |cx: &SessionContext| {
        f.messages
            .iter()
            .filter(|m| match decode((*m).clone(), cx) {
                Ok(Message::Update(v)) => matches!(v.routes(), Routes::WithdrawAll { .. }),
                Ok(_) => false,
                Err(_) => true,
            })
            .count()
    };
    let (as4, as2) = (
        SessionContext::for_capture(true, false),
        SessionContext::for_capture(false, false),
    );
    if withdrawn(&as2) < withdrawn(&as4) {
        as2
    } else {
        as4
    }
}

/// Decodes every direction of every BGP connection in `capture`.
pub fn tally(capture: &[u8]) -> Result<Vec<FlowTally>, bgp_proto::capture::CaptureError> {
    let flows = read_pcap(capture)?;
    let mut out = Vec::new();
    for f in &flows {
        let reverse = flows.iter().find(|r| r.src == f.dst && r.dst == f.src);
        let negotiated = flow_context(f, reverse);
        let mut t = FlowTally {
            flow: format!("{} -> {}", f.src, f.dst),
            negotiated: negotiated.is_some(),
            ..FlowTally::default()
        };
        let cx = negotiated.unwrap_or_else(|| guess_context(f));
        for m in &f.messages {
            t.messages += 1;
            let view = match decode(m.clone(), &cx) {
                Ok(Message::Update(view)) => view,
                Ok(_) => continue,
                Err(_) => {
                    t.errors += 1;
                    continue;
                }
            };
            t.updates += 1;
            match view.routes() {
                Routes::Update {
                    withdrawn,
                    announced,
                } => {
                    t.withdrawn += withdrawn.count();
                    for n in announced {
                        match n.prefix {
                            IpNet::V4(_) => t.announced_v4 += 1,
                            IpNet::V6(_) => t.announced_v6 += 1,
                        }
                    }
                    t.local_pref += usize::from(view.local_pref().is_some());
                }
                Routes::WithdrawAll { prefixes, .. } => {
                    t.treat_as_withdraw += 1;
                    t.withdrawn += prefixes.count();
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        return Err("usage: decode_pcap FILE".into());
    };
    for t in tally(&std::fs::read(path)?)? {
        println!(
            "{}: {} messages, {} UPDATEs ({} treat-as-withdraw, {} errors), announced {} IPv4 {} IPv6, withdrawn {}, {} with LOCAL_PREF; context {}",
            t.flow,
            t.messages,
            t.updates,
            t.treat_as_withdraw,
            t.errors,
            t.announced_v4,
            t.announced_v6,
            t.withdrawn,
            t.local_pref,
            if t.negotiated { "from both OPENs" } else { "for_capture (no OPENs)" },
        );
    }
    Ok(())
}
