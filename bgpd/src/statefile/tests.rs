use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::announce::{RuntimeSpec, RuntimeTable};
use crate::config::{NextHopSpec, PeerSelection, Service};

fn spec(med: u32, since: u64) -> Arc<RuntimeSpec> {
    Arc::new(RuntimeSpec {
        service: Service {
            name: "x".into(),
            prefix: "192.0.2.1/32".parse().expect("prefix"),
            nexthops: Arc::new([NextHopSpec::Local]),
            communities: Arc::new([]),
            large_communities: Arc::new([]),
            med: Some(med),
            local_pref: None,
            as_path_prepend: 0,
            weight: None,
            peers: PeerSelection::All,
            health: None,
        },
        since: UNIX_EPOCH + Duration::from_secs(since),
        request: AnnounceArgs {
            med: Some(med),
            communities: vec!["64512:7".into()],
            ..AnnounceArgs::default()
        },
    })
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|p| p.parse().expect("prefix")).collect()
}

fn sample() -> State {
    let mut table = RuntimeTable::new();
    table.insert_many(&nets(&["192.0.2.1/32", "192.0.2.3/32"]), spec(5, 1000));
    table.insert_many(&nets(&["2001:db8::7/128", "192.0.2.2/32"]), spec(9, 2000));
    State {
        runtime: Arc::new(table),
        suppressed: vec![(
            "198.51.100.0/24".parse().expect("p"),
            UNIX_EPOCH + Duration::from_secs(3000),
        )],
        health: vec![HealthVerdict {
            service: "web".into(),
            target: "tcp 127.0.0.1:80".into(),
            up: true,
        }],
        peers: vec![PeerState {
            name: "tor-a".into(),
            shutdown: Some("maintenance".into()),
            drained: true,
        }],
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bgpd-statefile-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    ensure_dir(&dir).expect("temp dir");
    dir
}

#[test]
fn snapshot_groups_runtime_entries_by_request_and_round_trips() {
    let snap = sample().snapshot();
    assert_eq!(snap.version, FORMAT_VERSION);
    assert_eq!(snap.runtime.len(), 2, "{snap:?}");
    let bytes = serde_json::to_vec(&snap).expect("encode");
    let (back, groups) = decode(Path::new("state.json"), &bytes).expect("decode");
    assert_eq!(back, snap);
    let mut all: Vec<(IpNet, Option<u32>)> = groups
        .iter()
        .flat_map(|g| g.prefixes.iter().map(|p| (*p, g.request.med)))
        .collect();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("192.0.2.1/32".parse().expect("p"), Some(5)),
            ("192.0.2.2/32".parse().expect("p"), Some(9)),
            ("192.0.2.3/32".parse().expect("p"), Some(5)),
            ("2001:db8::7/128".parse().expect("p"), Some(9)),
        ]
    );
    let since: Vec<SystemTime> = groups.iter().map(|g| g.since).collect();
    assert!(since.contains(&(UNIX_EPOCH + Duration::from_secs(1000))));
}

#[test]
fn truncated_file_is_refused_whole() {
    let bytes = serde_json::to_vec(&sample().snapshot()).expect("encode");
    for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let err = decode(Path::new("/x/state.json"), &bytes[..cut]).expect_err("truncated");
        assert!(matches!(err, StateError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("/x/state.json"), "{err}");
    }
}

