//! Traffic for the data-plane suite (`interop/tests/dataplane`): TCP echo servers that name their
//! node, and a client that keeps long-lived connections busy and opens new ones at a steady rate.
//!
//! ```text
//! dptraffic echo --node NAME --bind ADDR:PORT
//! dptraffic client --target ADDR:PORT --report FILE [--conns 200] [--interval-ms 20] [--rate 50]
//! ```
//!
//! The protocol is one line each way: the client sends `SEQ\n`, the server answers
//! `NODE SEQ\n`, so the client learns which node serves each connection.
//!
//! The client prints one JSON line to stdout when every long-lived connection has had its first
//! echo (`{"event":"ready",...}`); only then does it start opening new connections. On SIGTERM
//! it writes its report (JSON, see [`Client::report`]) to the report file (written to a temporary
//! name, then renamed) and exits 0. Times in the report are wall-clock milliseconds since the
//! Unix epoch, so that the test (another process on the same machine) can compare them with its
//! own.
//!
//! A long-lived connection is broken at the first write error, EOF, reset or an echo that takes
//! longer than [`ECHO_TIMEOUT`]; it is not reopened (the report counts it once). A new connection
//! fails when connect + one request + its answer take longer than [`NEW_TIMEOUT`] or error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{interval, sleep, timeout, MissedTickBehavior};

