//! A hostile BGP peer: a raw TCP writer that can send any bytes at any time to a real bgpd
//! process, and read back what bgpd answers (decoded with `bgp_proto`).
//!
//! The tests in `interop/tests/hostile.rs` use it with FRR's sentinel technique
//! (`docs/error-handling.md`, "How trusted implementations protect themselves"): after a
//! hostile message that must not reset the session, a valid UPDATE for a sentinel prefix has to
//! be accepted, which proves the session survived and the hostile message was fully consumed.
//!
//! - [`Daemon`]: one bgpd over loopback (no namespace, no root), every configured peer passive,
//!   its stderr captured to a file with `bgpd::peer` at debug level so that each received UPDATE
//!   leaves a line ("received N routes and M withdrawals from PEER"). Killed by PID on drop.
//! - [`RawPeer`]: a blocking TCP connection from a chosen loopback source address
//!   (`127.0.1.x`, so one bgpd tells many raw peers apart), with helpers for the handshake,
//!   sending raw bytes (all at once or one octet at a time) and reading whole messages.
//! - [`wire`]: byte builders for OPEN, capabilities, UPDATE, attributes and NLRI, so that a test
//!   case reads like the malformation it sends.

use std::fmt::Write as _;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bgp_proto::{Notification, Open};

use crate::bgpd::bgpd_binary;
use crate::wait::wait_until;

/// One configured (passive) peer of the daemon.
#[derive(Debug, Clone)]
pub struct DaemonPeer {
    pub name: String,
    pub address: IpAddr,
    pub asn: u32,
    /// Extra `key = value` lines for this `[[peers]]` table.
    pub extra: Vec<String>,
}

