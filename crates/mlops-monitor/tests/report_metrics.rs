//! JSON drift report and Prometheus exposition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use mlops_monitor::auto::{ColumnData, DriftConfig};
use mlops_monitor::dataset::{ColumnDistribution, StreamDrift};
use mlops_monitor::metrics::{
    Exposition, escape_label_value, format_value, is_valid_label_name, is_valid_metric_name,
    render_drift, render_performance, render_report,
};
use mlops_monitor::performance::{Metric, MetricThreshold, Window, WindowedClassificationMonitor};
use mlops_monitor::report::{DriftReport, REPORT_VERSION};
use mlops_monitor::{DatasetDrift, Error};

fn small_drift() -> DatasetDrift {
    let a: Vec<f64> = (0..200).map(f64::from).collect();
    let b: Vec<f64> = (0..200).map(|i| f64::from(i) + 100.0).collect();
    let mut ca = BTreeMap::new();
    ca.insert("x\"y".to_owned(), 10_u64);
    ca.insert("z".to_owned(), 10_u64);
    DriftConfig::default()
        .test_dataset([
            ("shifted", ColumnData::Numeric(&a), ColumnData::Numeric(&b)),
            (
                "cat",
                ColumnData::Categorical(&ca),
                ColumnData::Categorical(&ca),
            ),
        ])
        .unwrap()
}

#[test]
fn report_round_trips_and_has_the_documented_shape() {
    let drift = small_drift();
    let stream = StreamDrift {
        distributions: vec![
            ColumnDistribution::Numeric {
                edges: vec![0.0, 150.0, 300.0],
                reference: vec![150, 50],
                current: vec![50, 150],
            },
            ColumnDistribution::Categorical {
                reference: [("x\"y".to_owned(), 0.5), ("z".to_owned(), 0.5)].into(),
                current: [("x\"y".to_owned(), 0.5), ("z".to_owned(), 0.5)].into(),
            },
        ],
        drift: drift.clone(),
        n_reference_rows: 200,
        n_current_rows: 180,
    };
    let report = DriftReport::from_stream_drift(&stream, "2026-11-27T12:00:00Z");
    let json = report.to_json().unwrap();
    let back = DriftReport::from_json(&json).unwrap();
    assert_eq!(back, report);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["version"], REPORT_VERSION);
    assert_eq!(v["generated_at"], "2026-11-27T12:00:00Z");
    assert_eq!(v["dataset"]["n_columns"], 2);
    assert_eq!(v["dataset"]["n_drifted"], 1);
    assert_eq!(v["dataset"]["drifted"], true);
    assert_eq!(v["dataset"]["n_reference_rows"], 200);
    assert_eq!(v["dataset"]["n_current_rows"], 180);
    let c0 = &v["columns"][0];
    assert_eq!(c0["column"], "shifted");
    assert_eq!(c0["kind"], "numeric");
    assert_eq!(c0["test"], "kolmogorov_smirnov");
    assert!(c0["p_value"].is_number());
    assert_eq!(c0["threshold"], 0.05);
    assert_eq!(c0["drifted"], true);
    assert_eq!(c0["n_reference"], 200);
    assert_eq!(c0["distribution"]["kind"], "numeric");
    assert_eq!(c0["distribution"]["current"][1], 150);
    let c1 = &v["columns"][1];
    assert_eq!(c1["test"], "z_test");
    assert_eq!(c1["distribution"]["reference"]["z"], 0.5);

    let bare = DriftReport::from_dataset_drift(&drift, "t");
    let v: serde_json::Value = serde_json::from_str(&bare.to_json().unwrap()).unwrap();
    assert!(v["columns"][0]["distribution"].is_null());
    // Row counts are unknown here and omitted; v1 readers accept their absence.
    assert!(v["dataset"].get("n_reference_rows").is_none());
    assert_eq!(
        DriftReport::from_json(&bare.to_json().unwrap()).unwrap(),
        bare
    );

    let wrong = json.replace(REPORT_VERSION, "mlops.drift-report/v0");
    assert!(matches!(
        DriftReport::from_json(&wrong),
        Err(Error::Json { .. })
    ));
    assert!(matches!(
        DriftReport::from_json("{"),
        Err(Error::Json { .. })
    ));
}

