//! Preprocessing steps in the linfa style: unchecked parameters → [`ParamGuard::check`] →
//! validated parameters → fit → a *fitted* step, the only thing that transforms.
//!
//! Steps are composed into a [`crate::pipeline::Pipeline`], which fits them on a
//! [`crate::BatchStream`] and turns record batches into a [`crate::FeatureMatrix`]. The steps:
//!
//! | params | validated | fitted | sklearn analogue |
//! |---|---|---|---|
//! | [`ImputerParams`] | [`ValidImputer`] | [`FittedImputer`] | `SimpleImputer` (mean, median, most_frequent, constant) |
//! | [`StandardScalerParams`] | [`ValidStandardScaler`] | [`FittedStandardScaler`] | `StandardScaler` |
//! | [`MinMaxScalerParams`] | [`ValidMinMaxScaler`] | [`FittedMinMaxScaler`] | `MinMaxScaler` |
//! | [`OneHotEncoderParams`] | [`ValidOneHotEncoder`] | [`FittedOneHotEncoder`] | `OneHotEncoder` |
//! | [`OrdinalEncoderParams`] | [`ValidOrdinalEncoder`] | [`FittedOrdinalEncoder`] | `OrdinalEncoder` |
//! | [`ClipParams`] | [`ValidClip`] | [`FittedClip`] | `FunctionTransformer(np.clip)` |
//! | [`Log1pParams`] | [`ValidLog1p`] | [`FittedLog1p`] | `FunctionTransformer(np.log1p)` |
//! | [`SelectParams`] / [`DropParams`] | [`ValidSelect`] / [`ValidDrop`] | [`FittedSelection`] | column selection |
//!
//! # Column kinds
//! Numeric input columns are any Arrow `Int*`, `UInt*` or `Float*` column (read as `f64`; integers
//! beyond 2^53 lose precision). Categorical input columns are `Utf8`, `LargeUtf8`, `Utf8View`,
//! `Boolean` (categories `"false"` / `"true"`) and `Dictionary` with string values.
//!
//! # Missing values, NaN and infinity
//! - Arrow nulls **and NaN** are *missing*: like scikit-learn's `SimpleImputer` with its default
//!   `missing_values=np.nan` (which is also how pandas reads a blank CSV field), an imputer fills both.
//! - Infinite values are always rejected with [`crate::Error::NonFinite`] (column and row) when the
//!   column is read, as scikit-learn rejects them.
//! - The scalers, [`ClipParams`] and [`Log1pParams`] work element-wise: like scikit-learn's scalers
//!   they ignore missing values while fitting and pass them through unchanged.
//! - A missing value reaching an encoder, or the output of a column group, is an error:
//!   [`crate::Error::NullValue`] for an Arrow null, [`crate::Error::NonFinite`] for a NaN, with the
//!   column and the 0-based row (counted over the whole stream in `fit` and `transform_stream`).
//!
//! Every step is applied to every column of its group, in the group's column order; a step that
//! cannot handle a column's kind fails with [`crate::Error::TypeMismatch`].

mod elementwise;
mod encode;
mod impute;
mod scale;
mod select;
pub(crate) mod work;

use serde::{Deserialize, Serialize};

pub use elementwise::{ClipParams, FittedClip, FittedLog1p, Log1pParams, ValidClip, ValidLog1p};
pub use encode::{
    FittedOneHotEncoder, FittedOrdinalEncoder, OneHotColumn, OneHotEncoderParams, OrdinalColumn,
    OrdinalEncoderParams, OrdinalUnknown, UnknownCategory, ValidOneHotEncoder, ValidOrdinalEncoder,
};
pub use impute::{
    FillValue, FittedImputer, ImputeStrategy, ImputerColumn, ImputerParams, ValidImputer,
};
pub use scale::{
    FittedMinMaxScaler, FittedStandardScaler, MinMaxColumn, MinMaxScalerParams, StandardColumn,
    StandardScalerParams, ValidMinMaxScaler, ValidStandardScaler,
};
pub use select::{DropParams, FittedSelection, SelectParams, ValidDrop, ValidSelect};

