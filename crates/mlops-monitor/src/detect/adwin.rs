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

/// `2^i` (exact; `i` is a level, far below 1023).
fn pow2(i: usize) -> f64 {
    f64::from_bits((1023 + i.min(1023) as u64) << 52)
}

/// Inserted observations whose variance terms and buckets are not yet applied: at most this
/// many wait.
const PENDING: usize = 32;

const EMPTY: Summary = Summary {
    total: 0.0,
    variance: 0.0,
};

/// The window of [`WindowState`], laid out for speed, with the same arithmetic:
///
/// - level `i` owns the slots `buckets[i * stride .. (i + 1) * stride]`: its buckets (oldest
///   first) end at slot `cap` of that region, and the slots after them receive the buckets that
///   arrive from level `i − 1` during a flush (for level 0: the pending observations). A level's
///   buckets followed by its arrivals are thus one contiguous run: its oldest pairs merge
///   straight into the next level's arrival slots, what remains moves back to end at `cap`,
///   and deleting the oldest bucket of the top level is a length decrement;
/// - an insert only records the observation and the total before it and updates the width
///   and total; its variance increment `(w − 1) d² / w` with
///   `d = x − total / (w − 1)` (two divisions) and its merges are applied in a batch before
///   anything reads them (a cut scan — every `clock` inserts —, an accessor, serialisation,
///   comparison). Merges always combine the two oldest buckets of a level, so the batch yields
///   the same buckets from the same operations in the same order: every bit, and every
///   detection, is unchanged, while the batch runs in a tight loop;
/// - the next scan is a tick count, not a division by `clock` per insert;
/// - a scan first runs a cheap sufficient test for "no cut point anywhere"
///   ([`Window::certainly_no_cut`]); river's test runs at every cut point only when that one
///   cannot rule them all out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "WindowState", from = "WindowState")]
struct Window {
    buckets: Vec<Summary>,
    /// Buckets held by each level.
    lens: Vec<usize>,
    /// Where a level's buckets end in its region (at least `max_buckets` and every level's length).
    cap: usize,
    /// Slots per level: `2 cap + PENDING` (0 before the first insert).
    stride: usize,
    /// The `max_buckets` of the detector (set by the first insert).
    max_buckets: usize,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
    /// The tick of the next cut scan (0: not computed yet).
    next_scan: u64,
    /// The pending observations, and the window total before each.
    pending_values: [f64; PENDING],
    pending_totals: [f64; PENDING],
    n_pending: usize,
    /// Inserts go straight in while `n_pending < room`: `PENDING` once the layout suits the
    /// detector's `max_buckets`, 0 before (so that the first insert lays the levels out).
    room: usize,
    /// Sum of `|x|` over the observations inserted since the window was created (for a restored
    /// window: over its bucket totals, then the observations inserted since), and the number of
    /// terms in it: it bounds the bucket totals for [`Window::certainly_no_cut`].
    abs_sum: f64,
    abs_terms: u64,
}

impl From<WindowState> for Window {
    fn from(s: WindowState) -> Self {
        let most = s.levels.iter().map(VecDeque::len).max().unwrap_or(0);
        let abs_sum = s.levels.iter().flatten().map(|b| b.total.abs()).sum();
        let abs_terms = s.levels.iter().map(|l| l.len() as u64).sum();
        let mut w = Self {
            total: s.total,
            variance: s.variance,
            width: s.width,
            tick: s.tick,
            abs_sum,
            abs_terms,
            ..Self::default()
        };
        w.set_levels(
            s.levels
                .iter()
                .map(|l| l.iter().copied().collect())
                .collect(),
            most,
        );
        w
    }
}

impl From<Window> for WindowState {
    fn from(mut w: Window) -> Self {
        w.flush();
        let levels = (0..w.lens.len())
            .map(|i| w.level(i).iter().copied().collect())
            .collect();
        Self {
            levels,
            total: w.total,
            variance: w.variance,
            width: w.width,
            tick: w.tick,
        }
    }
}

impl PartialEq for Window {
    fn eq(&self, other: &Self) -> bool {
        WindowState::from(self.clone()) == WindowState::from(other.clone())
    }
}

