//! The walk's fast path (the in-order prelude) against its general path:
//! every input is checked with `FAST` true and false, with and without a visitor, and the
//! results (the whole view or error, field by field through `Debug`) and the visited values
//! must be the same. Inputs: UPDATEs built by proptest from every attribute type code the
//! codec models (plus raw-checked and unknown ones), with all flag combinations, right and
//! wrong lengths, and AS 0 / martian values; and every UPDATE of the RIPE RIS dumps and the
//! packet captures in `testdata/bgp/`, under several session contexts.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Debug;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use proptest::prelude::*;

use super::check::walk;
use super::visit::{Active, NoSink, UpdateVisitor};
use crate::attr::{
    Aggregator, AsSegmentType, Community, ExtCommunity, LargeCommunity, NextHop, Nlri, Origin,
};
use crate::capture::{read_pcap, MrtReader};
use crate::iana::{AttrType, Family};
use crate::session::SessionContext;

/// Every visitor call, in order, as text.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Recorder {
    fn note(&mut self, what: &str, v: impl Debug) {
        self.0.push(format!("{what} {v:?}"));
    }
}

impl UpdateVisitor for Recorder {
    fn withdrawn(&mut self, n: Nlri) {
        self.note("withdrawn", n);
    }
    fn announced(&mut self, n: Nlri) {
        self.note("announced", n);
    }
    fn origin(&mut self, o: Origin) {
        self.note("origin", o);
    }
    fn as_path_segment(&mut self, s: AsSegmentType, count: u8) {
        self.note("as_path_segment", (s, count));
    }
    fn as_path_asn(&mut self, s: AsSegmentType, asn: u32) {
        self.note("as_path_asn", (s, asn));
    }
    fn as4_path_segment(&mut self, s: AsSegmentType, count: u8) {
        self.note("as4_path_segment", (s, count));
    }
    fn as4_path_asn(&mut self, s: AsSegmentType, asn: u32) {
        self.note("as4_path_asn", (s, asn));
    }
    fn next_hop(&mut self, a: Ipv4Addr) {
        self.note("next_hop", a);
    }
    fn mp_next_hop(&mut self, f: Family, nh: NextHop) {
        self.note("mp_next_hop", (f, nh));
    }
    fn med(&mut self, v: u32) {
        self.note("med", v);
    }
    fn local_pref(&mut self, v: u32) {
        self.note("local_pref", v);
    }
    fn atomic_aggregate(&mut self) {
        self.note("atomic_aggregate", ());
    }
    fn aggregator(&mut self, a: Aggregator) {
        self.note("aggregator", a);
    }
    fn as4_aggregator(&mut self, a: Aggregator) {
        self.note("as4_aggregator", a);
    }
    fn community(&mut self, c: Community) {
        self.note("community", c);
    }
    fn ext_community(&mut self, c: ExtCommunity) {
        self.note("ext_community", c);
    }
    fn large_community(&mut self, c: LargeCommunity) {
        self.note("large_community", c);
    }
    fn originator_id(&mut self, a: Ipv4Addr) {
        self.note("originator_id", a);
    }
    fn cluster_id(&mut self, a: Ipv4Addr) {
        self.note("cluster_id", a);
    }
    fn otc(&mut self, asn: u32) {
        self.note("otc", asn);
    }
    fn unknown(&mut self, flags: u8, code: AttrType, value: &[u8]) {
        self.note("unknown", (flags, code, value));
    }
}

