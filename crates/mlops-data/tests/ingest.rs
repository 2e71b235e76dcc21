//! Tests of `mlops_data::ingest`: CSV and Parquet readers and writers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use mlops_data::ingest::{
    CsvOptions, FileFormat, ParquetCompression, ParquetFileWriter, ParquetOptions,
    ParquetWriteOptions, ReadOptions, infer_csv_schema, read_csv, read_csv_bytes, read_csv_path,
    read_parquet_bytes, read_parquet_path, read_path, write_csv_path, write_parquet_path,
};
use mlops_data::{BatchStream, Error};
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ingest")
        .join(name)
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn concat(stream: BatchStream) -> RecordBatch {
    let schema = stream.schema();
    let batches = stream.collect_batches().unwrap();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

/// `n` rows: id (int), x (float), flag (bool), name (text), with nulls every 7th row.
fn sample_csv(n: usize) -> String {
    let mut s = String::from("id,x,flag,name\n");
    for i in 0..n {
        let x = if i % 7 == 3 {
            String::new()
        } else {
            format!("{}", i as f64 * 0.25 - 3.0)
        };
        let name = if i % 7 == 5 {
            String::new()
        } else {
            format!("\"n, {i}\"")
        };
        writeln!(s, "{i},{x},{},{name}", i % 3 == 0).unwrap();
    }
    s
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---- CSV: types, nulls, options ----------------------------------------------------------------

#[test]
fn csv_fixture_types_and_values() {
    let stream = read_csv_path(fixture("customers.csv"), &CsvOptions::default()).unwrap();
    let schema = stream.schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        [
            &DataType::Int64,
            &DataType::Float64,
            &DataType::Utf8,
            &DataType::Boolean,
            &DataType::Utf8
        ]
    );
    assert!(schema.fields().iter().all(|f| f.is_nullable()));
    let batch = concat(stream);
    assert_eq!(batch.num_rows(), 6);
    let income = batch.column(1).as_primitive::<Float64Type>();
    assert_eq!(income.null_count(), 1);
    assert!(income.is_null(2));
    assert_eq!(income.value(0), 52000.5);
    let plan = batch.column(2).as_string::<i32>();
    assert_eq!(plan.value(1), "premium, annual");
    assert_eq!(plan.value(3), "line\nbreak");
    let churned = batch.column(3).as_boolean();
    assert!(churned.value(1));
    assert!(!churned.value(0));
    // A column that is empty in every row is Utf8 and all null.
    assert_eq!(batch.column(4).null_count(), 6);
}

#[test]
fn csv_batch_sizes_are_respected() {
    let data = sample_csv(10_001);
    let stream = read_csv_bytes(data, &CsvOptions::default().with_batch_size(1000)).unwrap();
    let sizes: Vec<usize> = stream.map(|b| b.unwrap().num_rows()).collect();
    assert_eq!(sizes.len(), 11);
    assert!(sizes[..10].iter().all(|&n| n == 1000));
    assert_eq!(sizes[10], 1);
}

#[test]
fn csv_single_row_and_batch_of_one() {
    let stream = read_csv_bytes("a,b\n1,x\n", &CsvOptions::default().with_batch_size(1)).unwrap();
    let batches = stream.collect_batches().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].num_rows(), 1);
    let stream = read_csv_bytes("a\n1\n2\n3", &CsvOptions::default().with_batch_size(1)).unwrap();
    assert_eq!(stream.count(), 3);
}

#[test]
fn csv_without_header_names_columns() {
    let options = CsvOptions::default().with_header(false);
    let batch = concat(read_csv_bytes("1,a\n2,b\n", &options).unwrap());
    assert_eq!(batch.schema().field(0).name(), "column_1");
    assert_eq!(batch.schema().field(1).name(), "column_2");
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(1), 2);
}

#[test]
fn csv_custom_null_values_and_delimiter() {
    let options = CsvOptions::default()
        .with_delimiter(b';')
        .with_null_values(["NA", "", "null"]);
    let batch = concat(read_csv_bytes("a;b\n1;NA\nnull;2.5\n3;\n", &options).unwrap());
    assert_eq!(batch.schema().field(0).data_type(), &DataType::Int64);
    assert_eq!(batch.schema().field(1).data_type(), &DataType::Float64);
    assert_eq!(batch.column(0).null_count(), 1);
    assert_eq!(batch.column(1).null_count(), 2);

    // With no null values, empty fields are text.
    let options = CsvOptions::default().with_null_values(Vec::<String>::new());
    let batch = concat(read_csv_bytes("a,b\n1,\n2,x\n", &options).unwrap());
    assert_eq!(batch.schema().field(1).data_type(), &DataType::Utf8);
    assert_eq!(batch.column(1).null_count(), 0);
    assert_eq!(batch.column(1).as_string::<i32>().value(0), "");
}

