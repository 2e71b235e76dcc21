//! The bad-input catalogue of `mlops-train` (issue 8): bad training tables and labels, bad
//! predict-time tables, hostile bundle bytes, bad metric inputs and bad estimator parameters.
//! Each case names the exact [`Error`] variant (for data-layer errors, the inner
//! `mlops_data::Error` variant) and what the message must name.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_data::Error as DataErr;
use mlops_data::pipeline::Pipeline;
use mlops_data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::{ImputeStrategy, Step};
use mlops_train::bundle::{FORMAT_VERSION, MAGIC};
use mlops_train::metrics;
use mlops_train::select::Candidate;
use mlops_train::{
    Class, DecisionTree, Error, LogisticRegression, ModelBundle, TrainConfig, train,
};

struct Case {
    name: &'static str,
    run: fn() -> Result<(), Error>,
    expect: fn(&Error) -> bool,
    names: &'static [&'static str],
}

fn data_err(e: &Error) -> Option<&DataErr> {
    match e {
        Error::Data(d) => Some(d.inner()),
        _ => None,
    }
}

fn logistic() -> Vec<Candidate> {
    vec![Candidate::new(Box::new(
        LogisticRegression::new().check().unwrap(),
    ))]
}

/// A small table: `x` (float), `plan` (text), `label` (text).
fn table(x: Vec<Option<f64>>, labels: Vec<Option<&str>>) -> RecordBatch {
    let n = x.len();
    let plans: Vec<Option<&str>> = (0..n)
        .map(|i| Some(if i % 2 == 0 { "a" } else { "b" }))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("plan", DataType::Utf8, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(x)) as ArrayRef,
            Arc::new(StringArray::from(plans)),
            Arc::new(StringArray::from(labels)),
        ],
    )
    .unwrap()
}

fn xs(n: usize) -> Vec<Option<f64>> {
    (0..n).map(|i| Some(i as f64 * 0.5)).collect()
}

fn alternating(n: usize) -> Vec<Option<&'static str>> {
    (0..n)
        .map(|i| Some(if i % 3 == 0 { "yes" } else { "no" }))
        .collect()
}

fn config(pipeline: Pipeline) -> TrainConfig {
    TrainConfig::new("label", "yes", pipeline).seed(3)
}

fn scaled() -> Pipeline {
    Pipeline::new().group("num", ["x"], [Step::standard_scaler()])
}

fn fit(batch: RecordBatch) -> Result<(), Error> {
    train(&config(scaled()), &batch, &logistic()).map(|_| ())
}

/// A churn bundle trained once.
fn bundle() -> &'static ModelBundle {
    static B: OnceLock<ModelBundle> = OnceLock::new();
    B.get_or_init(|| {
        let data = synth::churn_table(600, 5).unwrap();
        let config = TrainConfig::new(
            LABEL_COLUMN,
            POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(5);
        train(&config, &data, &logistic()).unwrap().bundle
    })
}

fn bundle_bytes() -> Vec<u8> {
    bundle().to_bytes().unwrap()
}

/// Re-seals a payload edit: fixes the checksum so that decoding gets past it.
fn live_rows() -> RecordBatch {
    synth::churn_table(20, 9).unwrap()
}

fn without(batch: &RecordBatch, column: &str) -> RecordBatch {
    let i = batch.schema().index_of(column).unwrap();
    let mut b = batch.clone();
    b.remove_column(i);
    b
}

