//! Trains a churn model and serves it over HTTP until Ctrl-C / SIGTERM.
//!
//! ```text
//! cargo run --release -p mlops-serve --features http --example http_bench_server -- \
//!     [--addr 127.0.0.1:18080] [--rows 5000] [--workers N] [--out DIR]
//! ```
//!
//! Writes into `--out` (default: the system temp dir) the training data `churn.parquet` (the
//! FastAPI peer in `benches/peers/serve_peer.py` trains on the same file) and `body.json`, a
//! one-row `{"records": [...]}` body for `POST /v1/models/churn/predict`, then prints
//! `listening on ADDR`.

use std::path::PathBuf;
use std::sync::Arc;

use mlops_data::arrow::DataType;
use mlops_data::arrow::array::Array;
use mlops_data::arrow::array::cast::AsArray;
use mlops_data::arrow::array::types::{Float64Type, Int64Type};
use mlops_data::synth::{self, ChurnConfig, ChurnGenerator, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::ImputeStrategy;
use mlops_serve::http::{Server, ServerState, shutdown_signal};
use mlops_serve::{Deployment, Predictor, Record, Value};
use mlops_train::estimator::LogisticRegression;
use mlops_train::select::Candidate;
use mlops_train::trainer::{TrainConfig, train};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--addr").unwrap_or_else(|| "127.0.0.1:18080".to_string());
    let rows: u64 = arg(&args, "--rows").map_or(Ok(5000), |s| s.parse())?;
    let workers: usize = match arg(&args, "--workers") {
        Some(s) => s.parse()?,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let out = arg(&args, "--out").map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&out)?;

    let generator = ChurnGenerator::new(ChurnConfig {
        rows,
        seed: 7,
        ..ChurnConfig::default()
    })?;
    let parquet = out.join("churn.parquet");
    generator.write_parquet(&parquet, 8192)?;
    let data = generator.to_batch()?;

    let config = TrainConfig::new(
        LABEL_COLUMN,
        POSITIVE_LABEL,
        synth::churn_pipeline(ImputeStrategy::Median),
    )
    .seed(7);
    let estimator = LogisticRegression::new().check()?;
    let outcome = train(&config, &data, &[Candidate::new(Box::new(estimator))])?;
    let predictor = Predictor::new("churn", 1, outcome.bundle)?;

    // The first row without nulls, as the one-row benchmark body.
    let schema = data.schema();
    let row = (0..data.num_rows())
        .find(|&r| data.columns().iter().all(|c| !c.is_null(r)))
        .ok_or("no complete row")?;
    let mut record = Record::new();
    for (i, field) in schema.fields().iter().enumerate() {
        if field.name() == LABEL_COLUMN {
            continue;
        }
        let col = data.column(i);
        let v = match field.data_type() {
            DataType::Int64 => Value::Int(col.as_primitive::<Int64Type>().value(row)),
            DataType::Float64 => Value::Float(col.as_primitive::<Float64Type>().value(row)),
            _ => Value::Str(col.as_string::<i32>().value(row).to_string()),
        };
        record = record.with(field.name().clone(), v);
    }
    let local = predictor.predict(&record, None)?;
    std::fs::write(
        out.join("body.json"),
        serde_json::to_vec(&serde_json::json!({ "records": [record] }))?,
    )?;

    let deployment = Arc::new(Deployment::new(predictor));
    let state = Arc::new(ServerState::new().with_deployment(deployment));
    let server = Server::start_with_workers(addr.as_str(), state, workers)?;
    println!(
        "listening on {} ({workers} worker(s)); body.json scores {:.6} in-process; data in {}",
        server.local_addr(),
        local.probability,
        out.display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(shutdown_signal());
    server.shutdown()?;
    println!("stopped");
    Ok(())
}
