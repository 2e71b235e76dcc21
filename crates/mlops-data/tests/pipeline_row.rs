//! `FittedPipeline::transform_row` against `transform`: bit-identical output and the same errors
//! on thousands of churn rows with nulls, NaN, infinity and unseen categories, for several
//! pipelines (every step kind, every unseen-category policy, a passthrough remainder).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use mlops_data::pipeline::{FittedPipeline, Pipeline, Remainder, RowValue};
use mlops_data::synth::{self, ChurnConfig, ChurnGenerator};
use mlops_data::transform::{
    ColumnKind, ImputeStrategy, OneHotEncoderParams, OrdinalUnknown, Step, UnknownCategory,
};
use mlops_data::{BatchStream, Error};

fn churn(rows: u64, seed: u64, null_rate: f64) -> RecordBatch {
    ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        null_rate,
        ..ChurnConfig::default()
    })
    .unwrap()
    .to_batch()
    .unwrap()
}

fn replace(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let idx = batch.schema().index_of(name).unwrap();
    let mut cols = batch.columns().to_vec();
    cols[idx] = array;
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == idx {
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_data_type(cols[i].data_type().clone()),
                )
            } else {
                f.clone()
            }
        })
        .collect();
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap()
}

/// Test rows: nulls, a NaN every 11th row and an infinity every 97th row in
/// `monthly_charges`, an unseen plan every 7th row and an unseen region every 13th.
fn hostile_test_batch() -> RecordBatch {
    let b = churn(2000, 2, 0.1);
    let charges = arrow_cast::cast(
        b.column_by_name("monthly_charges").unwrap(),
        &DataType::Float64,
    )
    .unwrap();
    let charges: Float64Array = charges
        .as_primitive::<Float64Type>()
        .iter()
        .enumerate()
        .map(|(i, v)| match i {
            i if i % 97 == 5 => Some(f64::INFINITY),
            i if i % 11 == 3 => Some(f64::NAN),
            _ => v,
        })
        .collect();
    let b = replace(&b, "monthly_charges", Arc::new(charges));
    let unseen = |name: &str, every: usize, value: &str, b: &RecordBatch| {
        let col = arrow_cast::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
        let col: StringArray = col
            .as_string::<i32>()
            .iter()
            .enumerate()
            .map(|(i, v)| if i % every == 1 { Some(value) } else { v })
            .collect();
        replace(b, name, Arc::new(col))
    };
    let b = unseen("plan", 7, "platinum-unseen", &b);
    unseen("region", 13, "atlantis", &b)
}

/// The row values of `batch` in the pipeline's input order.
fn row_values<'a>(
    fitted: &FittedPipeline,
    numeric: &'a [Vec<Option<f64>>],
    text: &'a [Vec<Option<String>>],
    row: usize,
) -> Vec<RowValue<'a>> {
    fitted
        .inputs()
        .iter()
        .enumerate()
        .map(|(j, input)| match input.kind {
            ColumnKind::Numeric => RowValue::Numeric(numeric[j][row]),
            ColumnKind::Categorical => RowValue::Categorical(text[j][row].as_deref()),
        })
        .collect()
}

type Columns = (Vec<Vec<Option<f64>>>, Vec<Vec<Option<String>>>);

fn columns(fitted: &FittedPipeline, batch: &RecordBatch) -> Columns {
    let mut numeric = Vec::new();
    let mut text = Vec::new();
    for input in fitted.inputs() {
        let array = batch.column_by_name(&input.name).unwrap();
        match input.kind {
            ColumnKind::Numeric => {
                let a = arrow_cast::cast(array, &DataType::Float64).unwrap();
                numeric.push(a.as_primitive::<Float64Type>().iter().collect());
                text.push(Vec::new());
            }
            ColumnKind::Categorical => {
                let a = arrow_cast::cast(array, &DataType::Utf8).unwrap();
                text.push(
                    a.as_string::<i32>()
                        .iter()
                        .map(|v| v.map(str::to_string))
                        .collect(),
                );
                numeric.push(Vec::new());
            }
        }
    }
    (numeric, text)
}