#[test]
fn drift_exposition_exact() {
    let drift = small_drift();
    let text = render_drift(&drift).unwrap();
    let ks = &drift.columns[0].result;
    let z = &drift.columns[1].result;
    let expected = format!(
        "# HELP mlops_drift_score Drift test statistic per column.\n\
         # TYPE mlops_drift_score gauge\n\
         mlops_drift_score{{column=\"shifted\",test=\"ks\"}} {}\n\
         mlops_drift_score{{column=\"cat\",test=\"z\"}} {}\n\
         # HELP mlops_drift_p_value Drift test p-value per column (hypothesis tests).\n\
         # TYPE mlops_drift_p_value gauge\n\
         mlops_drift_p_value{{column=\"shifted\",test=\"ks\"}} {}\n\
         mlops_drift_p_value{{column=\"cat\",test=\"z\"}} {}\n\
         # HELP mlops_drift_detected 1 if the column drifted, else 0.\n\
         # TYPE mlops_drift_detected gauge\n\
         mlops_drift_detected{{column=\"shifted\",test=\"ks\"}} 1\n\
         mlops_drift_detected{{column=\"cat\",test=\"z\"}} 0\n\
         # HELP mlops_dataset_drift_share Share of drifted columns.\n\
         # TYPE mlops_dataset_drift_share gauge\n\
         mlops_dataset_drift_share 0.5\n\
         # HELP mlops_dataset_drift_detected 1 if the dataset drifted, else 0.\n\
         # TYPE mlops_dataset_drift_detected gauge\n\
         mlops_dataset_drift_detected 1\n",
        format_value(ks.statistic),
        format_value(z.statistic),
        format_value(ks.p_value.unwrap()),
        format_value(z.p_value.unwrap()),
    );
    assert_eq!(text, expected);
    assert!(text.contains("mlops_drift_score{column=\"shifted\",test=\"ks\"} 0.5\n"));
    let report = DriftReport::from_dataset_drift(&drift, "t");
    assert_eq!(render_report(&report).unwrap(), text);
}

#[test]
fn performance_exposition_exact() {
    let mut m = WindowedClassificationMonitor::new(Window::Count(4), 0.5).unwrap();
    for (t, (y, p)) in [(true, 0.9), (false, 0.2), (true, 0.4), (false, 0.6)]
        .into_iter()
        .enumerate()
    {
        m.observe(t as u64, y, p).unwrap();
    }
    let status = m.status(
        &[MetricThreshold {
            metric: Metric::Accuracy,
            min: 0.9,
        }],
        1,
    );
    let text = render_performance(&status).unwrap();
    assert_eq!(
        text,
        "# HELP mlops_performance_metric Model performance metric over the monitoring window.\n\
         # TYPE mlops_performance_metric gauge\n\
         mlops_performance_metric{metric=\"accuracy\"} 0.5\n\
         mlops_performance_metric{metric=\"precision\"} 0.5\n\
         mlops_performance_metric{metric=\"recall\"} 0.5\n\
         mlops_performance_metric{metric=\"f1\"} 0.5\n\
         mlops_performance_metric{metric=\"roc_auc\"} 0.75\n\
         # HELP mlops_performance_samples Labelled outcomes in the monitoring window.\n\
         # TYPE mlops_performance_samples gauge\n\
         mlops_performance_samples 4\n\
         # HELP mlops_performance_alert 1 if a performance threshold is violated, else 0.\n\
         # TYPE mlops_performance_alert gauge\n\
         mlops_performance_alert 1\n"
    );
}

