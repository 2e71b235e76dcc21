//! # mlops-monitor
//!
//! Monitoring for mlops-rs: batch drift tests that agree with scipy (KS, chi-square, Z,
//! Wasserstein, Jensen–Shannon, PSI), streaming detectors that agree with river (ADWIN,
//! Page-Hinkley, DDM), performance monitors over labelled and unlabelled outcomes, retrain
//! policies, JSON/HTML reports and Prometheus metrics. It works from `mlops-data` profiles and
//! batch streams and knows nothing about serving.
//!
//! Status: this crate's content arrives with the mlops-monitor issue.
#![warn(missing_docs)]

pub use mlops_data as data;
