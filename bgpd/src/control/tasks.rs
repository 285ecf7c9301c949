//! Background tasks: health probes and the control socket server.

use super::*;

pub(super) async fn run_check(
    shared: std::sync::Weak<Shared>,
    service: String,
    index: usize,
    probe: Probe,
    check: crate::config::HealthCheck,
) {
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::time::sleep_until(next).await;
        next += check.interval;
        let disabled = check.disable_file.as_ref().is_some_and(|f| f.exists());
        let result = if disabled {
            Err("disabled".to_string())
        } else {
            health::run_probe(&probe, check.timeout).await
        };
        let Some(s) = shared.upgrade() else { return };
        s.health_result(&service, index, disabled, result);
        if next < tokio::time::Instant::now() {
            next = tokio::time::Instant::now();
        }
    }
}

pub(super) async fn watch_statuses(shared: Arc<Shared>, mut map_rx: Statuses) {
    let mut watchers: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    loop {
        let current: BTreeMap<String, watch::Receiver<PeerStatus>> =
            map_rx.borrow_and_update().clone();
        watchers.retain(|name, task| {
            let keep = current.contains_key(name);
            if !keep {
                task.abort();
            }
            keep
        });
        for (name, rx) in current {
            if watchers.contains_key(&name) {
                continue;
            }
            let s = shared.clone();
            let n = name.clone();
            watchers.insert(
                name,
                tokio::spawn(async move {
                    let mut rx = rx;
                    let mut prev = rx.borrow_and_update().clone();
                    s.on_status(&n, None, &prev);
                    while rx.changed().await.is_ok() {
                        let cur = rx.borrow_and_update().clone();
                        s.on_status(&n, Some(&prev), &cur);
                        prev = cur;
                    }
                }),
            );
        }
        if map_rx.changed().await.is_err() {
            break;
        }
    }
    for (_, t) in watchers {
        t.abort();
    }
}

pub(super) async fn serve_control(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_client(stream, shared.clone()));
            }
            Err(e) => {
                warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Requests at least this long hand the memory they used back to the kernel once answered.
const LARGE_REQUEST: usize = 256 * 1024;

pub(super) async fn serve_client(stream: UnixStream, shared: Arc<Shared>) {
    let mut framed = Framed::new(
        stream,
        LinesCodec::new_with_max_length(api::MAX_REQUEST_LEN),
    );
    while let Some(line) = framed.next().await {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let _ = send(
                    &mut framed,
                    &Response::error(format!("bad request line: {e}")),
                )
                .await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let large = line.len() >= LARGE_REQUEST;
        let request = api::parse_request(&line);
        // A bulk request line may be megabytes: not kept while it is carried out.
        drop(line);
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                if send(&mut framed, &Response::error(e)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let follow = matches!(request.command, Command::Events { follow: true, .. });
        let mut sub = follow.then(|| shared.events.subscribe());
        let response = shared.handle(request.command).await;
        if send(&mut framed, &response).await.is_err() {
            return;
        }
        if large {
            // A bulk request (100k prefixes) leaves tens of MB free once parsed and applied,
            // and the read buffer grown to its size.
            if framed.read_buffer().is_empty() {
                *framed.read_buffer_mut() = bytes::BytesMut::new();
            }
            crate::memory::release_freed_memory();
        }
        if let Some(sub) = sub.as_mut() {
            follow_events(&mut framed, sub).await;
            return;
        }
    }
}

pub(super) async fn send(
    framed: &mut Framed<UnixStream, LinesCodec>,
    response: &Response,
) -> Result<(), ()> {
    let line = serde_json::to_string(response).map_err(|_| ())?;
    framed.send(line).await.map_err(|_| ())
}

pub(super) async fn follow_events(
    framed: &mut Framed<UnixStream, LinesCodec>,
    sub: &mut tokio::sync::broadcast::Receiver<api::EventInfo>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            ev = sub.recv() => match ev {
                Ok(event) => {
                    let line = api::EventLine { v: api::API_VERSION, event };
                    let Ok(text) = serde_json::to_string(&line) else { continue };
                    if framed.send(text).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    warn!("control client following events lagged; {n} events skipped");
                }
                Err(RecvError::Closed) => return,
            },
            // The client closing its end (or sending anything) ends the stream.
            _ = framed.next() => return,
        }
    }
}
