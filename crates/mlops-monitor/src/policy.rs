//! Retrain policies: composable triggers over monitoring evidence, giving a decision that is
//! plain serde data for an audit log.
//!
//! A [`RetrainPolicy`] is a tree of [`Trigger`]s combined with [`RetrainPolicy::any`] and
//! [`RetrainPolicy::all`]. [`RetrainPolicy::evaluate`] judges it against an [`Evidence`] snapshot
//! (what the monitors saw, the labelled rows collected since the last training, and the current
//! time, passed in so that evaluation is deterministic) and returns a [`RetrainDecision`]: the
//! verdict, and for every trigger whether it fired, why, and the numbers it compared.
//!
//! | trigger | fires when | observed | threshold |
//! |---|---|---|---|
//! | [`Trigger::DatasetDrift`] with `min_share: None` | the dataset verdict is drift | share of drifted columns | the verdict's share threshold |
//! | [`Trigger::DatasetDrift`] with `min_share: Some(s)` | share of drifted columns `≥ s` | share of drifted columns | `s` |
//! | [`Trigger::DetectorDrift`] | the named detector's status is drift (or warning, with `on_warning`) | 1 drift, 0.5 warning, 0 stable | 1 (0.5 with `on_warning`) |
//! | [`Trigger::MetricBelow`] | the metric is `< min` on at least `min_samples` outcomes | the metric | `min` |
//! | [`Trigger::DataVolume`] | new labelled rows `≥ min_rows` | new rows | `min_rows` |
//! | [`Trigger::Schedule`] | `now − last_trained ≥ max_age_ms` | elapsed ms | `max_age_ms` |
//!
//! A trigger whose evidence is absent (no dataset drift given, an unknown detector, an undefined
//! metric or too few outcomes, no training time) does not fire and says so
//! ([`TriggerStatus::NoEvidence`]). A NaN threshold never fires. `any` fires when at least one
//! child fires, `all` when every child fires; a combinator with no children never fires
//! ([`RetrainPolicy::check`] rejects it, and the other invalid values, up front).
//!
//! ```
//! use std::time::Duration;
//! use mlops_monitor::performance::Metric;
//! use mlops_monitor::policy::{Evidence, RetrainPolicy};
//!
//! // Retrain when accuracy drops below 0.9, or when the data drifted and enough new labels
//! // arrived, or at least every 30 days.
//! let policy = RetrainPolicy::any([
//!     RetrainPolicy::metric_below(Metric::Accuracy, 0.90, 100),
//!     RetrainPolicy::all([RetrainPolicy::dataset_drift(), RetrainPolicy::data_volume(10_000)]),
//!     RetrainPolicy::schedule(Duration::from_secs(30 * 24 * 3600)),
//! ]);
//! policy.check()?;
//! let day_ms = 24 * 3600 * 1000;
//! let evidence = Evidence::at(40 * day_ms).with_last_trained_ms(0).with_new_labelled_rows(500);
//! let decision = policy.evaluate(&evidence);
//! assert!(decision.retrain); // 40 days since training
//! assert_eq!(decision.fired().len(), 1);
//! assert_eq!(decision.triggers().len(), 4);
//! # Ok::<(), mlops_monitor::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auto::DatasetDrift;
use crate::detect::{DriftDetector, DriftStatus};
use crate::error::{Error, Result};
use crate::performance::{ClassificationMetrics, Metric};

/// Which performance figures a [`Trigger::MetricBelow`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerformanceSource {
    /// Metrics over labelled outcomes ([`Evidence::performance`], e.g. from a
    /// [`WindowedClassificationMonitor`](crate::performance::WindowedClassificationMonitor)).
    #[default]
    Observed,
    /// Label-free estimates ([`Evidence::estimated_performance`], e.g. from
    /// [`estimate_performance`](crate::performance::estimate_performance)).
    Estimated,
}

