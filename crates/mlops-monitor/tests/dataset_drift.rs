//! Dataset drift on batch streams and against stored profiles, on the synthetic churn data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use mlops_data::BatchStream;
use mlops_data::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlops_data::profile::{ProfileOptions, profile_stream};
use mlops_data::synth::{CategoryMix, ChurnConfig, ChurnGenerator, CovariateShift, DriftSpec};
use mlops_monitor::dataset::{DatasetDriftOptions, drift_against_profile, drift_between_streams};
use mlops_monitor::drift::TestKind;
use mlops_monitor::{DriftConfig, Error, Sample, StreamDrift};

const ROWS: u64 = 100_000;

fn churn(seed: u64, drift: DriftSpec) -> ChurnGenerator {
    ChurnGenerator::new(ChurnConfig {
        rows: ROWS,
        seed,
        null_rate: 0.02,
        drift,
    })
    .unwrap()
}

fn drifted_spec() -> DriftSpec {
    DriftSpec {
        covariate_shift: vec![
            CovariateShift {
                column: "age".into(),
                shift_std: 1.0,
                scale: 1.0,
            },
            CovariateShift {
                column: "monthly_charges".into(),
                shift_std: 0.8,
                scale: 1.5,
            },
        ],
        category_mix: vec![CategoryMix {
            column: "plan".into(),
            weights: vec![("basic".into(), 0.1), ("premium".into(), 0.9)],
        }],
        concept: None,
    }
}

fn options() -> DatasetDriftOptions {
    DatasetDriftOptions {
        exclude: vec!["customer_id".into()],
        ..DatasetDriftOptions::default()
    }
}

/// Compares the profile-based result with the sample-based one column by column: statistics
/// within `tol` plus 0.2% of the statistic (PSI of a strongly drifted column is in the units).
fn compare(sample: &StreamDrift, profile: &StreamDrift, tol: f64) {
    assert_eq!(sample.drift.columns.len(), profile.drift.columns.len());
    for (s, p) in sample.drift.columns.iter().zip(&profile.drift.columns) {
        assert_eq!(s.column, p.column);
        assert_eq!(s.result.test, p.result.test, "column {}", s.column);
        assert_eq!(s.n_reference, p.n_reference, "column {}", s.column);
        assert_eq!(s.n_current, p.n_current, "column {}", s.column);
        let diff = (s.result.statistic - p.result.statistic).abs();
        assert!(
            diff <= tol + 0.002 * s.result.statistic.abs(),
            "column {} test {:?}: sample {} profile {}",
            s.column,
            s.result.test,
            s.result.statistic,
            p.result.statistic
        );
    }
}

#[test]
fn profile_matches_samples_on_stable_and_drifted_data() {
    let reference = churn(1, DriftSpec::default());
    let profile =
        profile_stream(reference.batches(8192).unwrap(), &ProfileOptions::default()).unwrap();
    let config = DriftConfig::default();
    let opts = options();

    // Stable: another draw of the same world.
    let stable = churn(2, DriftSpec::default());
    let by_sample = drift_between_streams(
        reference.batches(8192).unwrap(),
        stable.batches(8192).unwrap(),
        &config,
        &opts,
    )
    .unwrap();
    let by_profile =
        drift_against_profile(&profile, stable.batches(8192).unwrap(), &config, &opts).unwrap();
    compare(&by_sample, &by_profile, 0.01);
    assert_eq!(by_sample.drift.n_drifted, 0, "{:#?}", by_sample.drift);
    assert_eq!(by_profile.drift.n_drifted, 0, "{:#?}", by_profile.drift);
    // 100k rows: Evidently's large-reference tests.
    let age = by_profile
        .drift
        .columns
        .iter()
        .find(|c| c.column == "age")
        .unwrap();
    assert_eq!(age.result.test, TestKind::WassersteinNormed);
    let plan = by_profile
        .drift
        .columns
        .iter()
        .find(|c| c.column == "plan")
        .unwrap();
    assert_eq!(plan.result.test, TestKind::JensenShannon);

    // Drifted.
    let drifted = churn(2, drifted_spec());
    let by_sample = drift_between_streams(
        reference.batches(8192).unwrap(),
        drifted.batches(8192).unwrap(),
        &config,
        &opts,
    )
    .unwrap();
    let by_profile =
        drift_against_profile(&profile, drifted.batches(8192).unwrap(), &config, &opts).unwrap();
    compare(&by_sample, &by_profile, 0.01);
    for result in [&by_sample, &by_profile] {
        for name in ["age", "monthly_charges", "plan"] {
            let c = result
                .drift
                .columns
                .iter()
                .find(|c| c.column == name)
                .unwrap();
            assert!(c.drifted(), "{name} should drift: {:?}", c.result);
        }
    }
    for (s, p) in by_sample
        .drift
        .columns
        .iter()
        .zip(&by_profile.drift.columns)
    {
        assert_eq!(s.drifted(), p.drifted(), "verdict differs on {}", s.column);
    }
}

