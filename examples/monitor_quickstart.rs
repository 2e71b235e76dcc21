//! mlops-monitor in one screen: dataset drift between two tables, a streaming detector, a retrain
//! policy's decision, the HTML report. Run: `cargo run --example monitor_quickstart`
use mlops::data::BatchStream;
use mlops::data::synth::{ChurnConfig, ChurnGenerator, CovariateShift, DriftSpec};
use mlops::monitor::{
    Adwin, DatasetDriftOptions, DriftConfig, DriftDetector, DriftReport, Evidence, RetrainPolicy,
    drift_between_streams,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = |seed, drift| -> Result<BatchStream, Box<dyn std::error::Error>> {
        Ok(ChurnGenerator::new(ChurnConfig {
            rows: 5_000,
            seed,
            drift,
            ..ChurnConfig::default()
        })?
        .batches(1024)?)
    };
    let shifted = DriftSpec {
        covariate_shift: vec![CovariateShift {
            column: "monthly_charges".into(),
            shift_std: 1.0,
            scale: 1.0,
        }],
        ..DriftSpec::default()
    };
    let result = drift_between_streams(
        table(1, DriftSpec::default())?,
        table(2, shifted)?,
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )?;
    for c in result.drift.columns.iter().filter(|c| c.drifted()) {
        println!(
            "drifted: {} ({:?}, statistic {:.4})",
            c.column, c.result.test, c.result.statistic
        );
    }
    let mut adwin = Adwin::default();
    let changed_at = (0..4000).position(|i| {
        let error = if i < 2000 {
            (i % 10 == 0) as u8
        } else {
            (i % 3 == 0) as u8
        };
        adwin.update(f64::from(error)) == mlops::monitor::DriftStatus::Drift
    });
    println!("ADWIN flags the error-rate change at update {changed_at:?}");
    let policy = RetrainPolicy::any([
        RetrainPolicy::drifted_share(0.1),
        RetrainPolicy::detector("adwin"),
    ]);
    let decision = policy.evaluate(
        &Evidence::at(0)
            .with_dataset_drift(&result.drift)
            .with_detector("adwin", &adwin),
    );
    println!("retrain: {} — {}", decision.retrain, decision.reason);
    let html = DriftReport::from_stream_drift(&result, "monitor_quickstart").to_html();
    println!(
        "HTML report: {} bytes of self-contained HTML with inline SVG",
        html.len()
    );
    Ok(())
}
