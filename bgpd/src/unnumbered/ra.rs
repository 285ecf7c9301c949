//! Router Advertisement and Router Solicitation messages (RFC 4861 §4.1, §4.2): the bytes of
//! the ICMPv6 message (the kernel adds the IPv6 header and, on an ICMPv6 raw socket, computes
//! and checks the checksum: RFC 3542 §3.1). Pure: no socket, no clock.
//!
//! [`decode`] applies the validity checks of RFC 4861 §6.1.1 and §6.1.2 that are left to the
//! receiver once the kernel has checked the checksum. A message that fails one is dropped with
//! a [`NdError`] naming the check; decoding never panics on any input.

use std::fmt;
use std::net::Ipv6Addr;

/// ICMPv6 type of a Router Solicitation (RFC 4861 §4.1).
pub const ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 type of a Router Advertisement (RFC 4861 §4.2).
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// The IPv6 hop limit every Neighbor Discovery message is sent with and must arrive with
/// (RFC 4861 §6.1.1, §6.1.2: "The IP Hop Limit field has a value of 255"): proof that it was
/// not forwarded by a router.
pub const ND_HOP_LIMIT: u8 = 255;

/// The fixed part of a Router Advertisement (RFC 4861 §4.2):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Cur Hop Limit |M|O|  Reserved |       Router Lifetime         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Reachable Time                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Retrans Timer                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-
/// ```
///
/// Zero in Cur Hop Limit, Reachable Time and Retrans Timer means "unspecified by this router"
/// (§4.2): what bgpd sends, so that it never contradicts a router's own settings (FRR's zebra
/// warns about a non-zero value that differs from its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouterAdvert {
    /// Cur Hop Limit (RFC 4861 §4.2); 0 = unspecified.
    pub cur_hop_limit: u8,
    /// M flag: addresses are available via DHCPv6.
    pub managed: bool,
    /// O flag: other configuration is available via DHCPv6.
    pub other: bool,
    /// Seconds; 0 = "not a default router" (§4.2, §6.3.4): bgpd always sends 0, so that no
    /// host ever routes through a node because it speaks BGP.
    pub router_lifetime: u16,
    /// Milliseconds.
    pub reachable_time: u32,
    /// Milliseconds.
    pub retrans_timer: u32,
}

/// A Neighbor Discovery message bgpd acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdMessage {
    /// A router on the link (our neighbor) advertises itself.
    RouterAdvert(RouterAdvert),
    /// A node asks the routers on the link to advertise now (RFC 4861 §6.2.6).
    RouterSolicit,
}

/// Why a received message was dropped (RFC 4861 §6.1: "silently discarded"; bgpd counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NdError {
    /// Neither a Router Solicitation nor a Router Advertisement (the socket filter should not
    /// let one through).
    OtherType(u8),
    /// "ICMP Code is 0" fails.
    Code(u8),
    /// Shorter than the fixed part (8 octets for a solicitation, 16 for an advertisement).
    TooShort(usize),
    /// "The IP Hop Limit field has a value of 255" fails: it was forwarded, or spoofed from
    /// off the link.
    HopLimit(u8),
    /// An advertisement whose source is not link-local ("IP Source Address is a link-local
    /// address", §6.1.2).
    SourceNotLinkLocal,
    /// "All included options have a length that is greater than zero" fails.
    ZeroLengthOption,
    /// An option runs past the end of the message.
    OptionOverrun,
    /// A solicitation from the unspecified address with a Source Link-Layer Address option
    /// (§6.1.1: "there is no source link-layer address option in the message").
    LinkLayerFromUnspecified,
}

impl fmt::Display for NdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NdError::OtherType(t) => write!(f, "ICMPv6 type {t} is not RS or RA"),
            NdError::Code(c) => write!(f, "ICMP code {c}, not 0"),
            NdError::TooShort(n) => write!(f, "{n} octets, shorter than the fixed part"),
            NdError::HopLimit(h) => write!(f, "hop limit {h}, not 255 (forwarded or spoofed)"),
            NdError::SourceNotLinkLocal => f.write_str("source is not a link-local address"),
            NdError::ZeroLengthOption => f.write_str("an option has length 0"),
            NdError::OptionOverrun => f.write_str("an option runs past the end"),
            NdError::LinkLayerFromUnspecified => {
                f.write_str("a link-layer address option from the unspecified address")
            }
        }
    }
}

/// Length of a Router Advertisement without options.
pub const RA_LEN: usize = 16;
/// Length of a Router Solicitation without options.
pub const RS_LEN: usize = 8;

