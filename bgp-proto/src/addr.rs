//! Facts about addresses that every layer needs, decided here once: the unicast family of an
//! address, prefix or NLRI ([`family_of`]), and whether a next hop can never be right
//! ([`is_martian`], decision D5 of docs/error-handling.md).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::attr::{NextHop, Nlri};
use crate::iana::Family;

/// Values that are IPv4 or IPv6: addresses, prefixes, NLRI and next hops.
pub trait IpVersion {
    /// True for IPv6.
    fn is_ipv6(&self) -> bool;
}

impl<T: IpVersion + ?Sized> IpVersion for &T {
    #[inline]
    fn is_ipv6(&self) -> bool {
        (**self).is_ipv6()
    }
}

impl IpVersion for IpAddr {
    #[inline]
    fn is_ipv6(&self) -> bool {
        matches!(self, IpAddr::V6(_))
    }
}

impl IpVersion for IpNet {
    #[inline]
    fn is_ipv6(&self) -> bool {
        matches!(self, IpNet::V6(_))
    }
}

impl IpVersion for Nlri {
    #[inline]
    fn is_ipv6(&self) -> bool {
        self.prefix.is_ipv6()
    }
}

impl IpVersion for NextHop {
    #[inline]
    fn is_ipv6(&self) -> bool {
        matches!(self, NextHop::V6 { .. })
    }
}

/// The unicast family of an address, prefix or NLRI: IPv4 unicast (AFI 1, SAFI 1) or IPv6
/// unicast (AFI 2, SAFI 1) (RFC 4760 §3; the AFI values are IANA's Address Family Numbers).
#[inline]
pub fn family_of<T: IpVersion + ?Sized>(x: &T) -> Family {
    if x.is_ipv6() {
        Family::IPV6_UNICAST
    } else {
        Family::IPV4_UNICAST
    }
}

/// True for IPv4 next hops that can never be valid (RFC 4271 §6.3 "semantically incorrect"
/// NEXT_HOP; decision D5): 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 (multicast) and
/// 255.255.255.255.
#[inline]
pub fn is_martian_v4(a: Ipv4Addr) -> bool {
    let [o, ..] = a.octets();
    o == 0 || o == 127 || a.is_multicast() || a.is_broadcast()
}

/// True for IPv6 next hops that can never be valid (decision D5): `::`, `::1` and
/// ff00::/8 (multicast).
#[inline]
pub fn is_martian_v6(a: Ipv6Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast()
}

/// True for next hops that can never be valid ([`is_martian_v4`], [`is_martian_v6`]).
#[inline]
pub fn is_martian(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => is_martian_v4(a),
        IpAddr::V6(a) => is_martian_v6(a),
    }
}

impl NextHop {
    /// The address routes are forwarded to: the IPv4 address, or the IPv6 global one
    /// (RFC 2545 §3; the link-local one is only an addition).
    #[inline]
    pub fn addr(&self) -> IpAddr {
        match self {
            NextHop::V4(a) => IpAddr::V4(*a),
            NextHop::V6 { global, .. } => IpAddr::V6(*global),
        }
    }

    /// The next hop can never be valid ([`is_martian`] of [`NextHop::addr`]; decision D5).
    #[inline]
    pub fn is_martian(&self) -> bool {
        is_martian(self.addr())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn family_of_addresses_prefixes_and_nlri() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert_eq!(family_of(&v4), Family::IPV4_UNICAST);
        assert_eq!(family_of(&v6), Family::IPV6_UNICAST);
        assert_eq!(family_of(&Nlri::new(v6)), Family::IPV6_UNICAST);
        assert_eq!(
            family_of(&NextHop::V4(Ipv4Addr::LOCALHOST)),
            Family::IPV4_UNICAST
        );
    }

    #[test]
    fn martians_are_the_d5_set() {
        let martian = |a: &str| is_martian(a.parse().unwrap());
        for a in ["0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.5", "239.1.1.1"] {
            assert!(martian(a), "{a}");
        }
        for a in ["255.255.255.255", "::", "::1", "ff02::2"] {
            assert!(martian(a), "{a}");
        }
        for a in ["1.0.0.0", "10.0.0.1", "126.255.255.255", "223.255.255.255"] {
            assert!(!martian(a), "{a}");
        }
        for a in ["255.255.255.254", "2001:db8::1", "fe80::1"] {
            assert!(!martian(a), "{a}");
        }
        let nh = NextHop::V6 {
            global: Ipv6Addr::LOCALHOST,
            link_local: Some("fe80::1".parse().unwrap()),
        };
        assert!(nh.is_martian());
        assert_eq!(nh.addr(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
}
