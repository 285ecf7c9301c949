//! Transport hardening inside network namespaces: TCP MD5 signatures (RFC 2385) over IPv4 and
//! IPv6, and GTSM (RFC 5082, `ttl_security`), each against a raw peer in a second namespace.
//!
//! - MD5: the right key establishes; a wrong or missing key never gets a TCP connection (the
//!   kernel drops the SYN), in both directions. bgpd cannot see a refused *inbound* SYN (the
//!   kernel counts it in `/proc/net/netstat` and logs only to dmesg); for its *outbound*
//!   attempts it logs "no answer from ADDR ...: a TCP MD5 password is configured: check it
//!   matches the router's", which these tests pin.
//! - GTSM: a peer whose packets arrive with TTL 255 establishes; one whose packets arrive with
//!   TTL 254 (what a router two hops away sending 255 produces) never does, and for bgpd's own
//!   connection attempts bgpd logs the GTSM hint. The namespaces share one bridge (no TTL
//!   decrement), so the raw peer sets its TTL to stand in for the extra hop.
//!
//! Requires root (network namespaces) and iproute2.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use interop::hostile::{in_netns, listener_with, wire, RawPeer};
use interop::{bgpd_binary, wait_until, Node, Topology};

const BGPD_AS: u32 = 65000;
const PEER_AS: u32 = 65001;
const KEY: &str = "hostile-md5-key";
const WAIT: Duration = Duration::from_secs(15);

struct Running {
    log: PathBuf,
}

impl Running {
    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn has(&self, needles: &[&str]) -> bool {
        self.text()
            .lines()
            .any(|l| needles.iter().all(|n| l.contains(n)))
    }
    fn wait(&self, timeout: Duration, needles: &[&str]) -> bool {
        wait_until(timeout, || self.has(needles), |b| *b)
    }
}

/// Starts bgpd in `node` with `peers` (raw TOML of the `[[peers]]` tables).
fn start(topo: &Topology, node: &Node, peers: &str) -> Running {
    let conf = node.dir.join("bgpd.toml");
    let log = node.dir.join("bgpd.log");
    let text = format!(
        "[global]\nasn = {BGPD_AS}\nrouter_id = \"10.0.0.1\"\n\
         listen = [\"0.0.0.0:179\", \"[::]:179\"]\nhold_time = 9\nconnect_retry = 1\n\
         control_socket = \"{}\"\nstate_dir = \"{}\"\n{peers}",
        node.dir.join("bgpd.sock").display(),
        node.dir.join("state").display()
    );
    std::fs::write(&conf, text).expect("write config");
    let bin = bgpd_binary();
    topo.spawn(
        node,
        "bgpd",
        &bin.display().to_string(),
        &["run", "-c", &conf.display().to_string()],
        &log,
    );
    let r = Running { log };
    assert!(
        r.wait(WAIT, &["bgpd started"]),
        "bgpd did not start:\n{}",
        r.text()
    );
    r
}

fn peer_table(name: &str, address: IpAddr, extra: &str) -> String {
    format!("\n[[peers]]\nname = \"{name}\"\naddress = \"{address}\"\nasn = {PEER_AS}\n{extra}\n")
}

/// From `from`'s namespace: connect to bgpd with `md5`/`ttl` and run the handshake.
fn try_session(
    from: &Node,
    to: SocketAddr,
    md5: Option<&str>,
    ttl: Option<u32>,
) -> Result<(), String> {
    in_netns(&from.ns, || {
        let mut raw = RawPeer::connect_with(to, md5, ttl, Duration::from_secs(3))
            .map_err(|e| format!("connect: {e}"))?;
        raw.handshake(
            &wire::open(PEER_AS, 0, [10, 0, 0, 2]),
            Duration::from_secs(4),
        )
        .map(|_| ())
    })
}

fn md5_inbound(v6: bool) {
    let topo = Topology::new(if v6 {
        "hostile-md5-v6"
    } else {
        "hostile-md5-v4"
    });
    let b = topo.add_node("bgpd");
    let right = topo.add_node("right");
    let wrong = topo.add_node("wrong");
    let none = topo.add_node("none");
    let key = format!("password = \"{KEY}\"\npassive = true");
    let peers = [
        peer_table("right", right.addr(v6), &key),
        peer_table("wrong", wrong.addr(v6), &key),
        peer_table("none", none.addr(v6), &key),
    ]
    .concat();
    let d = start(&topo, &b, &peers);
    let to = SocketAddr::new(b.addr(v6), 179);

    let bad = try_session(&wrong, to, Some("not-the-key"), None);
    assert!(bad.is_err(), "a wrong MD5 key connected");
    let missing = try_session(&none, to, None, None);
    assert!(missing.is_err(), "a peer without the MD5 key connected");
    try_session(&right, to, Some(KEY), None).expect("the right key establishes");
    assert!(
        d.wait(WAIT, &["session with right", "established"]),
        "{}",
        d.text()
    );
    // The kernel dropped the other SYNs: bgpd never even saw a connection.
    for who in ["wrong", "none"] {
        assert!(
            !d.has(&["connection from", who])
                && !d.has(&[&format!("session with {who}"), "established"]),
            "bgpd saw the {who} peer:\n{}",
            d.text()
        );
    }
}

