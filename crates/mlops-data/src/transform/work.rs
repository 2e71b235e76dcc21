//! The in-memory working representation of a column group while it is fitted or transformed,
//! and the conversion from Arrow arrays into it.
//!
//! Numeric columns are `Vec<f64>`; a missing value is a NaN. Arrow nulls use a NaN with a
//! private payload ([`NULL_BITS`]) so errors can tell a null from a NaN; steps never compute on
//! missing values, so the payload survives. Categorical columns are dictionary-encoded: a
//! per-batch dictionary of (usually borrowed) strings and one `u32` code per row, [`MISSING`] for
//! a missing value. One-hot output stays compact (one code per row) until it is written into the
//! output matrix.

use std::borrow::Cow;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use ndarray::ArrayViewMut2;

use super::ColumnKind;
use crate::{Error, Result};

/// Code of a missing categorical value.
pub(crate) const MISSING: u32 = u32::MAX;
/// One-hot code of a row with no active column (all zeros).
pub(crate) const NONE: u32 = u32::MAX;
/// Bit pattern of the quiet NaN that marks an Arrow null in a numeric working column.
const NULL_BITS: u64 = 0x7ff8_0000_4e55_4c4c;

/// The NaN that marks an Arrow null.
pub(crate) fn null_f64() -> f64 {
    f64::from_bits(NULL_BITS)
}

/// The error for a missing numeric value found where a value is needed.
pub(crate) fn missing_numeric(column: &str, row: u64, value: f64) -> Error {
    if value.to_bits() == NULL_BITS {
        Error::NullValue {
            column: column.to_string(),
            row,
        }
    } else {
        Error::NonFinite {
            column: column.to_string(),
            row,
            value,
        }
    }
}

/// One column of a group while it is processed.
#[derive(Debug, Clone)]
pub(crate) enum WorkCol<'a> {
    /// Numbers; NaN = missing.
    Num { name: String, values: Vec<f64> },
    /// Dictionary-encoded categories; [`MISSING`] = missing.
    Cat {
        name: String,
        dict: Vec<Cow<'a, str>>,
        codes: Vec<u32>,
    },
    /// One-hot block: `names.len()` output columns; per row the active column or [`NONE`].
    OneHot { names: Vec<String>, codes: Vec<u32> },
}

impl WorkCol<'_> {
    /// Number of output columns.
    pub(crate) fn width(&self) -> usize {
        match self {
            Self::OneHot { names, .. } => names.len(),
            _ => 1,
        }
    }
    /// Name of a single column, or of the block's first column.
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Num { name, .. } | Self::Cat { name, .. } => name,
            Self::OneHot { names, .. } => names.first().map_or("", String::as_str),
        }
    }
}

/// The columns of one group.
#[derive(Debug, Clone)]
pub(crate) struct WorkSet<'a> {
    pub(crate) cols: Vec<WorkCol<'a>>,
    /// Row number of the first row, for error messages.
    pub(crate) row_offset: u64,
    /// Threads a step may share its columns among (each column by one thread).
    pub(crate) threads: usize,
}

