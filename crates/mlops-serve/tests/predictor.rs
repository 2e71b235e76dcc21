//! Predictor: signature checks (one typed error per kind, naming the column), the single-row
//! path against the batch path (bit-identical), labels and request ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use mlops_data::schema::Range;
use mlops_serve::{Predictor, Record, ServeError, Value};

fn good() -> Record {
    record(&churn(50, 9), 0)
}

#[test]
fn single_row_equals_batch_bit_for_bit_on_2000_rows() {
    let p = predictor(0);
    let batch = churn(2000, 7); // 2% nulls in the nullable columns
    let batch_probs = p.predict_proba_batch(&batch).unwrap();
    let batch_preds = p.predict_batch(&batch).unwrap();
    assert_eq!(batch_probs.len(), 2000);
    let mut nulls = 0;
    for (i, rec) in records(&batch).iter().enumerate() {
        nulls += rec.0.values().filter(|v| **v == Value::Null).count();
        let single = p.predict(rec, Some("id")).unwrap();
        assert_eq!(
            single.probability.to_bits(),
            batch_probs[i].to_bits(),
            "row {i}"
        );
        assert_eq!(
            single.probability.to_bits(),
            batch_preds[i].probability.to_bits()
        );
        assert_eq!(single.label, batch_preds[i].label);
    }
    assert!(nulls > 100, "the rows exercise imputation ({nulls} nulls)");
    // And the bundle's own batch prediction agrees to rounding.
    let reference = p.bundle().predict_proba(&batch).unwrap();
    for (a, b) in reference.iter().zip(&batch_probs) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn prediction_fields_and_labels() {
    let p = predictor(0);
    let r = good();
    let a = p.predict(&r, Some("req-1")).unwrap();
    assert_eq!(a.request_id, "req-1");
    assert_eq!((a.model.as_str(), a.version), ("churn", 1));
    assert!((0.0..=1.0).contains(&a.probability));
    let b = &p.bundle().label;
    let want = if a.probability >= p.bundle().threshold {
        &b.positive
    } else {
        &b.negative
    };
    assert_eq!(&a.label, want);
    // Generated ids are distinct.
    let x = p.predict(&r, None).unwrap();
    let y = p.predict(&r, None).unwrap();
    assert_ne!(x.request_id, y.request_id);
    assert_eq!(x.probability.to_bits(), y.probability.to_bits());
    // Extra columns are ignored; integers are accepted for numeric columns.
    let mut r2 = r.clone().with("unrelated", "zzz");
    r2.insert("tenure_months", Value::Int(12));
    let c = p.predict(&r2, None).unwrap();
    let mut r3 = r.clone();
    r3.insert("tenure_months", Value::Float(12.0));
    assert_eq!(
        c.probability.to_bits(),
        p.predict(&r3, None).unwrap().probability.to_bits()
    );
    // Inputs in signature order, naming every pipeline input.
    let names: Vec<&str> = p.inputs().iter().map(|c| c.name.as_str()).collect();
    for i in p.bundle().pipeline.inputs() {
        assert!(names.contains(&i.name.as_str()));
    }
}

#[test]
fn each_bad_input_is_a_typed_error_naming_the_column() {
    let p = predictor(0);
    let base = good();
    let check = |r: Record, kind: &str, column: &str| {
        let e = p.predict(&r, None).unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert_eq!(e.column(), Some(column), "{e}");
        assert!(e.is_client_error());
    };
    let mut r = base.clone();
    r.0.remove("age");
    check(r, "missing_column", "age");
    check(
        base.clone().with("monthly_charges", "12.5"),
        "wrong_type",
        "monthly_charges",
    );
    check(base.clone().with("plan", 3), "wrong_type", "plan");
    check(base.clone().with("plan", true), "wrong_type", "plan");
    check(base.clone().with("age", true), "wrong_type", "age");
    check(base.clone().with("age", f64::NAN), "non_finite", "age");
    check(base.clone().with("age", f64::INFINITY), "non_finite", "age");
    check(
        base.clone().with("nps", f64::NEG_INFINITY),
        "non_finite",
        "nps",
    );
    // Nulls are fine where the signature allows them (the pipeline imputes)...
    p.predict(&base.clone().with("age", Value::Null), None)
        .unwrap();
    p.predict(&base.clone().with("plan", Value::Null), None)
        .unwrap();
    // ... and unseen categories are accepted under the bundle's Ignore policy.
    p.predict(&base.clone().with("plan", "never-seen"), None)
        .unwrap();

    // A signature that forbids nulls and has a range.
    let mut bundle = (*bundles()[0]).clone();
    for c in &mut bundle.signature.columns {
        if c.name == "age" {
            c.nullable = false;
            c.range = Some(Range::new(18.0, 100.0));
        }
    }
    let strict = Predictor::new("churn", 9, bundle).unwrap();
    let e = strict
        .predict(&base.clone().with("age", Value::Null), None)
        .unwrap_err();
    assert_eq!(
        e,
        ServeError::NullValue {
            column: "age".into()
        }
    );
    let e = strict
        .predict(&base.clone().with("age", 150), None)
        .unwrap_err();
    assert_eq!(
        e,
        ServeError::OutOfRange {
            column: "age".into(),
            value: 150.0,
            min: 18.0,
            max: 100.0
        }
    );
    strict
        .predict(&base.clone().with("age", 100), None)
        .unwrap();
}

#[test]
fn unseen_category_follows_the_bundle_policy() {
    let bundle = strict_bundle().clone();
    assert!(bundle.pipeline.rejects_unseen("plan"));
    let p = Predictor::new("strict", 1, bundle.clone()).unwrap();
    let base = good();
    p.predict(&base, None).unwrap();
    let e = p
        .predict(&base.clone().with("region", "atlantis"), None)
        .unwrap_err();
    assert_eq!(
        e,
        ServeError::UnseenCategory {
            column: "region".into(),
            value: "atlantis".into()
        }
    );
    // Without categories in the signature the pipeline still rejects it, with the same error.
    let mut open = bundle;
    for c in &mut open.signature.columns {
        c.categories = None;
    }
    let p = Predictor::new("strict", 1, open).unwrap();
    let e = p
        .predict(&base.clone().with("region", "atlantis"), None)
        .unwrap_err();
    assert_eq!(e.kind(), "unseen_category");
    assert_eq!(e.column(), Some("region"));
    // The Ignore bundle never rejects.
    assert!(!bundles()[0].pipeline.rejects_unseen("region"));
}

#[test]
fn batch_checks_find_every_bad_row() {
    let p = Predictor::new("strict", 1, strict_bundle().clone()).unwrap();
    let batch = churn(20, 5);
    assert!(p.check_batch(&batch).unwrap().is_empty());
    // A missing column fails the whole batch.
    let cut = batch.project(&[0, 1, 2]).unwrap();
    assert_eq!(p.predict_batch(&cut).unwrap_err().kind(), "missing_column");
    // An empty batch gives no predictions.
    assert!(p.predict_batch(&batch.slice(0, 0)).unwrap().is_empty());
    let single = p.predict_batch(&batch.slice(3, 1)).unwrap();
    assert_eq!(single.len(), 1);
}

#[test]
fn predictors_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Predictor>();
    check::<Arc<Predictor>>();
}