/// Returns (rows that transformed, rows that failed).
fn check_equivalence(fitted: &FittedPipeline, batch: &RecordBatch) -> (usize, usize) {
    let (numeric, text) = columns(fitted, batch);
    let width = fitted.feature_names().len();
    let mut out = vec![f64::NAN; width];
    let (mut ok, mut failed) = (0, 0);
    for i in 0..batch.num_rows() {
        let one = batch.slice(i, 1);
        let expected = fitted.transform(&one);
        let values = row_values(fitted, &numeric, &text, i);
        let got = fitted.transform_row(&values, &mut out);
        match (expected, got) {
            (Ok(x), Ok(())) => {
                let want: Vec<u64> = x.data.iter().map(|v| v.to_bits()).collect();
                let have: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
                assert_eq!(want, have, "row {i}");
                ok += 1;
            }
            (Err(e), Err(g)) => {
                assert_eq!(e.to_string(), g.to_string(), "row {i}");
                failed += 1;
            }
            (e, g) => panic!("row {i}: transform {e:?} but transform_row {g:?}"),
        }
    }
    (ok, failed)
}

fn fit(p: &Pipeline, train: &RecordBatch) -> FittedPipeline {
    p.fit(BatchStream::from_batches(
        train.schema(),
        vec![train.clone()],
    ))
    .unwrap()
}

#[test]
fn churn_pipeline_rows_equal_batch_rows_bit_for_bit() {
    let train = churn(3000, 1, 0.05);
    let test = hostile_test_batch();
    for strategy in [ImputeStrategy::Median, ImputeStrategy::Mean] {
        let fitted = fit(&synth::churn_pipeline(strategy), &train);
        let (ok, failed) = check_equivalence(&fitted, &test);
        // Only the infinite values fail; NaN and nulls are imputed, unseen categories ignored.
        assert_eq!(failed, (0..2000).filter(|i| i % 97 == 5).count());
        assert_eq!(ok + failed, 2000);
        // And the whole-batch transform of the rows without infinity agrees with the rows.
        let finite: Vec<usize> = (0..2000).filter(|i| i % 97 != 5).collect();
        let idx =
            arrow_array::UInt32Array::from(finite.iter().map(|&i| i as u32).collect::<Vec<_>>());
        let cols = test
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c, &idx, None).unwrap())
            .collect();
        let kept = RecordBatch::try_new(test.schema(), cols).unwrap();
        let x = fitted.transform(&kept).unwrap();
        let (numeric, text) = columns(&fitted, &kept);
        let mut out = vec![0.0; fitted.feature_names().len()];
        for (r, row) in x.data.outer_iter().enumerate() {
            fitted
                .transform_row(&row_values(&fitted, &numeric, &text, r), &mut out)
                .unwrap();
            assert!(
                row.iter()
                    .zip(&out)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
    }
}

