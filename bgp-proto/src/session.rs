//! The negotiated session parameters that decoding and encoding depend on.
//!
//! The same bytes mean different things under different negotiations: AS numbers are 2 or 4
//! octets (RFC 6793), NLRI may carry path identifiers (RFC 7911), and messages may exceed
//! 4096 octets (RFC 8654). Every decode and encode entry point takes a [`SessionContext`].

use crate::capability::{AddPathFamily, Capability};
use crate::capture::MrtRecord;
use crate::iana::{Afi, CapabilityCode, Family, Safi};
use crate::open::Open;

/// Maximum message length without Extended Message (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum message length once Extended Message is negotiated (RFC 8654 §4).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// A small set of address families, stored inline (no allocation).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FamilySet {
    // Up to 8 families; enough for the families BGP speakers negotiate on one session.
    items: [Option<Family>; 8],
    /// One bit per IPv4/IPv6 unicast/multicast family in `items` (see `fast_bit`), so the
    /// lookups the UPDATE decode makes per message are one test rather than a scan.
    fast: u8,
}

/// The bit of the four families the decode looks up on every message, or 0.
#[inline(always)]
fn fast_bit(f: Family) -> u8 {
    let afi = f.afi.0.wrapping_sub(1);
    let safi = f.safi.0.wrapping_sub(1);
    if afi < 2 && safi < 2 {
        1 << (afi as u8 * 2 + safi)
    } else {
        0
    }
}

impl FamilySet {
    /// The empty set.
    pub const fn new() -> FamilySet {
        FamilySet {
            items: [None; 8],
            fast: 0,
        }
    }

    /// Adds `family`; returns false if the set is full (the family is then not recorded).
    pub fn insert(&mut self, family: Family) -> bool {
        if self.contains(family) {
            return true;
        }
        for slot in self.items.iter_mut() {
            if slot.is_none() {
                *slot = Some(family);
                self.fast |= fast_bit(family);
                return true;
            }
        }
        false
    }

    /// Removes `family` if present.
    pub fn remove(&mut self, family: Family) {
        for slot in self.items.iter_mut() {
            if *slot == Some(family) {
                *slot = None;
            }
        }
        self.fast &= !fast_bit(family);
    }

    /// Whether `family` is in the set.
    #[inline]
    pub fn contains(&self, family: Family) -> bool {
        match fast_bit(family) {
            0 => self.items.contains(&Some(family)),
            bit => self.fast & bit != 0,
        }
    }

    /// Whether the set has no family.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.iter().all(Option::is_none)
    }

    /// The families, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = Family> + '_ {
        self.items.iter().filter_map(|f| *f)
    }
}

/// As before the `fast` cache existed: the list only (`fast` follows from it).
impl std::fmt::Debug for FamilySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FamilySet")
            .field("items", &self.items)
            .finish()
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> FamilySet {
        let mut set = FamilySet::new();
        for f in iter {
            set.insert(f);
        }
        set
    }
}

