//! Arbitrary event sequences and negotiated parameters into a `bgp_fsm::Session` (STYLE.md §6,
//! fuzz target 3), against a second `Session` acting as the peer, on a monotonic virtual
//! clock: no panic, and the state invariants hold after every event. The body is shared with
//! the stable smoke test `bgp-fsm/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../bgp-fsm/tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::session_events(data));
