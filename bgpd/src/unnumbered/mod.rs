//! Unnumbered peers: `interface = "eth0"` without `address`, the neighbor learned from the link
//! as FRR's `neighbor eth0 interface` does.
//!
//! FRR's zebra sends IPv6 Router Advertisements on an interface peer's link and takes the
//! source of the advertisements it receives there as the neighbor's address; bgpd then
//! connects to that link-local address, scoped to the interface (`bgp_zebra.c`
//! `bgp_zebra_initiate_radv`, `bgpd.c` `bgp_peer_conf_if_to_su_update_v6`, `zebra/rtadv.c`
//! `rtadv_process_advert`). bgpd does the same, on its own: one [`Link`] task per unnumbered
//! peer, with a raw ICMPv6 socket bound to the interface, that
//! - sends Router Advertisements with Router Lifetime 0 ([`ra::RouterAdvert::BGPD`]): the
//!   router learns our link-local address from them, and no host takes the node for a default
//!   router (RFC 4861 §4.2, §6.2.5);
//! - answers Router Solicitations (RFC 4861 §6.2.6);
//! - learns the neighbor from the Router Advertisements it receives (checked as RFC 4861
//!   §6.1.2 asks, hop limit 255 included; anything else is dropped and counted) and from BGP
//!   connections accepted from a link-local address of the interface, through
//!   [`neighbor::NeighborTracker`], and publishes it to the peer task ([`LinkNeighbor`]).
//!
//! The codec ([`ra`]) and the decision ([`neighbor`]) are pure; this module is the IO.

#![allow(unsafe_code)]

pub use bgp_fsm::unnumbered::{neighbor, ra};

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, MaybeUninitSlice, MsgHdrMut, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use neighbor::{Decision, NeighborTracker};
use ra::{NdMessage, RouterAdvert};

/// RFC 4861 §6.2.1 MaxRtrAdvInterval for bgpd's advertisements: 10 s, FRR's interval for
/// interface peers (`BGP_UNNUM_DEFAULT_RA_INTERVAL`).
pub const RA_INTERVAL: Duration = Duration::from_secs(10);
/// The first advertisements go out this far apart (RFC 4861 §6.2.4 allows up to
/// MAX_INITIAL_RTR_ADVERT_INTERVAL, 16 s; FRR's zebra sends its first ones a second apart).
pub const RA_INITIAL_INTERVAL: Duration = Duration::from_secs(1);
/// RFC 4861 §10 MAX_INITIAL_RTR_ADVERTISEMENTS.
pub const RA_INITIAL_COUNT: u32 = 3;
/// RFC 4861 §10 MIN_DELAY_BETWEEN_RAS: solicited advertisements are no more frequent.
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
/// RFC 4861 §10 MAX_RA_DELAY_TIME: a solicited advertisement waits up to this long.
pub const MAX_RA_DELAY: Duration = Duration::from_millis(500);

/// All-nodes multicast (RFC 4291 §2.7.1): where unsolicited advertisements go (§6.2.4).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// `ICMP6_FILTER` (RFC 3542 §3.2; linux/icmpv6.h), not in the libc crate.
const ICMP6_FILTER: libc::c_int = 1;

/// What the link task knows, for the peer task and `bgpctl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkView {
    /// The neighbor's link-local address, once learned.
    pub neighbor: Option<Ipv6Addr>,
    /// Why no Router Advertisement can be sent or received (e.g. no CAP_NET_RAW): only an
    /// inbound connection can teach the neighbor then.
    pub socket_error: Option<String>,
}

/// Counters of one link (dropped messages are never logged one by one).
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Router Advertisements sent.
    pub adverts_sent: AtomicU64,
    /// Router Advertisements received.
    pub adverts_received: AtomicU64,
    /// Router Solicitations received.
    pub solicitations_received: AtomicU64,
    /// Messages that failed an RFC 4861 §6.1 check.
    pub dropped: AtomicU64,
}

/// What `bgpctl` and metrics show of an unnumbered peer's link.
#[derive(Debug, Clone)]
pub struct LinkStats {
    /// The interface name.
    pub interface: String,
    /// The link's counters.
    pub counters: Arc<LinkCounters>,
}

