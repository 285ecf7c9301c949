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
//! 2. [`decode`] takes one framed message and the negotiated [`SessionContext`] (4-octet AS,
//!    ADD-PATH, Extended Message, families) and returns a [`Message`]. OPEN, NOTIFICATION
//!    and ROUTE-REFRESH are small and become owned values. An UPDATE becomes an
//!    [`UpdateView`] over the same `Bytes`: `new_checked` walks every length field exactly
//!    once (withdrawn routes, path attributes, each attribute, each NLRI prefix) and
//!    classifies the attributes per RFC 7606 into a [`Verdict`].
//! 3. After that check, the view's accessors and iterators cannot fail, panic or run past
//!    the end: they re-read bytes whose bounds were already proved. Nothing is copied until
//!    you ask for an owned value (`to_owned`, `attributes`).
//!
//! An `Err` from any step is a [`DecodeError`] or [`HeaderError`] that carries the exact
//! NOTIFICATION to send ([`DecodeError::notification`]); errors that RFC 7606 handles
//! without a reset (treat-as-withdraw, attribute discard) are not `Err`, they are the
//! view's verdict.
//!
//! Sending is the reverse: owned values ([`Open`], [`Notification`], [`RouteRefresh`],
//! `update::Update`) and the [`UpdateBuilder`] have `encode(&self, dst: &mut BytesMut)`
//! (the UPDATE ones take the context too) and append whole messages, header included.
//!
//! ```
//! use bgp_proto::{decode, frame_len, Message, Open, SessionContext, Verdict};
//! use bytes::{BufMut, BytesMut};
//!
//! // A stream holding an OPEN and an UPDATE, as read from a socket.
//! let mut stream = BytesMut::new();
//! let open = Open {
//!     my_as: 65001,
//!     hold_time: 90,
//!     bgp_id: "192.0.2.1".parse().unwrap(),
//!     capabilities: vec![],
//! };
//! open.encode(&mut stream);
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
//! let cx = SessionContext::default();
//! let mut prefixes = Vec::new();
//! while let Some(len) = frame_len(&stream, cx.max_message_len())? {
//!     let msg = stream.split_to(len).freeze(); // no copy
//!     match decode(msg, &cx)? {
//!         Message::Open(o) => assert_eq!(o.asn(), 65001),
//!         Message::Update(view) => {
//!             assert_eq!(view.verdict(), Verdict::Accept);
//!             prefixes.extend(view.announced().map(|n| n.prefix.to_string()));
//!         }
//!         other => panic!("unexpected {:?}", other.kind()),
//!     }
//! }
//! assert_eq!(prefixes, ["10.0.0.0/8"]);
//! assert!(stream.is_empty());
//! # Ok::<(), bgp_proto::DecodeError>(())
//! ```
//!
//! Codepoints ([`MessageType`], [`CapabilityCode`], [`AttrType`], [`Afi`], [`Safi`],
//! [`ErrorCode`]) are open sets: unknown values are representable and pass through.
//! [`capture`] reads BGP messages out of MRT dumps and pcap files for tests and tools.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
pub use message::{decode, encode_keepalive, Message};
pub use notification::Notification;
pub use open::Open;
pub use route_refresh::RouteRefresh;
pub use session::{FamilySet, SessionContext, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use update::{UpdateBuilder, UpdateView, UpdateVisitor, Verdict};
