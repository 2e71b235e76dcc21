//! Parquet reading (with projection by name) and writing.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use tracing::{Span, debug, debug_span};

use super::atomic::TempFile;
use super::{FuseOnError, io_error};
use crate::{BatchStream, Error, Result};

/// Options for reading Parquet.
///
/// ```
/// use mlops_data::ingest::ParquetOptions;
///
/// let options = ParquetOptions::default().with_batch_size(4096).with_columns(["age", "plan"]);
/// assert_eq!(options.columns.as_deref().map(<[String]>::len), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParquetOptions {
    /// Rows per batch (default 8192). Must be at least 1.
    pub batch_size: usize,
    /// Top-level columns to read, by name, in the order wanted (default: all, in file order).
    pub columns: Option<Vec<String>>,
    /// Threads decoding row groups in parallel when reading from a path (default `Some(1)`:
    /// decode on the caller's thread; `None`: one per available core, at most 8). At most one
    /// thread per row group is used. Batches always come out in file order and memory stays
    /// bounded: each thread holds one row group's column chunks and, ahead of the consumer,
    /// decoded batches of at most one row group and at most 64 MiB (or one batch, if larger), so
    /// a thread decodes the next row group while the consumer takes the current one. When
    /// decoding in parallel a batch never spans two row groups, so the last batch of each row
    /// group may be shorter than `batch_size`. Dropping the stream stops and joins its threads.
    pub threads: Option<usize>,
    /// Largest uncompressed size a compressed page may declare (default 128 MiB). The
    /// decoder allocates a page's declared size before decompressing it, so a page header in a
    /// small hostile file could otherwise make it allocate gigabytes; every page header of the
    /// file is checked against this limit before decoding starts ([`Error::Parquet`] names the
    /// row group, column and size). Writers use pages of about 1 MiB.
    pub max_page_bytes: usize,
}

/// Default of [`ParquetOptions::max_page_bytes`].
pub const DEFAULT_MAX_PAGE_BYTES: usize = 128 << 20;

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            columns: None,
            threads: Some(1),
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
        }
    }
}

impl ParquetOptions {
    /// Sets [`ParquetOptions::batch_size`].
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets [`ParquetOptions::threads`] (`0` is invalid).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Decodes with one thread per available core (at most 8): [`ParquetOptions::threads`] = `None`.
    #[must_use]
    pub fn with_all_cores(mut self) -> Self {
        self.threads = None;
        self
    }

    /// Sets [`ParquetOptions::max_page_bytes`] (`0` is invalid).
    #[must_use]
    pub fn with_max_page_bytes(mut self, max_page_bytes: usize) -> Self {
        self.max_page_bytes = max_page_bytes;
        self
    }

