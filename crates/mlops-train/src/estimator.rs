//! Estimators over linfa with the params → `check()` → fitted pattern, and the closed set of
//! fitted [`Model`]s a bundle can hold.
//!
//! - [`LogisticRegression`] (linfa-logistic, L-BFGS): L2 strength, iteration limit, gradient
//!   tolerance, intercept. The objective is linfa's `Σ logloss + α/2·‖w‖²` (intercept not
//!   penalised), which is scikit-learn's `LogisticRegression(C = 1/α)`.
//! - [`DecisionTree`] (linfa-trees): depth, minimum leaf/split weight, impurity; leaf
//!   probabilities are the positive share of the training rows in the leaf, as in scikit-learn.
//!
//! Two linfa traps are handled here and never silent:
//! - linfa-logistic's `fit` returns `Ok` when it stops at its iteration limit. After every fit the
//!   gradient of the objective is recomputed at the returned coefficients; if its mean-scaled L2
//!   norm exceeds the tolerance the fit is reported as not converged — an
//!   [`Error::NotConverged`] or a recorded warning, per [`OnNonConvergence`].
//! - linfa-logistic's "positive" class is the *more frequent* training label. The fitted model is
//!   always re-expressed as `P(user's positive class)`, whatever the class balance.
//! - linfa-trees breaks class-weight ties in `HashMap` order (random per process) and prunes
//!   sibling leaves with the same majority class, so a tie changes the tree from run to run;
//!   negative rows get weight `1 + 2^-12` so that ties (almost) never happen and fits are
//!   reproducible. The pruning also means leaves are coarser than scikit-learn's: prefer
//!   `min_samples_leaf` and `max_depth` to control the size.
//!
//! An application plugs in its own estimator by implementing [`Estimator`]; what it fits must be
//! expressed as a [`Model`] (a linear model or a tree), which keeps bundles free of code.

use std::collections::BTreeMap;

use linfa::prelude::*;
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Class, Error, Result};

/// A training set: features (rows × features), one label per row (`true` = the user's positive
/// class) and the feature names.
#[derive(Debug, Clone, Copy)]
pub struct TrainingSet<'a> {
    /// The feature matrix.
    pub x: ArrayView2<'a, f64>,
    /// One label per row, `true` for the positive class.
    pub y: &'a [bool],
    /// One name per feature column.
    pub feature_names: &'a [String],
}

impl<'a> TrainingSet<'a> {
    /// Builds a training set and checks it: rows and labels line up, names match the columns,
    /// no NaN/inf feature (the error names the column and row), not empty, both classes present.
    pub fn new(x: ArrayView2<'a, f64>, y: &'a [bool], feature_names: &'a [String]) -> Result<Self> {
        let set = Self {
            x,
            y,
            feature_names,
        };
        set.check("training set")?;
        Ok(set)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// Number of positive rows.
    pub fn positives(&self) -> usize {
        self.y.iter().filter(|&&b| b).count()
    }

    /// Checks shape, finiteness and class balance; `what` names the set in errors.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.x.nrows() != self.y.len() {
            return Err(Error::LengthMismatch {
                left: "features",
                left_len: self.x.nrows(),
                right: "labels",
                right_len: self.y.len(),
            });
        }
        if self.feature_names.len() != self.x.ncols() {
            return Err(Error::FeatureCountMismatch {
                expected: self.feature_names.len(),
                found: self.x.ncols(),
            });
        }
        if self.x.nrows() == 0 {
            return Err(Error::EmptyTrainingSet {
                what: what.to_string(),
            });
        }
        check_finite(self.x, self.feature_names)?;
        let pos = self.positives();
        if pos == 0 || pos == self.y.len() {
            return Err(Error::SingleClassTraining {
                what: what.to_string(),
                present: if pos == 0 {
                    Class::Negative
                } else {
                    Class::Positive
                },
                rows: self.y.len(),
            });
        }
        Ok(())
    }

    /// The subset of rows `rows` (copied).
    pub fn select(&self, rows: &[usize]) -> (ndarray::Array2<f64>, Vec<bool>) {
        let x = self.x.select(Axis(0), rows);
        let y = rows
            .iter()
            .map(|&r| self.y.get(r).copied().unwrap_or(false))
            .collect();
        (x, y)
    }
}

/// Returns [`Error::NonFiniteFeature`] for the first NaN/inf value (row-major order).
pub fn check_finite(x: ArrayView2<'_, f64>, names: &[String]) -> Result<()> {
    for (row, values) in x.outer_iter().enumerate() {
        if let Some((col, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFiniteFeature {
                column: names.get(col).cloned().unwrap_or_else(|| format!("#{col}")),
                row,
                value,
            });
        }
    }
    Ok(())
}

