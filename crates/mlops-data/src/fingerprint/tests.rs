#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::{Float16Type, Int32Type};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float16Array, Float32Array, Float64Array, Int8Array,
    Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    UInt8Array, UInt64Array,
};
use arrow_schema::{DataType, Field};
use proptest::prelude::*;

use super::*;

type F16 = <Float16Type as ArrowPrimitiveType>::Native;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true))).unwrap()
}

fn fp(b: &RecordBatch) -> Fingerprint {
    fingerprint_batches(&b.schema(), std::slice::from_ref(b)).unwrap()
}

/// Splits `b` at the given (sorted, in-range) points into zero-copy slices.
fn split(b: &RecordBatch, points: &[usize]) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut start = 0;
    for &p in points.iter().chain(std::iter::once(&b.num_rows())) {
        out.push(b.slice(start, p - start));
        start = p;
    }
    out
}

fn dict(v: &[Option<&str>]) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for x in v {
        match x {
            Some(s) => {
                b.append_value(s);
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

fn f64s(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

// ---- known answers from the Python re-implementation ----------------------------------------

fn expected(name: &str) -> (String, u64, usize) {
    let json: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/fingerprint/expected.json"
    ))
    .unwrap();
    let e = &json[name];
    (
        e["hex"].as_str().unwrap().to_owned(),
        e["rows"].as_u64().unwrap(),
        e["columns"].as_u64().unwrap() as usize,
    )
}

const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The `MIXED` table of gen.py; `text` picks the Arrow encoding of column `s`.
fn mixed(text: &str, small_as_i64: bool) -> RecordBatch {
    let s = [
        Some("a"),
        Some(""),
        None,
        Some("h\u{e9}llo \u{2713}"),
        Some(LONG),
    ];
    let s: ArrayRef = match text {
        "utf8" => Arc::new(StringArray::from(s.to_vec())),
        "large" => Arc::new(LargeStringArray::from(s.to_vec())),
        "view" => Arc::new(StringViewArray::from(s.to_vec())),
        _ => dict(&s),
    };
    let small = [Some(-128), Some(127), Some(0), None, Some(5)];
    let small: ArrayRef = if small_as_i64 {
        Arc::new(Int64Array::from(
            small.iter().map(|v| v.map(i64::from)).collect::<Vec<_>>(),
        ))
    } else {
        Arc::new(Int8Array::from(
            small
                .iter()
                .map(|v| v.map(|x: i16| x as i8))
                .collect::<Vec<_>>(),
        ))
    };
    let h = [Some(1.0), Some(-0.0), None, Some(65504.0), Some(0.5)];
    batch(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(-2),
                None,
                Some(9_007_199_254_740_993),
                Some(0),
            ])) as ArrayRef,
        ),
        ("small", small),
        (
            "x",
            f64s(vec![
                Some(1.5),
                Some(f64::NAN),
                Some(-0.0),
                None,
                Some(f64::NEG_INFINITY),
            ]),
        ),
        (
            "y",
            Arc::new(Float32Array::from(vec![
                Some(0.1f32),
                None,
                Some(-0.0),
                Some(f32::NAN),
                Some(3.0),
            ])) as ArrayRef,
        ),
        (
            "h",
            Arc::new(Float16Array::from(
                h.iter().map(|v| v.map(F16::from_f64)).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
            ])) as ArrayRef,
        ),
        ("s", s),
        (
            "d",
            dict(&[Some("x"), None, Some("y"), Some("x"), Some("")]),
        ),
    ])
}

