//! Scripted tests per state and event, following RFC 4271 §8.2.2, plus the two-session
//! harness (pair.rs) and the property test (prop.rs).

mod graceful;
mod import;
mod neighbor;
mod neighbor_pair;
mod pair;
mod prop;
mod restart;
mod scripted;
mod send_hold;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_proto::{
    AsPath, AsSegment, AsSegmentType, Capability, Family, Message, NextHop, Nlri, Notification,
    Open, PathAttributes, SessionContext,
};
use bytes::{Bytes, BytesMut};

use crate::{Action, Event, Route, Session, SessionConfig, State, Timer};

pub(crate) const LOCAL_AS: u32 = 65001;
pub(crate) const PEER_AS: u32 = 65002;

pub(crate) fn local_id() -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 1)
}

pub(crate) fn peer_id() -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 2)
}

pub(crate) fn config() -> SessionConfig {
    let mut c = SessionConfig::new(LOCAL_AS, PEER_AS, local_id());
    c.families = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
    c
}

/// A fixed origin for the virtual clock.
pub(crate) fn t0() -> Instant {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

pub(crate) fn at(secs: u64) -> Instant {
    t0() + Duration::from_secs(secs)
}

/// The peer's OPEN: AS 65002 with the 4-octet AS capability, hold `hold`, both unicast
/// families, route refresh and enhanced route refresh.
pub(crate) fn peer_open(hold: u16) -> Open {
    Open {
        my_as: PEER_AS as u16,
        hold_time: hold,
        bgp_id: peer_id(),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(PEER_AS),
        ],
    }
}

pub(crate) fn open_bytes(open: &Open) -> Bytes {
    let mut b = BytesMut::new();
    open.encode(&mut b);
    b.freeze()
}

pub(crate) fn keepalive() -> Bytes {
    let mut b = BytesMut::new();
    bgp_proto::encode_keepalive(&mut b);
    b.freeze()
}

pub(crate) fn notification_bytes(n: &Notification) -> Bytes {
    let mut b = BytesMut::new();
    n.encode(&mut b);
    b.freeze()
}

pub(crate) fn attrs(asn: u32) -> Arc<PathAttributes> {
    Arc::new(PathAttributes {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: AsSegmentType::Sequence,
                asns: vec![asn],
            }],
        },
        ..PathAttributes::default()
    })
}

pub(crate) fn route(prefix: &str, nh: [u8; 4], asn: u32) -> Route {
    Route {
        nlri: Nlri {
            prefix: prefix.parse().unwrap(),
            path_id: None,
        },
        next_hop: NextHop::V4(Ipv4Addr::from(nh)),
        attrs: attrs(asn),
    }
}

/// Every message in the `Send` actions, decoded with `cx`.
/// `cx` is the sender's context; the messages are decoded as the peer would (our AS as the
/// peer AS, our ADD-PATH send as its receive).
pub(crate) fn sent_messages(actions: &[Action], cx: &SessionContext) -> Vec<Message> {
    let mut cx = cx.clone();
    cx.peer_asn = LOCAL_AS;
    cx.add_path_rx = cx.add_path_tx;
    let cx = &cx;
    let mut msgs = Vec::new();
    for a in actions {
        if let Action::Send(bytes) = a {
            let mut rest = bytes.clone();
            while !rest.is_empty() {
                let len = bgp_proto::frame_len(&rest, 65535).unwrap().unwrap();
                let one = rest.split_to(len);
                msgs.push(bgp_proto::decode(one, cx).unwrap());
            }
        }
    }
    msgs
}

/// The single NOTIFICATION sent in `actions`.
pub(crate) fn sent_notification(actions: &[Action]) -> Option<Notification> {
    sent_messages(actions, &SessionContext::default())
        .into_iter()
        .find_map(|m| match m {
            Message::Notification(n) => Some(n),
            _ => None,
        })
}

/// A session taken through Start and Connected to OpenSent at t = 0.
pub(crate) fn open_sent_with(config: SessionConfig) -> Session {
    let mut s = Session::new(config, 1);
    s.handle(at(0), Event::Start { passive: false });
    s.handle(at(0), Event::Connected);
    assert_eq!(s.state(), State::OpenSent);
    s
}

pub(crate) fn open_sent() -> Session {
    open_sent_with(config())
}

pub(crate) fn open_confirm_with(config: SessionConfig, open: &Open) -> Session {
    let mut s = open_sent_with(config);
    s.handle(at(1), Event::Message(open_bytes(open)));
    assert_eq!(s.state(), State::OpenConfirm);
    s
}

pub(crate) fn open_confirm() -> Session {
    open_confirm_with(config(), &peer_open(90))
}

pub(crate) fn established_with(config: SessionConfig, open: &Open) -> Session {
    let mut s = open_confirm_with(config, open);
    s.handle(at(2), Event::Message(keepalive()));
    assert_eq!(s.state(), State::Established);
    s
}

pub(crate) fn established() -> Session {
    established_with(config(), &peer_open(90))
}

/// The `StartTimer` action the session would have emitted for `timer` now.
pub(crate) fn started(s: &Session, timer: Timer) -> Action {
    Action::StartTimer {
        timer,
        at: s.timer(timer).expect("timer armed"),
    }
}