/// Checks `msg` under `cx` with and without the fast path; panics with the message on any
/// difference. Returns whether the fast walk accepted it cleanly (no reset, no
/// treat-as-withdraw, no discard), so callers can show their inputs reach the fast path.
fn same_both_ways(msg: &[u8], cx: &SessionContext) -> bool {
    let fast = format!("{:?}", walk::<_, _, true>(msg, cx, &mut NoSink));
    let general = format!("{:?}", walk::<_, _, false>(msg, cx, &mut NoSink));
    assert_eq!(fast, general, "new_checked differs on {}", hex(msg));

    let (mut vf, mut vg) = (Recorder::default(), Recorder::default());
    let fused_fast = format!("{:?}", walk::<_, _, true>(msg, cx, &mut Active(&mut vf)));
    let fused_general = format!("{:?}", walk::<_, _, false>(msg, cx, &mut Active(&mut vg)));
    assert_eq!(
        fused_fast,
        fused_general,
        "decode_with differs on {}",
        hex(msg)
    );
    assert_eq!(vf.0, vg.0, "visited values differ on {}", hex(msg));
    // The fused walk reports the same view as the plain one.
    assert_eq!(
        fused_fast,
        fast,
        "fused and plain views differ on {}",
        hex(msg)
    );
    fast.starts_with("Ok(") && fast.contains("taw: (0, None)") && fast.contains("n_discarded: 0")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Session contexts covering every input of the rules: eBGP/iBGP, 2/4-octet AS, first-AS
/// enforcement, AS_SET allowed or not, IPv6 and extended next hop.
fn contexts(as4: bool, peer_asn: u32) -> Vec<SessionContext> {
    let families = [
        Family::IPV4_UNICAST,
        Family::IPV6_UNICAST,
        Family::new(crate::iana::Afi::IPV4, crate::iana::Safi::MULTICAST),
    ];
    let base = SessionContext {
        four_octet_as: as4,
        extended_message: true,
        families: families.into_iter().collect(),
        peer_asn,
        ..SessionContext::default()
    };
    vec![
        base.clone(),
        SessionContext {
            ibgp: true,
            allow_as_set: true,
            extended_next_hop: [Family::IPV4_UNICAST].into_iter().collect(),
            ..base.clone()
        },
        SessionContext {
            enforce_first_as: true,
            allow_as_set: false,
            ..base
        },
    ]
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp")
}

#[test]
fn fast_and_general_paths_agree_on_the_ris_dumps() {
    let files = [
        "mrt/updates.20190101.0000.gz",
        "mrt/rrc15/updates.20100227.1600.gz",
        "mrt/rrc15/updates.20100227.1610.gz",
    ];
    let (mut updates, mut clean) = (0, 0);
    for file in files {
        let gz = std::fs::File::open(testdata().join(file)).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut data).unwrap();
        for rec in MrtReader::new(&data) {
            let rec = rec.unwrap();
            if rec.message.get(18) != Some(&2) {
                continue;
            }
            updates += 1;
            // The first context is the collector's own view; the other two only on a sample,
            // to keep the test's time reasonable in debug builds.
            let cxs = contexts(rec.as4, rec.peer_asn);
            let n = if updates % 8 == 0 { cxs.len() } else { 1 };
            for (i, cx) in cxs.iter().take(n).enumerate() {
                let ok = same_both_ways(rec.message, cx);
                clean += usize::from(ok && i == 0);
            }
        }
    }
    assert!(updates > 60_000, "only {updates} UPDATEs in the dumps");
    // Most of them are clean, so the fast path did the work in the `FAST` runs.
    assert!(clean * 2 > updates, "{clean} of {updates} accepted cleanly");
}

#[test]
fn fast_and_general_paths_agree_on_the_packet_captures() {
    let mut updates = 0;
    for entry in std::fs::read_dir(testdata().join("pcap")).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for flow in read_pcap(&data).unwrap() {
            for msg in flow.messages.iter().filter(|m| m.get(18) == Some(&2)) {
                updates += 1;
                for as4 in [false, true] {
                    for cx in contexts(as4, 65001) {
                        same_both_ways(msg, &cx);
                    }
                }
            }
        }
    }
    assert!(updates > 50, "only {updates} UPDATEs in the captures");
}

/// Type codes: every modelled one, the raw ones with RFC 7606 rules, and unknown ones.
const CODES: [u8; 25] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 35, 24, 25, 26, 40, 128, 0, 99, 255,
];

