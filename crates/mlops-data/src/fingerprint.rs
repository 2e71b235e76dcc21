//! Logical content fingerprints of tables, and plain file hashes.
//!
//! A [`Fingerprint`] identifies a table by its *logical* content: the column names, a normalised
//! type per column, and the values in row order. It does not depend on the file format, the
//! compression, the batch boundaries, the integer width or the string encoding (plain, large,
//! view or dictionary), so the same rows read from CSV or Parquet, in one batch or in a thousand,
//! give the same hash. Any changed value, null, column name, column type (after normalisation),
//! column order or row order changes it. Field nullability flags and schema or field metadata
//! are not part of it (only whether each value is null is).
//!
//! [`file_hash`] is the plain sha256 of a file's bytes, for pinning an exact file.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_data::arrow::array::{ArrayRef, Int32Array, Int64Array};
//! use mlops_data::arrow::RecordBatch;
//! use mlops_data::fingerprint::fingerprint_batches;
//!
//! let narrow = RecordBatch::try_from_iter([("x", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef)])?;
//! let wide_a = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)])?;
//! let wide_b = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![3])) as ArrayRef)])?;
//! let one = fingerprint_batches(&narrow.schema(), &[narrow])?;
//! let two = fingerprint_batches(&wide_a.schema(), &[wide_a, wide_b])?;
//! assert_eq!(one, two);
//! assert_eq!(one.rows, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The algorithm (version 1), exactly
//!
//! Lengths, counts and row numbers below are written as **8-byte little-endian unsigned
//! (`u64 LE`)**; `sha256(x)` is the 32-byte digest; `‖` is concatenation.
//!
//! **1. Type tag** of each column, from its Arrow type (ASCII):
//!
//! | Arrow type | tag | value encoding (`enc`) | placeholder for a null |
//! |---|---|---|---|
//! | `Int8`, `Int16`, `Int32`, `Int64`, `UInt8`, `UInt16`, `UInt32`, `UInt64` | `int64` | the value as a signed 64-bit integer, 8 bytes little-endian two's complement | `0` |
//! | `Float64` | `float64` | IEEE-754 binary64 bits, 8 bytes LE | `+0.0` |
//! | `Float32` | `float32` | IEEE-754 binary32 bits, 4 bytes LE | `+0.0` |
//! | `Float16` | `float16` | IEEE-754 binary16 bits, 2 bytes LE | `+0.0` |
//! | `Boolean` | `bool` | 1 byte: `0x01` true, `0x00` false | `0x00` |
//! | `Utf8`, `LargeUtf8`, `Utf8View`, `Dictionary(<any key>, <one of those>)` | `utf8` | `u64 LE` byte length ‖ the UTF-8 bytes | the empty string (`00×8`) |
//! | `Null` (every row null; CSV inference gives it to an always-empty column) | `null` | nothing (0 bytes) | nothing |
//!
//! Floats are canonicalised before encoding: **every NaN becomes the canonical quiet NaN**
//! (`0x7ff8000000000000`, `0x7fc00000`, `0x7e00`) and **`-0.0` becomes `+0.0`**, so values that
//! compare equal as numbers hash equal (and NaN payloads, which no file format preserves
//! reliably, do not matter). A `UInt64` value above `i64::MAX` cannot be encoded and is an error
//! ([`Error::Unfingerprintable`]); any other Arrow type is an [`Error::TypeMismatch`] naming the
//! column. `Float32` and `Float64` are different tags: the same numbers in the two types hash
//! differently.
//!
//! **2. Two digests per column**, over all `N` rows in row order (row numbers `r` are 0-based over
//! the whole table):
//!
//! - `values = sha256( enc(row 0) ‖ enc(row 1) ‖ … ‖ enc(row N-1) )`, where a null row contributes
//!   the encoding of the placeholder;
//! - `nulls = sha256( r₁ ‖ r₂ ‖ … )` over the row numbers of the null rows, ascending, each as
//!   `u64 LE` (the sha256 of nothing when the column has no null). A null is a *logical* null:
//!   for a dictionary, a valid key pointing at a null value is a null.
//!
//! **3. The fingerprint** is
//!
//! ```text
//! sha256( "mlops-fingerprint-v1"                  (20 ASCII bytes, no length prefix)
//!       ‖ u64 LE number of columns
//!       ‖ for each column, in schema order:
//!             u64 LE byte length of the name ‖ name (UTF-8)
//!           ‖ u64 LE byte length of the tag  ‖ tag (ASCII)
//!           ‖ values digest (32 bytes) ‖ nulls digest (32 bytes)
//!       ‖ u64 LE number of rows N )
//! ```
//!
//! `crates/mlops-data/tests/fixtures/fingerprint/gen.py` re-implements this with Python's
//! `hashlib` alone, and a test checks that both agree.
//!
//! # Speed
//!
//! Each column keeps its own incremental sha256 across batches (which is also why batch
//! boundaries vanish). `Int64` columns without nulls and float chunks without NaN, `-0.0` or
//! nulls are hashed straight from the Arrow value buffer with no copy; other columns are encoded
//! into a small reusable buffer.

