//! The bad-input catalogue of `mlops-registry` (issue 8): hostile names, bad metadata, unknown
//! objects, broken compare-and-set expectations, and damaged stored bytes. Each case names the
//! exact [`Error`] variant and what the message must name, and the registry directory (every
//! object's key and bytes), the versions, aliases and the audit-log head are compared before and
//! after the bad call: a rejected call stores nothing.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mlops_registry::core::{ContentHash, hash_bytes};
use mlops_registry::{
    Error, MAX_REASON_LEN, ModelMetadata, Registry, RegistryOptions, RunRecord, VersionRef,
};

/// What the fixture registry holds.
struct Fx {
    dir: PathBuf,
    blob_v1: ContentHash,
    dataset: ContentHash,
    /// The audit-log head's sequence number after the fixture was written.
    head: Option<u64>,
}

const V1: &[u8] = b"bundle bytes of version one";
const V2: &[u8] = b"bundle bytes of version two";
const DATA: &[u8] = b"x,y\n1,0\n2,1\n";

fn open(dir: &Path) -> Registry {
    Registry::open_with(dir, RegistryOptions::default().with_fsync(false)).unwrap()
}

/// A registry with `churn` v1 and v2, alias `champion` → 1 (moved once: 2 then back to 1 is not
/// done, so it has no rollback target), a dataset snapshot and a run.
fn fixture(dir: &Path) -> Fx {
    let reg = open(dir);
    let v1 = reg
        .register("churn", V1.to_vec(), ModelMetadata::default(), "first")
        .unwrap();
    reg.register("churn", V2.to_vec(), ModelMetadata::default(), "second")
        .unwrap();
    reg.set_alias("churn", "champion", 1, None, "ship").unwrap();
    let dataset = hash_bytes(DATA);
    reg.add_dataset(dataset, Some("train"), DATA, "snapshot")
        .unwrap();
    reg.log_run(&RunRecord::new("exp").unwrap(), "run").unwrap();
    Fx {
        head: reg.head().unwrap().map(|h| h.seq),
        dir: dir.to_path_buf(),
        blob_v1: v1.blob,
        dataset,
    }
}

/// Every file under `dir`: relative path → bytes.
fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The registry's logical state: versions (number, blob), aliases, head.
fn state(dir: &Path) -> String {
    let reg = open(dir);
    let versions: Vec<(u64, String)> = reg
        .versions("churn")
        .unwrap()
        .iter()
        .map(|v| (v.version, v.blob.to_hex()))
        .collect();
    format!(
        "{versions:?} {:?} {:?}",
        reg.aliases("churn").unwrap(),
        reg.head().unwrap()
    )
}

fn blob_path(fx: &Fx, hash: &ContentHash) -> PathBuf {
    fx.dir.join("blobs/sha256").join(hash.to_hex())
}

fn event_path(fx: &Fx, seq: u64) -> PathBuf {
    fx.dir.join(format!("events/{seq:020}"))
}

struct Case {
    name: &'static str,
    /// Damage done to the stored bytes before the call (part of the bad input), if any.
    damage: Option<fn(&Fx)>,
    /// The bad call, on a freshly opened handle.
    run: fn(&Registry, &Fx) -> Result<(), Error>,
    expect: fn(&Error) -> bool,
    names: &'static [&'static str],
}

fn register_as(reg: &Registry, model: &str) -> Result<(), Error> {
    reg.register(model, b"x".to_vec(), ModelMetadata::default(), "r")
        .map(|_| ())
}

fn bad_model_name(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidName {
            what: "model",
            source: mlops_registry::core::Error::InvalidName { .. }
        }
    )
}

