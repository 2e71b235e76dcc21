//! Declared or inferred table schemas, and validation of data against them.
//!
//! A [`TableSchema`] lists, per column, its logical [`ColumnKind`], whether it may hold nulls,
//! which categories a text column may take, the range a numeric column must stay in, and whether
//! NaN / ±inf are allowed. Build one by hand, take the types from an Arrow schema
//! ([`TableSchema::from_arrow`]) or infer it from data ([`TableSchema::infer`]); store it as JSON.
//!
//! [`validate`] checks a whole [`BatchStream`] in bounded memory and returns a
//! [`ValidationReport`] listing every violation with its column, kind, count and the first
//! example rows. Only reading failures are errors; bad data never is. [`validate_batch`] checks one
//! batch (the serving path) and [`ValidationReport::merge`] combines reports.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_data::arrow::array::{ArrayRef, Float64Array, StringArray};
//! use mlops_data::arrow::RecordBatch;
//! use mlops_data::schema::{validate_batch, ColumnSchema, TableSchema, ViolationKind};
//!
//! let schema = TableSchema::new()
//!     .with(ColumnSchema::float("age").range(0.0, 120.0).not_null())
//!     .with(ColumnSchema::categorical("plan").categories(["basic", "pro"]));
//! let batch = RecordBatch::try_from_iter([
//!     ("age", Arc::new(Float64Array::from(vec![Some(30.0), None, Some(150.0)])) as ArrayRef),
//!     ("plan", Arc::new(StringArray::from(vec!["basic", "gold", "pro"])) as ArrayRef),
//! ])?;
//! let report = validate_batch(&schema, &batch, 0);
//! assert!(!report.is_valid());
//! assert_eq!(report.violations.len(), 3); // a null age, an age out of range, an unseen plan
//! assert_eq!(report.violations[0].kind, ViolationKind::NullNotAllowed);
//! assert_eq!(report.violations[0].example_rows, vec![1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Type compatibility
//!
//! A column's Arrow type maps to a kind: `Float16/32/64` → [`ColumnKind::Float`], every signed and
//! unsigned integer width → [`ColumnKind::Integer`], `Boolean` → [`ColumnKind::Boolean`],
//! `Utf8`, `LargeUtf8`, `Utf8View` and `Dictionary(_, <one of those>)` →
//! [`ColumnKind::Categorical`]. **Integer data is accepted where `Float` is declared** (it is
//! checked against the range as `f64`); the reverse (float data for an `Integer` column) is a
//! [`ViolationKind::TypeMismatch`]. An all-null column of Arrow type `Null` is accepted for any kind
//! (its rows are then checked for nullability only). Any other type is a type mismatch.
//!
//! [`TableSchema::from_arrow`] and [`TableSchema::infer`] turn a `Null`-typed column (what CSV
//! type inference gives a column that is always empty) into a nullable `Float` column with no
//! constraint: nothing is known about its values, and numbers are the common case for features.

use std::collections::BTreeSet;
use std::fmt;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use serde::{Deserialize, Serialize};

use crate::{BatchStream, Error, Result};

pub(crate) mod access;
mod infer;
mod validate;

#[cfg(test)]
mod tests;

pub use infer::InferOptions;
pub use validate::{
    MAX_EXAMPLES, ValidationReport, Violation, ViolationKind, validate, validate_batch,
};

/// The logical kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Floating point numbers (`Float16`, `Float32`, `Float64`).
    Float,
    /// Integers of any width, signed or unsigned.
    Integer,
    /// Booleans.
    Boolean,
    /// Text: `Utf8`, `LargeUtf8`, `Utf8View` or a dictionary of one of those.
    Categorical,
}

