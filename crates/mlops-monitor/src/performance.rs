//! Model performance monitoring: windowed metrics over labelled outcomes, thresholds with
//! reasons, and label-free confidence-based performance estimation (CBPE).
//!
//! # Windowed metrics
//!
//! [`WindowedClassificationMonitor`] keeps the last outcomes of a binary classifier, either the
//! last `N` ([`Window::Count`]) or those whose timestamp lies within the last `millis`
//! milliseconds of the newest one ([`Window::Time`]: an outcome at `t` is kept while
//! `t > newest − millis`). The confusion counts are maintained incrementally (`O(1)` per
//! outcome); ROC-AUC is recomputed over the window on demand (`O(w log w)`, the Mann–Whitney
//! statistic with average ranks for ties, equal to `sklearn.metrics.roc_auc_score`).
//!
//! A prediction is positive when `score ≥ decision_threshold` (0.5 by default). Metrics that are
//! undefined on the window (precision with no predicted positive, recall with no actual
//! positive, AUC with one class) are `None`, never a silent 0.
//!
//! ```
//! use mlops_monitor::performance::*;
//! let mut m = WindowedClassificationMonitor::new(Window::Count(4), 0.5)?;
//! for (t, (y, p)) in [(true, 0.9), (false, 0.2), (true, 0.4), (false, 0.6)].into_iter().enumerate() {
//!     m.observe(t as u64, y, p)?;
//! }
//! let metrics = m.metrics();
//! assert_eq!(metrics.accuracy, Some(0.5));
//! let status = m.status(&[MetricThreshold { metric: Metric::Accuracy, min: 0.9 }], 1);
//! assert_eq!(status.level, StatusLevel::Alert);
//! # Ok::<(), mlops_monitor::Error>(())
//! ```
//!
//! # CBPE
//!
//! Without labels, a *calibrated* probability `p = P(y = 1 | x)` still gives the expected
//! confusion matrix: a row predicted positive (`p ≥ threshold`) is a true positive with
//! probability `p` and a false positive with `1 − p`; a row predicted negative is a false
//! negative with `p` and a true negative with `1 − p`. [`estimate_performance`] sums these
//! ([`ExpectedConfusion`]) and derives estimated accuracy (at threshold 0.5, the mean of
//! `max(p, 1 − p)`), precision `TP/(TP+FP)`, recall `TP/(TP+FN)` and F1 `2TP/(2TP+FP+FN)`.
//! The estimate is only as good as the calibration.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which outcomes a [`WindowedClassificationMonitor`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last `n` outcomes (`n ≥ 1`).
    Count(usize),
    /// Outcomes newer than `newest − millis` (`millis ≥ 1`).
    Time {
        /// Window length in milliseconds.
        millis: u64,
    },
}

/// A classification metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Metric {
    /// `(TP + TN) / n`.
    Accuracy,
    /// `TP / (TP + FP)`.
    Precision,
    /// `TP / (TP + FN)`.
    Recall,
    /// `2 TP / (2 TP + FP + FN)`.
    F1,
    /// Area under the ROC curve.
    RocAuc,
}

impl Metric {
    /// The snake_case name (`"accuracy"`, `"roc_auc"`, ...), used in reports and Prometheus labels.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::RocAuc => "roc_auc",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Metrics of a set of outcomes (`None` where undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Number of outcomes.
    pub n: u64,
    /// Accuracy (`None` when `n == 0`).
    pub accuracy: Option<f64>,
    /// Precision (`None` with no predicted positive).
    pub precision: Option<f64>,
    /// Recall (`None` with no actual positive).
    pub recall: Option<f64>,
    /// F1 (`None` when `2TP + FP + FN == 0`).
    pub f1: Option<f64>,
    /// ROC-AUC (`None` unless both classes are present).
    pub roc_auc: Option<f64>,
}

