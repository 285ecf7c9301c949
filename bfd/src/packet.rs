//! The BFD Control packet (RFC 5880 §4.1): a checked view over received bytes and an owned
//! value that encodes.
//!
//! [`ControlView::new_checked`] runs every check of RFC 5880 §6.8.6 that depends on the packet
//! alone (version, length, Detect Mult, Multipoint, the discriminators) and reports a failed
//! one as a [`Discard`] reason. After that the accessors cannot fail or panic. The checks that
//! need the session (Your Discriminator matches, authentication in use, AdminDown) are the
//! session's.
//!
//! <https://www.rfc-editor.org/rfc/rfc5880#section-4.1>

use core::fmt;

use bytes::{BufMut, BytesMut};

/// The mandatory section, in octets (RFC 5880 §4.1).
pub const MANDATORY_LEN: usize = 24;
/// The protocol version this crate speaks (RFC 5880 §4.1: "This document defines protocol
/// version 1").
pub const VERSION: u8 = 1;
/// The largest authentication data an owned packet encodes: the Length field is one octet,
/// so the whole packet fits in 255 octets (24 mandatory, 2 for Auth Type and Auth Len).
pub const MAX_AUTH_DATA_LEN: usize = 255 - MANDATORY_LEN - 2;

// Octet 1 flags (RFC 5880 §4.1): |Sta|P|F|C|A|D|M|.
const POLL: u8 = 0x20;
const FINAL: u8 = 0x10;
const CPI: u8 = 0x08;
const AUTH: u8 = 0x04;
const DEMAND: u8 = 0x02;
const MULTIPOINT: u8 = 0x01;

/// A session state: the Sta field of the Control packet (RFC 5880 §4.1) and the states of
/// the state machine (§6.2). Two bits on the wire, so every value is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum State {
    /// 0, AdminDown: the session is held down administratively (§6.8.16).
    AdminDown,
    /// 1, Down: the session is down or has just been created.
    #[default]
    Down,
    /// 2, Init: the remote system is talking, the session is not yet known to be
    /// bidirectional.
    Init,
    /// 3, Up: the session is established.
    Up,
}

impl State {
    /// The state in the two low bits of `bits` (higher bits are ignored).
    pub fn from_bits(bits: u8) -> State {
        match bits & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    /// The two-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }
}

use proto_util::codepoint;

// IANA "BFD Diagnostic Codes":
// <https://www.iana.org/assignments/bfd-parameters/bfd-parameters.xhtml#bfd-parameters-1>
codepoint! {
    /// The Diag field (RFC 5880 §4.1): the local system's reason for the last change in
    /// session state. An open set of 5-bit values; only the low five bits are encoded.
    #[derive(Default)]
    Diagnostic(u8) {
        /// 0 -- No Diagnostic.
        NONE = 0 => "No Diagnostic",
        /// 1 -- Control Detection Time Expired (§6.8.4).
        CONTROL_DETECTION_TIME_EXPIRED = 1 => "Control Detection Time Expired",
        /// 2 -- Echo Function Failed.
        ECHO_FUNCTION_FAILED = 2 => "Echo Function Failed",
        /// 3 -- Neighbor Signaled Session Down (§6.8.6).
        NEIGHBOR_SIGNALED_SESSION_DOWN = 3 => "Neighbor Signaled Session Down",
        /// 4 -- Forwarding Plane Reset.
        FORWARDING_PLANE_RESET = 4 => "Forwarding Plane Reset",
        /// 5 -- Path Down (§6.8.16).
        PATH_DOWN = 5 => "Path Down",
        /// 6 -- Concatenated Path Down.
        CONCATENATED_PATH_DOWN = 6 => "Concatenated Path Down",
        /// 7 -- Administratively Down (§6.8.16).
        ADMINISTRATIVELY_DOWN = 7 => "Administratively Down",
        /// 8 -- Reverse Concatenated Path Down.
        REVERSE_CONCATENATED_PATH_DOWN = 8 => "Reverse Concatenated Path Down",
    }
}

// IANA "BFD Authentication Types":
// <https://www.iana.org/assignments/bfd-parameters/bfd-parameters.xhtml#bfd-parameters-2>
codepoint! {
    /// The Auth Type field of the optional Authentication Section (RFC 5880 §4.1).
    #[derive(Default)]
    AuthType(u8) {
        /// 0 -- Reserved.
        RESERVED = 0 => "Reserved",
        /// 1 -- Simple Password (§4.2).
        SIMPLE_PASSWORD = 1 => "Simple Password",
        /// 2 -- Keyed MD5 (§4.3).
        KEYED_MD5 = 2 => "Keyed MD5",
        /// 3 -- Meticulous Keyed MD5 (§4.3).
        METICULOUS_KEYED_MD5 = 3 => "Meticulous Keyed MD5",
        /// 4 -- Keyed SHA1 (§4.4).
        KEYED_SHA1 = 4 => "Keyed SHA1",
        /// 5 -- Meticulous Keyed SHA1 (§4.4).
        METICULOUS_KEYED_SHA1 = 5 => "Meticulous Keyed SHA1",
    }
}

/// Why a received packet was discarded: one reason per check of RFC 5880 §6.8.6, in the
/// order the RFC lists them. [`crate::Counters`] counts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Discard {
    /// "If the version number is not correct (1), the packet MUST be discarded."
    Version,
    /// The Length field is less than 24 (26 with the A bit), more than the bytes received,
    /// or the Authentication Section does not fit in it; or fewer than 24 bytes arrived.
    Length,
    /// "If the Detect Mult field is zero, the packet MUST be discarded."
    DetectMult,
    /// "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
    Multipoint,
    /// "If the My Discriminator field is zero, the packet MUST be discarded."
    MyDiscriminatorZero,
    /// "If the Your Discriminator field is zero and the State field is not Down or
    /// AdminDown, the packet MUST be discarded."
    YourDiscriminatorZero,
    /// "If the Your Discriminator field is nonzero, it MUST be used to select the session
    /// with which this BFD packet is associated. If no session is found, the packet MUST
    /// be discarded." (Here: it is not this session's local discriminator.)
    YourDiscriminator,
    /// The A bit is set, and this crate uses no authentication (§6.7, "If the A bit is set
    /// and no authentication is in use (bfd.AuthType is zero), the packet MUST be
    /// discarded").
    Authentication,
    /// "If bfd.SessionState is AdminDown: Discard the packet" (after the remote's values
    /// were recorded).
    AdminDown,
}

