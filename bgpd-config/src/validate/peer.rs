//! `[[peers]]` entries.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bgp_proto::Family;

use super::{PeerDraft, Validator};
use crate::locate::FieldPath;
use crate::raw::{Int, RawPeer, StrOrList};
use crate::values::{parse_asn, parse_ip, parse_whole_seconds};
use crate::*;

/// RFC 2385 keys are limited by Linux's TCP_MD5SIG_MAXKEYLEN.
const MAX_PASSWORD_LEN: usize = 80;
/// RFC 9003 §2: the Shutdown Communication is at most 255 octets of UTF-8.
const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;
/// RFC 4724 §3: Restart Time is a 12-bit number of seconds.
const MAX_RESTART_TIME: u64 = 4095;
/// RFC 9494 §3: Long-lived Stale Time is a 24-bit number of seconds.
const MAX_LLGR_STALE_TIME: u64 = 0x00FF_FFFF;
/// The smallest send-queue cap: one maximum-size (RFC 8654) message must fit.
const MIN_QUEUED_BYTES: i64 = 65535;

impl Validator<'_> {
    pub(super) fn peer(
        &mut self,
        r: &RawPeer,
        path: &FieldPath,
        global: &Global,
        bfd_profiles: &std::collections::BTreeMap<String, BfdSettings>,
    ) -> Option<PeerDraft> {
        // An unnumbered peer (`interface` alone): the neighbor's link-local address is learned
        // from the link at run time (bgpd's `unnumbered`); `address` holds `::` until then.
        let unnumbered = r.address.is_none() && r.interface.is_some();
        let address = match &r.address {
            Some(a) => match self.check(&path.key("address"), parse_ip(a)) {
                Some(a) if a.is_unspecified() => {
                    self.err(
                        &path.key("address"),
                        format!(
                            "{a} is not a peer address (leave `address` out and set \
                             `interface` for a neighbor learned from the link)"
                        ),
                    );
                    None
                }
                a => a,
            },
            None if unnumbered => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            None => {
                self.err(
                    &path.key("address"),
                    "missing key: the peer's IPv4 or IPv6 address is required (or `interface` \
                     alone for an unnumbered peer learned from the link)",
                );
                None
            }
        };
        let asn = self
            .required(
                || path.key("asn"),
                r.asn.as_ref().map(parse_asn),
                "the peer's AS number",
            )
            .map(Asn);
        let name = match &r.name {
            Some(n) if n.trim().is_empty() => {
                self.err(
                    &path.key("name"),
                    "must not be empty (leave it out to use the address)",
                );
                None
            }
            Some(n) => Some(n.clone()),
            None if unnumbered => r.interface.clone(),
            None => address.map(|a| a.to_string()),
        };
        let port = match r.port.map(Int::get) {
            None => BGP_PORT,
            Some(p) => self
                .check(
                    &path.key("port"),
                    match u16::try_from(p) {
                        Ok(p) if p != 0 => Ok(p),
                        _ => Err(format!("port must be 1..=65535, got {p}")),
                    },
                )
                .unwrap_or(BGP_PORT),
        };
        let passive = r.passive.unwrap_or(false);
        if passive && global.listen.is_empty() {
            self.err(
                &path.key("passive"),
                "a passive peer can never connect: global.listen is empty",
            );
        }
        let local_address = r.local_address.as_ref().and_then(|s| {
            let p = path.key("local_address");
            let a = self.check(&p, parse_ip(s))?;
            match address {
                _ if unnumbered && !matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local()) => {
                    self.err(
                        &p,
                        format!(
                            "an unnumbered peer's session runs between link-local addresses: \
                             local_address must be a link-local (fe80::/10) address of the \
                             interface or left out, got {a}"
                        ),
                    );
                    None
                }
                Some(peer) if !unnumbered && peer.is_ipv4() != a.is_ipv4() => {
                    self.err(
                        &p,
                        format!(
                            "local address {a} and peer address {peer} are of different families"
                        ),
                    );
                    None
                }
                _ => Some(a),
            }
        });
        let (hold_time, keepalive) = self.timers(
            path,
            r.hold_time.as_ref(),
            r.keepalive.as_ref(),
            Some((global.hold_time, global.keepalive)),
        );
        let connect_retry = self
            .connect_retry(&path.key("connect_retry"), r.connect_retry.as_ref())
            .unwrap_or(global.connect_retry);
        let password = r.password.as_ref().and_then(|pw| {
            let p = path.key("password");
            if pw.is_empty() {
                self.err(&p, "must not be empty (leave it out for no TCP MD5 signature)");
                None
            } else if pw.len() > MAX_PASSWORD_LEN {
                self.err(&p, format!(
                    "TCP MD5 keys are at most {MAX_PASSWORD_LEN} bytes (RFC 2385, Linux TCP_MD5SIG_MAXKEYLEN), got {}",
                    pw.len()
                ));
                None
            } else {
                Some(pw.clone())
            }
        });
        let password = match (&r.password_file, password) {
            (None, pw) => pw,
            (Some(_), Some(_)) => {
                self.err(
                    &path.key("password_file"),
                    "give password or password_file, not both",
                );
                None
            }
            (Some(file), None) => {
                let p = path.key("password_file");
                self.check(&p, read_password_file(self.host, file))
            }
        };
        let mut ttl = Ttl::Default;
        if let Some(h) = r.ebgp_multihop.map(Int::get) {
            let p = path.key("ebgp_multihop");
            match u8::try_from(h) {
                Ok(h) if h >= 1 => ttl = Ttl::Multihop(h),
                _ => self.err(&p, format!("TTL must be 1..=255, got {h}")),
            }
        }
        if r.ttl_security == Some(true) {
            if r.ebgp_multihop.is_some() {
                self.err(
                    &path.key("ttl_security"),
                    "ttl_security (GTSM, RFC 5082) and ebgp_multihop cannot both be set",
                );
            }
            ttl = Ttl::Security;
        }
        let families_set = r.families.is_some();
        let families = match &r.families {
            None => Vec::new(),
            Some(list) => {
                let p = path.key("families");
                if list.is_empty() {
                    self.err(
                        &p,
                        "must list at least one family (leave it out for the default)",
                    );
                }
                let mut out = Vec::new();
                for (i, f) in list.iter().enumerate() {
                    let fp = p.index(i);
                    match Family::from_str(f) {
                        Ok(f) if out.contains(&f) => self.err(&fp, format!("{f} is listed twice")),
                        Ok(f) => out.push(f),
                        Err(e) => self.err(&fp, format!("{e}, got \"{f}\"")),
                    }
                }
                out
            }
        };
        let max_prefixes = r.max_prefixes.map(Int::get).and_then(|m| {
            let p = path.key("max_prefixes");
            match u32::try_from(m) {
                Ok(m) if m > 0 => Some(m),
                _ => {
                    self.err(
                        &p,
                        format!("must be 1..=4294967295 (leave it out for no limit), got {m}"),
                    );
                    None
                }
            }
        });
        let gr_on = r.graceful_restart.unwrap_or(true);
        let restart_time = match &r.restart_time {
            None => DEFAULT_RESTART_TIME,
            Some(v) => {
                let p = path.key("restart_time");
                if !gr_on {
                    self.warn(&p, "ignored: graceful_restart is false");
                }
                match self.check(&p, parse_whole_seconds(v)) {
                    Some(d) if d.as_secs() <= MAX_RESTART_TIME => d,
                    Some(d) => {
                        self.err(&p, format!(
                            "restart time is a 12-bit field, at most {MAX_RESTART_TIME} seconds (RFC 4724 §3), got {}",
                            d.as_secs()
                        ));
                        DEFAULT_RESTART_TIME
                    }
                    None => DEFAULT_RESTART_TIME,
                }
            }
        };
        // The End-of-RIB deferral must end before the restart time we advertise runs out.
        if let Some(deferral) = global.graceful_restart_deferral {
            if gr_on && !deferral.is_zero() && deferral >= restart_time {
                self.err(
                    &path.key("restart_time"),
                    format!(
                        "global.graceful_restart_deferral ({}s) must be shorter than the restart \
                         time ({}s): End-of-RIB must go out before the routers stop waiting",
                        deferral.as_secs_f64(),
                        restart_time.as_secs()
                    ),
                );
            }
        }
        let llgr_stale_time = r.llgr_stale_time.as_ref().and_then(|v| {
            let p = path.key("llgr_stale_time");
            if !gr_on {
                self.warn(&p, "ignored: graceful_restart is false");
            }
            match self.check(&p, parse_whole_seconds(v))? {
                d if d.is_zero() => None,
                d if d.as_secs() > MAX_LLGR_STALE_TIME => {
                    self.err(&p, format!(
                        "long-lived stale time is a 24-bit field, at most {MAX_LLGR_STALE_TIME} seconds (RFC 9494 §3), got {}",
                        d.as_secs()
                    ));
                    None
                }
                d => Some(d),
            }
        });
        if r.graceful_notification.is_some() && !gr_on {
            self.warn(
                &path.key("graceful_notification"),
                "ignored: graceful_restart is false",
            );
        }
        let graceful_restart = gr_on.then_some(GracefulRestart {
            restart_time,
            llgr_stale_time,
            notification: r.graceful_notification.unwrap_or(true),
        });
        let max_prefixes_restart = match &r.max_prefixes_restart {
            None => DEFAULT_MAX_PREFIXES_RESTART,
            Some(v) => {
                let p = path.key("max_prefixes_restart");
                match self.check(&p, crate::values::parse_duration(v)) {
                    Some(d) if d.is_zero() => {
                        self.err(&p, "must be at least 1 second, got 0");
                        DEFAULT_MAX_PREFIXES_RESTART
                    }
                    Some(d) => d,
                    None => DEFAULT_MAX_PREFIXES_RESTART,
                }
            }
        };
        let idle_hold_time = match &r.idle_hold_time {
            None => DEFAULT_IDLE_HOLD_TIME,
            Some(v) => {
                let p = path.key("idle_hold_time");
                match self.check(&p, crate::values::parse_duration(v)) {
                    Some(d) if d > MAX_IDLE_HOLD_TIME => {
                        self.err(
                            &p,
                            format!(
                                "must be at most {} seconds, got {}",
                                MAX_IDLE_HOLD_TIME.as_secs(),
                                d.as_secs()
                            ),
                        );
                        DEFAULT_IDLE_HOLD_TIME
                    }
                    Some(d) => d,
                    None => DEFAULT_IDLE_HOLD_TIME,
                }
            }
        };
        let max_queued_bytes = match r.max_queued_bytes.map(Int::get) {
            None => DEFAULT_MAX_QUEUED_BYTES,
            Some(m) if m >= MIN_QUEUED_BYTES => m as u64,
            Some(m) => {
                self.err(
                    &path.key("max_queued_bytes"),
                    format!(
                        "must be at least {MIN_QUEUED_BYTES} bytes (one maximum-size message), got {m}"
                    ),
                );
                DEFAULT_MAX_QUEUED_BYTES
            }
        };
        let delay_open = r.delay_open.as_ref().and_then(|v| {
            let p = path.key("delay_open");
            match self.check(&p, parse_whole_seconds(v))? {
                d if d.is_zero() || d.as_secs() > 240 => {
                    self.err(
                        &p,
                        format!(
                            "delay open time must be 1..=240 seconds, got {}",
                            d.as_secs()
                        ),
                    );
                    None
                }
                d => Some(d),
            }
        });
        let open_hold_time = match r.open_hold_time.as_ref() {
            None => DEFAULT_OPEN_HOLD_TIME,
            Some(v) => {
                let p = path.key("open_hold_time");
                match self.check(&p, crate::values::parse_duration(v)) {
                    Some(d) if d >= MIN_OPEN_HOLD_TIME => d,
                    Some(d) => {
                        self.err(
                            &p,
                            format!(
                                "the OPEN-wait hold time must be at least 3 seconds (RFC 4271 §4.2), got {} ms",
                                d.as_millis()
                            ),
                        );
                        DEFAULT_OPEN_HOLD_TIME
                    }
                    None => DEFAULT_OPEN_HOLD_TIME,
                }
            }
        };
        let send_hold_time = r.send_hold_time.as_ref().and_then(|v| {
            let p = path.key("send_hold_time");
            let d = self.check(&p, crate::values::parse_duration(v))?;
            // RFC 9687: the SendHoldTime must be longer than the HoldTime, so that a peer is
            // declared dead by its own silence before it is for not reading.
            let hold = Duration::from_secs(u64::from(hold_time.secs()));
            if d <= hold {
                self.err(
                    &p,
                    format!(
                        "the send hold time must be longer than the hold time ({} s, RFC 9687), \
                         got {} ms",
                        hold.as_secs(),
                        d.as_millis()
                    ),
                );
                return None;
            }
            Some(d)
        });
        let min_hold_time = match r.min_hold_time.as_ref() {
            None => 3,
            Some(v) => {
                let p = path.key("min_hold_time");
                match self.check(&p, parse_whole_seconds(v)) {
                    Some(d) if d.as_secs() < 3 || d.as_secs() > 65535 => {
                        self.err(
                            &p,
                            format!(
                                "the minimum hold time must be 3..=65535 seconds (RFC 4271 \
                                 §4.2), got {}",
                                d.as_secs()
                            ),
                        );
                        3
                    }
                    Some(d)
                        if hold_time.secs() != 0 && u64::from(hold_time.secs()) < d.as_secs() =>
                    {
                        self.err(
                            &p,
                            format!(
                                "is above this peer's own hold time ({} s): bgpd would refuse \
                                 the hold time it offers",
                                hold_time.secs()
                            ),
                        );
                        3
                    }
                    Some(d) => u16::try_from(d.as_secs()).unwrap_or(3),
                    None => 3,
                }
            }
        };
        let max_prefixes_action = match r.max_prefixes_action.as_deref() {
            None | Some("close") => PrefixLimitAction::Close,
            Some("drop") => PrefixLimitAction::Drop,
            Some(other) => {
                self.err(
                    &path.key("max_prefixes_action"),
                    format!("expected \"close\" or \"drop\", got \"{other}\""),
                );
                PrefixLimitAction::Close
            }
        };
        let shutdown_message = r.shutdown_message.as_ref().and_then(|m| {
            if m.len() > MAX_SHUTDOWN_MESSAGE_LEN {
                self.err(&path.key("shutdown_message"), format!(
                    "a Shutdown Communication is at most {MAX_SHUTDOWN_MESSAGE_LEN} bytes of UTF-8 (RFC 9003 §2), got {}",
                    m.len()
                ));
                None
            } else {
                Some(m.clone())
            }
        });
        let ipv4_nexthop = r.ipv4_nexthop.as_ref().and_then(|s| {
            let p = path.key("ipv4_nexthop");
            self.check(
                &p,
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("expected an IPv4 address, got \"{s}\"")),
            )
        });
        let ipv6_nexthop = r.ipv6_nexthop.as_ref().and_then(|s| {
            let p = path.key("ipv6_nexthop");
            self.check(
                &p,
                s.parse::<Ipv6Addr>()
                    .map_err(|_| format!("expected an IPv6 address, got \"{s}\"")),
            )
        });
        let import = match &r.import {
            None => ImportPolicy::None,
            Some(v) => self.import(&path.key("import"), v),
        };
        let allow_own_as = match r.allow_own_as.map(Int::get) {
            None => 0,
            Some(n) => match u8::try_from(n) {
                Ok(n) if n <= MAX_ALLOW_OWN_AS => n,
                _ => {
                    self.err(
                        &path.key("allow_own_as"),
                        format!(
                            "how many times our AS may appear in a received AS_PATH must be \
                             0..={MAX_ALLOW_OWN_AS}, got {n}"
                        ),
                    );
                    0
                }
            },
        };
        let local_as = r
            .local_as
            .as_ref()
            .and_then(|a| self.check(&path.key("local_as"), parse_asn(a)).map(Asn));
        let announce = match &r.announce {
            None => PeerAnnounce::default(),
            Some(a) => self.peer_announce(&path.key("announce"), a),
        };
        let role = r.role.as_deref().and_then(|s| {
            self.check(
                &path.key("role"),
                match s {
                    "provider" => Ok(bgp_proto::Role::Provider),
                    "customer" => Ok(bgp_proto::Role::Customer),
                    "rs" => Ok(bgp_proto::Role::RouteServer),
                    "rs-client" => Ok(bgp_proto::Role::RouteServerClient),
                    "peer" => Ok(bgp_proto::Role::Peer),
                    _ => Err(format!(
                        "expected \"provider\", \"customer\", \"rs\", \"rs-client\" or \
                         \"peer\" (RFC 9234), got \"{s}\""
                    )),
                },
            )
        });
        let role_strict = r.role_strict.unwrap_or(false);
        if role_strict && r.role.is_none() {
            self.err(
                &path.key("role_strict"),
                "role_strict needs a role: set role = \"provider\" | \"customer\" | ...",
            );
        }
        // An unnumbered session is IPv6 (link-local): IPv4 services ride on it with an IPv6
        // next hop (RFC 8950), as on FRR's interface peers, unless turned off.
        let extended_next_hop = r.extended_next_hop.unwrap_or(unnumbered);
        if unnumbered && !extended_next_hop && families.contains(&Family::IPV4_UNICAST) {
            self.err(
                &path.key("extended_next_hop"),
                "an unnumbered peer's session is IPv6 only: ipv4-unicast over it needs \
                 extended_next_hop = true (RFC 8950)",
            );
        }
        let link_local = matches!(address, Some(IpAddr::V6(a)) if a.is_unicast_link_local());
        let interface = match &r.interface {
            Some(name) => {
                if self.host.interface_index(name).is_none() {
                    self.err(
                        &path.key("interface"),
                        format!("no interface named \"{name}\" on this host"),
                    );
                } else if !link_local && !unnumbered {
                    self.warn(
                        &path.key("interface"),
                        "ignored: only a link-local (fe80::/10) peer address needs an interface",
                    );
                }
                Some(name.clone())
            }
            None => {
                if link_local {
                    self.err(
                        &path.key("address"),
                        "a link-local address (fe80::/10) needs `interface`: the link the peer \
                         is reached on",
                    );
                }
                None
            }
        };
        let bfd = self.peer_bfd(r.bfd.as_ref(), &path.key("bfd"), bfd_profiles);
        if unnumbered && bfd.is_some() {
            self.err(
                &path.key("bfd"),
                "BFD is not supported on an unnumbered peer yet: give the peer's link-local \
                 `address` beside `interface`",
            );
        }
        let asn = asn?;
        Some(PeerDraft {
            peer: Peer {
                name: name?,
                address: address?,
                asn,
                ibgp: asn == local_as.unwrap_or(global.asn),
                port,
                passive,
                local_address,
                hold_time,
                keepalive,
                connect_retry,
                password,
                ttl,
                families,
                add_path: r.add_path.unwrap_or(false),
                max_prefixes,
                max_prefixes_restart,
                max_queued_bytes,
                idle_hold_time,
                damp_peer_oscillations: r.damp_peer_oscillations.unwrap_or(true),
                graceful_restart,
                delay_open,
                open_hold_time,
                send_hold_time,
                min_hold_time,
                max_prefixes_action,
                enforce_first_as: r.enforce_first_as.unwrap_or(true),
                shutdown_message,
                ipv4_nexthop,
                ipv6_nexthop,
                import,
                allow_own_as,
                local_as,
                announce,
                role,
                role_strict,
                extended_next_hop,
                interface,
                password_file: r.password_file.as_ref().map(std::path::PathBuf::from),
                bfd,
            },
            families_set,
        })
    }

    /// `[peers.announce]`, checked like the same keys of a service.
    fn peer_announce(&mut self, path: &FieldPath, a: &crate::raw::RawPeerAnnounce) -> PeerAnnounce {
        let communities = self.communities(|| path.key("communities"), a.communities.as_deref());
        let large_communities = a
            .large_communities
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, s)| {
                self.check(
                    &path.key("large_communities").index(i),
                    crate::parse_large_community(s),
                )
            })
            .collect();
        PeerAnnounce {
            communities,
            large_communities,
            med: a
                .med
                .map(Int::get)
                .and_then(|m| self.u32_value(|| path.key("med"), m)),
            local_pref: a
                .local_pref
                .map(Int::get)
                .and_then(|m| self.u32_value(|| path.key("local_pref"), m)),
            as_path_prepend: a.as_path_prepend.map(|_| {
                self.prepend(
                    || path.key("as_path_prepend"),
                    a.as_path_prepend.map(Int::get),
                )
            }),
        }
    }

    /// `import`: `"none"`, `"all"`, or a list of `"PREFIX [ge N] [le N]"`.
    fn import(&mut self, p: &FieldPath, v: &StrOrList) -> ImportPolicy {
        match v {
            StrOrList::Str(s) if s == "none" => ImportPolicy::None,
            StrOrList::Str(s) if s == "all" => ImportPolicy::All,
            StrOrList::Str(s) => {
                self.err(
                    p,
                    format!(
                        "expected \"none\", \"all\" or a list like [\"192.0.2.0/24 le 32\"], \
                         got \"{s}\""
                    ),
                );
                ImportPolicy::None
            }
            StrOrList::List(list) => {
                if list.is_empty() {
                    self.warn(p, "an empty list keeps no route (the same as \"none\")");
                }
                let mut ranges = Vec::with_capacity(list.len());
                for (i, s) in list.iter().enumerate() {
                    if let Some(r) = self.check(&p.index(i), s.parse::<PrefixRange>()) {
                        ranges.push(r);
                    }
                }
                ImportPolicy::Prefixes(ranges)
            }
        }
    }
}

