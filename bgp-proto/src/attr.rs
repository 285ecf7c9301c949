//! Owned path attribute values (RFC 4271 §5 and extensions), used to encode and returned by
//! [`crate::update::UpdateView::attributes`].
//!
//! Each value has a strict wire parser (`decode_value`, returning `None` when the octets are
//! not exactly one well-formed value, so that `encode_value(decode_value(v)) == v`) and an
//! encoder of the attribute *value* (the attribute header is written by the UPDATE encoder,
//! which decides the flags).

use core::fmt;
use core::str::FromStr;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes};
use ipnet::IpNet;

use crate::iana::AttrType;

/// Attribute Flags bit: Optional (RFC 4271 §4.3).
pub const FLAG_OPTIONAL: u8 = 0x80;
/// Attribute Flags bit: Transitive (RFC 4271 §4.3).
pub const FLAG_TRANSITIVE: u8 = 0x40;
/// Attribute Flags bit: Partial (RFC 4271 §4.3).
pub const FLAG_PARTIAL: u8 = 0x20;
/// Attribute Flags bit: Extended Length, a 2-octet length follows (RFC 4271 §4.3).
pub const FLAG_EXTENDED_LENGTH: u8 = 0x10;

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Origin {
    #[default]
    /// IGP: learned from an interior protocol (value 0).
    Igp,
    /// EGP: learned by the EGP protocol (value 1).
    Egp,
    /// INCOMPLETE: learned some other way (value 2).
    Incomplete,
}

impl Origin {
    /// The wire value (RFC 4271 §4.3, type code 1).
    pub fn code(self) -> u8 {
        match self {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }
    }

