//! Golden test: fitted pipelines against scikit-learn's `ColumnTransformer`, every cell within
//! 1e-12 (absolute, or relative for large values). Fixtures: `tests/fixtures/pipeline/gen.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use mlops_data::pipeline::{Pipeline, Remainder};
use mlops_data::transform::{
    ImputeStrategy, ImputerParams, MinMaxScalerParams, OneHotEncoderParams, OrdinalUnknown, Step,
    UnknownCategory,
};
use mlops_data::{BatchStream, FeatureMatrix};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pipeline")
        .join(name)
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("age", DataType::Float64, true),
        Field::new("income", DataType::Float64, true),
        Field::new("visits", DataType::Int64, true),
        Field::new("balance", DataType::Float64, true),
        Field::new("plan", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("tier", DataType::Utf8, true),
        Field::new("seats", DataType::Float64, true),
    ]))
}

/// Reads a fixture CSV in batches of `batch_size` rows (several batches, to exercise merging).
fn read_csv(name: &str, batch_size: usize) -> Vec<RecordBatch> {
    let file = File::open(fixture(name)).unwrap();
    arrow_csv::ReaderBuilder::new(schema())
        .with_header(true)
        .with_batch_size(batch_size)
        .build(file)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn stream(batches: Vec<RecordBatch>) -> BatchStream {
    BatchStream::from_batches(schema(), batches)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// Asserts every cell is within 1e-12 (absolute, or relative above 1); returns the largest
/// absolute difference.
fn assert_close(variant: &str, part: &str, got: &FeatureMatrix, want: &[Vec<f64>]) -> f64 {
    assert_eq!(got.nrows(), want.len(), "{variant}/{part}: rows");
    let mut max_diff = 0.0f64;
    for (i, row) in want.iter().enumerate() {
        assert_eq!(got.ncols(), row.len(), "{variant}/{part}: cols");
        for (j, &w) in row.iter().enumerate() {
            let g = got.data[[i, j]];
            let tol = 1e-12 * w.abs().max(1.0);
            assert!(
                (g - w).abs() <= tol,
                "{variant}/{part}: cell ({i}, {j}) [{}] = {g:?}, sklearn {w:?}, diff {:e}",
                got.names[j],
                (g - w).abs()
            );
            max_diff = max_diff.max((g - w).abs());
        }
    }
    max_diff
}

const NUM: [&str; 3] = ["age", "income", "visits"];
const CAT: [&str; 3] = ["plan", "region", "channel"];

fn one_hot(p: OneHotEncoderParams) -> Step {
    Step::OneHot(p)
}

fn variants() -> Vec<(&'static str, Pipeline)> {
    let most_frequent = || Step::impute(ImputeStrategy::MostFrequent);
    vec![
        (
            "mean_onehot",
            Pipeline::new()
                .group(
                    "num",
                    NUM,
                    [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()],
                )
                .group(
                    "cat",
                    CAT,
                    [most_frequent(), Step::one_hot(UnknownCategory::Ignore)],
                ),
        ),
        (
            "median_minmax_passthrough",
            Pipeline::new()
                .group(
                    "num",
                    NUM,
                    [
                        Step::impute(ImputeStrategy::Median),
                        Step::MinMaxScaler(MinMaxScalerParams::default().feature_range(-1.0, 2.0)),
                    ],
                )
                .group(
                    "cat",
                    CAT,
                    [
                        most_frequent(),
                        one_hot(
                            OneHotEncoderParams::default()
                                .unknown(UnknownCategory::Ignore)
                                .drop_first(true),
                        ),
                    ],
                )
                // The test projects away id, tier and seats (absent from sklearn's frame), so
                // the numeric remainder is `balance`.
                .remainder(Remainder::PassthroughNumeric),
        ),
        (
            "constant",
            Pipeline::new()
                .group(
                    "num",
                    NUM,
                    [
                        Step::Impute(
                            ImputerParams::new(ImputeStrategy::Constant).fill_number(-1.0),
                        ),
                        Step::standard_scaler(),
                    ],
                )
                .group(
                    "cat",
                    CAT,
                    [
                        Step::Impute(
                            ImputerParams::new(ImputeStrategy::Constant).fill_text("missing"),
                        ),
                        Step::one_hot(UnknownCategory::Ignore),
                    ],
                ),
        ),
        (
            "most_frequent_infrequent",
            Pipeline::new()
                .group(
                    "num",
                    ["visits", "seats"],
                    [most_frequent(), Step::standard_scaler()],
                )
                .group(
                    "cat",
                    ["plan", "region", "tier"],
                    [
                        most_frequent(),
                        one_hot(
                            OneHotEncoderParams::default()
                                .unknown(UnknownCategory::MapToOther)
                                .max_categories(Some(3)),
                        ),
                    ],
                ),
        ),
        (
            "log_ordinal",
            Pipeline::new()
                .group("log", ["balance"], [Step::log1p(), Step::standard_scaler()])
                .group(
                    "ord",
                    ["plan", "region"],
                    [most_frequent(), Step::ordinal(OrdinalUnknown::Code(-1.0))],
                ),
        ),
    ]
}

/// Drops the columns the sklearn frame of a variant did not contain.
fn project(batches: Vec<RecordBatch>, drop: &[&str]) -> (SchemaRef, Vec<RecordBatch>) {
    let s = schema();
    let keep: Vec<usize> = (0..s.fields().len())
        .filter(|&i| !drop.contains(&s.field(i).name().as_str()))
        .collect();
    let projected = Arc::new(s.project(&keep).unwrap());
    let batches = batches
        .into_iter()
        .map(|b| b.project(&keep).unwrap())
        .collect();
    (projected, batches)
}

#[test]
fn pipelines_match_scikit_learn() {
    let expected = expected();
    let variants_json = &expected["variants"];
    for (name, pipeline) in variants() {
        let want = &variants_json[name];
        assert!(want.is_object(), "fixture lacks variant {name}");
        let (train, test) = (read_csv("train.csv", 64), read_csv("test.csv", 25));
        let (train_schema, train, test) = if name == "median_minmax_passthrough" {
            // sklearn saw only these columns (no id, tier, seats).
            let drop = ["id", "tier", "seats"];
            let (s, tr) = project(train, &drop);
            let (_, te) = project(test, &drop);
            (s, tr, te)
        } else {
            (schema(), train, test)
        };
        let fitted = pipeline
            .fit(BatchStream::from_batches(
                train_schema.clone(),
                train.clone(),
            ))
            .unwrap_or_else(|e| panic!("{name}: fit failed: {e}"));
        let names: Vec<String> = want["feature_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(fitted.feature_names(), names, "{name}: feature names");

        let got_train = fitted
            .transform_stream(BatchStream::from_batches(train_schema.clone(), train))
            .unwrap();
        let d_train = assert_close(name, "train", &got_train, &matrix(&want["train"]));

        let got_test = fitted
            .transform_stream(BatchStream::from_batches(
                train_schema.clone(),
                test.clone(),
            ))
            .unwrap();
        let d_test = assert_close(name, "test", &got_test, &matrix(&want["test"]));
        eprintln!("{name}: max |diff| vs sklearn: train {d_train:e}, test {d_test:e}");

        // Per-batch transform agrees with the stream transform.
        let first = fitted.transform(&test[0]).unwrap();
        assert_eq!(
            first.data,
            got_test
                .data
                .slice_axis(ndarray::Axis(0), ndarray::Slice::from(..test[0].num_rows()))
        );

        // The serialised pipeline round-trips byte-identically and transforms identically.
        let bytes = fitted.to_bytes().unwrap();
        let back = mlops_data::pipeline::FittedPipeline::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes().unwrap(), bytes, "{name}: bytes differ");
        let again = back
            .transform_stream(BatchStream::from_batches(train_schema, test))
            .unwrap();
        assert_eq!(again, got_test, "{name}: transform after round trip");
    }
}

#[test]
fn dictionary_columns_give_the_same_result() {
    let batches = read_csv("train.csv", 100);
    let dict_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let fields: Vec<Field> = schema()
        .fields()
        .iter()
        .map(|f| {
            if CAT.contains(&f.name().as_str()) {
                Field::new(f.name(), dict_type.clone(), true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let dict_schema = Arc::new(Schema::new(fields));
    let dict_batches: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let cols: Vec<ArrayRef> = b
                .columns()
                .iter()
                .zip(dict_schema.fields())
                .map(|(c, f)| arrow_cast::cast(c, f.data_type()).unwrap())
                .collect();
            RecordBatch::try_new(dict_schema.clone(), cols).unwrap()
        })
        .collect();
    let (_, pipeline) = variants().remove(0);
    let plain = pipeline.fit(stream(batches.clone())).unwrap();
    let dict = pipeline
        .fit(BatchStream::from_batches(
            dict_schema.clone(),
            dict_batches.clone(),
        ))
        .unwrap();
    assert_eq!(plain, dict);
    let a = plain.transform_stream(stream(batches)).unwrap();
    let b = plain
        .transform_stream(BatchStream::from_batches(dict_schema, dict_batches))
        .unwrap();
    assert_eq!(a, b);
}
