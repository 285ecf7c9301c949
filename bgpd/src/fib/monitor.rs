//! Link and address events from the kernel (rtnetlink multicast groups `RTMGRP_LINK`,
//! `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV6_IFADDR`): the FIB thread re-checks its next hops on
//! each burst of them.
//!
//! The messages are not parsed: any of them only says "look again", and the look itself
//! (route lookup + link state, [`super::Fib::next_hop_usable`]) is the one owner of whether a
//! next hop is usable. Route events are not followed: our own route changes would wake us.

use std::io;
use std::thread;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `RTMGRP_LINK` (include/uapi/linux/rtnetlink.h).
const RTMGRP_LINK: u32 = 0x1;
/// `RTMGRP_IPV4_IFADDR`.
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
/// `RTMGRP_IPV6_IFADDR`.
const RTMGRP_IPV6_IFADDR: u32 = 0x100;

/// Opens the event socket in the current network namespace and starts a thread that calls
/// `on_event` once per datagram of events (or of lost events: `ENOBUFS` after an overflow
/// also means "look again"). The thread ends when `on_event` returns false.
pub fn spawn(mut on_event: impl FnMut() -> bool + Send + 'static) -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind(&SocketAddr::new(
        0,
        RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
    ))?;
    thread::Builder::new()
        .name("fib-links".into())
        .spawn(move || {
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            loop {
                buf.clear();
                match socket.recv(&mut buf, 0) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::error!(
                            "fib: link events socket failed, next-hop reachability is no \
                             longer followed: {e}"
                        );
                        return;
                    }
                }
                if !on_event() {
                    return;
                }
            }
        })?;
    Ok(())
}