#[test]
fn batches_larger_than_a_chunk_agree_across_chunk_boundaries() {
    let p = predictor(2);
    let n = 2 * mlops_serve::predictor::CHUNK_ROWS + 7;
    let batch = churn(n as u64, 8);
    let probs = p.predict_proba_batch(&batch).unwrap();
    assert_eq!(probs.len(), n);
    let c = mlops_serve::predictor::CHUNK_ROWS;
    for i in (c - 3..c + 3).chain(2 * c - 2..n) {
        let single = p.predict(&record(&batch, i), None).unwrap();
        assert_eq!(single.probability.to_bits(), probs[i].to_bits(), "row {i}");
    }
}

#[test]
fn a_tree_model_is_bit_identical_on_both_paths_and_predictions_round_trip() {
    let batch = churn(5000, 6);
    let bundle = mlops_train::train(
        &mlops_train::TrainConfig::new(
            mlops_data::synth::LABEL_COLUMN,
            mlops_data::synth::POSITIVE_LABEL,
            mlops_data::synth::churn_pipeline(mlops_data::transform::ImputeStrategy::Mean),
        )
        .seed(6),
        &batch,
        &[mlops_train::select::Candidate::new(Box::new(
            mlops_train::DecisionTree::new()
                .max_depth(Some(6))
                .check()
                .unwrap(),
        ))],
    )
    .unwrap()
    .bundle;
    assert_eq!(bundle.model.kind(), "tree");
    let p = Predictor::new("tree", 4, bundle).unwrap();
    let test = churn(600, 61);
    let probs = p.predict_proba_batch(&test).unwrap();
    for (i, rec) in records(&test).iter().enumerate() {
        let a = p.predict(rec, None).unwrap();
        assert_eq!(a.probability.to_bits(), probs[i].to_bits(), "row {i}");
    }
    let a = p.predict(&record(&test, 0), Some("x")).unwrap();
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(
        serde_json::from_str::<mlops_serve::Prediction>(&json).unwrap(),
        a
    );
}