/// The link of one unnumbered peer: its task runs until the `Link` is dropped.
#[derive(Debug)]
pub struct Link {
    ifname: String,
    view: watch::Receiver<LinkView>,
    inbound: mpsc::Sender<Ipv6Addr>,
    /// The link's counters (shared with the task).
    pub counters: Arc<LinkCounters>,
    task: JoinHandle<()>,
}

impl Link {
    /// Starts advertising on and listening to `ifname`.
    pub fn start(ifname: &str) -> Link {
        let (view_tx, view) = watch::channel(LinkView::default());
        let (inbound, inbound_rx) = mpsc::channel(16);
        let counters = Arc::new(LinkCounters::default());
        let task = tokio::spawn(run(
            ifname.to_string(),
            view_tx,
            inbound_rx,
            counters.clone(),
        ));
        Link {
            ifname: ifname.to_string(),
            view,
            inbound,
            counters,
            task,
        }
    }

    /// The peer task's view of the neighbor.
    pub fn neighbor(&self) -> LinkNeighbor {
        LinkNeighbor {
            ifname: self.ifname.clone(),
            view: self.view.clone(),
            counters: self.counters.clone(),
            reported: None,
        }
    }

    /// For the accept loop: tells the link about connections from the interface.
    pub fn inbound(&self) -> Inbound {
        Inbound(self.inbound.clone())
    }
}

/// The accept loop's side of a [`Link`].
#[derive(Debug, Clone)]
pub struct Inbound(mpsc::Sender<Ipv6Addr>);

impl Inbound {
    /// An `Inbound` whose reports arrive on the returned receiver (for the daemon's tests).
    #[cfg(test)]
    pub(crate) fn channel() -> (Inbound, mpsc::Receiver<Ipv6Addr>) {
        let (tx, rx) = mpsc::channel(4);
        (Inbound(tx), rx)
    }