/// A bgpd process listening on loopback, every peer passive.
pub struct Daemon {
    child: Child,
    pub listen: SocketAddr,
    pub log: PathBuf,
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts `bgpd run -c FILE` listening on `listen` with `peers` (all passive, families
    /// IPv4 and IPv6 unicast unless a peer's `extra` says otherwise). `global_extra` lines go
    /// into `[global]`. Waits until bgpd logs "bgpd started" (its peers are registered).
    pub fn start(
        tag: &str,
        asn: u32,
        listen: SocketAddr,
        global_extra: &[&str],
        peers: &[DaemonPeer],
    ) -> Daemon {
        let bin = bgpd_binary();
        let dir = std::env::temp_dir().join(format!("bgpd-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        let mut cfg = String::new();
        let _ = writeln!(cfg, "[global]\nasn = {asn}\nrouter_id = \"10.0.0.1\"");
        let _ = writeln!(cfg, "listen = [\"{listen}\"]\nhold_time = 9\nkeepalive = 3");
        let _ = writeln!(
            cfg,
            "control_socket = \"{}\"\nstate_dir = \"{}\"",
            dir.join("bgpd.sock").display(),
            dir.join("state").display()
        );
        for line in global_extra {
            let _ = writeln!(cfg, "{line}");
        }
        for p in peers {
            let _ = writeln!(
                cfg,
                "\n[[peers]]\nname = \"{}\"\naddress = \"{}\"\nasn = {}\npassive = true",
                p.name, p.address, p.asn
            );
            if !p.extra.iter().any(|l| l.starts_with("families")) {
                let _ = writeln!(cfg, "families = [\"ipv4-unicast\", \"ipv6-unicast\"]");
            }
            // The cases judge what bgpd keeps of what it receives: keep everything the
            // checks let through (bgpd's default import is "none").
            if !p.extra.iter().any(|l| l.starts_with("import")) {
                let _ = writeln!(cfg, "import = \"all\"");
            }
            for line in &p.extra {
                let _ = writeln!(cfg, "{line}");
            }
        }
        let conf = dir.join("bgpd.toml");
        fs::write(&conf, cfg).expect("write config");
        let log = dir.join("bgpd.log");
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        let child = Command::new(&bin)
            .args(["run", "-c"])
            .arg(&conf)
            .env("RUST_LOG", "info,bgpd::peer=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn bgpd");
        let d = Daemon {
            child,
            listen,
            log,
            dir,
        };
        // Ready once it logs its start sentence (its listener opens a moment earlier, before
        // the peers are registered: a connection then gets Cease 6/5).
        let up = wait_until(
            Duration::from_secs(20),
            || d.log_text().contains("bgpd started"),
            |ok| *ok,
        );
        assert!(up, "bgpd never started on {listen}; log:\n{}", d.log_text());
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Number of log lines containing every one of `needles` (exact, case-sensitive).
    pub fn count_log(&self, needles: &[&str]) -> usize {
        self.log_text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    /// Waits until at least `n` log lines contain every one of `needles`; returns the count
    /// last seen.
    pub fn wait_count(&self, timeout: Duration, n: usize, needles: &[&str]) -> usize {
        wait_until(timeout, || self.count_log(needles), |c| *c >= n)
    }

    /// The prefixes in `peer`'s Adj-RIB-In, from the control API (`bgpctl routes --received`:
    /// one JSON request line on the Unix socket `global.control_socket`, one response line).
    pub fn received(&self, peer: &str) -> Result<Vec<String>, String> {
        let data = crate::bgpd::control_request(
            &self.dir.join("bgpd.sock"),
            serde_json::json!({"cmd": "routes", "peer": peer, "received": true}),
        )?;
        let routes = data.as_array().cloned().unwrap_or_default();
        Ok(routes
            .iter()
            .filter_map(|r| r["prefix"].as_str().map(str::to_string))
            .collect())
    }

    /// The log lines that mention `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Our own child, by PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// bgpd's peer label in its log lines: "NAME (ADDRESS)".
pub fn label(name: &str, address: IpAddr) -> String {
    format!("{name} ({address})")
}

/// What one read from bgpd gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// One whole message (header included) with its type octet.
    Message { kind: u8, bytes: Vec<u8> },
    /// bgpd closed the connection (EOF or reset).
    Closed,
    /// Nothing complete arrived before the deadline.
    Timeout,
}

/// A NOTIFICATION as received: code, subcode, data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notif {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl std::fmt::Display for Notif {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} data {:02x?}", self.code, self.subcode, self.data)
    }
}

/// One raw TCP connection to bgpd.
pub struct RawPeer {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl RawPeer {
    /// Connects to `to` from `source` (port chosen by the kernel).
    pub fn connect(to: SocketAddr, source: IpAddr) -> std::io::Result<RawPeer> {
        let domain = if to.is_ipv4() {
            socket2::Domain::IPV4
        } else {
            socket2::Domain::IPV6
        };
        let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
        sock.bind(&SocketAddr::new(source, 0).into())?;
        sock.connect_timeout(&to.into(), Duration::from_secs(5))?;
        let stream: TcpStream = sock.into();
        stream.set_nodelay(true)?;
        Ok(RawPeer {
            stream,
            buf: Vec::new(),
            closed: false,
        })
    }

    /// Connects to `to` with TCP MD5 key `md5` (RFC 2385) and/or a fixed outgoing TTL / hop
    /// limit `ttl` (to stand in for a peer further away under GTSM, RFC 5082), giving up after
    /// `timeout`. With a wrong or missing key the SYN is dropped by the kernel and this times
    /// out.
    pub fn connect_with(
        to: SocketAddr,
        md5: Option<&str>,
        ttl: Option<u32>,
        timeout: Duration,
    ) -> std::io::Result<RawPeer> {
        let sock = raw_socket(to, md5, ttl)?;
        sock.connect_timeout(&to.into(), timeout)?;
        let stream: TcpStream = sock.into();
        stream.set_nodelay(true)?;
        Ok(RawPeer {
            stream,
            buf: Vec::new(),
            closed: false,
        })
    }

    /// Wraps an accepted connection.
    pub fn from_stream(stream: TcpStream) -> RawPeer {
        let _ = stream.set_nodelay(true);
        RawPeer {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// Sends `bytes` in one write.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `bytes` one octet per write, pausing `gap` between octets (slow drip).
    pub fn drip(&mut self, bytes: &[u8], gap: Duration) -> std::io::Result<()> {
        for b in bytes {
            self.stream.write_all(std::slice::from_ref(b))?;
            std::thread::sleep(gap);
        }
        Ok(())
    }

    /// Reads one whole message, or reports EOF or the deadline.
    pub fn recv(&mut self, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buf.len() >= 19 {
                let len = usize::from(u16::from_be_bytes([self.buf[16], self.buf[17]])).max(19);
                if self.buf.len() >= len {
                    let bytes: Vec<u8> = self.buf.drain(..len).collect();
                    return Received::Message {
                        kind: bytes[18],
                        bytes,
                    };
                }
            }
            if self.closed {
                return Received::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Received::Timeout;
            }
            let _ = self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// Reads until bgpd's OPEN; returns it decoded.
    pub fn expect_open(&mut self, timeout: Duration) -> Result<Open, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Received::Message { kind: 1, bytes } => {
                    return Open::decode(&bytes).map_err(|e| format!("bgpd's OPEN: {e}"))
                }
                Received::Message { kind: 3, bytes } => {
                    return Err(format!("NOTIFICATION instead of OPEN: {}", notif(&bytes)?))
                }
                Received::Message { .. } => {}
                other => return Err(format!("no OPEN from bgpd: {other:?}")),
            }
        }
    }

    /// Reads until bgpd's KEEPALIVE (skipping UPDATEs).
    pub fn expect_keepalive(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Received::Message { kind: 4, .. } => return Ok(()),
                Received::Message { kind: 3, bytes } => {
                    return Err(format!(
                        "NOTIFICATION instead of KEEPALIVE: {}",
                        notif(&bytes)?
                    ))
                }
                Received::Message { .. } => {}
                other => return Err(format!("no KEEPALIVE from bgpd: {other:?}")),
            }
        }
    }

    /// OPEN, then KEEPALIVE both ways: the session is Established at bgpd once it reads our
    /// KEEPALIVE, which TCP delivers before anything we send next.
    pub fn handshake(&mut self, open: &[u8], timeout: Duration) -> Result<Open, String> {
        self.send(open).map_err(|e| format!("send OPEN: {e}"))?;
        let theirs = self.expect_open(timeout)?;
        self.send(&wire::keepalive())
            .map_err(|e| format!("send KEEPALIVE: {e}"))?;
        self.expect_keepalive(timeout)?;
        Ok(theirs)
    }

    /// Reads until a NOTIFICATION (skipping OPEN, KEEPALIVE and UPDATE); `Err` on EOF or
    /// timeout without one.
    pub fn expect_notification(&mut self, timeout: Duration) -> Result<Notif, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Received::Message { kind: 3, bytes } => return notif(&bytes),
                Received::Message { .. } => {}
                other => return Err(format!("no NOTIFICATION: {other:?}")),
            }
        }
    }

    /// Checks that nothing but KEEPALIVE/UPDATE arrives for `quiet` (no NOTIFICATION, no EOF).
    pub fn expect_no_notification(&mut self, quiet: Duration) -> Result<(), String> {
        let deadline = Instant::now() + quiet;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Received::Message { kind: 3, bytes } => {
                    return Err(format!("unexpected NOTIFICATION {}", notif(&bytes)?))
                }
                Received::Message { .. } => {}
                Received::Closed => return Err("bgpd closed the connection".into()),
                Received::Timeout => return Ok(()),
            }
        }
    }

    /// Waits for bgpd to close the connection, skipping messages; `Err` if it does not.
    pub fn expect_closed(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + timeout;
        let mut kinds = Vec::new();
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Received::Message { kind, .. } => kinds.push(kind),
                Received::Closed => return Ok(kinds),
                Received::Timeout => return Err("bgpd kept the connection open".into()),
            }
        }
    }
}

