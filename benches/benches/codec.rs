//! Codec speed: full decode of real and synthetic UPDATEs with bgp-proto and five other Rust
//! BGP codecs, side by side, plus bgp-proto's packed-UPDATE encode. See docs/benchmarks.md.
//!
//! `cargo bench -p benches --bench codec` (env: `BENCH_ITERS`, default 11; `BENCH_MRT`, path
//! of the gzipped MRT file; `BENCH_SYNTH`, number of synthetic UPDATEs, default 100000;
//! `BENCH_PARTS`, any of `ris,synth,encode`, default all; `BENCH_ONLY`, a substring of the
//! implementation names to run, for profiling).
//!
//! "Full decode" means, for every implementation: the message is parsed with the crate's
//! normal UPDATE entry point for a 4-octet-AS session, every withdrawn and announced prefix
//! (conventional fields and MP_(UN)REACH_NLRI) is read, every AS_PATH ASN, every community,
//! large and extended community, MED, LOCAL_PREF, ORIGIN, AGGREGATOR, ORIGINATOR_ID,
//! CLUSTER_LIST and the next hop are read and folded into a digest. The prefix counts must
//! agree across implementations.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use benches::{median, ours, Corpus, Digest};
use bytes::{Bytes, BytesMut};

/// Nanoseconds this thread has spent on a CPU (CLOCK_THREAD_CPUTIME_ID, which the kernel
/// brings up to date on each read), so that time the scheduler gave to other processes on
/// this shared machine is not counted. `None` if the clock is not available.
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, properly aligned `timespec` owned by this frame and the pointer
    // is valid for writes for the whole call; clock_gettime writes only that struct and
    // keeps no pointer to it. CLOCK_THREAD_CPUTIME_ID is a valid clock id on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// One decoded message's contribution, or why it failed.
type Res = Result<(), String>;

/// Per-input contexts for every implementation, built once.
struct Cx {
    ours: bgp_proto::SessionContext,
    zetta: zettabgp::BgpSessionParams,
    netgauze: netgauze_bgp_pkt::wire::deserializer::BgpParsingContext,
    routecore: routecore::bgp::message::SessionConfig,
}

impl Cx {
    fn new(ours: bgp_proto::SessionContext) -> Cx {
        let mut zetta = zettabgp::BgpSessionParams::new(
            0,
            180,
            zettabgp::BgpTransportMode::IPv4,
            Ipv4Addr::UNSPECIFIED,
            vec![],
        );
        zetta.has_as32bit = true;
        Cx {
            ours,
            zetta,
            netgauze: netgauze_bgp_pkt::wire::deserializer::BgpParsingContext::new(
                true,
                HashMap::new(),
                HashMap::new(),
                true,
                true,
                true,
                true,
            ),
            routecore: routecore::bgp::message::SessionConfig::modern(),
        }
    }
}

#[inline(always)]
fn v6bits(a: std::net::Ipv6Addr) -> u64 {
    let x = u128::from(a);
    (x >> 64) as u64 ^ x as u64
}

#[inline(always)]
fn ipbits(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => v6bits(a),
    }
}

// ---------------------------------------------------------------------------------------
// bgp-proto (ours)
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn ours_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    ours::decode_one(m, &cx.ours, d).map_err(|e| format!("{e:?}"))
}

#[inline(always)]
fn floor_one(m: &[u8], _b: &Bytes, _cx: &mut Cx, d: &mut Digest) -> Res {
    benches::floor::walk(m, d).ok_or_else(|| "overrun".to_string())
}

#[inline(always)]
fn ours_view_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    ours::decode_one_view(m, &cx.ours, d).map_err(|e| format!("{e:?}"))
}

#[inline(always)]
fn ours_documented_one(_m: &[u8], b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    ours::decode_one_documented(b, &cx.ours, d).map_err(|e| format!("{e:?}"))
}

#[inline(always)]
fn ours_routes_one(_m: &[u8], b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    ours::decode_one_routes(b, &cx.ours, d).map_err(|e| format!("{e:?}"))
}

#[inline(always)]
fn ours_fused_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    ours::decode_one_fused(m, &cx.ours, d).map_err(|e| format!("{e:?}"))
}

// ---------------------------------------------------------------------------------------
// zettabgp
// ---------------------------------------------------------------------------------------

fn zetta_addrs(a: &zettabgp::afi::BgpAddrs, d: &mut Digest) -> (u64, Res) {
    use zettabgp::afi::BgpAddrs;
    let mut n = 0;
    match a {
        BgpAddrs::None => {}
        BgpAddrs::IPV4U(v) => {
            for p in v {
                n += 1;
                d.prefix_len_sum += u64::from(p.prefixlen);
                d.touch(u64::from(u32::from(p.addr)));
            }
        }
        BgpAddrs::IPV6U(v) => {
            for p in v {
                n += 1;
                d.prefix_len_sum += u64::from(p.prefixlen);
                d.touch(v6bits(p.addr));
            }
        }
        _ => return (0, Err("unexpected family".into())),
    }
    (n, Ok(()))
}