impl ColumnKind {
    /// The kind of an Arrow type, or `None` when the type is not supported.
    ///
    /// ```
    /// use mlops_data::arrow::DataType;
    /// use mlops_data::schema::ColumnKind;
    /// assert_eq!(ColumnKind::of(&DataType::UInt16), Some(ColumnKind::Integer));
    /// assert_eq!(ColumnKind::of(&DataType::Date32), None);
    /// ```
    pub fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(Self::Float),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Some(Self::Integer),
            DataType::Boolean => Some(Self::Boolean),
            dt if access::is_text(dt) || access::is_text_dictionary(dt) => Some(Self::Categorical),
            _ => None,
        }
    }

    /// Whether data of kind `found` is accepted for a column declared as `self`: the same kind,
    /// or `Integer` data for a `Float` column.
    pub fn accepts(self, found: ColumnKind) -> bool {
        self == found || (self == Self::Float && found == Self::Integer)
    }

    /// True for `Float` and `Integer`.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Float | Self::Integer)
    }

    /// The lowercase name used in JSON and messages (`float`, `integer`, `boolean`, `categorical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Categorical => "categorical",
        }
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range `[min, max]` a numeric column's finite values must lie in.
///
/// Bounds may be infinite for a one-sided range (`Range::new(0.0, f64::INFINITY)`); in JSON, a
/// non-finite bound is written as the string `"inf"`, `"-inf"` or `"NaN"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// Smallest allowed value.
    #[serde(with = "lossless_f64")]
    pub min: f64,
    /// Largest allowed value.
    #[serde(with = "lossless_f64")]
    pub max: f64,
}

impl Range {
    /// `[min, max]`.
    pub fn new(min: f64, max: f64) -> Self {
        Self { min, max }
    }

    /// Whether `value` lies in `[min, max]` (false for NaN).
    pub fn contains(&self, value: f64) -> bool {
        value >= self.min && value <= self.max
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

fn default_true() -> bool {
    true
}

/// The schema of one column.
///
/// Build with [`ColumnSchema::float`], [`ColumnSchema::integer`], [`ColumnSchema::boolean`] or
/// [`ColumnSchema::categorical`] and refine with the builder methods. A new column is nullable,
/// unconstrained, and rejects NaN / ±inf; in JSON only `name` and `kind` are required and the other
/// fields take those same defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Logical kind.
    pub kind: ColumnKind,
    /// Whether nulls are allowed.
    #[serde(default = "default_true")]
    pub nullable: bool,
    /// For a categorical column: the allowed values; `None` allows any value.
    #[serde(default)]
    pub categories: Option<BTreeSet<String>>,
    /// For a numeric column: the range finite values must lie in; `None` allows any value.
    #[serde(default)]
    pub range: Option<Range>,
    /// For a numeric column: whether NaN and ±inf are allowed (they are never range-checked).
    #[serde(default)]
    pub allow_non_finite: bool,
}

impl ColumnSchema {
    /// A nullable, unconstrained column of `kind` that rejects non-finite values.
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        Self {
            name: name.into(),
            kind,
            nullable: true,
            categories: None,
            range: None,
            allow_non_finite: false,
        }
    }

    /// A float column.
    pub fn float(name: impl Into<String>) -> Self {
        Self::new(name, ColumnKind::Float)
    }

    /// An integer column.
    pub fn integer(name: impl Into<String>) -> Self {
        Self::new(name, ColumnKind::Integer)
    }

    /// A boolean column.
    pub fn boolean(name: impl Into<String>) -> Self {
        Self::new(name, ColumnKind::Boolean)
    }

    /// A categorical (text) column.
    pub fn categorical(name: impl Into<String>) -> Self {
        Self::new(name, ColumnKind::Categorical)
    }

    /// Disallows nulls.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// Sets whether nulls are allowed.
    pub fn nullable(mut self, nullable: bool) -> Self {
        self.nullable = nullable;
        self
    }

    /// Restricts finite values to `[min, max]`.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.range = Some(Range::new(min, max));
        self
    }

    /// Restricts values to the given categories.
    pub fn categories<I, S>(mut self, categories: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.categories = Some(categories.into_iter().map(Into::into).collect());
        self
    }

    /// Sets whether NaN and ±inf are allowed.
    pub fn allow_non_finite(mut self, allow: bool) -> Self {
        self.allow_non_finite = allow;
        self
    }
}

/// The schema of a table: its columns in order, and whether columns not listed are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The columns, in order. Validation reports violations in this order.
    pub columns: Vec<ColumnSchema>,
    /// Whether the data may have columns the schema does not list (default `true`); when `false`
    /// each extra column is a [`ViolationKind::UnexpectedColumn`].
    #[serde(default = "default_true")]
    pub allow_extra_columns: bool,
}

impl Default for TableSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl TableSchema {
    /// An empty schema that allows extra columns.
    pub fn new() -> Self {
        Self {
            columns: Vec::new(),
            allow_extra_columns: true,
        }
    }

    /// Appends a column.
    pub fn with(mut self, column: ColumnSchema) -> Self {
        self.columns.push(column);
        self
    }

