//! Shared fixtures: churn data and trained bundles (trained once per test binary).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use mlops_data::pipeline::Pipeline;
use mlops_data::synth::{self, CATEGORICAL_COLUMNS, LABEL_COLUMN, NUMERIC_COLUMNS, POSITIVE_LABEL};
use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
use mlops_serve::{Predictor, Record, Value};
use mlops_train::select::Candidate;
use mlops_train::{LogisticRegression, ModelBundle, TrainConfig};

pub fn churn(rows: u64, seed: u64) -> RecordBatch {
    mlops_data::synth::churn_table(rows, seed).unwrap()
}

pub fn train_with(pipeline: Pipeline, seed: u64, l2: f64) -> ModelBundle {
    let batch = churn(5000, seed);
    mlops_train::train(
        &TrainConfig::new(LABEL_COLUMN, POSITIVE_LABEL, pipeline).seed(seed),
        &batch,
        &[Candidate::new(Box::new(
            LogisticRegression::new().l2(l2).check().unwrap(),
        ))],
    )
    .unwrap()
    .bundle
}

/// Three bundles of the standard churn pipeline (different seeds and regularisation).
pub fn bundles() -> &'static [Arc<ModelBundle>; 3] {
    static B: OnceLock<[Arc<ModelBundle>; 3]> = OnceLock::new();
    B.get_or_init(|| {
        let p = || synth::churn_pipeline(ImputeStrategy::Median);
        [
            Arc::new(train_with(p(), 1, 1.0)),
            Arc::new(train_with(p(), 2, 0.1)),
            Arc::new(train_with(p(), 3, 10.0)),
        ]
    })
}

/// A bundle whose one-hot encoder rejects unseen categories.
pub fn strict_bundle() -> &'static ModelBundle {
    static B: OnceLock<ModelBundle> = OnceLock::new();
    B.get_or_init(|| {
        let p = Pipeline::new()
            .group(
                "num",
                NUMERIC_COLUMNS,
                [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()],
            )
            .group(
                "cat",
                CATEGORICAL_COLUMNS,
                [
                    Step::impute(ImputeStrategy::MostFrequent),
                    Step::one_hot(UnknownCategory::Error),
                ],
            );
        train_with(p, 4, 1.0)
    })
}

pub fn predictor(i: usize) -> Predictor {
    Predictor::from_arc("churn", i as u64 + 1, Arc::clone(&bundles()[i])).unwrap()
}

/// Row `i` of a batch as a request record (integers as `Int`, floats as `Float`, text as `Str`).
pub fn record(batch: &RecordBatch, i: usize) -> Record {
    let mut r = Record::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let v = if col.is_null(i) {
            Value::Null
        } else {
            match col.data_type() {
                dt if dt.is_integer() => {
                    let c = arrow_cast::cast(col, &DataType::Int64).unwrap();
                    Value::Int(c.as_primitive::<Int64Type>().value(i))
                }
                dt if dt.is_floating() => {
                    let c = arrow_cast::cast(col, &DataType::Float64).unwrap();
                    Value::Float(c.as_primitive::<Float64Type>().value(i))
                }
                _ => {
                    let c = arrow_cast::cast(col, &DataType::Utf8).unwrap();
                    Value::Str(c.as_string::<i32>().value(i).to_string())
                }
            }
        };
        r.insert(field.name().clone(), v);
    }
    r
}

pub fn records(batch: &RecordBatch) -> Vec<Record> {
    (0..batch.num_rows()).map(|i| record(batch, i)).collect()
}
