//! A `ColumnTransformer`-like preprocessing pipeline: column groups, each a list of
//! [`Step`]s applied in order, plus a [`Remainder`] policy for the other columns.
//!
//! The output columns are the groups' outputs in group order, then the remainder columns in
//! schema order. Feature names are the column names (`age`), one-hot columns are
//! `column=category` (`plan=gold`, `plan=__other__`).
//!
//! ```
//! use std::sync::Arc;
//! use mlops_data::arrow::array::{Float64Array, RecordBatch, StringArray};
//! use mlops_data::arrow::{DataType, Field, Schema};
//! use mlops_data::pipeline::Pipeline;
//! use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
//! use mlops_data::BatchStream;
//!
//! # fn main() -> mlops_data::Result<()> {
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("age", DataType::Float64, true),
//!     Field::new("plan", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(Float64Array::from(vec![Some(30.0), None, Some(50.0)])),
//!     Arc::new(StringArray::from(vec![Some("gold"), Some("basic"), None])),
//! ])?;
//! let pipeline = Pipeline::new()
//!     .group("num", ["age"], [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()])
//!     .group("cat", ["plan"], [
//!         Step::impute(ImputeStrategy::MostFrequent),
//!         Step::one_hot(UnknownCategory::Ignore),
//!     ]);
//! let fitted = pipeline.fit(BatchStream::from_batches(schema, vec![batch.clone()]))?;
//! assert_eq!(fitted.feature_names(), ["age", "plan=basic", "plan=gold"]);
//! let x = fitted.transform(&batch)?;
//! assert_eq!(x.data.shape(), &[3, 3]);
//! assert_eq!(x.data[[2, 1]], 1.0); // missing plan imputed with the most frequent (tie → "basic")
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use arrow_array::{ArrayRef, RecordBatch};
use ndarray::{Array2, ArrayViewMut2, Axis, Slice};
use serde::{Deserialize, Serialize};

use crate::transform::work::{
    CategoricalBuilder, Encoded, WorkCol, WorkSet, append_numeric, encode_categorical, expect_kind,
    kind_of,
};
use crate::transform::{CheckedStep, ColumnKind, FittedStep, ParamGuard, ParamsError, Step};
use crate::{BatchStream, Error, FeatureMatrix, Result};

mod row;
pub(crate) mod threads;

pub use row::RowValue;
pub use threads::Threads;

use threads::{columns_by_thread, fan_out, for_each_window};

/// Largest output (in values; 4 GiB) allocated up front from a stream's row hint.
const MAX_HINTED_OUTPUT: usize = 1 << 29;

/// What happens to input columns that no group names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Remainder {
    /// Leave them out (the default, like scikit-learn).
    #[default]
    Drop,
    /// Append the numeric ones (`Int*`, `UInt*`, `Float*`) unchanged, in schema order; other
    /// types are left out. They must have no missing values at transform time.
    PassthroughNumeric,
}

/// A named list of input columns and the steps applied to them in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnGroup {
    /// A name for messages and spans; unique within a pipeline.
    pub name: String,
    /// Input columns, in output order.
    pub columns: Vec<String>,
    /// Steps, applied in order; every step sees every current column of the group.
    pub steps: Vec<Step>,
}

impl ColumnGroup {
    /// A group.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        columns: impl IntoIterator<Item = S>,
        steps: impl IntoIterator<Item = Step>,
    ) -> Self {
        Self {
            name: name.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            steps: steps.into_iter().collect(),
        }
    }
}

/// An unfitted, unchecked pipeline specification.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pipeline {
    groups: Vec<ColumnGroup>,
    remainder: Remainder,
}

impl Pipeline {
    /// An empty pipeline (add groups with [`Pipeline::group`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a column group.
    pub fn group<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        columns: impl IntoIterator<Item = S>,
        steps: impl IntoIterator<Item = Step>,
    ) -> Self {
        self.groups.push(ColumnGroup::new(name, columns, steps));
        self
    }
    /// Adds a prepared column group.
    pub fn with_group(mut self, group: ColumnGroup) -> Self {
        self.groups.push(group);
        self
    }
    /// Sets the remainder policy.
    pub fn remainder(mut self, remainder: Remainder) -> Self {
        self.remainder = remainder;
        self
    }
    /// The groups.
    pub fn groups(&self) -> &[ColumnGroup] {
        &self.groups
    }
    /// Validates the specification and every step's parameters.
    pub fn check(&self) -> std::result::Result<CheckedPipeline, ParamsError> {
        ParamGuard::check(self)
    }
    /// Checks, then fits on `stream`; see [`CheckedPipeline::fit`].
    pub fn fit(&self, stream: BatchStream) -> Result<FittedPipeline> {
        self.check()?.fit(stream)
    }
    /// Checks, then fits on `stream` with `threads`; see [`CheckedPipeline::fit_with`].
    pub fn fit_with(&self, stream: BatchStream, threads: Threads) -> Result<FittedPipeline> {
        self.check()?.fit_with(stream, threads)
    }
}

