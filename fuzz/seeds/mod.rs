//! Generators of the committed seed corpora (`fuzz/corpus/<target>/seed-*`), run by
//! `cargo test --test fuzz_replay -- --ignored regenerate_seed_corpora` (the Parquet files
//! written by pyarrow come from `fuzz/seeds/gen_parquet.py`). Everything is deterministic: the
//! same build writes the same bytes.
#![allow(dead_code)]

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use mlops_data::arrow::RecordBatch;
use mlops_data::ingest::{
    ParquetCompression, ParquetWriteOptions, write_csv_path, write_parquet_path,
};
use mlops_registry::{Lineage, ModelMetadata, Registry, RegistryOptions, RunRecord};
use mlops_serve::{Record, Value, records_from_batch};

use super::harness::{OBJECT_SEPARATOR, tiny_bundle};

type Res<T> = Result<T, Box<dyn Error>>;

/// Writes every generated seed under `corpus/<target>/`.
pub fn write_all(corpus: &Path) -> Res<()> {
    let put = |target: &str, name: &str, bytes: &[u8]| -> Res<()> {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        Ok(())
    };
    for (name, bytes) in bundle_seeds()? {
        put("bundle_decode", &name, &bytes)?;
    }
    for (name, bytes) in registry_seeds()? {
        put("registry_events", &name, &bytes)?;
    }
    for (name, bytes) in csv_seeds()? {
        put("csv_ingest", &name, &bytes)?;
    }
    for (name, bytes) in parquet_seeds()? {
        put("parquet_ingest", &name, &bytes)?;
    }
    for (name, bytes) in http_seeds()? {
        put("http_bodies", &name, &bytes)?;
    }
    Ok(())
}

fn churn(rows: u64, seed: u64) -> Res<RecordBatch> {
    Ok(mlops_data::synth::churn_table(rows, seed)?)
}

// ----- bundles -------------------------------------------------------------------------------

/// A bundle on 4 feature columns of 120 synthetic churn rows (a few KiB, so that mutations
/// stay fast): logistic regression or a depth-3 tree, mean or median imputation, one-hot
/// encoding that ignores or rejects unseen categories.
pub fn small_bundle(tree: bool, seed: u64) -> Res<Vec<u8>> {
    use mlops_data::pipeline::Pipeline;
    use mlops_data::synth::{LABEL_COLUMN, POSITIVE_LABEL};
    use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
    use mlops_train::select::Candidate;
    use mlops_train::{DecisionTree, LogisticRegression, TrainConfig};

    let full = churn(120, seed)?;
    let keep = [
        "tenure_months",
        "monthly_charges",
        "plan",
        "contract",
        LABEL_COLUMN,
    ];
    let schema = full.schema();
    let indices = keep
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<Result<Vec<_>, _>>()?;
    let batch = full.project(&indices)?;
    let (impute, unknown) = if tree {
        (ImputeStrategy::Median, UnknownCategory::Error)
    } else {
        (ImputeStrategy::Mean, UnknownCategory::Ignore)
    };
    let pipeline = Pipeline::new()
        .group(
            "num",
            ["tenure_months", "monthly_charges"],
            [Step::impute(impute), Step::standard_scaler()],
        )
        .group(
            "cat",
            ["plan", "contract"],
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::one_hot(unknown),
            ],
        );
    let candidate = if tree {
        Candidate::new(Box::new(DecisionTree::new().max_depth(Some(3)).check()?))
    } else {
        Candidate::new(Box::new(LogisticRegression::new().check()?))
    };
    let config = TrainConfig::new(LABEL_COLUMN, POSITIVE_LABEL, pipeline).seed(seed);
    Ok(mlops_train::train(&config, &batch, &[candidate])?
        .bundle
        .to_bytes()?)
}

/// Small real bundles (logistic regression, decision tree), one full-size churn bundle, and
/// near-valid damaged variants.
pub fn bundle_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let logistic = small_bundle(false, 1)?;
    let tree = small_bundle(true, 2)?;
    let mut out = vec![
        ("small-logistic.bundle".to_string(), logistic.clone()),
        ("small-tree.bundle".to_string(), tree.clone()),
        (
            "churn-logistic.bundle".to_string(),
            tiny_bundle(200, 1, false)?.to_bytes()?,
        ),
    ];
    // Header only; a future version; a payload length past the end; a flipped checksum bit.
    out.push(("header-only.bundle".into(), logistic[..18].to_vec()));
    let mut v2 = tree.clone();
    v2[8] = 2;
    out.push(("version2.bundle".into(), v2));
    let mut long = tree.clone();
    long[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
    out.push(("length-max.bundle".into(), long));
    let mut bad = tree;
    if let Some(last) = bad.last_mut() {
        *last ^= 1;
    }
    out.push(("bad-checksum.bundle".into(), bad));
    Ok(out)
}