/// One condition that can call for retraining (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// The dataset drifted.
    DatasetDrift {
        /// `None`: the dataset verdict decides; `Some(s)`: fires when the share of drifted
        /// columns is at least `s` (in `(0, 1]`).
        min_share: Option<f64>,
    },
    /// A streaming detector reported drift.
    DetectorDrift {
        /// The detector's name in [`Evidence::detectors`].
        detector: String,
        /// Fire on [`DriftStatus::Warning`] too.
        on_warning: bool,
    },
    /// A performance metric fell below a minimum.
    MetricBelow {
        /// The metric.
        metric: Metric,
        /// Fires when the metric is `< min`.
        min: f64,
        /// Outcomes needed before the metric is trusted.
        min_samples: u64,
        /// Observed or estimated metrics.
        source: PerformanceSource,
    },
    /// Enough new labelled rows arrived since the last training.
    DataVolume {
        /// Fires when new rows `≥ min_rows` (at least 1).
        min_rows: u64,
    },
    /// Too long since the last training.
    Schedule {
        /// Fires when `now − last_trained ≥ max_age_ms` (at least 1).
        max_age_ms: u64,
    },
}

impl Trigger {
    /// Short snake_case name, as in the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::DatasetDrift { .. } => "dataset_drift",
            Trigger::DetectorDrift { .. } => "detector_drift",
            Trigger::MetricBelow { .. } => "metric_below",
            Trigger::DataVolume { .. } => "data_volume",
            Trigger::Schedule { .. } => "schedule",
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            Trigger::DatasetDrift { min_share: Some(s) } if !(*s > 0.0 && *s <= 1.0) => {
                Err(Error::InvalidParameter {
                    name: "min_share",
                    value: *s,
                    reason: "must be in (0, 1]",
                })
            }
            Trigger::MetricBelow { min, .. } if !min.is_finite() => Err(Error::InvalidParameter {
                name: "min",
                value: *min,
                reason: "must be finite",
            }),
            Trigger::DataVolume { min_rows: 0 } => Err(Error::InvalidParameter {
                name: "min_rows",
                value: 0.0,
                reason: "must be at least 1",
            }),
            Trigger::Schedule { max_age_ms: 0 } => Err(Error::InvalidParameter {
                name: "max_age_ms",
                value: 0.0,
                reason: "must be at least 1",
            }),
            _ => Ok(()),
        }
    }

    fn evaluate(&self, e: &Evidence) -> TriggerOutcome {
        let out = |status, observed: Option<f64>, threshold: Option<f64>, reason: String| {
            TriggerOutcome {
                trigger: self.clone(),
                status,
                fired: status == TriggerStatus::Fired,
                observed: observed.filter(|v| v.is_finite()),
                threshold: threshold.filter(|v| v.is_finite()),
                reason,
            }
        };
        let judge = |fired: bool| {
            if fired {
                TriggerStatus::Fired
            } else {
                TriggerStatus::NotFired
            }
        };
        match self {
            Trigger::DatasetDrift { min_share } => {
                let Some(d) = &e.dataset_drift else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        *min_share,
                        "no dataset drift result".to_owned(),
                    );
                };
                let (fired, threshold) = match min_share {
                    None => (d.drifted, d.threshold),
                    Some(s) => (d.n_columns > 0 && d.share_drifted >= *s, *s),
                };
                let verb = if fired { "reaches" } else { "is below" };
                let basis = if min_share.is_some() {
                    "the trigger's share"
                } else {
                    "the dataset verdict's share"
                };
                out(
                    judge(fired),
                    Some(d.share_drifted),
                    Some(threshold),
                    format!(
                        "{} of {} columns drifted (share {}), which {verb} {basis} {}",
                        d.n_drifted,
                        d.n_columns,
                        num(d.share_drifted),
                        num(threshold)
                    ),
                )
            }
            Trigger::DetectorDrift {
                detector,
                on_warning,
            } => {
                let threshold = if *on_warning { 0.5 } else { 1.0 };
                let Some(status) = e.detectors.get(detector) else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        Some(threshold),
                        format!("no status for detector {detector:?}"),
                    );
                };
                let level = match status {
                    DriftStatus::Stable => 0.0,
                    DriftStatus::Warning => 0.5,
                    DriftStatus::Drift => 1.0,
                };
                let name = match status {
                    DriftStatus::Stable => "stable",
                    DriftStatus::Warning => "warning",
                    DriftStatus::Drift => "drift",
                };
                let fired = level >= threshold;
                let wanted = if *on_warning {
                    "warning or drift"
                } else {
                    "drift"
                };
                let verb = if fired { "matches" } else { "is not" };
                out(
                    judge(fired),
                    Some(level),
                    Some(threshold),
                    format!("detector {detector:?} is {name}, which {verb} {wanted}"),
                )
            }
            Trigger::MetricBelow {
                metric,
                min,
                min_samples,
                source,
            } => {
                let (metrics, which) = match source {
                    PerformanceSource::Observed => (e.performance.as_ref(), "observed"),
                    PerformanceSource::Estimated => (e.estimated_performance.as_ref(), "estimated"),
                };
                let Some(m) = metrics else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        Some(*min),
                        format!("no {which} performance"),
                    );
                };
                if m.n < *min_samples {
                    return out(
                        TriggerStatus::NoEvidence,
                        m.get(*metric),
                        Some(*min),
                        format!(
                            "{which} {metric} over {} outcomes, at least {min_samples} needed",
                            m.n
                        ),
                    );
                }
                let Some(v) = m.get(*metric) else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        Some(*min),
                        format!("{which} {metric} is undefined over {} outcomes", m.n),
                    );
                };
                let fired = v < *min;
                let verb = if fired { "is below" } else { "is not below" };
                out(
                    judge(fired),
                    Some(v),
                    Some(*min),
                    format!(
                        "{which} {metric} {} over {} outcomes {verb} {}",
                        num(v),
                        m.n,
                        num(*min)
                    ),
                )
            }
            Trigger::DataVolume { min_rows } => {
                let Some(n) = e.new_labelled_rows else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        Some(*min_rows as f64),
                        "no count of new labelled rows".to_owned(),
                    );
                };
                let fired = n >= *min_rows;
                let verb = if fired { "reach" } else { "are fewer than" };
                out(
                    judge(fired),
                    Some(n as f64),
                    Some(*min_rows as f64),
                    format!("{n} new labelled rows since the last training {verb} {min_rows}"),
                )
            }
            Trigger::Schedule { max_age_ms } => {
                let threshold = Some(*max_age_ms as f64);
                let (Some(now), Some(last)) = (e.now_ms, e.last_trained_ms) else {
                    return out(
                        TriggerStatus::NoEvidence,
                        None,
                        threshold,
                        "no current time or last training time".to_owned(),
                    );
                };
                if now < last {
                    return out(
                        TriggerStatus::NotFired,
                        Some(0.0),
                        threshold,
                        format!("current time {now} ms is before the last training at {last} ms"),
                    );
                }
                let age = now - last;
                let fired = age >= *max_age_ms;
                let verb = if fired { "reach" } else { "are less than" };
                out(
                    judge(fired),
                    Some(age as f64),
                    threshold,
                    format!(
                        "{} since the last training {verb} the maximum age {}",
                        duration(age),
                        duration(*max_age_ms)
                    ),
                )
            }
        }
    }
}

