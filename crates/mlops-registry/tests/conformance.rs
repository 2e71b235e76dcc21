//! One conformance suite run against every backend (in-memory, local file system, and in-memory
//! behind `FaultyStore` with random delays or lost acknowledgements).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Barrier};

use bytes::Bytes;
use mlops_registry::core::{ContentHash, hash_bytes};
use mlops_registry::object_store::local::LocalFileSystem;
use mlops_registry::object_store::memory::InMemory;
use mlops_registry::object_store::path::Path;
use mlops_registry::object_store::{ObjectStore, PutPayload};
use mlops_registry::testing::{Fault, FaultPlan, FaultyStore, OpKind, Rule, Trigger};
use mlops_registry::{
    Action, Error, Lineage, ModelMetadata, ModelQuery, Problem, Registry, RegistryOptions,
    RunRecord, Step, VersionRef,
};

/// A fresh store of each backend; the temp dir lives as long as the store is used.
///
/// With the `s3` feature and `MLOPS_REGISTRY_S3_ENDPOINT` set (e.g. `http://127.0.0.1:5123`, a
/// `moto_server`), every test also runs against S3 under a fresh prefix of one bucket.
fn backends() -> Vec<(
    &'static str,
    Arc<dyn ObjectStore>,
    Option<tempfile::TempDir>,
)> {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    #[allow(unused_mut)]
    let mut out = vec![
        (
            "memory",
            Arc::new(InMemory::new()) as Arc<dyn ObjectStore>,
            None,
        ),
        ("local", Arc::new(local) as Arc<dyn ObjectStore>, Some(dir)),
        // Memory behind a fault injector: half of all calls wait up to a millisecond, which
        // reorders the concurrent tests' interleavings.
        (
            "memory+delays",
            Arc::new(FaultyStore::new(
                Arc::new(InMemory::new()),
                FaultPlan::new(0x5eed).with(
                    Rule::new(
                        Trigger::Probability(0.5),
                        Fault::DelayUpTo(std::time::Duration::from_millis(1)),
                    )
                    .on(OpKind::ALL),
                ),
            )) as Arc<dyn ObjectStore>,
            None,
        ),
        // Memory where 40% of conditional creates (events, snapshots) are stored but answered
        // "already exists", as a client retrying after a lost response sees, and 30% of the
        // other event creates are stored but answered with an error.
        (
            "memory+lost-acks",
            Arc::new(FaultyStore::new(
                Arc::new(InMemory::new()),
                FaultPlan::new(0xac4)
                    .with(
                        Rule::new(Trigger::Probability(0.4), Fault::LostAck)
                            .on(&[OpKind::PutCreate]),
                    )
                    .with(
                        Rule::new(Trigger::Probability(0.3), Fault::FailAfter)
                            .on(&[OpKind::PutCreate])
                            .under("events/"),
                    ),
            )) as Arc<dyn ObjectStore>,
            None,
        ),
    ];
    #[cfg(feature = "s3")]
    if let Some(store) = s3::store() {
        out.push(("s3", store, None));
    }
    out
}

/// The smallest multipart part the backend accepts (S3: 5 MiB except the last part).
fn min_part(backend: &str) -> usize {
    if backend == "s3" { 5 << 20 } else { 64 * 1024 }
}

#[cfg(feature = "s3")]
#[path = "support/s3.rs"]
mod s3;

fn handle(store: &Arc<dyn ObjectStore>, actor: &str) -> Registry {
    Registry::from_store(store.clone(), RegistryOptions::default().with_actor(actor)).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get_raw(store: &Arc<dyn ObjectStore>, key: &str) -> Bytes {
    let store = store.clone();
    let key = Path::from(key);
    rt().block_on(async move {
        store
            .get_opts(&key, Default::default())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    })
}

fn put_raw(store: &Arc<dyn ObjectStore>, key: &str, bytes: Vec<u8>) {
    let store = store.clone();
    let key = Path::from(key);
    rt().block_on(async move {
        store
            .put_opts(&key, PutPayload::from(bytes), Default::default())
            .await
            .unwrap()
    });
}

fn delete_raw(store: &Arc<dyn ObjectStore>, key: &str) {
    use futures_util::StreamExt;
    let store = store.clone();
    let key = Path::from(key);
    rt().block_on(async move {
        let one = futures_util::stream::once(async move { Ok(key) }).boxed();
        let out: Vec<_> = store.delete_stream(one).collect().await;
        assert!(out.into_iter().all(|r| r.is_ok()));
    });
}

fn list_raw(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    use futures_util::StreamExt;
    let store = store.clone();
    let prefix = Path::from(prefix);
    let mut keys: Vec<String> = rt().block_on(async move {
        store
            .list(Some(&prefix))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await
    });
    keys.sort();
    keys
}

fn ev_key(seq: u64) -> String {
    format!("events/{seq:020}")
}

fn blob_key(h: &ContentHash) -> String {
    format!("blobs/sha256/{}", h.to_hex())
}

fn meta(auc: f64) -> ModelMetadata {
    ModelMetadata::default()
        .with_description("test model")
        .with_metric("auc", auc)
        .with_param("depth", "3")
}

#[test]
fn register_and_load_round_trip() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        let lineage = Lineage {
            run_id: Some("run-1".parse().unwrap()),
            dataset_fingerprints: vec![hash_bytes(b"train.csv")],
        };
        let m1 = meta(0.7)
            .with_tag("team", "growth")
            .unwrap()
            .with_signature(serde_json::json!({"inputs": [{"name": "x", "type": "f64"}]}))
            .with_lineage(lineage.clone());
        let v1 = reg
            .register("churn", b"one".to_vec(), m1.clone(), "first")
            .unwrap();
        let v2 = reg
            .register("churn", Bytes::from_static(b"two"), meta(0.8), "second")
            .unwrap();
        let o1 = reg
            .register("other", b"x".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        assert_eq!((v1.version, v2.version, o1.version), (1, 2, 1), "{backend}");
        assert_eq!(v1.metadata, m1);
        assert_eq!(v1.actor, "alice");
        assert_eq!(v1.blob, hash_bytes(b"one"));
        assert_eq!(v1.size, 3);

        let (info, bytes) = reg.load("churn", VersionRef::Number(1)).unwrap();
        assert_eq!(&bytes[..], b"one");
        assert_eq!(info.metadata.lineage, lineage);
        let (info, bytes) = reg.load("churn", VersionRef::Latest).unwrap();
        assert_eq!((info.version, &bytes[..]), (2, &b"two"[..]));
        let mut out = Vec::new();
        let info = reg
            .load_to("churn", VersionRef::Number(2), &mut out)
            .unwrap();
        assert_eq!((info.version, &out[..]), (2, &b"two"[..]));

        let names: Vec<String> = reg
            .models()
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["churn", "other"]);
        let versions: Vec<u64> = reg
            .versions("churn")
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, [1, 2]);

        // A second handle on the same store sees the same state.
        let other = handle(&store, "bob");
        assert_eq!(
            other.version("churn", VersionRef::Latest).unwrap(),
            reg.version("churn", VersionRef::Latest).unwrap()
        );

        assert!(matches!(
            reg.version("churn", VersionRef::Number(3)),
            Err(Error::VersionNotFound { version: 3, .. })
        ));
        assert!(matches!(
            reg.version("churn", VersionRef::Number(0)),
            Err(Error::VersionNotFound { version: 0, .. })
        ));
        assert!(matches!(
            reg.version("nope", VersionRef::Latest),
            Err(Error::ModelNotFound { .. })
        ));
        assert!(matches!(
            reg.version("churn", VersionRef::Alias("champion")),
            Err(Error::AliasNotFound { .. })
        ));
        // Identical bundles share one blob.
        let v3 = reg
            .register("churn", b"one".to_vec(), meta(0.1), "same bytes")
            .unwrap();
        assert_eq!(v3.blob, v1.blob);
        assert_eq!(list_raw(&store, "blobs").len(), 3, "{backend}");
        let report = reg.verify().unwrap();
        assert!(report.is_ok(), "{backend}: {report:?}");
        assert_eq!((report.events, report.blobs), (4, 3));
    }
}

