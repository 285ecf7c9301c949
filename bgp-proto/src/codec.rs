//! A [`tokio_util::codec`] Decoder/Encoder over [`frame_len`] (feature `codec`).
//!
//! The decoder hands out each message as `split_to(len).freeze()`: the `Bytes` shares the
//! read buffer, nothing is copied. Header errors are items, not `Decoder` errors, so the
//! session can send the RFC 4271 §6.1 NOTIFICATION before closing (STYLE.md §4). After a
//! header error the stream is out of sync: the codec discards its input and yields nothing
//! more.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::HeaderError;
use crate::header::{frame_len, HEADER_LEN};
use crate::session::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};

/// Frames BGP messages on a byte stream (RFC 4271 §4.1).
#[derive(Debug, Clone)]
pub struct BgpCodec {
    max_len: usize,
    failed: bool,
}

impl Default for BgpCodec {
    fn default() -> BgpCodec {
        BgpCodec::new()
    }
}

impl BgpCodec {
    /// A codec accepting messages up to 4096 octets (RFC 4271 §4.1).
    pub fn new() -> BgpCodec {
        BgpCodec {
            max_len: MAX_MESSAGE_LEN,
            failed: false,
        }
    }

    /// Sets the maximum message length, e.g. 65535 after Extended Message is negotiated
    /// (RFC 8654 §4). Clamped to 19..=65535.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len.clamp(HEADER_LEN, MAX_EXTENDED_MESSAGE_LEN);
    }

    /// The current maximum message length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Whether a header error was reported (the codec then yields nothing more).
    pub fn failed(&self) -> bool {
        self.failed
    }
}

impl Decoder for BgpCodec {
    type Item = Result<Bytes, HeaderError>;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, io::Error> {
        if self.failed {
            src.clear();
            return Ok(None);
        }
        match frame_len(src, self.max_len) {
            Ok(Some(len)) => Ok(Some(Ok(src.split_to(len).freeze()))),
            Ok(None) => {
                // Reserve room for the rest of the declared message, if it is known.
                if let Some([hi, lo]) = src.get(16..18).and_then(|s| s.first_chunk::<2>()) {
                    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                    src.reserve(len.saturating_sub(src.len()));
                }
                Ok(None)
            }
            Err(e) => {
                self.failed = true;
                src.clear();
                Ok(Some(Err(e)))
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, io::Error> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() || self.failed => Ok(None),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a BGP message",
            )),
        }
    }
}

/// Pass-through of already-encoded messages (from the `encode` methods of this crate).
impl Encoder<Bytes> for BgpCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), io::Error> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::header::MARKER;

    fn keepalive() -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&[0, 19, 4]);
        v
    }

    #[test]
    fn splits_messages_and_stops_after_error() {
        let mut codec = BgpCodec::new();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&keepalive());
        buf.extend_from_slice(&keepalive()[..10]);
        let first = codec.decode(&mut buf).ok().flatten();
        assert_eq!(first, Some(Ok(Bytes::from(keepalive()))));
        assert_eq!(codec.decode(&mut buf).ok().flatten(), None);
        buf.extend_from_slice(&keepalive()[10..]);
        assert!(matches!(codec.decode(&mut buf), Ok(Some(Ok(_)))));
        let mut bad = keepalive();
        bad[18] = 9;
        buf.extend_from_slice(&bad);
        buf.extend_from_slice(&keepalive());
        assert_eq!(
            codec.decode(&mut buf).ok().flatten(),
            Some(Err(HeaderError::BadType(9)))
        );
        assert!(codec.failed());
        buf.extend_from_slice(&keepalive());
        assert_eq!(codec.decode(&mut buf).ok().flatten(), None);
        assert!(matches!(codec.decode_eof(&mut buf), Ok(None)));
    }

    #[test]
    fn encoder_passes_messages_through_and_max_len_is_settable() {
        let mut codec = BgpCodec::new();
        let mut dst = BytesMut::new();
        codec.encode(Bytes::from(keepalive()), &mut dst).unwrap();
        assert_eq!(&dst[..], &keepalive()[..]);
        // A 5000-octet UPDATE header: an error at 4096, a partial message at 65535.
        let mut big = MARKER.to_vec();
        big.extend_from_slice(&[0x13, 0x88, 2]);
        let mut buf = BytesMut::from(&big[..]);
        codec.set_max_len(65535);
        assert_eq!(codec.max_len(), 65535);
        assert_eq!(codec.decode(&mut buf).ok().flatten(), None);
        let mut codec = BgpCodec::new();
        assert_eq!(
            codec.decode(&mut buf).ok().flatten(),
            Some(Err(HeaderError::BadLength(5000)))
        );
    }

    #[test]
    fn eof_mid_message_is_an_error() {
        let mut codec = BgpCodec::new();
        let mut buf = BytesMut::from(&keepalive()[..5]);
        assert!(codec.decode_eof(&mut buf).is_err());
    }
}