    /// Parses the one-octet value; `None` for a length other than 1 or a value above 2
    /// (RFC 7606 §7.1).
    pub fn decode_value(v: &[u8]) -> Option<Origin> {
        match v {
            [0] => Some(Origin::Igp),
            [1] => Some(Origin::Egp),
            [2] => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

/// AS_PATH segment type (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsSegmentType {
    /// AS_SET (1): an unordered set of ASes.
    Set,
    /// AS_SEQUENCE (2): ASes in the order traversed.
    Sequence,
    /// AS_CONFED_SEQUENCE (3, RFC 5065 §3).
    ConfedSequence,
    /// AS_CONFED_SET (4, RFC 5065 §3).
    ConfedSet,
}

impl AsSegmentType {
    /// Wire code: AS_SET 1, AS_SEQUENCE 2 (RFC 4271 §4.3), AS_CONFED_SEQUENCE 3,
    /// AS_CONFED_SET 4 (RFC 5065 §3).
    pub fn code(self) -> u8 {
        match self {
            AsSegmentType::Set => 1,
            AsSegmentType::Sequence => 2,
            AsSegmentType::ConfedSequence => 3,
            AsSegmentType::ConfedSet => 4,
        }
    }

    /// The segment type of a wire code 1-4; `None` for any other.
    pub fn from_code(c: u8) -> Option<AsSegmentType> {
        match c {
            1 => Some(AsSegmentType::Set),
            2 => Some(AsSegmentType::Sequence),
            3 => Some(AsSegmentType::ConfedSequence),
            4 => Some(AsSegmentType::ConfedSet),
            _ => None,
        }
    }

    /// AS_CONFED_SEQUENCE or AS_CONFED_SET (RFC 5065).
    pub fn is_confed(self) -> bool {
        matches!(
            self,
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
        )
    }
}

/// One AS_PATH / AS4_PATH segment. ASNs are always held as 4-octet values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    /// The segment type.
    pub kind: AsSegmentType,
    /// The ASNs, in wire order.
    pub asns: Vec<u32>,
}

/// AS_PATH (RFC 4271 §5.1.2), after the RFC 6793 §4.2.3 merge with AS4_PATH when received
/// from a 2-octet speaker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    /// The segments, in wire order.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> AsPath {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: AsSegmentType::Sequence,
                asns,
            }],
        }
    }

    /// The leftmost AS of the first AS_SEQUENCE, the neighbour that sent the route.
    pub fn first_asn(&self) -> Option<u32> {
        let seg = self.segments.first()?;
        match seg.kind {
            AsSegmentType::Sequence => seg.asns.first().copied(),
            _ => None,
        }
    }

    /// Path length for route selection (RFC 4271 §9.1.2.2 a): an AS_SET counts as one,
    /// confederation segments do not count (RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                AsSegmentType::Sequence => s.asns.len(),
                AsSegmentType::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// Strict parse of an AS_PATH (`asn_len` 2 or 4) or AS4_PATH (`asn_len` 4) value:
    /// `None` for an unknown segment type, a zero-length segment, an overrun or trailing
    /// octets (RFC 7606 §7.2).
    pub fn decode_value(v: &[u8], asn_len: usize) -> Option<AsPath> {
        let mut segments = Vec::new();
        let mut rest = v;
        while let [t, n, tail @ ..] = rest {
            let kind = AsSegmentType::from_code(*t)?;
            let n = usize::from(*n);
            if n == 0 {
                return None;
            }
            let (body, tail) = tail.split_at_checked(n * asn_len)?;
            let asns = if asn_len == 4 {
                body.chunks_exact(4).map(be_u32_chunk).collect()
            } else {
                body.chunks_exact(2)
                    .map(|c| u32::from(be_u16_chunk(c)))
                    .collect()
            };
            segments.push(AsSegment { kind, asns });
            rest = tail;
        }
        if !rest.is_empty() {
            return None;
        }
        Some(AsPath { segments })
    }

    /// Encodes the value with `asn_len`-octet ASNs (2 or 4). With 2, ASNs above 65535 become
    /// AS_TRANS (RFC 6793 §4.2.2). Segments longer than 255 ASNs are split.
    pub fn encode_value(&self, asn_len: usize, dst: &mut impl BufMut) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                dst.put_u8(seg.kind.code());
                dst.put_u8(chunk.len() as u8); // chunks(255): at most 255
                for &asn in chunk {
                    if asn_len == 4 {
                        dst.put_u32(asn);
                    } else {
                        dst.put_u16(u16::try_from(asn).unwrap_or(crate::iana::AS_TRANS));
                    }
                }
            }
        }
    }

    /// Octets `encode_value` writes.
    pub fn encoded_len(&self, asn_len: usize) -> usize {
        self.segments
            .iter()
            .map(|s| {
                s.asns
                    .chunks(255)
                    .map(|c| 2 + c.len() * asn_len)
                    .sum::<usize>()
            })
            .sum()
    }

    /// Whether any ASN needs 4 octets.
    pub fn needs_four_octets(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|&a| a > 0xffff))
    }

    /// The path without confederation segments (what goes into AS4_PATH, RFC 6793 §4.2.2).
    pub fn without_confed(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        }
    }

    /// RFC 6793 §4.2.3: rebuild the path a 2-octet speaker sent as AS_PATH (with AS_TRANS) +
    /// AS4_PATH. Confederation segments in AS4_PATH are dropped; if AS4_PATH holds more ASNs
    /// than AS_PATH, AS4_PATH is ignored.
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let as4 = as4.without_confed();
        let n_as = self.path_len();
        let n_as4 = as4.path_len();
        if n_as < n_as4 {
            return self.clone();
        }
        let mut need = n_as - n_as4;
        let mut segments = Vec::new();
        for seg in &self.segments {
            if need == 0 && !seg.kind.is_confed() {
                break;
            }
            match seg.kind {
                AsSegmentType::Sequence => {
                    let take = need.min(seg.asns.len());
                    let asns = seg.asns.iter().take(take).copied().collect();
                    segments.push(AsSegment {
                        kind: seg.kind,
                        asns,
                    });
                    need -= take;
                }
                AsSegmentType::Set => {
                    segments.push(seg.clone());
                    need -= 1;
                }
                _ => segments.push(seg.clone()),
            }
        }
        let mut rest = as4.segments.into_iter();
        // Join the kept AS_SEQUENCE with a leading AS4_PATH AS_SEQUENCE into one segment.
        if let (Some(last), Some(first)) = (segments.last_mut(), rest.as_slice().first()) {
            if last.kind == AsSegmentType::Sequence && first.kind == AsSegmentType::Sequence {
                last.asns.extend_from_slice(&first.asns);
                rest.next();
            }
        }
        segments.extend(rest);
        AsPath { segments }
    }
}

