//! The bad-input catalogue of `mlops-data` (issue 8): every bad input a user can hand the data
//! layer, the exact error variant it produces, and that the message names the problem.
//!
//! Table-driven: each [`Case`] runs one bad call; the loop runs every case and reports all
//! mismatches at once. `docs/errors.md` is written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_data::ingest::{
    CsvOptions, ParquetOptions, ParquetWriteOptions, ReadOptions, read_csv_bytes, read_csv_path,
    read_parquet_bytes, read_parquet_path, read_path, write_parquet_path,
};
use mlops_data::pipeline::{FittedPipeline, Pipeline, RowValue};
use mlops_data::profile::{ProfileOptions, profile_batch};
use mlops_data::schema::{ColumnSchema, TableSchema, ViolationKind, validate};
use mlops_data::split::{SplitRatios, k_fold, stratified_k_fold, take_rows};
use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
use mlops_data::{BatchStream, Error, Result};

/// One bad input.
struct Case {
    /// What the user did.
    name: &'static str,
    /// Performs the bad call in a fresh temporary directory; must fail.
    run: fn(&Path) -> Result<()>,
    /// The exact error expected.
    expect: fn(&Error) -> bool,
    /// Substrings the error message must contain (the column, file, row or value at fault).
    names: &'static [&'static str],
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Opens and drains a stream, so errors found while streaming surface too.
fn drain(stream: Result<BatchStream>) -> Result<()> {
    stream?.collect_batches().map(|_| ())
}

fn read_csv_file(dir: &Path, name: &str, contents: &[u8], options: &CsvOptions) -> Result<()> {
    let path = write(dir, name, contents);
    drain(read_csv_path(path, options))
}

fn valid_batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("age", DataType::Float64, true),
        Field::new("plan", DataType::Utf8, true),
        Field::new("count", DataType::Int64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(vec![30.0, 41.5, 52.0, 18.0])) as ArrayRef,
            Arc::new(StringArray::from(vec!["gold", "basic", "gold", "basic"])),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        ],
    )
    .unwrap()
}

fn stream_of(batch: RecordBatch) -> BatchStream {
    BatchStream::from_batches(batch.schema(), vec![batch])
}

fn parquet_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet_path(
        &path,
        stream_of(valid_batch()),
        &ParquetWriteOptions::default(),
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

fn fitted(unknown: UnknownCategory) -> FittedPipeline {
    Pipeline::new()
        .group(
            "num",
            ["age"],
            [
                Step::impute(ImputeStrategy::Median),
                Step::standard_scaler(),
            ],
        )
        .group("cat", ["plan"], [Step::one_hot(unknown)])
        .fit(stream_of(valid_batch()))
        .unwrap()
}

/// A batch with `age` replaced by `ages` and `plan` by `plans`.
fn batch_with(ages: Vec<Option<f64>>, plans: Vec<Option<&str>>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("age", DataType::Float64, true),
        Field::new("plan", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(ages)) as ArrayRef,
            Arc::new(StringArray::from(plans)),
        ],
    )
    .unwrap()
}

fn transform(unknown: UnknownCategory, batch: RecordBatch) -> Result<()> {
    fitted(unknown).transform(&batch).map(|_| ())
}

fn long_int_column(bad_row: usize, bad: &str) -> Vec<u8> {
    let mut data = String::from("id,v\n");
    for i in 1..=300 {
        let v = if i == bad_row {
            bad.to_string()
        } else {
            i.to_string()
        };
        writeln!(data, "{i},{v}").unwrap();
    }
    data.into_bytes()
}

fn small_sample() -> CsvOptions {
    CsvOptions::default().with_infer_rows(50)
}

