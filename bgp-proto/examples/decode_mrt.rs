//! Decodes an MRT dump (RFC 6396; plain or gzip, e.g. a RIPE RIS `updates.*.gz`) and prints
//! what its UPDATEs say: routes announced and withdrawn per address family, treat-as-withdraw
//! verdicts, LOCAL_PREF seen, distinct ASNs in AS_PATHs.
//!
//! ```text
//! cargo run -p bgp-proto --example decode_mrt -- updates.20190101.0000.gz
//! ```
//!
//! Each record gets [`SessionContext::for_mrt`]: the record subtype says 2- or 4-octet AS
//! and ADD-PATH, and every family and attribute is kept. `--context default` and
//! `--context as4` decode with `SessionContext::default()` and
//! `SessionContext { four_octet_as: true, ..default() }` instead, to show what those lose.

use std::collections::HashSet;
use std::io::Read;

use bgp_proto::capture::{MrtReader, MrtRecord};
use bgp_proto::ipnet::IpNet;
use bgp_proto::{decode, AttrType, Message, Routes, SessionContext};
use bytes::Bytes;

/// What the UPDATEs of a dump said.
#[derive(Debug, Default)]
pub struct Tally {
    /// UPDATE messages.
    pub updates: usize,
    /// Messages that did not decode (the session would have been reset).
    pub errors: usize,
    /// UPDATEs judged treat-as-withdraw (RFC 7606).
    pub treat_as_withdraw: usize,
    /// Announced prefixes, IPv4 and IPv6.
    pub announced_v4: usize,
    /// Announced IPv6 prefixes.
    pub announced_v6: usize,
    /// Withdrawn prefixes (treat-as-withdraw included).
    pub withdrawn: usize,
    /// Accepted UPDATEs that carry LOCAL_PREF.
    pub local_pref: usize,
    /// UPDATEs whose bytes have a LOCAL_PREF attribute, whatever the decode made of it.
    pub local_pref_in_bytes: usize,
    /// Accepted UPDATEs with a next hop for their announced routes.
    pub with_next_hop: usize,
    /// Distinct ASNs in accepted AS_PATHs.
    pub asns: HashSet<u32>,
}

impl Tally {
    /// Counts one BGP message decoded with `cx`.
    pub fn add(&mut self, msg: Bytes, cx: &SessionContext) {
        let view = match decode(msg, cx) {
            Ok(Message::Update(view)) => view,
            Ok(_) => return,
            Err(_) => {
                self.errors += 1;
                return;
            }
        };
        self.updates += 1;
        if view
            .raw_attributes()
            .any(|a| a.type_code == AttrType::LOCAL_PREF)
        {
            self.local_pref_in_bytes += 1;
        }
        match view.routes() {
            Routes::Update {
                withdrawn,
                announced,
            } => {
                self.withdrawn += withdrawn.count();
                let mut any = false;
                for n in announced {
                    any = true;
                    match n.prefix {
                        IpNet::V4(_) => self.announced_v4 += 1,
                        IpNet::V6(_) => self.announced_v6 += 1,
                    }
                }
                if any && (view.next_hop_attr().is_some() || view.mp_next_hop().is_some()) {
                    self.with_next_hop += 1;
                }
                if view.local_pref().is_some() {
                    self.local_pref += 1;
                }
                for (_, asns) in view.as_path() {
                    self.asns.extend(asns);
                }
            }
            Routes::WithdrawAll { prefixes, .. } => {
                self.treat_as_withdraw += 1;
                self.withdrawn += prefixes.count();
            }
        }
    }
}

/// Decodes every BGP4MP message of `dump` with the context `context` gives for its record.
pub fn tally(dump: &[u8], context: impl Fn(&MrtRecord<'_>) -> SessionContext) -> Tally {
    let mut t = Tally::default();
    for rec in MrtReader::new(dump) {
        let Ok(rec) = rec else { break };
        t.add(Bytes::copy_from_slice(rec.message), &context(&rec));
    }
    t
}

/// The file's bytes, gunzipped when it starts with the gzip magic.
pub fn read_dump(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, path) = match args.as_slice() {
        [p] => ("mrt", p),
        [flag, m, p] if flag == "--context" => (m.as_str(), p),
        _ => return Err("usage: decode_mrt [--context mrt|default|as4] FILE".into()),
    };
    let dump = read_dump(path.as_ref())?;
    let t = match mode {
        "mrt" => tally(&dump, SessionContext::for_mrt),
        "default" => tally(&dump, |_| SessionContext::default()),
        "as4" => tally(&dump, |_| SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        }),
        other => return Err(format!("unknown context {other}").into()),
    };
    let pct = |n: usize| 100.0 * n as f64 / t.updates.max(1) as f64;
    println!("context: {mode}");
    println!("UPDATEs: {} ({} did not decode)", t.updates, t.errors);
    println!(
        "treat-as-withdraw: {} ({:.1} %)",
        t.treat_as_withdraw,
        pct(t.treat_as_withdraw)
    );
    println!(
        "announced: {} IPv4, {} IPv6; withdrawn: {}",
        t.announced_v4, t.announced_v6, t.withdrawn
    );
    println!(
        "with LOCAL_PREF: {} ({:.1} %, {} in the bytes); with a next hop: {}",
        t.local_pref,
        pct(t.local_pref),
        t.local_pref_in_bytes,
        t.with_next_hop
    );
    println!("distinct ASNs in AS_PATHs: {}", t.asns.len());
    Ok(())
}
