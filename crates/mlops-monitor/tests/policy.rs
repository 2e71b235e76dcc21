//! Retrain policies: each trigger, composition, degenerate inputs and serde round trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mlops_monitor::auto::{ColumnData, DriftConfig};
use mlops_monitor::detect::{Adwin, DriftDetector, DriftStatus};
use mlops_monitor::performance::{
    ClassificationMetrics, Metric, Window, WindowedClassificationMonitor, estimate_performance,
};
use mlops_monitor::policy::{
    DriftSummary, Evidence, PerformanceSource, PolicyOutcome, RetrainDecision, RetrainPolicy,
    Trigger, TriggerOutcome, TriggerStatus,
};
use mlops_monitor::{DatasetDrift, Error};

const DAY: u64 = 24 * 3600 * 1000;

/// Three columns, `drifted` of which are shifted.
fn drift(drifted: usize) -> DatasetDrift {
    let a: Vec<f64> = (0..200).map(f64::from).collect();
    let b: Vec<f64> = (0..200).map(|i| f64::from(i) + 150.0).collect();
    let cols: Vec<(String, usize)> = (0..3).map(|i| (format!("c{i}"), i)).collect();
    DriftConfig::default()
        .test_dataset(cols.iter().map(|(name, i)| {
            let cur = if *i < drifted { &b } else { &a };
            (
                name.as_str(),
                ColumnData::Numeric(&a),
                ColumnData::Numeric(cur),
            )
        }))
        .unwrap()
}

fn single(policy: &RetrainPolicy, e: &Evidence) -> TriggerOutcome {
    let d = policy.evaluate(e);
    assert_eq!(d.triggers().len(), 1);
    let t = d.triggers()[0].clone();
    assert_eq!(d.retrain, t.fired);
    assert_eq!(t.fired, t.status == TriggerStatus::Fired);
    t
}

fn metrics(n: u64, accuracy: Option<f64>) -> ClassificationMetrics {
    ClassificationMetrics {
        n,
        accuracy,
        precision: None,
        recall: None,
        f1: None,
        roc_auc: None,
    }
}

#[test]
fn dataset_drift_trigger_uses_the_verdict_or_a_share() {
    let verdict = RetrainPolicy::dataset_drift();
    // 1 of 3 drifted: share 1/3 < 0.5.
    let e = Evidence::default().with_dataset_drift(&drift(1));
    let t = single(&verdict, &e);
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert_eq!(t.observed, Some(1.0 / 3.0));
    assert_eq!(t.threshold, Some(0.5));
    assert!(t.reason.contains("1 of 3 columns drifted"), "{}", t.reason);
    // 2 of 3: share 2/3 ≥ 0.5.
    let t = single(&verdict, &Evidence::default().with_dataset_drift(&drift(2)));
    assert_eq!(t.status, TriggerStatus::Fired);
    assert_eq!(t.observed, Some(2.0 / 3.0));

    let share = RetrainPolicy::drifted_share(0.3);
    let t = single(&share, &e);
    assert_eq!(t.status, TriggerStatus::Fired);
    assert_eq!(t.threshold, Some(0.3));
    let t = single(
        &RetrainPolicy::drifted_share(0.34),
        &Evidence::default().with_dataset_drift(&drift(1)),
    );
    assert_eq!(t.status, TriggerStatus::NotFired);
    // Exactly at the share fires (≥).
    let t = single(
        &RetrainPolicy::drifted_share(1.0 / 3.0),
        &Evidence::default().with_dataset_drift(&drift(1)),
    );
    assert!(t.fired);

    // No drift result: no evidence.
    let t = single(&verdict, &Evidence::default());
    assert_eq!(t.status, TriggerStatus::NoEvidence);
    assert_eq!(t.observed, None);

    // A dataset with no columns never fires on a share.
    let empty = DriftSummary {
        n_columns: 0,
        n_drifted: 0,
        share_drifted: 0.0,
        threshold: 0.5,
        drifted: false,
    };
    let e = Evidence {
        dataset_drift: Some(empty),
        ..Evidence::default()
    };
    assert!(!single(&RetrainPolicy::drifted_share(0.0001), &e).fired);
}

