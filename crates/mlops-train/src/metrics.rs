//! Binary-classification metrics that agree with scikit-learn.
//!
//! Conventions shared by every function here:
//! - `y_true[i] == true` marks the user's **positive** class.
//! - `scores` are any finite real numbers where larger means "more positive" (decision values or
//!   probabilities); `probabilities` must also lie in `[0, 1]`.
//! - A prediction at threshold `t` is `score >= t` (the convention of scikit-learn's
//!   `roc_curve` / `precision_recall_curve`, whose thresholds are included in the positive side).
//! - Every function validates its input and returns a typed [`Error`] instead of panicking or
//!   returning NaN: empty input, length mismatch, non-finite scores, single-class input where the
//!   metric is undefined, probabilities outside `[0, 1]`, invalid thresholds and targets.
//! - Ratios with a zero denominator (precision with no predicted positives, recall with no actual
//!   positives, F1 with neither) are `0.0`, like scikit-learn's `zero_division=0`.
//!
//! The golden tests in `tests/metrics_golden.rs` check every function against scikit-learn 1.9
//! to 1e-9 on random, heavily tied, separable, imbalanced, constant and tiny inputs.
//!
//! ```
//! use mlops_train::metrics::{roc_auc, ConfusionMatrix};
//! let y = [false, false, true, true];
//! let s = [0.1, 0.4, 0.35, 0.8];
//! assert!((roc_auc(&y, &s)? - 0.75).abs() < 1e-12);
//! let cm = ConfusionMatrix::at_threshold(&y, &s, 0.4)?;
//! assert_eq!((cm.tp, cm.fp, cm.tn, cm.fn_), (1, 1, 1, 1));
//! # Ok::<(), mlops_train::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Class, Error, Result};

// ---- validation helpers ---------------------------------------------------------------------

/// Checks that `a` is non-empty and `b` has the same length.
pub(crate) fn check_aligned<A, B>(
    left: &'static str,
    a: &[A],
    right: &'static str,
    b: &[B],
) -> Result<()> {
    if a.is_empty() {
        return Err(Error::EmptyInput { what: left });
    }
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            left,
            left_len: a.len(),
            right,
            right_len: b.len(),
        });
    }
    Ok(())
}

/// Checks that every value is finite.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFiniteScore {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

fn check_scores(y_true: &[bool], scores: &[f64]) -> Result<()> {
    check_aligned("y_true", y_true, "scores", scores)?;
    check_finite("scores", scores)
}

fn check_probabilities(metric: &'static str, y_true: &[bool], probs: &[f64]) -> Result<()> {
    check_aligned("y_true", y_true, "probabilities", probs)?;
    check_finite("probabilities", probs)?;
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(index) => Err(Error::ProbabilityOutOfRange {
            metric,
            index,
            value: probs[index],
        }),
        None => Ok(()),
    }
}

fn check_threshold(threshold: f64) -> Result<()> {
    if threshold.is_nan() {
        return Err(Error::InvalidThreshold { value: threshold });
    }
    Ok(())
}

/// Counts `(positives, negatives)`.
pub(crate) fn class_counts(y_true: &[bool]) -> (usize, usize) {
    let p = y_true.iter().filter(|&&y| y).count();
    (p, y_true.len() - p)
}

/// Errors with [`Error::SingleClass`] unless both classes are present.
pub(crate) fn require_both_classes(
    metric: &'static str,
    y_true: &[bool],
) -> Result<(usize, usize)> {
    let (p, n) = class_counts(y_true);
    if p == 0 {
        return Err(Error::SingleClass {
            metric,
            present: Class::Negative,
        });
    }
    if n == 0 {
        return Err(Error::SingleClass {
            metric,
            present: Class::Positive,
        });
    }
    Ok((p, n))
}

/// Maps a finite `f64` to a `u64` whose unsigned order is the numeric order; `-0.0` and `0.0`
/// map to the same key, so ties are exactly the numerically equal values.
#[inline]
pub(crate) fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

