//! `bgpctl`: the command line client of bgpd's control socket (see `docs/operations.md`).
//!
//! Every command prints a readable table, or with `--json` the response data as JSON.
//! Exit status: 0 on success, 1 when bgpd answered with an error or cannot be reached,
//! 2 on bad usage.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use bgpd::api::{
    self, AnnounceArgs, ChangeResult, Command, DrainInfo, EventInfo, EventLine, Explanation,
    Neighbor, Request, Response, RouteInfo, RunningConfig, RuntimeInfo, ServiceInfo, SyncResult,
};

mod format;

use format::{
    event_line, explain_text, fib_table, loc_rib_table, neighbor_detail, neighbors_table,
    routes_table, runtime_table, services_table,
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
        } => {
            let args = AnnounceArgs {
                prefix: prefix.clone().unwrap_or_default(),
                nexthops: nexthops.clone(),
                communities: communities.clone(),
                large_communities: large_communities.clone(),
                med: *med,
                local_pref: *local_pref,
                peers: peers.clone(),
            };
            match file {
                Some(file) => Command::AnnounceMany(args.with_prefixes(read_prefixes(file)?)),
                None => Command::Announce(args),
            }
        }
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
