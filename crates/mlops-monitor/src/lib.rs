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
//! - [`dataset`]: drift between batch streams, or a stored profile and a stream, in bounded memory.
//! - [`performance`]: windowed classification metrics with thresholds, and label-free CBPE.
//! - [`policy`]: composable [`RetrainPolicy`] triggers judged against [`Evidence`], giving an
//!   auditable [`RetrainDecision`].
//! - [`report`]: the versioned JSON [`DriftReport`] and its self-contained HTML page.
//! - [`metrics`]: Prometheus text exposition of drift and performance.
//!
//! Every function that touches user data returns [`Result`]; empty samples, NaN and invalid
//! parameters are typed [`Error`]s naming the sample or parameter.
#![warn(missing_docs)]

mod error;

pub mod auto;
pub mod dataset;
pub mod detect;
pub mod drift;
pub mod metrics;
pub mod performance;
pub mod policy;
pub mod report;

pub use auto::{ColumnData, ColumnDrift, ColumnKind, DatasetDrift, DriftConfig};
pub use dataset::{DatasetDriftOptions, StreamDrift, drift_against_profile, drift_between_streams};
pub use detect::{Adwin, Ddm, DriftDetector, DriftStatus, PageHinkley};
pub use error::{DataError, Error, Result, Sample};
pub use mlops_data as data;
pub use performance::{PerformanceStatus, WindowedClassificationMonitor};
pub use policy::{Evidence, RetrainDecision, RetrainPolicy, Trigger};
pub use report::DriftReport;
