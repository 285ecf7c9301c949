//! Arbitrary bytes into `bfd::ControlView::new_checked` never panic, what decodes re-encodes
//! stably, and the bytes fed to a running `bfd::Session` never panic (STYLE.md §6, fuzz
//! targets 1 and 2). The body is shared with the stable smoke test `bfd/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../bfd/tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::packet(data));
