//! Golden tests: every metric and DeLong's test against values computed by scikit-learn / numpy
//! in `tests/fixtures/metrics/gen.py` (written to `golden.json`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mlops_train::Error;
use mlops_train::compare::delong;
use mlops_train::metrics::{self, BinaryMetrics, CalibrationStrategy, ConfusionMatrix, predict_at};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn close(what: &str, case: &str, got: f64, want: f64) {
    let tol = TOL * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{case}: {what}: got {got:e}, want {want:e} (|diff| = {:e})",
        (got - want).abs()
    );
}

/// Relative comparison for values that can be tiny (p-values).
fn close_rel(what: &str, case: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL * want.abs() + 1e-300,
        "{case}: {what}: got {got:e}, want {want:e} (relative)"
    );
}

fn close_vec(what: &str, case: &str, got: &[f64], want: &[f64]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{case}: {what}: length {got:?} vs {want:?}"
    );
    for (g, w) in got.iter().zip(want) {
        close(what, case, *g, *w);
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn golden() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/golden.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn metrics_match_sklearn() {
    let doc = golden();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let y: Vec<bool> = c["y_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        let s = f64s(&c["scores"]);
        let t = c["threshold"].as_f64().unwrap();
        let pred = predict_at(&s, t).unwrap();

        close(
            "accuracy",
            name,
            metrics::accuracy(&y, &pred).unwrap(),
            c["accuracy"].as_f64().unwrap(),
        );
        close(
            "balanced_accuracy",
            name,
            metrics::balanced_accuracy(&y, &pred).unwrap(),
            c["balanced_accuracy"].as_f64().unwrap(),
        );
        close(
            "precision",
            name,
            metrics::precision(&y, &pred).unwrap(),
            c["precision"].as_f64().unwrap(),
        );
        close(
            "recall",
            name,
            metrics::recall(&y, &pred).unwrap(),
            c["recall"].as_f64().unwrap(),
        );
        close(
            "f1",
            name,
            metrics::f1(&y, &pred).unwrap(),
            c["f1"].as_f64().unwrap(),
        );

        let cm = ConfusionMatrix::at_threshold(&y, &s, t).unwrap();
        let want_cm: ConfusionMatrix = serde_json::from_value(c["confusion"].clone()).unwrap();
        assert_eq!(cm, want_cm, "{name}: confusion matrix");

        match c["roc_auc"].as_f64() {
            Some(want) => close("roc_auc", name, metrics::roc_auc(&y, &s).unwrap(), want),
            None => assert!(
                matches!(metrics::roc_auc(&y, &s), Err(Error::SingleClass { .. })),
                "{name}"
            ),
        }
        match c["average_precision"].as_f64() {
            Some(want) => close(
                "average_precision",
                name,
                metrics::average_precision(&y, &s).unwrap(),
                want,
            ),
            None => assert!(
                matches!(
                    metrics::average_precision(&y, &s),
                    Err(Error::SingleClass { .. })
                ),
                "{name}"
            ),
        }
        close(
            "log_loss",
            name,
            metrics::log_loss(&y, &s).unwrap(),
            c["log_loss"].as_f64().unwrap(),
        );
        close(
            "brier",
            name,
            metrics::brier_score(&y, &s).unwrap(),
            c["brier"].as_f64().unwrap(),
        );

        for cal in c["calibration"].as_array().unwrap() {
            let strategy = match cal["strategy"].as_str().unwrap() {
                "uniform" => CalibrationStrategy::Uniform,
                _ => CalibrationStrategy::Quantile,
            };
            let n_bins = cal["n_bins"].as_u64().unwrap() as usize;
            let got = metrics::calibration_curve(&y, &s, strategy, n_bins).unwrap();
            let what = format!("calibration {strategy:?} n_bins={n_bins}");
            close_vec(
                &format!("{what} prob_true"),
                name,
                &got.prob_true,
                &f64s(&cal["prob_true"]),
            );
            close_vec(
                &format!("{what} prob_pred"),
                name,
                &got.prob_pred,
                &f64s(&cal["prob_pred"]),
            );
        }

        for th in c["thresholds"].as_array().unwrap() {
            let target = th["target"].as_f64().unwrap();
            let kind = th["kind"].as_str().unwrap();
            let got = if kind == "precision" {
                metrics::threshold_for_precision(&y, &s, target)
            } else {
                metrics::threshold_for_recall(&y, &s, target)
            };
            let what = format!("threshold for {kind} {target}");
            if th["expected"].is_null() {
                assert!(
                    matches!(got, Err(Error::TargetUnattainable { .. })),
                    "{name}: {what}: {got:?}"
                );
            } else {
                let got = got.unwrap();
                let e = &th["expected"];
                assert_eq!(
                    got.threshold,
                    e["threshold"].as_f64().unwrap(),
                    "{name}: {what}"
                );
                close(&what, name, got.precision, e["precision"].as_f64().unwrap());
                close(&what, name, got.recall, e["recall"].as_f64().unwrap());
            }
        }

        let all = BinaryMetrics::compute(&y, &s, t).unwrap();
        assert_eq!(all.confusion, want_cm, "{name}");
        close("BinaryMetrics.f1", name, all.f1, c["f1"].as_f64().unwrap());
        close(
            "BinaryMetrics.log_loss",
            name,
            all.log_loss,
            c["log_loss"].as_f64().unwrap(),
        );
        assert_eq!(all.roc_auc.is_some(), c["roc_auc"].is_number(), "{name}");
    }
}

#[test]
fn delong_matches_numpy() {
    let doc = golden();
    let mut checked = 0;
    for c in doc["cases"].as_array().unwrap() {
        let Some(d) = c.get("delong") else { continue };
        let name = c["name"].as_str().unwrap();
        let y: Vec<bool> = c["y_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        let got = delong(&y, &f64s(&c["scores"]), &f64s(&c["scores_b"])).unwrap();
        close("auc_a", name, got.auc_a, d["auc_a"].as_f64().unwrap());
        close("auc_b", name, got.auc_b, d["auc_b"].as_f64().unwrap());
        close("diff", name, got.diff, d["diff"].as_f64().unwrap());
        close("se", name, got.se, d["se"].as_f64().unwrap());
        close("z", name, got.z, d["z"].as_f64().unwrap());
        close_rel("p_value", name, got.p_value, d["p_value"].as_f64().unwrap());
        let ci = f64s(&d["ci95"]);
        close("ci95.0", name, got.ci95.0, ci[0]);
        close("ci95.1", name, got.ci95.1, ci[1]);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} DeLong cases");
}