use crate::Result;
use work::WorkSet;

/// The name given to the extra one-hot column that collects infrequent (and, under
/// [`UnknownCategory::MapToOther`], unseen) categories: the feature is named `col=__other__`.
pub const OTHER_CATEGORY: &str = "__other__";

/// Unchecked parameters that validate into a checked form (linfa's `ParamGuard`).
pub trait ParamGuard {
    /// The validated parameters.
    type Checked;
    /// Validates every parameter, returning one [`ParamsError`] variant per kind of invalid value.
    fn check(&self) -> std::result::Result<Self::Checked, ParamsError>;
}

/// An invalid parameter of a step or pipeline, found by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// The constant an imputer fills numeric columns with is NaN or infinite.
    #[error("imputer fill value must be finite, got {value}")]
    FillValueNotFinite {
        /// The rejected value.
        value: f64,
    },
    /// A min-max `feature_range` is not finite or not strictly increasing.
    #[error("feature_range must be finite with min < max, got ({min}, {max})")]
    InvalidFeatureRange {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// A clip step without any bound.
    #[error("clip needs a min, a max or both")]
    ClipWithoutBounds,
    /// A clip bound is NaN.
    #[error("clip bound {bound} is NaN")]
    ClipBoundNaN {
        /// `"min"` or `"max"`.
        bound: &'static str,
    },
    /// The clip bounds are inverted.
    #[error("clip min {min} is greater than max {max}")]
    ClipBoundsInverted {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// `max_categories` of a one-hot encoder is zero.
    #[error("max_categories must be at least 1")]
    MaxCategoriesZero,
    /// The code an ordinal encoder gives unseen categories is NaN or infinite.
    #[error("ordinal unknown_value must be finite, got {value}")]
    UnknownValueNotFinite {
        /// The rejected value.
        value: f64,
    },
    /// A list of columns (a select/drop step or a column group) is empty.
    #[error("{what} has an empty column list")]
    EmptyColumnList {
        /// What owns the list, e.g. `select` or `group "num"`.
        what: String,
    },
    /// A list of columns names the same column twice.
    #[error("{what} lists column {column:?} twice")]
    DuplicateColumn {
        /// What owns the list.
        what: String,
        /// The repeated column.
        column: String,
    },
    /// A pipeline without column groups that also drops the remainder produces nothing.
    #[error("pipeline has no column groups and drops the remainder: it would output no features")]
    EmptyPipeline,
    /// Two column groups share a name.
    #[error("two column groups are named {name:?}")]
    DuplicateGroup {
        /// The repeated name.
        name: String,
    },
}

impl ParamsError {
    /// The name of the offending parameter.
    pub fn param(&self) -> &'static str {
        match self {
            Self::FillValueNotFinite { .. } => "fill_value",
            Self::InvalidFeatureRange { .. } => "feature_range",
            Self::ClipWithoutBounds
            | Self::ClipBoundNaN { .. }
            | Self::ClipBoundsInverted { .. } => "clip bounds",
            Self::MaxCategoriesZero => "max_categories",
            Self::UnknownValueNotFinite { .. } => "unknown_value",
            Self::EmptyColumnList { .. } | Self::DuplicateColumn { .. } => "columns",
            Self::EmptyPipeline => "groups",
            Self::DuplicateGroup { .. } => "group name",
        }
    }
}

impl From<ParamsError> for crate::Error {
    fn from(e: ParamsError) -> Self {
        crate::Error::InvalidParam {
            param: e.param(),
            reason: e.to_string(),
        }
    }
}

/// Whether a column is read as numbers or as categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ColumnKind {
    /// `Int*`, `UInt*` or `Float*`, read as `f64`.
    Numeric,
    /// `Utf8`, `LargeUtf8`, `Utf8View`, `Boolean` or a `Dictionary` of strings.
    Categorical,
}