// ---- confusion matrix and thresholded metrics -----------------------------------------------

/// Counts of a binary confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// True positives: positive rows predicted positive.
    pub tp: u64,
    /// False positives: negative rows predicted positive.
    pub fp: u64,
    /// True negatives: negative rows predicted negative.
    pub tn: u64,
    /// False negatives: positive rows predicted negative (`fn` is a keyword).
    pub fn_: u64,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl ConfusionMatrix {
    /// Builds the matrix from hard predictions.
    pub fn from_predictions(y_true: &[bool], y_pred: &[bool]) -> Result<Self> {
        check_aligned("y_true", y_true, "y_pred", y_pred)?;
        let mut cm = ConfusionMatrix::default();
        for (&t, &p) in y_true.iter().zip(y_pred) {
            match (t, p) {
                (true, true) => cm.tp += 1,
                (false, true) => cm.fp += 1,
                (false, false) => cm.tn += 1,
                (true, false) => cm.fn_ += 1,
            }
        }
        Ok(cm)
    }

    /// Builds the matrix from scores, predicting positive when `score >= threshold`.
    ///
    /// `threshold` may be any non-NaN value (`±inf` predicts everything negative / positive).
    pub fn at_threshold(y_true: &[bool], scores: &[f64], threshold: f64) -> Result<Self> {
        check_scores(y_true, scores)?;
        check_threshold(threshold)?;
        let mut cm = ConfusionMatrix::default();
        for (&t, &s) in y_true.iter().zip(scores) {
            match (t, s >= threshold) {
                (true, true) => cm.tp += 1,
                (false, true) => cm.fp += 1,
                (false, false) => cm.tn += 1,
                (true, false) => cm.fn_ += 1,
            }
        }
        Ok(cm)
    }

    /// Number of rows.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// `(tp + tn) / total`; `0.0` for an empty matrix.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }

    /// `tp / (tp + fp)`; `0.0` when nothing is predicted positive (`zero_division=0`).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// `tp / (tp + fn)`; `0.0` when there are no positives (`zero_division=0`).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// `2 tp / (2 tp + fp + fn)`; `0.0` when that denominator is zero (`zero_division=0`).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Mean of the recalls of the classes present in `y_true` (scikit-learn's
    /// `balanced_accuracy_score`: a class without true rows is left out of the mean).
    /// `0.0` for an empty matrix.
    pub fn balanced_accuracy(&self) -> f64 {
        let pos = self.tp + self.fn_;
        let neg = self.tn + self.fp;
        match (pos > 0, neg > 0) {
            (true, true) => (ratio(self.tp, pos) + ratio(self.tn, neg)) / 2.0,
            (true, false) => ratio(self.tp, pos),
            (false, true) => ratio(self.tn, neg),
            (false, false) => 0.0,
        }
    }
}

/// Hard predictions `score >= threshold`.
pub fn predict_at(scores: &[f64], threshold: f64) -> Result<Vec<bool>> {
    check_finite("scores", scores)?;
    check_threshold(threshold)?;
    Ok(scores.iter().map(|&s| s >= threshold).collect())
}

/// Share of correct predictions (scikit-learn `accuracy_score`).
pub fn accuracy(y_true: &[bool], y_pred: &[bool]) -> Result<f64> {
    Ok(ConfusionMatrix::from_predictions(y_true, y_pred)?.accuracy())
}

/// Mean per-class recall (scikit-learn `balanced_accuracy_score`); see
/// [`ConfusionMatrix::balanced_accuracy`].
pub fn balanced_accuracy(y_true: &[bool], y_pred: &[bool]) -> Result<f64> {
    Ok(ConfusionMatrix::from_predictions(y_true, y_pred)?.balanced_accuracy())
}

