//! UPDATE message (RFC 4271 §4.3): a checked view for decoding, with the RFC 7606 verdict,
//! and a builder that packs many prefixes into as few messages as the session allows.
//!
//! SKELETON: the public signatures below are the boundary other crates code against; the
//! bodies are being written.

use bytes::BytesMut;

use crate::attr::{NextHop, Nlri, PathAttributes};
use crate::iana::{AttrType, Family};
use crate::session::SessionContext;
use crate::DecodeError;

/// The RFC 7606 outcome of an UPDATE whose structure was sound enough to keep the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use the routes (some attributes may have been discarded: see `discarded`).
    Accept,
    /// Handle every NLRI in the message as withdrawn (RFC 7606 §2), because of `attr`.
    TreatAsWithdraw { attr: AttrType, reason: &'static str },
}

/// A checked view over one whole UPDATE message (header included).
///
/// `new_checked` walks every length once; afterwards accessors cannot fail or panic.
#[derive(Debug, Clone)]
pub struct UpdateView<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> UpdateView<B> {
    /// Checks structure and classifies every attribute per RFC 7606. `Err` only where the
    /// session must be reset (e.g. 3/1 length overflow, 3/10 bad NLRI, 3/9 bad MP_REACH).
    pub fn new_checked(buf: B, cx: &SessionContext) -> Result<Self, DecodeError> {
        let _ = cx;
        Ok(UpdateView { buf })
    }

    /// The RFC 7606 verdict for this message.
    pub fn verdict(&self) -> Verdict {
        todo!()
    }

    /// Attributes dropped by "attribute discard" (RFC 7606 §2), with the reason.
    pub fn discarded(&self) -> impl Iterator<Item = (AttrType, &'static str)> + '_ {
        std::iter::empty()
    }

    /// Withdrawn routes: the Withdrawn Routes field and MP_UNREACH_NLRI (negotiated
    /// families only).
    pub fn withdrawn(&self) -> impl Iterator<Item = Nlri> + '_ {
        std::iter::empty()
    }

    /// Announced routes: the NLRI field and MP_REACH_NLRI (negotiated families only).
    pub fn announced(&self) -> impl Iterator<Item = Nlri> + '_ {
        std::iter::empty()
    }

    /// The next hop for announced routes of `family`.
    pub fn next_hop(&self, family: Family) -> Option<NextHop> {
        let _ = family;
        todo!()
    }

    /// The attributes as owned values (valid ones only; AS4_PATH merged per RFC 6793 §4.2.3).
    pub fn attributes(&self) -> PathAttributes {
        todo!()
    }

    /// `Some(family)` when this UPDATE is an End-of-RIB marker (RFC 4724 §2).
    pub fn end_of_rib(&self) -> Option<Family> {
        todo!()
    }

    /// The whole message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

/// Encodes UPDATEs for one session, splitting at the session's maximum message length.
#[derive(Debug, Clone, Copy)]
pub struct UpdateBuilder<'a> {
    cx: &'a SessionContext,
}

impl<'a> UpdateBuilder<'a> {
    pub fn new(cx: &'a SessionContext) -> Self {
        UpdateBuilder { cx }
    }

    /// Appends UPDATEs announcing `nlri` (all of one address family) with `attrs` and
    /// `next_hop` to `dst`; returns the number of messages written. IPv4 NLRI with an IPv4
    /// next hop use the NLRI field and NEXT_HOP; everything else uses MP_REACH_NLRI.
    pub fn announce(
        &self,
        attrs: &PathAttributes,
        next_hop: &NextHop,
        nlri: &[Nlri],
        dst: &mut BytesMut,
    ) -> usize {
        let _ = (self.cx, attrs, next_hop, nlri, dst);
        todo!()
    }

    /// Appends UPDATEs withdrawing `nlri` (all of one address family); returns the number of
    /// messages written.
    pub fn withdraw(&self, nlri: &[Nlri], dst: &mut BytesMut) -> usize {
        let _ = (nlri, dst);
        todo!()
    }

    /// Appends an End-of-RIB marker for `family` (RFC 4724 §2).
    pub fn end_of_rib(&self, family: Family, dst: &mut BytesMut) {
        let _ = (family, dst);
        todo!()
    }
}