impl fmt::Display for AsPath {
    /// `64512 64513 {64514,64515} (64516)`: sets in braces, confederation sequences in
    /// parentheses, confederation sets in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let (open, sep, close) = match seg.kind {
                AsSegmentType::Sequence => ("", " ", ""),
                AsSegmentType::Set => ("{", ",", "}"),
                AsSegmentType::ConfedSequence => ("(", " ", ")"),
                AsSegmentType::ConfedSet => ("[", ",", "]"),
            };
            f.write_str(open)?;
            for (j, a) in seg.asns.iter().enumerate() {
                if j > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// A COMMUNITIES value (RFC 1997): high 16 bits an AS, low 16 bits a local value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// RFC 1997.
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// RFC 1997.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// RFC 1997.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// RFC 3765.
    pub const NO_PEER: Community = Community(0xFFFF_FF04);
    /// RFC 8326, 65535:0.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// RFC 7611, 65535:1.
    pub const ACCEPT_OWN: Community = Community(0xFFFF_0001);
    /// RFC 9494, 65535:6.
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    /// RFC 9494, 65535:7.
    pub const NO_LLGR: Community = Community(0xFFFF_0007);
    /// RFC 7999, 65535:666.
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);

    const NAMED: [(Community, &'static str); 9] = [
        (Community::NO_EXPORT, "no-export"),
        (Community::NO_ADVERTISE, "no-advertise"),
        (Community::NO_EXPORT_SUBCONFED, "no-export-subconfed"),
        (Community::NO_PEER, "no-peer"),
        (Community::GRACEFUL_SHUTDOWN, "graceful-shutdown"),
        (Community::ACCEPT_OWN, "accept-own"),
        (Community::LLGR_STALE, "llgr-stale"),
        (Community::NO_LLGR, "no-llgr"),
        (Community::BLACKHOLE, "blackhole"),
    ];

    /// The community `asn:value` (RFC 1997).
    pub const fn new(asn: u16, value: u16) -> Community {
        Community(((asn as u32) << 16) | value as u32)
    }

    /// The high-order 16 bits (usually the AS that defines the community).
    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The low-order 16 bits.
    pub fn value(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The registry name of a well-known community.
    pub fn name(self) -> Option<&'static str> {
        Community::NAMED
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, n)| *n)
    }
}

impl fmt::Display for Community {
    /// `no-export` for well-known communities, else `64512:100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}:{}", self.asn(), self.value()),
        }
    }
}

/// Error parsing a community from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid community {0:?}")]
pub struct ParseCommunityError(pub String);

impl FromStr for Community {
    type Err = ParseCommunityError;
    /// Accepts `64512:100` and the names printed by `Display` (`no-export`, ...).
    fn from_str(s: &str) -> Result<Community, ParseCommunityError> {
        if let Some((c, _)) = Community::NAMED
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
        {
            return Ok(*c);
        }
        let err = || ParseCommunityError(s.to_string());
        let (a, v) = s.split_once(':').ok_or_else(err)?;
        Ok(Community::new(
            a.parse().map_err(|_| err())?,
            v.parse().map_err(|_| err())?,
        ))
    }
}

/// A LARGE_COMMUNITY value (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global Administrator (usually the defining AS).
    pub global: u32,
    /// Local Data Part 1.
    pub local1: u32,
    /// Local Data Part 2.
    pub local2: u32,
}

