//! The bad-input catalogue of `mlops-monitor` (issue 8): empty windows, NaN and infinities,
//! mismatched columns and profiles, wrong value domains, bad parameters and bad report JSON.
//! Each case names the exact [`Error`] variant and what the message must name; stateful
//! monitors (detectors, windowed metrics) are compared before and after a rejected input.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use mlops_data::BatchStream;
use mlops_data::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_data::arrow::{DataType, Field, Schema};
use mlops_data::profile::{ProfileOptions, profile_batch};
use mlops_monitor::detect::{AdwinParams, DdmParams, PageHinkleyParams};
use mlops_monitor::drift::{self, TestKind};
use mlops_monitor::metrics::Exposition;
use mlops_monitor::performance::{Window, estimate_performance};
use mlops_monitor::{
    ColumnData, ColumnKind, DatasetDriftOptions, DriftConfig, DriftDetector, DriftReport, Error,
    Sample, WindowedClassificationMonitor, drift_against_profile, drift_between_streams,
};

struct Case {
    name: &'static str,
    run: fn() -> Result<(), Error>,
    expect: fn(&Error) -> bool,
    names: &'static [&'static str],
}

fn cats(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn wave(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 * 0.37).sin()).collect()
}

/// A two-column batch: `x` numeric and `plan` text.
fn batch(x: Vec<f64>, plan_as_number: bool) -> RecordBatch {
    let n = x.len();
    let plan: ArrayRef = if plan_as_number {
        Arc::new(Float64Array::from(vec![1.0; n]))
    } else {
        Arc::new(StringArray::from(
            (0..n)
                .map(|i| if i % 2 == 0 { "a" } else { "b" })
                .collect::<Vec<_>>(),
        ))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("plan", plan.data_type().clone(), true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Float64Array::from(x)) as ArrayRef, plan],
    )
    .unwrap()
}

fn stream(b: RecordBatch) -> BatchStream {
    BatchStream::from_batches(b.schema(), vec![b])
}

fn only_x(x: Vec<f64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(x)) as ArrayRef]).unwrap()
}

