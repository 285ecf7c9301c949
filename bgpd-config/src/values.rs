//! Parsers for the scalar values a config file holds as strings or integers. Each returns a
//! message fit to follow the key path in a diagnostic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

use bgp_proto::{Community, LargeCommunity};

use super::raw::IntOrStr;
use super::HoldTime;

/// `"64512:100"` (two 16-bit halves, RFC 1997) or a well-known name such as `"no-export"`
/// (bgp-proto's `FromStr`, with a message that says what is expected).
pub fn parse_community(s: &str) -> Result<Community, String> {
    s.parse().map_err(|_| {
        format!(
            "expected \"ASN:VALUE\" with two numbers 0..=65535 or a well-known name \
             (no-export, no-advertise, ...), got \"{s}\""
        )
    })
}

/// `"64512:1:100"`: three 32-bit numbers (RFC 8092 §3).
pub fn parse_large_community(s: &str) -> Result<LargeCommunity, String> {
    s.parse().map_err(|_| {
        format!("expected \"GLOBAL:LOCAL1:LOCAL2\" with three numbers 0..=4294967295, got \"{s}\"")
    })
}

/// Writes a community the way the config accepts it (`no-export`, `64512:100`).
pub(crate) fn community_to_string(c: Community) -> String {
    c.to_string()
}

/// An integer number of seconds, or a string with a unit: `"90s"`, `"1500ms"`, `"2m"`,
/// `"1h"`, or a bare number of seconds `"90"`.
pub(crate) fn parse_duration(v: &IntOrStr) -> Result<Duration, String> {
    match v {
        IntOrStr::Int(n) => u64::try_from(*n)
            .map(Duration::from_secs)
            .map_err(|_| format!("a duration cannot be negative, got {n}")),
        IntOrStr::Str(s) => {
            let bad = || {
                format!(
                    "expected seconds or a duration like \"90s\", \"500ms\", \"2m\", got \"{s}\""
                )
            };
            let t = s.trim();
            let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(digits);
            let n: u64 = num.parse().map_err(|_| bad())?;
            let d = match unit.trim() {
                "" | "s" | "sec" | "secs" => Duration::from_secs(n),
                "ms" => Duration::from_millis(n),
                "m" | "min" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
                "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            Ok(d)
        }
    }
}

/// Writes a duration as the config accepts it: whole seconds as an integer, else `"NNNms"`.
pub(crate) fn duration_to_toml(d: std::time::Duration) -> toml_edit::Value {
    if d.subsec_nanos() == 0 {
        toml_edit::Value::from(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    } else {
        toml_edit::Value::from(format!("{}ms", d.as_millis()))
    }
}

/// An AS number: an integer, or asplain/asdot text (`"4200000001"`, `"64086.59905"`,
/// RFC 5396 §1).
pub(crate) fn parse_asn(v: &IntOrStr) -> Result<u32, String> {
    let n = match v {
        IntOrStr::Int(n) => u32::try_from(*n)
            .map_err(|_| format!("an AS number must be 1..=4294967295, got {n}"))?,
        IntOrStr::Str(s) => {
            let bad = || {
                format!("expected an AS number like 64512 or \"64086.59905\" (asdot), got \"{s}\"")
            };
            match s.split_once('.') {
                Some((hi, lo)) => {
                    let hi: u16 = hi.parse().map_err(|_| bad())?;
                    let lo: u16 = lo.parse().map_err(|_| bad())?;
                    u32::from(hi) << 16 | u32::from(lo)
                }
                None => s.parse().map_err(|_| bad())?,
            }
        }
    };
    if n == 0 {
        // RFC 7607 §2: AS 0 must not be used.
        return Err("AS 0 is reserved and cannot be used (RFC 7607)".to_owned());
    }
    if n == u32::from(bgp_proto::AS_TRANS) {
        // RFC 6793 §9: AS_TRANS is only a placeholder for 4-octet ASNs on 2-octet sessions.
        return Err("AS 23456 is AS_TRANS and cannot be a speaker's AS (RFC 6793 §9)".to_owned());
    }
    Ok(n)
}

pub(crate) fn nonzero(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err("must be more than 0".to_owned())
    } else {
        Ok(d)
    }
}

pub(crate) fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("expected an IPv4 or IPv6 address, got \"{s}\""))
}