impl LargeCommunity {
    /// The community `global:local1:local2`.
    pub const fn new(global: u32, local1: u32, local2: u32) -> LargeCommunity {
        LargeCommunity {
            global,
            local1,
            local2,
        }
    }
}

impl fmt::Display for LargeCommunity {
    /// `64512:1:2` (RFC 8092 §3 canonical form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = ParseCommunityError;
    fn from_str(s: &str) -> Result<LargeCommunity, ParseCommunityError> {
        let err = || ParseCommunityError(s.to_string());
        let mut it = s.split(':');
        let mut next = || -> Result<u32, ParseCommunityError> {
            it.next().ok_or_else(err)?.parse().map_err(|_| err())
        };
        let c = LargeCommunity::new(next()?, next()?, next()?);
        if it.next().is_some() {
            return Err(err());
        }
        Ok(c)
    }
}

/// An EXTENDED_COMMUNITIES value (RFC 4360), kept as its 8 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl ExtCommunity {
    /// Sub-type of the Link Bandwidth community (draft-ietf-idr-link-bandwidth §2).
    pub const LINK_BANDWIDTH_SUBTYPE: u8 = 0x04;
    /// Type of the non-transitive two-octet-AS-specific Link Bandwidth community.
    pub const LINK_BANDWIDTH_NON_TRANSITIVE: u8 = 0x40;
    /// Type of the transitive two-octet-AS-specific form some vendors send.
    pub const LINK_BANDWIDTH_TRANSITIVE: u8 = 0x00;

    /// The Type octet (high-order octet; RFC 4360 §2).
    pub fn type_high(self) -> u8 {
        self.0[0]
    }

    /// The Sub-Type octet for the regular (8-octet, typed) form.
    pub fn subtype(self) -> u8 {
        self.0[1]
    }

    /// The Transitive bit is *clear* for transitive communities (RFC 4360 §2).
    pub fn is_transitive(self) -> bool {
        self.0[0] & 0x40 == 0
    }

    /// Route Target, two-octet AS specific (RFC 4360 §4: type 0x00, sub-type 0x02).
    pub fn route_target(asn: u16, value: u32) -> ExtCommunity {
        let [a0, a1] = asn.to_be_bytes();
        let [v0, v1, v2, v3] = value.to_be_bytes();
        ExtCommunity([0x00, 0x02, a0, a1, v0, v1, v2, v3])
    }

    /// Link Bandwidth (draft-ietf-idr-link-bandwidth §2): two-octet AS, then the bandwidth in
    /// bytes per second as an IEEE 754 single-precision float. Type 0x40 (non-transitive) or
    /// 0x00 (transitive), sub-type 0x04.
    pub fn link_bandwidth(asn: u16, bytes_per_sec: f32, transitive: bool) -> ExtCommunity {
        let t = if transitive {
            ExtCommunity::LINK_BANDWIDTH_TRANSITIVE
        } else {
            ExtCommunity::LINK_BANDWIDTH_NON_TRANSITIVE
        };
        let [a0, a1] = asn.to_be_bytes();
        let [b0, b1, b2, b3] = bytes_per_sec.to_bits().to_be_bytes();
        ExtCommunity([
            t,
            ExtCommunity::LINK_BANDWIDTH_SUBTYPE,
            a0,
            a1,
            b0,
            b1,
            b2,
            b3,
        ])
    }

    /// `(asn, bytes per second)` when this is a Link Bandwidth community (either form).
    pub fn as_link_bandwidth(self) -> Option<(u16, f32)> {
        let [t, st, a0, a1, b0, b1, b2, b3] = self.0;
        let is_lb = matches!(
            t,
            ExtCommunity::LINK_BANDWIDTH_NON_TRANSITIVE | ExtCommunity::LINK_BANDWIDTH_TRANSITIVE
        ) && st == ExtCommunity::LINK_BANDWIDTH_SUBTYPE;
        is_lb.then(|| {
            (
                u16::from_be_bytes([a0, a1]),
                f32::from_bits(u32::from_be_bytes([b0, b1, b2, b3])),
            )
        })
    }
}

