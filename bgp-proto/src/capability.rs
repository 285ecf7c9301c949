//! Capabilities Optional Parameter (RFC 5492 §4) and the capabilities this speaker knows.
//!
//! Each capability is decoded from its value octets by [`Capability::decode`]; a value
//! whose length does not fit the capability's format is an error that the OPEN decoder
//! turns into NOTIFICATION 2/0 (as BIRD does). Unknown codes are kept raw.

use bytes::{BufMut, Bytes, BytesMut};

use crate::iana::{Afi, CapabilityCode, Family, Safi};
use crate::reader::Reader;

/// Largest capability value: the Capability Length field is one octet (RFC 5492 §4).
pub const MAX_CAPABILITY_VALUE_LEN: usize = 255;

/// One capability advertised in an OPEN (RFC 5492 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// Multiprotocol Extensions, code 1 (RFC 4760 §8): AFI (2), Reserved (1), SAFI (1).
    Multiprotocol(Family),
    /// Route Refresh, code 2 (RFC 2918 §2), empty value.
    RouteRefresh,
    /// Enhanced Route Refresh, code 70 (RFC 7313 §3.1), empty value.
    EnhancedRouteRefresh,
    /// Support for 4-octet AS numbers, code 65 (RFC 6793 §3): the speaker's AS.
    FourOctetAs(u32),
    /// ADD-PATH, code 69 (RFC 7911 §4): per family AFI (2), SAFI (1), Send/Receive (1).
    AddPath(Vec<AddPathFamily>),
    /// Graceful Restart, code 64 (RFC 4724 §3, RFC 8538 §2).
    GracefulRestart(GracefulRestart),
    /// Long-Lived Graceful Restart, code 71 (RFC 9494 §3): per family AFI (2), SAFI (1),
    /// flags (1), Long-lived Stale Time (3).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// Extended Message, code 6 (RFC 8654 §3), empty value.
    ExtendedMessage,
    /// Extended Next Hop Encoding, code 5 (RFC 8950 §3): NLRI AFI (2), NLRI SAFI (2),
    /// Nexthop AFI (2) per entry.
    ExtendedNextHop(Vec<ExtendedNextHopEntry>),
    /// BGP Role, code 9 (RFC 9234 §4.1), one octet.
    Role(Role),
    /// FQDN / hostname, code 73 (draft-walton-bgp-hostname-capability §3, as FRR sends it):
    /// hostname length (1), hostname, domain length (1), domain. Each octet of invalid UTF-8
    /// is replaced by `?` on decode, so the value re-encodes to the same length.
    Fqdn {
        /// The host name.
        hostname: String,
        /// The domain name.
        domain: String,
    },
    /// Any other capability, value kept raw (RFC 5492 §4: unknown capabilities are
    /// ignored, not rejected).
    Unknown {
        /// The capability code.
        code: CapabilityCode,
        /// The capability value.
        data: Bytes,
    },
}

/// One ADD-PATH family (RFC 7911 §4). Send/Receive values 1, 2, 3 map to receive, send,
/// both; 0 is decoded as neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    /// The family.
    pub family: Family,
    /// We may send (the peer receives) path identifiers.
    pub send: bool,
    /// We may receive path identifiers.
    pub receive: bool,
}

/// The Graceful Restart capability value (RFC 4724 §3, N bit from RFC 8538 §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GracefulRestart {
    /// Restart State (R) bit.
    pub restart_state: bool,
    /// Graceful Notification (N) bit, RFC 8538 §2.
    pub notification: bool,
    /// Restart Time in seconds, 12 bits (values above 4095 are encoded modulo 4096).
    pub restart_time: u16,
    /// The families whose state is preserved.
    pub families: Vec<GrFamily>,
}

/// One Graceful Restart family (RFC 4724 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrFamily {
    /// The family.
    pub family: Family,
    /// Forwarding State (F) bit.
    pub forwarding: bool,
}

/// One Long-Lived Graceful Restart family (RFC 9494 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LlgrFamily {
    /// The family.
    pub family: Family,
    /// Forwarding State (F) bit.
    pub forwarding: bool,
    /// Long-lived Stale Time in seconds, 24 bits (higher bits are not encoded).
    pub stale_time: u32,
}

