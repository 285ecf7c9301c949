//! Codec benchmark support (see `docs/benchmarks.md`): the inputs the `codec` bench decodes
//! and the digest every implementation must agree on.
//!
//! * [`load_mrt_updates`] extracts the raw BGP UPDATE messages from a gzipped MRT file
//!   (RFC 6396 §4.4 BGP4MP / §4.4.2 BGP4MP_MESSAGE_AS4), once, outside any timed loop.
//! * [`synthetic_updates`] generates a deterministic mix of UPDATEs (IPv4 and IPv6 unicast,
//!   realistic attribute sets, several prefixes per message).
//! * [`Corpus`] holds all messages of one input back to back in one buffer, so that decoders
//!   taking `&[u8]` and decoders taking `Bytes` both see the same zero-copy slices.
//! * [`Digest`] is what one full decode of a corpus produces; implementations are compared on
//!   its prefix counts.

#![forbid(unsafe_code)]

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

pub mod floor;
pub mod ours;

/// All messages of one input, back to back in one buffer (header included in each).
#[derive(Clone)]
pub struct Corpus {
    pub name: String,
    pub buf: Bytes,
    pub ranges: Vec<Range<usize>>,
}

impl Corpus {
    pub fn from_messages(name: &str, msgs: impl IntoIterator<Item = Vec<u8>>) -> Corpus {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        for m in msgs {
            let start = buf.len();
            buf.extend_from_slice(&m);
            ranges.push(start..buf.len());
        }
        Corpus {
            name: name.to_string(),
            buf: Bytes::from(buf),
            ranges,
        }
    }

    /// The messages as borrowed slices.
    pub fn slices(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let buf: &[u8] = &self.buf;
        self.ranges
            .iter()
            .map(move |r| buf.get(r.clone()).unwrap_or(&[]))
    }

    /// The messages as `Bytes` sharing the corpus buffer (a refcount increment each, no copy).
    pub fn bytes(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.ranges.iter().map(move |r| self.buf.slice(r.clone()))
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Total octets of all messages (headers included): the "MB" in MB/s.
    pub fn total_bytes(&self) -> usize {
        self.buf.len()
    }
}

/// What one full decode of a corpus yields. Counts are compared across implementations;
/// `touch` folds in every other decoded field (origin, MED, LOCAL_PREF, next hops, ASN and
/// community values, prefix bits) so the optimiser cannot skip it, and is not compared since
/// each crate represents values differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    pub messages: u64,
    /// Announced prefixes: NLRI field plus MP_REACH_NLRI, IPv4 and IPv6 unicast.
    pub announced: u64,
    /// Withdrawn prefixes: Withdrawn Routes field plus MP_UNREACH_NLRI.
    pub withdrawn: u64,
    /// ASNs in AS_PATH, all segments.
    pub as_path_asns: u64,
    pub communities: u64,
    pub large_communities: u64,
    pub ext_communities: u64,
    /// Sum of all announced and withdrawn prefix lengths.
    pub prefix_len_sum: u64,
    pub touch: u64,
}

impl Digest {
    #[inline(always)]
    pub fn touch(&mut self, v: u64) {
        self.touch = self.touch.rotate_left(5) ^ v;
    }

    /// The fields compared across implementations, for printing.
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("messages", self.messages),
            ("announced", self.announced),
            ("withdrawn", self.withdrawn),
            ("prefix_len_sum", self.prefix_len_sum),
            ("as_path_asns", self.as_path_asns),
            ("communities", self.communities),
            ("large_communities", self.large_communities),
            ("ext_communities", self.ext_communities),
        ]
    }
}

/// What was found in an MRT file besides the messages kept.
#[derive(Debug, Default, Clone)]
pub struct MrtStats {
    pub records: u64,
    pub bgp4mp_message_as4: u64,
    pub updates: u64,
    /// BGP4MP_MESSAGE_AS4 records holding OPEN, KEEPALIVE, NOTIFICATION or ROUTE-REFRESH.
    pub other_messages: u64,
    /// Records of other types/subtypes (state changes, 2-octet-AS MESSAGE, ...).
    pub other_records: u64,
    pub truncated: u64,
}

/// Reads a gzipped (or plain) MRT file and returns the BGP UPDATE messages of its
/// BGP4MP_MESSAGE_AS4 records (RFC 6396 §4.4.2: 4-octet AS numbers in the record, and the
/// session had negotiated 4-octet AS, RFC 6793).
pub fn load_mrt_updates(path: &Path) -> std::io::Result<(Vec<Vec<u8>>, MrtStats)> {
    let raw = std::fs::read(path)?;
    let mut data = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut data)?;
    } else {
        data = raw;
    }
    Ok(parse_mrt(&data))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks MRT records (RFC 6396 §2: timestamp 4, type 2, subtype 2, length 4).