impl RouterAdvert {
    /// What bgpd sends on an unnumbered peer's link: every field zero ("unspecified"), and in
    /// particular Router Lifetime 0, so hosts never pick the node as a default router
    /// (RFC 4861 §4.2, §6.2.5 "a router MAY ... advertise a lifetime of zero").
    pub const BGPD: RouterAdvert = RouterAdvert {
        cur_hop_limit: 0,
        managed: false,
        other: false,
        router_lifetime: 0,
        reachable_time: 0,
        retrans_timer: 0,
    };

    /// The message with a zero checksum (the kernel fills it in, RFC 3542 §3.1) and no
    /// options: the Source Link-Layer Address option MAY be omitted (§4.2).
    pub fn encode(&self) -> [u8; RA_LEN] {
        let mut b = [0u8; RA_LEN];
        b[0] = ROUTER_ADVERTISEMENT;
        b[4] = self.cur_hop_limit;
        b[5] = (u8::from(self.managed) << 7) | (u8::from(self.other) << 6);
        b[6..8].copy_from_slice(&self.router_lifetime.to_be_bytes());
        b[8..12].copy_from_slice(&self.reachable_time.to_be_bytes());
        b[12..16].copy_from_slice(&self.retrans_timer.to_be_bytes());
        b
    }
}

