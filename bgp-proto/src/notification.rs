//! NOTIFICATION message (RFC 4271 §4.5) with Shutdown Communication (RFC 8203, RFC 9003).

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::header::{frame_len, put_header, MIN_NOTIFICATION_LEN};
use crate::iana::{ErrorCode, MessageType};
use crate::session::MAX_EXTENDED_MESSAGE_LEN;

/// RFC 4271 §4.5, NOTIFICATION Message Format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code (RFC 4271 §4.5).
    pub code: ErrorCode,
    /// Error subcode; 0 where the code has none.
    pub subcode: u8,
    /// Data, as the code and subcode define it.
    pub data: Bytes,
}

/// Maximum Shutdown Communication length in octets (RFC 9003 §2).
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;

/// Message Header Error subcodes (RFC 4271 §6.1).
pub mod header {
    /// Connection Not Synchronized.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    /// Bad Message Length (data: the length field).
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    /// Bad Message Type (data: the type octet).
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2).
pub mod open {
    /// Unspecific (RFC 4271 §6.2).
    pub const UNSPECIFIC: u8 = 0;
    /// Unsupported Version Number (data: a version we support).
    pub const UNSUPPORTED_VERSION: u8 = 1;
    /// Bad Peer AS.
    pub const BAD_PEER_AS: u8 = 2;
    /// Bad BGP Identifier.
    pub const BAD_BGP_ID: u8 = 3;
    /// Unsupported Optional Parameter.
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Unacceptable Hold Time.
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    /// Unsupported Capability (RFC 5492 §5).
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    /// Role Mismatch (RFC 9234 §4.2).
    pub const ROLE_MISMATCH: u8 = 11;
}

