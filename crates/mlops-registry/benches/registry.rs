//! Registry benchmarks: `cargo bench -p mlops-registry`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

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
        let reg =
            Registry::open_with(dir.path(), RegistryOptions::default().with_fsync(false)).unwrap();
        for i in 0..1000u64 {
            reg.register("m", i.to_le_bytes().to_vec(), meta(), "")
                .unwrap();
        }
    }
    g.bench_function("open_local_1000_events", |b| {
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

criterion_group!(benches, bench_register, bench_load, bench_open_verify);
criterion_main!(benches);
