//! What a configured peer means to its sessions and sockets: the RFC 4271 §8.1.1 session
//! attributes ([`session_config`]), the socket options ([`transport_options`]) and the
//! subnets for the §6.3 next-hop check of a directly connected peer.

use std::net::IpAddr;

use bgp_fsm::{AddPathConfig, GracefulRestartConfig, SessionConfig};
use ipnet::IpNet;
use tokio::net::TcpStream;

use crate::config::{Global, Peer, Ttl};
use crate::transport::{TransportOptions, TtlPolicy};

/// The session configuration for `peer` (RFC 4271 §8.1.1 session attributes).
pub fn session_config(global: &Global, peer: &Peer) -> SessionConfig {
    let mut cfg = SessionConfig::new(peer.local_asn(global).0, peer.asn.0, global.router_id);
    cfg.hold_time = peer.hold_time.secs();
    cfg.keepalive = Some(u16::try_from(peer.keepalive.as_secs()).unwrap_or(u16::MAX));
    cfg.connect_retry = peer.connect_retry;
    cfg.passive = peer.passive;
    cfg.delay_open = peer.delay_open;
    cfg.open_hold_time = peer.open_hold_time;
    cfg.send_hold_time = peer.send_hold_time;
    cfg.min_hold_time = peer.min_hold_time;
    cfg.max_prefixes_action = peer.max_prefixes_action;
    cfg.families = peer.families.clone();
    if peer.add_path {
        cfg.add_path = peer
            .families
            .iter()
            .map(|&family| AddPathConfig::send_and_receive(family))
            .collect();
    }
    cfg.extended_message = true;
    // Graceful restart (RFC 4724 §4.1, issue 7): a session built here belongs to a bgpd that
    // has just started, so the R bit is set (the session clears it once Established). bgpd
    // installs no forwarding state, so forwarding is preserved for every family (F bits):
    // the routers keep using the nodes while bgpd restarts.
    cfg.graceful_restart = peer.graceful_restart.map(|gr| GracefulRestartConfig {
        restart_time: u16::try_from(gr.restart_time.as_secs())
            .unwrap_or(4095)
            .min(4095),
        restarting: true,
        notification: gr.notification,
        preserve_forwarding: peer.families.clone(),
        llgr_stale_time: gr
            .llgr_stale_time
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        // End-of-RIB waits for the routes restored and learned after the restart (issue 13).
        end_of_rib_deferral: Some(global.end_of_rib_deferral(gr.restart_time))
            .filter(|d| !d.is_zero()),
        ..GracefulRestartConfig::default()
    });
    cfg.role = peer.role;
    cfg.strict_role = peer.role_strict;
    if peer.extended_next_hop {
        cfg.extended_next_hop = vec![bgp_proto::Family::IPV4_UNICAST];
    }
    cfg.max_prefixes = peer.max_prefixes;
    cfg.max_prefixes_restart = peer.max_prefixes_restart;
    cfg.idle_hold_time = peer.idle_hold_time;
    cfg.max_idle_hold_time = crate::config::MAX_IDLE_HOLD_TIME;
    cfg.damp_peer_oscillations = peer.damp_peer_oscillations;
    cfg.enforce_first_as = peer.enforce_first_as;
    cfg.local_addresses = peer.local_address.into_iter().collect();
    cfg.import = peer.import.clone();
    cfg.allow_own_as = peer.allow_own_as;
    // RFC 4271 §6.3: the shared-subnet next-hop rule is for eBGP peers one IP hop away: not
    // with ebgp_multihop; GTSM (ttl_security) is single-hop here (TtlPolicy hops 1).
    cfg.directly_connected = !peer.ibgp && matches!(peer.ttl, Ttl::Default | Ttl::Security);
    cfg
}

/// The subnets of the interface holding a new connection and the connection's remote address,
/// for the RFC 4271 §6.3 next-hop check of a directly connected eBGP session (nothing is
/// looked up otherwise).
pub(super) fn link_of(
    config: &SessionConfig,
    stream: &TcpStream,
    peer: IpAddr,
) -> (Vec<IpNet>, Option<IpAddr>) {
    if !config.directly_connected {
        return (Vec::new(), None);
    }
    let subnets = stream
        .local_addr()
        .map(|l| crate::link::interface_subnets(l.ip()))
        .unwrap_or_default();
    // The connection's remote address: an unnumbered peer's is learned, not configured.
    let remote = stream.peer_addr().map_or(peer, |r| r.ip());
    (subnets, Some(remote))
}

/// The socket options for `peer`'s connections.
pub fn transport_options(peer: &Peer) -> TransportOptions {
    let ttl = match peer.ttl {
        // Directly connected eBGP uses TTL 1, as routers expect (RFC 4271 leaves it to
        // implementations; FRR and BIRD do the same); iBGP keeps the system default.
        Ttl::Default if peer.ibgp => TtlPolicy::SystemDefault,
        Ttl::Default => TtlPolicy::Fixed(1),
        Ttl::Multihop(n) => TtlPolicy::Fixed(n),
        Ttl::Security => TtlPolicy::Security { hops: 1 },
    };
    TransportOptions {
        local_address: peer.local_address,
        md5_password: peer.password.clone(),
        ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::tests::config;

    #[test]
    fn ttl_policy_follows_the_peer_settings() {
        let ebgp = config("");
        assert_eq!(transport_options(&ebgp.peers[0]).ttl, TtlPolicy::Fixed(1));
        let multihop = config("ebgp_multihop = 3");
        assert_eq!(
            transport_options(&multihop.peers[0]).ttl,
            TtlPolicy::Fixed(3)
        );
        let gtsm = config("ttl_security = true");
        assert_eq!(
            transport_options(&gtsm.peers[0]).ttl,
            TtlPolicy::Security { hops: 1 }
        );
        let keyed = config("password = \"secret\"\nlocal_address = \"10.255.0.2\"");
        let opts = transport_options(&keyed.peers[0]);
        assert_eq!(opts.md5_password.as_deref(), Some("secret"));
        assert_eq!(opts.local_address, Some("10.255.0.2".parse().expect("ip")));
    }

    #[test]
    fn session_config_carries_the_peer_settings() {
        let c = config(
            "hold_time = 9\npassive = true\nadd_path = true\nmax_prefixes = 10\n\
             families = [\"ipv4-unicast\", \"ipv6-unicast\"]",
        );
        let s = session_config(&c.global, &c.peers[0]);
        assert_eq!((s.local_asn, s.peer_asn), (64512, 64500));
        assert_eq!(s.local_id, std::net::Ipv4Addr::new(10, 255, 0, 2));
        assert_eq!(s.hold_time, 9);
        assert!(s.passive);
        assert_eq!(s.max_prefixes, Some(10));
        assert_eq!(
            s.families,
            vec![
                bgp_proto::Family::IPV4_UNICAST,
                bgp_proto::Family::IPV6_UNICAST
            ]
        );
        assert_eq!(s.add_path.len(), 2);
        assert!(s.add_path.iter().all(|a| a.send && a.receive));
    }
}
