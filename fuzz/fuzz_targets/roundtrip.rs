//! decode -> to_owned -> encode -> decode gives the same value, for every message type.
//! The body is shared with the stable smoke test `bgp-proto/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../bgp-proto/tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::roundtrip(data));
