//! The bodies of the cargo-fuzz targets, shared by the fuzz binaries (`fuzz/fuzz_targets/*.rs`,
//! built with `cargo +nightly fuzz`) and by the corpus replay test of the root package
//! (`tests/fuzz_replay.rs`, run by plain `cargo test`).
//!
//! Every function takes arbitrary bytes and must return normally: a panic (including the
//! explicit invariant checks below) is a bug in the library under test. Decoding errors are
//! expected and ignored.
#![allow(dead_code, unexpected_cfgs)]

use std::io;
use std::sync::{Arc, OnceLock};

use mlops_data::BatchStream;
use mlops_data::fingerprint::fingerprint_batches;
use mlops_data::ingest::{CsvOptions, ParquetOptions, read_csv_bytes, read_parquet_bytes};
use mlops_data::profile::{ProfileOptions, profile_stream};
use mlops_data::schema::{ColumnKind, InferOptions, TableSchema, validate};
use mlops_registry::{ModelMetadata, ModelQuery, Registry, RegistryOptions, VersionRef};
use mlops_serve::{Predictor, Record, Value};
use mlops_train::bundle::{FORMAT_VERSION, MAGIC, ModelBundle};

/// Every target, by name (the directories under `fuzz/corpus/` and `fuzz/regressions/`).
pub const TARGETS: &[&str] = &[
    "bundle_decode",
    "registry_events",
    "csv_ingest",
    "parquet_ingest",
    "http_bodies",
];

/// Runs `data` through the target named `target`; `false` if there is no such target (or it
/// is not compiled in: `http_bodies` needs the `http` feature of the root package).
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "bundle_decode" => bundle_decode(data),
        "registry_events" => registry_events(data),
        "csv_ingest" => csv_ingest(data),
        "parquet_ingest" => parquet_ingest(data),
        #[cfg(any(fuzzing, feature = "http"))]
        "http_bodies" => http_bodies(data),
        _ => return false,
    }
    true
}

// ----- bundle_decode -------------------------------------------------------------------------

const BUNDLE_HEADER: usize = 8 + 2 + 8;
const BUNDLE_CHECKSUM: usize = 32;

/// `ModelBundle::from_bytes` on the input as is, then on the input re-sealed (its length field
/// and checksum recomputed) so that mutations of a seed bundle's payload get past the checksum
/// and reach the MessagePack decoder and the consistency checks. A bundle that decodes is
/// checked, re-encoded, turned into a predictor and asked for one prediction.
pub fn bundle_decode(data: &[u8]) {
    if let Ok(bundle) = ModelBundle::from_bytes(data) {
        exercise_bundle(bundle);
    }
    if data.len() >= BUNDLE_HEADER && data.starts_with(MAGIC) {
        let body = data.get(BUNDLE_HEADER..).unwrap_or_default();
        let payload = body
            .get(..body.len().saturating_sub(BUNDLE_CHECKSUM))
            .unwrap_or_default();
        let sealed = seal_bundle(payload);
        if sealed != data
            && let Ok(bundle) = ModelBundle::from_bytes(&sealed)
        {
            exercise_bundle(bundle);
        }
    }
}

/// Wraps a payload in a bundle header and checksum (the layout of `ModelBundle::to_bytes`).
pub fn seal_bundle(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(BUNDLE_HEADER + payload.len() + BUNDLE_CHECKSUM);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(mlops_core::hash_bytes(payload).as_bytes());
    out
}

fn exercise_bundle(bundle: ModelBundle) {
    assert!(
        bundle.check().is_ok(),
        "from_bytes returned a bundle that fails check()"
    );
    let _ = bundle.feature_names();
    if let Ok(bytes) = bundle.to_bytes() {
        // What was accepted once is accepted again.
        assert!(
            ModelBundle::from_bytes(&bytes).is_ok(),
            "a decoded bundle does not decode after re-encoding"
        );
    }
    let _ = bundle.content_hash();
    let Ok(predictor) = Predictor::new("fuzz", 1, bundle) else {
        return;
    };
    let record = default_record(&predictor);
    let _ = predictor.predict(&record, Some("fuzz-1"));
    let _ = predictor.predict(&Record::new(), None);
}

