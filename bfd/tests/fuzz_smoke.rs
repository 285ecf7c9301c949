//! The `bfd_packet` and `bfd_events` fuzz target bodies (`fuzz/fuzz_targets/bfd_*.rs`) on
//! stable, without libFuzzer: scripted exchanges (so the sessions come Up), mutations of
//! them, and random programs. Deterministic (fixed seed); `FUZZ_SMOKE_ITERS` sets the number
//! of inputs and `FUZZ_SMOKE_SEED` explores others.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod fuzz_bodies;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: small and deterministic.
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

// Operation numbers of the events body (see its module docs).
const START: u8 = 0;
const STOP: u8 = 1;
const CLOCK: u8 = 3;
const TO_US: u8 = 4;
const TO_PEER: u8 = 5;
const MUTATE: u8 = 7;
const SET: u8 = 9;
const PEER: u8 = 10;

/// Both sides started, packets exchanged until Up, a parameter change, loss by silence, a
/// stop and a restart.
fn scripted(flags: u8) -> Vec<u8> {
    let mut v = vec![flags, START, PEER, 0];
    for _ in 0..6 {
        v.extend_from_slice(&[CLOCK, 0x01, TO_PEER, TO_US, TO_PEER, TO_US, CLOCK, 0x40 | 1]);
        v.extend_from_slice(&[TO_PEER, TO_US, TO_PEER, TO_US]);
    }
    v.extend_from_slice(&[SET, 0, 1, 1, 3, CLOCK, 0x05, TO_PEER, TO_US, TO_PEER, TO_US]);
    v.extend_from_slice(&[MUTATE, 1, 0x40, CLOCK, 0x42, STOP, TO_PEER, TO_PEER]);
    v.extend_from_slice(&[
        CLOCK, 0x45, START, CLOCK, 0x01, TO_PEER, TO_US, TO_PEER, TO_US,
    ]);
    v
}

fn seeds() -> Vec<Vec<u8>> {
    [0u8, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1c, 0x3a]
        .iter()
        .map(|&f| scripted(f))
        .collect()
}

fn input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(8) == 0 {
        let n = rng.below(200);
        return (0..n).map(|_| rng.next() as u8).collect();
    }
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len());
        match rng.below(3) {
            0 => v[at] = rng.next() as u8,
            1 => v.insert(at, rng.next() as u8 % fuzz_bodies::OPS),
            _ => {
                v.remove(at);
            }
        }
        if v.is_empty() {
            v.push(0);
        }
    }
    v
}

fn run(i: usize, data: &[u8], body: fn(&[u8])) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(|| body(data))) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("input {i} failed: {msg}\ninput: {data:02x?}");
    }
}

fn iters() -> usize {
    std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0bfd_5eed)
}

#[test]
fn scripted_exchanges_come_up() {
    for (i, s) in seeds().iter().enumerate() {
        let ups = fuzz_bodies::session_events(s);
        assert!(ups >= 1, "seed {i} never came Up");
    }
}

#[test]
fn bfd_events_smoke() {
    let seeds = seeds();
    let mut rng = Rng(seed() | 1);
    for i in 0..iters() {
        let data = input(&mut rng, &seeds);
        run(i, &data, |d| {
            fuzz_bodies::session_events(d);
        });
    }
}

#[test]
fn bfd_packet_smoke() {
    // Valid packets from the scripted exchanges are not at hand here, so start from a
    // valid Down packet and mutate it, plus random bytes.
    let base: Vec<u8> = vec![
        0x20, 0x40, 0x03, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0x04, 0x93, 0xe0,
        0, 0, 0, 0,
    ];
    let mut rng = Rng(seed() | 1);
    for i in 0..iters() * 4 {
        let mut v = base.clone();
        if rng.below(6) == 0 {
            v = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        } else {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(v.len() + 8);
                if at < v.len() {
                    v[at] = rng.next() as u8;
                } else {
                    v.push(rng.next() as u8);
                }
            }
        }
        run(i, &v, fuzz_bodies::packet);
    }
}

/// Inputs the fuzzer found, replayed on every run (`fuzz/artifacts-found/bfd_*`).
#[test]
fn bfd_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/artifacts-found");
    for entry in std::fs::read_dir(&dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("bfd_events-") {
            fuzz_bodies::session_events(&std::fs::read(&path).unwrap());
        } else if name.starts_with("bfd_packet-") {
            fuzz_bodies::packet(&std::fs::read(&path).unwrap());
        }
    }
}
