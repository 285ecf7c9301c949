//! Next-hop messages of rtnetlink (`include/uapi/linux/nexthop.h`), which netlink-packet-route
//! 0.34 does not have: `RTM_NEWNEXTHOP`, `RTM_DELNEXTHOP`, `RTM_GETNEXTHOP` and the bucket
//! messages of resilient groups (`RTM_NEWNEXTHOPBUCKET`, `RTM_GETNEXTHOPBUCKET`).
//!
//! A message is `struct nhmsg` (8 octets) followed by attributes. [`NexthopMessage::parse`]
//! walks every attribute with netlink-packet-core's checked iterator and checks every value's
//! length before reading it: a malformed kernel reply is an error, never a panic. Attributes
//! this code does not know are skipped (newer kernels add some, e.g. `NHA_OP_FLAGS`).
//! [`NexthopMessage::emit`] writes the attributes a request needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NlaBuffer, NlasIterator, NLA_F_NESTED, NLA_TYPE_MASK};

/// `RTM_NEWNEXTHOP` (include/uapi/linux/rtnetlink.h).
pub const RTM_NEWNEXTHOP: u16 = 104;
/// `RTM_DELNEXTHOP`.
pub const RTM_DELNEXTHOP: u16 = 105;
/// `RTM_GETNEXTHOP`.
pub const RTM_GETNEXTHOP: u16 = 106;
/// `RTM_NEWNEXTHOPBUCKET`: one bucket of a resilient group, in a bucket dump.
pub const RTM_NEWNEXTHOPBUCKET: u16 = 116;
/// `RTM_GETNEXTHOPBUCKET`.
pub const RTM_GETNEXTHOPBUCKET: u16 = 118;

const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_GROUP_TYPE: u16 = 3;
const NHA_BLACKHOLE: u16 = 4;
const NHA_OIF: u16 = 5;
const NHA_GATEWAY: u16 = 6;
const NHA_GROUPS: u16 = 9;
const NHA_RES_GROUP: u16 = 12;
const NHA_RES_BUCKET: u16 = 13;

const NHA_RES_GROUP_BUCKETS: u16 = 1;
const NHA_RES_GROUP_IDLE_TIMER: u16 = 2;
const NHA_RES_GROUP_UNBALANCED_TIMER: u16 = 3;
const NHA_RES_GROUP_UNBALANCED_TIME: u16 = 4;

const NHA_RES_BUCKET_INDEX: u16 = 1;
const NHA_RES_BUCKET_IDLE_TIME: u16 = 2;
const NHA_RES_BUCKET_NH_ID: u16 = 3;

/// `NEXTHOP_GRP_TYPE_MPATH`.
pub const GROUP_TYPE_MPATH: u16 = 0;
/// `NEXTHOP_GRP_TYPE_RES`.
pub const GROUP_TYPE_RES: u16 = 1;

/// `USER_HZ`: the unit of the `clock_t` timers is 1/100 s on every Linux architecture's ABI.
pub const USER_HZ: u32 = 100;

const NHMSG_LEN: usize = 8;
const GROUP_ENTRY_LEN: usize = 8;

/// Why a next-hop message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer than 8 octets: no `struct nhmsg`.
    #[error("next-hop message shorter than struct nhmsg ({0} octets)")]
    Short(usize),
    /// An attribute header or length does not fit the message.
    #[error("malformed attribute in a next-hop message: {0}")]
    Attribute(String),
    /// An attribute value of the wrong length.
    #[error("{attr} has {len} octets")]
    Length {
        /// The attribute's name, e.g. `NHA_ID`.
        attr: &'static str,
        /// Its length in octets.
        len: usize,
    },
}

/// `struct nhmsg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NhHeader {
    /// `AF_INET`, `AF_INET6`, or `AF_UNSPEC` for groups.
    pub family: u8,
    /// Reported by the kernel only.
    pub scope: u8,
    /// The protocol that installed the object (`nh_protocol`).
    pub protocol: u8,
    /// `RTNH_F_*` flags.
    pub flags: u32,
}

