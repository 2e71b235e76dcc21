//! cargo-fuzz target `bundle_decode`: the body lives in the shared harness (replayed by `cargo test`).
#![no_main]

#[path = "../harness/alloc.rs"]
mod alloc;
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::bundle_decode(data));