/// One Extended Next Hop Encoding entry (RFC 8950 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedNextHopEntry {
    /// NLRI AFI and SAFI (the SAFI is 2 octets on the wire; values above 255 are rejected).
    pub nlri: Family,
    /// The AFI of the next hop (IPv6 for IPv4 NLRI with an IPv6 next hop).
    pub next_hop_afi: Afi,
}

/// BGP Role (RFC 9234 §4.1). An open set: unassigned values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Provider (0).
    Provider,
    /// Route Server (1).
    RouteServer,
    /// Route Server Client (2).
    RouteServerClient,
    /// Customer (3).
    Customer,
    /// Peer (4, lateral peer).
    Peer,
    /// An unassigned value (5..=255).
    Unknown(u8),
}

impl From<u8> for Role {
    fn from(v: u8) -> Role {
        match v {
            0 => Role::Provider,
            1 => Role::RouteServer,
            2 => Role::RouteServerClient,
            3 => Role::Customer,
            4 => Role::Peer,
            v => Role::Unknown(v),
        }
    }
}

impl From<Role> for u8 {
    fn from(r: Role) -> u8 {
        match r {
            Role::Provider => 0,
            Role::RouteServer => 1,
            Role::RouteServerClient => 2,
            Role::Customer => 3,
            Role::Peer => 4,
            Role::Unknown(v) => v,
        }
    }
}

const GR_R_BIT: u16 = 0x8000;
const GR_N_BIT: u16 = 0x4000;
const GR_TIME_MASK: u16 = 0x0fff;
const F_BIT: u8 = 0x80;

