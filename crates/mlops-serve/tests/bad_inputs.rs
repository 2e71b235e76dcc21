//! The bad-input catalogue of `mlops-serve` (issue 8): bad records at predict time, bad files
//! for batch scoring, and (feature `http`) bad HTTP requests and slow clients. Each case names
//! the exact error (variant, or status + `kind`) and what the message must name; after every
//! case the deployment still serves the same version and nothing was written.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from these tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use mlops_serve::batch::{BatchOptions, score_file};
use std::sync::OnceLock;

use mlops_data::pipeline::Pipeline;
use mlops_data::synth::{
    CATEGORICAL_COLUMNS, ChurnConfig, ChurnGenerator, LABEL_COLUMN, NUMERIC_COLUMNS, POSITIVE_LABEL,
};
use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
use mlops_serve::{Deployment, Predictor, Record, ServeError, Value};
use mlops_train::select::Candidate;
use mlops_train::{LogisticRegression, TrainConfig};

/// A bad record for `Deployment::predict`.
struct Case {
    name: &'static str,
    /// Turns a valid record into the bad one.
    edit: fn(&mut Record),
    expect: fn(&ServeError) -> bool,
    /// Substrings the message must contain.
    names: &'static [&'static str],
    /// The `ServeError::kind()` label.
    kind: &'static str,
}

fn set(r: &mut Record, column: &str, v: Value) {
    r.0.insert(column.to_string(), v);
}

/// A bundle whose signature records training ranges, whose categorical columns are not imputed
/// (a null reaches the encoder) and whose encoder rejects unseen categories: the strictest model.
fn strict_bundle() -> &'static mlops_train::ModelBundle {
    static B: OnceLock<mlops_train::ModelBundle> = OnceLock::new();
    B.get_or_init(|| {
        let pipeline = Pipeline::new()
            .group(
                "num",
                NUMERIC_COLUMNS,
                [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()],
            )
            .group(
                "cat",
                CATEGORICAL_COLUMNS,
                [Step::one_hot(UnknownCategory::Error)],
            );
        let data = ChurnGenerator::new(ChurnConfig {
            rows: 3000,
            seed: 4,
            null_rate: 0.0,
            ..ChurnConfig::default()
        })
        .unwrap()
        .to_batch()
        .unwrap();
        let mut config = TrainConfig::new(LABEL_COLUMN, POSITIVE_LABEL, pipeline).seed(4);
        config.signature_ranges = true;
        mlops_train::train(
            &config,
            &data,
            &[Candidate::new(Box::new(
                LogisticRegression::new().check().unwrap(),
            ))],
        )
        .unwrap()
        .bundle
    })
}

/// Churn rows without nulls.
fn clean_rows(rows: u64, seed: u64) -> mlops_data::arrow::RecordBatch {
    ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        null_rate: 0.0,
        ..ChurnConfig::default()
    })
    .unwrap()
    .to_batch()
    .unwrap()
}

fn strict_deployment() -> (Deployment, Record) {
    let predictor = Predictor::new("churn", 3, strict_bundle().clone()).unwrap();
    let row = common::record(&clean_rows(50, 91), 0);
    (Deployment::new(predictor), row)
}

