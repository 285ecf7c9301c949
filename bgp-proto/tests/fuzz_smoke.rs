//! The fuzz target bodies (`fuzz/fuzz_targets/*.rs`) run on stable, without libFuzzer: a
//! few hundred thousand inputs made by mutating every message of the test captures, plus
//! pure random inputs. Deterministic (fixed seed); set `FUZZ_SMOKE_ITERS` to change the
//! number of inputs per target and `FUZZ_SMOKE_SEED` to explore other inputs.
//! `FUZZ_SMOKE_WRITE_CORPUS=fuzz/corpus` also writes the seed messages as a cargo-fuzz
//! corpus.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod fuzz_bodies;

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bgp_proto::capture::{read_pcap, MrtReader};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bgp")
}

/// Every message of the pcaps and a sample of each MRT dump.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut dir: Vec<_> = std::fs::read_dir(testdata().join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    for path in dir {
        let data = std::fs::read(&path).unwrap();
        for flow in read_pcap(&data).unwrap() {
            seeds.extend(flow.messages.iter().map(|m| m.to_vec()));
        }
    }
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
        // Every 20th record: a spread over the whole file.
        for rec in MrtReader::new(&data).step_by(20) {
            seeds.push(rec.unwrap().message.to_vec());
        }
    }
    seeds
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING_U16: [u16; 10] = [0, 1, 2, 18, 19, 23, 29, 255, 4096, 65535];

/// One input: a context selector octet, then a (mostly) mutated seed message.
fn input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![rng.next() as u8];
    if rng.below(20) == 0 {
        // Pure random bytes, sometimes behind a valid marker.
        if rng.below(2) == 0 {
            v.extend_from_slice(&[0xff; 16]);
        }
        let n = rng.below(200);
        v.extend((0..n).map(|_| rng.next() as u8));
        return v;
    }
    let mut m = seeds[rng.below(seeds.len())].clone();
    let mutations = 1 + rng.below(4);
    for _ in 0..mutations {
        let len = m.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                m[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                m[i] = rng.next() as u8;
            }
            2 if len > 19 => {
                // Body octet set to an interesting value (lengths, flags, counts).
                let i = 19 + rng.below(len - 19);
                m[i] = [0, 1, 2, 0x7f, 0x80, 0xc0, 0xff, 32, 128, 4][rng.below(10)];
            }
            3 if len > 20 => {
                // A 2-octet field set to an interesting length.
                let i = 19 + rng.below(len - 20);
                let x = INTERESTING_U16[rng.below(INTERESTING_U16.len())].to_be_bytes();
                m[i] = x[0];
                m[i + 1] = x[1];
            }
            4 if len > 0 => m.truncate(rng.below(len)),
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(8);
                m.splice(i..i, (0..n).map(|_| rng.next() as u8));
            }
            6 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                m.drain(i..(i + n).min(len));
            }
            7 => {
                // Another message appended (framing of a stream).
                m.extend_from_slice(&seeds[rng.below(seeds.len())]);
            }
            _ => {}
        }
    }
    // Usually keep the length field consistent so the body parsers are reached.
    if rng.below(4) != 0 && m.len() >= 19 && m.len() <= 65535 {
        let l = (m.len() as u16).to_be_bytes();
        m[16] = l[0];
        m[17] = l[1];
    }
    v.extend_from_slice(&m);
    v
}

fn iterations() -> usize {
    std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150_000)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_b6b0)
}

fn run(name: &str, target: fn(&[u8])) {
    let seeds = seeds();
    assert!(seeds.len() > 3000, "only {} seeds", seeds.len());
    write_corpus(name, &seeds);
    let mut rng = Rng(seed());
    // Every seed once, unmutated, under every context bit on its own.
    for s in &seeds {
        for sel in [0u8, 1, 2, 4, 8, 16, 32, 64, 128, 0xff] {
            let mut v = vec![sel];
            v.extend_from_slice(s);
            check(name, target, &v);
        }
    }
    for _ in 0..iterations() {
        let v = input(&mut rng, &seeds);
        check(name, target, &v);
    }
}

/// With `FUZZ_SMOKE_WRITE_CORPUS=<dir>`, writes the seeds (context octet 0x11: 4-octet AS,
/// IPv6) to `<dir>/<target>/` as a starting corpus for `cargo fuzz run`.
fn write_corpus(name: &str, seeds: &[Vec<u8>]) {
    let Some(dir) = std::env::var_os("FUZZ_SMOKE_WRITE_CORPUS") else {
        return;
    };
    let dir = PathBuf::from(dir).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        let mut v = vec![0x11];
        v.extend_from_slice(s);
        std::fs::write(dir.join(format!("seed-{i:05}")), v).unwrap();
    }
}

fn check(name: &str, target: fn(&[u8]), v: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(v))).is_err() {
        panic!(
            "{name} failed on input (context {:#04x}):\n{}",
            v[0],
            hex::encode(&v[1..])
        );
    }
}

#[test]
fn smoke_decode_message() {
    run("decode_message", fuzz_bodies::decode_message);
}

#[test]
fn smoke_roundtrip() {
    run("roundtrip", fuzz_bodies::roundtrip);
}
