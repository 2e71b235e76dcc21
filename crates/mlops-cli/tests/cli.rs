//! The `mlops` binary driven as a user would: files in, text or JSON out, exit codes 0/1/2.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

fn mlops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generate_validate_profile_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("c.parquet");
    let csv = dir.path().join("c.csv");
    let schema = dir.path().join("schema.json");
    for out in [&parquet, &csv] {
        let o = mlops(&["data", "generate", "--rows", "2000", "--seed", "5", s(out)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    let o = mlops(&[
        "data",
        "validate",
        s(&parquet),
        "--write-schema",
        s(&schema),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = mlops(&[
        "data",
        "validate",
        s(&csv),
        "--schema",
        s(&schema),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["rows"], 2000);

    let fp = |p: &Path| {
        let o = mlops(&["data", "fingerprint", s(p), "--json"]);
        assert!(o.status.success());
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (a, b) = (fp(&parquet), fp(&csv));
    assert_eq!(a["fingerprint"], b["fingerprint"]);
    assert_ne!(a["file_sha256"], b["file_sha256"]);

    let o = mlops(&["data", "profile", s(&parquet), "--json"]);
    assert!(o.status.success());
    let profile: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(profile.is_object());
}

#[test]
fn violations_exit_1_and_bad_usage_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    let live = dir.path().join("live.csv");
    let schema = dir.path().join("schema.json");
    std::fs::write(&train, "age,plan\n30,gold\n40,basic\n").unwrap();
    std::fs::write(&live, "age,plan\n35,platinum\n").unwrap();
    let o = mlops(&["data", "validate", s(&train), "--write-schema", s(&schema)]);
    assert_eq!(o.status.code(), Some(0));
    let o = mlops(&["data", "validate", s(&live), "--schema", s(&schema)]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("plan"), "{text}");

    // Missing file: a failure that names the file.
    let o = mlops(&["data", "profile", "/nonexistent/x.csv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.csv"));

    // Unknown format and unknown subcommand.
    let o = mlops(&["data", "generate", s(&dir.path().join("x.txt"))]);
    assert_eq!(o.status.code(), Some(1));
    let o = mlops(&["data", "explode"]);
    assert_eq!(o.status.code(), Some(2));
}
