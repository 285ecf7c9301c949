//! OPEN message (RFC 4271 §4.2) with Optional Parameters (RFC 5492 §4) and the Extended
//! Optional Parameters Length (RFC 9072).
//!
//! Decoding checks structure only: version, parameter framing and capability formats.
//! Semantic checks (peer AS, hold time, BGP Identifier, AS 0) are the session's job.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::capability::Capability;
use crate::error::{DecodeError, HeaderError};
use crate::header::{frame_len, put_header, HEADER_LEN, MIN_OPEN_LEN};
use crate::iana::{CapabilityCode, ErrorCode, Family, MessageType};
use crate::notification::open as subcode;
use crate::reader::Reader;
use crate::session::MAX_MESSAGE_LEN;

/// The only BGP version (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;
/// Optional Parameter Type: Capabilities (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;
/// Non-Ext OP Type that announces the RFC 9072 extended format.
pub const PARAM_EXTENDED_LENGTH: u8 = 255;

/// RFC 4271 §4.2, OPEN Message Format. The version is always 4.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// My Autonomous System: the 2-octet AS, or AS_TRANS (23456) for a 4-octet AS
    /// (RFC 6793 §4.1).
    pub my_as: u16,
    /// Hold Time in seconds (0, or at least 3: the session checks that).
    pub hold_time: u16,
    /// BGP Identifier.
    pub bgp_id: Ipv4Addr,
    /// Capabilities in the order received (all Capabilities Optional Parameters merged).
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// Decodes one whole OPEN (header included, as framed by [`frame_len`]).
    ///
    /// - version other than 4: 2/1 with Data `00 04`, the largest version we support
    ///   (RFC 4271 §6.2);
    /// - an Optional Parameter type other than Capabilities: 2/4 with the parameter as Data
    ///   (RFC 4271 §6.2; BIRD does the same);
    /// - parameter lengths that do not add up, or a capability whose length does not fit
    ///   its format: 2/0 (RFC 5492 §3 leaves the subcode open; BIRD sends 2/0);
    /// - two 4-octet AS capabilities with different values: 2/2 (project decision D11).
    pub fn decode(msg: &[u8]) -> Result<Open, DecodeError> {
        match frame_len(msg, MAX_MESSAGE_LEN) {
            Ok(Some(len)) if len == msg.len() => {}
            Ok(_) => {
                let len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
                return Err(HeaderError::BadLength(len).into());
            }
            Err(e) => return Err(e.into()),
        }
        if msg.get(18) != Some(&MessageType::OPEN.0) {
            return Err(HeaderError::BadType(msg.get(18).copied().unwrap_or(0)).into());
        }
        Open::decode_body(msg.get(HEADER_LEN..).unwrap_or_default())
    }

    fn decode_body(body: &[u8]) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body);
        let (Some(version), Some(my_as), Some(hold_time), Some(id), Some(opt_len)) =
            (r.u8(), r.u16(), r.u16(), r.array::<4>(), r.u8())
        else {
            return Err(unspecific("OPEN shorter than 29 octets"));
        };
        if version != BGP_VERSION {
            return Err(DecodeError::reset(
                ErrorCode::OPEN_MESSAGE,
                subcode::UNSUPPORTED_VERSION,
                Bytes::from_static(&[0, BGP_VERSION]),
                "unsupported BGP version",
            ));
        }
        // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255.
        let extended = opt_len == 255 && r.rest().first() == Some(&PARAM_EXTENDED_LENGTH);
        let params = if extended {
            r.u8();
            let len = r
                .u16()
                .ok_or_else(|| unspecific("extended parameters length missing"))?;
            r.take(usize::from(len))
        } else {
            r.take(usize::from(opt_len))
        };
        let params = params.ok_or_else(|| unspecific("optional parameters overrun the OPEN"))?;
        if !r.is_empty() {
            return Err(unspecific("octets after the optional parameters"));
        }
        let mut capabilities = Vec::new();
        let mut p = Reader::new(params);
        while !p.is_empty() {
            let param_start = p.rest();
            let kind = p
                .u8()
                .ok_or_else(|| unspecific("truncated optional parameter"))?;
            let len = if extended {
                p.u16()
            } else {
                p.u8().map(u16::from)
            };
            let value = len
                .and_then(|len| p.take(usize::from(len)))
                .ok_or_else(|| unspecific("optional parameter overruns the parameters"))?;
            if kind != PARAM_CAPABILITIES {
                return Err(DecodeError::reset(
                    ErrorCode::OPEN_MESSAGE,
                    subcode::UNSUPPORTED_OPTIONAL_PARAMETER,
                    // The whole parameter (type, length, value) as Data, as BIRD sends.
                    Bytes::copy_from_slice(
                        param_start
                            .get(..param_start.len().saturating_sub(p.len()))
                            .unwrap_or_default(),
                    ),
                    "unsupported optional parameter",
                ));
            }
            decode_capabilities(value, &mut capabilities)?;
        }
        let mut four_octet = None;
        for cap in &capabilities {
            if let Capability::FourOctetAs(asn) = cap {
                if four_octet.is_some_and(|prev| prev != *asn) {
                    return Err(DecodeError::reset(
                        ErrorCode::OPEN_MESSAGE,
                        subcode::BAD_PEER_AS,
                        Bytes::new(),
                        "conflicting 4-octet AS capabilities",
                    ));
                }
                four_octet = Some(*asn);
            }
        }
        Ok(Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
    }

    /// The speaker's AS: the 4-octet AS capability's value if present, else `my_as`
    /// (RFC 6793 §4.1).
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// Whether a capability with `code` was advertised.
    pub fn has(&self, code: CapabilityCode) -> bool {
        self.capabilities.iter().any(|c| c.code() == code)
    }

    /// The families of the Multiprotocol capabilities (RFC 4760 §8).
    pub fn families(&self) -> impl Iterator<Item = Family> + '_ {
        self.capabilities.iter().filter_map(|c| match c {
            Capability::Multiprotocol(f) => Some(*f),
            _ => None,
        })
    }

    /// Encoded length, header included.
    pub fn encoded_len(&self) -> usize {
        let caps = self.capabilities_octets();
        MIN_OPEN_LEN.saturating_add(params_len(caps.len()))
    }

    /// Appends the OPEN to `dst`. All capabilities go into one Capabilities Optional
    /// Parameter; the RFC 9072 extended form is used only when the parameters exceed 255
    /// octets (project decision D9). Keeping the message within 4096 octets is the
    /// caller's business (a real capability set is far smaller).
    pub fn encode(&self, dst: &mut BytesMut) {
        let caps = self.capabilities_octets();
        let params = params_len(caps.len());
        let len = MIN_OPEN_LEN.saturating_add(params);
        dst.reserve(len);
        put_header(
            dst,
            u16::try_from(len).unwrap_or(u16::MAX),
            MessageType::OPEN,
        );
        dst.put_u8(BGP_VERSION);
        dst.put_u16(self.my_as);
        dst.put_u16(self.hold_time);
        dst.put_slice(&self.bgp_id.octets());
        if caps.is_empty() {
            dst.put_u8(0);
        } else if params <= 255 {
            dst.put_u8(u8::try_from(params).unwrap_or(u8::MAX));
            dst.put_u8(PARAM_CAPABILITIES);
            dst.put_u8(u8::try_from(caps.len()).unwrap_or(u8::MAX));
            dst.put_slice(&caps);
        } else {
            // RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, Extended Opt. Parm.
            // Length (2), then parameters with 2-octet lengths.
            dst.put_u8(255);
            dst.put_u8(PARAM_EXTENDED_LENGTH);
            dst.put_u16(u16::try_from(caps.len().saturating_add(3)).unwrap_or(u16::MAX));
            dst.put_u8(PARAM_CAPABILITIES);
            dst.put_u16(u16::try_from(caps.len()).unwrap_or(u16::MAX));
            dst.put_slice(&caps);
        }
    }

    fn capabilities_octets(&self) -> BytesMut {
        let mut caps = BytesMut::new();
        for c in &self.capabilities {
            c.encode(&mut caps);
        }
        // Keep within what the extended parameter length can describe.
        caps.truncate(usize::from(u16::MAX) - 6);
        caps
    }
}

/// Octets after Opt Parm Len for `caps` octets of capabilities in one parameter.
fn params_len(caps: usize) -> usize {
    match caps {
        0 => 0,
        n if n.saturating_add(2) <= 255 => n.saturating_add(2),
        n => n.saturating_add(6), // 255-type, 2-octet length, type, 2-octet length
    }
}

fn decode_capabilities(mut value: &[u8], out: &mut Vec<Capability>) -> Result<(), DecodeError> {
    while let Some((&code, rest)) = value.split_first() {
        let (&len, rest) = rest
            .split_first()
            .ok_or_else(|| unspecific("truncated capability header"))?;
        let (data, rest) = rest
            .split_at_checked(usize::from(len))
            .ok_or_else(|| unspecific("capability overruns its optional parameter"))?;
        out.push(Capability::decode(CapabilityCode(code), data).map_err(unspecific)?);
        value = rest;
    }
    Ok(())
}

fn unspecific(reason: &'static str) -> DecodeError {
    DecodeError::reset(
        ErrorCode::OPEN_MESSAGE,
        subcode::UNSPECIFIC,
        Bytes::new(),
        reason,
    )
}
