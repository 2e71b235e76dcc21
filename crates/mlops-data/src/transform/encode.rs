//! One-hot and ordinal encoders with scikit-learn's category order (sorted by Unicode code point).

use serde::{Deserialize, Serialize};

use super::work::{NONE, WorkCol, WorkSet, count_codes, kind_error, sorted_categories};
use super::{ColumnKind, OTHER_CATEGORY, ParamGuard, ParamsError, layout_error};
use crate::{Error, Result};

/// What a one-hot encoder does with a category it did not see while fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UnknownCategory {
    /// Fail with [`crate::Error::UnseenCategory`] (scikit-learn's default `handle_unknown="error"`).
    #[default]
    Error,
    /// Encode as all zeros (`handle_unknown="ignore"`).
    Ignore,
    /// Encode in an extra `col=__other__` column, which always exists
    /// (`handle_unknown="infrequent_if_exist"` with a guaranteed infrequent column).
    MapToOther,
}

/// Unchecked `OneHotEncoder` parameters.
///
/// Categories are the distinct values seen while fitting, sorted by code point like scikit-learn;
/// output columns are named `col=category`. With `max_categories = Some(k)` and more than `k`
/// categories, the `k - 1` most frequent are kept and the rest share a `col=__other__` column
/// (scikit-learn's `max_categories`, including its tie rule: among equally frequent categories the
/// ones later in sorted order are kept). A missing value reaching the encoder is an error: put an
/// imputer first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OneHotEncoderParams {
    unknown: UnknownCategory,
    max_categories: Option<usize>,
    drop_first: bool,
}

impl OneHotEncoderParams {
    /// The unseen-category policy (default [`UnknownCategory::Error`]).
    pub fn unknown(mut self, policy: UnknownCategory) -> Self {
        self.unknown = policy;
        self
    }
    /// Cap the number of output columns per input column, other bucket included (at least 1).
    pub fn max_categories(mut self, max: Option<usize>) -> Self {
        self.max_categories = max;
        self
    }
    /// Drop the first output column of each input column (`drop="first"`): that category is
    /// encoded as all zeros. Under [`UnknownCategory::Ignore`] unseen values are then
    /// indistinguishable from it, as in scikit-learn.
    pub fn drop_first(mut self, yes: bool) -> Self {
        self.drop_first = yes;
        self
    }
}

/// Validated `OneHotEncoder` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOneHotEncoder(OneHotEncoderParams);

impl ValidOneHotEncoder {
    /// The unseen-category policy.
    pub fn unknown(&self) -> UnknownCategory {
        self.0.unknown
    }
    /// The cap on output columns per input column.
    pub fn max_categories(&self) -> Option<usize> {
        self.0.max_categories
    }
    /// Whether the first output column is dropped.
    pub fn drop_first(&self) -> bool {
        self.0.drop_first
    }
}

impl ParamGuard for OneHotEncoderParams {
    type Checked = ValidOneHotEncoder;
    fn check(&self) -> std::result::Result<ValidOneHotEncoder, ParamsError> {
        if self.max_categories == Some(0) {
            return Err(ParamsError::MaxCategoriesZero);
        }
        Ok(ValidOneHotEncoder(self.clone()))
    }
}

/// The fitted categories of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneHotColumn {
    /// The column.
    pub column: String,
    /// Categories with their own output column, sorted.
    pub categories: Vec<String>,
    /// Seen but infrequent categories, sorted; they map to the other column.
    pub infrequent: Vec<String>,
    /// Whether the `col=__other__` column exists (last).
    pub has_other: bool,
    /// Output feature names (after dropping the first, if asked).
    pub feature_names: Vec<String>,
}

/// A fitted `OneHotEncoder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedOneHotEncoder {
    unknown: UnknownCategory,
    drop_first: bool,
    columns: Vec<OneHotColumn>,
}

/// Per-dictionary-entry marker: the category is unseen under the error policy.
const UNSEEN: u32 = u32::MAX - 1;

