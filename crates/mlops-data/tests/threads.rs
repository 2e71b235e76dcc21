//! `Pipeline::fit_with` / `FittedPipeline::transform_stream_with` / `profile_stream_with`: any
//! thread count gives a bit-identical fitted pipeline, matrix and profile, and the same error as
//! one thread (the one a single-threaded pass meets first), on inputs large enough for the
//! threads to be used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_data::pipeline::{FittedPipeline, Pipeline, Remainder, Threads};
use mlops_data::profile::{ProfileOptions, profile_stream, profile_stream_with};
use mlops_data::synth::{self, ChurnConfig, ChurnGenerator};
use mlops_data::transform::{ImputeStrategy, OrdinalUnknown, Step, UnknownCategory};
use mlops_data::{BatchStream, Error};

const THREADS: [usize; 4] = [1, 2, 3, 8];

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

/// `batch` cut into batches of the given sizes, cycling.
fn cut(batch: &RecordBatch, sizes: &[usize]) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < batch.num_rows() {
        let n = sizes[i % sizes.len()].min(batch.num_rows() - at);
        out.push(batch.slice(at, n));
        at += n;
        i += 1;
    }
    out
}

fn stream(batches: &[RecordBatch]) -> BatchStream {
    BatchStream::from_batches(batches[0].schema(), batches.to_vec())
}

fn replace(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let idx = batch.schema().index_of(name).unwrap();
    let mut cols = batch.columns().to_vec();
    cols[idx] = array;
    RecordBatch::try_new(batch.schema(), cols).unwrap()
}

fn set_f64(batch: &RecordBatch, name: &str, row: usize, value: f64) -> RecordBatch {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let mut v: Vec<Option<f64>> = col.iter().collect();
    v[row] = Some(value);
    replace(batch, name, Arc::new(Float64Array::from(v)))
}

fn set_str(batch: &RecordBatch, name: &str, row: usize, value: &str) -> RecordBatch {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let mut v: Vec<Option<String>> = col.iter().map(|s| s.map(str::to_string)).collect();
    v[row] = Some(value.to_string());
    replace(batch, name, Arc::new(StringArray::from(v)))
}

fn bits(fitted: &FittedPipeline, batches: &[RecordBatch], threads: Threads) -> Vec<u64> {
    let x = fitted
        .transform_stream_with(stream(batches), threads)
        .unwrap();
    assert_eq!(x.names, fitted.feature_names());
    x.data.iter().map(|v| v.to_bits()).collect()
}

fn wide_pipeline() -> Pipeline {
    Pipeline::new()
        .group(
            "num",
            ["tenure_months", "monthly_charges", "age", "total_charges"],
            [
                Step::impute(ImputeStrategy::Median),
                Step::clip(Some(0.0), Some(5000.0)),
                Step::log1p(),
                Step::standard_scaler(),
            ],
        )
        .group(
            "cat",
            ["plan", "device", "region"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::one_hot(UnknownCategory::MapToOther),
            ],
        )
        .group(
            "ord",
            ["contract", "channel"],
            [
                Step::impute(ImputeStrategy::Constant),
                Step::ordinal(OrdinalUnknown::Code(-1.0)),
            ],
        )
        .remainder(Remainder::PassthroughNumeric)
}

#[test]
fn any_thread_count_fits_and_transforms_bit_identically() {
    let train = churn(150_000, 1, 0.05);
    // No nulls in the test rows: the passthrough remainder refuses them.
    let test = churn(140_000, 2, 0.0);
    for pipeline in [synth::churn_pipeline(ImputeStrategy::Mean), wide_pipeline()] {
        // Odd batch sizes so thread ranges cut batches; one 140k-row batch too.
        let train_batches = cut(&train, &[50_000, 7_777, 1]);
        let reference = pipeline
            .fit_with(stream(&train_batches), Threads::ONE)
            .unwrap();
        let want = reference.to_bytes().unwrap();
        let test_cuts = [cut(&test, &[33_333, 100, 65_536]), vec![test.clone()]];
        let want_x = bits(&reference, &test_cuts[0], Threads::ONE);
        assert_eq!(want_x.len(), 140_000 * reference.feature_names().len());
        for t in THREADS {
            let fitted = pipeline
                .fit_with(stream(&train_batches), Threads::fixed(t))
                .unwrap();
            assert_eq!(fitted.to_bytes().unwrap(), want, "fit with {t} threads");
            for batches in &test_cuts {
                assert_eq!(
                    bits(&fitted, batches, Threads::fixed(t)),
                    want_x,
                    "transform with {t} threads"
                );
            }
        }
        // The defaults (all cores) agree too.
        let fitted = pipeline.fit(stream(&train_batches)).unwrap();
        assert_eq!(fitted.to_bytes().unwrap(), want);
        let x = fitted.transform_stream(stream(&test_cuts[1])).unwrap();
        let got: Vec<u64> = x.data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want_x);
    }
}