fn between(reference: RecordBatch, current: RecordBatch) -> Result<(), Error> {
    drift_between_streams(
        stream(reference),
        stream(current),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .map(|_| ())
}

fn cases() -> Vec<Case> {
    vec![
        // ---- samples --------------------------------------------------------------------------
        Case {
            name: "empty reference window",
            run: || drift::ks_2samp(&[], &[1.0]).map(|_| ()),
            expect: |e| {
                *e == Error::EmptySample {
                    sample: Sample::Reference,
                }
            },
            names: &["reference", "empty"],
        },
        Case {
            name: "empty current window",
            run: || drift::wasserstein_test(&[1.0], &[], 0.1).map(|_| ()),
            expect: |e| {
                *e == Error::EmptySample {
                    sample: Sample::Current,
                }
            },
            names: &["current", "empty"],
        },
        Case {
            name: "NaN in the current window",
            run: || drift::ks_2samp(&[1.0, 2.0], &[0.0, f64::NAN]).map(|_| ()),
            expect: |e| {
                *e == Error::NanInSample {
                    sample: Sample::Current,
                    index: 1,
                }
            },
            names: &["current", "index 1"],
        },
        Case {
            name: "infinity in the reference window",
            run: || drift::wasserstein_test(&[1.0, f64::INFINITY], &[0.0], 0.1).map(|_| ()),
            expect: |e| {
                *e == Error::NonFiniteInSample {
                    sample: Sample::Reference,
                    index: 1,
                    value: f64::INFINITY,
                }
            },
            names: &["reference", "inf", "index 1"],
        },
        Case {
            name: "NaN in a PSI reference",
            run: || drift::psi_test(&[f64::NAN], &[0.0], 10, 0.1).map(|_| ()),
            expect: |e| {
                matches!(
                    e,
                    Error::NanInSample {
                        sample: Sample::Reference,
                        index: 0
                    }
                )
            },
            names: &["reference"],
        },
        Case {
            name: "all-zero category counts",
            run: || {
                drift::chi_square_test(&cats(&[("a", 1)]), &cats(&[("a", 0)]), 0.05).map(|_| ())
            },
            expect: |e| {
                *e == Error::EmptySample {
                    sample: Sample::Current,
                }
            },
            names: &["current"],
        },
        Case {
            name: "column with a NaN, tested by name",
            run: || {
                DriftConfig::default()
                    .test_column(
                        "age",
                        ColumnData::Numeric(&wave(50)),
                        ColumnData::Numeric(&[1.0, f64::NAN]),
                    )
                    .map(|_| ())
            },
            expect: |e| {
                matches!(e, Error::Column { column, source }
                    if column == "age" && **source == Error::NanInSample { sample: Sample::Current, index: 1 })
            },
            names: &["\"age\"", "NaN"],
        },
        Case {
            name: "numeric reference, categorical current",
            run: || {
                DriftConfig::default()
                    .test_column(
                        "mixed",
                        ColumnData::Numeric(&wave(50)),
                        ColumnData::Categorical(&cats(&[("a", 3)])),
                    )
                    .map(|_| ())
            },
            expect: |e| {
                *e == Error::ColumnKindMismatch {
                    column: "mixed".into(),
                    reference: ColumnKind::Numeric,
                    current: ColumnKind::Categorical,
                }
            },
            names: &["\"mixed\"", "numeric", "categorical"],
        },
        Case {
            name: "numeric test forced on a categorical column",
            run: || {
                let mut cfg = DriftConfig::default();
                cfg.overrides
                    .insert("plan".into(), TestKind::KolmogorovSmirnov);
                let c = cats(&[("a", 3), ("b", 4)]);
                cfg.test_column(
                    "plan",
                    ColumnData::Categorical(&c),
                    ColumnData::Categorical(&c),
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::IncompatibleTest { column, kind: ColumnKind::Categorical, .. } if column == "plan"),
            names: &["\"plan\""],
        },
        // ---- tables and profiles ----------------------------------------------------------------
        Case {
            name: "current table lacks a reference column",
            run: || between(batch(wave(40), false), only_x(wave(40))),
            expect: |e| matches!(e, Error::MissingColumn { column, sample: Sample::Current, .. } if column == "plan"),
            names: &["\"plan\"", "current"],
        },
        Case {
            name: "column type differs between reference and current",
            run: || between(batch(wave(40), false), batch(wave(40), true)),
            expect: |e| {
                matches!(e, Error::ColumnKindMismatch { column, reference: ColumnKind::Categorical, current: ColumnKind::Numeric }
                    if column == "plan")
            },
            names: &["\"plan\""],
        },
        Case {
            name: "empty current table",
            run: || between(batch(wave(40), false), batch(vec![], false)),
            expect: |e| {
                matches!(e, Error::Column { column, source } if column == "x"
                    && **source == Error::EmptySample { sample: Sample::Current })
            },
            names: &["\"x\"", "current"],
        },
        Case {
            name: "only NaN and infinities in a current table column (skipped, so empty)",
            run: || {
                let x = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
                between(batch(wave(40), false), batch(x, false))
            },
            expect: |e| {
                matches!(e, Error::Column { column, source } if column == "x"
                    && **source == Error::EmptySample { sample: Sample::Current })
            },
            names: &["\"x\""],
        },
        Case {
            name: "profile of another table",
            run: || {
                let profile = profile_batch(&batch(wave(40), false), &ProfileOptions::default())
                    .map_err(|e| Error::Json {
                        message: e.to_string(),
                    })?;
                drift_against_profile(
                    &profile,
                    stream(only_x(wave(40))),
                    &DriftConfig::default(),
                    &DatasetDriftOptions::default(),
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::MissingColumn { column, sample: Sample::Current, .. } if column == "plan"),
            names: &["\"plan\"", "current"],
        },
        Case {
            name: "asking for a column the tables do not have",
            run: || {
                drift_between_streams(
                    stream(batch(wave(40), false)),
                    stream(batch(wave(40), false)),
                    &DriftConfig::default(),
                    &DatasetDriftOptions {
                        columns: Some(vec!["income".into()]),
                        ..DatasetDriftOptions::default()
                    },
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::MissingColumn { column, .. } if column == "income"),
            names: &["\"income\""],
        },
        // ---- performance --------------------------------------------------------------------
        Case {
            name: "probability above 1 for CBPE",
            run: || estimate_performance(&[0.2, 1.5], 0.5).map(|_| ()),
            expect: |e| {
                *e == Error::InvalidProbability {
                    index: 1,
                    value: 1.5,
                }
            },
            names: &["1.5", "index 1"],
        },
        Case {
            name: "NaN probability for CBPE",
            run: || estimate_performance(&[f64::NAN], 0.5).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidProbability { index: 0, value } if value.is_nan()),
            names: &["NaN"],
        },
        Case {
            name: "zero-length count window",
            run: || WindowedClassificationMonitor::new(Window::Count(0), 0.5).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { .. }),
            names: &["0"],
        },
        // ---- parameters ---------------------------------------------------------------------
        Case {
            name: "alpha of 0",
            run: || drift::ks_test(&[1.0], &[2.0], 0.0).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { name: "alpha", .. }),
            names: &["alpha"],
        },
        Case {
            name: "NaN threshold",
            run: || drift::wasserstein_test(&[1.0], &[2.0], f64::NAN).map(|_| ()),
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidParameter {
                        name: "threshold",
                        ..
                    }
                )
            },
            names: &["threshold", "NaN"],
        },
        Case {
            name: "one PSI bin",
            run: || drift::psi_test(&[1.0], &[2.0], 1, 0.1).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { name: "n_bins", .. }),
            names: &["n_bins"],
        },
        Case {
            name: "ADWIN delta of 0",
            run: || {
                AdwinParams {
                    delta: 0.0,
                    ..Default::default()
                }
                .build()
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidParameter { name: "delta", .. }),
            names: &["delta"],
        },
        Case {
            name: "Page-Hinkley alpha above 1",
            run: || {
                PageHinkleyParams {
                    alpha: 1.5,
                    ..Default::default()
                }
                .build()
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidParameter { name: "alpha", .. }),
            names: &["alpha", "1.5"],
        },
        Case {
            name: "DDM drift threshold below the warning threshold",
            run: || {
                DdmParams {
                    warning_threshold: 3.0,
                    drift_threshold: 2.0,
                    ..Default::default()
                }
                .build()
                .map(|_| ())
            },
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidParameter {
                        name: "drift_threshold",
                        ..
                    }
                )
            },
            names: &["drift_threshold"],
        },
        Case {
            name: "dataset drift share of 0",
            run: || {
                DriftConfig {
                    dataset_drift_share: 0.0,
                    ..Default::default()
                }
                .test_dataset([])
                .map(|_| ())
            },
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidParameter {
                        name: "dataset_drift_share",
                        ..
                    }
                )
            },
            names: &["dataset_drift_share"],
        },
        // ---- exposition and reports ---------------------------------------------------------
        Case {
            name: "Prometheus metric name with a space",
            run: || Exposition::new().gauge("drift score", "help", &[(vec![], 1.0)]),
            expect: |e| matches!(e, Error::InvalidMetricName { what: "metric", name } if name == "drift score"),
            names: &["\"drift score\""],
        },
        Case {
            name: "Prometheus label name starting with a digit",
            run: || Exposition::new().gauge("drift", "help", &[(vec![("1col", "x")], 1.0)]),
            expect: |e| matches!(e, Error::InvalidMetricName { what: "label", name } if name == "1col"),
            names: &["\"1col\""],
        },
        Case {
            name: "drift report JSON truncated",
            run: || DriftReport::from_json("{\"version\": 1, \"columns\": [").map(|_| ()),
            expect: |e| matches!(e, Error::Json { .. }),
            names: &["drift report JSON"],
        },
        Case {
            name: "drift report JSON of another shape",
            run: || DriftReport::from_json("[1, 2, 3]").map(|_| ()),
            expect: |e| matches!(e, Error::Json { .. }),
            names: &["drift report JSON"],
        },
    ]
}