#[test]
fn csv_overrides_force_types() {
    let data = "zip,score,n\n01234,1,5\n00042,2,6\n";
    let options = CsvOptions::default()
        .with_override("zip", DataType::Utf8)
        .with_override("score", DataType::Float64)
        .with_override("n", DataType::Int32);
    let batch = concat(read_csv_bytes(data, &options).unwrap());
    assert_eq!(batch.column(0).as_string::<i32>().value(0), "01234");
    assert_eq!(batch.column(1).as_primitive::<Float64Type>().value(1), 2.0);
    assert_eq!(batch.schema().field(2).data_type(), &DataType::Int32);

    // An override naming no column.
    let err = read_csv_bytes(
        data,
        &CsvOptions::default().with_override("zap", DataType::Utf8),
    )
    .unwrap_err();
    match err {
        Error::MissingColumn { column, available } => {
            assert_eq!(column, "zap");
            assert_eq!(available, ["zip", "score", "n"]);
        }
        other => panic!("unexpected {other:?}"),
    }

    // An override type that CSV cannot hold.
    let list = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
    let err = read_csv_bytes(data, &CsvOptions::default().with_override("zip", list)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParam {
                param: "overrides",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn csv_override_value_that_does_not_parse_names_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "o.csv", "a,b\n1,x\n2,y\n3,oops\n");
    let options = CsvOptions::default().with_override("a", DataType::Boolean);
    let err = read_csv_path(&path, &options)
        .unwrap()
        .collect_batches()
        .unwrap_err();
    match err {
        Error::Csv {
            path: p,
            row,
            message,
        } => {
            assert_eq!(p.as_deref(), Some(path.as_path()));
            assert_eq!(row, Some(1));
            assert!(message.contains("column \"a\""), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn csv_options_are_validated() {
    for (options, param) in [
        (CsvOptions::default().with_batch_size(0), "batch_size"),
        (CsvOptions::default().with_infer_rows(0), "infer_rows"),
        (CsvOptions::default().with_delimiter(b'"'), "delimiter"),
        (CsvOptions::default().with_delimiter(b'\n'), "delimiter"),
    ] {
        match read_csv_bytes("a\n1\n", &options).unwrap_err() {
            Error::InvalidParam { param: p, .. } => assert_eq!(p, param),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(
        read_parquet_bytes(
            Vec::<u8>::new(),
            &ParquetOptions::default().with_batch_size(0)
        ),
        Err(Error::InvalidParam {
            param: "batch_size",
            ..
        })
    ));
}

#[test]
fn csv_bom_crlf_and_no_trailing_newline() {
    let data = b"\xEF\xBB\xBFa,b\r\n1,2\r\n3,4";
    let batch = concat(read_csv_bytes(&data[..], &CsvOptions::default()).unwrap());
    assert_eq!(batch.schema().field(0).name(), "a");
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(batch.column(1).as_primitive::<Int64Type>().value(1), 4);
}

/// A reader that hands out at most 7 bytes per call and cannot seek: inference must replay the
/// bytes it buffered.
struct Trickle<R>(R);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn csv_reader_input_is_replayed_after_sampling() {
    let data = sample_csv(5_000);
    let options = CsvOptions::default()
        .with_infer_rows(10)
        .with_batch_size(512);
    let from_reader =
        concat(read_csv(Trickle(std::io::Cursor::new(data.clone())), &options).unwrap());
    let from_bytes = concat(read_csv_bytes(data, &options).unwrap());
    assert_eq!(from_reader.num_rows(), 5_000);
    assert_eq!(from_reader, from_bytes);
    assert_eq!(
        from_reader
            .column(0)
            .as_primitive::<Int64Type>()
            .value(4_999),
        4_999
    );
}

/// A reader that counts the bytes taken from it.
struct Counting<R> {
    inner: R,
    taken: Arc<std::sync::atomic::AtomicUsize>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn csv_reads_in_bounded_memory() {
    let data = sample_csv(100_000);
    let total = data.len();
    assert!(total > 2_000_000);
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = Counting {
        inner: std::io::Cursor::new(data.into_bytes()),
        taken: taken.clone(),
    };
    let options = CsvOptions::default()
        .with_infer_rows(100)
        .with_batch_size(1_000);
    let mut stream = read_csv(reader, &options).unwrap();
    // Opening reads the header and the sample (in 64 KiB chunks), not the file.
    let at_open = taken.load(std::sync::atomic::Ordering::Relaxed);
    assert!(at_open <= 128 * 1024, "{at_open} bytes read at open");
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 1_000);
    let after_first = taken.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        after_first <= 256 * 1024,
        "{after_first} bytes read for one batch"
    );
    let rest: usize = stream.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rest, 99_000);
    assert_eq!(taken.load(std::sync::atomic::Ordering::Relaxed), total);
}

#[test]
fn infer_csv_schema_reads_only_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    // Row 4 would make `a` Float64 and would fail as Int64, but is outside the sample.
    let path = write(dir.path(), "s.csv", "a,b\n1,x\n2,y\n3,z\n4.5,w\n");
    let schema = infer_csv_schema(&path, &CsvOptions::default().with_infer_rows(3)).unwrap();
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    let schema = infer_csv_schema(&path, &CsvOptions::default()).unwrap();
    assert_eq!(schema.field(0).data_type(), &DataType::Float64);
}

// ---- CSV: bad input ----------------------------------------------------------------------------

fn csv_err(path: &Path, options: &CsvOptions) -> Error {
    match read_csv_path(path, options) {
        Err(e) => e,
        Ok(stream) => stream.collect_batches().unwrap_err(),
    }
}

#[test]
fn csv_value_not_fitting_the_inferred_type_is_an_error_with_row() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, name) in [
        ("1.5", "float"),
        ("99999999999999999999", "overflow"),
        ("abc", "text"),
    ] {
        let mut data = String::from("id,v\n");
        for i in 1..=2_500 {
            writeln!(
                data,
                "{i},{}",
                if i == 2_345 {
                    bad.to_string()
                } else {
                    i.to_string()
                }
            )
            .unwrap();
        }
        let path = write(dir.path(), &format!("{name}.csv"), data);
        let options = CsvOptions::default()
            .with_infer_rows(100)
            .with_batch_size(1_000);
        let mut stream = read_csv_path(&path, &options).unwrap();
        assert_eq!(stream.schema().field(1).data_type(), &DataType::Int64);
        assert_eq!(stream.next().unwrap().unwrap().num_rows(), 1_000);
        assert_eq!(stream.next().unwrap().unwrap().num_rows(), 1_000);
        match stream.next().unwrap().unwrap_err() {
            Error::Csv {
                path: p,
                row,
                message,
            } => {
                assert_eq!(p.as_deref(), Some(path.as_path()));
                assert_eq!(row, Some(2_345), "{message}");
                assert!(message.contains("column \"v\""), "{message}");
                assert!(message.contains(bad), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // The stream ends after an error.
        assert!(stream.next().is_none());
    }
}

#[test]
fn csv_ragged_rows_are_errors_with_row() {
    let dir = tempfile::tempdir().unwrap();
    // Inside the sample: found at open.
    let path = write(dir.path(), "r1.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    match csv_err(&path, &CsvOptions::default()) {
        Error::Csv { path: p, row, .. } => {
            assert_eq!(p.as_deref(), Some(path.as_path()));
            assert_eq!(row, Some(2));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Too many fields, after the sample: found while streaming.
    let mut data = String::from("a,b\n");
    for i in 0..50 {
        data.push_str(if i == 40 { "1,2,3\n" } else { "1,2\n" });
    }
    let path = write(dir.path(), "r2.csv", data);
    let options = CsvOptions::default().with_infer_rows(5).with_batch_size(16);
    match csv_err(&path, &options) {
        Error::Csv { row, .. } => assert_eq!(row, Some(41)),
        other => panic!("unexpected {other:?}"),
    }
    // Without a header, rows count from the first record.
    let path = write(dir.path(), "r3.csv", "1,2\n3\n");
    match csv_err(&path, &CsvOptions::default().with_header(false)) {
        Error::Csv { row, .. } => assert_eq!(row, Some(2)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn csv_rows_count_records_not_lines() {
    // The quoted field spans two lines; the bad value is on data row 3 (file line 5).
    let data = "a,b\n1,\"two\nlines\"\n2,x\nzzz,y\n";
    let err = read_csv_bytes(
        data,
        &CsvOptions::default().with_override("a", DataType::Int64),
    )
    .unwrap()
    .collect_batches()
    .unwrap_err();
    match err {
        Error::Csv { path, row, .. } => {
            assert_eq!(path, None);
            assert_eq!(row, Some(3));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn csv_invalid_utf8_is_an_error_with_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "u.csv", b"a,b\n1,ok\n2,bad\xff\n3,ok\n");
    match csv_err(&path, &CsvOptions::default()) {
        Error::Csv { path: p, row, .. } => {
            assert_eq!(p.as_deref(), Some(path.as_path()));
            assert_eq!(row, Some(2));
        }
        other => panic!("unexpected {other:?}"),
    }
    // In the header.
    let path = write(dir.path(), "u2.csv", b"a,\xff\n1,2\n");
    assert!(matches!(
        csv_err(&path, &CsvOptions::default()),
        Error::Csv { row: None, .. }
    ));
}

#[test]
fn csv_duplicate_or_empty_header_names() {
    for (data, column) in [("a,b,a\n1,2,3\n", "a"), ("a,,b\n1,2,3\n", "")] {
        match read_csv_bytes(data, &CsvOptions::default()).unwrap_err() {
            Error::DuplicateColumn { column: c } => assert_eq!(c, column),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn csv_empty_and_header_only_files_are_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [
        ("empty.csv", ""),
        ("header.csv", "a,b\n"),
        ("header2.csv", "a,b"),
        ("blank.csv", "\n\n"),
    ] {
        let path = write(dir.path(), name, data);
        match read_csv_path(&path, &CsvOptions::default()).unwrap_err() {
            Error::EmptyTable { path: p } => assert_eq!(p.as_deref(), Some(path.as_path())),
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert!(matches!(
        read_csv_bytes("", &CsvOptions::default().with_header(false)),
        Err(Error::EmptyTable { path: None })
    ));
}

#[test]
fn missing_files_are_io_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csv");
    for err in [
        read_csv_path(&path, &CsvOptions::default()).unwrap_err(),
        infer_csv_schema(&path, &CsvOptions::default()).unwrap_err(),
        read_parquet_path(&path, &ParquetOptions::default()).unwrap_err(),
    ] {
        match err {
            Error::Io { path: p, source } => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A directory, even one named like a data file.
    let path = dir.path().join("table.csv");
    std::fs::create_dir(&path).unwrap();
    for err in [
        read_csv_path(&path, &CsvOptions::default()).unwrap_err(),
        read_parquet_path(&path, &ParquetOptions::default()).unwrap_err(),
        read_path(&path, &ReadOptions::default()).unwrap_err(),
    ] {
        match err {
            Error::Io { path: p, source } => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::IsADirectory);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

// ---- Parquet -----------------------------------------------------------------------------------

fn table(n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let x: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..n).map(|i| (i % 5 != 0).then_some(i as f64 / 3.0)),
    ));
    let flag: ArrayRef = Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0))));
    let name: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 4 != 1).then(|| format!("name-{i}"))),
    ));
    RecordBatch::try_new(schema, vec![id, x, flag, name]).unwrap()
}

fn parquet_bytes(batch: &RecordBatch, options: &ParquetWriteOptions) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let stream = BatchStream::from_batches(batch.schema(), vec![batch.clone()]);
    write_parquet_path(&path, stream, options).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn parquet_round_trip_every_codec() {
    let batch = table(3_000);
    for compression in [
        ParquetCompression::Zstd,
        ParquetCompression::Snappy,
        ParquetCompression::Uncompressed,
    ] {
        let options = ParquetWriteOptions::default().with_compression(compression);
        let bytes = parquet_bytes(&batch, &options);
        let back = concat(read_parquet_bytes(bytes, &ParquetOptions::default()).unwrap());
        assert_eq!(back, batch, "{compression:?}");
    }
}

/// Rows per row group of a Parquet file.
fn row_groups(bytes: &[u8]) -> Vec<i64> {
    use parquet::file::reader::FileReader;
    let meta = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(bytes.to_vec()))
        .unwrap();
    meta.metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect()
}

#[test]
fn default_writes_have_row_groups_a_parallel_read_can_share() {
    let full = mlops_data::ingest::DEFAULT_ROW_GROUP_ROWS;
    let batch = table(2 * full + 7);
    let bytes = parquet_bytes(&batch, &ParquetWriteOptions::default());
    assert_eq!(row_groups(&bytes), [full as i64, full as i64, 7]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.parquet");
    std::fs::write(&path, &bytes).unwrap();
    for threads in [1, 2, 3] {
        let options = ParquetOptions::default().with_threads(threads);
        let read = read_parquet_path(&path, &options)
            .unwrap()
            .collect_batches()
            .unwrap();
        let read = arrow_select::concat::concat_batches(&batch.schema(), &read).unwrap();
        assert_eq!(read, batch, "threads {threads}");
    }
}

#[test]
fn parquet_batch_sizes_and_row_groups() {
    let batch = table(10_001);
    let options = ParquetWriteOptions::default().with_row_group_size(3_000);
    let bytes = parquet_bytes(&batch, &options);
    assert_eq!(row_groups(&bytes), [3_000, 3_000, 3_000, 1_001]);

    let stream =
        read_parquet_bytes(bytes, &ParquetOptions::default().with_batch_size(1_000)).unwrap();
    let sizes: Vec<usize> = stream.map(|b| b.unwrap().num_rows()).collect();
    assert_eq!(sizes.len(), 11);
    assert!(sizes[..10].iter().all(|&n| n == 1_000));
    assert_eq!(sizes[10], 1);
}

#[test]
fn parquet_projection_by_name_in_requested_order() {
    let batch = table(100);
    let bytes = parquet_bytes(&batch, &ParquetWriteOptions::default());
    let options = ParquetOptions::default().with_columns(["name", "id"]);
    let stream = read_parquet_bytes(bytes.clone(), &options).unwrap();
    let names: Vec<String> = stream
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["name", "id"]);
    let back = concat(stream);
    assert_eq!(back.column(0), batch.column(3));
    assert_eq!(back.column(1), batch.column(0));

    match read_parquet_bytes(
        bytes.clone(),
        &ParquetOptions::default().with_columns(["id", "age"]),
    )
    .unwrap_err()
    {
        Error::MissingColumn { column, available } => {
            assert_eq!(column, "age");
            assert_eq!(available, ["id", "x", "flag", "name"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        read_parquet_bytes(bytes, &ParquetOptions::default().with_columns(["id", "id"])),
        Err(Error::DuplicateColumn { .. })
    ));
}

#[test]
fn parquet_empty_table_round_trips() {
    let batch = table(0);
    let bytes = parquet_bytes(&batch, &ParquetWriteOptions::default());
    let stream = read_parquet_bytes(bytes, &ParquetOptions::default()).unwrap();
    assert_eq!(stream.schema(), batch.schema());
    assert_eq!(
        stream
            .collect_batches()
            .unwrap()
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        0
    );
}

#[test]
fn parquet_bad_files_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = parquet_bytes(&table(2_000), &ParquetWriteOptions::default());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.parquet", Vec::new()),
        (
            "random.parquet",
            (0..4_096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        ("half.parquet", good[..good.len() / 2].to_vec()),
        ("magic.parquet", b"PAR1\x00\x00\x00\x00PAR1".to_vec()),
        ("text.parquet", b"a,b\n1,2\n".to_vec()),
    ];
    for (name, contents) in cases {
        let path = write(dir.path(), name, contents);
        let err = match read_parquet_path(&path, &ParquetOptions::default()) {
            Err(e) => e,
            Ok(stream) => stream.collect_batches().unwrap_err(),
        };
        match err {
            Error::Parquet { path: p, message } => {
                assert_eq!(p.as_deref(), Some(path.as_path()), "{name}");
                assert!(!message.is_empty());
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn reads_pyarrow_files_and_agrees_with_pyarrow_csv() {
    // Fixtures from tests/fixtures/ingest/gen.py (pyarrow).
    let options = ParquetOptions::default().with_batch_size(2);
    let stream = read_parquet_path(fixture("pyarrow_snappy.parquet"), &options).unwrap();
    let sizes: Vec<usize> = stream.map(|b| b.unwrap().num_rows()).collect();
    assert_eq!(sizes, [2, 2, 2, 1]);
    let pq = concat(read_parquet_path(fixture("pyarrow_snappy.parquet"), &options).unwrap());
    let csv = concat(read_csv_path(fixture("pyarrow.csv"), &CsvOptions::default()).unwrap());
    assert_eq!(pq.num_rows(), 7);
    for (i, field) in pq.schema().fields().iter().enumerate() {
        assert_eq!(field.name(), csv.schema().field(i).name());
        assert_eq!(pq.column(i), csv.column(i), "column {}", field.name());
    }
    let x = pq.column(1).as_primitive::<Float64Type>();
    assert_eq!(x.value(3), 1e10);
    assert_eq!(x.null_count(), 2);
    assert_eq!(pq.column(3).as_string::<i32>().value(6), "e\"f");

    // A codec this crate is not built with is a typed error naming the file.
    let path = fixture("pyarrow_gzip.parquet");
    let err = match read_parquet_path(&path, &ParquetOptions::default()) {
        Err(e) => e,
        Ok(stream) => stream.collect_batches().unwrap_err(),
    };
    match err {
        Error::Parquet { path: p, message } => {
            assert_eq!(p.as_deref(), Some(path.as_path()));
            assert!(
                message.contains("unsupported compression codec"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn parquet_writer_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let batch = table(10);

    // Dropped without finish: nothing is left.
    let mut writer =
        ParquetFileWriter::create(&path, batch.schema(), &ParquetWriteOptions::default()).unwrap();
    writer.write(&batch).unwrap();
    assert_eq!(writer.rows_written(), 10);
    drop(writer);
    assert!(files_in(dir.path()).is_empty());

    // A wrong batch is rejected.
    let mut writer =
        ParquetFileWriter::create(&path, batch.schema(), &ParquetWriteOptions::default()).unwrap();
    let other = batch.project(&[0, 1]).unwrap();
    assert!(matches!(
        writer.write(&other),
        Err(Error::SchemaMismatch { .. })
    ));
    writer.write(&batch).unwrap();
    assert_eq!(writer.finish().unwrap(), 10);
    assert_eq!(files_in(dir.path()), ["out.parquet"]);
    let before = std::fs::read(&path).unwrap();

    // A stream failing half way leaves the existing file untouched and no temporary file.
    let schema = batch.schema();
    let failing = BatchStream::new(
        schema,
        vec![
            Ok(batch.clone()),
            Err(Error::EmptyTable { path: None }),
            Ok(batch.clone()),
        ]
        .into_iter(),
    );
    let err = write_parquet_path(&path, failing, &ParquetWriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::EmptyTable { .. }));
    assert_eq!(files_in(dir.path()), ["out.parquet"]);
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // A directory that does not exist.
    let err = ParquetFileWriter::create(
        dir.path().join("no/such/dir/x.parquet"),
        batch.schema(),
        &ParquetWriteOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(matches!(
        ParquetFileWriter::create(
            &path,
            batch.schema(),
            &ParquetWriteOptions::default().with_row_group_size(0)
        ),
        Err(Error::InvalidParam {
            param: "row_group_size",
            ..
        })
    ));
}

// ---- CSV <-> Parquet ---------------------------------------------------------------------------

#[test]
fn csv_to_parquet_to_csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = write(dir.path(), "data.csv", sample_csv(2_500));
    let pq_path = dir.path().join("data.parquet");
    let options = CsvOptions::default().with_batch_size(700);

    let rows = write_parquet_path(
        &pq_path,
        read_csv_path(&csv_path, &options).unwrap(),
        &ParquetWriteOptions::default(),
    )
    .unwrap();
    assert_eq!(rows, 2_500);
    let from_csv = concat(read_csv_path(&csv_path, &options).unwrap());
    let from_pq = concat(read_parquet_path(&pq_path, &ParquetOptions::default()).unwrap());
    assert_eq!(from_csv, from_pq);
    assert_eq!(from_csv.num_rows(), 2_500);
    assert_eq!(
        from_csv.column(1).null_count(),
        (0..2_500).filter(|i| i % 7 == 3).count()
    );

    // Parquet -> CSV -> read again gives the same table.
    let csv2 = dir.path().join("again.csv");
    let written = write_csv_path(
        &csv2,
        read_parquet_path(&pq_path, &ParquetOptions::default()).unwrap(),
    )
    .unwrap();
    assert_eq!(written, 2_500);
    let again = concat(read_csv_path(&csv2, &options).unwrap());
    assert_eq!(again, from_csv);
}

#[test]
fn csv_writer_round_trips_floats_and_writes_header_for_empty_streams() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Float64, true)]));
    let values = vec![
        Some(0.1),
        Some(-1e300),
        Some(f64::MIN_POSITIVE),
        None,
        Some(1.0 / 3.0),
        Some(f64::NAN),
        Some(f64::INFINITY),
    ];
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float64Array::from(values.clone()))],
    )
    .unwrap();
    let path = dir.path().join("f.csv");
    write_csv_path(
        &path,
        BatchStream::from_batches(schema.clone(), vec![batch]),
    )
    .unwrap();
    let back = concat(read_csv_path(&path, &CsvOptions::default()).unwrap());
    let got = back.column(0).as_primitive::<Float64Type>();
    for (i, want) in values.iter().enumerate() {
        match want {
            None => assert!(got.is_null(i)),
            Some(w) if w.is_nan() => assert!(got.value(i).is_nan()),
            Some(w) => assert_eq!(got.value(i).to_bits(), w.to_bits()),
        }
    }

    let empty = dir.path().join("empty.csv");
    assert_eq!(
        write_csv_path(&empty, BatchStream::from_batches(schema, vec![])).unwrap(),
        0
    );
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "v\n");
    assert!(matches!(
        read_csv_path(&empty, &CsvOptions::default()),
        Err(Error::EmptyTable { .. })
    ));
}

#[test]
fn read_path_dispatches_on_extension() {
    let dir = tempfile::tempdir().unwrap();
    let batch = table(50);
    let bytes = parquet_bytes(&batch, &ParquetWriteOptions::default());
    let csv = "id,v\n1,2\n3,4\n";
    let options = ReadOptions::default().with_batch_size(16);
    for name in ["a.parquet", "b.pq", "C.PARQUET"] {
        let path = write(dir.path(), name, &bytes);
        assert_eq!(concat(read_path(&path, &options).unwrap()), batch, "{name}");
    }
    let path = write(dir.path(), "d.csv", csv);
    assert_eq!(concat(read_path(&path, &options).unwrap()).num_rows(), 2);
    let path = write(dir.path(), "e.tsv", csv.replace(',', "\t"));
    let tsv = concat(read_path(&path, &options).unwrap());
    assert_eq!(tsv.num_columns(), 2);
    assert_eq!(tsv.column(1).as_primitive::<Int64Type>().value(1), 4);
    assert_eq!(FileFormat::from_path("x.TSV").unwrap(), FileFormat::Tsv);

    for name in ["f.json", "noext"] {
        let path = write(dir.path(), name, csv);
        match read_path(&path, &options).unwrap_err() {
            Error::UnsupportedFormat { path: p, extension } => {
                assert_eq!(p, path);
                assert_eq!(extension.is_some(), name.contains('.'));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<BatchStream>();
    send::<ParquetFileWriter>();
    send_sync::<CsvOptions>();
    send_sync::<ParquetOptions>();
    send_sync::<ParquetWriteOptions>();
    send_sync::<ReadOptions>();
    send_sync::<Error>();
}

// ---- no panics on hostile input ----------------------------------------------------------------

fn drain(result: mlops_data::Result<BatchStream>) {
    if let Ok(stream) = result {
        let schema = stream.schema();
        for batch in stream {
            match batch {
                Ok(b) => assert_eq!(b.schema().fields(), schema.fields()),
                Err(e) => {
                    // Typed and printable.
                    let _ = e.to_string();
                }
            }
        }
    }
}

fn valid_parquet() -> &'static [u8] {
    use std::sync::OnceLock;
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        parquet_bytes(
            &table(600),
            &ParquetWriteOptions::default().with_row_group_size(250),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn csv_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), header in any::<bool>(), batch in 1usize..8) {
        let options = CsvOptions::default().with_header(header).with_batch_size(batch).with_infer_rows(3);
        drain(read_csv_bytes(bytes, &options));
    }

    #[test]
    fn csv_ragged_quoted_text_never_panics(
        text in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just("1"), Just("-2"), Just("3.5"), Just("true"), Just(","), Just(";"),
                Just("\""), Just("\"\""), Just("\n"), Just("\r\n"), Just("\r"), Just(" "),
                Just("NA"), Just("\u{feff}"), Just("9999999999999999999999"), Just("\u{e9}"),
            ],
            0..80,
        ),
        header in any::<bool>(),
        batch in 1usize..5,
        infer in 1usize..6,
        force_int in any::<bool>(),
    ) {
        let mut options = CsvOptions::default()
            .with_header(header)
            .with_batch_size(batch)
            .with_infer_rows(infer)
            .with_null_values(["", "NA"]);
        if force_int && header {
            options = options.with_override("a", DataType::Int64);
        }
        let text = text.concat();
        drain(read_csv_bytes(text.clone(), &options));
        drain(read_csv(std::io::Cursor::new(text.into_bytes()), &options.with_delimiter(b';')));
    }

    #[test]
    fn parquet_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024), magic in any::<bool>()) {
        let mut bytes = bytes;
        if magic {
            // Reach the footer decoder: a plausible metadata length and the magic.
            let len = (bytes.len() as u32).saturating_sub(8).min(bytes.len() as u32);
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(b"PAR1");
        }
        drain(read_parquet_bytes(bytes, &ParquetOptions::default()));
    }

    #[test]
    fn parquet_truncated_files_never_panic(cut in 0usize..10_000) {
        let good = valid_parquet();
        let cut = cut % good.len();
        // The head of the file, and the file with a middle range removed (footer intact).
        drain(read_parquet_bytes(good[..cut].to_vec(), &ParquetOptions::default()));
        let mut spliced = good[..cut / 2].to_vec();
        spliced.extend_from_slice(&good[cut..]);
        drain(read_parquet_bytes(spliced, &ParquetOptions::default().with_batch_size(100)));
    }

    #[test]
    fn parquet_corrupted_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_parquet().to_vec();
        let n = bytes.len();
        for (at, value) in flips {
            bytes[at % n] = value;
        }
        drain(read_parquet_bytes(bytes, &ParquetOptions::default().with_batch_size(64)));
    }
}

/// Rough throughput in the test profile: `cargo test -p mlops-data --test ingest -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand"]
fn throughput() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 1_000_000;
    let csv_path = write(dir.path(), "big.csv", sample_csv(rows));
    let size = std::fs::metadata(&csv_path).unwrap().len();
    let t = std::time::Instant::now();
    let n: usize = read_csv_path(&csv_path, &CsvOptions::default())
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let csv_secs = t.elapsed().as_secs_f64();
    assert_eq!(n, rows);
    let pq_path = dir.path().join("big.parquet");
    let t = std::time::Instant::now();
    write_parquet_path(
        &pq_path,
        read_csv_path(&csv_path, &CsvOptions::default()).unwrap(),
        &ParquetWriteOptions::default(),
    )
    .unwrap();
    let write_secs = t.elapsed().as_secs_f64() - csv_secs;
    let pq_size = std::fs::metadata(&pq_path).unwrap().len();
    let t = std::time::Instant::now();
    let n: usize = read_parquet_path(&pq_path, &ParquetOptions::default())
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let pq_secs = t.elapsed().as_secs_f64();
    assert_eq!(n, rows);
    println!(
        "{rows} rows, csv {size} B read in {csv_secs:.2}s ({:.0} MB/s); parquet (zstd) {pq_size} B written in ~{write_secs:.2}s, read in {pq_secs:.2}s",
        size as f64 / csv_secs / 1e6
    );
}

