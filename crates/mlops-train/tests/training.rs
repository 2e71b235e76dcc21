//! Training end to end on generated churn data: estimators against scikit-learn, bundles
//! (round trip, hostile bytes, reproducibility in one process and across processes), label traps.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::ImputeStrategy;
use mlops_train::bundle::{FORMAT_VERSION, MAGIC};
use mlops_train::estimator::{LinearModel, Model};
use mlops_train::select::{self, Candidate};
use mlops_train::{
    DecisionTree, Error, Estimator, LogisticRegression, ModelBundle, TrainConfig, TrainingSet,
    train,
};
use ndarray::Array2;

fn churn(rows: u64, seed: u64) -> RecordBatch {
    mlops_data::synth::churn_table(rows, seed).unwrap()
}

fn config(seed: u64) -> TrainConfig {
    TrainConfig::new(
        LABEL_COLUMN,
        POSITIVE_LABEL,
        synth::churn_pipeline(ImputeStrategy::Median),
    )
    .seed(seed)
}

fn candidates() -> Vec<Candidate> {
    let mut c = select::logistic_grid(&LogisticRegression::new(), &[0.1, 10.0]).unwrap();
    c.extend(select::tree_grid(&DecisionTree::new(), &[4], &[50]).unwrap());
    c
}

#[test]
fn logistic_regression_matches_scikit_learn() {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/logistic/logistic.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(fixture["x"].clone()).unwrap();
    let y: Vec<bool> = serde_json::from_value(fixture["y"].clone()).unwrap();
    let d = rows[0].len();
    let x = Array2::from_shape_vec((rows.len(), d), rows.concat()).unwrap();
    let names: Vec<String> = (0..d).map(|i| format!("x{i}")).collect();
    let set = TrainingSet::new(x.view(), &y, &names).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let alpha = case["alpha"].as_f64().unwrap();
        let coefs: Vec<f64> = serde_json::from_value(case["coefficients"].clone()).unwrap();
        let intercept = case["intercept"].as_f64().unwrap();
        let probs: Vec<f64> = serde_json::from_value(case["probabilities"].clone()).unwrap();
        let fitted = LogisticRegression::new()
            .l2(alpha)
            .tolerance(1e-9)
            .max_iterations(1000)
            .check()
            .unwrap()
            .fit(&set)
            .unwrap();
        let Model::Linear(m) = &fitted.model else {
            panic!("linear")
        };
        for (a, b) in m.coefficients.iter().zip(&coefs) {
            assert!(
                (a - b).abs() < 1e-5,
                "alpha {alpha}: coef {a} vs sklearn {b}"
            );
        }
        assert!(
            (m.intercept - intercept).abs() < 1e-5,
            "alpha {alpha}: intercept"
        );
        let p = fitted.model.predict_proba(x.view()).unwrap();
        let worst = p
            .iter()
            .zip(&probs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-6,
            "alpha {alpha}: probabilities differ by {worst}"
        );
    }
}

#[test]
fn train_selects_evaluates_and_bundles() {
    let data = churn(6000, 1);
    let out = train(&config(7), &data, &candidates()).unwrap();
    let b = &out.bundle;
    let sel = b.training.selection.as_ref().unwrap();
    assert_eq!(sel.candidates.len(), 3);
    assert!(!sel.reason.is_empty());
    let auc = b.metrics["roc_auc"];
    assert!(auc > 0.75, "test AUC {auc}");
    assert_eq!(
        b.training.rows.train + b.training.rows.validation + b.training.rows.test,
        6000
    );
    assert_eq!(out.holdout.y.len(), b.training.rows.test);
    assert_eq!(b.label.positive, POSITIVE_LABEL);
    assert_eq!(b.signature.columns.len(), b.pipeline.input_columns().len());
    assert_eq!(b.reference_profile.rows() as usize, b.training.rows.train);
    assert_eq!(b.training.datasets[0].fingerprint.rows, 6000);
    // The bundle's predictions on the test rows equal the holdout scores.
    let test = mlops_data::split::take_rows(&data, &out.holdout.rows).unwrap();
    assert_eq!(b.predict_proba(&test).unwrap(), out.holdout.probabilities);
    // Round trip, byte-identical.
    let bytes = b.to_bytes().unwrap();
    let back = ModelBundle::from_bytes(&bytes).unwrap();
    assert_eq!(&back, b);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    // Same data, config and seed in the same process: same bytes.
    let again = train(&config(7), &data, &candidates()).unwrap();
    assert_eq!(again.bundle.to_bytes().unwrap(), bytes);
    // Another seed: another split, other bytes.
    let other = train(&config(8), &data, &candidates()).unwrap();
    assert_ne!(other.bundle.to_bytes().unwrap(), bytes);
    // The report serialises and carries durations and the environment.
    let json = out.report.to_json().unwrap();
    assert!(json.contains("mlops.training-report/v1") && json.contains("rustc"));
    assert!(out.report.durations_ms.contains_key("model_fit"));
}

