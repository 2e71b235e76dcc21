//! mlops-serve in one screen: a predictor with signature checks, a deployment with hot swap and a
//! canary, events joined with late labels. Run: `cargo run --example serve_quickstart`
use std::sync::Arc;

use mlops::data::synth;
use mlops::data::transform::ImputeStrategy;
use mlops::serve::events::{ChannelSink, LabelJoiner};
use mlops::serve::{Deployment, OutcomeEvent, Predictor, records_from_batch};
use mlops::train::select::Candidate;
use mlops::train::{LogisticRegression, TrainConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = synth::churn_table(5_000, 1)?;
    let fit = |seed| -> Result<Predictor, Box<dyn std::error::Error>> {
        let config = TrainConfig::new(
            synth::LABEL_COLUMN,
            synth::POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(seed);
        let out = train(
            &config,
            &data,
            &[Candidate::new(Box::new(LogisticRegression::new().check()?))],
        )?;
        Ok(Predictor::new("churn", seed, out.bundle)?)
    };
    let deployment = Deployment::new(fit(1)?);
    let (sink, events) = ChannelSink::new(1024);
    deployment.add_sink(Arc::new(sink));
    let live = synth::churn_table(3, 9)?;
    let mut records = records_from_batch(&live)?;
    let p = deployment.predict(&records[0], Some("customer-1"))?;
    println!(
        "{} {:.3} from v{} (request {})",
        p.label, p.probability, p.version, p.request_id
    );
    records[1].0.remove("tenure_months");
    if let Err(e) = deployment.predict(&records[1], None) {
        println!("rejected: {e}");
    }
    deployment.set_canary(fit(2)?, 0.5)?; // half the keys go to v2, deterministically
    deployment.promote(fit(3)?); // atomic: no request sees a torn model
    println!("serving v{}", deployment.current().version());
    deployment.rollback()?;
    println!("rolled back to v{}", deployment.current().version());
    let mut joiner = LabelJoiner::new(10_000);
    for e in events.try_iter() {
        joiner.add_prediction(&e);
    }
    let joined = joiner.add_outcome(&OutcomeEvent {
        request_id: "customer-1".into(),
        time_ms: 0,
        positive: true,
    });
    println!("late label joined: {:?}", joined.map(|j| j.pair()));
    Ok(())
}