/// One entry of `NHA_GROUP` (`struct nexthop_grp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupEntry {
    /// The member's next-hop object id.
    pub id: u32,
    /// The weight, from 1: the kernel stores weight - 1 in one octet, and newer kernels
    /// the high bits in the next octet (`weight_high`).
    pub weight: u32,
}

/// `NHA_RES_GROUP`: the parameters of a resilient group. Timers are in `clock_t` (1/100 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResGroup {
    /// Number of buckets (`NHA_RES_GROUP_BUCKETS`).
    pub buckets: Option<u16>,
    /// `NHA_RES_GROUP_IDLE_TIMER`, `clock_t`.
    pub idle_timer: Option<u32>,
    /// `NHA_RES_GROUP_UNBALANCED_TIMER`, `clock_t`; 0 = never.
    pub unbalanced_timer: Option<u32>,
    /// Reported only: how long the group has been unbalanced.
    pub unbalanced_time: Option<u64>,
}

/// `NHA_RES_BUCKET`: one bucket of a resilient group (bucket dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResBucket {
    /// The bucket's index (`NHA_RES_BUCKET_INDEX`).
    pub index: Option<u16>,
    /// `clock_t` since the bucket last forwarded a packet.
    pub idle_time: Option<u64>,
    /// The next-hop object the bucket forwards to (`NHA_RES_BUCKET_NH_ID`).
    pub nexthop: Option<u32>,
}

/// A next-hop object, or a bucket of one, as requested or reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NexthopMessage {
    /// The `struct nhmsg` header.
    pub header: NhHeader,
    /// `NHA_ID`: the object's id.
    pub id: Option<u32>,
    /// `NHA_GROUP`: the members, for a group.
    pub group: Option<Vec<GroupEntry>>,
    /// `NHA_GROUP_TYPE`: `NEXTHOP_GRP_TYPE_MPATH` or `NEXTHOP_GRP_TYPE_RES`.
    pub group_type: Option<u16>,
    /// `NHA_BLACKHOLE`: drops packets.
    pub blackhole: bool,
    /// `NHA_OIF`: the device.
    pub oif: Option<u32>,
    /// `NHA_GATEWAY`: the next hop's address.
    pub gateway: Option<IpAddr>,
    /// Dump filter: groups only.
    pub groups_only: bool,
    /// `NHA_RES_GROUP`: the resilient group's parameters.
    pub res_group: Option<ResGroup>,
    /// `NHA_RES_BUCKET`: one bucket, in a bucket dump.
    pub res_bucket: Option<ResBucket>,
}

impl NexthopMessage {
    /// Reads `struct nhmsg` and its attributes.
    pub fn parse(buf: &[u8]) -> Result<NexthopMessage, WireError> {
        let (head, attrs) = match (buf.get(..NHMSG_LEN), buf.get(NHMSG_LEN..)) {
            (Some(h), Some(a)) => (h, a),
            _ => return Err(WireError::Short(buf.len())),
        };
        let mut m = NexthopMessage {
            header: NhHeader {
                family: head[0],
                scope: head[1],
                protocol: head[2],
                flags: u32::from_ne_bytes([head[4], head[5], head[6], head[7]]),
            },
            ..NexthopMessage::default()
        };
        for nla in NlasIterator::new(attrs) {
            let nla = nla.map_err(|e| WireError::Attribute(e.to_string()))?;
            let v = nla_value(&nla)?;
            match nla.kind() & NLA_TYPE_MASK {
                NHA_ID => m.id = Some(u32_of(v, "NHA_ID")?),
                NHA_GROUP => m.group = Some(group_of(v)?),
                NHA_GROUP_TYPE => m.group_type = Some(u16_of(v, "NHA_GROUP_TYPE")?),
                NHA_BLACKHOLE => m.blackhole = true,
                NHA_OIF => m.oif = Some(u32_of(v, "NHA_OIF")?),
                NHA_GATEWAY => m.gateway = Some(addr_of(v)?),
                NHA_GROUPS => m.groups_only = true,
                NHA_RES_GROUP => m.res_group = Some(res_group_of(v)?),
                NHA_RES_BUCKET => m.res_bucket = Some(res_bucket_of(v)?),
                _ => {}
            }
        }
        Ok(m)
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        let mut n = NHMSG_LEN;
        let attr = |len: usize| 4 + align(len);
        n += self.id.map_or(0, |_| attr(4));
        n += self
            .group
            .as_ref()
            .map_or(0, |g| attr(g.len() * GROUP_ENTRY_LEN));
        n += self.group_type.map_or(0, |_| attr(2));
        n += if self.blackhole { attr(0) } else { 0 };
        n += self.oif.map_or(0, |_| attr(4));
        n += self.gateway.map_or(0, |g| attr(addr_len(g)));
        n += if self.groups_only { attr(0) } else { 0 };
        n += self.res_group.map_or(0, |r| attr(res_group_len(&r)));
        n
    }

