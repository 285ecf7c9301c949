//! TCP transport for BGP sessions (RFC 4271 §8: BGP runs over TCP port 179).
//!
//! Everything socket-level lives here: outbound connects with a bound source address,
//! listeners, TCP MD5 signatures (RFC 2385) via `TCP_MD5SIG`, and the TTL rules for eBGP
//! multihop and the Generalized TTL Security Mechanism (GTSM, RFC 5082). The session logic
//! never sees a socket option; the peer task calls [`connect`] or [`prepare_accepted`] and
//! gets a ready [`TcpStream`].
//!
//! Linux only for MD5 and minimum-TTL (the options are silently unavailable elsewhere and
//! produce an error when configured).

#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The socket options of one peer's connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportOptions {
    /// Source address to bind outbound connections to (`local_address`).
    pub local_address: Option<IpAddr>,
    /// TCP MD5 signature key (RFC 2385), at most 80 octets (Linux `TCP_MD5SIG_MAXKEYLEN`).
    pub md5_password: Option<String>,
    /// Outgoing TTL / hop limit and, with GTSM, the minimum accepted TTL.
    pub ttl: TtlPolicy,
}

/// How the IP TTL (IPv6 hop limit) of a session's packets is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlPolicy {
    /// Leave the system default (iBGP).
    #[default]
    SystemDefault,
    /// Send with this TTL: 1 for directly connected eBGP, `ebgp_multihop` otherwise.
    Fixed(u8),
    /// GTSM (RFC 5082 §3): send with TTL 255 and drop packets arriving with a TTL below
    /// `256 - hops`, i.e. `IP_MINTTL = 255 - (hops - 1)`.
    Security {
        /// How many hops away the peer may be (1 = directly connected).
        hops: u8,
    },
}

impl TtlPolicy {
    /// The minimum TTL to accept under GTSM (RFC 5082 §3), `None` otherwise.
    pub fn min_ttl(self) -> Option<u8> {
        match self {
            TtlPolicy::Security { hops } => Some(255u8.saturating_sub(hops.max(1) - 1)),
            _ => None,
        }
    }

    /// The TTL to send with, `None` for the system default.
    pub fn send_ttl(self) -> Option<u8> {
        match self {
            TtlPolicy::SystemDefault => None,
            TtlPolicy::Fixed(ttl) => Some(ttl.max(1)),
            TtlPolicy::Security { .. } => Some(255),
        }
    }
}

/// Opens a TCP connection to `remote` with the peer's options (source binding, MD5, TTL,
/// `TCP_NODELAY`), giving up after `timeout`.
pub async fn connect(
    remote: SocketAddr,
    opts: &TransportOptions,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    {
        let sock = SockRef::from(&socket);
        if let Some(key) = &opts.md5_password {
            set_md5(&sock, remote.ip(), Some(key.as_bytes()))?;
        }
        apply_ttl(&sock, remote.is_ipv6(), opts.ttl)?;
        sock.set_nodelay(true)?;
    }
    if let Some(local) = opts.local_address {
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "local address {local} and peer address {} are of different families",
                    remote.ip()
                ),
            ));
        }
        let bind = match (local, remote) {
            // A link-local source needs the scope of the link, as the peer address has it.
            (IpAddr::V6(l), SocketAddr::V6(r)) if l.is_unicast_link_local() => {
                SocketAddr::V6(std::net::SocketAddrV6::new(l, 0, 0, r.scope_id()))
            }
            _ => SocketAddr::new(local, 0),
        };
        socket.bind(bind)?;
    }
    match tokio::time::timeout(timeout, socket.connect(remote)).await {
        Ok(result) => result,
        Err(_) => {
            // The kernel drops segments with a wrong or missing MD5 signature (RFC 2385) and,
            // under GTSM, segments that arrive with too low a TTL (RFC 5082) without telling
            // the socket: a silent timeout is all bgpd can observe, so say what it may mean.
            let hint = silent_drop_hint(opts);
            report_unanswered(remote, opts, timeout);
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                match hint {
                    Some(hint) => format!("connect timed out ({hint})"),
                    None => "connect timed out".to_string(),
                },
            ))
        }
    }
}

/// Logs (at most once a minute per address) that a connection attempt to `remote` got no
/// answer for `waited`, with [`silent_drop_hint`], when MD5 or GTSM is configured: the only
/// trace bgpd can see of segments the kernel drops silently. Called when an attempt times out
/// and when the session gives up on a pending attempt to start a new one (ConnectRetryTimer).
pub fn report_unanswered(remote: SocketAddr, opts: &TransportOptions, waited: Duration) {
    if let Some(hint) = silent_drop_hint(opts) {
        if should_warn(remote) {
            tracing::warn!("no answer from {remote} within {waited:?}: {hint}");
        }
    }
}