#[test]
fn aliases_compare_and_set_and_rollback() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        for i in 0..3 {
            reg.register("m", vec![i], meta(0.5), "fit").unwrap();
        }
        reg.set_alias("m", "champion", 1, None, "first promotion")
            .unwrap();
        reg.set_alias("m", "production", 1, None, "ship").unwrap();
        let v = reg.version("m", VersionRef::Alias("champion")).unwrap();
        assert_eq!(v.version, 1);
        assert_eq!(
            v.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            ["champion", "production"]
        );

        // Wrong expectation: typed conflict, nothing written.
        let seq_before = reg.head().unwrap().unwrap().seq;
        let err = reg
            .set_alias("m", "champion", 2, None, "stale")
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::AliasConflict {
                    expected: None,
                    actual: Some(1),
                    ..
                }
            ),
            "{backend}: {err}"
        );
        let err = reg
            .set_alias("m", "champion", 2, Some(3), "stale")
            .unwrap_err();
        assert!(matches!(
            err,
            Error::AliasConflict {
                expected: Some(3),
                actual: Some(1),
                ..
            }
        ));
        assert_eq!(reg.refresh().unwrap().unwrap().seq, seq_before);

        reg.set_alias("m", "champion", 2, Some(1), "better")
            .unwrap();
        reg.set_alias("m", "champion", 3, Some(2), "better still")
            .unwrap();
        assert_eq!(
            reg.version("m", VersionRef::Alias("champion"))
                .unwrap()
                .version,
            3
        );
        assert_eq!(reg.rollback("m", "champion", 3, "regression").unwrap(), 2);
        assert_eq!(
            reg.rollback("m", "champion", 2, "regression again")
                .unwrap(),
            1
        );
        assert!(matches!(
            reg.rollback("m", "champion", 1, "x"),
            Err(Error::NoRollbackTarget { .. })
        ));
        // A stale rollback (someone already rolled back) is a conflict, not a second step back.
        let seq = reg.refresh().unwrap().unwrap().seq;
        assert!(matches!(
            reg.rollback("m", "champion", 2, "stale"),
            Err(Error::AliasConflict {
                expected: Some(2),
                actual: Some(1),
                ..
            })
        ));
        assert_eq!(reg.refresh().unwrap().unwrap().seq, seq);
        assert!(matches!(
            reg.rollback("m", "staging", 1, "x"),
            Err(Error::AliasNotFound { .. })
        ));
        assert!(matches!(
            reg.set_alias("m", "a", 9, None, "x"),
            Err(Error::VersionNotFound { version: 9, .. })
        ));
        assert!(matches!(
            reg.set_alias("zz", "a", 1, None, "x"),
            Err(Error::ModelNotFound { .. })
        ));

        let events = reg.events().unwrap();
        let rollbacks: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match &e.action {
                Action::Rollback { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect();
        assert_eq!(rollbacks, [(3, 2), (2, 1)]);
        let last = events.last().unwrap();
        assert_eq!(
            (
                last.actor.as_str(),
                last.reason.as_str(),
                last.target.as_str()
            ),
            ("alice", "regression again", "model/m/alias/champion")
        );
        // A fresh handle folds to the same aliases.
        assert_eq!(
            handle(&store, "x").aliases("m").unwrap(),
            reg.aliases("m").unwrap()
        );
        assert!(reg.verify().unwrap().is_ok());
    }
}

#[test]
fn archive_rules() {
    for (_backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        for i in 0..3 {
            reg.register("m", vec![i], meta(f64::from(i)), "fit")
                .unwrap();
        }
        reg.set_alias("m", "champion", 3, None, "promote").unwrap();
        assert!(
            matches!(reg.archive("m", 3, "old"), Err(Error::VersionInUse { version: 3, ref aliases, .. }) if aliases.len() == 1)
        );
        reg.archive("m", 2, "superseded").unwrap();
        assert!(matches!(
            reg.archive("m", 2, "again"),
            Err(Error::VersionArchived { version: 2, .. })
        ));
        assert!(matches!(
            reg.set_alias("m", "champion", 2, Some(3), "x"),
            Err(Error::VersionArchived { .. })
        ));
        assert!(reg.version("m", VersionRef::Number(2)).unwrap().archived);
        reg.set_alias("m", "champion", 1, Some(3), "move").unwrap();
        reg.archive("m", 3, "bad").unwrap();
        assert_eq!(reg.version("m", VersionRef::Latest).unwrap().version, 1);
        // Rolling back onto an archived version is refused.
        assert!(matches!(
            reg.rollback("m", "champion", 1, "x"),
            Err(Error::VersionArchived { version: 3, .. })
        ));
        reg.set_alias("m", "champion", 1, Some(1), "no-op move is recorded")
            .unwrap();
        reg.register("solo", b"s".to_vec(), meta(0.0), "fit")
            .unwrap();
        reg.archive("solo", 1, "retire").unwrap();
        assert!(matches!(
            reg.version("solo", VersionRef::Latest),
            Err(Error::NoLiveVersion { .. })
        ));
        assert!(reg.verify().unwrap().is_ok());
    }
}

#[test]
fn search_by_name_tag_and_metric() {
    for (_backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        reg.register(
            "a",
            b"1".to_vec(),
            meta(0.6).with_tag("team", "x").unwrap(),
            "",
        )
        .unwrap();
        reg.register(
            "a",
            b"2".to_vec(),
            meta(0.9).with_tag("team", "y").unwrap(),
            "",
        )
        .unwrap();
        reg.register(
            "b",
            b"3".to_vec(),
            meta(0.8).with_tag("team", "x").unwrap(),
            "",
        )
        .unwrap();
        reg.register("b", b"4".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        let ids = |q: ModelQuery| -> Vec<(String, u64)> {
            reg.search(&q)
                .unwrap()
                .into_iter()
                .map(|v| (v.model.to_string(), v.version))
                .collect()
        };
        let s = |m: &str, v: u64| (m.to_owned(), v);
        assert_eq!(
            ids(ModelQuery::new()),
            [s("a", 1), s("a", 2), s("b", 1), s("b", 2)]
        );
        assert_eq!(ids(ModelQuery::new().model("b")), [s("b", 1), s("b", 2)]);
        assert_eq!(
            ids(ModelQuery::new().tag("team", None)),
            [s("a", 1), s("a", 2), s("b", 1)]
        );
        assert_eq!(
            ids(ModelQuery::new().tag("team", Some("x"))),
            [s("a", 1), s("b", 1)]
        );
        assert_eq!(
            ids(ModelQuery::new().metric_at_least("auc", 0.75)),
            [s("a", 2), s("b", 1)]
        );
        assert_eq!(
            ids(ModelQuery::new().metric_at_most("auc", 0.8)),
            [s("a", 1), s("b", 1)]
        );
        assert_eq!(
            ids(ModelQuery::new().order_by_metric_desc("auc")),
            [s("a", 2), s("b", 1), s("a", 1), s("b", 2)]
        );
        assert_eq!(
            ids(ModelQuery::new().order_by_metric_desc("auc").limit(1)),
            [s("a", 2)]
        );
        reg.archive("a", 2, "").unwrap();
        assert_eq!(ids(ModelQuery::new().model("a")), [s("a", 1)]);
        assert_eq!(
            ids(ModelQuery::new().model("a").include_archived(true)),
            [s("a", 1), s("a", 2)]
        );
        assert!(ids(ModelQuery::new().model("zzz")).is_empty());
        assert!(matches!(
            reg.search(&ModelQuery::new().model("../x")),
            Err(Error::InvalidName { what: "model", .. })
        ));
        assert!(matches!(
            reg.search(&ModelQuery::new().tag("a b", None)),
            Err(Error::InvalidName { what: "tag", .. })
        ));
    }
}

#[test]
fn hostile_names_and_inputs_are_typed_errors() {
    for (_backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        let long = "a".repeat(200);
        for bad in [
            "",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "a\0b",
            "x\ny",
            long.as_str(),
        ] {
            let err = reg
                .register(bad, b"x".to_vec(), ModelMetadata::default(), "")
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidName { what: "model", .. }),
                "{bad:?}: {err}"
            );
        }
        reg.register("ok", b"x".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        let err = reg.set_alias("ok", "../x", 1, None, "").unwrap_err();
        assert!(matches!(err, Error::InvalidName { what: "alias", .. }));
        assert!(matches!(
            reg.version("ok", VersionRef::Alias("a/b")),
            Err(Error::InvalidName { what: "alias", .. })
        ));
        assert!(matches!(
            ModelMetadata::default().with_tag("bad tag", "v"),
            Err(Error::InvalidName { what: "tag", .. })
        ));
        for bad in [
            meta(f64::NAN),
            meta(f64::INFINITY),
            ModelMetadata::default().with_metric("", 1.0),
            ModelMetadata::default().with_param("k", "v\0"),
            ModelMetadata::default().with_description("d".repeat(20_000)),
            ModelMetadata::default().with_signature(serde_json::Value::String("s".repeat(300_000))),
        ] {
            let err = reg.register("ok", b"x".to_vec(), bad, "").unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        }
        assert!(matches!(
            reg.register(
                "ok",
                b"x".to_vec(),
                ModelMetadata::default(),
                &"r".repeat(5000)
            ),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default().with_actor("")),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default().with_actor("a\nb")),
            Err(Error::InvalidInput { .. })
        ));
        // Nothing was written for the rejected calls.
        assert_eq!(reg.refresh().unwrap().unwrap().seq, 1);
        assert!(list_raw(&store, "tmp").is_empty());
    }
}