/// What a fit that stops without meeting its tolerance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OnNonConvergence {
    /// Fail with [`Error::NotConverged`].
    Error,
    /// Keep the model, record a warning in [`FitDiagnostics::warnings`] and emit a tracing
    /// warning (scikit-learn's behaviour, but recorded in the report rather than printed).
    #[default]
    Warn,
}

/// What a fit reports besides the model: convergence, the final gradient, warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitDiagnostics {
    /// Rows fitted on.
    pub rows: usize,
    /// Positive rows among them.
    pub positives: usize,
    /// Feature columns.
    pub features: usize,
    /// Whether the optimiser met its tolerance (always `true` for non-iterative estimators).
    pub converged: bool,
    /// The iteration limit the optimiser had, for iterative estimators. (linfa-logistic 0.8
    /// does not expose the number of iterations it used; convergence is judged from the final
    /// gradient instead.)
    pub max_iterations: Option<u64>,
    /// The mean-scaled L2 norm of the objective's gradient at the fitted coefficients.
    pub gradient_norm: Option<f64>,
    /// Warnings recorded during the fit (for example non-convergence under
    /// [`OnNonConvergence::Warn`]).
    pub warnings: Vec<String>,
}

/// A fitted model and its diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The model.
    pub model: Model,
    /// How the fit went.
    pub diagnostics: FitDiagnostics,
}

/// A binary classifier's training algorithm. Implement it to plug an estimator of your own into
/// cross-validation, search, selection and training; what it fits must be expressed as a
/// [`Model`].
pub trait Estimator: std::fmt::Debug + Send + Sync {
    /// A short stable name, e.g. `"logistic_regression"`.
    fn name(&self) -> &str;
    /// The hyper-parameters, as text, for reports and runs.
    fn params(&self) -> BTreeMap<String, String>;
    /// Fits on a checked training set.
    fn fit(&self, data: &TrainingSet<'_>) -> Result<Fitted>;
    /// A copy behind a box (estimators are small parameter sets).
    fn boxed_clone(&self) -> Box<dyn Estimator>;
}

impl Clone for Box<dyn Estimator> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

// ---- logistic regression ------------------------------------------------------------------------

/// Parameters of an L2-regularised logistic regression (unchecked; see [`Self::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// L2 strength α (scikit-learn's `1/C`). Default 1.0.
    pub l2: f64,
    /// Iteration limit of L-BFGS. Default 100 (scikit-learn's default).
    pub max_iterations: u64,
    /// Tolerance on the mean-scaled gradient norm. Default 1e-4 (scikit-learn's default).
    pub tolerance: f64,
    /// Whether to fit an intercept. Default `true`.
    pub fit_intercept: bool,
    /// What to do when the tolerance is not met. Default [`OnNonConvergence::Warn`].
    pub on_non_convergence: OnNonConvergence,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self {
            l2: 1.0,
            max_iterations: 100,
            tolerance: 1e-4,
            fit_intercept: true,
            on_non_convergence: OnNonConvergence::Warn,
        }
    }
}

impl LogisticRegression {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the L2 strength α.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }
    /// Sets the iteration limit.
    pub fn max_iterations(mut self, n: u64) -> Self {
        self.max_iterations = n;
        self
    }
    /// Sets the gradient tolerance.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }
    /// Sets whether to fit an intercept.
    pub fn fit_intercept(mut self, fit: bool) -> Self {
        self.fit_intercept = fit;
        self
    }
    /// Sets the non-convergence policy.
    pub fn on_non_convergence(mut self, policy: OnNonConvergence) -> Self {
        self.on_non_convergence = policy;
        self
    }
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite `l2`, a zero iteration limit, or
    /// a tolerance that is not finite and positive.
    pub fn check(&self) -> Result<ValidLogisticRegression> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "l2",
                value: self.l2,
                expected: "finite and >= 0",
            });
        }
        if self.max_iterations == 0 {
            return Err(Error::InvalidParameter {
                name: "max_iterations",
                value: 0.0,
                expected: ">= 1",
            });
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::InvalidParameter {
                name: "tolerance",
                value: self.tolerance,
                expected: "finite and > 0",
            });
        }
        Ok(ValidLogisticRegression(self.clone()))
    }
}

/// Checked logistic-regression parameters: the only form that fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidLogisticRegression(LogisticRegression);

impl ValidLogisticRegression {
    /// The parameters.
    pub fn params(&self) -> &LogisticRegression {
        &self.0
    }
}

impl Estimator for ValidLogisticRegression {
    fn name(&self) -> &str {
        "logistic_regression"
    }

    fn params(&self) -> BTreeMap<String, String> {
        let p = &self.0;
        BTreeMap::from([
            ("l2".to_string(), format!("{}", p.l2)),
            ("max_iterations".to_string(), p.max_iterations.to_string()),
            ("tolerance".to_string(), format!("{}", p.tolerance)),
            ("fit_intercept".to_string(), p.fit_intercept.to_string()),
        ])
    }