#[test]
fn parquet_parallel_decoding_equals_sequential_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let batch = table(10_001);
    let path = dir.path().join("groups.parquet");
    let options = ParquetWriteOptions::default().with_row_group_size(1_234);
    let stream = BatchStream::from_batches(batch.schema(), vec![batch.clone()]);
    write_parquet_path(&path, stream, &options).unwrap();

    for columns in [None, Some(vec!["name", "id"])] {
        let mut base = ParquetOptions::default().with_batch_size(500);
        if let Some(c) = &columns {
            base = base.with_columns(c.clone());
        }
        let sequential = concat(read_parquet_path(&path, &base.clone().with_threads(1)).unwrap());
        for threads in [2, 3, 8] {
            let parallel =
                concat(read_parquet_path(&path, &base.clone().with_threads(threads)).unwrap());
            assert_eq!(
                parallel, sequential,
                "threads {threads}, columns {columns:?}"
            );
        }
        let default = concat(read_parquet_path(&path, &base.clone()).unwrap());
        assert_eq!(default, sequential);
        let all = concat(read_parquet_path(&path, &base.with_all_cores()).unwrap());
        assert_eq!(all, sequential);
    }
    // Dropping a parallel stream early stops its threads without blocking.
    let mut stream = read_parquet_path(
        &path,
        &ParquetOptions::default()
            .with_batch_size(10)
            .with_threads(4),
    )
    .unwrap();
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 10);
    drop(stream);

    assert!(matches!(
        ParquetOptions::default().with_threads(0).validate(),
        Err(Error::InvalidParam {
            param: "threads",
            ..
        })
    ));
}

