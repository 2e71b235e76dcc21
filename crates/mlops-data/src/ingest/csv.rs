//! CSV reading (with type inference over a sample) and writing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_cast::parse::Parser;
use arrow_csv::reader::Format;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use tracing::{Span, debug, debug_span};

use super::atomic::TempFile;
use super::{FuseOnError, io_error};

use crate::{BatchStream, Error, Result};

/// Bytes read while buffering the header and the inference sample stop at this size: the
/// sample then holds the rows read so far (or, for a header this long, it is an error).
const SAMPLE_BYTE_LIMIT: usize = 64 * 1024 * 1024;
/// Most cells (rows × columns) in one decoded batch. The CSV decoder allocates its buffers for
/// a whole batch up front (8 bytes of field offsets per cell), so without this bound a single
/// wide record (a few KiB of delimiters) made every read allocate `batch_size × columns` cells
/// (found by the `csv_ingest` fuzz target: 500 MiB for a 5 KiB input).
const MAX_BATCH_CELLS: usize = 1 << 21;

/// The rows per batch actually used for `columns` columns: `batch_size`, reduced for very wide
/// files so that a batch holds at most [`MAX_BATCH_CELLS`] cells (and always at least one row).
fn rows_per_batch(batch_size: usize, columns: usize) -> usize {
    batch_size.min(MAX_BATCH_CELLS / columns.max(1)).max(1)
}
/// Bytes read from the source at a time while sampling.
const CHUNK: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Options for reading CSV. Build with [`CsvOptions::default`] and the `with_*` setters;
/// every reader checks them first ([`CsvOptions::validate`]).
///
/// ```
/// use mlops_data::ingest::CsvOptions;
/// use mlops_data::arrow::DataType;
///
/// let options = CsvOptions::default()
///     .with_batch_size(1024)
///     .with_delimiter(b';')
///     .with_override("zip", DataType::Utf8)
///     .with_null_values(["", "NA", "null"]);
/// assert!(options.validate().is_ok());
/// assert!(CsvOptions::default().with_batch_size(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CsvOptions {
    /// Rows per batch (default 8192). Must be at least 1. Files with more than 256 columns get
    /// proportionally fewer rows per batch: a batch holds at most 2 097 152 cells, so memory
    /// stays bounded by the batch whatever the width of the header.
    pub batch_size: usize,
    /// Whether the first record holds the column names (default `true`). Without a header,
    /// columns are named `column_1`, `column_2`, ...
    pub has_header: bool,
    /// The field delimiter (default `b','`). Cannot be `"`, `\n` or `\r`.
    pub delimiter: u8,
    /// Data rows sampled to infer column types (default 10 000). Must be at least 1. Types are
    /// `Int64` when every non-null sampled value is a 64-bit integer, else `Float64` when every
    /// one is a number, else `Boolean` when every one is `true`/`false` (any case), else `Utf8`
    /// (also for a column with no non-null sampled value). A later value that does not fit the
    /// inferred type is an [`Error::Csv`] naming its row: use [`CsvOptions::with_override`].
    /// Sampling also stops once 64 MiB have been read (rows of about 6 KiB and more).
    pub infer_rows: usize,
    /// Columns whose type is forced instead of inferred, by name. Any type arrow-csv parses is
    /// allowed (integers, floats, decimals, booleans, dates, times, timestamps, `Utf8`).
    pub overrides: BTreeMap<String, DataType>,
    /// Field values read as null (compared with the whole, unquoted field; default: only the
    /// empty string). An empty list means no value is null.
    pub null_values: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            has_header: true,
            delimiter: b',',
            infer_rows: 10_000,
            overrides: BTreeMap::new(),
            null_values: vec![String::new()],
        }
    }
}

impl CsvOptions {
    /// Sets [`CsvOptions::batch_size`].
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets [`CsvOptions::has_header`].
    #[must_use]
    pub fn with_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets [`CsvOptions::delimiter`].
    #[must_use]
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets [`CsvOptions::infer_rows`].
    #[must_use]
    pub fn with_infer_rows(mut self, infer_rows: usize) -> Self {
        self.infer_rows = infer_rows;
        self
    }