impl FittedOneHotEncoder {
    /// Per-column categories, in group order.
    pub fn columns(&self) -> &[OneHotColumn] {
        &self.columns
    }

    /// The unseen-category policy it was fitted with.
    pub fn unknown(&self) -> UnknownCategory {
        self.unknown
    }

    /// Output position (before dropping) of a category; `None` if unseen.
    fn position(&self, col: &OneHotColumn, s: &str) -> Option<usize> {
        if let Ok(i) = col.categories.binary_search_by(|c| c.as_str().cmp(s)) {
            return Some(i);
        }
        let other = col.categories.len();
        if col
            .infrequent
            .binary_search_by(|c| c.as_str().cmp(s))
            .is_ok()
        {
            return Some(other);
        }
        (self.unknown == UnknownCategory::MapToOther && col.has_other).then_some(other)
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        if set.cols.len() != self.columns.len() {
            return Err(layout_error("one_hot", self.columns.len(), set.cols.len()));
        }
        let row_offset = set.row_offset;
        let cols = std::mem::take(&mut set.cols);
        let mut out = Vec::with_capacity(cols.len());
        for (col, fitted) in cols.into_iter().zip(&self.columns) {
            let WorkCol::Cat { name, dict, codes } = col else {
                return Err(kind_error(
                    col.name(),
                    "one_hot",
                    ColumnKind::Categorical,
                    "numeric",
                ));
            };
            let drop = usize::from(self.drop_first);
            let map: Vec<u32> = dict
                .iter()
                .map(|s| match self.position(fitted, s) {
                    Some(p) if p < drop => NONE,
                    Some(p) => u32::try_from(p - drop).unwrap_or(NONE),
                    None if self.unknown == UnknownCategory::Error => UNSEEN,
                    None => NONE,
                })
                .collect();
            let mut new_codes = codes;
            for (i, c) in new_codes.iter_mut().enumerate() {
                let row = row_offset + i as u64;
                let m = map.get(*c as usize).copied();
                *c = match m {
                    None => return Err(Error::NullValue { column: name, row }),
                    Some(UNSEEN) => {
                        return Err(Error::UnseenCategory {
                            value: dict
                                .get(*c as usize)
                                .map(|s| s.to_string())
                                .unwrap_or_default(),
                            column: name,
                            row,
                        });
                    }
                    Some(m) => m,
                };
            }
            out.push(WorkCol::OneHot {
                names: fitted.feature_names.clone(),
                codes: new_codes,
            });
        }
        set.cols = out;
        Ok(())
    }
}

impl ValidOneHotEncoder {
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedOneHotEncoder> {
        let mut columns = Vec::with_capacity(set.cols.len());
        for col in &set.cols {
            let WorkCol::Cat { name, dict, codes } = col else {
                return Err(kind_error(
                    col.name(),
                    "one_hot",
                    ColumnKind::Categorical,
                    "numeric",
                ));
            };
            let counts = count_codes(name, dict.len(), codes, set.row_offset)?;
            let cats = sorted_categories(dict, &counts);
            let (categories, infrequent) = split_infrequent(cats, self.0.max_categories);
            let has_other = !infrequent.is_empty() || self.0.unknown == UnknownCategory::MapToOther;
            let mut feature_names: Vec<String> =
                categories.iter().map(|c| format!("{name}={c}")).collect();
            if has_other {
                feature_names.push(format!("{name}={OTHER_CATEGORY}"));
            }
            if self.0.drop_first && !feature_names.is_empty() {
                feature_names.remove(0);
            }
            columns.push(OneHotColumn {
                column: name.clone(),
                categories,
                infrequent,
                has_other,
                feature_names,
            });
        }
        Ok(FittedOneHotEncoder {
            unknown: self.0.unknown,
            drop_first: self.0.drop_first,
            columns,
        })
    }
}