fn cases() -> Vec<Case> {
    vec![
        // ---- hostile names --------------------------------------------------------------------
        Case {
            name: "model name ../x",
            damage: None,
            run: |r, _| register_as(r, "../x"),
            expect: bad_model_name,
            names: &["model", "../x", "path separator"],
        },
        Case {
            name: "model name a/../../b",
            damage: None,
            run: |r, _| register_as(r, "a/../../b"),
            expect: bad_model_name,
            names: &["a/../../b"],
        },
        Case {
            name: "absolute model name /etc/passwd",
            damage: None,
            run: |r, _| register_as(r, "/etc/passwd"),
            expect: bad_model_name,
            names: &["/etc/passwd", "path separator"],
        },
        Case {
            name: "model name with a backslash",
            damage: None,
            run: |r, _| register_as(r, "..\\x"),
            expect: bad_model_name,
            names: &["path separator"],
        },
        Case {
            name: "model name ..",
            damage: None,
            run: |r, _| register_as(r, ".."),
            expect: bad_model_name,
            names: &["path traversal"],
        },
        Case {
            name: "model name with a NUL byte",
            damage: None,
            run: |r, _| register_as(r, "a\0b"),
            expect: bad_model_name,
            names: &["control character"],
        },
        Case {
            name: "empty model name",
            damage: None,
            run: |r, _| register_as(r, ""),
            expect: bad_model_name,
            names: &["empty"],
        },
        Case {
            name: "model name of 4096 bytes",
            damage: None,
            run: |r, _| register_as(r, &"a".repeat(4096)),
            expect: bad_model_name,
            names: &["longer than 128 bytes"],
        },
        Case {
            name: "model name with a space",
            damage: None,
            run: |r, _| register_as(r, "my model"),
            expect: bad_model_name,
            names: &["only ASCII letters"],
        },
        Case {
            name: "non-ASCII model name",
            damage: None,
            run: |r, _| register_as(r, "modèle"),
            expect: bad_model_name,
            names: &["only ASCII letters"],
        },
        Case {
            name: "model name starting with a dot",
            damage: None,
            run: |r, _| register_as(r, ".hidden"),
            expect: bad_model_name,
            names: &["must start with a letter or digit"],
        },
        Case {
            name: "alias name ../champion",
            damage: None,
            run: |r, _| r.set_alias("churn", "../champion", 2, Some(1), "r"),
            expect: |e| matches!(e, Error::InvalidName { what: "alias", .. }),
            names: &["alias", "../champion"],
        },
        Case {
            name: "loading by a traversal alias",
            damage: None,
            run: |r, _| r.load("churn", VersionRef::Alias("../../x")).map(|_| ()),
            expect: |e| matches!(e, Error::InvalidName { what: "alias", .. }),
            names: &["../../x"],
        },
        Case {
            name: "loading a traversal model name",
            damage: None,
            run: |r, _| r.load("../../etc", VersionRef::Latest).map(|_| ()),
            expect: bad_model_name,
            names: &["../../etc"],
        },
        Case {
            name: "dataset label ../../x",
            damage: None,
            run: |r, _| {
                r.add_dataset(hash_bytes(b"other"), Some("../../x"), &b"other"[..], "r")
                    .map(|_| ())
            },
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidName {
                        what: "dataset",
                        ..
                    }
                )
            },
            names: &["dataset", "../../x"],
        },
        Case {
            name: "alias name of 200 bytes",
            damage: None,
            run: |r, _| r.set_alias("churn", &"a".repeat(200), 2, None, "r"),
            expect: |e| matches!(e, Error::InvalidName { what: "alias", .. }),
            names: &["longer than 128 bytes"],
        },
        Case {
            name: "tag name with a separator",
            damage: None,
            run: |_, _| ModelMetadata::default().with_tag("a/b", "v").map(|_| ()),
            expect: |e| matches!(e, Error::InvalidName { what: "tag", .. }),
            names: &["tag", "a/b"],
        },
        Case {
            name: "experiment name with a traversal",
            damage: None,
            run: |_, _| RunRecord::new("../exp").map(|_| ()),
            expect: |e| matches!(e, Error::InvalidName { .. }),
            names: &["../exp"],
        },
        // ---- bad metadata and text ------------------------------------------------------------
        Case {
            name: "NaN metric",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default().with_metric("auc", f64::NAN),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "metrics[\"auc\"]"),
            names: &["metrics[\"auc\"]", "NaN is not finite"],
        },
        Case {
            name: "infinite metric",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default().with_metric("loss", f64::INFINITY),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "metrics[\"loss\"]"),
            names: &["metrics[\"loss\"]", "inf is not finite"],
        },
        Case {
            name: "empty metric key",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default().with_metric("", 1.0),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "metrics[\"\"]"),
            names: &["metrics[\"\"]"],
        },
        Case {
            name: "description over 16 KiB",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default().with_description("d".repeat(16 * 1024 + 1)),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "description"),
            names: &["description", "longer than 16384 bytes"],
        },
        Case {
            name: "param value with a control character",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default().with_param("lr", "0.1\u{1b}[31m"),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "params[\"lr\"]"),
            names: &["params[\"lr\"]", "control character"],
        },
        Case {
            name: "reason over MAX_REASON_LEN",
            damage: None,
            run: |r, _| {
                r.register(
                    "churn",
                    b"x".to_vec(),
                    ModelMetadata::default(),
                    &"r".repeat(MAX_REASON_LEN + 1),
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "reason"),
            names: &["reason", "longer than 4096 bytes"],
        },
        Case {
            name: "reason with a NUL byte",
            damage: None,
            run: |r, _| r.set_alias("churn", "champion", 2, Some(1), "ok\0"),
            expect: |e| matches!(e, Error::InvalidInput { field, .. } if field == "reason"),
            names: &["reason", "control character"],
        },
        // ---- unknown objects and broken expectations --------------------------------------------
        Case {
            name: "unknown model",
            damage: None,
            run: |r, _| r.load("nope", VersionRef::Latest).map(|_| ()),
            expect: |e| matches!(e, Error::ModelNotFound { model } if model.as_str() == "nope"),
            names: &["nope"],
        },
        Case {
            name: "unknown version",
            damage: None,
            run: |r, _| r.load("churn", VersionRef::Number(99)).map(|_| ()),
            expect: |e| matches!(e, Error::VersionNotFound { version: 99, .. }),
            names: &["churn", "99"],
        },
        Case {
            name: "unknown alias",
            damage: None,
            run: |r, _| r.load("churn", VersionRef::Alias("prod")).map(|_| ()),
            expect: |e| matches!(e, Error::AliasNotFound { alias, .. } if alias.as_str() == "prod"),
            names: &["churn", "prod"],
        },
        Case {
            name: "alias to a version that does not exist",
            damage: None,
            run: |r, _| r.set_alias("churn", "champion", 7, Some(1), "r"),
            expect: |e| matches!(e, Error::VersionNotFound { version: 7, .. }),
            names: &["7"],
        },
        Case {
            name: "alias move with a stale expectation",
            damage: None,
            run: |r, _| r.set_alias("churn", "champion", 2, Some(2), "r"),
            expect: |e| {
                matches!(
                    e,
                    Error::AliasConflict {
                        expected: Some(2),
                        actual: Some(1),
                        ..
                    }
                )
            },
            names: &["champion", "churn"],
        },
        Case {
            name: "creating an alias that already exists",
            damage: None,
            run: |r, _| r.set_alias("churn", "champion", 2, None, "r"),
            expect: |e| {
                matches!(
                    e,
                    Error::AliasConflict {
                        expected: None,
                        actual: Some(1),
                        ..
                    }
                )
            },
            names: &["champion"],
        },
        Case {
            name: "rollback of an alias that never moved",
            damage: None,
            run: |r, _| r.rollback("churn", "champion", 1, "r").map(|_| ()),
            expect: |e| matches!(e, Error::NoRollbackTarget { alias, .. } if alias.as_str() == "champion"),
            names: &["champion", "churn"],
        },
        Case {
            name: "archiving the version an alias points at",
            damage: None,
            run: |r, _| r.archive("churn", 1, "r"),
            expect: |e| matches!(e, Error::VersionInUse { version: 1, .. }),
            names: &["champion"],
        },
        Case {
            name: "unknown run id",
            damage: None,
            run: |r, _| r.get_run("no-such-run").map(|_| ()),
            expect: |e| matches!(e, Error::RunNotFound { run } if run.as_str() == "no-such-run"),
            names: &["no-such-run"],
        },
        Case {
            name: "unknown dataset fingerprint",
            damage: None,
            run: |r, _| r.dataset(&hash_bytes(b"other")).map(|_| ()),
            expect: |e| matches!(e, Error::DatasetNotFound { .. }),
            names: &["not found"],
        },
        Case {
            name: "dataset fingerprint already stored with other content",
            damage: None,
            run: |r, fx| {
                r.add_dataset(fx.dataset, Some("train"), &b"different"[..], "r")
                    .map(|_| ())
            },
            expect: |e| matches!(e, Error::DatasetConflict { .. }),
            names: &["already stored"],
        },
        Case {
            name: "registering a file that does not exist",
            damage: None,
            run: |r, fx| {
                r.register_file(
                    "churn",
                    fx.dir.join("no-such-bundle.bin"),
                    ModelMetadata::default(),
                    "r",
                )
                .map(|_| ())
            },
            expect: |e| matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            names: &["i/o error"],
        },
        // ---- damaged stored bytes ---------------------------------------------------------------
        Case {
            name: "blob with one flipped byte",
            damage: Some(|fx| {
                let p = blob_path(fx, &fx.blob_v1);
                let mut b = std::fs::read(&p).unwrap();
                b[0] ^= 0x01;
                std::fs::write(&p, b).unwrap();
            }),
            run: |r, _| r.load("churn", VersionRef::Number(1)).map(|_| ()),
            expect: |e| matches!(e, Error::BlobCorrupt { .. }),
            names: &["corrupt"],
        },
        Case {
            name: "truncated blob",
            damage: Some(|fx| {
                let p = blob_path(fx, &fx.blob_v1);
                let b = std::fs::read(&p).unwrap();
                std::fs::write(&p, &b[..b.len() / 2]).unwrap();
            }),
            run: |r, _| r.load("churn", VersionRef::Alias("champion")).map(|_| ()),
            expect: |e| matches!(e, Error::BlobCorrupt { .. }),
            names: &["corrupt"],
        },
        Case {
            name: "deleted blob",
            damage: Some(|fx| std::fs::remove_file(blob_path(fx, &fx.blob_v1)).unwrap()),
            run: |r, _| r.load("churn", VersionRef::Number(1)).map(|_| ()),
            expect: |e| matches!(e, Error::BlobMissing { .. }),
            names: &["missing"],
        },
        Case {
            name: "dataset snapshot blob damaged",
            damage: Some(|fx| {
                let p = blob_path(fx, &fx.dataset);
                std::fs::write(&p, b"x,y\n9,9\n").unwrap();
            }),
            run: |r, fx| {
                let mut out = Vec::new();
                r.load_dataset_to(&fx.dataset, &mut out).map(|_| ())
            },
            expect: |e| matches!(e, Error::BlobCorrupt { .. }),
            names: &["corrupt"],
        },
        Case {
            name: "event that is not JSON",
            damage: Some(|fx| std::fs::write(event_path(fx, 3), b"\xff\xfenot json").unwrap()),
            run: |r, _| r.versions("churn").map(|_| ()),
            expect: |e| matches!(e, Error::EventDecode { seq: 3, .. }),
            names: &["event 3"],
        },
        Case {
            name: "event edited in place (audit chain)",
            damage: Some(|fx| {
                let p = event_path(fx, 2);
                let text = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, text.replacen("second", "SECOND", 1)).unwrap();
            }),
            run: |r, _| r.versions("churn").map(|_| ()),
            expect: |e| matches!(e, Error::ChainBroken { seq: 3, .. }),
            names: &["3"],
        },
        Case {
            name: "event larger than MAX_EVENT_BYTES",
            damage: Some(|fx| {
                std::fs::write(
                    event_path(fx, 2),
                    vec![b' '; mlops_registry::MAX_EVENT_BYTES as usize + 1],
                )
                .unwrap()
            }),
            run: |r, _| r.versions("churn").map(|_| ()),
            expect: |e| matches!(e, Error::EventTooLarge { seq: 2, .. }),
            names: &["event 2"],
        },
    ]
}

