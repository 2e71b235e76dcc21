//! Missing-value imputation with scikit-learn `SimpleImputer` semantics.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::work::{MISSING, WorkCol, WorkSet, kind_error};
use super::{ColumnKind, ParamGuard, ParamsError, Sum, layout_error};
use crate::pipeline::threads::fan_out;
use crate::{Error, Result};

/// How an imputer chooses the fill value of each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImputeStrategy {
    /// Mean of the non-missing values (numeric columns only).
    Mean,
    /// Median of the non-missing values; for an even count the mean of the two middle values,
    /// like numpy (numeric columns only).
    Median,
    /// The most frequent non-missing value; ties go to the smallest value (numbers by value,
    /// strings by Unicode code point), like scikit-learn. Numeric and categorical columns.
    MostFrequent,
    /// A constant: [`ImputerParams::fill_number`] for numeric columns,
    /// [`ImputerParams::fill_text`] for categorical columns.
    Constant,
}

/// Unchecked imputer parameters (`SimpleImputer`). Nulls and NaN are both missing.
///
/// ```
/// use mlops_data::transform::{ImputeStrategy, ImputerParams, ParamGuard};
/// let p = ImputerParams::new(ImputeStrategy::Constant).fill_number(-1.0).fill_text("none");
/// assert!(p.check().is_ok());
/// assert!(ImputerParams::new(ImputeStrategy::Constant).fill_number(f64::NAN).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImputerParams {
    strategy: ImputeStrategy,
    fill_number: f64,
    fill_text: String,
}

impl ImputerParams {
    /// An imputer with `strategy`; the constant fill values default to scikit-learn's
    /// (`0` for numbers, `"missing_value"` for categories).
    pub fn new(strategy: ImputeStrategy) -> Self {
        Self {
            strategy,
            fill_number: 0.0,
            fill_text: "missing_value".to_string(),
        }
    }
    /// The constant for numeric columns under [`ImputeStrategy::Constant`]; must be finite.
    pub fn fill_number(mut self, value: f64) -> Self {
        self.fill_number = value;
        self
    }
    /// The constant for categorical columns under [`ImputeStrategy::Constant`].
    pub fn fill_text(mut self, value: impl Into<String>) -> Self {
        self.fill_text = value.into();
        self
    }
}

/// Validated imputer parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidImputer(ImputerParams);

impl ValidImputer {
    /// The strategy.
    pub fn strategy(&self) -> ImputeStrategy {
        self.0.strategy
    }
    /// The numeric constant.
    pub fn fill_number(&self) -> f64 {
        self.0.fill_number
    }
    /// The categorical constant.
    pub fn fill_text(&self) -> &str {
        &self.0.fill_text
    }
}

impl ParamGuard for ImputerParams {
    type Checked = ValidImputer;
    fn check(&self) -> std::result::Result<ValidImputer, ParamsError> {
        if !self.fill_number.is_finite() {
            return Err(ParamsError::FillValueNotFinite {
                value: self.fill_number,
            });
        }
        Ok(ValidImputer(self.clone()))
    }
}

/// A fill value learned for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FillValue {
    /// For a numeric column.
    Number(f64),
    /// For a categorical column.
    Text(String),
}

/// The fill value of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImputerColumn {
    /// The column.
    pub column: String,
    /// What replaces its missing values.
    pub fill: FillValue,
}

/// A fitted imputer: one fill value per column of its group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedImputer {
    strategy: ImputeStrategy,
    columns: Vec<ImputerColumn>,
}

impl FittedImputer {
    /// The strategy it was fitted with.
    pub fn strategy(&self) -> ImputeStrategy {
        self.strategy
    }
    /// The fill value of each column, in group order.
    pub fn columns(&self) -> &[ImputerColumn] {
        &self.columns
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        set.materialise_one_hot();
        if set.cols.len() != self.columns.len() {
            return Err(layout_error("imputer", self.columns.len(), set.cols.len()));
        }
        let threads = set.threads;
        let work: Vec<_> = set.cols.iter_mut().zip(&self.columns).collect();
        let results = fan_out(work, threads, |(col, fitted)| -> Result<()> {
            match (col, &fitted.fill) {
                (WorkCol::Num { values, .. }, FillValue::Number(fill)) => {
                    let fill = *fill;
                    for v in values.iter_mut() {
                        // Branch-free select: missing values are scattered at random.
                        *v = if v.is_nan() { fill } else { *v };
                    }
                }
                (WorkCol::Cat { dict, codes, .. }, FillValue::Text(fill)) => {
                    if !codes.contains(&MISSING) {
                        return Ok(());
                    }
                    let code = match dict.iter().position(|s| s.as_ref() == fill.as_str()) {
                        Some(c) => c,
                        None => {
                            dict.push(Cow::Owned(fill.clone()));
                            dict.len() - 1
                        }
                    };
                    let code = u32::try_from(code).map_err(|_| {
                        Error::Incompatible("too many categories in one batch".to_string())
                    })?;
                    for c in codes.iter_mut() {
                        if *c == MISSING {
                            *c = code;
                        }
                    }
                }
                (col, FillValue::Number(_)) => {
                    return Err(kind_error(
                        col.name(),
                        "imputer",
                        ColumnKind::Numeric,
                        "categorical",
                    ));
                }
                (col, FillValue::Text(_)) => {
                    return Err(kind_error(
                        col.name(),
                        "imputer",
                        ColumnKind::Categorical,
                        "numeric",
                    ));
                }
            }
            Ok(())
        })?;
        // The first column's error, as when imputed one by one.
        results.into_iter().collect()
    }
}