#[test]
fn every_step_and_policy_agrees_row_by_row() {
    let train = churn(3000, 1, 0.05);
    let test = hostile_test_batch();
    let p = Pipeline::new()
        .group(
            "num",
            ["tenure_months", "monthly_charges", "age"],
            [
                Step::impute(ImputeStrategy::Mean),
                Step::clip(Some(0.0), Some(150.0)),
                Step::log1p(),
                Step::min_max_scaler(-1.0, 1.0),
            ],
        )
        .group(
            "plan",
            ["plan", "device"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::OneHot(
                    OneHotEncoderParams::default()
                        .unknown(UnknownCategory::MapToOther)
                        .max_categories(Some(3))
                        .drop_first(true),
                ),
                Step::standard_scaler(),
            ],
        )
        .group(
            "ord",
            ["region", "contract"],
            [
                Step::impute(ImputeStrategy::Constant),
                Step::ordinal(OrdinalUnknown::Code(-1.0)),
            ],
        )
        .group(
            "again",
            ["age", "channel"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::drop(["age"]),
                Step::one_hot(UnknownCategory::Error),
            ],
        )
        .remainder(Remainder::PassthroughNumeric);
    let fitted = fit(&p, &train);
    let (ok, failed) = check_equivalence(&fitted, &test);
    assert!(ok > 100, "{ok} rows transformed");
    assert!(failed > 100, "{failed} rows failed");

    // Unseen categories under the error policy fail the same way on both paths.
    let strict = fit(
        &Pipeline::new().group(
            "cat",
            ["plan", "region"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::one_hot(UnknownCategory::Error),
            ],
        ),
        &train,
    );
    let (ok, failed) = check_equivalence(&strict, &test);
    let unseen = (0..2000).filter(|i| i % 7 == 1 || i % 13 == 1).count();
    assert_eq!((ok, failed), (2000 - unseen, unseen));
    let mut out = vec![0.0; strict.feature_names().len()];
    let e = strict
        .transform_row(
            &[
                RowValue::Categorical(Some("nope")),
                RowValue::Categorical(None),
            ],
            &mut out,
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::UnseenCategory { ref column, ref value, row: 0 }
        if column == "plan" && value == "nope")
    );
}

#[test]
fn wrong_shapes_and_kinds_are_errors() {
    let train = churn(500, 1, 0.05);
    let fitted = fit(&synth::churn_pipeline(ImputeStrategy::Median), &train);
    let n_in = fitted.inputs().len();
    let width = fitted.feature_names().len();
    let values = vec![RowValue::Numeric(Some(1.0)); n_in];
    let mut out = vec![0.0; width];
    assert!(matches!(
        fitted.transform_row(&values[1..], &mut out),
        Err(Error::Incompatible(_))
    ));
    assert!(matches!(
        fitted.transform_row(&[], &mut out),
        Err(Error::Incompatible(_))
    ));
    let mut short = vec![0.0; width - 1];
    let mut good: Vec<RowValue<'_>> = fitted
        .inputs()
        .iter()
        .map(|i| match i.kind {
            ColumnKind::Numeric => RowValue::Numeric(Some(1.0)),
            ColumnKind::Categorical => RowValue::Categorical(Some("x")),
        })
        .collect();
    assert!(matches!(
        fitted.transform_row(&good, &mut short),
        Err(Error::Incompatible(_))
    ));
    fitted.transform_row(&good, &mut out).unwrap();
    // A number where a category is expected, and the reverse.
    let cat = fitted
        .inputs()
        .iter()
        .position(|i| i.kind == ColumnKind::Categorical)
        .unwrap();
    good[cat] = RowValue::Numeric(Some(2.0));
    let e = fitted.transform_row(&good, &mut out).unwrap_err();
    assert!(
        matches!(e, Error::TypeMismatch { ref column, .. } if *column == fitted.inputs()[cat].name)
    );
    good[cat] = RowValue::Categorical(None);
    good[0] = RowValue::Categorical(Some("1"));
    assert!(matches!(
        fitted.transform_row(&good, &mut out),
        Err(Error::TypeMismatch { .. })
    ));
    good[0] = RowValue::Numeric(Some(f64::NEG_INFINITY));
    assert!(matches!(
        fitted.transform_row(&good, &mut out),
        Err(Error::NonFinite { row: 0, .. })
    ));
    // Every value missing: imputed.
    let missing: Vec<RowValue<'_>> = fitted
        .inputs()
        .iter()
        .map(|i| match i.kind {
            ColumnKind::Numeric => RowValue::Numeric(None),
            ColumnKind::Categorical => RowValue::Categorical(None),
        })
        .collect();
    fitted.transform_row(&missing, &mut out).unwrap();
    assert!(out.iter().all(|v| v.is_finite()));
    let _ = Array::len(&Float64Array::from(vec![1.0]));
}
