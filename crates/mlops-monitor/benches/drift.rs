//! Criterion benches of the monitoring hot paths, on data shared with the Python peers.
//!
//! Run: `cargo bench -p mlops-monitor --bench drift`. The data is written once to
//! `$MLOPS_MONITOR_BENCH_DIR` (default `/tmp/mlops-monitor-bench/`):
//!
//! - `ref_1m.f64`, `cur_1m.f64`: 1M little-endian f64 each, seeded normals (`N(0, 1)` and
//!   `N(0.02, 1.05)`) for KS, Wasserstein and PSI;
//! - `stream_100k.f64`: 100k f64 for ADWIN, with a mean shift half way;
//! - `churn_ref_100k.parquet`, `churn_cur_100k.parquet`: the generated churn table (seeds 1
//!   and 2), the current one drifted (`age`, `monthly_charges`, `tenure_months` shifted, `plan`
//!   and `device` re-mixed), for the 26-feature dataset drift through
//!   [`drift_between_streams`].
//!
//! `benches/peers/monitor_peers.py` (at the workspace root) times scipy, numpy, river and
//! Evidently on the same files.
//!
//! With `MLOPS_BENCH_CPU=1` criterion measures this thread's CPU time (Linux
//! `/proc/thread-self/schedstat`) instead of wall time, which keeps the figures meaningful on a
//! machine shared with other work; the peer script then compares against the peers' CPU time
//! (`time.process_time`) too.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
use mlops_data::BatchStream;
use mlops_data::ingest::{ParquetOptions, read_parquet_path};
use mlops_data::synth::{
    CategoryMix, ChurnConfig, ChurnGenerator, CovariateShift, DriftSpec, ID_COLUMN, LABEL_COLUMN,
};
use mlops_monitor::dataset::{DatasetDriftOptions, drift_between_streams};
use mlops_monitor::{Adwin, DriftConfig, DriftDetector, DriftStatus, drift};

const N_SAMPLE: usize = 1_000_000;
const N_STREAM: usize = 100_000;
const N_ROWS: u64 = 100_000;

/// SplitMix64 with Box–Muller normals: deterministic everywhere, no RNG crate needed.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self, mu: f64, sd: f64) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        mu + sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("MLOPS_MONITOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/mlops-monitor-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_f64(path: &Path, v: &[f64]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn samples(dir: &Path) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = SplitMix(7);
    let x: Vec<f64> = (0..N_SAMPLE).map(|_| rng.normal(0.0, 1.0)).collect();
    let y: Vec<f64> = (0..N_SAMPLE).map(|_| rng.normal(0.02, 1.05)).collect();
    let s: Vec<f64> = (0..N_STREAM)
        .map(|i| rng.normal(if i < N_STREAM / 2 { 0.0 } else { 0.5 }, 1.0))
        .collect();
    write_f64(&dir.join("ref_1m.f64"), &x);
    write_f64(&dir.join("cur_1m.f64"), &y);
    write_f64(&dir.join("stream_100k.f64"), &s);
    (x, y, s)
}

/// The drift the current churn table carries.
fn churn_drift() -> DriftSpec {
    let shift = |column: &str, shift_std: f64, scale: f64| CovariateShift {
        column: column.into(),
        shift_std,
        scale,
    };
    DriftSpec {
        covariate_shift: vec![
            shift("age", 1.0, 1.0),
            shift("monthly_charges", 0.5, 1.2),
            shift("tenure_months", -0.5, 1.0),
        ],
        category_mix: vec![
            CategoryMix {
                column: "plan".into(),
                weights: vec![
                    ("basic".into(), 0.2),
                    ("standard".into(), 0.3),
                    ("premium".into(), 0.5),
                ],
            },
            CategoryMix {
                column: "device".into(),
                weights: vec![
                    ("android".into(), 0.2),
                    ("ios".into(), 0.2),
                    ("web".into(), 0.6),
                ],
            },
        ],
        concept: None,
    }
}

fn churn_files(dir: &Path) -> (PathBuf, PathBuf) {
    let r = dir.join("churn_ref_100k.parquet");
    let c = dir.join("churn_cur_100k.parquet");
    for (path, seed, drift) in [(&r, 1, DriftSpec::default()), (&c, 2, churn_drift())] {
        let generator = ChurnGenerator::new(ChurnConfig {
            rows: N_ROWS,
            seed,
            drift,
            ..ChurnConfig::default()
        })
        .unwrap();
        generator.write_parquet(path, 65_536).unwrap();
    }
    (r, c)
}