/// UPDATE Message Error subcodes (RFC 4271 §6.3).
pub mod update {
    /// Malformed Attribute List.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    /// Unrecognized Well-known Attribute.
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    /// Missing Well-known Attribute.
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    /// Attribute Flags Error.
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    /// Attribute Length Error.
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    /// Invalid ORIGIN Attribute.
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    /// Invalid NEXT_HOP Attribute.
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    /// Optional Attribute Error.
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    /// Invalid Network Field.
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    /// Malformed AS_PATH.
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Finite State Machine Error subcodes (RFC 6608 §3).
pub mod fsm {
    /// Unspecified Error.
    pub const UNSPECIFIED: u8 = 0;
    /// Receive Unexpected Message in OpenSent.
    pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
    /// Receive Unexpected Message in OpenConfirm.
    pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
    /// Receive Unexpected Message in Established.
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// Cease subcodes (RFC 4486 §4, RFC 8538 §3, RFC 9384 §2).
pub mod cease {
    /// Maximum Number of Prefixes Reached.
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown.
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset.
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    /// Connection Rejected.
    pub const CONNECTION_REJECTED: u8 = 5;
    /// Other Configuration Change.
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    /// Out of Resources.
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// Hard Reset (RFC 8538 §3).
    pub const HARD_RESET: u8 = 9;
    /// BFD Down (RFC 9384 §2).
    pub const BFD_DOWN: u8 = 10;
}

/// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
pub mod route_refresh {
    /// Invalid Message Length (RFC 7313 §5; data: the whole message).
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// Why a Shutdown Communication could not be read (RFC 9003 §2, RFC 8203 §4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownMessageError {
    /// The length octet claims more octets than the Data field holds.
    #[error("shutdown communication length {declared} exceeds the {available} octets present")]
    BadLength {
        /// The length octet.
        declared: usize,
        /// The octets after it.
        available: usize,
    },
    /// The text is not valid UTF-8; `raw` holds the octets (at most 255) for a hex dump.
    #[error("shutdown communication is not valid UTF-8")]
    BadUtf8 {
        /// The octets of the text.
        raw: Bytes,
    },
}

impl Notification {
    /// A NOTIFICATION with this code, subcode and data.
    pub fn new(code: ErrorCode, subcode: u8, data: Bytes) -> Notification {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// Cease (RFC 4486). For Administrative Shutdown (2) and Administrative Reset (4) a
    /// `text` becomes a Shutdown Communication (RFC 9003 §2): a length octet followed by the
    /// UTF-8 text, truncated to 255 octets at a character boundary. For other subcodes
    /// `text` is ignored.
    pub fn cease(subcode: u8, text: Option<&str>) -> Notification {
        let data = match (subcode, text) {
            (cease::ADMINISTRATIVE_SHUTDOWN | cease::ADMINISTRATIVE_RESET, Some(text)) => {
                let text = text
                    .get(..text.floor_char_boundary(MAX_SHUTDOWN_MESSAGE_LEN))
                    .unwrap_or_default();
                let mut data = BytesMut::with_capacity(text.len().saturating_add(1));
                data.put_u8(u8::try_from(text.len()).unwrap_or(u8::MAX));
                data.put_slice(text.as_bytes());
                data.freeze()
            }
            _ => Bytes::new(),
        };
        Notification::new(ErrorCode::CEASE, subcode, data)
    }

    /// Cease / Maximum Number of Prefixes Reached with AFI, SAFI and the limit as Data
    /// (RFC 4486 §4).
    pub fn max_prefixes(family: crate::iana::Family, limit: u32) -> Notification {
        let mut data = BytesMut::with_capacity(7);
        data.put_u16(family.afi.0);
        data.put_u8(family.safi.0);
        data.put_u32(limit);
        Notification::new(ErrorCode::CEASE, cease::MAX_PREFIXES, data.freeze())
    }

    /// OPEN Message Error / Unsupported Capability (RFC 5492 §5): Data is the capabilities
    /// we require and the peer did not advertise, each as code, length and value.
    pub fn unsupported_capability(required: &[crate::capability::Capability]) -> Notification {
        let mut data = BytesMut::new();
        for c in required {
            c.encode(&mut data);
        }
        Notification::new(
            ErrorCode::OPEN_MESSAGE,
            open::UNSUPPORTED_CAPABILITY,
            data.freeze(),
        )
    }

    /// OPEN Message Error / Role Mismatch (RFC 9234 §4.2).
    pub fn role_mismatch() -> Notification {
        Notification::new(ErrorCode::OPEN_MESSAGE, open::ROLE_MISMATCH, Bytes::new())
    }

    /// Hold Timer Expired (RFC 4271 §6.5).
    pub fn hold_timer_expired() -> Notification {
        Notification::new(ErrorCode::HOLD_TIMER_EXPIRED, 0, Bytes::new())
    }

    /// Send Hold Timer Expired (RFC 9687 §3).
    pub fn send_hold_timer_expired() -> Notification {
        Notification::new(ErrorCode::SEND_HOLD_TIMER_EXPIRED, 0, Bytes::new())
    }

    /// Finite State Machine Error (RFC 6608 §3) with the type of the unexpected message as
    /// Data (`None`: no Data).
    pub fn fsm_error(subcode: u8, unexpected: Option<MessageType>) -> Notification {
        let data = match unexpected {
            Some(t) => Bytes::copy_from_slice(&[t.0]),
            None => Bytes::new(),
        };
        Notification::new(ErrorCode::FSM, subcode, data)
    }

    /// Decodes one whole NOTIFICATION (header included, as framed by [`frame_len`]).
    ///
    /// Errors are [`DecodeError::BadNotification`]: a malformed NOTIFICATION is logged and
    /// the connection closed, never answered (RFC 4271 §6.4). Unknown codes and subcodes
    /// are not errors.
    pub fn decode(msg: &[u8]) -> Result<Notification, DecodeError> {
        let (code, subcode) = Notification::check(msg)?;
        let data = msg.get(MIN_NOTIFICATION_LEN..).unwrap_or_default();
        Ok(Notification::new(
            code,
            subcode,
            Bytes::copy_from_slice(data),
        ))
    }

    /// Like [`Notification::decode`], but Data is a slice of `msg`, not a copy.
    pub fn decode_bytes(msg: &Bytes) -> Result<Notification, DecodeError> {
        let (code, subcode) = Notification::check(msg)?;
        // `check` proved msg.len() >= 21, so the range is in bounds.
        Ok(Notification::new(
            code,
            subcode,
            msg.slice(MIN_NOTIFICATION_LEN..),
        ))
    }

    /// Header checks for a whole NOTIFICATION; returns code and subcode.
    fn check(msg: &[u8]) -> Result<(ErrorCode, u8), DecodeError> {
        if msg.len() < MIN_NOTIFICATION_LEN {
            return Err(DecodeError::BadNotification("shorter than 21 octets"));
        }
        match frame_len(msg, MAX_EXTENDED_MESSAGE_LEN) {
            Ok(Some(len)) if len == msg.len() => {}
            _ => return Err(DecodeError::BadNotification("bad header")),
        }
        match (msg.get(18), msg.get(19), msg.get(20)) {
            (Some(&t), Some(&code), Some(&subcode)) if t == MessageType::NOTIFICATION.0 => {
                Ok((ErrorCode(code), subcode))
            }
            _ => Err(DecodeError::BadNotification("not a NOTIFICATION")),
        }
    }

    /// The encoded length, header included.
    pub fn encoded_len(&self) -> usize {
        MIN_NOTIFICATION_LEN.saturating_add(self.data.len())
    }

    /// Appends the NOTIFICATION to `dst` (RFC 4271 §4.5). Data beyond what fits in 65535
    /// octets is cut; callers keep Data within the session's maximum message length.
    pub fn encode(&self, dst: &mut BytesMut) {
        let max_data = MAX_EXTENDED_MESSAGE_LEN.saturating_sub(MIN_NOTIFICATION_LEN);
        let data = self.data.get(..max_data).unwrap_or(&self.data);
        let len = MIN_NOTIFICATION_LEN.saturating_add(data.len());
        dst.reserve(len);
        put_header(
            dst,
            u16::try_from(len).unwrap_or(u16::MAX),
            MessageType::NOTIFICATION,
        );
        dst.put_u8(self.code.0);
        dst.put_u8(self.subcode);
        dst.put_slice(data);
    }

    /// The Shutdown Communication of a Cease / Administrative Shutdown or Reset
    /// (RFC 9003 §2), with control characters replaced by spaces for logging (as BIRD
    /// does). `None` for other NOTIFICATIONs and when Data is empty. Octets after the text
    /// are ignored (RFC 9003 allows none; they do not make the text invalid).
    pub fn shutdown_message(&self) -> Option<Result<String, ShutdownMessageError>> {
        if self.code != ErrorCode::CEASE
            || !matches!(
                self.subcode,
                cease::ADMINISTRATIVE_SHUTDOWN | cease::ADMINISTRATIVE_RESET
            )
        {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let len = usize::from(len);
        let Some(raw) = rest.get(..len) else {
            return Some(Err(ShutdownMessageError::BadLength {
                declared: len,
                available: rest.len(),
            }));
        };
        Some(match core::str::from_utf8(raw) {
            Ok(text) => Ok(text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()),
            Err(_) => Err(ShutdownMessageError::BadUtf8 {
                raw: self.data.slice(1..1 + len),
            }),
        })
    }

    /// The NOTIFICATION a Hard Reset carries (RFC 8538 §3: the Data of Cease / Hard Reset
    /// is the original error code, subcode and data). `None` for any other NOTIFICATION and
    /// for a Hard Reset whose Data is shorter than the two octets of a code and subcode.
    pub fn hard_reset_inner(&self) -> Option<Notification> {
        if self.code != ErrorCode::CEASE || self.subcode != cease::HARD_RESET {
            return None;
        }
        match *self.data.as_ref() {
            [code, subcode, ..] => Some(Notification::new(
                ErrorCode(code),
                subcode,
                self.data.slice(2..),
            )),
            _ => None,
        }
    }

    /// The registry name of the subcode, if known.
    pub fn subcode_name(&self) -> Option<&'static str> {
        subcode_name(self.code, self.subcode)
    }
}

/// The registry name of an error subcode (RFC 4271 §4.5 and the IANA "BGP Error Subcodes"
/// registries).
pub fn subcode_name(code: ErrorCode, subcode: u8) -> Option<&'static str> {
    Some(match (code.0, subcode) {
        (1, 1) => "Connection Not Synchronized",
        (1, 2) => "Bad Message Length",
        (1, 3) => "Bad Message Type",
        (2, 0) => "Unspecific",
        (2, 1) => "Unsupported Version Number",
        (2, 2) => "Bad Peer AS",
        (2, 3) => "Bad BGP Identifier",
        (2, 4) => "Unsupported Optional Parameter",
        (2, 6) => "Unacceptable Hold Time",
        (2, 7) => "Unsupported Capability",
        (2, 11) => "Role Mismatch",
        (3, 1) => "Malformed Attribute List",
        (3, 2) => "Unrecognized Well-known Attribute",
        (3, 3) => "Missing Well-known Attribute",
        (3, 4) => "Attribute Flags Error",
        (3, 5) => "Attribute Length Error",
        (3, 6) => "Invalid ORIGIN Attribute",
        (3, 8) => "Invalid NEXT_HOP Attribute",
        (3, 9) => "Optional Attribute Error",
        (3, 10) => "Invalid Network Field",
        (3, 11) => "Malformed AS_PATH",
        (5, 0) => "Unspecified Error",
        (5, 1) => "Receive Unexpected Message in OpenSent State",
        (5, 2) => "Receive Unexpected Message in OpenConfirm State",
        (5, 3) => "Receive Unexpected Message in Established State",
        (6, 1) => "Maximum Number of Prefixes Reached",
        (6, 2) => "Administrative Shutdown",
        (6, 3) => "Peer De-configured",
        (6, 4) => "Administrative Reset",
        (6, 5) => "Connection Rejected",
        (6, 6) => "Other Configuration Change",
        (6, 7) => "Connection Collision Resolution",
        (6, 8) => "Out of Resources",
        (6, 9) => "Hard Reset",
        (6, 10) => "BFD Down",
        (7, 1) => "Invalid Message Length",
        _ => return None,
    })
}

/// For logs: `6/2 (Cease / Administrative Shutdown) "bgpd shutting down"`; other Data is
/// shown in hex (at most 64 octets).
impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.code.0, self.subcode)?;
        match (self.code.name(), self.subcode_name()) {
            (Some(c), Some(s)) => write!(f, " ({c} / {s})")?,
            (Some(c), None) => write!(f, " ({c})")?,
            _ => {}
        }
        match self.shutdown_message() {
            Some(Ok(text)) => write!(f, " {text:?}"),
            Some(Err(e)) => write!(f, " ({e})"),
            None if self.data.is_empty() => Ok(()),
            None => {
                f.write_str(" data")?;
                for b in self.data.iter().take(64) {
                    write!(f, " {b:02x}")?;
                }
                if self.data.len() > 64 {
                    f.write_str(" ..")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cease_truncates_at_char_boundary() {
        let text = "é".repeat(200); // 400 octets
        let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some(&text));
        assert_eq!(n.data.first(), Some(&254));
        assert_eq!(n.data.len(), 255);
        assert_eq!(n.shutdown_message(), Some(Ok("é".repeat(127))));
    }

    #[test]
    fn display() {
        let n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some("bgpd shutting down"));
        assert_eq!(
            n.to_string(),
            "6/2 (Cease / Administrative Shutdown) \"bgpd shutting down\""
        );
        let n = Notification::new(ErrorCode::MESSAGE_HEADER, 2, Bytes::from_static(&[0, 18]));
        assert_eq!(
            n.to_string(),
            "1/2 (Message Header Error / Bad Message Length) data 00 12"
        );
    }

    #[test]
    fn hard_reset_carries_the_original_notification() {
        // RFC 8538 §3: 6/9 with Data = 6, 2, then the RFC 9003 text of the 6/2.
        let hr = Notification::new(
            ErrorCode::CEASE,
            cease::HARD_RESET,
            Bytes::from_static(&[6, 2, 4, b'b', b'g', b'p', b'd']),
        );
        let inner = hr.hard_reset_inner().expect("a Hard Reset");
        assert_eq!((inner.code, inner.subcode), (ErrorCode::CEASE, 2));
        assert_eq!(inner.shutdown_message(), Some(Ok("bgpd".to_string())));
        // Too short to carry a code and subcode; not a Hard Reset at all.
        let short = Notification::new(
            ErrorCode::CEASE,
            cease::HARD_RESET,
            Bytes::from_static(&[6]),
        );
        assert_eq!(short.hard_reset_inner(), None);
        assert_eq!(Notification::cease(2, Some("x")).hard_reset_inner(), None);
    }
}