#[test]
fn transform_reports_the_single_threaded_error_when_a_batch_is_cut() {
    let train = churn(100_000, 3, 0.0);
    let pipeline = Pipeline::new()
        .group("num", ["monthly_charges"], [Step::standard_scaler()])
        .group("cat", ["plan"], [Step::one_hot(UnknownCategory::Error)]);
    let fitted = pipeline
        .fit_with(stream(std::slice::from_ref(&train)), Threads::ONE)
        .unwrap();
    // One batch: the first group (numeric) fails late, the second (categorical) early. A
    // single-threaded pass walks the groups in order, so it reports the late infinity.
    let test = churn(120_000, 4, 0.0);
    let test = set_f64(&test, "monthly_charges", 110_000, f64::INFINITY);
    let test = set_str(&test, "plan", 10, "no-such-plan");
    let one = fitted
        .transform_stream_with(stream(std::slice::from_ref(&test)), Threads::ONE)
        .unwrap_err();
    assert!(
        matches!(&one, Error::NonFinite { column, row: 110_000, .. } if column == "monthly_charges"),
        "{one:?}"
    );
    for t in THREADS {
        let err = fitted
            .transform_stream_with(stream(std::slice::from_ref(&test)), Threads::fixed(t))
            .unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{one:?}"), "{t} threads");
    }
    // Across batches the earlier batch's error wins, and rows count over the stream.
    let batches = cut(&test, &[60_000]);
    for t in THREADS {
        let err = fitted
            .transform_stream_with(stream(&batches), Threads::fixed(t))
            .unwrap_err();
        assert!(
            matches!(&err, Error::UnseenCategory { column, .. } if column == "plan")
                || format!("{err:?}").contains("no-such-plan"),
            "{t} threads: {err:?}"
        );
        let reference = fitted
            .transform_stream_with(stream(&batches), Threads::ONE)
            .unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{reference:?}"), "{t} threads");
    }
}

#[test]
fn fit_reports_the_single_threaded_error() {
    let pipeline = wide_pipeline();
    let train = churn(200_000, 5, 0.05);
    // Batch 2 has an infinity in a late-materialised column, batch 3 one in an early column:
    // a single-threaded walk meets batch 2's first.
    let mut batches = cut(&train, &[50_000]);
    batches[2] = set_f64(&batches[2], "total_charges", 17, f64::NEG_INFINITY);
    batches[3] = set_f64(&batches[3], "monthly_charges", 3, f64::INFINITY);
    let one = pipeline
        .fit_with(stream(&batches), Threads::ONE)
        .unwrap_err();
    assert!(
        matches!(&one, Error::NonFinite { column, row: 100_017, .. } if column == "total_charges"),
        "{one:?}"
    );
    for t in THREADS {
        let err = pipeline
            .fit_with(stream(&batches), Threads::fixed(t))
            .unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{one:?}"), "{t} threads");
    }
}

#[test]
fn stream_errors_surface_after_earlier_batches_in_order() {
    let data = churn(150_000, 6, 0.0);
    let schema = data.schema();
    let fitted = synth::churn_pipeline(ImputeStrategy::Mean)
        .fit_with(stream(std::slice::from_ref(&data)), Threads::ONE)
        .unwrap();
    let failing = |bad_first: bool| {
        let mut first = data.slice(0, 70_000);
        if bad_first {
            first = set_str(&first, "plan", 5, "");
            first = set_f64(&first, "monthly_charges", 69_999, f64::NAN);
            first = set_f64(&first, "monthly_charges", 69_998, f64::INFINITY);
        }
        let second = data.slice(70_000, 70_000);
        let items: Vec<mlops_data::Result<RecordBatch>> = vec![
            Ok(first),
            Ok(second),
            Err(Error::Incompatible("the source broke".to_string())),
        ];
        BatchStream::new(schema.clone(), items.into_iter())
    };
    for t in THREADS {
        let err = fitted
            .transform_stream_with(failing(false), Threads::fixed(t))
            .unwrap_err();
        assert!(format!("{err}").contains("the source broke"), "{t}: {err}");
        let err = fitted
            .transform_stream_with(failing(true), Threads::fixed(t))
            .unwrap_err();
        let reference = fitted
            .transform_stream_with(failing(true), Threads::ONE)
            .unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{reference:?}"), "{t} threads");
        assert!(!format!("{err}").contains("the source broke"), "{t}: {err}");
        let err = synth::churn_pipeline(ImputeStrategy::Mean)
            .fit_with(failing(false), Threads::fixed(t))
            .unwrap_err();
        assert!(format!("{err}").contains("the source broke"), "{t}: {err}");
    }
}