fn clean() -> RecordBatch {
    let n = 10_000i64;
    batch(vec![
        (
            "i",
            Arc::new(Int64Array::from(
                (0..n).map(|k| k * k - 5000).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "u",
            Arc::new(UInt64Array::from(
                (0..n as u64).map(|k| k * 3).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float64Array::from(
                (0..n).map(|k| k as f64 / 7.0 - 3.0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "g",
            Arc::new(Float32Array::from(
                (0..n).map(|k| (k as f64 / 3.0) as f32).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
}

fn assert_known(name: &str, got: Fingerprint) {
    let (hex, rows, columns) = expected(name);
    assert_eq!(got.hash.to_hex(), hex, "{name}");
    assert_eq!(got.rows, rows, "{name}");
    assert_eq!(got.columns, columns, "{name}");
}

#[test]
fn known_answer_matches_python() {
    // Small integer width (Int8 vs Int64) and every text encoding give the same answer.
    for text in ["utf8", "large", "view", "dict"] {
        for wide in [false, true] {
            let b = mixed(text, wide);
            assert_known("mixed", fp(&b));
            for points in [vec![1], vec![2, 3], vec![0, 1, 2, 3, 4, 5]] {
                let parts = split(&b, &points);
                assert_known("mixed", fingerprint_batches(&b.schema(), &parts).unwrap());
            }
        }
    }
    let empty = batch(vec![("a", f64s(vec![]))]);
    assert_known("empty", fp(&empty));
    let empty_stream = BatchStream::from_batches(empty.schema(), vec![]);
    assert_known("empty", fingerprint_stream(empty_stream).unwrap());
    let single = batch(vec![(
        "n\u{e4}me",
        Arc::new(StringArray::from(vec!["v"])) as ArrayRef,
    )]);
    assert_known("single", fp(&single));
    let nulls = batch(vec![
        ("e", Arc::new(arrow_array::NullArray::new(3)) as ArrayRef),
        (
            "k",
            Arc::new(Int32Array::from(vec![None, Some(2), None])) as ArrayRef,
        ),
    ]);
    assert_known("nulls", fp(&nulls));
    assert_known(
        "nulls",
        fingerprint_batches(&nulls.schema(), &split(&nulls, &[1])).unwrap(),
    );
    let c = clean();
    assert_known("clean", fp(&c));
    assert_known(
        "clean",
        fingerprint_batches(&c.schema(), &split(&c, &[1, 8193, 9000])).unwrap(),
    );
    assert_known(
        "clean",
        fingerprint_stream(BatchStream::from_batches(c.schema(), split(&c, &[5000]))).unwrap(),
    );
}

// ---- batch-boundary independence ------------------------------------------------------------

/// One generated row: an integer, a float, a string and a boolean, each possibly null.
type Row = (Option<i64>, Option<f64>, Option<String>, Option<bool>);

fn arb_table() -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(prop_oneof![
                Just(f64::NAN),
                Just(-0.0),
                Just(f64::INFINITY),
                any::<f64>(),
            ]),
            proptest::option::of("[a-c\u{e9}]{0,4}"),
            proptest::option::of(any::<bool>()),
        ),
        0..200,
    )
}

fn table(rows: &[Row]) -> RecordBatch {
    batch(vec![
        (
            "i",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("f", f64s(rows.iter().map(|r| r.1).collect())),
        (
            "s",
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2.as_deref()).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "d",
            dict(&rows.iter().map(|r| r.2.as_deref()).collect::<Vec<_>>()),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn prop_batch_boundaries_do_not_matter(
        rows in arb_table(),
        mut points in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = table(&rows);
        let n = rows.len();
        for p in &mut points {
            *p = if n == 0 { 0 } else { *p % (n + 1) };
        }
        points.sort_unstable();
        let parts = split(&whole, &points);
        let a = fp(&whole);
        let b = fingerprint_batches(&whole.schema(), &parts).unwrap();
        // Batches built separately (own buffers, no offsets) give the same answer too.
        let mut rebuilt = Vec::new();
        let mut start = 0;
        for &p in points.iter().chain(std::iter::once(&n)) {
            rebuilt.push(table(&rows[start..p]));
            start = p;
        }
        let c = fingerprint_stream(BatchStream::from_batches(whole.schema(), rebuilt)).unwrap();
        prop_assert_eq!(a, b);
        prop_assert_eq!(a, c);
        prop_assert_eq!(a.rows, n as u64);
    }
}

#[test]
fn long_columns_across_chunks_with_nans_and_nulls() {
    let n = 3 * CHUNK + 17;
    let vals: Vec<Option<f64>> = (0..n)
        .map(|k| match k % 1000 {
            7 => None,
            500 => Some(f64::NAN),
            _ => Some(k as f64 * 0.25),
        })
        .collect();
    let ints: Vec<Option<i32>> = (0..n).map(|k| (k % 777 != 3).then_some(k as i32)).collect();
    let b = batch(vec![
        ("v", f64s(vals)),
        ("k", Arc::new(Int32Array::from(ints.clone())) as ArrayRef),
    ]);
    let wide = batch(vec![
        ("v", b.column(0).clone()),
        (
            "k",
            Arc::new(Int64Array::from(
                ints.iter().map(|v| v.map(i64::from)).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ]);
    let whole = fp(&b);
    assert_eq!(whole, fp(&wide));
    for points in [
        vec![1],
        vec![CHUNK - 1, CHUNK + 1],
        vec![4000, 12_345, 20_000],
    ] {
        assert_eq!(
            whole,
            fingerprint_batches(&b.schema(), &split(&b, &points)).unwrap()
        );
    }
}

// ---- sensitivity ----------------------------------------------------------------------------

fn base() -> RecordBatch {
    batch(vec![
        ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ("b", f64s(vec![Some(0.5), Some(1.5), Some(2.5)])),
        (
            "c",
            Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef,
        ),
    ])
}

#[test]
fn any_change_changes_the_hash() {
    let orig = fp(&base());
    let with = |name: &str, col: ArrayRef| {
        let b = base();
        let idx = b.schema().index_of(name).unwrap();
        let mut cols = b.columns().to_vec();
        cols[idx] = col;
        let fields: Vec<Field> = b
            .schema()
            .fields()
            .iter()
            .zip(&cols)
            .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
            .collect();
        let schema = Arc::new(arrow_schema::Schema::new(fields));
        fp(&RecordBatch::try_new(schema, cols).unwrap())
    };
    let changed = [
        (
            "one value",
            with("a", Arc::new(Int64Array::from(vec![1, 2, 4]))),
        ),
        (
            "one float",
            with(
                "b",
                f64s(vec![Some(0.5), Some(1.5), Some(2.500_000_000_000_001)]),
            ),
        ),
        (
            "one string",
            with("c", Arc::new(StringArray::from(vec!["x", "y", "zz"]))),
        ),
        (
            "int → float type",
            with("a", f64s(vec![Some(1.0), Some(2.0), Some(3.0)])),
        ),
        (
            "float64 → float32",
            with("b", Arc::new(Float32Array::from(vec![0.5, 1.5, 2.5]))),
        ),
        (
            "null vs placeholder",
            with(
                "a",
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
            ),
        ),
        (
            "swap two rows",
            fp(&batch(vec![
                ("a", Arc::new(Int64Array::from(vec![2, 1, 3])) as ArrayRef),
                ("b", f64s(vec![Some(1.5), Some(0.5), Some(2.5)])),
                (
                    "c",
                    Arc::new(StringArray::from(vec!["y", "x", "z"])) as ArrayRef,
                ),
            ])),
        ),
        (
            "rename a column",
            fp(&batch(vec![
                ("A", base().column(0).clone()),
                ("b", base().column(1).clone()),
                ("c", base().column(2).clone()),
            ])),
        ),
        (
            "reorder columns",
            fp(&batch(vec![
                ("b", base().column(1).clone()),
                ("a", base().column(0).clone()),
                ("c", base().column(2).clone()),
            ])),
        ),
        ("drop last row", fp(&base().slice(0, 2))),
    ];
    let mut seen = std::collections::BTreeSet::new();
    seen.insert(orig.hash);
    for (what, got) in changed {
        assert!(
            seen.insert(got.hash),
            "{what}: hash did not change or collided"
        );
    }
}

#[test]
fn nulls_differ_from_placeholders() {
    let null_int = batch(vec![(
        "a",
        Arc::new(Int64Array::from(vec![None, Some(1)])) as ArrayRef,
    )]);
    let zero_int = batch(vec![(
        "a",
        Arc::new(Int64Array::from(vec![Some(0), Some(1)])) as ArrayRef,
    )]);
    assert_ne!(fp(&null_int), fp(&zero_int));
    let null_s = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec![None, Some("x")])) as ArrayRef,
    )]);
    let empty_s = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec![Some(""), Some("x")])) as ArrayRef,
    )]);
    assert_ne!(fp(&null_s), fp(&empty_s));
    let null_b = batch(vec![(
        "b",
        Arc::new(BooleanArray::from(vec![None, Some(true)])) as ArrayRef,
    )]);
    let false_b = batch(vec![(
        "b",
        Arc::new(BooleanArray::from(vec![Some(false), Some(true)])) as ArrayRef,
    )]);
    assert_ne!(fp(&null_b), fp(&false_b));
    // Where the null is matters.
    let later = batch(vec![(
        "a",
        Arc::new(Int64Array::from(vec![Some(0), None])) as ArrayRef,
    )]);
    let earlier = batch(vec![(
        "a",
        Arc::new(Int64Array::from(vec![None, Some(0)])) as ArrayRef,
    )]);
    assert_ne!(fp(&later), fp(&earlier));
}

#[test]
fn canonical_floats_and_string_framing() {
    let other_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    let neg_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let a = batch(vec![("x", f64s(vec![Some(f64::NAN), Some(0.0)]))]);
    let b = batch(vec![("x", f64s(vec![Some(other_nan), Some(-0.0)]))]);
    let c = batch(vec![("x", f64s(vec![Some(neg_nan), Some(0.0)]))]);
    assert_eq!(fp(&a), fp(&b));
    assert_eq!(fp(&a), fp(&c));
    let f32_nan = batch(vec![(
        "x",
        Arc::new(Float32Array::from(vec![f32::from_bits(0x7fc0_0001), -0.0])) as ArrayRef,
    )]);
    let f32_can = batch(vec![(
        "x",
        Arc::new(Float32Array::from(vec![f32::NAN, 0.0])) as ArrayRef,
    )]);
    assert_eq!(fp(&f32_nan), fp(&f32_can));
    // Length framing: ["ab", "c"] is not ["a", "bc"].
    let s1 = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec!["ab", "c"])) as ArrayRef,
    )]);
    let s2 = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec!["a", "bc"])) as ArrayRef,
    )]);
    assert_ne!(fp(&s1), fp(&s2));
}

