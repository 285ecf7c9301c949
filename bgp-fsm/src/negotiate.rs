//! The OPEN exchange: the OPEN we send, the checks on the peer's (RFC 4271 §6.2, RFC 5492,
//! RFC 6286, RFC 6793, RFC 7607, RFC 9234) and what the two agree on.

use std::net::Ipv4Addr;

use bgp_proto::notification::open as open_err;
use bgp_proto::{
    AddPathFamily, Afi, Capability, CapabilityCode, ErrorCode, ExtendedNextHopEntry, Family,
    FamilySet, GrFamily, GracefulRestart, LlgrFamily, Notification, Open, Role, SessionContext,
    AS_TRANS,
};
use bytes::{Bytes, BytesMut};

use crate::config::SessionConfig;

/// What the two OPENs agreed on. Available from OpenConfirm on
/// ([`crate::Session::negotiated`]) and carried by `Action::SessionUp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Our AS.
    pub local_asn: u32,
    /// The peer's AS (from the 4-octet AS capability when present, RFC 6793).
    pub peer_asn: u32,
    /// Our BGP Identifier.
    pub local_id: Ipv4Addr,
    /// The peer's BGP Identifier.
    pub peer_id: Ipv4Addr,
    /// The smaller of the two Hold Times, in seconds; 0 = no KEEPALIVEs, no hold timer
    /// (RFC 4271 §4.2).
    pub hold_time: u16,
    /// The interval between our KEEPALIVEs, in seconds (0 when `hold_time` is 0).
    pub keepalive: u16,
    /// The peer's proposed Hold Time.
    pub peer_hold_time: u16,
    /// Both sides advertised the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Families both sides advertised (RFC 4760 §8; a side that sent no Multiprotocol
    /// capability at all counts as IPv4 unicast only).
    pub families: Vec<Family>,
    /// Families where we send several paths per prefix (RFC 7911): we offered send and the
    /// peer offered receive.
    pub add_path_send: Vec<Family>,
    /// Families where the peer sends several paths per prefix.
    pub add_path_receive: Vec<Family>,
    /// Both sides advertised Extended Message (RFC 8654).
    pub extended_message: bool,
    /// Families whose routes may carry an IPv6 next hop (RFC 8950), both sides agreeing.
    pub extended_next_hop: Vec<Family>,
    /// The longest message either side may send on this session; give it to the framer
    /// (`BgpCodec::set_max_len`).
    pub max_message_len: usize,
    /// We may send ROUTE-REFRESH: the peer advertised Route Refresh (RFC 2918).
    pub route_refresh: bool,
    /// Both sides advertised Enhanced Route Refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Our Graceful Restart capability, if sent (RFC 4724).
    pub local_graceful_restart: Option<GracefulRestart>,
    /// The peer's Graceful Restart capability, if received.
    pub peer_graceful_restart: Option<GracefulRestart>,
    /// The peer's Long-Lived Graceful Restart families, if it sent the capability (RFC 9494).
    pub peer_llgr: Option<Vec<LlgrFamily>>,
    /// Our Long-Lived Graceful Restart families, if we sent the capability (RFC 9494).
    pub local_llgr: Option<Vec<LlgrFamily>>,
    /// Our BGP Role and the peer's (RFC 9234).
    pub local_role: Option<Role>,
    /// The peer's BGP Role (RFC 9234 §4.1), if it sent the capability.
    pub peer_role: Option<Role>,
    /// The peer's FQDN capability (hostname, domain).
    pub peer_hostname: Option<String>,
    /// The peer's domain name from the FQDN capability.
    pub peer_domain: Option<String>,
    /// The codec context for this session (what `bgp_proto::decode` and `UpdateBuilder`
    /// take).
    pub context: SessionContext,
}

impl Negotiated {
    /// Internal BGP.
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.peer_asn
    }

    /// Whether ADD-PATH send was negotiated for `family`.
    pub fn sends_add_path(&self, family: Family) -> bool {
        self.add_path_send.contains(&family)
    }
}

/// The Only to Customer value a route without one must carry when advertised on an eBGP
/// session where our BGP Role is `local` (RFC 9234 §5, egress): "If a route is to be
/// advertised to a Customer, a Peer, or an RS-Client (when the sender is an RS), and the OTC
/// Attribute is not present, then when advertising the route, an OTC Attribute MUST be added
/// with a value equal to the AS number of the local AS." Our role Provider, Peer or
/// RouteServer means the other side is a Customer, a Peer or an RS-Client; `None` for every
/// other role and without one.
pub fn otc_on_egress(local: Option<Role>, local_asn: u32) -> Option<u32> {
    match local {
        Some(Role::Provider | Role::Peer | Role::RouteServer) => Some(local_asn),
        _ => None,
    }
}