/// What one session negotiated, as far as the codec cares.
///
/// Build it with the constructor that matches where the bytes come from; each one keeps
/// every route the bytes carry:
///
/// - [`SessionContext::from_opens`]: a live session, or a capture that has both OPENs
///   (what `bgp-fsm` negotiates);
/// - [`SessionContext::for_mrt`]: a message from an MRT dump (RFC 6396), whose record
///   subtype says 2- or 4-octet AS and ADD-PATH;
/// - [`SessionContext::for_capture`]: messages whose OPENs you do not have.
///
/// `Default` is the state *before* any capability exchange (2-octet AS, IPv4 unicast only,
/// no ADD-PATH, 4096-octet messages, eBGP). It is what a session uses until its OPENs are
/// exchanged, and it loses data on anything else: 4-octet AS_PATHs read as 2-octet ones
/// (treat-as-withdraw), MP_REACH_NLRI of IPv6 ignored, LOCAL_PREF discarded (eBGP). Do not
/// use it to read captures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793 §3).
    pub four_octet_as: bool,
    /// Both sides advertised Extended Message (RFC 8654 §3).
    pub extended_message: bool,
    /// Families for which received NLRI carry a Path Identifier (RFC 7911 §3): we advertised
    /// receive and the peer advertised send.
    pub add_path_rx: FamilySet,
    /// Families for which NLRI we send carry a Path Identifier.
    pub add_path_tx: FamilySet,
    /// Families negotiated on this session (RFC 4760 §8). MP attributes for other families
    /// are ignored on receipt (project decision D3).
    pub families: FamilySet,
    /// Families for which IPv4 NLRI may use an IPv6 next hop (RFC 8950).
    pub extended_next_hop: FamilySet,
    /// The session is internal (same AS on both ends): LOCAL_PREF, ORIGINATOR_ID and
    /// CLUSTER_LIST are accepted rather than discarded (RFC 7606 §7).
    pub ibgp: bool,
    /// The peer's AS, for the first-AS check on eBGP (RFC 4271 §6.3, decision D8).
    pub peer_asn: u32,
    /// Treat-as-withdraw when the leftmost AS of an eBGP AS_PATH is not `peer_asn` (D8).
    pub enforce_first_as: bool,
    /// Accept AS_SET / AS_CONFED_SET segments; when false they are treat-as-withdraw (D7).
    pub allow_as_set: bool,
}

impl Default for SessionContext {
    fn default() -> SessionContext {
        SessionContext {
            four_octet_as: false,
            extended_message: false,
            add_path_rx: FamilySet::new(),
            add_path_tx: FamilySet::new(),
            families: [Family::IPV4_UNICAST].into_iter().collect(),
            extended_next_hop: FamilySet::new(),
            ibgp: false,
            peer_asn: 0,
            enforce_first_as: false,
            allow_as_set: false,
        }
    }
}

/// Every family the UPDATE decode reports (RFC 4760: AFI 1 and 2, SAFI 1 and 2).
const DECODED_FAMILIES: [Family; 4] = [
    Family::IPV4_UNICAST,
    Family::IPV6_UNICAST,
    Family::new(Afi::IPV4, Safi::MULTICAST),
    Family::new(Afi::IPV6, Safi::MULTICAST),
];

impl SessionContext {
    /// The context for messages read from a capture whose OPENs are not at hand, so that no
    /// route is lost to the context: every family the decode reports (IPv4 and IPv6 unicast
    /// and multicast, RFC 4760) with IPv6 next hops allowed for IPv4 (RFC 8950), messages
    /// up to 65535 octets (RFC 8654), LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST kept (as on
    /// iBGP, RFC 4271 §5.1.5, RFC 4456), AS_SET and AS_CONFED segments accepted, no
    /// first-AS check. Give the two facts the bytes cannot tell: 4-octet AS (RFC 6793) and
    /// whether NLRI carry path identifiers (RFC 7911).
    pub fn for_capture(four_octet_as: bool, add_path: bool) -> SessionContext {
        let all: FamilySet = DECODED_FAMILIES.into_iter().collect();
        SessionContext {
            four_octet_as,
            extended_message: true,
            add_path_rx: if add_path { all } else { FamilySet::new() },
            add_path_tx: FamilySet::new(),
            families: all,
            extended_next_hop: DECODED_FAMILIES
                .into_iter()
                .filter(|f| f.afi == Afi::IPV4)
                .collect(),
            ibgp: true,
            peer_asn: 0,
            enforce_first_as: false,
            allow_as_set: true,
        }
    }

    /// The context for the BGP message of one MRT record: [`SessionContext::for_capture`]
    /// with 4-octet AS for the `*_AS4` subtypes (RFC 6396 §4.4.2) and path identifiers for
    /// the `*_ADDPATH` subtypes (RFC 8050 §3).
    pub fn for_mrt(record: &MrtRecord<'_>) -> SessionContext {
        SessionContext::for_capture(record.as4, record.add_path)
    }

