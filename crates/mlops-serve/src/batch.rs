//! Streaming batch scoring: [`score_file`] reads a CSV or Parquet file batch by batch, checks
//! every row against the model's signature, and writes the input columns plus `prediction`,
//! `probability` and `model_version` to a Parquet file, atomically.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder};
use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use mlops_data::ingest::{
    CsvOptions, FileFormat, ParquetFileWriter, ParquetWriteOptions, ReadOptions, read_path,
};
use mlops_data::schema::ColumnKind;

use crate::error::{Result, ServeError, from_data};
use crate::predictor::Predictor;

/// What to do with a row that fails the signature checks (or cannot be parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadRowPolicy {
    /// Stop at the first bad row with [`ServeError::BadRow`]; no output file is left.
    #[default]
    Fail,
    /// Leave bad rows out of the output and report them in [`BatchSummary::bad_rows`].
    Skip,
}

/// Options of [`score_file`].
pub struct BatchOptions {
    /// Rows per batch read and scored (default 8192; at least 1).
    pub batch_size: usize,
    /// Bad-row policy (default [`BadRowPolicy::Fail`]).
    pub bad_rows: BadRowPolicy,
    /// At most this many bad rows are listed in the summary (all are counted; default 1000).
    pub max_reported_bad_rows: usize,
    /// Called after each batch with the number of input rows done so far.
    pub progress: Option<Box<dyn FnMut(u64)>>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            bad_rows: BadRowPolicy::Fail,
            max_reported_bad_rows: 1000,
            progress: None,
        }
    }
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("batch_size", &self.batch_size)
            .field("bad_rows", &self.bad_rows)
            .field("max_reported_bad_rows", &self.max_reported_bad_rows)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A row left out of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 0-based data row number in the whole input file.
    pub row: u64,
    /// Why it was left out (names the column).
    pub reason: String,
}

/// What [`score_file`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    /// Data rows read.
    pub rows_in: u64,
    /// Rows scored and written.
    pub rows_scored: u64,
    /// Bad rows (at most [`BatchOptions::max_reported_bad_rows`], in file order).
    pub bad_rows: Vec<BadRow>,
    /// Bad rows in total.
    pub bad_row_count: u64,
    /// The model name.
    pub model: String,
    /// The model version.
    pub version: u64,
}

/// Names of the columns [`score_file`] appends.
pub const PREDICTION_COLUMN: &str = "prediction";
/// See [`PREDICTION_COLUMN`].
pub const PROBABILITY_COLUMN: &str = "probability";
/// See [`PREDICTION_COLUMN`].
pub const VERSION_COLUMN: &str = "model_version";