#[test]
fn streaming_upload_and_download() {
    for (backend, store, _dir) in backends() {
        let part = min_part(backend);
        let reg = Registry::from_store(
            store.clone(),
            RegistryOptions::default().with_chunk_size(part),
        )
        .unwrap();
        // Larger than one part: goes through the multipart path.
        let data: Vec<u8> = (0..(2 * part + part / 3 + 3) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let v = reg
            .register_reader("big", &data[..], ModelMetadata::default(), "streamed")
            .unwrap();
        assert_eq!(
            (v.size, v.blob),
            (data.len() as u64, hash_bytes(&data)),
            "{backend}"
        );
        let mut out = Vec::new();
        reg.load_to("big", VersionRef::Latest, &mut out).unwrap();
        assert!(out == data);
        assert!(
            list_raw(&store, "tmp").is_empty(),
            "{backend}: temporary objects left"
        );
        // Exactly one part long, and shorter than one part.
        for len in [part, 10, 0] {
            let v = reg
                .register_reader("big", &data[..len], ModelMetadata::default(), "")
                .unwrap();
            assert_eq!(v.blob, hash_bytes(&data[..len]));
            assert_eq!(&reg.read_blob(&v.blob).unwrap()[..], &data[..len]);
        }
        // From a file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, &data[..data.len() - 7]).unwrap();
        let v = reg
            .register_file("big", &path, ModelMetadata::default(), "file")
            .unwrap();
        assert_eq!(v.blob, hash_bytes(&data[..data.len() - 7]));
        assert!(matches!(
            reg.register_file(
                "big",
                dir.path().join("missing"),
                ModelMetadata::default(),
                ""
            ),
            Err(Error::Io { .. })
        ));
        // A failing reader aborts the upload and writes no event.
        struct Failing(usize, usize);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 > 3 * self.1 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                let n = buf.len().min(4096);
                buf[..n].fill(7);
                self.0 += n;
                Ok(n)
            }
        }
        let seq = reg.refresh().unwrap().unwrap().seq;
        assert!(matches!(
            reg.register_reader("big", Failing(0, part), ModelMetadata::default(), ""),
            Err(Error::Io { .. })
        ));
        assert_eq!(reg.refresh().unwrap().unwrap().seq, seq);
        assert!(
            list_raw(&store, "tmp").is_empty(),
            "{backend}: aborted upload left behind"
        );
        assert!(reg.verify().unwrap().is_ok());
    }
}

#[test]
fn export_jsonl_is_the_chain() {
    for (_backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        reg.register("m", b"1".to_vec(), meta(0.1), "a").unwrap();
        reg.set_alias("m", "champion", 1, None, "b").unwrap();
        reg.register("m", b"2".to_vec(), meta(0.2), "c").unwrap();
        let mut out = Vec::new();
        assert_eq!(reg.export_jsonl(&mut out).unwrap(), 3);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let mut prev: Option<ContentHash> = None;
        for (i, line) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["seq"], i as u64 + 1);
            assert_eq!(v["actor"], "alice");
            assert!(v["time_ms"].as_u64().unwrap() > 1_600_000_000_000);
            let p = v["prev"]
                .as_str()
                .map(|s| s.parse::<ContentHash>().unwrap());
            assert_eq!(p, prev);
            prev = Some(hash_bytes(line.as_bytes()));
        }
        assert_eq!(prev, Some(reg.head().unwrap().unwrap().hash));
        assert!(lines[1].contains("\"type\":\"set_alias\""));
    }
}

#[test]
fn tamper_edit_is_reported() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        for i in 0..4u8 {
            reg.register("m", vec![i], meta(0.5), "fit").unwrap();
        }
        // Edit event 2 (still valid JSON, same seq): the chain breaks at 3.
        let raw = String::from_utf8(get_raw(&store, &ev_key(2)).to_vec()).unwrap();
        let edited = raw.replace("\"actor\":\"alice\"", "\"actor\":\"mallory\"");
        assert_ne!(raw, edited);
        put_raw(&store, &ev_key(2), edited.into_bytes());
        let report = reg.verify().unwrap();
        assert!(
            report.problems.contains(&Problem::EventChanged {
                seq: 2,
                known: hash_bytes(raw.as_bytes()),
                stored: report
                    .problems
                    .iter()
                    .find_map(|p| match p {
                        Problem::EventChanged { stored, .. } => Some(*stored),
                        _ => None,
                    })
                    .unwrap()
            }),
            "{backend}: {report:?}"
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::ChainBroken { seq: 3, .. })),
            "{report:?}"
        );
        // A fresh handle (which never saw the original) still sees the broken chain and refuses to open.
        let fresh = Registry::connect(store.clone(), RegistryOptions::default()).unwrap();
        let report = fresh.verify().unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(matches!(
            report.problems[0],
            Problem::ChainBroken { seq: 3, .. }
        ));
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default()),
            Err(Error::ChainBroken { seq: 3, .. })
        ));
    }
}

#[test]
fn tamper_tail_edit_and_deletions_are_reported() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        for i in 0..5u8 {
            reg.register("m", vec![i], meta(0.5), "fit").unwrap();
        }
        let anchor = reg.head().unwrap().unwrap();
        // Edit the last event: no later event names it, but this handle and the anchor remember it.
        let raw = get_raw(&store, &ev_key(5)).to_vec();
        let edited = String::from_utf8(raw.clone())
            .unwrap()
            .replace("\"reason\":\"fit\"", "\"reason\":\"fix\"");
        put_raw(&store, &ev_key(5), edited.into_bytes());
        assert!(
            matches!(
                reg.verify().unwrap().problems[..],
                [Problem::EventChanged { seq: 5, .. }]
            ),
            "{backend}"
        );
        let stranger = Registry::connect(store.clone(), RegistryOptions::default()).unwrap();
        assert!(
            stranger.verify().unwrap().is_ok(),
            "undetectable without an anchor"
        );
        assert!(matches!(
            stranger.verify_anchor(&anchor).unwrap().problems[..],
            [Problem::EventChanged { seq: 5, .. }]
        ));
        put_raw(&store, &ev_key(5), raw);
        assert!(reg.verify().unwrap().is_ok());

        // Delete the last event.
        let last = get_raw(&store, &ev_key(5)).to_vec();
        delete_raw(&store, &ev_key(5));
        assert_eq!(
            reg.verify().unwrap().problems,
            [Problem::EventMissing { seq: 5 }]
        );
        assert_eq!(
            stranger.verify_anchor(&anchor).unwrap().problems,
            [Problem::EventMissing { seq: 5 }]
        );
        put_raw(&store, &ev_key(5), last);

        // Delete a middle event: a hole, and the log no longer opens.
        delete_raw(&store, &ev_key(3));
        let report = reg.verify().unwrap();
        assert_eq!(
            report.problems,
            [Problem::EventMissing { seq: 3 }],
            "{report:?}"
        );
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default()),
            Err(Error::EventMissing { seq: 3 })
        ));
    }
}

