//! Two-sample Kolmogorov–Smirnov test, agreeing with
//! `scipy.stats.ks_2samp(x, y, alternative="two-sided", method="auto")`.

use serde::{Deserialize, Serialize};

use super::kolmogorov::{kstwo_sf, outer_prob_inside, prob_outside_square};
use super::{TestKind, TestResult, sorted_finite_or_inf};
use crate::error::{Result, Sample};

/// scipy's `MAX_AUTO_N`: with `method="auto"` the exact null distribution is used when both
/// samples have at most this many observations.
pub const KS_MAX_EXACT_N: usize = 10_000;

/// How the p-value of [`ks_2samp`] was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Exact null distribution of the two-sample statistic (both samples ≤ [`KS_MAX_EXACT_N`]).
    Exact,
    /// `kstwo.sf(D, round(m n / (m + n)))`, scipy's large-sample path (also used when the exact
    /// computation fails numerically, as scipy does).
    Asymptotic,
}

/// The outcome of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks2Sample {
    /// `D = sup |F_ref - F_cur|` (on the exact path rounded to the lattice `h / lcm(n1, n2)`,
    /// exactly like scipy).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Which path computed the p-value.
    pub method: KsMethod,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// `D` and the raw max/min of `F1 - F2` over two sorted samples (ties handled: both ECDFs are
/// evaluated right-continuously at every distinct value, as scipy's `searchsorted(side="right")`).
fn ks_statistic_sorted(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j) = (0_usize, 0_usize);
    let mut max_s = f64::NEG_INFINITY;
    let mut min_s = f64::INFINITY;
    while i < x.len() || j < y.len() {
        let v = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => {
                if a <= b {
                    a
                } else {
                    b
                }
            }
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while x.get(i).is_some_and(|&a| a <= v) {
            i += 1;
        }
        while y.get(j).is_some_and(|&b| b <= v) {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_s = max_s.max(diff);
        min_s = min_s.min(diff);
    }
    let min_s = (-min_s).clamp(0.0, 1.0);
    if min_s > max_s { min_s } else { max_s }
}

/// Two-sample two-sided Kolmogorov–Smirnov test on sorted samples.
pub(crate) fn ks_2samp_sorted(x: &[f64], y: &[f64]) -> Ks2Sample {
    let (n1, n2) = (x.len(), y.len());
    let mut d = ks_statistic_sorted(x, y);
    if n1.max(n2) <= KS_MAX_EXACT_N {
        let g = gcd(n1 as u64, n2 as u64);
        let lcm = (n1 as u64 / g) * n2 as u64;
        let h = (d * lcm as f64).round_ties_even();
        d = h / lcm as f64;
        if h == 0.0 {
            return Ks2Sample {
                statistic: d,
                p_value: 1.0,
                method: KsMethod::Exact,
            };
        }
        let h = h as i64;
        let prob = if n1 == n2 {
            prob_outside_square(n1 as i64, h)
        } else {
            outer_prob_inside(n1 as i64, n2 as i64, g as i64, h)
        };
        if (0.0..=1.0).contains(&prob) {
            return Ks2Sample {
                statistic: d,
                p_value: prob,
                method: KsMethod::Exact,
            };
        }
        tracing::debug!(
            n1,
            n2,
            prob,
            "exact KS p-value out of range; using the asymptotic path"
        );
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let p = kstwo_sf(en.round_ties_even() as i64, d).clamp(0.0, 1.0);
    Ks2Sample {
        statistic: d,
        p_value: p,
        method: KsMethod::Asymptotic,
    }
}

/// Two-sample two-sided Kolmogorov–Smirnov test, equal to
/// `scipy.stats.ks_2samp(reference, current, alternative="two-sided", method="auto")`.
///
/// Both samples are copied and sorted (`O(n log n)`); ties are allowed (the statistic is taken
/// over right-continuous ECDFs, as scipy does). With both sizes ≤ [`KS_MAX_EXACT_N`] the p-value
/// is exact (the statistic is then rounded to the `1/lcm(n1, n2)` lattice, as scipy does); larger
/// samples use scipy's asymptotic `kstwo.sf(D, round(n1 n2 / (n1 + n2)))`. Identical samples
/// give `D = 0`, `p = 1`. Infinite values are allowed; NaN is an error.
///
/// With ties (discrete data) the p-value is scipy's, computed from the continuous null
/// distribution, and therefore conservative (too large), exactly as in scipy.
///
/// # Errors
/// [`Error::EmptySample`](crate::Error::EmptySample) and
/// [`Error::NanInSample`](crate::Error::NanInSample), naming the sample.
///
/// ```
/// use mlops_monitor::drift::ks_2samp;
/// let r = ks_2samp(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0])?;
/// assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
/// # Ok::<(), mlops_monitor::Error>(())
/// ```
#[tracing::instrument(level = "debug", skip_all, fields(n_ref = reference.len(), n_cur = current.len()))]
pub fn ks_2samp(reference: &[f64], current: &[f64]) -> Result<Ks2Sample> {
    let x = sorted_finite_or_inf(reference, Sample::Reference, true)?;
    let y = sorted_finite_or_inf(current, Sample::Current, true)?;
    Ok(ks_2samp_sorted(&x, &y))
}

/// [`ks_2samp`] as a drift test: drifted when `p < alpha` (Evidently's rule; default `alpha`
/// 0.05).
///
/// # Errors
/// As [`ks_2samp`], plus [`Error::InvalidParameter`](crate::Error::InvalidParameter) when
/// `alpha` is not in `(0, 1)`.
pub fn ks_test(reference: &[f64], current: &[f64], alpha: f64) -> Result<TestResult> {
    super::check_alpha(alpha)?;
    let r = ks_2samp(reference, current)?;
    Ok(TestResult::from_p_value(
        TestKind::KolmogorovSmirnov,
        r.statistic,
        r.p_value,
        alpha,
    ))
}