#[test]
fn every_bad_input_is_the_documented_typed_error_and_stores_nothing() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture(tmp.path());
        if let Some(damage) = case.damage {
            damage(&fx);
        }
        let before = listing(&fx.dir);
        let outcome = std::panic::catch_unwind(|| {
            // Opening is part of the call: damage may already be found there.
            let reg = Registry::open_with(&fx.dir, RegistryOptions::default().with_fsync(false))?;
            (case.run)(&reg, &fx)
        });
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
        let after = listing(&fx.dir);
        if before != after {
            let changed: Vec<_> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            failures.push(format!(
                "{}: stored objects changed: {changed:?}",
                case.name
            ));
        }
        if case.damage.is_none() {
            // The logical state too (versions, aliases, audit-log head).
            let clean = tempfile::tempdir().unwrap();
            let reference = fixture(clean.path());
            let (a, b) = (state(&fx.dir), state(&reference.dir));
            // Heads differ in time stamps; compare versions and aliases and the head's seq.
            let trim = |s: &str| {
                s.split(" Some(LogHead")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            };
            if trim(&a) != trim(&b) {
                failures.push(format!("{}: state changed: {a} vs {b}", case.name));
            }
            let head = open(&fx.dir).head().unwrap().map(|h| h.seq);
            if head != fx.head {
                failures.push(format!("{}: head moved to {head:?}", case.name));
            }
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

/// Damage the audit log cannot hide: `verify` names it (the report is data, not an `Err`).
#[test]
fn verify_names_every_kind_of_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture(tmp.path());
    // A handle opened before the damage (a fresh open refuses the broken chain).
    let reg = open(&fx.dir);
    // An edited middle event: the next event's `prev` no longer matches.
    let p = event_path(&fx, 2);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replacen("second", "SECOND", 1)).unwrap();
    // A damaged blob.
    std::fs::write(blob_path(&fx, &fx.blob_v1), b"tampered").unwrap();
    let report = reg.verify().unwrap();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, mlops_registry::Problem::ChainBroken { seq: 3, .. })),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains(&fx.blob_v1.to_hex())),
        "{problems:?}"
    );
}