/// AGGREGATOR (RFC 4271 §5.1.7), ASN widened to 4 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    /// The AS that formed the aggregate (4 octets; a 2-octet AS is widened).
    pub asn: u32,
    /// The BGP Identifier of that speaker.
    pub address: Ipv4Addr,
}

impl Aggregator {
    /// Strict parse: 6 octets with `asn_len` 2, 8 with 4 (RFC 7606 §7.7, RFC 6793 §3).
    pub fn decode_value(v: &[u8], asn_len: usize) -> Option<Aggregator> {
        match (asn_len, v) {
            (2, &[a0, a1, i0, i1, i2, i3]) => Some(Aggregator {
                asn: u32::from(u16::from_be_bytes([a0, a1])),
                address: Ipv4Addr::new(i0, i1, i2, i3),
            }),
            (4, &[a0, a1, a2, a3, i0, i1, i2, i3]) => Some(Aggregator {
                asn: u32::from_be_bytes([a0, a1, a2, a3]),
                address: Ipv4Addr::new(i0, i1, i2, i3),
            }),
            _ => None,
        }
    }

    /// Encodes with `asn_len`-octet AS (AS_TRANS when it does not fit, RFC 6793 §4.2.2).
    pub fn encode_value(&self, asn_len: usize, dst: &mut impl BufMut) {
        if asn_len == 4 {
            dst.put_u32(self.asn);
        } else {
            dst.put_u16(u16::try_from(self.asn).unwrap_or(crate::iana::AS_TRANS));
        }
        dst.put_slice(&self.address.octets());
    }
}

/// A route's next hop: the NEXT_HOP attribute, or the next hop of MP_REACH_NLRI
/// (RFC 4760 §3; RFC 2545 §3 for the 32-octet global + link-local form; RFC 8950 for an IPv6
/// next hop with IPv4 NLRI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// An IPv4 next hop (NEXT_HOP, or 4 octets in MP_REACH_NLRI).
    V4(Ipv4Addr),
    /// An IPv6 next hop (RFC 2545 §3), with its link-local address when 32 octets were sent.
    V6 {
        /// The global address.
        global: Ipv6Addr,
        /// The link-local address, when the next-hop field is 32 octets.
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// Parses an MP_REACH_NLRI next-hop field of 4, 16 or 32 octets.
    #[inline]
    pub fn decode_value(v: &[u8]) -> Option<NextHop> {
        match v.len() {
            4 => Some(NextHop::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
            16 => Some(NextHop::V6 {
                global: Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?),
                link_local: None,
            }),
            32 => {
                let (g, l) = v.split_at_checked(16)?;
                Some(NextHop::V6 {
                    global: Ipv6Addr::from(<[u8; 16]>::try_from(g).ok()?),
                    link_local: Some(Ipv6Addr::from(<[u8; 16]>::try_from(l).ok()?)),
                })
            }
            _ => None,
        }
    }

    /// Octets of the next-hop field: 4, 16 or 32.
    pub fn encoded_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 {
                link_local: None, ..
            } => 16,
            NextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }

    /// Appends the next-hop field as MP_REACH_NLRI carries it (4, 16 or 32 octets).
    pub fn encode_value(&self, dst: &mut impl BufMut) {
        match self {
            NextHop::V4(a) => dst.put_slice(&a.octets()),
            NextHop::V6 { global, link_local } => {
                dst.put_slice(&global.octets());
                if let Some(l) = link_local {
                    dst.put_slice(&l.octets());
                }
            }
        }
    }
}