const CHILD_ENV: &str = "MLOPS_TRAIN_REPRO_OUT";

/// Child half of the cross-process reproducibility test: trains and writes the bundle bytes.
#[test]
fn repro_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let data = churn(3000, 2);
    let out = train(&config(3), &data, &candidates()).unwrap();
    std::fs::write(path, out.bundle.to_bytes().unwrap()).unwrap();
}

#[test]
fn bundles_are_identical_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for i in 0..2 {
        let path = dir.path().join(format!("bundle-{i}.bin"));
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "repro_child", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .status()
            .unwrap();
        assert!(status.success());
        outputs.push(std::fs::read(&path).unwrap());
    }
    assert!(!outputs[0].is_empty());
    assert_eq!(outputs[0], outputs[1]);
    // And equal to this process's own training.
    let data = churn(3000, 2);
    let mine = train(&config(3), &data, &candidates()).unwrap();
    assert_eq!(mine.bundle.to_bytes().unwrap(), outputs[0]);
}

fn small_bundle_bytes() -> Vec<u8> {
    let data = churn(800, 4);
    let est = LogisticRegression::new().check().unwrap();
    train(&config(1), &data, &[Candidate::new(Box::new(est))])
        .unwrap()
        .bundle
        .to_bytes()
        .unwrap()
}

fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    // Recompute the checksum so that mutations reach the decoder.
    use sha2::Digest;
    let len = bytes.len();
    let digest = sha2::Sha256::digest(&bytes[18..len - 32]);
    bytes[len - 32..].copy_from_slice(&digest);
    bytes
}

#[test]
fn hostile_bundle_bytes_are_typed_errors() {
    let good = small_bundle_bytes();
    assert!(ModelBundle::from_bytes(&good).is_ok());
    assert!(matches!(
        ModelBundle::from_bytes(&[]),
        Err(Error::NotABundle)
    ));
    assert!(matches!(
        ModelBundle::from_bytes(b"PK\x03\x04 pickle?"),
        Err(Error::NotABundle)
    ));
    let mut v = good.clone();
    v[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        ModelBundle::from_bytes(&v),
        Err(Error::UnsupportedBundleVersion { .. })
    ));
    let mut huge = good[..18].to_vec();
    huge[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        ModelBundle::from_bytes(&huge),
        Err(Error::CorruptBundle { .. })
    ));
    // Every truncation.
    for cut in (0..good.len()).step_by(7) {
        match ModelBundle::from_bytes(&good[..cut]) {
            Err(Error::NotABundle | Error::CorruptBundle { .. }) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // Flipped bytes without resealing: checksum errors.
    for pos in (18..good.len()).step_by(97) {
        let mut v = good.clone();
        v[pos] ^= 0x40;
        assert!(matches!(
            ModelBundle::from_bytes(&v),
            Err(Error::CorruptBundle { .. })
        ));
    }
    // Flipped payload bytes with a valid checksum: the decoder itself must cope.
    let mut rng = 0x9e3779b97f4a7c15u64;
    for _ in 0..3000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut v = good.clone();
        let pos = 18 + (rng as usize) % (good.len() - 50);
        v[pos] = (rng >> 32) as u8;
        let _ = ModelBundle::from_bytes(&reseal(v));
    }
    assert!(MAGIC.len() == 8);
}

#[test]
fn bundle_parts_that_do_not_fit_are_rejected() {
    let mut b = ModelBundle::from_bytes(&small_bundle_bytes()).unwrap();
    b.model = Model::Linear(LinearModel {
        coefficients: vec![0.0; 3],
        intercept: 0.0,
    });
    let bytes = b.to_bytes().unwrap();
    assert!(matches!(
        ModelBundle::from_bytes(&bytes),
        Err(Error::CorruptBundle { .. })
    ));
}

fn labelled(labels: Vec<Option<&str>>) -> RecordBatch {
    let n = labels.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))) as ArrayRef,
            Arc::new(StringArray::from(labels)) as ArrayRef,
        ],
    )
    .unwrap()
}