impl Window {
    /// The buckets of level `i`, oldest first (empty if there is no such level).
    fn level(&self, i: usize) -> &[Summary] {
        let len = self.lens.get(i).copied().unwrap_or(0);
        let end = i * self.stride + self.cap;
        end.checked_sub(len)
            .and_then(|start| self.buckets.get(start..end))
            .unwrap_or(&[])
    }

    /// Lays `levels` out afresh with `cap` (raised to the longest level) slots for buckets.
    /// Only called with no pending observations.
    fn set_levels(&mut self, levels: Vec<Vec<Summary>>, cap: usize) {
        let cap = levels.iter().map(Vec::len).fold(cap.max(1), usize::max);
        self.cap = cap;
        self.stride = 2 * cap + PENDING;
        self.buckets.clear();
        self.lens.clear();
        for level in levels {
            self.push_level();
            let i = self.lens.len() - 1;
            let end = i * self.stride + cap;
            if let Some(slots) = self.buckets.get_mut(end - level.len()..end) {
                slots.copy_from_slice(&level);
                self.lens[i] = level.len();
            }
        }
    }

    /// Appends an empty level at the top.
    fn push_level(&mut self) {
        self.lens.push(0);
        self.buckets.resize(self.lens.len() * self.stride, EMPTY);
    }

    /// Inserts `value` (the window's `max_buckets` is set by the first insert after a reset or
    /// a restore: a detector's parameters do not change).
    #[inline]
    fn insert(&mut self, value: f64, max_buckets: usize) {
        if self.n_pending >= self.room {
            self.prepare_insert(max_buckets);
        }
        let n = self.n_pending;
        if let (Some(v), Some(before)) = (
            self.pending_values.get_mut(n),
            self.pending_totals.get_mut(n),
        ) {
            *v = value;
            *before = self.total;
            self.n_pending = n + 1;
            self.width += 1.0;
            self.total += value;
        }
    }

    /// Makes room for an insert: applies the pending ones when all pending slots are taken
    /// (or `max_buckets` changes), and lays the levels out for `max_buckets`.
    #[cold]
    #[inline(never)]
    fn prepare_insert(&mut self, max_buckets: usize) {
        if self.max_buckets != max_buckets {
            self.flush();
            self.max_buckets = max_buckets;
        }
        if self.n_pending == PENDING {
            self.flush();
        }
        let need = max_buckets.max(2);
        if self.cap < need || self.stride == 0 {
            self.flush();
            let levels = (0..self.lens.len())
                .map(|i| self.level(i).to_vec())
                .collect();
            self.set_levels(levels, need);
        }
        if self.lens.is_empty() {
            self.push_level();
        }
        self.room = PENDING;
    }