// ----- registry ------------------------------------------------------------------------------

/// The objects of an in-memory registry after one of each kind of change (with a snapshot
/// every 3 events), sorted by key.
pub fn registry_store_objects() -> Res<Vec<(String, Vec<u8>)>> {
    use futures_like::block_on_list;
    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let opts = RegistryOptions::default()
        .with_actor("seed-bot")
        .with_snapshot_every(3);
    let reg = Registry::from_store(Arc::clone(&store), opts)?;
    let data = b"a,b\n1,2\n".to_vec();
    let fingerprint = mlops_core::hash_bytes(&data);
    reg.add_dataset(fingerprint, Some("train"), &data[..], "snapshot")?;
    let run = RunRecord::new("churn")?
        .with_param("l2", "1.0")
        .with_metric("roc_auc", 0.81)
        .with_dataset(fingerprint);
    let summary = reg.log_run(&run, "training run")?;
    let meta = ModelMetadata::default()
        .with_description("seed model")
        .with_metric("roc_auc", 0.81)
        .with_param("l2", "1.0")
        .with_tag("team", "growth")?
        .with_signature(serde_json::json!({"inputs": [{"name": "x", "type": "f64"}]}))
        .with_lineage(Lineage {
            run_id: Some(summary.run.clone()),
            dataset_fingerprints: vec![fingerprint],
        });
    reg.register("churn", b"bundle one".to_vec(), meta, "first fit")?;
    reg.register(
        "churn",
        b"bundle two".to_vec(),
        ModelMetadata::default().with_metric("roc_auc", 0.83),
        "second fit",
    )?;
    reg.set_alias("churn", "champion", 1, None, "promote")?;
    reg.set_alias("churn", "champion", 2, Some(1), "promote again")?;
    reg.rollback("churn", "champion", 2, "regression in production")?;
    reg.archive("churn", 2, "superseded")?;
    reg.register("other", b"x".to_vec(), ModelMetadata::default(), "")?;
    drop(reg);
    Ok(block_on_list(&store)?)
}

/// The objects as one `registry_events` input (the inverse of
/// [`super::harness::registry_objects`] for a store without gaps or stray keys).
pub fn join_objects(objects: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut events: Vec<(u64, &Vec<u8>)> = Vec::new();
    let mut snapshots: Vec<(u64, &Vec<u8>)> = Vec::new();
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for (key, value) in objects {
        if let Some(n) = key.strip_prefix("events/").and_then(|s| s.parse().ok()) {
            events.push((n, value));
        } else if let Some(n) = key.strip_prefix("snapshots/").and_then(|s| s.parse().ok()) {
            snapshots.push((n, value));
        } else if key.starts_with("blobs/sha256/") {
            chunks.push([b"blob\n".as_slice(), value].concat());
        } else {
            chunks.push([format!("key {key}\n").as_bytes(), value].concat());
        }
    }
    events.sort();
    snapshots.sort();
    for (n, e) in &events {
        chunks.push((*e).clone());
        for (_, s) in snapshots.iter().filter(|(m, _)| m == n) {
            chunks.push((*s).clone());
        }
    }
    chunks.join(OBJECT_SEPARATOR)
}

/// Seeds: the whole store; the events alone; the log up to each snapshot; and every event
/// alone (as event 1, so later ones fail the chain check at once).
pub fn registry_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let objects = registry_store_objects()?;
    for (k, v) in &objects {
        if v.windows(OBJECT_SEPARATOR.len())
            .any(|w| w == OBJECT_SEPARATOR)
        {
            return Err(format!("object {k} contains the separator").into());
        }
    }
    let mut out = vec![("full-store".to_string(), join_objects(&objects))];
    let events: Vec<_> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("events/"))
        .cloned()
        .collect();
    out.push(("events-only".into(), join_objects(&events)));
    let snapshot_tail: Vec<_> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("snapshots/") || k.starts_with("events/"))
        .cloned()
        .collect();
    out.push(("events-and-snapshots".into(), join_objects(&snapshot_tail)));
    for (i, (_, e)) in events.iter().enumerate() {
        out.push((format!("event-{:02}", i + 1), e.clone()));
    }
    Ok(out)
}

