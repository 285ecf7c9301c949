//! The control API: versioned JSON request/response types shared by the server
//! ([`crate::control`]) and `bgpctl`.
//!
//! Protocol (documented in `docs/operations.md`): a client connects to the Unix socket
//! `global.control_socket`, writes one request as one line of JSON, and reads one response
//! line per request; it may send several requests on one connection. Every request and
//! response carries `"v": 1` ([`API_VERSION`]); a server refuses a request of another version
//! with an error response. `events` with `"follow": true` is the only streaming request:
//! after its response, the server writes one `{"v":1,"event":{...}}` line per new event
//! until the client closes the connection.
//!
//! ```text
//! > {"v":1,"cmd":"withdraw","prefix":"192.0.2.10/32"}
//! < {"v":1,"ok":true,"data":{"prefix":"192.0.2.10/32","note":"runtime change ..."}}
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Defines a struct with the attributes a runtime route carries (communities, large
/// communities, MED, LOCAL_PREF and the peers it goes to) after its own leading fields and
/// before its trailing ones: the one list of those fields, shared by [`AnnounceArgs`],
/// [`AnnounceManyArgs`] and [`RuntimeInfo`] (the field order is the JSON key order).
macro_rules! with_route_attrs {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)*
            ..route_attrs
            $($(#[$tmeta:meta])* pub $tfield:ident: $tty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Communities (RFC 1997), as `ASN:VALUE`.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub communities: Vec<String>,
            /// Large communities (RFC 8092), as `GLOBAL:LOCAL1:LOCAL2`.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub large_communities: Vec<String>,
            /// MULTI_EXIT_DISC to send (RFC 4271 §5.1.4); none when absent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub med: Option<u32>,
            /// LOCAL_PREF to send to iBGP peers (RFC 4271 §5.1.5); the default when absent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub local_pref: Option<u32>,
            /// Peer names; empty means every peer.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub peers: Vec<String>,
            $($(#[$tmeta])* pub $tfield: $tty,)*
        }
    };
}

mod view;
pub use view::*;

/// The protocol version spoken by this build.
pub const API_VERSION: u32 = 1;

/// Longest request line the server accepts, in bytes: room for about 1.5 million prefixes
/// in one `announce-many`.
pub const MAX_REQUEST_LEN: usize = 32 * 1024 * 1024;

/// Environment variable that overrides the default socket path of `bgpctl`.
pub const SOCKET_ENV: &str = "BGPD_SOCKET";

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Protocol version ([`API_VERSION`]).
    pub v: u32,
    /// The command and its arguments (`cmd` and its fields, flattened into the same object).
    #[serde(flatten)]
    pub command: Command,
}

impl Request {
    /// A request of this build's protocol version ([`API_VERSION`]).
    pub fn new(command: Command) -> Request {
        Request {
            v: API_VERSION,
            command,
        }
    }
}

/// What a request asks for; `cmd` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Every peer ([`Neighbor`] list).
    Neighbors,
    /// One peer by name (or address).
    Neighbor {
        /// The peer's name or address.
        name: String,
    },
    /// Adj-RIB-Out (or, with `received`, Adj-RIB-In) of every peer or of `peer`.
    Routes {
        /// Only this peer (name or address); all peers when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        /// The Adj-RIB-In (routes received, after the import policy) instead of the Adj-RIB-Out.
        #[serde(default)]
        received: bool,
        /// The Loc-RIB instead ([`LocRibEntry`] list): every received path per prefix,
        /// which are selected and why the others are not (`peer` filters the paths shown).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        best: bool,
        /// Only this prefix (with `best`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// Every service ([`ServiceInfo`] list).
    Services,
    /// Announce a runtime service (not written to the configuration file).
    Announce(AnnounceArgs),
    /// Withdraw a runtime service, or suppress a configured one until restart or `announce`.
    Withdraw {
        /// The prefix to withdraw.
        prefix: String,
    },
    /// Announce many runtime services with the same attributes in one change
    /// (`bgpctl announce --file`).
    AnnounceMany(AnnounceManyArgs),
    /// Withdraw many prefixes in one change, each as `withdraw` would
    /// (`bgpctl withdraw --file`).
    WithdrawMany {
        /// The prefixes to withdraw.
        prefixes: PrefixList,
    },
    /// The event timeline; `since_ms` limits it to the last milliseconds; `follow` streams.
    Events {
        /// Only the events of the last this many milliseconds; every kept event when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
        /// Keep the connection open and stream new events as [`EventLine`]s.
        #[serde(default)]
        follow: bool,
    },
    /// Why `prefix` is or is not announced to each peer.
    Explain {
        /// The prefix asked about.
        prefix: String,
    },
    /// RFC 8326 graceful shutdown of every session: GRACEFUL_SHUTDOWN for `time_ms`
    /// (default `global.drain_time`, else 30 s), then withdraw and Cease 6/2.
    Drain {
        /// How long routes carry GRACEFUL_SHUTDOWN before they are withdrawn, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_ms: Option<u64>,
    },
    /// Cancel a drain: sessions start again and routes are announced normally.
    Undrain,
    /// Remove every runtime service (`bgpctl withdraw --all`); configured services stay.
    WithdrawAll,
    /// The runtime services ([`RuntimeInfo`] list).
    Runtime,
    /// An operation on one peer (`bgpctl neighbor NAME ACTION`), answered with
    /// [`NeighborOpResult`]; the other peers are not touched.
    NeighborOp {
        /// The peer's name or address.
        name: String,
        /// What to do.
        op: NeighborOp,
    },
    /// The running configuration with every default filled in, secrets masked
    /// ([`RunningConfig`]): what the last successful start or reload applied.
    Config,
    /// Hold End-of-RIB after a restart until `sync-end` (or `global.graceful_restart_deferral`):
    /// a controller re-feeding its routes (RFC 4724 §4.1 leaves the timing to the speaker).
    SyncBegin,
    /// The controller has fed every route: End-of-RIB may go out.
    SyncEnd,
    /// What the kernel FIB holds of ours (`[fib]`), read from the FIB's own mirror
    /// ([`FibView`]).
    Fib,
}

with_route_attrs! {
    /// Arguments of `announce`.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AnnounceArgs {
        /// The prefix to announce, e.g. `192.0.2.10/32` or `2001:db8::10/128`.
        pub prefix: String,
        /// `"self"` or addresses; empty means `["self"]`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub nexthops: Vec<String>,
        ..route_attrs
    }
}

