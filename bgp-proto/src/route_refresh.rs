//! ROUTE-REFRESH message (RFC 2918 §3) with the Enhanced Route Refresh subtypes
//! (RFC 7313 §3.2).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::header::{frame_len, put_header, HEADER_LEN, MIN_ROUTE_REFRESH_LEN};
use crate::iana::{Afi, ErrorCode, Family, MessageType, Safi};
use crate::notification;
use crate::reader::Reader;
use crate::session::MAX_EXTENDED_MESSAGE_LEN;

/// RFC 2918 §3 / RFC 7313 §3.2, ROUTE-REFRESH Message Format:
/// AFI (2 octets), Message Subtype (1 octet, "Reserved" in RFC 2918), SAFI (1 octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// The family whose routes are asked for.
    pub family: Family,
    /// 0 normal route refresh, 1 BoRR, 2 EoRR (RFC 7313 §3.2). Other values are kept; the
    /// receiver ignores them (RFC 7313 §5).
    pub subtype: u8,
}

impl RouteRefresh {
    /// Normal route refresh request (RFC 2918).
    pub const NORMAL: u8 = 0;
    /// Beginning of Route Refresh (RFC 7313 §3.2).
    pub const BORR: u8 = 1;
    /// End of Route Refresh (RFC 7313 §3.2).
    pub const EORR: u8 = 2;

    /// A normal route refresh request for `family`.
    pub fn new(family: Family) -> RouteRefresh {
        RouteRefresh {
            family,
            subtype: RouteRefresh::NORMAL,
        }
    }

    /// Decodes one whole ROUTE-REFRESH (header included).
    ///
    /// A BoRR or EoRR whose body is not 4 octets is 7/1 with the whole message as Data
    /// (RFC 7313 §5). A normal request longer than 4 octets carries ORF entries
    /// (RFC 5291 §4); it is accepted and the entries are ignored.
    pub fn decode(msg: &[u8]) -> Result<RouteRefresh, DecodeError> {
        match frame_len(msg, MAX_EXTENDED_MESSAGE_LEN) {
            Ok(Some(len)) if len == msg.len() => {}
            Ok(_) => {
                let len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
                return Err(crate::error::HeaderError::BadLength(len).into());
            }
            Err(e) => return Err(e.into()),
        }
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let mut r = Reader::new(body);
        let (Some(afi), Some(subtype), Some(safi)) = (r.u16(), r.u8(), r.u8()) else {
            return Err(bad_length(msg));
        };
        if matches!(subtype, RouteRefresh::BORR | RouteRefresh::EORR) && !r.is_empty() {
            return Err(bad_length(msg));
        }
        Ok(RouteRefresh {
            family: Family::new(Afi(afi), Safi(safi)),
            subtype,
        })
    }

    /// The encoded length, header included (always 23).
    pub fn encoded_len(&self) -> usize {
        MIN_ROUTE_REFRESH_LEN
    }

    /// Appends the message to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(MIN_ROUTE_REFRESH_LEN);
        put_header(
            dst,
            MIN_ROUTE_REFRESH_LEN as u16,
            MessageType::ROUTE_REFRESH,
        );
        dst.put_u16(self.family.afi.0);
        dst.put_u8(self.subtype);
        dst.put_u8(self.family.safi.0);
    }
}

fn bad_length(msg: &[u8]) -> DecodeError {
    DecodeError::reset(
        ErrorCode::ROUTE_REFRESH,
        notification::route_refresh::INVALID_MESSAGE_LENGTH,
        Bytes::copy_from_slice(msg),
        "ROUTE-REFRESH with a bad length",
    )
}
