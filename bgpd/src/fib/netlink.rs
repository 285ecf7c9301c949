//! The rtnetlink socket of the FIB: one request at a time, its acknowledgement or its replies.
//!
//! Route messages come from netlink-packet-route; next-hop messages from [`super::wire`]. The
//! kernel's own error text (extended acknowledgement, `NLMSGERR_ATTR_MSG`) is kept with the
//! errno, so a refusal reads as the kernel wrote it ("Nexthop has invalid gateway").

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable, NlasIterator, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::wire::{self, NexthopMessage};

/// How long one request may wait for the kernel's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// `NLMSGERR_ATTR_MSG` (include/uapi/linux/netlink.h).
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Length of `struct nlmsghdr`.
const NLMSGHDR_LEN: usize = 16;

/// A failed netlink exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetlinkError {
    /// The kernel refused: errno and its extended-ack text when it gave one.
    #[error("{}{}", errno_text(*errno), message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kernel {
        /// The positive errno.
        errno: i32,
        /// The extended-ack text (`NLMSGERR_ATTR_MSG`), when given.
        message: Option<String>,
    },
    /// The socket failed (or the kernel did not answer within 5 s).
    #[error("netlink socket: {0}")]
    Io(String),
    /// A reply that does not parse.
    #[error("malformed netlink reply: {0}")]
    Decode(String),
}

impl NetlinkError {
    /// The errno of a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

fn errno_text(errno: i32) -> String {
    let name = match errno {
        libc::EEXIST => "EEXIST",
        libc::ENOENT => "ENOENT",
        libc::EINVAL => "EINVAL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENOSPC => "ENOSPC",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPERM => "EPERM",
        libc::ENODEV => "ENODEV",
        libc::EBUSY => "EBUSY",
        _ => "errno",
    };
    format!(
        "{name} {errno} ({})",
        io::Error::from_raw_os_error(errno)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or_default()
    )
}

impl From<io::Error> for NetlinkError {
    fn from(e: io::Error) -> Self {
        NetlinkError::Io(e.to_string())
    }
}

/// A message of the route family: netlink-packet-route's, or a next-hop one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtnlMessage {
    /// A route, link or address message, as netlink-packet-route decodes it.
    Route(RouteNetlinkMessage),
    /// Message type (`RTM_*NEXTHOP*`) and body.
    Nexthop(u16, NexthopMessage),
}

impl NetlinkSerializable for RtnlMessage {
    fn message_type(&self) -> u16 {
        match self {
            RtnlMessage::Route(m) => m.message_type(),
            RtnlMessage::Nexthop(t, _) => *t,
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            RtnlMessage::Route(m) => m.buffer_len(),
            RtnlMessage::Nexthop(_, m) => m.encoded_len(),
        }
    }

    fn serialize(&self, buffer: &mut [u8]) {
        match self {
            RtnlMessage::Route(m) => m.serialize(buffer),
            RtnlMessage::Nexthop(_, m) => {
                let mut v = Vec::with_capacity(buffer.len());
                m.emit(&mut v);
                // `buffer` is exactly `encoded_len()` long (NetlinkSerializable contract).
                let n = v.len().min(buffer.len());
                buffer[..n].copy_from_slice(&v[..n]);
            }
        }
    }
}

impl NetlinkDeserializable for RtnlMessage {
    type Error = NetlinkError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        match header.message_type {
            wire::RTM_NEWNEXTHOP
            | wire::RTM_DELNEXTHOP
            | wire::RTM_GETNEXTHOP
            | wire::RTM_NEWNEXTHOPBUCKET
            | wire::RTM_GETNEXTHOPBUCKET => NexthopMessage::parse(payload)
                .map(|m| RtnlMessage::Nexthop(header.message_type, m))
                .map_err(|e| NetlinkError::Decode(e.to_string())),
            _ => RouteNetlinkMessage::deserialize(header, payload)
                .map(RtnlMessage::Route)
                .map_err(|e| NetlinkError::Decode(e.to_string())),
        }
    }
}