/// Precision of the positive class, `0.0` when nothing is predicted positive
/// (scikit-learn `precision_score(zero_division=0)`).
pub fn precision(y_true: &[bool], y_pred: &[bool]) -> Result<f64> {
    Ok(ConfusionMatrix::from_predictions(y_true, y_pred)?.precision())
}

/// Recall of the positive class, `0.0` when `y_true` has no positives
/// (scikit-learn `recall_score(zero_division=0)`).
pub fn recall(y_true: &[bool], y_pred: &[bool]) -> Result<f64> {
    Ok(ConfusionMatrix::from_predictions(y_true, y_pred)?.recall())
}

/// F1 of the positive class, `0.0` when there are neither predicted nor actual positives
/// (scikit-learn `f1_score(zero_division=0)`).
pub fn f1(y_true: &[bool], y_pred: &[bool]) -> Result<f64> {
    Ok(ConfusionMatrix::from_predictions(y_true, y_pred)?.f1())
}

// ---- ranking metrics -------------------------------------------------------------------------

/// Area under the ROC curve (scikit-learn `roc_auc_score`).
///
/// Tied scores count one half, which equals the trapezoid over tied groups that scikit-learn
/// integrates. Runs in `O(n log n)`: the two classes are sorted separately by an order-preserving
/// integer key and merged; the sum is kept in integers, so the result is exact up to the final
/// division. Errors with [`Error::SingleClass`] when `y_true` holds one class.
#[tracing::instrument(skip_all, fields(n = y_true.len()))]
pub fn roc_auc(y_true: &[bool], scores: &[f64]) -> Result<f64> {
    check_scores(y_true, scores)?;
    let (p, n) = require_both_classes("roc_auc", y_true)?;
    let mut pos = Vec::with_capacity(p);
    let mut neg = Vec::with_capacity(n);
    for (&y, &s) in y_true.iter().zip(scores) {
        if y {
            pos.push(order_key(s));
        } else {
            neg.push(order_key(s));
        }
    }
    pos.sort_unstable();
    neg.sort_unstable();
    // twice the Mann-Whitney U statistic: 2 * #(neg < pos) + #(neg == pos)
    let mut u2: u128 = 0;
    let (mut lt, mut le) = (0usize, 0usize);
    let mut i = 0;
    while i < pos.len() {
        let key = pos[i];
        let mut j = i;
        while j < pos.len() && pos[j] == key {
            j += 1;
        }
        while lt < neg.len() && neg[lt] < key {
            lt += 1;
        }
        if le < lt {
            le = lt;
        }
        while le < neg.len() && neg[le] == key {
            le += 1;
        }
        let group = (j - i) as u128;
        u2 += group * (2 * lt as u128 + (le - lt) as u128);
        i = j;
    }
    Ok(u2 as f64 / (2.0 * p as f64 * n as f64))
}

/// One point per distinct score, in decreasing score order: predicting `score >= threshold`
/// gives `tp` true and `fp` false positives.
#[derive(Debug, Clone, Copy)]
struct CurvePoint {
    threshold: f64,
    tp: u64,
    fp: u64,
}

