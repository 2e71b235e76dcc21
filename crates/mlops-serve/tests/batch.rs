//! Batch scoring: CSV and Parquet in, Parquet out, bad rows reported (Skip) or fatal (Fail), the
//! same probabilities as the single-row path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use common::*;
use mlops_data::BatchStream;
use mlops_data::ingest::{ParquetOptions, read_parquet_path, write_csv_path, write_parquet_path};
use mlops_serve::ServeError;
use mlops_serve::batch::{BadRowPolicy, BatchOptions, score_file};

fn read(path: &std::path::Path) -> RecordBatch {
    let batches = read_parquet_path(path, &ParquetOptions::default())
        .unwrap()
        .collect_batches()
        .unwrap();
    arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// A CSV of the churn rows with row 5 carrying text in a numeric column, row 17 an
/// infinity, and row 250 (in the second batch) an empty required field turned into garbage.
fn bad_csv(dir: &std::path::Path, rows: u64) -> (std::path::PathBuf, RecordBatch) {
    let batch = churn(rows, 21);
    let clean = dir.join("clean.csv");
    write_csv_path(
        &clean,
        BatchStream::from_batches(batch.schema(), vec![batch.clone()]),
    )
    .unwrap();
    let text = std::fs::read_to_string(&clean).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let age = header.iter().position(|h| *h == "age").unwrap();
    let charges = header.iter().position(|h| *h == "monthly_charges").unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        match i {
            6 => f[age] = "forty".into(),    // data row 5
            18 => f[charges] = "inf".into(), // data row 17
            251 => f[age] = "4o".into(),     // data row 250
            _ => {}
        }
        out.push_str(&f.join(","));
        out.push('\n');
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, out).unwrap();
    (path, batch)
}

#[test]
fn csv_with_bad_rows_skip_keeps_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (input, original) = bad_csv(dir.path(), 400);
    let output = dir.path().join("scored.parquet");
    let p = predictor(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let summary = score_file(
        &p,
        &input,
        &output,
        BatchOptions {
            batch_size: 128,
            bad_rows: BadRowPolicy::Skip,
            progress: Some(Box::new(move |n| s2.lock().unwrap().push(n))),
            ..BatchOptions::default()
        },
    )
    .unwrap();
    assert_eq!(summary.rows_in, 400);
    assert_eq!(summary.rows_scored, 397);
    assert_eq!(summary.bad_row_count, 3);
    assert_eq!((summary.model.as_str(), summary.version), ("churn", 1));
    let rows: Vec<u64> = summary.bad_rows.iter().map(|b| b.row).collect();
    assert_eq!(rows, vec![5, 17, 250]);
    assert!(
        summary.bad_rows[0].reason.contains("age"),
        "{:?}",
        summary.bad_rows
    );
    assert!(summary.bad_rows[1].reason.contains("monthly_charges"));
    assert_eq!(*seen.lock().unwrap(), vec![128, 256, 384, 400]);

    let out = read(&output);
    assert_eq!(out.num_rows(), 397);
    let probs = out
        .column_by_name("probability")
        .unwrap()
        .as_primitive::<Float64Type>();
    let labels = out.column_by_name("prediction").unwrap().as_string::<i32>();
    let versions = out
        .column_by_name("model_version")
        .unwrap()
        .as_primitive::<UInt64Type>();
    let ids = out.column_by_name("customer_id").unwrap();
    assert_eq!(ids.null_count(), 0);
    let mut j = 0;
    for i in 0..400 {
        if [5, 17, 250].contains(&i) {
            continue;
        }
        let rec = record(&original, i);
        let single = p.predict(&rec, None).unwrap();
        assert_eq!(
            single.probability.to_bits(),
            probs.value(j).to_bits(),
            "row {i}"
        );
        assert_eq!(single.label, labels.value(j));
        assert_eq!(versions.value(j), 1);
        j += 1;
    }
}

#[test]
fn csv_with_a_bad_row_fails_under_fail_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = bad_csv(dir.path(), 100);
    let output = dir.path().join("scored.parquet");
    let e = score_file(&predictor(0), &input, &output, BatchOptions::default()).unwrap_err();
    assert!(
        matches!(e, ServeError::BadRow { row: 5, ref reason } if reason.contains("age")),
        "{e}"
    );
    assert!(!output.exists());
}

#[test]
fn parquet_input_scores_like_the_predictor() {
    let dir = tempfile::tempdir().unwrap();
    let batch = churn(1000, 22);
    let input = dir.path().join("in.parquet");
    write_parquet_path(
        &input,
        BatchStream::from_batches(batch.schema(), vec![batch.clone()]),
        &Default::default(),
    )
    .unwrap();
    let output = dir.path().join("out.parquet");
    let p = predictor(1);
    let s = score_file(
        &p,
        &input,
        &output,
        BatchOptions {
            batch_size: 300,
            ..BatchOptions::default()
        },
    )
    .unwrap();
    assert_eq!((s.rows_in, s.rows_scored, s.bad_row_count), (1000, 1000, 0));
    let out = read(&output);
    assert_eq!(out.num_columns(), batch.num_columns() + 3);
    let probs = out
        .column_by_name("probability")
        .unwrap()
        .as_primitive::<Float64Type>();
    let want = p.predict_proba_batch(&batch).unwrap();
    for (i, w) in want.iter().enumerate() {
        assert_eq!(w.to_bits(), probs.value(i).to_bits());
    }
    // A file without a required column fails as a whole.
    let cut = batch.project(&[0, 1]).unwrap();
    let bad = dir.path().join("cut.parquet");
    write_parquet_path(
        &bad,
        BatchStream::from_batches(cut.schema(), vec![cut]),
        &Default::default(),
    )
    .unwrap();
    let e = score_file(
        &p,
        &bad,
        &dir.path().join("x.parquet"),
        BatchOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), "missing_column");
    // An unknown extension is an I/O error.
    assert_eq!(
        score_file(
            &p,
            &dir.path().join("a.txt"),
            &output,
            BatchOptions::default()
        )
        .unwrap_err()
        .kind(),
        "io"
    );
}
