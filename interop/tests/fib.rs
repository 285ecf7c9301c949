//! bgpd's kernel FIB (`bgpd::fib`, issue 16 item 2) on a real kernel, in network namespaces.
//!
//! The router is a namespace on the test LAN; the next hops are the LAN addresses of three node
//! namespaces. bgpd's FIB layer is driven directly (the Loc-RIB is not wired to it yet), and
//! every result is read back independently with iproute2's JSON output (`ip -j nexthop show`,
//! `ip -j nexthop bucket show`, `ip -j route show`), never with bgpd's own decoder.
//!
//! Run: `cargo test -p interop --test fib` (root; part of `./test.sh`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use bgpd::fib::{Fib, FibError, FibSettings, GroupKind, NextHopError, RouteTarget};
use interop::topo::{Node, Topology};
use ipnet::IpNet;
use serde_json::Value;

const PROTO: u8 = 179;
const TABLE: u32 = 100;

fn settings(kind: GroupKind) -> FibSettings {
    FibSettings {
        table: TABLE,
        protocol: PROTO,
        kind,
        retain_on_stop: false,
    }
}

fn resilient(buckets: u16, idle_timer: u32) -> GroupKind {
    GroupKind::Resilient {
        buckets,
        idle_timer,
        unbalanced_timer: 0,
    }
}

/// A router and three nodes on one LAN.
struct Lab {
    topo: Topology,
    router: Node,
    nodes: Vec<Node>,
}

impl Lab {
    fn new(test: &str) -> Lab {
        let topo = Topology::new(test);
        let router = topo.add_node("r");
        let nodes = (1..=3).map(|i| topo.add_node(&format!("n{i}"))).collect();
        Lab {
            topo,
            router,
            nodes,
        }
    }

    fn hop(&self, i: usize) -> IpAddr {
        IpAddr::V4(self.nodes[i].ipv4)
    }

    /// Opens the FIB inside the router's namespace: the socket belongs to the namespace of
    /// the thread that creates it, so a thread enters the namespace, opens, and hands it back.
    fn open(&self, s: FibSettings) -> Fib {
        let path = format!("/run/netns/{}", self.router.ns);
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            use std::os::fd::AsRawFd;
            // SAFETY: setns on a valid namespace fd; it changes this short-lived thread only.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            Fib::open(s).expect("open the FIB")
        })
        .join()
        .expect("open thread")
    }

    fn ip_json(&self, args: &[&str]) -> Value {
        let out = Command::new("ip")
            .args(["-n", &self.router.ns, "-j"])
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return Value::Array(vec![]);
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip {args:?}: {e}: {text}"))
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .args(["-n", &self.router.ns])
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every next-hop object, by id.
    fn nexthops(&self) -> BTreeMap<u64, Value> {
        self.ip_json(&["nexthop", "show"])
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].as_u64().unwrap(), n.clone()))
            .collect()
    }

    /// Bucket index -> next-hop id of group `id`.
    fn buckets(&self, id: u32) -> BTreeMap<u64, u64> {
        self.ip_json(&["nexthop", "bucket", "show", "id", &id.to_string()])
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["bucket"]["index"].as_u64().unwrap(),
                    b["bucket"]["nhid"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// Bucket index -> (next-hop id, idle seconds) of group `id`.
    fn bucket_table(&self, id: u32) -> BTreeMap<u64, (u32, f64)> {
        self.ip_json(&["nexthop", "bucket", "show", "id", &id.to_string()])
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["bucket"]["index"].as_u64().unwrap(),
                    (
                        b["bucket"]["nhid"].as_u64().unwrap() as u32,
                        b["bucket"]["idle_time"].as_f64().unwrap(),
                    ),
                )
            })
            .collect()
    }

    /// The routes of `table`, as (destination, protocol, nhid).
    fn routes(&self, table: u32) -> Vec<(String, String, Option<u64>)> {
        self.ip_json(&["route", "show", "table", &table.to_string()])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["dst"].as_str().unwrap().to_string(),
                    r["protocol"].as_str().unwrap_or("").to_string(),
                    r["nhid"].as_u64(),
                )
            })
            .collect()
    }
}

