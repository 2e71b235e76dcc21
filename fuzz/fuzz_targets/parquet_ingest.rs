//! cargo-fuzz target `parquet_ingest`: the body lives in the shared harness (replayed by `cargo test`).
#![no_main]

#[path = "../harness/alloc.rs"]
mod alloc;
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(
    init: harness::tolerate_caught_parquet_panics(),
    |data: &[u8]| harness::parquet_ingest(data)
);
