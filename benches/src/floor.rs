//! A calibration row, not a codec: the least work a full decode can do on this machine. It
//! walks each UPDATE once with bounds checks but no RFC 7606 classification, no flag checks
//! and no owned values, and folds the same fields into the same [`Digest`] as the real
//! implementations (every prefix, every AS_PATH ASN, every community, every 4-octet field).
//! It assumes IPv4/IPv6 unicast, 4-octet AS and no ADD-PATH. Whatever a real codec does on
//! top of this is the price of its checks and its API.

use crate::Digest;

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

#[inline(always)]
fn be32(b: &[u8]) -> u64 {
    match b {
        [a, b, c, d, ..] => u64::from(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => 0,
    }
}

/// Walks prefixes (RFC 4271 §4.3 encoding); returns the count or `None` on overrun.
#[inline(always)]
fn prefixes(mut b: &[u8], d: &mut Digest) -> Option<u64> {
    let mut n = 0;
    while let [len, rest @ ..] = b {
        let octets = usize::from(*len).div_ceil(8);
        if rest.len() < octets {
            return None;
        }
        // The first 8 octets of the address (enough to touch it), read without a variable
        // length copy when 8 octets are available, then masked to the prefix length.
        let hi = match rest.first_chunk::<8>() {
            Some(c) => u64::from_be_bytes(*c),
            None => {
                let mut a = [0u8; 8];
                let k = rest.len().min(8);
                a.get_mut(..k)?.copy_from_slice(rest.get(..k)?);
                u64::from_be_bytes(a)
            }
        };
        let keep = u32::from(*len).min(64);
        let hi = hi.checked_shr(64 - keep).unwrap_or(0);
        let rest = rest.get(octets..)?;
        d.prefix_len_sum += u64::from(*len);
        d.touch(hi);
        n += 1;
        b = rest;
    }
    Some(n)
}

/// One UPDATE (header included). `None` if a length runs past the end.
pub fn walk(m: &[u8], d: &mut Digest) -> Option<()> {
    let wl = be16(m, 19)?;
    let withdrawn = m.get(21..21 + wl)?;
    let al = be16(m, 21 + wl)?;
    let attrs = m.get(23 + wl..23 + wl + al)?;
    let nlri = m.get(23 + wl + al..)?;
    d.messages += 1;
    d.withdrawn += prefixes(withdrawn, d)?;
    d.announced += prefixes(nlri, d)?;
    let mut rest = attrs;
    while let [flags, code, tail @ ..] = rest {
        let (len, tail) = if flags & 0x10 != 0 {
            (be16(tail, 0)?, tail.get(2..)?)
        } else {
            (usize::from(*tail.first()?), tail.get(1..)?)
        };
        let (v, tail) = tail.split_at_checked(len)?;
        rest = tail;
        match code {
            2 => {
                let mut s = v;
                while let [_t, n, body @ ..] = s {
                    let (asns, next) = body.split_at_checked(usize::from(*n) * 4)?;
                    d.as_path_asns += u64::from(*n);
                    for a in asns.chunks_exact(4) {
                        d.touch(be32(a));
                    }
                    s = next;
                }
            }
            8 => {
                d.communities += (v.len() / 4) as u64;
                for c in v.chunks_exact(4) {
                    d.touch(be32(c));
                }
            }
            16 => {
                d.ext_communities += (v.len() / 8) as u64;
                for c in v.chunks_exact(8) {
                    d.touch(be32(c) ^ be32(c.get(4..)?));
                }
            }
            32 => {
                d.large_communities += (v.len() / 12) as u64;
                for c in v.chunks_exact(12) {
                    d.touch(be32(c) ^ be32(c.get(4..)?) ^ be32(c.get(8..)?));
                }
            }
            14 => {
                // AFI 2, SAFI 1, next-hop length 1, next hop, reserved 1, NLRI.
                let nhl = usize::from(*v.get(3)?);
                d.touch(be32(v.get(4..)?));
                d.announced += prefixes(v.get(5 + nhl..)?, d)?;
            }
            15 => d.withdrawn += prefixes(v.get(3..)?, d)?,
            1 => d.touch(u64::from(*v.first()?)),
            _ => {
                // MED, LOCAL_PREF, NEXT_HOP, ORIGINATOR_ID, AGGREGATOR, CLUSTER_LIST, OTC...
                for c in v.chunks(4) {
                    d.touch(be32(c));
                }
            }
        }
    }
    Some(())
}