/// A number for a reason string: at most 4 decimals, no trailing zeros.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Milliseconds as `1d 2h 3m 4.5s`-style text.
fn duration(ms: u64) -> String {
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let mut s = String::new();
    for (v, unit) in [(d, "d"), (h, "h"), (m, "m")] {
        if v > 0 {
            let _ = write!(s, "{v}{unit} ");
        }
    }
    if rest > 0 || s.is_empty() {
        let _ = write!(s, "{}s", num(rest as f64 / 1000.0));
    }
    s.trim_end().to_owned()
}

/// A retrain policy: one trigger, or triggers combined with `any` / `all` (nestable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrainPolicy {
    /// A single trigger.
    Trigger(Trigger),
    /// Fires when at least one child fires.
    Any(Vec<RetrainPolicy>),
    /// Fires when every child fires.
    All(Vec<RetrainPolicy>),
}

impl From<Trigger> for RetrainPolicy {
    fn from(t: Trigger) -> Self {
        RetrainPolicy::Trigger(t)
    }
}

impl RetrainPolicy {
    /// Fires when at least one of `policies` fires.
    pub fn any<P: Into<RetrainPolicy>>(policies: impl IntoIterator<Item = P>) -> Self {
        RetrainPolicy::Any(policies.into_iter().map(Into::into).collect())
    }