fn replaced(batch: &RecordBatch, column: &str, array: ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(column).unwrap();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[i] = Field::new(column, array.data_type().clone(), true);
    let mut cols = batch.columns().to_vec();
    cols[i] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        // ---- training tables and labels -------------------------------------------------------
        Case {
            name: "empty training table",
            run: || fit(table(vec![], vec![])),
            expect: |e| matches!(e, Error::EmptyTrainingSet { .. }),
            names: &["empty"],
        },
        Case {
            name: "single-class labels",
            run: || fit(table(xs(60), vec![Some("no"); 60])),
            expect: |e| {
                matches!(e, Error::PositiveLabelAbsent { column, found, .. }
                    if column == "label" && found == "no")
            },
            names: &["\"label\"", "\"yes\"", "found no"],
        },
        Case {
            name: "only positive labels",
            run: || fit(table(xs(60), vec![Some("yes"); 60])),
            expect: |e| {
                matches!(
                    e,
                    Error::SingleClassTraining {
                        present: Class::Positive,
                        ..
                    }
                )
            },
            names: &["only the positive class"],
        },
        Case {
            name: "label column missing",
            run: || {
                let b = table(xs(30), alternating(30));
                fit(without(&b, "label"))
            },
            expect: |e| matches!(e, Error::MissingLabelColumn { column, .. } if column == "label"),
            names: &["\"label\"", "x, plan"],
        },
        Case {
            name: "positive label never occurs",
            run: || {
                let labels = (0..30)
                    .map(|i| Some(if i % 2 == 0 { "Y" } else { "N" }))
                    .collect();
                fit(table(xs(30), labels))
            },
            expect: |e| {
                matches!(e, Error::PositiveLabelAbsent { positive, column, .. }
                    if positive == "yes" && column == "label")
            },
            names: &["\"yes\"", "\"label\""],
        },
        Case {
            name: "three classes in the label",
            run: || {
                let mut labels = alternating(30);
                labels[7] = Some("maybe");
                fit(table(xs(30), labels))
            },
            expect: |e| matches!(e, Error::BadLabel { column, row: 7, .. } if column == "label"),
            names: &["\"label\"", "row 7", "maybe"],
        },
        Case {
            name: "null label",
            run: || {
                let mut labels = alternating(30);
                labels[4] = None;
                fit(table(xs(30), labels))
            },
            expect: |e| matches!(e, Error::BadLabel { row: 4, .. }),
            names: &["row 4"],
        },
        Case {
            name: "NaN feature without an imputer",
            run: || {
                let mut x = xs(60);
                x[10] = Some(f64::NAN);
                fit(table(x, alternating(60)))
            },
            // The row is the row within the training split the pipeline was fitted on.
            expect: |e| matches!(data_err(e), Some(DataErr::NonFinite { column, value, .. }) if column == "x" && value.is_nan()),
            names: &["\"x\"", "NaN"],
        },
        Case {
            name: "infinite feature",
            run: || {
                let mut x = xs(60);
                x[10] = Some(f64::INFINITY);
                fit(table(x, alternating(60)))
            },
            expect: |e| matches!(data_err(e), Some(DataErr::NonFinite { column, .. }) if column == "x"),
            names: &["\"x\"", "inf"],
        },
        Case {
            name: "huge feature values (1e308) overflow the scaler",
            run: || {
                let x = (0..60)
                    .map(|i| Some(if i % 2 == 0 { 1e308 } else { -1e308 }))
                    .collect();
                fit(table(x, alternating(60)))
            },
            expect: |e| matches!(data_err(e), Some(DataErr::NonFinite { column, .. }) if column == "x"),
            names: &["\"x\"", "non-finite"],
        },
        Case {
            name: "pipeline column missing from the table",
            run: || {
                let p = Pipeline::new().group("num", ["tenure"], [Step::standard_scaler()]);
                train(&config(p), &table(xs(30), alternating(30)), &logistic()).map(|_| ())
            },
            expect: |e| matches!(data_err(e), Some(DataErr::MissingColumn { column, .. }) if column == "tenure"),
            names: &["\"tenure\""],
        },
        Case {
            name: "text column in a numeric group",
            run: || {
                let p = Pipeline::new().group("num", ["plan"], [Step::standard_scaler()]);
                train(&config(p), &table(xs(30), alternating(30)), &logistic()).map(|_| ())
            },
            expect: |e| matches!(data_err(e), Some(DataErr::TypeMismatch { column, .. }) if column == "plan"),
            names: &["\"plan\""],
        },
        Case {
            name: "duplicate column names in the table",
            run: || {
                let b = table(xs(30), alternating(30));
                let mut fields: Vec<Field> = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields[1] = Field::new("x", DataType::Utf8, true);
                let dup = RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec())
                    .unwrap();
                fit(dup)
            },
            expect: |e| matches!(data_err(e), Some(DataErr::DuplicateColumn { column }) if column == "x"),
            names: &["duplicate column", "\"x\""],
        },
        Case {
            name: "too few rows to split",
            run: || fit(table(xs(2), vec![Some("yes"), Some("no")])),
            expect: |e| matches!(e, Error::EmptyTrainingSet { what } if what.contains("test part")),
            names: &["cannot train on an empty test part"],
        },
        Case {
            name: "no candidates",
            run: || train(&config(scaled()), &table(xs(30), alternating(30)), &[]).map(|_| ()),
            expect: |e| matches!(e, Error::NoCandidates { .. }),
            names: &["no candidates"],
        },
        // ---- predict-time tables ------------------------------------------------------------
        Case {
            name: "predict: signature column missing",
            run: || {
                bundle()
                    .predict_proba(&without(&live_rows(), "tenure_months"))
                    .map(|_| ())
            },
            expect: |e| matches!(data_err(e), Some(DataErr::MissingColumn { column, .. }) if column == "tenure_months"),
            names: &["tenure_months"],
        },
        Case {
            name: "predict: text where a number was trained",
            run: || {
                let rows = live_rows();
                let n = rows.num_rows();
                let text = Arc::new(StringArray::from(vec!["ten"; n])) as ArrayRef;
                bundle()
                    .predict_proba(&replaced(&rows, "tenure_months", text))
                    .map(|_| ())
            },
            expect: |e| matches!(data_err(e), Some(DataErr::TypeMismatch { column, .. }) if column == "tenure_months"),
            names: &["tenure_months"],
        },
        Case {
            name: "predict: infinite value",
            run: || {
                let rows = live_rows();
                let n = rows.num_rows();
                let mut v = vec![1.0; n];
                v[3] = f64::INFINITY;
                let col = Arc::new(Float64Array::from(v)) as ArrayRef;
                bundle()
                    .predict_proba(&replaced(&rows, "monthly_charges", col))
                    .map(|_| ())
            },
            expect: |e| matches!(data_err(e), Some(DataErr::NonFinite { column, row: 3, .. }) if column == "monthly_charges"),
            names: &["monthly_charges", "row 3"],
        },
        // ---- bundle bytes -------------------------------------------------------------------
        Case {
            name: "bundle: empty bytes",
            run: || ModelBundle::from_bytes(&[]).map(|_| ()),
            expect: |e| matches!(e, Error::NotABundle),
            names: &["bundle"],
        },
        Case {
            name: "bundle: wrong magic (a zip/pickle)",
            run: || ModelBundle::from_bytes(b"PK\x03\x04 pickle? not a bundle at all").map(|_| ()),
            expect: |e| matches!(e, Error::NotABundle),
            names: &["magic"],
        },
        Case {
            name: "bundle: wrong format version",
            run: || {
                let mut b = bundle_bytes();
                b[MAGIC.len()..MAGIC.len() + 2]
                    .copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
                ModelBundle::from_bytes(&b).map(|_| ())
            },
            expect: |e| {
                matches!(e, Error::UnsupportedBundleVersion { found, supported }
                    if *found == FORMAT_VERSION + 1 && *supported == FORMAT_VERSION)
            },
            names: &["version 2"],
        },
        Case {
            name: "bundle: absurd length field",
            run: || {
                let mut b = bundle_bytes();
                b[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
                ModelBundle::from_bytes(&b).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { .. }),
            names: &["corrupt model bundle"],
        },
        Case {
            name: "bundle: truncated",
            run: || {
                let b = bundle_bytes();
                ModelBundle::from_bytes(&b[..b.len() - 40]).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { .. }),
            names: &["corrupt model bundle"],
        },
        Case {
            name: "bundle: header only",
            run: || {
                let b = bundle_bytes();
                ModelBundle::from_bytes(&b[..18]).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { .. }),
            names: &["corrupt model bundle"],
        },
        Case {
            name: "bundle: one flipped payload byte",
            run: || {
                let mut b = bundle_bytes();
                let mid = b.len() / 2;
                b[mid] ^= 0x20;
                ModelBundle::from_bytes(&b).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { reason } if reason.contains("checksum")),
            names: &["checksum"],
        },
        Case {
            name: "bundle: one flipped checksum byte",
            run: || {
                let mut b = bundle_bytes();
                let last = b.len() - 1;
                b[last] ^= 0x01;
                ModelBundle::from_bytes(&b).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { reason } if reason.contains("checksum")),
            names: &["checksum"],
        },
        Case {
            name: "bundle: trailing garbage",
            run: || {
                let mut b = bundle_bytes();
                b.extend_from_slice(b"junk");
                ModelBundle::from_bytes(&b).map(|_| ())
            },
            expect: |e| matches!(e, Error::CorruptBundle { .. }),
            names: &["corrupt model bundle"],
        },
        // ---- metric inputs ------------------------------------------------------------------
        Case {
            name: "ROC AUC of single-class labels",
            run: || metrics::roc_auc(&[true, true, true], &[0.2, 0.4, 0.9]).map(|_| ()),
            expect: |e| {
                matches!(
                    e,
                    Error::SingleClass {
                        present: Class::Positive,
                        ..
                    }
                )
            },
            names: &["only the positive class"],
        },
        Case {
            name: "metric of empty inputs",
            run: || metrics::roc_auc(&[], &[]).map(|_| ()),
            expect: |e| matches!(e, Error::EmptyInput { .. }),
            names: &["is empty"],
        },
        Case {
            name: "metric inputs of different lengths",
            run: || metrics::accuracy(&[true, false], &[true]).map(|_| ()),
            expect: |e| matches!(e, Error::LengthMismatch { .. }),
            names: &["2", "1"],
        },
        Case {
            name: "NaN score",
            run: || metrics::roc_auc(&[true, false], &[f64::NAN, 0.1]).map(|_| ()),
            expect: |e| matches!(e, Error::NonFiniteScore { index: 0, .. }),
            names: &["[0]", "NaN"],
        },
        Case {
            name: "probability above 1 in log loss",
            run: || metrics::log_loss(&[true, false], &[1.5, 0.1]).map(|_| ()),
            expect: |e| matches!(e, Error::ProbabilityOutOfRange { index: 0, .. }),
            names: &["row 0", "1.5"],
        },
        Case {
            name: "NaN decision threshold",
            run: || metrics::predict_at(&[0.1, 0.9], f64::NAN).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidThreshold { .. }),
            names: &["NaN"],
        },
        // ---- estimator parameters -----------------------------------------------------------
        Case {
            name: "negative L2 penalty",
            run: || LogisticRegression::new().l2(-1.0).check().map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { .. }),
            names: &["-1"],
        },
        Case {
            name: "NaN L2 penalty",
            run: || LogisticRegression::new().l2(f64::NAN).check().map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { .. }),
            names: &["NaN"],
        },
        Case {
            name: "zero tree depth",
            run: || DecisionTree::new().max_depth(Some(0)).check().map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParameter { .. }),
            names: &["0"],
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

/// Tolerated on purpose: extra columns at predict time are ignored.
#[test]
fn extra_columns_at_predict_time_are_ignored() {
    let rows = live_rows();
    let base = bundle().predict_proba(&rows).unwrap();
    let mut fields: Vec<Field> = rows
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("not_a_feature", DataType::Utf8, true));
    let mut cols = rows.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec!["x"; rows.num_rows()])));
    let extra = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    assert_eq!(bundle().predict_proba(&extra).unwrap(), base);
}
