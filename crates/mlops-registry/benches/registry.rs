//! Registry benchmarks: `cargo bench -p mlops-registry --bench registry [-- <filter>]`.
//!
//! Groups: `register`, `load`, `log` (open and verify 1000 events), `open_10k` (open a local
//! registry of 10,000 events with and without a snapshot), `blob_256MiB` (put and verified get
//! of a 256 MiB artifact on the local store) and `mlflow_peer` (the workload that
//! `benches/peers/registry_peer.py` times with MLflow: register a small bundle, set the
//! `champion` alias, load by alias).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mlops_registry::{ModelMetadata, Registry, RegistryOptions, VersionRef};

fn meta() -> ModelMetadata {
    ModelMetadata::default()
        .with_metric("auc", 0.91)
        .with_param("max_depth", "6")
}

fn bench_register(c: &mut Criterion) {
    let mut g = c.benchmark_group("register");
    let mem = Registry::in_memory().unwrap();
    let mut i = 0u64;
    g.bench_function("memory_1KiB", |b| {
        b.iter(|| {
            i += 1;
            let mut bytes = vec![0u8; 1024];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            mem.register("m", bytes, meta(), "bench").unwrap()
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let local =
        Registry::open_with(dir.path(), RegistryOptions::default().with_fsync(false)).unwrap();
    g.bench_function("local_no_fsync_1KiB", |b| {
        b.iter(|| {
            i += 1;
            let mut bytes = vec![0u8; 1024];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            local.register("m", bytes, meta(), "bench").unwrap()
        })
    });
    g.finish();
}

fn bench_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    let reg = Registry::in_memory().unwrap();
    let bundle = vec![7u8; 1 << 20];
    reg.register("m", bundle.clone(), meta(), "").unwrap();
    reg.set_alias("m", "champion", 1, None, "").unwrap();
    g.throughput(Throughput::Bytes(bundle.len() as u64));
    g.bench_function("memory_1MiB_by_alias_verified", |b| {
        b.iter(|| reg.load("m", VersionRef::Alias("champion")).unwrap())
    });
    g.finish();
}

fn bench_open_verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("log");
    g.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    {
        let reg = Registry::open_with(
            dir.path(),
            RegistryOptions::default()
                .with_fsync(false)
                .with_snapshot_every(0),
        )
        .unwrap();
        for i in 0..1000u64 {
            reg.register("m", i.to_le_bytes().to_vec(), meta(), "")
                .unwrap();
        }
    }
    g.bench_function("open_local_1000_events_no_snapshot", |b| {
        b.iter(|| Registry::open(dir.path()).unwrap())
    });
    let reg = Registry::open(dir.path()).unwrap();
    g.bench_function("verify_local_1000_events", |b| {
        b.iter_batched(
            || (),
            |()| assert!(reg.verify().unwrap().is_ok()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Opening a local registry of 10,000 events (9,000 registrations with metrics and parameters,
/// the `champion` alias moved after every 9th): folding the whole log, from a snapshot at the last event, and
/// from a snapshot with the longest tail automatic snapshots leave (99 events).
fn bench_open_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_10k");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    let dir = tempfile::tempdir().unwrap();
    let writer = Registry::open_with(
        dir.path(),
        RegistryOptions::default()
            .with_fsync(false)
            .with_snapshot_every(0),
    )
    .unwrap();
    let mut champion = None;
    let mut write = |n: u64| {
        for _ in 0..n {
            let v = writer
                .register("churn", Bytes::from_static(b"bundle"), meta(), "bench")
                .unwrap();
            if v.version.is_multiple_of(9) {
                writer
                    .set_alias("churn", "champion", v.version, champion, "promote")
                    .unwrap();
                champion = Some(v.version);
            }
        }
    };
    write(9_000);
    let seq = writer.head().unwrap().unwrap().seq;
    assert_eq!(seq, 10_000);
    let open = || {
        let reg = Registry::open(dir.path()).unwrap();
        assert_eq!(reg.head().unwrap().unwrap().seq, seq);
        reg
    };
    g.bench_function("local_no_snapshot", |b| b.iter(open));
    writer.snapshot().unwrap();
    g.bench_function("local_snapshot_at_head", |b| b.iter(open));
    // A 99-event tail after the snapshot: the most automatic snapshots every 100 events leave.
    let dir2 = tempfile::tempdir().unwrap();
    drop(g);
    let writer2 =
        Registry::open_with(dir2.path(), RegistryOptions::default().with_fsync(false)).unwrap();
    for i in 0..10_000u64 {
        writer2
            .register("churn", i.to_le_bytes().to_vec(), meta(), "bench")
            .unwrap();
    }
    assert!(
        dir2.path()
            .join("snapshots")
            .join(format!("{:020}", 9_900))
            .exists()
    );
    let mut g = c.benchmark_group("open_10k");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("local_snapshot_99_event_tail", |b| {
        b.iter(|| {
            let reg = Registry::open(dir2.path()).unwrap();
            assert_eq!(reg.head().unwrap().unwrap().seq, 10_000);
            reg
        })
    });
    g.finish();
}

/// A 256 MiB artifact on the local store, default options (fsync on): registered from memory
/// (the same bytes again, replacing the stored blob, and new bytes each time), registered from
/// a file, loaded into memory and streamed to a sink, every read verified. On
/// the disk (`disk_*`, the writes are bound by the device: each put is made durable) and, where
/// `/dev/shm` exists, on tmpfs (`tmpfs_*`: what the code costs without the device).
fn bench_blob_256mib(c: &mut Criterion) {
    const SIZE: usize = 256 << 20;
    let mut g = c.benchmark_group("blob_256MiB");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(SIZE as u64));
    let data: Bytes = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect::<Vec<u8>>()
        .into();
    // The ceiling: sha256 alone over the same bytes (every put and get hashes them once).
    g.bench_function("sha256_only", |b| {
        b.iter(|| mlops_registry::core::hash_bytes(&data))
    });
    let mut places = vec![("disk", tempfile::tempdir().unwrap())];
    if let Ok(shm) = tempfile::tempdir_in("/dev/shm") {
        places.push(("tmpfs", shm));
    }
    for (place, dir) in &places {
        let reg = Registry::open(dir.path()).unwrap();
        // Version 1 of `big`, outside the timing: what the identical puts repeat and the gets
        // read, whichever of these benches a filter selects.
        reg.register("big", data.clone(), meta(), "setup").unwrap();
        // The same bytes as the model's newest version: compared with the stored blob (while
        // hashed) and kept, nothing written.
        g.bench_function(format!("{place}_put_register_identical"), |b| {
            b.iter(|| reg.register("big", data.clone(), meta(), "bench").unwrap())
        });
        // New content every iteration (the first 8 bytes count up): a put that creates its
        // blob. The previous version's blob (same size, so compared first: it differs in its
        // first bytes) stays; the one before it is deleted outside the timing.
        let kept = std::cell::RefCell::new(std::collections::VecDeque::new());
        let mut n = 0u64;
        let fresh_bytes = |n: u64| {
            let mut fresh = data.to_vec();
            fresh[..8].copy_from_slice(&n.to_le_bytes());
            fresh
        };
        // Bench bookkeeping, outside the timing: the removal is synced (the directory fsync
        // commits the journal, and with it the file system's discard of the freed blocks), so
        // that its I/O does not land in the next timed put.
        let forget_old =
            |kept: &std::cell::RefCell<std::collections::VecDeque<std::path::PathBuf>>| {
                while kept.borrow().len() > 1 {
                    let old = kept.borrow_mut().pop_front().unwrap();
                    std::fs::remove_file(&old).unwrap();
                    std::fs::File::open(old.parent().unwrap())
                        .unwrap()
                        .sync_all()
                        .unwrap();
                }
            };
        let blob_path = |v: &mlops_registry::ModelVersion| {
            dir.path().join("blobs/sha256").join(v.blob.to_hex())
        };
        g.bench_function(format!("{place}_put_register_new_content"), |b| {
            b.iter_batched(
                || {
                    forget_old(&kept);
                    n += 1;
                    Bytes::from(fresh_bytes(n))
                },
                |fresh| {
                    // The caller's buffer is freed outside the timing (returned), as for the
                    // identical put, whose caller keeps `data`.
                    let v = reg
                        .register("fresh", fresh.clone(), meta(), "bench")
                        .unwrap();
                    kept.borrow_mut().push_back(blob_path(&v));
                    (v, fresh)
                },
                BatchSize::PerIteration,
            )
        });
        let file = dir.path().join("artifact.bin");
        g.bench_function(format!("{place}_put_register_file_new_content"), |b| {
            b.iter_batched(
                || {
                    forget_old(&kept);
                    n += 1;
                    // At rest before the timing starts: written back, so the page cache's
                    // write-back of the input does not compete with the put for the disk.
                    let mut f = std::fs::File::create(&file).unwrap();
                    std::io::Write::write_all(&mut f, &fresh_bytes(n)).unwrap();
                    f.sync_all().unwrap();
                },
                |()| {
                    let v = reg.register_file("fresh", &file, meta(), "bench").unwrap();
                    kept.borrow_mut().push_back(blob_path(&v));
                    v
                },
                BatchSize::PerIteration,
            )
        });
        for old in kept.borrow_mut().drain(..) {
            std::fs::remove_file(old).unwrap();
        }
        std::fs::write(&file, &data).unwrap();
        g.bench_function(format!("{place}_put_register_file_identical"), |b| {
            b.iter(|| reg.register_file("big", &file, meta(), "bench").unwrap())
        });
        g.bench_function(format!("{place}_get_load_verified"), |b| {
            b.iter(|| {
                let (_, bytes) = reg.load("big", VersionRef::Latest).unwrap();
                assert_eq!(bytes.len(), SIZE);
                bytes
            })
        });
        g.bench_function(format!("{place}_get_load_to_sink_verified"), |b| {
            b.iter(|| {
                reg.load_to("big", VersionRef::Latest, &mut std::io::sink())
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// The MLflow comparison: one iteration registers a new version of a small bundle (the size of
/// an MLflow sklearn LogisticRegression model directory on 26 features, about 10 KiB), moves the `champion`
/// alias to it and loads the model by alias (verified), on a local registry with fsync on (the
/// default: every write durable before it returns) and off.
fn bench_mlflow_peer(c: &mut Criterion) {
    /// Bytes of the model directory MLflow 3.17 logs for that model (`model_dir_bytes` in the
    /// peer's output): MLmodel, model.pkl, conda.yaml, python_env.yaml, requirements.txt.
    const BUNDLE: usize = 10_524;
    let mut g = c.benchmark_group("mlflow_peer");
    g.sample_size(30);
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            Registry::open_with(dir.path(), RegistryOptions::default().with_fsync(fsync)).unwrap();
        let mut champion: Option<u64> = None;
        let mut i = 0u64;
        let label = if fsync {
            "register_alias_load_local"
        } else {
            "register_alias_load_local_no_fsync"
        };
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                let mut bundle = vec![0u8; BUNDLE];
                bundle[..8].copy_from_slice(&i.to_le_bytes());
                let v = reg.register("churn", bundle, meta(), "bench").unwrap();
                reg.set_alias("churn", "champion", v.version, champion, "promote")
                    .unwrap();
                champion = Some(v.version);
                let (info, bytes) = reg.load("churn", VersionRef::Alias("champion")).unwrap();
                assert_eq!((info.version, bytes.len()), (v.version, BUNDLE));
                bytes
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_register,
    bench_load,
    bench_open_verify,
    bench_open_10k,
    bench_blob_256mib,
    bench_mlflow_peer
);
criterion_main!(benches);
