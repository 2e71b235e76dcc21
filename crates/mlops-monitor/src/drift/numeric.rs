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
    quantile_linear_by(sorted.len(), q, |k| {
        sorted.get(k).copied().unwrap_or(f64::NAN)
    })
}

/// [`quantile_linear`] of a sample of `n` values whose `k`-th smallest is `get(k)` (called
/// with `k < n` only).
fn quantile_linear_by(n: usize, q: f64, mut get: impl FnMut(usize) -> f64) -> f64 {
    let last = n.saturating_sub(1);
    let virt = (n as f64 - 1.0) * q;
    if virt >= last as f64 {
        return get(last);
    }
    if virt <= 0.0 {
        return get(0);
    }
    let prev = virt.floor();
    let gamma = virt - prev;
    let k = prev as usize;
    let (a, b) = (get(k.min(last)), get((k + 1).min(last)));
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
/// `O((n + m) · n_bins)` for large references (quantiles selected, not sorted; see the
/// source), `O(n log n + m · n_bins)` otherwise.
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
    validate(reference, Sample::Reference, false)?;
    validate(current, Sample::Current, false)?;
    let (edges, below) = psi_reference_bins(reference, n_bins);
    let n = reference.len() as f64;
    let mut ref_shares = Vec::with_capacity(edges.len() + 1);
    let mut prev = 0_usize;
    for &k in &below {
        ref_shares.push((k - prev) as f64 / n);
        prev = k;
    }
    ref_shares.push((reference.len() - prev) as f64 / n);
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

/// Smallest reference for which [`psi_reference_bins`] selects quantiles instead of sorting.
const PSI_SELECT_MIN_LEN: usize = 1 << 16;
/// Most bins for which it does.
const PSI_SELECT_MAX_BINS: usize = 64;

/// The PSI bin edges of a validated reference (its linear quantiles at `i / n_bins`, repeated
/// edges removed) and, per edge, the number of reference values below it.
fn psi_reference_bins(reference: &[f64], n_bins: usize) -> (Vec<f64>, Vec<usize>) {
    if let Some(out) = psi_reference_bins_select(reference, n_bins) {
        return out;
    }
    let r = super::sort::sorted_copy(reference);
    let mut edges: Vec<f64> = (1..n_bins)
        .map(|i| quantile_linear(&r, i as f64 / n_bins as f64))
        .collect();
    edges.dedup();
    let below = edges.iter().map(|&e| count_below(&r, e)).collect();
    (edges, below)
}

/// [`psi_reference_bins`] without sorting the reference: a sorted strided sample gives, for
/// every order statistic the quantiles need, a bracket of values that contains it with
/// overwhelming probability; one pass counts the values below each bracket and collects those
/// inside; the order statistics are then selected within the brackets. The result is exactly
/// the sorted path's (same order statistics, same interpolation, same counts); `None` (fall
/// back to sorting) when the sample is too small, there are too many bins, or a needed order
/// statistic fell outside its bracket.
fn psi_reference_bins_select(r: &[f64], n_bins: usize) -> Option<(Vec<f64>, Vec<usize>)> {
    let n = r.len();
    if n < PSI_SELECT_MIN_LEN || n_bins > PSI_SELECT_MAX_BINS {
        return None;
    }
    let qs: Vec<f64> = (1..n_bins).map(|i| i as f64 / n_bins as f64).collect();
    let mut ranks = Vec::with_capacity(2 * qs.len());
    for &q in &qs {
        quantile_linear_by(n, q, |k| {
            ranks.push(k);
            0.0
        });
    }
    ranks.sort_unstable();
    ranks.dedup();

    let target = (n / 16).clamp(4096, 1 << 16);
    let mut sample: Vec<f64> = r.iter().step_by((n / target).max(1)).copied().collect();
    sample.sort_unstable_by(f64::total_cmp);
    let s = sample.len();
    let last = (s - 1) as f64;
    let mut brackets: Vec<(f64, f64)> = Vec::with_capacity(ranks.len());
    for &k in &ranks {
        let p = k as f64 / (n - 1) as f64;
        let pos = p * last;
        let margin = 4.0 * (s as f64 * p * (1.0 - p)).sqrt() + 8.0;
        let lo = if pos - margin <= 0.0 {
            f64::NEG_INFINITY
        } else {
            *sample.get((pos - margin).floor() as usize)?
        };
        let hi = if pos + margin >= last {
            f64::INFINITY
        } else {
            *sample.get((pos + margin).ceil() as usize)?
        };
        brackets.push((lo, hi));
    }
    brackets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(brackets.len());
    for (lo, hi) in brackets {
        match merged.last_mut() {
            Some(m) if lo <= m.1 => m.1 = m.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let los: Vec<f64> = merged.iter().map(|b| b.0).collect();
    let his: Vec<f64> = merged.iter().map(|b| b.1).collect();

    // One pass: values below each bracket (gaps[j] lie between bracket j-1 and bracket j),
    // values inside each bracket collected.
    let nb = merged.len();
    let mut gaps = vec![0_usize; nb + 1];
    let mut inside: Vec<Vec<f64>> = vec![Vec::new(); nb];
    for &x in r {
        let j = los.iter().filter(|&&lo| lo <= x).count();
        match (j.checked_sub(1), his.get(j.wrapping_sub(1))) {
            (Some(b), Some(&hi)) if x <= hi => inside.get_mut(b)?.push(x),
            _ => *gaps.get_mut(j)? += 1,
        }
    }
    let mut start = Vec::with_capacity(nb);
    let mut acc = 0_usize;
    for (g, b) in gaps.iter().zip(&inside) {
        acc += g;
        start.push(acc);
        acc += b.len();
    }

    // The order statistics, each selected inside its bracket.
    let mut stats: Vec<(usize, f64, usize)> = Vec::with_capacity(ranks.len());
    for &k in &ranks {
        let j = (0..nb).find(|&j| {
            let (st, len) = (
                start.get(j).copied().unwrap_or(0),
                inside.get(j).map_or(0, Vec::len),
            );
            st <= k && k < st + len
        })?;
        let st = *start.get(j)?;
        let buf = inside.get_mut(j)?;
        let (_, v, _) = buf.select_nth_unstable_by(k - st, f64::total_cmp);
        stats.push((k, *v, j));
    }
    let lookup = |k: usize| stats.iter().find(|s| s.0 == k).map(|s| (s.1, s.2));

    let mut edges: Vec<(f64, usize)> = Vec::with_capacity(qs.len());
    for &q in &qs {
        let mut bracket = None;
        let mut consistent = true;
        let e = quantile_linear_by(n, q, |k| match lookup(k) {
            Some((v, j)) => {
                consistent &= bracket.is_none_or(|b| b == j);
                bracket = Some(j);
                v
            }
            None => {
                consistent = false;
                f64::NAN
            }
        });
        let j = bracket?;
        // Both order statistics and the edge in one bracket: every value before the bracket
        // is below the edge, every value after it is above.
        if !(consistent && *los.get(j)? <= e && e <= *his.get(j)?) {
            return None;
        }
        edges.push((e, j));
    }
    edges.dedup_by(|a, b| a.0 == b.0);
    let mut below = Vec::with_capacity(edges.len());
    for &(e, j) in &edges {
        below.push(start.get(j)? + inside.get(j)?.iter().filter(|&&x| x < e).count());
    }
    Some((edges.into_iter().map(|e| e.0).collect(), below))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sorted_path(r: &[f64], n_bins: usize) -> (Vec<f64>, Vec<usize>) {
        let mut s = r.to_vec();
        s.sort_unstable_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..n_bins)
            .map(|i| quantile_linear(&s, i as f64 / n_bins as f64))
            .collect();
        edges.dedup();
        let below = edges.iter().map(|&e| count_below(&s, e)).collect();
        (edges, below)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn selected_quantiles_equal_the_sorted_ones() {
        let mut state = 11_u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let n = 200_003;
        let normal: Vec<f64> = (0..n)
            .map(|_| (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos())
            .collect();
        let ties: Vec<f64> = (0..n).map(|_| (uniform() * 7.0).floor()).collect();
        let zeros: Vec<f64> = (0..n)
            .map(|i| match i % 3 {
                0 => 0.0,
                1 => -0.0,
                _ => uniform() - 0.5,
            })
            .collect();
        let skewed: Vec<f64> = (0..n).map(|_| (uniform() * 20.0).exp()).collect();
        let mut sorted = normal.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let reversed: Vec<f64> = sorted.iter().rev().copied().collect();
        // A period that divides the sampling stride: the sample sees one value only.
        let periodic: Vec<f64> = (0..1 << 17).map(|i| f64::from(i % 4)).collect();
        let constant = vec![3.5; 70_000];
        for (name, data) in [
            ("normal", &normal),
            ("ties", &ties),
            ("zeros", &zeros),
            ("skewed", &skewed),
            ("sorted", &sorted),
            ("reversed", &reversed),
            ("periodic", &periodic),
            ("constant", &constant),
        ] {
            for n_bins in [2, 10, 33] {
                let want = sorted_path(data, n_bins);
                let got = psi_reference_bins(data, n_bins);
                assert_eq!(bits(&got.0), bits(&want.0), "{name} {n_bins} edges");
                assert_eq!(got.1, want.1, "{name} {n_bins} counts");
                if name != "periodic" {
                    assert!(
                        psi_reference_bins_select(data, n_bins).is_some(),
                        "{name} {n_bins}: fell back to sorting"
                    );
                }
            }
        }
        // Small references and many bins take the sorting path.
        assert!(psi_reference_bins_select(&normal[..1000], 10).is_none());
        assert!(psi_reference_bins_select(&normal, 100).is_none());
    }
}
