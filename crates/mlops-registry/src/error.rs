//! Errors of the registry.

use mlops_core::{ContentHash, Name};

/// Errors produced by the registry.
///
/// Every variant carries the object it concerns (model, version, alias, event sequence number or
/// blob hash) so a caller can act on it without parsing messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model, alias or tag name failed validation (path traversal, separator, control
    /// character, empty or overlong).
    #[error("invalid {what} name: {source}")]
    InvalidName {
        /// Which kind of name: `"model"`, `"alias"` or `"tag"`.
        what: &'static str,
        /// The validation error from `mlops-core`, which holds the name and the reason.
        #[source]
        source: mlops_core::Error,
    },
    /// An input other than a name (metadata field, actor, reason, option) was rejected.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, e.g. `metrics["auc"]` or `reason`.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The object store failed.
    #[error("object store error during {op} of {key:?}: {source}")]
    Store {
        /// The operation (`"put"`, `"get"`, `"list"`, ...).
        op: &'static str,
        /// The object key.
        key: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A local I/O error (reading the artifact to register, writing a loaded one, starting the
    /// runtime).
    #[error("i/o error while {op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A blob referenced by the log does not exist in the store.
    #[error("blob {hash} is missing from the store")]
    BlobMissing {
        /// The content hash (and key) of the missing blob.
        hash: ContentHash,
    },
    /// A blob's bytes do not hash to its name: it was modified or damaged.
    #[error("blob {hash} is corrupt: its content hashes to {actual}")]
    BlobCorrupt {
        /// The content hash the blob is stored under.
        hash: ContentHash,
        /// The hash of the bytes actually read.
        actual: ContentHash,
    },
    /// An event object is larger than [`crate::MAX_EVENT_BYTES`].
    #[error("event {seq} is {size} bytes, over the {limit}-byte limit")]
    EventTooLarge {
        /// Sequence number of the event.
        seq: u64,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An event object is not valid JSON of the event schema.
    #[error("event {seq} cannot be decoded: {source}")]
    EventDecode {
        /// Sequence number of the event.
        seq: u64,
        /// The decoder's error (line and column inside the event object).
        #[source]
        source: serde_json::Error,
    },
    /// An event decodes but contradicts the log (wrong sequence number, version gap, alias
    /// target that does not exist, ...).
    #[error("event {seq} is invalid: {reason}")]
    InvalidEvent {
        /// Sequence number of the event.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An event's `prev` hash is not the hash of the event before it: an earlier event was
    /// edited, replaced or reordered.
    #[error(
        "audit chain broken at event {seq}: it names previous hash {found:?}, but the previous event hashes to {expected:?}"
    )]
    ChainBroken {
        /// Sequence number of the event whose `prev` does not match.
        seq: u64,
        /// Hash of the stored previous event (`None` for the first event).
        expected: Option<ContentHash>,
        /// The `prev` written in the event.
        found: Option<ContentHash>,
    },
    /// The log has a hole: this event is missing although later ones exist.
    #[error("event {seq} is missing from the log while later events exist")]
    EventMissing {
        /// The missing sequence number.
        seq: u64,
    },
    /// No model of this name has been registered.
    #[error("model {model} not found")]
    ModelNotFound {
        /// The model name.
        model: Name,
    },
    /// The model exists but has no such version.
    #[error("model {model} has no version {version}")]
    VersionNotFound {
        /// The model name.
        model: Name,
        /// The requested version.
        version: u64,
    },
    /// The model has no alias of this name.
    #[error("model {model} has no alias {alias}")]
    AliasNotFound {
        /// The model name.
        model: Name,
        /// The alias.
        alias: Name,
    },
    /// A compare-and-set alias move found another target than the caller expected (another
    /// writer moved the alias first). Nothing was written.
    #[error("alias {alias} of model {model} points at {actual:?}, expected {expected:?}")]
    AliasConflict {
        /// The model name.
        model: Name,
        /// The alias.
        alias: Name,
        /// What the caller expected (`None`: alias absent).
        expected: Option<u64>,
        /// What the alias actually points at (`None`: alias absent).
        actual: Option<u64>,
    },
    /// The version is archived: aliases cannot point at it and it cannot be archived again.
    #[error("version {version} of model {model} is archived")]
    VersionArchived {
        /// The model name.
        model: Name,
        /// The archived version.
        version: u64,
    },
    /// The version cannot be archived while aliases point at it.
    #[error("version {version} of model {model} is the target of aliases {aliases:?}")]
    VersionInUse {
        /// The model name.
        model: Name,
        /// The version.
        version: u64,
        /// The aliases that point at it.
        aliases: Vec<Name>,
    },
    /// [`crate::VersionRef::Latest`] was asked of a model whose versions are all archived.
    #[error("model {model} has no version that is not archived")]
    NoLiveVersion {
        /// The model name.
        model: Name,
    },
    /// No run with this id.
    #[error("run {run} not found")]
    RunNotFound {
        /// The run id.
        run: Name,
    },
    /// No dataset snapshot with this fingerprint.
    #[error("dataset {fingerprint} not found")]
    DatasetNotFound {
        /// The fingerprint.
        fingerprint: ContentHash,
    },
    /// A snapshot with other content is already stored under this fingerprint.
    #[error("dataset {fingerprint} is already stored with content {existing}, not {new}")]
    DatasetConflict {
        /// The fingerprint.
        fingerprint: ContentHash,
        /// The blob already stored.
        existing: ContentHash,
        /// The blob offered now.
        new: ContentHash,
    },
    /// A stored record (run) is larger than its limit or does not decode.
    #[error("record {hash} is invalid: {reason}")]
    InvalidRecord {
        /// The blob holding the record.
        hash: ContentHash,
        /// Why.
        reason: String,
    },
    /// `rollback` was asked for an alias that has no previous target.
    #[error("alias {alias} of model {model} has no previous target to roll back to")]
    NoRollbackTarget {
        /// The model name.
        model: Name,
        /// The alias.
        alias: Name,
    },
    /// Other writers kept taking the next log slot; gave up after this many attempts.
    #[error("gave up appending to the log after {attempts} attempts lost to concurrent writers")]
    Contention {
        /// Number of attempts made.
        attempts: u32,
    },
    /// A state snapshot could not be built or is invalid (too large to write, or unreadable
    /// when read back). Opening a registry never fails for this: a bad snapshot is skipped.
    #[error("snapshot at event {seq}: {reason}")]
    Snapshot {
        /// The sequence number of the last event the snapshot folds.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// An internal failure that should not happen (a helper thread panicked, the runtime was
    /// already shut down).
    #[error("internal registry error: {reason}")]
    Internal {
        /// What went wrong.
        reason: &'static str,
    },
}

/// Result alias with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn store(
        op: &'static str,
        key: &object_store::path::Path,
        source: object_store::Error,
    ) -> Self {
        Self::Store {
            op,
            key: key.to_string(),
            source,
        }
    }

    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Validates a name, tagging the error with which kind of name it was.
pub(crate) fn name(what: &'static str, text: &str) -> Result<Name> {
    Name::new(text).map_err(|source| Error::InvalidName { what, source })
}