#[test]
fn every_bad_input_is_the_documented_typed_error() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        match std::panic::catch_unwind(case.run) {
            Err(_) => failures.push(format!("{}: PANICKED", case.name)),
            Ok(Ok(())) => failures.push(format!("{}: succeeded", case.name)),
            Ok(Err(e)) => {
                if !(case.expect)(&e) {
                    failures.push(format!("{}: wrong error {e:?}", case.name));
                }
                let message = e.to_string();
                for needle in case.names {
                    if !message.contains(needle) {
                        failures.push(format!("{}: {message:?} lacks {needle:?}", case.name));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) over {} case(s):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A rejected observation leaves a detector exactly as it was.
#[test]
fn detectors_are_unchanged_by_rejected_observations() {
    let mut detectors: Vec<Box<dyn DriftDetector>> = vec![
        Box::new(AdwinParams::default().build().unwrap()),
        Box::new(PageHinkleyParams::default().build().unwrap()),
        Box::new(DdmParams::default().build().unwrap()),
    ];
    for d in &mut detectors {
        let xs: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        for x in &xs {
            d.try_update(*x).unwrap();
        }
        let before = format!("{:?}", d.status());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            match d.try_update(bad) {
                Err(Error::InvalidObservation { detector, .. }) => assert_eq!(detector, d.name()),
                other => panic!("{}: {bad} gave {other:?}", d.name()),
            }
        }
        assert_eq!(format!("{:?}", d.status()), before, "{}", d.name());
        // The same next observation gives the same status as in a twin never fed bad values.
        let mut twin: Box<dyn DriftDetector> = match d.name() {
            "adwin" => Box::new(AdwinParams::default().build().unwrap()),
            "page_hinkley" => Box::new(PageHinkleyParams::default().build().unwrap()),
            _ => Box::new(DdmParams::default().build().unwrap()),
        };
        for x in &xs {
            twin.try_update(*x).unwrap();
        }
        assert_eq!(
            format!("{:?}", d.try_update(1.0).unwrap()),
            format!("{:?}", twin.try_update(1.0).unwrap()),
            "{}",
            d.name()
        );
    }
}

/// A rejected outcome leaves a windowed monitor exactly as it was.
#[test]
fn windowed_monitor_is_unchanged_by_rejected_outcomes() {
    let mut m = WindowedClassificationMonitor::new(Window::Time { millis: 10_000 }, 0.5).unwrap();
    for i in 0..50u64 {
        m.observe(1_000 + i, i % 3 == 0, (i % 10) as f64 / 10.0)
            .unwrap();
    }
    let before = (m.len(), format!("{:?}", m.metrics()));
    assert_eq!(
        m.observe(500, true, 0.5).unwrap_err(),
        Error::TimestampOrder {
            previous: 1_049,
            found: 500
        }
    );
    assert!(matches!(
        m.observe(2_000, true, f64::NAN),
        Err(Error::InvalidProbability { .. })
    ));
    assert!(matches!(
        m.observe(2_000, true, 1.5),
        Err(Error::InvalidProbability { value, .. }) if value == 1.5
    ));
    assert_eq!((m.len(), format!("{:?}", m.metrics())), before);
}

/// Single values are tolerated: the tests answer, no error.
#[test]
fn single_values_are_answered() {
    drift::ks_2samp(&[1.0], &[2.0]).unwrap();
    drift::wasserstein_test(&[1.0], &[1.0], 0.1).unwrap();
    DriftConfig::default()
        .test_column(
            "x",
            ColumnData::Numeric(&[3.0]),
            ColumnData::Numeric(&[3.0]),
        )
        .unwrap();
    estimate_performance(&[0.7], 0.5).unwrap();
    // Table columns: NaN and infinities are skipped (counted as missing), not errors.
    let mut x = wave(40);
    x[5] = f64::NAN;
    x[6] = f64::INFINITY;
    between(batch(wave(40), false), batch(x, false)).unwrap();
}
