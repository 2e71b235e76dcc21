//! `StandardScaler` and `MinMaxScaler` with scikit-learn's formulas.

use serde::{Deserialize, Serialize};

use super::impute::{FillValue, FittedImputer};
use super::work::{WorkCol, WorkSet, kind_error};
use super::{ColumnKind, ParamGuard, ParamsError, Sum, layout_error};
use crate::pipeline::threads::fan_out;
use crate::{Error, Result};

/// The numeric columns of a set (one-hot blocks expanded); a categorical column is an error.
pub(crate) fn numeric_columns<'s>(
    set: &'s mut WorkSet<'_>,
    step: &str,
) -> Result<Vec<(&'s str, &'s mut Vec<f64>)>> {
    set.materialise_one_hot();
    set.cols
        .iter_mut()
        .map(|c| match c {
            WorkCol::Num { name, values } => Ok((name.as_str(), values)),
            other => Err(kind_error(
                other.name(),
                step,
                ColumnKind::Numeric,
                "categorical",
            )),
        })
        .collect()
}

fn all_missing(step: &'static str, name: &str) -> Error {
    Error::AllMissing {
        step,
        column: name.to_string(),
    }
}

// ---- StandardScaler ---------------------------------------------------------------------------

/// Unchecked `StandardScaler` parameters: `z = (x - mean) / std` with the population standard
/// deviation (ddof = 0) like scikit-learn; a (near-)constant column gets scale 1 using
/// scikit-learn's constant-feature test. Missing values are ignored while fitting and passed through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardScalerParams {
    with_mean: bool,
    with_std: bool,
}

impl Default for StandardScalerParams {
    fn default() -> Self {
        Self {
            with_mean: true,
            with_std: true,
        }
    }
}

impl StandardScalerParams {
    /// Whether to centre (default `true`).
    pub fn with_mean(mut self, yes: bool) -> Self {
        self.with_mean = yes;
        self
    }
    /// Whether to divide by the standard deviation (default `true`).
    pub fn with_std(mut self, yes: bool) -> Self {
        self.with_std = yes;
        self
    }
}

/// Validated `StandardScaler` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidStandardScaler(StandardScalerParams);

impl ValidStandardScaler {
    /// Whether it centres.
    pub fn with_mean(&self) -> bool {
        self.0.with_mean
    }
    /// Whether it scales.
    pub fn with_std(&self) -> bool {
        self.0.with_std
    }
}

impl ParamGuard for StandardScalerParams {
    type Checked = ValidStandardScaler;
    /// Every combination of the two flags is valid (as in scikit-learn); this never fails.
    fn check(&self) -> std::result::Result<ValidStandardScaler, ParamsError> {
        Ok(ValidStandardScaler(self.clone()))
    }
}

/// Fitted statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardColumn {
    /// The column.
    pub column: String,
    /// Mean of the non-missing values (`mean_`).
    pub mean: f64,
    /// Population variance (`var_`).
    pub var: f64,
    /// Divisor (`scale_`): `sqrt(var)`, or 1 for a constant column or without `with_std`.
    pub scale: f64,
    /// Number of non-missing values seen.
    pub count: u64,
}

/// A fitted `StandardScaler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedStandardScaler {
    with_mean: bool,
    columns: Vec<StandardColumn>,
}

impl FittedStandardScaler {
    /// Per-column statistics, in group order.
    pub fn columns(&self) -> &[StandardColumn] {
        &self.columns
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        let threads = set.threads;
        let cols = numeric_columns(set, "standard_scaler")?;
        if cols.len() != self.columns.len() {
            return Err(layout_error(
                "standard_scaler",
                self.columns.len(),
                cols.len(),
            ));
        }
        let with_mean = self.with_mean;
        let work: Vec<_> = cols.into_iter().zip(&self.columns).collect();
        fan_out(work, threads, |((_, values), st)| {
            let mean = if with_mean { st.mean } else { 0.0 };
            let scale = st.scale;
            for v in values.iter_mut() {
                // Branch-free: missing values keep their bits.
                let x = *v;
                let y = (x - mean) / scale;
                *v = if x.is_nan() { x } else { y };
            }
        })?;
        Ok(())
    }
}