fn curve(y_true: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    let mut pairs: Vec<(u64, f64, bool)> = y_true
        .iter()
        .zip(scores)
        .map(|(&y, &s)| (order_key(s), s + 0.0, y))
        .collect();
    pairs.sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < pairs.len() {
        let key = pairs[i].0;
        let threshold = pairs[i].1;
        while i < pairs.len() && pairs[i].0 == key {
            if pairs[i].2 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push(CurvePoint { threshold, tp, fp });
    }
    out
}

/// Average precision (scikit-learn `average_precision_score`): the step-wise sum
/// `Σ (R_k − R_{k−1}) · P_k` over distinct score thresholds in decreasing order, not a trapezoid.
/// Errors with [`Error::SingleClass`] when `y_true` holds one class.
#[tracing::instrument(skip_all, fields(n = y_true.len()))]
pub fn average_precision(y_true: &[bool], scores: &[f64]) -> Result<f64> {
    check_scores(y_true, scores)?;
    let (p, _) = require_both_classes("average_precision", y_true)?;
    let p = p as f64;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for pt in curve(y_true, scores) {
        let recall = pt.tp as f64 / p;
        let precision = pt.tp as f64 / (pt.tp + pt.fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

// ---- probabilistic metrics -------------------------------------------------------------------

/// Mean binary cross-entropy (scikit-learn `log_loss`, natural log).
///
/// Like scikit-learn ≥ 1.5 the probability of the observed class is clipped to
/// `[ε, 1 − ε]` with `ε = f64::EPSILON` (`np.finfo(float64).eps`); for a negative row that
/// probability is `1 − p`, computed before clipping. Unlike scikit-learn (which then needs
/// `labels=[0, 1]`), a single-class `y_true` is accepted: the loss is well defined.
pub fn log_loss(y_true: &[bool], probabilities: &[f64]) -> Result<f64> {
    check_probabilities("log_loss", y_true, probabilities)?;
    let eps = f64::EPSILON;
    let mut sum = 0.0;
    for (&y, &p) in y_true.iter().zip(probabilities) {
        let q = if y { p } else { 1.0 - p };
        sum -= q.clamp(eps, 1.0 - eps).ln();
    }
    Ok(sum / y_true.len() as f64)
}

/// Mean squared difference between probability and outcome (scikit-learn `brier_score_loss`).
pub fn brier_score(y_true: &[bool], probabilities: &[f64]) -> Result<f64> {
    check_probabilities("brier_score", y_true, probabilities)?;
    let sum: f64 = y_true
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let d = p - if y { 1.0 } else { 0.0 };
            d * d
        })
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// How [`calibration_curve`] places its bin edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalibrationStrategy {
    /// `n_bins` equal-width bins on `[0, 1]`.
    Uniform,
    /// Edges at the `0, 1/n_bins, …, 1` quantiles of the probabilities (linear interpolation,
    /// numpy's default), so bins hold about the same number of rows.
    Quantile,
}

/// Reliability diagram data: one entry per non-empty bin, in increasing bin order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationCurve {
    /// Share of positives in each non-empty bin.
    pub prob_true: Vec<f64>,
    /// Mean predicted probability in each non-empty bin.
    pub prob_pred: Vec<f64>,
}

/// numpy `linspace(0, 1, n + 1)[i]`.
fn linspace01(i: usize, n: usize) -> f64 {
    if i == n {
        1.0
    } else {
        i as f64 * (1.0 / n as f64)
    }
}

/// numpy `percentile(sorted, q * 100)` with the default linear method, bit for bit
/// (NaN for an empty slice).
pub(crate) fn percentile_linear(sorted: &[f64], q: f64) -> f64 {
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return f64::NAN;
    };
    let q = q * 100.0 / 100.0;
    let len = sorted.len();
    let vi = (len - 1) as f64 * q;
    if vi >= (len - 1) as f64 {
        return last;
    }
    if vi < 0.0 {
        return first;
    }
    let prev = vi.floor();
    let lo = prev as usize;
    let a = sorted.get(lo).copied().unwrap_or(first);
    let b = sorted.get(lo + 1).copied().unwrap_or(last);
    let t = vi - prev;
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Calibration curve (scikit-learn `calibration.calibration_curve`).
///
/// A probability `p` falls in bin `k` = the number of inner edges strictly below `p`
/// (`np.searchsorted(edges[1:-1], p)`), so a value equal to an inner edge belongs to the lower
/// bin. Empty bins are dropped. Errors on `n_bins == 0` and probabilities outside `[0, 1]`.
pub fn calibration_curve(
    y_true: &[bool],
    probabilities: &[f64],
    strategy: CalibrationStrategy,
    n_bins: usize,
) -> Result<CalibrationCurve> {
    check_probabilities("calibration_curve", y_true, probabilities)?;
    if n_bins == 0 {
        return Err(Error::InvalidParameter {
            name: "n_bins",
            value: 0.0,
            expected: "at least 1",
        });
    }
    let edges: Vec<f64> = match strategy {
        CalibrationStrategy::Uniform => (1..n_bins).map(|i| linspace01(i, n_bins)).collect(),
        CalibrationStrategy::Quantile => {
            let mut sorted = probabilities.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            (1..n_bins)
                .map(|i| percentile_linear(&sorted, linspace01(i, n_bins)))
                .collect()
        }
    };
    let mut sums = vec![0.0; n_bins];
    let mut trues = vec![0.0; n_bins];
    let mut totals = vec![0u64; n_bins];
    for (&y, &p) in y_true.iter().zip(probabilities) {
        let bin = edges.partition_point(|&e| e < p);
        sums[bin] += p;
        if y {
            trues[bin] += 1.0;
        }
        totals[bin] += 1;
    }
    let mut out = CalibrationCurve {
        prob_true: Vec::new(),
        prob_pred: Vec::new(),
    };
    for ((s, t), &c) in sums.iter().zip(&trues).zip(&totals) {
        if c > 0 {
            out.prob_true.push(t / c as f64);
            out.prob_pred.push(s / c as f64);
        }
    }
    Ok(out)
}

// ---- threshold choice ------------------------------------------------------------------------

/// A decision threshold with the precision and recall it achieves (predicting `score >= threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdChoice {
    /// The chosen threshold; always one of the input scores.
    pub threshold: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
}