#[inline(always)]
fn zetta_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    use zettabgp::prelude::*;
    let body = m.get(19..).ok_or("short")?;
    let mut u = BgpUpdateMessage::new();
    u.decode_from(&cx.zetta, body)
        .map_err(|e| format!("{e:?}"))?;
    d.messages += 1;
    let (n, r) = zetta_addrs(&u.withdraws, d);
    r?;
    d.withdrawn += n;
    let (n, r) = zetta_addrs(&u.updates, d);
    r?;
    d.announced += n;
    for a in &u.attrs {
        match a {
            BgpAttrItem::Origin(o) => d.touch(o.value as u64),
            BgpAttrItem::ASPath(p) => {
                for it in &p.value {
                    match it {
                        BgpASitem::Seq(s) => {
                            d.as_path_asns += s.value.len() as u64;
                            for a in &s.value {
                                d.touch(u64::from(a.value));
                            }
                        }
                        BgpASitem::Set(s) => {
                            d.as_path_asns += s.value.len() as u64;
                            for a in &s.value {
                                d.touch(u64::from(a.value));
                            }
                        }
                    }
                }
            }
            BgpAttrItem::NextHop(n) => d.touch(ipbits(n.value)),
            BgpAttrItem::MED(v) => d.touch(u64::from(v.value)),
            BgpAttrItem::LocalPref(v) => d.touch(u64::from(v.value)),
            BgpAttrItem::AtomicAggregate(_) => d.touch(6),
            BgpAttrItem::AggregatorAS(a) => {
                d.touch(u64::from(a.asn) ^ u64::from(u32::from(a.addr)))
            }
            BgpAttrItem::CommunityList(c) => {
                d.communities += c.value.len() as u64;
                for c in &c.value {
                    d.touch(u64::from(c.value));
                }
            }
            BgpAttrItem::LargeCommunityList(c) => {
                d.large_communities += c.value.len() as u64;
                for c in &c.value {
                    d.touch(u64::from(c.ga) ^ u64::from(c.ldp1) ^ u64::from(c.ldp2));
                }
            }
            BgpAttrItem::ExtCommunityList(c) => {
                d.ext_communities += c.value.len() as u64;
                for c in &c.value {
                    d.touch(u64::from(c.ctype) ^ u64::from(c.a) ^ u64::from(c.b));
                }
            }
            BgpAttrItem::OriginatorID(o) => d.touch(ipbits(o.value)),
            BgpAttrItem::ClusterList(c) => {
                for a in &c.value {
                    d.touch(ipbits(*a));
                }
            }
            BgpAttrItem::MPUpdates(mp) => {
                match mp.nexthop {
                    BgpAddr::V4(a) => d.touch(u64::from(u32::from(a))),
                    BgpAddr::V6(a) => d.touch(v6bits(a)),
                    _ => {}
                }
                let (n, r) = zetta_addrs(&mp.addrs, d);
                r?;
                d.announced += n;
            }
            BgpAttrItem::MPWithdraws(mp) => {
                let (n, r) = zetta_addrs(&mp.addrs, d);
                r?;
                d.withdrawn += n;
            }
            BgpAttrItem::OTC(o) => d.touch(u64::from(o.value)),
            BgpAttrItem::Unknown(u) => d.touch(u.value.len() as u64),
            _ => d.touch(1),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// netgauze-bgp-pkt
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn netgauze_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    use netgauze_bgp_pkt::nlri::{Ipv4UnicastAddress, Ipv6UnicastAddress};
    use netgauze_bgp_pkt::path_attribute::{AsPath, MpReach, MpUnreach, PathAttributeValue as V};
    use netgauze_bgp_pkt::BgpMessage;
    use netgauze_parse_utils::{reader::SliceReader, traits::ParseFromWithOneInput};

    fn v4(ps: &[Ipv4UnicastAddress], d: &mut Digest) -> u64 {
        for p in ps {
            let n = p.network().address();
            d.prefix_len_sum += u64::from(n.prefix_len());
            d.touch(u64::from(u32::from(n.addr())));
        }
        ps.len() as u64
    }
    fn v6(ps: &[Ipv6UnicastAddress], d: &mut Digest) -> u64 {
        for p in ps {
            let n = p.network().address();
            d.prefix_len_sum += u64::from(n.prefix_len());
            d.touch(v6bits(n.addr()));
        }
        ps.len() as u64
    }

    let mut cur = SliceReader::new(m);
    let msg = BgpMessage::parse(&mut cur, &mut cx.netgauze).map_err(|e| format!("{e}"))?;
    let BgpMessage::Update(u) = msg else {
        return Err("not an UPDATE".into());
    };
    d.messages += 1;
    d.withdrawn += v4(u.withdraw_routes(), d);
    d.announced += v4(u.nlri(), d);
    for a in u.path_attributes() {
        match a.value() {
            V::Origin(o) => d.touch(*o as u64),
            V::AsPath(AsPath::As4PathSegments(segs)) => {
                for s in segs.iter() {
                    d.as_path_asns += s.as_numbers().len() as u64;
                    for &a in s.as_numbers() {
                        d.touch(u64::from(a));
                    }
                }
            }
            V::AsPath(AsPath::As2PathSegments(segs)) => {
                for s in segs.iter() {
                    d.as_path_asns += s.as_numbers().len() as u64;
                    for &a in s.as_numbers() {
                        d.touch(u64::from(a));
                    }
                }
            }
            V::NextHop(n) => d.touch(u64::from(u32::from(n.next_hop()))),
            V::MultiExitDiscriminator(v) => d.touch(u64::from(v.metric())),
            V::LocalPreference(v) => d.touch(u64::from(v.metric())),
            V::AtomicAggregate(_) => d.touch(6),
            V::Aggregator(netgauze_bgp_pkt::path_attribute::Aggregator::As4Aggregator(a)) => {
                d.touch(u64::from(*a.asn()) ^ u64::from(u32::from(a.origin())))
            }
            V::Aggregator(netgauze_bgp_pkt::path_attribute::Aggregator::As2Aggregator(a)) => {
                d.touch(u64::from(*a.asn()) ^ u64::from(u32::from(a.origin())))
            }
            V::Communities(c) => {
                d.communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(u64::from(c.value()));
                }
            }
            V::LargeCommunities(c) => {
                d.large_communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(
                        u64::from(c.global_admin())
                            ^ u64::from(c.local_data1())
                            ^ u64::from(c.local_data2()),
                    );
                }
            }
            V::ExtendedCommunities(c) => {
                d.ext_communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(std::mem::discriminant(c).hash_u64());
                }
            }
            V::Originator(o) => d.touch(u64::from(u32::from(o.id()))),
            V::ClusterList(c) => {
                for id in c.cluster_list() {
                    d.touch(u64::from(u32::from(id.id())));
                }
            }
            V::MpReach(MpReach::Ipv4Unicast { next_hop, nlri, .. }) => {
                d.touch(ipbits(*next_hop));
                d.announced += v4(nlri, d);
            }
            V::MpReach(MpReach::Ipv6Unicast {
                next_hop_global,
                nlri,
                ..
            }) => {
                d.touch(v6bits(*next_hop_global));
                d.announced += v6(nlri, d);
            }
            V::MpUnreach(MpUnreach::Ipv4Unicast { nlri }) => d.withdrawn += v4(nlri, d),
            V::MpUnreach(MpUnreach::Ipv6Unicast { nlri }) => d.withdrawn += v6(nlri, d),
            V::MpReach(_) | V::MpUnreach(_) => return Err("unexpected family".into()),
            V::OnlyToCustomer(o) => d.touch(u64::from(o.asn())),
            _ => d.touch(1),
        }
    }
    Ok(())
}

