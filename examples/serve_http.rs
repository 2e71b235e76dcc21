//! Serve a registered churn model over HTTP (Open Inference Protocol v2 and a JSON records
//! route), following the `champion` alias: train and register a model, start the server, and
//! print requests to try. Stops on Ctrl-C / SIGTERM, or after `--seconds N`.
//!
//! Run: `cargo run --release --features http --example serve_http -- [--addr 127.0.0.1:8080] [--seconds N]`

use std::sync::Arc;
use std::time::Duration;

use mlops::data::synth::{self, ChurnConfig, ChurnGenerator};
use mlops::data::transform::ImputeStrategy;
use mlops::lifecycle;
use mlops::registry::{Registry, VersionRef};
use mlops::serve::http::{Server, ServerState, wait_for_shutdown_signal};
use mlops::serve::{Deployment, records_from_batch};
use mlops::train::{EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let seconds: Option<u64> = arg("--seconds").map(|s| s.parse()).transpose()?;
    let out = std::path::PathBuf::from("target/serve_http");
    std::fs::create_dir_all(&out)?;

    // Train and register a model (the registry keeps the data snapshot, run and lineage).
    let data = out.join("customers.parquet");
    ChurnGenerator::new(ChurnConfig {
        rows: 20_000,
        seed: 1,
        ..ChurnConfig::default()
    })?
    .write_parquet(&data, 65_536)?;
    let registry_dir = out.join("registry");
    if registry_dir.exists() {
        std::fs::remove_dir_all(&registry_dir)?;
    }
    let registry = Arc::new(Registry::open(&registry_dir)?);
    let spec = TrainSpec {
        config: TrainConfig::new(
            synth::LABEL_COLUMN,
            synth::POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(1),
        estimators: vec![EstimatorSpec::Logistic(LogisticRegression::new())],
    };
    let v = lifecycle::train_and_register(&registry, "churn", &spec, &data, "serve_http example")?;
    registry.set_alias("churn", "champion", v.version.version, None, "serve it")?;

    // Serve the champion and follow the alias.
    let deployment = Arc::new(Deployment::from_registry(
        &registry,
        "churn",
        VersionRef::Alias("champion"),
    )?);
    let _follow = deployment.follow_alias(
        Arc::clone(&registry),
        "churn",
        "champion",
        Duration::from_secs(1),
    )?;
    let state = Arc::new(ServerState::new().with_deployment(Arc::clone(&deployment)));
    let server = Server::start(addr.as_str(), state)?;
    let base = format!("http://{}", server.local_addr());

    let sample = ChurnGenerator::new(ChurnConfig {
        rows: 1,
        seed: 99,
        null_rate: 0.0,
        ..ChurnConfig::default()
    })?
    .to_batch()?;
    let record = records_from_batch(&sample)?.remove(0);
    let body = serde_json::to_string(&serde_json::json!({ "records": [record] }))?;
    println!("serving churn@{} on {base}", deployment.current().version());
    println!("  curl {base}/v2/health/ready");
    println!("  curl {base}/v2/models/churn");
    println!(
        "  curl -X POST {base}/v1/models/churn/predict -H 'content-type: application/json' -d '{body}'"
    );
    println!("  curl {base}/metrics");
    match seconds {
        Some(s) => std::thread::sleep(Duration::from_secs(s)),
        None => wait_for_shutdown_signal()?,
    }
    server.shutdown()?;
    println!("stopped");
    Ok(())
}
