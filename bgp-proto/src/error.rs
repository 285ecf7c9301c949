//! Decode errors, each precise enough to build the NOTIFICATION that RFC 4271 §6 asks for.
//!
//! Errors that RFC 7606 handles without closing the session (treat-as-withdraw, attribute
//! discard) are *not* errors here: an UPDATE view reports them as its [`crate::update::Verdict`].

use bytes::Bytes;

use crate::iana::ErrorCode;
use crate::notification::Notification;

/// A message header error (RFC 4271 §6.1), found by [`crate::frame_len`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The marker is not 16 octets of 0xFF: NOTIFICATION 1/1.
    #[error("connection not synchronized (marker is not all ones)")]
    ConnectionNotSynchronized,
    /// The length field is out of range for the message type: NOTIFICATION 1/2, Data = the
    /// length field.
    #[error("bad message length {0}")]
    BadLength(u16),
    /// The type octet is not a known message type: NOTIFICATION 1/3, Data = the type.
    #[error("bad message type {0}")]
    BadType(u8),
}

impl HeaderError {
    /// The NOTIFICATION to send (RFC 4271 §6.1).
    pub fn notification(&self) -> Notification {
        match *self {
            HeaderError::ConnectionNotSynchronized => {
                Notification::new(ErrorCode::MESSAGE_HEADER, 1, Bytes::new())
            }
            HeaderError::BadLength(len) => Notification::new(
                ErrorCode::MESSAGE_HEADER,
                2,
                Bytes::copy_from_slice(&len.to_be_bytes()),
            ),
            HeaderError::BadType(t) => {
                Notification::new(ErrorCode::MESSAGE_HEADER, 3, Bytes::copy_from_slice(&[t]))
            }
        }
    }
}

/// A framed message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The header itself is bad (RFC 4271 §6.1).
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The session must be reset with this NOTIFICATION (code, subcode, data).
    #[error("{reason} (NOTIFICATION {code}/{subcode})", code = .code.0)]
    Reset {
        /// NOTIFICATION error code.
        code: ErrorCode,
        /// NOTIFICATION error subcode.
        subcode: u8,
        /// NOTIFICATION data.
        data: Bytes,
        /// Why, for logs (with the RFC section).
        reason: &'static str,
    },
    /// A received NOTIFICATION is itself malformed: log it and close, never answer a
    /// NOTIFICATION with a NOTIFICATION (RFC 4271 §6.4).
    #[error("malformed NOTIFICATION: {0}")]
    BadNotification(&'static str),
}

impl DecodeError {
    /// A session reset with this NOTIFICATION and a reason for logs.
    pub fn reset(code: ErrorCode, subcode: u8, data: Bytes, reason: &'static str) -> DecodeError {
        DecodeError::Reset {
            code,
            subcode,
            data,
            reason,
        }
    }

    /// The NOTIFICATION to send before closing, or `None` when none may be sent.
    pub fn notification(&self) -> Option<Notification> {
        match self {
            DecodeError::Header(h) => Some(h.notification()),
            DecodeError::Reset {
                code,
                subcode,
                data,
                ..
            } => Some(Notification::new(*code, *subcode, data.clone())),
            DecodeError::BadNotification(_) => None,
        }
    }
}
