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
/// This is the serialised form; [`Window`] lays the same buckets out flat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct WindowState {
    levels: Vec<VecDeque<Summary>>,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
}

/// Inserted observations whose variance term is not yet added: at most this many wait.
const PENDING: usize = 32;

const EMPTY: Summary = Summary {
    total: 0.0,
    variance: 0.0,
};

/// The window of [`WindowState`], laid out for speed, with the same arithmetic:
///
/// - level `i` is a ring of `stride` slots (a power of two above `max_buckets`, the most a level
///   holds before a merge) at `buckets[i * stride ..]`, its oldest bucket at `rings[i].head`:
///   a merge pops two and pushes one with a mask, no shifting, no allocation;
/// - each insert's variance increment `(w − 1) d² / w` with `d = x − total / (w − 1)` (two
///   divisions) is recorded as `(x, total before, width after)` and added in a batch before
///   anything reads the variance (a cut scan, an accessor, serialisation, comparison) — the
///   same operations in the same order, so every bit, and every detection, is unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "WindowState", from = "WindowState")]
struct Window {
    buckets: Vec<Summary>,
    rings: Vec<Ring>,
    /// Slots per level, a power of two (0 before the first insert).
    stride: usize,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
    pending: [[f64; 3]; PENDING],
    n_pending: usize,
}

/// Where a level's buckets sit in its ring.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Ring {
    head: usize,
    len: usize,
}

impl From<WindowState> for Window {
    fn from(s: WindowState) -> Self {
        let most = s.levels.iter().map(VecDeque::len).max().unwrap_or(0);
        let mut w = Self {
            total: s.total,
            variance: s.variance,
            width: s.width,
            tick: s.tick,
            ..Self::default()
        };
        w.stride = (most + 1).next_power_of_two();
        for level in &s.levels {
            w.push_level();
            for &b in level {
                w.push(w.rings.len() - 1, b);
            }
        }
        w
    }
}

impl From<Window> for WindowState {
    fn from(w: Window) -> Self {
        let variance = w.folded_variance();
        let levels = (0..w.rings.len())
            .map(|i| (0..w.len(i)).map(|k| w.at(i, k)).collect())
            .collect();
        Self {
            levels,
            total: w.total,
            variance,
            width: w.width,
            tick: w.tick,
        }
    }
}

impl PartialEq for Window {
    fn eq(&self, other: &Self) -> bool {
        self.rings.len() == other.rings.len()
            && (0..self.rings.len()).all(|i| {
                self.len(i) == other.len(i)
                    && (0..self.len(i)).all(|k| self.at(i, k) == other.at(i, k))
            })
            && self.total == other.total
            && self.width == other.width
            && self.tick == other.tick
            && self.folded_variance() == other.folded_variance()
    }
}

impl Window {
    /// Buckets in level `i`.
    fn len(&self, i: usize) -> usize {
        self.rings.get(i).map_or(0, |r| r.len)
    }

    /// The `k`-th oldest bucket of level `i`.
    fn at(&self, i: usize, k: usize) -> Summary {
        let head = self.rings.get(i).map_or(0, |r| r.head);
        let slot = i * self.stride + ((head + k) & (self.stride - 1));
        self.buckets.get(slot).copied().unwrap_or(EMPTY)
    }

    /// Appends `b` as the newest bucket of level `i` (which has room).
    fn push(&mut self, i: usize, b: Summary) {
        let mask = self.stride - 1;
        if let Some(r) = self.rings.get_mut(i)
            && let Some(slot) = self
                .buckets
                .get_mut(i * self.stride + ((r.head + r.len) & mask))
        {
            *slot = b;
            r.len += 1;
        }
    }

    /// Re-lays the levels out with `stride` slots each.
    fn relayout(&mut self, stride: usize) {
        let old = std::mem::take(self);
        let levels: Vec<Vec<Summary>> = (0..old.rings.len())
            .map(|i| (0..old.len(i)).map(|k| old.at(i, k)).collect())
            .collect();
        *self = Self {
            stride,
            buckets: Vec::new(),
            rings: Vec::new(),
            ..old
        };
        for level in levels {
            self.push_level();
            for b in level {
                self.push(self.rings.len() - 1, b);
            }
        }
    }

    /// Appends an empty level at the top.
    fn push_level(&mut self) {
        self.rings.push(Ring::default());
        self.buckets.resize(self.rings.len() * self.stride, EMPTY);
    }

    fn insert(&mut self, value: f64, max_buckets: usize) {
        if self.stride <= max_buckets {
            self.relayout((max_buckets + 1).next_power_of_two());
        }
        if self.rings.is_empty() {
            self.push_level();
        }
        self.push(
            0,
            Summary {
                total: value,
                variance: 0.0,
            },
        );
        self.width += 1.0;
        if self.n_pending == PENDING {
            self.fold_variance();
        }
        if let Some(slot) = self.pending.get_mut(self.n_pending) {
            *slot = [value, self.total, self.width];
            self.n_pending += 1;
        }
        self.total += value;
        self.compress(max_buckets);
    }

