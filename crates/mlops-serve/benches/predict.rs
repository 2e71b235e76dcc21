//! Serving latency and throughput on the churn model (logistic regression, 26 input columns).
//!
//! - `predict_single`: `Predictor::predict` on one record (goal p99 ≤ 20 µs). Besides criterion's
//!   mean, 100 000 individually timed calls give p50 / p99 / p99.9, printed to stderr.
//! - `predict_batch_100k`: `Predictor::predict_proba_batch` on a 100 000-row batch (goal ≥ 5M
//!   rows/s on one core); the rows/s of a timed pass is printed too.
//!
//! Run: `cargo bench -p mlops-serve --bench predict`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use arrow_array::Array;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_schema::DataType;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mlops_data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::ImputeStrategy;
use mlops_serve::{Predictor, Record, Value};
use mlops_train::select::Candidate;
use mlops_train::{LogisticRegression, TrainConfig};

fn churn(rows: u64, seed: u64) -> RecordBatch {
    mlops_data::synth::churn_table(rows, seed).unwrap()
}

fn predictor() -> Predictor {
    let batch = churn(5000, 1);
    let bundle = mlops_train::train(
        &TrainConfig::new(
            LABEL_COLUMN,
            POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(1),
        &batch,
        &[Candidate::new(Box::new(
            LogisticRegression::new().check().unwrap(),
        ))],
    )
    .unwrap()
    .bundle;
    Predictor::new("churn", 1, bundle).unwrap()
}

fn record(batch: &RecordBatch, i: usize) -> Record {
    let mut r = Record::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let v = if col.is_null(i) {
            Value::Null
        } else if col.data_type().is_integer() {
            let c = arrow_cast::cast(col, &DataType::Int64).unwrap();
            Value::Int(c.as_primitive::<Int64Type>().value(i))
        } else if col.data_type().is_floating() {
            let c = arrow_cast::cast(col, &DataType::Float64).unwrap();
            Value::Float(c.as_primitive::<Float64Type>().value(i))
        } else {
            let c = arrow_cast::cast(col, &DataType::Utf8).unwrap();
            Value::Str(c.as_string::<i32>().value(i).to_string())
        };
        r.insert(field.name().clone(), v);
    }
    r
}

fn percentiles(p: &Predictor, records: &[Record]) {
    let n = 100_000;
    let mut lat = Vec::with_capacity(n);
    for k in 0..n {
        let r = &records[k % records.len()];
        let t = Instant::now();
        black_box(p.predict(black_box(r), Some("bench")).unwrap());
        lat.push(t.elapsed());
    }
    lat.sort_unstable();
    let q = |f: f64| lat[((n as f64 * f) as usize).min(n - 1)];
    eprintln!(
        "predict_single over {n} calls: p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        q(0.50),
        q(0.99),
        q(0.999),
        lat[n - 1]
    );
}

fn throughput(p: &Predictor, batch: &RecordBatch) {
    // Best of 5 passes.
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(p.predict_proba_batch(black_box(batch)).unwrap());
            t.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX);
    eprintln!(
        "predict_proba_batch on {} rows: {:?} per pass, {:.2}M rows/s",
        batch.num_rows(),
        best,
        batch.num_rows() as f64 / best.as_secs_f64() / 1e6
    );
    // Where the time goes (best of 5 each).
    let time = |f: &dyn Fn()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::MAX)
    };
    let check = time(&|| {
        black_box(p.check_batch(black_box(batch)).unwrap());
    });
    let transform = time(&|| {
        black_box(p.bundle().pipeline.transform(black_box(batch)).unwrap());
    });
    let x = p.bundle().pipeline.transform(batch).unwrap();
    let model = time(&|| {
        for row in x.data.outer_iter() {
            black_box(
                p.bundle()
                    .model
                    .predict_proba_row(row.as_slice().unwrap())
                    .unwrap(),
            );
        }
    });
    eprintln!("  breakdown: check {check:?}, transform {transform:?}, model {model:?}");
}

fn benches(c: &mut Criterion) {
    let p = predictor();
    let sample = churn(1000, 2);
    let records: Vec<Record> = (0..sample.num_rows()).map(|i| record(&sample, i)).collect();
    percentiles(&p, &records);
    let mut k = 0usize;
    c.bench_function("predict_single", |b| {
        b.iter(|| {
            k = (k + 1) % records.len();
            p.predict(black_box(&records[k]), Some("bench")).unwrap()
        })
    });

    let big = churn(100_000, 3);
    throughput(&p, &big);
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(big.num_rows() as u64));
    g.sample_size(10);
    g.bench_function("predict_batch_100k", |b| {
        b.iter(|| p.predict_proba_batch(black_box(&big)).unwrap())
    });
    g.finish();
}

criterion_group!(serve, benches);
criterion_main!(serve);