impl ParamGuard for Pipeline {
    type Checked = CheckedPipeline;
    fn check(&self) -> std::result::Result<CheckedPipeline, ParamsError> {
        if self.groups.is_empty() && self.remainder == Remainder::Drop {
            return Err(ParamsError::EmptyPipeline);
        }
        let mut names = BTreeSet::new();
        let mut groups = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            if !names.insert(g.name.as_str()) {
                return Err(ParamsError::DuplicateGroup {
                    name: g.name.clone(),
                });
            }
            let what = || format!("group {:?}", g.name);
            if g.columns.is_empty() {
                return Err(ParamsError::EmptyColumnList { what: what() });
            }
            let mut seen = BTreeSet::new();
            for c in &g.columns {
                if !seen.insert(c.as_str()) {
                    return Err(ParamsError::DuplicateColumn {
                        what: what(),
                        column: c.clone(),
                    });
                }
            }
            let steps = g
                .steps
                .iter()
                .map(ParamGuard::check)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            groups.push(CheckedGroup {
                name: g.name.clone(),
                columns: g.columns.clone(),
                steps,
            });
        }
        Ok(CheckedPipeline {
            groups,
            remainder: self.remainder,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct CheckedGroup {
    name: String,
    columns: Vec<String>,
    steps: Vec<CheckedStep>,
}

/// A validated pipeline, ready to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedPipeline {
    groups: Vec<CheckedGroup>,
    remainder: Remainder,
}

/// A column materialised for fitting.
enum Materialised {
    Num(Vec<f64>),
    Cat(Encoded<'static>),
}

enum Accumulator {
    Num(Vec<f64>),
    Cat(CategoricalBuilder),
}

impl CheckedPipeline {
    /// Fits every group on `stream`.
    ///
    /// Memory: fitting reads the stream once and materialises **only the columns the groups
    /// reference**, as `f64` (numeric) or dictionary codes (`u32` per row plus the distinct
    /// strings, categorical), because statistics such as the median need all values. Each group
    /// then fits its steps sequentially, each on the previous step's output, like a scikit-learn
    /// `Pipeline`. Remainder columns are not read while fitting.
    ///
    /// Errors: [`Error::MissingColumn`], [`Error::TypeMismatch`], [`Error::EmptyTable`] for a
    /// stream without rows, [`Error::NonFinite`] for an infinite value, missing values reaching an
    /// encoder or a group's output ([`Error::NullValue`] / [`Error::NonFinite`]),
    /// [`Error::AllMissing`], and [`Error::DuplicateColumn`] when two output features share a name
    /// or a column the pipeline reads appears twice in the stream's schema.
    ///
    /// Uses [`Threads::AllCores`]; see [`CheckedPipeline::fit_with`].
    pub fn fit(&self, stream: BatchStream) -> Result<FittedPipeline> {
        self.fit_with(stream, Threads::default())
    }

    /// [`CheckedPipeline::fit`] with `threads`: columns are materialised and groups fitted in
    /// parallel (each column and each group by one thread, so the fitted pipeline is
    /// bit-identical for any thread count, and the error reported is the one the
    /// single-threaded order meets first).
    #[tracing::instrument(name = "pipeline_fit", skip_all, fields(groups = self.groups.len(), rows))]
    pub fn fit_with(&self, stream: BatchStream, threads: Threads) -> Result<FittedPipeline> {
        let schema = stream.schema();
        let available =
            || -> Vec<String> { schema.fields().iter().map(|f| f.name().clone()).collect() };
        let mut inputs: Vec<InputColumn> = Vec::new();
        for g in &self.groups {
            for c in &g.columns {
                if inputs.iter().any(|i| &i.name == c) {
                    continue;
                }
                let field = schema
                    .field_with_name(c)
                    .map_err(|_| Error::MissingColumn {
                        column: c.clone(),
                        available: available(),
                    })?;
                // A column read by the pipeline must be unambiguous (an Arrow schema built by
                // hand may repeat a name; the readers reject that already).
                if schema.fields().iter().filter(|f| f.name() == c).count() > 1 {
                    return Err(Error::DuplicateColumn { column: c.clone() });
                }
                let kind = kind_of(field.data_type()).ok_or_else(|| Error::TypeMismatch {
                    column: c.clone(),
                    expected: "numeric (Int*, UInt*, Float*) or categorical (Utf8, LargeUtf8, \
                               Utf8View, Boolean, Dictionary of strings)"
                        .to_string(),
                    found: field.data_type().to_string(),
                })?;
                inputs.push(InputColumn {
                    name: c.clone(),
                    kind,
                });
            }
        }
        let remainder: Vec<String> = match self.remainder {
            Remainder::Drop => Vec::new(),
            Remainder::PassthroughNumeric => schema
                .fields()
                .iter()
                .filter(|f| {
                    !inputs.iter().any(|i| &i.name == f.name())
                        && kind_of(f.data_type()) == Some(ColumnKind::Numeric)
                })
                .map(|f| f.name().clone())
                .collect(),
        };

        // Read the stream once, materialising the referenced columns.
        let mut acc: Vec<Accumulator> = inputs
            .iter()
            .map(|i| match i.kind {
                ColumnKind::Numeric => Accumulator::Num(Vec::new()),
                ColumnKind::Categorical => Accumulator::Cat(CategoricalBuilder::default()),
            })
            .collect();
        let rows = {
            let _read = tracing::debug_span!("materialise", columns = inputs.len()).entered();
            for_each_window(stream, threads, |window, window_rows, first_row| {
                materialise(
                    &inputs,
                    &mut acc,
                    window,
                    first_row as u64,
                    threads.for_rows(window_rows),
                )
            })? as u64
        };
        tracing::Span::current().record("rows", rows);
        if rows == 0 {
            return Err(Error::EmptyTable { path: None });
        }
        let mut mats: Vec<Option<Materialised>> = acc
            .into_iter()
            .map(|a| {
                Some(match a {
                    Accumulator::Num(v) => Materialised::Num(v),
                    Accumulator::Cat(b) => Materialised::Cat(b.finish()),
                })
            })
            .collect();
        // How many groups still need each column: the last one takes it instead of cloning.
        let mut uses: Vec<usize> = inputs
            .iter()
            .map(|i| {
                self.groups
                    .iter()
                    .filter(|g| g.columns.contains(&i.name))
                    .count()
            })
            .collect();

        let mut sets = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let mut cols = Vec::with_capacity(g.columns.len());
            for c in &g.columns {
                let idx = inputs
                    .iter()
                    .position(|i| &i.name == c)
                    .ok_or_else(|| internal(c))?;
                let remaining = uses.get_mut(idx).ok_or_else(|| internal(c))?;
                *remaining = remaining.saturating_sub(1);
                let slot = mats.get_mut(idx).ok_or_else(|| internal(c))?;
                let mat = if *remaining == 0 {
                    slot.take()
                } else {
                    slot.as_ref().map(|m| match m {
                        Materialised::Num(v) => Materialised::Num(v.clone()),
                        Materialised::Cat((d, k)) => Materialised::Cat((d.clone(), k.clone())),
                    })
                }
                .ok_or_else(|| internal(c))?;
                cols.push(match mat {
                    Materialised::Num(values) => WorkCol::Num {
                        name: c.clone(),
                        values,
                    },
                    Materialised::Cat((dict, codes)) => WorkCol::Cat {
                        name: c.clone(),
                        dict,
                        codes,
                    },
                });
            }
            sets.push((
                sets.len(),
                g,
                WorkSet {
                    cols,
                    row_offset: 0,
                    threads: 1,
                },
            ));
        }
        // Largest groups first, so the last one to finish is a small one.
        sets.sort_by_key(|(i, g, set)| {
            (
                std::cmp::Reverse(set.cols.len().saturating_mul(g.steps.len())),
                *i,
            )
        });
        let usable = threads.for_rows(usize::try_from(rows).unwrap_or(usize::MAX));
        // Groups balanced enough to keep every thread busy (none larger than a thread's share):
        // a group per thread. Otherwise one group at a time, its steps sharing their columns
        // among the threads.
        let cost = |(_, g, set): &(usize, &CheckedGroup, WorkSet<'_>)| {
            set.cols.len().saturating_mul(g.steps.len().max(1))
        };
        let total: usize = sets.iter().map(cost).sum();
        let largest = sets.iter().map(cost).max().unwrap_or(0);
        let group_threads = if sets.len() >= usable && largest.saturating_mul(usable) <= total {
            usable
        } else {
            1
        };
        for (_, _, set) in &mut sets {
            set.threads = if group_threads == 1 { usable } else { 1 };
        }
        let mut fitted = fan_out(sets, group_threads, |(i, g, mut set)| {
            (i, fit_group(g, &mut set))
        })?;
        // Back in pipeline order; the first error in that order wins, as when fitted one by one.
        fitted.sort_by_key(|(i, _)| *i);
        let groups = fitted
            .into_iter()
            .map(|(_, g)| g)
            .collect::<Result<Vec<FittedGroup>>>()?;

        let mut feature_names: Vec<String> = groups
            .iter()
            .flat_map(|g| g.feature_names.iter().cloned())
            .collect();
        feature_names.extend(remainder.iter().cloned());
        let mut seen = BTreeSet::new();
        for n in &feature_names {
            if !seen.insert(n.as_str()) {
                return Err(Error::DuplicateColumn { column: n.clone() });
            }
        }
        for r in &remainder {
            inputs.push(InputColumn {
                name: r.clone(),
                kind: ColumnKind::Numeric,
            });
        }
        Ok(FittedPipeline {
            inputs,
            groups,
            remainder,
            feature_names,
        })
    }
}

/// Fits one group's steps in order, each on the previous step's output.
fn fit_group(g: &CheckedGroup, set: &mut WorkSet<'_>) -> Result<FittedGroup> {
    let _span = tracing::debug_span!("fit_group", group = %g.name).entered();
    let mut steps = Vec::with_capacity(g.steps.len());
    for step in &g.steps {
        let fitted = step.fit(set)?;
        fitted.transform(set)?;
        steps.push(fitted);
    }
    let feature_names = set.check_output()?;
    Ok(FittedGroup {
        name: g.name.clone(),
        columns: g.columns.clone(),
        steps,
        feature_names,
    })
}

/// Appends a window of batches to the accumulators, the columns shared among `threads` threads
/// (each column by one thread, batches in order). Every thread walks its columns batch by batch,
/// so the error returned is the first in (batch, column) order, as in a single-threaded walk.
fn materialise(
    inputs: &[InputColumn],
    acc: &mut [Accumulator],
    window: &[RecordBatch],
    first_row: u64,
    threads: usize,
) -> Result<()> {
    let mut offsets = Vec::with_capacity(window.len());
    let mut next = first_row;
    for b in window {
        offsets.push(next);
        next = next.saturating_add(b.num_rows() as u64);
    }
    // Categorical columns cost several times a numeric one (strings are hashed).
    let columns = inputs
        .iter()
        .zip(acc.iter_mut())
        .map(|(input, a)| {
            let cost = match input.kind {
                ColumnKind::Numeric => 1,
                ColumnKind::Categorical => 4,
            };
            (cost, (input, a))
        })
        .collect();
    columns_by_thread(columns, window, threads, |b, batch, _, (input, a)| {
        let array = column(batch, &input.name)?;
        expect_kind(&input.name, array.data_type(), input.kind)?;
        let offset = offsets.get(b).copied().unwrap_or(first_row);
        match a {
            Accumulator::Num(v) => append_numeric(array, &input.name, offset, v),
            Accumulator::Cat(c) => c.append(array, &input.name),
        }
    })
}

fn internal(column: &str) -> Error {
    Error::Incompatible(format!("internal: column {column:?} was not materialised"))
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::MissingColumn {
            column: name.to_string(),
            available: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        })
}

/// An input column a fitted pipeline reads, with the kind it was fitted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputColumn {
    /// Column name.
    pub name: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
}