impl FittedStandardScaler {
    /// Applies `imputer` (numeric fills) and then this scaler in one pass over each column, with
    /// the very operations of the two steps one after the other (so the values are
    /// bit-identical). Returns `false`, touching nothing, unless every column is numeric, both
    /// steps have one entry per column and every fill is a number; the caller then runs the steps
    /// one by one, which also reports any error.
    pub(crate) fn transform_imputed(&self, imputer: &FittedImputer, set: &mut WorkSet<'_>) -> bool {
        let fills: Option<Vec<f64>> = imputer
            .columns()
            .iter()
            .map(|c| match c.fill {
                FillValue::Number(f) => Some(f),
                FillValue::Text(_) => None,
            })
            .collect();
        let Some(fills) = fills else { return false };
        let n = set.cols.len();
        if fills.len() != n
            || self.columns.len() != n
            || !set.cols.iter().all(|c| matches!(c, WorkCol::Num { .. }))
        {
            return false;
        }
        let with_mean = self.with_mean;
        let threads = set.threads;
        let work: Vec<_> = set.cols.iter_mut().zip(fills).zip(&self.columns).collect();
        fan_out(work, threads, |((col, fill), st)| {
            if let WorkCol::Num { values, .. } = col {
                let mean = if with_mean { st.mean } else { 0.0 };
                let scale = st.scale;
                for v in values.iter_mut() {
                    let x = if v.is_nan() { fill } else { *v };
                    let y = (x - mean) / scale;
                    *v = if x.is_nan() { x } else { y };
                }
            }
        })
        .is_ok()
    }
}

impl ValidStandardScaler {
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedStandardScaler> {
        let threads = set.threads;
        let cols = numeric_columns(set, "standard_scaler")?;
        let names: Vec<&str> = cols.iter().map(|(name, _)| *name).collect();
        let values: Vec<&[f64]> = cols.iter().map(|(_, v)| v.as_slice()).collect();
        let stats = fan_out(values, threads, mean_var)?;
        let mut columns = Vec::with_capacity(names.len());
        for (name, stat) in names.into_iter().zip(stats) {
            let (mean, var, count) = stat.ok_or_else(|| all_missing("standard_scaler", name))?;
            let scale = if !self.0.with_std || is_constant(var, mean, count) {
                1.0
            } else {
                var.sqrt()
            };
            columns.push(StandardColumn {
                column: name.to_string(),
                mean,
                var,
                scale,
                count,
            });
        }
        Ok(FittedStandardScaler {
            with_mean: self.0.with_mean,
            columns,
        })
    }
}

/// Mean and population variance of the non-NaN values: a compensated two-pass computation with
/// the same correction term as scikit-learn's `_incremental_mean_and_var`.
pub(crate) fn mean_var(values: &[f64]) -> Option<(f64, f64, u64)> {
    // Missing values contribute an exact 0.0 (branch-free; they are scattered at random).
    let mut sum = Sum::default();
    let mut n = 0u64;
    for &v in values {
        let present = !v.is_nan();
        sum.add(if present { v } else { 0.0 });
        n += u64::from(present);
    }
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = sum.value() / nf;
    let mut sq = Sum::default();
    let mut corr = Sum::default();
    for &v in values {
        let d = if v.is_nan() { 0.0 } else { v - mean };
        corr.add(d);
        sq.add(d * d);
    }
    let c = corr.value();
    let var = ((sq.value() - c * c / nf) / nf).max(0.0);
    Some((mean, var, n))
}

/// scikit-learn's `_is_constant_feature`: the variance is within rounding error of zero.
fn is_constant(var: f64, mean: f64, n: u64) -> bool {
    let eps = f64::EPSILON;
    let n = n as f64;
    let bound = n * eps * var + (n * mean * eps).powi(2);
    var <= bound
}

// ---- MinMaxScaler -----------------------------------------------------------------------------