    /// Applies the pending inserts: their variance terms, then their buckets and merges.
    ///
    /// Level by level: a level's buckets followed by the ones arriving from below (oldest
    /// first) lose their oldest pairs, merged, until at most `max_buckets` remain — exactly
    /// the pairs, in the same order, that one-at-a-time inserts merge (a level merges its two
    /// oldest whenever it reaches `max_buckets + 1`, leaving `max_buckets − 1`) — and the
    /// merged buckets arrive at the next level.
    fn flush(&mut self) {
        let mut arriving = self.n_pending;
        if arriving == 0 {
            return;
        }
        let (variance, abs_sum) = self.folded();
        self.variance = variance;
        self.abs_sum = abs_sum;
        self.abs_terms += arriving as u64;
        self.n_pending = 0;
        let max = self.max_buckets.max(2);
        let (cap, stride) = (self.cap, self.stride);
        // The bucket size of level `idx` and its reciprocal (both exact powers of two).
        let (mut n1, mut inv) = (1.0_f64, 1.0_f64);
        // The pending observations arrive at level 0.
        if let Some(slots) = self.buckets.get_mut(cap..cap + arriving) {
            for (slot, &total) in slots.iter_mut().zip(&self.pending_values) {
                *slot = Summary {
                    total,
                    variance: 0.0,
                };
            }
        }
        let mut idx = 0;
        while arriving > 0 {
            let len = self.lens.get(idx).copied().unwrap_or(0);
            let n = len + arriving;
            let merges = if n <= max { 0 } else { (n - (max - 1)) / 2 };
            let rest = n - 2 * merges;
            let base = idx * stride;
            // Always true (`max ≤ cap`, and at most `cap + PENDING` buckets arrive at a level):
            // the run and what remains of it fit the level's region.
            if len > cap || arriving > cap + PENDING || rest > cap {
                break;
            }
            if merges > 0 && self.lens.len() == idx + 1 {
                self.push_level();
            }
            let lo = base + cap - len;
            let Some((level, above)) = self.buckets.split_at_mut_checked(base + stride) else {
                break;
            };
            if merges > 0 {
                // Dividing by a power of two is multiplying by its (exact) reciprocal: same bits.
                let pairs = level.get(lo..lo + 2 * merges).unwrap_or(&[]);
                let out = above.get_mut(cap..cap + merges).unwrap_or(&mut []);
                for (pair, merged) in pairs.chunks_exact(2).zip(out) {
                    let (a, b) = (pair[0], pair[1]);
                    let mu1 = a.total * inv;
                    let mu2 = b.total * inv;
                    let temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
                    *merged = Summary {
                        total: a.total + b.total,
                        variance: a.variance + b.variance + temp,
                    };
                }
            }
            // What remains moves to end at `cap`.
            level.copy_within(lo + 2 * merges..lo + n, base + cap - rest);
            if let Some(l) = self.lens.get_mut(idx) {
                *l = rest;
            }
            arriving = merges;
            idx += 1;
            n1 *= 2.0;
            inv *= 0.5;
        }
    }

    /// The variance with the pending terms added (river's arithmetic, in insertion order), and
    /// the sum of absolute values with the pending observations added.
    fn folded(&self) -> (f64, f64) {
        /// `0.0, 1.0, …`: the offsets of the pending widths.
        const OFFSETS: [f64; PENDING] = {
            let mut o = [0.0; PENDING];
            let mut j = 0;
            while j < PENDING {
                o[j] = j as f64;
                j += 1;
            }
            o
        };
        let n = self.n_pending.min(PENDING);
        // The width after the first pending insert (widths are exact integers).
        let first_width = self.width - (n as f64 - 1.0);
        // The terms are independent (and vectorise); only their sum is sequential.
        let mut terms = [0.0; PENDING];
        for (((term, &value), &total), &offset) in terms
            .iter_mut()
            .zip(&self.pending_values)
            .zip(&self.pending_totals)
            .zip(&OFFSETS)
        {
            let width = first_width + offset;
            let d = value - total / (width - 1.0);
            let incremental = (width - 1.0) * d * d / width;
            *term = if width > 1.0 { incremental } else { 0.0 };
        }
        let (mut variance, mut abs_sum) = (self.variance, self.abs_sum);
        for (term, value) in terms.iter().zip(&self.pending_values).take(n) {
            variance += term;
            abs_sum += value.abs();
        }
        (variance, abs_sum)
    }

    /// The variance with the pending terms added.
    fn folded_variance(&self) -> f64 {
        self.folded().0
    }