#[test]
fn detector_trigger_reads_the_named_status() {
    let mut adwin = Adwin::default();
    let policy = RetrainPolicy::detector("adwin_age");
    // Stable detector.
    for i in 0..500 {
        adwin.update(f64::from(i % 2));
    }
    let t = single(
        &policy,
        &Evidence::default().with_detector("adwin_age", &adwin),
    );
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert_eq!((t.observed, t.threshold), (Some(0.0), Some(1.0)));
    // Drive it to a detection and stop there.
    let mut i = 0;
    while adwin.update(10.0 + f64::from(i % 3)) != DriftStatus::Drift {
        i += 1;
        assert!(i < 10_000, "ADWIN never detected the shift");
    }
    let t = single(
        &policy,
        &Evidence::default().with_detector("adwin_age", &adwin),
    );
    assert_eq!(t.status, TriggerStatus::Fired);
    assert!(t.reason.contains("\"adwin_age\" is drift"), "{}", t.reason);

    // Unknown detector name: no evidence.
    let t = single(&policy, &Evidence::default().with_detector("other", &adwin));
    assert_eq!(t.status, TriggerStatus::NoEvidence);

    // Warnings fire only with on_warning.
    let e = Evidence::default().with_detector_status("ddm", DriftStatus::Warning);
    assert!(!single(&RetrainPolicy::detector("ddm"), &e).fired);
    let warn: RetrainPolicy = Trigger::DetectorDrift {
        detector: "ddm".into(),
        on_warning: true,
    }
    .into();
    let t = single(&warn, &e);
    assert!(t.fired);
    assert_eq!((t.observed, t.threshold), (Some(0.5), Some(0.5)));
}

#[test]
fn metric_trigger_with_the_windowed_monitor() {
    let mut m = WindowedClassificationMonitor::new(Window::Count(100), 0.5).unwrap();
    // 95 right, 5 wrong: accuracy 0.95.
    for i in 0..100_u64 {
        let label = i % 2 == 0;
        let right = i >= 5;
        let score = if label == right { 0.9 } else { 0.1 };
        m.observe(i, label, score).unwrap();
    }
    let policy = RetrainPolicy::metric_below(Metric::Accuracy, 0.90, 50);
    let t = single(&policy, &Evidence::default().with_performance(m.metrics()));
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert_eq!(t.observed, Some(0.95));
    assert_eq!(t.threshold, Some(0.9));
    // 15 wrong ones push the first 15 out: 85 right out of 100.
    for i in 100..115_u64 {
        let label = i % 2 == 0;
        m.observe(i, label, if label { 0.1 } else { 0.9 }).unwrap();
    }
    let t = single(&policy, &Evidence::default().with_performance(m.metrics()));
    assert_eq!(t.status, TriggerStatus::Fired);
    assert_eq!(t.observed, Some(0.85));
    assert_eq!(
        t.reason,
        "observed accuracy 0.85 over 100 outcomes is below 0.9"
    );

    // Too few outcomes: no evidence, but the value is still recorded.
    let t = single(
        &RetrainPolicy::metric_below(Metric::Accuracy, 0.90, 1000),
        &Evidence::default().with_performance(m.metrics()),
    );
    assert_eq!(t.status, TriggerStatus::NoEvidence);
    assert_eq!(t.observed, Some(0.85));
    // Undefined metric: no evidence.
    let t = single(
        &RetrainPolicy::metric_below(Metric::Accuracy, 0.90, 0),
        &Evidence::default().with_performance(metrics(0, None)),
    );
    assert_eq!(t.status, TriggerStatus::NoEvidence);
    // Equal to the minimum does not fire (strictly below).
    let t = single(
        &RetrainPolicy::metric_below(Metric::Accuracy, 0.85, 1),
        &Evidence::default().with_performance(m.metrics()),
    );
    assert!(!t.fired);
    // No performance at all.
    let t = single(&policy, &Evidence::default());
    assert_eq!(t.status, TriggerStatus::NoEvidence);
}