fn p(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn group_of(fib: &Fib, prefix: &str) -> u32 {
    match fib.state().routes.get(&p(prefix)) {
        Some(RouteTarget::Group(id)) => *id,
        other => panic!("{prefix}: {other:?}"),
    }
}

/// The id of the next hop with `gateway` in iproute2's view.
fn id_of(nhs: &BTreeMap<u64, Value>, gateway: IpAddr) -> u64 {
    nhs.iter()
        .find(|(_, n)| n["gateway"].as_str() == Some(&gateway.to_string()))
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no next hop via {gateway}: {nhs:?}"))
}

/// Polls `f` until it returns `Some`, or fails after `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn resilient_group_is_exact_and_a_leaving_member_moves_only_its_own_buckets() {
    let lab = Lab::new("fib-resilient");
    let mut fib = lab.open(settings(resilient(64, 120)));
    let hops: Vec<(IpAddr, u32)> = (0..3).map(|i| (lab.hop(i), 1)).collect();
    let hops6: Vec<(IpAddr, u32)> = lab.nodes.iter().map(|n| (IpAddr::V6(n.ipv6), 1)).collect();
    let applied = fib.apply([
        (p("192.0.2.1/32"), hops.clone()),
        (p("192.0.2.2/32"), hops.clone()),
        (p("2001:db8::1/128"), hops6.clone()),
    ]);
    assert!(applied.errors.is_empty(), "{applied:?}");
    let g = group_of(&fib, "192.0.2.1/32");
    assert_eq!(
        group_of(&fib, "192.0.2.2/32"),
        g,
        "one group per distinct set"
    );
    let g6 = group_of(&fib, "2001:db8::1/128");
    assert_ne!(g6, g);

    // Read back with iproute2: members, weights, type, buckets, timers, protocol.
    let nhs = lab.nexthops();
    assert_eq!(nhs.len(), 8, "two groups, six next hops: {nhs:?}");
    let group = &nhs[&u64::from(g)];
    let members: Vec<(u64, u64)> = group["group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_u64().unwrap(), m["weight"].as_u64().unwrap_or(1)))
        .collect();
    let ids: Vec<u64> = (0..3).map(|i| id_of(&nhs, lab.hop(i))).collect();
    assert_eq!(members, ids.iter().map(|id| (*id, 1)).collect::<Vec<_>>());
    assert_eq!(group["type"], "resilient");
    assert_eq!(group["resilient_args"]["buckets"], 64);
    assert_eq!(group["resilient_args"]["idle_timer"], 120);
    assert_eq!(group["resilient_args"]["unbalanced_timer"], 0);
    for n in nhs.values() {
        assert_eq!(n["protocol"].as_str(), Some("179"), "{n}");
    }
    for id in &ids {
        assert_eq!(nhs[id]["dev"], "eth0");
    }
    let mut routes = lab.routes(TABLE);
    routes.sort();
    assert_eq!(
        routes,
        vec![
            (
                "192.0.2.1".to_string(),
                "179".to_string(),
                Some(u64::from(g))
            ),
            (
                "192.0.2.2".to_string(),
                "179".to_string(),
                Some(u64::from(g))
            ),
        ]
    );
    let v6 = lab.ip_json(&["-6", "route", "show", "table", &TABLE.to_string()]);
    assert_eq!(v6[0]["dst"], "2001:db8::1");
    assert_eq!(v6[0]["nhid"].as_u64(), Some(u64::from(g6)));
    assert_eq!(nhs[&u64::from(g6)]["group"].as_array().unwrap().len(), 3);

    // Node 3 leaves every prefix: the group changes in place and only its buckets move.
    let before = lab.buckets(g);
    assert_eq!(before.len(), 64);
    let before6 = lab.buckets(g6);
    // Live kernel bytes through bgpd's own decoder (RTM_NEWNEXTHOPBUCKET) give iproute2's view.
    let ours: BTreeMap<u64, u64> = fib
        .buckets(g)
        .unwrap()
        .into_iter()
        .map(|(i, nh, _)| (u64::from(i), u64::from(nh)))
        .collect();
    assert_eq!(ours, before);
    assert_eq!(fib.count_bucket_moves().unwrap(), 0);
    let two: Vec<(IpAddr, u32)> = hops[..2].to_vec();
    let applied = fib.apply([
        (p("192.0.2.1/32"), two.clone()),
        (p("192.0.2.2/32"), two.clone()),
        (p("2001:db8::1/128"), hops6[..2].to_vec()),
    ]);
    assert!(applied.errors.is_empty(), "{applied:?}");
    assert_eq!(
        group_of(&fib, "192.0.2.1/32"),
        g,
        "same group, changed in place"
    );
    let after = lab.buckets(g);
    let mut kept = 0;
    let mut moved = 0u64;
    for (index, nh) in &before {
        if *nh == ids[2] {
            assert_ne!(after[index], ids[2]);
            moved += 1;
        } else {
            assert_eq!(
                after[index], *nh,
                "bucket {index} of a staying member moved"
            );
            kept += 1;
        }
    }
    assert!(kept > 0 && moved > 0, "kept {kept}, moved {moved}");
    let after6 = lab.buckets(g6);
    let moved6 = before6.iter().filter(|(i, nh)| after6[*i] != **nh).count() as u64;
    assert_eq!(
        fib.count_bucket_moves().unwrap(),
        moved + moved6,
        "bgpd's own count of moved buckets (both groups)"
    );
    println!("member leaves: {kept} buckets of the staying members kept, {moved} of the leaving member moved");
    assert!(
        !lab.nexthops().contains_key(&ids[2]),
        "the unused next hop is deleted"
    );

    // Metrics: one group, two members.
    let mut w = bgpd::metrics::TextWriter::default();
    fib.write_metrics(&mut w);
    assert!(w.out.contains("bgpd_fib_groups 2\n"), "{}", w.out);
    assert!(
        w.out
            .contains(&format!("bgpd_fib_group_members{{group=\"{g}\"}} 2\n")),
        "{}",
        w.out
    );
    assert!(w.out.contains("bgpd_fib_routes 3\n"), "{}", w.out);
    // Every route counted once, under its group.
    let per_group: Vec<u64> = w
        .out
        .lines()
        .filter(|l| l.starts_with("bgpd_fib_group_routes{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(
        (per_group.len(), per_group.iter().sum::<u64>()),
        (2, 3),
        "{}",
        w.out
    );

    let applied = fib.stop();
    assert!(applied.errors.is_empty(), "{applied:?}");
    assert!(lab.routes(TABLE).is_empty());
    assert!(lab.nexthops().is_empty());
}

#[test]
fn a_joining_member_takes_only_idle_buckets() {
    let lab = Lab::new("fib-join");
    // The router's own UDP flows to the service hash on ports, through our table.
    lab.topo
        .sysctl(&lab.router, "net.ipv4.fib_multipath_hash_policy", "1");
    lab.ip(&[
        "rule",
        "add",
        "to",
        "192.0.2.0/24",
        "lookup",
        &TABLE.to_string(),
    ]);
    // A bucket is busy for 30 s after it last forwarded a packet.
    let mut fib = lab.open(settings(resilient(32, 30)));
    let two: Vec<(IpAddr, u32)> = (0..2).map(|i| (lab.hop(i), 1)).collect();
    assert!(fib.set(p("192.0.2.1/32"), &two).errors.is_empty());
    let g = group_of(&fib, "192.0.2.1/32");
    // Buckets that never forwarded a packet are idle. Let them age 5 s, then send some flows:
    // each new socket takes one bucket and makes it busy (its idle time restarts from 0). A
    // bucket is busy when its idle time is shorter than the time since the flows were sent.
    wait_for(Duration::from_secs(15), "the buckets to age", || {
        (lab.bucket_table(g).values().all(|(_, idle)| *idle >= 5.0)).then_some(())
    });
    let sent = Instant::now();
    lab.topo.exec(
        &lab.router,
        "bash",
        &[
            "-c",
            "for p in $(seq 5000 5011); do echo x > /dev/udp/192.0.2.1/$p; done",
        ],
    );
    let before = lab.bucket_table(g);
    let window = sent.elapsed().as_secs_f64() + 0.1;
    assert!(
        window < 4.5,
        "flows and dump took {window} s: busy and idle are not told apart"
    );
    let busy: Vec<u64> = before
        .iter()
        .filter(|(_, (_, idle))| *idle < window)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        !busy.is_empty() && busy.len() < before.len(),
        "busy buckets: {busy:?}"
    );

    assert_eq!(fib.count_bucket_moves().unwrap(), 0, "first dump: no moves");
    let three: Vec<(IpAddr, u32)> = (0..3).map(|i| (lab.hop(i), 1)).collect();
    let applied = fib.set(p("192.0.2.1/32"), &three);
    assert!(applied.errors.is_empty(), "{applied:?}");
    assert_eq!(
        group_of(&fib, "192.0.2.1/32"),
        g,
        "same group, changed in place"
    );
    let new_id = id_of(&lab.nexthops(), lab.hop(2)) as u32;
    let after = lab.bucket_table(g);
    let mut moved = 0u64;
    for (index, (nh, _)) in &after {
        let (old, idle) = before[index];
        if *nh != old {
            assert_eq!(
                *nh, new_id,
                "bucket {index} moved between members that stay"
            );
            assert!(idle >= window, "busy bucket {index} (idle {idle} s) moved");
            moved += 1;
        }
    }
    for index in &busy {
        assert_eq!(after[index].0, before[index].0, "busy bucket {index} moved");
    }
    assert!(moved > 0, "the new member got no idle bucket");
    // The metric counts the same moves from bgpd's own bucket dump.
    assert_eq!(fib.count_bucket_moves().unwrap(), moved);
    let mut w = bgpd::metrics::TextWriter::default();
    fib.write_metrics(&mut w);
    assert!(
        w.out
            .contains(&format!("bgpd_fib_bucket_moves_total {moved}\n")),
        "{}",
        w.out
    );
    let hop = lab.hop(2);
    assert!(
        w.out.contains(&format!(
            "bgpd_fib_group_member_weight{{group=\"{g}\",next_hop=\"{hop}\"}} 1\n"
        )),
        "{}",
        w.out
    );
    println!(
        "member joins: {} busy buckets kept, {moved} idle buckets moved to the new member",
        busy.len()
    );
    fib.stop();
}

#[test]
fn other_protocols_routes_and_next_hops_are_never_touched() {
    let lab = Lab::new("fib-foreign");
    let t = TABLE.to_string();
    let gw = lab.hop(0).to_string();
    lab.ip(&[
        "route",
        "add",
        "198.51.100.0/24",
        "via",
        &gw,
        "table",
        &t,
        "proto",
        "static",
    ]);
    lab.ip(&[
        "route",
        "add",
        "198.51.100.7/32",
        "via",
        &gw,
        "table",
        &t,
        "proto",
        "bird",
    ]);
    lab.ip(&[
        "nexthop", "add", "id", "7", "via", &gw, "dev", "eth0", "proto", "bird",
    ]);
    lab.ip(&[
        "route",
        "add",
        "203.0.113.9/32",
        "nhid",
        "7",
        "table",
        &t,
        "proto",
        "bird",
    ]);
    let foreign_before = lab.routes(TABLE);
    let mut fib = lab.open(settings(resilient(16, 120)));
    assert!(fib.state().routes.is_empty() && fib.state().nexthops.is_empty());
    let hops = [(lab.hop(1), 1), (lab.hop(2), 1)];
    let applied = fib.apply([
        (p("192.0.2.1/32"), hops.to_vec()),
        // Held by BIRD's protocol number in our table: refused, not replaced.
        (p("198.51.100.7/32"), hops.to_vec()),
    ]);
    assert_eq!(
        applied.errors,
        vec![(
            p("198.51.100.7/32"),
            FibError::ForeignRoute {
                prefix: p("198.51.100.7/32"),
                table: TABLE
            }
        )]
    );
    // Removing a prefix we never had does not touch the other protocol's route.
    fib.remove(p("198.51.100.7/32"));
    fib.sweep();
    fib.stop();
    assert_eq!(lab.routes(TABLE), foreign_before);
    let nhs = lab.nexthops();
    assert_eq!(nhs.keys().copied().collect::<Vec<_>>(), vec![7]);
    assert_eq!(nhs[&7]["protocol"], "bird");
}

#[test]
fn start_adopts_leftovers_and_sweep_removes_the_undesired_ones() {
    let lab = Lab::new("fib-adopt");
    let s = FibSettings {
        retain_on_stop: true,
        ..settings(resilient(32, 120))
    };
    let abc: Vec<(IpAddr, u32)> = (0..3).map(|i| (lab.hop(i), 1)).collect();
    let ab: Vec<(IpAddr, u32)> = (0..2).map(|i| (lab.hop(i), 1)).collect();
    let mut first = lab.open(s);
    first.apply([
        (p("192.0.2.1/32"), abc.clone()),
        (p("192.0.2.2/32"), ab.clone()),
    ]);
    let g = group_of(&first, "192.0.2.1/32");
    let buckets = lab.buckets(g);
    let mirror = first.state().clone();
    let nhs = lab.nexthops();
    // retain_on_stop: everything stays for the next run.
    assert_eq!(first.stop(), bgpd::fib::Applied::default());
    assert_eq!(lab.nexthops(), nhs);
    assert_eq!(lab.routes(TABLE).len(), 2);

    let mut second = lab.open(s);
    // Decoded from the kernel's dumps: the same next hops, groups, routes as the first run had.
    let read = second.state();
    assert_eq!(
        (&read.nexthops, &read.groups, &read.routes),
        (&mirror.nexthops, &mirror.groups, &mirror.routes),
        "leftovers adopted exactly"
    );
    // The same set again: adopted as it is, nothing rebuilt.
    let applied = second.set(p("192.0.2.1/32"), &abc);
    assert_eq!(applied, bgpd::fib::Applied::default());
    assert_eq!(group_of(&second, "192.0.2.1/32"), g);
    assert_eq!(lab.buckets(g), buckets);
    // 192.0.2.2 was not set again: the sweep removes it, its group, and nothing else.
    let applied = second.sweep();
    assert!(applied.errors.is_empty(), "{applied:?}");
    let routes = lab.routes(TABLE);
    assert_eq!(
        routes,
        vec![(
            "192.0.2.1".to_string(),
            "179".to_string(),
            Some(u64::from(g))
        )]
    );
    assert_eq!(lab.nexthops().len(), 4, "one group, three next hops");
    let s_remove = FibSettings {
        retain_on_stop: false,
        ..s
    };
    drop(second);
    // A run without retain_on_stop removes everything of ours at stop.
    let third = lab.open(s_remove);
    assert!(third.stop().errors.is_empty());
    assert!(lab.routes(TABLE).is_empty());
    assert!(lab.nexthops().is_empty());
}

#[test]
fn an_unreachable_next_hop_is_refused_and_the_route_stays_as_it_was() {
    let lab = Lab::new("fib-unreachable");
    // 10.254.0.0/16 is reached through node 1: not directly connected.
    lab.ip(&[
        "route",
        "add",
        "10.254.0.0/16",
        "via",
        &lab.hop(0).to_string(),
    ]);
    let mut fib = lab.open(settings(resilient(16, 120)));
    let ab = [(lab.hop(0), 1), (lab.hop(1), 1)];
    assert!(fib.set(p("192.0.2.1/32"), &ab).errors.is_empty());
    let routes = lab.routes(TABLE);
    let nhs = lab.nexthops();
    let far: IpAddr = "10.254.7.7".parse().unwrap();
    let nowhere: IpAddr = "10.253.7.7".parse().unwrap();
    let applied = fib.apply([
        (p("192.0.2.1/32"), vec![(lab.hop(0), 1), (far, 1)]),
        (p("192.0.2.2/32"), vec![(nowhere, 1)]),
        (p("192.0.2.3/32"), vec![(lab.hop(2), 1)]),
    ]);
    let via = lab.hop(0);
    let errors: BTreeMap<IpNet, FibError> = applied.errors.into_iter().collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    match &errors[&p("192.0.2.1/32")] {
        FibError::NextHop {
            next_hop,
            reason: NextHopError::NotConnected { via: v, .. },
        } => {
            assert_eq!(*next_hop, far);
            assert_eq!(*v, via);
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        errors[&p("192.0.2.2/32")],
        FibError::NextHop {
            next_hop: nowhere,
            reason: NextHopError::NoRoute
        }
    );
    assert!(errors[&p("192.0.2.1/32")].to_string().starts_with(&format!(
        "next hop 10.254.7.7 is not directly connected (the kernel reaches it via {via}"
    )));
    assert_eq!(fib.stats().refused, 2);
    // 192.0.2.1 kept its route and group, exactly; 192.0.2.3 was programmed.
    let now = lab.nexthops();
    let g = group_of(&fib, "192.0.2.1/32");
    assert_eq!(now[&u64::from(g)], nhs[&u64::from(g)]);
    let mut want = routes.clone();
    want.push((
        "192.0.2.3".into(),
        "179".into(),
        Some(u64::from(group_of(&fib, "192.0.2.3/32"))),
    ));
    assert_eq!(lab.routes(TABLE), want);
    fib.stop();
}

#[test]
fn resilient_false_makes_plain_multipath_groups() {
    let lab = Lab::new("fib-mpath");
    let mut fib = lab.open(settings(GroupKind::Multipath));
    let hops = [(lab.hop(0), 1), (lab.hop(1), 3)];
    assert!(fib.set(p("192.0.2.1/32"), &hops).errors.is_empty());
    let g = group_of(&fib, "192.0.2.1/32");
    let nhs = lab.nexthops();
    let group = &nhs[&u64::from(g)];
    assert!(
        group.get("type").is_none() || group["type"] == "mpath",
        "{group}"
    );
    assert!(group.get("resilient_args").is_none(), "{group}");
    let weights: Vec<u64> = group["group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["weight"].as_u64().unwrap_or(1))
        .collect();
    assert_eq!(weights, vec![1, 3]);
    fib.stop();
    assert!(lab.nexthops().is_empty());
}

#[test]
fn kernel_refusals_leave_routes_as_they_were_and_the_rest_is_programmed() {
    let lab = Lab::new("fib-refusal");
    let mut fib = lab.open(settings(resilient(16, 120)));
    let v6: Vec<(IpAddr, u32)> = lab.nodes[..2]
        .iter()
        .map(|n| (IpAddr::V6(n.ipv6), 1))
        .collect();
    let v4: Vec<(IpAddr, u32)> = (0..2).map(|i| (lab.hop(i), 1)).collect();
    assert!(fib.set(p("2001:db8::7/128"), &v6).errors.is_empty());
    let g6 = group_of(&fib, "2001:db8::7/128");
    let before = lab.nexthops();
    // The kernel refuses IPv4 next hops for IPv6 routes: in the group that 2001:db8::7 uses
    // (replaced in place) and for the new route 2001:db8::8. 192.0.2.5 wants the same set and
    // must be programmed all the same.
    let applied = fib.apply([
        (p("2001:db8::7/128"), v4.clone()),
        (p("2001:db8::8/128"), v4.clone()),
        (p("192.0.2.5/32"), v4.clone()),
    ]);
    let errors: BTreeMap<IpNet, FibError> = applied.errors.into_iter().collect();
    assert_eq!(
        errors.keys().copied().collect::<Vec<_>>(),
        vec![p("2001:db8::7/128"), p("2001:db8::8/128")],
        "{errors:?}"
    );
    for e in errors.values() {
        assert!(
            e.to_string()
                .contains("EINVAL 22 (Invalid argument): IPv6 routes can not use an IPv4 nexthop"),
            "{e}"
        );
    }
    // 2001:db8::7: same route, same group, same members.
    assert_eq!(group_of(&fib, "2001:db8::7/128"), g6);
    let now = lab.nexthops();
    assert_eq!(now[&u64::from(g6)], before[&u64::from(g6)]);
    let v6routes = lab.ip_json(&["-6", "route", "show", "table", &TABLE.to_string()]);
    assert_eq!(v6routes.as_array().unwrap().len(), 1, "{v6routes}");
    assert_eq!(v6routes[0]["nhid"].as_u64(), Some(u64::from(g6)));
    // 192.0.2.5 is served, and no group is left without a route.
    let g4 = group_of(&fib, "192.0.2.5/32");
    assert_eq!(
        lab.routes(TABLE),
        vec![("192.0.2.5".into(), "179".into(), Some(u64::from(g4)))]
    );
    let groups: Vec<u64> = now
        .iter()
        .filter(|(_, n)| n.get("group").is_some())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(groups, vec![u64::from(g6), u64::from(g4)]);
    let mut w = bgpd::metrics::TextWriter::default();
    fib.write_metrics(&mut w);
    assert!(w.out.contains("bgpd_fib_refused_total 2\n"), "{}", w.out);
    assert!(
        w.out
            .contains("bgpd_fib_netlink_errors_total{op=\"replace_group\"} 1\n"),
        "{}",
        w.out
    );
    assert!(
        w.out
            .contains("bgpd_fib_netlink_errors_total{op=\"replace_route\"} 1\n"),
        "{}",
        w.out
    );
    assert!(fib.stop().errors.is_empty());
    assert!(lab.nexthops().is_empty());
}

#[test]
fn a_next_hop_whose_link_goes_down_leaves_and_refresh_brings_it_back_in_place() {
    let lab = Lab::new("fib-link");
    // A third next hop behind its own link of the router.
    let stub = lab.topo.add_stub("s", &lab.router);
    let far = IpAddr::V4(stub.ipv4);
    let mut fib = lab.open(settings(resilient(32, 120)));
    let hops = [(lab.hop(0), 1), (lab.hop(1), 1), (far, 1)];
    assert!(fib.set(p("192.0.2.1/32"), &hops).errors.is_empty());
    let g = group_of(&fib, "192.0.2.1/32");
    let nhs = lab.nexthops();
    let dev = nhs[&id_of(&nhs, far)]["dev"].as_str().unwrap().to_string();
    assert_ne!(dev, "eth0");
    let members = |lab: &Lab| -> usize {
        lab.nexthops()[&u64::from(g)]["group"]
            .as_array()
            .unwrap()
            .len()
    };

    // The link goes down: the kernel drops the next hop from the group by itself.
    lab.ip(&["link", "set", &dev, "down"]);
    wait_for(
        Duration::from_secs(5),
        "the kernel to drop the next hop",
        || (members(&lab) == 2).then_some(()),
    );
    // Refresh: the mirror follows; the next hop has no route now, so the prefix keeps the
    // kernel's group of two, and says why.
    let applied = fib.refresh().unwrap();
    assert_eq!(
        applied.errors,
        vec![(
            p("192.0.2.1/32"),
            FibError::NextHop {
                next_hop: far,
                reason: NextHopError::NoRoute
            }
        )]
    );
    assert_eq!(fib.state().groups[&g].members.len(), 2);
    assert_eq!(group_of(&fib, "192.0.2.1/32"), g);
    assert_eq!(
        lab.routes(TABLE),
        vec![("192.0.2.1".into(), "179".into(), Some(u64::from(g)))]
    );

    // The link comes back: refresh puts the next hop back into the same group, in place.
    lab.ip(&["link", "set", &dev, "up"]);
    let applied = wait_for(
        Duration::from_secs(5),
        "the next hop to resolve again",
        || {
            let a = fib.refresh().unwrap();
            a.errors.is_empty().then_some(a)
        },
    );
    assert!(applied.ops >= 2, "{applied:?}");
    assert_eq!(group_of(&fib, "192.0.2.1/32"), g, "same group");
    assert_eq!(members(&lab), 3);
    assert_eq!(
        lab.routes(TABLE),
        vec![("192.0.2.1".into(), "179".into(), Some(u64::from(g)))]
    );
    assert!(fib.stop().errors.is_empty());
}