impl ColumnKind {
    /// The kind of an Arrow data type, or `None` when no step can use it.
    pub fn of(data_type: &arrow_schema::DataType) -> Option<Self> {
        work::kind_of(data_type)
    }
}

/// One preprocessing step of a column group, with unchecked parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Step {
    /// Fill missing values.
    Impute(ImputerParams),
    /// Standardise to zero mean and unit (population) variance.
    StandardScaler(StandardScalerParams),
    /// Scale linearly into a feature range.
    MinMaxScaler(MinMaxScalerParams),
    /// One column per category.
    OneHot(OneHotEncoderParams),
    /// One code per category.
    Ordinal(OrdinalEncoderParams),
    /// Clamp to bounds.
    Clip(ClipParams),
    /// `ln(1 + x)`.
    Log1p(Log1pParams),
    /// Keep only the named (current) columns, in the given order.
    Select(SelectParams),
    /// Remove the named (current) columns.
    Drop(DropParams),
}

impl Step {
    /// An imputer with `strategy` and sklearn's default fill values.
    pub fn impute(strategy: ImputeStrategy) -> Self {
        Self::Impute(ImputerParams::new(strategy))
    }
    /// A standard scaler with sklearn's defaults (centre and scale).
    pub fn standard_scaler() -> Self {
        Self::StandardScaler(StandardScalerParams::default())
    }
    /// A min-max scaler into `[min, max]`.
    pub fn min_max_scaler(min: f64, max: f64) -> Self {
        Self::MinMaxScaler(MinMaxScalerParams::default().feature_range(min, max))
    }
    /// A one-hot encoder with the given unseen-category policy.
    pub fn one_hot(unknown: UnknownCategory) -> Self {
        Self::OneHot(OneHotEncoderParams::default().unknown(unknown))
    }
    /// An ordinal encoder with the given unseen-category policy.
    pub fn ordinal(unknown: OrdinalUnknown) -> Self {
        Self::Ordinal(OrdinalEncoderParams::default().unknown(unknown))
    }
    /// Clamp into `[min, max]` (either bound optional).
    pub fn clip(min: Option<f64>, max: Option<f64>) -> Self {
        Self::Clip(ClipParams { min, max })
    }
    /// `ln(1 + x)`.
    pub fn log1p() -> Self {
        Self::Log1p(Log1pParams)
    }
    /// Keep only these columns.
    pub fn select<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self::Select(SelectParams::new(columns))
    }
    /// Drop these columns.
    pub fn drop<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self::Drop(DropParams::new(columns))
    }
}

impl ParamGuard for Step {
    type Checked = CheckedStep;
    fn check(&self) -> std::result::Result<CheckedStep, ParamsError> {
        Ok(match self {
            Self::Impute(p) => CheckedStep::Impute(p.check()?),
            Self::StandardScaler(p) => CheckedStep::StandardScaler(p.check()?),
            Self::MinMaxScaler(p) => CheckedStep::MinMaxScaler(p.check()?),
            Self::OneHot(p) => CheckedStep::OneHot(p.check()?),
            Self::Ordinal(p) => CheckedStep::Ordinal(p.check()?),
            Self::Clip(p) => CheckedStep::Clip(p.check()?),
            Self::Log1p(p) => CheckedStep::Log1p(p.check()?),
            Self::Select(p) => CheckedStep::Select(p.check()?),
            Self::Drop(p) => CheckedStep::Drop(p.check()?),
        })
    }
}

/// A step with validated parameters, ready to fit.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CheckedStep {
    /// See [`Step::Impute`].
    Impute(ValidImputer),
    /// See [`Step::StandardScaler`].
    StandardScaler(ValidStandardScaler),
    /// See [`Step::MinMaxScaler`].
    MinMaxScaler(ValidMinMaxScaler),
    /// See [`Step::OneHot`].
    OneHot(ValidOneHotEncoder),
    /// See [`Step::Ordinal`].
    Ordinal(ValidOrdinalEncoder),
    /// See [`Step::Clip`].
    Clip(ValidClip),
    /// See [`Step::Log1p`].
    Log1p(ValidLog1p),
    /// See [`Step::Select`].
    Select(ValidSelect),
    /// See [`Step::Drop`].
    Drop(ValidDrop),
}

