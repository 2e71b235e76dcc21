//! Windowed performance monitors and CBPE.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mlops_monitor::Error;
use mlops_monitor::performance::{
    Metric, MetricThreshold, StatusLevel, StatusReason, Window, WindowedClassificationMonitor,
    estimate_performance, roc_auc,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn count_window_metrics_by_hand() {
    let mut m = WindowedClassificationMonitor::new(Window::Count(4), 0.5).unwrap();
    assert!(m.is_empty());
    let e = m.metrics();
    assert_eq!((e.n, e.accuracy, e.roc_auc), (0, None, None));
    // (label, score): TP, TN, FN, FP, then TP evicts the first TP.
    for (t, (y, p)) in [(true, 0.9), (false, 0.2), (true, 0.4), (false, 0.6)]
        .into_iter()
        .enumerate()
    {
        m.observe(t as u64, y, p).unwrap();
    }
    let c = m.confusion();
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1.0, 1.0, 1.0, 1.0));
    let e = m.metrics();
    assert!(close(e.accuracy, 0.5));
    assert!(close(e.precision, 0.5));
    assert!(close(e.recall, 0.5));
    assert!(close(e.f1, 0.5));
    // Positives 0.9, 0.4; negatives 0.2, 0.6: pairs (0.9>0.2, 0.9>0.6, 0.4>0.2, 0.4<0.6) = 3/4.
    assert!(close(e.roc_auc, 0.75));
    m.observe(4, true, 0.7).unwrap();
    assert_eq!(m.len(), 4);
    let c = m.confusion();
    // Window: TN(0.2), FN(0.4), FP(0.6), TP(0.7).
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1.0, 1.0, 1.0, 1.0));
    // Positives 0.4, 0.7; negatives 0.2, 0.6: 0.4>0.2, 0.4<0.6, 0.7>0.2, 0.7>0.6 = 3/4.
    assert!(close(m.roc_auc(), 0.75));
}

#[test]
fn time_window_evicts_old_outcomes() {
    let mut m = WindowedClassificationMonitor::new(Window::Time { millis: 1000 }, 0.5).unwrap();
    m.observe(0, true, 0.9).unwrap();
    m.observe(500, false, 0.9).unwrap();
    m.observe(999, true, 0.8).unwrap();
    assert_eq!(m.len(), 3);
    m.observe(1000, true, 0.7).unwrap(); // evicts t = 0
    assert_eq!(m.len(), 3);
    assert!(close(m.metrics().precision, 2.0 / 3.0));
    m.advance_to(1600).unwrap(); // evicts t = 500
    assert_eq!(m.len(), 2);
    assert!(close(m.metrics().accuracy, 1.0));
    assert_eq!(m.metrics().roc_auc, None); // one class
    let err = m.observe(10, true, 0.5).unwrap_err();
    assert_eq!(
        err,
        Error::TimestampOrder {
            previous: 1600,
            found: 10
        }
    );
    assert_eq!(m.len(), 2);
    m.advance_to(5000).unwrap();
    assert!(m.is_empty());
}

#[test]
fn invalid_inputs_are_typed_errors() {
    assert!(matches!(
        WindowedClassificationMonitor::new(Window::Count(0), 0.5),
        Err(Error::InvalidParameter { name: "window", .. })
    ));
    assert!(matches!(
        WindowedClassificationMonitor::new(Window::Time { millis: 0 }, 0.5),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        WindowedClassificationMonitor::new(Window::Count(3), f64::NAN),
        Err(Error::InvalidParameter {
            name: "decision_threshold",
            ..
        })
    ));
    let mut m = WindowedClassificationMonitor::new(Window::Count(3), 0.5).unwrap();
    m.observe(0, true, 0.5).unwrap();
    for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        assert!(matches!(
            m.observe(1, true, bad),
            Err(Error::InvalidProbability { index: 1, .. })
        ));
    }
    assert_eq!(m.len(), 1);
    assert!(matches!(
        estimate_performance(&[], 0.5),
        Err(Error::EmptySample { .. })
    ));
    assert!(matches!(
        estimate_performance(&[0.2, f64::NAN], 0.5),
        Err(Error::InvalidProbability { index: 1, .. })
    ));
}