impl ClassificationMetrics {
    /// The value of one metric.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Precision => self.precision,
            Metric::Recall => self.recall,
            Metric::F1 => self.f1,
            Metric::RocAuc => self.roc_auc,
        }
    }

    /// `(metric, value)` for every defined metric, in [`Metric`] order.
    pub fn defined(&self) -> Vec<(Metric, f64)> {
        [
            Metric::Accuracy,
            Metric::Precision,
            Metric::Recall,
            Metric::F1,
            Metric::RocAuc,
        ]
        .into_iter()
        .filter_map(|m| self.get(m).map(|v| (m, v)))
        .collect()
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// A confusion matrix with real-valued cells (counts, or expectations for CBPE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpectedConfusion {
    /// True positives.
    pub tp: f64,
    /// False positives.
    pub fp: f64,
    /// True negatives.
    pub tn: f64,
    /// False negatives.
    pub fn_: f64,
}

impl ExpectedConfusion {
    /// Total.
    pub fn n(&self) -> f64 {
        self.tp + self.fp + self.tn + self.fn_
    }
    /// `(TP + TN) / n`.
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.tp + self.tn, self.n())
    }
    /// `TP / (TP + FP)`.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }
    /// `TP / (TP + FN)`.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// `2TP / (2TP + FP + FN)`.
    pub fn f1(&self) -> Option<f64> {
        ratio(2.0 * self.tp, 2.0 * self.tp + self.fp + self.fn_)
    }
}

/// One alert condition: `metric` must be at least `min`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricThreshold {
    /// The metric.
    pub metric: Metric,
    /// The lowest acceptable value.
    pub min: f64,
}

/// Overall state of a [`PerformanceStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusLevel {
    /// Every threshold holds.
    Ok,
    /// At least one threshold is violated.
    Alert,
    /// Too few outcomes to judge (or a thresholded metric is undefined), and nothing violated.
    InsufficientData,
}

/// Why a status is not [`StatusLevel::Ok`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StatusReason {
    /// A metric fell below its minimum.
    BelowThreshold {
        /// The metric.
        metric: Metric,
        /// Its value.
        value: f64,
        /// The minimum.
        min: f64,
    },
    /// A thresholded metric is undefined on the window.
    Undefined {
        /// The metric.
        metric: Metric,
    },
    /// Fewer outcomes than required.
    TooFewSamples {
        /// Outcomes in the window.
        n: u64,
        /// Required.
        min_samples: u64,
    },
}

impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusReason::BelowThreshold { metric, value, min } => {
                write!(f, "{metric} {value:.4} is below {min}")
            }
            StatusReason::Undefined { metric } => write!(f, "{metric} is undefined on the window"),
            StatusReason::TooFewSamples { n, min_samples } => {
                write!(f, "{n} outcomes, at least {min_samples} needed")
            }
        }
    }
}

/// The metrics of a window judged against thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceStatus {
    /// Overall state.
    pub level: StatusLevel,
    /// The metrics judged.
    pub metrics: ClassificationMetrics,
    /// Every violated or unjudgeable condition, in threshold order.
    pub reasons: Vec<StatusReason>,
}