/// What a connection attempt that times out may mean when the kernel drops segments silently
/// (TCP MD5, RFC 2385 §2: "unsigned or badly signed segments are silently discarded"; GTSM,
/// RFC 5082 §3), `None` when neither is configured. The kernel counts such drops
/// (`TCPMD5Failure`, `TCPMD5NotFound`, `TCPMD5Unexpected` in `/proc/net/netstat`) and logs
/// them only to dmesg.
pub fn silent_drop_hint(opts: &TransportOptions) -> Option<&'static str> {
    let md5 = opts.md5_password.is_some();
    let gtsm = opts.ttl.min_ttl().is_some();
    match (md5, gtsm) {
        (true, true) => Some(
            "a TCP MD5 password is configured: check it matches the router's; with \
             ttl_security (GTSM) the router must also be directly connected and send with TTL 255",
        ),
        (true, false) => {
            Some("a TCP MD5 password is configured: check it matches the router's (RFC 2385)")
        }
        (false, true) => Some(
            "ttl_security (GTSM) is on: the router must be directly connected and send with \
             TTL 255 (RFC 5082)",
        ),
        (false, false) => None,
    }
}

/// At most one such warning per remote address per minute, so a retrying session does not
/// flood the log.
fn should_warn(remote: SocketAddr) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::Instant;
    static LAST: OnceLock<Mutex<HashMap<SocketAddr, Instant>>> = OnceLock::new();
    let Ok(mut last) = LAST.get_or_init(Default::default).lock() else {
        return true;
    };
    let now = Instant::now();
    match last.get(&remote) {
        Some(t) if now.duration_since(*t) < Duration::from_secs(60) => false,
        _ => {
            last.insert(remote, now);
            true
        }
    }
}

/// Applies the per-peer options to an accepted connection: TTL / minimum TTL and
/// `TCP_NODELAY`. (The MD5 key was installed on the listener for the peer's address, and the
/// kernel copies it to the accepted socket.)
pub fn prepare_accepted(stream: &TcpStream, opts: &TransportOptions) -> io::Result<()> {
    let sock = SockRef::from(stream);
    let v6 = stream.peer_addr()?.is_ipv6();
    apply_ttl(&sock, v6, opts.ttl)?;
    sock.set_nodelay(true)?;
    Ok(())
}

/// Binds a listening socket on `addr` with `SO_REUSEADDR`; an IPv6 listener is IPv6-only
/// (`IPV6_V6ONLY`) so that `0.0.0.0:179` and `[::]:179` can both be bound.
///
/// The listener sends with TTL 255: its SYN-ACKs must pass a GTSM peer's minimum-TTL check
/// (RFC 5082 §3) before [`prepare_accepted`] can set the per-peer TTL on the accepted socket.
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(255)?;
    } else {
        socket.set_ttl(255)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    TcpListener::from_std(std::net::TcpListener::from(socket))
}

/// Installs (`Some`) or removes (`None`) the TCP MD5 key (RFC 2385) for connections from
/// `peer` on a listener. Only listeners of the peer's address family are affected; the
/// call is a no-op on the others.
pub fn set_listener_md5(
    listener: &TcpListener,
    peer: IpAddr,
    key: Option<&[u8]>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    if local.is_ipv4() != peer.is_ipv4() {
        return Ok(());
    }
    set_md5(&SockRef::from(listener), peer, key)
}

/// Installs (`Some`) or removes (`None`) the TCP MD5 key (RFC 2385) for connections from every
/// IPv6 link-local address (fe80::/10) on an IPv6 listener: an unnumbered peer's address is
/// learned at run time, and Linux keys a listener's MD5 by address prefix
/// (`TCP_MD5SIG_EXT` with `TCP_MD5SIG_FLAG_PREFIX`), not by interface. A more specific key (a
/// link-local peer with its `address`) still wins for its address. A no-op on IPv4 listeners.
pub fn set_listener_md5_link_local(listener: &TcpListener, key: Option<&[u8]>) -> io::Result<()> {
    if listener.local_addr()?.is_ipv4() {
        return Ok(());
    }
    let fe80 = IpAddr::V6(std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0));
    set_md5_prefix(&SockRef::from(listener), fe80, Some(10), key)
}

/// The bytes of a NOTIFICATION message (RFC 4271 §4.5) with no data, for the one case the
/// transport answers on its own: Cease / Connection Rejected (6/5, RFC 4486 §4) to a
/// connection from an address that is not a configured peer.
pub fn connection_rejected_notification() -> [u8; 21] {
    let mut msg = [0xffu8; 21];
    msg[16] = 0;
    msg[17] = 21; // length
    msg[18] = 3; // NOTIFICATION
    msg[19] = 6; // Cease
    msg[20] = 5; // Connection Rejected
    msg
}