    /// Forces `column` to be read as `data_type` (see [`CsvOptions::overrides`]).
    #[must_use]
    pub fn with_override(mut self, column: impl Into<String>, data_type: DataType) -> Self {
        self.overrides.insert(column.into(), data_type);
        self
    }

    /// Sets [`CsvOptions::null_values`].
    #[must_use]
    pub fn with_null_values<S: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a zero `batch_size` or `infer_rows`, a delimiter that is a
    /// quote or line break, or an override type that CSV cannot be parsed into.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        if self.infer_rows == 0 {
            return Err(invalid("infer_rows", "must be at least 1"));
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            return Err(invalid(
                "delimiter",
                format!("{:?} cannot be a delimiter", char::from(self.delimiter)),
            ));
        }
        for (column, data_type) in &self.overrides {
            if !csv_parsable(data_type) {
                return Err(invalid(
                    "overrides",
                    format!("column {column:?}: CSV values cannot be parsed as {data_type}"),
                ));
            }
        }
        Ok(())
    }

    fn null_regex(&self) -> Result<Option<regex::Regex>> {
        if self.null_values.len() == 1 && self.null_values.iter().all(String::is_empty) {
            // arrow-csv's default: exactly the empty string is null.
            return Ok(None);
        }
        let pattern = if self.null_values.is_empty() {
            // A class with no members: matches nothing.
            r"[^\s\S]".to_string()
        } else {
            let alternatives: Vec<String> =
                self.null_values.iter().map(|v| regex::escape(v)).collect();
            format!(r"\A(?:{})\z", alternatives.join("|"))
        };
        regex::Regex::new(&pattern)
            .map(Some)
            .map_err(|e| invalid("null_values", e.to_string()))
    }

    fn format(&self) -> Result<Format> {
        let format = Format::default()
            .with_header(self.has_header)
            .with_delimiter(self.delimiter);
        Ok(match self.null_regex()? {
            Some(re) => format.with_null_regex(re),
            None => format,
        })
    }
}

fn invalid(param: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParam {
        param,
        reason: reason.into(),
    }
}

/// Whether arrow-csv's reader can parse text into `data_type`.
fn csv_parsable(data_type: &DataType) -> bool {
    use arrow_schema::TimeUnit;
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | DataType::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | DataType::Timestamp(..)
        | DataType::Utf8
        | DataType::Utf8View => true,
        DataType::Dictionary(key, value) => {
            key.is_dictionary_key_type() && value.as_ref() == &DataType::Utf8
        }
        _ => false,
    }
}

/// Infers the schema of the CSV file at `path` from its first [`CsvOptions::infer_rows`] rows.
///
/// # Errors
/// The same as [`read_csv_path`] for the part of the file it reads.
pub fn infer_csv_schema(path: impl AsRef<Path>, options: &CsvOptions) -> Result<SchemaRef> {
    let path = path.as_ref();
    let _span = debug_span!("infer_csv_schema", path = %path.display()).entered();
    let file = super::open_file(path)?;
    let sampled = sample(file, options, Some(path))?;
    Ok(sampled.schema)
}

/// Opens the CSV file at `path` as a stream of batches of [`CsvOptions::batch_size`] rows.
///
/// Only the inference sample and one batch are held in memory.
///
/// # Errors
/// At open: [`Error::Io`] if the file cannot be read; [`Error::EmptyTable`] for an empty or
/// header-only file; [`Error::DuplicateColumn`] for a repeated or empty header name;
/// [`Error::MissingColumn`] for an override naming no column; [`Error::InvalidParam`] for bad
/// options; [`Error::Csv`] for malformed rows in the sample. While streaming: [`Error::Csv`]
/// with the row for ragged rows, invalid UTF-8 or a value that does not parse as its column's
/// type. Every error names `path`.
pub fn read_csv_path(path: impl AsRef<Path>, options: &CsvOptions) -> Result<BatchStream> {
    let path = path.as_ref();
    let _span = debug_span!("read_csv_path", path = %path.display()).entered();
    let file = super::open_file(path)?;
    stream(file, options, Some(path))
}