/// One fitted column group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedGroup {
    name: String,
    columns: Vec<String>,
    steps: Vec<FittedStep>,
    feature_names: Vec<String>,
}

impl FittedGroup {
    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its input columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    /// Its fitted steps, in order.
    pub fn steps(&self) -> &[FittedStep] {
        &self.steps
    }
    /// Its output feature names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
}

/// A fitted pipeline: the only form that transforms. Serialisable (for example with rmp-serde,
/// see [`FittedPipeline::to_bytes`]); serialising, deserialising and serialising again gives the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPipeline {
    inputs: Vec<InputColumn>,
    groups: Vec<FittedGroup>,
    remainder: Vec<String>,
    feature_names: Vec<String>,
}

impl FittedPipeline {
    /// Output feature names, one per matrix column.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    /// The input columns [`FittedPipeline::transform`] reads: group columns (first appearance
    /// order), then passthrough remainder columns.
    pub fn input_columns(&self) -> Vec<&str> {
        self.inputs.iter().map(|i| i.name.as_str()).collect()
    }
    /// The input columns with the kind each was fitted on.
    pub fn inputs(&self) -> &[InputColumn] {
        &self.inputs
    }
    /// The fitted groups.
    pub fn groups(&self) -> &[FittedGroup] {
        &self.groups
    }
    /// Passthrough remainder columns.
    pub fn remainder_columns(&self) -> &[String] {
        &self.remainder
    }

    /// Transforms one batch (pure; a batch of 0 rows gives a 0-row matrix). Rows in errors are
    /// 0-based within the batch.
    pub fn transform(&self, batch: &RecordBatch) -> Result<FeatureMatrix> {
        let mut data = Array2::zeros((batch.num_rows(), self.feature_names.len()));
        self.transform_into(batch, 0, data.view_mut(), None)?;
        Ok(FeatureMatrix {
            data,
            names: self.feature_names.clone(),
        })
    }

    /// Transforms every batch of a stream into one matrix (rows concatenated; an empty stream
    /// gives a 0-row matrix). Rows in errors are counted over the whole stream.
    ///
    /// Uses [`Threads::AllCores`]; see [`FittedPipeline::transform_stream_with`].
    pub fn transform_stream(&self, stream: BatchStream) -> Result<FeatureMatrix> {
        self.transform_stream_with(stream, Threads::default())
    }

