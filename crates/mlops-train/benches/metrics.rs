//! ROC-AUC on one million scores. Peer: `benches/peers/metrics_peer.py` times scikit-learn's
//! `roc_auc_score` on data of the same distribution (30 % positives, scores `U(0,1) + 0.2·label`);
//! the generators differ (ChaCha8 here, numpy there), so timings, not values, are compared.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mlops_train::metrics::roc_auc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data(n: usize) -> (Vec<bool>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let y: Vec<bool> = (0..n).map(|_| rng.r#gen::<f64>() < 0.3).collect();
    let s = y
        .iter()
        .map(|&t| rng.r#gen::<f64>() + if t { 0.2 } else { 0.0 })
        .collect();
    (y, s)
}

fn bench_roc_auc(c: &mut Criterion) {
    let (y, s) = data(1_000_000);
    let mut group = c.benchmark_group("metrics");
    group.sample_size(20);
    group.bench_function("roc_auc_1m", |b| {
        b.iter(|| roc_auc(black_box(&y), black_box(&s)).unwrap())
    });
    // heavy ties: scores rounded to 2 decimals
    let tied: Vec<f64> = s.iter().map(|v| (v * 100.0).round() / 100.0).collect();
    group.bench_function("roc_auc_1m_ties", |b| {
        b.iter(|| roc_auc(black_box(&y), black_box(&tied)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_roc_auc);
criterion_main!(benches);
