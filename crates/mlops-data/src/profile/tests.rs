#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date32Array, Float16Array, Float32Array, Float64Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, StringViewArray, UInt8Array,
};
use arrow_schema::{Field, Schema};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn normal(r: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = r.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = r.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn f64_col(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

fn opts(max_categories: usize, sketch_k: usize) -> ProfileOptions {
    ProfileOptions {
        max_categories,
        sketch_k,
    }
}

fn sketch_of(values: &[f64], k: usize) -> QuantileSketch {
    let mut s = QuantileSketch::new(k).unwrap();
    for &v in values {
        s.push(v);
    }
    s
}

/// Exact `#{x ≤ v}` and `#{x < v}` over sorted data.
fn true_ranks(sorted: &[f64], v: f64) -> (f64, f64) {
    let le = sorted.partition_point(|&x| x <= v) as f64;
    let lt = sorted.partition_point(|&x| x < v) as f64;
    (le, lt)
}

/// Checks ranks, quantiles and histograms of `s` against the exact answers over `data`;
/// returns the largest observed normalised rank error.
fn check_sketch_against(s: &QuantileSketch, data: &[f64], probes: usize) -> f64 {
    let mut sorted = data.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    assert_eq!(s.n(), sorted.len() as u64);
    let eps = s.error_bound();
    let tol = eps * n + 1e-9;
    let view = s.view();
    let mut worst: f64 = 0.0;
    // Probe at data points (every rank region) and between them.
    let step = (sorted.len() / probes).max(1);
    let mut points: Vec<f64> = sorted.iter().step_by(step).copied().collect();
    points.extend(sorted.windows(2).step_by(step).map(|w| 0.5 * (w[0] + w[1])));
    points.push(sorted[0] - 1.0);
    points.push(sorted[sorted.len() - 1] + 1.0);
    for &x in &points {
        let (le, lt) = true_ranks(&sorted, x);
        let err_le = (view.rank(x) - le).abs();
        let err_lt = (view.rank_strict(x) - lt).abs();
        assert!(err_le <= tol, "rank({x}) off by {err_le} > {tol}");
        assert!(err_lt <= tol, "rank_strict({x}) off by {err_lt} > {tol}");
        worst = worst.max(err_le / n).max(err_lt / n);
    }
    // Quantiles: the true rank of the answer brackets q·n within the bound.
    for i in 0..=probes {
        let q = i as f64 / probes as f64;
        let v = view.quantile(q).unwrap();
        let (le, lt) = true_ranks(&sorted, v);
        let target = q * n;
        assert!(
            lt - tol <= target && target <= le + tol,
            "quantile({q}) = {v}: ranks [{lt}, {le}] vs {target} ± {tol}"
        );
    }
    // Histogram over deciles with open outer edges: each bin within 2·eps·n, total exact.
    let mut edges = vec![f64::NEG_INFINITY];
    edges.extend((1..10).map(|i| sorted[i * sorted.len() / 10]));
    edges.dedup();
    edges.push(f64::INFINITY);
    let h = view.histogram(&edges).unwrap();
    assert!((h.iter().sum::<f64>() - n).abs() < 1e-6);
    for (i, w) in edges.windows(2).enumerate() {
        let truth = if i + 2 == edges.len() {
            true_ranks(&sorted, w[1]).0 - true_ranks(&sorted, w[0]).1
        } else {
            true_ranks(&sorted, w[1]).1 - true_ranks(&sorted, w[0]).1
        };
        assert!(
            (h[i] - truth).abs() <= 2.0 * tol,
            "bin {i}: {} vs {truth}",
            h[i]
        );
    }
    worst
}

// ---- options ---------------------------------------------------------------------------

#[test]
fn options_default_is_valid_and_documented_bound_holds() {
    let o = ProfileOptions::default();
    o.check().unwrap();
    assert_eq!(o.max_categories, 100);
    assert_eq!(o.sketch_k, DEFAULT_SKETCH_K);
    assert!(QuantileSketch::a_priori_bound(84_000_000_000, o.sketch_k) <= 0.01);
    assert!(QuantileSketch::a_priori_bound(1_000_000, o.sketch_k) <= 0.005);
}

#[test]
fn options_invalid_max_categories() {
    for m in [0, MAX_MAX_CATEGORIES + 1] {
        let err = opts(m, 64).check().unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    param: "max_categories",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn options_invalid_sketch_k() {
    for k in [0, 2, 7, 9, 63, MAX_SKETCH_K + 2] {
        let err = opts(10, k).check().unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    param: "sketch_k",
                    ..
                }
            ),
            "{k}: {err}"
        );
    }
    assert!(QuantileSketch::new(7).is_err());
}

#[test]
fn entry_points_check_options() {
    let b = batch(vec![("x", f64_col(&[1.0]))]);
    assert!(matches!(
        profile_batch(&b, &opts(0, 64)),
        Err(Error::InvalidParam { .. })
    ));
    assert!(ProfileBuilder::new(b.schema(), &opts(10, 3)).is_err());
}

// ---- sketch ----------------------------------------------------------------------------

#[test]
fn sketch_empty() {
    let s = QuantileSketch::new(16).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.quantile(0.5), None);
    assert_eq!(s.min(), None);
    assert_eq!(s.rank(1.0), 0.0);
    assert!(s.cdf(1.0).is_nan());
    assert_eq!(s.error_bound(), 0.0);
    assert_eq!(s.histogram(&[0.0, 1.0, 2.0]).unwrap(), vec![0.0, 0.0]);
}