impl ValidImputer {
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedImputer> {
        set.materialise_one_hot();
        let strategy = self.0.strategy;
        // The numeric statistics (the costly part) share the columns among the threads.
        let numeric = matches!(strategy, ImputeStrategy::Mean | ImputeStrategy::Median);
        let cols: Vec<&WorkCol<'_>> = set.cols.iter().collect();
        let mut stats = fan_out(cols, set.threads, |col| match col {
            WorkCol::Num { name, values } if numeric => {
                Some(numeric_statistic(name, strategy, values))
            }
            _ => None,
        })?
        .into_iter();
        let mut columns = Vec::with_capacity(set.cols.len());
        for col in &set.cols {
            let stat = stats.next().flatten();
            let fill = match col {
                WorkCol::Num { name, values } => FillValue::Number(match strategy {
                    ImputeStrategy::Constant => self.0.fill_number,
                    _ => match stat {
                        Some(stat) => stat?,
                        None => numeric_statistic(name, strategy, values)?,
                    },
                }),
                WorkCol::Cat {
                    name, dict, codes, ..
                } => FillValue::Text(match strategy {
                    ImputeStrategy::Constant => self.0.fill_text.clone(),
                    ImputeStrategy::MostFrequent => most_frequent_text(name, dict, codes)?,
                    ImputeStrategy::Mean | ImputeStrategy::Median => {
                        return Err(kind_error(
                            name,
                            strategy_name(strategy),
                            ColumnKind::Numeric,
                            "categorical",
                        ));
                    }
                }),
                WorkCol::OneHot { .. } => {
                    return Err(Error::Incompatible(
                        "one-hot block reached the imputer".to_string(),
                    ));
                }
            };
            columns.push(ImputerColumn {
                column: col.name().to_string(),
                fill,
            });
        }
        Ok(FittedImputer { strategy, columns })
    }
}

fn strategy_name(s: ImputeStrategy) -> &'static str {
    match s {
        ImputeStrategy::Mean => "imputer(mean)",
        ImputeStrategy::Median => "imputer(median)",
        ImputeStrategy::MostFrequent => "imputer(most_frequent)",
        ImputeStrategy::Constant => "imputer(constant)",
    }
}

fn all_missing(name: &str, strategy: ImputeStrategy) -> Error {
    Error::AllMissing {
        step: strategy_name(strategy),
        column: name.to_string(),
    }
}

fn numeric_statistic(name: &str, strategy: ImputeStrategy, values: &[f64]) -> Result<f64> {
    match strategy {
        ImputeStrategy::Mean => {
            let mut sum = Sum::default();
            let mut n = 0u64;
            for &v in values {
                // Adding 0.0 for a missing value is exact and avoids a random branch.
                let present = !v.is_nan();
                sum.add(if present { v } else { 0.0 });
                n += u64::from(present);
            }
            if n == 0 {
                return Err(all_missing(name, strategy));
            }
            Ok(sum.value() / n as f64)
        }
        ImputeStrategy::Median => {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            median(&mut v).ok_or_else(|| all_missing(name, strategy))
        }
        ImputeStrategy::MostFrequent | ImputeStrategy::Constant => {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            most_frequent_number(&mut v).ok_or_else(|| all_missing(name, strategy))
        }
    }
}

/// Median like numpy: the middle value, or the mean `(a + b) / 2` of the two middle values.
/// Reorders `v`; `None` when empty. `v` must hold no NaN.
pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (lower, &mut hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = lower.iter().copied().max_by(f64::total_cmp)?;
    Some((lo + hi) / 2.0)
}

/// The most frequent value; ties go to the smallest. Reorders `v`; `None` when empty.
fn most_frequent_number(v: &mut [f64]) -> Option<f64> {
    v.sort_unstable_by(f64::total_cmp);
    let mut best: Option<(f64, usize)> = None;
    let mut i = 0;
    while let Some(&x) = v.get(i) {
        // -0.0 and 0.0 sort next to each other and compare equal, as in numpy.
        let run = v
            .get(i..)
            .map_or(0, |rest| rest.iter().take_while(|&&y| y == x).count());
        if best.is_none_or(|(_, n)| run > n) {
            best = Some((x, run));
        }
        i += run.max(1);
    }
    best.map(|(x, _)| x)
}

