//! Fault injection: a registry workload run through `FaultyStore` with the k-th write failing,
//! for every k and every fault, then checked with a clean handle on the store underneath.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mlops_registry::core::{ContentHash, hash_bytes};
use mlops_registry::object_store::ObjectStore;
use mlops_registry::object_store::local::LocalFileSystem;
use mlops_registry::object_store::memory::InMemory;
use mlops_registry::object_store::path::Path;
use mlops_registry::testing::{Fault, FaultPlan, FaultyStore, OpKind, Rule, Trigger};
use mlops_registry::{
    Action, Error, Lineage, ModelMetadata, Problem, Registry, RegistryOptions, RunRecord,
    VersionRef,
};

/// The smallest part size the registry accepts: inputs of a few KiB are multipart uploads.
const CHUNK: usize = 1024;

fn opts() -> RegistryOptions {
    RegistryOptions::default()
        .with_actor("faults")
        .with_chunk_size(CHUNK)
        // Writers take snapshots inside the workload too.
        .with_snapshot_every(4)
}

/// Deterministic bytes, distinct per `tag`.
fn bytes(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ tag.wrapping_mul(101))
        .collect()
}

#[derive(Clone, Debug)]
enum Step {
    Register(&'static str, Vec<u8>, f64),
    RegisterReader(&'static str, Vec<u8>),
    SetAlias(&'static str, &'static str, u64, Option<u64>),
    Rollback(&'static str, &'static str, u64),
    Archive(&'static str, u64),
    LogRun(&'static str, f64, ContentHash),
    AddDataset(&'static str, Vec<u8>),
    Snapshot,
    Gc,
}

/// The workload: every kind of write, small blobs and multipart-sized ones (3.5, 2.5 and 2
/// parts), aliases moved, rolled back and an archived version, runs, datasets, explicit and
/// automatic snapshots, a gc, and content stored twice.
fn workload() -> Vec<Step> {
    let small_data = bytes(1, 200);
    let fp = hash_bytes(&small_data);
    vec![
        Step::Register("churn", bytes(2, 300), 0.81),
        Step::AddDataset("train", small_data),
        Step::LogRun("churn", 0.83, fp),
        Step::RegisterReader("churn", bytes(3, CHUNK * 7 / 2)),
        Step::SetAlias("churn", "champion", 1, None),
        Step::Register("fraud", bytes(4, 100), 0.7),
        Step::SetAlias("churn", "champion", 2, Some(1)),
        Step::Rollback("churn", "champion", 2),
        Step::SetAlias("churn", "champion", 2, Some(1)),
        Step::Archive("churn", 1),
        Step::AddDataset("big", bytes(5, CHUNK * 5 / 2)),
        Step::Snapshot,
        Step::Register("churn", bytes(6, 50), 0.9),
        Step::Gc,
        Step::LogRun("fraud", 0.72, fp),
        Step::SetAlias("fraud", "champion", 1, None),
        // The same bundle again (its blob is rewritten), the same dataset again (no event),
        // and an upload of exactly two parts.
        Step::Register("fraud", bytes(4, 100), 0.75),
        Step::AddDataset("train", bytes(1, 200)),
        Step::RegisterReader("fraud", bytes(7, CHUNK * 2)),
        Step::Snapshot,
    ]
}

fn apply(reg: &Registry, step: &Step) -> mlops_registry::Result<()> {
    match step {
        Step::Register(model, b, auc) => {
            let meta = ModelMetadata::default()
                .with_metric("auc", *auc)
                .with_lineage(Lineage {
                    run_id: None,
                    dataset_fingerprints: vec![],
                });
            reg.register(model, b.clone(), meta, "fit").map(|_| ())
        }
        Step::RegisterReader(model, b) => reg
            .register_reader(model, &b[..], ModelMetadata::default(), "streamed")
            .map(|_| ()),
        Step::SetAlias(model, alias, v, expected) => {
            reg.set_alias(model, alias, *v, *expected, "promote")
        }
        Step::Rollback(model, alias, expected) => {
            reg.rollback(model, alias, *expected, "undo").map(|_| ())
        }
        Step::Archive(model, v) => reg.archive(model, *v, "retire"),
        Step::LogRun(exp, auc, fp) => {
            let record = RunRecord::new(exp)?
                .with_metric("auc", *auc)
                .with_dataset(*fp);
            reg.log_run(&record, "nightly").map(|_| ())
        }
        Step::AddDataset(label, b) => reg
            .add_dataset(hash_bytes(b), Some(label), &b[..], "snapshot")
            .map(|_| ()),
        Step::Snapshot => reg.snapshot().map(|_| ()),
        Step::Gc => reg.gc(Duration::ZERO).map(|_| ()),
    }
}

/// A version without its times: number, blob, size, metadata, archived, event.
type VersionView = (u64, ContentHash, u64, ModelMetadata, bool, u64);

/// What a clean handle sees, without times (which differ between runs).
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    events: Vec<(u64, &'static str, String)>,
    versions: BTreeMap<String, Vec<VersionView>>,
    aliases: BTreeMap<String, BTreeMap<String, u64>>,
    runs: Vec<(String, String, ContentHash, u64, u64)>,
    datasets: Vec<(ContentHash, Option<String>, ContentHash, u64, u64)>,
}

/// Reads everything, loading (and so hash-verifying) every blob.
fn observe(reg: &Registry) -> Observed {
    let mut o = Observed {
        events: reg
            .events()
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.action.kind(), e.target))
            .collect(),
        versions: BTreeMap::new(),
        aliases: BTreeMap::new(),
        runs: Vec::new(),
        datasets: Vec::new(),
    };
    for model in reg.models().unwrap() {
        let mut vs = Vec::new();
        for v in reg.versions(model.as_str()).unwrap() {
            let (_, blob) = reg
                .load(model.as_str(), VersionRef::Number(v.version))
                .unwrap();
            assert_eq!(blob.len() as u64, v.size);
            vs.push((
                v.version,
                v.blob,
                v.size,
                v.metadata,
                v.archived,
                v.event_seq,
            ));
        }
        o.versions.insert(model.to_string(), vs);
        let aliases = reg.aliases(model.as_str()).unwrap();
        o.aliases.insert(
            model.to_string(),
            aliases
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        );
    }
    for r in reg.runs(None).unwrap() {
        reg.get_run(r.run.as_str()).unwrap();
        o.runs.push((
            r.run.to_string(),
            r.experiment.to_string(),
            r.blob,
            r.size,
            r.event_seq,
        ));
    }
    for d in reg.datasets().unwrap() {
        let mut out = Vec::new();
        reg.load_dataset_to(&d.fingerprint, &mut out).unwrap();
        assert_eq!(hash_bytes(&out), d.blob);
        o.datasets.push((
            d.fingerprint,
            d.name.map(|n| n.to_string()),
            d.blob,
            d.size,
            d.event_seq,
        ));
    }
    o
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let store = store.clone();
    let prefix = Path::from(prefix);
    rt().block_on(async move {
        let mut k: Vec<String> = store
            .list(Some(&prefix))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await;
        k.sort();
        k
    })
}

/// Problems that say the log or a referenced blob is damaged (not a cache or a leftover).
fn damage(problems: &[Problem]) -> Vec<&Problem> {
    problems
        .iter()
        .filter(|p| {
            !matches!(
                p,
                Problem::SnapshotUnreadable { .. } | Problem::SnapshotMismatch { .. }
            )
        })
        .collect()
}

fn seq_of(key: &str, prefix: &str) -> Option<u64> {
    key.strip_prefix(prefix)?.parse().ok()
}

/// The states after each step of a fault-free run (`golden[0]`: before the first step), and
/// how many calls of each kind the workload makes.
/// A fresh empty store, and the directory it lives in if it is on disk.
type NewStore = fn() -> (Arc<dyn ObjectStore>, Option<tempfile::TempDir>);

fn memory() -> (Arc<dyn ObjectStore>, Option<tempfile::TempDir>) {
    (Arc::new(InMemory::new()), None)
}

/// The local file system (without fsync: a crash is not what these tests simulate).
fn local() -> (Arc<dyn ObjectStore>, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSystem::new_with_prefix(dir.path())
        .unwrap()
        .with_fsync(false);
    (Arc::new(store), Some(dir))
}

fn golden(
    steps: &[Step],
    new_store: NewStore,
) -> (Vec<Observed>, BTreeMap<OpKind, u64>, Vec<String>) {
    let (disk, _dir) = new_store();
    let counting = FaultyStore::new(disk.clone(), FaultPlan::none());
    // As in every case: `connect` reads nothing, the first step reads the empty log.
    let reg = Registry::connect(Arc::new(counting.clone()), opts()).unwrap();
    let mut states = vec![observe(
        &Registry::from_store(disk.clone(), opts()).unwrap(),
    )];
    let mut counts = BTreeMap::new();
    for step in steps {
        apply(&reg, step).unwrap();
        for &op in OpKind::ALL {
            *counts.entry(op).or_insert(0) += counting.calls(op);
        }
        counting.reset_counts();
        states.push(observe(
            &Registry::from_store(disk.clone(), opts()).unwrap(),
        ));
    }
    let snapshots = keys(&disk, "snapshots");
    let fresh = Registry::from_store(disk, opts()).unwrap();
    assert!(fresh.verify().unwrap().is_ok());
    (states, counts, snapshots)
}

/// How one case ended.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    failed_ops: u64,
    failed_but_visible: u64,
    retried: u64,
    silent: u64,
    torn_events_detected: u64,
    torn_snapshots_detected: u64,
    lying_blobs_detected: u64,
    torn_rewrites_repaired: u64,
    torn_events_rewritten: u64,
}

/// The checks after a step failed, or after a step during which a lying write happened.
/// Returns `false` when the case cannot go on (a torn event: detected, but the log is broken).
#[allow(clippy::too_many_arguments)]
fn check_after(
    disk: &Arc<dyn ObjectStore>,
    faulty: &FaultyStore,
    golden: &[Observed],
    i: usize,
    step: &Step,
    failed: bool,
    fault: Fault,
    tally: &mut Tally,
) -> (bool, bool) {
    let ctx = format!("step {i} {step:?}, fault {:?}", faulty.fired());
    let fired = faulty.fired();
    let key = fired.last().map(|f| f.key.clone()).unwrap_or_default();
    let lying = matches!(fault, Fault::TruncateAck { .. });
    // An event torn by a lying disk: the registry cannot open, but says which event is
    // damaged. (A torn event whose write reported an error is removed and rewritten by the
    // writer: see `run_case`.)
    if lying && key.starts_with("events/") {
        let seq = seq_of(&key, "events/").unwrap();
        match Registry::from_store(disk.clone(), opts()) {
            Err(Error::EventDecode { seq: s, .. }) => assert_eq!(s, seq, "{ctx}"),
            other => panic!("{ctx}: a torn event must stop the open: {other:?}"),
        }
        let report = Registry::connect(disk.clone(), opts())
            .unwrap()
            .verify()
            .unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::EventUnreadable { seq: s, .. } if *s == seq)),
            "{ctx}: {report:?}"
        );
        tally.torn_events_detected += 1;
        return (false, false);
    }
    // (i) a clean handle opens.
    let fresh = Registry::from_store(disk.clone(), opts())
        .unwrap_or_else(|e| panic!("{ctx}: the registry does not open: {e}"));
    let report = fresh.verify().unwrap();
    let referenced_before = |hex: &str| {
        let b = &golden[i];
        b.versions
            .values()
            .flatten()
            .map(|v| v.1)
            .chain(b.runs.iter().map(|r| r.2))
            .chain(b.datasets.iter().map(|d| d.2))
            .any(|h| h.to_hex() == hex)
    };
    if matches!(fault, Fault::Truncate { .. })
        && key
            .strip_prefix("blobs/sha256/")
            .is_some_and(referenced_before)
    {
        // A torn rewrite of stored content (uploaded again): only a store whose puts are not
        // atomic can do this. The damage is named, and the retry's rewrite repairs it.
        let [Problem::BlobCorrupt { hash, .. }] = &report.problems[..] else {
            panic!("{ctx}: {report:?}");
        };
        assert!(key.ends_with(&hash.to_hex()), "{ctx}");
        assert!(matches!(
            fresh.read_blob(hash),
            Err(Error::BlobCorrupt { hash: h, .. }) if h == *hash
        ));
        tally.torn_rewrites_repaired += 1;
        return (true, false);
    }
    if matches!(fault, Fault::TruncateAck { .. }) && key_is_blob_data(&key) {
        // A lying disk under a blob: the acknowledged version is damaged, which load and
        // verify name. Nothing else is wrong.
        let [Problem::BlobCorrupt { hash, target, .. }] = &report.problems[..] else {
            panic!("{ctx}: {report:?}");
        };
        if let Some(hex) = key.strip_prefix("blobs/sha256/") {
            assert_eq!(hash.to_hex(), hex, "{ctx}");
        }
        match fresh.read_blob(hash) {
            Err(Error::BlobCorrupt { hash: h, .. }) => assert_eq!(h, *hash, "{ctx}"),
            other => panic!("{ctx}: {other:?}"),
        }
        assert!(!target.is_empty());
        tally.lying_blobs_detected += 1;
        return (false, false);
    }
    // (iv) the log and every referenced blob are intact; a torn snapshot is a cache that
    // opening skipped and verify names.
    let damaged = damage(&report.problems);
    assert!(damaged.is_empty(), "{ctx}: {damaged:?}");
    if report.problems.len() > damaged.len() {
        assert!(lying && key.starts_with("snapshots/"), "{ctx}: {report:?}");
        let seq = seq_of(&key, "snapshots/").unwrap();
        assert_eq!(
            report.problems,
            vec![Problem::SnapshotUnreadable {
                seq,
                error: match &report.problems[0] {
                    Problem::SnapshotUnreadable { error, .. } => error.clone(),
                    _ => unreachable!(),
                }
            }],
            "{ctx}"
        );
        tally.torn_snapshots_detected += 1;
    }
    // (ii) + (iii) everything acknowledged before is there, exactly, and the failed step is
    // all there or not at all.
    let seen = observe(&fresh);
    let before = &golden[i];
    let after = &golden[i + 1];
    let visible = if seen == *after {
        true
    } else {
        assert_eq!(seen, *before, "{ctx}: neither before nor after the step");
        false
    };
    if failed && visible && before != after {
        tally.failed_but_visible += 1;
    }
    assert!(
        failed || visible,
        "{ctx}: an acknowledged step is not visible"
    );
    (true, visible)
}