use std::fmt;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Schema};
use mlops_core::{ContentHash, Sha256Stream};
use serde::{Deserialize, Serialize};

use crate::schema::access::{TextColumn, is_text, is_text_dictionary, logical_validity};
use crate::{BatchStream, Error, Result};

/// The version header hashed first; changes whenever the algorithm does.
pub const FINGERPRINT_VERSION: &str = "mlops-fingerprint-v1";

/// Values encoded per chunk (and the flush threshold of the text buffer, in bytes).
const CHUNK: usize = 8192;
const TEXT_FLUSH: usize = 64 * 1024;

/// The logical fingerprint of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The hash described in the [module docs](self).
    pub hash: ContentHash,
    /// Number of rows.
    pub rows: u64,
    /// Number of columns.
    pub columns: usize,
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} rows × {} columns)",
            self.hash, self.rows, self.columns
        )
    }
}

/// The normalised logical type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Int64,
    Float16,
    Float32,
    Float64,
    Bool,
    Utf8,
    Null,
}

impl Tag {
    fn of(dt: &DataType) -> Option<Self> {
        Some(match dt {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Self::Int64,
            DataType::Float16 => Self::Float16,
            DataType::Float32 => Self::Float32,
            DataType::Float64 => Self::Float64,
            DataType::Boolean => Self::Bool,
            DataType::Null => Self::Null,
            dt if is_text(dt) || is_text_dictionary(dt) => Self::Utf8,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Int64 => "int64",
            Self::Float16 => "float16",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Bool => "bool",
            Self::Utf8 => "utf8",
            Self::Null => "null",
        }
    }
}

/// The two running digests of one column.
struct ColumnHasher {
    name: String,
    tag: Tag,
    data_type: DataType,
    values: Sha256Stream,
    nulls: Sha256Stream,
}

/// Incremental fingerprinting: feed batches in row order, then [`finish`](Self::finish).
///
/// ```
/// use std::sync::Arc;
/// use mlops_data::arrow::array::{ArrayRef, StringArray};
/// use mlops_data::arrow::RecordBatch;
/// use mlops_data::fingerprint::Fingerprinter;
///
/// let batch = RecordBatch::try_from_iter([("s", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef)])?;
/// let mut fp = Fingerprinter::new(&batch.schema())?;
/// fp.update(&batch)?;
/// let done = fp.finish();
/// assert_eq!((done.rows, done.columns), (2, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fingerprinter {
    columns: Vec<ColumnHasher>,
    rows: u64,
    scratch: Vec<u8>,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprinter")
            .field("columns", &self.columns.len())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Fingerprinter {
    /// A fingerprinter for tables with `schema`.
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] naming the first column whose type is not supported.
    pub fn new(schema: &Schema) -> Result<Self> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let tag = Tag::of(f.data_type()).ok_or_else(|| Error::TypeMismatch {
                    column: f.name().clone(),
                    expected: "an integer, float, boolean or utf8 (or dictionary of utf8) type \
                               (supported by the fingerprint)"
                        .to_owned(),
                    found: f.data_type().to_string(),
                })?;
                Ok(ColumnHasher {
                    name: f.name().clone(),
                    tag,
                    data_type: f.data_type().clone(),
                    values: Sha256Stream::new(),
                    nulls: Sha256Stream::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            columns,
            rows: 0,
            scratch: Vec::with_capacity(TEXT_FLUSH + 64),
        })
    }

    /// Rows fed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Feeds the next batch.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] when the batch's column count or types differ from the schema;
    /// [`Error::Unfingerprintable`] for a `UInt64` value above `i64::MAX`. After an error the
    /// fingerprinter must not be used further (its state is partially updated).
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let matches = batch.num_columns() == self.columns.len()
            && batch
                .columns()
                .iter()
                .zip(&self.columns)
                .all(|(a, c)| a.data_type() == &c.data_type);
        if !matches {
            return Err(Error::SchemaMismatch {
                expected: self
                    .columns
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.data_type))
                    .collect::<Vec<_>>()
                    .join(", "),
                found: batch.schema().to_string(),
            });
        }
        let offset = self.rows;
        for (col, array) in self.columns.iter_mut().zip(batch.columns()) {
            hash_column(col, array.as_ref(), offset, &mut self.scratch)?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// The fingerprint of everything fed.
    pub fn finish(self) -> Fingerprint {
        let mut h = Sha256Stream::new();
        h.update(FINGERPRINT_VERSION.as_bytes());
        h.update(&(self.columns.len() as u64).to_le_bytes());
        let columns = self.columns.len();
        for c in self.columns {
            h.update(&(c.name.len() as u64).to_le_bytes());
            h.update(c.name.as_bytes());
            let tag = c.tag.as_str();
            h.update(&(tag.len() as u64).to_le_bytes());
            h.update(tag.as_bytes());
            h.update(c.values.finish().as_bytes());
            h.update(c.nulls.finish().as_bytes());
        }
        h.update(&self.rows.to_le_bytes());
        Fingerprint {
            hash: h.finish(),
            rows: self.rows,
            columns,
        }
    }
}