pub fn parse_mrt(data: &[u8]) -> (Vec<Vec<u8>>, MrtStats) {
    const BGP4MP: u16 = 16;
    const BGP4MP_ET: u16 = 17;
    const MESSAGE_AS4: u16 = 4;
    let mut out = Vec::new();
    let mut st = MrtStats::default();
    let mut pos = 0usize;
    while pos + 12 <= data.len() {
        let (Some(ty), Some(sub), Some(len)) = (
            be16(data, pos + 4),
            be16(data, pos + 6),
            be32(data, pos + 8),
        ) else {
            break;
        };
        let body_start = pos + 12;
        let Some(body) = data.get(body_start..body_start + len as usize) else {
            st.truncated += 1;
            break;
        };
        pos = body_start + len as usize;
        st.records += 1;
        let body = match ty {
            BGP4MP => body,
            // §3: the extended-timestamp type has 4 more octets of microseconds.
            BGP4MP_ET => body.get(4..).unwrap_or(&[]),
            _ => {
                st.other_records += 1;
                continue;
            }
        };
        if sub != MESSAGE_AS4 {
            st.other_records += 1;
            continue;
        }
        st.bgp4mp_message_as4 += 1;
        // §4.4.2: peer AS 4, local AS 4, interface 2, AFI 2, peer IP, local IP, message.
        let Some(afi) = be16(body, 10) else {
            st.truncated += 1;
            continue;
        };
        let ip_len = if afi == 2 { 16 } else { 4 };
        let Some(msg) = body.get(12 + 2 * ip_len..) else {
            st.truncated += 1;
            continue;
        };
        match msg.get(18) {
            Some(2) => {
                st.updates += 1;
                out.push(msg.to_vec());
            }
            Some(_) => st.other_messages += 1,
            None => st.truncated += 1,
        }
    }
    (out, st)
}

/// A small deterministic PRNG (xorshift64*), so the synthetic mix is the same on every run
/// and does not depend on a `rand` version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next_u64() % u64::from(hi - lo + 1)) as u32
    }
    pub fn chance(&mut self, percent: u32) -> bool {
        self.range(0, 99) < percent
    }
}

