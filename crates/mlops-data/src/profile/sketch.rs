//! A deterministic, mergeable quantile sketch with a proven rank-error bound.
//!
//! # Algorithm
//!
//! The sketch is a hierarchy of *compactors* (Manku–Rajagopalan–Lindsay, the deterministic
//! ancestor of KLL). Level `h` holds up to `k` values, each standing for `2^h` input values.
//! When a level reaches `k` values it is sorted and every other value (starting at an *offset*
//! of 0 or 1) moves up one level with doubled weight; the others are dropped.
//!
//! There is no randomness: the offset of each compaction is chosen by a deterministic greedy rule
//! (see below), so identical input in the identical order gives identical bytes.
//!
//! # Error bound
//!
//! Write `rank(x)` for the number of input values `≤ x` (or `< x`; the argument is the same).
//! A compaction of weight-`w` values changes the sketch's estimate of `rank(x)` by `0` or `+w`
//! when it keeps the even positions (offset 0), and by `0` or `−w` when it keeps the odd positions
//! (offset 1). So the total error of the estimate lies in `[−down, +up]`, where `up` (`down`) is
//! the summed weight of all offset-0 (offset-1) compactions so far. The sketch tracks both sums
//! exactly and, before each compaction, picks the offset whose sum is smaller, which keeps
//! `max(up, down)` at about half of `up + down`.
//!
//! [`QuantileSketch::error_bound`] returns `max(up, down) / n`: a **guaranteed** (not
//! probabilistic) bound on `|estimated rank − true rank| / n` for every probe point, valid for
//! every input order and after any sequence of merges.
//!
//! A priori, every compaction at level `h` consumes at least `k` values of weight `2^h` and the
//! weight that ever enters a level is at most `n`, so each level contributes at most `n / k`,
//! and only levels with `k·2^h ≤ n` ever compact. Hence
//!
//! ```text
//! error_bound() ≤ (⌊log2(n / k)⌋ + 1) / k      (and 0 while n < k: the sketch is exact)
//! ```
//!
//! which [`QuantileSketch::a_priori_bound`] computes. With the default `k = 2560` this is at most
//! 1% for every `n < 8.5·10^10`; in practice the tracked bound is about half of it, and the
//! observed error is far smaller still. Memory is at most `k · (⌊log2(n / k)⌋ + 2)` values.
//!
//! Only finite values enter the sketch; NaN and ±∞ are counted by the column profile instead.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The default accuracy parameter: the a priori normalised rank error is at most 1% for
/// every `n < 8.5·10^10` values.
pub const DEFAULT_SKETCH_K: usize = 2560;

/// The smallest accepted `k`.
pub const MIN_SKETCH_K: usize = 8;

/// The largest accepted `k` (bounds the memory of a decoded sketch).
pub const MAX_SKETCH_K: usize = 1 << 20;

/// The maximum number of levels (weights up to `2^63`).
const MAX_LEVELS: usize = 64;

/// A deterministic mergeable quantile sketch over finite `f64` values.
///
/// See the [module documentation](self) for the algorithm and its guaranteed rank-error bound.
///
/// ```
/// use mlops_data::profile::QuantileSketch;
/// let mut s = QuantileSketch::new(64)?;
/// for i in 0..10_000 {
///     s.push(f64::from(i));
/// }
/// let median = s.quantile(0.5).unwrap_or(f64::NAN);
/// // The true rank of the estimate is within the stated bound of 5000.
/// assert!((median - 5000.0).abs() <= s.error_bound() * 10_000.0 + 1.0);
/// assert!(s.error_bound() <= QuantileSketch::a_priori_bound(10_000, 64));
/// # Ok::<(), mlops_data::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SketchRepr", into = "SketchRepr")]
pub struct QuantileSketch {
    k: usize,
    n: u64,
    /// Exact minimum of the finite values seen (`+∞` while empty).
    min: f64,
    /// Exact maximum of the finite values seen (`−∞` while empty).
    max: f64,
    /// Summed weight of offset-0 compactions (estimates can be too high by at most this).
    up: u64,
    /// Summed weight of offset-1 compactions (estimates can be too low by at most this).
    down: u64,
    /// `levels[h]` holds values of weight `2^h` as order-preserving integer keys (see [`key`]),
    /// so that compaction sorts plain integers; each level has fewer than `k` values at rest.
    levels: Vec<Vec<u64>>,
}