/// Scores `input` (CSV / TSV / Parquet, by extension) with `predictor` into the Parquet file
/// `output`: the input columns, then `prediction` (the label), `probability` (P(positive)) and
/// `model_version`. Memory is bounded by the batch size. The output appears atomically, only when
/// everything succeeded.
///
/// CSV columns of the signature are parsed by the signature's types (so a bad value is a bad
/// row, not a failed file); other CSV columns are inferred. Probabilities equal
/// [`Predictor::predict`] on the same row, bit for bit.
///
/// # Errors
/// [`ServeError::BadRow`] under [`BadRowPolicy::Fail`]; a missing signature column or one of the
/// wrong type; [`ServeError::Io`] for unreadable or unwritable files; a name clash between the
/// input and the appended columns is [`ServeError::InvalidArgument`].
#[tracing::instrument(name = "score_file", skip_all, fields(input = %input.display(), output = %output.display()))]
pub fn score_file(
    predictor: &Predictor,
    input: &Path,
    output: &Path,
    mut options: BatchOptions,
) -> Result<BatchSummary> {
    if options.batch_size == 0 {
        return Err(ServeError::InvalidArgument {
            what: "batch_size",
            reason: "must be at least 1".to_string(),
        });
    }
    let format = FileFormat::from_path(input).map_err(io)?;
    let is_csv = matches!(format, FileFormat::Csv | FileFormat::Tsv);
    let mut read = ReadOptions::default().with_batch_size(options.batch_size);
    if is_csv {
        let mut csv = CsvOptions::default().with_batch_size(options.batch_size);
        if matches!(format, FileFormat::Tsv) {
            csv = csv.with_delimiter(b'\t');
        }
        for c in predictor.inputs() {
            csv = csv.with_override(c.name.clone(), DataType::Utf8);
        }
        read = read.with_csv(csv);
    }
    let stream = read_path(input, &read).map_err(io)?;

    let mut summary = BatchSummary {
        rows_in: 0,
        rows_scored: 0,
        bad_rows: Vec::new(),
        bad_row_count: 0,
        model: predictor.name().to_string(),
        version: predictor.version(),
    };
    let mut writer: Option<(ParquetFileWriter, SchemaRef)> = None;
    for batch in stream {
        let batch = batch.map_err(io)?;
        let offset = summary.rows_in;
        let n = batch.num_rows();
        summary.rows_in += n as u64;
        let (batch, mut bad) = if is_csv {
            coerce_csv(predictor, &batch)?
        } else {
            (batch, Vec::new())
        };
        for (row, e) in predictor.check_batch(&batch)? {
            bad.push((row, e.to_string()));
        }
        bad.sort_by_key(|(r, _)| *r);
        bad.dedup_by_key(|(r, _)| *r);
        if options.bad_rows == BadRowPolicy::Fail
            && let Some((row, reason)) = bad.first()
        {
            return Err(ServeError::BadRow {
                row: offset + *row as u64,
                reason: reason.clone(),
            });
        }
        let mut keep = vec![true; n];
        for (r, _) in &bad {
            if let Some(k) = keep.get_mut(*r) {
                *k = false;
            }
        }
        // Rows the pipeline itself rejects (e.g. a null reaching a passthrough column).
        let (good, probs) = loop {
            let good = filter(&batch, &keep)?;
            match predictor.proba_unchecked(&good) {
                Ok(p) => break (good, p),
                Err(e) => {
                    let Some(row) = first_failing_row(predictor, &batch, &keep) else {
                        return Err(e);
                    };
                    if options.bad_rows == BadRowPolicy::Fail {
                        return Err(ServeError::BadRow {
                            row: offset + row.0 as u64,
                            reason: row.1,
                        });
                    }
                    if let Some(k) = keep.get_mut(row.0) {
                        *k = false;
                    }
                    bad.push(row);
                }
            }
        };
        bad.sort_by_key(|(r, _)| *r);
        summary.bad_row_count += bad.len() as u64;
        for (row, reason) in bad {
            if summary.bad_rows.len() < options.max_reported_bad_rows {
                summary.bad_rows.push(BadRow {
                    row: offset + row as u64,
                    reason,
                });
            }
        }
        let out = append_predictions(predictor, &good, &probs)?;
        if writer.is_none() {
            let schema = out.schema();
            let w =
                ParquetFileWriter::create(output, schema.clone(), &ParquetWriteOptions::default())
                    .map_err(io)?;
            writer = Some((w, schema));
        }
        if let Some((w, schema)) = writer.as_mut() {
            let out = if out.schema().fields() == schema.fields() {
                out
            } else {
                RecordBatch::try_new(schema.clone(), out.columns().to_vec())
                    .map_err(|e| ServeError::Io(e.to_string()))?
            };
            w.write(&out).map_err(io)?;
        }
        summary.rows_scored += good.num_rows() as u64;
        if let Some(progress) = options.progress.as_mut() {
            progress(summary.rows_in);
        }
    }
    match writer {
        Some((w, _)) => {
            w.finish().map_err(io)?;
        }
        None => {
            // An input without rows: write an empty file with the input columns (from the signature).
            let mut fields: Vec<Field> = predictor
                .inputs()
                .iter()
                .map(|c| Field::new(c.name.clone(), arrow_type(c.kind), true))
                .collect();
            fields.extend(output_fields());
            let schema = Arc::new(Schema::new(fields));
            ParquetFileWriter::create(output, schema, &ParquetWriteOptions::default())
                .and_then(ParquetFileWriter::finish)
                .map_err(io)?;
        }
    }
    tracing::debug!(
        rows_in = summary.rows_in,
        rows_scored = summary.rows_scored,
        bad = summary.bad_row_count,
        "scored"
    );
    Ok(summary)
}

fn io(e: mlops_data::Error) -> ServeError {
    ServeError::Io(e.to_string())
}

fn arrow_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::Float => DataType::Float64,
        ColumnKind::Integer => DataType::Int64,
        ColumnKind::Boolean => DataType::Boolean,
        ColumnKind::Categorical => DataType::Utf8,
    }
}