    /// Sets whether columns not in the schema are allowed.
    pub fn allow_extra_columns(mut self, allow: bool) -> Self {
        self.allow_extra_columns = allow;
        self
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The types and nullability of an Arrow schema, with no value constraints (no categories,
    /// no range, non-finite values allowed: an Arrow schema says nothing about values).
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] naming the first column whose type has no [`ColumnKind`].
    pub fn from_arrow(schema: &Schema) -> Result<Self> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let kind = kind_for_schema(f.name(), f.data_type())?;
                Ok(ColumnSchema::new(f.name().clone(), kind)
                    .nullable(f.is_nullable())
                    .allow_non_finite(true))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            columns,
            allow_extra_columns: true,
        })
    }

    /// Infers a schema from data in bounded memory: kinds from the Arrow types; `nullable` when a
    /// null was seen; `allow_non_finite` when a NaN or ±inf was seen; `range` = the observed min
    /// and max of the finite values of numeric columns (`None` when there were none); `categories`
    /// = the distinct values of a text column when there are at most
    /// [`InferOptions::max_categories`] of them, else `None`.
    ///
    /// Validating the same data against the result reports no violation.
    ///
    /// # Errors
    /// Reading failures from the stream; [`Error::TypeMismatch`] for a column whose type has no
    /// [`ColumnKind`]; [`Error::EmptyTable`] when the stream has no rows.
    pub fn infer(stream: BatchStream, options: &InferOptions) -> Result<Self> {
        infer::infer(stream, options)
    }

    /// Checks the schema itself: unique column names, ranges with `min <= max` and no NaN bound,
    /// ranges only on numeric columns and categories only on categorical ones.
    /// [`validate`] calls this first; call it once yourself before using [`validate_batch`].
    ///
    /// # Errors
    /// [`Error::DuplicateColumn`] or [`Error::InvalidParam`] naming the column.
    pub fn check(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::DuplicateColumn {
                    column: c.name.clone(),
                });
            }
            if let Some(r) = &c.range {
                if !c.kind.is_numeric() {
                    return Err(Error::InvalidParam {
                        param: "range",
                        reason: format!("column {:?} is {}, not numeric", c.name, c.kind),
                    });
                }
                if r.min.is_nan() || r.max.is_nan() || r.min > r.max {
                    return Err(Error::InvalidParam {
                        param: "range",
                        reason: format!("column {:?}: invalid range {r}", c.name),
                    });
                }
            }
            if c.categories.is_some() && c.kind != ColumnKind::Categorical {
                return Err(Error::InvalidParam {
                    param: "categories",
                    reason: format!("column {:?} is {}, not categorical", c.name, c.kind),
                });
            }
        }
        Ok(())
    }
}

/// The kind a schema built from Arrow types records: [`ColumnKind::of`], with `Null` as `Float`.
pub(crate) fn kind_for_schema(column: &str, data_type: &DataType) -> Result<ColumnKind> {
    match data_type {
        DataType::Null => Ok(ColumnKind::Float),
        dt => ColumnKind::of(dt).ok_or_else(|| unsupported_type(column, dt)),
    }
}

pub(crate) fn unsupported_type(column: &str, found: &DataType) -> Error {
    Error::TypeMismatch {
        column: column.to_owned(),
        expected: "a float, integer, boolean or text (utf8 or dictionary of utf8) type".to_owned(),
        found: found.to_string(),
    }
}

/// Whether two schemas have the same column names and types in the same order (nullability and
/// metadata may differ: readers often mark a batch's fields nullable only when it holds a null).
pub(crate) fn same_layout(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// The number of rows of a batch as `u64`.
pub(crate) fn batch_rows(batch: &RecordBatch) -> u64 {
    batch.num_rows() as u64
}

/// The data column of `batch` at `idx`, if any.
pub(crate) fn column_at(batch: &RecordBatch, idx: usize) -> Option<&dyn Array> {
    batch.columns().get(idx).map(|a| a.as_ref())
}

/// Serde for `f64` that survives JSON: finite values as numbers, others as `"NaN"`, `"inf"`,
/// `"-inf"`.
pub(crate) mod lossless_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Num(v) => Ok(v),
            Repr::Text(t) => match t.as_str() {
                "NaN" | "nan" => Ok(f64::NAN),
                "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
                "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", found {other:?}"
                ))),
            },
        }
    }
}
