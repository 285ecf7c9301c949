//! Import policy and loop detection for received routes: which routes the session keeps in
//! its Adj-RIB-In (RFC 4271 §9.1.2, Phase 2 input policy; issue 13 §3).
//!
//! Every received route is still parsed and classified (decision D14); these rules decide
//! only what is kept. The order, applied per route in [`crate::Session`]:
//!
//! 1. AS loop (RFC 4271 §9.1.2) and, on iBGP, a reflected copy of our own route (RFC 4456
//!    §8): the route is treat-as-withdraw, counted in `Counters::own_as_loops`.
//! 2. Semantic NEXT_HOP checks (RFC 4271 §6.3, decision D5), counted in
//!    `Counters::rejected_next_hop`.
//! 3. The [`ImportPolicy`]: a route it refuses is not kept (any earlier route for the same
//!    NLRI goes), counted in `Counters::import_rejected`.
//! 4. Only what is kept counts against `max_prefixes` (decision D6).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use bgp_proto::{Family, NextHop, Nlri, PathAttributes};
use ipnet::IpNet;

use crate::action::{Action, RouteEvents};
use crate::session::{Session, State};

/// Which received routes are kept in the Adj-RIB-In.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ImportPolicy {
    /// Keep nothing: routes are parsed, classified and counted, never stored. What an
    /// advertise-only speaker wants (decision D14).
    None,
    /// Keep every route that passes the loop and next-hop checks.
    #[default]
    All,
    /// Keep the routes whose prefix matches one of these ranges.
    Prefixes(Vec<PrefixRange>),
}

impl ImportPolicy {
    /// Whether a route for `prefix` is kept.
    pub fn accepts(&self, prefix: &IpNet) -> bool {
        match self {
            ImportPolicy::None => false,
            ImportPolicy::All => true,
            ImportPolicy::Prefixes(ranges) => ranges.iter().any(|r| r.matches(prefix)),
        }
    }

    /// Whether every prefix `self` accepts, `old` accepted too: changing from `old` to
    /// `self` can only drop routes, so no ROUTE-REFRESH is needed. Conservative: a range
    /// covered only by the union of several old ranges counts as a widening.
    pub fn is_within(&self, old: &ImportPolicy) -> bool {
        match (self, old) {
            (ImportPolicy::None, _) | (_, ImportPolicy::All) => true,
            (_, ImportPolicy::None) | (ImportPolicy::All, _) => false,
            (ImportPolicy::Prefixes(new), ImportPolicy::Prefixes(old)) => {
                new.iter().all(|n| old.iter().any(|o| n.is_within(o)))
            }
        }
    }
}

impl fmt::Display for ImportPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportPolicy::None => f.write_str("none"),
            ImportPolicy::All => f.write_str("all"),
            ImportPolicy::Prefixes(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
        }
    }
}

/// A prefix-list entry: `prefix`, optionally with a range of lengths (`ge`, `le`), as in
/// FRR's and Cisco's `ip prefix-list`. Without `ge` and `le` only `prefix` itself matches;
/// with them, any more-specific prefix inside `prefix` whose length is in
/// `ge.unwrap_or(prefix length) ..= le.unwrap_or(maximum length)`. Build it with
/// [`PrefixRange::new`] or parse `"10.0.0.0/8 ge 24 le 32"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixRange {
    prefix: IpNet,
    ge: Option<u8>,
    le: Option<u8>,
}

impl PrefixRange {
    /// Checks `len(prefix) <= ge <= le <= maximum length` (host bits of `prefix` are
    /// cleared by the caller or refused by the parser).
    pub fn new(prefix: IpNet, ge: Option<u8>, le: Option<u8>) -> Result<PrefixRange, String> {
        let len = prefix.prefix_len();
        let max = prefix.max_prefix_len();
        for (name, v) in [("ge", ge), ("le", le)] {
            match v {
                Some(v) if v < len || v > max => {
                    return Err(format!(
                        "{name} {v} is outside {len}..={max} (the prefix length up to the \
                         maximum)"
                    ));
                }
                _ => {}
            }
        }
        if let (Some(ge), Some(le)) = (ge, le) {
            if ge > le {
                return Err(format!("ge {ge} is greater than le {le}"));
            }
        }
        Ok(PrefixRange { prefix, ge, le })
    }

    /// The covering prefix of the range.
    pub fn prefix(&self) -> IpNet {
        self.prefix
    }

    /// The lengths matched, inclusive.
    fn lengths(&self) -> (u8, u8) {
        let len = self.prefix.prefix_len();
        match (self.ge, self.le) {
            (None, None) => (len, len),
            (ge, le) => (
                ge.unwrap_or(len),
                le.unwrap_or(self.prefix.max_prefix_len()),
            ),
        }
    }