impl std::fmt::Debug for QuantileSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantileSketch")
            .field("k", &self.k)
            .field("n", &self.n)
            .field("min", &self.min())
            .field("max", &self.max())
            .field("up", &self.up)
            .field("down", &self.down)
            .field(
                "level_sizes",
                &self.levels.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Maps a finite `f64` to a `u64` with the same order (`f64::total_cmp`).
#[inline]
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Sorts keys with an LSD radix sort on bytes, skipping bytes that are equal in every key
/// (common: values of similar magnitude share their high bytes). Small inputs use `sort_unstable`.
fn radix_sort(v: &mut Vec<u64>) {
    if v.len() < 256 {
        v.sort_unstable();
        return;
    }
    let mut counts = [[0usize; 256]; 8];
    for &x in v.iter() {
        for (b, c) in counts.iter_mut().enumerate() {
            c[((x >> (8 * b)) & 0xff) as usize] += 1;
        }
    }
    let len = v.len();
    let mut src = std::mem::take(v);
    let mut dst = vec![0u64; len];
    for (b, c) in counts.iter().enumerate() {
        if c.contains(&len) {
            continue;
        }
        let mut offs = [0usize; 256];
        let mut acc = 0;
        for (o, &n) in offs.iter_mut().zip(c.iter()) {
            *o = acc;
            acc += n;
        }
        for &x in &src {
            let d = ((x >> (8 * b)) & 0xff) as usize;
            dst[offs[d]] = x;
            offs[d] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    *v = src;
}

/// Inverse of [`key`].
#[inline]
fn unkey(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

impl QuantileSketch {
    /// An empty sketch with accuracy parameter `k` (even, in `8..=2^20`).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] (`sketch_k`) when `k` is odd or out of range.
    pub fn new(k: usize) -> Result<Self> {
        check_k(k)?;
        Ok(Self::new_unchecked(k))
    }

    pub(crate) fn new_unchecked(k: usize) -> Self {
        Self {
            k,
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            up: 0,
            down: 0,
            levels: vec![Vec::new()],
        }
    }

    /// The accuracy parameter.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of (finite) values summarised.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Whether no value has been added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The exact smallest value seen.
    pub fn min(&self) -> Option<f64> {
        (self.n > 0).then_some(self.min)
    }

    /// The exact largest value seen.
    pub fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }

    /// The number of values currently retained (memory use is about 8 bytes each).
    pub fn retained(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Guaranteed bound on the normalised rank error of [`rank`](Self::rank),
    /// [`cdf`](Self::cdf), [`quantile`](Self::quantile) and [`histogram`](Self::histogram):
    /// for every `x`, `|rank(x) − true rank(x)| / n ≤ error_bound()`. `0.0` while exact.
    pub fn error_bound(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        self.up.max(self.down) as f64 / self.n as f64
    }

    /// The a priori bound `(⌊log2(n / k)⌋ + 1) / k` (0 when `n < k`), which
    /// [`error_bound`](Self::error_bound) never exceeds for a sketch of `n` values with parameter `k`.
    pub fn a_priori_bound(n: u64, k: usize) -> f64 {
        let k64 = k as u64;
        if k64 == 0 || n < k64 {
            return 0.0;
        }
        let levels = u64::from((n / k64).ilog2()) + 1;
        levels as f64 / k as f64
    }

    /// Adds one value. Non-finite values (NaN, ±∞) are ignored.
    #[inline]
    pub fn push(&mut self, x: f64) {
        if x.is_finite() {
            self.push_finite(x);
        }
    }

    /// Adds a value the caller knows to be finite.
    #[inline]
    pub(crate) fn push_finite(&mut self, x: f64) {
        self.n += 1;
        if x < self.min {
            self.min = x;
        }
        if x > self.max {
            self.max = x;
        }
        // `levels` always has at least one level.
        if let Some(l0) = self.levels.first_mut() {
            l0.push(key(x));
            if l0.len() >= self.k {
                self.compact_from(0);
            }
        }
    }

    /// Compacts every level from `start` upwards that has reached `k` values.
    fn compact_from(&mut self, start: usize) {
        let mut h = start;
        while h < self.levels.len() {
            if self.levels[h].len() >= self.k {
                self.compact(h);
            }
            h += 1;
        }
    }

    /// Compacts level `h` (which holds at least `k ≥ 2` values) into level `h + 1`.
    fn compact(&mut self, h: usize) {
        if h + 1 >= MAX_LEVELS {
            // Unreachable for n ≤ u64::MAX with k ≥ 8; keep the values rather than lose weight.
            return;
        }
        let w = 1u64 << h;
        let mut buf = std::mem::take(&mut self.levels[h]);
        radix_sort(&mut buf);
        // Compact an even number of values; an odd one out (the largest) stays where it is.
        let leftover = if !buf.len().is_multiple_of(2) {
            buf.pop()
        } else {
            None
        };
        let offset = if self.up <= self.down {
            self.up = self.up.saturating_add(w);
            0
        } else {
            self.down = self.down.saturating_add(w);
            1
        };
        if self.levels.len() == h + 1 {
            self.levels.push(Vec::with_capacity(self.k));
        }
        self.levels[h + 1].extend(buf.iter().skip(offset).step_by(2));
        buf.clear();
        buf.extend(leftover);
        self.levels[h] = buf;
    }

    /// Merges `other` into `self`. The result summarises both inputs; its
    /// [`error_bound`](Self::error_bound) accounts for both inputs' errors and the merge.
    /// `a.merge(b)` and `b.merge(a)` give identical sketches.
    ///
    /// # Errors
    /// [`Error::Incompatible`] when the two sketches have different `k`.
    pub fn merge(&mut self, other: &QuantileSketch) -> Result<()> {
        if self.k != other.k {
            return Err(Error::Incompatible(format!(
                "quantile sketches with different k ({} vs {})",
                self.k, other.k
            )));
        }
        if other.n == 0 {
            return Ok(());
        }
        if self.n == 0 {
            // Merging into an empty sketch gives exactly the other sketch.
            *self = other.clone();
            return Ok(());
        }
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.extend_from_slice(theirs);
        }
        self.n = self.n.saturating_add(other.n);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.up = self.up.saturating_add(other.up);
        self.down = self.down.saturating_add(other.down);
        // Canonical order so that the result does not depend on which side was `self`.
        for level in &mut self.levels {
            level.sort_unstable();
        }
        self.compact_from(0);
        Ok(())
    }

    /// A sorted, cumulative view for answering many queries quickly.
    pub fn view(&self) -> SketchView {
        let mut items: Vec<(u64, u64)> = Vec::with_capacity(self.retained());
        for (h, level) in self.levels.iter().enumerate() {
            let w = 1u64 << h.min(63);
            items.extend(level.iter().map(|&v| (v, w)));
        }
        items.sort_unstable();
        let mut values = Vec::with_capacity(items.len());
        let mut cum = Vec::with_capacity(items.len());
        let mut acc = 0u64;
        for (v, w) in items {
            acc = acc.saturating_add(w);
            values.push(unkey(v));
            cum.push(acc);
        }
        SketchView {
            values,
            cum,
            n: self.n,
            min: self.min,
            max: self.max,
            error_bound: self.error_bound(),
        }
    }

    /// Approximate `q`-quantile (`q` in `[0, 1]`): the smallest retained value whose estimated
    /// rank reaches `q·n` (the "inverted CDF" definition). `quantile(0)` and `quantile(1)` are the
    /// exact minimum and maximum. `None` when empty or `q` is outside `[0, 1]` or NaN.
    ///
    /// For many queries use [`view`](Self::view) once.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.view().quantile(q)
    }

    /// Approximate number of values `≤ x` (NaN for a NaN probe).
    pub fn rank(&self, x: f64) -> f64 {
        self.view().rank(x)
    }

    /// Approximate fraction of values `≤ x`, in `[0, 1]` (NaN for a NaN probe or an empty sketch).
    pub fn cdf(&self, x: f64) -> f64 {
        self.view().cdf(x)
    }

    /// Approximate counts per bin; see [`SketchView::histogram`].
    ///
    /// # Errors
    /// [`Error::InvalidParam`] (`edges`) when the edges are NaN or not increasing.
    pub fn histogram(&self, edges: &[f64]) -> Result<Vec<f64>> {
        self.view().histogram(edges)
    }
}

/// A sorted snapshot of a [`QuantileSketch`], for answering many queries (each `O(log k)`).
#[derive(Debug, Clone, PartialEq)]
pub struct SketchView {
    values: Vec<f64>,
    /// `cum[i]` = total weight of `values[..=i]`.
    cum: Vec<u64>,
    n: u64,
    min: f64,
    max: f64,
    error_bound: f64,
}

impl SketchView {
    /// Number of values summarised.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The sketch's guaranteed normalised rank-error bound.
    pub fn error_bound(&self) -> f64 {
        self.error_bound
    }

    /// Weight of retained values satisfying `pred` (a prefix of the sorted values).
    fn prefix_weight(&self, idx: usize) -> u64 {
        match idx.checked_sub(1).and_then(|i| self.cum.get(i)) {
            Some(&c) => c,
            None => 0,
        }
    }

    /// Approximate number of values `≤ x` (NaN for a NaN probe).
    pub fn rank(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if self.n == 0 || x < self.min {
            return 0.0;
        }
        if x >= self.max {
            return self.n as f64;
        }
        self.prefix_weight(self.values.partition_point(|&v| v <= x)) as f64
    }

    /// Approximate number of values `< x` (NaN for a NaN probe).
    pub fn rank_strict(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if self.n == 0 || x <= self.min {
            return 0.0;
        }
        if x > self.max {
            return self.n as f64;
        }
        self.prefix_weight(self.values.partition_point(|&v| v < x)) as f64
    }

    /// Approximate fraction of values `≤ x` (NaN for a NaN probe or an empty sketch).
    pub fn cdf(&self, x: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.rank(x) / self.n as f64
    }

    /// Approximate `q`-quantile; see [`QuantileSketch::quantile`].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 {
            return Some(self.min);
        }
        if q == 1.0 {
            return Some(self.max);
        }
        let target = q * self.n as f64;
        let i = self.cum.partition_point(|&c| (c as f64) < target);
        let v = self.values.get(i).copied().unwrap_or(self.max);
        Some(v.clamp(self.min, self.max))
    }

    /// Approximate counts of values per bin. `edges` (strictly increasing, not NaN; ±∞ allowed)
    /// define `edges.len() − 1` bins `[e_i, e_{i+1})`, the last one closed `[e_{m−1}, e_m]` as in
    /// numpy. Values outside `[e_0, e_m]` are not counted; pass `−∞`/`+∞` as outer edges to
    /// count everything. Each count is within `2 · error_bound · n` of the truth. Fewer than
    /// two edges give no bins.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] (`edges`) when an edge is NaN or the edges are not strictly
    /// increasing.
    pub fn histogram(&self, edges: &[f64]) -> Result<Vec<f64>> {
        if edges.iter().any(|e| e.is_nan()) {
            return Err(Error::InvalidParam {
                param: "edges",
                reason: "histogram edges must not be NaN".into(),
            });
        }
        if edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidParam {
                param: "edges",
                reason: "histogram edges must be strictly increasing".into(),
            });
        }
        let m = edges.len();
        let mut out = Vec::with_capacity(m.saturating_sub(1));
        for (i, w) in edges.windows(2).enumerate() {
            let lo = self.rank_strict(w[0]);
            let hi = if i + 2 == m {
                self.rank(w[1])
            } else {
                self.rank_strict(w[1])
            };
            out.push((hi - lo).max(0.0));
        }
        Ok(out)
    }
}

