//! A stream of record batches sharing one schema.

use std::fmt;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::{Error, Result};

/// A stream of Arrow [`RecordBatch`]es that all share [`BatchStream::schema`].
///
/// It is an `Iterator<Item = Result<RecordBatch>>`: readers produce one batch at a time, so memory
/// stays bounded by the batch size whatever the size of the file.
pub struct BatchStream {
    schema: SchemaRef,
    inner: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    rows_hint: Option<u64>,
}

impl BatchStream {
    /// Wraps an iterator of batches that all have `schema`.
    pub fn new(
        schema: SchemaRef,
        inner: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    ) -> Self {
        Self {
            schema,
            inner: Box::new(inner),
            rows_hint: None,
        }
    }

    /// A stream over batches already in memory. Every batch must have `schema`'s fields
    /// (checked lazily: a mismatching batch yields [`Error::SchemaMismatch`]).
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let expected = schema.clone();
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        Self::new(
            schema,
            batches.into_iter().map(move |b| {
                if b.schema().fields() == expected.fields() {
                    Ok(b)
                } else {
                    Err(Error::SchemaMismatch {
                        expected: expected.to_string(),
                        found: b.schema().to_string(),
                    })
                }
            }),
        )
        .with_rows_hint(rows)
    }

    /// Declares how many rows the stream will yield, when the source knows for certain (batches
    /// already in memory: [`BatchStream::from_batches`] sets it). Consumers may allocate their
    /// output for that many rows at once, so only declare a count you trust (a Parquet footer's
    /// row count is not: the readers do not set it). A stream that yields a different number of
    /// rows is not an error.
    #[must_use]
    pub fn with_rows_hint(mut self, rows: u64) -> Self {
        self.rows_hint = Some(rows);
        self
    }

    /// The number of rows the source declared, if any (see [`BatchStream::with_rows_hint`]).
    pub fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }

    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Reads every batch into memory. Only for data known to be small.
    pub fn collect_batches(self) -> Result<Vec<RecordBatch>> {
        self.collect()
    }

    /// Reads every batch into memory as one batch (an empty stream gives a 0-row batch). Only
    /// for data known to fit in memory.
    pub fn collect_batch(self) -> Result<RecordBatch> {
        let schema = self.schema();
        let batches = self.collect_batches()?;
        Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
    }
}

impl Iterator for BatchStream {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}