    /// A BGP connection from `addr` was accepted on the interface: the neighbor is there.
    pub fn heard(&self, addr: Ipv6Addr) {
        // Never blocks the accept loop; a full queue means the link task knows already.
        let _ = self.0.try_send(addr);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The peer task's side of a [`Link`]: where to connect.
#[derive(Debug, Clone)]
pub struct LinkNeighbor {
    ifname: String,
    view: watch::Receiver<LinkView>,
    counters: Arc<LinkCounters>,
    /// The neighbor [`LinkNeighbor::changed`] last returned: kept here, not in the future,
    /// so that a change made while no `changed` future was polled is still reported.
    reported: Option<Ipv6Addr>,
}

impl LinkNeighbor {
    /// The neighbor's socket address (`port`, scoped to the interface), once learned.
    pub fn current(&self, port: u16) -> Option<SocketAddr> {
        let addr = self.view.borrow().neighbor?;
        let scope = crate::link::interface_index(&self.ifname).unwrap_or(0);
        Some(SocketAddr::V6(SocketAddrV6::new(addr, port, 0, scope)))
    }

    /// Why there is nothing to connect to yet (`bgpctl neighbor` shows it as the connect
    /// error), `None` once the neighbor is known.
    pub fn waiting(&self) -> Option<io::Error> {
        let view = self.view.borrow();
        if view.neighbor.is_some() {
            return None;
        }
        let mut why = format!(
            "waiting for a router advertisement on {} (the neighbor's address is learned from \
             the link)",
            self.ifname
        );
        if let Some(e) = &view.socket_error {
            why.push_str(&format!("; cannot use ICMPv6 there: {e}"));
        }
        Some(io::Error::new(io::ErrorKind::NotConnected, why))
    }

    /// Waits until the neighbor is known and returns its socket address.
    pub async fn resolve(mut self, port: u16) -> SocketAddr {
        loop {
            if let Some(addr) = self.current(port) {
                return addr;
            }
            if self.view.changed().await.is_err() {
                // The link task is gone (the peer is being removed): never resolves.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits until the neighbor differs from the one last returned (the first learned
    /// address counts) and returns it. Cancel-safe: dropping the future loses nothing.
    pub async fn changed(&mut self) -> Ipv6Addr {
        loop {
            let now = self.view.borrow_and_update().neighbor;
            if let Some(addr) = now.filter(|a| Some(*a) != self.reported) {
                self.reported = Some(addr);
                return addr;
            }
            if self.view.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The link's counters and interface, for `bgpctl` and metrics.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            interface: self.ifname.clone(),
            counters: self.counters.clone(),
        }
    }
}

/// For the peer task's `select!`: the next change of the neighbor of an unnumbered peer;
/// never for any other peer.
pub async fn changed(link: Option<&mut LinkNeighbor>) -> Ipv6Addr {
    match link {
        Some(link) => link.changed().await,
        None => std::future::pending().await,
    }
}

/// How long after the `sent`-th advertisement the next one goes out (RFC 4861 §6.2.4): the
/// first [`RA_INITIAL_COUNT`] a second apart, then uniformly between 0.75 and 1 times
/// [`RA_INTERVAL`] (`jitter` in 0..1), within MinRtrAdvInterval..MaxRtrAdvInterval (§6.2.1).
pub fn next_advert_in(sent: u32, jitter: f64) -> Duration {
    if sent < RA_INITIAL_COUNT {
        return RA_INITIAL_INTERVAL;
    }
    RA_INTERVAL.mul_f64(0.75 + 0.25 * jitter.clamp(0.0, 1.0))
}

async fn run(
    ifname: String,
    view: watch::Sender<LinkView>,
    mut inbound: mpsc::Receiver<Ipv6Addr>,
    counters: Arc<LinkCounters>,
) {
    let socket = match open(&ifname) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(
                "cannot send or receive router advertisements on {ifname} ({e}): the unnumbered \
                 peer there is learned only from an inbound connection"
            );
            view.send_modify(|v| v.socket_error = Some(e.to_string()));
            None
        }
    };
    let mut tracker = NeighborTracker::default();
    let mut sent: u32 = 0;
    let mut next_advert = Instant::now();
    let mut last_advert: Option<Instant> = None;
    // Warned that the interface has no link-local address (reset when it has one again).
    let mut warned_no_link_local = false;
    loop {
        let advert_due = socket.as_ref().map(|_| next_advert);
        let deadline = [advert_due, tracker.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            got = recv(socket.as_ref()) => {
                let now = Instant::now();
                match got {
                    Ok((msg, hop_limit, source)) => match ra::decode(&msg, hop_limit, source) {
                        Ok(NdMessage::RouterAdvert(_)) => {
                            counters.adverts_received.fetch_add(1, Ordering::Relaxed);
                            let own = crate::link::ipv6_addresses_of(&ifname);
                            let d = tracker.heard(now, source, &own);
                            publish(&ifname, &view, d, "a router advertisement");
                        }
                        Ok(NdMessage::RouterSolicit) => {
                            counters.solicitations_received.fetch_add(1, Ordering::Relaxed);
                            // RFC 4861 §6.2.6: answer after a random delay up to
                            // MAX_RA_DELAY_TIME, never sooner than MIN_DELAY_BETWEEN_RAS after
                            // the last advertisement.
                            let earliest = last_advert
                                .map_or(now, |t| t + MIN_DELAY_BETWEEN_RAS)
                                .max(now + MAX_RA_DELAY.mul_f64(jitter(&ifname, sent)));
                            next_advert = next_advert.min(earliest);
                        }
                        Err(e) => {
                            let n = counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                            if n == 1 {
                                info!(
                                    "dropped an ICMPv6 message from {source} on {ifname}: {e} \
                                     (RFC 4861 §6.1; further ones are only counted)"
                                );
                            } else {
                                debug!("dropped an ICMPv6 message from {source} on {ifname}: {e}");
                            }
                        }
                    },
                    Err(e) => {
                        debug!("receive on the ICMPv6 socket of {ifname} failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Some(addr) = inbound.recv() => {
                let own = crate::link::ipv6_addresses_of(&ifname);
                let d = tracker.heard(Instant::now(), addr, &own);
                publish(&ifname, &view, d, "an inbound connection");
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if let Some(d) = tracker.poll(now) {
                    publish(&ifname, &view, d, "a router advertisement");
                }
                if let Some(sock) = socket.as_ref().filter(|_| now >= next_advert) {
                    // RFC 4861 §6.1.2: routers drop an advertisement whose source is not
                    // link-local, and the kernel would pick a global one when the interface
                    // has no link-local address.
                    let own = crate::link::ipv6_addresses_of(&ifname);
                    let has_link_local = own.iter().any(|a| a.is_unicast_link_local());
                    if !has_link_local && !warned_no_link_local {
                        warn!(
                            "{ifname} has no IPv6 link-local address: no router advertisement \
                             is sent until it has one (routers ignore any other source, RFC \
                             4861 §6.1.2)"
                        );
                    }
                    warned_no_link_local = !has_link_local;
                    let sent_now = if has_link_local {
                        send_advert(sock, &ifname)
                    } else {
                        Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "no link-local address"))
                    };
                    match sent_now {
                        Ok(()) => {
                            counters.adverts_sent.fetch_add(1, Ordering::Relaxed);
                        }
                        // No usable link-local source yet (DAD), the link is down: try again
                        // on the schedule.
                        Err(e) => debug!("cannot send a router advertisement on {ifname}: {e}"),
                    }
                    last_advert = Some(now);
                    next_advert = now + next_advert_in(sent, jitter(&ifname, sent));
                    sent = sent.saturating_add(1);
                }
            }
        }
    }
}

/// Logs and publishes what a [`Decision`] changed.
fn publish(ifname: &str, view: &watch::Sender<LinkView>, d: Decision, how: &str) {
    match d {
        Decision::Learned(addr) => {
            info!("learned the unnumbered neighbor on {ifname}: {addr} (from {how})");
            view.send_modify(|v| v.neighbor = Some(addr));
        }
        Decision::Moved { from, to } => {
            warn!(
                "the unnumbered neighbor on {ifname} is now {to} (was {from}, silent for {:?}): \
                 the session moves to it",
                neighbor::STALE_AFTER
            );
            view.send_modify(|v| v.neighbor = Some(to));
        }
        Decision::Candidate(addr) => debug!(
            "{addr} on {ifname} is not the unnumbered neighbor while the current one is heard"
        ),
        Decision::Refreshed | Decision::Ignored => {}
    }
}

/// A number in 0..1 that differs between interfaces and advertisements (RFC 4861 §6.2.4 asks
/// for random intervals so that routers do not synchronise).
fn jitter(ifname: &str, n: u32) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ifname.hash(&mut h);
    n.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    (h.finish() % 10_000) as f64 / 10_000.0
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A raw ICMPv6 socket on `ifname` that receives only RS and RA (ICMP6_FILTER), reports the
/// hop limit of each (IPV6_RECVHOPLIMIT) and sends with hop limit 255 (RFC 4861 §6.1).
fn open(ifname: &str) -> io::Result<AsyncFd<Socket>> {
    let index = crate::link::interface_index(ifname)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such interface"))?;
    let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    socket.bind_device(Some(ifname.as_bytes()))?;
    socket.set_multicast_if_v6(index)?;
    socket.set_multicast_hops_v6(u32::from(ra::ND_HOP_LIMIT))?;
    socket.set_unicast_hops_v6(u32::from(ra::ND_HOP_LIMIT))?;
    socket.set_multicast_loop_v6(false)?;
    socket.set_recv_hoplimit_v6(true)?;
    set_icmp6_filter(
        &socket,
        &[ra::ROUTER_SOLICITATION, ra::ROUTER_ADVERTISEMENT],
    )?;
    socket.set_nonblocking(true)?;
    // Interest READABLE only: advertisements are sent without waiting (a full send buffer
    // drops one, and the next goes out on the schedule).
    // SAFETY: `Socket` owns its descriptor, open until the AsyncFd (which owns the Socket)
    // is dropped, and `as_raw_fd` always returns that one.
    let fd = unsafe {
        AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE)
            .map_err(|e| e.into_parts().1)?
    };
    Ok(fd)
}

/// RFC 3542 §3.2: pass only `types`. Linux's filter has a bit per type, set = blocked.
fn set_icmp6_filter(socket: &Socket, types: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let filter = icmp6_filter(types);
    // SAFETY: `filter` is a live 32-octet struct icmp6_filter and the length is its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMP6_FILTER,
            filter.as_ptr().cast(),
            std::mem::size_of_val(&filter) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The `struct icmp6_filter` bits that pass `types` and block every other type.
fn icmp6_filter(types: &[u8]) -> [u32; 8] {
    let mut filter = [u32::MAX; 8];
    for &t in types {
        filter[usize::from(t >> 5)] &= !(1u32 << (t & 31));
    }
    filter
}

/// One unsolicited advertisement to all nodes on the link (RFC 4861 §6.2.4); the kernel picks
/// the interface's link-local address as source and computes the checksum.
fn send_advert(socket: &AsyncFd<Socket>, ifname: &str) -> io::Result<()> {
    let scope = crate::link::interface_index(ifname).unwrap_or(0);
    let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, scope));
    socket
        .get_ref()
        .send_to(&RouterAdvert::BGPD.encode(), &to)?;
    Ok(())
}

/// The next message: its bytes, the hop limit it arrived with and its source.
async fn recv(socket: Option<&AsyncFd<Socket>>) -> io::Result<(Vec<u8>, u8, Ipv6Addr)> {
    let Some(socket) = socket else {
        return std::future::pending().await;
    };
    loop {
        let mut guard = socket.readable().await?;
        match guard.try_io(|s| recv_one(s.get_ref())) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

fn recv_one(socket: &Socket) -> io::Result<(Vec<u8>, u8, Ipv6Addr)> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    let mut control = [MaybeUninit::<u8>::uninit(); 128];
    let mut from = SockAddr::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
    let (n, control_len) = {
        let mut bufs = [MaybeUninitSlice::new(&mut buf)];
        let mut msg = MsgHdrMut::new()
            .with_addr(&mut from)
            .with_buffers(&mut bufs)
            .with_control(&mut control);
        let n = socket.recvmsg(&mut msg, 0)?;
        (n, msg.control_len())
    };
    // SAFETY: recvmsg initialised the first `n` octets of `buf` and the first `control_len`
    // of `control` (both bounded by the buffers' lengths by the kernel).
    let (msg, control) = unsafe {
        (
            std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n.min(buf.len())),
            std::slice::from_raw_parts(
                control.as_ptr().cast::<u8>(),
                control_len.min(control.len()),
            ),
        )
    };
    let source = from
        .as_socket_ipv6()
        .map_or(Ipv6Addr::UNSPECIFIED, |a| *a.ip());
    // Without the ancillary hop limit the message cannot be proven on-link: 0 fails §6.1.
    let hop_limit = hop_limit(control).unwrap_or(0);
    Ok((msg.to_vec(), hop_limit, source))
}

/// The IPV6_HOPLIMIT ancillary value (RFC 3542 §6.3) in a control buffer, read without
/// trusting any length in it.
fn hop_limit(control: &[u8]) -> Option<u8> {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let align = std::mem::size_of::<usize>();
    let aligned = |n: usize| n.checked_add(align - 1).map(|n| n & !(align - 1));
    let mut rest = control;
    while rest.len() >= header {
        let len = usize::from_ne_bytes(rest.get(..align)?.try_into().ok()?);
        let level = i32::from_ne_bytes(rest.get(align..align + 4)?.try_into().ok()?);
        let kind = i32::from_ne_bytes(rest.get(align + 4..align + 8)?.try_into().ok()?);
        if len < header {
            return None;
        }
        if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT {
            let data = aligned(header)?;
            let value = i32::from_ne_bytes(rest.get(data..data + 4)?.try_into().ok()?);
            return u8::try_from(value).ok();
        }
        rest = rest.get(aligned(len)?..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisements_start_fast_then_follow_the_interval() {
        for sent in 0..RA_INITIAL_COUNT {
            assert_eq!(next_advert_in(sent, 0.5), RA_INITIAL_INTERVAL);
        }
        let low = next_advert_in(RA_INITIAL_COUNT, 0.0);
        let high = next_advert_in(RA_INITIAL_COUNT + 5, 1.0);
        assert_eq!(low, Duration::from_millis(7500));
        assert_eq!(high, RA_INTERVAL);
        // RFC 4861 §6.2.1: MinRtrAdvInterval is at least 3 s.
        assert!(next_advert_in(9, -3.0) >= Duration::from_secs(3));
    }

    fn neighbor_view() -> (watch::Sender<LinkView>, LinkNeighbor) {
        let (tx, view) = watch::channel(LinkView::default());
        let link = LinkNeighbor {
            ifname: "eth9".into(),
            view,
            counters: Arc::default(),
            reported: None,
        };
        (tx, link)
    }

    #[test]
    fn waiting_names_the_interface_and_the_socket_error() {
        let (tx, link) = neighbor_view();
        let why = link.waiting().expect("nothing learned").to_string();
        assert!(
            why.starts_with("waiting for a router advertisement on eth9"),
            "{why}"
        );
        tx.send_modify(|v| v.socket_error = Some("Operation not permitted".into()));
        let why = link.waiting().expect("nothing learned").to_string();
        assert!(
            why.ends_with("cannot use ICMPv6 there: Operation not permitted"),
            "{why}"
        );
        tx.send_modify(|v| v.neighbor = Some("fe80::1".parse().unwrap()));
        assert!(link.waiting().is_none());
        // No such interface here: scope 0, the address and port as learned.
        assert_eq!(link.current(179), Some("[fe80::1]:179".parse().unwrap()));
    }

    #[tokio::test]
    async fn connect_waits_for_the_neighbor_and_moves_with_it() {
        let (tx, mut link) = neighbor_view();
        let pending = tokio::spawn(link.clone().resolve(179));
        tokio::task::yield_now().await;
        assert!(!pending.is_finished(), "no neighbor yet");
        // A socket error alone is no neighbor change.
        tx.send_modify(|v| v.socket_error = Some("x".into()));
        let first: Ipv6Addr = "fe80::1".parse().unwrap();
        tx.send_modify(|v| v.neighbor = Some(first));
        let resolved = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .expect("resolves once learned")
            .expect("join");
        assert_eq!(resolved.ip(), std::net::IpAddr::V6(first));
        // `changed` reports the learned address (set while nobody polled it), then only
        // real changes.
        assert_eq!(link.changed().await, first);
        let second: Ipv6Addr = "fe80::2".parse().unwrap();
        let waiter = tokio::spawn(async move { link.changed().await });
        tx.send_modify(|v| v.socket_error = None);
        tx.send_modify(|v| v.neighbor = Some(second));
        let moved = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("reports the move")
            .expect("join");
        assert_eq!(moved, second);
    }

    fn cmsg(level: i32, kind: i32, value: i32) -> Vec<u8> {
        let mut b = Vec::new();
        let header = std::mem::size_of::<libc::cmsghdr>();
        b.extend_from_slice(&(header + 4).to_ne_bytes());
        b.extend_from_slice(&level.to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.resize(header, 0);
        b.extend_from_slice(&value.to_ne_bytes());
        b.resize(header + 8, 0);
        b
    }

    #[test]
    fn hop_limit_is_found_among_control_messages_and_never_overruns() {
        let mut control = cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, 7);
        control.extend(cmsg(libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, 255));
        assert_eq!(hop_limit(&control), Some(255));
        assert_eq!(
            hop_limit(&cmsg(libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, 64)),
            Some(64)
        );
        assert_eq!(hop_limit(&[]), None);
        for cut in 0..control.len() {
            let _ = hop_limit(&control[..cut]);
        }
        let mut bad = cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, 0);
        bad[..8].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(hop_limit(&bad), None);
    }

    #[test]
    fn filter_passes_only_solicitations_and_advertisements() {
        let filter = icmp6_filter(&[ra::ROUTER_SOLICITATION, ra::ROUTER_ADVERTISEMENT]);
        // Type 133 is bit 5 and 134 bit 6 of word 4 (133 = 4 * 32 + 5).
        assert_eq!(filter[4], !0b110_0000);
        let passes = |t: u8| filter[usize::from(t >> 5)] & (1 << (t & 31)) == 0;
        assert!(passes(133) && passes(134));
        assert!(!passes(135) && !passes(128) && !passes(1) && !passes(255));
    }
}
