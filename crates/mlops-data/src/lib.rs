//! # mlops-data
//!
//! The data layer of mlops-rs: everything between a file on disk and a validated, versioned
//! feature matrix.
//!
//! - [`ingest`]: CSV and Parquet (paths, any `Read`, or bytes) into a [`BatchStream`] of Arrow
//!   `RecordBatch`es with one `SchemaRef`, in memory bounded by the batch size; CSV type inference
//!   over a sample with overrides; Parquet writing.
//! - [`schema`]: a declared or inferred per-column schema (type, nullability, categories, range)
//!   and [`schema::validate`], which reports every violation with column, kind, count and example rows.
//! - [`profile`]: mergeable per-column statistics (counts, nulls, min/max, stable moments, a
//!   quantile sketch with a stated error bound, capped category counts). Monitoring compares
//!   against these.
//! - [`transform`] and [`pipeline`]: fit → fitted-type preprocessing steps (imputers, scalers,
//!   one-hot and ordinal encoders, clipping, log1p, select/drop) composed into a [`pipeline::Pipeline`]
//!   whose fitted form turns batches into a [`FeatureMatrix`].
//! - [`split`]: seeded train/validation/test splits and (stratified) k-fold.
//! - [`fingerprint`]: a logical sha256 of a table that is independent of file format, compression
//!   and batch boundaries, and a plain file hash.
//! - [`synth`]: a seeded customer-churn generator with covariate, category-mix and concept drift.
//!
//! Every function that touches user data returns [`Result`]; malformed input is a typed
//! [`Error`] naming the file, column and row where known. Nothing here panics on user data.
#![warn(missing_docs)]

mod error;
mod matrix;
mod stream;

pub mod fingerprint;
pub mod ingest;
pub mod pipeline;
pub mod profile;
pub mod schema;
pub mod split;
pub mod synth;
pub mod transform;

pub use error::{Error, Result};
pub use matrix::FeatureMatrix;
pub use pipeline::Threads;
pub use stream::BatchStream;

/// Re-exported Arrow types that appear in this crate's public API.
pub mod arrow {
    pub use arrow_array::{self as array, RecordBatch};
    pub use arrow_schema::{self as schema, DataType, Field, Schema, SchemaRef};
}
