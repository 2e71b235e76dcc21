//! Mergeable per-column statistics of a table.
//!
//! A [`Profile`] summarises a table column by column, in schema order:
//!
//! - **numeric** columns (every integer and float type): non-null finite count, nulls, NaN and
//!   ±∞ counts, exact min/max, mean and `M2` (Welford per value, Chan et al. when merging),
//!   population/sample variance, and a deterministic [`QuantileSketch`] with a guaranteed
//!   rank-error bound (quantiles, CDF, approximate histograms);
//! - **categorical** columns (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of those, and
//!   `Boolean` as the categories `"true"`/`"false"`): count, nulls and per-category counts capped
//!   at [`ProfileOptions::max_categories`] (the rest go into an `other` count);
//! - **other** columns (dates, timestamps, decimals, binary, nested, ...): only counts and nulls
//!   are kept. This is the documented rule for unsupported types: they are not an error, and
//!   they keep their place so that profiles of the same schema always line up.
//!
//! Profiles of parts of a table merge ([`Profile::merge`]) into the profile of the whole:
//! counts, nulls, min/max and category counts (under the cap) exactly; mean and variance up to
//! rounding; quantiles within the sketch's stated bound. Monitoring compares live data against
//! a reference profile (KS via [`NumericStats::cdf`], Wasserstein via quantiles, PSI via
//! [`NumericStats::histogram`], chi-square / Jensen–Shannon via [`CategoricalStats::counts`]).
//!
//! Memory is bounded whatever the number of rows: per numeric column the sketch keeps at most
//! `k · (⌊log2(n/k)⌋ + 2)` values; per categorical column at most
//! `max(8 · max_categories, 1024)` categories are tracked while streaming.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_data::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
//! use mlops_data::profile::{profile_batch, ProfileOptions};
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("x", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)])) as ArrayRef),
//!     ("c", Arc::new(StringArray::from(vec!["a", "b", "a"])) as ArrayRef),
//! ])?;
//! let p = profile_batch(&batch, &ProfileOptions::default())?;
//! assert_eq!(p.rows(), 3);
//! let x = p.column("x").and_then(|c| c.as_numeric()).ok_or("x")?;
//! assert_eq!(x.nulls(), 1);
//! assert_eq!(x.mean(), Some(2.0));
//! let c = p.column("c").and_then(|c| c.as_categorical()).ok_or("c")?;
//! assert_eq!(c.counts().get("a"), Some(&2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod categorical;
mod numeric;
pub mod sketch;

use std::fmt;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use serde::{Deserialize, Serialize};

pub use categorical::CategoricalStats;
pub use numeric::NumericStats;
pub use sketch::{DEFAULT_SKETCH_K, MAX_SKETCH_K, MIN_SKETCH_K, QuantileSketch, SketchView};

use crate::pipeline::Threads;
use crate::pipeline::threads::{columns_by_thread, for_each_window};
use crate::{BatchStream, Error, Result};

/// The default cap on tracked categories per column.
pub const DEFAULT_MAX_CATEGORIES: usize = 100;

/// The largest accepted [`ProfileOptions::max_categories`].
pub const MAX_MAX_CATEGORIES: usize = 1_000_000;

/// Options of profiling. Validate with [`ProfileOptions::check`]; every entry point checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileOptions {
    /// The most categories kept per categorical column (default 100). When a column has more,
    /// the most frequent are kept (ties broken by name) and the rest are counted in `other`.
    pub max_categories: usize,
    /// Accuracy parameter `k` of the quantile sketch (even, `8..=2^20`; default
    /// [`DEFAULT_SKETCH_K`] = 2560, for which the guaranteed normalised rank error is at most 1%
    /// for every column of fewer than `8.5·10^10` values). See [`QuantileSketch`].
    pub sketch_k: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            max_categories: DEFAULT_MAX_CATEGORIES,
            sketch_k: DEFAULT_SKETCH_K,
        }
    }
}

impl ProfileOptions {
    /// Validates the options.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming `max_categories` (not in `1..=1_000_000`) or `sketch_k`
    /// (odd or not in `8..=2^20`).
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_MAX_CATEGORIES).contains(&self.max_categories) {
            return Err(Error::InvalidParam {
                param: "max_categories",
                reason: format!(
                    "must be in 1..={MAX_MAX_CATEGORIES}, got {}",
                    self.max_categories
                ),
            });
        }
        sketch::check_k(self.sketch_k)
    }

    /// How many categories are tracked while streaming before the least frequent are pruned.
    fn working_categories(&self) -> usize {
        self.max_categories.saturating_mul(8).max(1024)
    }
}

