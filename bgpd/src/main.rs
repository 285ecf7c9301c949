//! The `bgpd` binary: command line, tracing subscriber, then hands over to the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use bgpd::config::Config;
use bgpd::decode::{DecodeInput, DecodeOptions};
use bgpd::LogFormat;

/// Exit status for an invalid configuration or bad usage.
const EXIT_INVALID: u8 = 2;

/// A BGP speaker that announces service addresses to routers.
#[derive(Debug, Parser)]
#[command(name = "bgpd", version)]
struct Cli {
    /// Configuration file; `bgpd -c FILE` is short for `bgpd run --config FILE`.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log format (on stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config.
    Run(ConfigArg),
    /// Validate the configuration and print it with every default filled in.
    Check(ConfigArg),
    /// Decode BGP messages to JSON lines, one per message.
    Decode(DecodeArgs),
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// Configuration file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(false)))]
struct DecodeArgs {
    /// Hex of one or more whole messages (spaces, colons and newlines are ignored).
    #[arg(long, group = "input", value_name = "HEX")]
    hex: Option<String>,
    /// An MRT file (RFC 6396), plain or gzip.
    #[arg(long, group = "input", value_name = "FILE")]
    mrt: Option<PathBuf>,
    /// A pcap or pcapng file with BGP over TCP (ports 179 and 1179).
    #[arg(long, group = "input", value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// A file of raw concatenated BGP messages.
    #[arg(group = "input", value_name = "FILE")]
    file: Option<PathBuf>,
    /// The session did not negotiate 4-octet AS numbers (RFC 6793): AS_PATH has 2-octet ASNs.
    /// For hex and raw input, and pcap flows whose OPENs are not in the capture; MRT records
    /// and captured OPENs say themselves.
    #[arg(long)]
    as2: bool,
    /// The session negotiated ADD-PATH receive for IPv4 and IPv6 unicast (RFC 7911): NLRI
    /// carry path ids. Same scope as --as2.
    #[arg(long)]
    add_path: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_INVALID)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match (cli.command, cli.config) {
        // Global flags (--log-format) go anywhere; `-c FILE` alone means `run`.
        (Some(_), Some(_)) => {
            eprintln!(
                "bgpd: give the configuration to the command (`bgpd run -c FILE`), or use \
                 `bgpd -c FILE` alone"
            );
            ExitCode::from(EXIT_INVALID)
        }
        (Some(Command::Run(ConfigArg { config })), None) | (None, Some(config)) => {
            run(config, cli.log_format)
        }
        (Some(Command::Check(ConfigArg { config })), None) => check(config),
        (Some(Command::Decode(args)), None) => decode(args),
        (None, None) => {
            eprintln!("bgpd: nothing to do; try `bgpd run --config FILE` or `bgpd --help`");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn run(config_path: PathBuf, log_format: LogFormat) -> ExitCode {
    init_tracing(log_format);
    // Received tables must give their memory back when they go (docs/runtime.md).
    if let Err(e) = bgpd::memory::exec_without_thread_cache() {
        tracing::warn!(
            "cannot restart with glibc's per-thread allocation cache off ({e}); memory \
             freed by a large table may stay resident (about 2 MB)"
        );
    }
    let mut config = match Config::load(&config_path, &bgpd::link::ThisHost) {
        Ok(c) => c,
        Err(e) => {
            // One line per error, each naming file:line:column: field.
            for line in e.to_string().lines() {
                tracing::error!("configuration error: {line}");
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    // Logged once, then not kept: a file may carry a warning per service (100k).
    for w in std::mem::take(&mut config.warnings) {
        tracing::warn!("configuration warning: {w}");
    }
    daemon_run(config, config_path, log_format)
}

/// Hands over to the runtime (bgpd::daemon).
fn daemon_run(config: Config, config_path: PathBuf, log_format: LogFormat) -> ExitCode {
    bgpd::daemon::run(config, config_path, log_format)
}

fn check(config_path: PathBuf) -> ExitCode {
    match Config::load(&config_path, &bgpd::link::ThisHost) {
        Ok(config) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "# {}: valid; effective configuration:",
                config_path.display()
            );
            let _ = write!(out, "{}", config.to_toml());
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn decode(a: DecodeArgs) -> ExitCode {
    let input = match (a.hex, a.mrt, a.pcap, a.file) {
        (Some(h), ..) => DecodeInput::Hex(h),
        (_, Some(f), ..) => DecodeInput::Mrt(f),
        (_, _, Some(f), _) => DecodeInput::Pcap(f),
        (_, _, _, Some(f)) => DecodeInput::Raw(f),
        _ => {
            eprintln!("bgpd decode: give --hex, --mrt, --pcap or a FILE");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let opts = DecodeOptions {
        four_octet_as: !a.as2,
        add_path: a.add_path,
    };
    let mut out = std::io::stdout().lock();
    match bgpd::decode::run(&input, &opts, &mut out) {
        Ok(summary) if summary.errors == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        // `bgpd decode ... | head`: the reader is gone, which is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgpd decode: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Text lines (default) or JSON lines on stderr; `RUST_LOG` filters, default `info`. Colour
/// only when stderr is a terminal and `NO_COLOR` is not set (https://no-color.org): a log file
/// or journald gets plain text.
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