impl WorkSet<'_> {
    /// Expands one-hot blocks into numeric 0/1 columns (needed by numeric and selection steps).
    pub(crate) fn materialise_one_hot(&mut self) {
        if !self
            .cols
            .iter()
            .any(|c| matches!(c, WorkCol::OneHot { .. }))
        {
            return;
        }
        let cols = std::mem::take(&mut self.cols);
        for col in cols {
            match col {
                WorkCol::OneHot { names, codes } => {
                    for (j, name) in names.into_iter().enumerate() {
                        let j = j as u32;
                        let values = codes
                            .iter()
                            .map(|&c| if c == j { 1.0 } else { 0.0 })
                            .collect();
                        self.cols.push(WorkCol::Num { name, values });
                    }
                }
                other => self.cols.push(other),
            }
        }
    }

    /// All output names, one-hot blocks expanded.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.cols {
            match c {
                WorkCol::Num { name, .. } | WorkCol::Cat { name, .. } => out.push(name.clone()),
                WorkCol::OneHot { names, .. } => out.extend(names.iter().cloned()),
            }
        }
        out
    }

    /// Total output width.
    pub(crate) fn width(&self) -> usize {
        self.cols.iter().map(WorkCol::width).sum()
    }

    /// Checks that the group's output is numeric and has no missing values; returns its names.
    pub(crate) fn check_output(&self) -> Result<Vec<String>> {
        for col in &self.cols {
            match col {
                WorkCol::Num { name, values } => {
                    if let Some(i) = values.iter().position(|v| v.is_nan()) {
                        return Err(missing_numeric(
                            name,
                            self.row_offset + i as u64,
                            values.get(i).copied().unwrap_or(f64::NAN),
                        ));
                    }
                }
                WorkCol::Cat { name, .. } => return Err(categorical_output(name)),
                WorkCol::OneHot { .. } => {}
            }
        }
        Ok(self.names())
    }

    /// Writes the group's output into `out` (rows × width, zero-filled), checking as
    /// [`WorkSet::check_output`] does.
    pub(crate) fn write_output(&self, out: &mut ArrayViewMut2<'_, f64>) -> Result<()> {
        if out.ncols() != self.width() {
            return Err(Error::Incompatible(format!(
                "group produced {} column(s) but the fitted pipeline expects {}",
                self.width(),
                out.ncols()
            )));
        }
        let nrows = out.nrows();
        // Missing values are looked for while writing; only when one was seen (or the group is
        // malformed) are the columns checked one by one, in order, for the error to report.
        let Ok(srcs) = self.output_sources(nrows, false) else {
            return self.output_sources(nrows, true).map(|_| ());
        };
        let mut missing = false;
        // Row-major fill: one pass over the output, reading the column sources in parallel.
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            match row.as_slice_mut() {
                Some(r) => {
                    let mut off = 0;
                    for src in &srcs {
                        match *src {
                            Src::Num(v) => {
                                if let (Some(d), Some(&x)) = (r.get_mut(off), v.get(i)) {
                                    *d = x;
                                    missing |= x.is_nan();
                                }
                                off += 1;
                            }
                            Src::OneHot(codes, w) => {
                                if let Some(&c) = codes.get(i)
                                    && (c as usize) < w
                                    && let Some(d) = r.get_mut(off + c as usize)
                                {
                                    *d = 1.0;
                                }
                                off += w;
                            }
                        }
                    }
                }
                None => {
                    let mut off = 0;
                    for src in &srcs {
                        match *src {
                            Src::Num(v) => {
                                if let (Some(d), Some(&x)) = (row.get_mut(off), v.get(i)) {
                                    *d = x;
                                    missing |= x.is_nan();
                                }
                                off += 1;
                            }
                            Src::OneHot(codes, w) => {
                                if let Some(&c) = codes.get(i)
                                    && (c as usize) < w
                                    && let Some(d) = row.get_mut(off + c as usize)
                                {
                                    *d = 1.0;
                                }
                                off += w;
                            }
                        }
                    }
                }
            }
        }
        if missing {
            return self.output_sources(nrows, true).map(|_| ());
        }
        Ok(())
    }
}

impl WorkSet<'_> {
    /// The group's columns as output sources; with `scan_missing`, the first missing value (in
    /// column order, then row order) is an error.
    fn output_sources(&self, nrows: usize, scan_missing: bool) -> Result<Vec<Src<'_>>> {
        let mut srcs = Vec::with_capacity(self.cols.len());
        for col in &self.cols {
            match col {
                WorkCol::Num { name, values } => {
                    if values.len() != nrows {
                        return Err(row_count_error(name, values.len(), nrows));
                    }
                    if scan_missing && let Some(i) = values.iter().position(|v| v.is_nan()) {
                        let v = values.get(i).copied().unwrap_or(f64::NAN);
                        return Err(missing_numeric(name, self.row_offset + i as u64, v));
                    }
                    srcs.push(Src::Num(values));
                }
                WorkCol::Cat { name, .. } => return Err(categorical_output(name)),
                WorkCol::OneHot { names, codes } => {
                    if codes.len() != nrows {
                        return Err(row_count_error(col.name(), codes.len(), nrows));
                    }
                    srcs.push(Src::OneHot(codes, names.len()));
                }
            }
        }
        Ok(srcs)
    }
}