#[test]
fn label_traps_are_typed_errors() {
    use mlops_train::trainer::binary_labels;
    let b = labelled(vec![Some("a"), Some("b"), Some("a")]);
    assert!(matches!(
        binary_labels(&b, "nope", "a"),
        Err(Error::MissingLabelColumn { .. })
    ));
    assert!(matches!(
        binary_labels(&b, "y", "c"),
        Err(Error::PositiveLabelAbsent { .. })
    ));
    let (y, neg) = binary_labels(&b, "y", "b").unwrap();
    assert_eq!(y, vec![false, true, false]);
    assert_eq!(neg, "a");
    let single = labelled(vec![Some("a"), Some("a")]);
    assert!(matches!(
        binary_labels(&single, "y", "a"),
        Err(Error::SingleClassTraining { .. })
    ));
    let third = labelled(vec![Some("a"), Some("b"), Some("c")]);
    assert!(matches!(
        binary_labels(&third, "y", "a"),
        Err(Error::BadLabel { row: 2, .. })
    ));
    let null = labelled(vec![Some("a"), None]);
    assert!(matches!(
        binary_labels(&null, "y", "a"),
        Err(Error::BadLabel { row: 1, .. })
    ));
    let empty = labelled(vec![]);
    assert!(matches!(
        binary_labels(&empty, "y", "a"),
        Err(Error::EmptyTrainingSet { .. })
    ));
    // A pipeline that reads the label column is a target leak.
    use mlops_data::transform::{Step, UnknownCategory};
    let leak = mlops_data::pipeline::Pipeline::new()
        .group("num", ["x"], [Step::standard_scaler()])
        .group("lab", ["y"], [Step::one_hot(UnknownCategory::Ignore)]);
    let cfg = TrainConfig::new("y", "a", leak);
    let data = labelled(
        (0..40)
            .map(|i| Some(if i % 2 == 0 { "a" } else { "b" }))
            .collect(),
    );
    let est = LogisticRegression::new().check().unwrap();
    assert!(train(&cfg, &data, &[Candidate::new(Box::new(est))]).is_err());
}

#[test]
fn tree_training_is_reproducible_and_positive_label_is_respected() {
    let data = churn(3000, 5);
    let tree: Box<dyn Estimator> =
        Box::new(DecisionTree::new().max_depth(Some(5)).check().unwrap());
    let a = train(&config(2), &data, &[Candidate::new(tree.clone())]).unwrap();
    let b = train(&config(2), &data, &[Candidate::new(tree)]).unwrap();
    assert_eq!(a.bundle.to_bytes().unwrap(), b.bundle.to_bytes().unwrap());
    // Make the other label positive: the model scores that label (AUC against it stays high).
    let mut cfg = config(2);
    cfg.positive = a.bundle.label.negative.clone();
    let est = LogisticRegression::new().check().unwrap();
    let neg = train(&cfg, &data, &[Candidate::new(Box::new(est))]).unwrap();
    assert_eq!(neg.bundle.label.negative, POSITIVE_LABEL);
    assert!(neg.bundle.metrics["roc_auc"] > 0.75);
    let p = neg.bundle.predict_proba(&data).unwrap();
    let (y, _) = mlops_train::trainer::binary_labels(&data, LABEL_COLUMN, &cfg.positive).unwrap();
    assert!(mlops_train::metrics::roc_auc(&y, &p).unwrap() > 0.75);
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    let rate = y.iter().filter(|&&b| b).count() as f64 / y.len() as f64;
    assert!((mean - rate).abs() < 0.03, "mean P {mean} vs rate {rate}");
}

#[test]
fn linfa_version_constant_matches_the_lock_file() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let needle = format!(
        "name = \"linfa\"\nversion = \"{}\"",
        mlops_train::report::LINFA_VERSION
    );
    assert!(lock.contains(&needle));
}

#[test]
fn deep_trees_are_reproducible_despite_linfa_tie_breaking() {
    // linfa-trees breaks class ties in HashMap order and prunes by majority class; without the
    // tie-breaking weights this tree differed between fits in one process.
    let data = churn(8000, 7);
    let est = DecisionTree::new().max_depth(Some(8)).check().unwrap();
    let cfg = config(7);
    let first = train(&cfg, &data, &[Candidate::new(Box::new(est.clone()))]).unwrap();
    for _ in 0..4 {
        let again = train(&cfg, &data, &[Candidate::new(Box::new(est.clone()))]).unwrap();
        assert_eq!(again.bundle.model, first.bundle.model);
    }
}
