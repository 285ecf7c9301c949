//! IANA codepoints as open sets: newtypes over the wire integer with named constants, so an
//! unknown value is representable and passes through unchanged.
//!
//! Registries: <https://www.iana.org/assignments/bgp-parameters/bgp-parameters.xhtml>,
//! <https://www.iana.org/assignments/capability-codes/capability-codes.xhtml>,
//! <https://www.iana.org/assignments/address-family-numbers/address-family-numbers.xhtml>,
//! <https://www.iana.org/assignments/safi-namespace/safi-namespace.xhtml>.

use core::fmt;

use proto_util::codepoint;

codepoint! {
    /// BGP message type, RFC 4271 §4.1.
    MessageType(u8) {
        OPEN = 1 => "OPEN",
        UPDATE = 2 => "UPDATE",
        NOTIFICATION = 3 => "NOTIFICATION",
        KEEPALIVE = 4 => "KEEPALIVE",
        /// RFC 2918.
        ROUTE_REFRESH = 5 => "ROUTE-REFRESH",
    }
}

codepoint! {
    /// Address Family Identifier (RFC 4760 §3).
    Afi(u16) {
        IPV4 = 1 => "ipv4",
        IPV6 = 2 => "ipv6",
        L2VPN = 25 => "l2vpn",
    }
}

codepoint! {
    /// Subsequent Address Family Identifier (RFC 4760 §3).
    Safi(u8) {
        UNICAST = 1 => "unicast",
        MULTICAST = 2 => "multicast",
        MPLS_LABEL = 4 => "labeled-unicast",
        EVPN = 70 => "evpn",
        MPLS_VPN = 128 => "vpn",
        FLOWSPEC = 133 => "flowspec",
    }
}

codepoint! {
    /// Path attribute type code (RFC 4271 §5 and later).
    AttrType(u8) {
        ORIGIN = 1 => "ORIGIN",
        AS_PATH = 2 => "AS_PATH",
        NEXT_HOP = 3 => "NEXT_HOP",
        MULTI_EXIT_DISC = 4 => "MULTI_EXIT_DISC",
        LOCAL_PREF = 5 => "LOCAL_PREF",
        ATOMIC_AGGREGATE = 6 => "ATOMIC_AGGREGATE",
        AGGREGATOR = 7 => "AGGREGATOR",
        COMMUNITIES = 8 => "COMMUNITIES",
        ORIGINATOR_ID = 9 => "ORIGINATOR_ID",
        CLUSTER_LIST = 10 => "CLUSTER_LIST",
        MP_REACH_NLRI = 14 => "MP_REACH_NLRI",
        MP_UNREACH_NLRI = 15 => "MP_UNREACH_NLRI",
        EXTENDED_COMMUNITIES = 16 => "EXTENDED_COMMUNITIES",
        AS4_PATH = 17 => "AS4_PATH",
        AS4_AGGREGATOR = 18 => "AS4_AGGREGATOR",
        PMSI_TUNNEL = 22 => "PMSI_TUNNEL",
        TUNNEL_ENCAPSULATION = 23 => "TUNNEL_ENCAPSULATION",
        TRAFFIC_ENGINEERING = 24 => "TRAFFIC_ENGINEERING",
        IPV6_EXTENDED_COMMUNITIES = 25 => "IPV6_EXTENDED_COMMUNITIES",
        AIGP = 26 => "AIGP",
        LARGE_COMMUNITY = 32 => "LARGE_COMMUNITY",
        OTC = 35 => "OTC",
        PREFIX_SID = 40 => "PREFIX_SID",
        ATTR_SET = 128 => "ATTR_SET",
    }
}

codepoint! {
    /// Capability code (RFC 5492 §4).
    CapabilityCode(u8) {
        MULTIPROTOCOL = 1 => "multiprotocol",
        ROUTE_REFRESH = 2 => "route-refresh",
        EXTENDED_NEXT_HOP = 5 => "extended-nexthop",
        EXTENDED_MESSAGE = 6 => "extended-message",
        ROLE = 9 => "role",
        GRACEFUL_RESTART = 64 => "graceful-restart",
        FOUR_OCTET_AS = 65 => "4-octet-as",
        ADD_PATH = 69 => "add-path",
        ENHANCED_ROUTE_REFRESH = 70 => "enhanced-route-refresh",
        LONG_LIVED_GRACEFUL_RESTART = 71 => "long-lived-graceful-restart",
        FQDN = 73 => "fqdn",
        ROUTE_REFRESH_CISCO = 128 => "route-refresh-old",
    }
}

codepoint! {
    /// NOTIFICATION error code (RFC 4271 §4.5, RFC 7313, RFC 9687).
    ErrorCode(u8) {
        MESSAGE_HEADER = 1 => "Message Header Error",
        OPEN_MESSAGE = 2 => "OPEN Message Error",
        UPDATE_MESSAGE = 3 => "UPDATE Message Error",
        HOLD_TIMER_EXPIRED = 4 => "Hold Timer Expired",
        FSM = 5 => "Finite State Machine Error",
        CEASE = 6 => "Cease",
        ROUTE_REFRESH = 7 => "ROUTE-REFRESH Message Error",
        SEND_HOLD_TIMER_EXPIRED = 8 => "Send Hold Timer Expired",
    }
}

/// AS_TRANS, the 2-octet stand-in for a 4-octet AS (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// An address family: AFI and SAFI together (RFC 4760).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// Address Family Identifier.
    pub afi: Afi,
    /// Subsequent Address Family Identifier.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast (1/1).
    pub const IPV4_UNICAST: Family = Family {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
    };
    /// IPv6 unicast (2/1).
    pub const IPV6_UNICAST: Family = Family {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
    };

    /// The family `afi`/`safi`.
    pub const fn new(afi: Afi, safi: Safi) -> Family {
        Family { afi, safi }
    }
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `ipv4-unicast`, `ipv6-unicast`, or `afi-1-safi-4` style for unnamed codepoints.
impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.afi.name(), self.safi.name()) {
            (Some(a), Some(s)) => write!(f, "{a}-{s}"),
            _ => write!(f, "afi-{}-safi-{}", self.afi.0, self.safi.0),
        }
    }
}

impl core::str::FromStr for Family {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Family, &'static str> {
        match s {
            "ipv4-unicast" => Ok(Family::IPV4_UNICAST),
            "ipv6-unicast" => Ok(Family::IPV6_UNICAST),
            _ => Err("expected \"ipv4-unicast\" or \"ipv6-unicast\""),
        }
    }
}