#[test]
fn forced_tests_on_the_sketch_stay_close() {
    let reference = churn(3, DriftSpec::default());
    let profile = profile_stream(
        reference.batches(10_000).unwrap(),
        &ProfileOptions::default(),
    )
    .unwrap();
    for spec in [DriftSpec::default(), drifted_spec()] {
        let current = churn(4, spec);
        for (test, tol) in [
            (TestKind::KolmogorovSmirnov, 0.005),
            (TestKind::Psi, 0.01),
            (TestKind::JensenShannon, 0.02),
            (TestKind::WassersteinNormed, 0.01),
        ] {
            let mut config = DriftConfig::default();
            for c in ["age", "monthly_charges", "tenure_months", "data_usage_gb"] {
                config.overrides.insert(c.to_owned(), test);
            }
            let opts = DatasetDriftOptions {
                columns: Some(
                    ["age", "monthly_charges", "tenure_months", "data_usage_gb"]
                        .map(String::from)
                        .to_vec(),
                ),
                ..DatasetDriftOptions::default()
            };
            let s = drift_between_streams(
                reference.batches(10_000).unwrap(),
                current.batches(10_000).unwrap(),
                &config,
                &opts,
            )
            .unwrap();
            let p =
                drift_against_profile(&profile, current.batches(10_000).unwrap(), &config, &opts)
                    .unwrap();
            compare(&s, &p, tol);
            for (a, b) in s.drift.columns.iter().zip(&p.drift.columns) {
                let clear = match test {
                    TestKind::KolmogorovSmirnov => {
                        let (pa, pb) = (a.result.p_value.unwrap(), b.result.p_value.unwrap());
                        !(0.001..0.2).contains(&pa) && !(0.001..0.2).contains(&pb)
                    }
                    _ => (a.result.statistic - a.result.threshold).abs() > 0.02,
                };
                if clear {
                    assert_eq!(a.drifted(), b.drifted(), "{test:?} on {}", a.column);
                }
            }
        }
    }
}

fn numeric_batch(name: &str, values: Vec<Option<f64>>) -> RecordBatch {
    RecordBatch::try_from_iter([(name, Arc::new(Float64Array::from(values)) as ArrayRef)]).unwrap()
}

fn stream(batches: Vec<RecordBatch>) -> BatchStream {
    let schema = batches[0].schema();
    BatchStream::from_batches(schema, batches)
}

#[test]
fn small_profile_is_rebuilt_exactly() {
    let r: Vec<Option<f64>> = (0..600).map(|i| Some(f64::from((i * 37) % 101))).collect();
    let c: Vec<Option<f64>> = (0..400)
        .map(|i| Some(f64::from((i * 13) % 97) + 3.0))
        .collect();
    let rb = numeric_batch("x", r);
    let cb = numeric_batch("x", c);
    let profile = profile_stream(stream(vec![rb.clone()]), &ProfileOptions::default()).unwrap();
    let config = DriftConfig::default();
    let opts = DatasetDriftOptions::default();
    let s =
        drift_between_streams(stream(vec![rb]), stream(vec![cb.clone()]), &config, &opts).unwrap();
    let p = drift_against_profile(&profile, stream(vec![cb]), &config, &opts).unwrap();
    assert_eq!(s.drift, p.drift);
    assert_eq!(s.drift.columns[0].result.test, TestKind::KolmogorovSmirnov);
}