#[test]
fn estimated_metric_trigger_reads_cbpe() {
    let est = estimate_performance(&[0.55, 0.6, 0.45, 0.5], 0.5).unwrap();
    let policy = RetrainPolicy::estimated_metric_below(Metric::Accuracy, 0.7, 4);
    // Observed metrics are ignored by an estimated trigger.
    let e = Evidence::default().with_performance(metrics(100, Some(0.1)));
    assert_eq!(single(&policy, &e).status, TriggerStatus::NoEvidence);
    let e = e.with_estimated_performance(est.metrics);
    let t = single(&policy, &e);
    assert!(t.fired);
    assert!(t.reason.starts_with("estimated accuracy"), "{}", t.reason);
    match &t.trigger {
        Trigger::MetricBelow { source, .. } => assert_eq!(*source, PerformanceSource::Estimated),
        other => panic!("unexpected trigger {other:?}"),
    }
}

#[test]
fn data_volume_trigger() {
    let policy = RetrainPolicy::data_volume(10_000);
    let t = single(&policy, &Evidence::default().with_new_labelled_rows(9_999));
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert_eq!((t.observed, t.threshold), (Some(9_999.0), Some(10_000.0)));
    let t = single(&policy, &Evidence::default().with_new_labelled_rows(10_000));
    assert!(t.fired);
    assert_eq!(
        t.reason,
        "10000 new labelled rows since the last training reach 10000"
    );
    assert_eq!(
        single(&policy, &Evidence::default()).status,
        TriggerStatus::NoEvidence
    );
}

#[test]
fn schedule_trigger_is_deterministic_in_the_given_time() {
    let policy = RetrainPolicy::schedule(Duration::from_secs(7 * 24 * 3600));
    let trained = 1_700_000_000_000;
    let e = |now: u64| Evidence::at(now).with_last_trained_ms(trained);
    let t = single(&policy, &e(trained + 7 * DAY - 1));
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert_eq!(t.observed, Some((7 * DAY - 1) as f64));
    assert_eq!(t.threshold, Some((7 * DAY) as f64));
    let t = single(&policy, &e(trained + 7 * DAY));
    assert!(t.fired);
    assert_eq!(
        t.reason,
        "7d since the last training reach the maximum age 7d"
    );
    let t = single(&policy, &e(trained + 7 * DAY + 3_600_000 + 1_500));
    assert_eq!(
        t.reason,
        "7d 1h 1.5s since the last training reach the maximum age 7d"
    );
    // Clock before the training time: not fired, explained.
    let t = single(&policy, &e(trained - 1));
    assert_eq!(t.status, TriggerStatus::NotFired);
    assert!(
        t.reason.contains("before the last training"),
        "{}",
        t.reason
    );
    // Missing either time: no evidence.
    assert_eq!(
        single(&policy, &Evidence::at(trained)).status,
        TriggerStatus::NoEvidence
    );
    assert_eq!(
        single(&policy, &Evidence::default().with_last_trained_ms(0)).status,
        TriggerStatus::NoEvidence
    );
    // Same evidence, same decision.
    assert_eq!(
        policy.evaluate(&e(trained + 8 * DAY)),
        policy.evaluate(&e(trained + 8 * DAY))
    );
}