/// An octet that is often 0 (AS 0, martian next hops, zero lengths).
fn octet() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), Just(1u8), Just(127u8), Just(224u8), any::<u8>()]
}

/// AS_PATH / AS4_PATH-like segments, mostly well formed.
fn segments() -> impl Strategy<Value = Vec<u8>> {
    let seg = (
        0u8..=5,
        0u8..=4,
        any::<bool>(),
        prop::collection::vec(octet(), 0..=16),
    );
    prop::collection::vec(seg, 0..=3).prop_map(|segs| {
        let mut v = Vec::new();
        for (t, n, four, fill) in segs {
            v.push(t);
            v.push(n);
            let want = usize::from(n) * if four { 4 } else { 2 };
            v.extend((0..want).map(|i| fill.get(i).copied().unwrap_or(0xfd)));
        }
        v
    })
}

/// MP_REACH_NLRI (`reach`) or MP_UNREACH_NLRI contents, mostly well formed.
fn mp(reach: bool) -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(1u16), Just(2u16), Just(3u16)],
        prop_oneof![Just(1u8), Just(2u8), Just(128u8)],
        prop_oneof![Just(4usize), Just(16usize), Just(32usize), Just(5usize)],
        prop::collection::vec(octet(), 32),
        prop::collection::vec((0u8..=130, any::<u32>()), 0..=4),
        0usize..3,
    )
        .prop_map(move |(afi, safi, nh_len, nh, prefixes, cut)| {
            let mut v = afi.to_be_bytes().to_vec();
            v.push(safi);
            if reach {
                v.push(nh_len as u8);
                v.extend_from_slice(&nh[..nh_len]);
                v.push(0);
            }
            for (bits, fill) in prefixes {
                v.push(bits);
                let n = usize::from(bits).div_ceil(8).min(16);
                v.extend((0..n).map(|i| fill.to_be_bytes()[i % 4]));
            }
            // Sometimes cut the last octets off (overruns).
            let keep = v.len().saturating_sub(if cut == 2 { 1 } else { 0 });
            v.truncate(keep);
            v
        })
}

/// A value for `code`: right lengths and shapes often, anything sometimes.
fn value(code: u8) -> BoxedStrategy<Vec<u8>> {
    let sized = prop_oneof![
        Just(0usize),
        Just(1usize),
        Just(4usize),
        Just(6usize),
        Just(8usize),
        Just(12usize),
        Just(24usize),
        0usize..=40,
    ]
    .prop_flat_map(|n| prop::collection::vec(octet(), n));
    match code {
        1 => prop_oneof![(0u8..=3).prop_map(|o| vec![o]), sized].boxed(),
        2 | 17 => prop_oneof![3 => segments(), 1 => sized].boxed(),
        14 => prop_oneof![3 => mp(true), 1 => sized].boxed(),
        15 => prop_oneof![3 => mp(false), 1 => sized].boxed(),
        _ => sized.boxed(),
    }
}

/// One attribute: flags (every Optional/Transitive combination, sometimes Partial or
/// Extended Length), a type code and a value.
fn attribute() -> impl Strategy<Value = (u8, u8, Vec<u8>)> {
    (
        prop::sample::select(&CODES[..]),
        0u8..4,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(code, ot, partial, ext)| {
            // Mostly the flags the definition requires, so the fast path is reached.
            let right = super::rules::rule(code).flags;
            let flags = prop_oneof![3 => Just(right), 1 => Just(ot << 6)]
                .prop_map(move |f| f | if partial { 0x20 } else { 0 } | if ext { 0x10 } else { 0 });
            (flags, Just(code), value(code))
        })
}