#[test]
fn streams_skip_nulls_and_non_finite_and_sample_deterministically() {
    let r: Vec<Option<f64>> = (0..5000)
        .map(|i| match i % 50 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(f64::INFINITY),
            _ => Some(f64::from(i % 211)),
        })
        .collect();
    let rb = numeric_batch("x", r);
    let opts = DatasetDriftOptions {
        max_sample: 700,
        seed: 9,
        ..DatasetDriftOptions::default()
    };
    let run = |opts: &DatasetDriftOptions| {
        drift_between_streams(
            stream(vec![rb.clone(), rb.clone()]),
            stream(vec![rb.clone()]),
            &DriftConfig::default(),
            opts,
        )
        .unwrap()
    };
    let a = run(&opts);
    let b = run(&opts);
    assert_eq!(a, b);
    let col = &a.drift.columns[0];
    assert_eq!(col.n_reference, 2 * 4700);
    assert_eq!(col.n_current, 4700);
    assert!(!col.drifted());
    let other = run(&DatasetDriftOptions { seed: 10, ..opts });
    assert_ne!(a.drift.columns[0].result, other.drift.columns[0].result);
}

fn mixed_batch(n: usize) -> RecordBatch {
    let x: Vec<i64> = (0..n as i64).collect();
    let c: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
    RecordBatch::try_from_iter([
        ("x", Arc::new(Int64Array::from(x)) as ArrayRef),
        ("c", Arc::new(StringArray::from(c)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn typed_errors() {
    let config = DriftConfig::default();
    let opts = DatasetDriftOptions::default();
    // Missing in current.
    let only_x = numeric_batch("x", vec![Some(1.0), Some(2.0)]);
    let err = drift_between_streams(
        stream(vec![mixed_batch(10)]),
        stream(vec![only_x.clone()]),
        &config,
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumn { column, sample: Sample::Current, .. } if column == "c"),
        "{err:?}"
    );
    // Kind mismatch: `c` numeric in the current data.
    let swapped = RecordBatch::try_from_iter([
        ("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "c",
            Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
        ),
    ])
    .unwrap();
    let err = drift_between_streams(
        stream(vec![mixed_batch(10)]),
        stream(vec![swapped.clone()]),
        &config,
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::ColumnKindMismatch { column, .. } if column == "c"),
        "{err:?}"
    );
    let profile =
        profile_stream(stream(vec![mixed_batch(10)]), &ProfileOptions::default()).unwrap();
    let err = drift_against_profile(&profile, stream(vec![swapped]), &config, &opts).unwrap_err();
    assert!(
        matches!(&err, Error::ColumnKindMismatch { column, .. } if column == "c"),
        "{err:?}"
    );
    let err = drift_against_profile(&profile, stream(vec![only_x]), &config, &opts).unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumn { column, sample: Sample::Current, .. } if column == "c"),
        "{err:?}"
    );
    // Requested column missing from the reference.
    let err = drift_between_streams(
        stream(vec![mixed_batch(10)]),
        stream(vec![mixed_batch(10)]),
        &config,
        &DatasetDriftOptions {
            columns: Some(vec!["nope".into()]),
            ..DatasetDriftOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumn { column, sample: Sample::Reference, .. } if column == "nope"),
        "{err:?}"
    );
    // Too many categories.
    let err = drift_between_streams(
        stream(vec![mixed_batch(10)]),
        stream(vec![mixed_batch(10)]),
        &config,
        &DatasetDriftOptions {
            max_categories: 2,
            ..DatasetDriftOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::TooManyCategories { column, limit: 2, .. } if column == "c"),
        "{err:?}"
    );
    // All-null current column.
    let nulls = numeric_batch("x", vec![None, None]);
    let err = drift_between_streams(
        stream(vec![numeric_batch("x", vec![Some(1.0), Some(2.0)])]),
        stream(vec![nulls]),
        &config,
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Column { column, source } if column == "x"
            && matches!(**source, Error::EmptySample { sample: Sample::Current })),
        "{err:?}"
    );
    // Zero sample size.
    let err = drift_between_streams(
        stream(vec![mixed_batch(10)]),
        stream(vec![mixed_batch(10)]),
        &config,
        &DatasetDriftOptions {
            max_sample: 0,
            ..DatasetDriftOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidParameter {
            name: "max_sample",
            ..
        }
    ));
}

