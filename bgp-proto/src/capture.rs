//! Reading BGP messages out of capture files: MRT dumps (RFC 6396) and packet captures
//! (pcap, pcapng). Pure byte parsing over `&[u8]`: the caller reads and decompresses files.
//!
//! Used by `bgpd decode --mrt/--pcap`, by the corpus tests and by the benches.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;

use crate::error::HeaderError;
use crate::header::{frame_len, HEADER_LEN, MARKER};
use crate::reader::Reader;
use crate::session::MAX_EXTENDED_MESSAGE_LEN;

/// A capture file that cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file does not start with a pcap or pcapng magic number.
    #[error("not a pcap or pcapng file")]
    UnknownFormat,
    /// A record or block runs past the end of the data, at this file offset.
    #[error("truncated record at offset {0}")]
    Truncated(usize),
    /// A record is internally inconsistent (e.g. an MRT BGP4MP record too short for its
    /// fixed fields), at this file offset.
    #[error("malformed record at offset {0}: {1}")]
    Malformed(usize, &'static str),
}

// ---------------------------------------------------------------------------------------
// MRT
// ---------------------------------------------------------------------------------------

/// MRT type BGP4MP (RFC 6396 §4.4).
pub const MRT_BGP4MP: u16 = 16;
/// MRT type BGP4MP_ET, with a microsecond timestamp (RFC 6396 §3).
pub const MRT_BGP4MP_ET: u16 = 17;

/// One BGP message from an MRT BGP4MP record (RFC 6396 §4.4.2-§4.4.3, RFC 8050 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrtRecord<'a> {
    /// Seconds since the Unix epoch (MRT common header).
    pub timestamp: u32,
    /// Microseconds, for BGP4MP_ET records.
    pub microseconds: Option<u32>,
    /// The peer's AS.
    pub peer_asn: u32,
    /// The collector's AS.
    pub local_asn: u32,
    /// The peer's address.
    pub peer_ip: IpAddr,
    /// The collector's address.
    pub local_ip: IpAddr,
    /// The record is an `*_AS4*` subtype: AS numbers in the message are 4 octets.
    pub as4: bool,
    /// The record is an `*_ADDPATH` subtype (RFC 8050): NLRI carry path identifiers.
    pub add_path: bool,
    /// The record is a `*_LOCAL` subtype: a message the collector sent.
    pub local: bool,
    /// The BGP message, header included.
    pub message: &'a [u8],
}

