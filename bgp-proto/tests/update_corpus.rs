//! Every UPDATE in the RIPE RIS MRT dumps of `testdata/bgp/mrt/` decodes with
//! `UpdateView::new_checked`, and `to_owned().encode()` gives back the same bytes.
//!
//! Run `cargo test --release -p bgp-proto --test update_corpus -- --ignored --nocapture` for
//! the decode/encode speed figures.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::Read;
use std::path::PathBuf;

use bgp_proto::attr::{NextHop, Nlri, PathAttributes};
use bgp_proto::{Family, SessionContext, UpdateBuilder, UpdateView, Verdict};
use bytes::{Bytes, BytesMut};

/// On-CPU time of this thread (the machine is shared: wall time would count other builds).
struct CpuClock(u64);

impl CpuClock {
    fn now() -> CpuClock {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        CpuClock(
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(0),
        )
    }
    fn secs(&self) -> f64 {
        (CpuClock::now().0 - self.0) as f64 / 1e9
    }
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp/mrt")
}

/// (4-octet AS, message) for every BGP4MP UPDATE in `file`. A throwaway MRT reader
/// (RFC 6396 §4.4): common header, then BGP4MP MESSAGE (subtype 1) or MESSAGE_AS4 (4).
fn mrt_updates(file: &str) -> Vec<(bool, Bytes)> {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(testdata().join(file)).unwrap());
    let mut data = Vec::new();
    gz.read_to_end(&mut data).unwrap();
    let mut out = Vec::new();
    let mut p = 0;
    while p + 12 <= data.len() {
        let ty = u16::from_be_bytes([data[p + 4], data[p + 5]]);
        let sub = u16::from_be_bytes([data[p + 6], data[p + 7]]);
        let len = u32::from_be_bytes(data[p + 8..p + 12].try_into().unwrap()) as usize;
        let mut body = &data[p + 12..p + 12 + len];
        p += 12 + len;
        if ty == 17 {
            body = &body[4..];
        } else if ty != 16 {
            continue;
        }
        let (as4, asn_len) = match sub {
            1 => (false, 2),
            4 => (true, 4),
            _ => continue,
        };
        let afi = u16::from_be_bytes([body[2 * asn_len + 2], body[2 * asn_len + 3]]);
        let ip_len = if afi == 2 { 16 } else { 4 };
        let msg = &body[2 * asn_len + 4 + 2 * ip_len..];
        if msg.len() >= 19 && msg[18] == 2 {
            out.push((as4, Bytes::copy_from_slice(msg)));
        }
    }
    out
}

fn cx(as4: bool) -> SessionContext {
    SessionContext {
        four_octet_as: as4,
        extended_message: true,
        families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .collect(),
        ..SessionContext::default()
    }
}

const FILES: [&str; 3] = [
    "updates.20190101.0000.gz",
    "rrc15/updates.20100227.1600.gz",
    "rrc15/updates.20100227.1610.gz",
];

#[test]
fn ris_updates_decode_and_reencode_byte_for_byte() {
    for file in FILES {
        let msgs = mrt_updates(file);
        assert!(msgs.len() > 1000, "{file}: only {} UPDATEs", msgs.len());
        let (mut errors, mut taw, mut mismatch, mut prefixes) = (0, 0, 0, 0usize);
        for (as4, m) in &msgs {
            let cx = cx(*as4);
            let v = match UpdateView::new_checked(m.clone(), &cx) {
                Ok(v) => v,
                Err(e) => {
                    errors += 1;
                    eprintln!("{file}: {e}: {}", hex::encode(m));
                    continue;
                }
            };
            if v.verdict() != Verdict::Accept {
                taw += 1;
            }
            prefixes += v.announced().count() + v.withdrawn().count();
            let _ = v.attributes();
            let mut out = BytesMut::new();
            v.to_owned().encode(&cx, &mut out);
            if out[..] != m[..] {
                mismatch += 1;
                if mismatch < 5 {
                    eprintln!(
                        "{file}: re-encode differs\n in  {}\n out {}",
                        hex::encode(m),
                        hex::encode(&out)
                    );
                }
            }
        }
        eprintln!("{file}: {} UPDATEs, {prefixes} prefixes, {taw} treat-as-withdraw, {errors} errors, {mismatch} re-encode mismatches", msgs.len());
        assert_eq!(errors, 0, "{file}");
        assert_eq!(mismatch, 0, "{file}");
    }
}