    fn boxed_clone(&self) -> Box<dyn Estimator> {
        Box::new(self.clone())
    }

    #[tracing::instrument(name = "fit_logistic", skip_all, fields(rows = data.rows(), features = data.x.ncols()))]
    fn fit(&self, data: &TrainingSet<'_>) -> Result<Fitted> {
        data.check("training set")?;
        let p = &self.0;
        let n = data.rows();
        // linfa multiplies by X and by Xᵀ in every evaluation; a column-major copy makes the Xᵀ
        // products contiguous.
        let xf = data.x.t().as_standard_layout().into_owned().reversed_axes();
        // Large sets start from the solution on an evenly spaced tenth of the rows (same
        // objective per row): L-BFGS then needs far fewer full passes. Deterministic.
        let warm = if n >= WARM_START_MIN_ROWS {
            let stride = 10;
            let rows: Vec<usize> = (0..n).step_by(stride).collect();
            let xs = xf.select(Axis(0), &rows);
            let xs = xs.t().as_standard_layout().into_owned().reversed_axes();
            let ys: Vec<bool> = rows
                .iter()
                .map(|&r| data.y.get(r).copied().unwrap_or(false))
                .collect();
            let m = rows.len();
            linfa_fit(
                xs.view(),
                &ys,
                p.l2 * m as f64 / n as f64,
                p.max_iterations,
                p.tolerance * m as f64,
                p.fit_intercept,
                None,
            )
            .ok()
        } else {
            None
        };
        // linfa's gradient is a sum over rows; scale the tolerance so it means the same as
        // scikit-learn's tolerance on the mean loss.
        let model = linfa_fit(
            xf.view(),
            data.y,
            p.l2,
            p.max_iterations,
            p.tolerance * n as f64,
            p.fit_intercept,
            warm.as_ref(),
        )
        .map_err(|message| Error::Estimator {
            estimator: self.name().to_string(),
            message,
        })?;
        model.check()?;
        let gradient_norm = model.gradient_norm(data, p.l2, p.fit_intercept);
        let converged = gradient_norm <= p.tolerance;
        let mut warnings = Vec::new();
        if !converged {
            let err = Error::NotConverged {
                estimator: self.name().to_string(),
                gradient_norm,
                tolerance: p.tolerance,
                max_iterations: p.max_iterations,
            };
            match p.on_non_convergence {
                OnNonConvergence::Error => return Err(err),
                OnNonConvergence::Warn => {
                    tracing::warn!(%err, "logistic regression did not converge");
                    warnings.push(err.to_string());
                }
            }
        }
        Ok(Fitted {
            model: Model::Linear(model),
            diagnostics: FitDiagnostics {
                rows: n,
                positives: data.positives(),
                features: data.x.ncols(),
                converged,
                max_iterations: Some(p.max_iterations),
                gradient_norm: Some(gradient_norm),
                warnings,
            },
        })
    }
}

/// Training sets of at least this many rows are warm-started from a fit on a tenth of the rows.
pub const WARM_START_MIN_ROWS: usize = 50_000;

/// One linfa-logistic fit, re-expressed as P(`true`). `init` (in the same orientation) is the
/// starting point.
fn linfa_fit(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    alpha: f64,
    max_iterations: u64,
    gradient_tolerance: f64,
    fit_intercept: bool,
    init: Option<&LinearModel>,
) -> std::result::Result<LinearModel, String> {
    let targets = Array1::from_iter(y.iter().copied());
    let dataset = DatasetBase::new(x, targets.view());
    let mut params = linfa_logistic::LogisticRegression::<f64>::default()
        .alpha(alpha)
        .max_iterations(max_iterations)
        .gradient_tolerance(gradient_tolerance)
        .with_intercept(fit_intercept);
    if let Some(init) = init {
        // Trap: linfa's "positive" class is the more frequent label (the first seen on a tie);
        // its parameters are in that orientation.
        let trues = y.iter().filter(|&&b| b).count();
        let falses = y.len() - trues;
        let linfa_positive_is_true = match trues.cmp(&falses) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => y.first().copied().unwrap_or(true),
        };
        let sign = if linfa_positive_is_true { 1.0 } else { -1.0 };
        let mut w: Vec<f64> = init.coefficients.iter().map(|c| sign * c).collect();
        if fit_intercept {
            w.push(sign * init.intercept);
        }
        params = params.initial_params(Array1::from(w));
    }
    let fitted = params.fit(&dataset).map_err(|e| e.to_string())?;
    // Re-express the model as P(user's positive class = true).
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    Ok(LinearModel {
        coefficients: fitted.params().iter().map(|w| sign * w).collect(),
        intercept: sign * fitted.intercept(),
    })
}

/// A fitted linear model: `P(positive) = σ(intercept + Σ coefficients·x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
}

