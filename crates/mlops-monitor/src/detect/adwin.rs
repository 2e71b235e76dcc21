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
            // Dividing by a power of two is multiplying by its (exact) reciprocal: same bits.
            let inv = 1.0 / n1;
            let mu1 = a.total * inv;
            let mu2 = b.total * inv;
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
        let mu = oldest.total * (1.0 / n); // exact: `n` is a power of two
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

    /// A division- and root-free sufficient condition for "no cut". With
    /// `a = n0 − mwl + 1`, `b = n1 − mwl + 1`, `c = 2/3 δ'`, `m = (a + b) / (a b)` and
    /// `D = u0 n1 − u1 n0` (so the mean difference is `D / (n0 n1)`), the cut test
    /// `|D| / (n0 n1) > sqrt(2 m var δ') + c m` fails exactly when
    /// `T = |D| a b − c (a + b) n0 n1 ≤ 0` or `T² ≤ 2 var δ' (a + b) a b (n0 n1)²`.
    /// Both are checked with margins far above the rounding errors of either computation
    /// (relative `2^-40`, plus `2^-48 (|u0 n1| + |u1 n0|)` for the cancellation in `D`), so
    /// `true` implies the exact test finds no cut; anything doubtful (close calls, overflow,
    /// NaN) returns `false` and the exact test decides. On a stable stream almost every cut
    /// point is ruled out here, saving four divisions and a square root each.
    fn surely_no_cut(
        mwl: f64,
        linear_factor: f64,
        var_delta: f64,
        n0: f64,
        n1: f64,
        u0: f64,
        u1: f64,
    ) -> bool {
        const MARGIN: f64 = 1.0 - 1.0 / (1_u64 << 40) as f64;
        const CANCEL: f64 = 1.0 / (1_u64 << 48) as f64;
        let (a, b) = (n0 - mwl + 1.0, n1 - mwl + 1.0);
        let (p, q) = (u0 * n1, u1 * n0);
        let d = (p - q).abs() + (p.abs() + q.abs()) * CANCEL;
        let nn = n0 * n1;
        let t = d * a * b - linear_factor * (a + b) * nn * MARGIN;
        if t <= 0.0 {
            return true;
        }
        t * t <= 2.0 * var_delta * (a + b) * a * b * nn * nn * MARGIN
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
            let linear_factor = 2.0 / 3.0 * delta_prime;
            let var_delta = var * delta_prime;
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
                    if n1 >= mwl
                        && n0 >= mwl
                        && !Self::surely_no_cut(mwl, linear_factor, var_delta, n0, n1, u0, u1)
                        && Self::cut(mwl, delta_prime, var, n0, n1, (u0 / n0) - (u1 / n1))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The division-free pre-check never rules out a cut the exact test would find, including
    /// close calls built to sit on the threshold.
    #[test]
    fn pre_check_is_conservative() {
        let mut state = 5_u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (mwl, delta) = (5.0, 0.002);
        let mut ruled_out = 0;
        for i in 0..200_000 {
            let width = (10.0 + uniform() * 1e6).floor();
            let n0 = (mwl + uniform() * (width - 2.0 * mwl)).floor().max(mwl);
            let n1 = width - n0;
            let var = uniform() * 4.0;
            let delta_prime = (2.0 * width.ln() / delta).ln();
            let linear_factor = 2.0 / 3.0 * delta_prime;
            let var_delta = var * delta_prime;
            let m_recip = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
            let eps = (2.0 * m_recip * var * delta_prime).sqrt() + linear_factor * m_recip;
            // Mean difference: random, or within a few ulps of either threshold term.
            let target = match i % 4 {
                0 => uniform() * 2.0 * eps,
                1 => linear_factor * m_recip * (1.0 + (uniform() - 0.5) * 1e-15),
                2 => eps * (1.0 + (uniform() - 0.5) * 1e-15),
                _ => linear_factor * m_recip * (1.0 - 1e-13),
            };
            let mean1 = (uniform() - 0.5) * 1e3;
            let mean0 = mean1 + if i % 2 == 0 { target } else { -target };
            let (u0, u1) = (mean0 * n0, mean1 * n1);
            let exact = Window::cut(mwl, delta_prime, var, n0, n1, (u0 / n0) - (u1 / n1));
            if Window::surely_no_cut(mwl, linear_factor, var_delta, n0, n1, u0, u1) {
                ruled_out += 1;
                assert!(
                    !exact,
                    "pre-check ruled out a cut: n0 {n0} n1 {n1} u0 {u0} u1 {u1}"
                );
            }
        }
        // It does rule out most random points.
        assert!(ruled_out > 20_000, "{ruled_out}");
    }
}
