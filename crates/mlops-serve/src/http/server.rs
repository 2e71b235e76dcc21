//! The axum router, the connection loop with graceful shutdown, and a blocking server handle.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;

use super::metrics::{Metrics, escape_label};
use super::oip::{
    InferRequest, InferResponse, LABEL_OUTPUT, ModelMetadata, PROBABILITY_OUTPUT, TensorMetadata,
};
use crate::{Deployment, Prediction, Record, ServeError};

/// Errors of starting or running the server.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be resolved or bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The tokio runtime could not be built.
    #[error("cannot start the server runtime: {0}")]
    Runtime(std::io::Error),
    /// The server thread stopped abnormally.
    #[error("the server thread panicked")]
    Panicked,
}

/// Request limits and timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body in bytes (default 1 MiB); larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest number of rows in one request (default 10 000); more get 400.
    pub max_rows: usize,
    /// Time from the request head to the response (default 10 s): a body not received in time
    /// gets 408, scoring that takes longer gets 503.
    pub request_timeout: Duration,
    /// Time allowed to send a request head, and the idle time of a kept-alive connection before
    /// it is closed (default 5 s). Slow or stalled clients are disconnected after it.
    pub header_read_timeout: Duration,
    /// How long graceful shutdown waits for in-flight requests (default 30 s).
    pub shutdown_grace: Duration,
    /// Most requests handled at once (default 1024, at least 1). A request beyond it gets 503
    /// with `Retry-After: 1` at once, rather than waiting in a queue that only grows under
    /// overload (load shedding: the client or its load balancer retries elsewhere or later).
    /// Health checks and `/metrics` are neither counted nor refused.
    pub max_in_flight: usize,
    /// Most open connections (default 4096, at least 1). At the limit the server stops
    /// accepting until one closes; further clients wait in the kernel's listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_rows: 10_000,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            max_in_flight: 1024,
            max_connections: 4096,
        }
    }
}

/// A callback returning extra Prometheus text appended to `/metrics` (e.g. monitor values).
pub type ExtraMetrics = Box<dyn Fn() -> String + Send + Sync>;

