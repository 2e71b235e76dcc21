//! # mlops-train
//!
//! Training for mlops-rs: estimators over linfa and linfa-logistic with the params → `check()` →
//! fitted-type pattern, metrics that agree with scikit-learn, cross-validation and hyper-parameter
//! search, champion/challenger significance tests, training reports, and the `ModelBundle` — the
//! verifiable unit (signature, fitted pipeline, fitted model, reference profile, metrics, report)
//! that the registry stores and the serving crate loads.
//!
//! Status: this crate's content arrives with the mlops-train issue; today it only fixes its place in
//! the dependency graph (`core` ← `data` ← `train`).
#![warn(missing_docs)]

pub use mlops_data as data;
