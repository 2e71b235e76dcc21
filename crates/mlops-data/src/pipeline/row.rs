//! The single-row path of a fitted pipeline: the same fitted steps as
//! [`FittedPipeline::transform`], applied to one row of plain values without building Arrow
//! arrays. Used by serving, where a request carries one record.

use std::borrow::Cow;

use ndarray::ArrayViewMut2;

use super::{FittedPipeline, write_block};
use crate::transform::work::{MISSING, WorkCol, WorkSet, null_f64};
use crate::transform::{ColumnKind, FittedStep, OrdinalUnknown, UnknownCategory};
use crate::{Error, Result};

/// One input value of a row for [`FittedPipeline::transform_row`].
///
/// A numeric column takes `Numeric` (`None` is a null; NaN is a missing value, as in
/// [`FittedPipeline::transform`]); a categorical column takes `Categorical` (`None` is a null;
/// a boolean column's categories are `"false"` and `"true"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowValue<'a> {
    /// A number, or a null.
    Numeric(Option<f64>),
    /// A category, or a null.
    Categorical(Option<&'a str>),
}

impl RowValue<'_> {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Numeric(_) => "numeric",
            Self::Categorical(_) => "categorical",
        }
    }
}

impl FittedPipeline {
    /// Whether transforming fails on a category of input `column` that was not seen while
    /// fitting: true when an encoder reading that column has the error policy
    /// ([`UnknownCategory::Error`] or [`OrdinalUnknown::Error`]). Serving uses it to decide
    /// whether a category outside the signature is a client error.
    pub fn rejects_unseen(&self, column: &str) -> bool {
        self.groups
            .iter()
            .filter(|g| g.columns.iter().any(|c| c == column))
            .flat_map(|g| g.steps.iter())
            .any(|step| match step {
                FittedStep::OneHot(e) => {
                    e.unknown() == UnknownCategory::Error
                        && e.columns().iter().any(|c| c.column == column)
                }
                FittedStep::Ordinal(e) => {
                    e.unknown() == OrdinalUnknown::Error
                        && e.columns().iter().any(|c| c.column == column)
                }
                _ => false,
            })
    }

