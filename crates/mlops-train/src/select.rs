//! Model selection: stratified k-fold cross-validation, seeded grid and random search, and the
//! choice between candidates of different estimator types on one validation set. Every result is
//! plain serialisable data, including the reason for the choice.
//!
//! Cross-validation here runs on an already transformed feature matrix: the pipeline is fitted
//! once on the training part before (as `train` does), so fold scores carry a small optimism from
//! the shared scaling statistics; the final metrics come from the untouched test part.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimator::{DecisionTree, Estimator, Fitted, LogisticRegression, TrainingSet};
use crate::metrics;

/// The metric a selection maximises (or minimises, for losses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SelectionMetric {
    /// ROC-AUC (default; higher is better).
    #[default]
    RocAuc,
    /// Average precision (higher is better).
    AveragePrecision,
    /// Log loss (lower is better).
    LogLoss,
    /// Brier score (lower is better).
    Brier,
    /// Accuracy at threshold 0.5 (higher is better).
    Accuracy,
    /// F1 at threshold 0.5 (higher is better).
    F1,
}

impl SelectionMetric {
    /// The metric's name as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::RocAuc => "roc_auc",
            Self::AveragePrecision => "average_precision",
            Self::LogLoss => "log_loss",
            Self::Brier => "brier",
            Self::Accuracy => "accuracy",
            Self::F1 => "f1",
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Self::LogLoss | Self::Brier)
    }

    /// Computes the metric.
    pub fn score(self, y_true: &[bool], probabilities: &[f64]) -> Result<f64> {
        match self {
            Self::RocAuc => metrics::roc_auc(y_true, probabilities),
            Self::AveragePrecision => metrics::average_precision(y_true, probabilities),
            Self::LogLoss => metrics::log_loss(y_true, probabilities),
            Self::Brier => metrics::brier_score(y_true, probabilities),
            Self::Accuracy => metrics::ConfusionMatrix::at_threshold(y_true, probabilities, 0.5)
                .map(|c| c.accuracy()),
            Self::F1 => {
                metrics::ConfusionMatrix::at_threshold(y_true, probabilities, 0.5).map(|c| c.f1())
            }
        }
    }

    /// `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }
}

/// A named estimator to compare.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// A label for reports, e.g. `logistic_regression(l2=0.1)`.
    pub label: String,
    /// The estimator.
    pub estimator: Box<dyn Estimator>,
}

impl Candidate {
    /// A candidate labelled with the estimator's name and parameters.
    pub fn new(estimator: Box<dyn Estimator>) -> Self {
        let params: Vec<String> = estimator
            .params()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Self {
            label: format!("{}({})", estimator.name(), params.join(", ")),
            estimator,
        }
    }
}

/// Cross-validation scores of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvScores {
    /// The metric.
    pub metric: SelectionMetric,
    /// One score per fold.
    pub folds: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds.
    pub std: f64,
}

/// Stratified k-fold cross-validation of one estimator (folds seeded by `seed`).
///
/// # Errors
/// Split errors (a class with fewer than `k` rows), fit errors, metric errors.
#[tracing::instrument(name = "cross_validate", skip_all, fields(k, seed, estimator = estimator.name()))]
pub fn cross_validate(
    estimator: &dyn Estimator,
    data: &TrainingSet<'_>,
    k: usize,
    seed: u64,
    metric: SelectionMetric,
) -> Result<CvScores> {
    data.check("cross-validation set")?;
    let folds = mlops_data::split::stratified_k_fold(data.y, k, seed)?;
    let mut scores = Vec::with_capacity(folds.len());
    for (i, fold) in folds.iter().enumerate() {
        let (xtr, ytr) = data.select(&fold.train);
        let (xte, yte) = data.select(&fold.test);
        let train = TrainingSet {
            x: xtr.view(),
            y: &ytr,
            feature_names: data.feature_names,
        };
        train.check(&format!("fold {i} training rows"))?;
        let fitted = estimator.fit(&train)?;
        let p = fitted.model.predict_proba(xte.view())?;
        scores.push(metric.score(&yte, &p)?);
    }
    let (mean, std) = mean_std(&scores);
    Ok(CvScores {
        metric,
        folds: scores,
        mean,
        std,
    })
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n.max(1.0);
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// One candidate's result in a search or selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The candidate's label.
    pub label: String,
    /// The estimator's name.
    pub estimator: String,
    /// Its parameters.
    pub params: BTreeMap<String, String>,
    /// The score it was judged by (CV mean or validation score).
    pub score: f64,
    /// CV scores, for searches.
    pub cv: Option<CvScores>,
    /// Whether its fit converged (all folds, for CV).
    pub converged: bool,
}

