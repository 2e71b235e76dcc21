//! # mlops-registry
//!
//! The registry of mlops-rs: content-addressed, verified artifacts on [`object_store`] (local
//! file system, in-memory, S3-compatible behind the `s3` feature), numbered model versions,
//! movable aliases with compare-and-set and rollback, archive, search, and a hash-chained audit
//! log that [`Registry::verify`] proves intact. It stores bytes plus typed metadata and never
//! executes code when loading.
//!
//! - [`Registry`]: the synchronous API (an internal current-thread runtime drives
//!   `object_store`); open one with [`Registry::open`] (a directory), [`Registry::in_memory`]
//!   or [`Registry::from_store`] (any backend).
//! - Every change is an [`Event`] with an [`Action`]; the state is a fold over the log, so
//!   several processes or machines can write one registry at once: each event is created with
//!   `PutMode::Create` at the next sequence number and the loser of a race re-reads and retries.
//! - Blobs are addressed by sha256 and checked on every read ([`Error::BlobCorrupt`] names
//!   the blob).
//!
//! It depends only on `mlops-core`.
#![warn(missing_docs)]

mod blob;
mod error;
mod event;
mod model;
mod registry;
mod state;
mod verify;

pub use error::{Error, Result};
pub use event::{Action, Event, LogHead, MAX_ACTOR_LEN, MAX_EVENT_BYTES, MAX_REASON_LEN};
pub use mlops_core as core;
pub use model::{
    Lineage, MAX_DESCRIPTION_LEN, MAX_FINGERPRINTS, MAX_KEY_LEN, MAX_METADATA_BYTES, MAX_VALUE_LEN,
    ModelMetadata, ModelQuery, ModelVersion, VersionRef,
};
pub use object_store;
pub use registry::{Registry, RegistryOptions};
pub use verify::{Problem, VerifyReport};
