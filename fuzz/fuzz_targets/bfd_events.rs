//! Arbitrary event sequences and configurations into a `bfd::Session`, against a second
//! `Session` acting as the peer, on a monotonic virtual clock: no panic, and the invariants
//! hold after every event (STYLE.md §6, fuzz target 3). The body is shared with the stable
//! smoke test `bfd/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../bfd/tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::session_events(data);
});