/// What the server serves: named deployments, an optional bearer token, limits and metrics.
pub struct ServerState {
    deployments: BTreeMap<String, Arc<Deployment>>,
    token: Option<String>,
    limits: Limits,
    extra_metrics: Option<ExtraMetrics>,
    metrics: Metrics,
    accepting: AtomicBool,
    in_flight: AtomicUsize,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("deployments", &self.deployments.keys().collect::<Vec<_>>())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("limits", &self.limits)
            .field("extra_metrics", &self.extra_metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ServerState {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerState {
    /// No deployments, no token, default [`Limits`].
    pub fn new() -> Self {
        Self {
            deployments: BTreeMap::new(),
            token: None,
            limits: Limits::default(),
            extra_metrics: None,
            metrics: Metrics::new(),
            accepting: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Serves `deployment` under its own name (a later one with the same name replaces it).
    pub fn with_deployment(self, deployment: Arc<Deployment>) -> Self {
        let name = deployment.name();
        self.with_named_deployment(name, deployment)
    }

    /// Serves `deployment` under `name`.
    pub fn with_named_deployment(
        mut self,
        name: impl Into<String>,
        deployment: Arc<Deployment>,
    ) -> Self {
        self.deployments.insert(name.into(), deployment);
        self
    }

    /// Requires `Authorization: Bearer <token>` on every route but the health checks.
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Appends the callback's text to every `/metrics` scrape (it must already be in the
    /// Prometheus text format, e.g. a monitor's exposition).
    pub fn with_extra_metrics(mut self, extra: ExtraMetrics) -> Self {
        self.extra_metrics = Some(extra);
        self
    }

    /// The deployment served under `name`.
    pub fn deployment(&self, name: &str) -> Option<&Arc<Deployment>> {
        self.deployments.get(name)
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The collector behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The full `/metrics` text: the server's series, the served versions, then the extra text.
    pub fn render_metrics(&self) -> String {
        let mut out = self.metrics.render();
        out.push_str("# HELP mlops_model_version The model version served as champion.\n");
        out.push_str("# TYPE mlops_model_version gauge\n");
        for (name, dep) in &self.deployments {
            let v = dep.current().version();
            out.push_str(&format!(
                "mlops_model_version{{model=\"{}\"}} {v}\n",
                escape_label(name)
            ));
        }
        if let Some(extra) = &self.extra_metrics {
            match std::panic::catch_unwind(AssertUnwindSafe(extra)) {
                Ok(text) => {
                    out.push_str(&text);
                    if !text.is_empty() && !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Err(_) => tracing::warn!("the extra metrics callback panicked"),
            }
        }
        out
    }

    /// How many counted requests (see [`Limits::max_in_flight`]) are being handled now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether the server is ready: at least one deployment and not shutting down.
    pub fn is_ready(&self) -> bool {
        !self.deployments.is_empty() && self.accepting.load(Ordering::Relaxed)
    }
}

/// An error response: a status and `{"error": message}` (plus `kind` for prediction errors).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message.
    pub message: String,
    /// The error kind, for prediction errors.
    pub kind: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind: None,
        }
    }

    fn from_serve(e: &ServeError) -> Self {
        let status = match e {
            ServeError::ModelNotFound { .. } | ServeError::VersionNotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            e if e.is_client_error() => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.to_string(),
            kind: Some(e.kind()),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: &self.message,
            kind: self.kind,
        })
        .unwrap_or_else(|_| br#"{"error":"internal error"}"#.to_vec());
        json_bytes(self.status, body)
    }
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

type AppState = Arc<ServerState>;

/// When the current request must be answered by (set by the middleware).
#[derive(Debug, Clone, Copy)]
struct Deadline(Instant);

/// Builds the router: see the [module docs](super) for the routes.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2", get(server_metadata))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer_latest))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
        .route("/v1/models/{name}/predict", post(predict_v1))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), frame))
        .with_state(state)
}

/// The one middleware: metrics, bearer token, overall timeout and panic catching.
async fn frame(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let limits = &state.limits;
    let exempt = route.starts_with("/v2/health/") || route == "/metrics";
    // Held until the response is built (or the request is dropped).
    let slot = (!exempt)
        .then(|| InFlight::enter(&state.in_flight, limits.max_in_flight))
        .flatten();
    let response = if let Err(e) = authorize(&state, route, req.headers()) {
        e.into_response()
    } else if !exempt && slot.is_none() {
        let mut r = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "server busy: {} requests in flight (the limit); retry later",
                limits.max_in_flight.max(1)
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else {
        req.extensions_mut()
            .insert(Deadline(start + limits.request_timeout));
        // A little slack so that the handler's own 408/503 wins when it can.
        let budget = limits.request_timeout + Duration::from_millis(250);
        match tokio::time::timeout(budget, AssertUnwindSafe(next.run(req)).catch_unwind()).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => {
                tracing::error!(route, "request handler panicked");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("request timed out after {:?}", limits.request_timeout),
            )
            .into_response(),
        }
    };
    state
        .metrics
        .observe_request(route, response.status().as_u16(), start.elapsed());
    response
}

/// A slot among [`Limits::max_in_flight`], given back when dropped (also when the request's
/// future is dropped: a client that went away, a timeout).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// Takes a slot, or `None` when `max` (at least 1) are taken.
    fn enter(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        let before = count.fetch_add(1, Ordering::AcqRel);
        if before >= max.max(1) {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn authorize(state: &ServerState, route: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else {
        return Ok(());
    };
    if route.starts_with("/v2/health/") {
        return Ok(());
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid bearer token",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn live() -> Response {
    json(StatusCode::OK, &serde_json::json!({"live": true}))
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.is_ready() {
        json(StatusCode::OK, &serde_json::json!({"ready": true}))
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"ready": false, "error": "no model is served or the server is stopping"}),
        )
    }
}

async fn server_metadata(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "name": "mlops-rs",
            "version": env!("CARGO_PKG_VERSION"),
            "extensions": [],
            "models": state.deployments.keys().collect::<Vec<_>>(),
        }),
    )
}