/// A plausible row for a predictor: a value of the right kind for every input column (the
/// first allowed category, the lower end of the range).
fn default_record(p: &Predictor) -> Record {
    let mut r = Record::new();
    for c in p.inputs() {
        let low = c.range.as_ref().map_or(0.0, |r| r.min);
        let v = match c.kind {
            ColumnKind::Float => Value::Float(low),
            ColumnKind::Integer => Value::Int(low as i64),
            ColumnKind::Boolean => Value::Bool(false),
            ColumnKind::Categorical => Value::Str(
                c.categories
                    .as_ref()
                    .and_then(|cats| cats.iter().next().cloned())
                    .unwrap_or_default(),
            ),
        };
        r.insert(c.name.clone(), v);
    }
    r
}

// ----- csv_ingest / parquet_ingest -----------------------------------------------------------

/// `read_csv_bytes` with three option sets (defaults; a 2-row inference sample with 3-row
/// batches, so later rows can contradict the inferred types; `;`-separated without header and
/// with `NA` as null), each stream drained and, if it read, inferred, validated, profiled and
/// fingerprinted.
pub fn csv_ingest(data: &[u8]) {
    let options = [
        CsvOptions::default(),
        CsvOptions::default().with_infer_rows(2).with_batch_size(3),
        CsvOptions::default()
            .with_delimiter(b';')
            .with_header(false)
            .with_null_values(["", "NA"]),
    ];
    for o in &options {
        drain(read_csv_bytes(data.to_vec(), o));
    }
}

/// `read_parquet_bytes` with the default options and with 3-row batches, drained and analysed
/// like [`csv_ingest`].
pub fn parquet_ingest(data: &[u8]) {
    for options in [
        ParquetOptions::default(),
        ParquetOptions::default().with_batch_size(3),
    ] {
        let read = reading_parquet(|| collect(read_parquet_bytes(data.to_vec(), &options)));
        if let Some((schema, batches)) = read {
            analyse(&schema, &batches);
        }
    }
}

thread_local! {
    static READING_PARQUET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (opening and draining a Parquet stream) with [`READING_PARQUET`] set.
fn reading_parquet<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            READING_PARQUET.with(|r| r.set(false));
        }
    }
    READING_PARQUET.with(|r| r.set(true));
    let _reset = Reset;
    f()
}

/// For the `parquet_ingest` fuzz binary only: `mlops_data` catches the panics the parquet
/// decoder (arrow-rs) still has on some corrupt files (apache/arrow-rs#9434 and relatives: a
/// data page that refers to a missing dictionary, an arrow-buffer assertion reached from the
/// definition levels, a `Bytes` slice past the end of a page) and returns `Error::Parquet`, but
/// libFuzzer's panic hook aborts at the panic, before the catch. This hook lets a panic unwind
/// while the harness is opening or draining a Parquet stream, and aborts on every other panic
/// as before. A reading panic that `mlops_data` does not catch still aborts: libfuzzer-sys
/// aborts when the input's closure unwinds.
pub fn tolerate_caught_parquet_panics() {
    let libfuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !READING_PARQUET.with(std::cell::Cell::get) {
            libfuzzer_hook(info);
        }
    }));
}

fn drain(stream: mlops_data::Result<BatchStream>) {
    if let Some((schema, batches)) = collect(stream) {
        analyse(&schema, &batches);
    }
}

/// Reads a stream to its end or its first error.
fn collect(
    stream: mlops_data::Result<BatchStream>,
) -> Option<(
    mlops_data::arrow::SchemaRef,
    Vec<mlops_data::arrow::RecordBatch>,
)> {
    let stream = stream.ok()?;
    let schema = stream.schema();
    let mut batches = Vec::new();
    for b in stream {
        match b {
            Ok(b) => {
                assert_eq!(
                    b.schema().fields(),
                    schema.fields(),
                    "a batch does not have the stream's schema"
                );
                batches.push(b);
            }
            Err(_) => break,
        }
    }
    Some((schema, batches))
}

/// Schema inference, validation, profile and fingerprint of what was read.
fn analyse(schema: &mlops_data::arrow::SchemaRef, batches: &[mlops_data::arrow::RecordBatch]) {
    let again = || BatchStream::from_batches(schema.clone(), batches.to_vec());
    if let Ok(table) = TableSchema::infer(again(), &InferOptions::default()) {
        let _ = table.check();
        let _ = validate(&table, again());
    }
    let _ = profile_stream(again(), &ProfileOptions::default());
    let _ = fingerprint_batches(schema, batches);
}

