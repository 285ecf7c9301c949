//! Every BGP message in `testdata/bgp/` (the pcaps and the three RIPE RIS MRT dumps)
//! frames and decodes without error and, where the input is canonical, re-encodes byte for
//! byte: OPEN, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH through this crate's owned types,
//! UPDATE through `UpdateView::to_owned()` and `Update::encode`.
//!
//! The pcaps are split into messages by `capture::read_pcap` (TCP reassembly per direction);
//! the session context of each direction is negotiated from the two OPENs when the capture
//! has them (4-octet AS, ADD-PATH, Extended Message), restricted to IPv4/IPv6 unicast.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use bgp_proto::capture::{read_pcap, MrtReader, TcpFlow};
use bgp_proto::{
    decode, encode_keepalive, frame_len, Capability, Family, FamilySet, Message, MessageType, Open,
    SessionContext,
};
use bytes::{Bytes, BytesMut};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp")
}

fn unicast() -> FamilySet {
    [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        .into_iter()
        .collect()
}

/// Per-type counts and outcomes for one input.
#[derive(Default, Debug)]
struct Tally {
    by_type: BTreeMap<&'static str, usize>,
    /// Messages whose re-encoding was compared byte for byte.
    identical: usize,
    /// Non-canonical messages that were checked with decode(encode(x)) == x instead.
    semantic: usize,
}

/// Decodes `msg` under `cx`, re-encodes it and checks the result. Panics with the file
/// name and hex on any failure.
fn check_message(what: &str, msg: &Bytes, cx: &SessionContext, tally: &mut Tally) {
    assert_eq!(
        frame_len(msg, 65535),
        Ok(Some(msg.len())),
        "{what}: framing"
    );
    let decoded = match decode(msg.clone(), cx) {
        Ok(m) => m,
        Err(e) => panic!("{what}: {e} ({e:?})\n  {}", hex::encode(msg)),
    };
    let name = match decoded.kind() {
        MessageType::OPEN => "OPEN",
        MessageType::UPDATE => "UPDATE",
        MessageType::NOTIFICATION => "NOTIFICATION",
        MessageType::KEEPALIVE => "KEEPALIVE",
        _ => "ROUTE-REFRESH",
    };
    *tally.by_type.entry(name).or_default() += 1;
    let mut out = BytesMut::new();
    match &decoded {
        Message::Open(open) => {
            open.encode(&mut out);
            if single_capabilities_parameter(msg) {
                assert_eq!(
                    hex::encode(&out),
                    hex::encode(msg),
                    "{what}: OPEN re-encode"
                );
                tally.identical += 1;
            } else {
                // One parameter per capability (RFC 5492 §4 allows it); we send one.
                assert_eq!(
                    &Open::decode(&out).unwrap(),
                    open,
                    "{what}: OPEN round trip"
                );
                tally.semantic += 1;
            }
        }
        Message::Update(view) => {
            let _ = view.verdict();
            let _ = view.attributes();
            let _ = view.announced().count() + view.withdrawn().count();
            // Re-encode as the sender did: its transmit side is our receive side.
            let tx = SessionContext {
                add_path_tx: cx.add_path_rx,
                ..cx.clone()
            };
            view.to_owned().encode(&tx, &mut out);
            assert_eq!(
                hex::encode(&out),
                hex::encode(msg),
                "{what}: UPDATE re-encode"
            );
            tally.identical += 1;
        }
        Message::Notification(n) => {
            n.encode(&mut out);
            assert_eq!(&out[..], &msg[..], "{what}: NOTIFICATION re-encode");
            tally.identical += 1;
            let _ = n.to_string();
        }
        Message::Keepalive => {
            encode_keepalive(&mut out);
            assert_eq!(&out[..], &msg[..], "{what}: KEEPALIVE re-encode");
            tally.identical += 1;
        }
        Message::RouteRefresh(rr) => {
            rr.encode(&mut out);
            if msg.len() == 23 {
                assert_eq!(&out[..], &msg[..], "{what}: ROUTE-REFRESH re-encode");
                tally.identical += 1;
            } else {
                // ORF entries (RFC 5291) are not kept.
                assert_eq!(
                    &out[..19 + 4],
                    &[&msg[..16], &[0, 23], &msg[18..23]].concat()[..]
                );
                tally.semantic += 1;
            }
        }
    }
}

/// Whether an OPEN has at most one optional parameter (our canonical encoding).
fn single_capabilities_parameter(msg: &[u8]) -> bool {
    let opt_len = usize::from(msg[28]);
    opt_len == 0 || (msg[29] == 2 && usize::from(msg[30]) + 2 == opt_len)
}

// ---------------------------------------------------------------------------------------
// pcaps
// ---------------------------------------------------------------------------------------

/// The session context for messages sent by `sender` to `receiver` (RFC 5492 §3: a
/// capability is in effect when both advertised it).
fn negotiate(sender: Option<&Open>, receiver: Option<&Open>) -> SessionContext {
    let (Some(s), Some(r)) = (sender, receiver) else {
        return SessionContext {
            families: unicast(),
            ..SessionContext::default()
        };
    };
    let both = |f: &dyn Fn(&Capability) -> bool| {
        s.capabilities.iter().any(f) && r.capabilities.iter().any(f)
    };
    let mut cx = SessionContext {
        four_octet_as: both(&|c| matches!(c, Capability::FourOctetAs(_))),
        extended_message: both(&|c| matches!(c, Capability::ExtendedMessage)),
        families: unicast(),
        ..SessionContext::default()
    };
    let add_path = |o: &Open, send: bool| -> Vec<Family> {
        o.capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::AddPath(v) => Some(v.clone()),
                _ => None,
            })
            .flatten()
            .filter(|a| if send { a.send } else { a.receive })
            .map(|a| a.family)
            .collect()
    };
    let rx = add_path(r, false);
    for f in add_path(s, true) {
        if rx.contains(&f) {
            cx.add_path_rx.insert(f);
        }
    }
    cx
}

