//! # mlops-serve
//!
//! Serving for mlops-rs:
//!
//! - [`Predictor`]: one model version; checks each request against the bundle's signature
//!   (a typed [`ServeError`] naming the column), transforms it with the bundle's fitted pipeline
//!   on a single-row path (no Arrow arrays) and predicts. A batch path over a `RecordBatch` gives
//!   bit-identical probabilities.
//! - [`Deployment`]: the live model behind an atomic swap (promote, roll back, follow a registry
//!   alias), with canary and shadow roll-outs and prediction events.
//! - [`events`]: event sinks ([`events::ChannelSink`], [`events::JsonlSink`]) and the
//!   [`events::LabelJoiner`] that pairs predictions with late ground truth.
//! - [`batch`]: streaming batch scoring of CSV / Parquet files into Parquet.
#![warn(missing_docs)]

pub mod batch;
pub mod convert;
pub mod deployment;
pub mod error;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod predictor;
pub mod value;

pub use convert::records_from_batch;
pub use deployment::{Deployment, DeploymentOptions, FollowHandle, ShadowStats};
pub use error::{Result, ServeError};
pub use events::EventSink;
pub use mlops_core::event::{OutcomeEvent, PredictionEvent, Role};
pub use mlops_train as train;
pub use predictor::{Prediction, Predictor};
pub use value::{Record, Value};
