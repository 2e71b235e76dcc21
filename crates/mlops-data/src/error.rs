//! Errors of the data layer.

use std::path::PathBuf;

/// Errors produced by `mlops-data`. Each names the file, column and row where they are known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- I/O and formats -------------------------------------------------------------------
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV input could not be parsed.
    #[error("malformed CSV{}{}: {message}", fmt_path(path), fmt_row(*row))]
    Csv {
        /// The file, when reading from a path.
        path: Option<PathBuf>,
        /// 1-based data row (header excluded) where the problem was found, when known.
        row: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// A Parquet input could not be read or written.
    #[error("parquet error{}: {message}", fmt_path(path))]
    Parquet {
        /// The file, when reading from a path.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// An Arrow compute or construction error.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The input contains a header but no data rows, or no rows at all.
    #[error("empty table{}", fmt_path(path))]
    EmptyTable {
        /// The file, when known.
        path: Option<PathBuf>,
    },
    /// A file's extension names no format this crate reads or writes.
    #[error(
        "unsupported file format for {}: extension {} (expected csv, tsv, parquet or pq)",
        path.display(),
        extension.as_deref().map_or_else(|| "<none>".to_string(), |e| format!("{e:?}"))
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// Its extension, if it has one.
        extension: Option<String>,
    },

    // ---- schema ----------------------------------------------------------------------------
    /// A column required by a schema, pipeline or label is missing.
    #[error("missing column {column:?} (available: {available:?})")]
    MissingColumn {
        /// The column that was asked for.
        column: String,
        /// The columns that exist.
        available: Vec<String>,
    },
    /// A column has a type the operation cannot use.
    #[error("column {column:?} has type {found}, expected {expected}")]
    TypeMismatch {
        /// The column.
        column: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Two column names are the same.
    #[error("duplicate column name {column:?}")]
    DuplicateColumn {
        /// The repeated name.
        column: String,
    },
    /// A batch's schema differs from the stream's.
    #[error("batch schema {found} differs from stream schema {expected}")]
    SchemaMismatch {
        /// The stream schema.
        expected: String,
        /// The batch schema.
        found: String,
    },

    // ---- values ----------------------------------------------------------------------------
    /// A NaN or infinite value where finite numbers are required.
    #[error("non-finite value {value} in column {column:?} at row {row}")]
    NonFinite {
        /// The column.
        column: String,
        /// 0-based row index within the data passed in.
        row: u64,
        /// The value.
        value: f64,
    },
    /// A null where the operation needs a value (for example a transform without an imputer).
    #[error("null value in column {column:?} at row {row}")]
    NullValue {
        /// The column.
        column: String,
        /// 0-based row index within the data passed in.
        row: u64,
    },
    /// A category not seen while fitting, under an `error` policy.
    #[error("unseen category {value:?} in column {column:?} at row {row}")]
    UnseenCategory {
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// 0-based row index within the data passed in.
        row: u64,
    },
    /// The label column holds fewer than two classes where two are required.
    #[error("label column {column:?} has {classes} class(es); need at least 2")]
    TooFewClasses {
        /// The label column.
        column: String,
        /// How many distinct non-null classes were found.
        classes: usize,
    },

    // ---- fingerprint ------------------------------------------------------------------------
    /// A value the table fingerprint has no canonical encoding for.
    #[error("value {value} in column {column:?} at row {row} cannot be fingerprinted: {reason}")]
    Unfingerprintable {
        /// The column.
        column: String,
        /// 0-based row index within the data passed in.
        row: u64,
        /// The value, as text.
        value: String,
        /// Why it cannot be encoded.
        reason: &'static str,
    },

    // ---- transforms and pipelines ---------------------------------------------------------
    /// A value outside the domain of a transform step (for example `log1p` of a value ≤ -1).
    #[error(
        "value {value} in column {column:?} at row {row} is outside the domain of {step} ({domain})"
    )]
    OutOfDomain {
        /// The step, e.g. `log1p`.
        step: &'static str,
        /// The column.
        column: String,
        /// 0-based row index within the data passed in.
        row: u64,
        /// The value.
        value: f64,
        /// The domain the step accepts, e.g. `x > -1`.
        domain: &'static str,
    },
    /// Fitting a step needs at least one non-missing value, but the column has none.
    #[error("column {column:?} has no non-missing values to fit {step}")]
    AllMissing {
        /// The step, e.g. `imputer(mean)`.
        step: &'static str,
        /// The column.
        column: String,
    },

    // ---- parameters and models -------------------------------------------------------------
    /// A parameter failed validation in `check()`.
    #[error("invalid parameter {param}: {reason}")]
    InvalidParam {
        /// The parameter.
        param: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Two profiles (or fitted objects) cannot be merged or compared.
    #[error("incompatible: {0}")]
    Incompatible(String),
    /// Encoding or decoding a serialised object failed.
    #[error("serialization error: {0}")]
    Serialization(String),

    // ---- splits and synthetic data -----------------------------------------------------------
    /// A row index points past the end of the table.
    #[error("row index {index} out of range for a table of {rows} rows")]
    RowIndexOutOfRange {
        /// The offending index.
        index: u64,
        /// Number of rows in the table.
        rows: u64,
    },
    /// A class has fewer members than a stratified split needs (for example fewer than `k`
    /// in stratified k-fold, where every fold must hold at least one member of every class).
    #[error("class {class} has {members} member(s); stratified split needs at least {required}")]
    ClassTooSmall {
        /// The class label, rendered with `Debug` (a text label is quoted: `"no"`).
        class: String,
        /// How many rows carry it.
        members: usize,
        /// How many are needed.
        required: usize,
    },
    /// A category that the column does not have (for example in a synthetic-data drift spec).
    #[error("unknown category {value:?} for column {column:?} (known: {known:?})")]
    UnknownCategory {
        /// The column.
        column: String,
        /// The value that was asked for.
        value: String,
        /// The categories the column has.
        known: Vec<String>,
    },
}

fn fmt_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" in {}", p.display()),
        None => String::new(),
    }
}

fn fmt_row(row: Option<u64>) -> String {
    match row {
        Some(r) => format!(" at row {r}"),
        None => String::new(),
    }
}

/// Result alias with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
