//! The cores of `examples/decode_mrt.rs` and `examples/decode_pcap.rs` run on the real
//! captures in `testdata/bgp/`, so the examples cannot rot, and the contexts they use
//! (`SessionContext::for_mrt`, `from_opens`, `for_capture`) are checked against what the
//! bytes hold: no route lost to the context, no IPv6 route or LOCAL_PREF dropped.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[allow(dead_code)]
#[path = "../examples/decode_mrt.rs"]
mod decode_mrt;
#[allow(dead_code)]
#[path = "../examples/decode_pcap.rs"]
mod decode_pcap;

use std::path::PathBuf;

use bgp_proto::SessionContext;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp")
}

/// The RIS 2019 dump under `for_mrt`: every UPDATE decodes and none is treat-as-withdraw,
/// IPv6 routes are reported, and it reports at least every route and ASN the contexts a
/// first-time user would write by hand report (`default()`, `{ four_octet_as: true, .. }`).
#[test]
fn decode_mrt_loses_nothing_on_the_ris_dump() {
    let dump = decode_mrt::read_dump(&testdata().join("mrt/updates.20190101.0000.gz")).unwrap();
    let mrt = decode_mrt::tally(&dump, SessionContext::for_mrt);
    assert!(mrt.updates > 50_000, "{mrt:?}");
    assert_eq!(mrt.errors, 0);
    assert_eq!(mrt.treat_as_withdraw, 0);
    assert!(mrt.announced_v6 > 1000, "{}", mrt.announced_v6);
    assert!(mrt.asns.len() > 4000, "{}", mrt.asns.len());
    assert_eq!(mrt.local_pref, mrt.local_pref_in_bytes);

    let by_hand = decode_mrt::tally(&dump, |_| SessionContext::default());
    assert!(
        by_hand.treat_as_withdraw * 10 > by_hand.updates * 9,
        "{by_hand:?}"
    );
    let as4 = decode_mrt::tally(&dump, |_| SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    });
    assert_eq!(as4.announced_v6, 0);
    for t in [&by_hand, &as4] {
        assert!(mrt.announced_v4 >= t.announced_v4);
        assert!(mrt.asns.is_superset(&t.asns));
    }
}

/// The older dumps (2010, some records 2-octet AS) decode as cleanly.
#[test]
fn decode_mrt_on_the_rrc15_dumps() {
    for name in ["updates.20100227.1600.gz", "updates.20100227.1610.gz"] {
        let dump = decode_mrt::read_dump(&testdata().join("mrt/rrc15").join(name)).unwrap();
        let t = decode_mrt::tally(&dump, SessionContext::for_mrt);
        assert!(t.updates > 100, "{name}: {t:?}");
        assert_eq!((t.errors, t.treat_as_withdraw), (0, 0), "{name}");
        assert_eq!(t.local_pref, t.local_pref_in_bytes, "{name}");
    }
}

fn pcap(name: &str) -> Vec<decode_pcap::FlowTally> {
    decode_pcap::tally(&std::fs::read(testdata().join("pcap").join(name)).unwrap()).unwrap()
}

/// Every pcap decodes without error or treat-as-withdraw; the iBGP session keeps its
/// LOCAL_PREFs, the IPv6 one its IPv6 routes, the ADD-PATH one its routes.
#[test]
fn decode_pcap_on_every_capture() {
    let mut n = 0;
    for e in std::fs::read_dir(testdata().join("pcap")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        for t in pcap(&name) {
            n += 1;
            assert_eq!((t.errors, t.treat_as_withdraw), (0, 0), "{name}: {t:?}");
        }
    }
    assert!(n > 30, "{n} flows");

    let ibgp = pcap("IBGP_adjacency.cap");
    assert_eq!(ibgp.len(), 2);
    for t in &ibgp {
        assert!(
            t.negotiated && t.local_pref > 0 && t.announced_v4 > 0,
            "{t:?}"
        );
    }
    let v6: usize = pcap("BGP_MP_NLRI.cap").iter().map(|t| t.announced_v6).sum();
    assert_eq!(v6, 6);
    let add_path: usize = pcap("bgp-add-path.cap")
        .iter()
        .map(|t| t.announced_v4)
        .sum();
    assert!(add_path > 0);
}
