//! The serving error type.

/// Everything that can go wrong while serving. Client errors (bad input) name the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The request lacks a column the model's signature requires.
    #[error("missing column {column:?}")]
    MissingColumn {
        /// The column.
        column: String,
    },
    /// A value of the wrong type (for example a string for a numeric column).
    #[error("column {column:?}: expected {expected}, found {found}")]
    WrongType {
        /// The column.
        column: String,
        /// What the signature expects.
        expected: String,
        /// What the request carried.
        found: String,
    },
    /// NaN or ±infinity where the signature requires a finite number.
    #[error("column {column:?}: value is NaN or infinite")]
    NonFinite {
        /// The column.
        column: String,
    },
    /// A number outside the signature's range.
    #[error("column {column:?}: {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// The column.
        column: String,
        /// The value.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A category the model does not accept.
    #[error("column {column:?}: unseen category {value:?}")]
    UnseenCategory {
        /// The column.
        column: String,
        /// The category.
        value: String,
    },
    /// A null where the signature forbids one.
    #[error("column {column:?}: null value is not allowed")]
    NullValue {
        /// The column.
        column: String,
    },
    /// No model of this name is served.
    #[error("model {name:?} not found")]
    ModelNotFound {
        /// The model name.
        name: String,
    },
    /// The deployment does not hold this version.
    #[error("model {name:?} has no loaded version {version}")]
    VersionNotFound {
        /// The model name.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// An invalid argument to a serving API (for example a canary share outside `[0, 1]`).
    #[error("invalid argument {what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Nothing to roll back to.
    #[error("model {name:?} has no previous version to roll back to")]
    NoPrevious {
        /// The model name.
        name: String,
    },
    /// A bad row of a batch-scoring input (under [`crate::batch::BadRowPolicy::Fail`]).
    #[error("row {row}: {reason}")]
    BadRow {
        /// 0-based row number in the whole input.
        row: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A pipeline or model failure (a server-side problem, not the caller's).
    #[error("model failure: {0}")]
    Model(String),
    /// A registry failure.
    #[error("registry: {0}")]
    Registry(String),
    /// A file or data failure.
    #[error("I/O: {0}")]
    Io(String),
}

impl ServeError {
    /// A stable snake_case kind for metrics labels, e.g. `"missing_column"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingColumn { .. } => "missing_column",
            Self::WrongType { .. } => "wrong_type",
            Self::NonFinite { .. } => "non_finite",
            Self::OutOfRange { .. } => "out_of_range",
            Self::UnseenCategory { .. } => "unseen_category",
            Self::NullValue { .. } => "null_value",
            Self::ModelNotFound { .. } => "model_not_found",
            Self::VersionNotFound { .. } => "version_not_found",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::NoPrevious { .. } => "no_previous",
            Self::BadRow { .. } => "bad_row",
            Self::Model(_) => "model",
            Self::Registry(_) => "registry",
            Self::Io(_) => "io",
        }
    }

    /// True when the caller sent bad input (HTTP 400/404/422), false for server-side failures.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::MissingColumn { .. }
                | Self::WrongType { .. }
                | Self::NonFinite { .. }
                | Self::OutOfRange { .. }
                | Self::UnseenCategory { .. }
                | Self::NullValue { .. }
                | Self::ModelNotFound { .. }
                | Self::VersionNotFound { .. }
                | Self::InvalidArgument { .. }
                | Self::NoPrevious { .. }
                | Self::BadRow { .. }
        )
    }

    /// The column a client error names, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::MissingColumn { column }
            | Self::WrongType { column, .. }
            | Self::NonFinite { column }
            | Self::OutOfRange { column, .. }
            | Self::UnseenCategory { column, .. }
            | Self::NullValue { column } => Some(column),
            _ => None,
        }
    }
}

impl From<mlops_registry::Error> for ServeError {
    fn from(e: mlops_registry::Error) -> Self {
        Self::Registry(e.to_string())
    }
}

impl From<mlops_train::Error> for ServeError {
    fn from(e: mlops_train::Error) -> Self {
        Self::Model(e.to_string())
    }
}

/// Maps a data error from the pipeline to a serving error, keeping the column where the data
/// error names one.
pub(crate) fn from_data(e: mlops_data::Error) -> ServeError {
    use mlops_data::Error as D;
    match e {
        D::NonFinite { column, .. } => ServeError::NonFinite { column },
        D::NullValue { column, .. } => ServeError::NullValue { column },
        D::UnseenCategory { column, value, .. } => ServeError::UnseenCategory { column, value },
        D::MissingColumn { column, .. } => ServeError::MissingColumn { column },
        D::TypeMismatch {
            column,
            expected,
            found,
        } => ServeError::WrongType {
            column,
            expected,
            found,
        },
        other => ServeError::Model(other.to_string()),
    }
}

/// `Result` with [`ServeError`].
pub type Result<T, E = ServeError> = std::result::Result<T, E>;
