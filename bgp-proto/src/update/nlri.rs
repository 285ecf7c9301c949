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
    if add_path {
        check_prefixes::<4>(buf, max_bits)
    } else {
        check_prefixes::<0>(buf, max_bits)
    }
}

/// [`check_nlri`] with `SKIP` octets of path identifier before each prefix. One load, one
/// compare and one bounds check per prefix.
#[inline(always)]
fn check_prefixes<const SKIP: usize>(buf: &[u8], max_bits: u8) -> Result<usize, NlriError> {
    let mut rest = buf;
    let mut n = 0usize;
    while !rest.is_empty() {
        let Some((&len, tail)) = rest.get(SKIP..).and_then(<[u8]>::split_first) else {
            return Err(NlriError::Overrun);
        };
        if len > max_bits {
            return Err(NlriError::TooLong);
        }
        let Some(tail) = tail.get(usize::from(len).div_ceil(8)..) else {
            return Err(NlriError::Overrun);
        };
        rest = tail;
        n += 1;
    }
    Ok(n)
}

/// Checks and decodes `msg[start..end]` (an NLRI field inside the message) in one walk,
/// handing each prefix to `f`. Returns exactly what [`check_nlri`] returns for the field: the
/// walk stops at the first malformed entry, whose error the checker then names.
#[inline(always)]
pub(crate) fn walk_nlri(
    msg: &[u8],
    start: usize,
    end: usize,
    v6: bool,
    add_path: bool,
    mut f: impl FnMut(Nlri),
) -> Result<(), NlriError> {
    // One loop per address family, so the per-prefix code has no family test.
    let mut it = NlriIter::in_message(msg.get(..end).unwrap_or_default(), start, v6, add_path);
    match (v6, add_path) {
        (false, false) => {
            while let Some(n) = it.next_family::<false, false>() {
                f(n);
            }
        }
        (true, false) => {
            while let Some(n) = it.next_family::<true, false>() {
                f(n);
            }
        }
        (false, true) => {
            while let Some(n) = it.next_family::<false, true>() {
                f(n);
            }
        }
        (true, true) => {
            while let Some(n) = it.next_family::<true, true>() {
                f(n);
            }
        }
    }
    if it.pos >= end {
        return Ok(());
    }
    walk_failed(it.as_bytes(), v6, add_path)
}

#[cold]
#[inline(never)]
fn walk_failed(rest: &[u8], v6: bool, add_path: bool) -> Result<(), NlriError> {
    match check_nlri(rest, if v6 { 128 } else { 32 }, add_path) {
        Err(e) => Err(e),
        // Unreachable for a field the iterator stopped in; report it as an overrun.
        Ok(_) => Err(NlriError::Overrun),
    }
}

/// Iterator over a checked NLRI field of IPv4 or IPv6 prefixes, with or without ADD-PATH path
/// identifiers. Host bits after the prefix length are cleared (RFC 4271 §4.3: trailing bits
/// are irrelevant). Never allocates; stops at the first malformed entry (which a checked view
/// never contains).
#[derive(Debug, Clone)]
pub struct NlriIter<'a> {
    /// The field, preceded by the octets before it in the message (if any): the prefix octets
    /// are read with one fixed-size load that ends where the prefix ends.
    buf: &'a [u8],
    /// Start of the next entry in `buf`.
    pos: usize,
    v6: bool,
    add_path: bool,
}

impl<'a> NlriIter<'a> {
    /// An iterator over `buf` (IPv6 prefixes when `v6`), with 4-octet path identifiers before
    /// each prefix when `add_path`.
    pub fn new(buf: &'a [u8], v6: bool, add_path: bool) -> NlriIter<'a> {
        NlriIter {
            buf,
            pos: 0,
            v6,
            add_path,
        }
    }

    /// An iterator over `msg[start..]`, where `msg[..start]` may be read (never returned) to
    /// load prefix octets in fixed-size chunks.
    #[inline]
    pub(crate) fn in_message(msg: &'a [u8], start: usize, v6: bool, add_path: bool) -> Self {
        NlriIter {
            buf: msg,
            pos: start,
            v6,
            add_path,
        }
    }

    /// An empty iterator.
    pub fn empty() -> NlriIter<'static> {
        NlriIter {
            buf: &[],
            pos: 0,
            v6: false,
            add_path: false,
        }
    }

