//! `bgp-proto`: a zero-copy BGP-4 codec. It does no I/O, reads no clock and never panics on
//! any input.
//!
//! (Crate docs with the zero-copy contract and an example are written with the codec.)

#![forbid(unsafe_code)]

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
pub mod route_refresh;
pub mod session;
pub mod update;

pub use attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr,
};
pub use capability::{
    AddPathFamily, Capability, ExtendedNextHopEntry, GracefulRestart, GrFamily, LlgrFamily, Role,
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
pub use update::{UpdateBuilder, UpdateView, Verdict};
