//! Uniform read access to the Arrow column types the schema and fingerprint modules support.
//!
//! Every accessor here checks types with the `_opt` casts and bounds with `get`, so malformed or
//! unexpected arrays are reported as "not this kind" instead of panicking.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, BooleanArray, LargeStringArray, StringArray, StringViewArray};
use arrow_schema::DataType;

/// True for the text types a categorical column may hold directly or as dictionary values.
pub(crate) fn is_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// True for `Dictionary(_, text)`.
pub(crate) fn is_text_dictionary(dt: &DataType) -> bool {
    matches!(dt, DataType::Dictionary(_, v) if is_text(v))
}

/// A plain (non-dictionary) text array.
#[derive(Clone, Copy)]
enum TextValues<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> TextValues<'a> {
    fn new(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => array.as_string_opt::<i32>().map(Self::Utf8),
            DataType::LargeUtf8 => array.as_string_opt::<i64>().map(Self::Large),
            DataType::Utf8View => array.as_string_view_opt().map(Self::View),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Utf8(a) => a.len(),
            Self::Large(a) => a.len(),
            Self::View(a) => a.len(),
        }
    }

    /// The value at `i`, which the caller has checked is `< len()`.
    fn value(&self, i: usize) -> &'a str {
        match self {
            Self::Utf8(a) => a.value(i),
            Self::Large(a) => a.value(i),
            Self::View(a) => a.value(i),
        }
    }
}

/// A text column (plain or dictionary-encoded) read row by row.
pub(crate) struct TextColumn<'a> {
    values: TextValues<'a>,
    /// Dictionary keys normalised to indices into `values`; `None` for plain arrays.
    keys: Option<Vec<usize>>,
    /// Logical validity as a boolean array (true = valid); for dictionaries it includes nulls
    /// among the values. `None` when every row is valid.
    validity: Option<BooleanArray>,
    len: usize,
}

/// The logical validity of `array` as a zero-copy [`BooleanArray`] (true = valid), or `None`
/// when no row is null.
pub(crate) fn logical_validity(array: &dyn Array) -> Option<BooleanArray> {
    array
        .logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| BooleanArray::new(n.into_inner(), None))
}

impl<'a> TextColumn<'a> {
    /// `None` when `array` is not a text or text-dictionary array.
    pub(crate) fn new(array: &'a dyn Array) -> Option<Self> {
        let len = array.len();
        if let Some(values) = TextValues::new(array) {
            return Some(Self {
                values,
                keys: None,
                validity: logical_validity(array),
                len,
            });
        }
        let dict = array.as_any_dictionary_opt()?;
        let values = TextValues::new(dict.values().as_ref())?;
        let keys = if values.len() == 0 {
            // Only possible when every row is null; normalized_keys would panic.
            Vec::new()
        } else {
            dict.normalized_keys()
        };
        Some(Self {
            values,
            keys: Some(keys),
            validity: logical_validity(array),
            len,
        })
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value of row `i`, `None` for a null (or an out-of-bounds row).
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.len {
            return None;
        }
        if let Some(v) = &self.validity
            && !v.value(i)
        {
            return None;
        }
        let idx = match &self.keys {
            None => i,
            Some(keys) => *keys.get(i)?,
        };
        (idx < self.values.len()).then(|| self.values.value(idx))
    }
}

/// Calls `f(row, value)` for every non-null value of a numeric column, converted to `f64`.
/// Returns `false` (and calls nothing) when `array` is not an integer or float array.
pub(crate) fn for_each_f64(array: &dyn Array, mut f: impl FnMut(usize, f64)) -> bool {
    macro_rules! visit {
        ($t:ty, $conv:expr) => {{
            let Some(a) = array.as_primitive_opt::<$t>() else {
                return false;
            };
            let conv = $conv;
            match a.nulls() {
                None => {
                    for (i, v) in a.values().iter().enumerate() {
                        f(i, conv(*v));
                    }
                }
                Some(n) => {
                    for (i, v) in a.values().iter().enumerate() {
                        if n.is_valid(i) {
                            f(i, conv(*v));
                        }
                    }
                }
            }
            true
        }};
    }
    match array.data_type() {
        DataType::Int8 => visit!(Int8Type, |v: i8| f64::from(v)),
        DataType::Int16 => visit!(Int16Type, |v: i16| f64::from(v)),
        DataType::Int32 => visit!(Int32Type, |v: i32| f64::from(v)),
        DataType::Int64 => visit!(Int64Type, |v: i64| v as f64),
        DataType::UInt8 => visit!(UInt8Type, |v: u8| f64::from(v)),
        DataType::UInt16 => visit!(UInt16Type, |v: u16| f64::from(v)),
        DataType::UInt32 => visit!(UInt32Type, |v: u32| f64::from(v)),
        DataType::UInt64 => visit!(UInt64Type, |v: u64| v as f64),
        DataType::Float16 => visit!(
            Float16Type,
            |v: <Float16Type as arrow_array::ArrowPrimitiveType>::Native| v.to_f64()
        ),
        DataType::Float32 => visit!(Float32Type, |v: f32| f64::from(v)),
        DataType::Float64 => visit!(Float64Type, |v: f64| v),
        _ => false,
    }
}