/// Reads CSV from any reader as a stream of batches.
///
/// The reader is consumed once: the bytes read for type inference are kept and replayed ahead
/// of the rest of the input.
///
/// # Errors
/// As [`read_csv_path`], without a path.
pub fn read_csv(reader: impl Read + Send + 'static, options: &CsvOptions) -> Result<BatchStream> {
    let _span = debug_span!("read_csv").entered();
    stream(reader, options, None)
}

/// Reads CSV held in memory as a stream of batches.
///
/// # Errors
/// As [`read_csv_path`], without a path.
pub fn read_csv_bytes(bytes: impl Into<bytes::Bytes>, options: &CsvOptions) -> Result<BatchStream> {
    let _span = debug_span!("read_csv_bytes").entered();
    stream(Cursor::new(bytes.into()), options, None)
}

/// Writes every batch of `stream` to a CSV file at `path` (header row, comma delimiter, nulls as
/// empty fields), returning the number of data rows written.
///
/// The file is written under a temporary name next to `path` and renamed into place at the end;
/// on error nothing is left under `path` (an existing file there is kept). The header is written
/// even for an empty stream. Reading the file back gives the same values except that empty
/// strings come back as nulls and types are re-inferred.
///
/// # Errors
/// [`Error::Io`] for file-system failures, [`Error::Csv`] for a column type CSV cannot hold,
/// [`Error::SchemaMismatch`] for a batch whose schema differs from the stream's, and any error
/// the stream yields.
pub fn write_csv_path(path: impl AsRef<Path>, stream: BatchStream) -> Result<u64> {
    let path = path.as_ref();
    let _span = debug_span!("write_csv_path", path = %path.display()).entered();
    let (tmp, file) = TempFile::create(path)?;
    let schema = stream.schema();
    let to_csv_err = |e: ArrowError| match e {
        ArrowError::IoError(_, source) => io_error(path, source),
        other => Error::Csv {
            path: Some(path.to_path_buf()),
            row: None,
            message: arrow_message(other),
        },
    };
    let mut writer = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(NoFlush(BufWriter::new(file)));
    writer
        .write(&RecordBatch::new_empty(schema.clone()))
        .map_err(to_csv_err)?;
    let mut rows = 0u64;
    for batch in stream {
        let batch = batch?;
        if batch.schema().fields() != schema.fields() {
            return Err(Error::SchemaMismatch {
                expected: schema.to_string(),
                found: batch.schema().to_string(),
            });
        }
        writer.write(&batch).map_err(to_csv_err)?;
        rows += batch.num_rows() as u64;
    }
    let file = writer
        .into_inner()
        .0
        .into_inner()
        .map_err(|e| io_error(path, e.into_error()))?;
    tmp.commit(file)?;
    debug!(rows, "csv written");
    Ok(rows)
}

/// A writer whose `flush` does nothing, so the CSV writer's own flushes cannot fail (the
/// buffered writer is flushed, with its error handled, when the file is finished).
struct NoFlush<W>(W);

impl<W: Write> Write for NoFlush<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What sampling produced: the schema and every byte read so far.
struct Sampled {
    schema: SchemaRef,
    format: Format,
    bytes: Vec<u8>,
}

fn stream<R: Read + Send + 'static>(
    mut reader: R,
    options: &CsvOptions,
    path: Option<&Path>,
) -> Result<BatchStream> {
    let sampled = sample(&mut reader, options, path)?;
    let schema = sampled.schema.clone();
    let batch_size = rows_per_batch(options.batch_size, schema.fields().len());
    let csv_reader = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_format(sampled.format)
        .with_batch_size(batch_size)
        .build(Cursor::new(sampled.bytes).chain(reader))?;
    let ctx = ErrorContext::new(path, options.has_header, &schema);
    let batches = CsvBatches {
        reader: csv_reader,
        ctx,
        rows: 0,
        batch_size: batch_size as u64,
        span: debug_span!("csv_batch", path = %super::path_display(path)),
    };
    Ok(BatchStream::new(schema, FuseOnError::new(batches)))
}