/// A path attribute the codec does not interpret, kept raw (flags as received) so an optional
/// transitive one can be passed on with the Partial bit set (RFC 4271 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr {
    /// The flags octet as received.
    pub flags: u8,
    /// The attribute type code.
    pub type_code: AttrType,
    /// The value, without flags, type or length.
    pub value: Bytes,
}

/// The attributes of one route, excluding the next hop and the MP_* attributes, which the
/// UPDATE builder writes from its own arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PathAttributes {
    /// ORIGIN (RFC 4271 §5.1.1).
    pub origin: Origin,
    /// AS_PATH (RFC 4271 §5.1.2).
    pub as_path: AsPath,
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    pub med: Option<u32>,
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE is present (RFC 4271 §5.1.6).
    pub atomic_aggregate: bool,
    /// AGGREGATOR (RFC 4271 §5.1.7).
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES (RFC 1997).
    pub communities: Vec<Community>,
    /// EXTENDED_COMMUNITIES (RFC 4360).
    pub ext_communities: Vec<ExtCommunity>,
    /// LARGE_COMMUNITY values (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// ORIGINATOR_ID (RFC 4456 §8).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456 §8).
    pub cluster_list: Vec<Ipv4Addr>,
    /// Only To Customer (RFC 9234 §5).
    pub otc: Option<u32>,
    /// Attributes the codec does not model, passed on raw (RFC 4271 §5).
    pub unknown: Vec<RawAttr>,
}

/// One NLRI entry: a prefix and, with ADD-PATH, its path identifier (RFC 7911 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    /// The prefix, host bits cleared.
    pub prefix: IpNet,
    /// The ADD-PATH path identifier, when negotiated for the family (RFC 7911 §3).
    pub path_id: Option<u32>,
}

impl Nlri {
    /// A prefix without a path identifier.
    pub fn new(prefix: IpNet) -> Nlri {
        Nlri {
            prefix,
            path_id: None,
        }
    }

    /// A prefix with an ADD-PATH path identifier (RFC 7911 §3).
    pub fn with_path_id(prefix: IpNet, path_id: u32) -> Nlri {
        Nlri {
            prefix,
            path_id: Some(path_id),
        }
    }

    /// Octets on the wire: optional 4-octet path id, length octet, ceil(len / 8) octets
    /// (RFC 4271 §4.3, RFC 7911 §3).
    pub fn encoded_len(&self, add_path: bool) -> usize {
        let bytes = usize::from(self.prefix.prefix_len()).div_ceil(8);
        1 + bytes + if add_path { 4 } else { 0 }
    }

    /// Writes the NLRI encoding. Without `add_path` the path id is not written.
    pub fn encode(&self, add_path: bool, dst: &mut impl BufMut) {
        if add_path {
            dst.put_u32(self.path_id.unwrap_or(0));
        }
        let len = self.prefix.prefix_len();
        let n = usize::from(len).div_ceil(8);
        dst.put_u8(len);
        match self.prefix {
            IpNet::V4(p) => dst.put_slice(p.network().octets().get(..n).unwrap_or_default()),
            IpNet::V6(p) => dst.put_slice(p.network().octets().get(..n).unwrap_or_default()),
        }
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{} path-id {}", self.prefix, id),
            None => write!(f, "{}", self.prefix),
        }
    }
}