mod futures_like {
    use std::sync::Arc;

    use object_store::{ObjectStore, ObjectStoreExt};

    /// Every object of the store, sorted by key.
    pub fn block_on_list(
        store: &Arc<dyn ObjectStore>,
    ) -> Result<Vec<(String, Vec<u8>)>, object_store::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "seed",
                source: Box::new(e),
            })?;
        rt.block_on(async {
            let mut out = Vec::new();
            for prefix in ["blobs/sha256", "events", "snapshots", "tmp"] {
                let prefix = object_store::path::Path::from(prefix);
                let listed = store.list_with_delimiter(Some(&prefix)).await?;
                for m in listed.objects {
                    let bytes = store.get(&m.location).await?.bytes().await?;
                    out.push((m.location.to_string(), bytes.to_vec()));
                }
            }
            out.sort();
            Ok(out)
        })
    }
}

// ----- CSV -----------------------------------------------------------------------------------

/// Hand-written CSVs with odd quoting, types, nulls, line ends and UTF-8, and synthetic churn
/// data written by the CSV writer.
pub fn csv_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let hand: &[(&str, &str)] = &[
        (
            "types.csv",
            "age,income,churned,plan\n34,52000.5,false,gold\n51,,true,basic\n-7,1e3,TRUE,\"gold, plus\"\n",
        ),
        (
            "quoting.csv",
            "a,b,c\n\"x\"\"y\",\"multi\nline\",3\n\"\",\"\"\"\",4\n\"unterminated,5,6\n",
        ),
        (
            "crlf.csv",
            "id,score\r\n1,0.5\r\n2,NaN\r\n3,inf\r\n4,-inf\r\n",
        ),
        (
            "bom-utf8.csv",
            "\u{feff}naïve,città,東京\n1,é,\u{1F600}\n2,\u{0},ß\n",
        ),
        ("ragged.csv", "a,b,c\n1,2\n3,4,5,6\n7,8,9\n"),
        ("header-only.csv", "a,b,c\n"),
        ("empty-names.csv", ",,a,a\n1,2,3,4\n"),
        (
            "int-overflow.csv",
            "big,small\n9223372036854775807,1\n9223372036854775808,-9223372036854775808\n-9223372036854775809,0\n",
        ),
        (
            "late-type-change.csv",
            "n,f\n1,1.5\n2,2.5\n3,3.5\nfour,x\n5,true\n",
        ),
        ("semicolon-na.csv", "1;NA;x\n2;3.5;NA\n;;\n"),
        (
            "bools.csv",
            "flag,other\ntrue,True\nFALSE,false\ntrue,yes\n",
        ),
        (
            "numbers.csv",
            "x\n+1\n-0\n0x10\n1_000\n.5\n5.\n1e400\n-1e-400\n  7  \n",
        ),
        ("tabs-blank-lines.csv", "a\tb\n1\t2\n\n\n3\t4\n"),
        ("one-column.csv", "only\n\n\n\n"),
        ("empty.csv", ""),
        ("newline-only.csv", "\n"),
    ];
    let mut out: Vec<(String, Vec<u8>)> = hand
        .iter()
        .map(|(n, s)| (n.to_string(), s.as_bytes().to_vec()))
        .collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("churn.csv");
    let batch = churn(40, 3)?;
    write_csv_path(
        &path,
        mlops_data::BatchStream::from_batches(batch.schema(), vec![batch]),
    )?;
    out.push(("churn-40.csv".into(), std::fs::read(&path)?));
    Ok(out)
}

// ----- Parquet -------------------------------------------------------------------------------

