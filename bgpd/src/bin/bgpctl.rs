//! `bgpctl`: the command line client of bgpd's control socket (see `docs/operations.md`).
//!
//! Every command prints a readable table, or with `--json` the response data as JSON.
//! Exit status: 0 on success, 1 when bgpd answered with an error or cannot be reached,
//! 2 on bad usage.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use bgpd::api::{
    self, AnnounceArgs, AnnounceManyArgs, ChangeResult, Command, DrainInfo, EventInfo, EventLine,
    Explanation, HumanDuration, Neighbor, Request, Response, RouteInfo, RunningConfig, RuntimeInfo,
    ServiceInfo, SyncResult,
};

thread_local! {
    /// bgpd answered the request with an error.
    static REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Query and steer a running bgpd.
#[derive(Debug, Parser)]
#[command(name = "bgpctl", version)]
struct Cli {
    /// Control socket of bgpd [default: $BGPD_SOCKET, else /run/bgpd/bgpd.sock].
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Print the response data as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Every peer: state, uptime, prefixes, messages, flaps.
    Neighbors,
    /// One peer in detail (timers, capabilities of both sides, messages per type, last
    /// errors), or an operation on that peer alone.
    Neighbor {
        name: String,
        #[command(subcommand)]
        action: Option<NeighborAction>,
    },
    /// Routes announced to peers (Adj-RIB-Out), or received from them with --received, or
    /// the Loc-RIB with --best: each received prefix's paths, the multipath set and weights,
    /// and why each other path is not a member.
    Routes {
        /// Only this peer.
        #[arg(long)]
        peer: Option<String>,
        /// Adj-RIB-In instead of Adj-RIB-Out.
        #[arg(long, conflicts_with = "best")]
        received: bool,
        /// The Loc-RIB: selected paths (best, multipath) and the reason for the others.
        #[arg(long)]
        best: bool,
        /// Only this prefix (with --best).
        #[arg(requires = "best")]
        prefix: Option<String>,
    },
    /// Every service: next hops, health, where it is announced.
    Services,
    /// Announce a runtime service (not written to the configuration file), or with --file
    /// one per listed prefix, all with the same attributes, in one change.
    Announce {
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        prefix: Option<String>,
        /// Read the prefixes from FILE ("-": standard input), one per line; blank lines and
        /// lines starting with # are skipped.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Next hop ("self" or an address); repeat for several (ADD-PATH).
        #[arg(long = "nexthop")]
        nexthops: Vec<String>,
        /// Community, e.g. 64512:100 or no-export; repeatable.
        #[arg(long = "community")]
        communities: Vec<String>,
        /// Large community, e.g. 64512:1:100; repeatable.
        #[arg(long = "large-community")]
        large_communities: Vec<String>,
        #[arg(long)]
        med: Option<u32>,
        /// LOCAL_PREF (sent to iBGP peers only).
        #[arg(long)]
        local_pref: Option<u32>,
        /// Only to this peer; repeatable (default: every peer).
        #[arg(long = "peer")]
        peers: Vec<String>,
    },
    /// Withdraw a runtime service, or a configured one until `announce`; with --file every
    /// listed prefix, in one change; with --all every runtime service.
    Withdraw {
        #[arg(required_unless_present_any = ["file", "all"], conflicts_with_all = ["file", "all"])]
        prefix: Option<String>,
        /// Read the prefixes from FILE ("-": standard input), one per line.
        #[arg(long, value_name = "FILE", conflicts_with = "all")]
        file: Option<PathBuf>,
        /// Every runtime service (configured services stay).
        #[arg(long)]
        all: bool,
    },
    /// The runtime services (added with `announce`; kept across restarts).
    Runtime,
    /// The running configuration, every default filled in, passwords masked.
    Config,
    /// What bgpd has programmed into the kernel FIB (`[fib]`): each route, its next-hop
    /// group and the members' weights, as the FIB thread last programmed or read them.
    Fib,
    /// After a restart, hold End-of-RIB while a controller re-feeds its routes.
    Sync {
        #[command(subcommand)]
        step: SyncStep,
    },
    /// The event timeline.
    Events {
        /// Keep printing new events until interrupted.
        #[arg(long, short)]
        follow: bool,
        /// Only events of the last DURATION (e.g. 10m, 30s).
        #[arg(long, value_name = "DURATION", value_parser = api::parse_duration)]
        since: Option<Duration>,
    },
    /// Why PREFIX is or is not announced to each peer.
    Explain { prefix: String },
    /// Graceful shutdown (RFC 8326): GRACEFUL_SHUTDOWN, wait, withdraw, Cease 6/2.
    Drain {
        /// How long routes stay announced with GRACEFUL_SHUTDOWN [default: global.drain_time, else 30s].
        #[arg(long, value_name = "DURATION", value_parser = api::parse_duration)]
        time: Option<Duration>,
    },
    /// Cancel a drain: restart stopped sessions and announce normally.
    Undrain,
}

#[derive(Debug, Subcommand)]
enum NeighborAction {
    /// Close the session with Cease 6/2 (RFC 9003 message) and keep it down, across reloads
    /// and restarts, until `enable`.
    Shutdown {
        /// Shutdown Communication sent to the peer (at most 255 octets).
        #[arg(long)]
        message: Option<String>,
    },
    /// Start a shut-down session again.
    Enable,
    /// Close with Cease 6/4 and start again; --hard: RFC 8538 Hard Reset (the peer drops our
    /// routes instead of keeping them stale).
    Reset {
        #[arg(long)]
        hard: bool,
    },
    /// Ask the peer for its routes again (ROUTE-REFRESH) and send ours again.
    Refresh,
    /// RFC 8326 for this peer only: GRACEFUL_SHUTDOWN on its routes until `undrain`.
    Drain,
    /// End `drain` for this peer.
    Undrain,
}

#[derive(Debug, Subcommand)]
enum SyncStep {
    /// Hold End-of-RIB until `sync end` (at most global.graceful_restart_deferral).
    Begin,
    /// Every route is fed: End-of-RIB may go out.
    End,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let socket = cli
        .socket
        .clone()
        .or_else(|| std::env::var_os(api::SOCKET_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(bgpd::config::DEFAULT_CONTROL_SOCKET));
    match run(&cli, &socket) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgpctl: {e}");
            // A refused operation on a peer (unknown name, already down, ...) is a usage
            // error: exit 2, as for bad arguments.
            let refused_op = matches!(
                cli.command,
                Cmd::Neighbor {
                    action: Some(_),
                    ..
                }
            ) && REFUSED.with(std::cell::Cell::get);
            if refused_op {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The prefixes listed in `path` ("-": standard input).
fn read_prefixes(path: &PathBuf) -> Result<api::PrefixList, String> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    let lines = || {
        text.lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    };
    if let Some((i, l)) = lines().find(|(_, l)| l.split_whitespace().count() != 1) {
        return Err(format!(
            "{}:{}: one prefix per line, found {l:?}",
            path.display(),
            i + 1
        ));
    }
    let prefixes = api::PrefixList::new(lines().map(|(_, l)| l));
    if prefixes.is_empty() {
        return Err(format!("{}: no prefixes in the file", path.display()));
    }
    Ok(prefixes)
}

fn command_of(cmd: &Cmd) -> Result<Command, String> {
    Ok(match cmd {
        Cmd::Neighbors => Command::Neighbors,
        Cmd::Neighbor { name, action: None } => Command::Neighbor { name: name.clone() },
        Cmd::Neighbor {
            name,
            action: Some(action),
        } => Command::NeighborOp {
            name: name.clone(),
            op: match action {
                NeighborAction::Shutdown { message } => api::NeighborOp::Shutdown {
                    message: message.clone(),
                },
                NeighborAction::Enable => api::NeighborOp::Enable,
                NeighborAction::Reset { hard } => api::NeighborOp::Reset { hard: *hard },
                NeighborAction::Refresh => api::NeighborOp::Refresh,
                NeighborAction::Drain => api::NeighborOp::Drain,
                NeighborAction::Undrain => api::NeighborOp::Undrain,
            },
        },
        Cmd::Routes {
            peer,
            received,
            best,
            prefix,
        } => Command::Routes {
            peer: peer.clone(),
            received: *received,
            best: *best,
            prefix: prefix.clone(),
        },
        Cmd::Services => Command::Services,
        Cmd::Announce {
            prefix,
            file,
            nexthops,
            communities,
            large_communities,
            med,
            local_pref,
            peers,
        } => match file {
            Some(file) => Command::AnnounceMany(AnnounceManyArgs {
                prefixes: read_prefixes(file)?,
                nexthops: nexthops.clone(),
                communities: communities.clone(),
                large_communities: large_communities.clone(),
                med: *med,
                local_pref: *local_pref,
                peers: peers.clone(),
            }),
            None => Command::Announce(AnnounceArgs {
                prefix: prefix.clone().unwrap_or_default(),
                nexthops: nexthops.clone(),
                communities: communities.clone(),
                large_communities: large_communities.clone(),
                med: *med,
                local_pref: *local_pref,
                peers: peers.clone(),
            }),
        },
        Cmd::Withdraw { all: true, .. } => Command::WithdrawAll,
        Cmd::Withdraw { prefix, file, .. } => match file {
            Some(file) => Command::WithdrawMany {
                prefixes: read_prefixes(file)?,
            },
            None => Command::Withdraw {
                prefix: prefix.clone().unwrap_or_default(),
            },
        },
        Cmd::Runtime => Command::Runtime,
        Cmd::Fib => Command::Fib,
        Cmd::Config => Command::Config,
        Cmd::Sync {
            step: SyncStep::Begin,
        } => Command::SyncBegin,
        Cmd::Sync {
            step: SyncStep::End,
        } => Command::SyncEnd,
        Cmd::Events { follow, since } => Command::Events {
            since_ms: since.map(|d| d.as_millis() as u64),
            follow: *follow,
        },
        Cmd::Explain { prefix } => Command::Explain {
            prefix: prefix.clone(),
        },
        Cmd::Drain { time } => Command::Drain {
            time_ms: time.map(|d| d.as_millis() as u64),
        },
        Cmd::Undrain => Command::Undrain,
    })
}

fn run(cli: &Cli, socket: &PathBuf) -> Result<(), String> {
    let stream = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot connect to bgpd at {}: {e} (is bgpd running? see --socket or ${})",
            socket.display(),
            api::SOCKET_ENV
        )
    })?;
    let mut writer = stream
        .try_clone()
        .map_err(|e| format!("control socket: {e}"))?;
    let mut reader = BufReader::new(stream);
    let request = Request::new(command_of(&cli.command)?);
    let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
    writeln!(writer, "{line}").map_err(|e| format!("cannot send the request: {e}"))?;
    let mut answer = String::new();
    reader
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the response: {e}"))?;
    if answer.is_empty() {
        return Err("bgpd closed the connection without answering".into());
    }
    let response: Response =
        serde_json::from_str(&answer).map_err(|e| format!("unexpected response from bgpd: {e}"))?;
    REFUSED.with(|r| r.set(!response.ok));
    let mut out = std::io::stdout().lock();
    if cli.json {
        if !response.ok {
            return Err(response.error.unwrap_or_else(|| "unknown error".into()));
        }
        let data = response.data.unwrap_or(serde_json::Value::Null);
        let text = serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?;
        let _ = writeln!(out, "{text}");
        if let Cmd::Events { follow: true, .. } = cli.command {
            let _ = out.flush();
            follow(reader, |e| {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::to_string(&e).unwrap_or_default()
                );
            })?;
        }
        return Ok(());
    }
    let text = match &cli.command {
        Cmd::Neighbors => neighbors_table(&response.into_data::<Vec<Neighbor>>()?),
        Cmd::Neighbor { action: None, .. } => neighbor_detail(&response.into_data::<Neighbor>()?),
        Cmd::Neighbor { .. } => {
            let r = response.into_data::<api::NeighborOpResult>()?;
            format!("{} {}: {}\n", r.peer, r.op, r.message)
        }
        Cmd::Routes { best: true, .. } => {
            loc_rib_table(&response.into_data::<Vec<api::LocRibEntry>>()?)
        }
        Cmd::Routes { .. } => routes_table(&response.into_data::<Vec<RouteInfo>>()?),
        Cmd::Services => services_table(&response.into_data::<Vec<ServiceInfo>>()?),
        Cmd::Announce { .. } | Cmd::Withdraw { .. } => {
            let r = response.into_data::<ChangeResult>()?;
            format!(
                "{} {}{}\nnote: {}\n",
                r.prefix,
                r.action,
                if r.peers.is_empty() {
                    " (no established session affected)".to_string()
                } else {
                    format!(" (UPDATE to {})", r.peers.join(", "))
                },
                r.note
            )
        }
        Cmd::Events { follow: f, .. } => {
            let events = response.into_data::<Vec<EventInfo>>()?;
            let mut s = String::new();
            for e in &events {
                s.push_str(&event_line(e));
                s.push('\n');
            }
            if *f {
                let _ = write!(out, "{s}");
                let _ = out.flush();
                return follow(reader, |e| {
                    let mut o = std::io::stdout().lock();
                    let _ = writeln!(o, "{}", event_line(&e));
                    let _ = o.flush();
                });
            }
            s
        }
        Cmd::Explain { .. } => explain_text(&response.into_data::<Explanation>()?),
        Cmd::Drain { .. } | Cmd::Undrain => {
            let d = response.into_data::<DrainInfo>()?;
            format!("{}: {}\n", d.state, d.message)
        }
        Cmd::Runtime => runtime_table(&response.into_data::<Vec<RuntimeInfo>>()?),
        Cmd::Config => response.into_data::<RunningConfig>()?.toml,
        Cmd::Fib => fib_table(&response.into_data::<api::FibView>()?),
        Cmd::Sync { .. } => {
            let r = response.into_data::<SyncResult>()?;
            if r.waiting_peers.is_empty() {
                format!("{}\n", r.message)
            } else {
                format!(
                    "{} (sessions waiting: {})\n",
                    r.message,
                    r.waiting_peers.join(", ")
                )
            }
        }
    };
    let _ = write!(out, "{text}");
    Ok(())
}