/// Statistics of one column; which kind depends on the column's Arrow type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ColumnStats {
    /// Integer and float columns.
    Numeric(NumericStats),
    /// String, dictionary-of-string and boolean columns.
    Categorical(CategoricalStats),
    /// Columns of any other type: only counts are kept.
    Other(OtherStats),
}

impl ColumnStats {
    fn kind(&self) -> &'static str {
        match self {
            Self::Numeric(_) => "numeric",
            Self::Categorical(_) => "categorical",
            Self::Other(_) => "other",
        }
    }

    fn for_type(data_type: &DataType, options: &ProfileOptions) -> Self {
        if numeric::is_numeric(data_type) {
            Self::Numeric(NumericStats::new(options.sketch_k))
        } else if categorical::is_categorical(data_type) {
            Self::Categorical(CategoricalStats::default())
        } else {
            Self::Other(OtherStats::default())
        }
    }
}

/// Counts of a column whose type is neither numeric nor categorical.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherStats {
    count: u64,
    nulls: u64,
}

impl OtherStats {
    /// Number of non-null values.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Number of nulls.
    pub fn nulls(&self) -> u64 {
        self.nulls
    }
    fn update(&mut self, array: &dyn Array) {
        let nulls = array.logical_null_count() as u64;
        self.nulls += nulls;
        self.count += array.len() as u64 - nulls;
    }
    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.nulls += other.nulls;
    }
}

/// The profile of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    name: String,
    data_type: DataType,
    stats: ColumnStats,
}

impl ColumnProfile {
    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The Arrow type of the column (of the first part, for merged profiles).
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }
    /// The statistics.
    pub fn stats(&self) -> &ColumnStats {
        &self.stats
    }
    /// The numeric statistics, if the column is numeric.
    pub fn as_numeric(&self) -> Option<&NumericStats> {
        match &self.stats {
            ColumnStats::Numeric(s) => Some(s),
            _ => None,
        }
    }
    /// The categorical statistics, if the column is categorical.
    pub fn as_categorical(&self) -> Option<&CategoricalStats> {
        match &self.stats {
            ColumnStats::Categorical(s) => Some(s),
            _ => None,
        }
    }
    /// Number of nulls.
    pub fn nulls(&self) -> u64 {
        match &self.stats {
            ColumnStats::Numeric(s) => s.nulls(),
            ColumnStats::Categorical(s) => s.nulls(),
            ColumnStats::Other(s) => s.nulls(),
        }
    }

    fn update(&mut self, array: &dyn Array, options: &ProfileOptions) -> Result<()> {
        match &mut self.stats {
            ColumnStats::Numeric(s) => s.update(array, &self.name),
            ColumnStats::Categorical(s) => s.update(
                array,
                &self.name,
                options.working_categories(),
                options.max_categories,
            ),
            ColumnStats::Other(s) => {
                s.update(array);
                Ok(())
            }
        }
    }
}

/// Mergeable per-column statistics of a table. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    rows: u64,
    options: ProfileOptions,
    columns: Vec<ColumnProfile>,
}