/// Iterates over the BGP4MP message records of an MRT dump, skipping every other record
/// type (state changes, TABLE_DUMP, ...). After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct MrtReader<'a> {
    data: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> MrtReader<'a> {
    /// A reader over a whole (uncompressed) MRT dump.
    pub fn new(data: &'a [u8]) -> MrtReader<'a> {
        MrtReader {
            data,
            offset: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for MrtReader<'a> {
    type Item = Result<MrtRecord<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            let rest = self.data.get(self.offset..)?;
            if rest.is_empty() {
                return None;
            }
            let start = self.offset;
            let mut r = Reader::new(rest);
            let (Some(timestamp), Some(kind), Some(subtype), Some(len)) =
                (r.u32(), r.u16(), r.u16(), r.u32())
            else {
                self.failed = true;
                return Some(Err(CaptureError::Truncated(start)));
            };
            let Some(body) = usize::try_from(len).ok().and_then(|len| r.take(len)) else {
                self.failed = true;
                return Some(Err(CaptureError::Truncated(start)));
            };
            self.offset = start.saturating_add(12).saturating_add(body.len());
            if kind != MRT_BGP4MP && kind != MRT_BGP4MP_ET {
                continue;
            }
            let (as4, local, add_path) = match subtype {
                1 => (false, false, false), // BGP4MP_MESSAGE
                4 => (true, false, false),  // BGP4MP_MESSAGE_AS4
                6 => (false, true, false),  // BGP4MP_MESSAGE_LOCAL
                7 => (true, true, false),   // BGP4MP_MESSAGE_AS4_LOCAL
                8 => (false, false, true),  // BGP4MP_MESSAGE_ADDPATH (RFC 8050)
                9 => (true, false, true),   // BGP4MP_MESSAGE_AS4_ADDPATH
                10 => (false, true, true),  // BGP4MP_MESSAGE_LOCAL_ADDPATH
                11 => (true, true, true),   // BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH
                _ => continue,              // state changes and unknown subtypes
            };
            let mut b = Reader::new(body);
            let microseconds = if kind == MRT_BGP4MP_ET { b.u32() } else { None };
            let asns = if as4 {
                b.u32().zip(b.u32())
            } else {
                b.u16()
                    .zip(b.u16())
                    .map(|(p, l)| (u32::from(p), u32::from(l)))
            };
            let (Some((peer_asn, local_asn)), Some(_ifindex), Some(afi)) = (asns, b.u16(), b.u16())
            else {
                self.failed = true;
                return Some(Err(CaptureError::Malformed(
                    start,
                    "BGP4MP record too short",
                )));
            };
            let ips = match afi {
                1 => b
                    .array::<4>()
                    .zip(b.array::<4>())
                    .map(|(p, l)| (IpAddr::from(p), IpAddr::from(l))),
                2 => b
                    .array::<16>()
                    .zip(b.array::<16>())
                    .map(|(p, l)| (IpAddr::from(p), IpAddr::from(l))),
                _ => {
                    self.failed = true;
                    return Some(Err(CaptureError::Malformed(start, "BGP4MP address family")));
                }
            };
            let Some((peer_ip, local_ip)) = ips else {
                self.failed = true;
                return Some(Err(CaptureError::Malformed(
                    start,
                    "BGP4MP record too short",
                )));
            };
            return Some(Ok(MrtRecord {
                timestamp,
                microseconds,
                peer_asn,
                local_asn,
                peer_ip,
                local_ip,
                as4,
                add_path,
                local,
                message: b.rest(),
            }));
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// pcap / pcapng
// ---------------------------------------------------------------------------------------

/// TCP ports treated as BGP: 179 (RFC 4271 §8.2.1) and 1179 (seen in test captures).
pub const BGP_PORTS: [u16; 2] = [179, 1179];

/// The BGP messages sent in one direction of one TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpFlow {
    /// The sender.
    pub src: SocketAddr,
    /// The receiver.
    pub dst: SocketAddr,
    /// Whole messages (header included) in stream order, split with [`frame_len`] with a
    /// 65535-octet maximum.
    pub messages: Vec<Bytes>,
    /// A header error that stopped framing (the rest of that contiguous run is dropped).
    pub header_error: Option<HeaderError>,
    /// Octets not delivered as messages: a message cut by the end of the capture or by a
    /// gap in the sequence space, or data before the first marker after a gap.
    pub leftover: usize,
    /// Number of holes in the sequence space (lost segments).
    pub gaps: usize,
}

/// Reads a classic pcap or a pcapng capture and returns, for each direction of each TCP
/// connection on port 179 or 1179, the BGP messages in stream order.
///
/// Link types: Ethernet (1, with 802.1Q tags), BSD null/loopback (0, 108), Linux SLL (113),
/// Linux SLL2 (276), Cisco HDLC (104), raw IP (12, 14, 101, 228, 229). Each direction is
/// reassembled by TCP sequence number; retransmitted and overlapping data is used once.
/// IP fragments are skipped. Flows are returned in order of their first packet.
pub fn read_pcap(data: &[u8]) -> Result<Vec<TcpFlow>, CaptureError> {
    let mut flows = Flows::default();
    let magic = data.first_chunk::<4>().ok_or(CaptureError::UnknownFormat)?;
    match *magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(data, &mut flows)?,
        _ => read_classic(data, &mut flows)?,
    }
    Ok(flows.finish())
}

fn read_classic(data: &[u8], flows: &mut Flows) -> Result<(), CaptureError> {
    let mut r = Reader::new(data);
    let magic = r.array::<4>().ok_or(CaptureError::UnknownFormat)?;
    let big = match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        _ => return Err(CaptureError::UnknownFormat),
    };
    let u32_at = |b: [u8; 4]| {
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let _versions_zone_sigfigs_snaplen = r.take(16).ok_or(CaptureError::Truncated(0))?;
    let linktype = r
        .array::<4>()
        .map(u32_at)
        .ok_or(CaptureError::Truncated(0))?;
    while !r.is_empty() {
        let offset = data.len().saturating_sub(r.len());
        let hdr = r.take(16).ok_or(CaptureError::Truncated(offset))?;
        let incl = hdr
            .get(8..12)
            .and_then(|s| s.first_chunk::<4>())
            .map(|b| u32_at(*b))
            .ok_or(CaptureError::Truncated(offset))?;
        let frame = usize::try_from(incl)
            .ok()
            .and_then(|n| r.take(n))
            .ok_or(CaptureError::Truncated(offset))?;
        flows.packet(linktype, frame);
    }
    Ok(())
}

fn read_pcapng(data: &[u8], flows: &mut Flows) -> Result<(), CaptureError> {
    let mut offset = 0usize;
    let mut big = false;
    let mut linktypes: Vec<u32> = Vec::new();
    while offset < data.len() {
        let rest = data.get(offset..).unwrap_or_default();
        let mut r = Reader::new(rest);
        let kind_raw = r.array::<4>().ok_or(CaptureError::Truncated(offset))?;
        let len_raw = r.array::<4>().ok_or(CaptureError::Truncated(offset))?;
        if kind_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
            // Section Header Block: the byte-order magic decides the endianness.
            big = match r.array::<4>() {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => return Err(CaptureError::Malformed(offset, "pcapng byte-order magic")),
            };
            linktypes.clear();
        }
        let u32_of = |b: [u8; 4]| {
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let u16_of = |b: [u8; 2]| {
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let kind = u32_of(kind_raw);
        let len = usize::try_from(u32_of(len_raw)).unwrap_or(usize::MAX);
        if len < 12 || len % 4 != 0 {
            return Err(CaptureError::Malformed(offset, "pcapng block length"));
        }
        let block = rest.get(..len).ok_or(CaptureError::Truncated(offset))?;
        // Body: between the 8-octet head and the 4-octet trailing length.
        let body = block.get(8..len.saturating_sub(4)).unwrap_or_default();
        let mut b = Reader::new(body);
        match kind {
            // Interface Description Block.
            1 => {
                let lt = b.array::<2>().map(u16_of).unwrap_or(0);
                linktypes.push(u32::from(lt));
            }
            // Enhanced Packet Block.
            6 => {
                let iface = b.array::<4>().map(u32_of);
                let _ts = b.take(8);
                let caplen = b.array::<4>().map(u32_of);
                let _origlen = b.take(4);
                let lt = iface
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| linktypes.get(i).copied());
                let frame = caplen
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| b.take(n));
                if let (Some(lt), Some(frame)) = (lt, frame) {
                    flows.packet(lt, frame);
                }
            }
            // Simple Packet Block: one interface, data fills the body after orig len.
            3 => {
                let _origlen = b.take(4);
                if let Some(lt) = linktypes.first() {
                    flows.packet(*lt, b.rest());
                }
            }
            // Obsolete Packet Block.
            2 => {
                let iface = b.array::<2>().map(u16_of);
                let _drops = b.take(2);
                let _ts = b.take(8);
                let caplen = b.array::<4>().map(u32_of);
                let _origlen = b.take(4);
                let lt = iface.and_then(|i| linktypes.get(usize::from(i)).copied());
                let frame = caplen
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| b.take(n));
                if let (Some(lt), Some(frame)) = (lt, frame) {
                    flows.packet(lt, frame);
                }
            }
            _ => {}
        }
        offset = offset.saturating_add(len);
    }
    Ok(())
}

