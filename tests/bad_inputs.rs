//! The bad-input catalogue of the facade (issue 8): the failure modes `mlops::lifecycle` adds
//! on top of the crates (train-and-register from a file, reproduce a version), each mapped to
//! the exact `mlops::Error` variant, with the registry directory compared before and after.
//!
//! Table-driven: every case runs, all mismatches are reported at once. `docs/errors.md` is
//! written from this table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mlops::Error;
use mlops::data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops::data::transform::ImputeStrategy;
use mlops::lifecycle::{load_bundle, register_outcome, reproduce, train_and_register};
use mlops::registry::{ModelMetadata, Registry, VersionRef};
use mlops::train::{EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec};

struct Fx {
    dir: PathBuf,
    data: PathBuf,
}

impl Fx {
    fn reg_dir(&self) -> PathBuf {
        self.dir.join("reg")
    }
    fn open(&self) -> Registry {
        Registry::open(self.reg_dir()).unwrap()
    }
}

fn spec() -> TrainSpec {
    TrainSpec {
        config: TrainConfig::new(
            LABEL_COLUMN,
            POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(7),
        estimators: vec![EstimatorSpec::Logistic(LogisticRegression::new())],
    }
}

/// A registry holding `churn` v1 (trained from a file, with its snapshot), `nosnap` v1 (the
/// same outcome registered without a dataset snapshot) and `raw` v1 (bytes that are no bundle).
fn fixture(dir: &Path) -> Fx {
    let data = dir.join("customers.csv");
    let table = synth::churn_table(500, 7).unwrap();
    mlops::data::ingest::write_csv_path(
        &data,
        mlops::data::BatchStream::from_batches(table.schema(), vec![table]),
    )
    .unwrap();
    let fx = Fx {
        dir: dir.to_path_buf(),
        data,
    };
    let reg = fx.open();
    train_and_register(&reg, "churn", &spec(), &fx.data, "first").unwrap();
    // Other rows than the snapshotted file: their fingerprint has no snapshot.
    let other = synth::churn_table(400, 8).unwrap();
    let outcome = spec().train(&other).unwrap();
    register_outcome(&reg, "nosnap", outcome, None, "no snapshot").unwrap();
    reg.register(
        "raw",
        b"PK\x03\x04 a pickle".to_vec(),
        ModelMetadata::default(),
        "not a bundle",
    )
    .unwrap();
    fx
}

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

struct Case {
    name: &'static str,
    run: fn(&Registry, &Fx) -> Result<(), Error>,
    expect: fn(&Error) -> bool,
    names: &'static [&'static str],
}

fn train_named(reg: &Registry, fx: &Fx, name: &str) -> Result<(), Error> {
    train_and_register(reg, name, &spec(), &fx.data, "r").map(|_| ())
}

fn bad_model_name(e: &Error) -> bool {
    matches!(
        e,
        Error::Registry(mlops::registry::Error::InvalidName { what: "model", .. })
    )
}