fn follow(
    mut reader: BufReader<UnixStream>,
    mut each: impl FnMut(EventInfo),
) -> Result<(), String> {
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("bgpd closed the connection".into()),
            Ok(_) => {
                if let Ok(l) = serde_json::from_str::<EventLine>(&line) {
                    each(l.event);
                }
            }
            Err(e) => return Err(format!("control socket: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tables

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(&c);
            } else {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                out.push_str(&c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
    out
}

fn ago(unix_secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{} ago",
        HumanDuration(Duration::from_secs(now.saturating_sub(unix_secs)))
    )
}

fn neighbors_table(list: &[Neighbor]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.address.clone(),
                n.asn.to_string(),
                n.state.clone(),
                if n.state == "Established" {
                    HumanDuration(Duration::from_secs(n.uptime_secs)).to_string()
                } else {
                    "-".into()
                },
                n.prefixes_announced.to_string(),
                n.prefixes_received.to_string(),
                format!("{}/{}", n.messages_in.total(), n.messages_out.total()),
                n.flaps.to_string(),
                match (&n.connect_error, &n.last_error) {
                    (Some(c), _) if n.state != "Established" => {
                        format!("connect: {} (x{})", c.error, c.attempts)
                    }
                    (_, e) => e.clone().unwrap_or_default(),
                },
            ]
        })
        .collect();
    table(
        &[
            "PEER",
            "ADDRESS",
            "AS",
            "STATE",
            "UPTIME",
            "OUT",
            "IN",
            "MSGS IN/OUT",
            "FLAPS",
            "LAST ERROR",
        ],
        &rows,
    )
}