fn validate_target(kind: &'static str, target: f64) -> Result<()> {
    if !(target > 0.0 && target <= 1.0) {
        return Err(Error::InvalidTarget {
            kind,
            value: target,
        });
    }
    Ok(())
}

fn choices(y_true: &[bool], scores: &[f64]) -> Result<Vec<ThresholdChoice>> {
    check_scores(y_true, scores)?;
    let (p, _) = class_counts(y_true);
    if p == 0 {
        return Err(Error::SingleClass {
            metric: "threshold choice",
            present: Class::Negative,
        });
    }
    Ok(curve(y_true, scores)
        .into_iter()
        .map(|pt| ThresholdChoice {
            threshold: pt.threshold,
            precision: pt.tp as f64 / (pt.tp + pt.fp) as f64,
            recall: pt.tp as f64 / p as f64,
        })
        .collect())
}

/// Picks, from the distinct scores, the threshold with the highest recall among those whose
/// precision is at least `target`; among equal recalls, the highest threshold wins.
///
/// Errors with [`Error::InvalidTarget`] unless `0 < target <= 1`, [`Error::SingleClass`] when
/// `y_true` has no positives, and [`Error::TargetUnattainable`] (carrying the best precision any
/// threshold reaches) when no threshold is precise enough.
pub fn threshold_for_precision(
    y_true: &[bool],
    scores: &[f64],
    target: f64,
) -> Result<ThresholdChoice> {
    validate_target("precision", target)?;
    let all = choices(y_true, scores)?;
    best_choice(&all, "precision", target, |c| c.precision, |c| c.recall)
}

/// Picks, from the distinct scores, the threshold with the highest precision among those whose
/// recall is at least `target`; among equal precisions, the highest threshold wins.
///
/// Errors as [`threshold_for_precision`] does. (A recall target is always attainable at the lowest
/// score, so [`Error::TargetUnattainable`] cannot occur here for valid input.)
pub fn threshold_for_recall(
    y_true: &[bool],
    scores: &[f64],
    target: f64,
) -> Result<ThresholdChoice> {
    validate_target("recall", target)?;
    let all = choices(y_true, scores)?;
    best_choice(&all, "recall", target, |c| c.recall, |c| c.precision)
}