/// Blob data written by the registry: a content key or a `tmp/` upload later copied to one.
fn key_is_blob_data(key: &str) -> bool {
    key.starts_with("blobs/") || key.starts_with("tmp/")
}

fn run_case(
    steps: &[Step],
    (golden, snapshots): (&[Observed], &[String]),
    new_store: NewStore,
    fault: Fault,
    ops: &[OpKind],
    k: u64,
) -> Tally {
    let mut tally = Tally {
        cases: 1,
        ..Tally::default()
    };
    let (disk, _dir) = new_store();
    let faulty = FaultyStore::new(
        disk.clone(),
        FaultPlan::new(k).with(Rule::new(Trigger::Nth(k), fault).on(ops)),
    );
    // `connect` reads nothing: the first step reads the (empty) log, under the plan.
    let reg = Registry::connect(Arc::new(faulty.clone()), opts()).unwrap();
    for (i, step) in steps.iter().enumerate() {
        let fired_before = faulty.fired().len();
        let result = apply(&reg, step);
        let fired_here = faulty.fired().len() > fired_before;
        match result {
            Ok(()) => {
                let lying = fired_here && matches!(fault, Fault::TruncateAck { .. });
                if lying {
                    let (go_on, _) =
                        check_after(&disk, &faulty, golden, i, step, false, fault, &mut tally);
                    if !go_on {
                        return tally;
                    }
                } else if fired_here && !fault.is_delay() {
                    tally.silent += 1;
                    let key = &faulty.fired()[0].key;
                    if matches!(fault, Fault::Truncate { .. }) && key.starts_with("events/") {
                        // The writer found its own torn event, removed it and appended again.
                        tally.torn_events_rewritten += 1;
                    }
                }
            }
            Err(e) => {
                assert!(fired_here, "step {i} {step:?} failed without a fault: {e}");
                tally.failed_ops += 1;
                let (go_on, visible) =
                    check_after(&disk, &faulty, golden, i, step, true, fault, &mut tally);
                if !go_on {
                    return tally;
                }
                if !visible || golden[i] == golden[i + 1] {
                    // (v) the retry succeeds, and does not duplicate (checked at the end).
                    apply(&reg, step).unwrap_or_else(|e| {
                        panic!("step {i} {step:?}: retry after {fault:?} failed: {e}")
                    });
                    tally.retried += 1;
                }
            }
        }
    }
    assert_eq!(
        faulty.fired().len(),
        1,
        "the fault must fire: {fault:?} #{k}"
    );
    // At the end: exactly the fault-free state, a clean verify, and gc removes every leftover.
    let fresh = Registry::from_store(disk.clone(), opts()).unwrap();
    assert_eq!(observe(&fresh), *golden.last().unwrap(), "{fault:?} #{k}");
    let report = fresh.verify().unwrap();
    let torn_snapshot = matches!(fault, Fault::TruncateAck { .. })
        && faulty.fired()[0].key.starts_with("snapshots/");
    assert!(
        report.is_ok() || torn_snapshot && damage(&report.problems).is_empty(),
        "{fault:?} #{k}: {report:?}"
    );
    if fault.is_delay() || fault == Fault::LostAck {
        // Faults after which every call succeeds leave exactly the fault-free store,
        // automatic snapshots included.
        assert_eq!(keys(&disk, "snapshots"), snapshots, "{fault:?} #{k}");
    }
    std::thread::sleep(Duration::from_millis(3));
    fresh.gc(Duration::ZERO).unwrap();
    assert!(keys(&disk, "tmp").is_empty(), "{fault:?} #{k}");
    let referenced: Vec<String> = {
        let o = observe(&fresh);
        let mut r: Vec<String> = o
            .versions
            .values()
            .flatten()
            .map(|v| v.1)
            .chain(o.runs.iter().map(|r| r.2))
            .chain(o.datasets.iter().map(|d| d.2))
            .map(|h| format!("blobs/sha256/{}", h.to_hex()))
            .collect();
        r.sort();
        r.dedup();
        r
    };
    assert_eq!(
        keys(&disk, "blobs"),
        referenced,
        "{fault:?} #{k}: leftovers"
    );
    tally
}