/// The BFD lines of `bgpctl neighbor` (issue 12).
fn bfd_detail(b: &bgpd::api::BfdInfo, kv: &mut impl FnMut(&str, String)) {
    let ms = |us: u64| {
        if us.is_multiple_of(1000) {
            format!("{}ms", us / 1000)
        } else {
            format!("{:.3}ms", us as f64 / 1000.0)
        }
    };
    kv(
        "BFD state",
        format!(
            "{} for {} (router: {}), {} state change{}",
            b.state,
            HumanDuration(Duration::from_secs(b.state_secs)),
            b.remote_state,
            b.state_changes,
            if b.state_changes == 1 { "" } else { "s" }
        ),
    );
    if let Some(w) = &b.waiting {
        kv("BFD waiting", w.clone());
    }
    kv(
        "BFD configured",
        format!(
            "min_rx {}, min_tx {}, multiplier {}{}{}",
            ms(b.min_rx_us),
            ms(b.min_tx_us),
            b.multiplier,
            if b.passive { ", passive" } else { "" },
            b.profile
                .as_ref()
                .map(|p| format!(" (profile {p})"))
                .unwrap_or_default()
        ),
    );
    kv(
        "BFD negotiated",
        format!(
            "tx {}, rx {}, detection time {} (router multiplier {})",
            ms(b.tx_interval_us),
            if b.rx_interval_us == 0 {
                "-".into()
            } else {
                ms(b.rx_interval_us)
            },
            if b.detection_time_us == 0 {
                "-".into()
            } else {
                ms(b.detection_time_us)
            },
            b.remote_multiplier
                .map(|m| m.to_string())
                .unwrap_or("-".into())
        ),
    );
    kv("BFD last diagnostic", b.diagnostic.clone());
    kv(
        "BFD discriminators",
        format!(
            "local {}, remote {}{}",
            b.local_discriminator,
            b.remote_discriminator,
            b.local_address
                .as_ref()
                .map(|a| format!(", from {a}"))
                .unwrap_or_default()
        ),
    );
    kv(
        "BFD packets",
        format!(
            "{} sent, {} received, {} discarded",
            b.packets_out, b.packets_in, b.packets_dropped
        ),
    );
}