fn options() -> DatasetDriftOptions {
    DatasetDriftOptions {
        exclude: vec![ID_COLUMN.to_owned(), LABEL_COLUMN.to_owned()],
        ..DatasetDriftOptions::default()
    }
}

fn read(path: &Path) -> BatchStream {
    read_parquet_path(path, &ParquetOptions::default()).unwrap()
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .expect("/proc/thread-self/schedstat (Linux) is needed for MLOPS_BENCH_CPU")
}

/// Criterion measurement of thread CPU time (values in nanoseconds).
struct ThreadCpu;

struct NanosFormatter;

impl NanosFormatter {
    fn unit(typical: f64) -> (f64, &'static str) {
        if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e3, "µs")
        } else if typical < 1e9 {
            (1e6, "ms")
        } else {
            (1e9, "s")
        }
    }
}

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (d, unit) = Self::unit(typical);
        values.iter_mut().for_each(|v| *v /= d);
        unit
    }
    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n,
            Throughput::Bits(n) => *n,
            _ => 1,
        } as f64;
        let per_s = n * 1e9 / typical;
        let (d, unit) = if per_s >= 1e9 {
            (1e9, "G/s (cpu)")
        } else if per_s >= 1e6 {
            (1e6, "M/s (cpu)")
        } else {
            (1e3, "K/s (cpu)")
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v / d);
        unit
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

fn benches<M: Measurement>(c: &mut Criterion<M>) {
    let dir = bench_dir();
    let (x, y, stream) = samples(&dir);
    let (ref_path, cur_path) = churn_files(&dir);

    let mut g = c.benchmark_group("drift_1m_vs_1m");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(2 * N_SAMPLE as u64));
    g.bench_function("ks_2samp", |b| {
        b.iter(|| drift::ks_2samp(black_box(&x), black_box(&y)).unwrap());
    });
    g.bench_function("wasserstein_distance", |b| {
        b.iter(|| drift::wasserstein_distance(black_box(&x), black_box(&y)).unwrap());
    });
    g.bench_function("psi_10_bins", |b| {
        b.iter(|| drift::psi_test(black_box(&x), black_box(&y), 10, 0.1).unwrap());
    });
    g.finish();

    let mut g = c.benchmark_group("adwin_100k");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(N_STREAM as u64));
    g.bench_function("update", |b| {
        b.iter(|| {
            let mut a = Adwin::default();
            stream
                .iter()
                .filter(|&&v| a.update(black_box(v)) == DriftStatus::Drift)
                .count()
        });
    });
    g.finish();

    let config = DriftConfig::default();
    let opts = options();
    // Check the setup once: 26 feature columns, the drifted ones found.
    let out = drift_between_streams(read(&ref_path), read(&cur_path), &config, &opts).unwrap();
    assert_eq!(out.drift.columns.len(), 26);
    assert!(out.drift.n_drifted >= 3, "{:?}", out.drift.n_drifted);
    let ref_batches = read(&ref_path).collect_batches().unwrap();
    let cur_batches = read(&cur_path).collect_batches().unwrap();
    let schema = read(&ref_path).schema();

    let mut g = c.benchmark_group("dataset_drift_26_cols_100k_vs_100k");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(2 * N_ROWS));
    g.bench_function("from_parquet", |b| {
        b.iter(|| drift_between_streams(read(&ref_path), read(&cur_path), &config, &opts).unwrap());
    });
    g.bench_function("in_memory", |b| {
        b.iter(|| {
            drift_between_streams(
                BatchStream::from_batches(schema.clone(), ref_batches.clone()),
                BatchStream::from_batches(schema.clone(), cur_batches.clone()),
                &config,
                &opts,
            )
            .unwrap()
        });
    });
    g.finish();
}

fn main() {
    if std::env::var_os("MLOPS_BENCH_CPU").is_some_and(|v| v != "0") {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpu)
            .configure_from_args();
        benches(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::<WallTime>::default().configure_from_args();
        benches(&mut c);
        c.final_summary();
    }
}
