//! Resilience over loopback (issue 7): a peer that stops reading is reset with Cease 6/8
//! (Out of Resources) once bgpd's unsent data for it exceeds `max_queued_bytes`, instead of
//! bgpd's memory growing; bgpd logs it in one clear sentence.
//!
//! The test peer is a raw TCP socket with a tiny receive buffer: it completes the OPEN
//! exchange, then reads nothing while bgpd sends a table of 40,000 routes (about 200 KB).

#[path = "support/bgpd_process.rs"]
mod bgpd_process;
#[path = "support/state_dir.rs"]
mod state_dir;
use bgpd_process::Bgpd;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bgp_proto::{Capability, Family, Message, Open, SessionContext};
use bytes::{Bytes, BytesMut};

const WAIT: Duration = Duration::from_secs(30);

/// Reads one whole BGP message (blocking).
fn read_message(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Bytes> {
    loop {
        if let Ok(Some(len)) = bgp_proto::frame_len(buf, 65535) {
            return Some(buf.split_to(len).freeze());
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn decode(msg: Bytes) -> Message {
    bgp_proto::decode(msg, &SessionContext::default()).expect("bgpd sends valid messages")
}

#[test]
fn slow_peer_over_max_queued_bytes_is_reset_with_cease_6_8() {
    // A listener whose accepted sockets have a small receive buffer (inherited).
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    // A small MSS keeps bgpd's kernel send buffer small too (on loopback the 64 KiB MSS lets
    // the kernel take a megabyte before the socket blocks).
    socket.set_mss(536).expect("TCP_MAXSEG");
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .expect("bind");
    socket.listen(1).expect("listen");
    let listener: TcpListener = socket.into();
    let port = listener.local_addr().expect("addr").port();

    let mut config = format!(
        "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = []\nhold_time = 90\n\
         connect_retry = 1\n\n[[peers]]\nname = \"slow\"\naddress = \"127.0.0.1\"\nport = {port}\n\
         asn = 64500\nlocal_address = \"127.0.0.1\"\ngraceful_restart = false\n\
         max_queued_bytes = 65535\nidle_hold_time = 60\n"
    );
    for i in 0..40_000u32 {
        let [_, _, a, b] = i.to_be_bytes();
        config.push_str(&format!(
            "\n[[services]]\nprefix = \"10.{}.{a}.{b}/32\"\nnexthops = [\"192.0.2.1\"]\n",
            1 + (i >> 16)
        ));
    }
    let bgpd = Bgpd::start(&config);

    let (mut s, _) = listener.accept().expect("bgpd connects");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = BytesMut::new();
    let open = read_message(&mut s, &mut buf).expect("bgpd's OPEN");
    assert!(matches!(decode(open), Message::Open(_)));
    let ours = Open {
        my_as: 64500,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(64500),
        ],
    };
    let mut out = BytesMut::new();
    ours.encode(&mut out);
    bgp_proto::encode_keepalive(&mut out);
    s.write_all(&out).expect("send OPEN and KEEPALIVE");
    let ka = read_message(&mut s, &mut buf).expect("bgpd's KEEPALIVE");
    assert!(matches!(decode(ka), Message::Keepalive));

    // Now read nothing: bgpd's table piles up in its send queue.
    let line = bgpd.wait_log("more than max_queued_bytes (65535)", WAIT);
    println!("{line}");
    assert!(
        line.contains("slow (127.0.0.1)")
            && line.contains("the peer is not reading fast enough")
            && line.contains("NOTIFICATION 6/8 (Out of Resources)"),
        "{line}"
    );
    // Drain: what bgpd had started to send, then the NOTIFICATION, then EOF.
    let mut last = None;
    let mut updates = 0usize;
    while let Some(msg) = read_message(&mut s, &mut buf) {
        match decode(msg) {
            Message::Update(_) => updates += 1,
            m => last = Some(m),
        }
    }
    match last {
        Some(Message::Notification(n)) => {
            assert_eq!((n.code.0, n.subcode), (6, 8), "{n:?}");
        }
        other => panic!("expected NOTIFICATION 6/8 last, got {other:?} after {updates} UPDATEs"),
    }
    // The message being written when the cap was hit is completed (the stream stays
    // framed); everything queued behind it was dropped.
    assert!(updates > 0, "{updates} UPDATEs");
    // bgpd itself is fine and says the session went down.
    bgpd.wait_log("Out of Resources", WAIT);
    assert!(bgpd.log().contains("session with slow"));
}

/// A listener on 127.0.0.1 for bgpd to connect to.
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// Accepts bgpd's connection and completes the OPEN exchange (bgpd's OPEN, ours with AS
/// 64500, both KEEPALIVEs).
fn establish(l: &TcpListener) -> (TcpStream, BytesMut) {
    let (mut s, _) = l.accept().expect("bgpd connects");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = BytesMut::new();
    let open = read_message(&mut s, &mut buf).expect("bgpd's OPEN");
    assert!(matches!(decode(open), Message::Open(_)));
    let ours = Open {
        my_as: 64500,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(64500),
        ],
    };
    let mut out = BytesMut::new();
    ours.encode(&mut out);
    bgp_proto::encode_keepalive(&mut out);
    s.write_all(&out).expect("send OPEN and KEEPALIVE");
    let ka = read_message(&mut s, &mut buf).expect("bgpd's KEEPALIVE");
    assert!(matches!(decode(ka), Message::Keepalive));
    (s, buf)
}

#[test]
fn prefix_limit_sends_6_1_and_reconnects_after_max_prefixes_restart() {
    let (l, port) = listener();
    let config = format!(
        "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = []\nhold_time = 90\n\
         connect_retry = 1\n\n[[peers]]\nname = \"greedy\"\naddress = \"127.0.0.1\"\n\
         port = {port}\nasn = 64500\nlocal_address = \"127.0.0.1\"\nmax_prefixes = 2\n\
         max_prefixes_restart = 3\nidle_hold_time = \"100ms\"\nimport = \"all\"\n"
    );
    let bgpd = Bgpd::start(&config);
    let (mut s, mut buf) = establish(&l);
    // Three routes from AS 64500 where two are allowed.
    let cx = SessionContext {
        four_octet_as: true,
        peer_asn: 64512,
        ..SessionContext::default()
    };
    let attrs = bgp_proto::PathAttributes {
        as_path: bgp_proto::AsPath::from_sequence([64500]),
        ..bgp_proto::PathAttributes::default()
    };
    let nlri: Vec<bgp_proto::Nlri> = (1..=3)
        .map(|i| bgp_proto::Nlri::new(format!("203.0.{i}.0/24").parse().expect("prefix")))
        .collect();
    let mut out = BytesMut::new();
    bgp_proto::UpdateBuilder::new(&cx).announce(
        &attrs,
        &bgp_proto::NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
        &nlri,
        &mut out,
    );
    s.write_all(&out).expect("send UPDATE");
    let sent = Instant::now();
    let mut notification = None;
    while let Some(msg) = read_message(&mut s, &mut buf) {
        if let Message::Notification(n) = decode(msg) {
            notification = Some(n);
        }
    }
    let n = notification.expect("a NOTIFICATION before the close");
    // Cease 6/1, Data: AFI 1, SAFI 1, limit 2 (RFC 4486 §4).
    assert_eq!((n.code.0, n.subcode), (6, 1), "{n:?}");
    assert_eq!(&n.data[..], &[0, 1, 1, 0, 0, 0, 2]);
    // bgpd stays down for max_prefixes_restart (3 s), not its 100 ms idle hold time.
    let (_again, _) = l.accept().expect("bgpd reconnects");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(10),
        "reconnected after {waited:?}"
    );
    println!("bgpd reconnected {waited:?} after the prefix-limit reset");
    assert!(bgpd
        .log()
        .contains("maximum number of prefixes (2) exceeded"));
}

/// A listener whose accepted sockets take little at a time: a 4 KiB receive buffer and a
/// small MSS (so bgpd's kernel send buffer stays small too, as in the 6/8 test above).
fn small_window_listener() -> (TcpListener, u16) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.set_mss(536).expect("TCP_MAXSEG");
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .expect("bind");
    socket.listen(1).expect("listen");
    let listener: TcpListener = socket.into();
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

/// bgpd with a 10 s send hold time and 40,000 routes (about 200 KB) for the peer on `port`.
fn send_hold_config(port: u16) -> String {
    let mut config = format!(
        "[global]\nasn = 64512\nrouter_id = \"10.255.0.2\"\nlisten = []\nhold_time = 90\n\
         connect_retry = 1\n\n[[peers]]\nname = \"slow\"\naddress = \"127.0.0.1\"\nport = {port}\n\
         asn = 64500\nlocal_address = \"127.0.0.1\"\ngraceful_restart = false\n\
         hold_time = 9\nsend_hold_time = 10\nidle_hold_time = 60\n"
    );
    for i in 0..40_000u32 {
        let [_, _, a, b] = i.to_be_bytes();
        config.push_str(&format!(
            "\n[[services]]\nprefix = \"10.{}.{a}.{b}/32\"\nnexthops = [\"192.0.2.1\"]\n",
            1 + (i >> 16)
        ));
    }
    config
}

/// Sends a KEEPALIVE every 3 s on a clone of `s` until the returned flag is set.
fn keepalives(s: &TcpStream) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let mut w = s.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut ka = BytesMut::new();
        bgp_proto::encode_keepalive(&mut ka);
        while !flag.load(Ordering::Relaxed) {
            if w.write_all(&ka).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    });
    stop
}

