//! `bgp-proto`: a zero-copy BGP-4 codec. It does no I/O, reads no clock and never panics on
//! any input.
//!
//! (Crate docs with the zero-copy contract and an example are written with the codec.)

#![forbid(unsafe_code)]

pub mod attr;
pub mod error;
pub mod iana;
pub mod notification;
pub mod session;
pub mod update;

pub use error::{DecodeError, HeaderError};
pub use iana::{Afi, AttrType, CapabilityCode, ErrorCode, Family, MessageType, Safi, AS_TRANS};
pub use notification::Notification;
pub use session::{FamilySet, SessionContext, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop,
    Nlri, Origin, PathAttributes, RawAttr,
};
pub use update::{UpdateBuilder, UpdateView, Verdict};
