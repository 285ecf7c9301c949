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
/// then makes no shared-subnet check rather than refuse every route. Empty too for a session
/// over the loopback interface: both ends are on this host, there is no link whose subnet
/// a next hop could share.
pub fn interface_subnets(local: IpAddr) -> Vec<IpNet> {
    let addrs = interface_addresses();
    let names: Vec<&String> = addrs
        .iter()
        .filter(|a| a.net.addr() == local)
        .map(|a| &a.name)
        .collect();
    if addrs.iter().any(|a| a.loopback && names.contains(&&a.name)) {
        return Vec::new();
    }
    let mut out: Vec<IpNet> = addrs
        .iter()
        .filter(|a| names.contains(&&a.name))
        .map(|a| a.net.trunc())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// This host as the configuration sees it ([`crate::config::Host`]): interfaces by
/// `if_nametoindex(3)`, files through `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThisHost;

impl crate::config::Host for ThisHost {
    fn interface_index(&self, name: &str) -> Option<u32> {
        interface_index(name)
    }

    fn file_mode(&self, path: &std::path::Path) -> std::io::Result<u32> {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::metadata(path)?.permissions().mode())
    }

    fn read_file(&self, path: &std::path::Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// The index of interface `name` (`if_nametoindex(3)`), `None` when there is none: the scope
/// of a link-local peer address.
pub fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

/// The name of the interface with index `index` (`if_indextoname(3)`): the link of a
/// link-local address's scope.
pub fn interface_name(index: u32) -> Option<String> {
    if index == 0 {
        return None;
    }
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` holds IF_NAMESIZE bytes, as if_indextoname requires; on success it is
    // NUL-terminated within them.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: non-null means `buf` now holds a NUL-terminated name.
    let c = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(c.to_string_lossy().into_owned())
}

/// The first global IPv6 address of interface `name`: the global next hop sent beside the
/// link-local one on a link-local session (RFC 2545 §3).
pub fn global_ipv6_of(name: &str) -> Option<Ipv6Addr> {
    interface_addresses()
        .into_iter()
        .filter(|a| a.name == name)
        .find_map(|a| match a.net.addr() {
            IpAddr::V6(v6) if !v6.is_unicast_link_local() && !v6.is_loopback() => Some(v6),
            _ => None,
        })
}

/// Every IPv6 address of interface `name`: an unnumbered peer's link never makes one of them
/// its neighbor.
pub fn ipv6_addresses_of(name: &str) -> Vec<Ipv6Addr> {
    interface_addresses()
        .into_iter()
        .filter(|a| a.name == name)
        .filter_map(|a| match a.net.addr() {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        })
        .collect()
}

/// One address of one interface.
struct IfAddr {
    name: String,
    /// The address with its prefix length.
    net: IpNet,
    /// IFF_LOOPBACK.
    loopback: bool,
}

/// Every IPv4 and IPv6 address of every interface.
fn interface_addresses() -> Vec<IfAddr> {
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
                let loopback = ifa.ifa_flags & (libc::IFF_LOOPBACK as libc::c_uint) != 0;
                out.push(IfAddr {
                    name,
                    net,
                    loopback,
                });
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
    fn loopback_is_read_but_shares_no_subnet() {
        let all = interface_addresses();
        assert!(
            all.iter()
                .any(|a| a.loopback && a.net == "127.0.0.1/8".parse().unwrap()),
            "no 127.0.0.1/8 on a loopback interface"
        );
        assert!(interface_subnets("127.0.0.1".parse().unwrap()).is_empty());
        assert!(interface_subnets("192.0.2.254".parse().unwrap()).is_empty());
    }

    #[test]
    fn interface_names_and_indexes_agree() {
        let index = interface_index("lo").expect("lo exists");
        assert_eq!(interface_name(index).as_deref(), Some("lo"));
        assert_eq!(interface_name(0), None);
        assert_eq!(interface_name(u32::MAX), None);
    }
}
