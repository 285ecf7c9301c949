//! The subnets of the interface that carries a session, for the RFC 4271 §6.3 next-hop check
//! of a directly connected eBGP peer (the check itself is bgp-fsm's, `Event::SharedSubnets`).
//!
//! Read with `getifaddrs(3)`, which std and socket2 do not wrap: hence the one `unsafe`
//! block, with the list freed on every path.

#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Every prefix configured on the interface(s) that hold `local` (both families), host bits
/// cleared. Empty when `local` is on no interface or the list cannot be read: the session
/// then makes no shared-subnet check rather than refuse every route.
pub fn interface_subnets(local: IpAddr) -> Vec<IpNet> {
    let addrs = interface_addresses();
    let names: Vec<&String> = addrs
        .iter()
        .filter(|(_, net)| net.addr() == local)
        .map(|(name, _)| name)
        .collect();
    let mut out: Vec<IpNet> = addrs
        .iter()
        .filter(|(name, _)| names.contains(&name))
        .map(|(_, net)| net.trunc())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// (interface name, address with its prefix length) for every IPv4 and IPv6 address.
fn interface_addresses() -> Vec<(String, IpNet)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we own until freeifaddrs; every pointer
    // read below comes from that list and is checked for null first.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_netmask.is_null() || ifa.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                .to_string_lossy()
                .into_owned();
            let net = match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    let m = &*ifa.ifa_netmask.cast::<libc::sockaddr_in>();
                    let addr = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                    let mask = Ipv4Addr::from(u32::from_be(m.sin_addr.s_addr));
                    IpNet::with_netmask(IpAddr::V4(addr), IpAddr::V4(mask)).ok()
                }
                libc::AF_INET6 => {
                    let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    let m = &*ifa.ifa_netmask.cast::<libc::sockaddr_in6>();
                    let addr = Ipv6Addr::from(a.sin6_addr.s6_addr);
                    let mask = Ipv6Addr::from(m.sin6_addr.s6_addr);
                    IpNet::with_netmask(IpAddr::V6(addr), IpAddr::V6(mask)).ok()
                }
                _ => None,
            };
            if let Some(net) = net {
                out.push((name, net));
            }
        }
        libc::freeifaddrs(head);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_address_is_on_the_loopback_subnet() {
        let nets = interface_subnets("127.0.0.1".parse().unwrap());
        assert!(nets.contains(&"127.0.0.0/8".parse().unwrap()), "{nets:?}");
        assert!(interface_subnets("192.0.2.254".parse().unwrap()).is_empty());
    }
}
