//! The bodies of the fuzz targets, shared by the cargo-fuzz project in `fuzz/` (via
//! `#[path]`) and by the stable smoke test `tests/fuzz_smoke.rs`.
//!
//! - [`decode_message`]: arbitrary bytes under a session context chosen from the input:
//!   framing, decoding and every accessor of the result never panic.
//! - [`roundtrip`]: decode -> to_owned -> encode -> decode gives the same value.
#![allow(dead_code)]

use bgp_proto::capture::{read_pcap, MrtReader};
use bgp_proto::notification::Notification;
use bgp_proto::open::Open;
use bgp_proto::route_refresh::RouteRefresh;
use bgp_proto::{
    decode, frame_len, Family, FamilySet, Message, SessionContext, UpdateView, Verdict,
};
use bytes::{Bytes, BytesMut};

/// A session context chosen by one input octet: 4-octet AS, Extended Message, ADD-PATH
/// receive (IPv4 / IPv6), IPv6 negotiated, iBGP, first-AS check, AS_SET allowed.
pub fn context(sel: u8) -> SessionContext {
    let bit = |n: u8| sel & (1 << n) != 0;
    let mut families: FamilySet = [Family::IPV4_UNICAST].into_iter().collect();
    if bit(4) {
        families.insert(Family::IPV6_UNICAST);
    }
    let mut add_path = FamilySet::new();
    if bit(2) {
        add_path.insert(Family::IPV4_UNICAST);
    }
    if bit(3) {
        add_path.insert(Family::IPV6_UNICAST);
    }
    SessionContext {
        four_octet_as: bit(0),
        extended_message: bit(1),
        add_path_rx: add_path,
        add_path_tx: add_path,
        families,
        extended_next_hop: if bit(4) {
            [Family::IPV4_UNICAST].into_iter().collect()
        } else {
            FamilySet::new()
        },
        ibgp: bit(5),
        peer_asn: 65001,
        enforce_first_as: bit(6),
        allow_as_set: bit(7),
    }
}

/// Target 1: never panics on any input.
pub fn decode_message(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let cx = context(sel);
    // Framing, message by message, as the codec does.
    let mut buf = rest;
    while !buf.is_empty() {
        match frame_len(buf, cx.max_message_len()) {
            Ok(Some(len)) => {
                let Some((msg, tail)) = buf.split_at_checked(len) else {
                    panic!("frame_len returned {len} for {} octets", buf.len());
                };
                assert!(len >= 19 && len <= cx.max_message_len());
                exercise(decode(Bytes::copy_from_slice(msg), &cx), &cx);
                buf = tail;
            }
            Ok(None) => break,
            Err(e) => {
                let n = e.notification();
                let _ = (n.to_string(), e.to_string());
                break;
            }
        }
    }
    // Unframed: the decoders must cope with a buffer that is not one message.
    exercise(decode(Bytes::copy_from_slice(rest), &cx), &cx);
    if let Ok(o) = Open::decode(rest) {
        exercise_open(&o);
    }
    if let Ok(n) = Notification::decode(rest) {
        let _ = (n.to_string(), n.shutdown_message(), n.encoded_len());
    }
    let _ = RouteRefresh::decode(rest);
    if let Ok(v) = UpdateView::new_checked(rest, &cx) {
        exercise_update(&v, &cx);
    }
    // The capture readers take arbitrary files.
    for rec in MrtReader::new(rest).take(64).flatten() {
        let _ = frame_len(rec.message, 65535);
    }
    let _ = read_pcap(rest);
}

fn exercise(result: Result<Message, bgp_proto::DecodeError>, cx: &SessionContext) {
    match result {
        Ok(m) => {
            let _ = m.kind();
            match &m {
                Message::Open(o) => exercise_open(o),
                Message::Update(v) => exercise_update(v, cx),
                Message::Notification(n) => {
                    let _ = (n.to_string(), n.shutdown_message(), n.subcode_name());
                    let mut out = BytesMut::new();
                    n.encode(&mut out);
                }
                Message::Keepalive => {}
                Message::RouteRefresh(rr) => {
                    let mut out = BytesMut::new();
                    rr.encode(&mut out);
                }
            }
        }
        Err(e) => {
            let _ = (e.notification(), e.to_string());
        }
    }
}

fn exercise_open(o: &Open) {
    let _ = (o.asn(), o.families().count(), o.encoded_len());
    for c in &o.capabilities {
        let _ = (c.code(), c.encoded_len());
    }
    let mut out = BytesMut::new();
    o.encode(&mut out);
}

fn exercise_update<B: AsRef<[u8]>>(v: &UpdateView<B>, cx: &SessionContext) {
    let _ = v.verdict();
    let _ = v.discarded().count();
    let _ = v.withdrawn().count();
    let _ = v.announced().count();
    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        let _ = v.next_hop(f);
    }
    let _ = v.attributes();
    let _ = v.end_of_rib();
    let _ = v.withdrawn_routes().count();
    let _ = v.nlri().count();
    let _ = v.mp_reach_nlri().count();
    let _ = v.mp_unreach_nlri().count();
    let _ = (v.mp_reach_family(), v.mp_unreach_family());
    let _ = (v.origin(), v.as_path_bytes(), v.med(), v.local_pref());
    let _ = v.communities().count();
    let _ = v.ext_communities().count();
    let _ = v.large_communities().count();
    let _ = v.raw_attributes().count();
    let mut out = BytesMut::new();
    v.to_owned().encode(cx, &mut out);
}

/// Target 2: decode -> to_owned -> encode -> decode gives the same value.
pub fn roundtrip(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let cx = context(sel);
    let Ok(Some(len)) = frame_len(rest, cx.max_message_len()) else {
        return;
    };
    let Some(msg) = rest.get(..len) else {
        return;
    };
    let Ok(m) = decode(Bytes::copy_from_slice(msg), &cx) else {
        return;
    };
    let mut out = BytesMut::new();
    match m {
        Message::Open(o) => {
            o.encode(&mut out);
            assert_eq!(out.len(), o.encoded_len());
            // Our encoding is never longer than what we decoded (one parameter for all).
            assert!(
                out.len() <= msg.len(),
                "OPEN grew from {} to {}",
                msg.len(),
                out.len()
            );
            let again = Open::decode(&out).expect("re-encoded OPEN decodes");
            assert_eq!(again, o);
        }
        Message::Update(v) => {
            let owned = v.to_owned();
            owned.encode(&cx, &mut out);
            let again = UpdateView::new_checked(out.clone().freeze(), &cx).unwrap_or_else(|e| {
                panic!(
                    "re-encoded UPDATE fails: {e:?}\n in  {msg:02x?}\n out {:02x?}",
                    &out[..]
                )
            });
            assert_eq!(again.to_owned(), owned, "UPDATE round trip");
            // A well-formed UPDATE stays well-formed. (A malformed one keeps its owned
            // value, but the reason for treat-as-withdraw may change: the malformation
            // itself cannot always be represented.)
            if v.verdict() == Verdict::Accept {
                assert_eq!(again.verdict(), Verdict::Accept, "UPDATE verdict changed");
            }
        }
        Message::Notification(n) => {
            n.encode(&mut out);
            assert_eq!(&out[..], msg, "NOTIFICATION is always canonical");
            assert_eq!(Notification::decode(&out).expect("decodes"), n);
        }
        Message::Keepalive => {
            bgp_proto::encode_keepalive(&mut out);
            assert_eq!(&out[..], msg);
        }
        Message::RouteRefresh(rr) => {
            rr.encode(&mut out);
            assert_eq!(RouteRefresh::decode(&out).expect("decodes"), rr);
        }
    }
}