/// A blocking rtnetlink socket in the network namespace of the thread that opened it.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens and binds the socket, with extended acknowledgements and a reply timeout.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket.set_ext_ack(true)?;
        socket.set_cap_ack(true)?;
        socket2::SockRef::from(&socket).set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends a request with `NLM_F_ACK` and waits for its acknowledgement.
    pub fn request(&mut self, msg: RtnlMessage, flags: u16) -> Result<(), NetlinkError> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        loop {
            for m in self.recv(seq)? {
                if let NetlinkPayload::Error(e) = m.payload {
                    return match e.code {
                        None => Ok(()),
                        Some(code) => Err(kernel_error(code.get(), &e.header)),
                    };
                }
            }
        }
    }

    /// Sends a request without `NLM_F_ACK` and returns its one reply (a route lookup).
    pub fn get(&mut self, msg: RtnlMessage) -> Result<RtnlMessage, NetlinkError> {
        let seq = self.send(msg, NLM_F_REQUEST)?;
        loop {
            for m in self.recv(seq)? {
                match m.payload {
                    NetlinkPayload::InnerMessage(m) => return Ok(m),
                    NetlinkPayload::Error(e) => {
                        return Err(match e.code {
                            Some(code) => kernel_error(code.get(), &e.header),
                            None => NetlinkError::Decode("an ACK instead of a reply".into()),
                        })
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a dump request and collects every reply until `NLMSG_DONE`.
    pub fn dump(&mut self, msg: RtnlMessage) -> Result<Vec<RtnlMessage>, NetlinkError> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        loop {
            for m in self.recv(seq)? {
                match m.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(code) => Err(kernel_error(code.get(), &e.header)),
                            None => Ok(out),
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn send(&mut self, msg: RtnlMessage, flags: u16) -> Result<u32, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        Ok(self.seq)
    }

    /// One datagram's messages that answer `seq` (others are stale and dropped).
    fn recv(&mut self, seq: u32) -> Result<Vec<NetlinkMessage<RtnlMessage>>, NetlinkError> {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let n = self
            .socket
            .recv(&mut buf, libc::MSG_PEEK | libc::MSG_TRUNC)?;
        buf = Vec::with_capacity(n.max(1));
        self.socket.recv(&mut buf, 0)?;
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let rest = &buf[at..];
            let nb = NetlinkBuffer::new_checked(rest)
                .map_err(|e| NetlinkError::Decode(e.to_string()))?;
            let len = nb.length() as usize;
            if len < NLMSGHDR_LEN {
                return Err(NetlinkError::Decode(format!("message length {len}")));
            }
            let one = rest.get(..len).unwrap_or(rest);
            let m = NetlinkMessage::<RtnlMessage>::deserialize(one)
                .map_err(|e| NetlinkError::Decode(e.to_string()))?;
            if m.header.sequence_number == seq {
                out.push(m);
            }
            at += (len + 3) & !3;
        }
        Ok(out)
    }
}

/// An `NLMSG_ERROR` with its extended-ack message, when the kernel sent one. `rest` is what
/// follows the error code: the request's header (the socket asks for capped acks) and the
/// attributes.
fn kernel_error(code: i32, rest: &[u8]) -> NetlinkError {
    let errno = -code;
    let mut message = None;
    if let Some(tlvs) = rest.get(NLMSGHDR_LEN..) {
        for nla in NlasIterator::new(tlvs).flatten() {
            if nla.kind() == NLMSGERR_ATTR_MSG {
                let v = nla.value();
                let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
                message = Some(String::from_utf8_lossy(&v[..end]).into_owned());
            }
        }
    }
    NetlinkError::Kernel { errno, message }
}

/// A route of ours, as sent: table and protocol from the settings, `nh` for additions.
pub fn route_message(prefix: IpNet, table: u32, protocol: u8, nh: Option<u32>) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_of(prefix.addr());
    m.header.destination_prefix_length = prefix.prefix_len();
    m.header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.header.protocol = RouteProtocol::from(protocol);
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(
            prefix.network(),
        )));
    m.attributes.push(RouteAttribute::Table(table));
    if let Some(id) = nh {
        m.attributes.push(RouteAttribute::NhId(id));
    }
    m
}

/// A route lookup for one address (`ip route get`).
pub fn lookup_message(addr: IpAddr) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_of(addr);
    m.header.destination_prefix_length = if addr.is_ipv4() { 32 } else { 128 };
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(addr)));
    m
}

/// A route dump request for one family.
pub fn route_dump_message(v6: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m
}

fn family_of(a: IpAddr) -> AddressFamily {
    if a.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// The table of a route message: `RTA_TABLE` when present, else the header's.
pub fn route_table(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table))
}

/// The destination prefix of a route message.
pub fn route_prefix(m: &RouteMessage) -> Option<IpNet> {
    let len = m.header.destination_prefix_length;
    let addr = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    });
    match addr {
        Some(a) => IpNet::new(a, len).ok(),
        // The default route has no RTA_DST.
        None => match m.header.address_family {
            AddressFamily::Inet => IpNet::new(IpAddr::V4(0.into()), len).ok(),
            AddressFamily::Inet6 => IpNet::new(IpAddr::V6(0u128.into()), len).ok(),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_ack_text_is_kept_with_the_errno() {
        // nlmsgerr after the code: the request's nlmsghdr (capped), then NLMSGERR_ATTR_MSG.
        let mut rest = vec![0u8; NLMSGHDR_LEN];
        let text = b"Nexthop has invalid gateway\0";
        let len = (4 + text.len()) as u16;
        rest.extend_from_slice(&len.to_ne_bytes());
        rest.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        rest.extend_from_slice(text);
        let e = kernel_error(-libc::EINVAL, &rest);
        assert_eq!(
            e,
            NetlinkError::Kernel {
                errno: libc::EINVAL,
                message: Some("Nexthop has invalid gateway".into())
            }
        );
        assert_eq!(
            e.to_string(),
            "EINVAL 22 (Invalid argument): Nexthop has invalid gateway"
        );
        // A short or garbled rest gives the errno alone.
        assert_eq!(
            kernel_error(-libc::EEXIST, &[1, 2, 3]),
            NetlinkError::Kernel {
                errno: libc::EEXIST,
                message: None
            }
        );
    }

    #[test]
    fn route_message_carries_table_protocol_and_group() {
        let m = route_message("192.0.2.0/24".parse().unwrap(), 1000, 179, Some(42));
        assert_eq!(route_table(&m), 1000);
        assert_eq!(m.header.table, 0);
        assert_eq!(u8::from(m.header.protocol), 179);
        assert_eq!(route_prefix(&m), Some("192.0.2.0/24".parse().unwrap()));
        assert!(m.attributes.contains(&RouteAttribute::NhId(42)));
    }
}