/// Touches a value without knowing its fields (used where a crate keeps fields private).
fn format_len<T: std::hash::Hash>(v: &T) -> u64 {
    use std::hash::Hasher;
    let mut h = FoldHasher(0);
    v.hash(&mut h);
    h.finish()
}

trait HashU64 {
    fn hash_u64(&self) -> u64;
}
impl<T: std::hash::Hash> HashU64 for T {
    fn hash_u64(&self) -> u64 {
        format_len(self)
    }
}

/// A trivial hasher (fold of written words), so touching a value costs little.
struct FoldHasher(u64);
impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = self.0.rotate_left(7) ^ u64::from(i);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = self.0.rotate_left(7) ^ i;
    }
}

// ---------------------------------------------------------------------------------------
// routecore
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn routecore_one(m: &[u8], _b: &Bytes, cx: &mut Cx, d: &mut Digest) -> Res {
    use routecore::bgp::aspath::Hop;
    use routecore::bgp::message::UpdateMessage;
    use routecore::bgp::nlri::afisafi::{IsPrefix, Nlri};
    use routecore::bgp::path_attributes::{PathAttribute as P, WireformatPathAttribute as W};

    fn nlri<O>(n: &Nlri<O>, d: &mut Digest) -> Res {
        let p = match n {
            Nlri::Ipv4Unicast(p) => p.prefix(),
            Nlri::Ipv6Unicast(p) => p.prefix(),
            _ => return Err("unexpected family".into()),
        };
        d.prefix_len_sum += u64::from(p.len());
        d.touch(ipbits(p.addr()));
        Ok(())
    }

    let u = UpdateMessage::from_octets(m, &cx.routecore).map_err(|e| format!("{e}"))?;
    d.messages += 1;
    for w in u.withdrawals().map_err(|e| format!("{e}"))? {
        nlri(&w.map_err(|e| format!("{e}"))?, d)?;
        d.withdrawn += 1;
    }
    for a in u.announcements().map_err(|e| format!("{e}"))? {
        nlri(&a.map_err(|e| format!("{e}"))?, d)?;
        d.announced += 1;
    }
    for pa in u.path_attributes().map_err(|e| format!("{e}"))? {
        let pa = pa.map_err(|e| format!("{e}"))?;
        // MP_UNREACH_NLRI is not an owned type in routecore (its NLRI were read above).
        if let W::Unimplemented(u) = &pa {
            d.touch(u.value().len() as u64);
            continue;
        }
        match pa.to_owned().map_err(|e| format!("{e}"))? {
            P::Origin(o) => d.touch(u64::from(u8::from(o.0))),
            P::AsPath(hp) => {
                for h in hp.iter() {
                    match h {
                        Hop::Asn(a) => {
                            d.as_path_asns += 1;
                            d.touch(u64::from(a.into_u32()));
                        }
                        Hop::Segment(s) => {
                            d.as_path_asns += u64::from(s.asn_count());
                            for a in s.asns() {
                                d.touch(u64::from(a.into_u32()));
                            }
                        }
                    }
                }
            }
            P::ConventionalNextHop(n) => d.touch(u64::from(u32::from(n.0))),
            P::MultiExitDisc(v) => d.touch(u64::from(v.0)),
            P::LocalPref(v) => d.touch(u64::from(v.0)),
            P::AtomicAggregate(_) => d.touch(6),
            P::Aggregator(a) => {
                d.touch(u64::from(a.asn().into_u32()) ^ u64::from(u32::from(a.address())))
            }
            P::StandardCommunities(c) => {
                d.communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(c.hash_u64());
                }
            }
            P::LargeCommunities(c) => {
                d.large_communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(c.hash_u64());
                }
            }
            P::ExtendedCommunities(c) => {
                d.ext_communities += c.communities().len() as u64;
                for c in c.communities() {
                    d.touch(c.hash_u64());
                }
            }
            P::OriginatorId(o) => d.touch(u64::from(u32::from(o.0))),
            P::ClusterList(c) => {
                for id in c.cluster_ids() {
                    d.touch(id.hash_u64());
                }
            }
            P::MpReachNlri(nh) => d.touch(nh.hash_u64()),
            P::Otc(o) => d.touch(u64::from(o.0.into_u32())),
            other => d.touch(u64::from(other.type_code())),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// bgpkit-parser
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn bgpkit_one(_m: &[u8], b: &Bytes, _cx: &mut Cx, d: &mut Digest) -> Res {
    use bgpkit_parser::models::{AsPathSegment, AsnLength, AttributeValue as V, BgpMessage};
    use bgpkit_parser::parser::bgp::messages::parse_bgp_message;

    fn prefixes(ps: &[bgpkit_parser::models::NetworkPrefix], d: &mut Digest) -> u64 {
        for p in ps {
            d.prefix_len_sum += u64::from(p.prefix.prefix_len());
            d.touch(ipbits(p.prefix.addr()));
        }
        ps.len() as u64
    }

    let mut data = b.clone();
    let msg =
        parse_bgp_message(&mut data, false, &AsnLength::Bits32).map_err(|e| format!("{e}"))?;
    let BgpMessage::Update(u) = msg else {
        return Err("not an UPDATE".into());
    };
    d.messages += 1;
    d.withdrawn += prefixes(&u.withdrawn_prefixes, d);
    d.announced += prefixes(&u.announced_prefixes, d);
    for a in &u.attributes {
        match a {
            V::Origin(o) => d.touch(*o as u64),
            V::AsPath(p) => {
                for s in p.iter_segments() {
                    let asns = match s {
                        AsPathSegment::AsSequence(v)
                        | AsPathSegment::AsSet(v)
                        | AsPathSegment::ConfedSequence(v)
                        | AsPathSegment::ConfedSet(v) => v,
                    };
                    d.as_path_asns += asns.len() as u64;
                    for a in asns.iter() {
                        d.touch(u64::from(a.to_u32()));
                    }
                }
            }
            V::NextHop(n) => d.touch(ipbits(*n)),
            V::MultiExitDiscriminator(v) | V::LocalPreference(v) => d.touch(u64::from(*v)),
            V::AtomicAggregate => d.touch(6),
            V::Aggregator { asn, id } => {
                d.touch(u64::from(asn.to_u32()) ^ u64::from(u32::from(*id)))
            }
            V::Communities(c) => {
                use bgpkit_parser::models::Community as C;
                d.communities += c.len() as u64;
                for c in c {
                    d.touch(match c {
                        C::NoExport => 1,
                        C::NoAdvertise => 2,
                        C::NoExportSubConfed => 3,
                        C::Custom(asn, v) => u64::from(asn.to_u32()) << 16 | u64::from(*v),
                    });
                }
            }
            V::LargeCommunities(c) => {
                d.large_communities += c.len() as u64;
                for c in c {
                    d.touch(
                        u64::from(c.global_admin)
                            ^ u64::from(c.local_data[0])
                            ^ u64::from(c.local_data[1]),
                    );
                }
            }
            V::ExtendedCommunities(c) => {
                d.ext_communities += c.len() as u64;
                for c in c {
                    // ExtendedCommunity has no Hash; its variant is enough to keep it live.
                    d.touch(std::mem::discriminant(c).hash_u64());
                }
            }
            V::OriginatorId(o) => d.touch(u64::from(u32::from(*o))),
            V::Clusters(c) => {
                for id in c {
                    d.touch(u64::from(*id));
                }
            }
            V::MpReachNlri(n) => {
                if let Some(nh) = &n.next_hop {
                    d.touch(nh.hash_u64());
                }
                d.announced += prefixes(&n.prefixes, d);
            }
            V::MpUnreachNlri(n) => d.withdrawn += prefixes(&n.prefixes, d),
            V::OnlyToCustomer(o) => d.touch(u64::from(o.to_u32())),
            _ => d.touch(1),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// rustbgpd-wire
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn rustbgpd_one(_m: &[u8], b: &Bytes, _cx: &mut Cx, d: &mut Digest) -> Res {
    use rustbgpd_wire::{AsPathSegment, Message, PathAttribute as P, Prefix};

    fn prefix(p: &Prefix, d: &mut Digest) {
        match p {
            Prefix::V4(p) => {
                d.prefix_len_sum += u64::from(p.len);
                d.touch(u64::from(u32::from(p.addr)));
            }
            Prefix::V6(p) => {
                d.prefix_len_sum += u64::from(p.len);
                d.touch(v6bits(p.addr));
            }
        }
    }

    let mut data = b.clone();
    let msg = rustbgpd_wire::decode_message(&mut data, 4096).map_err(|e| format!("{e}"))?;
    let Message::Update(u) = msg else {
        return Err("not an UPDATE".into());
    };
    let u = u.parse(true, false, &[]).map_err(|e| format!("{e}"))?;
    d.messages += 1;
    for w in &u.withdrawn {
        d.withdrawn += 1;
        d.prefix_len_sum += u64::from(w.prefix.len);
        d.touch(u64::from(u32::from(w.prefix.addr)));
    }
    for a in &u.announced {
        d.announced += 1;
        d.prefix_len_sum += u64::from(a.prefix.len);
        d.touch(u64::from(u32::from(a.prefix.addr)));
    }
    for a in &u.attributes {
        match a {
            P::Origin(o) => d.touch(*o as u64),
            P::AsPath(p) => {
                for s in &p.segments {
                    let (AsPathSegment::AsSet(v) | AsPathSegment::AsSequence(v)) = s;
                    d.as_path_asns += v.len() as u64;
                    for &a in v {
                        d.touch(u64::from(a));
                    }
                }
            }
            P::NextHop(n) => d.touch(u64::from(u32::from(*n))),
            P::Med(v) | P::LocalPref(v) => d.touch(u64::from(*v)),
            P::AtomicAggregate => d.touch(6),
            P::Aggregator(a) => d.touch(a.hash_u64()),
            P::Communities(c) | P::CommunitiesPartial(c) => {
                d.communities += c.len() as u64;
                for &c in c {
                    d.touch(u64::from(c));
                }
            }
            P::LargeCommunities(c) | P::LargeCommunitiesPartial(c) => {
                d.large_communities += c.len() as u64;
                for c in c {
                    d.touch(c.hash_u64());
                }
            }
            P::ExtendedCommunities(c) | P::ExtendedCommunitiesPartial(c) => {
                d.ext_communities += c.len() as u64;
                for c in c {
                    d.touch(c.hash_u64());
                }
            }
            P::OriginatorId(o) => d.touch(u64::from(u32::from(*o))),
            P::ClusterList(c) => {
                for id in c {
                    d.touch(u64::from(u32::from(*id)));
                }
            }
            P::MpReachNlri(mp) => {
                d.touch(ipbits(mp.next_hop));
                for n in &mp.announced {
                    d.announced += 1;
                    prefix(&n.prefix, d);
                }
            }
            P::MpUnreachNlri(mp) => {
                for n in &mp.withdrawn {
                    d.withdrawn += 1;
                    prefix(&n.prefix, d);
                }
            }
            P::OnlyToCustomer(o) | P::OnlyToCustomerPartial(o) => d.touch(u64::from(*o)),
            _ => d.touch(1),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------

type OneFn = fn(&[u8], &Bytes, &mut Cx, &mut Digest) -> Res;

struct Impl {
    name: &'static str,
    one: OneFn,
}

const IMPLS: &[Impl] = &[
    Impl {
        name: "bgp-proto (ours)",
        one: ours_view_one,
    },
    Impl {
        name: "bgp-proto fused visit",
        one: ours_fused_one,
    },
    Impl {
        name: "bgp-proto, owned attributes()",
        one: ours_one,
    },
    Impl {
        name: "floor: raw walk†",
        one: floor_one,
    },
    Impl {
        name: "bgp-proto, documented API (decode_with)",
        one: ours_documented_one,
    },
    Impl {
        name: "bgp-proto, decode + routes()",
        one: ours_routes_one,
    },
    Impl {
        name: "zettabgp 0.6",
        one: zetta_one,
    },
    Impl {
        name: "netgauze-bgp-pkt 0.13",
        one: netgauze_one,
    },
    Impl {
        name: "routecore 0.7",
        one: routecore_one,
    },
    Impl {
        name: "bgpkit-parser 0.23",
        one: bgpkit_one,
    },
    Impl {
        name: "rustbgpd-wire 0.27",
        one: rustbgpd_one,
    },
];

/// Rows that are not other crates (the first is our full decode, which the targets apply to).
const N_OURS: usize = 6;

/// One pass over the corpus, monomorphised per implementation so the per-message call is
/// direct. Counts messages that failed.
#[inline(never)]
fn pass<F: FnMut(&[u8], &Bytes, &mut Cx, &mut Digest) -> Res>(
    msgs: &[Bytes],
    cx: &mut Cx,
    mut f: F,
) -> (Digest, u64) {
    let mut d = Digest::default();
    let mut errs = 0;
    for b in msgs {
        if f(b, b, cx, &mut d).is_err() {
            errs += 1;
        }
    }
    (d, errs)
}

fn run_pass(i: usize, msgs: &[Bytes], cx: &mut Cx) -> (Digest, u64) {
    match i {
        0 => pass(msgs, cx, ours_view_one),
        1 => pass(msgs, cx, ours_fused_one),
        2 => pass(msgs, cx, ours_one),
        3 => pass(msgs, cx, floor_one),
        4 => pass(msgs, cx, ours_documented_one),
        5 => pass(msgs, cx, ours_routes_one),
        6 => pass(msgs, cx, zetta_one),
        7 => pass(msgs, cx, netgauze_one),
        8 => pass(msgs, cx, routecore_one),
        9 => pass(msgs, cx, bgpkit_one),
        _ => pass(msgs, cx, rustbgpd_one),
    }
}

struct Row {
    name: &'static str,
    usable: Result<(), String>,
    secs: f64,
    /// Median on-CPU time of a pass (NaN when not measurable).
    cpu_secs: f64,
    min_secs: f64,
    digest: Digest,
    errors: u64,
}

/// Decodes every message once per implementation (untimed), reports failures and
/// per-message disagreements on prefix counts against bgp-proto (or, if ours is not usable,
/// against the first usable implementation).
fn cross_check(corpus: &Corpus, msgs: &[Bytes], cx: &mut Cx) -> Vec<Result<(), String>> {
    let mut per_impl: Vec<Vec<Result<(u64, u64), String>>> = Vec::new();
    let mut usable = Vec::new();
    let only = std::env::var("BENCH_ONLY").ok();
    for imp in IMPLS {
        if only.as_deref().is_some_and(|o| !imp.name.contains(o)) {
            usable.push(Err("skipped (BENCH_ONLY)".to_string()));
            per_impl.push(Vec::new());
            continue;
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            msgs.iter()
                .map(|b| {
                    let mut d = Digest::default();
                    (imp.one)(b, b, cx, &mut d).map(|()| (d.announced, d.withdrawn))
                })
                .collect::<Vec<_>>()
        }));
        match r {
            Ok(v) => {
                usable.push(Ok(()));
                per_impl.push(v);
            }
            Err(p) => {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                usable.push(Err(format!("panicked: {why}")));
                per_impl.push(Vec::new());
            }
        }
    }
    let Some(reference) = usable.iter().position(|u| u.is_ok()) else {
        return usable;
    };
    println!(
        "  cross-check on {} ({} messages), reference = {}:",
        corpus.name,
        msgs.len(),
        IMPLS[reference].name
    );
    for (i, imp) in IMPLS.iter().enumerate() {
        if usable[i].is_err() {
            println!(
                "    {:<24} not usable: {}",
                imp.name,
                usable[i].as_ref().unwrap_err()
            );
            continue;
        }
        let mut errs = Vec::new();
        let mut diffs = Vec::new();
        for (k, (a, r)) in per_impl[i].iter().zip(&per_impl[reference]).enumerate() {
            match (a, r) {
                (Err(e), _) => errs.push((k, e.clone())),
                (Ok(a), Ok(r)) if a != r => diffs.push((k, *a, *r)),
                _ => {}
            }
        }
        println!(
            "    {:<24} decode errors: {:>6}   prefix-count disagreements with reference: {:>6}",
            imp.name,
            errs.len(),
            diffs.len()
        );
        for (k, e) in errs.iter().take(3) {
            println!("      msg #{k}: error: {e}");
            println!("        {}", hex_head(&msgs[*k], 64));
        }
        for (k, a, r) in diffs.iter().take(3) {
            println!("      msg #{k}: (announced, withdrawn) = {a:?}, reference says {r:?}");
            println!("        {}", hex_head(&msgs[*k], 64));
        }
    }
    usable
}

fn hex_head(b: &[u8], n: usize) -> String {
    let mut s: String = b.iter().take(n).map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push_str(&format!("... ({} octets)", b.len()));
    }
    s
}

fn bench_corpus(corpus: &Corpus, cx: &mut Cx, iters: usize) -> Vec<Row> {
    let msgs: Vec<Bytes> = corpus.bytes().collect();
    let usable = cross_check(corpus, &msgs, cx);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); IMPLS.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); IMPLS.len()];
    let mut digests = vec![(Digest::default(), 0u64); IMPLS.len()];
    // Warm-up, then interleave implementations in each round so that load from other
    // processes on the machine spreads over all of them rather than hitting one.
    for round in 0..=iters {
        for (i, t) in times.iter_mut().enumerate() {
            if usable[i].is_err() {
                continue;
            }
            let c0 = thread_cpu_ns();
            let t0 = Instant::now();
            let (d, e) = black_box(run_pass(i, black_box(&msgs), cx));
            let dt = t0.elapsed().as_secs_f64();
            let c1 = thread_cpu_ns();
            if round > 0 {
                t.push(dt);
                if let (Some(c0), Some(c1)) = (c0, c1) {
                    cpu[i].push((c1 - c0) as f64 / 1e9);
                }
            }
            digests[i] = (d, e);
        }
    }
    IMPLS
        .iter()
        .enumerate()
        .map(|(i, imp)| Row {
            name: imp.name,
            usable: usable[i].clone(),
            secs: median(times[i].clone()),
            cpu_secs: median(cpu[i].clone()),
            min_secs: times[i].iter().copied().fold(f64::INFINITY, f64::min),
            digest: digests[i].0,
            errors: digests[i].1,
        })
        .collect()
}

/// Where our decode time goes: the same corpus decoded up to each stage (on-CPU medians).
fn breakdown(corpus: &Corpus, cx: &Cx, iters: usize) {
    let msgs: Vec<&[u8]> = corpus.slices().collect();
    let bytes = corpus.total_bytes() as f64;
    println!();
    println!(
        "bgp-proto cost by stage on {} (each stage includes the previous; median on-CPU):",
        corpus.name
    );
    println!();
    println!(
        "(size_of UpdateView<&[u8]> = {} octets, Result<UpdateView<&[u8]>, DecodeError> = {} octets, PathAttributes = {} octets)",
        std::mem::size_of::<bgp_proto::UpdateView<&[u8]>>(),
        std::mem::size_of::<Result<bgp_proto::UpdateView<&[u8]>, bgp_proto::DecodeError>>(),
        std::mem::size_of::<bgp_proto::PathAttributes>()
    );
    println!();
    println!("| stage | ns/msg | MB/s on-CPU | ns/msg added |");
    println!("|---|---:|---:|---:|");
    let mut prev = 0.0;
    for stage in ours::Stage::ALL {
        let mut cpu = Vec::new();
        for round in 0..=iters {
            let c0 = thread_cpu_ns();
            let mut d = Digest::default();
            for m in &msgs {
                let _ = ours::decode_stage(black_box(m), &cx.ours, stage, &mut d);
            }
            black_box(d);
            let c1 = thread_cpu_ns();
            if let (Some(c0), Some(c1), true) = (c0, c1, round > 0) {
                cpu.push((c1 - c0) as f64 / 1e9);
            }
        }
        let secs = median(cpu);
        let ns = secs * 1e9 / msgs.len() as f64;
        println!(
            "| {} | {:.0} | {:.0} | {:.0} |",
            stage.label(),
            ns,
            bytes / secs / 1e6,
            ns - prev
        );
        prev = ns;
    }
}

fn print_table(corpus: &Corpus, rows: &[Row]) {
    let bytes = corpus.total_bytes() as f64;
    let n = corpus.len() as f64;
    println!();
    println!(
        "### {}: {} UPDATEs, {:.2} MB (MB = 10^6 octets of whole messages, headers included)",
        corpus.name,
        corpus.len(),
        bytes / 1e6
    );
    println!();
    println!(
        "| implementation | median ms | msgs/s | MB/s | MB/s on-CPU | ours speed-up | errors | announced | withdrawn | AS_PATH ASNs | communities | large | ext |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ours = rows.first().filter(|r| r.usable.is_ok()).map(|r| r.secs);
    for r in rows {
        if let Err(e) = &r.usable {
            println!(
                "| {} | not usable: {} | | | | | | | | | | | |",
                r.name,
                e.replace('|', "/")
            );
            continue;
        }
        let ratio = ours
            .map(|o| format!("{:.2}x", r.secs / o))
            .unwrap_or("-".into());
        let d = &r.digest;
        println!(
            "| {} | {:.2} | {:.2} M | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.secs * 1e3,
            n / r.secs / 1e6,
            bytes / r.secs / 1e6,
            bytes / r.cpu_secs / 1e6,
            ratio,
            r.errors,
            d.announced,
            d.withdrawn,
            d.as_path_asns,
            d.communities,
            d.large_communities,
            d.ext_communities
        );
    }
    // Spread: min vs median, to show how noisy the machine was.
    let spread: Vec<String> = rows
        .iter()
        .filter(|r| r.usable.is_ok())
        .map(|r| format!("{} {:.0}%", r.name, (r.secs / r.min_secs - 1.0) * 100.0))
        .collect();
    println!();
    println!(
        "bgp-proto (ours): every field through the view's zero-copy accessors; the owned row reads the same fields through attributes(), which allocates.");
    println!(
        "† calibration, not a codec: one bounds-checked walk folding the same fields, with no RFC 7606 checks and no owned values (benches/src/floor.rs)."
    );
    println!("median above best run: {}", spread.join(", "));
    // Agreement on prefix counts.
    let ok: Vec<&Row> = rows.iter().filter(|r| r.usable.is_ok()).collect();
    if let Some(first) = ok.first() {
        let agree = ok.iter().all(|r| {
            (r.digest.announced, r.digest.withdrawn, r.errors)
                == (first.digest.announced, first.digest.withdrawn, first.errors)
        });
        println!(
            "prefix counts (announced, withdrawn): {}",
            if agree {
                "all implementations agree"
            } else {
                "DISAGREE (see cross-check above)"
            }
        );
    }
    let fastest_other = rows
        .iter()
        .skip(N_OURS)
        .filter(|r| r.usable.is_ok())
        .min_by(|a, b| a.secs.total_cmp(&b.secs));
    let ours_cpu = rows
        .first()
        .filter(|r| r.usable.is_ok())
        .map(|r| r.cpu_secs);
    if let (Some(o), Some(oc), Some(f)) = (ours, ours_cpu, fastest_other) {
        println!(
            "two-pass (checked view, then accessors): {:.0} MB/s wall, {:.0} MB/s on-CPU; {:.2}x the fastest other crate ({}), {:.2}x on-CPU (the targets apply to the full decode, the fused row below)",
            bytes / o / 1e6,
            bytes / oc / 1e6,
            f.secs / o,
            f.name,
            f.cpu_secs / oc
        );
    }
    // The fused decode (row 1): the same figures, its ratio to the floor walk (row 3), and
    // whether it counted exactly what the two-pass row counted.
    let row = |i: usize| rows.get(i).filter(|r| r.usable.is_ok());
    if let (Some(fu), Some(f)) = (row(1), fastest_other) {
        let floor = row(3).map_or(String::new(), |fl| {
            format!(", {:.2}x the floor walk on-CPU", fl.cpu_secs / fu.cpu_secs)
        });
        println!(
            "full decode, fused (decode_with): {:.0} MB/s wall, {:.0} MB/s on-CPU (target >= 1500); {:.2}x the fastest other crate ({}), {:.2}x on-CPU (target >= 4x){floor}",
            bytes / fu.secs / 1e6,
            bytes / fu.cpu_secs / 1e6,
            f.secs / fu.secs,
            f.name,
            f.cpu_secs / fu.cpu_secs
        );
        if let Some(doc) = row(4) {
            let ratio = doc.cpu_secs / fu.cpu_secs;
            println!(
                "documented API (the crate docs' first example: decode_with on Bytes, a by-value visitor, the verdict matched): {:.0} MB/s on-CPU, {:.2}x the fused decode's on-CPU time (target <= 1.5x: {})",
                bytes / doc.cpu_secs / 1e6,
                ratio,
                if ratio <= 1.5 { "met" } else { "NOT MET" }
            );
        }
        if let Some(two) = row(5) {
            println!(
                "decode on Bytes, routes(), accessors (two walks): {:.0} MB/s on-CPU, {:.2}x the fused decode's on-CPU time",
                bytes / two.cpu_secs / 1e6,
                two.cpu_secs / fu.cpu_secs
            );
        }
        if let Some(view) = row(0) {
            let same = view.digest.fields() == fu.digest.fields();
            println!(
                "fused digest counts (messages, prefixes, prefix lengths, ASNs, communities) identical to the two-pass row: {}",
                if same { "yes" } else { "NO" }
            );
        }
    }
}

fn bench_encode(iters: usize) {
    use bgp_proto::{AsPath, AsSegment, AsSegmentType, Community, NextHop, Nlri, PathAttributes};
    println!();
    println!(
        "### encode: bgp_proto::UpdateBuilder::announce (100k IPv4 /32s sharing one attribute set) and ::withdraw (the same 100k)"
    );
    println!();
    let nlri: Vec<Nlri> = (0..100_000u32)
        .map(|i| Nlri {
            prefix: ipnet::IpNet::V4(
                ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).expect("valid /32"),
            ),
            path_id: None,
        })
        .collect();
    let attrs = PathAttributes {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: AsSegmentType::Sequence,
                asns: vec![65001, 65002, 4_200_000_000],
            }],
        },
        med: Some(100),
        local_pref: Some(200),
        communities: vec![Community(0xfde8_0001), Community(0xfde8_0002)],
        ..PathAttributes::default()
    };
    let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    for (label, extended, withdraw) in [
        ("announce, 4096-octet messages", false, false),
        ("announce, 65535-octet messages (RFC 8654)", true, false),
        ("withdraw, 4096-octet messages", false, true),
    ] {
        let cx = bgp_proto::SessionContext {
            four_octet_as: true,
            extended_message: extended,
            ibgp: true,
            ..bgp_proto::SessionContext::default()
        };
        let r = catch_unwind(AssertUnwindSafe(|| {
            let b = bgp_proto::UpdateBuilder::new(&cx);
            let mut dst = BytesMut::with_capacity(1 << 20);
            let mut times = Vec::new();
            let mut out = (0, 0);
            for round in 0..=iters.max(5) * 4 {
                dst.clear();
                let t0 = Instant::now();
                let n = if withdraw {
                    b.withdraw(black_box(&nlri), &mut dst)
                } else {
                    b.announce(&attrs, &nh, black_box(&nlri), &mut dst)
                };
                let dt = t0.elapsed().as_secs_f64();
                if round > 0 {
                    times.push(dt);
                }
                out = (n, dst.len());
                black_box(&dst);
            }
            // Check the output decodes back to the same prefixes.
            let mut count = 0usize;
            let mut at = 0usize;
            let frozen = dst.clone().freeze();
            while at + 19 <= frozen.len() {
                let len = usize::from(u16::from_be_bytes([frozen[at + 16], frozen[at + 17]]));
                match bgp_proto::UpdateView::new_checked(&frozen[at..at + len], &cx) {
                    Ok(v) if withdraw => count += v.withdrawn().count(),
                    Ok(v) => count += v.announced().count(),
                    Err(e) => {
                        println!("  encoded message at offset {at} does not decode: {e:?}");
                        break;
                    }
                }
                at += len;
            }
            (median(times), out, count)
        }));
        match r {
            Ok((secs, (msgs, bytes), count)) => println!(
                "{label}: {msgs} messages, {bytes} octets, median {:.3} ms, {:.0} MB/s of output{}, {:.1} M prefixes/s; re-decoded {count} prefixes{}",
                secs * 1e3,
                bytes as f64 / secs / 1e6,
                if withdraw { "" } else { " (target >= 1000)" },
                nlri.len() as f64 / secs / 1e6,
                if count == nlri.len() { "" } else { " (MISMATCH)" }
            ),
            Err(p) => println!(
                "{label}: not usable: panicked: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        }
    }
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let n_synth: usize = std::env::var("BENCH_SYNTH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mrt = std::env::var_os("BENCH_MRT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/bgp/mrt/updates.20190101.0000.gz")
        });
    // Quiet the default panic message for implementations still being written; the panic is
    // reported in the table instead.
    std::panic::set_hook(Box::new(|_| {}));

    println!("## Codec speed (cargo bench -p benches --bench codec), {iters} timed runs each");
    println!(
        "build profile of every crate in this binary, bgp-proto and competitors alike: {}",
        env!("CODEC_BENCH_PROFILE")
    );
    let mut corpora = Vec::new();
    match benches::load_mrt_updates(&mrt) {
        Ok((msgs, st)) => {
            println!(
                "RIS dump {}: {} MRT records, {} BGP4MP_MESSAGE_AS4, {} UPDATEs kept, {} other messages and {} other records skipped",
                mrt.display(),
                st.records,
                st.bgp4mp_message_as4,
                st.updates,
                st.other_messages,
                st.other_records
            );
            corpora.push((
                Corpus::from_messages("RIPE RIS updates.20190101.0000", msgs),
                ours::ris_context(),
            ));
        }
        Err(e) => println!("RIS dump {} not readable: {e}", mrt.display()),
    }
    corpora.push((
        Corpus::from_messages(
            &format!("synthetic mix ({n_synth} UPDATEs, seed 2019)"),
            benches::synthetic_updates(n_synth, 2019),
        ),
        ours::synthetic_context(),
    ));
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "ris,synth,encode".into());
    corpora.retain(|(c, _)| {
        (c.name.starts_with("RIPE") && parts.contains("ris"))
            || (c.name.starts_with("synthetic") && parts.contains("synth"))
    });
    for (corpus, ctx) in &corpora {
        let mut cx = Cx::new(ctx.clone());
        let summary = catch_unwind(AssertUnwindSafe(|| ours::verdict_summary(corpus, ctx)));
        if let Ok(summary) = summary {
            println!("  bgp-proto RFC 7606 outcomes on {}:", corpus.name);
            if summary.is_empty() {
                println!("    every message accepted, nothing discarded");
            }
            for (what, n) in summary {
                println!("    {n:>6} x {what}");
            }
        }
        let rows = bench_corpus(corpus, &mut cx, iters);
        print_table(corpus, &rows);
        if rows.first().is_some_and(|r| r.usable.is_ok()) {
            breakdown(corpus, &cx, iters);
        }
    }
    if parts.contains("encode") {
        bench_encode(iters);
    }
}