    /// Whether `p` lies inside the range's prefix with a length in the range.
    pub fn matches(&self, p: &IpNet) -> bool {
        let (lo, hi) = self.lengths();
        let len = p.prefix_len();
        len >= lo && len <= hi && self.prefix.contains(p)
    }

    /// Whether every prefix this range matches, `other` matches too.
    fn is_within(&self, other: &PrefixRange) -> bool {
        let (lo, hi) = self.lengths();
        let (olo, ohi) = other.lengths();
        other.prefix.contains(&self.prefix) && lo >= olo && hi <= ohi
    }
}

impl fmt::Display for PrefixRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if let Some(ge) = self.ge {
            write!(f, " ge {ge}")?;
        }
        if let Some(le) = self.le {
            write!(f, " le {le}")?;
        }
        Ok(())
    }
}

impl FromStr for PrefixRange {
    type Err = String;

    /// `"PREFIX"`, `"PREFIX le N"`, `"PREFIX ge N"` or `"PREFIX ge N le M"`.
    fn from_str(s: &str) -> Result<PrefixRange, String> {
        let mut words = s.split_whitespace();
        let p = words
            .next()
            .ok_or("expected \"PREFIX [ge N] [le N]\", got \"\"")?;
        let prefix: IpNet = p
            .parse()
            .map_err(|_| format!("expected a prefix like 192.0.2.0/24, got \"{p}\""))?;
        if prefix.trunc() != prefix {
            return Err(format!(
                "{prefix} has host bits set (did you mean {}?)",
                prefix.trunc()
            ));
        }
        let (mut ge, mut le) = (None, None);
        while let Some(word) = words.next() {
            let slot = match word {
                "ge" if ge.is_none() && le.is_none() => &mut ge,
                "le" if le.is_none() => &mut le,
                _ => {
                    return Err(format!(
                        "expected \"PREFIX [ge N] [le N]\", got \"{s}\" (unexpected \"{word}\")"
                    ))
                }
            };
            let n = words
                .next()
                .and_then(|n| n.parse::<u8>().ok())
                .ok_or_else(|| format!("{word} needs a prefix length, in \"{s}\""))?;
            *slot = Some(n);
        }
        PrefixRange::new(prefix, ge, le)
    }
}

impl Session {
    /// Event::SetImport: new rules for a live session, without a reset (issue 13 §3).
    pub(crate) fn set_import(
        &mut self,
        policy: ImportPolicy,
        allow_own_as: u8,
        out: &mut Vec<Action>,
    ) {
        let widened =
            !policy.is_within(&self.config.import) || allow_own_as > self.config.allow_own_as;
        self.config.import = policy;
        self.config.allow_own_as = allow_own_as;
        // Kept routes the new rules refuse go now, stale ones included.
        let (asn, allow, ibgp, id) = (
            self.config.local_asn,
            allow_own_as,
            self.config.is_ibgp(),
            self.config.local_id,
        );
        let gone: Vec<Nlri> = self
            .rib_in
            .iter()
            .filter(|r| {
                !self.config.import.accepts(&r.nlri.prefix)
                    || is_loop(&r.attrs, asn, allow, ibgp, id)
            })
            .map(|r| r.nlri)
            .collect();
        for n in &gone {
            self.rib_in.remove(n);
            self.stale.remove(n);
            self.gr_stale.remove(n);
        }
        if !gone.is_empty() {
            out.push(Action::Received(RouteEvents {
                withdrawn: gone,
                ..RouteEvents::default()
            }));
        }
        // RFC 2918 §3: ask the peer to send its routes again, so that those refused before
        // are judged by the new rules. Only with the capability (request_refresh checks it;
        // D4: sending it otherwise would be an error for the peer).
        if widened && self.state() == State::Established {
            let families: Vec<Family> = self
                .negotiated()
                .map(|n| n.families.clone())
                .unwrap_or_default();
            for f in families {
                self.request_refresh(f, out);
            }
        }
    }
}

/// RFC 4271 §9.1.2: "If the AS_PATH attribute of a BGP route contains an AS loop, the BGP
/// route should be excluded from the Phase 2 decision function." Our AS may appear at most
/// `allow_own_as` times (0: never), in any segment. On iBGP, RFC 4456 §8: "A router that
/// recognizes the ORIGINATOR_ID attribute SHOULD ignore a route received with its BGP
/// Identifier as the ORIGINATOR_ID" (our own route reflected back).
pub(crate) fn is_loop(
    attrs: &PathAttributes,
    local_asn: u32,
    allow_own_as: u8,
    ibgp: bool,
    local_id: Ipv4Addr,
) -> bool {
    let own = attrs
        .as_path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter())
        .filter(|&&a| a == local_asn)
        .count();
    own > usize::from(allow_own_as) || (ibgp && attrs.originator_id == Some(local_id))
}