/// Checks and decodes one ICMPv6 message received from `source` with IPv6 hop limit
/// `hop_limit` (RFC 4861 §6.1.1 for solicitations, §6.1.2 for advertisements).
pub fn decode(msg: &[u8], hop_limit: u8, source: Ipv6Addr) -> Result<NdMessage, NdError> {
    let (&kind, rest) = msg.split_first().ok_or(NdError::TooShort(0))?;
    let fixed = match kind {
        ROUTER_SOLICITATION => RS_LEN,
        ROUTER_ADVERTISEMENT => RA_LEN,
        other => return Err(NdError::OtherType(other)),
    };
    if hop_limit != ND_HOP_LIMIT {
        return Err(NdError::HopLimit(hop_limit));
    }
    match rest.first() {
        Some(0) => {}
        Some(&code) => return Err(NdError::Code(code)),
        None => return Err(NdError::TooShort(msg.len())),
    }
    let (head, options) = match (msg.get(..fixed), msg.get(fixed..)) {
        (Some(head), Some(options)) => (head, options),
        _ => return Err(NdError::TooShort(msg.len())),
    };
    let has_link_layer = check_options(options)?;
    if kind == ROUTER_SOLICITATION {
        if source.is_unspecified() && has_link_layer {
            return Err(NdError::LinkLayerFromUnspecified);
        }
        return Ok(NdMessage::RouterSolicit);
    }
    if !source.is_unicast_link_local() {
        return Err(NdError::SourceNotLinkLocal);
    }
    let be16 = |i: usize| u16::from_be_bytes([head[i], head[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    Ok(NdMessage::RouterAdvert(RouterAdvert {
        cur_hop_limit: head[4],
        managed: head[5] & 0x80 != 0,
        other: head[5] & 0x40 != 0,
        router_lifetime: be16(6),
        reachable_time: be32(8),
        retrans_timer: be32(12),
    }))
}

/// RFC 4861 §4.6: each option is Type (1), Length (1, in units of 8 octets, never 0), then
/// its value. Unknown options are skipped (§4.2 "MUST silently ignore any options they do not
/// recognize"); only the framing is checked. Returns whether a Source Link-Layer Address
/// option (type 1, §4.6.1) is among them.
fn check_options(mut options: &[u8]) -> Result<bool, NdError> {
    let mut link_layer = false;
    while let Some(&kind) = options.first() {
        let units = *options.get(1).ok_or(NdError::OptionOverrun)?;
        if units == 0 {
            return Err(NdError::ZeroLengthOption);
        }
        link_layer |= kind == SOURCE_LINK_LAYER_ADDRESS;
        options = options
            .get(usize::from(units) * 8..)
            .ok_or(NdError::OptionOverrun)?;
    }
    Ok(link_layer)
}

/// RFC 4861 §4.6.1: the Source Link-Layer Address option type.
const SOURCE_LINK_LAYER_ADDRESS: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

    /// bgpd's advertisement (RFC 4861 §4.2): type 134, code 0, checksum 0 (the kernel's),
    /// every other field 0: no hop limit, no M/O flags, Router Lifetime 0, no timers.
    const RA_BGPD: [u8; 16] = [
        134, 0, 0x00, 0x00, // type, code, checksum
        0, 0x00, 0x00, 0x00, // cur hop limit, M|O|reserved, router lifetime 0
        0, 0, 0, 0, // reachable time
        0, 0, 0, 0, // retrans timer
    ];

    /// An advertisement as FRR's zebra sends one for an interface peer: hop limit 64,
    /// lifetime 1800 s, then a Source Link-Layer Address option (type 1, length 1 = 8
    /// octets, MAC 02:00:00:00:00:01) and an MTU option (type 5, length 1, MTU 1500).
    const RA_FRR: [u8; 32] = [
        134, 0, 0x12, 0x34, // type, code, checksum (checked by the kernel)
        64, 0x00, 0x07, 0x08, // cur hop limit 64, no flags, router lifetime 1800
        0, 0, 0, 0, // reachable time
        0, 0, 0, 0, // retrans timer
        1, 1, 0x02, 0, 0, 0, 0, 0x01, // SLLA option
        5, 1, 0, 0, 0, 0, 0x05, 0xdc, // MTU option
    ];

    #[test]
    fn bgpd_advertisement_encodes_lifetime_zero() {
        assert_eq!(RouterAdvert::BGPD.encode(), RA_BGPD);
        assert_eq!(
            decode(&RA_BGPD, 255, LL),
            Ok(NdMessage::RouterAdvert(RouterAdvert::BGPD))
        );
    }

    #[test]
    fn frr_advertisement_decodes_with_options() {
        let ra = RouterAdvert {
            cur_hop_limit: 64,
            router_lifetime: 1800,
            ..RouterAdvert::default()
        };
        assert_eq!(decode(&RA_FRR, 255, LL), Ok(NdMessage::RouterAdvert(ra)));
        let flags = RouterAdvert {
            managed: true,
            other: true,
            reachable_time: 30_000,
            retrans_timer: 1000,
            ..ra
        };
        let bytes = flags.encode();
        assert_eq!(bytes[5], 0xc0);
        assert_eq!(decode(&bytes, 255, LL), Ok(NdMessage::RouterAdvert(flags)));
    }

    #[test]
    fn solicitation_decodes_from_the_unspecified_address() {
        // RFC 4861 §4.1: type 133, code 0, checksum, 4 reserved octets.
        let rs = [133, 0, 0xab, 0xcd, 0, 0, 0, 0];
        assert_eq!(
            decode(&rs, 255, Ipv6Addr::UNSPECIFIED),
            Ok(NdMessage::RouterSolicit)
        );
        // With a Source Link-Layer Address option (type 1, 8 octets) only from an address.
        let mut with_slla = rs.to_vec();
        with_slla.extend_from_slice(&[1, 1, 0x02, 0, 0, 0, 0, 0x02]);
        assert_eq!(decode(&with_slla, 255, LL), Ok(NdMessage::RouterSolicit));
        assert_eq!(
            decode(&with_slla, 255, Ipv6Addr::UNSPECIFIED),
            Err(NdError::LinkLayerFromUnspecified)
        );
    }

    #[test]
    fn invalid_messages_are_dropped_with_the_failed_check() {
        assert_eq!(decode(&RA_BGPD, 64, LL), Err(NdError::HopLimit(64)));
        let mut code = RA_BGPD;
        code[1] = 1;
        assert_eq!(decode(&code, 255, LL), Err(NdError::Code(1)));
        assert_eq!(decode(&RA_BGPD[..15], 255, LL), Err(NdError::TooShort(15)));
        assert_eq!(decode(&[], 255, LL), Err(NdError::TooShort(0)));
        assert_eq!(decode(&[134], 255, LL), Err(NdError::TooShort(1)));
        assert_eq!(decode(&[135, 0], 255, LL), Err(NdError::OtherType(135)));
        let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            decode(&RA_BGPD, 255, global),
            Err(NdError::SourceNotLinkLocal)
        );
        let mut zero = RA_FRR;
        zero[17] = 0;
        assert_eq!(decode(&zero, 255, LL), Err(NdError::ZeroLengthOption));
        let mut overrun = RA_FRR;
        overrun[25] = 2;
        assert_eq!(decode(&overrun, 255, LL), Err(NdError::OptionOverrun));
        assert_eq!(decode(&RA_FRR[..17], 255, LL), Err(NdError::OptionOverrun));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
                               hop in proptest::num::u8::ANY) {
            let _ = decode(&bytes, hop, LL);
        }

        #[test]
        fn advert_round_trips(hl in 0u8.., m: bool, o: bool, life in 0u16.., reach in 0u32..,
                              retrans in 0u32..) {
            let ra = RouterAdvert { cur_hop_limit: hl, managed: m, other: o,
                router_lifetime: life, reachable_time: reach, retrans_timer: retrans };
            proptest::prop_assert_eq!(decode(&ra.encode(), 255, LL), Ok(NdMessage::RouterAdvert(ra)));
        }
    }
}