impl Capability {
    /// The capability code.
    pub fn code(&self) -> CapabilityCode {
        match self {
            Capability::Multiprotocol(_) => CapabilityCode::MULTIPROTOCOL,
            Capability::RouteRefresh => CapabilityCode::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => CapabilityCode::ENHANCED_ROUTE_REFRESH,
            Capability::FourOctetAs(_) => CapabilityCode::FOUR_OCTET_AS,
            Capability::AddPath(_) => CapabilityCode::ADD_PATH,
            Capability::GracefulRestart(_) => CapabilityCode::GRACEFUL_RESTART,
            Capability::LongLivedGracefulRestart(_) => CapabilityCode::LONG_LIVED_GRACEFUL_RESTART,
            Capability::ExtendedMessage => CapabilityCode::EXTENDED_MESSAGE,
            Capability::ExtendedNextHop(_) => CapabilityCode::EXTENDED_NEXT_HOP,
            Capability::Role(_) => CapabilityCode::ROLE,
            Capability::Fqdn { .. } => CapabilityCode::FQDN,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Decodes one capability from its code and value octets. `Err` names what is wrong
    /// with the value's length or format (the OPEN decoder answers 2/0).
    pub fn decode(code: CapabilityCode, value: &[u8]) -> Result<Capability, &'static str> {
        let mut r = Reader::new(value);
        let cap = match code {
            CapabilityCode::MULTIPROTOCOL => {
                let [a0, a1, _reserved, safi] = r
                    .array::<4>()
                    .ok_or("multiprotocol capability is not 4 octets")?;
                Capability::Multiprotocol(Family::new(
                    Afi(u16::from_be_bytes([a0, a1])),
                    Safi(safi),
                ))
            }
            CapabilityCode::ROUTE_REFRESH => Capability::RouteRefresh,
            CapabilityCode::ENHANCED_ROUTE_REFRESH => Capability::EnhancedRouteRefresh,
            CapabilityCode::EXTENDED_MESSAGE => Capability::ExtendedMessage,
            CapabilityCode::FOUR_OCTET_AS => {
                Capability::FourOctetAs(r.u32().ok_or("4-octet AS capability is not 4 octets")?)
            }
            CapabilityCode::ADD_PATH => {
                if !value.len().is_multiple_of(4) {
                    return Err("ADD-PATH capability length is not a multiple of 4");
                }
                // RFC 7911 §4: "If any other value [than 1, 2 or 3] is received, then the
                // capability SHOULD be treated as not understood and ignored [RFC5492]." It
                // stays visible, raw, as an unknown capability (no ADD-PATH is negotiated).
                if value
                    .chunks_exact(4)
                    .any(|t| !matches!(t.get(3), Some(1..=3)))
                {
                    return Ok(Capability::Unknown {
                        code,
                        data: Bytes::copy_from_slice(value),
                    });
                }
                let mut v = Vec::with_capacity(value.len() / 4);
                while let Some([a0, a1, safi, sr]) = r.array::<4>() {
                    v.push(AddPathFamily {
                        family: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(safi)),
                        receive: sr & 1 != 0,
                        send: sr & 2 != 0,
                    });
                }
                Capability::AddPath(v)
            }
            CapabilityCode::GRACEFUL_RESTART => {
                let flags = r
                    .u16()
                    .ok_or("graceful restart capability shorter than 2 octets")?;
                if !r.len().is_multiple_of(4) {
                    return Err("graceful restart capability length is not 2 + 4n");
                }
                let mut families = Vec::with_capacity(r.len() / 4);
                while let Some([a0, a1, safi, f]) = r.array::<4>() {
                    families.push(GrFamily {
                        family: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(safi)),
                        forwarding: f & F_BIT != 0,
                    });
                }
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: flags & GR_R_BIT != 0,
                    notification: flags & GR_N_BIT != 0,
                    restart_time: flags & GR_TIME_MASK,
                    families,
                })
            }
            CapabilityCode::LONG_LIVED_GRACEFUL_RESTART => {
                if !value.len().is_multiple_of(7) {
                    return Err("long-lived graceful restart length is not a multiple of 7");
                }
                let mut v = Vec::with_capacity(value.len() / 7);
                while let Some([a0, a1, safi, f, t0, t1, t2]) = r.array::<7>() {
                    v.push(LlgrFamily {
                        family: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(safi)),
                        forwarding: f & F_BIT != 0,
                        stale_time: u32::from_be_bytes([0, t0, t1, t2]),
                    });
                }
                Capability::LongLivedGracefulRestart(v)
            }
            CapabilityCode::EXTENDED_NEXT_HOP => {
                if !value.len().is_multiple_of(6) {
                    return Err("extended next hop capability length is not a multiple of 6");
                }
                let mut v = Vec::with_capacity(value.len() / 6);
                while let Some([a0, a1, s0, s1, n0, n1]) = r.array::<6>() {
                    if s0 != 0 {
                        return Err("extended next hop NLRI SAFI above 255");
                    }
                    v.push(ExtendedNextHopEntry {
                        nlri: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(s1)),
                        next_hop_afi: Afi(u16::from_be_bytes([n0, n1])),
                    });
                }
                Capability::ExtendedNextHop(v)
            }
            CapabilityCode::ROLE => {
                Capability::Role(Role::from(r.u8().ok_or("role capability is not 1 octet")?))
            }
            CapabilityCode::FQDN => {
                let hlen = r.u8().ok_or("FQDN capability is empty")?;
                let host = r.take(usize::from(hlen)).ok_or("FQDN hostname overruns")?;
                let dlen = r.u8().ok_or("FQDN capability has no domain length")?;
                let domain = r.take(usize::from(dlen)).ok_or("FQDN domain overruns")?;
                Capability::Fqdn {
                    hostname: lossy_ascii(host),
                    domain: lossy_ascii(domain),
                }
            }
            code => {
                return Ok(Capability::Unknown {
                    code,
                    data: Bytes::copy_from_slice(value),
                })
            }
        };
        if !r.is_empty() {
            return Err(match code {
                CapabilityCode::ROUTE_REFRESH => "route refresh capability is not empty",
                CapabilityCode::ENHANCED_ROUTE_REFRESH => {
                    "enhanced route refresh capability is not empty"
                }
                CapabilityCode::EXTENDED_MESSAGE => "extended message capability is not empty",
                CapabilityCode::FQDN => "FQDN capability has trailing octets",
                _ => "capability value longer than its format",
            });
        }
        Ok(cap)
    }

    /// Appends the capability's value (without code and length) to `out`. Values that
    /// would exceed 255 octets are cut to the entries (or octets) that fit; no decoded
    /// value is that long.
    pub fn encode_value(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            Capability::Multiprotocol(f) => {
                out.extend_from_slice(&f.afi.0.to_be_bytes());
                out.push(0);
                out.push(f.safi.0);
            }
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Capability::AddPath(families) => {
                for f in families.iter().take(MAX_CAPABILITY_VALUE_LEN / 4) {
                    out.extend_from_slice(&f.family.afi.0.to_be_bytes());
                    out.push(f.family.safi.0);
                    out.push(u8::from(f.receive) | (u8::from(f.send) << 1));
                }
            }
            Capability::GracefulRestart(gr) => {
                let mut flags = gr.restart_time & GR_TIME_MASK;
                if gr.restart_state {
                    flags |= GR_R_BIT;
                }
                if gr.notification {
                    flags |= GR_N_BIT;
                }
                out.extend_from_slice(&flags.to_be_bytes());
                for f in gr.families.iter().take((MAX_CAPABILITY_VALUE_LEN - 2) / 4) {
                    out.extend_from_slice(&f.family.afi.0.to_be_bytes());
                    out.push(f.family.safi.0);
                    out.push(if f.forwarding { F_BIT } else { 0 });
                }
            }
            Capability::LongLivedGracefulRestart(families) => {
                for f in families.iter().take(MAX_CAPABILITY_VALUE_LEN / 7) {
                    out.extend_from_slice(&f.family.afi.0.to_be_bytes());
                    out.push(f.family.safi.0);
                    out.push(if f.forwarding { F_BIT } else { 0 });
                    let [_, t0, t1, t2] = f.stale_time.to_be_bytes();
                    out.extend_from_slice(&[t0, t1, t2]);
                }
            }
            Capability::ExtendedNextHop(entries) => {
                for e in entries.iter().take(MAX_CAPABILITY_VALUE_LEN / 6) {
                    out.extend_from_slice(&e.nlri.afi.0.to_be_bytes());
                    out.extend_from_slice(&u16::from(e.nlri.safi.0).to_be_bytes());
                    out.extend_from_slice(&e.next_hop_afi.0.to_be_bytes());
                }
            }
            Capability::Role(role) => out.push(u8::from(*role)),
            Capability::Fqdn { hostname, domain } => {
                let host = hostname
                    .get(..hostname.floor_char_boundary(MAX_CAPABILITY_VALUE_LEN - 2))
                    .unwrap_or_default();
                let room = MAX_CAPABILITY_VALUE_LEN.saturating_sub(2 + host.len());
                let domain = domain
                    .get(..domain.floor_char_boundary(room))
                    .unwrap_or_default();
                out.push(u8::try_from(host.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(host.as_bytes());
                out.push(u8::try_from(domain.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(domain.as_bytes());
            }
            Capability::Unknown { data, .. } => {
                out.extend_from_slice(data.get(..MAX_CAPABILITY_VALUE_LEN).unwrap_or(data))
            }
        }
        debug_assert!(out.len().saturating_sub(start) <= MAX_CAPABILITY_VALUE_LEN);
    }

    /// Length of the encoded capability: code, length and value.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode_value(&mut v);
        v.len().saturating_add(2)
    }

    /// Appends code, length and value (RFC 5492 §4).
    pub fn encode(&self, dst: &mut BytesMut) {
        let mut v = Vec::new();
        self.encode_value(&mut v);
        dst.put_u8(self.code().0);
        dst.put_u8(u8::try_from(v.len()).unwrap_or(u8::MAX));
        dst.put_slice(&v);
    }
}

/// UTF-8 text with every octet of an invalid sequence replaced by `?` (one octet for one
/// octet, unlike U+FFFD).
fn lossy_ascii(v: &[u8]) -> String {
    let mut s = String::with_capacity(v.len());
    for chunk in v.utf8_chunks() {
        s.push_str(chunk.valid());
        s.extend(chunk.invalid().iter().map(|_| '?'));
    }
    s
}