#[test]
fn thread_counts() {
    assert_eq!(Threads::ONE.count(), 1);
    assert_eq!(Threads::fixed(0).count(), 1);
    assert_eq!(Threads::fixed(3).count(), 3);
    let all = Threads::AllCores.count();
    assert!((1..=8).contains(&all));
    assert_eq!(Threads::default(), Threads::AllCores);
}

#[test]
fn any_thread_count_profiles_bit_identically() {
    let data = churn(300_000, 7, 0.05);
    let batches = cut(&data, &[40_000, 9_999, 1]);
    let options = ProfileOptions::default();
    let one = profile_stream_with(stream(&batches), &options, Threads::ONE).unwrap();
    assert_eq!(one.rows(), 300_000);
    let want = rmp_serde::to_vec_named(&one).unwrap();
    for t in THREADS {
        let p = profile_stream_with(stream(&batches), &options, Threads::fixed(t)).unwrap();
        assert_eq!(p, one, "{t} threads");
        assert_eq!(rmp_serde::to_vec_named(&p).unwrap(), want, "{t} threads");
    }
    assert_eq!(profile_stream(stream(&batches), &options).unwrap(), one);
}

#[test]
fn profile_errors_match_one_thread() {
    let data = churn(200_000, 8, 0.0);
    let mut batches = cut(&data, &[50_000]);
    // A batch with a different schema in the middle of a window.
    let idx = data.schema().index_of("plan").unwrap();
    let mut fields: Vec<arrow_schema::Field> = data
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[idx] = arrow_schema::Field::new("plan", arrow_schema::DataType::Float64, true);
    let mut cols = batches[2].columns().to_vec();
    cols[idx] = Arc::new(Float64Array::from(vec![1.0; 50_000]));
    batches[2] = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    let batches: Vec<RecordBatch> = batches;
    let make = |bs: &[RecordBatch]| {
        let schema = bs[0].schema();
        let items: Vec<mlops_data::Result<RecordBatch>> = bs.iter().cloned().map(Ok).collect();
        BatchStream::new(schema, items.into_iter())
    };
    let options = ProfileOptions::default();
    let one = profile_stream_with(make(&batches), &options, Threads::ONE).unwrap_err();
    assert!(matches!(one, Error::SchemaMismatch { .. }), "{one:?}");
    for t in THREADS {
        let err = profile_stream_with(make(&batches), &options, Threads::fixed(t)).unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{one:?}"), "{t} threads");
    }
}

#[test]
fn a_wrong_rows_hint_changes_nothing() {
    let train = churn(100_000, 9, 0.05);
    let test = churn(90_000, 10, 0.0);
    let batches = cut(&test, &[30_000, 7]);
    let fitted = synth::churn_pipeline(ImputeStrategy::Mean)
        .fit_with(stream(std::slice::from_ref(&train)), Threads::ONE)
        .unwrap();
    let want = bits(&fitted, &batches, Threads::ONE);
    let schema = batches[0].schema();
    for hint in [0, 1, 89_999, 90_000, 90_001, 1_000_000] {
        for t in THREADS {
            let items: Vec<mlops_data::Result<RecordBatch>> =
                batches.iter().cloned().map(Ok).collect();
            let s = BatchStream::new(schema.clone(), items.into_iter()).with_rows_hint(hint);
            assert_eq!(s.rows_hint(), Some(hint));
            let x = fitted.transform_stream_with(s, Threads::fixed(t)).unwrap();
            assert_eq!(x.data.nrows(), 90_000, "hint {hint}, {t} threads");
            let got: Vec<u64> = x.data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "hint {hint}, {t} threads");
        }
    }
    assert_eq!(stream(&batches).rows_hint(), Some(90_000));
}