fn neighbor_detail(n: &Neighbor) -> String {
    let mut s = String::new();
    let mut kv = |k: &str, v: String| s.push_str(&format!("{k:<24}{v}\n"));
    kv("peer", format!("{} ({})", n.name, n.address));
    kv(
        "AS",
        format!(
            "{} ({}, local AS {})",
            n.asn,
            if n.ibgp { "iBGP" } else { "eBGP" },
            n.local_asn
        ),
    );
    kv("state", n.state.clone());
    if let Some(m) = &n.admin_down {
        kv(
            "admin",
            if m.is_empty() {
                "shut down (bgpctl neighbor NAME enable)".to_string()
            } else {
                format!("shut down: \"{m}\" (bgpctl neighbor NAME enable)")
            },
        );
    }
    if n.peer_drained {
        kv(
            "admin",
            "drained: routes carry GRACEFUL_SHUTDOWN (bgpctl neighbor NAME undrain)".into(),
        );
    }
    if n.state == "Established" {
        kv(
            "uptime",
            HumanDuration(Duration::from_secs(n.uptime_secs)).to_string(),
        );
    }
    if let Some(a) = &n.local_address {
        kv("local address", a.clone());
    }
    if let Some(neg) = &n.negotiated {
        kv("peer id", neg.peer_id.clone());
        kv(
            "hold / keepalive",
            format!("{}s / {}s (negotiated)", neg.hold_time, neg.keepalive),
        );
        kv("families", neg.families.join(" "));
        kv("add-path send", join_or_none(&neg.add_path_send));
        kv("add-path receive", join_or_none(&neg.add_path_receive));
        kv("4-octet AS", yes(neg.four_octet_as));
        kv("extended message", yes(neg.extended_message));
        kv("extended next hop", join_or_none(&neg.extended_next_hop));
    }
    kv(
        "local capabilities",
        format!(
            "hold {}s, families {}, add-path {}, graceful restart {}, route refresh {}",
            n.local.hold_time,
            n.local.families.join(" "),
            join_or_none(&n.local.add_path),
            n.local
                .graceful_restart
                .map(|t| format!("{t}s"))
                .unwrap_or("off".into()),
            yes(n.local.route_refresh)
        ),
    );
    if let Some(r) = &n.remote {
        kv(
            "peer capabilities",
            format!(
                "hold {}s, families {}, add-path {}, graceful restart {}, route refresh {}",
                r.hold_time,
                r.families.join(" "),
                join_or_none(&r.add_path),
                r.graceful_restart
                    .map(|t| format!("{t}s"))
                    .unwrap_or("off".into()),
                yes(r.route_refresh)
            ),
        );
    }
    kv(
        "prefixes",
        format!(
            "{} announced, {} received",
            n.prefixes_announced, n.prefixes_received
        ),
    );
    kv("import policy", n.import_policy.clone());
    kv(
        "routes not kept",
        format!(
            "{} refused by the import policy, {} looped routes discarded, {} rejected next hops",
            n.routes_import_rejected, n.routes_looped, n.routes_rejected_next_hop
        ),
    );
    kv("flaps", n.flaps.to_string());
    kv("update queue", n.queue_depth.to_string());
    if let Some(b) = &n.bfd {
        bfd_detail(b, &mut kv);
    }
    if let Some(u) = &n.unnumbered {
        kv(
            "unnumbered",
            format!(
                "on {}: router advertisements {} sent, {} received, {} solicitations, {} \
                 dropped (RFC 4861 §6.1)",
                u.interface,
                u.adverts_sent,
                u.adverts_received,
                u.solicitations_received,
                u.dropped
            ),
        );
    }
    if let Some(e) = &n.last_error {
        kv("last error", e.clone());
    }
    if let Some(c) = &n.connect_error {
        kv(
            "connect error",
            format!(
                "{} ({} attempt{} in a row, last {})",
                c.error,
                c.attempts,
                if c.attempts == 1 { "" } else { "s" },
                ago(c.at)
            ),
        );
    }
    for (what, v) in [
        ("last NOTIFICATION sent", &n.last_notification_sent),
        ("last NOTIFICATION recv", &n.last_notification_received),
    ] {
        if let Some(x) = v {
            kv(
                what,
                match &x.shutdown_message {
                    Some(m) => format!("{} \"{m}\"", x.code),
                    None => x.code.clone(),
                },
            );
        }
    }
    s.push('\n');
    let rows: Vec<Vec<String>> = [
        ("OPEN", n.messages_in.open, n.messages_out.open),
        ("UPDATE", n.messages_in.update, n.messages_out.update),
        (
            "NOTIFICATION",
            n.messages_in.notification,
            n.messages_out.notification,
        ),
        (
            "KEEPALIVE",
            n.messages_in.keepalive,
            n.messages_out.keepalive,
        ),
        (
            "ROUTE-REFRESH",
            n.messages_in.route_refresh,
            n.messages_out.route_refresh,
        ),
        ("total", n.messages_in.total(), n.messages_out.total()),
    ]
    .iter()
    .map(|(t, i, o)| vec![t.to_string(), i.to_string(), o.to_string()])
    .collect();
    s.push_str(&table(&["MESSAGES", "RECEIVED", "SENT"], &rows));
    s
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn join_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

fn route_rows(routes: &[RouteInfo]) -> Vec<Vec<String>> {
    routes
        .iter()
        .map(|r| {
            let mut attrs = Vec::new();
            if let Some(m) = r.med {
                attrs.push(format!("med {m}"));
            }
            if let Some(l) = r.local_pref {
                attrs.push(format!("local-pref {l}"));
            }
            if !r.communities.is_empty() {
                attrs.push(format!("communities {}", r.communities.join(" ")));
            }
            if !r.large_communities.is_empty() {
                attrs.push(format!("large {}", r.large_communities.join(" ")));
            }
            vec![
                r.peer.clone(),
                r.direction.clone(),
                r.prefix.clone(),
                r.path_id.map(|p| p.to_string()).unwrap_or("-".into()),
                r.next_hop.clone(),
                if r.as_path.is_empty() {
                    "(empty)".into()
                } else {
                    r.as_path.clone()
                },
                r.origin.clone(),
                attrs.join(", "),
            ]
        })
        .collect()
}

fn routes_table(routes: &[RouteInfo]) -> String {
    if routes.is_empty() {
        return "no routes\n".into();
    }
    table(
        &[
            "PEER",
            "DIR",
            "PREFIX",
            "PATH",
            "NEXT HOP",
            "AS PATH",
            "ORIGIN",
            "ATTRIBUTES",
        ],
        &route_rows(routes),
    )
}

/// `routes --best`: one row per path, the prefix and its forwarding set on the first.
fn fib_table(v: &api::FibView) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "table {} protocol {}: {} route(s), {} group(s), {} next hop(s){}{}\n",
        v.table,
        v.protocol,
        v.routes.len(),
        v.groups,
        v.nexthops,
        if v.swept {
            String::new()
        } else {
            format!(", {} adopted route(s) awaiting convergence", v.adopted)
        },
        if v.unreachable.is_empty() {
            String::new()
        } else {
            format!(", unusable next hops: {}", v.unreachable.join(" "))
        }
    );
    let _ = writeln!(
        s,
        "{:<20} {:<12} {:<10} NEXT HOPS (weight)",
        "PREFIX", "GROUP", "TYPE"
    );
    for r in &v.routes {
        let hops: Vec<String> = r
            .next_hops
            .iter()
            .map(|m| format!("{} ({})", m.next_hop, m.weight))
            .collect();
        let _ = writeln!(
            s,
            "{:<20} {:<12} {:<10} {}",
            r.prefix,
            r.group.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
            r.kind,
            hops.join(", ")
        );
    }
    s
}