#[test]
fn sketch_exact_below_k() {
    let data: Vec<f64> = (0..100).map(|i| f64::from((i * 37) % 100)).collect();
    let s = sketch_of(&data, 128);
    assert_eq!(s.error_bound(), 0.0);
    assert_eq!(s.quantile(0.0), Some(0.0));
    assert_eq!(s.quantile(1.0), Some(99.0));
    // Inverted CDF: smallest v with #(x ≤ v) ≥ q·n.
    assert_eq!(s.quantile(0.5), Some(49.0));
    assert_eq!(s.quantile(0.505), Some(50.0));
    assert_eq!(s.rank(10.0), 11.0);
    assert_eq!(s.cdf(-1.0), 0.0);
    assert_eq!(s.cdf(1e9), 1.0);
    assert_eq!(s.histogram(&[0.0, 50.0, 99.0]).unwrap(), vec![50.0, 50.0]);
}

#[test]
fn sketch_rejects_bad_queries() {
    let s = sketch_of(&[1.0, 2.0, 3.0], 16);
    assert_eq!(s.quantile(-0.1), None);
    assert_eq!(s.quantile(1.1), None);
    assert_eq!(s.quantile(f64::NAN), None);
    assert!(s.rank(f64::NAN).is_nan());
    assert!(matches!(
        s.histogram(&[0.0, f64::NAN]),
        Err(Error::InvalidParam { param: "edges", .. })
    ));
    assert!(matches!(
        s.histogram(&[1.0, 1.0]),
        Err(Error::InvalidParam { param: "edges", .. })
    ));
    assert!(s.histogram(&[2.0, 1.0]).is_err());
    assert_eq!(s.histogram(&[1.0]).unwrap(), Vec::<f64>::new());
}

#[test]
fn sketch_ignores_non_finite() {
    let s = sketch_of(&[1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.0], 16);
    assert_eq!(s.n(), 2);
    assert_eq!(s.max(), Some(2.0));
}

