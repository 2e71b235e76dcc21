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
}

/// Result alias with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