impl LinearModel {
    /// The logit for one row (no length check; see [`Model::predict_proba_row`]).
    #[inline]
    pub fn logit(&self, row: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(row)
                .map(|(w, x)| w * x)
                .sum::<f64>()
    }

    fn check(&self) -> Result<()> {
        let bad = std::iter::once(self.intercept)
            .chain(self.coefficients.iter().copied())
            .find(|v| !v.is_finite());
        match bad {
            Some(v) => Err(Error::CorruptBundle {
                reason: format!("linear model has a non-finite coefficient ({v})"),
            }),
            None => Ok(()),
        }
    }

    /// Mean-scaled L2 norm of the gradient of `Σ logloss + α/2·‖w‖²` at these coefficients.
    fn gradient_norm(&self, data: &TrainingSet<'_>, l2: f64, fit_intercept: bool) -> f64 {
        let d = self.coefficients.len();
        let mut grad = vec![0.0; d];
        let mut grad_b = 0.0;
        for (row, &y) in data.x.outer_iter().zip(data.y) {
            let p = sigmoid(self.logit_view(row));
            let r = p - if y { 1.0 } else { 0.0 };
            for (g, x) in grad.iter_mut().zip(row.iter()) {
                *g += r * x;
            }
            grad_b += r;
        }
        let mut norm2 = 0.0;
        for (g, w) in grad.iter().zip(&self.coefficients) {
            let g = g + l2 * w;
            norm2 += g * g;
        }
        if fit_intercept {
            norm2 += grad_b * grad_b;
        }
        norm2.sqrt() / data.rows().max(1) as f64
    }

    fn logit_view(&self, row: ArrayView1<'_, f64>) -> f64 {
        match row.as_slice() {
            Some(s) => self.logit(s),
            None => {
                self.intercept
                    + self
                        .coefficients
                        .iter()
                        .zip(row.iter())
                        .map(|(w, x)| w * x)
                        .sum::<f64>()
            }
        }
    }
}

/// The logistic function, stable for large |z|.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

// ---- decision tree ------------------------------------------------------------------------------

/// How a tree judges a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SplitCriterion {
    /// Gini impurity (default).
    #[default]
    Gini,
    /// Entropy.
    Entropy,
}

/// Parameters of a decision tree (unchecked; see [`Self::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTree {
    /// Maximum depth (`None` = unlimited). Default 8.
    pub max_depth: Option<usize>,
    /// Minimum rows in a leaf. Default 20.
    pub min_samples_leaf: usize,
    /// Minimum rows to split a node. Default 40.
    pub min_samples_split: usize,
    /// Minimum impurity decrease for a split (linfa needs it > 0). Default 1e-5.
    pub min_impurity_decrease: f64,
    /// Split criterion. Default Gini.
    pub criterion: SplitCriterion,
}

impl Default for DecisionTree {
    fn default() -> Self {
        Self {
            max_depth: Some(8),
            min_samples_leaf: 20,
            min_samples_split: 40,
            min_impurity_decrease: 1e-5,
            criterion: SplitCriterion::Gini,
        }
    }
}

impl DecisionTree {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the maximum depth.
    pub fn max_depth(mut self, depth: Option<usize>) -> Self {
        self.max_depth = depth;
        self
    }
    /// Sets the minimum rows per leaf.
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.min_samples_leaf = n;
        self
    }
    /// Sets the minimum rows to split.
    pub fn min_samples_split(mut self, n: usize) -> Self {
        self.min_samples_split = n;
        self
    }
    /// Sets the split criterion.
    pub fn criterion(mut self, criterion: SplitCriterion) -> Self {
        self.criterion = criterion;
        self
    }
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero depth, zero leaf size, a split size below 2 or an
    /// impurity decrease that is not finite and positive.
    pub fn check(&self) -> Result<ValidDecisionTree> {
        if self.max_depth == Some(0) {
            return Err(Error::InvalidParameter {
                name: "max_depth",
                value: 0.0,
                expected: ">= 1 or None",
            });
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::InvalidParameter {
                name: "min_samples_leaf",
                value: 0.0,
                expected: ">= 1",
            });
        }
        if self.min_samples_split < 2 {
            return Err(Error::InvalidParameter {
                name: "min_samples_split",
                value: self.min_samples_split as f64,
                expected: ">= 2",
            });
        }
        if !(self.min_impurity_decrease.is_finite() && self.min_impurity_decrease > 0.0) {
            return Err(Error::InvalidParameter {
                name: "min_impurity_decrease",
                value: self.min_impurity_decrease,
                expected: "finite and > 0",
            });
        }
        Ok(ValidDecisionTree(self.clone()))
    }
}

/// Checked decision-tree parameters: the only form that fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidDecisionTree(DecisionTree);

