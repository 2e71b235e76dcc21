//! # mlops
//!
//! One dependency for a model's whole production life, in-process: data in, validated and
//! versioned; a preprocessing pipeline and a linfa model trained, evaluated and tracked; the result
//! stored as a verifiable bundle in a registry; served; watched for drift; retrained.
//!
//! This facade re-exports each layer as a module:
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`core`] | `mlops-core` | content hashes, validated names |
//! | [`data`] | `mlops-data` | ingest, schema, validation, profiles, pipelines, splits, fingerprints, synthetic data |
//! | [`train`] | `mlops-train` | estimators, metrics, model selection, bundles |
//! | [`registry`] | `mlops-registry` | versions, aliases, lineage, audit log |
//! | [`serve`] | `mlops-serve` | prediction, roll-outs, batch scoring, HTTP |
//! | [`monitor`] | `mlops-monitor` | drift tests, detectors, reports |
//!
//! and a [`prelude`] with the types most programs need.
#![warn(missing_docs)]

pub use mlops_core as core;
pub use mlops_data as data;
pub use mlops_monitor as monitor;
pub use mlops_registry as registry;
pub use mlops_serve as serve;
pub use mlops_train as train;

pub mod lifecycle;
pub mod retrain;

/// Any error of the SDK, for programs that span layers (each crate's error is kept whole).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A core error (names, hashes).
    #[error(transparent)]
    Core(#[from] mlops_core::Error),
    /// A data-layer error.
    #[error(transparent)]
    Data(#[from] mlops_data::Error),
    /// A training error.
    #[error(transparent)]
    Train(#[from] mlops_train::Error),
    /// A registry error.
    #[error(transparent)]
    Registry(#[from] mlops_registry::Error),
    /// A monitoring error.
    #[error(transparent)]
    Monitor(#[from] mlops_monitor::Error),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A version cannot be retrained from what the registry holds.
    #[error("{model} v{version} cannot be reproduced: {reason}")]
    NotReproducible {
        /// The model.
        model: String,
        /// The version.
        version: u64,
        /// Why.
        reason: String,
    },
}

/// The types most programs need, for `use mlops::prelude::*;`.
pub mod prelude {
    pub use mlops_core::{ContentHash, Name};
    pub use mlops_data::{BatchStream, FeatureMatrix};
    pub use mlops_registry::{ModelMetadata, Registry, VersionRef};
    pub use mlops_train::{
        DecisionTree, EstimatorSpec, LogisticRegression, ModelBundle, TrainConfig, TrainSpec,
    };
}

/// The README's code blocks, compiled as doc-tests so the tour cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
