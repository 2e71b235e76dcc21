//! Throughput check (ignored by default): fit + transform of 1M rows shaped like the
//! `mean_onehot` golden variant. Run with
//! `cargo test --release -p mlops-data --test pipeline_perf -- --ignored --nocapture`
//! and compare with `tests/fixtures/pipeline/bench_sklearn.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use mlops_data::BatchStream;
use mlops_data::pipeline::Pipeline;
use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn schema() -> SchemaRef {
    let f = |n: &str, t: DataType| Field::new(n, t, true);
    Arc::new(Schema::new(vec![
        f("age", DataType::Float64),
        f("income", DataType::Float64),
        f("visits", DataType::Float64),
        f("plan", DataType::Utf8),
        f("region", DataType::Utf8),
        f("channel", DataType::Utf8),
    ]))
}

fn batches(rows: usize, batch: usize, seed: u64) -> Vec<RecordBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cats: [&[&str]; 3] = [
        &["basic", "gold", "silver", "platinum"],
        &["north", "south", "east", "west", "central"],
        &["web", "store", "phone"],
    ];
    let mut out = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (mean, sd) in [(41.5, 12.25), (55000.0, 18000.0), (3.0, 1.7)] {
            let v: Vec<Option<f64>> = (0..n)
                .map(|_| {
                    (rng.r#gen::<f64>() >= 0.1).then(|| mean + sd * (rng.r#gen::<f64>() - 0.5))
                })
                .collect();
            cols.push(Arc::new(Float64Array::from(v)));
        }
        for c in cats {
            let v: Vec<Option<&str>> = (0..n)
                .map(|_| (rng.r#gen::<f64>() >= 0.05).then(|| c[rng.gen_range(0..c.len())]))
                .collect();
            cols.push(Arc::new(StringArray::from(v)));
        }
        out.push(RecordBatch::try_new(schema(), cols).unwrap());
        done += n;
    }
    out
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn fit_transform_one_million_rows() {
    let rows = 1_000_000;
    let data = batches(rows, 65_536, 7);
    let pipeline = Pipeline::new()
        .group(
            "num",
            ["age", "income", "visits"],
            [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()],
        )
        .group(
            "cat",
            ["plan", "region", "channel"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::one_hot(UnknownCategory::Ignore),
            ],
        );
    let mut best = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let t = Instant::now();
        let fitted = pipeline
            .fit(BatchStream::from_batches(schema(), data.clone()))
            .unwrap();
        let fit = t.elapsed().as_secs_f64();
        let x = fitted
            .transform_stream(BatchStream::from_batches(schema(), data.clone()))
            .unwrap();
        let total = t.elapsed().as_secs_f64();
        assert_eq!(x.data.shape(), &[rows, 15]);
        let t2 = Instant::now();
        let mut n = 0;
        for b in &data {
            n += fitted.transform(b).unwrap().nrows();
        }
        assert_eq!(n, rows);
        println!(
            "  per-batch transform (no concatenation): {:.3} s",
            t2.elapsed().as_secs_f64()
        );
        if total < best.1 {
            best = (fit, total);
        }
    }
    println!(
        "mlops-data Pipeline fit + transform_stream {rows} rows: best of 3 {:.3} s (fit {:.3} s)",
        best.1, best.0
    );
}
