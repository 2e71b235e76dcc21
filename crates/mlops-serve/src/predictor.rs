//! [`Predictor`]: one model version, checking every request against its bundle's signature.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use mlops_data::pipeline::RowValue;
use mlops_data::schema::{ColumnKind, ColumnSchema, Range};
use mlops_data::transform::ColumnKind as PipelineKind;
use mlops_train::ModelBundle;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServeError, from_data};
use crate::value::{Record, Value};

/// One answer of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The request id (the caller's, or a generated one).
    pub request_id: String,
    /// The model name.
    pub model: String,
    /// The model version that produced the answer.
    pub version: u64,
    /// The positive label when `probability >= threshold`, else the negative label.
    pub label: String,
    /// P(positive).
    pub probability: f64,
}

/// How one signature column is checked and fed to the pipeline.
#[derive(Debug, Clone)]
struct ColumnPlan {
    schema: ColumnSchema,
    /// Index in the pipeline's inputs, when the pipeline reads the column.
    input: Option<usize>,
    /// Whether a category outside the signature's list is an error.
    reject_unseen: bool,
    /// Interned categories for a fast membership test (when `reject_unseen`).
    categories: Option<BTreeSet<String>>,
}

/// A model version ready to serve: the bundle, its name and version, and a precomputed plan of
/// the columns a request must carry.
///
/// Requests are checked against the bundle's signature: a missing column, a value of the wrong
/// type (integers are accepted for numeric columns), NaN / ±inf, a number outside the
/// signature's range (only when it has one), a null where the column is not nullable, and a
/// category outside the signature's list **when the pipeline would also reject it** (an encoder
/// with the error policy; under `UnknownCategory::Ignore` it is accepted) are each a typed
/// [`ServeError`] naming the column. Extra columns are ignored.
#[derive(Debug)]
pub struct Predictor {
    name: String,
    version: u64,
    bundle: Arc<ModelBundle>,
    inputs: Vec<ColumnSchema>,
    plan: Vec<ColumnPlan>,
    n_inputs: usize,
    n_features: usize,
}

impl Predictor {
    /// A predictor for `bundle`, served as `name` version `version`.
    ///
    /// # Errors
    /// [`ServeError::Model`] when the bundle is inconsistent (it fails `ModelBundle::check`, or
    /// the signature and pipeline disagree on a column's kind).
    pub fn new(name: impl Into<String>, version: u64, bundle: ModelBundle) -> Result<Self> {
        Self::from_arc(name, version, Arc::new(bundle))
    }

    /// Like [`Predictor::new`], sharing an already loaded bundle.
    pub fn from_arc(
        name: impl Into<String>,
        version: u64,
        bundle: Arc<ModelBundle>,
    ) -> Result<Self> {
        bundle.check()?;
        let pipeline = &bundle.pipeline;
        let inputs = pipeline.inputs();
        let mut plan: Vec<ColumnPlan> = Vec::new();
        let mut add = |schema: ColumnSchema, input: Option<usize>| -> Result<()> {
            if let Some(i) = input.and_then(|i| inputs.get(i)) {
                let consistent = match i.kind {
                    PipelineKind::Numeric => schema.kind.is_numeric(),
                    PipelineKind::Categorical => !schema.kind.is_numeric(),
                };
                if !consistent {
                    return Err(ServeError::Model(format!(
                        "bundle signature declares column {:?} as {} but the pipeline reads it as {:?}",
                        schema.name, schema.kind, i.kind
                    )));
                }
            }
            let reject_unseen =
                schema.categories.is_some() && pipeline.rejects_unseen(&schema.name);
            let categories = if reject_unseen {
                schema.categories.clone()
            } else {
                None
            };
            plan.push(ColumnPlan {
                schema,
                input,
                reject_unseen,
                categories,
            });
            Ok(())
        };
        for col in &bundle.signature.columns {
            let input = inputs.iter().position(|i| i.name == col.name);
            add(col.clone(), input)?;
        }
        for (idx, i) in inputs.iter().enumerate() {
            if bundle.signature.column(&i.name).is_none() {
                let kind = match i.kind {
                    PipelineKind::Numeric => ColumnKind::Float,
                    PipelineKind::Categorical => ColumnKind::Categorical,
                };
                add(ColumnSchema::new(i.name.clone(), kind), Some(idx))?;
            }
        }
        Ok(Self {
            name: name.into(),
            version,
            n_inputs: inputs.len(),
            n_features: pipeline.feature_names().len(),
            inputs: plan.iter().map(|p| p.schema.clone()).collect(),
            plan,
            bundle,
        })
    }