    /// Drop the oldest summary (from the largest level).
    fn delete_oldest(&mut self) {
        self.flush();
        let Some(last) = self.lens.len().checked_sub(1) else {
            return;
        };
        let Some(&oldest) = self.level(last).first() else {
            return;
        };
        let mut emptied = false;
        if let Some(len) = self.lens.get_mut(last) {
            *len -= 1;
            emptied = *len == 0;
        }
        let n = pow2(last);
        let mu = oldest.total * (1.0 / n); // exact: `n` is a power of two
        self.width -= n;
        self.total -= oldest.total;
        let mu_window = self.total / self.width;
        let inc = oldest.variance
            + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        self.variance -= inc;
        if emptied {
            self.lens.pop();
            self.buckets.truncate(self.lens.len() * self.stride);
            if self.lens.is_empty() {
                self.room = 0;
            }
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
    /// NaN) returns `false` and the exact test decides.
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

    /// `true` only if river's test finds no cut at any cut point of the window: a sufficient
    /// condition that costs an addition, a subtraction and a comparison per cut point (the
    /// exact scan costs two divisions per point, or a dozen products for [`Self::surely_no_cut`]).
    ///
    /// With `W`, `U` the width and total, `μ = U / W`, a cut point after `n0` observations
    /// (`n1 = W − n0`) whose older buckets hold `u0` (newer: `u1`), `L = 2/3 δ'` and
    /// `s = u0 − μ n0` (accumulated bucket by bucket as `Σ (t − μ size)`):
    ///
    /// - the mean difference is `D / (n0 n1)` with `D = u0 n1 − u1 n0 = W s`;
    /// - river's `m = 1/(n0 − mwl + 1) + 1/(n1 − mwl + 1) ≥ 1/n0 + 1/n1 = W / (n0 n1)` (as
    ///   `mwl ≥ 1`), and its threshold `sqrt(2 m var δ') + L m` grows with `m` (as `L ≥ 0`,
    ///   `var δ' ≥ 0`), so a cut needs `|s| > L + sqrt(2 var δ' n0 n1 / W)`;
    /// - so `|s| ≤ thr = L + sqrt(2 var δ' nn / W)`, with `nn` the smallest `n0 n1` of a level's
    ///   cut points (at either end of the level: `n0 n1` is concave in `n0`), rules out every
    ///   cut point of the level.
    ///
    /// Rounding: river computes the mean difference from its own running sums `u0`, `u1`
    /// (`|error| ≤ k 2^-53 (A + |U|)` after `k` buckets, `A` the sum of `|bucket total|`), its
    /// divisions and subtraction, and its threshold (relative error below `2^-50`); `s` is
    /// accumulated with `|error| ≤ (k + 3) 2^-53 (A + |U|)`. All of it stays below
    /// `(3 k + 6) 2^-53 (A + |U|)` in `|D| / W`, so `thr` is lowered by the far larger
    /// `e = (2 abs_sum + |U|)(nb + 2) 2^-46` (`nb` buckets; `A ≤ 2 abs_sum` while `abs_sum` has
    /// fewer than `2^40` terms) and scaled by `1 − 2^-40`, which also covers the rounding of
    /// `thr` itself. Whenever a premise fails (`mwl < 1`, `L < 0`, `var δ' < 0` or NaN, too
    /// many terms) the answer is `false` and the exact scan decides; overflow and NaN in the
    /// sums fail the comparison, with the same effect. (Widths and bucket sizes are integers
    /// below `2^52`, so `n0`, `n1 = W − n0` and `W` are exact; a restored window that breaks
    /// this also gets the exact scan.)
    fn certainly_no_cut(&self, mwl: f64, delta_prime: f64, var: f64) -> bool {
        const SCALE: f64 = 1.0 - 1.0 / (1_u64 << 40) as f64;
        const SLACK: f64 = 1.0 / (1_u64 << 46) as f64;
        let (w, u) = (self.width, self.total);
        let linear_factor = 2.0 / 3.0 * delta_prime;
        let var_delta = var * delta_prime;
        if !(mwl >= 1.0
            && linear_factor >= 0.0
            && var_delta >= 0.0
            && self.abs_terms < 1 << 40
            && self.lens.len() < 48
            && w > 0.0
            && w < (1_u64 << 52) as f64
            && w == w.trunc())
        {
            return false;
        }
        let nb: usize = self.lens.iter().sum();
        let e = (2.0 * self.abs_sum + u.abs()) * (nb as f64 + 2.0) * SLACK;
        let c0 = linear_factor * SCALE - e;
        let c2 = 2.0 * var_delta / w * SCALE;
        let mu = u / w;
        let (mut s, mut n0) = (0.0_f64, 0.0_f64);
        let (stride, cap) = (self.stride, self.cap);
        // The bucket size of the level, halved (exactly) level by level.
        let mut size = pow2(self.lens.len().saturating_sub(1));
        for (idx, &len) in self.lens.iter().enumerate().rev() {
            let end = idx * stride + cap;
            // The newest bucket of level 0 is no cut point (nothing would be left after it).
            let stop = end - usize::from(idx == 0);
            let points = self.buckets.get(end.wrapping_sub(len)..stop).unwrap_or(&[]);
            let (first, last) = (n0 + size, n0 + points.len() as i64 as f64 * size);
            n0 += len as i64 as f64 * size;
            let nn = (first * (w - first)).min(last * (w - last));
            let thr = c0 + (c2 * nn).sqrt() * SCALE;
            let step = mu * size;
            size *= 0.5;
            for b in points {
                s += b.total - step;
                // NaN (overflowed sums) must fail too.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                if !(s.abs() <= thr) {
                    return false;
                }
            }
        }
        true
    }

    /// River's scan: the first cut point (oldest first) where the test finds a cut.
    fn exact_cut(&self, mwl: f64, delta_prime: f64, var: f64) -> bool {
        let (mut n0, mut n1, mut u0, mut u1) = (0.0_f64, self.width, 0.0_f64, self.total);
        let linear_factor = 2.0 / 3.0 * delta_prime;
        let var_delta = var * delta_prime;
        for idx in (0..self.lens.len()).rev() {
            let size = pow2(idx);
            let level = self.level(idx);
            // The newest bucket of level 0 is no cut point (nothing would be left after it).
            let points = if idx == 0 {
                level.split_last().map_or(&[][..], |(_, older)| older)
            } else {
                level
            };
            for s in points {
                n0 += size;
                n1 -= size;
                u0 += s.total;
                u1 -= s.total;
                if n1 >= mwl
                    && n0 >= mwl
                    && !Self::surely_no_cut(mwl, linear_factor, var_delta, n0, n1, u0, u1)
                    && Self::cut(mwl, delta_prime, var, n0, n1, (u0 / n0) - (u1 / n1))
                {
                    return true;
                }
            }
        }
        false
    }

    /// Counts the tick; every `clock` ticks, checks every cut point (oldest first) and shrinks
    /// while a cut is significant.
    #[inline]
    fn detect(&mut self, p: &AdwinParams) -> bool {
        self.tick += 1;
        if self.tick != self.next_scan && self.next_scan != 0 {
            return false;
        }
        self.scan(p)
    }

    #[inline(never)]
    fn scan(&mut self, p: &AdwinParams) -> bool {
        // A restored detector may carry an unvalidated `clock` of 0: scan every tick then.
        let clock = u64::from(p.clock.max(1));
        if self.next_scan == 0 {
            // The first multiple of `clock` from here (after a reset or deserialisation).
            self.next_scan = self.tick.div_ceil(clock) * clock;
        }
        if self.tick != self.next_scan {
            return false;
        }
        self.next_scan += clock;
        if self.width <= f64::from(p.grace_period) {
            return false;
        }
        self.flush();
        let mwl = f64::from(p.min_window_length);
        let mut change = false;
        loop {
            let delta_prime = (2.0 * self.width.ln() / p.delta).ln();
            let var = self.variance / self.width;
            if self.certainly_no_cut(mwl, delta_prime, var)
                || !self.exact_cut(mwl, delta_prime, var)
            {
                return change;
            }
            change = true;
            self.delete_oldest();
        }
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

    /// Population variance of the current window (0 when empty). river 0.26's `variance`
    /// property returns the sum of squared deviations instead: this is that sum divided by the
    /// width.
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
    #[inline]
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

    // The one-at-a-time implementation this file started from (river's order of operations),
    // kept as the reference for the batched, flat one.
    #[derive(Debug, Clone, PartialEq, Default)]
    struct RefWindow {
        levels: Vec<VecDeque<Summary>>,
        total: f64,
        variance: f64,
        width: f64,
        tick: u64,
    }

    impl RefWindow {
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

        fn detect(&mut self, p: &AdwinParams) -> bool {
            let mut change = false;
            self.tick += 1;
            if !self.tick.is_multiple_of(u64::from(p.clock))
                || self.width <= f64::from(p.grace_period)
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
                            && !Window::surely_no_cut(mwl, linear_factor, var_delta, n0, n1, u0, u1)
                            && Window::cut(mwl, delta_prime, var, n0, n1, (u0 / n0) - (u1 / n1))
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

    /// The flat, batched window detects at exactly the observations the one-at-a-time
    /// reference does, with bit-identical totals and variances, for several parameter sets and
    /// streams with abrupt and gradual changes.
    #[test]
    fn batched_window_equals_the_reference() {
        let mut state = 3_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / (1u64 << 53) as f64
        };
        let streams: Vec<Vec<f64>> = vec![
            (0..30_000)
                .map(|i| next() + if (i / 7_000) % 2 == 1 { 0.6 } else { 0.0 })
                .collect(),
            (0..30_000)
                .map(|i| next() * (1.0 + i as f64 / 10_000.0))
                .collect(),
            (0..30_000)
                .map(|i| {
                    if next() < 0.1 + (i / 10_000) as f64 * 0.2 {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect(),
        ];
        for (max_buckets, clock) in [(5, 32), (2, 1), (3, 5), (7, 64), (5, 33)] {
            let params = AdwinParams {
                max_buckets,
                clock,
                ..AdwinParams::default()
            };
            for (si, stream) in streams.iter().enumerate() {
                let mut fast = params.build().unwrap();
                let mut reference = RefWindow::default();
                let mut detections = 0;
                for (i, &x) in stream.iter().enumerate() {
                    if fast.status == DriftStatus::Drift {
                        reference = RefWindow::default();
                    }
                    reference.insert(x, max_buckets);
                    let expected = reference.detect(&params);
                    let got = fast.update(x) == DriftStatus::Drift;
                    assert_eq!(
                        got, expected,
                        "params {max_buckets}/{clock}, stream {si}, step {i}"
                    );
                    detections += usize::from(got);
                    if i % 997 == 0 || got {
                        let state = WindowState::from(fast.window.clone());
                        assert_eq!(state.total.to_bits(), reference.total.to_bits());
                        assert_eq!(state.variance.to_bits(), reference.variance.to_bits());
                        assert_eq!(state.width, reference.width);
                        assert_eq!(state.levels, reference.levels, "step {i}");
                    }
                }
                assert!(
                    detections > 0 || si == 1,
                    "params {max_buckets}/{clock}, stream {si}"
                );
            }
        }
    }

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

    /// A seeded uniform in (0, 1).
    fn uniforms(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
    }

    /// Streams that stress the arithmetic: large offsets (cancellation), tiny scales, heavy
    /// tails, constant runs, rare events, slow drifts.
    fn hard_streams(len: usize) -> Vec<Vec<f64>> {
        let mut u = uniforms(17);
        let mut normal = move || (0..12).map(|_| u()).sum::<f64>() - 6.0;
        let mut v = uniforms(23);
        vec![
            (0..len)
                .map(|i| 1e6 + normal() + if i > len / 2 { 0.3 } else { 0.0 })
                .collect(),
            (0..len)
                .map(|i| 1e9 + 1e-3 * normal() + if i > len / 3 { 2e-4 } else { 0.0 })
                .collect(),
            (0..len)
                .map(|i| 1e-12 * (normal() + i as f64 / len as f64))
                .collect(),
            (0..len).map(|_| 1.0 / v().powi(2)).collect(),
            (0..len)
                .map(|i| {
                    if i < len / 3 {
                        4.0
                    } else {
                        4.0 + f64::from(i > len / 2)
                    }
                })
                .collect(),
            (0..len)
                .map(|i| f64::from(v() < 0.01 + 0.02 * (i * 3 / len) as f64))
                .collect(),
            (0..len)
                .map(|i| -5e3 + normal() * (1.0 + (i % 5_000) as f64 / 2_500.0))
                .collect(),
        ]
    }

    /// Longer streams, more parameter sets (including `min_window_length` 1, no grace period,
    /// a large δ that makes cuts frequent): the flat, batched window with its certified
    /// pre-scan still detects at exactly the reference's observations, with the same state.
    #[test]
    fn batched_window_equals_the_reference_on_hard_streams() {
        let streams = hard_streams(40_000);
        let param_sets = [
            AdwinParams::default(),
            AdwinParams {
                min_window_length: 1,
                grace_period: 0,
                ..AdwinParams::default()
            },
            AdwinParams {
                delta: 0.3,
                clock: 7,
                max_buckets: 3,
                min_window_length: 2,
                grace_period: 3,
            },
            AdwinParams {
                delta: 1e-6,
                clock: 1,
                max_buckets: 9,
                min_window_length: 20,
                grace_period: 50,
            },
        ];
        let mut total_detections = 0;
        for params in param_sets {
            for (si, stream) in streams.iter().enumerate() {
                let mut fast = params.build().unwrap();
                let mut reference = RefWindow::default();
                for (i, &x) in stream.iter().enumerate() {
                    if fast.status == DriftStatus::Drift {
                        reference = RefWindow::default();
                    }
                    reference.insert(x, params.max_buckets);
                    let expected = reference.detect(&params);
                    let got = fast.update(x) == DriftStatus::Drift;
                    assert_eq!(got, expected, "params {params:?}, stream {si}, step {i}");
                    total_detections += usize::from(got);
                    if i % 1_999 == 0 || got {
                        let state = WindowState::from(fast.window.clone());
                        assert_eq!(state.total.to_bits(), reference.total.to_bits());
                        assert_eq!(state.variance.to_bits(), reference.variance.to_bits());
                        assert_eq!(state.width, reference.width);
                        assert_eq!(state.levels, reference.levels, "step {i}");
                    }
                }
            }
        }
        assert!(total_detections > 100, "{total_detections}");
    }

    /// A window with the given bucket totals (level `i`: buckets of `2^i` observations) and sum
    /// of squared deviations.
    fn window_of(levels: &[Vec<f64>], variance: f64) -> Window {
        let levels: Vec<VecDeque<Summary>> = levels
            .iter()
            .map(|l| {
                l.iter()
                    .map(|&total| Summary {
                        total,
                        variance: 0.0,
                    })
                    .collect()
            })
            .collect();
        let width = levels
            .iter()
            .enumerate()
            .map(|(i, l)| l.len() as f64 * (1_u64 << i) as f64)
            .sum();
        let total = levels.iter().flatten().map(|b| b.total).sum();
        Window::from(WindowState {
            levels,
            total,
            variance,
            width,
            tick: 0,
        })
    }

    /// The certified pre-scan never rules out a window where river's scan finds a cut,
    /// including windows built to sit on the threshold: one bucket's total is bisected to the
    /// last float before a cut appears and the first one with it, for random layouts, scales,
    /// offsets, variances and `min_window_length` (1 makes the pre-scan's bound tight).
    #[test]
    fn certified_pre_scan_is_conservative_on_the_threshold() {
        let mut u = uniforms(41);
        let (mut boundaries, mut certified) = (0, 0);
        for case in 0..3_000 {
            let n_levels = 1 + (u() * 12.0) as usize;
            let scale = [1.0, 1e-9, 1e7][case % 3];
            let offset = [0.0, 1.0, -3e4, 1e6][case % 4] * scale;
            let mwl = [1.0, 1.0, 2.0, 5.0][case % 4];
            let mut levels: Vec<Vec<f64>> = (0..n_levels)
                .map(|i| {
                    let size = (1_u64 << i) as f64;
                    let len = if i + 1 == n_levels {
                        1
                    } else {
                        1 + (u() * 5.0) as usize
                    };
                    let len = if i == 0 { len.max(2) } else { len };
                    (0..len)
                        .map(|_| offset * size + (u() - 0.5) * size.sqrt() * scale)
                        .collect()
                })
                .collect();
            let width: f64 = levels
                .iter()
                .enumerate()
                .map(|(i, l)| l.len() as f64 * (1_u64 << i) as f64)
                .sum();
            let variance = width * scale * scale * u() * 2.0;
            let delta = [0.002, 0.3, 1e-5][case % 3];
            // The bucket to move: random, but not the newest.
            let li = (u() * n_levels as f64) as usize;
            let bi = (u() * levels[li].len() as f64) as usize;
            let bi = if li == 0 {
                bi.min(levels[0].len() - 2)
            } else {
                bi
            };
            let base = levels[li][bi];
            let size = (1_u64 << li) as f64;
            let check = |levels: &mut Vec<Vec<f64>>, t: f64| -> (bool, bool) {
                levels[li][bi] = t;
                let w = window_of(levels, variance);
                let delta_prime = (2.0 * w.width.ln() / delta).ln();
                let var = w.variance / w.width;
                (
                    w.certainly_no_cut(mwl, delta_prime, var),
                    w.exact_cut(mwl, delta_prime, var),
                )
            };
            let (sure, cut) = check(&mut levels, base);
            assert!(!(sure && cut), "case {case}");
            if cut {
                continue;
            }
            // Find a shift with a cut, then bisect down to adjacent floats.
            let sign = if u() < 0.5 { 1.0 } else { -1.0 };
            let mut step = scale * size.max(1.0);
            let mut hi = None;
            for _ in 0..80 {
                let t = base + sign * step;
                if check(&mut levels, t).1 {
                    hi = Some(t);
                    break;
                }
                step *= 2.0;
            }
            let Some(mut hi) = hi else { continue };
            let mut lo = base;
            loop {
                let mid = lo + (hi - lo) / 2.0;
                if mid == lo || mid == hi {
                    break;
                }
                if check(&mut levels, mid).1 {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            boundaries += 1;
            // The floats around the threshold, and points a relative 1e-9 / 1e-6 / 1e-3 away.
            let gap = hi - lo;
            let mut probes: Vec<f64> = (-8..=8).map(|k| lo + f64::from(k) * gap).collect();
            for rel in [1e-9, 1e-6, 1e-3] {
                probes.push(lo - (hi - base) * rel);
                probes.push(hi + (hi - base) * rel);
            }
            for t in probes {
                let (sure, cut) = check(&mut levels, t);
                assert!(!(sure && cut), "case {case}: ruled out a cut at total {t}");
                certified += usize::from(sure);
            }
        }
        assert!(boundaries > 1_000, "{boundaries}");
        // Away from the threshold it does certify.
        assert!(certified > 1_000, "{certified}");
    }

    /// Restored states the detector would never produce (a level longer than `max_buckets`,
    /// empty levels) and unvalidated restored parameters (`clock` 0, `max_buckets` 0,
    /// `min_window_length` 0) do not panic.
    #[test]
    fn odd_restored_states_do_not_panic() {
        let json = r#"{"params":{"delta":0.002,"clock":0,"max_buckets":0,"min_window_length":0,
            "grace_period":0},"window":{"levels":[[{"total":1.0,"variance":0.0}],[],
            [{"total":4.0,"variance":1.0},{"total":4.0,"variance":1.0},{"total":4.0,"variance":1.0},
            {"total":4.0,"variance":1.0},{"total":4.0,"variance":1.0},{"total":4.0,"variance":1.0},
            {"total":4.0,"variance":1.0},{"total":4.0,"variance":1.0}]],"total":33.0,
            "variance":20.0,"width":33.0,"tick":5},"status":"stable","n_detections":0}"#;
        let mut u = uniforms(3);
        for params in [None, Some(AdwinParams::default())] {
            let mut a: Adwin = serde_json::from_str(json).unwrap();
            if let Some(p) = params {
                a.params = p;
            }
            for i in 0..5_000 {
                a.update(u() + if i > 2_500 { 3.0 } else { 0.0 });
                assert!(a.estimation().is_finite() && a.variance().is_finite());
            }
            assert!(a.width() > 0);
        }
        // 70 levels, the top one holding a bucket of 2^69 observations.
        let mut levels = vec![VecDeque::new(); 70];
        levels[0].push_back(Summary {
            total: 1.0,
            variance: 0.0,
        });
        levels[69].push_back(Summary {
            total: 0.0,
            variance: 0.0,
        });
        let state = WindowState {
            levels,
            total: 1.0,
            variance: 0.0,
            width: 2f64.powi(69) + 1.0,
            tick: 0,
        };
        let mut a = Adwin {
            window: Window::from(state),
            ..Adwin::default()
        };
        for i in 0..2_000 {
            a.update(f64::from(i % 7));
        }
        assert!(a.estimation().is_finite());
    }
}
