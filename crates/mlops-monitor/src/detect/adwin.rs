//! ADWIN (Bifet & Gavaldà 2007), a port of river's implementation (`river.drift.ADWIN`, whose
//! core is river's Rust `AdaptiveWindowing`) that keeps its arithmetic order so that detections
//! happen at the same observations.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{DriftDetector, DriftStatus, invalid};
use crate::error::Result;

/// Parameters of [`Adwin`]; `Default` is river's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdwinParams {
    /// Confidence value δ of the cut test (0.002).
    pub delta: f64,
    /// Check for changes every `clock` observations (32).
    pub clock: u32,
    /// Buckets of one size kept before two are merged (5).
    pub max_buckets: usize,
    /// Minimum length of each sub-window considered at a cut (5).
    pub min_window_length: u32,
    /// No change detection until the window holds more than this many observations (10).
    pub grace_period: u32,
}

impl Default for AdwinParams {
    fn default() -> Self {
        Self {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window_length: 5,
            grace_period: 10,
        }
    }
}

impl AdwinParams {
    /// Validate into a fresh detector.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `delta ∉ (0, 1)`, `clock == 0`,
    /// `max_buckets < 2` or `min_window_length == 0`.
    pub fn build(self) -> Result<Adwin> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(invalid("delta", self.delta, "must be in (0, 1)"));
        }
        if self.clock == 0 {
            return Err(invalid("clock", 0.0, "must be at least 1"));
        }
        if self.max_buckets < 2 {
            return Err(invalid(
                "max_buckets",
                self.max_buckets as f64,
                "must be at least 2",
            ));
        }
        if self.min_window_length == 0 {
            return Err(invalid("min_window_length", 0.0, "must be at least 1"));
        }
        Ok(Adwin {
            params: self,
            window: Window::default(),
            status: DriftStatus::Stable,
            n_detections: 0,
        })
    }
}

/// One summary of `2^level` observations: their sum and their sum of squared deviations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Summary {
    total: f64,
    variance: f64,
}

/// The exponential histogram: `levels[i]` holds summaries of `2^i` observations, oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Window {
    levels: Vec<VecDeque<Summary>>,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
}

impl Window {
    fn insert(&mut self, value: f64, max_buckets: usize) {
        if self.levels.is_empty() {
            self.levels.push(VecDeque::with_capacity(max_buckets + 1));
        }
        if let Some(level0) = self.levels.first_mut() {
            level0.push_back(Summary {
                total: value,
                variance: 0.0,
            });
        }
        self.width += 1.0;
        let mut incremental = 0.0;
        if self.width > 1.0 {
            let d = value - self.total / (self.width - 1.0);
            incremental = (self.width - 1.0) * d * d / self.width;
        }
        self.variance += incremental;
        self.total += value;
        self.compress(max_buckets);
    }

    fn compress(&mut self, max_buckets: usize) {
        let mut idx = 0;
        while let Some(level) = self.levels.get_mut(idx) {
            if level.len() != max_buckets + 1 {
                break;
            }
            let (Some(&a), Some(&b)) = (level.front(), level.get(1)) else {
                break;
            };
            level.pop_front();
            level.pop_front();
            let n1 = (1_u64 << idx) as f64;
            let mu1 = a.total / n1;
            let mu2 = b.total / n1;
            let temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
            let merged = Summary {
                total: a.total + b.total,
                variance: a.variance + b.variance + temp,
            };
            if self.levels.len() <= idx + 1 {
                self.levels.push(VecDeque::with_capacity(max_buckets + 1));
            }
            let Some(next) = self.levels.get_mut(idx + 1) else {
                break;
            };
            next.push_back(merged);
            if next.len() <= max_buckets {
                break;
            }
            idx += 1;
        }
    }

    /// Drop the oldest summary (from the largest level).
    fn delete_oldest(&mut self) {
        let last = self.levels.len().saturating_sub(1);
        let Some(level) = self.levels.get_mut(last) else {
            return;
        };
        let Some(oldest) = level.pop_front() else {
            return;
        };
        let emptied = level.is_empty();
        let n = (1_u64 << last) as f64;
        let mu = oldest.total / n;
        self.width -= n;
        self.total -= oldest.total;
        let mu_window = self.total / self.width;
        let inc = oldest.variance
            + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        self.variance -= inc;
        if emptied {
            self.levels.pop();
        }
    }