fn loc_rib_table(entries: &[api::LocRibEntry]) -> String {
    if entries.is_empty() {
        return "no received routes in the Loc-RIB\n".into();
    }
    let mut rows = Vec::new();
    for e in entries {
        for (i, p) in e.paths.iter().enumerate() {
            rows.push(vec![
                if i == 0 {
                    e.prefix.clone()
                } else {
                    String::new()
                },
                p.peer.clone(),
                p.path_id.map(|p| p.to_string()).unwrap_or("-".into()),
                p.next_hop.clone(),
                if p.as_path.is_empty() {
                    "(empty)".into()
                } else {
                    p.as_path.clone()
                },
                p.local_pref.to_string(),
                p.med.map(|m| m.to_string()).unwrap_or("-".into()),
                p.weight.map(|w| w.to_string()).unwrap_or("-".into()),
                match &p.reason {
                    Some(r) => format!("not multipath: {r}"),
                    None => p.status.clone(),
                },
            ]);
        }
    }
    let mut s = table(
        &[
            "PREFIX", "PEER", "PATH", "NEXT HOP", "AS PATH", "LP", "MED", "WEIGHT", "STATUS",
        ],
        &rows,
    );
    for e in entries {
        s.push_str(&format!("{}: {}\n", e.prefix, loc_rib_summary(e)));
    }
    s
}