fn best_choice(
    all: &[ThresholdChoice],
    kind: &'static str,
    target: f64,
    constrained: impl Fn(&ThresholdChoice) -> f64,
    maximised: impl Fn(&ThresholdChoice) -> f64,
) -> Result<ThresholdChoice> {
    // `all` is in decreasing threshold order, so keeping the first strict improvement keeps
    // the highest threshold among ties.
    let mut best: Option<ThresholdChoice> = None;
    for c in all.iter().filter(|c| constrained(c) >= target) {
        if best.is_none_or(|b| maximised(c) > maximised(&b)) {
            best = Some(*c);
        }
    }
    best.ok_or_else(|| Error::TargetUnattainable {
        kind,
        target,
        best: all.iter().map(&constrained).fold(0.0, f64::max),
    })
}

// ---- the standard set ------------------------------------------------------------------------

/// The standard evaluation set of a probabilistic binary classifier, computed in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Number of rows.
    pub n: u64,
    /// Number of positive rows.
    pub n_positive: u64,
    /// Threshold used for the thresholded metrics (`probability >= threshold` is positive).
    pub threshold: f64,
    /// Confusion matrix at `threshold`.
    pub confusion: ConfusionMatrix,
    /// Accuracy at `threshold`.
    pub accuracy: f64,
    /// Balanced accuracy at `threshold`.
    pub balanced_accuracy: f64,
    /// Precision at `threshold` (`zero_division=0`).
    pub precision: f64,
    /// Recall at `threshold` (`zero_division=0`).
    pub recall: f64,
    /// F1 at `threshold` (`zero_division=0`).
    pub f1: f64,
    /// ROC-AUC; `None` when `y_true` holds one class.
    pub roc_auc: Option<f64>,
    /// Average precision; `None` when `y_true` holds one class.
    pub average_precision: Option<f64>,
    /// Log loss.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
}

