//! Arbitrary bytes under a session context chosen from the first octet: framing, decoding
//! and every accessor of the result never panic. The body is shared with the stable smoke
//! test `bgp-proto/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../bgp-proto/tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::decode_message(data));