/// "3 next hops (equal): 10.0.0.1 10.0.0.2 10.0.0.3", or "no usable path".
fn loc_rib_summary(e: &api::LocRibEntry) -> String {
    if e.next_hops.is_empty() {
        return "no usable path".into();
    }
    format!(
        "{} next hop{} ({}): {}",
        e.next_hops.len(),
        if e.next_hops.len() == 1 { "" } else { "s" },
        e.weighting,
        e.next_hops
            .iter()
            .map(|n| format!("{} weight {}", n.next_hop, n.weight))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn services_table(list: &[ServiceInfo]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let health = if s.targets.is_empty() {
                "-".to_string()
            } else {
                s.targets
                    .iter()
                    .map(|t| format!("{}={}", t.nexthop, t.state))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            vec![
                s.name.clone(),
                s.prefix.clone(),
                s.source.clone(),
                s.nexthops.join(" "),
                health,
                s.state.clone(),
                if s.announced_to.is_empty() {
                    "-".into()
                } else {
                    s.announced_to.join(" ")
                },
            ]
        })
        .collect();
    table(
        &[
            "SERVICE",
            "PREFIX",
            "SOURCE",
            "NEXT HOPS",
            "HEALTH",
            "STATE",
            "ANNOUNCED TO",
        ],
        &rows,
    )
}

fn event_line(e: &EventInfo) -> String {
    let secs = e.ts_ms / 1000;
    let ms = e.ts_ms % 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let date = civil_date(secs / 86400);
    format!(
        "{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z  {:<12}  {}",
        e.kind, e.message
    )
}

/// Days since 1970-01-01 to "YYYY-MM-DD" (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

fn explain_text(x: &Explanation) -> String {
    let mut s = explain_announce_text(x);
    if let Some(e) = &x.loc_rib {
        s.push_str(&format!("  received (Loc-RIB): {}\n", loc_rib_summary(e)));
        for p in &e.paths {
            s.push_str(&format!(
                "    {} next hop {} as-path {} local-pref {}: {}{}\n",
                p.peer,
                p.next_hop,
                if p.as_path.is_empty() {
                    "(empty)"
                } else {
                    &p.as_path
                },
                p.local_pref,
                p.reason
                    .as_ref()
                    .map(|r| format!("not multipath: {r}"))
                    .unwrap_or_else(|| p.status.clone()),
                p.lost_at
                    .as_ref()
                    .map(|l| format!(" (lost the best path selection at {l})"))
                    .unwrap_or_default(),
            ));
        }
    }
    s
}

fn explain_announce_text(x: &Explanation) -> String {
    let mut s = format!(
        "{}: {}\n",
        x.prefix,
        if x.services.is_empty() {
            "no service".to_string()
        } else {
            format!("service {}", x.services.join(", "))
        }
    );
    for p in &x.peers {
        s.push_str(&format!(
            "  {}: {}{} — {}\n",
            p.peer,
            if p.announced {
                "announced"
            } else {
                "not announced"
            },
            p.since
                .map(|t| format!(" since {}", ago(t)))
                .unwrap_or_default(),
            p.reason
        ));
        for r in route_rows(&p.routes) {
            s.push_str(&format!(
                "      path {} next hop {} as-path {} {} {}\n",
                r[3], r[4], r[5], r[6], r[7]
            ));
        }
    }
    s
}

fn runtime_table(list: &[RuntimeInfo]) -> String {
    if list.is_empty() {
        return "no runtime services\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let mut attrs: Vec<String> = r.communities.clone();
            attrs.extend(r.large_communities.iter().cloned());
            attrs.extend(r.med.map(|m| format!("med {m}")));
            attrs.extend(r.local_pref.map(|l| format!("local-pref {l}")));
            vec![
                r.prefix.clone(),
                r.nexthops.join(","),
                if r.peers.is_empty() {
                    "all".into()
                } else {
                    r.peers.join(",")
                },
                if attrs.is_empty() {
                    "-".into()
                } else {
                    attrs.join(" ")
                },
                ago(r.since),
            ]
        })
        .collect();
    table(
        &["PREFIX", "NEXT HOPS", "PEERS", "ATTRIBUTES", "SINCE"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_414), "2025-11-22");
    }

    #[test]
    fn loc_rib_rows_show_members_and_reasons() {
        let path =
            |peer: &str, nh: &str, status: &str, reason: Option<&str>, weight| api::LocRibPath {
                peer: peer.into(),
                path_id: None,
                next_hop: nh.into(),
                as_path: "65001".into(),
                origin: "igp".into(),
                med: None,
                local_pref: 100,
                neighbour_as: 65001,
                session: "eBGP".into(),
                status: status.into(),
                reason_code: reason.map(|_| "as-path-length".into()),
                reason: reason.map(Into::into),
                lost_at: None,
                weight,
                bandwidth: None,
            };
        let e = api::LocRibEntry {
            prefix: "192.0.2.10/32".into(),
            next_hops: vec![api::LocRibNextHop {
                next_hop: "10.0.0.1".into(),
                weight: 1,
            }],
            weighting: "single path".into(),
            paths: vec![
                path("n1", "10.0.0.1", "best", None, Some(1)),
                path(
                    "n2",
                    "10.0.0.2",
                    "not-multipath",
                    Some("AS_PATH length 2 != 1"),
                    None,
                ),
            ],
        };
        let t = loc_rib_table(&[e]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("192.0.2.10/32  n1"), "{t}");
        assert!(lines[1].ends_with("1       best"), "{t}");
        assert!(lines[2].starts_with("               n2"), "{t}");
        assert!(
            lines[2].ends_with("not multipath: AS_PATH length 2 != 1"),
            "{t}"
        );
        assert_eq!(
            lines[3],
            "192.0.2.10/32: 1 next hop (single path): 10.0.0.1 weight 1"
        );
        assert_eq!(loc_rib_table(&[]), "no received routes in the Loc-RIB\n");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
