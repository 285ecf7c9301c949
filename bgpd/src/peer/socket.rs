//! The peer task's sockets: one connection's framed reader and queued writer, and the futures
//! the task's `select!` waits on. No protocol decisions here (those are the `Neighbor`'s).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Instant;

use bgp_fsm::{ConnId, Event, SendQueue};
use bgp_proto::codec::BgpCodec;
use bgp_proto::HeaderError;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::CLOSE_FLUSH_TIMEOUT;
use crate::config::{Peer, Ttl};
use crate::locrib::RibHandle;

/// Returns once the Loc-RIB has room for more received routes (never without a Loc-RIB).
pub(super) async fn rib_room_again(rib: Option<&RibHandle>) {
    match rib {
        Some(rib) => rib.room().await,
        None => std::future::pending().await,
    }
}

pub(super) type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// One TCP connection, named as the [`Neighbor`] names it: the framed reader (dropped after
/// a header error) and the writer with its queue.
pub(super) struct Conn {
    pub(super) id: ConnId,
    pub(super) reader: Option<FramedRead<OwnedReadHalf, BgpCodec>>,
    pub(super) writer: Option<Writer>,
    pub(super) local: Option<SocketAddr>,
    pub(super) remote: Option<SocketAddr>,
}

pub(super) struct Writer {
    pub(super) half: OwnedWriteHalf,
    /// The queue and its RFC 9687 state: every write below reports through it.
    pub(super) queue: SendQueue,
}

impl Conn {
    pub(super) fn new(stream: TcpStream, id: ConnId) -> Conn {
        let local = stream.local_addr().ok();
        let remote = stream.peer_addr().ok();
        let (read, write) = stream.into_split();
        Conn {
            id,
            reader: Some(FramedRead::new(read, BgpCodec::new())),
            writer: Some(Writer {
                half: write,
                queue: SendQueue::new(),
            }),
            local,
            remote,
        }
    }
}

/// Writes the queued bytes (bounded in time), then shuts the connection down.
pub(super) async fn close_conn(mut conn: Conn) {
    conn.reader = None;
    if let Some(mut w) = conn.writer.take() {
        let flush = async {
            while let Some(front) = w.queue.pop_front() {
                w.half.write_all(&front).await?;
            }
            w.half.shutdown().await
        };
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, flush).await;
    }
}

pub(super) type Reader = FramedRead<OwnedReadHalf, BgpCodec>;

pub(super) fn split_conn(conn: Option<&mut Conn>) -> (Option<&mut Reader>, Option<&mut Writer>) {
    match conn {
        Some(c) => (c.reader.as_mut(), c.writer.as_mut()),
        None => (None, None),
    }
}

pub(super) async fn read_frame(
    reader: Option<&mut Reader>,
) -> Option<Result<Result<Bytes, HeaderError>, io::Error>> {
    match reader {
        Some(reader) => reader.next().await,
        None => std::future::pending().await,
    }
}

/// Writes from the front of the queue once; returns the RFC 9687 events for the session
/// (`SendProgress` when it was told `SendBlocked`; `SendBlocked` after a short write, the
/// socket being full). Cancel-safe: `write` either wrote (and the queue is updated) or did
/// nothing.
pub(super) async fn write_some(writer: Option<&mut Writer>) -> io::Result<Vec<Event>> {
    let Some(w) = writer else {
        return std::future::pending().await;
    };
    let Some(front) = w.queue.front() else {
        return Ok(Vec::new());
    };
    let len = front.len();
    let n = w.half.write(front).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "connection closed while writing",
        ));
    }
    let mut events: Vec<Event> = w.queue.wrote(n).into_iter().collect();
    if n < len {
        events.extend(w.queue.stalled());
    }
    Ok(events)
}

pub(super) async fn poll_connect(connecting: &mut Option<ConnectFuture>) -> io::Result<TcpStream> {
    match connecting.as_mut() {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A hint for the connect errors operators trip over.
pub(super) fn connect_hint(e: &io::Error, peer: &Peer) -> Option<&'static str> {
    let link_local = matches!(peer.address, IpAddr::V6(a) if a.is_unicast_link_local());
    match e.raw_os_error() {
        Some(libc::EINVAL) if link_local => {
            Some("a link-local peer address needs the interface it is reached on")
        }
        Some(libc::ECONNREFUSED) => {
            Some("nothing accepts BGP on the peer's port: is the peer configured there?")
        }
        Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) => {
            Some("no route to the peer from this host")
        }
        _ if e.kind() == io::ErrorKind::TimedOut && peer.password.is_some() => Some(
            "no answer: with a TCP MD5 password, a key mismatch is dropped silently by the peer",
        ),
        _ if e.kind() == io::ErrorKind::TimedOut && matches!(peer.ttl, Ttl::Security) => {
            Some("no answer: with ttl_security the peer must send with TTL 255 too (GTSM)")
        }
        _ => None,
    }
}