fn apply_ttl(sock: &SockRef<'_>, v6: bool, ttl: TtlPolicy) -> io::Result<()> {
    if let Some(send) = ttl.send_ttl() {
        if v6 {
            sock.set_unicast_hops_v6(u32::from(send))?;
        } else {
            sock.set_ttl(u32::from(send))?;
        }
    }
    if let Some(min) = ttl.min_ttl() {
        set_min_ttl(sock, v6, min)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn set_min_ttl(sock: &SockRef<'_>, v6: bool, min: u8) -> io::Result<()> {
    let value: libc::c_int = libc::c_int::from(min);
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT)
    } else {
        (libc::IPPROTO_IP, libc::IP_MINTTL)
    };
    setsockopt_int(&**sock, level, name, value)
}

/// `setsockopt(2)` with an `int` value, for the options socket2 does not name (IP_MINTTL,
/// IPV6_MINHOPCOUNT, BFD's IP_RECVTTL family): the one place bgpd passes an int option.
pub(crate) fn setsockopt_int(
    sock: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and the length passed is its size; the fd is open for
    // as long as `sock` is borrowed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_min_ttl(_sock: &SockRef<'_>, _v6: bool, _min: u8) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "GTSM (IP_MINTTL) needs Linux",
    ))
}

/// Linux `struct tcp_md5sig` (include/uapi/linux/tcp.h).
#[cfg(target_os = "linux")]
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY_LEN],
}

#[cfg(target_os = "linux")]
const MD5_MAX_KEY_LEN: usize = 80;

/// Sets or clears the RFC 2385 key for `peer` on `sock` (`TCP_MD5SIG`; key length 0
/// deletes the key). The one place the workspace sets it (the interop harness uses it too).
#[cfg(target_os = "linux")]
pub fn set_md5(sock: &SockRef<'_>, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    set_md5_prefix(sock, peer, None, key)
}

/// [`set_md5`] for the addresses of `peer/prefix_len` when `prefix_len` is given
/// (`TCP_MD5SIG_EXT`, Linux 4.13).
#[cfg(target_os = "linux")]
fn set_md5_prefix(
    sock: &SockRef<'_>,
    peer: IpAddr,
    prefix_len: Option<u8>,
    key: Option<&[u8]>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    /// linux/tcp.h: the address is a prefix of `prefixlen` bits.
    const TCP_MD5SIG_FLAG_PREFIX: u8 = 0x1;
    let key = key.unwrap_or(&[]);
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 password longer than 80 octets",
        ));
    }
    // SAFETY: all-zero is a valid value for this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    let sa: socket2::SockAddr = SocketAddr::new(peer, 0).into();
    let sa_len = (sa.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: both pointers are valid for `sa_len` bytes and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            (&mut sig.addr as *mut libc::sockaddr_storage).cast::<u8>(),
            sa_len,
        );
    }
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    let option = match prefix_len {
        Some(len) => {
            sig.flags = TCP_MD5SIG_FLAG_PREFIX;
            sig.prefixlen = len;
            libc::TCP_MD5SIG_EXT
        }
        None => libc::TCP_MD5SIG,
    };
    // SAFETY: `sig` is a live, fully initialised tcp_md5sig and the length is its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            (&sig as *const TcpMd5Sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_md5_prefix(
    sock: &SockRef<'_>,
    peer: IpAddr,
    _prefix_len: Option<u8>,
    key: Option<&[u8]>,
) -> io::Result<()> {
    set_md5(sock, peer, key)
}