/// A whole UPDATE: withdrawn routes, attributes (in type-code order most of the time, as
/// speakers send them, else in the order drawn), NLRI; sometimes cut short.
fn update() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(octet(), 0..=6),
        prop::collection::vec(attribute(), 0..=10),
        any::<bool>(),
        prop_oneof![
            Just(vec![]),
            Just(vec![24, 10, 0, 0]),
            Just(vec![8, 10]),
            Just(vec![40])
        ],
        0usize..4,
    )
        .prop_map(|(wd, mut attrs, sorted, nlri, cut)| {
            if sorted {
                attrs.sort_by_key(|a| a.1);
            }
            let mut pa = Vec::new();
            for (flags, code, value) in attrs {
                pa.push(flags);
                pa.push(code);
                if flags & 0x10 != 0 {
                    pa.extend_from_slice(&(value.len() as u16).to_be_bytes());
                } else {
                    pa.push(value.len().min(255) as u8);
                }
                pa.extend_from_slice(&value);
            }
            // A valid withdrawn field most of the time: /8s.
            let wd: Vec<u8> = if wd.len() % 2 == 0 {
                wd.chunks(2).flat_map(|c| [8, c[0]]).collect()
            } else {
                wd
            };
            let mut m = vec![0xff; 16];
            m.extend_from_slice(&[0, 0, 2]);
            m.extend_from_slice(&(wd.len() as u16).to_be_bytes());
            m.extend_from_slice(&wd);
            m.extend_from_slice(&(pa.len() as u16).to_be_bytes());
            m.extend_from_slice(&pa);
            m.extend_from_slice(&nlri);
            if cut == 3 {
                m.pop();
            }
            let len = m.len() as u16;
            m[16..18].copy_from_slice(&len.to_be_bytes());
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn fast_and_general_paths_agree_on_generated_updates(
        msg in update(),
        as4 in any::<bool>(),
        which in 0usize..3,
    ) {
        same_both_ways(&msg, &contexts(as4, 65001)[which]);
    }
}

/// The generator reaches every step of the prelude and both outcomes of every rule it uses:
/// for each of its type codes, some generated UPDATE has that attribute in the in-order run
/// the prelude takes (each accepted by `judge`), and some first occurrence is refused by
/// `judge` (so the general path classified it).
#[test]
fn generated_updates_reach_every_prelude_step() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    const PRELUDE: [u8; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 35];
    let mut runner = TestRunner::deterministic();
    let strategy = update();
    let (mut taken, mut refused) = ([false; 256], [false; 256]);
    for _ in 0..5_000 {
        let msg = strategy.new_tree(&mut runner).unwrap().current();
        let wd = usize::from(u16::from_be_bytes([msg[19], msg[20]]));
        let Some(&[a0, a1]) = msg.get(21 + wd..23 + wd) else {
            continue;
        };
        let Some(mut rest) = msg.get(23 + wd..23 + wd + usize::from(u16::from_be_bytes([a0, a1])))
        else {
            continue;
        };
        let env = super::rules::Env {
            ibgp: true,
            four_octet_as: true,
            has_nlri_field: msg.len() > 23 + wd + rest.len(),
        };
        let (mut seen, mut step, mut in_run) = ([false; 256], 0, true);
        while let Some((flags, code, value, tail)) = super::check::split_attr(rest) {
            let ok = super::rules::judge(super::rules::rule(code), flags, value, env).is_ok();
            if !std::mem::replace(&mut seen[usize::from(code)], true) {
                refused[usize::from(code)] |= !ok;
            }
            // The prelude's run: ascending prelude codes, each accepted.
            while step < PRELUDE.len() && PRELUDE[step] < code {
                step += 1;
            }
            in_run &= step < PRELUDE.len() && PRELUDE[step] == code && ok;
            if in_run {
                taken[usize::from(code)] = true;
                step += 1;
            }
            rest = tail;
        }
        same_both_ways(&msg, &contexts(true, 65001)[1]);
    }
    for code in PRELUDE {
        assert!(
            taken[usize::from(code)],
            "the prelude never took attribute {code}"
        );
        assert!(refused[usize::from(code)], "no refused attribute {code}");
    }
}
