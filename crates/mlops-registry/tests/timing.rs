//! Rough timings, run on demand: `cargo test -p mlops-registry --test timing -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use mlops_registry::{ModelMetadata, Registry, RegistryOptions, VersionRef};

fn timed<T>(label: &str, n: u64, f: impl FnOnce() -> T) -> T {
    let (c, t) = (cpu_s(), Instant::now());
    let out = f();
    let s = t.elapsed().as_secs_f64();
    let c = cpu_s() - c;
    println!(
        "{label}: {s:.3} s total, {:.3} ms each (process cpu {:.0} ms)",
        1e3 * s / n.max(1) as f64,
        1e3 * c
    );
    out
}

#[test]
#[ignore = "timing, run by hand"]
fn registry_timings() {
    let n = 300u64;
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            Registry::open_with(dir.path(), RegistryOptions::default().with_fsync(fsync)).unwrap();
        let meta = ModelMetadata::default()
            .with_metric("auc", 0.9)
            .with_param("depth", "6");
        timed(&format!("local fsync={fsync}: register x{n}"), n, || {
            for i in 0..n {
                reg.register("m", i.to_le_bytes().to_vec(), meta.clone(), "timing")
                    .unwrap();
            }
        });
        timed(
            &format!("local fsync={fsync}: get by version x{n}"),
            n,
            || {
                for i in 1..=n {
                    reg.load("m", VersionRef::Number(i)).unwrap();
                }
            },
        );
        timed(
            &format!("local fsync={fsync}: open (fold {n} events)"),
            1,
            || Registry::open(dir.path()).unwrap(),
        );
        timed(
            &format!("local fsync={fsync}: verify ({n} events, {n} blobs)"),
            1,
            || assert!(reg.verify().unwrap().is_ok()),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    timed("local: register_reader 64 MiB", 1, || {
        reg.register_reader("big", &data[..], ModelMetadata::default(), "")
            .unwrap()
    });
    let mut sink = std::io::sink();
    timed("local: load_to 64 MiB (verified)", 1, || {
        reg.load_to("big", VersionRef::Latest, &mut sink).unwrap()
    });
    let mem = Registry::in_memory().unwrap();
    timed("memory: register x2000", 2000, || {
        for i in 0..2000u64 {
            mem.register("m", i.to_le_bytes().to_vec(), ModelMetadata::default(), "")
                .unwrap();
        }
    });
}

#[test]
#[ignore = "timing, run by hand"]
fn open_10k_breakdown() {
    use futures_util::StreamExt;
    use mlops_registry::object_store::ObjectStoreExt;
    use mlops_registry::object_store::path::Path;
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open_with(
        dir.path(),
        RegistryOptions::default()
            .with_fsync(false)
            .with_snapshot_every(0),
    )
    .unwrap();
    let meta = ModelMetadata::default()
        .with_metric("auc", 0.9)
        .with_param("depth", "6");
    for i in 0..10_000u64 {
        reg.register("m", i.to_le_bytes().to_vec(), meta.clone(), "timing")
            .unwrap();
    }
    reg.snapshot().unwrap();
    let store = reg.store().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..3 {
        timed("list events (full)", 1, || {
            rt.block_on(async { store.list(Some(&Path::from("events"))).count().await })
        });
        timed("list events (offset 9999)", 1, || {
            rt.block_on(async {
                store
                    .list_with_offset(
                        Some(&Path::from("events")),
                        &Path::from(format!("events/{:020}", 9_999)),
                    )
                    .count()
                    .await
            })
        });
        let snap = timed("get snapshot", 1, || {
            rt.block_on(async {
                store
                    .get(&Path::from(format!("snapshots/{:020}", 10_000)))
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        });
        println!("snapshot: {} bytes", snap.len());
        timed("sha256 of snapshot", 1, || {
            mlops_registry::core::hash_bytes(&snap)
        });
        timed("open", 1, || Registry::open(dir.path()).unwrap());
        timed("runtime", 1, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        });
    }
}

/// User + system CPU seconds of this process so far (Linux).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

#[test]
#[ignore = "timing, run by hand"]
fn blob_256mib_wall_and_cpu() {
    const SIZE: usize = 256 << 20;
    let data: bytes::Bytes = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect::<Vec<u8>>()
        .into();
    let dir = match std::env::var("TIMING_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let reg = Registry::open(dir.path()).unwrap();
    let gbps = |s: f64| SIZE as f64 / s / 1e9;
    for _ in 0..3 {
        let (c, t) = (cpu_s(), Instant::now());
        let h = mlops_registry::core::hash_bytes(&data);
        let (w, c) = (t.elapsed().as_secs_f64(), cpu_s() - c);
        println!("hash only: {:.3} GB/s wall, cpu {c:.3} s ({h})", gbps(w));
        let (c, t) = (cpu_s(), Instant::now());
        reg.register("big", data.clone(), ModelMetadata::default(), "")
            .unwrap();
        let (w, c) = (t.elapsed().as_secs_f64(), cpu_s() - c);
        println!("register: {:.3} GB/s wall, cpu {c:.3} s", gbps(w));
        let (c, t) = (cpu_s(), Instant::now());
        reg.load("big", VersionRef::Latest).unwrap();
        let (w, c) = (t.elapsed().as_secs_f64(), cpu_s() - c);
        println!("load: {:.3} GB/s wall, cpu {c:.3} s", gbps(w));
        let (c, t) = (cpu_s(), Instant::now());
        reg.load_to("big", VersionRef::Latest, &mut std::io::sink())
            .unwrap();
        let (w, c) = (t.elapsed().as_secs_f64(), cpu_s() - c);
        println!("load_to sink: {:.3} GB/s wall, cpu {c:.3} s", gbps(w));
    }
}