impl CheckedStep {
    /// Fits the step on the current columns of a group.
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedStep> {
        Ok(match self {
            Self::Impute(p) => FittedStep::Imputer(p.fit(set)?),
            Self::StandardScaler(p) => FittedStep::StandardScaler(p.fit(set)?),
            Self::MinMaxScaler(p) => FittedStep::MinMaxScaler(p.fit(set)?),
            Self::OneHot(p) => FittedStep::OneHot(p.fit(set)?),
            Self::Ordinal(p) => FittedStep::Ordinal(p.fit(set)?),
            Self::Clip(p) => FittedStep::Clip(p.fit()),
            Self::Log1p(p) => FittedStep::Log1p(p.fit()),
            Self::Select(p) => FittedStep::Selection(p.fit(set)?),
            Self::Drop(p) => FittedStep::Selection(p.fit(set)?),
        })
    }
}

/// A fitted step: the only form that transforms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FittedStep {
    /// A fitted imputer.
    Imputer(FittedImputer),
    /// A fitted standard scaler.
    StandardScaler(FittedStandardScaler),
    /// A fitted min-max scaler.
    MinMaxScaler(FittedMinMaxScaler),
    /// A fitted one-hot encoder.
    OneHot(FittedOneHotEncoder),
    /// A fitted ordinal encoder.
    Ordinal(FittedOrdinalEncoder),
    /// A clip step.
    Clip(FittedClip),
    /// A log1p step.
    Log1p(FittedLog1p),
    /// A select or drop step.
    Selection(FittedSelection),
}

impl FittedStep {
    /// A short name for spans and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Imputer(_) => "imputer",
            Self::StandardScaler(_) => "standard_scaler",
            Self::MinMaxScaler(_) => "min_max_scaler",
            Self::OneHot(_) => "one_hot",
            Self::Ordinal(_) => "ordinal",
            Self::Clip(_) => "clip",
            Self::Log1p(_) => "log1p",
            Self::Selection(_) => "selection",
        }
    }

    /// Applies the step to the current columns of a group.
    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        match self {
            Self::Imputer(f) => f.transform(set),
            Self::StandardScaler(f) => f.transform(set),
            Self::MinMaxScaler(f) => f.transform(set),
            Self::OneHot(f) => f.transform(set),
            Self::Ordinal(f) => f.transform(set),
            Self::Clip(f) => f.transform(set),
            Self::Log1p(f) => f.transform(set),
            Self::Selection(f) => f.transform(set),
        }
    }
}

/// Compensated (Neumaier) summation: accurate sums for the mean and variance.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }
    pub(crate) fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// An error for a fitted state that does not line up with the columns it is applied to (only
/// possible with a hand-edited or corrupted serialised pipeline).
pub(crate) fn layout_error(step: &str, expected: usize, found: usize) -> crate::Error {
    crate::Error::Incompatible(format!(
        "fitted {step} step has state for {expected} column(s) but the group has {found}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn neumaier_sum_is_accurate() {
        let mut s = Sum::default();
        for x in [1e16, 1.0, -1e16, 1.0] {
            s.add(x);
        }
        assert_eq!(s.value(), 2.0);
    }

    #[test]
    fn params_error_converts_to_invalid_param() {
        let e: crate::Error = ParamsError::MaxCategoriesZero.into();
        assert!(matches!(
            e,
            crate::Error::InvalidParam {
                param: "max_categories",
                ..
            }
        ));
    }

    #[test]
    fn step_check_dispatches() {
        assert!(Step::clip(None, None).check().is_err());
        assert!(Step::clip(Some(0.0), None).check().is_ok());
        assert!(Step::standard_scaler().check().is_ok());
    }
}
