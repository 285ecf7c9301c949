//! `bgp-proto`: a zero-copy BGP-4 codec. It does no I/O, reads no clock and never panics on
//! any input: it turns bytes into checked views and owned values into bytes, and leaves
//! sockets, timers and decisions to its callers (`bgp-fsm`, `bgpd`).
//!
//! # The zero-copy contract
//!
//! Receiving is three steps, each checking what the next relies on:
//!
//! 1. [`frame_len`] looks at the start of a byte stream and says "need more bytes", "one
//!    message of N octets" or "header error" (RFC 4271 §4.1, §6.1: marker, length within
//!    19..=4096, or 65535 with Extended Message, type-specific minimums, known type). It
//!    reads only the 19-octet header. [`BgpCodec`] wraps it for `tokio_util` and hands out
//!    each message as `split_to(len).freeze()`, a [`bytes::Bytes`] sharing the read buffer.
//! 2. [`decode_with`] takes one framed message, the negotiated [`SessionContext`] (4-octet
//!    AS, ADD-PATH, Extended Message, families) and an [`UpdateVisitor`] of yours. OPEN,
//!    NOTIFICATION, KEEPALIVE and ROUTE-REFRESH come back as they are for [`decode`], which
//!    makes small owned values of them ([`Message`]). An UPDATE is checked in one walk over its bytes that visits each value as it passes it
//!    (every length field checked exactly once: withdrawn routes, path attributes, each
//!    attribute, each NLRI prefix) and classifies the attributes per RFC 7606 into a
//!    [`Verdict`]. The verdict is the variant of the answer ([`Decoded`]): your visitor
//!    comes back only when it is accept, so values RFC 7606 §2 says to ignore cannot be used.
//! 3. An accepted UPDATE comes back as your visitor, with the message's `Bytes` and whether
//!    it is an End-of-RIB marker; a treat-as-withdraw one as an [`UpdateView`] over the same
//!    `Bytes`, whose `prefixes()` are all to be withdrawn. A view's accessors and iterators
//!    cannot fail, panic or run past the end: they re-read bytes whose bounds were already
//!    proved. Nothing is copied until you ask for an owned value (`to_owned`, `attributes`).
//!
//! An `Err` from any step is a [`DecodeError`] or [`HeaderError`] that carries the exact
//! NOTIFICATION to send ([`DecodeError::notification`]); errors that RFC 7606 handles
//! without a reset (treat-as-withdraw, attribute discard) are not `Err`, they are the
//! verdict.
//!
//! Sending is the reverse: owned values ([`Open`], [`Notification`], [`RouteRefresh`],
//! `update::Update`) and the [`UpdateBuilder`] have `encode(&self, dst: &mut BytesMut)`
//! (the UPDATE ones take the context too) and append whole messages, header included.
//!
//! ```
//! use std::net::Ipv4Addr;
//!
//! use bgp_proto::attr::Nlri;
//! use bgp_proto::capability::Capability;
//! use bgp_proto::ipnet::IpNet;
//! use bgp_proto::{decode, decode_with, frame_len, Decoded, Family, Message, Open};
//! use bgp_proto::SessionContext;
//! use bgp_proto::UpdateVisitor;
//! use bytes::{BufMut, BytesMut};
//!
//! /// What this program keeps of an UPDATE. Every visitor method has an empty default:
//! /// implement the values you need (AS_PATH ASNs, communities, MED, ... are there too).
//! #[derive(Default)]
//! struct Keep {
//!     announced: Vec<IpNet>,
//!     withdrawn: Vec<IpNet>,
//!     next_hop: Option<Ipv4Addr>,
//! }
//! impl UpdateVisitor for Keep {
//!     fn announced(&mut self, n: Nlri) {
//!         self.announced.push(n.prefix);
//!     }
//!     fn withdrawn(&mut self, n: Nlri) {
//!         self.withdrawn.push(n.prefix);
//!     }
//!     fn next_hop(&mut self, a: Ipv4Addr) {
//!         self.next_hop = Some(a);
//!     }
//! }
//!
//! // The OPEN we sent, and a stream holding the peer's OPEN and an UPDATE, as read from a
//! // socket.
//! let ours = Open {
//!     my_as: 65000,
//!     hold_time: 90,
//!     bgp_id: "192.0.2.2".parse().unwrap(),
//!     capabilities: vec![
//!         Capability::Multiprotocol(Family::IPV4_UNICAST),
//!         Capability::FourOctetAs(65000),
//!     ],
//! };
//! let mut stream = BytesMut::new();
//! // A peer without the 4-octet AS capability: its AS_PATHs have 2-octet ASNs (RFC 6793).
//! let theirs = Open {
//!     my_as: 65001,
//!     bgp_id: "192.0.2.1".parse().unwrap(),
//!     capabilities: vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
//!     ..ours.clone()
//! };
//! theirs.encode(&mut stream);
//! stream.put_slice(&[
//!     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Marker
//!     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
//!     0x00, 0x2b, 0x02, // Length 43, UPDATE (RFC 4271 §4.3)
//!     0x00, 0x00, // Withdrawn Routes Length 0
//!     0x00, 0x12, // Total Path Attribute Length 18
//!     0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
//!     0x40, 0x02, 0x04, 0x02, 0x01, 0xfd, 0xe9, // AS_PATH: AS_SEQUENCE [65001]
//!     0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP 192.0.2.1
//!     0x08, 0x0a, // NLRI 10.0.0.0/8
//! ]);
//!
//! // Until the OPENs are exchanged a session has the default context; after, the
//! // negotiated one. (A capture without OPENs: `SessionContext::for_mrt` or `for_capture`.)
//! let mut cx = SessionContext::default();
//! let mut installed = Vec::new();
//! while let Some(len) = frame_len(&stream, cx.max_message_len())? {
//!     let msg = stream.split_to(len).freeze(); // no copy
//!     match decode_with(msg, &cx, Keep::default())? {
//!         Decoded::Update { values, .. } => {
//!             assert!(values.withdrawn.is_empty());
//!             assert_eq!(values.next_hop, Some(Ipv4Addr::new(192, 0, 2, 1)));
//!             installed.extend(values.announced);
//!         }
//!         // Treat-as-withdraw (RFC 7606 §2): the visitor is gone; every prefix of the
//!         // message is withdrawn.
//!         Decoded::WithdrawAll { view, reason, .. } => {
//!             eprintln!("treat-as-withdraw ({reason}): {} prefixes", view.prefixes().count());
//!         }
//!         // Not an UPDATE: decode it whole.
//!         Decoded::Other(msg) => match decode(msg, &cx)? {
//!             Message::Open(peer) => cx = SessionContext::from_opens(&ours, &peer),
//!             other => panic!("unexpected {:?}", other.kind()),
//!         },
//!     }
//! }
//! assert_eq!(installed, ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
//! assert!(stream.is_empty());
//! # Ok::<(), bgp_proto::DecodeError>(())
//! ```
//!
//! [`decode`] is the same without a visitor: an UPDATE comes back as a [`Message::Update`]
//! view, and [`UpdateView::routes`] hands out its prefixes with the verdict applied, the
//! accessors (`next_hop_attr`, `as_path`, `communities`, ...) its attributes. That reads the
//! message twice (the check, then the accessors), about 2.2-2.5 times the time of
//! `decode_with` (docs/benchmarks.md); use it when you need the whole view rather than values.
//!
//! Codepoints ([`MessageType`], [`CapabilityCode`], [`AttrType`], [`Afi`], [`Safi`],
//! [`ErrorCode`]) are open sets: unknown values are representable and pass through.
//! [`capture`] reads BGP messages out of MRT dumps and pcap files for tests and tools;
//! decode those with [`SessionContext::for_mrt`] or [`SessionContext::from_opens`] (the
//! crate's `examples/` do both). Prefixes are [`ipnet`] types, re-exported here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod attr;
pub mod capability;
pub mod capture;
#[cfg(feature = "codec")]
pub mod codec;
pub mod error;
pub mod header;
pub mod iana;
pub mod message;
pub mod notification;
pub mod open;
mod reader;
pub mod route_refresh;
pub mod session;
pub mod update;

pub use ipnet;

pub use addr::{family_of, is_martian, IpVersion};
pub use attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr,
};
pub use capability::{
    AddPathFamily, Capability, ExtendedNextHopEntry, GrFamily, GracefulRestart, LlgrFamily, Role,
};
#[cfg(feature = "codec")]
pub use codec::BgpCodec;
pub use error::{DecodeError, HeaderError};
pub use header::{frame_len, HEADER_LEN};
pub use iana::{Afi, AttrType, CapabilityCode, ErrorCode, Family, MessageType, Safi, AS_TRANS};
pub use message::{decode, decode_with, encode_keepalive, Decoded, Message};
pub use notification::Notification;
pub use open::Open;
pub use route_refresh::RouteRefresh;
pub use session::{FamilySet, SessionContext, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use update::{Prefixes, Routes, UpdateBuilder, UpdateView, UpdateVisitor, Verdict};