/// The outcome of a search or selection: every candidate's result, the winner and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// `"cross-validation"` or `"validation-set"`.
    pub method: String,
    /// The metric.
    pub metric: SelectionMetric,
    /// Every candidate, in the order given.
    pub candidates: Vec<CandidateResult>,
    /// Index of the winner in `candidates`.
    pub best: usize,
    /// Why the winner won, in words (scores and margin over the runner-up).
    pub reason: String,
}

impl Selection {
    /// The winning candidate's result.
    pub fn winner(&self) -> Option<&CandidateResult> {
        self.candidates.get(self.best)
    }

    fn decide(
        method: &str,
        metric: SelectionMetric,
        candidates: Vec<CandidateResult>,
    ) -> Result<Self> {
        let mut best: Option<usize> = None;
        for (i, c) in candidates.iter().enumerate() {
            // Ties keep the earlier candidate: the order given is the preference order.
            if best.is_none_or(|b| {
                candidates
                    .get(b)
                    .is_some_and(|cb| metric.better(c.score, cb.score))
            }) {
                best = Some(i);
            }
        }
        let best = best.ok_or(Error::NoCandidates { what: "selection" })?;
        let winner = &candidates[best];
        let runner_up = candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(_, c)| c)
            .reduce(|a, b| {
                if metric.better(b.score, a.score) {
                    b
                } else {
                    a
                }
            });
        let reason = match runner_up {
            Some(r) => format!(
                "{} has the best {} {} ({:.6}); runner-up {} has {:.6} (margin {:+.6})",
                winner.label,
                method,
                metric.name(),
                winner.score,
                r.label,
                r.score,
                winner.score - r.score
            ),
            None => format!(
                "{} is the only candidate ({} {} {:.6})",
                winner.label,
                method,
                metric.name(),
                winner.score
            ),
        };
        Ok(Self {
            method: method.to_string(),
            metric,
            candidates,
            best,
            reason,
        })
    }
}

/// Cross-validates every candidate and picks the best mean score (ties: the earlier one).
///
/// # Errors
/// [`Error::NoCandidates`] for an empty list; any CV error.
pub fn search(
    candidates: &[Candidate],
    data: &TrainingSet<'_>,
    k: usize,
    seed: u64,
    metric: SelectionMetric,
) -> Result<Selection> {
    if candidates.is_empty() {
        return Err(Error::NoCandidates { what: "search" });
    }
    let mut results = Vec::with_capacity(candidates.len());
    for c in candidates {
        let cv = cross_validate(c.estimator.as_ref(), data, k, seed, metric)?;
        results.push(CandidateResult {
            label: c.label.clone(),
            estimator: c.estimator.name().to_string(),
            params: c.estimator.params(),
            score: cv.mean,
            cv: Some(cv),
            converged: true,
        });
    }
    Selection::decide("cross-validation", metric, results)
}