fn scratch(fx: &Fx) -> PathBuf {
    let s = fx.dir.join("scratch");
    std::fs::create_dir_all(&s).unwrap();
    s
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "train and register under ../evil",
            run: |r, fx| train_named(r, fx, "../evil"),
            expect: bad_model_name,
            names: &["invalid model name", "../evil"],
        },
        Case {
            name: "train and register under an empty name",
            run: |r, fx| train_named(r, fx, ""),
            expect: bad_model_name,
            names: &["empty"],
        },
        Case {
            name: "register an outcome under a/../../b",
            run: |r, _| {
                let table = synth::churn_table(300, 8).unwrap();
                let outcome = spec().train(&table)?;
                register_outcome(r, "a/../../b", outcome, None, "r").map(|_| ())
            },
            expect: bad_model_name,
            names: &["a/../../b"],
        },
        Case {
            name: "train from a missing file",
            run: |r, fx| {
                train_and_register(r, "churn", &spec(), &fx.dir.join("nope.csv"), "r").map(|_| ())
            },
            expect: |e| matches!(e, Error::Data(mlops::data::Error::Io { path, .. }) if path.ends_with("nope.csv")),
            names: &["nope.csv"],
        },
        Case {
            name: "train from an empty file",
            run: |r, fx| {
                let p = fx.dir.join("empty.csv");
                std::fs::write(&p, "").unwrap();
                train_and_register(r, "churn", &spec(), &p, "r").map(|_| ())
            },
            expect: |e| matches!(e, Error::Data(mlops::data::Error::EmptyTable { .. })),
            names: &["empty table", "empty.csv"],
        },
        Case {
            name: "train from a file without the label column",
            run: |r, fx| {
                let p = fx.dir.join("narrow.csv");
                std::fs::write(&p, "tenure_months,plan\n3,gold\n4,basic\n").unwrap();
                train_and_register(r, "churn", &spec(), &p, "r").map(|_| ())
            },
            expect: |e| matches!(e, Error::Train(mlops::train::Error::MissingLabelColumn { column, .. }) if column == LABEL_COLUMN),
            names: &["churned"],
        },
        Case {
            name: "reproduce an unknown model",
            run: |r, fx| reproduce(r, "ghost", VersionRef::Latest, None, &scratch(fx)).map(|_| ()),
            expect: |e| {
                matches!(
                    e,
                    Error::Registry(mlops::registry::Error::ModelNotFound { .. })
                )
            },
            names: &["ghost"],
        },
        Case {
            name: "reproduce an unknown version",
            run: |r, fx| {
                reproduce(r, "churn", VersionRef::Number(9), None, &scratch(fx)).map(|_| ())
            },
            expect: |e| {
                matches!(
                    e,
                    Error::Registry(mlops::registry::Error::VersionNotFound { version: 9, .. })
                )
            },
            names: &["9"],
        },
        Case {
            name: "reproduce a version registered without a dataset snapshot",
            run: |r, fx| {
                reproduce(r, "nosnap", VersionRef::Number(1), None, &scratch(fx)).map(|_| ())
            },
            expect: |e| {
                matches!(e, Error::NotReproducible { model, version: 1, reason }
                    if model == "nosnap" && reason.contains("snapshot"))
            },
            names: &["nosnap v1", "snapshot"],
        },
        Case {
            name: "reproduce a version whose bytes are not a bundle",
            run: |r, fx| reproduce(r, "raw", VersionRef::Number(1), None, &scratch(fx)).map(|_| ()),
            expect: |e| matches!(e, Error::Train(mlops::train::Error::NotABundle)),
            names: &["not a model bundle"],
        },
        Case {
            name: "load a bundle by a traversal alias",
            run: |r, _| load_bundle(r, "churn", VersionRef::Alias("../x")).map(|_| ()),
            expect: |e| {
                matches!(
                    e,
                    Error::Registry(mlops::registry::Error::InvalidName { what: "alias", .. })
                )
            },
            names: &["../x"],
        },
    ]
}

#[test]
fn every_bad_input_is_the_documented_error_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture(tmp.path());
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let before = listing(&fx.reg_dir());
        let reg = fx.open();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)(&reg, &fx))) {
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
        if listing(&fx.reg_dir()) != before {
            failures.push(format!("{}: the registry changed", case.name));
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

/// A damaged dataset snapshot: reproduce fails with the registry's typed error naming the blob
/// (never a silently different retrain).
#[test]
fn reproduce_on_a_damaged_or_missing_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture(tmp.path());
    let reg = fx.open();
    let snap = reg.datasets().unwrap()[0].clone();
    let blob = fx.reg_dir().join("blobs/sha256").join(snap.blob.to_hex());
    std::fs::write(&blob, b"x,y\n1,2\n").unwrap();
    let e = reproduce(&reg, "churn", VersionRef::Number(1), None, &scratch(&fx)).unwrap_err();
    assert!(
        matches!(&e, Error::Registry(mlops::registry::Error::BlobCorrupt { hash, .. }) if *hash == snap.blob),
        "{e:?}"
    );
    std::fs::remove_file(&blob).unwrap();
    let e = reproduce(&reg, "churn", VersionRef::Number(1), None, &scratch(&fx)).unwrap_err();
    assert!(
        matches!(&e, Error::Registry(mlops::registry::Error::BlobMissing { hash }) if *hash == snap.blob),
        "{e:?}"
    );
    assert!(e.to_string().contains(&snap.blob.to_hex()), "{e}");
}