    /// Fires when every one of `policies` fires.
    pub fn all<P: Into<RetrainPolicy>>(policies: impl IntoIterator<Item = P>) -> Self {
        RetrainPolicy::All(policies.into_iter().map(Into::into).collect())
    }

    /// Fires when the dataset verdict is drift.
    pub fn dataset_drift() -> Self {
        Trigger::DatasetDrift { min_share: None }.into()
    }

    /// Fires when at least `min_share` of the columns drifted.
    pub fn drifted_share(min_share: f64) -> Self {
        Trigger::DatasetDrift {
            min_share: Some(min_share),
        }
        .into()
    }

    /// Fires when the detector named `detector` in the evidence reports drift.
    pub fn detector(detector: impl Into<String>) -> Self {
        Trigger::DetectorDrift {
            detector: detector.into(),
            on_warning: false,
        }
        .into()
    }

    /// Fires when observed `metric` is below `min` over at least `min_samples` outcomes.
    pub fn metric_below(metric: Metric, min: f64, min_samples: u64) -> Self {
        Trigger::MetricBelow {
            metric,
            min,
            min_samples,
            source: PerformanceSource::Observed,
        }
        .into()
    }

    /// Fires when the label-free estimate of `metric` is below `min` over at least
    /// `min_samples` predictions.
    pub fn estimated_metric_below(metric: Metric, min: f64, min_samples: u64) -> Self {
        Trigger::MetricBelow {
            metric,
            min,
            min_samples,
            source: PerformanceSource::Estimated,
        }
        .into()
    }

    /// Fires when at least `min_rows` new labelled rows arrived since the last training.
    pub fn data_volume(min_rows: u64) -> Self {
        Trigger::DataVolume { min_rows }.into()
    }

    /// Fires when at least `max_age` passed since the last training (millisecond resolution;
    /// longer than `u64::MAX` ms saturates).
    pub fn schedule(max_age: Duration) -> Self {
        Trigger::Schedule {
            max_age_ms: u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX),
        }
        .into()
    }

    /// Validates every trigger and combinator (useful after deserialising a policy).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a `min_share` outside `(0, 1]`, a non-finite metric
    /// minimum, `min_rows == 0`, `max_age_ms == 0`, or an `any` / `all` without children
    /// (`name: "policies"`).
    pub fn check(&self) -> Result<()> {
        match self {
            RetrainPolicy::Trigger(t) => t.check(),
            RetrainPolicy::Any(c) | RetrainPolicy::All(c) => {
                if c.is_empty() {
                    return Err(Error::InvalidParameter {
                        name: "policies",
                        value: 0.0,
                        reason: "any / all needs at least one policy",
                    });
                }
                c.iter().try_for_each(RetrainPolicy::check)
            }
        }
    }

    /// Every trigger, depth first.
    pub fn triggers(&self) -> Vec<&Trigger> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Trigger>) {
        match self {
            RetrainPolicy::Trigger(t) => out.push(t),
            RetrainPolicy::Any(c) | RetrainPolicy::All(c) => {
                c.iter().for_each(|p| p.collect(out));
            }
        }
    }

    /// Judges the policy against `evidence`. Every trigger is evaluated (no short circuit), so
    /// the decision records all of them.
    pub fn evaluate(&self, evidence: &Evidence) -> RetrainDecision {
        let outcome = self.outcome(evidence);
        let retrain = outcome.fired();
        let fired: Vec<&TriggerOutcome> =
            outcome.triggers().into_iter().filter(|t| t.fired).collect();
        let reason = if retrain {
            let reasons: Vec<&str> = fired.iter().map(|t| t.reason.as_str()).collect();
            format!("retrain: {}", reasons.join("; "))
        } else if fired.is_empty() {
            "keep the current model: no trigger fired".to_owned()
        } else {
            format!(
                "keep the current model: {} trigger(s) fired but the policy's conditions are not all met",
                fired.len()
            )
        };
        RetrainDecision {
            retrain,
            evaluated_at_ms: evidence.now_ms,
            reason,
            outcome,
        }
    }

    fn outcome(&self, e: &Evidence) -> PolicyOutcome {
        match self {
            RetrainPolicy::Trigger(t) => PolicyOutcome::Trigger(t.evaluate(e)),
            RetrainPolicy::Any(c) => {
                let children: Vec<PolicyOutcome> = c.iter().map(|p| p.outcome(e)).collect();
                PolicyOutcome::Any {
                    fired: children.iter().any(PolicyOutcome::fired),
                    children,
                }
            }
            RetrainPolicy::All(c) => {
                let children: Vec<PolicyOutcome> = c.iter().map(|p| p.outcome(e)).collect();
                PolicyOutcome::All {
                    fired: !children.is_empty() && children.iter().all(PolicyOutcome::fired),
                    children,
                }
            }
        }
    }
}