fn most_frequent_text(name: &str, dict: &[Cow<'_, str>], codes: &[u32]) -> Result<String> {
    let mut counts = vec![0u64; dict.len()];
    for &c in codes {
        if let Some(n) = counts.get_mut(c as usize) {
            *n += 1;
        }
    }
    let mut best: Option<(&str, u64)> = None;
    for (s, &n) in dict.iter().zip(&counts) {
        if n == 0 {
            continue;
        }
        let s = s.as_ref();
        best = match best {
            None => Some((s, n)),
            Some((bs, bn)) if n > bn || (n == bn && s < bs) => Some((s, n)),
            keep => keep,
        };
    }
    best.map(|(s, _)| s.to_string())
        .ok_or_else(|| all_missing(name, ImputeStrategy::MostFrequent))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
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

    fn cat(dict: &[&'static str], codes: Vec<u32>) -> WorkSet<'static> {
        WorkSet {
            cols: vec![WorkCol::Cat {
                name: "c".into(),
                dict: dict.iter().map(|s| Cow::Borrowed(*s)).collect(),
                codes,
            }],
            row_offset: 0,
            threads: 1,
        }
    }

    fn fill_of(f: &FittedImputer) -> &FillValue {
        &f.columns()[0].fill
    }

    #[test]
    fn check_rejects_non_finite_fill() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = ImputerParams::new(ImputeStrategy::Constant)
                .fill_number(v)
                .check()
                .unwrap_err();
            assert!(matches!(e, ParamsError::FillValueNotFinite { .. }));
        }
    }

    #[test]
    fn mean_median_most_frequent_constant_numeric() {
        let data = vec![1.0, null_f64(), 3.0, f64::NAN, 3.0, 10.0];
        let fit = |s| {
            ImputerParams::new(s)
                .fill_number(-7.0)
                .check()
                .unwrap()
                .fit(&mut num(data.clone()))
                .unwrap()
        };
        assert_eq!(
            fill_of(&fit(ImputeStrategy::Mean)),
            &FillValue::Number(17.0 / 4.0)
        );
        assert_eq!(
            fill_of(&fit(ImputeStrategy::Median)),
            &FillValue::Number(3.0)
        );
        assert_eq!(
            fill_of(&fit(ImputeStrategy::MostFrequent)),
            &FillValue::Number(3.0)
        );
        assert_eq!(
            fill_of(&fit(ImputeStrategy::Constant)),
            &FillValue::Number(-7.0)
        );

        let f = fit(ImputeStrategy::Mean);
        let mut set = num(data);
        f.transform(&mut set).unwrap();
        let WorkCol::Num { values, .. } = &set.cols[0] else {
            panic!()
        };
        assert_eq!(values, &vec![1.0, 4.25, 3.0, 4.25, 3.0, 10.0]);
    }

    #[test]
    fn median_even_count_averages_middle_values() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [5.0]), Some(5.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn most_frequent_ties_pick_smallest() {
        assert_eq!(
            most_frequent_number(&mut [3.0, 1.0, 3.0, 1.0, 2.0]),
            Some(1.0)
        );
        let mut set = cat(&["b", "a", "c"], vec![0, 1, 2, 2, 1, 0, MISSING]);
        let f = ImputerParams::new(ImputeStrategy::MostFrequent)
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        // b, a and c tie at 2: the smallest string wins.
        assert_eq!(fill_of(&f), &FillValue::Text("a".into()));
        f.transform(&mut set).unwrap();
        let WorkCol::Cat { dict, codes, .. } = &set.cols[0] else {
            panic!()
        };
        assert_eq!(dict[codes[6] as usize], "a");
        assert_eq!(
            dict.len(),
            3,
            "an existing category is reused, not duplicated"
        );
    }

    #[test]
    fn constant_text_is_added_to_the_dictionary() {
        let mut set = cat(&["x"], vec![0, MISSING]);
        let f = ImputerParams::new(ImputeStrategy::Constant)
            .check()
            .unwrap()
            .fit(&mut set)
            .unwrap();
        f.transform(&mut set).unwrap();
        let WorkCol::Cat { dict, codes, .. } = &set.cols[0] else {
            panic!()
        };
        assert_eq!(dict[codes[1] as usize], "missing_value");
    }

    #[test]
    fn mean_on_categorical_is_type_mismatch_and_all_missing_errors() {
        let e = ImputerParams::new(ImputeStrategy::Mean)
            .check()
            .unwrap()
            .fit(&mut cat(&["x"], vec![0]))
            .unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { .. }));
        let e = ImputerParams::new(ImputeStrategy::Median)
            .check()
            .unwrap()
            .fit(&mut num(vec![f64::NAN, null_f64()]))
            .unwrap_err();
        assert!(matches!(e, Error::AllMissing { ref column, .. } if column == "x"));
        let e = ImputerParams::new(ImputeStrategy::MostFrequent)
            .check()
            .unwrap()
            .fit(&mut cat(&[], vec![MISSING]))
            .unwrap_err();
        assert!(matches!(e, Error::AllMissing { .. }));
    }
}
