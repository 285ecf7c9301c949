//! Connection collision detection (RFC 4271 §6.8, RFC 6286 §2.3).
//!
//! A speaker that both connects and listens can end up with two connections to one peer,
//! each with its own [`crate::Session`]. Once the peer's BGP Identifier is known on one of
//! them (its OPEN arrived: the session is in OpenConfirm, see [`crate::Session::peer_id`]),
//! the caller asks [`collision_loser`] which connection to close and feeds
//! [`crate::Event::CollisionLost`] to that connection's session, which sends Cease 6/7
//! (RFC 4486) and closes. A collision with an Established session normally closes the
//! newcomer instead (RFC 4271 §6.8, last paragraph); that choice is the caller's.
//! [`resolve`] wraps this: it compares only connections in opposite directions, and lets a
//! newer connection in the same direction replace an older one. [`crate::Neighbor`] is the
//! caller in production: it runs the second session and carries out the resolution.

use std::net::Ipv4Addr;

/// Who opened a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// One end's identity for collision resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Speaker {
    /// The BGP Identifier, compared as a 4-octet unsigned integer (RFC 4271 §6.8).
    pub bgp_id: Ipv4Addr,
    /// The AS number, compared when the Identifiers are equal (RFC 6286 §2.3).
    pub asn: u32,
}

/// The connection to close when two connections to one peer collide.
///
/// RFC 4271 §6.8: "If the value of the local BGP Identifier is less than the remote one, the
/// local system closes the BGP connection that already exists (the one that is already in
/// the OpenConfirm state), and accepts the BGP connection initiated by the remote system."
/// In other words the connection opened by the speaker with the higher identifier survives.
/// The identifiers are compared as unsigned 32-bit integers.
///
/// RFC 6286 §2.3: with equal identifiers (possible on eBGP only) the connection opened by the
/// speaker with the larger AS number survives. With both equal (a misconfiguration that the
/// OPEN checks reject on iBGP with 2/3) the inbound connection is closed.
pub fn collision_loser(local: Speaker, remote: Speaker) -> Direction {
    let (l, r) = (u32::from(local.bgp_id), u32::from(remote.bgp_id));
    if l != r {
        // The higher identifier's own connection survives.
        if l > r {
            Direction::Inbound
        } else {
            Direction::Outbound
        }
    } else if local.asn > remote.asn {
        Direction::Inbound
    } else if local.asn < remote.asn {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

/// What to do about two connections to one peer, `older` having been opened first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing yet: keep both until more is known (an OPEN).
    Wait,
    /// RFC 4271 §6.8 collision: close the connection in this direction with Cease 6/7.
    Collision(Direction),
    /// Both connections were opened by the same side, so they do not collide in the §6.8
    /// sense: the newer one has completed the OPEN exchange and replaces the older one,
    /// which its opener evidently gave up (a half-open connection after a restart). The
    /// older one is closed without Cease 6/7 (issue 17 item 3).
    ReplaceOlder,
}

/// Decides between two connections to one peer. `remote` is the peer's identity once one of
/// them carried its OPEN; `newer_has_open`: the newer connection did.
///
/// RFC 4271 §6.8 compares a connection we initiated with one the peer initiated ("the
/// connection initiated by the BGP speaker with the higher-valued BGP Identifier" is kept),
/// so [`collision_loser`] applies only to connections in opposite directions. Two
/// connections in one direction (in practice two inbound ones: the router restarted and
/// connected again while its old connection still looks open here) are not compared by
/// identifier: the newer one wins once it has completed its OPEN, and the older one, which
/// may never see another byte, is not kept until its OpenSent hold time runs out.
pub fn resolve(
    older: Direction,
    newer: Direction,
    newer_has_open: bool,
    local: Speaker,
    remote: Option<Speaker>,
) -> Resolution {
    if older == newer {
        return if newer_has_open {
            Resolution::ReplaceOlder
        } else {
            Resolution::Wait
        };
    }
    match remote {
        Some(remote) => Resolution::Collision(collision_loser(local, remote)),
        None => Resolution::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_inbound_connections_the_newer_with_open_replaces_the_older() {
        let (l, r) = (sp([10, 0, 0, 1], 1), sp([10, 0, 0, 2], 2));
        use Direction::Inbound;
        assert_eq!(
            resolve(Inbound, Inbound, false, l, Some(r)),
            Resolution::Wait
        );
        assert_eq!(
            resolve(Inbound, Inbound, true, l, Some(r)),
            Resolution::ReplaceOlder
        );
        // Whatever the identifiers: no §6.8 comparison, no 6/7.
        assert_eq!(
            resolve(Inbound, Inbound, true, r, Some(l)),
            Resolution::ReplaceOlder
        );
    }

    #[test]
    fn opposite_directions_are_a_collision_once_the_peer_id_is_known() {
        let (l, r) = (sp([10, 0, 0, 1], 1), sp([10, 0, 0, 2], 2));
        use Direction::{Inbound, Outbound};
        assert_eq!(resolve(Outbound, Inbound, false, l, None), Resolution::Wait);
        assert_eq!(
            resolve(Outbound, Inbound, false, l, Some(r)),
            Resolution::Collision(Outbound)
        );
    }

    fn sp(id: [u8; 4], asn: u32) -> Speaker {
        Speaker {
            bgp_id: Ipv4Addr::from(id),
            asn,
        }
    }

    #[test]
    fn higher_local_id_keeps_outbound() {
        assert_eq!(
            collision_loser(sp([10, 0, 0, 2], 1), sp([10, 0, 0, 1], 2)),
            Direction::Inbound
        );
    }

    #[test]
    fn lower_local_id_keeps_inbound() {
        assert_eq!(
            collision_loser(sp([10, 0, 0, 1], 1), sp([10, 0, 0, 2], 2)),
            Direction::Outbound
        );
    }

    #[test]
    fn ids_compare_as_unsigned_integers() {
        // 128.0.0.1 > 10.0.0.1 as u32 (a signed compare would get this wrong).
        assert_eq!(
            collision_loser(sp([128, 0, 0, 1], 1), sp([10, 0, 0, 1], 1)),
            Direction::Inbound
        );
    }

    #[test]
    fn equal_ids_larger_asn_keeps_its_connection() {
        assert_eq!(
            collision_loser(sp([1, 1, 1, 1], 65002), sp([1, 1, 1, 1], 65001)),
            Direction::Inbound
        );
        assert_eq!(
            collision_loser(sp([1, 1, 1, 1], 65001), sp([1, 1, 1, 1], 65002)),
            Direction::Outbound
        );
    }

    #[test]
    fn both_sides_agree() {
        // Each side's verdict about its own connections must describe the same TCP connection.
        let a = sp([10, 0, 0, 1], 65001);
        let b = sp([10, 0, 0, 2], 65002);
        let a_closes = collision_loser(a, b); // a closes its Outbound = b's Inbound
        let b_closes = collision_loser(b, a);
        assert_ne!(a_closes, b_closes);
    }
}