/// The dataset-level drift numbers a policy reads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftSummary {
    /// Columns tested.
    pub n_columns: usize,
    /// Columns that drifted.
    pub n_drifted: usize,
    /// `n_drifted / n_columns`.
    pub share_drifted: f64,
    /// Share threshold of the dataset verdict.
    pub threshold: f64,
    /// The dataset verdict.
    pub drifted: bool,
}

impl From<&DatasetDrift> for DriftSummary {
    fn from(d: &DatasetDrift) -> Self {
        Self {
            n_columns: d.columns.len(),
            n_drifted: d.n_drifted,
            share_drifted: d.share_drifted,
            threshold: d.threshold,
            drifted: d.drifted,
        }
    }
}

/// What the monitors saw, as of one moment: the input of [`RetrainPolicy::evaluate`].
/// Every part is optional; a trigger without its evidence does not fire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    /// The current time (milliseconds since an epoch of your choice, the same as
    /// `last_trained_ms`).
    pub now_ms: Option<u64>,
    /// When the current model was trained.
    pub last_trained_ms: Option<u64>,
    /// Labelled rows collected since the last training.
    pub new_labelled_rows: Option<u64>,
    /// The latest dataset drift result.
    pub dataset_drift: Option<DriftSummary>,
    /// Streaming detectors' statuses by name.
    pub detectors: BTreeMap<String, DriftStatus>,
    /// Metrics over labelled outcomes.
    pub performance: Option<ClassificationMetrics>,
    /// Label-free metric estimates.
    pub estimated_performance: Option<ClassificationMetrics>,
}

impl Evidence {
    /// Evidence as of `now_ms`, otherwise empty.
    pub fn at(now_ms: u64) -> Self {
        Self {
            now_ms: Some(now_ms),
            ..Self::default()
        }
    }

    /// Sets when the current model was trained.
    #[must_use]
    pub fn with_last_trained_ms(mut self, ms: u64) -> Self {
        self.last_trained_ms = Some(ms);
        self
    }

    /// Sets the number of labelled rows collected since the last training.
    #[must_use]
    pub fn with_new_labelled_rows(mut self, rows: u64) -> Self {
        self.new_labelled_rows = Some(rows);
        self
    }

    /// Sets the dataset drift result.
    #[must_use]
    pub fn with_dataset_drift(mut self, drift: &DatasetDrift) -> Self {
        self.dataset_drift = Some(drift.into());
        self
    }

    /// Records a detector's current status under `name`.
    #[must_use]
    pub fn with_detector(self, name: impl Into<String>, detector: &dyn DriftDetector) -> Self {
        self.with_detector_status(name, detector.status())
    }

    /// Records a detector status under `name`.
    #[must_use]
    pub fn with_detector_status(mut self, name: impl Into<String>, status: DriftStatus) -> Self {
        self.detectors.insert(name.into(), status);
        self
    }

