//! Message framing: the 19-octet header (RFC 4271 §4.1) and its errors (§6.1).
//!
//! [`frame_len`] is the only framing function: it tells the caller whether the buffer holds
//! a whole message, how long it is, or which header error to report. It never allocates.

use bytes::{BufMut, BytesMut};

use crate::error::HeaderError;
use crate::iana::MessageType;
use crate::session::MAX_MESSAGE_LEN;

/// Length of the fixed header: 16-octet marker, 2-octet length, 1-octet type (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// The all-ones marker (RFC 4271 §4.1).
pub const MARKER: [u8; 16] = [0xff; 16];

/// Smallest OPEN: header + version, My AS, Hold Time, BGP Identifier, Opt Parm Len (§4.2).
pub const MIN_OPEN_LEN: usize = 29;
/// Smallest UPDATE: header + two 2-octet length fields (§4.3).
pub const MIN_UPDATE_LEN: usize = 23;
/// Smallest NOTIFICATION: header + code + subcode (§4.5).
pub const MIN_NOTIFICATION_LEN: usize = 21;
/// A KEEPALIVE is exactly the header (§4.4).
pub const KEEPALIVE_LEN: usize = 19;
/// A ROUTE-REFRESH: header + AFI, subtype, SAFI (RFC 2918 §3).
pub const MIN_ROUTE_REFRESH_LEN: usize = 23;

/// Frames one message at the start of `buf` (RFC 4271 §4.1, §6.1).
///
/// - `Ok(None)`: fewer than 19 octets, or fewer than the declared length, are available.
/// - `Ok(Some(len))`: `buf[..len]` is one whole message whose header is valid.
/// - `Err(_)`: a header error; send [`HeaderError::notification`] and close.
///
/// `max_len` is 4096, or up to 65535 once Extended Message is negotiated (RFC 8654 §4);
/// OPEN and KEEPALIVE are limited to 4096 regardless (RFC 8654 §4). Marker, length and
/// type are checked as soon as 19 octets are present, without waiting for the body. The
/// order of the checks is: marker (1/1), length within 19..=`max_len` (1/2), known type
/// (1/3), type-specific length (1/2).
pub fn frame_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, HeaderError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let (marker, rest) = header.split_at(16);
    if marker != MARKER {
        return Err(HeaderError::ConnectionNotSynchronized);
    }
    let (len_field, kind) = match rest {
        [hi, lo, kind] => (u16::from_be_bytes([*hi, *lo]), *kind),
        // Unreachable: `rest` is exactly 3 octets. Reported as a length error, not a panic.
        _ => return Err(HeaderError::BadLength(0)),
    };
    let len = usize::from(len_field);
    let max_len = max_len.min(usize::from(u16::MAX));
    if len < HEADER_LEN || len > max_len {
        return Err(HeaderError::BadLength(len_field));
    }
    let small_max = max_len.min(MAX_MESSAGE_LEN);
    let ok = match MessageType(kind) {
        MessageType::OPEN => (MIN_OPEN_LEN..=small_max).contains(&len),
        MessageType::UPDATE => len >= MIN_UPDATE_LEN,
        MessageType::NOTIFICATION => len >= MIN_NOTIFICATION_LEN,
        MessageType::KEEPALIVE => len == KEEPALIVE_LEN,
        MessageType::ROUTE_REFRESH => len >= MIN_ROUTE_REFRESH_LEN,
        _ => return Err(HeaderError::BadType(kind)),
    };
    if !ok {
        return Err(HeaderError::BadLength(len_field));
    }
    if buf.len() < len {
        return Ok(None);
    }
    Ok(Some(len))
}

/// Appends a message header (marker, `len`, `kind`) to `dst` (RFC 4271 §4.1). `len` is the
/// length of the whole message, header included.
pub fn put_header(dst: &mut BytesMut, len: u16, kind: MessageType) {
    dst.put_slice(&MARKER);
    dst.put_u16(len);
    dst.put_u8(kind.0);
}

/// Overwrites the length field of a message that starts at `start` in `dst` with the
/// number of octets written since (for encoders that do not know the length up front).
/// Lengths above 65535 are written as 65535; callers keep messages within the negotiated
/// maximum.
pub fn patch_len(dst: &mut BytesMut, start: usize) {
    let len = u16::try_from(dst.len().saturating_sub(start)).unwrap_or(u16::MAX);
    if let Some(field) = dst.get_mut(start.saturating_add(16)..start.saturating_add(18)) {
        field.copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(len: u16, kind: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.push(kind);
        v
    }

    #[test]
    fn short_buffer_needs_more() {
        assert_eq!(frame_len(&[0xff; 18], 4096), Ok(None));
        let mut open = msg(29, 1);
        assert_eq!(frame_len(&open, 4096), Ok(None));
        open.resize(29, 0);
        assert_eq!(frame_len(&open, 4096), Ok(Some(29)));
    }

    #[test]
    fn header_errors_before_body() {
        let mut m = msg(19, 4);
        m[3] = 0;
        assert_eq!(
            frame_len(&m, 4096),
            Err(HeaderError::ConnectionNotSynchronized)
        );
        assert_eq!(
            frame_len(&msg(18, 4), 4096),
            Err(HeaderError::BadLength(18))
        );
        assert_eq!(
            frame_len(&msg(4097, 2), 4096),
            Err(HeaderError::BadLength(4097))
        );
        assert_eq!(frame_len(&msg(4097, 2), 65535), Ok(None));
        assert_eq!(
            frame_len(&msg(4097, 1), 65535),
            Err(HeaderError::BadLength(4097))
        );
        assert_eq!(
            frame_len(&msg(20, 4), 4096),
            Err(HeaderError::BadLength(20))
        );
        assert_eq!(frame_len(&msg(19, 6), 4096), Err(HeaderError::BadType(6)));
        assert_eq!(frame_len(&msg(19, 0), 4096), Err(HeaderError::BadType(0)));
    }
}