pub(crate) fn check_k(k: usize) -> Result<()> {
    if !(MIN_SKETCH_K..=MAX_SKETCH_K).contains(&k) {
        return Err(Error::InvalidParam {
            param: "sketch_k",
            reason: format!("must be in {MIN_SKETCH_K}..={MAX_SKETCH_K}, got {k}"),
        });
    }
    if !k.is_multiple_of(2) {
        return Err(Error::InvalidParam {
            param: "sketch_k",
            reason: format!("must be even, got {k}"),
        });
    }
    Ok(())
}

/// The serialised form; decoding validates every invariant so hostile bytes cannot make
/// later queries misbehave.
#[derive(Serialize, Deserialize)]
struct SketchRepr {
    k: u64,
    n: u64,
    min: Option<f64>,
    max: Option<f64>,
    up: u64,
    down: u64,
    levels: Vec<Vec<f64>>,
}

impl From<QuantileSketch> for SketchRepr {
    fn from(s: QuantileSketch) -> Self {
        Self {
            k: s.k as u64,
            n: s.n,
            min: s.min(),
            max: s.max(),
            up: s.up,
            down: s.down,
            levels: s
                .levels
                .iter()
                .map(|l| l.iter().map(|&v| unkey(v)).collect())
                .collect(),
        }
    }
}