    /// Sets the metrics over labelled outcomes (e.g.
    /// [`WindowedClassificationMonitor::metrics`](crate::performance::WindowedClassificationMonitor::metrics)).
    #[must_use]
    pub fn with_performance(mut self, metrics: ClassificationMetrics) -> Self {
        self.performance = Some(metrics);
        self
    }

    /// Sets the label-free estimates (e.g. [`EstimatedPerformance::metrics`](crate::performance::EstimatedPerformance::metrics)).
    #[must_use]
    pub fn with_estimated_performance(mut self, metrics: ClassificationMetrics) -> Self {
        self.estimated_performance = Some(metrics);
        self
    }
}

/// How a trigger came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStatus {
    /// The condition holds.
    Fired,
    /// The evidence was there and the condition does not hold.
    NotFired,
    /// The evidence the trigger needs is missing (or too thin); it does not fire.
    NoEvidence,
}

/// One trigger's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerOutcome {
    /// The trigger, with its parameters.
    pub trigger: Trigger,
    /// How it came out.
    pub status: TriggerStatus,
    /// `status == Fired`.
    pub fired: bool,
    /// The value compared (`None` without evidence, or when not finite).
    pub observed: Option<f64>,
    /// What it was compared with (`None` when not finite).
    pub threshold: Option<f64>,
    /// A sentence explaining the outcome with its numbers.
    pub reason: String,
}

/// The outcome tree of a policy, mirroring its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// A trigger's outcome.
    Trigger(TriggerOutcome),
    /// An `any` combinator.
    Any {
        /// Whether at least one child fired.
        fired: bool,
        /// The children's outcomes.
        children: Vec<PolicyOutcome>,
    },
    /// An `all` combinator.
    All {
        /// Whether every child fired (false with no children).
        fired: bool,
        /// The children's outcomes.
        children: Vec<PolicyOutcome>,
    },
}

impl PolicyOutcome {
    /// Whether this node fired.
    pub fn fired(&self) -> bool {
        match self {
            PolicyOutcome::Trigger(t) => t.fired,
            PolicyOutcome::Any { fired, .. } | PolicyOutcome::All { fired, .. } => *fired,
        }
    }

    /// Every trigger outcome, depth first (the order of [`RetrainPolicy::triggers`]).
    pub fn triggers(&self) -> Vec<&TriggerOutcome> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a TriggerOutcome>) {
        match self {
            PolicyOutcome::Trigger(t) => out.push(t),
            PolicyOutcome::Any { children, .. } | PolicyOutcome::All { children, .. } => {
                children.iter().for_each(|c| c.collect(out));
            }
        }
    }
}

/// The result of [`RetrainPolicy::evaluate`]: plain data, ready for an audit log.
///
/// JSON shape (abridged):
///
/// ```json
/// {
///   "retrain": true,
///   "evaluated_at_ms": 3456000000,
///   "reason": "retrain: 40d since the last training reach the maximum age 30d",
///   "outcome": { "kind": "any", "fired": true, "children": [
///     { "kind": "trigger", "trigger": { "trigger": "schedule", "max_age_ms": 2592000000 },
///       "status": "fired", "fired": true, "observed": 3456000000.0, "threshold": 2592000000.0,
///       "reason": "40d since the last training reach the maximum age 30d" }
///   ] }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainDecision {
    /// Whether to retrain.
    pub retrain: bool,
    /// [`Evidence::now_ms`] of the evidence judged.
    pub evaluated_at_ms: Option<u64>,
    /// One line: the fired triggers' reasons, or why the model is kept.
    pub reason: String,
    /// Every trigger's outcome, in the policy's shape.
    pub outcome: PolicyOutcome,
}

impl RetrainDecision {
    /// Every trigger outcome, depth first.
    pub fn triggers(&self) -> Vec<&TriggerOutcome> {
        self.outcome.triggers()
    }

    /// The triggers that fired.
    pub fn fired(&self) -> Vec<&TriggerOutcome> {
        self.triggers().into_iter().filter(|t| t.fired).collect()
    }

    /// Pretty JSON for an audit log.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            message: e.to_string(),
        })
    }
}
