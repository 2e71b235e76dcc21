//! Errors of the monitoring crate.

use serde::{Deserialize, Serialize};

/// Which of the two samples of a drift test an error or value refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sample {
    /// The reference (training / baseline) sample.
    Reference,
    /// The current (production / recent) sample.
    Current,
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sample::Reference => "reference",
            Sample::Current => "current",
        })
    }
}

/// Errors produced by `mlops-monitor`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sample (or a category count map) holds no observations.
    #[error("the {sample} sample is empty")]
    EmptySample {
        /// Which sample is empty.
        sample: Sample,
    },
    /// A sample holds a NaN.
    #[error("the {sample} sample holds NaN at index {index}")]
    NanInSample {
        /// Which sample.
        sample: Sample,
        /// 0-based index of the first NaN.
        index: usize,
    },
    /// A sample holds an infinite value where the test needs finite values (moments, bins).
    #[error("the {sample} sample holds the non-finite value {value} at index {index}")]
    NonFiniteInSample {
        /// Which sample.
        sample: Sample,
        /// 0-based index of the first infinite value.
        index: usize,
        /// The value found (positive or negative infinity).
        value: f64,
    },
    /// A test for two categories (the two-proportion Z-test) received more than two.
    #[error(
        "the two-proportion Z-test needs at most 2 categories, found {found} across both samples"
    )]
    NotBinary {
        /// Number of distinct categories with a non-zero count across both samples.
        found: usize,
    },
    /// A parameter is outside its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    /// A drift test failed on a named column.
    #[error("column {column:?}: {source}")]
    Column {
        /// The column.
        column: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// The reference and current data of a column are of different kinds (numeric vs categorical).
    #[error("column {column:?} is {reference} in the reference but {current} in the current data")]
    ColumnKindMismatch {
        /// The column.
        column: String,
        /// Kind in the reference data.
        reference: crate::auto::ColumnKind,
        /// Kind in the current data.
        current: crate::auto::ColumnKind,
    },
    /// A test was requested for a column kind it does not apply to.
    #[error("column {column:?}: test {test:?} does not apply to {kind} data")]
    IncompatibleTest {
        /// The column.
        column: String,
        /// The requested test.
        test: crate::drift::TestKind,
        /// The column's kind.
        kind: crate::auto::ColumnKind,
    },
    /// A streaming detector received a value it cannot use (NaN, or not 0/1 for DDM).
    #[error("detector {detector} rejected input {value}: {reason}")]
    InvalidObservation {
        /// Detector name.
        detector: &'static str,
        /// The rejected value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    // ---- dataset drift on streams and profiles ---------------------------------------------
    /// A requested column does not exist in one of the inputs.
    #[error("column {column:?} is missing from the {sample} data (available: {available:?})")]
    MissingColumn {
        /// The column.
        column: String,
        /// Which input lacks it.
        sample: Sample,
        /// The columns that input has.
        available: Vec<String>,
    },
    /// A column's type is neither numeric nor categorical.
    #[error("column {column:?} has type {data_type}, which drift tests do not support")]
    UnsupportedColumnType {
        /// The column.
        column: String,
        /// The type found (Arrow type or profile kind).
        data_type: String,
    },
    /// A categorical column has more distinct values than the configured limit.
    #[error(
        "column {column:?} has more than {limit} distinct categories in the {sample} data; exclude it or raise the limit"
    )]
    TooManyCategories {
        /// The column.
        column: String,
        /// Which input.
        sample: Sample,
        /// The limit.
        limit: usize,
    },
    /// A reference profile's category counts are lower bounds (the column had more distinct
    /// values than the profile could track), so exact categorical tests are impossible.
    #[error("column {column:?}: the reference profile's category counts are not exact")]
    InexactProfileCounts {
        /// The column.
        column: String,
    },
    /// Reading a batch stream failed.
    #[error("reading the {sample} data failed: {source}")]
    Data {
        /// Which input.
        sample: Sample,
        /// The data layer's error.
        #[source]
        source: DataError,
    },
    // ---- performance monitoring ------------------------------------------------------------
    /// A probability (or score) is NaN or outside `[0, 1]`.
    #[error("probability {value} at index {index} is not in [0, 1]")]
    InvalidProbability {
        /// 0-based position of the value in its input (or observation number).
        index: u64,
        /// The value.
        value: f64,
    },
    /// A timestamp went backwards in a time-windowed monitor.
    #[error("timestamp {found} ms is earlier than the previous {previous} ms")]
    TimestampOrder {
        /// The latest timestamp seen.
        previous: u64,
        /// The offending timestamp.
        found: u64,
    },
    // ---- reports and exposition ------------------------------------------------------------
    /// A Prometheus metric or label name is invalid.
    #[error("invalid Prometheus {what} name {name:?}")]
    InvalidMetricName {
        /// `"metric"` or `"label"`.
        what: &'static str,
        /// The rejected name.
        name: String,
    },
    /// A report could not be encoded or decoded as JSON.
    #[error("drift report JSON: {message}")]
    Json {
        /// serde_json's message (with line and column when decoding).
        message: String,
    },
}

/// A shared `mlops_data::Error` (cloneable; equality compares the messages).
#[derive(Debug, Clone)]
pub struct DataError(pub std::sync::Arc<mlops_data::Error>);

impl DataError {
    /// The underlying error.
    pub fn inner(&self) -> &mlops_data::Error {
        &self.0
    }
}

impl PartialEq for DataError {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// Result alias with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
