//! Parallel Parquet decoding (`ParquetOptions::threads`): the same batches, in the same order,
//! with the same errors at the same point as decoding on the caller's thread, and no decoding
//! thread outliving its stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_data::ingest::{
    ParquetOptions, ParquetWriteOptions, read_parquet_path, write_parquet_path,
};
use mlops_data::{BatchStream, Error};
use parquet::file::reader::{FileReader, SerializedFileReader};

/// Tests here count this process's decoding threads, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Threads of this process named like the decoding threads (`mlops-parquet-N`).
fn decoding_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("mlops-parquet-"))
        .count()
}

/// Waits (up to 10 s) until no decoding thread is left.
fn assert_no_decoding_threads() {
    for _ in 0..1000 {
        if decoding_threads() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "{} decoding threads outlived their stream",
        decoding_threads()
    );
}

/// `n` rows: id, x (nulls every 5th), name (nulls every 11th), category (dictionary-friendly).
fn table(n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, false),
    ]));
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let x: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..n).map(|i| (i % 5 != 0).then_some(i as f64 * 0.25)),
    ));
    let name: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 11 != 0).then(|| format!("customer-{i}"))),
    ));
    let category: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| ["basic", "plus", "pro"][i % 3]),
    ));
    RecordBatch::try_new(schema, vec![id, x, name, category]).unwrap()
}

fn write_file(dir: &Path, name: &str, rows: usize, row_group_size: usize) -> PathBuf {
    let batch = table(rows);
    let path = dir.join(name);
    let stream = BatchStream::from_batches(batch.schema(), vec![batch]);
    let options = ParquetWriteOptions::default().with_row_group_size(row_group_size);
    write_parquet_path(&path, stream, &options).unwrap();
    path
}

/// Every item of the stream, errors included (the stream ends after its first error).
fn items(path: &Path, options: &ParquetOptions) -> Vec<Result<RecordBatch, String>> {
    read_parquet_path(path, options)
        .unwrap()
        .map(|item| item.map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn threaded_reads_yield_the_batches_of_the_sequential_read() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // 10 row groups of 1 000 rows and a last one of 500: batches of 250 never straddle a group.
    let path = write_file(dir.path(), "aligned.parquet", 10_500, 1_000);
    let groups = SerializedFileReader::new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .metadata()
        .num_row_groups();
    assert_eq!(groups, 11);
    for columns in [None, Some(vec!["name", "id"]), Some(vec!["category"])] {
        let mut base = ParquetOptions::default().with_batch_size(250);
        if let Some(c) = &columns {
            base = base.with_columns(c.clone());
        }
        let sequential = items(&path, &base.clone().with_threads(1));
        assert_eq!(sequential.len(), 42);
        assert!(sequential.iter().all(Result::is_ok));
        for threads in [2, 3, 4, 11, 16] {
            let options = base.clone().with_threads(threads);
            let parallel = items(&path, &options);
            assert_eq!(
                parallel, sequential,
                "threads {threads}, columns {columns:?}"
            );
            // Deterministic: the same again.
            assert_eq!(items(&path, &options), parallel);
        }
        assert_eq!(items(&path, &base.with_all_cores()), sequential);
    }
    assert_no_decoding_threads();
}

#[test]
fn threaded_batches_end_at_row_group_boundaries() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Row groups of 700 rows read in batches of 300: 300, 300, 100 per group.
    let path = write_file(dir.path(), "ragged.parquet", 3_500, 700);
    let options = ParquetOptions::default().with_batch_size(300);
    let sequential: Vec<RecordBatch> = items(&path, &options.clone().with_threads(1))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let parallel: Vec<RecordBatch> = items(&path, &options.with_threads(2))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let lengths: Vec<usize> = parallel.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(lengths, [300, 300, 100].repeat(5));
    let schema = parallel[0].schema();
    assert_eq!(
        arrow_select::concat::concat_batches(&schema, &parallel).unwrap(),
        arrow_select::concat::concat_batches(&schema, &sequential).unwrap()
    );
    assert_no_decoding_threads();
}

/// Overwrites the zstd frame magic of the first data page of column `column` in row group
/// `group`, so the page check at open passes and decoding that page fails.
fn corrupt_data_page(path: &Path, group: usize, column: usize) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let chunk = reader.metadata().row_group(group).column(column);
    let (start, len) = chunk.byte_range();
    let data_page = usize::try_from(chunk.data_page_offset()).unwrap();
    let end = usize::try_from(start + len).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let magic = [0x28, 0xb5, 0x2f, 0xfd];
    let at = data_page
        + bytes[data_page..end]
            .windows(4)
            .position(|w| w == magic)
            .expect("a zstd frame in the data page");
    bytes[at..at + 4].copy_from_slice(&[0, 0, 0, 0]);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_error_in_a_later_row_group_surfaces_after_the_same_batches() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "late-error.parquet", 8_000, 1_000);
    // Row groups 5 (column "name") and 6 (column "id") are damaged: the first one counts.
    corrupt_data_page(&path, 5, 2);
    corrupt_data_page(&path, 6, 0);
    let options = ParquetOptions::default().with_batch_size(250);
    let sequential = items(&path, &options.clone().with_threads(1));
    // Row groups 0..5 in full (4 batches each), then the error, then the end.
    assert_eq!(sequential.len(), 21);
    assert!(sequential[..20].iter().all(Result::is_ok));
    let Err(message) = &sequential[20] else {
        panic!("no error: {:?}", sequential[20])
    };
    assert!(message.contains(&path.display().to_string()), "{message}");
    for threads in [2, 3, 8] {
        let parallel = items(&path, &options.clone().with_threads(threads));
        assert_eq!(parallel, sequential, "threads {threads}");
    }
    // The error is a typed Parquet error naming the file.
    let error = read_parquet_path(&path, &options.with_threads(2))
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert!(
        matches!(&error, Error::Parquet { path: Some(p), .. } if p == &path),
        "{error}"
    );
    assert_no_decoding_threads();
}

#[test]
fn dropping_a_threaded_stream_early_stops_its_threads() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "drop.parquet", 20_000, 1_000);
    for taken in [0, 1, 5, 40] {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let mut stream = read_parquet_path(
                &p,
                &ParquetOptions::default()
                    .with_batch_size(100)
                    .with_threads(4),
            )
            .unwrap();
            for _ in 0..taken {
                assert_eq!(stream.next().unwrap().unwrap().num_rows(), 100);
            }
            // Let the threads fill their channels and block on them.
            std::thread::sleep(Duration::from_millis(50));
            drop(stream);
            // Dropping joined the threads (the kernel may list an exiting one a moment longer).
            let mut left = decoding_threads();
            for _ in 0..100 {
                if left == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                left = decoding_threads();
            }
            done_tx.send(left).unwrap();
        });
        let left = done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("dropping the stream hung");
        assert_eq!(left, 0, "after taking {taken} batches");
    }
    // A stream read to its end leaves no thread either.
    let rows: usize = read_parquet_path(&path, &ParquetOptions::default().with_threads(3))
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 20_000);
    assert_no_decoding_threads();
}
