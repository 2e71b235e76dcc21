//! Distance-based drift tests on numeric samples: Wasserstein, PSI, binned Jensen–Shannon.

use super::{
    TestKind, TestResult, check_threshold, compensated_sum, js_distance, psi_from_shares,
    sorted_finite_or_inf, validate,
};
use crate::error::{Error, Result, Sample};

/// Evidently's floor on the reference standard deviation used to normalise the Wasserstein
/// distance: `W1 / max(std_ref, 0.001)`. A constant reference therefore gives `W1 / 0.001`
/// (and `0` when the current sample is the same constant), never a division by zero.
pub const WASSERSTEIN_STD_FLOOR: f64 = 1e-3;

/// Default number of reference-quantile bins for [`psi_test`].
pub const PSI_DEFAULT_BINS: usize = 10;

/// Share substituted for an empty bin (in either sample) before computing PSI, so the logarithm
/// stays finite. Shares are not renormalised after the substitution.
pub const PSI_EPSILON: f64 = 1e-4;

/// Default number of equal-width bins for [`jensen_shannon_numeric_test`] (Evidently's 30).
pub const JS_DEFAULT_BINS: usize = 30;

/// Wasserstein-1 distance between two sorted samples: `∫ |F_u - F_v|`.
fn wasserstein_sorted(u: &[f64], v: &[f64]) -> f64 {
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0_usize, 0_usize);
    let (mut sum, mut comp) = (0.0_f64, 0.0_f64); // Neumaier-compensated sum of the areas
    let mut prev: Option<(f64, f64)> = None; // (value, |Fu - Fv| just after it)
    while i < u.len() || j < v.len() {
        let x = match (u.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        if let Some((pv, diff)) = prev {
            let term = diff * (x - pv);
            let t = sum + term;
            comp += if sum.abs() >= term.abs() {
                (sum - t) + term
            } else {
                (term - t) + sum
            };
            sum = t;
        }
        while u.get(i).is_some_and(|&a| a <= x) {
            i += 1;
        }
        while v.get(j).is_some_and(|&b| b <= x) {
            j += 1;
        }
        prev = Some((x, (i as f64 / nu - j as f64 / nv).abs()));
    }
    sum + comp
}

/// Population standard deviation (`ddof = 0`, as `np.std`), two-pass with compensated sums.
fn std_pop(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = compensated_sum(x.iter().copied()) / n;
    (compensated_sum(x.iter().map(|v| (v - mean) * (v - mean))) / n).sqrt()
}

/// Wasserstein-1 (earth mover's) distance between two samples, equal to
/// `scipy.stats.wasserstein_distance(reference, current)`.
///
/// # Errors
/// Empty samples, NaN or infinite values ([`Error::EmptySample`], [`Error::NanInSample`],
/// [`Error::NonFiniteInSample`]).
pub fn wasserstein_distance(reference: &[f64], current: &[f64]) -> Result<f64> {
    let u = sorted_finite_or_inf(reference, Sample::Reference, false)?;
    let v = sorted_finite_or_inf(current, Sample::Current, false)?;
    Ok(wasserstein_sorted(&u, &v))
}

/// Normalised Wasserstein drift test (Evidently's `wasserstein`):
/// statistic `W1(ref, cur) / max(np.std(ref), 0.001)`, drifted when `≥ threshold` (default 0.1).
/// See [`WASSERSTEIN_STD_FLOOR`] for a zero-variance reference.
///
/// # Errors
/// As [`wasserstein_distance`], plus [`Error::InvalidParameter`] for a negative or non-finite
/// threshold.
#[tracing::instrument(level = "debug", skip_all, fields(n_ref = reference.len(), n_cur = current.len()))]
pub fn wasserstein_test(reference: &[f64], current: &[f64], threshold: f64) -> Result<TestResult> {
    check_threshold(threshold)?;
    let u = sorted_finite_or_inf(reference, Sample::Reference, false)?;
    let v = sorted_finite_or_inf(current, Sample::Current, false)?;
    let norm = std_pop(reference).max(WASSERSTEIN_STD_FLOOR);
    let stat = wasserstein_sorted(&u, &v) / norm;
    Ok(TestResult::from_distance(
        TestKind::WassersteinNormed,
        stat,
        threshold,
    ))
}

/// `np.quantile(sorted, q)` with numpy's default `linear` method, on a sorted non-empty slice.
pub(crate) fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = n.saturating_sub(1);
    let virt = (n as f64 - 1.0) * q;
    let get = |k: usize| sorted.get(k.min(last)).copied().unwrap_or(f64::NAN);
    if virt >= last as f64 {
        return get(last);
    }
    if virt <= 0.0 {
        return get(0);
    }
    let prev = virt.floor();
    let gamma = virt - prev;
    let k = prev as usize;
    let (a, b) = (get(k), get(k + 1));
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

fn check_bins(n_bins: usize) -> Result<()> {
    if n_bins >= 2 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "n_bins",
            value: n_bins as f64,
            reason: "must be at least 2",
        })
    }
}

/// Number of elements of sorted `x` that are `< edge` (`searchsorted(side="left")`).
fn count_below(x: &[f64], edge: f64) -> usize {
    x.partition_point(|&v| v < edge)
}

