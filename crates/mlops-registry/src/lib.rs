//! # mlops-registry
//!
//! The registry of mlops-rs: content-addressed, verified artifacts on `object_store` (local file
//! system, in-memory, S3-compatible), numbered model versions, movable aliases, runs, dataset
//! snapshots, lineage, rollback and a hash-chained audit log that `verify` can prove intact. It
//! stores bytes plus typed metadata and never executes code when loading.
//!
//! Status: this crate's content arrives with the mlops-registry issue; it depends only on
//! `mlops-core`.
#![warn(missing_docs)]

pub use mlops_core as core;