#[test]
fn parquet_parallel_decoding_of_a_corrupt_row_group_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let batch = table(20_000);
    let path = dir.path().join("corrupt.parquet");
    let options = ParquetWriteOptions::default().with_row_group_size(2_000);
    let stream = BatchStream::from_batches(batch.schema(), vec![batch.clone()]);
    write_parquet_path(&path, stream, &options).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite a stretch in the middle of the data pages (the footer stays valid).
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4_000] {
        *b = 0xFF;
    }
    std::fs::write(&path, &bytes).unwrap();
    // The page-header check may already refuse the damaged headers at open.
    let stream = match read_parquet_path(&path, &ParquetOptions::default().with_threads(2)) {
        Ok(stream) => stream,
        Err(e) => {
            assert!(
                matches!(e, Error::Parquet { path: Some(ref p), ref message } if p == &path && message.contains("page header")),
                "{e}"
            );
            return;
        }
    };
    let mut saw_error = false;
    for item in stream {
        if let Err(e) = item {
            assert!(
                matches!(e, Error::Parquet { path: Some(ref p), .. } if p == &path),
                "{e}"
            );
            saw_error = true;
        }
    }
    // Garbage inside zstd-compressed pages fails to decompress: a typed error, no panic, no hang.
    assert!(saw_error);
}