#[test]
fn tamper_reorder_junk_and_garbage_are_reported() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        for i in 0..4u8 {
            reg.register("m", vec![i], meta(0.5), "fit").unwrap();
        }
        let e2 = get_raw(&store, &ev_key(2)).to_vec();
        let e3 = get_raw(&store, &ev_key(3)).to_vec();
        put_raw(&store, &ev_key(2), e3.clone());
        put_raw(&store, &ev_key(3), e2.clone());
        let report = reg.verify().unwrap();
        let unreadable: Vec<u64> = report
            .problems
            .iter()
            .filter_map(|p| match p {
                Problem::EventUnreadable { seq, .. } => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(unreadable, [2, 3], "{backend}: {report:?}");
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default()),
            Err(Error::InvalidEvent { seq: 2, .. })
        ));
        put_raw(&store, &ev_key(2), e2);
        put_raw(&store, &ev_key(3), e3);

        put_raw(&store, "events/notes.txt", b"hello".to_vec());
        assert_eq!(
            reg.verify().unwrap().problems,
            [Problem::UnexpectedObject {
                key: "events/notes.txt".into()
            }]
        );
        delete_raw(&store, "events/notes.txt");

        // Garbage and oversized objects at the next slot: typed errors, never a panic.
        put_raw(&store, &ev_key(5), b"\xff\x00not json".to_vec());
        assert!(matches!(
            reg.refresh(),
            Err(Error::EventDecode { seq: 5, .. })
        ));
        assert!(matches!(
            reg.verify().unwrap().problems[..],
            [Problem::EventUnreadable { seq: 5, .. }]
        ));
        put_raw(&store, &ev_key(5), vec![b' '; 2 * 1024 * 1024]);
        assert!(matches!(
            reg.refresh(),
            Err(Error::EventTooLarge { seq: 5, .. })
        ));
        assert!(matches!(
            reg.verify().unwrap().problems[..],
            [Problem::EventUnreadable { seq: 5, .. }]
        ));
        // A well-formed event with a hostile name inside.
        let hostile = String::from_utf8(get_raw(&store, &ev_key(4)).to_vec())
            .unwrap()
            .replace("\"seq\":4", "\"seq\":5")
            .replace("\"model\":\"m\"", "\"model\":\"../../etc\"");
        put_raw(&store, &ev_key(5), hostile.into_bytes());
        assert!(matches!(
            reg.refresh(),
            Err(Error::EventDecode { seq: 5, .. })
        ));
    }
}

#[test]
fn flipped_blob_byte_is_named() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        let v1 = reg
            .register("m", b"good bytes".to_vec(), meta(0.5), "fit")
            .unwrap();
        let v2 = reg
            .register("m", b"other bytes".to_vec(), meta(0.5), "fit")
            .unwrap();
        let mut raw = get_raw(&store, &blob_key(&v1.blob)).to_vec();
        raw[3] ^= 0x01;
        put_raw(&store, &blob_key(&v1.blob), raw.clone());
        let err = reg.load("m", VersionRef::Number(1)).unwrap_err();
        assert!(
            matches!(err, Error::BlobCorrupt { hash, actual } if hash == v1.blob && actual == hash_bytes(&raw)),
            "{backend}: {err}"
        );
        assert!(err.to_string().contains(&v1.blob.to_hex()));
        let mut sink = Vec::new();
        assert!(matches!(
            reg.load_to("m", VersionRef::Number(1), &mut sink),
            Err(Error::BlobCorrupt { .. })
        ));
        assert!(reg.load("m", VersionRef::Number(2)).is_ok());
        let report = reg.verify().unwrap();
        assert_eq!(
            report.problems,
            [Problem::BlobCorrupt {
                hash: v1.blob,
                actual: hash_bytes(&raw),
                target: "model/m/1".into(),
            }]
        );
        // Re-registering the same content repairs the blob.
        reg.register("m", b"good bytes".to_vec(), meta(0.5), "repair")
            .unwrap();
        assert!(reg.verify().unwrap().is_ok());
        delete_raw(&store, &blob_key(&v2.blob));
        assert!(
            matches!(reg.load("m", VersionRef::Number(2)), Err(Error::BlobMissing { hash }) if hash == v2.blob)
        );
        assert_eq!(
            reg.verify().unwrap().problems,
            [Problem::BlobMissing {
                hash: v2.blob,
                target: "model/m/2".into()
            }]
        );
    }
}

#[test]
fn mutated_event_bytes_never_panic() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let reg = handle(&store, "alice");
    reg.register(
        "m",
        b"x".to_vec(),
        meta(0.5)
            .with_tag("t", "v")
            .unwrap()
            .with_signature(serde_json::json!({"a": [1, 2, {"b": null}]})),
        "fit",
    )
    .unwrap();
    let original = get_raw(&store, &ev_key(1)).to_vec();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..300 {
        let mut bytes = original.clone();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => bytes[i] = next() as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, b"{}[]\",:0e9"[(next() % 10) as usize]),
            }
        }
        let s: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        put_raw(&s, &ev_key(1), bytes);
        if let Ok(r) = Registry::from_store(s.clone(), RegistryOptions::default()) {
            accepted += 1;
            let _ = r.verify().unwrap();
        }
    }
    assert!(accepted < 300);
}

#[test]
fn concurrent_handles_get_gapless_versions() {
    for (backend, store, _dir) in backends() {
        let threads = 4;
        let per = 25;
        let barrier = Arc::new(Barrier::new(threads));
        let joins: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let reg = handle(&store, &format!("writer-{t}"));
                    barrier.wait();
                    (0..per)
                        .map(|i| {
                            reg.register(
                                "m",
                                format!("{t}-{i}").into_bytes(),
                                ModelMetadata::default(),
                                "race",
                            )
                            .unwrap()
                            .version
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = joins.into_iter().flat_map(|j| j.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=(threads * per) as u64).collect::<Vec<_>>(),
            "{backend}"
        );
        let reg = handle(&store, "checker");
        assert_eq!(reg.versions("m").unwrap().len(), threads * per);
        let report = reg.verify().unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.events, (threads * per) as u64);
    }
}

#[test]
fn shared_handle_across_threads_and_inside_async() {
    let reg = Arc::new(Registry::in_memory().unwrap());
    let joins: Vec<_> = (0..4)
        .map(|t| {
            let reg = reg.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    reg.register("m", vec![t, i], ModelMetadata::default(), "")
                        .unwrap();
                }
            })
        })
        .collect();
    for j in joins {
        j.join().unwrap();
    }
    assert_eq!(reg.versions("m").unwrap().len(), 40);
    // Called from inside a tokio runtime: runs on a helper thread instead of panicking.
    let inner = reg.clone();
    let v = rt().block_on(async move {
        inner
            .register("m", b"async".to_vec(), ModelMetadata::default(), "")
            .unwrap()
    });
    assert_eq!(v.version, 41);
    // And dropping a handle inside a runtime does not panic either.
    rt().block_on(async { drop(Registry::in_memory().unwrap()) });
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Registry>();
    send_sync::<Error>();
}