/// RFC 4271 §6.3: "In the case of an EBGP, where the sender and receiver are one IP hop away
/// from each other, either the IP address in the NEXT_HOP MUST be the sender's IP address
/// that is used to establish the BGP connection, or the interface associated with the
/// NEXT_HOP IP address MUST share a common subnet with the receiving BGP speaker."
///
/// `subnets` are the prefixes of the interface that carries the session. A next hop of a
/// family with no prefix in `subnets` is not judged (nothing is known about it), nor is an
/// IPv6 link-local one (on-link by definition).
pub(crate) fn is_off_subnet(nh: &NextHop, subnets: &[IpNet], peer: Option<IpAddr>) -> bool {
    let addr = match nh {
        NextHop::V4(a) => IpAddr::V4(*a),
        NextHop::V6 { global, .. } if global.is_unicast_link_local() => return false,
        NextHop::V6 { global, .. } => IpAddr::V6(*global),
    };
    if Some(addr) == peer {
        return false;
    }
    let mut same_family = subnets
        .iter()
        .filter(|n| n.addr().is_ipv4() == addr.is_ipv4())
        .peekable();
    same_family.peek().is_some() && !same_family.any(|n| n.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> PrefixRange {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn exact_range_matches_only_its_prefix() {
        let r = range("192.0.2.0/24");
        assert!(r.matches(&net("192.0.2.0/24")));
        assert!(!r.matches(&net("192.0.2.0/25")));
        assert!(!r.matches(&net("192.0.0.0/16")));
    }

    #[test]
    fn le_and_ge_ranges_match_more_specifics() {
        let r = range("192.0.2.0/24 le 32");
        assert!(r.matches(&net("192.0.2.0/24")));
        assert!(r.matches(&net("192.0.2.7/32")));
        assert!(!r.matches(&net("192.0.3.0/32")));
        let r = range("10.0.0.0/8 ge 24 le 28");
        assert!(!r.matches(&net("10.1.0.0/16")));
        assert!(r.matches(&net("10.1.2.0/24")));
        assert!(r.matches(&net("10.1.2.16/28")));
        assert!(!r.matches(&net("10.1.2.1/32")));
        let r = range("2001:db8::/32 ge 48");
        assert!(r.matches(&net("2001:db8:1::/48")));
        assert!(r.matches(&net("2001:db8:1::1/128")));
        assert!(!r.matches(&net("2001:db8::/32")));
        assert!(!r.matches(&net("192.0.2.0/24")));
    }

    #[test]
    fn bad_ranges_are_refused_with_a_reason() {
        for (s, why) in [
            ("192.0.2.1/24", "host bits"),
            ("192.0.2.0/24 le 33", "outside 24..=32"),
            ("192.0.2.0/24 ge 16", "outside 24..=32"),
            ("192.0.2.0/24 ge 30 le 28", "greater than"),
            ("192.0.2.0/24 le", "needs a prefix length"),
            ("192.0.2.0/24 le 32 ge 30", "unexpected \"ge\""),
            ("192.0.2.0/24 eq 32", "unexpected \"eq\""),
            ("nonsense", "expected a prefix"),
        ] {
            let e = s.parse::<PrefixRange>().unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
        assert_eq!(
            range("10.0.0.0/8 ge 24 le 32").to_string(),
            "10.0.0.0/8 ge 24 le 32"
        );
    }

    #[test]
    fn narrowing_is_recognised() {
        let wide = ImportPolicy::Prefixes(vec![range("10.0.0.0/8 le 32")]);
        let narrow = ImportPolicy::Prefixes(vec![range("10.1.0.0/16 ge 24 le 32")]);
        assert!(narrow.is_within(&wide));
        assert!(!wide.is_within(&narrow));
        assert!(ImportPolicy::None.is_within(&narrow));
        assert!(wide.is_within(&ImportPolicy::All));
        assert!(!ImportPolicy::All.is_within(&wide));
        assert!(!narrow.is_within(&ImportPolicy::None));
    }

    #[test]
    fn next_hop_off_the_shared_subnet() {
        let subnets = [net("192.0.2.0/24"), net("2001:db8::/64")];
        let v4 = |s: &str| NextHop::V4(s.parse().unwrap());
        assert!(!is_off_subnet(&v4("192.0.2.9"), &subnets, None));
        assert!(is_off_subnet(&v4("198.51.100.1"), &subnets, None));
        // The peer's own address is always fine.
        let peer = Some("198.51.100.1".parse().unwrap());
        assert!(!is_off_subnet(&v4("198.51.100.1"), &subnets, peer));
        let v6 = |s: &str| NextHop::V6 {
            global: s.parse().unwrap(),
            link_local: None,
        };
        assert!(!is_off_subnet(&v6("2001:db8::5"), &subnets, None));
        assert!(is_off_subnet(&v6("2001:db8:1::5"), &subnets, None));
        assert!(!is_off_subnet(&v6("fe80::1"), &subnets, None));
        // Nothing known about a family: not judged.
        assert!(!is_off_subnet(&v4("198.51.100.1"), &subnets[1..], None));
    }
}