    /// What a session between the speakers that sent `local` and `peer` negotiates, as the
    /// codec of `local`'s side sees it: 4-octet AS and Extended Message when both sent the
    /// capability (RFC 6793 §3, RFC 8654 §3); the families both advertised, in `local`'s
    /// order, where an OPEN without Multiprotocol capabilities counts as IPv4 unicast only
    /// (RFC 4760 §8); ADD-PATH receive where `local` offered receive and `peer` send, and
    /// transmit the other way round (RFC 7911 §4); IPv6 next hops where both advertised the
    /// family with next-hop AFI 2 (RFC 8950 §3); iBGP when both ASNs are equal.
    ///
    /// The two local policies are not in the OPENs: this sets `enforce_first_as` off and
    /// `allow_as_set` on, so nothing is treat-as-withdraw for policy; a speaker sets its own.
    /// This is the context `bgp-fsm` builds for each session.
    pub fn from_opens(local: &Open, peer: &Open) -> SessionContext {
        let both = |c: CapabilityCode| local.has(c) && peer.has(c);
        let announced = |o: &Open| -> FamilySet {
            let s: FamilySet = o.families().collect();
            if s.is_empty() {
                [Family::IPV4_UNICAST].into_iter().collect()
            } else {
                s
            }
        };
        let peer_families = announced(peer);
        let families: FamilySet = announced(local)
            .iter()
            .filter(|f| peer_families.contains(*f))
            .collect();
        let add_path = |o: &Open| -> Vec<AddPathFamily> {
            o.capabilities
                .iter()
                .filter_map(|c| match c {
                    Capability::AddPath(v) => Some(v.iter().copied()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (ours, theirs) = (add_path(local), add_path(peer));
        let agreed = |want: fn(&AddPathFamily) -> bool, need: fn(&AddPathFamily) -> bool| {
            ours.iter()
                .filter(|a| families.contains(a.family) && want(a))
                .filter(|a| {
                    theirs
                        .iter()
                        .find(|p| p.family == a.family)
                        .is_some_and(need)
                })
                .map(|a| a.family)
                .collect::<FamilySet>()
        };
        let add_path_rx = agreed(|a| a.receive, |p| p.send);
        let add_path_tx = agreed(|a| a.send, |p| p.receive);
        let enh = |o: &Open| -> Vec<Family> {
            o.capabilities
                .iter()
                .filter_map(|c| match c {
                    Capability::ExtendedNextHop(v) => Some(v.iter()),
                    _ => None,
                })
                .flatten()
                .filter(|e| e.next_hop_afi == Afi::IPV6)
                .map(|e| e.nlri)
                .collect()
        };
        let peer_enh = enh(peer);
        let extended_next_hop: FamilySet = enh(local)
            .into_iter()
            .filter(|f| families.contains(*f) && peer_enh.contains(f))
            .collect();
        SessionContext {
            four_octet_as: both(CapabilityCode::FOUR_OCTET_AS),
            extended_message: both(CapabilityCode::EXTENDED_MESSAGE),
            add_path_rx,
            add_path_tx,
            families,
            extended_next_hop,
            ibgp: local.asn() == peer.asn(),
            peer_asn: peer.asn(),
            enforce_first_as: false,
            allow_as_set: true,
        }
    }

    /// The largest message this session may send or receive (RFC 8654 §4; OPEN and KEEPALIVE
    /// stay within 4096 regardless).
    #[inline]
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether received NLRI of `family` carry path identifiers.
    #[inline]
    pub fn add_path_rx(&self, family: Family) -> bool {
        self.add_path_rx.contains(family)
    }

    /// Whether NLRI of `family` that we send carry path identifiers.
    #[inline]
    pub fn add_path_tx(&self, family: Family) -> bool {
        self.add_path_tx.contains(family)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::attr::{AsPath, NextHop, Nlri, PathAttributes};
    use crate::capability::ExtendedNextHopEntry;
    use crate::update::{Routes, UpdateBuilder, UpdateView};
    use bytes::BytesMut;

    /// An iBGP UPDATE with LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST, an AS_SET and a
    /// 4-octet ASN, for `routes` (all of one family) via `next_hop`, encoded as a speaker with
    /// `four_octet_as` and `add_path` sends it.
    fn rich_update(
        four_octet_as: bool,
        add_path: bool,
        next_hop: NextHop,
        routes: &[Nlri],
    ) -> bytes::Bytes {
        let mut tx = SessionContext::for_capture(four_octet_as, false);
        if add_path {
            tx.add_path_tx = tx.families;
        }
        let mut attrs = PathAttributes {
            as_path: AsPath::from_sequence([4_200_000_000, 65001]),
            local_pref: Some(250),
            originator_id: Some("192.0.2.9".parse().unwrap()),
            cluster_list: vec!["192.0.2.10".parse().unwrap()],
            ..PathAttributes::default()
        };
        attrs.as_path.segments.push(crate::attr::AsSegment {
            kind: crate::attr::AsSegmentType::Set,
            asns: vec![64512, 64513],
        });
        let mut out = BytesMut::new();
        assert_eq!(
            UpdateBuilder::new(&tx).announce(&attrs, &next_hop, routes, &mut out),
            1
        );
        out.freeze()
    }

    fn record(as4: bool, add_path: bool, message: &[u8]) -> MrtRecord<'_> {
        MrtRecord {
            timestamp: 0,
            microseconds: None,
            peer_asn: 65001,
            local_asn: 12654,
            peer_ip: "192.0.2.1".parse().unwrap(),
            local_ip: "192.0.2.2".parse().unwrap(),
            as4,
            add_path,
            local: false,
            message,
        }
    }

    /// Under `for_mrt`, for every record subtype (2/4-octet AS, with and without ADD-PATH),
    /// IPv6 and IPv4 routes (IPv4 also with an IPv6 next hop, RFC 8950) are accepted and
    /// reported with their path ids, and LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST and the
    /// AS_SET survive: nothing the bytes carry is dropped by the context.
    #[test]
    fn an_mrt_context_keeps_ipv6_and_local_pref() {
        let v6 = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        let v4 = NextHop::V4("192.0.2.1".parse().unwrap());
        let cases = [
            (v6, "2001:db8:1::/48"),
            (v6, "2001:db8:2::/64"),
            (v4, "198.51.100.0/24"),
            (v6, "203.0.113.0/24"),
        ];
        for as4 in [false, true] {
            for add_path in [false, true] {
                for (nh, p) in cases {
                    let mut n = Nlri::new(p.parse().unwrap());
                    if add_path {
                        n.path_id = Some(7);
                    }
                    let msg = rich_update(as4, add_path, nh, &[n]);
                    let cx = SessionContext::for_mrt(&record(as4, add_path, &msg));
                    let what = format!("as4 {as4}, add-path {add_path}, {p} via {nh:?}");
                    let view = UpdateView::new_checked(msg.clone(), &cx).expect(&what);
                    assert_eq!(view.discarded().count(), 0, "{what}");
                    let Routes::Update { announced, .. } = view.routes() else {
                        panic!("{what}: {:?}", view.verdict());
                    };
                    assert_eq!(announced.collect::<Vec<_>>(), [n], "{what}");
                    assert_eq!(view.local_pref(), Some(250), "{what}");
                    assert_eq!(view.cluster_list().count(), 1, "{what}");
                    assert!(view.originator_id().is_some(), "{what}");
                    // AS4_PATH merged (RFC 6793 §4.2.3) for the 2-octet records.
                    let path = view.attributes().as_path;
                    let asns: Vec<u32> =
                        path.segments.iter().flat_map(|s| s.asns.clone()).collect();
                    assert_eq!(asns, [4_200_000_000, 65001, 64512, 64513], "{what}");
                    let nh_seen = if p.contains(':') || nh != v4 {
                        view.mp_next_hop()
                    } else {
                        view.next_hop_attr().map(NextHop::V4)
                    };
                    assert_eq!(nh_seen, Some(nh), "{what}");
                }
            }
        }
    }

    fn open(asn: u32, caps: Vec<Capability>) -> Open {
        Open {
            my_as: u16::try_from(asn).unwrap_or(crate::AS_TRANS),
            hold_time: 90,
            bgp_id: "192.0.2.1".parse().unwrap(),
            capabilities: caps,
        }
    }

    /// `from_opens`: what both sides advertised, in the local side's order; ADD-PATH by
    /// direction; an OPEN without Multiprotocol counts as IPv4 unicast.
    #[test]
    fn from_opens_takes_what_both_advertised() {
        let v4 = Family::IPV4_UNICAST;
        let v6 = Family::IPV6_UNICAST;
        let ap = |family, send, receive| AddPathFamily {
            family,
            send,
            receive,
        };
        let local = open(
            65000,
            vec![
                Capability::Multiprotocol(v6),
                Capability::Multiprotocol(v4),
                Capability::FourOctetAs(65000),
                Capability::ExtendedMessage,
                Capability::AddPath(vec![ap(v4, true, true), ap(v6, false, true)]),
                Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                    nlri: v4,
                    next_hop_afi: Afi::IPV6,
                }]),
            ],
        );
        let peer = open(
            4_200_000_000,
            vec![
                Capability::Multiprotocol(v4),
                Capability::Multiprotocol(v6),
                Capability::FourOctetAs(4_200_000_000),
                Capability::AddPath(vec![ap(v4, false, true), ap(v6, true, false)]),
                Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                    nlri: v4,
                    next_hop_afi: Afi::IPV6,
                }]),
            ],
        );
        let cx = SessionContext::from_opens(&local, &peer);
        assert!(cx.four_octet_as && !cx.extended_message && !cx.ibgp);
        assert_eq!(cx.peer_asn, 4_200_000_000);
        assert_eq!(cx.families.iter().collect::<Vec<_>>(), [v6, v4]);
        assert_eq!(cx.add_path_tx.iter().collect::<Vec<_>>(), [v4]);
        assert_eq!(cx.add_path_rx.iter().collect::<Vec<_>>(), [v6]);
        assert_eq!(cx.extended_next_hop.iter().collect::<Vec<_>>(), [v4]);

        // An old speaker: no capabilities at all.
        let old = open(65000, vec![]);
        let cx = SessionContext::from_opens(&local, &old);
        assert!(!cx.four_octet_as && cx.ibgp);
        assert_eq!(cx.families.iter().collect::<Vec<_>>(), [v4]);
        assert!(cx.add_path_rx.is_empty() && cx.add_path_tx.is_empty());
        assert!(cx.extended_next_hop.is_empty());
    }

    /// `contains` (a bit test for IPv4/IPv6 unicast/multicast) says what a scan of the list
    /// says, through inserts and removes.
    #[test]
    fn contains_agrees_with_the_list() {
        let families: Vec<Family> = [0u16, 1, 2, 3, 25]
            .iter()
            .flat_map(|&a| {
                [0u8, 1, 2, 3, 4, 128]
                    .iter()
                    .map(move |&s| Family::new(Afi(a), Safi(s)))
            })
            .collect();
        let mut set = FamilySet::new();
        let mut x = 0x9e37_79b9u32;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let f = families[(x as usize >> 4) % families.len()];
            if x & 1 == 0 {
                set.insert(f);
            } else {
                set.remove(f);
            }
            for g in &families {
                assert_eq!(set.contains(*g), set.iter().any(|h| h == *g), "{g:?}");
            }
        }
    }
}