#[test]
fn integer_widths_are_normalised() {
    let v = [Some(3), None, Some(-7)];
    let i8s = batch(vec![(
        "n",
        Arc::new(Int8Array::from(v.to_vec())) as ArrayRef,
    )]);
    let i32s = batch(vec![(
        "n",
        Arc::new(Int32Array::from(
            v.iter().map(|x| x.map(i32::from)).collect::<Vec<_>>(),
        )) as ArrayRef,
    )]);
    let i64s = batch(vec![(
        "n",
        Arc::new(Int64Array::from(
            v.iter().map(|x| x.map(i64::from)).collect::<Vec<_>>(),
        )) as ArrayRef,
    )]);
    assert_eq!(fp(&i8s), fp(&i32s));
    assert_eq!(fp(&i8s), fp(&i64s));
    let u = batch(vec![(
        "n",
        Arc::new(UInt8Array::from(vec![3u8, 200])) as ArrayRef,
    )]);
    let u64s = batch(vec![(
        "n",
        Arc::new(UInt64Array::from(vec![3u64, 200])) as ArrayRef,
    )]);
    let i = batch(vec![(
        "n",
        Arc::new(Int64Array::from(vec![3i64, 200])) as ArrayRef,
    )]);
    assert_eq!(fp(&u), fp(&i));
    assert_eq!(fp(&u64s), fp(&i));
}