    /// [`FittedPipeline::transform_stream`] with `threads`: batches are gathered into windows of
    /// about 65,536 rows per thread, and each window's rows are cut into one contiguous range
    /// per thread, written in place into the output. The matrix is bit-identical for any thread
    /// count, and the error returned is the one a single-threaded pass meets first.
    #[tracing::instrument(name = "pipeline_transform_stream", skip_all, fields(rows))]
    pub fn transform_stream_with(
        &self,
        stream: BatchStream,
        threads: Threads,
    ) -> Result<FeatureMatrix> {
        let ncols = self.feature_names.len();
        // With a trusted row count the output is allocated once, zeroed lazily by the OS, so
        // the threads fault its pages in as they write their ranges instead of this thread
        // zero-filling every window first.
        let mut buf: Vec<f64> = match stream
            .rows_hint()
            .and_then(|r| usize::try_from(r).ok())
            .and_then(|r| r.checked_mul(ncols))
        {
            Some(len) if len <= MAX_HINTED_OUTPUT => vec![0.0; len],
            _ => Vec::new(),
        };
        let pool = ScratchPool::default();
        let rows = for_each_window(stream, threads, |window, window_rows, first_row| {
            self.transform_window(window, window_rows, first_row, &mut buf, threads, &pool)
        })?;
        tracing::Span::current().record("rows", rows);
        // A hint larger than the stream leaves unused (untouched) room at the end.
        let used = rows.checked_mul(ncols).ok_or_else(too_large)?;
        if buf.len() > used {
            buf.truncate(used);
            buf.shrink_to_fit();
        }
        let data = Array2::from_shape_vec((rows, ncols), buf)
            .map_err(|e| Error::Incompatible(e.to_string()))?;
        Ok(FeatureMatrix {
            data,
            names: self.feature_names.clone(),
        })
    }

    /// Transforms a window of `window_rows` rows whose first row is `first_row`, appending it to
    /// `buf` (written in place at the end of one growing buffer: the output is never copied
    /// batch by batch).
    fn transform_window(
        &self,
        window: &[RecordBatch],
        window_rows: usize,
        first_row: usize,
        buf: &mut Vec<f64>,
        threads: Threads,
        pool: &ScratchPool,
    ) -> Result<()> {
        let ncols = self.feature_names.len();
        let start = first_row.checked_mul(ncols).ok_or_else(too_large)?;
        let len = window_rows.checked_mul(ncols).ok_or_else(too_large)?;
        let end = start.checked_add(len).ok_or_else(too_large)?;
        if buf.len() < end {
            buf.resize(end, 0.0);
        }
        let mut tail = buf.get_mut(start..end).unwrap_or_default();
        // One contiguous row range per thread; a range may cut a batch (zero-copy slices).
        let parts = threads.for_rows(window_rows);
        let per_part = window_rows.div_ceil(parts).max(1);
        let mut work: Vec<(Pieces, &mut [f64])> = Vec::with_capacity(parts);
        let mut pieces: Pieces = Vec::new();
        let mut piece_rows = 0usize;
        let mut row = first_row;
        for batch in window {
            let mut offset = 0usize;
            while offset < batch.num_rows() {
                let take = (batch.num_rows() - offset).min(per_part - piece_rows);
                pieces.push((batch.slice(offset, take), row as u64));
                offset += take;
                row += take;
                piece_rows += take;
                if piece_rows == per_part {
                    let (head, rest) = split_rows(std::mem::take(&mut tail), piece_rows, ncols)?;
                    work.push((std::mem::take(&mut pieces), head));
                    tail = rest;
                    piece_rows = 0;
                }
            }
        }
        if !pieces.is_empty() {
            work.push((pieces, tail));
        }
        let results = fan_out(work, parts, |(pieces, mut out)| {
            for (batch, row_offset) in pieces {
                let n = batch.num_rows();
                let (head, rest) = split_rows(std::mem::take(&mut out), n, ncols)?;
                out = rest;
                let view = ArrayViewMut2::from_shape((n, ncols), head)
                    .map_err(|e| Error::Incompatible(e.to_string()))?;
                self.transform_into(&batch, row_offset, view, Some(pool))?;
            }
            Ok(())
        })?;
        let Some(first) = results.into_iter().find_map(Result::err) else {
            return Ok(());
        };
        // A thread's range may cut a batch, and a batch reports its errors in group and column
        // order: replay the window batch by batch so the error is the one a single-threaded
        // pass reports (errors are the rare path; this costs one more pass over the window).
        if parts > 1 {
            let mut row = first_row as u64;
            for batch in window {
                let mut scratch = Array2::zeros((batch.num_rows(), ncols));
                self.transform_into(batch, row, scratch.view_mut(), None)?;
                row = row.saturating_add(batch.num_rows() as u64);
            }
        }
        Err(first)
    }

