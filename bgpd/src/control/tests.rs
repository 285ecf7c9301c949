use super::checks::TargetState;
use super::*;
use crate::announce::PeerView;
use bgp_proto::Community;

#[test]
fn notifications_are_shown_from_the_typed_reason() {
    use bgp_proto::{ErrorCode, Notification};
    use bytes::Bytes;
    let shut = Notification::cease(2, Some("bgpd shutting down"));
    let got = notification_info(&shut, Some("bgpd shutting down"));
    assert_eq!(got.code, "6/2");
    assert_eq!(got.shutdown_message.as_deref(), Some("bgpd shutting down"));
    let hold = Notification::hold_timer_expired();
    assert_eq!(
        notification_info(&hold, None),
        api::NotificationInfo {
            code: "4/0".into(),
            shutdown_message: None
        }
    );
    // Hard Reset wrapping a 6/2 with "bgpd" (RFC 8538).
    let hr = Notification::new(
        ErrorCode::CEASE,
        9,
        Bytes::from_static(&[6, 2, 4, b'b', b'g', b'p', b'd']),
    );
    let got = notification_info(&hr, None);
    assert_eq!(got.code, "6/9 (hard reset of 6/2)");
    assert_eq!(got.shutdown_message.as_deref(), Some("bgpd"));
    // A malformed Shutdown Communication: the session's description stands in.
    let bad = Notification::new(ErrorCode::CEASE, 2, Bytes::from_static(&[9, b'x']));
    let got = notification_info(&bad, Some("malformed shutdown communication"));
    assert_eq!(
        got.shutdown_message.as_deref(),
        Some("malformed shutdown communication")
    );
}

fn state_with(toml: &str) -> State {
    let config = Config::parse(toml, "t.toml", &crate::link::ThisHost).expect("valid config");
    let mut health_map = BTreeMap::new();
    for svc in config.services.iter() {
        let Some(check) = svc.health.clone() else {
            continue;
        };
        let targets = health::targets(&check.probe, &svc.nexthops, false)
            .into_iter()
            .map(|target| TargetState {
                target,
                machine: Hysteresis::new(check.rise, check.fall),
                probed: false,
                since: SystemTime::now(),
                last_result: None,
            })
            .collect();
        health_map.insert(
            svc.name.clone(),
            ServiceHealth {
                check: *check,
                nexthops: svc.nexthops.clone(),
                targets,
                disabled: false,
                tasks: Vec::new(),
            },
        );
    }
    State {
        config,
        runtime: Arc::new(RuntimeTable::new()),
        last: Arc::default(),
        suppressed: BTreeMap::new(),
        health: health_map,
        drain: DrainPhase::Normal,
        drain_since: SystemTime::now(),
        drain_generation: 0,
        peers: BTreeMap::new(),
        generation: 0,
        latency: BTreeMap::new(),
        service_since: Default::default(),
        started: Instant::now(),
        sync_until: None,
        restored_health: HashMap::new(),
        admin_down: BTreeMap::new(),
        drained_peers: Arc::default(),
    }
}

fn feed(st: &mut State, service: &str, target: usize, ok: bool, times: usize) {
    let h = st.health.get_mut(service).expect("health");
    for _ in 0..times {
        h.targets[target].machine.observe(ok);
    }
}

const BASE: &str = "[global]\nasn = 64512\nrouter_id = \"10.0.0.2\"\n\n\
    [[peers]]\nname = \"tor\"\naddress = \"10.0.0.1\"\nasn = 64500\n\n";

