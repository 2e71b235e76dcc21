//! Reading CSV and Parquet into Arrow [`BatchStream`]s, and writing streams back to files.
//!
//! - CSV: [`read_csv_path`], [`read_csv`] (any [`std::io::Read`]), [`read_csv_bytes`] and
//!   [`infer_csv_schema`]. Column types are inferred from a sample of [`CsvOptions::infer_rows`]
//!   rows (`Int64`, `Float64`, `Boolean`, otherwise `Utf8`), and can be forced per column with
//!   [`CsvOptions::with_override`].
//! - Parquet: [`read_parquet_path`] and [`read_parquet_bytes`], with projection by column name.
//! - [`read_path`] picks the reader from the file extension (`.csv`, `.tsv`, `.parquet`, `.pq`).
//! - Writing: [`write_parquet_path`], [`ParquetFileWriter`] and [`write_csv_path`]. Files are
//!   written under a temporary name in the destination directory and renamed into place only when
//!   complete, so a failed write never leaves a partial file under the final name.
//!
//! Readers stream: memory is bounded by the batch size (plus the CSV inference sample, or one
//! Parquet column chunk), never by the size of the file. Every error is a typed [`Error`] that
//! names the file when there is one and, for CSV, the 1-based data row (header excluded) when it
//! is known. Errors found while streaming are yielded by the stream's `next()`, after which the
//! stream ends.
//!
//! ```
//! use mlops_data::ingest::{CsvOptions, read_csv_bytes};
//! use mlops_data::arrow::DataType;
//!
//! let csv = "age,income,churned\n34,52000.5,false\n51,,true\n";
//! let stream = read_csv_bytes(csv, &CsvOptions::default())?;
//! let schema = stream.schema();
//! assert_eq!(schema.field(0).data_type(), &DataType::Int64);
//! assert_eq!(schema.field(1).data_type(), &DataType::Float64);
//! assert_eq!(schema.field(2).data_type(), &DataType::Boolean);
//! let batches = stream.collect_batches()?;
//! assert_eq!(batches[0].num_rows(), 2);
//! assert_eq!(batches[0].column(1).null_count(), 1);
//! # Ok::<(), mlops_data::Error>(())
//! ```

mod atomic;
mod csv;
mod parquet;
mod parquet_pages;

use std::path::Path;

use arrow_array::RecordBatch;

use crate::{BatchStream, Error, Result};

pub use self::csv::{
    CsvOptions, infer_csv_schema, read_csv, read_csv_bytes, read_csv_path, write_csv_path,
};
pub use self::parquet::{
    DEFAULT_MAX_PAGE_BYTES, DEFAULT_ROW_GROUP_ROWS, ParquetCompression, ParquetFileWriter,
    ParquetOptions, ParquetWriteOptions, read_parquet_bytes, read_parquet_path, write_parquet_path,
};

/// Options for [`read_path`]: one set per format; only the one matching the file is used.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Used for `.csv` and `.tsv` files (a `.tsv` file always uses a tab delimiter).
    pub csv: CsvOptions,
    /// Used for `.parquet` and `.pq` files.
    pub parquet: ParquetOptions,
}

impl ReadOptions {
    /// Sets the CSV options.
    #[must_use]
    pub fn with_csv(mut self, csv: CsvOptions) -> Self {
        self.csv = csv;
        self
    }

    /// Sets the Parquet options.
    #[must_use]
    pub fn with_parquet(mut self, parquet: ParquetOptions) -> Self {
        self.parquet = parquet;
        self
    }

    /// Sets the batch size of both formats.
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.csv.batch_size = batch_size;
        self.parquet.batch_size = batch_size;
        self
    }
}

/// A file format this module reads, chosen from a file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// Comma-separated values (`.csv`).
    Csv,
    /// Tab-separated values (`.tsv`).
    Tsv,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
}

impl FileFormat {
    /// The format named by `path`'s extension (case-insensitive).
    ///
    /// # Errors
    /// [`Error::UnsupportedFormat`] when the extension is missing or unknown.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("tsv") => Ok(Self::Tsv),
            Some("parquet" | "pq") => Ok(Self::Parquet),
            _ => Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                extension: path.extension().map(|e| e.to_string_lossy().into_owned()),
            }),
        }
    }
}

/// Reads a CSV, TSV or Parquet file, choosing the reader from the extension
/// (see [`FileFormat::from_path`]).
///
/// # Errors
/// [`Error::UnsupportedFormat`] for an unknown extension, otherwise the errors of
/// [`read_csv_path`] or [`read_parquet_path`].
pub fn read_path(path: impl AsRef<Path>, options: &ReadOptions) -> Result<BatchStream> {
    let path = path.as_ref();
    match FileFormat::from_path(path)? {
        FileFormat::Csv => read_csv_path(path, &options.csv),
        FileFormat::Tsv => read_csv_path(path, &options.csv.clone().with_delimiter(b'\t')),
        FileFormat::Parquet => read_parquet_path(path, &options.parquet),
    }
}

/// An iterator that ends after its first error, so a consumer that keeps calling `next()` after
/// an error never sees a decoder in an undefined state.
struct FuseOnError<I> {
    inner: Option<I>,
}

impl<I> FuseOnError<I> {
    fn new(inner: I) -> Self {
        Self { inner: Some(inner) }
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for FuseOnError<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.as_mut()?.next();
        match item {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(e)) => {
                self.inner = None;
                Some(Err(e))
            }
            None => {
                self.inner = None;
                None
            }
        }
    }
}

/// Opens `path` for reading; a directory is an [`Error::Io`] too.
fn open_file(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if meta.is_dir() {
        return Err(io_error(
            path,
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        ));
    }
    Ok(file)
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn path_display(path: Option<&Path>) -> String {
    path.map_or_else(|| "<memory>".to_string(), |p| p.display().to_string())
}