#[test]
fn sketch_uniform_1m_default_k() {
    let mut r = rng(1);
    let data: Vec<f64> = (0..1_000_000).map(|_| r.r#gen::<f64>()).collect();
    let s = sketch_of(&data, DEFAULT_SKETCH_K);
    let bound = s.error_bound();
    assert!(bound > 0.0 && bound <= 0.01, "{bound}");
    assert!(bound <= QuantileSketch::a_priori_bound(s.n(), s.k()));
    let worst = check_sketch_against(&s, &data, 2000);
    assert!(worst <= bound);
    // Memory stays bounded: k · (⌊log2(n/k)⌋ + 2) values at most.
    assert!(s.retained() <= DEFAULT_SKETCH_K * 10, "{}", s.retained());
}

#[test]
fn sketch_normal_300k_small_k() {
    let mut r = rng(2);
    let data: Vec<f64> = (0..300_000).map(|_| 5.0 + 2.0 * normal(&mut r)).collect();
    for k in [16, 64, 256] {
        let s = sketch_of(&data, k);
        assert!(s.error_bound() <= QuantileSketch::a_priori_bound(s.n(), k));
        check_sketch_against(&s, &data, 1000);
    }
}

#[test]
fn sketch_heavily_duplicated_200k() {
    let mut r = rng(3);
    let data: Vec<f64> = (0..200_000)
        .map(|_| f64::from(r.gen_range(0..7_i32)))
        .collect();
    for k in [8, 32, DEFAULT_SKETCH_K] {
        let s = sketch_of(&data, k);
        check_sketch_against(&s, &data, 500);
    }
}

#[test]
fn sketch_sorted_and_reversed_input() {
    let up: Vec<f64> = (0..150_000).map(f64::from).collect();
    let down: Vec<f64> = up.iter().rev().copied().collect();
    for data in [&up, &down] {
        let s = sketch_of(data, 32);
        check_sketch_against(&s, data, 1000);
    }
}

#[test]
fn sketch_merge_many_parts_within_bound_and_symmetric() {
    let mut r = rng(4);
    let data: Vec<f64> = (0..200_000).map(|_| normal(&mut r).exp()).collect();
    let k = 32;
    let parts: Vec<QuantileSketch> = data.chunks(3_777).map(|c| sketch_of(c, k)).collect();
    let mut merged = QuantileSketch::new(k).unwrap();
    for p in &parts {
        merged.merge(p).unwrap();
    }
    assert!(merged.error_bound() <= QuantileSketch::a_priori_bound(merged.n(), k));
    check_sketch_against(&merged, &data, 1000);

    let (a, b) = (&parts[0], &parts[1]);
    let mut ab = a.clone();
    ab.merge(b).unwrap();
    let mut ba = b.clone();
    ba.merge(a).unwrap();
    assert_eq!(ab, ba);
    assert!(matches!(
        ab.merge(&QuantileSketch::new(16).unwrap()),
        Err(Error::Incompatible(_))
    ));
}

#[test]
fn sketch_serde_round_trip_and_validation() {
    let mut r = rng(5);
    let data: Vec<f64> = (0..10_000).map(|_| r.r#gen::<f64>()).collect();
    let s = sketch_of(&data, 16);
    let bytes = rmp_serde::to_vec(&s).unwrap();
    assert_eq!(bytes, rmp_serde::to_vec(&sketch_of(&data, 16)).unwrap());
    let back: QuantileSketch = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(back, s);
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<QuantileSketch>(&json).unwrap(), s);
    let empty = QuantileSketch::new(16).unwrap();
    let json = serde_json::to_string(&empty).unwrap();
    assert_eq!(
        serde_json::from_str::<QuantileSketch>(&json).unwrap(),
        empty
    );

    // Tampered documents are rejected, not trusted.
    let mut v: serde_json::Value = serde_json::to_value(&s).unwrap();
    v["n"] = serde_json::json!(1);
    assert!(serde_json::from_value::<QuantileSketch>(v).is_err());
    let mut v: serde_json::Value = serde_json::to_value(&s).unwrap();
    v["k"] = serde_json::json!(7);
    assert!(serde_json::from_value::<QuantileSketch>(v).is_err());
    let mut v: serde_json::Value = serde_json::to_value(&s).unwrap();
    v["min"] = serde_json::json!(0.9);
    assert!(serde_json::from_value::<QuantileSketch>(v).is_err());
}

// ---- numeric statistics ------------------------------------------------------------------

#[test]
fn welford_is_stable_with_large_offset() {
    let mut r = rng(6);
    let data: Vec<f64> = (0..100_000).map(|_| 1e9 + 1e-3 * normal(&mut r)).collect();
    let p = profile_batch(
        &batch(vec![("x", f64_col(&data))]),
        &ProfileOptions::default(),
    )
    .unwrap();
    let x = p.column("x").unwrap().as_numeric().unwrap();
    // Two-pass reference.
    let n = data.len() as f64;
    // Two-pass reference on exactly shifted data (x − x0 is exact for values within a factor
    // of two), so that the reference is not limited by representing a mean near 1e9.
    let x0 = data[0];
    let mean_y = data.iter().map(|v| v - x0).sum::<f64>() / n;
    let m2: f64 = data
        .iter()
        .map(|v| (v - x0 - mean_y) * (v - x0 - mean_y))
        .sum();
    let mean = x0 + mean_y;
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    assert!(rel(x.mean().unwrap(), mean) < 1e-12);
    assert!(rel(x.m2(), m2) < 1e-12, "{} vs {m2}", x.m2());
    assert!(rel(x.variance_population().unwrap(), m2 / n) < 1e-12);
    // The textbook one-pass formula is useless here, so the test above is meaningful.
    let naive = data.iter().map(|v| v * v).sum::<f64>() / n - mean * mean;
    assert!(rel(naive, m2 / n) > 1e-3, "naive {naive} vs {}", m2 / n);

    // Merging halves keeps the accuracy (Chan et al. with shifted means).
    let (a, b) = data.split_at(41_234);
    let o = ProfileOptions::default();
    let pa = profile_batch(&batch(vec![("x", f64_col(a))]), &o).unwrap();
    let pb = profile_batch(&batch(vec![("x", f64_col(b))]), &o).unwrap();
    let m = pa.merge(&pb).unwrap();
    let mx = m.column("x").unwrap().as_numeric().unwrap();
    assert!(rel(mx.m2(), m2) < 1e-12);
    assert!(rel(mx.mean().unwrap(), mean) < 1e-12);
}

#[test]
fn numeric_counts_nulls_nan_inf() {
    let a: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(1.0),
        None,
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(3.0),
        None,
    ]));
    let p = profile_batch(&batch(vec![("x", a)]), &opts(10, 16)).unwrap();
    assert_eq!(p.rows(), 7);
    let x = p.column("x").unwrap().as_numeric().unwrap();
    assert_eq!(x.count(), 2);
    assert_eq!(x.nulls(), 2);
    assert_eq!(x.nan_count(), 1);
    assert_eq!(x.pos_inf_count(), 1);
    assert_eq!(x.neg_inf_count(), 1);
    assert_eq!((x.min(), x.max()), (Some(1.0), Some(3.0)));
    assert_eq!(x.mean(), Some(2.0));
    assert_eq!(x.variance_population(), Some(1.0));
    assert_eq!(x.variance_sample(), Some(2.0));
    assert_eq!(x.std_population(), Some(1.0));
    assert_eq!(x.quantile(0.5), Some(1.0));
}