    /// Reads only `columns`, in this order.
    #[must_use]
    pub fn with_columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a zero batch size; [`Error::DuplicateColumn`] for a column
    /// asked for twice.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::InvalidParam {
                param: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if self.threads == Some(0) {
            return Err(Error::InvalidParam {
                param: "threads",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_page_bytes == 0 {
            return Err(Error::InvalidParam {
                param: "max_page_bytes",
                reason: "must be at least 1".into(),
            });
        }
        if let Some(columns) = &self.columns {
            let mut seen = BTreeSet::new();
            for column in columns {
                if !seen.insert(column.as_str()) {
                    return Err(Error::DuplicateColumn {
                        column: column.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Opens the Parquet file at `path` as a stream of batches of [`ParquetOptions::batch_size`]
/// rows. A file with a schema and no rows gives an empty stream.
///
/// Memory is bounded by the batch size and the largest column chunk of a row group (when
/// decoding in parallel, per thread, plus the lookahead described at [`ParquetOptions::threads`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened; [`Error::Parquet`] (naming `path`) for a file
/// that is not valid Parquet (empty, truncated, corrupt, or compressed with an unsupported
/// codec), at open or from the stream; [`Error::MissingColumn`] for a projected column the file
/// lacks, listing the available ones.
pub fn read_parquet_path(path: impl AsRef<Path>, options: &ParquetOptions) -> Result<BatchStream> {
    let path = path.as_ref();
    let _span = debug_span!("read_parquet_path", path = %path.display()).entered();
    options.validate()?;
    let file = super::open_file(path)?;
    open(file, options, Some(path))
}

/// How many threads decode a file with `row_groups` row groups.
fn decode_threads(options: &ParquetOptions, row_groups: usize) -> usize {
    let wanted = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(std::num::NonZeroUsize::get)
            .unwrap_or(1)
            .min(8)
    });
    wanted.min(row_groups).max(1)
}

/// Reads Parquet held in memory as a stream of batches.
///
/// # Errors
/// As [`read_parquet_path`], without a path.
pub fn read_parquet_bytes(
    bytes: impl Into<bytes::Bytes>,
    options: &ParquetOptions,
) -> Result<BatchStream> {
    let _span = debug_span!("read_parquet_bytes").entered();
    options.validate()?;
    open(bytes.into(), options, None)
}

fn parquet_error(path: Option<&Path>, e: impl fmt::Display) -> Error {
    let mut message = e.to_string();
    if message.contains("Disabled feature at compile time") {
        message.push_str(
            " (unsupported compression codec: this build reads uncompressed, snappy and zstd Parquet)",
        );
    }
    Error::Parquet {
        path: path.map(Path::to_path_buf),
        message,
    }
}

/// Runs `f`, turning a panic inside the parquet decoder into [`Error::Parquet`].
///
/// The parquet crate still panics on some corrupt inputs (for example a data page that refers
/// to a missing dictionary, or dictionary indices out of range: apache/arrow-rs#9434). Input
/// files are user data, so such a panic is caught here and reported as a corrupt file; the
/// stream ends after it. (With `panic = "abort"` the process aborts instead.)
fn guarded<T>(path: Option<&Path>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(Error::Parquet {
                path: path.map(Path::to_path_buf),
                message: format!("corrupt file: the parquet decoder failed: {detail}"),
            })
        }
    }
}

fn open<T: ChunkReader + 'static>(
    input: T,
    options: &ParquetOptions,
    path: Option<&Path>,
) -> Result<BatchStream> {
    guarded(path, || open_unguarded(input, options, path))
}

fn open_unguarded<T: ChunkReader + 'static>(
    input: T,
    options: &ParquetOptions,
    path: Option<&Path>,
) -> Result<BatchStream> {
    super::parquet_pages::check_footer(&input).map_err(|message| Error::Parquet {
        path: path.map(Path::to_path_buf),
        message,
    })?;
    let metadata = ArrowReaderMetadata::load(&input, ArrowReaderOptions::default())
        .map_err(|e| parquet_error(path, e))?;
    super::parquet_pages::check_page_sizes(&input, metadata.metadata(), options.max_page_bytes)
        .map_err(|message| Error::Parquet {
            path: path.map(Path::to_path_buf),
            message,
        })?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata.clone());
    let file_schema = builder.schema().clone();
    let mut mask = None;
    let mut order = None;
    let builder = match &options.columns {
        None => builder,
        Some(columns) => {
            let wanted = columns
                .iter()
                .map(|c| {
                    file_schema.index_of(c).map_err(|_| Error::MissingColumn {
                        column: c.clone(),
                        available: file_schema
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect(),
                    })
                })
                .collect::<Result<Vec<usize>>>()?;
            let mut sorted = wanted.clone();
            sorted.sort_unstable();
            // The reader yields projected columns in file order; `order` puts them in the
            // requested order.
            order = Some(
                wanted
                    .iter()
                    .map(|w| sorted.iter().position(|s| s == w).unwrap_or_default())
                    .collect::<Vec<usize>>(),
            );
            let projection = ProjectionMask::roots(builder.parquet_schema(), sorted);
            mask = Some(projection.clone());
            builder.with_projection(projection)
        }
    };
    let row_groups = builder.metadata().num_row_groups();
    let rows = builder.metadata().file_metadata().num_rows();
    let reader = builder
        .with_batch_size(options.batch_size)
        .build()
        .map_err(|e| parquet_error(path, e))?;
    let reader_schema = arrow_array::RecordBatchReader::schema(&reader);
    let schema = match &order {
        Some(order) => Arc::new(reader_schema.project(order)?),
        None => reader_schema,
    };
    debug!(row_groups, rows, %schema, "parquet opened");
    let path_buf = path.map(Path::to_path_buf);
    let span = debug_span!("parquet_batch", path = %super::path_display(path));
    if let Some(path) = path {
        let threads = decode_threads(options, row_groups);
        if threads > 1 {
            let plan = ParallelPlan {
                path: path.to_path_buf(),
                metadata,
                mask,
                order,
                batch_size: options.batch_size,
                lookahead_bytes: lookahead_bytes(),
            };
            let batches = plan.spawn(threads, row_groups, span)?;
            return Ok(BatchStream::new(schema, FuseOnError::new(batches)));
        }
    }
    let batches = ParquetBatches {
        reader,
        order,
        path: path_buf,
        span,
    };
    Ok(BatchStream::new(schema, FuseOnError::new(batches)))
}

struct ParquetBatches<I> {
    reader: I,
    order: Option<Vec<usize>>,
    path: Option<PathBuf>,
    span: Span,
}

impl<I> Iterator for ParquetBatches<I>
where
    I: Iterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>>,
{
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let _entered = self.span.enter();
        let path = self.path.as_deref();
        let reader = &mut self.reader;
        let batch = match guarded(path, || Ok(reader.next())) {
            Ok(None) => return None,
            Ok(Some(Ok(batch))) => batch,
            Ok(Some(Err(e))) => return Some(Err(parquet_error(path, e))),
            Err(panicked) => return Some(Err(panicked)),
        };
        Some(match &self.order {
            Some(order) => batch.project(order).map_err(Error::from),
            None => Ok(batch),
        })
    }
}

/// What a decoding thread needs to read its row groups of one file.
#[derive(Clone)]
struct ParallelPlan {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    mask: Option<ProjectionMask>,
    order: Option<Vec<usize>>,
    batch_size: usize,
    lookahead_bytes: usize,
}

/// A message from a decoding thread: a batch (or the error that ends the stream) with the bytes
/// it holds, or the end of one row group.
enum Decoded {
    Batch(Result<RecordBatch>, usize),
    EndOfGroup,
}

/// Most bytes of decoded batches one decoding thread keeps ahead of the consumer (it always may
/// keep one batch, whatever its size).
const LOOKAHEAD_BYTES: usize = 64 << 20;

#[cfg(test)]
thread_local! {
    /// A smaller [`LOOKAHEAD_BYTES`] for streams opened on this thread (tests).
    static TEST_LOOKAHEAD_BYTES: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// [`LOOKAHEAD_BYTES`], or the test override.
fn lookahead_bytes() -> usize {
    #[cfg(test)]
    if let Some(bytes) = TEST_LOOKAHEAD_BYTES.get() {
        return bytes;
    }
    LOOKAHEAD_BYTES
}

/// The bytes of decoded batches a decoding thread has sent and the consumer has not yet taken;
/// the thread waits while they exceed its limit ([`LOOKAHEAD_BYTES`]).
struct Budget {
    limit: usize,
    state: Mutex<BudgetState>,
    taken: Condvar,
}

#[derive(Default)]
struct BudgetState {
    buffered: usize,
    /// The consumer has gone: stop decoding.
    closed: bool,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            state: Mutex::default(),
            taken: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `bytes` for a batch about to be sent, waiting while the batches already sent
    /// hold too much; `false` when the consumer has gone.
    fn reserve(&self, bytes: usize) -> bool {
        let mut state = self.lock();
        while !state.closed
            && state.buffered > 0
            && state.buffered.saturating_add(bytes) > self.limit
        {
            state = self
                .taken
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return false;
        }
        state.buffered = state.buffered.saturating_add(bytes);
        true
    }

    /// The consumer took a batch of `bytes`.
    fn release(&self, bytes: usize) {
        let mut state = self.lock();
        state.buffered = state.buffered.saturating_sub(bytes);
        drop(state);
        self.taken.notify_all();
    }

    /// The consumer has gone.
    fn close(&self) {
        self.lock().closed = true;
        self.taken.notify_all();
    }
}

impl ParallelPlan {
    /// Starts `threads` decoders; thread `t` reads row groups `t, t + threads, …` (each with its
    /// own file handle) into its own channel, and [`OrderedBatches`] reads the channels
    /// round-robin, so batches come out in file order.
    ///
    /// A thread keeps up to one row group's batches (and at most [`LOOKAHEAD_BYTES`] of them)
    /// ahead of the consumer: while the consumer takes row group `g` from one thread, the others
    /// decode `g + 1, …` instead of stalling after a batch or two.
    fn spawn(self, threads: usize, row_groups: usize, span: Span) -> Result<OrderedBatches> {
        let row_group_meta = self.metadata.metadata().row_groups();
        let mut ordered = OrderedBatches {
            receivers: Vec::with_capacity(threads),
            budgets: Vec::with_capacity(threads),
            workers: Vec::with_capacity(threads),
            next_group: 0,
            row_groups,
            path: self.path.clone(),
            span: span.clone(),
        };
        for t in 0..threads {
            let groups: Vec<usize> = (t..row_groups).step_by(threads).collect();
            let batches_per_group = groups
                .iter()
                .filter_map(|&g| row_group_meta.get(g))
                .map(|g| {
                    usize::try_from(g.num_rows())
                        .unwrap_or(0)
                        .div_ceil(self.batch_size)
                })
                .max()
                .unwrap_or(0);
            // One row group's batches and its end marker (at least two slots).
            let (tx, rx) = std::sync::mpsc::sync_channel(batches_per_group.max(1) + 1);
            let budget = Arc::new(Budget::new(self.lookahead_bytes));
            let plan = self.clone();
            let parent = span.clone();
            let worker_budget = budget.clone();
            let worker = std::thread::Builder::new()
                .name(format!("mlops-parquet-{t}"))
                .spawn(move || {
                    let _entered = parent.enter();
                    plan.decode(&groups, &tx, &worker_budget);
                })
                .map_err(|e| super::io_error(&self.path, e))?;
            ordered.receivers.push(rx);
            ordered.budgets.push(budget);
            ordered.workers.push(worker);
        }
        Ok(ordered)
    }

    /// Decodes `groups` in order, sending each batch then an end marker per group; stops at
    /// the first error or when the reader side has gone away.
    fn decode(&self, groups: &[usize], tx: &SyncSender<Decoded>, budget: &Budget) {
        let path = Some(self.path.as_path());
        for &group in groups {
            let reader = guarded(path, || {
                let file = File::open(&self.path).map_err(|e| super::io_error(&self.path, e))?;
                let mut builder =
                    ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
                        .with_row_groups(vec![group])
                        .with_batch_size(self.batch_size);
                if let Some(mask) = &self.mask {
                    builder = builder.with_projection(mask.clone());
                }
                builder.build().map_err(|e| parquet_error(path, e))
            });
            let mut reader = match reader {
                Ok(reader) => reader,
                Err(e) => {
                    let _ = tx.send(Decoded::Batch(Err(e), 0));
                    return;
                }
            };
            loop {
                let item = match guarded(path, || Ok(reader.next())) {
                    Ok(None) => break,
                    Ok(Some(Ok(batch))) => match &self.order {
                        Some(order) => batch.project(order).map_err(Error::from),
                        None => Ok(batch),
                    },
                    Ok(Some(Err(e))) => Err(parquet_error(path, e)),
                    Err(panicked) => Err(panicked),
                };
                let failed = item.is_err();
                let bytes = item.as_ref().map_or(0, RecordBatch::get_array_memory_size);
                if !budget.reserve(bytes) || tx.send(Decoded::Batch(item, bytes)).is_err() || failed
                {
                    return;
                }
            }
            if tx.send(Decoded::EndOfGroup).is_err() {
                return;
            }
        }
    }
}

/// Batches from the decoding threads, in file order. Dropping it (early, or at the end) stops
/// the threads and waits for them: none outlives the stream.
struct OrderedBatches {
    receivers: Vec<Receiver<Decoded>>,
    /// The lookahead budget of each thread, by thread.
    budgets: Vec<Arc<Budget>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    next_group: usize,
    row_groups: usize,
    path: PathBuf,
    span: Span,
}

impl Iterator for OrderedBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let _entered = self.span.enter();
        while self.next_group < self.row_groups {
            let thread = self.next_group % self.receivers.len();
            let receiver = self.receivers.get(thread)?;
            match receiver.recv() {
                Ok(Decoded::Batch(batch, bytes)) => {
                    if let Some(budget) = self.budgets.get(thread) {
                        budget.release(bytes);
                    }
                    return Some(batch);
                }
                Ok(Decoded::EndOfGroup) => self.next_group += 1,
                Err(_) => {
                    return Some(Err(Error::Parquet {
                        path: Some(self.path.clone()),
                        message: format!(
                            "the thread decoding row group {} stopped unexpectedly",
                            self.next_group
                        ),
                    }));
                }
            }
        }
        None
    }
}