/// A source of output columns while writing a group.
enum Src<'s> {
    Num(&'s [f64]),
    OneHot(&'s [u32], usize),
}

fn categorical_output(name: &str) -> Error {
    Error::TypeMismatch {
        column: name.to_string(),
        expected: "numeric output (add an encoder step to the group)".to_string(),
        found: "categorical".to_string(),
    }
}

fn row_count_error(name: &str, found: usize, expected: usize) -> Error {
    Error::Incompatible(format!(
        "column {name:?} has {found} row(s) in a batch of {expected}"
    ))
}

/// The error for a step that needs another column kind.
pub(crate) fn kind_error(column: &str, step: &str, expected: ColumnKind, found: &str) -> Error {
    Error::TypeMismatch {
        column: column.to_string(),
        expected: match expected {
            ColumnKind::Numeric => format!("numeric column for {step}"),
            ColumnKind::Categorical => format!("categorical column for {step}"),
        },
        found: found.to_string(),
    }
}

/// The kind of an Arrow data type.
pub(crate) fn kind_of(dt: &DataType) -> Option<ColumnKind> {
    match dt {
        dt if dt.is_integer() || dt.is_floating() => Some(ColumnKind::Numeric),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
            Some(ColumnKind::Categorical)
        }
        DataType::Dictionary(_, v) => match v.as_ref() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Some(ColumnKind::Categorical)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Checks that a column has the expected kind.
pub(crate) fn expect_kind(column: &str, dt: &DataType, expected: ColumnKind) -> Result<()> {
    match kind_of(dt) {
        Some(k) if k == expected => Ok(()),
        _ => Err(Error::TypeMismatch {
            column: column.to_string(),
            expected: match expected {
                ColumnKind::Numeric => "numeric (Int*, UInt* or Float*)".to_string(),
                ColumnKind::Categorical => {
                    "categorical (Utf8, LargeUtf8, Utf8View, Boolean or Dictionary of strings)"
                        .to_string()
                }
            },
            found: dt.to_string(),
        }),
    }
}

/// Appends a numeric Arrow array to `out` as f64 (nulls → null NaN, NaN kept as missing);
/// infinite values are an error naming the column and row.
pub(crate) fn append_numeric(
    array: &ArrayRef,
    column: &str,
    row_offset: u64,
    out: &mut Vec<f64>,
) -> Result<()> {
    let start = out.len();
    out.reserve(array.len());
    let nulls = array.logical_nulls();
    macro_rules! push {
        ($t:ty, $conv:expr) => {{
            let a = array.as_primitive::<$t>();
            out.extend(a.values().iter().map($conv).map(canon));
            if let Some(nb) = nulls.as_ref().filter(|nb| nb.null_count() > 0) {
                let new = out.get_mut(start..).unwrap_or_default();
                for (slot, valid) in new.iter_mut().zip(nb.iter()) {
                    if !valid {
                        *slot = null_f64();
                    }
                }
            }
        }};
    }
    match array.data_type() {
        DataType::Float64 => push!(Float64Type, |v| *v),
        DataType::Float32 => push!(Float32Type, |v| f64::from(*v)),
        DataType::Float16 => push!(Float16Type, |v| f64::from(*v)),
        DataType::Int8 => push!(Int8Type, |v| f64::from(*v)),
        DataType::Int16 => push!(Int16Type, |v| f64::from(*v)),
        DataType::Int32 => push!(Int32Type, |v| f64::from(*v)),
        DataType::Int64 => push!(Int64Type, |v| *v as f64),
        DataType::UInt8 => push!(UInt8Type, |v| f64::from(*v)),
        DataType::UInt16 => push!(UInt16Type, |v| f64::from(*v)),
        DataType::UInt32 => push!(UInt32Type, |v| f64::from(*v)),
        DataType::UInt64 => push!(UInt64Type, |v| *v as f64),
        other => {
            return Err(Error::TypeMismatch {
                column: column.to_string(),
                expected: "numeric (Int*, UInt* or Float*)".to_string(),
                found: other.to_string(),
            });
        }
    }
    let new = out.get(start..).unwrap_or(&[]);
    if let Some(i) = new.iter().position(|v| v.is_infinite()) {
        return Err(Error::NonFinite {
            column: column.to_string(),
            row: row_offset + i as u64,
            value: new.get(i).copied().unwrap_or(f64::INFINITY),
        });
    }
    Ok(())
}

/// Canonicalises data NaNs so none can carry the null payload.
fn canon(v: f64) -> f64 {
    if v.is_nan() { f64::NAN } else { v }
}

/// A dictionary-encoded categorical column: distinct strings and one code per row.
pub(crate) type Encoded<'a> = (Vec<Cow<'a, str>>, Vec<u32>);

/// Dictionary-encodes a categorical Arrow array, borrowing its strings.
pub(crate) fn encode_categorical<'a>(array: &'a ArrayRef, column: &str) -> Result<Encoded<'a>> {
    encode_dyn(array.as_ref(), column)
}

