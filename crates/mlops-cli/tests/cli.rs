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

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn train_registry_reproduce_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("customers.parquet");
    let live = dir.path().join("live.csv");
    let reg = dir.path().join("reg");
    ok(&mlops(&[
        "data",
        "generate",
        "--rows",
        "3000",
        "--seed",
        "1",
        s(&data),
    ]));
    ok(&mlops(&[
        "data",
        "generate",
        "--rows",
        "1500",
        "--seed",
        "2",
        s(&live),
    ]));

    let o = mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "churned",
        "--positive",
        "yes",
        "--model",
        "logistic",
        "--seed",
        "3",
        "--registry",
        s(&reg),
        "--name",
        "churn",
        "--alias",
        "champion",
        "--json",
    ]);
    ok(&o);
    let trained: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(trained["version"], 1);
    assert!(trained["metrics"]["roc_auc"].as_f64().unwrap() > 0.7);
    assert_eq!(
        trained["selection"]["candidates"].as_array().unwrap().len(),
        3
    );

    // A second version with the tree family, default positive (the less frequent value).
    let o = mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "churned",
        "--model",
        "tree",
        "--registry",
        s(&reg),
        "--name",
        "churn",
    ]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("registered churn@2"));

    let o = mlops(&["registry", "list", "--registry", s(&reg), "churn"]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("churn@1") && text.contains("champion"),
        "{text}"
    );
    ok(&mlops(&[
        "registry",
        "show",
        "--registry",
        s(&reg),
        "churn@champion",
        "--json",
    ]));
    ok(&mlops(&[
        "registry",
        "promote",
        "--registry",
        s(&reg),
        "churn@2",
    ]));
    let o = mlops(&["registry", "rollback", "--registry", s(&reg), "churn"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("-> 1"));
    ok(&mlops(&["registry", "verify", "--registry", s(&reg)]));
    let o = mlops(&["registry", "audit", "--registry", s(&reg)]);
    ok(&o);
    let lines = String::from_utf8_lossy(&o.stdout).lines().count();
    assert!(lines >= 8, "{lines} audit events");
    let o = mlops(&["registry", "card", "--registry", s(&reg), "churn@1"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("churn"));

    // Reproduce: the retrained bundle is bit-identical.
    let o = mlops(&["reproduce", "churn@1", "--registry", s(&reg), "--json"]);
    ok(&o);
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["identical"], true);
    assert_eq!(rep["stored"], rep["retrained"]);
    ok(&mlops(&["reproduce", "churn@2", "--registry", s(&reg)]));

    // Drift of fresh undrifted data against the champion's profile: stable (exit 0).
    let report = dir.path().join("drift.json");
    let html = dir.path().join("drift.html");
    let o = mlops(&[
        "drift",
        "churn@champion",
        s(&live),
        "--registry",
        s(&reg),
        "--json",
        s(&report),
        "--html",
        s(&html),
    ]);
    ok(&o);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("mlops.drift-report")
    );
    // Batch scoring into Parquet; a bad row is reported (exit 1) without losing the others.
    let scored = dir.path().join("scored.parquet");
    let o = mlops(&[
        "score",
        "churn@champion",
        "--registry",
        s(&reg),
        "--input",
        s(&live),
        "--output",
        s(&scored),
        "--json",
    ]);
    ok(&o);
    let sc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sc["rows_scored"], 1500);
    assert!(scored.exists());
    let bad = dir.path().join("bad.csv");
    let mut text = std::fs::read_to_string(&live).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let second = text.lines().nth(1).unwrap().to_string();
    // Replace the age of the first row with text.
    let cols: Vec<&str> = header.split(',').collect();
    let age = cols.iter().position(|c| *c == "age").unwrap();
    let mut cells: Vec<String> = second.split(',').map(str::to_string).collect();
    cells[age] = "old".into();
    text = text.replacen(&second, &cells.join(","), 1);
    std::fs::write(&bad, text).unwrap();
    let o = mlops(&[
        "score",
        "churn@champion",
        "--registry",
        s(&reg),
        "--input",
        s(&bad),
        "--output",
        s(&dir.path().join("bad.parquet")),
        "--skip-bad-rows",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sc["bad_row_count"], 1);
    // File against file works too.
    ok(&mlops(&["drift", s(&data), s(&live)]));
}