/// Whether `local` and `peer` form an allowed BGP Role pair (RFC 9234 §4.2, Table 2).
pub fn roles_match(local: Role, peer: Role) -> bool {
    matches!(
        (local, peer),
        (Role::Provider, Role::Customer)
            | (Role::Customer, Role::Provider)
            | (Role::RouteServer, Role::RouteServerClient)
            | (Role::RouteServerClient, Role::RouteServer)
            | (Role::Peer, Role::Peer)
    )
}

/// The OPEN we send (RFC 4271 §4.2) with our capabilities (RFC 5492).
pub(crate) fn local_open(config: &SessionConfig) -> Open {
    Open {
        // RFC 6793 §4.1: a 4-octet AS that does not fit goes as AS_TRANS.
        my_as: u16::try_from(config.local_asn).unwrap_or(AS_TRANS),
        hold_time: config.hold_time,
        bgp_id: config.local_id,
        capabilities: local_capabilities(config),
    }
}

fn local_capabilities(config: &SessionConfig) -> Vec<Capability> {
    let mut caps: Vec<Capability> = local_families(config)
        .iter()
        .map(|f| Capability::Multiprotocol(*f))
        .collect();
    if config.route_refresh {
        caps.push(Capability::RouteRefresh);
        if config.enhanced_route_refresh {
            caps.push(Capability::EnhancedRouteRefresh);
        }
    }
    caps.push(Capability::FourOctetAs(config.local_asn));
    let add_path: Vec<AddPathFamily> = config
        .add_path
        .iter()
        .filter(|a| a.send || a.receive)
        .map(|a| AddPathFamily {
            family: a.family,
            send: a.send,
            receive: a.receive,
        })
        .collect();
    if !add_path.is_empty() {
        caps.push(Capability::AddPath(add_path));
    }
    if let Some(gr) = local_graceful_restart(config) {
        caps.push(Capability::GracefulRestart(gr));
    }
    if let Some(llgr) = local_llgr(config) {
        caps.push(Capability::LongLivedGracefulRestart(llgr));
    }
    if config.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    let enh: Vec<ExtendedNextHopEntry> = config
        .extended_next_hop
        .iter()
        .map(|f| ExtendedNextHopEntry {
            nlri: *f,
            next_hop_afi: Afi::IPV6,
        })
        .collect();
    if !enh.is_empty() {
        caps.push(Capability::ExtendedNextHop(enh));
    }
    if let Some(role) = config.role {
        caps.push(Capability::Role(role));
    }
    if let Some(hostname) = &config.hostname {
        caps.push(Capability::Fqdn {
            hostname: hostname.clone(),
            domain: config.domain.clone().unwrap_or_default(),
        });
    }
    caps
}

/// The families we offer: the configured ones, IPv4 unicast when none are.
fn local_families(config: &SessionConfig) -> Vec<Family> {
    if config.families.is_empty() {
        vec![Family::IPV4_UNICAST]
    } else {
        config.families.clone()
    }
}

fn local_graceful_restart(config: &SessionConfig) -> Option<GracefulRestart> {
    config.graceful_restart.as_ref().map(|gr| GracefulRestart {
        restart_state: gr.restarting,
        notification: gr.notification,
        restart_time: gr.restart_time.min(4095),
        families: local_families(config)
            .iter()
            .map(|f| GrFamily {
                family: *f,
                forwarding: gr.preserve_forwarding.contains(f),
            })
            .collect(),
    })
}

/// RFC 9494 §3: one entry per family we offer, with our Long-lived Stale Time (24 bits) and
/// the same F bit as in the Graceful Restart capability. RFC 9494 §3 also requires the
/// Graceful Restart capability, so LLGR is only offered with it.
fn local_llgr(config: &SessionConfig) -> Option<Vec<LlgrFamily>> {
    let gr = config.graceful_restart.as_ref()?;
    let stale_time = gr.llgr_stale_time?.min(0x00FF_FFFF);
    Some(
        local_families(config)
            .iter()
            .map(|f| LlgrFamily {
                family: *f,
                forwarding: gr.preserve_forwarding.contains(f),
                stale_time,
            })
            .collect(),
    )
}

fn open_error(subcode: u8, data: Bytes) -> Notification {
    Notification::new(ErrorCode::OPEN_MESSAGE, subcode, data)
}

