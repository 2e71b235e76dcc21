//! cargo-fuzz target `csv_ingest`: the body lives in the shared harness (replayed by `cargo test`).
#![no_main]

#[path = "../harness/alloc.rs"]
mod alloc;
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::csv_ingest(data));
