#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, Int32Array, Int64Array,
    LargeStringArray, NullArray, RecordBatch, StringArray, StringViewArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;

use super::*;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true))).unwrap()
}

fn stream(batches: Vec<RecordBatch>) -> BatchStream {
    let schema = batches[0].schema();
    BatchStream::from_batches(schema, batches)
}

fn f64s(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

fn strs(v: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn dict(v: Vec<Option<&str>>) -> ArrayRef {
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

/// A three-batch table exercising nulls, NaN, inf, categories, dictionaries, ints and bools.
fn mixed_batches() -> Vec<RecordBatch> {
    let mk = |age: Vec<Option<f64>>,
              n: Vec<Option<i64>>,
              plan: Vec<Option<&str>>,
              region: Vec<Option<&str>>,
              flag: Vec<Option<bool>>| {
        batch(vec![
            ("age", f64s(age)),
            ("n", Arc::new(Int64Array::from(n)) as ArrayRef),
            ("plan", strs(plan)),
            ("region", dict(region)),
            ("flag", Arc::new(BooleanArray::from(flag)) as ArrayRef),
        ])
    };
    vec![
        mk(
            vec![Some(30.0), None, Some(f64::NAN)],
            vec![Some(-5), Some(7), None],
            vec![Some("basic"), Some("pro"), None],
            vec![Some("eu"), None, Some("us")],
            vec![Some(true), None, Some(false)],
        ),
        mk(
            vec![Some(f64::INFINITY), Some(-2.5)],
            vec![Some(100), Some(0)],
            vec![Some("pro"), Some("gold")],
            vec![Some("us"), Some("apac")],
            vec![Some(false), Some(false)],
        ),
        mk(
            vec![Some(99.0)],
            vec![Some(3)],
            vec![Some("basic")],
            vec![Some("eu")],
            vec![Some(true)],
        ),
    ]
}

fn only(report: &ValidationReport) -> &Violation {
    assert_eq!(report.violations.len(), 1, "{report}");
    &report.violations[0]
}

// ---- schema types --------------------------------------------------------------------------

#[test]
fn json_round_trip_and_defaults() {
    let schema = TableSchema::new()
        .with(
            ColumnSchema::float("age")
                .range(0.0, f64::INFINITY)
                .not_null(),
        )
        .with(ColumnSchema::integer("n").range(-1.0, 1.0))
        .with(ColumnSchema::boolean("flag"))
        .with(ColumnSchema::categorical("plan").categories(["pro", "basic"]))
        .with(ColumnSchema::float("x").allow_non_finite(true))
        .allow_extra_columns(false);
    let json = serde_json::to_string(&schema).unwrap();
    assert!(json.contains("\"inf\""), "{json}");
    let back: TableSchema = serde_json::from_str(&json).unwrap();
    assert_eq!(back, schema);

    let minimal: TableSchema =
        serde_json::from_str(r#"{"columns":[{"name":"a","kind":"float"}]}"#).unwrap();
    assert_eq!(minimal, TableSchema::new().with(ColumnSchema::float("a")));
    assert!(minimal.allow_extra_columns);
    let c = minimal.column("a").unwrap();
    assert!(c.nullable && !c.allow_non_finite && c.range.is_none() && c.categories.is_none());
    assert!(
        serde_json::from_str::<TableSchema>(r#"{"columns":[{"name":"a","kind":"text"}]}"#).is_err()
    );
}

#[test]
fn builder_accessors() {
    let s = TableSchema::new()
        .with(ColumnSchema::float("a"))
        .with(ColumnSchema::categorical("b"));
    assert_eq!(s.names(), vec!["a", "b"]);
    assert_eq!(s.column("b").unwrap().kind, ColumnKind::Categorical);
    assert!(s.column("c").is_none());
    assert!(ColumnKind::Float.accepts(ColumnKind::Integer));
    assert!(!ColumnKind::Integer.accepts(ColumnKind::Float));
    assert!(!ColumnKind::Categorical.accepts(ColumnKind::Boolean));
}

#[test]
fn from_arrow_maps_types() {
    let schema = Schema::new(vec![
        Field::new("f16", DataType::Float16, true),
        Field::new("f32", DataType::Float32, false),
        Field::new("u8", DataType::UInt8, true),
        Field::new("i64", DataType::Int64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("ls", DataType::LargeUtf8, true),
        Field::new("sv", DataType::Utf8View, true),
        Field::new(
            "d",
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
            true,
        ),
    ]);
    let t = TableSchema::from_arrow(&schema).unwrap();
    let kinds: Vec<ColumnKind> = t.columns.iter().map(|c| c.kind).collect();
    use ColumnKind::*;
    assert_eq!(
        kinds,
        vec![
            Float,
            Float,
            Integer,
            Integer,
            Boolean,
            Categorical,
            Categorical,
            Categorical,
            Categorical
        ]
    );
    assert!(!t.column("f32").unwrap().nullable);
    assert!(t.column("f16").unwrap().nullable);
    assert!(
        t.columns
            .iter()
            .all(|c| c.allow_non_finite && c.range.is_none())
    );

    let bad = Schema::new(vec![
        Field::new("ok", DataType::Int32, true),
        Field::new("when", DataType::Date32, true),
    ]);
    match TableSchema::from_arrow(&bad) {
        Err(Error::TypeMismatch { column, found, .. }) => {
            assert_eq!(column, "when");
            assert_eq!(found, "Date32");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_rejects_bad_schemas() {
    let dup = TableSchema::new()
        .with(ColumnSchema::float("a"))
        .with(ColumnSchema::integer("a"));
    assert!(matches!(dup.check(), Err(Error::DuplicateColumn { column }) if column == "a"));
    let inverted = TableSchema::new().with(ColumnSchema::float("a").range(2.0, 1.0));
    assert!(matches!(
        inverted.check(),
        Err(Error::InvalidParam { param: "range", .. })
    ));
    let nan = TableSchema::new().with(ColumnSchema::float("a").range(f64::NAN, 1.0));
    assert!(matches!(
        nan.check(),
        Err(Error::InvalidParam { param: "range", .. })
    ));
    let range_on_text = TableSchema::new().with(ColumnSchema::categorical("a").range(0.0, 1.0));
    assert!(matches!(
        range_on_text.check(),
        Err(Error::InvalidParam { param: "range", .. })
    ));
    let cats_on_float = TableSchema::new().with(ColumnSchema::float("a").categories(["x"]));
    assert!(matches!(
        cats_on_float.check(),
        Err(Error::InvalidParam {
            param: "categories",
            ..
        })
    ));
    // validate refuses an invalid schema with an error, not a report.
    let b = batch(vec![("a", f64s(vec![Some(1.0)]))]);
    assert!(validate(&dup, stream(vec![b])).is_err());
}

// ---- inference -----------------------------------------------------------------------------

#[test]
fn infer_records_what_it_sees() {
    let s = TableSchema::infer(stream(mixed_batches()), &InferOptions::default()).unwrap();
    assert_eq!(s.names(), vec!["age", "n", "plan", "region", "flag"]);
    let age = s.column("age").unwrap();
    assert_eq!(age.kind, ColumnKind::Float);
    assert!(age.nullable && age.allow_non_finite);
    assert_eq!(age.range, Some(Range::new(-2.5, 99.0)));
    let n = s.column("n").unwrap();
    assert_eq!(n.kind, ColumnKind::Integer);
    assert!(n.nullable && !n.allow_non_finite);
    assert_eq!(n.range, Some(Range::new(-5.0, 100.0)));
    let plan = s.column("plan").unwrap();
    assert_eq!(
        plan.categories.as_ref().unwrap().iter().collect::<Vec<_>>(),
        vec!["basic", "gold", "pro"]
    );
    let region = s.column("region").unwrap();
    assert_eq!(region.kind, ColumnKind::Categorical);
    assert_eq!(region.categories.as_ref().unwrap().len(), 3);
    let flag = s.column("flag").unwrap();
    assert_eq!(flag.kind, ColumnKind::Boolean);
    assert!(flag.nullable && flag.range.is_none() && flag.categories.is_none());
}

#[test]
fn infer_without_nulls_or_non_finite() {
    let b = batch(vec![
        ("x", Arc::new(Int8Array::from(vec![3, -1])) as ArrayRef),
        (
            "y",
            Arc::new(Float32Array::from(vec![0.5, 1.5])) as ArrayRef,
        ),
    ]);
    let s = TableSchema::infer(stream(vec![b]), &InferOptions::default()).unwrap();
    let x = s.column("x").unwrap();
    assert!(!x.nullable && !x.allow_non_finite);
    assert_eq!(x.range, Some(Range::new(-1.0, 3.0)));
    assert_eq!(s.column("y").unwrap().range, Some(Range::new(0.5, 1.5)));
}

#[test]
fn infer_category_cap() {
    let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let refs: Vec<Option<&str>> = values.iter().map(|s| Some(s.as_str())).collect();
    let b = batch(vec![("c", strs(refs))]);
    let at_cap = TableSchema::infer(
        stream(vec![b.clone()]),
        &InferOptions::default().max_categories(10),
    )
    .unwrap();
    assert_eq!(
        at_cap
            .column("c")
            .unwrap()
            .categories
            .as_ref()
            .unwrap()
            .len(),
        10
    );
    let over =
        TableSchema::infer(stream(vec![b]), &InferOptions::default().max_categories(9)).unwrap();
    assert!(over.column("c").unwrap().categories.is_none());
}

#[test]
fn infer_all_null_and_all_nan_columns() {
    let b = batch(vec![
        ("nan", f64s(vec![Some(f64::NAN), None])),
        ("txt", strs(vec![None, None])),
    ]);
    let s = TableSchema::infer(stream(vec![b.clone()]), &InferOptions::default()).unwrap();
    let nan = s.column("nan").unwrap();
    assert!(nan.range.is_none() && nan.allow_non_finite && nan.nullable);
    assert_eq!(
        s.column("txt").unwrap().categories,
        Some(Default::default())
    );
    assert!(validate(&s, stream(vec![b])).unwrap().is_valid());
}

#[test]
fn null_typed_columns_become_nullable_floats() {
    let b = batch(vec![
        ("e", Arc::new(NullArray::new(3)) as ArrayRef),
        ("x", f64s(vec![Some(1.0), Some(2.0), Some(3.0)])),
    ]);
    let inferred = TableSchema::infer(stream(vec![b.clone()]), &InferOptions::default()).unwrap();
    assert_eq!(inferred.column("e").unwrap(), &ColumnSchema::float("e"));
    assert!(
        validate(&inferred, stream(vec![b.clone()]))
            .unwrap()
            .is_valid()
    );
    let from = TableSchema::from_arrow(&b.schema()).unwrap();
    assert_eq!(from.column("e").unwrap().kind, ColumnKind::Float);
    assert!(validate_batch(&from, &b, 0).is_valid());
}

#[test]
fn infer_errors() {
    let empty = batch(vec![("a", f64s(vec![]))]);
    assert!(matches!(
        TableSchema::infer(stream(vec![empty]), &InferOptions::default()),
        Err(Error::EmptyTable { .. })
    ));
    let dates = RecordBatch::try_from_iter([(
        "d",
        Arc::new(arrow_array::Date32Array::from(vec![1])) as ArrayRef,
    )])
    .unwrap();
    assert!(matches!(
        TableSchema::infer(stream(vec![dates]), &InferOptions::default()),
        Err(Error::TypeMismatch { column, .. }) if column == "d"
    ));
}

#[test]
fn infer_then_validate_is_clean_on_multi_batch_stream() {
    let s = TableSchema::infer(stream(mixed_batches()), &InferOptions::default()).unwrap();
    let report = validate(&s, stream(mixed_batches())).unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.rows, 6);
    // Also with a strict schema about extra columns: the inferred schema lists them all.
    let strict = s.clone().allow_extra_columns(false);
    assert!(
        validate(&strict, stream(mixed_batches()))
            .unwrap()
            .is_valid()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn prop_infer_then_validate_is_clean(
        rows in proptest::collection::vec(
            (
                prop_oneof![
                    Just(None),
                    Just(Some(f64::NAN)),
                    Just(Some(f64::NEG_INFINITY)),
                    (-1e6f64..1e6).prop_map(Some),
                ],
                proptest::option::of(-1000i64..1000),
                proptest::option::of(0u8..8),
            ),
            1..60,
        ),
        split in 0usize..60,
        cap in 0usize..10,
    ) {
        let split = split.min(rows.len());
        let names: Vec<String> = (0..8).map(|i| format!("cat{i}")).collect();
        let mk = |part: &[(Option<f64>, Option<i64>, Option<u8>)]| {
            batch(vec![
                ("x", f64s(part.iter().map(|r| r.0).collect())),
                ("n", Arc::new(Int64Array::from(part.iter().map(|r| r.1).collect::<Vec<_>>())) as ArrayRef),
                ("c", strs(part.iter().map(|r| r.2.map(|i| names[i as usize].as_str())).collect())),
            ])
        };
        let batches = vec![mk(&rows[..split]), mk(&rows[split..])];
        let s = TableSchema::infer(stream(batches.clone()), &InferOptions::default().max_categories(cap)).unwrap();
        let report = validate(&s, stream(batches)).unwrap();
        prop_assert!(report.is_valid(), "{}", report);
        prop_assert_eq!(report.rows, rows.len() as u64);
    }
}

// ---- one test per violation kind -----------------------------------------------------------

#[test]
fn violation_missing_column() {
    let s = TableSchema::new()
        .with(ColumnSchema::float("a"))
        .with(ColumnSchema::float("b").not_null());
    let r = validate(&s, stream(vec![batch(vec![("a", f64s(vec![Some(1.0)]))])])).unwrap();
    let v = only(&r);
    assert_eq!(v.column.as_deref(), Some("b"));
    assert_eq!(v.column_index, Some(1));
    assert_eq!(v.kind, ViolationKind::MissingColumn);
    assert_eq!(v.count, 1);
    assert!(v.example_rows.is_empty());
}

#[test]
fn violation_unexpected_column_only_when_denied() {
    let b = batch(vec![
        ("extra", f64s(vec![Some(1.0)])),
        ("a", f64s(vec![Some(1.0)])),
    ]);
    let lenient = TableSchema::new().with(ColumnSchema::float("a"));
    assert!(validate_batch(&lenient, &b, 0).is_valid());
    let strict = lenient.allow_extra_columns(false);
    let r = validate_batch(&strict, &b, 0);
    let v = only(&r);
    assert_eq!(v.column.as_deref(), Some("extra"));
    assert_eq!(v.column_index, Some(0));
    assert_eq!(v.kind, ViolationKind::UnexpectedColumn);
    assert_eq!(v.count, 1);
    assert!(v.example_rows.is_empty());
}

#[test]
fn violation_type_mismatch_and_int_for_float_rule() {
    let b = batch(vec![
        ("i", Arc::new(Int32Array::from(vec![1, 200])) as ArrayRef),
        ("f", f64s(vec![Some(1.0), Some(2.0)])),
        ("s", strs(vec![Some("x"), Some("y")])),
    ]);
    // Integer data where Float is declared: accepted, and range-checked as f64.
    let ok = TableSchema::new().with(ColumnSchema::float("i").range(0.0, 100.0));
    let r = validate_batch(&ok, &b, 0);
    let v = only(&r);
    assert_eq!(
        v.kind,
        ViolationKind::OutOfRange {
            min: 0.0,
            max: 100.0
        }
    );
    assert_eq!(v.example_rows, vec![1]);
    // Float data where Integer is declared, text where Float is declared: mismatches.
    let bad = TableSchema::new()
        .with(ColumnSchema::integer("f"))
        .with(ColumnSchema::float("s").range(0.0, 1.0));
    let r = validate_batch(&bad, &b, 0);
    assert_eq!(r.violations.len(), 2, "{r}");
    assert_eq!(r.violations[0].column.as_deref(), Some("f"));
    assert_eq!(
        r.violations[0].kind,
        ViolationKind::TypeMismatch {
            expected: ColumnKind::Integer,
            found: "Float64".into()
        }
    );
    assert_eq!(r.violations[0].count, 1);
    assert!(r.violations[0].example_rows.is_empty());
    assert_eq!(r.violations[1].column.as_deref(), Some("s"));
    assert_eq!(
        r.violations[1].kind,
        ViolationKind::TypeMismatch {
            expected: ColumnKind::Float,
            found: "Utf8".into()
        }
    );
}

#[test]
fn violation_null_not_allowed_across_batches() {
    let s = TableSchema::new().with(ColumnSchema::float("a").not_null());
    let b1 = batch(vec![("a", f64s(vec![Some(1.0), None, Some(2.0)]))]);
    let b2 = batch(vec![(
        "a",
        f64s(vec![None, None, Some(3.0), None, None, None, None]),
    )]);
    let r = validate(&s, stream(vec![b1, b2])).unwrap();
    let v = only(&r);
    assert_eq!(v.column.as_deref(), Some("a"));
    assert_eq!(v.kind, ViolationKind::NullNotAllowed);
    assert_eq!(v.count, 7);
    assert_eq!(v.example_rows, vec![1, 3, 4, 6, 7]);
    assert_eq!(r.rows, 10);
}

#[test]
fn violation_non_finite() {
    let b = batch(vec![(
        "a",
        f64s(vec![
            Some(1.0),
            Some(f64::NAN),
            None,
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
        ]),
    )]);
    let s = TableSchema::new().with(ColumnSchema::float("a").range(0.0, 10.0));
    let r = validate_batch(&s, &b, 100);
    let v = only(&r);
    assert_eq!(v.kind, ViolationKind::NonFinite);
    assert_eq!(v.count, 3);
    assert_eq!(v.example_rows, vec![101, 103, 104]);
    // Allowed non-finite values are neither reported nor range-checked.
    let allowed = TableSchema::new().with(
        ColumnSchema::float("a")
            .range(0.0, 10.0)
            .allow_non_finite(true),
    );
    assert!(validate_batch(&allowed, &b, 0).is_valid());
}

#[test]
fn violation_out_of_range() {
    let vals: Vec<Option<f64>> = (0..20).map(|i| Some(i as f64)).collect();
    let s = TableSchema::new().with(ColumnSchema::float("a").range(3.0, 10.0));
    let r = validate_batch(&s, &batch(vec![("a", f64s(vals))]), 0);
    let v = only(&r);
    assert_eq!(v.column.as_deref(), Some("a"));
    assert_eq!(
        v.kind,
        ViolationKind::OutOfRange {
            min: 3.0,
            max: 10.0
        }
    );
    assert_eq!(v.count, 3 + 9); // 0,1,2 and 11..=19; bounds are inclusive
    assert_eq!(v.example_rows, vec![0, 1, 2, 11, 12]);
    // Unsigned 64-bit data against an integer range.
    let u = batch(vec![(
        "u",
        Arc::new(UInt64Array::from(vec![5, u64::MAX])) as ArrayRef,
    )]);
    let s = TableSchema::new().with(ColumnSchema::integer("u").range(0.0, 10.0));
    let r = validate_batch(&s, &u, 0);
    assert_eq!(only(&r).example_rows, vec![1]);
}

#[test]
fn violation_unseen_category_plain_and_dictionary() {
    let s = TableSchema::new()
        .with(ColumnSchema::categorical("plan").categories(["basic", "pro"]))
        .with(ColumnSchema::categorical("region").categories(["eu"]));
    let plan = vec![
        Some("basic"),
        Some("x1"),
        None,
        Some("x2"),
        Some("x1"),
        Some("x3"),
        Some("x4"),
        Some("x5"),
        Some("x6"),
        Some("pro"),
    ];
    let region = vec![
        Some("eu"),
        Some("us"),
        Some("us"),
        None,
        Some("eu"),
        None,
        None,
        None,
        None,
        None,
    ];
    let b = batch(vec![("plan", strs(plan)), ("region", dict(region))]);
    let r = validate_batch(&s, &b, 0);
    assert_eq!(r.violations.len(), 2, "{r}");
    let p = &r.violations[0];
    assert_eq!(p.column.as_deref(), Some("plan"));
    assert_eq!(
        p.kind,
        ViolationKind::UnseenCategory {
            examples: vec![
                "x1".into(),
                "x2".into(),
                "x3".into(),
                "x4".into(),
                "x5".into()
            ]
        }
    );
    assert_eq!(p.count, 7);
    assert_eq!(p.example_rows, vec![1, 3, 4, 5, 6]);
    let g = &r.violations[1];
    assert_eq!(g.column.as_deref(), Some("region"));
    assert_eq!(
        g.kind,
        ViolationKind::UnseenCategory {
            examples: vec!["us".into()]
        }
    );
    assert_eq!(g.count, 2);
    assert_eq!(g.example_rows, vec![1, 2]);
}

#[test]
fn violation_empty_table() {
    let s = TableSchema::new().with(ColumnSchema::float("a").not_null());
    let r = validate(&s, stream(vec![batch(vec![("a", f64s(vec![]))])])).unwrap();
    let v = only(&r);
    assert_eq!(v.column, None);
    assert_eq!(v.column_index, None);
    assert_eq!(v.kind, ViolationKind::EmptyTable);
    assert_eq!(v.count, 1);
    assert!(v.example_rows.is_empty());
    assert_eq!(r.rows, 0);
    // A stream with no batch at all is empty too.
    let none = BatchStream::from_batches(
        Arc::new(Schema::new(vec![Field::new("a", DataType::Float64, true)])),
        vec![],
    );
    assert_eq!(
        only(&validate(&s, none).unwrap()).kind,
        ViolationKind::EmptyTable
    );
}

// ---- other behaviour -----------------------------------------------------------------------

#[test]
fn other_text_encodings_and_null_type() {
    let s = TableSchema::new()
        .with(ColumnSchema::categorical("l").categories(["a"]))
        .with(ColumnSchema::categorical("v").categories(["a"]))
        .with(ColumnSchema::float("nothing").not_null());
    let b = batch(vec![
        (
            "l",
            Arc::new(LargeStringArray::from(vec!["a", "b"])) as ArrayRef,
        ),
        (
            "v",
            Arc::new(StringViewArray::from(vec!["c", "a"])) as ArrayRef,
        ),
        ("nothing", Arc::new(NullArray::new(2)) as ArrayRef),
    ]);
    let r = validate_batch(&s, &b, 0);
    let got: Vec<(&str, u64, Vec<u64>)> = r
        .violations
        .iter()
        .map(|v| {
            (
                v.column.as_deref().unwrap(),
                v.count,
                v.example_rows.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("l", 1, vec![1]),
            ("v", 1, vec![0]),
            ("nothing", 2, vec![0, 1])
        ]
    );
    assert_eq!(r.violations[2].kind, ViolationKind::NullNotAllowed);
}

#[test]
fn deterministic_order_and_display() {
    let s = TableSchema::new()
        .with(
            ColumnSchema::categorical("plan")
                .categories(["a"])
                .not_null(),
        )
        .with(ColumnSchema::float("gone"))
        .with(ColumnSchema::float("x").range(0.0, 1.0).not_null())
        .allow_extra_columns(false);
    let b = batch(vec![
        ("zzz", f64s(vec![Some(0.0), Some(0.0)])),
        ("x", f64s(vec![Some(5.0), None])),
        ("plan", strs(vec![None, Some("b")])),
    ]);
    let r = validate_batch(&s, &b, 0);
    let order: Vec<(Option<&str>, u8)> = r
        .violations
        .iter()
        .map(|v| (v.column.as_deref(), v.kind.rank()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Some("plan"), 3),
            (Some("plan"), 6),
            (Some("gone"), 1),
            (Some("x"), 3),
            (Some("x"), 5),
            (Some("zzz"), 7),
        ]
    );
    let text = r.to_string();
    assert!(text.starts_with("2 rows checked: 6 violations"), "{text}");
    assert!(
        text.contains("column \"x\": value outside [0, 1] in 1 row (row 0)"),
        "{text}"
    );
    assert!(text.contains("column \"gone\": missing column"), "{text}");
    assert!(text.contains("unseen category (\"b\")"), "{text}");
    assert_eq!(
        ValidationReport {
            rows: 1,
            violations: vec![]
        }
        .to_string(),
        "1 row checked: valid"
    );
    // JSON round trip of the report.
    let json = serde_json::to_string(&r).unwrap();
    let back: ValidationReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert!(json.contains("\"type\":\"unseen_category\""), "{json}");
}

#[test]
fn merged_batch_reports_equal_stream_report() {
    let s = TableSchema::new()
        .with(ColumnSchema::float("age").range(0.0, 50.0).not_null())
        .with(ColumnSchema::integer("n").range(0.0, 10.0))
        .with(ColumnSchema::categorical("plan").categories(["basic"]))
        .with(ColumnSchema::categorical("region").categories(["eu"]))
        .with(ColumnSchema::boolean("flag").not_null())
        .with(ColumnSchema::float("missing"));
    let batches = mixed_batches();
    let whole = validate(&s, stream(batches.clone())).unwrap();
    let mut merged = ValidationReport::default();
    let mut offset = 0;
    for b in &batches {
        merged.merge(validate_batch(&s, b, offset));
        offset += b.num_rows() as u64;
    }
    assert_eq!(merged, whole);
    assert!(!whole.is_valid());
    // An empty batch merged into a non-empty report does not leave an EmptyTable behind.
    let empty = batches[0].slice(0, 0);
    merged.merge(validate_batch(&s, &empty, offset));
    assert_eq!(merged, whole);
}

#[test]
fn sliced_batches_report_global_rows() {
    let n = 40;
    let vals: Vec<Option<f64>> = (0..n)
        .map(|k| match k % 7 {
            0 => None,
            3 => Some(f64::NAN),
            _ => Some(k as f64),
        })
        .collect();
    let cats: Vec<Option<&str>> = (0..n)
        .map(|k| Some(if k % 5 == 4 { "new" } else { "old" }))
        .collect();
    let whole = batch(vec![("x", f64s(vals)), ("c", dict(cats))]);
    let s = TableSchema::new()
        .with(ColumnSchema::float("x").range(0.0, 30.0).not_null())
        .with(ColumnSchema::categorical("c").categories(["old"]));
    let expected = validate_batch(&s, &whole, 0);
    for points in [vec![1, 2, 3], vec![13, 14, 29], vec![39]] {
        let mut parts = Vec::new();
        let mut start = 0;
        for &p in points.iter().chain(std::iter::once(&n)) {
            parts.push(whole.slice(start, p - start));
            start = p;
        }
        assert_eq!(validate(&s, stream(parts)).unwrap(), expected);
    }
    let nulls = expected.for_column("x").next().unwrap();
    assert_eq!(
        (nulls.count, nulls.example_rows.clone()),
        (6, vec![0, 7, 14, 21, 28])
    );
    let kinds: Vec<u8> = expected.violations.iter().map(|v| v.kind.rank()).collect();
    assert_eq!(kinds, vec![3, 4, 5, 6]);
}

#[test]
fn batch_schema_mismatch_is_an_error() {
    let a = batch(vec![("a", f64s(vec![Some(1.0)]))]);
    let b = batch(vec![("a", strs(vec![Some("x")]))]);
    let st = BatchStream::new(a.schema(), vec![Ok(a), Ok(b)].into_iter());
    let s = TableSchema::new().with(ColumnSchema::float("a"));
    assert!(matches!(
        validate(&s, st),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn types_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<TableSchema>();
    check::<ValidationReport>();
    check::<InferOptions>();
}