#[test]
fn numeric_empty_and_single() {
    let a: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>]));
    let b: ArrayRef = Arc::new(Float64Array::from(vec![4.5]));
    let p = profile_batch(&batch(vec![("a", a), ("b", b)]), &opts(10, 16)).unwrap();
    let a = p.column("a").unwrap().as_numeric().unwrap();
    assert_eq!((a.count(), a.nulls()), (0, 1));
    assert_eq!(
        (a.mean(), a.variance_population(), a.min(), a.quantile(0.5)),
        (None, None, None, None)
    );
    let b = p.column("b").unwrap().as_numeric().unwrap();
    assert_eq!(b.mean(), Some(4.5));
    assert_eq!(b.variance_population(), Some(0.0));
    assert_eq!(b.variance_sample(), None);
    assert_eq!(b.quantile(0.3), Some(4.5));
}

#[test]
fn numeric_integer_and_float_types() {
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "i64",
            Arc::new(Int64Array::from(vec![Some(-2), None, Some(4)])),
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(-2), None, Some(4)])),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from(vec![Some(254), None, Some(0)])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![Some(0.5), None, Some(1.5)])),
        ),
        (
            "f16",
            Arc::new(Float16Array::from(vec![
                Some(half_from(0.5)),
                None,
                Some(half_from(1.5)),
            ])),
        ),
    ];
    let p = profile_batch(&batch(cols), &opts(10, 16)).unwrap();
    let get = |n: &str| p.column(n).unwrap().as_numeric().unwrap().clone();
    assert_eq!(get("i64").mean(), Some(1.0));
    assert_eq!(get("i32").min(), Some(-2.0));
    assert_eq!(get("u8").max(), Some(254.0));
    assert_eq!(get("f32").mean(), Some(1.0));
    assert_eq!(get("f16").mean(), Some(1.0));
    for c in p.columns() {
        assert_eq!(c.nulls(), 1, "{}", c.name());
    }
}

fn half_from(
    x: f32,
) -> <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native {
    <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native::from_f32(x)
}

// ---- categorical statistics ----------------------------------------------------------------

#[test]
fn categorical_string_types_agree() {
    let vals = [
        Some("b"),
        None,
        Some("a"),
        Some("b"),
        Some("c"),
        None,
        Some("b"),
    ];
    let utf8: ArrayRef = Arc::new(StringArray::from(vals.to_vec()));
    let large: ArrayRef = Arc::new(LargeStringArray::from(vals.to_vec()));
    let view: ArrayRef = Arc::new(StringViewArray::from(vals.to_vec()));
    let mut db = StringDictionaryBuilder::<Int32Type>::new();
    for v in vals {
        match v {
            Some(s) => {
                db.append_value(s);
            }
            None => db.append_null(),
        }
    }
    let dict: ArrayRef = Arc::new(db.finish());
    let p = profile_batch(
        &batch(vec![
            ("utf8", utf8),
            ("large", large),
            ("view", view),
            ("dict", dict),
        ]),
        &opts(10, 16),
    )
    .unwrap();
    let expected: BTreeMap<String, u64> = [
        ("a".to_string(), 1),
        ("b".to_string(), 3),
        ("c".to_string(), 1),
    ]
    .into();
    for c in p.columns() {
        let s = c
            .as_categorical()
            .unwrap_or_else(|| panic!("{} not categorical", c.name()));
        assert_eq!(s.counts(), &expected, "{}", c.name());
        assert_eq!(
            (s.count(), s.nulls(), s.other(), s.distinct()),
            (5, 2, 0, 3)
        );
        assert!(s.distinct_exact() && s.counts_exact());
        assert_eq!(s.top(1), vec![("b", 3)]);
    }
}

use std::collections::BTreeMap;

#[test]
fn categorical_dictionary_with_null_values_and_unused_entries() {
    // Keys point at a null dictionary value and some values are never used.
    let values = StringArray::from(vec![Some("x"), None, Some("unused"), Some("x")]);
    let keys = Int32Array::from(vec![Some(0), Some(1), None, Some(3), Some(0)]);
    let dict = arrow_array::DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
    let p = profile_batch(
        &batch(vec![("d", Arc::new(dict) as ArrayRef)]),
        &opts(10, 16),
    )
    .unwrap();
    let s = p.column("d").unwrap().as_categorical().unwrap();
    assert_eq!(s.counts().get("x"), Some(&3));
    assert_eq!(s.counts().get("unused"), None);
    assert_eq!((s.count(), s.nulls()), (3, 2));
}

#[test]
fn categorical_boolean() {
    let mut b = BooleanBuilder::new();
    b.append_value(true);
    b.append_null();
    b.append_value(false);
    b.append_value(true);
    let p = profile_batch(
        &batch(vec![("b", Arc::new(b.finish()) as ArrayRef)]),
        &opts(10, 16),
    )
    .unwrap();
    let s = p.column("b").unwrap().as_categorical().unwrap();
    assert_eq!(s.counts().get("true"), Some(&2));
    assert_eq!(s.counts().get("false"), Some(&1));
    assert_eq!(s.nulls(), 1);
}