/// RFC 4271 §4.2: a 4-octet unsigned, non-zero BGP Identifier (RFC 6286 §2.1).
pub(crate) fn parse_router_id(s: &str) -> Result<Ipv4Addr, String> {
    let id: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("expected an IPv4 address such as \"10.255.0.2\", got \"{s}\""))?;
    if id.is_unspecified() {
        return Err("the BGP identifier must not be 0.0.0.0 (RFC 6286 §2.1)".to_owned());
    }
    Ok(id)
}

/// `ADDR:PORT`, `[V6]:PORT`, or a bare address with `default_port`.
pub(crate) fn parse_socket_addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(format!("expected an address with an optional port like \"0.0.0.0:179\" or \"[::]:179\", got \"{s}\""))
}

/// A prefix (`192.0.2.10/32`) or a bare address (a host route). Host bits must be clear.
pub(crate) fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let net = match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => {
                return Err(format!(
                    "expected a prefix like \"192.0.2.10/32\" or \"2001:db8::10/128\", got \"{s}\""
                ))
            }
        },
    };
    if net.trunc() != net {
        return Err(format!(
            "host bits are set in {net}; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// RFC 4271 §4.2: "Hold Time ... MUST be either zero or at least three seconds."
pub(crate) fn parse_hold_time(v: &IntOrStr) -> Result<HoldTime, String> {
    let d = parse_whole_seconds(v)?;
    let secs = u16::try_from(d.as_secs()).map_err(|_| {
        format!(
            "hold time is a 16-bit number of seconds, at most 65535, got {}",
            d.as_secs()
        )
    })?;
    HoldTime::new(secs).ok_or_else(|| {
        format!("hold time must be 0 or at least 3 seconds (RFC 4271 §4.2), got {secs}")
    })
}

/// Timers carried in whole seconds on the wire.
pub(crate) fn parse_whole_seconds(v: &IntOrStr) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.subsec_nanos() != 0 {
        return Err(format!(
            "must be a whole number of seconds, got {}ms",
            d.as_millis()
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities() {
        assert_eq!(
            parse_community("64512:100"),
            Ok(Community(64512 << 16 | 100))
        );
        assert_eq!(parse_community("no-export"), Ok(Community(0xFFFF_FF01)));
        assert_eq!(parse_community("NO-EXPORT"), Ok(Community(0xFFFF_FF01)));
        assert!(parse_community("65536:1").is_err());
        assert!(parse_community("1:2:3").is_err());
        assert!(parse_community("").is_err());
        assert_eq!(
            community_to_string(Community(0xFFFF_0000)),
            "graceful-shutdown"
        );
        assert_eq!(community_to_string(Community(64512 << 16 | 7)), "64512:7");
    }

    #[test]
    fn large_communities() {
        let c = LargeCommunity {
            global: 4200000000,
            local1: 1,
            local2: 100,
        };
        assert_eq!(parse_large_community("4200000000:1:100"), Ok(c));
        assert!(parse_large_community("1:2").is_err());
        assert!(parse_large_community("1:2:3:4").is_err());
        assert!(parse_large_community("1:2:4294967296").is_err());
    }

    #[test]
    fn durations() {
        let s = |x: &str| parse_duration(&IntOrStr::Str(x.into()));
        assert_eq!(
            parse_duration(&IntOrStr::Int(90)),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(s("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(s("90"), Ok(Duration::from_secs(90)));
        assert_eq!(s("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(s("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(s("1h"), Ok(Duration::from_secs(3600)));
        assert!(s("1.5s").is_err());
        assert!(s("s").is_err());
        assert!(s("5 days").is_err());
        assert!(parse_duration(&IntOrStr::Int(-1)).is_err());
    }

    #[test]
    fn asns() {
        assert_eq!(parse_asn(&IntOrStr::Int(4200000001)), Ok(4200000001));
        assert_eq!(
            parse_asn(&IntOrStr::Str("64086.59905".into())),
            Ok(64086 << 16 | 59905)
        );
        assert_eq!(parse_asn(&IntOrStr::Str("65000".into())), Ok(65000));
        assert!(parse_asn(&IntOrStr::Int(0)).is_err());
        assert!(parse_asn(&IntOrStr::Int(23456)).is_err());
        assert!(parse_asn(&IntOrStr::Int(1 << 32)).is_err());
        assert!(parse_asn(&IntOrStr::Int(-5)).is_err());
    }
}
