//! NOTIFICATION message (RFC 4271 §4.5) with Shutdown Communication (RFC 8203, RFC 9003).
//! (Skeleton: the owned type is fixed; decoding, encoding and naming are filled in.)

use bytes::Bytes;

use crate::iana::ErrorCode;

/// RFC 4271 §4.5, NOTIFICATION Message Format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: ErrorCode,
    pub subcode: u8,
    pub data: Bytes,
}

impl Notification {
    pub fn new(code: ErrorCode, subcode: u8, data: Bytes) -> Notification {
        Notification { code, subcode, data }
    }
}