fn record_cases() -> Vec<Case> {
    vec![
        Case {
            name: "missing column",
            edit: |r| {
                r.0.remove("tenure_months");
            },
            expect: |e| matches!(e, ServeError::MissingColumn { column } if column == "tenure_months"),
            names: &["missing column", "tenure_months"],
            kind: "missing_column",
        },
        Case {
            name: "text in a numeric column",
            edit: |r| set(r, "tenure_months", Value::Str("ten".into())),
            expect: |e| matches!(e, ServeError::WrongType { column, .. } if column == "tenure_months"),
            names: &["tenure_months"],
            kind: "wrong_type",
        },
        Case {
            name: "number in a categorical column",
            edit: |r| set(r, "plan", Value::Float(3.0)),
            expect: |e| matches!(e, ServeError::WrongType { column, .. } if column == "plan"),
            names: &["plan"],
            kind: "wrong_type",
        },
        Case {
            name: "boolean in a numeric column",
            edit: |r| set(r, "monthly_charges", Value::Bool(true)),
            expect: |e| matches!(e, ServeError::WrongType { column, .. } if column == "monthly_charges"),
            names: &["monthly_charges"],
            kind: "wrong_type",
        },
        Case {
            name: "NaN value",
            edit: |r| set(r, "monthly_charges", Value::Float(f64::NAN)),
            expect: |e| matches!(e, ServeError::NonFinite { column } if column == "monthly_charges"),
            names: &["monthly_charges", "NaN or infinite"],
            kind: "non_finite",
        },
        Case {
            name: "infinite value",
            edit: |r| set(r, "monthly_charges", Value::Float(f64::NEG_INFINITY)),
            expect: |e| matches!(e, ServeError::NonFinite { column } if column == "monthly_charges"),
            names: &["monthly_charges"],
            kind: "non_finite",
        },
        Case {
            name: "\"NaN\" as text in a numeric column",
            edit: |r| set(r, "monthly_charges", Value::Str("NaN".into())),
            expect: |e| matches!(e, ServeError::WrongType { column, .. } if column == "monthly_charges"),
            names: &["monthly_charges"],
            kind: "wrong_type",
        },
        Case {
            name: "huge value far outside the training range",
            edit: |r| set(r, "monthly_charges", Value::Float(1e308)),
            expect: |e| {
                matches!(e, ServeError::OutOfRange { column, value, .. }
                    if column == "monthly_charges" && *value == 1e308)
            },
            names: &["monthly_charges", "outside"],
            kind: "out_of_range",
        },
        Case {
            name: "i64::MAX in an integer column",
            edit: |r| set(r, "tenure_months", Value::Int(i64::MAX)),
            expect: |e| matches!(e, ServeError::OutOfRange { column, .. } if column == "tenure_months"),
            names: &["tenure_months"],
            kind: "out_of_range",
        },
        Case {
            name: "unseen category (encoder with the error policy)",
            edit: |r| set(r, "plan", Value::Str("platinum-x".into())),
            expect: |e| {
                matches!(e, ServeError::UnseenCategory { column, value }
                    if column == "plan" && value == "platinum-x")
            },
            names: &["plan", "platinum-x"],
            kind: "unseen_category",
        },
        Case {
            name: "null in a categorical column the pipeline does not impute",
            edit: |r| set(r, "plan", Value::Null),
            expect: |e| matches!(e, ServeError::NullValue { column } if column == "plan"),
            names: &["plan", "null"],
            kind: "null_value",
        },
        Case {
            name: "empty record",
            edit: |r| r.0.clear(),
            expect: |e| matches!(e, ServeError::MissingColumn { .. }),
            names: &["missing column"],
            kind: "missing_column",
        },
    ]
}

#[test]
fn every_bad_record_is_the_documented_typed_error() {
    let (deployment, row) = strict_deployment();
    let before = (deployment.current().version(), deployment.versions());
    let baseline = deployment.predict(&row, Some("k")).unwrap().probability;
    let cases = record_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let mut record = row.clone();
        (case.edit)(&mut record);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deployment.predict(&record, Some("k"))
        }));
        match outcome {
            Err(_) => failures.push(format!("{}: PANICKED", case.name)),
            Ok(Ok(p)) => failures.push(format!("{}: accepted ({p:?})", case.name)),
            Ok(Err(e)) => {
                if !(case.expect)(&e) {
                    failures.push(format!("{}: wrong error {e:?}", case.name));
                }
                if e.kind() != case.kind {
                    failures.push(format!("{}: kind {} != {}", case.name, e.kind(), case.kind));
                }
                if !e.is_client_error() {
                    failures.push(format!("{}: not a client error", case.name));
                }
                let message = e.to_string();
                for needle in case.names {
                    if !message.contains(needle) {
                        failures.push(format!("{}: {message:?} lacks {needle:?}", case.name));
                    }
                }
            }
        }
        // Nothing changed: same version served, same answer for the good row.
        if (deployment.current().version(), deployment.versions()) != before {
            failures.push(format!("{}: the deployment changed", case.name));
        }
    }
    let after = deployment.predict(&row, Some("k")).unwrap().probability;
    if after.to_bits() != baseline.to_bits() {
        failures.push("the good row scores differently after the bad ones".into());
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) over {} case(s):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Inputs that are tolerated on purpose (documented as such): they are not errors.
#[test]
fn tolerated_inputs_are_accepted() {
    let (deployment, row) = strict_deployment();
    let base = deployment.predict(&row, None).unwrap().probability;
    // An extra column is ignored.
    let mut extra = row.clone();
    set(&mut extra, "not_a_feature", Value::Str("x".into()));
    assert_eq!(
        deployment
            .predict(&extra, None)
            .unwrap()
            .probability
            .to_bits(),
        base.to_bits()
    );
    // A null in a numeric column is imputed.
    let mut null = row.clone();
    set(&mut null, "tenure_months", Value::Null);
    deployment.predict(&null, None).unwrap();
    // An integer where a float is expected is widened.
    let mut int = row.clone();
    let charges = match int.get("monthly_charges").unwrap() {
        Value::Float(f) => f.round(),
        other => panic!("{other:?}"),
    };
    set(&mut int, "monthly_charges", Value::Int(charges as i64));
    deployment.predict(&int, None).unwrap();
}