#[test]
fn concurrent_alias_moves_never_both_win() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "setup");
        for i in 0..3u8 {
            reg.register("m", vec![i], ModelMetadata::default(), "")
                .unwrap();
        }
        reg.set_alias("m", "champion", 1, None, "").unwrap();
        for round in 0..10 {
            let current = reg
                .version("m", VersionRef::Alias("champion"))
                .unwrap()
                .version;
            let targets = [current % 3 + 1, (current + 1) % 3 + 1];
            let barrier = Arc::new(Barrier::new(2));
            let joins: Vec<_> = targets
                .iter()
                .map(|&target| {
                    let store = store.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let r = handle(&store, &format!("mover-{target}"));
                        barrier.wait();
                        r.set_alias("m", "champion", target, Some(current), "race")
                            .map(|()| target)
                    })
                })
                .collect();
            let results: Vec<_> = joins.into_iter().map(|j| j.join().unwrap()).collect();
            let winners: Vec<u64> = results
                .iter()
                .filter_map(|r| r.as_ref().ok().copied())
                .collect();
            assert_eq!(winners.len(), 1, "{backend} round {round}: {results:?}");
            let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert!(
                matches!(loser, Error::AliasConflict { expected: Some(e), actual: Some(a), .. } if *e == current && *a == winners[0]),
                "{loser}"
            );
            assert_eq!(
                reg.version("m", VersionRef::Alias("champion"))
                    .unwrap()
                    .version,
                winners[0]
            );
        }
        assert!(reg.verify().unwrap().is_ok());
    }
}

#[test]
fn leftovers_of_a_crash_are_invisible() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        reg.register("m", b"1".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        // A crash mid-upload leaves a tmp object; a crash after the blob but before the event
        // leaves an unreferenced blob.
        put_raw(&store, "tmp/12345-1-0", b"half an artif".to_vec());
        put_raw(
            &store,
            &blob_key(&hash_bytes(b"orphan")),
            b"orphan".to_vec(),
        );
        let again = handle(&store, "bob");
        assert_eq!(again.versions("m").unwrap().len(), 1, "{backend}");
        assert!(again.verify().unwrap().is_ok());
        again
            .register("m", b"2".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        assert_eq!(reg.version("m", VersionRef::Latest).unwrap().version, 2);
    }
}

#[test]
fn local_staging_files_and_on_disk_flips() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    let v = reg
        .register("m", b"abcdef".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    // What a writer killed inside object_store's PutMode::Create leaves: a staged `#n` file.
    std::fs::write(
        dir.path().join("events").join(format!("{:020}#1", 2)),
        b"{\"seq\":2,\"trunc",
    )
    .unwrap();
    let reopened = Registry::open(dir.path()).unwrap();
    assert!(reopened.verify().unwrap().is_ok());
    assert_eq!(
        reopened
            .register("m", b"x".to_vec(), ModelMetadata::default(), "")
            .unwrap()
            .version,
        2
    );
    // Flip a byte directly on disk.
    let path = dir
        .path()
        .join("blobs")
        .join("sha256")
        .join(v.blob.to_hex());
    let mut raw = std::fs::read(&path).unwrap();
    raw[0] ^= 0x80;
    std::fs::write(&path, &raw).unwrap();
    assert!(
        matches!(reopened.load("m", VersionRef::Number(1)), Err(Error::BlobCorrupt { hash, .. }) if hash == v.blob)
    );
}

#[test]
fn gc_removes_only_unreferenced_leftovers() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        let v1 = reg
            .register("m", b"kept one".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        let v2 = reg
            .register("m", b"kept two".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        reg.archive("m", 1, "archived versions keep their blob")
            .unwrap();
        put_raw(&store, "tmp/999-1-0", b"abandoned upload".to_vec());
        let orphan = hash_bytes(b"orphan");
        put_raw(&store, &blob_key(&orphan), b"orphan".to_vec());
        put_raw(&store, "blobs/sha256/README", b"not a blob key".to_vec());

        let report = reg.gc(std::time::Duration::from_secs(3600)).unwrap();
        assert_eq!(
            (report.tmp_deleted, report.blobs_deleted, report.kept_recent),
            (0, 0, 2),
            "{backend}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        let report = reg.gc(std::time::Duration::ZERO).unwrap();
        assert_eq!(
            (report.tmp_deleted, report.blobs_deleted),
            (1, 1),
            "{backend}: {report:?}"
        );
        assert_eq!(report.bytes_freed, 16 + 6);
        assert_eq!(list_raw(&store, "blobs"), {
            let mut keys = vec![
                blob_key(&v1.blob),
                blob_key(&v2.blob),
                "blobs/sha256/README".to_owned(),
            ];
            keys.sort();
            keys
        });
        assert!(list_raw(&store, "tmp").is_empty());
        assert!(reg.verify().unwrap().is_ok());
        assert_eq!(
            &reg.load("m", VersionRef::Number(1)).unwrap().1[..],
            b"kept one"
        );
        assert_eq!(
            reg.gc(std::time::Duration::ZERO).unwrap(),
            Default::default()
        );
    }
}

#[test]
fn gc_removes_local_staging_files() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    reg.register("m", b"x".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    let staged = dir.path().join("events").join(format!("{:020}#1", 2));
    std::fs::write(&staged, b"{\"seq\":2,\"trunc").unwrap();
    assert_eq!(
        reg.gc(std::time::Duration::from_secs(3600))
            .unwrap()
            .staged_deleted,
        0
    );
    assert!(staged.exists());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let report = reg.gc(std::time::Duration::ZERO).unwrap();
    assert_eq!((report.staged_deleted, report.bytes_freed), (1, 15));
    assert!(!staged.exists());
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn runs_are_logged_compared_and_verified() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "trainer");
        let data = hash_bytes(b"dataset fingerprint");
        let record = |auc: f64, loss: f64| {
            RunRecord::new("churn")
                .unwrap()
                .with_param("depth", "3")
                .with_metric("auc", auc)
                .with_metric("loss", loss)
                .with_steps(
                    "loss",
                    vec![
                        Step {
                            step: 0,
                            value: 1.0,
                        },
                        Step {
                            step: 1,
                            value: loss,
                        },
                    ],
                )
                .with_environment("rustc", "1.95")
                .with_code_version("git:abc")
                .with_dataset(data)
        };
        let r1 = reg.log_run(&record(0.7, 0.4), "nightly").unwrap();
        let r2 = reg.log_run(&record(0.9, 0.3), "nightly").unwrap();
        let r3 = reg
            .log_run(
                &RunRecord::new("other").unwrap().with_metric("auc", 0.99),
                "",
            )
            .unwrap();
        assert_eq!(
            (r1.run.as_str(), r2.run.as_str(), r3.run.as_str()),
            ("run-1", "run-2", "run-3"),
            "{backend}"
        );
        let (summary, back) = reg.get_run("run-2").unwrap();
        assert_eq!(summary, r2);
        assert_eq!(back, record(0.9, 0.3));
        let ids = |runs: Vec<mlops_registry::RunSummary>| {
            runs.into_iter()
                .map(|r| r.run.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(reg.runs(None).unwrap()), ["run-1", "run-2", "run-3"]);
        assert_eq!(ids(reg.runs(Some("churn")).unwrap()), ["run-1", "run-2"]);
        assert_eq!(
            ids(reg.compare_runs(Some("churn"), "auc", true).unwrap()),
            ["run-2", "run-1"]
        );
        assert_eq!(
            ids(reg.compare_runs(None, "auc", true).unwrap()),
            ["run-3", "run-2", "run-1"]
        );
        assert_eq!(
            ids(reg.compare_runs(None, "loss", false).unwrap()),
            ["run-2", "run-1"]
        );
        assert!(matches!(
            reg.get_run("run-9"),
            Err(Error::RunNotFound { .. })
        ));
        assert!(matches!(
            reg.get_run("../run-1"),
            Err(Error::InvalidName { what: "run", .. })
        ));
        assert!(matches!(
            reg.runs(Some("a/b")),
            Err(Error::InvalidName {
                what: "experiment",
                ..
            })
        ));
        let bad = record(0.5, 0.5).with_steps(
            "loss",
            vec![Step {
                step: 3,
                value: f64::NAN,
            }],
        );
        assert!(matches!(
            reg.log_run(&bad, ""),
            Err(Error::InvalidInput { .. })
        ));
        let events = reg.events().unwrap();
        assert_eq!(events[1].target, "run/run-2");
        assert!(
            matches!(&events[1].action, Action::RunLogged { metrics, .. } if metrics["auc"] == 0.9)
        );
        // A damaged run record is named by verify and refused by get_run.
        put_raw(&store, &blob_key(&r1.blob), b"{}".to_vec());
        assert!(
            matches!(reg.get_run("run-1"), Err(Error::BlobCorrupt { hash, .. }) if hash == r1.blob)
        );
        assert_eq!(reg.verify().unwrap().problems.len(), 1);
        assert!(
            matches!(&reg.verify().unwrap().problems[0], Problem::BlobCorrupt { target, .. } if target == "run/run-1")
        );
    }
}

