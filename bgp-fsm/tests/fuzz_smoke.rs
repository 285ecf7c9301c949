//! The `fsm_events` fuzz target body (`fuzz/fuzz_targets/fsm_events.rs`) on stable, without
//! libFuzzer: scripted handshakes (so every configuration reaches Established), mutations of
//! them, and random programs. Deterministic (fixed seed); `FUZZ_SMOKE_ITERS` sets the number
//! of inputs and `FUZZ_SMOKE_SEED` explores others. `FUZZ_SMOKE_WRITE_CORPUS=DIR` writes the
//! scripted seeds as a cargo-fuzz corpus (e.g. `fuzz/corpus/fsm_events`).
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

// Operation numbers of the fuzz body (see its module docs).
const START: u8 = 0;
const CONNECTED: u8 = 3;
const CLOSED: u8 = 5;
const CLOCK: u8 = 8;
const DEADLINE: u8 = 9;
const DELIVER: u8 = 10;
const MUTATE: u8 = 13;
const RAW: u8 = 15;
const ANNOUNCE: u8 = 17;
const WITHDRAW: u8 = 18;
const REFRESH: u8 = 19;
const TO_PEER: u8 = 22;
const PEER_ANNOUNCE: u8 = 23;

/// A handshake to Established under configuration octets `flags`, `flags2`, then traffic
/// both ways, a refresh, a hold-timer wait and a reconnect.
fn scripted(flags: u8, flags2: u8) -> Vec<u8> {
    let mut v = vec![flags, flags2, 7];
    v.extend_from_slice(&[ANNOUNCE, 0, 1, 24]);
    v.extend_from_slice(&[START, flags2 & 2, CONNECTED]);
    // DelayOpen: let the timer fire so our OPEN goes out.
    v.extend_from_slice(&[
        CLOCK, 0x43, TO_PEER, DELIVER, TO_PEER, DELIVER, TO_PEER, DELIVER,
    ]);
    v.extend_from_slice(&[PEER_ANNOUNCE, 2, 3, 16, 0x85, 48, 0, 7, 9]);
    v.extend_from_slice(&[DELIVER, DELIVER, TO_PEER, REFRESH, 0, TO_PEER, DELIVER]);
    v.extend_from_slice(&[ANNOUNCE, 0, 9, 0x41, TO_PEER, WITHDRAW, 1, 24, TO_PEER]);
    v.extend_from_slice(&[
        MUTATE, 0, 30, 0xff, DELIVER, CLOCK, 0x81, DEADLINE, DEADLINE,
    ]);
    v.extend_from_slice(&[
        CLOSED, CLOCK, 0x45, DEADLINE, CONNECTED, TO_PEER, DELIVER, DELIVER,
    ]);
    v.extend_from_slice(&[RAW, 2, 6, 0, 0, 0, 0, 0, 0]);
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for flags in [0u8, 0x01, 0x02, 0x06, 0x1f, 0x28, 0x80, 0x8b, 0xe7] {
        for flags2 in [0u8, 0x01, 0x04, 0x08, 0x10, 0x20, 0x48, 0x80, 0x2d] {
            seeds.push(scripted(flags, flags2));
        }
    }
    seeds
}

fn input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(8) == 0 {
        let n = rng.below(300);
        return (0..n).map(|_| rng.next() as u8).collect();
    }
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => v[at] = rng.next() as u8,
            1 => v.insert(at, rng.next() as u8 % 24),
            2 => {
                v.remove(at);
            }
            _ => {
                // Splice a chunk of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let len = rng.below(16).min(other.len() - from);
                v.splice(at..at, other[from..from + len].iter().copied());
            }
        }
        if v.is_empty() {
            v.push(0);
        }
    }
    v
}

#[test]
fn scripted_handshakes_reach_established_and_hold() {
    // Every scripted seed runs cleanly (no invariant fails); this also proves the seeds are
    // meaningful: the handshake script establishes with the default configuration.
    let mut established = 0;
    for s in seeds() {
        fuzz_bodies::session_events(&s);
        established += usize::from(fuzz_bodies::established_count(&s) > 0);
    }
    assert!(
        fuzz_bodies::established_count(&scripted(0, 0)) >= 1,
        "the default handshake script must reach Established: {:#?}",
        fuzz_bodies::trace(&scripted(0, 0))
    );
    assert!(
        established * 2 >= seeds().len(),
        "only {established} seeds establish"
    );
    let _ = std::env::var("FUZZ_SMOKE_WRITE_CORPUS").map(|dir| {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds().iter().enumerate() {
            std::fs::write(format!("{dir}/scripted-{i:03}"), s).unwrap();
        }
    });
}

#[test]
fn fsm_events_smoke() {
    let iters: usize = std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f5a1);
    let seeds = seeds();
    let mut rng = Rng(seed | 1);
    for i in 0..iters {
        let data = input(&mut rng, &seeds);
        let res = catch_unwind(AssertUnwindSafe(|| fuzz_bodies::session_events(&data)));
        if let Err(e) = res {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("input {i} failed: {msg}\ninput: {data:02x?}");
        }
    }
}

/// Inputs the fuzzer found, replayed on every run (`fuzz/artifacts-found/fsm_events-*`).
#[test]
fn fsm_events_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/artifacts-found");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("fsm_events-"))
        {
            fuzz_bodies::session_events(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    eprintln!("{n} regression inputs");
}