/// Runs the workload once per (fault, k): the k-th call the fault applies to gets it.
/// Returns the tally and how many cases each fault had.
fn matrix(new_store: NewStore, plans: &[(Fault, &[OpKind])]) -> (Tally, String) {
    let started = Instant::now();
    let steps = workload();
    let (golden, counts, snapshots) = golden(&steps, new_store);
    let count = |ops: &[OpKind]| -> u64 {
        ops.iter()
            .map(|op| counts.get(op).copied().unwrap_or(0))
            .sum()
    };
    let mut total = Tally::default();
    let mut per_fault = Vec::new();
    for (fault, ops) in plans {
        let n = count(ops);
        assert!(n > 0, "{fault:?}");
        for k in 1..=n {
            let t = run_case(&steps, (&golden, &snapshots), new_store, *fault, ops, k);
            total.cases += t.cases;
            total.failed_ops += t.failed_ops;
            total.failed_but_visible += t.failed_but_visible;
            total.retried += t.retried;
            total.silent += t.silent;
            total.torn_events_detected += t.torn_events_detected;
            total.torn_snapshots_detected += t.torn_snapshots_detected;
            total.lying_blobs_detected += t.lying_blobs_detected;
            total.torn_rewrites_repaired += t.torn_rewrites_repaired;
            total.torn_events_rewritten += t.torn_events_rewritten;
        }
        per_fault.push((*fault, n));
    }
    assert_eq!(total.cases, per_fault.iter().map(|p| p.1).sum::<u64>());
    assert!(counts[&OpKind::MultipartPart] >= 9, "{counts:?}");
    // A write whose answer was lost is found and counted once: no failed call left its
    // change behind.
    assert_eq!(total.failed_but_visible, 0, "{total:?}");
    let summary = format!(
        "{} steps, {} writes ({counts:?}); cases per fault {per_fault:?}; {total:?}; {:.1?}",
        steps.len(),
        count(OpKind::WRITES),
        started.elapsed()
    );
    (total, summary)
}