type FlowKey = (SocketAddr, SocketAddr);

/// One direction of one TCP connection, as captured.
#[derive(Debug, Default)]
struct Connection {
    /// Sequence number of the first data octet (ISN + 1), if the SYN was captured.
    syn_next: Option<u32>,
    /// (sequence number, payload) in capture order.
    segments: Vec<(u32, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Flows {
    order: Vec<FlowKey>,
    /// Connections per direction; a new SYN on a reused 4-tuple starts a new one.
    conns: HashMap<FlowKey, Vec<Connection>>,
}

impl Flows {
    fn packet(&mut self, linktype: u32, frame: &[u8]) {
        let Some((ethertype, ip)) = strip_link(linktype, frame) else {
            return;
        };
        let Some((src, dst, tcp)) = strip_ip(ethertype, ip) else {
            return;
        };
        let mut t = Reader::new(tcp);
        let (Some(sport), Some(dport), Some(seq), Some(_ack), Some(off), Some(flags)) =
            (t.u16(), t.u16(), t.u32(), t.u32(), t.u8(), t.u8())
        else {
            return;
        };
        if !BGP_PORTS.contains(&sport) && !BGP_PORTS.contains(&dport) {
            return;
        }
        let Some(payload) = tcp.get(usize::from(off >> 4).saturating_mul(4)..) else {
            return;
        };
        let key = (SocketAddr::new(src, sport), SocketAddr::new(dst, dport));
        let conns = self.conns.entry(key).or_insert_with(|| {
            self.order.push(key);
            Vec::new()
        });
        const SYN: u8 = 0x02;
        if flags & SYN != 0 {
            let next = seq.wrapping_add(1);
            match conns.last_mut() {
                Some(c) if c.segments.is_empty() => c.syn_next = Some(next),
                Some(c) if c.syn_next == Some(next) => {} // retransmitted SYN
                _ => conns.push(Connection {
                    syn_next: Some(next),
                    segments: Vec::new(),
                }),
            }
        }
        if payload.is_empty() {
            return;
        }
        if conns.is_empty() {
            conns.push(Connection::default());
        }
        if let Some(c) = conns.last_mut() {
            let seq = if flags & SYN != 0 {
                seq.wrapping_add(1)
            } else {
                seq
            };
            c.segments.push((seq, payload.to_vec()));
        }
    }

    fn finish(mut self) -> Vec<TcpFlow> {
        let mut out = Vec::new();
        for key in &self.order {
            for conn in self.conns.remove(key).unwrap_or_default() {
                if conn.segments.is_empty() {
                    continue;
                }
                out.push(reassemble(*key, conn));
            }
        }
        out
    }
}

/// Orders a direction's segments by sequence number (relative to the first data octet, so
/// wrap-around is harmless), drops what was already delivered, and frames each contiguous
/// run of octets.
fn reassemble((src, dst): FlowKey, conn: Connection) -> TcpFlow {
    let start = conn
        .syn_next
        .or_else(|| conn.segments.first().map(|(s, _)| *s))
        .unwrap_or(0);
    let mut segs: Vec<(u32, &[u8])> = conn
        .segments
        .iter()
        .map(|(seq, data)| (seq.wrapping_sub(start), data.as_slice()))
        // Data from before the first captured octet has a huge relative number: drop it.
        .filter(|(rel, _)| *rel < 0x8000_0000)
        .collect();
    segs.sort_by_key(|(rel, _)| *rel);
    let mut flow = TcpFlow {
        src,
        dst,
        messages: Vec::new(),
        header_error: None,
        leftover: 0,
        gaps: 0,
    };
    let mut run: Vec<u8> = Vec::new();
    let mut next = 0u64; // relative sequence number of the next octet expected
    let mut first_run = true;
    for (rel, data) in segs {
        let rel = u64::from(rel);
        let end = rel.saturating_add(data.len() as u64);
        if end <= next {
            continue; // retransmission of data already delivered
        }
        if rel > next {
            // A hole: the run so far is complete, the next one may start mid-message.
            flow.gaps = flow.gaps.saturating_add(1);
            frame_run(&run, !first_run, &mut flow);
            run.clear();
            first_run = false;
            run.extend_from_slice(data);
        } else {
            let skip = usize::try_from(next.saturating_sub(rel)).unwrap_or(usize::MAX);
            run.extend_from_slice(data.get(skip..).unwrap_or_default());
        }
        next = end;
    }
    frame_run(&run, !first_run, &mut flow);
    flow
}

/// Frames one contiguous run of stream octets. After a gap (`resync`), framing starts at
/// the first marker.
fn frame_run(run: &[u8], resync: bool, flow: &mut TcpFlow) {
    let mut pos = 0usize;
    if resync {
        pos = run
            .windows(HEADER_LEN)
            .position(|w| w.starts_with(&MARKER))
            .unwrap_or(run.len());
    }
    while let Some(rest) = run.get(pos..) {
        if rest.is_empty() {
            break;
        }
        match frame_len(rest, MAX_EXTENDED_MESSAGE_LEN) {
            Ok(Some(len)) => {
                flow.messages
                    .push(Bytes::copy_from_slice(rest.get(..len).unwrap_or_default()));
                pos = pos.saturating_add(len);
            }
            Ok(None) => break,
            Err(e) => {
                flow.header_error.get_or_insert(e);
                break;
            }
        }
    }
    flow.leftover = flow.leftover.saturating_add(run.len().saturating_sub(pos));
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Removes the link-layer header; returns the ethertype and the IP packet.
fn strip_link(linktype: u32, frame: &[u8]) -> Option<(u16, &[u8])> {
    let mut r = Reader::new(frame);
    match linktype {
        // DLT_NULL / DLT_LOOP: 4-octet address family, host (or network) byte order.
        0 | 108 => {
            let af = r.array::<4>()?;
            let fam = u32::from_le_bytes(af).min(u32::from_be_bytes(af));
            let et = match fam {
                2 => ETHERTYPE_IPV4,
                24 | 28 | 30 => ETHERTYPE_IPV6,
                _ => return None,
            };
            Some((et, r.rest()))
        }
        // Ethernet, with any number of 802.1Q / 802.1ad tags.
        1 => {
            r.take(12)?;
            let mut et = r.u16()?;
            while et == 0x8100 || et == 0x88a8 {
                r.take(2)?;
                et = r.u16()?;
            }
            Some((et, r.rest()))
        }
        // Cisco HDLC: address, control, protocol.
        104 => {
            r.take(2)?;
            let et = r.u16()?;
            Some((et, r.rest()))
        }
        // Linux cooked capture v1: 16 octets, protocol last.
        113 => {
            r.take(14)?;
            let et = r.u16()?;
            Some((et, r.rest()))
        }
        // Linux cooked capture v2: protocol first, 20 octets.
        276 => {
            let et = r.u16()?;
            r.take(18)?;
            Some((et, r.rest()))
        }
        // Raw IP: version nibble decides.
        12 | 14 | 101 => match frame.first()? >> 4 {
            4 => Some((ETHERTYPE_IPV4, frame)),
            6 => Some((ETHERTYPE_IPV6, frame)),
            _ => None,
        },
        228 => Some((ETHERTYPE_IPV4, frame)),
        229 => Some((ETHERTYPE_IPV6, frame)),
        _ => None,
    }
}

/// Removes the IP header; returns source, destination and the TCP segment. Fragments and
/// non-TCP packets give `None`.
fn strip_ip(ethertype: u16, ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let mut r = Reader::new(ip);
    match ethertype {
        ETHERTYPE_IPV4 => {
            let vihl = r.u8()?;
            let _tos = r.u8()?;
            let total = usize::from(r.u16()?);
            let _id = r.u16()?;
            let frag = r.u16()?;
            let _ttl = r.u8()?;
            let proto = r.u8()?;
            let _csum = r.u16()?;
            let src = Ipv4Addr::from(r.array::<4>()?);
            let dst = Ipv4Addr::from(r.array::<4>()?);
            if vihl >> 4 != 4 || proto != 6 || frag & 0x3fff != 0 {
                return None;
            }
            let ihl = usize::from(vihl & 0x0f).saturating_mul(4);
            // Total length 0 happens with TCP segmentation offload: use what was captured.
            let end = if total == 0 {
                ip.len()
            } else {
                total.min(ip.len())
            };
            let tcp = ip.get(ihl..end)?;
            Some((IpAddr::V4(src), IpAddr::V4(dst), tcp))
        }
        ETHERTYPE_IPV6 => {
            let _vtf = r.u32()?;
            let plen = usize::from(r.u16()?);
            let mut next = r.u8()?;
            let _hop = r.u8()?;
            let src = Ipv6Addr::from(r.array::<16>()?);
            let dst = Ipv6Addr::from(r.array::<16>()?);
            let payload = r.rest();
            let payload = if plen == 0 {
                payload
            } else {
                payload.get(..plen).unwrap_or(payload)
            };
            let mut p = Reader::new(payload);
            // Skip extension headers (hop-by-hop, routing, destination options); give up on
            // fragments and anything else.
            while matches!(next, 0 | 43 | 60) {
                let nh = p.u8()?;
                let len = usize::from(p.u8()?).saturating_add(1).saturating_mul(8);
                p.take(len.saturating_sub(2))?;
                next = nh;
            }
            if next != 6 {
                return None;
            }
            Some((IpAddr::V6(src), IpAddr::V6(dst), p.rest()))
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A classic little-endian pcap with raw IPv4 frames (linktype 101).
    fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&101u32.to_le_bytes());
        for f in frames {
            v.extend_from_slice(&[0; 8]);
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(f);
        }
        v
    }

    fn ipv4_tcp(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + 20 + payload.len()) as u16;
        let mut v = vec![0x45, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        v.extend_from_slice(&40000u16.to_be_bytes());
        v.extend_from_slice(&179u16.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn keepalive() -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&[0, 19, 4]);
        v
    }

    #[test]
    fn reassembles_out_of_order_and_retransmitted_segments() {
        let mut two = keepalive();
        two.extend_from_slice(&keepalive());
        let file = pcap(&[
            ipv4_tcp(999, 0x02, &[]),           // SYN
            ipv4_tcp(1010, 0x18, &two[10..]),   // second part first
            ipv4_tcp(1000, 0x18, &two[..10]),   // first part
            ipv4_tcp(1000, 0x18, &two[..20]),   // retransmission, overlapping
            ipv4_tcp(1038, 0x18, &keepalive()), // third message
        ]);
        let flows = read_pcap(&file).unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].messages.len(), 3);
        assert_eq!(flows[0].leftover, 0);
        assert_eq!(flows[0].gaps, 0);
        assert_eq!(flows[0].dst.port(), 179);
    }

    #[test]
    fn linux_sll_ipv6_and_bsd_null_ipv4() {
        // Linux cooked capture (113): 14 octets, then protocol 0x86dd.
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        // IPv6 header: version 6, payload length, next header 6 (TCP), hop limit.
        let tcp_len = 20 + 19;
        sll.extend_from_slice(&[0x60, 0, 0, 0]);
        sll.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        sll.extend_from_slice(&[6, 64]);
        let src: [u8; 16] = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets();
        let dst: [u8; 16] = "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets();
        sll.extend_from_slice(&src);
        sll.extend_from_slice(&dst);
        sll.extend_from_slice(&179u16.to_be_bytes());
        sll.extend_from_slice(&50000u16.to_be_bytes());
        sll.extend_from_slice(&7u32.to_be_bytes());
        sll.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        sll.extend_from_slice(&keepalive());
        let mut file = pcap(&[sll]);
        file[20..24].copy_from_slice(&113u32.to_le_bytes());
        let flows = read_pcap(&file).unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].src, "[2001:db8::1]:179".parse().unwrap());
        assert_eq!(flows[0].messages.len(), 1);