/// The OPEN sent in each direction of a flow list, keyed by (src, dst).
fn opens(flows: &[TcpFlow]) -> Vec<Option<Open>> {
    flows
        .iter()
        .map(|f| {
            f.messages
                .iter()
                .find(|m| m.get(18) == Some(&1))
                .and_then(|m| Open::decode(m).ok())
        })
        .collect()
}

/// The context for captures that start after the OPEN exchange: 2-octet AS (e.g.
/// `4-byte_AS_numbers_Mixed_Scenario.cap`, an old speaker sending AS_TRANS plus AS4_PATH,
/// RFC 6793 §4.2.2), IPv4/IPv6 unicast.
fn default_context() -> SessionContext {
    SessionContext {
        families: unicast(),
        ..SessionContext::default()
    }
}

fn pcap_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_pcap_message_decodes_and_reencodes() {
    let files = pcap_files();
    assert_eq!(files.len(), 20, "testdata/bgp/pcap should hold 20 captures");
    let mut total = Tally::default();
    let mut add_path_directions = 0;
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let flows = read_pcap(&data).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!flows.is_empty(), "{file}: no BGP flows");
        let opens = opens(&flows);
        let mut tally = Tally::default();
        for (i, flow) in flows.iter().enumerate() {
            assert_eq!(flow.header_error, None, "{file}: framing {flow:?}");
            // The reverse direction of the same connection, for negotiation.
            let reverse = flows
                .iter()
                .position(|g| g.src == flow.dst && g.dst == flow.src)
                .and_then(|j| opens[j].as_ref());
            let mut cx = match (opens[i].as_ref(), reverse) {
                (Some(_), Some(_)) => negotiate(opens[i].as_ref(), reverse),
                _ => default_context(),
            };
            if file == "bgp-add-path.cap" {
                if opens[i].is_none() {
                    cx.add_path_rx = unicast();
                }
                add_path_directions += usize::from(!cx.add_path_rx.is_empty());
            }
            for (n, msg) in flow.messages.iter().enumerate() {
                let what = format!("{file} {}->{} #{n}", flow.src, flow.dst);
                check_message(&what, msg, &cx, &mut tally);
            }
        }
        eprintln!("{file}: {} flows, {tally:?}", flows.len());
        for (k, v) in &tally.by_type {
            *total.by_type.entry(k).or_default() += v;
        }
        total.identical += tally.identical;
        total.semantic += tally.semantic;
    }
    eprintln!("all pcaps: {total:?}");
    // The ADD-PATH capture negotiates path identifiers (RFC 7911 §4) in some direction, so
    // its UPDATEs were decoded and re-encoded with them.
    assert!(
        add_path_directions > 0,
        "bgp-add-path.cap: no ADD-PATH direction negotiated"
    );
    // Every message type occurs in the captures.
    for t in [
        "OPEN",
        "UPDATE",
        "NOTIFICATION",
        "KEEPALIVE",
        "ROUTE-REFRESH",
    ] {
        assert!(
            total.by_type.get(t).copied().unwrap_or(0) > 0,
            "no {t} in the pcaps"
        );
    }
}

