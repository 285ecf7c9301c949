//! The Prometheus endpoint (`global.metrics_listen`): a tiny HTTP/1.1 server on tokio that
//! answers `GET /metrics` with the text exposition format (version 0.0.4), plus the
//! building blocks: a latency [`Histogram`] and a [`TextWriter`] for families of samples.
//! What is exported is decided by [`crate::control`], which owns the state.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Samples kept for medians (`bgpctl`, tests, the docs figure).
const RECENT: usize = 1024;

/// A cumulative histogram plus the most recent samples.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
    recent: std::collections::VecDeque<Duration>,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += s;
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(d);
    }

    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The recent samples (at most 1024), oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Duration> + '_ {
        self.recent.iter().copied()
    }

    /// Median of the recent samples.
    pub fn median(&self) -> Option<Duration> {
        let mut v: Vec<Duration> = self.recent.iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort();
        Some(v[v.len() / 2])
    }

    /// Writes the `_bucket`, `_sum` and `_count` samples with `labels` (`key="value"` list
    /// without braces, may be empty).
    pub fn write(&self, w: &mut TextWriter, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                w.out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            w.out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(w.out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(w.out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// Builds the text format: `# HELP` / `# TYPE` once per family, then samples.
#[derive(Debug, Default)]
pub struct TextWriter {
    /// The text written so far.
    pub out: String,
}

impl TextWriter {
    /// Starts a metric family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// A family with one sample per peer, labelled `peer`: `rows` gives each peer's name and
    /// what `value` reads the sample from.
    pub fn per_peer<'a, T, V: std::fmt::Display>(
        &mut self,
        (name, kind, help): (&str, &str, &str),
        rows: impl IntoIterator<Item = (&'a str, T)>,
        value: impl Fn(T) -> V,
    ) {
        self.family(name, kind, help);
        for (peer, row) in rows {
            self.sample(name, &[("peer", peer)], value(row));
        }
    }

    /// One sample; `labels` are (key, value) pairs, values escaped here.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Label value escaping (backslash, quote, newline).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Something that renders the current metrics.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `GET /metrics` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, render: Render) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let render = render.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(stream, render).await {
                        debug!("metrics request from {remote} failed: {e}");
                    }
                });
            }
            Err(e) => {
                warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(mut stream: TcpStream, render: Render) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 16 * 1024 {
                break;
            }
        }
        Ok::<(), std::io::Error>(())
    };
    if tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .is_err()
    {
        return Ok(());
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(),
        ),
        ("GET", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            "bgpd: metrics at /metrics\n".to_string(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Binds the endpoint and spawns the server.
pub async fn start(
    addr: SocketAddr,
    render: Render,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(serve(listener, render)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(20));
        let mut w = TextWriter::default();
        h.write(&mut w, "x_seconds", "cause=\"api\"");
        assert!(w
            .out
            .contains("x_seconds_bucket{cause=\"api\",le=\"0.0005\"} 1\n"));
        assert!(w
            .out
            .contains("x_seconds_bucket{cause=\"api\",le=\"0.005\"} 2\n"));
        assert!(w
            .out
            .contains("x_seconds_bucket{cause=\"api\",le=\"10\"} 2\n"));
        assert!(w
            .out
            .contains("x_seconds_bucket{cause=\"api\",le=\"+Inf\"} 3\n"));
        assert!(w.out.contains("x_seconds_count{cause=\"api\"} 3\n"));
        assert_eq!(h.median(), Some(Duration::from_millis(3)));
    }

    #[test]
    fn per_peer_writes_one_family_and_a_sample_per_peer() {
        let mut w = TextWriter::default();
        w.per_peer(
            ("x_total", "counter", "Things."),
            [("a", 1u64), ("b\"", 20)],
            |n| n * 2,
        );
        assert_eq!(
            w.out,
            "# HELP x_total Things.\n# TYPE x_total counter\n\
             x_total{peer=\"a\"} 2\nx_total{peer=\"b\\\"\"} 40\n"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let mut w = TextWriter::default();
        w.sample("m", &[("peer", "a\"b\\c\nd")], 1);
        assert_eq!(w.out, "m{peer=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(serve(listener, Arc::new(|| "up 1\n".to_string())));
        let get = |path: &'static str| async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).await.expect("read");
            out
        };
        let ok = get("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nup 1\n"), "{ok}");
        assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
        task.abort();
    }
}
