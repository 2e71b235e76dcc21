//! The error type of `mlops-train`.

/// Which class of a binary target is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Class {
    /// The user's positive class (`y_true == true`).
    Positive,
    /// The negative class (`y_true == false`).
    Negative,
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Class::Positive => f.write_str("positive"),
            Class::Negative => f.write_str("negative"),
        }
    }
}

/// A data-layer error shared by value (cloneable, comparable by message) so that [`Error`] stays
/// `Clone + PartialEq`. [`DataError::inner`] gives the typed [`mlops_data::Error`] to match on.
#[derive(Debug, Clone)]
pub struct DataError(pub std::sync::Arc<mlops_data::Error>);

impl DataError {
    /// The typed data-layer error.
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
        Some(&*self.0)
    }
}

/// Errors of the training layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- metrics and comparison inputs -------------------------------------------------------
    /// An input slice was empty.
    #[error("{what} is empty")]
    EmptyInput {
        /// Which input was empty (e.g. `"y_true"`).
        what: &'static str,
    },
    /// Two inputs that must be aligned row by row have different lengths.
    #[error("length mismatch: {left} has {left_len} rows but {right} has {right_len}")]
    LengthMismatch {
        /// Name of the first input.
        left: &'static str,
        /// Length of the first input.
        left_len: usize,
        /// Name of the second input.
        right: &'static str,
        /// Length of the second input.
        right_len: usize,
    },
    /// A score or probability is NaN or infinite.
    #[error("{what}[{index}] is not finite ({value})")]
    NonFiniteScore {
        /// Which input holds the value (e.g. `"scores"`).
        what: &'static str,
        /// Row index of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The metric is undefined because `y_true` holds only one class.
    #[error("{metric} is undefined: y_true contains only the {present} class")]
    SingleClass {
        /// The metric that was asked for.
        metric: &'static str,
        /// The only class present in `y_true`.
        present: Class,
    },
    /// A probability lies outside `[0, 1]`.
    #[error("{metric} needs probabilities in [0, 1], but row {index} is {value}")]
    ProbabilityOutOfRange {
        /// The metric that was asked for.
        metric: &'static str,
        /// Row index of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A decision threshold is NaN.
    #[error("invalid threshold {value}: must not be NaN")]
    InvalidThreshold {
        /// The offending threshold.
        value: f64,
    },
    /// A target precision or recall is not in `(0, 1]`.
    #[error("invalid target {kind} {value}: must be in (0, 1]")]
    InvalidTarget {
        /// `"precision"` or `"recall"`.
        kind: &'static str,
        /// The offending target.
        value: f64,
    },
    /// No threshold reaches the target precision or recall.
    #[error("target {kind} {target} is unattainable; the best any threshold reaches is {best}")]
    TargetUnattainable {
        /// `"precision"` or `"recall"`.
        kind: &'static str,
        /// The requested target.
        target: f64,
        /// The best value any threshold reaches.
        best: f64,
    },
    /// A numeric parameter is outside its valid range.
    #[error("invalid parameter {name} = {value}: expected {expected}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// Human-readable valid range.
        expected: &'static str,
    },
    /// A statistical test needs more rows of each class.
    #[error(
        "{test} needs at least {min} positives and {min} negatives, got {positives} and {negatives}"
    )]
    TooFewPerClass {
        /// The test that was asked for.
        test: &'static str,
        /// Minimum rows per class.
        min: usize,
        /// Positives present.
        positives: usize,
        /// Negatives present.
        negatives: usize,
    },

    // ---- training inputs ----------------------------------------------------------------------
    /// A data-layer operation failed (ingest, pipeline, split, profile, schema).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The training set has no rows.
    #[error("cannot train on an empty {what}")]
    EmptyTrainingSet {
        /// Which set was empty (e.g. `"training set"`, `"fold 3 training rows"`).
        what: String,
    },
    /// The training labels hold only one class: no classifier can be fitted.
    #[error("cannot train a classifier: {what} contains only the {present} class ({rows} rows)")]
    SingleClassTraining {
        /// Which set (e.g. `"training set"`).
        what: String,
        /// The only class present.
        present: Class,
        /// Rows in the set.
        rows: usize,
    },
    /// A feature value is NaN or infinite.
    #[error(
        "feature {column:?} is not finite at row {row} ({value}); impute or clip it in the pipeline"
    )]
    NonFiniteFeature {
        /// The feature column (output name of the pipeline).
        column: String,
        /// Row index within the matrix.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// The label column is missing from the data.
    #[error("label column {column:?} not found; available columns: {available}")]
    MissingLabelColumn {
        /// The label column asked for.
        column: String,
        /// Comma-separated available columns.
        available: String,
    },
    /// The label column holds a value that is neither the positive nor the negative label, a
    /// null, or a third class.
    #[error("label column {column:?} at row {row}: {reason}")]
    BadLabel {
        /// The label column.
        column: String,
        /// Row index.
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// The positive label asked for does not occur in the label column.
    #[error("positive label {positive:?} does not occur in label column {column:?}; found {found}")]
    PositiveLabelAbsent {
        /// The label column.
        column: String,
        /// The positive label asked for.
        positive: String,
        /// The distinct values found (comma-separated, at most a few).
        found: String,
    },
    /// The optimiser stopped at its iteration limit without meeting the gradient tolerance,
    /// and the convergence policy says that is an error.
    #[error(
        "{estimator} did not converge: gradient norm {gradient_norm:.3e} > tolerance {tolerance:.3e} after at most {max_iterations} iterations; raise max_iterations, loosen the tolerance or scale the features"
    )]
    NotConverged {
        /// The estimator.
        estimator: String,
        /// The final (mean-scaled) gradient norm.
        gradient_norm: f64,
        /// The tolerance asked for.
        tolerance: f64,
        /// The iteration limit.
        max_iterations: u64,
    },
    /// The underlying linfa estimator failed.
    #[error("{estimator} failed: {message}")]
    Estimator {
        /// The estimator.
        estimator: String,
        /// linfa's message.
        message: String,
    },
    /// A feature matrix has a different number of columns than the model was fitted on.
    #[error("model expects {expected} feature(s), got {found}")]
    FeatureCountMismatch {
        /// Features the model was fitted on.
        expected: usize,
        /// Features given.
        found: usize,
    },
    /// A search or selection was given no candidates.
    #[error("{what}: no candidates to choose from")]
    NoCandidates {
        /// Which operation.
        what: &'static str,
    },

    // ---- model bundles -----------------------------------------------------------------------
    /// The bytes are not a model bundle (wrong magic).
    #[error("not a model bundle: the first bytes are not the mlops bundle magic")]
    NotABundle,
    /// The bundle's format version is not one this build reads.
    #[error("unsupported model bundle format version {found} (this build reads {supported})")]
    UnsupportedBundleVersion {
        /// The version found.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The bundle bytes are truncated, oversized, fail their checksum or do not decode.
    #[error("corrupt model bundle: {reason}")]
    CorruptBundle {
        /// What is wrong.
        reason: String,
    },
    /// Serialising a bundle or report failed.
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        message: String,
    },
}

impl From<mlops_data::Error> for Error {
    fn from(e: mlops_data::Error) -> Self {
        Error::Data(DataError(std::sync::Arc::new(e)))
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