#[test]
fn categorical_cap_keeps_most_frequent_ties_by_name() {
    // d:4, a:2, c:2, b:2, e:1 with cap 3 → d, a, b kept; c and e in other.
    let vals = ["d", "a", "c", "b", "e", "d", "a", "c", "b", "d", "d"];
    let p = profile_batch(
        &batch(vec![(
            "c",
            Arc::new(StringArray::from(vals.to_vec())) as ArrayRef,
        )]),
        &opts(3, 16),
    )
    .unwrap();
    let s = p.column("c").unwrap().as_categorical().unwrap();
    let expected: BTreeMap<String, u64> = [
        ("a".to_string(), 2),
        ("b".to_string(), 2),
        ("d".to_string(), 4),
    ]
    .into();
    assert_eq!(s.counts(), &expected);
    assert_eq!(s.other(), 3);
    assert_eq!(s.count(), 11);
    assert_eq!(s.distinct(), 5);
    assert!(s.distinct_exact() && s.counts_exact());
}

#[test]
fn categorical_streaming_prune_is_bounded_and_consistent() {
    // 3000 distinct values (> working limit 1024 for cap 2) plus two heavy ones.
    let schema = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8, true)]));
    let mut b = ProfileBuilder::new(schema, &opts(2, 16)).unwrap();
    for chunk in 0..6 {
        let mut sb = StringBuilder::new();
        for i in 0..500 {
            sb.append_value(format!("id{}", chunk * 500 + i));
            sb.append_value("heavy");
            if i % 2 == 0 {
                sb.append_value("medium");
            }
        }
        b.update(&batch(vec![("c", Arc::new(sb.finish()) as ArrayRef)]))
            .unwrap();
    }
    let p = b.finish();
    let s = p.column("c").unwrap().as_categorical().unwrap();
    assert_eq!(s.counts().len(), 2);
    assert_eq!(s.counts().get("heavy"), Some(&3000));
    assert_eq!(s.counts().get("medium"), Some(&1500));
    assert_eq!(s.count(), 3000 + 3000 + 1500);
    assert_eq!(s.counts().values().sum::<u64>() + s.other(), s.count());
    assert!(!s.distinct_exact());
    assert!(s.distinct() >= 1024);
}

#[test]
fn other_types_are_counted() {
    let d: ArrayRef = Arc::new(Date32Array::from(vec![Some(1), None, Some(3)]));
    let p = profile_batch(&batch(vec![("d", d)]), &opts(10, 16)).unwrap();
    match p.column("d").unwrap().stats() {
        ColumnStats::Other(o) => assert_eq!((o.count(), o.nulls()), (2, 1)),
        s => panic!("unexpected {s:?}"),
    }
    assert!(p.to_string().contains("d (Date32): n=2 nulls=1"));
}

// ---- builder, stream, merge ------------------------------------------------------------------

