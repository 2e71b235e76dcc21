//! # mlops-monitor
//!
//! Monitoring for mlops-rs: batch drift tests that agree with scipy (KS, chi-square, Z,
//! Wasserstein, Jensen–Shannon, PSI, L∞), an automatic per-column test choice with a dataset
//! verdict following Evidently's defaults, and streaming detectors that agree with river
//! (ADWIN, Page-Hinkley, DDM).
//!
//! - [`drift`]: the tests on plain `&[f64]` samples and category count maps.
//! - [`auto`]: [`DriftConfig`], [`ColumnDrift`], [`DatasetDrift`].
//! - [`detect`]: the [`DriftDetector`] trait and its detectors.
//!
//! Every function that touches user data returns [`Result`]; empty samples, NaN and invalid
//! parameters are typed [`Error`]s naming the sample or parameter.
#![warn(missing_docs)]

mod error;

pub mod auto;
pub mod dataset;
pub mod detect;
pub mod drift;

pub use auto::{ColumnData, ColumnDrift, ColumnKind, DatasetDrift, DriftConfig};
pub use detect::{Adwin, Ddm, DriftDetector, DriftStatus, PageHinkley};
pub use error::{Error, Result, Sample};
pub use mlops_data as data;