fn find(state: &ServerState, name: &str) -> Result<Arc<Deployment>, ApiError> {
    state.deployments.get(name).cloned().ok_or_else(|| {
        state.metrics.observe_error(name, "model_not_found");
        ApiError::from_serve(&ServeError::ModelNotFound {
            name: name.to_string(),
        })
    })
}

fn datatype_of(kind: mlops_data::schema::ColumnKind) -> &'static str {
    use mlops_data::schema::ColumnKind;
    match kind {
        ColumnKind::Float => "FP64",
        ColumnKind::Integer => "INT64",
        ColumnKind::Boolean => "BOOL",
        _ => "BYTES",
    }
}

async fn model_metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let dep = find(&state, &name)?;
    let current = dep.current();
    let inputs = current
        .inputs()
        .iter()
        .map(|c| TensorMetadata {
            name: c.name.clone(),
            datatype: datatype_of(c.kind).to_string(),
            shape: vec![-1],
        })
        .collect();
    let outputs = vec![
        TensorMetadata {
            name: PROBABILITY_OUTPUT.to_string(),
            datatype: "FP64".to_string(),
            shape: vec![-1],
        },
        TensorMetadata {
            name: LABEL_OUTPUT.to_string(),
            datatype: "BYTES".to_string(),
            shape: vec![-1],
        },
    ];
    Ok(json(
        StatusCode::OK,
        &ModelMetadata {
            name,
            versions: std::iter::once(current.version())
                .chain(
                    dep.versions()
                        .into_iter()
                        .filter(|&v| v != current.version()),
                )
                .map(|v| v.to_string())
                .collect(),
            platform: "mlops-rs".to_string(),
            inputs,
            outputs,
        },
    ))
}

async fn model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let dep = find(&state, &name)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"name": name, "ready": true, "version": dep.current().version().to_string()}),
    ))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = Response::new(Body::from(state.render_metrics()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Reads the whole body within the size limit and the request deadline.
async fn read_body(
    limits: &Limits,
    deadline: Option<Deadline>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {} bytes", limits.max_body_bytes),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared
        && n > limits.max_body_bytes as u64
    {
        return Err(too_large());
    }
    let read = async {
        let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read body: {e}"))
            })?;
            if buf.len() + chunk.len() > limits.max_body_bytes {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    let until = deadline.map_or_else(|| Instant::now() + limits.request_timeout, |d| d.0);
    match tokio::time::timeout_at(until.into(), read).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body was not received in time",
        )),
    }
}

/// Rows at or below this count are scored on the I/O thread; larger requests move to the
/// blocking pool.
const INLINE_ROWS: usize = 32;

/// The routing key / request id of row `i` of `n`: the request's id itself for one row,
/// `{id}/{i}` for several (so that every row's prediction event has its own id).
fn row_key(base: Option<&str>, i: usize, n: usize) -> Option<String> {
    base.map(|b| {
        if n == 1 {
            b.to_string()
        } else {
            format!("{b}/{i}")
        }
    })
}