/// Checks the peer's OPEN and computes what was negotiated; `Err` is the NOTIFICATION to
/// send (BGPOpenMsgErr, RFC 4271 §8.1.5 Event 22).
pub(crate) fn negotiate(config: &SessionConfig, open: &Open) -> Result<Negotiated, Notification> {
    let no_data = Bytes::new;
    // RFC 7607 §2: "A BGP speaker MUST NOT ... accept AS 0 ... in the My Autonomous System
    // field of the OPEN message" and in the 4-octet AS capability: 2/2.
    let peer_asn = open.asn();
    if open.my_as == 0 || peer_asn == 0 {
        return Err(open_error(open_err::BAD_PEER_AS, no_data()));
    }
    // RFC 4271 §6.2: "If the Autonomous System field of the OPEN message is unacceptable,
    // then the Error Subcode MUST be set to Bad Peer AS." With RFC 6793 the real AS is in
    // the capability and My AS is AS_TRANS; without the capability My AS is the AS.
    if peer_asn != config.peer_asn {
        return Err(open_error(open_err::BAD_PEER_AS, no_data()));
    }
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    // Other non-zero values below our minimum are rejected by local policy.
    if matches!(open.hold_time, 1 | 2)
        || (open.hold_time != 0 && open.hold_time < config.min_hold_time)
    {
        // The caller's span names the peer.
        tracing::info!(
            "the peer's OPEN offers hold time {} s, below the minimum we accept ({} s, \
             min_hold_time; RFC 4271 §6.2): refused with NOTIFICATION 2/6",
            open.hold_time,
            config.min_hold_time.max(3)
        );
        return Err(open_error(open_err::UNACCEPTABLE_HOLD_TIME, no_data()));
    }
    // RFC 6286 §2.2: a BGP Identifier is a non-zero 32-bit value, and on an internal session
    // it must differ from ours.
    let ibgp = config.is_ibgp();
    if open.bgp_id.is_unspecified() || (ibgp && open.bgp_id == config.local_id) {
        return Err(open_error(open_err::BAD_BGP_ID, no_data()));
    }
    // RFC 5492 §5: a speaker that requires a capability the peer did not advertise MAY send
    // 2/7 with "the capability or capabilities" it requires as Data.
    let ours = local_capabilities(config);
    let mut missing = BytesMut::new();
    for code in &config.required_capabilities {
        if !open.has(*code) {
            match ours.iter().find(|c| c.code() == *code) {
                Some(cap) => cap.encode(&mut missing),
                None => missing.extend_from_slice(&[code.0, 0]),
            }
        }
    }
    if !missing.is_empty() {
        return Err(open_error(
            open_err::UNSUPPORTED_CAPABILITY,
            missing.freeze(),
        ));
    }
    // RFC 9234 §4.2: role checks apply to external sessions.
    let peer_roles: Vec<Role> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Role(r) => Some(*r),
            _ => None,
        })
        .collect();
    let peer_role = peer_roles.first().copied();
    if let (Some(local), false) = (config.role, ibgp) {
        // "If multiple BGP Role Capabilities are received and not all of them have the same
        // value, then the BGP speaker MUST reject the connection using the Role Mismatch
        // Notification."
        let conflicting = peer_roles.iter().any(|r| Some(*r) != peer_role);
        let mismatch = match peer_role {
            Some(peer) => !roles_match(local, peer),
            None => config.strict_role,
        };
        if conflicting || mismatch {
            return Err(open_error(open_err::ROLE_MISMATCH, no_data()));
        }
    }

    let hold_time = config.hold_time.min(open.hold_time);
    let keepalive = keepalive_interval(config.keepalive, hold_time);
    let peer_families: Vec<Family> = {
        let f: Vec<Family> = open.families().collect();
        if f.is_empty() {
            vec![Family::IPV4_UNICAST]
        } else {
            f
        }
    };
    let mut families: Vec<Family> = Vec::new();
    for f in &local_families(config) {
        if peer_families.contains(f) && !families.contains(f) {
            families.push(*f);
        }
    }
    if open.capabilities.iter().any(|c| {
        matches!(c, Capability::Unknown { code, .. } if *code == bgp_proto::CapabilityCode::ADD_PATH)
    }) {
        // The caller's span names the peer.
        tracing::info!(
            "the peer's ADD-PATH capability has a Send/Receive value other than 1, 2 or 3; \
             the capability is ignored as not understood (RFC 7911 §4), the session goes on \
             without ADD-PATH"
        );
    }
    let peer_add_path: Vec<AddPathFamily> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::AddPath(v) => Some(v.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut add_path_send = Vec::new();
    let mut add_path_receive = Vec::new();
    for a in &config.add_path {
        if !families.contains(&a.family) {
            continue;
        }
        let peer = peer_add_path.iter().find(|p| p.family == a.family);
        if a.send && peer.is_some_and(|p| p.receive) && !add_path_send.contains(&a.family) {
            add_path_send.push(a.family);
        }
        if a.receive && peer.is_some_and(|p| p.send) && !add_path_receive.contains(&a.family) {
            add_path_receive.push(a.family);
        }
    }
    // RFC 8950 §3: IPv6 next hops for a family only where both sides advertised it.
    let extended_next_hop: FamilySet = config
        .extended_next_hop
        .iter()
        .copied()
        .filter(|f| families.contains(f))
        .filter(|f| {
            open.capabilities.iter().any(|c| match c {
                Capability::ExtendedNextHop(v) => v
                    .iter()
                    .any(|e| e.nlri == *f && e.next_hop_afi == Afi::IPV6),
                _ => false,
            })
        })
        .collect();
    let four_octet_as = open.has(CapabilityCode::FOUR_OCTET_AS);
    let extended_message = config.extended_message && open.has(CapabilityCode::EXTENDED_MESSAGE);
    let route_refresh =
        open.has(CapabilityCode::ROUTE_REFRESH) || open.has(CapabilityCode::ROUTE_REFRESH_CISCO);
    let enhanced_route_refresh = config.route_refresh
        && config.enhanced_route_refresh
        && open.has(CapabilityCode::ENHANCED_ROUTE_REFRESH);
    let peer_graceful_restart = open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr.clone()),
        _ => None,
    });
    let peer_llgr = open.capabilities.iter().find_map(|c| match c {
        Capability::LongLivedGracefulRestart(v) => Some(v.clone()),
        _ => None,
    });
    let (peer_hostname, peer_domain) = open
        .capabilities
        .iter()
        .find_map(|c| match c {
            Capability::Fqdn { hostname, domain } => {
                Some((Some(hostname.clone()), Some(domain.clone())))
            }
            _ => None,
        })
        .unwrap_or((None, None));
    // bgp-proto owns what two OPENs negotiate for the codec; the policies are ours.
    let context = SessionContext {
        enforce_first_as: config.enforce_first_as && !ibgp,
        allow_as_set: config.allow_as_set,
        ..SessionContext::from_opens(&local_open(config), open)
    };
    Ok(Negotiated {
        local_asn: config.local_asn,
        peer_asn,
        local_id: config.local_id,
        peer_id: open.bgp_id,
        hold_time,
        keepalive,
        peer_hold_time: open.hold_time,
        four_octet_as,
        families,
        add_path_send,
        add_path_receive,
        extended_message,
        extended_next_hop: extended_next_hop.iter().collect(),
        max_message_len: context.max_message_len(),
        route_refresh,
        enhanced_route_refresh,
        local_graceful_restart: local_graceful_restart(config),
        peer_graceful_restart,
        peer_llgr,
        local_llgr: local_llgr(config),
        local_role: config.role,
        peer_role,
        peer_hostname,
        peer_domain,
        context,
    })
}