fn put_attr(out: &mut Vec<u8>, flags: u8, ty: u8, value: &[u8]) {
    if value.len() > 255 {
        out.extend_from_slice(&[flags | 0x10, ty]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags & !0x10, ty, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

/// Encodes one prefix in NLRI form (RFC 4271 §4.3): length octet and the minimum octets.
fn put_prefix(out: &mut Vec<u8>, addr: &[u8], len: u8) {
    out.push(len);
    out.extend_from_slice(&addr[..usize::from(len).div_ceil(8)]);
}

fn v4_prefix(rng: &mut Rng) -> ([u8; 16], u8) {
    let len = match rng.range(0, 9) {
        0..=5 => 24,
        6 => rng.range(8, 19) as u8,
        _ => rng.range(20, 23) as u8,
    };
    // Public unicast space: first octet 1..=223, not 127 (no multicast, no loopback).
    let mut first = rng.range(1, 222);
    if first >= 127 {
        first += 1;
    }
    let a = (first << 24 | (rng.next_u32() & 0x00ff_ffff)) & (u32::MAX << (32 - u32::from(len)));
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&a.to_be_bytes());
    (b, len)
}

fn v6_prefix(rng: &mut Rng) -> ([u8; 16], u8) {
    let len = match rng.range(0, 9) {
        0..=5 => 48,
        6 | 7 => 32,
        8 => rng.range(29, 47) as u8,
        _ => 64,
    };
    // 2000::/3 global unicast.
    let a = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) >> 3 | (1u128 << 125);
    let a = a & (u128::MAX << (128 - u32::from(len)));
    (a.to_be_bytes(), len)
}

/// The synthetic mix: `n` UPDATE messages, deterministic for a given `seed`.
///
/// About 55 % IPv4 announcements (NLRI field + NEXT_HOP), 30 % IPv6 announcements
/// (MP_REACH_NLRI, 16- or 32-octet next hop), 15 % withdrawals (Withdrawn Routes or
/// MP_UNREACH_NLRI); 1-24 prefixes each. Announcements carry ORIGIN, a 4-octet AS_PATH
/// (one AS_SEQUENCE of 1-12 ASNs, with prepends), usually MED and LOCAL_PREF, COMMUNITIES
/// (0-12 distinct), often LARGE_COMMUNITY (0-4) and EXTENDED_COMMUNITIES (0-3), sometimes
/// ATOMIC_AGGREGATE + AGGREGATOR, ORIGINATOR_ID + CLUSTER_LIST or OTC. To be decoded with a
/// 4-octet-AS iBGP context (LOCAL_PREF and the reflection attributes are then valid).
pub fn synthetic_updates(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    // A pool of "upstreams" so AS paths repeat as in real tables.
    let upstreams: Vec<u32> = (0..64)
        .map(|i| {
            if i % 3 == 0 {
                rng.range(131_072, 400_000)
            } else {
                rng.range(1, 64_000)
            }
        })
        .collect();
    for _ in 0..n {
        let mut withdrawn = Vec::new();
        let mut attrs = Vec::new();
        let mut nlri = Vec::new();
        let kind = rng.range(0, 99);
        let nprefixes = match rng.range(0, 9) {
            0..=3 => rng.range(1, 3),
            4..=7 => rng.range(4, 10),
            _ => rng.range(11, 24),
        };
        if kind >= 85 {
            // Withdrawals.
            if rng.chance(60) {
                for _ in 0..nprefixes {
                    let (a, l) = v4_prefix(&mut rng);
                    put_prefix(&mut withdrawn, &a, l);
                }
            } else {
                let mut v = vec![0, 2, 1];
                for _ in 0..nprefixes {
                    let (a, l) = v6_prefix(&mut rng);
                    put_prefix(&mut v, &a, l);
                }
                put_attr(&mut attrs, 0x80, 15, &v);
            }
        } else {
            let v6 = kind >= 55;
            // ORIGIN
            put_attr(&mut attrs, 0x40, 1, &[rng.range(0, 2) as u8]);
            // AS_PATH: one AS_SEQUENCE of 4-octet ASNs.
            let hops = rng.range(1, 8);
            let mut path: Vec<u32> = Vec::new();
            for _ in 0..hops {
                let asn = upstreams[rng.range(0, 63) as usize];
                let prepend = if rng.chance(10) { rng.range(1, 4) } else { 1 };
                for _ in 0..prepend {
                    if path.len() < 12 {
                        path.push(asn);
                    }
                }
            }
            let mut v = vec![2, path.len() as u8];
            for a in &path {
                v.extend_from_slice(&a.to_be_bytes());
            }
            put_attr(&mut attrs, 0x40, 2, &v);
            if !v6 {
                let nh = 0x0a00_0000 | (rng.next_u32() & 0xffff);
                put_attr(&mut attrs, 0x40, 3, &nh.to_be_bytes());
            }
            if rng.chance(70) {
                put_attr(&mut attrs, 0x80, 4, &rng.range(0, 1000).to_be_bytes());
            }
            if rng.chance(90) {
                put_attr(&mut attrs, 0x40, 5, &rng.range(50, 300).to_be_bytes());
            }
            if rng.chance(5) {
                put_attr(&mut attrs, 0x40, 6, &[]);
                let mut v = path.last().copied().unwrap_or(1).to_be_bytes().to_vec();
                v.extend_from_slice(&rng.next_u32().to_be_bytes());
                put_attr(&mut attrs, 0xc0, 7, &v);
            }
            // COMMUNITIES: distinct values, sorted (as most speakers send them).
            let nc = match rng.range(0, 9) {
                0..=1 => 0,
                2..=7 => rng.range(1, 6),
                _ => rng.range(7, 12),
            };
            if nc > 0 {
                let mut cs: Vec<u32> = (0..nc)
                    .map(|_| {
                        if rng.chance(3) {
                            0xFFFF_FF03 // NO_EXPORT_SUBCONFED (RFC 1997), now and then
                        } else {
                            (upstreams[rng.range(0, 63) as usize] & 0xffff) << 16
                                | rng.range(1, 9999)
                        }
                    })
                    .collect();
                cs.sort_unstable();
                cs.dedup();
                let v: Vec<u8> = cs.iter().flat_map(|c| c.to_be_bytes()).collect();
                put_attr(&mut attrs, 0xc0, 8, &v);
            }
            if rng.chance(10) {
                put_attr(&mut attrs, 0x80, 9, &rng.next_u32().to_be_bytes());
                let n = rng.range(1, 3);
                let v: Vec<u8> = (0..n).flat_map(|_| rng.next_u32().to_be_bytes()).collect();
                put_attr(&mut attrs, 0x80, 10, &v);
            }
            if rng.chance(30) {
                let n = rng.range(1, 3);
                let mut es: Vec<[u8; 8]> = (0..n)
                    .map(|i| {
                        let mut e = [0u8; 8];
                        if i == 0 {
                            // Route target, 2-octet AS specific (RFC 4360 §4).
                            e[0] = 0x00;
                            e[1] = 0x02;
                            e[2..4].copy_from_slice(&(rng.range(1, 64_000) as u16).to_be_bytes());
                        } else {
                            // Transitive opaque.
                            e[0] = 0x03;
                            e[1] = 0x0c;
                        }
                        e[4..].copy_from_slice(&rng.next_u32().to_be_bytes());
                        e
                    })
                    .collect();
                es.sort_unstable();
                es.dedup();
                let v: Vec<u8> = es.concat();
                put_attr(&mut attrs, 0xc0, 16, &v);
            }
            if rng.chance(40) {
                let n = rng.range(1, 4);
                let mut ls: Vec<[u32; 3]> = (0..n)
                    .map(|_| [path[0], rng.range(1, 5000), rng.range(0, 100)])
                    .collect();
                ls.sort_unstable();
                ls.dedup();
                let v: Vec<u8> = ls.iter().flatten().flat_map(|x| x.to_be_bytes()).collect();
                put_attr(&mut attrs, 0xc0, 32, &v);
            }
            if rng.chance(3) {
                put_attr(&mut attrs, 0xc0, 35, &path[0].to_be_bytes());
            }
            if v6 {
                // MP_REACH_NLRI (RFC 4760 §3), IPv6 unicast.
                let mut v = vec![0, 2, 1];
                let global = 0x2001_0db8_u128 << 96 | u128::from(rng.next_u32());
                if rng.chance(40) {
                    v.push(32);
                    v.extend_from_slice(&global.to_be_bytes());
                    let ll = 0xfe80_u128 << 112 | u128::from(rng.next_u64());
                    v.extend_from_slice(&ll.to_be_bytes());
                } else {
                    v.push(16);
                    v.extend_from_slice(&global.to_be_bytes());
                }
                v.push(0);
                for _ in 0..nprefixes {
                    let (a, l) = v6_prefix(&mut rng);
                    put_prefix(&mut v, &a, l);
                }
                put_attr(&mut attrs, 0x80, 14, &v);
            } else {
                for _ in 0..nprefixes {
                    let (a, l) = v4_prefix(&mut rng);
                    put_prefix(&mut nlri, &a, l);
                }
            }
        }
        let len = 19 + 2 + withdrawn.len() + 2 + attrs.len() + nlri.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&[0xff; 16]);
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        m.extend_from_slice(&withdrawn);
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&attrs);
        m.extend_from_slice(&nlri);
        debug_assert!(len <= 4096);
        out.push(m);
    }
    out
}

