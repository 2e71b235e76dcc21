//! Errors of the core crate.

/// Errors produced by `mlops-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name (model, alias, tag, dataset) failed validation.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name (lossy, for display).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A string was not a 64-character lowercase or uppercase hex sha256 digest.
    #[error("invalid sha256 hex digest {value:?}: {reason}")]
    InvalidHash {
        /// The rejected text (truncated to 80 characters).
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An I/O error while hashing a reader.
    #[error("i/o error while hashing: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