/// Issue 17 item 1 (RFC 9687): a router that reads bgpd's table slowly (about 10 KB/s, so
/// the 200 KB take longer than the 10 s send hold time) and then stays quiet is never reset:
/// every write, on either writer path, restarts the SendHoldTimer and the emptied queue
/// stops it.
#[test]
fn slow_reader_is_not_reset_by_the_send_hold_timer() {
    let (listener, port) = small_window_listener();
    let bgpd = Bgpd::start(&send_hold_config(port));
    let (mut s, mut buf) = establish(&listener);
    let stop = keepalives(&s);
    let started = Instant::now();
    let mut updates = 0usize;
    let mut chunk = [0u8; 1024];
    // Read 1 KiB every 100 ms until End-of-RIB... bgpd sends none without graceful restart,
    // so until 40,000 prefixes have arrived.
    let mut prefixes = 0usize;
    while prefixes < 40_000 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {prefixes} prefixes in {updates} UPDATEs"
        );
        let n = s.read(&mut chunk).expect("bgpd keeps the session");
        assert!(
            n > 0,
            "bgpd closed the session after {:?}",
            started.elapsed()
        );
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(len)) = bgp_proto::frame_len(&buf, 65535) {
            if buf.len() < len {
                break;
            }
            match decode(buf.split_to(len).freeze()) {
                Message::Update(u) => {
                    updates += 1;
                    prefixes += u.nlri().count();
                }
                Message::Notification(n) => panic!("bgpd sent {n:?}"),
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let drained = started.elapsed();
    println!("{prefixes} prefixes in {updates} UPDATEs read in {drained:?}");
    assert!(
        drained > Duration::from_secs(10),
        "the table must take longer than the send hold time to read: {drained:?}"
    );
    // Quiet for longer than the send hold time: only KEEPALIVEs.
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(15) {
        match s.read(&mut chunk) {
            Ok(0) => panic!(
                "bgpd closed the session {:?} after the drain",
                quiet.elapsed()
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        !bgpd.log().contains("send hold timer expired"),
        "{}",
        bgpd.log()
    );
}

/// RFC 9687: a router that keeps sending KEEPALIVEs but reads nothing is closed with 8/0
/// once bgpd's queue has not moved for the send hold time (10 s).
#[test]
fn peer_that_stops_reading_is_closed_after_the_send_hold_time() {
    let (listener, port) = small_window_listener();
    let bgpd = Bgpd::start(&send_hold_config(port));
    let (s, _buf) = establish(&listener);
    let stop = keepalives(&s);
    let started = Instant::now();
    let line = bgpd.wait_log("send hold timer expired", WAIT);
    let waited = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    println!("{line} (after {waited:?})");
    assert!(
        line.contains("session with slow (127.0.0.1) down"),
        "{line}"
    );
    assert!(line.contains("8/0"), "{line}");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
}