/// Splits sorted `(category, count)` pairs into kept and infrequent categories (both sorted),
/// with scikit-learn's rule: keep the `max - 1` most frequent; a stable ascending sort by count
/// marks the first `n - (max - 1)` as infrequent, so ties keep the later categories.
fn split_infrequent(cats: Vec<(String, u64)>, max: Option<usize>) -> (Vec<String>, Vec<String>) {
    let n = cats.len();
    let Some(max) = max.filter(|&m| m < n) else {
        return (cats.into_iter().map(|(c, _)| c).collect(), Vec::new());
    };
    let keep = max.saturating_sub(1);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| cats.get(i).map_or(0, |(_, c)| *c)); // stable
    let mut is_infrequent = vec![false; n];
    for &i in order.iter().take(n - keep) {
        if let Some(f) = is_infrequent.get_mut(i) {
            *f = true;
        }
    }
    let mut kept = Vec::with_capacity(keep);
    let mut infrequent = Vec::with_capacity(n - keep);
    for ((c, _), inf) in cats.into_iter().zip(is_infrequent) {
        if inf {
            infrequent.push(c);
        } else {
            kept.push(c);
        }
    }
    (kept, infrequent)
}

// ---- OrdinalEncoder ---------------------------------------------------------------------------

/// What an ordinal encoder does with a category it did not see while fitting.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum OrdinalUnknown {
    /// Fail with [`crate::Error::UnseenCategory`] (scikit-learn's default).
    #[default]
    Error,
    /// Encode as this finite code (`handle_unknown="use_encoded_value"`); it must not be one of
    /// the codes `0..n_categories` (checked when fitting).
    Code(f64),
}

/// Unchecked `OrdinalEncoder` parameters: each category becomes its index in the sorted list of
/// categories seen while fitting. A missing value reaching the encoder is an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OrdinalEncoderParams {
    unknown: OrdinalUnknown,
}

impl OrdinalEncoderParams {
    /// The unseen-category policy (default [`OrdinalUnknown::Error`]).
    pub fn unknown(mut self, policy: OrdinalUnknown) -> Self {
        self.unknown = policy;
        self
    }
}

/// Validated `OrdinalEncoder` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidOrdinalEncoder(OrdinalEncoderParams);

impl ValidOrdinalEncoder {
    /// The unseen-category policy.
    pub fn unknown(&self) -> OrdinalUnknown {
        self.0.unknown
    }
}

impl ParamGuard for OrdinalEncoderParams {
    type Checked = ValidOrdinalEncoder;
    fn check(&self) -> std::result::Result<ValidOrdinalEncoder, ParamsError> {
        if let OrdinalUnknown::Code(v) = self.unknown
            && !v.is_finite()
        {
            return Err(ParamsError::UnknownValueNotFinite { value: v });
        }
        Ok(ValidOrdinalEncoder(self.clone()))
    }
}

/// The fitted categories of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdinalColumn {
    /// The column.
    pub column: String,
    /// Categories, sorted; a category's code is its index.
    pub categories: Vec<String>,
}

/// A fitted `OrdinalEncoder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedOrdinalEncoder {
    unknown: OrdinalUnknown,
    columns: Vec<OrdinalColumn>,
}

impl FittedOrdinalEncoder {
    /// Per-column categories, in group order.
    pub fn columns(&self) -> &[OrdinalColumn] {
        &self.columns
    }