struct CsvBatches<R> {
    reader: arrow_csv::reader::BufReader<R>,
    ctx: ErrorContext,
    /// Data rows yielded so far.
    rows: u64,
    batch_size: u64,
    span: Span,
}

impl<R: io::BufRead> Iterator for CsvBatches<R> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let _entered = self.span.enter();
        match self.reader.next()? {
            Ok(batch) => {
                self.rows += batch.num_rows() as u64;
                Some(Ok(batch))
            }
            Err(e) => Some(Err(self.ctx.error(
                e,
                self.rows + 1,
                self.rows.saturating_add(self.batch_size),
            ))),
        }
    }
}

/// Reads the header and up to `infer_rows` data rows, keeping every byte read, and infers the
/// schema.
fn sample<R: Read>(mut reader: R, options: &CsvOptions, path: Option<&Path>) -> Result<Sampled> {
    options.validate()?;
    let format = options.format()?;
    let path_buf = path.map(Path::to_path_buf);
    let mut bytes = Vec::new();

    // 1. Column names (and count), from the first record, recording every byte read.
    let names = {
        let tee = Tee {
            inner: &mut reader,
            copy: &mut bytes,
        };
        let (header_schema, _) =
            format
                .infer_schema(tee, Some(0))
                .map_err(|e| match (e, path) {
                    (ArrowError::IoError(_, source), Some(p)) => io_error(p, source),
                    (other, _) => Error::Csv {
                        path: path_buf.clone(),
                        row: None,
                        message: format!("reading the first record: {}", arrow_message(other)),
                    },
                })?;
        header_schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    let names: Vec<String> = names
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            if i == 0 {
                n.trim_start_matches('\u{feff}').to_string()
            } else {
                n
            }
        })
        .collect();
    if names.is_empty() {
        return Err(Error::EmptyTable { path: path_buf });
    }
    let mut seen = BTreeSet::new();
    for name in &names {
        if name.is_empty() || !seen.insert(name.as_str()) {
            debug!(column = %name, path = %super::path_display(path), "bad CSV header name");
            return Err(Error::DuplicateColumn {
                column: name.clone(),
            });
        }
    }
    for column in options.overrides.keys() {
        if !seen.contains(column.as_str()) {
            return Err(Error::MissingColumn {
                column: column.clone(),
                available: names.clone(),
            });
        }
    }

    // 2. Decode up to `infer_rows` rows as text and guess each column's type.
    let text_schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let ctx = ErrorContext::new(path, options.has_header, &text_schema);
    let decode_batch = rows_per_batch(
        options.batch_size.min(options.infer_rows).min(4096),
        names.len(),
    );
    let mut decoder = arrow_csv::ReaderBuilder::new(text_schema)
        .with_format(format.clone())
        .with_batch_size(decode_batch)
        .with_bounds(0, options.infer_rows)
        .build_decoder();
    let mut guesses = vec![Guess::default(); names.len()];
    let mut rows = 0u64;
    let mut consumed = 0usize;
    let mut eof = false;
    let decode_err = |e: ArrowError, rows: u64| ctx.error(e, rows + 1, rows + decode_batch as u64);
    loop {
        // The decoder takes all the input it is given unless its batch fills up (or the row
        // bound is reached), so "needs input" means every byte so far has been decoded.
        let mut progress = 0;
        if consumed < bytes.len() {
            progress = decoder
                .decode(bytes.get(consumed..).unwrap_or_default())
                .map_err(|e| decode_err(e, rows))?;
            consumed += progress;
        }
        let needs_input = decoder.capacity() > 0 && consumed == bytes.len();
        if needs_input && !eof {
            if bytes.len() >= SAMPLE_BYTE_LIMIT && rows > 0 {
                // Enough bytes: infer from the rows decoded so far.
                break;
            }
            let n = read_chunk(&mut reader, &mut bytes).map_err(|e| match path {
                Some(p) => io_error(p, e),
                None => Error::Csv {
                    path: None,
                    row: None,
                    message: format!("reading input: {e}"),
                },
            })?;
            if n > 0 {
                continue;
            }
            eof = true;
            // An empty buffer tells the decoder the input ended (completing a last record
            // that has no line terminator).
            decoder.decode(&[]).map_err(|e| decode_err(e, rows))?;
        }
        // The batch is full, the row bound is reached, or the input ended: take the rows.
        let got = match decoder.flush().map_err(|e| decode_err(e, rows))? {
            Some(batch) => {
                for (guess, column) in guesses.iter_mut().zip(batch.columns()) {
                    match column.as_string_opt::<i32>() {
                        Some(strings) => strings.iter().flatten().for_each(|s| guess.update(s)),
                        None => guess.force_text(),
                    }
                }
                batch.num_rows() as u64
            }
            None => 0,
        };
        rows += got;
        if eof || rows >= options.infer_rows as u64 || (got == 0 && progress == 0 && !needs_input) {
            // The last condition is defensive: a decoder that takes no bytes and yields no
            // rows would otherwise loop forever.
            break;
        }
    }
    if rows == 0 {
        return Err(Error::EmptyTable { path: path_buf });
    }

    let fields: Vec<Field> = names
        .iter()
        .zip(&guesses)
        .map(|(name, guess)| {
            let data_type = options
                .overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| guess.data_type());
            Field::new(name, data_type, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    debug!(sample_rows = rows, sample_bytes = bytes.len(), %schema, "csv schema inferred");
    Ok(Sampled {
        schema,
        format,
        bytes,
    })
}

/// Appends up to [`CHUNK`] bytes from `reader` to `buf`; returns how many (0 at end of input).
fn read_chunk(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + CHUNK, 0);
    let result = loop {
        match reader.read(buf.get_mut(start..).unwrap_or_default()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let n = *result.as_ref().unwrap_or(&0);
    buf.truncate(start + n.min(CHUNK));
    result
}

/// A reader that copies every byte it reads.
struct Tee<'a, R> {
    inner: &'a mut R,
    copy: &'a mut Vec<u8>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.copy.len() >= SAMPLE_BYTE_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the first record is longer than {SAMPLE_BYTE_LIMIT} bytes"),
            ));
        }
        let n = self.inner.read(buf)?;
        self.copy
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// What the sampled values of one column allow.
#[derive(Debug, Clone)]
struct Guess {
    seen: bool,
    int: bool,
    float: bool,
    boolean: bool,
}