#[test]
fn dataset_snapshots_and_lineage() {
    for (backend, store, _dir) in backends() {
        let reg = handle(&store, "alice");
        let file = b"x,y\n1,2\n3,4\n".to_vec();
        let fp = hash_bytes(b"logical fingerprint of the table");
        let snap = reg
            .add_dataset(fp, Some("train"), &file[..], "training data")
            .unwrap();
        assert_eq!(
            (snap.fingerprint, snap.blob, snap.size),
            (fp, hash_bytes(&file), file.len() as u64),
            "{backend}"
        );
        assert_eq!(snap.name.as_ref().map(|n| n.as_str()), Some("train"));
        // Same content again: the same snapshot, no new event.
        let seq = reg.head().unwrap().unwrap().seq;
        assert_eq!(
            reg.add_dataset(fp, Some("train"), &file[..], "again")
                .unwrap(),
            snap
        );
        assert_eq!(reg.refresh().unwrap().unwrap().seq, seq);
        // Other content under the same fingerprint is a conflict.
        assert!(matches!(
            reg.add_dataset(fp, None, &b"other"[..], ""),
            Err(Error::DatasetConflict { existing, .. }) if existing == snap.blob
        ));
        let mut out = Vec::new();
        assert_eq!(reg.load_dataset_to(&fp, &mut out).unwrap(), snap);
        assert_eq!(out, file);
        let missing = hash_bytes(b"never stored");
        assert!(matches!(
            reg.dataset(&missing),
            Err(Error::DatasetNotFound { .. })
        ));
        assert!(matches!(
            reg.add_dataset(missing, Some("../x"), &b""[..], ""),
            Err(Error::InvalidName {
                what: "dataset",
                ..
            })
        ));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("eval.csv"), b"x,y\n5,6\n").unwrap();
        let eval_fp = hash_bytes(b"eval.csv");
        reg.add_dataset_file(eval_fp, None, dir.path().join("eval.csv"), "")
            .unwrap();
        assert_eq!(reg.datasets().unwrap().len(), 2);

        // model version -> run -> dataset fingerprints -> stored snapshots
        let run = reg
            .log_run(
                &RunRecord::new("churn")
                    .unwrap()
                    .with_metric("auc", 0.8)
                    .with_dataset(fp),
                "",
            )
            .unwrap();
        let lineage = Lineage {
            run_id: Some(run.run.clone()),
            dataset_fingerprints: vec![eval_fp, missing],
        };
        reg.register(
            "m",
            b"model".to_vec(),
            ModelMetadata::default().with_lineage(lineage),
            "",
        )
        .unwrap();
        let report = reg.lineage("m", VersionRef::Latest).unwrap();
        assert_eq!(report.run.as_ref().map(|r| r.run.clone()), Some(run.run));
        let mut expected = vec![fp, eval_fp, missing];
        expected.sort();
        assert_eq!(
            report.datasets.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            expected
        );
        for (f, s) in &report.datasets {
            assert_eq!(s.is_some(), *f != missing);
        }
        // A run id tracked elsewhere is not an error.
        let elsewhere = Lineage {
            run_id: Some("run-77".parse().unwrap()),
            dataset_fingerprints: vec![],
        };
        reg.register(
            "m",
            b"model2".to_vec(),
            ModelMetadata::default().with_lineage(elsewhere),
            "",
        )
        .unwrap();
        assert!(reg.lineage("m", VersionRef::Latest).unwrap().run.is_none());

        // GC keeps run and dataset blobs; verify checks them.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let gc = reg.gc(std::time::Duration::ZERO).unwrap();
        assert_eq!(
            gc.blobs_deleted, 0,
            "{backend}: a conflicting dataset stores nothing, so nothing is unreferenced: {gc:?}"
        );
        assert!(reg.verify().unwrap().is_ok());
        delete_raw(&store, &blob_key(&snap.blob));
        assert_eq!(
            reg.verify().unwrap().problems,
            [Problem::BlobMissing {
                hash: snap.blob,
                target: format!("dataset/{fp}")
            }]
        );
        let fresh = handle(&store, "bob");
        assert_eq!(fresh.dataset(&fp).unwrap(), snap);
    }
}

#[test]
fn model_card_summarises_a_version() {
    let reg = Registry::in_memory().unwrap();
    let fp = hash_bytes(b"train");
    reg.add_dataset(fp, Some("train"), &b"a,b\n1,2\n"[..], "")
        .unwrap();
    let run = reg
        .log_run(
            &RunRecord::new("churn")
                .unwrap()
                .with_metric("auc", 0.9)
                .with_dataset(fp),
            "",
        )
        .unwrap();
    let meta = ModelMetadata::default()
        .with_description("Churn | model\n# not a heading")
        .with_metric("auc", 0.9)
        .with_param("depth", "3")
        .with_tag("team", "growth")
        .unwrap()
        .with_signature(serde_json::json!({"x": "f64"}))
        .with_lineage(Lineage {
            run_id: Some(run.run),
            dataset_fingerprints: vec![],
        });
    reg.register("churn", b"m1".to_vec(), meta, "first fit")
        .unwrap();
    reg.set_alias("churn", "champion", 1, None, "promote")
        .unwrap();
    let card = reg
        .model_card("churn", VersionRef::Alias("champion"))
        .unwrap();
    for needle in [
        "# Model card: churn version 1",
        "Churn \\| model \\# not a heading",
        "| Status | live |",
        "| Aliases | champion |",
        "| auc | 0.9 |",
        "| depth | 3 |",
        "| team | growth |",
        "\"x\": \"f64\"",
        "- Run run-1 (experiment churn",
        &format!("- Dataset `{fp}` (train): snapshot stored, 8 bytes"),
        "| registered version 1 |",
        "| set champion to 1 | promote |",
    ] {
        assert!(card.contains(needle), "missing {needle:?} in\n{card}");
    }
    // Deterministic for the same log.
    assert_eq!(
        card,
        reg.model_card("churn", VersionRef::Number(1)).unwrap()
    );
    assert!(card.lines().filter(|l| l.starts_with("# ")).count() == 1);
}

// ----- state snapshots ---------------------------------------------------------------------

fn snap_key(seq: u64) -> String {
    format!("snapshots/{seq:020}")
}

/// Everything a handle exposes about the state, for comparing two handles.
#[derive(Debug, PartialEq)]
struct Seen {
    head: Option<mlops_registry::LogHead>,
    models: Vec<String>,
    versions: Vec<mlops_registry::ModelVersion>,
    aliases: Vec<std::collections::BTreeMap<mlops_registry::core::Name, u64>>,
    runs: Vec<mlops_registry::RunSummary>,
    datasets: Vec<mlops_registry::DatasetSnapshot>,
}