with_route_attrs! {
    /// Arguments of `announce-many`: [`AnnounceArgs`] with a list of prefixes.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AnnounceManyArgs {
        /// The prefixes to announce, each with the same attributes.
        pub prefixes: PrefixList,
        /// `"self"` or addresses; empty means `["self"]`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub nexthops: Vec<String>,
        ..route_attrs
    }
}

/// The prefixes of a bulk request. On the wire either a JSON array of strings or one string
/// holding them separated by whitespace, which `bgpctl --file` sends: a million prefixes are
/// then one string to parse, not a million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixList(String);

impl PrefixList {
    /// A list of the given prefixes (not checked here).
    pub fn new<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> PrefixList {
        let mut text = String::new();
        for item in items {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(item.as_ref());
        }
        PrefixList(text)
    }

    /// The prefixes, as given.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split_whitespace()
    }

    /// How many prefixes the list holds (counts them: O(n)).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the list holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl Serialize for PrefixList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PrefixList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PrefixList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of prefixes, or a string of whitespace-separated prefixes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PrefixList, E> {
                Ok(PrefixList(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<PrefixList, E> {
                Ok(PrefixList(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PrefixList, A::Error> {
                let mut text = String::new();
                while let Some(item) = seq.next_element::<String>()? {
                    if item.split_whitespace().count() != 1 {
                        return Err(serde::de::Error::custom(format!(
                            "invalid prefix {item:?} in the list"
                        )));
                    }
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&item);
                }
                Ok(PrefixList(text))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl AnnounceArgs {
    /// The same attributes for a list of prefixes (`prefix` is dropped).
    pub fn with_prefixes(self, prefixes: PrefixList) -> AnnounceManyArgs {
        AnnounceManyArgs {
            prefixes,
            nexthops: self.nexthops,
            communities: self.communities,
            large_communities: self.large_communities,
            med: self.med,
            local_pref: self.local_pref,
            peers: self.peers,
        }
    }
}

impl AnnounceManyArgs {
    /// The shared attributes, as the arguments of a single `announce` (no prefix).
    pub fn template(&self) -> AnnounceArgs {
        AnnounceArgs {
            prefix: String::new(),
            nexthops: self.nexthops.clone(),
            communities: self.communities.clone(),
            large_communities: self.large_communities.clone(),
            med: self.med,
            local_pref: self.local_pref,
            peers: self.peers.clone(),
        }
    }
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Protocol version ([`API_VERSION`]).
    pub v: u32,
    /// Whether the request succeeded; `error` is set when not.
    pub ok: bool,
    /// Why the request failed, as a sentence for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer of a successful request; its shape depends on the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl Response {
    /// A successful response carrying `data` serialized to JSON.
    pub fn ok(data: impl Serialize) -> Response {
        match serde_json::to_value(data) {
            Ok(v) => Response {
                v: API_VERSION,
                ok: true,
                error: None,
                data: Some(v),
            },
            Err(e) => Response::error(format!("cannot encode the response: {e}")),
        }
    }

    /// A failed response with the sentence `message`.
    pub fn error(message: impl Into<String>) -> Response {
        Response {
            v: API_VERSION,
            ok: false,
            error: Some(message.into()),
            data: None,
        }
    }

    /// The data as `T`, or the server's error.
    pub fn into_data<T: for<'de> Deserialize<'de>>(self) -> Result<T, String> {
        if !self.ok {
            return Err(self.error.unwrap_or_else(|| "unknown error".into()));
        }
        serde_json::from_value(self.data.unwrap_or(serde_json::Value::Null))
            .map_err(|e| format!("unexpected response from bgpd: {e}"))
    }
}

/// A streamed event line of `events --follow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    /// Protocol version ([`API_VERSION`]).
    pub v: u32,
    /// The new event.
    pub event: EventInfo,
}

/// Parses one request line. Errors are sentences for the error response.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("request is not JSON: {e}"))?;
    let v = value
        .get("v")
        .and_then(serde_json::Value::as_u64)
        .ok_or("request lacks the protocol version \"v\"")?;
    if v != u64::from(API_VERSION) {
        return Err(format!(
            "unsupported protocol version {v}; this bgpd speaks version {API_VERSION}"
        ));
    }
    let given: Vec<String> = value
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let request: Request =
        serde_json::from_value(value).map_err(|e| format!("bad request: {e}"))?;
    // serde ignores unknown keys next to a flattened enum; a typo must not be silent. The
    // keys a request has are those it serializes to (without its prefix lists, which may
    // hold a million entries).
    let known = serde_json::to_value(skeleton(&request)).unwrap_or_default();
    if let Some(known) = known.as_object() {
        if let Some(k) = given.iter().find(|k| !known.contains_key(*k)) {
            return Err(format!("bad request: unknown field \"{k}\""));
        }
    }
    Ok(request)
}

/// `request` with its prefix lists emptied (the keys stay).
fn skeleton(request: &Request) -> Request {
    let command = match &request.command {
        Command::AnnounceMany(a) => {
            Command::AnnounceMany(a.template().with_prefixes(PrefixList::default()))
        }
        Command::WithdrawMany { .. } => Command::WithdrawMany {
            prefixes: PrefixList::default(),
        },
        other => other.clone(),
    };
    Request {
        v: request.v,
        command,
    }
}

/// What `neighbor-op` does to one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum NeighborOp {
    /// Cease 6/2 with the RFC 9003 Shutdown Communication `message`; the peer stays down
    /// (across reloads and restarts) until `enable`.
    Shutdown {
        /// The RFC 9003 Shutdown Communication sent with the Cease.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Start a shut-down peer again.
    Enable,
    /// Close with Cease 6/4 (Administrative Reset) and start again; `hard`: as an RFC 8538
    /// Hard Reset (6/9), so the peer drops our routes instead of keeping them stale.
    Reset {
        /// Send Cease 6/9 Hard Reset (RFC 8538) instead of 6/4.
        #[serde(default)]
        hard: bool,
    },
    /// ROUTE-REFRESH to the peer (RFC 2918) and our routes sent again.
    Refresh,
    /// RFC 8326 for this peer only: its routes carry GRACEFUL_SHUTDOWN (LOCAL_PREF 0 on
    /// iBGP) until `undrain`.
    Drain,
    /// End a per-peer drain: routes are sent again without GRACEFUL_SHUTDOWN.
    Undrain,
}

/// The note every runtime change carries.
pub const RUNTIME_NOTE: &str = "runtime change only: not written to the configuration file; \
     kept in the state directory across restarts (bgpctl withdraw --all clears them)";

// ---------------------------------------------------------------------------------------
// Durations

/// Parses "500ms", "30s", "2m", "1h" or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "invalid duration {s:?}: expected e.g. \"30s\", \"500ms\", \"2m\""
        ));
    }
    let (num, unit) = s.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: number too large"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        other => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {other:?} (ms, s, m, h)"
            ))
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("invalid duration {s:?}: too large"))
}