/// A listening socket on `addr` that signs with `md5` for segments from `md5_peer` and sends
/// with TTL `ttl` (for bgpd's outbound connections in the hardening tests).
pub fn listener_with(
    addr: SocketAddr,
    md5: Option<(&str, IpAddr)>,
    ttl: Option<u32>,
) -> std::io::Result<std::net::TcpListener> {
    let sock = raw_socket(addr, None, ttl)?;
    if let Some((key, peer)) = md5 {
        set_md5(&sock, peer, key.as_bytes())?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(16)?;
    Ok(sock.into())
}

fn raw_socket(
    to: SocketAddr,
    md5: Option<&str>,
    ttl: Option<u32>,
) -> std::io::Result<socket2::Socket> {
    let domain = if to.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    if to.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    if let Some(key) = md5 {
        set_md5(&sock, to.ip(), key.as_bytes())?;
    }
    if let Some(ttl) = ttl {
        if to.is_ipv4() {
            sock.set_ttl(ttl)?;
        } else {
            sock.set_unicast_hops_v6(ttl)?;
        }
    }
    Ok(sock)
}

/// `TCP_MD5SIG` for `peer` with `key`, through bgpd's own setter.
fn set_md5(sock: &socket2::Socket, peer: IpAddr, key: &[u8]) -> std::io::Result<()> {
    bgpd::transport::set_md5(&socket2::SockRef::from(sock), peer, Some(key))
}

/// Runs `f` on a thread that has joined network namespace `ns` (`/run/netns/NS`, as made by
/// `ip netns add`); sockets created there stay in that namespace.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            use std::os::fd::AsRawFd;
            let file = fs::File::open(format!("/run/netns/{ns}"))
                .unwrap_or_else(|e| panic!("open /run/netns/{ns}: {e}"));
            // SAFETY: a valid namespace fd; setns only changes this thread's namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread panicked")
    })
}