        // BSD loopback (0): address family 2 in host byte order, then IPv4.
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ipv4_tcp(1, 0x18, &keepalive()));
        let mut file = pcap(&[null]);
        file[20..24].copy_from_slice(&0u32.to_le_bytes());
        let flows = read_pcap(&file).unwrap();
        assert_eq!(flows[0].messages.len(), 1);
        assert_eq!(flows[0].src, "10.0.0.1:40000".parse().unwrap());
    }

    #[test]
    fn not_a_capture() {
        assert_eq!(
            read_pcap(b"hello world, not a pcap"),
            Err(CaptureError::UnknownFormat)
        );
        assert_eq!(read_pcap(&[]), Err(CaptureError::UnknownFormat));
        let mut truncated = pcap(&[ipv4_tcp(1, 0x18, &keepalive())]);
        truncated.truncate(truncated.len() - 1);
        assert!(matches!(
            read_pcap(&truncated),
            Err(CaptureError::Truncated(24))
        ));
    }

    #[test]
    fn mrt_bgp4mp_message_as4() {
        let mut rec = Vec::new();
        rec.extend_from_slice(&1_546_300_800u32.to_be_bytes());
        rec.extend_from_slice(&16u16.to_be_bytes());
        rec.extend_from_slice(&4u16.to_be_bytes());
        let body_len = 8 + 2 + 2 + 8 + 19;
        rec.extend_from_slice(&(body_len as u32).to_be_bytes());
        rec.extend_from_slice(&65001u32.to_be_bytes());
        rec.extend_from_slice(&12654u32.to_be_bytes());
        rec.extend_from_slice(&[0, 0, 0, 1, 192, 0, 2, 1, 192, 0, 2, 2]);
        rec.extend_from_slice(&keepalive());
        // A STATE_CHANGE record, skipped.
        rec.extend_from_slice(&[0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 2, 0, 1]);
        let recs: Vec<_> = MrtReader::new(&rec).collect();
        assert_eq!(recs.len(), 1);
        let r = recs[0].clone().unwrap();
        assert_eq!(
            (r.peer_asn, r.local_asn, r.as4, r.add_path),
            (65001, 12654, true, false)
        );
        assert_eq!(r.peer_ip, IpAddr::from([192, 0, 2, 1]));
        assert_eq!(r.message, keepalive().as_slice());
        assert_eq!(
            MrtReader::new(&rec[..20]).next(),
            Some(Err(CaptureError::Truncated(0)))
        );
    }
}