#[test]
fn per_nexthop_health_announces_only_healthy_nexthops() {
    let mut st = state_with(&format!(
        "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
         nexthops = [\"10.1.0.1\", \"10.1.0.2\", \"10.1.0.3\"]\n\
         [services.health]\ntype = \"http\"\ntarget = \"http://{{nexthop}}:8080/healthz\"\n\
         rise = 2\nfall = 2\n"
    ));
    assert_eq!(st.health["web"].targets.len(), 3);
    assert!(
        st.effective().materialize().is_empty(),
        "nothing announced before a verdict"
    );
    feed(&mut st, "web", 0, true, 2);
    feed(&mut st, "web", 2, true, 2);
    feed(&mut st, "web", 1, false, 2);
    let eff = st.effective().materialize();
    assert_eq!(eff.len(), 1);
    // With ADD-PATH the healthy next hops keep their path ids (1 and 3); without it the
    // first healthy one is sent.
    let mut view = PeerView {
        name: "tor".into(),
        local_asn: 64512,
        peer_asn: 64500,
        local_address: "10.0.0.2".parse().expect("a"),
        next_hop_v4: None,
        next_hop_v6: None,
        families: [bgp_proto::Family::IPV4_UNICAST].into_iter().collect(),
        add_path_tx: [bgp_proto::Family::IPV4_UNICAST].into_iter().collect(),
        extended_next_hop: bgp_proto::FamilySet::new(),
        announce: Arc::default(),
        role: None,
        link_local: None,
    };
    let paths: Vec<(Option<u32>, NextHop)> = announce::routes_for_peer(&eff, &view)
        .0
        .iter()
        .map(|(n, r)| (n.path_id, r.next_hop))
        .collect();
    let v4 = |s: &str| NextHop::V4(s.parse().expect("v4"));
    assert_eq!(
        paths,
        vec![(Some(1), v4("10.1.0.1")), (Some(3), v4("10.1.0.3"))]
    );
    view.add_path_tx = bgp_proto::FamilySet::new();
    let (routes, _) = announce::routes_for_peer(&eff, &view);
    assert_eq!(
        routes.values().map(|r| r.next_hop).collect::<Vec<_>>(),
        vec![v4("10.1.0.1")]
    );
    feed(&mut st, "web", 0, false, 2);
    let (routes, _) = announce::routes_for_peer(&st.effective().materialize(), &view);
    assert_eq!(
        routes.values().map(|r| r.next_hop).collect::<Vec<_>>(),
        vec![v4("10.1.0.3")],
        "without ADD-PATH the first healthy next hop"
    );
    feed(&mut st, "web", 0, false, 2);
    feed(&mut st, "web", 2, false, 2);
    let svc = st.config.services[0].clone();
    match st.verdict(&svc, Source::Config) {
        Verdict::Withheld(why) => {
            let why = why.to_string();
            assert!(why.contains("health check failing"), "{why}")
        }
        other => panic!("expected a withdraw, got {other:?}"),
    }
}

#[test]
fn demotion_disable_file_suppression_runtime_and_drain() {
    let mut st = state_with(&format!(
        "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\nmed = 10\n\
         communities = [\"64512:1\"]\n\
         [services.health]\ntype = \"exec\"\ncommand = [\"/bin/check\"]\nrise = 1\nfall = 1\n\
         on_fail = \"demote\"\n[services.health.demote]\nmed = 1000\n\
         communities = [\"64512:666\"]\nas_path_prepend = 3\n\n\
         [[services]]\nname = \"api\"\nprefix = \"192.0.2.11/32\"\n"
    ));
    // Failing (and before any verdict): announced, demoted.
    let eff = st.effective().materialize();
    assert_eq!(eff.len(), 2);
    assert_eq!(eff[0].med, Some(1000));
    assert_eq!(eff[0].as_path_prepend, 3);
    assert_eq!(
        *eff[0].communities,
        [Community::new(64512, 1), Community::new(64512, 666)]
    );
    feed(&mut st, "web", 0, true, 1);
    assert_eq!(
        st.effective().materialize()[0].med,
        Some(10),
        "healthy: configured attributes"
    );
    // The disable file withdraws even a demoting service.
    if let Some(h) = st.health.get_mut("web") {
        h.disabled = true;
    }
    assert_eq!(st.effective().materialize().len(), 1);
    if let Some(h) = st.health.get_mut("web") {
        h.disabled = false;
    }
    // bgpctl withdraw of a configured service, then a runtime service replacing one.
    let api: IpNet = "192.0.2.11/32".parse().expect("p");
    st.suppressed.insert(api, SystemTime::now());
    assert_eq!(st.effective().materialize().len(), 1);
    st.suppressed.clear();
    let args = api::AnnounceArgs {
        prefix: "192.0.2.11/32".into(),
        med: Some(7),
        ..api::AnnounceArgs::default()
    };
    let rt = runtime_service(&args, &[api], &st.config).expect("runtime service");
    let spec = Arc::new(RuntimeSpec {
        service: rt,
        since: SystemTime::now(),
        request: args.clone(),
    });
    Arc::make_mut(&mut st.runtime).insert_many(&[api], spec);
    let eff = st.effective().materialize();
    assert_eq!(eff.len(), 2);
    assert_eq!(
        eff[1].med,
        Some(7),
        "the runtime service replaces the configured one"
    );
    // Drain: GRACEFUL_SHUTDOWN and LOCAL_PREF 0 (RFC 8326 §4), then nothing.
    st.drain = DrainPhase::Draining {
        until: Instant::now() + Duration::from_secs(60),
    };
    for svc in st.effective().materialize() {
        assert!(svc.communities.contains(&Community::GRACEFUL_SHUTDOWN));
        assert_eq!(svc.local_pref, Some(0));
    }
    st.drain = DrainPhase::Drained;
    assert!(st.effective().materialize().is_empty());
}

#[test]
fn runtime_services_are_validated() {
    let st = state_with(BASE);
    let bad = |args: api::AnnounceArgs| {
        parse_prefix(&args.prefix)
            .and_then(|p| runtime_service(&args, &[p], &st.config))
            .expect_err("invalid")
    };
    let base = api::AnnounceArgs {
        prefix: "192.0.2.1/32".into(),
        ..api::AnnounceArgs::default()
    };
    assert!(bad(api::AnnounceArgs {
        nexthops: vec!["2001:db8::1".into()],
        ..base.clone()
    })
    .contains("family"));
    assert!(bad(api::AnnounceArgs {
        communities: vec!["x".into()],
        ..base.clone()
    })
    .contains('x'));
    assert!(bad(api::AnnounceArgs {
        peers: vec!["nope".into()],
        ..base.clone()
    })
    .contains("nope"));
    let ok = parse_prefix(&base.prefix)
        .and_then(|p| runtime_service(&base, &[p], &st.config))
        .expect("valid");
    assert_eq!(*ok.nexthops, [NextHopSpec::Local]);
}

#[test]
fn prefixes_must_be_canonical() {
    assert_eq!(
        parse_prefix("192.0.2.10/32"),
        Ok("192.0.2.10/32".parse().expect("p"))
    );
    assert_eq!(
        parse_prefix("192.0.2.10"),
        Ok("192.0.2.10/32".parse().expect("p"))
    );
    assert!(parse_prefix("192.0.2.10/24").is_err_and(|e| e.contains("192.0.2.0/24")));
    assert!(parse_prefix("nope").is_err());
}

#[test]
fn routes_complete_waits_for_each_first_verdict_and_an_open_sync() {
    let mut st = state_with(&format!(
        "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
         nexthops = [\"10.1.0.1\", \"10.1.0.2\"]\n\
         [services.health]\ntype = \"tcp\"\ntarget = \"{{nexthop}}:80\"\nrise = 2\nfall = 2\n"
    ));
    assert!(!st.routes_complete(), "no verdict yet");
    assert!(!st.effective().complete);
    for i in 0..2 {
        let t = &mut st.health.get_mut("web").expect("web").targets[i];
        t.probed = true;
        t.machine.observe(i == 0);
    }
    assert!(
        !st.routes_complete(),
        "probed, but one target has no verdict"
    );
    feed(&mut st, "web", 1, false, 1);
    assert!(!st.routes_complete(), "target 0: one success of rise 2");
    feed(&mut st, "web", 0, true, 1);
    assert!(st.routes_complete());
    assert!(st.effective().complete);
    // A verdict restored from the state file still waits for a probe since the start.
    st.health.get_mut("web").expect("web").targets[0].probed = false;
    assert!(!st.routes_complete());
    st.health.get_mut("web").expect("web").targets[0].probed = true;
    // `bgpctl sync begin` holds it until `sync end` or its deadline.
    st.sync_until = Some(Instant::now() + Duration::from_secs(60));
    assert!(!st.routes_complete());
    st.sync_until = Some(Instant::now() - Duration::from_millis(1));
    assert!(st.routes_complete());
    // Once the deferral time since the start is over, whatever is missing, it is complete.
    st.sync_until = Some(Instant::now() + Duration::from_secs(60));
    st.started = Instant::now() - st.config.global.deferral();
    assert!(st.routes_complete());
}

#[test]
fn saved_state_keeps_verdicts_but_not_init() {
    let mut st = state_with(&format!(
        "{BASE}[[services]]\nname = \"web\"\nprefix = \"192.0.2.10/32\"\n\
         nexthops = [\"10.1.0.1\", \"10.1.0.2\"]\n\
         [services.health]\ntype = \"tcp\"\ntarget = \"{{nexthop}}:80\"\nrise = 1\nfall = 1\n"
    ));
    feed(&mut st, "web", 1, true, 1);
    let saved = st.saved();
    assert_eq!(
        saved.health,
        vec![crate::statefile::HealthVerdict {
            service: "web".into(),
            target: "tcp 10.1.0.2:80".into(),
            up: true,
        }]
    );
    let restored = Hysteresis::restored(2, 3, true);
    assert_eq!(restored.state(), Health::Up);
    let mut m = restored.clone();
    assert_eq!(m.observe(false), None);
    assert_eq!(m.observe(false), None);
    assert_eq!(
        m.observe(false),
        Some(Health::Down),
        "fall = 3 from a restored up"
    );
}

#[test]
fn applied_changes_become_events_and_latency_once_even_when_updates_coalesce() {
    use crate::announce::ChangeSummary;
    use crate::status::Applied;
    let shared = Shared {
        state: Mutex::new(state_with(BASE)),
        events: EventLog::new(64),
        tx: mpsc::unbounded_channel().0,
        statuses: Mutex::new(None),
        bfd: Mutex::new(None),
        fib: Mutex::new(None),
        started: Instant::now(),
        writer: None,
    };
    let mut cur = PeerStatus::idle("tor".into(), "10.0.0.1".parse().expect("a"), 64500, None);
    cur.state = FsmState::Established;
    shared.on_status("tor", None, &cur);
    let prev = cur.clone();
    let decided_at = Instant::now();
    let applied = |generation: u64, trigger: Trigger, summary: ChangeSummary| Applied {
        decision: Decision {
            generation,
            trigger,
            decided_at,
        },
        summary,
        written_at: decided_at + Duration::from_millis(2),
    };
    let mut announced = ChangeSummary {
        announced: 1,
        groups: 1,
        ..ChangeSummary::default()
    };
    announced
        .announced_prefixes
        .add("192.0.2.1/32".parse().expect("p"));
    let mut withdrawn = ChangeSummary {
        withdrawn: 1,
        ..ChangeSummary::default()
    };
    withdrawn
        .withdrawn_prefixes
        .add("192.0.2.2/32".parse().expect("p"));
    // Three changes applied before the watcher looked again: each counts once; an empty one
    // (the session already had those routes) makes no event and no latency sample.
    cur.push_applied(applied(1, Trigger::Announce, announced));
    cur.push_applied(applied(2, Trigger::HealthCheck, withdrawn));
    cur.push_applied(applied(3, Trigger::Reload, ChangeSummary::default()));
    let messages = |s: &Shared| -> Vec<String> {
        s.events.list(None).into_iter().map(|e| e.message).collect()
    };
    // The session-up lines come first; what follows is this change.
    let before = messages(&shared).len();
    shared.on_status("tor", Some(&prev), &cur);
    assert_eq!(
        messages(&shared)[before..],
        vec![
            "announced 192.0.2.1/32 to tor (bgpctl announce)".to_string(),
            "withdrew 192.0.2.2/32 from tor (health check)".to_string(),
        ]
    );
    {
        let st = shared.lock();
        assert_eq!(st.latency.get(&Cause::Api).map(Histogram::count), Some(1));
        assert_eq!(
            st.latency.get(&Cause::Health).map(Histogram::count),
            Some(1)
        );
        assert!(!st.latency.contains_key(&Cause::Reload));
        let median = st.latency[&Cause::Api].median().expect("one sample");
        assert_eq!(median, Duration::from_millis(2), "written_at - decided_at");
    }
    // Another status change (say, a keepalive counted) reports nothing again.
    shared.on_status("tor", Some(&cur), &cur);
    assert_eq!(messages(&shared).len(), before + 2);
}
