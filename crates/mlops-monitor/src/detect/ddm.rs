//! DDM (Gama et al. 2004), a port of river's `drift.binary.DDM` (same defaults, warnings and
//! detections).

use serde::{Deserialize, Serialize};

use super::{DriftDetector, DriftStatus, RunningMean, invalid};
use crate::error::Result;

/// Parameters of [`Ddm`]; `Default` is river's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DdmParams {
    /// Observations before warnings or drifts can be reported (30).
    pub warm_start: u32,
    /// Warning when `p + s > p_min + warning_threshold · s_min` (2.0).
    pub warning_threshold: f64,
    /// Drift when `p + s > p_min + drift_threshold · s_min` (3.0).
    pub drift_threshold: f64,
}

impl Default for DdmParams {
    fn default() -> Self {
        Self {
            warm_start: 30,
            warning_threshold: 2.0,
            drift_threshold: 3.0,
        }
    }
}

impl DdmParams {
    /// Validate into a fresh detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] for non-positive or non-finite thresholds, or a
    /// warning threshold above the drift threshold.
    pub fn build(self) -> Result<Ddm> {
        if !(self.warning_threshold.is_finite() && self.warning_threshold > 0.0) {
            return Err(invalid(
                "warning_threshold",
                self.warning_threshold,
                "must be finite and positive",
            ));
        }
        if !(self.drift_threshold.is_finite() && self.drift_threshold >= self.warning_threshold) {
            return Err(invalid(
                "drift_threshold",
                self.drift_threshold,
                "must be finite and >= warning_threshold",
            ));
        }
        Ok(Ddm {
            params: self,
            ..Ddm::default()
        })
    }
}

/// Drift Detection Method over a stream of errors (1 = wrong prediction, 0 = right), river's
/// `drift.binary.DDM`. Other finite values are accepted and averaged as river does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ddm {
    params: DdmParams,
    p: RunningMean,
    p_min: f64,
    s_min: f64,
    /// `None` stands for river's initial `+inf`.
    ps_min: Option<f64>,
    status: DriftStatus,
}

impl Default for Ddm {
    fn default() -> Self {
        Self {
            params: DdmParams::default(),
            p: RunningMean::default(),
            p_min: 0.0,
            s_min: 0.0,
            ps_min: None,
            status: DriftStatus::Stable,
        }
    }
}

impl Ddm {
    /// The parameters.
    pub fn params(&self) -> &DdmParams {
        &self.params
    }

    /// Current error-rate estimate.
    pub fn error_rate(&self) -> f64 {
        self.p.mean
    }
}

impl DriftDetector for Ddm {
    fn update(&mut self, x: f64) -> DriftStatus {
        if !x.is_finite() {
            return self.status;
        }
        if self.status == DriftStatus::Drift {
            self.reset();
        }
        let prm = self.params;
        self.p.update(x);
        let p_i = self.p.mean;
        let n = self.p.n;
        let s_i = (p_i * (1.0 - p_i) / n).sqrt();
        if n > f64::from(prm.warm_start) {
            if self.ps_min.is_none_or(|m| p_i + s_i <= m) {
                self.p_min = p_i;
                self.s_min = s_i;
                self.ps_min = Some(self.p_min + self.s_min);
            }
            let warning = p_i + s_i > self.p_min + prm.warning_threshold * self.s_min;
            let drift = p_i + s_i > self.p_min + prm.drift_threshold * self.s_min;
            self.status = if drift {
                DriftStatus::Drift
            } else if warning {
                DriftStatus::Warning
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
        "ddm"
    }
}