/// `password_file`: the TCP MD5 key from a file only its owner (and group) can read, so the
/// configuration itself holds no secret. Read at every load and reload. The key never
/// appears in an error.
fn read_password_file(host: &dyn Host, file: &str) -> Result<String, String> {
    let mode = host
        .file_mode(std::path::Path::new(file))
        .map_err(|e| format!("cannot read the password file {file}: {e}"))?;
    if mode & 0o007 != 0 {
        return Err(format!(
            "the password file {file} is accessible to every user (mode {:o}); \
             chmod o-rwx {file}",
            mode & 0o777
        ));
    }
    let text = host
        .read_file(std::path::Path::new(file))
        .map_err(|e| format!("cannot read the password file {file}: {e}"))?;
    let key = text.strip_suffix('\n').unwrap_or(&text);
    let key = key.strip_suffix('\r').unwrap_or(key);
    if key.is_empty() {
        return Err(format!("the password file {file} is empty"));
    }
    if key.contains('\n') {
        return Err(format!(
            "the password file {file} holds more than one line (one key, at most one \
             trailing newline)"
        ));
    }
    if key.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "the key in {file} has {} bytes; TCP MD5 keys are at most {MAX_PASSWORD_LEN} \
             (RFC 2385, Linux TCP_MD5SIG_MAXKEYLEN)",
            key.len()
        ));
    }
    Ok(key.to_string())
}
