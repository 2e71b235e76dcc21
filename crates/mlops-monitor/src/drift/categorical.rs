//! Drift tests on category counts.
//!
//! Inputs are `BTreeMap<K, u64>` (category → count). Categories are aligned over the union of
//! both maps in key order; a category missing from one map counts as zero there, and a category
//! whose count is zero in both is ignored. Mismatched category sets are therefore always
//! handled explicitly: see each test for what a category seen in only one sample does.

use std::collections::BTreeMap;

use super::numeric::PSI_EPSILON;
use super::{TestKind, TestResult, check_alpha, check_threshold, js_distance, psi_from_shares};
use crate::error::{Error, Result, Sample};

/// Counts of both samples over the union of categories with a non-zero count somewhere.
struct Aligned {
    reference: Vec<f64>,
    current: Vec<f64>,
    n_ref: f64,
    n_cur: f64,
}

impl Aligned {
    /// The category shares of the reference and of the current sample.
    fn shares(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.reference.iter().map(|v| v / self.n_ref).collect(),
            self.current.iter().map(|v| v / self.n_cur).collect(),
        )
    }
}

fn align<K: Ord>(reference: &BTreeMap<K, u64>, current: &BTreeMap<K, u64>) -> Result<Aligned> {
    let n_ref: u64 = reference.values().sum();
    let n_cur: u64 = current.values().sum();
    if n_ref == 0 {
        return Err(Error::EmptySample {
            sample: Sample::Reference,
        });
    }
    if n_cur == 0 {
        return Err(Error::EmptySample {
            sample: Sample::Current,
        });
    }
    let mut keys: Vec<&K> = reference.keys().chain(current.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut r = Vec::with_capacity(keys.len());
    let mut c = Vec::with_capacity(keys.len());
    for k in keys {
        let a = reference.get(k).copied().unwrap_or(0);
        let b = current.get(k).copied().unwrap_or(0);
        if a == 0 && b == 0 {
            continue;
        }
        r.push(a as f64);
        c.push(b as f64);
    }
    Ok(Aligned {
        reference: r,
        current: c,
        n_ref: n_ref as f64,
        n_cur: n_cur as f64,
    })
}

/// Pearson chi-square test of the current counts against the reference shares, Evidently's
/// convention: `scipy.stats.chisquare(f_obs=cur_counts, f_exp=ref_counts * n_cur / n_ref)` with
/// `k - 1` degrees of freedom over the `k` aligned categories. Drifted when `p < alpha`
/// (default 0.05).
///
/// Mismatched categories: a category seen only in the reference contributes its expected count
/// (as scipy does); a category seen only in the current sample has expected count 0, so the
/// statistic is `+inf` and `p = 0` (scipy's value; the column is reported drifted). With a single
/// category overall the statistic is 0 and `p = 1` (scipy would return NaN for 0 degrees of
/// freedom).
///
/// # Errors
/// An empty count map (total 0) and an `alpha` outside `(0, 1)`.
pub fn chi_square_test<K: Ord>(
    reference: &BTreeMap<K, u64>,
    current: &BTreeMap<K, u64>,
    alpha: f64,
) -> Result<TestResult> {
    check_alpha(alpha)?;
    let a = align(reference, current)?;
    let k_norm = a.n_cur / a.n_ref;
    let mut stat = 0.0;
    for (&r, &c) in a.reference.iter().zip(&a.current) {
        let exp = r * k_norm;
        stat += if exp == 0.0 {
            f64::INFINITY
        } else {
            (c - exp) * (c - exp) / exp
        };
    }
    let dof = a.reference.len().saturating_sub(1);
    let p = if dof == 0 {
        stat = 0.0;
        1.0
    } else if stat.is_infinite() {
        0.0
    } else if stat <= 0.0 {
        1.0
    } else {
        statrs::function::gamma::checked_gamma_ur(dof as f64 / 2.0, stat / 2.0).unwrap_or(f64::NAN)
    };
    Ok(TestResult::from_p_value(
        TestKind::ChiSquare,
        stat,
        p,
        alpha,
    ))
}

/// Two-proportion Z-test for a binary category (Evidently's `z` test): with `p1`, `p2` the
/// shares of the first category (in key order) in reference and current and `P` the pooled
/// share, `z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))` and `p = 2 (1 - Φ(|z|))` (computed as
/// `erfc(|z| / √2)`, which keeps digits for tiny p-values). Drifted when `p < alpha`.
///
/// When both samples hold the same single category, `z = 0` and `p = 1`. One category only in
/// the reference and another only in the current sample is a (maximal) difference of
/// proportions, tested normally.
///
/// # Errors
/// [`Error::NotBinary`] with more than two categories, an empty count map, a bad `alpha`.
pub fn z_test<K: Ord>(
    reference: &BTreeMap<K, u64>,
    current: &BTreeMap<K, u64>,
    alpha: f64,
) -> Result<TestResult> {
    check_alpha(alpha)?;
    let a = align(reference, current)?;
    if a.reference.len() > 2 {
        return Err(Error::NotBinary {
            found: a.reference.len(),
        });
    }
    let (Some(&r1), Some(&c1)) = (a.reference.first(), a.current.first()) else {
        return Err(Error::EmptySample {
            sample: Sample::Reference,
        });
    };
    let (n1, n2) = (a.n_ref, a.n_cur);
    let p1 = r1 / n1;
    let p2 = c1 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    let (z, p) = if a.reference.len() < 2 || var <= 0.0 {
        (0.0, 1.0)
    } else {
        let z = (p1 - p2) / var.sqrt();
        (
            z,
            statrs::function::erf::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0),
        )
    };
    Ok(TestResult::from_p_value(TestKind::ZTest, z, p, alpha))
}