// ----- registry_events -----------------------------------------------------------------------

/// Separates the objects of one `registry_events` input.
pub const OBJECT_SEPARATOR: &[u8] = b"\n--8<--\n";
/// Most objects taken from one input.
const MAX_OBJECTS: usize = 64;
const SNAPSHOT_MAGIC: &[u8] = b"MLOPSSNP";
const SNAPSHOT_HEADER: usize = 8 + 4 + 32;

/// The runtime that fills the in-memory stores (created once; the registry handles run their
/// own).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("cannot start the fuzz runtime: {e}"),
        }
    })
}

/// The objects of a `registry_events` input: chunks separated by [`OBJECT_SEPARATOR`], each
/// - `key <path>\n<bytes>`: stored under that key as is;
/// - `blob\n<bytes>`: stored content-addressed under `blobs/sha256/{hex}`;
/// - starting with the snapshot magic: stored as `snapshots/{n}` (n = events so far, at least
///   1) with its digest fixed up so that mutations reach the decoder;
/// - anything else: the next event `events/{n}` (an empty chunk leaves a gap in the log).
pub fn registry_objects(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for chunk in split(data, OBJECT_SEPARATOR).take(MAX_OBJECTS) {
        if let Some(rest) = chunk.strip_prefix(b"key ".as_slice()) {
            let (key, value) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            out.push((String::from_utf8_lossy(key).into_owned(), value.to_vec()));
        } else if let Some(blob) = chunk.strip_prefix(b"blob\n".as_slice()) {
            let hex = mlops_core::hash_bytes(blob).to_hex();
            out.push((format!("blobs/sha256/{hex}"), blob.to_vec()));
        } else if chunk.starts_with(SNAPSHOT_MAGIC) {
            let mut snap = chunk.to_vec();
            if snap.len() >= SNAPSHOT_HEADER {
                let digest = mlops_core::hash_bytes(&snap[SNAPSHOT_HEADER..]);
                snap[12..SNAPSHOT_HEADER].copy_from_slice(digest.as_bytes());
            }
            out.push((format!("snapshots/{:020}", seq.max(1)), snap));
        } else {
            seq += 1;
            if !chunk.is_empty() {
                out.push((format!("events/{seq:020}"), chunk.to_vec()));
            }
        }
    }
    out
}

fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Puts the input's objects (see [`registry_objects`]) into an in-memory store, opens a
/// registry on it and reads everything the public API offers, appends one version and a
/// snapshot on top, reopens, and finally verifies the store with a handle that does not
/// need the log to be sound.
pub fn registry_events(data: &[u8]) {
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStore, ObjectStoreExt};

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let objects = registry_objects(data);
    runtime().block_on(async {
        for (key, value) in objects {
            let _ = store.put(&Path::from(key.as_str()), value.into()).await;
        }
    });
    let opts = || {
        RegistryOptions::default()
            .with_actor("fuzz")
            .with_snapshot_every(0)
    };
    if let Ok(reg) = Registry::from_store(Arc::clone(&store), opts()) {
        read_everything(&reg);
        if reg
            .register(
                "fuzz-model",
                b"bundle".to_vec(),
                ModelMetadata::default(),
                "fuzz",
            )
            .is_ok()
        {
            let _ = reg.snapshot();
            if let Ok(again) = Registry::from_store(Arc::clone(&store), opts()) {
                read_everything(&again);
            }
        }
    }
    if let Ok(reg) = Registry::connect(store, opts()) {
        let _ = reg.verify();
    }
}