#[test]
fn any_and_all_compose_and_record_every_trigger() {
    let policy = RetrainPolicy::any([
        RetrainPolicy::metric_below(Metric::Accuracy, 0.9, 10),
        RetrainPolicy::all([
            RetrainPolicy::dataset_drift(),
            RetrainPolicy::data_volume(1_000),
        ]),
    ]);
    policy.check().unwrap();
    assert_eq!(policy.triggers().len(), 3);

    // Drift without enough data, accuracy fine: keep.
    let e = Evidence::at(5)
        .with_dataset_drift(&drift(3))
        .with_new_labelled_rows(10)
        .with_performance(metrics(100, Some(0.95)));
    let d = policy.evaluate(&e);
    assert!(!d.retrain);
    assert_eq!(d.triggers().len(), 3);
    assert_eq!(d.fired().len(), 1);
    assert_eq!(d.evaluated_at_ms, Some(5));
    assert!(
        d.reason
            .starts_with("keep the current model: 1 trigger(s) fired")
    );
    match &d.outcome {
        PolicyOutcome::Any { fired, children } => {
            assert!(!fired);
            assert!(matches!(
                children[1],
                PolicyOutcome::All { fired: false, .. }
            ));
        }
        other => panic!("unexpected outcome {other:?}"),
    }

    // Drift and enough data: retrain via the `all` branch.
    let e = e.with_new_labelled_rows(5_000);
    let d = policy.evaluate(&e);
    assert!(d.retrain);
    assert_eq!(d.fired().len(), 2);
    assert!(
        d.reason.starts_with("retrain: 3 of 3 columns drifted"),
        "{}",
        d.reason
    );
    assert!(d.reason.contains("5000 new labelled rows"));

    // Accuracy alone is enough.
    let e = Evidence::default().with_performance(metrics(100, Some(0.5)));
    let d = policy.evaluate(&e);
    assert!(d.retrain);
    assert_eq!(d.fired().len(), 1);

    // Nothing at all: keep, with every trigger lacking evidence.
    let d = policy.evaluate(&Evidence::default());
    assert!(!d.retrain);
    assert_eq!(d.reason, "keep the current model: no trigger fired");
    assert!(
        d.triggers()
            .iter()
            .all(|t| t.status == TriggerStatus::NoEvidence)
    );

    // Nesting several levels deep.
    let deep = RetrainPolicy::all([RetrainPolicy::any([RetrainPolicy::all([
        RetrainPolicy::data_volume(1),
    ])])]);
    assert!(
        deep.evaluate(&Evidence::default().with_new_labelled_rows(1))
            .retrain
    );
    assert!(
        !deep
            .evaluate(&Evidence::default().with_new_labelled_rows(0))
            .retrain
    );
}

#[test]
fn degenerate_policies_never_fire_and_check_rejects_them() {
    let e = Evidence::at(10)
        .with_last_trained_ms(0)
        .with_new_labelled_rows(u64::MAX)
        .with_performance(metrics(10, Some(0.0)));
    for (policy, name) in [
        (RetrainPolicy::all(Vec::<RetrainPolicy>::new()), "policies"),
        (RetrainPolicy::any(Vec::<RetrainPolicy>::new()), "policies"),
        (RetrainPolicy::drifted_share(0.0), "min_share"),
        (RetrainPolicy::drifted_share(f64::NAN), "min_share"),
        (RetrainPolicy::drifted_share(1.5), "min_share"),
        (
            RetrainPolicy::metric_below(Metric::Accuracy, f64::NAN, 0),
            "min",
        ),
        (RetrainPolicy::data_volume(0), "min_rows"),
        (RetrainPolicy::schedule(Duration::ZERO), "max_age_ms"),
        (
            RetrainPolicy::any([
                RetrainPolicy::data_volume(5),
                RetrainPolicy::all(Vec::<RetrainPolicy>::new()),
            ]),
            "policies",
        ),
    ] {
        match policy.check() {
            Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name, "{policy:?}"),
            other => panic!("{policy:?}: expected InvalidParameter, got {other:?}"),
        }
    }
    // Evaluation stays total: empty combinators and NaN minimums do not fire.
    assert!(
        !RetrainPolicy::all(Vec::<RetrainPolicy>::new())
            .evaluate(&e)
            .retrain
    );
    assert!(
        !RetrainPolicy::any(Vec::<RetrainPolicy>::new())
            .evaluate(&e)
            .retrain
    );
    let t = single(
        &RetrainPolicy::metric_below(Metric::Accuracy, f64::NAN, 0),
        &e,
    );
    assert!(!t.fired);
    assert_eq!(t.threshold, None);
    // Zero thresholds are rejected by check but evaluate sensibly.
    assert!(
        single(
            &RetrainPolicy::data_volume(0),
            &Evidence::default().with_new_labelled_rows(0)
        )
        .fired
    );
    // A huge schedule saturates instead of overflowing.
    let p = RetrainPolicy::schedule(Duration::MAX);
    assert!(matches!(
        p.triggers()[0],
        Trigger::Schedule {
            max_age_ms: u64::MAX
        }
    ));
    assert!(!p.evaluate(&e).retrain);
}