/// Speed figures (release build): full decode = `new_checked` + every NLRI + every attribute
/// value through the zero-allocation accessors; packed encode with `UpdateBuilder`.
#[test]
#[ignore]
fn speed_full_decode_and_packed_encode() {
    let msgs = mrt_updates(FILES[0]);
    let cx = cx(true);
    let bytes: usize = msgs.iter().map(|(_, m)| m.len()).sum();
    let slices: Vec<&[u8]> = msgs.iter().map(|(_, m)| &m[..]).collect();
    let rounds = 20;
    let t = CpuClock::now();
    let mut ok = 0usize;
    for _ in 0..rounds {
        for m in &slices {
            ok += UpdateView::new_checked(*m, &cx).is_ok() as usize;
        }
    }
    let dt = t.secs();
    eprintln!(
        "new_checked only: {:.0} msgs/s, {:.2} GB/s ({ok})",
        (msgs.len() * rounds) as f64 / dt,
        (bytes * rounds) as f64 / dt / 1e9
    );
    let t = CpuClock::now();
    let mut sink = 0u64;
    for _ in 0..rounds {
        for m in &slices {
            let v = UpdateView::new_checked(*m, &cx).unwrap();
            for n in v.announced().chain(v.withdrawn()) {
                sink = sink.wrapping_add(u64::from(n.prefix.prefix_len()));
            }
            sink += v.origin().map_or(0, |o| o.code() as u64);
            sink += v.as_path_bytes().map_or(0, |p| p.len() as u64);
            sink += v.med().unwrap_or(0) as u64;
            sink += v.communities().map(|c| c.0 as u64).sum::<u64>();
            sink += v.large_communities().map(|c| c.local2 as u64).sum::<u64>();
            sink += v.ext_communities().map(|c| c.0[7] as u64).sum::<u64>();
            sink += v.next_hop(Family::IPV4_UNICAST).is_some() as u64;
        }
    }
    let dt = t.secs();
    eprintln!(
        "full decode (zero-copy accessors): {:.0} msgs/s, {:.2} GB/s (sink {sink})",
        (msgs.len() * rounds) as f64 / dt,
        (bytes * rounds) as f64 / dt / 1e9
    );
    let t = CpuClock::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for m in &slices {
            let v = UpdateView::new_checked(*m, &cx).unwrap();
            n += v.attributes().communities.len();
            n += v.announced().count();
        }
    }
    let dt = t.secs();
    eprintln!(
        "decode into owned PathAttributes: {:.0} msgs/s, {:.2} GB/s ({n})",
        (msgs.len() * rounds) as f64 / dt,
        (bytes * rounds) as f64 / dt / 1e9
    );

    // Packed encode: 100k /24s and 100k /48s sharing one attribute set.
    let v4: Vec<Nlri> = (0..100_000u32)
        .map(|i| {
            Nlri::new(
                format!("{}.{}.{}.0/24", 10 + (i >> 16), (i >> 8) & 255, i & 255)
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    let v6: Vec<Nlri> = (0..100_000u32)
        .map(|i| {
            Nlri::new(
                format!("2001:{:x}:{:x}::/48", 1 + (i >> 16), i & 0xffff)
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    let attrs = PathAttributes {
        as_path: bgp_proto::attr::AsPath::from_sequence([64512, 64513, 64514]),
        communities: vec![bgp_proto::Community::new(64512, 1)],
        ..PathAttributes::default()
    };
    let b = UpdateBuilder::new(&cx);
    let mut out = BytesMut::with_capacity(1 << 20);
    for (name, nlri, nh) in [
        ("ipv4", &v4, NextHop::V4("192.0.2.1".parse().unwrap())),
        (
            "ipv6",
            &v6,
            NextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
        ),
    ] {
        let t = CpuClock::now();
        let mut total = 0;
        for _ in 0..rounds * 10 {
            out.clear();
            b.announce(&attrs, &nh, nlri, &mut out);
            total += out.len();
        }
        let dt = t.secs();
        eprintln!("packed encode {name}: {:.2} GB/s", total as f64 / dt / 1e9);
    }
}

/// `new_checked` alone over the RIS corpus, for profiling (`perf record`).
#[test]
#[ignore]
fn speed_new_checked_only() {
    let msgs = mrt_updates(FILES[0]);
    let cx = cx(true);
    let bytes: usize = msgs.iter().map(|(_, m)| m.len()).sum();
    let slices: Vec<&[u8]> = msgs.iter().map(|(_, m)| &m[..]).collect();
    let rounds = 100;
    let t = CpuClock::now();
    let mut ok = 0usize;
    for _ in 0..rounds {
        for m in &slices {
            ok += UpdateView::new_checked(*m, &cx).is_ok() as usize;
        }
    }
    let dt = t.secs();
    eprintln!(
        "new_checked only: {:.2} GB/s ({ok})",
        (bytes * rounds) as f64 / dt / 1e9
    );
}

/// Every UPDATE in the packet captures of `testdata/bgp/pcap/` decodes and
/// re-encodes byte for byte under one of the session contexts a capture can have (2- or
/// 4-octet AS, with or without ADD-PATH; families the codec does not parse, such as
/// FlowSpec and labeled unicast, stay raw inside MP_REACH_NLRI).
#[test]
fn pcap_updates_decode_and_reencode_byte_for_byte() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp/pcap");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Ok(flows) = bgp_proto::capture::read_pcap(&data) else {
            continue;
        };
        for m in flows
            .iter()
            .flat_map(|f| f.messages.iter())
            .filter(|m| m.get(18) == Some(&2))
        {
            total += 1;
            let ok = (0..8).any(|bits| {
                let (as4, ap, ibgp) = (bits & 1 == 0, bits & 2 != 0, bits & 4 != 0);
                let mut c = SessionContext {
                    allow_as_set: true,
                    ibgp,
                    ..cx(as4)
                };
                if ap {
                    c.add_path_rx.insert(Family::IPV4_UNICAST);
                    c.add_path_tx.insert(Family::IPV4_UNICAST);
                }
                UpdateView::new_checked(m.clone(), &c).is_ok_and(|v| {
                    v.verdict() == Verdict::Accept && v.to_owned().to_bytes(&c) == *m
                })
            });
            assert!(ok, "{}: {}", path.display(), hex::encode(m));
        }
    }
    assert!(total >= 60, "only {total} UPDATEs found");
    eprintln!("{total} UPDATEs from pcaps round-trip");
}
