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

/// Errors of the training layer (metrics and model comparison today).
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
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
