//! NLRI encoding (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3): checking a field once and
//! iterating it without allocation.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::attr::Nlri;

/// Why an NLRI field is incorrect (RFC 7606 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NlriError {
    /// A prefix length above 32 (IPv4) or 128 (IPv6).
    TooLong,
    /// The last prefix (or path identifier) runs past the end of the field.
    Overrun,
}

/// Walks an NLRI field once: every prefix length is within `max_bits` and no prefix overruns.
/// Returns the number of prefixes.
#[inline(always)]
pub(crate) fn check_nlri(buf: &[u8], max_bits: u8, add_path: bool) -> Result<usize, NlriError> {
    let mut pos = 0usize;
    let mut n = 0usize;
    let skip = if add_path { 4 } else { 0 };
    while pos < buf.len() {
        pos += skip;
        let Some(&len) = buf.get(pos) else {
            return Err(NlriError::Overrun);
        };
        if len > max_bits {
            return Err(NlriError::TooLong);
        }
        pos += 1 + usize::from(len).div_ceil(8);
        n += 1;
    }
    if pos > buf.len() {
        return Err(NlriError::Overrun);
    }
    Ok(n)
}

/// Iterator over a checked NLRI field of IPv4 or IPv6 prefixes, with or without ADD-PATH path
/// identifiers. Host bits after the prefix length are cleared (RFC 4271 §4.3: trailing bits
/// are irrelevant). Never allocates; stops at the first malformed entry (which a checked view
/// never contains).
#[derive(Debug, Clone)]
pub struct NlriIter<'a> {
    buf: &'a [u8],
    v6: bool,
    add_path: bool,
}

impl<'a> NlriIter<'a> {
    /// An iterator over `buf` (IPv6 prefixes when `v6`), with 4-octet path identifiers before
    /// each prefix when `add_path`.
    pub fn new(buf: &'a [u8], v6: bool, add_path: bool) -> NlriIter<'a> {
        NlriIter { buf, v6, add_path }
    }

    /// An empty iterator.
    pub fn empty() -> NlriIter<'static> {
        NlriIter {
            buf: &[],
            v6: false,
            add_path: false,
        }
    }

    /// The raw octets not yet iterated.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    #[inline]
    fn next_inner(&mut self) -> Option<Nlri> {
        let mut rest = self.buf;
        let path_id = if self.add_path {
            let (id, tail) = rest.split_first_chunk::<4>()?;
            rest = tail;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let (&len, tail) = rest.split_first()?;
        let n = usize::from(len).div_ceil(8);
        let (bytes, tail) = tail.split_at_checked(n)?;
        let prefix = if self.v6 {
            if bytes.len() > 16 {
                return None;
            }
            let mut bits = 0u128;
            for (i, &x) in bytes.iter().enumerate() {
                bits |= u128::from(x) << (120 - 8 * i);
            }
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits & mask128(len)), len).ok()?)
        } else {
            let bits = match *bytes {
                [] => 0,
                [a] => u32::from(a) << 24,
                [a, b] => u32::from_be_bytes([a, b, 0, 0]),
                [a, b, c] => u32::from_be_bytes([a, b, c, 0]),
                [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
                _ => return None,
            };
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits & mask32(len)), len).ok()?)
        };
        self.buf = tail;
        Some(Nlri { prefix, path_id })
    }
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        match self.next_inner() {
            Some(n) => Some(n),
            None => {
                self.buf = &[];
                None
            }
        }
    }
}

#[inline]
fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

#[inline]
fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn check_nlri_rejects_overrun_and_long_prefix() {
        assert_eq!(check_nlri(&[24, 10, 0, 0], 32, false), Ok(1));
        assert_eq!(check_nlri(&[24, 10, 0], 32, false), Err(NlriError::Overrun));
        assert_eq!(
            check_nlri(&[33, 10, 0, 0, 0, 0], 32, false),
            Err(NlriError::TooLong)
        );
        assert_eq!(check_nlri(&[0, 0, 0], 32, true), Err(NlriError::Overrun));
        assert_eq!(check_nlri(&[0, 0, 0, 1, 0], 32, true), Ok(1));
    }

    #[test]
    fn iter_clears_trailing_bits() {
        let v: Vec<Nlri> = NlriIter::new(&[23, 10, 0, 1], false, false).collect();
        assert_eq!(v, [Nlri::new("10.0.0.0/23".parse().unwrap())]);
    }
}