fn encode_dyn<'a>(array: &'a dyn Array, column: &str) -> Result<Encoded<'a>> {
    match array.data_type() {
        DataType::Utf8 => from_strs(array.len(), array.as_string::<i32>().iter(), column),
        DataType::LargeUtf8 => from_strs(array.len(), array.as_string::<i64>().iter(), column),
        DataType::Utf8View => from_strs(array.len(), array.as_string_view().iter(), column),
        DataType::Boolean => {
            let dict = vec![Cow::Borrowed("false"), Cow::Borrowed("true")];
            let codes = array
                .as_boolean()
                .iter()
                .map(|v| match v {
                    None => MISSING,
                    Some(false) => 0,
                    Some(true) => 1,
                })
                .collect();
            Ok((dict, codes))
        }
        DataType::Dictionary(_, _) => {
            let Some(d) = array.as_any_dictionary_opt() else {
                return Err(unsupported(column, array.data_type()));
            };
            let (dict, value_codes) = encode_dyn(d.values().as_ref(), column)?;
            let keys = d.keys();
            let codes = if value_codes.is_empty() {
                vec![MISSING; array.len()]
            } else {
                let key_nulls = keys.logical_nulls();
                d.normalized_keys()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| {
                        if key_nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                            MISSING
                        } else {
                            value_codes.get(k).copied().unwrap_or(MISSING)
                        }
                    })
                    .collect()
            };
            Ok((dict, codes))
        }
        other => Err(unsupported(column, other)),
    }
}

fn unsupported(column: &str, dt: &DataType) -> Error {
    Error::TypeMismatch {
        column: column.to_string(),
        expected: "categorical (Utf8, LargeUtf8, Utf8View, Boolean or Dictionary of strings)"
            .to_string(),
        found: dt.to_string(),
    }
}

fn too_many_categories(column: &str) -> Error {
    Error::Incompatible(format!(
        "column {column:?} has more than {} distinct categories",
        MISSING - 1
    ))
}

/// Dictionaries up to this size are searched linearly (faster than hashing for the usual
/// low-cardinality categorical column); larger ones switch to a hash map.
const SMALL_DICT: usize = 16;

fn from_strs<'a>(
    len: usize,
    iter: impl Iterator<Item = Option<&'a str>>,
    column: &str,
) -> Result<Encoded<'a>> {
    let mut map: HashMap<&'a str, u32> = HashMap::new();
    let mut strs: Vec<&'a str> = Vec::new();
    // Small dictionaries: compare a cheap key (length + first 8 bytes) before the strings.
    let mut keys: Vec<(usize, u64)> = Vec::new();
    let mut codes = Vec::with_capacity(len);
    for v in iter {
        let code = match v {
            None => MISSING,
            Some(s) => {
                let found = if strs.len() <= SMALL_DICT {
                    let key = short_key(s);
                    // Branch-free scan (random categories defeat branch prediction); the key is
                    // exact up to 8 bytes, longer strings are confirmed.
                    let mut hit = usize::MAX;
                    for (i, &k) in keys.iter().enumerate() {
                        hit = if k == key { i } else { hit };
                    }
                    match strs.get(hit) {
                        Some(&d) if s.len() <= 8 || d == s => Some(hit as u32),
                        Some(_) => keys
                            .iter()
                            .zip(&strs)
                            .position(|(&k, &d)| k == key && d == s)
                            .map(|p| p as u32),
                        None => None,
                    }
                } else {
                    map.get(s).copied()
                };
                match found {
                    Some(c) => c,
                    None => {
                        let c = u32::try_from(strs.len())
                            .ok()
                            .filter(|&c| c < MISSING - 1)
                            .ok_or_else(|| too_many_categories(column))?;
                        strs.push(s);
                        keys.push(short_key(s));
                        if strs.len() > SMALL_DICT {
                            if map.is_empty() {
                                map.extend(strs.iter().enumerate().map(|(i, &d)| (d, i as u32)));
                            } else {
                                map.insert(s, c);
                            }
                        }
                        c
                    }
                }
            }
        };
        codes.push(code);
    }
    Ok((strs.into_iter().map(Cow::Borrowed).collect(), codes))
}