impl Profile {
    /// Number of rows profiled.
    pub fn rows(&self) -> u64 {
        self.rows
    }
    /// The options the profile was computed with.
    pub fn options(&self) -> &ProfileOptions {
        &self.options
    }
    /// The column profiles, in schema order.
    pub fn columns(&self) -> &[ColumnProfile] {
        &self.columns
    }
    /// The profile of a named column.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The profile of the concatenation of the two profiled tables.
    ///
    /// Counts, nulls, min/max and category counts are exact (category counts while neither side
    /// exceeded the cap), mean and variance are combined with Chan et al.'s formula, the
    /// sketches are merged (their error bounds add up, see [`QuantileSketch::merge`]). Column
    /// Arrow types may differ as long as the kinds match (e.g. `Int32` and `Int64`); the result
    /// keeps `self`'s types.
    ///
    /// # Errors
    /// [`Error::Incompatible`] when the options differ, the column counts differ, or a column
    /// differs in name or kind (naming the column).
    pub fn merge(&self, other: &Profile) -> Result<Profile> {
        if self.options != other.options {
            return Err(Error::Incompatible(format!(
                "profiles computed with different options ({:?} vs {:?})",
                self.options, other.options
            )));
        }
        if self.columns.len() != other.columns.len() {
            return Err(Error::Incompatible(format!(
                "profiles have {} and {} columns",
                self.columns.len(),
                other.columns.len()
            )));
        }
        let mut out = self.clone();
        out.rows = self.rows.saturating_add(other.rows);
        for (i, (mine, theirs)) in out.columns.iter_mut().zip(&other.columns).enumerate() {
            if mine.name != theirs.name {
                return Err(Error::Incompatible(format!(
                    "column {i} is {:?} in one profile and {:?} in the other",
                    mine.name, theirs.name
                )));
            }
            match (&mut mine.stats, &theirs.stats) {
                (ColumnStats::Numeric(a), ColumnStats::Numeric(b)) => a.merge(b)?,
                (ColumnStats::Categorical(a), ColumnStats::Categorical(b)) => {
                    a.merge(b, self.options.max_categories);
                }
                (ColumnStats::Other(a), ColumnStats::Other(b)) => a.merge(b),
                (a, b) => {
                    return Err(Error::Incompatible(format!(
                        "column {:?} is {} in one profile and {} in the other",
                        mine.name,
                        a.kind(),
                        b.kind()
                    )));
                }
            }
        }
        Ok(out)
    }

    /// A multi-line human-readable summary (the same text as `Display`).
    pub fn summary(&self) -> String {
        self.to_string()
    }
}

/// Accepts record batches one at a time (for example from a serving path) and produces a
/// [`Profile`] in bounded memory.
#[derive(Debug, Clone)]
pub struct ProfileBuilder {
    schema: SchemaRef,
    options: ProfileOptions,
    rows: u64,
    columns: Vec<ColumnProfile>,
}

impl ProfileBuilder {
    /// A builder for tables with `schema`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for invalid options.
    pub fn new(schema: SchemaRef, options: &ProfileOptions) -> Result<Self> {
        options.check()?;
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnProfile {
                name: f.name().clone(),
                data_type: f.data_type().clone(),
                stats: ColumnStats::for_type(f.data_type(), options),
            })
            .collect();
        Ok(Self {
            schema,
            options: *options,
            rows: 0,
            columns,
        })
    }

    /// The schema the builder expects.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Number of rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a batch.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] when the batch's fields differ from the builder's schema
    /// (names and types; nullability is not compared). On error the builder is unchanged.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.accepts(batch) {
            return Err(Error::SchemaMismatch {
                expected: self.schema.to_string(),
                found: batch.schema().to_string(),
            });
        }
        for (col, array) in self.columns.iter_mut().zip(batch.columns()) {
            col.update(array.as_ref(), &self.options)?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Whether `batch` has the builder's field names and types.
    fn accepts(&self, batch: &RecordBatch) -> bool {
        let bs = batch.schema();
        bs.fields().len() == self.schema.fields().len()
            && bs
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
    }

    /// Adds a window of batches with the columns shared among `threads` threads (each column by
    /// one thread, batches in order). On error the builder is left part-way and must be dropped.
    fn update_window(&mut self, window: &[RecordBatch], threads: usize) -> Result<()> {
        if threads <= 1 || self.columns.len() <= 1 {
            for batch in window {
                self.update(batch)?;
            }
            return Ok(());
        }
        // Schemas first, in order: a mismatching batch ends the window there.
        let good = window
            .iter()
            .position(|b| !self.accepts(b))
            .unwrap_or(window.len());
        let (ok, rest) = window.split_at(good);
        let options = self.options;
        let columns = self.columns.iter_mut().map(|c| (1, c)).collect();
        columns_by_thread(columns, ok, threads, |_, batch, i, col| {
            match batch.columns().get(i) {
                Some(array) => col.update(array.as_ref(), &options),
                None => Err(Error::Incompatible(format!(
                    "internal: batch has no column {i}"
                ))),
            }
        })?;
        self.rows += ok.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        match rest.first() {
            Some(batch) => self.update(batch),
            None => Ok(()),
        }
    }

    /// The profile of everything seen so far, without consuming the builder.
    pub fn profile(&self) -> Profile {
        self.clone().finish()
    }

    /// The profile of everything seen.
    pub fn finish(mut self) -> Profile {
        for col in &mut self.columns {
            if let ColumnStats::Categorical(c) = &mut col.stats {
                c.cap(self.options.max_categories);
            }
        }
        Profile {
            rows: self.rows,
            options: self.options,
            columns: self.columns,
        }
    }
}