fn cases() -> Vec<Case> {
    vec![
        // ---- files --------------------------------------------------------------------------
        Case {
            name: "empty CSV file",
            run: |d| read_csv_file(d, "empty.csv", b"", &CsvOptions::default()),
            expect: |e| matches!(e, Error::EmptyTable { path: Some(p) } if p.ends_with("empty.csv")),
            names: &["empty table", "empty.csv"],
        },
        Case {
            name: "header-only CSV",
            run: |d| read_csv_file(d, "header.csv", b"a,b,c\n", &CsvOptions::default()),
            expect: |e| matches!(e, Error::EmptyTable { path: Some(p) } if p.ends_with("header.csv")),
            names: &["empty table", "header.csv"],
        },
        Case {
            name: "blank lines only",
            run: |d| read_csv_file(d, "blank.csv", b"\n\n\n", &CsvOptions::default()),
            expect: |e| matches!(e, Error::EmptyTable { .. }),
            names: &["blank.csv"],
        },
        Case {
            name: "truncated CSV (last row cut mid-record)",
            run: |d| read_csv_file(d, "cut.csv", b"a,b,c\n1,2,3\n4,5", &CsvOptions::default()),
            expect: |e| {
                matches!(
                    e,
                    Error::Csv {
                        path: Some(_),
                        row: Some(2),
                        ..
                    }
                )
            },
            names: &["cut.csv", "row 2"],
        },
        Case {
            name: "ragged row with an extra field",
            run: |d| {
                read_csv_file(
                    d,
                    "ragged.csv",
                    b"a,b\n1,2\n3,4,5\n6,7\n",
                    &CsvOptions::default(),
                )
            },
            expect: |e| matches!(e, Error::Csv { row: Some(2), .. }),
            names: &["ragged.csv", "row 2"],
        },
        Case {
            name: "empty Parquet file",
            run: |d| {
                let p = write(d, "empty.parquet", b"");
                drain(read_parquet_path(p, &ParquetOptions::default()))
            },
            expect: |e| matches!(e, Error::Parquet { path: Some(p), .. } if p.ends_with("empty.parquet")),
            names: &["empty.parquet"],
        },
        Case {
            name: "truncated Parquet (half the bytes)",
            run: |d| {
                let bytes = parquet_bytes();
                let p = write(d, "half.parquet", &bytes[..bytes.len() / 2]);
                drain(read_parquet_path(p, &ParquetOptions::default()))
            },
            expect: |e| matches!(e, Error::Parquet { path: Some(_), .. }),
            names: &["half.parquet"],
        },
        Case {
            name: "Parquet with the trailing magic overwritten",
            run: |d| {
                let mut bytes = parquet_bytes();
                let n = bytes.len();
                bytes[n - 4..].copy_from_slice(b"XXXX");
                let p = write(d, "magic.parquet", bytes);
                drain(read_parquet_path(p, &ParquetOptions::default()))
            },
            expect: |e| matches!(e, Error::Parquet { path: Some(_), .. }),
            names: &["magic.parquet"],
        },
        Case {
            name: "Parquet footer length field absurd",
            run: |_| {
                let mut bytes = parquet_bytes();
                let n = bytes.len();
                bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
                drain(read_parquet_bytes(bytes, &ParquetOptions::default()))
            },
            expect: |e| matches!(e, Error::Parquet { path: None, .. }),
            names: &["parquet"],
        },
        Case {
            name: "CSV text handed to the Parquet reader",
            run: |_| {
                drain(read_parquet_bytes(
                    b"a,b\n1,2\n".to_vec(),
                    &ParquetOptions::default(),
                ))
            },
            expect: |e| matches!(e, Error::Parquet { .. }),
            names: &["parquet"],
        },
        Case {
            name: "missing file",
            run: |d| drain(read_path(d.join("nope.csv"), &ReadOptions::default())),
            expect: |e| {
                matches!(e, Error::Io { path, source }
                    if path.ends_with("nope.csv") && source.kind() == std::io::ErrorKind::NotFound)
            },
            names: &["nope.csv"],
        },
        Case {
            name: "directory named like a data file",
            run: |d| {
                std::fs::create_dir(d.join("dir.csv")).unwrap();
                drain(read_path(d.join("dir.csv"), &ReadOptions::default()))
            },
            expect: |e| matches!(e, Error::Io { path, .. } if path.ends_with("dir.csv")),
            names: &["dir.csv"],
        },
        Case {
            name: "unknown extension",
            run: |d| drain(read_path(d.join("table.xlsx"), &ReadOptions::default())),
            expect: |e| matches!(e, Error::UnsupportedFormat { extension: Some(x), .. } if x == "xlsx"),
            names: &["table.xlsx", "xlsx"],
        },
        Case {
            name: "no extension",
            run: |d| drain(read_path(d.join("table"), &ReadOptions::default())),
            expect: |e| {
                matches!(
                    e,
                    Error::UnsupportedFormat {
                        extension: None,
                        ..
                    }
                )
            },
            names: &["<none>"],
        },
        Case {
            name: "path with a NUL byte",
            run: |d| drain(read_path(d.join("a\0b.csv"), &ReadOptions::default())),
            expect: |e| matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidInput),
            names: &["a\0b.csv"],
        },
        Case {
            name: "path with a 300-byte file name",
            run: |d| {
                drain(read_path(
                    d.join(format!("{}.csv", "x".repeat(300))),
                    &ReadOptions::default(),
                ))
            },
            expect: |e| matches!(e, Error::Io { .. }),
            names: &["xxxxxxxxxx"],
        },
        Case {
            name: "path traversal that leads nowhere",
            run: |d| {
                drain(read_path(
                    d.join("a/../../no-such-dir-xyz/t.csv"),
                    &ReadOptions::default(),
                ))
            },
            expect: |e| matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            names: &["no-such-dir-xyz"],
        },
        // ---- CSV contents -------------------------------------------------------------------
        Case {
            name: "duplicate column names",
            run: |_| drain(read_csv_bytes("a,b,a\n1,2,3\n", &CsvOptions::default())),
            expect: |e| matches!(e, Error::DuplicateColumn { column } if column == "a"),
            names: &["duplicate column", "\"a\""],
        },
        Case {
            name: "empty column name",
            run: |_| drain(read_csv_bytes("a,,b\n1,2,3\n", &CsvOptions::default())),
            expect: |e| matches!(e, Error::DuplicateColumn { column } if column.is_empty()),
            names: &["duplicate column"],
        },
        Case {
            name: "non-UTF-8 byte in a value",
            run: |d| {
                read_csv_file(
                    d,
                    "latin1.csv",
                    b"a,b\n1,ok\n2,caf\xe9\n",
                    &CsvOptions::default(),
                )
            },
            expect: |e| matches!(e, Error::Csv { row: Some(2), .. }),
            names: &["latin1.csv", "row 2"],
        },
        Case {
            name: "non-UTF-8 byte in the header",
            run: |_| {
                drain(read_csv_bytes(
                    &b"a,\xff\n1,2\n"[..],
                    &CsvOptions::default(),
                ))
            },
            expect: |e| matches!(e, Error::Csv { row: None, .. }),
            names: &["malformed CSV"],
        },
        Case {
            name: "text in an integer column after the inference sample",
            run: |_| drain(read_csv_bytes(long_int_column(200, "abc"), &small_sample())),
            expect: |e| matches!(e, Error::Csv { row: Some(200), message, .. } if message.contains("\"v\"")),
            names: &["row 200", "\"v\"", "abc"],
        },
        Case {
            name: "i64 overflow text in an integer column",
            run: |_| {
                drain(read_csv_bytes(
                    long_int_column(120, "99999999999999999999"),
                    &small_sample(),
                ))
            },
            expect: |e| matches!(e, Error::Csv { row: Some(120), .. }),
            names: &["row 120", "\"v\"", "99999999999999999999"],
        },
        Case {
            name: "float in an integer column after the sample",
            run: |_| drain(read_csv_bytes(long_int_column(77, "1.5"), &small_sample())),
            expect: |e| matches!(e, Error::Csv { row: Some(77), .. }),
            names: &["row 77", "1.5"],
        },
        Case {
            name: "value that does not parse under a type override",
            run: |_| {
                drain(read_csv_bytes(
                    "a,b\n1,x\n2,y\n",
                    &CsvOptions::default().with_override("b", DataType::Float64),
                ))
            },
            expect: |e| matches!(e, Error::Csv { row: Some(1), .. }),
            names: &["\"b\"", "row 1"],
        },
        Case {
            name: "zero batch size",
            run: |_| {
                drain(read_csv_bytes(
                    "a\n1\n",
                    &CsvOptions::default().with_batch_size(0),
                ))
            },
            expect: |e| matches!(e, Error::InvalidParam { param, .. } if param.contains("batch_size")),
            names: &["batch_size"],
        },
        // ---- values in pipelines ------------------------------------------------------------
        Case {
            name: "unseen category under the error policy",
            run: |_| {
                transform(
                    UnknownCategory::Error,
                    batch_with(
                        vec![Some(1.0), Some(2.0)],
                        vec![Some("gold"), Some("platinum")],
                    ),
                )
            },
            expect: |e| {
                matches!(e, Error::UnseenCategory { column, value, row: 1 }
                    if column == "plan" && value == "platinum")
            },
            names: &["\"plan\"", "\"platinum\"", "row 1"],
        },
        Case {
            name: "infinite value reaching the model",
            run: |_| {
                transform(
                    UnknownCategory::Ignore,
                    batch_with(
                        vec![Some(1.0), Some(f64::INFINITY)],
                        vec![Some("gold"), Some("gold")],
                    ),
                )
            },
            expect: |e| matches!(e, Error::NonFinite { column, row: 1, .. } if column == "age"),
            names: &["\"age\"", "row 1", "inf"],
        },
        Case {
            name: "\"inf\" text in a CSV float column, then transformed",
            run: |_| {
                let batch =
                    read_csv_bytes("age,plan\n1.5,gold\ninf,gold\n", &CsvOptions::default())?
                        .collect_batch()?;
                fitted(UnknownCategory::Ignore)
                    .transform(&batch)
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::NonFinite { column, row: 1, .. } if column == "age"),
            names: &["\"age\"", "row 1"],
        },
        Case {
            name: "1e309 text overflows to infinity, then transformed",
            run: |_| {
                let batch =
                    read_csv_bytes("age,plan\n1e308,gold\n1e309,gold\n", &CsvOptions::default())?
                        .collect_batch()?;
                fitted(UnknownCategory::Ignore)
                    .transform(&batch)
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::NonFinite { column, row: 1, .. } if column == "age"),
            names: &["\"age\"", "row 1"],
        },
        Case {
            name: "null in a categorical column without an imputer",
            run: |_| {
                transform(
                    UnknownCategory::Error,
                    batch_with(vec![Some(1.0), Some(2.0)], vec![Some("gold"), None]),
                )
            },
            expect: |e| matches!(e, Error::NullValue { column, row: 1 } if column == "plan"),
            names: &["\"plan\"", "row 1"],
        },
        Case {
            name: "missing column at transform",
            run: |_| {
                let schema = Arc::new(Schema::new(vec![Field::new(
                    "age",
                    DataType::Float64,
                    true,
                )]));
                let batch = RecordBatch::try_new(
                    schema,
                    vec![Arc::new(Float64Array::from(vec![1.0])) as ArrayRef],
                )
                .unwrap();
                fitted(UnknownCategory::Ignore)
                    .transform(&batch)
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::MissingColumn { column, .. } if column == "plan"),
            names: &["missing column", "\"plan\""],
        },
        Case {
            name: "text where a number was fitted",
            run: |_| {
                let schema = Arc::new(Schema::new(vec![
                    Field::new("age", DataType::Utf8, true),
                    Field::new("plan", DataType::Utf8, true),
                ]));
                let batch = RecordBatch::try_new(
                    schema,
                    vec![
                        Arc::new(StringArray::from(vec!["old"])) as ArrayRef,
                        Arc::new(StringArray::from(vec!["gold"])),
                    ],
                )
                .unwrap();
                fitted(UnknownCategory::Ignore)
                    .transform(&batch)
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::TypeMismatch { column, .. } if column == "age"),
            names: &["\"age\""],
        },
        Case {
            name: "single row of the wrong kind (text for a number)",
            run: |_| {
                let f = fitted(UnknownCategory::Ignore);
                let mut out = vec![0.0; f.feature_names().len()];
                f.transform_row(
                    &[
                        RowValue::Categorical(Some("old")),
                        RowValue::Categorical(Some("gold")),
                    ],
                    &mut out,
                )
            },
            expect: |e| matches!(e, Error::TypeMismatch { column, .. } if column == "age"),
            names: &["\"age\""],
        },
        Case {
            name: "single row with too few values",
            run: |_| {
                let f = fitted(UnknownCategory::Ignore);
                let mut out = vec![0.0; f.feature_names().len()];
                f.transform_row(&[RowValue::Numeric(Some(1.0))], &mut out)
            },
            expect: |e| matches!(e, Error::Incompatible(m) if m.contains("1 value(s) for 2")),
            names: &["1 value(s) for 2 input column(s)"],
        },
        Case {
            name: "log1p of a value below -1",
            run: |_| {
                let f = Pipeline::new()
                    .group("num", ["age"], [Step::log1p()])
                    .fit(stream_of(batch_with(
                        vec![Some(1.0), Some(2.0)],
                        vec![Some("a"); 2],
                    )))?;
                f.transform(&batch_with(vec![Some(1.0), Some(-5.0)], vec![Some("a"); 2]))
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::OutOfDomain { column, row: 1, step: "log1p", .. } if column == "age"),
            names: &["\"age\"", "row 1", "log1p", "-5"],
        },
        Case {
            name: "fitting an imputer on an all-null column",
            run: |_| {
                Pipeline::new()
                    .group("num", ["age"], [Step::impute(ImputeStrategy::Mean)])
                    .fit(stream_of(batch_with(vec![None, None], vec![Some("a"); 2])))
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::AllMissing { column, .. } if column == "age"),
            names: &["\"age\""],
        },
        Case {
            name: "fitting on a missing column",
            run: |_| {
                Pipeline::new()
                    .group("num", ["tenure"], [Step::standard_scaler()])
                    .fit(stream_of(valid_batch()))
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::MissingColumn { column, .. } if column == "tenure"),
            names: &["\"tenure\""],
        },
        Case {
            name: "fitting on a hand-built batch that repeats a column name",
            run: |_| {
                let schema = Arc::new(Schema::new(vec![
                    Field::new("age", DataType::Float64, true),
                    Field::new("age", DataType::Utf8, true),
                ]));
                let batch = RecordBatch::try_new(
                    schema,
                    vec![
                        Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
                        Arc::new(StringArray::from(vec!["a", "b"])),
                    ],
                )
                .unwrap();
                Pipeline::new()
                    .group("num", ["age"], [Step::standard_scaler()])
                    .fit(stream_of(batch))
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::DuplicateColumn { column } if column == "age"),
            names: &["duplicate column", "\"age\""],
        },
        Case {
            name: "fitting on zero rows",
            run: |_| {
                let b = valid_batch();
                Pipeline::new()
                    .group("num", ["age"], [Step::standard_scaler()])
                    .fit(BatchStream::from_batches(b.schema(), vec![]))
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::EmptyTable { path: None }),
            names: &["empty table"],
        },
        Case {
            name: "corrupted fitted-pipeline bytes (flipped byte)",
            run: |_| {
                let mut bytes = fitted(UnknownCategory::Ignore).to_bytes()?;
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0xff;
                FittedPipeline::from_bytes(&bytes).map(|_| ())
            },
            expect: |e| matches!(e, Error::Serialization(_)),
            names: &["serialization error"],
        },
        Case {
            name: "truncated fitted-pipeline bytes",
            run: |_| {
                let bytes = fitted(UnknownCategory::Ignore).to_bytes()?;
                FittedPipeline::from_bytes(&bytes[..bytes.len() / 3]).map(|_| ())
            },
            expect: |e| matches!(e, Error::Serialization(_)),
            names: &["serialization"],
        },
        // ---- splits, labels, profiles -------------------------------------------------------
        Case {
            name: "single-class labels in a stratified split",
            run: |_| stratified_k_fold(&["yes", "yes", "yes", "no"], 2, 7).map(|_| ()),
            expect: |e| matches!(e, Error::ClassTooSmall { class, members: 1, required: 2 } if class.contains("no")),
            names: &["class \"no\" has 1 member(s)", "at least 2"],
        },
        Case {
            name: "k larger than the row count",
            run: |_| k_fold(3, 5, 7).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParam { param: "k", .. }),
            names: &["k"],
        },
        Case {
            name: "split ratios that do not sum to 1",
            run: |_| SplitRatios::new(0.9, 0.9, 0.1).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParam { .. }),
            names: &["invalid parameter"],
        },
        Case {
            name: "NaN split ratio",
            run: |_| SplitRatios::new(f64::NAN, 0.5, 0.5).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidParam { .. }),
            names: &["invalid parameter"],
        },
        Case {
            name: "row index past the end",
            run: |_| take_rows(&valid_batch(), &[0, 99]).map(|_| ()),
            expect: |e| matches!(e, Error::RowIndexOutOfRange { index: 99, rows: 4 }),
            names: &["99", "4 rows"],
        },
        Case {
            name: "merging profiles of different tables",
            run: |_| {
                let a = profile_batch(&valid_batch(), &ProfileOptions::default())?;
                let b = profile_batch(
                    &batch_with(vec![Some(1.0)], vec![Some("x")]),
                    &ProfileOptions::default(),
                )?;
                a.merge(&b).map(|_| ())
            },
            expect: |e| matches!(e, Error::Incompatible(_)),
            names: &["incompatible"],
        },
    ]
}