/// Scores `records` with one model version: the first row picks the version (the champion, or
/// the canary for its routing key), every other row is scored with that same version. If that
/// version is swapped out mid-request (two promotions within one request), the request is
/// scored again from the start (at most three times).
fn score_consistent(
    dep: &Deployment,
    version: Option<u64>,
    records: &[Record],
    key: Option<&str>,
) -> Result<(u64, Vec<Prediction>), ServeError> {
    let n = records.len();
    let Some((first, rest)) = records.split_first() else {
        let v = version.unwrap_or_else(|| dep.current().version());
        return Ok((v, Vec::new()));
    };
    let mut last_err = None;
    for _ in 0..3 {
        let k0 = row_key(key, 0, n);
        let head = match version {
            Some(v) => dep.predict_version(v, first, k0.as_deref())?,
            None => dep.predict(first, k0.as_deref())?,
        };
        let v = head.version;
        let mut out = Vec::with_capacity(n);
        out.push(head);
        let mut torn = false;
        for (i, r) in rest.iter().enumerate() {
            let k = row_key(key, i + 1, n);
            match dep.predict_version(v, r, k.as_deref()) {
                Ok(p) => out.push(p),
                Err(e @ ServeError::VersionNotFound { .. }) if version.is_none() => {
                    last_err = Some(e);
                    torn = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if !torn {
            return Ok((v, out));
        }
    }
    Err(last_err.unwrap_or_else(|| ServeError::ModelNotFound { name: dep.name() }))
}

async fn score(
    state: &ServerState,
    name: &str,
    dep: Arc<Deployment>,
    version: Option<u64>,
    records: Vec<Record>,
    key: Option<String>,
    deadline: Option<Deadline>,
) -> Result<(u64, Vec<Prediction>), ApiError> {
    let inline = records.len() <= INLINE_ROWS;
    let work = move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            score_consistent(&dep, version, &records, key.as_deref())
        }))
        .map_err(|_| ())
    };
    let outcome = if inline {
        work()
    } else {
        let until = deadline.map_or_else(|| Instant::now() + state.limits.request_timeout, |d| d.0);
        match tokio::time::timeout_at(until.into(), tokio::task::spawn_blocking(work)).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(()),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("scoring timed out after {:?}", state.limits.request_timeout),
                ));
            }
        }
    };
    match outcome {
        Ok(Ok((v, preds))) => {
            state
                .metrics
                .observe_predictions(name, v, preds.len() as u64);
            Ok((v, preds))
        }
        Ok(Err(e)) => {
            state.metrics.observe_error(name, e.kind());
            Err(ApiError::from_serve(&e))
        }
        Err(()) => {
            tracing::error!(model = name, "scoring panicked");
            state.metrics.observe_error(name, "panic");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while scoring",
            ))
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

async fn infer(
    state: AppState,
    name: String,
    version: Option<u64>,
    req: Request,
) -> Result<Response, ApiError> {
    // The body is read first so that the connection stays usable after any later error.
    let deadline = req.extensions().get::<Deadline>().copied();
    let (parts, body) = req.into_parts();
    let bytes = read_body(&state.limits, deadline, &parts.headers, body).await?;
    let dep = find(&state, &name)?;
    let request: InferRequest = parse_json(&bytes)?;
    let records = request
        .to_records_limited(state.limits.max_rows)
        .map_err(|e| {
            state.metrics.observe_error(&name, "bad_tensor");
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
        })?;
    let (v, preds) = score(
        &state,
        &name,
        dep,
        version,
        records,
        request.id.clone(),
        deadline,
    )
    .await?;
    let id = match request.id {
        Some(id) => id,
        None => preds
            .first()
            .map_or_else(|| format!("empty-{v}"), |p| p.request_id.clone()),
    };
    Ok(json(
        StatusCode::OK,
        &InferResponse::from_predictions(&name, v, id, &preds),
    ))
}

async fn infer_latest(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    infer(state, name, None, req).await
}

async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let v = version.parse::<u64>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("version `{version}` is not a non-negative integer"),
        )
    })?;
    infer(state, name, Some(v), req).await
}

#[derive(serde::Deserialize)]
struct V1Body {
    records: Vec<Record>,
}

#[derive(Serialize)]
struct V1Response<'a> {
    predictions: &'a [Prediction],
}