/// Profiles one batch.
///
/// # Errors
/// [`Error::InvalidParam`] for invalid options.
pub fn profile_batch(batch: &RecordBatch, options: &ProfileOptions) -> Result<Profile> {
    let mut b = ProfileBuilder::new(batch.schema(), options)?;
    b.update(batch)?;
    Ok(b.finish())
}

/// Profiles a stream batch by batch, in memory bounded by the batch size plus the (bounded)
/// profile state. Uses [`Threads::AllCores`]; see [`profile_stream_with`].
///
/// # Errors
/// [`Error::InvalidParam`] for invalid options; any error of the stream;
/// [`Error::SchemaMismatch`] for a batch whose fields differ from the stream's schema.
pub fn profile_stream(stream: BatchStream, options: &ProfileOptions) -> Result<Profile> {
    profile_stream_with(stream, options, Threads::default())
}

/// [`profile_stream`] with `threads`: batches are gathered into windows of about 65,536 rows per
/// thread and each thread profiles whole columns of the window, batch after batch, so the profile
/// is bit-identical for any thread count (memory: the window's batches on top of the profile).
///
/// # Errors
/// As [`profile_stream`]; with several errors, the one a single-threaded pass meets first.
pub fn profile_stream_with(
    stream: BatchStream,
    options: &ProfileOptions,
    threads: Threads,
) -> Result<Profile> {
    let _span = tracing::debug_span!("profile_stream").entered();
    let mut b = ProfileBuilder::new(stream.schema(), options)?;
    for_each_window(stream, threads, |window, window_rows, _| {
        b.update_window(window, threads.for_rows(window_rows))
    })?;
    tracing::debug!(rows = b.rows(), "profiled");
    Ok(b.finish())
}

fn fmt_num(x: f64) -> String {
    if x == 0.0 || (1e-3..1e6).contains(&x.abs()) {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.4e}")
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), fmt_num)
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} rows, {} columns", self.rows, self.columns.len())?;
        for c in &self.columns {
            write!(f, "- {} ({}): ", c.name, c.data_type)?;
            match &c.stats {
                ColumnStats::Numeric(s) => {
                    write!(
                        f,
                        "n={} nulls={} mean={} std={} min={} p25={} p50={} p75={} max={}",
                        s.count(),
                        s.nulls(),
                        fmt_opt(s.mean()),
                        fmt_opt(s.std_sample()),
                        fmt_opt(s.min()),
                        fmt_opt(s.quantile(0.25)),
                        fmt_opt(s.quantile(0.5)),
                        fmt_opt(s.quantile(0.75)),
                        fmt_opt(s.max()),
                    )?;
                    if s.nan_count() + s.pos_inf_count() + s.neg_inf_count() > 0 {
                        write!(
                            f,
                            " nan={} +inf={} -inf={}",
                            s.nan_count(),
                            s.pos_inf_count(),
                            s.neg_inf_count()
                        )?;
                    }
                }
                ColumnStats::Categorical(s) => {
                    let distinct = if s.distinct_exact() { "" } else { "≥" };
                    write!(
                        f,
                        "n={} nulls={} distinct={distinct}{} top:",
                        s.count(),
                        s.nulls(),
                        s.distinct()
                    )?;
                    let top = s.top(5);
                    for (name, count) in &top {
                        let share = if s.count() > 0 {
                            100.0 * *count as f64 / s.count() as f64
                        } else {
                            0.0
                        };
                        write!(f, " {name:?} {share:.1}%")?;
                    }
                    let shown = top.len();
                    if s.counts().len() > shown || s.other() > 0 {
                        write!(f, " …")?;
                    }
                    if s.other() > 0 {
                        write!(f, " (other={})", s.other())?;
                    }
                }
                ColumnStats::Other(s) => {
                    write!(f, "n={} nulls={}", s.count(), s.nulls())?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
