//! BFD sockets (RFC 5881): one shared receive socket per family on UDP port 3784 that
//! reports each datagram's TTL / Hop Limit, and one send socket per session bound to the BGP
//! session's local address and a source port in 49152-65535, sending with TTL 255.
//!
//! std, tokio and socket2 do not read ancillary data, hence `recvmsg(2)` through libc and
//! the one `#![allow(unsafe_code)]` below; the BFD thread waits in `ppoll(2)` ([`wait`]),
//! which chooses per wait which sockets may wake it (see `bfd::task`).
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

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
    socket: std::net::UdpSocket,
}

/// One received datagram.
pub struct Datagram {
    /// The sender's address and port.
    pub from: SocketAddr,
    /// The IPv4 TTL or IPv6 Hop Limit it arrived with; `None` if the kernel did not say.
    pub ttl: Option<u8>,
    /// The datagram's length in octets.
    pub len: usize,
}

impl RecvSocket {
    /// Binds `0.0.0.0:3784` (`ipv6 = false`) or `[::]:3784` (IPv6 only) and asks the kernel
    /// for each datagram's TTL or Hop Limit. The socket is non-blocking.
    pub fn bind(ipv6: bool) -> io::Result<RecvSocket> {
        let addr = if ipv6 {
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), CONTROL_PORT)
        } else {
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), CONTROL_PORT)
        };
        RecvSocket::bind_addr(addr)
    }

    /// [`RecvSocket::bind`] on any address (tests bind a loopback port of their own).
    fn bind_addr(addr: SocketAddr) -> io::Result<RecvSocket> {
        let ipv6 = addr.is_ipv6();
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if ipv6 {
            socket.set_only_v6(true)?;
            crate::transport::setsockopt_int(
                &socket,
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVHOPLIMIT,
                1,
            )?;
        } else {
            crate::transport::setsockopt_int(&socket, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
        }
        // No SO_REUSEADDR: with it a second BFD daemon on this host (FRR's bfdd) could bind
        // the same port and silently take some of our packets; EADDRINUSE is better.
        // Room for a burst (a flood is cut back after the read, so the kernel must not drop
        // the real peers' packets first); the kernel may clamp it to net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(1 << 20);
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        Ok(RecvSocket {
            socket: socket.into(),
        })
    }

    /// The descriptor, for [`wait`].
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` has passed (`None`: no limit), with
/// `ppoll(2)` (nanosecond timeout). Returns which of `fds` are readable; an interrupted wait
/// returns none.
pub fn wait(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<[bool; 4]> {
    let mut polled = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 4];
    for (p, &fd) in polled.iter_mut().zip(fds) {
        p.fd = fd;
        p.events = libc::POLLIN;
    }
    let n = fds.len().min(polled.len());
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(t.subsec_nanos()),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `polled` holds `n` initialised pollfds and outlives the call; `ts_ptr` is null
    // or points to `ts`, which lives across the call; a null signal mask keeps the current one.
    let rc = unsafe {
        libc::ppoll(
            polled.as_mut_ptr(),
            n as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    let mut ready = [false; 4];
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(ready)
        } else {
            Err(e)
        };
    }
    for (r, p) in ready.iter_mut().zip(polled.iter().take(n)) {
        *r = p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
    }
    Ok(ready)
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

/// Room for one datagram: a Control packet with the longest Authentication Section fits.
pub const DATAGRAM_BUF: usize = 512;
/// Datagrams one `recvmmsg(2)` reads at most.
pub const BATCH: usize = 32;

/// Buffers for [`RecvSocket::recv_batch`]: payloads, source addresses and control messages
/// of up to [`BATCH`] datagrams, reused from call to call.
pub struct RecvBatch {
    bufs: Box<[[u8; DATAGRAM_BUF]; BATCH]>,
    addrs: Box<[libc::sockaddr_storage; BATCH]>,
    /// u64s keep each control buffer aligned for cmsghdr.
    controls: Box<[[u64; 8]; BATCH]>,
    got: Vec<Datagram>,
}

impl Default for RecvBatch {
    fn default() -> RecvBatch {
        RecvBatch {
            bufs: Box::new([[0; DATAGRAM_BUF]; BATCH]),
            // SAFETY: all-zero is a valid sockaddr_storage.
            addrs: Box::new(unsafe { mem::zeroed() }),
            controls: Box::new([[0; 8]; BATCH]),
            got: Vec::with_capacity(BATCH),
        }
    }
}

impl RecvBatch {
    /// The datagrams the last call read, with their payloads.
    pub fn datagrams(&self) -> impl Iterator<Item = (&Datagram, &[u8])> {
        self.got
            .iter()
            .zip(self.bufs.iter())
            .map(|(d, b)| (d, b.get(..d.len).unwrap_or(&[])))
    }
}

impl RecvSocket {
    /// Reads up to [`BATCH`] queued datagrams with one `recvmmsg(2)` (a longer datagram is
    /// truncated, which the Control packet length check then rejects) with their TTL or Hop
    /// Limit; `WouldBlock` when none is queued. Returns how many; see
    /// [`RecvBatch::datagrams`].
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.got.clear();
        // SAFETY: all-zero is a valid iovec and mmsghdr (null pointers, zero lengths).
        let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        let parts = iovs
            .iter_mut()
            .zip(hdrs.iter_mut())
            .zip(batch.bufs.iter_mut())
            .zip(batch.addrs.iter_mut())
            .zip(batch.controls.iter_mut());
        for ((((iov, hdr), buf), addr), control) in parts {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = buf.len();
            let m = &mut hdr.msg_hdr;
            m.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            m.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_iov = iov;
            m.msg_iovlen = 1;
            m.msg_control = control.as_mut_ptr().cast();
            m.msg_controllen = mem::size_of_val(control) as _;
        }
        // SAFETY: every header points to its own live iovec, payload, address and control
        // buffer of the stated lengths (all owned by `iovs` and `batch`, which outlive the
        // call); BATCH headers are passed.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0);
        for (hdr, addr) in hdrs.iter().zip(batch.addrs.iter()).take(n) {
            // A datagram without a usable source address is skipped (cannot happen on UDP).
            if let Some(d) = parse(&hdr.msg_hdr, hdr.msg_len as usize, addr) {
                batch.got.push(d);
            } else {
                batch.got.push(Datagram {
                    from: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
                    ttl: None,
                    len: 0,
                });
            }
        }
        Ok(n)
    }
}

/// The TTL / Hop Limit and source address of one datagram `recvmmsg(2)` filled in.
fn parse(msg: &libc::msghdr, n: usize, addr: &libc::sockaddr_storage) -> Option<Datagram> {
    let mut ttl = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in, within
    // msg_controllen; the data of IP_TTL and IPV6_HOPLIMIT is one int, read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            let h = &*c;
            if (h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_TTL)
                || (h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT)
            {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                ttl = u8::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    // SAFETY: the kernel wrote a socket address of msg_namelen bytes into `addr`.
    let from = unsafe { SockAddr::new(*addr, msg.msg_namelen) }.as_socket()?;
    let from = match from {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id())),
        },
        v4 => v4,
    };
    Some(Datagram {
        from,
        ttl,
        len: n.min(DATAGRAM_BUF),
    })
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

    /// 40 datagrams: one `recvmmsg` reads a full batch, the next the rest, each with its
    /// payload, source and TTL; `wait` reports the socket readable while datagrams are queued
    /// and times out once it is empty.
    #[test]
    fn recv_batch_reads_payload_source_and_ttl() {
        let r = RecvSocket::bind_addr("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = r.socket.local_addr().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_ttl(255).unwrap();
        for i in 0..40u8 {
            tx.send_to(&[i; 24], to).unwrap();
        }
        let ready = wait(&[r.fd()], Some(Duration::from_secs(5))).unwrap();
        assert!(ready[0]);
        let mut batch = RecvBatch::default();
        let mut seen = Vec::new();
        while seen.len() < 40 {
            let n = r.recv_batch(&mut batch).unwrap();
            assert!(n <= BATCH);
            for (d, payload) in batch.datagrams() {
                assert_eq!(d.from, tx.local_addr().unwrap());
                assert_eq!(d.ttl, Some(255));
                assert_eq!(payload.len(), 24);
                seen.push(payload[0]);
            }
        }
        assert_eq!(seen, (0..40).collect::<Vec<u8>>());
        let e = r.recv_batch(&mut batch).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let t = std::time::Instant::now();
        let ready = wait(&[r.fd()], Some(Duration::from_millis(20))).unwrap();
        assert!(!ready[0]);
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn route_source_of_loopback_is_loopback() {
        let ip: IpAddr = Ipv4Addr::LOCALHOST.into();
        assert_eq!(route_source(ip).unwrap(), ip);
    }
}