/// Judge metrics against thresholds. A violated threshold gives [`StatusLevel::Alert`];
/// otherwise too few samples or an undefined thresholded metric gives
/// [`StatusLevel::InsufficientData`].
pub fn judge(
    metrics: ClassificationMetrics,
    thresholds: &[MetricThreshold],
    min_samples: u64,
) -> PerformanceStatus {
    let mut reasons = Vec::new();
    if metrics.n < min_samples {
        reasons.push(StatusReason::TooFewSamples {
            n: metrics.n,
            min_samples,
        });
    }
    let mut alert = false;
    for t in thresholds {
        match metrics.get(t.metric) {
            Some(value) if metrics.n >= min_samples => {
                // A NaN minimum never alerts; `value < min` is the only violation.
                if value < t.min {
                    alert = true;
                    reasons.push(StatusReason::BelowThreshold {
                        metric: t.metric,
                        value,
                        min: t.min,
                    });
                }
            }
            Some(_) => {}
            None => reasons.push(StatusReason::Undefined { metric: t.metric }),
        }
    }
    let level = if alert {
        StatusLevel::Alert
    } else if reasons.is_empty() {
        StatusLevel::Ok
    } else {
        StatusLevel::InsufficientData
    };
    PerformanceStatus {
        level,
        metrics,
        reasons,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Outcome {
    t: u64,
    label: bool,
    score: f64,
}

/// Binary-classification metrics over a sliding window (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowedClassificationMonitor {
    window: Window,
    decision_threshold: f64,
    outcomes: VecDeque<Outcome>,
    tp: u64,
    fp: u64,
    tn: u64,
    fn_: u64,
    observed: u64,
    newest: Option<u64>,
}

impl WindowedClassificationMonitor {
    /// A monitor with the given window; predictions are positive when `score ≥
    /// decision_threshold`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero window or a threshold outside `[0, 1]`.
    pub fn new(window: Window, decision_threshold: f64) -> Result<Self> {
        match window {
            Window::Count(0) => {
                return Err(Error::InvalidParameter {
                    name: "window",
                    value: 0.0,
                    reason: "must hold at least 1 outcome",
                });
            }
            Window::Time { millis: 0 } => {
                return Err(Error::InvalidParameter {
                    name: "window_millis",
                    value: 0.0,
                    reason: "must be at least 1",
                });
            }
            _ => {}
        }
        if !(0.0..=1.0).contains(&decision_threshold) {
            return Err(Error::InvalidParameter {
                name: "decision_threshold",
                value: decision_threshold,
                reason: "must be in [0, 1]",
            });
        }
        Ok(Self {
            window,
            decision_threshold,
            outcomes: VecDeque::new(),
            tp: 0,
            fp: 0,
            tn: 0,
            fn_: 0,
            observed: 0,
            newest: None,
        })
    }

    fn count(&mut self, o: Outcome, add: bool) {
        let predicted = o.score >= self.decision_threshold;
        let cell = match (predicted, o.label) {
            (true, true) => &mut self.tp,
            (true, false) => &mut self.fp,
            (false, false) => &mut self.tn,
            (false, true) => &mut self.fn_,
        };
        if add {
            *cell += 1;
        } else {
            *cell = cell.saturating_sub(1);
        }
    }

    /// Adds one labelled outcome: its time in milliseconds, the true label and the predicted
    /// probability of the positive class.
    ///
    /// # Errors
    /// [`Error::InvalidProbability`] for a score that is NaN or outside `[0, 1]`;
    /// [`Error::TimestampOrder`] for a timestamp earlier than the newest seen (time windows
    /// only). The monitor is unchanged on error.
    pub fn observe(&mut self, timestamp_ms: u64, label: bool, score: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&score) {
            return Err(Error::InvalidProbability {
                index: self.observed,
                value: score,
            });
        }
        if let (Window::Time { .. }, Some(prev)) = (self.window, self.newest)
            && timestamp_ms < prev
        {
            return Err(Error::TimestampOrder {
                previous: prev,
                found: timestamp_ms,
            });
        }
        let o = Outcome {
            t: timestamp_ms,
            label,
            score,
        };
        self.observed += 1;
        self.newest = Some(self.newest.map_or(timestamp_ms, |p| p.max(timestamp_ms)));
        self.outcomes.push_back(o);
        self.count(o, true);
        self.evict();
        Ok(())
    }

    /// Drops outcomes older than `now − millis` without adding one (time windows; a no-op for
    /// count windows). Use it to age the window when no outcomes arrive.
    ///
    /// # Errors
    /// [`Error::TimestampOrder`] when `now_ms` is earlier than the newest outcome.
    pub fn advance_to(&mut self, now_ms: u64) -> Result<()> {
        if let Window::Time { .. } = self.window {
            if let Some(prev) = self.newest
                && now_ms < prev
            {
                return Err(Error::TimestampOrder {
                    previous: prev,
                    found: now_ms,
                });
            }
            self.newest = Some(now_ms);
            self.evict();
        }
        Ok(())
    }

    fn evict(&mut self) {
        loop {
            let drop = match (self.window, self.outcomes.front(), self.newest) {
                (Window::Count(n), Some(_), _) => self.outcomes.len() > n,
                (Window::Time { millis }, Some(o), Some(now)) => now.saturating_sub(o.t) >= millis,
                _ => false,
            };
            if !drop {
                break;
            }
            if let Some(o) = self.outcomes.pop_front() {
                self.count(o, false);
            }
        }
    }

    /// Outcomes in the window.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// The confusion counts of the window.
    pub fn confusion(&self) -> ExpectedConfusion {
        ExpectedConfusion {
            tp: self.tp as f64,
            fp: self.fp as f64,
            tn: self.tn as f64,
            fn_: self.fn_ as f64,
        }
    }

    /// ROC-AUC of the window (`None` unless both classes are present).
    pub fn roc_auc(&self) -> Option<f64> {
        let pairs: Vec<(f64, bool)> = self.outcomes.iter().map(|o| (o.score, o.label)).collect();
        roc_auc(&pairs)
    }

    /// Every metric of the window.
    pub fn metrics(&self) -> ClassificationMetrics {
        let c = self.confusion();
        ClassificationMetrics {
            n: self.outcomes.len() as u64,
            accuracy: c.accuracy(),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            roc_auc: self.roc_auc(),
        }
    }

    /// The window's metrics judged against `thresholds` (see [`judge`]).
    pub fn status(&self, thresholds: &[MetricThreshold], min_samples: u64) -> PerformanceStatus {
        judge(self.metrics(), thresholds, min_samples)
    }
}