#[cfg(not(target_os = "linux"))]
pub fn set_md5(_sock: &SockRef<'_>, _peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    if key.is_none() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP MD5 needs Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn gtsm_min_ttl_follows_rfc5082() {
        assert_eq!(TtlPolicy::Security { hops: 1 }.min_ttl(), Some(255));
        assert_eq!(TtlPolicy::Security { hops: 2 }.min_ttl(), Some(254));
        assert_eq!(TtlPolicy::Security { hops: 0 }.min_ttl(), Some(255));
        assert_eq!(TtlPolicy::Security { hops: 1 }.send_ttl(), Some(255));
        assert_eq!(TtlPolicy::Fixed(2).send_ttl(), Some(2));
        assert_eq!(TtlPolicy::Fixed(2).min_ttl(), None);
        assert_eq!(TtlPolicy::SystemDefault.send_ttl(), None);
    }

    #[test]
    fn silent_drop_hint_names_md5_and_gtsm() {
        let mut opts = TransportOptions::default();
        assert_eq!(silent_drop_hint(&opts), None);
        opts.md5_password = Some("x".into());
        assert!(silent_drop_hint(&opts).is_some_and(|h| h.contains("MD5 password")));
        opts.md5_password = None;
        opts.ttl = TtlPolicy::Security { hops: 1 };
        assert!(silent_drop_hint(&opts).is_some_and(|h| h.contains("GTSM")));
    }

    #[tokio::test]
    async fn md5_mismatch_timeout_names_the_password() {
        let listener = bind_listener("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        set_listener_md5(&listener, addr.ip(), Some(b"right")).expect("md5");
        let opts = TransportOptions {
            md5_password: Some("wrong".into()),
            ..TransportOptions::default()
        };
        let err = connect(addr, &opts, Duration::from_millis(500))
            .await
            .expect_err("a wrong key never connects");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("MD5 password"), "{err}");
    }

    #[tokio::test]
    async fn link_local_listener_key_is_a_prefix_key_and_leaves_others_unsigned() {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        }
        let listener = bind_listener("[::1]:0".parse().expect("addr")).expect("bind");
        // The kernel takes the TCP_MD5SIG_EXT prefix key, and deletes it by the same prefix.
        set_listener_md5_link_local(&listener, Some(b"s3cret")).expect("install");
        // ::1 is outside fe80::/10: an unsigned connection from it is still accepted.
        let addr = listener.local_addr().expect("addr");
        let client = tokio::spawn(async move {
            connect(addr, &TransportOptions::default(), Duration::from_secs(5)).await
        });
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(
            matches!(accepted, Ok(Ok(_))),
            "unsigned ::1 refused: {accepted:?}"
        );
        assert!(client.await.expect("join").is_ok());
        set_listener_md5_link_local(&listener, None).expect("remove");
        // An IPv4 listener holds no IPv6 key: a no-op.
        let v4 = bind_listener("127.0.0.1:0".parse().expect("addr")).expect("bind");
        set_listener_md5_link_local(&v4, Some(b"s3cret")).expect("no-op");
    }

    #[test]
    fn rejection_notification_is_cease_6_5() {
        let msg = connection_rejected_notification();
        assert_eq!(&msg[..16], &[0xff; 16]);
        assert_eq!(&msg[16..], &[0, 21, 3, 6, 5]);
    }

    async fn round_trip(listen: SocketAddr, opts: TransportOptions) {
        let listener = bind_listener(listen).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        if let Some(key) = &opts.md5_password {
            set_listener_md5(&listener, addr.ip(), Some(key.as_bytes())).expect("listener md5");
        }
        let client = tokio::spawn({
            let opts = opts.clone();
            async move { connect(addr, &opts, Duration::from_secs(5)).await }
        });
        let (mut server, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("accept in time")
            .expect("accept");
        prepare_accepted(&server, &opts).expect("prepare accepted");
        let mut client = client.await.expect("join").expect("connect");
        client.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"ping");
        assert!(SockRef::from(&client).nodelay().expect("nodelay"));
        if let Some(ttl) = opts.ttl.send_ttl() {
            if addr.is_ipv4() {
                assert_eq!(SockRef::from(&client).ttl().expect("ttl"), u32::from(ttl));
            } else {
                assert_eq!(
                    SockRef::from(&client).unicast_hops_v6().expect("hops"),
                    u32::from(ttl)
                );
            }
        }
    }

    #[tokio::test]
    async fn connects_over_ipv4_with_source_binding_and_gtsm() {
        let opts = TransportOptions {
            local_address: Some("127.0.0.1".parse().expect("addr")),
            md5_password: None,
            ttl: TtlPolicy::Security { hops: 1 },
        };
        round_trip("127.0.0.1:0".parse().expect("addr"), opts).await;
    }

    #[tokio::test]
    async fn connects_over_ipv6_with_multihop_ttl() {
        let opts = TransportOptions {
            local_address: Some("::1".parse().expect("addr")),
            md5_password: None,
            ttl: TtlPolicy::Fixed(2),
        };
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        }
        round_trip("[::1]:0".parse().expect("addr"), opts).await;
    }

    #[tokio::test]
    async fn md5_matching_keys_connect() {
        let opts = TransportOptions {
            local_address: None,
            md5_password: Some("secret".into()),
            ttl: TtlPolicy::SystemDefault,
        };
        round_trip("127.0.0.1:0".parse().expect("addr"), opts).await;
    }

    #[tokio::test]
    async fn md5_missing_key_on_client_never_connects() {
        let listener = bind_listener("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        set_listener_md5(&listener, addr.ip(), Some(b"secret")).expect("md5");
        let res = connect(
            addr,
            &TransportOptions::default(),
            Duration::from_millis(500),
        )
        .await;
        // The listener drops unsigned SYNs, so the connect times out.
        assert!(res.is_err(), "connect without the key must fail");
    }
}