    /// The variance with the pending terms added (river's arithmetic, in insertion order).
    fn folded_variance(&self) -> f64 {
        let mut variance = self.variance;
        for &[value, total, width] in self.pending.iter().take(self.n_pending) {
            let mut incremental = 0.0;
            if width > 1.0 {
                let d = value - total / (width - 1.0);
                incremental = (width - 1.0) * d * d / width;
            }
            variance += incremental;
        }
        variance
    }

    /// Adds the pending variance terms.
    fn fold_variance(&mut self) {
        self.variance = self.folded_variance();
        self.n_pending = 0;
    }

    fn compress(&mut self, max_buckets: usize) {
        let stride = self.stride;
        let mask = stride - 1;
        let mut idx = 0;
        // Indices stay below `rings.len() * stride == buckets.len()`: `head`, `head + 1` and
        // `head + len` are masked into the level's ring.
        while let Some(&Ring { head, len }) = self.rings.get(idx) {
            if len != max_buckets + 1 {
                break;
            }
            let base = idx * stride;
            let a = self.buckets[base + head];
            let b = self.buckets[base + ((head + 1) & mask)];
            self.rings[idx] = Ring {
                head: (head + 2) & mask,
                len: len - 2,
            };
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
            if self.rings.len() == idx + 1 {
                self.push_level();
            }
            let next = &mut self.rings[idx + 1];
            self.buckets[base + stride + ((next.head + next.len) & mask)] = merged;
            next.len += 1;
            if next.len <= max_buckets {
                break;
            }
            idx += 1;
        }
    }

    /// Drop the oldest summary (from the largest level).
    fn delete_oldest(&mut self) {
        self.fold_variance();
        let Some(last) = self.rings.len().checked_sub(1) else {
            return;
        };
        if self.len(last) == 0 {
            return;
        }
        let oldest = self.at(last, 0);
        let mask = self.stride - 1;
        let mut emptied = false;
        if let Some(r) = self.rings.get_mut(last) {
            r.head = (r.head + 1) & mask;
            r.len -= 1;
            emptied = r.len == 0;
        }
        let n = (1_u64 << last) as f64;
        let mu = oldest.total * (1.0 / n); // exact: `n` is a power of two
        self.width -= n;
        self.total -= oldest.total;
        let mu_window = self.total / self.width;
        let inc = oldest.variance
            + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        self.variance -= inc;
        if emptied {
            self.rings.pop();
            self.buckets.truncate(self.rings.len() * self.stride);
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
        self.fold_variance();
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
            let mask = self.stride - 1;
            'levels: for idx in (0..self.rings.len()).rev() {
                let size = (1_u64 << idx) as f64;
                let Some(&Ring { head, len }) = self.rings.get(idx) else {
                    continue;
                };
                // The newest bucket of level 0 is no cut point (nothing would be left after it).
                let len = if idx == 0 { len.saturating_sub(1) } else { len };
                let base = idx * self.stride;
                for k in 0..len {
                    // In the level's ring: below `buckets.len()`.
                    let s = self.buckets[base + ((head + k) & mask)];
                    n0 += size;
                    n1 -= size;
                    u0 += s.total;
                    u1 -= s.total;
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
            self.window.folded_variance() / self.window.width
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A detector saved mid-stream (pending variance terms, rings wrapped) and restored keeps
    /// detecting at exactly the same observations, with the same state, as the original — and
    /// the serialised form is the plain level list.
    #[test]
    fn state_round_trips_mid_stream() {
        let mut state = 9_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / (1u64 << 53) as f64
        };
        let stream: Vec<f64> = (0..20_000)
            .map(|i| next() + if i < 12_000 { 0.0 } else { 0.4 })
            .collect();
        for split in [1, 7, 33, 1_000, 11_999, 12_345] {
            let mut a = Adwin::default();
            for &x in &stream[..split] {
                a.update(x);
            }
            let json = serde_json::to_string(&a).unwrap();
            assert!(json.contains("\"levels\""), "{json}");
            let mut b: Adwin = serde_json::from_str(&json).unwrap();
            assert_eq!(a, b, "split {split}");
            assert_eq!(a.variance().to_bits(), b.variance().to_bits());
            for (i, &x) in stream[split..].iter().enumerate() {
                assert_eq!(a.update(x), b.update(x), "split {split}, step {i}");
            }
            assert_eq!(a, b, "split {split}");
            assert_eq!(a.width(), b.width());
            assert_eq!(a.n_detections(), b.n_detections());
        }
    }

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