#[test]
fn first_failures_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let reg = dir.path().join("reg");
    ok(&mlops(&["data", "generate", "--rows", "500", s(&data)]));
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    // Missing file.
    let o = mlops(&[
        "train",
        "--data",
        "/nonexistent/d.csv",
        "--target",
        "churned",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("/nonexistent/d.csv"), "{}", err(&o));
    // Wrong target column.
    let o = mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "nope",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("nope") && err(&o).contains("churned"),
        "{}",
        err(&o)
    );
    // Single-class target.
    let single = dir.path().join("single.csv");
    let mut text = String::from("x,y\n");
    for i in 0..50 {
        text.push_str(&format!("{i},a\n"));
    }
    std::fs::write(&single, text).unwrap();
    let o = mlops(&[
        "train",
        "--data",
        s(&single),
        "--target",
        "y",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("only"), "{}", err(&o));
    // Positive value absent.
    let o = mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "churned",
        "--positive",
        "maybe",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("maybe"), "{}", err(&o));
    // Unknown model name and alias.
    ok(&mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "churned",
        "--model",
        "logistic",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]));
    let o = mlops(&["registry", "show", "--registry", s(&reg), "ghost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("ghost"), "{}", err(&o));
    let o = mlops(&["registry", "show", "--registry", s(&reg), "m@nosuchalias"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("nosuchalias"), "{}", err(&o));
    // Unknown model family: a usage error.
    let o = mlops(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "churned",
        "--model",
        "forest",
        "--registry",
        s(&reg),
        "--name",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // No registry there.
    let o = mlops(&[
        "registry",
        "list",
        "--registry",
        s(&dir.path().join("none")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // Corrupted registry: flip a byte of the stored bundle blob; verify fails (exit 1) and
    // loading it is a typed error naming the blob, not a wrong model.
    let blobs = walk(&reg);
    let blob = blobs
        .iter()
        .filter(|p| p.to_string_lossy().contains("blobs"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a blob file")
        .clone();
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&blob, bytes).unwrap();
    let o = mlops(&["registry", "verify", "--registry", s(&reg)]);
    assert_eq!(o.status.code(), Some(1));
    let o = mlops(&["reproduce", "m@1", "--registry", s(&reg)]);
    assert_eq!(o.status.code(), Some(1));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The defaults `mlops serve --help` shows for the server limits are the library's.
#[cfg(feature = "http")]
#[test]
fn serve_help_shows_the_library_limits() {
    let out = mlops(&["serve", "--help"]);
    ok(&out);
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let limits = mlops::serve::http::Limits::default();
    for (flag, value) in [
        ("--max-body-bytes", limits.max_body_bytes.to_string()),
        ("--max-rows", limits.max_rows.to_string()),
        (
            "--request-timeout-ms",
            limits.request_timeout.as_millis().to_string(),
        ),
        ("--max-in-flight", limits.max_in_flight.to_string()),
        ("--max-connections", limits.max_connections.to_string()),
    ] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} missing: {help}"));
        let text = &help[at..];
        let end = text.find("[default: ").map(|i| i + 10).unwrap();
        assert!(
            text[end..].starts_with(&format!("{value}]")),
            "{flag}: {}",
            &text[..(end + 20).min(text.len())]
        );
    }
}

#[test]
fn serve_follows_the_alias_over_http() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.parquet");
    let reg = dir.path().join("reg");
    ok(&mlops(&[
        "data",
        "generate",
        "--rows",
        "2000",
        "--seed",
        "3",
        s(&data),
    ]));
    let train = |alias: bool| {
        let mut a = vec![
            "train",
            "--data",
            s(&data),
            "--target",
            "churned",
            "--positive",
            "yes",
            "--model",
            "logistic",
            "--registry",
            s(&reg),
            "--name",
            "churn",
        ];
        if alias {
            a.extend(["--alias", "champion"]);
        }
        ok(&mlops(&a));
    };
    train(true);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args([
            "serve",
            "churn@champion",
            "--registry",
            s(&reg),
            "--addr",
            "127.0.0.1:0",
            "--poll-ms",
            "50",
            "--max-rows",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let (status, body) = http(&addr, "GET", "/v2/models/churn", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("tenure_months"), "{body}");
    let record = r#"{"records":[{"age":40,"tenure_months":12,"monthly_charges":70.5,"plan":"basic","contract":"month-to-month"}]}"#;
    let (status, body) = http(&addr, "POST", "/v1/models/churn/predict", record);
    // Columns are missing from this record: a 422 that names one, not a crash.
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("error"), "{body}");
    let (status, _) = http(&addr, "GET", "/v2/models/ghost", "");
    assert_eq!(status, 404);

    // A full record from the data file (via the CLI's own scoring path is not needed: build it).
    let sample = dir.path().join("one.csv");
    ok(&mlops(&[
        "data",
        "generate",
        "--rows",
        "1",
        "--seed",
        "9",
        "--null-rate",
        "0",
        s(&sample),
    ]));
    let text = std::fs::read_to_string(&sample).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let values: Vec<&str> = lines.next().unwrap().split(',').collect();
    let fields: Vec<String> = header
        .iter()
        .zip(&values)
        .map(|(h, v)| match v.parse::<f64>() {
            Ok(x) => format!("\"{h}\":{x}"),
            Err(_) => format!("\"{h}\":\"{v}\""),
        })
        .collect();
    let body_one = format!("{{\"records\":[{{{}}}]}}", fields.join(","));
    let (status, body) = http(&addr, "POST", "/v1/models/churn/predict", &body_one);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":1"), "{body}");
    // `--max-rows 1`: two records are refused.
    let two = format!("{{\"records\":[{{{0}}},{{{0}}}]}}", fields.join(","));
    let (status, body) = http(&addr, "POST", "/v1/models/churn/predict", &two);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 1"), "{body}");

    // Train v2, move the alias: the server follows without a restart.
    train(false);
    ok(&mlops(&[
        "registry",
        "promote",
        "--registry",
        s(&reg),
        "churn@2",
    ]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = http(&addr, "POST", "/v1/models/churn/predict", &body_one);
        assert_eq!(status, 200, "{body}");
        if body.contains("\"version\":2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alias not followed: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (status, metrics) = http(&addr, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(metrics.contains("mlops_model_version"), "{metrics}");
    // Graceful stop on SIGTERM.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