#[test]
fn md5_ipv4_right_key_establishes_wrong_or_missing_never_connects() {
    md5_inbound(false);
}

#[test]
fn md5_ipv6_right_key_establishes_wrong_or_missing_never_connects() {
    md5_inbound(true);
}

/// bgpd connects out with a password the router does not share: the router's kernel drops the
/// SYNs, the attempt times out, and bgpd says what that probably means.
fn md5_outbound(v6: bool) {
    let topo = Topology::new(if v6 {
        "hostile-md5-out-v6"
    } else {
        "hostile-md5-out-v4"
    });
    let b = topo.add_node("bgpd");
    let r = topo.add_node("router");
    let listen = SocketAddr::new(r.addr(v6), 179);
    let bgpd_addr = b.addr(v6);
    // The router side: a listener that only accepts segments signed with KEY.
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = accepted.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let ns = r.ns.clone();
    let router = std::thread::spawn(move || {
        in_netns(&ns, || {
            let l = listener_with(listen, Some((KEY, bgpd_addr)), None).expect("listen");
            l.set_nonblocking(true).expect("nonblocking");
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                if l.accept().is_ok() {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    });
    let d = start(
        &topo,
        &b,
        &peer_table("router", r.addr(v6), "password = \"wrong-key\""),
    );
    let hint = d.wait(
        WAIT,
        &[
            &format!("no answer from {listen}"),
            "a TCP MD5 password is configured: check it matches the router's",
        ],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    router.join().expect("router thread");
    assert!(hint, "no MD5 hint in bgpd's log:\n{}", d.text());
    assert!(
        !accepted.load(std::sync::atomic::Ordering::Relaxed),
        "the router accepted a connection signed with the wrong key"
    );
}

#[test]
fn md5_ipv4_outbound_mismatch_is_logged() {
    md5_outbound(false);
}

#[test]
fn md5_ipv6_outbound_mismatch_is_logged() {
    md5_outbound(true);
}

#[test]
fn gtsm_peer_one_hop_away_establishes_two_hops_never() {
    let topo = Topology::new("hostile-gtsm");
    let b = topo.add_node("bgpd");
    let near = topo.add_node("near");
    let far = topo.add_node("far");
    let gtsm = "ttl_security = true\npassive = true";
    let peers = [
        peer_table("near", IpAddr::V4(near.ipv4), gtsm),
        peer_table("far", IpAddr::V4(far.ipv4), gtsm),
    ]
    .concat();
    let d = start(&topo, &b, &peers);
    let to = SocketAddr::new(IpAddr::V4(b.ipv4), 179);
    try_session(&near, to, None, Some(255)).expect("TTL 255 establishes");
    assert!(
        d.wait(WAIT, &["session with near", "established"]),
        "{}",
        d.text()
    );
    // TTL 254: what a router two hops away that sends with 255 delivers. bgpd sets IP_MINTTL
    // on the accepted socket, so the first segments can slip in before it applies (the
    // listener is shared with non-GTSM peers and has no minimum): our handshake may even see
    // bgpd's KEEPALIVE. What must hold is that bgpd never gets our KEEPALIVE, i.e. never
    // reaches Established with the far peer.
    let far_result = try_session(&far, to, None, Some(254));
    let never = interop::holds_for(
        Duration::from_secs(5),
        || d.has(&["session with far", "established"]),
        |up| !*up,
    );
    assert!(
        never.is_ok(),
        "bgpd established with a peer two hops away (raw side: {far_result:?}):\n{}",
        d.text()
    );
}

#[test]
fn gtsm_outbound_to_a_far_router_is_logged() {
    let topo = Topology::new("hostile-gtsm-out");
    let b = topo.add_node("bgpd");
    let r = topo.add_node("router");
    let listen = SocketAddr::new(IpAddr::V4(r.ipv4), 179);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let ns = r.ns.clone();
    // A router two hops away: its SYN-ACK arrives with TTL 254 and bgpd's socket drops it.
    let router = std::thread::spawn(move || {
        in_netns(&ns, || {
            let l = listener_with(listen, None, Some(254)).expect("listen");
            l.set_nonblocking(true).expect("nonblocking");
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = l.accept();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    });
    let d = start(
        &topo,
        &b,
        &peer_table("router", IpAddr::V4(r.ipv4), "ttl_security = true"),
    );
    let hint = d.wait(
        WAIT,
        &[
            &format!("no answer from {listen}"),
            "ttl_security (GTSM) is on",
        ],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    router.join().expect("router thread");
    assert!(hint, "no GTSM hint in bgpd's log:\n{}", d.text());
    assert!(!d.has(&["session with router", "established"]));
}