impl Discard {
    /// Every reason, in RFC order.
    pub const ALL: [Discard; 9] = [
        Discard::Version,
        Discard::Length,
        Discard::DetectMult,
        Discard::Multipoint,
        Discard::MyDiscriminatorZero,
        Discard::YourDiscriminatorZero,
        Discard::YourDiscriminator,
        Discard::Authentication,
        Discard::AdminDown,
    ];
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Discard::Version => "version is not 1",
            Discard::Length => "bad length",
            Discard::DetectMult => "detect multiplier is zero",
            Discard::Multipoint => "multipoint bit is set",
            Discard::MyDiscriminatorZero => "my discriminator is zero",
            Discard::YourDiscriminatorZero => "your discriminator is zero while not down",
            Discard::YourDiscriminator => "your discriminator matches no session",
            Discard::Authentication => "authentication mismatch",
            Discard::AdminDown => "session is administratively down",
        })
    }
}

impl std::error::Error for Discard {}

/// A received BFD Control packet, checked once (RFC 5880 §4.1, §6.8.6).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Your Discriminator                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Desired Min TX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Required Min RX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Required Min Echo RX Interval                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Auth Len    |    Authentication Data...     |  (if A)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Intervals are in microseconds. Bytes after Length (UDP padding) are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlView<B> {
    buf: B,
    /// The Length field, proven `MANDATORY_LEN..=buf.len()`.
    len: usize,
}

impl<B: AsRef<[u8]>> ControlView<B> {
    /// Checks `buf` against every packet-only rule of RFC 5880 §6.8.6, in the RFC's order.
    /// Never panics.
    pub fn new_checked(buf: B) -> Result<ControlView<B>, Discard> {
        let b = buf.as_ref();
        let Some(head) = b.get(..MANDATORY_LEN) else {
            // Too short to hold the mandatory section: the version may still be wrong.
            return Err(match b.first() {
                Some(&v0) if v0 >> 5 != VERSION => Discard::Version,
                _ => Discard::Length,
            });
        };
        let octet = |i: usize| head.get(i).copied().unwrap_or(0);
        if octet(0) >> 5 != VERSION {
            return Err(Discard::Version);
        }
        let flags = octet(1);
        let len = usize::from(octet(3));
        // "If the A bit is clear, [...] less than the minimum correct value (24 if the A
        // bit is clear, or 26 if the A bit is set), the packet MUST be discarded."
        let min = if flags & AUTH != 0 {
            MANDATORY_LEN + 2
        } else {
            MANDATORY_LEN
        };
        // "If the Length field is greater than the payload of the encapsulating protocol,
        // the packet MUST be discarded."
        if len < min || len > b.len() {
            return Err(Discard::Length);
        }
        if flags & AUTH != 0 {
            // The Authentication Section must fit in Length (Auth Len counts its own two
            // octets, §4.1).
            let auth_len = usize::from(b.get(MANDATORY_LEN + 1).copied().unwrap_or(0));
            if auth_len < 2 || MANDATORY_LEN + auth_len > len {
                return Err(Discard::Length);
            }
        }
        if octet(2) == 0 {
            return Err(Discard::DetectMult);
        }
        if flags & MULTIPOINT != 0 {
            return Err(Discard::Multipoint);
        }
        let view = ControlView { buf, len };
        if view.my_discriminator() == 0 {
            return Err(Discard::MyDiscriminatorZero);
        }
        if view.your_discriminator() == 0 && !matches!(view.state(), State::Down | State::AdminDown)
        {
            return Err(Discard::YourDiscriminatorZero);
        }
        Ok(view)
    }