/// Median of timings, in seconds.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_is_deterministic_and_well_formed() {
        let a = synthetic_updates(2000, 7);
        let b = synthetic_updates(2000, 7);
        assert_eq!(a, b);
        assert_ne!(a, synthetic_updates(2000, 8));
        for m in &a {
            assert_eq!(usize::from(u16::from_be_bytes([m[16], m[17]])), m.len());
            assert!(m.len() <= 4096);
            assert_eq!(m[18], 2);
        }
    }

    #[test]
    fn mrt_walk_extracts_bgp4mp_message_as4() {
        // One BGP4MP_MESSAGE_AS4 record (IPv4 peer) holding a KEEPALIVE and one holding an
        // UPDATE with no content, plus a STATE_CHANGE_AS4 record.
        let mut f = Vec::new();
        let rec = |f: &mut Vec<u8>, sub: u16, msg: &[u8]| {
            let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1];
            body.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
            body.extend_from_slice(msg);
            f.extend_from_slice(&[0, 0, 0, 0, 0, 16]);
            f.extend_from_slice(&sub.to_be_bytes());
            f.extend_from_slice(&(body.len() as u32).to_be_bytes());
            f.extend_from_slice(&body);
        };
        let mut ka = vec![0xff; 16];
        ka.extend_from_slice(&[0, 19, 4]);
        let mut up = vec![0xff; 16];
        up.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
        rec(&mut f, 4, &ka);
        rec(&mut f, 4, &up);
        rec(&mut f, 5, &[0, 1, 0, 6]);
        let (msgs, st) = parse_mrt(&f);
        assert_eq!(msgs, vec![up]);
        assert_eq!(
            (st.records, st.updates, st.other_messages, st.other_records),
            (3, 1, 1, 1)
        );
    }
}