/// Found by the `parquet_ingest` fuzz target (`fuzz/regressions/parquet_ingest/`): corrupt
/// pages that make the parquet decoder panic (apache/arrow-rs#9434): a data page that refers to
/// a dictionary its column chunk does not have ("Decoder for dict should have been set"), and
/// definition levels that reach an arrow-buffer assertion ("slice must not be empty"), and page
/// levels longer than the page (a `Bytes` slice out of bounds). The reader must turn each into
/// a typed error, whatever the batch size.
#[test]
fn parquet_fuzz_regressions_are_typed_errors() {
    let inputs: [&[u8]; 3] = [
        include_bytes!("fixtures/ingest/fuzz-data-page-without-dictionary-page.parquet"),
        include_bytes!("fixtures/ingest/fuzz-definition-levels-empty-bitmap-slice.parquet"),
        include_bytes!("fixtures/ingest/fuzz-page-levels-longer-than-page-bytes-slice.parquet"),
    ];
    let mut caught = 0;
    for (i, bytes) in inputs.iter().enumerate() {
        for batch_size in [3, 8192] {
            let options = ParquetOptions::default().with_batch_size(batch_size);
            let error = match read_parquet_bytes(bytes.to_vec(), &options) {
                Err(e) => e,
                Ok(stream) => stream
                    .collect_batches()
                    .expect_err("the corrupt page must fail"),
            };
            assert!(
                matches!(&error, Error::Parquet { path: None, .. }),
                "input {i}, batch size {batch_size}: {error}"
            );
            caught += usize::from(error.to_string().contains("corrupt"));
        }
    }
    // With 3-row batches the inputs reach the panicking decoder paths.
    assert!(caught >= 3, "{caught}");
}