impl Drop for OrderedBatches {
    fn drop(&mut self) {
        // Closing the budgets and the channels makes every thread's next send fail, so each
        // stops after the batch it is decoding (a thread waiting to send wakes at once).
        for budget in &self.budgets {
            budget.close();
        }
        self.receivers.clear();
        for worker in self.workers.drain(..) {
            // A decoder panic is caught inside the thread; nothing is left to report here.
            let _ = worker.join();
        }
    }
}

/// The compression codec of written Parquet files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParquetCompression {
    /// Zstandard at its default level (1): small files, fast to read (the default).
    #[default]
    Zstd,
    /// Snappy: larger files, very fast.
    Snappy,
    /// No compression.
    Uncompressed,
}

/// Default rows per row group of written Parquet files: small enough that a file of a few
/// hundred thousand rows has several row groups (read in parallel, one per thread) and that
/// the writer buffers at most this many rows, large enough that per-group overhead stays
/// negligible (Polars writes 256Ki-row groups, DuckDB about 120k).
pub const DEFAULT_ROW_GROUP_ROWS: usize = 128 * 1024;

/// Options for writing Parquet.
///
/// ```
/// use mlops_data::ingest::{ParquetCompression, ParquetWriteOptions};
///
/// let options = ParquetWriteOptions::default()
///     .with_compression(ParquetCompression::Snappy)
///     .with_row_group_size(100_000);
/// assert!(options.validate().is_ok());
/// assert!(ParquetWriteOptions::default().with_row_group_size(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParquetWriteOptions {
    /// The codec (default [`ParquetCompression::Zstd`]).
    pub compression: ParquetCompression,
    /// Maximum rows per row group (default [`DEFAULT_ROW_GROUP_ROWS`], 131 072). Must be at
    /// least 1.
    pub row_group_size: usize,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::default(),
            row_group_size: DEFAULT_ROW_GROUP_ROWS,
        }
    }
}