impl BinaryMetrics {
    /// Computes every metric from probabilities of the positive class.
    ///
    /// Errors on the input problems of the single metrics (empty, length mismatch, non-finite,
    /// outside `[0, 1]`, NaN threshold); a single-class `y_true` is not an error but leaves the
    /// ranking metrics `None`.
    #[tracing::instrument(skip_all, fields(n = y_true.len()))]
    pub fn compute(y_true: &[bool], probabilities: &[f64], threshold: f64) -> Result<Self> {
        check_probabilities("BinaryMetrics", y_true, probabilities)?;
        let confusion = ConfusionMatrix::at_threshold(y_true, probabilities, threshold)?;
        let undefined_as_none = |r: Result<f64>| match r {
            Ok(v) => Ok(Some(v)),
            Err(Error::SingleClass { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        Ok(BinaryMetrics {
            n: confusion.total(),
            n_positive: confusion.tp + confusion.fn_,
            threshold,
            confusion,
            accuracy: confusion.accuracy(),
            balanced_accuracy: confusion.balanced_accuracy(),
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            roc_auc: undefined_as_none(roc_auc(y_true, probabilities))?,
            average_precision: undefined_as_none(average_precision(y_true, probabilities))?,
            log_loss: log_loss(y_true, probabilities)?,
            brier: brier_score(y_true, probabilities)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const Y: [bool; 4] = [false, false, true, true];
    const S: [f64; 4] = [0.1, 0.4, 0.35, 0.8];

    #[test]
    fn empty_input_is_an_error() {
        let e = Error::EmptyInput { what: "y_true" };
        assert_eq!(roc_auc(&[], &[]), Err(e.clone()));
        assert_eq!(average_precision(&[], &[]), Err(e.clone()));
        assert_eq!(log_loss(&[], &[]), Err(e.clone()));
        assert_eq!(brier_score(&[], &[]), Err(e.clone()));
        assert_eq!(accuracy(&[], &[]), Err(e.clone()));
        assert_eq!(ConfusionMatrix::at_threshold(&[], &[], 0.5), Err(e.clone()));
        assert_eq!(
            calibration_curve(&[], &[], CalibrationStrategy::Uniform, 5),
            Err(e.clone())
        );
        assert_eq!(threshold_for_recall(&[], &[], 0.5), Err(e.clone()));
        assert_eq!(BinaryMetrics::compute(&[], &[], 0.5), Err(e));
    }

    #[test]
    fn length_mismatch_names_both_lengths() {
        let err = roc_auc(&Y, &S[..3]).unwrap_err();
        assert_eq!(
            err,
            Error::LengthMismatch {
                left: "y_true",
                left_len: 4,
                right: "scores",
                right_len: 3
            }
        );
        assert!(err.to_string().contains("4") && err.to_string().contains("3"));
        assert!(matches!(
            f1(&Y, &[true]),
            Err(Error::LengthMismatch {
                right: "y_pred",
                right_len: 1,
                ..
            })
        ));
        assert!(matches!(
            log_loss(&Y, &[0.5; 5]),
            Err(Error::LengthMismatch { right_len: 5, .. })
        ));
    }

    #[test]
    fn non_finite_scores_report_their_index() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let s = [0.1, 0.2, bad, 0.3];
            match roc_auc(&Y, &s) {
                Err(Error::NonFiniteScore {
                    index: 2, value, ..
                }) => {
                    assert!(value.is_nan() || value == bad)
                }
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                average_precision(&Y, &s),
                Err(Error::NonFiniteScore { index: 2, .. })
            ));
            assert!(matches!(
                log_loss(&Y, &s),
                Err(Error::NonFiniteScore { index: 2, .. })
            ));
            assert!(matches!(
                ConfusionMatrix::at_threshold(&Y, &s, 0.5),
                Err(Error::NonFiniteScore { index: 2, .. })
            ));
            assert!(matches!(
                predict_at(&s, 0.5),
                Err(Error::NonFiniteScore { index: 2, .. })
            ));
            assert!(matches!(
                threshold_for_precision(&Y, &s, 0.5),
                Err(Error::NonFiniteScore { index: 2, .. })
            ));
        }
    }

    #[test]
    fn single_class_is_an_error_for_ranking_metrics() {
        let pos = [true, true];
        let neg = [false, false];
        assert_eq!(
            roc_auc(&pos, &[0.1, 0.2]),
            Err(Error::SingleClass {
                metric: "roc_auc",
                present: Class::Positive
            })
        );
        assert_eq!(
            average_precision(&neg, &[0.1, 0.2]),
            Err(Error::SingleClass {
                metric: "average_precision",
                present: Class::Negative
            })
        );
        assert!(matches!(
            threshold_for_recall(&neg, &[0.1, 0.2], 0.5),
            Err(Error::SingleClass { .. })
        ));
        // log loss and the thresholded metrics stay defined
        assert!(log_loss(&pos, &[0.5, 0.9]).is_ok());
        let m = BinaryMetrics::compute(&pos, &[0.5, 0.9], 0.5).unwrap();
        assert_eq!(m.roc_auc, None);
        assert_eq!(m.average_precision, None);
        assert_eq!(m.recall, 1.0);
    }

    #[test]
    fn probabilities_outside_unit_interval_are_rejected() {
        for (f, name) in [
            (log_loss as fn(&[bool], &[f64]) -> Result<f64>, "log_loss"),
            (brier_score, "brier_score"),
        ] {
            assert_eq!(
                f(&Y, &[0.1, 1.5, 0.2, 0.3]),
                Err(Error::ProbabilityOutOfRange {
                    metric: name,
                    index: 1,
                    value: 1.5
                })
            );
            assert!(matches!(
                f(&Y, &[0.1, 0.5, -0.2, 0.3]),
                Err(Error::ProbabilityOutOfRange { index: 2, .. })
            ));
        }
        assert!(matches!(
            calibration_curve(&Y, &[2.0, 0.0, 0.0, 0.0], CalibrationStrategy::Quantile, 2),
            Err(Error::ProbabilityOutOfRange { index: 0, .. })
        ));
        assert!(matches!(
            BinaryMetrics::compute(&Y, &[0.0, 0.0, 0.0, -1.0], 0.5),
            Err(Error::ProbabilityOutOfRange { index: 3, .. })
        ));
    }

    #[test]
    fn invalid_threshold_and_parameters() {
        assert!(matches!(
            ConfusionMatrix::at_threshold(&Y, &S, f64::NAN),
            Err(Error::InvalidThreshold { .. })
        ));
        assert!(matches!(
            predict_at(&S, f64::NAN),
            Err(Error::InvalidThreshold { .. })
        ));
        assert!(matches!(
            BinaryMetrics::compute(&Y, &S, f64::NAN),
            Err(Error::InvalidThreshold { .. })
        ));
        // infinite thresholds are allowed: everything negative / positive
        let cm = ConfusionMatrix::at_threshold(&Y, &S, f64::INFINITY).unwrap();
        assert_eq!((cm.tp, cm.fp, cm.tn, cm.fn_), (0, 0, 2, 2));
        assert_eq!(cm.precision(), 0.0); // zero_division = 0
        assert!(matches!(
            calibration_curve(&Y, &S, CalibrationStrategy::Uniform, 0),
            Err(Error::InvalidParameter { name: "n_bins", .. })
        ));
    }

    #[test]
    fn invalid_and_unattainable_targets() {
        for bad in [0.0, -0.1, 1.1, f64::NAN] {
            assert!(matches!(
                threshold_for_precision(&Y, &S, bad),
                Err(Error::InvalidTarget {
                    kind: "precision",
                    ..
                })
            ));
            assert!(matches!(
                threshold_for_recall(&Y, &S, bad),
                Err(Error::InvalidTarget { kind: "recall", .. })
            ));
        }
        // the best precision any threshold reaches here is 2/3 (at 0.1)
        let y = [true, false, true];
        let s = [0.5, 0.9, 0.1];
        assert_eq!(
            threshold_for_precision(&y, &s, 0.9),
            Err(Error::TargetUnattainable {
                kind: "precision",
                target: 0.9,
                best: 2.0 / 3.0
            })
        );
        let c = threshold_for_recall(&y, &s, 0.5).unwrap();
        assert_eq!((c.threshold, c.precision, c.recall), (0.1, 2.0 / 3.0, 1.0));
        let c = threshold_for_precision(&Y, &S, 1.0).unwrap();
        assert_eq!((c.threshold, c.precision, c.recall), (0.8, 1.0, 0.5));
    }

    #[test]
    fn ties_and_signed_zero() {
        // all tied: AUC 0.5, AP = prevalence
        let y = [true, false, false, true];
        assert_eq!(roc_auc(&y, &[0.3; 4]).unwrap(), 0.5);
        assert_eq!(average_precision(&y, &[0.3; 4]).unwrap(), 0.5);
        // -0.0 and 0.0 are the same score
        assert_eq!(roc_auc(&[true, false], &[0.0, -0.0]).unwrap(), 0.5);
        assert_eq!(roc_auc(&[true, false], &[-0.0, 0.0]).unwrap(), 0.5);
        // decision values outside [0, 1] are fine for ranking metrics
        assert_eq!(roc_auc(&[true, false], &[-3.0, -7.5]).unwrap(), 1.0);
    }

    #[test]
    fn binary_metrics_serde_round_trip() {
        let m = BinaryMetrics::compute(&Y, &S, 0.4).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        let back: BinaryMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(m, back);
        fn send_sync<T: Send + Sync>() {}
        send_sync::<BinaryMetrics>();
        send_sync::<Error>();
    }
}
