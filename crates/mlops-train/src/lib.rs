//! # mlops-train
//!
//! Training for mlops-rs: estimators over linfa and linfa-logistic with the params → `check()` →
//! fitted-type pattern, metrics that agree with scikit-learn, cross-validation and hyper-parameter
//! search, champion/challenger significance tests, training reports, and the `ModelBundle` — the
//! verifiable unit (signature, fitted pipeline, fitted model, reference profile, metrics, report)
//! that the registry stores and the serving crate loads.
//!
//! - [`estimator`]: [`LogisticRegression`] and [`DecisionTree`] over linfa (params → `check()` →
//!   fitted), the [`Estimator`] trait for your own, and the closed [`Model`] set.
//! - [`trainer`]: [`train`] — labels, stratified split, pipeline, candidates, test metrics,
//!   signature, reference profile, fingerprints — into a [`ModelBundle`] and a [`TrainingReport`].
//! - [`select`]: stratified k-fold CV, grid/random search, validation-set selection, with reasons.
//! - [`metrics`]: binary-classification metrics checked against scikit-learn to 1e-9.
//! - [`compare`]: champion vs challenger (DeLong, paired bootstrap, promotion rule).
//! - [`explain`]: coefficients, permutation importance, per-prediction contributions.
//! - [`bundle`]: the versioned, checksummed, code-free bundle encoding.
//! - [`report`]: training summaries and reports.
#![warn(missing_docs)]

pub mod bundle;
pub mod compare;
pub mod error;
pub mod estimator;
pub mod explain;
pub mod metrics;
pub mod report;
pub mod select;
pub mod trainer;

pub use bundle::{LabelSpec, ModelBundle};
pub use error::{Class, DataError, Error, Result};
pub use estimator::{
    DecisionTree, Estimator, FitDiagnostics, Fitted, LinearModel, LogisticRegression, Model,
    OnNonConvergence, TrainingSet, TreeModel,
};
pub use mlops_data as data;
pub use report::{CodeVersion, TrainingReport, TrainingSummary};
pub use select::{Candidate, Selection, SelectionMetric};
pub use trainer::{
    EstimatorSpec, Holdout, TrainConfig, TrainOutcome, TrainSpec, train, train_stream,
};
