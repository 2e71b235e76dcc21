//! Validation of data against a [`TableSchema`].

use std::collections::BTreeSet;
use std::fmt;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use serde::{Deserialize, Serialize};

use super::access::{TextColumn, for_each_f64, logical_validity};
use super::{
    ColumnKind, ColumnSchema, TableSchema, batch_rows, column_at, lossless_f64, same_layout,
};
use crate::{BatchStream, Error, Result};

/// The most example rows (and example values) a [`Violation`] keeps.
pub const MAX_EXAMPLES: usize = 5;

/// What is wrong.
///
/// *Structural* kinds ([`MissingColumn`](Self::MissingColumn),
/// [`UnexpectedColumn`](Self::UnexpectedColumn), [`TypeMismatch`](Self::TypeMismatch),
/// [`EmptyTable`](Self::EmptyTable)) concern the table as a whole: their [`Violation::count`] is
/// 1 and they have no example rows. The other kinds are *row-level*: `count` is the number of
/// offending rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// The table has no rows.
    EmptyTable,
    /// A schema column is absent from the data.
    MissingColumn,
    /// The column's Arrow type is not accepted for the declared kind.
    TypeMismatch {
        /// The declared kind.
        expected: ColumnKind,
        /// The Arrow type found, as Arrow displays it (e.g. `Utf8`, `Int64`).
        found: String,
    },
    /// A null in a column that is not nullable.
    NullNotAllowed,
    /// A NaN or ±inf in a numeric column that does not allow them.
    NonFinite,
    /// A finite value outside the column's range.
    OutOfRange {
        /// Smallest allowed value.
        #[serde(with = "lossless_f64")]
        min: f64,
        /// Largest allowed value.
        #[serde(with = "lossless_f64")]
        max: f64,
    },
    /// A value not among the column's categories.
    UnseenCategory {
        /// Up to [`MAX_EXAMPLES`] distinct unseen values, in order of first appearance.
        examples: Vec<String>,
    },
    /// A data column the schema does not list, when extra columns are not allowed.
    UnexpectedColumn,
}

impl ViolationKind {
    /// Whether this kind concerns the table as a whole (count 1, no example rows).
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            Self::EmptyTable
                | Self::MissingColumn
                | Self::TypeMismatch { .. }
                | Self::UnexpectedColumn
        )
    }

    /// The position of this kind in the report order within one column.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Self::EmptyTable => 0,
            Self::MissingColumn => 1,
            Self::TypeMismatch { .. } => 2,
            Self::NullNotAllowed => 3,
            Self::NonFinite => 4,
            Self::OutOfRange { .. } => 5,
            Self::UnseenCategory { .. } => 6,
            Self::UnexpectedColumn => 7,
        }
    }

    /// Whether two kinds describe the same violation (for merging): same variant, and for
    /// `TypeMismatch` and `OutOfRange` the same parameters. Examples are not compared.
    fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::UnseenCategory { .. }, Self::UnseenCategory { .. }) => true,
            (Self::OutOfRange { min: a, max: b }, Self::OutOfRange { min: c, max: d }) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyTable => f.write_str("the table has no rows"),
            Self::MissingColumn => f.write_str("missing column"),
            Self::TypeMismatch { expected, found } => {
                write!(f, "type mismatch: expected {expected}, found {found}")
            }
            Self::NullNotAllowed => f.write_str("null not allowed"),
            Self::NonFinite => f.write_str("NaN or infinite value not allowed"),
            Self::OutOfRange { min, max } => write!(f, "value outside [{min}, {max}]"),
            Self::UnseenCategory { examples } => {
                f.write_str("unseen category")?;
                if !examples.is_empty() {
                    f.write_str(" (")?;
                    for (i, e) in examples.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{e:?}")?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            Self::UnexpectedColumn => f.write_str("unexpected column (extra columns not allowed)"),
        }
    }
}