    fn input_kind(&self, name: &str) -> Result<ColumnKind> {
        self.inputs
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.kind)
            .ok_or_else(|| internal(name))
    }

    fn transform_into(
        &self,
        batch: &RecordBatch,
        row_offset: u64,
        mut out: ArrayViewMut2<'_, f64>,
        pool: Option<&ScratchPool>,
    ) -> Result<()> {
        let _span = tracing::debug_span!("pipeline_transform", rows = batch.num_rows(), row_offset)
            .entered();
        let n = batch.num_rows();
        if out.ncols() != self.feature_names.len() || out.nrows() != n {
            return Err(Error::Incompatible("output shape mismatch".to_string()));
        }
        let mut offset = 0usize;
        for g in &self.groups {
            let mut cols = Vec::with_capacity(g.columns.len());
            for c in &g.columns {
                let array = column(batch, c)?;
                let kind = self.input_kind(c)?;
                expect_kind(c, array.data_type(), kind)?;
                cols.push(match kind {
                    ColumnKind::Numeric => {
                        let mut values = pool.map(ScratchPool::take).unwrap_or_default();
                        values.reserve(n);
                        append_numeric(array, c, row_offset, &mut values)?;
                        WorkCol::Num {
                            name: c.clone(),
                            values,
                        }
                    }
                    ColumnKind::Categorical => {
                        let (dict, codes) = encode_categorical(array, c)?;
                        WorkCol::Cat {
                            name: c.clone(),
                            dict,
                            codes,
                        }
                    }
                });
            }
            let mut set = WorkSet {
                cols,
                row_offset,
                threads: 1,
            };
            let mut steps = g.steps.iter().peekable();
            while let Some(step) = steps.next() {
                // An imputer followed by a standard scaler: one pass instead of two.
                if let (FittedStep::Imputer(imputer), Some(FittedStep::StandardScaler(scaler))) =
                    (step, steps.peek())
                    && scaler.transform_imputed(imputer, &mut set)
                {
                    steps.next();
                    continue;
                }
                step.transform(&mut set)?;
            }
            offset = write_block(&set, &mut out, offset, g.feature_names.len())?;
            if let Some(pool) = pool {
                pool.give(set.cols);
            }
        }
        for r in &self.remainder {
            let array = column(batch, r)?;
            expect_kind(r, array.data_type(), ColumnKind::Numeric)?;
            let mut values = Vec::with_capacity(n);
            append_numeric(array, r, row_offset, &mut values)?;
            let set = WorkSet {
                cols: vec![WorkCol::Num {
                    name: r.clone(),
                    values,
                }],
                row_offset,
                threads: 1,
            };
            offset = write_block(&set, &mut out, offset, 1)?;
        }
        if offset != out.ncols() {
            return Err(Error::Incompatible(format!(
                "pipeline produced {offset} column(s), expected {}",
                out.ncols()
            )));
        }
        Ok(())
    }

    /// Serialises with MessagePack (rmp-serde, named fields).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec_named(self).map_err(|e| Error::Serialization(e.to_string()))
    }

    /// Deserialises what [`FittedPipeline::to_bytes`] wrote. Malformed bytes are an error, and a
    /// pipeline whose parts do not line up fails in `transform` with [`Error::Incompatible`]
    /// rather than panicking.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        rmp_serde::from_slice(bytes).map_err(|e| Error::Serialization(e.to_string()))
    }
}

/// Numeric working columns kept between the pieces of a window, so that transforming a stream
/// does not allocate (and fault in) fresh column buffers for every batch.
#[derive(Default)]
struct ScratchPool(std::sync::Mutex<Vec<Vec<f64>>>);

impl ScratchPool {
    /// Most buffers kept.
    const MAX: usize = 1024;

    /// An empty buffer, reused when one is free.
    fn take(&self) -> Vec<f64> {
        let mut v = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        v.clear();
        v
    }

    /// Returns the numeric buffers of a finished group.
    fn give(&self, cols: Vec<WorkCol<'_>>) {
        if let Ok(mut p) = self.0.lock() {
            for c in cols {
                if let WorkCol::Num { values, .. } = c
                    && p.len() < Self::MAX
                {
                    p.push(values);
                }
            }
        }
    }
}

/// Batch slices with the stream row number of their first row.
type Pieces = Vec<(RecordBatch, u64)>;

/// Splits the first `rows` rows of `ncols` columns off a row-major buffer.
fn split_rows(buf: &mut [f64], rows: usize, ncols: usize) -> Result<(&mut [f64], &mut [f64])> {
    let at = rows.checked_mul(ncols).ok_or_else(too_large)?;
    if at > buf.len() {
        return Err(Error::Incompatible(
            "internal: output buffer shorter than its rows".to_string(),
        ));
    }
    Ok(buf.split_at_mut(at))
}

fn too_large() -> Error {
    Error::Incompatible("feature matrix too large".to_string())
}