/// Found by the `csv_ingest` fuzz target (`fuzz/regressions/csv_ingest/`): a 5 KiB record of
/// 4 000 empty fields made every read allocate `batch_size × columns` cells up front (500 MiB).
/// A batch now holds at most 2^21 cells: wide files get fewer rows per batch, same data.
#[test]
fn csv_wide_files_get_batches_bounded_by_cells() {
    let columns = 4096;
    let rows = 600;
    let mut csv = String::new();
    let header: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
    csv.push_str(&header.join(","));
    csv.push('\n');
    for r in 0..rows {
        let row: Vec<String> = (0..columns).map(|c| (r + c).to_string()).collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let batches = read_csv_bytes(csv, &CsvOptions::default())
        .unwrap()
        .collect_batches()
        .unwrap();
    let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, vec![512, 88]);
    assert!(batches.iter().all(|b| b.num_columns() == columns));
    let last = batches[1].column(columns - 1).as_primitive::<Int64Type>();
    assert_eq!(last.value(87), (rows - 1 + columns - 1) as i64);

    // The fuzz input itself: one record of ~4 000 `;`-separated fields.
    let wide = ";".repeat(4000);
    let options = CsvOptions::default()
        .with_delimiter(b';')
        .with_header(false);
    let batches = read_csv_bytes(wide, &options)
        .unwrap()
        .collect_batches()
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    assert_eq!(batches[0].num_columns(), 4001);
}