/// Unchecked `MinMaxScaler` parameters: `x * scale + min` mapping the training range onto
/// `feature_range` (default `(0, 1)`); a constant column gets scale `(max - min)` of the range, as
/// in scikit-learn. `clip` clamps transformed values into the range. Missing values are ignored
/// while fitting and passed through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScalerParams {
    feature_range: (f64, f64),
    clip: bool,
}

impl Default for MinMaxScalerParams {
    fn default() -> Self {
        Self {
            feature_range: (0.0, 1.0),
            clip: false,
        }
    }
}

impl MinMaxScalerParams {
    /// The output range; must be finite with `min < max`.
    pub fn feature_range(mut self, min: f64, max: f64) -> Self {
        self.feature_range = (min, max);
        self
    }
    /// Clamp transformed values into the range (default `false`).
    pub fn clip(mut self, yes: bool) -> Self {
        self.clip = yes;
        self
    }
}

/// Validated `MinMaxScaler` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMinMaxScaler(MinMaxScalerParams);

impl ValidMinMaxScaler {
    /// The output range.
    pub fn feature_range(&self) -> (f64, f64) {
        self.0.feature_range
    }
    /// Whether output is clamped into the range.
    pub fn clip(&self) -> bool {
        self.0.clip
    }
}

impl ParamGuard for MinMaxScalerParams {
    type Checked = ValidMinMaxScaler;
    fn check(&self) -> std::result::Result<ValidMinMaxScaler, ParamsError> {
        let (min, max) = self.feature_range;
        if !(min.is_finite() && max.is_finite() && min < max) {
            return Err(ParamsError::InvalidFeatureRange { min, max });
        }
        Ok(ValidMinMaxScaler(self.clone()))
    }
}

/// Fitted statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxColumn {
    /// The column.
    pub column: String,
    /// Smallest training value (`data_min_`).
    pub data_min: f64,
    /// Largest training value (`data_max_`).
    pub data_max: f64,
    /// Multiplier (`scale_`).
    pub scale: f64,
    /// Offset added after scaling (`min_`).
    pub min: f64,
}

/// A fitted `MinMaxScaler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedMinMaxScaler {
    feature_range: (f64, f64),
    clip: bool,
    columns: Vec<MinMaxColumn>,
}

impl FittedMinMaxScaler {
    /// Per-column statistics, in group order.
    pub fn columns(&self) -> &[MinMaxColumn] {
        &self.columns
    }
    /// The output range.
    pub fn feature_range(&self) -> (f64, f64) {
        self.feature_range
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        let cols = numeric_columns(set, "min_max_scaler")?;
        if cols.len() != self.columns.len() {
            return Err(layout_error(
                "min_max_scaler",
                self.columns.len(),
                cols.len(),
            ));
        }
        let (lo, hi) = self.feature_range;
        for ((_, values), st) in cols.into_iter().zip(&self.columns) {
            for v in values.iter_mut() {
                let x = *v;
                let y = x * st.scale + st.min;
                let y = if self.clip { y.max(lo).min(hi) } else { y };
                *v = if x.is_nan() { x } else { y };
            }
        }
        Ok(())
    }
}

