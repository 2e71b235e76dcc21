//! # mlops-serve
//!
//! Serving for mlops-rs: a `Predictor` that checks requests against a model bundle's signature,
//! a `Deployment` with atomic hot swap, canary and shadow roll-outs, prediction events for
//! monitoring, streaming batch scoring, and an Open Inference Protocol v2 HTTP server behind the
//! `http` feature.
//!
//! Status: this crate's content arrives with the mlops-serve issue.
#![warn(missing_docs)]

pub use mlops_train as train;