fn output_fields() -> [Field; 3] {
    [
        Field::new(PREDICTION_COLUMN, DataType::Utf8, false),
        Field::new(PROBABILITY_COLUMN, DataType::Float64, false),
        Field::new(VERSION_COLUMN, DataType::UInt64, false),
    ]
}

fn filter(batch: &RecordBatch, keep: &[bool]) -> Result<RecordBatch> {
    if keep.iter().all(|k| *k) {
        return Ok(batch.clone());
    }
    let mask = BooleanArray::from(keep.to_vec());
    arrow_select::filter::filter_record_batch(batch, &mask)
        .map_err(|e| ServeError::Io(e.to_string()))
}

/// The first kept row the pipeline rejects on its own, with the reason.
fn first_failing_row(
    predictor: &Predictor,
    batch: &RecordBatch,
    keep: &[bool],
) -> Option<(usize, String)> {
    (0..batch.num_rows())
        .filter(|&r| keep.get(r).copied().unwrap_or(false))
        .find_map(|r| {
            predictor
                .proba_unchecked(&batch.slice(r, 1))
                .err()
                .map(|e| (r, e.to_string()))
        })
}

fn append_predictions(
    predictor: &Predictor,
    batch: &RecordBatch,
    probs: &[f64],
) -> Result<RecordBatch> {
    let labels: StringArray = probs
        .iter()
        .map(|&p| Some(predictor.label_for(p).0))
        .collect();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for f in output_fields() {
        if fields.iter().any(|g| g.name() == f.name()) {
            return Err(ServeError::InvalidArgument {
                what: "input",
                reason: format!("the input already has a column named {:?}", f.name()),
            });
        }
        fields.push(f);
    }
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(labels));
    cols.push(Arc::new(Float64Array::from(probs.to_vec())));
    cols.push(Arc::new(UInt64Array::from(vec![
        predictor.version();
        probs.len()
    ])));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| ServeError::Io(e.to_string()))
}

/// Parses the signature columns of a CSV batch (read as text) into the signature's types. A value
/// that does not parse becomes null and its row is reported.
fn coerce_csv(
    predictor: &Predictor,
    batch: &RecordBatch,
) -> Result<(RecordBatch, Vec<(usize, String)>)> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    let mut bad: Vec<(usize, String)> = Vec::new();
    for c in predictor.inputs() {
        let Ok(idx) = schema.index_of(&c.name) else {
            continue; // check_batch reports the missing column
        };
        let Some(array) = cols.get(idx) else { continue };
        if array.data_type() != &DataType::Utf8 {
            continue;
        }
        let text = array.as_string::<i32>();
        let parse_error = |row: usize, v: &str, what: &str| {
            (
                row,
                format!("column {:?}: cannot parse {v:?} as {what}", c.name),
            )
        };
        let parsed: ArrayRef = match c.kind {
            ColumnKind::Float => {
                let mut b = Float64Builder::with_capacity(text.len());
                for (row, v) in text.iter().enumerate() {
                    match v.map(|s| (s, s.trim().parse::<f64>())) {
                        None => b.append_null(),
                        Some((_, Ok(x))) => b.append_value(x),
                        Some((s, Err(_))) => {
                            bad.push(parse_error(row, s, "a number"));
                            b.append_null();
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnKind::Integer => {
                let mut b = Int64Builder::with_capacity(text.len());
                for (row, v) in text.iter().enumerate() {
                    match v.map(|s| (s, s.trim().parse::<i64>())) {
                        None => b.append_null(),
                        Some((_, Ok(x))) => b.append_value(x),
                        Some((s, Err(_))) => {
                            bad.push(parse_error(row, s, "an integer"));
                            b.append_null();
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnKind::Boolean => {
                let mut b = BooleanBuilder::with_capacity(text.len());
                for (row, v) in text.iter().enumerate() {
                    match v.map(|s| (s, s.trim().to_ascii_lowercase())) {
                        None => b.append_null(),
                        Some((_, t)) if t == "true" => b.append_value(true),
                        Some((_, t)) if t == "false" => b.append_value(false),
                        Some((s, _)) => {
                            bad.push(parse_error(row, s, "a boolean"));
                            b.append_null();
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnKind::Categorical => continue,
        };
        if let (Some(f), Some(slot)) = (fields.get_mut(idx), cols.get_mut(idx)) {
            *f = Field::new(c.name.clone(), parsed.data_type().clone(), true);
            *slot = parsed;
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| from_data(e.into()))?;
    Ok((batch, bad))
}