    /// The model name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The model version.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The bundle.
    pub fn bundle(&self) -> &ModelBundle {
        &self.bundle
    }
    /// The shared bundle.
    pub fn bundle_arc(&self) -> &Arc<ModelBundle> {
        &self.bundle
    }
    /// The input columns a request must carry, in signature order (then any column the pipeline
    /// reads that the signature does not list), with kind, nullability, categories and range.
    pub fn inputs(&self) -> &[ColumnSchema] {
        &self.inputs
    }

    /// The label for a probability: `(label, is_positive)` at the bundle's threshold.
    pub fn label_for(&self, probability: f64) -> (&str, bool) {
        if probability >= self.bundle.threshold {
            (&self.bundle.label.positive, true)
        } else {
            (&self.bundle.label.negative, false)
        }
    }

    /// Single-row path (no Arrow arrays): checks `record`, transforms it and predicts. A
    /// request id is generated when `request_id` is `None`.
    ///
    /// # Errors
    /// A client error naming the column for bad input (see [`Predictor`]);
    /// [`ServeError::Model`] for a pipeline or model failure.
    pub fn predict(&self, record: &Record, request_id: Option<&str>) -> Result<Prediction> {
        let p = self.score(record)?;
        let id = request_id.map_or_else(next_request_id, str::to_string);
        Ok(self.prediction(id, p))
    }

    /// P(positive) for one record, with the same checks as [`Predictor::predict`].
    pub fn score(&self, record: &Record) -> Result<f64> {
        let mut values: Vec<RowValue<'_>> = vec![RowValue::Numeric(None); self.n_inputs];
        for p in &self.plan {
            let v = self.check_value(p, record)?;
            if let Some(slot) = p.input.and_then(|i| values.get_mut(i)) {
                *slot = v;
            }
        }
        let mut out = vec![0.0; self.n_features];
        self.bundle
            .pipeline
            .transform_row(&values, &mut out)
            .map_err(from_data)?;
        Ok(self.bundle.model.predict_proba_row(&out)?)
    }

    /// Builds the answer for a probability.
    pub fn prediction(&self, request_id: String, probability: f64) -> Prediction {
        Prediction {
            request_id,
            model: self.name.clone(),
            version: self.version,
            label: self.label_for(probability).0.to_string(),
            probability,
        }
    }