// ---- errors ---------------------------------------------------------------------------------

#[test]
fn errors_name_the_column() {
    let big = batch(vec![
        ("ok", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "u",
            Arc::new(UInt64Array::from(vec![Some(1), None, Some(u64::MAX)])) as ArrayRef,
        ),
    ]);
    match fingerprint_batches(&big.schema(), &split(&big, &[1])) {
        Err(Error::Unfingerprintable { column, row, .. }) => {
            assert_eq!(column, "u");
            assert_eq!(row, 2);
        }
        other => panic!("{other:?}"),
    }
    let dates = batch(vec![(
        "when",
        Arc::new(Date32Array::from(vec![1])) as ArrayRef,
    )]);
    match fingerprint_batches(&dates.schema(), &[dates]) {
        Err(Error::TypeMismatch { column, found, .. }) => {
            assert_eq!(column, "when");
            assert_eq!(found, "Date32");
        }
        other => panic!("{other:?}"),
    }
    let a = batch(vec![("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
    let b = batch(vec![("a", f64s(vec![Some(1.0)]))]);
    let mut f = Fingerprinter::new(&a.schema()).unwrap();
    f.update(&a).unwrap();
    assert!(matches!(f.update(&b), Err(Error::SchemaMismatch { .. })));
    assert_eq!(f.rows(), 1);
}

#[test]
fn file_hash_is_plain_sha256() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    file.write_all(&data).unwrap();
    file.flush().unwrap();
    assert_eq!(
        file_hash(file.path()).unwrap(),
        mlops_core::hash_bytes(&data)
    );
    let missing = file.path().with_extension("missing");
    match file_hash(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fingerprint_serde_and_display() {
    let f = fp(&base());
    let json = serde_json::to_string(&f).unwrap();
    assert!(json.contains(&f.hash.to_hex()));
    let back: Fingerprint = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    assert_eq!(f.to_string(), format!("{} (3 rows × 3 columns)", f.hash));
    fn check<T: Send + Sync>() {}
    check::<Fingerprint>();
    check::<Fingerprinter>();
    let _ = DataType::Null;
}

/// CPU time of this thread in seconds (Linux `schedstat`), falling back to `None` elsewhere: the
/// machine is shared, so wall-clock time would measure the neighbours.
fn thread_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (c0, t0) = (thread_cpu_secs(), std::time::Instant::now());
    let out = f();
    let secs = match (c0, thread_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => t0.elapsed().as_secs_f64(),
    };
    (out, secs)
}

/// Throughput on one core (thread CPU time), in Arrow value-buffer bytes per second. Run with
/// `cargo test -p mlops-data --release --lib -- fingerprint::tests::throughput --ignored --nocapture`.
#[test]
#[ignore = "benchmark; run in release mode"]
fn throughput() {
    let n = 16 * 1024 * 1024; // 128 MiB per 8-byte column
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "f64",
            Arc::new(Float64Array::from(
                (0..n).map(|k| k as f64 * 0.5).collect::<Vec<_>>(),
            )),
        ),
        (
            "i64",
            Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
        ),
        (
            "i32",
            Arc::new(Int32Array::from((0..n).collect::<Vec<_>>())),
        ),
        (
            "f64_nulls",
            Arc::new(Float64Array::from(
                (0..n)
                    .map(|k| (k % 100 != 0).then_some(k as f64))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "utf8",
            Arc::new(StringArray::from(
                (0..n / 4).map(|k| format!("value-{k}")).collect::<Vec<_>>(),
            )),
        ),
    ];
    for (name, col) in cols {
        let b = batch(vec![(name, col.clone())]);
        let parts = split(
            &b,
            &(1..b.num_rows() / 65_536)
                .map(|k| k * 65_536)
                .collect::<Vec<_>>(),
        );
        let bytes = col.get_buffer_memory_size() as f64;
        let (f, secs) = timed(|| fingerprint_batches(&b.schema(), &parts).unwrap());
        println!(
            "{name:>10}: {:.2} GB/s ({} rows, {:.0} MB)",
            bytes / secs / 1e9,
            f.rows,
            bytes / 1e6
        );
    }
    let raw = vec![7u8; 128 * 1024 * 1024];
    let (_, secs) = timed(|| mlops_core::hash_bytes(&raw));
    println!("raw sha256: {:.2} GB/s", raw.len() as f64 / secs / 1e9);
}