    /// The raw octets not yet iterated.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    #[inline(always)]
    pub(crate) fn next_inner(&mut self) -> Option<Nlri> {
        match (self.v6, self.add_path) {
            (false, false) => self.next_family::<false, false>(),
            (true, false) => self.next_family::<true, false>(),
            (false, true) => self.next_family::<false, true>(),
            (true, true) => self.next_family::<true, true>(),
        }
    }

    /// [`NlriIter::next_inner`] for IPv6 (`V6`) or IPv4 prefixes, with path identifiers
    /// (`ADD_PATH`) or without, whatever `self.v6` and `self.add_path` say.
    #[inline(always)]
    fn next_family<const V6: bool, const ADD_PATH: bool>(&mut self) -> Option<Nlri> {
        let buf = self.buf;
        let mut pos = self.pos;
        let path_id = if ADD_PATH {
            let id = buf.get(pos..)?.first_chunk::<4>()?;
            pos += 4;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let len = *buf.get(pos)?;
        if len > if V6 { 128 } else { 32 } {
            return None;
        }
        // At most 4 (16) octets.
        let n = usize::from(len).div_ceil(8);
        let end = pos + 1 + n;
        if end > buf.len() {
            return None;
        }
        // The prefix octets are `buf[pos + 1..end]`. They are read with one fixed-size load of
        // the 4 (16) octets ending at `end`, shifted into place and masked to the prefix
        // length: no variable-length copy and no per-octet branches. Only when fewer octets
        // precede `end` (a bare field at the start of `buf`) are they gathered one by one.
        let prefix = if V6 {
            let bits = match end.checked_sub(16).and_then(|s| buf.get(s..end)) {
                // n = 0 shifts by 0 (wrapping), and the mask for length 0 clears it all.
                Some(c) => be_u128(c).wrapping_shl(128 - 8 * n as u32),
                None => gather_u128(buf.get(pos + 1..end)?),
            };
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits & mask128(len)), len).ok()?)
        } else {
            let bits = match end.checked_sub(4).and_then(|s| buf.get(s..end)) {
                Some(c) => be_u32(c).wrapping_shl(32 - 8 * n as u32),
                None => gather_u32(buf.get(pos + 1..end)?),
            };
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits & mask32(len)), len).ok()?)
        };
        self.pos = end;
        Some(Nlri { prefix, path_id })
    }
}

#[inline(always)]
fn be_u32(c: &[u8]) -> u32 {
    c.first_chunk::<4>().map_or(0, |c| u32::from_be_bytes(*c))
}

#[inline(always)]
fn be_u128(c: &[u8]) -> u128 {
    c.first_chunk::<16>().map_or(0, |c| u128::from_be_bytes(*c))
}

/// Up to 4 octets, most significant first, left-aligned in a `u32`.
#[inline(always)]
fn gather_u32(b: &[u8]) -> u32 {
    let mut v = 0u32;
    for (i, &x) in b.iter().take(4).enumerate() {
        v |= u32::from(x) << (24 - 8 * i);
    }
    v
}

/// Up to 16 octets, most significant first, left-aligned in a `u128`.
#[inline(always)]
fn gather_u128(b: &[u8]) -> u128 {
    let mut v = 0u128;
    for (i, &x) in b.iter().take(16).enumerate() {
        v |= u128::from(x) << (120 - 8 * i);
    }
    v
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    // Always inlined: small, called once per prefix, and otherwise left out of line in the
    // large loops that also inline `UpdateView::new_checked`.
    #[inline(always)]
    fn next(&mut self) -> Option<Nlri> {
        match self.next_inner() {
            Some(n) => Some(n),
            None => {
                self.pos = usize::MAX;
                None
            }
        }
    }
}

/// Two NLRI fields one after the other (the conventional field, then the MP attribute's),
/// as `withdrawn()` and `announced()` return them. A plain `Chain` leaves its per-item
/// helpers out of line in large callers; this `next` is always inlined.
#[derive(Debug, Clone)]
pub(crate) struct NlriPair<'a> {
    cur: NlriIter<'a>,
    next: Option<NlriIter<'a>>,
}