impl TryFrom<SketchRepr> for QuantileSketch {
    type Error = Error;
    fn try_from(r: SketchRepr) -> Result<Self> {
        let bad = |why: &str| Error::Serialization(format!("invalid quantile sketch: {why}"));
        let k = usize::try_from(r.k).map_err(|_| bad("k out of range"))?;
        check_k(k).map_err(|_| bad("k out of range or odd"))?;
        if r.levels.is_empty() || r.levels.len() > MAX_LEVELS {
            return Err(bad("wrong number of levels"));
        }
        let mut total: u64 = 0;
        for (h, level) in r.levels.iter().enumerate() {
            if level.len() >= k {
                return Err(bad("overfull level"));
            }
            let w = 1u64 << h;
            let weight = (level.len() as u64)
                .checked_mul(w)
                .ok_or_else(|| bad("weight overflow"))?;
            total = total
                .checked_add(weight)
                .ok_or_else(|| bad("weight overflow"))?;
        }
        if total != r.n {
            return Err(bad("retained weight does not equal n"));
        }
        let (min, max) = match (r.n, r.min, r.max) {
            (0, None, None) => (f64::INFINITY, f64::NEG_INFINITY),
            (n, Some(lo), Some(hi)) if n > 0 && lo.is_finite() && hi.is_finite() && lo <= hi => {
                (lo, hi)
            }
            _ => return Err(bad("inconsistent min/max")),
        };
        if r.levels
            .iter()
            .flatten()
            .any(|v| !v.is_finite() || *v < min || *v > max)
        {
            return Err(bad("value outside [min, max] or not finite"));
        }
        Ok(Self {
            k,
            n: r.n,
            min,
            max,
            up: r.up,
            down: r.down,
            levels: r
                .levels
                .iter()
                .map(|l| l.iter().map(|&v| key(v)).collect())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{key, radix_sort, unkey};

    #[test]
    fn radix_sort_sorts() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in [0, 1, 255, 256, 1000, 2560] {
            let mut v: Vec<u64> = (0..len)
                .map(|i| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    if i % 3 == 0 { state >> 40 } else { state }
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            radix_sort(&mut v);
            assert_eq!(v, expected);
        }
        let mut same = vec![7u64; 500];
        radix_sort(&mut same);
        assert_eq!(same, vec![7u64; 500]);
    }

    #[test]
    fn keys_preserve_order_and_round_trip() {
        let mut xs = vec![
            -f64::MAX,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            -1e-310,
            -0.0,
            0.0,
            1e-310,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            1e300,
            f64::MAX,
        ];
        let keys: Vec<u64> = xs.iter().map(|&x| key(x)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (&x, &k) in xs.iter().zip(&keys) {
            assert_eq!(unkey(k).to_bits(), x.to_bits());
        }
        xs.reverse();
        let mut ks: Vec<u64> = xs.iter().map(|&x| key(x)).collect();
        ks.sort_unstable();
        assert_eq!(ks, keys);
    }
}