impl ValidDecisionTree {
    /// The parameters.
    pub fn params(&self) -> &DecisionTree {
        &self.0
    }
}

impl Estimator for ValidDecisionTree {
    fn name(&self) -> &str {
        "decision_tree"
    }

    fn params(&self) -> BTreeMap<String, String> {
        let p = &self.0;
        BTreeMap::from([
            (
                "max_depth".to_string(),
                p.max_depth
                    .map_or_else(|| "none".to_string(), |d| d.to_string()),
            ),
            (
                "min_samples_leaf".to_string(),
                p.min_samples_leaf.to_string(),
            ),
            (
                "min_samples_split".to_string(),
                p.min_samples_split.to_string(),
            ),
            (
                "min_impurity_decrease".to_string(),
                format!("{}", p.min_impurity_decrease),
            ),
            ("criterion".to_string(), format!("{:?}", p.criterion)),
        ])
    }

    fn boxed_clone(&self) -> Box<dyn Estimator> {
        Box::new(self.clone())
    }

    #[tracing::instrument(name = "fit_tree", skip_all, fields(rows = data.rows(), features = data.x.ncols()))]
    fn fit(&self, data: &TrainingSet<'_>) -> Result<Fitted> {
        data.check("training set")?;
        let p = &self.0;
        let targets = Array1::from_iter(data.y.iter().copied());
        // Trap: linfa-trees breaks ties between equally weighted classes in HashMap order
        // (random per process), and prunes sibling leaves by their majority class, so a tie
        // changes the tree's structure from run to run. Negative rows weigh 1 + 2^-12: class
        // weights in a node (almost) never tie, and fits are reproducible.
        let weights = Array1::from_iter(
            data.y
                .iter()
                .map(|&y| if y { 1.0f32 } else { 1.0 + 1.0 / 4096.0 }),
        );
        let dataset = DatasetBase::new(data.x.view(), targets.view()).with_weights(weights);
        let params = linfa_trees::DecisionTree::<f64, bool>::params()
            .split_quality(match p.criterion {
                SplitCriterion::Gini => linfa_trees::SplitQuality::Gini,
                SplitCriterion::Entropy => linfa_trees::SplitQuality::Entropy,
            })
            .max_depth(p.max_depth)
            .min_weight_leaf(p.min_samples_leaf as f32)
            .min_weight_split(p.min_samples_split as f32)
            .min_impurity_decrease(p.min_impurity_decrease);
        let tree = params.fit(&dataset).map_err(|e| Error::Estimator {
            estimator: self.name().to_string(),
            message: e.to_string(),
        })?;
        let mut model = TreeModel::from_linfa(tree.root_node(), data.x.ncols())?;
        model.fill_leaf_probabilities(data);
        Ok(Fitted {
            model: Model::Tree(model),
            diagnostics: FitDiagnostics {
                rows: data.rows(),
                positives: data.positives(),
                features: data.x.ncols(),
                converged: true,
                max_iterations: None,
                gradient_norm: None,
                warnings: Vec::new(),
            },
        })
    }
}

/// One node of a [`TreeModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TreeNode {
    /// Rows with `x[feature] < threshold` go to `left`, the others (and NaN) to `right`.
    Split {
        /// Feature index.
        feature: u32,
        /// Split value.
        threshold: f64,
        /// Index of the left child (always greater than this node's index).
        left: u32,
        /// Index of the right child (always greater than this node's index).
        right: u32,
    },
    /// A leaf.
    Leaf {
        /// P(positive) in this leaf.
        probability: f64,
        /// Training rows that reached it.
        samples: u64,
    },
}

/// A fitted decision tree as a flat node list (node 0 is the root; children always come after
/// their parent, so every walk ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    /// The nodes.
    pub nodes: Vec<TreeNode>,
    /// Number of features the tree was fitted on.
    pub n_features: usize,
}