/// Writes a group's output at `offset`; returns the next offset.
fn write_block(
    set: &WorkSet<'_>,
    out: &mut ArrayViewMut2<'_, f64>,
    offset: usize,
    width: usize,
) -> Result<usize> {
    let end = offset
        .checked_add(width)
        .filter(|&e| e <= out.ncols())
        .ok_or_else(|| Error::Incompatible("fitted pipeline output width mismatch".to_string()))?;
    let mut view = out.slice_axis_mut(Axis(1), Slice::from(offset..end));
    set.write_output(&mut view)?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, DictionaryArray, Float32Array, Float64Array, Int64Array, LargeStringArray,
        StringArray, types::Int16Type,
    };
    use arrow_schema::{DataType, Field, Schema, SchemaRef};

    use super::*;
    use crate::transform::{
        ImputeStrategy, ImputerParams, OneHotEncoderParams, OrdinalUnknown, UnknownCategory,
    };

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("age", DataType::Float64, true),
            Field::new("visits", DataType::Int64, true),
            Field::new("plan", DataType::Utf8, true),
            Field::new("score", DataType::Float32, false),
            Field::new("id", DataType::Utf8, false),
        ]))
    }

    fn batch(
        age: Vec<Option<f64>>,
        visits: Vec<Option<i64>>,
        plan: Vec<Option<&str>>,
    ) -> RecordBatch {
        let n = age.len();
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Float64Array::from(age)),
                Arc::new(Int64Array::from(visits)),
                Arc::new(StringArray::from(plan)),
                Arc::new(Float32Array::from(
                    (0..n).map(|i| i as f32).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn train() -> RecordBatch {
        batch(
            vec![Some(20.0), None, Some(40.0), Some(f64::NAN), Some(60.0)],
            vec![Some(1), Some(2), None, Some(2), Some(5)],
            vec![
                Some("gold"),
                None,
                Some("basic"),
                Some("gold"),
                Some("silver"),
            ],
        )
    }

    fn stream(batches: Vec<RecordBatch>) -> BatchStream {
        BatchStream::from_batches(schema(), batches)
    }

    fn pipeline() -> Pipeline {
        Pipeline::new()
            .group(
                "num",
                ["age", "visits"],
                [
                    Step::impute(ImputeStrategy::Median),
                    Step::standard_scaler(),
                ],
            )
            .group(
                "cat",
                ["plan"],
                [
                    Step::impute(ImputeStrategy::MostFrequent),
                    Step::one_hot(UnknownCategory::Ignore),
                ],
            )
    }

    #[test]
    fn check_errors() {
        assert_eq!(
            Pipeline::new().check().unwrap_err(),
            ParamsError::EmptyPipeline
        );
        assert!(
            Pipeline::new()
                .remainder(Remainder::PassthroughNumeric)
                .check()
                .is_ok()
        );
        assert!(matches!(
            Pipeline::new()
                .group("a", ["x"], [])
                .group("a", ["y"], [])
                .check()
                .unwrap_err(),
            ParamsError::DuplicateGroup { .. }
        ));
        assert!(matches!(
            Pipeline::new()
                .group("a", Vec::<String>::new(), [])
                .check()
                .unwrap_err(),
            ParamsError::EmptyColumnList { .. }
        ));
        assert!(matches!(
            Pipeline::new()
                .group("a", ["x", "x"], [])
                .check()
                .unwrap_err(),
            ParamsError::DuplicateColumn { .. }
        ));
        assert!(matches!(
            Pipeline::new()
                .group("a", ["x"], [Step::min_max_scaler(1.0, 0.0)])
                .check()
                .unwrap_err(),
            ParamsError::InvalidFeatureRange { .. }
        ));
        // fit checks first and reports an InvalidParam.
        let e = Pipeline::new()
            .group("a", ["age"], [Step::clip(None, None)])
            .fit(stream(vec![train()]))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidParam { .. }));
    }

    #[test]
    fn fit_transform_names_and_values() {
        let fitted = pipeline().fit(stream(vec![train()])).unwrap();
        assert_eq!(
            fitted.feature_names(),
            ["age", "visits", "plan=basic", "plan=gold", "plan=silver"]
        );
        assert_eq!(fitted.input_columns(), ["age", "visits", "plan"]);
        let x = fitted.transform(&train()).unwrap();
        assert_eq!(x.names, fitted.feature_names());
        assert_eq!(x.data.shape(), &[5, 5]);
        // age median of 20, 40, 60 = 40 -> imputed rows 1 and 3 equal the centre of the data.
        assert_eq!(x.data[[1, 0]], x.data[[2, 0]]);
        assert_eq!(x.data[[3, 0]], x.data[[2, 0]]);
        let col0: f64 = x.data.column(0).sum();
        assert!(col0.abs() < 1e-12);
        // plan: missing -> most frequent "gold".
        assert_eq!(x.data.row(1).to_vec()[2..], [0.0, 1.0, 0.0]);
        assert_eq!(x.data.row(4).to_vec()[2..], [0.0, 0.0, 1.0]);
    }

    #[test]
    fn multi_batch_fit_equals_single_batch_fit() {
        let one = pipeline().fit(stream(vec![train()])).unwrap();
        let t = train();
        let two = pipeline()
            .fit(stream(vec![t.slice(0, 2), t.slice(2, 0), t.slice(2, 3)]))
            .unwrap();
        assert_eq!(one, two);
        let a = one.transform(&t).unwrap();
        let b = one
            .transform_stream(stream(vec![t.slice(0, 3), t.slice(3, 2)]))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn zero_row_batch_and_empty_stream() {
        let fitted = pipeline().fit(stream(vec![train()])).unwrap();
        let x = fitted.transform(&train().slice(0, 0)).unwrap();
        assert_eq!(x.data.shape(), &[0, 5]);
        let x = fitted.transform_stream(stream(vec![])).unwrap();
        assert_eq!(x.data.shape(), &[0, 5]);
        let e = pipeline().fit(stream(vec![])).unwrap_err();
        assert!(matches!(e, Error::EmptyTable { .. }));
        let e = pipeline()
            .fit(stream(vec![train().slice(0, 0)]))
            .unwrap_err();
        assert!(matches!(e, Error::EmptyTable { .. }));
    }

    #[test]
    fn missing_column_and_type_mismatch() {
        let e = Pipeline::new()
            .group("g", ["nope"], [])
            .fit(stream(vec![train()]))
            .unwrap_err();
        assert!(
            matches!(e, Error::MissingColumn { ref column, ref available } if column == "nope" && available.len() == 5)
        );
        let e = Pipeline::new()
            .group("g", ["plan"], [Step::standard_scaler()])
            .fit(stream(vec![train()]))
            .unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { ref column, .. } if column == "plan"));

        // At transform: a batch without the column, and one with the wrong type.
        let fitted = pipeline().fit(stream(vec![train()])).unwrap();
        let s = Arc::new(Schema::new(vec![Field::new(
            "age",
            DataType::Float64,
            true,
        )]));
        let b = RecordBatch::try_new(s, vec![Arc::new(Float64Array::from(vec![1.0]))]).unwrap();
        assert!(matches!(
            fitted.transform(&b).unwrap_err(),
            Error::MissingColumn { ref column, .. } if column == "visits"
        ));
        let s = Arc::new(Schema::new(vec![
            Field::new("age", DataType::Utf8, true),
            Field::new("visits", DataType::Int64, true),
            Field::new("plan", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(
            s,
            vec![
                Arc::new(StringArray::from(vec!["1"])),
                Arc::new(Int64Array::from(vec![1])),
                Arc::new(StringArray::from(vec!["gold"])),
            ],
        )
        .unwrap();
        assert!(matches!(
            fitted.transform(&b).unwrap_err(),
            Error::TypeMismatch { ref column, .. } if column == "age"
        ));
    }

    #[test]
    fn nulls_nan_and_inf_without_imputer() {
        let p = Pipeline::new().group("g", ["age"], [Step::standard_scaler()]);
        // Null at row 1 of the second batch -> global row 3.
        let t = train();
        let e = p
            .fit(stream(vec![t.slice(4, 1), t.slice(4, 1), t.slice(0, 2)]))
            .unwrap_err();
        assert!(
            matches!(e, Error::NullValue { ref column, row: 3 } if column == "age"),
            "{e:?}"
        );
        let e = p.fit(stream(vec![t.slice(2, 2)])).unwrap_err();
        assert!(matches!(e, Error::NonFinite { row: 1, value, .. } if value.is_nan()));
        let inf = batch(
            vec![Some(1.0), Some(f64::INFINITY)],
            vec![Some(1); 2],
            vec![Some("a"); 2],
        );
        let e = p.fit(stream(vec![inf.clone()])).unwrap_err();
        assert!(matches!(e, Error::NonFinite { row: 1, value, .. } if value.is_infinite()));

        // Categorical null reaching an encoder.
        let p = Pipeline::new().group("g", ["plan"], [Step::one_hot(UnknownCategory::Ignore)]);
        let e = p.fit(stream(vec![train()])).unwrap_err();
        assert!(matches!(e, Error::NullValue { ref column, row: 1 } if column == "plan"));

        // At transform time (imputer fitted on clean data does fill; scaler alone does not).
        let clean = batch(
            vec![Some(1.0), Some(3.0)],
            vec![Some(1); 2],
            vec![Some("a"); 2],
        );
        let f = Pipeline::new()
            .group("g", ["age"], [Step::standard_scaler()])
            .fit(stream(vec![clean]))
            .unwrap();
        let e = f.transform(&train()).unwrap_err();
        assert!(matches!(e, Error::NullValue { row: 1, .. }));
        let e = f.transform(&inf).unwrap_err();
        assert!(matches!(e, Error::NonFinite { row: 1, .. }));
    }

    #[test]
    fn unseen_category_policies_end_to_end() {
        let test = batch(
            vec![Some(1.0); 3],
            vec![Some(1); 3],
            vec![Some("gold"), Some("platinum"), None],
        );
        let mk = |u| {
            Pipeline::new()
                .group(
                    "cat",
                    ["plan"],
                    [
                        Step::impute(ImputeStrategy::Constant),
                        Step::OneHot(
                            OneHotEncoderParams::default()
                                .unknown(u)
                                .max_categories(Some(3)),
                        ),
                    ],
                )
                .fit(stream(vec![train()]))
                .unwrap()
        };
        let e = mk(UnknownCategory::Error).transform(&test).unwrap_err();
        assert!(
            matches!(e, Error::UnseenCategory { ref value, row: 1, .. } if value == "platinum")
        );
        let f = mk(UnknownCategory::MapToOther);
        // train after imputation: gold 2, basic 1, silver 1, missing_value 1 -> keep gold and the
        // later tied category (silver); basic and missing_value go to __other__.
        assert_eq!(
            f.feature_names(),
            ["plan=gold", "plan=silver", "plan=__other__"]
        );
        let x = f.transform(&test).unwrap();
        assert_eq!(
            x.data,
            ndarray::array![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
        );
        let x = mk(UnknownCategory::Ignore).transform(&test).unwrap();
        // Ignore: unseen -> all zeros, even though an other column exists for infrequent ones.
        assert_eq!(
            x.data,
            ndarray::array![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
        );
    }

    #[test]
    fn remainder_passthrough_numeric_only() {
        let f = Pipeline::new()
            .group(
                "cat",
                ["plan"],
                [
                    Step::impute(ImputeStrategy::MostFrequent),
                    Step::ordinal(OrdinalUnknown::Code(-1.0)),
                ],
            )
            .group("v", ["visits"], [Step::impute(ImputeStrategy::Constant)])
            .remainder(Remainder::PassthroughNumeric)
            .fit(stream(vec![train()]))
            .unwrap();
        assert_eq!(f.feature_names(), ["plan", "visits", "age", "score"]);
        assert_eq!(f.remainder_columns(), ["age", "score"]);
        // age has nulls: passthrough cannot output them.
        let e = f.transform(&train()).unwrap_err();
        assert!(matches!(e, Error::NullValue { ref column, row: 1 } if column == "age"));
        let ok = batch(
            vec![Some(7.0); 2],
            vec![None, Some(3)],
            vec![Some("zzz"), Some("gold")],
        );
        let x = f.transform(&ok).unwrap();
        assert_eq!(
            x.data,
            ndarray::array![[-1.0, 0.0, 7.0, 0.0], [1.0, 3.0, 7.0, 1.0]]
        );
    }

    #[test]
    fn categorical_input_types_agree() {
        let plan = vec![
            Some("gold"),
            None,
            Some("basic"),
            Some("gold"),
            Some("silver"),
        ];
        let s =
            |dt: DataType| Arc::new(Schema::new(vec![Field::new("plan", dt, true)])) as SchemaRef;
        let utf8 = RecordBatch::try_new(
            s(DataType::Utf8),
            vec![Arc::new(StringArray::from(plan.clone()))],
        )
        .unwrap();
        let large = RecordBatch::try_new(
            s(DataType::LargeUtf8),
            vec![Arc::new(LargeStringArray::from(plan.clone()))],
        )
        .unwrap();
        let dict: DictionaryArray<Int16Type> = plan.iter().copied().collect();
        let dict = RecordBatch::try_new(
            s(DataType::Dictionary(
                Box::new(DataType::Int16),
                Box::new(DataType::Utf8),
            )),
            vec![Arc::new(dict)],
        )
        .unwrap();
        let p = Pipeline::new().group(
            "cat",
            ["plan"],
            [
                Step::Impute(ImputerParams::new(ImputeStrategy::Constant).fill_text("none")),
                Step::one_hot(UnknownCategory::Error),
            ],
        );
        let fit = |b: &RecordBatch| {
            p.fit(BatchStream::from_batches(b.schema(), vec![b.clone()]))
                .unwrap()
        };
        let (fu, fl, fd) = (fit(&utf8), fit(&large), fit(&dict));
        assert_eq!(fu.groups(), fl.groups());
        assert_eq!(fu.groups(), fd.groups());
        let x = fu.transform(&utf8).unwrap();
        assert_eq!(fu.transform(&large).unwrap(), x);
        assert_eq!(fu.transform(&dict).unwrap(), x);
        assert_eq!(
            fu.feature_names(),
            ["plan=basic", "plan=gold", "plan=none", "plan=silver"]
        );

        let b = RecordBatch::try_new(
            s(DataType::Boolean),
            vec![Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(false),
            ]))],
        )
        .unwrap();
        let f = fit(&b);
        assert_eq!(f.feature_names(), ["plan=false", "plan=none", "plan=true"]);
        assert_eq!(
            f.transform(&b).unwrap().data,
            ndarray::array![[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
        );
    }

    #[test]
    fn serde_round_trip_is_byte_identical() {
        let fitted = Pipeline::new()
            .group(
                "num",
                ["age", "visits"],
                [
                    Step::impute(ImputeStrategy::Mean),
                    Step::clip(Some(0.0), None),
                    Step::log1p(),
                    Step::min_max_scaler(-1.0, 1.0),
                ],
            )
            .group(
                "cat",
                ["plan"],
                [
                    Step::impute(ImputeStrategy::MostFrequent),
                    Step::OneHot(
                        OneHotEncoderParams::default()
                            .unknown(UnknownCategory::MapToOther)
                            .drop_first(true),
                    ),
                    Step::drop(["plan=__other__"]),
                    Step::standard_scaler(),
                ],
            )
            .remainder(Remainder::PassthroughNumeric)
            .fit(stream(vec![train()]))
            .unwrap();
        let bytes = fitted.to_bytes().unwrap();
        let back = FittedPipeline::from_bytes(&bytes).unwrap();
        assert_eq!(back, fitted);
        assert_eq!(back.to_bytes().unwrap(), bytes);
        let ok = batch(
            vec![Some(7.0), None],
            vec![None, Some(3)],
            vec![Some("x"), Some("gold")],
        );
        assert_eq!(back.transform(&ok).unwrap(), fitted.transform(&ok).unwrap());
        assert!(FittedPipeline::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(matches!(
            FittedPipeline::from_bytes(b"garbage"),
            Err(Error::Serialization(_))
        ));
    }

    #[test]
    fn pipeline_spec_round_trips_through_json_and_msgpack() {
        let p = pipeline().remainder(Remainder::PassthroughNumeric);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Pipeline>(&json).unwrap(), p);
        let bytes = rmp_serde::to_vec(&p).unwrap();
        assert_eq!(rmp_serde::from_slice::<Pipeline>(&bytes).unwrap(), p);
        // Positional (non-named) MessagePack is byte-stable for fitted pipelines too.
        let fitted = p.fit(stream(vec![train()])).unwrap();
        let bytes = rmp_serde::to_vec(&fitted).unwrap();
        let back: FittedPipeline = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(rmp_serde::to_vec(&back).unwrap(), bytes);
    }

    #[test]
    fn tampered_fitted_pipelines_fail_without_panicking() {
        let fitted = Pipeline::new()
            .group(
                "num",
                ["age"],
                [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()],
            )
            .group(
                "cat",
                ["plan"],
                [
                    Step::impute(ImputeStrategy::MostFrequent),
                    Step::one_hot(UnknownCategory::MapToOther),
                    Step::select(["plan=gold", "plan=basic"]),
                ],
            )
            .fit(stream(vec![train()]))
            .unwrap();
        let good = serde_json::to_value(&fitted).unwrap();
        let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            let p: FittedPipeline = serde_json::from_value(v).unwrap();
            p.transform(&train())
        };
        // Fewer feature names than the groups produce.
        let e = tamper(&|v| {
            v["feature_names"].as_array_mut().unwrap().pop();
        });
        assert!(matches!(e, Err(Error::Incompatible(_))), "{e:?}");
        // A selection index out of range.
        let e = tamper(&|v| {
            v["groups"][1]["steps"][2]["Selection"]["keep"][0] = 99.into();
        });
        assert!(matches!(e, Err(Error::Incompatible(_))), "{e:?}");
        // Scaler state for a different number of columns.
        let e = tamper(&|v| {
            v["groups"][0]["steps"][1]["StandardScaler"]["columns"]
                .as_array_mut()
                .unwrap()
                .clear();
        });
        assert!(matches!(e, Err(Error::Incompatible(_))), "{e:?}");
        // Unsorted categories and a group reading a column that is not an input.
        let _ = tamper(&|v| {
            v["groups"][1]["steps"][1]["OneHot"]["columns"][0]["categories"] =
                serde_json::json!(["zz", "aa"]);
        });
        let e = tamper(&|v| {
            v["groups"][0]["columns"][0] = "score".into();
        });
        assert!(e.is_err());
    }

    #[test]
    fn duplicate_feature_names_are_rejected() {
        let e = Pipeline::new()
            .group("a", ["visits"], [Step::impute(ImputeStrategy::Mean)])
            .group("b", ["visits"], [Step::impute(ImputeStrategy::Median)])
            .fit(stream(vec![train()]))
            .unwrap_err();
        assert!(matches!(e, Error::DuplicateColumn { ref column } if column == "visits"));
    }

    #[test]
    fn group_output_must_be_numeric() {
        let e = Pipeline::new()
            .group("a", ["plan"], [Step::impute(ImputeStrategy::MostFrequent)])
            .fit(stream(vec![train()]))
            .unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { ref column, .. } if column == "plan"));
    }

    #[test]
    fn log1p_domain_error_names_row() {
        let b = batch(
            vec![Some(1.0), Some(-3.0)],
            vec![Some(1); 2],
            vec![Some("a"); 2],
        );
        let e = Pipeline::new()
            .group("a", ["age"], [Step::log1p()])
            .fit(stream(vec![b]))
            .unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: 1, value, .. } if value == -3.0));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        type Columns = (Vec<Option<f64>>, Vec<Option<i64>>, Vec<Option<u8>>);

        fn data() -> impl Strategy<Value = Columns> {
            (1usize..40).prop_flat_map(|n| {
                (
                    proptest::collection::vec(proptest::option::weighted(0.8, -1e3f64..1e3), n),
                    proptest::collection::vec(proptest::option::weighted(0.8, 0i64..5), n),
                    proptest::collection::vec(proptest::option::weighted(0.8, 0u8..4), n),
                )
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            /// Batch boundaries change nothing: fitting on any split equals fitting on one batch,
            /// and transform_stream equals transform of the whole table.
            #[test]
            fn batch_boundaries_do_not_matter((age, visits, plan) in data(), cut in 0usize..40) {
                let names = ["basic", "gold", "silver", "zinc"];
                let plan: Vec<Option<&str>> =
                    plan.iter().map(|p| p.map(|i| names[i as usize])).collect();
                // Make sure every column has one value so the imputers can fit.
                let mut age = age;
                age[0] = Some(age[0].unwrap_or(1.0));
                let mut visits = visits;
                visits[0] = Some(visits[0].unwrap_or(1));
                let mut plan = plan;
                plan[0] = Some(plan[0].unwrap_or("gold"));
                let b = batch(age, visits, plan);
                let cut = cut.min(b.num_rows());
                let parts = vec![b.slice(0, cut), b.slice(cut, b.num_rows() - cut)];
                let p = Pipeline::new()
                    .group("num", ["age", "visits"], [
                        Step::impute(ImputeStrategy::Median),
                        Step::standard_scaler(),
                    ])
                    .group("cat", ["plan"], [
                        Step::impute(ImputeStrategy::MostFrequent),
                        Step::OneHot(OneHotEncoderParams::default()
                            .unknown(UnknownCategory::MapToOther)
                            .max_categories(Some(3))),
                    ]);
                let whole = p.fit(stream(vec![b.clone()])).unwrap();
                let split = p.fit(stream(parts.clone())).unwrap();
                prop_assert_eq!(&whole, &split);
                let x = whole.transform(&b).unwrap();
                prop_assert!(x.data.iter().all(|v| v.is_finite()));
                prop_assert_eq!(x, whole.transform_stream(stream(parts)).unwrap());
            }
        }
    }

    #[test]
    fn types_are_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Pipeline>();
        assert_send_sync::<CheckedPipeline>();
        assert_send_sync::<FittedPipeline>();
        assert_send_sync::<FeatureMatrix>();
    }
}
