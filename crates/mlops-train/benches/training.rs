//! Whole training — pipeline fit + transform + logistic-regression fit — on generated churn data
//! (100k training rows; 1M with `MLOPS_BENCH_TRAIN_1M=1`), against scikit-learn's
//! `Pipeline(ColumnTransformer(...), LogisticRegression())` on the same rows: run
//! `python3 benches/peers/compare_train.py` from the repository root, which runs this bench, then
//! the peer on the Parquet files this bench writes, and prints medians, the ratio and both
//! ROC-AUCs on the same test rows.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use mlops_data::BatchStream;
use mlops_data::arrow::RecordBatch;
use mlops_data::ingest::{ParquetWriteOptions, write_parquet_path};
use mlops_data::pipeline::FittedPipeline;
use mlops_data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::ImputeStrategy;
use mlops_train::trainer::binary_labels;
use mlops_train::{Estimator, LogisticRegression, Model, TrainingSet};

fn bench_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let dir = PathBuf::from(target).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rows` training rows (seed 1) and `rows / 4` test rows (seed 2), written as Parquet for the peer.
fn data(rows: u64) -> (RecordBatch, RecordBatch) {
    let make = |rows, seed| synth::churn_table(rows, seed).unwrap();
    let (train, test) = (make(rows, 1), make(rows / 4, 2));
    let dir = bench_dir();
    for (name, batch) in [("train", &train), ("test", &test)] {
        let path = dir.join(format!("{name}_{rows}.parquet"));
        if !path.exists() {
            write_parquet_path(
                &path,
                BatchStream::from_batches(batch.schema(), vec![batch.clone()]),
                &ParquetWriteOptions::default(),
            )
            .unwrap();
        }
    }
    (train, test)
}

/// The timed part: pipeline fit + transform + logistic fit.
fn fit(train: &RecordBatch) -> (FittedPipeline, Model) {
    let pipeline = synth::churn_pipeline(ImputeStrategy::Median)
        .fit(BatchStream::from_batches(
            train.schema(),
            vec![train.clone()],
        ))
        .unwrap();
    let x = pipeline.transform(train).unwrap();
    let (y, _) = binary_labels(train, LABEL_COLUMN, POSITIVE_LABEL).unwrap();
    let set = TrainingSet::new(x.data.view(), &y, &x.names).unwrap();
    let fitted = LogisticRegression::new()
        .check()
        .unwrap()
        .fit(&set)
        .unwrap();
    assert!(fitted.diagnostics.converged, "{:?}", fitted.diagnostics);
    (pipeline, fitted.model)
}

/// Test ROC-AUC of what [`fit`] returns.
fn test_auc(pipeline: &FittedPipeline, model: &Model, test: &RecordBatch) -> f64 {
    let xt = pipeline.transform(test).unwrap();
    let (yt, _) = binary_labels(test, LABEL_COLUMN, POSITIVE_LABEL).unwrap();
    let p = model.predict_proba(xt.data.view()).unwrap();
    mlops_train::metrics::roc_auc(&yt, &p).unwrap()
}

fn bench_training(c: &mut Criterion) {
    let mut group = c.benchmark_group("training");
    group.sample_size(10);
    // 1M rows take minutes per sample with linfa-logistic; opt in with MLOPS_BENCH_TRAIN_1M=1.
    let mut sizes = vec![100_000u64];
    if std::env::var_os("MLOPS_BENCH_TRAIN_1M").is_some() {
        sizes.push(1_000_000);
    }
    for rows in sizes {
        let (train, test) = data(rows);
        let (pipeline, model) = fit(&train);
        let auc = test_auc(&pipeline, &model, &test);
        std::fs::write(
            bench_dir().join(format!("train_auc_{rows}.json")),
            format!("{{\"roc_auc\": {auc}}}"),
        )
        .unwrap();
        group.bench_function(format!("pipeline_logistic_{rows}"), |b| {
            b.iter(|| fit(black_box(&train)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_training);
criterion_main!(benches);