    /// The unseen-category policy it was fitted with.
    pub fn unknown(&self) -> OrdinalUnknown {
        self.unknown
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        if set.cols.len() != self.columns.len() {
            return Err(layout_error("ordinal", self.columns.len(), set.cols.len()));
        }
        let row_offset = set.row_offset;
        let cols = std::mem::take(&mut set.cols);
        let mut out = Vec::with_capacity(cols.len());
        for (col, fitted) in cols.into_iter().zip(&self.columns) {
            let WorkCol::Cat { name, dict, codes } = col else {
                return Err(kind_error(
                    col.name(),
                    "ordinal",
                    ColumnKind::Categorical,
                    "numeric",
                ));
            };
            // NaN marks "unseen" here; it never survives into the output.
            let map: Vec<f64> = dict
                .iter()
                .map(|s| {
                    match fitted
                        .categories
                        .binary_search_by(|c| c.as_str().cmp(s.as_ref()))
                    {
                        Ok(i) => i as f64,
                        Err(_) => match self.unknown {
                            OrdinalUnknown::Code(v) => v,
                            OrdinalUnknown::Error => f64::NAN,
                        },
                    }
                })
                .collect();
            let mut values = Vec::with_capacity(codes.len());
            for (i, &c) in codes.iter().enumerate() {
                let row = row_offset + i as u64;
                match map.get(c as usize) {
                    None => return Err(Error::NullValue { column: name, row }),
                    Some(v) if v.is_nan() => {
                        return Err(Error::UnseenCategory {
                            value: dict
                                .get(c as usize)
                                .map(|s| s.to_string())
                                .unwrap_or_default(),
                            column: name,
                            row,
                        });
                    }
                    Some(&v) => values.push(v),
                }
            }
            out.push(WorkCol::Num { name, values });
        }
        set.cols = out;
        Ok(())
    }
}

