//! Golden detections from `tests/fixtures/detectors/gen.py` (river).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mlops_monitor::detect::{AdwinParams, DdmParams, PageHinkleyMode, PageHinkleyParams};
use mlops_monitor::{DriftDetector, DriftStatus};
use serde_json::Value;

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/detectors/golden.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn build(kind: &str, p: &Value) -> Box<dyn DriftDetector> {
    let f = |k: &str| p.get(k).and_then(Value::as_f64);
    let u = |k: &str| p.get(k).and_then(Value::as_u64).map(|v| v as u32);
    match kind {
        "adwin" => {
            let d = AdwinParams::default();
            Box::new(
                AdwinParams {
                    delta: f("delta").unwrap_or(d.delta),
                    clock: u("clock").unwrap_or(d.clock),
                    max_buckets: u("max_buckets").map_or(d.max_buckets, |v| v as usize),
                    min_window_length: u("min_window_length").unwrap_or(d.min_window_length),
                    grace_period: u("grace_period").unwrap_or(d.grace_period),
                }
                .build()
                .unwrap(),
            )
        }
        "page_hinkley" => {
            let d = PageHinkleyParams::default();
            let mode = match p.get("mode").and_then(Value::as_str) {
                Some("up") => PageHinkleyMode::Up,
                Some("down") => PageHinkleyMode::Down,
                _ => PageHinkleyMode::Both,
            };
            Box::new(
                PageHinkleyParams {
                    min_instances: u("min_instances").unwrap_or(d.min_instances),
                    delta: f("delta").unwrap_or(d.delta),
                    threshold: f("threshold").unwrap_or(d.threshold),
                    alpha: f("alpha").unwrap_or(d.alpha),
                    mode,
                }
                .build()
                .unwrap(),
            )
        }
        "ddm" => {
            let d = DdmParams::default();
            Box::new(
                DdmParams {
                    warm_start: u("warm_start").unwrap_or(d.warm_start),
                    warning_threshold: f("warning_threshold").unwrap_or(d.warning_threshold),
                    drift_threshold: f("drift_threshold").unwrap_or(d.drift_threshold),
                }
                .build()
                .unwrap(),
            )
        }
        other => panic!("unknown detector {other}"),
    }
}

#[test]
fn detections_match_river() {
    let g = golden();
    for case in g["cases"].as_array().unwrap() {
        let kind = case["detector"].as_str().unwrap();
        let name = case["name"].as_str().unwrap();
        let mut det = build(kind, &case["params"]);
        let stream: Vec<f64> = case["stream"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let (mut drifts, mut warnings) = (Vec::new(), Vec::new());
        for (i, &x) in stream.iter().enumerate() {
            match det.update(x) {
                DriftStatus::Drift => drifts.push(i),
                DriftStatus::Warning => warnings.push(i),
                DriftStatus::Stable => {}
            }
        }
        assert_eq!(
            drifts,
            indices(&case["drifts"]),
            "{kind} {name}: drift indices"
        );
        if let Some(w) = case.get("warnings") {
            assert_eq!(warnings, indices(w), "{kind} {name}: warning indices");
        }
    }
}
