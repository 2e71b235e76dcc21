//! An Open Inference Protocol v2 HTTP server over [`Deployment`](crate::Deployment)s (feature
//! `http`).
//!
//! | route | method | answer |
//! |---|---|---|
//! | `/v2/health/live` | GET | 200 while the process serves |
//! | `/v2/health/ready` | GET | 200 when a model is served, 503 while shutting down |
//! | `/v2` | GET | server metadata |
//! | `/v2/models/{name}` | GET | model metadata (inputs, outputs, versions) |
//! | `/v2/models/{name}/ready` | GET | 200 when the model is served |
//! | `/v2/models/{name}/infer` | POST | OIP inference (see [`oip`]) |
//! | `/v2/models/{name}/versions/{v}/infer` | POST | inference by one version |
//! | `/v1/models/{name}/predict` | POST | `{"records": [{col: value}]}` or a bare array → `{"predictions": [...]}` |
//! | `/metrics` | GET | Prometheus text |
//!
//! Every error is JSON `{"error": "..."}`: 400 malformed JSON or tensors, 401 missing or wrong
//! bearer token, 404 unknown route, model or version, 405 wrong method, 408 body not received in
//! time, 413 body too large, 422 invalid input ([`ServeError::is_client_error`]
//! (crate::ServeError::is_client_error), with its `kind`), 503 scoring timed out, 500 otherwise
//! (including a panic, which is caught). All rows of one response come from one model version,
//! even across a hot swap.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mlops_serve::http::{Server, ServerState};
//! # fn demo(deployment: Arc<mlops_serve::Deployment>) -> Result<(), Box<dyn std::error::Error>> {
//! let state = Arc::new(ServerState::new().with_deployment(deployment));
//! let server = Server::start("127.0.0.1:8080", state)?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown()?;
//! # Ok(()) }
//! ```

pub mod metrics;
pub mod oip;
mod server;

pub use metrics::Metrics;
pub use oip::{InferRequest, InferResponse, ModelMetadata, OipError};
pub use server::{
    ApiError, ExtraMetrics, HttpError, Limits, Server, ServerHandle, ServerState, router, serve,
    serve_listener, shutdown_signal, wait_for_shutdown_signal,
};