/// Jensen–Shannon distance between the category shares, `scipy.spatial.distance.jensenshannon`
/// with the natural logarithm (range `[0, sqrt(ln 2)]`). Drifted when `≥ threshold` (default
/// 0.1). Categories seen in one sample only are handled by the definition (finite distance).
///
/// # Errors
/// An empty count map, a negative threshold.
pub fn jensen_shannon_test<K: Ord>(
    reference: &BTreeMap<K, u64>,
    current: &BTreeMap<K, u64>,
    threshold: f64,
) -> Result<TestResult> {
    check_threshold(threshold)?;
    let a = align(reference, current)?;
    let (r, c) = a.shares();
    let stat = js_distance(&r, &c);
    Ok(TestResult::from_distance(
        TestKind::JensenShannon,
        stat,
        threshold,
    ))
}

/// PSI over category shares, zero shares replaced by [`PSI_EPSILON`](super::PSI_EPSILON) (so a
/// category seen in one sample only gives a large but finite contribution). Drifted when
/// `≥ threshold`.
///
/// # Errors
/// An empty count map, a negative threshold.
pub fn psi_categorical_test<K: Ord>(
    reference: &BTreeMap<K, u64>,
    current: &BTreeMap<K, u64>,
    threshold: f64,
) -> Result<TestResult> {
    check_threshold(threshold)?;
    let a = align(reference, current)?;
    let (r, c) = a.shares();
    let stat = psi_from_shares(&r, &c, PSI_EPSILON);
    Ok(TestResult::from_distance(TestKind::Psi, stat, threshold))
}

/// L-infinity distance between category shares, `max_k |ref_k / n_ref - cur_k / n_cur|`
/// (Evidently's `linf`). Drifted when `≥ threshold` (default 0.1).
///
/// # Errors
/// An empty count map, a negative threshold.
pub fn linf_test<K: Ord>(
    reference: &BTreeMap<K, u64>,
    current: &BTreeMap<K, u64>,
    threshold: f64,
) -> Result<TestResult> {
    check_threshold(threshold)?;
    let a = align(reference, current)?;
    let stat = a
        .reference
        .iter()
        .zip(&a.current)
        .map(|(r, c)| (r / a.n_ref - c / a.n_cur).abs())
        .fold(0.0_f64, f64::max);
    Ok(TestResult::from_distance(
        TestKind::LInfinity,
        stat,
        threshold,
    ))
}