/// Fits every candidate on `train`, scores it on `validation`, and picks the best (ties: the
/// earlier one). Returns the selection and the winner's fit.
///
/// # Errors
/// [`Error::NoCandidates`] for an empty list; fit and metric errors.
#[tracing::instrument(name = "select_on_validation", skip_all, fields(candidates = candidates.len()))]
pub fn select_on_validation(
    candidates: &[Candidate],
    train: &TrainingSet<'_>,
    validation: &TrainingSet<'_>,
    metric: SelectionMetric,
) -> Result<(Selection, Fitted)> {
    if candidates.is_empty() {
        return Err(Error::NoCandidates {
            what: "validation-set selection",
        });
    }
    validation.check("validation set")?;
    let mut results = Vec::with_capacity(candidates.len());
    let mut fits = Vec::with_capacity(candidates.len());
    for c in candidates {
        let fitted = c.estimator.fit(train)?;
        let p = fitted.model.predict_proba(validation.x)?;
        let score = metric.score(validation.y, &p)?;
        results.push(CandidateResult {
            label: c.label.clone(),
            estimator: c.estimator.name().to_string(),
            params: c.estimator.params(),
            score,
            cv: None,
            converged: fitted.diagnostics.converged,
        });
        fits.push(fitted);
    }
    let selection = Selection::decide("validation-set", metric, results)?;
    let fitted = fits
        .into_iter()
        .nth(selection.best)
        .ok_or(Error::NoCandidates { what: "selection" })?;
    Ok((selection, fitted))
}

/// Candidates for a grid over logistic-regression L2 strengths.
///
/// # Errors
/// [`Error::InvalidParameter`] for an invalid value.
pub fn logistic_grid(base: &LogisticRegression, l2: &[f64]) -> Result<Vec<Candidate>> {
    l2.iter()
        .map(|&a| Ok(Candidate::new(Box::new(base.clone().l2(a).check()?))))
        .collect()
}

/// Candidates for a grid over tree depths × minimum leaf sizes.
///
/// # Errors
/// [`Error::InvalidParameter`] for an invalid value.
pub fn tree_grid(
    base: &DecisionTree,
    depths: &[usize],
    min_leaf: &[usize],
) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for &d in depths {
        for &m in min_leaf {
            let p = base
                .clone()
                .max_depth(Some(d))
                .min_samples_leaf(m)
                .min_samples_split((2 * m).max(2));
            out.push(Candidate::new(Box::new(p.check()?)));
        }
    }
    Ok(out)
}

/// A random-search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SearchSpace {
    /// Logistic regression with L2 strength drawn log-uniformly from `[l2_min, l2_max]`.
    Logistic {
        /// Lower bound (> 0).
        l2_min: f64,
        /// Upper bound (≥ lower).
        l2_max: f64,
    },
    /// Decision trees with depth and minimum leaf size drawn uniformly from inclusive ranges.
    Tree {
        /// Depth range.
        depth: (usize, usize),
        /// Minimum-leaf-size range.
        min_leaf: (usize, usize),
    },
}