    fn check_value<'r>(&self, p: &ColumnPlan, record: &'r Record) -> Result<RowValue<'r>> {
        let s = &p.schema;
        let column = || s.name.clone();
        let value = record
            .get(&s.name)
            .ok_or_else(|| ServeError::MissingColumn { column: column() })?;
        let wrong = |v: &Value| ServeError::WrongType {
            column: column(),
            expected: expected(s.kind).to_string(),
            found: v.type_name().to_string(),
        };
        if let Value::Null = value {
            if !s.nullable {
                return Err(ServeError::NullValue { column: column() });
            }
            return Ok(if s.kind.is_numeric() {
                RowValue::Numeric(None)
            } else {
                RowValue::Categorical(None)
            });
        }
        match s.kind {
            ColumnKind::Float | ColumnKind::Integer => {
                let x = match value {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    other => return Err(wrong(other)),
                };
                check_number(s, x)?;
                Ok(RowValue::Numeric(Some(x)))
            }
            ColumnKind::Boolean => match value {
                Value::Bool(true) => Ok(RowValue::Categorical(Some("true"))),
                Value::Bool(false) => Ok(RowValue::Categorical(Some("false"))),
                Value::Str(t) if t == "true" || t == "false" => {
                    Ok(RowValue::Categorical(Some(t.as_str())))
                }
                other => Err(wrong(other)),
            },
            ColumnKind::Categorical => match value {
                Value::Str(t) => {
                    if p.reject_unseen
                        && let Some(cats) = &p.categories
                        && !cats.contains(t.as_str())
                    {
                        return Err(ServeError::UnseenCategory {
                            column: column(),
                            value: t.clone(),
                        });
                    }
                    Ok(RowValue::Categorical(Some(t.as_str())))
                }
                other => Err(wrong(other)),
            },
        }
    }

    // ---- batch path -----------------------------------------------------------------------

    /// Checks a batch against the signature. Column-level problems (a missing column, a column
    /// of the wrong type) are the `Err`; row-level problems are returned as `(row, error)`
    /// pairs sorted by row, at most one per row (the first column in signature order).
    pub fn check_batch(&self, batch: &RecordBatch) -> Result<Vec<(usize, ServeError)>> {
        let mut bad: Vec<Option<ServeError>> = Vec::new();
        let n = batch.num_rows();
        for p in &self.plan {
            let s = &p.schema;
            let array = batch
                .column_by_name(&s.name)
                .ok_or_else(|| ServeError::MissingColumn {
                    column: s.name.clone(),
                })?;
            let found = ColumnKind::of(array.data_type());
            let ok = match (s.kind, found) {
                (k, Some(f)) if k.is_numeric() => f.is_numeric(),
                (ColumnKind::Boolean, Some(ColumnKind::Boolean | ColumnKind::Categorical)) => true,
                (ColumnKind::Categorical, Some(ColumnKind::Categorical)) => true,
                _ => false,
            };
            if !ok {
                return Err(ServeError::WrongType {
                    column: s.name.clone(),
                    expected: expected(s.kind).to_string(),
                    found: array.data_type().to_string(),
                });
            }
            let mut flag = |row: usize, e: ServeError| {
                if bad.is_empty() {
                    bad.resize(n, None);
                }
                if let Some(slot) = bad.get_mut(row)
                    && slot.is_none()
                {
                    *slot = Some(e);
                }
            };
            if !s.nullable && array.null_count() > 0 {
                for row in (0..n).filter(|&r| array.is_null(r)) {
                    flag(
                        row,
                        ServeError::NullValue {
                            column: s.name.clone(),
                        },
                    );
                }
            }
            if s.kind.is_numeric() {
                check_numeric_array(s, array, &mut flag)?;
            } else if p.reject_unseen
                && let Some(cats) = &p.categories
            {
                let strings = arrow_cast::cast(array, &DataType::Utf8)
                    .map_err(|e| ServeError::Model(e.to_string()))?;
                for (row, v) in strings.as_string::<i32>().iter().enumerate() {
                    if let Some(v) = v
                        && !cats.contains(v)
                    {
                        flag(
                            row,
                            ServeError::UnseenCategory {
                                column: s.name.clone(),
                                value: v.to_string(),
                            },
                        );
                    }
                }
            }
        }
        Ok(bad
            .into_iter()
            .enumerate()
            .filter_map(|(r, e)| e.map(|e| (r, e)))
            .collect())
    }

    /// P(positive) for every row of a batch, equal bit for bit to [`Predictor::score`] on each
    /// row. The first bad row fails the whole batch (see [`Predictor::check_batch`] to find
    /// every bad row).
    pub fn predict_proba_batch(&self, batch: &RecordBatch) -> Result<Vec<f64>> {
        if let Some((_, e)) = self.check_batch(batch)?.into_iter().next() {
            return Err(e);
        }
        self.proba_unchecked(batch)
    }

    /// Transforms and predicts a batch that passed [`Predictor::check_batch`].
    ///
    /// Works in chunks of [`CHUNK_ROWS`] rows, so the feature matrix of a chunk stays in cache
    /// between the transform and the model (and memory stays small for big batches).
    pub(crate) fn proba_unchecked(&self, batch: &RecordBatch) -> Result<Vec<f64>> {
        let n = batch.num_rows();
        let model = &self.bundle.model;
        let mut out = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let len = CHUNK_ROWS.min(n - start);
            let chunk = batch.slice(start, len);
            let x = self.bundle.pipeline.transform(&chunk).map_err(from_data)?;
            for row in x.data.outer_iter() {
                let p = match row.as_slice() {
                    Some(r) => model.predict_proba_row(r)?,
                    None => model.predict_proba_row(&row.to_vec())?,
                };
                out.push(p);
            }
            start += len;
        }
        Ok(out)
    }

    /// Batch path over a `RecordBatch`: the same numbers as [`Predictor::predict`] row by
    /// row, with generated request ids.
    pub fn predict_batch(&self, batch: &RecordBatch) -> Result<Vec<Prediction>> {
        let probs = self.predict_proba_batch(batch)?;
        Ok(probs
            .into_iter()
            .map(|p| self.prediction(next_request_id(), p))
            .collect())
    }
}

