//! # mlops-train
//!
//! Training for mlops-rs: estimators over linfa and linfa-logistic with the params → `check()` →
//! fitted-type pattern, metrics that agree with scikit-learn, cross-validation and hyper-parameter
//! search, champion/challenger significance tests, training reports, and the `ModelBundle` — the
//! verifiable unit (signature, fitted pipeline, fitted model, reference profile, metrics, report)
//! that the registry stores and the serving crate loads.
//!
//! Status: the evaluation half exists — [`metrics`] (binary-classification metrics checked against
//! scikit-learn to 1e-9: accuracy, balanced accuracy, precision/recall/F1, ROC-AUC, average
//! precision, log loss, Brier score, confusion matrix, calibration curve, threshold choice and the
//! one-call [`metrics::BinaryMetrics`]) and [`compare`] (champion vs challenger on one holdout:
//! DeLong's test for correlated ROC-AUCs, a seeded paired bootstrap for any metric, and a promotion
//! rule). Estimators, cross-validation, search and `ModelBundle` arrive in a later step.
#![warn(missing_docs)]

pub mod compare;
pub mod error;
pub mod metrics;

pub use error::{Class, Error, Result};
pub use mlops_data as data;