#[test]
fn inexact_profile_counts_are_rejected_and_other_is_pooled() {
    let ids: Vec<String> = (0..3000).map(|i| format!("id{i}")).collect();
    let b =
        RecordBatch::try_from_iter([("id", Arc::new(StringArray::from(ids.clone())) as ArrayRef)])
            .unwrap();
    let profile = profile_stream(stream(vec![b.clone()]), &ProfileOptions::default()).unwrap();
    let err = drift_against_profile(
        &profile,
        stream(vec![b]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InexactProfileCounts { column } if column == "id"),
        "{err:?}"
    );

    // 5 categories, cap 2: the rest pooled in `other`, exactly counted.
    let cats: Vec<&str> = (0..500)
        .map(|i| ["a", "a", "a", "b", "b", "c", "d", "e"][i % 8])
        .collect();
    let b =
        RecordBatch::try_from_iter([("c", Arc::new(StringArray::from(cats)) as ArrayRef)]).unwrap();
    let options = ProfileOptions {
        max_categories: 2,
        ..ProfileOptions::default()
    };
    let profile = profile_stream(stream(vec![b.clone()]), &options).unwrap();
    let out = drift_against_profile(
        &profile,
        stream(vec![b]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    let col = &out.drift.columns[0];
    assert_eq!(col.result.test, TestKind::ChiSquare);
    assert_eq!(col.result.statistic, 0.0);
    match &out.distributions[0] {
        mlops_monitor::dataset::ColumnDistribution::Categorical { reference, current } => {
            let expected: BTreeMap<String, f64> = [
                ("__other__".to_owned(), 186.0 / 500.0),
                ("a".to_owned(), 189.0 / 500.0),
                ("b".to_owned(), 125.0 / 500.0),
            ]
            .into_iter()
            .collect();
            assert_eq!(reference, &expected);
            assert_eq!(current, &expected);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_types_are_skipped_or_rejected() {
    use mlops_data::arrow::array::{BooleanArray, Date32Array};
    let batch = |flip: bool| {
        RecordBatch::try_from_iter([
            (
                "d",
                Arc::new(Date32Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, flip, false, flip])) as ArrayRef,
            ),
        ])
        .unwrap()
    };
    let out = drift_between_streams(
        stream(vec![batch(true)]),
        stream(vec![batch(false)]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    // `d` skipped; booleans are the categories "true"/"false" (Z-test on 2 categories).
    assert_eq!(out.drift.columns.len(), 1);
    assert_eq!(out.drift.columns[0].column, "b");
    assert_eq!(out.drift.columns[0].result.test, TestKind::ZTest);
    let profile = profile_stream(stream(vec![batch(true)]), &ProfileOptions::default()).unwrap();
    let p = drift_against_profile(
        &profile,
        stream(vec![batch(false)]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    assert_eq!(p.drift, out.drift);
    let err = drift_between_streams(
        stream(vec![batch(true)]),
        stream(vec![batch(false)]),
        &DriftConfig::default(),
        &DatasetDriftOptions {
            columns: Some(vec!["d".into()]),
            ..DatasetDriftOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedColumnType { column, .. } if column == "d"),
        "{err:?}"
    );
}

#[test]
fn failing_stream_is_a_data_error() {
    let good = numeric_batch("x", vec![Some(1.0), Some(2.0)]);
    let schema = good.schema();
    let failing = BatchStream::new(
        schema.clone(),
        vec![
            Ok(good.clone()),
            Err(mlops_data::Error::InvalidParam {
                param: "test",
                reason: "boom".into(),
            }),
        ]
        .into_iter(),
    );
    let err = drift_between_streams(
        stream(vec![good]),
        failing,
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Data {
                sample: Sample::Current,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn dictionary_and_large_string_columns_are_categorical() {
    use mlops_data::arrow::array::types::Int32Type;
    use mlops_data::arrow::array::{DictionaryArray, LargeStringArray};
    let batch = |v: Vec<&str>| {
        let dict: DictionaryArray<Int32Type> = v.iter().copied().collect();
        RecordBatch::try_from_iter([
            ("d", Arc::new(dict) as ArrayRef),
            ("l", Arc::new(LargeStringArray::from(v)) as ArrayRef),
        ])
        .unwrap()
    };
    let r = batch((0..300).map(|i| ["a", "b", "c"][i % 3]).collect());
    let c = batch((0..300).map(|i| ["a", "b", "c", "c"][i % 4]).collect());
    let out = drift_between_streams(
        stream(vec![r.clone()]),
        stream(vec![c.clone()]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    assert_eq!(out.drift.columns.len(), 2);
    assert_eq!(out.drift.columns[0].result, out.drift.columns[1].result);
    assert_eq!(out.drift.columns[0].result.test, TestKind::ChiSquare);
    let profile = profile_stream(stream(vec![r]), &ProfileOptions::default()).unwrap();
    let p = drift_against_profile(
        &profile,
        stream(vec![c]),
        &DriftConfig::default(),
        &DatasetDriftOptions::default(),
    )
    .unwrap();
    assert_eq!(p, out);
}