async fn predict_v1(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let deadline = req.extensions().get::<Deadline>().copied();
    let (parts, body) = req.into_parts();
    let key = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = read_body(&state.limits, deadline, &parts.headers, body).await?;
    let dep = find(&state, &name)?;
    let records: Vec<Record> = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => parse_json(&bytes)?,
        _ => parse_json::<V1Body>(&bytes)?.records,
    };
    if records.len() > state.limits.max_rows {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the request has {} rows; at most {} are accepted",
                records.len(),
                state.limits.max_rows
            ),
        ));
    }
    let (_, preds) = score(&state, &name, dep, None, records, key, deadline).await?;
    Ok(json(
        StatusCode::OK,
        &V1Response {
            predictions: &preds,
        },
    ))
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, marks the
/// server not ready, and lets in-flight requests finish (up to [`Limits::shutdown_grace`]).
///
/// # Errors
/// Never fails once listening; accept errors (e.g. too many open files) are retried.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let app = router(Arc::clone(&state));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    let connections = Arc::new(tokio::sync::Semaphore::new(
        state
            .limits
            .max_connections
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    loop {
        // A connection slot first: at the limit, stop accepting until a connection closes.
        let slot = tokio::select! {
            slot = Arc::clone(&connections).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = builder.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(app.clone()),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    state.accepting.store(false, Ordering::Relaxed);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(state.limits.shutdown_grace) => {
            tracing::warn!("graceful shutdown timed out; dropping remaining connections");
        }
    }
    Ok(())
}

/// Binds `addr` and serves until `shutdown` resolves (see [`serve_listener`]).
///
/// # Errors
/// [`HttpError::Bind`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    serve_listener(listener, state, shutdown)
        .await
        .map_err(|source| HttpError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: pass it to [`serve`] as `shutdown`.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Blocks the calling (synchronous) thread until Ctrl-C or SIGTERM, for binaries that run a
/// [`Server`] and want a graceful stop.
///
/// # Errors
/// When the signal runtime cannot be built.
pub fn wait_for_shutdown_signal() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(shutdown_signal());
    Ok(())
}

/// A blocking entry point for synchronous programs: runs the server on its own tokio runtime
/// in a background thread.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts serving with one worker thread per
    /// core.
    ///
    /// # Errors
    /// [`HttpError::Bind`] or [`HttpError::Runtime`].
    pub fn start(
        addr: impl ToSocketAddrs,
        state: Arc<ServerState>,
    ) -> Result<ServerHandle, HttpError> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::start_with_workers(addr, state, workers)
    }

    /// Like [`start`](Self::start) with `workers` runtime threads (at least one).
    ///
    /// # Errors
    /// [`HttpError::Bind`] or [`HttpError::Runtime`].
    pub fn start_with_workers(
        addr: impl ToSocketAddrs,
        state: Arc<ServerState>,
        workers: usize,
    ) -> Result<ServerHandle, HttpError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| HttpError::Bind {
                addr: "<unresolved>".to_string(),
                source,
            })?
            .collect();
        let std_listener =
            std::net::TcpListener::bind(addrs.as_slice()).map_err(|source| HttpError::Bind {
                addr: format!("{addrs:?}"),
                source,
            })?;
        let bind_err = |source| HttpError::Bind {
            addr: format!("{addrs:?}"),
            source,
        };
        let local_addr = std_listener.local_addr().map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("mlops-http")
            .enable_all()
            .build()
            .map_err(HttpError::Runtime)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mlops-http-main".to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)?;
                    serve_listener(listener, state, async {
                        let _ = rx.await;
                    })
                    .await
                })
            })
            .map_err(HttpError::Runtime)?;
        Ok(ServerHandle {
            local_addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

/// A running [`Server`]. Dropping it shuts the server down (gracefully) and waits.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, waits for in-flight requests, and stops the runtime.
    ///
    /// # Errors
    /// [`HttpError::Panicked`] if the server thread panicked, [`HttpError::Runtime`] for an
    /// I/O error of the listener.
    pub fn shutdown(mut self) -> Result<(), HttpError> {
        self.stop()
    }

    /// Blocks until the server stops (it stops when [`shutdown`](Self::shutdown) is called from
    /// elsewhere or the handle is dropped; use [`serve`] with [`shutdown_signal`] to stop on
    /// Ctrl-C).
    fn stop(&mut self) -> Result<(), HttpError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => match t.join() {
                Ok(r) => r.map_err(HttpError::Runtime),
                Err(_) => Err(HttpError::Panicked),
            },
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