/// An echo slower than this breaks a long-lived connection.
const ECHO_TIMEOUT: Duration = Duration::from_secs(1);
/// Connect + request + answer of a new connection must finish within this.
const NEW_TIMEOUT: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match args.first().map(String::as_str) {
        Some("echo") => rt.block_on(echo(&args[1..])),
        Some("client") => rt.block_on(client(&args[1..])),
        _ => Err(
            "usage: dptraffic echo --node NAME --bind ADDR:PORT | dptraffic client \
                  --target ADDR:PORT --report FILE [--conns N] [--interval-ms MS] [--rate PER_S]"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dptraffic: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--key value` options.
fn option(args: &[String], key: &str) -> Option<String> {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn required(args: &[String], key: &str) -> Result<String, String> {
    option(args, key).ok_or_else(|| format!("{key} is required"))
}

fn number(args: &[String], key: &str, default: u64) -> Result<u64, String> {
    match option(args, key) {
        Some(v) => v.parse().map_err(|e| format!("{key} {v}: {e}")),
        None => Ok(default),
    }
}

/// Wall clock, milliseconds since the Unix epoch.
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn echo(args: &[String]) -> Result<(), String> {
    let node = required(args, "--node")?;
    let bind: SocketAddr = required(args, "--bind")?
        .parse()
        .map_err(|e| format!("--bind: {e}"))?;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("bind {bind}: {e}"))?;
    println!(
        "{}",
        json!({"event": "listening", "node": node, "bind": bind.to_string()})
    );
    let node: Arc<str> = node.into();
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(|e| format!("accept: {e}"))?;
        let node = node.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if w.write_all(format!("{node} {line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

/// What the client knows about one long-lived connection.
#[derive(Debug, Default, Clone)]
struct Conn {
    /// The node named in the first echo.
    node: Option<String>,
    echoes: u64,
    /// Longest time between two echoes (or from the last echo to the break).
    max_gap_ms: u64,
    /// When that longest gap ended (wall ms).
    max_gap_end_ms: u64,
    broken_at_ms: Option<u64>,
    reason: Option<String>,
}

/// New connections so far.
#[derive(Debug, Default)]
struct NewConns {
    attempts: u64,
    by_node: BTreeMap<String, u64>,
    /// (start, wall ms; error).
    failures: Vec<(u64, String)>,
}

#[derive(Default)]
struct Client {
    conns: Mutex<Vec<Conn>>,
    new: Mutex<NewConns>,
}

impl Client {
    /// The report: `conns` (one object per long-lived connection: `node`, `echoes`,
    /// `max_gap_ms`, `max_gap_end_ms`, `broken_at_ms`, `reason`) and `new` (`attempts`,
    /// `by_node`, `failures` as `{t_ms, error}`), plus `written_ms`.
    fn report(&self) -> Value {
        let conns: Vec<Value> = lock(&self.conns)
            .iter()
            .map(|c| {
                json!({
                    "node": c.node,
                    "echoes": c.echoes,
                    "max_gap_ms": c.max_gap_ms,
                    "max_gap_end_ms": c.max_gap_end_ms,
                    "broken_at_ms": c.broken_at_ms,
                    "reason": c.reason,
                })
            })
            .collect();
        let new = lock(&self.new);
        let failures: Vec<Value> = new
            .failures
            .iter()
            .map(|(t, e)| json!({"t_ms": t, "error": e}))
            .collect();
        json!({
            "conns": conns,
            "new": {"attempts": new.attempts, "by_node": new.by_node, "failures": failures},
            "written_ms": wall_ms(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn client(args: &[String]) -> Result<(), String> {
    let target: SocketAddr = required(args, "--target")?
        .parse()
        .map_err(|e| format!("--target: {e}"))?;
    let report = std::path::PathBuf::from(required(args, "--report")?);
    let conns = number(args, "--conns", 200)? as usize;
    let tick = Duration::from_millis(number(args, "--interval-ms", 20)?);
    let rate = number(args, "--rate", 50)?.max(1);
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;

    let state = Arc::new(Client {
        conns: Mutex::new(vec![Conn::default(); conns]),
        new: Mutex::new(NewConns::default()),
    });
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    for id in 0..conns {
        let state = state.clone();
        let ready = ready_tx.clone();
        tokio::spawn(async move { long_lived(id, target, tick, state, ready).await });
        // Spread the connections' ticks over the interval.
        sleep(tick / conns.max(1) as u32).await;
    }
    drop(ready_tx);
    let mut first_echoes = 0;
    let started = Instant::now();
    while first_echoes < conns {
        tokio::select! {
            got = ready_rx.recv() => match got {
                Some(_) => first_echoes += 1,
                None => break,
            },
            _ = term.recv() => return write_report(&state, &report),
        }
    }
    let by_node = {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for c in lock(&state.conns).iter() {
            *m.entry(c.node.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
        }
        m
    };
    println!(
        "{}",
        json!({"event": "ready", "t_ms": wall_ms(), "conns": conns, "established": first_echoes,
               "by_node": by_node, "took_ms": started.elapsed().as_millis() as u64})
    );

    let mut every = interval(Duration::from_micros(1_000_000 / rate));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let state = state.clone();
                tokio::spawn(async move { new_connection(target, state).await });
            }
            _ = term.recv() => return write_report(&state, &report),
        }
    }
}

fn write_report(state: &Client, path: &std::path::Path) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, state.report().to_string())
        .map_err(|e| format!("write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename to {}: {e}", path.display()))
}

/// One long-lived connection: a request every `tick`, each answer awaited before the next.
async fn long_lived(
    id: usize,
    target: SocketAddr,
    tick: Duration,
    state: Arc<Client>,
    ready: tokio::sync::mpsc::UnboundedSender<usize>,
) {
    let broken = |reason: String, last: Instant| {
        let mut conns = lock(&state.conns);
        let c = &mut conns[id];
        let gap = last.elapsed().as_millis() as u64;
        if gap > c.max_gap_ms {
            c.max_gap_ms = gap;
            c.max_gap_end_ms = wall_ms();
        }
        c.broken_at_ms = Some(wall_ms());
        c.reason = Some(reason);
    };
    let stream = match timeout(ECHO_TIMEOUT * 5, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return broken(format!("connect: {e}"), Instant::now()),
        Err(_) => return broken("connect: timed out".into(), Instant::now()),
    };
    let _ = stream.set_nodelay(true);
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut ticks = interval(tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut line = String::new();
    for seq in 0u64.. {
        ticks.tick().await;
        if let Err(e) = w.write_all(format!("{seq}\n").as_bytes()).await {
            return broken(format!("write: {e}"), last);
        }
        line.clear();
        match timeout(ECHO_TIMEOUT, r.read_line(&mut line)).await {
            Ok(Ok(0)) => return broken("EOF".into(), last),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return broken(format!("read: {e}"), last),
            Err(_) => return broken(format!("no echo within {ECHO_TIMEOUT:?}"), last),
        }
        let mut words = line.split_whitespace();
        let node = words.next().unwrap_or_default().to_string();
        if words.next() != Some(&seq.to_string()) {
            return broken(format!("unexpected echo {line:?} for {seq}"), last);
        }
        let gap = last.elapsed().as_millis() as u64;
        last = Instant::now();
        let mut conns = lock(&state.conns);
        let c = &mut conns[id];
        if seq > 0 && gap > c.max_gap_ms {
            c.max_gap_ms = gap;
            c.max_gap_end_ms = wall_ms();
        }
        c.echoes += 1;
        if c.node.is_none() {
            c.node = Some(node);
            let _ = ready.send(id);
        }
    }
}

/// One new connection: connect, one request, its answer, close.
async fn new_connection(target: SocketAddr, state: Arc<Client>) {
    let start = wall_ms();
    let attempt = async {
        let stream = TcpStream::connect(target)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        w.write_all(b"new\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        match BufReader::new(r).read_line(&mut line).await {
            Ok(0) => Err("EOF".to_string()),
            Ok(_) => Ok(line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()),
            Err(e) => Err(format!("read: {e}")),
        }
    };
    let result = match timeout(NEW_TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {NEW_TIMEOUT:?}")),
    };
    let mut new = lock(&state.new);
    new.attempts += 1;
    match result {
        Ok(node) => *new.by_node.entry(node).or_default() += 1,
        Err(e) => new.failures.push((start, e)),
    }
}
