//! Criterion benchmarks of the data layer on a generated 1M-row churn table.
//!
//! Run: `cargo bench --bench data` (the table is generated once into
//! `$CARGO_TARGET_DIR/bench-data/`, default `target/bench-data/`; `MLOPS_BENCH_ROWS` overrides the
//! row count). `benches/peers/compare_data.py` runs the Python peers on the same file and prints
//! the ratios against these medians.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mlops::data::BatchStream;
use mlops::data::fingerprint::fingerprint_batches;
use mlops::data::ingest::{ParquetOptions, read_parquet_path};
use mlops::data::pipeline::Threads;
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::synth::{self, ChurnConfig, ChurnGenerator};
use mlops::data::transform::ImputeStrategy;

fn bench_rows() -> u64 {
    std::env::var("MLOPS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The generated churn file shared with the Python peers.
fn churn_file() -> PathBuf {
    let rows = bench_rows();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("churn_{rows}.parquet"));
    if !path.exists() {
        let generator = ChurnGenerator::new(ChurnConfig {
            rows,
            seed: 42,
            ..ChurnConfig::default()
        })
        .unwrap();
        generator.write_parquet(&path, 65_536).unwrap();
    }
    path
}

fn load(path: &PathBuf) -> (Arc<Schema>, Vec<RecordBatch>) {
    let stream = read_parquet_path(path, &ParquetOptions::default()).unwrap();
    let schema = stream.schema();
    (schema, stream.collect_batches().unwrap())
}

fn data_benches(c: &mut Criterion) {
    let path = churn_file();
    let rows = bench_rows();
    let (schema, batches) = load(&path);
    let arrow_bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();

    let mut g = c.benchmark_group("data");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    // pyarrow's read_table decodes with all cores too.
    let read_options = ParquetOptions::default().with_all_cores();
    g.bench_function("parquet_read", |b| {
        b.iter(|| {
            let stream = read_parquet_path(&path, &read_options).unwrap();
            let mut n = 0;
            for batch in stream {
                n += batch.unwrap().num_rows();
            }
            black_box(n)
        })
    });
    let pipeline = synth::churn_pipeline(ImputeStrategy::Mean);
    g.bench_function("pipeline_fit_transform", |b| {
        b.iter(|| {
            let fitted = pipeline
                .fit(BatchStream::from_batches(schema.clone(), batches.clone()))
                .unwrap();
            let x = fitted
                .transform_stream(BatchStream::from_batches(schema.clone(), batches.clone()))
                .unwrap();
            black_box(x.nrows())
        })
    });
    // The same on one thread (scikit-learn's ColumnTransformer runs on one by default).
    g.bench_function("pipeline_fit_transform_1thread", |b| {
        b.iter(|| {
            let fitted = pipeline
                .fit_with(
                    BatchStream::from_batches(schema.clone(), batches.clone()),
                    Threads::ONE,
                )
                .unwrap();
            let x = fitted
                .transform_stream_with(
                    BatchStream::from_batches(schema.clone(), batches.clone()),
                    Threads::ONE,
                )
                .unwrap();
            black_box(x.nrows())
        })
    });
    g.bench_function("profile", |b| {
        b.iter(|| {
            let p = profile_stream(
                BatchStream::from_batches(schema.clone(), batches.clone()),
                &ProfileOptions::default(),
            )
            .unwrap();
            black_box(p.rows())
        })
    });
    g.throughput(Throughput::Bytes(arrow_bytes as u64));
    g.bench_function("fingerprint_table", |b| {
        b.iter(|| black_box(fingerprint_batches(&schema, &batches).unwrap()))
    });
    g.finish();

    // Fingerprint against raw SHA-256 over the same number of bytes (256 MiB of float64).
    let n = 32 * 1024 * 1024;
    let values = Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.5));
    let fschema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let chunk = 1 << 16;
    let fbatches: Vec<RecordBatch> = (0..n)
        .step_by(chunk)
        .map(|start| {
            let len = chunk.min(n - start);
            RecordBatch::try_new(fschema.clone(), vec![Arc::new(values.slice(start, len))]).unwrap()
        })
        .collect();
    let raw: Vec<u8> = values
        .values()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut g = c.benchmark_group("hash_256mib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("fingerprint_float64", |b| {
        b.iter(|| black_box(fingerprint_batches(&fschema, &fbatches).unwrap()))
    });
    g.bench_function("raw_sha256", |b| {
        b.iter(|| black_box(mlops::core::hash_bytes(&raw)))
    });
    g.finish();
}

criterion_group!(benches, data_benches);
criterion_main!(benches);