// ---- other failure modes of the library ------------------------------------------------------

struct OtherCase {
    name: &'static str,
    run: fn(&Path) -> Result<(), ServeError>,
    expect: fn(&ServeError) -> bool,
    names: &'static [&'static str],
}

fn batch_opts() -> BatchOptions {
    BatchOptions {
        batch_size: 16,
        ..BatchOptions::default()
    }
}

fn score(input: &Path, out: &Path, options: BatchOptions) -> Result<(), ServeError> {
    let p = Predictor::new("churn", 3, strict_bundle().clone())?;
    score_file(&p, input, out, options).map(|_| ())
}

/// The churn CSV with the `tenure_months` cell of data row `bad_row` (0-based) replaced.
fn churn_csv(dir: &Path, bad_row: Option<usize>, bad: &str) -> std::path::PathBuf {
    let batch = clean_rows(40, 5);
    let path = dir.join("in.csv");
    mlops_data::ingest::write_csv_path(
        &path,
        mlops_data::BatchStream::from_batches(batch.schema(), vec![batch]),
    )
    .unwrap();
    if let Some(bad_row) = bad_row {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let col = header.iter().position(|h| *h == "tenure_months").unwrap();
        let mut cells: Vec<String> = lines[bad_row + 1].split(',').map(str::to_string).collect();
        cells[col] = bad.to_string();
        lines[bad_row + 1] = cells.join(",");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    path
}

fn other_cases() -> Vec<OtherCase> {
    vec![
        OtherCase {
            name: "batch scoring: missing input file",
            run: |d| score(&d.join("nope.csv"), &d.join("out.parquet"), batch_opts()),
            expect: |e| matches!(e, ServeError::Io(m) if m.contains("nope.csv")),
            names: &["nope.csv"],
        },
        OtherCase {
            name: "batch scoring: unknown extension",
            run: |d| score(&d.join("in.xlsx"), &d.join("out.parquet"), batch_opts()),
            expect: |e| matches!(e, ServeError::Io(m) if m.contains("in.xlsx")),
            names: &["in.xlsx"],
        },
        OtherCase {
            name: "batch scoring: empty CSV",
            run: |d| {
                std::fs::write(d.join("in.csv"), "").unwrap();
                score(&d.join("in.csv"), &d.join("out.parquet"), batch_opts())
            },
            expect: |e| matches!(e, ServeError::Io(m) if m.contains("empty table")),
            names: &["in.csv"],
        },
        OtherCase {
            name: "batch scoring: header-only CSV",
            run: |d| {
                let path = churn_csv(d, None, "");
                let header = std::fs::read_to_string(&path).unwrap();
                let header = header.lines().next().unwrap().to_string();
                std::fs::write(&path, header + "\n").unwrap();
                score(&path, &d.join("out.parquet"), batch_opts())
            },
            expect: |e| matches!(e, ServeError::Io(m) if m.contains("empty table")),
            names: &["in.csv"],
        },
        OtherCase {
            name: "batch scoring: text in a numeric column (fail policy)",
            run: |d| {
                let path = churn_csv(d, Some(17), "abc");
                score(&path, &d.join("out.parquet"), batch_opts())
            },
            expect: |e| matches!(e, ServeError::BadRow { row: 17, .. }),
            names: &["row 17", "tenure_months"],
        },
        OtherCase {
            name: "batch scoring: zero batch size",
            run: |d| {
                let path = churn_csv(d, None, "");
                score(
                    &path,
                    &d.join("out.parquet"),
                    BatchOptions {
                        batch_size: 0,
                        ..BatchOptions::default()
                    },
                )
            },
            expect: |e| {
                matches!(
                    e,
                    ServeError::InvalidArgument {
                        what: "batch_size",
                        ..
                    }
                )
            },
            names: &["batch_size"],
        },
        OtherCase {
            name: "deployment from a registry: unknown model",
            run: |_| {
                let reg = mlops_registry::Registry::in_memory().unwrap();
                Deployment::from_registry(&reg, "ghost", mlops_registry::VersionRef::Latest)
                    .map(|_| ())
            },
            expect: |e| matches!(e, ServeError::Registry(m) if m.contains("not found")),
            names: &["ghost"],
        },
        OtherCase {
            name: "deployment from a registry: traversal model name",
            run: |_| {
                let reg = mlops_registry::Registry::in_memory().unwrap();
                Deployment::from_registry(&reg, "../x", mlops_registry::VersionRef::Latest)
                    .map(|_| ())
            },
            expect: |e| matches!(e, ServeError::Registry(m) if m.contains("invalid model name")),
            names: &["../x"],
        },
        OtherCase {
            name: "deployment from a registry: stored bytes are not a bundle",
            run: |_| {
                let reg = mlops_registry::Registry::in_memory().unwrap();
                reg.register(
                    "raw",
                    b"PK\x03\x04 a pickle".to_vec(),
                    mlops_registry::ModelMetadata::default(),
                    "r",
                )
                .unwrap();
                Deployment::from_registry(&reg, "raw", mlops_registry::VersionRef::Latest)
                    .map(|_| ())
            },
            expect: |e| matches!(e, ServeError::Model(m) if m.contains("not a model bundle")),
            names: &["not a model bundle"],
        },
        OtherCase {
            name: "deployment: rollback with no previous version",
            run: |_| strict_deployment().0.rollback(),
            expect: |e| matches!(e, ServeError::NoPrevious { name } if name == "churn"),
            names: &["churn"],
        },
        OtherCase {
            name: "deployment: canary share outside [0, 1]",
            run: |_| {
                let (d, _) = strict_deployment();
                let p = Predictor::new("churn", 4, strict_bundle().clone())?;
                d.set_canary(p, 1.5)
            },
            expect: |e| matches!(e, ServeError::InvalidArgument { .. }),
            names: &["1.5"],
        },
        OtherCase {
            name: "deployment: NaN canary share",
            run: |_| {
                let (d, _) = strict_deployment();
                let p = Predictor::new("churn", 4, strict_bundle().clone())?;
                d.set_canary(p, f64::NAN)
            },
            expect: |e| matches!(e, ServeError::InvalidArgument { .. }),
            names: &["NaN"],
        },
        OtherCase {
            name: "deployment: unknown version",
            run: |_| {
                let (d, row) = strict_deployment();
                d.predict_version(99, &row, None).map(|_| ())
            },
            expect: |e| matches!(e, ServeError::VersionNotFound { version: 99, .. }),
            names: &["99"],
        },
    ]
}

#[test]
fn every_other_bad_call_is_the_documented_typed_error() {
    let cases = other_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let outcome = std::panic::catch_unwind(|| (case.run)(dir.path()));
        match outcome {
            Err(_) => failures.push(format!("{}: PANICKED", case.name)),
            Ok(Ok(())) => failures.push(format!("{}: succeeded", case.name)),
            Ok(Err(e)) => {
                if !(case.expect)(&e) {
                    failures.push(format!("{}: wrong error {e:?}", case.name));
                }
                let message = e.to_string();
                for needle in case.names {
                    if !message.contains(needle) {
                        failures.push(format!("{}: {message:?} lacks {needle:?}", case.name));
                    }
                }
            }
        }
        // A failed batch scoring leaves no output file (and no temporary file).
        if dir.path().join("out.parquet").exists() {
            failures.push(format!("{}: left an output file", case.name));
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "in.csv")
            .collect();
        if !leftovers.is_empty() {
            failures.push(format!("{}: left files {leftovers:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) over {} case(s):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A failed batch scoring leaves an existing output file as it was.
#[test]
fn failed_batch_scoring_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = churn_csv(dir.path(), Some(3), "abc");
    let out = dir.path().join("out.parquet");
    std::fs::write(&out, b"previous").unwrap();
    let e = score(&input, &out, batch_opts()).unwrap_err();
    assert!(matches!(e, ServeError::BadRow { row: 3, .. }), "{e:?}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
}

#[cfg(feature = "http")]
mod http_common;

#[cfg(feature = "http")]
mod http {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use mlops_serve::http::{Limits, Server, ServerHandle, ServerState};
    use mlops_serve::{Deployment, Predictor, Record, Value};

    use super::http_common::{Client, Resp, oip_body};
    use super::{common, strict_bundle};

    const TOKEN: &str = "s3cret";
    const MAX_BODY: usize = 64 * 1024;
    const MAX_ROWS: usize = 10;

    struct Fx {
        server: ServerHandle,
        deployment: Arc<Deployment>,
        rows: Vec<Record>,
    }

    fn start(limits: Limits) -> Fx {
        let predictor = Predictor::new("churn", 3, strict_bundle().clone()).unwrap();
        let deployment = Arc::new(Deployment::new(predictor));
        let state = Arc::new(
            ServerState::new()
                .with_deployment(Arc::clone(&deployment))
                .with_bearer_token(TOKEN)
                .with_limits(limits),
        );
        let server = Server::start_with_workers("127.0.0.1:0", state, 2).unwrap();
        Fx {
            server,
            deployment,
            rows: common::records(&super::clean_rows(20, 33)),
        }
    }

    /// One bad HTTP request.
    struct HttpCase {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        /// Extra headers; the right bearer token is sent unless `auth` overrides it.
        headers: &'static [(&'static str, &'static str)],
        /// The `Authorization` header (`None`: send none).
        auth: Option<&'static str>,
        body: fn(&Fx) -> Vec<u8>,
        status: u16,
        /// The `kind` field of the JSON error, when the error is a prediction error.
        kind: Option<&'static str>,
        /// Substrings of the `error` message.
        names: &'static [&'static str],
    }

    const BEARER: Option<&str> = Some("Bearer s3cret");

    fn one(fx: &Fx) -> Vec<u8> {
        oip_body(&fx.rows[..1], None).into_bytes()
    }

    fn edited(fx: &Fx, column: &str, v: Value) -> Vec<u8> {
        let mut r = fx.rows[0].clone();
        r.0.insert(column.to_string(), v);
        oip_body(&[r], None).into_bytes()
    }

    fn v1(fx: &Fx, column: &str, v: serde_json::Value) -> Vec<u8> {
        let mut row = serde_json::to_value(&fx.rows[0]).unwrap();
        row[column] = v;
        serde_json::json!({ "records": [row] })
            .to_string()
            .into_bytes()
    }

    fn http_cases() -> Vec<HttpCase> {
        const INFER: &str = "/v2/models/churn/infer";
        const V1: &str = "/v1/models/churn/predict";
        vec![
            HttpCase {
                name: "body over max_body_bytes (Content-Length)",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| vec![b' '; MAX_BODY + 1],
                status: 413,
                kind: None,
                names: &[],
            },
            HttpCase {
                name: "more rows than max_rows",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |fx| {
                    let rows: Vec<Record> = (0..=MAX_ROWS)
                        .map(|i| fx.rows[i % fx.rows.len()].clone())
                        .collect();
                    oip_body(&rows, None).into_bytes()
                },
                status: 400,
                kind: None,
                names: &["11", "10"],
            },
            HttpCase {
                name: "more rows than max_rows (v1)",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |fx| {
                    let rows: Vec<&Record> = (0..=MAX_ROWS).map(|i| &fx.rows[i]).collect();
                    serde_json::to_vec(&rows).unwrap()
                },
                status: 400,
                kind: None,
                names: &["11 rows", "at most 10"],
            },
            HttpCase {
                name: "malformed JSON",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| b"{\"inputs\": [".to_vec(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "empty body",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| Vec::new(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "non-UTF-8 body",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| b"{\"inputs\": [\xff\xfe]}".to_vec(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "non-UTF-8 byte inside a string value",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |_| b"[{\"plan\": \"caf\xe9\"}]".to_vec(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "form-encoded body with a form content type",
                method: "POST",
                path: INFER,
                headers: &[("Content-Type", "application/x-www-form-urlencoded")],
                auth: BEARER,
                body: |_| b"age=3&plan=gold".to_vec(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "JSON of the wrong shape (no inputs)",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| b"{\"rows\": []}".to_vec(),
                status: 400,
                kind: None,
                names: &["inputs"],
            },
            HttpCase {
                name: "tensor shape disagrees with its data",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| {
                    br#"{"inputs":[{"name":"age","shape":[2],"datatype":"FP64","data":[1.0]}]}"#
                        .to_vec()
                },
                status: 400,
                kind: None,
                names: &["age"],
            },
            HttpCase {
                name: "\"NaN\" string in an FP64 tensor",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| {
                    br#"{"inputs":[{"name":"age","shape":[1],"datatype":"FP64","data":["NaN"]}]}"#
                        .to_vec()
                },
                status: 400,
                kind: None,
                names: &["age"],
            },
            HttpCase {
                name: "unknown tensor datatype",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| {
                    br#"{"inputs":[{"name":"age","shape":[1],"datatype":"COMPLEX","data":[1]}]}"#
                        .to_vec()
                },
                status: 400,
                kind: None,
                names: &["COMPLEX"],
            },
            HttpCase {
                name: "duplicate input tensor names",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| {
                    br#"{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]},{"name":"a","shape":[1],"datatype":"FP64","data":[1]}]}"#
                        .to_vec()
                },
                status: 400,
                kind: None,
                names: &["`a`", "more than once"],
            },
            HttpCase {
                name: "missing signature column",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |fx| {
                    let mut r = fx.rows[0].clone();
                    r.0.remove("tenure_months");
                    oip_body(&[r], None).into_bytes()
                },
                status: 422,
                kind: Some("missing_column"),
                names: &["tenure_months"],
            },
            HttpCase {
                name: "text in a numeric column",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |fx| edited(fx, "tenure_months", Value::Str("ten".into())),
                status: 422,
                kind: Some("wrong_type"),
                names: &["tenure_months"],
            },
            HttpCase {
                name: "\"NaN\" string in a numeric field (v1)",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |fx| v1(fx, "monthly_charges", serde_json::json!("NaN")),
                status: 422,
                kind: Some("wrong_type"),
                names: &["monthly_charges"],
            },
            HttpCase {
                name: "huge number (1e308) in a numeric field",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |fx| v1(fx, "monthly_charges", serde_json::json!(1e308)),
                status: 422,
                kind: Some("out_of_range"),
                names: &["monthly_charges"],
            },
            HttpCase {
                name: "number beyond f64 (1e999) in JSON",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |_| b"[{\"monthly_charges\": 1e999}]".to_vec(),
                status: 400,
                kind: None,
                names: &["malformed JSON"],
            },
            HttpCase {
                name: "unseen category",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |fx| edited(fx, "plan", Value::Str("platinum-x".into())),
                status: 422,
                kind: Some("unseen_category"),
                names: &["plan", "platinum-x"],
            },
            HttpCase {
                name: "null in a categorical column the pipeline does not impute",
                method: "POST",
                path: V1,
                headers: &[],
                auth: BEARER,
                body: |fx| v1(fx, "plan", serde_json::Value::Null),
                status: 422,
                kind: Some("null_value"),
                names: &["plan"],
            },
            HttpCase {
                name: "unknown model",
                method: "POST",
                path: "/v2/models/nope/infer",
                headers: &[],
                auth: BEARER,
                body: one,
                status: 404,
                kind: Some("model_not_found"),
                names: &["nope"],
            },
            HttpCase {
                name: "path-traversal model name",
                method: "POST",
                path: "/v2/models/..%2F..%2Fetc/infer",
                headers: &[],
                auth: BEARER,
                body: one,
                status: 404,
                kind: Some("model_not_found"),
                names: &["../../etc"],
            },
            HttpCase {
                name: "unknown version",
                method: "POST",
                path: "/v2/models/churn/versions/7/infer",
                headers: &[],
                auth: BEARER,
                body: one,
                status: 404,
                kind: Some("version_not_found"),
                names: &["7"],
            },
            HttpCase {
                name: "version that is not a number",
                method: "POST",
                path: "/v2/models/churn/versions/latest/infer",
                headers: &[],
                auth: BEARER,
                body: one,
                status: 400,
                kind: None,
                names: &["latest"],
            },
            HttpCase {
                name: "unknown route",
                method: "GET",
                path: "/v3/anything",
                headers: &[],
                auth: BEARER,
                body: |_| Vec::new(),
                status: 404,
                kind: None,
                names: &["no such route"],
            },
            HttpCase {
                name: "wrong method",
                method: "GET",
                path: INFER,
                headers: &[],
                auth: BEARER,
                body: |_| Vec::new(),
                status: 405,
                kind: None,
                names: &["method not allowed"],
            },
            HttpCase {
                name: "no bearer token",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: None,
                body: one,
                status: 401,
                kind: None,
                names: &["bearer token"],
            },
            HttpCase {
                name: "wrong bearer token",
                method: "POST",
                path: INFER,
                headers: &[],
                auth: Some("Bearer nope"),
                body: one,
                status: 401,
                kind: None,
                names: &[],
            },
            HttpCase {
                name: "basic auth instead of a bearer token",
                method: "GET",
                path: "/metrics",
                headers: &[],
                auth: Some("Basic czNjcmV0"),
                body: |_| Vec::new(),
                status: 401,
                kind: None,
                names: &[],
            },
        ]
    }

    fn send(c: &mut Client, case: &HttpCase, body: &[u8]) -> std::io::Result<Resp> {
        let mut headers: Vec<(&str, &str)> = case.headers.to_vec();
        if let Some(a) = case.auth {
            headers.push(("Authorization", a));
        }
        c.request(case.method, case.path, &headers, body)
    }

    #[test]
    fn every_bad_request_gets_the_documented_status() {
        let fx = start(Limits {
            max_body_bytes: MAX_BODY,
            max_rows: MAX_ROWS,
            ..Limits::default()
        });
        let addr = fx.server.local_addr();
        let good = one(&fx);
        let ok = |c: &mut Client| {
            let r = c
                .request(
                    "POST",
                    "/v2/models/churn/infer",
                    &[("Authorization", "Bearer s3cret")],
                    &good,
                )
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["outputs"].clone()
        };
        let baseline = ok(&mut Client::connect(addr).unwrap());
        let cases = http_cases();
        let mut failures = Vec::new();
        for case in &cases {
            let body = (case.body)(&fx);
            let mut c = Client::connect(addr).unwrap();
            let resp = match send(&mut c, case, &body) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{}: no response ({e})", case.name));
                    continue;
                }
            };
            if resp.status != case.status {
                failures.push(format!(
                    "{}: status {} != {} ({})",
                    case.name,
                    resp.status,
                    case.status,
                    resp.text()
                ));
                continue;
            }
            if resp.header("content-type") != Some("application/json") {
                failures.push(format!("{}: not JSON", case.name));
            }
            let json: serde_json::Value = match serde_json::from_slice(&resp.body) {
                Ok(j) => j,
                Err(_) => {
                    failures.push(format!("{}: body is not JSON: {}", case.name, resp.text()));
                    continue;
                }
            };
            let message = json["error"].as_str().unwrap_or_default();
            if message.is_empty() {
                failures.push(format!("{}: no error message", case.name));
            }
            if json["kind"].as_str() != case.kind {
                failures.push(format!(
                    "{}: kind {} != {:?}",
                    case.name, json["kind"], case.kind
                ));
            }
            for needle in case.names {
                if !message.contains(needle) {
                    failures.push(format!("{}: {message:?} lacks {needle:?}", case.name));
                }
            }
            // A client error other than 413 leaves the keep-alive connection usable.
            if case.status != 413 && c.get("/v2/health/live").map(|r| r.status).ok() != Some(200) {
                failures.push(format!("{}: the connection did not survive", case.name));
            }
        }
        // Nothing changed: the same version answers the good request identically.
        assert_eq!(fx.deployment.current().version(), 3);
        assert_eq!(fx.deployment.versions(), vec![3]);
        let after = ok(&mut Client::connect(addr).unwrap());
        if after != baseline {
            failures.push(format!("answers changed: {baseline} -> {after}"));
        }
        assert!(
            failures.is_empty(),
            "{} problem(s) over {} case(s):\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    /// A body declared with no Content-Length (chunked) over the limit is refused with 413 too.
    #[test]
    fn chunked_oversized_body_is_413() {
        let fx = start(Limits {
            max_body_bytes: MAX_BODY,
            ..Limits::default()
        });
        let mut s = TcpStream::connect(fx.server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let chunk = "x".repeat(16 * 1024);
        let mut msg = String::from(
            "POST /v2/models/churn/infer HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        for _ in 0..6 {
            msg.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
        }
        msg.push_str("0\r\n\r\n");
        s.write_all(msg.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let raw = String::from_utf8_lossy(&raw);
        assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
        assert!(raw.contains("\"error\""), "{raw}");
    }

    /// Inputs tolerated on purpose: the content type is not checked (the body must be JSON),
    /// and extra fields are ignored.
    #[test]
    fn tolerated_requests_are_served() {
        let fx = start(Limits::default());
        let mut c = Client::connect(fx.server.local_addr()).unwrap();
        let auth = ("Authorization", "Bearer s3cret");
        let body = oip_body(&fx.rows[..1], None);
        let mut s = TcpStream::connect(fx.server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let msg = format!(
            "POST /v2/models/churn/infer HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(msg.as_bytes()).unwrap();
        let (raw, _) = read_all(s);
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
        let mut row = serde_json::to_value(&fx.rows[0]).unwrap();
        row["not_a_feature"] = serde_json::json!("x");
        let r = c
            .request(
                "POST",
                "/v1/models/churn/predict",
                &[auth],
                serde_json::json!({ "records": [row] })
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        // Health needs no token.
        assert_eq!(c.get("/v2/health/live").unwrap().status, 200);
    }

    fn read_all(mut s: TcpStream) -> (String, Duration) {
        let t = Instant::now();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        (String::from_utf8_lossy(&raw).into_owned(), t.elapsed())
    }

    /// Slow clients: one sends its headers and stalls its body (408), one stalls inside its
    /// headers (disconnected), one trickles its body a byte at a time (408); meanwhile other
    /// clients are served at full speed.
    #[test]
    fn slow_clients_time_out_without_blocking_others() {
        let fx = start(Limits {
            header_read_timeout: Duration::from_millis(1500),
            request_timeout: Duration::from_millis(2000),
            ..Limits::default()
        });
        let addr: SocketAddr = fx.server.local_addr();
        let connect = || {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        };
        let mut body_staller = connect();
        body_staller
            .write_all(
                b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 400\r\n\r\n{\"inputs\":",
            )
            .unwrap();
        let mut head_staller = connect();
        head_staller
            .write_all(b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let mut trickler = connect();
        trickler
            .write_all(
                b"POST /v1/models/churn/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 400\r\n\r\n",
            )
            .unwrap();
        let trickle = std::thread::spawn(move || {
            for _ in 0..60 {
                if trickler.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            read_all(trickler)
        });

        // Others are served meanwhile.
        let body = oip_body(&fx.rows[..1], None);
        let t = Instant::now();
        for _ in 0..20 {
            let r = Client::connect(addr)
                .unwrap()
                .request(
                    "POST",
                    "/v2/models/churn/infer",
                    &[("Authorization", "Bearer s3cret")],
                    body.as_bytes(),
                )
                .unwrap();
            assert_eq!(r.status, 200);
        }
        assert!(
            t.elapsed() < Duration::from_millis(1200),
            "{:?}",
            t.elapsed()
        );

        let (raw, waited) = read_all(body_staller);
        assert!(raw.starts_with("HTTP/1.1 408"), "body staller: {raw}");
        assert!(raw.contains("\"error\""), "{raw}");
        assert!(waited < Duration::from_secs(4), "{waited:?}");

        let mut buf = [0u8; 256];
        let t = Instant::now();
        match head_staller.read(&mut buf) {
            Ok(n) => assert!(
                n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
        }
        assert!(t.elapsed() < Duration::from_secs(4));

        let (raw, _) = trickle.join().unwrap();
        assert!(raw.starts_with("HTTP/1.1 408"), "trickler: {raw}");
        // Still serving, same version.
        assert_eq!(fx.deployment.current().version(), 3);
        let r = Client::connect(addr)
            .unwrap()
            .get("/v2/health/live")
            .unwrap();
        assert_eq!(r.status, 200);
    }
}