    /// The packet's octets (Length of them; padding after it excluded).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref().get(..self.len).unwrap_or(&[])
    }

    /// The buffer given to `new_checked`.
    pub fn into_inner(self) -> B {
        self.buf
    }

    fn octet(&self, i: usize) -> u8 {
        self.as_bytes().get(i).copied().unwrap_or(0)
    }

    fn u32_at(&self, i: usize) -> u32 {
        u32::from_be_bytes([
            self.octet(i),
            self.octet(i + 1),
            self.octet(i + 2),
            self.octet(i + 3),
        ])
    }

    /// Vers: always 1 after the check.
    pub fn version(&self) -> u8 {
        self.octet(0) >> 5
    }

    /// Diag: the sender's reason for its last state change.
    pub fn diag(&self) -> Diagnostic {
        Diagnostic(self.octet(0) & 0x1f)
    }

    /// Sta: the sender's session state.
    pub fn state(&self) -> State {
        State::from_bits(self.octet(1) >> 6)
    }

    /// P: the sender is running a Poll Sequence (§6.5) and wants a Final.
    pub fn poll(&self) -> bool {
        self.octet(1) & POLL != 0
    }

    /// F: the answer to a Poll.
    pub fn final_(&self) -> bool {
        self.octet(1) & FINAL != 0
    }

    /// C: the sender's BFD does not share fate with its control plane.
    pub fn control_plane_independent(&self) -> bool {
        self.octet(1) & CPI != 0
    }

    /// A: an Authentication Section follows the mandatory section.
    pub fn authentication_present(&self) -> bool {
        self.octet(1) & AUTH != 0
    }

    /// D: the sender wishes to run Demand mode (§6.6).
    pub fn demand(&self) -> bool {
        self.octet(1) & DEMAND != 0
    }

    /// M: reserved for multipoint; always clear after the check.
    pub fn multipoint(&self) -> bool {
        self.octet(1) & MULTIPOINT != 0
    }

    /// Detect Mult: nonzero after the check.
    pub fn detect_mult(&self) -> u8 {
        self.octet(2)
    }

    /// Length: the packet's length in octets.
    pub fn length(&self) -> u8 {
        self.octet(3)
    }

    /// My Discriminator: the sender's discriminator, nonzero after the check.
    pub fn my_discriminator(&self) -> u32 {
        self.u32_at(4)
    }

    /// Your Discriminator: the receiver's discriminator as the sender knows it, or zero.
    ///
    /// Demultiplexing (§6.3): when nonzero, find the session whose local discriminator
    /// it is; when zero (possible only in Down or AdminDown, as `new_checked` proved),
    /// find it by source address and interface. The session checks the match again.
    pub fn your_discriminator(&self) -> u32 {
        self.u32_at(8)
    }

    /// Desired Min TX Interval, in microseconds.
    pub fn desired_min_tx(&self) -> u32 {
        self.u32_at(12)
    }

    /// Required Min RX Interval, in microseconds (zero: send me nothing periodically).
    pub fn required_min_rx(&self) -> u32 {
        self.u32_at(16)
    }

    /// Required Min Echo RX Interval, in microseconds.
    pub fn required_min_echo_rx(&self) -> u32 {
        self.u32_at(20)
    }

    /// Auth Type, when the A bit is set.
    pub fn auth_type(&self) -> Option<AuthType> {
        self.authentication_present()
            .then(|| AuthType(self.octet(MANDATORY_LEN)))
    }

    /// The Authentication Data (after Auth Type and Auth Len), when the A bit is set.
    pub fn auth_data(&self) -> Option<&[u8]> {
        if !self.authentication_present() {
            return None;
        }
        let end = MANDATORY_LEN + usize::from(self.octet(MANDATORY_LEN + 1));
        self.as_bytes().get(MANDATORY_LEN + 2..end)
    }

    /// The owned value; `encode` of it gives back `as_bytes()` for canonical input (no
    /// octets between the Authentication Section and Length).
    pub fn to_owned(&self) -> ControlPacket {
        ControlPacket {
            diag: self.diag(),
            state: self.state(),
            poll: self.poll(),
            final_: self.final_(),
            control_plane_independent: self.control_plane_independent(),
            demand: self.demand(),
            multipoint: self.multipoint(),
            detect_mult: self.detect_mult(),
            my_discriminator: self.my_discriminator(),
            your_discriminator: self.your_discriminator(),
            desired_min_tx: self.desired_min_tx(),
            required_min_rx: self.required_min_rx(),
            required_min_echo_rx: self.required_min_echo_rx(),
            auth: self.auth_type().map(|auth_type| Authentication {
                auth_type,
                data: self.auth_data().unwrap_or(&[]).to_vec(),
            }),
        }
    }
}