impl<'a> NlriPair<'a> {
    #[inline(always)]
    pub(crate) fn new(first: NlriIter<'a>, second: NlriIter<'a>) -> Self {
        NlriPair {
            cur: first,
            next: Some(second),
        }
    }
}

impl Iterator for NlriPair<'_> {
    type Item = Nlri;

    #[inline(always)]
    fn next(&mut self) -> Option<Nlri> {
        if let Some(n) = self.cur.next() {
            return Some(n);
        }
        // The first field is done: continue with the second (once).
        self.cur = self.next.take()?;
        self.cur.next()
    }
}

#[inline]
fn mask32(len: u8) -> u32 {
    // A shift by 0..=32 of a u64: no overflow case to branch on.
    (u64::MAX << 32u32.saturating_sub(u32::from(len))) as u32
}

#[inline]
fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    /// Straightforward decoder to compare the fixed-size-load iterator with.
    fn reference(mut b: &[u8], v6: bool, add_path: bool) -> Vec<Nlri> {
        let mut out = Vec::new();
        loop {
            let mut path_id = None;
            if add_path {
                let Some((id, t)) = b.split_first_chunk::<4>() else {
                    return out;
                };
                path_id = Some(u32::from_be_bytes(*id));
                b = t;
            }
            let Some((&len, t)) = b.split_first() else {
                return out;
            };
            let n = usize::from(len).div_ceil(8);
            let Some((p, t)) = t.split_at_checked(n) else {
                return out;
            };
            let mut a = [0u8; 16];
            if n > if v6 { 16 } else { 4 } {
                return out;
            }
            a[..n].copy_from_slice(p);
            let prefix = if v6 {
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc())
            } else {
                let a4 = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
                match Ipv4Net::new(a4, len) {
                    Ok(p) => IpNet::V4(p.trunc()),
                    Err(_) => return out,
                }
            };
            out.push(Nlri { prefix, path_id });
            b = t;
        }
    }

    #[test]
    fn fixed_size_loads_match_reference_at_any_offset() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..4000 {
            let v6 = round % 2 == 0;
            let add_path = round % 3 == 0;
            let max: u8 = if v6 { 128 } else { 32 };
            let mut field = Vec::new();
            for _ in 0..rnd() % 5 {
                if add_path {
                    field.extend_from_slice(&(rnd() as u32).to_be_bytes());
                }
                // Mostly valid lengths, sometimes one too long.
                let len = (rnd() % (u64::from(max) + 2)) as u8;
                field.push(len);
                for _ in 0..usize::from(len).div_ceil(8) {
                    field.push(rnd() as u8);
                }
            }
            // Sometimes cut the field short.
            if rnd() % 4 == 0 && !field.is_empty() {
                field.truncate((rnd() as usize) % field.len());
            }
            let want = reference(&field, v6, add_path);
            let bare: Vec<Nlri> = NlriIter::new(&field, v6, add_path).collect();
            assert_eq!(bare, want, "bare {field:02x?}");
            for pad in [1usize, 3, 19] {
                let mut msg = vec![0xa5u8; pad];
                msg.extend_from_slice(&field);
                let it = NlriIter::in_message(&msg, pad, v6, add_path);
                assert_eq!(it.as_bytes(), &field[..]);
                assert_eq!(it.collect::<Vec<_>>(), want, "pad {pad} {field:02x?}");
            }
        }
    }

    #[test]
    fn pair_yields_first_then_second_like_chain() {
        let a = [24u8, 10, 0, 1, 33, 1, 2, 3, 4, 5]; // second entry malformed: first stops
        let b = [32u8, 0x20, 0x01, 0x0d, 0xb8, 0]; // 2001:db8::/32, ::/0
        for (x, y) in [(&a[..], &b[..]), (&[][..], &b[..]), (&a[..], &[][..])] {
            let want: Vec<Nlri> = NlriIter::new(x, false, false)
                .chain(NlriIter::new(y, true, false))
                .collect();
            let got: Vec<Nlri> = NlriPair::new(
                NlriIter::new(x, false, false),
                NlriIter::new(y, true, false),
            )
            .collect();
            assert_eq!(got, want);
        }
        let mut p = NlriPair::new(
            NlriIter::new(&a, false, false),
            NlriIter::new(&b, true, false),
        );
        assert_eq!(p.by_ref().count(), 3);
        assert_eq!(p.next(), None);
    }
}