/// Rows per chunk of the batch path.
pub const CHUNK_ROWS: usize = 2048;

fn expected(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Float | ColumnKind::Integer => "numeric",
        ColumnKind::Boolean => "boolean",
        ColumnKind::Categorical => "categorical",
    }
}

fn check_number(s: &ColumnSchema, x: f64) -> Result<()> {
    if !x.is_finite() {
        if s.allow_non_finite {
            return Ok(());
        }
        return Err(ServeError::NonFinite {
            column: s.name.clone(),
        });
    }
    if let Some(Range { min, max }) = s.range
        && !(x >= min && x <= max)
    {
        return Err(ServeError::OutOfRange {
            column: s.name.clone(),
            value: x,
            min,
            max,
        });
    }
    Ok(())
}

fn check_numeric_array(
    s: &ColumnSchema,
    array: &ArrayRef,
    flag: &mut impl FnMut(usize, ServeError),
) -> Result<()> {
    let is_float = matches!(
        array.data_type(),
        DataType::Float16 | DataType::Float32 | DataType::Float64
    );
    if !is_float && s.range.is_none() {
        return Ok(()); // integers are always finite
    }
    let mut visit = |row: usize, x: f64| {
        if let Err(e) = check_number(s, x) {
            flag(row, e);
        }
    };
    match array.data_type() {
        DataType::Float64 => {
            for (r, v) in array.as_primitive::<Float64Type>().iter().enumerate() {
                if let Some(x) = v {
                    visit(r, x);
                }
            }
        }
        DataType::Float32 => {
            for (r, v) in array.as_primitive::<Float32Type>().iter().enumerate() {
                if let Some(x) = v {
                    visit(r, f64::from(x));
                }
            }
        }
        DataType::Float16 => {
            for (r, v) in array.as_primitive::<Float16Type>().iter().enumerate() {
                if let Some(x) = v {
                    visit(r, f64::from(x));
                }
            }
        }
        _ => {
            let f = arrow_cast::cast(array, &DataType::Float64)
                .map_err(|e| ServeError::Model(e.to_string()))?;
            for (r, v) in f.as_primitive::<Float64Type>().iter().enumerate() {
                if let Some(x) = v {
                    visit(r, x);
                }
            }
        }
    }
    Ok(())
}

/// A new request id: a random per-process prefix and a process-wide counter, e.g.
/// `"3f9a1c0d2b7e4a61-1a"`. Unique within a process; unlikely to repeat across processes.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(u64::from(std::process::id()));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}-{n:x}")
}