/// Length plus a 64-bit digest of the bytes that is exact for strings of up to 8 bytes (equal
/// keys of such strings mean equal strings) and holds the first 8 bytes of longer ones.
/// Branch-light fixed-size loads: this runs once per row.
fn short_key(s: &str) -> (usize, u64) {
    let b = s.as_bytes();
    let word = |c: &[u8; 4]| u64::from(u32::from_le_bytes(*c));
    let prefix = if let Some(head) = b.first_chunk::<8>() {
        u64::from_le_bytes(*head)
    } else if let (Some(head), Some(tail)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        // 4..=7 bytes: the first and last four overlap and cover every byte.
        word(head) | (word(tail) << 32)
    } else {
        // 0..=3 bytes: first, middle and last cover every byte.
        let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        at(0) | (at(b.len() / 2) << 8) | (at(b.len().saturating_sub(1)) << 16)
    };
    (b.len(), prefix)
}

/// Accumulates a categorical column over many batches into one owned dictionary.
#[derive(Debug, Default)]
pub(crate) struct CategoricalBuilder {
    index: HashMap<String, u32>,
    dict: Vec<Cow<'static, str>>,
    codes: Vec<u32>,
}

impl CategoricalBuilder {
    /// Appends one batch's array.
    pub(crate) fn append(&mut self, array: &ArrayRef, column: &str) -> Result<()> {
        let (local, codes) = encode_categorical(array, column)?;
        let mut remap = Vec::with_capacity(local.len());
        for s in local {
            let code = match self.index.get(s.as_ref()) {
                Some(&c) => c,
                None => {
                    let c = u32::try_from(self.dict.len())
                        .ok()
                        .filter(|&c| c < MISSING - 1)
                        .ok_or_else(|| too_many_categories(column))?;
                    self.index.insert(s.to_string(), c);
                    self.dict.push(Cow::Owned(s.into_owned()));
                    c
                }
            };
            remap.push(code);
        }
        self.codes.extend(
            codes
                .into_iter()
                .map(|c| remap.get(c as usize).copied().unwrap_or(MISSING)),
        );
        Ok(())
    }

    /// The accumulated dictionary and codes.
    pub(crate) fn finish(self) -> Encoded<'static> {
        (self.dict, self.codes)
    }
}

/// Counts how often each dictionary entry occurs; errors on the first missing value.
pub(crate) fn count_codes(
    name: &str,
    dict_len: usize,
    codes: &[u32],
    row_offset: u64,
) -> Result<Vec<u64>> {
    let mut counts = vec![0u64; dict_len];
    for (i, &c) in codes.iter().enumerate() {
        match counts.get_mut(c as usize) {
            Some(n) => *n += 1,
            None => {
                return Err(Error::NullValue {
                    column: name.to_string(),
                    row: row_offset + i as u64,
                });
            }
        }
    }
    Ok(counts)
}

