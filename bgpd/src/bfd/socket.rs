//! BFD sockets (RFC 5881): one shared receive socket per family on UDP port 3784 that
//! reports each datagram's TTL / Hop Limit, and one send socket per session bound to the BGP
//! session's local address and a source port in 49152-65535, sending with TTL 255.
//!
//! std, tokio and socket2 do not read ancillary data, hence `recvmsg(2)` through libc and
//! the one `#![allow(unsafe_code)]` below.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// RFC 5881 §4: "BFD Control packets MUST be transmitted in UDP packets with destination
/// port 3784".
pub const CONTROL_PORT: u16 = 3784;
/// RFC 5881 §4: "The source port MUST be in the range 49152 through 65535."
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// RFC 5881 §5: "If BFD authentication is not in use on a session, all BFD Control packets
/// for the session MUST be sent with a Time to Live (TTL) or Hop Limit value of 255."
pub const TTL: u8 = 255;

/// The receive socket of one family, bound to port 3784 on every address.
pub struct RecvSocket {
    socket: UdpSocket,
}

/// One received datagram.
pub struct Datagram {
    pub from: SocketAddr,
    /// The IPv4 TTL or IPv6 Hop Limit it arrived with; `None` if the kernel did not say.
    pub ttl: Option<u8>,
    pub len: usize,
}

impl RecvSocket {
    /// Binds `0.0.0.0:3784` (`ipv6 = false`) or `[::]:3784` (IPv6 only) and asks the kernel
    /// for each datagram's TTL or Hop Limit. Must run inside the tokio runtime.
    pub fn bind(ipv6: bool) -> io::Result<RecvSocket> {
        let (domain, addr) = if ipv6 {
            (
                Domain::IPV6,
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), CONTROL_PORT),
            )
        } else {
            (
                Domain::IPV4,
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), CONTROL_PORT),
            )
        };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if ipv6 {
            socket.set_only_v6(true)?;
            set_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        } else {
            set_int(&socket, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
        }
        // No SO_REUSEADDR: with it a second BFD daemon on this host (FRR's bfdd) could bind
        // the same port and silently take some of our packets; EADDRINUSE is better.
        // Room for a burst (a flood is cut back after the read, so the kernel must not drop
        // the real peers' packets first); the kernel may clamp it to net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(1 << 20);
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        Ok(RecvSocket { socket })
    }

    /// The next datagram, its payload in `buf` (a longer one is truncated, which the
    /// Control packet length check then rejects).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Datagram> {
        self.socket
            .async_io(Interest::READABLE, || {
                recv_with_ttl(self.socket.as_raw_fd(), buf)
            })
            .await
    }
}

/// A session's send socket: bound to `local` and a port from [`SOURCE_PORTS`], TTL 255.
pub fn send_socket(local: IpAddr, discriminator: u32) -> io::Result<std::net::UdpSocket> {
    let domain = if local.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if local.is_ipv4() {
        socket.set_ttl(u32::from(TTL))?;
    } else {
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(u32::from(TTL))?;
    }
    socket.set_nonblocking(true)?;
    // Start from a port derived from the discriminator, so sessions spread over the range,
    // and walk on past ports in use.
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut last = None;
    for i in 0..64u32 {
        let offset = discriminator
            .wrapping_mul(2_654_435_761)
            .wrapping_add(i * 7919)
            % span;
        let port = SOURCE_PORTS.start() + u16::try_from(offset).unwrap_or(0);
        match socket.bind(&SocketAddr::new(local, port).into()) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free source port")))
}

/// The address this host would send from to reach `remote` (a route lookup: connecting a
/// UDP socket sends nothing).
pub fn route_source(remote: IpAddr) -> io::Result<IpAddr> {
    let unspecified: IpAddr = if remote.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let s = std::net::UdpSocket::bind(SocketAddr::new(unspecified, 0))?;
    s.connect(SocketAddr::new(remote, CONTROL_PORT))?;
    Ok(s.local_addr()?.ip())
}

fn set_int(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `v` lives across the call and its size is passed; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `recvmsg(2)` with the IP_TTL / IPV6_HOPLIMIT control message.
fn recv_with_ttl(fd: libc::c_int, buf: &mut [u8]) -> io::Result<Datagram> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` points to a live buffer of the stated length.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ttl = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in, within
    // msg_controllen; the data of IP_TTL and IPV6_HOPLIMIT is one int, read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            if (h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_TTL)
                || (h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT)
            {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                ttl = u8::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // SAFETY: the kernel wrote a socket address of msg_namelen bytes into `addr`.
    let from = unsafe { SockAddr::new(addr, msg.msg_namelen) }
        .as_socket()
        .ok_or_else(|| io::Error::other("datagram without a source address"))?;
    let from = match from {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id())),
        },
        v4 => v4,
    };
    let len = usize::try_from(n).unwrap_or(0).min(buf.len());
    Ok(Datagram { from, ttl, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_socket_uses_a_source_port_in_the_rfc_5881_range_and_ttl_255() {
        let local: IpAddr = Ipv4Addr::LOCALHOST.into();
        let a = send_socket(local, 1).unwrap();
        let b = send_socket(local, 1).unwrap(); // same start port: walks on
        for s in [&a, &b] {
            let addr = s.local_addr().unwrap();
            assert_eq!(addr.ip(), local);
            assert!(SOURCE_PORTS.contains(&addr.port()), "{addr}");
            assert_eq!(s.ttl().unwrap(), 255);
        }
        assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
    }

    #[test]
    fn route_source_of_loopback_is_loopback() {
        let ip: IpAddr = Ipv4Addr::LOCALHOST.into();
        assert_eq!(route_source(ip).unwrap(), ip);
    }
}