fn notif(bytes: &[u8]) -> Result<Notif, String> {
    let n = Notification::decode(bytes).map_err(|e| format!("bad NOTIFICATION from bgpd: {e}"))?;
    Ok(Notif {
        code: n.code.0,
        subcode: n.subcode,
        data: n.data.to_vec(),
    })
}

/// Byte builders for hostile and valid messages (RFC 4271 §4).
pub mod wire {
    /// Message types (RFC 4271 §4.1, RFC 2918 §3).
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;

    /// Attribute flags (RFC 4271 §4.3).
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED: u8 = 0x10;
    /// Well-known: transitive, not optional.
    pub const WK: u8 = TRANSITIVE;
    /// Optional non-transitive.
    pub const ONT: u8 = OPTIONAL;
    /// Optional transitive.
    pub const OT: u8 = OPTIONAL | TRANSITIVE;

    /// A message: marker, length (of the whole message), type, body.
    pub fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        msg_with_len(kind, body, (19 + body.len()) as u16)
    }

    /// A message whose Length field says `len`, whatever the body is.
    pub fn msg_with_len(kind: u8, body: &[u8], len: u16) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(kind);
        v.extend_from_slice(body);
        v
    }

    pub fn keepalive() -> Vec<u8> {
        msg(KEEPALIVE, &[])
    }

    /// One capability TLV (RFC 5492 §4).
    pub fn cap(code: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![code, value.len() as u8];
        v.extend_from_slice(value);
        v
    }

    /// Multiprotocol (RFC 4760 §8).
    pub fn cap_mp(afi: u16, safi: u8) -> Vec<u8> {
        let a = afi.to_be_bytes();
        cap(1, &[a[0], a[1], 0, safi])
    }

    /// 4-octet AS (RFC 6793 §3).
    pub fn cap_as4(asn: u32) -> Vec<u8> {
        cap(65, &asn.to_be_bytes())
    }

    /// Route refresh (RFC 2918) and enhanced route refresh (RFC 7313).
    pub fn cap_rr() -> Vec<u8> {
        cap(2, &[])
    }
    pub fn cap_err() -> Vec<u8> {
        cap(70, &[])
    }

    /// The capabilities a well-behaved peer of AS `asn` sends: MP IPv4 and IPv6 unicast,
    /// route refresh, enhanced route refresh, 4-octet AS.
    pub fn std_caps(asn: u32) -> Vec<u8> {
        [
            cap_mp(1, 1),
            cap_mp(2, 1),
            cap_rr(),
            cap_err(),
            cap_as4(asn),
        ]
        .concat()
    }

    /// Optional parameter type 2 (Capabilities, RFC 5492 §4) holding `caps`.
    pub fn param_caps(caps: &[u8]) -> Vec<u8> {
        let mut v = vec![2, caps.len() as u8];
        v.extend_from_slice(caps);
        v
    }

    /// An OPEN body with the given fields and raw optional parameters (Opt Parm Len is
    /// `params.len()`).
    pub fn open_body(version: u8, my_as: u16, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
        let mut v = vec![version];
        v.extend_from_slice(&my_as.to_be_bytes());
        v.extend_from_slice(&hold.to_be_bytes());
        v.extend_from_slice(&id);
        v.push(params.len() as u8);
        v.extend_from_slice(params);
        v
    }

    /// A valid OPEN: version 4, `asn` (AS_TRANS in the 2-octet field above 65535), hold time
    /// `hold`, BGP Identifier `id`, the standard capabilities.
    pub fn open(asn: u32, hold: u16, id: [u8; 4]) -> Vec<u8> {
        let my_as = u16::try_from(asn).unwrap_or(23456);
        msg(
            OPEN,
            &open_body(4, my_as, hold, id, &param_caps(&std_caps(asn))),
        )
    }

    /// An OPEN with `caps` (capability TLVs) as its only capabilities parameter.
    pub fn open_caps(asn: u16, hold: u16, id: [u8; 4], caps: &[Vec<u8>]) -> Vec<u8> {
        msg(
            OPEN,
            &open_body(4, asn, hold, id, &param_caps(&caps.concat())),
        )
    }

    /// RFC 9072 §2 extended optional parameters: Non-Ext OP Len 255, Non-Ext OP Type 255,
    /// then a 2-octet Extended Opt. Parm. Length `ext_len`, then `params` (each with a
    /// 2-octet length).
    pub fn open_ext(asn: u16, hold: u16, id: [u8; 4], ext_len: u16, params: &[u8]) -> Vec<u8> {
        let mut v = vec![4];
        v.extend_from_slice(&asn.to_be_bytes());
        v.extend_from_slice(&hold.to_be_bytes());
        v.extend_from_slice(&id);
        v.push(255);
        v.push(255);
        v.extend_from_slice(&ext_len.to_be_bytes());
        v.extend_from_slice(params);
        msg(OPEN, &v)
    }

    /// An RFC 9072 capabilities parameter: type 2, 2-octet length.
    pub fn ext_param_caps(caps: &[u8]) -> Vec<u8> {
        let mut v = vec![2];
        v.extend_from_slice(&(caps.len() as u16).to_be_bytes());
        v.extend_from_slice(caps);
        v
    }

    /// One path attribute; the Extended Length flag picks a 2-octet length.
    pub fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![flags, code];
        if flags & EXTENDED != 0 {
            v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        } else {
            v.push(value.len() as u8);
        }
        v.extend_from_slice(value);
        v
    }

    /// An attribute whose length field says `len`, whatever the value is.
    pub fn attr_with_len(flags: u8, code: u8, len: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![flags, code, len];
        v.extend_from_slice(value);
        v
    }

    pub fn origin(v: u8) -> Vec<u8> {
        attr(WK, 1, &[v])
    }

    /// AS_PATH with one AS_SEQUENCE of 4-octet ASNs.
    pub fn as_path(asns: &[u32]) -> Vec<u8> {
        attr(WK, 2, &segment(2, asns))
    }

    /// One AS_PATH segment: type, count, 4-octet ASNs.
    pub fn segment(kind: u8, asns: &[u32]) -> Vec<u8> {
        let mut v = vec![kind, asns.len() as u8];
        for a in asns {
            v.extend_from_slice(&a.to_be_bytes());
        }
        v
    }

    pub fn next_hop(a: [u8; 4]) -> Vec<u8> {
        attr(WK, 3, &a)
    }

    /// An IPv4 NLRI entry (RFC 4271 §4.3): length, then the significant octets.
    pub fn prefix4(a: [u8; 4], len: u8) -> Vec<u8> {
        let n = usize::from(len.min(32)).div_ceil(8);
        let mut v = vec![len];
        v.extend_from_slice(&a[..n]);
        v
    }

    /// An UPDATE body: withdrawn routes, path attributes, NLRI, with correct lengths.
    pub fn update_body(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
        let mut v = (withdrawn.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(withdrawn);
        v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        v.extend_from_slice(attrs);
        v.extend_from_slice(nlri);
        v
    }

    pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
        msg(UPDATE, &update_body(withdrawn, attrs, nlri))
    }

    /// MP_REACH_NLRI (RFC 4760 §3), optional non-transitive, with the next-hop length octet
    /// taken from `nh`.
    pub fn mp_reach(afi: u16, safi: u8, nh: &[u8], nlri: &[u8]) -> Vec<u8> {
        let mut v = afi.to_be_bytes().to_vec();
        v.push(safi);
        v.push(nh.len() as u8);
        v.extend_from_slice(nh);
        v.push(0); // Reserved
        v.extend_from_slice(nlri);
        attr(ONT, 14, &v)
    }

    /// MP_UNREACH_NLRI (RFC 4760 §4).
    pub fn mp_unreach(afi: u16, safi: u8, nlri: &[u8]) -> Vec<u8> {
        let mut v = afi.to_be_bytes().to_vec();
        v.push(safi);
        v.extend_from_slice(nlri);
        attr(ONT, 15, &v)
    }

    /// ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2).
    pub fn route_refresh(afi: u16, subtype: u8, safi: u8) -> Vec<u8> {
        let a = afi.to_be_bytes();
        msg(ROUTE_REFRESH, &[a[0], a[1], subtype, safi])
    }

    pub fn notification(code: u8, subcode: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![code, subcode];
        v.extend_from_slice(data);
        msg(NOTIFICATION, &v)
    }
}