    /// The cut test, with `delta_prime = ln(2 ln(width) / δ)` and `var = variance / width`
    /// computed once per scan (the window does not change during a scan): the same arithmetic,
    /// in the same order, as river's per-bucket computation.
    fn cut(mwl: f64, delta_prime: f64, var: f64, n0: f64, n1: f64, delta_mean: f64) -> bool {
        let m_recip = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
        let linear = 2.0 / 3.0 * delta_prime * m_recip;
        // epsilon = sqrt(..) + linear ≥ linear (rounding is monotone), so this is exact.
        if delta_mean.abs() <= linear {
            return false;
        }
        let epsilon = (2.0 * m_recip * var * delta_prime).sqrt() + linear;
        delta_mean.abs() > epsilon
    }

    /// Check every cut point (oldest first) and shrink while a cut is significant.
    fn detect(&mut self, p: &AdwinParams) -> bool {
        let mut change = false;
        self.tick += 1;
        if !self.tick.is_multiple_of(u64::from(p.clock)) || self.width <= f64::from(p.grace_period)
        {
            return false;
        }
        let mwl = f64::from(p.min_window_length);
        let mut reduce = true;
        while reduce {
            reduce = false;
            let (mut n0, mut n1, mut u0, mut u1) = (0.0_f64, self.width, 0.0_f64, self.total);
            let mut cut_found = false;
            let delta_prime = (2.0 * self.width.ln() / p.delta).ln();
            let var = self.variance / self.width;
            'levels: for idx in (0..self.levels.len()).rev() {
                let size = (1_u64 << idx) as f64;
                let Some(level) = self.levels.get(idx) else {
                    continue;
                };
                let len = level.len();
                for (k, s) in level.iter().enumerate() {
                    n0 += size;
                    n1 -= size;
                    u0 += s.total;
                    u1 -= s.total;
                    if idx == 0 && k + 1 == len {
                        break 'levels;
                    }
                    let delta_mean = (u0 / n0) - (u1 / n1);
                    if n1 >= mwl
                        && n0 >= mwl
                        && Self::cut(mwl, delta_prime, var, n0, n1, delta_mean)
                    {
                        reduce = true;
                        change = true;
                        if self.width > 0.0 {
                            cut_found = true;
                            break 'levels;
                        }
                    }
                }
            }
            if cut_found {
                self.delete_oldest();
            }
        }
        change
    }
}

/// ADaptive WINdowing drift detector (river's `drift.ADWIN`, same defaults and detections).
///
/// ```
/// use mlops_monitor::{Adwin, DriftDetector, DriftStatus};
/// let mut adwin = Adwin::default();
/// let mut first = None;
/// for i in 0..2000 {
///     let x = if i < 1000 { (i % 2) as f64 } else { 5.0 + (i % 4) as f64 };
///     if adwin.update(x) == DriftStatus::Drift && first.is_none() {
///         first = Some(i);
///     }
/// }
/// assert!(first.is_some_and(|i| i >= 1000));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adwin {
    params: AdwinParams,
    window: Window,
    status: DriftStatus,
    n_detections: u64,
}

impl Default for Adwin {
    fn default() -> Self {
        Self {
            params: AdwinParams::default(),
            window: Window::default(),
            status: DriftStatus::Stable,
            n_detections: 0,
        }
    }
}

impl Adwin {
    /// The parameters.
    pub fn params(&self) -> &AdwinParams {
        &self.params
    }

    /// Number of observations in the current window.
    pub fn width(&self) -> u64 {
        self.window.width as u64
    }

    /// Mean of the current window (0 when empty).
    pub fn estimation(&self) -> f64 {
        if self.window.width > 0.0 {
            self.window.total / self.window.width
        } else {
            0.0
        }
    }

    /// Sample variance of the current window (river's `variance`: sum of squared deviations
    /// over width; 0 when empty).
    pub fn variance(&self) -> f64 {
        if self.window.width > 0.0 {
            self.window.variance / self.window.width
        } else {
            0.0
        }
    }

    /// Drifts detected since the last reset of the window.
    pub fn n_detections(&self) -> u64 {
        self.n_detections
    }
}

impl DriftDetector for Adwin {
    fn update(&mut self, x: f64) -> DriftStatus {
        if !x.is_finite() {
            return self.status;
        }
        if self.status == DriftStatus::Drift {
            // river replaces its whole helper after a detection.
            self.reset();
        }
        self.window.insert(x, self.params.max_buckets);
        let change = self.window.detect(&self.params);
        if change {
            self.n_detections += 1;
        }
        self.status = if change {
            DriftStatus::Drift
        } else {
            DriftStatus::Stable
        };
        self.status
    }

    fn reset(&mut self) {
        self.window = Window::default();
        self.status = DriftStatus::Stable;
        self.n_detections = 0;
    }

    fn status(&self) -> DriftStatus {
        self.status
    }

    fn name(&self) -> &'static str {
        "adwin"
    }
}