/// Sorted distinct categories that occur at least once, with their counts, merging duplicate
/// dictionary entries.
pub(crate) fn sorted_categories(dict: &[Cow<'_, str>], counts: &[u64]) -> Vec<(String, u64)> {
    let mut merged: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (s, &n) in dict.iter().zip(counts) {
        if n > 0 {
            *merged.entry(s.as_ref()).or_insert(0) += n;
        }
    }
    merged
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, DictionaryArray, Float64Array, Int32Array, StringArray, types::Int8Type,
    };

    use super::*;

    #[test]
    fn numeric_nulls_and_nans_are_missing_and_distinguishable() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(f64::NAN)]));
        let mut out = Vec::new();
        append_numeric(&a, "x", 10, &mut out).unwrap();
        assert_eq!(out[0], 1.0);
        assert!(matches!(
            missing_numeric("x", 11, out[1]),
            Error::NullValue { row: 11, .. }
        ));
        assert!(matches!(
            missing_numeric("x", 12, out[2]),
            Error::NonFinite { row: 12, .. }
        ));
    }

    #[test]
    fn infinity_is_rejected_with_row() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![1.0, f64::NEG_INFINITY]));
        let err = append_numeric(&a, "x", 5, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, Error::NonFinite { ref column, row: 6, value } if column == "x" && value == f64::NEG_INFINITY)
        );
    }

    #[test]
    fn ints_convert() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(-3), None]));
        let mut out = Vec::new();
        append_numeric(&a, "x", 0, &mut out).unwrap();
        assert_eq!(out[0], -3.0);
        assert_eq!(out[1].to_bits(), NULL_BITS);
    }

    #[test]
    fn categorical_encodings_agree() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            None,
            Some("a"),
            Some("b"),
        ]));
        let (dict, codes) = encode_categorical(&s, "c").unwrap();
        assert_eq!(dict, vec!["b", "a"]);
        assert_eq!(codes, vec![0, MISSING, 1, 0]);

        let d: DictionaryArray<Int8Type> = vec![Some("b"), None, Some("a"), Some("b")]
            .into_iter()
            .collect();
        let d: ArrayRef = Arc::new(d);
        let (dict, codes) = encode_categorical(&d, "c").unwrap();
        let strs: Vec<Option<&str>> = codes
            .iter()
            .map(|&c| dict.get(c as usize).map(|s| s.as_ref()))
            .collect();
        assert_eq!(strs, vec![Some("b"), None, Some("a"), Some("b")]);

        let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)]));
        let (dict, codes) = encode_categorical(&b, "c").unwrap();
        assert_eq!(dict, vec!["false", "true"]);
        assert_eq!(codes, vec![1, MISSING, 0]);
    }

    #[test]
    fn short_and_long_strings_with_equal_prefixes_are_distinct() {
        let values = vec![
            "abcdefgh1",
            "abcdefgh2",
            "abcdefgh1",
            "ab",
            "ab\0",
            "",
            "ab",
            "abcde",
            "abdce",
            "abc",
            "acb",
            "abcdefg",
            "abcdeff",
            "abcdefg",
            "a",
            "b",
            "ba",
            "aab",
            "aba",
        ];
        let a: ArrayRef = Arc::new(StringArray::from(values.clone()));
        let (dict, codes) = encode_categorical(&a, "c").unwrap();
        let mut distinct = values.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(dict.len(), distinct.len());
        for (v, c) in values.iter().zip(&codes) {
            assert_eq!(dict[*c as usize], *v);
        }
    }

    #[test]
    fn large_dictionaries_switch_to_the_hash_map() {
        let values: Vec<String> = (0..100).map(|i| format!("v{}", i % 40)).collect();
        let a: ArrayRef = Arc::new(StringArray::from(values.clone()));
        let (dict, codes) = encode_categorical(&a, "c").unwrap();
        assert_eq!(dict.len(), 40);
        for (v, c) in values.iter().zip(&codes) {
            assert_eq!(dict[*c as usize], v.as_str());
        }
    }

    #[test]
    fn builder_merges_batches() {
        let mut b = CategoricalBuilder::default();
        let a1: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        let a2: ArrayRef = Arc::new(StringArray::from(vec![Some("y"), None, Some("z")]));
        b.append(&a1, "c").unwrap();
        b.append(&a2, "c").unwrap();
        let (dict, codes) = b.finish();
        assert_eq!(dict, vec!["x", "y", "z"]);
        assert_eq!(codes, vec![0, 1, 1, MISSING, 2]);
    }

    #[test]
    fn unsupported_types_are_type_mismatch() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        assert!(matches!(
            encode_categorical(&a, "c"),
            Err(Error::TypeMismatch { .. })
        ));
    }
}