impl TreeModel {
    fn from_linfa(root: &linfa_trees::TreeNode<f64, bool>, n_features: usize) -> Result<Self> {
        let mut nodes = Vec::new();
        // Iterative pre-order walk; each entry is (node, slot to patch in its parent).
        type Pending<'t> = (&'t linfa_trees::TreeNode<f64, bool>, Option<(usize, bool)>);
        let mut stack: Vec<Pending<'_>> = vec![(root, None)];
        while let Some((node, parent)) = stack.pop() {
            let index = nodes.len();
            let idx32 = u32::try_from(index).map_err(|_| Error::Estimator {
                estimator: "decision_tree".to_string(),
                message: "tree too large".to_string(),
            })?;
            if let Some((pi, is_left)) = parent
                && let Some(TreeNode::Split { left, right, .. }) = nodes.get_mut(pi)
            {
                if is_left {
                    *left = idx32;
                } else {
                    *right = idx32;
                }
            }
            let children = node.children();
            let (l, r) = (
                children.first().and_then(|c| c.as_deref()),
                children.get(1).and_then(|c| c.as_deref()),
            );
            match (node.is_leaf(), l, r) {
                (false, Some(l), Some(r)) => {
                    let (feature, threshold, _) = node.split();
                    nodes.push(TreeNode::Split {
                        feature: u32::try_from(feature).unwrap_or(u32::MAX),
                        threshold,
                        left: 0,
                        right: 0,
                    });
                    stack.push((r, Some((index, false))));
                    stack.push((l, Some((index, true))));
                }
                _ => nodes.push(TreeNode::Leaf {
                    probability: if node.prediction().unwrap_or(false) {
                        1.0
                    } else {
                        0.0
                    },
                    samples: 0,
                }),
            }
        }
        let model = Self { nodes, n_features };
        model.check()?;
        Ok(model)
    }

    /// Sets each leaf's probability to the positive share of the training rows reaching it.
    fn fill_leaf_probabilities(&mut self, data: &TrainingSet<'_>) {
        let mut counts = vec![(0u64, 0u64); self.nodes.len()];
        for (row, &y) in data.x.outer_iter().zip(data.y) {
            let leaf = self.leaf_of(|f| row.get(f).copied().unwrap_or(f64::NAN));
            if let Some(c) = counts.get_mut(leaf) {
                c.0 += 1;
                c.1 += u64::from(y);
            }
        }
        for (node, (n, pos)) in self.nodes.iter_mut().zip(counts) {
            if let TreeNode::Leaf {
                probability,
                samples,
            } = node
            {
                *samples = n;
                if n > 0 {
                    *probability = pos as f64 / n as f64;
                }
            }
        }
    }

    /// Index of the leaf a row reaches.
    #[inline]
    fn leaf_of(&self, value: impl Fn(usize) -> f64) -> usize {
        let mut i = 0usize;
        // Children always have larger indices, so this loop runs at most nodes.len() times.
        while let Some(TreeNode::Split {
            feature,
            threshold,
            left,
            right,
        }) = self.nodes.get(i)
        {
            i = if value(*feature as usize) < *threshold {
                *left as usize
            } else {
                *right as usize
            };
        }
        i
    }

    /// P(positive) for one row.
    #[inline]
    pub fn probability(&self, row: &[f64]) -> f64 {
        self.leaf_probability(|f| row.get(f).copied().unwrap_or(f64::NAN))
    }

    /// P(positive) in the leaf that a row, given by a feature accessor, reaches.
    #[inline]
    fn leaf_probability(&self, value: impl Fn(usize) -> f64) -> f64 {
        match self.nodes.get(self.leaf_of(value)) {
            Some(TreeNode::Leaf { probability, .. }) => *probability,
            _ => 0.0,
        }
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, node) in self.nodes.iter().enumerate() {
            let d = depth.get(i).copied().unwrap_or(0);
            max = max.max(d);
            if let TreeNode::Split { left, right, .. } = node {
                for c in [*left, *right] {
                    if let Some(slot) = depth.get_mut(c as usize) {
                        *slot = d + 1;
                    }
                }
            }
        }
        max
    }

    /// Checks structure: children after parents and in range, features in range, finite
    /// thresholds, probabilities in [0, 1].
    fn check(&self) -> Result<()> {
        let corrupt = |reason: String| Error::CorruptBundle { reason };
        if self.nodes.is_empty() {
            return Err(corrupt("tree has no nodes".to_string()));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            match node {
                TreeNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    if *feature as usize >= self.n_features {
                        return Err(corrupt(format!(
                            "tree node {i} splits on feature {feature} of {}",
                            self.n_features
                        )));
                    }
                    if threshold.is_nan() {
                        return Err(corrupt(format!("tree node {i} has a NaN threshold")));
                    }
                    for c in [*left, *right] {
                        if c as usize <= i || c as usize >= self.nodes.len() {
                            return Err(corrupt(format!(
                                "tree node {i} has child {c} out of order or range"
                            )));
                        }
                    }
                }
                TreeNode::Leaf { probability, .. } => {
                    if !(0.0..=1.0).contains(probability) {
                        return Err(corrupt(format!(
                            "tree leaf {i} has probability {probability}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

// ---- the closed model set -----------------------------------------------------------------------

/// A fitted binary classifier: the closed set of model types a bundle can hold. Decoding one
/// never runs code; [`Model::check`] validates its structure after decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    /// A linear (logistic) model.
    Linear(LinearModel),
    /// A decision tree.
    Tree(TreeModel),
}

impl Model {
    /// `"linear"` or `"tree"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Linear(_) => "linear",
            Model::Tree(_) => "tree",
        }
    }

    /// Number of features the model takes.
    pub fn n_features(&self) -> usize {
        match self {
            Model::Linear(m) => m.coefficients.len(),
            Model::Tree(t) => t.n_features,
        }
    }

    /// Validates the structure (finite coefficients; tree order, ranges and probabilities).
    pub fn check(&self) -> Result<()> {
        match self {
            Model::Linear(m) => m.check(),
            Model::Tree(t) => t.check(),
        }
    }

    /// P(positive) for one row, without allocating.
    ///
    /// # Errors
    /// [`Error::FeatureCountMismatch`] when `row` has the wrong length.
    #[inline]
    pub fn predict_proba_row(&self, row: &[f64]) -> Result<f64> {
        if row.len() != self.n_features() {
            return Err(Error::FeatureCountMismatch {
                expected: self.n_features(),
                found: row.len(),
            });
        }
        Ok(match self {
            Model::Linear(m) => sigmoid(m.logit(row)),
            Model::Tree(t) => t.probability(row),
        })
    }

    /// P(positive) for every row of `x`.
    ///
    /// # Errors
    /// [`Error::FeatureCountMismatch`] when `x` has the wrong number of columns.
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        if x.ncols() != self.n_features() {
            return Err(Error::FeatureCountMismatch {
                expected: self.n_features(),
                found: x.ncols(),
            });
        }
        Ok(match self {
            Model::Linear(m) => {
                let w = ndarray::ArrayView1::from(m.coefficients.as_slice());
                x.dot(&w).iter().map(|z| sigmoid(z + m.intercept)).collect()
            }
            Model::Tree(t) => x
                .outer_iter()
                .map(|row| t.leaf_probability(|f| row.get(f).copied().unwrap_or(f64::NAN)))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    /// Two informative features, `pos_rate` share of positives.
    fn data(n: usize, pos_rate: f64, seed: u64) -> (Array2<f64>, Vec<bool>, Vec<String>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 3));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let label = rng.r#gen::<f64>() < pos_rate;
            let shift = if label { 1.0 } else { -1.0 };
            x[[i, 0]] = shift + rng.r#gen::<f64>() * 2.0 - 1.0;
            x[[i, 1]] = 0.5 * shift + rng.r#gen::<f64>() * 2.0 - 1.0;
            x[[i, 2]] = rng.r#gen::<f64>();
            y.push(label);
        }
        (x, y, vec!["a".into(), "b".into(), "noise".into()])
    }

    #[test]
    fn minority_positive_class_gets_the_positive_probabilities() {
        // 10% positives: linfa's internal "positive" is the majority (false) class.
        let (x, y, names) = data(2000, 0.1, 1);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        let fitted = LogisticRegression::new()
            .check()
            .unwrap()
            .fit(&set)
            .unwrap();
        let p = fitted.model.predict_proba(x.view()).unwrap();
        let auc = crate::metrics::roc_auc(&y, &p).unwrap();
        assert!(auc > 0.95, "auc {auc}");
        let Model::Linear(m) = &fitted.model else {
            panic!("linear")
        };
        assert!(m.coefficients[0] > 0.0, "feature a raises P(positive)");
        let mean_p = p.iter().sum::<f64>() / p.len() as f64;
        assert!((mean_p - 0.1).abs() < 0.02, "calibrated mean {mean_p}");
        // Same with a majority positive class.
        let y2: Vec<bool> = y.iter().map(|b| !b).collect();
        let set2 = TrainingSet::new(x.view(), &y2, &names).unwrap();
        let f2 = LogisticRegression::new()
            .check()
            .unwrap()
            .fit(&set2)
            .unwrap();
        let p2 = f2.model.predict_proba(x.view()).unwrap();
        for (a, b) in p.iter().zip(&p2) {
            assert!((a + b - 1.0).abs() < 1e-3);
        }
    }

    #[test]
    fn non_convergence_is_an_error_or_a_recorded_warning() {
        let (x, y, names) = data(2000, 0.3, 2);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        let strict = LogisticRegression::new()
            .max_iterations(1)
            .tolerance(1e-10)
            .on_non_convergence(OnNonConvergence::Error)
            .check()
            .unwrap();
        match strict.fit(&set) {
            Err(Error::NotConverged {
                max_iterations: 1, ..
            }) => {}
            other => panic!("expected NotConverged, got {other:?}"),
        }
        let lenient = LogisticRegression::new()
            .max_iterations(1)
            .tolerance(1e-10)
            .check()
            .unwrap();
        let fitted = lenient.fit(&set).unwrap();
        assert!(!fitted.diagnostics.converged);
        assert_eq!(fitted.diagnostics.warnings.len(), 1);
        let ok = LogisticRegression::new()
            .on_non_convergence(OnNonConvergence::Error)
            .check()
            .unwrap()
            .fit(&set)
            .unwrap();
        assert!(ok.diagnostics.converged);
        assert!(ok.diagnostics.gradient_norm.unwrap() <= 1e-4);
    }

    #[test]
    fn bad_training_sets_are_typed_errors() {
        let (mut x, y, names) = data(100, 0.5, 3);
        let single = vec![true; 100];
        assert!(matches!(
            TrainingSet::new(x.view(), &single, &names),
            Err(Error::SingleClassTraining {
                present: Class::Positive,
                ..
            })
        ));
        let empty = Array2::<f64>::zeros((0, 3));
        assert!(matches!(
            TrainingSet::new(empty.view(), &[], &names),
            Err(Error::EmptyTrainingSet { .. })
        ));
        x[[7, 1]] = f64::NAN;
        match TrainingSet::new(x.view(), &y, &names) {
            Err(Error::NonFiniteFeature { column, row: 7, .. }) => assert_eq!(column, "b"),
            other => panic!("{other:?}"),
        }
        x[[7, 1]] = f64::INFINITY;
        assert!(TrainingSet::new(x.view(), &y, &names).is_err());
        assert!(matches!(
            TrainingSet::new(x.view(), &y[..10], &names),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn invalid_params_are_rejected() {
        assert!(LogisticRegression::new().l2(-1.0).check().is_err());
        assert!(LogisticRegression::new().l2(f64::NAN).check().is_err());
        assert!(LogisticRegression::new().max_iterations(0).check().is_err());
        assert!(LogisticRegression::new().tolerance(0.0).check().is_err());
        assert!(DecisionTree::new().max_depth(Some(0)).check().is_err());
        assert!(DecisionTree::new().min_samples_leaf(0).check().is_err());
        assert!(DecisionTree::new().min_samples_split(1).check().is_err());
    }

    #[test]
    fn tree_probabilities_are_leaf_shares_and_rows_agree_with_batches() {
        let (x, y, names) = data(3000, 0.25, 4);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        let fitted = DecisionTree::new()
            .max_depth(Some(4))
            .check()
            .unwrap()
            .fit(&set)
            .unwrap();
        let Model::Tree(t) = &fitted.model else {
            panic!("tree")
        };
        assert!(t.depth() <= 4 && t.depth() >= 1);
        let leaf_rows: u64 = t
            .nodes
            .iter()
            .map(|n| match n {
                TreeNode::Leaf { samples, .. } => *samples,
                _ => 0,
            })
            .sum();
        assert_eq!(leaf_rows, 3000);
        let p = fitted.model.predict_proba(x.view()).unwrap();
        for (i, row) in x.outer_iter().enumerate() {
            let r = fitted
                .model
                .predict_proba_row(row.as_slice().unwrap())
                .unwrap();
            assert_eq!(r.to_bits(), p[i].to_bits());
        }
        // Leaf probabilities reproduce the training positive rate on average.
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        let rate = y.iter().filter(|&&b| b).count() as f64 / y.len() as f64;
        assert!((mean - rate).abs() < 1e-12);
        assert!(crate::metrics::roc_auc(&y, &p).unwrap() > 0.9);
    }

    #[test]
    fn models_round_trip_through_messagepack_byte_identically() {
        let (x, y, names) = data(500, 0.4, 5);
        let set = TrainingSet::new(x.view(), &y, &names).unwrap();
        for est in [
            Box::new(LogisticRegression::new().check().unwrap()) as Box<dyn Estimator>,
            Box::new(DecisionTree::new().check().unwrap()),
        ] {
            let m = est.fit(&set).unwrap().model;
            let bytes = rmp_serde::to_vec_named(&m).unwrap();
            let back: Model = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(back, m);
            assert_eq!(rmp_serde::to_vec_named(&back).unwrap(), bytes);
        }
    }

    #[test]
    fn corrupt_trees_fail_the_check() {
        let bad = Model::Tree(TreeModel {
            nodes: vec![TreeNode::Split {
                feature: 0,
                threshold: 0.0,
                left: 0,
                right: 0,
            }],
            n_features: 1,
        });
        assert!(bad.check().is_err());
        let bad_feature = Model::Tree(TreeModel {
            nodes: vec![
                TreeNode::Split {
                    feature: 5,
                    threshold: 0.0,
                    left: 1,
                    right: 2,
                },
                TreeNode::Leaf {
                    probability: 0.0,
                    samples: 1,
                },
                TreeNode::Leaf {
                    probability: 1.0,
                    samples: 1,
                },
            ],
            n_features: 1,
        });
        assert!(bad_feature.check().is_err());
        assert!(
            Model::Linear(LinearModel {
                coefficients: vec![f64::NAN],
                intercept: 0.0
            })
            .check()
            .is_err()
        );
        assert!(matches!(
            Model::Linear(LinearModel {
                coefficients: vec![1.0],
                intercept: 0.0
            })
            .predict_proba_row(&[1.0, 2.0]),
            Err(Error::FeatureCountMismatch { .. })
        ));
    }
}