/// Number of elements of sorted `x` that are `<= edge` (`searchsorted(side="right")`).
fn count_at_most(x: &[f64], edge: f64) -> usize {
    x.partition_point(|&v| v <= edge)
}

/// Population stability index with reference-quantile bins.
///
/// Binning rule: the interior edges are the reference quantiles at `i / n_bins` for
/// `i = 1..n_bins` (numpy's default linear interpolation), with repeated edges removed (heavy
/// ties give fewer bins); the outer bins are open, so `(-inf, e1), [e1, e2), …, [e_k, +inf)`
/// (a value equal to an edge goes to the bin on its right). Shares are counts divided by the
/// sample size; a zero share in either sample is replaced by [`PSI_EPSILON`]. The statistic is
/// `Σ (ref - cur) ln(ref / cur)`; drifted when `≥ threshold` (0.1 is the usual "moderate shift"
/// level, 0.25 "major").
///
/// `O(n log n + m · n_bins)`: the reference is sorted, the current sample is binned in one pass.
///
/// # Errors
/// Empty samples, NaN or infinite values, `n_bins < 2`, a negative threshold.
#[tracing::instrument(level = "debug", skip_all, fields(n_ref = reference.len(), n_cur = current.len()))]
pub fn psi_test(
    reference: &[f64],
    current: &[f64],
    n_bins: usize,
    threshold: f64,
) -> Result<TestResult> {
    check_threshold(threshold)?;
    check_bins(n_bins)?;
    let r = sorted_finite_or_inf(reference, Sample::Reference, false)?;
    validate(current, Sample::Current, false)?;
    let mut edges: Vec<f64> = (1..n_bins)
        .map(|i| quantile_linear(&r, i as f64 / n_bins as f64))
        .collect();
    edges.dedup();
    // Reference shares from the sorted sample.
    let n = r.len() as f64;
    let mut ref_shares = Vec::with_capacity(edges.len() + 1);
    let mut below = 0_usize;
    for &e in &edges {
        let k = count_below(&r, e);
        ref_shares.push((k - below) as f64 / n);
        below = k;
    }
    ref_shares.push((r.len() - below) as f64 / n);
    // Current shares in one pass, without sorting: a value's bin is the number of edges at or
    // below it (the same bins as `count_below` on a sorted copy).
    let mut counts = vec![0_u64; edges.len() + 1];
    for &x in current {
        let bin = edges.iter().filter(|&&e| e <= x).count();
        if let Some(c) = counts.get_mut(bin) {
            *c += 1;
        }
    }
    let m = current.len() as f64;
    let cur_shares: Vec<f64> = counts.iter().map(|&c| c as f64 / m).collect();
    let stat = psi_from_shares(&ref_shares, &cur_shares, PSI_EPSILON);
    Ok(TestResult::from_distance(TestKind::Psi, stat, threshold))
}

/// Jensen–Shannon distance between binned numeric samples (Evidently's `jensenshannon` for
/// numeric columns): `n_bins` equal-width bins spanning the combined range (numpy's
/// `histogram_bin_edges`; a constant range `[v, v]` becomes `[v - 0.5, v + 0.5]`), the last bin
/// closed; shares are counts over sample size, no smoothing; distance with the natural
/// logarithm (so it lies in `[0, sqrt(ln 2)]`). Drifted when `≥ threshold` (default 0.1).
///
/// # Errors
/// Empty samples, NaN or infinite values, `n_bins < 2`, a negative threshold.
pub fn jensen_shannon_numeric_test(
    reference: &[f64],
    current: &[f64],
    n_bins: usize,
    threshold: f64,
) -> Result<TestResult> {
    check_threshold(threshold)?;
    check_bins(n_bins)?;
    let r = sorted_finite_or_inf(reference, Sample::Reference, false)?;
    let c = sorted_finite_or_inf(current, Sample::Current, false)?;
    let (rmin, rmax, cmin, cmax) = match (r.first(), r.last(), c.first(), c.last()) {
        (Some(&a), Some(&b), Some(&cc), Some(&d)) => (a, b, cc, d),
        _ => {
            return Err(Error::EmptySample {
                sample: Sample::Reference,
            });
        }
    };
    let (mut lo, mut hi) = (rmin.min(cmin), rmax.max(cmax));
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let div = n_bins as f64;
    let delta = hi - lo;
    let step = delta / div;
    let mut edges: Vec<f64> = (0..=n_bins)
        .map(|i| {
            if step == 0.0 {
                i as f64 / div * delta + lo
            } else {
                i as f64 * step + lo
            }
        })
        .collect();
    if let Some(last) = edges.last_mut() {
        *last = hi;
    }
    let shares = |x: &[f64]| -> Vec<f64> {
        let n = x.len() as f64;
        let mut cum: Vec<usize> = edges
            .iter()
            .take(n_bins)
            .map(|&e| count_below(x, e))
            .collect();
        cum.push(count_at_most(x, hi));
        cum.windows(2).map(|w| (w[1] - w[0]) as f64 / n).collect()
    };
    let stat = js_distance(&shares(&r), &shares(&c));
    Ok(TestResult::from_distance(
        TestKind::JensenShannon,
        stat,
        threshold,
    ))
}