    /// Writes the message (header and the request attributes; bucket data is never sent).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&[
            self.header.family,
            self.header.scope,
            self.header.protocol,
            0,
        ]);
        out.extend_from_slice(&self.header.flags.to_ne_bytes());
        if let Some(id) = self.id {
            put(out, NHA_ID, &id.to_ne_bytes());
        }
        if let Some(group) = &self.group {
            let mut v = Vec::with_capacity(group.len() * GROUP_ENTRY_LEN);
            for e in group {
                let w = e.weight.clamp(1, 65536) - 1;
                v.extend_from_slice(&e.id.to_ne_bytes());
                v.push((w & 0xff) as u8);
                v.push((w >> 8) as u8);
                v.extend_from_slice(&[0, 0]);
            }
            put(out, NHA_GROUP, &v);
        }
        if let Some(t) = self.group_type {
            put(out, NHA_GROUP_TYPE, &t.to_ne_bytes());
        }
        if self.blackhole {
            put(out, NHA_BLACKHOLE, &[]);
        }
        if let Some(oif) = self.oif {
            put(out, NHA_OIF, &oif.to_ne_bytes());
        }
        match self.gateway {
            Some(IpAddr::V4(a)) => put(out, NHA_GATEWAY, &a.octets()),
            Some(IpAddr::V6(a)) => put(out, NHA_GATEWAY, &a.octets()),
            None => {}
        }
        if self.groups_only {
            put(out, NHA_GROUPS, &[]);
        }
        if let Some(r) = &self.res_group {
            let mut v = Vec::new();
            if let Some(b) = r.buckets {
                put(&mut v, NHA_RES_GROUP_BUCKETS, &b.to_ne_bytes());
            }
            if let Some(t) = r.idle_timer {
                put(&mut v, NHA_RES_GROUP_IDLE_TIMER, &t.to_ne_bytes());
            }
            if let Some(t) = r.unbalanced_timer {
                put(&mut v, NHA_RES_GROUP_UNBALANCED_TIMER, &t.to_ne_bytes());
            }
            put(out, NHA_RES_GROUP | NLA_F_NESTED, &v);
        }
    }
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn addr_len(a: IpAddr) -> usize {
    if a.is_ipv4() {
        4
    } else {
        16
    }
}

fn res_group_len(r: &ResGroup) -> usize {
    r.buckets.map_or(0, |_| 8) + r.idle_timer.map_or(0, |_| 8) + r.unbalanced_timer.map_or(0, |_| 8)
}

/// Appends one attribute, padded to 4 octets.
fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = (4 + value.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + align(value.len()) - value.len(), 0);
}