    /// Transforms one row into `out` (one value per [`FittedPipeline::feature_names`]).
    ///
    /// `values` holds one value per [`FittedPipeline::inputs`], in that order. The fitted steps
    /// are the ones [`FittedPipeline::transform`] applies, on one-row working columns, so the
    /// output equals the matching row of `transform` bit for bit, and the errors are the same
    /// (with row 0): [`Error::NonFinite`] for an infinite value, [`Error::NullValue`] /
    /// [`Error::NonFinite`] for a missing value reaching an encoder or the output,
    /// [`Error::UnseenCategory`] under the encoder's error policy, [`Error::TypeMismatch`] for a
    /// value of the wrong kind, and [`Error::Incompatible`] when `values` or `out` has the wrong
    /// length.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mlops_data::arrow::array::{Float64Array, RecordBatch, StringArray};
    /// use mlops_data::arrow::{DataType, Field, Schema};
    /// use mlops_data::pipeline::{Pipeline, RowValue};
    /// use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
    /// use mlops_data::BatchStream;
    ///
    /// # fn main() -> mlops_data::Result<()> {
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("age", DataType::Float64, true),
    ///     Field::new("plan", DataType::Utf8, true),
    /// ]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(Float64Array::from(vec![Some(30.0), None, Some(50.0)])),
    ///     Arc::new(StringArray::from(vec![Some("gold"), Some("basic"), None])),
    /// ])?;
    /// let fitted = Pipeline::new()
    ///     .group("num", ["age"], [Step::impute(ImputeStrategy::Mean), Step::standard_scaler()])
    ///     .group("cat", ["plan"], [
    ///         Step::impute(ImputeStrategy::MostFrequent),
    ///         Step::one_hot(UnknownCategory::Ignore),
    ///     ])
    ///     .fit(BatchStream::from_batches(schema, vec![batch.clone()]))?;
    /// let mut row = [0.0; 3];
    /// fitted.transform_row(&[RowValue::Numeric(None), RowValue::Categorical(Some("basic"))], &mut row)?;
    /// assert_eq!(row.as_slice(), fitted.transform(&batch)?.data.row(1).as_slice().unwrap());
    /// # Ok(()) }
    /// ```
    pub fn transform_row(&self, values: &[RowValue<'_>], out: &mut [f64]) -> Result<()> {
        if values.len() != self.inputs.len() {
            return Err(Error::Incompatible(format!(
                "transform_row got {} value(s) for {} input column(s)",
                values.len(),
                self.inputs.len()
            )));
        }
        let width = self.feature_names.len();
        if out.len() != width {
            return Err(Error::Incompatible(format!(
                "transform_row output has {} slot(s) for {width} feature(s)",
                out.len()
            )));
        }
        out.fill(0.0);
        let mut view = ArrayViewMut2::from_shape((1, width), out)
            .map_err(|e| Error::Incompatible(e.to_string()))?;
        let mut offset = 0usize;
        // Group columns usually follow the input order: look there first.
        let mut cursor = 0usize;
        for g in &self.groups {
            let mut cols = Vec::with_capacity(g.columns.len());
            for c in &g.columns {
                let idx = match self.inputs.get(cursor) {
                    Some(i) if &i.name == c => cursor,
                    _ => self
                        .inputs
                        .iter()
                        .position(|i| &i.name == c)
                        .ok_or_else(|| super::internal(c))?,
                };
                cursor = idx + 1;
                let (input, value) = self
                    .inputs
                    .get(idx)
                    .zip(values.get(idx))
                    .ok_or_else(|| super::internal(c))?;
                cols.push(work_col(c, input.kind, value)?);
            }
            let mut set = WorkSet {
                cols,
                row_offset: 0,
                threads: 1,
            };
            for step in &g.steps {
                step.transform(&mut set)?;
            }
            offset = write_block(&set, &mut view, offset, g.feature_names.len())?;
        }
        for r in &self.remainder {
            let value = self
                .inputs
                .iter()
                .position(|i| &i.name == r)
                .and_then(|i| values.get(i))
                .ok_or_else(|| super::internal(r))?;
            let set = WorkSet {
                cols: vec![work_col(r, ColumnKind::Numeric, value)?],
                row_offset: 0,
                threads: 1,
            };
            offset = write_block(&set, &mut view, offset, 1)?;
        }
        if offset != width {
            return Err(Error::Incompatible(format!(
                "pipeline produced {offset} column(s), expected {width}"
            )));
        }
        Ok(())
    }
}

/// A one-row working column, read as [`crate::transform::work::append_numeric`] and
/// [`crate::transform::work::encode_categorical`] read an Arrow array.
fn work_col<'a>(column: &str, kind: ColumnKind, value: &RowValue<'a>) -> Result<WorkCol<'a>> {
    match (kind, *value) {
        (ColumnKind::Numeric, RowValue::Numeric(v)) => {
            let v = match v {
                None => null_f64(),
                Some(v) if v.is_nan() => f64::NAN,
                Some(v) if v.is_infinite() => {
                    return Err(Error::NonFinite {
                        column: column.to_string(),
                        row: 0,
                        value: v,
                    });
                }
                Some(v) => v,
            };
            Ok(WorkCol::Num {
                name: column.to_string(),
                values: vec![v],
            })
        }
        (ColumnKind::Categorical, RowValue::Categorical(v)) => Ok(match v {
            None => WorkCol::Cat {
                name: column.to_string(),
                dict: Vec::new(),
                codes: vec![MISSING],
            },
            Some(s) => WorkCol::Cat {
                name: column.to_string(),
                dict: vec![Cow::Borrowed(s)],
                codes: vec![0],
            },
        }),
        (kind, value) => Err(Error::TypeMismatch {
            column: column.to_string(),
            expected: match kind {
                ColumnKind::Numeric => "numeric".to_string(),
                ColumnKind::Categorical => "categorical".to_string(),
            },
            found: value.kind_name().to_string(),
        }),
    }
}