impl Default for Guess {
    fn default() -> Self {
        Self {
            seen: false,
            int: true,
            float: true,
            boolean: true,
        }
    }
}

impl Guess {
    /// Uses the same parsers as arrow-csv, so an inferred type always parses its sample.
    fn update(&mut self, value: &str) {
        self.seen = true;
        if self.int && Int64Type::parse(value).is_none() {
            self.int = false;
        }
        if self.float && Float64Type::parse(value).is_none() {
            self.float = false;
        }
        if self.boolean
            && !(value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"))
        {
            self.boolean = false;
        }
    }

    fn force_text(&mut self) {
        self.seen = true;
        self.int = false;
        self.float = false;
        self.boolean = false;
    }

    fn data_type(&self) -> DataType {
        if !self.seen {
            DataType::Utf8
        } else if self.int {
            DataType::Int64
        } else if self.float {
            DataType::Float64
        } else if self.boolean {
            DataType::Boolean
        } else {
            DataType::Utf8
        }
    }
}

/// Turns arrow-csv errors into [`Error::Csv`] with the file and 1-based data row.
#[derive(Debug)]
struct ErrorContext {
    path: Option<PathBuf>,
    header: u64,
    names: Vec<String>,
}

impl ErrorContext {
    fn new(path: Option<&Path>, has_header: bool, schema: &Schema) -> Self {
        Self {
            path: path.map(Path::to_path_buf),
            header: u64::from(has_header),
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        }
    }