/// Found by the `parquet_ingest` fuzz target (`fuzz/regressions/parquet_ingest/`): a 1.2 KB file
/// whose page header declares 473 MB uncompressed made the parquet decoder allocate (and the
/// codec fill) that much. Page headers are now checked against `max_page_bytes` before decoding.
#[test]
fn a_page_declaring_more_than_max_page_bytes_is_refused_before_decoding() {
    let bytes: &[u8] =
        include_bytes!("fixtures/ingest/fuzz-page-header-claims-473MB-uncompressed-size.parquet");
    let error = read_parquet_bytes(bytes.to_vec(), &ParquetOptions::default())
        .expect_err("the hostile page must be refused at open");
    let message = error.to_string();
    assert!(
        matches!(&error, Error::Parquet { path: None, .. })
            && (message.contains("max_page_bytes")
                || message.contains("page header")
                || message.contains("footer")),
        "{message}"
    );
    // A legitimate file passes the check at the default and fails it with a tiny limit,
    // naming the column.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let batch = mlops_data::synth::churn_table(2_000, 1).unwrap();
    mlops_data::ingest::write_parquet_path(
        &path,
        mlops_data::BatchStream::from_batches(batch.schema(), vec![batch.clone()]),
        &mlops_data::ingest::ParquetWriteOptions::default(),
    )
    .unwrap();
    let rows: usize = read_parquet_path(&path, &ParquetOptions::default())
        .unwrap()
        .collect_batches()
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 2_000);
    let small = ParquetOptions::default().with_max_page_bytes(64);
    let error = read_parquet_path(&path, &small).expect_err("64-byte pages");
    assert!(
        matches!(&error, Error::Parquet { path: Some(p), message } if p == &path && message.contains("column")),
        "{error}"
    );
    assert!(matches!(
        ParquetOptions::default().with_max_page_bytes(0).validate(),
        Err(Error::InvalidParam {
            param: "max_page_bytes",
            ..
        })
    ));
}