/// Fingerprints a whole stream in memory bounded by the batch size.
///
/// # Errors
/// Reading failures, and those of [`Fingerprinter::new`] and [`Fingerprinter::update`].
pub fn fingerprint_stream(stream: BatchStream) -> Result<Fingerprint> {
    let _span = tracing::debug_span!("fingerprint_stream").entered();
    let mut fp = Fingerprinter::new(&stream.schema())?;
    for batch in stream {
        fp.update(&batch?)?;
    }
    let out = fp.finish();
    tracing::debug!(rows = out.rows, hash = %out.hash, "fingerprinted");
    Ok(out)
}

/// Fingerprints batches already in memory that all have `schema`.
///
/// # Errors
/// As [`Fingerprinter::new`] and [`Fingerprinter::update`].
pub fn fingerprint_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Fingerprint> {
    let mut fp = Fingerprinter::new(schema)?;
    for batch in batches {
        fp.update(batch)?;
    }
    Ok(fp.finish())
}

/// The plain sha256 of a file's bytes, read in bounded memory.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn file_hash(path: impl AsRef<Path>) -> Result<ContentHash> {
    let path = path.as_ref();
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    mlops_core::hash_reader(file).map_err(|e| match e {
        mlops_core::Error::Io(source) => io_err(source),
        other => io_err(std::io::Error::other(other.to_string())),
    })
}

fn hash_column(
    col: &mut ColumnHasher,
    array: &dyn Array,
    offset: u64,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let validity = logical_validity(array);
    if let Some(v) = &validity {
        scratch.clear();
        for (i, valid) in v.values().iter().enumerate() {
            if !valid {
                scratch.extend_from_slice(&(offset + i as u64).to_le_bytes());
                if scratch.len() >= TEXT_FLUSH {
                    col.nulls.update(scratch);
                    scratch.clear();
                }
            }
        }
        col.nulls.update(scratch);
    }
    let validity = validity.as_ref();
    let h = &mut col.values;
    match array.data_type() {
        DataType::Int8 => ints::<Int8Type>(h, array, validity, scratch, i64::from),
        DataType::Int16 => ints::<Int16Type>(h, array, validity, scratch, i64::from),
        DataType::Int32 => ints::<Int32Type>(h, array, validity, scratch, i64::from),
        DataType::UInt8 => ints::<UInt8Type>(h, array, validity, scratch, i64::from),
        DataType::UInt16 => ints::<UInt16Type>(h, array, validity, scratch, i64::from),
        DataType::UInt32 => ints::<UInt32Type>(h, array, validity, scratch, i64::from),
        DataType::Int64 => {
            fixed::<Int64Type, 8>(h, array, validity, scratch, |_| false, i64::to_le_bytes)
        }
        DataType::UInt64 => {
            if let Some(a) = array.as_primitive_opt::<UInt64Type>() {
                let too_big =
                    a.values().iter().enumerate().find(|(i, v)| {
                        **v > i64::MAX as u64 && validity.is_none_or(|m| m.value(*i))
                    });
                if let Some((i, v)) = too_big {
                    return Err(Error::Unfingerprintable {
                        column: col.name.clone(),
                        row: offset + i as u64,
                        value: v.to_string(),
                        reason: "a UInt64 value above i64::MAX has no int64 encoding",
                    });
                }
            }
            // Every valid value fits in i64, whose LE bytes equal the u64's.
            fixed::<UInt64Type, 8>(h, array, validity, scratch, |_| false, u64::to_le_bytes)
        }
        DataType::Float64 => fixed::<Float64Type, 8>(
            h,
            array,
            validity,
            scratch,
            |v: f64| v.is_nan() || v.to_bits() == (-0.0f64).to_bits(),
            |v: f64| canonical_f64(v).to_le_bytes(),
        ),
        DataType::Float32 => fixed::<Float32Type, 4>(
            h,
            array,
            validity,
            scratch,
            |v: f32| v.is_nan() || v.to_bits() == (-0.0f32).to_bits(),
            |v: f32| canonical_f32(v).to_le_bytes(),
        ),
        DataType::Float16 => fixed::<Float16Type, 2>(
            h,
            array,
            validity,
            scratch,
            |v: F16| v.is_nan() || v.to_bits() == 0x8000,
            |v: F16| canonical_f16(v).to_le_bytes(),
        ),
        // Every row is null (recorded in the nulls digest above); values encode to nothing.
        DataType::Null => {}
        DataType::Boolean => {
            if let Some(a) = array.as_boolean_opt() {
                for start in (0..a.len()).step_by(CHUNK) {
                    let end = (start + CHUNK).min(a.len());
                    scratch.clear();
                    for i in start..end {
                        let valid = validity.is_none_or(|m| m.value(i));
                        scratch.push(u8::from(valid && a.value(i)));
                    }
                    h.update(scratch);
                }
            }
        }
        _ => {
            if let Some(text) = TextColumn::new(array) {
                scratch.clear();
                for i in 0..text.len() {
                    let s = text.get(i).unwrap_or("");
                    scratch.extend_from_slice(&(s.len() as u64).to_le_bytes());
                    if s.len() >= TEXT_FLUSH {
                        h.update(scratch);
                        scratch.clear();
                        h.update(s.as_bytes());
                    } else {
                        scratch.extend_from_slice(s.as_bytes());
                        if scratch.len() >= TEXT_FLUSH {
                            h.update(scratch);
                            scratch.clear();
                        }
                    }
                }
                h.update(scratch);
            }
        }
    }
    Ok(())
}