/// One violation: a kind, the column it concerns, how many rows and the first example rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The column, or `None` for a table-level violation ([`ViolationKind::EmptyTable`]).
    pub column: Option<String>,
    /// The index of the column in the schema, or in the data for
    /// [`ViolationKind::UnexpectedColumn`]; `None` for table-level violations. Reports are ordered
    /// by it.
    pub column_index: Option<usize>,
    /// What is wrong.
    pub kind: ViolationKind,
    /// Number of offending rows (1 for structural kinds).
    pub count: u64,
    /// The first (at most [`MAX_EXAMPLES`]) offending rows, 0-based over the whole table,
    /// ascending. Empty for structural kinds.
    pub example_rows: Vec<u64>,
}

impl Violation {
    /// The report order: the empty-table violation first, then schema columns in schema order,
    /// then unexpected columns in data order; within a column, by kind.
    fn sort_key(&self) -> (u8, usize, u8) {
        let group = match self.kind {
            ViolationKind::EmptyTable => 0,
            ViolationKind::UnexpectedColumn => 2,
            _ => 1,
        };
        (group, self.column_index.unwrap_or(0), self.kind.rank())
    }

    fn structural(column: Option<(&str, usize)>, kind: ViolationKind) -> Self {
        Self {
            column: column.map(|(c, _)| c.to_owned()),
            column_index: column.map(|(_, i)| i),
            kind,
            count: 1,
            example_rows: Vec::new(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "column {c:?}: {}", self.kind)?,
            None => write!(f, "table: {}", self.kind)?,
        }
        if !self.kind.is_structural() {
            let noun = if self.count == 1 { "row" } else { "rows" };
            write!(f, " in {} {noun}", self.count)?;
            if !self.example_rows.is_empty() {
                let rows: Vec<String> = self.example_rows.iter().map(u64::to_string).collect();
                let label = if self.count as usize > self.example_rows.len() {
                    "first rows"
                } else if self.example_rows.len() == 1 {
                    "row"
                } else {
                    "rows"
                };
                write!(f, " ({label} {})", rows.join(", "))?;
            }
        }
        Ok(())
    }
}

/// The outcome of validating data against a [`TableSchema`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Rows checked.
    pub rows: u64,
    /// Every violation found, in a deterministic order (see [`Violation::column_index`]).
    pub violations: Vec<Violation>,
}