fn seen(reg: &Registry) -> Seen {
    let models: Vec<String> = reg
        .models()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    Seen {
        head: reg.refresh().unwrap(),
        versions: models
            .iter()
            .flat_map(|m| reg.versions(m).unwrap())
            .collect(),
        aliases: models.iter().map(|m| reg.aliases(m).unwrap()).collect(),
        models,
        runs: reg.runs(None).unwrap(),
        datasets: reg.datasets().unwrap(),
    }
}

/// A registry with every kind of event; returns the handle that wrote it.
fn populate(store: &Arc<dyn ObjectStore>, opts: RegistryOptions) -> Registry {
    let reg = Registry::from_store(store.clone(), opts.with_actor("alice")).unwrap();
    let data = b"a,b\n1,2\n".to_vec();
    let fingerprint = hash_bytes(&data);
    reg.add_dataset(fingerprint, Some("train"), &data[..], "snapshot")
        .unwrap();
    let run = reg
        .log_run(
            &RunRecord::new("exp")
                .unwrap()
                .with_metric("auc", 0.8)
                .with_dataset(fingerprint),
            "",
        )
        .unwrap();
    let lineage = Lineage {
        run_id: Some(run.run),
        dataset_fingerprints: vec![fingerprint],
    };
    for i in 0..4u8 {
        let m = meta(0.5 + f64::from(i) / 10.0)
            .with_tag("team", "growth")
            .unwrap()
            .with_signature(serde_json::json!({"inputs": [{"name": "x", "nested": [[1.5]]}]}))
            .with_lineage(lineage.clone());
        reg.register("churn", vec![i; 10], m, "fit").unwrap();
    }
    reg.set_alias("churn", "champion", 2, None, "").unwrap();
    reg.set_alias("churn", "champion", 3, Some(2), "").unwrap();
    reg.register("other", b"o".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    reg
}

/// More events of every kind after a snapshot.
fn more_writes(reg: &Registry) {
    reg.register("churn", b"five".to_vec(), meta(0.95), "")
        .unwrap();
    reg.rollback("churn", "champion", 3, "").unwrap();
    reg.archive("churn", 4, "").unwrap();
    reg.set_alias("other", "prod", 1, None, "").unwrap();
    reg.log_run(&RunRecord::new("exp").unwrap().with_metric("auc", 0.9), "")
        .unwrap();
}

#[test]
fn snapshot_then_more_writes_then_reopen_equals_the_full_fold() {
    for (backend, store, _dir) in backends() {
        let reg = populate(&store, RegistryOptions::default().with_snapshot_every(0));
        assert!(list_raw(&store, "snapshots").is_empty(), "{backend}");
        let head = reg.snapshot().unwrap().unwrap();
        assert_eq!(head, reg.head().unwrap().unwrap());
        assert_eq!(list_raw(&store, "snapshots"), [snap_key(head.seq)]);
        // Snapshotting again at the same event is a no-op, not an error.
        assert_eq!(reg.snapshot().unwrap(), Some(head));
        more_writes(&reg);
        let expected = seen(&reg);
        let reopened = handle(&store, "bob");
        assert_eq!(seen(&reopened), expected, "{backend}");
        assert!(reopened.verify().unwrap().is_ok());
        // The reopened handle keeps working on top of the snapshot.
        reopened
            .set_alias("churn", "champion", 5, Some(2), "")
            .unwrap();
        assert_eq!(seen(&handle(&store, "carol")), seen(&reopened));

        // Proof that opening skips the events the snapshot covers: with event 1 unreadable,
        // the registry still opens from the snapshot, and verify reports the damage.
        let e1 = get_raw(&store, &ev_key(1)).to_vec();
        put_raw(&store, &ev_key(1), b"\xffdamaged".to_vec());
        let state = seen(&reopened);
        assert_eq!(seen(&handle(&store, "dave")), state, "{backend}");
        let report = reopened.verify().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::EventUnreadable { seq: 1, .. })),
            "{backend}: {report:?}"
        );
        // Without a snapshot the damage stops the open.
        delete_raw(&store, &snap_key(head.seq));
        assert!(matches!(
            Registry::from_store(store.clone(), RegistryOptions::default()),
            Err(Error::EventDecode { seq: 1, .. })
        ));
        put_raw(&store, &ev_key(1), e1);
        assert_eq!(seen(&handle(&store, "erin")), state);
    }
}

#[test]
fn writers_take_snapshots_every_n_events_and_gc_keeps_the_newest() {
    for (backend, store, _dir) in backends() {
        let opts = RegistryOptions::default()
            .with_snapshot_every(3)
            .with_snapshots_kept(2);
        let reg = populate(&store, opts.clone());
        let n = reg.head().unwrap().unwrap().seq;
        let expected_keys: Vec<String> = (1..=n).filter(|s| s % 3 == 0).map(snap_key).collect();
        assert_eq!(list_raw(&store, "snapshots"), expected_keys, "{backend}");
        assert!(reg.verify().unwrap().is_ok());
        let report = reg.gc(std::time::Duration::from_secs(3600)).unwrap();
        assert_eq!(report.snapshots_deleted, expected_keys.len() as u64 - 2);
        assert_eq!(
            list_raw(&store, "snapshots"),
            expected_keys[expected_keys.len() - 2..]
        );
        more_writes(&reg);
        assert_eq!(seen(&handle(&store, "bob")), seen(&reg), "{backend}");
        assert!(reg.verify().unwrap().is_ok());
        assert!(rejected(RegistryOptions::default().with_snapshots_kept(0)));
    }
}

/// Whether the options are rejected as invalid.
fn rejected(opts: RegistryOptions) -> bool {
    matches!(
        Registry::from_store(Arc::new(InMemory::new()), opts),
        Err(Error::InvalidInput { .. })
    )
}

#[test]
fn damaged_snapshots_are_skipped_and_reported() {
    for (backend, store, _dir) in backends() {
        let reg = populate(&store, RegistryOptions::default().with_snapshot_every(0));
        let older = reg.snapshot().unwrap().unwrap().seq;
        more_writes(&reg);
        let newest = reg.snapshot().unwrap().unwrap().seq;
        let expected = seen(&reg);
        let good = get_raw(&store, &snap_key(newest)).to_vec();
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x01;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("flipped byte", flipped),
            ("truncated", good[..good.len() / 3].to_vec()),
            ("empty", Vec::new()),
            ("garbage", b"\x00\x01 not a snapshot at all".to_vec()),
            (
                "another snapshot's bytes",
                get_raw(&store, &snap_key(older)).to_vec(),
            ),
        ];
        for (case, bytes) in cases {
            put_raw(&store, &snap_key(newest), bytes);
            // Falls back to the older snapshot.
            assert_eq!(seen(&handle(&store, "bob")), expected, "{backend}: {case}");
            // And to the whole log when every snapshot is bad.
            let older_bytes = get_raw(&store, &snap_key(older));
            put_raw(&store, &snap_key(older), b"junk".to_vec());
            assert_eq!(seen(&handle(&store, "bob")), expected, "{backend}: {case}");
            let report = reg.verify().unwrap();
            let seqs: Vec<u64> = report
                .problems
                .iter()
                .map(|p| match p {
                    Problem::SnapshotUnreadable { seq, .. } => *seq,
                    other => panic!("{backend}: {case}: {other:?}"),
                })
                .collect();
            assert_eq!(seqs, [older, newest], "{backend}: {case}");
            put_raw(&store, &snap_key(older), older_bytes.to_vec());
        }
        put_raw(&store, &snap_key(newest), good);
        assert!(reg.verify().unwrap().is_ok());
        // Junk next to the snapshots is reported, not used.
        put_raw(&store, "snapshots/latest", b"x".to_vec());
        assert_eq!(
            reg.verify().unwrap().problems,
            [Problem::UnexpectedObject {
                key: "snapshots/latest".into()
            }]
        );
        assert_eq!(seen(&handle(&store, "bob")), expected);
    }
}