/// The KEEPALIVE interval for a negotiated Hold Time (RFC 4271 §4.4, §10): a third of it
/// unless configured lower; never below 1 s ("MUST NOT be sent more frequently than one per
/// second"); 0 (none) when the Hold Time is 0.
pub(crate) fn keepalive_interval(configured: Option<u16>, hold_time: u16) -> u16 {
    if hold_time == 0 {
        return 0;
    }
    let third = hold_time / 3;
    configured
        .filter(|&k| k > 0)
        .unwrap_or(third)
        .min(third)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_is_a_third_of_hold_unless_configured_lower() {
        assert_eq!(keepalive_interval(None, 90), 30);
        assert_eq!(keepalive_interval(Some(10), 90), 10);
        assert_eq!(keepalive_interval(Some(60), 9), 3);
        assert_eq!(keepalive_interval(Some(0), 9), 3);
        assert_eq!(keepalive_interval(None, 3), 1);
        assert_eq!(keepalive_interval(Some(5), 0), 0);
    }

    #[test]
    fn otc_is_added_towards_customers_peers_and_rs_clients_only() {
        let otc = |r| otc_on_egress(r, 64512);
        assert_eq!(otc(Some(Role::Provider)), Some(64512), "to a customer");
        assert_eq!(otc(Some(Role::Peer)), Some(64512), "to a peer");
        assert_eq!(otc(Some(Role::RouteServer)), Some(64512), "to an RS client");
        assert_eq!(otc(Some(Role::Customer)), None, "to a provider");
        assert_eq!(otc(Some(Role::RouteServerClient)), None, "to an RS");
        assert_eq!(otc(Some(Role::from(9))), None, "an unassigned role");
        assert_eq!(otc(None), None, "no role");
    }

    #[test]
    fn role_pairs() {
        assert!(roles_match(Role::Provider, Role::Customer));
        assert!(roles_match(Role::Peer, Role::Peer));
        assert!(!roles_match(Role::Peer, Role::Customer));
        assert!(!roles_match(Role::Provider, Role::Provider));
        assert!(!roles_match(Role::Provider, Role::Unknown(9)));
    }

    /// The codec context a session gets is `SessionContext::from_opens` over the two OPENs
    /// (plus our two policies), and it agrees with what negotiation reports on its own
    /// (families, ADD-PATH both ways, RFC 8950 next hops, 4-octet AS, Extended Message,
    /// iBGP), over configurations and peer OPENs that differ in each of those.
    #[test]
    fn the_session_context_is_from_opens() {
        use crate::config::AddPathConfig;
        let (v4, v6) = (Family::IPV4_UNICAST, Family::IPV6_UNICAST);
        let ap = |family, send, receive| AddPathFamily {
            family,
            send,
            receive,
        };
        let mut checked = 0;
        for (local_asn, peer_asn) in [(65001, 65002), (65001, 65001), (65001, 4_200_000_000)] {
            for (fams, add_path, enh, ext) in [
                (vec![], vec![], vec![], false),
                (
                    vec![v6, v4],
                    vec![(v4, true, true), (v6, false, true)],
                    vec![v4],
                    true,
                ),
                (vec![v4], vec![(v4, true, false)], vec![v4], false),
            ] {
                for peer_caps in [
                    vec![],
                    vec![
                        Capability::Multiprotocol(v4),
                        Capability::Multiprotocol(v6),
                        Capability::AddPath(vec![ap(v4, true, true), ap(v6, true, false)]),
                        Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                            nlri: v4,
                            next_hop_afi: Afi::IPV6,
                        }]),
                        Capability::ExtendedMessage,
                    ],
                    vec![
                        Capability::Multiprotocol(v6),
                        Capability::AddPath(vec![ap(v6, true, true)]),
                    ],
                ] {
                    let mut c =
                        SessionConfig::new(local_asn, peer_asn, "192.0.2.1".parse().unwrap());
                    c.families = fams.clone();
                    c.add_path = add_path
                        .iter()
                        .map(|&(family, send, receive)| AddPathConfig {
                            family,
                            send,
                            receive,
                        })
                        .collect();
                    c.extended_next_hop = enh.clone();
                    c.extended_message = ext;
                    let mut caps = peer_caps.clone();
                    let as4 = peer_asn > 0xffff || caps.len() > 1;
                    if as4 {
                        caps.push(Capability::FourOctetAs(peer_asn));
                    }
                    let peer = Open {
                        my_as: u16::try_from(peer_asn).unwrap_or(AS_TRANS),
                        hold_time: 90,
                        bgp_id: "192.0.2.2".parse().unwrap(),
                        capabilities: caps,
                    };
                    let n = negotiate(&c, &peer).expect("acceptable OPEN");
                    let cx = &n.context;
                    let what =
                        format!("{local_asn}/{peer_asn} {fams:?} {add_path:?} {peer_caps:?}");
                    let expected = SessionContext {
                        enforce_first_as: c.enforce_first_as && !c.is_ibgp(),
                        allow_as_set: c.allow_as_set,
                        ..SessionContext::from_opens(&local_open(&c), &peer)
                    };
                    assert_eq!(*cx, expected, "{what}");
                    assert_eq!(cx.families.iter().collect::<Vec<_>>(), n.families, "{what}");
                    assert_eq!(
                        cx.add_path_tx.iter().collect::<Vec<_>>(),
                        n.add_path_send,
                        "{what}"
                    );
                    assert_eq!(
                        cx.add_path_rx.iter().collect::<Vec<_>>(),
                        n.add_path_receive,
                        "{what}"
                    );
                    assert_eq!(
                        cx.extended_next_hop.iter().collect::<Vec<_>>(),
                        n.extended_next_hop,
                        "{what}"
                    );
                    assert_eq!(cx.four_octet_as, n.four_octet_as, "{what}");
                    assert_eq!(cx.four_octet_as, as4, "{what}");
                    assert_eq!(cx.extended_message, n.extended_message, "{what}");
                    assert_eq!((cx.ibgp, cx.peer_asn), (n.is_ibgp(), n.peer_asn), "{what}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 27);
    }
}