impl ValidationReport {
    /// True when there is no violation.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations concerning `column`.
    pub fn for_column<'a>(&'a self, column: &'a str) -> impl Iterator<Item = &'a Violation> + 'a {
        self.violations
            .iter()
            .filter(move |v| v.column.as_deref() == Some(column))
    }

    /// Adds `other` (a report on the following rows of the same table, against the same schema)
    /// to this one: rows add up; matching row-level violations add their counts and keep the
    /// first example rows and values; structural violations are kept once; an
    /// [`ViolationKind::EmptyTable`] violation is dropped once the total has rows. The result is
    /// in report order.
    pub fn merge(&mut self, other: ValidationReport) {
        self.rows += other.rows;
        for v in other.violations {
            let existing = self.violations.iter_mut().find(|e| {
                e.column == v.column && e.column_index == v.column_index && e.kind.same_as(&v.kind)
            });
            match existing {
                None => self.violations.push(v),
                Some(e) if e.kind.is_structural() => {}
                Some(e) => {
                    e.count += v.count;
                    e.example_rows.extend(v.example_rows);
                    e.example_rows.sort_unstable();
                    e.example_rows.dedup();
                    e.example_rows.truncate(MAX_EXAMPLES);
                    if let (
                        ViolationKind::UnseenCategory { examples: mine },
                        ViolationKind::UnseenCategory { examples: theirs },
                    ) = (&mut e.kind, v.kind)
                    {
                        for x in theirs {
                            if mine.len() >= MAX_EXAMPLES {
                                break;
                            }
                            if !mine.contains(&x) {
                                mine.push(x);
                            }
                        }
                    }
                }
            }
        }
        if self.rows > 0 {
            self.violations
                .retain(|v| !matches!(v.kind, ViolationKind::EmptyTable));
        }
        self.violations.sort_by_key(Violation::sort_key);
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = if self.rows == 1 { "row" } else { "rows" };
        if self.is_valid() {
            return write!(f, "{} {rows} checked: valid", self.rows);
        }
        let n = self.violations.len();
        let noun = if n == 1 { "violation" } else { "violations" };
        write!(f, "{} {rows} checked: {n} {noun}", self.rows)?;
        for v in &self.violations {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

/// Counts offending rows and keeps the first example rows.
#[derive(Default)]
struct Tally {
    count: u64,
    rows: Vec<u64>,
}

impl Tally {
    fn add(&mut self, row: u64) {
        self.count += 1;
        if self.rows.len() < MAX_EXAMPLES {
            self.rows.push(row);
        }
    }
}

/// Row-level checks of one schema column that is present with an accepted type.
struct ColumnCheck<'s> {
    schema_index: usize,
    column: &'s ColumnSchema,
    data_index: usize,
    nulls: Tally,
    non_finite: Tally,
    out_of_range: Tally,
    unseen: Tally,
    unseen_examples: Vec<String>,
}

impl ColumnCheck<'_> {
    fn check(&mut self, array: &dyn Array, offset: u64) {
        let col = self.column;
        if !col.nullable
            && let Some(validity) = logical_validity(array)
        {
            for (i, valid) in validity.values().iter().enumerate() {
                if !valid {
                    self.nulls.add(offset + i as u64);
                }
            }
        }
        if array.data_type() == &DataType::Null {
            return;
        }
        match col.kind {
            ColumnKind::Float | ColumnKind::Integer => {
                let allow_non_finite = col.allow_non_finite;
                let range = col.range;
                if allow_non_finite && range.is_none() {
                    return;
                }
                let (non_finite, out_of_range) = (&mut self.non_finite, &mut self.out_of_range);
                for_each_f64(array, |i, v| {
                    if !v.is_finite() {
                        if !allow_non_finite {
                            non_finite.add(offset + i as u64);
                        }
                    } else if let Some(r) = &range
                        && !r.contains(v)
                    {
                        out_of_range.add(offset + i as u64);
                    }
                });
            }
            ColumnKind::Boolean => {}
            ColumnKind::Categorical => {
                let Some(categories) = &col.categories else {
                    return;
                };
                let Some(text) = TextColumn::new(array) else {
                    return;
                };
                for i in 0..text.len() {
                    if let Some(s) = text.get(i)
                        && !categories.contains(s)
                    {
                        self.unseen.add(offset + i as u64);
                        if self.unseen_examples.len() < MAX_EXAMPLES
                            && !self.unseen_examples.iter().any(|e| e == s)
                        {
                            self.unseen_examples.push(s.to_owned());
                        }
                    }
                }
            }
        }
    }

    fn into_violations(self, out: &mut Vec<Violation>) {
        let ColumnCheck {
            schema_index,
            column,
            nulls,
            non_finite,
            out_of_range,
            unseen,
            unseen_examples,
            ..
        } = self;
        let mut push = |kind: ViolationKind, tally: Tally| {
            if tally.count > 0 {
                out.push(Violation {
                    column: Some(column.name.clone()),
                    column_index: Some(schema_index),
                    kind,
                    count: tally.count,
                    example_rows: tally.rows,
                });
            }
        };
        push(ViolationKind::NullNotAllowed, nulls);
        push(ViolationKind::NonFinite, non_finite);
        if let Some(r) = column.range {
            push(
                ViolationKind::OutOfRange {
                    min: r.min,
                    max: r.max,
                },
                out_of_range,
            );
        }
        push(
            ViolationKind::UnseenCategory {
                examples: unseen_examples,
            },
            unseen,
        );
    }
}

/// Incremental validation of batches that share one Arrow schema.
struct Validator<'s> {
    structural: Vec<Violation>,
    checks: Vec<ColumnCheck<'s>>,
    offset: u64,
    rows: u64,
}

