//! Replays the committed fuzz corpora and regression inputs (`fuzz/corpus/<target>/*` and
//! `fuzz/regressions/<target>/*`) through the same harness the cargo-fuzz targets use
//! (`fuzz/harness/mod.rs`), so CI checks on stable Rust, without fuzzing, that no input that
//! once mattered panics again. See `fuzz/README.md`.
//!
//! `cargo test --test fuzz_replay -- --ignored regenerate_seed_corpora` rewrites the seed
//! inputs (`seed-*` files) from the generators in `fuzz/seeds/mod.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/harness/mod.rs"]
mod harness;
#[path = "../fuzz/seeds/mod.rs"]
mod seeds;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/{corpus,regressions}/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for {target} under {}",
        fuzz_dir().display()
    );
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, PathBuf::new());
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let t = Instant::now();
        let result = std::panic::catch_unwind(|| harness::run(target, &data));
        let took = t.elapsed();
        match result {
            Ok(known) => assert!(known, "unknown target {target}"),
            Err(_) => panic!("{target}: {} panics", path.display()),
        }
        if took > slowest.0 {
            slowest = (took, path.clone());
        }
    }
    eprintln!(
        "{target}: {} inputs in {:?} (slowest {:?}: {})",
        files.len(),
        start.elapsed(),
        slowest.0,
        slowest.1.display()
    );
}

#[test]
fn replay_bundle_decode() {
    replay("bundle_decode");
}

#[test]
fn replay_registry_events() {
    replay("registry_events");
}

#[test]
fn replay_csv_ingest() {
    replay("csv_ingest");
}

#[test]
fn replay_parquet_ingest() {
    replay("parquet_ingest");
}

#[cfg(feature = "http")]
#[test]
fn replay_http_bodies() {
    replay("http_bodies");
}

/// Every committed target has a fuzz binary and a corpus directory (so a new target cannot be
/// added without being replayed here).
#[test]
fn every_target_is_wired() {
    for t in harness::TARGETS {
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{t}.rs"))
                .is_file(),
            "{t}"
        );
        assert!(fuzz_dir().join("corpus").join(t).is_dir(), "{t}");
    }
}

/// The registry seeds split back into the objects they were captured from.
#[test]
fn registry_seed_objects_round_trip() {
    let objects = seeds::registry_store_objects().unwrap();
    let joined = seeds::join_objects(&objects);
    let mut parsed = harness::registry_objects(&joined);
    parsed.sort();
    assert_eq!(parsed.len(), objects.len());
    for ((k, v), (pk, pv)) in objects.iter().zip(&parsed) {
        assert_eq!(k, pk);
        assert_eq!(v, pv, "{k}");
    }
}

#[test]
#[ignore = "rewrites the committed seed corpora"]
fn regenerate_seed_corpora() {
    seeds::write_all(&fuzz_dir().join("corpus")).unwrap();
}