/// A BFD Control packet to send, or a received one taken out of its view (RFC 5880 §4.1).
/// Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// Diag (only the low five bits are encoded).
    pub diag: Diagnostic,
    /// Sta.
    pub state: State,
    /// P: Poll.
    pub poll: bool,
    /// F: Final. A packet "MUST NOT have both the Poll (P) and Final (F) bits set" (§6.5):
    /// the session never builds one; `encode` writes what it is given.
    pub final_: bool,
    /// C: Control Plane Independent.
    pub control_plane_independent: bool,
    /// D: Demand.
    pub demand: bool,
    /// M: Multipoint (must be zero; kept so any received packet round-trips).
    pub multipoint: bool,
    /// Detect Mult.
    pub detect_mult: u8,
    /// My Discriminator.
    pub my_discriminator: u32,
    /// Your Discriminator.
    pub your_discriminator: u32,
    /// Desired Min TX Interval (µs).
    pub desired_min_tx: u32,
    /// Required Min RX Interval (µs).
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval (µs); zero: no Echo function.
    pub required_min_echo_rx: u32,
    /// The Authentication Section; `Some` sets the A bit.
    pub auth: Option<Authentication>,
}

/// The optional Authentication Section (RFC 5880 §4.1), carried opaquely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Authentication {
    /// Auth Type.
    pub auth_type: AuthType,
    /// Everything after Auth Len (Auth Key ID onwards). At most [`MAX_AUTH_DATA_LEN`]
    /// octets are encoded.
    pub data: Vec<u8>,
}

impl ControlPacket {
    /// The encoded length: 24, plus 2 and the data for an Authentication Section.
    pub fn encoded_len(&self) -> usize {
        MANDATORY_LEN
            + self
                .auth
                .as_ref()
                .map_or(0, |a| 2 + a.data.len().min(MAX_AUTH_DATA_LEN))
    }

    /// Appends the packet to `dst`, Version 1 (§6.8.7). Never panics.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = self.encoded_len();
        dst.reserve(len);
        dst.put_u8((VERSION << 5) | (self.diag.0 & 0x1f));
        let mut flags = self.state.bits() << 6;
        for (set, bit) in [
            (self.poll, POLL),
            (self.final_, FINAL),
            (self.control_plane_independent, CPI),
            (self.auth.is_some(), AUTH),
            (self.demand, DEMAND),
            (self.multipoint, MULTIPOINT),
        ] {
            if set {
                flags |= bit;
            }
        }
        dst.put_u8(flags);
        dst.put_u8(self.detect_mult);
        // At most 24 + 2 + MAX_AUTH_DATA_LEN = 255.
        dst.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
        dst.put_u32(self.my_discriminator);
        dst.put_u32(self.your_discriminator);
        dst.put_u32(self.desired_min_tx);
        dst.put_u32(self.required_min_rx);
        dst.put_u32(self.required_min_echo_rx);
        if let Some(auth) = &self.auth {
            let data = auth.data.get(..MAX_AUTH_DATA_LEN).unwrap_or(&auth.data);
            dst.put_u8(auth.auth_type.0);
            dst.put_u8(u8::try_from(2 + data.len()).unwrap_or(u8::MAX));
            dst.put_slice(data);
        }
    }
}