fn mixed_batch(seed: u64, rows: usize) -> RecordBatch {
    let mut r = rng(seed);
    let mut x = Float64Builder::new();
    let mut i = Int64Builder::new();
    let mut c = StringBuilder::new();
    let mut b = BooleanBuilder::new();
    let cats = ["red", "green", "blue", "cyan", "magenta"];
    for _ in 0..rows {
        match r.gen_range(0..20) {
            0 => x.append_null(),
            1 => x.append_value(f64::NAN),
            2 => x.append_value(f64::INFINITY),
            _ => x.append_value(100.0 + 15.0 * normal(&mut r)),
        }
        if r.gen_range(0..10) == 0 {
            i.append_null();
        } else {
            i.append_value(r.gen_range(-1000..1000));
        }
        if r.gen_range(0..10) == 0 {
            c.append_null();
        } else {
            c.append_value(cats[r.gen_range(0..cats.len())]);
        }
        b.append_value(r.r#gen::<bool>());
    }
    batch(vec![
        ("x", Arc::new(x.finish()) as ArrayRef),
        ("i", Arc::new(i.finish()) as ArrayRef),
        ("c", Arc::new(c.finish()) as ArrayRef),
        ("b", Arc::new(b.finish()) as ArrayRef),
    ])
}

#[test]
fn stream_equals_single_batch_exactly() {
    let whole = mixed_batch(7, 20_000);
    let parts: Vec<RecordBatch> = (0..4).map(|k| whole.slice(k * 5_000, 5_000)).collect();
    let o = opts(100, 64);
    let streamed = profile_stream(BatchStream::from_batches(whole.schema(), parts), &o).unwrap();
    let single = profile_batch(&whole, &o).unwrap();
    assert_eq!(streamed, single);
    assert_eq!(streamed.rows(), 20_000);
}

#[test]
fn stream_propagates_errors() {
    let whole = mixed_batch(8, 10);
    let other = batch(vec![("x", f64_col(&[1.0]))]);
    let s = BatchStream::from_batches(whole.schema(), vec![whole.clone(), other]);
    assert!(matches!(
        profile_stream(s, &opts(10, 16)),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn builder_rejects_wrong_schema_and_stays_unchanged() {
    let whole = mixed_batch(9, 100);
    let mut b = ProfileBuilder::new(whole.schema(), &opts(10, 16)).unwrap();
    b.update(&whole).unwrap();
    let before = b.profile();
    let wrong = batch(vec![("x", f64_col(&[1.0]))]);
    assert!(matches!(
        b.update(&wrong),
        Err(Error::SchemaMismatch { .. })
    ));
    assert_eq!(b.profile(), before);
    assert_eq!(b.rows(), 100);
    assert_eq!(b.finish(), before);
}

#[test]
fn merge_incompatible_profiles_name_the_column() {
    let o = opts(10, 16);
    let a = profile_batch(
        &batch(vec![("x", f64_col(&[1.0])), ("y", f64_col(&[1.0]))]),
        &o,
    )
    .unwrap();
    let b = profile_batch(
        &batch(vec![("x", f64_col(&[1.0])), ("z", f64_col(&[1.0]))]),
        &o,
    )
    .unwrap();
    let err = a.merge(&b).unwrap_err();
    assert!(
        matches!(&err, Error::Incompatible(m) if m.contains("\"y\"") && m.contains("\"z\"")),
        "{err}"
    );

    let s: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    let c = profile_batch(&batch(vec![("x", f64_col(&[1.0])), ("y", s)]), &o).unwrap();
    let err = a.merge(&c).unwrap_err();
    assert!(
        matches!(&err, Error::Incompatible(m) if m.contains("\"y\"") && m.contains("categorical")),
        "{err}"
    );

    let d = profile_batch(&batch(vec![("x", f64_col(&[1.0]))]), &o).unwrap();
    assert!(matches!(a.merge(&d), Err(Error::Incompatible(_))));
    let e = profile_batch(
        &batch(vec![("x", f64_col(&[1.0])), ("y", f64_col(&[1.0]))]),
        &opts(11, 16),
    )
    .unwrap();
    assert!(matches!(a.merge(&e), Err(Error::Incompatible(_))));
}

#[test]
fn merge_int32_with_int64_is_allowed() {
    let o = opts(10, 16);
    let a = profile_batch(
        &batch(vec![(
            "n",
            Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
        )]),
        &o,
    )
    .unwrap();
    let b = profile_batch(
        &batch(vec![("n", Arc::new(Int64Array::from(vec![3])) as ArrayRef)]),
        &o,
    )
    .unwrap();
    let m = a.merge(&b).unwrap();
    assert_eq!(
        m.column("n").unwrap().as_numeric().unwrap().mean(),
        Some(2.0)
    );
    assert_eq!(m.column("n").unwrap().data_type(), &DataType::Int32);
}

#[test]
fn merge_over_cap_categories() {
    let o = opts(2, 16);
    let a = profile_batch(
        &batch(vec![(
            "c",
            Arc::new(StringArray::from(vec!["a", "a", "b", "c"])) as ArrayRef,
        )]),
        &o,
    )
    .unwrap();
    let b = profile_batch(
        &batch(vec![(
            "c",
            Arc::new(StringArray::from(vec!["c", "c", "c", "d"])) as ArrayRef,
        )]),
        &o,
    )
    .unwrap();
    let m = a.merge(&b).unwrap();
    let s = m.column("c").unwrap().as_categorical().unwrap();
    // a: {a:2, b:1} other 1 (c); b: {c:3, d:1}. Merged → c:3 (a lower bound), a:2; rest other.
    assert_eq!(s.counts().get("c"), Some(&3));
    assert_eq!(s.counts().get("a"), Some(&2));
    assert_eq!(s.count(), 8);
    assert_eq!(s.other(), 3);
    assert!(!s.counts_exact());
    assert!(!s.distinct_exact());
    assert!(s.distinct() >= 3);
}

// ---- serde, determinism, display -------------------------------------------------------------

#[test]
fn profile_serde_round_trips_and_is_deterministic() {
    let whole = mixed_batch(10, 30_000);
    let o = opts(100, 64);
    let p = profile_batch(&whole, &o).unwrap();
    let bytes = rmp_serde::to_vec(&p).unwrap();
    let again = rmp_serde::to_vec(&profile_batch(&whole, &o).unwrap()).unwrap();
    assert_eq!(bytes, again);
    let back: Profile = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(back, p);
    let json = serde_json::to_string(&p).unwrap();
    let back: Profile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    // Garbage never panics.
    assert!(rmp_serde::from_slice::<Profile>(&bytes[..bytes.len() / 2]).is_err());
    assert!(serde_json::from_str::<Profile>("{\"rows\":1}").is_err());
}

#[test]
fn display_summary() {
    let p = profile_batch(&mixed_batch(11, 1000), &opts(100, 64)).unwrap();
    let s = p.summary();
    assert!(s.starts_with("1000 rows, 4 columns"), "{s}");
    assert!(s.contains("- x (Float64): n="), "{s}");
    assert!(s.contains("+inf="), "{s}");
    assert!(s.contains("- c (Utf8): n="), "{s}");
    assert!(s.contains("distinct=5"), "{s}");
    assert_eq!(s.lines().count(), 5);
}

#[test]
fn public_types_are_send_sync() {
    fn ok<T: Send + Sync>() {}
    ok::<Profile>();
    ok::<ProfileBuilder>();
    ok::<QuantileSketch>();
    ok::<SketchView>();
    ok::<ProfileOptions>();
}

// ---- reference values from numpy ------------------------------------------------------------

#[test]
fn matches_numpy_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/profile/expected.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rel = |a: f64, b: f64| {
        if b == 0.0 {
            a.abs()
        } else {
            ((a - b) / b).abs()
        }
    };
    for (name, case) in doc.as_object().unwrap() {
        let values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let f = |k: &str| case[k].as_f64().unwrap();
        for k in [DEFAULT_SKETCH_K, 64] {
            let p = profile_batch(&batch(vec![("x", f64_col(&values))]), &opts(10, k)).unwrap();
            let x = p.column("x").unwrap().as_numeric().unwrap();
            assert_eq!(x.count(), case["n"].as_u64().unwrap());
            assert!(rel(x.mean().unwrap(), f("mean")) < 1e-12, "{name} mean");
            assert!(
                rel(x.variance_population().unwrap(), f("var_population")) < 1e-12,
                "{name} var"
            );
            assert!(
                rel(x.variance_sample().unwrap(), f("var_sample")) < 1e-12,
                "{name} var1"
            );
            assert!(
                rel(x.mean().unwrap(), f("exact_mean")) < 1e-12,
                "{name} exact mean"
            );
            let vp = x.variance_population().unwrap();
            assert!(
                rel(vp, f("exact_var_population")) < 1e-12,
                "{name} exact var"
            );
            let vs = x.variance_sample().unwrap();
            assert!(rel(vs, f("exact_var_sample")) < 1e-12, "{name} exact var1");
            assert!(
                rel(x.std_population().unwrap(), f("std_population")) < 1e-12,
                "{name} std"
            );
            assert!(
                rel(x.std_sample().unwrap(), f("std_sample")) < 1e-12,
                "{name} std1"
            );
            assert_eq!(x.min(), Some(f("min")));
            assert_eq!(x.max(), Some(f("max")));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            let tol = x.error_bound() * n;
            let qs = case["quantile_qs"].as_array().unwrap();
            let expected = case["quantiles"].as_array().unwrap();
            for (q, e) in qs.iter().zip(expected) {
                let (q, e) = (q.as_f64().unwrap(), e.as_f64().unwrap());
                let v = x.quantile(q).unwrap();
                // The sketch's answer and numpy's exact quantile are within the bound in rank.
                let (lo, hi) = if v <= e { (v, e) } else { (e, v) };
                let between = sorted
                    .partition_point(|&s| s < hi)
                    .saturating_sub(sorted.partition_point(|&s| s <= lo))
                    as f64;
                assert!(
                    between <= tol,
                    "{name} k={k} q={q}: {v} vs numpy {e}, {between} values between > {tol}"
                );
                if x.error_bound() == 0.0 {
                    // No compaction yet: the sketch is exact and equals numpy's inverted CDF.
                    assert_eq!(v, e, "{name} q={q}");
                }
            }
        }
    }
}

// ---- property test: merge(profile(a), profile(b)) == profile(a ++ b) --------------------------

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(scale)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn merge_of_split_equals_whole(
        seed in any::<u64>(),
        rows in 1usize..3000,
        split_frac in 0.0f64..=1.0,
        cap in 1usize..8,
    ) {
        let whole = mixed_batch(seed, rows);
        let cut = ((rows as f64) * split_frac) as usize;
        let o = opts(cap, 16);
        let a = profile_batch(&whole.slice(0, cut), &o).unwrap();
        let b = profile_batch(&whole.slice(cut, rows - cut), &o).unwrap();
        let m = a.merge(&b).unwrap();
        let w = profile_batch(&whole, &o).unwrap();
        prop_assert_eq!(m.rows(), w.rows());
        for (mc, wc) in m.columns().iter().zip(w.columns()) {
            prop_assert_eq!(mc.name(), wc.name());
            match (mc.stats(), wc.stats()) {
                (ColumnStats::Numeric(ms), ColumnStats::Numeric(ws)) => {
                    prop_assert_eq!(ms.count(), ws.count());
                    prop_assert_eq!(ms.nulls(), ws.nulls());
                    prop_assert_eq!(ms.nan_count(), ws.nan_count());
                    prop_assert_eq!(ms.pos_inf_count(), ws.pos_inf_count());
                    prop_assert_eq!(ms.neg_inf_count(), ws.neg_inf_count());
                    prop_assert_eq!(ms.min(), ws.min());
                    prop_assert_eq!(ms.max(), ws.max());
                    if let (Some(x), Some(y)) = (ms.mean(), ws.mean()) {
                        let spread = ws.max().unwrap() - ws.min().unwrap();
                        prop_assert!(close(x, y, spread), "mean {} vs {}", x, y);
                        let (vx, vy) = (ms.variance_population().unwrap(), ws.variance_population().unwrap());
                        prop_assert!(close(vx, vy, 0.0), "var {} vs {}", vx, vy);
                    } else {
                        prop_assert_eq!(ms.mean(), ws.mean());
                    }
                    // Quantiles of the merged sketch are within its bound of the truth.
                    let col = whole.column_by_name(mc.name()).unwrap();
                    let data: Vec<f64> = match col.data_type() {
                        DataType::Float64 => col.as_any().downcast_ref::<Float64Array>().unwrap()
                            .iter().flatten().filter(|v| v.is_finite()).collect(),
                        _ => col.as_any().downcast_ref::<Int64Array>().unwrap()
                            .iter().flatten().map(|v| v as f64).collect(),
                    };
                    if !data.is_empty() {
                        check_sketch_against(ms.sketch(), &data, 50);
                    }
                }
                (ColumnStats::Categorical(ms), ColumnStats::Categorical(ws)) => {
                    prop_assert_eq!(ms.count(), ws.count());
                    prop_assert_eq!(ms.nulls(), ws.nulls());
                    prop_assert_eq!(ms.counts().values().sum::<u64>() + ms.other(), ms.count());
                    let under_cap = |p: &Profile| p.column(mc.name()).unwrap().as_categorical().unwrap().other() == 0;
                    if under_cap(&a) && under_cap(&b) && ws.other() == 0 {
                        prop_assert_eq!(ms, ws);
                    } else if under_cap(&a) && under_cap(&b) {
                        // Both parts exact: the merged top categories are exactly the whole's.
                        prop_assert_eq!(ms.counts(), ws.counts());
                        prop_assert_eq!(ms.other(), ws.other());
                    }
                }
                (x, y) => prop_assert!(false, "kinds differ: {:?} vs {:?}", x, y),
            }
        }
    }
}

// ---- performance (run with --release --ignored --nocapture) ------------------------------------

#[test]
#[ignore = "benchmark; run in release"]
fn perf_1m_rows_26_columns() {
    let rows = 1_000_000;
    let mut r = rng(12);
    let mut cols: Vec<(String, ArrayRef)> = Vec::new();
    for j in 0..20 {
        let v: Vec<f64> = (0..rows)
            .map(|_| r.r#gen::<f64>() * f64::from(j + 1))
            .collect();
        cols.push((format!("num{j}"), Arc::new(Float64Array::from(v))));
    }
    let cats: Vec<String> = (0..30).map(|i| format!("category_{i}")).collect();
    for j in 0..6 {
        let v: Vec<&str> = (0..rows)
            .map(|_| cats[r.gen_range(0..cats.len())].as_str())
            .collect();
        cols.push((format!("cat{j}"), Arc::new(StringArray::from(v))));
    }
    let whole = RecordBatch::try_from_iter(cols).unwrap();
    let parts: Vec<RecordBatch> = (0..rows / 8192 + 1)
        .map(|i| whole.slice(i * 8192, 8192.min(rows - i * 8192)))
        .collect();
    // CPU time of this thread (the machine may be shared or throttled, so wall time is noisy).
    let cpu_ns = || -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(f64::NAN)
    };
    let c0 = cpu_ns();
    let t = std::time::Instant::now();
    let p = profile_stream(
        BatchStream::from_batches(whole.schema(), parts),
        &ProfileOptions::default(),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = (cpu_ns() - c0) / 1e9;
    eprintln!(
        "profile of {rows} rows x 26 columns: {secs:.3} s wall, {cpu:.3} s cpu; bound {:.5}",
        p.columns()[0].as_numeric().unwrap().error_bound()
    );
    assert_eq!(p.rows(), rows as u64);
    let col0: Vec<f64> = whole
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec();
    let c0 = cpu_ns();
    let sk = sketch_of(&col0, DEFAULT_SKETCH_K);
    eprintln!(
        "  sketch alone, 1 column: {:.4} s cpu",
        (cpu_ns() - c0) / 1e9
    );
    assert_eq!(sk.n(), rows as u64);
    for (what, cols) in [
        ("20 numeric", (0..20).collect::<Vec<_>>()),
        ("6 string", (20..26).collect()),
    ] {
        let part = whole.project(&cols).unwrap();
        let c0 = cpu_ns();
        let q = profile_batch(&part, &ProfileOptions::default()).unwrap();
        eprintln!("  {what} columns: {:.3} s cpu", (cpu_ns() - c0) / 1e9);
        assert_eq!(q.rows(), rows as u64);
    }
}

#[test]
fn empty_table_profiles_and_merges() {
    let whole = mixed_batch(13, 500);
    let o = opts(100, 16);
    let empty = profile_batch(&whole.slice(0, 0), &o).unwrap();
    assert_eq!(empty.rows(), 0);
    let x = empty.column("x").unwrap().as_numeric().unwrap();
    assert_eq!((x.count(), x.mean(), x.quantile(0.5)), (0, None, None));
    let c = empty.column("c").unwrap().as_categorical().unwrap();
    assert!(c.counts().is_empty() && c.frequencies().is_empty());
    let full = profile_batch(&whole, &o).unwrap();
    assert_eq!(empty.merge(&full).unwrap(), full);
    assert_eq!(full.merge(&empty).unwrap(), full);
    assert!(empty.summary().contains("0 rows, 4 columns"));
}
