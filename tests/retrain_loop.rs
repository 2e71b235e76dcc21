//! The closed loop through the public API: a champion, live traffic whose world changes, a policy
//! that fires on the evidence, a challenger gated by DeLong's test, promotion or not, and an audit
//! log that tells the story and verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mlops::data::arrow::RecordBatch;
use mlops::data::synth::{
    self, ChurnConfig, ChurnGenerator, ConceptDrift, CovariateShift, DriftSpec,
};
use mlops::data::transform::ImputeStrategy;
use mlops::lifecycle;
use mlops::monitor::performance::Metric;
use mlops::monitor::{DatasetDriftOptions, RetrainPolicy};
use mlops::registry::{Registry, VersionRef};
use mlops::retrain::{LoopConfig, RetrainLoop};
use mlops::train::{EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec};

fn world(rows: u64, seed: u64, drift: DriftSpec) -> RecordBatch {
    ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        null_rate: 0.02,
        drift,
    })
    .unwrap()
    .to_batch()
    .unwrap()
}

fn changed() -> DriftSpec {
    DriftSpec {
        covariate_shift: vec![CovariateShift {
            column: "monthly_charges".into(),
            shift_std: 1.0,
            scale: 1.0,
        }],
        category_mix: vec![],
        concept: Some(ConceptDrift {
            column: "region".into(),
            value: "north".into(),
            strength: 3.0,
        }),
    }
}

fn spec(seed: u64) -> TrainSpec {
    TrainSpec {
        config: TrainConfig::new(
            synth::LABEL_COLUMN,
            synth::POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(seed),
        estimators: vec![EstimatorSpec::Logistic(LogisticRegression::new())],
    }
}

/// Feeds `traffic` to the loop as if the champion had served it and the labels came back.
fn feed(lp: &mut RetrainLoop<'_>, traffic: &RecordBatch) {
    let (_, champion) = lp.champion();
    let p = champion.predict_proba(traffic).unwrap();
    let (y, _) =
        mlops::train::trainer::binary_labels(traffic, synth::LABEL_COLUMN, synth::POSITIVE_LABEL)
            .unwrap();
    for (i, (&p, &y)) in p.iter().zip(&y).enumerate() {
        lp.observe_outcome(i as u64, p, y).unwrap();
    }
    lp.observe_inputs(traffic.clone());
}

#[test]
fn drift_triggers_a_gated_retrain_and_the_audit_log_tells_it() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("reg")).unwrap();
    let v1 = spec(1)
        .train(&world(6000, 1, DriftSpec::default()))
        .unwrap();
    let auc1 = v1.bundle.metrics["roc_auc"];
    let reg = lifecycle::register_outcome(&registry, "churn", v1, None, "first").unwrap();
    registry
        .set_alias("churn", "champion", reg.version.version, None, "first")
        .unwrap();

    let config = || {
        let mut config = LoopConfig::new("churn");
        config.policy = RetrainPolicy::any([
            RetrainPolicy::metric_below(Metric::RocAuc, auc1 - 0.03, 500),
            RetrainPolicy::drifted_share(0.1),
        ]);
        config.drift_options = DatasetDriftOptions {
            exclude: vec![synth::ID_COLUMN.into(), synth::LABEL_COLUMN.into()],
            ..DatasetDriftOptions::default()
        };
        config
    };

    // A calm month: keep.
    let mut lp = RetrainLoop::new(&registry, config()).unwrap();
    feed(&mut lp, &world(3000, 2, DriftSpec::default()));
    let (calm, calm_run) = lp.decide().unwrap();
    assert!(!calm.retrain, "{}", calm.reason);

    // The world changes (a fresh loop: its drift check sees only the new month): drift and a
    // falling AUC fire the policy.
    let mut lp2 = RetrainLoop::new(&registry, config()).unwrap();
    feed(&mut lp2, &world(4000, 3, changed()));
    let (decision, run) = lp2.decide().unwrap();
    assert!(decision.retrain, "{}", decision.reason);
    assert!(lp2.last_drift().unwrap().drift.n_drifted >= 1);

    // Retrain on fresh data from the new world; the challenger wins on the new world's holdout.
    let round = lp2
        .retrain(
            &spec(4),
            &world(8000, 4, changed()),
            &world(6000, 5, changed()),
            &run,
        )
        .unwrap();
    assert!(round.promoted, "{round:?}");
    assert!(round.challenger_auc > round.champion_auc);
    assert!(round.p_value < 0.05);
    assert_eq!(lp2.champion().0, round.challenger);
    assert_eq!(
        registry
            .aliases("churn")
            .unwrap()
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![round.challenger]
    );

    // A second challenger from the same world is not significantly better: the champion stays.
    let (_, run2) = lp2.decide().unwrap();
    let kept = lp2
        .retrain(
            &spec(6),
            &world(8000, 6, changed()),
            &world(6000, 7, changed()),
            &run2,
        )
        .unwrap();
    assert!(!kept.promoted, "{kept:?}");
    assert_eq!(lp2.champion().0, round.challenger);
    let (_, champ) =
        lifecycle::load_bundle(&registry, "churn", VersionRef::Alias("champion")).unwrap();
    assert_eq!(lp2.champion().1, &champ);

    // Loop-trained versions are reproducible from their stored snapshot.
    let scratch = tempfile::tempdir().unwrap();
    let r = lifecycle::reproduce(
        &registry,
        "churn",
        VersionRef::Number(round.challenger),
        None,
        scratch.path(),
    )
    .unwrap();
    assert!(r.identical, "{:?}", r.differences);

    // The audit log names each decision; the chain verifies.
    let events = registry.events().unwrap();
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("retrain policy: keep")));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("decision run {run}")))
    );
    assert!(reasons.iter().any(|r| r.starts_with("promoted:")));
    assert!(!calm_run.is_empty());
    assert!(registry.verify().unwrap().is_ok());
}

#[test]
fn live_inputs_are_bounded_by_max_live_rows() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("reg")).unwrap();
    let v1 = spec(1).train(&world(800, 1, DriftSpec::default())).unwrap();
    let reg = lifecycle::register_outcome(&registry, "churn", v1, None, "first").unwrap();
    registry
        .set_alias("churn", "champion", reg.version.version, None, "first")
        .unwrap();
    let mut config = LoopConfig::new("churn");
    config.max_live_rows = 1_000;
    let mut lp = RetrainLoop::new(&registry, config).unwrap();
    let batch = world(300, 2, DriftSpec::default());
    for i in 1..=10 {
        lp.observe_inputs(batch.clone());
        assert_eq!(lp.live_rows(), (300 * i).min(1_000));
    }
    // An empty batch changes nothing; the drift check sees exactly the kept rows.
    lp.observe_inputs(batch.slice(0, 0));
    assert_eq!(lp.live_rows(), 1_000);
    lp.decide().unwrap();
    let drift = lp.last_drift().unwrap();
    assert_eq!(drift.n_current_rows, 1_000);
}