const CONDITIONAL: &[OpKind] = &[OpKind::PutCreate, OpKind::PutUpdate];
const MULTIPART: &[OpKind] = &[OpKind::MultipartPart, OpKind::MultipartComplete];

#[test]
fn every_write_of_the_workload_failing_in_every_way() {
    let plans: Vec<(Fault, &[OpKind])> = vec![
        (Fault::FailBefore, OpKind::WRITES),
        (Fault::FailAfter, OpKind::WRITES),
        (Fault::Delay(Duration::from_micros(200)), OpKind::WRITES),
        (Fault::LostAck, CONDITIONAL),
        (Fault::Truncate { keep_percent: 0 }, OpKind::PAYLOAD_WRITES),
        (Fault::Truncate { keep_percent: 50 }, OpKind::PAYLOAD_WRITES),
        (Fault::Truncate { keep_percent: 99 }, OpKind::PAYLOAD_WRITES),
        (
            Fault::TruncateAck { keep_percent: 0 },
            OpKind::PAYLOAD_WRITES,
        ),
        (
            Fault::TruncateAck { keep_percent: 50 },
            OpKind::PAYLOAD_WRITES,
        ),
        (
            Fault::TruncateAck { keep_percent: 99 },
            OpKind::PAYLOAD_WRITES,
        ),
        (Fault::Abort, MULTIPART),
        // Reads fail too: the step fails with nothing written, and its retry succeeds.
        (Fault::FailBefore, OpKind::READS),
        (Fault::FailAfter, OpKind::READS),
    ];
    let (total, summary) = matrix(memory, &plans);
    eprintln!("memory: {summary}");
    assert!(total.failed_ops > 0);
    assert!(total.lying_blobs_detected > 0 && total.torn_events_detected > 0);
    assert!(total.torn_snapshots_detected > 0 && total.torn_rewrites_repaired > 0);
    assert!(total.torn_events_rewritten > 0);
}

