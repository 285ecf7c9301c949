//! The TOML file as written: serde structs with `deny_unknown_fields`, every key optional
//! where a default exists. Nothing here is checked beyond its TOML type; `validate.rs` turns
//! these into the types in `mod.rs` and reports errors by key path.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub global: Option<RawGlobal>,
    #[serde(default)]
    pub peers: Vec<RawPeer>,
    #[serde(default)]
    pub services: Vec<RawService>,
    /// `[bfd_profiles.NAME]`: BFD settings that peers name with `bfd = "NAME"`.
    #[serde(default)]
    pub bfd_profiles: std::collections::BTreeMap<String, RawBfdProfile>,
    /// `[fib]`: program received routes into the kernel (a router's bgpd).
    pub fib: Option<RawFib>,
    /// `[rib]`: the Loc-RIB's multipath rule.
    pub rib: Option<RawRib>,
}

/// `[fib]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFib {
    pub table: Option<Int>,
    pub protocol: Option<Int>,
    pub resilient: Option<bool>,
    pub buckets: Option<Int>,
    pub idle_timer: Option<IntOrStr>,
    pub unbalanced_timer: Option<IntOrStr>,
    pub retain_on_stop: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRib {
    pub max_paths: Option<Int>,
    pub as_path_relax: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    pub asn: Option<IntOrStr>,
    pub router_id: Option<String>,
    pub listen: Option<Vec<String>>,
    pub hold_time: Option<IntOrStr>,
    pub keepalive: Option<IntOrStr>,
    pub connect_retry: Option<IntOrStr>,
    pub control_socket: Option<String>,
    pub metrics_listen: Option<String>,
    pub drain_time: Option<IntOrStr>,
    pub state_dir: Option<String>,
    pub graceful_restart_deferral: Option<IntOrStr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeer {
    pub name: Option<String>,
    pub address: Option<String>,
    pub asn: Option<IntOrStr>,
    pub port: Option<Int>,
    pub passive: Option<bool>,
    pub local_address: Option<String>,
    pub hold_time: Option<IntOrStr>,
    pub keepalive: Option<IntOrStr>,
    pub connect_retry: Option<IntOrStr>,
    pub password: Option<String>,
    pub ebgp_multihop: Option<Int>,
    pub ttl_security: Option<bool>,
    pub families: Option<Vec<String>>,
    pub add_path: Option<bool>,
    pub max_prefixes: Option<Int>,
    pub graceful_restart: Option<bool>,
    pub restart_time: Option<IntOrStr>,
    pub llgr_stale_time: Option<IntOrStr>,
    pub graceful_notification: Option<bool>,
    pub max_prefixes_restart: Option<IntOrStr>,
    pub max_queued_bytes: Option<Int>,
    pub idle_hold_time: Option<IntOrStr>,
    pub damp_peer_oscillations: Option<bool>,
    pub delay_open: Option<IntOrStr>,
    pub open_hold_time: Option<IntOrStr>,
    pub send_hold_time: Option<IntOrStr>,
    pub min_hold_time: Option<IntOrStr>,
    pub max_prefixes_action: Option<String>,
    pub enforce_first_as: Option<bool>,
    pub shutdown_message: Option<String>,
    pub ipv4_nexthop: Option<String>,
    pub ipv6_nexthop: Option<String>,
    pub import: Option<StrOrList>,
    pub allow_own_as: Option<Int>,
    pub local_as: Option<IntOrStr>,
    pub announce: Option<RawPeerAnnounce>,
    pub role: Option<String>,
    pub role_strict: Option<bool>,
    pub password_file: Option<String>,
    pub interface: Option<String>,
    pub extended_next_hop: Option<bool>,
    pub bfd: Option<RawBfd>,
}

/// `[peers.announce]`: what every service carries to this peer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeerAnnounce {
    pub communities: Option<Vec<String>>,
    pub large_communities: Option<Vec<String>>,
    pub med: Option<Int>,
    pub local_pref: Option<Int>,
    pub as_path_prepend: Option<Int>,
}

/// `bfd = true`, `bfd = "profile"` or `bfd = { min_rx = "50ms", ... }`.
#[derive(Debug)]
pub(crate) enum RawBfd {
    Enabled(bool),
    Profile(String),
    Inline(RawBfdProfile),
}

/// The BFD keys of an inline `bfd = { .. }` table or a `[bfd_profiles.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBfdProfile {
    pub min_rx: Option<IntOrStr>,
    pub min_tx: Option<IntOrStr>,
    pub multiplier: Option<Int>,
    pub passive: Option<bool>,
}

impl<'de> Deserialize<'de> for RawBfd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawBfd, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBfd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "true, false, a profile name or a table like { min_rx = \"300ms\", \
                     min_tx = \"300ms\", multiplier = 3 }",
                )
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawBfd, E> {
                Ok(RawBfd::Enabled(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawBfd, E> {
                Ok(RawBfd::Profile(v.to_owned()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawBfd, A::Error> {
                RawBfdProfile::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawBfd::Inline)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub nexthops: Option<Vec<String>>,
    pub communities: Option<Vec<String>>,
    pub large_communities: Option<Vec<String>>,
    pub med: Option<Int>,
    pub local_pref: Option<Int>,
    pub as_path_prepend: Option<Int>,
    pub weight: Option<Int>,
    pub peers: Option<Vec<String>>,
    pub health: Option<RawHealth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub target: Option<String>,
    pub command: Option<Vec<String>>,
    pub expect_status: Option<Int>,
    pub interval: Option<IntOrStr>,
    pub timeout: Option<IntOrStr>,
    pub rise: Option<Int>,
    pub fall: Option<Int>,
    pub on_fail: Option<String>,
    pub demote: Option<RawDemote>,
    pub disable_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDemote {
    pub med: Option<Int>,
    pub communities: Option<Vec<String>>,
    pub as_path_prepend: Option<Int>,
}

/// A value written either as an integer or as a string: durations (`90` or `"1500ms"`) and
/// AS numbers (`4200000001` or asdot `"64086.59905"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntOrStr {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for IntOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IntOrStr, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrStr, E> {
                i64::try_from(v)
                    .map(IntOrStr::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value written either as a string (`import = "none"`) or as a list of strings
/// (`import = ["192.0.2.0/24 le 32"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrOrList {
    Str(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for StrOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrOrList, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrOrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"none\", \"all\" or a list of prefixes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrList, E> {
                Ok(StrOrList::Str(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrOrList, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    list.push(item);
                }
                Ok(StrOrList::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer as written. Its own type so that a wrong value reads "expected an integer"
/// rather than serde's "expected i64", for every integer key at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int(pub i64);

impl Int {
    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Int, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
        }
        d.deserialize_any(V)
    }
}