#[test]
fn escaping_validation_and_const_labels() {
    assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    assert!(is_valid_metric_name("mlops_x:y_1"));
    for bad in ["", "1abc", "a-b", "a b", "é"] {
        assert!(!is_valid_metric_name(bad), "{bad}");
    }
    assert!(is_valid_label_name("column"));
    for bad in ["", "__reserved", "a:b", "9x"] {
        assert!(!is_valid_label_name(bad), "{bad}");
    }
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(3.0), "3");
    assert_eq!(format_value(0.25), "0.25");
    assert_eq!(format_value(1e-7), "1e-7");

    let mut e = Exposition::new();
    assert!(matches!(
        e.gauge("bad-name", "h", &[]),
        Err(Error::InvalidMetricName { what: "metric", .. })
    ));
    assert!(matches!(
        e.gauge("ok", "h", &[(vec![("bad-label", "v")], 1.0)]),
        Err(Error::InvalidMetricName { what: "label", .. })
    ));
    assert_eq!(e.finish(), "");

    let labels: BTreeMap<String, String> = [("model".to_owned(), "churn\nv2".to_owned())].into();
    let mut e = Exposition::with_const_labels(labels).unwrap();
    e.gauge(
        "m",
        "Help with \\ and\nnewline.",
        &[(vec![("k", "v")], 2.5), (vec![], 1.0)],
    )
    .unwrap();
    assert_eq!(
        e.finish(),
        "# HELP m Help with \\\\ and\\nnewline.\n# TYPE m gauge\n\
         m{model=\"churn\\nv2\",k=\"v\"} 2.5\nm{model=\"churn\\nv2\"} 1\n"
    );
    let bad: BTreeMap<String, String> = [("__x".to_owned(), "v".to_owned())].into();
    assert!(Exposition::with_const_labels(bad).is_err());
}

#[test]
fn infinite_statistic_is_null_in_json() {
    let mut a = BTreeMap::new();
    a.insert("x".to_owned(), 50_u64);
    a.insert("y".to_owned(), 50_u64);
    let mut b = a.clone();
    b.insert("new".to_owned(), 10_u64);
    let drift = DriftConfig::default()
        .test_dataset([(
            "c",
            ColumnData::Categorical(&a),
            ColumnData::Categorical(&b),
        )])
        .unwrap();
    let stat = drift.columns[0].result.statistic;
    let report = DriftReport::from_dataset_drift(&drift, "t");
    let json = report.to_json().unwrap();
    let back = DriftReport::from_json(&json).unwrap();
    if stat.is_finite() {
        assert_eq!(back, report);
    } else {
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["columns"][0]["statistic"].is_null());
        assert!(back.columns[0].statistic.is_nan());
    }
    // A NaN statistic is also written as null.
    let mut r = report.clone();
    r.columns[0].statistic = f64::NAN;
    let back = DriftReport::from_json(&r.to_json().unwrap()).unwrap();
    assert!(back.columns[0].statistic.is_nan());
}

#[test]
fn public_types_are_send_sync_and_round_trip() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DriftReport>();
    send_sync::<StreamDrift>();
    send_sync::<WindowedClassificationMonitor>();
    send_sync::<mlops_monitor::DatasetDriftOptions>();
    send_sync::<Error>();

    let mut m = WindowedClassificationMonitor::new(Window::Time { millis: 50 }, 0.3).unwrap();
    m.observe(1, true, 0.4).unwrap();
    m.observe(20, false, 0.1).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    let back: WindowedClassificationMonitor = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    let opts = mlops_monitor::DatasetDriftOptions {
        columns: Some(vec!["a".into()]),
        exclude: vec!["b".into()],
        max_sample: 10,
        seed: 3,
        max_categories: 7,
    };
    let back: mlops_monitor::DatasetDriftOptions =
        serde_json::from_str(&serde_json::to_string(&opts).unwrap()).unwrap();
    assert_eq!(back, opts);
    let status = m.status(
        &[MetricThreshold {
            metric: Metric::Recall,
            min: 0.5,
        }],
        1,
    );
    let back: mlops_monitor::PerformanceStatus =
        serde_json::from_str(&serde_json::to_string(&status).unwrap()).unwrap();
    assert_eq!(back, status);
}
