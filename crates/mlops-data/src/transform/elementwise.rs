//! Element-wise numeric steps: clipping and `log1p`. Missing values pass through unchanged.

use serde::{Deserialize, Serialize};

use super::scale::numeric_columns;
use super::work::WorkSet;
use super::{ParamGuard, ParamsError};
use crate::{Error, Result};

/// Unchecked clip parameters: values below `min` become `min`, above `max` become `max`.
/// At least one bound; bounds may be infinite (no bound) but not NaN; `min <= max`.
///
/// ```
/// use mlops_data::transform::{ClipParams, ParamGuard};
/// assert!(ClipParams { min: Some(0.0), max: None }.check().is_ok());
/// assert!(ClipParams { min: Some(2.0), max: Some(1.0) }.check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClipParams {
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
}

/// Validated clip parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidClip {
    min: f64,
    max: f64,
}

impl ValidClip {
    /// Lower bound (`-inf` when none).
    pub fn min(&self) -> f64 {
        self.min
    }
    /// Upper bound (`+inf` when none).
    pub fn max(&self) -> f64 {
        self.max
    }
    pub(crate) fn fit(&self) -> FittedClip {
        FittedClip {
            min: self.min,
            max: self.max,
        }
    }
}

impl ParamGuard for ClipParams {
    type Checked = ValidClip;
    fn check(&self) -> std::result::Result<ValidClip, ParamsError> {
        if self.min.is_none() && self.max.is_none() {
            return Err(ParamsError::ClipWithoutBounds);
        }
        let min = self.min.unwrap_or(f64::NEG_INFINITY);
        let max = self.max.unwrap_or(f64::INFINITY);
        if min.is_nan() {
            return Err(ParamsError::ClipBoundNaN { bound: "min" });
        }
        if max.is_nan() {
            return Err(ParamsError::ClipBoundNaN { bound: "max" });
        }
        if min > max {
            return Err(ParamsError::ClipBoundsInverted { min, max });
        }
        Ok(ValidClip { min, max })
    }
}

/// A clip step (stateless: fitting only freezes the bounds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedClip {
    min: f64,
    max: f64,
}

impl FittedClip {
    /// Lower bound.
    pub fn min(&self) -> f64 {
        self.min
    }
    /// Upper bound.
    pub fn max(&self) -> f64 {
        self.max
    }
    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        for (_, values) in numeric_columns(set, "clip")? {
            for v in values.iter_mut() {
                // NaN compares false: missing values keep their bits.
                if *v < self.min {
                    *v = self.min;
                } else if *v > self.max {
                    *v = self.max;
                }
            }
        }
        Ok(())
    }
}

/// `log1p` parameters: `ln(1 + x)`, defined for `x > -1`; a value `<= -1` fails with
/// [`crate::Error::OutOfDomain`] naming the column and row. There is nothing to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Log1pParams;

/// Validated `log1p` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidLog1p;

impl ValidLog1p {
    pub(crate) fn fit(&self) -> FittedLog1p {
        FittedLog1p
    }
}

impl ParamGuard for Log1pParams {
    type Checked = ValidLog1p;
    /// Never fails.
    fn check(&self) -> std::result::Result<ValidLog1p, ParamsError> {
        Ok(ValidLog1p)
    }
}

/// A `log1p` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FittedLog1p;

impl FittedLog1p {
    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        let row_offset = set.row_offset;
        for (name, values) in numeric_columns(set, "log1p")? {
            for (i, v) in values.iter_mut().enumerate() {
                if v.is_nan() {
                    continue;
                }
                if *v <= -1.0 {
                    return Err(Error::OutOfDomain {
                        step: "log1p",
                        column: name.to_string(),
                        row: row_offset + i as u64,
                        value: *v,
                        domain: "x > -1",
                    });
                }
                *v = v.ln_1p();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::work::{WorkCol, null_f64};
    use super::*;

    fn num(values: Vec<f64>) -> WorkSet<'static> {
        WorkSet {
            cols: vec![WorkCol::Num {
                name: "x".into(),
                values,
            }],
            row_offset: 7,
            threads: 1,
        }
    }

    fn values(set: &WorkSet<'_>) -> Vec<f64> {
        match &set.cols[0] {
            WorkCol::Num { values, .. } => values.clone(),
            _ => panic!(),
        }
    }

    #[test]
    fn clip_check_errors() {
        assert_eq!(
            ClipParams::default().check().unwrap_err(),
            ParamsError::ClipWithoutBounds
        );
        assert_eq!(
            ClipParams {
                min: Some(f64::NAN),
                max: None
            }
            .check()
            .unwrap_err(),
            ParamsError::ClipBoundNaN { bound: "min" }
        );
        assert_eq!(
            ClipParams {
                min: None,
                max: Some(f64::NAN)
            }
            .check()
            .unwrap_err(),
            ParamsError::ClipBoundNaN { bound: "max" }
        );
        assert!(matches!(
            ClipParams {
                min: Some(1.0),
                max: Some(0.0)
            }
            .check()
            .unwrap_err(),
            ParamsError::ClipBoundsInverted { .. }
        ));
    }

    #[test]
    fn clip_clamps_and_keeps_missing() {
        let f = ClipParams {
            min: Some(0.0),
            max: Some(10.0),
        }
        .check()
        .unwrap()
        .fit();
        let mut set = num(vec![-5.0, 5.0, 50.0, null_f64()]);
        f.transform(&mut set).unwrap();
        let v = values(&set);
        assert_eq!(&v[..3], &[0.0, 5.0, 10.0]);
        assert_eq!(v[3].to_bits(), null_f64().to_bits());
    }

    #[test]
    fn log1p_values_and_domain_error() {
        let f = Log1pParams.check().unwrap().fit();
        let mut set = num(vec![0.0, 1.0, -0.5]);
        f.transform(&mut set).unwrap();
        assert_eq!(values(&set), vec![0.0, 1f64.ln_1p(), (-0.5f64).ln_1p()]);
        let e = f.transform(&mut num(vec![0.0, -1.0])).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { ref column, row: 8, value, .. } if column == "x" && value == -1.0)
        );
    }
}