/// `n` candidates drawn from `space` with `seed` (same seed → same candidates).
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty or invalid range.
pub fn random_candidates(space: &SearchSpace, n: usize, seed: u64) -> Result<Vec<Candidate>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    match *space {
        SearchSpace::Logistic { l2_min, l2_max } => {
            if !(l2_min > 0.0 && l2_max >= l2_min && l2_max.is_finite()) {
                return Err(Error::InvalidParameter {
                    name: "l2_min/l2_max",
                    value: l2_min,
                    expected: "0 < l2_min <= l2_max < inf",
                });
            }
            let (lo, hi) = (l2_min.ln(), l2_max.ln());
            for _ in 0..n {
                let u: f64 = rng.r#gen();
                let l2 = (lo + u * (hi - lo)).exp();
                out.push(Candidate::new(Box::new(
                    LogisticRegression::new().l2(l2).check()?,
                )));
            }
        }
        SearchSpace::Tree { depth, min_leaf } => {
            if depth.0 == 0 || depth.1 < depth.0 || min_leaf.0 == 0 || min_leaf.1 < min_leaf.0 {
                return Err(Error::InvalidParameter {
                    name: "depth/min_leaf",
                    value: depth.0 as f64,
                    expected: "non-empty ranges starting at >= 1",
                });
            }
            for _ in 0..n {
                let d = rng.gen_range(depth.0..=depth.1);
                let m = rng.gen_range(min_leaf.0..=min_leaf.1);
                out.push(Candidate::new(Box::new(
                    DecisionTree::new()
                        .max_depth(Some(d))
                        .min_samples_leaf(m)
                        .min_samples_split((2 * m).max(2))
                        .check()?,
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ndarray::Array2;

    fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>, Vec<String>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let label = rng.r#gen::<f64>() < 0.3;
            x[[i, 0]] = if label { 0.8 } else { -0.8 } + rng.r#gen::<f64>() * 2.0 - 1.0;
            x[[i, 1]] = rng.r#gen::<f64>();
            y.push(label);
        }
        (x, y, vec!["signal".into(), "noise".into()])
    }

    #[test]
    fn cross_validation_is_seeded_and_sane() {
        let (x, y, names) = data(600, 1);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        let est = LogisticRegression::new().check().unwrap();
        let a = cross_validate(&est, &set, 5, 7, SelectionMetric::RocAuc).unwrap();
        let b = cross_validate(&est, &set, 5, 7, SelectionMetric::RocAuc).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.folds.len(), 5);
        assert!(a.mean > 0.8 && a.std < 0.1, "{a:?}");
        // A class smaller than k is a typed error.
        let mut few = vec![false; 600];
        few[0] = true;
        few[1] = true;
        let set = TrainingSet::new(x.view(), &few, &names).unwrap();
        assert!(cross_validate(&est, &set, 5, 7, SelectionMetric::RocAuc).is_err());
    }

    #[test]
    fn search_and_selection_return_the_winner_and_a_reason() {
        let (x, y, names) = data(800, 2);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        let mut cands = logistic_grid(&LogisticRegression::new(), &[0.01, 1.0, 1e6]).unwrap();
        cands.extend(tree_grid(&DecisionTree::new(), &[1], &[5]).unwrap());
        let sel = search(&cands, &set, 3, 11, SelectionMetric::LogLoss).unwrap();
        assert_eq!(sel.candidates.len(), 4);
        // A huge penalty flattens the model: it cannot win on log loss.
        assert_ne!(sel.best, 2);
        assert!(sel.reason.contains("runner-up"), "{}", sel.reason);
        let json = serde_json::to_string(&sel).unwrap();
        let back: Selection = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sel);

        let (xv, yv, _) = data(400, 3);
        let val = TrainingSet::new(xv.view(), &yv, &names).unwrap();
        let (sel, fitted) =
            select_on_validation(&cands, &set, &val, SelectionMetric::RocAuc).unwrap();
        let w = sel.winner().unwrap();
        let p = fitted.model.predict_proba(xv.view()).unwrap();
        assert_eq!(SelectionMetric::RocAuc.score(&yv, &p).unwrap(), w.score);
        assert!(search(&[], &set, 3, 1, SelectionMetric::RocAuc).is_err());
    }

    #[test]
    fn random_candidates_are_seeded_and_in_range() {
        let space = SearchSpace::Logistic {
            l2_min: 1e-3,
            l2_max: 10.0,
        };
        let a = random_candidates(&space, 6, 5).unwrap();
        let b = random_candidates(&space, 6, 5).unwrap();
        let labels = |v: &[Candidate]| v.iter().map(|c| c.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&a), labels(&b));
        assert_ne!(
            labels(&a),
            labels(&random_candidates(&space, 6, 6).unwrap())
        );
        for c in &a {
            let l2: f64 = c.estimator.params()["l2"].parse().unwrap();
            assert!((1e-3..=10.0).contains(&l2));
        }
        let tree = SearchSpace::Tree {
            depth: (2, 4),
            min_leaf: (1, 3),
        };
        assert_eq!(random_candidates(&tree, 4, 1).unwrap().len(), 4);
        assert!(
            random_candidates(
                &SearchSpace::Tree {
                    depth: (0, 1),
                    min_leaf: (1, 1)
                },
                1,
                1
            )
            .is_err()
        );
    }
}
