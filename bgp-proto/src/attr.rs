//! Owned path attribute values (RFC 4271 §5 and extensions), used to encode and returned by
//! [`crate::update::UpdateView::attributes`].

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ipnet::IpNet;

use crate::iana::AttrType;

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Origin {
    #[default]
    Igp,
    Egp,
    Incomplete,
}

/// AS_PATH segment type (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsSegmentType {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

/// One AS_PATH / AS4_PATH segment. ASNs are always held as 4-octet values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: AsSegmentType,
    pub asns: Vec<u32>,
}

/// AS_PATH (RFC 4271 §5.1.2), after the RFC 6793 §4.2.3 merge with AS4_PATH when received
/// from a 2-octet speaker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

/// A COMMUNITIES value (RFC 1997).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

/// A LARGE_COMMUNITY value (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

/// An EXTENDED_COMMUNITIES value (RFC 4360), kept as its 8 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

/// AGGREGATOR (RFC 4271 §5.1.7), ASN widened to 4 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A route's next hop: the NEXT_HOP attribute, or the next hop of MP_REACH_NLRI
/// (RFC 4760 §3; RFC 2545 §3 for the 32-octet global + link-local form; RFC 8950 for an IPv6
/// next hop with IPv4 NLRI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    V4(Ipv4Addr),
    V6 { global: Ipv6Addr, link_local: Option<Ipv6Addr> },
}

/// A path attribute the codec does not interpret, kept raw (flags as received) so an optional
/// transitive one can be passed on with the Partial bit set (RFC 4271 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr {
    pub flags: u8,
    pub type_code: AttrType,
    pub value: Bytes,
}

/// The attributes of one route, excluding the next hop and the MP_* attributes, which the
/// UPDATE builder writes from its own arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PathAttributes {
    pub origin: Origin,
    pub as_path: AsPath,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    /// Only To Customer (RFC 9234 §5).
    pub otc: Option<u32>,
    pub unknown: Vec<RawAttr>,
}

/// One NLRI entry: a prefix and, with ADD-PATH, its path identifier (RFC 7911 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    pub prefix: IpNet,
    pub path_id: Option<u32>,
}
