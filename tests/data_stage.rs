//! Cross-module tests of the data stage on generated churn data: the same logical table read
//! from CSV and from Parquet fingerprints, validates and transforms identically.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mlops::data::BatchStream;
use mlops::data::fingerprint::{file_hash, fingerprint_stream};
use mlops::data::ingest::{
    CsvOptions, ParquetOptions, read_csv_path, read_parquet_path, write_csv_path,
};
use mlops::data::pipeline::{FittedPipeline, Pipeline};
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::schema::{InferOptions, TableSchema, validate};
use mlops::data::synth::{self, ChurnConfig, ChurnGenerator};
use mlops::data::transform::ImputeStrategy;

fn generated(rows: u64, seed: u64) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let generator = ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        ..ChurnConfig::default()
    })
    .unwrap();
    let parquet = dir.path().join("churn.parquet");
    let csv = dir.path().join("churn.csv");
    generator.write_parquet(&parquet, 4096).unwrap();
    write_csv_path(&csv, generator.batches(1000).unwrap()).unwrap();
    (dir, parquet, csv)
}

#[test]
fn csv_and_parquet_give_the_same_fingerprint() {
    let (_dir, parquet, csv) = generated(12_345, 3);
    let a = fingerprint_stream(
        read_parquet_path(&parquet, &ParquetOptions::default().with_batch_size(777)).unwrap(),
    )
    .unwrap();
    let b = fingerprint_stream(
        read_csv_path(&csv, &CsvOptions::default().with_batch_size(5000)).unwrap(),
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.rows, 12_345);
    // The plain file hashes differ: the fingerprint is logical, the file hash is not.
    assert_ne!(file_hash(&parquet).unwrap(), file_hash(&csv).unwrap());
    // Another seed is another table.
    let (_dir2, parquet2, _) = generated(12_345, 4);
    let c = fingerprint_stream(read_parquet_path(&parquet2, &ParquetOptions::default()).unwrap())
        .unwrap();
    assert_ne!(a.hash, c.hash);
}

#[test]
fn inferred_schema_validates_both_formats_and_profiles_agree() {
    let (_dir, parquet, csv) = generated(5_000, 9);
    let schema = TableSchema::infer(
        read_parquet_path(&parquet, &ParquetOptions::default()).unwrap(),
        &InferOptions::default(),
    )
    .unwrap();
    let from_parquet = validate(
        &schema,
        read_parquet_path(&parquet, &ParquetOptions::default()).unwrap(),
    )
    .unwrap();
    let from_csv = validate(
        &schema,
        read_csv_path(&csv, &CsvOptions::default()).unwrap(),
    )
    .unwrap();
    assert!(from_parquet.is_valid(), "{from_parquet}");
    assert!(from_csv.is_valid(), "{from_csv}");

    let p1 = profile_stream(
        read_parquet_path(&parquet, &ParquetOptions::default()).unwrap(),
        &ProfileOptions::default(),
    )
    .unwrap();
    let p2 = profile_stream(
        read_csv_path(&csv, &CsvOptions::default()).unwrap(),
        &ProfileOptions::default(),
    )
    .unwrap();
    assert_eq!(p1.rows(), p2.rows());
    for (a, b) in p1.columns().iter().zip(p2.columns()) {
        assert_eq!(a.name(), b.name());
        assert_eq!(a.nulls(), b.nulls(), "{}", a.name());
        if let (Some(x), Some(y)) = (a.as_numeric(), b.as_numeric()) {
            assert_eq!(x.count(), y.count());
            assert_eq!(x.min(), y.min());
            assert_eq!(x.max(), y.max());
        }
    }
}

fn pipeline() -> Pipeline {
    synth::churn_pipeline(ImputeStrategy::Median)
}

#[test]
fn pipeline_fitted_on_csv_equals_pipeline_fitted_on_parquet() {
    let (_dir, parquet, csv) = generated(4_000, 11);
    let fit = |stream: BatchStream| pipeline().fit(stream).unwrap();
    let a = fit(read_parquet_path(&parquet, &ParquetOptions::default()).unwrap());
    let b = fit(read_csv_path(&csv, &CsvOptions::default()).unwrap());
    assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());

    // Round trip through bytes: identical bytes and identical output.
    let bytes = a.to_bytes().unwrap();
    let back = FittedPipeline::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes().unwrap(), bytes);
    let x1 = a
        .transform_stream(read_parquet_path(&parquet, &ParquetOptions::default()).unwrap())
        .unwrap();
    let x2 = back
        .transform_stream(read_csv_path(&csv, &CsvOptions::default()).unwrap())
        .unwrap();
    assert_eq!(x1, x2);
    assert_eq!(x1.nrows(), 4_000);
}

#[test]
fn same_seed_same_fitted_bytes_across_runs() {
    let run = || {
        let (_dir, parquet, _) = generated(3_000, 21);
        pipeline()
            .fit(read_parquet_path(&parquet, &ParquetOptions::default()).unwrap())
            .unwrap()
            .to_bytes()
            .unwrap()
    };
    assert_eq!(run(), run());
}
