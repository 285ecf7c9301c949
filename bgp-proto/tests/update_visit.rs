//! The fused decode `UpdateView::decode_with` against `UpdateView::new_checked`: the same
//! session reset, RFC 7606 verdict and discarded attributes for every message of the captures
//! (`testdata/bgp/`: RIPE RIS MRT dumps and pcaps) under many session contexts and for
//! mutated messages, and, when accepted, the visitor receives exactly what the accessors
//! report. (The RFC 7606 table in rfc7606.rs runs the same comparison on each row.)
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod fused;
mod fuzz_bodies;

use std::io::Read;
use std::path::PathBuf;

use bgp_proto::capture::{read_pcap, MrtReader};
use bgp_proto::{Family, SessionContext};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp")
}

/// (context of the capture, message) for every UPDATE of the MRT dumps and pcaps.
fn updates() -> Vec<(SessionContext, Vec<u8>)> {
    let mut out = Vec::new();
    for file in [
        "updates.20190101.0000.gz",
        "rrc15/updates.20100227.1600.gz",
        "rrc15/updates.20100227.1610.gz",
    ] {
        let mut gz = flate2::read::GzDecoder::new(
            std::fs::File::open(testdata().join("mrt").join(file)).unwrap(),
        );
        let mut data = Vec::new();
        gz.read_to_end(&mut data).unwrap();
        for rec in MrtReader::new(&data) {
            let rec = rec.unwrap();
            if rec.message.get(18) != Some(&2) {
                continue;
            }
            let mut families = bgp_proto::FamilySet::new();
            families.insert(Family::IPV4_UNICAST);
            families.insert(Family::IPV6_UNICAST);
            let mut add_path = bgp_proto::FamilySet::new();
            if rec.add_path {
                add_path = families;
            }
            let cx = SessionContext {
                four_octet_as: rec.as4,
                families,
                add_path_rx: add_path,
                add_path_tx: add_path,
                ibgp: false,
                enforce_first_as: false,
                allow_as_set: true,
                peer_asn: rec.peer_asn,
                ..SessionContext::default()
            };
            out.push((cx, rec.message.to_vec()));
        }
    }
    let mut dir: Vec<_> = std::fs::read_dir(testdata().join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    for path in dir {
        let data = std::fs::read(&path).unwrap();
        for flow in read_pcap(&data).unwrap() {
            for m in &flow.messages {
                if m.get(18) == Some(&2) {
                    // Pcaps carry no negotiation record: a permissive iBGP context.
                    out.push((fuzz_bodies::context(0b0011_0001), m.to_vec()));
                    out.push((fuzz_bodies::context(0b0001_0000), m.to_vec()));
                }
            }
        }
    }
    out
}

#[test]
fn fused_matches_new_checked_on_the_captures() {
    let all = updates();
    assert!(all.len() > 60_000, "only {} updates", all.len());
    let mut accepted = 0usize;
    let mut failures = Vec::new();
    for (i, (cx, m)) in all.iter().enumerate() {
        match fused::agrees(m, cx) {
            Ok(a) => accepted += usize::from(a),
            Err(e) => failures.push(format!("#{i} {}: {e}", hex::encode(m))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ, first:\n{}",
        failures.len(),
        all.len(),
        failures[..failures.len().min(3)].join("\n")
    );
    // The comparison of values ran on most of them.
    assert!(accepted * 10 > all.len() * 9, "{accepted} of {}", all.len());
}

/// Every capture UPDATE under each context bit alone and all bits (as fuzz_smoke does).
#[test]
fn fused_matches_new_checked_under_every_context() {
    let all = updates();
    let mut failures = Vec::new();
    for (i, (_, m)) in all.iter().enumerate().step_by(7) {
        for sel in [0u8, 1, 2, 4, 8, 16, 32, 64, 128, 0xff] {
            if let Err(e) = fused::agrees(m, &fuzz_bodies::context(sel)) {
                failures.push(format!("#{i} sel {sel:#04x} {}: {e}", hex::encode(m)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ, first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n")
    );
}

/// xorshift64*, fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutations in the style of fuzz_smoke: flipped, set or random octets (mostly after the
/// header), truncation, inserted or deleted octets with the header length kept consistent,
/// and attribute/NLRI length octets nudged by one.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let body = v.len().saturating_sub(19).max(1);
        let at = 19 + rng.below(body);
        match rng.below(7) {
            0 => {
                if let Some(b) = v.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                if let Some(b) = v.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                if let Some(b) = v.get_mut(at) {
                    *b = match rng.below(4) {
                        0 => 0,
                        1 => 0xff,
                        2 => b.wrapping_add(1),
                        _ => b.wrapping_sub(1),
                    };
                }
            }
            3 => {
                if at < v.len() {
                    v.insert(at, rng.next() as u8);
                }
            }
            4 => {
                if at < v.len() {
                    v.remove(at);
                }
            }
            5 => v.truncate(at),
            _ => {
                // A flag octet of some attribute-like position.
                if let Some(b) = v.get_mut(at) {
                    *b ^= [0x80, 0x40, 0x10][rng.below(3)];
                }
            }
        }
    }
    if rng.below(8) != 0 && v.len() >= 19 {
        let l = (v.len() as u16).to_be_bytes();
        v[16] = l[0];
        v[17] = l[1];
    }
    v
}

#[test]
fn fused_matches_new_checked_on_mutated_updates() {
    let all = updates();
    let seeds: Vec<&Vec<u8>> = all.iter().map(|(_, m)| m).step_by(3).collect();
    let iters: usize = std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300_000);
    let mut rng = Rng(0x5eed_f05e);
    let (mut resets, mut taw, mut ok) = (0usize, 0usize, 0usize);
    for _ in 0..iters {
        let pick = rng.below(seeds.len());
        let m = mutate(&mut rng, seeds[pick]);
        let cx = fuzz_bodies::context(rng.next() as u8);
        match fused::agrees(&m, &cx) {
            Ok(true) => ok += 1,
            Ok(false) => {
                if bgp_proto::UpdateView::new_checked(&m[..], &cx).is_err() {
                    resets += 1;
                } else {
                    taw += 1;
                }
            }
            Err(e) => panic!("differ on {} (context {cx:?}): {e}", hex::encode(&m)),
        }
    }
    // The mutations reach every kind of outcome.
    assert!(
        resets > iters / 50 && taw > iters / 200 && ok > iters / 50,
        "{resets} {taw} {ok}"
    );
}

/// The message with an unrecognised optional transitive attribute (type 254, empty) put
/// before its path attributes, or `None` when its lengths do not frame the path attributes
/// (or its header length is not its length) or it would grow past 4096 octets.
fn with_leading_unknown(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() < 23
        || msg.len() + 3 > 4096
        || usize::from(u16::from_be_bytes([msg[16], msg[17]])) != msg.len()
    {
        return None;
    }
    let wd_len = usize::from(u16::from_be_bytes([msg[19], msg[20]]));
    let at = 21 + wd_len;
    let attr_len = usize::from(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]));
    if at + 2 + attr_len > msg.len() {
        return None;
    }
    // Not when the message already has a type 254 attribute (it would become a repeat).
    let mut rest = &msg[at + 2..at + 2 + attr_len];
    while let [flags, code, tail @ ..] = rest {
        if *code == 254 {
            return None;
        }
        let (len, tail) = if flags & 0x10 != 0 {
            let [a, b, tail @ ..] = tail else { break };
            (usize::from(u16::from_be_bytes([*a, *b])), tail)
        } else {
            let [a, tail @ ..] = tail else { break };
            (usize::from(*a), tail)
        };
        rest = tail.get(len..).unwrap_or_default();
    }
    let mut v = msg.to_vec();
    v.splice(at + 2..at + 2, [0xc0, 254, 0]);
    v[at..at + 2].copy_from_slice(&((attr_len + 3) as u16).to_be_bytes());
    let len = (v.len() as u16).to_be_bytes();
    v[16..18].copy_from_slice(&len);
    Some(v)
}

/// Decodes `msg` both ways and checks that putting an unrecognised attribute first (which
/// stops the in-order fast walk of the common attributes at once, so the general walk handles
/// every attribute) changes nothing: the same reset, verdict and discarded list, and the same
/// values visited apart from the extra attribute.
fn prelude_agrees(msg: &[u8], cx: &SessionContext) -> Result<(), String> {
    let Some(moved) = with_leading_unknown(msg) else {
        return Ok(());
    };
    let outcome = |m: &[u8], rec: &mut fused::Recorder| match bgp_proto::UpdateView::decode_with(
        m, cx, rec,
    ) {
        Ok(v) => Ok((v.verdict(), v.discarded().collect::<Vec<_>>())),
        Err(e) => Err(format!("{e:?}")),
    };
    let (mut a, mut b) = (fused::Recorder::default(), fused::Recorder::default());
    let (want, got) = (outcome(msg, &mut a), outcome(&moved, &mut b));
    if want != got {
        return Err(format!("in order {want:?}\ngeneral {got:?}"));
    }
    if want.is_ok() {
        if b.unknown.first().map(|(f, c, v)| (*f, c.0, v.is_empty())) != Some((0xc0, 254, true)) {
            return Err(format!(
                "leading attribute not visited first: {:?}",
                b.unknown
            ));
        }
        b.unknown.remove(0);
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            return Err(format!("visited\n{a}\nvs\n{b}"));
        }
    }
    Ok(())
}

/// The fast in-order walk of the common attributes (ORIGIN, AS_PATH, NEXT_HOP, ... in type
/// code order) reaches exactly the outcome of the general walk, on the captures under several
/// contexts and on mutated captures.
#[test]
fn in_order_walk_matches_general_walk() {
    let all = updates();
    let mut failures = Vec::new();
    for (i, (cx, m)) in all.iter().enumerate() {
        if let Err(e) = prelude_agrees(m, cx) {
            failures.push(format!("#{i} {}: {e}", hex::encode(m)));
        }
    }
    for (i, (_, m)) in all.iter().enumerate().step_by(5) {
        for sel in [0u8, 1, 2, 4, 8, 16, 32, 64, 128, 0xff] {
            if let Err(e) = prelude_agrees(m, &fuzz_bodies::context(sel)) {
                failures.push(format!("#{i} sel {sel:#04x} {}: {e}", hex::encode(m)));
            }
        }
    }
    let seeds: Vec<&Vec<u8>> = all.iter().map(|(_, m)| m).step_by(3).collect();
    let mut rng = Rng(0x0dd_0e1de);
    for _ in 0..100_000 {
        let pick = rng.below(seeds.len());
        let m = mutate(&mut rng, seeds[pick]);
        let cx = fuzz_bodies::context(rng.next() as u8);
        if let Err(e) = prelude_agrees(&m, &cx) {
            failures.push(format!("mutated {} ({cx:?}): {e}", hex::encode(&m)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ, first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n")
    );
}

/// `bgp_proto::decode_with` (the API the crate docs lead with) against `decode` +
/// `routes()`: the same `Err`; an accept verdict gives the visitor back with exactly the
/// prefixes `routes()` lists; treat-as-withdraw drops the visitor and names the same
/// attribute, reason and prefixes. `None` when `decode` did not give an UPDATE.
fn message_level_agrees(msg: &[u8], cx: &SessionContext) -> Result<Option<bool>, String> {
    use bgp_proto::{decode, decode_with, Decoded, Message, MessageType, Routes};
    let bytes = bytes::Bytes::copy_from_slice(msg);
    let two = decode(bytes.clone(), cx);
    let one = decode_with(bytes, cx, fused::Recorder::default());
    match (two, one) {
        (Err(a), Err(b)) if a == b => Ok(None),
        (
            Ok(Message::Update(view)),
            Ok(Decoded::Update {
                values,
                end_of_rib,
                msg: m1,
            }),
        ) => {
            let Routes::Update {
                withdrawn,
                announced,
            } = view.routes()
            else {
                return Err("decode_with accepted a treat-as-withdraw message".into());
            };
            let same = withdrawn.collect::<Vec<_>>() == values.withdrawn
                && announced.collect::<Vec<_>>() == values.announced
                && m1[..] == *view.as_bytes()
                && end_of_rib == view.end_of_rib();
            same.then_some(Some(true))
                .ok_or_else(|| "visited prefixes differ from routes()".into())
        }
        (
            Ok(Message::Update(view)),
            Ok(Decoded::WithdrawAll {
                view: v1,
                attr,
                reason,
            }),
        ) => {
            let Routes::WithdrawAll {
                prefixes,
                attr: a,
                reason: r,
            } = view.routes()
            else {
                return Err("decode_with withdrew an accepted message".into());
            };
            let same = (a, r) == (attr, reason)
                && prefixes.collect::<Vec<_>>() == v1.prefixes().collect::<Vec<_>>();
            same.then_some(Some(false))
                .ok_or_else(|| "treat-as-withdraw differs from routes()".into())
        }
        (Ok(m), Ok(Decoded::Other(o))) if m.kind() != MessageType::UPDATE => match decode(o, cx) {
            Ok(o) if o.kind() == m.kind() => Ok(None),
            o => Err(format!("decode {m:?}\nthen {o:?}")),
        },
        (a, b) => Err(format!("decode {a:?}\ndecode_with {b:?}")),
    }
}

#[test]
fn message_decode_with_matches_decode_and_routes() {
    let all = updates();
    let (mut accepted, mut withdrawn) = (0usize, 0usize);
    for (cx, m) in &all {
        // The capture's own context, and the default one (most of RIS 2019 is then
        // treat-as-withdraw: 2-octet AS paths read from 4-octet bytes).
        for cx in [cx.clone(), SessionContext::default()] {
            match message_level_agrees(m, &cx) {
                Ok(Some(true)) => accepted += 1,
                Ok(Some(false)) => withdrawn += 1,
                Ok(None) => {}
                Err(e) => panic!("{e} on {}", hex::encode(m)),
            }
        }
    }
    assert!(
        accepted > 50_000 && withdrawn > 10_000,
        "{accepted} {withdrawn}"
    );
    // Mutated messages (headers included) and other message types reach the errors.
    let mut rng = Rng(0xdec0_de17);
    let seeds: Vec<&Vec<u8>> = all.iter().map(|(_, m)| m).step_by(7).collect();
    let mut errors = 0usize;
    for _ in 0..50_000 {
        let pick = rng.below(seeds.len());
        let m = mutate(&mut rng, seeds[pick]);
        let cx = fuzz_bodies::context(rng.next() as u8);
        match message_level_agrees(&m, &cx) {
            Ok(None) => errors += 1,
            Ok(Some(_)) => {}
            Err(e) => panic!("{e} on {}", hex::encode(&m)),
        }
    }
    assert!(errors > 1000, "{errors}");
    let mut open = bytes::BytesMut::new();
    bgp_proto::Open {
        my_as: 65000,
        hold_time: 90,
        bgp_id: "192.0.2.1".parse().unwrap(),
        capabilities: vec![],
    }
    .encode(&mut open);
    assert_eq!(
        message_level_agrees(&open, &SessionContext::default()),
        Ok(None)
    );
    // An End-of-RIB marker (RFC 4724 §2): the empty UPDATE for IPv4 unicast.
    let mut eor = vec![0xff; 16];
    eor.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
    assert_eq!(
        message_level_agrees(&eor, &SessionContext::default()),
        Ok(Some(true))
    );
    let got = bgp_proto::decode_with(
        eor.into(),
        &SessionContext::default(),
        fused::Recorder::default(),
    );
    assert!(matches!(
        got,
        Ok(bgp_proto::Decoded::Update {
            end_of_rib: Some(Family::IPV4_UNICAST),
            ..
        })
    ));
}