#[inline]
pub(crate) fn be_u16_chunk(c: &[u8]) -> u16 {
    match c {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn be_u32_chunk(c: &[u8]) -> u32 {
    match c {
        [a, b, d, e, ..] => u32::from_be_bytes([*a, *b, *d, *e]),
        _ => 0,
    }
}

/// Parses a value made of fixed-size items (COMMUNITIES, CLUSTER_LIST, ...): `None` when the
/// length is 0 or not a multiple of `N` (RFC 7606 §7.8, §7.10, §7.14, RFC 8092 §6).
pub(crate) fn decode_list<const N: usize, T>(v: &[u8], f: impl Fn([u8; N]) -> T) -> Option<Vec<T>> {
    if v.is_empty() || !v.len().is_multiple_of(N) {
        return None;
    }
    Some(
        v.chunks_exact(N)
            .filter_map(|c| <[u8; N]>::try_from(c).ok())
            .map(f)
            .collect(),
    )
}

pub(crate) fn decode_communities(v: &[u8]) -> Option<Vec<Community>> {
    decode_list::<4, _>(v, |b| Community(u32::from_be_bytes(b)))
}

pub(crate) fn decode_ext_communities(v: &[u8]) -> Option<Vec<ExtCommunity>> {
    decode_list::<8, _>(v, ExtCommunity)
}

pub(crate) fn decode_large_communities(v: &[u8]) -> Option<Vec<LargeCommunity>> {
    decode_list::<12, _>(v, |b| {
        let [g0, g1, g2, g3, a0, a1, a2, a3, c0, c1, c2, c3] = b;
        LargeCommunity::new(
            u32::from_be_bytes([g0, g1, g2, g3]),
            u32::from_be_bytes([a0, a1, a2, a3]),
            u32::from_be_bytes([c0, c1, c2, c3]),
        )
    })
}

pub(crate) fn decode_ipv4_list(v: &[u8]) -> Option<Vec<Ipv4Addr>> {
    decode_list::<4, _>(v, Ipv4Addr::from)
}

#[inline]
pub(crate) fn decode_u32(v: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes)
}

#[inline]
pub(crate) fn decode_ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn community_display_and_parse_both_forms() {
        assert_eq!(Community::NO_EXPORT.to_string(), "no-export");
        assert_eq!(Community::new(64512, 100).to_string(), "64512:100");
        assert_eq!(
            "64512:100".parse::<Community>(),
            Ok(Community::new(64512, 100))
        );
        assert_eq!("blackhole".parse::<Community>(), Ok(Community::BLACKHOLE));
        assert_eq!("65535:666".parse::<Community>(), Ok(Community::BLACKHOLE));
        assert_eq!(Community::GRACEFUL_SHUTDOWN, Community::new(65535, 0));
        assert!("65536:1".parse::<Community>().is_err());
        assert!("1:2:3".parse::<Community>().is_err());
    }

    #[test]
    fn large_community_display_and_parse() {
        let c = LargeCommunity::new(4_200_000_000, 1, 2);
        assert_eq!(c.to_string(), "4200000000:1:2");
        assert_eq!(c.to_string().parse::<LargeCommunity>(), Ok(c));
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
    }

    #[test]
    fn link_bandwidth_roundtrip() {
        let c = ExtCommunity::link_bandwidth(64512, 1.25e9, false);
        assert_eq!(c.0, [0x40, 0x04, 0xfc, 0x00, 0x4e, 0x95, 0x02, 0xf9]);
        assert_eq!(c.as_link_bandwidth(), Some((64512, 1.25e9)));
        assert!(!c.is_transitive());
        let t = ExtCommunity::link_bandwidth(1, 100.0, true);
        assert!(t.is_transitive());
        assert_eq!(t.as_link_bandwidth(), Some((1, 100.0)));
        assert_eq!(ExtCommunity::route_target(1, 2).as_link_bandwidth(), None);
    }

    #[test]
    fn as4_merge_rfc6793_4_2_3() {
        // AS_PATH 100 23456 200 from a 2-octet speaker, AS4_PATH 400000 200.
        let as_path = AsPath::from_sequence([100, 23456, 200]);
        let as4 = AsPath::from_sequence([400_000, 200]);
        let m = as_path.merge_as4(&as4);
        assert_eq!(
            m.segments
                .iter()
                .flat_map(|s| s.asns.clone())
                .collect::<Vec<_>>(),
            [100, 400_000, 200]
        );
        // AS4_PATH longer than AS_PATH: ignored.
        let long = AsPath::from_sequence([1, 2, 3, 4]);
        assert_eq!(as_path.merge_as4(&long), as_path);
    }
}