impl<'s> Validator<'s> {
    fn new(schema: &'s TableSchema, data: &Schema, offset: u64) -> Self {
        let mut structural = Vec::new();
        let mut checks = Vec::new();
        for (schema_index, col) in schema.columns.iter().enumerate() {
            let at = Some((col.name.as_str(), schema_index));
            let Some((data_index, field)) = data.column_with_name(&col.name) else {
                structural.push(Violation::structural(at, ViolationKind::MissingColumn));
                continue;
            };
            let dt = field.data_type();
            let accepted = dt == &DataType::Null
                || ColumnKind::of(dt).is_some_and(|found| col.kind.accepts(found));
            if !accepted {
                structural.push(Violation::structural(
                    at,
                    ViolationKind::TypeMismatch {
                        expected: col.kind,
                        found: dt.to_string(),
                    },
                ));
                continue;
            }
            checks.push(ColumnCheck {
                schema_index,
                column: col,
                data_index,
                nulls: Tally::default(),
                non_finite: Tally::default(),
                out_of_range: Tally::default(),
                unseen: Tally::default(),
                unseen_examples: Vec::new(),
            });
        }
        if !schema.allow_extra_columns {
            let listed: BTreeSet<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
            for (data_index, field) in data.fields().iter().enumerate() {
                if !listed.contains(field.name().as_str()) {
                    structural.push(Violation::structural(
                        Some((field.name(), data_index)),
                        ViolationKind::UnexpectedColumn,
                    ));
                }
            }
        }
        Self {
            structural,
            checks,
            offset,
            rows: 0,
        }
    }

    /// Checks one batch whose schema matches the one given to `new`.
    fn push(&mut self, batch: &RecordBatch) {
        let offset = self.offset + self.rows;
        for check in &mut self.checks {
            if let Some(array) = column_at(batch, check.data_index) {
                check.check(array, offset);
            }
        }
        self.rows += batch_rows(batch);
    }

    fn finish(self) -> ValidationReport {
        let mut violations = self.structural;
        if self.rows == 0 {
            violations.push(Violation::structural(None, ViolationKind::EmptyTable));
        }
        for check in self.checks {
            check.into_violations(&mut violations);
        }
        violations.sort_by_key(Violation::sort_key);
        ValidationReport {
            rows: self.rows,
            violations,
        }
    }
}

/// Validates a whole stream against `schema`, in memory bounded by the batch size.
///
/// Row numbers in the report are 0-based over the whole stream.
///
/// # Errors
/// Only for failures that are not data violations: an invalid schema (see
/// [`TableSchema::check`]), an error reading the stream, or a batch whose schema differs from the
/// stream's ([`Error::SchemaMismatch`]).
pub fn validate(schema: &TableSchema, stream: BatchStream) -> Result<ValidationReport> {
    let _span = tracing::debug_span!("schema_validate", columns = schema.columns.len()).entered();
    schema.check()?;
    let data_schema = stream.schema();
    let mut validator = Validator::new(schema, &data_schema, 0);
    for batch in stream {
        let batch = batch?;
        if !same_layout(batch.schema_ref(), &data_schema) {
            return Err(Error::SchemaMismatch {
                expected: data_schema.to_string(),
                found: batch.schema().to_string(),
            });
        }
        validator.push(&batch);
    }
    let report = validator.finish();
    tracing::debug!(
        rows = report.rows,
        violations = report.violations.len(),
        "validated"
    );
    Ok(report)
}

/// Validates one batch against `schema`; `row_offset` is the global row number of the batch's
/// first row (used for [`Violation::example_rows`]). A batch with no rows reports
/// [`ViolationKind::EmptyTable`] (dropped again by [`ValidationReport::merge`] once the merged
/// total has rows).
///
/// The schema is assumed valid: call [`TableSchema::check`] once when loading it.
pub fn validate_batch(
    schema: &TableSchema,
    batch: &RecordBatch,
    row_offset: u64,
) -> ValidationReport {
    let mut validator = Validator::new(schema, batch.schema_ref(), row_offset);
    validator.push(batch);
    validator.finish()
}