type F16 = <Float16Type as ArrowPrimitiveType>::Native;

fn canonical_f64(v: f64) -> u64 {
    if v.is_nan() {
        0x7ff8_0000_0000_0000
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

fn canonical_f32(v: f32) -> u32 {
    if v.is_nan() {
        0x7fc0_0000
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

fn canonical_f16(v: F16) -> u16 {
    if v.is_nan() {
        0x7e00
    } else if v.to_bits() & 0x7fff == 0 {
        0
    } else {
        v.to_bits()
    }
}

/// Narrow integers: widen to i64 LE, nulls as 0.
fn ints<T: ArrowPrimitiveType>(
    h: &mut Sha256Stream,
    array: &dyn Array,
    validity: Option<&BooleanArray>,
    scratch: &mut Vec<u8>,
    widen: impl Fn(T::Native) -> i64,
) {
    let Some(a) = array.as_primitive_opt::<T>() else {
        return;
    };
    let values: &[T::Native] = a.values();
    for (chunk_no, chunk) in values.chunks(CHUNK).enumerate() {
        encode_chunk(scratch, chunk, chunk_no * CHUNK, validity, |v| {
            widen(v).to_le_bytes()
        });
        h.update(scratch);
    }
}

/// Fixed-width values whose native little-endian bytes are their encoding unless `needs_fix`
/// says otherwise. Chunks with no null and nothing to fix are hashed straight from the Arrow
/// buffer (on little-endian targets); others go through `encode` into `scratch`, with the
/// all-zero placeholder for nulls.
fn fixed<T: ArrowPrimitiveType, const W: usize>(
    h: &mut Sha256Stream,
    array: &dyn Array,
    validity: Option<&BooleanArray>,
    scratch: &mut Vec<u8>,
    needs_fix: impl Fn(T::Native) -> bool,
    encode: impl Fn(T::Native) -> [u8; W],
) {
    let Some(a) = array.as_primitive_opt::<T>() else {
        return;
    };
    let values: &[T::Native] = a.values();
    let raw: &[u8] = a.values().inner().as_slice();
    let direct = cfg!(target_endian = "little")
        && std::mem::size_of::<T::Native>() == W
        && raw.len() == values.len() * W;
    for (chunk_no, chunk) in values.chunks(CHUNK).enumerate() {
        let base = chunk_no * CHUNK;
        let clean = validity.is_none() && !chunk.iter().any(|v| needs_fix(*v));
        if direct
            && clean
            && let Some(bytes) = raw.get(base * W..(base + chunk.len()) * W)
        {
            h.update(bytes);
            continue;
        }
        encode_chunk(scratch, chunk, base, validity, &encode);
        h.update(scratch);
    }
}

/// Encodes `chunk` (rows `base..`) into `scratch`, `W` bytes per value, all-zero for nulls.
fn encode_chunk<V: Copy, const W: usize>(
    scratch: &mut Vec<u8>,
    chunk: &[V],
    base: usize,
    validity: Option<&BooleanArray>,
    encode: impl Fn(V) -> [u8; W],
) {
    scratch.clear();
    scratch.resize(chunk.len() * W, 0);
    let slots = scratch.chunks_exact_mut(W).zip(chunk);
    match validity {
        None => {
            for (dst, v) in slots {
                dst.copy_from_slice(&encode(*v));
            }
        }
        Some(m) => {
            let bits = m.values().slice(base, chunk.len());
            for ((dst, v), valid) in slots.zip(bits.iter()) {
                if valid {
                    dst.copy_from_slice(&encode(*v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