/// More fuzz findings of the same kind, each refused at open before anything is allocated:
/// a dictionary page declaring 386M INT64 values in a few bytes (the decoder sized a 3 GB
/// dictionary from the count), a 258 MB page in a column chunk whose footer length runs past
/// the end of the file, and an 845 MB page whose size is an 11-byte varint (which the decoder
/// reads leniently).
#[test]
fn hostile_page_and_dictionary_declarations_are_refused_before_decoding() {
    let cases: [(&[u8], &str); 4] = [
        (
            include_bytes!("fixtures/ingest/fuzz-footer-schema-sizes-a-981MB-allocation.parquet"),
            "footer",
        ),
        (
            include_bytes!("fixtures/ingest/fuzz-dictionary-page-declares-386M-values.parquet"),
            "dictionary page",
        ),
        (
            include_bytes!(
                "fixtures/ingest/fuzz-page-declares-258MB-chunk-past-end-of-file.parquet"
            ),
            "max_page_bytes",
        ),
        (
            include_bytes!(
                "fixtures/ingest/fuzz-page-declares-845MB-with-an-11-byte-varint.parquet"
            ),
            "max_page_bytes",
        ),
    ];
    for (i, (bytes, words)) in cases.into_iter().enumerate() {
        let error = read_parquet_bytes(bytes.to_vec(), &ParquetOptions::default())
            .expect_err("refused at open");
        assert!(
            matches!(&error, Error::Parquet { path: None, message }
                if message.contains(words) || message.contains("page header") || message.contains("footer")),
            "case {i}: {error}"
        );
    }
}
