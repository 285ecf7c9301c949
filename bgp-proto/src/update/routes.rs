//! The routes of an UPDATE with the RFC 7606 verdict applied, as one value callers must
//! match on ([`UpdateView::routes`]), and the next-hop accessors.

use std::net::Ipv4Addr;

use super::nlri::NlriPair;
use super::rules::Slot;
use super::UpdateView;
use crate::attr::{self, NextHop, Nlri};
use crate::iana::AttrType;

/// What one UPDATE asks its receiver to do, with the RFC 7606 verdict already applied.
///
/// A message judged treat-as-withdraw still has announced prefixes in its bytes, and
/// [`UpdateView::announced`] lists them; this type does not let them through as
/// announcements: a caller gets at the prefixes only by matching, so the verdict cannot be
/// overlooked.
#[must_use = "an UPDATE's routes are its verdict: treat-as-withdraw withdraws every prefix"]
#[derive(Debug, Clone)]
pub enum Routes<'a> {
    /// The verdict is accept: withdraw `withdrawn`, then install `announced` (a prefix in
    /// both ends up announced, RFC 4271 §4.3). Some attributes may have been discarded
    /// ([`UpdateView::discarded`]).
    Update {
        /// The Withdrawn Routes field and MP_UNREACH_NLRI (negotiated families).
        withdrawn: Prefixes<'a>,
        /// The NLRI field and MP_REACH_NLRI (negotiated families).
        announced: Prefixes<'a>,
    },
    /// Treat-as-withdraw (RFC 7606 §2): every prefix of the message, withdrawn or
    /// announced, is to be handled as withdrawn.
    WithdrawAll {
        /// Every prefix of the message: the withdrawn ones, then the announced ones.
        prefixes: Prefixes<'a>,
        /// The attribute that caused it.
        attr: AttrType,
        /// Why, with the RFC section.
        reason: &'static str,
    },
}

/// Prefixes of one UPDATE, without allocating (see [`Routes`]).
#[derive(Debug, Clone)]
pub struct Prefixes<'a> {
    cur: NlriPair<'a>,
    then: Option<NlriPair<'a>>,
}

impl Iterator for Prefixes<'_> {
    type Item = Nlri;

    #[inline(always)]
    fn next(&mut self) -> Option<Nlri> {
        loop {
            if let Some(n) = self.cur.next() {
                return Some(n);
            }
            self.cur = self.then.take()?;
        }
    }
}

impl<B: AsRef<[u8]>> UpdateView<B> {
    /// The routes of this UPDATE with its verdict applied; see [`Routes`].
    #[inline]
    pub fn routes(&self) -> Routes<'_> {
        match self.verdict() {
            super::Verdict::Accept => Routes::Update {
                withdrawn: Prefixes {
                    cur: self.withdrawn_pair(),
                    then: None,
                },
                announced: Prefixes {
                    cur: self.announced_pair(),
                    then: None,
                },
            },
            super::Verdict::TreatAsWithdraw { attr, reason } => Routes::WithdrawAll {
                prefixes: self.prefixes(),
                attr,
                reason,
            },
        }
    }

    /// Every prefix of this UPDATE, withdrawn ones first, then announced ones, whatever the
    /// verdict: what a treat-as-withdraw message (RFC 7606 §2) withdraws.
    #[inline]
    pub fn prefixes(&self) -> Prefixes<'_> {
        Prefixes {
            cur: self.withdrawn_pair(),
            then: Some(self.announced_pair()),
        }
    }

    /// The NEXT_HOP attribute (RFC 4271 §5.1.3): the next hop of the routes in the NLRI
    /// field (IPv4 unicast), when present and valid.
    #[inline]
    pub fn next_hop_attr(&self) -> Option<Ipv4Addr> {
        attr::decode_ipv4(self.value(Slot::NextHop)?)
    }

    /// The next hop of MP_REACH_NLRI's routes (RFC 4760 §3; an IPv6 global address with an
    /// optional link-local one, or IPv4), when its family was negotiated.
    #[inline]
    pub fn mp_next_hop(&self) -> Option<NextHop> {
        if !self.mp_reach.active {
            return None;
        }
        NextHop::decode_value(self.span(self.mp_reach.next_hop))
    }
}
