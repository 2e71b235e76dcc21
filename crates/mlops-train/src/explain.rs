//! Explanations: coefficients by feature name, seeded permutation importance for any model, and
//! exact per-prediction contributions for linear models.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimator::{LinearModel, Model, sigmoid};
use crate::select::SelectionMetric;

/// A named coefficient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// Feature name.
    pub feature: String,
    /// Coefficient on the logit scale.
    pub value: f64,
}

/// The coefficients of a linear model by feature name, largest magnitude first (ties by name).
///
/// # Errors
/// [`Error::FeatureCountMismatch`] when `names` does not match the model.
pub fn coefficients(model: &LinearModel, names: &[String]) -> Result<Vec<Coefficient>> {
    if names.len() != model.coefficients.len() {
        return Err(Error::FeatureCountMismatch {
            expected: model.coefficients.len(),
            found: names.len(),
        });
    }
    let mut out: Vec<Coefficient> = names
        .iter()
        .zip(&model.coefficients)
        .map(|(n, &v)| Coefficient {
            feature: n.clone(),
            value: v,
        })
        .collect();
    out.sort_by(|a, b| {
        b.value
            .abs()
            .total_cmp(&a.value.abs())
            .then_with(|| a.feature.cmp(&b.feature))
    });
    Ok(out)
}

/// How one prediction of a linear model decomposes: `logit = intercept + Σ contributions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributions {
    /// The intercept.
    pub intercept: f64,
    /// Per feature: name and `coefficient × value`, largest magnitude first.
    pub features: Vec<Coefficient>,
    /// The logit.
    pub logit: f64,
    /// P(positive) = σ(logit).
    pub probability: f64,
}

/// Exact contributions of each feature to one prediction of a linear model.
///
/// # Errors
/// [`Error::FeatureCountMismatch`] when `row` or `names` does not match the model.
pub fn contributions(model: &LinearModel, row: &[f64], names: &[String]) -> Result<Contributions> {
    if row.len() != model.coefficients.len() {
        return Err(Error::FeatureCountMismatch {
            expected: model.coefficients.len(),
            found: row.len(),
        });
    }
    let mut features = coefficients(model, names)?;
    for f in &mut features {
        let i = names.iter().position(|n| *n == f.feature).unwrap_or(0);
        f.value =
            model.coefficients.get(i).copied().unwrap_or(0.0) * row.get(i).copied().unwrap_or(0.0);
    }
    features.sort_by(|a, b| {
        b.value
            .abs()
            .total_cmp(&a.value.abs())
            .then_with(|| a.feature.cmp(&b.feature))
    });
    let logit = model.logit(row);
    Ok(Contributions {
        intercept: model.intercept,
        features,
        logit,
        probability: sigmoid(logit),
    })
}

/// Permutation importance of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Feature name.
    pub feature: String,
    /// Mean drop of the metric when the feature is shuffled (positive = the feature matters; for
    /// losses, the increase).
    pub mean: f64,
    /// Standard deviation over repeats.
    pub std: f64,
}

/// Permutation importance (scikit-learn's definition): for each feature, shuffle its column
/// `repeats` times (seeded) and record how much the metric worsens; sorted by mean, largest
/// first (ties by name).
///
/// # Errors
/// Metric errors (e.g. single-class `y`), a shape mismatch, `repeats == 0`.
#[tracing::instrument(name = "permutation_importance", skip_all, fields(rows = x.nrows(), repeats))]
pub fn permutation_importance(
    model: &Model,
    x: ArrayView2<'_, f64>,
    y: &[bool],
    names: &[String],
    metric: SelectionMetric,
    repeats: usize,
    seed: u64,
) -> Result<Vec<Importance>> {
    if repeats == 0 {
        return Err(Error::InvalidParameter {
            name: "repeats",
            value: 0.0,
            expected: ">= 1",
        });
    }
    if names.len() != x.ncols() {
        return Err(Error::FeatureCountMismatch {
            expected: x.ncols(),
            found: names.len(),
        });
    }
    let base = metric.score(y, &model.predict_proba(x)?)?;
    let sign = if metric.higher_is_better() { 1.0 } else { -1.0 };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut work = x.to_owned();
    let mut out = Vec::with_capacity(x.ncols());
    for (j, name) in names.iter().enumerate() {
        let original = x.column(j).to_owned();
        let mut drops = Vec::with_capacity(repeats);
        let mut perm: Vec<usize> = (0..x.nrows()).collect();
        for _ in 0..repeats {
            perm.shuffle(&mut rng);
            for (dst, &src) in work.column_mut(j).iter_mut().zip(&perm) {
                *dst = original.get(src).copied().unwrap_or(0.0);
            }
            let score = metric.score(y, &model.predict_proba(work.view())?)?;
            drops.push(sign * (base - score));
        }
        work.column_mut(j).assign(&original);
        let mean = drops.iter().sum::<f64>() / repeats as f64;
        let var = drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / repeats as f64;
        out.push(Importance {
            feature: name.clone(),
            mean,
            std: var.sqrt(),
        });
    }
    out.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ndarray::array;

    #[test]
    fn contributions_add_up_to_the_logit() {
        let m = LinearModel {
            coefficients: vec![2.0, -1.0, 0.5],
            intercept: -0.25,
        };
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let c = contributions(&m, &[1.0, 3.0, -2.0], &names).unwrap();
        let sum: f64 = c.intercept + c.features.iter().map(|f| f.value).sum::<f64>();
        assert!((sum - c.logit).abs() < 1e-12);
        assert_eq!(c.features[0].feature, "b"); // -3.0 is the largest magnitude
        assert!((c.probability - sigmoid(c.logit)).abs() < 1e-15);
        let co = coefficients(&m, &names).unwrap();
        assert_eq!(co[0].feature, "a");
        assert!(coefficients(&m, &names[..2]).is_err());
        assert!(contributions(&m, &[1.0], &names).is_err());
    }

    #[test]
    fn permutation_importance_finds_the_signal_and_is_seeded() {
        // Feature 0 decides the label; feature 1 is ignored by the model.
        let m = Model::Linear(LinearModel {
            coefficients: vec![3.0, 0.0],
            intercept: 0.0,
        });
        let x = array![
            [1.0, 0.3],
            [-1.0, 0.1],
            [0.5, 0.9],
            [-0.7, 0.4],
            [0.2, 0.8],
            [-0.1, 0.2],
            [0.9, 0.5],
            [-0.4, 0.7]
        ];
        let y = [true, false, true, false, true, false, true, false];
        let names = vec!["signal".to_string(), "noise".to_string()];
        let a = permutation_importance(&m, x.view(), &y, &names, SelectionMetric::RocAuc, 5, 3)
            .unwrap();
        let b = permutation_importance(&m, x.view(), &y, &names, SelectionMetric::RocAuc, 5, 3)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].feature, "signal");
        assert!(a[0].mean > 0.1);
        assert_eq!(a[1].mean, 0.0);
        assert!(
            permutation_importance(&m, x.view(), &y, &names, SelectionMetric::RocAuc, 0, 3)
                .is_err()
        );
    }
}