#[test]
fn pcap_message_counts_match_the_testdata_readme() {
    // (file, OPEN, UPDATE, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH), the table in
    // testdata/bgp/README.md (none of the captures has a retransmission that the
    // README's simpler count would have counted twice).
    let expected: &[(&str, [usize; 5])] = &[
        ("4-byte_AS_numbers_Full_Support.cap", [2, 9, 5, 0, 0]),
        ("4-byte_AS_numbers_Mixed_Scenario.cap", [0, 2, 2, 0, 0]),
        ("BGP_AS_set.cap", [2, 1, 7, 0, 0]),
        ("BGP_MD5.cap", [2, 0, 8, 0, 0]),
        ("BGP_MP_NLRI.cap", [4, 4, 16, 0, 0]),
        ("BGP_hard_reset.cap", [2, 12, 12, 0, 0]),
        ("BGP_notification.cap", [1, 0, 0, 1, 0]),
        ("BGP_redist.cap", [0, 1, 0, 0, 0]),
        ("BGP_soft_reset.cap", [0, 12, 8, 0, 1]),
        ("EBGP_adjacency.cap", [2, 12, 12, 0, 0]),
        ("IBGP_adjacency.cap", [2, 14, 8, 0, 0]),
        ("bgp_orf_prefix_advertisement.pcapng.cap", [0, 0, 1, 0, 1]),
        ("bgp-add-path.cap", [2, 4, 4, 0, 2]),
        ("BGP_flowspec_dscp.cap", [0, 1, 0, 0, 0]),
        ("BGP_flowspec_redirect.cap", [2, 6, 4, 0, 0]),
        ("BGP_flowspec_v4.cap", [0, 1, 0, 0, 0]),
        ("BGP_flowspec_v6.cap", [1, 2, 1, 0, 0]),
        ("BGP_notification_msg.cap", [2, 0, 0, 1, 0]),
        ("bgp_withdraw.cap", [0, 2, 0, 0, 0]),
        ("bgplu.cap", [2, 4, 3, 0, 0]),
    ];
    for (file, counts) in expected {
        let data = std::fs::read(testdata().join("pcap").join(file)).unwrap();
        let mut got = [0usize; 5];
        for flow in read_pcap(&data).unwrap() {
            for m in &flow.messages {
                let i = match m[18] {
                    1 => 0,
                    2 => 1,
                    4 => 2,
                    3 => 3,
                    _ => 4,
                };
                got[i] += 1;
            }
        }
        assert_eq!(&got, counts, "{file}");
    }
}

// ---------------------------------------------------------------------------------------
// MRT
// ---------------------------------------------------------------------------------------

fn gunzip(path: PathBuf) -> Vec<u8> {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
    let mut data = Vec::new();
    gz.read_to_end(&mut data).unwrap();
    data
}

#[test]
fn every_mrt_message_decodes_and_reencodes() {
    let files = [
        ("updates.20190101.0000.gz", 54_000),
        ("rrc15/updates.20100227.1600.gz", 6_000),
        ("rrc15/updates.20100227.1610.gz", 1_500),
    ];
    for (file, at_least) in files {
        let data = gunzip(testdata().join("mrt").join(file));
        let mut tally = Tally::default();
        let mut records = 0usize;
        for (i, rec) in MrtReader::new(&data).enumerate() {
            let rec = rec.unwrap_or_else(|e| panic!("{file}: {e}"));
            records += 1;
            let cx = SessionContext {
                four_octet_as: rec.as4,
                extended_message: true,
                families: unicast(),
                add_path_rx: if rec.add_path {
                    unicast()
                } else {
                    FamilySet::new()
                },
                ..SessionContext::default()
            };
            let msg = Bytes::copy_from_slice(rec.message);
            check_message(
                &format!("{file} record {i} from AS{}", rec.peer_asn),
                &msg,
                &cx,
                &mut tally,
            );
        }
        eprintln!("{file}: {records} BGP4MP message records, {tally:?}");
        assert!(records >= at_least, "{file}: only {records} records");
    }
}
