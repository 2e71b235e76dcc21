//! mlops-train in one screen: cross-validated search, training into a bundle, explanations,
//! the bundle round trip. Run: `cargo run --example train_quickstart`
use mlops::data::synth;
use mlops::data::transform::ImputeStrategy;
use mlops::train::explain::coefficients;
use mlops::train::select::{self, SelectionMetric};
use mlops::train::{LogisticRegression, Model, ModelBundle, TrainConfig, TrainingSet, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = synth::churn_table(8_000, 1)?;
    let config = TrainConfig::new(
        synth::LABEL_COLUMN,
        synth::POSITIVE_LABEL,
        synth::churn_pipeline(ImputeStrategy::Median),
    )
    .seed(7);
    // Candidates compared on the validation rows; metrics on the test rows.
    let candidates = select::logistic_grid(&LogisticRegression::new(), &[0.1, 1.0, 10.0])?;
    let out = train(&config, &data, &candidates)?;
    println!(
        "{}",
        out.bundle
            .training
            .selection
            .as_ref()
            .map_or("", |s| s.reason.as_str())
    );
    println!("test metrics: {:?}", out.bundle.metrics);
    // Stratified 5-fold CV of one candidate on the transformed training features.
    let x = out.bundle.pipeline.transform(&data)?;
    let (y, _) =
        mlops::train::trainer::binary_labels(&data, synth::LABEL_COLUMN, synth::POSITIVE_LABEL)?;
    let set = TrainingSet::new(x.data.view(), &y, &x.names)?;
    let cv = select::cross_validate(
        candidates[0].estimator.as_ref(),
        &set,
        5,
        7,
        SelectionMetric::RocAuc,
    )?;
    println!("5-fold AUC {:.4} ± {:.4}", cv.mean, cv.std);
    if let Model::Linear(m) = &out.bundle.model {
        for c in coefficients(m, out.bundle.feature_names())?.iter().take(5) {
            println!("  {:<28} {:+.3}", c.feature, c.value);
        }
    }
    let bytes = out.bundle.to_bytes()?;
    assert_eq!(ModelBundle::from_bytes(&bytes)?, out.bundle);
    println!(
        "bundle: {} bytes, sha256 {}",
        bytes.len(),
        out.bundle.content_hash()?
    );
    Ok(())
}