impl ValidOrdinalEncoder {
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedOrdinalEncoder> {
        let mut columns = Vec::with_capacity(set.cols.len());
        for col in &set.cols {
            let WorkCol::Cat { name, dict, codes } = col else {
                return Err(kind_error(
                    col.name(),
                    "ordinal",
                    ColumnKind::Categorical,
                    "numeric",
                ));
            };
            let counts = count_codes(name, dict.len(), codes, set.row_offset)?;
            let categories: Vec<String> = sorted_categories(dict, &counts)
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            if let OrdinalUnknown::Code(v) = self.0.unknown
                && v >= 0.0
                && v.fract() == 0.0
                && v < categories.len() as f64
            {
                return Err(Error::InvalidParam {
                    param: "unknown_value",
                    reason: format!(
                        "{v} is already the code of category {:?} of column {name:?}",
                        categories.get(v as usize).map_or("", String::as_str)
                    ),
                });
            }
            columns.push(OrdinalColumn {
                column: name.clone(),
                categories,
            });
        }
        Ok(FittedOrdinalEncoder {
            unknown: self.0.unknown,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::borrow::Cow;

    use super::super::work::MISSING;
    use super::*;

    fn cat(dict: &[&'static str], codes: Vec<u32>) -> WorkSet<'static> {
        WorkSet {
            cols: vec![WorkCol::Cat {
                name: "c".into(),
                dict: dict.iter().map(|s| Cow::Borrowed(*s)).collect(),
                codes,
            }],
            row_offset: 100,
            threads: 1,
        }
    }

    fn one_hot_codes(set: &WorkSet<'_>) -> (Vec<String>, Vec<u32>) {
        match &set.cols[0] {
            WorkCol::OneHot { names, codes } => (names.clone(), codes.clone()),
            _ => panic!("not one-hot"),
        }
    }

    #[test]
    fn one_hot_check_rejects_zero_max_categories() {
        let e = OneHotEncoderParams::default()
            .max_categories(Some(0))
            .check()
            .unwrap_err();
        assert_eq!(e, ParamsError::MaxCategoriesZero);
        assert!(
            OneHotEncoderParams::default()
                .max_categories(Some(1))
                .check()
                .is_ok()
        );
    }

    #[test]
    fn one_hot_sorted_categories_and_policies() {
        let train = || cat(&["gold", "basic", "silver"], vec![0, 1, 2, 1]);
        let test = || cat(&["zinc", "basic", "gold"], vec![1, 0, 2]);
        for policy in [
            UnknownCategory::Error,
            UnknownCategory::Ignore,
            UnknownCategory::MapToOther,
        ] {
            let f = OneHotEncoderParams::default()
                .unknown(policy)
                .check()
                .unwrap()
                .fit(&mut train())
                .unwrap();
            let mut set = test();
            let r = f.transform(&mut set);
            match policy {
                UnknownCategory::Error => {
                    let e = r.unwrap_err();
                    assert!(
                        matches!(e, Error::UnseenCategory { ref column, ref value, row: 101 } if column == "c" && value == "zinc")
                    );
                }
                UnknownCategory::Ignore => {
                    r.unwrap();
                    let (names, codes) = one_hot_codes(&set);
                    assert_eq!(names, vec!["c=basic", "c=gold", "c=silver"]);
                    assert_eq!(codes, vec![0, NONE, 1]);
                }
                UnknownCategory::MapToOther => {
                    r.unwrap();
                    let (names, codes) = one_hot_codes(&set);
                    assert_eq!(names, vec!["c=basic", "c=gold", "c=silver", "c=__other__"]);
                    assert_eq!(codes, vec![0, 3, 1]);
                }
            }
        }
    }

    #[test]
    fn one_hot_max_categories_ties_like_sklearn() {
        // counts: a 1, b 3, c 2, d 2 -> keep 2 (max 3 incl. other): b and the later of the tie c/d.
        let mut set = cat(&["a", "b", "c", "d"], vec![0, 1, 1, 1, 2, 2, 3, 3]);
        let f = OneHotEncoderParams::default()
            .max_categories(Some(3))
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        let c = &f.columns()[0];
        assert_eq!(c.categories, vec!["b", "d"]);
        assert_eq!(c.infrequent, vec!["a", "c"]);
        assert_eq!(c.feature_names, vec!["c=b", "c=d", "c=__other__"]);
        f.transform(&mut set).unwrap();
        assert_eq!(one_hot_codes(&set).1, vec![2, 0, 0, 0, 2, 2, 1, 1]);
    }

    #[test]
    fn one_hot_drop_first_and_missing_is_an_error() {
        let mut set = cat(&["b", "a"], vec![0, 1]);
        let f = OneHotEncoderParams::default()
            .drop_first(true)
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        f.transform(&mut set).unwrap();
        let (names, codes) = one_hot_codes(&set);
        assert_eq!(names, vec!["c=b"]);
        assert_eq!(codes, vec![0, NONE]);

        let e = OneHotEncoderParams::default()
            .check()
            .unwrap()
            .fit(&mut cat(&["a"], vec![0, MISSING]))
            .unwrap_err();
        assert!(matches!(e, Error::NullValue { row: 101, .. }));
    }

    #[test]
    fn ordinal_check_rejects_non_finite_unknown_code() {
        let e = OrdinalEncoderParams::default()
            .unknown(OrdinalUnknown::Code(f64::NAN))
            .check()
            .unwrap_err();
        assert!(matches!(e, ParamsError::UnknownValueNotFinite { .. }));
    }

    #[test]
    fn ordinal_codes_unknown_and_conflicting_code() {
        let f = OrdinalEncoderParams::default()
            .unknown(OrdinalUnknown::Code(-1.0))
            .check()
            .unwrap()
            .fit(&mut cat(&["y", "x"], vec![0, 1]))
            .unwrap();
        let mut set = cat(&["x", "q", "y"], vec![2, 1, 0]);
        f.transform(&mut set).unwrap();
        let WorkCol::Num { values, .. } = &set.cols[0] else {
            panic!()
        };
        assert_eq!(values, &vec![1.0, -1.0, 0.0]);

        let e = OrdinalEncoderParams::default()
            .unknown(OrdinalUnknown::Code(1.0))
            .check()
            .unwrap()
            .fit(&mut cat(&["y", "x"], vec![0, 1]))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidParam { .. }));

        let f = OrdinalEncoderParams::default()
            .check()
            .unwrap()
            .fit(&mut cat(&["y"], vec![0]))
            .unwrap();
        let e = f.transform(&mut cat(&["z"], vec![0])).unwrap_err();
        assert!(matches!(e, Error::UnseenCategory { ref value, .. } if value == "z"));
    }
}