/// Synthetic churn data (with nulls) written by `mlops_data`'s Parquet writer: 4 columns of 12
/// rows in each compression and in row groups of 5, and the full 30-row churn table.
pub fn parquet_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let dir = tempfile::tempdir()?;
    let mut out = Vec::new();
    let full = churn(30, 5)?;
    let schema = full.schema();
    let indices = ["tenure_months", "plan", "age", "churned"]
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<Result<Vec<_>, _>>()?;
    let small = full.slice(0, 12).project(&indices)?;
    for (name, batch, compression, group) in [
        ("zstd", &small, ParquetCompression::Zstd, 1024),
        ("snappy", &small, ParquetCompression::Snappy, 1024),
        (
            "uncompressed",
            &small,
            ParquetCompression::Uncompressed,
            1024,
        ),
        ("groups-of-5", &small, ParquetCompression::Zstd, 5),
        ("churn-30", &full, ParquetCompression::Zstd, 1024),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        let options = ParquetWriteOptions::default()
            .with_compression(compression)
            .with_row_group_size(group);
        write_parquet_path(
            &path,
            mlops_data::BatchStream::from_batches(batch.schema(), vec![batch.clone()]),
            &options,
        )?;
        out.push((format!("mlops-{name}.parquet"), std::fs::read(&path)?));
    }
    Ok(out)
}

// ----- HTTP ----------------------------------------------------------------------------------

fn datatype(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "INT64",
        Value::Float(_) => "FP64",
        Value::Bool(_) => "BOOL",
        _ => "BYTES",
    }
}

fn oip_body(rows: &[Record], id: Option<&str>, nested: bool) -> serde_json::Value {
    let mut inputs = Vec::new();
    if let Some(first) = rows.first() {
        for col in first.0.keys() {
            let values: Vec<&Value> = rows.iter().map(|r| &r.0[col]).collect();
            let dt = values
                .iter()
                .find(|v| !matches!(v, Value::Null))
                .map_or("FP64", |v| datatype(v));
            let (shape, data) = if nested {
                (
                    serde_json::json!([rows.len(), 1]),
                    serde_json::json!(values.iter().map(|v| [v]).collect::<Vec<_>>()),
                )
            } else {
                (serde_json::json!([rows.len()]), serde_json::json!(values))
            };
            inputs.push(serde_json::json!({
                "name": col, "shape": shape, "datatype": dt, "data": data,
            }));
        }
    }
    let mut body = serde_json::json!({ "inputs": inputs });
    if let Some(id) = id {
        body["id"] = serde_json::json!(id);
    }
    body
}

/// Valid bodies of both shapes (OIP flat and `[n, 1]`, records as an array and as
/// `{"records": …}`) built from synthetic churn rows, and near-valid ones.
pub fn http_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let batch = churn(3, 11)?;
    let rows = records_from_batch(&batch)?;
    let one = rows.get(..1).unwrap_or_default();
    let json = |v: serde_json::Value| v.to_string().into_bytes();
    let mut out = vec![
        (
            "oip-3.json".to_string(),
            json(oip_body(&rows, Some("req-1"), false)),
        ),
        ("oip-nested.json".into(), json(oip_body(one, None, true))),
        ("records-array.json".into(), json(serde_json::json!(rows))),
        (
            "records-object.json".into(),
            json(serde_json::json!({ "records": one })),
        ),
    ];
    let mut odd = oip_body(one, Some("odd"), false);
    odd["parameters"] = serde_json::json!({"content_type": "np"});
    odd["outputs"] = serde_json::json!([{"name": "probability"}, {"name": "label"}]);
    if let Some(first) = odd["inputs"].get_mut(0) {
        first["shape"] = serde_json::json!([2]);
    }
    out.push(("oip-bad-shape.json".into(), json(odd)));
    let mut missing = serde_json::json!(one);
    if let Some(r) = missing.get_mut(0).and_then(|r| r.as_object_mut()) {
        let first_key = r.keys().next().cloned();
        if let Some(k) = first_key {
            r.remove(&k);
        }
        r.insert("extra".into(), serde_json::json!([1, 2]));
    }
    out.push(("records-missing-column.json".into(), json(missing)));
    out.push((
        "oip-datatypes.json".into(),
        br#"{"inputs":[{"name":"tenure_months","shape":[2],"datatype":"FP32","data":[1e308,-0.0]},{"name":"plan","shape":[2],"datatype":"BYTES","data":["gold",null]},{"name":"x","shape":[1,1],"datatype":"UINT8","data":[[300]]}]}"#.to_vec(),
    ));
    out.push(("records-empty.json".into(), b"[]".to_vec()));
    out.push(("oip-empty.json".into(), br#"{"inputs":[]}"#.to_vec()));
    Ok(out)
}