#[test]
fn thresholds_give_reasons() {
    let mut m = WindowedClassificationMonitor::new(Window::Count(10), 0.5).unwrap();
    let thresholds = [
        MetricThreshold {
            metric: Metric::Accuracy,
            min: 0.9,
        },
        MetricThreshold {
            metric: Metric::RocAuc,
            min: 0.5,
        },
    ];
    let s = m.status(&thresholds, 2);
    assert_eq!(s.level, StatusLevel::InsufficientData);
    assert_eq!(
        s.reasons[0],
        StatusReason::TooFewSamples {
            n: 0,
            min_samples: 2
        }
    );
    for (t, (y, p)) in [(true, 0.9), (false, 0.1), (true, 0.8), (false, 0.3)]
        .into_iter()
        .enumerate()
    {
        m.observe(t as u64, y, p).unwrap();
    }
    let s = m.status(&thresholds, 2);
    assert_eq!(s.level, StatusLevel::Ok, "{:?}", s.reasons);
    assert!(s.reasons.is_empty());
    m.observe(4, true, 0.2).unwrap(); // a miss: accuracy 4/5
    let s = m.status(&thresholds, 2);
    assert_eq!(s.level, StatusLevel::Alert);
    assert_eq!(s.reasons.len(), 1);
    match &s.reasons[0] {
        StatusReason::BelowThreshold { metric, value, min } => {
            assert_eq!(*metric, Metric::Accuracy);
            assert!((value - 0.8).abs() < 1e-12);
            assert_eq!(*min, 0.9);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.reasons[0].to_string(), "accuracy 0.8000 is below 0.9");
}

#[test]
fn roc_auc_ties_and_degenerate_cases() {
    assert_eq!(roc_auc(&[(0.5, true), (0.5, false)]), Some(0.5));
    assert_eq!(roc_auc(&[(0.1, false), (0.9, true)]), Some(1.0));
    assert_eq!(roc_auc(&[(0.9, false), (0.1, true)]), Some(0.0));
    assert_eq!(roc_auc(&[(0.1, true), (0.9, true)]), None);
    assert_eq!(roc_auc(&[]), None);
    assert_eq!(roc_auc(&[(f64::NAN, true), (0.2, false)]), None);
    // Pos {0.8, 0.4, 0.4}, neg {0.4, 0.1}: wins 0.8>0.4, 0.8>0.1, 0.4>0.1 (x2), ties 0.4=0.4 (x2)
    // → (2 + 2 + 2 × 0.5) / 6 = 5/6.
    let auc = roc_auc(&[
        (0.8, true),
        (0.4, true),
        (0.4, true),
        (0.4, false),
        (0.1, false),
    ]);
    assert!(close(auc, 5.0 / 6.0));
}

#[test]
fn cbpe_by_hand() {
    let e = estimate_performance(&[0.9, 0.2, 0.6, 0.5], 0.5).unwrap();
    // Predicted positive: 0.9, 0.6, 0.5 → TP 2.0, FP 1.0; negative: 0.2 → FN 0.2, TN 0.8.
    let c = e.confusion;
    assert!((c.tp - 2.0).abs() < 1e-12 && (c.fp - 1.0).abs() < 1e-12);
    assert!((c.fn_ - 0.2).abs() < 1e-12 && (c.tn - 0.8).abs() < 1e-12);
    assert!(close(e.metrics.accuracy, 0.7));
    assert!(close(e.metrics.precision, 2.0 / 3.0));
    assert!(close(e.metrics.recall, 2.0 / 2.2));
    assert!(close(e.metrics.f1, 4.0 / 5.2));
    assert_eq!(e.metrics.roc_auc, None);
}

#[test]
fn cbpe_matches_realised_accuracy_when_calibrated() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let n = 50_000;
    let mut probs = Vec::with_capacity(n);
    let mut m = WindowedClassificationMonitor::new(Window::Count(n), 0.5).unwrap();
    for t in 0..n {
        // Skewed, calibrated scores: p = u^2, y ~ Bernoulli(p).
        let u: f64 = rng.r#gen();
        let p = u * u;
        let y = rng.r#gen::<f64>() < p;
        probs.push(p);
        m.observe(t as u64, y, p).unwrap();
    }
    let est = estimate_performance(&probs, 0.5).unwrap().metrics;
    let real = m.metrics();
    for metric in [
        Metric::Accuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
    ] {
        let (e, r) = (est.get(metric).unwrap(), real.get(metric).unwrap());
        assert!(
            (e - r).abs() < 0.01,
            "{metric}: estimated {e}, realised {r}"
        );
    }
}

#[test]
fn windowed_metrics_match_sklearn() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/performance/windowed.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let window = v["window"].as_u64().unwrap() as usize;
    let labels: Vec<u64> = serde_json::from_value(v["labels"].clone()).unwrap();
    let scores: Vec<f64> = serde_json::from_value(v["scores"].clone()).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let mut m = WindowedClassificationMonitor::new(Window::Count(window), 0.5).unwrap();
    let mut k = 0;
    for (i, (&y, &s)) in labels.iter().zip(&scores).enumerate() {
        m.observe(i as u64, y == 1, s).unwrap();
        let Some(check) = checks.get(k) else { break };
        if check["end"].as_u64() == Some(i as u64 + 1) {
            let got = m.metrics();
            for (metric, key) in [
                (Metric::Accuracy, "accuracy"),
                (Metric::Precision, "precision"),
                (Metric::Recall, "recall"),
                (Metric::F1, "f1"),
                (Metric::RocAuc, "roc_auc"),
            ] {
                let want = check[key].as_f64().unwrap();
                let have = got.get(metric).unwrap();
                assert!(
                    (want - have).abs() < 1e-12,
                    "{key} at {}: sklearn {want}, ours {have}",
                    i + 1
                );
            }
            k += 1;
        }
    }
    assert_eq!(k, checks.len());
}

#[test]
fn cbpe_status_alerts_without_labels() {
    // Uncertain scores: expected accuracy mean(max(p, 1-p)) = 0.6.
    let e = estimate_performance(&[0.6, 0.4, 0.6, 0.4], 0.5).unwrap();
    assert!(close(e.metrics.accuracy, 0.6));
    let s = e.status(
        &[MetricThreshold {
            metric: Metric::Accuracy,
            min: 0.8,
        }],
        1,
    );
    assert_eq!(s.level, StatusLevel::Alert);
    let s = e.status(
        &[MetricThreshold {
            metric: Metric::RocAuc,
            min: 0.8,
        }],
        1,
    );
    assert_eq!(s.level, StatusLevel::InsufficientData);
    assert_eq!(
        s.reasons,
        vec![StatusReason::Undefined {
            metric: Metric::RocAuc
        }]
    );
}