#[test]
fn every_write_failing_on_the_local_file_system() {
    let plans: Vec<(Fault, &[OpKind])> = vec![
        (Fault::FailBefore, OpKind::WRITES),
        (Fault::FailAfter, OpKind::WRITES),
        (Fault::LostAck, CONDITIONAL),
        (Fault::Truncate { keep_percent: 50 }, OpKind::PAYLOAD_WRITES),
        (
            Fault::TruncateAck { keep_percent: 50 },
            OpKind::PAYLOAD_WRITES,
        ),
        (Fault::Abort, MULTIPART),
    ];
    let (total, summary) = matrix(local, &plans);
    eprintln!("local: {summary}");
    assert!(total.failed_ops > 0 && total.lying_blobs_detected > 0);
}

#[test]
fn a_lost_acknowledgement_does_not_duplicate_a_version() {
    let disk: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(disk.clone(), FaultPlan::none());
    let reg = Registry::from_store(Arc::new(faulty.clone()), RegistryOptions::default()).unwrap();
    reg.register("m", b"one".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    for fault in [Fault::LostAck, Fault::FailAfter] {
        faulty.set_plan(
            FaultPlan::new(1).with(
                Rule::new(Trigger::Nth(1), fault)
                    .on(&[OpKind::PutCreate])
                    .under("events/"),
            ),
        );
        let before = reg.versions("m").unwrap().len() as u64;
        let v = reg
            .register("m", b"two".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        assert_eq!(v.version, before + 1, "{fault:?}");
    }
    assert_eq!(faulty.fired().len(), 2, "the faults were injected");
    faulty.set_plan(
        FaultPlan::new(1).with(Rule::new(Trigger::Always, Fault::LostAck).on(&[OpKind::PutCreate])),
    );
    reg.set_alias("m", "champion", 2, None, "").unwrap();
    reg.set_alias("m", "champion", 1, Some(2), "").unwrap();
    let fresh = Registry::from_store(disk, RegistryOptions::default()).unwrap();
    assert_eq!(fresh.versions("m").unwrap().len(), 3);
    assert_eq!(fresh.events().unwrap().len(), 5);
    assert!(fresh.verify().unwrap().is_ok());
}

#[test]
fn a_torn_event_or_snapshot_is_removed_by_its_writer() {
    let disk: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(
        disk.clone(),
        FaultPlan::new(1)
            .with(
                Rule::new(Trigger::Nth(2), Fault::Truncate { keep_percent: 60 })
                    .on(&[OpKind::PutCreate])
                    .under("events/"),
            )
            .with(
                Rule::new(Trigger::Nth(1), Fault::Truncate { keep_percent: 60 })
                    .on(&[OpKind::PutCreate])
                    .under("snapshots/"),
            ),
    );
    let reg = Registry::from_store(Arc::new(faulty.clone()), opts()).unwrap();
    reg.register("m", b"one".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    // The second event is torn: the writer removes it and appends again, at the same place.
    let v = reg
        .register("m", b"two".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    assert_eq!(v.version, 2);
    assert_eq!(v.event_seq, 2);
    // The snapshot is torn: removed, and the error returned; the next one is whole.
    assert!(matches!(reg.snapshot(), Err(Error::Store { .. })));
    assert!(keys(&disk, "snapshots").is_empty());
    assert_eq!(reg.snapshot().unwrap().map(|h| h.seq), Some(2));
    assert_eq!(faulty.fired().len(), 2);
    let fresh = Registry::from_store(disk.clone(), opts()).unwrap();
    assert_eq!(fresh.versions("m").unwrap().len(), 2);
    assert_eq!(fresh.events().unwrap().len(), 2);
    assert!(fresh.verify().unwrap().is_ok());
}

#[test]
fn a_lying_disk_is_named_by_load_and_verify_and_a_new_upload_repairs_it() {
    let disk: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(
        disk.clone(),
        FaultPlan::new(1).with(
            Rule::new(Trigger::Nth(1), Fault::TruncateAck { keep_percent: 90 }).under("blobs/"),
        ),
    );
    let reg = Registry::from_store(Arc::new(faulty.clone()), opts()).unwrap();
    let data = bytes(9, 500);
    let v = reg
        .register("m", data.clone(), ModelMetadata::default(), "")
        .unwrap();
    match reg.load("m", VersionRef::Number(1)) {
        Err(Error::BlobCorrupt { hash, actual }) => {
            assert_eq!(hash, v.blob);
            assert_eq!(actual, hash_bytes(&data[..450]));
        }
        other => panic!("{other:?}"),
    }
    let mut sink = Vec::new();
    assert!(matches!(
        reg.load_to("m", VersionRef::Latest, &mut sink),
        Err(Error::BlobCorrupt { hash, .. }) if hash == v.blob
    ));
    let report = reg.verify().unwrap();
    assert!(matches!(
        &report.problems[..],
        [Problem::BlobCorrupt { hash, target, .. }] if *hash == v.blob && target == "model/m/1"
    ));
    // Uploading the same content again rewrites the blob (content keys are overwritten).
    reg.register("m", data.clone(), ModelMetadata::default(), "again")
        .unwrap();
    let (_, loaded) = reg.load("m", VersionRef::Number(1)).unwrap();
    assert_eq!(&loaded[..], &data[..]);
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn concurrent_writers_under_random_faults_lose_no_acknowledged_write() {
    for seed in [2026, 7, 99] {
        concurrent_writers_under_faults(seed);
    }
}

fn concurrent_writers_under_faults(seed: u64) {
    const THREADS: usize = 4;
    const EACH: usize = 24;
    let disk: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(
        disk.clone(),
        FaultPlan::new(seed)
            .with(Rule::new(Trigger::Probability(0.06), Fault::FailBefore))
            .with(Rule::new(Trigger::Probability(0.06), Fault::FailAfter))
            .with(Rule::new(Trigger::Probability(0.1), Fault::LostAck).on(&[OpKind::PutCreate]))
            .with(Rule::new(Trigger::Probability(0.03), Fault::FailBefore).on(OpKind::READS))
            .with(
                Rule::new(
                    Trigger::Probability(0.3),
                    Fault::DelayUpTo(Duration::from_micros(300)),
                )
                .on(OpKind::ALL),
            ),
    );
    let store: Arc<dyn ObjectStore> = Arc::new(faulty.clone());
    type Outcome = (Vec<(Vec<u8>, Option<u64>)>, Vec<((u64, Option<u64>), bool)>);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    let reg = loop {
                        // Opening reads, and reads can fail too.
                        if let Ok(r) =
                            Registry::from_store(store.clone(), opts().with_actor(format!("w{t}")))
                        {
                            break r;
                        }
                    };
                    let mut registered = Vec::new();
                    let mut moves = Vec::new();
                    for i in 0..EACH {
                        let tag = (t * EACH + i) as u8;
                        let multipart = i % 4 == 3;
                        let data = bytes(tag, if multipart { CHUNK * 5 / 2 } else { 64 });
                        let r = if multipart {
                            reg.register_reader("m", &data[..], ModelMetadata::default(), "")
                        } else {
                            reg.register("m", data.clone(), ModelMetadata::default(), "")
                        };
                        let version = r.ok().map(|v| v.version);
                        registered.push((data, version));
                        // Promote every third acknowledged version by compare-and-set.
                        if let (Some(v), 0) = (version, i % 3) {
                            let Ok(aliases) = reg.aliases("m") else {
                                continue;
                            };
                            let current = aliases
                                .iter()
                                .find(|(a, _)| a.as_str() == "champion")
                                .map(|(_, v)| *v);
                            let ok = reg.set_alias("m", "champion", v, current, "").is_ok();
                            moves.push(((v, current), ok));
                        }
                    }
                    (registered, moves)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    faulty.disarm();
    let fired = faulty.fired();
    let injected = fired.iter().filter(|f| !f.fault.is_delay()).count();
    assert!(injected >= 10, "{injected} faults");
    let fresh = Registry::from_store(disk.clone(), opts()).unwrap();
    let versions = fresh.versions("m").unwrap();
    // Versions are 1..=n, each holding the bytes of one attempt.
    let by_hash: BTreeMap<ContentHash, u64> =
        versions.iter().map(|v| (v.blob, v.version)).collect();
    assert_eq!(
        by_hash.len(),
        versions.len(),
        "an attempt became two versions"
    );
    for (i, v) in versions.iter().enumerate() {
        assert_eq!(v.version, i as u64 + 1);
    }
    let mut acked = 0u64;
    let mut failed_visible = 0;
    for (data, ack) in outcomes.iter().flat_map(|o| &o.0) {
        let h = hash_bytes(data);
        match ack {
            Some(v) => {
                acked += 1;
                assert_eq!(by_hash.get(&h), Some(v), "acknowledged write lost or moved");
                let (_, loaded) = fresh.load("m", VersionRef::Number(*v)).unwrap();
                assert_eq!(&loaded[..], &data[..]);
            }
            None => failed_visible += u64::from(by_hash.contains_key(&h)),
        }
    }
    assert_eq!(
        versions.len() as u64,
        acked + failed_visible,
        "a version of no attempt"
    );
    assert!(acked >= (THREADS * EACH / 2) as u64, "{acked} acknowledged");
    // Every acknowledged alias move is in the log exactly once; every move in the log was
    // attempted.
    let logged: Vec<(u64, Option<u64>)> = fresh
        .events()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.action {
            Action::SetAlias {
                version, previous, ..
            } => Some((version, previous)),
            _ => None,
        })
        .collect();
    let moves: Vec<_> = outcomes.iter().flat_map(|o| &o.1).collect();
    let moves_acked = moves.iter().filter(|m| m.1).count();
    for (mv, ok) in &moves {
        let n = logged.iter().filter(|l| *l == mv).count();
        if *ok {
            assert_eq!(n, 1, "acknowledged move {mv:?}");
        }
    }
    for l in &logged {
        assert!(
            moves.iter().any(|(mv, _)| mv == l),
            "move {l:?} never attempted"
        );
    }
    assert!(moves_acked >= 2, "{moves:?}");
    assert!(fresh.verify().unwrap().is_ok());
    std::thread::sleep(Duration::from_millis(3));
    fresh.gc(Duration::ZERO).unwrap();
    assert!(keys(&disk, "tmp").is_empty());
    assert!(fresh.verify().unwrap().is_ok());
    eprintln!(
        "seed {seed}: {} registrations, {acked} acknowledged, {failed_visible} failed but written; \
         {} alias moves, {moves_acked} acknowledged, {} logged; {injected} faults",
        THREADS * EACH,
        moves.len(),
        logged.len()
    );
}