/// "1h2m3s", "45s", "250ms".
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            return write!(f, "{}ms", d.as_millis());
        }
        let s = d.as_secs();
        let (days, h, m, sec) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
        if days > 0 {
            write!(f, "{days}d{h}h{m}m")
        } else if h > 0 {
            write!(f, "{h}h{m}m{sec}s")
        } else if m > 0 {
            write!(f, "{m}m{sec}s")
        } else {
            write!(f, "{sec}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_requests_take_a_prefix_string_or_array_and_refuse_unknown_keys() {
        let text = parse_request(
            r#"{"v":1,"cmd":"announce-many","prefixes":"10.0.0.1/32\n10.0.0.2/32  10.0.0.3/32","med":5}"#,
        )
        .expect("string form");
        let array = parse_request(
            r#"{"v":1,"cmd":"announce-many","prefixes":["10.0.0.1/32","10.0.0.2/32","10.0.0.3/32"],"med":5}"#,
        )
        .expect("array form");
        for r in [&text, &array] {
            let Command::AnnounceMany(a) = &r.command else {
                panic!("{r:?}")
            };
            assert_eq!(
                a.prefixes.iter().collect::<Vec<_>>(),
                vec!["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"]
            );
            assert_eq!(a.med, Some(5));
        }
        // What bgpctl sends parses back to the same request.
        let line = serde_json::to_string(&array).expect("serialize");
        assert_eq!(parse_request(&line).expect("round trip"), array);
        let err =
            parse_request(r#"{"v":1,"cmd":"withdraw-many","prefixes":"10.0.0.1/32","mde":5}"#)
                .expect_err("unknown key");
        assert!(err.contains("unknown field"), "{err}");
        let err = parse_request(r#"{"v":1,"cmd":"withdraw-many","prefixes":["10.0.0.1/32 x"]}"#)
            .expect_err("two in one element");
        assert!(err.contains("invalid prefix"), "{err}");
        assert!(parse_request(r#"{"v":1,"cmd":"withdraw-many"}"#).is_err());
    }

    #[test]
    fn requests_round_trip_through_one_line() {
        let cases = vec![
            Command::Neighbors,
            Command::Neighbor {
                name: "tor-a".into(),
            },
            Command::Routes {
                peer: Some("tor-a".into()),
                received: true,
                best: false,
                prefix: None,
            },
            Command::Routes {
                peer: None,
                received: false,
                best: true,
                prefix: Some("192.0.2.10/32".into()),
            },
            Command::Services,
            Command::Announce(AnnounceArgs {
                prefix: "192.0.2.10/32".into(),
                nexthops: vec!["10.0.0.1".into()],
                communities: vec!["64512:1".into()],
                large_communities: vec!["64512:1:2".into()],
                med: Some(5),
                local_pref: Some(200),
                peers: vec![],
            }),
            Command::Withdraw {
                prefix: "192.0.2.10/32".into(),
            },
            Command::Events {
                since_ms: Some(60_000),
                follow: true,
            },
            Command::Explain {
                prefix: "192.0.2.10/32".into(),
            },
            Command::Drain { time_ms: Some(500) },
            Command::Undrain,
        ];
        for cmd in cases {
            let line = serde_json::to_string(&Request::new(cmd.clone())).expect("encode");
            assert!(!line.contains('\n'));
            assert_eq!(parse_request(&line), Ok(Request::new(cmd)), "{line}");
        }
    }

    #[test]
    fn wire_format_is_stable() {
        let line = serde_json::to_string(&Request::new(Command::Withdraw {
            prefix: "192.0.2.10/32".into(),
        }))
        .expect("encode");
        assert_eq!(line, r#"{"v":1,"cmd":"withdraw","prefix":"192.0.2.10/32"}"#);
        assert_eq!(
            parse_request(r#"{"cmd":"neighbors","v":1}"#),
            Ok(Request::new(Command::Neighbors))
        );
        assert_eq!(
            parse_request(r#"{"v":1,"cmd":"routes"}"#),
            Ok(Request::new(Command::Routes {
                peer: None,
                received: false,
                best: false,
                prefix: None,
            }))
        );
    }

    #[test]
    fn bad_requests_are_sentences_not_panics() {
        let err = |s: &str| parse_request(s).expect_err(s);
        assert!(err("").contains("not JSON"));
        assert!(err("[1,2]").contains("\"v\""));
        assert!(err(r#"{"cmd":"neighbors"}"#).contains("\"v\""));
        assert!(err(r#"{"v":2,"cmd":"neighbors"}"#).contains("unsupported protocol version 2"));
        assert!(err(r#"{"v":1,"cmd":"reboot"}"#).contains("bad request"));
        assert!(err(r#"{"v":1,"cmd":"neighbor"}"#).contains("name"));
        assert!(err(r#"{"v":1,"cmd":"neighbors","x":1}"#).contains("bad request"));
        assert!(err(r#"{"v":1,"cmd":"drain","time_ms":-1}"#).contains("bad request"));
    }

    #[test]
    fn responses_carry_data_or_error() {
        let ok = Response::ok(DrainInfo {
            state: "normal".into(),
            time_ms: None,
            message: "m".into(),
        });
        let line = serde_json::to_string(&ok).expect("encode");
        assert_eq!(
            line,
            r#"{"v":1,"ok":true,"data":{"state":"normal","message":"m"}}"#
        );
        let back: Response = serde_json::from_str(&line).expect("decode");
        let info: DrainInfo = back.into_data().expect("data");
        assert_eq!(info.state, "normal");
        let err = Response::error("no peer named x");
        let line = serde_json::to_string(&err).expect("encode");
        assert_eq!(line, r#"{"v":1,"ok":false,"error":"no peer named x"}"#);
        let back: Response = serde_json::from_str(&line).expect("decode");
        assert_eq!(back.into_data::<DrainInfo>(), Err("no peer named x".into()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert_eq!(
            HumanDuration(Duration::from_secs(3723)).to_string(),
            "1h2m3s"
        );
        assert_eq!(
            HumanDuration(Duration::from_millis(250)).to_string(),
            "250ms"
        );
    }
}