#[test]
fn every_bad_input_is_the_documented_typed_error() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let outcome = std::panic::catch_unwind(|| (case.run)(dir.path()));
        match outcome {
            Err(_) => failures.push(format!("{}: PANICKED", case.name)),
            Ok(Ok(())) => failures.push(format!("{}: succeeded, expected an error", case.name)),
            Ok(Err(e)) => {
                if !(case.expect)(&e) {
                    failures.push(format!("{}: wrong error {e:?}", case.name));
                }
                let message = e.to_string();
                for needle in case.names {
                    if !message.contains(needle) {
                        failures.push(format!(
                            "{}: message {message:?} does not name {needle:?}",
                            case.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A failed write never replaces or leaves a partial file under the destination name.
#[test]
fn failed_writes_leave_existing_files_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.parquet");
    std::fs::write(&dest, b"previous contents").unwrap();
    // A stream that fails on its second batch (text in an integer column after the sample).
    let stream = read_csv_bytes(
        long_int_column(250, "abc"),
        &small_sample().with_batch_size(100),
    )
    .unwrap();
    let err = write_parquet_path(&dest, stream, &ParquetWriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Csv { row: Some(250), .. }), "{err:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"previous contents");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.parquet"], "temporary files left behind");
}

// ---- schema validation: violations are data, not errors --------------------------------------

/// One bad table for `schema::validate`: the report (not an `Err`) must hold exactly one
/// violation of the expected kind, on the expected column, with the expected example rows.
struct ViolationCase {
    name: &'static str,
    csv: &'static str,
    kind: fn(&ViolationKind) -> bool,
    column: Option<&'static str>,
    rows: &'static [u64],
}

/// age: float in [0, 120], not null; plan: categories basic/gold; no extra columns.
fn strict_schema() -> TableSchema {
    TableSchema::new()
        .with(ColumnSchema::float("age").not_null().range(0.0, 120.0))
        .with(ColumnSchema::categorical("plan").categories(["basic", "gold"]))
        .allow_extra_columns(false)
}

fn violation_cases() -> Vec<ViolationCase> {
    vec![
        ViolationCase {
            name: "NaN as text in a float column",
            csv: "age,plan\n30,gold\nNaN,gold\n",
            kind: |k| matches!(k, ViolationKind::NonFinite),
            column: Some("age"),
            rows: &[1],
        },
        ViolationCase {
            name: "inf as text in a float column",
            csv: "age,plan\n30,gold\n40,basic\ninf,gold\n",
            kind: |k| matches!(k, ViolationKind::NonFinite),
            column: Some("age"),
            rows: &[2],
        },
        ViolationCase {
            name: "huge value (1e308) outside the declared range",
            csv: "age,plan\n1e308,gold\n",
            kind: |k| matches!(k, ViolationKind::OutOfRange { min, max } if *min == 0.0 && *max == 120.0),
            column: Some("age"),
            rows: &[0],
        },
        ViolationCase {
            name: "unseen category",
            csv: "age,plan\n30,gold\n31,platinum\n",
            kind: |k| matches!(k, ViolationKind::UnseenCategory { examples } if examples == &["platinum"]),
            column: Some("plan"),
            rows: &[1],
        },
        ViolationCase {
            name: "null in a not-null column",
            csv: "age,plan\n30,gold\n,gold\n",
            kind: |k| matches!(k, ViolationKind::NullNotAllowed),
            column: Some("age"),
            rows: &[1],
        },
        ViolationCase {
            name: "text in a float column",
            csv: "age,plan\nold,gold\n",
            kind: |k| matches!(k, ViolationKind::TypeMismatch { found, .. } if found == "Utf8"),
            column: Some("age"),
            rows: &[],
        },
        ViolationCase {
            name: "missing column",
            csv: "age\n30\n",
            kind: |k| matches!(k, ViolationKind::MissingColumn),
            column: Some("plan"),
            rows: &[],
        },
        ViolationCase {
            name: "extra column",
            csv: "age,plan,secret\n30,gold,x\n",
            kind: |k| matches!(k, ViolationKind::UnexpectedColumn),
            column: Some("secret"),
            rows: &[],
        },
    ]
}

#[test]
fn every_bad_table_is_the_documented_violation() {
    let cases = violation_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let report = read_csv_bytes(case.csv, &CsvOptions::default())
            .and_then(|stream| validate(&strict_schema(), stream));
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: error instead of a report: {e:?}", case.name));
                continue;
            }
        };
        if report.violations.len() != 1 {
            failures.push(format!("{}: {:?}", case.name, report.violations));
            continue;
        }
        let v = &report.violations[0];
        if !(case.kind)(&v.kind) {
            failures.push(format!("{}: kind {:?}", case.name, v.kind));
        }
        if v.column.as_deref() != case.column {
            failures.push(format!("{}: column {:?}", case.name, v.column));
        }
        if v.example_rows != case.rows {
            failures.push(format!("{}: rows {:?}", case.name, v.example_rows));
        }
        if let Some(column) = case.column
            && !report.to_string().contains(column)
        {
            failures.push(format!("{}: report text does not name {column}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