    /// Maps `e`, raised while decoding data rows `first..=last` (1-based), to a typed error.
    fn error(&self, e: ArrowError, first: u64, last: u64) -> Error {
        if let ArrowError::IoError(_, source) = e {
            return match &self.path {
                Some(p) => io_error(p, source),
                None => Error::Csv {
                    path: None,
                    row: None,
                    message: format!("reading input: {source}"),
                },
            };
        }
        let message = arrow_message(e);
        let row = data_row(&message, self.header).filter(|r| (first..=last).contains(r));
        let message = match number_after(&message, "for column ")
            .and_then(|c| usize::try_from(c).ok())
            .and_then(|c| self.names.get(c))
        {
            Some(name) => format!("column {name:?}: {message}"),
            None => message,
        };
        Error::Csv {
            path: self.path.clone(),
            row,
            message,
        }
    }
}

/// The message of an arrow error without the "Parser error: " style prefix.
fn arrow_message(e: ArrowError) -> String {
    match e {
        ArrowError::ParseError(m) | ArrowError::CsvError(m) => m,
        other => other.to_string(),
    }
}

/// The 1-based data row named by an arrow-csv message.
///
/// arrow-csv numbers records two ways: value parse errors say "at line N" with N counted from 0
/// at the first data row when there is no header and from 1 when there is one (the header is
/// record 0); record-level errors (field counts, UTF-8) say "for line N" with N the 1-based
/// record number including the header.
fn data_row(message: &str, header: u64) -> Option<u64> {
    if let Some(n) = number_after(message, " at line ") {
        return Some(n + 1 - header);
    }
    if let Some(n) = number_after(message, "for line ") {
        return n.checked_sub(header).filter(|r| *r >= 1);
    }
    None
}

/// The decimal number right after the first occurrence of `pattern` in `message`.
fn number_after(message: &str, pattern: &str) -> Option<u64> {
    let start = message.find(pattern)? + pattern.len();
    let digits: String = message
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_row_parses_both_numberings() {
        let parse = "Error while parsing value 'x' as type 'Int64' for column 1 at line 4. Row data: '[4,x]'";
        assert_eq!(data_row(parse, 1), Some(4));
        assert_eq!(data_row(parse, 0), Some(5));
        let fields = "incorrect number of fields for line 3, expected 2 got 1";
        assert_eq!(data_row(fields, 1), Some(2));
        assert_eq!(data_row(fields, 0), Some(3));
        assert_eq!(data_row("for line 1, expected", 1), None);
        assert_eq!(data_row("no numbers here", 1), None);
        assert_eq!(data_row("at line 99999999999999999999999", 1), None);
    }

    #[test]
    fn guesses_follow_arrow_parsers() {
        let guess = |values: &[&str]| {
            let mut g = Guess::default();
            values.iter().for_each(|v| g.update(v));
            g.data_type()
        };
        assert_eq!(guess(&[]), DataType::Utf8);
        assert_eq!(guess(&["1", "-2", "+3"]), DataType::Int64);
        assert_eq!(guess(&["1", "2.5"]), DataType::Float64);
        assert_eq!(guess(&["99999999999999999999"]), DataType::Float64);
        assert_eq!(guess(&["1e3", "NaN"]), DataType::Float64);
        assert_eq!(guess(&["true", "FALSE"]), DataType::Boolean);
        assert_eq!(guess(&["true", "1"]), DataType::Utf8);
        assert_eq!(guess(&["a", "1"]), DataType::Utf8);
    }

    #[test]
    fn null_regex_matches_whole_values_only() -> Result<()> {
        let re = CsvOptions::default()
            .with_null_values(["NA", "a.b"])
            .null_regex()?;
        let re = re.ok_or_else(|| invalid("test", "expected a regex"))?;
        assert!(re.is_match("NA"));
        assert!(re.is_match("a.b"));
        assert!(!re.is_match("axb"));
        assert!(!re.is_match("NAN"));
        assert!(!re.is_match(""));
        let none = CsvOptions::default()
            .with_null_values(Vec::<String>::new())
            .null_regex()?;
        let none = none.ok_or_else(|| invalid("test", "expected a regex"))?;
        assert!(!none.is_match(""));
        assert!(!none.is_match("x"));
        assert!(CsvOptions::default().null_regex()?.is_none());
        Ok(())
    }
}