impl ParquetWriteOptions {
    /// Sets [`ParquetWriteOptions::compression`].
    #[must_use]
    pub fn with_compression(mut self, compression: ParquetCompression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`ParquetWriteOptions::row_group_size`].
    #[must_use]
    pub fn with_row_group_size(mut self, row_group_size: usize) -> Self {
        self.row_group_size = row_group_size;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a zero row group size.
    pub fn validate(&self) -> Result<()> {
        if self.row_group_size == 0 {
            return Err(Error::InvalidParam {
                param: "row_group_size",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    fn properties(&self) -> Result<WriterProperties> {
        self.validate()?;
        let compression = match self.compression {
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
        };
        Ok(WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_size))
            .build())
    }
}

/// Writes batches to a Parquet file, for callers that produce batches themselves.
///
/// The data goes to a temporary file in the destination's directory, renamed to the final path
/// by [`ParquetFileWriter::finish`]. Dropped without `finish` (or after an error), the writer
/// removes the temporary file and leaves the destination untouched.
///
/// ```
/// use std::sync::Arc;
/// use mlops_data::arrow::{DataType, Field, Schema, RecordBatch, array::Int64Array};
/// use mlops_data::ingest::{ParquetFileWriter, ParquetOptions, ParquetWriteOptions, read_parquet_path};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("numbers.parquet");
/// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])?;
///
/// let mut writer = ParquetFileWriter::create(&path, schema, &ParquetWriteOptions::default())?;
/// writer.write(&batch)?;
/// writer.write(&batch)?;
/// assert_eq!(writer.finish()?, 6);
///
/// let read = read_parquet_path(&path, &ParquetOptions::default())?.collect_batches()?;
/// assert_eq!(read[0].num_rows(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParquetFileWriter {
    tmp: TempFile,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    rows: u64,
}

impl fmt::Debug for ParquetFileWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetFileWriter")
            .field("path", &self.tmp.dest())
            .field("schema", &self.schema)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ParquetFileWriter {
    /// Starts writing a file of `schema` at `path`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad options, [`Error::Io`] if the temporary file cannot be
    /// created, [`Error::Parquet`] if the schema cannot be written as Parquet.
    pub fn create(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: &ParquetWriteOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        let _span = debug_span!("parquet_create", path = %path.display()).entered();
        let properties = options.properties()?;
        let (tmp, file) = TempFile::create(path)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| parquet_error(Some(path), e))?;
        Ok(Self {
            tmp,
            writer,
            schema,
            rows: 0,
        })
    }

    /// The schema every batch must have.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Writes one batch (buffered up to a row group, then encoded).
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] when the batch's fields differ from the writer's schema;
    /// [`Error::Io`] or [`Error::Parquet`] when writing fails. After an error, drop the writer.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(Error::SchemaMismatch {
                expected: self.schema.to_string(),
                found: batch.schema().to_string(),
            });
        }
        self.writer.write(batch).map_err(|e| self.write_error(e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the footer, syncs the file and renames it to its final path. Returns the number
    /// of rows written.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Parquet`]; the temporary file is then removed.
    pub fn finish(self) -> Result<u64> {
        let _span = debug_span!("parquet_finish", path = %self.tmp.dest().display()).entered();
        let Self {
            tmp, writer, rows, ..
        } = self;
        let file = writer
            .into_inner()
            .map_err(|e| write_error(tmp.dest(), e))?;
        tmp.commit(file)?;
        debug!(rows, "parquet written");
        Ok(rows)
    }

    fn write_error(&self, e: ParquetError) -> Error {
        write_error(self.tmp.dest(), e)
    }
}

fn write_error(path: &Path, e: ParquetError) -> Error {
    match e {
        ParquetError::External(source) => match source.downcast::<std::io::Error>() {
            Ok(io) => io_error(path, *io),
            Err(other) => parquet_error(Some(path), other),
        },
        other => parquet_error(Some(path), other),
    }
}

/// Writes every batch of `stream` to a Parquet file at `path`, one batch at a time, returning
/// the number of rows written. Written atomically (see [`ParquetFileWriter`]): on any error,
/// including one yielded by the stream, nothing is left under `path`.
///
/// # Errors
/// As [`ParquetFileWriter`], plus any error the stream yields.
pub fn write_parquet_path(
    path: impl AsRef<Path>,
    stream: BatchStream,
    options: &ParquetWriteOptions,
) -> Result<u64> {
    let path = path.as_ref();
    let _span = debug_span!("write_parquet_path", path = %path.display()).entered();
    let mut writer = ParquetFileWriter::create(path, stream.schema(), options)?;
    for batch in stream {
        writer.write(&batch?)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};

    use super::{
        Budget, LOOKAHEAD_BYTES, ParquetOptions, ParquetWriteOptions, TEST_LOOKAHEAD_BYTES,
        read_parquet_path, write_parquet_path,
    };
    use crate::BatchStream;

    /// Starts a thread reserving `bytes`; its answer arrives on the returned channel.
    fn reserve_in_thread(budget: &Arc<Budget>, bytes: usize) -> std::sync::mpsc::Receiver<bool> {
        let (tx, rx) = std::sync::mpsc::channel();
        let budget = budget.clone();
        std::thread::spawn(move || tx.send(budget.reserve(bytes)).unwrap());
        rx
    }

    #[test]
    fn the_lookahead_budget_waits_for_the_consumer_and_stops_when_it_goes() {
        let budget = Arc::new(Budget::new(LOOKAHEAD_BYTES));
        // One batch is always allowed, even beyond the budget.
        assert!(budget.reserve(LOOKAHEAD_BYTES + 1));
        budget.release(LOOKAHEAD_BYTES + 1);
        assert!(budget.reserve(LOOKAHEAD_BYTES / 2));
        assert!(budget.reserve(LOOKAHEAD_BYTES / 2));
        // Full: the next batch waits until the consumer takes one.
        let waiting = reserve_in_thread(&budget, 1);
        assert_eq!(
            waiting.recv_timeout(Duration::from_millis(100)),
            Err(RecvTimeoutError::Timeout)
        );
        budget.release(LOOKAHEAD_BYTES / 2);
        assert_eq!(waiting.recv_timeout(Duration::from_secs(10)), Ok(true));
        // Full again: closing wakes the waiting thread with `false`, and later reserves fail.
        let waiting = reserve_in_thread(&budget, LOOKAHEAD_BYTES);
        assert_eq!(
            waiting.recv_timeout(Duration::from_millis(100)),
            Err(RecvTimeoutError::Timeout)
        );
        budget.close();
        assert_eq!(waiting.recv_timeout(Duration::from_secs(10)), Ok(false));
        assert!(!budget.reserve(0));
    }

    #[test]
    fn a_small_lookahead_budget_keeps_the_batches_and_their_order() {
        let n = 12_345;
        let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        let name: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("row {i} {}", "x".repeat((i % 40) as usize))),
        ));
        let batch = RecordBatch::try_from_iter([("id", id), ("name", name)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.parquet");
        let stream = BatchStream::from_batches(batch.schema(), vec![batch]);
        write_parquet_path(
            &path,
            stream,
            &ParquetWriteOptions::default().with_row_group_size(1_000),
        )
        .unwrap();
        let options = ParquetOptions::default().with_batch_size(100);
        let read = |threads: usize| {
            read_parquet_path(&path, &options.clone().with_threads(threads))
                .unwrap()
                .collect_batches()
                .unwrap()
        };
        let sequential = read(1);
        assert_eq!(sequential.len(), 124);
        // One byte: every thread keeps a single batch ahead; a few batches' worth; unlimited.
        for limit in [1, 20_000, usize::MAX] {
            TEST_LOOKAHEAD_BYTES.set(Some(limit));
            for threads in [2, 3, 5] {
                assert_eq!(
                    read(threads),
                    sequential,
                    "limit {limit}, threads {threads}"
                );
            }
        }
        TEST_LOOKAHEAD_BYTES.set(None);
    }
}