/// The value of a checked attribute: `NlaBuffer::new_checked` proved 4 <= length <= buffer.
fn nla_value<'a>(nla: &NlaBuffer<&'a [u8]>) -> Result<&'a [u8], WireError> {
    let inner: &'a [u8] = nla.into_inner();
    inner
        .get(4..usize::from(nla.length()))
        .ok_or_else(|| WireError::Attribute(format!("length {}", nla.length())))
}

fn u16_of(v: &[u8], attr: &'static str) -> Result<u16, WireError> {
    <[u8; 2]>::try_from(v)
        .map(u16::from_ne_bytes)
        .map_err(|_| WireError::Length { attr, len: v.len() })
}

fn u32_of(v: &[u8], attr: &'static str) -> Result<u32, WireError> {
    <[u8; 4]>::try_from(v)
        .map(u32::from_ne_bytes)
        .map_err(|_| WireError::Length { attr, len: v.len() })
}

fn u64_of(v: &[u8], attr: &'static str) -> Result<u64, WireError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_ne_bytes)
        .map_err(|_| WireError::Length { attr, len: v.len() })
}

fn addr_of(v: &[u8]) -> Result<IpAddr, WireError> {
    if let Ok(a) = <[u8; 4]>::try_from(v) {
        Ok(IpAddr::V4(Ipv4Addr::from(a)))
    } else if let Ok(a) = <[u8; 16]>::try_from(v) {
        Ok(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        Err(WireError::Length {
            attr: "NHA_GATEWAY",
            len: v.len(),
        })
    }
}

fn group_of(v: &[u8]) -> Result<Vec<GroupEntry>, WireError> {
    if !v.len().is_multiple_of(GROUP_ENTRY_LEN) {
        return Err(WireError::Length {
            attr: "NHA_GROUP",
            len: v.len(),
        });
    }
    Ok(v.chunks_exact(GROUP_ENTRY_LEN)
        .map(|e| GroupEntry {
            id: u32::from_ne_bytes([e[0], e[1], e[2], e[3]]),
            weight: (u32::from(e[5]) << 8 | u32::from(e[4])) + 1,
        })
        .collect())
}

fn res_group_of(v: &[u8]) -> Result<ResGroup, WireError> {
    let mut r = ResGroup::default();
    for nla in NlasIterator::new(v) {
        let nla = nla.map_err(|e| WireError::Attribute(e.to_string()))?;
        let v = nla_value(&nla)?;
        match nla.kind() & NLA_TYPE_MASK {
            NHA_RES_GROUP_BUCKETS => r.buckets = Some(u16_of(v, "NHA_RES_GROUP_BUCKETS")?),
            NHA_RES_GROUP_IDLE_TIMER => r.idle_timer = Some(u32_of(v, "NHA_RES_GROUP_IDLE_TIMER")?),
            NHA_RES_GROUP_UNBALANCED_TIMER => {
                r.unbalanced_timer = Some(u32_of(v, "NHA_RES_GROUP_UNBALANCED_TIMER")?)
            }
            NHA_RES_GROUP_UNBALANCED_TIME => {
                r.unbalanced_time = Some(u64_of(v, "NHA_RES_GROUP_UNBALANCED_TIME")?)
            }
            _ => {}
        }
    }
    Ok(r)
}

fn res_bucket_of(v: &[u8]) -> Result<ResBucket, WireError> {
    let mut b = ResBucket::default();
    for nla in NlasIterator::new(v) {
        let nla = nla.map_err(|e| WireError::Attribute(e.to_string()))?;
        let v = nla_value(&nla)?;
        match nla.kind() & NLA_TYPE_MASK {
            NHA_RES_BUCKET_INDEX => b.index = Some(u16_of(v, "NHA_RES_BUCKET_INDEX")?),
            NHA_RES_BUCKET_IDLE_TIME => b.idle_time = Some(u64_of(v, "NHA_RES_BUCKET_IDLE_TIME")?),
            NHA_RES_BUCKET_NH_ID => b.nexthop = Some(u32_of(v, "NHA_RES_BUCKET_NH_ID")?),
            _ => {}
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests;