#[test]
fn policy_and_decision_round_trip_through_json() {
    let policy = RetrainPolicy::any([
        RetrainPolicy::detector("adwin"),
        RetrainPolicy::all([
            RetrainPolicy::drifted_share(0.25),
            RetrainPolicy::estimated_metric_below(Metric::F1, 0.8, 1),
        ]),
        RetrainPolicy::schedule(Duration::from_secs(3600)),
    ]);
    let json = serde_json::to_string(&policy).unwrap();
    let back: RetrainPolicy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, policy);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["any"][0]["trigger"]["trigger"], "detector_drift");
    assert_eq!(v["any"][2]["trigger"]["max_age_ms"], 3_600_000);
    // A policy written by hand.
    let hand: RetrainPolicy = serde_json::from_str(
        r#"{"all": [{"trigger": {"trigger": "data_volume", "min_rows": 100}},
                    {"trigger": {"trigger": "metric_below", "metric": "roc_auc", "min": 0.7,
                                 "min_samples": 50, "source": "observed"}}]}"#,
    )
    .unwrap();
    hand.check().unwrap();
    assert_eq!(hand.triggers().len(), 2);

    let evidence = Evidence::at(7_200_000)
        .with_last_trained_ms(0)
        .with_dataset_drift(&drift(1))
        .with_detector_status("adwin", DriftStatus::Stable)
        .with_estimated_performance(metrics(10, Some(0.5)))
        .with_new_labelled_rows(3);
    let ev_json = serde_json::to_string(&evidence).unwrap();
    assert_eq!(
        serde_json::from_str::<Evidence>(&ev_json).unwrap(),
        evidence
    );
    // Missing parts default to absent.
    assert_eq!(
        serde_json::from_str::<Evidence>("{}").unwrap(),
        Evidence::default()
    );

    let decision = policy.evaluate(&evidence);
    assert!(decision.retrain);
    let json = decision.to_json().unwrap();
    let back: RetrainDecision = serde_json::from_str(&json).unwrap();
    assert_eq!(back, decision);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["retrain"], true);
    assert_eq!(v["outcome"]["kind"], "any");
    let sched = &v["outcome"]["children"][2];
    assert_eq!(sched["kind"], "trigger");
    assert_eq!(sched["status"], "fired");
    assert_eq!(sched["observed"], 7_200_000.0);
    assert_eq!(sched["threshold"], 3_600_000.0);
    assert_eq!(
        sched["reason"],
        "2h since the last training reach the maximum age 1h"
    );
    let no_ev = &v["outcome"]["children"][1]["children"][1];
    assert_eq!(no_ev["status"], "no_evidence");
    assert!(no_ev["observed"].is_null());
}

#[test]
fn policy_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RetrainPolicy>();
    send_sync::<Evidence>();
    send_sync::<RetrainDecision>();
}
