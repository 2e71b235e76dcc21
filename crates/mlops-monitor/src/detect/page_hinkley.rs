//! Page-Hinkley test, a port of river's `drift.PageHinkley` (same defaults and detections).

use serde::{Deserialize, Serialize};

use super::{DriftDetector, DriftStatus, RunningMean, invalid};
use crate::error::Result;

/// Which direction of mean change [`PageHinkley`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageHinkleyMode {
    /// Increases only.
    Up,
    /// Decreases only.
    Down,
    /// Both (river's default).
    #[default]
    Both,
}

/// Parameters of [`PageHinkley`]; `Default` is river's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageHinkleyParams {
    /// Observations before a drift can be reported (30).
    pub min_instances: u32,
    /// Magnitude of change tolerated (0.005).
    pub delta: f64,
    /// Detection threshold λ on the cumulative deviation (50).
    pub threshold: f64,
    /// Forgetting factor applied to the cumulative sums (`1 - 0.0001`).
    pub alpha: f64,
    /// Direction of change to detect.
    pub mode: PageHinkleyMode,
}

impl Default for PageHinkleyParams {
    fn default() -> Self {
        Self {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
            mode: PageHinkleyMode::Both,
        }
    }
}

impl PageHinkleyParams {
    /// Validate into a fresh detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] for a negative or non-finite `delta`, a non-positive
    /// or non-finite `threshold`, or `alpha ∉ (0, 1]`.
    pub fn build(self) -> Result<PageHinkley> {
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(invalid(
                "delta",
                self.delta,
                "must be finite and non-negative",
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(invalid(
                "threshold",
                self.threshold,
                "must be finite and positive",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(invalid("alpha", self.alpha, "must be in (0, 1]"));
        }
        Ok(PageHinkley {
            params: self,
            ..PageHinkley::default()
        })
    }
}

/// Page-Hinkley mean-shift detector (river's `drift.PageHinkley`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    params: PageHinkleyParams,
    mean: RunningMean,
    sum_increase: f64,
    sum_decrease: f64,
    /// `None` stands for river's initial `+inf`.
    min_increase: Option<f64>,
    max_decrease: f64,
    status: DriftStatus,
}

impl Default for PageHinkley {
    fn default() -> Self {
        Self {
            params: PageHinkleyParams::default(),
            mean: RunningMean::default(),
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: None,
            max_decrease: -1.0,
            status: DriftStatus::Stable,
        }
    }
}

impl PageHinkley {
    /// The parameters.
    pub fn params(&self) -> &PageHinkleyParams {
        &self.params
    }
}

impl DriftDetector for PageHinkley {
    fn update(&mut self, x: f64) -> DriftStatus {
        if !x.is_finite() {
            return self.status;
        }
        if self.status == DriftStatus::Drift {
            self.reset();
        }
        let p = self.params;
        self.mean.update(x);
        let dev = x - self.mean.mean;
        self.sum_increase = p.alpha * self.sum_increase + dev - p.delta;
        self.sum_decrease = p.alpha * self.sum_decrease + dev + p.delta;
        if self.min_increase.is_none_or(|m| self.sum_increase < m) {
            self.min_increase = Some(self.sum_increase);
        }
        if self.sum_decrease > self.max_decrease {
            self.max_decrease = self.sum_decrease;
        }
        if self.mean.n >= f64::from(p.min_instances) {
            let test_increase = self.sum_increase - self.min_increase.unwrap_or(f64::INFINITY);
            let test_decrease = self.max_decrease - self.sum_decrease;
            let drift = match p.mode {
                PageHinkleyMode::Up => test_increase > p.threshold,
                PageHinkleyMode::Down => test_decrease > p.threshold,
                PageHinkleyMode::Both => test_increase > p.threshold || test_decrease > p.threshold,
            };
            self.status = if drift {
                DriftStatus::Drift
            } else {
                DriftStatus::Stable
            };
        }
        self.status
    }

    fn reset(&mut self) {
        *self = Self {
            params: self.params,
            ..Self::default()
        };
    }

    fn status(&self) -> DriftStatus {
        self.status
    }

    fn name(&self) -> &'static str {
        "page_hinkley"
    }
}
