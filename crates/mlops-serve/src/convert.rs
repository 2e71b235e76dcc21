//! Arrow rows to request [`Record`]s, for replaying tables through the single-row path (tests,
//! examples, shadow traffic from files).

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;

use crate::error::{Result, ServeError};
use crate::value::{Record, Value};

/// One [`Record`] per row of `batch`: floats as [`Value::Float`], integers as [`Value::Int`],
/// booleans as [`Value::Bool`], text and dictionaries of text as [`Value::Str`], nulls as
/// [`Value::Null`].
///
/// # Errors
/// [`ServeError::WrongType`] naming a column whose type has no request value (lists, structs,
/// binary, ...), or an integer column with values beyond `i64`.
pub fn records_from_batch(batch: &RecordBatch) -> Result<Vec<Record>> {
    let mut records = vec![Record::new(); batch.num_rows()];
    let schema = batch.schema();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name();
        let wrong = |found: &DataType| ServeError::WrongType {
            column: name.clone(),
            expected: "a float, integer, boolean or text column".to_string(),
            found: found.to_string(),
        };
        let cast =
            |to: &DataType| arrow_cast::cast(array, to).map_err(|_| wrong(array.data_type()));
        let dt = array.data_type();
        let values: Vec<Value> = if dt.is_floating() {
            let a = cast(&DataType::Float64)?;
            let a = a
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| wrong(dt))?;
            cells(a, |i| Value::Float(a.value(i)))
        } else if dt.is_integer() {
            let a = cast(&DataType::Int64)?;
            let a = a
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| wrong(dt))?;
            if a.null_count() > array.null_count() {
                return Err(wrong(dt)); // values that overflowed i64 became nulls
            }
            cells(a, |i| Value::Int(a.value(i)))
        } else if matches!(dt, DataType::Boolean) {
            let a = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| wrong(dt))?;
            cells(a, |i| Value::Bool(a.value(i)))
        } else if matches!(
            dt,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) || matches!(dt, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8))
        {
            let a = cast(&DataType::Utf8)?;
            let a = a
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| wrong(dt))?;
            cells(a, |i| Value::Str(a.value(i).to_string()))
        } else {
            return Err(wrong(dt));
        };
        for (record, value) in records.iter_mut().zip(values) {
            record.insert(name.clone(), value);
        }
    }
    Ok(records)
}

/// One value per row of `array`: `Value::Null` for nulls, `value(i)` otherwise.
fn cells(array: &dyn Array, value: impl Fn(usize) -> Value) -> Vec<Value> {
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                Value::Null
            } else {
                value(i)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, Int32Array};

    #[test]
    fn rows_become_records_and_unsupported_types_are_named() {
        let batch = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Float64Array::from(vec![Some(1.5), None])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int32Array::from(vec![Some(3), Some(-4)])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("gold"), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let r = records_from_batch(&batch).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].get("x"), Some(&Value::Float(1.5)));
        assert_eq!(r[1].get("x"), Some(&Value::Null));
        assert_eq!(r[1].get("n"), Some(&Value::Int(-4)));
        assert_eq!(r[0].get("b"), Some(&Value::Bool(true)));
        assert_eq!(r[0].get("s"), Some(&Value::Str("gold".into())));
        let bad = RecordBatch::try_from_iter([(
            "blob",
            Arc::new(BinaryArray::from(vec![b"x".as_ref()])) as ArrayRef,
        )])
        .unwrap();
        match records_from_batch(&bad) {
            Err(ServeError::WrongType { column, .. }) => assert_eq!(column, "blob"),
            other => panic!("{other:?}"),
        }
    }
}