impl ValidMinMaxScaler {
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedMinMaxScaler> {
        let cols = numeric_columns(set, "min_max_scaler")?;
        let (lo, hi) = self.0.feature_range;
        let mut columns = Vec::with_capacity(cols.len());
        for (name, values) in cols {
            let mut range: Option<(f64, f64)> = None;
            for &v in values.iter().filter(|v| !v.is_nan()) {
                range = Some(match range {
                    None => (v, v),
                    Some((a, b)) => (a.min(v), b.max(v)),
                });
            }
            let (data_min, data_max) = range.ok_or_else(|| all_missing("min_max_scaler", name))?;
            let mut data_range = data_max - data_min;
            // scikit-learn's _handle_zeros_in_scale.
            if data_range < 10.0 * f64::EPSILON {
                data_range = 1.0;
            }
            let scale = (hi - lo) / data_range;
            let min = lo - data_min * scale;
            columns.push(MinMaxColumn {
                column: name.to_string(),
                data_min,
                data_max,
                scale,
                min,
            });
        }
        Ok(FittedMinMaxScaler {
            feature_range: self.0.feature_range,
            clip: self.0.clip,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::borrow::Cow;

    use super::super::work::null_f64;
    use super::*;

    fn num(values: Vec<f64>) -> WorkSet<'static> {
        WorkSet {
            cols: vec![WorkCol::Num {
                name: "x".into(),
                values,
            }],
            row_offset: 0,
            threads: 1,
        }
    }

    fn values(set: &WorkSet<'_>) -> Vec<f64> {
        match &set.cols[0] {
            WorkCol::Num { values, .. } => values.clone(),
            _ => panic!("not numeric"),
        }
    }

    #[test]
    fn standard_scaler_check_never_fails() {
        for (m, s) in [(true, true), (false, true), (true, false), (false, false)] {
            assert!(
                StandardScalerParams::default()
                    .with_mean(m)
                    .with_std(s)
                    .check()
                    .is_ok()
            );
        }
    }

    #[test]
    fn standard_scaler_population_std_and_missing_passthrough() {
        let mut set = num(vec![1.0, 2.0, null_f64(), 3.0, 4.0]);
        let f = StandardScalerParams::default()
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        let c = &f.columns()[0];
        assert_eq!(c.mean, 2.5);
        assert_eq!(c.var, 1.25);
        assert_eq!(c.count, 4);
        f.transform(&mut set).unwrap();
        let v = values(&set);
        assert!((v[0] + 1.5 / 1.25f64.sqrt()).abs() < 1e-15);
        assert!(v[2].is_nan());
    }

    #[test]
    fn standard_scaler_constant_column_has_scale_one() {
        let mut set = num(vec![0.1; 7]);
        let f = StandardScalerParams::default()
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        assert_eq!(f.columns()[0].scale, 1.0);
        f.transform(&mut set).unwrap();
        assert!(values(&set).iter().all(|v| v.abs() < 1e-15));
    }

    #[test]
    fn standard_scaler_is_stable_with_large_offset() {
        let data: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i % 10)).collect();
        let (mean, var, _) = mean_var(&data).unwrap();
        assert!((mean - (1e9 + 4.5)).abs() < 1e-6);
        assert!((var - 8.25).abs() < 1e-9, "var = {var}");
    }

    #[test]
    fn standard_scaler_rejects_categorical() {
        let mut set = WorkSet {
            cols: vec![WorkCol::Cat {
                name: "c".into(),
                dict: vec![Cow::Borrowed("a")],
                codes: vec![0],
            }],
            row_offset: 0,
            threads: 1,
        };
        let e = StandardScalerParams::default()
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { .. }));
    }

    #[test]
    fn min_max_check_rejects_bad_ranges() {
        for (a, b) in [
            (1.0, 1.0),
            (2.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ] {
            let e = MinMaxScalerParams::default()
                .feature_range(a, b)
                .check()
                .unwrap_err();
            assert!(matches!(e, ParamsError::InvalidFeatureRange { .. }));
        }
    }

    #[test]
    fn min_max_maps_range_and_clips() {
        let mut set = num(vec![2.0, 4.0, 6.0]);
        let f = MinMaxScalerParams::default()
            .feature_range(-1.0, 1.0)
            .clip(true)
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        f.transform(&mut set).unwrap();
        assert_eq!(values(&set), vec![-1.0, 0.0, 1.0]);
        let mut out_of_range = num(vec![10.0, -10.0]);
        f.transform(&mut out_of_range).unwrap();
        assert_eq!(values(&out_of_range), vec![1.0, -1.0]);
    }

    #[test]
    fn min_max_constant_and_all_missing() {
        let mut set = num(vec![5.0, 5.0]);
        let f = MinMaxScalerParams::default()
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        f.transform(&mut set).unwrap();
        assert_eq!(values(&set), vec![0.0, 0.0]);
        let e = MinMaxScalerParams::default()
            .check()
            .unwrap()
            .fit(&mut num(vec![null_f64()]))
            .unwrap_err();
        assert!(matches!(e, Error::AllMissing { .. }));
    }
}