/// ROC-AUC of `(score, label)` pairs by the Mann–Whitney statistic with average ranks for tied
/// scores (equal to `sklearn.metrics.roc_auc_score`). `None` unless both classes are present or
/// when a score is NaN.
pub fn roc_auc(pairs: &[(f64, bool)]) -> Option<f64> {
    if pairs.iter().any(|p| p.0.is_nan()) {
        return None;
    }
    let n_pos = pairs.iter().filter(|p| p.1).count();
    let n_neg = pairs.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_pos = 0.0_f64;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while sorted
            .get(j + 1)
            .is_some_and(|p| Some(p.0) == sorted.get(i).map(|q| q.0))
        {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let avg = (i + j + 2) as f64 / 2.0;
        let pos = sorted
            .get(i..=j)
            .map_or(0, |s| s.iter().filter(|p| p.1).count());
        rank_sum_pos += avg * pos as f64;
        i = j + 1;
    }
    let (np, nn) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - np * (np + 1.0) / 2.0) / (np * nn))
}

/// The outcome of [`estimate_performance`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EstimatedPerformance {
    /// The expected confusion matrix.
    pub confusion: ExpectedConfusion,
    /// Estimated metrics (ROC-AUC is not estimated: `None`).
    pub metrics: ClassificationMetrics,
}

impl EstimatedPerformance {
    /// The estimated metrics judged against thresholds (see [`judge`]); a threshold on
    /// [`Metric::RocAuc`] is reported as undefined.
    pub fn status(&self, thresholds: &[MetricThreshold], min_samples: u64) -> PerformanceStatus {
        judge(self.metrics, thresholds, min_samples)
    }
}

/// Confidence-based performance estimation from calibrated probabilities of the positive class
/// (see the [module documentation](self)).
///
/// # Errors
/// [`Error::EmptySample`] for no probabilities; [`Error::InvalidProbability`] for NaN or a
/// value outside `[0, 1]`; [`Error::InvalidParameter`] for a threshold outside `[0, 1]`.
///
/// ```
/// use mlops_monitor::performance::estimate_performance;
/// let e = estimate_performance(&[0.9, 0.2, 0.6, 0.5], 0.5)?;
/// // Expected accuracy = mean(max(p, 1 - p)) = (0.9 + 0.8 + 0.6 + 0.5) / 4.
/// assert!((e.metrics.accuracy.unwrap_or(0.0) - 0.7).abs() < 1e-12);
/// # Ok::<(), mlops_monitor::Error>(())
/// ```
pub fn estimate_performance(probabilities: &[f64], threshold: f64) -> Result<EstimatedPerformance> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::InvalidParameter {
            name: "threshold",
            value: threshold,
            reason: "must be in [0, 1]",
        });
    }
    if probabilities.is_empty() {
        return Err(Error::EmptySample {
            sample: crate::Sample::Current,
        });
    }
    let mut c = ExpectedConfusion::default();
    for (i, &p) in probabilities.iter().enumerate() {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidProbability {
                index: i as u64,
                value: p,
            });
        }
        if p >= threshold {
            c.tp += p;
            c.fp += 1.0 - p;
        } else {
            c.fn_ += p;
            c.tn += 1.0 - p;
        }
    }
    Ok(EstimatedPerformance {
        confusion: c,
        metrics: ClassificationMetrics {
            n: probabilities.len() as u64,
            accuracy: c.accuracy(),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            roc_auc: None,
        },
    })
}