#[test]
fn garbage_bad_prefixes_and_unknown_fields_are_refused() {
    let path = Path::new("state.json");
    let cases: [(&str, &str); 6] = [
        ("\u{0}\u{1}garbage", "not valid"),
        (
            r#"{"version":1,"runtime":[{"request":{"prefix":""},"since":1,"prefixes":"192.0.2.1/32 nope"}]}"#,
            "\"nope\" is not a prefix",
        ),
        (
            r#"{"version":1,"runtime":[{"request":{"prefix":""},"since":1,"prefixes":"192.0.2.1/24"}]}"#,
            "host bits",
        ),
        (
            r#"{"version":1,"runtime":[{"request":{"prefix":""},"since":1,"prefixes":""}]}"#,
            "no prefixes",
        ),
        (r#"{"version":1,"surprise":true}"#, "surprise"),
        (r#"{"version":0}"#, "version 0"),
    ];
    for (text, want) in cases {
        let err = decode(path, text.as_bytes()).expect_err(text);
        assert!(err.to_string().contains(want), "{text}: {err}");
    }
}

#[test]
fn newer_format_is_named_as_such() {
    let text = format!(
        r#"{{"version":{},"runtime":[],"future":1}}"#,
        FORMAT_VERSION + 1
    );
    let err = decode(Path::new("state.json"), text.as_bytes()).expect_err("newer");
    assert!(matches!(err, StateError::Newer { found, .. } if found == FORMAT_VERSION + 1));
    assert!(err.to_string().contains("newer bgpd"), "{err}");
}

#[test]
fn crash_between_write_and_rename_leaves_the_old_file() {
    let dir = temp_dir("crash");
    let old = sample();
    write_atomic(&dir, &serde_json::to_vec(&old.snapshot()).expect("encode")).expect("write");
    let mut newer = sample();
    newer.runtime = Arc::new(RuntimeTable::new());
    // The new state reaches the temporary file; the process dies before the rename.
    write_temp(
        &dir,
        &serde_json::to_vec(&newer.snapshot()).expect("encode"),
    )
    .expect("temp");
    let (snap, _) = load(&dir).expect("readable").expect("present");
    assert_eq!(snap, old.snapshot());
    // A half-written temporary file is never read either.
    fs::write(dir.join(TEMP_NAME), b"{\"vers").expect("write");
    let (snap, _) = load(&dir).expect("readable").expect("present");
    assert_eq!(snap, old.snapshot());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn missing_file_is_a_first_start_and_refused_file_is_moved_aside() {
    let dir = temp_dir("aside");
    assert!(load(&dir).expect("no error").is_none());
    fs::write(path_in(&dir), b"not json").expect("write");
    assert!(load(&dir).is_err());
    let to = set_aside(&dir).expect("moved");
    assert!(to.to_string_lossy().contains("state.json.refused-"));
    assert_eq!(fs::read(&to).expect("kept"), b"not json");
    assert!(load(&dir).expect("no error").is_none());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ensure_dir_refuses_a_file() {
    let dir = temp_dir("notadir");
    let file = dir.join("f");
    fs::write(&file, b"x").expect("write");
    assert!(ensure_dir(&file).is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn writer_writes_the_newest_state_and_reports_errors() {
    let dir = temp_dir("writer");
    let w = Writer::start(dir.clone(), None);
    let first = w.save(sample());
    let mut later = sample();
    later.suppressed.clear();
    let second = w.save(later.clone());
    assert!(second > first);
    w.written(second).await.expect("written");
    let (snap, _) = load(&dir).expect("readable").expect("present");
    assert_eq!(snap, later.snapshot());
    // An unusable directory: every save reports why.
    let broken = Writer::start(dir.join("missing"), Some("no directory".into()));
    let g = broken.save(sample());
    assert_eq!(broken.written(g).await, Err("no directory".into()));
    // A directory that disappears: the write fails with the OS error.
    let gone = temp_dir("gone");
    let w = Writer::start(gone.clone(), None);
    fs::remove_dir_all(&gone).expect("remove");
    let g = w.save(sample());
    assert!(w.written(g).await.is_err());
    let _ = fs::remove_dir_all(&dir);
}

fn arb_prefix() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 8u8..=32).prop_map(|(a, l)| {
            IpNet::new(std::net::Ipv4Addr::from(a).into(), l)
                .expect("len")
                .trunc()
        }),
        (any::<u128>(), 16u8..=128).prop_map(|(a, l)| {
            IpNet::new(std::net::Ipv6Addr::from(a).into(), l)
                .expect("len")
                .trunc()
        }),
    ]
}

proptest! {
    #[test]
    fn any_table_round_trips(
        groups in prop::collection::vec(
            (prop::collection::vec(arb_prefix(), 1..40), any::<u32>(), 0u64..4_000_000_000),
            0..6,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut table = RuntimeTable::new();
        for (prefixes, med, since) in &groups {
            table.insert_many(prefixes, spec(*med, *since));
        }
        let state = State { runtime: Arc::new(table.clone()), ..State::default() };
        let bytes = serde_json::to_vec(&state.snapshot()).expect("encode");
        let (_, restored) = decode(Path::new("s"), &bytes).expect("decode");
        let mut back = RuntimeTable::new();
        for g in &restored {
            back.insert_many(&g.prefixes, spec(g.request.med.unwrap_or(0), 0));
        }
        let want: Vec<(IpNet, Option<u32>)> =
            table.iter().map(|(p, s)| (*p, s.request.med)).collect();
        let got: Vec<(IpNet, Option<u32>)> =
            back.iter().map(|(p, s)| (*p, s.request.med)).collect();
        prop_assert_eq!(got, want);
        // Any strict prefix of the bytes is refused whole.
        let cut = cut.index(bytes.len());
        prop_assert!(decode(Path::new("s"), &bytes[..cut]).is_err());
    }
}