#[test]
fn snapshot_of_another_history_is_ignored_and_reported() {
    for (backend, store, _dir) in backends() {
        // Another registry with the same number of events but other content.
        let other: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let reg = populate(&store, RegistryOptions::default().with_snapshot_every(0));
        let alien = populate(&other, RegistryOptions::default().with_snapshot_every(0));
        alien
            .register("alien", b"x".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        reg.register("churn", b"six".to_vec(), meta(0.1), "")
            .unwrap();
        let seq = alien.snapshot().unwrap().unwrap().seq;
        assert_eq!(seq, reg.head().unwrap().unwrap().seq);
        put_raw(
            &store,
            &snap_key(seq),
            get_raw(&other, &snap_key(seq)).to_vec(),
        );
        let expected = seen(&reg);
        let reopened = handle(&store, "bob");
        assert_eq!(seen(&reopened), expected, "{backend}");
        assert!(
            reopened
                .models()
                .unwrap()
                .iter()
                .all(|m| m.as_str() != "alien")
        );
        let report = reg.verify().unwrap();
        assert!(
            matches!(
                &report.problems[..],
                [Problem::SnapshotMismatch { seq: s, .. }] if *s == seq
            ),
            "{backend}: {report:?}"
        );
        // A snapshot past the end of the log is reported too.
        put_raw(
            &store,
            &snap_key(seq + 5),
            get_raw(&other, &snap_key(seq)).to_vec(),
        );
        assert_eq!(seen(&handle(&store, "bob")), expected);
        assert!(reg.verify().unwrap().problems.iter().any(|p| matches!(
            p,
            Problem::SnapshotMismatch { seq: s, .. } if *s == seq + 5
        )));
    }
}

/// Re-signs a snapshot after editing its body, as a forger with write access would.
fn forge_snapshot(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    const HEADER: usize = 8 + 4 + 32;
    let mut body = bytes[HEADER..].to_vec();
    edit(&mut body);
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(hash_bytes(&body).as_bytes());
    out.extend_from_slice(&body);
    out
}

#[test]
fn verify_reports_a_forged_snapshot() {
    for (backend, store, _dir) in backends() {
        let reg = populate(&store, RegistryOptions::default().with_snapshot_every(0));
        let seq = reg.snapshot().unwrap().unwrap().seq;
        let good = get_raw(&store, &snap_key(seq)).to_vec();
        // Raise the auc of version 1 (0.5) to 0.99 and re-sign the body.
        let forged = forge_snapshot(&good, |body| {
            let from = [&[0xcb][..], &0.5f64.to_be_bytes()].concat();
            let at = body
                .windows(from.len())
                .position(|w| w == from.as_slice())
                .unwrap();
            body[at + 1..at + 9].copy_from_slice(&0.99f64.to_be_bytes());
        });
        put_raw(&store, &snap_key(seq), forged);
        let report = reg.verify().unwrap();
        assert_eq!(
            report.problems,
            [Problem::SnapshotMismatch {
                seq,
                reason: "its models differ from the fold of the log".into()
            }],
            "{backend}"
        );
        // An inconsistent forgery (alias onto a missing version) is refused when opening.
        let forged = forge_snapshot(&good, |body| {
            // The alias history of `champion` is [2]; make it [9].
            let from = b"\xa7history\x91\x02";
            let at = body.windows(from.len()).position(|w| w == from).unwrap();
            body[at + from.len() - 1] = 9;
        });
        put_raw(&store, &snap_key(seq), forged);
        assert_eq!(seen(&handle(&store, "bob")), seen(&reg), "{backend}");
        assert!(matches!(
            reg.verify().unwrap().problems[..],
            [Problem::SnapshotUnreadable { .. }]
        ));
        put_raw(&store, &snap_key(seq), good);
        assert!(reg.verify().unwrap().is_ok());
    }
}

#[test]
fn concurrent_writers_and_snapshots() {
    for (backend, store, _dir) in backends() {
        let threads = 4;
        let per = 15;
        let barrier = Arc::new(Barrier::new(threads));
        let joins: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let reg = Registry::from_store(
                        store,
                        RegistryOptions::default()
                            .with_actor(format!("w{t}"))
                            .with_snapshot_every(4),
                    )
                    .unwrap();
                    barrier.wait();
                    for i in 0..per {
                        reg.register("m", format!("{t}-{i}").into_bytes(), meta(0.5), "")
                            .unwrap();
                        if i % 5 == t % 5 {
                            reg.snapshot().unwrap();
                        }
                    }
                })
            })
            .collect();
        for j in joins {
            j.join().unwrap();
        }
        let reg = handle(&store, "checker");
        assert_eq!(reg.versions("m").unwrap().len(), threads * per, "{backend}");
        let report = reg.verify().unwrap();
        assert!(report.is_ok(), "{backend}: {report:?}");
        assert!(list_raw(&store, "snapshots").len() >= (threads * per) / 4);
    }
}

/// Artifacts large enough for the overlapped paths (hashing on a helper thread while writing,
/// local files read ahead in 8 MiB pieces): same bytes back, damage found by every reader.
#[test]
fn large_artifacts_round_trip_and_damage_is_found() {
    const SIZE: usize = (16 << 20) + 12_345;
    let data: Vec<u8> = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let hash = hash_bytes(&data);
    for (backend, store, _dir) in backends() {
        let reg = Registry::from_store(
            store.clone(),
            RegistryOptions::default().with_chunk_size(min_part(backend).max(5 << 20)),
        )
        .unwrap();
        let v1 = reg
            .register("big", Bytes::from(data.clone()), meta(0.5), "")
            .unwrap();
        let v2 = reg
            .register_reader("big", &data[..], meta(0.5), "")
            .unwrap();
        assert_eq!(
            (v1.blob, v2.blob, v1.size),
            (hash, hash, SIZE as u64),
            "{backend}"
        );
        assert!(list_raw(&store, "tmp").is_empty(), "{backend}");
        let (_, back) = reg.load("big", VersionRef::Number(1)).unwrap();
        assert!(back[..] == data[..], "{backend}");
        let mut out = Vec::new();
        reg.load_to("big", VersionRef::Number(2), &mut out).unwrap();
        assert!(out == data, "{backend}");
        assert!(reg.verify().unwrap().is_ok());

        let mut raw = data.clone();
        raw[SIZE - 7] ^= 0x10; // in the last, partial piece
        put_raw(&store, &blob_key(&hash), raw.clone());
        let actual = hash_bytes(&raw);
        assert!(
            matches!(reg.load("big", VersionRef::Latest), Err(Error::BlobCorrupt { actual: a, .. }) if a == actual),
            "{backend}"
        );
        assert!(matches!(
            reg.load_to("big", VersionRef::Latest, &mut std::io::sink()),
            Err(Error::BlobCorrupt { .. })
        ));
        assert!(matches!(
            reg.verify().unwrap().problems[..],
            [Problem::BlobCorrupt { .. }]
        ));
        // A truncated blob is damage too.
        put_raw(&store, &blob_key(&hash), data[..SIZE / 2].to_vec());
        assert!(matches!(
            reg.load("big", VersionRef::Latest),
            Err(Error::BlobCorrupt { .. })
        ));
        assert!(matches!(
            reg.load_to("big", VersionRef::Latest, &mut std::io::sink()),
            Err(Error::BlobCorrupt { .. })
        ));
    }
}

#[test]
fn hole_after_a_snapshot_still_stops_the_open() {
    for (backend, store, _dir) in backends() {
        let reg = populate(&store, RegistryOptions::default().with_snapshot_every(0));
        let seq = reg.snapshot().unwrap().unwrap().seq;
        more_writes(&reg);
        delete_raw(&store, &ev_key(seq + 2));
        assert!(
            matches!(
                Registry::from_store(store.clone(), RegistryOptions::default()),
                Err(Error::EventMissing { seq: s }) if s == seq + 2
            ),
            "{backend}"
        );
        assert!(
            reg.verify()
                .unwrap()
                .problems
                .contains(&Problem::EventMissing { seq: seq + 2 })
        );
    }
}