fn read_everything(reg: &Registry) {
    let _ = reg.head();
    if let Ok(models) = reg.models() {
        for m in models.iter().take(8) {
            let m = m.as_str();
            let _ = reg.versions(m);
            let _ = reg.aliases(m);
            let _ = reg.version(m, VersionRef::Latest);
            let _ = reg.load(m, VersionRef::Number(1));
            let _ = reg.lineage(m, VersionRef::Latest);
            let _ = reg.model_card(m, VersionRef::Latest);
        }
    }
    if let Ok(runs) = reg.runs(None) {
        for r in runs.iter().take(8) {
            let _ = reg.get_run(r.run.as_str());
        }
    }
    if let Ok(datasets) = reg.datasets() {
        for d in datasets.iter().take(8) {
            let _ = reg.load_dataset_to(&d.fingerprint, &mut io::sink());
        }
    }
    let _ = reg.events();
    let _ = reg.export_jsonl(io::sink());
    let _ = reg.search(&ModelQuery::default());
    let _ = reg.verify();
}

// ----- http_bodies ---------------------------------------------------------------------------

/// The request body sent to the Open Inference Protocol route and to the records route of a
/// server holding one small churn model, through the axum router (no sockets). The server must
/// answer every body with a JSON response and never with a 500 (a caught panic).
#[cfg(any(fuzzing, feature = "http"))]
pub fn http_bodies(data: &[u8]) {
    http_post("/v2/models/churn/infer", data);
    // The versioned route shares the handler; one body in 8 is enough to cover it.
    if data.len().is_multiple_of(8) {
        http_post("/v2/models/churn/versions/1/infer", data);
    }
    http_post("/v1/models/churn/predict", data);
}

#[cfg(any(fuzzing, feature = "http"))]
fn http_post(uri: &str, data: &[u8]) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    let router = http_router().clone();
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()));
    let Ok(request) = request else { return };
    let (status, body) = runtime().block_on(async move {
        let Ok(response) = router.oneshot(request).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 16 << 20).await;
        (status, body)
    });
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server panicked on this body"
    );
    let body = match body {
        Ok(b) => b,
        Err(e) => panic!("cannot read the response body: {e}"),
    };
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => panic!("the response ({status}) is not JSON: {e}"),
    };
    if status == StatusCode::OK {
        let rows = if uri.starts_with("/v1/") {
            json["predictions"].as_array().map(Vec::len)
        } else {
            json["outputs"][0]["data"].as_array().map(Vec::len)
        };
        assert!(rows.is_some(), "a 200 answer without predictions: {json}");
    } else {
        assert!(
            json["error"].is_string(),
            "an error without a message: {json}"
        );
    }
}

/// The model every HTTP input is scored with: logistic regression on 300 synthetic churn rows
/// (trained once per process).
#[cfg(any(fuzzing, feature = "http"))]
fn http_router() -> &'static axum::Router {
    use mlops_serve::Deployment;
    use mlops_serve::http::{Limits, ServerState, router};

    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let bundle = match tiny_bundle(300, 7, false) {
            Ok(b) => b,
            Err(e) => panic!("cannot train the fuzz model: {e}"),
        };
        let predictor = match Predictor::new("churn", 1, bundle) {
            Ok(p) => p,
            Err(e) => panic!("cannot build the fuzz predictor: {e}"),
        };
        let limits = Limits {
            max_body_bytes: 256 << 10,
            max_rows: 64,
            ..Limits::default()
        };
        let state = ServerState::new()
            .with_deployment(Arc::new(Deployment::new(predictor)))
            .with_limits(limits);
        router(Arc::new(state))
    })
}

/// A small deterministic bundle: `rows` synthetic churn rows, the standard churn pipeline, and
/// a logistic regression (or a depth-3 tree).
pub fn tiny_bundle(rows: u64, seed: u64, tree: bool) -> mlops_train::Result<ModelBundle> {
    use mlops_data::synth::{LABEL_COLUMN, POSITIVE_LABEL, churn_pipeline, churn_table};
    use mlops_data::transform::ImputeStrategy;
    use mlops_train::select::Candidate;
    use mlops_train::{DecisionTree, LogisticRegression, TrainConfig};

    let batch = churn_table(rows, seed)?;
    let candidate = if tree {
        Candidate::new(Box::new(DecisionTree::new().max_depth(Some(3)).check()?))
    } else {
        Candidate::new(Box::new(LogisticRegression::new().check()?))
    };
    let config = TrainConfig::new(
        LABEL_COLUMN,
        POSITIVE_LABEL,
        churn_pipeline(ImputeStrategy::Median),
    )
    .seed(seed);
    Ok(mlops_train::train(&config, &batch, &[candidate])?.bundle)
}
